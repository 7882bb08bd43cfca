//! The serde mapping: every row of the table both ways, errors, pass-through of the term
//! types, the fallback forms with another format (JSON), and the seed chat protocol.

mod support;

use bytes::Bytes;
use ferrobeam_term::{
    from_term, from_term_ref, to_term, Atom, BigInt, Fun, Pid, Port, Ref, SerdeError, Term,
};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;

// ---------- helpers ----------

fn atom(s: &str) -> Term {
    Term::atom(s)
}

fn s(x: &str) -> Term {
    Term::string(x)
}

fn tuple(v: Vec<Term>) -> Term {
    Term::tuple(v)
}

fn int(i: i64) -> Term {
    Term::Int(i)
}

/// Asserts that `value` maps to exactly `term`, and that `term` maps back to `value`.
#[track_caller]
fn both<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: T, term: Term) {
    let got = to_term(&value).expect("to_term");
    assert_eq!(got, term, "to_term({value:?})");
    let back: T = from_term(&term).expect("from_term");
    assert_eq!(back, value, "from_term({term})");
}

/// The error message of reading `term` as `T`.
#[track_caller]
fn err<T: DeserializeOwned + Debug>(term: &Term) -> String {
    match from_term::<T>(term) {
        Ok(v) => panic!(
            "expected an error reading {term} as {}, got {v:?}",
            std::any::type_name::<T>()
        ),
        Err(SerdeError(msg)) => msg,
    }
}

fn pid() -> Pid {
    Pid::new("a@host", 85, 0, 3)
}

fn reference() -> Ref {
    Ref::new("a@host", 3, &[1, 2, 3]).unwrap()
}

// ---------- scalars ----------

#[test]
fn booleans() {
    both(true, atom("true"));
    both(false, atom("false"));
    assert_eq!(
        err::<bool>(&atom("yes")),
        "expected a boolean (true or false), found atom yes"
    );
}

#[test]
fn integers() {
    both(0u8, int(0));
    both(-5i8, int(-5));
    both(300i16, int(300));
    both(u16::MAX, int(65535));
    both(-70000i32, int(-70000));
    both(u32::MAX, int(u32::MAX as i64));
    both(i64::MIN, int(i64::MIN));
    both(i64::MAX as u64, int(i64::MAX));
    both(7usize, int(7));
    both(-7isize, int(-7));
    // Beyond i64: big integers.
    both(u64::MAX, Term::int(u64::MAX as i128));
    assert!(matches!(to_term(&u64::MAX).unwrap(), Term::BigInt(_)));
    both(i128::MIN, Term::int(i128::MIN));
    both(5i128, int(5));
    both(
        u128::MAX,
        Term::from_bigint(BigInt::from_le_bytes(false, &[0xff; 16])),
    );
    both(1u128 << 100, Term::int(1i128 << 100));
}

#[test]
fn integer_range_errors_name_the_type() {
    assert_eq!(
        err::<u8>(&int(300)),
        "expected an integer that fits in u8, found integer 300 (out of range)"
    );
    assert!(err::<i8>(&int(-129)).contains("i8"));
    assert!(err::<u32>(&int(-1)).contains("fits in u32"));
    assert!(err::<i64>(&Term::int(1 << 70)).contains("fits in i64"));
    assert!(err::<u64>(&Term::int(-1)).contains("fits in u64"));
    let huge = Term::from_bigint(BigInt::from_le_bytes(false, &[1; 17]));
    assert!(err::<u128>(&huge).contains("fits in u128"));
    assert!(err::<i128>(&huge).contains("fits in i128"));
    assert_eq!(
        err::<u16>(&s("12")),
        r#"expected an integer (u16), found binary <<"12">>"#
    );
    assert!(err::<i32>(&Term::Float(1.0)).starts_with("expected an integer (i32), found float"));
}

#[test]
fn floats() {
    both(1.5f64, Term::Float(1.5));
    both(-0.25f32, Term::Float(-0.25));
    both(f64::MAX, Term::Float(f64::MAX));
    // An integer is accepted where a float is expected.
    assert_eq!(from_term::<f64>(&int(3)).unwrap(), 3.0);
    assert_eq!(from_term::<f32>(&int(-2)).unwrap(), -2.0);
    assert_eq!(
        from_term::<f64>(&Term::int(1 << 70)).unwrap(),
        (1u128 << 70) as f64
    );
    // Erlang floats are finite.
    assert!(to_term(&f64::NAN).unwrap_err().0.contains("finite"));
    assert!(to_term(&f32::INFINITY).unwrap_err().0.contains("finite"));
    assert!(err::<f32>(&Term::Float(1e300)).contains("fits in f32"));
    assert_eq!(err::<f64>(&atom("x")), "expected a float, found atom x");
}

