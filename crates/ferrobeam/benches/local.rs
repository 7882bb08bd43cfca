//! Local runtime benchmarks, the twin of `scripts/bench-local.erl` (same workloads,
//! same sizes, two scheduler threads):
//!
//! * `spawn`: spawns 1M idle processes (each waits in `receive`) from a process, and
//!   times it until every one has started; reports µs per process and the memory per
//!   idle process (growth of resident memory, and heap bytes counted by the allocator).
//! * `pingpong`: round trips between two processes (`{ping, From}` answered `pong`).
//! * `call`: GenServer calls (`gen_server::call`, default timeout) from one process to
//!   an echo server, by pid, in a closed loop (`{ping, K}` answered with itself).
//! * `oneway`: one process sends `{seq, I}` messages to another, which counts them; the
//!   time runs until it has the last one (also with 2 senders).
//!
//! `cargo bench -p ferrobeam --bench local -- [spawn|pingpong|call|oneway|all] [--count N]
//! [--reps R] [--senders 1|2]`. Prints one `name value unit` line per figure (the best of the
//! repetitions for time, the median for memory).
//!
//! The runtime is `ferrobeam::runtime::builder()` with 2 workers (its busy-poll phase
//! before a worker sleeps is the counterpart of BEAM's scheduler busy wait, on by
//! default in both); `--spin-us N` changes the spin (0: none), `--tokio` uses Tokio's
//! plain multi-threaded runtime, `--threads 1` the current-thread runtime.

use ferrobeam::gen_server::{self, CallFrom, CallReply, GenServer, StartOpts};
use ferrobeam::{Atom, Ctx, Node, Pid, Term};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counts live heap bytes, per thread, without an atomic read-modify-write: each thread
/// adds to and subtracts from its own counter with a plain load and store, and the
/// figure is the sum of the counters (read while the benchmark is quiet). One shared
/// counter would put a locked instruction into every allocation and free of the
/// measured code (two per local round trip), which the Erlang side does not pay.
struct Counting;

const COUNTERS: usize = 256;

#[repr(align(128))]
struct Counter(AtomicIsize);

static LIVE: [Counter; COUNTERS] = [const { Counter(AtomicIsize::new(0)) }; COUNTERS];
/// Threads past the first `COUNTERS - 1` share the last counter, with `fetch_add`.
static NEXT_COUNTER: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static MY_COUNTER: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

#[inline]
fn count(delta: isize) {
    let i = MY_COUNTER
        .try_with(|c| {
            if c.get() == usize::MAX {
                c.set(
                    NEXT_COUNTER
                        .fetch_add(1, Ordering::Relaxed)
                        .min(COUNTERS - 1),
                );
            }
            c.get()
        })
        .unwrap_or(COUNTERS - 1);
    let c = &LIVE[i].0;
    if i == COUNTERS - 1 {
        c.fetch_add(delta, Ordering::Relaxed);
    } else {
        c.store(c.load(Ordering::Relaxed) + delta, Ordering::Relaxed);
    }
}

/// The live heap bytes: the sum of the per-thread counters.
fn live_heap() -> usize {
    let n: isize = LIVE.iter().map(|c| c.0.load(Ordering::Relaxed)).sum();
    n.max(0) as usize
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count(l.size() as isize);
        // SAFETY: forwarding to the system allocator with the caller's layout.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        count(-(l.size() as isize));
        // SAFETY: `p` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        count(new as isize - l.size() as isize);
        // SAFETY: forwarding to the system allocator.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

struct SpawnResult {
    us_per_spawn: f64,
    us_per_spawn_call: f64,
    rss_per_proc: f64,
    heap_per_proc: f64,
}

/// Per-thread counters of started processes (no shared cache line between workers,
/// like the Erlang side, which only looks at its run queues).
#[repr(align(128))]
struct Padded(AtomicU64);
static STARTED: [Padded; 8] = [const { Padded(AtomicU64::new(0)) }; 8];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static SLOT: usize = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % 8;
}
fn started() -> u64 {
    STARTED.iter().map(|p| p.0.load(Ordering::Relaxed)).sum()
}

async fn spawn_idle(node: &Node, count: u64) -> SpawnResult {
    // The pids are kept to stop the processes afterwards; their vector is allocated
    // and written before the measurement, so its memory is not counted.
    let mut pids = vec![Pid::new("x@y", 0, 0, 0); count as usize];
    let rss0 = rss();
    let heap0 = live_heap();
    let base = started();
    let (secs, call_secs, pids) = node
        .run(move |ctx| async move {
            let t0 = Instant::now();
            for p in pids.iter_mut() {
                *p = ctx.spawn(|ctx: Ctx| async move {
                    SLOT.with(|&i| STARTED[i].0.fetch_add(1, Ordering::Relaxed));
                    ctx.receive().await;
                });
            }
            let call_secs = t0.elapsed().as_secs_f64();
            while started() - base < count {
                tokio::task::yield_now().await;
            }
            (t0.elapsed().as_secs_f64(), call_secs, pids)
        })
        .await
        .unwrap();
    let rss1 = rss();
    let heap1 = live_heap();
    for p in &pids {
        let _ = node.send(p, Term::atom("stop"));
    }
    drop(pids);
    while node.process_count() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    SpawnResult {
        us_per_spawn: secs * 1e6 / count as f64,
        us_per_spawn_call: call_secs * 1e6 / count as f64,
        rss_per_proc: rss1.saturating_sub(rss0) as f64 / count as f64,
        heap_per_proc: heap1.saturating_sub(heap0) as f64 / count as f64,
    }
}

