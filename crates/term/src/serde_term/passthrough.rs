//! `Serialize` and `Deserialize` for the term types themselves, so that a [`Term`],
//! [`Atom`], [`Pid`], [`Port`], [`Ref`], [`BigInt`] or [`Fun`] inside a typed value is
//! carried over unchanged.
//!
//! # How
//!
//! Each type serializes as a newtype struct with a reserved name (`$ferrobeam_term::…`)
//! around a private handle. This module's serializer recognizes the name, raises a
//! thread-local flag and serializes the handle; the handle sees the flag, puts a clone of
//! its term in a thread-local slot, and the serializer takes it from there. Any other
//! serializer sees an ordinary newtype struct and the handle, finding no flag, writes
//! the type's fallback form.
//!
//! Deserialization mirrors it: this module's deserializer, asked for a newtype struct
//! with a reserved name, checks the term's shape, puts a clone in the slot and calls
//! `visit_newtype_struct`; the type's visitor takes the term from the slot. With another
//! deserializer the slot is empty and the visitor reads the fallback form.
//!
//! The flag is consumed by the very next handle, and the slot is emptied right after each
//! hand-over, so nothing leaks from one conversion to the next.

use super::ser::Ser;
use super::Error;
use crate::{Atom, BigInt, Fun, Pid, Port, Ref, Term, TermMap};
use bytes::Bytes;
use serde::de::{self, Deserializer, IntoDeserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

const PREFIX: &str = "$ferrobeam_term::";
const TERM: &str = "$ferrobeam_term::Term";
const ATOM: &str = "$ferrobeam_term::Atom";
const PID: &str = "$ferrobeam_term::Pid";
const PORT: &str = "$ferrobeam_term::Port";
const REF: &str = "$ferrobeam_term::Ref";
const BIGINT: &str = "$ferrobeam_term::BigInt";
const FUN: &str = "$ferrobeam_term::Fun";
const BINARY: &str = "$ferrobeam_term::Binary";

thread_local! {
    /// Set by the serializer right before it serializes a handle.
    static CAPTURE: Cell<bool> = const { Cell::new(false) };
    /// The term being handed over, in either direction.
    static SLOT: Cell<Option<Term>> = const { Cell::new(None) };
}

fn take_capture_flag() -> bool {
    CAPTURE.try_with(|c| c.replace(false)).unwrap_or(false)
}

fn set_capture_flag(on: bool) {
    let _ = CAPTURE.try_with(|c| c.set(on));
}

fn put(term: Term) {
    let _ = SLOT.try_with(|s| s.set(Some(term)));
}

fn take() -> Option<Term> {
    SLOT.try_with(Cell::take).ok().flatten()
}

/// True for a reserved newtype struct name.
pub(crate) fn is_magic(name: &str) -> bool {
    name.starts_with(PREFIX)
}

/// For the serializer: serializes a reserved newtype struct's value, expecting a handle
/// to hand its term over.
pub(crate) fn capture<T: Serialize + ?Sized>(value: &T) -> Result<Term, Error> {
    set_capture_flag(true);
    let written = value.serialize(Ser);
    set_capture_flag(false);
    match take() {
        Some(term) => Ok(term),
        // Not one of ours after all: an ordinary newtype struct.
        None => written,
    }
}

/// For the deserializer: what a reserved name expects, and whether `term` is that.
/// `None` for a name that is not reserved.
pub(crate) fn expects(name: &str, term: &Term) -> Option<Result<(), &'static str>> {
    let (ok, what) = match name {
        TERM => (true, "any term"),
        ATOM => (matches!(term, Term::Atom(_)), "an atom"),
        PID => (matches!(term, Term::Pid(_)), "a pid"),
        PORT => (matches!(term, Term::Port(_)), "a port"),
        REF => (matches!(term, Term::Ref(_)), "a reference"),
        BIGINT => (matches!(term, Term::Int(_) | Term::BigInt(_)), "an integer"),
        FUN => (matches!(term, Term::Fun(_)), "a fun"),
        BINARY => (matches!(term, Term::Binary(_)), "a binary"),
        _ => return None,
    };
    Some(if ok { Ok(()) } else { Err(what) })
}

