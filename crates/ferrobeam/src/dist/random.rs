//! Randomness for challenges and cookies without an extra dependency: the kernel's
//! `/dev/urandom`, with a time-and-address-seeded fallback.

use std::io::Read;

/// A random 64-bit value.
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(&mut b).is_ok() {
            return u64::from_ne_bytes(b);
        }
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let local = 0u8;
    splitmix(t ^ (&local as *const u8 as u64) ^ ((std::process::id() as u64) << 32))
}

/// A random 32-bit value (handshake challenges).
pub fn random_u32() -> u32 {
    (random_u64() >> 16) as u32
}

/// One step of the SplitMix64 generator.
pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
