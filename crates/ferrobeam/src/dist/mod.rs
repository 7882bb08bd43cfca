//! Distribution: connecting nodes to each other and to Erlang/OTP, on the real wire
//! protocol.
//!
//! [`start`] turns a [`DistConfig`] into a running [`DistNode`]: it makes sure an EPMD
//! is running (starting one as `erl` does), listens in the configured port range,
//! registers the node's name with EPMD (which gives the node its creation), builds the
//! runtime [`Node`] with that name and creation, installs the router for signals to
//! other nodes, and starts the node's `net_kernel`.
//!
//! From then on, a send to `{Name, Node}` or to a pid of another node connects on demand
//! (even after an explicit [`DistNode::disconnect`]); [`DistNode::connect`],
//! [`DistNode::ping`], [`DistNode::nodes`], [`DistNode::monitor_node`] and
//! [`DistNode::monitor_nodes`] behave like their `net_kernel`/`erlang` counterparts.
//!
//! ```no_run
//! use ferrobeam::dist::{self, DistConfig, NameKind, Ping};
//! use ferrobeam::Term;
//!
//! # async fn demo() -> Result<(), dist::DistError> {
//! let dale = dist::start(DistConfig::new("dale", NameKind::Short).cookie("c")).await?;
//! let chip = dale.name().as_str().replace("dale@", "chip@");
//! if dale.ping(&chip).await == Ping::Pong {
//!     // `send {:my_iex, :"chip@host"}, :hello_from_dale`
//!     dale.node().send(("my_iex", chip.as_str()), Term::atom("hello_from_dale")).unwrap();
//! }
//! println!("{:?}", dale.nodes());
//! # Ok(()) }
//! ```
//!
//! # Connections
//!
//! Each connection has one reader task and one writer task. The writer drains its queue
//! and writes everything queued with one vectored write (binaries of 2 KiB and more are
//! written from their own memory, never copied), sends a tick when it has written
//! nothing for a quarter of `net_ticktime`, and answers the peer's ticks. The reader
//! decodes every form a BEAM node may send under the advertised flags (pass-through, the
//! distribution header with its atom cache, fragments), delivers signals in order, and
//! drops the connection when nothing arrived for `net_ticktime` (`net_tick_timeout`) or
//! a packet is malformed (logged; the rest of the node keeps running).
//!
//! The reader asks the socket for 8 KiB at a time on a quiet connection and 256 KiB on
//! a busy one (many packets per system call). Binaries in received messages are slices
//! of their packet, never copied, so a process that keeps a binary from another node
//! keeps the packet it came in, as a sub-binary keeps its parent binary on BEAM. A
//! packet shorter than 4 KiB is copied out of the read buffer first, so that is all it
//! holds; a longer one is a slice of the read buffer, which it mostly fills, and a binary
//! kept from it holds that buffer (at most 64 times the packet). To keep a small binary
//! from a large message for long, copy it (`Bytes::copy_from_slice`).
//!
//! Messages larger than 256 KiB go out in fragments of 64 KiB when the peer accepts
//! them (`FRAGMENTS`, as every BEAM node does; BEAM fragments from 64 KiB, and a whole
//! packet of up to 256 KiB is cheaper for both sides than two fragments). The writer
//! sends the fragments of the large messages in progress in turn, with the small
//! messages that arrive meanwhile put between them, so that a small message is never
//! stuck behind a large one. The signals of one process keep their order: what a
//! process sends after a large message waits for that message's last fragment.
//!
//! # The output buffer and busy connections
//!
//! Each connection's output buffer is bounded by [`DistConfig::busy_limit`] (estimated
//! bytes queued and not yet written, including a connection still being set up). Above
//! it the connection is *busy*, like BEAM's busy distribution port, and a process that
//! sends to it is suspended until the buffer drains below the limit: sending itself
//! never blocks (the router is called synchronously from `send`), but the sending
//! process stops at its next await point (a `receive`, a sleep, a `yield_now`) and
//! resumes when the writer has caught up, or the connection is gone. Nothing is
//! dropped, and memory stays bounded by the limit plus what each sender queues between
//! two await points. The trade-off is cooperative scheduling: a process that sends in
//! a loop without ever awaiting is not stopped mid-loop, and code outside any process
//! (sending with [`Node::send`](crate::Node::send)) is never suspended; such code can
//! wait itself with [`DistNode::wait_not_busy`]. [`DistNode::is_busy`] and
//! [`DistNode::queued_bytes`] show the state.
//!
//! # Visible nodes and the mesh
//!
//! Visible ferrobeam nodes form a full mesh: when a visible connection comes up, each
//! side sends the visible nodes it knows to the peer's `ferrobeam_mesh` process, which
//! connects to the ones it does not know. BEAM nodes have no such process and drop the
//! message. Hidden nodes (and hidden connections) take no part.
//!
//! # Links, monitors and remote spawn
//!
//! Links follow the link protocol of OTP 23.3+ (mandatory since OTP 26): `LINK`,
//! `UNLINK_ID` and its `UNLINK_ID_ACK`, never the obsolete `UNLINK`; exit signals
//! (`EXIT`, `EXIT2`, in their payload forms) and monitors (`MONITOR_P`, `DEMONITOR_P`,
//! `MONITOR_P_EXIT`, by pid and by name) carry the real reasons, and a link or monitor
//! of a missing process is answered at once with `noproc`. When a connection is lost,
//! each side delivers `noconnection` to its own links and monitors.
//!
//! `SPAWN_REQUEST` from a peer starts a function registered on this node by
//! `{Module, Function}` (or `erpc`'s `execute_call`/`execute_cast`, which apply one),
//! with the requester's group leader, so that its output goes to the requester's node;
//! an unknown function is refused with `badarg`. Local processes spawn on other nodes
//! with [`Ctx::spawn_remote`](crate::Ctx::spawn_remote) and its variants. The node also
//! runs `rex`, so that `rpc:call` from BEAM works, and answers `GROUP_LEADER`.
//!
//! # Flags
//!
//! See [`DEFAULT_FLAGS`]: everything the protocol layer implements, plus monitors
//! (`DIST_MONITOR`, `DIST_MONITOR_NAME`), aliases (`ALIAS`) and remote spawn (`SPAWN`).
//! Without `DIST_MONITOR` a BEAM node reduces a monitor of a ferrobeam process to a
//! supervision of the connection (it fires only with `noconnection`), and without
//! `ALIAS` it drops alias sends; ferrobeam does the same towards peers without them.

