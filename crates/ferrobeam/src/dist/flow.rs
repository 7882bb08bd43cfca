//! The bounded output buffer of a connection: how many bytes are queued for its writer,
//! and the senders waiting for it to drain.
//!
//! Every signal routed to a node adds its estimated size; the writer takes it off once
//! the signal is in a batch being written (or, for a fragmented message, once its last
//! fragment is). Above the limit the connection is *busy*: a process that queued the
//! signal is suspended (see [`crate::suspend`]) until the queue is back under the limit,
//! or the connection is gone. Nothing is dropped.

use crate::suspend::Gate;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// The queue of one connection (or connection attempt).
pub(crate) struct Flow {
    queued: AtomicUsize,
    limit: usize,
    notify: Notify,
    closed: AtomicBool,
}

impl Flow {
    pub(crate) fn new(limit: usize) -> Arc<Flow> {
        Arc::new(Flow {
            queued: AtomicUsize::new(0),
            limit,
            notify: Notify::new(),
            closed: AtomicBool::new(false),
        })
    }

    /// `n` more bytes queued.
    #[inline]
    pub(crate) fn add(&self, n: usize) {
        self.queued.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` bytes are out of the queue; wakes the waiting senders when it drops to the
    /// limit.
    #[inline]
    pub(crate) fn sub(&self, n: usize) {
        let prev = self.queued.fetch_sub(n, Ordering::AcqRel);
        if prev > self.limit && prev.saturating_sub(n) <= self.limit {
            self.notify.notify_waiters();
        }
    }

    /// Bytes queued.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Over the limit (and still open).
    #[inline]
    pub(crate) fn is_busy(&self) -> bool {
        self.queued.load(Ordering::Acquire) > self.limit && !self.closed.load(Ordering::Acquire)
    }

    /// True once the connection is gone (or was replaced).
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The connection is gone: nobody waits any more.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Waits until the queue is not busy (each wake-up rechecks, unlike
    /// [`Flow::wait_drained`]).
    pub(crate) async fn wait_not_busy(&self) {
        while self.is_busy() {
            self.wait_drained().await;
        }
    }

    /// Waits, if the queue is busy, for it to drop back to the limit once (or for the
    /// connection to close). Unlike [`Flow::wait_not_busy`] it does not wait again when
    /// another sender refills the queue first: a suspended sender is resumed once, as
    /// BEAM resumes the processes suspended on a busy distribution port. Otherwise a
    /// process sending small messages would starve behind one that keeps the queue full
    /// of large ones. Memory stays bounded: each sender adds at most one signal per
    /// resumption before it is suspended again.
    pub(crate) async fn wait_drained(&self) {
        let notified = self.notify.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        if !self.is_busy() {
            return;
        }
        notified.await;
    }
}

impl Gate for Flow {
    fn wait(self: Arc<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move { self.wait_drained().await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn done_within<F: Future>(f: F, ms: u64) -> bool {
        tokio::time::timeout(Duration::from_millis(ms), f)
            .await
            .is_ok()
    }

    /// `wait_drained` is resumed by one drop to the limit even if the queue is refilled
    /// at once; `wait_not_busy` waits again until it finds the queue not busy; both end
    /// when the connection closes.
    #[tokio::test]
    async fn waiting_for_a_busy_queue() {
        let f = Flow::new(100);
        assert!(
            done_within(f.wait_not_busy(), 10).await,
            "not busy at first"
        );
        f.add(150);
        assert!(f.is_busy());
        assert!(!done_within(f.wait_drained(), 20).await);
        assert!(!done_within(f.wait_not_busy(), 20).await);

        let (drained, not_busy) = (f.clone(), f.clone());
        let drained = tokio::spawn(async move { drained.wait_drained().await });
        let not_busy = tokio::spawn(async move { not_busy.wait_not_busy().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Down to the limit, and refilled before either waiter runs.
        f.sub(100);
        f.add(100);
        assert!(f.is_busy());
        assert!(done_within(drained, 1000).await, "resumed once");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!not_busy.is_finished(), "waits for the queue not busy");

        f.close();
        assert!(done_within(not_busy, 1000).await, "ended by the close");
        assert!(f.is_closed() && !f.is_busy());
    }
}
