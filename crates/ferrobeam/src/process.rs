//! The process: its shared entry in the node's table, its signal queue, its private
//! state, and the task that runs it.
//!
//! # Layout
//!
//! A process is one Tokio task and one [`Proc`] allocation:
//!
//! * [`Inbox`] is the one ordered signal queue that every sender pushes into, under a
//!   short lock ([`ShortLock`](crate::short_lock::ShortLock): one compare-and-swap to
//!   take, one store to release), together with the waker of the process's task.
//! * [`Local`] is the state only the process itself touches: the message queue proper
//!   (messages that have been taken out of the signal queue), the trap-exit flag, and,
//!   allocated only when first needed, the links, monitors and aliases.
//!
//! The process takes signals out of its queue in order. Messages move to the message
//! queue (a batch of messages with no control signal among them moves in one step: the
//! two queues are swapped); the other signals (links, exits, monitors) take effect at
//! that point, exactly as in BEAM. Before each poll of the process's own future, the
//! task handles any waiting control signal, so an exit signal ends the process even
//! when it is blocked in something other than `receive`: its future is dropped and
//! never polled again.

use crate::ctx::Ctx;
use crate::node::Node;
use crate::reason::{self, IntoExitReason};
use crate::short_lock::ShortLock;
use crate::signal::{Ctl, Sig, Watcher};
use crate::table::{FxHashMap, FxHashSet};
use ferrobeam_term::{Atom, Pid, Ref, Term};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// Locks a `std::sync::Mutex` (the node's tables and the connection table), ignoring
/// poisoning: no user code runs under these locks, and every critical section leaves
/// the state consistent. A process's own queues use [`ShortLock`] instead.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// How an alias behaves (see [`Ctx::alias_with`](crate::Ctx::alias_with)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AliasMode {
    /// Active until [`Ctx::unalias`](crate::Ctx::unalias) (`explicit_unalias`).
    ExplicitUnalias,
    /// Removed when the first message arrives through it (`reply`).
    Reply,
    /// For a monitor alias: removed when the monitor is removed, by demonitor or by the
    /// `DOWN` message (`{alias, demonitor}`, what `gen:call` uses).
    Demonitor,
    /// For a monitor alias: also removes the alias and the monitor when the first message
    /// arrives through it (`{alias, reply_demonitor}`).
    ReplyDemonitor,
}

/// A monitor this process holds.
pub(crate) struct MonitorOut {
    /// Where the monitor (and a later demonitor) was sent.
    pub(crate) target: crate::signal::Dest,
    /// The object in the `DOWN` message: the pid, or `{Name, Node}`.
    pub(crate) object: Term,
    /// Whether the monitor reference is also an alias.
    pub(crate) alias: Option<AliasMode>,
}

/// Links, monitors and aliases: allocated on first use.
#[derive(Default)]
pub(crate) struct Ext {
    pub(crate) links: FxHashSet<Pid>,
    pub(crate) monitors_out: FxHashMap<Ref, MonitorOut>,
    pub(crate) monitors_in: FxHashMap<Ref, Watcher>,
    pub(crate) aliases: FxHashMap<Ref, AliasMode>,
    /// The group leader, when it is not the node's `user` (see [`crate::io`]).
    pub(crate) group_leader: Option<Pid>,
    /// An empty buffer that [`Proc::drain`] swaps with the signal queue when control
    /// signals are waiting, so that handling them costs no allocation: without it the
    /// queue started empty and was grown again after each such drain (twice per
    /// `gen_server` call, on each side).
    pub(crate) spare: Vec<Sig>,
}

/// The largest signal buffer a process keeps for reuse (see [`Ext::spare`]); a larger
/// one, left by a burst, is freed.
const SPARE_KEEP: usize = 256;

/// The signal queue, shared with every sender.
pub(crate) struct Inbox {
    pub(crate) queue: Vec<Sig>,
    /// The waker of the process's task, kept between wake-ups (so registering the same
    /// one again is free); [`Proc::armed`] says whether the next signal must wake it.
    pub(crate) waker: Option<Waker>,
    /// Set, with the exit reason, once the process has begun to exit.
    pub(crate) dead: Option<Box<Term>>,
    /// The registered name, if any.
    pub(crate) name: Option<Box<Atom>>,
}

