//! The Tokio runtime a node runs best on: the multi-threaded runtime with a *busy-poll
//! phase* before a worker sleeps, as BEAM's schedulers have (`+sbwt`).
//!
//! A worker with nothing to do parks in `epoll_wait`, and waking it when a packet
//! arrives costs tens of microseconds on a virtual machine: most of a loopback round
//! trip. BEAM's schedulers keep polling for a while before they sleep, so a reply that
//! comes within that window is picked up at once. [`builder`] gives Tokio's workers the
//! same habit: before parking, a worker polls the distribution sockets of the nodes in
//! this OS process (without sleeping, with `poll(2)` and a zero timeout) for up to
//! [`DEFAULT_SPIN`]; as soon as one is readable it stops, and the park that follows
//! finds the socket ready without sleeping. A worker whose spins keep finding nothing
//! backs off and spins only before some of its parks, so an idle node costs
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

/// How long a worker polls the distribution sockets before it parks (unless it is
/// backing off): 50 µs, about a round trip on a loopback connection.
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
    }
    b
}

/// Polls the watched sockets (the distribution connections of this OS process) until
/// one is readable or `spin` has passed, with backoff: what a park hook of [`builder`]
/// runs. Returns at once when there is no socket to watch.
pub fn busy_poll(spin: Duration) {
    imp::busy_poll(spin)
}

/// A socket watched by [`busy_poll`] until this is dropped. Every distribution
/// connection is; an application may add its own latency-sensitive sockets.
pub struct Watch {
    #[cfg_attr(not(unix), allow(dead_code))]
    fd: i32,
}

impl Watch {
    /// Watches the socket `s`.
    #[cfg(unix)]
    pub fn new(s: &impl std::os::fd::AsRawFd) -> Watch {
        let fd = s.as_raw_fd();
        imp::add(fd);
        Watch { fd }
    }

    /// Nothing to watch on this platform.
    #[cfg(not(unix))]
    pub fn new<S>(_: &S) -> Watch {
        Watch { fd: -1 }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        imp::remove(self.fd);
    }
}

#[cfg(unix)]
mod imp {
    use std::cell::RefCell;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// The watched descriptors, and a generation that changes with them.
    static WATCHED: Mutex<Vec<i32>> = Mutex::new(Vec::new());
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
    }

    /// Per worker thread: its copy of the watched set, and its backoff.
    struct State {
        generation: u64,
        fds: Vec<PollFd>,
        /// Spins in a row that found nothing (capped).
        fails: u32,
        /// Parks to let go by without spinning.
        skip: u32,
    }

    thread_local! {
        static STATE: RefCell<State> = const {
            RefCell::new(State { generation: u64::MAX, fds: Vec::new(), fails: 0, skip: 0 })
        };
    }

    pub(super) fn add(fd: i32) {
        let mut w = super::super::process::lock(&WATCHED);
        w.push(fd);
        GENERATION.fetch_add(1, Ordering::Release);
    }

    pub(super) fn remove(fd: i32) {
        let mut w = super::super::process::lock(&WATCHED);
        if let Some(i) = w.iter().position(|&f| f == fd) {
            w.swap_remove(i);
        }
        GENERATION.fetch_add(1, Ordering::Release);
    }

    pub(super) fn busy_poll(spin: Duration) {
        STATE.with(|s| {
            let Ok(mut s) = s.try_borrow_mut() else {
                return;
            };
            let generation = GENERATION.load(Ordering::Acquire);
            if generation != s.generation {
                let w = super::super::process::lock(&WATCHED);
                s.fds = w
                    .iter()
                    .map(|&fd| PollFd {
                        fd,
                        events: POLLIN,
                        revents: 0,
                    })
                    .collect();
                s.generation = generation;
            }
            if s.fds.is_empty() {
                return;
            }
            if s.skip > 0 {
                s.skip -= 1;
                return;
            }
            let start = Instant::now();
            loop {
                let n = s.fds.len() as std::ffi::c_ulong;
                // SAFETY: `fds` is a valid array of `n` pollfd structures; a timeout of
                // zero makes `poll` return at once. A descriptor closed meanwhile is
                // reported as POLLNVAL, which only ends the spin early.
                let ready = unsafe { poll(s.fds.as_mut_ptr(), n, 0) };
                if ready != 0 {
                    s.fails = 0;
                    return;
                }
                if start.elapsed() >= spin {
                    break;
                }
                std::hint::spin_loop();
            }
            // Nothing came: spin before fewer of the next parks (1 in 2, 4, ... 64).
            s.fails = (s.fails + 1).min(6);
            s.skip = (1 << s.fails) - 1;
        })
    }
}

#[cfg(not(unix))]
mod imp {
    use std::time::Duration;

    pub(super) fn remove(_: i32) {}

    pub(super) fn busy_poll(_: Duration) {}
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
