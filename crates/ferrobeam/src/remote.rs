//! Remote spawn and remote group leaders: what a process asks of another node beyond
//! sending it signals.
//!
//! [`Ctx::spawn_remote`], [`Ctx::spawn_link_remote`] and [`Ctx::spawn_monitor_remote`]
//! start a process on another node, as `spawn/4`, `spawn_link/4` and `spawn_monitor/4`
//! do: the distribution layer sends `SPAWN_REQUEST` with this process's group leader
//! (so the new process's output comes back here) and the `link`/`monitor` options, and
//! the node answers `SPAWN_REPLY`. On a ferrobeam node the function is one registered
//! there by `{Module, Function}` ([`Node::register_fn`]); on a BEAM node it is any
//! exported Erlang function. A node that does not know the function refuses the spawn
//! with an error (ferrobeam answers `badarg`), a node that cannot be reached gives
//! `noconnection`.

use crate::ctx::Ctx;
use crate::node::Node;
use crate::process::MonitorOut;
use crate::signal::Dest;
use ferrobeam_term::{Atom, Pid, Ref, Term};

/// A spawn request for another node (`SPAWN_REQUEST`).
#[derive(Debug, Clone, PartialEq)]
pub struct SpawnRequest {
    /// Identifies the request; also the monitor reference with `monitor`.
    pub req_id: Ref,
    /// The requesting process, parent of the new one.
    pub from: Pid,
    /// The group leader the new process gets.
    pub group_leader: Pid,
    /// The module of the function to run.
    pub module: Atom,
    /// The function.
    pub function: Atom,
    /// Its arguments.
    pub args: Vec<Term>,
    /// Link the new process to `from`.
    pub link: bool,
    /// `from` monitors the new process, with `req_id` as the reference.
    pub monitor: bool,
}

/// What a process asks of another node that is not a signal to one of its processes.
/// The distribution layer carries these (see
/// [`RemoteRouter::request`](crate::RemoteRouter::request)).
#[derive(Debug, Clone, PartialEq)]
pub enum DistRequest {
    /// Start a process there.
    Spawn(SpawnRequest),
    /// `group_leader(GroupLeader, Pid)` for a process there (`GROUP_LEADER`).
    GroupLeader {
        /// The new group leader.
        group_leader: Pid,
        /// The process whose group leader it becomes.
        pid: Pid,
    },
}

/// Options of [`Ctx::spawn_request`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpawnOpts {
    /// Link the new process to the caller (`spawn_link`).
    pub link: bool,
    /// Monitor it (`spawn_monitor`).
    pub monitor: bool,
}

/// The message a requester gets for a spawn request, as BEAM delivers it:
/// `{spawn_reply, ReqId, ok, Pid}` or `{spawn_reply, ReqId, error, Reason}`.
pub(crate) fn reply_message(req_id: &Ref, result: Result<Pid, Term>) -> Term {
    let (status, value) = match result {
        Ok(p) => (Term::atom("ok"), Term::Pid(p)),
        Err(r) => (Term::atom("error"), r),
    };
    Term::tuple(vec![
        Term::atom("spawn_reply"),
        Term::from(req_id.clone()),
        status,
        value,
    ])
}

/// Sends a request to another node through the router; with no router, a spawn is
/// answered with `noconnection` at once.
pub(crate) fn send(node: &Node, target: &Atom, request: DistRequest) {
    match node.router() {
        Some(r) => r.request(target, request),
        None => {
            if let DistRequest::Spawn(s) = request {
                let _ = node.send(
                    &s.from,
                    reply_message(&s.req_id, Err(Term::atom("noconnection"))),
                );
            }
        }
    }
}

/// `group_leader(GL, Pid)` for a process of another node.
pub(crate) fn group_leader(node: &Node, pid: &Pid, gl: &Pid) {
    send(
        node,
        &pid.node.clone(),
        DistRequest::GroupLeader {
            group_leader: gl.clone(),
            pid: pid.clone(),
        },
    );
}

/// A spawn reply came for the local process `to`: sets up the link and monitor the
/// reply reports in that process (before it can see any signal from the new process),
/// then delivers `{spawn_reply, ...}`. False if `to` is not alive (the caller then
/// undoes the link and monitor on the other node).
pub(crate) fn spawn_replied(
    node: &Node,
    to: &Pid,
    req_id: &Ref,
    result: Result<Pid, Term>,
    link: bool,
    monitor: bool,
) -> bool {
    let Some(proc) = node.lookup(to) else {
        return false;
    };
    if proc.is_dead() {
        return false;
    }
    if let Ok(child) = &result {
        if link || monitor {
            let mut local = proc.local.lock();
            let ext = local.ext();
            if link {
                ext.links.insert(child.clone());
            }
            if monitor {
                ext.monitors_out.insert(
                    req_id.clone(),
                    MonitorOut {
                        target: Dest::Pid(child.clone()),
                        object: Term::Pid(child.clone()),
                        alias: None,
                    },
                );
            }
        }
    }
    let _ = node.send(to, reply_message(req_id, result));
    true
}

