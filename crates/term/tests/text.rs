//! Tests of the Erlang text syntax: printing, parsing and the round trip between them.

mod support;

use bytes::Bytes;
use ferrobeam_term::text::{parse, MAX_DEPTH, PLACEHOLDER_NODE};
use ferrobeam_term::{BigInt, Fun, FunKind, Pid, Port, Ref, Term, TermMap};
use proptest::prelude::*;
use support::arb::*;

fn int(i: i64) -> Term {
    Term::Int(i)
}
fn atom(s: &str) -> Term {
    Term::atom(s)
}
fn bin(b: &[u8]) -> Term {
    Term::Binary(Bytes::copy_from_slice(b))
}
fn big(s: &str) -> Term {
    Term::from_bigint(s.parse::<BigInt>().unwrap())
}

#[test]
fn display_cases() {
    let cases: Vec<(Term, &str)> = vec![
        // Integers.
        (int(0), "0"),
        (int(-42), "-42"),
        (int(i64::MIN), "-9223372036854775808"),
        (
            big("123456789012345678901234567890"),
            "123456789012345678901234567890",
        ),
        (big("-18446744073709551616"), "-18446744073709551616"),
        // Floats.
        (Term::Float(1.5), "1.5"),
        (Term::Float(0.1), "0.1"),
        (Term::Float(-0.0), "-0.0"),
        (Term::Float(1.0e100), "1.0e100"),
        (Term::Float(1.0e-300), "1.0e-300"),
        (Term::Float(2.5e-323), "2.5e-323"),
        (Term::Float(f64::MAX), "1.7976931348623157e308"),
        (Term::Float(-3.0), "-3.0"),
        (Term::Float(1.0e3), "1.0e3"),
        // Atoms.
        (atom("ok"), "ok"),
        (atom("node@host"), "node@host"),
        (atom("a_B9"), "a_B9"),
        (atom(""), "''"),
        (atom("EXIT"), "'EXIT'"),
        (atom("_x"), "'_x'"),
        (atom("9a"), "'9a'"),
        (atom("hello world"), "'hello world'"),
        (atom("it's"), "'it\\'s'"),
        (atom("back\\slash"), "'back\\\\slash'"),
        (atom("a\nb\tc"), "'a\\nb\\tc'"),
        (atom("\u{1}"), "'\\x{1}'"),
        (atom("$gen_call"), "'$gen_call'"),
        (atom("end"), "'end'"),
        (atom("receive"), "'receive'"),
        (atom("andalso"), "'andalso'"),
        (atom("maybe"), "'maybe'"),
        (atom("else"), "'else'"),
        (atom("ending"), "ending"),
        (atom("ü"), "'ü'"),
        (atom("日本"), "'日本'"),
        (atom("Elixir.Foo"), "'Elixir.Foo'"),
        // Binaries.
        (bin(b""), "<<>>"),
        (bin(b"hi"), "<<\"hi\">>"),
        (bin(b"say \"hi\"\n"), "<<\"say \\\"hi\\\"\\n\">>"),
        (bin(b"a\\b"), "<<\"a\\\\b\">>"),
        (bin(b"it's"), "<<\"it's\">>"),
        (bin("über".as_bytes()), "<<\"über\"/utf8>>"),
        (bin(&[1, 2, 3]), "<<1,2,3>>"),
        (bin(&[0xff, 0xfe]), "<<255,254>>"),
        (bin(b"a\x00"), "<<97,0>>"),
        (bin("a\u{ffff}".as_bytes()), "<<97,239,191,191>>"),
        (atom("\u{fffe}"), "'\\x{FFFE}'"),
        (Term::Float(f64::INFINITY), "#Float<inf>"),
        (Term::Float(f64::NAN), "#Float<nan>"),
        (Term::bitstring(&[1, 0x40], 10).unwrap(), "<<1,1:2>>"),
        (Term::bitstring(&[0xa0], 3).unwrap(), "<<5:3>>"),
        // Lists and strings.
        (Term::nil(), "[]"),
        (Term::list(vec![int(1), int(2)]), "[1,2]"),
        (Term::charlist("abc"), "\"abc\""),
        (Term::charlist("a\"b\n"), "\"a\\\"b\\n\""),
        (Term::charlist("é"), "\"é\""),
        (Term::charlist("日"), "[26085]"),
        (Term::list(vec![int(97), atom("b")]), "[97,b]"),
        (Term::list(vec![int(1000)]), "[1000]"),
        (Term::improper_list(vec![int(1), int(2)], int(3)), "[1,2|3]"),
        (Term::improper_list(vec![int(97)], atom("b")), "[97|b]"),
        // Tuples and maps.
        (Term::tuple(vec![]), "{}"),
        (Term::tuple(vec![atom("a"), atom("b")]), "{a,b}"),
        (Term::map(vec![]), "#{}"),
        (
            Term::map(vec![(atom("b"), int(2)), (atom("a"), int(1))]),
            "#{a => 1,b => 2}",
        ),
        (
            Term::map(vec![(Term::tuple(vec![]), Term::map(vec![]))]),
            "#{{} => #{}}",
        ),
        (
            Term::tuple(vec![
                atom("ok"),
                Term::list(vec![int(1), int(2)]),
                bin(b"x"),
                Term::map(vec![(atom("a"), Term::Float(1.5))]),
            ]),
            "{ok,[1,2],<<\"x\">>,#{a => 1.5}}",
        ),
        // Identifiers and funs.
        (Term::Pid(Pid::new("a@b", 85, 0, 1)), "<0.85.0>"),
        (Term::from(Port::new("a@b", 5, 1)), "#Port<0.5>"),
        (
            Term::from(Ref::new("a@b", 1, &[3, 2, 1]).unwrap()),
            "#Ref<0.1.2.3>",
        ),
        (
            Term::from(Fun::export("lists", "map", 2)),
            "fun lists:map/2",
        ),
        (
            Term::from(Fun::export("Elixir.Enum", "map", 2)),
            "fun 'Elixir.Enum':map/2",
        ),
    ];
    for (term, text) in cases {
        assert_eq!(term.to_string(), text, "{term:?}");
    }
}

