//! Remote spawn over a connection: `SPAWN_REQUEST` from a peer (including `erpc`'s
//! `{erpc, execute_call, 4}` and `{erpc, execute_cast, 3}`), the `SPAWN_REPLY` that
//! answers it, the replies to our own requests, and `GROUP_LEADER`.
//!
//! A request is answered with `SPAWN_REPLY` before the new process can send anything,
//! with the flags `link` (1) and `monitor` (2) set when those options were asked for
//! and set up. A function this node has not registered is refused with the error
//! `badarg`: BEAM's `spawn/4` then raises `badarg` in the caller, `erlang:spawn_request`
//! delivers `{spawn_reply, ReqId, error, badarg}`. `erpc` calls of an unknown function
//! are not refused: the call process exits as BEAM's does, with
//! `{Ref, error, undef, [{M, F, A, []}]}`, so the caller gets the same `undef` error.

use super::manager::Inner;
use crate::node::Setup;
use crate::reason::{self, ExitReason};
use crate::signal::{Dest, ExitKind, Signal, Watcher};
use crate::Ctx;
use ferrobeam_proto::control::{
    ControlMessage, SpawnResult, SPAWN_REPLY_LINK, SPAWN_REPLY_MONITOR,
};
use ferrobeam_term::{Atom, Pid, Ref, Term};
use std::sync::Arc;
use tracing::debug;

/// A spawn request read from a connection.
pub(crate) struct Incoming {
    pub(crate) req_id: Ref,
    pub(crate) from: Pid,
    pub(crate) group_leader: Pid,
    pub(crate) module: Atom,
    pub(crate) function: Atom,
    pub(crate) arity: u8,
    pub(crate) opts: Vec<Term>,
    pub(crate) args: Vec<Term>,
}

/// What a request asks to run.
enum Entry {
    /// A function registered on this node.
    Registered(crate::node::SpawnFn, Vec<Term>),
    /// `erpc:execute_call(Ref, M, F, A)`.
    ErpcCall(Term, Atom, Atom, Vec<Term>),
    /// `erpc:execute_cast(M, F, A)`.
    ErpcCast(Atom, Atom, Vec<Term>),
}

/// Handles `SPAWN_REQUEST` from `peer` on connection `conn`.
pub(crate) fn request(inner: &Arc<Inner>, peer: &Atom, conn: u64, req: Incoming) {
    let node = &inner.node;
    let mut link = false;
    let mut monitor = false;
    for o in &req.opts {
        if o.is_atom("link") {
            link = true;
        } else if o.is_atom("monitor")
            || o.as_tuple()
                .is_some_and(|t| t.len() == 2 && t[0].is_atom("monitor"))
        {
            monitor = true;
        }
    }
    let refuse = |why: &str| {
        debug!(%peer, module = %req.module, function = %req.function, why, "spawn request refused");
        inner.send_control(
            peer,
            conn,
            ControlMessage::SpawnReply {
                req_id: req.req_id.clone(),
                to: req.from.clone(),
                flags: 0,
                result: SpawnResult::Error(Atom::new(why)),
            },
        );
    };
    if usize::from(req.arity) != req.args.len() {
        return refuse("badarg");
    }
    let entry = match (
        req.module.as_str(),
        req.function.as_str(),
        req.args.as_slice(),
    ) {
        ("erpc", "execute_call", [r, Term::Atom(m), Term::Atom(f), a]) => match list_of(a) {
            Some(a) => Entry::ErpcCall(r.clone(), m.clone(), f.clone(), a),
            None => return refuse("badarg"),
        },
        ("erpc", "execute_cast", [Term::Atom(m), Term::Atom(f), a]) => match list_of(a) {
            Some(a) => Entry::ErpcCast(m.clone(), f.clone(), a),
            None => return refuse("badarg"),
        },
        _ => match node.lookup_fn(req.module.clone(), req.function.clone(), req.args.clone()) {
            Ok((f, args)) => Entry::Registered(f, args),
            Err(_) => return refuse("badarg"),
        },
    };
    let mut setup = Setup::default();
    if link {
        setup.link = Some(req.from.clone());
    }
    if monitor {
        setup.monitor = Some((req.req_id.clone(), Watcher::Pid(req.from.clone())));
    }
    setup.group_leader = Some(req.group_leader.clone());
    let flags =
        if link { SPAWN_REPLY_LINK } else { 0 } | if monitor { SPAWN_REPLY_MONITOR } else { 0 };
    let (req_id, from) = (req.req_id.clone(), req.from.clone());
    // Before the new process can run: the reply goes out first, and the connection
    // knows of the link and the monitor (for noconnection).
    let before = |child: &Pid| {
        inner.spawned(peer, conn, child, &from, link, monitor.then_some(&req_id));
        inner.send_control(
            peer,
            conn,
            ControlMessage::SpawnReply {
                req_id: req_id.clone(),
                to: from.clone(),
                flags,
                result: SpawnResult::Pid(child.clone()),
            },
        );
    };
    match entry {
        Entry::Registered(f, args) => {
            node.spawn_setup(
                move |ctx: Ctx| async move {
                    ExitReason(match f(ctx, args).await {
                        Ok(_) => reason::normal(),
                        Err(e) => e,
                    })
                },
                setup,
                before,
            );
        }
        Entry::ErpcCall(r, m, f, a) => {
            node.spawn_setup(
                move |ctx: Ctx| async move { ExitReason(erpc_call(&ctx, r, m, f, a).await) },
                setup,
                before,
            );
        }
        Entry::ErpcCast(m, f, a) => {
            node.spawn_setup(
                move |ctx: Ctx| async move {
                    let _ = ctx.apply(m, f, a).await;
                },
                setup,
                before,
            );
        }
    }
}

