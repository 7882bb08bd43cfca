//! Processes on one node: lifecycle, messages, selective receive, registry,
//! introspection.

use ferrobeam::{reason, Dest, ExitReason, Node, RegisterError, SendError, Term};
use std::time::Duration;

fn atom(s: &str) -> Term {
    Term::atom(s)
}

fn t(v: Vec<Term>) -> Term {
    Term::tuple(v)
}

fn pid_t(p: &ferrobeam::Pid) -> Term {
    Term::Pid(p.clone())
}

/// Panics with `msg`; typed `()` so the async block's type is not `!`.
fn boom(msg: &str) {
    panic!("{msg}")
}

/// Spawns `f` monitored (atomically) and returns its exit reason.
async fn exit_of<F, Fut>(node: &Node, f: F) -> Term
where
    F: FnOnce(ferrobeam::Ctx) -> Fut + Send + 'static,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: ferrobeam::IntoExitReason,
{
    node.run(move |ctx| async move {
        let (_pid, r) = ctx.spawn_monitor(f);
        let down = ctx
            .receive_match(move |m| matches!(m, Term::Tuple(t) if t.len() == 5 && t[1] == Term::from(r.clone())))
            .await;
        down.as_tuple().unwrap()[4].clone()
    })
    .await
    .unwrap()
}

