//! Proptest strategies for arbitrary [`Term`]s, shared by the term, proto and node
//! test suites.
//!
//! Every generated term is in its canonical form (the one the decoder produces): integers
//! that fit `i64` are `Term::Int`, floats are finite, atoms are at most 255 characters,
//! bitstrings have their unused bits cleared, improper lists have a non-list tail, and
//! funs carry a well-formed `raw` encoding.
//!
//! Use from another crate's tests with
//! `#[path = "../../term/tests/support/arb.rs"] mod arb;` (it needs only
//! `ferrobeam-term`, `bytes` and `proptest`).

#![allow(dead_code)]

use bytes::Bytes;
use ferrobeam_term::{Atom, BigInt, Fun, FunKind, Pid, Port, Ref, Term, TermMap};
use proptest::prelude::*;

/// Atom text: mostly short ASCII, sometimes Latin-1, other Unicode, long or empty.
pub fn arb_atom_text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z][a-zA-Z0-9_@]{0,12}",
        1 => Just(String::new()),
        1 => "[A-Z '$.\\\\-]{1,8}",
        1 => "[a-zäöüßÿ]{1,10}",
        1 => "\\PC{1,12}",
        1 => "[a-z]{23,40}",
        1 => (200usize..=255).prop_map(|n| "x".repeat(n)),
        1 => (1usize..=255).prop_map(|n| "€".repeat(n)),
    ]
}

/// An atom.
pub fn arb_atom() -> impl Strategy<Value = Atom> {
    arb_atom_text().prop_map(|s| Atom::new(&s))
}

/// A node name atom such as `a@host`.
pub fn arb_node() -> impl Strategy<Value = Atom> {
    prop_oneof![
        4 => "[a-z]{1,8}@[a-z]{1,8}".prop_map(|s| Atom::new(&s)),
        1 => Just(Atom::new("nonode@nohost")),
        1 => arb_atom(),
    ]
}

/// Integers, weighted towards the boundaries of the wire encodings.
pub fn arb_int() -> impl Strategy<Value = Term> {
    prop_oneof![
        3 => (0i64..=255).prop_map(Term::Int),
        3 => any::<i32>().prop_map(|i| Term::Int(i as i64)),
        3 => any::<i64>().prop_map(Term::Int),
        1 => prop::sample::select(vec![
            0i64, 255, 256, -1, i32::MAX as i64, i32::MIN as i64, i32::MAX as i64 + 1,
            i32::MIN as i64 - 1, i64::MAX, i64::MIN,
        ])
        .prop_map(Term::Int),
    ]
}

/// Integers beyond 64 bits (always `Term::BigInt`, never a value that fits `i64`).
pub fn arb_bigint() -> impl Strategy<Value = Term> {
    let mag = prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 9..40),
        1 => prop::collection::vec(any::<u8>(), 250..300),
    ];
    (any::<bool>(), mag).prop_map(|(neg, mut le)| {
        // Make sure the value does not fit in i64.
        if let Some(last) = le.last_mut() {
            *last |= 1;
        }
        Term::from_bigint(BigInt::from_le_bytes(neg, &le))
    })
}

/// Finite floats, including -0.0, subnormals and extremes.
pub fn arb_float() -> impl Strategy<Value = Term> {
    prop_oneof![
        4 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Term::Float),
        2 => (-1.0e6f64..1.0e6).prop_map(Term::Float),
        1 => prop::sample::select(vec![
            0.0f64, -0.0, 1.0, -1.0, 1.0e100, f64::MAX, f64::MIN, f64::MIN_POSITIVE,
            5.0e-324, -5.0e-324,
        ])
        .prop_map(Term::Float),
    ]
}

/// Binaries and bitstrings.
pub fn arb_binary() -> impl Strategy<Value = Term> {
    prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 0..48).prop_map(|v| Term::Binary(Bytes::from(v))),
        1 => prop::collection::vec(any::<u8>(), 1000..3000).prop_map(|v| Term::Binary(Bytes::from(v))),
        2 => (prop::collection::vec(any::<u8>(), 1..16), 1usize..8).prop_map(|(v, extra)| {
            let bit_len = (v.len() - 1) * 8 + extra;
            Term::bitstring(&v, bit_len).unwrap_or_else(Term::nil)
        }),
    ]
}

/// A pid.
pub fn arb_pid() -> impl Strategy<Value = Pid> {
    (arb_node(), any::<u32>(), any::<u32>(), any::<u32>())
        .prop_map(|(n, id, serial, creation)| Pid::new(n, id, serial, creation))
}

/// A port, sometimes with an id above `u32::MAX` (`V4_PORT_EXT`).
pub fn arb_port() -> impl Strategy<Value = Port> {
    let id = prop_oneof![3 => any::<u32>().prop_map(u64::from), 1 => any::<u64>()];
    (arb_node(), id, any::<u32>()).prop_map(|(n, id, c)| Port::new(n, id, c))
}

/// A reference with 1 to 5 id words.
pub fn arb_ref() -> impl Strategy<Value = Ref> {
    (
        arb_node(),
        any::<u32>(),
        prop::collection::vec(any::<u32>(), 1..=5),
    )
        .prop_map(|(n, c, ids)| Ref::new(n, c, &ids).expect("1 to 5 words"))
}

fn push_small_atom_utf8(out: &mut Vec<u8>, a: &Atom) -> bool {
    let b = a.as_bytes();
    if b.len() > 255 {
        return false;
    }
    out.push(119);
    out.push(b.len() as u8);
    out.extend_from_slice(b);
    true
}