/// For the deserializer: offers `term` to the visitor it is about to call, and withdraws
/// it afterwards if the visitor did not take it.
pub(crate) fn offer<R>(term: Term, call: impl FnOnce() -> R) -> R {
    put(term);
    let r = call();
    drop(take());
    r
}

/// A type carried over unchanged.
pub(crate) trait PassThrough: Sized {
    /// The reserved newtype struct name.
    const NAME: &'static str;
    /// What the visitor expects, for error messages.
    const EXPECTING: &'static str;
    /// The term to hand over.
    fn to_term(&self) -> Term;
    /// The value from a handed-over term, or the term back if it has the wrong shape.
    fn from_term(term: Term) -> Result<Self, Term>;
    /// The form written by other serializers.
    fn serialize_fallback<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
    /// Reads the fallback form from another deserializer.
    fn deserialize_fallback<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

struct Handle<'a, T>(&'a T);

impl<T: PassThrough> Serialize for Handle<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if take_capture_flag() {
            put(self.0.to_term());
            s.serialize_unit()
        } else {
            self.0.serialize_fallback(s)
        }
    }
}

/// Serializes a pass-through value.
pub(crate) fn serialize<T: PassThrough, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_newtype_struct(T::NAME, &Handle(v))
}

/// Deserializes a pass-through value.
pub(crate) fn deserialize<'de, T: PassThrough, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    d.deserialize_newtype_struct(T::NAME, PassVisitor(PhantomData))
}

struct PassVisitor<T>(PhantomData<T>);

macro_rules! forward_visit {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<T, E> {
            T::deserialize_fallback(v.into_deserializer())
        }
    )*};
}

impl<'de, T: PassThrough> Visitor<'de> for PassVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        match take() {
            Some(term) => T::from_term(term).map_err(|term| {
                de::Error::custom(format_args!(
                    "expected {}, found {}",
                    T::EXPECTING,
                    super::Found(&term)
                ))
            }),
            None => T::deserialize_fallback(d),
        }
    }

    // Formats that do not wrap newtype structs hand over the fallback form directly.
    forward_visit! {
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_i128(i128),
        visit_u128(u128),
        visit_f64(f64),
        visit_string(String),
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::deserialize_fallback(v.into_deserializer())
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<T, E> {
        T::deserialize_fallback(de::value::BorrowedStrDeserializer::new(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<T, E> {
        T::deserialize_fallback(de::value::BytesDeserializer::new(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        T::deserialize_fallback(().into_deserializer())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::deserialize_fallback(de::value::SeqAccessDeserializer::new(seq))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize_fallback(de::value::MapAccessDeserializer::new(map))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<T, A::Error> {
        T::deserialize_fallback(de::value::EnumAccessDeserializer::new(data))
    }
}

macro_rules! serde_impls {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                serialize(self, s)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                deserialize(d)
            }
        }
    )*};
}

serde_impls!(Term, Atom, Pid, Port, Ref, BigInt, Fun);

// ---- Atom: fallback is its text. ----

impl PassThrough for Atom {
    const NAME: &'static str = ATOM;
    const EXPECTING: &'static str = "an atom";

    fn to_term(&self) -> Term {
        Term::Atom(self.clone())
    }

    fn from_term(term: Term) -> Result<Atom, Term> {
        match term {
            Term::Atom(a) => Ok(a),
            other => Err(other),
        }
    }

    fn serialize_fallback<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }

    fn deserialize_fallback<'de, D: Deserializer<'de>>(d: D) -> Result<Atom, D::Error> {
        d.deserialize_str(AtomVisitor)
    }
}

struct AtomVisitor;

impl Visitor<'_> for AtomVisitor {
    type Value = Atom;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an atom's text")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Atom, E> {
        Atom::try_new(v).ok_or_else(|| E::custom("an atom has at most 255 characters"))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Atom, E> {
        Ok(Atom::new(if v { "true" } else { "false" }))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Atom, E> {
        Ok(Atom::new("nil"))
    }
}

// ---- Pid, Port, Ref: fallback is a struct of their fields. ----

#[derive(Serialize)]
#[serde(rename = "Pid")]
struct PidOut<'a> {
    node: &'a Atom,
    id: u32,
    serial: u32,
    creation: u32,
}

