//! Property tests: the decoders never panic on arbitrary or corrupted input, and what
//! the sender writes, the receiver reads back.

mod common;

use bytes::Bytes;
use common::capture;
use ferrobeam_proto::control::{ControlMessage, ProcRef};
use ferrobeam_proto::dist_header::{DistReceiver, DistSender, ReceiverLimits, SendMode};
use ferrobeam_proto::framing::{Frame, FrameDecoder};
use ferrobeam_proto::handshake::{AcceptStatus, Config, Cookie, Event, Handshake};
use ferrobeam_term::{Atom, Pid, Ref, Term};
use proptest::prelude::*;

fn small_limits() -> ReceiverLimits {
    ReceiverLimits::default()
        .with_max_depth(64)
        .with_max_sequences(8)
        .with_max_reassembly_bytes(1 << 20)
        .with_max_terms(100_000)
}

/// Feeds a stream to the framing decoder and every packet to a receiver and the
/// control-message validator, ignoring errors. Must never panic.
fn swallow(stream: &[u8], chunk: usize) {
    let mut frames = FrameDecoder::with_max_frame_size(1 << 20);
    let mut r = DistReceiver::new(small_limits());
    for piece in stream.chunks(chunk.max(1)) {
        frames.push(piece);
        while let Some(f) = frames.next_frame() {
            let Ok(Frame::Data(body)) = f else { break };
            if let Ok(Some(rx)) = r.receive(body) {
                let _ = ControlMessage::from_term(rx.control, rx.message);
            }
        }
    }
}

/// A stream with `mutations` applied: (position, xor mask) pairs.
fn mutate(base: &[u8], mutations: &[(usize, u8)]) -> Vec<u8> {
    let mut v = base.to_vec();
    if v.is_empty() {
        return v;
    }
    for &(pos, mask) in mutations {
        let i = pos % v.len();
        v[i] ^= mask.max(1);
    }
    v
}

fn cfg(name: &str, challenge: u32) -> Config {
    Config::new(Atom::new(name), Cookie::new("k"), challenge)
}

/// Drives a handshake with arbitrary input; decisions are taken when asked.
fn drive(hs: &mut Handshake, input: &[u8], chunk: usize) {
    for piece in input.chunks(chunk.max(1)) {
        if hs.feed(piece).is_err() {
            return;
        }
        while let Some(ev) = hs.poll_event() {
            let r = match ev {
                Event::PeerIdentified { .. } => hs.accept(AcceptStatus::Ok),
                Event::AliveCheck => hs.answer_alive(true),
                Event::ReplacingConnection => hs.old_connection_closed(),
                _ => Ok(()),
            };
            if r.is_err() {
                return;
            }
        }
        let _ = hs.poll_transmit();
    }
    let _ = hs.take_leftover();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_streams_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048), chunk in 1usize..64) {
        swallow(&data, chunk);
        // Also as packet bodies directly, behind the usual prefixes.
        for prefix in [&[][..], &[112, 131][..], &[131, 68][..], &[131, 69][..], &[131, 70][..]] {
            let mut p = prefix.to_vec();
            p.extend_from_slice(&data);
            let mut r = DistReceiver::new(small_limits());
            let _ = r.receive(Bytes::from(p));
        }
    }

    #[test]
    fn receive_decodes_as_receive_raw_then_decode_message(mutations in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4)) {
        // Two receivers fed the same (possibly corrupted) packets of a real capture,
        // one through `receive`, one through `receive_raw` and `decode_message`: the
        // same terms, or both an error.
        let c = capture();
        let mut frames = FrameDecoder::new();
        frames.push(&c.b_packets);
        let mut fast = DistReceiver::new(small_limits());
        let mut raw = DistReceiver::new(small_limits());
        while let Some(Ok(Frame::Data(body))) = frames.next_frame() {
            let p = Bytes::from(mutate(&body, &mutations));
            let a = fast.receive(p.clone()).map(|o| o.map(|r| (r.control, r.message)));
            let b = raw.receive_raw(p).and_then(|o| match o {
                None => Ok(None),
                Some(m) => {
                    let message = m.decode_message(&small_limits())?;
                    Ok(Some((m.control, message)))
                }
            });
            match (a, b) {
                (Ok(x), Ok(y)) => prop_assert_eq!(x, y),
                (Err(_), Err(_)) => {}
                (x, y) => prop_assert!(false, "receive {:?} but receive_raw {:?}", x, y),
            }
        }
    }

    #[test]
    fn corrupted_packets_one_by_one_never_panic(mutations in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        // Corrupt each packet in turn (not the framing), keeping the cache in sync.
        let c = capture();
        let mut frames = FrameDecoder::new();
        frames.push(&c.b_packets);
        let mut r = DistReceiver::new(small_limits());
        while let Some(Ok(Frame::Data(body))) = frames.next_frame() {
            let bad = mutate(&body, &mutations);
            if let Ok(Some(rx)) = r.receive(Bytes::from(bad)) {
                let _ = ControlMessage::from_term(rx.control, rx.message);
            }
        }
    }

    #[test]
    fn arbitrary_handshake_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512), chunk in 1usize..32) {
        let mut b = Handshake::acceptor(cfg("b@h", 7)).unwrap();
        drive(&mut b, &data, chunk);
        let mut a = Handshake::initiator(cfg("a@h", 8), Atom::new("b@h")).unwrap();
        drive(&mut a, &data, chunk);
    }

    #[test]
    fn corrupted_real_handshakes_never_panic(mutations in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6), chunk in 1usize..32) {
        let c = capture();
        let a_side: Vec<u8> = c.a_handshake.concat();
        let b_side: Vec<u8> = c.b_handshake.concat();
        let mut b = Handshake::acceptor(cfg("b@vm", 0x6e60_b3b3)).unwrap();
        drive(&mut b, &mutate(&a_side, &mutations), chunk);
        let mut a = Handshake::initiator(cfg("a@vm", 0x6ca8_fee1), Atom::new("b@vm")).unwrap();
        drive(&mut a, &mutate(&b_side, &mutations), chunk);
    }

    #[test]
    fn arbitrary_control_tuples_never_panic(code in 0i64..40, elems in proptest::collection::vec(leaf(), 0..8), payload in proptest::option::of(leaf())) {
        let mut items = vec![Term::Int(code)];
        items.extend(elems);
        let _ = ControlMessage::from_term(Term::Tuple(items), payload);
    }

}

