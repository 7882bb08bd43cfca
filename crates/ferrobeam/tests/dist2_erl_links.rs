//! Links and monitors between ferrobeam and real `erl` nodes, in both directions:
//! monitors by pid and by name with `noproc` at once and the real exit reasons,
//! demonitor, links with `trap_exit`, `exit/2` with `kill` (untrappable, seen by the
//! linked processes as `killed`), links to missing processes (`noproc`), unlink, and
//! `noconnection` on both sides when a node dies.
//!
//! Skipped with a notice when `erl` is missing, unless `FERROBEAM_REQUIRE_ERLANG=1`.

#[path = "dist2_beam.rs"]
mod beam;
#[path = "dist_support.rs"]
mod support;

use beam::{require, sname, Erl};
use ferrobeam::dist::DistNode;
use ferrobeam::{Atom, Ctx, Dest, Pid, Term};
use std::time::{Duration, Instant};
use support::*;
use tokio::sync::mpsc;

/// A registered process whose messages can be taken selectively.
struct Inbox {
    pid: Pid,
    rx: mpsc::UnboundedReceiver<Term>,
    kept: Vec<Term>,
}

impl Inbox {
    fn new(node: &DistNode, name: &str) -> Inbox {
        let m = Mailbox::new(node, Some(name));
        Inbox {
            pid: m.pid,
            rx: m.rx,
            kept: Vec::new(),
        }
    }

    /// The first message for which `f` holds, within `secs`.
    async fn take(&mut self, secs: u64, f: impl Fn(&Term) -> bool) -> Term {
        if let Some(i) = self.kept.iter().position(&f) {
            return self.kept.remove(i);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let m = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("no matching message within {secs} s; kept {:?}", self.kept)
                })
                .expect("inbox closed");
            if f(&m) {
                return m;
            }
            self.kept.push(m);
        }
    }

    /// `{Tag, ...}`: the first tuple tagged `tag`.
    async fn tagged(&mut self, tag: &str, secs: u64) -> Vec<Term> {
        let m = self
            .take(secs, |m| {
                m.as_tuple()
                    .is_some_and(|t| !t.is_empty() && t[0].is_atom(tag))
            })
            .await;
        m.as_tuple().unwrap().to_vec()
    }
}

/// Starts `erl` and binds `FB` to our node's name in its shell.
async fn erl_for(erl: &std::path::PathBuf, c: &Cluster, a: &DistNode, tag: &str) -> Erl {
    let mut e = Erl::start(erl, &sname(tag), c.epmd_port, COOKIE).await;
    let r = e.eval(&format!("FB = '{}'", a.name())).await;
    assert_eq!(r, a.name().as_str());
    assert_eq!(e.eval("register(shell, self())").await, "true");
    e
}

/// Binds the erl shell variable `var` to our pid `pid` (sent to it in a message).
async fn bind(e: &mut Erl, a: &DistNode, var: &str, pid: &Pid) {
    a.node()
        .send(
            ("shell", e.name.as_str()),
            Term::tuple(vec![Term::atom("bind"), Term::Pid(pid.clone())]),
        )
        .unwrap();
    let r = e
        .eval(&format!("{var} = receive {{bind, V{var}}} -> V{var} end"))
        .await;
    assert!(r.starts_with('<'), "{r}");
}

/// Spawns an erl process that reports `{hello, Tag, self()}` to our `inbox`, then runs
/// `body`; returns its pid.
async fn erl_proc(e: &mut Erl, inbox: &mut Inbox, tag: &str, body: &str) -> Pid {
    e.eval(&format!(
        "spawn(fun() -> {{inbox, FB}} ! {{hello, {tag}, self()}}, {body} end)"
    ))
    .await;
    let m = inbox
        .take(10, |m| {
            m.as_tuple()
                .is_some_and(|t| t.len() == 3 && t[0].is_atom("hello") && t[1].is_atom(tag))
        })
        .await;
    m.as_tuple().unwrap()[2].as_pid().unwrap().clone()
}

