//! GenServer across nodes with real Elixir nodes, in both directions: call and cast
//! (with OTP 24+'s alias tag and the older bare reference tag), a call to a missing name
//! (`noproc` at once), a call whose node dies (`{nodedown, Node}`), and `multi_call` and
//! `abcast` over ferrobeam and Elixir nodes.
//!
//! Skipped with a notice when `elixir` is missing, unless `FERROBEAM_REQUIRE_ERLANG=1`.

#[path = "dist2_beam.rs"]
mod beam;
#[path = "dist_support.rs"]
mod support;

use beam::{require, sname, Elixir};
use ferrobeam::gen_server::{self, CallFrom, CallReply, Flow, GenServer, StartOpts, Timeout};
use ferrobeam::{Atom, Ctx, Pid, Term};
use std::time::{Duration, Instant};
use support::*;

/// A counter GenServer on ferrobeam, as the Elixir one below.
struct Counter {
    n: i64,
    report: Option<Pid>,
}

impl GenServer for Counter {
    type Args = Option<Pid>;
    type Call = Term;
    type Reply = Term;
    type Cast = Term;

    async fn init(_ctx: &Ctx, report: Option<Pid>) -> Result<Self, Term> {
        Ok(Counter { n: 0, report })
    }

    async fn handle_call(&mut self, ctx: &Ctx, req: Term, _from: CallFrom) -> CallReply<Term> {
        if req.is_atom("get") {
            return CallReply::Reply(Term::from(self.n));
        }
        let Some(t) = req.as_tuple() else {
            return CallReply::Reply(Term::atom("bad"));
        };
        match (&t[0], t.get(1)) {
            (Term::Atom(a), Some(Term::Int(k))) if a == "add" => {
                self.n += k;
                CallReply::Reply(Term::from(self.n))
            }
            (Term::Atom(a), Some(Term::Int(ms))) if a == "sleep" => {
                if let Some(r) = &self.report {
                    let _ = ctx.send(r, Term::atom("sleeping"));
                }
                tokio::time::sleep(Duration::from_millis(*ms as u64)).await;
                CallReply::Reply(Term::atom("slept"))
            }
            _ => CallReply::Reply(Term::atom("bad")),
        }
    }

    async fn handle_cast(&mut self, _ctx: &Ctx, msg: Term) -> Flow {
        if let Some([Term::Atom(a), Term::Int(k)]) = msg.as_tuple() {
            if a == "add" {
                self.n += k;
            }
        }
        Flow::Continue
    }
}

/// The Elixir counter, started as `:counter`, plus helpers the tests drive.
const ELIXIR_COUNTER: &str = r#"
defmodule Counter do
  use GenServer
  def init(n), do: {:ok, n}
  def handle_call(:get, _from, n), do: {:reply, n, n}
  def handle_call({:add, k}, _from, n), do: {:reply, n + k, n + k}
  def handle_call({:sleep, ms}, _from, n) do
    Process.sleep(ms)
    {:reply, :slept, n}
  end
  def handle_cast({:add, k}, n), do: {:noreply, n + k}
