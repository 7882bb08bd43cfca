//! Tasks: a process that computes one value for its owner, as Elixir's `Task`.
//!
//! [`async_`] spawns a task linked to the caller and monitored by it; [`Task::await_`]
//! waits for the value (5 seconds by default). The messages follow Elixir's: the
//! owner sends the task `{OwnerPid, Ref}`, and the task answers `{Ref, Result}` to the
//! owner's monitor alias, so a late answer after a timeout is dropped. A task that dies
//! first makes `await` fail with `{Reason, {'Elixir.Task', await, [Task, Timeout]}}`,
//! and a timeout with `{timeout, {'Elixir.Task', await, [Task, Timeout]}}`: the exit
//! reasons Elixir's `Task.await` exits with (returning the error from a process
//! function exits with that reason). [`task_supervisor`](crate::task_supervisor) runs
//! tasks under a supervisor.
//!
//! Values travel as terms, through the serde mapping (a `Term` passes as it is).
//!
//! ```
//! use ferrobeam::{task, Node};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let node = Node::new();
//! let v = node.run(|ctx| async move {
//!     let t = task::async_(&ctx, |_ctx| async { 6 * 7 });
//!     t.await_(&ctx).await.unwrap()
//! }).await.unwrap();
//! assert_eq!(v, 42);
//! # }
//! ```

use crate::convert::{decode, encode};
use crate::ctx::Ctx;
use crate::gen_server::Timeout;
use crate::process::AliasMode;
use crate::reason;
use crate::signal::Dest;
use ferrobeam_term::{Atom, Pid, Ref, Term};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

/// `Task.await`'s default timeout: 5 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A running task (Elixir's `%Task{}`): await it with [`Task::await_`].
#[derive(Debug)]
pub struct Task<T> {
    /// The task process.
    pub pid: Pid,
    /// The monitor reference (also the alias the answer comes to).
    pub reference: Ref,
    /// The process that awaits it.
    pub owner: Pid,
    /// `{Module, Function, Arity}`: `{erlang, apply, 2}` for a closure.
    pub mfa: Term,
    _value: PhantomData<fn() -> T>,
}

/// A task failed: the exit reason Elixir's `Task.await` exits with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("task failed: {reason}")]
pub struct TaskError {
    /// `{Reason, {'Elixir.Task', await, [Task, Timeout]}}`.
    pub reason: Term,
}

impl TaskError {
    /// The inner reason: `timeout`, the task's exit reason, or `{nodedown, Node}`.
    pub fn kind(&self) -> &Term {
        match &self.reason {
            Term::Tuple(t) if t.len() == 2 => &t[0],
            other => other,
        }
    }
}

impl From<TaskError> for Term {
    fn from(e: TaskError) -> Term {
        e.reason
    }
}

impl<T: DeserializeOwned + 'static> Task<T> {
    pub(crate) fn new(pid: Pid, reference: Ref, owner: Pid, mfa: Term) -> Task<T> {
        Task {
            pid,
            reference,
            owner,
            mfa,
            _value: PhantomData,
        }
    }

    /// The task as Elixir's struct: `#{'__struct__' => 'Elixir.Task', mfa => MFA,
    /// owner => Pid, pid => Pid, ref => Ref}`.
    pub fn to_term(&self) -> Term {
        Term::map(vec![
            (Term::atom("__struct__"), Term::atom("Elixir.Task")),
            (Term::atom("mfa"), self.mfa.clone()),
            (Term::atom("owner"), Term::Pid(self.owner.clone())),
            (Term::atom("pid"), Term::Pid(self.pid.clone())),
            (Term::atom("ref"), Term::from(self.reference.clone())),
        ])
    }

    /// Waits for the value, at most 5 seconds (`Task.await/1`).
    pub async fn await_(self, ctx: &Ctx) -> Result<T, TaskError> {
        self.await_timeout(ctx, DEFAULT_TIMEOUT).await
    }

    /// Waits for the value (`Task.await/2`).
    pub async fn await_timeout(
        self,
        ctx: &Ctx,
        timeout: impl Into<Timeout>,
    ) -> Result<T, TaskError> {
        let timeout = timeout.into();
        let fail = |why: Term| TaskError {
            reason: Term::tuple(vec![
                why,
                Term::tuple(vec![
                    Term::atom("Elixir.Task"),
                    Term::atom("await"),
                    Term::list(vec![self.to_term(), timeout.to_term()]),
                ]),
            ]),
        };
        match self.wait(ctx, timeout.duration()).await {
            Some(Ok(v)) => {
                decode::<T>(v).map_err(|bad| fail(Term::tuple(vec![Term::atom("bad_value"), bad])))
            }
            Some(Err(why)) => Err(fail(why)),
            None => {
                ctx.demonitor_flush(&self.reference);
                Err(fail(reason::timeout()))
            }
        }
    }

    /// Waits at most `timeout` (`Task.yield/2`): `None` if the task is still running
    /// (it can be awaited again), else its value or the error `{Reason, ...}`.
    pub async fn yield_(&self, ctx: &Ctx, timeout: Duration) -> Option<Result<T, TaskError>> {
        match self.wait(ctx, Some(timeout)).await? {
            Ok(v) => Some(decode::<T>(v).map_err(|bad| TaskError {
                reason: Term::tuple(vec![Term::atom("bad_value"), bad]),
            })),
            Err(why) => Some(Err(TaskError {
                reason: Term::tuple(vec![Term::atom("exit"), why]),
            })),
        }
    }

    /// `Some(Ok(value))`, `Some(Err(exit reason))` or `None` on timeout.
    async fn wait(&self, ctx: &Ctx, timeout: Option<Duration>) -> Option<Result<Term, Term>> {
        let r = Term::from(self.reference.clone());
        let matcher = move |m: &Term| match m {
            Term::Tuple(t) if t.len() == 2 => t[0] == r,
            Term::Tuple(t) if t.len() == 5 => t[0].is_atom("DOWN") && t[1] == r,
            _ => false,
        };
        let got = match timeout {
            Some(d) => ctx.receive_match_timeout(matcher, d).await?,
            None => ctx.receive_match(matcher).await,
        };
        let Term::Tuple(mut t) = got else {
            return None;
        };
        if t.len() == 2 {
            ctx.demonitor_flush(&self.reference);
            Some(Ok(t.pop().expect("2")))
        } else {
            let why = t.pop().expect("5");
            Some(Err(if why.is_atom("noconnection") {
                Term::tuple(vec![
                    Term::atom("nodedown"),
                    Term::Atom(self.pid.node.clone()),
                ])
            } else {
                why
            }))
        }
    }
}

