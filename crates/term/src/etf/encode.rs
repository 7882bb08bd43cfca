//! The encoder: `term_to_binary/1`, byte for byte.
//!
//! One pass over the term, appending to a `Vec<u8>`; nothing is allocated per term.
//! [`encoded_len_with`] computes the exact size separately, for callers that need it.

use super::{tag, EncodeOptions, VERSION};
use crate::{Atom, BigInt, Fun, FunKind, Pid, Port, Ref, Term};
use bytes::Bytes;

/// Largest atom encoding accepted by `ATOM_EXT`/`ATOM_UTF8_EXT` (a 16-bit length).
const MAX_ATOM_BYTES: usize = u16::MAX as usize;

/// Largest port id that OTP 25 writes as `NEW_PORT_EXT` (28 bits); larger ids go out as
/// `V4_PORT_EXT`.
const MAX_V3_PORT_ID: u64 = (1 << 28) - 1;

/// Largest list written as `STRING_EXT`.
const MAX_STRING_EXT: usize = u16::MAX as usize;

/// Appends the encoding of `term` to `out` as `opts` asks.
///
/// The output is what OTP 25's `term_to_binary/1` writes (with the default options).
/// Terms that Erlang cannot represent are still written without panicking: a non-finite
/// float is written as its bits (and refused by decoders), and an atom longer than 65535
/// bytes is cut at a character boundary.
pub fn encode_with(term: &Term, opts: &EncodeOptions, out: &mut Vec<u8>) {
    // No sizing pass: a reused buffer already has room, and a fresh one grows a few
    // times at most. Large binaries reserve exactly when they are written.
    out.reserve(size_hint(term) + 1);
    if opts.version {
        out.push(VERSION);
    }
    Enc {
        out,
        utf8_atoms: opts.utf8_atoms,
        refs: None,
    }
    .term(term);
}

/// A cheap lower estimate of the encoded size: exact for binaries, one level deep.
pub(super) fn size_hint(term: &Term) -> usize {
    fn shallow(t: &Term) -> usize {
        match t {
            Term::Binary(b) => 5 + b.len(),
            Term::BitBinary { data, .. } => 6 + data.len(),
            _ => 16,
        }
    }
    match term {
        Term::Tuple(v) | Term::List(v) => 5 + v.iter().map(shallow).sum::<usize>(),
        Term::Map(m) => {
            5 + m
                .iter()
                .map(|(k, v)| shallow(k) + shallow(v))
                .sum::<usize>()
        }
        t => shallow(t),
    }
}

/// The exact number of bytes [`encode_with`] appends for `term` with `opts`.
pub fn encoded_len_with(term: &Term, opts: &EncodeOptions) -> usize {
    let l = Len {
        utf8_atoms: opts.utf8_atoms,
    };
    l.term(term) + usize::from(opts.version)
}

