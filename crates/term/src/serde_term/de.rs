//! Terms to Rust values: a serde `Deserializer` over a borrowed [`Term`].

use super::{names, passthrough, Error, Found, Rendered, Seg};
use crate::{Atom, Term, TermMap};
use serde::de::value::{BorrowedStrDeserializer, MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use std::fmt::Display;
use std::sync::OnceLock;

/// Deepest nesting of compound terms read through serde (serde_json has the same limit).
/// Deeper terms would risk the stack; a `Term` field is carried over whole and does not
/// count.
pub(crate) const MAX_DEPTH: u32 = 128;

/// The deserializer: reads one term.
pub(crate) struct Deser<'de> {
    term: &'de Term,
    /// Nesting level of `term`: 0 for the top.
    depth: u32,
    /// A map key: a string may also be read from an atom (`%{name: 1}` as a
    /// `HashMap<String, _>`).
    key: bool,
}

impl<'de> Deser<'de> {
    pub(crate) fn new(term: &'de Term) -> Deser<'de> {
        Deser::at(term, 0)
    }

    fn at(term: &'de Term, depth: u32) -> Deser<'de> {
        Deser {
            term,
            depth,
            key: false,
        }
    }

    fn key(term: &'de Term, depth: u32) -> Deser<'de> {
        Deser {
            term,
            depth,
            key: true,
        }
    }

    /// The depth of this term's elements, or an error past [`MAX_DEPTH`].
    fn enter(&self) -> Result<u32, Error> {
        if self.depth >= MAX_DEPTH {
            return Err(Error::new(format!(
                "the term is nested more than {MAX_DEPTH} levels deep (read it as a Term)"
            )));
        }
        Ok(self.depth + 1)
    }

    fn mismatch(&self, expected: impl Display) -> Error {
        Error::mismatch(expected, self.term)
    }

    fn atom(&self) -> Option<&'de Atom> {
        match self.term {
            Term::Atom(a) => Some(a),
            _ => None,
        }
    }

    fn is_atom(&self, name: &str) -> bool {
        self.atom().is_some_and(|a| a.as_str() == name)
    }

    /// The error for an integer type `ty` that the term does not fit.
    fn int_error(&self, ty: &str) -> Error {
        match self.term {
            Term::Int(_) | Term::BigInt(_) => Error::new(format!(
                "expected an integer that fits in {ty}, found integer {} (out of range)",
                Rendered(self.term)
            )),
            _ => self.mismatch(format_args!("an integer ({ty})")),
        }
    }

    fn float(&self) -> Option<f64> {
        match self.term {
            Term::Float(f) => Some(*f),
            Term::Int(i) => Some(*i as f64),
            Term::BigInt(b) => Some(b.to_f64()),
            _ => None,
        }
    }

    fn str(&self, what: &str) -> Result<&'de str, Error> {
        match self.term {
            Term::Atom(a) if self.key => Ok(a.as_str()),
            Term::Binary(b) => std::str::from_utf8(b).map_err(|_| {
                Error::new(format!(
                    "expected {what}, found a binary that is not valid UTF-8: {}",
                    Rendered(self.term)
                ))
            }),
            _ => Err(self.mismatch(what)),
        }
    }
}

/// The atom `nil`, as a term with a `'static` lifetime.
fn nil_term() -> &'static Term {
    static NIL: OnceLock<Term> = OnceLock::new();
    NIL.get_or_init(|| Term::atom("nil"))
}

fn int_i128(term: &Term) -> Option<i128> {
    match term {
        Term::Int(i) => Some((*i).into()),
        Term::BigInt(b) => b.to_i128(),
        _ => None,
    }
}

fn int_u128(term: &Term) -> Option<u128> {
    match term {
        Term::Int(i) => u128::try_from(*i).ok(),
        Term::BigInt(b) if !b.is_negative() && b.magnitude_le().len() <= 16 => {
            let mut le = [0u8; 16];
            le[..b.magnitude_le().len()].copy_from_slice(b.magnitude_le());
            Some(u128::from_le_bytes(le))
        }
        _ => None,
    }
}

