//! A zlib (RFC 1950) / DEFLATE (RFC 1951) decoder for compressed external terms.
//!
//! Written for untrusted input: the output never grows past the size the term declares,
//! every code table is validated, and truncated or malformed streams are errors, never
//! panics. Huffman codes of up to [`FAST_BITS`] bits are decoded with one table lookup;
//! longer ones are decoded canonically, bit by bit.

/// Why inflating failed: an offset into the zlib data and a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InflateError {
    pub(crate) offset: usize,
    pub(crate) reason: String,
}

type Result<T> = std::result::Result<T, InflateError>;

/// Bits resolved by the fast lookup table.
const FAST_BITS: u32 = 10;
const MAX_BITS: usize = 15;

/// Base lengths of length symbols 257..=285.
const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Base distances of distance symbols 0..=29.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// Order in which code length code lengths are sent.
const CLEN_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

#[cold]
#[inline(never)]
fn err(offset: usize, reason: impl Into<String>) -> InflateError {
    InflateError {
        offset,
        reason: reason.into(),
    }
}

/// Least-significant-bit-first reader.
struct Bits<'a> {
    data: &'a [u8],
    /// Next byte to load into `buf`.
    pos: usize,
    buf: u64,
    /// Valid bits in `buf` (bits above are zero).
    cnt: u32,
}

impl Bits<'_> {
    #[inline]
    fn refill(&mut self) {
        while self.cnt <= 56 {
            match self.data.get(self.pos) {
                Some(&b) => {
                    self.buf |= (b as u64) << self.cnt;
                    self.pos += 1;
                    self.cnt += 8;
                }
                None => break,
            }
        }
    }

    /// Byte offset of the next unread bit, for error messages.
    fn offset(&self) -> usize {
        self.pos - (self.cnt as usize / 8)
    }

    /// Takes `n` (at most 32) bits.
    #[inline]
    fn take(&mut self, n: u32) -> Result<u32> {
        if self.cnt < n {
            self.refill();
            if self.cnt < n {
                return Err(err(self.offset(), "compressed data is truncated"));
            }
        }
        let v = (self.buf & ((1u64 << n) - 1)) as u32;
        self.buf >>= n;
        self.cnt -= n;
        Ok(v)
    }

    /// Drops bits up to the next byte boundary.
    fn align(&mut self) {
        let r = self.cnt % 8;
        self.buf >>= r;
        self.cnt -= r;
    }
}

/// A canonical Huffman code.
struct Huffman {
    /// Indexed by the next `FAST_BITS` input bits: `symbol << 4 | length`, or 0 when the
    /// code is longer (or not assigned).
    fast: Vec<u16>,
    /// Number of codes of each length.
    count: [u16; MAX_BITS + 1],
    /// Symbols ordered by code.
    symbols: Vec<u16>,
}

impl Huffman {
    /// Builds the code for `lengths` (0 = unused symbol). Over-subscribed codes are
    /// refused; incomplete ones are accepted (unassigned codes fail when met).
    fn new(lengths: &[u8], at: usize, what: &str) -> Result<Huffman> {
        let mut count = [0u16; MAX_BITS + 1];
        for &l in lengths {
            count[l as usize] += 1;
        }
        count[0] = 0;
        let mut left: i32 = 1;
        for c in count.iter().skip(1) {
            left <<= 1;
            left -= *c as i32;
            if left < 0 {
                return Err(err(at, format!("over-subscribed {what} code")));
            }
        }
        let mut offs = [0u16; MAX_BITS + 2];
        for l in 1..=MAX_BITS {
            offs[l + 1] = offs[l] + count[l];
        }
        let mut symbols = vec![0u16; offs[MAX_BITS + 1] as usize];
        let mut next = offs;
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbols[next[l as usize] as usize] = sym as u16;
                next[l as usize] += 1;
            }
        }
        // Fast table: walk codes in canonical order.
        let mut fast = vec![0u16; 1 << FAST_BITS];
        let mut code: u32 = 0;
        let mut idx = 0usize;
        for len in 1..=MAX_BITS as u32 {
            for _ in 0..count[len as usize] {
                if len <= FAST_BITS {
                    let sym = symbols[idx];
                    let rev = code.reverse_bits() >> (32 - len);
                    let mut i = rev as usize;
                    while i < fast.len() {
                        fast[i] = (sym << 4) | len as u16;
                        i += 1 << len;
                    }
                }
                code += 1;
                idx += 1;
            }
            code <<= 1;
        }
        Ok(Huffman {
            fast,
            count,
            symbols,
        })
    }

    #[inline]
    fn decode(&self, bits: &mut Bits<'_>) -> Result<u16> {
        if bits.cnt < MAX_BITS as u32 {
            bits.refill();
        }
        let e = self.fast[(bits.buf & ((1 << FAST_BITS) - 1)) as usize];
        if e != 0 {
            let len = (e & 15) as u32;
            if len <= bits.cnt {
                bits.buf >>= len;
                bits.cnt -= len;
                return Ok(e >> 4);
            }
            return Err(err(bits.offset(), "compressed data is truncated"));
        }
        self.decode_slow(bits)
    }

    #[inline(never)]
    fn decode_slow(&self, bits: &mut Bits<'_>) -> Result<u16> {
        let mut code: i32 = 0;
        let mut first: i32 = 0;
        let mut index: i32 = 0;
        for len in 1..=MAX_BITS {
            code |= bits.take(1)? as i32;
            let count = self.count[len] as i32;
            if code - first < count {
                return self
                    .symbols
                    .get((index + code - first) as usize)
                    .copied()
                    .ok_or_else(|| err(bits.offset(), "bad Huffman code"));
            }
            index += count;
            first += count;
            first <<= 1;
            code <<= 1;
        }
        Err(err(
            bits.offset(),
            "invalid Huffman code in compressed data",
        ))
    }
}

