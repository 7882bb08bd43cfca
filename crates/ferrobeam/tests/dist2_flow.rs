//! Large messages and floods: messages over 64 KiB go out as fragments with small
//! messages between them (and the order of each sender kept), fragments are reassembled;
//! a flood towards a slow peer is held back by the bounded output buffer (the senders
//! are suspended), so memory stays flat and nothing is dropped.

#[path = "dist_support.rs"]
mod support;

use bytes::Bytes;
use ferrobeam::dist::DistNode;
use ferrobeam::epmd::EpmdClient;
use ferrobeam::{Atom, Ctx, Term};
use ferrobeam_proto::control::ControlMessage;
use ferrobeam_proto::dist_header::DistReceiver;
use ferrobeam_proto::flags;
use ferrobeam_proto::framing::{Frame, FrameDecoder};
use ferrobeam_proto::handshake::{Config, Cookie, Event, Handshake};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Completes a handshake with `node` as `alive@host` (a raw peer with every default
/// flag, fragments included) and returns the socket.
async fn raw_peer(c: &Cluster, node: &DistNode, alive: &str) -> TcpStream {
    let me = node.name().as_str().split('@').next().unwrap().to_string();
    let port = EpmdClient::new(c.epmd_port)
        .port_please("localhost", &me)
        .await
        .unwrap()
        .unwrap()
        .port;
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut cfg = Config::new(Atom::new(&full(alive)), Cookie::new(COOKIE), 0x5151_0101);
    cfg.flags = flags::DEFAULT | flags::PUBLISHED;
    cfg.creation = 91;
    let mut hs = Handshake::initiator(cfg, node.name().clone()).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        while let Some(out) = hs.poll_transmit() {
            sock.write_all(&out).await.unwrap();
        }
        if let Some(Event::Completed(_)) = hs.poll_event() {
            // What came after the handshake (the mesh hello) is not needed.
            let _ = hs.take_leftover();
            return sock;
        }
        let n = sock.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed during the handshake");
        hs.feed(&buf[..n]).unwrap();
    }
}

/// What the raw peer saw: each packet's kind, and each complete message to `sink`.
#[derive(Debug, PartialEq)]
enum Seen {
    /// A fragment of a large message (first or later); `last` for its final one.
    Fragment { last: bool },
    /// A complete message to `sink`.
    Message(Term),
}

