//! The External Term Format (ETF): Erlang's binary encoding of terms, as written by
//! `erlang:term_to_binary/1` and sent between nodes.
//!
//! # Encoding
//!
//! [`encode`] and [`encode_into`] write the bytes that OTP 25's `term_to_binary/1` writes
//! for the same term (with no options), byte for byte:
//! * integers `0..=255` as `SMALL_INTEGER_EXT`, the `i32` range as `INTEGER_EXT`, larger
//!   ones as `SMALL_BIG_EXT`/`LARGE_BIG_EXT`;
//! * floats as `NEW_FLOAT_EXT`;
//! * atoms whose characters are all Latin-1 as `ATOM_EXT` (OTP 25 does this; OTP 26 moved to
//!   UTF-8), others as `SMALL_ATOM_UTF8_EXT`/`ATOM_UTF8_EXT`. [`EncodeOptions::utf8_atoms`]
//!   selects UTF-8 atoms throughout, as OTP 26 and the distribution protocol use;
//! * proper lists of at most 65535 integers in `0..=255` as `STRING_EXT`;
//! * maps with their keys in map-key order, which is what OTP does for maps of up to 32
//!   keys (larger OTP maps are written in hash order, which decodes to the same map);
//! * pids as `NEW_PID_EXT`, ports as `NEW_PORT_EXT` when the id fits in 28 bits and
//!   `V4_PORT_EXT` above (as OTP 25 does), references as `NEWER_REFERENCE_EXT`;
//! * export funs (`fun m:f/a`) from their fields, closures as the bytes they were received as.
//!
//! The encoder makes no sizing pass: it writes into the caller's buffer (reused by a
//! connection writer, so already large enough), reserving exactly for large binaries.
//! [`encoded_len`] gives the exact size when a caller needs it up front.
//! [`encode_vectored`] does not copy large binaries at all: it records them as
//! [`Bytes`] references next to the rest of the encoding, for a vectored socket write.
//! Terms without the version byte (as carried after a distribution header) come from
//! [`encode_with`] and [`EncodeOptions::version`], and are read by
//! [`decode_no_version_with`].
//!
//! # Decoding
//!
//! [`decode_with`] accepts every tag OTP 25+ can send, old ones included (`FLOAT_EXT`,
//! Latin-1 atoms, `PID_EXT`, `PORT_EXT`, `NEW_REFERENCE_EXT`, `REFERENCE_EXT`), compressed
//! terms (`term_to_binary(T, [compressed])`, inflated by this crate's own zlib decoder), and
//! `ATOM_CACHE_REF` through [`DecodeOptions::atom_cache`]. `LOCAL_EXT` and the obsolete
//! `FUN_EXT` are refused.
//!
//! Untrusted input is safe: the decoder never panics, checks every length against the
//! remaining input before allocating, limits nesting ([`DecodeOptions::max_depth`]; the
//! tails of lists are followed iteratively, so a long list is not deep), limits inflated
//! size ([`DecodeOptions::max_inflated_size`]), limits the number of terms built
//! ([`DecodeOptions::max_terms`]: a term takes 48 bytes decoded, however few it took
//! encoded, so this bounds the memory of a decode), and refuses non-finite floats, atoms over
//! 255 characters and maps with duplicate keys. Atoms are values, never interned, so a
//! stream of distinct atoms costs no lasting memory. Binaries are zero-copy slices of the
//! input [`Bytes`] ([`decode_bytes`], [`decode_with`]; [`decode`] copies its `&[u8]` once).
//!
//! ```
//! use ferrobeam_term::{etf, Term};
//! let t = Term::tuple(vec![Term::atom("ok"), Term::Int(1)]);
//! let bytes = etf::encode(&t);
//! assert_eq!(bytes, [131, 104, 2, 100, 0, 2, b'o', b'k', 97, 1]);
//! assert_eq!(etf::decode(&bytes).unwrap(), t);
//! ```

mod decode;
mod encode;
mod inflate;

use crate::Atom;
use bytes::Bytes;

