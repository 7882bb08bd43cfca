//! The Tokio runtime a node runs best on: the multi-threaded runtime with a *busy-poll
//! phase* before a worker sleeps, as BEAM's schedulers have (`+sbwt`).
//!
//! A worker with nothing to do parks in `epoll_wait` (or on a futex), and waking it
//! costs tens of microseconds on a virtual machine: most of a loopback round trip, and
//! far more than a local message. BEAM's schedulers keep polling for a while before
//! they sleep, so work that comes within that window is picked up at once. [`builder`]
//! gives Tokio's workers the same habit: before parking, a worker busy-polls for up to
//! [`DEFAULT_SPIN`]. It polls the distribution sockets of the nodes in this OS process
//! (with `poll(2)` and a zero timeout) and Tokio's global queue, and stops as soon as
//! one of them has something; the park that follows then finds it without sleeping.
//! While a worker spins, the other workers do not wake it for the tasks they queue,
//! which saves a system call and a thread switch per hand-off.
//!
//! The spin adapts, as BEAM's does: a worker that, once parked, is woken soon after
//! (work keeps coming) goes on spinning; one that sleeps long (an idle node) spins
//! before fewer and fewer of its parks, down to one in 64, so an idle node costs
//! (almost) nothing.
//!
//! Nothing depends on it: a node runs on any Tokio runtime. It only changes how soon a
//! sleeping node notices a message from another node.
//!
//! ```
//! let rt = ferrobeam::runtime::builder().build().unwrap();
//! rt.block_on(async {
//!     let node = ferrobeam::Node::new();
//!     let pid = node.spawn(|ctx: ferrobeam::Ctx| async move {
//!         let _ = ctx.receive().await;
//!     });
//!     node.send(&pid, ferrobeam::Term::atom("hello")).unwrap();
//! });
//! ```

use std::time::Duration;

/// How long a worker busy-polls before it parks (unless it is backing off): 50 µs,
/// about a round trip on a loopback connection.
pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// Tokio's multi-threaded runtime with I/O and timers enabled and the busy-poll phase
/// of [`DEFAULT_SPIN`] before a worker parks.
pub fn builder() -> tokio::runtime::Builder {
    builder_with_spin(DEFAULT_SPIN)
}

/// [`builder`] with another busy-poll time; zero turns the busy-poll phase off.
pub fn builder_with_spin(spin: Duration) -> tokio::runtime::Builder {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all();
    if !spin.is_zero() {
        b.on_thread_park(move || busy_poll(spin));
        b.on_thread_unpark(move || imp::unparked(spin));
    }
    b
}

/// Busy-polls until a watched socket (the distribution connections of this OS process)
/// is readable, the current runtime's global queue has a task, or `spin` has passed,
/// with backoff: what the park hook of [`builder`] runs. Outside a [`builder`] runtime
/// (where nothing tells the backoff that the worker was woken soon) a spin that finds
/// nothing makes the next ones rarer.
pub fn busy_poll(spin: Duration) {
    imp::busy_poll(spin)
}

/// A socket watched by [`busy_poll`] until this is dropped. Every distribution
/// connection is; an application may add its own latency-sensitive sockets.
pub struct Watch {
    /// This watch's entry in the watched set (a descriptor number alone could be a
    /// later socket's, once this one is closed).
    #[cfg_attr(not(unix), allow(dead_code))]
    id: u64,
}

impl Watch {
    /// Watches the socket `s`.
    #[cfg(unix)]
    pub fn new(s: &impl std::os::fd::AsRawFd) -> Watch {
        Watch {
            id: imp::add(s.as_raw_fd()),
        }
    }

    /// Nothing to watch on this platform.
    #[cfg(not(unix))]
    pub fn new<S>(_: &S) -> Watch {
        Watch { id: 0 }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        imp::remove(self.id);
    }
}

/// Whether the socket `fd` has something to read (or is closed or failed) right now:
/// one `poll(2)` with a zero timeout, which neither waits nor takes the socket's lock.
/// A distribution connection's reader busy-polls its drained socket with it
/// ([`DistConfig::read_spin`](crate::dist::DistConfig::read_spin)); an application that
/// busy-polls a latency-sensitive socket of its own can do the same.
#[cfg(unix)]
pub fn readable_now(fd: std::os::fd::RawFd) -> bool {
    imp::readable_now(fd)
}

/// Reads what the socket `fd` holds into the spare capacity of `buf`, without waiting
/// and without asking Tokio, whose readiness flag is stale while a task busy-polls the
/// socket itself. `WouldBlock` when it holds nothing; `Ok(0)` when the peer closed it.
#[cfg(unix)]
pub(crate) fn recv_now(
    fd: std::os::fd::RawFd,
    buf: &mut bytes::BytesMut,
) -> std::io::Result<usize> {
    imp::recv_now(fd, buf)
}

#[cfg(unix)]
mod imp {
    use std::cell::RefCell;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// The watched descriptors with their watch ids, and a generation that changes with
    /// them (and gives the ids).
    static WATCHED: Mutex<Vec<(u64, i32)>> = Mutex::new(Vec::new());
    static GENERATION: AtomicU64 = AtomicU64::new(0);

    #[repr(C)]
    #[derive(Clone, Copy)]
    struct PollFd {
        fd: i32,
        events: i16,
        revents: i16,
    }

    const POLLIN: i16 = 1;

    extern "C" {
        fn poll(fds: *mut PollFd, nfds: std::ffi::c_ulong, timeout: i32) -> i32;
        fn recv(fd: i32, buf: *mut u8, len: usize, flags: i32) -> isize;
    }

