//! Distribution packets captured from real OTP 25 nodes: every packet must frame, parse
//! (header, atom cache, fragments), decode and validate as a control message.

mod common;

use bytes::Bytes;
use common::capture;
use ferrobeam_proto::control::{op, ControlMessage, ProcRef, SpawnResult};
use ferrobeam_proto::dist_header::{DistError, DistReceiver, DistSender, ReceiverLimits, SendMode};
use ferrobeam_proto::framing::{Frame, FrameDecoder};
use ferrobeam_term::{Atom, Pid, Ref, Term};
use std::collections::BTreeMap;

fn packets(stream: &[u8]) -> Vec<Bytes> {
    let mut d = FrameDecoder::new();
    d.push(stream);
    let mut out = Vec::new();
    while let Some(f) = d.next_frame() {
        match f.unwrap() {
            Frame::Tick => {}
            Frame::Data(b) => out.push(b),
        }
    }
    assert_eq!(d.buffered(), 0, "stream ends on a packet boundary");
    out
}

fn decode_all(stream: &[u8]) -> Vec<ControlMessage> {
    let mut r = DistReceiver::default();
    let mut out = Vec::new();
    for p in packets(stream) {
        if let Some(rx) = r.receive(p).unwrap() {
            out.push(ControlMessage::from_term(rx.control, rx.message).unwrap());
        }
    }
    assert_eq!(r.sequences_in_flight(), 0);
    out
}

fn op_counts(msgs: &[ControlMessage]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for c in msgs {
        *m.entry(c.name()).or_insert(0) += 1;
    }
    m
}

#[test]
fn every_packet_from_a_to_b_decodes() {
    let c = capture();
    let msgs = decode_all(&c.a_packets);
    let ops = op_counts(&msgs);
    for name in [
        "REG_SEND",
        "SEND_SENDER",
        "MONITOR_P",
        "DEMONITOR_P",
        "LINK",
        "UNLINK_ID",
        "GROUP_LEADER",
        "PAYLOAD_EXIT2",
        "SPAWN_REQUEST",
    ] {
        assert!(ops.contains_key(name), "{name} missing from {ops:?}");
    }

    // {reg, b@vm} ! hello
    assert!(msgs.iter().any(|m| matches!(m,
        ControlMessage::RegSend { to, message, .. } if to == "reg" && message.is_atom("hello"))));

    // The 150 KiB binary arrived in fragments and was reassembled.
    let big = msgs
        .iter()
        .find_map(|m| match m {
            ControlMessage::RegSend { message, .. } => match message.as_tuple() {
                Some([tag, Term::Binary(b)]) if tag.is_atom("big") => Some(b.clone()),
                _ => None,
            },
            _ => None,
        })
        .expect("big message");
    assert_eq!(big.len(), 150 * 1024);
    assert!(big.iter().all(|&b| b == b'x'));

    // The mixed-type message.
    let mixed = msgs
        .iter()
        .find_map(|m| match m {
            ControlMessage::RegSend { message, .. }
                if message.as_tuple().is_some_and(|t| t.len() == 9) =>
            {
                Some(message.to_string())
            }
            _ => None,
        })
        .expect("mixed message");
    assert_eq!(
        mixed,
        r#"{some_atom,another_atom,<<"bin">>,[1,2,3],#{k => v},3.5,-7,1180591620717411303424,"str"}"#
    );

    // erpc:call(B, erlang, node, []) is a SPAWN_REQUEST of erpc:execute_call/4.
    let spawn = msgs
        .iter()
        .find(|m| m.op() == op::SPAWN_REQUEST)
        .expect("spawn request");
    let ControlMessage::SpawnRequest {
        module,
        function,
        arity,
        opts,
        args,
        ..
    } = spawn
    else {
        unreachable!()
    };
    assert_eq!(
        (module.as_str(), function.as_str(), *arity),
        ("erpc", "execute_call", 4)
    );
    assert_eq!(args.len(), 4);
    assert!(opts.iter().any(|o| o.is_atom("monitor")));

    // exit(Child2, kill)
    assert!(msgs.iter().any(|m| matches!(m,
        ControlMessage::PayloadExit2 { reason, .. } if reason.is_atom("kill"))));
    // The UNLINK_ID id is an integer in range.
    assert!(msgs
        .iter()
        .any(|m| matches!(m, ControlMessage::UnlinkId { id, .. } if *id >= 1)));
    // Monitors by name carry an atom.
    assert!(msgs.iter().any(|m| matches!(
        m,
        ControlMessage::MonitorP {
            to: ProcRef::Name(_),
            ..
        }
    )));
}

