//! `ferrobeam term encode|decode`. (Being written.)

use std::process::ExitCode;

/// Term conversion commands.
#[derive(clap::Subcommand)]
pub enum TermCommand {
    /// Read ETF bytes on stdin, print the term in Erlang syntax.
    Decode,
    /// Read Erlang syntax on stdin, write ETF bytes.
    Encode,
}

pub fn run(_cmd: TermCommand) -> Result<ExitCode, String> {
    Err("not yet implemented".into())
}