#[test]
fn parse_cases() {
    let cases: Vec<(&str, Term)> = vec![
        ("0", int(0)),
        ("  -42 ", int(-42)),
        ("- 42", int(-42)),
        ("+7", int(7)),
        ("1_000_000", int(1_000_000)),
        ("16#ff", int(255)),
        ("16#FF", int(255)),
        ("-2#1010", int(-10)),
        ("36#zz", int(36 * 36 - 1)),
        ("$a", int(97)),
        ("$\\n", int(10)),
        ("$\\x{1F600}", int(0x1f600)),
        ("$ ", int(32)),
        ("-$a", int(-97)),
        ("$\\^A", int(1)),
        ("$\\101", int(65)),
        ("9223372036854775807", int(i64::MAX)),
        ("-9223372036854775808", int(i64::MIN)),
        ("9223372036854775808", big("9223372036854775808")),
        (
            "-123456789012345678901234567890123456789",
            big("-123456789012345678901234567890123456789"),
        ),
        ("16#10000000000000000", big("18446744073709551616")),
        ("1.5", Term::Float(1.5)),
        ("1.0e10", Term::Float(1.0e10)),
        ("-2.5e-3", Term::Float(-2.5e-3)),
        ("1.5E+2", Term::Float(150.0)),
        ("1_0.2_5", Term::Float(10.25)),
        ("-0.0", Term::Float(-0.0)),
        ("2.5e-323", Term::Float(2.5e-323)),
        ("ok", atom("ok")),
        ("node@host", atom("node@host")),
        ("'EXIT'", atom("EXIT")),
        ("''", atom("")),
        ("'it\\'s'", atom("it's")),
        ("'a\\nb'", atom("a\nb")),
        ("'\\x{65e5}'", atom("日")),
        ("'日本'", atom("日本")),
        ("'end'", atom("end")),
        ("ärger", atom("ärger")),
        ("true", Term::boolean(true)),
        ("\"\"", Term::nil()),
        ("\"abc\"", Term::charlist("abc")),
        ("\"ab\" \"cd\"", Term::charlist("abcd")),
        ("\"日本\"", Term::charlist("日本")),
        ("\"\\\"\\\\\\s\"", Term::charlist("\"\\ ")),
        ("<<>>", bin(b"")),
        ("<< >>", bin(b"")),
        ("<<\"text\">>", bin(b"text")),
        ("<<1,2,3>>", bin(&[1, 2, 3])),
        ("<<\"a\",1>>", bin(&[97, 1])),
        ("<< \"a\" , 1 >>", bin(&[97, 1])),
        ("<<-1>>", bin(&[255])),
        ("<<$a>>", bin(b"a")),
        ("<<\"ü\"/utf8>>", bin("ü".as_bytes())),
        ("<<\"ü\">>", bin(&[0xfc])),
        ("<<1:4>>", Term::bitstring(&[0x10], 4).unwrap()),
        ("<<1,1:2>>", Term::bitstring(&[1, 0x40], 10).unwrap()),
        ("<<258:16>>", bin(&[1, 2])),
        ("<<258:16/little>>", bin(&[2, 1])),
        ("<<258:2/unit:8>>", bin(&[1, 2])),
        ("<<-1:12,0:4>>", bin(&[0xff, 0xf0])),
        ("<<1:72>>", bin(&[0, 0, 0, 0, 0, 0, 0, 0, 1])),
        (
            "<<-2:72/signed>>",
            bin(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]),
        ),
        (
            "<<16#10000000000000001:72>>",
            bin(&[1, 0, 0, 0, 0, 0, 0, 0, 1]),
        ),
        ("<<1.5/float>>", bin(&1.5f64.to_be_bytes())),
        ("<<1.5:32/float>>", bin(&1.5f32.to_be_bytes())),
        ("<<1:64/float-little>>", bin(&1.0f64.to_le_bytes())),
        ("<<$€/utf8>>", bin("€".as_bytes())),
        ("<<\"€\"/utf16>>", bin(&[0x20, 0xac])),
        ("<<\"€\"/utf32-little>>", bin(&[0xac, 0x20, 0, 0])),
        ("[]", Term::nil()),
        ("[ ]", Term::nil()),
        ("[1,2]", Term::list(vec![int(1), int(2)])),
        ("[a|b]", Term::improper_list(vec![atom("a")], atom("b"))),
        ("[1,2|3]", Term::improper_list(vec![int(1), int(2)], int(3))),
        ("[1|[2,3]]", Term::list(vec![int(1), int(2), int(3)])),
        ("[1|[]]", Term::list(vec![int(1)])),
        (
            "[1|[2|x]]",
            Term::improper_list(vec![int(1), int(2)], atom("x")),
        ),
        ("{}", Term::tuple(vec![])),
        ("{ a , b }", Term::tuple(vec![atom("a"), atom("b")])),
        ("#{}", Term::map(vec![])),
        (
            "#{a => 1, b => 2}",
            Term::map(vec![(atom("a"), int(1)), (atom("b"), int(2))]),
        ),
        ("#{a => 1, a => 2}", Term::map(vec![(atom("a"), int(2))])),
        (
            "#{#{} => {}}",
            Term::map(vec![(Term::map(vec![]), Term::tuple(vec![]))]),
        ),
        (
            "{ok, [1,2], <<\"x\">>, #{a => 1.5}}",
            Term::tuple(vec![
                atom("ok"),
                Term::list(vec![int(1), int(2)]),
                bin(b"x"),
                Term::map(vec![(atom("a"), Term::Float(1.5))]),
            ]),
        ),
        ("ok.", atom("ok")),
        ("1.", int(1)),
        ("{a}. \n", Term::tuple(vec![atom("a")])),
        (
            "% a comment\n{a, % another\n b}",
            Term::tuple(vec![atom("a"), atom("b")]),
        ),
        ("<0.85.0>", Term::Pid(Pid::new(PLACEHOLDER_NODE, 85, 0, 0))),
        (
            "<9430.85.3>",
            Term::Pid(Pid::new(PLACEHOLDER_NODE, 85, 3, 0)),
        ),
        ("#Port<0.5>", Term::from(Port::new(PLACEHOLDER_NODE, 5, 0))),
        (
            "#Ref<0.1.2.3>",
            Term::from(Ref::new(PLACEHOLDER_NODE, 0, &[3, 2, 1]).unwrap()),
        ),
        (
            "#Ref<0.5.4.3.2.1>",
            Term::from(Ref::new(PLACEHOLDER_NODE, 0, &[1, 2, 3, 4, 5]).unwrap()),
        ),
        (
            "fun lists:map/2",
            Term::from(Fun::export("lists", "map", 2)),
        ),
        (
            "fun 'a b':'end'/0",
            Term::from(Fun::export("a b", "end", 0)),
        ),
    ];
    for (text, term) in cases {
        match parse(text) {
            Ok(t) => assert_eq!(t, term, "parsing {text:?}"),
            Err(e) => panic!("parsing {text:?}: {e}"),
        }
        assert_eq!(text.parse::<Term>().ok(), Some(term));
    }
}

