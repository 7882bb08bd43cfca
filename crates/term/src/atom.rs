//! Atoms.
//!
//! # Strategy: atoms are values, not table entries
//!
//! BEAM interns every atom in a global table that is never garbage collected, so a
//! peer that sends millions of distinct atoms exhausts it. ferrobeam does not intern
//! at all: an [`Atom`] is an immutable string value.
//!
//! * Atoms of up to [`INLINE_CAP`] bytes (nearly every atom in practice: `ok`, `error`,
//!   `'$gen_call'`, module names, short node names) are stored inline. Cloning them is a
//!   24-byte copy, and comparing them is a short `memcmp`.
//! * Longer atoms live in an `Arc<str>`: cloning is a reference-count increment.
//! * Nothing is kept after the last clone is dropped, so a stream of distinct atoms from
//!   the network costs memory only for as long as the terms holding them are alive.
//!
//! Equality, ordering and hashing are by the atom's text, as in Erlang.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Largest atom text, in bytes, stored inline without allocation.
pub const INLINE_CAP: usize = 22;

/// Largest atom length in characters, as in Erlang.
pub const MAX_ATOM_CHARS: usize = 255;

/// An Erlang atom: cheap to clone, compared by text, never interned.
///
/// ```
/// use ferrobeam_term::Atom;
/// let ok = Atom::new("ok");
/// assert_eq!(ok, "ok");
/// assert_eq!(ok.as_str(), "ok");
/// assert!(Atom::new("abc") < Atom::new("abd"));
/// ```
#[derive(Clone)]
pub struct Atom(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE_CAP] },
    Heap(Arc<str>),
}

impl Atom {
    /// Makes an atom from its text. The text is not checked for Erlang's 255-character
    /// limit; use [`Atom::try_new`] for untrusted input.
    #[inline]
    pub fn new(text: &str) -> Atom {
        let bytes = text.as_bytes();
        if bytes.len() <= INLINE_CAP {
            Atom::inline(bytes)
        } else {
            Atom(Repr::Heap(Arc::from(text)))
        }
    }

    /// Makes an atom from bytes that the caller has checked are ASCII (so valid UTF-8).
    /// Used by the ETF decoder, which checks ASCII anyway and need not validate twice.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn from_ascii(bytes: &[u8]) -> Atom {
        debug_assert!(bytes.is_ascii());
        if bytes.len() <= INLINE_CAP {
            Atom::inline(bytes)
        } else {
            Atom::heap_from_bytes(bytes)
        }
    }

    #[inline(never)]
    fn heap_from_bytes(bytes: &[u8]) -> Atom {
        match std::str::from_utf8(bytes) {
            Ok(s) => Atom(Repr::Heap(Arc::from(s))),
            Err(_) => Atom::inline(&[]),
        }
    }

    /// Overwrites this atom, in place, with ASCII `bytes` of at most `INLINE_CAP` bytes
    /// (longer input is cut). Writing in place spares the ETF decoder a copy of a
    /// freshly built value.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn set_inline_ascii(&mut self, bytes: &[u8]) {
        debug_assert!(bytes.is_ascii());
        let (n, w0, w1, w2) = words(bytes);
        match &mut self.0 {
            Repr::Inline { len, buf } => {
                *len = n as u8;
                buf[..8].copy_from_slice(&w0.to_le_bytes());
                buf[8..16].copy_from_slice(&w1.to_le_bytes());
                buf[16..].copy_from_slice(&w2.to_le_bytes()[..INLINE_CAP - 16]);
            }
            heap => *heap = Atom::inline(bytes).0,
        }
    }

    /// An inline atom of at most `INLINE_CAP` bytes (longer input is cut).
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn inline(bytes: &[u8]) -> Atom {
        let (n, w0, w1, w2) = words(bytes);
        let mut buf = [0u8; INLINE_CAP];
        buf[..8].copy_from_slice(&w0.to_le_bytes());
        buf[8..16].copy_from_slice(&w1.to_le_bytes());
        buf[16..].copy_from_slice(&w2.to_le_bytes()[..INLINE_CAP - 16]);
        Atom(Repr::Inline { len: n as u8, buf })
    }
}

