//! Handshake state machines: replayed against bytes captured from real OTP 25 nodes,
//! against each other in memory, and through every refusal path.

mod common;

use common::{capture, OTP25_FLAGS};
use ferrobeam_proto::flags;
use ferrobeam_proto::handshake::{
    accept_status, AcceptStatus, Config, Cookie, Event, ExistingConnection, Handshake,
    HandshakeError, NameDomain, PeerName, State,
};
use ferrobeam_term::Atom;

fn cfg(name: &str, cookie: &str, challenge: u32) -> Config {
    Config::new(Atom::new(name), Cookie::new(cookie), challenge)
}

fn drain(hs: &mut Handshake) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(b) = hs.poll_transmit() {
        out.extend_from_slice(&b);
    }
    out
}

fn events(hs: &mut Handshake) -> Vec<Event> {
    std::iter::from_fn(|| hs.poll_event()).collect()
}

#[test]
fn digest_matches_a_real_exchange() {
    let c = capture();
    // b's challenge was 0x6e60b3b3; a's reply digest is MD5("c" ++ "1851831219").
    let reply = &c.a_handshake[1];
    assert_eq!(reply[2], b'r');
    assert_eq!(&reply[7..], &Cookie::new("c").digest(0x6e60_b3b3));
    // a's challenge was 0x6ca8fee1; b's ack digest answers it.
    assert_eq!(
        &c.b_handshake[2][3..],
        &Cookie::new("c").digest(0x6ca8_fee1)
    );
}

#[test]
fn initiator_reproduces_a_real_otp25_handshake() {
    let c = capture();
    let mut config = cfg("a@vm", "c", 0x6ca8_fee1);
    config.flags = OTP25_FLAGS;
    config.creation = 7;
    let mut a = Handshake::initiator(config, Atom::new("b@vm")).unwrap();
    assert_eq!(drain(&mut a), c.a_handshake[0], "send_name");
    assert_eq!(a.state(), State::AwaitStatus);
    a.feed(&c.b_handshake[0]).unwrap();
    a.feed(&c.b_handshake[1]).unwrap();
    assert_eq!(drain(&mut a), c.a_handshake[1], "challenge reply");
    assert_eq!(a.state(), State::AwaitAck);
    // The ack arrives together with the first distribution packets.
    let mut rest = c.b_handshake[2].clone();
    rest.extend_from_slice(&c.b_packets[..100]);
    a.feed(&rest).unwrap();
    let evs = events(&mut a);
    let Some(Event::Completed(done)) = evs.last() else {
        panic!("{evs:?}")
    };
    assert_eq!(done.peer_name, "b@vm");
    assert_eq!(done.peer_creation, 7);
    assert_eq!(done.flags, OTP25_FLAGS | flags::MANDATORY_25);
    assert!(!done.is_hidden());
    assert_eq!(a.take_leftover(), &c.b_packets[..100]);
}

#[test]
fn acceptor_reproduces_a_real_otp25_handshake() {
    let c = capture();
    let mut config = cfg("b@vm", "c", 0x6e60_b3b3);
    config.flags = OTP25_FLAGS;
    config.creation = 7;
    let mut b = Handshake::acceptor(config).unwrap();
    b.feed(&c.a_handshake[0]).unwrap();
    let evs = events(&mut b);
    assert_eq!(
        evs,
        [Event::PeerIdentified {
            name: PeerName::Node(Atom::new("a@vm")),
            flags: OTP25_FLAGS | flags::MANDATORY_25,
            creation: Some(7),
            version: 6,
        }]
    );
    assert_eq!(b.state(), State::AwaitDecision);
    b.accept(AcceptStatus::Ok).unwrap();
    let mut expected = c.b_handshake[0].clone();
    expected.extend_from_slice(&c.b_handshake[1]);
    assert_eq!(drain(&mut b), expected, "status and challenge");
    b.feed(&c.a_handshake[1]).unwrap();
    assert_eq!(drain(&mut b), c.b_handshake[2], "ack");
    assert!(matches!(events(&mut b)[..], [Event::Completed(_)]));
}

