//! The node: process table, name registry, spawn, send, timers, and the hook for the
//! distribution layer.

use crate::ctx::Ctx;
use crate::error::{RegisterError, SendError, SpawnError};
use crate::process::{Proc, ProcRef, ProcessTask};
use crate::reason::{self, FnResult, IntoExitReason};
use crate::signal::{Ctl, Dest, Sig, Signal, Watcher};
use crate::table::{FxHashMap, ProcTable, ShardedMap, MAX_PROCESSES};
use ferrobeam_term::{Atom, Pid, Ref, Term};
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use tokio::time::Instant;

const SHARDS: usize = 64;

/// Carries signals from local processes to processes on other nodes.
///
/// The distribution layer installs one with [`Node::set_router`]. A signal to a pid,
/// name or alias of another node goes to [`RemoteRouter::route`]; with no router such
/// signals are dropped, as a send to an unreachable node is in Erlang.
pub trait RemoteRouter: Send + Sync + 'static {
    /// Sends `signal` to `to` on `node` (never this node).
    fn route(&self, node: &Atom, to: Dest, signal: Signal);

    /// Sends a request that is not a signal between two processes (a remote spawn, a
    /// group leader change) to `node`. A router must answer a spawn request, with a
    /// `{spawn_reply, ReqId, error, noconnection}` message at least; the default drops
    /// the request, for routers that carry no spawns.
    fn request(&self, node: &Atom, request: crate::remote::DistRequest) {
        let _ = (node, request);
    }
}

/// A function that can be spawned by `{Module, Function}` name.
pub(crate) type SpawnFn = Arc<
    dyn Fn(Ctx, Vec<Term>) -> Pin<Box<dyn Future<Output = Result<Term, Term>> + Send>>
        + Send
        + Sync,
>;

struct TimerEntry {
    deadline: Instant,
    abort: Option<AbortHandle>,
}

struct NodeInner {
    name: Atom,
    creation: u32,
    /// The runtime has several worker threads: a receive may busy-wait briefly.
    spins: bool,
    handle: tokio::runtime::Handle,
    table: ProcTable<ProcRef>,
    registry: ShardedMap<Atom, ProcRef>,
    next_ref: AtomicU64,
    router: RwLock<Option<Arc<dyn RemoteRouter>>>,
    functions: RwLock<FxHashMap<(Atom, Atom), SpawnFn>>,
    timers: ShardedMap<Ref, TimerEntry>,
    stash: ShardedMap<Ref, std::sync::Mutex<Box<dyn Any + Send>>>,
}

/// A node: the process table, the registry of names, the spawnable functions and the
/// timers of one Erlang node. Cheap to clone (an `Arc` inside).
///
/// Several nodes can live in one OS process; nothing is global. A node spawns its
/// processes as Tokio tasks on the runtime it was created in.
///
/// ```
/// use ferrobeam::{Node, Term};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let node = Node::new();
/// assert_eq!(node.name(), "nonode@nohost");
/// let echo = node.spawn(|ctx| async move {
///     let msg = ctx.receive().await;
///     let from = msg.as_tuple().unwrap()[0].as_pid().unwrap().clone();
///     ctx.send(&from, msg.as_tuple().unwrap()[1].clone()).unwrap();
/// });
/// let reply = node
///     .run(move |ctx| async move {
///         let me = Term::Pid(ctx.self_pid().clone());
///         ctx.send(&echo, Term::tuple(vec![me, Term::atom("hello")])).unwrap();
///         ctx.receive().await
///     })
///     .await
///     .unwrap();
/// assert_eq!(reply, Term::atom("hello"));
/// # }
/// ```
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Node({}/{})", self.inner.name, self.inner.creation)
    }
}

/// Options for a new [`Node`].
#[derive(Clone, Debug)]
pub struct NodeBuilder {
    name: Atom,
    creation: u32,
    handle: Option<tokio::runtime::Handle>,
}

impl Default for NodeBuilder {
    fn default() -> Self {
        NodeBuilder {
            name: Atom::new("nonode@nohost"),
            creation: 0,
            handle: None,
        }
    }
}

