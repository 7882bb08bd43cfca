//! Task and TaskSupervisor: async/await with timeouts, Elixir's exit reasons, and seed
//! 002's `Task.Supervisor.async(...) |> Task.await()`.

use ferrobeam::gen_server::StartOpts;
use ferrobeam::{task, task_supervisor, Node, Term};
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

fn atom(s: &str) -> Term {
    Term::atom(s)
}
fn t(v: Vec<Term>) -> Term {
    Term::tuple(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_and_await() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let a = task::async_(&ctx, |_ctx| async { 20 + 1 });
            let b = task::async_(&ctx, |_ctx| async { String::from("text") });
            let c = task::async_(&ctx, |_ctx| async { Term::atom("raw") });
            let va: i64 = a.await_(&ctx).await.unwrap();
            let vb: String = b.await_(&ctx).await.unwrap();
            let vc: Term = c.await_(&ctx).await.unwrap();
            (va, vb, vc, ctx.message_queue_len(), ctx.links().len())
        })
        .await
        .unwrap();
    assert_eq!(out.0, 21);
    assert_eq!(out.1, "text");
    assert_eq!(out.2, atom("raw"));
    assert_eq!(out.3, 0, "await leaves no DOWN or reply behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_timeout_exits_like_elixir() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let slow = task::async_(&ctx, |_ctx| async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                1i64
            });
            let task_term = slow.to_term();
            let e = slow.await_timeout(&ctx, 20 * MS).await.unwrap_err();
            (task_term, e)
        })
        .await;
    // The task is linked to its owner: when the owner's run ends, the task gets the
    // owner's normal exit and keeps running; the result is ours.
    let (task_term, e) = out.unwrap();
    assert_eq!(
        e.reason,
        t(vec![
            atom("timeout"),
            t(vec![
                atom("Elixir.Task"),
                atom("await"),
                Term::list(vec![task_term.clone(), Term::Int(20)])
            ])
        ])
    );
    let m = task_term.as_map().unwrap();
    assert_eq!(m.get_atom("__struct__"), Some(&atom("Elixir.Task")));
    assert_eq!(
        m.get_atom("mfa"),
        Some(&t(vec![atom("erlang"), atom("apply"), Term::Int(2)]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_task_takes_the_linked_owner_down() {
    let node = Node::new();
    let r: Result<i64, Term> = node
        .run(|ctx| async move {
            let t = task::async_(&ctx, |_ctx| async {
                if std::hint::black_box(true) {
                    panic!("task failed");
                }
                0i64
            });
            t.await_(&ctx).await.unwrap()
        })
        .await;
    assert_eq!(r, Err(ferrobeam::reason::panic("task failed")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trapping_owner_sees_the_crash_through_await() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            ctx.trap_exit(true);
            let tk = task::async_(&ctx, |_ctx| async {
                if std::hint::black_box(true) {
                    panic!("boom");
                }
                0i64
            });
            let tt = tk.to_term();
            (tt, tk.await_(&ctx).await.unwrap_err())
        })
        .await
        .unwrap();
    assert_eq!(
        out.1.reason,
        t(vec![
            ferrobeam::reason::panic("boom"),
            t(vec![
                atom("Elixir.Task"),
                atom("await"),
                Term::list(vec![out.0, Term::Int(5000)])
            ])
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yield_returns_none_while_running() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let tk = task::async_(&ctx, |_ctx| async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                7i64
            });
            let first = tk.yield_(&ctx, 5 * MS).await;
            let second = tk.yield_(&ctx, Duration::from_secs(5)).await;
            (first.is_none(), second.map(|r| r.unwrap()))
        })
        .await
        .unwrap();
    assert_eq!(out, (true, Some(7)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_by_module_function() {
    let node = Node::new();
    node.register_fn("math", "add", |_ctx, args| async move {
        Term::Int(args[0].as_int().unwrap() + args[1].as_int().unwrap())
    });
    node.register_fn("math", "fail", |_ctx, _args| async move {
        Err::<Term, _>(atom("nope"))
    });
    let out = node
        .run(|ctx| async move {
            ctx.trap_exit(true);
            let a = task::async_mfa(&ctx, "math", "add", vec![Term::Int(1), Term::Int(2)]).unwrap();
            let mfa = a.to_term().as_map().unwrap().get_atom("mfa").cloned();
            let v = a.await_(&ctx).await.unwrap();
            let f = task::async_mfa(&ctx, "math", "fail", vec![]).unwrap();
            let e = f.await_(&ctx).await.unwrap_err();
            let undef = task::async_mfa(&ctx, "math", "nothing", vec![]).unwrap_err();
            (v, mfa, e.kind().clone(), undef.reason())
        })
        .await
        .unwrap();
    assert_eq!(out.0, Term::Int(3));
    assert_eq!(
        out.1,
        Some(t(vec![atom("math"), atom("add"), Term::Int(2)]))
    );
    assert_eq!(out.2, atom("nope"));
    assert_eq!(out.3.as_tuple().unwrap()[0], atom("undef"));
}

/// Seed 002: `Task.Supervisor.async({Chat.TaskSupervisor, node}, Chat, :receive_message,
/// [message]) |> Task.await()` (here on the local node).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_task_supervisor_async_then_await() {
    let node = Node::new();
    let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let p2 = printed.clone();
    node.register_fn("Elixir.Chat", "receive_message", move |_ctx, args| {
        let p2 = p2.clone();
        async move {
            p2.lock()
                .unwrap()
                .push(args[0].as_str().unwrap().to_string());
            atom("ok")
        }
    });
    task_supervisor::start(&node, StartOpts::name("Elixir.Chat.TaskSupervisor"))
        .await
        .unwrap();
    let nn = node.name().clone();
    let r = node
        .run(move |ctx| async move {
            let sup = ("Elixir.Chat.TaskSupervisor", nn.as_str());
            let task = task_supervisor::async_mfa(
                &ctx,
                sup,
                "Elixir.Chat",
                "receive_message",
                vec![Term::string("hi")],
            )
            .await
            .unwrap();
            task.await_(&ctx).await.unwrap()
        })
        .await
        .unwrap();
    assert_eq!(r, atom("ok"));
    assert_eq!(*printed.lock().unwrap(), vec!["hi".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_supervisor_variants() {
    let node = Node::new();
    let sup = task_supervisor::start(&node, StartOpts::default())
        .await
        .unwrap();
    let s2 = sup.clone();
    node.run(move |ctx| async move {
        let sup = s2;
        // async: linked, supervised.
        let t1 = task_supervisor::async_(&ctx, &sup, |_c| async { 5i64 })
            .await
            .unwrap();
        assert!(ctx.links().contains(&t1.pid));
        assert_eq!(t1.await_(&ctx).await.unwrap(), 5);
        // async_nolink: a crash comes back through await only.
        let t2 = task_supervisor::async_nolink(&ctx, &sup, |_c| async {
            if std::hint::black_box(true) {
                panic!("nolink crash");
            }
            0i64
        })
        .await
        .unwrap();
        assert!(!ctx.links().contains(&t2.pid));
        let e = t2.await_(&ctx).await.unwrap_err();
        assert_eq!(e.kind(), &ferrobeam::reason::panic("nolink crash"));
        // start_child: fire and forget, listed as a child while it runs.
        let me = ctx.self_pid().clone();
        let c = task_supervisor::start_child(&ctx, &sup, move |ctx| async move {
            ctx.receive().await;
            ctx.send(&me, atom("child_done")).unwrap();
        })
        .await
        .unwrap();
        assert_eq!(
            task_supervisor::children(&ctx, &sup).await.unwrap(),
            vec![c.clone()]
        );
        ctx.send(&c, atom("go")).unwrap();
        assert_eq!(ctx.receive().await, atom("child_done"));
        tokio::time::sleep(10 * MS).await;
        assert!(task_supervisor::children(&ctx, &sup)
            .await
            .unwrap()
            .is_empty());
        // terminate_child stops a running task.
        let c2 = task_supervisor::start_child(&ctx, &sup, |ctx| async move {
            ctx.receive().await;
        })
        .await
        .unwrap();
        let r = ctx.monitor(&c2);
        task_supervisor::terminate_child(&ctx, &sup, &c2)
            .await
            .unwrap();
        let d = ctx.receive().await;
        assert_eq!(
            d,
            t(vec![
                atom("DOWN"),
                Term::from(r),
                atom("process"),
                Term::Pid(c2),
                atom("shutdown")
            ])
        );
    })
    .await
    .unwrap();
    // Tasks die with their supervisor.
    node.run(move |ctx| async move {
        let t = task_supervisor::async_nolink(&ctx, &sup, |c| async move {
            c.receive().await;
            0i64
        })
        .await
        .unwrap();
        let r = ctx.monitor(&t.pid);
        ferrobeam::gen_server::stop(&ctx, &sup, atom("shutdown"), Duration::from_secs(5))
            .await
            .unwrap();
        let d = ctx
            .receive_match(|m| {
                m.as_tuple()
                    .is_some_and(|v| v[0].is_atom("DOWN") && v.len() == 5)
            })
            .await;
        let _ = r;
        assert_eq!(d.as_tuple().unwrap()[4], atom("shutdown"));
    })
    .await
    .unwrap();
}