thread_local! {
    /// This thread woke a process during the current poll of a process task: that
    /// process most likely runs next on this very thread, so busy-waiting for its
    /// answer would only delay it.
    static WOKE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

thread_local! {
    /// The process whose task this thread is polling the future of, or null: set and
    /// restored around that poll by [`ProcessTask`]. State that only the process's own
    /// code touches (the send cache, [`Proc::send_local`]) is reached through it without a lock.
    static CURRENT: std::cell::Cell<*const Proc> = const { std::cell::Cell::new(std::ptr::null()) };
}

/// The last local process a process sent a message to, so that a run of messages to
/// the same process finds it without the process table's slot lock: an atomic
/// read-modify-write less per message. The process is kept from the second message in
/// a row to the same pid, so a process that sends to a different pid each time (a
/// server answering its callers) pays only the comparison.
#[derive(Default)]
pub(crate) struct SendCache {
    /// `(index, serial)` of the last local pid sent to; `(0, 0)` names none (index 0 is
    /// never a process).
    last: (u32, u32),
    /// Its process, from the second message in a row on. A process that has exited
    /// refuses the push ([`Proc::push`] sees it dead), so the message is dropped as it
    /// would be through the table.
    proc: Option<ProcRef>,
}

/// A cell that only the process's own task reaches (see [`Proc::send_local`]).
struct OwnerCell<T>(std::cell::UnsafeCell<T>);

// SAFETY: the value is only reached by the thread that is polling the process's task
// (`CURRENT`), or by the task itself once it will not poll again (`finish`, or its
// drop), and a task is polled by one thread at a time; so there is never a second
// access at the same time.
unsafe impl<T: Send> Sync for OwnerCell<T> {}

/// Wakes a process task, noting it (see `WOKE`).
#[inline]
pub(crate) fn wake(w: &Waker) {
    WOKE.with(|c| c.set(true));
    w.wake_by_ref();
}

/// True if this thread woke a process during the current process poll.
#[inline]
pub(crate) fn woke_someone() -> bool {
    WOKE.with(|c| c.get())
}

/// How long a receive that ran dry busy-waits before it parks the process (see
/// [`Proc::spin_wait`]).
const SPIN_TIME: std::time::Duration = std::time::Duration::from_micros(2);

/// State private to the process.
pub(crate) struct Local {
    /// Messages taken out of the signal queue, in order: only `Sig::Msg` items.
    pub(crate) mailbox: VecDeque<Sig>,
    pub(crate) trap_exit: bool,
    /// Counts messages removed from the mailbox; a selective receive rescans from the
    /// start when it changes.
    pub(crate) removals: u32,
    /// An exit signal has decided that the process ends with this reason.
    pub(crate) pending_exit: Option<Box<Term>>,
    pub(crate) ext: Option<Box<Ext>>,
    /// Busy-waits that found nothing, in a row (capped), and how many empty receives
    /// to skip busy-waiting on before trying again: exponential backoff.
    pub(crate) spin_fails: u8,
    pub(crate) spin_skip: u8,
}

impl Local {
    pub(crate) fn ext(&mut self) -> &mut Ext {
        self.ext.get_or_insert_with(Default::default)
    }
}

/// The message of a mailbox item (always a `Sig::Msg`).
#[inline]
pub(crate) fn msg_of(s: &Sig) -> Option<&Term> {
    match s {
        Sig::Msg(t) => Some(t),
        Sig::Ctl(_) => None,
    }
}

/// A handle to a process's shared state: what the process table, the registry,
/// [`Ctx`] and the process task hold.
#[derive(Clone)]
pub(crate) struct ProcRef(Arc<Proc>);

impl std::ops::Deref for ProcRef {
    type Target = Proc;
    #[inline]
    fn deref(&self) -> &Proc {
        &self.0
    }
}

/// A process's entry in the node's process table.
pub(crate) struct Proc {
    pub(crate) pid: Pid,
    pub(crate) node: Node,
    pub(crate) inbox: ShortLock<Inbox>,
    pub(crate) local: ShortLock<Local>,
    /// Control signals waiting in the inbox (read without the lock).
    ctl_pending: AtomicU32,
    /// `local.pending_exit` is set (read without the lock).
    exiting: AtomicBool,
    /// A receive registered the waker during the current poll.
    parked: AtomicBool,
    /// Signals are waiting in the inbox (written under the inbox lock; read without).
    pending: AtomicBool,
    /// The process took a message during the current poll of its task.
    pub(crate) hot: AtomicBool,
    /// A group leader was set (so spawning does not lock to look for one).
    pub(crate) has_group_leader: AtomicBool,
    /// The next signal must wake the task. Read and written under the inbox lock only
    /// (it is an atomic to sit beside the other flags, not to be read without the lock).
    armed: AtomicBool,
    /// Where this process's messages went last (its own task only).
    send_cache: OwnerCell<SendCache>,
}

impl Proc {
    pub(crate) fn new(pid: Pid, node: Node) -> Proc {
        Proc {
            pid,
            node,
            inbox: ShortLock::new(Inbox {
                queue: Vec::new(),
                waker: None,
                dead: None,
                name: None,
            }),
            local: ShortLock::new(Local {
                mailbox: VecDeque::new(),
                trap_exit: false,
                removals: 0,
                pending_exit: None,
                ext: None,
                spin_fails: 0,
                spin_skip: 0,
            }),
            ctl_pending: AtomicU32::new(0),
            exiting: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            hot: AtomicBool::new(false),
            has_group_leader: AtomicBool::new(false),
            armed: AtomicBool::new(false),
            send_cache: OwnerCell(std::cell::UnsafeCell::new(SendCache::default())),
        }
    }

    /// Sends a message to the local process `(index, serial)` from this process: through
    /// the send cache when this thread is running this process's own code (the usual
    /// case: `ctx.send` inside the process), else through the process table.
    #[inline]
    pub(crate) fn send_local(&self, index: u32, serial: u32, message: Term) {
        let mut sig = Some(Sig::Msg(message));
        if std::ptr::eq(CURRENT.with(|c| c.get()), self) {
            // SAFETY: this thread is polling this process's task (`CURRENT`), so no
            // other access to the cache runs meanwhile (see `OwnerCell`), and nothing
            // below reaches the cache again: `push` and the table lookup run no user
            // code, and dropping a cached process only drops its own cache.
            let cache = unsafe { &mut *self.send_cache.0.get() };
            if cache.last != (index, serial) {
                cache.last = (index, serial);
                cache.proc = None;
            } else {
                if cache.proc.is_none() {
                    cache.proc = self.node.table_get(index, serial);
                }
                if let Some(p) = &cache.proc {
                    let _ = p.push(sig.take().expect("once"));
                }
            }
        }
        if let Some(sig) = sig {
            let _ = self.node.push_local(index, serial, sig);
        }
    }

    /// Puts a signal at the end of the queue and wakes the process if it waits for one,
    /// or gives the signal back, with the exit reason, if the process has begun to exit.
    ///
    /// The wake-up is by reference, under the lock: the waker stays registered for the
    /// next time, so neither side clones or drops it per signal, and the process cannot
    /// replace it meanwhile.
    #[inline]
    pub(crate) fn push(&self, sig: Sig) -> Result<(), (Sig, Term)> {
        let mut inbox = self.inbox.lock();
        if let Some(reason) = &inbox.dead {
            let reason = (**reason).clone();
            return Err((sig, reason));
        }
        if let Sig::Ctl(_) = sig {
            self.ctl_pending.fetch_add(1, Ordering::Relaxed);
        }
        inbox.queue.push(sig);
        self.pending.store(true, Ordering::Release);
        if self.armed.load(Ordering::Relaxed) {
            self.armed.store(false, Ordering::Relaxed);
            if let Some(w) = &inbox.waker {
                wake(w);
            }
        }
        Ok(())
    }

    /// Busy-waits a short while for a signal: true if one came. Used by a receive that
    /// just ran dry in a process that is exchanging messages, so that a peer running
    /// on another thread can answer without the cost of waking this task up.
    pub(crate) fn spin_wait(&self) -> bool {
        let start = std::time::Instant::now();
        loop {
            for _ in 0..16 {
                if self.pending.load(Ordering::Acquire) {
                    return true;
                }
                std::hint::spin_loop();
            }
            if start.elapsed() > SPIN_TIME {
                return self.pending.load(Ordering::Acquire);
            }
        }
    }

    /// True once the process has begun to exit.
    pub(crate) fn is_dead(&self) -> bool {
        self.inbox.lock().dead.is_some()
    }

    /// Messages waiting: in the message queue and still in the signal queue.
    pub(crate) fn message_queue_len(&self) -> usize {
        let local = self.local.lock().mailbox.len();
        let inbox = self.inbox.lock();
        local + inbox.queue.iter().filter(|s| s.is_message()).count()
    }

    fn set_exit(&self, local: &mut Local, reason: Term) {
        if local.pending_exit.is_none() {
            local.pending_exit = Some(Box::new(reason));
            self.exiting.store(true, Ordering::Release);
        }
    }

    /// Takes every waiting signal out of the queue, in order: messages go to the
    /// message queue, the other signals take effect. Stops early when an exit signal
    /// ends the process (`local.pending_exit`). With a waker, registers it once the
    /// queue is empty. Returns true if messages were added.
    pub(crate) fn drain(&self, local: &mut Local, waker: Option<&Waker>) -> bool {
        let mut added = false;
        loop {
            if local.pending_exit.is_some() {
                return added;
            }
            let mut inbox = self.inbox.lock();
            if inbox.queue.is_empty() {
                if let Some(waker) = waker {
                    register(self, &mut inbox, waker);
                    self.parked.store(true, Ordering::Relaxed);
                }
                return added;
            }
            if self.ctl_pending.load(Ordering::Relaxed) == 0 {
                // Only messages: move them in one step, keeping both buffers (the
                // conversions between `Vec` and `VecDeque` do not copy here).
                self.pending.store(false, Ordering::Relaxed);
                if local.mailbox.is_empty() {
                    let batch = VecDeque::from(std::mem::take(&mut inbox.queue));
                    let old = std::mem::replace(&mut local.mailbox, batch);
                    inbox.queue = Vec::from(old);
                } else {
                    local.mailbox.extend(inbox.queue.drain(..));
                }
                if let Some(waker) = waker {
                    register(self, &mut inbox, waker);
                    self.parked.store(true, Ordering::Relaxed);
                }
                return true;
            }
            let spare = local.ext.as_mut().map(|e| std::mem::take(&mut e.spare));
            let mut batch = std::mem::replace(&mut inbox.queue, spare.unwrap_or_default());
            self.ctl_pending.store(0, Ordering::Relaxed);
            self.pending.store(false, Ordering::Relaxed);
            drop(inbox);
            let mut sigs = batch.drain(..);
            while let Some(sig) = sigs.next() {
                match sig {
                    Sig::Msg(_) => {
                        local.mailbox.push_back(sig);
                        added = true;
                    }
                    Sig::Ctl(c) => {
                        added |= self.handle(local, *c);
                        if local.pending_exit.is_some() {
                            // The rest goes back in front, for the exit handler.
                            let mut rest: Vec<Sig> = sigs.collect();
                            if !rest.is_empty() {
                                let mut inbox = self.inbox.lock();
                                rest.append(&mut inbox.queue);
                                inbox.queue = rest;
                            }
                            return added;
                        }
                    }
                }
            }
            drop(sigs);
            if batch.capacity() <= SPARE_KEEP {
                if let Some(ext) = local.ext.as_mut() {
                    ext.spare = batch;
                }
            }
        }
    }

    /// Handles one control signal. Returns true if it added a message.
    fn handle(&self, local: &mut Local, ctl: Ctl) -> bool {
        match ctl {
            Ctl::Alias { alias, message } => {
                let Some(ext) = local.ext.as_mut() else {
                    return false;
                };
                let Some(mode) = ext.aliases.get(&alias).copied() else {
                    return false;
                };
                match mode {
                    AliasMode::ExplicitUnalias | AliasMode::Demonitor => {}
                    AliasMode::Reply => {
                        ext.aliases.remove(&alias);
                    }
                    AliasMode::ReplyDemonitor => {
                        ext.aliases.remove(&alias);
                        if let Some(m) = ext.monitors_out.remove(&alias) {
                            self.node.send_ctl_dest(
                                &m.target,
                                Ctl::Demonitor { reference: alias },
                                Some(&self.pid),
                            );
                        }
                    }
                }
                local.mailbox.push_back(Sig::Msg(message));
                true
            }
            Ctl::Link(from) => {
                if from != self.pid {
                    local.ext().links.insert(from);
                }
                false
            }
            Ctl::Unlink(from) => {
                if let Some(ext) = local.ext.as_mut() {
                    ext.links.remove(&from);
                }
                false
            }
            Ctl::Exit { from, reason, link } => self.exit_signal(local, from, reason, link),
            Ctl::Monitor { watcher, reference } => {
                local.ext().monitors_in.insert(reference, watcher);
                false
            }
            Ctl::Demonitor { reference } => {
                if let Some(ext) = local.ext.as_mut() {
                    ext.monitors_in.remove(&reference);
                }
                false
            }
            Ctl::Down { reference, reason } => {
                let Some(ext) = local.ext.as_mut() else {
                    return false;
                };
                let Some(m) = ext.monitors_out.remove(&reference) else {
                    return false;
                };
                if m.alias.is_some() {
                    ext.aliases.remove(&reference);
                }
                local.mailbox.push_back(Sig::Msg(Term::tuple(vec![
                    Term::atom("DOWN"),
                    Term::from(reference),
                    Term::atom("process"),
                    m.object,
                    reason,
                ])));
                true
            }
        }
    }

    /// An exit signal arrives: Erlang's rules. Returns true if it became a message.
    fn exit_signal(&self, local: &mut Local, from: Pid, reason: Term, link: bool) -> bool {
        if link {
            let linked = local.ext.as_mut().is_some_and(|e| e.links.remove(&from));
            if !linked {
                return false;
            }
            if local.trap_exit {
                local
                    .mailbox
                    .push_back(Sig::Msg(exit_message(from, reason)));
                return true;
            }
            if !reason.is_atom("normal") {
                self.set_exit(local, reason);
            }
        } else if reason.is_atom("kill") {
            self.set_exit(local, reason::killed());
        } else if local.trap_exit {
            local
                .mailbox
                .push_back(Sig::Msg(exit_message(from, reason)));
            return true;
        } else if reason.is_atom("normal") {
            if from == self.pid {
                self.set_exit(local, reason);
            }
        } else {
            self.set_exit(local, reason);
        }
        false
    }

    /// Ends the process: removes it from the table, marks it dead, unregisters its
    /// name, and sends the exit signals to its links and `DOWN` to its monitors.
    pub(crate) fn finish(&self, reason: Term) {
        let node = &self.node;
        // Out of the table first: from here on, no sender finds the process, and
        // anyone told of its exit (even by a bounce) sees it gone.
        node.remove_proc(&self.pid);
        let (rest, name) = {
            let mut inbox = self.inbox.lock();
            inbox.dead = Some(Box::new(reason.clone()));
            inbox.waker = None;
            self.armed.store(false, Ordering::Relaxed);
            (std::mem::take(&mut inbox.queue), inbox.name.take())
        };
        if let Some(name) = name {
            node.unregister_if(&name, &self.pid);
        }
        self.clear_send_cache();
        let (ext, mailbox) = {
            let mut local = self.local.lock();
            local.pending_exit = None;
            (local.ext.take(), std::mem::take(&mut local.mailbox))
        };
        drop(mailbox);
        let mut ext = ext.map(|b| *b).unwrap_or_default();
        // Signals that arrived before the process died still take effect: a link or a
        // monitor that came in is answered with the real exit reason.
        for sig in rest {
            if let Sig::Ctl(c) = sig {
                match *c {
                    Ctl::Link(from) => {
                        ext.links.insert(from);
                    }
                    Ctl::Unlink(from) => {
                        ext.links.remove(&from);
                    }
                    Ctl::Monitor { watcher, reference } => {
                        ext.monitors_in.insert(reference, watcher);
                    }
                    Ctl::Demonitor { reference } => {
                        ext.monitors_in.remove(&reference);
                    }
                    _ => {}
                }
            }
        }
        let me = Some(&self.pid);
        for pid in ext.links {
            if pid == self.pid {
                continue;
            }
            node.send_ctl(
                &pid,
                Ctl::Exit {
                    from: self.pid.clone(),
                    reason: reason.clone(),
                    link: true,
                },
                me,
            );
        }
        for (reference, watcher) in ext.monitors_in {
            match watcher {
                Watcher::Pid(pid) => node.send_ctl(
                    &pid,
                    Ctl::Down {
                        reference,
                        reason: reason.clone(),
                    },
                    me,
                ),
                Watcher::External(tx) => {
                    let _ = tx.send(reason.clone());
                }
            }
        }
        for (reference, m) in ext.monitors_out {
            node.send_ctl_dest(&m.target, Ctl::Demonitor { reference }, me);
        }
    }

    /// Empties the send cache, breaking a cycle of two processes that each keep the
    /// other. Called only by the process's task once its future will not be polled
    /// again: from `finish`, after the last poll, or from the task's drop.
    fn clear_send_cache(&self) {
        // SAFETY: the task is not polling the process's future (see above), and only
        // that poll reaches the cache otherwise (see `OwnerCell`).
        drop(std::mem::take(unsafe { &mut *self.send_cache.0.get() }));
    }

    /// The task was dropped without the process finishing (the runtime shut down):
    /// take it out of the table and the registry, without signals.
    fn abandon(&self) {
        self.clear_send_cache();
        self.node.remove_proc(&self.pid);
        let name = {
            let mut inbox = self.inbox.lock();
            if inbox.dead.is_none() {
                inbox.dead = Some(Box::new(reason::killed()));
            }
            inbox.waker = None;
            self.armed.store(false, Ordering::Relaxed);
            inbox.name.take()
        };
        if let Some(name) = name {
            self.node.unregister_if(&name, &self.pid);
        }
    }
}

/// Makes sure a control signal wakes the task: registers the waker, and wakes at once
/// if one is already waiting.
fn arm(proc: &Proc, waker: &Waker) {
    let mut inbox = proc.inbox.lock();
    register(proc, &mut inbox, waker);
    drop(inbox);
    if proc.ctl_pending.load(Ordering::Relaxed) != 0 {
        waker.wake_by_ref();
    }
}

#[inline]
fn register(proc: &Proc, inbox: &mut Inbox, waker: &Waker) {
    proc.armed.store(true, Ordering::Relaxed);
    match &inbox.waker {
        Some(w) if w.will_wake(waker) => {}
        _ => inbox.waker = Some(waker.clone()),
    }
}

/// The group leader of a process, if it is not the node's default.
pub(crate) fn group_leader(proc: &Proc) -> Option<Pid> {
    if !proc.has_group_leader.load(Ordering::Relaxed) {
        return None;
    }
    proc.local
        .lock()
        .ext
        .as_ref()
        .and_then(|e| e.group_leader.clone())
}

/// Sets the group leader of a process.
pub(crate) fn set_group_leader(proc: &Proc, gl: Pid) {
    proc.local.lock().ext().group_leader = Some(gl);
    proc.has_group_leader.store(true, Ordering::Relaxed);
}

/// `{'EXIT', From, Reason}`.
pub(crate) fn exit_message(from: Pid, reason: Term) -> Term {
    Term::tuple(vec![Term::atom("EXIT"), Term::Pid(from), reason])
}

enum Stage<F, Fut> {
    Start(Option<F>),
    Running(Fut),
    Done,
}

/// The future of a process's task: runs the process function, handling control
/// signals before each poll, and ends the process with the right reason.
///
/// A process can be suspended at an await point (see [`crate::suspend`]): the task
/// then waits for the gate before polling the process function again, while still
/// handling control signals, so that an exit signal ends a suspended process.
///
/// The task's own future is two pointers, so that Tokio's task cell stays at its
/// smallest size (128 bytes); the process function's state is in `state`, a small
/// allocation of its own.
pub(crate) struct ProcessTask<F, Fut> {
    proc: ProcRef,
    state: Box<TaskState<F, Fut>>,
}

pub(crate) struct TaskState<F, Fut> {
    stage: Stage<F, Fut>,
    suspended: Option<crate::suspend::Wait>,
}

impl<F, Fut> ProcessTask<F, Fut>
where
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoExitReason,
{
    /// A process with shared state `proc` that will run `f`: its task, and the handle
    /// for the process table.
    pub(crate) fn new(proc: Proc, f: F) -> (Self, ProcRef) {
        let handle = ProcRef(Arc::new(proc));
        let task = ProcessTask {
            proc: handle.clone(),
            state: Box::new(TaskState {
                stage: Stage::Start(Some(f)),
                suspended: None,
            }),
        };
        (task, handle)
    }
}

impl<F, Fut> Future for ProcessTask<F, Fut>
where
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoExitReason,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let proc = &this.proc;
        let this = &mut *this.state;
        let mut just_started = false;
        let reason = loop {
            match &mut this.stage {
                Stage::Start(f) => {
                    // The first poll runs the start of the process function before any
                    // signal is handled, so a process that begins by setting
                    // `trap_exit` (or registering a name) does so before an exit
                    // signal can reach it.
                    let f = f.take().expect("started once");
                    let ctx = Ctx::new(proc.clone());
                    match catch_unwind(AssertUnwindSafe(move || f(ctx))) {
                        Ok(fut) => {
                            this.stage = Stage::Running(fut);
                            just_started = true;
                        }
                        Err(p) => break reason::from_panic(p),
                    }
                }
                Stage::Running(fut) => {
                    if !just_started && proc.ctl_pending.load(Ordering::Relaxed) != 0 {
                        let mut local = proc.local.lock();
                        proc.drain(&mut local, None);
                        if let Some(r) = local.pending_exit.take() {
                            break *r;
                        }
                    }
                    if let Some(gate) = &mut this.suspended {
                        if gate.as_mut().poll(cx).is_pending() {
                            arm(proc, cx.waker());
                            return Poll::Pending;
                        }
                        this.suspended = None;
                    }
                    proc.parked.store(false, Ordering::Relaxed);
                    proc.hot.store(false, Ordering::Relaxed);
                    WOKE.with(|c| c.set(false));
                    // SAFETY: the process future lives in the heap allocation of
                    // `state`, which is never moved out of: it is only dropped in
                    // place, by assigning `Stage::Done` (or by dropping the box).
                    let fut = unsafe { Pin::new_unchecked(fut) };
                    crate::suspend::enter();
                    let outer = CURRENT.with(|c| c.replace(&**proc as *const Proc));
                    let polled = catch_unwind(AssertUnwindSafe(|| fut.poll(cx)));
                    CURRENT.with(|c| c.set(outer));
                    let gate = crate::suspend::leave();
                    match polled {
                        Ok(Poll::Pending) => {
                            if proc.exiting.load(Ordering::Acquire) {
                                if let Some(r) = proc.local.lock().pending_exit.take() {
                                    break *r;
                                }
                            }
                            if let Some(mut gate) = gate {
                                if gate.as_mut().poll(cx).is_pending() {
                                    this.suspended = Some(gate);
                                    arm(proc, cx.waker());
                                    return Poll::Pending;
                                }
                            }
                            if !proc.parked.load(Ordering::Relaxed) {
                                // Not waiting in a receive: make sure a signal wakes
                                // the task, and handle one that came meanwhile.
                                arm(proc, cx.waker());
                            }
                            return Poll::Pending;
                        }
                        Ok(Poll::Ready(out)) => {
                            let pending = if proc.exiting.load(Ordering::Acquire) {
                                proc.local.lock().pending_exit.take()
                            } else {
                                None
                            };
                            break match pending {
                                Some(r) => *r,
                                None => out.into_exit_reason(),
                            };
                        }
                        Err(p) => break reason::from_panic(p),
                    }
                }
                Stage::Done => return Poll::Ready(()),
            }
        };
        // Drop the process future (in place) before the exit signals go out.
        this.stage = Stage::Done;
        proc.finish(reason);
        Poll::Ready(())
    }
}