macro_rules! de_int {
    ($($method:ident => $visit:ident($ty:ty) via $get:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match $get(self.term).and_then(|v| <$ty>::try_from(v).ok()) {
                Some(v) => visitor.$visit(v),
                None => Err(self.int_error(stringify!($ty))),
            }
        }
    )*};
}

/// Visits the elements of a list or tuple, then checks that the visitor took them all.
fn visit_elements<'de, V: Visitor<'de>>(
    items: &'de [Term],
    what: &str,
    depth: u32,
    visitor: V,
) -> Result<V::Value, Error> {
    let mut seq = SeqAcc {
        iter: items.iter(),
        index: 0,
        depth,
    };
    let value = visitor.visit_seq(&mut seq)?;
    if seq.iter.len() > 0 {
        return Err(Error::new(format!(
            "{what} of {} elements has {} more than expected",
            items.len(),
            seq.iter.len()
        )));
    }
    Ok(value)
}

impl<'de> de::Deserializer<'de> for Deser<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.term {
            Term::Int(i) => visitor.visit_i64(*i),
            Term::BigInt(_) => {
                if let Some(i) = int_i128(self.term) {
                    visitor.visit_i128(i)
                } else if let Some(u) = int_u128(self.term) {
                    visitor.visit_u128(u)
                } else {
                    Err(Error::new(format!(
                        "found integer {}, which does not fit in 128 bits (use BigInt)",
                        Rendered(self.term)
                    )))
                }
            }
            Term::Float(f) => visitor.visit_f64(*f),
            Term::Atom(a) => match a.as_str() {
                "true" => visitor.visit_bool(true),
                "false" => visitor.visit_bool(false),
                "nil" => visitor.visit_unit(),
                s => visitor.visit_borrowed_str(s),
            },
            Term::Binary(b) => match std::str::from_utf8(b) {
                Ok(s) => visitor.visit_borrowed_str(s),
                Err(_) => visitor.visit_borrowed_bytes(b),
            },
            Term::List(items) => visit_elements(items, "a list", self.enter()?, visitor),
            Term::Tuple(items) => visit_elements(items, "a tuple", self.enter()?, visitor),
            Term::Map(m) => visitor.visit_map(MapAcc::new(m, self.enter()?)),
            Term::Pid(p) => visitor.visit_map(MapDeserializer::new(
                [
                    ("node", Field::Str(p.node.as_str())),
                    ("id", Field::U64(p.id.into())),
                    ("serial", Field::U64(p.serial.into())),
                    ("creation", Field::U64(p.creation.into())),
                ]
                .into_iter(),
            )),
            Term::Port(p) => visitor.visit_map(MapDeserializer::new(
                [
                    ("node", Field::Str(p.node.as_str())),
                    ("id", Field::U64(p.id)),
                    ("creation", Field::U64(p.creation.into())),
                ]
                .into_iter(),
            )),
            Term::Ref(r) => visitor.visit_map(MapDeserializer::new(
                [
                    ("node", Field::Str(r.node.as_str())),
                    ("creation", Field::U64(r.creation.into())),
                    ("ids", Field::Words(r.ids())),
                ]
                .into_iter(),
            )),
            Term::BitBinary { .. } | Term::ImproperList { .. } | Term::Fun(_) => {
                Err(Error::new(format!(
                    "found {}, which has no serde equivalent (use Term)",
                    Found(self.term)
                )))
            }
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.atom().map(Atom::as_str) {
            Some("true") => visitor.visit_bool(true),
            Some("false") => visitor.visit_bool(false),
            _ => Err(self.mismatch("a boolean (true or false)")),
        }
    }

    de_int! {
        deserialize_i8 => visit_i8(i8) via int_i128,
        deserialize_i16 => visit_i16(i16) via int_i128,
        deserialize_i32 => visit_i32(i32) via int_i128,
        deserialize_i64 => visit_i64(i64) via int_i128,
        deserialize_i128 => visit_i128(i128) via int_i128,
        deserialize_u8 => visit_u8(u8) via int_i128,
        deserialize_u16 => visit_u16(u16) via int_i128,
        deserialize_u32 => visit_u32(u32) via int_i128,
        deserialize_u64 => visit_u64(u64) via int_i128,
        deserialize_u128 => visit_u128(u128) via int_u128,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.float() {
            Some(f) if f.abs() <= f64::from(f32::MAX) => visitor.visit_f32(f as f32),
            Some(_) => Err(Error::new(format!(
                "expected a float that fits in f32, found {} (out of range)",
                Found(self.term)
            ))),
            None => Err(self.mismatch("a float")),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.float() {
            Some(f) if f.is_finite() => visitor.visit_f64(f),
            Some(_) => Err(Error::new(format!(
                "expected a float, found {} (out of range)",
                Found(self.term)
            ))),
            None => Err(self.mismatch("a float")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self
            .term
            .as_int()
            .and_then(|i| u32::try_from(i).ok())
            .and_then(char::from_u32)
        {
            Some(c) => visitor.visit_char(c),
            None => Err(self.mismatch("an integer that is a Unicode code point (char)")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.str("a binary (string)")?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.term {
            Term::Binary(b) => visitor.visit_borrowed_bytes(b),
            Term::List(items) => visit_elements(items, "a list", self.enter()?, visitor),
            _ => Err(self.mismatch("a binary")),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.is_atom("nil") {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.is_atom("nil") {
            visitor.visit_unit()
        } else {
            Err(self.mismatch("the atom nil (unit)"))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == "PhantomData" {
            return self.deserialize_unit(visitor);
        }
        let matches = self
            .atom()
            .is_some_and(|a| names::with_atom(name, |want| a.as_str() == want));
        if matches {
            visitor.visit_unit()
        } else {
            let want = names::with_atom(name, Term::atom);
            Err(self.mismatch(format_args!(
                "the atom {} (unit struct {name})",
                Rendered(&want)
            )))
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        match passthrough::expects(name, self.term) {
            None => visitor.visit_newtype_struct(self),
            Some(Ok(())) => {
                let term = self.term.clone();
                passthrough::offer(term, || visitor.visit_newtype_struct(self))
            }
            Some(Err(what)) => Err(self.mismatch(what)),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.term {
            Term::List(items) => visit_elements(items, "a list", self.enter()?, visitor),
            _ => Err(self.mismatch("a proper list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.term {
            Term::Tuple(items) if items.len() == len => {
                visit_elements(items, "a tuple", self.enter()?, visitor)
            }
            _ => Err(self.mismatch(format_args!("a tuple of {len} elements"))),
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.term {
            Term::Tuple(items) if items.len() == len => {
                visit_elements(items, "a tuple", self.enter()?, visitor)
            }
            _ => Err(self.mismatch(format_args!("a tuple of {len} elements ({name})"))),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.term {
            Term::Map(m) => visitor.visit_map(MapAcc::new(m, self.enter()?)),
            _ => Err(self.mismatch("a map")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.term {
            Term::Map(m) => visitor.visit_map(StructAcc::new(m, name, fields, self.enter()?)),
            _ => Err(self.mismatch(format_args!("a map with atom keys (struct {name})"))),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (tag, rest) = match self.term {
            Term::Atom(a) => (a, None),
            Term::Tuple(items) => match items.split_first() {
                Some((Term::Atom(a), rest)) => (a, Some(rest)),
                _ => {
                    return Err(self.mismatch(format_args!(
                        "an atom or a tuple tagged with an atom (enum {name})"
                    )))
                }
            },
            _ => {
                return Err(self.mismatch(format_args!(
                    "an atom or a tuple tagged with an atom (enum {name})"
                )))
            }
        };
        let depth = if rest.is_some() {
            self.enter()?
        } else {
            self.depth
        };
        visitor.visit_enum(EnumAcc {
            depth,
            name,
            variants,
            tag,
            rest,
            whole: self.term,
        })
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.term {
            Term::Atom(a) => visitor.visit_borrowed_str(a.as_str()),
            Term::Binary(_) => visitor.visit_borrowed_str(self.str("an identifier")?),
            Term::Int(i) if *i >= 0 => visitor.visit_u64(*i as u64),
            _ => Err(self.mismatch("an identifier (an atom)")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// Elements of a list or tuple.
struct SeqAcc<'de> {
    iter: std::slice::Iter<'de, Term>,
    index: usize,
    depth: u32,
}

impl<'de> de::SeqAccess<'de> for SeqAcc<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.iter.next() {
            Some(term) => {
                let i = self.index;
                self.index += 1;
                seed.deserialize(Deser::at(term, self.depth))
                    .map(Some)
                    .map_err(|e| e.at(Seg::Index(i)))
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Entries of a map, keys read with the full mapping.
struct MapAcc<'de> {
    iter: std::slice::Iter<'de, (Term, Term)>,
    entry: Option<&'de (Term, Term)>,
    depth: u32,
}

impl<'de> MapAcc<'de> {
    fn new(m: &'de TermMap, depth: u32) -> MapAcc<'de> {
        MapAcc {
            iter: m.entries().iter(),
            entry: None,
            depth,
        }
    }
}

fn key_seg(key: &Term) -> Seg {
    Seg::Key(Rendered(key).to_string())
}

impl<'de> de::MapAccess<'de> for MapAcc<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some(entry) => {
                self.entry = Some(entry);
                seed.deserialize(Deser::key(&entry.0, self.depth))
                    .map(Some)
                    .map_err(|e| e.at(key_seg(&entry.0)))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.entry.take() {
            Some((key, value)) => seed
                .deserialize(Deser::at(value, self.depth))
                .map_err(|e| e.at(key_seg(key))),
            None => Err(Error::new("a map value was read before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Entries of a map read as a struct: the keys must be atoms.
struct StructAcc<'de> {
    iter: std::slice::Iter<'de, (Term, Term)>,
    name: &'static str,
    fields: &'static [&'static str],
    /// Some field name is a quoted atom (`'EXIT'`), so keys need mapping back.
    quoted: bool,
    value: Option<(&'de str, &'de Term)>,
    depth: u32,
}

impl<'de> StructAcc<'de> {
    fn new(
        m: &'de TermMap,
        name: &'static str,
        fields: &'static [&'static str],
        depth: u32,
    ) -> StructAcc<'de> {
        StructAcc {
            iter: m.entries().iter(),
            name,
            fields,
            quoted: fields.iter().any(|f| names::is_quoted(f)),
            value: None,
            depth,
        }
    }
}

impl<'de> de::MapAccess<'de> for StructAcc<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.iter.next() else {
            return Ok(None);
        };
        let Term::Atom(a) = key else {
            return Err(Error::new(format!(
                "expected a map with atom keys (struct {}), found the key {}",
                self.name,
                Found(key)
            )));
        };
        let mut field: &'de str = a.as_str();
        if self.quoted {
            if let Some(f) = self.fields.iter().find(|f| names::field_atom(f) == field) {
                field = f;
            }
        }
        self.value = Some((a.as_str(), value));
        seed.deserialize(BorrowedStrDeserializer::new(field))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some((key, value)) => seed
                .deserialize(Deser::at(value, self.depth))
                .map_err(|e| e.at(Seg::Field(key.to_string()))),
            None => Err(Error::new("a struct field was read before its name")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An enum value: a bare atom (`rest` is `None`) or a tagged tuple.
struct EnumAcc<'de> {
    /// The depth of the variant's content.
    depth: u32,
    name: &'static str,
    variants: &'static [&'static str],
    tag: &'de Atom,
    rest: Option<&'de [Term]>,
    whole: &'de Term,
}

impl<'de> de::EnumAccess<'de> for EnumAcc<'de> {
    type Error = Error;
    type Variant = VariantAcc<'de>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, VariantAcc<'de>), Error> {
        let tag = self.tag.as_str();
        let known = self
            .variants
            .iter()
            .find(|v| names::variant_matches(self.name, v, tag));
        let unknown = || {
            Error::new(format!(
                "unknown variant atom {}, expected one of {} (enum {})",
                self.tag,
                names::variant_list(self.name, self.variants),
                self.name
            ))
        };
        let value = match known {
            Some(v) => seed.deserialize(BorrowedStrDeserializer::<Error>::new(v))?,
            // A Rust name that is not the variant's atom (`'Empty'` for `Empty`).
            None if self.variants.contains(&tag) => return Err(unknown()),
            // Let `#[serde(other)]` have it; otherwise report the atom.
            None => seed
                .deserialize(BorrowedStrDeserializer::<Error>::new(tag))
                .map_err(|_| unknown())?,
        };
        Ok((
            value,
            VariantAcc {
                depth: self.depth,
                tag: self.tag,
                rest: self.rest,
                whole: self.whole,
            },
        ))
    }
}

/// The content of an enum variant.
struct VariantAcc<'de> {
    depth: u32,
    tag: &'de Atom,
    rest: Option<&'de [Term]>,
    whole: &'de Term,
}

impl VariantAcc<'_> {
    fn seg(&self) -> Seg {
        Seg::Variant(self.tag.to_string())
    }
}

impl<'de> de::VariantAccess<'de> for VariantAcc<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.rest {
            None => Ok(()),
            Some(_) => Err(Error::mismatch(
                format_args!("the bare atom {} for unit variant {}", self.tag, self.tag),
                self.whole,
            )),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.rest {
            Some([value]) => seed
                .deserialize(Deser::at(value, self.depth))
                .map_err(|e| e.at(self.seg())),
            // `ok` for `Ok(())`: the content is read from `nil`.
            None => seed.deserialize(Deser::new(nil_term())).map_err(|_| {
                Error::mismatch(
                    format_args!("a tuple of 2 elements for variant {}", self.tag),
                    self.whole,
                )
            }),
            Some(_) => Err(Error::mismatch(
                format_args!("a tuple of 2 elements for variant {}", self.tag),
                self.whole,
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.rest {
            Some(items) if items.len() == len => {
                visit_elements(items, "a tuple", self.depth, visitor).map_err(|e| e.at(self.seg()))
            }
            _ => Err(Error::mismatch(
                format_args!(
                    "a tuple of {} elements for variant {}",
                    len.saturating_add(1),
                    self.tag
                ),
                self.whole,
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.rest {
            Some([Term::Map(m)]) => visitor
                .visit_map(StructAcc::new(m, "variant", fields, self.depth))
                .map_err(|e| e.at(self.seg())),
            _ => Err(Error::mismatch(
                format_args!(
                    "a tuple {{{}, #{{...}}}} for variant {}",
                    self.tag, self.tag
                ),
                self.whole,
            )),
        }
    }
}

/// A field value of a pid, port or reference read without a type hint.
enum Field<'de> {
    Str(&'de str),
    U64(u64),
    Words(&'de [u32]),
}

impl<'de> IntoDeserializer<'de, Error> for Field<'de> {
    type Deserializer = Field<'de>;

    fn into_deserializer(self) -> Field<'de> {
        self
    }
}

impl<'de> de::Deserializer<'de> for Field<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Field::Str(s) => visitor.visit_borrowed_str(s),
            Field::U64(u) => visitor.visit_u64(u),
            Field::Words(w) => visitor.visit_seq(SeqDeserializer::new(w.iter().copied())),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}
