//! The serde mapping between Rust types and Erlang terms.
//!
//! [`to_term`] turns any [`serde::Serialize`] value into a [`Term`], and [`from_term`]
//! (or the borrowing [`from_term_ref`]) turns a [`Term`] back into any
//! [`serde::Deserialize`] value. The mapping is chosen so that ordinary Rust types look
//! like idiomatic Elixir terms, which lets a protocol such as the seed's chat server be
//! written as plain Rust enums.
//!
//! | Rust | Erlang term | notes |
//! |---|---|---|
//! | `bool` | `true` / `false` | |
//! | integers | integer | beyond `i64` (a large `u64`, `i128`, `u128`) a big integer; reading checks the range and names the type |
//! | `f32`, `f64` | float | NaN and infinities are refused (Erlang floats are finite); reading also accepts an integer |
//! | `char` | integer (the code point) | as Erlang's `$a` and Elixir's `?a` |
//! | `String`, `&str` | UTF-8 binary (an Elixir string) | reading accepts only a valid UTF-8 binary: no atoms, no charlists |
//! | `Vec<T>`, slices, sets | proper list | |
//! | tuples, tuple structs | tuple | |
//! | `None` / `Some(x)` | `nil` / `x` | reading accepts only `nil` as `None` (not `undefined`); `Some(None)` and `Some(())` read back as `None` |
//! | `()` | `nil` | |
//! | unit struct `Ping` | `ping` | the snake_case name |
//! | unit variant `NickInUse` | `nick_in_use` | |
//! | newtype variant `Connect(nick)` | `{connect, Nick}` | `Ok(())` is the bare atom `ok` |
//! | tuple variant `Say(nick, msg)` | `{say, Nick, Msg}` | flat |
//! | struct variant `Moved { x, y }` | `{moved, #{x => X, y => Y}}` | |
//! | struct | map with atom keys | field names as they are |
//! | newtype struct | the inner value | |
//! | maps (`HashMap`, `BTreeMap`) | map | keys converted with the same mapping; a string key also reads from an atom key |
//! | `Bytes`, `serde_bytes` | binary | see [`bytes`] for a zero-copy `Bytes` field |
//! | [`Term`], [`Atom`], [`Pid`], [`Ref`], [`Port`], [`BigInt`], [`Fun`] | themselves | passed through unchanged |
//!
//! # Names
//!
//! Variant names and unit struct names become atoms in snake_case: `NickInUse` is
//! `nick_in_use`, `HTTPError` is `http_error`. A name with no upper-case letter, such as
//! one given by `#[serde(rename = "nick_in_use")]` or `#[serde(rename = "$gen_call")]`, is
//! the exact atom. A name written as a quoted Erlang atom, `#[serde(rename = "'EXIT'")]`,
//! is the exact atom between the quotes (`'EXIT'`), for atoms that need upper-case
//! letters; this also holds for field names. Struct field names are otherwise used as
//! they are.
//!
//! `Result<T, E>` follows the Erlang convention: `Ok(x)` is `{ok, X}` and `Err(e)` is
//! `{error, E}` (not `err`).
//!
//! # Reading enums
//!
//! An atom selects a unit variant, and a tuple whose first element is an atom selects a
//! newtype, tuple or struct variant by that atom. A newtype variant whose value is `()`
//! is written as the bare atom (`Ok(())` is `ok`, the usual Erlang reply), and reading
//! accepts a bare atom for any newtype variant whose value can be read from `nil` (unit
//! or an `Option`).
//!
//! # Pass-through types
//!
//! [`Term`], [`Atom`], [`Pid`], [`Ref`], [`Port`], [`BigInt`] and [`Fun`] implement
//! `Serialize` and `Deserialize`. With this module's converters they are carried over
//! unchanged (a field `from: Pid` is the pid itself, a `Term` field is that term), and a
//! `BigInt` field also accepts a small integer. With other serde formats they take a
//! lossless fallback form: an atom is its text, a `BigInt` its decimal text, a pid, port
//! or reference a struct of its fields, and a `Term` an externally tagged enum
//! (`{"Tuple":[{"Atom":"ok"},{"Int":1}]}` in JSON). Inside `#[serde(untagged)]` or
//! `#[serde(flatten)]` types, which read through serde's buffering, a `Term` cannot be
//! recovered; atoms, pids, ports and references can. (Serde writes a struct with a
//! flattened field as a map with string keys, so its keys are binaries; reading accepts
//! atom keys too.)
//!
//! # Errors
//!
//! A mismatch names what was expected and what was found, with a truncated rendering of
//! the term and where it was, e.g. `expected a binary (string), found atom foo, at
//! .users[2].nick` or `expected a tuple of 3 elements for variant say, found tuple
//! {say,<<"a">>}`.
//!
//! Reading refuses terms nested more than 128 levels deep, as serde_json does, so that
//! a term from the network cannot exhaust the stack; a [`Term`] field is carried over
//! whole, at any depth.
//!
//! # Example
//!
//! ```
//! use ferrobeam_term::{from_term, to_term, Term};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! enum ServerCast {
//!     Say(String, String),
//!     ListUsers(String),
//! }
//!
//! let msg = ServerCast::Say("john".into(), "hi".into());
//! let term = to_term(&msg).unwrap();
//! assert_eq!(
//!     term,
//!     Term::tuple(vec![Term::atom("say"), Term::string("john"), Term::string("hi")])
//! );
//! assert_eq!(from_term::<ServerCast>(&term).unwrap(), msg);
//!
//! let list = Term::tuple(vec![Term::atom("list_users"), Term::string("john")]);
//! assert_eq!(from_term::<ServerCast>(&list).unwrap(), ServerCast::ListUsers("john".into()));
//!
//! let err = from_term::<ServerCast>(&Term::tuple(vec![Term::atom("say"), Term::string("a")]))
//!     .unwrap_err();
//! assert!(err.to_string().starts_with("expected a tuple of 3 elements for variant say"));
//! ```
//!
//! [`Atom`]: crate::Atom
//! [`Pid`]: crate::Pid
//! [`Ref`]: crate::Ref
//! [`Port`]: crate::Port
//! [`BigInt`]: crate::BigInt
//! [`Fun`]: crate::Fun