/// Runs two handshakes against each other, the acceptor answering `PeerIdentified`
/// with `status` and the initiator answering `AliveCheck` with true. Records each
/// side's first error and its events.
fn run_recording_errors(
    a: &mut Handshake,
    b: &mut Handshake,
    status: AcceptStatus,
) -> (
    Option<HandshakeError>,
    Option<HandshakeError>,
    Vec<Event>,
    Vec<Event>,
) {
    let (mut ea, mut eb) = (None, None);
    let (mut eva, mut evb) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let out = drain(a);
        if !out.is_empty() {
            if let Err(e) = b.feed(&out) {
                eb.get_or_insert(e);
            }
        }
        while let Some(ev) = b.poll_event() {
            if matches!(ev, Event::PeerIdentified { .. }) {
                if let Err(e) = b.accept(status.clone()) {
                    eb.get_or_insert(e);
                }
            }
            evb.push(ev);
        }
        let out = drain(b);
        if !out.is_empty() {
            if let Err(e) = a.feed(&out) {
                ea.get_or_insert(e);
            }
        }
        while let Some(ev) = a.poll_event() {
            if ev == Event::AliveCheck {
                if let Err(e) = a.answer_alive(true) {
                    ea.get_or_insert(e);
                }
            }
            eva.push(ev);
        }
    }
    (ea, eb, eva, evb)
}

#[test]
fn initiator_and_acceptor_in_memory() {
    let mut a =
        Handshake::initiator(cfg("alpha@host", "sesame", 1), Atom::new("beta@host")).unwrap();
    let mut b = Handshake::acceptor(cfg("beta@host", "sesame", u32::MAX)).unwrap();
    let (ea, eb, eva, evb) = run_recording_errors(&mut a, &mut b, AcceptStatus::Ok);
    assert_eq!((ea, eb), (None, None));
    let (Some(Event::Completed(ca)), Some(Event::Completed(cb))) = (eva.last(), evb.last()) else {
        panic!("{eva:?} {evb:?}")
    };
    assert_eq!(ca.peer_name, "beta@host");
    assert_eq!(cb.peer_name, "alpha@host");
    assert_eq!(ca.flags, cb.flags);
    assert_eq!(ca.peer_creation, 1);
    assert!(a.is_complete() && b.is_complete());
}

#[test]
fn every_chunking_of_the_stream_gives_the_same_result() {
    // Feed each side's bytes one at a time.
    let mut a = Handshake::initiator(cfg("a@h", "k", 11), Atom::new("b@h")).unwrap();
    let mut b = Handshake::acceptor(cfg("b@h", "k", 22)).unwrap();
    let mut done = 0;
    for _ in 0..10 {
        for byte in drain(&mut a) {
            b.feed(&[byte]).unwrap();
        }
        while let Some(ev) = b.poll_event() {
            match ev {
                Event::PeerIdentified { .. } => b.accept(AcceptStatus::Ok).unwrap(),
                Event::Completed(_) => done += 1,
                other => panic!("{other:?}"),
            }
        }
        for byte in drain(&mut b) {
            a.feed(&[byte]).unwrap();
        }
        while let Some(ev) = a.poll_event() {
            assert!(matches!(ev, Event::Completed(_)));
            done += 1;
        }
    }
    assert_eq!(done, 2);
}

#[test]
fn wrong_cookie_is_refused_and_never_shown() {
    let mut a = Handshake::initiator(cfg("a@h", "right-cookie", 5), Atom::new("b@h")).unwrap();
    let mut b = Handshake::acceptor(cfg("b@h", "wrong-cookie", 6)).unwrap();
    let (_ea, eb, _, _) = run_recording_errors(&mut a, &mut b, AcceptStatus::Ok);
    let eb = eb.expect("acceptor must refuse");
    assert_eq!(eb, HandshakeError::BadCookie { in_ack: false });
    let text = format!("{eb} {eb:?} {:?}", cfg("a@h", "right-cookie", 5));
    assert!(
        !text.contains("right-cookie") && !text.contains("wrong-cookie"),
        "{text}"
    );
    assert_eq!(b.state(), State::Failed);
    // The initiator never gets an ack; the acceptor closes without sending one.
    assert_eq!(a.state(), State::AwaitAck);
}

#[test]
fn bad_ack_is_a_bad_cookie_on_the_initiator() {
    let mut a = Handshake::initiator(cfg("a@h", "k", 5), Atom::new("b@h")).unwrap();
    let mut b = Handshake::acceptor(cfg("b@h", "k", 6)).unwrap();
    b.feed(&drain(&mut a)).unwrap();
    b.accept(AcceptStatus::Ok).unwrap();
    a.feed(&drain(&mut b)).unwrap();
    b.feed(&drain(&mut a)).unwrap();
    let mut ack = drain(&mut b);
    assert_eq!(ack.len(), 19);
    ack[10] ^= 1;
    assert_eq!(
        a.feed(&ack),
        Err(HandshakeError::BadCookie { in_ack: true })
    );
}