async fn pingpong(node: &Node, count: u64) -> f64 {
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
    node.run(move |ctx| async move {
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
        secs * 1e9 / count as f64
    })
    .await
    .unwrap()
}

/// The echo server of `call`: answers every call with the request.
struct Echo;

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

async fn call(node: &Node, count: u64) -> f64 {
    let server = gen_server::start::<Echo>(node, (), StartOpts::default())
        .await
        .unwrap();
    let ns = node
        .run(move |ctx| async move {
            let ping = Atom::new("ping");
            let t0 = Instant::now();
            for k in 0..count as i64 {
                let req = Term::Tuple(vec![Term::Atom(ping.clone()), Term::Int(k)]);
                let rep: Term = gen_server::call(&ctx, server.clone(), req).await.unwrap();
                assert!(matches!(&rep, Term::Tuple(t) if t[1] == Term::Int(k)));
            }
            let ns = t0.elapsed().as_secs_f64() * 1e9 / count as f64;
            let _ =
                gen_server::stop(&ctx, server, Term::atom("normal"), Duration::from_secs(5)).await;
            ns
        })
        .await
        .unwrap();
    ns
}

async fn oneway(node: &Node, senders: u64, count: u64) -> f64 {
    let per = count / senders;
    let total = per * senders;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Instant>();
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
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t0 = Instant::now();
    for p in &pids {
        let _ = node.send(p, Term::atom("go"));
    }
    let t1 = done_rx.await.unwrap();
    total as f64 / t1.duration_since(t0).as_secs_f64()
}

fn arg(args: &[String], name: &str) -> Option<u64> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args
        .iter()
        .find(|a| ["spawn", "pingpong", "call", "oneway", "all"].contains(&a.as_str()))
        .cloned()
        .unwrap_or_else(|| "all".into());
    let reps = arg(&args, "--reps").unwrap_or(5);
    let threads = arg(&args, "--threads").unwrap_or(2) as usize;
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    } else if args.iter().any(|a| a == "--no-io") {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_time()
            .build()
            .unwrap()
    } else if args.iter().any(|a| a == "--tokio") {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .unwrap()
    } else {
        // The runtime a node should run on (with its busy-poll phase before a worker
        // sleeps, as BEAM's schedulers have); `--spin-us 0` turns that off.
        let us = arg(&args, "--spin-us").unwrap_or(50);
        ferrobeam::runtime::builder_with_spin(Duration::from_micros(us))
            .worker_threads(threads)
            .build()
            .unwrap()
    };
    rt.block_on(async move {
        let node = Node::new();
        if what == "spawn" || what == "all" {
            let n = arg(&args, "--count").unwrap_or(1_000_000);
            let mut t = vec![];
            let mut tc = vec![];
            let mut rss = vec![];
            let mut heap = vec![];
            for _ in 0..reps {
                let r = spawn_idle(&node, n).await;
                t.push(r.us_per_spawn);
                tc.push(r.us_per_spawn_call);
                rss.push(r.rss_per_proc);
                heap.push(r.heap_per_proc);
            }
            println!(
                "spawn_us_per_process {:.3} us (best of {reps}, {n} processes)",
                t.iter().cloned().fold(f64::MAX, f64::min)
            );
            println!("spawn_us_per_process_median {:.3} us", median(t));
            println!(
                "spawn_call_us_per_process {:.3} us (the spawn calls alone, best)",
                tc.iter().cloned().fold(f64::MAX, f64::min)
            );
            // The first repetition grows the resident set; later ones reuse freed memory.
            println!(
                "rss_bytes_per_idle_process {:.0} bytes (first repetition)",
                rss[0]
            );
            println!("heap_bytes_per_idle_process {:.0} bytes", median(heap));
        }
        if what == "pingpong" || what == "all" {
            let n = arg(&args, "--count").unwrap_or(1_000_000);
            let mut v = vec![];
            for _ in 0..reps {
                v.push(pingpong(&node, n).await);
            }
            println!(
                "pingpong_ns_per_round_trip {:.1} ns (best of {reps}, {n} round trips)",
                v.iter().cloned().fold(f64::MAX, f64::min)
            );
            println!("pingpong_ns_per_round_trip_median {:.1} ns", median(v));
        }
        if what == "call" || what == "all" {
            let n = arg(&args, "--count").unwrap_or(300_000);
            let mut v = vec![];
            for _ in 0..reps {
                v.push(call(&node, n).await);
            }
            println!(
                "call_ns_per_call {:.1} ns (best of {reps}, {n} calls)",
                v.iter().cloned().fold(f64::MAX, f64::min)
            );
            println!("call_ns_per_call_median {:.1} ns", median(v));
        }
        if what == "oneway" || what == "all" {
            let n = arg(&args, "--count").unwrap_or(10_000_000);
            let only = arg(&args, "--senders");
            for senders in [1, 2].into_iter().filter(|s| only.is_none_or(|o| o == *s)) {
                let mut v = vec![];
                for _ in 0..reps {
                    v.push(oneway(&node, senders, n).await);
                }
                println!(
                    "oneway_msgs_per_s_{senders}_sender {:.0} msg/s (best of {reps}, {n} messages)",
                    v.iter().cloned().fold(0.0, f64::max)
                );
                println!(
                    "oneway_msgs_per_s_{senders}_sender_median {:.0} msg/s",
                    median(v)
                );
            }
        }
    });
}
