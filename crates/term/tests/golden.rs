//! Golden vectors: bytes written by a real OTP 25 `erlang:term_to_binary/1`, stored in
//! `tests/golden/terms.txt` by `scripts/gen-golden` (see that script for the format).

use bytes::Bytes;
use ferrobeam_term::etf::{self, tag};
use ferrobeam_term::{decode, encode, Term, TermMap};
use std::collections::BTreeSet;

const FIXTURE: &str = include_str!("golden/terms.txt");

struct Entry<'a> {
    line: usize,
    kind: &'a str,
    input: Vec<u8>,
    expected: &'a str,
    text: &'a str,
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn entries() -> Vec<Entry<'static>> {
    FIXTURE
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.is_empty())
        .map(|(i, l)| {
            let mut f = l.splitn(4, '\t');
            let kind = f.next().expect("kind");
            let input = unhex(f.next().expect("input"));
            let expected = f.next().expect("expected");
            let text = f.next().unwrap_or("");
            Entry {
                line: i + 1,
                kind,
                input,
                expected,
                text,
            }
        })
        .collect()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn short(text: &str) -> String {
    text.chars().take(80).collect()
}

/// Runs `check` on every entry of `kind`, collecting failures so one run shows them all.
fn check_all(kind: &str, check: impl Fn(&Entry<'_>) -> Result<(), String>) -> usize {
    let mut failures = Vec::new();
    let mut n = 0;
    for e in entries().iter().filter(|e| e.kind == kind) {
        n += 1;
        if let Err(why) = check(e) {
            failures.push(format!("line {} {}: {why}", e.line, short(e.text)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} {kind} entries failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    n
}

#[test]
fn canonical_entries_round_trip_byte_for_byte() {
    let n = check_all("canon", |e| {
        let t = decode(&e.input).map_err(|err| err.to_string())?;
        let again = encode(&t);
        if again != e.input {
            return Err(format!(
                "re-encoded differently:\n  erl:  {:?}\n  ours: {:?}",
                &e.input[..e.input.len().min(64)],
                &again[..again.len().min(64)]
            ));
        }
        if etf::encoded_len(&t) != e.input.len() {
            return Err("encoded_len is wrong".into());
        }
        Ok(())
    });
    assert!(n >= 200, "only {n} canonical entries");
}

#[test]
fn other_encodings_decode_to_the_canonical_term() {
    check_all("equiv", |e| {
        let t = decode(&e.input).map_err(|err| err.to_string())?;
        if let Some(rest) = e.expected.strip_prefix("crc32:") {
            let (crc, len) = rest.split_once(':').ok_or("bad crc field")?;
            let crc = u32::from_str_radix(crc, 16).map_err(|e| e.to_string())?;
            let len: usize = len.parse().map_err(|_| "bad length")?;
            let ours = encode(&t);
            if ours.len() != len || crc32(&ours) != crc {
                return Err("canonical re-encoding differs from erl's (by CRC)".into());
            }
        } else {
            let canon = unhex(e.expected);
            let want = decode(&canon).map_err(|err| format!("canonical: {err}"))?;
            if t != want {
                return Err(format!("decoded {t:?}, erl says {want:?}"));
            }
            if encode(&t) != canon {
                return Err("re-encoding is not erl's canonical encoding".into());
            }
        }
        Ok(())
    });
}

#[test]
fn large_maps_decode_to_their_pairs() {
    check_all("pairs", |e| {
        let t = decode(&e.input).map_err(|err| err.to_string())?;
        let pairs = decode(&unhex(e.expected)).map_err(|err| err.to_string())?;
        let pairs: Vec<(Term, Term)> = pairs
            .as_list()
            .ok_or("pairs is not a list")?
            .iter()
            .map(|p| match p.as_tuple() {
                Some([k, v]) => Ok((k.clone(), v.clone())),
                _ => Err("pair is not a 2-tuple".to_string()),
            })
            .collect::<Result<_, _>>()?;
        let want = Term::Map(TermMap::from_pairs(pairs));
        if t != want {
            return Err("map differs from its pairs".into());
        }
        // Our encoding is sorted, erl's is hash ordered: equal after decoding.
        if decode(&encode(&t)).map_err(|err| err.to_string())? != t {
            return Err("re-encoding does not decode to the map".into());
        }
        Ok(())
    });
}

#[test]
fn invalid_encodings_are_refused() {
    check_all("error", |e| match decode(&e.input) {
        Ok(t) => Err(format!("decoded to {t:?}")),
        Err(_) => Ok(()),
    });
}

/// Every tag the decoder knows appears in the fixture: as the outer tag of an input, or
/// inside a term (found through the canonical encoding of its parts).
#[test]
fn fixture_covers_every_tag() {
    let mut tags = BTreeSet::new();
    for e in entries().iter().filter(|e| e.kind != "error") {
        if let Some(&t) = e.input.get(1) {
            tags.insert(t);
        }
        if let Ok(t) = decode(&e.input) {
            collect_tags(&t, &mut tags);
        }
    }
    for t in [
        tag::SMALL_INTEGER,
        tag::INTEGER,
        tag::SMALL_BIG,
        tag::LARGE_BIG,
        tag::NEW_FLOAT,
        tag::FLOAT,
        tag::ATOM,
        tag::SMALL_ATOM,
        tag::ATOM_UTF8,
        tag::SMALL_ATOM_UTF8,
        tag::BINARY,
        tag::BIT_BINARY,
        tag::NIL,
        tag::STRING,
        tag::LIST,
        tag::SMALL_TUPLE,
        tag::LARGE_TUPLE,
        tag::MAP,
        tag::NEW_PID,
        tag::PID,
        tag::NEW_PORT,
        tag::V4_PORT,
        tag::PORT,
        tag::NEWER_REFERENCE,
        tag::NEW_REFERENCE,
        tag::REFERENCE,
        tag::NEW_FUN,
        tag::EXPORT,
        tag::COMPRESSED,
    ] {
        assert!(tags.contains(&t), "no golden entry with tag {t}");
    }
}

fn collect_tags(t: &Term, tags: &mut BTreeSet<u8>) {
    let b = encode(t);
    if let Some(&x) = b.get(1) {
        tags.insert(x);
    }
    match t {
        Term::List(l) | Term::Tuple(l) => l.iter().for_each(|x| collect_tags(x, tags)),
        Term::ImproperList { elements, tail } => {
            elements.iter().for_each(|x| collect_tags(x, tags));
            collect_tags(tail, tags);
        }
        Term::Map(m) => m.iter().for_each(|(k, v)| {
            collect_tags(k, tags);
            collect_tags(v, tags);
        }),
        Term::Pid(p) => {
            collect_tags(&Term::Atom(p.node.clone()), tags);
        }
        _ => {}
    }
}

/// Binaries decoded from `Bytes` share the input's memory.
#[test]
fn binaries_are_zero_copy() {
    for e in entries().iter().filter(|e| e.kind == "canon") {
        if e.input.get(1) != Some(&tag::BINARY) || e.input.len() < 100 {
            continue;
        }
        let input = Bytes::from(e.input.clone());
        let t = etf::decode_bytes(input.clone()).expect("decodes");
        let b = t.as_binary().expect("binary");
        let range = input.as_ptr_range();
        assert!(range.contains(&b.as_ptr()), "binary was copied");
    }
}

/// Compare with the Erlang text parser: the fixture's text column parses to the term the
/// bytes decode to (for terms whose text can be read back: no pids, ports, refs or funs).
#[test]
fn text_column_parses_to_the_decoded_term() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for e in entries()
        .iter()
        .filter(|e| e.kind == "canon" || e.kind == "equiv")
    {
        if e.text == "..."
            || ["<", "#Ref", "#Port", "#Fun", "fun "].iter().any(|p| {
                // `<<` starts a binary; a lone `<` starts a pid.
                if *p == "<" {
                    e.text.replace("<<", "").replace(">>", "").contains('<')
                } else {
                    e.text.contains(p)
                }
            })
        {
            continue;
        }
        let decoded = decode(&e.input).expect("decodes");
        match e.text.parse::<Term>() {
            Ok(parsed) if parsed == decoded => checked += 1,
            Ok(parsed) => failures.push(format!(
                "line {}: {} parsed to {parsed:?}",
                e.line,
                short(e.text)
            )),
            Err(err) => failures.push(format!("line {}: {}: {err}", e.line, short(e.text))),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 150, "only {checked} entries checked");
}