const MS: Duration = Duration::from_millis(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_and_self_and_normal_exit() {
    let node = Node::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let pid = node.spawn(move |ctx| async move {
        tx.send(ctx.self_pid().clone()).unwrap();
        ctx.receive().await;
    });
    assert_eq!(pid.node, "nonode@nohost");
    assert_eq!(rx.await.unwrap(), pid);
    assert!(node.is_alive(&pid));
    let exited = node.wait_exit(&pid);
    node.send(&pid, atom("go")).unwrap();
    assert_eq!(exited.await, atom("normal"));
    assert!(!node.is_alive(&pid));
    assert_eq!(exit_of(&node, |_ctx| async {}).await, atom("normal"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pids_are_unique_and_carry_the_node() {
    let node = Node::builder().name("a@host").creation(7).build();
    let a = node.spawn(|ctx| async move {
        ctx.receive().await;
    });
    let b = node.spawn(|ctx| async move {
        ctx.receive().await;
    });
    assert_ne!(a, b);
    assert_eq!(a.node, "a@host");
    assert_eq!(a.creation, 7);
    node.exit(&a, atom("kill"));
    node.exit(&b, atom("kill"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_link_delivers_exit_to_trapping_parent() {
    let node = Node::new();
    let got = node
        .run(|ctx| async move {
            ctx.trap_exit(true);
            let child = ctx.spawn_link(|_ctx| async {});
            (child, ctx.receive().await)
        })
        .await
        .unwrap();
    assert_eq!(got.1, t(vec![atom("EXIT"), pid_t(&got.0), atom("normal")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_monitor_delivers_down_with_reason() {
    let node = Node::new();
    let (pid, r, msg) = node
        .run(|ctx| async move {
            let (pid, r) = ctx.spawn_monitor(|_ctx| async { Err::<(), _>(atom("crashed")) });
            (pid, r, ctx.receive().await)
        })
        .await
        .unwrap();
    assert_eq!(
        msg,
        t(vec![
            atom("DOWN"),
            Term::from(r),
            atom("process"),
            pid_t(&pid),
            atom("crashed")
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_becomes_exit_reason_and_node_keeps_running() {
    let node = Node::new();
    let r = exit_of(&node, |_ctx| async { boom("boom") }).await;
    assert_eq!(r, t(vec![atom("panic"), Term::string("boom")]));
    let n = 42;
    let r = exit_of(
        &node,
        move |_ctx| async move { boom(&format!("formatted {n}")) },
    )
    .await;
    assert_eq!(r, reason::panic("formatted 42"));
    // The node still runs processes.
    let r = node.run(|_ctx| async { 1 + 1 }).await;
    assert_eq!(r, Ok(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_in_the_spawn_closure_itself() {
    let node = Node::new();
    let r = exit_of(&node, |_ctx| -> std::future::Ready<()> { panic!("early") }).await;
    assert_eq!(r, reason::panic("early"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_reasons_from_results_and_exit_self() {
    let node = Node::new();
    let r = exit_of(&node, |_ctx| async { Err::<(), Term>(atom("bad")) }).await;
    assert_eq!(r, atom("bad"));
    let r = exit_of(&node, |_ctx| async { Ok::<(), Term>(()) }).await;
    assert_eq!(r, atom("normal"));
    let r = exit_of(&node, |_ctx| async { ExitReason(atom("shutdown")) }).await;
    assert_eq!(r, atom("shutdown"));
    let r = exit_of(&node, |ctx| async move {
        tokio::task::yield_now().await;
        if std::hint::black_box(true) {
            ctx.exit_self(t(vec![atom("shutdown"), atom("x")]));
        }
    })
    .await;
    assert_eq!(r, t(vec![atom("shutdown"), atom("x")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_by_module_function_name() {
    let node = Node::new();
    node.register_fn("demo", "add", |ctx, args| async move {
        let to = args[0].as_pid().unwrap().clone();
        let sum = args[1].as_int().unwrap() + args[2].as_int().unwrap();
        ctx.send(&to, Term::Int(sum)).unwrap();
    });
    let got = node
        .run(|ctx| async move {
            let me = pid_t(ctx.self_pid());
            let (_pid, _r) = ctx
                .spawn_monitor_mfa("demo", "add", vec![me, Term::Int(2), Term::Int(3)])
                .unwrap();
            ctx.receive().await
        })
        .await
        .unwrap();
    assert_eq!(got, Term::Int(5));
    let err = node
        .spawn_mfa("demo", "missing", vec![Term::Int(1)])
        .unwrap_err();
    assert_eq!(
        err.reason(),
        t(vec![
            atom("undef"),
            Term::list(vec![t(vec![
                atom("demo"),
                atom("missing"),
                Term::list(vec![Term::Int(1)]),
                Term::nil()
            ])])
        ])
    );
    assert!(node.is_fn_registered("demo", "add"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_arrive_in_order_and_selective_receive_keeps_the_rest() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            for i in 0..5 {
                ctx.send(&me, Term::Int(i)).unwrap();
            }
            ctx.send(&me, atom("special")).unwrap();
            let s = ctx.receive_match(|m| m.is_atom("special")).await;
            let three = ctx.receive_match(|m| m.as_int() == Some(3)).await;
            let mut rest = vec![];
            for _ in 0..4 {
                rest.push(ctx.receive().await);
            }
            (s, three, rest)
        })
        .await
        .unwrap();
    assert_eq!(out.0, atom("special"));
    assert_eq!(out.1, Term::Int(3));
    assert_eq!(
        out.2,
        vec![Term::Int(0), Term::Int(1), Term::Int(2), Term::Int(4)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selective_receive_waits_for_a_later_match() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            ctx.spawn(move |ctx| async move {
                for i in 0..3 {
                    ctx.send(&me, Term::Int(i)).unwrap();
                    tokio::time::sleep(5 * MS).await;
                }
                ctx.send(&me, atom("done")).unwrap();
            });
            let d = ctx.receive_match(|m| m.is_atom("done")).await;
            (d, ctx.flush())
        })
        .await
        .unwrap();
    assert_eq!(out.0, atom("done"));
    assert_eq!(out.1, vec![Term::Int(0), Term::Int(1), Term::Int(2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_timeouts_like_after() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            let start = std::time::Instant::now();
            let none = ctx.receive_timeout(30 * MS).await;
            let waited = start.elapsed();
            // after 0: only what is already there.
            let zero = ctx.receive_timeout(Duration::ZERO).await;
            ctx.send(&me, atom("x")).unwrap();
            let zero_hit = ctx.receive_timeout(Duration::ZERO).await;
            ctx.send(&me, atom("y")).unwrap();
            let no_match = ctx.receive_match_timeout(|m| m.is_atom("z"), 20 * MS).await;
            let still_there = ctx.receive().await;
            (none, waited, zero, zero_hit, no_match, still_there)
        })
        .await
        .unwrap();
    assert_eq!(out.0, None);
    assert!(out.1 >= 30 * MS);
    assert_eq!(out.2, None);
    assert_eq!(out.3, Some(atom("x")));
    assert_eq!(out.4, None);
    assert_eq!(out.5, atom("y"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_takes_everything() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            for i in 0..3 {
                ctx.send(&me, Term::Int(i)).unwrap();
            }
            let f = ctx.flush();
            (f, ctx.flush(), ctx.message_queue_len())
        })
        .await
        .unwrap();
    assert_eq!(out.0, vec![Term::Int(0), Term::Int(1), Term::Int(2)]);
    assert!(out.1.is_empty());
    assert_eq!(out.2, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_names() {
    let node = Node::new();
    let server = node.spawn(|ctx| async move {
        ctx.register("srv").unwrap();
        loop {
            let m = ctx.receive().await;
            if m.is_atom("stop") {
                break;
            }
            let tup = m.as_tuple().unwrap();
            ctx.send(tup[0].as_pid().unwrap(), tup[1].clone()).unwrap();
        }
    });
    while node.whereis("srv").is_none() {
        tokio::task::yield_now().await;
    }
    assert_eq!(node.whereis("srv"), Some(server.clone()));
    let out = node
        .run(|ctx| async move {
            let me = pid_t(ctx.self_pid());
            ctx.send("srv", t(vec![me.clone(), atom("a")])).unwrap();
            let a = ctx.receive().await;
            let nn = ctx.node().name().clone();
            ctx.send(
                Dest::Remote("srv".into(), nn.clone()),
                t(vec![me, atom("b")]),
            )
            .unwrap();
            let b = ctx.receive().await;
            let err = ctx.send("nobody", atom("x")).unwrap_err();
            // {Name, node()} to an unregistered name is not an error: dropped.
            let ok = ctx.send(Dest::Remote("nobody".into(), nn), atom("x"));
            (a, b, err, ok)
        })
        .await
        .unwrap();
    assert_eq!(out.0, atom("a"));
    assert_eq!(out.1, atom("b"));
    assert_eq!(out.2, SendError::NotRegistered("nobody".into()));
    assert_eq!(out.2.reason(), atom("badarg"));
    assert_eq!(out.3, Ok(()));
    node.exit(&server, atom("kill"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_dead_pid_is_fine() {
    let node = Node::new();
    let p = node.spawn(|_ctx| async {});
    node.wait_exit(&p).await;
    assert_eq!(node.send(&p, atom("x")), Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_rules() {
    let node = Node::new();
    let a = node.spawn(|ctx| async move {
        ctx.receive().await;
    });
    let b = node.spawn(|ctx| async move {
        ctx.receive().await;
    });
    node.register("a", &a).unwrap();
    assert_eq!(
        node.register("a", &b),
        Err(RegisterError::NameTaken("a".into()))
    );
    assert_eq!(
        node.register("a2", &a),
        Err(RegisterError::AlreadyNamed(a.clone()))
    );
    assert_eq!(
        node.register("undefined", &b),
        Err(RegisterError::Undefined)
    );
    assert_eq!(
        node.unregister("zz"),
        Err(RegisterError::NotRegistered("zz".into()))
    );
    assert_eq!(node.registered_name(&a), Some("a".into()));
    assert!(node.registered().contains(&"a".into()));
    node.unregister("a").unwrap();
    assert_eq!(node.whereis("a"), None);
    assert_eq!(node.registered_name(&a), None);
    node.register("a2", &a).unwrap();
    // A name is freed when its process exits.
    let exited = node.wait_exit(&a);
    node.send(&a, atom("stop")).unwrap();
    assert_eq!(exited.await, atom("normal"));
    assert_eq!(node.whereis("a2"), None);
    assert!(!node.registered().contains(&"a2".into()));
    assert_eq!(
        node.register("x", &a),
        Err(RegisterError::NotAlive(a.clone()))
    );
    node.register("a2", &b).unwrap();
    assert_eq!(node.whereis("a2"), Some(b.clone()));
    for e in [RegisterError::Undefined, RegisterError::NotAlive(a.clone())] {
        assert_eq!(e.reason(), atom("badarg"));
    }
    let exited = node.wait_exit(&b);
    node.exit(&b, atom("kill"));
    assert_eq!(exited.await, atom("killed"));
    assert_eq!(node.whereis("a2"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection() {
    let node = Node::new();
    assert_eq!(node.process_count(), 0);
    let pids: Vec<_> = (0..10)
        .map(|_| {
            node.spawn(|ctx| async move {
                ctx.receive_match(|m| m.is_atom("stop")).await;
            })
        })
        .collect();
    assert_eq!(node.process_count(), 10);
    assert_eq!(node.processes().len(), 10);
    node.send(&pids[0], atom("a")).unwrap();
    node.send(&pids[0], atom("b")).unwrap();
    tokio::time::sleep(10 * MS).await;
    assert_eq!(node.message_queue_len(&pids[0]), Some(2));
    assert!(node.is_alive(&pids[0]));
    let exits: Vec<_> = pids.iter().map(|p| node.wait_exit(p)).collect();
    for p in &pids {
        node.send(p, atom("stop")).unwrap();
    }
    for e in exits {
        assert_eq!(e.await, atom("normal"));
    }
    assert_eq!(node.process_count(), 0);
    assert_eq!(node.message_queue_len(&pids[0]), None);
    assert!(!node.is_alive(&pids[0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_messages() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    enum Msg {
        Connect(String),
        Ping,
    }
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            ctx.send_typed(&me, &Msg::Connect("bob".into())).unwrap();
            ctx.send_typed(&me, &Msg::Ping).unwrap();
            let raw = ctx.receive().await;
            let typed: Result<Msg, Term> = ctx.receive_typed().await;
            (raw, typed)
        })
        .await
        .unwrap();
    assert_eq!(out.0, t(vec![atom("connect"), Term::string("bob")]));
    assert_eq!(out.1, Ok(Msg::Ping));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_nodes_in_one_process() {
    let a = Node::builder().name("a@h").build();
    let b = Node::builder().name("b@h").build();
    let pa = a.spawn(|ctx| async move {
        ctx.receive().await;
    });
    // A pid of another node is not local here: the send is dropped (no router).
    assert!(!b.is_alive(&pa));
    assert_eq!(b.send(&pa, atom("x")), Ok(()));
    assert!(a.is_alive(&pa));
    a.exit(&pa, atom("kill"));
}
