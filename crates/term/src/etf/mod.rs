//! External Term Format codec. (Being written: the signatures below are the contract.)

use crate::{Atom, Term};
use bytes::Bytes;

/// Why decoding failed, and at which byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid external term at byte {offset}: {reason}")]
pub struct DecodeError {
    /// Offset into the input where the problem was found.
    pub offset: usize,
    /// What was wrong.
    pub reason: String,
}

/// Decoder options.
#[derive(Debug, Clone)]
pub struct DecodeOptions<'a> {
    /// Deepest nesting accepted.
    pub max_depth: usize,
    /// Atom cache of a distribution header: `ATOM_CACHE_REF` index `i` means `atom_cache[i]`.
    pub atom_cache: Option<&'a [Option<Atom>]>,
}

impl Default for DecodeOptions<'_> {
    fn default() -> Self {
        DecodeOptions {
            max_depth: 512,
            atom_cache: None,
        }
    }
}

/// Encodes a term, with the leading version byte 131.
pub fn encode(term: &Term) -> Vec<u8> {
    let mut v = Vec::new();
    encode_into(term, &mut v);
    v
}

/// Appends the encoding of a term, with the leading version byte 131.
pub fn encode_into(_term: &Term, _out: &mut Vec<u8>) {
    unimplemented!("etf encoder")
}

/// Decodes one term that starts with the version byte 131 and fills the input.
pub fn decode(input: &[u8]) -> Result<Term, DecodeError> {
    let (t, _) = decode_with(Bytes::copy_from_slice(input), &DecodeOptions::default())?;
    Ok(t)
}

/// Decodes one term starting with 131 from the front of `input`, returning the term and
/// the number of bytes consumed. Binaries are zero-copy slices of `input`.
pub fn decode_with(_input: Bytes, _opts: &DecodeOptions<'_>) -> Result<(Term, usize), DecodeError> {
    unimplemented!("etf decoder")
}