impl Ctx {
    /// Starts the function `{module, function}` with `args` on `node`
    /// (`spawn(Node, M, F, A)`), with this process's group leader. Waits for the
    /// answer: the new pid, or the error (`badarg` for a function the node does not
    /// know, `noconnection`, `notsup`...).
    pub async fn spawn_remote(
        &self,
        node: impl Into<Atom>,
        module: impl Into<Atom>,
        function: impl Into<Atom>,
        args: Vec<Term>,
    ) -> Result<Pid, Term> {
        let opts = SpawnOpts::default();
        self.spawn_request(node, module, function, args, opts)
            .await
            .map(|(p, _)| p)
    }

    /// Like [`Ctx::spawn_remote`], linked to this process (`spawn_link/4`). The link is
    /// in place when this returns.
    pub async fn spawn_link_remote(
        &self,
        node: impl Into<Atom>,
        module: impl Into<Atom>,
        function: impl Into<Atom>,
        args: Vec<Term>,
    ) -> Result<Pid, Term> {
        let opts = SpawnOpts {
            link: true,
            monitor: false,
        };
        self.spawn_request(node, module, function, args, opts)
            .await
            .map(|(p, _)| p)
    }

    /// Like [`Ctx::spawn_remote`], monitored by this process (`spawn_monitor/4`):
    /// returns the pid and the monitor reference.
    pub async fn spawn_monitor_remote(
        &self,
        node: impl Into<Atom>,
        module: impl Into<Atom>,
        function: impl Into<Atom>,
        args: Vec<Term>,
    ) -> Result<(Pid, Ref), Term> {
        let opts = SpawnOpts {
            link: false,
            monitor: true,
        };
        let (p, r) = self
            .spawn_request(node, module, function, args, opts)
            .await?;
        Ok((p, r.expect("a monitor was asked for")))
    }

    /// `erlang:spawn_request/5` and waiting for its reply: starts `{module, function}`
    /// on `node` with the options, returning the pid and, with `monitor`, the monitor
    /// reference. On this node itself, spawns the registered function locally.
    pub async fn spawn_request(
        &self,
        node: impl Into<Atom>,
        module: impl Into<Atom>,
        function: impl Into<Atom>,
        args: Vec<Term>,
        opts: SpawnOpts,
    ) -> Result<(Pid, Option<Ref>), Term> {
        let (node, module, function) = (node.into(), module.into(), function.into());
        if node == *self.node().name() {
            return match (opts.link, opts.monitor) {
                (_, true) => {
                    let (p, r) = self
                        .spawn_monitor_mfa(module, function, args)
                        .map_err(|_| Term::atom("badarg"))?;
                    if opts.link {
                        let _ = self.link(&p);
                    }
                    Ok((p, Some(r)))
                }
                (true, false) => self
                    .spawn_link_mfa(module, function, args)
                    .map(|p| (p, None))
                    .map_err(|_| Term::atom("badarg")),
                (false, false) => self
                    .spawn_mfa(module, function, args)
                    .map(|p| (p, None))
                    .map_err(|_| Term::atom("badarg")),
            };
        }
        let req_id = self.make_ref();
        let request = SpawnRequest {
            req_id: req_id.clone(),
            from: self.self_pid().clone(),
            group_leader: self.group_leader(),
            module,
            function,
            args,
            link: opts.link,
            monitor: opts.monitor,
        };
        send(self.node(), &node, DistRequest::Spawn(request));
        let r = Term::from(req_id.clone());
        let reply = self
            .receive_match(move |m| match m.as_tuple() {
                Some([tag, id, _, _]) => tag.is_atom("spawn_reply") && *id == r,
                _ => false,
            })
            .await;
        let Term::Tuple(mut t) = reply else {
            return Err(Term::atom("badarg"));
        };
        let value = t.pop().expect("4 elements");
        if t[2].is_atom("ok") {
            match value {
                Term::Pid(p) => Ok((p, opts.monitor.then_some(req_id))),
                other => Err(other),
            }
        } else {
            Err(value)
        }
    }
}