#[test]
fn missing_mandatory_flags_are_refused_with_cannot_handle() {
    // The acceptor refuses an initiator without V4_NC and UNLINK_ID.
    let mut old = cfg("old@h", "k", 1);
    old.flags &= !(flags::V4_NC | flags::UNLINK_ID);
    old.required_flags = flags::MANDATORY_25;
    let mut a = Handshake::initiator(old.clone(), Atom::new("new@h")).unwrap();
    let mut b = Handshake::acceptor(cfg("new@h", "k", 2)).unwrap();
    let err = b.feed(&drain(&mut a)).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"connection rejected from node old@h since it cannot handle ["V4_NC","UNLINK_ID"]"#
    );
    assert_eq!(drain(&mut b), b"\x00\x0csnot_allowed");
    assert_eq!(
        a.feed(b"\x00\x0csnot_allowed"),
        Err(HandshakeError::NotAllowed)
    );

    // The initiator aborts towards an acceptor without them.
    let mut a = Handshake::initiator(cfg("new@h", "k", 1), Atom::new("old@h")).unwrap();
    let mut b = Handshake::acceptor(Config {
        our_name: Atom::new("old@h"),
        ..old
    })
    .unwrap();
    b.feed(&drain(&mut a)).unwrap();
    b.accept(AcceptStatus::Ok).unwrap();
    let err = a.feed(&drain(&mut b)).unwrap_err();
    assert!(matches!(
        err,
        HandshakeError::CannotHandle {
            peer_started: false,
            ..
        }
    ));
    assert!(err
        .to_string()
        .starts_with("connection aborted to node old@h since it cannot handle"));
}

#[test]
fn the_challenge_must_come_from_the_dialed_node() {
    let mut a = Handshake::initiator(cfg("a@h", "k", 1), Atom::new("b@h")).unwrap();
    let mut imposter = Handshake::acceptor(cfg("c@h", "k", 2)).unwrap();
    imposter.feed(&drain(&mut a)).unwrap();
    imposter.accept(AcceptStatus::Ok).unwrap();
    assert_eq!(
        a.feed(&drain(&mut imposter)),
        Err(HandshakeError::WrongPeer {
            expected: Atom::new("b@h"),
            got: "c@h".into()
        })
    );
}

#[test]
fn short_and_long_names_refuse_each_other() {
    // Dialing a long name from a short-name node fails before any byte is sent.
    assert!(matches!(
        Handshake::initiator(cfg("a@h", "k", 1), Atom::new("b@h.example.com")),
        Err(HandshakeError::NameDomainMismatch {
            ours: NameDomain::Short,
            ..
        })
    ));
    assert!(matches!(
        Handshake::initiator(cfg("a@h.example.com", "k", 1), Atom::new("b@h")),
        Err(HandshakeError::NameDomainMismatch {
            ours: NameDomain::Long,
            ..
        })
    ));
    // IP addresses are long names.
    assert!(Handshake::initiator(cfg("a@127.0.0.1", "k", 1), Atom::new("b@::1")).is_ok());

    // An acceptor with short names refuses a long-named peer with not_allowed.
    let mut long = cfg("a@h.example.com", "k", 1);
    long.name_domain = NameDomain::Long;
    let mut a = Handshake::initiator(long, Atom::new("b@h.example.com")).unwrap();
    let mut b = Handshake::acceptor(cfg("b@h", "k", 2)).unwrap();
    assert!(matches!(
        b.feed(&drain(&mut a)),
        Err(HandshakeError::NameDomainMismatch { .. })
    ));
    assert_eq!(drain(&mut b), b"\x00\x0csnot_allowed");
}

#[test]
fn invalid_names_are_refused() {
    for bad in ["nohost", "@h", "a@", "a@b@c"] {
        assert!(matches!(
            Handshake::initiator(cfg("a@h", "k", 1), Atom::new(bad)),
            Err(HandshakeError::InvalidName(_))
        ));
    }
    let mut b = Handshake::acceptor(cfg("b@h", "k", 2)).unwrap();
    let mut m = vec![b'N'];
    m.extend_from_slice(&flags::DEFAULT.to_be_bytes());
    m.extend_from_slice(&1u32.to_be_bytes());
    m.extend_from_slice(&6u16.to_be_bytes());
    m.extend_from_slice(b"nohost");
    let mut framed = (m.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&m);
    assert!(matches!(
        b.feed(&framed),
        Err(HandshakeError::InvalidName(_))
    ));
}

