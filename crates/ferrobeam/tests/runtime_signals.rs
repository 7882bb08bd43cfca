//! Links, exit signals, trap_exit, monitors, aliases and timers: Erlang's exact
//! reasons and message shapes.

use ferrobeam::{AliasMode, Ctx, Node, Pid, Ref, Term};
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

fn atom(s: &str) -> Term {
    Term::atom(s)
}
fn t(v: Vec<Term>) -> Term {
    Term::tuple(v)
}
fn p(pid: &Pid) -> Term {
    Term::Pid(pid.clone())
}
fn exit_msg(from: &Pid, reason: Term) -> Term {
    t(vec![atom("EXIT"), p(from), reason])
}
fn down(r: &Ref, obj: Term, reason: Term) -> Term {
    t(vec![
        atom("DOWN"),
        Term::from(r.clone()),
        atom("process"),
        obj,
        reason,
    ])
}

/// A process that waits forever (until killed), reporting its pid.
fn idle() -> impl FnOnce(Ctx) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    |ctx| {
        Box::pin(async move {
            ctx.receive_match(|_| false).await;
        })
    }
}

/// A process that waits for `go` then ends with `reason`.
fn wait_then_exit(
    reason: Term,
) -> impl FnOnce(Ctx) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Term>> + Send>>
{
    move |ctx| {
        Box::pin(async move {
            ctx.receive_match(|m| m.is_atom("go")).await;
            if reason.is_atom("normal") {
                Ok(())
            } else {
                Err(reason)
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linked_process_dies_with_the_same_reason() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            // middle is linked to crasher; middle does not trap exits.
            let crasher = ctx.spawn(wait_then_exit(atom("boom")));
            let c2 = crasher.clone();
            let (middle, mref) = ctx.spawn_monitor(move |ctx| async move {
                ctx.link(&c2).unwrap();
                ctx.receive_match(|_| false).await;
            });
            tokio::time::sleep(10 * MS).await;
            ctx.send(&crasher, atom("go")).unwrap();
            (middle, mref.clone(), ctx.receive().await)
        })
        .await
        .unwrap();
    assert_eq!(out.2, down(&out.1, p(&out.0), atom("boom")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_exit_does_not_kill_linked_process() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            let (middle, mref) = ctx.spawn_monitor(move |ctx| async move {
                let child = ctx.spawn_link(|_ctx| async {});
                let _ = child;
                tokio::time::sleep(20 * MS).await;
                ctx.send(&me, atom("still_alive")).unwrap();
                ctx.receive_match(|m| m.is_atom("stop")).await;
            });
            let m = ctx.receive().await;
            ctx.send(&middle, atom("stop")).unwrap();
            (m, ctx.receive().await, mref, middle)
        })
        .await
        .unwrap();
    assert_eq!(out.0, atom("still_alive"));
    assert_eq!(out.1, down(&out.2, p(&out.3), atom("normal")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_cannot_be_trapped_and_links_see_killed() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            ctx.trap_exit(true);
            let me = ctx.self_pid().clone();
            let victim = ctx.spawn_link(move |ctx| async move {
                ctx.trap_exit(true);
                ctx.send(&me, atom("trapping")).unwrap();
                ctx.receive_match(|_| false).await;
            });
            assert_eq!(ctx.receive().await, atom("trapping"));
            let mref = ctx.monitor(&victim);
            ctx.exit(&victim, atom("kill"));
            let a = ctx.receive().await;
            let b = ctx.receive().await;
            (victim, mref, a, b)
        })
        .await
        .unwrap();
    let (victim, mref, a, b) = out;
    let mut got = vec![a, b];
    got.sort();
    let mut want = vec![
        exit_msg(&victim, atom("killed")),
        down(&mref, p(&victim), atom("killed")),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_normal_is_ignored_unless_trapping() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            let plain = ctx.spawn(idle());
            let me2 = me.clone();
            let trapper = ctx.spawn(move |ctx| async move {
                ctx.trap_exit(true);
                ctx.send(&me2, atom("ready")).unwrap();
                let m = ctx.receive().await;
                ctx.send(&me2, m).unwrap();
            });
            assert_eq!(ctx.receive().await, atom("ready"));
            ctx.exit(&plain, atom("normal"));
            ctx.exit(&trapper, atom("normal"));
            let m = ctx.receive().await;
            tokio::time::sleep(10 * MS).await;
            let alive = ctx.node().is_alive(&plain);
            ctx.exit(&plain, atom("kill"));
            (me, m, alive)
        })
        .await
        .unwrap();
    assert_eq!(out.1, exit_msg(&out.0, atom("normal")));
    assert!(
        out.2,
        "exit(Pid, normal) must not kill a process that does not trap exits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_with_other_reason_kills_or_is_trapped() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let (v, r) = ctx.spawn_monitor(idle());
            ctx.exit(&v, atom("custom"));
            let d = ctx.receive().await;
            (v, r, d)
        })
        .await
        .unwrap();
    assert_eq!(out.2, down(&out.1, p(&out.0), atom("custom")));

    // exit(self(), normal) ends the caller.
    let out = node
        .run(|ctx| async move {
            let (v, r) = ctx.spawn_monitor(|ctx| async move {
                let me = ctx.self_pid().clone();
                ctx.exit(&me, atom("normal"));
                ctx.receive_match(|_| false).await;
            });
            (v, r, ctx.receive().await)
        })
        .await
        .unwrap();
    assert_eq!(out.2, down(&out.1, p(&out.0), atom("normal")));

    // A trapping process gets {'EXIT', From, Reason}, also from itself.
    let out = node
        .run(|ctx| async move {
            ctx.trap_exit(true);
            let me = ctx.self_pid().clone();
            ctx.exit(&me, atom("foo"));
            (me, ctx.receive().await)
        })
        .await
        .unwrap();
    assert_eq!(out.1, exit_msg(&out.0, atom("foo")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_exit_with_reason_kill_is_trappable_and_kills_with_kill() {
    let node = Node::new();
    // Trapping: {'EXIT', Pid, kill}.
    let out = node
        .run(|ctx| async move {
            ctx.trap_exit(true);
            let l = ctx.spawn_link(wait_then_exit(atom("kill")));
            ctx.send(&l, atom("go")).unwrap();
            (l, ctx.receive().await)
        })
        .await
        .unwrap();
    assert_eq!(out.1, exit_msg(&out.0, atom("kill")));
    // Not trapping: dies with reason kill (not killed).
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            let (w, r) = ctx.spawn_monitor(move |ctx| async move {
                let l = ctx.spawn_link(wait_then_exit(atom("kill")));
                ctx.send(&me, p(&l)).unwrap();
                ctx.receive_match(|_| false).await;
            });
            let l = ctx.receive().await;
            ctx.send(l.as_pid().unwrap(), atom("go")).unwrap();
            (w, r, ctx.receive().await)
        })
        .await
        .unwrap();
    assert_eq!(out.2, down(&out.1, p(&out.0), atom("kill")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trap_exit_turns_crashes_into_messages() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            assert!(!ctx.trap_exit(true));
            assert!(ctx.is_trapping_exits());
            let c = ctx.spawn_link(wait_then_exit(t(vec![atom("shutdown"), atom("why")])));
            ctx.send(&c, atom("go")).unwrap();
            let m = ctx.receive().await;
            (c, m, ctx.links())
        })
        .await
        .unwrap();
    assert_eq!(
        out.1,
        exit_msg(&out.0, t(vec![atom("shutdown"), atom("why")]))
    );
    assert!(out.2.is_empty(), "the link is gone after the exit signal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlink_removes_the_link() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let c = ctx.spawn_link(wait_then_exit(atom("boom")));
            assert_eq!(ctx.links(), vec![c.clone()]);
            ctx.unlink(&c);
            assert!(ctx.links().is_empty());
            let r = ctx.monitor(&c);
            ctx.send(&c, atom("go")).unwrap();
            // We survive the crash of the formerly linked process.
            let d = ctx.receive().await;
            (c, r, d)
        })
        .await
        .unwrap();
    assert_eq!(out.2, down(&out.1, p(&out.0), atom("boom")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_to_a_dead_process() {
    let node = Node::new();
    let dead = node
        .run(|ctx| async move {
            let (d, _r) = ctx.spawn_monitor(|_ctx| async {});
            ctx.receive().await;
            d
        })
        .await
        .unwrap();
    let d2 = dead.clone();
    let out = node
        .run(move |ctx| async move {
            let err = ctx.link(&d2).unwrap_err();
            ctx.trap_exit(true);
            ctx.link(&d2).unwrap();
            (err.reason(), ctx.receive().await)
        })
        .await
        .unwrap();
    assert_eq!(out.0, atom("noproc"));
    assert_eq!(out.1, exit_msg(&dead, atom("noproc")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_chain_through_links() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            ctx.trap_exit(true);
            let me = ctx.self_pid().clone();
            // me <-> a <-> b <-> c; c crashes.
            let a = ctx.spawn_link(move |ctx| async move {
                let b = ctx.spawn_link(move |ctx| async move {
                    let c = ctx.spawn_link(wait_then_exit(atom("chain")));
                    ctx.send(&me, p(&c)).unwrap();
                    ctx.receive_match(|_| false).await;
                });
                let _ = b;
                ctx.receive_match(|_| false).await;
            });
            let c = ctx.receive().await;
            ctx.send(c.as_pid().unwrap(), atom("go")).unwrap();
            (a, ctx.receive().await)
        })
        .await
        .unwrap();
    assert_eq!(out.1, exit_msg(&out.0, atom("chain")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_aborts_a_process_blocked_outside_receive() {
    let node = Node::new();
    let v = node.spawn(|_ctx| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    let start = std::time::Instant::now();
    let ex = node.wait_exit(&v);
    node.exit(&v, atom("kill"));
    assert_eq!(ex.await, atom("killed"));
    assert!(start.elapsed() < Duration::from_secs(5));
    // A trapping process blocked elsewhere is also killed by a link crash...
    let out = node
        .run(|ctx| async move {
            let (w, r) = ctx.spawn_monitor(|ctx| async move {
                let _c = ctx.spawn_link(|_ctx| async { Err::<(), _>(atom("crash")) });
                tokio::time::sleep(Duration::from_secs(3600)).await;
            });
            (w, r, ctx.receive().await)
        })
        .await
        .unwrap();
    assert_eq!(out.2, down(&out.1, p(&out.0), atom("crash")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_carry_the_real_reason() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let mut res = vec![];
            for reason in [
                atom("normal"),
                t(vec![atom("error"), Term::Int(1)]),
                atom("shutdown"),
            ] {
                let pid = ctx.spawn(wait_then_exit(reason.clone()));
                let r = ctx.monitor(&pid);
                ctx.send(&pid, atom("go")).unwrap();
                let m = ctx.receive().await;
                res.push((m, down(&r, p(&pid), reason)));
            }
            let pid = ctx.spawn(idle());
            let r = ctx.monitor(&pid);
            ctx.exit(&pid, atom("kill"));
            res.push((ctx.receive().await, down(&r, p(&pid), atom("killed"))));
            res
        })
        .await
        .unwrap();
    for (got, want) in out {
        assert_eq!(got, want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_of_missing_process_or_name_gives_noproc() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let (d, r0) = ctx.spawn_monitor(|_ctx| async {});
            ctx.receive().await;
            let _ = r0;
            let r1 = ctx.monitor(&d);
            let m1 = ctx.receive().await;
            let r2 = ctx.monitor("nobody");
            let m2 = ctx.receive().await;
            (d, r1, m1, r2, m2)
        })
        .await
        .unwrap();
    assert_eq!(out.2, down(&out.1, p(&out.0), atom("noproc")));
    assert_eq!(
        out.4,
        down(
            &out.3,
            t(vec![atom("nobody"), atom("nonode@nohost")]),
            atom("noproc")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_by_name_reports_name_and_node() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let s = ctx.spawn(wait_then_exit(atom("bye")));
            ctx.node().register("named", &s).unwrap();
            let r = ctx.monitor("named");
            ctx.send("named", atom("go")).unwrap();
            (r, ctx.receive().await)
        })
        .await
        .unwrap();
    assert_eq!(
        out.1,
        down(
            &out.0,
            t(vec![atom("named"), atom("nonode@nohost")]),
            atom("bye")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demonitor_and_flush() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            // demonitor before the exit: no DOWN.
            let a = ctx.spawn(wait_then_exit(atom("x")));
            let ra = ctx.monitor(&a);
            assert!(ctx.demonitor(&ra));
            assert!(!ctx.demonitor(&ra));
            ctx.send(&a, atom("go")).unwrap();
            let none = ctx.receive_timeout(30 * MS).await;
            // DOWN already in the queue: flush removes it; info says it was gone.
            let b = ctx.spawn(wait_then_exit(atom("y")));
            let rb = ctx.monitor(&b);
            ctx.send(&b, atom("go")).unwrap();
            tokio::time::sleep(20 * MS).await;
            assert_eq!(ctx.message_queue_len(), 1);
            let me = ctx.self_pid().clone();
            ctx.send(&me, atom("other")).unwrap();
            let active = ctx.demonitor_flush(&rb);
            (none, active, ctx.flush())
        })
        .await
        .unwrap();
    assert_eq!(out.0, None);
    assert!(
        !out.1,
        "the DOWN had been received, so the monitor was no longer active"
    );
    assert_eq!(out.2, vec![atom("other")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let a = ctx.alias();
            let a2 = a.clone();
            ctx.spawn(move |ctx| async move {
                ctx.send(&a2, atom("via_alias")).unwrap();
            });
            let m1 = ctx.receive().await;
            assert!(ctx.unalias(&a));
            assert!(!ctx.unalias(&a));
            ctx.node().send(&a, atom("dropped")).unwrap();
            let m2 = ctx.receive_timeout(20 * MS).await;
            // A reply alias takes one message.
            let r = ctx.alias_with(AliasMode::Reply);
            ctx.node().send(&r, atom("one")).unwrap();
            ctx.node().send(&r, atom("two")).unwrap();
            let m3 = ctx.receive().await;
            let m4 = ctx.receive_timeout(20 * MS).await;
            (m1, m2, m3, m4)
        })
        .await
        .unwrap();
    assert_eq!(out.0, atom("via_alias"));
    assert_eq!(out.1, None);
    assert_eq!(out.2, atom("one"));
    assert_eq!(out.3, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_aliases_end_with_the_monitor() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let target = ctx.spawn(wait_then_exit(atom("done")));
            let r = ctx.monitor_alias(&target, AliasMode::Demonitor);
            ctx.node().send(&r, atom("m1")).unwrap();
            let m1 = ctx.receive().await;
            ctx.send(&target, atom("go")).unwrap();
            let d = ctx.receive().await;
            ctx.node().send(&r, atom("late")).unwrap();
            let late = ctx.receive_timeout(20 * MS).await;
            // Demonitor also deactivates the alias.
            let t2 = ctx.spawn(idle());
            let r2 = ctx.monitor_alias(&t2, AliasMode::Demonitor);
            ctx.demonitor(&r2);
            ctx.node().send(&r2, atom("late2")).unwrap();
            let late2 = ctx.receive_timeout(20 * MS).await;
            ctx.exit(&t2, atom("kill"));
            (target, r, m1, d, late, late2)
        })
        .await
        .unwrap();
    assert_eq!(out.2, atom("m1"));
    assert_eq!(out.3, down(&out.1, p(&out.0), atom("done")));
    assert_eq!(out.4, None);
    assert_eq!(out.5, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            let start = std::time::Instant::now();
            ctx.send_after(30 * MS, &me, atom("tick"));
            let m = ctx.receive().await;
            let waited = start.elapsed();
            let tr = ctx.send_after(Duration::from_secs(10), &me, atom("never"));
            assert!(ctx.node().read_timer(&tr).is_some());
            let left = ctx.cancel_timer(&tr);
            let again = ctx.cancel_timer(&tr);
            let tr2 = ctx.start_timer(5 * MS, &me, atom("hello"));
            let m2 = ctx.receive().await;
            let fired = ctx.cancel_timer(&tr2);
            ctx.register("timer_target").unwrap();
            ctx.send_after(5 * MS, "timer_target", atom("by_name"));
            let m3 = ctx.receive().await;
            let none = ctx.receive_timeout(30 * MS).await;
            (m, waited, left, again, tr2, m2, fired, m3, none)
        })
        .await
        .unwrap();
    assert_eq!(out.0, atom("tick"));
    assert!(out.1 >= 30 * MS);
    let left = out.2.expect("time left");
    assert!(left > Duration::from_secs(9) && left <= Duration::from_secs(10));
    assert_eq!(out.3, None);
    assert_eq!(
        out.5,
        t(vec![atom("timeout"), Term::from(out.4), atom("hello")])
    );
    assert_eq!(out.6, None);
    assert_eq!(out.7, atom("by_name"));
    assert_eq!(out.8, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_exit_and_run_report_reasons() {
    let node = Node::new();
    let r = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            ctx.exit(&me, atom("kill"));
            tokio::time::sleep(Duration::from_secs(10)).await;
        })
        .await;
    assert_eq!(r, Err(atom("killed")));
    let r: Result<(), Term> = node
        .run(|_ctx| async move {
            if std::hint::black_box(true) {
                panic!("in run");
            }
        })
        .await;
    assert_eq!(r, Err(ferrobeam::reason::panic("in run")));
}
