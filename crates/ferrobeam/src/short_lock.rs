//! [`ShortLock`]: the lock of a process's two queues and of the process table's slots.
//!
//! Every message between two local processes takes and releases the receiver's queue
//! lock (and its table slot's lock, unless the sender's send cache holds the receiver),
//! and every receive the receiver's own. The critical sections are a few instructions
//! (a push, a swap of two buffers, storing a waker, waking a parked process by
//! reference: Tokio then queues its task, and at most unparks an idle worker), so a lock
//! that never sleeps in the kernel fits them: taking it is one compare-and-swap,
//! releasing it one plain store. `std::sync::Mutex` releases with an atomic swap, to
//! learn whether a sleeper must be woken, and checks for poisoning on both ends; with
//! this lock instead, a local ping-pong round trip went from about 362 to 313 ns (see
//! BENCHMARKS.md).
//!
//! A thread that finds the lock taken spins briefly, then yields its time slice until
//! the holder is done, so a holder preempted by the OS does not leave the others
//! spinning for a whole slice. A holder must not block or wait: the one user code run
//! under such a lock is a selective receive's predicate, under the process's own lock.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// A mutual-exclusion lock for critical sections of a few instructions that never
/// block (see the module docs). No poisoning: a panic while it is held releases it.
pub(crate) struct ShortLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock gives one thread at a time access to the value, so it may be shared
// across threads when the value may be sent across them (as for `Mutex`).
unsafe impl<T: Send> Send for ShortLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for ShortLock<T> {}

impl<T> ShortLock<T> {
    /// A lock holding `value`.
    pub(crate) const fn new(value: T) -> ShortLock<T> {
        ShortLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock, waiting for it if another thread holds it.
    #[inline]
    pub(crate) fn lock(&self) -> ShortGuard<'_, T> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        ShortGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            while self.locked.load(Ordering::Relaxed) {
                if spins < 64 {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Access to the value of a [`ShortLock`]; releases the lock when dropped.
///
/// Not `Send`, like `std`'s guard: a future that held one across an `.await` would not be
/// `Send`, so the compiler refuses it in a process (other threads would spin on the lock
/// for as long as the future waits).
pub(crate) struct ShortGuard<'a, T> {
    lock: &'a ShortLock<T>,
    _not_send: PhantomData<*const ()>,
}

impl<T> Deref for ShortGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for ShortGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while this thread holds the lock, and `&mut
        // self` makes this the only reference through it.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for ShortGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn excludes_other_threads() {
        // Four threads increment a counter without atomics; a lost update would show
        // as a total below 4 * N.
        const N: u64 = 200_000;
        let l = Arc::new(ShortLock::new(0u64));
        let ts: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..N {
                        let mut g = l.lock();
                        let v = *g;
                        std::hint::black_box(&v);
                        *g = v + 1;
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(*l.lock(), 4 * N);
    }

    #[test]
    fn a_panic_while_held_releases_it() {
        let l = ShortLock::new(1);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _g = l.lock();
            panic!("inside");
        }));
        assert!(r.is_err());
        assert_eq!(*l.lock(), 1);
    }
}
