//! A consistent hash ring (the seed's `ExHashRing.Ring`).
//!
//! Every node gets [`DEFAULT_POINTS`] (512) points on a ring of 64-bit hashes, at
//! `hash("{node}{i}")` for `i` in `0..512`; a key belongs to the node of the first point
//! whose hash is greater than the key's, wrapping around. A hash is the last 8 bytes of
//! the key's MD5, read as a little-endian integer: the placement of discord's
//! `ex_hash_ring`, so that the seed's transcript comes out the same (and a ring on an
//! Elixir node built by `examples/elixir/ratelimiter` agrees with this one).
//!
//! Adding or removing a node moves only the keys that go to or come from that node: the
//! other nodes' points do not move.
//!
//! ```
//! use ferrobeam_ratelimit::ring::HashRing;
//!
//! let mut ring = HashRing::new();
//! for n in ["a@127.0.0.1", "b@127.0.0.1", "c@127.0.0.1"] {
//!     ring.add_node(n);
//! }
//! assert_eq!(ring.find_node("result1"), Some("c@127.0.0.1"));
//! assert_eq!(ring.find_node("result2"), Some("a@127.0.0.1"));
//! assert_eq!(ring.find_node("result4"), Some("b@127.0.0.1"));
//! ring.remove_node("c@127.0.0.1");
//! assert_eq!(ring.find_node("result4"), Some("b@127.0.0.1"));
//! assert_eq!(ring.find_node("result1"), Some("a@127.0.0.1"));
//! ```

use md5::{Digest, Md5};
use std::sync::Arc;

/// Points per node unless told otherwise (as `ex_hash_ring`'s default replicas).
pub const DEFAULT_POINTS: usize = 512;

/// The hash of a key or point name: the last 8 bytes of its MD5, little-endian.
pub fn hash(data: &[u8]) -> u64 {
    let digest = Md5::digest(data);
    let mut last = [0u8; 8];
    last.copy_from_slice(&digest[8..16]);
    u64::from_le_bytes(last)
}

/// A consistent hash ring of node names. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct HashRing {
    points_per_node: usize,
    /// Node names, in the order they were added.
    nodes: Vec<Arc<str>>,
    /// (hash, node), sorted.
    points: Vec<(u64, Arc<str>)>,
}

impl Default for HashRing {
    fn default() -> Self {
        HashRing::new()
    }
}

impl HashRing {
    /// An empty ring with [`DEFAULT_POINTS`] points per node.
    pub fn new() -> HashRing {
        HashRing::with_points(DEFAULT_POINTS)
    }

    /// An empty ring with `points` points per node (at least 1).
    pub fn with_points(points: usize) -> HashRing {
        HashRing {
            points_per_node: points.max(1),
            nodes: Vec::new(),
            points: Vec::new(),
        }
    }

    /// Points per node.
    pub fn points_per_node(&self) -> usize {
        self.points_per_node
    }

    /// Adds a node: false if it is already there.
    pub fn add_node(&mut self, node: &str) -> bool {
        if self.contains(node) {
            return false;
        }
        let name: Arc<str> = Arc::from(node);
        self.points.reserve(self.points_per_node);
        for i in 0..self.points_per_node {
            let h = hash(format!("{node}{i}").as_bytes());
            self.points.push((h, name.clone()));
        }
        self.points.sort_unstable();
        self.nodes.push(name);
        true
    }

    /// Removes a node: false if it was not there.
    pub fn remove_node(&mut self, node: &str) -> bool {
        let Some(i) = self.nodes.iter().position(|n| &**n == node) else {
            return false;
        };
        self.nodes.remove(i);
        self.points.retain(|(_, n)| &**n != node);
        true
    }

    /// The node that owns `key`, or `None` on an empty ring.
    pub fn find_node(&self, key: &str) -> Option<&str> {
        self.find_hash(hash(key.as_bytes()))
    }

    /// The node that owns a key with this hash.
    pub fn find_hash(&self, h: u64) -> Option<&str> {
        if self.points.is_empty() {
            return None;
        }
        let i = self.points.partition_point(|(p, _)| *p <= h);
        let i = if i == self.points.len() { 0 } else { i };
        Some(&self.points[i].1)
    }

    /// True if `node` is on the ring.
    pub fn contains(&self, node: &str) -> bool {
        self.nodes.iter().any(|n| &**n == node)
    }

    /// The nodes, in the order they were added.
    pub fn nodes(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.to_string()).collect()
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when there is no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}
