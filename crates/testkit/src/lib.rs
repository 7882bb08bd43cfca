//! # ferrobeam-testkit
//!
//! A local-cluster harness for tests of distributed code: the answer to seed 002's
//! "testing distributed code is hard". A test asks for N nodes and gets them, with no
//! manual step and no tag to skip:
//!
//! * [`Cluster::in_process`] starts N ferrobeam nodes inside the test process;
//! * [`Cluster::os_processes`] starts N OS processes (a ferrobeam binary, `elixir`,
//!   `erl`, ...) from a command the test builds for each [`NodeSpec`].
//!
//! Every cluster has its own EPMD, on a free loopback port, running on a thread of its
//! own for as long as the [`Cluster`] lives; OS processes get its port in
//! `ERL_EPMD_PORT`, so they neither use nor start the machine's EPMD. Node names only
//! need to be unique within the cluster. Every OS process runs in a process group of its
//! own and the whole group is killed (`SIGKILL`) and reaped when its [`OsNode`] is
//! dropped, so a failing test leaves nothing behind.
//!
//! ```
//! use ferrobeam::Term;
//! use ferrobeam_testkit::Cluster;
//!
//! # #[tokio::main]
//! # async fn main() {
//! // Three nodes in this process, fully connected.
//! let cluster = Cluster::in_process(3).await;
//! let (a, b) = (cluster.node(0), cluster.node(1));
//! assert_eq!(a.nodes().len(), 2);
//!
//! // A registered process on b, and a message to it from a.
//! let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
//! let pid = b.node().spawn(move |ctx| async move {
//!     let _ = tx.send(ctx.receive().await);
//! });
//! b.node().register("inbox", &pid).unwrap();
//! a.node().send(("inbox", b.name().as_str()), Term::atom("hello")).unwrap();
//! assert_eq!(rx.recv().await, Some(Term::atom("hello")));
//! cluster.shutdown().await;
//! # }
//! ```
//!
//! As OS processes, each node's standard output is collected line by line, to wait on
//! with [`OsNode::wait_line`]:
//!
//! ```no_run
//! use ferrobeam_testkit::Cluster;
//! use std::process::Command;
//! use std::time::Duration;
//!
//! let mut cluster = Cluster::builder()
//!     .names(["alex", "kate"])
//!     .cookie("c")
//!     .os_processes(|spec| {
//!         let mut cmd = Command::new("ferrobeam");
//!         cmd.args(["shell", "--sname", &spec.alive, "--cookie", &spec.cookie]);
//!         cmd
//!     });
//! let kate = cluster.full_name("kate");
//! let alex = cluster.os(0);
//! alex.send_line(&format!("ping {kate}"));
//! alex.wait_line("pong", Duration::from_secs(10));
//! ```

#![warn(missing_docs)]

use ferrobeam::dist::{self, DistConfig, DistNode, NameKind};
use ferrobeam::epmd::{EpmdConfig, EpmdServer};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The cookie of a cluster unless the builder sets one.
pub const DEFAULT_COOKIE: &str = "ferrobeam_testkit";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// ----- EPMD ----------------------------------------------------------------------------

/// A private EPMD on a free loopback port, served by a thread of its own until dropped.
#[derive(Debug)]
pub struct Epmd {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Epmd {
    /// Starts the EPMD. Panics if it cannot (a test cannot go on without it).
    pub fn start() -> Epmd {
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("testkit-epmd".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = port_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match EpmdServer::bind(EpmdConfig::loopback(0)).await {
                        Ok(server) => {
                            let _ = port_tx.send(Ok(server.port()));
                            let handle = server.spawn();
                            let _ = stop_rx.await;
                            handle.shutdown().await;
                        }
                        Err(e) => {
                            let _ = port_tx.send(Err(e));
                        }
                    }
                });
            })
            .expect("spawn the EPMD thread");
        let port = match port_rx.recv() {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => panic!("testkit: cannot start an EPMD: {e}"),
            Err(_) => panic!("testkit: the EPMD thread ended"),
        };
        Epmd {
            port,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// The EPMD's port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Epmd {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ----- the cluster ---------------------------------------------------------------------

/// What a command for one OS node needs to know: its name, the cookie, the EPMD port and
/// the names of the other nodes of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// The node's place in the cluster (0-based).
    pub index: usize,
    /// The name before the `@` (or the whole name when it was given with a host), as
    /// for `--sname`.
    pub alive: String,
    /// The full node name, `alive@host`.
    pub name: String,
    /// The cluster's cookie.
    pub cookie: String,
    /// The cluster's EPMD port (also in the process's `ERL_EPMD_PORT`).
    pub epmd_port: u16,
    /// The full names of the other nodes started with this one.
    pub peers: Vec<String>,
}