#[derive(Deserialize)]
#[serde(rename = "Pid")]
struct PidIn {
    node: Atom,
    id: u32,
    serial: u32,
    creation: u32,
}

impl PassThrough for Pid {
    const NAME: &'static str = PID;
    const EXPECTING: &'static str = "a pid";

    fn to_term(&self) -> Term {
        Term::Pid(self.clone())
    }

    fn from_term(term: Term) -> Result<Pid, Term> {
        match term {
            Term::Pid(p) => Ok(p),
            other => Err(other),
        }
    }

    fn serialize_fallback<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PidOut {
            node: &self.node,
            id: self.id,
            serial: self.serial,
            creation: self.creation,
        }
        .serialize(s)
    }

    fn deserialize_fallback<'de, D: Deserializer<'de>>(d: D) -> Result<Pid, D::Error> {
        let p = PidIn::deserialize(d)?;
        Ok(Pid::new(p.node, p.id, p.serial, p.creation))
    }
}

#[derive(Serialize)]
#[serde(rename = "Port")]
struct PortOut<'a> {
    node: &'a Atom,
    id: u64,
    creation: u32,
}

#[derive(Deserialize)]
#[serde(rename = "Port")]
struct PortIn {
    node: Atom,
    id: u64,
    creation: u32,
}

impl PassThrough for Port {
    const NAME: &'static str = PORT;
    const EXPECTING: &'static str = "a port";

    fn to_term(&self) -> Term {
        Term::Port(Box::new(self.clone()))
    }

    fn from_term(term: Term) -> Result<Port, Term> {
        match term {
            Term::Port(p) => Ok(*p),
            other => Err(other),
        }
    }

    fn serialize_fallback<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PortOut {
            node: &self.node,
            id: self.id,
            creation: self.creation,
        }
        .serialize(s)
    }

    fn deserialize_fallback<'de, D: Deserializer<'de>>(d: D) -> Result<Port, D::Error> {
        let p = PortIn::deserialize(d)?;
        Ok(Port::new(p.node, p.id, p.creation))
    }
}

#[derive(Serialize)]
#[serde(rename = "Ref")]
struct RefOut<'a> {
    node: &'a Atom,
    creation: u32,
    ids: &'a [u32],
}

#[derive(Deserialize)]
#[serde(rename = "Ref")]
struct RefIn {
    node: Atom,
    creation: u32,
    ids: Vec<u32>,
}

impl PassThrough for Ref {
    const NAME: &'static str = REF;
    const EXPECTING: &'static str = "a reference";

    fn to_term(&self) -> Term {
        Term::Ref(Box::new(self.clone()))
    }

    fn from_term(term: Term) -> Result<Ref, Term> {
        match term {
            Term::Ref(r) => Ok(*r),
            other => Err(other),
        }
    }

    fn serialize_fallback<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RefOut {
            node: &self.node,
            creation: self.creation,
            ids: self.ids(),
        }
        .serialize(s)
    }

    fn deserialize_fallback<'de, D: Deserializer<'de>>(d: D) -> Result<Ref, D::Error> {
        let r = RefIn::deserialize(d)?;
        Ref::new(r.node, r.creation, &r.ids)
            .ok_or_else(|| de::Error::custom("a reference has 1 to 5 id words"))
    }
}

// ---- BigInt: fallback is its decimal text. ----

impl PassThrough for BigInt {
    const NAME: &'static str = BIGINT;
    const EXPECTING: &'static str = "an integer";