/// A free variable of a closure, as its encoding (without 131): small ints and atoms.
fn arb_free_var() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<u8>().prop_map(|i| vec![97, i]),
        any::<i32>().prop_map(|i| {
            let mut v = vec![98];
            v.extend_from_slice(&i.to_be_bytes());
            v
        }),
        "[a-z]{0,10}".prop_map(|s| {
            let mut v = vec![119, s.len() as u8];
            v.extend_from_slice(s.as_bytes());
            v
        }),
    ]
}

/// A closure (`NEW_FUN_EXT`) with a well-formed raw encoding.
pub fn arb_closure() -> impl Strategy<Value = Fun> {
    (
        "[a-z][a-z_]{0,15}",
        any::<[u8; 16]>(),
        any::<u32>(),
        0u8..=10,
        prop::collection::vec(arb_free_var(), 0..4),
        any::<u8>(),
        any::<i32>(),
        arb_pid(),
    )
        .prop_filter_map(
            "pid node too long",
            |(module, uniq, index, arity, free, old_index, old_uniq, pid)| {
                let module = Atom::new(&module);
                let mut body = Vec::new();
                body.push(arity);
                body.extend_from_slice(&uniq);
                body.extend_from_slice(&index.to_be_bytes());
                body.extend_from_slice(&(free.len() as u32).to_be_bytes());
                push_small_atom_utf8(&mut body, &module);
                body.extend_from_slice(&[97, old_index]);
                body.push(98);
                body.extend_from_slice(&old_uniq.to_be_bytes());
                body.push(88);
                if !push_small_atom_utf8(&mut body, &pid.node) {
                    return None;
                }
                body.extend_from_slice(&pid.id.to_be_bytes());
                body.extend_from_slice(&pid.serial.to_be_bytes());
                body.extend_from_slice(&pid.creation.to_be_bytes());
                for f in &free {
                    body.extend_from_slice(f);
                }
                let mut raw = vec![112];
                raw.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
                raw.extend_from_slice(&body);
                Some(Fun {
                    kind: FunKind::Closure {
                        module,
                        uniq,
                        index,
                        arity,
                        num_free: free.len() as u32,
                    },
                    raw: Bytes::from(raw),
                })
            },
        )
}

/// An export fun `fun M:F/A`.
pub fn arb_export() -> impl Strategy<Value = Fun> {
    ("[a-z][a-z_]{0,15}", "[a-z][a-z_]{0,15}", any::<u8>())
        .prop_map(|(m, f, a)| Fun::export(Atom::new(&m), Atom::new(&f), a))
}

/// A fun of either kind.
pub fn arb_fun() -> impl Strategy<Value = Fun> {
    prop_oneof![arb_export(), arb_closure()]
}

/// Leaves that are plain data: numbers, atoms, binaries, `[]`.
pub fn arb_data_leaf() -> BoxedStrategy<Term> {
    prop_oneof![
        4 => arb_int(),
        1 => arb_bigint(),
        2 => arb_float(),
        4 => arb_atom().prop_map(Term::Atom),
        3 => arb_binary(),
        1 => Just(Term::nil()),
    ]
    .boxed()
}

/// Every kind of leaf, including pids, ports, references and funs.
pub fn arb_leaf() -> BoxedStrategy<Term> {
    prop_oneof![
        12 => arb_data_leaf(),
        1 => arb_pid().prop_map(Term::Pid),
        1 => arb_port().prop_map(Term::from),
        1 => arb_ref().prop_map(Term::from),
        1 => arb_fun().prop_map(Term::from),
    ]
    .boxed()
}

/// Builds containers (lists, strings, improper lists, tuples, maps) over `leaf`.
pub fn arb_term_over(leaf: BoxedStrategy<Term>) -> BoxedStrategy<Term> {
    let leaf2 = leaf.clone();
    leaf.prop_recursive(4, 64, 8, move |inner| {
        let non_list_tail = leaf2.clone().prop_filter("non-list tail", |t| {
            !matches!(t, Term::List(_) | Term::ImproperList { .. })
        });
        prop_oneof![
            3 => prop::collection::vec(inner.clone(), 0..8).prop_map(Term::List),
            // Byte lists go out as STRING_EXT.
            1 => prop::collection::vec(any::<u8>(), 0..20)
                .prop_map(|v| Term::List(v.into_iter().map(|b| Term::Int(b as i64)).collect())),
            1 => (prop::collection::vec(inner.clone(), 1..5), non_list_tail)
                .prop_map(|(e, t)| Term::improper_list(e, t)),
            3 => prop::collection::vec(inner.clone(), 0..8).prop_map(Term::Tuple),
            1 => (256usize..300).prop_map(|n| Term::Tuple((0..n as i64).map(Term::Int).collect())),
            2 => prop::collection::vec((inner.clone(), inner.clone()), 0..6)
                .prop_map(|kv| Term::Map(TermMap::from_pairs(kv))),
            1 => prop::collection::vec((arb_int(), inner.clone()), 33..50)
                .prop_map(|kv| Term::Map(TermMap::from_pairs(kv))),
        ]
    })
    .boxed()
}

/// Any term, with every variant of [`Term`].
pub fn arb_term() -> BoxedStrategy<Term> {
    arb_term_over(arb_leaf())
}

/// Plain data terms: no pids, ports, references or funs (useful where those cannot be
/// written back, e.g. as Erlang text or serde values).
pub fn arb_data_term() -> BoxedStrategy<Term> {
    arb_term_over(arb_data_leaf())
}
