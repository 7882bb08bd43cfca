//! The connection manager: the table of connections by node, connect on demand, the
//! router for signals to other nodes, and what happens when a connection comes up or
//! goes down.
//!
//! # States
//!
//! A node in the table is either *pending* (a connection is being set up, by this node
//! dialing or by an incoming connection being accepted; signals for it are queued) or
//! *up* (signals go to the connection's writer). Each state has an owner id: the
//! attempt (dialer or acceptor) that may complete it. Simultaneous connects are
//! resolved as `net_kernel` does (see [`ferrobeam_proto::handshake::accept_status`]):
//! an acceptor that wins takes over the pending entry, with its queue and waiters, and
//! cancels the losing dialer.
//!
//! # Links and monitors across a connection
//!
//! The manager tracks the links and monitors that cross each connection (from the
//! signals routed out and the control messages read in). When the connection is lost,
//! or cannot be set up, each side delivers `noconnection` to its own processes: an exit
//! signal for each link, a `DOWN` for each monitor held here, and a demonitor for each
//! monitor the peer held. Nothing goes on the wire.

use super::config::DistConfig;
use super::connection::{self, Out};
use super::cookie::Cookie;
use super::flow::Flow;
use super::name::NameKind;
use super::wire;
use super::{MonitorNodesOptions, NodeKind, NodeTypeFilter};
use crate::node::{Node, RemoteRouter};
use crate::process::lock;
use crate::remote::DistRequest;
use crate::signal::{Dest, ExitKind, Signal};
use ferrobeam_proto::control::{
    ControlMessage, ProcRef, SpawnResult, SPAWN_REPLY_LINK, SPAWN_REPLY_MONITOR,
};
use ferrobeam_proto::handshake::{AcceptStatus, NameDomain};
use ferrobeam_term::{Atom, Pid, Ref, Term};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// The name of the process that answers `net_kernel` calls.
pub(crate) const NET_KERNEL: &str = "net_kernel";
/// The name of the process that exchanges node lists between ferrobeam nodes (the
/// mesh). BEAM nodes have no process of that name, and drop messages to it.
pub(crate) const MESH: &str = "ferrobeam_mesh";
/// The name of the classic `rpc` server.
pub(crate) const REX: &str = "rex";

/// Links and monitors that cross one connection.
///
/// It also keeps the part of the link protocol's state that concerns the connection
/// (see the `Link Protocol` section of OTP's `erl_dist_protocol`): the unlink id of
/// each `UNLINK_ID` a local process sent and the peer has not acknowledged yet. While
/// one is outstanding, the link is inactive on our side: a `LINK` from the peer for
/// that pair is ignored (the peer drops its link when our `UNLINK_ID` reaches it), and
/// an `UNLINK_ID_ACK` with the same id ends the unlink. A `LINK` sent by the local
/// process meanwhile makes the link active again and cancels the outstanding id.
#[derive(Default)]
pub(crate) struct Track {
    /// `(local pid, remote pid)`.
    links: HashSet<(Pid, Pid)>,
    /// Outstanding unlinks: `(local pid, remote pid)` → the id of its `UNLINK_ID`.
    unlinking: HashMap<(Pid, Pid), u64>,
    /// The last unlink id used on this connection.
    last_unlink_id: u64,
    /// Our spawn requests not answered yet: request id → requesting process.
    spawns: HashMap<Ref, Pid>,
    /// Monitors held by local processes on remote ones: reference → local watcher.
    monitors_out: HashMap<Ref, Pid>,
    /// Monitors held by remote processes on local ones: reference → (remote watcher,
    /// local target).
    monitors_in: HashMap<Ref, (Pid, ProcRef)>,
}

impl Track {
    /// Records what a signal routed out does to the links and monitors.
    fn outgoing(&mut self, to: &Dest, signal: &Signal) {
        match (signal, to) {
            (Signal::Link { from }, Dest::Pid(r)) => {
                let pair = (from.clone(), r.clone());
                self.unlinking.remove(&pair);
                self.links.insert(pair);
            }
            (Signal::Unlink { from }, Dest::Pid(r)) => {
                self.links.remove(&(from.clone(), r.clone()));
            }
            (
                Signal::Exit {
                    from,
                    kind: ExitKind::Link,
                    ..
                },
                Dest::Pid(r),
            ) => {
                self.links.remove(&(from.clone(), r.clone()));
            }
            (Signal::Monitor { from, reference }, _) => {
                self.monitors_out.insert(reference.clone(), from.clone());
            }
            (Signal::Demonitor { reference, .. }, _) => {
                self.monitors_out.remove(reference);
            }
            _ => {}
        }
    }

