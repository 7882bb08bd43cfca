//! Node A of the two-node workloads, the ferrobeam twin of
//! `bench/erlang/fbb_driver.erl`: the same workloads, the same messages, the same
//! `RESULT` lines.
//!
//! * `workload=oneway kind=small|bin size=S count=N`: N messages (`{seq, I}` or an
//!   S-byte binary) to the peer's sink; the time runs from the first send until the
//!   sink reports that it received the last one.
//! * `workload=call conc=C count=N`: C processes call the peer's echo server in a closed
//!   loop, N calls in all (`{ping, K}`, answered with itself).
//! * `workload=hol size=S duration_ms=D interval_ms=I`: one process streams S-byte
//!   binaries to the sink for D ms while another calls the echo server every I ms.
//! * `workload=connect count=N`: N cycles of connect (timed) and disconnect (run as a
//!   hidden node, `hidden=true`, as the Erlang driver is run with `-hidden`).
//!
//! A sender that produces floods waits while the connection is busy
//! ([`DistNode::is_busy`], BEAM's busy distribution port) and otherwise yields to the
//! scheduler every `yield_every` messages (default 64), as a BEAM process is preempted
//! after its reductions.

use crate::peer::start_node;
use crate::stats::{payload, pcts, result, V};
use crate::Args;
use bytes::Bytes;
use ferrobeam::dist::{DistNode, NodeKind};
use ferrobeam::gen_server::{self, ServerRef};
use ferrobeam::{Atom, Ctx, Pid, Term};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// `fbbench drive`.
pub async fn run(args: &Args) -> Result<(), String> {
    let dist = start_node(args).await?;
    let peer = args.str("peer")?.to_string();
    let workload = args.str("workload")?.to_string();
    if !dist.connect(&peer).await {
        return Err(format!("cannot connect to {peer}"));
    }
    println!("READY {}", dist.name());
    crate::serve(async |rep| match workload.as_str() {
        "oneway" => oneway(&dist, &peer, args, rep).await,
        "call" => call(&dist, &peer, args, rep).await,
        "hol" => hol(&dist, &peer, args, rep).await,
        "connect" => connect(&dist, &peer, args, rep).await,
        other => Err(format!("unknown workload {other:?}")),
    })
    .await
}

/// Runs `f` in a new process of the node, flattening its errors.
async fn in_process<F, Fut, R>(dist: &DistNode, f: F) -> Result<R, String>
where
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<R, String>> + Send + 'static,
    R: Send + 'static,
{
    match dist.node().run(f).await {
        Ok(r) => r,
        Err(reason) => Err(format!("the driver process exited: {reason}")),
    }
}

fn tag_is(m: &Term, tag: &str, len: usize) -> bool {
    matches!(m, Term::Tuple(t) if t.len() == len && t[0].is_atom(tag))
}

/// `{bench_start, self()}` to `{sink, Peer}`; the sink's pid.
async fn sink_start(ctx: &Ctx, peer: &str) -> Result<Pid, String> {
    let hello = Term::tuple(vec![
        Term::atom("bench_start"),
        Term::Pid(ctx.self_pid().clone()),
    ]);
    let _ = ctx.send(("sink", peer), hello);
    match ctx
        .receive_match_timeout(|m| tag_is(m, "bench_ready", 2), Duration::from_secs(10))
        .await
    {
        Some(Term::Tuple(t)) => match &t[1] {
            Term::Pid(p) => Ok(p.clone()),
            other => Err(format!("bad bench_ready: {other}")),
        },
        _ => Err("no bench_ready from the sink within 10 s".into()),
    }
}

/// `{bench_end, self()}` to the sink; the count it reports.
async fn sink_end(ctx: &Ctx, sink: &Pid) -> Result<u64, String> {
    let end = Term::tuple(vec![
        Term::atom("bench_end"),
        Term::Pid(ctx.self_pid().clone()),
    ]);
    let _ = ctx.send(sink, end);
    match ctx
        .receive_match_timeout(|m| tag_is(m, "bench_done", 2), Duration::from_secs(120))
        .await
    {
        Some(Term::Tuple(t)) => match &t[1] {
            Term::Int(n) => Ok(*n as u64),
            other => Err(format!("bad bench_done: {other}")),
        },
        _ => Err("no bench_done from the sink within 120 s".into()),
    }
}

