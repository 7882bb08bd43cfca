//! Finding the Erlang/Elixir executables for interop tests. Included with
//! `#[path = "beam_support.rs"] mod beam_support;` by the support files that start BEAM
//! peers. A missing tool skips the test with a notice, or fails it when
//! `FERROBEAM_REQUIRE_ERLANG=1` (as `./scripts/test` and CI set it).

#![allow(dead_code, unused_imports)]

pub use ferrobeam_testkit::{beam_tool, find_tool as find};