/// Reads packets from `sock` until `want` messages to `sink` are complete, reading at
/// most `rate` bytes per second (0: as fast as possible).
async fn read_sink(sock: &mut TcpStream, want: usize, rate: usize, mut seen: impl FnMut(Seen)) {
    let mut dec = FrameDecoder::new();
    let mut rx = DistReceiver::default();
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let started = Instant::now();
    let mut read_total = 0usize;
    while got < want {
        while let Some(f) = dec.next_frame() {
            let Frame::Data(body) = f.unwrap() else {
                continue;
            };
            let kind = (body[0], body.get(1).copied());
            if kind == (131, Some(69)) || kind == (131, Some(70)) {
                // A fragment: the last one has fragment id 1.
                let frag = u64::from_be_bytes(body[10..18].try_into().unwrap());
                seen(Seen::Fragment { last: frag == 1 });
            }
            let Some(r) = rx.receive(body).unwrap() else {
                continue;
            };
            let msg = ControlMessage::from_term(r.control, r.message).unwrap();
            if let ControlMessage::RegSend { to, message, .. } = msg {
                if to == "sink" {
                    got += 1;
                    seen(Seen::Message(message));
                }
            }
        }
        if got >= want {
            break;
        }
        let n = tokio::time::timeout(Duration::from_secs(20), sock.read(&mut buf))
            .await
            .expect("data from the node")
            .unwrap();
        assert!(n > 0, "the node closed the connection");
        dec.push(&buf[..n]);
        read_total += n;
        if rate > 0 {
            let due = Duration::from_secs_f64(read_total as f64 / rate as f64);
            let now = started.elapsed();
            if due > now {
                tokio::time::sleep(due - now).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_messages_go_in_fragments_with_small_ones_between() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let mut sock = raw_peer(&c, &a, "slowpeer").await;
    let peer = full("slowpeer");
    // A process queues a stream of four 8 MiB binaries, then a small message; once
    // they are all queued, another sends small probes.
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let p = peer.clone();
    let big = Bytes::from(
        (0..8 * 1024 * 1024)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let big2 = big.clone();
    a.node().spawn(move |ctx: Ctx| async move {
        for i in 0..4 {
            ctx.send(
                ("sink", p.as_str()),
                Term::tuple(vec![
                    Term::atom("big"),
                    Term::from(i),
                    Term::binary(big2.clone()),
                ]),
            )
            .unwrap();
        }
        ctx.send(("sink", p.as_str()), t("{big_done, 4}")).unwrap();
        let _ = go_tx.send(());
    });
    let p = peer.clone();
    let node = a.node().clone();
    tokio::spawn(async move {
        let _ = go_rx.await;
        for i in 0..20 {
            node.send(
                ("sink", p.as_str()),
                Term::tuple(vec![Term::atom("probe"), Term::from(i)]),
            )
            .unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    // Read at 100 MB/s: the stream takes about a third of a second.
    let mut order: Vec<String> = Vec::new();
    let mut fragments = 0;
    let mut last_fragments = 0;
    read_sink(&mut sock, 4 + 1 + 20, 100_000_000, |s| match s {
        Seen::Fragment { last } => {
            fragments += 1;
            if last {
                last_fragments += 1;
            }
        }
        Seen::Message(m) => {
            let t = m.as_tuple().unwrap();
            if t[0].is_atom("big") {
                assert_eq!(
                    t[2],
                    Term::binary(big.clone()),
                    "the big message arrives whole"
                );
            }
            order.push(format!("{}{}", t[0], t[1]));
        }
    })
    .await;
    // Each 8 MiB message went in 64 KiB fragments.
    assert_eq!(last_fragments, 4);
    assert!(fragments >= 4 * 128, "{fragments} fragments");
    // The probes, queued after the whole 32 MiB stream, were not stuck behind it: all
    // of them came before its second half (only the kernel's socket buffers, a few MiB,
    // were ahead of them).
    let last_probe = order.iter().position(|s| s == "probe19").unwrap();
    let big2_done = order.iter().position(|s| s == "big2").unwrap();
    assert!(last_probe < big2_done, "{order:?}");
    // Each sender's own order is kept: the big ones in order, and the small message
    // that followed them after the last.
    let bigs: Vec<&String> = order.iter().filter(|s| s.starts_with("big")).collect();
    assert_eq!(bigs, ["big0", "big1", "big2", "big3", "big_done4"]);
    let probes: Vec<&String> = order.iter().filter(|s| s.starts_with("probe")).collect();
    let want: Vec<String> = (0..20).map(|i| format!("probe{i}")).collect();
    assert_eq!(probes, want.iter().collect::<Vec<_>>());
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragments_between_ferrobeam_nodes_reassemble_and_interleave() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    let mut inbox = Mailbox::new(&b, Some("sink"));
    let bn = b.name().to_string();
    let sizes = [64 * 1024, 64 * 1024 + 1, 200_000, 4 * 1024 * 1024 + 7];
    let payloads: Vec<Bytes> = sizes
        .iter()
        .enumerate()
        .map(|(k, n)| {
            Bytes::from(
                (0..*n)
                    .map(|i| ((i * 7 + k) % 256) as u8)
                    .collect::<Vec<u8>>(),
            )
        })
        .collect();
    let p2 = payloads.clone();
    let bn2 = bn.clone();
    // Two senders of large messages at once (their fragments interleave on the
    // connection), and one of small ones.
    for s in 0..2 {
        let p2 = p2.clone();
        let bn2 = bn2.clone();
        a.node().spawn(move |ctx: Ctx| async move {
            for (k, p) in p2.iter().enumerate() {
                // Large messages nested in a term, and a map.
                let m = Term::tuple(vec![
                    Term::from(s),
                    Term::from(k),
                    Term::map(vec![(Term::atom("data"), Term::binary(p.clone()))]),
                ]);
                ctx.send(("sink", bn2.as_str()), m).unwrap();
            }
        });
    }
    a.node().spawn(move |ctx: Ctx| async move {
        for i in 0..50 {
            ctx.send(
                ("sink", bn.as_str()),
                Term::tuple(vec![Term::atom("small"), Term::from(i)]),
            )
            .unwrap();
            tokio::task::yield_now().await;
        }
    });
    let mut next = [0usize; 2];
    let mut smalls = 0;
    for _ in 0..(2 * sizes.len() + 50) {
        let m = inbox.recv(20).await;
        let t = m.as_tuple().unwrap();
        if t[0].is_atom("small") {
            assert_eq!(t[1], Term::from(smalls));
            smalls += 1;
            continue;
        }
        let s = match t[0] {
            Term::Int(s) => s as usize,
            _ => panic!("{m}"),
        };
        assert_eq!(t[1], Term::from(next[s]), "sender {s} in order");
        let data = t[2]
            .as_map()
            .unwrap()
            .get(&Term::atom("data"))
            .unwrap()
            .clone();
        assert_eq!(data, Term::binary(payloads[next[s]].clone()));
        next[s] += 1;
    }
    assert_eq!(next, [sizes.len(), sizes.len()]);
    assert_eq!(smalls, 50);
    a.shutdown().await;
    b.shutdown().await;
}

/// The resident set size of this process, in bytes.
fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<usize>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_to_a_slow_peer_keeps_memory_flat_and_drops_nothing() {
    const MSG: usize = 64 * 1024;
    const COUNT: usize = 16 * 1024; // 1 GiB in all
    const LIMIT: usize = 4 * 1024 * 1024;
    let c = Cluster::new().await;
    let mut cfg = c.config("a");
    cfg.busy_limit = LIMIT;
    let a = c.start(cfg).await;
    let mut sock = raw_peer(&c, &a, "drain").await;
    let peer = full("drain");
    let baseline = rss();
    // The fast sender: a fresh 64 KiB binary each time, as fast as it is let.
    let p = peer.clone();
    let sender = a.node().spawn(move |ctx: Ctx| async move {
        for i in 0..COUNT {
            let mut v = vec![(i % 256) as u8; MSG];
            v[1] = (i / 256 % 256) as u8;
            ctx.send(("sink", p.as_str()), Term::binary(v)).unwrap();
            tokio::task::yield_now().await;
        }
    });
    // Watch the output buffer and the memory while the slow peer reads.
    let max_q = Arc::new(AtomicUsize::new(0));
    let max_rss = Arc::new(AtomicUsize::new(0));
    let watcher_node = a.clone();
    let p = peer.clone();
    let (mq, mr) = (max_q.clone(), max_rss.clone());
    let watch = tokio::spawn(async move {
        loop {
            mq.fetch_max(watcher_node.queued_bytes(&p), Ordering::Relaxed);
            mr.fetch_max(rss(), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let started = Instant::now();
    let mut n = 0usize;
    // About 400 MB/s: the peer is the bottleneck.
    read_sink(&mut sock, COUNT, 400_000_000, |s| {
        if let Seen::Message(Term::Binary(b)) = s {
            assert_eq!(b.len(), MSG);
            assert_eq!(
                (b[0] as usize, b[1] as usize),
                (n % 256, n / 256 % 256),
                "message {n}"
            );
            n += 1;
        }
    })
    .await;
    let took = started.elapsed();
    watch.abort();
    assert_eq!(n, COUNT, "every message arrived, in order");
    let _ = a.node().wait_exit(&sender).await;
    // The buffer never went much over its limit (by one message per sender at most),
    // and memory stayed far below the 1 GiB sent.
    let q = max_q.load(Ordering::Relaxed);
    let peak = max_rss.load(Ordering::Relaxed).max(rss());
    eprintln!(
        "flood: {COUNT} x {MSG} B in {took:?}; most queued {q}; rss baseline {baseline} peak {peak}"
    );
    assert!(
        q > LIMIT / 2,
        "the peer was not the bottleneck (most queued {q})"
    );
    assert!(q <= LIMIT + 4 * MSG, "most queued {q}");
    assert!(
        peak < baseline + 256 * 1024 * 1024,
        "rss grew from {baseline} to {peak}"
    );
    a.shutdown().await;
}