/// Options of a [`Cluster`]; see [`Cluster::builder`].
#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    names: Vec<String>,
    cookie: String,
    net_ticktime: Option<Duration>,
    mesh: bool,
}

impl ClusterBuilder {
    /// `n` nodes named `node1` ... `nodeN`.
    pub fn nodes(mut self, n: usize) -> Self {
        self.names = (1..=n).map(|i| format!("node{i}")).collect();
        self
    }

    /// Nodes with these names (`alive`, or `alive@host`).
    pub fn names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.names = names.into_iter().map(Into::into).collect();
        self
    }

    /// The cookie of every node.
    pub fn cookie(mut self, cookie: impl Into<String>) -> Self {
        self.cookie = cookie.into();
        self
    }

    /// The `net_ticktime` of in-process nodes (default: ferrobeam's 60 s).
    pub fn net_ticktime(mut self, t: Duration) -> Self {
        self.net_ticktime = Some(t);
        self
    }

    /// Whether in-process nodes are connected to each other before
    /// [`in_process`](ClusterBuilder::in_process) returns (default: yes).
    pub fn mesh(mut self, mesh: bool) -> Self {
        self.mesh = mesh;
        self
    }

    /// The cluster's EPMD and cookie, with no node yet: add nodes with
    /// [`Cluster::start_node`] and [`Cluster::spawn`].
    pub fn build(&self) -> Cluster {
        Cluster {
            epmd: Epmd::start(),
            cookie: self.cookie.clone(),
            host: dist::name::short_hostname(),
            net_ticktime: self.net_ticktime,
            nodes: Vec::new(),
            procs: Vec::new(),
        }
    }

    /// Starts the nodes in this process (short names, this host).
    pub async fn in_process(self) -> Cluster {
        let mut cluster = self.build();
        for name in &self.names {
            cluster.start_node(name).await;
        }
        if self.mesh {
            cluster.connect_all().await;
        }
        cluster
    }

    /// Starts the nodes as OS processes, each from the command `cmd` builds for its
    /// [`NodeSpec`]. The harness adds `ERL_EPMD_PORT`, pipes for the standard streams
    /// and a process group of its own.
    pub fn os_processes(self, mut cmd: impl FnMut(&NodeSpec) -> Command) -> Cluster {
        let mut cluster = self.build();
        let full: Vec<String> = self.names.iter().map(|n| cluster.full_name(n)).collect();
        for (i, name) in self.names.iter().enumerate() {
            let peers = full
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, n)| n.clone())
                .collect();
            let spec = cluster.spec_with_peers(name, peers);
            let c = cmd(&spec);
            cluster.spawn_spec(&spec, c);
        }
        cluster
    }
}

/// A local cluster: a private EPMD, nodes in this process and nodes as OS processes.
///
/// Dropping it kills the OS processes and stops the EPMD; in-process nodes end with the
/// test's runtime (or earlier with [`Cluster::shutdown`] / [`Cluster::stop_node`]).
#[derive(Debug)]
pub struct Cluster {
    // Declared first so that the OS nodes are killed before the EPMD stops.
    procs: Vec<OsNode>,
    nodes: Vec<Option<DistNode>>,
    epmd: Epmd,
    cookie: String,
    host: String,
    net_ticktime: Option<Duration>,
}