fn fixed_codes() -> Result<(Huffman, Huffman)> {
    let mut l = [0u8; 288];
    l[..144].fill(8);
    l[144..256].fill(9);
    l[256..280].fill(7);
    l[280..].fill(8);
    let d = [5u8; 30];
    Ok((Huffman::new(&l, 0, "fixed")?, Huffman::new(&d, 0, "fixed")?))
}

fn dynamic_codes(bits: &mut Bits<'_>) -> Result<(Huffman, Huffman)> {
    let at = bits.offset();
    let hlit = bits.take(5)? as usize + 257;
    let hdist = bits.take(5)? as usize + 1;
    let hclen = bits.take(4)? as usize + 4;
    if hlit > 286 || hdist > 30 {
        return Err(err(at, "too many length or distance codes"));
    }
    let mut cl = [0u8; 19];
    for &i in CLEN_ORDER.iter().take(hclen) {
        cl[i] = bits.take(3)? as u8;
    }
    let clcode = Huffman::new(&cl, at, "code length")?;
    let mut lengths = [0u8; 286 + 30];
    let total = hlit + hdist;
    let mut i = 0;
    while i < total {
        let sym = clcode.decode(bits)?;
        let (value, repeat) = match sym {
            0..=15 => (sym as u8, 1),
            16 => {
                if i == 0 {
                    return Err(err(bits.offset(), "repeat with no previous code length"));
                }
                (lengths[i - 1], 3 + bits.take(2)? as usize)
            }
            17 => (0, 3 + bits.take(3)? as usize),
            _ => (0, 11 + bits.take(7)? as usize),
        };
        if i + repeat > total {
            return Err(err(bits.offset(), "code lengths overrun their count"));
        }
        lengths[i..i + repeat].fill(value);
        i += repeat;
    }
    if lengths[256] == 0 {
        return Err(err(at, "no end-of-block code"));
    }
    let lit = Huffman::new(&lengths[..hlit], at, "literal/length")?;
    let dist = Huffman::new(&lengths[hlit..total], at, "distance")?;
    Ok((lit, dist))
}

/// Inflates one zlib stream from the front of `data` into exactly `expected` bytes,
/// checking the Adler-32 trailer. Returns the output and the bytes of `data` consumed.
pub(crate) fn zlib_decompress(data: &[u8], expected: usize) -> Result<(Vec<u8>, usize)> {
    let (cmf, flg) = match data {
        [a, b, ..] => (*a, *b),
        _ => return Err(err(0, "truncated zlib header")),
    };
    if cmf & 0x0f != 8 || cmf >> 4 > 7 {
        return Err(err(0, "not a zlib deflate stream"));
    }
    if (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
        return Err(err(0, "bad zlib header check bits"));
    }
    if flg & 0x20 != 0 {
        return Err(err(1, "zlib preset dictionaries are not supported"));
    }
    let window = 1usize << ((cmf >> 4) + 8);
    // DEFLATE expands at most ~1032:1; do not reserve more than the input can produce.
    let cap = expected.min(data.len().saturating_mul(1032).saturating_add(64));
    let mut out = Vec::with_capacity(cap);
    let mut bits = Bits {
        data,
        pos: 2,
        buf: 0,
        cnt: 0,
    };
    let mut fixed: Option<(Huffman, Huffman)> = None;
    loop {
        let last = bits.take(1)? == 1;
        let at = bits.offset();
        match bits.take(2)? {
            0 => stored(&mut bits, &mut out, expected)?,
            1 => {
                if fixed.is_none() {
                    fixed = Some(fixed_codes()?);
                }
                if let Some((lit, dist)) = &fixed {
                    codes(&mut bits, &mut out, expected, lit, dist, window)?;
                }
            }
            2 => {
                let (lit, dist) = dynamic_codes(&mut bits)?;
                codes(&mut bits, &mut out, expected, &lit, &dist, window)?;
            }
            _ => return Err(err(at, "invalid deflate block type 3")),
        }
        if last {
            break;
        }
    }
    bits.align();
    let end = bits.offset();
    if out.len() != expected {
        return Err(err(
            end,
            format!(
                "inflated to {} bytes but the term declares {expected}",
                out.len()
            ),
        ));
    }
    let trailer = data
        .get(end..end + 4)
        .ok_or_else(|| err(end, "truncated Adler-32 checksum"))?;
    let want = u32::from_be_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    if adler32(&out) != want {
        return Err(err(end, "Adler-32 checksum mismatch"));
    }
    Ok((out, end + 4))
}

