//! `fbbench`: the ferrobeam sides of the two-node benchmarks that `scripts/bench` runs
//! beside Erlang/OTP, and the raw TCP floor (the one-node workloads are
//! `crates/ferrobeam/benches/local.rs`). Each role is a separate OS process, so that
//! the two nodes of a workload can be pinned to different cores exactly as the Erlang
//! nodes are:
//!
//! ```text
//! fbbench peer   sname=b cookie=c epmd_port=P          # node B: `sink` and `echo`
//! fbbench drive  sname=a cookie=c epmd_port=P peer=b@host workload=oneway kind=small count=N
//! fbbench raw-server port=P                           # the raw TCP floor, server side
//! fbbench raw-client port=P workload=raw_rtt count=N
//! ```
//!
//! Arguments are `key=value` pairs, the same ones the Erlang modules in `bench/erlang`
//! take, so the harness passes identical arguments to both. `drive` and `raw-client`
//! print `READY`, then run one repetition for each `rep I` line read from standard
//! input (the harness interleaves the repetitions of the pairings this way), printing
//! `RESULT rep=I key=value ...` and `DONE I`, until `quit`. Everything ends with `END`
//! (or `ERROR why`).
//!
//! `runtime=ferrobeam|tokio|current` picks the Tokio runtime. The default, `ferrobeam`,
//! is `ferrobeam::runtime::builder()`, what a ferrobeam node should run on: Tokio's
//! multi-threaded runtime (one worker per core the process may run on, which is one
//! under the harness's `taskset`) whose workers poll the node's sockets for up to
//! `spin_us` (default 50; 0 turns it off) before they sleep, as BEAM's schedulers do.
//! The raw TCP floor watches its sockets the same way. `tokio` is the plain
//! multi-threaded runtime, `current` the current-thread one.
//! `event_interval=N` sets Tokio's `event_interval`, `busy_limit=N` the node's
//! `DistConfig::busy_limit` and `read_spin_us=N` its `DistConfig::read_spin`
//! (experiments of BENCHMARKS.md; the harness uses none of them).

mod drive;
mod peer;
mod raw;
mod stats;

use std::collections::HashMap;
use std::process::ExitCode;

/// The `key=value` arguments.
#[derive(Debug, Clone, Default)]
pub struct Args(HashMap<String, String>);

impl Args {
    fn parse(items: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut m = HashMap::new();
        for a in items {
            let (k, v) = a
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, got {a:?}"))?;
            m.insert(k.to_string(), v.to_string());
        }
        Ok(Args(m))
    }

    /// A string argument.
    pub fn str(&self, key: &str) -> Result<&str, String> {
        self.0
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("missing argument {key}="))
    }

    /// A string argument with a default.
    pub fn str_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.0.get(key).map(String::as_str).unwrap_or(default)
    }

    /// An integer argument with a default.
    pub fn int(&self, key: &str, default: u64) -> Result<u64, String> {
        match self.0.get(key) {
            Some(v) => v.parse().map_err(|_| format!("{key}={v}: not an integer")),
            None => Ok(default),
        }
    }
}

/// Runs `run(rep)` for each `rep I` line of standard input, until `quit` or the end.
pub async fn serve(mut run: impl AsyncFnMut(u64) -> Result<(), String>) -> Result<(), String> {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Some(n) = line.trim().strip_prefix("rep ") else {
            break;
        };
        let rep = n.parse().map_err(|_| format!("bad command {line:?}"))?;
        run(rep).await?;
        println!("DONE {rep}");
    }
    Ok(())
}

fn runtime(args: &Args) -> std::io::Result<tokio::runtime::Runtime> {
    let event_interval = args.int("event_interval", 0).unwrap_or(0);
    let mut b = match args.str_or("runtime", "ferrobeam") {
        "current" => {
            let mut b = tokio::runtime::Builder::new_current_thread();
            b.enable_all();
            b
        }
        "tokio" => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.enable_all();
            b
        }
        _ => {
            let us = args.int("spin_us", 50).unwrap_or(50);
            ferrobeam::runtime::builder_with_spin(std::time::Duration::from_micros(us))
        }
    };
    if event_interval > 0 {
        b.event_interval(event_interval as u32);
    }
    b.build()
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let Some(role) = argv.next() else {
        eprintln!("usage: fbbench peer|drive|raw-server|raw-client key=value...");
        return ExitCode::from(2);
    };
    let args = match Args::parse(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fbbench: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match runtime(&args) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fbbench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let r = rt.block_on(async {
        match role.as_str() {
            "peer" => peer::run(&args).await,
            "drive" => drive::run(&args).await,
            "raw-server" => raw::server(&args).await,
            // On a worker, as a node's processes are (the busy-poll phase runs when a
            // worker parks, not when `block_on`'s thread waits).
            "raw-client" => {
                let args = args.clone();
                tokio::spawn(async move { raw::client(&args).await })
                    .await
                    .unwrap_or_else(|e| Err(format!("the client task failed: {e}")))
            }
            other => Err(format!("unknown role {other:?}")),
        }
    });
    match r {
        Ok(()) => {
            println!("END");
            // Do not wait for the node's background tasks.
            std::process::exit(0)
        }
        Err(e) => {
            println!("ERROR {e}");
            eprintln!("fbbench {role}: {e}");
            ExitCode::FAILURE
        }
    }
}
