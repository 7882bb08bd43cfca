//! The decoder: `binary_to_term/1` for untrusted input.
//!
//! A recursive descent, with the nesting bounded by [`DecodeOptions::max_depth`]. List
//! tails are followed in a loop, so a long list is not deep. Every length is checked
//! against the bytes that remain before anything is allocated for it.
//!
//! For speed, the decoding functions return terms directly, not `Result`s: the first
//! error is recorded in the decoder (sticky), which then stops consuming input, so every
//! later read fails fast and yields a placeholder that is thrown away. This lets tuple and
//! list elements be built straight into their `Vec` (through `Vec::extend` over a range),
//! with no temporary copies of each 48-byte `Term`.

use super::encode::Enc;
use super::{inflate, tag, DecodeError, DecodeOptions, VERSION};
use crate::{
    Atom, BigInt, Fun, FunKind, Pid, Port, Ref, Term, TermMap, INLINE_CAP, MAX_ATOM_CHARS,
};
use bytes::Bytes;
use std::mem::MaybeUninit;

/// Decodes one term that starts with the version byte 131 and fills `input`, without
/// copying it: binaries in the result are slices of `input`.
#[inline]
pub fn decode_bytes(input: Bytes) -> Result<Term, DecodeError> {
    // Written out rather than through `decode_versioned`: each wrapping of the result
    // would copy the term once more.
    let len = input.len();
    if !plain_versioned(&input) {
        return match decode_special(&input, &DecodeOptions::default()) {
            Ok((_, used)) if used != len => Err(trailing(used, len)),
            Ok((t, _)) => Ok(t),
            Err(e) => Err(e),
        };
    }
    let opts = DecodeOptions::default();
    let mut d = Decoder::new(&input, &opts, 1);
    let t = d.term(0);
    match d.err {
        None if d.pos == len => Ok(t),
        None => Err(trailing(d.pos, len)),
        Some(e) => Err(*e),
    }
}

/// Decodes one term *without* the version byte from the front of `input` (as terms are
/// carried after a distribution header), returning the term and the bytes consumed.
#[inline]
pub fn decode_no_version_with(
    input: Bytes,
    opts: &DecodeOptions<'_>,
) -> Result<(Term, usize), DecodeError> {
    decode_no_version_at(&input, 0, opts)
}

/// Decodes one term *without* the version byte that starts at offset `pos` of `input`,
/// returning the term and the offset where it ends. The same as
/// [`decode_no_version_with`] on `input.slice(pos..)`, without that slice (a reference
/// count taken and given back per call); decoded binaries are still slices of `input`,
/// and the offsets in errors count from the start of `input`.
///
/// ```
/// use bytes::Bytes;
/// use ferrobeam_term::etf::decode_no_version_at;
/// use ferrobeam_term::{DecodeOptions, Term};
/// // A header byte, then the small integers 7 and 8.
/// let input = Bytes::from_static(&[0xff, 97, 7, 97, 8]);
/// let opts = DecodeOptions::default();
/// let (a, end) = decode_no_version_at(&input, 1, &opts).unwrap();
/// let (b, end) = decode_no_version_at(&input, end, &opts).unwrap();
/// assert_eq!((a, b, end), (Term::Int(7), Term::Int(8), 5));
/// ```
#[inline]
pub fn decode_no_version_at(
    input: &Bytes,
    pos: usize,
    opts: &DecodeOptions<'_>,
) -> Result<(Term, usize), DecodeError> {
    let mut d = Decoder::new(input, opts, pos.min(input.len()));
    let t = d.term(0);
    match d.err {
        None => Ok((t, d.pos)),
        Some(e) => Err(*e),
    }
}

#[inline]
pub(super) fn decode_versioned(
    input: Bytes,
    opts: &DecodeOptions<'_>,
) -> Result<(Term, usize), DecodeError> {
    if !plain_versioned(&input) {
        return decode_special(&input, opts);
    }
    let mut d = Decoder::new(&input, opts, 1);
    let t = d.term(0);
    match d.err {
        None => Ok((t, d.pos)),
        Some(e) => Err(*e),
    }
}

/// True if `input` starts with 131 and is not compressed.
#[inline(always)]
fn plain_versioned(input: &[u8]) -> bool {
    matches!(input, [VERSION, t, ..] if *t != tag::COMPRESSED)
}

#[cold]
#[inline(never)]
fn trailing(used: usize, len: usize) -> DecodeError {
    DecodeError {
        offset: used,
        reason: format!("{} bytes of trailing data after the term", len - used),
    }
}