mod config;
mod connection;
pub mod cookie;
mod flow;
mod manager;
pub mod name;
mod random;
mod services;
mod spawn;
mod wire;

pub use config::{
    DistConfig, DEFAULT_FLAGS, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_NET_TICKTIME, DEFAULT_READ_SPIN,
};
pub use cookie::{Cookie, CookieError};
pub use name::{NameError, NameKind, NodeName};

use crate::epmd::{self, ClientError, EpmdClient, NODE_TYPE_NORMAL};
use crate::node::Node;
use crate::process::lock;
use ferrobeam_term::{Atom, Pid};
use manager::{Inner, Router};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{debug, warn};

/// Which connected nodes [`DistNode::nodes_of`] lists (`erlang:nodes/1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// Nodes connected through visible connections.
    Visible,
    /// Nodes connected through hidden connections.
    Hidden,
    /// All connected nodes.
    Connected,
    /// This node.
    This,
}

impl NodeKind {
    /// Parses `visible`, `hidden`, `connected` or `this`.
    pub fn parse(s: &str) -> Option<NodeKind> {
        Some(match s {
            "visible" => NodeKind::Visible,
            "hidden" => NodeKind::Hidden,
            "connected" => NodeKind::Connected,
            "this" => NodeKind::This,
            _ => return None,
        })
    }
}

