//! The serde mapping between Rust types and Erlang terms. (Being written.)

use crate::Term;

/// A value did not fit the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SerdeError(pub String);

/// Converts a Rust value to a term.
pub fn to_term<T: serde::Serialize + ?Sized>(_value: &T) -> Result<Term, SerdeError> {
    unimplemented!("to_term")
}

/// Converts a term to a Rust value.
pub fn from_term<T: serde::de::DeserializeOwned>(_term: &Term) -> Result<T, SerdeError> {
    unimplemented!("from_term")
}
