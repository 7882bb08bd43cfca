//! Helpers for the `ferrobeam ping`/`ferrobeam shell` tests: a private EPMD, shells
//! driven through pipes, guards that kill every process started.
//! Included with `#[path = "shell_support.rs"] mod support;`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const COOKIE: &str = "ferrobeam_shell_test";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ferrobeam")
}

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// A child process killed (and reaped) when dropped, even if it is stopped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ferrobeam epmd --port P` in the foreground, on a free port.
pub fn epmd() -> (Guard, u16) {
    let port = free_port();
    let child = Command::new(bin())
        .args(["epmd", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferrobeam epmd");
    let g = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(Instant::now() < deadline, "EPMD did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (g, port)
}

/// A `ferrobeam shell` driven through its standard input.
pub struct Shell {
    guard: Guard,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// The node name, `name@host`.
    pub name: String,
}

impl Shell {
    pub fn start(epmd_port: u16, args: &[&str]) -> Shell {
        let mut child = Command::new(bin())
            .arg("shell")
            .args(args)
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ferrobeam shell");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        let tag = args.join(" ");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("[shell {tag}] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut s = Shell {
            guard: Guard(child),
            stdin,
            lines,
            name: String::new(),
        };
        s.name = s.cmd("node");
        s
    }

    pub fn pid(&self) -> u32 {
        self.guard.0.id()
    }

    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to the shell");
        stdin.flush().unwrap();
    }

    pub fn line(&mut self, timeout: Duration) -> String {
        self.lines
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("the shell printed nothing within {timeout:?}"))
    }

    /// Runs a one-line command and returns its output line.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send_line(line);
        self.line(Duration::from_secs(20))
    }

    /// `flush`: the messages, without the final `ok`.
    pub fn flush(&mut self) -> Vec<String> {
        self.send_line("flush");
        let mut out = Vec::new();
        loop {
            let l = self.line(Duration::from_secs(10));
            if l == "ok" {
                return out;
            }
            out.push(l);
        }
    }

    /// Closes standard input and waits for the shell to exit.
    pub fn quit(mut self) -> bool {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = self.guard.0.try_wait() {
                return st.success();
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub use ferrobeam_testkit::beam_tool;

pub fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(st.success(), "kill {sig} {pid}");
}
