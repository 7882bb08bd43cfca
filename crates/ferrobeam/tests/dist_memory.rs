//! What a process keeps from messages that came from another node: a binary it keeps
//! from a short packet holds that packet, not the connection's read buffer with it.
//! Alone in its test binary, so that the process's resident memory is this test's.

#[path = "dist_support.rs"]
mod support;

use ferrobeam::{Atom, Dest, Term};
use support::*;

/// Resident memory of this OS process, in bytes (Linux).
fn rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Node A sends N messages with a 100-byte binary to a process on node B that keeps
/// them all, one at a time (each waits for the keeper's answer, so each packet is read
/// alone into a fresh buffer of the connection, the worst case). B's memory may grow by
/// what the messages hold, not by a read buffer (8 KiB) per message: 4.5 KB per message
/// when packets were slices of the read buffer, about 0.4 KB since short packets are
/// copied out of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_binaries_hold_their_packet_not_the_read_buffer() {
    let Some(_) = rss() else {
        eprintln!("no /proc/self/statm: resident memory cannot be read here");
        return;
    };
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    const N: usize = 4_000;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    b.node().spawn(move |ctx| async move {
        ctx.register("keeper").expect("register");
        let mut kept = Vec::with_capacity(N);
        for _ in 0..N {
            let m = ctx.receive().await;
            if let Some(from) = m.as_tuple().and_then(|t| t[0].as_pid()) {
                let _ = ctx.send(from, Term::atom("ack"));
            }
            kept.push(m);
        }
        let _ = done_tx.send(kept);
        // Stay alive (the messages are held by the test now).
        let _ = ctx.receive().await;
    });
    let target = b.name().clone();
    // The connection, its buffers and both processes exist before the first figure.
    let (warm_tx, warm_rx) = tokio::sync::oneshot::channel();
    let t2 = target.clone();
    a.node().spawn(move |ctx| async move {
        let _ = ctx.send(Dest::Remote(Atom::new("nobody"), t2), Term::atom("hello"));
        let _ = warm_tx.send(());
    });
    warm_rx.await.unwrap();
    wait_for(5, "a connection", || !a.nodes().is_empty()).await;
    let before = rss().unwrap();
    a.node().spawn(move |ctx| async move {
        let me = Term::Pid(ctx.self_pid().clone());
        for i in 0..N {
            let m = Term::tuple(vec![
                me.clone(),
                Term::Int(i as i64),
                Term::binary(vec![7u8; 100]),
            ]);
            ctx.send(Dest::Remote(Atom::new("keeper"), target.clone()), m)
                .unwrap();
            ctx.receive().await;
        }
    });
    let kept = tokio::time::timeout(std::time::Duration::from_secs(60), done_rx)
        .await
        .expect("the keeper got every message")
        .unwrap();
    let grew = rss().unwrap().saturating_sub(before);
    let per_message = grew / N as u64;
    eprintln!(
        "{} messages kept: resident memory grew by {grew} bytes, {per_message} per message",
        kept.len()
    );
    assert_eq!(kept.len(), N);
    assert!(
        per_message < 2_000,
        "each kept message holds {per_message} bytes: more than its packet (a read buffer?)"
    );
    a.shutdown().await;
    b.shutdown().await;
}