mod de;
mod names;
mod passthrough;
mod ser;

use crate::Term;
use std::fmt::{self, Display, Write as _};

/// A value did not fit the expected shape, or could not be represented as a term.
///
/// The message names what was expected and what was found, and where (`at .field[2]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SerdeError(pub String);

/// Converts a Rust value to a term.
///
/// Fails only for values that have no term: NaN or infinite floats, or a `Serialize`
/// implementation that reports an error.
pub fn to_term<T: serde::Serialize + ?Sized>(value: &T) -> Result<Term, SerdeError> {
    value.serialize(ser::Ser).map_err(SerdeError::from)
}

/// Converts a term to a Rust value that owns its data.
pub fn from_term<T: serde::de::DeserializeOwned>(term: &Term) -> Result<T, SerdeError> {
    from_term_ref(term)
}

/// Converts a term to a Rust value that may borrow from it: `&str` from a binary, and
/// `&[u8]` from a binary (with `serde_bytes`).
///
/// ```
/// use ferrobeam_term::{from_term_ref, Term};
/// let t = Term::tuple(vec![Term::string("john"), Term::Int(3)]);
/// let (nick, n): (&str, u8) = from_term_ref(&t).unwrap();
/// assert_eq!((nick, n), ("john", 3));
/// ```
pub fn from_term_ref<'de, T: serde::Deserialize<'de>>(term: &'de Term) -> Result<T, SerdeError> {
    T::deserialize(de::Deser::new(term)).map_err(SerdeError::from)
}

/// `#[serde(with = "ferrobeam_term::serde_term::bytes")]` for a `bytes::Bytes` field:
/// the binary is shared with the term, never copied, both ways.
///
/// A plain `Bytes` field also maps to a binary, through the `bytes` crate's own serde
/// support, but copies the data. With other serde formats this writes bytes
/// (`serialize_bytes`) and reads bytes or a sequence of bytes.
///
/// ```
/// use bytes::Bytes;
/// use ferrobeam_term::{from_term, to_term, Term};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Chunk {
///     #[serde(with = "ferrobeam_term::serde_term::bytes")]
///     data: Bytes,
/// }
///
/// let data = Bytes::from(vec![1u8, 2, 3]);
/// let t = to_term(&Chunk { data: data.clone() }).unwrap();
/// let back: Chunk = from_term(&t).unwrap();
/// assert_eq!(back.data, data);
/// assert_eq!(back.data.as_ptr(), data.as_ptr()); // the same memory
/// ```
pub mod bytes {
    use super::passthrough;
    use serde::{Deserializer, Serializer};

    /// Serializes a `Bytes` as a binary.
    pub fn serialize<S: Serializer>(
        value: &::bytes::Bytes,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        passthrough::serialize(value, serializer)
    }

    /// Deserializes a binary as `Bytes`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<::bytes::Bytes, D::Error> {
        passthrough::deserialize(deserializer)
    }
}