/// Inputs that are not a plain versioned term: compressed, or errors.
#[cold]
#[inline(never)]
fn decode_special(input: &Bytes, opts: &DecodeOptions<'_>) -> Result<(Term, usize), DecodeError> {
    match input.first() {
        Some(&VERSION) if input.get(1) == Some(&tag::COMPRESSED) => decode_compressed(input, opts),
        Some(&VERSION) => Err(DecodeError {
            offset: 1,
            reason: "truncated term tag: needs 1 bytes, 0 remain".into(),
        }),
        Some(&b) => Err(DecodeError {
            offset: 0,
            reason: format!("version byte is {b}, expected 131"),
        }),
        None => Err(DecodeError {
            offset: 0,
            reason: "empty input".into(),
        }),
    }
}

/// `131, 80, UncompressedSize:32, ZlibData`.
fn decode_compressed(
    input: &Bytes,
    opts: &DecodeOptions<'_>,
) -> Result<(Term, usize), DecodeError> {
    let size_bytes = input.get(2..6).ok_or_else(|| DecodeError {
        offset: 2,
        reason: "compressed term: truncated uncompressed size".into(),
    })?;
    let size =
        u32::from_be_bytes([size_bytes[0], size_bytes[1], size_bytes[2], size_bytes[3]]) as usize;
    if size > opts.max_inflated_size {
        return Err(DecodeError {
            offset: 2,
            reason: format!(
                "compressed term: uncompressed size {size} is over the limit of {}",
                opts.max_inflated_size
            ),
        });
    }
    let data = &input[6..];
    let (inflated, used) = inflate::zlib_decompress(data, size).map_err(|e| DecodeError {
        offset: 6 + e.offset,
        reason: format!("compressed term: {}", e.reason),
    })?;
    let inflated = Bytes::from(inflated);
    let mut d = Decoder::new(&inflated, opts, 0);
    let t = d.term(0);
    if let Some(e) = d.err {
        return Err(DecodeError {
            offset: 1,
            reason: format!(
                "in compressed term, at byte {} of the uncompressed data: {}",
                e.offset, e.reason
            ),
        });
    }
    if d.pos != inflated.len() {
        return Err(DecodeError {
            offset: 1,
            reason: format!(
                "compressed term: the term ends at byte {} of {} uncompressed bytes",
                d.pos,
                inflated.len()
            ),
        });
    }
    Ok((t, 6 + used))
}

/// Depth a fun adds: decoding one takes more native stack than a tuple or a list.
const FUN_DEPTH_COST: usize = 4;

struct Decoder<'a> {
    src: &'a Bytes,
    buf: &'a [u8],
    pos: usize,
    max_depth: usize,
    /// Terms that may still be built (see [`DecodeOptions::max_terms`]).
    terms_left: usize,
    max_terms: usize,
    atom_cache: Option<&'a [Option<Atom>]>,
    /// Set when an `ATOM_CACHE_REF` was decoded; funs that contain one are re-encoded.
    used_cache: bool,
    /// The first error. Once set, `pos` stays at the end of the input.
    err: Option<Box<DecodeError>>,
}

