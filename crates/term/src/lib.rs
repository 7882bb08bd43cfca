//! # ferrobeam-term
//!
//! Erlang terms for Rust: the [`Term`] model, Erlang's term order, the External Term
//! Format (ETF) codec, the Erlang text syntax, and a serde mapping from Rust types to
//! idiomatic Elixir terms.
//!
//! ```
//! use ferrobeam_term::{decode, encode, Term};
//!
//! let t: Term = r#"{ok, [1,2], <<"x">>, #{a => 1.5}}"#.parse().unwrap();
//! let bytes = encode(&t);
//! assert_eq!(bytes[0], 131);
//! assert_eq!(decode(&bytes).unwrap(), t);
//! assert_eq!(t.to_string(), r#"{ok,[1,2],<<"x">>,#{a => 1.5}}"#);
//! ```

#![warn(missing_docs)]

mod atom;
mod bigint;
mod fun;
mod ids;
mod order;
mod term;

pub mod etf;
pub mod serde_term;
pub mod text;

pub use atom::{Atom, INLINE_CAP, MAX_ATOM_CHARS};
pub use bigint::{BigInt, ParseBigIntError};
pub use etf::{decode, decode_with, encode, encode_into, DecodeError, DecodeOptions};
pub use fun::{Fun, FunKind};
pub use ids::{Pid, Port, Ref, MAX_REF_WORDS};
pub use serde_term::{from_term, from_term_ref, to_term, SerdeError};
pub use term::{Term, TermMap};
pub use text::ParseError;
