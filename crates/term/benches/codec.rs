//! ETF codec throughput on a representative mix of distribution traffic.
//!
//! Run with `cargo bench -p ferrobeam-term --bench codec -- --measurement-time 3`.
//! `scripts/bench-codec.escript` times OTP's `term_to_binary/1` and `binary_to_term/1` on
//! the same terms; BENCHMARKS.md records both.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrobeam_term::etf;
use ferrobeam_term::{Atom, Pid, Term};

/// The benchmark terms, named as in `scripts/bench-codec.escript`.
fn terms() -> Vec<(&'static str, Term)> {
    let pid = Pid::new("chat@host", 85, 0, 1_700_000_000);
    let control = Term::tuple(vec![
        Term::Int(6),
        Term::Pid(pid.clone()),
        Term::atom(""),
        Term::atom("chat_server"),
    ]);
    let chat = Term::tuple(vec![
        Term::atom("$gen_cast"),
        Term::tuple(vec![
            Term::atom("say"),
            Term::string("john"),
            Term::string("hello world"),
        ]),
    ]);
    let bin1k = Term::binary(vec![7u8; 1024]);
    let bin64k = Term::binary(vec![7u8; 65536]);
    let map = Term::map(vec![
        (Term::atom("__struct__"), Term::atom("Elixir.Chat.User")),
        (Term::atom("name"), Term::string("john")),
        (Term::atom("email"), Term::string("john@example.com")),
        (Term::atom("age"), Term::Int(42)),
        (Term::atom("score"), Term::Float(98.5)),
        (
            Term::atom("roles"),
            Term::list(vec![Term::atom("admin"), Term::atom("user")]),
        ),
        (Term::atom("active"), Term::atom("true")),
        (Term::atom("pid"), Term::Pid(pid)),
    ]);
    let list = Term::list(
        (0..100)
            .map(|i| {
                Term::tuple(vec![
                    Term::Int(i),
                    Term::Atom(Atom::new("item")),
                    Term::string("value"),
                    Term::Float(i as f64 * 1.5),
                ])
            })
            .collect(),
    );
    vec![
        ("control", control),
        ("chat", chat),
        ("bin1k", bin1k),
        ("bin64k", bin64k),
        ("map", map),
        ("list100", list),
    ]
}

fn bench_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    for (name, t) in terms() {
        let size = etf::encode(&t).len();
        g.throughput(Throughput::Bytes(size as u64));
        // Into a reused buffer, as a connection writer does.
        let mut buf = Vec::with_capacity(size);
        g.bench_with_input(BenchmarkId::new("into", name), &t, |b, t| {
            b.iter(|| {
                buf.clear();
                etf::encode_into(black_box(t), &mut buf);
                black_box(buf.len())
            })
        });
        // Binaries of 1 KiB and more referenced, not copied (for vectored socket writes).
        let mut vec = etf::Vectored::new();
        let opts = etf::EncodeOptions::default();
        g.bench_with_input(BenchmarkId::new("vectored", name), &t, |b, t| {
            b.iter(|| {
                vec.clear();
                etf::encode_vectored(black_box(t), &opts, 1024, &mut vec);
                black_box(vec.head.len())
            })
        });
        // A fresh Vec per term (what term_to_binary does).
        g.bench_with_input(BenchmarkId::new("new", name), &t, |b, t| {
            b.iter(|| black_box(etf::encode(black_box(t))))
        });
    }
    g.finish();
}

fn bench_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    for (name, t) in terms() {
        let bytes = Bytes::from(etf::encode(&t));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        // Zero-copy from a received buffer.
        g.bench_with_input(BenchmarkId::new("bytes", name), &bytes, |b, bytes| {
            b.iter(|| etf::decode_bytes(black_box(bytes.clone())).unwrap())
        });
    }
    g.finish();
}

/// The whole mix, once each, for one ratio against Erlang.
fn bench_mix(c: &mut Criterion) {
    let terms: Vec<Term> = terms().into_iter().map(|(_, t)| t).collect();
    let encoded: Vec<Bytes> = terms.iter().map(|t| Bytes::from(etf::encode(t))).collect();
    let mut g = c.benchmark_group("mix");
    let mut buf = Vec::with_capacity(1 << 17);
    g.bench_function("encode", |b| {
        b.iter(|| {
            for t in &terms {
                buf.clear();
                etf::encode_into(black_box(t), &mut buf);
            }
            black_box(buf.len())
        })
    });
    let mut vec = etf::Vectored::new();
    let opts = etf::EncodeOptions::default();
    g.bench_function("encode_vectored", |b| {
        b.iter(|| {
            for t in &terms {
                vec.clear();
                etf::encode_vectored(black_box(t), &opts, 1024, &mut vec);
            }
            black_box(vec.head.len())
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            for e in &encoded {
                black_box(etf::decode_bytes(e.clone()).unwrap());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_encode, bench_decode, bench_mix);
criterion_main!(benches);