    fn to_term(&self) -> Term {
        Term::from_bigint(self.clone())
    }

    fn from_term(term: Term) -> Result<BigInt, Term> {
        match term {
            Term::Int(i) => Ok(BigInt::from_i128(i.into())),
            Term::BigInt(b) => Ok(*b),
            other => Err(other),
        }
    }

    fn serialize_fallback<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }

    fn deserialize_fallback<'de, D: Deserializer<'de>>(d: D) -> Result<BigInt, D::Error> {
        d.deserialize_str(BigIntVisitor)
    }
}

struct BigIntVisitor;

impl Visitor<'_> for BigIntVisitor {
    type Value = BigInt;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or its decimal text")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<BigInt, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<BigInt, E> {
        Ok(BigInt::from_i128(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<BigInt, E> {
        Ok(BigInt::from_i128(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<BigInt, E> {
        Ok(BigInt::from_i128(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<BigInt, E> {
        Ok(BigInt::from_le_bytes(false, &v.to_le_bytes()))
    }
}

// ---- Fun: fallback is its encoding (without the version byte). ----

impl PassThrough for Fun {
    const NAME: &'static str = FUN;
    const EXPECTING: &'static str = "a fun";

    fn to_term(&self) -> Term {
        Term::Fun(Box::new(self.clone()))
    }

    fn from_term(term: Term) -> Result<Fun, Term> {
        match term {
            Term::Fun(f) => Ok(*f),
            other => Err(other),
        }
    }

    fn serialize_fallback<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.raw)
    }

    fn deserialize_fallback<'de, D: Deserializer<'de>>(d: D) -> Result<Fun, D::Error> {
        let raw = d.deserialize_byte_buf(BytesVisitor)?;
        fun_from_raw(&raw)
    }
}

fn fun_from_raw<E: de::Error>(raw: &[u8]) -> Result<Fun, E> {
    let mut buf = Vec::with_capacity(raw.len() + 1);
    buf.push(crate::etf::VERSION);
    buf.extend_from_slice(raw);
    match crate::etf::decode(&buf) {
        Ok(Term::Fun(f)) => Ok(*f),
        Ok(other) => Err(E::custom(format_args!(
            "expected the encoding of a fun, found the encoding of {}",
            super::Found(&other)
        ))),
        Err(e) => Err(E::custom(e)),
    }
}

// ---- Bytes: the `serde_term::bytes` field adapter. ----

impl PassThrough for Bytes {
    const NAME: &'static str = BINARY;
    const EXPECTING: &'static str = "a binary";

    fn to_term(&self) -> Term {
        Term::Binary(self.clone())
    }

    fn from_term(term: Term) -> Result<Bytes, Term> {
        match term {
            Term::Binary(b) => Ok(b),
            other => Err(other),
        }
    }

    fn serialize_fallback<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self)
    }

    fn deserialize_fallback<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        d.deserialize_byte_buf(BytesVisitor).map(Bytes::from)
    }
}

/// Reads bytes from bytes, a byte buffer, a string or a sequence of bytes.
struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        Ok(v.as_bytes().to_vec())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(b) = seq.next_element::<u8>()? {
            v.push(b);
        }
        Ok(v)
    }
}

// ---- Term: fallback is an externally tagged enum of its variants. ----

/// Bytes written with `serialize_bytes`.
struct RawBytes<'a>(&'a [u8]);

impl Serialize for RawBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Bytes read from bytes or a sequence of bytes.
struct ByteBuf(Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ByteBuf, D::Error> {
        d.deserialize_byte_buf(BytesVisitor).map(ByteBuf)
    }
}

