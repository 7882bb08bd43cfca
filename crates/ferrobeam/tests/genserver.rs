//! GenServer: callbacks, typed and raw messages, OTP's exact message shapes and exit
//! reasons.

use ferrobeam::gen_server::{
    self, CallError, CallFrom, CallReply, Flow, GenServer, ServerRef, StartOpts, Timeout,
};
use ferrobeam::{Ctx, Node, Pid, Term};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

fn atom(s: &str) -> Term {
    Term::atom(s)
}
fn t(v: Vec<Term>) -> Term {
    Term::tuple(v)
}
fn call_reason(why: Term, args: Vec<Term>) -> Term {
    t(vec![
        why,
        t(vec![atom("gen_server"), atom("call"), Term::list(args)]),
    ])
}

// ----- a typed counter ---------------------------------------------------------------

struct Counter {
    n: i64,
    log: Option<Pid>,
    pending: Vec<CallFrom>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Req {
    Add(i64),
    Get,
    /// Replied later, by `Release`.
    Wait,
    Release,
    Crash,
    StopWith(String),
    Sleep(u64),
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Cast {
    Set(i64),
    Stop,
}

impl GenServer for Counter {
    type Args = (i64, Option<Pid>);
    type Call = Req;
    type Reply = i64;
    type Cast = Cast;

    async fn init(_ctx: &Ctx, (n, log): Self::Args) -> Result<Self, Term> {
        if n < 0 {
            return Err(atom("negative"));
        }
        Ok(Counter {
            n,
            log,
            pending: vec![],
        })
    }

    async fn handle_call(&mut self, ctx: &Ctx, req: Req, from: CallFrom) -> CallReply<i64> {
        match req {
            Req::Add(k) => {
                self.n += k;
                CallReply::Reply(self.n)
            }
            Req::Get => CallReply::Reply(self.n),
            Req::Wait => {
                self.pending.push(from);
                CallReply::NoReply
            }
            Req::Release => {
                for f in self.pending.drain(..) {
                    gen_server::reply(ctx.node(), &f, 99i64);
                }
                CallReply::Reply(0)
            }
            Req::Crash => panic!("counter crashed"),
            Req::StopWith(r) => CallReply::Stop {
                reason: atom(&r),
                reply: Some(self.n),
            },
            Req::Sleep(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                CallReply::Reply(self.n)
            }
        }
    }

    async fn handle_cast(&mut self, _ctx: &Ctx, msg: Cast) -> Flow {
        match msg {
            Cast::Set(v) => {
                self.n = v;
                Flow::Continue
            }
            Cast::Stop => Flow::Stop(atom("cast_stop")),
        }
    }

    async fn handle_info(&mut self, ctx: &Ctx, msg: Term) -> Flow {
        if let Some(log) = &self.log {
            ctx.send(log, t(vec![atom("info"), msg])).unwrap();
        }
        Flow::Continue
    }

    async fn terminate(&mut self, ctx: &Ctx, reason: &Term) {
        if let Some(log) = &self.log {
            ctx.send(log, t(vec![atom("terminate"), reason.clone()]))
                .unwrap();
        }
    }
}

// ----- a raw-term server -------------------------------------------------------------

struct Echo;

impl GenServer for Echo {
    type Args = ();
    type Call = Term;
    type Reply = Term;
    type Cast = Term;

    async fn init(_ctx: &Ctx, _: ()) -> Result<Self, Term> {
        Ok(Echo)
    }
    async fn handle_call(&mut self, _ctx: &Ctx, req: Term, from: CallFrom) -> CallReply<Term> {
        CallReply::Reply(t(vec![req, from.to_term()]))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_call_cast_info() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            let pid =
                gen_server::start::<Counter>(ctx.node(), (1, Some(me)), StartOpts::name("ctr"))
                    .await
                    .unwrap();
            let a: i64 = gen_server::call(&ctx, "ctr", Req::Add(2)).await.unwrap();
            gen_server::cast(ctx.node(), "ctr", Cast::Set(40));
            let b: i64 = gen_server::call(&ctx, &pid, Req::Add(2)).await.unwrap();
            ctx.send(&pid, atom("hello")).unwrap();
            let info = ctx.receive().await;
            (a, b, info)
        })
        .await
        .unwrap();
    assert_eq!(out.0, 3);
    assert_eq!(out.1, 42);
    assert_eq!(out.2, t(vec![atom("info"), atom("hello")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_term_server_sees_otp_from_shape() {
    let node = Node::new();
    let (out, me) = node
        .run(|ctx| async move {
            let pid = gen_server::start::<Echo>(ctx.node(), (), StartOpts::default())
                .await
                .unwrap();
            let r: Term = gen_server::call(&ctx, &pid, atom("ping")).await.unwrap();
            (r, ctx.self_pid().clone())
        })
        .await
        .unwrap();
    let tup = out.as_tuple().unwrap();
    assert_eq!(tup[0], atom("ping"));
    // From = {CallerPid, [alias | Mref]}
    let from = tup[1].as_tuple().unwrap();
    assert_eq!(from[0], Term::Pid(me));
    match &from[1] {
        Term::ImproperList { elements, tail } => {
            assert_eq!(elements, &vec![atom("alias")]);
            assert!(matches!(**tail, Term::Ref(_)));
        }
        other => panic!("tag is not [alias | Ref]: {other:?}"),
    }
}

/// A hand-written process speaking OTP's protocol, as an Erlang or Elixir server would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_and_cast_reach_a_hand_written_otp_server() {
    let node = Node::new();
    let server = node.spawn(|ctx| async move {
        loop {
            let m = ctx.receive().await;
            let tup = m.as_tuple().unwrap().to_vec();
            if tup[0].is_atom("$gen_call") {
                // {'$gen_call', {Pid, Tag}, Req}: reply {Tag, Reply} to the pid.
                let from = tup[1].as_tuple().unwrap();
                let reply = t(vec![from[1].clone(), t(vec![atom("got"), tup[2].clone()])]);
                ctx.send(from[0].as_pid().unwrap(), reply).unwrap();
            } else if tup[0].is_atom("$gen_cast") {
                let inner = tup[1].as_tuple().unwrap();
                ctx.send(
                    inner[0].as_pid().unwrap(),
                    t(vec![atom("cast_seen"), inner[1].clone()]),
                )
                .unwrap();
            }
        }
        #[allow(unreachable_code)]
        ()
    });
    let s2 = server.clone();
    let out = node
        .run(move |ctx| async move {
            let r: Term = gen_server::call(&ctx, &s2, atom("req")).await.unwrap();
            gen_server::cast(
                ctx.node(),
                &s2,
                t(vec![Term::Pid(ctx.self_pid().clone()), atom("c")]),
            );
            (r, ctx.receive().await, ctx.message_queue_len())
        })
        .await
        .unwrap();
    assert_eq!(out.0, t(vec![atom("got"), atom("req")]));
    assert_eq!(out.1, t(vec![atom("cast_seen"), atom("c")]));
    assert_eq!(
        out.2, 0,
        "the monitor and alias of the call leave nothing behind"
    );
    node.exit(&server, atom("kill"));
}

/// An old-style caller uses a bare reference as the tag and gets `{Ref, Reply}` at its pid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_answers_old_style_bare_ref_tags() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let pid = gen_server::start::<Counter>(ctx.node(), (7, None), StartOpts::default())
                .await
                .unwrap();
            let tag = Term::from(ctx.make_ref());
            let from = t(vec![Term::Pid(ctx.self_pid().clone()), tag.clone()]);
            let req = ferrobeam_term_to(Req::Get);
            ctx.send(&pid, t(vec![atom("$gen_call"), from, req]))
                .unwrap();
            (tag, ctx.receive().await)
        })
        .await
        .unwrap();
    assert_eq!(out.1, t(vec![out.0, Term::Int(7)]));
}

fn ferrobeam_term_to(r: Req) -> Term {
    match r {
        Req::Get => atom("get"),
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_reply_through_from() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            gen_server::start::<Counter>(ctx.node(), (0, None), StartOpts::name("defer"))
                .await
                .unwrap();
            let me = ctx.self_pid().clone();
            ctx.spawn(move |ctx| async move {
                let v: i64 = gen_server::call(&ctx, "defer", Req::Wait).await.unwrap();
                ctx.send(&me, v).unwrap();
            });
            tokio::time::sleep(20 * MS).await;
            let _: i64 = gen_server::call(&ctx, "defer", Req::Release).await.unwrap();
            ctx.receive().await
        })
        .await
        .unwrap();
    assert_eq!(out, Term::Int(99));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_to_missing_or_dead_server_exits_with_noproc() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let (dead, _r) = ctx.spawn_monitor(|_ctx| async {});
            ctx.receive().await;
            let a = gen_server::call::<_, Term>(&ctx, &dead, atom("req"))
                .await
                .unwrap_err();
            let b = gen_server::call_timeout::<_, Term>(&ctx, &dead, atom("req"), 1000 * MS)
                .await
                .unwrap_err();
            let c = gen_server::call::<_, Term>(&ctx, "nobody", atom("req"))
                .await
                .unwrap_err();
            let d = gen_server::call::<_, Term>(&ctx, ("nobody", "nonode@nohost"), atom("req"))
                .await
                .unwrap_err();
            let e = gen_server::call::<_, Term>(&ctx, ServerRef::Global(atom("g")), atom("req"))
                .await
                .unwrap_err();
            (dead, a, b, c, d, e, ctx.message_queue_len())
        })
        .await
        .unwrap();
    let (dead, a, b, c, d, e, left) = out;
    let noproc = atom("noproc");
    assert_eq!(
        a.reason,
        call_reason(noproc.clone(), vec![Term::Pid(dead.clone()), atom("req")])
    );
    assert!(a.is_noproc());
    assert_eq!(
        b.reason,
        call_reason(
            noproc.clone(),
            vec![Term::Pid(dead), atom("req"), Term::Int(1000)]
        )
    );
    assert_eq!(
        c.reason,
        call_reason(noproc.clone(), vec![atom("nobody"), atom("req")])
    );
    assert_eq!(
        d.reason,
        call_reason(
            noproc.clone(),
            vec![t(vec![atom("nobody"), atom("nonode@nohost")]), atom("req")]
        )
    );
    assert_eq!(
        e.reason,
        call_reason(
            noproc,
            vec![t(vec![atom("global"), atom("g")]), atom("req")]
        )
    );
    assert_eq!(left, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_timeout_exits_with_timeout_and_late_reply_is_dropped() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let pid = gen_server::start::<Counter>(ctx.node(), (5, None), StartOpts::default())
                .await
                .unwrap();
            let e = gen_server::call_timeout::<_, i64>(&ctx, &pid, Req::Sleep(100), 20 * MS)
                .await
                .unwrap_err();
            tokio::time::sleep(150 * MS).await;
            let late = ctx.flush();
            let inf: i64 = gen_server::call_timeout(&ctx, &pid, Req::Get, Timeout::Infinity)
                .await
                .unwrap();
            (pid, e, late, inf)
        })
        .await
        .unwrap();
    let (pid, e, late, inf) = out;
    assert!(e.is_timeout());
    assert_eq!(
        e.reason,
        call_reason(
            atom("timeout"),
            vec![
                Term::Pid(pid),
                t(vec![atom("sleep"), Term::Int(100)]),
                Term::Int(20)
            ]
        )
    );
    assert!(late.is_empty(), "late reply must be dropped, got {late:?}");
    assert_eq!(inf, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_dying_during_call_and_caller_exit_reason() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            let pid = gen_server::start::<Counter>(ctx.node(), (0, Some(me)), StartOpts::default())
                .await
                .unwrap();
            // A process that returns the CallError exits with OTP's exact reason.
            let p2 = pid.clone();
            let (caller, r) = ctx.spawn_monitor(move |ctx| async move {
                let _: i64 = gen_server::call(&ctx, &p2, Req::Crash).await?;
                Ok::<(), CallError>(())
            });
            let term = ctx
                .receive_match(|m| m.as_tuple().is_some_and(|t| t[0].is_atom("terminate")))
                .await;
            let down = ctx
                .receive_match(|m| m.as_tuple().is_some_and(|t| t[0].is_atom("DOWN")))
                .await;
            (pid, caller, r, term, down)
        })
        .await
        .unwrap();
    let (pid, caller, r, term, down) = out;
    let crash = ferrobeam::reason::panic("counter crashed");
    assert_eq!(term, t(vec![atom("terminate"), crash.clone()]));
    assert_eq!(
        down,
        t(vec![
            atom("DOWN"),
            Term::from(r),
            atom("process"),
            Term::Pid(caller),
            call_reason(crash, vec![Term::Pid(pid), atom("crash")])
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_runs_terminate() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            let pid = gen_server::start::<Counter>(
                ctx.node(),
                (0, Some(me)),
                StartOpts::name("stoppable"),
            )
            .await
            .unwrap();
            let r = ctx.monitor(&pid);
            let res =
                gen_server::stop(&ctx, "stoppable", atom("shutdown"), Timeout::Infinity).await;
            let term = ctx.receive().await;
            let down = ctx.receive().await;
            let again = gen_server::stop(&ctx, "stoppable", atom("normal"), 100 * MS).await;
            (
                pid,
                r,
                res,
                term,
                down,
                again,
                ctx.node().whereis("stoppable"),
            )
        })
        .await
        .unwrap();
    let (pid, r, res, term, down, again, name) = out;
    assert_eq!(res, Ok(()));
    assert_eq!(term, t(vec![atom("terminate"), atom("shutdown")]));
    assert_eq!(
        down,
        t(vec![
            atom("DOWN"),
            Term::from(r),
            atom("process"),
            Term::Pid(pid),
            atom("shutdown")
        ])
    );
    assert_eq!(again, Err(atom("noproc")));
    assert_eq!(name, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_with_reply_and_cast_stop() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            let pid = gen_server::start::<Counter>(
                ctx.node(),
                (3, Some(me.clone())),
                StartOpts::default(),
            )
            .await
            .unwrap();
            let r = ctx.monitor(&pid);
            let v: i64 = gen_server::call(&ctx, &pid, Req::StopWith("done".into()))
                .await
                .unwrap();
            let term = ctx.receive().await;
            let down = ctx.receive().await;
            let pid2 =
                gen_server::start::<Counter>(ctx.node(), (3, Some(me)), StartOpts::default())
                    .await
                    .unwrap();
            let r2 = ctx.monitor(&pid2);
            gen_server::cast(ctx.node(), &pid2, Cast::Stop);
            let term2 = ctx.receive().await;
            let down2 = ctx.receive().await;
            (v, term, down, r, pid, term2, down2, r2, pid2)
        })
        .await
        .unwrap();
    assert_eq!(out.0, 3);
    assert_eq!(out.1, t(vec![atom("terminate"), atom("done")]));
    assert_eq!(
        out.2,
        t(vec![
            atom("DOWN"),
            Term::from(out.3),
            atom("process"),
            Term::Pid(out.4),
            atom("done")
        ])
    );
    assert_eq!(out.5, t(vec![atom("terminate"), atom("cast_stop")]));
    assert_eq!(
        out.6,
        t(vec![
            atom("DOWN"),
            Term::from(out.7),
            atom("process"),
            Term::Pid(out.8),
            atom("cast_stop")
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_errors() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let a = gen_server::start::<Counter>(ctx.node(), (0, None), StartOpts::name("uniq"))
                .await
                .unwrap();
            let dup =
                gen_server::start::<Counter>(ctx.node(), (0, None), StartOpts::name("uniq")).await;
            let bad =
                gen_server::start::<Counter>(ctx.node(), (-1, None), StartOpts::default()).await;
            let glob = gen_server::start::<Counter>(
                ctx.node(),
                (0, None),
                StartOpts {
                    name: Some(gen_server::ServerName::Global(atom("g"))),
                },
            )
            .await;
            // start_link with a failing init: the error comes back and, as in OTP, the
            // link delivers the exit.
            ctx.trap_exit(true);
            let bad_link =
                gen_server::start_link::<Counter>(&ctx, (-5, None), StartOpts::default()).await;
            let exit = ctx.receive().await;
            (a, dup, bad, glob, bad_link, exit)
        })
        .await
        .unwrap();
    let (a, dup, bad, glob, bad_link, exit) = out;
    assert_eq!(dup, Err(t(vec![atom("already_started"), Term::Pid(a)])));
    assert_eq!(bad, Err(atom("negative")));
    assert_eq!(glob, Err(atom("notsup")));
    assert_eq!(bad_link, Err(atom("negative")));
    let et = exit.as_tuple().unwrap();
    assert_eq!(et[0], atom("EXIT"));
    assert_eq!(et[2], atom("negative"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_self_and_nodedown() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            let a = gen_server::call_timeout::<_, Term>(&ctx, &me, atom("x"), 10 * MS)
                .await
                .unwrap_err();
            let b = gen_server::call::<_, Term>(&ctx, ("srv", "other@host"), atom("x"))
                .await
                .unwrap_err();
            (me, a, b)
        })
        .await
        .unwrap();
    assert_eq!(
        out.1.reason,
        call_reason(
            atom("calling_self"),
            vec![Term::Pid(out.0), atom("x"), Term::Int(10)]
        )
    );
    assert_eq!(
        out.2.reason,
        call_reason(
            t(vec![atom("nodedown"), atom("other@host")]),
            vec![t(vec![atom("srv"), atom("other@host")]), atom("x")]
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_request_shape_stops_the_server() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let pid = gen_server::start::<Counter>(ctx.node(), (0, None), StartOpts::default())
                .await
                .unwrap();
            let r = ctx.monitor(&pid);
            let e = gen_server::call::<_, i64>(&ctx, &pid, atom("what"))
                .await
                .unwrap_err();
            let _ = ctx.receive().await;
            (pid, e, r)
        })
        .await
        .unwrap();
    let bad = t(vec![atom("bad_call"), atom("what")]);
    assert_eq!(
        out.1.reason,
        call_reason(bad, vec![Term::Pid(out.0), atom("what")])
    );
}

/// A server that traps exits terminates with its parent's exit reason.
struct Trapper(Pid);

impl GenServer for Trapper {
    type Args = Pid;
    type Call = Term;
    type Reply = Term;
    type Cast = Term;
    async fn init(ctx: &Ctx, log: Pid) -> Result<Self, Term> {
        ctx.trap_exit(true);
        Ok(Trapper(log))
    }
    async fn terminate(&mut self, ctx: &Ctx, reason: &Term) {
        ctx.send(&self.0, t(vec![atom("terminated"), reason.clone()]))
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_exit_terminates_a_trapping_server() {
    let node = Node::new();
    let out = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            let parent = ctx.spawn(move |ctx| async move {
                gen_server::start_link::<Trapper>(&ctx, me, StartOpts::default())
                    .await
                    .unwrap();
                ctx.receive_match(|_| false).await;
            });
            tokio::time::sleep(20 * MS).await;
            ctx.exit(&parent, atom("shutdown"));
            ctx.receive().await
        })
        .await
        .unwrap();
    assert_eq!(out, t(vec![atom("terminated"), atom("shutdown")]));
}