/// The body of a task process: waits for `{Owner, Ref}`, computes, answers
/// `{Ref, Value}` to the alias `Ref`. An `Err(reason)` ends the task with `reason`.
pub(crate) async fn task_body<F, Fut, T>(ctx: Ctx, f: F) -> Result<(), Term>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Result<T, Term>>,
    T: Serialize + 'static,
{
    let hello = ctx
        .receive_match(|m| {
            matches!(m, Term::Tuple(t) if t.len() == 2
                && matches!(t[0], Term::Pid(_))
                && matches!(t[1], Term::Ref(_)))
        })
        .await;
    let Term::Tuple(mut t) = hello else {
        return Ok(());
    };
    let Some(Term::Ref(r)) = t.pop() else {
        return Ok(());
    };
    let value = f(ctx.clone()).await?;
    let value =
        encode(value).map_err(|e| reason::panic(&format!("task value cannot be encoded: {e}")))?;
    let r = *r;
    let _ = ctx.send(
        Dest::Alias(r.clone()),
        Term::tuple(vec![Term::from(r), value]),
    );
    Ok(())
}

/// Tells a started task who its owner is and monitors it: returns the `Task`.
pub(crate) fn attach<T: DeserializeOwned + 'static>(ctx: &Ctx, pid: Pid, mfa: Term) -> Task<T> {
    let r = ctx.monitor_alias(&pid, AliasMode::Demonitor);
    let _ = ctx.send(
        &pid,
        Term::tuple(vec![
            Term::Pid(ctx.self_pid().clone()),
            Term::from(r.clone()),
        ]),
    );
    Task::new(pid, r, ctx.self_pid().clone(), mfa)
}

/// `{erlang, apply, 2}`: the mfa of a task given as a closure.
pub(crate) fn closure_mfa() -> Term {
    Term::tuple(vec![
        Term::atom("erlang"),
        Term::atom("apply"),
        Term::Int(2),
    ])
}

pub(crate) fn mfa_term(m: &Atom, f: &Atom, arity: usize) -> Term {
    Term::tuple(vec![
        Term::Atom(m.clone()),
        Term::Atom(f.clone()),
        Term::from(arity),
    ])
}

/// Starts a task linked to the caller (`Task.async/1`).
pub fn async_<F, Fut, T>(ctx: &Ctx, f: F) -> Task<T>
where
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Serialize + DeserializeOwned + Send + 'static,
{
    let pid =
        ctx.spawn_link(move |c| task_body(c, move |c| async move { Ok::<T, Term>(f(c).await) }));
    attach(ctx, pid, closure_mfa())
}

/// Starts a task linked to the caller that applies the function registered as
/// `{Module, Function}` (`Task.async/3`). Its value is the function's value; an
/// `Err(reason)` from it ends the task with that reason.
pub fn async_mfa(
    ctx: &Ctx,
    module: impl Into<Atom>,
    function: impl Into<Atom>,
    args: Vec<Term>,
) -> Result<Task<Term>, crate::SpawnError> {
    let (m, f) = (module.into(), function.into());
    let arity = args.len();
    let (fun, args) = ctx.node().lookup_fn(m.clone(), f.clone(), args)?;
    let pid = ctx.spawn_link(move |c| task_body(c, move |c| fun(c, args)));
    Ok(attach(ctx, pid, mfa_term(&m, &f, arity)))
}
