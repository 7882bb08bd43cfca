//! `multi_call` and `abcast`: a GenServer request to the servers of one name on many
//! nodes (a part of [`gen_server`](super)).

use super::Timeout;
use crate::convert::{decode, encode};
use crate::ctx::Ctx;
use crate::node::Node;
use crate::signal::Dest;
use ferrobeam_term::{Atom, Term};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// What [`multi_call`] returns: OTP's `{Replies, BadNodes}`.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiCall<R> {
    /// `(Node, Reply)` for each node whose server replied, in the order of the nodes
    /// given.
    pub replies: Vec<(Atom, R)>,
    /// The nodes whose server did not reply: no such server (`noproc`), the node is
    /// down or unreachable, the timeout passed, or the reply did not have the shape of
    /// `R`.
    pub bad_nodes: Vec<Atom>,
}

/// Calls the server registered as `name` on each of `nodes` at once
/// (`gen_server:multi_call(Nodes, Name, Request, Timeout)`), and collects the replies
/// within `timeout`.
///
/// As OTP does, each server is monitored as `{Name, Node}` and gets
/// `{'$gen_call', {Pid, {Tag, Node}}, Request}`; a `DOWN` makes the node bad at once.
/// The calls are made from a helper process, so that replies that come after the
/// timeout are dropped rather than left in the caller's queue. Servers on BEAM nodes and
/// on ferrobeam nodes answer alike; the local node may be among `nodes`.
pub async fn multi_call<Req, Rep>(
    ctx: &Ctx,
    nodes: &[Atom],
    name: impl Into<Atom>,
    request: Req,
    timeout: impl Into<Timeout>,
) -> MultiCall<Rep>
where
    Req: Serialize + 'static,
    Rep: DeserializeOwned + 'static,
{
    let name = name.into();
    let timeout = timeout.into();
    let Ok(request) = encode(request) else {
        return MultiCall {
            replies: Vec::new(),
            bad_nodes: nodes.to_vec(),
        };
    };
    let me = ctx.self_pid().clone();
    let result_tag = ctx.make_ref();
    let rt = result_tag.clone();
    let nodes_v = nodes.to_vec();
    let (helper, mref) = ctx.spawn_monitor(move |hctx: Ctx| async move {
        let (replies, bad) = multi_call_collect(&hctx, &nodes_v, &name, request, timeout).await;
        let replies = Term::list(
            replies
                .into_iter()
                .map(|(n, r)| Term::tuple(vec![Term::Atom(n), r]))
                .collect(),
        );
        let bad = Term::list(bad.into_iter().map(Term::Atom).collect());
        let _ = hctx.send(&me, Term::tuple(vec![Term::from(rt), replies, bad]));
    });
    let rt = Term::from(result_tag);
    let mt = Term::from(mref.clone());
    let got = ctx
        .receive_match(move |m| match m {
            Term::Tuple(t) if t.len() == 3 => t[0] == rt,
            Term::Tuple(t) if t.len() == 5 => t[0].is_atom("DOWN") && t[1] == mt,
            _ => false,
        })
        .await;
    ctx.demonitor_flush(&mref);
    let _ = helper;
    let mut out = MultiCall {
        replies: Vec::new(),
        bad_nodes: Vec::new(),
    };
    match got {
        Term::Tuple(t) if t.len() == 3 => {
            for r in t[1].as_list().unwrap_or(&[]) {
                let Some([Term::Atom(n), v]) = r.as_tuple() else {
                    continue;
                };
                match decode::<Rep>(v.clone()) {
                    Ok(v) => out.replies.push((n.clone(), v)),
                    Err(_) => out.bad_nodes.push(n.clone()),
                }
            }
            out.bad_nodes.extend(
                t[2].as_list()
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|n| n.as_atom().cloned()),
            );
        }
        _ => out.bad_nodes = nodes.to_vec(),
    }
    out
}

/// The helper of [`multi_call`]: sends the calls and gathers the answers.
async fn multi_call_collect(
    ctx: &Ctx,
    nodes: &[Atom],
    name: &Atom,
    request: Term,
    timeout: Timeout,
) -> (Vec<(Atom, Term)>, Vec<Atom>) {
    let tag = Term::from(ctx.make_ref());
    let mut pending: Vec<(Atom, ferrobeam_term::Ref)> = Vec::with_capacity(nodes.len());
    for node in nodes {
        let dest = Dest::Remote(name.clone(), node.clone());
        let mref = ctx.monitor(dest.clone());
        let from = Term::tuple(vec![
            Term::Pid(ctx.self_pid().clone()),
            Term::tuple(vec![tag.clone(), Term::Atom(node.clone())]),
        ]);
        let _ = ctx.send(
            dest,
            Term::tuple(vec![Term::atom("$gen_call"), from, request.clone()]),
        );
        pending.push((node.clone(), mref));
    }
    let deadline = timeout.duration().map(|d| tokio::time::Instant::now() + d);
    let mut replies: Vec<(Atom, Term)> = Vec::new();
    let mut bad: Vec<Atom> = Vec::new();
    while !pending.is_empty() {
        let refs: Vec<Term> = pending.iter().map(|(_, r)| Term::from(r.clone())).collect();
        let tag2 = tag.clone();
        let matcher = move |m: &Term| match m {
            Term::Tuple(t) if t.len() == 2 => {
                matches!(&t[0], Term::Tuple(k) if k.len() == 2 && k[0] == tag2)
            }
            Term::Tuple(t) if t.len() == 5 => t[0].is_atom("DOWN") && refs.contains(&t[1]),
            _ => false,
        };
        let got = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(tokio::time::Instant::now());
                ctx.receive_match_timeout(matcher, left).await
            }
            None => Some(ctx.receive_match(matcher).await),
        };
        let Some(Term::Tuple(t)) = got else {
            break;
        };
        if t.len() == 2 {
            let Some(node) = t[0].as_tuple().and_then(|k| k[1].as_atom().cloned()) else {
                continue;
            };
            if let Some(i) = pending.iter().position(|(n, _)| *n == node) {
                let (n, mref) = pending.remove(i);
                ctx.demonitor_flush(&mref);
                replies.push((n, t[1].clone()));
            }
        } else if let Some(i) = pending.iter().position(|(_, r)| t[1].as_ref() == Some(r)) {
            bad.push(pending.remove(i).0);
        }
    }
    for (n, mref) in pending {
        ctx.demonitor_flush(&mref);
        bad.push(n);
    }
    // In the order of `nodes`.
    replies.sort_by_key(|(n, _)| nodes.iter().position(|x| x == n));
    bad.sort_by_key(|n| nodes.iter().position(|x| x == n));
    (replies, bad)
}

/// Casts `msg` to the server registered as `name` on each of `nodes`
/// (`gen_server:abcast(Nodes, Name, Request)`): `{'$gen_cast', Msg}` to each
/// `{Name, Node}`. Never fails; nodes without such a server drop it.
pub fn abcast<M: Serialize + 'static>(node: &Node, nodes: &[Atom], name: impl Into<Atom>, msg: M) {
    let Ok(msg) = encode(msg) else { return };
    let name = name.into();
    let msg = Term::tuple(vec![Term::atom("$gen_cast"), msg]);
    for n in nodes {
        let _ = node.send(Dest::Remote(name.clone(), n.clone()), msg.clone());
    }
}