    /// A new unlink id for `UNLINK_ID` from `local` to `remote`, recorded as
    /// outstanding.
    pub(crate) fn start_unlink(&mut self, local: &Pid, remote: &Pid) -> u64 {
        self.last_unlink_id = self.last_unlink_id.wrapping_add(1).max(1);
        let id = self.last_unlink_id;
        self.unlinking.insert((local.clone(), remote.clone()), id);
        id
    }

    /// True if [`Track::incoming`] acts on `msg`. The other messages, sends above all,
    /// need no look at the connection table. The match has no wildcard on purpose: a
    /// new control message does not compile until it is placed on one side, and one
    /// placed here must have its arm in `incoming` (whose catch-all arm says so in
    /// debug builds).
    pub(crate) fn concerns(msg: &ControlMessage) -> bool {
        use ControlMessage as C;
        match msg {
            C::Link { .. }
            | C::SpawnReply { .. }
            | C::SpawnReplyTT { .. }
            | C::UnlinkIdAck { .. }
            | C::Unlink { .. }
            | C::UnlinkId { .. }
            | C::Exit { .. }
            | C::ExitTT { .. }
            | C::PayloadExit { .. }
            | C::PayloadExitTT { .. }
            | C::MonitorP { .. }
            | C::DemonitorP { .. }
            | C::MonitorPExit { .. }
            | C::PayloadMonitorPExit { .. } => true,
            C::Send { .. }
            | C::SendTT { .. }
            | C::SendSender { .. }
            | C::SendSenderTT { .. }
            | C::RegSend { .. }
            | C::RegSendTT { .. }
            | C::AliasSend { .. }
            | C::AliasSendTT { .. }
            | C::NodeLink
            | C::GroupLeader { .. }
            | C::Exit2 { .. }
            | C::Exit2TT { .. }
            | C::PayloadExit2 { .. }
            | C::PayloadExit2TT { .. }
            | C::SpawnRequest { .. }
            | C::SpawnRequestTT { .. } => false,
        }
    }

    /// Records what a control message read in does to the links and monitors. False
    /// if the message must not be delivered: a `LINK` for a pair whose unlink is still
    /// outstanding, which the link protocol ignores, or a `SPAWN_REPLY` to no request
    /// of ours.
    pub(crate) fn incoming(&mut self, msg: &ControlMessage) -> bool {
        use ControlMessage as C;
        match msg {
            C::Link { from, to } => {
                let pair = (to.clone(), from.clone());
                if self.unlinking.contains_key(&pair) {
                    return false;
                }
                self.links.insert(pair);
            }
            C::SpawnReply {
                req_id,
                to,
                flags,
                result,
            }
            | C::SpawnReplyTT {
                req_id,
                to,
                flags,
                result,
                ..
            } => {
                // A reply to no request of ours is dropped.
                if self.spawns.remove(req_id).is_none() {
                    return false;
                }
                if let SpawnResult::Pid(child) = result {
                    if flags & SPAWN_REPLY_LINK != 0 {
                        self.links.insert((to.clone(), child.clone()));
                    }
                    if flags & SPAWN_REPLY_MONITOR != 0 {
                        self.monitors_out.insert(req_id.clone(), to.clone());
                    }
                }
            }
            C::UnlinkIdAck { id, from, to } => {
                let pair = (to.clone(), from.clone());
                if self.unlinking.get(&pair) == Some(id) {
                    self.unlinking.remove(&pair);
                }
            }
            C::Unlink { from, to }
            | C::UnlinkId { from, to, .. }
            | C::Exit { from, to, .. }
            | C::ExitTT { from, to, .. }
            | C::PayloadExit { from, to, .. }
            | C::PayloadExitTT { from, to, .. } => {
                self.links.remove(&(to.clone(), from.clone()));
            }
            C::MonitorP {
                from,
                to,
                reference,
            } => {
                self.monitors_in
                    .insert(reference.clone(), (from.clone(), to.clone()));
            }
            C::DemonitorP { reference, .. } => {
                self.monitors_in.remove(reference);
            }
            C::MonitorPExit { reference, .. } | C::PayloadMonitorPExit { reference, .. } => {
                self.monitors_out.remove(reference);
            }
            _ => debug_assert!(
                !Self::concerns(msg),
                "Track::concerns lists a message that Track::incoming ignores: {msg:?}"
            ),
        }
        true
    }