/// The first `INLINE_CAP` bytes of `bytes`: their number, and their contents as three
/// little-endian words gathered with a few fixed-size, possibly overlapping loads. No
/// `memcpy` call of variable length, and no byte-wise stores that a following wide load
/// would stall on: atoms are short and decoded by the million.
#[cfg_attr(not(debug_assertions), inline(always))]
fn words(bytes: &[u8]) -> (usize, u64, u64, u64) {
    let src = &bytes[..bytes.len().min(INLINE_CAP)];
    let n = src.len();
    let (w0, w1, w2) = if n > 16 {
        (le8(src, 0), le8(src, 8), le8(src, n - 8) >> (8 * (24 - n)))
    } else if n > 8 {
        (le8(src, 0), le8(src, n - 8) >> (8 * (16 - n)), 0)
    } else if n == 8 {
        (le8(src, 0), 0, 0)
    } else if n >= 4 {
        (le4(src, 0) | le4(src, n - 4) << (8 * (n - 4)), 0, 0)
    } else if n > 0 {
        let b = |i: usize| (src[i] as u64) << (8 * i);
        (b(0) | b(n / 2) | b(n - 1), 0, 0)
    } else {
        (0, 0, 0)
    };
    (n, w0, w1, w2)
}

impl Atom {
    /// Makes an atom, refusing text longer than Erlang's limit of 255 characters.
    pub fn try_new(text: &str) -> Option<Atom> {
        if text.len() > MAX_ATOM_CHARS && text.chars().count() > MAX_ATOM_CHARS {
            None
        } else {
            Some(Atom::new(text))
        }
    }

    /// The atom's text.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // SAFETY: the inline bytes are only ever written by `Atom::new`, which copies
            // exactly `len` bytes from a `&str`, so they are valid UTF-8.
            Repr::Inline { len, buf } => unsafe {
                std::str::from_utf8_unchecked(&buf[..*len as usize])
            },
            Repr::Heap(s) => s,
        }
    }

    /// The atom's text as bytes (UTF-8).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..*len as usize],
            Repr::Heap(s) => s.as_bytes(),
        }
    }

    /// Length of the text in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// True for the empty atom `''`.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if every character is below 256, so the atom can be sent as Latin-1.
    pub fn is_latin1(&self) -> bool {
        self.as_str().chars().all(|c| (c as u32) < 256)
    }
}

/// The 8 bytes at `at`, little-endian (0 if out of range, which callers rule out).
#[inline(always)]
fn le8(s: &[u8], at: usize) -> u64 {
    match s.get(at..at + 8) {
        Some(&[a, b, c, d, e, f, g, h]) => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => 0,
    }
}

/// The 4 bytes at `at`, little-endian (0 if out of range, which callers rule out).
#[inline(always)]
fn le4(s: &[u8], at: usize) -> u64 {
    match s.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]) as u64,
        _ => 0,
    }
}

impl PartialEq for Atom {
    /// Compares the texts. An atom is inline exactly when its text fits
    /// (`INLINE_CAP` bytes), and the unused inline bytes are always zero, so two
    /// inline atoms are compared as fixed-size values (no `memcmp` call), and an
    /// inline atom never equals a heap one.
    #[inline]
    fn eq(&self, other: &Atom) -> bool {
        match (&self.0, &other.0) {
            (Repr::Inline { len: a, buf: x }, Repr::Inline { len: b, buf: y }) => a == b && x == y,
            (Repr::Heap(a), Repr::Heap(b)) => Arc::ptr_eq(a, b) || a == b,
            _ => false,
        }
    }
}
impl Eq for Atom {}

