//! The receive and send pipeline of a distribution connection, per packet, on the
//! packets of a `gen_server:call` between nodes: what a node's reader does with each
//! packet (`DistReceiver::receive`, then `ControlMessage::from_term`; and the same
//! through `receive_raw` and `RawMessage::decode_message`, the path of fragments) and
//! what its writer does (`DistSender::encode`), with the atom cache warm, as on a
//! connection that has been up for a while.
//!
//! Run with `cargo bench -p ferrobeam-proto --bench packets -- --measurement-time 3`.
//! BENCHMARKS.md quotes it where the round trip's per-packet work is discussed.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ferrobeam_proto::control::{ControlMessage, ProcRef};
use ferrobeam_proto::dist_header::{DistReceiver, DistSender, ReceiverLimits};
use ferrobeam_proto::flags;
use ferrobeam_term::{Atom, Pid, Ref, Term};

/// The packets of one call from `caller@host` to `echo` on the peer: the monitor, the
/// request, the reply to the caller's alias and the demonitor.
fn call_packets() -> Vec<(&'static str, ControlMessage)> {
    let caller = Pid::new("caller@host", 80, 0, 1_700_000_000);
    let reference = Ref::new("caller@host", 1_700_000_000, &[7, 8, 9]).expect("three words");
    let tag = Term::list(vec![
        Term::atom("alias"),
        Term::Ref(Box::new(reference.clone())),
    ]);
    let request = Term::tuple(vec![
        Term::atom("$gen_call"),
        Term::tuple(vec![Term::Pid(caller.clone()), tag.clone()]),
        Term::tuple(vec![Term::atom("ping"), Term::Int(12345)]),
    ]);
    let echo_pid = Pid::new("echo@host", 90, 0, 1_700_000_001);
    vec![
        (
            "monitor_p",
            ControlMessage::MonitorP {
                from: caller.clone(),
                to: ProcRef::Name(Atom::new("echo")),
                reference: reference.clone(),
            },
        ),
        (
            "reg_send_call",
            ControlMessage::RegSend {
                from: caller.clone(),
                to: Atom::new("echo"),
                message: request,
            },
        ),
        (
            "alias_send_reply",
            ControlMessage::AliasSend {
                from: echo_pid,
                alias: reference.clone(),
                message: Term::tuple(vec![
                    tag,
                    Term::tuple(vec![Term::atom("ping"), Term::Int(12345)]),
                ]),
            },
        ),
        (
            "demonitor_p",
            ControlMessage::DemonitorP {
                from: caller,
                to: ProcRef::Name(Atom::new("echo")),
                reference,
            },
        ),
    ]
}

/// The packet of `msg` (without its 4-byte length) from a sender whose atom cache holds
/// its atoms already.
fn packet(sender: &mut DistSender, msg: &ControlMessage) -> Bytes {
    let (control, message) = msg.to_terms().expect("a valid control message");
    let mut wire = Vec::new();
    for _ in 0..2 {
        wire.clear();
        sender
            .encode(&control, message.as_ref(), &mut wire)
            .expect("encodes");
    }
    Bytes::from(wire.split_off(4))
}

fn bench(c: &mut Criterion) {
    let msgs = call_packets();
    let mut sender = DistSender::new(flags::DEFAULT);
    let packets: Vec<Bytes> = msgs.iter().map(|(_, m)| packet(&mut sender, m)).collect();
    let mut rx = DistReceiver::new(ReceiverLimits::default());
    for p in &packets {
        rx.receive_raw(p.clone()).expect("a valid packet");
    }

    // `receive`, and `receive_raw` then `decode_message` (what fragments take).
    type Path = fn(&mut DistReceiver, Bytes) -> ControlMessage;
    let paths: [(&str, Path); 2] = [
        ("receive", |rx, p| {
            let got = rx.receive(p).expect("valid").expect("whole");
            ControlMessage::from_term(got.control, got.message).expect("valid")
        }),
        ("receive_raw", |rx, p| {
            let raw = rx.receive_raw(p).expect("valid").expect("whole");
            let message = raw.decode_message(rx.limits()).expect("valid");
            ControlMessage::from_term(raw.control, message).expect("valid")
        }),
    ];
    for (group, path) in paths {
        let mut g = c.benchmark_group(group);
        for ((name, _), p) in msgs.iter().zip(&packets) {
            g.bench_function(*name, |b| b.iter(|| path(&mut rx, black_box(p.clone()))));
        }
        g.finish();
    }

    let mut g = c.benchmark_group("send");
    for (name, m) in &msgs {
        let (control, message) = m.to_terms().expect("valid");
        let mut wire = Vec::with_capacity(256);
        g.bench_function(*name, |b| {
            b.iter(|| {
                wire.clear();
                sender
                    .encode(black_box(&control), message.as_ref(), &mut wire)
                    .expect("encodes");
                wire.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
