//! ferrobeam's EPMD server and client against each other, in process: registration life,
//! duplicate names, creations, byte-exact answers, command policies, robustness, and
//! `ensure_running`'s in-process fallback. The interop with real Erlang is in
//! `epmd_interop.rs` and in the CLI's tests.

#[path = "epmd_support.rs"]
mod support;

use std::time::{Duration, Instant};

use ferrobeam::epmd::{
    ensure_running_with, BinarySource, ClientError, EnsureOptions, EpmdClient, EpmdConfig,
    EpmdHandle, EpmdServer, NodeInfo, Started, NODE_TYPE_HIDDEN, NODE_TYPE_NORMAL,
};
use ferrobeam_proto::epmd::{DumpState, KillResp, StopResp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(config: EpmdConfig) -> (EpmdHandle, EpmdClient) {
    let server = EpmdServer::bind(config).await.expect("bind");
    let handle = server.spawn();
    let client = EpmdClient::new(handle.port()).with_timeout(Duration::from_secs(5));
    (handle, client)
}

async fn loopback() -> (EpmdHandle, EpmdClient) {
    start(EpmdConfig::loopback(0)).await
}

/// Sends raw bytes and reads until the server closes (or 5 s pass).
async fn exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(bytes).await.unwrap();
    // Half-close: a truncated request then ends in EOF instead of waiting for more.
    s.shutdown().await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    out
}

async fn registered(client: &EpmdClient, name: &str) -> bool {
    client
        .names("127.0.0.1")
        .await
        .unwrap()
        .nodes
        .iter()
        .any(|n| n.name == name)
}

