//! Behaviour of the ETF codec on edge cases and hostile input.

use bytes::Bytes;
use ferrobeam_term::etf::{self, tag, DecodeOptions, EncodeOptions};
use ferrobeam_term::{decode, encode, Atom, Fun, FunKind, Pid, Port, Ref, Term};

fn opts() -> DecodeOptions<'static> {
    DecodeOptions::default()
}

fn nested_tuples(depth: usize) -> Vec<u8> {
    let mut v = vec![131];
    for _ in 0..depth {
        v.extend_from_slice(&[tag::SMALL_TUPLE, 1]);
    }
    v.extend_from_slice(&[tag::SMALL_TUPLE, 0]);
    v
}

fn nested_lists(depth: usize) -> Vec<u8> {
    let mut v = vec![131];
    for _ in 0..depth {
        v.extend_from_slice(&[tag::LIST, 0, 0, 0, 1]);
    }
    v.push(tag::NIL);
    v.extend(std::iter::repeat_n(tag::NIL, depth));
    v
}

#[test]
fn depth_limit_applies_to_tuples_lists_and_maps() {
    // 512 non-empty tuples nested (around an empty one) are accepted with the default
    // limit; 513 are not.
    assert!(decode(&nested_tuples(512)).is_ok());
    let err = decode(&nested_tuples(513)).unwrap_err();
    assert!(err.reason.contains("nesting"), "{err}");
    assert_eq!(err.offset, 1 + 2 * 512);
    assert!(decode(&nested_lists(512)).is_ok());
    assert!(decode(&nested_lists(513)).is_err());
    assert!(decode(&nested_lists(100_000)).is_err());

    let mut m = vec![131];
    for _ in 0..600 {
        m.extend_from_slice(&[tag::MAP, 0, 0, 0, 1, tag::NIL]);
    }
    m.extend_from_slice(&[tag::MAP, 0, 0, 0, 0]);
    assert!(decode(&m).is_err());

    let shallow = DecodeOptions {
        max_depth: 3,
        ..opts()
    };
    let d = |b: Vec<u8>| etf::decode_with(Bytes::from(b), &shallow).map(|(t, _)| t);
    assert!(d(nested_tuples(3)).is_ok());
    assert!(d(nested_tuples(4)).is_err());
}

fn nested_maps(depth: usize) -> Vec<u8> {
    let mut v = vec![131];
    for _ in 0..depth {
        v.extend_from_slice(&[tag::MAP, 0, 0, 0, 1, tag::SMALL_INTEGER, 1]);
    }
    v.push(tag::NIL);
    v
}

