//! The process context: what a process function uses to act as its process.

use crate::error::{LinkError, SendError, SpawnError};
use crate::node::{Node, Setup};
use crate::process::{msg_of, AliasMode, MonitorOut, ProcRef};
use crate::reason::{self, ExitUnwind, IntoExitReason};
use crate::signal::{Ctl, Dest, Sig, Watcher};
use ferrobeam_term::{Atom, Pid, Ref, Term};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// The context of a process: its pid, its mailbox, its links and monitors.
///
/// A process function receives its `Ctx` by value. Clones act as the same process (use
/// them, for example, to hand the context to a helper future); the state they share is
/// behind locks, so a clone used from another task is safe, but that task is not the
/// process and is not stopped when the process exits.
///
/// ```
/// use ferrobeam::{Node, Term};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let node = Node::new();
/// let out = node.run(|ctx| async move {
///     let me = ctx.self_pid().clone();
///     ctx.send(&me, Term::atom("b")).unwrap();
///     ctx.send(&me, Term::atom("a")).unwrap();
///     // Selective receive: takes `a`, leaves `b` in the queue.
///     let a = ctx.receive_match(|t| t.is_atom("a")).await;
///     let b = ctx.receive().await;
///     let none = ctx.receive_timeout(Duration::from_millis(10)).await;
///     (a, b, none)
/// }).await.unwrap();
/// assert_eq!(out, (Term::atom("a"), Term::atom("b"), None));
/// # }
/// ```
#[derive(Clone)]
pub struct Ctx {
    pub(crate) proc: ProcRef,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ctx({:?})", self.proc.pid)
    }
}

impl Ctx {
    pub(crate) fn new(proc: ProcRef) -> Ctx {
        Ctx { proc }
    }

    /// The pid of this process (`self()`).
    #[inline]
    pub fn self_pid(&self) -> &Pid {
        &self.proc.pid
    }

    /// The node this process runs on.
    #[inline]
    pub fn node(&self) -> &Node {
        &self.proc.node
    }

    // ----- messages -----------------------------------------------------------------

    /// Sends a message (`Dest ! Msg`). Sending to a pid never fails (a message to a
    /// process that is not alive is dropped). Sending to a local name that is not
    /// registered is an error ([`SendError::NotRegistered`], Erlang's `badarg`); a send
    /// to `{Name, Node}` is never an error.
    #[inline]
    pub fn send(&self, dest: impl Into<Dest>, message: impl Into<Term>) -> Result<(), SendError> {
        let dest = dest.into();
        if let Dest::Pid(pid) = &dest {
            if let Some((index, serial)) = self.proc.node.key_of(pid) {
                self.proc.send_local(index, serial, message.into());
                return Ok(());
            }
        }
        self.proc
            .node
            .send_from(Some(&self.proc.pid), dest, message.into())
    }

    /// Sends a typed message, converted to a term through the serde mapping.
    pub fn send_typed<T: serde::Serialize + ?Sized>(
        &self,
        dest: impl Into<Dest>,
        message: &T,
    ) -> Result<(), SendError> {
        let t = ferrobeam_term::to_term(message)?;
        self.send(dest, t)
    }