proptest! {
    // Costly cases (the whole 150 KiB capture, or many generated terms): fewer of them.
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn sent_messages_are_received(
        msgs in proptest::collection::vec(message(), 1..6),
        mode in prop_oneof![Just(SendMode::PassThrough), Just(SendMode::Header), Just(SendMode::Fragments)],
        fragment in 1usize..300,
        chunk in 1usize..700,
    ) {
        let mut s = DistSender::with_mode(mode).with_fragment_size(fragment);
        let mut wire = Vec::new();
        for m in &msgs {
            m.encode(&mut s, &mut wire).unwrap();
        }
        // The vectored form carries the same bytes.
        let mut s2 = DistSender::with_mode(mode).with_fragment_size(fragment);
        let mut wire2 = Vec::new();
        for m in &msgs {
            let (c, p) = m.to_terms().unwrap();
            for b in s2.encode_chunks(&c, p.as_ref()).unwrap() {
                wire2.extend_from_slice(&b);
            }
        }
        prop_assert_eq!(&wire, &wire2);

        let mut frames = FrameDecoder::new();
        let mut r = DistReceiver::default();
        let mut got = Vec::new();
        for piece in wire.chunks(chunk) {
            frames.push(piece);
            while let Some(f) = frames.next_frame() {
                let Frame::Data(body) = f.unwrap() else { continue };
                if let Some(rx) = r.receive(body).unwrap() {
                    got.push(ControlMessage::from_term(rx.control, rx.message).unwrap());
                }
            }
        }
        prop_assert_eq!(got, msgs);
    }

    #[test]
    fn corrupted_real_packets_never_panic(mutations in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), chunk in 1usize..4096) {
        let c = capture();
        swallow(&mutate(&c.b_packets, &mutations), chunk);
        swallow(&mutate(&c.a_packets, &mutations), chunk);
    }
}

fn atom() -> impl Strategy<Value = Atom> {
    prop_oneof![
        Just(Atom::new("")),
        "[a-z_]{1,12}".prop_map(|s| Atom::new(&s)),
        "\\PC{1,5}".prop_map(|s| Atom::new(&s)),
    ]
}

fn pid() -> impl Strategy<Value = Pid> {
    (atom(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(n, i, s, c)| Pid::new(n, i, s, c))
}

fn reference() -> impl Strategy<Value = Ref> {
    (
        atom(),
        any::<u32>(),
        proptest::collection::vec(any::<u32>(), 1..=5),
    )
        .prop_map(|(n, c, w)| Ref::new(n, c, &w).unwrap())
}

fn leaf() -> impl Strategy<Value = Term> {
    prop_oneof![
        any::<i64>().prop_map(Term::Int),
        atom().prop_map(Term::Atom),
        pid().prop_map(Term::Pid),
        reference().prop_map(|r| Term::Ref(Box::new(r))),
        proptest::collection::vec(any::<u8>(), 0..600).prop_map(Term::binary),
        Just(Term::nil()),
    ]
}

fn payload() -> impl Strategy<Value = Term> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Term::Tuple),
            proptest::collection::vec(inner, 0..6).prop_map(Term::List),
        ]
    })
}

fn message() -> impl Strategy<Value = ControlMessage> {
    prop_oneof![
        (pid(), atom(), payload()).prop_map(|(from, to, message)| ControlMessage::RegSend {
            from,
            to,
            message
        }),
        (pid(), pid(), payload()).prop_map(|(from, to, message)| ControlMessage::SendSender {
            from,
            to,
            message
        }),
        (pid(), pid()).prop_map(|(from, to)| ControlMessage::Link { from, to }),
        (pid(), atom(), reference()).prop_map(|(from, n, reference)| ControlMessage::MonitorP {
            from,
            to: ProcRef::Name(n),
            reference
        }),
        (pid(), pid(), payload()).prop_map(|(from, to, reason)| ControlMessage::PayloadExit {
            from,
            to,
            reason
        }),
        (pid(), reference(), payload()).prop_map(|(from, alias, message)| {
            ControlMessage::AliasSend {
                from,
                alias,
                message,
            }
        }),
        (1u64.., pid(), pid()).prop_map(|(id, from, to)| ControlMessage::UnlinkId { id, from, to }),
        Just(ControlMessage::NodeLink),
    ]
}
