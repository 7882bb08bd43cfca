//! Remote spawn between ferrobeam nodes: spawn, spawn_link and spawn_monitor of a
//! function registered by `{Module, Function}` on the other node, with its output
//! appearing at the caller's node through the group leader; refusals (unknown function,
//! unreachable node); `GROUP_LEADER`; `rpc` through `rex`.

#[path = "dist_support.rs"]
mod support;

use ferrobeam::dist::DistNode;
use ferrobeam::{io, Atom, Ctx, Pid, Term};
use std::time::{Duration, Instant};
use support::*;
use tokio::sync::mpsc;

/// Registers the demo functions on a node.
fn demo_functions(n: &DistNode) {
    let node = n.node();
    node.register_fn("demo", "hello", |ctx: Ctx, args: Vec<Term>| async move {
        let who = args.first().map(|a| a.to_string()).unwrap_or_default();
        ctx.println(&format!("hello {who} from {}", ctx.node().name()))
            .await
    });
    node.register_fn("demo", "wait", |ctx: Ctx, _args: Vec<Term>| async move {
        loop {
            let m = ctx.receive().await;
            match m.as_tuple() {
                Some([op, r]) if op.is_atom("exit") => return Err::<(), Term>(r.clone()),
                Some([op, text]) if op.is_atom("print") => {
                    let text = io::chardata(text, true).unwrap_or_default();
                    ctx.println(&text).await?;
                }
                _ => {}
            }
        }
    });
    // Prints from a helper process it spawns: the helper inherits the group leader.
    node.register_fn(
        "demo",
        "helper_prints",
        |ctx: Ctx, _args: Vec<Term>| async move {
            let (_, r) = ctx.spawn_monitor(|c: Ctx| async move {
                let _ = c.println("from the helper").await;
            });
            let r = ferrobeam::Term::from(r);
            ctx.receive_match(move |m| m.as_tuple().is_some_and(|t| t.len() == 5 && t[1] == r))
                .await;
        },
    );
    node.register_fn("demo", "add", |_ctx: Ctx, args: Vec<Term>| async move {
        match args.as_slice() {
            [Term::Int(a), Term::Int(b)] => Ok(Term::from(a + b)),
            _ => Err(Term::atom("badarith")),
        }
    });
}