/// The `node_type` option of [`DistNode::monitor_nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeTypeFilter {
    /// Visible nodes only (the default).
    Visible,
    /// Hidden nodes only.
    Hidden,
    /// Both.
    All,
}

/// Options of [`DistNode::monitor_nodes`], as `net_kernel:monitor_nodes/2` takes them.
///
/// With the default (no options) the messages are `{nodeup, Node}` and
/// `{nodedown, Node}`. With any option they are `{nodeup, Node, Info}` and
/// `{nodedown, Node, Info}`, where `Info` holds `{nodedown_reason, Reason}` (with
/// `nodedown_reason`, for nodedown) and then `{node_type, visible | hidden}` (with a
/// `node_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct MonitorNodesOptions {
    /// `{node_type, T}`: which nodes to report; `None` reports visible nodes.
    pub node_type: Option<NodeTypeFilter>,
    /// `nodedown_reason`: include the reason in nodedown messages (`connection_closed`,
    /// `net_tick_timeout`, `disconnect`, `connection_setup_failed`, ...).
    pub nodedown_reason: bool,
}

impl MonitorNodesOptions {
    /// True when no option is set (two-element messages).
    pub fn is_plain(&self) -> bool {
        self.node_type.is_none() && !self.nodedown_reason
    }
}

/// The answer of [`DistNode::ping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ping {
    /// The node answered.
    Pong,
    /// It did not (not reachable, wrong cookie, no `net_kernel`...).
    Pang,
}

impl fmt::Display for Ping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ping::Pong => "pong",
            Ping::Pang => "pang",
        })
    }
}

