//! Erlang term order and equality.
//!
//! `number < atom < reference < fun < port < pid < tuple < map < nil < list < bitstring`.
//!
//! Two comparisons exist, as in Erlang:
//! * exact (`=:=`), which `PartialEq`/`Eq`/`Ord`/`Hash` on [`Term`] implement: an integer
//!   and a float are never equal, and in the order every integer sorts before every float
//!   (Erlang's map-key order);
//! * arithmetic (`==`, `<`), [`Term::erl_cmp`]: `1 == 1.0` and numbers interleave by value.

use crate::{BigInt, Term};
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

fn rank(t: &Term) -> u8 {
    match t {
        Term::Int(_) | Term::BigInt(_) | Term::Float(_) => 0,
        Term::Atom(_) => 1,
        Term::Ref(_) => 2,
        Term::Fun(_) => 3,
        Term::Port(_) => 4,
        Term::Pid(_) => 5,
        Term::Tuple(_) => 6,
        Term::Map(_) => 7,
        Term::List(l) if l.is_empty() => 8,
        Term::List(_) | Term::ImproperList { .. } => 9,
        Term::Binary(_) | Term::BitBinary { .. } => 10,
    }
}

fn cmp_int_float(i: i64, f: f64) -> Ordering {
    let t = f.trunc();
    if t < -9.223_372_036_854_776e18 {
        return Ordering::Greater;
    }
    if t >= 9.223_372_036_854_776e18 {
        return Ordering::Less;
    }
    let ti = t as i64;
    match i.cmp(&ti) {
        Ordering::Equal => 0.0f64.partial_cmp(&(f - t)).unwrap_or(Ordering::Equal),
        o => o,
    }
}

