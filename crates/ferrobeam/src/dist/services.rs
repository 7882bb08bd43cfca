//! The node's distribution services: `net_kernel` (which answers `is_auth`, so that
//! `net_adm:ping/1` and `Node.ping/1` get `pong`), `rex` (the classic `rpc` server),
//! the mesh process, and ping.

use super::manager::{Inner, MESH, NET_KERNEL, REX};
use crate::signal::Dest;
use ferrobeam_term::{Atom, Pid, Ref, Term};
use std::sync::{Arc, Weak};
use tracing::debug;

/// `{'$gen_call', {Pid, Tag}, Request}`: the caller and the request.
fn gen_call(t: &Term) -> Option<(Pid, Term, &Term)> {
    let t = t.as_tuple()?;
    if t.len() != 3 || !t[0].is_atom("$gen_call") {
        return None;
    }
    let from = t[1].as_tuple()?;
    if from.len() != 2 {
        return None;
    }
    Some((from[0].as_pid()?.clone(), from[1].clone(), &t[2]))
}

/// Starts the `net_kernel` process and registers it.
pub(crate) fn start_net_kernel(inner: &Arc<Inner>) -> Pid {
    let pid = inner.node.spawn(net_kernel);
    let _ = inner.node.register(NET_KERNEL, &pid);
    pid
}

async fn net_kernel(ctx: crate::Ctx) {
    loop {
        let m = ctx.receive().await;
        match gen_call(&m) {
            Some((pid, tag, req)) => {
                let is_auth = req
                    .as_tuple()
                    .is_some_and(|r| r.len() == 2 && r[0].is_atom("is_auth"));
                if is_auth {
                    // gen:reply/2: `{Tag, Reply}` to the caller. A `[alias|Mref]` tag
                    // is matched by the caller whichever way the reply comes; a send
                    // to the pid works with peers without aliases too.
                    let _ = ctx.send(&pid, Term::tuple(vec![tag, Term::atom("yes")]));
                } else {
                    debug!(request = %req, "net_kernel: call not supported; ignored");
                }
            }
            None => debug!(message = %m, "net_kernel: unexpected message ignored"),
        }
    }
}

/// Starts `rex`, the classic `rpc` server, and registers it. It answers
///
/// * `{From, features_request}` with `{features_reply, node(), [erpc]}` (BEAM asks on
///   every nodeup, and then uses `erpc`, which goes through remote spawn);
/// * `{'$gen_call', From, {call, M, F, A, GroupLeader}}` (and `block_call`) with the
///   value of the function registered as `{M, F}`, or `{badrpc, {'EXIT', Reason}}`
///   (`{undef, [{M, F, A, []}]}` for an unknown function), as BEAM's `rex` does;
/// * `{'$gen_cast', {cast, M, F, A, GroupLeader}}` by running it.
///
/// Each call runs in its own process, with the caller's group leader.
pub(crate) fn start_rex(inner: &Arc<Inner>) -> Pid {
    let pid = inner.node.spawn(rex);
    let _ = inner.node.register(REX, &pid);
    pid
}

async fn rex(ctx: crate::Ctx) {
    loop {
        let m = ctx.receive().await;
        let Some(t) = m.as_tuple() else { continue };
        match t {
            [Term::Pid(from), req] if req.is_atom("features_request") => {
                let _ = ctx.send(
                    from,
                    Term::tuple(vec![
                        Term::atom("features_reply"),
                        Term::Atom(ctx.node().name().clone()),
                        Term::list(vec![Term::atom("erpc")]),
                    ]),
                );
            }
            [tag, from, req] if tag.is_atom("$gen_call") => {
                let Some(from) = crate::gen_server::CallFrom::from_term(from) else {
                    continue;
                };
                match mfa_gl(req, &["call", "block_call"]) {
                    Some((m, f, a, gl)) => {
                        ctx.spawn(move |c: crate::Ctx| async move {
                            if let Some(gl) = gl {
                                c.set_group_leader(&gl);
                            }
                            let r = rpc_apply(&c, m, f, a).await;
                            crate::gen_server::reply(c.node(), &from, r);
                        });
                    }
                    None => debug!(request = %req, "rex: call not supported; ignored"),
                }
            }
            [tag, req] if tag.is_atom("$gen_cast") => {
                if let Some((m, f, a, gl)) = mfa_gl(req, &["cast"]) {
                    ctx.spawn(move |c: crate::Ctx| async move {
                        if let Some(gl) = gl {
                            c.set_group_leader(&gl);
                        }
                        let _ = c.apply(m, f, a).await;
                    });
                }
            }
            _ => debug!(message = %m, "rex: unexpected message ignored"),
        }
    }
}

/// `{Op, M, F, A, GroupLeader}` for one of `ops`.
fn mfa_gl(req: &Term, ops: &[&str]) -> Option<(Atom, Atom, Vec<Term>, Option<Pid>)> {
    match req.as_tuple()? {
        [Term::Atom(op), Term::Atom(m), Term::Atom(f), a, gl] if ops.contains(&op.as_str()) => {
            Some((
                m.clone(),
                f.clone(),
                a.as_list()?.to_vec(),
                gl.as_pid().cloned(),
            ))
        }
        _ => None,
    }
}

