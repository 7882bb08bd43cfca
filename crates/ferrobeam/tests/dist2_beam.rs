//! Real Erlang/OTP and Elixir peers for the Distribution II tests: an `erl` running an
//! agent that evaluates expressions from standard input and prints the messages it
//! gets, and `elixir` scripts. Included with `#[path = "dist2_beam.rs"] mod beam;`.
//!
//! `erl`/`elixir` missing: the test is skipped with a printed notice, unless
//! `FERROBEAM_REQUIRE_ERLANG=1`, which makes it fail. Every OS process started here is
//! killed when its handle is dropped.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

#[path = "beam_support.rs"]
mod beam_support;
pub use beam_support::{beam_tool as require, AGENT};

/// A short node name unique to this test process.
pub fn sname(tag: &str) -> String {
    format!("{tag}{}", std::process::id())
}

/// A running `erl` with the agent; killed when dropped.
pub struct Erl {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<String>,
    msgs: Vec<String>,
    /// Other lines printed (neither `R` nor `MSG`), e.g. remote output.
    pub other: Vec<String>,
    /// The node name, `name@host`.
    pub name: String,
}

impl Erl {
    /// Starts `erl -sname Sname` with the agent, on the EPMD at `epmd_port`.
    pub async fn start(erl: &PathBuf, sname: &str, epmd_port: u16, cookie: &str) -> Erl {
        let mut child = Command::new(erl)
            .args(["-sname", sname, "-setcookie", cookie, "-noshell"])
            .args(["-start_epmd", "false"])
            .args(["-eval", AGENT])
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start erl");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        let tag = sname.to_string();
        tokio::spawn(async move {
            let mut r = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = r.next_line().await {
                eprintln!("erl {tag}: {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut e = Erl {
            child,
            stdin,
            lines,
            msgs: Vec::new(),
            other: Vec::new(),
            name: String::new(),
        };
        let ready = e.next_line("READY ", Duration::from_secs(30)).await;
        e.name = ready.trim().to_string();
        e
    }

    async fn next_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("erl printed no {prefix:?} line within {timeout:?}"))
                .expect("erl exited");
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_string();
            }
            if let Some(m) = line.strip_prefix("MSG ") {
                self.msgs.push(m.to_string());
            } else if !line.starts_with("R ") {
                self.other.push(line);
            }
        }
    }

    /// Evaluates `expr` (without the final dot) and returns what it printed.
    pub async fn eval(&mut self, expr: &str) -> String {
        self.stdin
            .write_all(format!("{expr}.\n").as_bytes())
            .await
            .expect("write to erl");
        self.stdin.flush().await.unwrap();
        self.next_line("R ", Duration::from_secs(15)).await
    }

    /// The next message the agent printed, within `secs`.
    pub async fn msg(&mut self, secs: u64) -> String {
        if !self.msgs.is_empty() {
            return self.msgs.remove(0);
        }
        self.next_line("MSG ", Duration::from_secs(secs)).await
    }

    /// The next message within `ms`, if any.
    pub async fn try_msg(&mut self, ms: u64) -> Option<String> {
        if !self.msgs.is_empty() {
            return Some(self.msgs.remove(0));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.recv())
                .await
                .ok()??;
            if let Some(m) = line.strip_prefix("MSG ") {
                return Some(m.to_string());
            }
            if !line.starts_with("R ") {
                self.other.push(line);
            }
        }
    }

    /// Waits for a printed line containing `text` (not an `R`/`MSG` line), within
    /// `secs`.
    pub async fn output(&mut self, text: &str, secs: u64) -> String {
        if let Some(i) = self.other.iter().position(|l| l.contains(text)) {
            return self.other.remove(i);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("erl printed no line with {text:?} within {secs} s"))
                .expect("erl exited");
            if line.contains(text) && !line.starts_with("R ") && !line.starts_with("MSG ") {
                return line;
            }
            if let Some(m) = line.strip_prefix("MSG ") {
                self.msgs.push(m.to_string());
            } else if !line.starts_with("R ") {
                self.other.push(line);
            }
        }
    }

    /// The OS process id.
    pub fn os_pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Kills the node at once (SIGKILL): its peers see the connection drop.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// Runs an Elixir script on a node `--sname Sname`; its standard output is collected.
pub struct Elixir {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl Elixir {
    /// Starts `elixir --sname Sname --cookie Cookie -e Script`.
    pub fn start(
        elixir: &PathBuf,
        sname: &str,
        epmd_port: u16,
        cookie: &str,
        script: &str,
    ) -> Elixir {
        let mut child = Command::new(elixir)
            .args(["--sname", sname, "--cookie", cookie])
            .args(["--erl", "-start_epmd false"])
            .args(["-e", script])
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start elixir");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        let tag = sname.to_string();
        tokio::spawn(async move {
            let mut r = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = r.next_line().await {
                eprintln!("elixir {tag}: {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Elixir {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line starting with `prefix` and returns the rest of it.
    pub async fn line(&mut self, prefix: &str, secs: u64) -> String {
        if let Some(i) = self.seen.iter().position(|l| l.starts_with(prefix)) {
            let l = self.seen.remove(i);
            return l[prefix.len()..].to_string();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("elixir printed no {prefix:?} line within {secs} s"))
                .unwrap_or_else(|| panic!("elixir exited before printing {prefix:?}"));
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_string();
            }
            self.seen.push(line);
        }
    }

    /// Kills the node at once.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}