pub use decode::{decode_bytes, decode_no_version_at, decode_no_version_with};
pub use encode::{encode_vectored, encode_with, encoded_len_with, Vectored};

/// The version byte that starts every external term.
pub const VERSION: u8 = 131;

/// Tag bytes of the External Term Format.
pub mod tag {
    /// `NEW_FLOAT_EXT`: an IEEE 754 double, big-endian.
    pub const NEW_FLOAT: u8 = 70;
    /// `BIT_BINARY_EXT`: a bitstring.
    pub const BIT_BINARY: u8 = 77;
    /// Compressed term: uncompressed size and zlib data.
    pub const COMPRESSED: u8 = 80;
    /// `ATOM_CACHE_REF`: an index into the distribution header's atom cache.
    pub const ATOM_CACHE_REF: u8 = 82;
    /// `NEW_PID_EXT`.
    pub const NEW_PID: u8 = 88;
    /// `NEW_PORT_EXT`.
    pub const NEW_PORT: u8 = 89;
    /// `NEWER_REFERENCE_EXT`.
    pub const NEWER_REFERENCE: u8 = 90;
    /// `SMALL_INTEGER_EXT`: an unsigned byte.
    pub const SMALL_INTEGER: u8 = 97;
    /// `INTEGER_EXT`: a signed 32-bit integer.
    pub const INTEGER: u8 = 98;
    /// `FLOAT_EXT`: a float as 31 bytes of text (obsolete).
    pub const FLOAT: u8 = 99;
    /// `ATOM_EXT`: a Latin-1 atom with a 16-bit length.
    pub const ATOM: u8 = 100;
    /// `REFERENCE_EXT` (obsolete).
    pub const REFERENCE: u8 = 101;
    /// `PORT_EXT` (obsolete).
    pub const PORT: u8 = 102;
    /// `PID_EXT` (obsolete).
    pub const PID: u8 = 103;
    /// `SMALL_TUPLE_EXT`.
    pub const SMALL_TUPLE: u8 = 104;
    /// `LARGE_TUPLE_EXT`.
    pub const LARGE_TUPLE: u8 = 105;
    /// `NIL_EXT`: `[]`.
    pub const NIL: u8 = 106;
    /// `STRING_EXT`: a list of bytes.
    pub const STRING: u8 = 107;
    /// `LIST_EXT`.
    pub const LIST: u8 = 108;
    /// `BINARY_EXT`.
    pub const BINARY: u8 = 109;
    /// `SMALL_BIG_EXT`.
    pub const SMALL_BIG: u8 = 110;
    /// `LARGE_BIG_EXT`.
    pub const LARGE_BIG: u8 = 111;
    /// `NEW_FUN_EXT`.
    pub const NEW_FUN: u8 = 112;
    /// `EXPORT_EXT`.
    pub const EXPORT: u8 = 113;
    /// `NEW_REFERENCE_EXT` (obsolete).
    pub const NEW_REFERENCE: u8 = 114;
    /// `SMALL_ATOM_EXT`: a Latin-1 atom with an 8-bit length.
    pub const SMALL_ATOM: u8 = 115;
    /// `MAP_EXT`.
    pub const MAP: u8 = 116;
    /// `FUN_EXT` (removed from OTP).
    pub const FUN: u8 = 117;
    /// `ATOM_UTF8_EXT`.
    pub const ATOM_UTF8: u8 = 118;
    /// `SMALL_ATOM_UTF8_EXT`.
    pub const SMALL_ATOM_UTF8: u8 = 119;
    /// `V4_PORT_EXT`: a port with a 64-bit id.
    pub const V4_PORT: u8 = 120;
    /// `LOCAL_EXT`: a node-local encoding.
    pub const LOCAL: u8 = 121;
}

/// Why decoding failed, and at which byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid external term at byte {offset}: {reason}")]
pub struct DecodeError {
    /// Offset into the input where the problem was found.
    pub offset: usize,
    /// What was wrong.
    pub reason: String,
}

/// Default for [`DecodeOptions::max_depth`].
pub const DEFAULT_MAX_DEPTH: usize = 512;

