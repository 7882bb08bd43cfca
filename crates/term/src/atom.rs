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
    #[inline]
    pub(crate) fn from_ascii(bytes: &[u8]) -> Atom {
        debug_assert!(bytes.is_ascii());
        if bytes.len() <= INLINE_CAP {
            Atom::inline(bytes)
        } else {
            match std::str::from_utf8(bytes) {
                Ok(s) => Atom(Repr::Heap(Arc::from(s))),
                Err(_) => Atom::inline(&[]),
            }
        }
    }

    /// An inline atom of at most `INLINE_CAP` bytes (longer input is cut).
    #[inline(always)]
    fn inline(bytes: &[u8]) -> Atom {
        let src = &bytes[..bytes.len().min(INLINE_CAP)];
        let n = src.len();
        // Fixed-size copies (overlapping when needed) instead of a `memcpy` call of
        // variable length: atoms are short and made by the million.
        let mut buf = [0u8; INLINE_CAP];
        if n >= 8 {
            buf[..8].copy_from_slice(&src[..8]);
            if n > 16 {
                buf[8..16].copy_from_slice(&src[8..16]);
            }
            buf[n - 8..n].copy_from_slice(&src[n - 8..]);
        } else if n >= 4 {
            buf[..4].copy_from_slice(&src[..4]);
            buf[n - 4..n].copy_from_slice(&src[n - 4..]);
        } else if n > 0 {
            buf[0] = src[0];
            buf[n / 2] = src[n / 2];
            buf[n - 1] = src[n - 1];
        }
        Atom(Repr::Inline { len: n as u8, buf })
    }

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

impl PartialEq for Atom {
    #[inline]
    fn eq(&self, other: &Atom) -> bool {
        self.as_bytes() == other.as_bytes()
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
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
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
    fn try_new_limits_characters_not_bytes() {
        assert!(Atom::try_new(&"a".repeat(255)).is_some());
        assert!(Atom::try_new(&"a".repeat(256)).is_none());
        assert!(Atom::try_new(&"ä".repeat(255)).is_some());
    }
}
