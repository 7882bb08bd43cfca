//! Supervisor and DynamicSupervisor: strategies, restart types, intensity, shutdown
//! order and timeouts, nesting, and the child-management API.

use ferrobeam::dynamic_supervisor::{self, DynamicSupervisorOpts};
use ferrobeam::gen_server::StartOpts;
use ferrobeam::supervisor::{
    self, ChildSpec, ChildType, Restart, Shutdown, Strategy, SupervisorSpec,
};
use ferrobeam::{Ctx, Node, Pid, Term};
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

fn atom(s: &str) -> Term {
    Term::atom(s)
}
fn t(v: Vec<Term>) -> Term {
    Term::tuple(v)
}

/// A worker that tells `log` `{started, Id, Pid}`, then waits; on `{exit, Reason}` it
/// ends with that reason. With `trap`, it traps exits and reports `{stopping, Id,
/// Reason}` when told to stop by an exit signal (a graceful shutdown).
fn worker(id: &'static str, log: Pid, trap: bool) -> ChildSpec {
    ChildSpec::task(id, move |ctx: Ctx| {
        let log = log.clone();
        async move {
            if trap {
                ctx.trap_exit(true);
            }
            ctx.send(
                &log,
                t(vec![
                    atom("started"),
                    atom(id),
                    Term::Pid(ctx.self_pid().clone()),
                ]),
            )
            .unwrap();
            loop {
                let m = ctx.receive().await;
                let tup = m.as_tuple().unwrap_or(&[]).to_vec();
                if tup.len() == 2 && tup[0].is_atom("exit") {
                    return Err(tup[1].clone());
                }
                if tup.len() == 3 && tup[0].is_atom("EXIT") {
                    ctx.send(&log, t(vec![atom("stopping"), atom(id), tup[2].clone()]))
                        .unwrap();
                    return Err(tup[2].clone());
                }
            }
        }
    })
}

/// Waits for `{started, Id, Pid}` and returns the pid.
async fn started(ctx: &Ctx, id: &str) -> Pid {
    let id = atom(id);
    let m = ctx
        .receive_match(move |m| matches!(m, Term::Tuple(v) if v.len() == 3 && v[0].is_atom("started") && v[1] == id))
        .await;
    m.as_tuple().unwrap()[2].as_pid().unwrap().clone()
}

