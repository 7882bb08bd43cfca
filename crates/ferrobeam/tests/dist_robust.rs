//! A ferrobeam node against raw peers built from the sans-IO protocol layer: ticks and
//! the tick timeout, a peer that stalls mid-handshake, malformed packets, the old `'n'`
//! name message.

#[path = "dist_support.rs"]
mod support;

use ferrobeam::dist::{DistNode, MonitorNodesOptions, Ping};
use ferrobeam::epmd::EpmdClient;
use ferrobeam::{Atom, Term};
use ferrobeam_proto::flags;
use ferrobeam_proto::framing::encode_frame;
use ferrobeam_proto::handshake::{Config, Cookie, Event, Handshake};
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn port_of(c: &Cluster, node: &DistNode) -> u16 {
    let alive = node.name().as_str().split('@').next().unwrap().to_string();
    EpmdClient::new(c.epmd_port)
        .port_please("localhost", &alive)
        .await
        .unwrap()
        .unwrap()
        .port
}

/// Completes a handshake with `node` as `raw@host` and returns the socket.
async fn raw_peer(c: &Cluster, node: &DistNode, alive: &str) -> TcpStream {
    let port = port_of(c, node).await;
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut cfg = Config::new(Atom::new(&full(alive)), Cookie::new(COOKIE), 0x1234_5678);
    cfg.flags = flags::DEFAULT | flags::PUBLISHED;
    cfg.creation = 77;
    let mut hs = Handshake::initiator(cfg, node.name().clone()).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        while let Some(out) = hs.poll_transmit() {
            sock.write_all(&out).await.unwrap();
        }
        if let Some(Event::Completed(_)) = hs.poll_event() {
            // What follows the handshake (the mesh hello) is not needed here.
            let _ = hs.take_leftover();
            return sock;
        }
        let n = sock.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed during the handshake");
        hs.feed(&buf[..n]).unwrap();
    }
}

/// Node `a`'s only connection is still the one to `b`, and a message from `b` still
/// reaches `a`'s process registered as `inbox`; then both nodes stop.
async fn good_connection_untouched(a: DistNode, b: DistNode, inbox: &mut Mailbox) {
    assert_eq!(a.nodes(), vec![b.name().clone()]);
    b.node()
        .send(("inbox", a.name().as_str()), Term::atom("still_here"))
        .unwrap();
    assert_eq!(inbox.recv(5).await, Term::atom("still_here"));
    a.shutdown().await;
    b.shutdown().await;
}

