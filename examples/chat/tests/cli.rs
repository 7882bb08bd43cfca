//! `ferrobeam-chat server|client` (the code behind `ferrobeam chat`) as OS processes,
//! driven through pipes, in testkit clusters.

use ferrobeam_chat::protocol::DEFAULT_COOKIE;
use ferrobeam_testkit::{Cluster, NodeSpec};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferrobeam-chat"))
}

fn cluster() -> Cluster {
    Cluster::builder().cookie(DEFAULT_COOKIE).build()
}

fn start_server(c: &mut Cluster) -> usize {
    let i = c.spawn("server", |s: &NodeSpec| {
        let mut cmd = bin();
        cmd.args(["server", "--sname", &s.alive, "--cookie", &s.cookie]);
        cmd
    });
    c.os(i).wait_line("chat server started on", T);
    i
}

fn client_cmd(c: &Cluster, nick: &str, extra: &[&str]) -> impl FnOnce(&NodeSpec) -> Command {
    let server = c.full_name("server");
    let nick = nick.to_string();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    move |s: &NodeSpec| {
        let mut cmd = bin();
        cmd.args(["client", "--nick", &nick, "--sname", &s.alive]);
        if !extra.iter().any(|a| a == "--cookie") {
            cmd.args(["--cookie", &s.cookie]);
        }
        if !extra.iter().any(|a| a == "--server") {
            cmd.args(["--server", &server]);
        }
        cmd.args(extra);
        cmd
    }
}

fn join(c: &mut Cluster, nick: &str) -> usize {
    let cmd = client_cmd(c, nick, &[]);
    let i = c.spawn(nick, cmd);
    c.os(i).wait_line("* Joined the chatroom *", T);
    i
}

#[test]
fn two_clients_talk_through_pipes() {
    let mut c = cluster();
    let s = start_server(&mut c);
    let server = c.full_name("server");
    let alice = join(&mut c, "alice");
    let bob = join(&mut c, "bob");
    c.os(bob).wait_line("* Users in the room: alice:bob *", T);
    c.os(alice)
        .wait_line(&format!("{server}> bob: * bob has joined *"), T);

    c.os(bob).send_line("hello alice");
    c.os(alice)
        .wait_line(&format!("{server}> bob: hello alice"), T);
    c.os(alice).send_line("/users");
    c.os(alice)
        .wait_line(&format!("{server}> server: users: alice, bob"), T);
    c.os(alice).send_line("/pm bob psst");
    c.os(bob).wait_line(&format!("{server}> alice: psst"), T);
    c.os(s).wait_line("bob said hello alice", T);

    // End of input: bob leaves the room and exits 0.
    c.os(bob).close_stdin();
    let st = c.os(bob).wait_exit(T).expect("bob exits at EOF");
    assert!(st.success(), "bob exited with {st}");
    c.os(alice)
        .wait_line(&format!("{server}> bob: * bob has left *"), T);

    // /quit as well.
    c.os(alice).send_line("/quit");
    let st = c.os(alice).wait_exit(T).expect("alice exits on /quit");
    assert!(st.success(), "alice exited with {st}");
    c.os(s).wait_line("alice has left, user_list: ", T);
}

/// A client that cannot join prints one line on standard error and exits non-zero.
fn refused(c: &mut Cluster, nick: &str, extra: &[&str], why: &str) {
    let cmd = client_cmd(c, nick, extra);
    let label = format!("{nick}_refused");
    let i = c.spawn(&label, cmd);
    let st = c.os(i).wait_exit(T).expect("a refused client exits");
    assert!(!st.success(), "{label} exited with {st}");
    let err = c.os(i).stderr();
    assert!(
        err.iter()
            .any(|l| l.starts_with("ferrobeam: ") && l.contains(why)),
        "{label}: expected an error line with {why:?}, got {err:?}"
    );
}

