//! `ferrobeam epmd` and `ferrobeam names` against real Erlang/OTP, and the EPMD that
//! outlives the node that started it.
//!
//! The tests that need `erl` print a notice and pass when it is missing, unless
//! `FERROBEAM_REQUIRE_ERLANG=1`, where they fail. Every test uses its own EPMD port (passed
//! to `erl` and `epmd` through `ERL_EPMD_PORT`), so they run in parallel, and every process
//! a test starts is stopped when the test ends, even when it fails.

#[path = "../../ferrobeam/tests/epmd_support.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{
    accepts, epmd_names, erl_eval, erl_node, erlang, free_port, is_registered, raw_exchange,
    real_epmd, wait_until, KillEpmdOnDrop, Proc,
};

const BIN: &str = env!("CARGO_BIN_EXE_ferrobeam");
const SLOW: Duration = Duration::from_secs(30);

/// Starts `ferrobeam epmd` on 127.0.0.1 with the port given through `ERL_EPMD_PORT`, as
/// `epmd` takes it, and waits until it listens.
fn ferrobeam_epmd(port: u16, extra: &[&str]) -> Proc {
    let p = Proc::spawn(
        Command::new(BIN)
            .args(["epmd", "--address", "127.0.0.1"])
            .args(extra)
            .env("ERL_EPMD_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
        format!("ferrobeam epmd (port {port})"),
    );
    assert!(
        wait_until(Duration::from_secs(10), || accepts(port)),
        "ferrobeam epmd did not listen on port {port}"
    );
    p
}

/// Runs a ferrobeam command to completion (20 s at most).
fn run(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("ERL_EPMD_PORT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut p = Proc::spawn(&mut cmd, format!("ferrobeam {}", args.join(" ")));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.exited() {
        assert!(Instant::now() < deadline, "ferrobeam {args:?} hung");
        std::thread::sleep(Duration::from_millis(20));
    }
    let child = p.child();
    let status = child.wait().unwrap();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

fn ferrobeam_names(port: u16) -> String {
    let out = run(&["names", "--port", &port.to_string()], &[]);
    assert!(
        out.status.success(),
        "ferrobeam names failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Issue test 1: `erl -sname x` registers with `ferrobeam epmd`, and both `epmd -names` and
/// `ferrobeam names` list it.
#[test]
fn erl_registers_with_ferrobeam_epmd_and_both_listings_show_it() {
    let Some(e) = erlang("erl_registers_with_ferrobeam_epmd_and_both_listings_show_it") else {
        return;
    };
    let port = free_port();
    let _epmd = ferrobeam_epmd(port, &[]);
    let _x = erl_node(&e, "x", port);
    assert!(
        wait_until(SLOW, || is_registered(port, "x")),
        "erl -sname x did not register"
    );

    let real = epmd_names(&e, port);
    assert!(
        real.starts_with(&format!("epmd: up and running on port {port} with data:\n")),
        "epmd -names: {real:?}"
    );
    assert!(real.contains("\nname x at port "), "epmd -names: {real:?}");
    let ours = ferrobeam_names(port);
    assert_eq!(ours, real, "ferrobeam names and epmd -names differ");
    // The port can also come from ERL_EPMD_PORT.
    let via_env = run(&["names"], &[("ERL_EPMD_PORT", port.to_string())]);
    assert_eq!(String::from_utf8(via_env.stdout).unwrap(), real);
}

/// Issue test 2: `ferrobeam names` against Debian's real `epmd` lists the real nodes.
#[test]
fn ferrobeam_names_lists_the_nodes_of_real_epmd() {
    let Some(e) = erlang("ferrobeam_names_lists_the_nodes_of_real_epmd") else {
        return;
    };
    let port = free_port();
    let _epmd = real_epmd(&e, port);
    let _a = erl_node(&e, "realone", port);
    let _b = erl_node(&e, "realtwo", port);
    assert!(wait_until(SLOW, || is_registered(port, "realone")
        && is_registered(port, "realtwo")));

    let ours = ferrobeam_names(port);
    assert!(ours.starts_with(&format!("epmd: up and running on port {port} with data:\n")));
    assert!(ours.contains("\nname realone at port "), "{ours:?}");
    assert!(ours.contains("\nname realtwo at port "), "{ours:?}");
    assert_eq!(ours, epmd_names(&e, port));
}

/// Issue test 3: a real erl node finds another real erl node through `ferrobeam epmd`, so
/// that `net_adm:ping` returns pong.
#[test]
fn real_erl_nodes_ping_each_other_through_ferrobeam_epmd() {
    let Some(e) = erlang("real_erl_nodes_ping_each_other_through_ferrobeam_epmd") else {
        return;
    };
    let port = free_port();
    let _epmd = ferrobeam_epmd(port, &[]);
    let _a = erl_node(&e, "pinged", port);
    assert!(wait_until(SLOW, || is_registered(port, "pinged")));
    let out = erl_eval(
        &e,
        "pinger",
        port,
        "R = net_adm:ping(list_to_atom(\"pinged@\" ++ Host)), \
         io:format(\"ping=~p nodes=~p~n\", [R, nodes()]), init:stop().",
        SLOW,
    );
    assert!(out.contains("ping=pong"), "erl output: {out:?}");
    assert!(out.contains("pinged@"), "erl output: {out:?}");
    // And a name that is not registered is pang.
    let out = erl_eval(
        &e,
        "pinger",
        port,
        "io:format(\"ping=~p~n\", [net_adm:ping(list_to_atom(\"nobody@\" ++ Host))]), \
         init:stop().",
        SLOW,
    );
    assert!(out.contains("ping=pang"), "erl output: {out:?}");
}

/// Issue test 4: killing a registered node's process removes its name.
#[test]
fn killing_a_registered_node_removes_its_name() {
    let Some(e) = erlang("killing_a_registered_node_removes_its_name") else {
        return;
    };
    let port = free_port();
    let _epmd = ferrobeam_epmd(port, &[]);
    let mut doomed = erl_node(&e, "doomed", port);
    let _kept = erl_node(&e, "kept", port);
    assert!(wait_until(SLOW, || is_registered(port, "doomed")
        && is_registered(port, "kept")));
    doomed.kill();
    assert!(
        wait_until(Duration::from_secs(10), || !ferrobeam_names(port)
            .contains("name doomed at")),
        "doomed is still listed after its process was killed"
    );
    let left = ferrobeam_names(port);
    assert!(left.contains("\nname kept at port "), "{left:?}");
    assert!(!epmd_names(&e, port).contains("doomed"));
}

/// `ferrobeam epmd --daemon` returns once the detached EPMD listens; a second one finds the
/// port taken and returns success, as `epmd -daemon` does.
#[test]
fn epmd_daemon_detaches_and_tolerates_a_running_epmd() {
    let port = free_port();
    let _cleanup = KillEpmdOnDrop(port);
    let p = port.to_string();
    let out = run(
        &["epmd", "--daemon", "--port", &p, "--address", "127.0.0.1"],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(accepts(port), "the daemon does not listen");
    let again = run(&["epmd", "--daemon", "--port", &p], &[]);
    assert!(again.status.success());
    let names = ferrobeam_names(port);
    assert_eq!(
        names,
        format!("epmd: up and running on port {port} with data:\n")
    );
    // KILL_REQ stops it (no node is registered).
    assert_eq!(raw_exchange(port, b"\x00\x01\x6b"), b"OK");
    assert!(wait_until(Duration::from_secs(5), || !accepts(port)));
}

/// A foreground `ferrobeam epmd` on a taken port exits with success, like `epmd`.
#[test]
fn epmd_on_a_taken_port_exits_quietly() {
    let holder = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = holder.local_addr().unwrap().port();
    let out = run(
        &[
            "epmd",
            "--port",
            &port.to_string(),
            "--address",
            "127.0.0.1",
        ],
        &[],
    );
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ferrobeam names` without an EPMD fails with a message, like `epmd -names`.
#[test]
fn names_without_an_epmd_fails() {
    let port = free_port();
    let out = run(&["names", "--port", &port.to_string()], &[]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot"), "{err}");
}

/// The binary keeps serving through garbage, oversized and stalled requests.
#[test]
fn ferrobeam_epmd_survives_bad_clients() {
    let port = free_port();
    let mut epmd = ferrobeam_epmd(port, &["--packet-timeout", "1"]);
    let mut stalled = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stalled.write_all(b"\x00\x14\x78").unwrap();
    for bad in [
        &b"\xff\xff\xff\xff\xff\xff"[..],
        &b"\x00\x00"[..],
        &b"\x00\x02\x99\x99"[..],
        &b"\x0b\xf2"[..],
    ] {
        assert!(raw_exchange(port, bad).is_empty());
    }
    let t = Instant::now();
    assert_eq!(
        ferrobeam_names(port),
        format!("epmd: up and running on port {port} with data:\n")
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    // The stalled client is dropped after the packet timeout.
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    assert_eq!(stalled.read_to_end(&mut buf).unwrap_or(0), 0);
    assert!(!epmd.exited(), "ferrobeam epmd died");
}

/// The environment variable that makes this test binary play a node; see [`node_role`].
const ROLE_ENV: &str = "FERROBEAM_EPMD_TEST_ROLE";

/// A node process for [`epmd_outlives_the_node_that_started_it`]: this test binary run again
/// with [`ROLE_ENV`] set. It makes sure an EPMD runs (`ensure_running`), registers, prints
/// `READY <how the EPMD was found>` and lives until its standard input closes. Run normally,
/// it does nothing.
#[test]
fn node_role() {
    let Ok(spec) = std::env::var(ROLE_ENV) else {
        return;
    };
    let (name, port) = spec.split_once(':').expect("ROLE=name:port");
    let port: u16 = port.parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let started = ferrobeam::epmd::ensure_running(port)
            .await
            .expect("ensure_running");
        let how = match &started {
            ferrobeam::epmd::Started::AlreadyRunning => "already-running".to_string(),
            ferrobeam::epmd::Started::Daemon { binary } => format!("daemon {}", binary.display()),
            ferrobeam::epmd::Started::InProcess(_) => "in-process".to_string(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let reg = ferrobeam::epmd::EpmdClient::new(port)
            .register(
                name,
                listener.local_addr().unwrap().port(),
                ferrobeam::epmd::NODE_TYPE_NORMAL,
            )
            .await
            .expect("register");
        println!("READY {how} creation={}", reg.creation());
        std::io::stdout().flush().unwrap();
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await
        .unwrap();
        drop(reg);
        drop(started);
    });
}

/// Starts a node process (see [`node_role`]) and returns it with its READY line.
fn start_node(name: &str, port: u16) -> (Proc, String) {
    let exe = std::env::current_exe().unwrap();
    let mut p = Proc::spawn(
        Command::new(exe)
            .args(["--exact", "node_role", "--nocapture", "--test-threads", "1"])
            .env(ROLE_ENV, format!("{name}:{port}"))
            .env("FERROBEAM_BIN", BIN)
            .env_remove("ERL_EPMD_PORT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
        format!("node {name}"),
    );
    let stdout = p.child().stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest prints "test node_role ... " on the same line.
            if let Some(i) = line.find("READY") {
                let _ = tx.send(line[i..].to_string());
            }
        }
    });
    let ready = rx
        .recv_timeout(SLOW)
        .unwrap_or_else(|_| panic!("node {name} did not get ready"));
    (p, ready)
}

/// Two nodes start with no EPMD running: the first starts `ferrobeam epmd --daemon`, the
/// second finds it. The first exits, and the second is still found by name, because the
/// EPMD outlives the node that started it, as with `erl`.
#[test]
fn epmd_outlives_the_node_that_started_it() {
    let port = free_port();
    // Declared first, dropped last: after the nodes are gone, KILL_REQ stops the daemon.
    let _cleanup = KillEpmdOnDrop(port);
    assert!(!accepts(port));

    let (mut first, ready1) = start_node("first", port);
    assert!(ready1.starts_with("READY daemon "), "{ready1}");
    let (mut second, ready2) = start_node("second", port);
    assert!(ready2.starts_with("READY already-running"), "{ready2}");
    assert!(is_registered(port, "first") && is_registered(port, "second"));

    // The first node exits normally: its stdin closes.
    drop(first.child().stdin.take());
    assert!(
        wait_until(SLOW, || first.exited()),
        "the first node did not exit"
    );
    assert!(wait_until(Duration::from_secs(10), || !is_registered(
        port, "first"
    )));
    // The EPMD it started is still there, and still knows the second node.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let found = rt
        .block_on(ferrobeam::epmd::EpmdClient::new(port).port_please_node("second@localhost"))
        .unwrap();
    assert!(found.is_some(), "second is not found by name");
    assert!(ferrobeam_names(port).contains("\nname second at port "));

    drop(second.child().stdin.take());
    assert!(wait_until(SLOW, || second.exited()));
    assert!(wait_until(Duration::from_secs(10), || !is_registered(
        port, "second"
    )));
    assert!(accepts(port), "the EPMD died with its nodes");
}