/// Sorts map pairs (OTP sends maps of up to 32 keys sorted, larger ones hash ordered) and
/// finds duplicate keys, which `binary_to_term` refuses. Returns the duplicate key.
fn sort_map(entries: &mut [(Term, Term)]) -> Option<&Term> {
    if entries.windows(2).all(|w| w[0].0 < w[1].0) {
        return None;
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    entries
        .windows(2)
        .find(|w| w[0].0 == w[1].0)
        .map(|w| &w[0].0)
}

#[cold]
#[inline(never)]
fn bad_tag_reason(t: u8) -> String {
    match t {
        tag::COMPRESSED => "a compressed term (tag 80) may only follow the version byte".into(),
        tag::LOCAL => {
            "LOCAL_EXT (tag 121) is only meaningful to the node that made it; not supported".into()
        }
        tag::FUN => "obsolete FUN_EXT (tag 117) is not supported".into(),
        VERSION => "unexpected version byte 131 inside a term".into(),
        other => format!("unknown tag {other}"),
    }
}

/// True for the tags that [`Decoder::leaf_to`] decodes.
#[inline(always)]
fn is_common_leaf(t: u8) -> bool {
    matches!(
        t,
        tag::SMALL_INTEGER
            | tag::INTEGER
            | tag::ATOM
            | tag::SMALL_ATOM_UTF8
            | tag::BINARY
            | tag::NIL
            | tag::NEW_FLOAT
    )
}

/// The term put in place of one that failed to decode; it is never returned.
#[inline(always)]
fn placeholder() -> Term {
    Term::List(Vec::new())
}

impl<'a> Decoder<'a> {
    #[inline]
    fn new(src: &'a Bytes, opts: &'a DecodeOptions<'_>, pos: usize) -> Decoder<'a> {
        Decoder {
            src,
            buf: src,
            pos,
            max_depth: opts.max_depth,
            terms_left: opts.max_terms,
            max_terms: opts.max_terms,
            atom_cache: opts.atom_cache,
            used_cache: false,
            err: None,
        }
    }

    /// Records the first error and stops consuming input.
    #[cold]
    #[inline(never)]
    fn fail(&mut self, at: usize, reason: String) {
        if self.err.is_none() {
            self.err = Some(Box::new(DecodeError { offset: at, reason }));
        }
        self.pos = self.buf.len();
    }

    #[cold]
    #[inline(never)]
    fn fail_str(&mut self, at: usize, reason: &str) {
        self.fail(at, reason.to_string())
    }

    #[inline]
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[cold]
    #[inline(never)]
    fn truncated(&mut self, what: &str, need: usize) {
        let reason = format!(
            "truncated {what}: needs {need} bytes, {} remain",
            self.remaining()
        );
        self.fail(self.pos, reason);
    }

    /// The next `n` bytes, or an empty slice after recording an error.
    #[inline]
    fn take(&mut self, n: usize, what: &str) -> &'a [u8] {
        let buf: &'a [u8] = self.buf;
        match buf.get(self.pos..).and_then(|r| r.get(..n)) {
            Some(s) => {
                self.pos += n;
                s
            }
            None => {
                self.truncated(what, n);
                &[]
            }
        }
    }

    #[inline]
    fn array<const N: usize>(&mut self, what: &str) -> [u8; N] {
        let mut a = [0u8; N];
        let s = self.take(N, what);
        if s.len() == N {
            a.copy_from_slice(s);
        }
        a
    }

    #[inline]
    fn u8(&mut self, what: &str) -> u8 {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => {
                self.truncated(what, 1);
                0
            }
        }
    }

    #[inline]
    fn u16(&mut self, what: &str) -> u16 {
        u16::from_be_bytes(self.array(what))
    }

    #[inline]
    fn u32(&mut self, what: &str) -> u32 {
        u32::from_be_bytes(self.array(what))
    }

    /// Reads a 32-bit count of items that take at least `min_item` bytes each (plus
    /// `extra` bytes after them), and checks that the input can hold them. 0 on error.
    #[inline]
    fn count(&mut self, what: &str, min_item: usize, extra: usize) -> usize {
        let at = self.pos;
        let n = self.u32(what) as usize;
        let need = n.saturating_mul(min_item).saturating_add(extra);
        if need > self.remaining() {
            self.too_many(at, what, n, need);
            return 0;
        }
        n
    }

    #[cold]
    #[inline(never)]
    fn too_many(&mut self, at: usize, what: &str, n: usize, need: usize) {
        let reason = format!(
            "{what} of {n} claims at least {need} bytes, {} remain",
            self.remaining()
        );
        self.fail(at, reason);
    }

    /// Takes `n` terms from the budget: false (after recording an error) if that would
    /// build more than [`DecodeOptions::max_terms`].
    #[inline]
    fn budget(&mut self, n: usize, at: usize) -> bool {
        match self.terms_left.checked_sub(n) {
            Some(left) => {
                self.terms_left = left;
                true
            }
            None => {
                self.over_budget(at);
                false
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn over_budget(&mut self, at: usize) {
        let reason = format!(
            "the term has more than {} elements (the limit, DecodeOptions::max_terms)",
            self.max_terms
        );
        self.fail(at, reason);
    }

    /// False (after recording an error) if a container at `depth` is too deep.
    #[inline]
    fn depth_ok(&mut self, depth: usize, at: usize) -> bool {
        if depth >= self.max_depth {
            let reason = format!("nesting deeper than the limit of {}", self.max_depth);
            self.fail(at, reason);
            return false;
        }
        true
    }

    /// Decodes one term into `slot`: the common leaves straight into it, everything else
    /// through [`Decoder::other_to`]. Every path writes the slot: the returned reference,
    /// which only `MaybeUninit::write` hands out, shows it.
    #[inline(always)]
    fn term_to<'s>(&mut self, slot: &'s mut MaybeUninit<Term>, depth: usize) -> &'s mut Term {
        let at = self.pos;
        let t = self.u8("term tag");
        if is_common_leaf(t) {
            self.leaf_to(t, at, slot)
        } else {
            // Containers recurse from here. In debug builds `leaf_to` is a call of its
            // own, so its temporaries are not in the frame of every nesting level.
            self.other_to(t, at, depth, slot)
        }
    }

    /// The leaves decoded in place: integers, atoms, binaries, `[]` and floats.
    // Inlined into the loops of optimized builds only (see `term_to`).
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn leaf_to<'s>(&mut self, t: u8, at: usize, slot: &'s mut MaybeUninit<Term>) -> &'s mut Term {
        match t {
            tag::SMALL_INTEGER => {
                let v = self.u8("SMALL_INTEGER_EXT");
                slot.write(Term::Int(v as i64))
            }
            tag::INTEGER => {
                let v = i32::from_be_bytes(self.array("INTEGER_EXT"));
                slot.write(Term::Int(v as i64))
            }
            tag::ATOM | tag::SMALL_ATOM_UTF8 => {
                let bytes = self.atom_bytes(t);
                // Two write sites, so that neither path goes through a temporary.
                if bytes.len() <= INLINE_CAP && bytes.is_ascii() {
                    // Written in place, an empty atom and then its text: building the atom
                    // first and moving it in costs two store-to-load stalls.
                    let t = slot.write(Term::Atom(Atom::new("")));
                    if let Term::Atom(a) = t {
                        a.set_inline_ascii(bytes);
                    }
                    t
                } else if bytes.len() <= MAX_ATOM_CHARS && bytes.is_ascii() {
                    slot.write(Term::Atom(Atom::from_ascii(bytes)))
                } else {
                    slot.write(Term::Atom(self.atom_slow(bytes, t == tag::ATOM, at)))
                }
            }
            tag::BINARY => self.binary_to(slot),
            tag::NIL => slot.write(Term::List(Vec::new())),
            _ => {
                let f = f64::from_bits(u64::from_be_bytes(self.array("NEW_FLOAT_EXT")));
                if f.is_finite() {
                    slot.write(Term::Float(f))
                } else {
                    self.fail_str(at, "NEW_FLOAT_EXT is not a finite number");
                    slot.write(placeholder())
                }
            }
        }
    }

    /// A binary, written into `slot`. Out of line on purpose: inlined, the compiler
    /// routes the write through a temporary shared with the other kinds, and the copy
    /// costs more than the call.
    #[inline(never)]
    fn binary_to<'s>(&mut self, slot: &'s mut MaybeUninit<Term>) -> &'s mut Term {
        let n = self.count("BINARY_EXT length", 1, 0);
        let start = self.pos;
        self.pos += n;
        slot.write(Term::Binary(self.src.slice(start..start + n)))
    }

    /// Decodes one term and returns it.
    #[inline]
    fn term(&mut self, depth: usize) -> Term {
        let mut slot = MaybeUninit::uninit();
        let t = self.term_to(&mut slot, depth);
        // Leaves a placeholder (which owns nothing) in the slot, which is not dropped.
        std::mem::replace(t, placeholder())
    }

    /// Decodes `n` terms onto the end of `v`, each written straight into its place (into
    /// the spare capacity, which avoids a temporary copy of every 48-byte `Term`).
    #[inline]
    fn push_terms(&mut self, v: &mut Vec<Term>, n: usize, depth: usize) {
        v.reserve(n);
        let len = v.len();
        let mut written = 0;
        for slot in v.spare_capacity_mut().iter_mut().take(n) {
            self.term_to(slot, depth);
            written += 1;
        }
        // SAFETY: the loop passed the first `written` spare slots to `term_to`, which
        // initializes the slot it is given on every path (see its doc), and nothing else
        // touched `v` meanwhile; `written <= capacity - len`.
        unsafe { v.set_len(len + written) };
    }

    /// Containers (which recurse, one level deeper) and the less common leaves. Kept
    /// small, as it is on the recursion path: one frame of it per nesting level.
    #[inline(never)]
    fn other_to<'s>(
        &mut self,
        t: u8,
        at: usize,
        depth: usize,
        slot: &'s mut MaybeUninit<Term>,
    ) -> &'s mut Term {
        // Tuples and lists are written into the slot here, not returned: a returned term
        // would be copied into the slot through a temporary, which stalls.
        match t {
            tag::SMALL_TUPLE | tag::LARGE_TUPLE => {
                let n = if t == tag::SMALL_TUPLE {
                    self.u8("SMALL_TUPLE_EXT arity") as usize
                } else {
                    self.count("LARGE_TUPLE_EXT arity", 1, 0)
                };
                let v = self.elements(n, depth, at);
                slot.write(Term::Tuple(v))
            }
            tag::LIST => self.list_to(depth, at, slot),
            tag::MAP => slot.write(self.map(depth, at)),
            tag::NEW_FUN => slot.write(self.new_fun(depth, at)),
            _ => slot.write(self.rare(t, at)),
        }
    }

    /// The leaves that [`Decoder::term`] does not decode inline.
    #[inline(never)]
    fn rare(&mut self, t: u8, at: usize) -> Term {
        match t {
            tag::NEW_PID | tag::PID => Term::Pid(self.pid_body(t)),
            tag::SMALL_ATOM | tag::ATOM_UTF8 => Term::Atom(self.atom_body(t, at)),
            tag::ATOM_CACHE_REF => Term::Atom(self.atom_cache_ref(at)),
            tag::STRING => {
                let mut v = Vec::new();
                self.string_into(&mut v);
                Term::List(v)
            }
            tag::NEWER_REFERENCE | tag::NEW_REFERENCE | tag::REFERENCE => {
                match self.ref_body(t, at) {
                    Some(r) => Term::Ref(Box::new(r)),
                    None => placeholder(),
                }
            }
            tag::SMALL_BIG => {
                let n = self.u8("SMALL_BIG_EXT length") as usize;
                self.big(n)
            }
            tag::LARGE_BIG => {
                let n = self.count("LARGE_BIG_EXT length", 1, 1);
                self.big(n)
            }
            tag::BIT_BINARY => self.bit_binary(at),
            tag::NEW_PORT | tag::V4_PORT | tag::PORT => Term::Port(Box::new(self.port_body(t))),
            tag::EXPORT => self.export(),
            tag::FLOAT => self.old_float(at),
            _ => {
                // After an error the tag read is 0 and this records nothing new.
                let reason = bad_tag_reason(t);
                self.fail(at, reason);
                placeholder()
            }
        }
    }

    /// The `n` elements of a tuple, built in place.
    #[inline]
    fn elements(&mut self, n: usize, depth: usize, at: usize) -> Vec<Term> {
        if n == 0 || !self.depth_ok(depth, at) {
            return Vec::new();
        }
        if n > self.remaining() {
            let reason = format!(
                "tuple of {n} elements but {} bytes remain",
                self.remaining()
            );
            self.fail(at, reason);
            return Vec::new();
        }
        if !self.budget(n, at) {
            return Vec::new();
        }
        let mut v = Vec::with_capacity(n);
        self.push_terms(&mut v, n, depth + 1);
        v
    }

    /// `LIST_EXT`: elements, then a tail. A tail that is itself a list (`LIST_EXT` or
    /// `STRING_EXT`, as other encoders may write) is spliced in by looping, not recursing.
    #[inline(never)]
    fn list_to<'s>(
        &mut self,
        depth: usize,
        at: usize,
        slot: &'s mut MaybeUninit<Term>,
    ) -> &'s mut Term {
        if !self.depth_ok(depth, at) {
            return slot.write(placeholder());
        }
        let mut v: Vec<Term> = Vec::new();
        loop {
            let n = self.count("LIST_EXT length", 1, 1);
            if !self.budget(n, at) {
                return slot.write(placeholder());
            }
            v.reserve(n);
            self.push_terms(&mut v, n, depth + 1);
            match self.buf.get(self.pos) {
                Some(&tag::NIL) => {
                    self.pos += 1;
                    return slot.write(Term::List(v));
                }
                Some(&tag::LIST) => self.pos += 1,
                Some(&tag::STRING) => {
                    self.pos += 1;
                    self.string_into(&mut v);
                    return slot.write(Term::List(v));
                }
                _ => {
                    // Not a list (lists were handled above): an improper list, or the
                    // tail alone when there were no elements. Also the way out after an
                    // error, as the input then looks empty.
                    let tail = self.term(depth + 1);
                    return slot.write(Term::improper_list(v, tail));
                }
            }
        }
    }

    #[inline(never)]
    fn map(&mut self, depth: usize, at: usize) -> Term {
        let n = self.count("MAP_EXT arity", 2, 0);
        if n == 0 || !self.depth_ok(depth, at) || !self.budget(n.saturating_mul(2), at) {
            return Term::Map(TermMap::new());
        }
        let mut entries = Vec::with_capacity(n);
        #[cfg(not(debug_assertions))]
        entries.extend((0..n).map(|_| {
            let k = self.term(depth + 1);
            (k, self.term(depth + 1))
        }));
        #[cfg(debug_assertions)]
        for _ in 0..n {
            let k = self.term(depth + 1);
            let v = self.term(depth + 1);
            entries.push((k, v));
        }
        if self.err.is_some() {
            return placeholder();
        }
        if let Some(k) = sort_map(&mut entries) {
            let reason = match &k {
                Term::Atom(_) | Term::Int(_) => format!("map has the key {k} twice"),
                // Not printed: a large key would make a large message, and printing a
                // big integer in decimal takes time quadratic in its size.
                _ => "map has the same key twice".to_string(),
            };
            self.fail(at, reason);
            return placeholder();
        }
        Term::Map(TermMap::from_sorted_unique(entries))
    }

    /// `STRING_EXT` body: appends its bytes as integers.
    fn string_into(&mut self, v: &mut Vec<Term>) {
        let at = self.pos;
        let n = self.u16("STRING_EXT length") as usize;
        let s = self.take(n, "STRING_EXT");
        if !self.budget(s.len(), at) {
            return;
        }
        v.reserve(s.len());
        v.extend(s.iter().map(|&b| Term::Int(b as i64)));
    }

    /// An atom in any encoding (a node name or a fun's module).
    fn atom(&mut self, what: &str) -> Atom {
        let at = self.pos;
        let t = self.u8(what);
        match t {
            tag::ATOM | tag::SMALL_ATOM | tag::ATOM_UTF8 | tag::SMALL_ATOM_UTF8 => {
                self.atom_body(t, at)
            }
            tag::ATOM_CACHE_REF => self.atom_cache_ref(at),
            other => {
                self.fail(at, format!("{what}: expected an atom, found tag {other}"));
                Atom::new("")
            }
        }
    }

    fn atom_cache_ref(&mut self, at: usize) -> Atom {
        let i = self.u8("ATOM_CACHE_REF index") as usize;
        match self.atom_cache.map(|c| c.get(i)) {
            Some(Some(Some(a))) => {
                self.used_cache = true;
                a.clone()
            }
            None => {
                self.fail_str(at, "ATOM_CACHE_REF without an atom cache");
                Atom::new("")
            }
            Some(_) => {
                self.fail(at, format!("ATOM_CACHE_REF {i} is not in the atom cache"));
                Atom::new("")
            }
        }
    }

    /// The text of an atom whose tag `t` was just read.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn atom_bytes(&mut self, t: u8) -> &'a [u8] {
        let n = match t {
            tag::SMALL_ATOM_UTF8 | tag::SMALL_ATOM => self.u8("atom length") as usize,
            _ => self.u16("atom length") as usize,
        };
        self.take(n, "atom text")
    }

    /// The atom whose tag `t` was just read.
    #[inline]
    fn atom_body(&mut self, t: u8, at: usize) -> Atom {
        let bytes = self.atom_bytes(t);
        if bytes.len() <= MAX_ATOM_CHARS && bytes.is_ascii() {
            return Atom::from_ascii(bytes);
        }
        self.atom_slow(bytes, t == tag::ATOM || t == tag::SMALL_ATOM, at)
    }

    /// Atoms that are not short ASCII: Latin-1, UTF-8, or too long.
    #[inline(never)]
    fn atom_slow(&mut self, bytes: &[u8], latin1: bool, at: usize) -> Atom {
        if latin1 {
            if bytes.len() > MAX_ATOM_CHARS {
                let reason = format!("atom of {} characters (the limit is 255)", bytes.len());
                self.fail(at, reason);
                return Atom::new("");
            }
            // Each Latin-1 character takes at most 2 bytes of UTF-8.
            let mut buf = [0u8; 2 * MAX_ATOM_CHARS];
            let mut n = 0;
            for &b in bytes {
                n += char::from(b).encode_utf8(&mut buf[n..]).len();
            }
            return match std::str::from_utf8(&buf[..n]) {
                Ok(s) => Atom::new(s),
                Err(_) => Atom::new(""),
            };
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                let chars = s.chars().count();
                if chars > MAX_ATOM_CHARS {
                    self.fail(at, format!("atom of {chars} characters (the limit is 255)"));
                    return Atom::new("");
                }
                Atom::new(s)
            }
            Err(e) => {
                let reason = format!(
                    "atom is not valid UTF-8 (at byte {} of it)",
                    e.valid_up_to()
                );
                self.fail(at, reason);
                Atom::new("")
            }
        }
    }

    fn pid_body(&mut self, t: u8) -> Pid {
        let node = self.atom("pid node");
        let id = self.u32("pid id");
        let serial = self.u32("pid serial");
        let creation = if t == tag::PID {
            self.u8("pid creation") as u32
        } else {
            self.u32("pid creation")
        };
        Pid {
            node,
            id,
            serial,
            creation,
        }
    }

    #[inline(never)]
    fn port_body(&mut self, t: u8) -> Port {
        let node = self.atom("port node");
        let id = if t == tag::V4_PORT {
            u64::from_be_bytes(self.array("port id"))
        } else {
            self.u32("port id") as u64
        };
        let creation = if t == tag::PORT {
            self.u8("port creation") as u32
        } else {
            self.u32("port creation")
        };
        Port { node, id, creation }
    }

    #[inline(never)]
    fn ref_body(&mut self, t: u8, at: usize) -> Option<Ref> {
        let len = if t == tag::REFERENCE {
            1
        } else {
            self.u16("reference length") as usize
        };
        if len == 0 || len > crate::MAX_REF_WORDS {
            self.fail(
                at,
                format!("reference with {len} id words (1 to 5 allowed)"),
            );
            return None;
        }
        let node = self.atom("reference node");
        let mut ids = [0u32; crate::MAX_REF_WORDS];
        let creation = match t {
            tag::NEWER_REFERENCE => self.u32("reference creation"),
            tag::REFERENCE => {
                ids[0] = self.u32("reference id");
                self.u8("reference creation") as u32
            }
            _ => self.u8("reference creation") as u32,
        };
        if t != tag::REFERENCE {
            for w in ids.iter_mut().take(len) {
                *w = self.u32("reference id");
            }
        }
        Ref::new(node, creation, &ids[..len])
    }

    #[inline(never)]
    fn big(&mut self, n: usize) -> Term {
        let sign = self.u8("big integer sign");
        if sign > 1 {
            self.fail(self.pos - 1, format!("big integer sign byte {sign}"));
            return placeholder();
        }
        let mag = self.take(n, "big integer digits");
        let neg = sign == 1;
        // Fast path: the value fits in 64 bits.
        let sig = mag.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        if sig <= 8 {
            let mut b = [0u8; 8];
            b[..sig].copy_from_slice(&mag[..sig]);
            let m = u64::from_le_bytes(b);
            if !neg && m <= i64::MAX as u64 {
                return Term::Int(m as i64);
            }
            if neg && m <= 1u64 << 63 {
                return Term::Int((m as i64).wrapping_neg());
            }
        }
        Term::from_bigint(BigInt::from_le_bytes(neg, &mag[..sig]))
    }

    #[inline(never)]
    fn bit_binary(&mut self, at: usize) -> Term {
        let n = self.count("BIT_BINARY_EXT length", 1, 1);
        let bits = self.u8("BIT_BINARY_EXT bits");
        if self.err.is_some() {
            return placeholder();
        }
        let start = self.pos;
        self.pos += n;
        match (n, bits) {
            (0, 0..=8) => Term::Binary(Bytes::new()),
            (_, 8) => Term::Binary(self.src.slice(start..start + n)),
            (1.., 1..=7) => {
                let mask = 0xffu8 << (8 - bits);
                let data = self.src.slice(start..start + n);
                let data = match data.last() {
                    Some(&last) if last & !mask != 0 => {
                        // Clear the unused low bits, as BEAM does; only then is a copy
                        // needed.
                        let mut v = data.to_vec();
                        if let Some(l) = v.last_mut() {
                            *l &= mask;
                        }
                        Bytes::from(v)
                    }
                    _ => data,
                };
                Term::BitBinary { data, bits }
            }
            _ => {
                let reason =
                    format!("BIT_BINARY_EXT with {bits} bits in its last byte (1 to 8 allowed)");
                self.fail(at, reason);
                placeholder()
            }
        }
    }

    /// `FLOAT_EXT`: 31 bytes of `printf("%.20e")` text, NUL padded.
    #[inline(never)]
    fn old_float(&mut self, at: usize) -> Term {
        let s = self.take(31, "FLOAT_EXT");
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        let text = std::str::from_utf8(&s[..end])
            .ok()
            .map(str::trim)
            .filter(|t| {
                t.bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
            });
        match text.map(|t| (t, t.parse::<f64>())) {
            Some((_, Ok(f))) if f.is_finite() => Term::Float(f),
            Some((t, _)) => {
                let reason = format!("FLOAT_EXT {t:?} is not a finite number");
                self.fail(at, reason);
                placeholder()
            }
            None => {
                self.fail_str(at, "FLOAT_EXT is not a decimal number");
                placeholder()
            }
        }
    }

    /// `NEW_FUN_EXT`: `Size:32 Arity:8 Uniq:16/binary Index:32 NumFree:32 Module OldIndex
    /// OldUniq Pid FreeVars`, where `Size` counts itself and everything after it.
    #[inline(never)]
    fn new_fun(&mut self, depth: usize, at: usize) -> Term {
        if !self.depth_ok(depth, at) {
            return placeholder();
        }
        let size = self.u32("NEW_FUN_EXT size") as usize;
        if self.err.is_none() && (size < 4 || size - 4 > self.remaining()) {
            let reason = format!(
                "NEW_FUN_EXT size {size} does not fit the {} bytes that remain",
                self.remaining() + 4
            );
            self.fail(at, reason);
        }
        if self.err.is_some() {
            return placeholder();
        }
        let end = at + 1 + size;
        let saved_cache = std::mem::replace(&mut self.used_cache, false);
        let arity = self.u8("NEW_FUN_EXT arity");
        let uniq: [u8; 16] = self.array("NEW_FUN_EXT uniq");
        let index = self.u32("NEW_FUN_EXT index");
        let num_free = self.u32("NEW_FUN_EXT free variable count");
        let module = self.atom("NEW_FUN_EXT module");
        // OldIndex, OldUniq, Pid and the free variables each take at least one byte.
        let nparts = (num_free as usize).saturating_add(3);
        if nparts > end.saturating_sub(self.pos) {
            let reason = format!("NEW_FUN_EXT claims {num_free} free variables in too few bytes");
            self.fail(at, reason);
            return placeholder();
        }
        if !self.budget(nparts, at) {
            return placeholder();
        }
        let mut parts = Vec::with_capacity(nparts);
        self.push_terms(&mut parts, nparts, depth + FUN_DEPTH_COST);
        if self.err.is_some() {
            return placeholder();
        }
        if self.pos != end {
            let reason = format!(
                "NEW_FUN_EXT size says {size} bytes but its fields take {}",
                self.pos - at - 1
            );
            self.fail(at, reason);
            return placeholder();
        }
        if !matches!(
            &parts[..],
            [
                Term::Int(_) | Term::BigInt(_),
                Term::Int(_) | Term::BigInt(_),
                Term::Pid(_),
                ..
            ]
        ) {
            self.fail_str(
                at,
                "NEW_FUN_EXT: OldIndex and OldUniq must be integers and then a pid",
            );
            return placeholder();
        }
        let used_cache = std::mem::replace(&mut self.used_cache, saved_cache);
        self.used_cache |= used_cache;
        let raw = if used_cache {
            // Atom cache references only mean something inside this message: write the
            // fun out again with its atoms in full.
            let mut out = Vec::with_capacity(size + 64);
            out.push(tag::NEW_FUN);
            out.extend_from_slice(&[0; 4]);
            out.push(arity);
            out.extend_from_slice(&uniq);
            out.extend_from_slice(&index.to_be_bytes());
            out.extend_from_slice(&num_free.to_be_bytes());
            let mut e = Enc {
                out: &mut out,
                utf8_atoms: false,
                refs: None,
            };
            e.atom(&module);
            for p in &parts {
                e.term(p);
            }
            let new_size = (out.len() - 1) as u32;
            out[1..5].copy_from_slice(&new_size.to_be_bytes());
            Bytes::from(out)
        } else {
            self.src.slice(at..end)
        };
        Term::Fun(Box::new(Fun {
            kind: FunKind::Closure {
                module,
                uniq,
                index,
                arity,
                num_free,
            },
            raw,
        }))
    }

    /// `EXPORT_EXT`: `Module Function Arity`.
    #[inline(never)]
    fn export(&mut self) -> Term {
        let module = self.atom("EXPORT_EXT module");
        let function = self.atom("EXPORT_EXT function");
        // OTP writes the arity as SMALL_INTEGER_EXT but accepts any integer encoding.
        let arity_at = self.pos;
        let arity = match self.u8("EXPORT_EXT arity") {
            tag::SMALL_INTEGER => Some(self.u8("EXPORT_EXT arity")),
            tag::INTEGER => u8::try_from(i32::from_be_bytes(self.array("EXPORT_EXT arity"))).ok(),
            tag::SMALL_BIG => {
                let n = self.u8("EXPORT_EXT arity") as usize;
                match self.big(n) {
                    Term::Int(i) => u8::try_from(i).ok(),
                    _ => None,
                }
            }
            _ => {
                self.fail_str(arity_at, "EXPORT_EXT arity is not an integer");
                return placeholder();
            }
        };
        match arity {
            // One raw encoding per export fun, whatever atom tags it arrived with: the
            // one `Fun::export` builds, so decoded and constructed funs compare equal.
            Some(a) if self.err.is_none() => Term::Fun(Box::new(Fun::export(module, function, a))),
            Some(_) => placeholder(),
            None => {
                self.fail_str(arity_at, "EXPORT_EXT arity is not in 0..=255");
                placeholder()
            }
        }
    }
}