#[test]
fn negative_zero_keeps_its_sign() {
    let t = parse("-0.0").unwrap();
    assert!(t.as_float().unwrap().is_sign_negative());
}

#[test]
fn parse_errors() {
    let cases: Vec<(&str, usize, &str)> = vec![
        ("", 1, "expected a term, found end of input"),
        ("   ", 4, "expected a term, found end of input"),
        ("{ok x}", 5, "expected ',' or '}'"),
        ("{ok,", 5, "expected a term, found end of input"),
        ("[1,2", 5, "expected ',', '|' or ']', found end of input"),
        ("[1|2,3]", 5, "expected ']'"),
        ("[1,]", 4, "expected a term"),
        ("#{a 1}", 5, "expected '=>'"),
        ("#{a => 1 b}", 10, "expected ',' or '}'"),
        ("{a} b", 5, "expected end of input"),
        (
            "X",
            1,
            "expected a term, found a variable (quote it to make an atom)",
        ),
        (
            "_",
            1,
            "expected a term, found a variable (quote it to make an atom)",
        ),
        (
            "end",
            1,
            "'end' is a reserved word; quote it to make an atom",
        ),
        ("'abc", 1, "unterminated quoted atom"),
        ("\"abc", 1, "unterminated string"),
        ("'\\x{110000}'", 2, "character code above 16#10FFFF"),
        ("'\\x{D800}'", 2, "not a valid character in an atom"),
        ("1.0e400", 1, "float out of range"),
        ("1.0e", 5, "expected an exponent, found end of input"),
        ("37#1", 1, "base must be between 2 and 36"),
        ("2#", 3, "expected digits in base 2, found end of input"),
        ("2#2", 3, "expected digits in base 2"),
        ("-a", 2, "expected a number"),
        (
            "<<1,",
            5,
            "expected a number or a string in a binary, found end of input",
        ),
        ("<<1 2>>", 5, "expected ',' or '>>'"),
        (
            "<<256>>",
            3,
            "value does not fit in 8 bits (for text add /utf8, for numbers a size such as :16)",
        ),
        (
            "<<\"€\">>",
            3,
            "value does not fit in 8 bits (for text add /utf8, for numbers a size such as :16)",
        ),
        ("<<1/foo>>", 5, "unknown type specifier 'foo'"),
        (
            "<<1:3/little>>",
            3,
            "little-endian segments need a size in whole bytes",
        ),
        (
            "<<1.5:16/float>>",
            3,
            "float segments must be 32 or 64 bits",
        ),
        (
            "<<1:4/utf8>>",
            3,
            "utf8/utf16/utf32 segments take no size or unit",
        ),
        (
            "<<0:999999999999>>",
            3,
            "sized binary segments above 536870912 bits in total",
        ),
        ("<0.1>", 5, "expected '.'"),
        ("<0.1.99999999999>", 6, "number too large (above 2^32-1)"),
        ("#Ref<0>", 1, "a reference needs 1 to 5 numbers after 0"),
        (
            "#Ref<0.1.2.3.4.5.6>",
            18,
            "a reference has at most 5 numbers",
        ),
        (
            "#Fun<erl_eval.6.1234>",
            1,
            "closures (#Fun<...>) cannot be parsed",
        ),
        (
            "#rec{}",
            2,
            "expected '{' after '#' (records are not terms)",
        ),
        (
            "fun f/1",
            6,
            "expected ':' (only funs of the form fun M:F/A are terms)",
        ),
        ("fun m:f/256", 9, "arity above 255"),
        ("{ok, \u{1F600}}", 6, "expected a term"),
    ];
    for (text, column, reason) in cases {
        match parse(text) {
            Ok(t) => panic!("parsing {text:?} gave {t}"),
            Err(e) => {
                assert_eq!(
                    (e.column, e.reason.as_str()),
                    (column, reason),
                    "parsing {text:?}"
                )
            }
        }
    }
    let e = parse("{ok x}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot parse term at column 5: expected ',' or '}'"
    );
    let long = format!("'{}'", "a".repeat(256));
    assert_eq!(
        parse(&long).unwrap_err().reason,
        "atom longer than 255 characters"
    );
    assert!(parse(&format!("'{}'", "€".repeat(255))).is_ok());
}