/// A ferrobeam process that waits for `{exit, Reason}` and then ends with it (`kill`
/// via `exit/2` from itself, `panic` by panicking). It forwards anything else it gets
/// to `report`.
fn victim(a: &DistNode, report: &Pid, trap: bool) -> Pid {
    let report = report.clone();
    a.node().spawn(move |ctx: Ctx| async move {
        ctx.trap_exit(trap);
        loop {
            let m = ctx.receive().await;
            if let Some(t) = m.as_tuple() {
                if t.len() == 2 && t[0].is_atom("exit") {
                    let r = t[1].clone();
                    if r.is_atom("panic") {
                        panic!("boom");
                    }
                    if r.is_atom("kill") {
                        let me = ctx.self_pid().clone();
                        ctx.exit(&me, r.clone());
                        ctx.receive().await;
                    }
                    return Err::<(), Term>(r);
                }
            }
            let _ = ctx.send(&report, Term::tuple(vec![Term::atom("got"), m]));
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_both_ways_noproc_at_once_and_real_exit_reasons() {
    let Some(erl) = require(
        "erl",
        "monitors_both_ways_noproc_at_once_and_real_exit_reasons",
    ) else {
        return;
    };
    let c = Cluster::new().await;
    let a = c.node("fb").await;
    let me = a.name().to_string();
    let mut inbox = Inbox::new(&a, "inbox");
    let mut e = erl_for(&erl, &c, &a, "mon").await;
    let en = Atom::new(&e.name);

    // --- erl monitors ferrobeam processes -------------------------------------------
    // The watcher monitors what it is told to and prints the DOWNs.
    e.eval(
        "register(watcher, spawn(fun W() -> receive \
           {mon, T} -> R = erlang:monitor(process, T), {inbox, FB} ! {monitoring, R}, W(); \
           {demon, R} -> erlang:demonitor(R), {inbox, FB} ! demonitored, W(); \
           {'DOWN', _, process, O, Why} -> agent ! {down, O, Why}, W() \
         end end))",
    )
    .await;
    let watch = |target: Term| Term::tuple(vec![Term::atom("mon"), target]);
    // Missing: a dead pid and a name nobody has. Both answered at once.
    let dead = a.node().spawn(|_ctx| async {});
    support::wait_for(5, "the process to end", || !a.node().is_alive(&dead)).await;
    for target in [Term::Pid(dead.clone()), t(&format!("{{nobody,'{me}'}}"))] {
        let started = Instant::now();
        a.node()
            .send(("watcher", e.name.as_str()), watch(target))
            .unwrap();
        let m = e.msg(5).await;
        assert!(m.starts_with("{down,") && m.ends_with(",noproc}"), "{m}");
        inbox.tagged("monitoring", 5).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    // Real exit reasons, by pid and by name.
    let reasons = [
        ("normal", "normal"),
        ("shutdown", "shutdown"),
        ("{shutdown,bye}", "{shutdown,bye}"),
        ("kill", "killed"),
        ("{custom,[1,2,3]}", "{custom,[1,2,3]}"),
        ("panic", "{panic,<<98,111,111,109>>}"),
    ];
    for (i, (cause, seen)) in reasons.iter().enumerate() {
        let by_name = i % 2 == 1;
        let v = victim(&a, &inbox.pid, false);
        let target = if by_name {
            let name = format!("victim{i}");
            a.node().register(name.as_str(), &v).unwrap();
            t(&format!("{{{name},'{me}'}}"))
        } else {
            Term::Pid(v.clone())
        };
        a.node()
            .send(("watcher", e.name.as_str()), watch(target))
            .unwrap();
        inbox.tagged("monitoring", 10).await;
        a.node()
            .send(&v, Term::tuple(vec![Term::atom("exit"), t(cause)]))
            .unwrap();
        let m = e.msg(10).await;
        assert!(m.ends_with(&format!(",{seen}}}")), "{cause}: {m}");
        if by_name {
            assert!(m.starts_with(&format!("{{down,{{victim{i},{me}}},")), "{m}");
        }
    }
    // Demonitor: no DOWN afterwards.
    let v = victim(&a, &inbox.pid, false);
    a.node()
        .send(("watcher", e.name.as_str()), watch(Term::Pid(v.clone())))
        .unwrap();
    let r = inbox.tagged("monitoring", 10).await[1].clone();
    a.node()
        .send(
            ("watcher", e.name.as_str()),
            Term::tuple(vec![Term::atom("demon"), r]),
        )
        .unwrap();
    inbox.take(10, |m| m.is_atom("demonitored")).await;
    a.node().send(&v, t("{exit, gone}")).unwrap();
    assert_eq!(e.try_msg(500).await, None);

    // --- ferrobeam monitors erl processes ------------------------------------------
    let body = "receive {die, R} -> exit(R); crash -> 1/0 end";
    let report_to = inbox.pid.clone();
    let probe_for = |a: &DistNode, target: Dest| {
        let report = report_to.clone();
        a.node().spawn(move |ctx: Ctx| async move {
            let r = ctx.monitor(target);
            let _ = ctx.send(
                &report,
                Term::tuple(vec![Term::atom("monitoring"), Term::from(r)]),
            );
            let m = ctx.receive().await;
            let _ = ctx.send(&report, m);
        })
    };
    // Missing: a dead erl pid and a missing name, at once.
    let gone = erl_proc(&mut e, &mut inbox, "gone", "ok").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    for target in [
        Dest::Pid(gone.clone()),
        Dest::Remote(Atom::new("ghost"), en.clone()),
    ] {
        let started = Instant::now();
        probe_for(&a, target);
        inbox.tagged("monitoring", 5).await;
        let d = inbox.tagged("DOWN", 5).await;
        assert!(d[4].is_atom("noproc"), "{d:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    let reasons = [
        ("normal", "normal"),
        ("shutdown", "shutdown"),
        ("{shutdown,bye}", "{shutdown,bye}"),
        ("{custom,[1,2,3]}", "{custom,[1,2,3]}"),
    ];
    for (i, (cause, seen)) in reasons.iter().enumerate() {
        let p = erl_proc(&mut e, &mut inbox, &format!("r{i}"), body).await;
        let by_name = i % 2 == 1;
        let target = if by_name {
            let name = format!("reg{i}");
            let r = e
                .eval(&format!(
                    "register({name}, list_to_pid(\"{}\"))",
                    local_pid_text(&p)
                ))
                .await;
            assert_eq!(r, "true");
            Dest::Remote(Atom::new(&name), en.clone())
        } else {
            Dest::Pid(p.clone())
        };
        probe_for(&a, target);
        inbox.tagged("monitoring", 5).await;
        a.node()
            .send(&p, Term::tuple(vec![Term::atom("die"), t(cause)]))
            .unwrap();
        let d = inbox.tagged("DOWN", 5).await;
        assert_eq!(d[4], t(seen), "{cause}");
        if by_name {
            assert_eq!(
                d[3],
                Term::tuple(vec![Term::atom(&format!("reg{i}")), Term::Atom(en.clone())])
            );
        } else {
            assert_eq!(d[3], Term::Pid(p.clone()));
        }
    }
    // killed and a crash.
    let p = erl_proc(&mut e, &mut inbox, "k", body).await;
    probe_for(&a, Dest::Pid(p.clone()));
    inbox.tagged("monitoring", 5).await;
    // Once our monitor is in place there (it travels apart from this command).
    e.eval(&format!(
        "Pk = list_to_pid(\"{}\"), (fun W() -> case process_info(Pk, monitored_by) of \
         {{monitored_by, []}} -> timer:sleep(5), W(); _ -> ok end end)(), exit(Pk, kill)",
        local_pid_text(&p)
    ))
    .await;
    let d = inbox.tagged("DOWN", 5).await;
    assert!(d[4].is_atom("killed"), "{d:?}");
    let p = erl_proc(&mut e, &mut inbox, "c", body).await;
    probe_for(&a, Dest::Pid(p.clone()));
    inbox.tagged("monitoring", 5).await;
    a.node().send(&p, Term::atom("crash")).unwrap();
    let d = inbox.tagged("DOWN", 5).await;
    let why = d[4].as_tuple().expect("{badarith, Stack}");
    assert!(why[0].is_atom("badarith"), "{d:?}");
    // Demonitor from our side: no DOWN when it ends.
    let p = erl_proc(&mut e, &mut inbox, "d", body).await;
    let report = inbox.pid.clone();
    let p2 = p.clone();
    a.node().spawn(move |ctx: Ctx| async move {
        let r = ctx.monitor(&p2);
        assert!(ctx.demonitor(&r));
        let _ = ctx.send(&report, Term::atom("demonitored"));
        let m = ctx.receive_timeout(Duration::from_millis(800)).await;
        let _ = ctx.send(
            &report,
            Term::tuple(vec![Term::atom("after"), m.unwrap_or(Term::atom("none"))]),
        );
    });
    inbox.take(5, |m| m.is_atom("demonitored")).await;
    a.node().send(&p, t("{die, late}")).unwrap();
    let after = inbox.tagged("after", 5).await;
    assert!(after[1].is_atom("none"), "{after:?}");
    a.shutdown().await;
}

/// `<0.N.S>`: how the pid's own node writes it, for `list_to_pid` there.
fn local_pid_text(p: &Pid) -> String {
    format!("<0.{}.{}>", p.id, p.serial)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_trap_exit_and_exit2_kill_both_ways() {
    let Some(erl) = require("erl", "links_trap_exit_and_exit2_kill_both_ways") else {
        return;
    };
    let c = Cluster::new().await;
    let a = c.node("fb").await;
    let mut inbox = Inbox::new(&a, "inbox");
    let mut e = erl_for(&erl, &c, &a, "lnk").await;
    // A trapping erl process that links to what it is told to and reports every EXIT.
    let trapper_body = "process_flag(trap_exit, true), (fun L() -> receive \
        {link, P} -> link(P), {inbox, FB} ! linked, L(); \
        {unlink, P} -> unlink(P), {inbox, FB} ! unlinked, L(); \
        {'EXIT', F, R} -> agent ! {exit, node(F) =:= FB, R}, L() end end)()";
    let trapper = erl_proc(&mut e, &mut inbox, "trapper", trapper_body).await;

    // 1. An erl process exits with a reason; the linked trapping ferrobeam process gets it
    //    as a message, a linked non-trapping one dies with it.
    let report = inbox.pid.clone();
    let spawn_linker = |a: &DistNode, to: Pid, trap: bool| {
        let report = report.clone();
        a.node().spawn(move |ctx: Ctx| async move {
            ctx.trap_exit(trap);
            ctx.link(&to).unwrap();
            let _ = ctx.send(&report, Term::atom("linked"));
            loop {
                let m = ctx.receive().await;
                if m.is_atom("stop") {
                    return;
                }
                if m.as_tuple()
                    .is_some_and(|t| t.len() == 2 && t[0].is_atom("unlink"))
                {
                    ctx.unlink(&to);
                    let _ = ctx.send(&report, Term::atom("unlinked"));
                    continue;
                }
                let _ = ctx.send(&report, Term::tuple(vec![Term::atom("got"), m]));
            }
        })
    };
    let body = "receive {die, R} -> exit(R) end";
    let e1 = erl_proc(&mut e, &mut inbox, "e1", body).await;
    let t1 = spawn_linker(&a, e1.clone(), true);
    let n1 = spawn_linker(&a, e1.clone(), false);
    inbox.take(5, |m| m.is_atom("linked")).await;
    inbox.take(5, |m| m.is_atom("linked")).await;
    let n1_exit = a.node().wait_exit(&n1);
    a.node().send(&e1, t("{die, {shutdown, x}}")).unwrap();
    let got = inbox.tagged("got", 5).await;
    assert_eq!(
        got[1],
        Term::tuple(vec![
            Term::atom("EXIT"),
            Term::Pid(e1.clone()),
            t("{shutdown,x}")
        ])
    );
    assert_eq!(n1_exit.await, t("{shutdown,x}"));
    assert!(a.node().is_alive(&t1));
    // `normal` from a link does not kill a non-trapping process.
    let e2 = erl_proc(&mut e, &mut inbox, "e2", body).await;
    let n2 = spawn_linker(&a, e2.clone(), false);
    inbox.take(5, |m| m.is_atom("linked")).await;
    a.node().send(&e2, t("{die, normal}")).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(a.node().is_alive(&n2));

    // 2. A ferrobeam process linked from a trapping erl process exits with a reason.
    let f1 = victim(&a, &inbox.pid, false);
    a.node()
        .send(
            &trapper,
            Term::tuple(vec![Term::atom("link"), Term::Pid(f1.clone())]),
        )
        .unwrap();
    inbox.take(5, |m| m.is_atom("linked")).await;
    a.node().send(&f1, t("{exit, {custom, 42}}")).unwrap();
    assert_eq!(e.msg(5).await, "{exit,true,{custom,42}}");

    // 3. exit(P, kill) from erl to a trapping ferrobeam process: it dies with killed,
    //    and the linked (trapping) erl process sees killed.
    let k = victim(&a, &inbox.pid, true);
    let k_exit = a.node().wait_exit(&k);
    a.node()
        .send(
            &trapper,
            Term::tuple(vec![Term::atom("link"), Term::Pid(k.clone())]),
        )
        .unwrap();
    inbox.take(5, |m| m.is_atom("linked")).await;
    // The trapping victim first gets exit(P, other) as a message.
    bind(&mut e, &a, "Kp", &k).await;
    e.eval("exit(Kp, because)").await;
    let got = inbox.tagged("got", 5).await;
    let g = got[1].as_tuple().unwrap();
    assert!(g[0].is_atom("EXIT") && g[2].is_atom("because"), "{got:?}");
    e.eval("exit(Kp, kill)").await;
    assert_eq!(k_exit.await, t("killed"));
    assert_eq!(e.msg(5).await, "{exit,true,killed}");
    // exit(P, normal) to a non-trapping process is ignored.
    let alive = victim(&a, &inbox.pid, false);
    bind(&mut e, &a, "Alive", &alive).await;
    e.eval("exit(Alive, normal)").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(a.node().is_alive(&alive));

    // 4. exit(P, kill) from ferrobeam to a trapping erl process linked to a trapping
    //    ferrobeam process: the erl process dies with killed, ours sees killed.
    let ek = erl_proc(
        &mut e,
        &mut inbox,
        "ek",
        "process_flag(trap_exit, true), receive never -> ok end",
    )
    .await;
    let watcher = spawn_linker(&a, ek.clone(), true);
    inbox.take(5, |m| m.is_atom("linked")).await;
    a.node().exit(&ek, Term::atom("kill"));
    let got = inbox.tagged("got", 5).await;
    assert_eq!(
        got[1],
        Term::tuple(vec![
            Term::atom("EXIT"),
            Term::Pid(ek.clone()),
            Term::atom("killed")
        ])
    );
    let _ = watcher;

    // 5. Linking to missing processes gives noproc, both ways.
    let gone = erl_proc(&mut e, &mut inbox, "gone", "ok").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    spawn_linker(&a, gone.clone(), true);
    inbox.take(5, |m| m.is_atom("linked")).await;
    let got = inbox.tagged("got", 5).await;
    assert_eq!(
        got[1],
        Term::tuple(vec![
            Term::atom("EXIT"),
            Term::Pid(gone.clone()),
            Term::atom("noproc")
        ])
    );
    let dead = a.node().spawn(|_ctx| async {});
    support::wait_for(5, "the process to end", || !a.node().is_alive(&dead)).await;
    a.node()
        .send(
            &trapper,
            Term::tuple(vec![Term::atom("link"), Term::Pid(dead)]),
        )
        .unwrap();
    inbox.take(5, |m| m.is_atom("linked")).await;
    assert_eq!(e.msg(5).await, "{exit,true,noproc}");

    // 6. Unlink, both ways: afterwards an exit does not travel.
    let e3 = erl_proc(&mut e, &mut inbox, "e3", body).await;
    let u = spawn_linker(&a, e3.clone(), false);
    inbox.take(5, |m| m.is_atom("linked")).await;
    a.node().send(&u, t("{unlink, x}")).unwrap();
    inbox.take(5, |m| m.is_atom("unlinked")).await;
    a.node().send(&e3, t("{die, crash}")).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(a.node().is_alive(&u), "unlinked process was killed");
    let f3 = victim(&a, &inbox.pid, false);
    a.node()
        .send(
            &trapper,
            Term::tuple(vec![Term::atom("link"), Term::Pid(f3.clone())]),
        )
        .unwrap();
    inbox.take(5, |m| m.is_atom("linked")).await;
    a.node()
        .send(
            &trapper,
            Term::tuple(vec![Term::atom("unlink"), Term::Pid(f3.clone())]),
        )
        .unwrap();
    inbox.take(5, |m| m.is_atom("unlinked")).await;
    a.node().send(&f3, t("{exit, crash}")).unwrap();
    assert_eq!(e.try_msg(500).await, None);
    // Link, unlink and link again quickly: the link is there at the end.
    let e4 = erl_proc(&mut e, &mut inbox, "e4", body).await;
    let e4c = e4.clone();
    let report = inbox.pid.clone();
    a.node().spawn(move |ctx: Ctx| async move {
        ctx.trap_exit(true);
        for _ in 0..20 {
            ctx.link(&e4c).unwrap();
            ctx.unlink(&e4c);
        }
        ctx.link(&e4c).unwrap();
        let _ = ctx.send(&report, Term::atom("relinked"));
        let m = ctx.receive().await;
        let _ = ctx.send(&report, Term::tuple(vec![Term::atom("got"), m]));
    });
    inbox.take(5, |m| m.is_atom("relinked")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.node().send(&e4, t("{die, last}")).unwrap();
    let got = inbox.tagged("got", 5).await;
    assert_eq!(
        got[1],
        Term::tuple(vec![
            Term::atom("EXIT"),
            Term::Pid(e4.clone()),
            Term::atom("last")
        ])
    );
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noconnection_on_both_sides_when_a_node_dies() {
    let Some(erl) = require("erl", "noconnection_on_both_sides_when_a_node_dies") else {
        return;
    };
    let c = Cluster::new().await;
    let a = c.node("fb").await;
    let mut inbox = Inbox::new(&a, "inbox");
    let mut e = erl_for(&erl, &c, &a, "nc").await;
    let en = Atom::new(&e.name);
    let body = "register(target, self()), receive never -> ok end";
    let p = erl_proc(&mut e, &mut inbox, "p", body).await;
    // A trapping process links to and monitors the erl process (by pid and by name);
    // a non-trapping one is linked too.
    let report = inbox.pid.clone();
    let (p2, en2) = (p.clone(), en.clone());
    let watcher = a.node().spawn(move |ctx: Ctx| async move {
        ctx.trap_exit(true);
        ctx.link(&p2).unwrap();
        ctx.monitor(&p2);
        ctx.monitor(Dest::Remote(Atom::new("target"), en2));
        let _ = ctx.send(&report, Term::atom("ready"));
        for _ in 0..3 {
            let m = ctx.receive().await;
            let _ = ctx.send(&report, Term::tuple(vec![Term::atom("got"), m]));
        }
    });
    inbox.take(5, |m| m.is_atom("ready")).await;
    let p3 = p.clone();
    let doomed = a.node().spawn(move |ctx: Ctx| async move {
        ctx.link(&p3).unwrap();
        ctx.receive().await;
    });
    let doomed_exit = a.node().wait_exit(&doomed);
    tokio::time::sleep(Duration::from_millis(200)).await;
    e.kill().await;
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(inbox.tagged("got", 10).await[1].clone());
    }
    assert!(
        got.contains(&Term::tuple(vec![
            Term::atom("EXIT"),
            Term::Pid(p.clone()),
            Term::atom("noconnection")
        ])),
        "{got:?}"
    );
    let downs: Vec<&Term> = got
        .iter()
        .filter(|m| m.as_tuple().is_some_and(|t| t[0].is_atom("DOWN")))
        .collect();
    assert_eq!(downs.len(), 2, "{got:?}");
    for d in downs {
        assert!(d.as_tuple().unwrap()[4].is_atom("noconnection"), "{d}");
    }
    assert_eq!(doomed_exit.await, t("noconnection"));
    let _ = watcher;

    // The other way: a ferrobeam node goes away under an erl process that links to and
    // monitors its processes.
    let b = c.node("fb2").await;
    let mut e = Erl::start(&erl, &sname("nc2"), c.epmd_port, COOKIE).await;
    e.eval(&format!("FB = '{}'", b.name())).await;
    let mut inbox_b = Inbox::new(&b, "inbox");
    let f = victim(&b, &inbox_b.pid, false);
    b.node().register("held", &f).unwrap();
    e.eval(
        "spawn(fun() -> process_flag(trap_exit, true), \
           {inbox, FB} ! {hello, self()}, \
           receive {target, P} -> link(P), erlang:monitor(process, P), erlang:monitor(process, {held, FB}) end, \
           {inbox, FB} ! ready, \
           (fun L() -> receive M -> agent ! M, L() end end)() end)",
    )
    .await;
    let hello = inbox_b.tagged("hello", 10).await;
    let ep = hello[1].as_pid().unwrap().clone();
    b.node()
        .send(
            &ep,
            Term::tuple(vec![Term::atom("target"), Term::Pid(f.clone())]),
        )
        .unwrap();
    inbox_b.take(5, |m| m.is_atom("ready")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.shutdown().await;
    let mut msgs = Vec::new();
    for _ in 0..3 {
        msgs.push(e.msg(10).await);
    }
    msgs.sort();
    assert!(
        msgs[0].starts_with("{'DOWN',") && msgs[0].ends_with(",noconnection}"),
        "{msgs:?}"
    );
    assert!(
        msgs[1].starts_with("{'DOWN',") && msgs[1].ends_with(",noconnection}"),
        "{msgs:?}"
    );
    assert!(
        msgs[2].starts_with("{'EXIT',") && msgs[2].ends_with(",noconnection}"),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains(&format!("{{held,{}}}", b.name()))),
        "{msgs:?}"
    );
    a.shutdown().await;
}
