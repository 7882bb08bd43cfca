//! Helpers shared by the protocol tests.
#![allow(dead_code)]

/// Reads a hex vector file (whitespace ignored).
pub fn hex_file(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex(&clean)
}

/// Decodes a hex string.
pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Splits the first `n` 2-byte-framed handshake messages off a stream. Returns the
/// messages (with their length prefixes) and the rest of the stream.
pub fn handshake_messages(stream: &[u8], n: usize) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut at = 0;
    let mut out = Vec::new();
    for _ in 0..n {
        let len = u16::from_be_bytes([stream[at], stream[at + 1]]) as usize;
        out.push(stream[at..at + 2 + len].to_vec());
        at += 2 + len;
    }
    (out, stream[at..].to_vec())
}

/// The real capture: a@vm dialing b@vm, cookie "c".
pub struct Capture {
    /// send_name, challenge_reply.
    pub a_handshake: Vec<Vec<u8>>,
    /// status, challenge, ack.
    pub b_handshake: Vec<Vec<u8>>,
    /// 4-byte framed packets from a to b.
    pub a_packets: Vec<u8>,
    /// 4-byte framed packets from b to a.
    pub b_packets: Vec<u8>,
}

/// The capture, parsed once per test binary.
pub fn capture() -> &'static Capture {
    static CAPTURE: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    CAPTURE.get_or_init(|| {
        let (a_handshake, a_packets) = handshake_messages(&hex_file("otp25_a2b.hex"), 2);
        let (b_handshake, b_packets) = handshake_messages(&hex_file("otp25_b2a.hex"), 3);
        Capture {
            a_handshake,
            b_handshake,
            a_packets,
            b_packets,
        }
    })
}

/// The flags both OTP 25 nodes sent.
pub const OTP25_FLAGS: u64 = 0x0000_000d_07df_7fbd;