    /// Takes the next message, waiting for one.
    pub fn receive(&self) -> Receive<'_> {
        Receive { ctx: self }
    }

    /// Takes the next message, or `None` after `timeout` (Erlang's `after`). A zero
    /// timeout only looks at the messages already there.
    pub fn receive_timeout(&self, timeout: Duration) -> ReceiveTimeout<'_, fn(&Term) -> bool> {
        ReceiveTimeout::new(self, None, timeout)
    }

    /// Selective receive: takes the first message for which `pred` is true, leaving the
    /// others in order, waiting if there is none.
    pub fn receive_match<P: FnMut(&Term) -> bool + Unpin>(&self, pred: P) -> ReceiveMatch<'_, P> {
        ReceiveMatch {
            ctx: self,
            pred,
            scan: Scan::default(),
        }
    }

    /// Selective receive with a timeout: `None` if no message matches within `timeout`.
    pub fn receive_match_timeout<P: FnMut(&Term) -> bool + Unpin>(
        &self,
        pred: P,
        timeout: Duration,
    ) -> ReceiveTimeout<'_, P> {
        ReceiveTimeout::new(self, Some(pred), timeout)
    }

    /// Takes a typed message: the next message is read through the serde mapping;
    /// `Err` gives back a message that does not have the shape of `T` (it is removed
    /// from the queue all the same).
    pub async fn receive_typed<T: serde::de::DeserializeOwned + 'static>(&self) -> Result<T, Term> {
        let m = self.receive().await;
        crate::convert::decode::<T>(m)
    }

    /// Removes and returns every message in the queue, without waiting.
    pub fn flush(&self) -> Vec<Term> {
        let mut local = self.proc.local.lock();
        self.proc.drain(&mut local, None);
        local.removals = local.removals.wrapping_add(1);
        local
            .mailbox
            .drain(..)
            .filter_map(|s| match s {
                Sig::Msg(t) => Some(t),
                Sig::Ctl(_) => None,
            })
            .collect()
    }

    /// The number of messages waiting (`process_info(self(), message_queue_len)`).
    pub fn message_queue_len(&self) -> usize {
        self.proc.message_queue_len()
    }

    /// Polls for the next message. Registers the waker when there is none.
    ///
    /// A process that took a message in this poll and runs dry busy-waits up to 2 µs
    /// for the next one (on a multi-threaded runtime), with exponential backoff when
    /// that keeps failing: a peer on another worker thread then answers without the
    /// cost of parking and waking this task.
    #[inline]
    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Term> {
        let proc = &self.proc;
        let mut local = proc.local.lock();
        let mut spun = false;
        loop {
            if local.pending_exit.is_some() {
                // The process task ends the process after this poll.
                return Poll::Pending;
            }
            if let Some(Sig::Msg(m)) = local.mailbox.pop_front() {
                local.removals = local.removals.wrapping_add(1);
                if spun {
                    local.spin_fails = 0;
                }
                proc.hot.store(true, Ordering::Relaxed);
                return Poll::Ready(m);
            }
            if !spun
                && proc.hot.load(Ordering::Relaxed)
                && proc.node.spins()
                && !crate::process::woke_someone()
            {
                if local.spin_skip > 0 {
                    local.spin_skip -= 1;
                } else {
                    if proc.drain(&mut local, None) {
                        continue;
                    }
                    drop(local);
                    let got = proc.spin_wait();
                    local = proc.local.lock();
                    spun = true;
                    if got {
                        continue;
                    }
                    local.spin_fails = (local.spin_fails + 1).min(6);
                    local.spin_skip = (1u8 << local.spin_fails) - 1;
                }
            }
            if !proc.drain(&mut local, Some(cx.waker())) {
                return Poll::Pending;
            }
        }
    }

    /// Polls for the first message that matches `pred`, scanning only what was not
    /// scanned before. Registers the waker when there is none.
    fn poll_match<P: FnMut(&Term) -> bool>(
        &self,
        cx: &mut Context<'_>,
        pred: &mut P,
        scan: &mut Scan,
    ) -> Poll<Term> {
        let mut local = self.proc.local.lock();
        loop {
            if local.pending_exit.is_some() {
                return Poll::Pending;
            }
            if !scan.valid || scan.removals != local.removals {
                scan.pos = 0;
                scan.removals = local.removals;
                scan.valid = true;
            }
            while scan.pos < local.mailbox.len() {
                if msg_of(&local.mailbox[scan.pos]).is_some_and(&mut *pred) {
                    let m = local.mailbox.remove(scan.pos);
                    local.removals = local.removals.wrapping_add(1);
                    if let Some(Sig::Msg(m)) = m {
                        return Poll::Ready(m);
                    }
                }
                scan.pos += 1;
            }
            if !self.proc.drain(&mut local, Some(cx.waker())) {
                return Poll::Pending;
            }
        }
    }

    // ----- spawning -----------------------------------------------------------------

    /// Spawns a process (`spawn/1`). See [`Node::spawn`].
    pub fn spawn<F, Fut>(&self, f: F) -> Pid
    where
        F: FnOnce(Ctx) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        self.proc.node.spawn_setup(f, self.setup(), |_| {})
    }

    /// How a child of this process starts: with this process's group leader.
    pub(crate) fn setup(&self) -> Setup {
        Setup {
            group_leader: crate::process::group_leader(&self.proc),
            ..Setup::default()
        }
    }

    /// Spawns a process linked to this one (`spawn_link/1`), atomically.
    pub fn spawn_link<F, Fut>(&self, f: F) -> Pid
    where
        F: FnOnce(Ctx) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        let setup = Setup {
            link: Some(self.proc.pid.clone()),
            ..self.setup()
        };
        self.proc
            .node
            .spawn_setup(f, setup, |pid| self.add_link_local(pid))
    }

    /// Spawns a process monitored by this one (`spawn_monitor/1`), atomically.
    pub fn spawn_monitor<F, Fut>(&self, f: F) -> (Pid, Ref)
    where
        F: FnOnce(Ctx) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoExitReason,
    {
        let r = self.proc.node.make_ref();
        let setup = Setup {
            monitor: Some((r.clone(), Watcher::Pid(self.proc.pid.clone()))),
            ..self.setup()
        };
        let pid = self
            .proc
            .node
            .spawn_setup(f, setup, |pid| self.add_monitor_out(pid, &r));
        (pid, r)
    }

    /// Spawns the function registered as `{Module, Function}` (see
    /// [`Node::register_fn`]).
    pub fn spawn_mfa(
        &self,
        module: impl Into<Atom>,
        function: impl Into<Atom>,
        args: Vec<Term>,
    ) -> Result<Pid, SpawnError> {
        self.proc
            .node
            .spawn_mfa_setup(module.into(), function.into(), args, self.setup(), |_| {})
    }

    /// Spawns the function registered as `{Module, Function}`, linked to this process.
    pub fn spawn_link_mfa(
        &self,
        module: impl Into<Atom>,
        function: impl Into<Atom>,
        args: Vec<Term>,
    ) -> Result<Pid, SpawnError> {
        let setup = Setup {
            link: Some(self.proc.pid.clone()),
            ..self.setup()
        };
        self.proc
            .node
            .spawn_mfa_setup(module.into(), function.into(), args, setup, |pid| {
                self.add_link_local(pid)
            })
    }

    /// Spawns the function registered as `{Module, Function}`, monitored by this
    /// process.
    pub fn spawn_monitor_mfa(
        &self,
        module: impl Into<Atom>,
        function: impl Into<Atom>,
        args: Vec<Term>,
    ) -> Result<(Pid, Ref), SpawnError> {
        let r = self.proc.node.make_ref();
        let setup = Setup {
            monitor: Some((r.clone(), Watcher::Pid(self.proc.pid.clone()))),
            ..self.setup()
        };
        let pid =
            self.proc
                .node
                .spawn_mfa_setup(module.into(), function.into(), args, setup, |pid| {
                    self.add_monitor_out(pid, &r)
                })?;
        Ok((pid, r))
    }

    /// Runs the function registered as `{Module, Function}` in this process and returns
    /// its value, or its exit reason as `Err` (`{undef, [{M, F, Args, []}]}` if there is
    /// no such function). A panic in it is not caught: it ends this process.
    pub async fn apply(
        &self,
        module: impl Into<Atom>,
        function: impl Into<Atom>,
        args: Vec<Term>,
    ) -> Result<Term, Term> {
        match self
            .proc
            .node
            .lookup_fn(module.into(), function.into(), args)
        {
            Ok((f, args)) => f(self.clone(), args).await,
            Err(e) => Err(e.reason()),
        }
    }

    pub(crate) fn add_link_local(&self, pid: &Pid) {
        self.proc.local.lock().ext().links.insert(pid.clone());
    }

    pub(crate) fn add_monitor_out(&self, pid: &Pid, r: &Ref) {
        self.proc.local.lock().ext().monitors_out.insert(
            r.clone(),
            MonitorOut {
                target: Dest::Pid(pid.clone()),
                object: Term::Pid(pid.clone()),
                alias: None,
            },
        );
    }

    // ----- links and exits ----------------------------------------------------------

    /// Links this process to `pid` (`link/1`). Linking to itself or to a process it is
    /// already linked to does nothing.
    ///
    /// If `pid` is a local process that does not exist: a process that traps exits gets
    /// `{'EXIT', Pid, noproc}`; one that does not gets `Err` (Erlang raises `noproc`).
    pub fn link(&self, pid: &Pid) -> Result<(), LinkError> {
        if *pid == self.proc.pid {
            return Ok(());
        }
        let me = self.proc.pid.clone();
        if self.proc.node.is_local(pid) {
            let alive = self.proc.node.lookup(pid).is_some_and(|p| !p.is_dead());
            let mut local = self.proc.local.lock();
            if !alive {
                if !local.trap_exit {
                    return Err(LinkError(pid.clone()));
                }
                local.ext().links.insert(pid.clone());
                drop(local);
                let _ = self.proc.push(Sig::ctl(Ctl::Exit {
                    from: pid.clone(),
                    reason: reason::noproc(),
                    link: true,
                }));
                return Ok(());
            }
            if !local.ext().links.insert(pid.clone()) {
                return Ok(());
            }
        } else if !self.proc.local.lock().ext().links.insert(pid.clone()) {
            return Ok(());
        }
        self.proc
            .node
            .send_ctl(pid, Ctl::Link(me.clone()), Some(&me));
        Ok(())
    }

    /// Removes the link to `pid` (`unlink/1`). Afterwards the link has no effect on
    /// this process (an `{'EXIT', Pid, _}` already in the queue stays there).
    pub fn unlink(&self, pid: &Pid) {
        let removed = self
            .proc
            .local
            .lock()
            .ext
            .as_mut()
            .is_some_and(|e| e.links.remove(pid));
        if removed {
            let me = self.proc.pid.clone();
            self.proc
                .node
                .send_ctl(pid, Ctl::Unlink(me.clone()), Some(&me));
        }
    }

    /// The pids this process is linked to.
    pub fn links(&self) -> Vec<Pid> {
        self.proc
            .local
            .lock()
            .ext
            .as_ref()
            .map(|e| e.links.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Sets the `trap_exit` flag (`process_flag(trap_exit, Flag)`), returning the old
    /// value. A process that traps exits receives exit signals as
    /// `{'EXIT', From, Reason}` messages, except `kill` sent by `exit/2`.
    pub fn trap_exit(&self, flag: bool) -> bool {
        std::mem::replace(&mut self.proc.local.lock().trap_exit, flag)
    }

    /// True if this process traps exits.
    pub fn is_trapping_exits(&self) -> bool {
        self.proc.local.lock().trap_exit
    }

    /// Sends an exit signal to `pid` (`exit(Pid, Reason)`). `kill` kills it even if it
    /// traps exits (its exit reason is then `killed`); `normal` does not end a process
    /// that does not trap exits, unless it is this process.
    pub fn exit(&self, pid: &Pid, reason: impl Into<Term>) {
        let me = self.proc.pid.clone();
        self.proc.node.send_ctl(
            pid,
            Ctl::Exit {
                from: me.clone(),
                reason: reason.into(),
                link: false,
            },
            Some(&me),
        );
    }

    /// Ends this process now with `reason` (`exit(Reason)`). Works by unwinding, which
    /// the process task catches; call it from the process's own task.
    pub fn exit_self(&self, reason: impl Into<Term>) -> ! {
        std::panic::resume_unwind(Box::new(ExitUnwind(reason.into())))
    }

    // ----- monitors -----------------------------------------------------------------

    /// Monitors a process (`monitor(process, Target)`): a pid, a local name, or
    /// `{Name, Node}`. When it ends, this process receives
    /// `{'DOWN', Ref, process, Object, Reason}`, where `Object` is the pid, or
    /// `{Name, Node}` for a monitor by name. If the target does not exist, the `DOWN`
    /// comes at once with reason `noproc`.
    pub fn monitor(&self, target: impl Into<Dest>) -> Ref {
        self.monitor_inner(target.into(), None)
    }

    /// Monitors a process with the monitor reference also an alias
    /// (`monitor(process, Target, [{alias, Mode}])`), as `gen:call` does. `mode` is
    /// [`AliasMode::Demonitor`] or [`AliasMode::ReplyDemonitor`] (other modes act as
    /// `Demonitor`).
    pub fn monitor_alias(&self, target: impl Into<Dest>, mode: AliasMode) -> Ref {
        let mode = match mode {
            AliasMode::ReplyDemonitor => AliasMode::ReplyDemonitor,
            _ => AliasMode::Demonitor,
        };
        self.monitor_inner(target.into(), Some(mode))
    }

    fn monitor_inner(&self, target: Dest, alias: Option<AliasMode>) -> Ref {
        let me = &self.proc.pid;
        let r = if alias.is_some() {
            self.proc.node.make_pid_ref(me)
        } else {
            self.proc.node.make_ref()
        };
        // Resolve local names now: the monitor is then on the pid, and the DOWN names
        // `{Name, Node}`.
        let (target, object) = match target {
            Dest::Pid(p) => (Some(Dest::Pid(p.clone())), Term::Pid(p)),
            Dest::Name(n) => {
                let node_name = self.proc.node.name().clone();
                let obj = Term::tuple(vec![Term::Atom(n.clone()), Term::Atom(node_name)]);
                (self.proc.node.whereis(n.as_str()).map(Dest::Pid), obj)
            }
            Dest::Remote(n, nd) => {
                let obj = Term::tuple(vec![Term::Atom(n.clone()), Term::Atom(nd.clone())]);
                if nd == *self.proc.node.name() {
                    (self.proc.node.whereis(n.as_str()).map(Dest::Pid), obj)
                } else {
                    (Some(Dest::Remote(n, nd)), obj)
                }
            }
            Dest::Alias(a) => (None, Term::from(a)),
        };
        {
            let mut local = self.proc.local.lock();
            let ext = local.ext();
            ext.monitors_out.insert(
                r.clone(),
                MonitorOut {
                    target: target.clone().unwrap_or_else(|| Dest::Pid(me.clone())),
                    object,
                    alias,
                },
            );
            if let Some(mode) = alias {
                ext.aliases.insert(r.clone(), mode);
            }
        }
        match target {
            Some(t) => self.proc.node.send_ctl_dest(
                &t,
                Ctl::Monitor {
                    watcher: Watcher::Pid(me.clone()),
                    reference: r.clone(),
                },
                Some(me),
            ),
            None => {
                let _ = self.proc.push(Sig::ctl(Ctl::Down {
                    reference: r.clone(),
                    reason: reason::noproc(),
                }));
            }
        }
        r
    }

    /// Removes a monitor (`demonitor/1`). Returns true if it was active (as
    /// `demonitor(Ref, [info])`); once this returns, no `DOWN` for it will arrive, but
    /// one may already be in the queue.
    pub fn demonitor(&self, reference: &Ref) -> bool {
        let removed = {
            let mut local = self.proc.local.lock();
            match local.ext.as_mut() {
                Some(ext) => {
                    let m = ext.monitors_out.remove(reference);
                    if m.as_ref().is_some_and(|m| m.alias.is_some()) {
                        ext.aliases.remove(reference);
                    }
                    m
                }
                None => None,
            }
        };
        match removed {
            Some(m) => {
                self.proc.node.send_ctl_dest(
                    &m.target,
                    Ctl::Demonitor {
                        reference: reference.clone(),
                    },
                    Some(&self.proc.pid),
                );
                true
            }
            None => false,
        }
    }

    /// Removes a monitor and any `{'DOWN', Ref, _, _, _}` message for it from the queue
    /// (`demonitor(Ref, [flush, info])`). Returns true if the monitor was active.
    pub fn demonitor_flush(&self, reference: &Ref) -> bool {
        let active = self.demonitor(reference);
        let mut local = self.proc.local.lock();
        let before = local.mailbox.len();
        local
            .mailbox
            .retain(|m| !msg_of(m).is_some_and(|m| is_down_for(m, reference)));
        if local.mailbox.len() != before {
            local.removals = local.removals.wrapping_add(1);
        }
        active
    }

    // ----- aliases ------------------------------------------------------------------

    /// Creates an alias (`alias()`): a reference that other processes can send to,
    /// until [`Ctx::unalias`].
    pub fn alias(&self) -> Ref {
        self.alias_with(AliasMode::ExplicitUnalias)
    }

    /// Creates an alias with the given mode (`alias([reply])` is
    /// [`AliasMode::Reply`]).
    pub fn alias_with(&self, mode: AliasMode) -> Ref {
        let r = self.proc.node.make_pid_ref(&self.proc.pid);
        self.proc.local.lock().ext().aliases.insert(r.clone(), mode);
        r
    }

    /// Deactivates an alias (`unalias/1`). True if it was active.
    pub fn unalias(&self, alias: &Ref) -> bool {
        self.proc
            .local
            .lock()
            .ext
            .as_mut()
            .is_some_and(|e| e.aliases.remove(alias).is_some())
    }

    // ----- registry, timers, refs ---------------------------------------------------

    /// Registers this process under `name` (`register(Name, self())`).
    pub fn register(&self, name: impl Into<Atom>) -> Result<(), crate::error::RegisterError> {
        self.proc.node.register(name, &self.proc.pid)
    }

    /// A new unique reference.
    pub fn make_ref(&self) -> Ref {
        self.proc.node.make_ref()
    }

    /// `erlang:send_after/3`. See [`Node::send_after`].
    pub fn send_after(
        &self,
        delay: Duration,
        dest: impl Into<Dest>,
        message: impl Into<Term>,
    ) -> Ref {
        self.proc.node.send_after(delay, dest, message)
    }

    /// `erlang:start_timer/3`. See [`Node::start_timer`].
    pub fn start_timer(
        &self,
        delay: Duration,
        dest: impl Into<Dest>,
        message: impl Into<Term>,
    ) -> Ref {
        self.proc.node.start_timer(delay, dest, message)
    }

    /// `erlang:cancel_timer/1`. See [`Node::cancel_timer`].
    pub fn cancel_timer(&self, tref: &Ref) -> Option<Duration> {
        self.proc.node.cancel_timer(tref)
    }
}

fn is_down_for(m: &Term, r: &Ref) -> bool {
    match m {
        Term::Tuple(t) => {
            t.len() == 5 && t[0].is_atom("DOWN") && matches!(&t[1], Term::Ref(x) if **x == *r)
        }
        _ => false,
    }
}

#[derive(Default)]
struct Scan {
    pos: usize,
    removals: u32,
    valid: bool,
}

/// The future of [`Ctx::receive`]: resolves to the next message.
pub struct Receive<'a> {
    ctx: &'a Ctx,
}

