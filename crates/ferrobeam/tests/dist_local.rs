//! ferrobeam ↔ ferrobeam distribution, several nodes in one process, each test with its
//! own EPMD.

#[path = "dist_support.rs"]
mod support;

use ferrobeam::dist::{MonitorNodesOptions, NameKind, NodeKind, NodeTypeFilter, Ping};
use ferrobeam::{Atom, Dest, Term};
use std::time::{Duration, Instant};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_connect_nodes_and_wrong_cookie() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    assert_eq!(a.name().as_str(), full("a"));
    assert!(a.nodes().is_empty());
    assert_eq!(a.ping(b.name().as_str()).await, Ping::Pong);
    assert_eq!(a.nodes(), vec![b.name().clone()]);
    wait_for(5, "b sees a", || b.nodes() == vec![a.name().clone()]).await;
    assert_eq!(
        a.nodes_of(&[NodeKind::This, NodeKind::Visible]),
        vec![a.name().clone(), b.name().clone()]
    );
    assert!(a.nodes_of(&[NodeKind::Hidden]).is_empty());
    assert_eq!(a.nodes_of(&[NodeKind::Connected]), vec![b.name().clone()]);
    // Pinging oneself is pong; an unknown node is pang.
    assert_eq!(a.ping(a.name().as_str()).await, Ping::Pong);
    assert_eq!(a.ping(&full("nobody")).await, Ping::Pang);
    assert!(!a.connect(&full("nobody")).await);

    // A node with another cookie is refused both ways.
    let mut cfg = c.config("evil");
    cfg.cookie = Some("wrong".into());
    let evil = c.start(cfg).await;
    assert_eq!(evil.ping(a.name().as_str()).await, Ping::Pang);
    assert!(!evil.connect(a.name().as_str()).await);
    assert_eq!(a.ping(evil.name().as_str()).await, Ping::Pang);
    assert!(!a.connect(evil.name().as_str()).await);
    assert!(evil.nodes().is_empty());
    assert_eq!(a.nodes(), vec![b.name().clone()]);
    // set_cookie fixes it.
    evil.set_cookie(COOKIE);
    assert_eq!(evil.get_cookie().expose(), COOKIE);
    assert_eq!(evil.ping(a.name().as_str()).await, Ping::Pong);
    for n in [a, b, evil] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_and_long_names_refuse_each_other() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let mut cfg = c.config("l@127.0.0.1");
    cfg.kind = NameKind::Long;
    let l = c.start(cfg).await;
    assert_eq!(l.name().as_str(), "l@127.0.0.1");
    assert_eq!(a.ping("l@127.0.0.1").await, Ping::Pang);
    assert_eq!(l.ping(a.name().as_str()).await, Ping::Pang);
    assert!(a.nodes().is_empty() && l.nodes().is_empty());
    a.shutdown().await;
    l.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_name_and_pid_both_ways() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    let mut at_a = Mailbox::new(&a, Some("inbox"));
    let mut at_b = Mailbox::new(&b, Some("inbox"));
    // {Name, Node} connects on demand.
    a.node()
        .send(("inbox", b.name().as_str()), t("{hello, from_a}"))
        .unwrap();
    assert_eq!(at_b.recv(5).await, t("{hello, from_a}"));
    b.node()
        .send(("inbox", a.name().as_str()), t("{hello, from_b}"))
        .unwrap();
    assert_eq!(at_a.recv(5).await, t("{hello, from_b}"));
    // A pid travels and gets replies.
    let reply = Term::tuple(vec![Term::atom("reply_to"), Term::Pid(at_a.pid.clone())]);
    a.node().send(("inbox", b.name().as_str()), reply).unwrap();
    let got = at_b.recv(5).await;
    let pid = got.as_tuple().unwrap()[1].as_pid().unwrap().clone();
    assert_eq!(pid, at_a.pid);
    b.node().send(&pid, t("\"to a pid\"")).unwrap();
    assert_eq!(at_a.recv(5).await, t("\"to a pid\""));
    // An unknown registered name: dropped silently, the connection stays.
    a.node()
        .send(("nobody_here", b.name().as_str()), Term::atom("lost"))
        .unwrap();
    a.node()
        .send(("inbox", b.name().as_str()), Term::atom("after"))
        .unwrap();
    assert_eq!(at_b.recv(5).await, Term::atom("after"));
    assert_eq!(a.nodes(), vec![b.name().clone()]);
    // Large binaries, in a tuple and alone.
    let big = Term::binary(vec![42u8; 300_000]);
    let msg = Term::tuple(vec![Term::atom("big"), big.clone()]);
    a.node()
        .send(("inbox", b.name().as_str()), msg.clone())
        .unwrap();
    assert_eq!(at_b.recv(5).await, msg);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_is_kept_under_load() {
    order_under_load(ferrobeam::dist::DEFAULT_READ_SPIN).await;
}