/// How an atom is written.
enum AtomForm<'a> {
    /// The bytes are ASCII: identical as Latin-1 and UTF-8.
    Ascii(&'a [u8]),
    /// Latin-1 characters, some above 127: written as `ATOM_EXT` with one byte per char.
    Latin1(&'a str, usize),
    /// UTF-8 bytes.
    Utf8(&'a [u8]),
}

fn atom_form(a: &Atom, utf8: bool) -> AtomForm<'_> {
    let mut b = a.as_bytes();
    if b.is_ascii() {
        if b.len() > MAX_ATOM_BYTES {
            b = &b[..MAX_ATOM_BYTES];
        }
        return AtomForm::Ascii(b);
    }
    let s = truncate_str(a.as_str(), MAX_ATOM_BYTES);
    if !utf8 && s.chars().all(|c| (c as u32) < 256) {
        AtomForm::Latin1(s, s.chars().count())
    } else {
        AtomForm::Utf8(s.as_bytes())
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// True if `l` goes out as `STRING_EXT`.
#[inline]
fn is_string_ext(l: &[Term]) -> bool {
    !l.is_empty() && l.len() <= MAX_STRING_EXT && l.iter().all(|t| matches!(t, Term::Int(0..=255)))
}

/// True if an improper list is not in the normal form `Term::improper_list` builds.
#[inline]
fn improper_needs_normalizing(elements: &[Term], tail: &Term) -> bool {
    elements.is_empty() || matches!(tail, Term::List(_) | Term::ImproperList { .. })
}

/// Minimal little-endian magnitude of `i` (at most 8 bytes).
#[inline]
fn i64_magnitude(i: i64) -> ([u8; 8], usize) {
    let m = i.unsigned_abs();
    let n = 8 - (m.leading_zeros() as usize / 8);
    (m.to_le_bytes(), n)
}

struct Len {
    utf8_atoms: bool,
}

impl Len {
    fn atom(&self, a: &Atom) -> usize {
        match atom_form(a, self.utf8_atoms) {
            AtomForm::Ascii(b) if !self.utf8_atoms => 3 + b.len(),
            AtomForm::Latin1(_, n) => 3 + n,
            AtomForm::Ascii(b) | AtomForm::Utf8(b) => {
                if b.len() <= 255 {
                    2 + b.len()
                } else {
                    3 + b.len()
                }
            }
        }
    }

    fn bigint(&self, b: &BigInt) -> usize {
        if let Some(i) = small_bigint(b) {
            return self.int(i);
        }
        let n = b.magnitude_le().len();
        if n <= 255 {
            3 + n
        } else {
            6 + n
        }
    }

    #[inline]
    fn int(&self, i: i64) -> usize {
        if (0..=255).contains(&i) {
            2
        } else if i32::try_from(i).is_ok() {
            5
        } else {
            3 + i64_magnitude(i).1
        }
    }

    fn elements(&self, l: &[Term]) -> usize {
        l.iter().map(|t| self.term(t)).sum()
    }

    fn term(&self, t: &Term) -> usize {
        match t {
            Term::Int(i) => self.int(*i),
            Term::BigInt(b) => self.bigint(b),
            Term::Float(_) => 9,
            Term::Atom(a) => self.atom(a),
            Term::Binary(b) => 5 + b.len(),
            Term::BitBinary { data, bits } => {
                if *bits == 0 || *bits >= 8 || data.is_empty() {
                    5 + data.len()
                } else {
                    6 + data.len()
                }
            }
            Term::List(l) => {
                if l.is_empty() {
                    1
                } else if is_string_ext(l) {
                    3 + l.len()
                } else {
                    5 + self.elements(l) + 1
                }
            }
            Term::ImproperList { elements, tail } => {
                if improper_needs_normalizing(elements, tail) {
                    self.term(&Term::improper_list(elements.clone(), (**tail).clone()))
                } else {
                    5 + self.elements(elements) + self.term(tail)
                }
            }
            Term::Tuple(e) => {
                let h = if e.len() <= 255 { 2 } else { 5 };
                h + self.elements(e)
            }
            Term::Map(m) => {
                5 + m
                    .iter()
                    .map(|(k, v)| self.term(k) + self.term(v))
                    .sum::<usize>()
            }
            Term::Pid(p) => 1 + self.atom(&p.node) + 12,
            Term::Port(p) => 1 + self.atom(&p.node) + if p.id > MAX_V3_PORT_ID { 12 } else { 8 },
            Term::Ref(r) => 3 + self.atom(&r.node) + 4 + 4 * r.ids().len(),
            Term::Fun(f) => match &f.kind {
                FunKind::Export {
                    module, function, ..
                } => 1 + self.atom(module) + self.atom(function) + 2,
                FunKind::Closure { .. } => f.raw.len(),
            },
        }
    }
}

/// The value of a big integer that fits `i64` (only in a non-normalized term).
#[inline]
fn small_bigint(b: &BigInt) -> Option<i64> {
    if b.magnitude_le().len() <= 8 {
        b.to_i64()
    } else {
        None
    }
}

pub(super) struct Enc<'a> {
    pub(super) out: &'a mut Vec<u8>,
    pub(super) utf8_atoms: bool,
    /// For [`encode_vectored`]: binaries of at least `.1` bytes are recorded in `.0`
    /// instead of being copied.
    pub(super) refs: Option<(&'a mut Vec<(usize, Bytes)>, usize)>,
}

/// An encoding whose large binaries are referenced rather than copied, for vectored
/// writes (`write_vectored`, `writev`): the bytes are [`Vectored::head`] with each of
/// [`Vectored::binaries`] inserted at its offset. See [`encode_vectored`].
#[derive(Debug, Default, Clone)]
pub struct Vectored {
    /// The encoding without the referenced binaries' contents.
    pub head: Vec<u8>,
    /// Binaries left out of `head`, each with the offset in `head` where its bytes go;
    /// offsets never decrease.
    pub binaries: Vec<(usize, Bytes)>,
}

impl Vectored {
    /// An empty encoding.
    pub fn new() -> Vectored {
        Vectored::default()
    }

    /// Empties it, keeping the allocations.
    pub fn clear(&mut self) {
        self.head.clear();
        self.binaries.clear();
    }

    /// Total length of the encoding in bytes.
    pub fn len(&self) -> usize {
        self.head.len() + self.binaries.iter().map(|(_, b)| b.len()).sum::<usize>()
    }

    /// True if nothing was encoded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The encoding as consecutive slices, in order (empty slices left out).
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let len = self.head.len();
        (0..=self.binaries.len())
            .flat_map(move |i| {
                let at = |k: usize| self.binaries.get(k).map_or(len, |(at, _)| *at);
                let end = at(i).min(len);
                let start = if i == 0 { 0 } else { at(i - 1).min(end) };
                let bin: &[u8] = self.binaries.get(i).map_or(&[], |(_, b)| b);
                [&self.head[start..end], bin]
            })
            .filter(|c| !c.is_empty())
    }

    /// The encoding in one buffer (copies the binaries).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        for c in self.chunks() {
            v.extend_from_slice(c);
        }
        v
    }
}