fn list_of(t: &Term) -> Option<Vec<Term>> {
    t.as_list().map(|l| l.to_vec())
}

/// `erpc:execute_call/4`: applies `M:F(A)` and returns the exit reason that carries the
/// result to the caller's monitor.
async fn erpc_call(ctx: &Ctx, r: Term, m: Atom, f: Atom, a: Vec<Term>) -> Term {
    let undef = !ctx.node().is_fn_registered(m.as_str(), f.as_str());
    if undef {
        let stack = Term::list(vec![Term::tuple(vec![
            Term::Atom(m),
            Term::Atom(f),
            Term::list(a),
            Term::nil(),
        ])]);
        return Term::tuple(vec![r, Term::atom("error"), Term::atom("undef"), stack]);
    }
    match ctx.apply(m, f, a).await {
        Ok(v) => Term::tuple(vec![r, Term::atom("return"), v]),
        Err(e) => Term::tuple(vec![r, Term::atom("exit"), e]),
    }
}

/// Handles `SPAWN_REPLY` for one of our processes.
pub(crate) fn reply(
    inner: &Arc<Inner>,
    peer: &Atom,
    req_id: Ref,
    to: Pid,
    flags: u64,
    result: SpawnResult,
) {
    let link = flags & SPAWN_REPLY_LINK != 0;
    let monitor = flags & SPAWN_REPLY_MONITOR != 0;
    let result = match result {
        SpawnResult::Pid(p) => Ok(p),
        SpawnResult::Error(e) => Err(Term::Atom(e)),
    };
    let child = result.clone().ok();
    if crate::remote::spawn_replied(&inner.node, &to, &req_id, result, link, monitor) {
        return;
    }
    // The requester is gone: undo what was set up for it.
    let Some(child) = child else { return };
    if link {
        inner.route(
            peer,
            Dest::Pid(child.clone()),
            Signal::Exit {
                from: to.clone(),
                reason: reason::noproc(),
                kind: ExitKind::Link,
            },
        );
    }
    if monitor {
        inner.route(
            peer,
            Dest::Pid(child),
            Signal::Demonitor {
                from: to,
                reference: req_id,
            },
        );
    }
}

/// `GROUP_LEADER` from a peer: `pid`'s group leader becomes `gl`.
pub(crate) fn group_leader(inner: &Arc<Inner>, gl: Pid, pid: Pid) {
    if pid.node == inner.name {
        inner.node.set_group_leader(&pid, &gl);
    }
}