impl NodeBuilder {
    /// The node name, `name@host` (default `nonode@nohost`).
    pub fn name(mut self, name: impl Into<Atom>) -> Self {
        self.name = name.into();
        self
    }

    /// The creation (incarnation) number, as EPMD assigns it (default 0).
    pub fn creation(mut self, creation: u32) -> Self {
        self.creation = creation;
        self
    }

    /// The Tokio runtime to run processes on (default: the current one).
    pub fn handle(mut self, handle: tokio::runtime::Handle) -> Self {
        self.handle = Some(handle);
        self
    }

    /// Creates the node.
    ///
    /// # Panics
    /// Without [`NodeBuilder::handle`], outside a Tokio runtime.
    pub fn build(self) -> Node {
        let handle = self.handle.unwrap_or_else(tokio::runtime::Handle::current);
        let spins = handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
            && handle.metrics().num_workers() > 1;
        Node {
            inner: Arc::new(NodeInner {
                name: self.name,
                creation: self.creation,
                spins,
                handle,
                table: ProcTable::new(),
                registry: ShardedMap::new(SHARDS),
                next_ref: AtomicU64::new(1),
                router: RwLock::new(None),
                functions: RwLock::new(FxHashMap::default()),
                timers: ShardedMap::new(SHARDS),
                stash: ShardedMap::new(16),
            }),
        }
    }
}

/// How a new process starts out: linked to or monitored by someone.
#[derive(Default)]
pub(crate) struct Setup {
    pub(crate) link: Option<Pid>,
    pub(crate) monitor: Option<(Ref, Watcher)>,
    /// The group leader, inherited from the spawning process or given by a remote
    /// spawn request.
    pub(crate) group_leader: Option<Pid>,
}