#[test]
fn every_packet_from_b_to_a_decodes() {
    let c = capture();
    let msgs = decode_all(&c.b_packets);
    let ops = op_counts(&msgs);
    for name in [
        "REG_SEND",
        "SEND_SENDER",
        "UNLINK_ID_ACK",
        "PAYLOAD_EXIT",
        "PAYLOAD_MONITOR_P_EXIT",
        "SPAWN_REPLY",
        "ALIAS_SEND",
    ] {
        assert!(ops.contains_key(name), "{name} missing from {ops:?}");
    }
    // The child died with reason child_died; the killed one with killed.
    assert!(msgs.iter().any(|m| matches!(m,
        ControlMessage::PayloadExit { reason, .. } if reason.is_atom("child_died"))));
    assert!(msgs.iter().any(|m| matches!(m,
        ControlMessage::PayloadMonitorPExit { reason, .. } if reason.is_atom("killed"))));
    // The erpc spawn succeeded, with the monitor flag.
    assert!(msgs.iter().any(|m| matches!(m,
        ControlMessage::SpawnReply { flags, result: SpawnResult::Pid(_), .. } if flags & 2 == 2)));
    assert!(msgs.iter().any(|m| matches!(m,
        ControlMessage::AliasSend { message, .. } if message.is_atom("alias_pong"))));
}

#[test]
fn our_encoding_of_the_real_messages_decodes_the_same() {
    let c = capture();
    let msgs = decode_all(&c.a_packets);
    for mode in [SendMode::PassThrough, SendMode::Header, SendMode::Fragments] {
        let mut sender = DistSender::with_mode(mode);
        let mut wire = Vec::new();
        for m in &msgs {
            m.encode(&mut sender, &mut wire).unwrap();
        }
        assert_eq!(decode_all(&wire), msgs, "{mode:?}");
    }
}

#[test]
fn interleaved_fragments_of_two_messages() {
    let ctl = |n: &str| {
        Term::tuple(vec![
            Term::Int(6),
            Term::Pid(Pid::new("a@h", 1, 0, 1)),
            Term::atom(""),
            Term::atom(n),
        ])
    };
    let mut s = DistSender::with_mode(SendMode::Fragments).with_fragment_size(1000);
    let m1 = Term::binary(vec![1u8; 5000]);
    let m2 = Term::binary(vec![2u8; 3500]);
    let mut w1 = Vec::new();
    let mut w2 = Vec::new();
    s.encode(&ctl("one"), Some(&m1), &mut w1).unwrap();
    s.encode(&ctl("two"), Some(&m2), &mut w2).unwrap();
    let (p1, p2) = (packets(&w1), packets(&w2));
    assert_eq!((p1.len(), p2.len()), (6, 4));
    // Interleave: one, two, one, two, ... and a small message in between.
    let mut small = Vec::new();
    s.encode(&ctl("small"), Some(&Term::atom("hi")), &mut small)
        .unwrap();
    let mut order = Vec::new();
    for i in 0..6 {
        order.push(p1[i].clone());
        if i < 4 {
            order.push(p2[i].clone());
        }
        if i == 1 {
            order.push(packets(&small)[0].clone());
        }
    }
    let mut r = DistReceiver::default();
    let mut got = Vec::new();
    for p in order {
        if let Some(m) = r.receive(p).unwrap() {
            got.push(m);
        }
    }
    let names: Vec<String> = got
        .iter()
        .map(|m| m.control.as_tuple().unwrap()[3].to_string())
        .collect();
    assert_eq!(names, ["small", "two", "one"]);
    assert_eq!(got[2].message.as_ref(), Some(&m1));
    assert_eq!(got[1].message.as_ref(), Some(&m2));
    assert_eq!(r.bytes_in_flight(), 0);
}

#[test]
fn reassembly_is_bounded() {
    let ctl = Term::tuple(vec![
        Term::Int(2),
        Term::atom(""),
        Term::Pid(Pid::new("a@h", 1, 0, 1)),
    ]);
    let msg = Term::binary(vec![0u8; 10_000]);
    let mut s = DistSender::with_mode(SendMode::Fragments).with_fragment_size(1000);
    let mut wire = Vec::new();
    s.encode(&ctl, Some(&msg), &mut wire).unwrap();
    let ps = packets(&wire);

    // Too many bytes.
    let mut r = DistReceiver::new(ReceiverLimits::default().with_max_reassembly_bytes(5000));
    let errs: Vec<DistError> = ps
        .iter()
        .filter_map(|p| r.receive(p.clone()).err())
        .collect();
    assert!(
        matches!(errs.first(), Some(DistError::ReassemblyTooLarge(5000))),
        "{errs:?}"
    );

    // Too many sequences: start three, allow two.
    let mut r = DistReceiver::new(ReceiverLimits::default().with_max_sequences(2));
    let mut firsts = Vec::new();
    for _ in 0..3 {
        let mut w = Vec::new();
        s.encode(&ctl, Some(&msg), &mut w).unwrap();
        firsts.push(packets(&w)[0].clone());
    }
    assert!(r.receive(firsts[0].clone()).unwrap().is_none());
    assert!(r.receive(firsts[1].clone()).unwrap().is_none());
    assert_eq!(
        r.receive(firsts[2].clone()),
        Err(DistError::TooManySequences(2))
    );
}

