//! A ferrobeam rate limiter node and the Elixir port of seed 004
//! (`examples/elixir/ratelimiter/node.exs`) in one cluster: both rings place keys the
//! same way (ex_hash_ring's placement), and each node's check calls the other's
//! `RateLimiter` for the keys it owns, so the count of a key is shared.
//!
//! Skipped with a notice when `elixir` is missing, unless `FERROBEAM_REQUIRE_ERLANG=1`,
//! which makes it fail.

use ferrobeam_ratelimit::ring::HashRing;
use ferrobeam_ratelimit::window::now_ms;
use ferrobeam_testkit::{beam_tool, elixir_command, elixir_examples_dir, Cluster, NodeSpec};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// (status, x-ratelimit-node, x-ratelimit-remaining) of `GET /` for this key.
fn check(port: u16, key: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Forwarded-For: {key}\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
    let header = |name: &str| {
        resp.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    (
        status,
        header("x-ratelimit-node"),
        header("x-ratelimit-remaining"),
    )
}

#[test]
fn ferrobeam_and_elixir_nodes_share_the_counts() {
    let Some(elixir) = beam_tool("elixir", "ferrobeam_and_elixir_nodes_share_the_counts") else {
        return;
    };
    let mut c = Cluster::builder().cookie("ratelimit").build();
    let (a, b) = (c.full_name("a"), c.full_name("b"));
    let script = elixir_examples_dir().join("ratelimiter").join("node.exs");
    let ex = c.spawn("b", |s: &NodeSpec| elixir_command(&elixir, s, &script, &[]));
    c.os(ex).wait_line("rate limiter node started on", T);
    let fb = c.spawn("a", |s: &NodeSpec| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrobeam-ratelimit"));
        cmd.args(["--sname", &s.alive, "--cookie", &s.cookie, "--connect", &b])
            .args([
                "--http",
                "127.0.0.1:0",
                "--limit",
                "10",
                "--window-ms",
                "60000",
            ]);
        cmd
    });
    let line = c.os(fb).wait_line("serving http://127.0.0.1:", T);
    let port: u16 = line
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    // Both rings: the ferrobeam node prints its changes; the Elixir one is asked.
    c.os(fb).wait_line(&format!("Node {b} connected"), T);
    c.os(ex)
        .send_line("ExHashRing.Ring.get_nodes(DistributionRing) |> elem(1) |> Enum.sort() |> inspect() |> IO.puts()");
    c.os(ex).wait_line(&format!("[:{a}, :{b}]"), T);

    let mut ring = HashRing::new();
    ring.add_node(&a);
    ring.add_node(&b);
    let key_on = |owner: &str, prefix: &str| {
        (0..)
            .map(|i| format!("{prefix}.{i}"))
            .find(|k| ring.find_node(k) == Some(owner))
            .unwrap()
    };
    let (key_a, key_b) = (key_on(&a, "10.0.1"), key_on(&b, "10.0.2"));
    // The seed's window is a minute: stay clear of its end.
    let left = 60_000 - now_ms() % 60_000;
    if left < 5_000 {
        std::thread::sleep(Duration::from_millis(left + 100));
    }

    // A key the Elixir node owns: the ferrobeam node calls Elixir's RateLimiter.
    for n in 1..=3 {
        assert_eq!(check(port, &key_b), (200, b.clone(), (10 - n).to_string()));
    }
    c.os(ex)
        .send_line(&format!(r#"RateLimiter.check("{key_b}")"#));
    c.os(ex).wait_line("{:allow, 4}", T);

    // A key the ferrobeam node owns: Elixir's check calls the ferrobeam RateLimiter.
    c.os(ex)
        .send_line(&format!(r#"RateLimiter.check("{key_a}")"#));
    c.os(ex).wait_line("{:allow, 1}", T);
    c.os(ex)
        .send_line(&format!(r#"RateLimiter.check("{key_a}")"#));
    c.os(ex).wait_line("{:allow, 2}", T);
    assert_eq!(check(port, &key_a), (200, a.clone(), "7".to_string()));
}