impl PartialEq<str> for Atom {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}
impl PartialEq<&str> for Atom {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Atom) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Atom {
    /// Erlang orders atoms by their characters (code points). UTF-8 byte order is the
    /// same as code point order, so this is a byte comparison.
    fn cmp(&self, other: &Atom) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for Atom {
    /// Hashes exactly as the atom's `&str` does, so that `Borrow<str>` lookups work.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl Borrow<str> for Atom {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Atom {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Atom {
    fn from(s: &str) -> Atom {
        Atom::new(s)
    }
}

impl From<String> for Atom {
    fn from(s: String) -> Atom {
        Atom::new(&s)
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Atom {
    /// Prints the atom in Erlang syntax, quoted when needed (`ok`, `'EXIT'`, `'a b'`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::text::write_atom(f, self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_compare_by_text() {
        let short = Atom::new("ok");
        let long = Atom::new("a_rather_long_atom_name_that_is_on_the_heap");
        assert_eq!(short.clone(), Atom::new("ok"));
        assert_eq!(long.clone(), Atom::new(long.as_str()));
        assert_ne!(short, long);
        assert_eq!(std::mem::size_of::<Atom>(), 24);
    }

    #[test]
    fn inline_atoms_of_every_length_keep_their_text() {
        let text = "abcdefghijklmnopqrstuvwxyz0123456789";
        for n in 0..=text.len() {
            let a = Atom::new(&text[..n]);
            assert_eq!(a.as_str(), &text[..n]);
            assert_eq!(Atom::from_ascii(&text.as_bytes()[..n]), a);
            if n <= INLINE_CAP {
                let mut b = Atom::new("previous");
                b.set_inline_ascii(&text.as_bytes()[..n]);
                assert_eq!(b, a);
            }
        }
    }

    #[test]
    fn equality_is_text_equality() {
        // Inline atoms compare as fixed-size values, so this checks that the unused
        // inline bytes are zero however the atom was made: fresh, decoded, or
        // overwritten in place over a longer one. The texts straddle the inline limit,
        // in ASCII and in two-byte characters ("é" is 2 bytes: 11 fit, 12 do not).
        let ascii = "abcdefghijklmnopqrstuvwxyz0123456789";
        let mut texts: Vec<String> = (0..=ascii.len()).map(|n| ascii[..n].into()).collect();
        texts.extend((0..14).map(|n| "é".repeat(n)));
        texts.extend(["b", "abd", "abcdefghijklmnopqrstuvwxyz0123456788"].map(String::from));
        let mut atoms: Vec<(String, Atom)> = Vec::new();
        for t in &texts {
            atoms.push((t.clone(), Atom::new(t)));
            atoms.push((t.clone(), Atom::from(t.clone())));
            if t.is_ascii() {
                atoms.push((t.clone(), Atom::from_ascii(t.as_bytes())));
                if t.len() <= INLINE_CAP {
                    for prev in &texts {
                        let mut a = Atom::new(prev);
                        a.set_inline_ascii(t.as_bytes());
                        atoms.push((t.clone(), a));
                    }
                }
            }
        }
        for (ta, a) in &atoms {
            for (tb, b) in &atoms {
                assert_eq!(a == b, ta == tb, "{ta:?} == {tb:?}");
            }
        }
    }

    #[test]
    fn hash_map_lookups_by_str_find_atoms() {
        let mut m = std::collections::HashMap::new();
        m.insert(Atom::new("ok"), 1);
        m.insert(Atom::new("a_rather_long_atom_name_that_is_on_the_heap"), 2);
        assert_eq!(m.get("ok"), Some(&1));
        assert_eq!(
            m.get("a_rather_long_atom_name_that_is_on_the_heap"),
            Some(&2)
        );
    }

    #[test]
    fn try_new_limits_characters_not_bytes() {
        assert!(Atom::try_new(&"a".repeat(255)).is_some());
        assert!(Atom::try_new(&"a".repeat(256)).is_none());
        assert!(Atom::try_new(&"ä".repeat(255)).is_some());
    }
}