end
{:ok, _} = GenServer.start(Counter, 0, name: :counter)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrobeam_calls_and_casts_elixir_genservers() {
    let Some(elixir) = require("elixir", "ferrobeam_calls_and_casts_elixir_genservers") else {
        return;
    };
    let c = Cluster::new().await;
    let a = c.node("fb").await;
    let me = a.name().to_string();
    let mut inbox = Mailbox::new(&a, Some("inbox"));
    let script = format!(
        r#"{ELIXIR_COUNTER}
send({{:inbox, :"{me}"}}, {{:ready, node(), Process.whereis(:counter)}})
Process.sleep(:infinity)"#
    );
    let mut ex = Elixir::start(&elixir, &sname("exs"), c.epmd_port, COOKIE, &script);
    let ready = inbox.recv(30).await;
    let en = ready.as_tuple().unwrap()[1].as_atom().unwrap().clone();
    let counter_pid = ready.as_tuple().unwrap()[2].as_pid().unwrap().clone();
    let en2 = en.clone();
    let r = a
        .node()
        .run(move |ctx| async move {
            let server = (Atom::new("counter"), en2.clone());
            let v1: Term = gen_server::call(&ctx, server.clone(), t("{add, 5}"))
                .await
                .unwrap();
            gen_server::cast(ctx.node(), server.clone(), t("{add, 10}"));
            let v2: Term = gen_server::call(&ctx, server.clone(), t("get"))
                .await
                .unwrap();
            // A missing name: noproc at once.
            let started = Instant::now();
            let missing =
                gen_server::call::<Term, Term>(&ctx, (Atom::new("nobody"), en2.clone()), t("get"))
                    .await
                    .unwrap_err();
            let missing_took = started.elapsed();
            // By pid.
            let v3: Term = gen_server::call(&ctx, &counter_pid, t("{add, 1}"))
                .await
                .unwrap();
            assert_eq!(v3, Term::from(16));
            gen_server::cast(ctx.node(), &counter_pid, t("{add, 4}"));
            let v4: Term = gen_server::call(&ctx, &counter_pid, t("get"))
                .await
                .unwrap();
            assert_eq!(v4, Term::from(20));
            (v1, v2, missing, missing_took)
        })
        .await
        .unwrap();
    assert_eq!(r.0, Term::from(5));
    assert_eq!(r.1, Term::from(15));
    assert_eq!(
        r.2.reason,
        Term::tuple(vec![
            Term::atom("noproc"),
            Term::tuple(vec![
                Term::atom("gen_server"),
                Term::atom("call"),
                Term::list(vec![
                    Term::tuple(vec![Term::atom("nobody"), Term::Atom(en.clone())]),
                    t("get")
                ]),
            ]),
        ])
    );
    assert!(r.3 < Duration::from_secs(2), "{:?}", r.3);
    // A call in progress when the node dies: {nodedown, Node}.
    let en3 = en.clone();
    let node = a.node().clone();
    let call = async move {
        node.run(move |ctx| async move {
            gen_server::call_timeout::<Term, Term>(
                &ctx,
                (Atom::new("counter"), en3),
                t("{sleep, 10000}"),
                Duration::from_secs(15),
            )
            .await
        })
        .await
    };
    let call = tokio::spawn(call);
    tokio::time::sleep(Duration::from_millis(500)).await;
    ex.kill().await;
    let started = Instant::now();
    let err = call.await.unwrap().unwrap().unwrap_err();
    assert_eq!(
        *err.kind(),
        Term::tuple(vec![Term::atom("nodedown"), Term::Atom(en.clone())])
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elixir_calls_and_casts_ferrobeam_genservers() {
    let Some(elixir) = require("elixir", "elixir_calls_and_casts_ferrobeam_genservers") else {
        return;
    };
    let c = Cluster::new().await;
    let a = c.node("fb").await;
    let b = c.node("fb2").await;
    let me = a.name().to_string();
    let other = b.name().to_string();
    let mut inbox = Mailbox::new(&a, Some("inbox"));
    gen_server::start::<Counter>(
        a.node(),
        Some(inbox.pid.clone()),
        StartOpts::name("fb_counter"),
    )
    .await
    .unwrap();
    gen_server::start::<Counter>(b.node(), None, StartOpts::name("fb_counter"))
        .await
        .unwrap();
    let script = format!(
        r#"{ELIXIR_COUNTER}
{{:ok, _}} = GenServer.start(Counter, 100, name: :fb_counter)
fb = :"{me}"
fb2 = :"{other}"
IO.puts("CALL #{{inspect(GenServer.call({{:fb_counter, fb}}, {{:add, 5}}))}}")
GenServer.cast({{:fb_counter, fb}}, {{:add, 10}})
IO.puts("GET #{{inspect(GenServer.call({{:fb_counter, fb}}, :get))}}")
t0 = System.monotonic_time(:millisecond)
r = try do GenServer.call({{:nobody, fb}}, :get) catch :exit, r -> r end
IO.puts("MISSING #{{inspect(r)}} #{{System.monotonic_time(:millisecond) - t0}}")
ref = make_ref()
send({{:fb_counter, fb}}, {{:"$gen_call", {{self(), ref}}, :get}})
receive do
  {{^ref, v}} -> IO.puts("OLDTAG #{{inspect(v)}}")
after 5000 -> IO.puts("OLDTAG timeout")
end
{{replies, bad}} = GenServer.multi_call([fb, fb2, :"nobody@{host}", node()], :fb_counter, {{:add, 1}})
IO.puts("MULTI #{{inspect(Enum.sort(replies))}} #{{inspect(bad)}}")
GenServer.abcast([fb, fb2], :fb_counter, {{:add, 1000}})
IO.puts("ABCAST #{{inspect(GenServer.call({{:fb_counter, fb}}, :get))}} #{{inspect(GenServer.call({{:fb_counter, fb2}}, :get))}}")
send({{:inbox, fb}}, {{:ready, node()}})
IO.puts("DEATH_CALL")
r = try do GenServer.call({{:fb_counter, fb}}, {{:sleep, 10000}}, 20000) catch :exit, r -> r end
IO.puts("DEATH #{{inspect(r)}}")
Process.sleep(:infinity)"#,
        host = dist_host()
    );
    let mut ex = Elixir::start(&elixir, &sname("exc"), c.epmd_port, COOKIE, &script);
    assert_eq!(ex.line("CALL ", 30).await, "5");
    assert_eq!(ex.line("GET ", 10).await, "15");
    let missing = ex.line("MISSING ", 10).await;
    assert!(
        missing.starts_with(&format!(
            "{{:noproc, {{GenServer, :call, [{{:nobody, :\"{me}\"}}, :get, 5000]}}}}"
        )) || missing.starts_with(&format!(
            "{{:noproc, {{GenServer, :call, [{{:nobody, :{me}}}, :get, 5000]}}}}"
        )),
        "{missing}"
    );
    let ms: u64 = missing.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(ms < 2000, "{missing}");
    assert_eq!(ex.line("OLDTAG ", 10).await, "15");
    let multi = ex.line("MULTI ", 20).await;
    // Elixir shows the replies as a keyword list, sorted by node.
    let en = format!("{}@{}", sname("exc"), dist_host());
    assert_eq!(
        multi,
        format!(
            "[{en}: 101, {other}: 1, {me}: 16] [:nobody@{}]",
            dist_host()
        ),
        "{multi}"
    );
    assert_eq!(ex.line("ABCAST ", 10).await, "1016 1001");
    // A call in progress when our node dies: the Elixir caller exits with nodedown.
    let ready = inbox.recv(10).await;
    assert!(ready.as_tuple().unwrap()[0].is_atom("ready"));
    ex.line("DEATH_CALL", 10).await;
    let sleeping = inbox.recv(10).await;
    assert!(sleeping.is_atom("sleeping"), "{sleeping}");
    a.shutdown().await;
    let death = ex.line("DEATH ", 10).await;
    assert!(
        death.starts_with(&format!("{{{{:nodedown, :\"{me}\"}}"))
            || death.starts_with(&format!("{{{{:nodedown, :{me}}}")),
        "{death}"
    );
    b.shutdown().await;
}

/// The host part of node names on this machine.
fn dist_host() -> String {
    ferrobeam::dist::name::short_hostname()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_call_and_abcast_over_ferrobeam_and_elixir_nodes() {
    let Some(elixir) = require(
        "elixir",
        "multi_call_and_abcast_over_ferrobeam_and_elixir_nodes",
    ) else {
        return;
    };
    let c = Cluster::new().await;
    let a = c.node("fb").await;
    let b = c.node("fb2").await;
    let me = a.name().to_string();
    let mut inbox = Mailbox::new(&a, Some("inbox"));
    // A counter named like the Elixir one on both ferrobeam nodes.
    gen_server::start::<Counter>(a.node(), None, StartOpts::name("counter"))
        .await
        .unwrap();
    gen_server::start::<Counter>(b.node(), None, StartOpts::name("counter"))
        .await
        .unwrap();
    let script = format!(
        r#"{ELIXIR_COUNTER}
send({{:inbox, :"{me}"}}, {{:ready, node()}})
Process.sleep(:infinity)"#
    );
    let _ex = Elixir::start(&elixir, &sname("exm"), c.epmd_port, COOKIE, &script);
    let ready = inbox.recv(30).await;
    let en = ready.as_tuple().unwrap()[1].as_atom().unwrap().clone();
    let nodes = vec![
        a.name().clone(),
        b.name().clone(),
        en.clone(),
        Atom::new(&format!("nobody@{}", dist_host())),
    ];
    let n2 = nodes.clone();
    let (first, second, missing) = a
        .node()
        .run(move |ctx| async move {
            let first: gen_server::MultiCall<i64> =
                gen_server::multi_call(&ctx, &n2, "counter", t("{add, 2}"), Duration::from_secs(5))
                    .await;
            gen_server::abcast(ctx.node(), &n2, "counter", t("{add, 40}"));
            let second: gen_server::MultiCall<i64> =
                gen_server::multi_call(&ctx, &n2, "counter", t("get"), Timeout::Infinity).await;
            let missing: gen_server::MultiCall<i64> =
                gen_server::multi_call(&ctx, &n2[..3], "ghost", t("get"), Duration::from_secs(5))
                    .await;
            (first, second, missing)
        })
        .await
        .unwrap();
    let want = |v: i64| -> Vec<(Atom, i64)> {
        vec![
            (nodes[0].clone(), v),
            (nodes[1].clone(), v),
            (nodes[2].clone(), v),
        ]
    };
    assert_eq!(first.replies, want(2));
    assert_eq!(first.bad_nodes, vec![nodes[3].clone()]);
    assert_eq!(second.replies, want(42));
    assert_eq!(missing.replies, vec![]);
    assert_eq!(missing.bad_nodes, nodes[..3].to_vec());
    // A server that does not answer in time makes its node bad, and its late reply
    // does not reach the caller.
    let slow = nodes[2].clone();
    let (r, late) = a
        .node()
        .run(move |ctx| async move {
            let r: gen_server::MultiCall<Term> = gen_server::multi_call(
                &ctx,
                std::slice::from_ref(&slow),
                "counter",
                t("{sleep, 600}"),
                Duration::from_millis(200),
            )
            .await;
            let late = ctx.receive_timeout(Duration::from_millis(800)).await;
            (r, late)
        })
        .await
        .unwrap();
    assert!(r.replies.is_empty());
    assert_eq!(r.bad_nodes, vec![nodes[2].clone()]);
    assert_eq!(late, None);
    a.shutdown().await;
    b.shutdown().await;
}