impl Cluster {
    /// Options: names, cookie, `net_ticktime`.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder {
            names: Vec::new(),
            cookie: DEFAULT_COOKIE.to_string(),
            net_ticktime: None,
            mesh: true,
        }
    }

    /// A cluster with an EPMD and no node yet: add nodes with [`Cluster::start_node`]
    /// and [`Cluster::spawn`].
    pub fn new() -> Cluster {
        Cluster::builder().build()
    }

    /// `n` connected nodes in this process, `node1@host` ... `nodeN@host`.
    pub async fn in_process(n: usize) -> Cluster {
        Cluster::builder().nodes(n).in_process().await
    }

    /// `n` OS processes, `node1@host` ... `nodeN@host`, started from `cmd`.
    pub fn os_processes(n: usize, cmd: impl FnMut(&NodeSpec) -> Command) -> Cluster {
        Cluster::builder().nodes(n).os_processes(cmd)
    }

    /// The EPMD port of the cluster.
    pub fn epmd_port(&self) -> u16 {
        self.epmd.port()
    }

    /// The cookie of the cluster.
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    /// The short host name nodes get.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `alive@host` (unchanged if `alive` already has a host).
    pub fn full_name(&self, alive: &str) -> String {
        if alive.contains('@') {
            alive.to_string()
        } else {
            format!("{alive}@{}", self.host)
        }
    }

    /// The configuration of an in-process node of this cluster: short name, the
    /// cluster's cookie and EPMD (never starting another).
    pub fn config(&self, alive: &str) -> DistConfig {
        let mut cfg = DistConfig::new(alive, NameKind::Short)
            .cookie(self.cookie.clone())
            .epmd_port(self.epmd.port())
            .handshake_timeout(Duration::from_secs(5));
        cfg.start_epmd = false;
        if let Some(t) = self.net_ticktime {
            cfg.net_ticktime = t;
        }
        cfg
    }

    /// Starts one more node in this process and returns it (its index is the number
    /// of in-process nodes started before it).
    pub async fn start_node(&mut self, alive: &str) -> DistNode {
        let cfg = self.config(alive);
        self.start_with(cfg).await
    }

    /// Starts an in-process node from a configuration (see [`Cluster::config`]).
    pub async fn start_with(&mut self, cfg: DistConfig) -> DistNode {
        let name = cfg.name.clone();
        let node = dist::start(cfg)
            .await
            .unwrap_or_else(|e| panic!("testkit: cannot start node {name}: {e}"));
        self.nodes.push(Some(node.clone()));
        node
    }

    /// The `i`-th in-process node. Panics if there is none or it was stopped.
    pub fn node(&self, i: usize) -> &DistNode {
        self.nodes
            .get(i)
            .and_then(|n| n.as_ref())
            .unwrap_or_else(|| panic!("testkit: no running in-process node {i}"))
    }

    /// The in-process nodes still running.
    pub fn nodes(&self) -> Vec<DistNode> {
        self.nodes.iter().flatten().cloned().collect()
    }

    /// Stops the `i`-th in-process node's distribution: its peers see it go down, as if
    /// the node died.
    pub async fn stop_node(&mut self, i: usize) {
        if let Some(n) = self.nodes.get_mut(i).and_then(|n| n.take()) {
            n.shutdown().await;
        }
    }

    /// Connects every pair of running in-process nodes and waits until each lists all
    /// the others. Panics after 15 s.
    pub async fn connect_all(&self) {
        let nodes = self.nodes();
        for (i, a) in nodes.iter().enumerate() {
            for b in &nodes[i + 1..] {
                assert!(
                    a.connect(b.name().as_str()).await,
                    "testkit: {} cannot connect to {}",
                    a.name(),
                    b.name()
                );
            }
        }
        wait_until(Duration::from_secs(15), "a full mesh", || {
            nodes.iter().all(|n| {
                let seen = n.nodes();
                nodes
                    .iter()
                    .all(|o| o.name() == n.name() || seen.contains(o.name()))
            })
        })
        .await;
    }

    /// The [`NodeSpec`] of a node named `alive` in this cluster (no peers listed).
    pub fn spec(&self, alive: &str) -> NodeSpec {
        self.spec_with_peers(alive, Vec::new())
    }

    fn spec_with_peers(&self, alive: &str, peers: Vec<String>) -> NodeSpec {
        NodeSpec {
            index: self.procs.len(),
            alive: alive.to_string(),
            name: self.full_name(alive),
            cookie: self.cookie.clone(),
            epmd_port: self.epmd.port(),
            peers,
        }
    }

    /// Starts one more OS node named `alive` from the command `cmd` builds; returns its
    /// index for [`Cluster::os`].
    pub fn spawn(&mut self, alive: &str, cmd: impl FnOnce(&NodeSpec) -> Command) -> usize {
        let spec = self.spec(alive);
        let c = cmd(&spec);
        self.spawn_spec(&spec, c)
    }

    fn spawn_spec(&mut self, spec: &NodeSpec, mut cmd: Command) -> usize {
        cmd.env("ERL_EPMD_PORT", spec.epmd_port.to_string());
        let node = OsNode::spawn(&spec.alive, &spec.name, cmd);
        self.procs.push(node);
        self.procs.len() - 1
    }

    /// The `i`-th OS node.
    pub fn os(&mut self, i: usize) -> &mut OsNode {
        let n = self.procs.len();
        self.procs
            .get_mut(i)
            .unwrap_or_else(|| panic!("testkit: no OS node {i} (there are {n})"))
    }

    /// The number of OS nodes started.
    pub fn os_count(&self) -> usize {
        self.procs.len()
    }

    /// Stops every in-process node, kills every OS node and stops the EPMD.
    pub async fn shutdown(mut self) {
        for n in self.nodes.iter_mut() {
            if let Some(n) = n.take() {
                n.shutdown().await;
            }
        }
        for p in self.procs.iter_mut() {
            p.kill();
        }
    }
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster::new()
    }
}

