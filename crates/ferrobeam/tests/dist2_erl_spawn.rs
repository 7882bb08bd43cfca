//! Remote spawn, group leaders and rpc between ferrobeam and real `erl`/`elixir` nodes:
//! `spawn`, `spawn_link` and `spawn_monitor` from erl of functions registered on
//! ferrobeam (output on erl's terminal, through its group leader), refusal of an
//! unknown function, `erpc:call` and `rpc:call` into ferrobeam, Elixir's
//! `Node.spawn_link`, and ferrobeam spawning Erlang functions on erl with its output
//! coming back to a ferrobeam group leader.
//!
//! Skipped with a notice when `erl` is missing, unless `FERROBEAM_REQUIRE_ERLANG=1`.

#[path = "dist2_beam.rs"]
mod beam;
#[path = "dist_support.rs"]
mod support;

use beam::{require, sname, Elixir, Erl};
use ferrobeam::dist::DistNode;
use ferrobeam::{io, Atom, Ctx, Term};
use std::time::Duration;
use support::*;
use tokio::sync::mpsc;

fn demo_functions(n: &DistNode) {
    let node = n.node();
    node.register_fn("demo", "hello", |ctx: Ctx, args: Vec<Term>| async move {
        let who = args
            .first()
            .and_then(|a| io::chardata(a, true))
            .unwrap_or_default();
        ctx.println(&format!("hello {who} from {}", ctx.node().name()))
            .await
    });
    node.register_fn("demo", "wait", |ctx: Ctx, _args: Vec<Term>| async move {
        let m = ctx.receive().await;
        Err::<(), Term>(m)
    });
    node.register_fn("demo", "add", |_ctx: Ctx, args: Vec<Term>| async move {
        match args.as_slice() {
            [Term::Int(a), Term::Int(b)] => Ok(Term::from(a + b)),
            _ => Err(Term::atom("badarith")),
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erl_spawns_on_ferrobeam_and_calls_it_with_erpc_and_rpc() {
    let Some(erl) = require(
        "erl",
        "erl_spawns_on_ferrobeam_and_calls_it_with_erpc_and_rpc",
    ) else {
        return;
    };
    let c = Cluster::new().await;
    let a = c.node("fb").await;
    demo_functions(&a);
    let mut e = Erl::start(&erl, &sname("sp"), c.epmd_port, COOKIE).await;
    e.eval(&format!("FB = '{}'", a.name())).await;
    // spawn/4: the output comes out of erl's own terminal (its group leader).
    let r = e
        .eval("P1 = spawn(FB, demo, hello, [<<\"alex\">>]), node(P1) =:= FB")
        .await;
    assert_eq!(r, "true");
    let line = e.output("hello alex from", 10).await;
    assert_eq!(line, format!("hello alex from {}", a.name()));
    // spawn_link and spawn_monitor: the flags make the link and monitor work.
    e.eval("process_flag(trap_exit, true)").await;
    let r = e
        .eval("P2 = spawn_link(FB, demo, wait, []), P2 ! {custom, 2}, receive {'EXIT', P2, R2} -> R2 after 5000 -> timeout end")
        .await;
    assert_eq!(r, "{custom,2}");
    let r = e
        .eval("{P3, M3} = spawn_monitor(FB, demo, wait, []), P3 ! {shutdown, x}, receive {'DOWN', M3, process, P3, R3} -> R3 after 5000 -> timeout end")
        .await;
    assert_eq!(r, "{shutdown,x}");
    // A function ferrobeam does not know is refused: spawn raises badarg, and
    // spawn_request gets an error reply.
    let r = e.eval("catch spawn(FB, nomod, nofun, [])").await;
    assert!(r.starts_with("{'EXIT',{badarg,"), "{r}");
    let r = e
        .eval("Rq = erlang:spawn_request(FB, nomod, nofun, [], []), receive {spawn_reply, Rq, S4, V4} -> {S4, V4} after 5000 -> timeout end")
        .await;
    assert_eq!(r, "{error,badarg}");
    // erpc and rpc, with results, undef and exits as BEAM reports them.
    assert_eq!(e.eval("erpc:call(FB, demo, add, [1, 2])").await, "3");
    let r = e
        .eval("try erpc:call(FB, nomod, nofun, [x]) catch C5:E5 -> {C5, E5} end")
        .await;
    assert_eq!(r, "{error,{exception,undef,[{nomod,nofun,[x],[]}]}}");
    let r = e
        .eval("try erpc:call(FB, demo, add, [a, 1]) catch C6:E6 -> {C6, E6} end")
        .await;
    assert_eq!(r, "{exit,{exception,badarith}}");
    assert_eq!(e.eval("rpc:call(FB, demo, add, [2, 3])").await, "5");
    assert_eq!(
        e.eval("rpc:call(FB, nomod, nofun, [x])").await,
        "{badrpc,{'EXIT',{undef,[{nomod,nofun,[x],[]}]}}}"
    );
    // rpc:call's output also comes back to erl.
    assert_eq!(
        e.eval("rpc:call(FB, demo, hello, [<<\"rpc\">>])").await,
        "ok"
    );
    e.output("hello rpc from", 10).await;
    // group_leader/2 from erl on a ferrobeam process.
    let r = e
        .eval("P7 = spawn(FB, demo, wait, []), group_leader(whereis(user), P7), ok")
        .await;
    assert_eq!(r, "ok");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrobeam_spawns_erlang_functions_with_output_back_here() {
    let Some(erl) = require(
        "erl",
        "ferrobeam_spawns_erlang_functions_with_output_back_here",
    ) else {
        return;
    };
    let c = Cluster::new().await;
    let a = c.node("fb").await;
    let e = Erl::start(&erl, &sname("sp2"), c.epmd_port, COOKIE).await;
    let en = Atom::new(&e.name);
    let (tx, mut out) = mpsc::unbounded_channel();
    let gl = io::start_server(a.node(), move |text| {
        let _ = tx.send(text.to_string());
    });
    let gl2 = gl.clone();
    let en2 = en.clone();
    let (printed, down, unknown) = a
        .node()
        .run(move |ctx| async move {
            ctx.set_group_leader(&gl2);
            // io:format on erl, with our group leader: the text comes here.
            let p = ctx
                .spawn_remote(
                    en2.clone(),
                    "io",
                    "format",
                    vec![t("\"hi ~s from ~p~n\""), t("[\"there\", erl]")],
                )
                .await;
            // spawn_monitor of erlang:exit/1 there.
            let (pid, r) = ctx
                .spawn_monitor_remote(en2.clone(), "erlang", "exit", vec![t("{shutdown, bye}")])
                .await
                .unwrap();
            let down = ctx.receive().await;
            // An Erlang module that does not exist: BEAM starts the process, which
            // fails with undef.
            let unknown = ctx
                .spawn_monitor_remote(en2, "nomod", "nofun", vec![])
                .await
                .map(|_| ctx.receive());
            let unknown = match unknown {
                Ok(f) => Some(f.await),
                Err(_) => None,
            };
            (p.map(|p| p.node), (pid, r, down), unknown)
        })
        .await
        .unwrap();
    assert_eq!(printed, Ok(en.clone()));
    let got = tokio::time::timeout(Duration::from_secs(5), out.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, "hi there from erl\n");
    let (pid, r, d) = down;
    assert_eq!(
        d,
        Term::tuple(vec![
            Term::atom("DOWN"),
            Term::from(r),
            Term::atom("process"),
            Term::Pid(pid),
            t("{shutdown,bye}"),
        ])
    );
    let unknown = unknown.expect("BEAM spawns it");
    let why = unknown.as_tuple().unwrap()[4].clone();
    assert!(why.as_tuple().unwrap()[0].is_atom("undef"), "{unknown}");
    drop(e);
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elixir_node_spawn_link_prints_on_the_elixir_side() {
    let Some(elixir) = require("elixir", "elixir_node_spawn_link_prints_on_the_elixir_side") else {
        return;
    };
    let c = Cluster::new().await;
    let a = c.node("kate").await;
    demo_functions(&a);
    let kate = a.name().to_string();
    // Seed 002: Node.spawn_link(:kate@host, ...) from alex; the output is alex's.
    let script = format!(
        r#"pid = Node.spawn_link(:"{kate}", :demo, :hello, ["from alex"])
IO.puts("PID #{{node(pid)}}")
{{pid2, ref}} = Node.spawn_monitor(:"{kate}", :demo, :wait, [])
send(pid2, {{:shutdown, :done}})
receive do
  {{:DOWN, ^ref, :process, ^pid2, reason}} -> IO.puts("DOWN #{{inspect(reason)}}")
after 5000 -> IO.puts("DOWN timeout")
end
IO.puts("ERPC #{{inspect(:erpc.call(:"{kate}", :demo, :add, [40, 2]))}}")"#
    );
    let mut ex = Elixir::start(&elixir, &sname("alex"), c.epmd_port, COOKIE, &script);
    assert_eq!(ex.line("PID ", 30).await, kate);
    assert_eq!(ex.line("hello from alex from ", 10).await, kate);
    assert_eq!(ex.line("DOWN ", 10).await, "{:shutdown, :done}");
    assert_eq!(ex.line("ERPC ", 10).await, "42");
    a.shutdown().await;
}