async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn alive2(name: &str, port: u16, highest: u16) -> Vec<u8> {
    let mut body = vec![120];
    body.extend_from_slice(&port.to_be_bytes());
    body.extend_from_slice(&[77, 0]);
    body.extend_from_slice(&highest.to_be_bytes());
    body.extend_from_slice(&5u16.to_be_bytes());
    body.extend_from_slice(&(name.len() as u16).to_be_bytes());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(&[0, 0]);
    let mut frame = (body.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

#[tokio::test]
async fn register_lookup_list_and_unregister_on_close() {
    let (_h, client) = loopback().await;
    let mut info = NodeInfo::new("alpha", 5001);
    info.extra = b"xy".to_vec();
    let reg = client.register_node(info.clone()).await.unwrap();
    assert_eq!(reg.name(), "alpha");
    assert!(reg.creation() >= 4);

    let found = client.port_please("127.0.0.1", "alpha").await.unwrap();
    assert_eq!(found, Some(info));
    assert_eq!(
        client
            .port_please_node("alpha@localhost")
            .await
            .unwrap()
            .map(|n| n.port),
        Some(5001)
    );
    assert_eq!(
        client.port_please("127.0.0.1", "nobody").await.unwrap(),
        None
    );
    let hidden = client
        .register("beta", 5002, NODE_TYPE_HIDDEN)
        .await
        .unwrap();
    assert!(client
        .port_please("localhost", "beta")
        .await
        .unwrap()
        .unwrap()
        .is_hidden());

    let listed = ferrobeam::epmd::names("127.0.0.1", client.port())
        .await
        .unwrap();
    assert_eq!(
        listed,
        vec![("beta".to_string(), 5002), ("alpha".to_string(), 5001)]
    );

    // A registration lives exactly as long as its socket.
    drop(reg);
    eventually("alpha is gone", async || {
        !registered(&client, "alpha").await
    })
    .await;
    hidden.unregister().await;
    eventually("beta is gone", async || !registered(&client, "beta").await).await;
    assert_eq!(
        client.port_please("127.0.0.1", "alpha").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn duplicate_names_are_refused_and_creations_change() {
    let (_h, client) = loopback().await;
    let first = client
        .register("dup", 6000, NODE_TYPE_NORMAL)
        .await
        .unwrap();
    match client.register("dup", 6001, NODE_TYPE_NORMAL).await {
        Err(ClientError::NameTaken(n)) => assert_eq!(n, "dup"),
        other => panic!("expected NameTaken, got {other:?}"),
    }
    // The refused attempt must not disturb the holder.
    assert_eq!(
        client
            .port_please("127.0.0.1", "dup")
            .await
            .unwrap()
            .map(|n| n.port),
        Some(6000)
    );

    let mut creations = vec![first.creation()];
    drop(first);
    for i in 0..4 {
        let reg = loop {
            match client.register("dup", 6002 + i, NODE_TYPE_NORMAL).await {
                Ok(r) => break r,
                // The previous socket's close may not have been seen yet.
                Err(ClientError::NameTaken(_)) => {
                    tokio::time::sleep(Duration::from_millis(10)).await
                }
                Err(e) => panic!("{e}"),
            }
        };
        creations.push(reg.creation());
    }
    for w in creations.windows(2) {
        assert_ne!(w[0], w[1], "creation repeated: {creations:?}");
        assert_eq!(
            w[1],
            w[0].wrapping_add(1),
            "creations as epmd counts: {creations:?}"
        );
    }
    assert!(creations.iter().all(|&c| c >= 4));
}

#[tokio::test]
async fn version_5_nodes_get_the_old_alive2_resp() {
    let (h, _client) = loopback().await;
    let mut s = TcpStream::connect(("127.0.0.1", h.port())).await.unwrap();
    s.write_all(&alive2("old", 7000, 5)).await.unwrap();
    let mut resp = [0u8; 4];
    s.read_exact(&mut resp).await.unwrap();
    assert_eq!(&resp[..2], &[121, 0]);
    let creation = u16::from_be_bytes([resp[2], resp[3]]);
    assert!((1..=3).contains(&creation), "16-bit creation {creation}");
    // Refused duplicate, old style: [121, 1, 0, 99] as epmd sends it.
    assert_eq!(
        exchange(h.port(), &alive2("old", 7001, 5)).await,
        [121, 1, 0, 99]
    );
    // New style: [118, 1, 0, 0, 0, 99].
    assert_eq!(
        exchange(h.port(), &alive2("old", 7001, 6)).await,
        [118, 1, 0, 0, 0, 99]
    );
}

#[tokio::test]
async fn names_and_dump_answers_match_epmd_byte_for_byte() {
    let (h, client) = loopback().await;
    let port = h.port();
    let a = client
        .register("alpha", 5001, NODE_TYPE_NORMAL)
        .await
        .unwrap();
    let b = client
        .register("beta", 5002, NODE_TYPE_NORMAL)
        .await
        .unwrap();
    let mut expected = u32::from(port).to_be_bytes().to_vec();
    expected.extend_from_slice(b"name beta at port 5002\nname alpha at port 5001\n");
    assert_eq!(exchange(port, b"\x00\x01\x6e").await, expected);

    drop(a);
    eventually("alpha is gone", async || {
        !registered(&client, "alpha").await
    })
    .await;
    let dump = client.dump("127.0.0.1").await.unwrap();
    assert_eq!(dump.epmd_port, u32::from(port));
    assert_eq!(dump.entries.len(), 2);
    assert_eq!(dump.entries[0].state, DumpState::Active);
    assert_eq!(dump.entries[0].name, "beta");
    assert_eq!(dump.entries[1].state, DumpState::Old);
    assert_eq!(
        (dump.entries[1].name.as_str(), dump.entries[1].port),
        ("alpha", 5001)
    );
    let raw = exchange(port, b"\x00\x01\x64").await;
    let text = String::from_utf8_lossy(&raw[4..]);
    assert!(
        text.starts_with("active name     <beta> at port 5002, fd = "),
        "{text:?}"
    );
    assert!(
        text.contains("\n\0old/unused name <alpha>, port = 5001, fd = "),
        "{text:?}"
    );
    assert!(text.ends_with(" \n\0"), "{text:?}");
    drop(b);
}

#[tokio::test]
async fn kill_is_refused_while_nodes_are_registered() {
    let (mut h, client) = loopback().await;
    let reg = client.register("k", 5001, NODE_TYPE_NORMAL).await.unwrap();
    assert_eq!(client.kill("127.0.0.1").await.unwrap(), KillResp::No);
    assert!(!h.is_finished());
    drop(reg);
    eventually("k is gone", async || !registered(&client, "k").await).await;
    assert_eq!(client.kill("127.0.0.1").await.unwrap(), KillResp::Ok);
    tokio::time::timeout(Duration::from_secs(5), h.stopped())
        .await
        .expect("the server stops after KILL_REQ");
    assert!(TcpStream::connect(("127.0.0.1", h.port())).await.is_err());
}

#[tokio::test]
async fn relaxed_command_check_allows_stop_and_kill() {
    // Without it, STOP_REQ is ignored: the connection closes without an answer.
    let (_strict, strict_client) = loopback().await;
    let _held = strict_client
        .register("s", 5001, NODE_TYPE_NORMAL)
        .await
        .unwrap();
    assert!(matches!(
        strict_client.stop("127.0.0.1", "s").await,
        Err(ClientError::Closed)
    ));
    assert!(registered(&strict_client, "s").await);

    let mut config = EpmdConfig::loopback(0);
    config.relaxed_command_check = true;
    let (mut h, client) = start(config).await;
    let mut reg = client
        .register("victim", 5001, NODE_TYPE_NORMAL)
        .await
        .unwrap();
    assert_eq!(
        client.stop("127.0.0.1", "victim").await.unwrap(),
        StopResp::Stopped
    );
    tokio::time::timeout(Duration::from_secs(5), reg.closed())
        .await
        .expect("EPMD closes a stopped registration")
        .unwrap();
    assert!(!registered(&client, "victim").await);
    assert_eq!(
        client.stop("127.0.0.1", "victim").await.unwrap(),
        StopResp::NoExist
    );

    let _other = client
        .register("other", 5002, NODE_TYPE_NORMAL)
        .await
        .unwrap();
    assert_eq!(client.kill("127.0.0.1").await.unwrap(), KillResp::Ok);
    tokio::time::timeout(Duration::from_secs(5), h.stopped())
        .await
        .expect("killed");
}

#[tokio::test]
async fn bad_requests_close_only_their_connection() {
    let (h, client) = loopback().await;
    let port = h.port();
    let reg = client
        .register("steady", 5001, NODE_TYPE_NORMAL)
        .await
        .unwrap();
    let bad: Vec<Vec<u8>> = vec![
        b"\x01\x02\x03".to_vec(),                 // garbage: length 258, then EOF
        b"\x00\x00".to_vec(),                     // zero length
        b"\xff\xffAAAAAAAAAAAAAAAAAAAA".to_vec(), // 65535 > 3057
        [&[0x0b, 0xf2][..], &[b'n'; 3058][..]].concat(), // one byte over epmd's limit
        b"\x00\x03\x01\x02\x03".to_vec(),         // unknown tag
        b"\x00\x0e\x78\x00\x01\x4d\x00\x00\x06\x00\x05\x00\x09ab\x00\x00".to_vec(), // name length beyond the body
        b"\x00\x0f\x78\x00\x01\x4d\x00\x00\x06\x00\x05\x00\x02a\x00\x00\x00".to_vec(), // NUL in the name
        b"\x00\x03\x7a\xc3\x28".to_vec(), // PORT_PLEASE2 with invalid UTF-8
        b"\x00\x01\x7a".to_vec(),         // PORT_PLEASE2 without a name
        b"\x00\x05\x6e".to_vec(),         // truncated body, then EOF
    ];
    for b in &bad {
        let out = exchange(port, b).await;
        assert!(out.is_empty(), "request {b:?} got an answer {out:?}");
    }
    // The largest legal frame is still answered (NAMES with junk after the tag, as epmd).
    let big = [&[0x0b, 0xf1][..], &[b'n'; 3057][..]].concat();
    assert_eq!(
        &exchange(port, &big).await[..4],
        &u32::from(port).to_be_bytes()
    );
    // Everyone else is unaffected.
    assert!(registered(&client, "steady").await);
    assert_eq!(
        client
            .port_please("127.0.0.1", "steady")
            .await
            .unwrap()
            .map(|n| n.port),
        Some(5001)
    );
    drop(reg);
}

#[tokio::test]
async fn data_after_a_registration_unregisters_it() {
    let (h, client) = loopback().await;
    let mut s = TcpStream::connect(("127.0.0.1", h.port())).await.unwrap();
    s.write_all(&alive2("chatty", 7000, 6)).await.unwrap();
    let mut resp = [0u8; 6];
    s.read_exact(&mut resp).await.unwrap();
    assert_eq!(&resp[..2], &[118, 0]);
    assert!(registered(&client, "chatty").await);
    s.write_all(b"x").await.unwrap();
    eventually("chatty is gone", async || {
        !registered(&client, "chatty").await
    })
    .await;
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest))
        .await
        .expect("EPMD closes the connection");
    assert_eq!(n.unwrap_or(0), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_do_not_stall_others_and_time_out() {
    let mut config = EpmdConfig::loopback(0);
    config.packet_timeout = Duration::from_secs(3);
    let (h, client) = start(config).await;
    let port = h.port();
    let _reg = client
        .register("busy", 5001, NODE_TYPE_NORMAL)
        .await
        .unwrap();

    // Half a length header; a header with half a body; a connection that sends nothing.
    let mut stalled = Vec::new();
    for bytes in [&b"\x00"[..], &b"\x00\x14\x78\x00\x01"[..], &b""[..]] {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(bytes).await.unwrap();
        stalled.push(s);
    }
    let t = Instant::now();
    for _ in 0..20 {
        assert_eq!(
            client
                .port_please("127.0.0.1", "busy")
                .await
                .unwrap()
                .map(|n| n.port),
            Some(5001)
        );
    }
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "others were stalled: {:?}",
        t.elapsed()
    );

    // The stalled ones are closed after the packet timeout, without an answer.
    for mut s in stalled {
        let mut buf = Vec::new();
        let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
            .await
            .expect("a stalled client is disconnected");
        assert!(buf.is_empty());
        let _ = r;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_connections() {
    // Each connection costs two descriptors in this process (client and server side).
    let limit = support::raise_open_files_limit(8192).unwrap_or(1024);
    let n = (limit.saturating_sub(200) / 2).min(2500) as usize;
    eprintln!("open files limit {limit}: using {n} concurrent connections");
    assert!(
        n >= 400,
        "the open files limit ({limit}) is too low for this test"
    );
    let (h, client) = loopback().await;
    let port = h.port();
    let _reg = client
        .register("crowd", 5001, NODE_TYPE_NORMAL)
        .await
        .unwrap();

    // n idle connections at once, then every one of them gets a NAMES answer.
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    // Meanwhile others are served.
    assert_eq!(
        client
            .port_please("127.0.0.1", "crowd")
            .await
            .unwrap()
            .map(|n| n.port),
        Some(5001)
    );
    let mut tasks = tokio::task::JoinSet::new();
    for mut s in conns {
        tasks.spawn(async move {
            s.write_all(b"\x00\x01\x6e").await?;
            let mut out = Vec::new();
            s.read_to_end(&mut out).await?;
            Ok::<_, std::io::Error>(out)
        });
    }
    let mut answered = 0;
    let expected_tail = b"name crowd at port 5001\n";
    let deadline = Duration::from_secs(60);
    tokio::time::timeout(deadline, async {
        while let Some(r) = tasks.join_next().await {
            let out = r.unwrap().unwrap();
            assert!(out.ends_with(expected_tail), "answer {out:?}");
            answered += 1;
        }
    })
    .await
    .expect("all connections answered in time");
    assert_eq!(answered, n);
    assert!(registered(&client, "crowd").await);
}

#[tokio::test]
async fn wildcard_binding_serves_ipv4_and_ipv6_loopback() {
    let (h, client) = start(EpmdConfig::new(0)).await;
    let addrs = h.local_addrs().to_vec();
    assert!(addrs.iter().any(|a| a.ip().is_unspecified()), "{addrs:?}");
    let _r = client
        .register("wild", 5001, NODE_TYPE_NORMAL)
        .await
        .unwrap();
    assert!(registered(&client, "wild").await);
    if addrs.iter().any(|a| a.is_ipv6()) {
        // IPv6 nodes (`erl -proto_dist inet6_tcp`) register through ::1.
        let names = client.names("::1").await.unwrap();
        assert_eq!(names.nodes[0].name, "wild");
        let mut s = TcpStream::connect(("::1", h.port())).await.unwrap();
        s.write_all(&alive2("wild6", 5002, 6)).await.unwrap();
        let mut resp = [0u8; 6];
        s.read_exact(&mut resp).await.unwrap();
        assert_eq!(&resp[..2], &[118, 0], "::1 is a local peer");
        assert!(registered(&client, "wild6").await);
    } else {
        eprintln!("no IPv6 on this host: only IPv4 checked");
    }
}

#[tokio::test]
async fn ensure_running_falls_back_to_an_in_process_epmd() {
    let port = support::free_port();
    let mut opts = EnsureOptions::new(port);
    opts.binary = BinarySource::None;

    // Two nodes starting at once: one EPMD wins, the other finds it.
    let (a, b) = tokio::join!(ensure_running_with(&opts), ensure_running_with(&opts));
    let (a, b) = (a.unwrap(), b.unwrap());
    let in_process = [&a, &b]
        .iter()
        .filter(|s| matches!(s, Started::InProcess(_)))
        .count();
    assert_eq!(in_process, 1, "{a:?} / {b:?}");
    assert!(matches!(
        ensure_running_with(&opts).await.unwrap(),
        Started::AlreadyRunning
    ));
    let client = EpmdClient::new(port);
    let _r = client
        .register("embedded", 5001, NODE_TYPE_NORMAL)
        .await
        .unwrap();
    assert!(registered(&client, "embedded").await);

    // The in-process EPMD lives as long as its handle.
    let handle = match (a, b) {
        (Started::InProcess(h), _) | (_, Started::InProcess(h)) => h,
        _ => unreachable!(),
    };
    handle.shutdown().await;
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());

    // Without a binary and without the fallback there is nothing to start.
    opts.in_process_fallback = false;
    assert!(ensure_running_with(&opts).await.is_err());
}

#[tokio::test]
async fn client_errors_are_reported() {
    let port = support::free_port();
    let client = EpmdClient::new(port).with_timeout(Duration::from_secs(2));
    assert!(matches!(
        client.names("127.0.0.1").await,
        Err(ClientError::Connect { .. })
    ));
    assert!(matches!(
        client.port_please_node("no-host-part").await,
        Err(ClientError::Protocol(_))
    ));

    // A server that never answers: the client times out.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let c = EpmdClient::new(silent_port).with_timeout(Duration::from_millis(300));
    assert!(matches!(
        c.names("127.0.0.1").await,
        Err(ClientError::Timeout(_))
    ));
    keep.abort();

    // A server that answers garbage, or floods: errors, bounded memory.
    let noisy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let noisy_port = noisy.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut i = 0;
        while let Ok((mut s, _)) = noisy.accept().await {
            i += 1;
            tokio::spawn(async move {
                let mut req = [0u8; 3];
                let _ = s.read_exact(&mut req).await;
                if i == 1 {
                    let _ = s
                        .write_all(b"\x00\x00\x11\x11this is not a names line\n")
                        .await;
                } else {
                    let chunk = vec![b'x'; 64 * 1024];
                    for _ in 0..100 {
                        if s.write_all(&chunk).await.is_err() {
                            break;
                        }
                    }
                }
            });
        }
    });
    let c = EpmdClient::new(noisy_port);
    assert!(matches!(
        c.names("127.0.0.1").await,
        Err(ClientError::Protocol(_))
    ));
    assert!(matches!(
        c.names("127.0.0.1").await,
        Err(ClientError::TooLarge(_))
    ));
}
