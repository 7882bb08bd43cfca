//! The link protocol between ferrobeam nodes: links and unlinks racing from both sides
//! end with both processes agreeing on whether they are linked (`UNLINK_ID`, its ack,
//! and a `LINK` ignored while an unlink is outstanding); exit signals across nodes with
//! `trap_exit` and `kill`.

#[path = "dist_support.rs"]
mod support;

use ferrobeam::{Ctx, Pid, Term};
use std::time::Duration;
use support::*;
use tokio::sync::oneshot;

/// A process that links to and unlinks from `peer` (sent to it) `rounds` times in a
/// pseudo-random pattern, then waits, then reports whether it is linked to it.
fn racer(node: &ferrobeam::Node, seed: u64, rounds: usize, done: oneshot::Sender<bool>) -> Pid {
    node.spawn(move |ctx: Ctx| async move {
        ctx.trap_exit(true);
        let peer = ctx
            .receive()
            .await
            .as_pid()
            .cloned()
            .expect("the peer's pid");
        let mut x = seed;
        for _ in 0..rounds {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 2 == 0 {
                ctx.link(&peer).unwrap();
            } else {
                ctx.unlink(&peer);
            }
            if x % 5 == 0 {
                tokio::task::yield_now().await;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = done.send(ctx.links().contains(&peer));
        ctx.trap_exit(false);
        // Stay alive so that the other side's view cannot change meanwhile.
        ctx.receive().await;
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_links_and_unlinks_end_in_agreement() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    let mut linked = 0;
    for round in 0..12u64 {
        let (ta, ra) = oneshot::channel();
        let (tb, rb) = oneshot::channel();
        let pa = racer(a.node(), 0x9e37_79b9 + round * 7, 300, ta);
        let pb = racer(b.node(), 0x85eb_ca6b + round * 13, 301 + round as usize, tb);
        a.node().send(&pa, Term::Pid(pb.clone())).unwrap();
        b.node().send(&pb, Term::Pid(pa.clone())).unwrap();
        let (la, lb) = (ra.await.unwrap(), rb.await.unwrap());
        assert_eq!(
            la, lb,
            "round {round}: a thinks linked={la}, b thinks linked={lb}"
        );
        if la {
            linked += 1;
            // And the link works: a's exit reaches b.
            let pb_exit = b.node().wait_exit(&pb);
            a.node().exit(&pa, Term::atom("kill"));
            assert_eq!(pb_exit.await, Term::atom("killed"));
        } else {
            a.node().exit(&pa, Term::atom("kill"));
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(
                b.node().is_alive(&pb),
                "round {round}: not linked, yet killed"
            );
            b.node().exit(&pb, Term::atom("kill"));
        }
    }
    eprintln!("{linked} of 12 rounds ended linked");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_signals_across_nodes_with_trap_exit_and_kill() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    let mut inbox = Mailbox::new(&a, None);
    let report = inbox.pid.clone();
    // A trapping process on b, linked to a process on a.
    let target = a.node().spawn(|ctx: Ctx| async move {
        let m = ctx.receive().await;
        Err::<(), Term>(m)
    });
    let t2 = target.clone();
    let trapper = b.node().spawn(move |ctx: Ctx| async move {
        ctx.trap_exit(true);
        ctx.link(&t2).unwrap();
        loop {
            let m = ctx.receive().await;
            if ctx.send(&report, m).is_err() {
                return;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // exit/2 with a reason: a message for the trapping process.
    a.node().exit(&trapper, t("{please, stop}"));
    let m = inbox.recv(5).await;
    assert_eq!(m.as_tuple().unwrap()[2], t("{please,stop}"));
    // A link exit: a message too.
    a.node().send(&target, t("{custom, 9}")).unwrap();
    let m = inbox.recv(5).await;
    assert_eq!(
        m,
        Term::tuple(vec![Term::atom("EXIT"), Term::Pid(target), t("{custom,9}")])
    );
    // kill cannot be trapped; the killed process's links see killed.
    let watcher = a.node().spawn(|ctx: Ctx| async move {
        ctx.receive().await;
    });
    let w2 = watcher.clone();
    let victim = b.node().spawn(move |ctx: Ctx| async move {
        ctx.trap_exit(true);
        ctx.link(&w2).unwrap();
        ctx.receive().await;
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let watcher_exit = a.node().wait_exit(&watcher);
    let victim_exit = b.node().wait_exit(&victim);
    a.node().exit(&victim, Term::atom("kill"));
    assert_eq!(victim_exit.await, Term::atom("killed"));
    assert_eq!(watcher_exit.await, Term::atom("killed"));
    let _ = trapper;
    a.shutdown().await;
    b.shutdown().await;
}
