//! The process: its shared entry in the node's table, its signal queue, its private
//! state, and the task that runs it.
//!
//! # Layout
//!
//! A process is one Tokio task and one [`Proc`] allocation:
//!
//! * [`Inbox`] is the one ordered signal queue that every sender pushes into, under a
//!   short mutex, together with the waker of the process's task.
//! * [`Local`] is the state only the process itself touches: the message queue proper
//!   (messages that have been taken out of the signal queue), the trap-exit flag, and,
//!   allocated only when first needed, the links, monitors and aliases.
//!
//! The process drains its signal queue in order. Messages move to the message queue;
//! the other signals (links, exits, monitors) take effect at that point, exactly as in
//! BEAM. The task that runs the process drains the queue before every poll of the
//! process's own future, so an exit signal ends the process even when it is blocked in
//! something other than `receive`: its future is dropped and never polled again.

use crate::ctx::Ctx;
use crate::node::Node;
use crate::reason::{self, IntoExitReason};
use crate::signal::{Ctl, Sig, Watcher};
use crate::table::{FxHashMap, FxHashSet};
use ferrobeam_term::{Atom, Pid, Ref, Term};
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// Locks a mutex, ignoring poisoning: every critical section here leaves the state
/// consistent, and the only user code run under a lock (a receive predicate) only reads.
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
}

/// The signal queue, shared with every sender.
pub(crate) struct Inbox {
    pub(crate) queue: VecDeque<Sig>,
    pub(crate) waker: Option<Waker>,
    /// Set, with the exit reason, once the process has begun to exit.
    pub(crate) dead: Option<Box<Term>>,
    /// The registered name, if any.
    pub(crate) name: Option<Atom>,
}

/// State private to the process.
pub(crate) struct Local {
    /// Messages taken out of the signal queue, in order.
    pub(crate) mailbox: VecDeque<Term>,
    /// Buffer swapped with the signal queue when draining it, kept to reuse its storage.
    spare: VecDeque<Sig>,
    pub(crate) trap_exit: bool,
    /// Counts messages removed from anywhere but the front of the mailbox; a selective
    /// receive rescans from the start when it changes.
    pub(crate) removals: u64,
    /// An exit signal has decided that the process ends with this reason.
    pub(crate) pending_exit: Option<Box<Term>>,
    pub(crate) ext: Option<Box<Ext>>,
}

impl Local {
    pub(crate) fn ext(&mut self) -> &mut Ext {
        self.ext.get_or_insert_with(Default::default)
    }

    fn exit(&mut self, reason: Term) {
        if self.pending_exit.is_none() {
            self.pending_exit = Some(Box::new(reason));
        }
    }
}

/// A process's entry in the node's process table.
pub(crate) struct Proc {
    pub(crate) pid: Pid,
    pub(crate) inbox: Mutex<Inbox>,
    pub(crate) local: Mutex<Local>,
}

impl Proc {
    pub(crate) fn new(pid: Pid) -> Proc {
        Proc {
            pid,
            inbox: Mutex::new(Inbox {
                queue: VecDeque::new(),
                waker: None,
                dead: None,
                name: None,
            }),
            local: Mutex::new(Local {
                mailbox: VecDeque::new(),
                spare: VecDeque::new(),
                trap_exit: false,
                removals: 0,
                pending_exit: None,
                ext: None,
            }),
        }
    }