impl Future for Receive<'_> {
    type Output = Term;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Term> {
        self.ctx.poll_next(cx)
    }
}

/// The future of [`Ctx::receive_match`]: resolves to the first matching message.
pub struct ReceiveMatch<'a, P> {
    ctx: &'a Ctx,
    pred: P,
    scan: Scan,
}

impl<P: FnMut(&Term) -> bool + Unpin> Future for ReceiveMatch<'_, P> {
    type Output = Term;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Term> {
        let this = self.get_mut();
        this.ctx.poll_match(cx, &mut this.pred, &mut this.scan)
    }
}

/// The future of [`Ctx::receive_timeout`] and [`Ctx::receive_match_timeout`]:
/// resolves to the message, or `None` on timeout.
pub struct ReceiveTimeout<'a, P> {
    ctx: &'a Ctx,
    pred: Option<P>,
    scan: Scan,
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<'a, P> ReceiveTimeout<'a, P> {
    fn new(ctx: &'a Ctx, pred: Option<P>, timeout: Duration) -> Self {
        ReceiveTimeout {
            ctx,
            pred,
            scan: Scan::default(),
            timeout,
            sleep: None,
        }
    }
}

impl<P: FnMut(&Term) -> bool + Unpin> Future for ReceiveTimeout<'_, P> {
    type Output = Option<Term>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Term>> {
        let this = self.get_mut();
        let got = match &mut this.pred {
            Some(pred) => this.ctx.poll_match(cx, pred, &mut this.scan),
            None => this.ctx.poll_next(cx),
        };
        if let Poll::Ready(m) = got {
            return Poll::Ready(Some(m));
        }
        if this.timeout.is_zero() {
            return Poll::Ready(None);
        }
        let timeout = this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
