//! Signals between one pair of processes arrive in the order they were sent, under
//! concurrency: messages, links, exit signals and monitors.

use ferrobeam::{Node, Pid, Term};
use std::time::Duration;

fn atom(s: &str) -> Term {
    Term::atom(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_sender_message_order_with_many_concurrent_senders() {
    const SENDERS: i64 = 16;
    const EACH: i64 = 2000;
    let node = Node::new();
    let ok = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            let mut senders = Vec::new();
            for s in 0..SENDERS {
                let me = me.clone();
                senders.push(ctx.spawn(move |ctx| async move {
                    for i in 0..EACH {
                        ctx.send(&me, Term::tuple(vec![Term::Int(s), Term::Int(i)]))
                            .unwrap();
                        if i % 97 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                }));
            }
            let mut next = vec![0i64; SENDERS as usize];
            for _ in 0..SENDERS * EACH {
                let m = ctx.receive().await;
                let tup = m.as_tuple().unwrap();
                let s = tup[0].as_int().unwrap() as usize;
                let i = tup[1].as_int().unwrap();
                assert_eq!(i, next[s], "sender {s} out of order");
                next[s] += 1;
            }
            next.iter().all(|&n| n == EACH)
        })
        .await
        .unwrap();
    assert!(ok);
}

/// Each sender links to the receiver, sends messages, then crashes (or ends normally):
/// the receiver (trapping) must see every message before the sender's `'EXIT'`. Same
/// with `exit/2` instead of a link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_before_exit_and_down_from_the_same_sender() {
    const PAIRS: usize = 200;
    const MSGS: i64 = 50;
    let node = Node::new();
    for round in 0..3 {
        let mut receivers = Vec::new();
        for _ in 0..PAIRS {
            let (tx, rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
            let recv = node.spawn(move |ctx| async move {
                ctx.trap_exit(true);
                let sender_ready = ctx.receive().await;
                let sender = sender_ready.as_pid().unwrap().clone();
                let mut expect = 0;
                let res = loop {
                    let m = ctx.receive().await;
                    match &m {
                        Term::Int(i) => {
                            if *i != expect {
                                break Err(format!("message {i}, expected {expect}"));
                            }
                            expect += 1;
                        }
                        Term::Tuple(t) if t[0].is_atom("EXIT") || t[0].is_atom("DOWN") => {
                            let from = if t[0].is_atom("EXIT") { &t[1] } else { &t[3] };
                            if from.as_pid() != Some(&sender) {
                                continue;
                            }
                            break if expect == MSGS {
                                Ok(())
                            } else {
                                Err(format!("{m:?} after only {expect} messages"))
                            };
                        }
                        _ => {}
                    }
                };
                let _ = tx.send(res);
            });
            receivers.push((recv, rx));
        }
        for (recv, _) in &receivers {
            let recv = recv.clone();
            node.spawn(move |ctx| async move {
                let me = ctx.self_pid().clone();
                if round < 2 {
                    ctx.link(&recv).unwrap();
                }
                ctx.send(&recv, Term::Pid(me.clone())).unwrap();
                for i in 0..MSGS {
                    ctx.send(&recv, Term::Int(i)).unwrap();
                }
                match round {
                    0 => Err(atom("crash")),
                    1 => Ok(()),
                    _ => {
                        ctx.exit(&recv, atom("bye"));
                        Ok(())
                    }
                }
            });
        }
        for (_, rx) in receivers {
            rx.await.unwrap().unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_before_down_from_monitored_senders() {
    const N: usize = 200;
    const MSGS: i64 = 50;
    let node = Node::new();
    let ok = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            let mut refs = std::collections::HashMap::new();
            for _ in 0..N {
                let me = me.clone();
                let (pid, r) = ctx.spawn_monitor(move |ctx| async move {
                    for i in 0..MSGS {
                        ctx.send(&me, Term::Int(i)).unwrap();
                    }
                    Err::<(), _>(atom("done"))
                });
                refs.insert(pid, (r, 0i64));
            }
            // Messages carry no sender, so count per sender by DOWN only after all its
            // messages: track totals instead, checking that when a DOWN arrives, every
            // message that sender sent is already in our queue or consumed.
            let mut downs = 0;
            let mut ints = 0;
            while downs < N {
                let m = ctx.receive().await;
                match &m {
                    Term::Int(_) => ints += 1,
                    Term::Tuple(t) if t[0].is_atom("DOWN") => {
                        downs += 1;
                        assert_eq!(t[4], atom("done"));
                        let pid: &Pid = t[3].as_pid().unwrap();
                        assert!(refs.remove(pid).is_some());
                    }
                    _ => panic!("unexpected {m:?}"),
                }
            }
            ints += ctx.flush().len() as i64;
            ints == N as i64 * MSGS
        })
        .await
        .unwrap();
    assert!(ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_unlink_link_then_crash_is_seen_after_the_message() {
    let node = Node::new();
    for _ in 0..200 {
        let out = node
            .run(|ctx| async move {
                ctx.trap_exit(true);
                let me = ctx.self_pid().clone();
                let s = ctx.spawn(move |ctx| async move {
                    ctx.link(&me).unwrap();
                    ctx.unlink(&me);
                    ctx.link(&me).unwrap();
                    ctx.send(&me, atom("last_words")).unwrap();
                    Err::<(), _>(atom("crash"))
                });
                let a = ctx.receive().await;
                let b = ctx.receive().await;
                let extra = ctx
                    .receive_timeout(std::time::Duration::from_millis(2))
                    .await;
                (s, a, b, extra)
            })
            .await
            .unwrap();
        assert_eq!(out.1, atom("last_words"));
        assert_eq!(
            out.2,
            Term::tuple(vec![atom("EXIT"), Term::Pid(out.0), atom("crash")])
        );
        assert_eq!(out.3, None);
    }
}

/// A run of messages to one process goes through the sender's cache of that process:
/// once the process has exited, further messages to its pid are dropped, and a new
/// process that takes over its slot in the process table (same number, another
/// serial) gets none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_to_an_exited_pid_reach_no_later_process_in_its_slot() {
    let node = Node::new();
    let ok = node
        .run(|ctx| async move {
            let me = ctx.self_pid().clone();
            // The target echoes three messages back, then exits.
            let target = ctx.spawn(move |ctx| async move {
                for _ in 0..3 {
                    let m = ctx.receive().await;
                    ctx.send(&me, m).unwrap();
                }
            });
            let r = ctx.monitor(&target);
            for i in 0..3 {
                ctx.send(&target, Term::Int(i)).unwrap();
            }
            for i in 0..3 {
                assert_eq!(ctx.receive().await, Term::Int(i));
            }
            let down = ctx.receive().await;
            assert!(matches!(&down, Term::Tuple(t) if t[0].is_atom("DOWN") && t[1] == Term::from(r.clone())));
            // Sent to the exited pid: dropped, from the cache and through the table.
            for i in 10..20 {
                ctx.send(&target, Term::Int(i)).unwrap();
            }
            // A process in the same slot: spawn until one gets the same number.
            let me = ctx.self_pid().clone();
            let mut reused = None;
            for _ in 0..100_000 {
                let me = me.clone();
                let p = ctx.spawn(move |ctx| async move {
                    let m = ctx.receive().await;
                    ctx.send(&me, m).unwrap();
                    if ctx.receive().await != atom("again") {
                        return;
                    }
                    let extra = ctx.receive_timeout(Duration::from_millis(50)).await;
                    ctx.send(&me, Term::tuple(vec![atom("extra"), Term::from(extra.is_some())]))
                        .unwrap();
                });
                if p.id == target.id {
                    reused = Some(p);
                    break;
                }
                ctx.send(&p, atom("skip")).unwrap();
            }
            let new = reused.expect("the slot of the exited process is reused");
            assert_ne!(new, target);
            // Twice to the new process first, so that it is the one the cache holds.
            ctx.send(&new, atom("hello")).unwrap();
            ctx.send(&new, atom("again")).unwrap();
            for i in 20..25 {
                ctx.send(&target, Term::Int(i)).unwrap();
            }
            let mut got = Vec::new();
            loop {
                let Some(m) = ctx.receive_timeout(Duration::from_secs(5)).await else {
                    break;
                };
                let done = matches!(&m, Term::Tuple(t) if t[0].is_atom("extra"));
                if !matches!(&m, Term::Atom(a) if a == "skip") {
                    got.push(m);
                }
                if done {
                    break;
                }
            }
            got == vec![atom("hello"), Term::tuple(vec![atom("extra"), Term::from(false)])]
        })
        .await
        .unwrap();
    assert!(ok);
}