#[test]
fn fragment_errors() {
    let ctl = Term::tuple(vec![
        Term::Int(2),
        Term::atom(""),
        Term::Pid(Pid::new("a@h", 1, 0, 1)),
    ]);
    let msg = Term::binary(vec![0u8; 3000]);
    let mut s = DistSender::with_mode(SendMode::Fragments).with_fragment_size(1000);
    let mut wire = Vec::new();
    s.encode(&ctl, Some(&msg), &mut wire).unwrap();
    let ps = packets(&wire);
    assert_eq!(ps.len(), 4);

    // A continuation without its start.
    let mut r = DistReceiver::default();
    assert!(matches!(
        r.receive(ps[1].clone()),
        Err(DistError::Fragment(_))
    ));
    // Out of order.
    let mut r = DistReceiver::default();
    r.receive(ps[0].clone()).unwrap();
    assert!(matches!(
        r.receive(ps[2].clone()),
        Err(DistError::Fragment(_))
    ));
    // The same start twice.
    let mut r = DistReceiver::default();
    r.receive(ps[0].clone()).unwrap();
    assert!(matches!(
        r.receive(ps[0].clone()),
        Err(DistError::Fragment(_))
    ));
}

#[test]
fn atom_cache_references_across_packets() {
    // Packet 1 sets cache entries; packet 2 refers to them without sending the text.
    let c = capture();
    let ps = packets(&c.b_packets);
    let mut r = DistReceiver::default();
    r.receive(ps[0].clone()).unwrap();
    // Feeding a later packet to a fresh receiver fails: it refers to unknown entries.
    let later = ps
        .iter()
        .skip(1)
        .find(|p| DistReceiver::default().receive((*p).clone()).is_err())
        .expect("a packet using cached atoms");
    assert!(matches!(
        DistReceiver::default().receive(later.clone()),
        Err(DistError::EmptyCacheEntry(_))
    ));
    // In order, everything decodes.
    let mut r = DistReceiver::default();
    for p in ps {
        r.receive(p).unwrap();
    }
}

#[test]
fn header_with_long_atoms() {
    // Build a header by hand: 2 refs, both new, LongAtoms set, 2-byte lengths.
    // Flags: ref0 = 0x8 (new, seg 0), ref1 = 0x9 (new, seg 1); long-atoms nibble = 1.
    let mut p = vec![131, 68, 2, 0x98, 0x01];
    p.extend_from_slice(&[5, 0, 3]);
    p.extend_from_slice(b"abc");
    p.extend_from_slice(&[7, 0, 2]);
    p.extend_from_slice("é".as_bytes());
    // Control {5} (NODE_LINK) then message with both atoms: {abc, 'é'}.
    p.extend_from_slice(&[104, 1, 97, 5]);
    p.extend_from_slice(&[104, 2, 82, 0, 82, 1]);
    let mut r = DistReceiver::default();
    let rx = r.receive(Bytes::from(p)).unwrap().unwrap();
    assert_eq!(rx.control, Term::tuple(vec![Term::Int(5)]));
    assert_eq!(
        rx.message,
        Some(Term::tuple(vec![Term::atom("abc"), Term::atom("é")]))
    );
    assert_eq!(r.cached_atom(5).unwrap(), "abc");
    assert_eq!(r.cached_atom(256 + 7).unwrap(), "é");
}

#[test]
fn pass_through_packets_from_term_to_binary() {
    // What an OTP node sends without the header: 112, then term_to_binary of each.
    let from = Pid::new("a@h", 85, 0, 3);
    let ctl = ControlMessage::RegSend {
        from: from.clone(),
        to: Atom::new("rex"),
        message: Term::tuple(vec![
            Term::atom("x"),
            Term::Ref(Box::new(Ref::new("a@h", 3, &[1, 2, 3]).unwrap())),
        ]),
    };
    let (c, m) = ctl.to_terms().unwrap();
    let mut p = vec![112];
    p.extend_from_slice(&ferrobeam_term::encode(&c));
    p.extend_from_slice(&ferrobeam_term::encode(&m.unwrap()));
    let rx = DistReceiver::default()
        .receive(Bytes::from(p))
        .unwrap()
        .unwrap();
    assert_eq!(
        ControlMessage::from_term(rx.control, rx.message).unwrap(),
        ctl
    );
}
