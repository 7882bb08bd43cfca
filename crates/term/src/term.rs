//! The [`Term`] type: every value that Erlang/OTP 25+ can put on the wire.

use crate::{Atom, BigInt, Fun, Pid, Port, Ref};
use bytes::Bytes;

/// An Erlang term.
///
/// There is exactly one representation for each Erlang value:
/// * integers that fit in `i64` are [`Term::Int`], larger ones [`Term::BigInt`];
/// * the empty list `[]` is `Term::List(vec![])`, and a string sent as `STRING_EXT` is a
///   list of integers, as it is in Erlang;
/// * an improper list has at least one element and a tail that is not a list;
/// * map entries are kept sorted by key, so equal maps are equal values.
///
/// `==` on `Term` is Erlang's exact equality `=:=` (so `1 != 1.0`), and `Ord` is the
/// matching total order (Erlang's term order, with integers before floats of the same
/// value, as in map keys). [`Term::erl_cmp`] and [`Term::erl_eq`] give Erlang's `<` and
/// `==`, where `1 == 1.0`.
///
/// ```
/// use ferrobeam_term::Term;
/// let t = Term::tuple(vec![Term::atom("ok"), Term::binary(b"hi".as_slice())]);
/// assert_eq!(t.to_string(), r#"{ok,<<"hi">>}"#);
/// ```
#[derive(Clone, Debug)]
pub enum Term {
    /// An integer that fits in 64 bits.
    Int(i64),
    /// An integer that does not fit in 64 bits.
    BigInt(Box<BigInt>),
    /// A float. Erlang floats are always finite.
    Float(f64),
    /// An atom.
    Atom(Atom),
    /// A binary: a zero-copy slice when decoded.
    Binary(Bytes),
    /// A bitstring whose last byte holds only `bits` significant bits (1..=7), in its
    /// high-order bits.
    BitBinary {
        /// The bytes, the last one partial.
        data: Bytes,
        /// Significant bits in the last byte, 1 to 7.
        bits: u8,
    },
    /// A proper list; empty is `[]` (nil).
    List(Vec<Term>),
    /// An improper list `[E1, E2 | Tail]`.
    ImproperList {
        /// At least one element.
        elements: Vec<Term>,
        /// The tail, never a list.
        tail: Box<Term>,
    },
    /// A tuple.
    Tuple(Vec<Term>),
    /// A map.
    Map(TermMap),
    /// A process identifier.
    Pid(Pid),
    /// A port identifier.
    Port(Box<Port>),
    /// A reference.
    Ref(Box<Ref>),
    /// A fun, kept opaque.
    Fun(Box<Fun>),
}

/// A map from terms to terms, with keys kept sorted in Erlang's map-key order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TermMap {
    entries: Vec<(Term, Term)>,
}

impl TermMap {
    /// An empty map.
    pub fn new() -> TermMap {
        TermMap::default()
    }