/// Simultaneous connect, as `net_kernel` resolves it: both nodes dial each other; at
/// each acceptor the node is `pending` towards the peer.
#[test]
fn simultaneous_connect_keeps_the_connection_dialed_by_the_greater_name() {
    let (small, great) = (Atom::new("apple@h"), Atom::new("zebra@h"));
    // Connection 1: apple dials zebra. Connection 2: zebra dials apple.
    let mut apple_dials = Handshake::initiator(cfg("apple@h", "k", 1), great.clone()).unwrap();
    let mut zebra_accepts = Handshake::acceptor(cfg("zebra@h", "k", 2)).unwrap();
    let mut zebra_dials = Handshake::initiator(cfg("zebra@h", "k", 3), small.clone()).unwrap();
    let mut apple_accepts = Handshake::acceptor(cfg("apple@h", "k", 4)).unwrap();

    // zebra, accepting from apple while dialing it: zebra > apple, so nok.
    let st = accept_status(&great, &small, ExistingConnection::Pending);
    assert_eq!(st, AcceptStatus::Nok);
    let (r1, _, _, _) = run_recording_errors(&mut apple_dials, &mut zebra_accepts, st);
    assert_eq!(r1, Some(HandshakeError::SimultaneousLost));
    assert_eq!(zebra_accepts.state(), State::Failed);

    // apple, accepting from zebra while dialing it: apple < zebra, so ok_simultaneous
    // (and apple drops its own attempt, which is what the nok above did too).
    let st = accept_status(&small, &great, ExistingConnection::Pending);
    assert_eq!(st, AcceptStatus::OkSimultaneous);
    let (e1, e2, ev_zebra, ev_apple) =
        run_recording_errors(&mut zebra_dials, &mut apple_accepts, st);
    assert_eq!((e1, e2), (None, None));
    assert!(matches!(ev_zebra.last(), Some(Event::Completed(c)) if c.peer_name == small));
    assert!(matches!(ev_apple.last(), Some(Event::Completed(c)) if c.peer_name == great));
}

#[test]
fn accept_status_follows_net_kernel() {
    let (a, b) = (Atom::new("a@h"), Atom::new("b@h"));
    assert_eq!(
        accept_status(&a, &b, ExistingConnection::None),
        AcceptStatus::Ok
    );
    assert_eq!(
        accept_status(&b, &a, ExistingConnection::Pending),
        AcceptStatus::Nok
    );
    assert_eq!(
        accept_status(&a, &b, ExistingConnection::Pending),
        AcceptStatus::OkSimultaneous
    );
    assert_eq!(
        accept_status(&a, &b, ExistingConnection::Up),
        AcceptStatus::Alive
    );
    assert_eq!(
        accept_status(&a, &b, ExistingConnection::UpPending),
        AcceptStatus::AlreadyPending
    );
}

#[test]
fn alive_then_true_replaces_the_old_connection() {
    let mut a = Handshake::initiator(cfg("a@h", "k", 1), Atom::new("b@h")).unwrap();
    let mut b = Handshake::acceptor(cfg("b@h", "k", 2)).unwrap();
    b.feed(&drain(&mut a)).unwrap();
    b.accept(AcceptStatus::Alive).unwrap();
    assert_eq!(b.state(), State::AwaitAliveReply);
    a.feed(&drain(&mut b)).unwrap();
    assert_eq!(events(&mut a), [Event::AliveCheck]);
    assert_eq!(a.state(), State::AwaitAliveAnswer);
    a.answer_alive(true).unwrap();
    assert_eq!(drain(&mut a), b"\x00\x05strue");
    b.feed(b"\x00\x05strue").unwrap();
    a.feed(&drain(&mut b)).unwrap(); // challenge
    b.feed(&drain(&mut a)).unwrap(); // reply
    assert_eq!(b.state(), State::AwaitOldConnection);
    let evs = events(&mut b);
    assert_eq!(evs.last(), Some(&Event::ReplacingConnection));
    assert!(
        drain(&mut b).is_empty(),
        "no ack before the old connection is gone"
    );
    b.old_connection_closed().unwrap();
    a.feed(&drain(&mut b)).unwrap();
    assert!(a.is_complete() && b.is_complete());
}