#[test]
fn deep_nesting_does_not_overflow_a_small_stack() {
    // The default limit must be safe on a default 2 MiB thread stack (what std threads and
    // Tokio workers get), in unoptimized builds too: decode, compare and drop. A fresh debug
    // build needs between 1 and 1.5 MiB for 512 levels, so a 1 MiB stack is not enough there.
    let opts = DecodeOptions::default();
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            for input in [nested_tuples(512), nested_lists(512), nested_maps(512)] {
                let (t, _) = etf::decode_with(Bytes::from(input.clone()), &opts).unwrap();
                let (u, _) = etf::decode_with(Bytes::from(input), &opts).unwrap();
                assert_eq!(t, u);
                drop(t);
            }
            for input in [nested_tuples(513), nested_lists(513), nested_maps(513)] {
                assert!(etf::decode_with(Bytes::from(input), &opts).is_err());
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn long_lists_are_iterated_not_recursed() {
    // A list of a million elements, and one built as a million chained LIST_EXT tails.
    let n = 1_000_000usize;
    let t = Term::List((0..n as i64).map(|i| Term::Int(i * 1000)).collect());
    let b = encode(&t);
    assert_eq!(decode(&b).unwrap(), t);

    let mut chained = vec![131];
    for i in 0..n {
        chained.extend_from_slice(&[tag::LIST, 0, 0, 0, 1, tag::SMALL_INTEGER, (i % 256) as u8]);
    }
    chained.push(tag::NIL);
    let t = decode(&chained).unwrap();
    assert_eq!(t.as_list().unwrap().len(), n);

    // Chained with an improper end.
    let mut improper = vec![131];
    for _ in 0..1000 {
        improper.extend_from_slice(&[tag::LIST, 0, 0, 0, 1, tag::NIL]);
    }
    improper.extend_from_slice(&[tag::SMALL_INTEGER, 7]);
    match decode(&improper).unwrap() {
        Term::ImproperList { elements, tail } => {
            assert_eq!(elements.len(), 1000);
            assert_eq!(*tail, Term::Int(7));
        }
        t => panic!("{t:?}"),
    }
}

#[test]
fn huge_length_claims_are_refused_before_allocating() {
    for (t, what) in [
        (tag::LIST, "LIST_EXT"),
        (tag::LARGE_TUPLE, "LARGE_TUPLE_EXT"),
        (tag::MAP, "MAP_EXT"),
        (tag::BINARY, "BINARY_EXT"),
        (tag::LARGE_BIG, "LARGE_BIG_EXT"),
        (tag::BIT_BINARY, "BIT_BINARY_EXT"),
    ] {
        let err = decode(&[131, t, 0xff, 0xff, 0xff, 0xff, 0, 0]).unwrap_err();
        assert!(err.reason.contains(what), "{what}: {err}");
        assert!(err.offset <= 2, "{err}");
    }
    // A fun whose free-variable count is absurd.
    let mut f = vec![131, tag::NEW_FUN, 0, 0, 0, 40];
    f.push(0);
    f.extend_from_slice(&[0; 16]);
    f.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    assert!(decode(&f).is_err());
}

#[test]
fn errors_name_the_offset_and_the_problem() {
    let e = decode(&[131, 104, 2, 97, 1, 70, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0]).unwrap_err();
    assert_eq!(e.offset, 5);
    assert!(e.reason.contains("finite"), "{e}");
    assert!(e.to_string().contains("byte 5"));

    let e = decode(&[131, 104, 1, 42]).unwrap_err();
    assert_eq!((e.offset, e.reason.as_str()), (3, "unknown tag 42"));

    let e = decode(&[132, 97, 1]).unwrap_err();
    assert_eq!(e.offset, 0);

    let e = decode(&[131, 97, 1, 0]).unwrap_err();
    assert_eq!(e.offset, 3);
    assert!(e.reason.contains("trailing"), "{e}");

    let e = decode(&[131, tag::LOCAL, 1]).unwrap_err();
    assert!(e.reason.contains("LOCAL_EXT"), "{e}");
}

#[test]
fn decode_with_returns_the_bytes_used() {
    let mut b = encode(&Term::atom("hello"));
    let n = b.len();
    b.extend_from_slice(&[131, 97, 5]);
    let (t, used) = etf::decode_with(Bytes::from(b), &opts()).unwrap();
    assert_eq!((t, used), (Term::atom("hello"), n));
}

#[test]
fn atoms_latin1_utf8_and_limits() {
    // Latin-1 bytes become UTF-8 text.
    let t = decode(&[131, tag::SMALL_ATOM, 3, b'f', 0xfc, b'r']).unwrap();
    assert_eq!(t, Term::atom("für"));
    // ...and OTP 25 writes them back as ATOM_EXT Latin-1.
    assert_eq!(encode(&t), [131, tag::ATOM, 0, 3, b'f', 0xfc, b'r']);
    // UTF-8 mode writes SMALL_ATOM_UTF8_EXT.
    let mut v = Vec::new();
    etf::encode_with(
        &t,
        &EncodeOptions {
            utf8_atoms: true,
            ..EncodeOptions::default()
        },
        &mut v,
    );
    assert_eq!(v, [131, tag::SMALL_ATOM_UTF8, 4, b'f', 0xc3, 0xbc, b'r']);
    // Non-Latin-1 atoms are UTF-8 in both modes.
    assert_eq!(encode(&Term::atom("€")), [131, 119, 3, 0xe2, 0x82, 0xac]);

    // 255 characters of 3 bytes is fine; 256 characters is not.
    let ok = "€".repeat(255);
    let b = encode(&Term::atom(&ok));
    assert_eq!(b[1], tag::ATOM_UTF8);
    assert_eq!(decode(&b).unwrap(), Term::atom(&ok));
    let mut bad = vec![131, tag::ATOM_UTF8, 3, 0];
    bad.extend_from_slice("€".repeat(256).as_bytes());
    assert!(decode(&bad).unwrap_err().reason.contains("255"));

    // Invalid UTF-8.
    assert!(decode(&[131, tag::SMALL_ATOM_UTF8, 1, 0xff]).is_err());
}

#[test]
fn atom_cache_refs() {
    let cache = [None, Some(Atom::new("hello")), Some(Atom::new("n@h"))];
    let o = DecodeOptions {
        atom_cache: Some(&cache),
        ..opts()
    };
    let (t, _) = etf::decode_with(Bytes::from_static(&[131, 82, 1]), &o).unwrap();
    assert_eq!(t, Term::atom("hello"));
    assert!(etf::decode_with(Bytes::from_static(&[131, 82, 0]), &o).is_err());
    assert!(etf::decode_with(Bytes::from_static(&[131, 82, 9]), &o).is_err());
    assert!(decode(&[131, 82, 1]).is_err());

    // A pid whose node is a cache reference.
    let (t, _) = etf::decode_with(
        Bytes::from_static(&[131, 88, 82, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]),
        &o,
    )
    .unwrap();
    assert_eq!(t, Term::Pid(Pid::new("n@h", 1, 2, 3)));

    // An export fun using cache references decodes to the plain fun.
    let (t, _) =
        etf::decode_with(Bytes::from_static(&[131, 113, 82, 1, 82, 2, 97, 3]), &o).unwrap();
    assert_eq!(t, Term::Fun(Box::new(Fun::export("hello", "n@h", 3))));
}

fn closure_bytes(module_atom: &[u8], pid_node_atom: &[u8], free: &[&[u8]]) -> Vec<u8> {
    let mut body = vec![1u8];
    body.extend_from_slice(&[7; 16]);
    body.extend_from_slice(&5u32.to_be_bytes());
    body.extend_from_slice(&(free.len() as u32).to_be_bytes());
    body.extend_from_slice(module_atom);
    // OldIndex 5, OldUniq 0x01020304 (as OTP writes them), then the pid.
    body.extend_from_slice(&[97, 5, 98, 1, 2, 3, 4, 88]);
    body.extend_from_slice(pid_node_atom);
    body.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
    for f in free {
        body.extend_from_slice(f);
    }
    let mut raw = vec![tag::NEW_FUN];
    raw.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    raw.extend_from_slice(&body);
    raw
}

#[test]
fn closures_keep_their_bytes_or_are_rewritten_without_cache_refs() {
    let raw = closure_bytes(
        &[100, 0, 1, b'm'],
        &[100, 0, 3, b'n', b'@', b'h'],
        &[&[97, 1]],
    );
    let mut input = vec![131];
    input.extend_from_slice(&raw);
    let t = decode(&input).unwrap();
    let Term::Fun(f) = &t else { panic!("{t:?}") };
    assert_eq!(f.raw, raw);
    assert!(matches!(
        &f.kind,
        FunKind::Closure { module, index: 5, arity: 1, num_free: 1, .. } if module == "m"
    ));
    assert_eq!(encode(&t), input);

    // The same closure with atom cache references: the raw bytes spell the atoms out.
    let cache = [Some(Atom::new("m")), Some(Atom::new("n@h"))];
    let o = DecodeOptions {
        atom_cache: Some(&cache),
        ..opts()
    };
    let cached = closure_bytes(&[82, 0], &[82, 1], &[&[97, 1]]);
    let mut input2 = vec![131];
    input2.extend_from_slice(&cached);
    let (t2, used) = etf::decode_with(Bytes::from(input2.clone()), &o).unwrap();
    assert_eq!(used, input2.len());
    assert_eq!(t2, t);

    // A size field that disagrees with the content is an error.
    let mut bad = input.clone();
    bad[5] += 1;
    assert!(decode(&bad).is_err());
}

#[test]
fn integers_at_every_boundary() {
    let cases: &[(i64, &[u8])] = &[
        (0, &[97, 0]),
        (255, &[97, 255]),
        (256, &[98, 0, 0, 1, 0]),
        (-1, &[98, 255, 255, 255, 255]),
        (i32::MAX as i64, &[98, 127, 255, 255, 255]),
        (i32::MIN as i64, &[98, 128, 0, 0, 0]),
        (i32::MAX as i64 + 1, &[110, 4, 0, 0, 0, 0, 128]),
        (i32::MIN as i64 - 1, &[110, 4, 1, 1, 0, 0, 128]),
        (
            i64::MAX,
            &[110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 127],
        ),
        (i64::MIN, &[110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128]),
    ];
    for (i, want) in cases {
        let b = encode(&Term::Int(*i));
        assert_eq!(&b[1..], *want, "{i}");
        assert_eq!(decode(&b).unwrap(), Term::Int(*i));
    }
    let big = Term::int(1i128 << 64);
    assert!(matches!(big, Term::BigInt(_)));
    assert_eq!(&encode(&big)[1..], [110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    // A LARGE_BIG_EXT of a small value normalizes to Term::Int.
    assert_eq!(
        decode(&[131, 111, 0, 0, 0, 2, 1, 1, 1]).unwrap(),
        Term::Int(-257)
    );
}

#[test]
fn floats_and_old_floats() {
    for f in [0.0, -0.0, 1.5, f64::MAX, f64::MIN_POSITIVE, 5e-324] {
        let b = encode(&Term::Float(f));
        match decode(&b).unwrap() {
            Term::Float(g) => assert_eq!(g.to_bits(), f.to_bits()),
            t => panic!("{t:?}"),
        }
    }
    let mut old = vec![131, 99];
    old.extend_from_slice(b"1.25000000000000000000e+01");
    old.resize(2 + 31, 0);
    assert_eq!(decode(&old).unwrap(), Term::Float(12.5));
    let mut inf = vec![131, 99];
    inf.extend_from_slice(b"inf");
    inf.resize(2 + 31, 0);
    assert!(decode(&inf).is_err());
}

#[test]
fn bitstrings() {
    let t = Term::bitstring(&[0b1010_0000], 3).unwrap();
    let b = encode(&t);
    assert_eq!(b, [131, 77, 0, 0, 0, 1, 3, 0b1010_0000]);
    assert_eq!(decode(&b).unwrap(), t);
    // Unused bits set in the input are cleared.
    assert_eq!(decode(&[131, 77, 0, 0, 0, 1, 3, 0b1011_1111]).unwrap(), t);
    // 8 bits is a binary.
    assert_eq!(
        decode(&[131, 77, 0, 0, 0, 1, 8, 9]).unwrap(),
        Term::binary(vec![9])
    );
    assert!(decode(&[131, 77, 0, 0, 0, 1, 0, 9]).is_err());
}

#[test]
fn lists_strings_and_improper_lists() {
    assert_eq!(&encode(&Term::nil())[1..], [106]);
    assert_eq!(&encode(&Term::charlist("ab"))[1..], [107, 0, 2, b'a', b'b']);
    let longest = Term::List(vec![Term::Int(1); 65535]);
    assert_eq!(encode(&longest)[1], tag::STRING);
    let too_long = Term::List(vec![Term::Int(1); 65536]);
    assert_eq!(encode(&too_long)[1], tag::LIST);
    let improper = Term::improper_list(vec![Term::Int(1)], Term::Int(2));
    assert_eq!(&encode(&improper)[1..], [108, 0, 0, 0, 1, 97, 1, 97, 2]);
    // Non-normalized improper lists encode as their normal form.
    let odd = Term::ImproperList {
        elements: vec![Term::Int(1)],
        tail: Box::new(Term::List(vec![Term::Int(2)])),
    };
    assert_eq!(&encode(&odd)[1..], [107, 0, 2, 1, 2]);
    let bare = Term::ImproperList {
        elements: vec![],
        tail: Box::new(Term::atom("x")),
    };
    assert_eq!(encode(&bare), encode(&Term::atom("x")));
}

#[test]
fn maps_sorted_and_duplicates_refused() {
    let m = Term::map(vec![
        (Term::Float(1.0), Term::atom("f")),
        (Term::Int(2), Term::atom("i")),
        (Term::atom("a"), Term::nil()),
    ]);
    // Map-key order: integers, then floats, then atoms.
    let b = encode(&m);
    assert_eq!(b[6], 97);
    assert_eq!(decode(&b).unwrap(), m);
    // Unsorted input is sorted.
    let unsorted = [
        131, 116, 0, 0, 0, 2, 100, 0, 1, b'b', 97, 2, 100, 0, 1, b'a', 97, 1,
    ];
    let t = decode(&unsorted).unwrap();
    assert_eq!(t.as_map().unwrap().get_atom("a"), Some(&Term::Int(1)));
    let dup = [
        131, 116, 0, 0, 0, 2, 100, 0, 1, b'a', 97, 2, 100, 0, 1, b'a', 97, 1,
    ];
    assert!(decode(&dup).unwrap_err().reason.contains("twice"));
    // A large duplicate key is not printed into the error: a 16 KiB big integer would
    // be about 39,000 decimal digits, slow to make (quadratic) and large to log.
    let mut big_dup = vec![131, 116, 0, 0, 0, 2];
    for v in [1u8, 2] {
        big_dup.extend_from_slice(&[111, 0, 0, 64, 0, 0]);
        big_dup.extend(std::iter::repeat_n(0xA5, 16 * 1024));
        big_dup.extend_from_slice(&[97, v]);
    }
    let e = decode(&big_dup).unwrap_err();
    assert!(e.reason.contains("twice"), "{}", e.reason);
    assert!(e.reason.len() < 200, "an error of {} bytes", e.reason.len());
}

#[test]
fn pids_ports_refs() {
    let p = Term::Pid(Pid::new("a@b", 1, 2, 3));
    assert_eq!(encode(&p)[1], tag::NEW_PID);
    let small = Term::from(Port::new("a@b", (1 << 28) - 1, 1));
    assert_eq!(encode(&small)[1], tag::NEW_PORT);
    let big = Term::from(Port::new("a@b", 1 << 28, 1));
    assert_eq!(encode(&big)[1], tag::V4_PORT);
    let r = Term::from(Ref::new("a@b", 9, &[1, 2, 3, 4, 5]).unwrap());
    assert_eq!(encode(&r)[1], tag::NEWER_REFERENCE);
    for t in [p, small, big, r] {
        assert_eq!(decode(&encode(&t)).unwrap(), t);
    }
    // Old encodings.
    assert_eq!(
        decode(&[131, 103, 100, 0, 1, b'n', 0, 0, 0, 1, 0, 0, 0, 2, 3]).unwrap(),
        Term::Pid(Pid::new("n", 1, 2, 3))
    );
    assert!(decode(&[131, 90, 0, 0, 100, 0, 1, b'n', 0, 0, 0, 1]).is_err());
}

#[test]
fn binaries_are_slices_of_the_input() {
    let payload = vec![0xabu8; 65536];
    let b = Bytes::from(encode(&Term::binary(payload.clone())));
    let t = etf::decode_bytes(b.clone()).unwrap();
    let bin = t.as_binary().unwrap();
    assert_eq!(bin.as_ref(), &payload[..]);
    assert_eq!(bin.as_ptr(), b[6..].as_ptr());
}

/// zlib data for `term_to_binary(T, [compressed])` is inflated with a size limit.
#[test]
fn compressed_terms() {
    // term_to_binary(lists:duplicate(40, $a), [compressed]) from OTP 25.
    let c = [
        131, 80, 0, 0, 0, 43, 120, 156, 203, 102, 208, 72, 36, 18, 0, 0, 79, 79, 15, 188,
    ];
    assert_eq!(decode(&c).unwrap(), Term::charlist(&"a".repeat(40)));
    let small = DecodeOptions {
        max_inflated_size: 42,
        ..opts()
    };
    let e = etf::decode_with(Bytes::copy_from_slice(&c), &small).unwrap_err();
    assert!(e.reason.contains("limit"), "{e}");
    // A size claim over the default limit is refused before inflating.
    let e = decode(&[131, 80, 0xff, 0xff, 0xff, 0xff, 120, 156]).unwrap_err();
    assert!(e.reason.contains("limit"), "{e}");
    // Compressed terms only at the top.
    assert!(decode(&[131, 104, 1, 80, 0, 0, 0, 1]).is_err());
}

#[test]
fn encode_into_appends() {
    let mut v = vec![1, 2, 3];
    etf::encode_into(&Term::Int(5), &mut v);
    assert_eq!(v, [1, 2, 3, 131, 97, 5]);
    let no_version = EncodeOptions {
        version: false,
        ..EncodeOptions::default()
    };
    let mut w = Vec::new();
    etf::encode_with(&Term::nil(), &no_version, &mut w);
    assert_eq!(w, [106]);
    assert_eq!(etf::encoded_len_with(&Term::nil(), &no_version), 1);
}

#[test]
fn export_funs_have_one_encoding() {
    let f = Term::Fun(Box::new(Fun::export("erlang", "abs", 1)));
    // As OTP 25's term_to_binary(fun erlang:abs/1).
    assert_eq!(
        encode(&f),
        [
            131, 113, 100, 0, 6, b'e', b'r', b'l', b'a', b'n', b'g', 100, 0, 3, b'a', b'b', b's',
            97, 1
        ]
    );
    assert_eq!(decode(&encode(&f)).unwrap(), f);
}

#[test]
fn vectored_encoding_references_large_binaries() {
    let big = Bytes::from(vec![5u8; 100_000]);
    let t = Term::tuple(vec![
        Term::atom("data"),
        Term::Binary(big.clone()),
        Term::binary(vec![1, 2, 3]),
        Term::Binary(big.clone()),
    ]);
    let mut v = etf::Vectored::new();
    etf::encode_vectored(&t, &EncodeOptions::default(), 1024, &mut v);
    assert_eq!(v.binaries.len(), 2);
    assert!(v.binaries.iter().all(|(_, b)| b.as_ptr() == big.as_ptr()));
    assert!(v.head.len() < 100);
    assert_eq!(v.to_vec(), encode(&t));
    assert_eq!(v.chunks().count(), 4);
    v.clear();
    assert!(v.is_empty());
}

/// One byte of input can be a 48-byte `Term` (`[]`, a character of a `STRING_EXT`), so
/// the decoder counts the terms it builds: past `max_terms`, the decode fails before
/// allocating, whether the terms are list elements, string characters, tuple elements or
/// map entries, and at any depth.
#[test]
fn the_term_budget_bounds_what_a_decode_builds() {
    let opts = |max_terms| DecodeOptions {
        max_terms,
        ..DecodeOptions::default()
    };
    // [[] x 1000]: 1000 elements.
    let list = Term::List(vec![Term::List(vec![]); 1000]);
    // "abc..." as STRING_EXT: 1000 characters.
    let string = Term::List((0..1000).map(|i| Term::Int(i % 100 + 1)).collect());
    let tuple = Term::tuple(vec![Term::Int(1); 1000]);
    let map = Term::Map((0..500).map(|i| (Term::Int(i), Term::Int(i))).collect());
    // The same list under three levels: 1003 terms in all.
    let nested = Term::tuple(vec![Term::tuple(vec![Term::tuple(vec![list.clone()])])]);
    for (t, terms) in [
        (&list, 1000),
        (&string, 1000),
        (&tuple, 1000),
        (&map, 1000),
        (&nested, 1003),
    ] {
        let bytes = Bytes::from(encode(t));
        let ok = etf::decode_with(bytes.clone(), &opts(terms)).expect("within the budget");
        assert_eq!(&ok.0, t);
        let err = etf::decode_with(bytes, &opts(terms - 1)).expect_err("over the budget");
        assert!(
            err.reason.contains("max_terms"),
            "the error names the limit: {}",
            err.reason
        );
    }
    // The default allows a million-element list.
    let big = Term::List(vec![Term::Int(7); 1_000_000]);
    let bytes = Bytes::from(encode(&big));
    assert_eq!(
        etf::decode_with(bytes, &DecodeOptions::default())
            .unwrap()
            .0,
        big
    );
}