#[test]
fn chars_are_code_points() {
    both('a', int(97));
    both('€', int(0x20ac));
    assert!(err::<char>(&int(0xd800)).contains("code point"));
    assert!(err::<char>(&s("a")).contains("code point"));
}

#[test]
fn strings_are_utf8_binaries() {
    both("hello".to_string(), s("hello"));
    both(String::new(), s(""));
    both("héllo €".to_string(), s("héllo €"));
    assert_eq!(to_term("x").unwrap(), s("x"));
    // Borrowing.
    let t = s("borrowed");
    let b: &str = from_term_ref(&t).unwrap();
    assert_eq!(b, "borrowed");
    assert_eq!(b.as_ptr(), t.as_binary().unwrap().as_ptr());
    // Strict: no atoms, no charlists, no invalid UTF-8.
    assert_eq!(
        err::<String>(&atom("foo")),
        "expected a binary (string), found atom foo"
    );
    assert!(
        err::<String>(&Term::charlist("abc")).starts_with("expected a binary (string), found list")
    );
    assert!(err::<String>(&Term::binary(vec![0xff, 0xfe]))
        .starts_with("expected a binary (string), found a binary that is not valid UTF-8"));
}

#[test]
fn unit_and_option() {
    both((), atom("nil"));
    both(None::<i32>, atom("nil"));
    both(Some(5), int(5));
    both(Some("x".to_string()), s("x"));
    assert_eq!(
        err::<()>(&atom("ok")),
        "expected the atom nil (unit), found atom ok"
    );
    // `undefined` is not `None`.
    assert!(err::<Option<i32>>(&atom("undefined")).contains("found atom undefined"));
    assert_eq!(
        from_term::<Option<Atom>>(&atom("undefined")).unwrap(),
        Some(Atom::new("undefined"))
    );
}

// ---------- compounds ----------

