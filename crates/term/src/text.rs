//! Erlang text syntax for terms. (Being written.)

use crate::Term;
use std::fmt;

/// Why text could not be parsed as a term.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse term at column {column}: {reason}")]
pub struct ParseError {
    /// 1-based column (character index) of the problem.
    pub column: usize,
    /// What was wrong.
    pub reason: String,
}

/// Writes an atom in Erlang syntax, quoting it when needed.
pub fn write_atom(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str(text)
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::str::FromStr for Term {
    type Err = ParseError;
    fn from_str(_s: &str) -> Result<Term, ParseError> {
        unimplemented!("term parser")
    }
}