fn cmp_big_int(b: &BigInt, _i: i64) -> Ordering {
    // A normalized BigInt never fits in i64.
    if b.is_negative() {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

fn cmp_numbers(a: &Term, b: &Term, exact: bool) -> Ordering {
    use Term::*;
    match (a, b) {
        (Int(x), Int(y)) => x.cmp(y),
        (BigInt(x), BigInt(y)) => x.cmp(y),
        (BigInt(x), Int(y)) => cmp_big_int(x, *y),
        (Int(x), BigInt(y)) => cmp_big_int(y, *x).reverse(),
        (Float(x), Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Int(_) | BigInt(_), Float(_)) if exact => Ordering::Less,
        (Float(_), Int(_) | BigInt(_)) if exact => Ordering::Greater,
        (Int(x), Float(y)) => cmp_int_float(*x, *y),
        (Float(x), Int(y)) => cmp_int_float(*y, *x).reverse(),
        (BigInt(x), Float(y)) => x.to_f64().partial_cmp(y).unwrap_or(Ordering::Equal),
        (Float(x), BigInt(y)) => x.partial_cmp(&y.to_f64()).unwrap_or(Ordering::Equal),
        _ => Ordering::Equal,
    }
}

fn bits_of(t: &Term) -> (&[u8], usize) {
    match t {
        Term::Binary(b) => (b, b.len() * 8),
        Term::BitBinary { data, bits } => {
            (data, (data.len().saturating_sub(1)) * 8 + *bits as usize)
        }
        _ => (&[], 0),
    }
}

/// Walks two lists cell by cell: compares heads, then tails.
fn cmp_lists(a: &Term, b: &Term, exact: bool) -> Ordering {
    /// The elements of a list and its tail; a tail that is `[]` is no tail.
    fn parts(t: &Term) -> (&[Term], Option<&Term>) {
        match t {
            Term::List(l) => (l, None),
            Term::ImproperList { elements, tail } => match &**tail {
                Term::List(l) if l.is_empty() => (elements, None),
                tail => (elements, Some(tail)),
            },
            _ => (&[], None),
        }
    }
    /// Moves on to the tail when the elements are used up and the tail is itself a
    /// list (possible in a term built by hand: `[1|[2]]` is `[1,2]`).
    fn next<'t>(elems: &mut &'t [Term], tail: &mut Option<&'t Term>) {
        while elems.is_empty() {
            match *tail {
                Some(t @ (Term::List(_) | Term::ImproperList { .. })) => {
                    (*elems, *tail) = parts(t);
                }
                _ => return,
            }
        }
    }
    let (mut ea, mut ta) = parts(a);
    let (mut eb, mut tb) = parts(b);
    loop {
        next(&mut ea, &mut ta);
        next(&mut eb, &mut tb);
        let (Some((x, ra)), Some((y, rb))) = (ea.split_first(), eb.split_first()) else {
            break;
        };
        let o = compare(x, y, exact);
        if o != Ordering::Equal {
            return o;
        }
        (ea, eb) = (ra, rb);
    }
    // Each side's rest is a non-empty list (elements left), or its tail: `[]` or a term
    // that is not a list.
    let nil = Term::List(Vec::new());
    match (ea.is_empty(), eb.is_empty()) {
        (true, true) => match (ta, tb) {
            (None, None) => Ordering::Equal,
            _ => compare(ta.unwrap_or(&nil), tb.unwrap_or(&nil), exact),
        },
        (true, false) => rank(ta.unwrap_or(&nil)).cmp(&rank(b)),
        _ => rank(a).cmp(&rank(tb.unwrap_or(&nil))),
    }
}

pub(crate) fn compare(a: &Term, b: &Term, exact: bool) -> Ordering {
    let (ra, rb) = (rank(a), rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    use Term::*;
    match (a, b) {
        (Int(_) | BigInt(_) | Float(_), _) => cmp_numbers(a, b, exact),
        (Atom(x), Atom(y)) => x.cmp(y),
        (Ref(x), Ref(y)) => x.cmp(y),
        (Fun(x), Fun(y)) => x.cmp(y),
        (Port(x), Port(y)) => x.cmp(y),
        (Pid(x), Pid(y)) => x.cmp(y),
        (Tuple(x), Tuple(y)) => x.len().cmp(&y.len()).then_with(|| {
            for (p, q) in x.iter().zip(y.iter()) {
                let o = compare(p, q, exact);
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        }),
        (Map(x), Map(y)) => x.len().cmp(&y.len()).then_with(|| {
            // Keys in map-key order (exact), then values in key order.
            for ((k1, _), (k2, _)) in x.entries().iter().zip(y.entries()) {
                let o = compare(k1, k2, true);
                if o != Ordering::Equal {
                    return o;
                }
            }
            for ((_, v1), (_, v2)) in x.entries().iter().zip(y.entries()) {
                let o = compare(v1, v2, exact);
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        }),
        (List(_) | ImproperList { .. }, _) => cmp_lists(a, b, exact),
        (Binary(_) | BitBinary { .. }, _) => {
            let (da, la) = bits_of(a);
            let (db, lb) = bits_of(b);
            da.cmp(db).then(la.cmp(&lb))
        }
        _ => Ordering::Equal,
    }
}

impl Term {
    /// Erlang's arithmetic comparison (`<`, `==`, `>`), where `1 == 1.0`.
    pub fn erl_cmp(&self, other: &Term) -> Ordering {
        compare(self, other, false)
    }

    /// Erlang's `==`: equal, with integers and floats compared by value.
    pub fn erl_eq(&self, other: &Term) -> bool {
        self.erl_cmp(other) == Ordering::Equal
    }
}

impl PartialEq for Term {
    fn eq(&self, other: &Term) -> bool {
        compare(self, other, true) == Ordering::Equal
    }
}
impl Eq for Term {}

impl PartialOrd for Term {
    fn partial_cmp(&self, other: &Term) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Term {
    fn cmp(&self, other: &Term) -> Ordering {
        compare(self, other, true)
    }
}

impl Hash for Term {
    fn hash<H: Hasher>(&self, state: &mut H) {
        rank(self).hash(state);
        match self {
            Term::Int(i) => {
                0u8.hash(state);
                i.hash(state)
            }
            Term::BigInt(b) => {
                0u8.hash(state);
                b.hash(state)
            }
            Term::Float(f) => {
                1u8.hash(state);
                // 0.0 =:= -0.0 in OTP 25.
                let f = if *f == 0.0 { 0.0f64 } else { *f };
                f.to_bits().hash(state)
            }
            Term::Atom(a) => a.hash(state),
            Term::Binary(_) | Term::BitBinary { .. } => {
                let (d, l) = bits_of(self);
                d.hash(state);
                l.hash(state)
            }
            Term::List(_) | Term::ImproperList { .. } => {
                // Cell by cell, as `cmp_lists` compares: a tail that is itself a list
                // continues the list (`[1|[2]]` is `[1,2]`).
                let mut t = self;
                loop {
                    match t {
                        Term::List(l) => break l.iter().for_each(|e| e.hash(state)),
                        Term::ImproperList { elements, tail } => {
                            elements.iter().for_each(|e| e.hash(state));
                            t = tail;
                        }
                        tail => break tail.hash(state),
                    }
                }
            }
            Term::Tuple(t) => {
                t.len().hash(state);
                for e in t {
                    e.hash(state)
                }
            }
            Term::Map(m) => m.hash(state),
            Term::Pid(p) => p.hash(state),
            Term::Port(p) => p.hash(state),
            Term::Ref(r) => r.hash(state),
            Term::Fun(f) => f.hash(state),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_order() {
        let pid = Term::Pid(crate::Pid::new("a@b", 1, 0, 1));
        let r = Term::from(crate::Ref::new("a@b", 1, &[1, 2, 3]).unwrap());
        let port = Term::from(crate::Port::new("a@b", 1, 1));
        let fun = Term::from(crate::Fun::export("m", "f", 1));
        let seq = [
            Term::Int(1),
            Term::atom("a"),
            r,
            fun,
            port,
            pid,
            Term::tuple(vec![]),
            Term::map(vec![]),
            Term::nil(),
            Term::list(vec![Term::Int(1)]),
            Term::binary(&b""[..]),
        ];
        for w in seq.windows(2) {
            assert!(w[0] < w[1], "{:?} < {:?}", w[0], w[1]);
            assert_eq!(w[0].erl_cmp(&w[1]), Ordering::Less);
        }
    }

    #[test]
    fn numbers() {
        assert!(Term::Int(1).erl_eq(&Term::Float(1.0)));
        assert_ne!(Term::Int(1), Term::Float(1.0));
        assert_eq!(Term::Int(2).erl_cmp(&Term::Float(1.5)), Ordering::Greater);
        assert_eq!(Term::Int(2).cmp(&Term::Float(1.5)), Ordering::Less);
        let big = Term::int(1i128 << 70);
        assert!(big.erl_cmp(&Term::Int(i64::MAX)) == Ordering::Greater);
        assert!(Term::int(-(1i128 << 70)) < Term::Int(i64::MIN));
    }

    #[test]
    fn lists_and_bits() {
        let a = Term::list(vec![Term::Int(1), Term::Int(2)]);
        let b = Term::list(vec![Term::Int(1), Term::Int(3)]);
        let c = Term::improper_list(vec![Term::Int(1)], Term::Int(5));
        assert!(a < b);
        assert!(c < a); // [1|5] vs [1,2]: 5 (number) < [2] (list)
        let d = Term::improper_list(vec![Term::Int(1)], Term::binary(&b""[..]));
        assert!(d > a); // [1|<<>>] vs [1,2]: a bitstring sorts after a list
        assert!(a < d);
        assert!(Term::list(vec![Term::Int(1)]) < a); // [1] vs [1,2]: [] < [2]

        // Built by hand, not through `improper_list`: a tail that is itself a list is
        // compared as the rest of the list ([1|[2]] is [1,2]).
        let nested = Term::ImproperList {
            elements: vec![Term::Int(1)],
            tail: Box::new(Term::list(vec![Term::Int(2)])),
        };
        let three = Term::list(vec![Term::Int(1), Term::Int(2), Term::Int(3)]);
        assert!(nested < three);
        assert!(three > nested);
        assert_eq!(nested.cmp(&a), Ordering::Equal);
        let hash = |t: &Term| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            t.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&nested), hash(&a));
        let nil_tail = Term::ImproperList {
            elements: vec![Term::Int(1), Term::Int(2)],
            tail: Box::new(Term::list(vec![])),
        };
        assert_eq!(nil_tail, a);
        assert_eq!(hash(&nil_tail), hash(&a));
        let nested_improper = Term::ImproperList {
            elements: vec![Term::Int(1)],
            tail: Box::new(Term::improper_list(vec![Term::Int(2)], Term::Int(5))),
        };
        assert!(nested_improper < a); // [1,2|5] vs [1,2]: 5 < []
        let one_bit = Term::bitstring(&[0x80], 1).unwrap();
        let byte = Term::binary(vec![0x80u8]);
        assert!(one_bit < byte);
    }
}
