//! Tests of `ferrobeam term`, running the built binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `ferrobeam <args>` with `input` on stdin.
fn ferrobeam(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrobeam"))
        .args(args)
        .env_remove("FERROBEAM_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ferrobeam");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("run ferrobeam")
}

fn ok(args: &[&str], input: &[u8]) -> Vec<u8> {
    let out = ferrobeam(args, input);
    assert!(
        out.status.success(),
        "ferrobeam {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs a command that must fail, and returns its stderr.
fn fails(args: &[&str], input: &[u8]) -> String {
    let out = ferrobeam(args, input);
    assert!(!out.status.success(), "ferrobeam {args:?} should fail");
    assert!(out.stdout.is_empty(), "no output on failure");
    String::from_utf8(out.stderr).expect("UTF-8 stderr")
}

#[test]
fn encode_then_decode() {
    let bytes = ok(&["term", "encode"], b"{ok, <<\"hi\">>, [1,2.5]}\n");
    assert_eq!(bytes[0], 131);
    let text = ok(&["term", "decode"], &bytes);
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "{ok,<<\"hi\">>,[1,2.5]}\n"
    );
}

#[test]
fn decodes_bytes_from_erlang() {
    // term_to_binary({ok,<<"hi">>,[1,2.5]}) in OTP 25, which uses ATOM_EXT.
    let hex = "8368036400026F6B6D0000000268696C0000000261014640040000000000006A";
    let text = ok(&["term", "decode", "--hex"], hex.as_bytes());
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "{ok,<<\"hi\">>,[1,2.5]}\n"
    );
}

#[test]
fn hex_both_ways() {
    assert_eq!(ok(&["term", "encode", "--hex"], b"[]"), b"836a\n");
    let hex = ok(
        &["term", "encode", "--hex"],
        "#{name => <<\"Zoë\"/utf8>>, n => 16#ff}.".as_bytes(),
    );
    let text = ok(&["term", "decode", "--hex"], &hex);
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "#{n => 255,name => <<\"Zoë\"/utf8>>}\n"
    );
    assert_eq!(ok(&["term", "decode", "--hex"], b" 83 6a\n"), b"[]\n");
}

#[test]
fn format_prints_canonical_text() {
    let text = ok(
        &["term", "format"],
        b"% a comment\n{ 'ok' , \"abc\" , 1.0e3, [a|[b]] }.\n",
    );
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "{ok,\"abc\",1.0e3,[a,b]}\n"
    );
}

#[test]
fn parse_errors_exit_non_zero_with_one_line() {
    let err = fails(&["term", "encode"], b"{ok x}");
    assert_eq!(
        err,
        "ferrobeam: cannot parse term at column 5: expected ',' or '}'\n"
    );
    let err = fails(&["term", "encode"], b"");
    assert_eq!(
        err,
        "ferrobeam: cannot parse term at column 1: expected a term, found end of input\n"
    );
    let err = fails(&["term", "encode"], b"\"\xff\"");
    assert_eq!(err, "ferrobeam: input is not valid UTF-8 (at byte 1)\n");
    let err = fails(&["term", "format"], b"[1,2");
    assert!(
        err.starts_with("ferrobeam: cannot parse term at column 5"),
        "{err}"
    );
}

#[test]
fn decode_errors_exit_non_zero_with_one_line() {
    for input in [&b"\x83\x68"[..], b"hello", b"\x83\x6a\x6a"] {
        let err = fails(&["term", "decode"], input);
        assert!(
            err.starts_with("ferrobeam: invalid external term at byte "),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert_eq!(
        fails(&["term", "decode"], b""),
        "ferrobeam: no input: expected ETF bytes on stdin\n"
    );
    assert_eq!(
        fails(&["term", "decode", "--hex"], b"83 6g"),
        "ferrobeam: invalid hex digit 'g' at character 5 of the input\n"
    );
    assert_eq!(
        fails(&["term", "decode", "--hex"], b"836"),
        "ferrobeam: odd number of hex digits\n"
    );
}
