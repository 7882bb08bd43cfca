//! Framing of a connection after the handshake: every packet is a 4-byte big-endian
//! length followed by that many bytes. A zero-length packet is a tick (keep-alive).
//!
//! ```
//! use bytes::Bytes;
//! use ferrobeam_proto::framing::{encode_frame, Frame, FrameDecoder, TICK};
//!
//! let mut wire = Vec::new();
//! encode_frame(b"hello", &mut wire).unwrap();
//! wire.extend_from_slice(&TICK);
//!
//! let mut dec = FrameDecoder::new();
//! dec.push(&wire[..3]);
//! assert!(dec.next_frame().is_none()); // not enough bytes yet
//! dec.push(&wire[3..]);
//! assert_eq!(dec.next_frame().unwrap().unwrap(), Frame::Data(Bytes::from_static(b"hello")));
//! assert_eq!(dec.next_frame().unwrap().unwrap(), Frame::Tick);
//! assert!(dec.next_frame().is_none());
//! ```

use bytes::{Buf, Bytes, BytesMut};

/// The tick: an empty packet.
pub const TICK: [u8; 4] = [0; 4];

/// Default largest packet accepted: 128 MiB. BEAM fragments messages at 64 KiB when
/// both sides support fragments, but without fragments a single message is one packet.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 128 * 1024 * 1024;

/// One packet of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A zero-length packet.
    Tick,
    /// A packet body (without its length): a zero-copy slice of the receive buffer,
    /// or a copy of its own for a packet shorter than
    /// [`FrameDecoder::with_copy_below`]'s limit.
    Data(Bytes),
}

/// A framing error. The connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A packet longer than the configured maximum.
    #[error("packet of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// The announced length.
        len: u64,
        /// The maximum.
        max: usize,
    },
}

/// Splits a byte stream into packets. Push bytes in as they arrive, then take packets
/// out with [`FrameDecoder::next_frame`] until it returns `None`.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max: usize,
    /// Packets shorter than this are copied out of `buf`.
    copy_below: usize,
    failed: Option<FrameError>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new()
    }
}

impl FrameDecoder {
    /// A decoder with [`DEFAULT_MAX_FRAME_SIZE`].
    pub fn new() -> FrameDecoder {
        FrameDecoder::with_max_frame_size(DEFAULT_MAX_FRAME_SIZE)
    }

    /// A decoder that refuses packets longer than `max` bytes.
    pub fn with_max_frame_size(max: usize) -> FrameDecoder {
        FrameDecoder {
            buf: BytesMut::new(),
            max,
            copy_below: 0,
            failed: None,
        }
    }

    /// This decoder, returning packets shorter than `n` bytes as copies of their own
    /// rather than slices of the receive buffer (by default none are copied).
    ///
    /// A slice keeps the whole buffer it was read into alive, with every other packet
    /// in it, for as long as anything decoded from it is kept: a binary a process keeps
    /// from a 100-byte packet would hold a buffer of 8 KiB or more. Copying short packets
    /// (one allocation and a copy of a few hundred bytes) bounds what a kept binary
    /// holds to its own packet, as BEAM's sub-binaries of a received packet do, while
    /// long packets, where a copy would cost, stay slices.
    ///
    /// ```
    /// use ferrobeam_proto::framing::{encode_frame, Frame, FrameDecoder};
    /// let mut wire = Vec::new();
    /// encode_frame(b"short", &mut wire).unwrap();
    /// let mut d = FrameDecoder::new().with_copy_below(1024);
    /// d.push(&wire);
    /// assert_eq!(d.next_frame(), Some(Ok(Frame::Data(b"short"[..].into()))));
    /// ```
    pub fn with_copy_below(mut self, n: usize) -> FrameDecoder {
        self.copy_below = n;
        self
    }

