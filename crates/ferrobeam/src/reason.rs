//! Exit reasons and the atoms the runtime uses.
//!
//! Exit reasons are plain [`Term`]s, exactly as in Erlang, so that they travel unchanged
//! to other nodes:
//!
//! | reason | meaning |
//! |---|---|
//! | `normal` | the process function returned |
//! | `kill` | sent with [`Ctx::exit`](crate::Ctx::exit): cannot be trapped |
//! | `killed` | the exit reason of a process that received `kill`; linked processes get it |
//! | `noproc` | the target of a link or monitor did not exist |
//! | `shutdown`, `{shutdown, Term}` | orderly stop, e.g. by a supervisor |
//! | `{panic, <<"Message">>}` | the process function panicked (see [`panic()`]) |
//!
//! A panic in a process becomes the exit reason `{panic, Message}`, where `Message` is
//! the panic message as a UTF-8 binary. This mirrors Erlang's `{Reason, Stack}` for a
//! crash, without a stack. The node keeps running.

use ferrobeam_term::Term;
use std::any::Any;

/// The atom `normal`.
pub fn normal() -> Term {
    Term::atom("normal")
}

/// The atom `kill`.
pub fn kill() -> Term {
    Term::atom("kill")
}

/// The atom `killed`.
pub fn killed() -> Term {
    Term::atom("killed")
}

/// The atom `noproc`.
pub fn noproc() -> Term {
    Term::atom("noproc")
}

/// The atom `shutdown`.
pub fn shutdown() -> Term {
    Term::atom("shutdown")
}

/// The atom `timeout`.
pub fn timeout() -> Term {
    Term::atom("timeout")
}

/// The atom `noconnection`.
pub fn noconnection() -> Term {
    Term::atom("noconnection")
}

/// `{panic, <<Message>>}`: the exit reason of a process whose function panicked.
pub fn panic(message: &str) -> Term {
    Term::tuple(vec![Term::atom("panic"), Term::string(message)])
}

/// True for `normal`, `shutdown` and `{shutdown, _}`: the reasons a supervisor does not
/// treat as a crash of a transient child (and does not log).
pub fn is_orderly(reason: &Term) -> bool {
    match reason {
        Term::Atom(a) => a == "normal" || a == "shutdown",
        Term::Tuple(t) => t.len() == 2 && t[0].is_atom("shutdown"),
        _ => false,
    }
}

/// Payload carried by the unwinding of [`Ctx::exit_self`](crate::Ctx::exit_self).
pub(crate) struct ExitUnwind(pub(crate) Term);

/// Turns a caught panic payload into an exit reason.
pub(crate) fn from_panic(payload: Box<dyn Any + Send>) -> Term {
    let payload = match payload.downcast::<ExitUnwind>() {
        Ok(e) => return e.0,
        Err(p) => p,
    };
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        panic(s)
    } else if let Some(s) = payload.downcast_ref::<String>() {
        panic(s)
    } else {
        panic("Box<dyn Any>")
    }
}

/// What a process function's result means as an exit reason.
///
/// A process ends with reason `normal` when its function returns `()` or `Ok(())`, and
/// with the reason `e.into()` when it returns `Err(e)`. Returning
/// `Err(`[`CallError`](crate::gen_server::CallError)`)` from a failed call exits with the
/// exact reason OTP uses, e.g. `{noproc, {gen_server, call, [Name, Req]}}`.
pub trait IntoExitReason {
    /// The exit reason.
    fn into_exit_reason(self) -> Term;
}

impl IntoExitReason for () {
    fn into_exit_reason(self) -> Term {
        normal()
    }
}

impl<E: Into<Term>> IntoExitReason for Result<(), E> {
    fn into_exit_reason(self) -> Term {
        match self {
            Ok(()) => normal(),
            Err(e) => e.into(),
        }
    }
}

/// What a function registered by `{Module, Function}` returns (see
/// [`Node::register_fn`](crate::Node::register_fn)): a value, or an exit reason.
///
/// `()` is the value `ok`, a [`Term`] is itself, and `Result<T, E>` is `T`'s value or
/// the exit reason `e`. A spawned function's value is discarded and the process ends
/// with `normal`, as in Erlang; an applied function's value is its result.
pub trait FnResult {
    /// `Ok(value)` or `Err(exit reason)`.
    fn into_fn_result(self) -> Result<Term, Term>;
}

impl FnResult for () {
    fn into_fn_result(self) -> Result<Term, Term> {
        Ok(Term::atom("ok"))
    }
}

impl FnResult for Term {
    fn into_fn_result(self) -> Result<Term, Term> {
        Ok(self)
    }
}

impl<T: FnResult, E: Into<Term>> FnResult for Result<T, E> {
    fn into_fn_result(self) -> Result<Term, Term> {
        match self {
            Ok(v) => v.into_fn_result(),
            Err(e) => Err(e.into()),
        }
    }
}

/// An explicit exit reason, as the result of a process function: `ExitReason(reason)`
/// ends the process with `reason`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExitReason(pub Term);

impl IntoExitReason for ExitReason {
    fn into_exit_reason(self) -> Term {
        self.0
    }
}

impl From<ExitReason> for Term {
    fn from(e: ExitReason) -> Term {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orderly_reasons() {
        assert!(is_orderly(&normal()));
        assert!(is_orderly(&shutdown()));
        assert!(is_orderly(&Term::tuple(vec![shutdown(), Term::Int(1)])));
        assert!(!is_orderly(&killed()));
        assert!(!is_orderly(&Term::tuple(vec![shutdown()])));
    }

    #[test]
    fn panic_payloads() {
        assert_eq!(from_panic(Box::new("boom")), panic("boom"));
        assert_eq!(from_panic(Box::new(String::from("x"))), panic("x"));
        assert_eq!(from_panic(Box::new(ExitUnwind(killed()))), killed());
        assert_eq!(from_panic(Box::new(3u8)), panic("Box<dyn Any>"));
    }
}