#[cold]
fn too_long(at: usize, expected: usize) -> InflateError {
    err(
        at,
        format!("inflates to more than the declared {expected} bytes"),
    )
}

fn stored(bits: &mut Bits<'_>, out: &mut Vec<u8>, expected: usize) -> Result<()> {
    bits.align();
    let len = bits.take(16)? as usize;
    let nlen = bits.take(16)? as usize;
    let at = bits.offset();
    if len != !nlen & 0xffff {
        return Err(err(at, "stored block length check failed"));
    }
    if out.len() + len > expected {
        return Err(too_long(at, expected));
    }
    // Bytes still in the bit buffer come first (whole bytes, since aligned).
    let mut need = len;
    while need > 0 && bits.cnt >= 8 {
        out.push(bits.buf as u8);
        bits.buf >>= 8;
        bits.cnt -= 8;
        need -= 1;
    }
    let src = bits
        .data
        .get(bits.pos..bits.pos + need)
        .ok_or_else(|| err(at, "stored block is truncated"))?;
    out.extend_from_slice(src);
    bits.pos += need;
    Ok(())
}

fn codes(
    bits: &mut Bits<'_>,
    out: &mut Vec<u8>,
    expected: usize,
    lit: &Huffman,
    dist: &Huffman,
    window: usize,
) -> Result<()> {
    loop {
        let sym = lit.decode(bits)? as usize;
        if sym < 256 {
            if out.len() >= expected {
                return Err(too_long(bits.offset(), expected));
            }
            out.push(sym as u8);
        } else if sym == 256 {
            return Ok(());
        } else {
            let i = sym - 257;
            let (Some(&base), Some(&extra)) = (LEN_BASE.get(i), LEN_EXTRA.get(i)) else {
                return Err(err(bits.offset(), format!("invalid length symbol {sym}")));
            };
            let len = base as usize + bits.take(extra as u32)? as usize;
            let dsym = dist.decode(bits)? as usize;
            let (Some(&dbase), Some(&dextra)) = (DIST_BASE.get(dsym), DIST_EXTRA.get(dsym)) else {
                return Err(err(
                    bits.offset(),
                    format!("invalid distance symbol {dsym}"),
                ));
            };
            let d = dbase as usize + bits.take(dextra as u32)? as usize;
            if d > out.len() || d > window {
                return Err(err(
                    bits.offset(),
                    format!("distance {d} reaches before the start of the data"),
                ));
            }
            if out.len() + len > expected {
                return Err(too_long(bits.offset(), expected));
            }
            let start = out.len() - d;
            if d >= len {
                out.extend_from_within(start..start + len);
            } else {
                for k in 0..len {
                    let b = out[start + k];
                    out.push(b);
                }
            }
        }
    }
}

/// Adler-32 of `data`.
fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    // Largest n such that 255 n (n + 1) / 2 + (n + 1)(MOD - 1) fits in u32.
    const NMAX: usize = 5552;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(NMAX) {
        for &x in chunk {
            a += x as u32;
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler() {
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(adler32(b""), 1);
    }

    #[test]
    fn stored_block() {
        // zlib header, one final stored block "hello", adler32.
        let mut z = vec![0x78, 0x01, 0x01, 5, 0, 0xfa, 0xff];
        z.extend_from_slice(b"hello");
        z.extend_from_slice(&adler32(b"hello").to_be_bytes());
        let (out, used) = zlib_decompress(&z, 5).unwrap();
        assert_eq!(out, b"hello");
        assert_eq!(used, z.len());
        assert!(zlib_decompress(&z, 4).is_err());
        assert!(zlib_decompress(&z, 6).is_err());
        assert!(zlib_decompress(&z[..z.len() - 1], 5).is_err());
    }

    #[test]
    fn fixed_block_from_erl() {
        // term_to_binary(lists:duplicate(40, $a), [compressed]) minus 131, 80, size.
        let z = [120, 156, 203, 102, 208, 72, 36, 18, 0, 0, 79, 79, 15, 188];
        let (out, used) = zlib_decompress(&z, 43).unwrap();
        let mut want = vec![107, 0, 40];
        want.extend(std::iter::repeat_n(b'a', 40));
        assert_eq!(out, want);
        assert_eq!(used, z.len());
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u32 = 12345;
        for len in 0..200 {
            let mut v = vec![0x78, 0x9c];
            for _ in 0..len {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                v.push((x >> 16) as u8);
            }
            let _ = zlib_decompress(&v, 1000);
        }
    }
}