/// The error used inside the serializer and deserializer: a message and the path to the
/// place it happened, innermost first.
#[derive(Debug)]
pub(crate) struct Error {
    msg: String,
    path: Vec<Seg>,
}

/// One step of an error's path.
#[derive(Debug)]
enum Seg {
    /// A struct field.
    Field(String),
    /// An element of a list or tuple.
    Index(usize),
    /// The value under a map key (rendered).
    Key(String),
    /// The content of an enum variant.
    Variant(String),
}

impl Error {
    fn new(msg: impl Into<String>) -> Error {
        Error {
            msg: msg.into(),
            path: Vec::new(),
        }
    }

    /// `expected {expected}, found {kind} {rendering}`.
    fn mismatch(expected: impl Display, found: &Term) -> Error {
        Error::new(format!("expected {expected}, found {}", Found(found)))
    }

    fn at(mut self, seg: Seg) -> Error {
        self.path.push(seg);
        self
    }
}

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)?;
        if self.path.is_empty() {
            return Ok(());
        }
        f.write_str(", at ")?;
        // Outermost first; a long path keeps its ends.
        let n = self.path.len();
        for (i, seg) in self.path.iter().rev().enumerate() {
            if n > 2 * PATH_ENDS && i >= PATH_ENDS && i < n - PATH_ENDS {
                if i == PATH_ENDS {
                    f.write_str("...")?;
                }
                continue;
            }
            match seg {
                Seg::Field(name) => write!(f, ".{name}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
                Seg::Key(k) => write!(f, "[{k}]")?,
                Seg::Variant(v) => write!(f, "{{{v}}}")?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<Error> for SerdeError {
    fn from(e: Error) -> SerdeError {
        SerdeError(e.to_string())
    }
}

impl serde::ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Error {
        Error::new(msg.to_string())
    }
}

impl serde::de::Error for Error {
    fn custom<T: Display>(msg: T) -> Error {
        Error::new(msg.to_string())
    }
}

impl serde::ser::Error for SerdeError {
    fn custom<T: Display>(msg: T) -> SerdeError {
        SerdeError(msg.to_string())
    }
}

impl serde::de::Error for SerdeError {
    fn custom<T: Display>(msg: T) -> SerdeError {
        SerdeError(msg.to_string())
    }
}

/// Steps kept at each end of a long error path.
const PATH_ENDS: usize = 6;

/// Longest rendering of a term in an error message, in bytes.
const RENDER_LIMIT: usize = 80;

/// Renders a term for an error message: its kind and a truncated rendering, such as
/// `atom foo` or `tuple {say,<<"a">>}`.
pub(crate) struct Found<'a>(pub(crate) &'a Term);

impl Display for Found<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(kind(self.0))?;
        f.write_char(' ')?;
        Rendered(self.0).fmt(f)
    }
}

/// A term's rendering, cut after [`RENDER_LIMIT`] bytes with `...`. Formatting stops at
/// the limit, so a huge term costs no more than a small one.
pub(crate) struct Rendered<'a>(pub(crate) &'a Term);

impl Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Limited {
            out: String::new(),
            left: RENDER_LIMIT,
            truncated: false,
        };
        // An error here is the limit being reached (or a formatting error, shown as
        // what was written so far).
        let _ = write!(out, "{}", self.0);
        f.write_str(&out.out)?;
        if out.truncated {
            f.write_str("...")?;
        }
        Ok(())
    }
}

struct Limited {
    out: String,
    left: usize,
    truncated: bool,
}

impl fmt::Write for Limited {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.left {
            self.out.push_str(s);
            self.left -= s.len();
            return Ok(());
        }
        let mut end = self.left;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.out.push_str(&s[..end]);
        self.left = 0;
        self.truncated = true;
        Err(fmt::Error)
    }
}

/// The kind of a term, for error messages.
fn kind(t: &Term) -> &'static str {
    match t {
        Term::Int(_) | Term::BigInt(_) => "integer",
        Term::Float(_) => "float",
        Term::Atom(_) => "atom",
        Term::Binary(_) => "binary",
        Term::BitBinary { .. } => "bitstring",
        Term::List(l) if l.is_empty() => "empty list",
        Term::List(_) => "list",
        Term::ImproperList { .. } => "improper list",
        Term::Tuple(_) => "tuple",
        Term::Map(_) => "map",
        Term::Pid(_) => "pid",
        Term::Port(_) => "port",
        Term::Ref(_) => "reference",
        Term::Fun(_) => "fun",
    }
}