/// An I/O server on `node` whose output comes out of the returned channel.
fn capture(n: &DistNode) -> (Pid, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let pid = io::start_server(n.node(), move |text| {
        let _ = tx.send(text.to_string());
    });
    (pid, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("output within 5 s")
        .expect("capture open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_spawn_with_output_at_the_caller() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    demo_functions(&b);
    let (gl, mut out) = capture(&a);
    let bn = b.name().clone();
    let gl2 = gl.clone();
    let child = a
        .node()
        .run(move |ctx| async move {
            ctx.set_group_leader(&gl2);
            ctx.spawn_remote(bn, "demo", "hello", vec![Term::atom("kate")])
                .await
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(child.node, *b.name());
    // The output of the process on b comes out of a's group leader.
    assert_eq!(
        next(&mut out).await,
        format!("hello kate from {}\n", b.name())
    );
    // A helper that the remote process spawns prints here too.
    let (bn, gl2) = (b.name().clone(), gl.clone());
    a.node()
        .run(move |ctx| async move {
            ctx.set_group_leader(&gl2);
            ctx.spawn_remote(bn, "demo", "helper_prints", vec![]).await
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next(&mut out).await, "from the helper\n");
    // spawn_link: the child's exit reaches the trapping parent; spawn_monitor: DOWN
    // with the reason and the reference returned.
    let bn = b.name().clone();
    let (linked, monitored) = a
        .node()
        .run(move |ctx| async move {
            ctx.trap_exit(true);
            let l = ctx
                .spawn_link_remote(bn.clone(), "demo", "wait", vec![])
                .await
                .unwrap();
            ctx.send(&l, Term::tuple(vec![Term::atom("exit"), t("{custom, 1}")]))
                .unwrap();
            let exit = ctx.receive().await;
            let (m, r) = ctx
                .spawn_monitor_remote(bn, "demo", "wait", vec![])
                .await
                .unwrap();
            ctx.send(&m, t("{exit, {shutdown, done}}")).unwrap();
            let down = ctx.receive().await;
            ((l, exit), (m, r, down))
        })
        .await
        .unwrap();
    assert_eq!(
        linked.1,
        Term::tuple(vec![
            Term::atom("EXIT"),
            Term::Pid(linked.0.clone()),
            t("{custom,1}")
        ])
    );
    let (m, r, down) = monitored;
    assert_eq!(
        down,
        Term::tuple(vec![
            Term::atom("DOWN"),
            Term::from(r),
            Term::atom("process"),
            Term::Pid(m),
            t("{shutdown,done}"),
        ])
    );
    // The link of spawn_link works the other way too: the parent dies, the child dies.
    let bn = b.name().clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let parent = a.node().spawn(move |ctx: Ctx| async move {
        let child = ctx
            .spawn_link_remote(bn, "demo", "wait", vec![])
            .await
            .unwrap();
        let _ = tx.send(child);
        ctx.receive().await;
        Err::<(), Term>(Term::atom("parent_died"))
    });
    let child = rx.await.unwrap();
    let child_exit = b.node().wait_exit(&child);
    a.node().send(&parent, Term::atom("go")).unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), child_exit)
            .await
            .unwrap(),
        Term::atom("parent_died")
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_spawn_refusals_group_leader_and_rpc() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    demo_functions(&b);
    let bn = b.name().clone();
    let nowhere = Atom::new(&full("nowhere"));
    let (unknown, unknown_took, unreachable, linked_unknown) = a
        .node()
        .run(move |ctx| async move {
            let started = Instant::now();
            let unknown = ctx.spawn_remote(bn.clone(), "demo", "nope", vec![]).await;
            let took = started.elapsed();
            let unreachable = ctx.spawn_remote(nowhere, "demo", "hello", vec![]).await;
            ctx.trap_exit(true);
            let linked = ctx.spawn_link_remote(bn, "nomod", "nofun", vec![]).await;
            // Nothing else comes: no link was made.
            let extra = ctx.receive_timeout(Duration::from_millis(200)).await;
            (unknown, took, unreachable, (linked, extra))
        })
        .await
        .unwrap();
    assert_eq!(unknown, Err(Term::atom("badarg")));
    assert!(unknown_took < Duration::from_secs(2));
    assert_eq!(unreachable, Err(Term::atom("noconnection")));
    assert_eq!(linked_unknown, (Err(Term::atom("badarg")), None));

    // GROUP_LEADER: a process on b started with its default group leader (b's own)
    // gets one on a; its output then comes to a.
    let (gl, mut out) = capture(&a);
    let waiter = b.node().spawn_mfa("demo", "wait", vec![]).unwrap();
    assert!(a.node().set_group_leader(&waiter, &gl));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(b.node().group_leader(&waiter), Some(gl.clone()));
    a.node()
        .send(&waiter, t("{print, <<\"via the new group leader\">>}"))
        .unwrap();
    assert_eq!(next(&mut out).await, "via the new group leader\n");

    // rpc through rex, as BEAM's rpc:call sends it.
    let bn = b.name().clone();
    let (ok, undef, bad) = a
        .node()
        .run(move |ctx| async move {
            let rex = (Atom::new("rex"), bn);
            let call = |m: &str, f: &str, args: &str| {
                Term::tuple(vec![
                    Term::atom("call"),
                    Term::atom(m),
                    Term::atom(f),
                    t(args),
                    Term::Pid(ctx.self_pid().clone()),
                ])
            };
            let ok: Term =
                ferrobeam::gen_server::call(&ctx, rex.clone(), call("demo", "add", "[1, 2]"))
                    .await
                    .unwrap();
            let undef: Term =
                ferrobeam::gen_server::call(&ctx, rex.clone(), call("nomod", "nofun", "[x]"))
                    .await
                    .unwrap();
            let bad: Term = ferrobeam::gen_server::call(&ctx, rex, call("demo", "add", "[a, 2]"))
                .await
                .unwrap();
            (ok, undef, bad)
        })
        .await
        .unwrap();
    assert_eq!(ok, Term::from(3));
    assert_eq!(
        undef,
        t("{badrpc, {'EXIT', {undef, [{nomod, nofun, [x], []}]}}}")
    );
    assert_eq!(bad, t("{badrpc, {'EXIT', badarith}}"));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_link_and_monitor_fire_noconnection_when_the_connection_goes() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    b.node()
        .register_fn("demo", "idle", |ctx: Ctx, _args: Vec<Term>| async move {
            ctx.receive().await;
        });
    let bn = b.name().clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let node = a.node().clone();
    let run = tokio::spawn(async move {
        node.run(move |ctx| async move {
            ctx.trap_exit(true);
            let (m, mref) = ctx
                .spawn_monitor_remote(bn.clone(), "demo", "idle", vec![])
                .await
                .unwrap();
            let l = ctx
                .spawn_link_remote(bn, "demo", "idle", vec![])
                .await
                .unwrap();
            let _ = tx.send(l.clone());
            let x = ctx.receive().await;
            let y = ctx.receive().await;
            (m, mref, l, x, y)
        })
        .await
    });
    let linked_child = rx.await.unwrap();
    let child_exit = b.node().wait_exit(&linked_child);
    assert!(b.disconnect(a.name().as_str()));
    let (m, mref, l, x, y) = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let down = Term::tuple(vec![
        Term::atom("DOWN"),
        Term::from(mref),
        Term::atom("process"),
        Term::Pid(m),
        Term::atom("noconnection"),
    ]);
    let exit = Term::tuple(vec![
        Term::atom("EXIT"),
        Term::Pid(l),
        Term::atom("noconnection"),
    ]);
    assert!(
        (x == down && y == exit) || (x == exit && y == down),
        "{x} {y}"
    );
    // The linked child on b saw the connection go too.
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), child_exit)
            .await
            .unwrap(),
        Term::atom("noconnection")
    );
    a.shutdown().await;
    b.shutdown().await;
}