#[test]
fn refused_nicks_wrong_cookies_and_missing_servers_exit_non_zero() {
    let mut c = cluster();
    start_server(&mut c);
    let _alice = join(&mut c, "alice");
    refused(&mut c, "alice", &[], "nick_in_use");
    refused(&mut c, "server", &[], "nick_not_allowed");
    refused(
        &mut c,
        "carol",
        &["--cookie", "oatmeal"],
        "refused the connection (wrong cookie",
    );
    let nosuch = c.full_name("nosuch");
    refused(
        &mut c,
        "dave",
        &["--server", &nosuch],
        "no node named nosuch is running",
    );
}

#[test]
fn seed_environment_variables_and_a_dead_server() {
    let mut c = cluster();
    let s = start_server(&mut c);
    let server = c.full_name("server");
    // As in the seed: `server=... nick=... ... --sname client`.
    let i = c.spawn("client", |spec: &NodeSpec| {
        let mut cmd = bin();
        cmd.args(["client", "--sname", &spec.alive])
            .env("server", &server)
            .env("nick", "john");
        cmd
    });
    c.os(i).wait_line("* Users in the room: john *", T);
    // A client killed without leaving is dropped from the room.
    let k = join(&mut c, "kim");
    c.os(i).wait_line("kim: * kim has joined *", T);
    c.os(k).kill();
    c.os(i).wait_line("kim: * kim has left *", T);

    // The server dies: a client reading a pipe says so and exits non-zero.
    c.os(s).kill();
    let st = c.os(i).wait_exit(T).expect("the client exits");
    assert!(!st.success());
    c.os(i).wait_line("* Lost the connection to the server", T);
    c.os(i)
        .wait_stderr("ferrobeam: lost the connection to the chat server", T);
}

/// Types keys one at a time. (rustyline 15 with an external printer handles keys that
/// arrive together, as in a paste, only at the next key or message.)
fn type_keys(c: &mut Cluster, i: usize, keys: &str) {
    for k in keys.chars() {
        c.os(i).write_raw(k.to_string().as_bytes());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// On a terminal (a pseudo-terminal from `script`), the client edits lines with
/// rustyline and prints incoming messages above the line being typed, which is drawn
/// again, unbroken, after each one.
#[test]
fn on_a_terminal_incoming_messages_do_not_garble_the_line_being_typed() {
    let Some(script) = ferrobeam_testkit::find_tool("script") else {
        eprintln!("SKIPPED on_a_terminal...: `script` (util-linux) not found");
        return;
    };
    let mut c = cluster();
    let s = start_server(&mut c);
    let server = c.full_name("server");
    let alice_node = c.full_name("alice");
    let client = format!(
        "{} client --server {server} --nick alice --sname alice --cookie {DEFAULT_COOKIE}",
        env!("CARGO_BIN_EXE_ferrobeam-chat")
    );
    let alice = c.spawn("alice", |_: &NodeSpec| {
        let mut cmd = Command::new(script);
        cmd.args(["-qfec", &client, "/dev/null"]);
        cmd
    });
    c.os(alice).wait_line("* Type /help for options *", T);
    // Typed one key at a time, as a person would.
    type_keys(&mut c, alice, "hel");
    let bob = join(&mut c, "bob");
    c.os(bob).send_line("hi alice");
    c.os(alice)
        .wait_line(&format!("{server}> bob: hi alice"), T);
    c.os(bob).close_stdin();
    // The message, then the prompt with "hel" drawn again below it.
    let redrawn = format!("{alice_node}> hel");
    c.os(alice)
        .wait_line_with(
            |l| l.contains(&redrawn) && l.contains("bob: * bob has left *"),
            T,
        )
        .unwrap_or_else(|| panic!("no redraw of {redrawn:?}: {:?}", c.os(alice).stdout()));
    // The line typed across the interruptions is whole.
    type_keys(&mut c, alice, "lo\r");
    c.os(s).wait_line("alice said hello", T);
    type_keys(&mut c, alice, "/quit\r");
    let st = c.os(alice).wait_exit(T).expect("alice exits on /quit");
    assert!(st.success(), "alice exited with {st}");
}