    /// Puts a signal at the end of the queue and wakes the process. Gives the signal
    /// back, with the exit reason, if the process has already begun to exit.
    #[inline]
    pub(crate) fn push(&self, sig: Sig) -> Result<(), (Sig, Term)> {
        let waker = {
            let mut inbox = lock(&self.inbox);
            if let Some(reason) = &inbox.dead {
                let reason = (**reason).clone();
                return Err((sig, reason));
            }
            inbox.queue.push_back(sig);
            inbox.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// True once the process has begun to exit.
    pub(crate) fn is_dead(&self) -> bool {
        lock(&self.inbox).dead.is_some()
    }

    /// Messages waiting: in the message queue and still in the signal queue.
    pub(crate) fn message_queue_len(&self) -> usize {
        let local = lock(&self.local).mailbox.len();
        let inbox = lock(&self.inbox);
        local + inbox.queue.iter().filter(|s| s.is_message()).count()
    }

    /// Registers `waker` unless signals are waiting; true if the queue was empty.
    #[inline]
    fn register_if_empty(&self, waker: &Waker) -> bool {
        let mut inbox = lock(&self.inbox);
        if inbox.queue.is_empty() {
            match &inbox.waker {
                Some(w) if w.will_wake(waker) => {}
                _ => inbox.waker = Some(waker.clone()),
            }
            true
        } else {
            false
        }
    }

    /// Takes every waiting signal out of the queue, in order, and handles it: messages
    /// go to the message queue, the other signals take effect. Stops early when an exit
    /// signal ends the process (`local.pending_exit`). With a waker, registers it once
    /// the queue is empty.
    pub(crate) fn drain(&self, local: &mut Local, node: &Node, waker: Option<&Waker>) {
        loop {
            if local.pending_exit.is_some() {
                return;
            }
            {
                let mut inbox = lock(&self.inbox);
                if inbox.queue.is_empty() {
                    if let Some(waker) = waker {
                        match &inbox.waker {
                            Some(w) if w.will_wake(waker) => {}
                            _ => inbox.waker = Some(waker.clone()),
                        }
                    }
                    return;
                }
                debug_assert!(local.spare.is_empty());
                std::mem::swap(&mut inbox.queue, &mut local.spare);
            }
            while let Some(sig) = local.spare.pop_front() {
                match sig {
                    Sig::Msg(m) => local.mailbox.push_back(m),
                    Sig::Ctl(c) => {
                        self.handle(local, node, *c);
                        if local.pending_exit.is_some() {
                            // The rest stays in `spare` for the exit handler.
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Handles one control signal.
    fn handle(&self, local: &mut Local, node: &Node, ctl: Ctl) {
        match ctl {
            Ctl::Alias { alias, message } => {
                let Some(ext) = local.ext.as_mut() else {
                    return;
                };
                let Some(mode) = ext.aliases.get(&alias).copied() else {
                    return;
                };
                match mode {
                    AliasMode::ExplicitUnalias | AliasMode::Demonitor => {}
                    AliasMode::Reply => {
                        ext.aliases.remove(&alias);
                    }
                    AliasMode::ReplyDemonitor => {
                        ext.aliases.remove(&alias);
                        if let Some(m) = ext.monitors_out.remove(&alias) {
                            node.send_ctl_dest(
                                &m.target,
                                Ctl::Demonitor { reference: alias },
                                Some(&self.pid),
                            );
                        }
                    }
                }
                local.mailbox.push_back(message);
            }
            Ctl::Link(from) => {
                if from != self.pid {
                    local.ext().links.insert(from);
                }
            }
            Ctl::Unlink(from) => {
                if let Some(ext) = local.ext.as_mut() {
                    ext.links.remove(&from);
                }
            }
            Ctl::Exit { from, reason, link } => self.exit_signal(local, from, reason, link),
            Ctl::Monitor { watcher, reference } => {
                local.ext().monitors_in.insert(reference, watcher);
            }
            Ctl::Demonitor { reference } => {
                if let Some(ext) = local.ext.as_mut() {
                    ext.monitors_in.remove(&reference);
                }
            }
            Ctl::Down { reference, reason } => {
                let Some(ext) = local.ext.as_mut() else {
                    return;
                };
                let Some(m) = ext.monitors_out.remove(&reference) else {
                    return;
                };
                if m.alias.is_some() {
                    ext.aliases.remove(&reference);
                }
                local.mailbox.push_back(Term::tuple(vec![
                    Term::atom("DOWN"),
                    Term::from(reference),
                    Term::atom("process"),
                    m.object,
                    reason,
                ]));
            }
        }
    }

    /// An exit signal arrives: Erlang's rules.
    fn exit_signal(&self, local: &mut Local, from: Pid, reason: Term, link: bool) {
        if link {
            let linked = local.ext.as_mut().is_some_and(|e| e.links.remove(&from));
            if !linked {
                return;
            }
            if local.trap_exit {
                local.mailbox.push_back(exit_message(from, reason));
            } else if !reason.is_atom("normal") {
                local.exit(reason);
            }
        } else if reason.is_atom("kill") {
            local.exit(reason::killed());
        } else if local.trap_exit {
            local.mailbox.push_back(exit_message(from, reason));
        } else if reason.is_atom("normal") {
            if from == self.pid {
                local.exit(reason);
            }
        } else {
            local.exit(reason);
        }
    }

    /// Ends the process: marks it dead, unregisters its name, removes it from the table,
    /// and sends the exit signals to its links and `DOWN` to its monitors.
    pub(crate) fn finish(self: &Arc<Self>, node: &Node, reason: Term) {
        // Out of the table first: from here on, no sender finds the process, and
        // anyone told of its exit (even by a bounce below) sees it gone.
        node.remove_proc(&self.pid);
        let (rest, name) = {
            let mut inbox = lock(&self.inbox);
            inbox.dead = Some(Box::new(reason.clone()));
            inbox.waker = None;
            (std::mem::take(&mut inbox.queue), inbox.name.take())
        };
        if let Some(name) = name {
            node.unregister_if(&name, &self.pid);
        }
        let (ext, spare, mailbox) = {
            let mut local = lock(&self.local);
            local.pending_exit = None;
            (
                local.ext.take(),
                std::mem::take(&mut local.spare),
                std::mem::take(&mut local.mailbox),
            )
        };
        drop(mailbox);
        let mut ext = ext.map(|b| *b).unwrap_or_default();
        // Signals that arrived before the process died still take effect: a link or a
        // monitor that came in is answered with the real exit reason.
        for sig in spare.into_iter().chain(rest) {
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
}

/// The group leader of a process, if it is not the node's default.
pub(crate) fn group_leader(proc: &Proc) -> Option<Pid> {
    lock(&proc.local)
        .ext
        .as_ref()
        .and_then(|e| e.group_leader.clone())
}

/// Sets the group leader of a process.
pub(crate) fn set_group_leader(proc: &Proc, gl: Pid) {
    lock(&proc.local).ext().group_leader = Some(gl);
}

/// `{'EXIT', From, Reason}`.
pub(crate) fn exit_message(from: Pid, reason: Term) -> Term {
    Term::tuple(vec![Term::atom("EXIT"), Term::Pid(from), reason])
}

/// The body of a process's task: runs the process function, draining the signal queue
/// before each poll, and ends the process with the right reason.
pub(crate) async fn run<F, Fut>(proc: Arc<Proc>, node: Node, f: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future,
    Fut::Output: IntoExitReason,
{
    let reason = {
        let ctx = Ctx::new(proc.clone(), node.clone());
        match catch_unwind(AssertUnwindSafe(move || f(ctx))) {
            Err(p) => reason::from_panic(p),
            Ok(user) => {
                let mut user = pin!(user);
                // The first poll runs the start of the process function before any
                // signal is handled, so a process that begins by setting `trap_exit`
                // (or registering a name) does so before an exit signal can reach it.
                let mut started = false;
                // Set while the process is suspended (see `crate::suspend`): a send
                // found its connection busy.
                let mut suspended: Option<crate::suspend::Wait> = None;
                poll_fn(|cx: &mut Context<'_>| {
                    let first = !started;
                    started = true;
                    if !first {
                        if let Some(r) = proc.poll_signals(&node, cx.waker()) {
                            return Poll::Ready(r);
                        }
                    }
                    if let Some(w) = suspended.as_mut() {
                        if w.as_mut().poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                        suspended = None;
                    }
                    crate::suspend::enter();
                    let polled = catch_unwind(AssertUnwindSafe(|| user.as_mut().poll(cx)));
                    let gate = crate::suspend::leave();
                    match polled {
                        Ok(Poll::Pending) => match proc.take_pending_exit() {
                            Some(r) => Poll::Ready(r),
                            None => {
                                if first && !proc.register_if_empty(cx.waker()) {
                                    cx.waker().wake_by_ref();
                                }
                                if let Some(mut w) = gate {
                                    if w.as_mut().poll(cx).is_pending() {
                                        suspended = Some(w);
                                    }
                                }
                                Poll::Pending
                            }
                        },
                        Ok(Poll::Ready(out)) => Poll::Ready(
                            proc.take_pending_exit()
                                .unwrap_or_else(|| out.into_exit_reason()),
                        ),
                        Err(p) => Poll::Ready(reason::from_panic(p)),
                    }
                })
                .await
            }
        }
    };
    proc.finish(&node, reason);
}

impl Proc {
    /// Before each poll of the process future: handle waiting signals. Returns the exit
    /// reason if one of them ends the process.
    #[inline]
    fn poll_signals(&self, node: &Node, waker: &Waker) -> Option<Term> {
        if self.register_if_empty(waker) {
            return None;
        }
        let mut local = lock(&self.local);
        self.drain(&mut local, node, Some(waker));
        local.pending_exit.take().map(|b| *b)
    }

    fn take_pending_exit(&self) -> Option<Term> {
        lock(&self.local).pending_exit.take().map(|b| *b)
    }
}
