//! Finding the Erlang/Elixir executables for interop tests. Included with
//! `#[path = "beam_support.rs"] mod beam_support;` by the support files that start BEAM
//! peers. A missing tool skips the test with a notice, or fails it when
//! `FERROBEAM_REQUIRE_ERLANG=1` (as `./scripts/test` and CI set it).

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

/// Finds an executable on `PATH`.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The executable `tool` (`erl`, `elixir`...), or `None` with a printed notice (a panic
/// when `FERROBEAM_REQUIRE_ERLANG=1`).
pub fn beam_tool(tool: &str, test: &str) -> Option<PathBuf> {
    let found = find(tool);
    if found.is_none() {
        if std::env::var("FERROBEAM_REQUIRE_ERLANG").as_deref() == Ok("1") {
            panic!("{test}: {tool} is required (FERROBEAM_REQUIRE_ERLANG=1) but was not found");
        }
        // Past libtest's capture, so that the skip is seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: {tool} not found (set FERROBEAM_REQUIRE_ERLANG=1 to fail instead)"
        );
    }
    found
}
