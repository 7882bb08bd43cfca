//! `ferrobeam epmd` and `ferrobeam names`. (Being written.)

use std::process::ExitCode;

/// Arguments of `ferrobeam epmd`.
#[derive(clap::Args)]
pub struct EpmdArgs {}

/// Arguments of `ferrobeam names`.
#[derive(clap::Args)]
pub struct NamesArgs {}

pub fn run_epmd(_a: EpmdArgs) -> Result<ExitCode, String> {
    Err("not yet implemented".into())
}

pub fn run_names(_a: NamesArgs) -> Result<ExitCode, String> {
    Err("not yet implemented".into())
}