#[derive(Serialize)]
#[serde(rename = "Term")]
enum TermOut<'a> {
    Int(i64),
    BigInt(&'a BigInt),
    Float(f64),
    Atom(&'a Atom),
    Binary(RawBytes<'a>),
    BitBinary {
        data: RawBytes<'a>,
        bits: u8,
    },
    List(&'a [Term]),
    ImproperList {
        elements: &'a [Term],
        tail: &'a Term,
    },
    Tuple(&'a [Term]),
    Map(&'a [(Term, Term)]),
    Pid(&'a Pid),
    Port(&'a Port),
    Ref(&'a Ref),
    Fun(&'a Fun),
}

#[derive(Deserialize)]
#[serde(rename = "Term")]
enum TermIn {
    Int(i64),
    BigInt(BigInt),
    Float(f64),
    Atom(Atom),
    Binary(ByteBuf),
    BitBinary {
        data: ByteBuf,
        bits: u8,
    },
    List(Vec<Term>),
    ImproperList {
        elements: Vec<Term>,
        tail: Box<Term>,
    },
    Tuple(Vec<Term>),
    Map(Vec<(Term, Term)>),
    Pid(Pid),
    Port(Port),
    Ref(Ref),
    Fun(Fun),
}

impl TermIn {
    fn into_term<E: de::Error>(self) -> Result<Term, E> {
        Ok(match self {
            TermIn::Int(i) => Term::Int(i),
            TermIn::BigInt(b) => Term::from_bigint(b),
            TermIn::Float(f) if f.is_finite() => Term::Float(f),
            TermIn::Float(_) => return Err(E::custom("Erlang floats are finite")),
            TermIn::Atom(a) => Term::Atom(a),
            TermIn::Binary(b) => Term::Binary(Bytes::from(b.0)),
            TermIn::BitBinary { data, bits } => {
                if !(1..=7).contains(&bits) || data.0.is_empty() {
                    return Err(E::custom(
                        "a bitstring has 1 to 7 bits in a last byte that exists",
                    ));
                }
                let bit_len = (data.0.len() - 1) * 8 + usize::from(bits);
                Term::bitstring(&data.0, bit_len)
                    .ok_or_else(|| E::custom("bitstring data too short"))?
            }
            TermIn::List(l) => Term::List(l),
            TermIn::ImproperList { elements, tail } => Term::improper_list(elements, *tail),
            TermIn::Tuple(t) => Term::Tuple(t),
            TermIn::Map(pairs) => Term::Map(TermMap::from_pairs(pairs)),
            TermIn::Pid(p) => Term::Pid(p),
            TermIn::Port(p) => Term::Port(Box::new(p)),
            TermIn::Ref(r) => Term::Ref(Box::new(r)),
            TermIn::Fun(f) => Term::Fun(Box::new(f)),
        })
    }
}

impl PassThrough for Term {
    const NAME: &'static str = TERM;
    const EXPECTING: &'static str = "a term";

    fn to_term(&self) -> Term {
        self.clone()
    }

    fn from_term(term: Term) -> Result<Term, Term> {
        Ok(term)
    }

    fn serialize_fallback<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let out = match self {
            Term::Int(i) => TermOut::Int(*i),
            Term::BigInt(b) => TermOut::BigInt(b),
            Term::Float(f) => TermOut::Float(*f),
            Term::Atom(a) => TermOut::Atom(a),
            Term::Binary(b) => TermOut::Binary(RawBytes(b)),
            Term::BitBinary { data, bits } => TermOut::BitBinary {
                data: RawBytes(data),
                bits: *bits,
            },
            Term::List(l) => TermOut::List(l),
            Term::ImproperList { elements, tail } => TermOut::ImproperList { elements, tail },
            Term::Tuple(t) => TermOut::Tuple(t),
            Term::Map(m) => TermOut::Map(m.entries()),
            Term::Pid(p) => TermOut::Pid(p),
            Term::Port(p) => TermOut::Port(p),
            Term::Ref(r) => TermOut::Ref(r),
            Term::Fun(f) => TermOut::Fun(f),
        };
        out.serialize(s)
    }

    fn deserialize_fallback<'de, D: Deserializer<'de>>(d: D) -> Result<Term, D::Error> {
        TermIn::deserialize(d)?.into_term()
    }
}
