//! Suspending a process at its next await point, as BEAM suspends a process that sends
//! to a busy distribution port.
//!
//! Sending never blocks: [`Ctx::send`](crate::Ctx::send) queues the message and returns.
//! When the queue it went to is over its limit (a connection's output buffer, say),
//! the code that queued it calls [`request`] with a [`Gate`]. If that happens while a
//! process is being polled, the process task keeps the gate and, from then on, polls
//! neither the process function again nor takes it further until the gate opens: the
//! process is suspended at its next await point (a `receive`, a sleep, a
//! `yield_now`...). Signals still reach it meanwhile, so an exit signal ends a suspended
//! process, as in BEAM.
//!
//! The trade-off: scheduling is cooperative, so a process that sends in a loop without
//! ever awaiting cannot be stopped mid-loop. What it queues between two await points is
//! not bounded by the gate; everything else is.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Something a process can be suspended on.
pub(crate) trait Gate: Send + Sync + 'static {
    /// A future that resolves when the gate is open (or will never close again).
    fn wait(self: Arc<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The future a suspended process waits on.
pub(crate) type Wait = Pin<Box<dyn Future<Output = ()> + Send>>;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static PENDING: RefCell<Option<Arc<dyn Gate>>> = const { RefCell::new(None) };
}

/// Asks that the process being polled on this thread, if any, be suspended on `gate`
/// once its current poll returns. Outside a process poll, does nothing.
pub(crate) fn request(gate: Arc<dyn Gate>) {
    if ACTIVE.with(|a| a.get()) {
        PENDING.with(|p| *p.borrow_mut() = Some(gate));
    }
}

/// A process poll begins on this thread.
pub(crate) fn enter() {
    ACTIVE.with(|a| a.set(true));
    PENDING.with(|p| p.borrow_mut().take());
}

/// The process poll ended: the gate it was asked to wait on, if any.
pub(crate) fn leave() -> Option<Wait> {
    ACTIVE.with(|a| a.set(false));
    PENDING.with(|p| p.borrow_mut().take()).map(|g| g.wait())
}
