//! The distributed rate limiter on in-process clusters (testkit): exact limits
//! cluster-wide, three times as many without a cluster, fallback and ring changes.

use ferrobeam::Term;
use ferrobeam_ratelimit::limiter::{RateLimiter, Settings, SERVER_NAME};
use ferrobeam_ratelimit::window::{now_ms, Decision};
use ferrobeam_testkit::{wait_until, Cluster};
use std::time::Duration;

const LIMIT: u64 = 5;
const WINDOW_MS: u64 = 3_600_000;

fn settings() -> Settings {
    Settings {
        limit: LIMIT,
        window_ms: WINDOW_MS,
        call_timeout: Duration::from_millis(500),
        ..Settings::default()
    }
}

/// Waits for a new window if this one ends within 10 s, so that a test's counts stay in
/// one window.
async fn fresh_window() {
    let left = WINDOW_MS - now_ms() % WINDOW_MS;
    if left < 10_000 {
        tokio::time::sleep(Duration::from_millis(left + 50)).await;
    }
}

async fn limiters(c: &Cluster, n: usize) -> Vec<RateLimiter> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(
            RateLimiter::start(c.node(i), settings(), None)
                .await
                .unwrap(),
        );
    }
    v
}

async fn rings_have(ls: &[RateLimiter], n: usize) {
    wait_until(Duration::from_secs(10), "the rings", || {
        ls.iter().all(|l| l.ring_nodes().len() == n)
    })
    .await;
}

/// Round-robin `rounds` checks of `key` over the limiters; the number allowed.
async fn allowed(ls: &[RateLimiter], key: &str, rounds: usize) -> usize {
    let mut n = 0;
    for i in 0..rounds {
        if ls[i % ls.len()].check(key).await.decision.allowed() {
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_allow_exactly_the_limit_per_key_cluster_wide() {
    fresh_window().await;
    let c = Cluster::in_process(3).await;
    let ls = limiters(&c, 3).await;
    rings_have(&ls, 3).await;
    for key in ["10.0.0.1", "10.0.0.2", "192.168.7.7", "2001:db8::1"] {
        let owners: Vec<String> = ls.iter().map(|l| l.owner(key)).collect();
        assert!(owners.iter().all(|o| *o == owners[0]), "{key}: {owners:?}");
        assert_eq!(
            allowed(&ls, key, 3 * LIMIT as usize + 3).await,
            LIMIT as usize,
            "{key}"
        );
        // Every node agrees, and names the owner as the node that decided.
        for l in &ls {
            let r = l.check(key).await;
            assert_eq!(r.decision, Decision::Deny(LIMIT));
            assert_eq!(r.node, owners[0]);
            assert!(!r.fallback);
        }
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_unconnected_nodes_allow_three_times_as_many() {
    fresh_window().await;
    let c = Cluster::builder().nodes(3).mesh(false).in_process().await;
    let ls = limiters(&c, 3).await;
    for l in &ls {
        assert_eq!(l.ring_nodes(), vec![l.node_name().to_string()]);
    }
    assert_eq!(
        allowed(&ls, "10.0.0.1", 6 * LIMIT as usize).await,
        3 * LIMIT as usize
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_owner_means_a_local_check_then_a_new_owner() {
    fresh_window().await;
    let mut c = Cluster::in_process(3).await;
    let ls = limiters(&c, 3).await;
    rings_have(&ls, 3).await;
    let victim = ls[2].node_name().to_string();
    let key = (0..)
        .map(|i| format!("10.1.0.{i}"))
        .find(|k| ls[0].owner(k) == victim)
        .unwrap();

    // The owner's RateLimiter is gone, its node is up: the call fails, the check
    // falls back to the caller's own counters.
    let pid = c.node(2).node().whereis(SERVER_NAME).unwrap();
    c.node(2).node().exit(&pid, Term::atom("kill"));
    let r = ls[0].check(&key).await;
    assert!(r.fallback);
    assert_eq!(r.node, ls[0].node_name());
    assert_eq!(r.decision, Decision::Allow(1));

    // The owner's node dies: answered at once (by the fallback, or already by the new
    // owner), then by the new owner once the rings have changed.
    c.stop_node(2).await;
    let r = ls[1].check(&key).await;
    assert!(r.decision.allowed());
    let live = &ls[..2];
    rings_have(live, 2).await;
    let new_owner = ls[0].owner(&key);
    assert_ne!(new_owner, victim);
    assert_eq!(ls[1].owner(&key), new_owner);
    for l in live {
        let r = l.check(&key).await;
        assert_eq!(r.node, new_owner);
        assert!(!r.fallback);
    }
    // A fresh key is limited exactly across the two nodes that are left.
    assert_eq!(
        allowed(live, "10.2.0.1", 4 * LIMIT as usize).await,
        LIMIT as usize
    );
    c.shutdown().await;
}
