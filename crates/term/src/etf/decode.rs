//! The decoder: `binary_to_term/1` for untrusted input.
//!
//! The decoder does not recurse: open tuples, lists, maps and funs wait on an explicit
//! stack of frames (at most [`DecodeOptions::max_depth`] of them), so its native stack use
//! is the same for any input, in debug builds too. List tails are followed in place, so a
//! long list is not deep. Every length is checked against the bytes that remain before
//! anything is allocated for it.

use super::encode::Enc;
use super::{inflate, tag, DecodeError, DecodeOptions, VERSION};
use crate::{Atom, BigInt, Fun, FunKind, Pid, Port, Ref, Term, TermMap, MAX_ATOM_CHARS};
use bytes::Bytes;
use std::cell::Cell;

/// Decodes one term that starts with the version byte 131 and fills `input`, without
/// copying it: binaries in the result are slices of `input`.
pub fn decode_bytes(input: Bytes) -> Result<Term, DecodeError> {
    let len = input.len();
    let (t, used) = decode_versioned(input, &DecodeOptions::default())?;
    if used != len {
        return Err(DecodeError {
            offset: used,
            reason: format!("{} bytes of trailing data after the term", len - used),
        });
    }
    Ok(t)
}

/// Decodes one term *without* the version byte from the front of `input` (as terms are
/// carried after a distribution header), returning the term and the bytes consumed.
pub fn decode_no_version_with(
    input: Bytes,
    opts: &DecodeOptions<'_>,
) -> Result<(Term, usize), DecodeError> {
    let mut d = Decoder::new(&input, opts, 0);
    let t = d.run()?;
    Ok((t, d.pos))
}

pub(super) fn decode_versioned(
    input: Bytes,
    opts: &DecodeOptions<'_>,
) -> Result<(Term, usize), DecodeError> {
    match input.first() {
        Some(&VERSION) => {}
        Some(&b) => {
            return Err(DecodeError {
                offset: 0,
                reason: format!("version byte is {b}, expected 131"),
            })
        }
        None => {
            return Err(DecodeError {
                offset: 0,
                reason: "empty input".into(),
            })
        }
    }
    if input.get(1) == Some(&tag::COMPRESSED) {
        return decode_compressed(&input, opts);
    }
    let mut d = Decoder::new(&input, opts, 1);
    let t = d.run()?;
    Ok((t, d.pos))
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
    let t = d.run().map_err(|e| DecodeError {
        offset: 1,
        reason: format!(
            "in compressed term, at byte {} of the uncompressed data: {}",
            e.offset, e.reason
        ),
    })?;
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

type Result<T, E = DecodeError> = std::result::Result<T, E>;

struct Decoder<'a> {
    src: &'a Bytes,
    buf: &'a [u8],
    pos: usize,
    max_depth: usize,
    atom_cache: Option<&'a [Option<Atom>]>,
    /// Set when an `ATOM_CACHE_REF` was decoded; funs that contain one are re-encoded.
    used_cache: bool,
}

/// A container whose elements are being read.
enum Frame {
    /// A tuple: `left` more elements.
    Tuple { items: Vec<Term>, left: usize },
    /// A list: `left` more elements, then its tail.
    List { items: Vec<Term>, left: usize },
    /// A list whose elements are read, waiting for a tail that is not a list.
    Tail { items: Vec<Term> },
    /// A map: `left` more pairs, `key` the key of the current one once read.
    Map {
        items: Vec<(Term, Term)>,
        key: Option<Term>,
        left: usize,
        at: usize,
    },
    /// A closure, waiting for its parts (`OldIndex OldUniq Pid FreeVars`).
    Fun(Box<FunFrame>),
}

struct FunFrame {
    at: usize,
    end: usize,
    arity: u8,
    uniq: [u8; 16],
    index: u32,
    num_free: u32,
    module: Atom,
    saved_cache: bool,
    /// How many parts there are: 3 + `num_free`.
    need: usize,
    parts: Vec<Term>,
}

/// What follows the elements of a list.
enum ListStep {
    /// The list ended (with `[]` or a string).
    Done,
    /// A chained `LIST_EXT` with this many more elements.
    More(usize),
    /// A tail that is not a list: an improper list.
    Tail,
}

