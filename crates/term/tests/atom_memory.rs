//! Distinct atoms from the network cost memory only while the terms holding them live:
//! decoding millions of atoms must not grow memory (BEAM's atom table would fill up).
//!
//! A counting global allocator measures live heap bytes in this test binary.

use ferrobeam_term::etf::{self, DecodeOptions};
use ferrobeam_term::{decode, Term};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// `{atom_N, N}` with a short (inline) or long (heap) UTF-8 or Latin-1 atom.
fn encode_message(i: u64, out: &mut Vec<u8>) {
    out.clear();
    let name = match i % 3 {
        0 => format!("a{i}"),
        1 => format!("a_rather_long_atom_name_number_{i}"),
        _ => format!("ätom_{i}"),
    };
    out.extend_from_slice(&[131, 104, 2]);
    if i % 2 == 0 {
        out.extend_from_slice(&[119, name.len() as u8]);
        out.extend_from_slice(name.as_bytes());
    } else {
        // Latin-1 in ATOM_EXT.
        let latin1: Vec<u8> = name.chars().map(|c| c as u32 as u8).collect();
        out.push(100);
        out.extend_from_slice(&(latin1.len() as u16).to_be_bytes());
        out.extend_from_slice(&latin1);
    }
    out.push(98);
    out.extend_from_slice(&(i as u32).to_be_bytes());
}

// One test per binary: the allocator counts every thread, and tests run in parallel.
#[test]
fn millions_of_distinct_atoms_do_not_accumulate() {
    const N: u64 = 2_500_000;
    let mut buf = Vec::with_capacity(64);
    // Warm up (thread-local frame stack, lazy statics), then take the baseline.
    for i in 0..1000 {
        encode_message(i, &mut buf);
        drop(decode(&buf).unwrap());
    }
    let base = live();
    let mut peak = base;
    for i in 0..N {
        encode_message(i, &mut buf);
        let t = decode(&buf).unwrap();
        debug_assert!(matches!(&t, Term::Tuple(v) if v.len() == 2));
        drop(t);
        if i % 10_000 == 0 {
            peak = peak.max(live());
        }
    }
    let growth = live() - base;
    assert!(
        growth.abs() < 64 * 1024,
        "live heap grew by {growth} bytes over {N} distinct atoms"
    );
    assert!(peak - base < 64 * 1024, "peak {} over base", peak - base);

    // One message with a million distinct atoms: memory follows the input while the term
    // lives, and all of it is returned when it is dropped.
    let n = 1_000_000usize;
    let mut big = vec![131, 108];
    big.extend_from_slice(&(n as u32).to_be_bytes());
    for i in 0..n {
        let name = format!("atom_number_{i:08}_with_a_long_name");
        big.extend_from_slice(&[119, name.len() as u8]);
        big.extend_from_slice(name.as_bytes());
    }
    big.push(106);
    let input_len = big.len();
    let before = live();
    let (t, _) = etf::decode_with(bytes::Bytes::from(big), &DecodeOptions::default()).unwrap();
    let held = live() - before;
    assert_eq!(t.as_list().map(|l| l.len()), Some(n));
    assert!(
        held < (input_len as isize) * 4,
        "a term of {n} atoms holds {held} bytes for {input_len} bytes of input"
    );
    drop(t);
    assert!(
        live() - before < 64 * 1024,
        "not freed: {}",
        live() - before
    );
}
