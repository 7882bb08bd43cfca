//! Rust values to terms: a serde `Serializer` that builds [`Term`]s directly.

use super::{names, passthrough, Error};
use crate::{Atom, BigInt, Term, TermMap};
use bytes::Bytes;
use serde::ser::{self, Serialize};

/// Largest capacity reserved up front from a length hint; longer sequences grow.
const MAX_RESERVE: usize = 4096;

/// The serializer: every method returns the finished term.
pub(crate) struct Ser;

fn nil() -> Term {
    Term::Atom(Atom::new("nil"))
}

fn atom_of(name: &str) -> Term {
    names::with_atom(name, |a| Term::Atom(Atom::new(a)))
}

fn variant_tag(enum_name: &str, variant: &str) -> Term {
    names::with_variant_atom(enum_name, variant, |a| Term::Atom(Atom::new(a)))
}

fn field_key(name: &str) -> Term {
    Term::Atom(Atom::new(names::field_atom(name)))
}

fn float(v: f64) -> Result<Term, Error> {
    if v.is_finite() {
        Ok(Term::Float(v))
    } else {
        Err(Error::new(format!(
            "cannot represent the float {v} as a term: Erlang floats are finite"
        )))
    }
}

impl ser::Serializer for Ser {
    type Ok = Term;
    type Error = Error;
    type SerializeSeq = SeqSer;
    type SerializeTuple = TupleSer;
    type SerializeTupleStruct = TupleSer;
    type SerializeTupleVariant = TupleSer;
    type SerializeMap = MapSer;
    type SerializeStruct = StructSer;
    type SerializeStructVariant = StructVariantSer;

    fn serialize_bool(self, v: bool) -> Result<Term, Error> {
        Ok(Term::boolean(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }

    fn serialize_i16(self, v: i16) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }

    fn serialize_i32(self, v: i32) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }

    fn serialize_i64(self, v: i64) -> Result<Term, Error> {
        Ok(Term::Int(v))
    }

    fn serialize_i128(self, v: i128) -> Result<Term, Error> {
        Ok(Term::int(v))
    }

