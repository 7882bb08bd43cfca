//! Interoperability with the Elixir ports of seed 000 (`examples/elixir/chat`):
//! ferrobeam clients with the Elixir server, Elixir clients with the ferrobeam server,
//! and rooms that mix both kinds of client.
//!
//! Skipped with a notice when `elixir` is missing, unless `FERROBEAM_REQUIRE_ERLANG=1`,
//! which makes them fail. Each test has its own EPMD (testkit) and kills what it
//! started.

use ferrobeam_chat::protocol::DEFAULT_COOKIE;
use ferrobeam_testkit::{beam_tool, elixir_command, elixir_examples_dir, Cluster, NodeSpec};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn fb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferrobeam-chat"))
}

fn script(name: &str) -> PathBuf {
    elixir_examples_dir().join("chat").join(name)
}

fn cluster() -> Cluster {
    Cluster::builder().cookie(DEFAULT_COOKIE).build()
}

fn elixir_server(c: &mut Cluster, elixir: &Path) -> usize {
    let i = c.spawn("server", |s: &NodeSpec| {
        elixir_command(elixir, s, &script("server.exs"), &[])
    });
    c.os(i).wait_line("ExMessenger server started on", T);
    i
}

fn fb_server(c: &mut Cluster) -> usize {
    let i = c.spawn("server", |s: &NodeSpec| {
        let mut cmd = fb();
        cmd.args(["server", "--sname", &s.alive, "--cookie", &s.cookie]);
        cmd
    });
    c.os(i).wait_line("chat server started on", T);
    i
}

fn elixir_client(c: &mut Cluster, elixir: &Path, nick: &str) -> usize {
    let server = c.full_name("server");
    let i = c.spawn(nick, |s: &NodeSpec| {
        let mut cmd = elixir_command(elixir, s, &script("client.exs"), &[]);
        cmd.env("server", &server).env("nick", nick);
        cmd
    });
    c.os(i).wait_line("* Joined the chatroom *", T);
    i
}

fn fb_client(c: &mut Cluster, nick: &str) -> usize {
    let server = c.full_name("server");
    let i = c.spawn(nick, |s: &NodeSpec| {
        let mut cmd = fb();
        cmd.args(["client", "--server", &server, "--nick", nick])
            .args(["--sname", &s.alive, "--cookie", &s.cookie]);
        cmd
    });
    c.os(i).wait_line("* Joined the chatroom *", T);
    i
}

/// One room, two clients of the given kinds, every feature of the protocol.
fn conversation(c: &mut Cluster, alice: usize, bob: usize) {
    let server = c.full_name("server");
    c.os(bob).wait_line("* Users in the room: alice:bob *", T);
    c.os(alice)
        .wait_line(&format!("{server}> bob: * bob has joined *"), T);
    c.os(bob).send_line("hello alice");
    c.os(alice)
        .wait_line(&format!("{server}> bob: hello alice"), T);
    c.os(alice).send_line("hi bob");
    c.os(bob).wait_line(&format!("{server}> alice: hi bob"), T);
    c.os(alice).send_line("/users");
    c.os(alice)
        .wait_line(&format!("{server}> server: users: alice, bob"), T);
    c.os(bob).send_line("/pm alice just for you");
    c.os(alice)
        .wait_line(&format!("{server}> bob: just for you"), T);
    // bob leaves with /leave, comes back with /join, and quits at end of input.
    c.os(bob).send_line("/leave");
    c.os(bob).wait_line("You have exited the chatroom", T);
    c.os(alice)
        .wait_line(&format!("{server}> bob: * bob has left *"), T);
    c.os(bob).send_line("/join");
    c.os(alice)
        .wait_line(&format!("{server}> bob: * bob has joined *"), T);
    c.os(bob).close_stdin();
    let st = c.os(bob).wait_exit(T).expect("bob exits at end of input");
    assert!(st.success(), "bob exited with {st}");
    c.os(alice)
        .wait_line(&format!("{server}> bob: * bob has left *"), T);
}

#[test]
fn ferrobeam_clients_with_the_elixir_server() {
    let Some(elixir) = beam_tool("elixir", "ferrobeam_clients_with_the_elixir_server") else {
        return;
    };
    let mut c = cluster();
    elixir_server(&mut c, &elixir);
    let alice = fb_client(&mut c, "alice");
    let bob = fb_client(&mut c, "bob");
    conversation(&mut c, alice, bob);
    // The Elixir server's refusals reach the ferrobeam client.
    let server = c.full_name("server");
    let i = c.spawn("alice2", |s: &NodeSpec| {
        let mut cmd = fb();
        cmd.args(["client", "--server", &server, "--nick", "alice"])
            .args(["--sname", &s.alive, "--cookie", &s.cookie]);
        cmd
    });
    let st = c.os(i).wait_exit(T).expect("a refused client exits");
    assert!(!st.success());
    c.os(i).wait_stderr("nick_in_use", T);
}

#[test]
fn elixir_clients_with_the_ferrobeam_server() {
    let Some(elixir) = beam_tool("elixir", "elixir_clients_with_the_ferrobeam_server") else {
        return;
    };
    let mut c = cluster();
    let s = fb_server(&mut c);
    let alice = elixir_client(&mut c, &elixir, "alice");
    let bob = elixir_client(&mut c, &elixir, "bob");
    conversation(&mut c, alice, bob);
    c.os(s).wait_line("bob has left, user_list: alice", T);
    // The ferrobeam server's refusal, as the Elixir client prints it.
    let server = c.full_name("server");
    let i = c.spawn("alice2", |spec: &NodeSpec| {
        let mut cmd = elixir_command(&elixir, spec, &script("client.exs"), &[]);
        cmd.env("server", &server).env("nick", "alice");
        cmd
    });
    c.os(i)
        .wait_line("Could not join chatroom, reason: nick_in_use", T);
}

#[test]
fn mixed_room_on_the_ferrobeam_server() {
    let Some(elixir) = beam_tool("elixir", "mixed_room_on_the_ferrobeam_server") else {
        return;
    };
    let mut c = cluster();
    let s = fb_server(&mut c);
    let alice = elixir_client(&mut c, &elixir, "alice");
    let bob = fb_client(&mut c, "bob");
    conversation(&mut c, alice, bob);
    // An Elixir client whose node dies is dropped and announced.
    let carol = fb_client(&mut c, "carol");
    let dan = elixir_client(&mut c, &elixir, "dan");
    let server = c.full_name("server");
    c.os(carol)
        .wait_line(&format!("{server}> dan: * dan has joined *"), T);
    c.os(dan).kill();
    c.os(carol)
        .wait_line(&format!("{server}> dan: * dan has left *"), T);
    c.os(alice)
        .wait_line(&format!("{server}> dan: * dan has left *"), T);
    c.os(s).wait_line("dan has left, user_list: alice:carol", T);
}

#[test]
fn mixed_room_on_the_elixir_server() {
    let Some(elixir) = beam_tool("elixir", "mixed_room_on_the_elixir_server") else {
        return;
    };
    let mut c = cluster();
    elixir_server(&mut c, &elixir);
    let alice = fb_client(&mut c, "alice");
    let bob = elixir_client(&mut c, &elixir, "bob");
    conversation(&mut c, alice, bob);
}