#[test]
fn sequences_are_lists() {
    both(vec![1, 2, 3], Term::list(vec![int(1), int(2), int(3)]));
    both(Vec::<String>::new(), Term::nil());
    both(vec![0u8, 255], Term::list(vec![int(0), int(255)]));
    let set: BTreeSet<i32> = [3, 1, 2].into_iter().collect();
    both(set, Term::list(vec![int(1), int(2), int(3)]));
    assert_eq!(
        to_term(&[1, 2][..]).unwrap(),
        Term::list(vec![int(1), int(2)])
    );
    // A charlist (STRING_EXT) reads as a Vec<u8>.
    assert_eq!(from_term::<Vec<u8>>(&Term::charlist("hi")).unwrap(), b"hi");
    assert_eq!(
        err::<Vec<i32>>(&tuple(vec![int(1)])),
        "expected a proper list, found tuple {1}"
    );
    let improper = Term::improper_list(vec![int(1)], int(2));
    assert!(err::<Vec<i32>>(&improper).starts_with("expected a proper list, found improper list"));
    assert_eq!(
        err::<Vec<u8>>(&Term::list(vec![int(1), atom("x")])),
        "expected an integer (u8), found atom x, at [1]"
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Point(i32, i32);

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Meters(f64);

#[test]
fn tuples_and_tuple_structs() {
    both(
        (1, "a".to_string(), true),
        tuple(vec![int(1), s("a"), atom("true")]),
    );
    both(Point(1, -2), tuple(vec![int(1), int(-2)]));
    both([7u8; 3], tuple(vec![int(7), int(7), int(7)]));
    assert_eq!(
        err::<(i32, i32)>(&tuple(vec![int(1)])),
        "expected a tuple of 2 elements, found tuple {1}"
    );
    assert_eq!(
        err::<Point>(&Term::list(vec![int(1), int(2)])),
        "expected a tuple of 2 elements (Point), found list [1,2]"
    );
}

#[test]
fn newtype_structs_are_their_value() {
    both(Meters(2.5), Term::Float(2.5));
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Ping;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct HeartBeat;

#[test]
fn unit_structs_are_snake_case_atoms() {
    both(Ping, atom("ping"));
    both(HeartBeat, atom("heart_beat"));
    assert_eq!(
        err::<HeartBeat>(&atom("ping")),
        "expected the atom heart_beat (unit struct HeartBeat), found atom ping"
    );
    both(std::marker::PhantomData::<u8>, atom("nil"));
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct User {
    nick: String,
    age: u32,
    email: Option<String>,
    tags: Vec<String>,
}

#[test]
fn structs_are_maps_with_atom_keys() {
    let u = User {
        nick: "john".into(),
        age: 42,
        email: None,
        tags: vec!["admin".into()],
    };
    let t = Term::map(vec![
        (atom("nick"), s("john")),
        (atom("age"), int(42)),
        (atom("email"), atom("nil")),
        (atom("tags"), Term::list(vec![s("admin")])),
    ]);
    both(u, t.clone());

    // Extra keys (such as an Elixir struct's __struct__) are ignored.
    let mut m = t.as_map().unwrap().clone();
    m.insert(atom("__struct__"), atom("Elixir.User"));
    assert_eq!(from_term::<User>(&Term::Map(m)).unwrap().nick, "john");

    // Errors.
    assert_eq!(
        err::<User>(&Term::nil()),
        "expected a map with atom keys (struct User), found empty list []"
    );
    let mut m = t.as_map().unwrap().clone();
    m.insert(atom("age"), s("42"));
    assert_eq!(
        err::<User>(&Term::Map(m)),
        r#"expected an integer (u32), found binary <<"42">>, at .age"#
    );
    let mut m = t.as_map().unwrap().clone();
    m.remove(&atom("nick"));
    assert_eq!(err::<User>(&Term::Map(m)), "missing field `nick`");
    let string_keys = Term::map(vec![(s("nick"), s("john"))]);
    assert_eq!(
        err::<User>(&string_keys),
        r#"expected a map with atom keys (struct User), found the key binary <<"nick">>"#
    );
}

#[test]
fn maps() {
    let mut h = HashMap::new();
    h.insert("a".to_string(), 1);
    h.insert("b".to_string(), 2);
    both(h, Term::map(vec![(s("a"), int(1)), (s("b"), int(2))]));
    let mut b = BTreeMap::new();
    b.insert(1u8, vec![true]);
    both(b, Term::map(vec![(int(1), Term::list(vec![atom("true")]))]));
    let mut by_atom = BTreeMap::new();
    by_atom.insert(Atom::new("x"), 1.0);
    both(by_atom, Term::map(vec![(atom("x"), Term::Float(1.0))]));
    let mut by_enum = BTreeMap::new();
    by_enum.insert(ConnectReply::NickInUse, 1);
    both(by_enum, Term::map(vec![(atom("nick_in_use"), int(1))]));
    assert_eq!(
        err::<HashMap<String, i32>>(&Term::map(vec![(s("a"), atom("x"))])),
        r#"expected an integer (i32), found atom x, at [<<"a">>]"#
    );
    assert_eq!(
        err::<HashMap<String, i32>>(&Term::nil()),
        "expected a map, found empty list []"
    );
    // An Elixir map with atom keys reads as a map with string keys.
    let elixir = Term::map(vec![(atom("a"), int(1))]);
    let read: HashMap<String, i32> = from_term(&elixir).unwrap();
    assert_eq!(read.get("a"), Some(&1));
    // ... but a string value is still strict.
    assert!(err::<HashMap<String, String>>(&elixir).contains("found integer 1"));
    assert!(
        err::<HashMap<i32, String>>(&Term::map(vec![(int(1), atom("a"))]))
            .starts_with("expected a binary (string), found atom a")
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Blob {
    plain: Bytes,
    #[serde(with = "ferrobeam_term::serde_term::bytes")]
    shared: Bytes,
}

/// A `serde_bytes`-style buffer: serialize_bytes / deserialize_byte_buf.
#[derive(Debug, PartialEq)]
struct ByteBuf(Vec<u8>);

impl Serialize for ByteBuf {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ByteBuf, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

#[test]
fn bytes_are_binaries() {
    both(ByteBuf(vec![1, 2, 255]), Term::binary(vec![1u8, 2, 255]));
    both(Bytes::from_static(b"raw"), Term::binary(b"raw".as_slice()));
    let shared = Bytes::from(vec![9u8; 64]);
    let blob = Blob {
        plain: Bytes::from_static(b"p"),
        shared: shared.clone(),
    };
    let t = to_term(&blob).unwrap();
    let m = t.as_map().unwrap();
    assert_eq!(m.get_atom("plain"), Some(&Term::binary(b"p".as_slice())));
    // The with-adapter shares the memory both ways.
    assert_eq!(
        m.get_atom("shared").unwrap().as_binary().unwrap().as_ptr(),
        shared.as_ptr()
    );
    let back: Blob = from_term(&t).unwrap();
    assert_eq!(back, blob);
    assert_eq!(back.shared.as_ptr(), shared.as_ptr());
    // Borrowed byte slices.
    let t = Term::binary(b"xyz".as_slice());
    let b: &[u8] = from_term_ref(&t).unwrap();
    assert_eq!(b, b"xyz");
    assert_eq!(
        err::<ByteBuf>(&atom("x")),
        "expected a binary, found atom x"
    );
    let bad = Term::map(vec![(atom("plain"), s("")), (atom("shared"), int(1))]);
    assert_eq!(
        err::<Blob>(&bad),
        "expected a binary, found integer 1, at .shared"
    );
}

// ---------- enums ----------

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ConnectReply {
    Ok(String),
    NickNotAllowed,
    NickInUse,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Shape {
    Empty,
    Circle(f64),
    Rect(f64, f64),
    Polygon {
        sides: u8,
        closed: bool,
    },
    #[serde(rename = "'EXIT'")]
    Exit(Pid, Term),
    #[serde(rename = "$gen_cast")]
    GenCast(Term),
    HTTPError(u16),
}

#[test]
fn enum_variants() {
    both(Shape::Empty, atom("empty"));
    both(
        Shape::Circle(1.0),
        tuple(vec![atom("circle"), Term::Float(1.0)]),
    );
    both(
        Shape::Rect(1.0, 2.0),
        tuple(vec![atom("rect"), Term::Float(1.0), Term::Float(2.0)]),
    );
    both(
        Shape::Polygon {
            sides: 3,
            closed: true,
        },
        tuple(vec![
            atom("polygon"),
            Term::map(vec![
                (atom("sides"), int(3)),
                (atom("closed"), atom("true")),
            ]),
        ]),
    );
    both(
        Shape::Exit(pid(), atom("normal")),
        tuple(vec![atom("EXIT"), Term::Pid(pid()), atom("normal")]),
    );
    both(
        Shape::GenCast(tuple(vec![atom("x")])),
        tuple(vec![atom("$gen_cast"), tuple(vec![atom("x")])]),
    );
    both(
        Shape::HTTPError(404),
        tuple(vec![atom("http_error"), int(404)]),
    );
}

#[test]
fn enum_errors() {
    assert_eq!(
        err::<Shape>(&atom("square")),
        "unknown variant atom square, expected one of empty, circle, rect, polygon, EXIT, \
         $gen_cast, http_error (enum Shape)"
    );
    assert_eq!(
        err::<Shape>(&tuple(vec![atom("rect"), Term::Float(1.0)])),
        "expected a tuple of 3 elements for variant rect, found tuple {rect,1.0}"
    );
    assert_eq!(
        err::<Shape>(&tuple(vec![atom("circle"), int(1), int(2)])),
        "expected a tuple of 2 elements for variant circle, found tuple {circle,1,2}"
    );
    assert_eq!(
        err::<Shape>(&atom("circle")),
        "expected a tuple of 2 elements for variant circle, found atom circle"
    );
    assert_eq!(
        err::<Shape>(&tuple(vec![atom("empty"), int(1)])),
        "expected the bare atom empty for unit variant empty, found tuple {empty,1}"
    );
    assert_eq!(
        err::<Shape>(&tuple(vec![atom("polygon"), int(1)])),
        "expected a tuple {polygon, #{...}} for variant polygon, found tuple {polygon,1}"
    );
    assert_eq!(
        err::<Shape>(&tuple(vec![
            atom("polygon"),
            Term::map(vec![(atom("sides"), int(3)), (atom("closed"), int(0))])
        ])),
        "expected a boolean (true or false), found integer 0, at {polygon}.closed"
    );
    assert_eq!(
        err::<Shape>(&tuple(vec![atom("rect"), Term::Float(1.0), s("x")])),
        r#"expected a float, found binary <<"x">>, at {rect}[1]"#
    );
    assert_eq!(
        err::<Shape>(&int(1)),
        "expected an atom or a tuple tagged with an atom (enum Shape), found integer 1"
    );
    assert_eq!(
        err::<Shape>(&tuple(vec![])),
        "expected an atom or a tuple tagged with an atom (enum Shape), found tuple {}"
    );
    // Rust names do not match: only the snake_case atom does.
    assert!(err::<Shape>(&atom("Empty")).starts_with("unknown variant atom 'Empty'"));
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Renamed {
    FooBar,
    #[serde(rename = "baz")]
    Qux(i32),
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum WithOther {
    Known,
    #[serde(other)]
    Unknown,
}

#[test]
fn enum_renames_and_other() {
    both(Renamed::FooBar, atom("foo_bar"));
    both(Renamed::Qux(1), tuple(vec![atom("baz"), int(1)]));
    assert_eq!(
        from_term::<WithOther>(&atom("known")).unwrap(),
        WithOther::Known
    );
    assert_eq!(
        from_term::<WithOther>(&atom("whatever")).unwrap(),
        WithOther::Unknown
    );
}

#[test]
fn result_is_ok_or_error() {
    both(Ok::<i32, String>(1), tuple(vec![atom("ok"), int(1)]));
    both(
        Err::<i32, String>("bad".into()),
        tuple(vec![atom("error"), s("bad")]),
    );
    // `Ok(())` is the bare `ok`, as Erlang replies.
    both(Ok::<(), Atom>(()), atom("ok"));
    both(
        Err::<(), Atom>(Atom::new("enoent")),
        tuple(vec![atom("error"), atom("enoent")]),
    );
    // `{ok, nil}` also reads as `Ok(())`.
    assert_eq!(
        from_term::<Result<(), Atom>>(&tuple(vec![atom("ok"), atom("nil")])).unwrap(),
        Ok(())
    );
    // A bare tag also reads as a newtype variant holding an `Option`.
    assert_eq!(
        from_term::<Result<Option<i32>, ()>>(&atom("ok")).unwrap(),
        Ok(None)
    );
    assert_eq!(
        err::<Result<i32, String>>(&atom("err")),
        "unknown variant atom err, expected one of ok, error (enum Result)"
    );
}

// ---------- pass-through ----------

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Envelope {
    from: Pid,
    tag: Ref,
    kind: Atom,
    body: Term,
    port: Port,
    big: BigInt,
    fun: Fun,
}

fn envelope() -> (Envelope, Term) {
    let body = tuple(vec![
        atom("hello"),
        Term::improper_list(vec![int(1)], int(2)),
        Term::bitstring(&[0xf0], 4).unwrap(),
        Term::map(vec![(Term::Pid(pid()), Term::Float(1.0))]),
    ]);
    let port = Port::new("a@host", 7, 3);
    let big: BigInt = "123456789012345678901234567890".parse().unwrap();
    let fun = Fun::export("lists", "map", 2);
    let e = Envelope {
        from: pid(),
        tag: reference(),
        kind: Atom::new("cast"),
        body: body.clone(),
        port: port.clone(),
        big: big.clone(),
        fun: fun.clone(),
    };
    let t = Term::map(vec![
        (atom("from"), Term::Pid(pid())),
        (atom("tag"), Term::from(reference())),
        (atom("kind"), atom("cast")),
        (atom("body"), body),
        (atom("port"), Term::from(port)),
        (atom("big"), Term::from(big)),
        (atom("fun"), Term::from(fun)),
    ]);
    (e, t)
}

#[test]
fn term_types_pass_through_structs() {
    let (e, t) = envelope();
    both(e, t);
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Signal {
    Down(Ref, Pid, Term),
    Raw(Term),
    Named { who: Atom, what: Term },
}

#[test]
fn term_types_pass_through_enums() {
    both(
        Signal::Down(reference(), pid(), atom("noproc")),
        tuple(vec![
            atom("down"),
            Term::from(reference()),
            Term::Pid(pid()),
            atom("noproc"),
        ]),
    );
    both(
        Signal::Raw(Term::nil()),
        tuple(vec![atom("raw"), Term::nil()]),
    );
    both(
        Signal::Named {
            who: Atom::new("x"),
            what: int(1),
        },
        tuple(vec![
            atom("named"),
            Term::map(vec![(atom("who"), atom("x")), (atom("what"), int(1))]),
        ]),
    );
}

#[test]
fn term_types_at_top_level() {
    let (_, t) = envelope();
    assert_eq!(to_term(&t).unwrap(), t);
    assert_eq!(from_term::<Term>(&t).unwrap(), t);
    both(pid(), Term::Pid(pid()));
    both(Atom::new("ok"), atom("ok"));
    both(reference(), Term::from(reference()));
    // A BigInt accepts (and gives back) small integers too.
    both(BigInt::from_i128(5), int(5));
    // Vec<Term> is a list of the terms.
    both(vec![atom("a"), int(1)], Term::list(vec![atom("a"), int(1)]));
}

#[test]
fn term_type_errors() {
    let (_, t) = envelope();
    let mut m = t.as_map().unwrap().clone();
    m.insert(atom("from"), atom("foo"));
    assert_eq!(
        err::<Envelope>(&Term::Map(m)),
        "expected a pid, found atom foo, at .from"
    );
    assert_eq!(
        err::<Atom>(&s("ok")),
        r#"expected an atom, found binary <<"ok">>"#
    );
    assert_eq!(
        err::<Ref>(&Term::Pid(pid())),
        "expected a reference, found pid <0.85.0>"
    );
    assert_eq!(err::<Port>(&int(1)), "expected a port, found integer 1");
    assert_eq!(
        err::<BigInt>(&Term::Float(1.0)),
        "expected an integer, found float 1.0"
    );
    assert_eq!(
        err::<Fun>(&Term::nil()),
        "expected a fun, found empty list []"
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(untagged)]
enum Either {
    Pid(Pid),
    Name(Atom),
    Number(i64),
}

#[test]
fn untagged_enums_with_term_types() {
    assert_eq!(
        from_term::<Either>(&Term::Pid(pid())).unwrap(),
        Either::Pid(pid())
    );
    assert_eq!(
        from_term::<Either>(&atom("x")).unwrap(),
        Either::Name(Atom::new("x"))
    );
    assert_eq!(from_term::<Either>(&int(3)).unwrap(), Either::Number(3));
    assert_eq!(to_term(&Either::Pid(pid())).unwrap(), Term::Pid(pid()));
    assert_eq!(to_term(&Either::Name(Atom::new("x"))).unwrap(), atom("x"));
}

// ---------- the seed chat protocol ----------

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum ServerCall {
    Connect(String),
    Disconnect(String),
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum ServerCast {
    Say(String, String),
    PrivateMessage(String, String, String),
    ListUsers(String),
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum HandlerCast {
    Message(String, String),
}

#[test]
fn chat_protocol() {
    // {:connect, "john"}, {:disconnect, "john"}
    assert_eq!(
        to_term(&ServerCall::Connect("john".into())).unwrap(),
        Term::tuple(vec![Term::atom("connect"), Term::string("john")])
    );
    both(
        ServerCall::Connect("john".into()),
        tuple(vec![atom("connect"), s("john")]),
    );
    both(
        ServerCall::Disconnect("john".into()),
        tuple(vec![atom("disconnect"), s("john")]),
    );
    // {:say, nick, msg}, {:private_message, nick, to, msg}, {:list_users, nick}
    both(
        ServerCast::Say("john".into(), "hi all".into()),
        tuple(vec![atom("say"), s("john"), s("hi all")]),
    );
    both(
        ServerCast::PrivateMessage("john".into(), "mary".into(), "psst".into()),
        tuple(vec![
            atom("private_message"),
            s("john"),
            s("mary"),
            s("psst"),
        ]),
    );
    both(
        ServerCast::ListUsers("john".into()),
        tuple(vec![atom("list_users"), s("john")]),
    );
    // {:ok, "a:b"}, :nick_not_allowed, :nick_in_use
    both(
        ConnectReply::Ok("a:b".into()),
        tuple(vec![atom("ok"), s("a:b")]),
    );
    both(ConnectReply::NickNotAllowed, atom("nick_not_allowed"));
    both(ConnectReply::NickInUse, atom("nick_in_use"));
    // {:message, nick, msg}
    both(
        HandlerCast::Message("john".into(), "hello".into()),
        tuple(vec![atom("message"), s("john"), s("hello")]),
    );
    // Mistakes an Elixir peer could make.
    assert_eq!(
        err::<ServerCast>(&tuple(vec![atom("say"), s("a")])),
        r#"expected a tuple of 3 elements for variant say, found tuple {say,<<"a">>}"#
    );
    assert_eq!(
        err::<ServerCall>(&tuple(vec![atom("connect"), atom("john")])),
        "expected a binary (string), found atom john, at {connect}"
    );
    assert_eq!(
        err::<ServerCall>(&atom("x")),
        "unknown variant atom x, expected one of connect, disconnect (enum ServerCall)"
    );
}

// ---------- error rendering ----------

#[test]
fn long_terms_are_truncated_in_errors() {
    let big = Term::list((0..100_000).map(int).collect());
    let msg = err::<String>(&big);
    assert!(
        msg.starts_with("expected a binary (string), found list [0,1,2,"),
        "{msg}"
    );
    assert!(msg.ends_with("..."), "{msg}");
    assert!(msg.len() < 160, "{msg}");
    let nested = vec![User {
        nick: "a".into(),
        age: 1,
        email: None,
        tags: vec![],
    }];
    let mut t = to_term(&nested).unwrap();
    if let Term::List(items) = &mut t {
        if let Term::Map(m) = &mut items[0] {
            m.insert(atom("tags"), Term::list(vec![s("ok"), int(5)]));
        }
    }
    assert_eq!(
        err::<Vec<User>>(&t),
        "expected a binary (string), found integer 5, at [0].tags[1]"
    );
}

// ---------- other formats (JSON): the fallback forms ----------

#[test]
fn json_fallback_forms() {
    assert_eq!(serde_json::to_string(&Atom::new("ok")).unwrap(), r#""ok""#);
    assert_eq!(
        serde_json::to_string(&pid()).unwrap(),
        r#"{"node":"a@host","id":85,"serial":0,"creation":3}"#
    );
    assert_eq!(
        serde_json::to_string(&reference()).unwrap(),
        r#"{"node":"a@host","creation":3,"ids":[1,2,3]}"#
    );
    let big: BigInt = "-123456789012345678901234567890".parse().unwrap();
    assert_eq!(
        serde_json::to_string(&big).unwrap(),
        r#""-123456789012345678901234567890""#
    );
    assert_eq!(
        serde_json::to_string(&tuple(vec![atom("ok"), int(1)])).unwrap(),
        r#"{"Tuple":[{"Atom":"ok"},{"Int":1}]}"#
    );
    let (e, _) = envelope();
    let json = serde_json::to_string(&e).unwrap();
    let back: Envelope = serde_json::from_str(&json).unwrap();
    assert_eq!(back, e);
    assert!(serde_json::from_str::<Ref>(r#"{"node":"a","creation":1,"ids":[]}"#).is_err());
    assert!(serde_json::from_str::<Atom>(&format!("\"{}\"", "x".repeat(256))).is_err());
}

#[test]
fn json_inside_to_term_does_not_leak() {
    /// Serializes its term as JSON text, from inside `to_term`.
    struct AsJson(Term);
    impl Serialize for AsJson {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let text = serde_json::to_string(&self.0).map_err(serde::ser::Error::custom)?;
            s.serialize_str(&text)
        }
    }
    let t = to_term(&(AsJson(atom("a")), atom("b"))).unwrap();
    assert_eq!(t, tuple(vec![s(r#"{"Atom":"a"}"#), atom("b")]));
}

type Mixed = (
    ServerCast,
    i64,
    u64,
    f64,
    Vec<u128>,
    Option<Result<(), String>>,
);

proptest! {
    #[test]
    fn any_term_passes_through(t in support::arb::arb_term()) {
        prop_assert_eq!(&to_term(&t).unwrap(), &t);
        prop_assert_eq!(&from_term::<Term>(&t).unwrap(), &t);
        let wrapped = Signal::Raw(t.clone());
        let wt = to_term(&wrapped).unwrap();
        prop_assert_eq!(&wt, &tuple(vec![atom("raw"), t.clone()]));
        prop_assert_eq!(from_term::<Signal>(&wt).unwrap(), wrapped);
    }

    #[test]
    fn any_term_round_trips_through_json(t in support::arb::arb_term()) {
        let json = serde_json::to_string(&t).unwrap();
        let back: Term = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, t);
    }

    #[test]
    fn typed_values_round_trip(
        nick in "\\PC{0,20}",
        n in any::<i64>(),
        u in any::<u64>(),
        f in any::<f64>().prop_filter("finite", |f| f.is_finite()),
        v in prop::collection::vec(any::<u128>(), 0..5),
    ) {
        let value = (ServerCast::Say(nick.clone(), nick), n, u, f, v, Some(Ok::<(), String>(())));
        let t = to_term(&value).unwrap();
        let back: Mixed = from_term(&t).unwrap();
        prop_assert_eq!(back, value);
    }
}

// ---------- self-describing reads, flatten, ambiguities ----------

#[test]
fn reading_without_a_type_hint() {
    use serde_json::{json, Value};
    let t = tuple(vec![
        atom("ok"),
        atom("true"),
        atom("nil"),
        int(-1),
        Term::Float(0.5),
        s("text"),
        Term::list(vec![int(1)]),
        Term::map(vec![(atom("k"), Term::Pid(pid()))]),
    ]);
    let v: Value = from_term(&t).unwrap();
    assert_eq!(
        v,
        json!([
            "ok",
            true,
            null,
            -1,
            0.5,
            "text",
            [1],
            {"k": {"node": "a@host", "id": 85, "serial": 0, "creation": 3}}
        ])
    );
    let fun = Term::from(Fun::export("m", "f", 0));
    assert_eq!(
        err::<Value>(&fun),
        "found fun fun m:f/0, which has no serde equivalent (use Term)"
    );
    assert!(err::<Value>(&Term::improper_list(vec![int(1)], int(2))).contains("improper list"));
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Outer {
    id: u32,
    #[serde(flatten)]
    inner: Inner,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Inner {
    owner: Pid,
    name: Atom,
}

#[test]
fn flatten_reads_atom_keys_and_round_trips() {
    let value = Outer {
        id: 1,
        inner: Inner {
            owner: pid(),
            name: Atom::new("n"),
        },
    };
    // Serde writes a flattened struct as a map with string keys (binaries).
    let t = to_term(&value).unwrap();
    assert_eq!(
        t,
        Term::map(vec![
            (s("id"), int(1)),
            (s("owner"), Term::Pid(pid())),
            (s("name"), atom("n")),
        ])
    );
    assert_eq!(from_term::<Outer>(&t).unwrap(), value);
    // Atom keys, as an Elixir peer writes them, are read too.
    let elixir = Term::map(vec![
        (atom("id"), int(1)),
        (atom("owner"), Term::Pid(pid())),
        (atom("name"), atom("n")),
    ]);
    assert_eq!(from_term::<Outer>(&elixir).unwrap(), value);
}

#[test]
fn nil_is_ambiguous_in_nested_options() {
    // Documented: `nil` is `None`, so `Some(None)` and `Some(())` read back as `None`.
    assert_eq!(to_term(&Some(None::<i32>)).unwrap(), atom("nil"));
    assert_eq!(
        from_term::<Option<Option<i32>>>(&atom("nil")).unwrap(),
        None
    );
    assert_eq!(from_term::<Option<()>>(&atom("nil")).unwrap(), None);
}

#[test]
fn failed_reads_leave_nothing_behind() {
    // A refused pass-through must not affect the next conversion.
    assert!(from_term::<Pid>(&atom("x")).is_err());
    assert!(from_term::<(Atom, Pid)>(&tuple(vec![atom("a"), atom("b")])).is_err());
    assert_eq!(from_term::<Atom>(&atom("y")).unwrap(), Atom::new("y"));
    assert_eq!(
        serde_json::to_string(&atom("z")).unwrap(),
        r#"{"Atom":"z"}"#
    );
    assert_eq!(to_term(&Atom::new("w")).unwrap(), atom("w"));
}

#[test]
fn deep_terms() {
    fn nested(depth: usize) -> Term {
        let mut t = Term::nil();
        for _ in 0..depth {
            t = Term::list(vec![t]);
        }
        t
    }
    // Up to 128 levels read through serde, as serde_json allows.
    let ok = nested(120);
    let v: serde_json::Value = from_term(&ok).unwrap();
    assert_eq!(to_term(&v).unwrap(), ok);
    // Deeper terms are refused rather than risking the stack...
    let deep = nested(512);
    let msg = err::<serde_json::Value>(&deep);
    assert!(
        msg.starts_with("the term is nested more than 128 levels"),
        "{msg}"
    );
    assert!(msg.len() < 160, "{msg}");
    // ...but a Term is carried over whole, at any depth the decoder accepts.
    assert_eq!(from_term::<Term>(&deep).unwrap(), deep);
    let wrapped = tuple(vec![atom("raw"), deep.clone()]);
    assert_eq!(
        from_term::<Signal>(&wrapped).unwrap(),
        Signal::Raw(deep.clone())
    );
    assert_eq!(to_term(&Signal::Raw(deep)).unwrap(), wrapped);
}