/// Frame stacks keep their capacity per thread up to this many frames.
const MAX_CACHED_FRAMES: usize = 64;

thread_local! {
    /// A frame stack reused by successive decodes on this thread, to save an allocation.
    static STACK: Cell<Vec<Frame>> = const { Cell::new(Vec::new()) };
}

/// Sorts map pairs (OTP sends maps of up to 32 keys sorted, larger ones hash ordered) and
/// refuses duplicate keys, as `binary_to_term` does.
fn finish_map(mut entries: Vec<(Term, Term)>, at: usize) -> Result<Term> {
    let sorted = entries.windows(2).all(|w| w[0].0 < w[1].0);
    if !sorted {
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(error(at, format!("map has the key {} twice", w[0].0)));
        }
    }
    Ok(Term::Map(TermMap::from_sorted_unique(entries)))
}

#[cold]
#[inline(never)]
fn bad_tag(t: u8, at: usize) -> DecodeError {
    match t {
        tag::COMPRESSED => error(
            at,
            "a compressed term (tag 80) may only follow the version byte",
        ),
        tag::LOCAL => error(
            at,
            "LOCAL_EXT (tag 121) is only meaningful to the node that made it; not supported",
        ),
        tag::FUN => error(at, "obsolete FUN_EXT (tag 117) is not supported"),
        VERSION => error(at, "unexpected version byte 131 inside a term"),
        other => error(at, format!("unknown tag {other}")),
    }
}

#[cold]
#[inline(never)]
fn error(offset: usize, reason: impl Into<String>) -> DecodeError {
    DecodeError {
        offset,
        reason: reason.into(),
    }
}

impl<'a> Decoder<'a> {
    fn new(src: &'a Bytes, opts: &'a DecodeOptions<'_>, pos: usize) -> Decoder<'a> {
        Decoder {
            src,
            buf: src,
            pos,
            max_depth: opts.max_depth,
            atom_cache: opts.atom_cache,
            used_cache: false,
        }
    }

    #[inline]
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[cold]
    #[inline(never)]
    fn truncated(&self, what: &str, need: usize) -> DecodeError {
        error(
            self.pos,
            format!(
                "truncated {what}: needs {need} bytes, {} remain",
                self.remaining()
            ),
        )
    }

    #[inline]
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let buf: &'a [u8] = self.buf;
        match buf.get(self.pos..).and_then(|r| r.get(..n)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(self.truncated(what, n)),
        }
    }