async fn no_more_starts(ctx: &Ctx) -> bool {
    ctx.receive_match_timeout(
        |m| matches!(m, Term::Tuple(v) if v[0].is_atom("started")),
        30 * MS,
    )
    .await
    .is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_one_restarts_only_the_crashed_child() {
    let node = Node::new();
    node.run(|ctx| async move {
        let me = ctx.self_pid().clone();
        let spec = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(10, Duration::from_secs(5))
            .child(worker("a", me.clone(), false))
            .child(worker("b", me.clone(), false))
            .child(worker("c", me.clone(), false));
        let sup = supervisor::start_link(&ctx, spec, StartOpts::default())
            .await
            .unwrap();
        let (a, b, c) = (
            started(&ctx, "a").await,
            started(&ctx, "b").await,
            started(&ctx, "c").await,
        );
        ctx.send(&b, t(vec![atom("exit"), atom("crash")])).unwrap();
        let b2 = started(&ctx, "b").await;
        assert_ne!(b, b2);
        assert!(no_more_starts(&ctx).await);
        let kids = supervisor::which_children(&ctx, &sup).await.unwrap();
        let pids: Vec<_> = kids.iter().map(|k| k.pid.clone().unwrap()).collect();
        assert_eq!(pids, vec![a.clone(), b2, c.clone()]);
        assert!(ctx.node().is_alive(&a) && ctx.node().is_alive(&c));
        // Killed children are restarted too.
        ctx.exit(&a, atom("kill"));
        let a2 = started(&ctx, "a").await;
        assert_ne!(a, a2);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_all_restarts_everyone() {
    let node = Node::new();
    node.run(|ctx| async move {
        let me = ctx.self_pid().clone();
        let spec = SupervisorSpec::new(Strategy::OneForAll)
            .intensity(10, Duration::from_secs(5))
            .child(worker("a", me.clone(), true))
            .child(worker("b", me.clone(), true))
            .child(worker("c", me.clone(), true));
        supervisor::start_link(&ctx, spec, StartOpts::default())
            .await
            .unwrap();
        let (a, b, c) = (
            started(&ctx, "a").await,
            started(&ctx, "b").await,
            started(&ctx, "c").await,
        );
        ctx.send(&b, t(vec![atom("exit"), atom("crash")])).unwrap();
        // The others are stopped in reverse start order with `shutdown`.
        let s1 = ctx
            .receive_match(|m| m.as_tuple().is_some_and(|v| v[0].is_atom("stopping")))
            .await;
        let s2 = ctx
            .receive_match(|m| m.as_tuple().is_some_and(|v| v[0].is_atom("stopping")))
            .await;
        assert_eq!(s1, t(vec![atom("stopping"), atom("c"), atom("shutdown")]));
        assert_eq!(s2, t(vec![atom("stopping"), atom("a"), atom("shutdown")]));
        let (a2, b2, c2) = (
            started(&ctx, "a").await,
            started(&ctx, "b").await,
            started(&ctx, "c").await,
        );
        assert!(a != a2 && b != b2 && c != c2);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_for_one_restarts_the_later_children() {
    let node = Node::new();
    node.run(|ctx| async move {
        let me = ctx.self_pid().clone();
        let spec = SupervisorSpec::new(Strategy::RestForOne)
            .intensity(10, Duration::from_secs(5))
            .child(worker("a", me.clone(), false))
            .child(worker("b", me.clone(), false))
            .child(worker("c", me.clone(), false));
        let sup = supervisor::start_link(&ctx, spec, StartOpts::default())
            .await
            .unwrap();
        let (a, b, c) = (
            started(&ctx, "a").await,
            started(&ctx, "b").await,
            started(&ctx, "c").await,
        );
        ctx.send(&b, t(vec![atom("exit"), atom("crash")])).unwrap();
        let (b2, c2) = (started(&ctx, "b").await, started(&ctx, "c").await);
        assert!(b != b2 && c != c2);
        assert!(no_more_starts(&ctx).await);
        let kids = supervisor::which_children(&ctx, &sup).await.unwrap();
        assert_eq!(kids[0].pid, Some(a));
        assert!(!ctx.node().is_alive(&c));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_types() {
    let node = Node::new();
    node.run(|ctx| async move {
        let me = ctx.self_pid().clone();
        let spec = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(10, Duration::from_secs(5))
            .child(worker("perm", me.clone(), false))
            .child(worker("trans", me.clone(), false).restart(Restart::Transient))
            .child(worker("temp", me.clone(), false).restart(Restart::Temporary));
        let sup = supervisor::start_link(&ctx, spec, StartOpts::default())
            .await
            .unwrap();
        let perm = started(&ctx, "perm").await;
        let trans = started(&ctx, "trans").await;
        let temp = started(&ctx, "temp").await;
        // Permanent: restarted even after a normal exit.
        ctx.send(&perm, t(vec![atom("exit"), atom("normal")]))
            .unwrap();
        started(&ctx, "perm").await;
        // Transient: restarted after a crash...
        ctx.send(&trans, t(vec![atom("exit"), atom("crash")]))
            .unwrap();
        let trans2 = started(&ctx, "trans").await;
        // ... but not after normal, shutdown or {shutdown, _}.
        ctx.send(
            &trans2,
            t(vec![atom("exit"), t(vec![atom("shutdown"), atom("x")])]),
        )
        .unwrap();
        // Temporary: never restarted, and removed.
        ctx.send(&temp, t(vec![atom("exit"), atom("crash")]))
            .unwrap();
        assert!(no_more_starts(&ctx).await);
        let kids = supervisor::which_children(&ctx, &sup).await.unwrap();
        let ids: Vec<_> = kids
            .iter()
            .map(|k| (k.id.clone(), k.pid.is_some()))
            .collect();
        assert_eq!(ids, vec![(atom("perm"), true), (atom("trans"), false)]);
        assert_eq!(
            supervisor::count_children(&ctx, &sup).await.unwrap(),
            Term::list(vec![
                t(vec![atom("specs"), Term::Int(2)]),
                t(vec![atom("active"), Term::Int(1)]),
                t(vec![atom("supervisors"), Term::Int(0)]),
                t(vec![atom("workers"), Term::Int(2)]),
            ])
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gives_up_when_intensity_is_exceeded() {
    let node = Node::new();
    node.run(|ctx| async move {
        ctx.trap_exit(true);
        let me = ctx.self_pid().clone();
        let spec = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(2, Duration::from_secs(5))
            .child(worker("a", me.clone(), true))
            .child(worker("b", me.clone(), false));
        let sup = supervisor::start_link(&ctx, spec, StartOpts::default())
            .await
            .unwrap();
        let a = started(&ctx, "a").await;
        let mut b = started(&ctx, "b").await;
        // Two restarts are allowed...
        for _ in 0..2 {
            ctx.send(&b, t(vec![atom("exit"), atom("crash")])).unwrap();
            b = started(&ctx, "b").await;
        }
        // ... the third crash within the period makes the supervisor give up: it stops
        // the other children and exits with `shutdown`.
        ctx.send(&b, t(vec![atom("exit"), atom("crash")])).unwrap();
        let stopping = ctx
            .receive_match(|m| m.as_tuple().is_some_and(|v| v[0].is_atom("stopping")))
            .await;
        assert_eq!(
            stopping,
            t(vec![atom("stopping"), atom("a"), atom("shutdown")])
        );
        let exit = ctx
            .receive_match(|m| m.as_tuple().is_some_and(|v| v[0].is_atom("EXIT")))
            .await;
        assert_eq!(
            exit,
            t(vec![atom("EXIT"), Term::Pid(sup.clone()), atom("shutdown")])
        );
        assert!(!ctx.node().is_alive(&a));
        assert!(no_more_starts(&ctx).await);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_stop_in_reverse_order_on_shutdown() {
    let node = Node::new();
    node.run(|ctx| async move {
        let me = ctx.self_pid().clone();
        let spec = SupervisorSpec::new(Strategy::OneForOne)
            .child(worker("first", me.clone(), true))
            .child(worker("second", me.clone(), true))
            .child(worker("third", me.clone(), true));
        let sup = supervisor::start(ctx.node(), spec, StartOpts::name("ordered"))
            .await
            .unwrap();
        for id in ["first", "second", "third"] {
            started(&ctx, id).await;
        }
        let r = ctx.monitor(&sup);
        ferrobeam::gen_server::stop(
            &ctx,
            "ordered",
            atom("shutdown"),
            ferrobeam::gen_server::Timeout::Infinity,
        )
        .await
        .unwrap();
        let mut order = vec![];
        for _ in 0..3 {
            let m = ctx
                .receive_match(|m| m.as_tuple().is_some_and(|v| v[0].is_atom("stopping")))
                .await;
            order.push(m.as_tuple().unwrap()[1].clone());
        }
        assert_eq!(order, vec![atom("third"), atom("second"), atom("first")]);
        let down = ctx
            .receive_match(|m| m.as_tuple().is_some_and(|v| v[0].is_atom("DOWN")))
            .await;
        assert_eq!(down.as_tuple().unwrap()[1], Term::from(r));
        assert_eq!(down.as_tuple().unwrap()[4], atom("shutdown"));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_timeout_then_kill_and_brutal_kill() {
    let node = Node::new();
    node.run(|ctx| async move {
        let me = ctx.self_pid().clone();
        // A child that traps exits and ignores them: killed after its shutdown timeout.
        let stubborn = ChildSpec::task("stubborn", {
            let me = me.clone();
            move |ctx: Ctx| {
                let me = me.clone();
                async move {
                    ctx.trap_exit(true);
                    ctx.send(
                        &me,
                        t(vec![
                            atom("started"),
                            atom("stubborn"),
                            Term::Pid(ctx.self_pid().clone()),
                        ]),
                    )
                    .unwrap();
                    ctx.receive_match(|_| false).await;
                }
            }
        })
        .shutdown(Shutdown::Timeout(50 * MS));
        let brutal = worker("brutal", me.clone(), true).shutdown(Shutdown::BrutalKill);
        let spec = SupervisorSpec::new(Strategy::OneForOne)
            .child(stubborn)
            .child(brutal);
        let sup = supervisor::start(ctx.node(), spec, StartOpts::default())
            .await
            .unwrap();
        let s = started(&ctx, "stubborn").await;
        let b = started(&ctx, "brutal").await;
        let (rs, rb) = (ctx.monitor(&s), ctx.monitor(&b));
        let t0 = std::time::Instant::now();
        supervisor::terminate_child(&ctx, &sup, atom("brutal"))
            .await
            .unwrap();
        let db = ctx.receive().await;
        assert_eq!(
            db,
            t(vec![
                atom("DOWN"),
                Term::from(rb),
                atom("process"),
                Term::Pid(b),
                atom("killed")
            ])
        );
        supervisor::terminate_child(&ctx, &sup, atom("stubborn"))
            .await
            .unwrap();
        assert!(t0.elapsed() >= 50 * MS);
        let ds = ctx.receive().await;
        assert_eq!(
            ds,
            t(vec![
                atom("DOWN"),
                Term::from(rs),
                atom("process"),
                Term::Pid(s),
                atom("killed")
            ])
        );
        // The brutal child never got to see a shutdown message.
        assert!(ctx
            .receive_match_timeout(
                |m| m.as_tuple().is_some_and(|v| v[0].is_atom("stopping")),
                20 * MS
            )
            .await
            .is_none());
        // Child management.
        let kids = supervisor::which_children(&ctx, &sup).await.unwrap();
        assert!(kids.iter().all(|k| k.pid.is_none()));
        assert_eq!(
            supervisor::restart_child(&ctx, &sup, atom("nope")).await,
            Err(atom("not_found"))
        );
        let p = supervisor::restart_child(&ctx, &sup, atom("brutal"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(started(&ctx, "brutal").await, p);
        assert_eq!(
            supervisor::restart_child(&ctx, &sup, atom("brutal")).await,
            Err(atom("running"))
        );
        assert_eq!(
            supervisor::delete_child(&ctx, &sup, atom("brutal")).await,
            Err(atom("running"))
        );
        supervisor::delete_child(&ctx, &sup, atom("stubborn"))
            .await
            .unwrap();
        let added = supervisor::start_child(&ctx, &sup, worker("added", me.clone(), false))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(started(&ctx, "added").await, added);
        assert_eq!(
            supervisor::start_child(&ctx, &sup, worker("added", me.clone(), false)).await,
            Err(t(vec![atom("already_started"), Term::Pid(added)]))
        );
        let ids: Vec<_> = supervisor::which_children(&ctx, &sup)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.id)
            .collect();
        assert_eq!(ids, vec![atom("brutal"), atom("added")]);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_nest() {
    let node = Node::new();
    node.run(|ctx| async move {
        let me = ctx.self_pid().clone();
        let inner = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(5, Duration::from_secs(5))
            .child(worker("leaf", me.clone(), false));
        let outer = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(5, Duration::from_secs(5))
            .child(ChildSpec::supervisor("inner", inner, StartOpts::default()))
            .child(worker("sibling", me.clone(), false));
        let top = supervisor::start(ctx.node(), outer, StartOpts::default())
            .await
            .unwrap();
        let leaf = started(&ctx, "leaf").await;
        let sib = started(&ctx, "sibling").await;
        // The leaf is restarted by the inner supervisor.
        ctx.send(&leaf, t(vec![atom("exit"), atom("crash")]))
            .unwrap();
        let leaf2 = started(&ctx, "leaf").await;
        assert_ne!(leaf, leaf2);
        let kids = supervisor::which_children(&ctx, &top).await.unwrap();
        assert_eq!(kids[0].kind, ChildType::Supervisor);
        let inner_pid = kids[0].pid.clone().unwrap();
        // Killing the inner supervisor restarts it, and with it the leaf.
        ctx.exit(&inner_pid, atom("kill"));
        let leaf3 = started(&ctx, "leaf").await;
        assert_ne!(leaf2, leaf3);
        assert!(
            !ctx.node().is_alive(&leaf2),
            "the leaf went down with its supervisor"
        );
        assert!(ctx.node().is_alive(&sib));
        let inner2 = supervisor::which_children(&ctx, &top).await.unwrap()[0]
            .pid
            .clone()
            .unwrap();
        assert_ne!(inner_pid, inner2);
        let leaves = supervisor::which_children(&ctx, &inner2).await.unwrap();
        assert_eq!(leaves[0].pid, Some(leaf3));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_child_start_fails_the_supervisor() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            let bad = ChildSpec::new("bad", |_ctx| async { Err(atom("no_way")) });
            let spec = SupervisorSpec::new(Strategy::OneForOne)
                .child(worker("ok1", me.clone(), true))
                .child(bad);
            let r = supervisor::start(ctx.node(), spec, StartOpts::default()).await;
            let stopping = ctx
                .receive_match(|m| m.as_tuple().is_some_and(|v| v[0].is_atom("stopping")))
                .await;
            (r, stopping)
        })
        .await
        .unwrap();
    assert_eq!(
        out.0,
        Err(t(vec![
            atom("shutdown"),
            t(vec![
                atom("failed_to_start_child"),
                atom("bad"),
                atom("no_way")
            ])
        ]))
    );
    assert_eq!(
        out.1,
        t(vec![atom("stopping"), atom("ok1"), atom("shutdown")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen_server_children() {
    use ferrobeam::gen_server::{self, CallFrom, CallReply, GenServer};
    struct Kv(i64);
    impl GenServer for Kv {
        type Args = i64;
        type Call = Term;
        type Reply = i64;
        type Cast = Term;
        async fn init(_ctx: &Ctx, n: i64) -> Result<Self, Term> {
            Ok(Kv(n))
        }
        async fn handle_call(&mut self, _ctx: &Ctx, req: Term, _f: CallFrom) -> CallReply<i64> {
            if req.is_atom("crash") {
                panic!("kv crash");
            }
            self.0 += 1;
            CallReply::Reply(self.0)
        }
    }
    let node = Node::new();
    node.run(|ctx| async move {
        let spec = SupervisorSpec::new(Strategy::OneForOne).child(ChildSpec::gen_server::<Kv>(
            "kv",
            100,
            StartOpts::name("kv"),
        ));
        supervisor::start(ctx.node(), spec, StartOpts::default())
            .await
            .unwrap();
        assert_eq!(
            gen_server::call::<_, i64>(&ctx, "kv", atom("inc"))
                .await
                .unwrap(),
            101
        );
        let _ = gen_server::call::<_, i64>(&ctx, "kv", atom("crash"))
            .await
            .unwrap_err();
        // Restarted with its initial state, under the same name.
        let mut v = None;
        for _ in 0..100 {
            if let Ok(n) = gen_server::call::<_, i64>(&ctx, "kv", atom("inc")).await {
                v = Some(n);
                break;
            }
            tokio::time::sleep(MS).await;
        }
        assert_eq!(v, Some(101));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_supervisor() {
    let node = Node::new();
    node.run(|ctx| async move {
        ctx.trap_exit(true);
        let me = ctx.self_pid().clone();
        let opts = DynamicSupervisorOpts {
            intensity: 1,
            period: Duration::from_secs(5),
            max_children: Some(2),
        };
        let sup = dynamic_supervisor::start_link(&ctx, opts, StartOpts::name("dyn"))
            .await
            .unwrap();
        let a = dynamic_supervisor::start_child(&ctx, "dyn", worker("a", me.clone(), true))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(started(&ctx, "a").await, a);
        let b = dynamic_supervisor::start_child(
            &ctx,
            "dyn",
            worker("b", me.clone(), true).restart(Restart::Temporary),
        )
        .await
        .unwrap()
        .unwrap();
        started(&ctx, "b").await;
        assert_eq!(
            dynamic_supervisor::start_child(&ctx, "dyn", worker("c", me.clone(), true)).await,
            Err(atom("max_children"))
        );
        let kids = dynamic_supervisor::which_children(&ctx, "dyn")
            .await
            .unwrap();
        assert_eq!(
            kids.iter()
                .map(|k| k.pid.clone().unwrap())
                .collect::<Vec<_>>(),
            vec![a.clone(), b.clone()]
        );
        assert_eq!(kids[0].id, atom("undefined"));
        let counts = dynamic_supervisor::count_children(&ctx, "dyn")
            .await
            .unwrap();
        assert_eq!(
            counts.as_map().unwrap().get_atom("active"),
            Some(&Term::Int(2))
        );
        // terminate_child by pid
        dynamic_supervisor::terminate_child(&ctx, "dyn", &b)
            .await
            .unwrap();
        assert_eq!(
            dynamic_supervisor::terminate_child(&ctx, "dyn", &b).await,
            Err(atom("not_found"))
        );
        // A permanent child is restarted once...
        ctx.send(&a, t(vec![atom("exit"), atom("crash")])).unwrap();
        let a2 = started(&ctx, "a").await;
        assert_ne!(a, a2);
        // ... the second crash exceeds intensity 1: the supervisor exits with shutdown.
        ctx.send(&a2, t(vec![atom("exit"), atom("crash")])).unwrap();
        let exit = ctx
            .receive_match(|m| m.as_tuple().is_some_and(|v| v[0].is_atom("EXIT")))
            .await;
        assert_eq!(
            exit,
            t(vec![atom("EXIT"), Term::Pid(sup), atom("shutdown")])
        );
    })
    .await
    .unwrap();
}
