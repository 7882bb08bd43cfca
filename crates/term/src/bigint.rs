//! Integers beyond 64 bits (`SMALL_BIG_EXT` / `LARGE_BIG_EXT`).
//!
//! Only what a term layer needs: construction, comparison, and conversion to and from
//! decimal text and little-endian magnitude bytes. No arithmetic beyond that.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// An arbitrary-precision integer stored as sign and magnitude.
///
/// [`crate::Term`] normalizes integers: a value that fits in `i64` is always
/// [`crate::Term::Int`], and only larger ones are `BigInt`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BigInt {
    negative: bool,
    /// Magnitude, little-endian bytes, without trailing (most significant) zero bytes.
    mag: Vec<u8>,
}

impl BigInt {
    /// Builds from a sign and little-endian magnitude bytes, as in the wire format.
    pub fn from_le_bytes(negative: bool, le: &[u8]) -> BigInt {
        let mut mag = le.to_vec();
        while mag.last() == Some(&0) {
            mag.pop();
        }
        let negative = negative && !mag.is_empty();
        BigInt { negative, mag }
    }

    /// Builds from an `i128`.
    pub fn from_i128(v: i128) -> BigInt {
        BigInt::from_le_bytes(v < 0, &v.unsigned_abs().to_le_bytes())
    }

    /// True if negative.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The magnitude as little-endian bytes, without trailing zero bytes.
    pub fn magnitude_le(&self) -> &[u8] {
        &self.mag
    }

    /// The value as `i64`, when it fits.
    pub fn to_i64(&self) -> Option<i64> {
        self.to_i128().and_then(|v| i64::try_from(v).ok())
    }

    /// The value as `i128`, when it fits.
    pub fn to_i128(&self) -> Option<i128> {
        if self.mag.len() > 16 {
            return None;
        }
        let mut b = [0u8; 16];
        b[..self.mag.len()].copy_from_slice(&self.mag);
        let m = u128::from_le_bytes(b);
        if self.negative {
            if m <= (i128::MAX as u128) + 1 {
                Some((m as i128).wrapping_neg())
            } else {
                None
            }
        } else {
            i128::try_from(m).ok()
        }
    }

    /// The value as `u64`, when it fits.
    pub fn to_u64(&self) -> Option<u64> {
        self.to_i128().and_then(|v| u64::try_from(v).ok())
    }

    /// The value as a (possibly rounded) `f64`.
    pub fn to_f64(&self) -> f64 {
        let mut v = 0.0f64;
        for &b in self.mag.iter().rev() {
            v = v * 256.0 + b as f64;
        }
        if self.negative {
            -v
        } else {
            v
        }
    }

    fn cmp_mag(a: &[u8], b: &[u8]) -> Ordering {
        a.len()
            .cmp(&b.len())
            .then_with(|| a.iter().rev().cmp(b.iter().rev()))
    }

    /// Decimal digits of the magnitude.
    fn decimal_magnitude(&self) -> String {
        if self.mag.is_empty() {
            return "0".to_string();
        }
        // Little-endian u32 limbs.
        let mut limbs: Vec<u32> = self
            .mag
            .chunks(4)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(b)
            })
            .collect();
        let mut chunks = Vec::new();
        while !limbs.is_empty() {
            let mut rem: u64 = 0;
            for limb in limbs.iter_mut().rev() {
                let cur = (rem << 32) | *limb as u64;
                *limb = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            chunks.push(rem as u32);
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
        }
        let mut s = String::new();
        for (i, c) in chunks.iter().rev().enumerate() {
            if i == 0 {
                s.push_str(&c.to_string());
            } else {
                s.push_str(&format!("{c:09}"));
            }
        }
        s
    }
}

impl PartialOrd for BigInt {
    fn partial_cmp(&self, other: &BigInt) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BigInt {
    fn cmp(&self, other: &BigInt) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => BigInt::cmp_mag(&self.mag, &other.mag),
            (true, true) => BigInt::cmp_mag(&other.mag, &self.mag),
        }
    }
}

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        f.write_str(&self.decimal_magnitude())
    }
}

impl fmt::Debug for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The text was not a decimal integer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a decimal integer: {0:?}")]
pub struct ParseBigIntError(pub String);

impl FromStr for BigInt {
    type Err = ParseBigIntError;

    /// Parses an optionally signed decimal integer of any length.
    fn from_str(s: &str) -> Result<BigInt, ParseBigIntError> {
        let err = || ParseBigIntError(s.chars().take(40).collect());
        let (negative, digits) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        // Little-endian u32 limbs; multiply by 10 and add for each digit chunk.
        let mut limbs: Vec<u32> = vec![0];
        for chunk in digits.as_bytes().chunks(9) {
            let mut mul: u64 = 1;
            let mut add: u64 = 0;
            for &d in chunk {
                mul *= 10;
                add = add * 10 + (d - b'0') as u64;
            }
            let mut carry = add;
            for limb in limbs.iter_mut() {
                let cur = *limb as u64 * mul + carry;
                *limb = cur as u32;
                carry = cur >> 32;
            }
            if carry > 0 {
                limbs.push(carry as u32);
            }
        }
        let mut le = Vec::with_capacity(limbs.len() * 4);
        for l in limbs {
            le.extend_from_slice(&l.to_le_bytes());
        }
        Ok(BigInt::from_le_bytes(negative, &le))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_round_trip() {
        for s in [
            "0",
            "1",
            "-1",
            "18446744073709551616",
            "-9223372036854775809",
            "123456789012345678901234567890123456789012345678901234567890",
        ] {
            let b: BigInt = s.parse().unwrap();
            assert_eq!(b.to_string(), s);
        }
    }

    #[test]
    fn ordering() {
        let a: BigInt = "-100000000000000000000000".parse().unwrap();
        let b: BigInt = "-1".parse().unwrap();
        let c: BigInt = "100000000000000000000000".parse().unwrap();
        assert!(a < b && b < c);
        assert_eq!(BigInt::from_i128(i128::MIN).to_i128(), Some(i128::MIN));
    }
}
