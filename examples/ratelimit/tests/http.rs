//! `ferrobeam-ratelimit` (the code behind `ferrobeam ratelimit`) as OS processes in
//! testkit clusters, through HTTP: three nodes behind a round-robin allow exactly the
//! limit per key and window, three unconnected nodes three times as many, and requests
//! keep being answered when the owner of a key is stopped or killed.

use ferrobeam_ratelimit::ring::HashRing;
use ferrobeam_ratelimit::window::now_ms;
use ferrobeam_testkit::{wait_until_blocking, Cluster, NodeSpec};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

const LIMIT: usize = 5;
const WINDOW_MS: u64 = 3_600_000;
const T: Duration = Duration::from_secs(20);

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A one-shot HTTP/1.1 GET.
fn get(port: u16, path: &str, xff: Option<&str>) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the HTTP port");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(x) = xff {
        req.push_str(&format!("X-Forwarded-For: {x}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the response");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_string(),
    }
}

fn fresh_window() {
    let left = WINDOW_MS - now_ms() % WINDOW_MS;
    if left < 10_000 {
        std::thread::sleep(Duration::from_millis(left + 50));
    }
}

struct Nodes {
    cluster: Cluster,
    ports: Vec<u16>,
    names: Vec<String>,
}

fn start(connected: bool) -> Nodes {
    fresh_window();
    let mut cluster = Cluster::builder()
        .names(["a", "b", "c"])
        .cookie("ratelimit")
        .os_processes(|spec: &NodeSpec| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrobeam-ratelimit"));
            cmd.args(["--sname", &spec.alive, "--cookie", &spec.cookie])
                .args(["--http", "127.0.0.1:0", "--limit", &LIMIT.to_string()])
                .args([
                    "--window-ms",
                    &WINDOW_MS.to_string(),
                    "--call-timeout-ms",
                    "500",
                ]);
            if connected {
                cmd.arg("--connect").args(&spec.peers);
            }
            cmd
        });
    let mut ports = Vec::new();
    let mut names = Vec::new();
    for i in 0..3 {
        let line = cluster.os(i).wait_line("serving http://", T);
        let port = line
            .rsplit_once("http://127.0.0.1:")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        ports.push(port);
        names.push(cluster.os(i).name().to_string());
    }
    Nodes {
        cluster,
        ports,
        names,
    }
}

fn ring_of(port: u16) -> Vec<String> {
    let r = get(port, "/ring", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_str(&r.body).expect("JSON");
    let mut nodes: Vec<String> = v["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    nodes.sort();
    nodes
}

fn wait_rings(ports: &[u16], n: usize) {
    wait_until_blocking(T, &format!("{n} nodes on every ring"), || {
        ports.iter().all(|p| ring_of(*p).len() == n)
    });
}

/// Round-robin `rounds` requests with this X-Forwarded-For; (allowed, denied).
fn round_robin(ports: &[u16], xff: Option<&str>, rounds: usize) -> (usize, usize) {
    let (mut ok, mut denied) = (0, 0);
    for i in 0..rounds {
        let r = get(ports[i % ports.len()], "/", xff);
        match r.status {
            200 => ok += 1,
            429 => {
                let secs: u64 = r
                    .header("retry-after")
                    .and_then(|s| s.parse().ok())
                    .expect("429 has Retry-After in seconds");
                assert!((1..=WINDOW_MS / 1000).contains(&secs), "Retry-After {secs}");
                denied += 1;
            }
            s => panic!("unexpected status {s}: {}", r.body),
        }
    }
    (ok, denied)
}

#[test]
fn three_nodes_behind_a_round_robin_allow_exactly_the_limit() {
    let n = start(true);
    wait_rings(&n.ports, 3);
    let mut expected = n.names.clone();
    expected.sort();
    assert_eq!(ring_of(n.ports[0]), expected);
    let rounds = 3 * LIMIT + 4;
    for key in ["10.0.0.1", "10.0.0.2", "172.16.3.4"] {
        assert_eq!(
            round_robin(&n.ports, Some(key), rounds),
            (LIMIT, rounds - LIMIT),
            "{key}"
        );
    }
    // The first address of X-Forwarded-For is the key.
    assert_eq!(
        round_robin(&n.ports, Some("10.9.9.9, 10.0.0.1"), rounds),
        (LIMIT, rounds - LIMIT)
    );
    // Without the header, the client's address: 127.0.0.1.
    assert_eq!(round_robin(&n.ports, None, rounds), (LIMIT, rounds - LIMIT));
    let r = get(n.ports[1], "/", Some("10.0.0.3"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-limit"), Some("5"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("4"));
    let ring: HashRing = {
        let mut h = HashRing::new();
        for name in &n.names {
            h.add_node(name);
        }
        h
    };
    assert_eq!(r.header("x-ratelimit-node"), ring.find_node("10.0.0.3"));
    assert_eq!(get(n.ports[0], "/nope", None).status, 404);
    drop(n.cluster);
}

#[test]
fn three_unconnected_nodes_allow_three_times_as_many() {
    let n = start(false);
    for p in &n.ports {
        assert_eq!(ring_of(*p).len(), 1);
    }
    let rounds = 6 * LIMIT;
    assert_eq!(
        round_robin(&n.ports, Some("10.0.0.1"), rounds),
        (3 * LIMIT, 3 * LIMIT)
    );
}

#[test]
fn requests_are_answered_when_the_owner_of_a_key_dies() {
    let mut n = start(true);
    wait_rings(&n.ports, 3);
    let mut full = HashRing::new();
    for name in &n.names {
        full.add_node(name);
    }
    let victim = n.names[2].clone();
    let key = (0..)
        .map(|i| format!("10.3.0.{i}"))
        .find(|k| full.find_node(k) == Some(victim.as_str()))
        .unwrap();
    let survivors = [n.ports[0], n.ports[1]];

    // The owner stops answering (SIGSTOP): each request waits for the call timeout,
    // then is answered by the fallback, a local check, which is logged.
    n.cluster.os(2).signal("-STOP");
    for p in survivors {
        let t = Instant::now();
        let r = get(p, "/", Some(&key));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-fallback"), Some("true"));
        assert!(t.elapsed() < Duration::from_secs(5));
    }
    n.cluster
        .os(0)
        .wait_stderr("Tried to check rate limit but failed", T);

    // It is killed: requests keep being answered, by the fallback or by the new owner,
    // and by the new owner once the rings have changed.
    n.cluster.os(2).kill();
    let deadline = Instant::now() + T;
    let mut i = 0;
    while ring_of(survivors[0]).len() != 2 || ring_of(survivors[1]).len() != 2 {
        assert!(Instant::now() < deadline, "the rings did not change");
        let r = get(survivors[i % 2], "/", Some(&key));
        assert!(r.status == 200 || r.status == 429, "status {}", r.status);
        i += 1;
    }
    let mut two = HashRing::new();
    two.add_node(&n.names[0]);
    two.add_node(&n.names[1]);
    let new_owner = two.find_node(&key).unwrap().to_string();
    for p in survivors {
        let r = get(p, "/", Some(&key));
        assert!(r.status == 200 || r.status == 429);
        assert_eq!(r.header("x-ratelimit-node"), Some(new_owner.as_str()));
        assert_eq!(r.header("x-ratelimit-fallback"), None);
    }
    // A fresh key: exactly the limit over the two nodes left.
    let rounds = 2 * LIMIT + 4;
    assert_eq!(
        round_robin(&survivors, Some("10.4.0.1"), rounds),
        (LIMIT, rounds - LIMIT)
    );
}
