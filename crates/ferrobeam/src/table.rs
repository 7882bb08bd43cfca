//! Sharded concurrent maps used for the process table, the name registry and the timer
//! table. Each shard is a `RwLock<HashMap>` padded to its own cache lines, and keys are
//! spread over the shards by a cheap multiplicative hash, so spawns and exits on
//! different cores rarely touch the same lock.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A fast, non-cryptographic hasher (the multiply-rotate scheme of rustc's FxHasher).
/// Keys here are process numbers, reference words and atoms created by this node, so
/// hash flooding is not a concern.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Builds [`FxHasher`]s.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxBuild;

impl BuildHasher for FxBuild {
    type Hasher = FxHasher;
    #[inline]
    fn build_hasher(&self) -> FxHasher {
        FxHasher::default()
    }
}

/// A `HashMap` with the fast hasher.
pub(crate) type FxHashMap<K, V> = HashMap<K, V, FxBuild>;
/// A `HashSet` with the fast hasher.
pub(crate) type FxHashSet<K> = std::collections::HashSet<K, FxBuild>;

#[repr(align(128))]
struct Shard<K, V>(RwLock<FxHashMap<K, V>>);

/// A map split into a power-of-two number of independently locked shards.
pub(crate) struct ShardedMap<K, V> {
    shards: Box<[Shard<K, V>]>,
    mask: u64,
}

impl<K: Hash + Eq, V> ShardedMap<K, V> {
    /// A map with `n` shards (rounded up to a power of two).
    pub(crate) fn new(n: usize) -> Self {
        let n = n.next_power_of_two().max(1);
        let shards = (0..n)
            .map(|_| Shard(RwLock::new(FxHashMap::default())))
            .collect::<Vec<_>>()
            .into_boxed_slice();
        ShardedMap {
            shards,
            mask: (n - 1) as u64,
        }
    }

    #[inline]
    fn shard_of<Q: Hash + ?Sized>(&self, key: &Q) -> &RwLock<FxHashMap<K, V>> {
        let mut h = FxHasher::default();
        key.hash(&mut h);
        // The high bits of a multiplicative hash are the well-mixed ones.
        let idx = (h.finish() >> 40) & self.mask;
        &self.shards[idx as usize].0
    }

    /// Read access to the shard holding `key`.
    #[inline]
    pub(crate) fn read<Q: Hash + ?Sized>(&self, key: &Q) -> RwLockReadGuard<'_, FxHashMap<K, V>> {
        match self.shard_of(key).read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Write access to the shard holding `key`.
    #[inline]
    pub(crate) fn write<Q: Hash + ?Sized>(&self, key: &Q) -> RwLockWriteGuard<'_, FxHashMap<K, V>> {
        match self.shard_of(key).write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// A clone of the value under `key`.
    #[inline]
    pub(crate) fn get_cloned<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.read(key).get(key).cloned()
    }

    /// Inserts, returning the previous value.
    pub(crate) fn insert(&self, key: K, value: V) -> Option<V> {
        self.write(&key).insert(key, value)
    }

    /// Removes `key`.
    pub(crate) fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.write(key).remove(key)
    }

    /// Calls `f` on every entry, one shard at a time (not a consistent snapshot).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for s in self.shards.iter() {
            let g = match s.0.read() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            for (k, v) in g.iter() {
                f(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove() {
        let m: ShardedMap<u64, u32> = ShardedMap::new(8);
        for i in 0..1000u64 {
            assert!(m.insert(i, i as u32).is_none());
        }
        assert_eq!(m.get_cloned(&500), Some(500));
        assert_eq!(m.remove(&500), Some(500));
        assert!(m.get_cloned(&500).is_none());
        let mut n = 0;
        m.for_each(|_, _| n += 1);
        assert_eq!(n, 999);
    }
}
