//! Fuzzes what a connection does with the bytes a peer sends after the handshake: the
//! framing decoder, the distribution-header receiver (atom cache, fragments, limits) and
//! the control-message validator. Nothing may panic, and the receiver's reassembly must
//! stay within its byte budget.
#![no_main]

use ferrobeam_proto::control::ControlMessage;
use ferrobeam_proto::dist_header::{DistReceiver, ReceiverLimits};
use ferrobeam_proto::framing::{Frame, FrameDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte sets how the stream is cut into reads.
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let limits = ReceiverLimits::default()
        .with_max_depth(64)
        .with_max_sequences(4)
        .with_max_reassembly_bytes(1 << 16)
        .with_max_terms(1 << 16);
    let mut frames = FrameDecoder::with_max_frame_size(1 << 16);
    let mut rx = DistReceiver::new(limits);
    for piece in stream.chunks(chunk as usize + 1) {
        frames.push(piece);
        while let Some(f) = frames.next_frame() {
            let Ok(Frame::Data(body)) = f else {
                // A framing error closes the connection.
                return;
            };
            match rx.receive(body) {
                Ok(Some(r)) => {
                    let _ = ControlMessage::from_term(r.control, r.message);
                }
                Ok(None) => {}
                // A bad packet closes the connection.
                Err(_) => return,
            }
            assert!(rx.bytes_in_flight() <= 1 << 16, "reassembly over its budget");
        }
    }
});
