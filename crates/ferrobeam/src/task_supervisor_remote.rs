//! Tasks under a task supervisor of another node, with Elixir's own protocol (a part of
//! [`task_supervisor`](super)).
//!
//! Closures cannot cross nodes, so a remote task runs a function registered on the
//! supervisor's node by `{Module, Function}` ([`Node::register_fn`](crate::Node::register_fn)),
//! as Elixir's `Task.Supervisor.async({Sup, Node}, Module, Function, Args)` runs an
//! Erlang function there. The messages are Elixir's (checked against Elixir 1.14):
//!
//! 1. the caller calls the supervisor with
//!    `{start_task, [{CallerNode, CallerNameOrPid, CallerPid}, monitor], temporary, nil}`,
//!    and gets `{ok, TaskPid}`;
//! 2. it links to the task (for `async`), monitors it with an alias, and sends it
//!    `{CallerPid, Alias, Alias, [CallerPid], {Module, Function, Args}}`;
//! 3. the task applies the function and sends `{Alias, Result}` to the alias, which
//!    [`Task::await_`] takes; a task that fails exits with the reason, which reaches the
//!    caller through the link and the monitor.
//!
//! So a ferrobeam caller can use a task supervisor on an Elixir node, and an Elixir
//! caller (`Task.Supervisor.async({Sup, :"fb@host"}, :mod, :fun, args)`) can use one on
//! a ferrobeam node, as well as ferrobeam with ferrobeam.

use crate::ctx::Ctx;
use crate::gen_server::{self, ServerRef, Timeout};
use crate::process::AliasMode;
use crate::signal::Dest;
use crate::supervisor::{ChildSpec, Restart, Shutdown};
use crate::task::{mfa_term, Task};
use ferrobeam_term::{Atom, Pid, Term};
use std::time::Duration;

/// How long a started task waits for its caller's message.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts a task under the task supervisor `sup` (typically `(Name, Node)` on another
/// node), linked to the caller, that runs the function registered there as
/// `{module, function}` with `args`: seed 002's
/// `Task.Supervisor.async({Chat.TaskSupervisor, node}, Chat, :receive_message, [msg])`.
/// Await it with [`Task::await_`]. Works with Elixir task supervisors too.
pub async fn async_remote(
    ctx: &Ctx,
    sup: impl Into<ServerRef>,
    module: impl Into<Atom>,
    function: impl Into<Atom>,
    args: Vec<Term>,
) -> Result<Task<Term>, Term> {
    start(ctx, sup.into(), module.into(), function.into(), args, true).await
}

/// Like [`async_remote`], not linked to the caller
/// (`Task.Supervisor.async_nolink/4`): a failing task reaches the caller only through
/// `await`.
pub async fn async_nolink_remote(
    ctx: &Ctx,
    sup: impl Into<ServerRef>,
    module: impl Into<Atom>,
    function: impl Into<Atom>,
    args: Vec<Term>,
) -> Result<Task<Term>, Term> {
    start(ctx, sup.into(), module.into(), function.into(), args, false).await
}

