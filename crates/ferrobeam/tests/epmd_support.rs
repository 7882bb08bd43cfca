//! Helpers shared by the EPMD tests: free ports, real Erlang tools, process guards.
//!
//! Included with `#[path = "epmd_support.rs"] mod support;` here and from
//! `crates/cli/tests/epmd_cli.rs` by its relative path (one copy for both crates).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The cookie of every Erlang node the tests start.
pub const COOKIE: &str = "ferrobeam_epmd_test";

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// The installed Erlang tools.
#[derive(Debug, Clone)]
pub struct Erlang {
    /// `erl`.
    pub erl: PathBuf,
    /// OTP's `epmd`.
    pub epmd: PathBuf,
}

#[path = "beam_support.rs"]
mod beam_support;
use beam_support::find as find_in_path;

/// The Erlang tools, or `None` (with a printed notice) when they are missing. Panics when
/// they are missing and `FERROBEAM_REQUIRE_ERLANG=1`.
pub fn erlang(test: &str) -> Option<Erlang> {
    let erl = beam_support::beam_tool("erl", test)?;
    let epmd = beam_support::required(find_epmd(), "epmd", test)?;
    Some(Erlang { erl, epmd })
}

fn find_epmd() -> Option<PathBuf> {
    if let Some(p) = find_in_path("epmd") {
        return Some(p);
    }
    let fixed = PathBuf::from("/usr/bin/epmd");
    if fixed.is_file() {
        return Some(fixed);
    }
    for root in ["/usr/lib/erlang", "/usr/local/lib/erlang"] {
        if let Ok(dir) = std::fs::read_dir(root) {
            for e in dir.flatten() {
                let p = e.path().join("bin/epmd");
                if e.file_name().to_string_lossy().starts_with("erts-") && p.is_file() {
                    return Some(p);
                }
            }
        }
    }
    None
}

/// A child process that is killed and reaped when dropped.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    what: String,
}

impl Proc {
    /// Spawns `cmd`.
    pub fn spawn(cmd: &mut Command, what: impl Into<String>) -> Proc {
        let what = what.into();
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Proc { child, what }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The child itself.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.exited() {
            eprintln!("stopping {} (pid {})", self.what, self.child.id());
        }
        self.kill();
    }
}

/// Starts `erl -sname <sname>` against the EPMD on `epmd_port`. It never starts an EPMD of
/// its own (`-start_epmd false`), so no stray `epmd` outlives a test.
pub fn erl_node(e: &Erlang, sname: &str, epmd_port: u16) -> Proc {
    Proc::spawn(
        Command::new(&e.erl)
            .args(["-sname", sname, "-noshell", "-start_epmd", "false"])
            .args(["-setcookie", COOKIE])
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        format!("erl -sname {sname}"),
    )
}

/// Runs `erl -sname <sname> -eval <expr>` and returns its standard output. `expr` must end
/// with `init:stop()` (or halt). `Host` is bound to this node's host name before `expr`.
pub fn erl_eval(e: &Erlang, sname: &str, epmd_port: u16, expr: &str, timeout: Duration) -> String {
    let full = format!("[_, Host] = string:split(atom_to_list(node()), \"@\"), {expr}");
    let mut p = Proc::spawn(
        Command::new(&e.erl)
            .args(["-sname", sname, "-noshell", "-start_epmd", "false"])
            .args(["-setcookie", COOKIE, "-eval", full.as_str()])
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        format!("erl -sname {sname} -eval"),
    );
    let deadline = Instant::now() + timeout;
    while !p.exited() {
        if Instant::now() > deadline {
            p.kill();
            panic!("erl -eval {expr:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = p.child().stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = p.child().stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    if !err.trim().is_empty() {
        eprintln!("erl -eval stderr: {err}");
    }
    out
}

/// Starts OTP's `epmd` in the foreground on `port` and waits until it accepts.
pub fn real_epmd(e: &Erlang, port: u16) -> Proc {
    let p = Proc::spawn(
        Command::new(&e.epmd)
            .args(["-port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        format!("epmd -port {port}"),
    );
    assert!(
        wait_until(Duration::from_secs(10), || accepts(port)),
        "epmd did not listen on port {port}"
    );
    p
}

/// Runs `epmd -port <port> -names` and returns its output.
pub fn epmd_names(e: &Erlang, port: u16) -> String {
    let out = Command::new(&e.epmd)
        .args(["-port", &port.to_string(), "-names"])
        .output()
        .expect("cannot run epmd -names");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `f` every 50 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether something accepts on `127.0.0.1:port`.
pub fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// Sends raw bytes to `127.0.0.1:port` and reads until the peer closes (5 s at most).
pub fn raw_exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// The names in a NAMES answer read with raw bytes.
pub fn raw_names(port: u16) -> String {
    let bytes = raw_exchange(port, b"\x00\x01\x6e");
    String::from_utf8_lossy(bytes.get(4..).unwrap_or_default()).into_owned()
}

/// Whether `name` is registered with the EPMD on `port`.
pub fn is_registered(port: u16, name: &str) -> bool {
    raw_names(port)
        .lines()
        .any(|l| l.starts_with(&format!("name {name} at port ")))
}

/// The soft limit of open files of this process, from `/proc/self/limits`.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Raises this process's soft limit of open files towards `want` (never above the hard
/// limit) and returns the soft limit afterwards.
#[cfg(target_os = "linux")]
pub fn raise_open_files_limit(want: u64) -> Option<u64> {
    #[repr(C)]
    struct RLimit {
        cur: u64,
        max: u64,
    }
    const RLIMIT_NOFILE: i32 = 7;
    extern "C" {
        fn getrlimit(resource: i32, rlim: *mut RLimit) -> i32;
        fn setrlimit(resource: i32, rlim: *const RLimit) -> i32;
    }
    let mut lim = RLimit { cur: 0, max: 0 };
    // SAFETY: getrlimit and setrlimit only read or write the struct passed, which has the
    // layout of Linux's `struct rlimit` (two `rlim_t`, 64-bit on Linux).
    unsafe {
        if getrlimit(RLIMIT_NOFILE, &mut lim) != 0 {
            return open_files_limit();
        }
        if lim.cur < want {
            let raised = RLimit {
                cur: want.min(lim.max),
                max: lim.max,
            };
            setrlimit(RLIMIT_NOFILE, &raised);
        }
    }
    open_files_limit()
}

/// Raises this process's soft limit of open files (not supported here: returns it).
#[cfg(not(target_os = "linux"))]
pub fn raise_open_files_limit(_want: u64) -> Option<u64> {
    open_files_limit()
}

/// Sends KILL_REQ until EPMD answers OK or stops accepting (5 s at most).
pub fn kill_epmd(port: u16) -> bool {
    wait_until(Duration::from_secs(5), || {
        if !accepts(port) {
            return true;
        }
        raw_exchange(port, b"\x00\x01\x6b") == b"OK"
            && wait_until(Duration::from_secs(2), || !accepts(port))
    })
}

/// Kills the EPMD daemon on a port with KILL_REQ when dropped.
pub struct KillEpmdOnDrop(pub u16);

impl Drop for KillEpmdOnDrop {
    fn drop(&mut self) {
        if !kill_epmd(self.0) {
            eprintln!("could not stop the EPMD on port {}", self.0);
        }
    }
}

/// `Path` of a binary for messages.
pub fn show(p: &Path) -> String {
    p.display().to_string()
}