    pub(super) fn readable_now(fd: i32) -> bool {
        let mut p = PollFd {
            fd,
            events: POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd structure; a timeout of zero returns at once.
        unsafe { poll(&mut p, 1, 0) > 0 }
    }

    pub(super) fn recv_now(fd: i32, buf: &mut bytes::BytesMut) -> std::io::Result<usize> {
        use bytes::BufMut;
        if buf.capacity() == buf.len() {
            buf.reserve(8 * 1024);
        }
        let spare = buf.chunk_mut();
        // SAFETY: `spare` is `spare.len()` bytes of writable (uninitialised) memory that
        // `buf` owns, and `recv` writes at most that many bytes into it. The socket is
        // non-blocking (Tokio made it so), so this does not wait.
        let n = unsafe { recv(fd, spare.as_mut_ptr(), spare.len(), 0) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `recv` initialised the first `n` bytes of the spare capacity.
        unsafe { buf.advance_mut(n as usize) };
        Ok(n as usize)
    }

    /// Per worker thread: its copy of the watched set, and its backoff.
    struct State {
        generation: u64,
        fds: Vec<PollFd>,
        /// Spins in a row that were not worth it (capped).
        fails: u32,
        /// Parks to let go by without spinning.
        skip: u32,
        /// When the worker parked after a spin that found nothing.
        parked_at: Option<Instant>,
    }

    thread_local! {
        static STATE: RefCell<State> = const {
            RefCell::new(State {
                generation: u64::MAX,
                fds: Vec::new(),
                fails: 0,
                skip: 0,
                parked_at: None,
            })
        };
    }

    pub(super) fn add(fd: i32) -> u64 {
        let mut w = super::super::process::lock(&WATCHED);
        let id = GENERATION.fetch_add(1, Ordering::Release) + 1;
        w.push((id, fd));
        id
    }

    pub(super) fn remove(id: u64) {
        let mut w = super::super::process::lock(&WATCHED);
        if let Some(i) = w.iter().position(|&(wid, _)| wid == id) {
            w.swap_remove(i);
        }
        GENERATION.fetch_add(1, Ordering::Release);
    }

    impl State {
        fn refresh(&mut self) {
            let generation = GENERATION.load(Ordering::Acquire);
            if generation != self.generation {
                let w = super::super::process::lock(&WATCHED);
                self.fds = w
                    .iter()
                    .map(|&(_, fd)| PollFd {
                        fd,
                        events: POLLIN,
                        revents: 0,
                    })
                    .collect();
                self.generation = generation;
            }
        }

        /// The spin was not worth it: spin before fewer of the next parks (1 in 2, 4,
        /// ... 64).
        fn fail(&mut self) {
            self.fails = (self.fails + 1).min(6);
            self.skip = (1 << self.fails) - 1;
        }

        fn success(&mut self) {
            self.fails = 0;
            self.skip = 0;
        }
    }

    pub(super) fn busy_poll(spin: Duration) {
        STATE.with(|s| {
            let Ok(mut s) = s.try_borrow_mut() else {
                return;
            };
            s.parked_at = None;
            if s.skip > 0 {
                s.skip -= 1;
                s.parked_at = Some(Instant::now());
                return;
            }
            s.refresh();
            let metrics = tokio::runtime::Handle::try_current()
                .ok()
                .map(|h| h.metrics());
            let start = Instant::now();
            loop {
                if !s.fds.is_empty() {
                    let n = s.fds.len() as std::ffi::c_ulong;
                    // SAFETY: `fds` is a valid array of `n` pollfd structures; a timeout
                    // of zero makes `poll` return at once. A descriptor closed meanwhile
                    // is reported as POLLNVAL, which only ends the spin early.
                    if unsafe { poll(s.fds.as_mut_ptr(), n, 0) } != 0 {
                        s.success();
                        return;
                    }
                } else {
                    for _ in 0..64 {
                        std::hint::spin_loop();
                    }
                }
                if metrics.as_ref().is_some_and(|m| m.global_queue_depth() > 0) {
                    s.success();
                    return;
                }
                if start.elapsed() >= spin {
                    break;
                }
            }
            // Judged when the worker wakes up (see `unparked`).
            s.parked_at = Some(Instant::now());
            if metrics.is_none() {
                s.fail();
            }
        })
    }

    /// The worker woke up: if it had parked after a spin (or a skipped one) and work
    /// came soon, spinning a little longer would have saved the wake-up, so it goes on
    /// spinning; if it slept long, it spins before fewer parks.
    pub(super) fn unparked(spin: Duration) {
        STATE.with(|s| {
            let Ok(mut s) = s.try_borrow_mut() else {
                return;
            };
            if let Some(t) = s.parked_at.take() {
                if t.elapsed() <= spin * 4 {
                    s.success();
                } else {
                    s.fail();
                }
            }
        })
    }
}

#[cfg(not(unix))]
mod imp {
    use std::time::Duration;

    pub(super) fn remove(_: u64) {}

    pub(super) fn busy_poll(_: Duration) {}

    pub(super) fn unparked(_: Duration) {}
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Instant;

    #[test]
    fn a_readable_watched_socket_ends_the_busy_poll() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        let w = Watch::new(&s);
        c.write_all(b"x").unwrap();
        let t = Instant::now();
        busy_poll(Duration::from_secs(60));
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the spin went on although a watched socket was readable"
        );
        drop(w);
    }
}