impl<F, Fut> Drop for ProcessTask<F, Fut> {
    fn drop(&mut self) {
        if !matches!(self.state.stage, Stage::Done) {
            // The runtime dropped the task before the process finished: take the
            // process out of the table.
            self.proc.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Ctx, Node, Term};
    use std::sync::Arc;

    /// A drain that finds control signals keeps its buffer for the next one, but not
    /// one grown by a burst.
    #[tokio::test]
    async fn drain_keeps_a_small_signal_buffer_and_frees_a_large_one() {
        use super::{Ctl, Sig, SPARE_KEEP};
        let node = Node::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let pid = node.spawn(move |ctx: Ctx| async move {
            let _ = ctx.alias(); // so that it has its links-and-monitors state
            while ctx.receive().await.is_atom("go") {
                tx.send(()).unwrap();
            }
        });
        let h = node.lookup(&pid).unwrap();
        let spare = || {
            let local = h.local.lock();
            local.ext.as_ref().map(|e| e.spare.capacity())
        };
        let round = |n: usize| {
            for _ in 0..n {
                assert!(h.push(Sig::ctl(Ctl::Unlink(pid.clone()))).is_ok());
            }
            node.send(&pid, Term::atom("go")).unwrap();
        };
        round(2);
        rx.recv().await.unwrap();
        round(2);
        rx.recv().await.unwrap();
        let kept = spare().expect("a process that took control signals has its ext");
        assert!(
            kept > 0,
            "the buffer of a small drain is kept for the next one"
        );
        round(4 * SPARE_KEEP);
        rx.recv().await.unwrap();
        let kept = spare().unwrap();
        assert!(
            kept <= SPARE_KEEP,
            "a burst's buffer of {kept} slots was kept"
        );
        node.send(&pid, Term::atom("stop")).unwrap();
    }

    /// Two processes that each keep the other in their send cache are both freed once
    /// they have exited: `finish` clears the cache.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn processes_that_cached_each_other_are_freed_when_they_exit() {
        let node = Node::new();
        let ping = node.spawn(|ctx: Ctx| async move {
            let Term::Pid(peer) = ctx.receive().await else {
                return;
            };
            for i in 0..4 {
                ctx.send(&peer, Term::Int(i)).unwrap();
                ctx.receive().await;
            }
        });
        let ping2 = ping.clone();
        let pong = node.spawn(move |ctx: Ctx| async move {
            for _ in 0..4 {
                let m = ctx.receive().await;
                ctx.send(&ping2, m).unwrap();
            }
        });
        let handles = [node.lookup(&ping).unwrap(), node.lookup(&pong).unwrap()];
        let exits = [node.wait_exit(&ping), node.wait_exit(&pong)];
        node.send(&ping, Term::Pid(pong.clone())).unwrap();
        for e in exits {
            assert_eq!(e.await, Term::atom("normal"));
        }
        for h in &handles {
            // The task may still be dropping its own handles just after the exit.
            let mut n = Arc::strong_count(&h.0);
            for _ in 0..200 {
                if n == 1 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                n = Arc::strong_count(&h.0);
            }
            assert_eq!(n, 1, "only the test holds {:?}", h.pid);
        }
    }

