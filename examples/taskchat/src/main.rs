//! `ferrobeam-taskchat`: the same command as `ferrobeam taskchat`, as a binary of this
//! crate (its tests run it).

use clap::Parser;
use std::process::ExitCode;

/// Seed 002's distributed tasks (and Moebi) on ferrobeam.
#[derive(Parser)]
#[command(name = "ferrobeam-taskchat", version, about)]
struct Cli {
    #[command(flatten)]
    args: ferrobeam_taskchat::cli::TaskChatArgs,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERROBEAM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    match ferrobeam_taskchat::cli::run(Cli::parse().args) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("ferrobeam: {msg}");
            ExitCode::FAILURE
        }
    }
}
