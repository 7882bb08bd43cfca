//! The hash ring: the seed's transcript, and keys move only from or to the node that
//! changed (property test).

use ferrobeam_ratelimit::ring::{hash, HashRing, DEFAULT_POINTS};
use proptest::prelude::*;
use std::collections::BTreeSet;

#[test]
fn the_seeds_transcript() {
    // iex(b@127.0.0.1)6> Ring.add_node(ring, "a@127.0.0.1") ... find_node(ring, "result1")
    let mut ring = HashRing::new();
    assert_eq!(ring.points_per_node(), DEFAULT_POINTS);
    assert_eq!(ring.find_node("result1"), None);
    assert!(ring.add_node("a@127.0.0.1"));
    assert!(ring.add_node("b@127.0.0.1"));
    assert!(ring.add_node("c@127.0.0.1"));
    assert!(!ring.add_node("c@127.0.0.1"));
    assert_eq!(ring.find_node("result1"), Some("c@127.0.0.1"));
    assert_eq!(ring.find_node("result2"), Some("a@127.0.0.1"));
    assert_eq!(ring.find_node("result4"), Some("b@127.0.0.1"));
    assert!(ring.remove_node("c@127.0.0.1"));
    assert!(!ring.remove_node("c@127.0.0.1"));
    assert_eq!(ring.nodes(), vec!["a@127.0.0.1", "b@127.0.0.1"]);
    assert_eq!(ring.find_node("result4"), Some("b@127.0.0.1"));
    assert_eq!(ring.find_node("result1"), Some("a@127.0.0.1"));
    assert!(ring.add_node("c@127.0.0.1"));
    assert_eq!(ring.find_node("result1"), Some("c@127.0.0.1"));
}

#[test]
fn hash_is_the_last_8_bytes_of_md5_little_endian() {
    // md5("") = d41d8cd98f00b204 e9800998ecf8427e
    assert_eq!(
        hash(b""),
        u64::from_le_bytes([0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e])
    );
}

#[test]
fn keys_spread_over_the_nodes() {
    let mut ring = HashRing::new();
    for n in ["a@h", "b@h", "c@h"] {
        ring.add_node(n);
    }
    let mut counts = std::collections::HashMap::new();
    for i in 0..9000 {
        *counts
            .entry(
                ring.find_node(&format!("10.0.{}.{}", i / 256, i % 256))
                    .unwrap(),
            )
            .or_insert(0) += 1;
    }
    for (n, c) in counts {
        assert!((2000..4000).contains(&c), "{n} owns {c} of 9000 keys");
    }
}

fn node_set() -> impl Strategy<Value = BTreeSet<String>> {
    prop::collection::btree_set("[a-z]{1,6}@(host|127\\.0\\.0\\.1)", 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn adding_a_node_moves_keys_only_to_it(
        nodes in node_set(),
        new in "[a-z]{1,6}@host",
        keys in prop::collection::vec(".{0,20}", 1..300),
    ) {
        prop_assume!(!nodes.contains(&new));
        let mut before = HashRing::new();
        for n in &nodes {
            before.add_node(n);
        }
        let mut after = before.clone();
        after.add_node(&new);
        for k in &keys {
            let (b, a) = (before.find_node(k).unwrap(), after.find_node(k).unwrap());
            prop_assert!(b == a || a == new, "{k:?} moved from {b} to {a}, not to {new}");
        }
    }

    #[test]
    fn removing_a_node_moves_only_its_keys(
        nodes in node_set(),
        which in any::<prop::sample::Index>(),
        keys in prop::collection::vec(".{0,20}", 1..300),
    ) {
        let mut before = HashRing::new();
        for n in &nodes {
            before.add_node(n);
        }
        let gone: String = which.get(&nodes.iter().cloned().collect::<Vec<_>>()).clone();
        let mut after = before.clone();
        after.remove_node(&gone);
        for k in &keys {
            let b = before.find_node(k).unwrap();
            match after.find_node(k) {
                None => prop_assert!(nodes.len() == 1),
                Some(a) => prop_assert!(b == a || b == gone, "{k:?} moved from {b} to {a}"),
            }
        }
    }

    #[test]
    fn the_order_of_additions_does_not_matter(nodes in node_set(), keys in prop::collection::vec(".{0,20}", 1..100)) {
        let mut fwd = HashRing::new();
        let mut rev = HashRing::new();
        for n in &nodes {
            fwd.add_node(n);
        }
        for n in nodes.iter().rev() {
            rev.add_node(n);
        }
        for k in &keys {
            prop_assert_eq!(fwd.find_node(k), rev.find_node(k));
        }
    }
}
