//! Head-of-line blocking: while one process streams large messages to another node, a
//! small call from another process must not wait behind the stream.
//!
//! The two nodes run on two runtimes of one worker each, as two single-core nodes
//! would. Before the connection tasks had time slices, the writer of a busy connection
//! kept its worker for up to hundreds of milliseconds: the reader of the same
//! connection, which carries the replies, was not polled meanwhile, and a small call
//! waited while about half a gigabyte of the stream went past it.
//!
//! The measure is in bytes, not in time, so that it does not depend on the speed of
//! the machine: for each probe call, how much of the stream the receiving node took in
//! between the call and its reply. What may legitimately be ahead of a probe is bounded:
//! the sender's output buffer (8 MiB), what the kernel buffers on the loopback
//! connection, and the stream written in one time slice.

#[path = "dist_support.rs"]
mod support;

use bytes::Bytes;
use ferrobeam::{Ctx, Pid, Term};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;

/// One worker per node, like a node pinned to one core.
fn one_worker_runtime(name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap()
}

const BULK: usize = 8 * 1024 * 1024;
const PROBES: usize = 40;
/// The most of the stream that may go past one probe call.
const MAX_PAST: u64 = 96 * 1024 * 1024;

#[test]
fn a_small_call_does_not_wait_behind_a_stream_of_large_messages() {
    let rt_b = one_worker_runtime("node-b");
    let rt_a = one_worker_runtime("node-a");
    let c = rt_b.block_on(Cluster::new());
    let b = rt_b.block_on(c.node("b"));
    let a = rt_a.block_on(c.node("a"));
    let bn = b.name().to_string();

    // Node B: `sink` counts the bytes of the stream; `echo` answers {From, N} with N.
    let taken_in = Arc::new(AtomicU64::new(0));
    let counter = taken_in.clone();
    let sink = b.node().spawn(move |ctx: Ctx| async move {
        // Counts until something other than a binary comes.
        while let Term::Binary(bin) = ctx.receive().await {
            counter.fetch_add(bin.len() as u64, Ordering::Relaxed);
        }
    });
    b.node().register("sink", &sink).unwrap();
    let echo = b.node().spawn(|ctx: Ctx| async move {
        // Answers until something other than a call comes.
        while let Some([Term::Pid(from), n]) = ctx.receive().await.as_tuple() {
            let _ = ctx.send(from.clone(), n.clone());
        }
    });
    b.node().register("echo", &echo).unwrap();

    // Node A: one process streams 8 MiB binaries, another makes small calls.
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let bn2 = bn.clone();
    let bin = Bytes::from(vec![7u8; BULK]);
    a.node().spawn(move |ctx: Ctx| async move {
        while !stop2.load(Ordering::Relaxed) {
            let _ = ctx.send(("sink", bn2.as_str()), Term::Binary(bin.clone()));
            // Suspended here while the connection is busy.
            tokio::task::yield_now().await;
        }
    });
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u64>>();
    let counter = taken_in.clone();
    a.node().spawn(move |ctx: Ctx| async move {
        let me: Pid = ctx.self_pid().clone();
        // Let the stream get going first.
        while counter.load(Ordering::Relaxed) < 4 * BULK as u64 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut past = Vec::new();
        for n in 0..PROBES {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let before = counter.load(Ordering::Relaxed);
            let _ = ctx.send(
                ("echo", bn.as_str()),
                Term::tuple(vec![Term::Pid(me.clone()), Term::from(n)]),
            );
            let reply = ctx.receive().await;
            assert_eq!(reply, Term::from(n));
            past.push(counter.load(Ordering::Relaxed) - before);
        }
        let _ = tx.send(past);
    });
    let past = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the probe calls did not finish within 120 s");
    stop.store(true, Ordering::Relaxed);
    let total = taken_in.load(Ordering::Relaxed);
    let mut sorted = past.clone();
    sorted.sort_unstable();
    let mib = |n: u64| n as f64 / (1024.0 * 1024.0);
    eprintln!(
        "stream taken in: {:.0} MiB; past one probe call: median {:.1} MiB, max {:.1} MiB",
        mib(total),
        mib(sorted[sorted.len() / 2]),
        mib(sorted[sorted.len() - 1]),
    );
    // The stream really ran at the same time as the probes.
    assert!(
        total >= (PROBES * BULK) as u64,
        "only {:.0} MiB streamed",
        mib(total)
    );
    for (n, p) in past.iter().enumerate() {
        assert!(
            *p <= MAX_PAST,
            "probe {n}: {:.1} MiB of the stream went past a small call (at most {:.0} MiB may); \
             all probes, in MiB: {:?}",
            mib(*p),
            mib(MAX_PAST),
            past.iter()
                .map(|p| (mib(*p) * 10.0).round() / 10.0)
                .collect::<Vec<_>>()
        );
    }
    rt_a.block_on(a.shutdown());
    rt_b.block_on(b.shutdown());
}
