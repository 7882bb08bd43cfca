//! `ferrobeam-chat server|client`: the same commands as `ferrobeam chat`, as a binary of
//! this crate (its tests run it).

use clap::Parser;
use std::process::ExitCode;

/// Seed 000's ExMessenger chat on ferrobeam.
#[derive(Parser)]
#[command(name = "ferrobeam-chat", version, about)]
struct Cli {
    #[command(subcommand)]
    command: ferrobeam_chat::cli::ChatCommand,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERROBEAM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    match ferrobeam_chat::cli::run(Cli::parse().command) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("ferrobeam: {msg}");
            ExitCode::FAILURE
        }
    }
}
