//! Typed messages: values converted to and from terms through the serde mapping, with
//! a fast path that passes a [`Term`] through without going through serde at all.

use ferrobeam_term::{SerdeError, Term};
use std::any::Any;

/// Converts a value to a term; a `Term` is moved as it is.
pub(crate) fn encode<T: serde::Serialize + 'static>(value: T) -> Result<Term, SerdeError> {
    let mut slot = Some(value);
    if let Some(t) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Term>>() {
        return Ok(t.take().expect("just set"));
    }
    let value = slot.take().expect("just set");
    ferrobeam_term::to_term(&value)
}

/// Converts a term to a value; a `Term` is moved as it is. On a mismatch, gives the
/// term back.
pub(crate) fn decode<T: serde::de::DeserializeOwned + 'static>(term: Term) -> Result<T, Term> {
    let mut slot = Some(term);
    if let Some(t) = (&mut slot as &mut dyn Any).downcast_mut::<Option<T>>() {
        return Ok(t.take().expect("just set"));
    }
    let term = slot.take().expect("just set");
    ferrobeam_term::from_term::<T>(&term).map_err(|_| term)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_passes_through_and_typed_values_convert() {
        let t = Term::tuple(vec![Term::atom("ok"), Term::Int(1)]);
        assert_eq!(encode(t.clone()).unwrap(), t);
        assert_eq!(decode::<Term>(t.clone()).unwrap(), t);
        assert_eq!(encode(3i64).unwrap(), Term::Int(3));
        assert_eq!(decode::<i64>(Term::Int(3)).unwrap(), 3);
        assert_eq!(decode::<i64>(Term::atom("x")).unwrap_err(), Term::atom("x"));
    }
}
