//! Sharded concurrent maps used for the process table, the name registry and the timer
//! table. Each shard is a `RwLock<HashMap>` padded to its own cache lines, and keys are
//! spread over the shards by a cheap multiplicative hash, so spawns and exits on
//! different cores rarely touch the same lock.

use crate::process::lock;
use crate::short_lock::ShortLock;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

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
    /// Eight bytes at a time; the last 1 to 7 are gathered with two overlapping
    /// fixed-size loads (or three byte loads) into the same zero-padded little-endian
    /// word a copy into a zeroed buffer would give, without that copy: a call to
    /// `memcpy` of variable length, and a store-forwarding stall when the buffer is
    /// read back as a word. Atoms (registered names, the node name in every pid) are
    /// mostly under 16 bytes, so the tail is most of the work.
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let n = rest.len();
        if n >= 4 {
            let lo = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as u64;
            let hi = u32::from_le_bytes([rest[n - 4], rest[n - 3], rest[n - 2], rest[n - 1]]);
            self.add(lo | (hi as u64) << (8 * (n - 4)));
        } else if n > 0 {
            let b = |i: usize| (rest[i] as u64) << (8 * i);
            self.add(b(0) | b(n / 2) | b(n - 1));
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

/// Bits of the slot index per segment of the process table.
const SEG_BITS: u32 = 14;
const SEG: usize = 1 << SEG_BITS;
/// Most processes a node can hold at once (like BEAM's `+P`), and the bound of a pid's
/// `ID` field for local pids.
pub(crate) const MAX_PROCESSES: u32 = 1 << 26;
const FREE_SHARDS: usize = 16;
/// Fresh slot indices are taken from the shared counter this many at a time.
const BLOCK: u32 = 64;

/// A segment of the process table.
type Segment<T> = Box<[ShortLock<SlotInner<T>>]>;

struct SlotInner<T> {
    serial: u32,
    value: Option<T>,
}

#[repr(align(64))]
struct FreeShard(Mutex<FreeList>);

#[derive(Default)]
struct FreeList {
    free: Vec<u32>,
    live: isize,
}

thread_local! {
    static THREAD_SHARD: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}
static NEXT_THREAD_SHARD: AtomicU32 = AtomicU32::new(0);

fn thread_shard() -> usize {
    THREAD_SHARD.with(|c| {
        let v = c.get();
        if v != usize::MAX {
            return v;
        }
        let v = NEXT_THREAD_SHARD.fetch_add(1, Ordering::Relaxed) as usize % FREE_SHARDS;
        c.set(v);
        v
    })
}

/// The process table: a slab indexed by the pid's `ID` field, as BEAM's. A slot is
/// reused after its process exits, with the pid's `Serial` incremented, so that a stale
/// pid never finds the new process. Lookups take one uncontended slot lock and no
/// hashing; the segments are allocated as the table grows and never move.
pub(crate) struct ProcTable<T> {
    dir: Box<[OnceLock<Segment<T>>]>,
    next: AtomicU32,
    shards: Box<[FreeShard]>,
}

impl<T: Clone> ProcTable<T> {
    pub(crate) fn new() -> Self {
        ProcTable {
            dir: (0..(MAX_PROCESSES as usize / SEG))
                .map(|_| OnceLock::new())
                .collect(),
            // Index 0 is the node's system pid, never a process.
            next: AtomicU32::new(1),
            shards: (0..FREE_SHARDS)
                .map(|_| FreeShard(Mutex::new(FreeList::default())))
                .collect(),
        }
    }

    fn slot(&self, index: u32) -> Option<&ShortLock<SlotInner<T>>> {
        let seg = self.dir.get((index >> SEG_BITS) as usize)?.get()?;
        seg.get(index as usize & (SEG - 1))
    }

    fn slot_or_init(&self, index: u32) -> &ShortLock<SlotInner<T>> {
        let seg = self.dir[(index >> SEG_BITS) as usize].get_or_init(|| {
            (0..SEG)
                .map(|_| {
                    ShortLock::new(SlotInner {
                        serial: 0,
                        value: None,
                    })
                })
                .collect()
        });
        &seg[index as usize & (SEG - 1)]
    }

    /// Takes a free slot and fills it with `make(index, serial)`, the value for the
    /// new pid `(index, serial)`. `None` when the table is full.
    pub(crate) fn alloc_insert(&self, make: impl FnOnce(u32, u32) -> T) -> Option<T> {
        let home = thread_shard();
        let index = {
            let mut fl = lock(&self.shards[home].0);
            match fl.free.pop() {
                Some(i) => {
                    fl.live += 1;
                    i
                }
                None => {
                    drop(fl);
                    let stolen = self.steal(home);
                    let mut fl = lock(&self.shards[home].0);
                    fl.live += 1;
                    match stolen {
                        Some(i) => i,
                        None => {
                            let base = self.next.fetch_add(BLOCK, Ordering::Relaxed);
                            if base.checked_add(BLOCK).is_none_or(|e| e > MAX_PROCESSES) {
                                fl.live -= 1;
                                return None;
                            }
                            fl.free.extend((base + 1..base + BLOCK).rev());
                            base
                        }
                    }
                }
            }
        };
        let mut slot = self.slot_or_init(index).lock();
        let value = make(index, slot.serial);
        slot.value = Some(value.clone());
        Some(value)
    }

    /// Takes half of another shard's free slots, so freed slots are reused before the
    /// table grows.
    fn steal(&self, home: usize) -> Option<u32> {
        for k in 1..FREE_SHARDS {
            let other = (home + k) % FREE_SHARDS;
            let mut taken = {
                let Ok(mut fl) = self.shards[other].0.try_lock() else {
                    continue;
                };
                if fl.free.is_empty() {
                    continue;
                }
                let keep = fl.free.len() / 2;
                fl.free.split_off(keep)
            };
            let first = taken.pop();
            if !taken.is_empty() {
                lock(&self.shards[home].0).free.extend(taken);
            }
            if first.is_some() {
                return first;
            }
        }
        None
    }

    /// Calls `f` on the value of the pid `(index, serial)` under its slot lock.
    #[inline]
    pub(crate) fn with<R>(&self, index: u32, serial: u32, f: impl FnOnce(&T) -> R) -> Option<R> {
        let slot = self.slot(index)?.lock();
        if slot.serial != serial {
            return None;
        }
        slot.value.as_ref().map(f)
    }

    /// A clone of the value of the pid `(index, serial)`.
    pub(crate) fn get(&self, index: u32, serial: u32) -> Option<T> {
        self.with(index, serial, T::clone)
    }

    /// Removes the value of the pid `(index, serial)` and frees the slot.
    pub(crate) fn remove(&self, index: u32, serial: u32) -> Option<T> {
        let value = {
            let mut slot = self.slot(index)?.lock();
            if slot.serial != serial || slot.value.is_none() {
                return None;
            }
            slot.serial = slot.serial.wrapping_add(1);
            slot.value.take()
        };
        let mut fl = lock(&self.shards[thread_shard()].0);
        fl.free.push(index);
        fl.live -= 1;
        value
    }

    /// The number of values.
    pub(crate) fn len(&self) -> usize {
        let n: isize = self.shards.iter().map(|s| lock(&s.0).live).sum();
        n.max(0) as usize
    }

    /// Calls `f` on every value (not a consistent snapshot).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&T)) {
        let end = self.next.load(Ordering::Relaxed).min(MAX_PROCESSES);
        for index in 1..end {
            if let Some(slot) = self.slot(index) {
                if let Some(v) = &slot.lock().value {
                    f(v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tail gathering of `FxHasher::write` gives the word a zero-padded copy gives.
    #[test]
    fn fx_write_gathers_the_tail_exactly() {
        fn reference(bytes: &[u8]) -> u64 {
            let mut h = FxHasher { hash: 0 };
            for c in bytes.chunks(8) {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                h.add(u64::from_le_bytes(w));
            }
            h.hash
        }
        let data: Vec<u8> = (0..40u32).map(|i| (i * 37 + 11) as u8 | 1).collect();
        for n in 0..=data.len() {
            let mut h = FxHasher { hash: 0 };
            h.write(&data[..n]);
            assert_eq!(h.finish(), reference(&data[..n]), "{n} bytes");
        }
    }

    #[test]
    fn proc_table_reuses_slots_with_new_serials() {
        use std::sync::Arc;
        let t: ProcTable<Arc<u32>> = ProcTable::new();
        let mut key = (0, 0);
        t.alloc_insert(|i, s| {
            key = (i, s);
            Arc::new(7)
        })
        .unwrap();
        let (i, s) = key;
        assert_eq!(t.len(), 1);
        assert_eq!(t.with(i, s, |v| **v), Some(7));
        assert_eq!(t.with(i, s + 1, |v| **v), None);
        assert_eq!(t.remove(i, s).map(|v| *v), Some(7));
        assert_eq!(t.remove(i, s), None);
        assert_eq!(t.len(), 0);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let mut key = (0, 0);
            t.alloc_insert(|i, s| {
                key = (i, s);
                Arc::new(1)
            })
            .unwrap();
            let (i2, s2) = key;
            assert!(seen.insert((i2, s2)), "pid reused");
            t.remove(i2, s2);
        }
        // Churn does not grow the table.
        assert!(t.next.load(Ordering::Relaxed) <= 1 + 2 * BLOCK * FREE_SHARDS as u32);
    }

    #[test]
    fn insert_get_remove() {
        let m: ShardedMap<u64, u32> = ShardedMap::new(8);
        for i in 0..1000u64 {
            assert!(m.insert(i, i as u32).is_none());
        }
        assert_eq!(m.read(&500).get(&500), Some(&500));
        assert_eq!(m.remove(&500), Some(500));
        assert!(m.read(&500).get(&500).is_none());
        let mut n = 0;
        m.for_each(|_, _| n += 1);
        assert_eq!(n, 999);
    }
}