#[test]
fn alive_then_false_abandons() {
    let mut a = Handshake::initiator(cfg("a@h", "k", 1), Atom::new("b@h")).unwrap();
    let mut b = Handshake::acceptor(cfg("b@h", "k", 2)).unwrap();
    b.feed(&drain(&mut a)).unwrap();
    b.accept(AcceptStatus::Alive).unwrap();
    a.feed(&drain(&mut b)).unwrap();
    assert_eq!(a.answer_alive(false), Err(HandshakeError::AliveRefused));
    assert_eq!(b.feed(&drain(&mut a)), Err(HandshakeError::AliveRefused));
}

#[test]
fn refusals_send_their_status() {
    for (status, wire, err) in [
        (
            AcceptStatus::Nok,
            &b"\x00\x04snok"[..],
            HandshakeError::SimultaneousLost,
        ),
        (
            AcceptStatus::NotAllowed,
            &b"\x00\x0csnot_allowed"[..],
            HandshakeError::NotAllowed,
        ),
    ] {
        let mut a = Handshake::initiator(cfg("a@h", "k", 1), Atom::new("b@h")).unwrap();
        let mut b = Handshake::acceptor(cfg("b@h", "k", 2)).unwrap();
        b.feed(&drain(&mut a)).unwrap();
        assert_eq!(
            b.accept(status.clone()),
            Err(HandshakeError::Refused(status))
        );
        let out = drain(&mut b);
        assert_eq!(out, wire);
        assert_eq!(a.feed(&out), Err(err));
    }
    let mut a = Handshake::initiator(cfg("a@h", "k", 1), Atom::new("b@h")).unwrap();
    let mut b = Handshake::acceptor(cfg("b@h", "k", 2)).unwrap();
    b.feed(&drain(&mut a)).unwrap();
    assert!(b.accept(AcceptStatus::AlreadyPending).is_err());
    assert!(drain(&mut b).is_empty());
}

#[test]
fn old_version_5_name_and_complement() {
    // An OTP 23/24 node that does not know our version sends 'n' and later 'c'.
    let mut b = Handshake::acceptor(cfg("b@h", "k", 0xdead_beef)).unwrap();
    let low = (flags::DEFAULT | flags::PUBLISHED) & 0xffff_ffff;
    let high = (flags::DEFAULT | flags::PUBLISHED) >> 32;
    let mut m = vec![b'n', 0, 5];
    m.extend_from_slice(&(low as u32).to_be_bytes());
    m.extend_from_slice(b"old@h");
    let mut framed = (m.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&m);
    b.feed(&framed).unwrap();
    let evs = events(&mut b);
    assert!(matches!(
        &evs[..],
        [Event::PeerIdentified {
            version: 5,
            creation: None,
            ..
        }]
    ));
    b.accept(AcceptStatus::Ok).unwrap();
    let out = drain(&mut b);
    assert!(out.starts_with(b"\x00\x03sok\x00"));
    assert_eq!(b.state(), State::AwaitComplement);
    let mut c = vec![0, 9, b'c'];
    c.extend_from_slice(&(high as u32).to_be_bytes());
    c.extend_from_slice(&77u32.to_be_bytes());
    let mut r = vec![0, 21, b'r'];
    r.extend_from_slice(&123u32.to_be_bytes());
    r.extend_from_slice(&Cookie::new("k").digest(0xdead_beef));
    c.extend_from_slice(&r);
    b.feed(&c).unwrap();
    let mut ack = vec![0, 17, b'a'];
    ack.extend_from_slice(&Cookie::new("k").digest(123));
    assert_eq!(drain(&mut b), ack);
    let Some(Event::Completed(done)) = events(&mut b).pop() else {
        panic!()
    };
    assert_eq!(done.peer_creation, 77);
    assert_eq!(done.peer_flags & flags::V4_NC, flags::V4_NC);
}