/// Reads until EOF (or error); returns how long it took and what was read.
async fn read_until_closed(sock: &mut TcpStream, limit: Duration) -> (Duration, Vec<u8>) {
    let start = Instant::now();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(start.elapsed()), sock.read(&mut buf)).await
        {
            Err(_) => panic!("the node did not close the connection within {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return (start.elapsed(), all),
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_peer_is_dropped_within_net_ticktime_and_ticks_flow() {
    let c = Cluster::new().await;
    let mut cfg = c.config("a");
    cfg.net_ticktime = Duration::from_millis(1200);
    let a = c.start(cfg).await;
    let mut watch = Mailbox::new(&a, None);
    a.monitor_nodes(
        &watch.pid,
        true,
        MonitorNodesOptions {
            node_type: None,
            nodedown_reason: true,
        },
    );
    let mut sock = raw_peer(&c, &a, "silent").await;
    let up = watch.recv(5).await;
    assert!(up.as_tuple().unwrap()[0].is_atom("nodeup"));
    // Say nothing; the node ticks every quarter of net_ticktime, then gives up.
    let (took, bytes) = read_until_closed(&mut sock, Duration::from_secs(5)).await;
    let down = watch.recv(5).await;
    assert_eq!(
        down.as_tuple().unwrap()[2],
        t("[{nodedown_reason,net_tick_timeout}]")
    );
    assert!(took >= Duration::from_millis(1100), "{took:?}");
    assert!(took < Duration::from_millis(2500), "{took:?}");
    // Everything it sent after the mesh hello was ticks (4 zero bytes each), at least 3.
    let zeros_at_end = bytes.iter().rev().take_while(|b| **b == 0).count();
    assert!(zeros_at_end >= 12, "ticks: {bytes:?}");
    assert!(a.nodes().is_empty());
    a.shutdown().await;
}

/// `net_ticktime` counts from the last packet received, not from when the connection
/// came up: a peer that ticks every 400 ms stays connected well past a 1.2 s
/// `net_ticktime`, and is dropped about 1.2 s after it falls silent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn net_ticktime_counts_from_the_last_packet() {
    let c = Cluster::new().await;
    let mut cfg = c.config("a");
    cfg.net_ticktime = Duration::from_millis(1200);
    let a = c.start(cfg).await;
    let mut sock = raw_peer(&c, &a, "steady").await;
    let (mut rd, mut wr) = sock.split();
    let drain = async {
        let mut buf = vec![0u8; 4096];
        while matches!(rd.read(&mut buf).await, Ok(n) if n > 0) {}
    };
    let ticks = async {
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            wr.write_all(&[0, 0, 0, 0]).await.unwrap();
        }
    };
    // 3.2 s of ticks, while reading what the node sends.
    tokio::select! {
        _ = drain => panic!("the node closed a connection that was ticking"),
        _ = ticks => {}
    }
    assert_eq!(a.nodes(), vec![Atom::new(&full("steady"))]);
    let (took, _) = read_until_closed(&mut sock, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(1000), "{took:?}");
    assert!(took < Duration::from_millis(2500), "{took:?}");
    assert!(a.nodes().is_empty());
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_are_answered_and_keep_the_connection() {
    let c = Cluster::new().await;
    let mut cfg = c.config("a");
    // Long enough that the node's own idle ticks (every 15 s) do not come during the
    // test: a tick that arrives is an answer.
    cfg.net_ticktime = Duration::from_secs(60);
    let a = c.start(cfg).await;
    let mut sock = raw_peer(&c, &a, "ticker").await;
    // Drain the mesh hello.
    let mut buf = vec![0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(300), sock.read(&mut buf)).await;
    for _ in 0..3 {
        sock.write_all(&[0, 0, 0, 0]).await.unwrap();
        let mut tick = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(2), sock.read_exact(&mut tick))
            .await
            .expect("tick answered")
            .unwrap();
        assert_eq!(tick, [0, 0, 0, 0]);
    }
    assert_eq!(a.nodes(), vec![Atom::new(&full("ticker"))]);
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_stalling_mid_handshake_is_dropped() {
    let c = Cluster::new().await;
    let mut cfg = c.config("a");
    cfg.handshake_timeout = Duration::from_millis(800);
    let a = c.start(cfg).await;
    let port = port_of(&c, &a).await;
    // Half a name message, then nothing.
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    sock.write_all(&[0, 40, b'N', 0, 0]).await.unwrap();
    let (took, _) = read_until_closed(&mut sock, Duration::from_secs(5)).await;
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // A peer that completes the name but never answers the challenge.
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut cfg = Config::new(Atom::new(&full("staller")), Cookie::new(COOKIE), 1);
    cfg.flags = flags::DEFAULT;
    let mut hs = Handshake::initiator(cfg, a.name().clone()).unwrap();
    sock.write_all(&hs.poll_transmit().unwrap()).await.unwrap();
    let (took, bytes) = read_until_closed(&mut sock, Duration::from_secs(5)).await;
    assert!(bytes.starts_with(&[0, 3, b's', b'o', b'k']), "{bytes:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    // The node still works.
    let b = c.node("b").await;
    assert_eq!(b.ping(a.name().as_str()).await, Ping::Pong);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_packets_close_only_their_connection() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    let mut inbox = Mailbox::new(&a, Some("inbox"));
    assert_eq!(b.ping(a.name().as_str()).await, Ping::Pong);
    let bad: Vec<Vec<u8>> = vec![
        vec![1, 2, 3],                           // unknown packet type
        vec![112, 131, 104, 1, 97, 99],          // control op 99
        vec![112, 131, 104, 2, 97, 2, 97, 1],    // SEND with a bad arity
        vec![131, 68, 1, 0, 5],                  // atom cache ref to an empty entry
        vec![112, 131, 108, 255, 255, 255, 255], // list claiming 4 G elements
    ];
    for (i, body) in bad.iter().enumerate() {
        let mut sock = raw_peer(&c, &a, &format!("bad{i}")).await;
        let mut pkt = Vec::new();
        encode_frame(body, &mut pkt).unwrap();
        sock.write_all(&pkt).await.unwrap();
        read_until_closed(&mut sock, Duration::from_secs(5)).await;
    }
    // A packet length far beyond the limit.
    let mut sock = raw_peer(&c, &a, "huge").await;
    sock.write_all(&[0xff, 0xff, 0xff, 0xff, 1]).await.unwrap();
    read_until_closed(&mut sock, Duration::from_secs(5)).await;
    good_connection_untouched(a, b, &mut inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptor_takes_the_old_name_message() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let mut inbox = Mailbox::new(&a, Some("inbox"));
    let port = port_of(&c, &a).await;
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let me = full("oldie");
    let ours = flags::DEFAULT | flags::PUBLISHED;
    // 'n' Version:16 Flags:32 Name
    let mut m = vec![b'n', 0, 5];
    m.extend_from_slice(&(ours as u32).to_be_bytes());
    m.extend_from_slice(me.as_bytes());
    let mut out = (m.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&m);
    sock.write_all(&out).await.unwrap();
    let mut read_msg = async || {
        let mut len = [0u8; 2];
        sock.read_exact(&mut len).await.unwrap();
        let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
        sock.read_exact(&mut body).await.unwrap();
        body
    };
    assert_eq!(read_msg().await, b"sok");
    let ch = read_msg().await;
    assert_eq!(ch[0], b'N');
    let challenge = u32::from_be_bytes([ch[9], ch[10], ch[11], ch[12]]);
    let cookie = Cookie::new(COOKIE);
    // 'c' FlagsHigh:32 Creation:32, then 'r' Challenge:32 Digest:16.
    let mut c_msg = vec![b'c'];
    c_msg.extend_from_slice(&((ours >> 32) as u32).to_be_bytes());
    c_msg.extend_from_slice(&9u32.to_be_bytes());
    let mut r_msg = vec![b'r'];
    r_msg.extend_from_slice(&42u32.to_be_bytes());
    r_msg.extend_from_slice(&cookie.digest(challenge));
    for m in [c_msg, r_msg] {
        let mut out = (m.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&m);
        sock.write_all(&out).await.unwrap();
    }
    let mut ack = [0u8; 19];
    sock.read_exact(&mut ack).await.unwrap();
    assert_eq!(&ack[..3], &[0, 17, b'a']);
    assert_eq!(&ack[3..], &cookie.digest(42));
    wait_for(5, "connection up", || a.nodes() == vec![Atom::new(&me)]).await;
    // A pass-through REG_SEND works on it.
    let from = ferrobeam::Pid::new(me.as_str(), 1, 0, 9);
    sock.write_all(&reg_send_packet(&from, "inbox", &Term::atom("old_style")))
        .await
        .unwrap();
    assert_eq!(inbox.recv(5).await, Term::atom("old_style"));
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_peer_replaces_its_old_connection() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let mut watch = Mailbox::new(&a, None);
    a.monitor_nodes(
        &watch.pid,
        true,
        MonitorNodesOptions {
            node_type: None,
            nodedown_reason: true,
        },
    );
    // The first incarnation connects, then "dies" without its socket closing.
    let mut old = raw_peer(&c, &a, "phoenix").await;
    assert!(watch.recv(5).await.as_tuple().unwrap()[0].is_atom("nodeup"));
    // The new incarnation connects: the node says `alive`, the peer says `true`.
    let port = port_of(&c, &a).await;
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut cfg = Config::new(Atom::new(&full("phoenix")), Cookie::new(COOKIE), 99);
    cfg.flags = flags::DEFAULT | flags::PUBLISHED;
    cfg.creation = 78;
    let mut hs = Handshake::initiator(cfg, a.name().clone()).unwrap();
    let mut buf = [0u8; 4096];
    let mut alive_seen = false;
    loop {
        while let Some(out) = hs.poll_transmit() {
            sock.write_all(&out).await.unwrap();
        }
        match hs.poll_event() {
            Some(Event::AliveCheck) => {
                alive_seen = true;
                hs.answer_alive(true).unwrap();
                continue;
            }
            Some(Event::Completed(_)) => break,
            _ => {}
        }
        let n = sock.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed during the handshake");
        hs.feed(&buf[..n]).unwrap();
    }
    assert!(alive_seen);
    // The old connection went down and the new one came up.
    let down = watch.recv(5).await;
    assert_eq!(
        down.as_tuple().unwrap()[2],
        t("[{nodedown_reason,connection_closed}]")
    );
    assert!(watch.recv(5).await.as_tuple().unwrap()[0].is_atom("nodeup"));
    read_until_closed(&mut old, Duration::from_secs(5)).await;
    assert_eq!(a.nodes(), vec![Atom::new(&full("phoenix"))]);
    a.shutdown().await;
}

/// A framed pass-through packet (no distribution header): the control tuple, then the
/// message if there is one.
fn raw_packet(ctl: &Term, message: Option<&Term>) -> Vec<u8> {
    let mut body = vec![112];
    body.extend_from_slice(&ferrobeam_term::etf::encode(ctl));
    if let Some(m) = message {
        body.extend_from_slice(&ferrobeam_term::etf::encode(m));
    }
    let mut pkt = Vec::new();
    encode_frame(&body, &mut pkt).unwrap();
    pkt
}

/// A raw `LINK {1, From, To}` packet.
fn link_packet(from: &ferrobeam::Pid, to: &ferrobeam::Pid) -> Vec<u8> {
    let ctl = Term::tuple(vec![
        Term::Int(1),
        Term::Pid(from.clone()),
        Term::Pid(to.clone()),
    ]);
    raw_packet(&ctl, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_not_from_the_peer_or_not_to_this_node_are_ignored() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    // A process of node a that traps exits and reports what it gets.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let target = a.node().spawn(move |ctx: ferrobeam::Ctx| async move {
        ctx.trap_exit(true);
        loop {
            if tx.send(ctx.receive().await).is_err() {
                return;
            }
        }
    });
    let mut sock = raw_peer(&c, &a, "linker").await;
    let peer_pid = ferrobeam::Pid::new(full("linker").as_str(), 5, 0, 77);
    let third = ferrobeam::Pid::new(full("elsewhere").as_str(), 6, 0, 1);
    // From a process of a third node, and to a process of a third node: neither is
    // linked, so losing the connection must not answer them.
    sock.write_all(&link_packet(&third, &target)).await.unwrap();
    sock.write_all(&link_packet(&peer_pid, &third))
        .await
        .unwrap();
    // A real link from the peer.
    sock.write_all(&link_packet(&peer_pid, &target))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(sock);
    let exit = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no exit signal within 10 s")
        .unwrap();
    assert_eq!(
        exit,
        Term::tuple(vec![
            Term::atom("EXIT"),
            Term::Pid(peer_pid),
            Term::atom("noconnection")
        ])
    );
    let more = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await;
    assert!(more.is_err(), "unexpected: {more:?}");
    a.shutdown().await;
}

/// A raw `REG_SEND {6, From, '', To}` packet to the registered name `to`, with the
/// message.
fn reg_send_packet(from: &ferrobeam::Pid, to: &str, message: &Term) -> Vec<u8> {
    let ctl = Term::tuple(vec![
        Term::Int(6),
        Term::Pid(from.clone()),
        Term::atom(""),
        Term::atom(to),
    ]);
    raw_packet(&ctl, Some(message))
}

/// The receive limits of `DistConfig` are applied: a message that decodes into more
/// terms than `max_message_terms` (a list of `[]`, one byte each on the wire but 48
/// bytes each decoded), or a packet over `max_frame_size`, closes that connection; a
/// message within the limits is delivered, and other connections are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_limits_from_the_config_close_the_offending_connection() {
    let c = Cluster::new().await;
    let mut cfg = c.config("a");
    cfg.max_message_terms = 10_000;
    cfg.max_frame_size = 256 * 1024;
    let a = c.start(cfg).await;
    let b = c.node("b").await;
    let mut inbox = Mailbox::new(&a, Some("inbox"));
    assert_eq!(b.ping(a.name().as_str()).await, Ping::Pong);
    let from = ferrobeam::Pid::new(full("limits").as_str(), 5, 0, 77);

    // Within the limits: delivered.
    let mut sock = raw_peer(&c, &a, "limits").await;
    let fits = Term::List(vec![Term::List(vec![]); 9_000]);
    sock.write_all(&reg_send_packet(&from, "inbox", &fits))
        .await
        .unwrap();
    assert_eq!(inbox.recv(5).await, fits);

    // 20,000 terms in 20 KB: over the term limit.
    let many = Term::List(vec![Term::List(vec![]); 20_000]);
    sock.write_all(&reg_send_packet(&from, "inbox", &many))
        .await
        .unwrap();
    read_until_closed(&mut sock, Duration::from_secs(5)).await;

    // A 300 KiB binary: over the frame limit.
    let mut sock = raw_peer(&c, &a, "limits2").await;
    let big = Term::binary(vec![7u8; 300 * 1024]);
    sock.write_all(&reg_send_packet(&from, "inbox", &big))
        .await
        .unwrap();
    read_until_closed(&mut sock, Duration::from_secs(5)).await;

    assert_eq!(inbox.try_recv(200).await, None);
    good_connection_untouched(a, b, &mut inbox).await;
}