    /// The same when the runtime shuts down under two parked processes that hold each
    /// other: the dropped tasks clear their caches, so neither process is leaked.
    #[test]
    fn processes_that_cached_each_other_are_freed_when_the_runtime_drops_them() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let node = rt.block_on(async { Node::new() });
        let (tx, rx) = std::sync::mpsc::channel();
        let handles = rt.block_on(async {
            let a = node.spawn(|ctx: Ctx| async move {
                let Term::Pid(b) = ctx.receive().await else {
                    return;
                };
                ctx.send(&b, Term::Int(1)).unwrap();
                ctx.send(&b, Term::Int(2)).unwrap();
                // Parked for good.
                ctx.receive_match(|_| false).await;
            });
            let a2 = a.clone();
            let b = node.spawn(move |ctx: Ctx| async move {
                for _ in 0..2 {
                    ctx.receive().await;
                }
                ctx.send(&a2, Term::Int(3)).unwrap();
                ctx.send(&a2, Term::Int(4)).unwrap();
                tx.send(()).unwrap();
                ctx.receive_match(|_| false).await;
            });
            node.send(&a, Term::Pid(b.clone())).unwrap();
            let handles = [node.lookup(&a).unwrap(), node.lookup(&b).unwrap()];
            while rx.try_recv().is_err() {
                tokio::task::yield_now().await;
            }
            handles
        });
        drop(rt);
        for h in &handles {
            assert_eq!(
                Arc::strong_count(&h.0),
                1,
                "only the test holds {:?}",
                h.pid
            );
        }
    }
}
