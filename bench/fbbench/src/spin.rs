//! The busy-poll experiment of BENCHMARKS.md: a Tokio park hook that polls some
//! sockets (without sleeping) for a while before the worker parks.

use std::sync::Mutex;
use std::time::Instant;

static WATCHED: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Watches a socket in [`until_readable`].
pub fn watch(fd: i32) {
    WATCHED.lock().unwrap_or_else(|p| p.into_inner()).push(fd);
}

#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

const POLLIN: i16 = 1;

extern "C" {
    fn poll(fds: *mut PollFd, nfds: u64, timeout: i32) -> i32;
}

/// Polls the watched sockets (timeout 0) until one is readable or `us` microseconds
/// have passed.
pub fn until_readable(us: u64) {
    let mut fds: Vec<PollFd> = WATCHED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|&fd| PollFd {
            fd,
            events: POLLIN,
            revents: 0,
        })
        .collect();
    let t = Instant::now();
    while t.elapsed().as_micros() < u128::from(us) {
        if fds.is_empty() {
            std::hint::spin_loop();
            continue;
        }
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures.
        if unsafe { poll(fds.as_mut_ptr(), fds.len() as u64, 0) } > 0 {
            return;
        }
    }
}
