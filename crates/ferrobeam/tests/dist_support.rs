//! Helpers shared by the distribution tests: a private EPMD per test, nodes, mailboxes,
//! waiting. Included with `#[path = "dist_support.rs"] mod support;`.

#![allow(dead_code)]

use ferrobeam::dist::{self, DistConfig, DistNode, NameKind};
use ferrobeam::epmd::{EpmdConfig, EpmdHandle, EpmdServer};
use ferrobeam::{Atom, Pid, Term};
use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The cookie of the test clusters.
pub const COOKIE: &str = "ferrobeam_dist_test";

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_test_writer()
        .try_init();
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// A private in-process EPMD on a free port.
pub struct Cluster {
    pub epmd_port: u16,
    _epmd: EpmdHandle,
}

impl Cluster {
    pub async fn new() -> Cluster {
        init_tracing();
        let epmd_port = free_port();
        let server = EpmdServer::bind(EpmdConfig::loopback(epmd_port))
            .await
            .expect("bind EPMD");
        Cluster {
            epmd_port,
            _epmd: server.spawn(),
        }
    }

    /// A config for a short-named node of this cluster.
    pub fn config(&self, name: &str) -> DistConfig {
        let mut c = DistConfig::new(name, NameKind::Short)
            .cookie(COOKIE)
            .epmd_port(self.epmd_port)
            .handshake_timeout(Duration::from_secs(5));
        c.start_epmd = false;
        c
    }

    /// Starts a visible short-named node.
    pub async fn node(&self, name: &str) -> DistNode {
        self.start(self.config(name)).await
    }

    pub async fn start(&self, cfg: DistConfig) -> DistNode {
        dist::start(cfg).await.expect("start node")
    }
}

/// `alive@<this host's short name>`.
pub fn full(alive: &str) -> String {
    format!("{alive}@{}", dist::name::short_hostname())
}

/// A process that forwards every message it gets to a channel, optionally registered.
pub struct Mailbox {
    pub pid: Pid,
    pub rx: mpsc::UnboundedReceiver<Term>,
}

impl Mailbox {
    pub fn new(node: &DistNode, name: Option<&str>) -> Mailbox {
        let (tx, rx) = mpsc::unbounded_channel();
        let pid = node.node().spawn(move |ctx| async move {
            loop {
                let m = ctx.receive().await;
                if tx.send(m).is_err() {
                    return;
                }
            }
        });
        if let Some(n) = name {
            node.node().register(n, &pid).expect("register");
        }
        Mailbox { pid, rx }
    }

    /// The next message, or a panic after `secs`.
    pub async fn recv(&mut self, secs: u64) -> Term {
        tokio::time::timeout(Duration::from_secs(secs), self.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no message within {secs} s"))
            .expect("mailbox closed")
    }

    /// The next message within `ms`, if any.
    pub async fn try_recv(&mut self, ms: u64) -> Option<Term> {
        tokio::time::timeout(Duration::from_millis(ms), self.rx.recv())
            .await
            .ok()
            .flatten()
    }
}

/// Waits until `f` holds, polling; panics with `what` after `secs`.
pub async fn wait_for(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn atoms(v: &[&str]) -> Vec<Atom> {
    v.iter().map(|s| Atom::new(s)).collect()
}

pub fn t(s: &str) -> Term {
    s.parse().expect("term syntax")
}
