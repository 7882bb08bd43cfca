//! # ferrobeam
//!
//! Erlang distribution, native in Rust. This crate holds the node: processes with
//! Erlang's exact semantics (spawn, send, selective receive, links, monitors, exit
//! signals, `trap_exit`, aliases, the name registry, timers), and the OTP behaviours
//! built on them ([`gen_server`, `supervisor`, `dynamic_supervisor`, `task`).
//!
//! Processes are Tokio tasks. Pids carry their node, references their node and
//! creation, and exit reasons are [`Term`]s, so that every operation works the same
//! across nodes once the distribution layer routes signals (see [`RemoteRouter`]).
//!
//! ```
//! use ferrobeam::{Node, Term};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let node = Node::new();
//! let reason = node
//!     .run(|ctx| async move {
//!         ctx.trap_exit(true);
//!         let child = ctx.spawn_link(|_ctx| async { panic!("boom") });
//!         // The crash arrives as a message, with the panic message in the reason.
//!         let msg = ctx.receive().await;
//!         assert_eq!(msg.as_tuple().unwrap()[1], Term::Pid(child));
//!         msg.as_tuple().unwrap()[2].clone()
//!     })
//!     .await
//!     .unwrap();
//! assert_eq!(reason, ferrobeam::reason::panic("boom"));
//! # }
//! ```

#![warn(missing_docs)]

mod convert;
mod ctx;
mod error;
pub mod gen_server;
mod node;
mod process;
pub mod reason;
mod signal;
mod table;

pub mod dist;
pub mod epmd;

pub use ctx::{Ctx, Receive, ReceiveTimeout};
pub use error::{LinkError, RegisterError, SendError, SpawnError};
pub use ferrobeam_term::{Atom, Pid, Ref, Term};
pub use node::{Node, NodeBuilder, RemoteRouter};
pub use process::AliasMode;
pub use reason::{ExitReason, IntoExitReason};
pub use signal::{Dest, ExitKind, Signal};