/// Why a distributed node could not start.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    /// The node name is not valid.
    #[error(transparent)]
    Name(#[from] NameError),
    /// The cookie file could not be used.
    #[error(transparent)]
    Cookie(#[from] CookieError),
    /// No EPMD is running and none could be started.
    #[error("cannot start EPMD on port {port}: {source}")]
    EpmdStart {
        /// The EPMD port.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// EPMD refused or failed the registration (the name may be taken).
    #[error("cannot register with EPMD: {0}")]
    Register(#[from] ClientError),
    /// No port of the range could be bound.
    #[error("cannot listen for distribution connections on {addr}: {source}")]
    Listen {
        /// The address (and port range) tried.
        addr: String,
        /// The last error.
        source: std::io::Error,
    },
}

/// A running distributed node. Cheap to clone.
///
/// The node runs until [`DistNode::shutdown`]; dropping the handles does not stop
/// connections that are up.
#[derive(Clone)]
pub struct DistNode {
    inner: Arc<Inner>,
}

impl fmt::Debug for DistNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DistNode({})", self.inner.name)
    }
}

/// Starts a distributed node. See the [module documentation](self).
pub async fn start(cfg: DistConfig) -> Result<DistNode, DistError> {
    let name = NodeName::parse(&cfg.name, cfg.kind)?;
    let cookie = match &cfg.cookie {
        Some(c) => Cookie::new(c.clone()),
        None => {
            let path = match &cfg.cookie_file {
                Some(p) => p.clone(),
                None => cookie::default_cookie_path()?,
            };
            cookie::read_or_create(&path)?
        }
    };
    let mut keep: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    if cfg.start_epmd {
        match epmd::ensure_running(cfg.epmd_port).await {
            Ok(started) => keep.push(Box::new(started)),
            Err(source) => {
                return Err(DistError::EpmdStart {
                    port: cfg.epmd_port,
                    source,
                })
            }
        }
    }
    let listener = bind(&cfg).await?;
    let listen_port =
        listener
            .local_addr()
            .map(|a| a.port())
            .map_err(|source| DistError::Listen {
                addr: cfg.listen_addr.to_string(),
                source,
            })?;
    let registration = EpmdClient::new(cfg.epmd_port)
        .with_timeout(cfg.handshake_timeout.max(Duration::from_secs(5)))
        .register(&name.alive, listen_port, NODE_TYPE_NORMAL)
        .await?;
    let node = Node::builder()
        .name(name.atom())
        .creation(registration.creation())
        .build();
    let inner = Arc::new(Inner::new(
        node.clone(),
        name.kind,
        cfg,
        cookie,
        listen_port,
    ));
    *lock(&inner.keep) = keep;
    node.set_router(Arc::new(Router {
        inner: Arc::downgrade(&inner),
    }));
    let handle = node.handle().clone();
    let accept = handle.spawn(accept_loop(Arc::downgrade(&inner), listener));
    let epmd_watch = handle.spawn(watch_registration(inner.name.clone(), registration));
    lock(&inner.background).extend([accept.abort_handle(), epmd_watch.abort_handle()]);
    services::start_net_kernel(&inner);
    services::start_rex(&inner);
    services::start_mesh(&inner);
    debug!(node = %inner.name, port = listen_port, "distribution started");
    Ok(DistNode { inner })
}

async fn bind(cfg: &DistConfig) -> Result<TcpListener, DistError> {
    let ports: Vec<u16> = match &cfg.listen_port_range {
        Some(r) => r.clone().collect(),
        None => vec![0],
    };
    let mut last = None;
    for p in ports {
        match TcpListener::bind(SocketAddr::new(cfg.listen_addr, p)).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(DistError::Listen {
        addr: format!("{}:{:?}", cfg.listen_addr, cfg.listen_port_range),
        source: last.unwrap_or_else(|| std::io::Error::other("empty port range")),
    })
}

/// Most handshakes in progress at once; further connections are closed at once.
const MAX_HANDSHAKES: usize = 256;

async fn accept_loop(weak: std::sync::Weak<Inner>, listener: TcpListener) {
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    loop {
        let (sock, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(inner) = weak.upgrade() else { return };
        if inner.shut.load(Ordering::Relaxed) {
            return;
        }
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            warn!(node = %inner.name, %addr, "too many connection setups in progress; connection closed");
            continue;
        };
        inner.node.handle().clone().spawn(async move {
            connection::accept(inner, sock).await;
            drop(permit);
        });
    }
}

async fn watch_registration(name: Atom, mut reg: epmd::Registration) {
    let r = reg.closed().await;
    warn!(node = %name, "EPMD ended this node's registration ({r:?}); other nodes can no longer find it");
    // Keep `reg` until aborted.
    std::future::pending::<()>().await;
}

impl DistNode {
    /// The runtime node: spawn processes, register names and send from it.
    pub fn node(&self) -> &Node {
        &self.inner.node
    }

    /// This node's name, `name@host` (`node()`).
    pub fn name(&self) -> &Atom {
        &self.inner.name
    }

    /// The creation EPMD gave this node.
    pub fn creation(&self) -> u32 {
        self.inner.node.creation()
    }

    /// The port the node accepts connections on.
    pub fn listen_port(&self) -> u16 {
        self.inner.listen_port
    }

    /// True for a hidden node.
    pub fn is_hidden(&self) -> bool {
        self.inner.cfg.hidden
    }

    /// Short or long names.
    pub fn name_kind(&self) -> NameKind {
        self.inner.kind
    }

    /// The configured `net_ticktime`.
    pub fn net_ticktime(&self) -> Duration {
        self.inner.cfg.net_ticktime
    }

    /// The flags this node advertises.
    pub fn flags(&self) -> u64 {
        self.inner.flags
    }

    /// Connects to `node` (`net_kernel:connect_node/1`): true once the connection is
    /// up, false if it cannot be set up (unknown node, wrong cookie, other name kind,
    /// timeout).
    pub async fn connect(&self, node: &str) -> bool {
        let Some(node) = Atom::try_new(node) else {
            return false;
        };
        self.inner.connect(&node).await
    }

    /// `net_adm:ping/1`: connects if needed and asks the node's `net_kernel`.
    pub async fn ping(&self, node: &str) -> Ping {
        let Some(node) = Atom::try_new(node) else {
            return Ping::Pang;
        };
        if services::ping(&self.inner, &node).await {
            Ping::Pong
        } else {
            Ping::Pang
        }
    }

    /// The nodes connected through visible connections (`nodes()`).
    pub fn nodes(&self) -> Vec<Atom> {
        self.inner.nodes(&[NodeKind::Visible])
    }

    /// `nodes(Kinds)`: the union of the kinds given; `This` puts this node first.
    pub fn nodes_of(&self, kinds: &[NodeKind]) -> Vec<Atom> {
        self.inner.nodes(kinds)
    }

    /// Closes the connection to `node` (`disconnect_node/1`). False if not connected.
    /// A later send to the node connects again.
    pub fn disconnect(&self, node: &str) -> bool {
        match Atom::try_new(node) {
            Some(n) => self.inner.disconnect(&n),
            None => false,
        }
    }

    /// `monitor_node(Node, Flag)` on behalf of the local process `pid`: with `true`,
    /// `pid` gets `{nodedown, Node}` when the connection goes down (at once if it
    /// cannot be set up; a connection is attempted if there is none). Each call with
    /// `true` adds one monitor; `false` removes one.
    pub fn monitor_node(&self, pid: &Pid, node: &str, flag: bool) {
        match Atom::try_new(node) {
            Some(n) => self.inner.monitor_node(pid, &n, flag),
            None if flag => {
                let _ = self.inner.node.send(
                    pid,
                    ferrobeam_term::Term::tuple(vec![
                        ferrobeam_term::Term::atom("nodedown"),
                        ferrobeam_term::Term::atom(""),
                    ]),
                );
            }
            None => {}
        }
    }

    /// `net_kernel:monitor_nodes(Flag, Options)` on behalf of the local process `pid`.
    pub fn monitor_nodes(&self, pid: &Pid, flag: bool, opts: MonitorNodesOptions) {
        self.inner.monitor_nodes(pid, flag, opts)
    }

    /// `erlang:get_cookie/0`.
    pub fn get_cookie(&self) -> Cookie {
        self.inner
            .cookie
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// `erlang:set_cookie/1`: the cookie for connections set up from now on.
    pub fn set_cookie(&self, cookie: &str) {
        *self.inner.cookie.write().unwrap_or_else(|p| p.into_inner()) = Cookie::new(cookie);
    }

    /// True when more than [`DistConfig::busy_limit`] bytes are queued for `node`.
    pub fn is_busy(&self, node: &str) -> bool {
        Atom::try_new(node).is_some_and(|n| self.inner.is_busy(&n))
    }

    /// Waits until the connection to `node` is not busy (at once if there is none).
    pub async fn wait_not_busy(&self, node: &str) {
        let flow = Atom::try_new(node).and_then(|n| self.inner.flow(&n));
        if let Some(f) = flow {
            f.wait_not_busy().await;
        }
    }

    /// The bytes (estimated) queued for `node`'s connection and not yet written: the
    /// size of its output buffer. 0 if there is no connection.
    pub fn queued_bytes(&self, node: &str) -> usize {
        Atom::try_new(node)
            .and_then(|n| self.inner.flow(&n))
            .map(|f| f.queued())
            .unwrap_or(0)
    }

    /// Stops the node's distribution: closes every connection (nodedown reason
    /// `net_kernel_terminated`), stops listening and ends the EPMD registration.
    pub async fn shutdown(&self) {
        if self.inner.shut.swap(true, Ordering::SeqCst) {
            return;
        }
        self.inner.close_all();
        for h in lock(&self.inner.background).drain(..) {
            h.abort();
        }
        self.inner.node.clear_router();
        for name in [manager::NET_KERNEL, manager::REX, manager::MESH] {
            if let Some(pid) = self.inner.node.whereis(name) {
                self.inner
                    .node
                    .exit(&pid, ferrobeam_term::Term::atom("kill"));
            }
        }
        lock(&self.inner.keep).clear();
        tokio::task::yield_now().await;
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for h in lock(&self.background).drain(..) {
            h.abort();
        }
    }
}