/// The same with the readers' busy poll off: every packet is read after the runtime
/// reports the socket readable, none by the reader's own polling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_is_kept_under_load_without_read_spin() {
    order_under_load(Duration::ZERO).await;
}

/// Two senders on node A stream to a sink on node B (small terms, and a 10 kB binary
/// every 1000th): each one's messages arrive whole and in order.
async fn order_under_load(read_spin: Duration) {
    let c = Cluster::new().await;
    let a = c.start(c.config("a").read_spin(read_spin)).await;
    let b = c.start(c.config("b").read_spin(read_spin)).await;
    let mut at_b = Mailbox::new(&b, Some("sink"));
    let target = b.name().clone();
    const N: i64 = 50_000;
    // Two senders interleave; each one's messages must arrive in order.
    let senders: Vec<_> = (0..2)
        .map(|s| {
            let target = target.clone();
            a.node().spawn(move |ctx| async move {
                for i in 0..N {
                    let payload = if i % 1000 == 0 {
                        Term::binary(vec![s as u8; 10_000])
                    } else {
                        Term::Int(i)
                    };
                    let m = Term::tuple(vec![Term::Int(s), Term::Int(i), payload]);
                    ctx.send(Dest::Remote(Atom::new("sink"), target.clone()), m)
                        .unwrap();
                }
            })
        })
        .collect();
    assert_eq!(senders.len(), 2);
    let mut next = [0i64; 2];
    let started = Instant::now();
    while next.iter().any(|n| *n < N) {
        let m = at_b.recv(20).await;
        let t = m.as_tuple().unwrap();
        let s = t[0].as_int().unwrap() as usize;
        let i = t[1].as_int().unwrap();
        assert_eq!(i, next[s], "sender {s} out of order");
        if i % 1000 == 0 {
            assert_eq!(
                t[2],
                Term::binary(vec![s as u8; 10_000]),
                "payload of {s}/{i}"
            );
        }
        next[s] += 1;
    }
    eprintln!("{} messages in {:?}", 2 * N, started.elapsed());
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_after_disconnect_reconnects() {
    let c = Cluster::new().await;
    let chip = c.node("chip").await;
    let dale = c.node("dale").await;
    let mut my_iex = Mailbox::new(&chip, Some("my_iex"));
    assert!(dale.connect(chip.name().as_str()).await);
    assert_eq!(dale.nodes(), vec![chip.name().clone()]);
    assert!(dale.disconnect(chip.name().as_str()));
    assert!(dale.nodes().is_empty());
    wait_for(5, "chip sees the disconnect", || chip.nodes().is_empty()).await;
    assert!(!dale.disconnect(chip.name().as_str()));
    dale.node()
        .send(
            ("my_iex", chip.name().as_str()),
            Term::atom("hello_from_dale"),
        )
        .unwrap();
    assert_eq!(my_iex.recv(5).await, Term::atom("hello_from_dale"));
    assert_eq!(chip.nodes(), vec![dale.name().clone()]);
    // A remote pid reconnects too.
    assert!(chip.disconnect(dale.name().as_str()));
    wait_for(5, "dale sees the disconnect", || dale.nodes().is_empty()).await;
    dale.node().send(&my_iex.pid, Term::atom("to_pid")).unwrap();
    assert_eq!(my_iex.recv(5).await, Term::atom("to_pid"));
    chip.shutdown().await;
    dale.shutdown().await;
}

fn reason_of(m: &Term) -> String {
    m.as_tuple().unwrap()[2].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodeup_and_nodedown_with_reasons() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    let mut ma = Mailbox::new(&a, None);
    let mut mb = Mailbox::new(&b, None);
    let mut plain = Mailbox::new(&a, None);
    let opts = MonitorNodesOptions {
        node_type: None,
        nodedown_reason: true,
    };
    a.monitor_nodes(&ma.pid, true, opts);
    b.monitor_nodes(&mb.pid, true, opts);
    a.monitor_nodes(&plain.pid, true, MonitorNodesOptions::default());
    let (an, bn) = (a.name().to_string(), b.name().to_string());
    assert!(a.connect(&bn).await);
    assert_eq!(ma.recv(5).await, t(&format!("{{nodeup,'{bn}',[]}}")));
    assert_eq!(mb.recv(5).await, t(&format!("{{nodeup,'{an}',[]}}")));
    assert_eq!(plain.recv(5).await, t(&format!("{{nodeup,'{bn}'}}")));
    // monitor_node: one message per call.
    let mut mn = Mailbox::new(&a, None);
    a.monitor_node(&mn.pid, &bn, true);
    a.monitor_node(&mn.pid, &bn, true);
    assert!(a.disconnect(&bn));
    assert_eq!(
        ma.recv(5).await,
        t(&format!(
            "{{nodedown,'{bn}',[{{nodedown_reason,disconnect}}]}}"
        ))
    );
    assert_eq!(plain.recv(5).await, t(&format!("{{nodedown,'{bn}'}}")));
    let down = mb.recv(5).await;
    assert_eq!(reason_of(&down), "[{nodedown_reason,connection_closed}]");
    let nd = t(&format!("{{nodedown,'{bn}'}}"));
    assert_eq!(mn.recv(5).await, nd);
    assert_eq!(mn.recv(5).await, nd);
    assert_eq!(mn.try_recv(200).await, None);
    // monitor_node on a node that cannot be reached: nodedown at once.
    a.monitor_node(&mn.pid, &full("nobody"), true);
    assert_eq!(
        mn.recv(10).await,
        t(&format!("{{nodedown,'{}'}}", full("nobody")))
    );
    // Turning monitoring off.
    a.monitor_nodes(&plain.pid, false, MonitorNodesOptions::default());
    assert!(a.connect(&bn).await);
    assert_eq!(ma.recv(5).await, t(&format!("{{nodeup,'{bn}',[]}}")));
    assert_eq!(plain.try_recv(300).await, None);
    // The peer shutting down: connection_closed.
    b.shutdown().await;
    let down = ma.recv(5).await;
    assert_eq!(reason_of(&down), "[{nodedown_reason,connection_closed}]");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_and_monitors_get_noconnection() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    let target = Mailbox::new(&b, Some("target"));
    let bn = b.name().clone();
    assert!(a.connect(bn.as_str()).await);
    let tp = target.pid.clone();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    a.node().spawn(move |ctx| async move {
        ctx.trap_exit(true);
        ctx.link(&tp).unwrap();
        let m1 = ctx.monitor(&tp);
        let m2 = ctx.monitor(Dest::Remote(Atom::new("target"), bn.clone()));
        let m3 = ctx.monitor(Dest::Remote(Atom::new("nobody"), bn.clone()));
        // A monitor of a name that is not registered: noproc at once.
        let d = ctx.receive().await;
        tx.send(("noproc", d, m3)).unwrap();
        tx.send(("ready", Term::nil(), m1.clone())).unwrap();
        for _ in 0..3 {
            let m = ctx.receive().await;
            tx.send(("got", m, m2.clone())).unwrap();
        }
    });
    let (_, d, m3) = rx.recv().await.unwrap();
    let d = d.as_tuple().unwrap().to_vec();
    assert!(d[0].is_atom("DOWN"));
    assert_eq!(d[1].as_ref(), Some(&m3));
    assert!(d[4].is_atom("noproc"), "{:?}", d[4]);
    let _ = rx.recv().await.unwrap();
    wait_for(5, "link and monitors arrive", || {
        b.node().is_alive(&target.pid)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(a.disconnect(b.name().as_str()));
    let mut got = Vec::new();
    for _ in 0..3 {
        let (_, m, _) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("noconnection signals")
            .unwrap();
        got.push(m);
    }
    let exits = got
        .iter()
        .filter(|m| m.as_tuple().unwrap()[0].is_atom("EXIT"))
        .count();
    let downs = got
        .iter()
        .filter(|m| m.as_tuple().unwrap()[0].is_atom("DOWN"))
        .count();
    assert_eq!((exits, downs), (1, 2), "{got:?}");
    for m in &got {
        let t = m.as_tuple().unwrap();
        assert!(t[t.len() - 1].is_atom("noconnection"), "{m}");
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_monitor_down_and_link_exit() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    // A process on b that ends when told to.
    let victim = b.node().spawn(|ctx| async move {
        let m = ctx.receive().await;
        Err::<(), Term>(m)
    });
    b.node().register("victim", &victim).unwrap();
    let bn = b.name().clone();
    let out = a
        .node()
        .run(move |ctx| async move {
            ctx.trap_exit(true);
            let r = ctx.monitor(Dest::Remote(Atom::new("victim"), bn.clone()));
            ctx.link(&victim).unwrap();
            ctx.send(&victim, Term::atom("boom")).unwrap();
            let a = ctx.receive_timeout(Duration::from_secs(5)).await;
            let b = ctx.receive_timeout(Duration::from_secs(5)).await;
            (r, a, b)
        })
        .await
        .unwrap();
    let (r, m1, m2) = out;
    let msgs = [m1.expect("first"), m2.expect("second")];
    let down = msgs
        .iter()
        .find(|m| m.as_tuple().unwrap()[0].is_atom("DOWN"))
        .expect("DOWN");
    let d = down.as_tuple().unwrap();
    assert_eq!(d[1].as_ref(), Some(&r));
    assert_eq!(d[3], t(&format!("{{victim,'{}'}}", b.name())));
    assert!(d[4].is_atom("boom"));
    let exit = msgs
        .iter()
        .find(|m| m.as_tuple().unwrap()[0].is_atom("EXIT"))
        .expect("EXIT");
    assert!(exit.as_tuple().unwrap()[2].is_atom("boom"));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesh_of_three() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    let cc = c.node("c").await;
    assert!(a.connect(b.name().as_str()).await);
    assert!(cc.connect(a.name().as_str()).await);
    let all =
        |n: &ferrobeam::dist::DistNode| n.nodes_of(&[NodeKind::This, NodeKind::Visible]).len();
    wait_for(5, "full mesh", || {
        all(&a) == 3 && all(&b) == 3 && all(&cc) == 3
    })
    .await;
    assert!(cc.nodes().contains(b.name()));
    assert!(b.nodes().contains(cc.name()));
    // A hidden node stays out of the mesh.
    let mut cfg = c.config("h");
    cfg.hidden = true;
    let h = c.start(cfg).await;
    assert!(h.connect(a.name().as_str()).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(h.nodes().is_empty());
    assert_eq!(h.nodes_of(&[NodeKind::Hidden]), vec![a.name().clone()]);
    assert_eq!(a.nodes_of(&[NodeKind::Hidden]), vec![h.name().clone()]);
    assert!(!a.nodes().contains(h.name()));
    assert!(b.nodes_of(&[NodeKind::Connected]).len() == 2);
    for n in [a, b, cc, h] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_node_is_listed_as_hidden_and_monitored_with_node_type() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let mut cfg = c.config("h");
    cfg.hidden = true;
    let h = c.start(cfg).await;
    assert!(h.is_hidden());
    let mut vis = Mailbox::new(&a, None);
    let mut all = Mailbox::new(&a, None);
    a.monitor_nodes(&vis.pid, true, MonitorNodesOptions::default());
    a.monitor_nodes(
        &all.pid,
        true,
        MonitorNodesOptions {
            node_type: Some(NodeTypeFilter::All),
            nodedown_reason: true,
        },
    );
    assert_eq!(h.ping(a.name().as_str()).await, Ping::Pong);
    let hn = h.name().to_string();
    assert_eq!(
        all.recv(5).await,
        t(&format!("{{nodeup,'{hn}',[{{node_type,hidden}}]}}"))
    );
    assert!(a.nodes().is_empty());
    assert_eq!(a.nodes_of(&[NodeKind::Hidden]), vec![h.name().clone()]);
    assert_eq!(h.nodes_of(&[NodeKind::Hidden]), vec![a.name().clone()]);
    assert!(h.disconnect(a.name().as_str()));
    assert_eq!(
        all.recv(5).await,
        t(&format!(
            "{{nodedown,'{hn}',[{{nodedown_reason,connection_closed}},{{node_type,hidden}}]}}"
        ))
    );
    assert_eq!(vis.try_recv(300).await, None);
    a.shutdown().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_connects_give_one_connection() {
    let c = Cluster::new().await;
    let a = c.node("a").await;
    let b = c.node("b").await;
    let mut ma = Mailbox::new(&a, None);
    let mut mb = Mailbox::new(&b, None);
    let opts = MonitorNodesOptions {
        node_type: None,
        nodedown_reason: true,
    };
    a.monitor_nodes(&ma.pid, true, opts);
    b.monitor_nodes(&mb.pid, true, opts);
    for round in 0..25 {
        let (an, bn) = (a.name().to_string(), b.name().to_string());
        let (a2, b2) = (a.clone(), b.clone());
        let (ra, rb) = tokio::join!(async move { a2.connect(&bn).await }, async move {
            b2.connect(&an).await
        });
        assert!(ra && rb, "round {round}: {ra} {rb}");
        // Exactly one nodeup on each side, and nothing more (no flapping).
        assert!(ma.recv(5).await.as_tuple().unwrap()[0].is_atom("nodeup"));
        assert!(mb.recv(5).await.as_tuple().unwrap()[0].is_atom("nodeup"));
        assert_eq!(ma.try_recv(100).await, None, "round {round}");
        assert_eq!(mb.try_recv(0).await, None, "round {round}");
        assert_eq!(a.nodes(), vec![b.name().clone()]);
        assert_eq!(b.nodes(), vec![a.name().clone()]);
        // Traffic flows on the surviving connection.
        assert_eq!(a.ping(b.name().as_str()).await, Ping::Pong);
        assert!(a.disconnect(b.name().as_str()));
        assert!(ma.recv(5).await.as_tuple().unwrap()[0].is_atom("nodedown"));
        assert!(mb.recv(5).await.as_tuple().unwrap()[0].is_atom("nodedown"));
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_names_and_cookie_file() {
    let c = Cluster::new().await;
    let dir = std::env::temp_dir().join(format!("fb-dist-cookie-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(".erlang.cookie");
    let mk = |name: &str| {
        let mut cfg = c.config(name);
        cfg.kind = NameKind::Long;
        cfg.cookie = None;
        cfg.cookie_file = Some(file.clone());
        cfg
    };
    // The first node creates the cookie file (mode 0400), the second reads it.
    let x = c.start(mk("x@127.0.0.1")).await;
    let y = c.start(mk("y@127.0.0.1")).await;
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o400);
    assert_eq!(x.get_cookie(), y.get_cookie());
    assert_eq!(x.ping("y@127.0.0.1").await, Ping::Pong);
    assert_eq!(y.nodes(), vec![Atom::new("x@127.0.0.1")]);
    x.shutdown().await;
    y.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
