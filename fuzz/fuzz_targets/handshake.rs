//! Fuzzes the handshake state machine with arbitrary peer bytes, as the accepting and
//! as the connecting side, accepting or refusing when asked. Nothing may panic, and
//! once it fails the machine must keep refusing input.
#![no_main]

use ferrobeam_proto::handshake::{AcceptStatus, Config, Cookie, Event, Handshake};
use ferrobeam_term::Atom;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte: bit 0 picks the role, bit 1 accepting or refusing, the rest the size
    // of the reads.
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let cfg = Config::new(Atom::new("fuzz@host"), Cookie::new("cookie"), 0x1234_5678);
    let hs = if mode & 1 == 0 {
        Handshake::acceptor(cfg)
    } else {
        Handshake::initiator(cfg, Atom::new("peer@host"))
    };
    let Ok(mut hs) = hs else { return };
    let status = || {
        if mode & 2 == 0 {
            AcceptStatus::Ok
        } else {
            AcceptStatus::NotAllowed
        }
    };
    let chunk = (mode >> 2) as usize + 1;
    for piece in input.chunks(chunk) {
        if hs.feed(piece).is_err() {
            assert!(hs.feed(b"more").is_err(), "a failed handshake took more input");
            return;
        }
        while let Some(ev) = hs.poll_event() {
            let r = match ev {
                Event::PeerIdentified { .. } => hs.accept(status()),
                Event::AliveCheck => hs.answer_alive(mode & 2 == 0),
                Event::ReplacingConnection => hs.old_connection_closed(),
                _ => Ok(()),
            };
            if r.is_err() {
                return;
            }
        }
        while hs.poll_transmit().is_some() {}
    }
    let _ = hs.take_leftover();
});
