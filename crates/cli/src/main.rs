//! The `ferrobeam` command-line tool.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod epmd_cmd;
mod node_cmd;
mod term_cmd;

/// ferrobeam: Erlang distribution, native in Rust.
#[derive(Parser)]
#[command(name = "ferrobeam", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert between Erlang text syntax and the External Term Format.
    #[command(subcommand)]
    Term(term_cmd::TermCommand),
    /// Run an EPMD (Erlang Port Mapper Daemon) server.
    Epmd(epmd_cmd::EpmdArgs),
    /// List the nodes registered with an EPMD, like `epmd -names`.
    Names(epmd_cmd::NamesArgs),
    /// Ping a node: prints pong (exit 0) or pang (exit 1).
    Ping(node_cmd::PingArgs),
    /// Start a node with an interactive shell (commands from a terminal or a pipe).
    Shell(node_cmd::ShellArgs),
    /// Seed 000's chat: `chat server` or `chat client`.
    #[command(subcommand)]
    Chat(ferrobeam_chat::cli::ChatCommand),
    /// Seed 004's distributed rate limiter on a hash ring, served over HTTP.
    Ratelimit(ferrobeam_ratelimit::cli::RateLimitArgs),
    /// Seed 002's distributed tasks: lines `NODE MESSAGE` print MESSAGE on NODE.
    Taskchat(ferrobeam_taskchat::cli::TaskChatArgs),
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERROBEAM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Term(cmd) => term_cmd::run(cmd),
        Command::Epmd(args) => epmd_cmd::run_epmd(args),
        Command::Names(args) => epmd_cmd::run_names(args),
        Command::Ping(args) => node_cmd::run_ping(args),
        Command::Shell(args) => node_cmd::run_shell(args),
        Command::Chat(cmd) => ferrobeam_chat::cli::run(cmd),
        Command::Ratelimit(args) => ferrobeam_ratelimit::cli::run(args),
        Command::Taskchat(args) => ferrobeam_taskchat::cli::run(args),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("ferrobeam: {msg}");
            ExitCode::FAILURE
        }
    }
}