    #[inline]
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    #[inline]
    fn u8(&mut self, what: &str) -> Result<u8> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.truncated(what, 1)),
        }
    }

    #[inline]
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    #[inline]
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// Reads a 32-bit count of items that take at least `min_item` bytes each (plus
    /// `extra` bytes after them), and checks that the input can hold them.
    #[inline]
    fn count(&mut self, what: &str, min_item: usize, extra: usize) -> Result<usize> {
        let at = self.pos;
        let n = self.u32(what)? as usize;
        let need = n.saturating_mul(min_item).saturating_add(extra);
        if need > self.remaining() {
            return Err(error(
                at,
                format!(
                    "{what} of {n} claims at least {need} bytes, {} remain",
                    self.remaining()
                ),
            ));
        }
        Ok(n)
    }

    /// Decodes one term, container frames waiting on a reused explicit stack.
    fn run(&mut self) -> Result<Term> {
        let mut stack = STACK.with(Cell::take);
        let r = self.run_with(&mut stack);
        stack.clear();
        if stack.capacity() <= MAX_CACHED_FRAMES {
            STACK.with(|s| s.set(stack));
        }
        r
    }

    #[inline]
    fn push(&self, stack: &mut Vec<Frame>, frame: Frame, at: usize) -> Result<()> {
        if stack.len() >= self.max_depth {
            return Err(error(
                at,
                format!("nesting deeper than the limit of {}", self.max_depth),
            ));
        }
        stack.push(frame);
        Ok(())
    }

    fn run_with(&mut self, stack: &mut Vec<Frame>) -> Result<Term> {
        'next: loop {
            // Read one term: a leaf, or the head of a container (which opens a frame).
            let at = self.pos;
            let t = self.u8("term tag")?;
            let mut value = match t {
                tag::SMALL_TUPLE | tag::LARGE_TUPLE => {
                    let n = if t == tag::SMALL_TUPLE {
                        self.u8("SMALL_TUPLE_EXT arity")? as usize
                    } else {
                        self.count("LARGE_TUPLE_EXT arity", 1, 0)?
                    };
                    if n == 0 {
                        Term::Tuple(Vec::new())
                    } else {
                        if n > self.remaining() {
                            return Err(error(
                                at,
                                format!(
                                    "tuple of {n} elements but {} bytes remain",
                                    self.remaining()
                                ),
                            ));
                        }
                        let items = Vec::with_capacity(n);
                        self.push(stack, Frame::Tuple { items, left: n }, at)?;
                        continue 'next;
                    }
                }
                tag::LIST => {
                    let n = self.count("LIST_EXT length", 1, 1)?;
                    let mut items = Vec::with_capacity(n);
                    let step = if n > 0 {
                        ListStep::More(n)
                    } else {
                        self.list_tail(&mut items)?
                    };
                    match step {
                        ListStep::Done => Term::List(items),
                        ListStep::More(left) => {
                            self.push(stack, Frame::List { items, left }, at)?;
                            continue 'next;
                        }
                        ListStep::Tail => {
                            self.push(stack, Frame::Tail { items }, at)?;
                            continue 'next;
                        }
                    }
                }
                tag::MAP => {
                    let n = self.count("MAP_EXT arity", 2, 0)?;
                    if n == 0 {
                        Term::Map(TermMap::new())
                    } else {
                        let frame = Frame::Map {
                            items: Vec::with_capacity(n),
                            key: None,
                            left: n,
                            at,
                        };
                        self.push(stack, frame, at)?;
                        continue 'next;
                    }
                }
                tag::NEW_FUN => {
                    let frame = self.fun_head(at)?;
                    self.push(stack, frame, at)?;
                    continue 'next;
                }
                _ => self.leaf(t, at)?,
            };
            // Hand the value to the frame waiting for it; close every frame it completes.
            loop {
                let Some(top) = stack.last_mut() else {
                    return Ok(value);
                };
                match top {
                    Frame::Tuple { items, left } => {
                        items.push(value);
                        *left -= 1;
                        if *left > 0 {
                            continue 'next;
                        }
                        value = Term::Tuple(std::mem::take(items));
                    }
                    Frame::List { items, left } => {
                        items.push(value);
                        *left -= 1;
                        if *left > 0 {
                            continue 'next;
                        }
                        match self.list_tail(items)? {
                            ListStep::Done => value = Term::List(std::mem::take(items)),
                            ListStep::More(n) => {
                                *left = n;
                                continue 'next;
                            }
                            ListStep::Tail => {
                                *top = Frame::Tail {
                                    items: std::mem::take(items),
                                };
                                continue 'next;
                            }
                        }
                    }
                    Frame::Tail { items } => {
                        // The tail is not a list (lists were spliced in by `list_tail`).
                        value = Term::improper_list(std::mem::take(items), value);
                    }
                    Frame::Map {
                        items,
                        key,
                        left,
                        at,
                    } => match key.take() {
                        None => {
                            *key = Some(value);
                            continue 'next;
                        }
                        Some(k) => {
                            items.push((k, value));
                            *left -= 1;
                            if *left > 0 {
                                continue 'next;
                            }
                            value = finish_map(std::mem::take(items), *at)?;
                        }
                    },
                    Frame::Fun(f) => {
                        f.parts.push(value);
                        if f.parts.len() < f.need {
                            continue 'next;
                        }
                        value = self.finish_fun(f)?;
                    }
                }
                stack.pop();
            }
        }
    }

    /// After the elements of a `LIST_EXT`: reads the tail when it is a list (`NIL_EXT`,
    /// `STRING_EXT`, or `LIST_EXT` as other encoders may write), splicing it in.
    #[inline]
    fn list_tail(&mut self, items: &mut Vec<Term>) -> Result<ListStep> {
        loop {
            match self.buf.get(self.pos) {
                Some(&tag::NIL) => {
                    self.pos += 1;
                    return Ok(ListStep::Done);
                }
                Some(&tag::STRING) => {
                    self.pos += 1;
                    self.string_into(items)?;
                    return Ok(ListStep::Done);
                }
                Some(&tag::LIST) => {
                    self.pos += 1;
                    let n = self.count("LIST_EXT length", 1, 1)?;
                    if n > 0 {
                        items.reserve(n);
                        return Ok(ListStep::More(n));
                    }
                }
                _ => return Ok(ListStep::Tail),
            }
        }
    }

    /// Every term that contains no other term.
    #[inline]
    fn leaf(&mut self, t: u8, at: usize) -> Result<Term> {
        match t {
            tag::SMALL_INTEGER => Ok(Term::Int(self.u8("SMALL_INTEGER_EXT")? as i64)),
            tag::INTEGER => Ok(Term::Int(
                i32::from_be_bytes(self.array("INTEGER_EXT")?) as i64
            )),
            tag::ATOM | tag::SMALL_ATOM | tag::ATOM_UTF8 | tag::SMALL_ATOM_UTF8 => {
                Ok(Term::Atom(self.atom_body(t, at)?))
            }
            tag::ATOM_CACHE_REF => Ok(Term::Atom(self.atom_cache_ref(at)?)),
            tag::BINARY => {
                let n = self.count("BINARY_EXT length", 1, 0)?;
                let start = self.pos;
                self.pos += n;
                Ok(Term::Binary(self.src.slice(start..start + n)))
            }
            tag::NIL => Ok(Term::List(Vec::new())),
            tag::STRING => {
                let mut v = Vec::new();
                self.string_into(&mut v)?;
                Ok(Term::List(v))
            }
            tag::NEW_PID | tag::PID => Ok(Term::Pid(self.pid_body(t)?)),
            tag::NEWER_REFERENCE | tag::NEW_REFERENCE | tag::REFERENCE => {
                Ok(Term::Ref(Box::new(self.ref_body(t, at)?)))
            }
            tag::NEW_FLOAT => {
                let f = f64::from_bits(u64::from_be_bytes(self.array("NEW_FLOAT_EXT")?));
                if !f.is_finite() {
                    return Err(error(at, "NEW_FLOAT_EXT is not a finite number"));
                }
                Ok(Term::Float(f))
            }
            tag::SMALL_BIG => {
                let n = self.u8("SMALL_BIG_EXT length")? as usize;
                self.big(n)
            }
            tag::LARGE_BIG => {
                let n = self.count("LARGE_BIG_EXT length", 1, 1)?;
                self.big(n)
            }
            tag::BIT_BINARY => self.bit_binary(at),
            tag::NEW_PORT | tag::V4_PORT | tag::PORT => {
                Ok(Term::Port(Box::new(self.port_body(t)?)))
            }
            tag::EXPORT => self.export(),
            tag::FLOAT => self.old_float(at),
            _ => Err(bad_tag(t, at)),
        }
    }

    /// `STRING_EXT` body: appends its bytes as integers.
    fn string_into(&mut self, v: &mut Vec<Term>) -> Result<()> {
        let n = self.u16("STRING_EXT length")? as usize;
        let s = self.take(n, "STRING_EXT")?;
        v.reserve(n);
        v.extend(s.iter().map(|&b| Term::Int(b as i64)));
        Ok(())
    }

    fn atom(&mut self, what: &str) -> Result<Atom> {
        let at = self.pos;
        let t = self.u8(what)?;
        match t {
            tag::ATOM | tag::SMALL_ATOM | tag::ATOM_UTF8 | tag::SMALL_ATOM_UTF8 => {
                self.atom_body(t, at)
            }
            tag::ATOM_CACHE_REF => self.atom_cache_ref(at),
            other => Err(error(
                at,
                format!("{what}: expected an atom, found tag {other}"),
            )),
        }
    }

    fn atom_cache_ref(&mut self, at: usize) -> Result<Atom> {
        let i = self.u8("ATOM_CACHE_REF index")? as usize;
        let Some(cache) = self.atom_cache else {
            return Err(error(at, "ATOM_CACHE_REF without an atom cache"));
        };
        match cache.get(i) {
            Some(Some(a)) => {
                self.used_cache = true;
                Ok(a.clone())
            }
            _ => Err(error(
                at,
                format!("ATOM_CACHE_REF {i} is not in the atom cache"),
            )),
        }
    }

    #[inline]
    fn atom_body(&mut self, t: u8, at: usize) -> Result<Atom> {
        let (n, latin1) = match t {
            tag::SMALL_ATOM_UTF8 => (self.u8("atom length")? as usize, false),
            tag::ATOM_UTF8 => (self.u16("atom length")? as usize, false),
            tag::SMALL_ATOM => (self.u8("atom length")? as usize, true),
            _ => (self.u16("atom length")? as usize, true),
        };
        let bytes = self.take(n, "atom text")?;
        if bytes.is_ascii() {
            if n > MAX_ATOM_CHARS {
                return Err(error(
                    at,
                    format!("atom of {n} characters (the limit is 255)"),
                ));
            }
            // ASCII is valid UTF-8; the check is a formality.
            return match std::str::from_utf8(bytes) {
                Ok(s) => Ok(Atom::new(s)),
                Err(_) => Err(error(at, "atom is not valid UTF-8")),
            };
        }
        if latin1 {
            latin1_atom(bytes, at)
        } else {
            let s = std::str::from_utf8(bytes).map_err(|e| {
                error(
                    at,
                    format!(
                        "atom is not valid UTF-8 (at byte {} of it)",
                        e.valid_up_to()
                    ),
                )
            })?;
            if n > MAX_ATOM_CHARS && s.chars().count() > MAX_ATOM_CHARS {
                return Err(error(
                    at,
                    format!(
                        "atom of {} characters (the limit is 255)",
                        s.chars().count()
                    ),
                ));
            }
            Ok(Atom::new(s))
        }
    }

    fn pid_body(&mut self, t: u8) -> Result<Pid> {
        let node = self.atom("pid node")?;
        let id = self.u32("pid id")?;
        let serial = self.u32("pid serial")?;
        let creation = if t == tag::PID {
            self.u8("pid creation")? as u32
        } else {
            self.u32("pid creation")?
        };
        Ok(Pid {
            node,
            id,
            serial,
            creation,
        })
    }

    fn port_body(&mut self, t: u8) -> Result<Port> {
        let node = self.atom("port node")?;
        let id = if t == tag::V4_PORT {
            u64::from_be_bytes(self.array("port id")?)
        } else {
            self.u32("port id")? as u64
        };
        let creation = if t == tag::PORT {
            self.u8("port creation")? as u32
        } else {
            self.u32("port creation")?
        };
        Ok(Port { node, id, creation })
    }

    #[inline(never)]
    fn ref_body(&mut self, t: u8, at: usize) -> Result<Ref> {
        let len = if t == tag::REFERENCE {
            1
        } else {
            self.u16("reference length")? as usize
        };
        if len == 0 || len > crate::MAX_REF_WORDS {
            return Err(error(
                at,
                format!("reference with {len} id words (1 to 5 allowed)"),
            ));
        }
        let node = self.atom("reference node")?;
        let mut ids = [0u32; crate::MAX_REF_WORDS];
        let creation = if t == tag::NEWER_REFERENCE {
            self.u32("reference creation")?
        } else if t == tag::REFERENCE {
            ids[0] = self.u32("reference id")?;
            return Ref::new(node, self.u8("reference creation")? as u32, &ids[..1])
                .ok_or_else(|| error(at, "bad reference"));
        } else {
            self.u8("reference creation")? as u32
        };
        for w in ids.iter_mut().take(len) {
            *w = self.u32("reference id")?;
        }
        Ref::new(node, creation, &ids[..len]).ok_or_else(|| error(at, "bad reference"))
    }

    #[inline(never)]
    fn big(&mut self, n: usize) -> Result<Term> {
        let sign = self.u8("big integer sign")?;
        if sign > 1 {
            return Err(error(self.pos - 1, format!("big integer sign byte {sign}")));
        }
        let mag = self.take(n, "big integer digits")?;
        let neg = sign == 1;
        // Fast path: the value fits in 64 bits.
        let sig = mag.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        if sig <= 8 {
            let mut b = [0u8; 8];
            b[..sig].copy_from_slice(&mag[..sig]);
            let m = u64::from_le_bytes(b);
            if !neg && m <= i64::MAX as u64 {
                return Ok(Term::Int(m as i64));
            }
            if neg && m <= 1u64 << 63 {
                return Ok(Term::Int((m as i64).wrapping_neg()));
            }
        }
        Ok(Term::from_bigint(BigInt::from_le_bytes(neg, &mag[..sig])))
    }

    #[inline(never)]
    fn bit_binary(&mut self, at: usize) -> Result<Term> {
        let n = self.count("BIT_BINARY_EXT length", 1, 1)?;
        let bits = self.u8("BIT_BINARY_EXT bits")?;
        let start = self.pos;
        self.pos += n;
        if n == 0 {
            if bits > 8 {
                return Err(error(
                    at,
                    format!("BIT_BINARY_EXT with {bits} bits in its last byte"),
                ));
            }
            return Ok(Term::Binary(Bytes::new()));
        }
        match bits {
            8 => Ok(Term::Binary(self.src.slice(start..start + n))),
            1..=7 => {
                let mask = 0xffu8 << (8 - bits);
                let last = self.buf[start + n - 1];
                let data = if last & !mask == 0 {
                    self.src.slice(start..start + n)
                } else {
                    // Clear the unused low bits, as BEAM does; only then is a copy needed.
                    let mut v = self.buf[start..start + n].to_vec();
                    if let Some(l) = v.last_mut() {
                        *l &= mask;
                    }
                    Bytes::from(v)
                };
                Ok(Term::BitBinary { data, bits })
            }
            _ => Err(error(
                at,
                format!("BIT_BINARY_EXT with {bits} bits in its last byte (1 to 8 allowed)"),
            )),
        }
    }

    /// `FLOAT_EXT`: 31 bytes of `printf("%.20e")` text, NUL padded.
    #[inline(never)]
    fn old_float(&mut self, at: usize) -> Result<Term> {
        let s = self.take(31, "FLOAT_EXT")?;
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        let text = std::str::from_utf8(&s[..end])
            .ok()
            .map(str::trim)
            .filter(|t| {
                t.bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
            })
            .ok_or_else(|| error(at, "FLOAT_EXT is not a decimal number"))?;
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Term::Float(f)),
            _ => Err(error(
                at,
                format!("FLOAT_EXT {text:?} is not a finite number"),
            )),
        }
    }

    /// `NEW_FUN_EXT` up to its module: `Size:32 Arity:8 Uniq:16/binary Index:32
    /// NumFree:32 Module`. `OldIndex OldUniq Pid FreeVars` follow as terms, and `Size`
    /// counts itself and everything after it.
    #[inline(never)]
    fn fun_head(&mut self, at: usize) -> Result<Frame> {
        let size = self.u32("NEW_FUN_EXT size")? as usize;
        if size < 4 || size - 4 > self.remaining() {
            return Err(error(
                at,
                format!(
                    "NEW_FUN_EXT size {size} does not fit the {} bytes that remain",
                    self.remaining() + 4
                ),
            ));
        }
        let end = at + 1 + size;
        let saved_cache = std::mem::replace(&mut self.used_cache, false);
        let arity = self.u8("NEW_FUN_EXT arity")?;
        let uniq: [u8; 16] = self.array("NEW_FUN_EXT uniq")?;
        let index = self.u32("NEW_FUN_EXT index")?;
        let num_free = self.u32("NEW_FUN_EXT free variable count")?;
        let module = self.atom("NEW_FUN_EXT module")?;
        // Each of the 3 + NumFree terms takes at least one byte.
        let parts = (num_free as usize).saturating_add(3);
        if parts > end.saturating_sub(self.pos) {
            return Err(error(
                at,
                format!("NEW_FUN_EXT claims {num_free} free variables in too few bytes"),
            ));
        }
        Ok(Frame::Fun(Box::new(FunFrame {
            at,
            end,
            arity,
            uniq,
            index,
            num_free,
            module,
            saved_cache,
            need: parts,
            parts: Vec::with_capacity(parts),
        })))
    }

    /// Checks the parts of a `NEW_FUN_EXT` and builds the fun.
    #[inline(never)]
    fn finish_fun(&mut self, f: &mut FunFrame) -> Result<Term> {
        let at = f.at;
        if self.pos != f.end {
            return Err(error(
                at,
                format!(
                    "NEW_FUN_EXT size says {} bytes but its fields take {}",
                    f.end - at - 1,
                    self.pos - at - 1
                ),
            ));
        }
        match &f.parts[..] {
            [Term::Int(_) | Term::BigInt(_), Term::Int(_) | Term::BigInt(_), Term::Pid(_), ..] => {}
            _ => {
                return Err(error(
                    at,
                    "NEW_FUN_EXT: OldIndex and OldUniq must be integers and then a pid",
                ))
            }
        }
        let used_cache = std::mem::replace(&mut self.used_cache, f.saved_cache);
        self.used_cache |= used_cache;
        let raw = if used_cache {
            // Atom cache references only mean something inside this message: write the
            // fun out again with its atoms in full.
            let mut out = Vec::with_capacity(f.end - at + 64);
            out.push(tag::NEW_FUN);
            out.extend_from_slice(&[0; 4]);
            out.push(f.arity);
            out.extend_from_slice(&f.uniq);
            out.extend_from_slice(&f.index.to_be_bytes());
            out.extend_from_slice(&f.num_free.to_be_bytes());
            let mut e = Enc {
                out: &mut out,
                utf8_atoms: false,
            };
            e.atom(&f.module);
            for p in &f.parts {
                e.term(p);
            }
            let new_size = (out.len() - 1) as u32;
            out[1..5].copy_from_slice(&new_size.to_be_bytes());
            Bytes::from(out)
        } else {
            self.src.slice(at..f.end)
        };
        Ok(Term::Fun(Box::new(Fun {
            kind: FunKind::Closure {
                module: f.module.clone(),
                uniq: f.uniq,
                index: f.index,
                arity: f.arity,
                num_free: f.num_free,
            },
            raw,
        })))
    }

    /// `EXPORT_EXT`: `Module Function Arity`, the arity a `SMALL_INTEGER_EXT`.
    #[inline(never)]
    fn export(&mut self) -> Result<Term> {
        let module = self.atom("EXPORT_EXT module")?;
        let function = self.atom("EXPORT_EXT function")?;
        // OTP writes the arity as SMALL_INTEGER_EXT but accepts any integer encoding.
        let arity_at = self.pos;
        let arity = match self.u8("EXPORT_EXT arity")? {
            tag::SMALL_INTEGER => Some(self.u8("EXPORT_EXT arity")?),
            tag::INTEGER => u8::try_from(i32::from_be_bytes(self.array("EXPORT_EXT arity")?)).ok(),
            tag::SMALL_BIG => {
                let n = self.u8("EXPORT_EXT arity")? as usize;
                match self.big(n)? {
                    Term::Int(i) => u8::try_from(i).ok(),
                    _ => None,
                }
            }
            _ => return Err(error(arity_at, "EXPORT_EXT arity is not an integer")),
        }
        .ok_or_else(|| error(arity_at, "EXPORT_EXT arity is not in 0..=255"))?;
        // One raw encoding per export fun, whatever atom tags it arrived with: the one
        // `Fun::export` builds, so decoded and constructed funs compare equal.
        Ok(Term::Fun(Box::new(Fun::export(module, function, arity))))
    }
}

/// A Latin-1 atom with some bytes above 127: each byte is one character.
#[inline(never)]
fn latin1_atom(bytes: &[u8], at: usize) -> Result<Atom> {
    if bytes.len() > MAX_ATOM_CHARS {
        return Err(error(
            at,
            format!("atom of {} characters (the limit is 255)", bytes.len()),
        ));
    }
    // Each Latin-1 character takes at most 2 bytes of UTF-8.
    let mut buf = [0u8; 2 * MAX_ATOM_CHARS];
    let mut n = 0;
    for &b in bytes {
        n += char::from(b).encode_utf8(&mut buf[n..]).len();
    }
    match std::str::from_utf8(&buf[..n]) {
        Ok(s) => Ok(Atom::new(s)),
        Err(_) => Err(error(at, "atom is not valid Latin-1")),
    }
}