impl Node {
    /// A node named `nonode@nohost` with creation 0, on the current Tokio runtime.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn new() -> Node {
        NodeBuilder::default().build()
    }

    /// Options for a node with a name or another runtime.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    /// The node name.
    pub fn name(&self) -> &Atom {
        &self.inner.name
    }

    /// The creation (incarnation) number.
    pub fn creation(&self) -> u32 {
        self.inner.creation
    }

    /// The Tokio runtime the processes run on.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.inner.handle
    }

    /// True if a receive may busy-wait briefly (several worker threads).
    #[inline]
    pub(crate) fn spins(&self) -> bool {
        self.inner.spins
    }

    /// True if both handles are the same node.
    pub fn same_node(&self, other: &Node) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The pid `<0.0.0>` of this node, which is not a process: it is the sender of exit
    /// signals sent with [`Node::exit`] from outside any process.
    pub fn system_pid(&self) -> Pid {
        Pid::new(self.inner.name.clone(), 0, 0, self.inner.creation)
    }

    /// Installs the router for signals to other nodes (see [`RemoteRouter`]).
    pub fn set_router(&self, router: Arc<dyn RemoteRouter>) {
        *self.inner.router.write().unwrap_or_else(|p| p.into_inner()) = Some(router);
    }

    /// The router for signals to other nodes, if one is installed.
    pub(crate) fn router(&self) -> Option<Arc<dyn RemoteRouter>> {
        self.inner
            .router
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Removes the router: signals to other nodes are dropped again.
    pub fn clear_router(&self) {
        *self.inner.router.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    // ----- pids, refs ---------------------------------------------------------------

    /// The table slot and serial of a pid of this node, if it is one.
    #[inline]
    pub(crate) fn key_of(&self, pid: &Pid) -> Option<(u32, u32)> {
        if pid.id < MAX_PROCESSES
            && pid.creation == self.inner.creation
            && pid.node == self.inner.name
        {
            Some((pid.id, pid.serial))
        } else {
            None
        }
    }

    /// True if the pid names a process of this node (alive or not).
    pub fn is_local(&self, pid: &Pid) -> bool {
        pid.node == self.inner.name
    }

    /// A new unique reference, like `make_ref()`.
    pub fn make_ref(&self) -> Ref {
        let n = self.inner.next_ref.fetch_add(1, Ordering::Relaxed);
        let words = [(n & 0x3_ffff) as u32, (n >> 18) as u32, (n >> 50) as u32];
        Ref::new(self.inner.name.clone(), self.inner.creation, &words).expect("3 words")
    }

    /// A reference that also names the process `pid`: used for aliases, so a message to
    /// the alias finds its process without a global table. It has five words, the last
    /// two being the pid's number.
    pub(crate) fn make_pid_ref(&self, pid: &Pid) -> Ref {
        let n = self.inner.next_ref.fetch_add(1, Ordering::Relaxed);
        let words = [
            (n & 0x3_ffff) as u32,
            (n >> 18) as u32,
            (n >> 50) as u32,
            pid.id,
            pid.serial,
        ];
        Ref::new(self.inner.name.clone(), self.inner.creation, &words).expect("5 words")
    }

    fn alias_key(&self, r: &Ref) -> Option<(u32, u32)> {
        let w = r.ids();
        if w.len() != 5
            || w[3] >= MAX_PROCESSES
            || r.creation != self.inner.creation
            || r.node != self.inner.name
        {
            return None;
        }
        Some((w[3], w[4]))
    }

    // ----- spawning -----------------------------------------------------------------

    /// Spawns a process running `f`. The process ends with reason `normal` when the
    /// future returns `()` or `Ok(())`, with `e` when it returns `Err(e)`, and with
    /// `{panic, Message}` when it panics (see [`IntoExitReason`]).
    pub fn spawn<F, Fut>(&self, f: F) -> Pid
    where
        F: FnOnce(Ctx) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        self.spawn_setup(f, Setup::default(), |_| {})
    }

    /// Spawns with a link or monitor already in place. `before` runs with the new pid
    /// before the process can run.
    pub(crate) fn spawn_setup<F, Fut>(&self, f: F, setup: Setup, before: impl FnOnce(&Pid)) -> Pid
    where
        F: FnOnce(Ctx) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        let mut task = None;
        let proc = self
            .inner
            .table
            .alloc_insert(|index, serial| {
                let pid = Pid::new(self.inner.name.clone(), index, serial, self.inner.creation);
                let (t, handle) = ProcessTask::new(Proc::new(pid, self.clone()), f);
                task = Some(t);
                handle
            })
            .expect("the process table is full (system_limit)");
        let pid = proc.pid.clone();
        if setup.link.is_some() || setup.monitor.is_some() || setup.group_leader.is_some() {
            let mut local = proc.local.lock();
            let ext = local.ext();
            if let Some(l) = setup.link {
                ext.links.insert(l);
            }
            if let Some((r, w)) = setup.monitor {
                ext.monitors_in.insert(r, w);
            }
            if let Some(gl) = setup.group_leader {
                ext.group_leader = Some(gl);
                proc.has_group_leader
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        before(&pid);
        if let Some(task) = task {
            self.inner.handle.spawn(task);
        }
        pid
    }

    /// Registers a function by `{Module, Function}` name, taking its arguments as a list
    /// of terms. It can then be spawned ([`Node::spawn_mfa`]) or applied
    /// ([`Ctx::apply`]) by name: this is how other nodes start processes and run
    /// calls here, since closures cannot cross nodes.
    ///
    /// The function returns a value or an exit reason (see [`FnResult`]): `()`
    /// (`ok`), a `Term`, or a `Result`. A spawned function's value is discarded and the
    /// process exits `normal`; an `Err(reason)` exits with `reason`.
    ///
    /// ```
    /// use ferrobeam::{Node, Term};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let node = Node::new();
    /// node.register_fn("demo", "echo", |ctx, args| async move {
    ///     let to = args[0].as_pid().unwrap().clone();
    ///     ctx.send(&to, args[1].clone()).unwrap();
    /// });
    /// let got = node.run(|ctx| async move {
    ///     let me = Term::Pid(ctx.self_pid().clone());
    ///     ctx.node().spawn_mfa("demo", "echo", vec![me, Term::atom("hi")]).unwrap();
    ///     ctx.receive().await
    /// }).await.unwrap();
    /// assert_eq!(got, Term::atom("hi"));
    /// assert!(node.spawn_mfa("demo", "nope", vec![]).is_err());
    /// # }
    /// ```
    pub fn register_fn<F, Fut>(&self, module: impl Into<Atom>, function: impl Into<Atom>, f: F)
    where
        F: Fn(Ctx, Vec<Term>) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: FnResult,
    {
        let f: SpawnFn = Arc::new(move |ctx, args| {
            let fut = f(ctx, args);
            Box::pin(async move { fut.await.into_fn_result() })
        });
        self.inner
            .functions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((module.into(), function.into()), f);
    }

    /// True if `{Module, Function}` is registered.
    pub fn is_fn_registered(&self, module: &str, function: &str) -> bool {
        self.inner
            .functions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&(Atom::new(module), Atom::new(function)))
    }

    pub(crate) fn lookup_fn(
        &self,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    ) -> Result<(SpawnFn, Vec<Term>), SpawnError> {
        let f = self
            .inner
            .functions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(module.clone(), function.clone()))
            .cloned();
        match f {
            Some(f) => Ok((f, args)),
            None => Err(SpawnError::Undef {
                module,
                function,
                args,
            }),
        }
    }

    /// Spawns the function registered as `{Module, Function}` with `args`. Fails with
    /// [`SpawnError::Undef`] (`{undef, [{M, F, Args, []}]}`) if there is none.
    pub fn spawn_mfa(
        &self,
        module: impl Into<Atom>,
        function: impl Into<Atom>,
        args: Vec<Term>,
    ) -> Result<Pid, SpawnError> {
        self.spawn_mfa_setup(
            module.into(),
            function.into(),
            args,
            Setup::default(),
            |_| {},
        )
    }

    pub(crate) fn spawn_mfa_setup(
        &self,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
        setup: Setup,
        before: impl FnOnce(&Pid),
    ) -> Result<Pid, SpawnError> {
        let (f, args) = self.lookup_fn(module, function, args)?;
        Ok(self.spawn_setup(
            move |ctx| {
                let fut = f(ctx, args);
                async move {
                    crate::reason::ExitReason(match fut.await {
                        Ok(_) => reason::normal(),
                        Err(e) => e,
                    })
                }
            },
            setup,
            before,
        ))
    }

    /// Spawns a process from the distribution layer: the function registered as
    /// `{Module, Function}`, optionally linked to and/or monitored by `parent` (a pid of
    /// any node) with `monitor` as the reference, as `SPAWN_REQUEST` asks.
    pub fn spawn_request(
        &self,
        module: impl Into<Atom>,
        function: impl Into<Atom>,
        args: Vec<Term>,
        parent: &Pid,
        link: bool,
        monitor: Option<Ref>,
    ) -> Result<Pid, SpawnError> {
        let setup = Setup {
            link: link.then(|| parent.clone()),
            monitor: monitor.map(|r| (r, Watcher::Pid(parent.clone()))),
            group_leader: None,
        };
        self.spawn_mfa_setup(module.into(), function.into(), args, setup, |_| {})
    }

    /// Runs `f` in a new process and returns its result, or the exit reason if the
    /// process ends without producing one (it was killed, or it panicked). This is how
    /// code outside any process uses the process API.
    pub async fn run<F, Fut, R>(&self, f: F) -> Result<R, Term>
    where
        F: FnOnce(Ctx) -> Fut + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let (wtx, wrx) = oneshot::channel();
        let setup = Setup {
            monitor: Some((self.make_ref(), Watcher::External(wtx))),
            ..Setup::default()
        };
        self.spawn_setup(
            move |ctx| async move {
                let r = f(ctx).await;
                let _ = tx.send(r);
            },
            setup,
            |_| {},
        );
        match rx.await {
            Ok(r) => Ok(r),
            Err(_) => Err(wrx.await.unwrap_or_else(|_| reason::noproc())),
        }
    }

    /// Waits until the local process `pid` has exited and returns its exit reason
    /// (`noproc` at once if it is not alive). A monitor held by Rust code rather than
    /// by a process.
    pub fn wait_exit(&self, pid: &Pid) -> impl Future<Output = Term> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let reference = self.make_ref();
        if self.key_of(pid).is_some() {
            self.send_ctl(
                pid,
                Ctl::Monitor {
                    watcher: Watcher::External(tx),
                    reference,
                },
                None,
            );
        } else {
            let _ = tx.send(reason::noproc());
        }
        async move { rx.await.unwrap_or_else(|_| reason::noproc()) }
    }

    pub(crate) fn remove_proc(&self, pid: &Pid) {
        if let Some((index, serial)) = self.key_of(pid) {
            self.inner.table.remove(index, serial);
        }
    }

    /// The process `(index, serial)`, if it is in the table.
    #[inline]
    pub(crate) fn table_get(&self, index: u32, serial: u32) -> Option<ProcRef> {
        self.inner.table.get(index, serial)
    }

    pub(crate) fn lookup(&self, pid: &Pid) -> Option<ProcRef> {
        let (index, serial) = self.key_of(pid)?;
        self.inner.table.get(index, serial)
    }

    // ----- introspection ------------------------------------------------------------

    /// Number of live processes.
    pub fn process_count(&self) -> usize {
        self.inner.table.len()
    }

    /// The pids of the live processes.
    pub fn processes(&self) -> Vec<Pid> {
        let mut v = Vec::new();
        self.inner.table.for_each(|p| v.push(p.pid.clone()));
        v
    }

    /// True if `pid` is a live process of this node (`is_process_alive/1`).
    pub fn is_alive(&self, pid: &Pid) -> bool {
        self.lookup(pid).is_some_and(|p| !p.is_dead())
    }

    /// The number of messages waiting for `pid`, or `None` if it is not alive.
    pub fn message_queue_len(&self, pid: &Pid) -> Option<usize> {
        let p = self.lookup(pid)?;
        if p.is_dead() {
            return None;
        }
        Some(p.message_queue_len())
    }

    // ----- sending ------------------------------------------------------------------

    /// Sends a message from outside any process. See [`Ctx::send`] for the rules.
    pub fn send(&self, dest: impl Into<Dest>, message: impl Into<Term>) -> Result<(), SendError> {
        self.send_from(None, dest.into(), message.into())
    }

    pub(crate) fn send_from(
        &self,
        from: Option<&Pid>,
        dest: Dest,
        message: Term,
    ) -> Result<(), SendError> {
        match dest {
            Dest::Pid(pid) => {
                self.send_pid(from, &pid, message);
                Ok(())
            }
            Dest::Name(name) => match self.push_name(&name, Sig::Msg(message)) {
                Err((_, _, None)) => Err(SendError::NotRegistered(name)),
                _ => Ok(()),
            },
            Dest::Remote(name, node) => {
                if node == self.inner.name {
                    let _ = self.push_name(&name, Sig::Msg(message));
                } else {
                    self.route(
                        &node.clone(),
                        Dest::Remote(name, node),
                        Signal::Message {
                            from: from.cloned(),
                            message,
                        },
                    );
                }
                Ok(())
            }
            Dest::Alias(alias) => {
                self.send_alias(from, alias, message);
                Ok(())
            }
        }
    }

    /// Sends a message to a pid: pushed to the local process, or routed to its node.
    #[inline]
    pub(crate) fn send_pid(&self, from: Option<&Pid>, to: &Pid, message: Term) {
        if let Some((index, serial)) = self.key_of(to) {
            let _ = self.push_local(index, serial, Sig::Msg(message));
        } else if to.node != self.inner.name {
            self.route(
                &to.node,
                Dest::Pid(to.clone()),
                Signal::Message {
                    from: from.cloned(),
                    message,
                },
            );
        }
    }

    fn send_alias(&self, from: Option<&Pid>, alias: Ref, message: Term) {
        if alias.node == self.inner.name {
            if let Some((index, serial)) = self.alias_key(&alias) {
                let _ = self.push_local(index, serial, Sig::ctl(Ctl::Alias { alias, message }));
            }
        } else {
            let node = alias.node.clone();
            self.route(
                &node,
                Dest::Alias(alias.clone()),
                Signal::AliasMessage {
                    from: from.cloned(),
                    alias,
                    message,
                },
            );
        }
    }

    fn route(&self, node: &Atom, to: Dest, signal: Signal) {
        match self.router() {
            Some(r) => r.route(node, to, signal),
            None => tracing::trace!(%node, ?to, "no route to node; signal dropped"),
        }
    }

    /// Sends a control signal to a pid. If the local target does not exist (or is
    /// exiting), a link or monitor is answered as the target would: with an exit
    /// signal or a `DOWN` carrying `noproc` (or the exit reason).
    pub(crate) fn send_ctl(&self, to: &Pid, ctl: Ctl, sender: Option<&Pid>) {
        if to.node == self.inner.name {
            let sig = Sig::ctl(ctl);
            let res = match self.key_of(to) {
                Some((index, serial)) => self.push_local(index, serial, sig),
                None => Err((sig, reason::noproc())),
            };
            if let Err((sig, reason)) = res {
                self.bounce(Some(to), None, sig, reason);
            }
        } else if let Some(signal) = ctl.into_signal(sender) {
            self.route(&to.node.clone(), Dest::Pid(to.clone()), signal);
        }
    }

    /// Sends a control signal to a pid or a `{Name, Node}`.
    pub(crate) fn send_ctl_dest(&self, to: &Dest, ctl: Ctl, sender: Option<&Pid>) {
        match to {
            Dest::Pid(p) => self.send_ctl(p, ctl, sender),
            Dest::Name(name) => self.send_ctl_name(name, ctl),
            Dest::Remote(name, node) => {
                if *node == self.inner.name {
                    self.send_ctl_name(name, ctl)
                } else if let Some(signal) = ctl.into_signal(sender) {
                    self.route(node, to.clone(), signal);
                }
            }
            Dest::Alias(_) => {}
        }
    }

    fn send_ctl_name(&self, name: &Atom, ctl: Ctl) {
        if let Err((sig, reason, pid)) = self.push_name(name, Sig::ctl(ctl)) {
            self.bounce(pid.as_ref(), Some(name), sig, reason);
        }
    }

    /// Pushes a signal to the local process `(index, serial)` and wakes it. Gives the
    /// signal back, with the reason, if there is no such process.
    #[inline]
    pub(crate) fn push_local(&self, index: u32, serial: u32, sig: Sig) -> Result<(), (Sig, Term)> {
        let mut sig = Some(sig);
        let res = self
            .inner
            .table
            .with(index, serial, |p| p.push(sig.take().expect("once")));
        match res {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(e),
            None => Err((sig.expect("not taken"), reason::noproc())),
        }
    }

    /// Pushes a signal to the process registered as `name` and wakes it. Gives the
    /// signal back if the name is not registered (no pid) or the process is exiting
    /// (with its pid and exit reason).
    #[allow(clippy::result_large_err)] // the error is the rare path
    fn push_name(&self, name: &Atom, sig: Sig) -> Result<(), (Sig, Term, Option<Pid>)> {
        let reg = self.inner.registry.read(name);
        match reg.get(name) {
            Some(p) => p.push(sig).map_err(|(s, r)| (s, r, Some(p.pid.clone()))),
            None => Err((sig, reason::noproc(), None)),
        }
    }

    /// Answers a link or monitor whose target is gone.
    fn bounce(&self, target: Option<&Pid>, _name: Option<&Atom>, sig: Sig, reason: Term) {
        let Sig::Ctl(c) = sig else { return };
        match *c {
            Ctl::Link(from) => {
                if let Some(target) = target {
                    self.send_ctl(
                        &from,
                        Ctl::Exit {
                            from: target.clone(),
                            reason,
                            link: true,
                        },
                        Some(target),
                    );
                }
            }
            Ctl::Monitor { watcher, reference } => match watcher {
                Watcher::Pid(w) => self.send_ctl(&w, Ctl::Down { reference, reason }, target),
                Watcher::External(tx) => {
                    let _ = tx.send(reason);
                }
            },
            _ => {}
        }
    }

    /// Delivers a signal that came from another node to a local destination: a pid, a
    /// registered name (`Dest::Name`, or `Dest::Remote` naming this node) or an alias.
    /// A message to a name that is not registered is dropped; a link or monitor of a
    /// process that does not exist is answered with `noproc` through the router.
    pub fn deliver(&self, to: Dest, signal: Signal) {
        let sig = Ctl::from_signal(signal);
        match to {
            Dest::Pid(pid) => match sig {
                Sig::Msg(m) => self.send_pid(None, &pid, m),
                Sig::Ctl(c) => self.send_ctl(&pid, *c, None),
            },
            Dest::Name(name) | Dest::Remote(name, _) => match sig {
                Sig::Msg(m) => {
                    let _ = self.push_name(&name, Sig::Msg(m));
                }
                Sig::Ctl(c) => self.send_ctl_name(&name, *c),
            },
            Dest::Alias(alias) => match sig {
                Sig::Msg(m) => self.send_alias(None, alias, m),
                Sig::Ctl(c) => {
                    if let Ctl::Alias { alias, message } = *c {
                        self.send_alias(None, alias, message);
                    }
                }
            },
        }
    }

    /// Sends an exit signal from outside any process (from [`Node::system_pid`]), like
    /// `exit(Pid, Reason)`: `kill` kills unconditionally, `normal` is ignored by a
    /// process that does not trap exits.
    pub fn exit(&self, pid: &Pid, reason: impl Into<Term>) {
        let from = self.system_pid();
        self.send_ctl(
            pid,
            Ctl::Exit {
                from: from.clone(),
                reason: reason.into(),
                link: false,
            },
            Some(&from),
        );
    }

    // ----- registry -----------------------------------------------------------------

    /// Registers `name` for the local process `pid` (`register/2`). Fails, as Erlang
    /// does with `badarg`, if the name is taken, the process already has a name or is
    /// not alive, or the name is `undefined`.
    pub fn register(&self, name: impl Into<Atom>, pid: &Pid) -> Result<(), RegisterError> {
        let name = name.into();
        if name == "undefined" {
            return Err(RegisterError::Undefined);
        }
        let proc = self
            .lookup(pid)
            .ok_or_else(|| RegisterError::NotAlive(pid.clone()))?;
        let mut reg = self.inner.registry.write(&name);
        if reg.contains_key(&name) {
            return Err(RegisterError::NameTaken(name));
        }
        {
            let mut inbox = proc.inbox.lock();
            if inbox.dead.is_some() {
                return Err(RegisterError::NotAlive(pid.clone()));
            }
            if inbox.name.is_some() {
                return Err(RegisterError::AlreadyNamed(pid.clone()));
            }
            inbox.name = Some(Box::new(name.clone()));
        }
        reg.insert(name, proc);
        Ok(())
    }

    /// Removes a registered name (`unregister/1`). Fails if it is not registered.
    pub fn unregister(&self, name: impl Into<Atom>) -> Result<(), RegisterError> {
        let name = name.into();
        let proc = self
            .inner
            .registry
            .remove(&name)
            .ok_or_else(|| RegisterError::NotRegistered(name.clone()))?;
        let mut inbox = proc.inbox.lock();
        if inbox.name.as_deref() == Some(&name) {
            inbox.name = None;
        }
        Ok(())
    }

    pub(crate) fn unregister_if(&self, name: &Atom, pid: &Pid) {
        let mut reg = self.inner.registry.write(name);
        if reg.get(name).is_some_and(|p| p.pid == *pid) {
            reg.remove(name);
        }
    }

    /// The pid registered as `name` (`whereis/1`).
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        // Look up by `Atom`, not `&str`: the two hash differently.
        let name = Atom::new(name);
        self.inner
            .registry
            .read(&name)
            .get(&name)
            .map(|p| p.pid.clone())
    }

    /// All registered names (`registered/0`).
    pub fn registered(&self) -> Vec<Atom> {
        let mut v = Vec::new();
        self.inner.registry.for_each(|k, _| v.push(k.clone()));
        v.sort();
        v
    }

    /// The registered name of a local process, if any.
    pub fn registered_name(&self, pid: &Pid) -> Option<Atom> {
        let p = self.lookup(pid)?;
        let inbox = p.inbox.lock();
        inbox.name.as_deref().cloned()
    }

    // ----- timers -------------------------------------------------------------------

    /// Sends `message` to `dest` after `delay` (`erlang:send_after/3`) and returns the
    /// timer reference for [`Node::cancel_timer`]. A name is looked up when the timer
    /// fires; if it is not registered then, nothing is sent.
    pub fn send_after(
        &self,
        delay: Duration,
        dest: impl Into<Dest>,
        message: impl Into<Term>,
    ) -> Ref {
        self.timer(delay, dest.into(), message.into(), false)
    }

    /// Like [`Node::send_after`], but the message is `{timeout, TimerRef, Message}`
    /// (`erlang:start_timer/3`).
    pub fn start_timer(
        &self,
        delay: Duration,
        dest: impl Into<Dest>,
        message: impl Into<Term>,
    ) -> Ref {
        self.timer(delay, dest.into(), message.into(), true)
    }

    fn timer(&self, delay: Duration, dest: Dest, message: Term, wrap: bool) -> Ref {
        let tref = self.make_ref();
        let deadline = Instant::now() + delay;
        self.inner.timers.insert(
            tref.clone(),
            TimerEntry {
                deadline,
                abort: None,
            },
        );
        let node = self.clone();
        let key = tref.clone();
        let task = self.inner.handle.spawn(async move {
            tokio::time::sleep_until(deadline).await;
            if node.inner.timers.remove(&key).is_some() {
                let message = if wrap {
                    Term::tuple(vec![Term::atom("timeout"), Term::from(key), message])
                } else {
                    message
                };
                let _ = node.send_from(None, dest, message);
            }
        });
        if let Some(e) = self.inner.timers.write(&tref).get_mut(&tref) {
            e.abort = Some(task.abort_handle());
        }
        tref
    }

    /// Cancels a timer (`erlang:cancel_timer/1`): the time that was left, or `None`
    /// (Erlang's `false`) if the timer had already fired or been cancelled.
    pub fn cancel_timer(&self, tref: &Ref) -> Option<Duration> {
        let e = self.inner.timers.remove(tref)?;
        if let Some(a) = e.abort {
            a.abort();
        }
        Some(e.deadline.saturating_duration_since(Instant::now()))
    }

    /// The time left on a timer (`erlang:read_timer/1`), or `None`.
    pub fn read_timer(&self, tref: &Ref) -> Option<Duration> {
        let t = self.inner.timers.read(tref);
        t.get(tref)
            .map(|e| e.deadline.saturating_duration_since(Instant::now()))
    }

    // ----- local opaque values ------------------------------------------------------

    /// Keeps a Rust value under a fresh reference, for handing it to a local process
    /// inside a message (closures cannot be terms).
    pub(crate) fn stash(&self, value: Box<dyn Any + Send>) -> Ref {
        let r = self.make_ref();
        self.inner
            .stash
            .insert(r.clone(), std::sync::Mutex::new(value));
        r
    }

    /// Takes back a value kept by [`Node::stash`].
    pub(crate) fn unstash(&self, r: &Ref) -> Option<Box<dyn Any + Send>> {
        self.inner
            .stash
            .remove(r)
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Default for Node {
    fn default() -> Self {
        Node::new()
    }
}