    /// The largest packet accepted.
    pub fn max_frame_size(&self) -> usize {
        self.max
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// The internal buffer, for reading from a socket straight into it (for example
    /// with `AsyncReadExt::read_buf`). See [`FrameDecoder::bytes_needed`].
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes buffered and not yet returned as packets.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// How many more bytes complete the next packet (at least 1), capped at the
    /// maximum packet size. A hint for sizing reads.
    pub fn bytes_needed(&self) -> usize {
        if self.buf.len() < 4 {
            return 4 - self.buf.len();
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        (4 + len.min(self.max))
            .saturating_sub(self.buf.len())
            .max(1)
    }

    /// The next complete packet, `None` if more bytes are needed. After an error the
    /// decoder keeps returning that error.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FrameError>> {
        if let Some(e) = &self.failed {
            return Some(Err(e.clone()));
        }
        if self.buf.len() < 4 {
            return None;
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as u64;
        if len > self.max as u64 {
            let e = FrameError::TooLarge { len, max: self.max };
            self.failed = Some(e.clone());
            self.buf = BytesMut::new();
            return Some(Err(e));
        }
        let len = len as usize;
        if self.buf.len() < 4 + len {
            return None;
        }
        self.buf.advance(4);
        if len == 0 {
            return Some(Ok(Frame::Tick));
        }
        if len < self.copy_below {
            let body = Bytes::copy_from_slice(&self.buf[..len]);
            self.buf.advance(len);
            return Some(Ok(Frame::Data(body)));
        }
        Some(Ok(Frame::Data(self.buf.split_to(len).freeze())))
    }
}

/// The 4-byte length prefix of a packet of `len` bytes.
pub fn frame_header(len: usize) -> Result<[u8; 4], FrameError> {
    u32::try_from(len)
        .map(u32::to_be_bytes)
        .map_err(|_| FrameError::TooLarge {
            len: len as u64,
            max: u32::MAX as usize,
        })
}

/// Appends one packet: its length, then `body`.
pub fn encode_frame(body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    out.extend_from_slice(&frame_header(body.len())?);
    out.extend_from_slice(body);
    Ok(())
}

/// Starts a packet whose body is written straight into `out`: reserves the length
/// prefix and returns where it is. Finish with [`finish_frame`].
pub fn begin_frame(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    at
}

/// Writes the length of the packet started at `start` by [`begin_frame`]. On error
/// (a body over 4 GiB) the packet is removed from `out`.
pub fn finish_frame(out: &mut Vec<u8>, start: usize) -> Result<(), FrameError> {
    let len = out.len().saturating_sub(start + 4);
    match frame_header(len) {
        Ok(h) => {
            out[start..start + 4].copy_from_slice(&h);
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_packets_are_copied_out_of_the_buffer_long_ones_are_slices() {
        let mut wire = Vec::new();
        encode_frame(&[1u8; 100], &mut wire).unwrap();
        encode_frame(&[2u8; 5000], &mut wire).unwrap();
        encode_frame(&[3u8; 99], &mut wire).unwrap();
        let mut d = FrameDecoder::new().with_copy_below(1024);
        d.push(&wire);
        let buffer =
            d.buffer_mut().as_ptr() as usize..d.buffer_mut().as_ptr() as usize + wire.len();
        let mut got = Vec::new();
        while let Some(f) = d.next_frame() {
            let Frame::Data(b) = f.unwrap() else {
                panic!("a tick")
            };
            got.push((b.len(), b[0], buffer.contains(&(b.as_ptr() as usize))));
        }
        // Same bytes either way; only the 5000-byte packet still points into the buffer.
        assert_eq!(got, [(100, 1, false), (5000, 2, true), (99, 3, false)]);
        assert_eq!(d.buffered(), 0);
        // By default, nothing is copied.
        let mut d = FrameDecoder::new();
        d.push(&wire);
        let start = d.buffer_mut().as_ptr() as usize;
        let Some(Ok(Frame::Data(b))) = d.next_frame() else {
            panic!("no packet")
        };
        assert_eq!(b.as_ptr() as usize, start + 4);
    }

    #[test]
    fn byte_by_byte() {
        let mut wire = Vec::new();
        encode_frame(b"abc", &mut wire).unwrap();
        wire.extend_from_slice(&TICK);
        let start = begin_frame(&mut wire);
        wire.extend_from_slice(b"xy");
        finish_frame(&mut wire, start).unwrap();
        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        for b in &wire {
            d.push(std::slice::from_ref(b));
            while let Some(f) = d.next_frame() {
                got.push(f.unwrap());
            }
        }
        assert_eq!(
            got,
            vec![
                Frame::Data(Bytes::from_static(b"abc")),
                Frame::Tick,
                Frame::Data(Bytes::from_static(b"xy"))
            ]
        );
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn too_large_is_sticky() {
        let mut d = FrameDecoder::with_max_frame_size(10);
        d.push(&[0, 0, 0, 11]);
        assert_eq!(
            d.next_frame(),
            Some(Err(FrameError::TooLarge { len: 11, max: 10 }))
        );
        d.push(&[0; 20]);
        assert!(matches!(d.next_frame(), Some(Err(_))));
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn needed_hint() {
        let mut d = FrameDecoder::new();
        assert_eq!(d.bytes_needed(), 4);
        d.push(&[0, 0, 1, 0, 7]);
        assert_eq!(d.bytes_needed(), 255);
    }
}
