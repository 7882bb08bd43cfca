//! Task supervisor: runs tasks under a [`dynamic_supervisor`],
//! as Elixir's `Task.Supervisor`.
//!
//! * [`start_child`] starts a fire-and-forget task;
//! * [`async_`] starts a task linked to the caller, to await with
//!   [`Task::await_`](crate::task::Task::await_);
//! * [`async_nolink`] starts one that is not linked, so that its crash reaches the
//!   caller only through `await` (as `{Reason, {'Elixir.Task', await, ...}}`).
//!
//! Tasks are temporary children: never restarted. This is seed 002's
//! `Task.Supervisor.async(sup, m, f, a) |> Task.await()`:
//!
//! ```
//! use ferrobeam::{task_supervisor, gen_server::StartOpts, Node, Term};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let node = Node::new();
//! node.register_fn("Elixir.Chat", "receive_message", |_ctx, args| async move {
//!     Term::tuple(vec![Term::atom("got"), args[0].clone()])
//! });
//! task_supervisor::start(&node, StartOpts::name("Elixir.Chat.TaskSupervisor")).await.unwrap();
//! let reply = node.run(|ctx| async move {
//!     let task = task_supervisor::async_mfa(
//!         &ctx, "Elixir.Chat.TaskSupervisor", "Elixir.Chat", "receive_message",
//!         vec![Term::string("hi")],
//!     ).await.unwrap();
//!     task.await_(&ctx).await.unwrap()
//! }).await.unwrap();
//! assert_eq!(reply, Term::tuple(vec![Term::atom("got"), Term::string("hi")]));
//! # }
//! ```

use crate::ctx::Ctx;
use crate::dynamic_supervisor::{self, DynamicSupervisorOpts};
use crate::gen_server::{ServerRef, StartOpts};
use crate::node::Node;
use crate::supervisor::{ChildSpec, Restart, Shutdown};
use crate::task::{attach, closure_mfa, mfa_term, task_body, Task};
use ferrobeam_term::{Atom, Pid, Term};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "task_supervisor_remote.rs"]
mod remote;
pub(crate) use remote::start_task_spec;
pub use remote::{async_nolink_remote, async_remote};

/// Starts a task supervisor not linked to anyone.
pub async fn start(node: &Node, opts: StartOpts) -> Result<Pid, Term> {
    dynamic_supervisor::start(node, DynamicSupervisorOpts::default(), opts).await
}

/// Starts a task supervisor linked to the calling process.
pub async fn start_link(ctx: &Ctx, opts: StartOpts) -> Result<Pid, Term> {
    dynamic_supervisor::start_link(ctx, DynamicSupervisorOpts::default(), opts).await
}

/// A child spec that spawns `body` once, linked to the supervisor.
fn once_spec<B, Fut>(body: B) -> ChildSpec
where
    B: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: crate::IntoExitReason,
{
    let cell = Arc::new(Mutex::new(Some(body)));
    ChildSpec::new("task", move |ctx: Ctx| {
        let body = cell.lock().unwrap_or_else(|p| p.into_inner()).take();
        async move {
            match body {
                Some(b) => Ok(Some(ctx.spawn_link(b))),
                None => Err(Term::atom("already_started")),
            }
        }
    })
    .id(Term::atom("undefined"))
    .restart(Restart::Temporary)
    .shutdown(Shutdown::Timeout(Duration::from_secs(5)))
}

async fn start_task(ctx: &Ctx, sup: ServerRef, spec: ChildSpec) -> Result<Pid, Term> {
    match dynamic_supervisor::start_child(ctx, sup, spec).await? {
        Some(p) => Ok(p),
        None => Err(Term::atom("ignore")),
    }
}

/// Starts a task that nobody awaits (`Task.Supervisor.start_child/2`).
pub async fn start_child<F, Fut>(ctx: &Ctx, sup: impl Into<ServerRef>, f: F) -> Result<Pid, Term>
where
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: crate::IntoExitReason,
{
    start_task(ctx, sup.into(), once_spec(f)).await
}

async fn supervised<F, Fut, T>(
    ctx: &Ctx,
    sup: ServerRef,
    f: F,
    link: bool,
    mfa: Term,
) -> Result<Task<T>, Term>
where
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Term>> + Send + 'static,
    T: Serialize + DeserializeOwned + Send + 'static,
{
    let pid = start_task(ctx, sup, once_spec(move |c| task_body(c, f))).await?;
    if link {
        // The task waits for its owner's hello before running, so it cannot have
        // finished yet.
        let _ = ctx.link(&pid);
    }
    Ok(attach(ctx, pid, mfa))
}

/// Starts a supervised task linked to the caller (`Task.Supervisor.async/2`).
pub async fn async_<F, Fut, T>(ctx: &Ctx, sup: impl Into<ServerRef>, f: F) -> Result<Task<T>, Term>
where
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Serialize + DeserializeOwned + Send + 'static,
{
    let body = move |c| async move { Ok::<T, Term>(f(c).await) };
    supervised(ctx, sup.into(), body, true, closure_mfa()).await
}

/// Starts a supervised task not linked to the caller (`Task.Supervisor.async_nolink/2`).
pub async fn async_nolink<F, Fut, T>(
    ctx: &Ctx,
    sup: impl Into<ServerRef>,
    f: F,
) -> Result<Task<T>, Term>
where
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Serialize + DeserializeOwned + Send + 'static,
{
    let body = move |c| async move { Ok::<T, Term>(f(c).await) };
    supervised(ctx, sup.into(), body, false, closure_mfa()).await
}

async fn supervised_mfa(
    ctx: &Ctx,
    sup: ServerRef,
    module: Atom,
    function: Atom,
    args: Vec<Term>,
    link: bool,
) -> Result<Task<Term>, Term> {
    let arity = args.len();
    let mfa = mfa_term(&module, &function, arity);
    let (fun, args) = ctx
        .node()
        .lookup_fn(module, function, args)
        .map_err(|e| e.reason())?;
    supervised(ctx, sup, move |c| fun(c, args), link, mfa).await
}

/// Starts a supervised task, linked to the caller, that applies the function
/// registered as `{Module, Function}` (`Task.Supervisor.async/4`).
pub async fn async_mfa(
    ctx: &Ctx,
    sup: impl Into<ServerRef>,
    module: impl Into<Atom>,
    function: impl Into<Atom>,
    args: Vec<Term>,
) -> Result<Task<Term>, Term> {
    supervised_mfa(ctx, sup.into(), module.into(), function.into(), args, true).await
}

/// Like [`async_mfa`], not linked to the caller (`Task.Supervisor.async_nolink/4`).
pub async fn async_nolink_mfa(
    ctx: &Ctx,
    sup: impl Into<ServerRef>,
    module: impl Into<Atom>,
    function: impl Into<Atom>,
    args: Vec<Term>,
) -> Result<Task<Term>, Term> {
    supervised_mfa(ctx, sup.into(), module.into(), function.into(), args, false).await
}

/// The running tasks (`Task.Supervisor.children/1`).
pub async fn children(ctx: &Ctx, sup: impl Into<ServerRef>) -> Result<Vec<Pid>, Term> {
    Ok(dynamic_supervisor::which_children(ctx, sup)
        .await?
        .into_iter()
        .filter_map(|c| c.pid)
        .collect())
}

/// Stops a task (`Task.Supervisor.terminate_child/2`).
pub async fn terminate_child(ctx: &Ctx, sup: impl Into<ServerRef>, pid: &Pid) -> Result<(), Term> {
    dynamic_supervisor::terminate_child(ctx, sup, pid).await
}
