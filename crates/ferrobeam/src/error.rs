//! Errors of the process API. Each maps to the Erlang exit reason or error term that
//! BEAM would raise in the same situation.

use ferrobeam_term::{Atom, Pid, SerdeError, Term};

/// A send failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// `Name ! Msg` where no process is registered as `Name` on this node (Erlang raises
    /// `badarg`).
    #[error("no process is registered as {0}")]
    NotRegistered(Atom),
    /// The message could not be converted to a term.
    #[error("cannot encode the message: {0}")]
    Encode(#[from] SerdeError),
}

impl SendError {
    /// The Erlang error reason: `badarg`.
    pub fn reason(&self) -> Term {
        Term::atom("badarg")
    }
}

impl From<SendError> for Term {
    fn from(e: SendError) -> Term {
        e.reason()
    }
}

/// `register/2` or `unregister/1` failed (Erlang raises `badarg` in each case).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// Another process has the name.
    #[error("the name {0} is already registered")]
    NameTaken(Atom),
    /// The process already has a registered name.
    #[error("process {0} already has a registered name")]
    AlreadyNamed(Pid),
    /// The process is not alive (or not local).
    #[error("process {0} is not alive")]
    NotAlive(Pid),
    /// `undefined` cannot be registered.
    #[error("the name undefined cannot be registered")]
    Undefined,
    /// `unregister` of a name that is not registered.
    #[error("the name {0} is not registered")]
    NotRegistered(Atom),
}

impl RegisterError {
    /// The Erlang error reason: `badarg`.
    pub fn reason(&self) -> Term {
        Term::atom("badarg")
    }
}

impl From<RegisterError> for Term {
    fn from(e: RegisterError) -> Term {
        e.reason()
    }
}

/// `link/1` to a local process that does not exist, by a process that does not trap
/// exits (Erlang raises `noproc`). A process that traps exits gets
/// `{'EXIT', Pid, noproc}` instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no such process: {0}")]
pub struct LinkError(pub Pid);

impl LinkError {
    /// The Erlang error reason: `noproc`.
    pub fn reason(&self) -> Term {
        Term::atom("noproc")
    }
}

impl From<LinkError> for Term {
    fn from(e: LinkError) -> Term {
        e.reason()
    }
}

/// Spawning by `{Module, Function}` name failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpawnError {
    /// No function is registered under that name: `{undef, [{M, F, Args, []}]}`.
    #[error("undefined function {module}:{function}/{}", args.len())]
    Undef {
        /// The module name.
        module: Atom,
        /// The function name.
        function: Atom,
        /// The arguments.
        args: Vec<Term>,
    },
}

impl SpawnError {
    /// The Erlang exit reason, `{undef, [{Module, Function, Args, []}]}`.
    pub fn reason(&self) -> Term {
        match self {
            SpawnError::Undef {
                module,
                function,
                args,
            } => Term::tuple(vec![
                Term::atom("undef"),
                Term::list(vec![Term::tuple(vec![
                    Term::Atom(module.clone()),
                    Term::Atom(function.clone()),
                    Term::list(args.clone()),
                    Term::nil(),
                ])]),
            ]),
        }
    }
}

impl From<SpawnError> for Term {
    fn from(e: SpawnError) -> Term {
        e.reason()
    }
}
