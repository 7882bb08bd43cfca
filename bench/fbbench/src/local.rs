//! One-node workloads, the ferrobeam twin of `bench/erlang/fbb_local.erl`:
//!
//! * `workload=spawn count=N`: spawns N idle processes (each waits in `receive`) and
//!   times it until every one of them has started; reports the time per process and
//!   the growth of the OS process's resident memory per process. The harness runs one
//!   repetition per OS process, so that the resident memory starts from the same point.
//! * `workload=pingpong count=N`: N round trips between two processes
//!   (`{ping, From}` answered with `pong`).
//! * `workload=oneway senders=S count=N`: S processes send N messages (`{seq, I}`) in
//!   all to one process, which counts them; the time runs until it has the last one.

use crate::stats::{result, V};
use crate::Args;
use ferrobeam::{Atom, Ctx, Node, Pid, Term};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// `fbbench local`.
pub async fn run(args: &Args) -> Result<(), String> {
    let node = Node::new();
    let count = args.int("count", 100_000)?;
    let workload = args.str("workload")?.to_string();
    let senders = args.int("senders", 1)?.max(1);
    println!("READY");
    crate::serve(async |rep| match workload.as_str() {
        "spawn" => spawn(&node, count, rep).await,
        "pingpong" => pingpong(&node, count, rep).await,
        "oneway" => oneway(&node, senders, count, rep).await,
        other => Err(format!("unknown workload {other:?}")),
    })
    .await
}

/// The resident set size of this OS process, in bytes.
pub fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

async fn spawn(node: &Node, count: u64, rep: u64) -> Result<(), String> {
    let base = node.process_count() as u64;
    let started = Arc::new(AtomicU64::new(0));
    let rss0 = rss();
    let t0 = Instant::now();
    let mut pids: Vec<Pid> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let started = started.clone();
        pids.push(node.spawn(move |ctx: Ctx| async move {
            started.fetch_add(1, Ordering::Relaxed);
            ctx.receive().await;
        }));
    }
    let spawned = t0.elapsed();
    while started.load(Ordering::Relaxed) < count {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let rss1 = rss();
    for p in &pids {
        let _ = node.send(p, Term::atom("stop"));
    }
    drop(pids);
    while node.process_count() as u64 > base {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    result(
        rep,
        &[
            ("us_per_spawn", V::F(secs * 1e6 / count as f64)),
            ("spawn_secs", V::F(secs)),
            ("spawn_call_secs", V::F(spawned.as_secs_f64())),
            (
                "bytes_per_proc",
                V::F(rss1.saturating_sub(rss0) as f64 / count as f64),
            ),
        ],
    );
    Ok(())
}

async fn pingpong(node: &Node, count: u64, rep: u64) -> Result<(), String> {
    let pong = node.spawn(|ctx: Ctx| async move {
        let pong = Term::atom("pong");
        loop {
            match ctx.receive().await {
                Term::Tuple(t) if t.len() == 2 => {
                    if let Term::Pid(from) = &t[1] {
                        let _ = ctx.send(from, pong.clone());
                    }
                }
                _ => return,
            }
        }
    });
    let secs = node
        .run(move |ctx| async move {
            let ping = Atom::new("ping");
            let me = Term::Pid(ctx.self_pid().clone());
            let t0 = Instant::now();
            for _ in 0..count {
                let _ = ctx.send(
                    &pong,
                    Term::Tuple(vec![Term::Atom(ping.clone()), me.clone()]),
                );
                ctx.receive().await;
            }
            let secs = t0.elapsed().as_secs_f64();
            let _ = ctx.send(&pong, Term::atom("stop"));
            secs
        })
        .await
        .map_err(|r| format!("ping process exited: {r}"))?;
    result(
        rep,
        &[
            ("rt_s", V::F(count as f64 / secs)),
            ("ns_per_rt", V::F(secs * 1e9 / count as f64)),
        ],
    );
    Ok(())
}

async fn oneway(node: &Node, senders: u64, count: u64, rep: u64) -> Result<(), String> {
    let per = count / senders;
    let total = per * senders;
    let (done_tx, done_rx) = oneshot::channel::<Instant>();
    let sink = node.spawn(move |ctx: Ctx| async move {
        for _ in 0..total {
            ctx.receive().await;
        }
        let _ = done_tx.send(Instant::now());
    });
    let mut pids = Vec::new();
    for _ in 0..senders {
        let sink = sink.clone();
        pids.push(node.spawn(move |ctx: Ctx| async move {
            ctx.receive().await;
            let seq = Atom::new("seq");
            for i in 0..per {
                let _ = ctx.send(
                    &sink,
                    Term::Tuple(vec![Term::Atom(seq.clone()), Term::Int(i as i64)]),
                );
            }
        }));
    }
    // Let the senders reach their receive.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t0 = Instant::now();
    for p in &pids {
        let _ = node.send(p, Term::atom("go"));
    }
    let t1 = done_rx.await.map_err(|_| "the sink died".to_string())?;
    let secs = t1.duration_since(t0).as_secs_f64();
    result(
        rep,
        &[("msgs_s", V::F(total as f64 / secs)), ("secs", V::F(secs))],
    );
    Ok(())
}