/// Default for [`DecodeOptions::max_inflated_size`]: 64 MiB.
pub const DEFAULT_MAX_INFLATED_SIZE: usize = 64 << 20;

/// Default for [`DecodeOptions::max_terms`]: 16 Mi terms, about 768 MiB decoded.
pub const DEFAULT_MAX_TERMS: usize = 1 << 24;

/// Decoder options.
///
/// Build with struct update syntax so that fields added later keep their defaults:
///
/// ```
/// use ferrobeam_term::DecodeOptions;
/// let opts = DecodeOptions { max_depth: 64, ..DecodeOptions::default() };
/// # let _ = opts;
/// ```
#[derive(Debug, Clone)]
pub struct DecodeOptions<'a> {
    /// Most containers (tuples, lists, maps, funs) open at once, that is, the deepest
    /// nesting accepted. The decoder itself does not recurse, but dropping, comparing and
    /// printing a term do, once per level, so keep this modest.
    pub max_depth: usize,
    /// Atom cache of a distribution header: `ATOM_CACHE_REF` index `i` means `atom_cache[i]`.
    /// Without a cache, `ATOM_CACHE_REF` is an error.
    pub atom_cache: Option<&'a [Option<Atom>]>,
    /// Largest uncompressed size accepted for a compressed term, in bytes.
    pub max_inflated_size: usize,
    /// Most terms one decode may build: the elements of every tuple, list, map (keys
    /// and values) and fun, counted together. A decoded [`Term`](crate::Term) takes 48
    /// bytes however small its encoding (`[]` and the characters of a `STRING_EXT` take
    /// one byte each), so this bounds the memory a decode allocates at about 48 bytes
    /// times this, whatever the input claims.
    pub max_terms: usize,
}

impl Default for DecodeOptions<'_> {
    fn default() -> Self {
        DecodeOptions {
            max_depth: DEFAULT_MAX_DEPTH,
            atom_cache: None,
            max_inflated_size: DEFAULT_MAX_INFLATED_SIZE,
            max_terms: DEFAULT_MAX_TERMS,
        }
    }
}

/// Encoder options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Write the version byte 131 first. The distribution header format (`131, 68`) carries
    /// its terms without it.
    pub version: bool,
    /// Write every atom as `SMALL_ATOM_UTF8_EXT`/`ATOM_UTF8_EXT`, as OTP 26's
    /// `term_to_binary` and the distribution protocol do. When false (the default), atoms
    /// whose characters are all Latin-1 are written as `ATOM_EXT`, like OTP 25's
    /// `term_to_binary/1`.
    pub utf8_atoms: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            version: true,
            utf8_atoms: false,
        }
    }
}

/// Encodes a term, with the leading version byte 131, exactly as OTP 25's
/// `term_to_binary/1` does.
pub fn encode(term: &crate::Term) -> Vec<u8> {
    let mut v = Vec::new();
    encode_with(term, &EncodeOptions::default(), &mut v);
    v
}

/// Appends the encoding of a term, with the leading version byte 131.
pub fn encode_into(term: &crate::Term, out: &mut Vec<u8>) {
    encode_with(term, &EncodeOptions::default(), out)
}

/// The number of bytes [`encode`] writes for `term`, version byte included.
pub fn encoded_len(term: &crate::Term) -> usize {
    encoded_len_with(term, &EncodeOptions::default())
}

/// Decodes one term that starts with the version byte 131 and fills the input.
///
/// The input is copied once so that binaries in the result can share it; use
/// [`decode_bytes`] to decode from [`Bytes`] without that copy.
pub fn decode(input: &[u8]) -> Result<crate::Term, DecodeError> {
    decode_bytes(Bytes::copy_from_slice(input))
}

/// Decodes one term starting with 131 from the front of `input`, returning the term and
/// the number of bytes consumed. Binaries are zero-copy slices of `input`.
#[inline]
pub fn decode_with(
    input: Bytes,
    opts: &DecodeOptions<'_>,
) -> Result<(crate::Term, usize), DecodeError> {
    decode::decode_versioned(input, opts)
}
