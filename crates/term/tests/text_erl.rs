//! Interop: a real Erlang/OTP reads what `Display` prints.
//!
//! A few hundred terms are printed to a file, one per line. One `erl` run parses every
//! line with `erl_scan:string/1` and `erl_parse:parse_term/1` and writes the
//! `term_to_binary/1` of each as hex. Decoding those bytes must give back the original
//! term. For floats, `float_to_list(F, [short])` must also be exactly our text.
//!
//! Without `erl` on the PATH the test prints a notice and passes, unless
//! `FERROBEAM_REQUIRE_ERLANG=1` is set.

mod support;

use bytes::Bytes;
use ferrobeam_term::{decode, BigInt, Fun, FunKind, Term, TermMap};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use std::path::PathBuf;
use std::process::Command;
use support::arb::{arb_data_term, arb_export, arb_float};

/// The Erlang side: reads the file named by the first plain argument, writes results to
/// the second, one line per input line: `ok HEX [FLOAT]` or `error REASON`.
const ERL_SCRIPT: &str = r#"
try
[In, Out] = init:get_plain_arguments(),
{ok, Bin} = file:read_file(In),
Lines = [L || L <- string:split(unicode:characters_to_list(Bin, utf8), "\n", all), L =/= []],
Show = fun(E) -> io_lib:format("~w", [E]) end,
One = fun(L) ->
    case erl_scan:string(L ++ " .") of
        {ok, Toks, _} ->
            case erl_parse:parse_term(Toks) of
                {ok, T} ->
                    Float = case is_float(T) of
                        true -> [" ", float_to_list(T, [short])];
                        false -> []
                    end,
                    ["ok ", binary:encode_hex(term_to_binary(T)), Float, "\n"];
                {error, E} -> ["error ", Show(E), "\n"]
            end;
        E -> ["error ", Show(E), "\n"]
    end
end,
ok = file:write_file(Out, [One(L) || L <- Lines]),
halt(0)
catch C:R:S ->
    io:format(standard_error, "~p~n", [{C, R, S}]),
    halt(2)
end.
"#;

fn big(s: &str) -> Term {
    Term::from_bigint(s.parse::<BigInt>().unwrap())
}

fn bin(b: &[u8]) -> Term {
    Term::Binary(Bytes::copy_from_slice(b))
}

/// Hand-picked terms for the corners of the syntax.
fn corner_cases() -> Vec<Term> {
    let mut v = vec![
        Term::Int(0),
        Term::Int(-1),
        Term::Int(i64::MAX),
        Term::Int(i64::MIN),
        big("9223372036854775808"),
        big("-9223372036854775809"),
        big("340282366920938463463374607431768211456123"),
        Term::Float(0.0),
        Term::Float(-0.0),
        Term::Float(0.1),
        Term::Float(1.0e100),
        Term::Float(1.0e-300),
        Term::Float(2.5e-323),
        Term::Float(5.0e-324),
        Term::Float(f64::MAX),
        Term::Float(f64::MIN_POSITIVE),
        Term::Float(123456.0),
        Term::Float(1000.0),
        Term::Float(9007199254740990.0),
        Term::Float(9007199254740992.0),
        Term::Float(0.000123),
        Term::Float(1.0 / 3.0),
        Term::atom(""),
        Term::atom("ok"),
        Term::atom("EXIT"),
        Term::atom("_"),
        Term::atom("a b"),
        Term::atom("it's"),
        Term::atom("back\\slash"),
        Term::atom("\"quoted\""),
        Term::atom("tab\there\nnewline\r\u{1}\u{7f}\u{1b}\u{85}"),
        Term::atom("node@host.example"),
        Term::atom("$gen_call"),
        Term::atom("Elixir.GenServer"),
        Term::atom("ü"),
        Term::atom("日本語"),
        Term::atom("🦀"),
        Term::atom(&"€".repeat(255)),
        bin(b""),
        bin(b"hi"),
        bin(b"quote \" backslash \\ newline \n tab \t bell \x07 esc \x1b del \x7f"),
        bin("über 日本 🦀".as_bytes()),
        bin(&[0, 1, 2, 255]),
        bin(&[0xc3]),
        bin("\u{fdd0}\u{ffff}".as_bytes()),
        bin("\u{fdd0}".as_bytes()),
        Term::bitstring(&[0xff, 0x80], 9).unwrap(),
        Term::bitstring(&[0xa0], 3).unwrap(),
        Term::bitstring(&[0xab, 0xcd, 0xef], 23).unwrap(),
        Term::nil(),
        Term::charlist("hello"),
        Term::charlist("tab\tquote\"é\u{ff}\u{a0}"),
        Term::charlist("日本"),
        Term::list(vec![Term::Int(1), Term::Int(2)]),
        Term::list(vec![Term::Int(31), Term::Int(127), Term::Int(128)]),
        Term::improper_list(vec![Term::Int(1)], Term::Int(2)),
        Term::improper_list(vec![Term::Int(104), Term::Int(105)], Term::atom("tail")),
        Term::improper_list(vec![Term::nil()], bin(b"x")),
        Term::tuple(vec![]),
        Term::tuple(vec![Term::atom("ok"), Term::tuple(vec![Term::nil()])]),
        Term::map(vec![]),
        Term::map(vec![
            (Term::atom("a"), Term::Int(1)),
            (Term::Int(1), Term::Float(1.0)),
            (Term::Float(1.0), Term::Int(1)),
            (Term::map(vec![]), Term::tuple(vec![])),
        ]),
        Term::from(Fun::export("lists", "map", 2)),
        Term::from(Fun::export("Elixir.Enum", "end", 0)),
        r#"{ok, [1,2], <<"x">>, #{a => 1.5}}"#.parse().unwrap(),
    ];
    // Deep nesting.
    let mut deep = Term::atom("bottom");
    for i in 0..200 {
        deep = if i % 3 == 0 {
            Term::list(vec![deep])
        } else if i % 3 == 1 {
            Term::tuple(vec![deep, Term::Int(i)])
        } else {
            Term::map(vec![(Term::Int(i), deep)])
        };
    }
    v.push(deep);
    v
}