    /// Builds a map from pairs. A later pair replaces an earlier one with the same key.
    pub fn from_pairs(pairs: Vec<(Term, Term)>) -> TermMap {
        let mut entries = pairs;
        // Stable sort keeps later duplicates after earlier ones; keep the last.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Term, Term)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => out.push((k, v)),
            }
        }
        TermMap { entries: out }
    }

    /// Wraps entries that are already strictly sorted by key (the ETF decoder checks).
    pub(crate) fn from_sorted_unique(entries: Vec<(Term, Term)>) -> TermMap {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        TermMap { entries }
    }

    /// Inserts, replacing any value under an equal key. Returns the old value.
    pub fn insert(&mut self, key: Term, value: Term) -> Option<Term> {
        match self.entries.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Looks a key up.
    pub fn get(&self, key: &Term) -> Option<&Term> {
        self.entries
            .binary_search_by(|(k, _)| k.cmp(key))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// Looks up an atom key.
    pub fn get_atom(&self, key: &str) -> Option<&Term> {
        self.get(&Term::atom(key))
    }

    /// Removes a key, returning its value.
    pub fn remove(&mut self, key: &Term) -> Option<Term> {
        match self.entries.binary_search_by(|(k, _)| k.cmp(key)) {
            Ok(i) => Some(self.entries.remove(i).1),
            Err(_) => None,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Term, &Term)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The entries, sorted by key.
    pub fn entries(&self) -> &[(Term, Term)] {
        &self.entries
    }

    /// Consumes the map into its sorted entries.
    pub fn into_entries(self) -> Vec<(Term, Term)> {
        self.entries
    }
}

impl FromIterator<(Term, Term)> for TermMap {
    fn from_iter<I: IntoIterator<Item = (Term, Term)>>(iter: I) -> TermMap {
        TermMap::from_pairs(iter.into_iter().collect())
    }
}

impl Term {
    /// The atom with this text.
    pub fn atom(text: &str) -> Term {
        Term::Atom(Atom::new(text))
    }

    /// `true` or `false`.
    pub fn boolean(b: bool) -> Term {
        Term::atom(if b { "true" } else { "false" })
    }

    /// The empty list `[]`.
    pub fn nil() -> Term {
        Term::List(Vec::new())
    }

    /// A tuple.
    pub fn tuple(elements: Vec<Term>) -> Term {
        Term::Tuple(elements)
    }

    /// A proper list.
    pub fn list(elements: Vec<Term>) -> Term {
        Term::List(elements)
    }

    /// A list with a tail. Normalizes: a list tail is spliced in, and an empty element
    /// list gives the tail itself.
    pub fn improper_list(mut elements: Vec<Term>, tail: Term) -> Term {
        match tail {
            Term::List(rest) => {
                elements.extend(rest);
                Term::List(elements)
            }
            Term::ImproperList {
                elements: rest,
                tail,
            } => {
                elements.extend(rest);
                Term::ImproperList { elements, tail }
            }
            tail if elements.is_empty() => tail,
            tail => Term::ImproperList {
                elements,
                tail: Box::new(tail),
            },
        }
    }

    /// A binary.
    pub fn binary(data: impl Into<Bytes>) -> Term {
        Term::Binary(data.into())
    }

    /// A UTF-8 binary, which is what Elixir calls a string.
    pub fn string(s: &str) -> Term {
        Term::Binary(Bytes::copy_from_slice(s.as_bytes()))
    }

    /// A charlist (Erlang string): a list of code points.
    pub fn charlist(s: &str) -> Term {
        Term::List(s.chars().map(|c| Term::Int(c as i64)).collect())
    }

    /// A bitstring of `bit_len` bits taken from the high-order end of `data`.
    /// Returns a plain binary when `bit_len` is a multiple of 8.
    /// Returns `None` if `data` is too short.
    pub fn bitstring(data: &[u8], bit_len: usize) -> Option<Term> {
        let nbytes = bit_len.div_ceil(8);
        if data.len() < nbytes {
            return None;
        }
        let bits = (bit_len % 8) as u8;
        let mut v = data[..nbytes].to_vec();
        if bits == 0 {
            return Some(Term::Binary(Bytes::from(v)));
        }
        if let Some(last) = v.last_mut() {
            *last &= 0xffu8 << (8 - bits);
        }
        Some(Term::BitBinary {
            data: Bytes::from(v),
            bits,
        })
    }

    /// An integer of any size.
    pub fn int(v: i128) -> Term {
        match i64::try_from(v) {
            Ok(i) => Term::Int(i),
            Err(_) => Term::BigInt(Box::new(BigInt::from_i128(v))),
        }
    }

    /// Normalizes a big integer: one that fits in `i64` becomes [`Term::Int`].
    pub fn from_bigint(b: BigInt) -> Term {
        match b.to_i64() {
            Some(i) => Term::Int(i),
            None => Term::BigInt(Box::new(b)),
        }
    }

    /// A map from pairs.
    pub fn map(pairs: Vec<(Term, Term)>) -> Term {
        Term::Map(TermMap::from_pairs(pairs))
    }

    /// `{ok, Value}`.
    pub fn ok(value: Term) -> Term {
        Term::Tuple(vec![Term::atom("ok"), value])
    }

    /// `{error, Reason}`.
    pub fn error(reason: Term) -> Term {
        Term::Tuple(vec![Term::atom("error"), reason])
    }

    /// The atom, if this is one.
    pub fn as_atom(&self) -> Option<&Atom> {
        match self {
            Term::Atom(a) => Some(a),
            _ => None,
        }
    }

    /// True if this is the atom `name`.
    pub fn is_atom(&self, name: &str) -> bool {
        matches!(self, Term::Atom(a) if a.as_str() == name)
    }

    /// The elements, if this is a tuple.
    pub fn as_tuple(&self) -> Option<&[Term]> {
        match self {
            Term::Tuple(t) => Some(t),
            _ => None,
        }
    }

    /// The elements, if this is a proper list (including `[]`).
    pub fn as_list(&self) -> Option<&[Term]> {
        match self {
            Term::List(l) => Some(l),
            _ => None,
        }
    }

    /// The bytes, if this is a binary.
    pub fn as_binary(&self) -> Option<&Bytes> {
        match self {
            Term::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The text, if this is a UTF-8 binary.
    pub fn as_str(&self) -> Option<&str> {
        self.as_binary().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The value, if this is an integer that fits in `i64`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Term::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The float, if this is one.
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Term::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The pid, if this is one.
    pub fn as_pid(&self) -> Option<&Pid> {
        match self {
            Term::Pid(p) => Some(p),
            _ => None,
        }
    }

    /// The reference, if this is one.
    pub fn as_ref(&self) -> Option<&Ref> {
        match self {
            Term::Ref(r) => Some(r),
            _ => None,
        }
    }

    /// The map, if this is one.
    pub fn as_map(&self) -> Option<&TermMap> {
        match self {
            Term::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The text of a charlist (a proper list of Unicode code points), if this is one.
    pub fn as_charlist(&self) -> Option<String> {
        let l = self.as_list()?;
        l.iter()
            .map(|t| {
                t.as_int()
                    .and_then(|i| u32::try_from(i).ok())
                    .and_then(char::from_u32)
            })
            .collect()
    }

    /// True if this is `[]`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Term::List(l) if l.is_empty())
    }

    /// A short name of the term's type, for error messages: `atom`, `tuple`, ...
    pub fn type_name(&self) -> &'static str {
        match self {
            Term::Int(_) | Term::BigInt(_) => "integer",
            Term::Float(_) => "float",
            Term::Atom(_) => "atom",
            Term::Binary(_) => "binary",
            Term::BitBinary { .. } => "bitstring",
            Term::List(l) if l.is_empty() => "nil",
            Term::List(_) => "list",
            Term::ImproperList { .. } => "improper list",
            Term::Tuple(_) => "tuple",
            Term::Map(_) => "map",
            Term::Pid(_) => "pid",
            Term::Port(_) => "port",
            Term::Ref(_) => "reference",
            Term::Fun(_) => "fun",
        }
    }
}

impl From<Atom> for Term {
    fn from(a: Atom) -> Term {
        Term::Atom(a)
    }
}
impl From<Pid> for Term {
    fn from(p: Pid) -> Term {
        Term::Pid(p)
    }
}
impl From<Ref> for Term {
    fn from(r: Ref) -> Term {
        Term::Ref(Box::new(r))
    }
}
impl From<Port> for Term {
    fn from(p: Port) -> Term {
        Term::Port(Box::new(p))
    }
}
impl From<Fun> for Term {
    fn from(f: Fun) -> Term {
        Term::Fun(Box::new(f))
    }
}
impl From<BigInt> for Term {
    fn from(b: BigInt) -> Term {
        Term::from_bigint(b)
    }
}
impl From<bool> for Term {
    fn from(b: bool) -> Term {
        Term::boolean(b)
    }
}
impl From<f64> for Term {
    fn from(f: f64) -> Term {
        Term::Float(f)
    }
}
impl From<Bytes> for Term {
    fn from(b: Bytes) -> Term {
        Term::Binary(b)
    }
}
impl From<Vec<Term>> for Term {
    /// A proper list.
    fn from(v: Vec<Term>) -> Term {
        Term::List(v)
    }
}
impl From<TermMap> for Term {
    fn from(m: TermMap) -> Term {
        Term::Map(m)
    }
}
macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Term {
            fn from(v: $t) -> Term { Term::int(v as i128) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);
impl From<i128> for Term {
    fn from(v: i128) -> Term {
        Term::int(v)
    }
}
