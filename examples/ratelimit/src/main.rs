//! `ferrobeam-ratelimit`: the same command as `ferrobeam ratelimit`, as a binary of this
//! crate (its tests run it).

use clap::Parser;
use std::process::ExitCode;

/// Seed 004's distributed rate limiter on ferrobeam, over HTTP.
#[derive(Parser)]
#[command(name = "ferrobeam-ratelimit", version, about)]
struct Cli {
    #[command(flatten)]
    args: ferrobeam_ratelimit::cli::RateLimitArgs,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERROBEAM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    match ferrobeam_ratelimit::cli::run(Cli::parse().args) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("ferrobeam: {msg}");
            ExitCode::FAILURE
        }
    }
}