/// Waits while the connection is busy; otherwise yields every `every` messages.
async fn pace(dist: &DistNode, peer: &str, i: u64, every: u64) {
    if every > 0 && i % every == every - 1 {
        if dist.is_busy(peer) {
            dist.wait_not_busy(peer).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
}

async fn oneway(dist: &DistNode, peer: &str, args: &Args, rep: u64) -> Result<(), String> {
    let count = args.int("count", 100_000)?;
    let size = args.int("size", 0)? as usize;
    let small = args.str("kind")? == "small";
    let every = args.int("yield_every", 64)?;
    let d = dist.clone();
    let peer = peer.to_string();
    let (n, secs) = in_process(dist, move |ctx| async move {
        let sink = sink_start(&ctx, &peer).await?;
        let t0 = Instant::now();
        if small {
            let seq = Atom::new("seq");
            for i in 0..count {
                let m = Term::Tuple(vec![Term::Atom(seq.clone()), Term::Int(i as i64)]);
                let _ = ctx.send(&sink, m);
                pace(&d, &peer, i, every).await;
            }
        } else {
            let bin = Bytes::from(payload(size));
            for i in 0..count {
                let _ = ctx.send(&sink, Term::Binary(bin.clone()));
                pace(&d, &peer, i, every).await;
            }
        }
        let n = sink_end(&ctx, &sink).await?;
        Ok((n, t0.elapsed().as_secs_f64()))
    })
    .await?;
    if n != count {
        return Err(format!("the sink counted {n} messages of {count}"));
    }
    result(
        rep,
        &[
            ("msgs_s", V::F(count as f64 / secs)),
            ("mb_s", V::F((count as usize * size) as f64 / secs / 1e6)),
            ("secs", V::F(secs)),
        ],
    );
    Ok(())
}

fn ping(k: u64) -> Term {
    Term::tuple(vec![Term::atom("ping"), Term::Int(k as i64)])
}

fn is_pong(t: &Term, k: u64) -> bool {
    matches!(t, Term::Tuple(v) if v.len() == 2 && v[0].is_atom("ping") && v[1] == Term::Int(k as i64))
}

/// One call to `{echo, Peer}`, checked; its time in ns.
async fn timed_call(ctx: &Ctx, server: &ServerRef, k: u64) -> Result<u64, String> {
    let t = Instant::now();
    let rep: Term = gen_server::call(ctx, server.clone(), ping(k))
        .await
        .map_err(|e| format!("call failed: {}", e.reason))?;
    let dt = t.elapsed().as_nanos() as u64;
    if !is_pong(&rep, k) {
        return Err(format!("bad reply {rep}"));
    }
    Ok(dt)
}

async fn call(dist: &DistNode, peer: &str, args: &Args, rep: u64) -> Result<(), String> {
    let conc = args.int("conc", 1)?.max(1);
    let per = args.int("count", 10_000)? / conc;
    let peer = peer.to_string();
    let (mut lats, secs) = in_process(dist, move |ctx| async move {
        let (tx, mut rx) = mpsc::unbounded_channel::<Result<Vec<u64>, String>>();
        let server = ServerRef::Remote(Atom::new("echo"), Atom::new(&peer));
        let mut callers = Vec::new();
        for _ in 0..conc {
            let tx = tx.clone();
            let server = server.clone();
            callers.push(ctx.spawn(move |c| async move {
                c.receive_match(|m| m.is_atom("go")).await;
                let mut lats = Vec::with_capacity(per as usize);
                for k in 0..per {
                    match timed_call(&c, &server, k).await {
                        Ok(dt) => lats.push(dt),
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
                let _ = tx.send(Ok(lats));
            }));
        }
        drop(tx);
        let t0 = Instant::now();
        for p in &callers {
            let _ = ctx.send(p, Term::atom("go"));
        }
        let mut all = Vec::with_capacity((per * conc) as usize);
        for _ in 0..conc {
            match rx.recv().await {
                Some(Ok(l)) => all.extend(l),
                Some(Err(e)) => return Err(e),
                None => return Err("a caller died".into()),
            }
        }
        Ok((all, t0.elapsed().as_secs_f64()))
    })
    .await?;
    let (p50, p99, max) = pcts(&mut lats);
    result(
        rep,
        &[
            ("calls_s", V::F((conc * per) as f64 / secs)),
            ("p50_us", V::F(p50)),
            ("p99_us", V::F(p99)),
            ("max_us", V::F(max)),
            ("secs", V::F(secs)),
        ],
    );
    Ok(())
}

async fn hol(dist: &DistNode, peer: &str, args: &Args, rep: u64) -> Result<(), String> {
    let size = args.int("size", 8 * 1024 * 1024)? as usize;
    let dur = Duration::from_millis(args.int("duration_ms", 2000)?);
    let step = Duration::from_millis(args.int("interval_ms", 10)?);
    let d = dist.clone();
    let peer = peer.to_string();
    let (sent, secs, mut lats) = in_process(dist, move |ctx| async move {
        let sink = sink_start(&ctx, &peer).await?;
        let bin = Bytes::from(payload(size));
        let t0 = Instant::now();
        let deadline = t0 + dur;
        let (btx, mut brx) = mpsc::unbounded_channel::<Result<(u64, Instant), String>>();
        let (ptx, mut prx) = mpsc::unbounded_channel::<Result<Vec<u64>, String>>();
        let peer2 = peer.clone();
        // The bulk process ends the sink's count itself: messages from one process
        // keep their order, those of two processes need not (a small one may pass the
        // fragments of a large one).
        ctx.spawn(move |c| async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let _ = c.send(&sink, Term::Binary(bin.clone()));
                n += 1;
                pace(&d, &peer2, 0, 1).await;
            }
            let r = match sink_end(&c, &sink).await {
                Ok(got) if got == n => Ok((n, Instant::now())),
                Ok(got) => Err(format!("the sink counted {got} binaries of {n}")),
                Err(e) => Err(e),
            };
            let _ = btx.send(r);
        });
        ctx.spawn(move |c| async move {
            let server = ServerRef::Remote(Atom::new("echo"), Atom::new(&peer));
            let mut lats = Vec::new();
            let mut k = 0u64;
            loop {
                let next = t0 + step * (k as u32 + 1);
                // No probe after the stream has ended, even when earlier probes ran late.
                if next >= deadline || Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep_until(next.into()).await;
                match timed_call(&c, &server, k).await {
                    Ok(dt) => lats.push(dt),
                    Err(e) => {
                        let _ = ptx.send(Err(e));
                        return;
                    }
                }
                k += 1;
            }
            let _ = ptx.send(Ok(lats));
        });
        let (sent, t1) = brx.recv().await.ok_or("the bulk sender died")??;
        let secs = t1.duration_since(t0).as_secs_f64();
        let lats = prx.recv().await.ok_or("the probe died")??;
        Ok((sent, secs, lats))
    })
    .await?;
    let probes = lats.len() as u64;
    let (p50, p99, max) = pcts(&mut lats);
    result(
        rep,
        &[
            ("p99_us", V::F(p99)),
            ("max_us", V::F(max)),
            ("p50_us", V::F(p50)),
            ("probes", V::I(probes)),
            (
                "bulk_mb_s",
                V::F((sent as usize * size) as f64 / secs / 1e6),
            ),
            ("secs", V::F(secs)),
        ],
    );
    Ok(())
}

fn connected(dist: &DistNode, peer: &str) -> bool {
    dist.nodes_of(&[NodeKind::Connected])
        .iter()
        .any(|n| n.as_str() == peer)
}

async fn connect(dist: &DistNode, peer: &str, args: &Args, rep: u64) -> Result<(), String> {
    let count = args.int("count", 200)?;
    let mut lats = Vec::with_capacity(count as usize);
    for _ in 0..count {
        // As fbb_driver: wait 1 ms, then until the last connection is gone (the peer
        // may have connected back); the timed connect starts right after the check.
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
            if !connected(dist, peer) {
                break;
            }
            dist.disconnect(peer);
        }
        let t = Instant::now();
        if !dist.connect(peer).await {
            return Err(format!("connect to {peer} failed"));
        }
        lats.push(t.elapsed().as_nanos() as u64);
        dist.disconnect(peer);
    }
    let mean = lats.iter().sum::<u64>() as f64 / lats.len().max(1) as f64 / 1000.0;
    let (p50, p99, max) = pcts(&mut lats);
    result(
        rep,
        &[
            ("mean_us", V::F(mean)),
            ("p50_us", V::F(p50)),
            ("p99_us", V::F(p99)),
            ("max_us", V::F(max)),
        ],
    );
    Ok(())
}
