//! Node B of the two-node workloads, the ferrobeam twin of `bench/erlang/fbb_peer.erl`:
//! a registered `sink` that counts messages and a registered `echo` GenServer.
//!
//! The sink protocol:
//! * `{bench_start, From}`: answers `{bench_ready, SinkPid}`, the count restarts at 0;
//! * `{bench_end, From}`: answers `{bench_done, Count}`;
//! * anything else: counted.

use crate::Args;
use ferrobeam::dist::{self, DistConfig, DistNode, NameKind};
use ferrobeam::gen_server::{self, CallFrom, CallReply, GenServer, StartOpts};
use ferrobeam::{Atom, Ctx, Term};

/// Starts a distributed node from `sname=`, `cookie=`, `epmd_port=` and `hidden=`, with
/// the EPMD the harness runs (none is started).
pub async fn start_node(args: &Args) -> Result<DistNode, String> {
    let mut cfg = DistConfig::new(args.str("sname")?, NameKind::Short)
        .cookie(args.str("cookie")?)
        .epmd_port(args.int("epmd_port", 4369)? as u16);
    cfg.start_epmd = false;
    cfg.hidden = args.str_or("hidden", "false") == "true";
    if let Ok(n) = args.int("busy_limit", 0) {
        if n > 0 {
            cfg.busy_limit = n as usize;
        }
    }
    if let Some(us) = args.0.get("read_spin_us") {
        let us = us
            .parse()
            .map_err(|_| format!("read_spin_us={us}: not an integer"))?;
        cfg.read_spin = std::time::Duration::from_micros(us);
    }
    dist::start(cfg)
        .await
        .map_err(|e| format!("cannot start the node: {e}"))
}

/// The echo server: answers every call with the request.
pub struct Echo;

impl GenServer for Echo {
    type Args = ();
    type Call = Term;
    type Reply = Term;
    type Cast = Term;

    async fn init(_ctx: &Ctx, _args: ()) -> Result<Self, Term> {
        Ok(Echo)
    }

    async fn handle_call(&mut self, _ctx: &Ctx, req: Term, _from: CallFrom) -> CallReply<Term> {
        CallReply::Reply(req)
    }

    async fn handle_cast(&mut self, _ctx: &Ctx, _msg: Term) -> gen_server::Flow {
        gen_server::Flow::Continue
    }
}

async fn sink(ctx: Ctx) {
    let start = Atom::new("bench_start");
    let end = Atom::new("bench_end");
    let mut n: i64 = 0;
    loop {
        let m = ctx.receive().await;
        if let Term::Tuple(t) = &m {
            if let [Term::Atom(tag), Term::Pid(from)] = &t[..] {
                if *tag == end {
                    let done = Term::tuple(vec![Term::atom("bench_done"), Term::Int(n)]);
                    let _ = ctx.send(from, done);
                    n = 0;
                    continue;
                }
                if *tag == start {
                    let ready = Term::tuple(vec![
                        Term::atom("bench_ready"),
                        Term::Pid(ctx.self_pid().clone()),
                    ]);
                    let _ = ctx.send(from, ready);
                    n = 0;
                    continue;
                }
            }
        }
        n += 1;
    }
}

/// `fbbench peer`: starts node B, prints `READY <node>` and runs until killed.
pub async fn run(args: &Args) -> Result<(), String> {
    let dist = start_node(args).await?;
    let node = dist.node();
    let pid = node.spawn(sink);
    node.register("sink", &pid)
        .map_err(|e| format!("register sink: {e}"))?;
    gen_server::start::<Echo>(node, (), StartOpts::name("echo"))
        .await
        .map_err(|e| format!("start echo: {e}"))?;
    println!("READY {}", dist.name());
    std::future::pending::<()>().await;
    Ok(())
}