    /// The signals that tell local processes the connection is gone.
    fn lost(self) -> Vec<(Dest, Signal)> {
        let mut out = Vec::new();
        for (req_id, from) in self.spawns {
            out.push((
                Dest::Pid(from),
                Signal::Message {
                    from: None,
                    message: crate::remote::reply_message(&req_id, Err(Term::atom("noconnection"))),
                },
            ));
        }
        for (local, remote) in self.links {
            out.push((
                Dest::Pid(local),
                Signal::Exit {
                    from: remote,
                    reason: Term::atom("noconnection"),
                    kind: ExitKind::Link,
                },
            ));
        }
        for (reference, watcher) in self.monitors_out {
            out.push((
                Dest::Pid(watcher),
                Signal::Down {
                    from: None,
                    reference,
                    reason: Term::atom("noconnection"),
                },
            ));
        }
        for (reference, (watcher, target)) in self.monitors_in {
            let dest = match target {
                ProcRef::Pid(p) => Dest::Pid(p),
                ProcRef::Name(n) => Dest::Name(n),
            };
            out.push((
                dest,
                Signal::Demonitor {
                    from: watcher,
                    reference,
                },
            ));
        }
        out
    }
}

pub(crate) struct Pending {
    queue: VecDeque<Out>,
    waiters: Vec<oneshot::Sender<bool>>,
    /// Cancels the attempt that owns the entry.
    owner: CancellationToken,
}

pub(crate) struct Up {
    tx: mpsc::UnboundedSender<Out>,
    pub(crate) flags: u64,
    pub(crate) hidden: bool,
    reader: AbortHandle,
    /// An incoming connection from the same node is replacing this one (`alive`).
    replacing: bool,
}

pub(crate) enum State {
    Pending(Pending),
    Up(Up),
}

pub(crate) struct Entry {
    /// The attempt (or connection) that owns the entry.
    pub(crate) id: u64,
    pub(crate) state: State,
    /// Processes that called `monitor_node(Node, true)`, once per call.
    node_monitors: Vec<Pid>,
    track: Track,
    /// The output buffer: signals queued for the node, pending or up.
    pub(crate) flow: Arc<Flow>,
}

/// What a connection attempt learns about its entry.
pub(crate) enum Outcome {
    Up,
    Superseded,
}

/// The state shared by a distributed node's tasks.
pub(crate) struct Inner {
    pub(crate) node: Node,
    pub(crate) name: Atom,
    pub(crate) kind: NameKind,
    pub(crate) cfg: DistConfig,
    /// The flags advertised (with `PUBLISHED` for a visible node).
    pub(crate) flags: u64,
    pub(crate) cookie: RwLock<Cookie>,
    pub(crate) listen_port: u16,
    pub(crate) conns: Mutex<HashMap<Atom, Entry>>,
    nodes_monitors: Mutex<Vec<(Pid, MonitorNodesOptions)>>,
    next_id: AtomicU64,
    pub(crate) shut: AtomicBool,
    pub(crate) background: Mutex<Vec<AbortHandle>>,
    pub(crate) keep: Mutex<Vec<Box<dyn std::any::Any + Send>>>,
}