// ----- OS nodes ------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Output {
    stdout: Vec<String>,
    stderr: Vec<String>,
    stdout_closed: bool,
}

#[derive(Debug, Default)]
struct Shared {
    out: Mutex<Output>,
    changed: Condvar,
}

/// A node running as an OS process, with its output collected line by line. Killed
/// with its whole process group when dropped.
#[derive(Debug)]
pub struct OsNode {
    label: String,
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    shared: Arc<Shared>,
    cursor: usize,
    exited: Option<ExitStatus>,
}

fn pump(label: String, stream: impl Read + Send + 'static, shared: Arc<Shared>, is_out: bool) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end_matches(['\n', '\r']).to_string();
                    eprintln!("[{label}{}] {line}", if is_out { "" } else { " err" });
                    let mut out = lock(&shared.out);
                    if is_out {
                        out.stdout.push(line);
                    } else {
                        out.stderr.push(line);
                    }
                    shared.changed.notify_all();
                }
            }
        }
        if is_out {
            lock(&shared.out).stdout_closed = true;
            shared.changed.notify_all();
        }
    });
}

impl OsNode {
    /// Starts `cmd` with piped standard streams in a process group of its own. `label`
    /// tags its output lines in the test log; `name` is its node name.
    pub fn spawn(label: &str, name: &str, mut cmd: Command) -> OsNode {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("testkit: cannot start {cmd:?}: {e}"));
        let shared = Arc::new(Shared::default());
        if let Some(out) = child.stdout.take() {
            pump(label.to_string(), out, shared.clone(), true);
        }
        if let Some(err) = child.stderr.take() {
            pump(label.to_string(), err, shared.clone(), false);
        }
        OsNode {
            label: label.to_string(),
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            shared,
            cursor: 0,
            exited: None,
        }
    }

    /// The node name, `alive@host`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes one line to the process's standard input.
    pub fn send_line(&mut self, line: &str) {
        let label = &self.label;
        let stdin = self
            .stdin
            .as_mut()
            .unwrap_or_else(|| panic!("testkit: the standard input of {label} is closed"));
        writeln!(stdin, "{line}")
            .and_then(|_| stdin.flush())
            .unwrap_or_else(|e| panic!("testkit: cannot write to {label}: {e}"));
    }

    /// Writes bytes to the process's standard input as they are (no newline added): to
    /// type keys one at a time into a terminal program run under `script`, say.
    pub fn write_raw(&mut self, bytes: &[u8]) {
        let label = &self.label;
        let stdin = self
            .stdin
            .as_mut()
            .unwrap_or_else(|| panic!("testkit: the standard input of {label} is closed"));
        stdin
            .write_all(bytes)
            .and_then(|_| stdin.flush())
            .unwrap_or_else(|e| panic!("testkit: cannot write to {label}: {e}"));
    }

    /// Closes the process's standard input (end of file).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for a line of standard output, after the last one this method (or
    /// [`OsNode::wait_line_with`]) returned, that contains `pattern`; returns it. Panics
    /// with the output so far after `timeout`.
    pub fn wait_line(&mut self, pattern: &str, timeout: Duration) -> String {
        self.wait_line_with(|l| l.contains(pattern), timeout)
            .unwrap_or_else(|| self.fail(&format!("no output line with {pattern:?}"), timeout))
    }

    /// Like [`OsNode::wait_line`] with a predicate; `None` after `timeout` (or when the
    /// output is closed).
    pub fn wait_line_with(
        &mut self,
        mut pred: impl FnMut(&str) -> bool,
        timeout: Duration,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut out = lock(&self.shared.out);
        loop {
            while self.cursor < out.stdout.len() {
                let i = self.cursor;
                self.cursor += 1;
                if pred(&out.stdout[i]) {
                    return Some(out.stdout[i].clone());
                }
            }
            let now = Instant::now();
            if now >= deadline || out.stdout_closed {
                return None;
            }
            out = self
                .shared
                .changed
                .wait_timeout(out, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Waits until a line of standard error (any, from the start) contains `pattern`.
    pub fn wait_stderr(&mut self, pattern: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut out = lock(&self.shared.out);
        loop {
            if let Some(l) = out.stderr.iter().find(|l| l.contains(pattern)) {
                return l.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                drop(out);
                self.fail(&format!("no error line with {pattern:?}"), timeout);
            }
            out = self
                .shared
                .changed
                .wait_timeout(out, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Every line of standard output so far.
    pub fn stdout(&self) -> Vec<String> {
        lock(&self.shared.out).stdout.clone()
    }

    /// Every line of standard error so far.
    pub fn stderr(&self) -> Vec<String> {
        lock(&self.shared.out).stderr.clone()
    }

    fn fail(&self, what: &str, timeout: Duration) -> ! {
        let out = lock(&self.shared.out);
        panic!(
            "testkit: {}: {what} within {timeout:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.label,
            out.stdout.join("\n"),
            out.stderr.join("\n")
        )
    }

    /// Waits for the process to exit; `None` if it still runs after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_status() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn try_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            if let Ok(Some(st)) = self.child.try_wait() {
                self.exited = Some(st);
            }
        }
        self.exited
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.try_status().is_none()
    }

    /// Sends a signal (`"-STOP"`, `"-CONT"`, `"-TERM"`, ...) to the process.
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Kills the process and its whole process group (`SIGKILL`), and reaps it.
    pub fn kill(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        if let Ok(st) = self.child.wait() {
            self.exited.get_or_insert(st);
        }
    }
}

impl Drop for OsNode {
    fn drop(&mut self) {
        self.stdin = None;
        self.kill();
    }
}

// ----- tools ---------------------------------------------------------------------------

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// A program on the `PATH`.
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// `erl`, `elixir`, ... for an interop test: the path, or `None` with a printed notice
/// that `test` is skipped. With `FERROBEAM_REQUIRE_ERLANG=1` a missing tool panics
/// instead, so that CI cannot skip interop tests silently.
pub fn beam_tool(tool: &str, test: &str) -> Option<PathBuf> {
    required(find_tool(tool), tool, test)
}

/// `found` (a tool an interop test needs, looked up by the caller), or `None` with a
/// printed notice that `test` is skipped because `tool` is missing. With
/// `FERROBEAM_REQUIRE_ERLANG=1` a missing tool panics instead.
pub fn required<T>(found: Option<T>, tool: &str, test: &str) -> Option<T> {
    if found.is_none() {
        if std::env::var("FERROBEAM_REQUIRE_ERLANG").as_deref() == Ok("1") {
            panic!("{test}: {tool} is required (FERROBEAM_REQUIRE_ERLANG=1) but was not found");
        }
        // Past libtest's capture, so that the skip is seen.
        let mut err = std::io::stderr();
        let _ = writeln!(
            err,
            "SKIPPED {test}: {tool} not found (set FERROBEAM_REQUIRE_ERLANG=1 to fail instead)"
        );
    }
    found
}

/// The repository's `examples/elixir` directory (the Elixir ports of the seeds).
pub fn elixir_examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/elixir")
}

/// `elixir --sname ALIVE --cookie COOKIE SCRIPT ARGS...` for a node of a cluster.
pub fn elixir_command(elixir: &Path, spec: &NodeSpec, script: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(elixir);
    cmd.arg("--sname")
        .arg(&spec.alive)
        .arg("--cookie")
        .arg(&spec.cookie)
        .arg(script)
        .args(args);
    cmd
}

/// Polls `f` every 20 ms until it holds; panics naming `what` after `timeout`.
pub async fn wait_until(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "testkit: timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The blocking form of [`wait_until`], for tests without a runtime.
pub fn wait_until_blocking(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "testkit: timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