async fn start(
    ctx: &Ctx,
    sup: ServerRef,
    module: Atom,
    function: Atom,
    args: Vec<Term>,
    link: bool,
) -> Result<Task<Term>, Term> {
    let me = ctx.self_pid().clone();
    let name = ctx
        .node()
        .registered_name(&me)
        .map(Term::Atom)
        .unwrap_or_else(|| Term::Pid(me.clone()));
    let owner = Term::tuple(vec![
        Term::Atom(ctx.node().name().clone()),
        name,
        Term::Pid(me.clone()),
    ]);
    let req = Term::tuple(vec![
        Term::atom("start_task"),
        Term::list(vec![owner, Term::atom("monitor")]),
        Term::atom("temporary"),
        Term::atom("nil"),
    ]);
    let reply: Term = gen_server::call_timeout(ctx, sup, req, Timeout::Infinity)
        .await
        .map_err(|e| e.reason)?;
    let pid = match reply.as_tuple() {
        Some([ok, Term::Pid(p)]) if ok.is_atom("ok") => p.clone(),
        Some([err, why]) if err.is_atom("error") => return Err(why.clone()),
        _ => return Err(reply),
    };
    if link {
        let _ = ctx.link(&pid);
    }
    let alias = ctx.monitor_alias(&pid, AliasMode::Demonitor);
    let arity = args.len();
    let mfa = Term::tuple(vec![
        Term::Atom(module.clone()),
        Term::Atom(function.clone()),
        Term::list(args),
    ]);
    let _ = ctx.send(
        &pid,
        Term::tuple(vec![
            Term::Pid(me.clone()),
            Term::from(alias.clone()),
            Term::from(alias.clone()),
            Term::list(vec![Term::Pid(me.clone())]),
            mfa,
        ]),
    );
    Ok(Task::new(
        pid,
        alias,
        me,
        mfa_term(&module, &function, arity),
    ))
}

/// The child spec a dynamic supervisor starts for `{start_task, Args, Restart,
/// Shutdown}` (see the module documentation).
pub(crate) fn start_task_spec(args: &Term, restart: &Term, shutdown: &Term) -> ChildSpec {
    let owner = args
        .as_list()
        .and_then(|a| a.first())
        .and_then(|o| o.as_tuple())
        .and_then(|o| o.get(2))
        .and_then(|p| p.as_pid())
        .cloned();
    let restart = if restart.is_atom("permanent") {
        Restart::Permanent
    } else if restart.is_atom("transient") {
        Restart::Transient
    } else {
        Restart::Temporary
    };
    let shutdown = match shutdown {
        Term::Int(ms) if *ms >= 0 => Shutdown::Timeout(Duration::from_millis(*ms as u64)),
        t if t.is_atom("brutal_kill") => Shutdown::BrutalKill,
        t if t.is_atom("infinity") => Shutdown::Infinity,
        _ => Shutdown::Timeout(Duration::from_secs(5)),
    };
    ChildSpec::new("task", move |ctx: Ctx| {
        let owner = owner.clone();
        async move { Ok(Some(ctx.spawn_link(move |c| run_task(c, owner)))) }
    })
    .id(Term::atom("undefined"))
    .restart(restart)
    .shutdown(shutdown)
}

/// The task process: waits for its caller's `{Pid, Ref, ReplyTo, Callers, {M, F, A}}`,
/// runs the function and answers `{Ref, Result}` to `ReplyTo`.
async fn run_task(ctx: Ctx, owner: Option<Pid>) -> Result<(), Term> {
    let mref = owner.as_ref().map(|o| ctx.monitor(o));
    let mt = mref.clone().map(Term::from);
    let got = ctx
        .receive_match_timeout(
            move |m| match m.as_tuple() {
                Some([Term::Pid(_), Term::Ref(_), _, _, mfa]) => {
                    mfa.as_tuple().is_some_and(|t| t.len() == 3)
                }
                Some([d, r, _, _, _]) => d.is_atom("DOWN") && Some(r) == mt.as_ref(),
                _ => false,
            },
            START_TIMEOUT,
        )
        .await;
    if let Some(r) = &mref {
        ctx.demonitor_flush(r);
    }
    let Some(Term::Tuple(t)) = got else {
        return Err(Term::atom("timeout"));
    };
    let (Term::Ref(r), reply_to, Some([Term::Atom(m), Term::Atom(f), a])) =
        (&t[1], &t[2], t[4].as_tuple())
    else {
        // The caller went away first.
        return Ok(());
    };
    let Some(args) = a.as_list() else {
        return Err(Term::atom("badarg"));
    };
    let value = ctx.apply(m.clone(), f.clone(), args.to_vec()).await?;
    let dest = Dest::from_term(reply_to).unwrap_or_else(|| Dest::Alias((**r).clone()));
    let _ = ctx.send(dest, Term::tuple(vec![Term::from((**r).clone()), value]));
    Ok(())
}