fn terms() -> Vec<Term> {
    let mut terms = corner_cases();
    let mut runner = TestRunner::deterministic();
    let mut sample = |s: &dyn Fn() -> proptest::strategy::BoxedStrategy<Term>, n: usize| {
        (0..n)
            .filter_map(|_| s().new_tree(&mut runner).ok().map(|t| t.current()))
            .collect::<Vec<_>>()
    };
    terms.extend(sample(&arb_data_term, 300));
    terms.extend(sample(&|| arb_float().boxed(), 100));
    terms.extend(sample(&|| arb_export().prop_map(Term::from).boxed(), 10));
    terms
}

/// Rebuilds every export fun with [`Fun::export`]. OTP 25 encodes their atoms as
/// `ATOM_EXT`, and `Fun` compares its raw encoding, so `fun m:f/1` read by `erl` differs
/// from ours only in bytes that do not change its meaning.
fn canonical_funs(t: &Term) -> Term {
    let all = |v: &[Term]| v.iter().map(canonical_funs).collect::<Vec<_>>();
    match t {
        Term::Fun(f) => match &f.kind {
            FunKind::Export {
                module,
                function,
                arity,
            } => Term::from(Fun::export(module.clone(), function.clone(), *arity)),
            FunKind::Closure { .. } => t.clone(),
        },
        Term::List(l) => Term::List(all(l)),
        Term::ImproperList { elements, tail } => Term::ImproperList {
            elements: all(elements),
            tail: Box::new(canonical_funs(tail)),
        },
        Term::Tuple(e) => Term::Tuple(all(e)),
        Term::Map(m) => Term::Map(
            m.iter()
                .map(|(k, v)| (canonical_funs(k), canonical_funs(v)))
                .collect::<TermMap>(),
        ),
        _ => t.clone(),
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn scratch_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.{}", std::process::id()))
}

#[test]
fn erl_reads_what_display_prints() {
    let terms = terms();
    let texts: Vec<String> = terms.iter().map(Term::to_string).collect();
    for t in &texts {
        assert!(!t.contains('\n'), "printed term spans lines: {t}");
    }
    let input = scratch_file("text_erl_in");
    let output = scratch_file("text_erl_out");
    std::fs::write(&input, texts.join("\n") + "\n").unwrap();
    let _ = std::fs::remove_file(&output);

    let run = Command::new("erl")
        .args(["-noshell", "-noinput", "-eval", ERL_SCRIPT, "-extra"])
        .arg(&input)
        .arg(&output)
        .env("ERL_CRASH_DUMP_SECONDS", "0")
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output();
    let run = match run {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let _ = std::fs::remove_file(&input);
            if std::env::var("FERROBEAM_REQUIRE_ERLANG").as_deref() == Ok("1") {
                panic!("erl not found, and FERROBEAM_REQUIRE_ERLANG=1");
            }
            eprintln!("notice: erl not found; skipping the Erlang interop test");
            return;
        }
        Err(e) => panic!("cannot run erl: {e}"),
    };
    assert!(
        run.status.success(),
        "erl failed: {}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let results = std::fs::read_to_string(&output).unwrap();
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);

    let lines: Vec<&str> = results.lines().collect();
    assert_eq!(lines.len(), terms.len(), "one result per term");
    let mut failures = Vec::new();
    for ((term, text), line) in terms.iter().zip(&texts).zip(&lines) {
        let mut parts = line.split(' ');
        match (parts.next(), parts.next()) {
            (Some("ok"), Some(hex)) => {
                let bytes = unhex(hex).expect("hex from erl");
                match decode(&bytes).map(|t| canonical_funs(&t)) {
                    Ok(back) if &back == term => {}
                    Ok(back) => failures.push(format!("{text}\n  erl read {back}")),
                    Err(e) => failures.push(format!("{text}\n  cannot decode erl's bytes: {e}")),
                }
                if let (Term::Float(_), Some(erl_text)) = (term, parts.next()) {
                    if erl_text != text {
                        failures.push(format!("{text}\n  erl prints {erl_text}"));
                    }
                }
            }
            _ => failures.push(format!("{text}\n  erl: {line}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} terms differ:\n{}",
        failures.len(),
        terms.len(),
        failures.join("\n")
    );
}