#[test]
fn nesting_is_limited_without_recursion() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let t = parse(&deep(MAX_DEPTH)).unwrap();
    assert_eq!(t.to_string(), deep(MAX_DEPTH));
    let e = parse(&deep(MAX_DEPTH + 1)).unwrap_err();
    assert_eq!(e.column, MAX_DEPTH + 1);
    assert_eq!(e.reason, format!("nesting deeper than {MAX_DEPTH} levels"));
    // Far deeper input is refused the same way, without exhausting the stack.
    let e = parse(&"{[#{a => ".repeat(200_000)).unwrap_err();
    assert!(e.reason.starts_with("nesting deeper"), "{e}");
}

#[test]
fn huge_literals_are_bounded() {
    let digits = "9".repeat(ferrobeam_term::text::MAX_INTEGER_DIGITS + 1);
    assert!(parse(&digits)
        .unwrap_err()
        .reason
        .starts_with("number longer than"));
    let t = parse(&"9".repeat(2000)).unwrap();
    assert_eq!(t.to_string(), "9".repeat(2000));
}

/// Makes a term printable-and-parsable: pids, ports and references move to the
/// placeholder node with creation 0 (their text has neither), and closures, which cannot
/// be parsed, become an atom.
fn as_parsed(t: &Term) -> Term {
    let all = |v: &[Term]| v.iter().map(as_parsed).collect::<Vec<_>>();
    match t {
        Term::Pid(p) => Term::Pid(Pid::new(PLACEHOLDER_NODE, p.id, p.serial, 0)),
        Term::Port(p) => Term::from(Port::new(PLACEHOLDER_NODE, p.id, 0)),
        Term::Ref(r) => Term::from(Ref::new(PLACEHOLDER_NODE, 0, r.ids()).unwrap()),
        Term::Fun(f) => match f.kind {
            FunKind::Export { .. } => t.clone(),
            FunKind::Closure { .. } => Term::atom("closure"),
        },
        Term::List(l) => Term::List(all(l)),
        Term::ImproperList { elements, tail } => Term::ImproperList {
            elements: all(elements),
            tail: Box::new(as_parsed(tail)),
        },
        Term::Tuple(e) => Term::Tuple(all(e)),
        Term::Map(m) => Term::Map(
            m.iter()
                .map(|(k, v)| (as_parsed(k), as_parsed(v)))
                .collect::<TermMap>(),
        ),
        _ => t.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn display_then_parse_is_identity(t in arb_term()) {
        let t = as_parsed(&t);
        let text = t.to_string();
        match parse(&text) {
            Ok(back) => prop_assert_eq!(&back, &t, "text: {}", text),
            Err(e) => prop_assert!(false, "{} for {}", e, text),
        }
    }

    #[test]
    fn floats_round_trip_exactly(bits in any::<u64>()) {
        let v = f64::from_bits(bits);
        prop_assume!(v.is_finite());
        let text = Term::Float(v).to_string();
        prop_assert!(text.contains('.'), "{}", text);
        let back = parse(&text).unwrap();
        prop_assert_eq!(back.as_float().map(f64::to_bits), Some(bits), "{}", text);
    }

    #[test]
    fn any_text_parses_or_fails_cleanly(s in "\\PC{0,40}") {
        let _ = parse(&s);
    }

    #[test]
    fn mangled_printed_terms_fail_cleanly(t in arb_data_term(), cut in any::<prop::sample::Index>(), junk in "[\\[\\]{}#<>.,|:/$'\"\\\\a-z0-9 -]{0,3}") {
        let text = t.to_string();
        let mut at = cut.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mangled = format!("{}{}{}", &text[..at], junk, &text[at..]);
        let _ = parse(&mangled);
        let _ = parse(&text[..at]);
    }
}