    fn serialize_u8(self, v: u8) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }

    fn serialize_u16(self, v: u16) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }

    fn serialize_u32(self, v: u32) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }

    fn serialize_u64(self, v: u64) -> Result<Term, Error> {
        Ok(Term::int(v.into()))
    }

    fn serialize_u128(self, v: u128) -> Result<Term, Error> {
        Ok(match i128::try_from(v) {
            Ok(i) => Term::int(i),
            Err(_) => Term::from_bigint(BigInt::from_le_bytes(false, &v.to_le_bytes())),
        })
    }

    fn serialize_f32(self, v: f32) -> Result<Term, Error> {
        float(v.into())
    }

    fn serialize_f64(self, v: f64) -> Result<Term, Error> {
        float(v)
    }

    fn serialize_char(self, v: char) -> Result<Term, Error> {
        Ok(Term::Int(u32::from(v).into()))
    }

    fn serialize_str(self, v: &str) -> Result<Term, Error> {
        Ok(Term::string(v))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Term, Error> {
        Ok(Term::Binary(Bytes::copy_from_slice(v)))
    }

    fn serialize_none(self) -> Result<Term, Error> {
        Ok(nil())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Term, Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Term, Error> {
        Ok(nil())
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<Term, Error> {
        if name == "PhantomData" {
            return Ok(nil());
        }
        Ok(atom_of(name))
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Term, Error> {
        Ok(variant_tag(name, variant))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Term, Error> {
        if passthrough::is_magic(name) {
            return passthrough::capture(value);
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Term, Error> {
        let tag = variant_tag(name, variant);
        let inner = value.serialize(Ser)?;
        // `Ok(())` is the bare `ok`: a zero-sized value that is `nil` is `()` or alike.
        if std::mem::size_of_val(value) == 0 && inner.is_atom("nil") {
            return Ok(tag);
        }
        Ok(Term::Tuple(vec![tag, inner]))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, Error> {
        Ok(SeqSer(Vec::with_capacity(
            len.unwrap_or(0).min(MAX_RESERVE),
        )))
    }

    fn serialize_tuple(self, len: usize) -> Result<TupleSer, Error> {
        Ok(TupleSer(Vec::with_capacity(len.min(MAX_RESERVE))))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<TupleSer, Error> {
        Ok(TupleSer(Vec::with_capacity(len.min(MAX_RESERVE))))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<TupleSer, Error> {
        let mut v = Vec::with_capacity(len.saturating_add(1).min(MAX_RESERVE));
        v.push(variant_tag(name, variant));
        Ok(TupleSer(v))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<MapSer, Error> {
        Ok(MapSer {
            entries: Vec::with_capacity(len.unwrap_or(0).min(MAX_RESERVE)),
            key: None,
        })
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<StructSer, Error> {
        Ok(StructSer(Vec::with_capacity(len.min(MAX_RESERVE))))
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<StructVariantSer, Error> {
        Ok(StructVariantSer {
            tag: variant_tag(name, variant),
            fields: StructSer(Vec::with_capacity(len.min(MAX_RESERVE))),
        })
    }
}

/// A proper list under construction.
pub(crate) struct SeqSer(Vec<Term>);

impl ser::SerializeSeq for SeqSer {
    type Ok = Term;
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.0.push(value.serialize(Ser)?);
        Ok(())
    }

    fn end(self) -> Result<Term, Error> {
        Ok(Term::List(self.0))
    }
}

/// A tuple under construction; for a tuple variant the tag is already in it.
pub(crate) struct TupleSer(Vec<Term>);

impl TupleSer {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.0.push(value.serialize(Ser)?);
        Ok(())
    }
}

impl ser::SerializeTuple for TupleSer {
    type Ok = Term;
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }

    fn end(self) -> Result<Term, Error> {
        Ok(Term::Tuple(self.0))
    }
}

impl ser::SerializeTupleStruct for TupleSer {
    type Ok = Term;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }

    fn end(self) -> Result<Term, Error> {
        Ok(Term::Tuple(self.0))
    }
}

impl ser::SerializeTupleVariant for TupleSer {
    type Ok = Term;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }

    fn end(self) -> Result<Term, Error> {
        Ok(Term::Tuple(self.0))
    }
}

/// A map under construction.
pub(crate) struct MapSer {
    entries: Vec<(Term, Term)>,
    key: Option<Term>,
}

impl ser::SerializeMap for MapSer {
    type Ok = Term;
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(key.serialize(Ser)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error::new("a map value was serialized before its key"))?;
        self.entries.push((key, value.serialize(Ser)?));
        Ok(())
    }

    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), Error> {
        let key = key.serialize(Ser)?;
        self.entries.push((key, value.serialize(Ser)?));
        Ok(())
    }

    fn end(self) -> Result<Term, Error> {
        if self.key.is_some() {
            return Err(Error::new("a map key was serialized without its value"));
        }
        Ok(Term::Map(TermMap::from_pairs(self.entries)))
    }
}

/// A struct's map with atom keys, under construction.
pub(crate) struct StructSer(Vec<(Term, Term)>);

impl StructSer {
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        let value = value.serialize(Ser)?;
        self.0.push((field_key(key), value));
        Ok(())
    }
}

impl ser::SerializeStruct for StructSer {
    type Ok = Term;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }

    fn end(self) -> Result<Term, Error> {
        Ok(Term::Map(TermMap::from_pairs(self.0)))
    }
}

/// `{tag, #{field => value}}` under construction.
pub(crate) struct StructVariantSer {
    tag: Term,
    fields: StructSer,
}

impl ser::SerializeStructVariant for StructVariantSer {
    type Ok = Term;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.fields.field(key, value)
    }

    fn end(self) -> Result<Term, Error> {
        Ok(Term::Tuple(vec![
            self.tag,
            Term::Map(TermMap::from_pairs(self.fields.0)),
        ]))
    }
}