impl Inner {
    pub(crate) fn new(
        node: Node,
        kind: NameKind,
        cfg: DistConfig,
        cookie: Cookie,
        listen_port: u16,
    ) -> Inner {
        let mut flags = cfg.flags;
        if cfg.hidden {
            flags &= !ferrobeam_proto::flags::PUBLISHED;
        } else {
            flags |= ferrobeam_proto::flags::PUBLISHED;
        }
        Inner {
            name: node.name().clone(),
            node,
            kind,
            cfg,
            flags,
            cookie: RwLock::new(cookie),
            listen_port,
            conns: Mutex::new(HashMap::new()),
            nodes_monitors: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            shut: AtomicBool::new(false),
            background: Mutex::new(Vec::new()),
            keep: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn domain(&self) -> NameDomain {
        match self.kind {
            NameKind::Short => NameDomain::Short,
            NameKind::Long => NameDomain::Long,
        }
    }

    pub(crate) fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Checks that `node` is a name this node could connect to.
    pub(crate) fn check_peer_name(&self, node: &str) -> Result<(), String> {
        match ferrobeam_proto::handshake::split_node_name(node) {
            None => Err(format!("{node:?} is not a node name (name@host)")),
            Some((_, host)) if !self.domain().allows_host(host) => Err(format!(
                "{node} does not use {} like this node",
                self.domain()
            )),
            Some(_) => Ok(()),
        }
    }

    // ----- connecting ---------------------------------------------------------------

    /// Makes sure a connection to `node` is up or being set up; returns a receiver that
    /// tells whether it came up, or `None` if it is up already.
    pub(crate) fn ensure_connection(
        self: &Arc<Self>,
        node: &Atom,
    ) -> Result<Option<oneshot::Receiver<bool>>, String> {
        if self.shut.load(Ordering::Relaxed) {
            return Err("the node is shut down".into());
        }
        self.check_peer_name(node.as_str())?;
        let mut conns = lock(&self.conns);
        let (tx, rx) = oneshot::channel();
        match conns.get_mut(node) {
            Some(Entry {
                state: State::Up(_),
                ..
            }) => return Ok(None),
            Some(Entry {
                state: State::Pending(p),
                ..
            }) => p.waiters.push(tx),
            None => {
                let e = self.start_dial(node);
                if let State::Pending(p) = &mut conns.entry(node.clone()).or_insert(e).state {
                    p.waiters.push(tx);
                }
            }
        }
        Ok(Some(rx))
    }

    /// A new pending entry owned by a dialer that this starts.
    fn start_dial(self: &Arc<Self>, node: &Atom) -> Entry {
        let id = self.new_id();
        let token = CancellationToken::new();
        let inner = self.clone();
        let peer = node.clone();
        let t = token.clone();
        self.node.handle().spawn(async move {
            connection::dial(inner, peer, id, t).await;
        });
        self.new_entry(id, token)
    }

    /// A pending entry owned by the attempt `id`.
    fn new_entry(&self, id: u64, owner: CancellationToken) -> Entry {
        Entry {
            id,
            state: State::Pending(Pending {
                queue: VecDeque::new(),
                waiters: Vec::new(),
                owner,
            }),
            node_monitors: Vec::new(),
            track: Track::default(),
            flow: Flow::new(self.cfg.busy_limit),
        }
    }

    /// Explicit connect: true once the connection is up.
    pub(crate) async fn connect(self: &Arc<Self>, node: &Atom) -> bool {
        if *node == self.name {
            return true;
        }
        match self.ensure_connection(node) {
            Ok(None) => true,
            Ok(Some(rx)) => rx.await.unwrap_or(false),
            Err(e) => {
                debug!(%node, "cannot connect: {e}");
                false
            }
        }
    }

    /// A connection attempt failed: if it still owns its entry, the entry goes.
    pub(crate) fn attempt_failed(&self, node: &Atom, id: u64) {
        let removed = {
            let mut conns = lock(&self.conns);
            match conns.get(node) {
                Some(e) if e.id == id && matches!(e.state, State::Pending(_)) => conns.remove(node),
                _ => None,
            }
        };
        if let Some(e) = removed {
            self.entry_gone(node, e, "connection_setup_failed", false);
        }
    }

    /// Dialer: the peer said `alive`; true if this attempt still owns the entry.
    pub(crate) fn owns_pending(&self, node: &Atom, id: u64) -> bool {
        matches!(lock(&self.conns).get(node), Some(e) if e.id == id && matches!(e.state, State::Pending(_)))
    }

    /// Acceptor: the status for a node that is connecting to us, as `net_kernel`
    /// decides it, registering this attempt as the owner when it goes on.
    pub(crate) fn accept_pending(
        &self,
        peer: &Atom,
        id: u64,
        token: &CancellationToken,
    ) -> AcceptStatus {
        if self.shut.load(Ordering::Relaxed) || *peer == self.name {
            return AcceptStatus::NotAllowed;
        }
        let mut conns = lock(&self.conns);
        match conns.get_mut(peer) {
            None => {
                conns.insert(peer.clone(), self.new_entry(id, token.clone()));
                AcceptStatus::Ok
            }
            Some(e) => match &mut e.state {
                State::Pending(p) => {
                    if self.name > *peer {
                        AcceptStatus::Nok
                    } else {
                        // Our own attempt gives way: this connection takes over.
                        p.owner.cancel();
                        p.owner = token.clone();
                        e.id = id;
                        AcceptStatus::OkSimultaneous
                    }
                }
                State::Up(u) if !u.replacing => {
                    u.replacing = true;
                    AcceptStatus::Alive
                }
                State::Up(_) => AcceptStatus::AlreadyPending,
            },
        }
    }

    /// Acceptor: an `alive` exchange ended without replacing the connection.
    pub(crate) fn replace_abandoned(&self, peer: &Atom) {
        if let Some(Entry {
            state: State::Up(u),
            ..
        }) = lock(&self.conns).get_mut(peer)
        {
            u.replacing = false;
        }
    }

    /// Acceptor: the peer confirmed it replaces its old connection. The old one is
    /// closed and this attempt owns a new pending entry.
    pub(crate) fn replace_connection(&self, peer: &Atom, id: u64, token: &CancellationToken) {
        let old = lock(&self.conns).remove(peer);
        if let Some(old) = old {
            self.entry_gone(peer, old, "connection_closed", true);
        }
        let e = self.new_entry(id, token.clone());
        lock(&self.conns).insert(peer.clone(), e);
    }

    /// A handshake completed: the connection goes up if the attempt still owns the
    /// entry. `start` spawns the reader and writer and returns the reader's abort
    /// handle.
    pub(crate) fn connection_up(
        self: &Arc<Self>,
        peer: &Atom,
        id: u64,
        flags: u64,
        hidden: bool,
        start: impl FnOnce(mpsc::UnboundedReceiver<Out>, Arc<Flow>) -> AbortHandle,
    ) -> Outcome {
        let waiters = {
            let mut conns = lock(&self.conns);
            let Some(e) = conns.get_mut(peer) else {
                return Outcome::Superseded;
            };
            if e.id != id || !matches!(e.state, State::Pending(_)) {
                return Outcome::Superseded;
            }
            let (tx, rx) = mpsc::unbounded_channel();
            let reader = start(rx, e.flow.clone());
            let State::Pending(p) = std::mem::replace(
                &mut e.state,
                State::Up(Up {
                    tx: tx.clone(),
                    flags,
                    hidden,
                    reader,
                    replacing: false,
                }),
            ) else {
                return Outcome::Superseded;
            };
            // Already counted in the flow.
            for out in p.queue {
                let _ = tx.send(out);
            }
            if !hidden && !self.cfg.hidden {
                // The mesh: tell the peer which visible nodes we know. Sent on this
                // connection, so that it never opens a new one.
                let visible: Vec<Term> = conns
                    .iter()
                    .filter(|(n, e)| *n != peer && matches!(&e.state, State::Up(u) if !u.hidden))
                    .map(|(n, _)| Term::Atom(n.clone()))
                    .collect();
                let msg = Term::tuple(vec![
                    Term::atom(MESH),
                    Term::atom("nodes"),
                    Term::Atom(self.name.clone()),
                    Term::List(visible),
                ]);
                let _ = tx.send(Out::Signal(
                    Dest::Remote(Atom::new(MESH), peer.clone()),
                    Signal::Message {
                        from: None,
                        message: msg,
                    },
                    0,
                ));
            }
            // Under the lock, so that a nodedown cannot overtake this nodeup.
            info!(node = %self.name, %peer, hidden, "connection up");
            self.notify_nodes_monitors(peer, hidden, None);
            p.waiters
        };
        for w in waiters {
            let _ = w.send(true);
        }
        Outcome::Up
    }

    // ----- going down ---------------------------------------------------------------

    /// The connection `id` to `node` ended with `reason` (a nodedown reason).
    pub(crate) fn connection_down(&self, node: &Atom, id: u64, reason: &str) {
        let removed = {
            let mut conns = lock(&self.conns);
            match conns.get(node) {
                Some(e) if e.id == id && matches!(e.state, State::Up(_)) => conns.remove(node),
                _ => None,
            }
        };
        if let Some(e) = removed {
            self.entry_gone(node, e, reason, true);
        }
    }

    /// Closes the connection to `node` (`disconnect_node`). False if there was none.
    pub(crate) fn disconnect(&self, node: &Atom) -> bool {
        let removed = {
            let mut conns = lock(&self.conns);
            match conns.get(node) {
                Some(e) if matches!(e.state, State::Up(_)) => conns.remove(node),
                _ => None,
            }
        };
        match removed {
            Some(e) => {
                info!(node = %self.name, peer = %node, "disconnecting");
                self.entry_gone(node, e, "disconnect", true);
                true
            }
            None => false,
        }
    }

    /// An entry has been removed from the table: close what it holds and tell
    /// everyone who needs to know.
    fn entry_gone(&self, node: &Atom, e: Entry, reason: &str, log: bool) {
        e.flow.close();
        let was_up = match e.state {
            State::Up(u) => {
                u.reader.abort();
                let _ = u.tx.send(Out::Close);
                if log {
                    info!(node = %self.name, peer = %node, reason, "connection down");
                }
                Some(u.hidden)
            }
            State::Pending(p) => {
                p.owner.cancel();
                if !p.queue.is_empty() {
                    debug!(peer = %node, dropped = p.queue.len(), "connection failed; queued signals dropped");
                }
                for w in p.waiters {
                    let _ = w.send(false);
                }
                None
            }
        };
        for (dest, signal) in e.track.lost() {
            self.node.deliver(dest, signal);
        }
        let down = Term::tuple(vec![Term::atom("nodedown"), Term::Atom(node.clone())]);
        for pid in e.node_monitors {
            let _ = self.node.send(Dest::Pid(pid), down.clone());
        }
        if let Some(hidden) = was_up {
            self.notify_nodes_monitors(node, hidden, Some(reason));
        }
    }

    /// Sends nodeup (`reason` None) or nodedown messages to the `monitor_nodes`
    /// subscribers.
    fn notify_nodes_monitors(&self, node: &Atom, hidden: bool, reason: Option<&str>) {
        let subs: Vec<(Pid, MonitorNodesOptions)> = {
            let mut s = lock(&self.nodes_monitors);
            s.retain(|(p, _)| self.node.is_alive(p));
            s.clone()
        };
        for (pid, opts) in subs {
            let wanted = match opts.node_type {
                None | Some(NodeTypeFilter::Visible) => !hidden,
                Some(NodeTypeFilter::Hidden) => hidden,
                Some(NodeTypeFilter::All) => true,
            };
            if !wanted {
                continue;
            }
            let tag = Term::atom(if reason.is_some() {
                "nodedown"
            } else {
                "nodeup"
            });
            let msg = if opts.is_plain() {
                Term::tuple(vec![tag, Term::Atom(node.clone())])
            } else {
                let mut info = Vec::new();
                if let (Some(r), true) = (reason, opts.nodedown_reason) {
                    info.push(Term::tuple(vec![
                        Term::atom("nodedown_reason"),
                        Term::atom(r),
                    ]));
                }
                if opts.node_type.is_some() {
                    info.push(Term::tuple(vec![
                        Term::atom("node_type"),
                        Term::atom(if hidden { "hidden" } else { "visible" }),
                    ]));
                }
                Term::tuple(vec![tag, Term::Atom(node.clone()), Term::List(info)])
            };
            let _ = self.node.send(Dest::Pid(pid), msg);
        }
    }

    // ----- monitors of nodes --------------------------------------------------------

    pub(crate) fn monitor_nodes(&self, pid: &Pid, flag: bool, opts: MonitorNodesOptions) {
        let mut s = lock(&self.nodes_monitors);
        if flag {
            s.push((pid.clone(), opts));
        } else if let Some(i) = s.iter().position(|(p, o)| p == pid && *o == opts) {
            s.remove(i);
        }
    }

    /// `monitor_node(Node, Flag)` for the local process `pid`.
    pub(crate) fn monitor_node(self: &Arc<Self>, pid: &Pid, node: &Atom, flag: bool) {
        if *node == self.name {
            return;
        }
        if !flag {
            if let Some(e) = lock(&self.conns).get_mut(node) {
                if let Some(i) = e.node_monitors.iter().position(|p| p == pid) {
                    e.node_monitors.remove(i);
                }
            }
            return;
        }
        let down = Term::tuple(vec![Term::atom("nodedown"), Term::Atom(node.clone())]);
        if self.ensure_connection(node).is_err() {
            let _ = self.node.send(Dest::Pid(pid.clone()), down);
            return;
        }
        match lock(&self.conns).get_mut(node) {
            Some(e) => e.node_monitors.push(pid.clone()),
            None => {
                let _ = self.node.send(Dest::Pid(pid.clone()), down);
            }
        }
    }

    // ----- queries ------------------------------------------------------------------

    pub(crate) fn nodes(&self, kinds: &[NodeKind]) -> Vec<Atom> {
        let want = |hidden: bool| {
            kinds.iter().any(|k| match k {
                NodeKind::Visible => !hidden,
                NodeKind::Hidden => hidden,
                NodeKind::Connected => true,
                NodeKind::This => false,
            })
        };
        let mut v: Vec<Atom> = lock(&self.conns)
            .iter()
            .filter(|(_, e)| matches!(&e.state, State::Up(u) if want(u.hidden)))
            .map(|(n, _)| n.clone())
            .collect();
        v.sort();
        if kinds.contains(&NodeKind::This) {
            v.insert(0, self.name.clone());
        }
        v
    }

    pub(crate) fn is_busy(&self, node: &Atom) -> bool {
        match lock(&self.conns).get(node) {
            Some(Entry {
                state: State::Pending(p),
                ..
            }) if p.queue.len() >= self.cfg.max_pending_signals => true,
            Some(e) => e.flow.is_busy(),
            None => false,
        }
    }

    /// The output buffer of the connection to `node`, if there is one.
    pub(crate) fn flow(&self, node: &Atom) -> Option<Arc<Flow>> {
        lock(&self.conns).get(node).map(|e| e.flow.clone())
    }

    // ----- from the reader ----------------------------------------------------------

    /// Records the links and monitors a control message read from `node` creates or
    /// removes. `None` if the connection is no longer the current one; `Some(false)` if
    /// the message must be ignored (see [`Track::incoming`]).
    pub(crate) fn track_incoming(
        &self,
        node: &Atom,
        id: u64,
        msg: &ControlMessage,
    ) -> Option<bool> {
        match lock(&self.conns).get_mut(node) {
            Some(e) if e.id == id => Some(e.track.incoming(msg)),
            _ => None,
        }
    }

    /// Queues a control message (an answer from the reader) on connection `id`.
    pub(crate) fn send_control(&self, node: &Atom, id: u64, msg: ControlMessage) {
        if let Some(Entry {
            id: eid,
            state: State::Up(u),
            ..
        }) = lock(&self.conns).get(node)
        {
            if *eid == id {
                let _ = u.tx.send(Out::Ctl(msg, 0));
            }
        }
    }

    /// Drops the record of a monitor the peer asked for on connection `id` (one that
    /// was answered at once).
    pub(crate) fn forget_monitor_in(&self, node: &Atom, id: u64, reference: &Ref) {
        if let Some(e) = lock(&self.conns).get_mut(node) {
            if e.id == id {
                e.track.monitors_in.remove(reference);
            }
        }
    }

    /// Shuts every connection down.
    pub(crate) fn close_all(&self) {
        let all: Vec<(Atom, Entry)> = lock(&self.conns).drain().collect();
        for (node, e) in all {
            self.entry_gone(&node, e, "net_kernel_terminated", true);
        }
    }
}

/// The router installed in the node: signals from local processes to other nodes.
pub(crate) struct Router {
    pub(crate) inner: Weak<Inner>,
}

impl RemoteRouter for Router {
    fn route(&self, node: &Atom, to: Dest, signal: Signal) {
        if let Some(inner) = self.inner.upgrade() {
            inner.route(node, to, signal);
        }
    }

    fn request(&self, node: &Atom, request: DistRequest) {
        match self.inner.upgrade() {
            Some(inner) => inner.request(node, request),
            None => {
                if let DistRequest::Spawn(s) = request {
                    // The node is gone; nobody will answer.
                    let _ = s;
                }
            }
        }
    }
}

impl Inner {
    /// Routes a signal from a local process to `node`, connecting on demand. When the
    /// node's output buffer is over its limit, the sending process is suspended at its
    /// next await point until it drains (see [`crate::suspend`]).
    pub(crate) fn route(self: &Arc<Self>, node: &Atom, to: Dest, signal: Signal) {
        let mut conns = lock(&self.conns);
        if !conns.contains_key(node) {
            let connects = matches!(
                signal,
                Signal::Message { .. }
                    | Signal::AliasMessage { .. }
                    | Signal::Link { .. }
                    | Signal::Monitor { .. }
            );
            if !connects {
                debug!(peer = %node, ?to, "not connected; signal dropped");
                return;
            }
            let refused = if self.shut.load(Ordering::Relaxed) {
                Some("the node is shut down".to_string())
            } else {
                self.check_peer_name(node.as_str()).err()
            };
            if let Some(e) = refused {
                drop(conns);
                debug!(peer = %node, "cannot connect: {e}");
                self.no_connection(to, signal);
                return;
            }
            let e = self.start_dial(node);
            conns.insert(node.clone(), e);
        }
        let Some(e) = conns.get_mut(node) else {
            return;
        };
        e.track.outgoing(&to, &signal);
        let out = match signal {
            Signal::Down {
                from,
                reference,
                reason,
            } => {
                // Only over a connection that is up: a pending one carries no monitor
                // of the peer's.
                let State::Up(u) = &e.state else { return };
                let Dest::Pid(watcher) = to else { return };
                let target = e.track.monitors_in.remove(&reference);
                let from = match (target, from) {
                    (Some((_, t)), _) => t,
                    (None, Some(p)) => ProcRef::Pid(p),
                    (None, None) => return,
                };
                let est = wire::estimate_term(&reason);
                match wire::monitor_exit(from, watcher, reference, reason, u.flags) {
                    Some(c) => Out::Ctl(c, est),
                    None => return,
                }
            }
            Signal::Unlink { from } => {
                let Dest::Pid(remote) = to else { return };
                let id = e.track.start_unlink(&from, &remote);
                Out::Ctl(
                    ControlMessage::UnlinkId {
                        id,
                        from,
                        to: remote,
                    },
                    64,
                )
            }
            signal => {
                let est = wire::estimate(&signal);
                Out::Signal(to, signal, est)
            }
        };
        let est = out.estimate();
        match &mut e.state {
            State::Up(u) => {
                e.flow.add(est);
                let _ = u.tx.send(out);
            }
            State::Pending(p) => {
                if p.queue.len() < self.cfg.max_pending_signals {
                    e.flow.add(est);
                    p.queue.push_back(out);
                } else {
                    warn!(peer = %node, "too many signals queued for a connection being set up; signal dropped");
                    let Out::Signal(to, signal, _) = out else {
                        return;
                    };
                    match &signal {
                        Signal::Link { from } => {
                            if let Dest::Pid(r) = &to {
                                e.track.links.remove(&(from.clone(), r.clone()));
                            }
                        }
                        Signal::Monitor { reference, .. } => {
                            e.track.monitors_out.remove(reference);
                        }
                        _ => return,
                    }
                    drop(conns);
                    self.no_connection(to, signal);
                    return;
                }
            }
        }
        if e.flow.is_busy() {
            let flow = e.flow.clone();
            drop(conns);
            crate::suspend::request(flow);
        }
    }

    /// Sends a request that is not a process signal (a remote spawn, a group leader
    /// change) to `node`, connecting on demand. A spawn that cannot be sent is
    /// answered with `noconnection` (`badarg` for more than 255 arguments).
    pub(crate) fn request(self: &Arc<Self>, node: &Atom, request: DistRequest) {
        let fail = |request: DistRequest, why: &str| {
            if let DistRequest::Spawn(s) = request {
                let _ = self.node.send(
                    &s.from,
                    crate::remote::reply_message(&s.req_id, Err(Term::atom(why))),
                );
            }
        };
        let (msg, spawn) = match &request {
            DistRequest::Spawn(s) => {
                let Ok(arity) = u8::try_from(s.args.len()) else {
                    return fail(request, "badarg");
                };
                let mut opts = Vec::new();
                if s.link {
                    opts.push(Term::atom("link"));
                }
                if s.monitor {
                    opts.push(Term::atom("monitor"));
                }
                (
                    ControlMessage::SpawnRequest {
                        req_id: s.req_id.clone(),
                        from: s.from.clone(),
                        group_leader: s.group_leader.clone(),
                        module: s.module.clone(),
                        function: s.function.clone(),
                        arity,
                        opts,
                        args: s.args.clone(),
                    },
                    Some((s.req_id.clone(), s.from.clone())),
                )
            }
            DistRequest::GroupLeader { group_leader, pid } => (
                ControlMessage::GroupLeader {
                    from: group_leader.clone(),
                    to: pid.clone(),
                },
                None,
            ),
        };
        let est = 64
            + match &msg {
                ControlMessage::SpawnRequest { args, .. } => {
                    args.iter().map(wire::estimate_term).sum::<usize>()
                }
                _ => 0,
            };
        let mut conns = lock(&self.conns);
        if !conns.contains_key(node) {
            let refused = if self.shut.load(Ordering::Relaxed) {
                Some("the node is shut down".to_string())
            } else {
                self.check_peer_name(node.as_str()).err()
            };
            if let Some(e) = refused {
                drop(conns);
                debug!(peer = %node, "cannot connect: {e}");
                return fail(request, "noconnection");
            }
            let e = self.start_dial(node);
            conns.insert(node.clone(), e);
        }
        let Some(e) = conns.get_mut(node) else {
            return;
        };
        let out = Out::Ctl(msg, est);
        match &mut e.state {
            State::Up(u) => {
                e.flow.add(est);
                let _ = u.tx.send(out);
            }
            State::Pending(p) => {
                if p.queue.len() >= self.cfg.max_pending_signals {
                    drop(conns);
                    warn!(peer = %node, "too many signals queued for a connection being set up; request dropped");
                    return fail(request, "noconnection");
                }
                e.flow.add(est);
                p.queue.push_back(out);
            }
        }
        if let Some((req_id, from)) = spawn {
            e.track.spawns.insert(req_id, from);
        }
        if e.flow.is_busy() {
            let flow = e.flow.clone();
            drop(conns);
            crate::suspend::request(flow);
        }
    }

    /// A process was spawned for `parent` (of `peer`) by a spawn request on connection
    /// `conn`, linked and/or monitored by it: the connection keeps track of both.
    pub(crate) fn spawned(
        &self,
        peer: &Atom,
        conn: u64,
        child: &Pid,
        parent: &Pid,
        link: bool,
        monitor: Option<&Ref>,
    ) {
        if let Some(e) = lock(&self.conns).get_mut(peer) {
            if e.id != conn {
                return;
            }
            if link {
                e.track.links.insert((child.clone(), parent.clone()));
            }
            if let Some(r) = monitor {
                e.track
                    .monitors_in
                    .insert(r.clone(), (parent.clone(), ProcRef::Pid(child.clone())));
            }
        }
    }

    /// A link or monitor towards a node that cannot be reached: `noconnection`.
    fn no_connection(&self, to: Dest, signal: Signal) {
        {
            // Links and monitors to a node that cannot be reached: noconnection.
            match (signal, to) {
                (Signal::Link { from }, Dest::Pid(r)) => self.node.deliver(
                    Dest::Pid(from),
                    Signal::Exit {
                        from: r,
                        reason: Term::atom("noconnection"),
                        kind: ExitKind::Link,
                    },
                ),
                (Signal::Monitor { from, reference }, _) => self.node.deliver(
                    Dest::Pid(from),
                    Signal::Down {
                        from: None,
                        reference,
                        reason: Term::atom("noconnection"),
                    },
                ),
                _ => {}
            }
        }
    }
}