/// Encodes `term` like [`encode_with`], appending to `out`, but binaries of at least
/// `min_binary` bytes are referenced (a reference-count increment), not copied: encoding
/// a 64 KiB binary costs the same as encoding a 64-byte one. `out.chunks()` are then
/// written with one vectored write.
pub fn encode_vectored(term: &Term, opts: &EncodeOptions, min_binary: usize, out: &mut Vectored) {
    out.head.reserve(64);
    if opts.version {
        out.head.push(VERSION);
    }
    Enc {
        out: &mut out.head,
        utf8_atoms: opts.utf8_atoms,
        refs: Some((&mut out.binaries, min_binary.max(1))),
    }
    .term(term);
}

impl Enc<'_> {
    #[inline]
    fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    #[inline]
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    /// A length field of 32 bits. Lengths beyond `u32::MAX` cannot be represented; they
    /// cannot occur for terms that fit in memory alongside their encoding in practice.
    #[inline]
    fn len32(&mut self, n: usize) {
        self.u32(n as u32);
    }

    /// An atom. ASCII atoms of up to 255 bytes, nearly all of them, take the fast path.
    #[inline]
    pub(super) fn atom(&mut self, a: &Atom) {
        let b = a.as_bytes();
        if b.len() <= 255 && b.is_ascii() {
            if self.utf8_atoms {
                self.out
                    .extend_from_slice(&[tag::SMALL_ATOM_UTF8, b.len() as u8]);
            } else {
                self.out.extend_from_slice(&[tag::ATOM, 0, b.len() as u8]);
            }
            self.out.extend_from_slice(b);
        } else {
            self.atom_slow(a);
        }
    }

    #[inline(never)]
    fn atom_slow(&mut self, a: &Atom) {
        match atom_form(a, self.utf8_atoms) {
            AtomForm::Ascii(b) if !self.utf8_atoms => {
                self.out.push(tag::ATOM);
                self.u16(b.len() as u16);
                self.out.extend_from_slice(b);
            }
            AtomForm::Latin1(s, n) => {
                self.out.push(tag::ATOM);
                self.u16(n as u16);
                self.out.extend(s.chars().map(|c| c as u32 as u8));
            }
            AtomForm::Ascii(b) | AtomForm::Utf8(b) => {
                if b.len() <= 255 {
                    self.out.push(tag::SMALL_ATOM_UTF8);
                    self.out.push(b.len() as u8);
                } else {
                    self.out.push(tag::ATOM_UTF8);
                    self.u16(b.len() as u16);
                }
                self.out.extend_from_slice(b);
            }
        }
    }

    #[inline]
    fn int(&mut self, i: i64) {
        if (0..=255).contains(&i) {
            self.out.extend_from_slice(&[tag::SMALL_INTEGER, i as u8]);
        } else if let Ok(v) = i32::try_from(i) {
            let [a, b, c, d] = v.to_be_bytes();
            self.out.extend_from_slice(&[tag::INTEGER, a, b, c, d]);
        } else {
            let (m, n) = i64_magnitude(i);
            self.out
                .extend_from_slice(&[tag::SMALL_BIG, n as u8, u8::from(i < 0)]);
            self.out.extend_from_slice(&m[..n]);
        }
    }

    fn bigint(&mut self, b: &BigInt) {
        if let Some(i) = small_bigint(b) {
            return self.int(i);
        }
        let m = b.magnitude_le();
        if m.len() <= 255 {
            self.out.push(tag::SMALL_BIG);
            self.out.push(m.len() as u8);
        } else {
            self.out.push(tag::LARGE_BIG);
            self.len32(m.len());
        }
        self.out.push(u8::from(b.is_negative()));
        self.out.extend_from_slice(m);
    }

    fn list(&mut self, l: &[Term]) {
        if l.is_empty() {
            self.out.push(tag::NIL);
        } else if is_string_ext(l) {
            self.out.push(tag::STRING);
            self.u16(l.len() as u16);
            self.out.extend(l.iter().map(|t| match t {
                Term::Int(i) => *i as u8,
                _ => 0,
            }));
        } else {
            self.out.push(tag::LIST);
            self.len32(l.len());
            for e in l {
                self.elem(e);
            }
            self.out.push(tag::NIL);
        }
    }

    fn pid(&mut self, p: &Pid) {
        self.out.push(tag::NEW_PID);
        self.atom(&p.node);
        self.u32(p.id);
        self.u32(p.serial);
        self.u32(p.creation);
    }

    fn port(&mut self, p: &Port) {
        if p.id <= MAX_V3_PORT_ID {
            self.out.push(tag::NEW_PORT);
            self.atom(&p.node);
            self.u32(p.id as u32);
        } else {
            self.out.push(tag::V4_PORT);
            self.atom(&p.node);
            self.out.extend_from_slice(&p.id.to_be_bytes());
        }
        self.u32(p.creation);
    }

    fn reference(&mut self, r: &Ref) {
        self.out.push(tag::NEWER_REFERENCE);
        self.u16(r.ids().len() as u16);
        self.atom(&r.node);
        self.u32(r.creation);
        for w in r.ids() {
            self.u32(*w);
        }
    }

    /// An export fun is written from its fields (so `fun m:f/a` has one encoding however
    /// it was received or built); a closure as the bytes it was received as.
    pub(super) fn fun(&mut self, f: &Fun) {
        match &f.kind {
            FunKind::Export {
                module,
                function,
                arity,
            } => {
                self.out.push(tag::EXPORT);
                self.atom(module);
                self.atom(function);
                self.out.extend_from_slice(&[tag::SMALL_INTEGER, *arity]);
            }
            FunKind::Closure { .. } => self.out.extend_from_slice(&f.raw),
        }
    }

    /// An element of a container: the common leaves inline, anything else through
    /// [`Enc::term`], saving a call per element.
    #[inline(always)]
    fn elem(&mut self, t: &Term) {
        match t {
            Term::Int(i) => self.int(*i),
            Term::Atom(a) => self.atom(a),
            Term::Binary(b) => self.binary(b),
            Term::Float(f) => self.float(*f),
            _ => self.term(t),
        }
    }

    #[inline(always)]
    fn binary(&mut self, b: &Bytes) {
        let [x, y, z, w] = (b.len() as u32).to_be_bytes();
        self.out.extend_from_slice(&[tag::BINARY, x, y, z, w]);
        self.data(b);
    }

    /// The contents of a binary: copied, or referenced when encoding vectored.
    #[inline(always)]
    fn data(&mut self, b: &Bytes) {
        match &mut self.refs {
            Some((refs, min)) if b.len() >= *min => refs.push((self.out.len(), b.clone())),
            _ => self.out.extend_from_slice(b),
        }
    }

    #[inline(always)]
    fn float(&mut self, f: f64) {
        let [a, b, c, d, e, g, h, i] = f.to_bits().to_be_bytes();
        self.out
            .extend_from_slice(&[tag::NEW_FLOAT, a, b, c, d, e, g, h, i]);
    }

    pub(super) fn term(&mut self, t: &Term) {
        match t {
            Term::Int(i) => self.int(*i),
            Term::Atom(a) => self.atom(a),
            Term::Tuple(e) => {
                if e.len() <= 255 {
                    self.out
                        .extend_from_slice(&[tag::SMALL_TUPLE, e.len() as u8]);
                } else {
                    self.out.push(tag::LARGE_TUPLE);
                    self.len32(e.len());
                }
                for x in e {
                    self.elem(x);
                }
            }
            Term::Binary(b) => self.binary(b),
            Term::List(l) => self.list(l),
            Term::Pid(p) => self.pid(p),
            Term::Ref(r) => self.reference(r),
            Term::Map(m) => {
                self.out.push(tag::MAP);
                self.len32(m.len());
                for (k, v) in m.entries() {
                    self.elem(k);
                    self.elem(v);
                }
            }
            Term::Float(f) => self.float(*f),
            Term::BigInt(b) => self.bigint(b),
            Term::BitBinary { data, bits } => {
                if *bits == 0 || *bits >= 8 || data.is_empty() {
                    // Not a valid bitstring; its bytes are the closest binary.
                    self.binary(data);
                } else {
                    self.out.push(tag::BIT_BINARY);
                    self.len32(data.len());
                    self.out.push(*bits);
                    let last = data.len() - 1;
                    match &mut self.refs {
                        Some((refs, min)) if last >= *min => {
                            refs.push((self.out.len(), data.slice(..last)))
                        }
                        _ => self.out.extend_from_slice(&data[..last]),
                    }
                    self.out.push(data[last] & (0xffu8 << (8 - *bits)));
                }
            }
            Term::ImproperList { elements, tail } => {
                if improper_needs_normalizing(elements, tail) {
                    let t = Term::improper_list(elements.clone(), (**tail).clone());
                    self.term(&t);
                } else {
                    self.out.push(tag::LIST);
                    self.len32(elements.len());
                    for e in elements {
                        self.term(e);
                    }
                    self.term(tail);
                }
            }
            Term::Port(p) => self.port(p),
            Term::Fun(f) => self.fun(f),
        }
    }
}
