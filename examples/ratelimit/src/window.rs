//! Fixed-window counting, as `Hammer.check_rate(key, scale_ms, limit)`: time is cut
//! into windows of `scale_ms` milliseconds (window `now_ms / scale_ms`, the same on
//! every node with a synchronized clock); each check counts one hit for the key in the
//! current window, allowed while the count is at most `limit`.
//!
//! ```
//! use ferrobeam_ratelimit::window::{Decision, FixedWindow};
//!
//! let mut w = FixedWindow::new(60_000, 2);
//! let now = 1_000_000; // ms
//! assert_eq!(w.check_at("10.0.0.1", now), Decision::Allow(1));
//! assert_eq!(w.check_at("10.0.0.1", now + 1), Decision::Allow(2));
//! assert_eq!(w.check_at("10.0.0.1", now + 2), Decision::Deny(2));
//! assert_eq!(w.check_at("10.0.0.2", now + 3), Decision::Allow(1));
//! // The next window starts afresh.
//! assert_eq!(w.check_at("10.0.0.1", 1_020_000), Decision::Allow(1));
//! ```

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// The most keys counted in one window. Past it, new keys are denied (and logged), so
/// that a flood of distinct keys cannot take memory without bound.
pub const MAX_KEYS: usize = 1_000_000;

/// Hammer's answer. On the wire (serde mapping) `{allow, Count}` or `{deny, Limit}`, as
/// the Elixir `Hammer.check_rate/3` returns.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed: the count in this window, this hit included.
    Allow(u64),
    /// Denied: the limit.
    Deny(u64),
}

impl Decision {
    /// True for [`Decision::Allow`].
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Counters for one `(scale_ms, limit)`.
#[derive(Debug, Clone)]
pub struct FixedWindow {
    scale_ms: u64,
    limit: u64,
    window: u64,
    counts: HashMap<String, u64>,
}

impl FixedWindow {
    /// `limit` hits per key in every window of `scale_ms` (at least 1) milliseconds.
    pub fn new(scale_ms: u64, limit: u64) -> FixedWindow {
        FixedWindow {
            scale_ms: scale_ms.max(1),
            limit,
            window: 0,
            counts: HashMap::new(),
        }
    }

    /// The window length in milliseconds.
    pub fn scale_ms(&self) -> u64 {
        self.scale_ms
    }

    /// The limit per window.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Counts a hit for `key` now.
    pub fn check(&mut self, key: &str) -> Decision {
        self.check_at(key, now_ms())
    }

    /// Counts a hit for `key` at `now_ms`.
    pub fn check_at(&mut self, key: &str, now_ms: u64) -> Decision {
        let window = now_ms / self.scale_ms;
        if window != self.window {
            // Older windows are over: their counts go (Hammer prunes them).
            self.window = window;
            self.counts.clear();
        }
        let full = self.counts.len() >= MAX_KEYS;
        let count = match self.counts.get_mut(key) {
            Some(c) => {
                *c = c.saturating_add(1);
                *c
            }
            None if full => {
                tracing::warn!(
                    keys = MAX_KEYS,
                    "rate limiter: too many keys in this window; new keys are denied"
                );
                return Decision::Deny(self.limit);
            }
            None => {
                self.counts.insert(key.to_string(), 1);
                1
            }
        };
        if count > self.limit {
            Decision::Deny(self.limit)
        } else {
            Decision::Allow(count)
        }
    }

    /// Milliseconds from `now_ms` until the current window ends (at least 1).
    pub fn ms_to_next_window(&self, now_ms: u64) -> u64 {
        let end = (now_ms / self.scale_ms + 1) * self.scale_ms;
        (end - now_ms).max(1)
    }
}
