//! The node's distribution services: `net_kernel` (which answers `is_auth`, so that
//! `net_adm:ping/1` and `Node.ping/1` get `pong`), the mesh process, and ping.

use super::manager::{Inner, MESH, NET_KERNEL};
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
