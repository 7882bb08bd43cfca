//! # ferrobeam-ratelimit
//!
//! Seed 004's distributed rate limiter on ferrobeam: a consistent hash ring of the
//! connected nodes, and a rate limiter whose check for a key runs on the key's owner
//! node, so that the limit holds cluster-wide, with a local check as the fallback when
//! the owner cannot answer.
//!
//! * [`ring`]: the hash ring (512 points per node, `ex_hash_ring`'s placement);
//! * [`window`]: fixed-window counting, `Hammer.check_rate(key, 60_000, 10)`;
//! * [`limiter`]: the `Distribution` process and the `RateLimiter` GenServer;
//! * [`http`]: `GET /` (rate limited by client IP or `X-Forwarded-For`) and `GET /ring`;
//! * [`cli`]: `ferrobeam ratelimit --sname NAME --http ADDR [--connect NODE ...]`.
//!
//! Two connected nodes share the count of every key:
//!
//! ```
//! use ferrobeam_ratelimit::limiter::{RateLimiter, Settings};
//! use ferrobeam_ratelimit::window::Decision;
//! use ferrobeam_testkit::Cluster;
//!
//! # #[tokio::main]
//! # async fn main() {
//! let cluster = Cluster::in_process(2).await;
//! let settings = Settings { limit: 3, window_ms: 3_600_000, ..Settings::default() };
//! let a = RateLimiter::start(cluster.node(0), settings, None).await.unwrap();
//! let b = RateLimiter::start(cluster.node(1), settings, None).await.unwrap();
//! // Both rings list both nodes, and agree on the owner of every key.
//! # ferrobeam_testkit::wait_until(std::time::Duration::from_secs(5), "rings", || {
//! #     a.ring_nodes().len() == 2 && b.ring_nodes().len() == 2 }).await;
//! assert_eq!(a.owner("10.0.0.1"), b.owner("10.0.0.1"));
//! let mut allowed = 0;
//! for i in 0..6 {
//!     let node = if i % 2 == 0 { &a } else { &b };
//!     if node.check("10.0.0.1").await.decision.allowed() {
//!         allowed += 1;
//!     }
//! }
//! assert_eq!(allowed, 3); // not 3 per node
//! # let _ = Decision::Allow(1);
//! # }
//! ```

#![warn(missing_docs)]

pub mod cli;
pub mod http;
pub mod limiter;
pub mod ring;
pub mod window;
