//! The seed programs through the `ferrobeam` binary itself (`ferrobeam chat`,
//! `ferrobeam ratelimit`, `ferrobeam taskchat`), as OS processes in testkit clusters.
//! The example crates test the programs in depth; this checks the CLI's wiring.

use ferrobeam_testkit::{Cluster, NodeSpec};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn ferrobeam(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrobeam"));
    cmd.args(args);
    cmd
}

#[test]
fn ferrobeam_chat_server_and_clients() {
    let mut c = Cluster::builder().cookie("chocolate-chip").build();
    let s = c.spawn("server", |_: &NodeSpec| ferrobeam(&["chat", "server"]));
    c.os(s).wait_line("chat server started on", T);
    let server = c.full_name("server");
    let client = |nick: &'static str| {
        let server = server.clone();
        move |_: &NodeSpec| ferrobeam(&["chat", "client", "--server", &server, "--nick", nick])
    };
    let alice = c.spawn("alice", client("alice"));
    c.os(alice).wait_line("* Joined the chatroom *", T);
    let bob = c.spawn("bob", client("bob"));
    c.os(bob).wait_line("* Users in the room: alice:bob *", T);
    c.os(bob).send_line("hi alice");
    c.os(alice)
        .wait_line(&format!("{server}> bob: hi alice"), T);
    c.os(bob).close_stdin();
    assert!(c.os(bob).wait_exit(T).expect("bob exits").success());
    c.os(alice)
        .wait_line(&format!("{server}> bob: * bob has left *"), T);
}

fn http_get(port: u16) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code")
}

#[test]
fn ferrobeam_ratelimit_serves_http() {
    let mut c = Cluster::new();
    let i = c.spawn("a", |s: &NodeSpec| {
        let mut cmd = ferrobeam(&["ratelimit", "--sname", &s.alive, "--cookie", &s.cookie]);
        cmd.args([
            "--http",
            "127.0.0.1:0",
            "--limit",
            "2",
            "--window-ms",
            "3600000",
        ]);
        cmd
    });
    let line = c.os(i).wait_line("serving http://127.0.0.1:", T);
    let port: u16 = line
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("the port");
    let codes: Vec<u16> = (0..3).map(|_| http_get(port)).collect();
    // (A window boundary in between would give a third 200: an hour-long window makes
    // that all but impossible.)
    assert_eq!(codes, vec![200, 200, 429]);
}

#[test]
fn ferrobeam_taskchat_moebi() {
    let mut c = Cluster::builder()
        .names(["moebi", "alex"])
        .cookie("taskchat")
        .os_processes(|s: &NodeSpec| {
            ferrobeam(&["taskchat", "--sname", &s.alive, "--cookie", &s.cookie])
        });
    c.os(0).wait_line("chat node started on", T);
    c.os(1).wait_line("chat node started on", T);
    c.os(1).send_line("moebi hi");
    c.os(0).wait_line("hi", T);
    c.os(1).wait_line("chicken?", T);
    c.os(1).wait_line(":ok", T);
}
