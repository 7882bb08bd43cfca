//! Seed 002's scene with the Elixir port (`examples/elixir/tasks/chat.exs`) on one side:
//! Elixir's `Task.Supervisor.async({Chat.TaskSupervisor, node}, Chat, fun, args)` runs
//! the functions registered on ferrobeam nodes, and ferrobeam's runs `Chat`'s on Elixir
//! nodes. The Elixir port knows Moebi as `:"moebi@localhost"`, so every node here is
//! `name@localhost`.
//!
//! Skipped with a notice when `elixir` is missing, unless `FERROBEAM_REQUIRE_ERLANG=1`,
//! which makes them fail.

use ferrobeam_testkit::{beam_tool, elixir_command, elixir_examples_dir, Cluster, NodeSpec};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn fb(c: &mut Cluster, name: &str) -> usize {
    let i = c.spawn(name, |s: &NodeSpec| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrobeam-taskchat"));
        cmd.args(["--sname", &s.alive, "--cookie", &s.cookie]);
        cmd
    });
    c.os(i).wait_line("chat node started on", T);
    i
}

fn ex(c: &mut Cluster, elixir: &Path, name: &str) -> usize {
    let script = elixir_examples_dir().join("tasks").join("chat.exs");
    let i = c.spawn(name, |s: &NodeSpec| elixir_command(elixir, s, &script, &[]));
    c.os(i).wait_line("chat node started on", T);
    i
}

#[test]
fn elixir_alex_with_ferrobeam_kate_and_moebi() {
    let Some(elixir) = beam_tool("elixir", "elixir_alex_with_ferrobeam_kate_and_moebi") else {
        return;
    };
    let mut c = Cluster::builder().cookie("taskchat").build();
    let kate = fb(&mut c, "kate@localhost");
    let moebi = fb(&mut c, "moebi@localhost");
    let alex = ex(&mut c, &elixir, "alex@localhost");
    c.os(alex)
        .send_line(r#"Chat.send_message(:"kate@localhost", "hi")"#);
    c.os(kate).wait_line("hi", T);
    c.os(alex).wait_line(":ok", T);
    c.os(alex)
        .send_line(r#"Chat.send_message(:"moebi@localhost", "hi")"#);
    c.os(moebi).wait_line("hi", T);
    c.os(alex).wait_line("chicken?", T);
    c.os(alex).wait_line(":ok", T);
    // And back: ferrobeam kate to Elixir alex.
    c.os(kate).send_line("alex@localhost how are you?");
    c.os(alex).wait_line("how are you?", T);
    c.os(kate).wait_line(":ok", T);
}

#[test]
fn ferrobeam_alex_with_elixir_kate_and_moebi() {
    let Some(elixir) = beam_tool("elixir", "ferrobeam_alex_with_elixir_kate_and_moebi") else {
        return;
    };
    let mut c = Cluster::builder().cookie("taskchat").build();
    let kate = ex(&mut c, &elixir, "kate@localhost");
    let moebi = ex(&mut c, &elixir, "moebi@localhost");
    let alex = fb(&mut c, "alex@localhost");
    c.os(alex).send_line("moebi@localhost hi");
    c.os(moebi).wait_line("hi", T);
    c.os(alex).wait_line("chicken?", T);
    c.os(alex).wait_line(":ok", T);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        c.os(kate).stdout().len(),
        1,
        "kate printed {:?}",
        c.os(kate).stdout()
    );
    c.os(kate)
        .send_line(r#"Chat.send_message(:"alex@localhost", "how are you?")"#);
    c.os(alex).wait_line("how are you?", T);
    c.os(kate).wait_line(":ok", T);
}