#[test]
fn old_name_without_the_high_flags_in_the_complement_is_refused() {
    let mut b = Handshake::acceptor(cfg("b@h", "k", 1)).unwrap();
    let low = flags::DEFAULT & 0xffff_ffff;
    let mut m = vec![b'n', 0, 5];
    m.extend_from_slice(&(low as u32).to_be_bytes());
    m.extend_from_slice(b"old@h");
    let mut framed = (m.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&m);
    b.feed(&framed).unwrap(); // the low bits are fine
    b.accept(AcceptStatus::Ok).unwrap();
    let complement = [0, 9, b'c', 0, 0, 0, 0, 0, 0, 0, 1];
    let err = b.feed(&complement).unwrap_err();
    assert!(
        err.to_string().contains(r#"cannot handle ["V4_NC"]"#),
        "{err}"
    );
}

#[test]
fn dynamic_node_name() {
    let mut me = cfg("h", "k", 1);
    me.flags |= flags::NAME_ME;
    let mut a = Handshake::initiator(me, Atom::new("b@h")).unwrap();
    let mut b = Handshake::acceptor(cfg("b@h", "k", 2)).unwrap();
    b.feed(&drain(&mut a)).unwrap();
    let evs = events(&mut b);
    assert!(
        matches!(&evs[..], [Event::PeerIdentified { name: PeerName::Host(h), .. }] if h == "h")
    );
    // A dynamic peer needs a name.
    assert!(matches!(
        b.accept(AcceptStatus::Ok),
        Err(HandshakeError::UnexpectedCall { .. })
    ));
    assert_eq!(b.state(), State::AwaitDecision);
    b.accept(AcceptStatus::Named {
        name: Atom::new("dyn42@h"),
        creation: 4242,
    })
    .unwrap();
    a.feed(&drain(&mut b)).unwrap();
    assert_eq!(
        events(&mut a),
        [Event::Named {
            name: Atom::new("dyn42@h"),
            creation: 4242
        }]
    );
    b.feed(&drain(&mut a)).unwrap();
    a.feed(&drain(&mut b)).unwrap();
    let Some(Event::Completed(ca)) = events(&mut a).pop() else {
        panic!()
    };
    let Some(Event::Completed(cb)) = events(&mut b).pop() else {
        panic!()
    };
    assert_eq!(ca.our_name, "dyn42@h");
    assert_eq!(ca.our_creation, 4242);
    assert_eq!(cb.peer_name, "dyn42@h");
    assert_eq!(cb.peer_creation, 4242);
}

#[test]
fn calls_in_the_wrong_state_do_not_break_the_handshake() {
    let mut a = Handshake::initiator(cfg("a@h", "k", 1), Atom::new("b@h")).unwrap();
    assert!(matches!(
        a.accept(AcceptStatus::Ok),
        Err(HandshakeError::UnexpectedCall { .. })
    ));
    assert!(matches!(
        a.answer_alive(true),
        Err(HandshakeError::UnexpectedCall { .. })
    ));
    assert!(matches!(
        a.old_connection_closed(),
        Err(HandshakeError::UnexpectedCall { .. })
    ));
    assert_eq!(a.state(), State::AwaitStatus);
}

#[test]
fn garbage_is_malformed_and_bounded() {
    let mut b = Handshake::acceptor(cfg("b@h", "k", 2)).unwrap();
    assert!(matches!(
        b.feed(&[0, 3, b'x', 1, 2]),
        Err(HandshakeError::Malformed(_))
    ));
    assert_eq!(b.feed(&[0]), Err(HandshakeError::AlreadyFailed));

    // A peer that never completes a message cannot make us buffer without bound.
    let mut b = Handshake::acceptor(cfg("b@h", "k", 2)).unwrap();
    b.feed(&[0xff, 0xff]).unwrap();
    let mut err = None;
    for _ in 0..10 {
        if let Err(e) = b.feed(&[0u8; 40_000]) {
            err = Some(e);
            break;
        }
    }
    assert!(err.is_some());
}

#[test]
fn own_config_is_checked() {
    let mut c = cfg("a@h", "k", 1);
    // MANDATORY_25_DIGEST stands for UTF8_ATOMS too, so drop both.
    c.flags &= !(flags::UTF8_ATOMS | flags::MANDATORY_25_DIGEST);
    assert!(matches!(
        Handshake::initiator(c, Atom::new("b@h")),
        Err(HandshakeError::InvalidConfig(_))
    ));
    let mut c = cfg("a@h", "k", 1);
    c.flags |= flags::NAME_ME;
    assert!(matches!(
        Handshake::acceptor(c),
        Err(HandshakeError::InvalidConfig(_))
    ));
}