/// `M:F(A)` as `rex` reports it: the value, or `{badrpc, {'EXIT', Reason}}`. It runs
/// in a process of its own, so that a panic is reported too.
async fn rpc_apply(ctx: &crate::Ctx, m: Atom, f: Atom, a: Vec<Term>) -> Term {
    let me = ctx.self_pid().clone();
    let tag = Term::from(ctx.make_ref());
    let t2 = tag.clone();
    let gl = ctx.group_leader();
    let (_, mref) = ctx.spawn_monitor(move |c: crate::Ctx| async move {
        c.set_group_leader(&gl);
        let r = match c.apply(m, f, a).await {
            Ok(v) => Term::tuple(vec![t2, Term::atom("ok"), v]),
            Err(e) => Term::tuple(vec![t2, Term::atom("error"), e]),
        };
        let _ = c.send(&me, r);
    });
    let mt = Term::from(mref.clone());
    let got = ctx
        .receive_match(move |m| match m.as_tuple() {
            Some([t, _, _]) => *t == tag,
            Some([d, r, _, _, _]) => d.is_atom("DOWN") && *r == mt,
            _ => false,
        })
        .await;
    ctx.demonitor_flush(&mref);
    let badrpc = |e: Term| {
        Term::tuple(vec![
            Term::atom("badrpc"),
            Term::tuple(vec![Term::atom("EXIT"), e]),
        ])
    };
    match got {
        Term::Tuple(mut t) if t.len() == 3 => {
            let v = t.pop().expect("3 elements");
            if t[1].is_atom("ok") {
                v
            } else {
                badrpc(v)
            }
        }
        Term::Tuple(mut t) => badrpc(t.pop().expect("5 elements")),
        _ => badrpc(Term::atom("noproc")),
    }
}

/// Starts the mesh process: it receives `{ferrobeam_mesh, nodes, From, Nodes}` from a
/// peer that just connected, and connects to each node of the list this node is not
/// connected to yet.
pub(crate) fn start_mesh(inner: &Arc<Inner>) -> Pid {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let pid = inner.node.spawn(move |ctx| async move {
        loop {
            let m = ctx.receive().await;
            let Some(t) = m.as_tuple() else { continue };
            if t.len() != 4 || !t[0].is_atom(MESH) || !t[1].is_atom("nodes") {
                continue;
            }
            let Some(inner) = weak.upgrade() else { return };
            if inner.cfg.hidden {
                continue;
            }
            let Some(list) = t[3].as_list() else { continue };
            let known = inner.nodes(&[super::NodeKind::Connected]);
            for n in list.iter().take(4096).filter_map(Term::as_atom) {
                if *n == inner.name || known.contains(n) {
                    continue;
                }
                debug!(node = %inner.name, peer = %n, "mesh: connecting");
                let inner = inner.clone();
                let n = n.clone();
                inner.node.handle().clone().spawn(async move {
                    inner.connect(&n).await;
                });
            }
        }
    });
    let _ = inner.node.register(MESH, &pid);
    pid
}

fn is_reply(t: &Term, tag: &Ref) -> bool {
    t.as_tuple()
        .is_some_and(|t| t.len() == 2 && t[0].as_ref() == Some(tag))
}

fn is_down(t: &Term, tag: &Ref) -> bool {
    t.as_tuple()
        .is_some_and(|t| t.len() == 5 && t[0].is_atom("DOWN") && t[1].as_ref() == Some(tag))
}

/// `net_adm:ping/1`: a real `gen:call` of `{is_auth, node()}` to `{net_kernel, Node}`,
/// with a monitor. True for `pong`. On `pang` the connection (if any) is closed, as
/// `net_adm` does.
pub(crate) async fn ping(inner: &Arc<Inner>, node: &Atom) -> bool {
    if *node == inner.name {
        return true;
    }
    if inner.check_peer_name(node.as_str()).is_err() {
        return false;
    }
    let me = inner.name.clone();
    let target = node.clone();
    let timeout = inner.cfg.handshake_timeout + inner.cfg.net_ticktime;
    let r = inner
        .node
        .run(move |ctx| async move {
            let dest = Dest::Remote(Atom::new(NET_KERNEL), target);
            let mref = ctx.monitor(dest.clone());
            let from = Term::tuple(vec![
                Term::Pid(ctx.self_pid().clone()),
                Term::from(mref.clone()),
            ]);
            let req = Term::tuple(vec![
                Term::atom("$gen_call"),
                from,
                Term::tuple(vec![Term::atom("is_auth"), Term::Atom(me)]),
            ]);
            let _ = ctx.send(dest, req);
            let tag = mref.clone();
            let got = ctx
                .receive_match_timeout(move |t| is_reply(t, &tag) || is_down(t, &tag), timeout)
                .await;
            ctx.demonitor_flush(&mref);
            matches!(got, Some(t) if is_reply(&t, &mref) && t.as_tuple().is_some_and(|t| t[1].is_atom("yes")))
        })
        .await;
    match r {
        Ok(true) => true,
        _ => {
            inner.disconnect(node);
            false
        }
    }
}
