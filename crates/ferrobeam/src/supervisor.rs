//! Supervisor: OTP's `supervisor` behaviour.
//!
//! A supervisor starts its children in order, links to them, traps exits, and
//! restarts them by its [`Strategy`] when they exit, according to each child's
//! [`Restart`] type. If more than `intensity` restarts happen within `period`, it
//! terminates all children and exits with reason `shutdown`. Children are stopped in
//! the reverse of their start order, each by its [`Shutdown`]: `exit(Child, shutdown)`
//! and a wait of at most the timeout, then `exit(Child, kill)`; or `kill` at once.
//! Supervisors nest: a child can be a supervisor ([`ChildSpec::supervisor`]).
//!
//! The supervisor is a [`gen_server`] answering OTP's requests
//! (`which_children`, `count_children`, `{terminate_child, Id}`,
//! `{restart_child, Id}`, `{delete_child, Id}`) with OTP's replies, so
//! `supervisor:which_children/1` works on it from Erlang.
//!
//! ```
//! use ferrobeam::supervisor::{self, ChildSpec, Strategy, SupervisorSpec};
//! use ferrobeam::gen_server::StartOpts;
//! use ferrobeam::Node;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let node = Node::new();
//! let spec = SupervisorSpec::new(Strategy::OneForOne).child(ChildSpec::task("worker", |ctx| async move {
//!     ctx.receive().await; // runs until it gets a message
//! }));
//! let sup = supervisor::start(&node, spec, StartOpts::name("sup")).await.unwrap();
//! let children = node
//!     .run(move |ctx| async move { supervisor::which_children(&ctx, &sup).await.unwrap() })
//!     .await
//!     .unwrap();
//! assert_eq!(children.len(), 1);
//! assert!(children[0].pid.is_some());
//! # }
//! ```

use crate::ctx::Ctx;
use crate::gen_server::{
    self, CallFrom, CallReply, Flow, GenServer, ServerRef, StartOpts, Timeout,
};
use crate::node::Node;
use crate::reason;
use ferrobeam_term::{Pid, Ref, Term};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How a supervisor restarts its children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Restart only the child that exited.
    OneForOne,
    /// Terminate all other children, then restart all of them.
    OneForAll,
    /// Terminate the children started after the one that exited, then restart it and
    /// them.
    RestForOne,
}

/// When a child is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Always.
    Permanent,
    /// Only after an abnormal exit (not `normal`, `shutdown` or `{shutdown, _}`).
    Transient,
    /// Never; the child is removed when it exits.
    Temporary,
}

/// How a child is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// `exit(Child, kill)` at once.
    BrutalKill,
    /// `exit(Child, shutdown)`, then `kill` if it has not exited within the timeout.
    Timeout(Duration),
    /// `exit(Child, shutdown)` and wait as long as it takes (for supervisors).
    Infinity,
}

/// A worker or a supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildType {
    /// A worker.
    Worker,
    /// A supervisor.
    Supervisor,
}

impl ChildType {
    fn to_term(self) -> Term {
        Term::atom(match self {
            ChildType::Worker => "worker",
            ChildType::Supervisor => "supervisor",
        })
    }
}

/// The future a child's start function returns: the new pid (linked to the
/// supervisor), `Ok(None)` for `ignore`, or an error reason.
pub type StartFuture = Pin<Box<dyn Future<Output = Result<Option<Pid>, Term>> + Send>>;

/// A child's start function. It gets the supervisor's context and must link the new
/// process to it (as `ctx.spawn_link` and `gen_server::start_link` do).
pub type StartFn = Arc<dyn Fn(Ctx) -> StartFuture + Send + Sync>;

/// A child specification.
#[derive(Clone)]
pub struct ChildSpec {
    /// The child's id (an atom for ids given as text).
    pub id: Term,
    /// Starts the child.
    pub start: StartFn,
    /// When it is restarted (default permanent).
    pub restart: Restart,
    /// How it is stopped (default 5 s for a worker, infinity for a supervisor).
    pub shutdown: Shutdown,
    /// Worker or supervisor.
    pub kind: ChildType,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .finish()
    }
}

impl ChildSpec {
    /// A child started by `start`. The id is the atom `id`.
    pub fn new<F, Fut>(id: &str, start: F) -> ChildSpec
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<Pid>, Term>> + Send + 'static,
    {
        ChildSpec {
            id: Term::atom(id),
            start: Arc::new(move |ctx| Box::pin(start(ctx))),
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            kind: ChildType::Worker,
        }
    }

    /// A worker that is a plain process running `f`, spawned linked to the supervisor.
    pub fn task<F, Fut>(id: &str, f: F) -> ChildSpec
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: crate::IntoExitReason,
    {
        let f = Arc::new(f);
        ChildSpec::new(id, move |ctx: Ctx| {
            let f = f.clone();
            async move { Ok(Some(ctx.spawn_link(move |c| f(c)))) }
        })
    }

    /// A worker that is a [`GenServer`] started with `args` (cloned at each start).
    pub fn gen_server<S>(id: &str, args: S::Args, opts: StartOpts) -> ChildSpec
    where
        S: GenServer,
        S::Args: Clone + Sync,
    {
        ChildSpec::new(id, move |ctx: Ctx| {
            let args = args.clone();
            let opts = opts.clone();
            async move {
                gen_server::start_link::<S>(&ctx, args, opts)
                    .await
                    .map(Some)
            }
        })
    }

    /// A child that is itself a supervisor.
    pub fn supervisor(id: &str, spec: SupervisorSpec, opts: StartOpts) -> ChildSpec {
        let mut c = ChildSpec::new(id, move |ctx: Ctx| {
            let spec = spec.clone();
            let opts = opts.clone();
            async move { start_link(&ctx, spec, opts).await.map(Some) }
        });
        c.kind = ChildType::Supervisor;
        c.shutdown = Shutdown::Infinity;
        c
    }

    /// Sets the id.
    pub fn id(mut self, id: Term) -> Self {
        self.id = id;
        self
    }

    /// Sets the restart type.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets the shutdown.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Sets the child type.
    pub fn kind(mut self, kind: ChildType) -> Self {
        self.kind = kind;
        self
    }
}

/// A supervisor's flags and children.
#[derive(Clone, Debug)]
pub struct SupervisorSpec {
    /// The restart strategy.
    pub strategy: Strategy,
    /// At most this many restarts...
    pub intensity: u32,
    /// ... within this period (OTP's defaults: 1 restart in 5 seconds).
    pub period: Duration,
    /// The children, in start order.
    pub children: Vec<ChildSpec>,
}

impl SupervisorSpec {
    /// A spec with OTP's default intensity (1 restart in 5 seconds) and no children.
    pub fn new(strategy: Strategy) -> SupervisorSpec {
        SupervisorSpec {
            strategy,
            intensity: 1,
            period: Duration::from_secs(5),
            children: Vec::new(),
        }
    }

    /// Sets the restart intensity: more than `intensity` restarts within `period`
    /// make the supervisor give up.
    pub fn intensity(mut self, intensity: u32, period: Duration) -> Self {
        self.intensity = intensity;
        self.period = period;
        self
    }

    /// Adds a child.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }
}

/// Starts a supervisor not linked to anyone (`supervisor:start_link/3` without the
/// link). Fails with `{shutdown, {failed_to_start_child, Id, Reason}}` if a child
/// cannot be started.
pub async fn start(node: &Node, spec: SupervisorSpec, opts: StartOpts) -> Result<Pid, Term> {
    gen_server::start::<Supervisor>(node, spec, opts).await
}

/// Starts a supervisor linked to the calling process (`supervisor:start_link/3`).
pub async fn start_link(ctx: &Ctx, spec: SupervisorSpec, opts: StartOpts) -> Result<Pid, Term> {
    gen_server::start_link::<Supervisor>(ctx, spec, opts).await
}

struct Child {
    spec: ChildSpec,
    pid: Option<Pid>,
}

/// Restart bookkeeping shared by the supervisors.
pub(crate) struct Restarts {
    intensity: u32,
    period: Duration,
    times: VecDeque<Instant>,
}

impl Restarts {
    pub(crate) fn new(intensity: u32, period: Duration) -> Restarts {
        Restarts {
            intensity,
            period,
            times: VecDeque::new(),
        }
    }

    /// Records a restart; false if that exceeds the intensity.
    pub(crate) fn add(&mut self) -> bool {
        let now = Instant::now();
        self.times.push_back(now);
        while let Some(&t) = self.times.front() {
            if now.duration_since(t) > self.period {
                self.times.pop_front();
            } else {
                break;
            }
        }
        self.times.len() as u64 <= self.intensity as u64
    }
}

/// The supervisor server.
pub struct Supervisor {
    strategy: Strategy,
    restarts: Restarts,
    children: Vec<Child>,
}

/// Stops a child by its shutdown spec: unlink, then `shutdown` and wait, or `kill`.
/// Returns its exit reason.
pub(crate) async fn shutdown_child(ctx: &Ctx, pid: &Pid, how: Shutdown) -> Term {
    let mref = ctx.monitor(pid);
    ctx.unlink(pid);
    // Drop an 'EXIT' from the child that may already be here.
    let p = Term::Pid(pid.clone());
    let _ = ctx
        .receive_match_timeout(
            move |m| matches!(m, Term::Tuple(t) if t.len() == 3 && t[0].is_atom("EXIT") && t[1] == p),
            Duration::ZERO,
        )
        .await;
    let mref_t = Term::from(mref.clone());
    let is_down = move |m: &Term| matches!(m, Term::Tuple(t) if t.len() == 5 && t[0].is_atom("DOWN") && t[1] == mref_t);
    let down = match how {
        Shutdown::BrutalKill => {
            ctx.exit(pid, reason::kill());
            ctx.receive_match(is_down).await
        }
        Shutdown::Infinity => {
            ctx.exit(pid, reason::shutdown());
            ctx.receive_match(is_down).await
        }
        Shutdown::Timeout(d) => {
            ctx.exit(pid, reason::shutdown());
            match ctx.receive_match_timeout(is_down.clone(), d).await {
                Some(m) => m,
                None => {
                    ctx.exit(pid, reason::kill());
                    ctx.receive_match(is_down).await
                }
            }
        }
    };
    match down {
        Term::Tuple(mut t) => t.pop().unwrap_or_else(reason::noproc),
        _ => reason::noproc(),
    }
}

fn failed_to_start(id: &Term, why: Term) -> Term {
    Term::tuple(vec![
        Term::atom("shutdown"),
        Term::tuple(vec![Term::atom("failed_to_start_child"), id.clone(), why]),
    ])
}

impl Supervisor {
    async fn start_child_at(&mut self, ctx: &Ctx, i: usize) -> Result<(), Term> {
        let start = self.children[i].spec.start.clone();
        match start(ctx.clone()).await {
            Ok(pid) => {
                self.children[i].pid = pid;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn stop_child_at(&mut self, ctx: &Ctx, i: usize) {
        if let Some(pid) = self.children[i].pid.take() {
            shutdown_child(ctx, &pid, self.children[i].spec.shutdown).await;
        }
    }

    /// Stops children `from..` in reverse order; temporary ones are removed.
    async fn stop_from(&mut self, ctx: &Ctx, from: usize) {
        for i in (from..self.children.len()).rev() {
            self.stop_child_at(ctx, i).await;
        }
    }

    async fn terminate_all(&mut self, ctx: &Ctx) {
        self.stop_from(ctx, 0).await;
    }

    /// Handles the exit of child `i`. Returns the supervisor's own exit reason if it
    /// must give up.
    async fn child_exited(&mut self, ctx: &Ctx, i: usize, why: Term) -> Option<Term> {
        self.children[i].pid = None;
        let restart = match self.children[i].spec.restart {
            Restart::Permanent => true,
            Restart::Transient => !reason::is_orderly(&why),
            Restart::Temporary => false,
        };
        if !restart {
            if self.children[i].spec.restart == Restart::Temporary {
                self.children.remove(i);
            }
            return None;
        }
        if !reason::is_orderly(&why) {
            tracing::debug!(child = %self.children[i].spec.id, reason = %why, "child crashed");
        }
        let mut first = i;
        loop {
            if !self.restarts.add() {
                tracing::warn!(
                    supervisor = %ctx.self_pid(),
                    "reached_max_restart_intensity; shutting down"
                );
                self.terminate_all(ctx).await;
                return Some(reason::shutdown());
            }
            match self.restart_from(ctx, first).await {
                Ok(()) => return None,
                Err(at) => first = at,
            }
        }
    }

    /// Restarts by strategy around child `i`. On a failed start, returns the index to
    /// retry from (each retry counts as a restart, as in OTP).
    async fn restart_from(&mut self, ctx: &Ctx, i: usize) -> Result<(), usize> {
        let range: Vec<usize> = match self.strategy {
            Strategy::OneForOne => vec![i],
            Strategy::OneForAll => {
                for j in (0..self.children.len()).rev() {
                    if j != i {
                        self.stop_child_at(ctx, j).await;
                    }
                }
                (0..self.children.len()).collect()
            }
            Strategy::RestForOne => {
                for j in (i + 1..self.children.len()).rev() {
                    self.stop_child_at(ctx, j).await;
                }
                (i..self.children.len()).collect()
            }
        };
        // Temporary children that were stopped are not restarted: remove them.
        let mut order = Vec::new();
        for j in range {
            if self.children[j].pid.is_none() {
                order.push(j);
            }
        }
        for &j in &order {
            if self.children[j].spec.restart == Restart::Temporary && j != i {
                continue;
            }
            if let Err(e) = self.start_child_at(ctx, j).await {
                tracing::warn!(child = %self.children[j].spec.id, reason = %e, "restart failed");
                return Err(j);
            }
        }
        self.children
            .retain(|c| c.pid.is_some() || c.spec.restart != Restart::Temporary);
        Ok(())
    }

    fn index_of_pid(&self, pid: &Pid) -> Option<usize> {
        self.children
            .iter()
            .position(|c| c.pid.as_ref() == Some(pid))
    }

    fn index_of_id(&self, id: &Term) -> Option<usize> {
        self.children.iter().position(|c| c.spec.id == *id)
    }

    fn which_children(&self) -> Term {
        Term::list(
            self.children
                .iter()
                .map(|c| {
                    Term::tuple(vec![
                        c.spec.id.clone(),
                        c.pid
                            .as_ref()
                            .map(|p| Term::Pid(p.clone()))
                            .unwrap_or_else(|| Term::atom("undefined")),
                        c.spec.kind.to_term(),
                        Term::atom("dynamic"),
                    ])
                })
                .collect(),
        )
    }

    fn count_children(&self) -> Term {
        let specs = self.children.len();
        let active = self.children.iter().filter(|c| c.pid.is_some()).count();
        let sups = self
            .children
            .iter()
            .filter(|c| c.spec.kind == ChildType::Supervisor)
            .count();
        count_term(specs, active, sups, specs - sups)
    }
}

pub(crate) fn count_term(specs: usize, active: usize, sups: usize, workers: usize) -> Term {
    let kv = |k: &str, v: usize| Term::tuple(vec![Term::atom(k), Term::from(v)]);
    Term::list(vec![
        kv("specs", specs),
        kv("active", active),
        kv("supervisors", sups),
        kv("workers", workers),
    ])
}

fn error(t: Term) -> Term {
    Term::error(t)
}

impl GenServer for Supervisor {
    type Args = SupervisorSpec;
    type Call = Term;
    type Reply = Term;
    type Cast = Term;

    async fn init(ctx: &Ctx, spec: SupervisorSpec) -> Result<Self, Term> {
        ctx.trap_exit(true);
        let mut sup = Supervisor {
            strategy: spec.strategy,
            restarts: Restarts::new(spec.intensity, spec.period),
            children: Vec::new(),
        };
        for child in spec.children {
            if sup.index_of_id(&child.id).is_some() {
                let id = child.id.clone();
                sup.terminate_all(ctx).await;
                return Err(Term::tuple(vec![
                    Term::atom("shutdown"),
                    Term::tuple(vec![Term::atom("duplicate_child_name"), id]),
                ]));
            }
            sup.children.push(Child {
                spec: child,
                pid: None,
            });
            let i = sup.children.len() - 1;
            if let Err(e) = sup.start_child_at(ctx, i).await {
                let id = sup.children[i].spec.id.clone();
                sup.terminate_all(ctx).await;
                return Err(failed_to_start(&id, e));
            }
            if sup.children[i].pid.is_none() && sup.children[i].spec.restart == Restart::Temporary {
                sup.children.pop();
            }
        }
        Ok(sup)
    }

    async fn handle_call(&mut self, ctx: &Ctx, req: Term, _from: CallFrom) -> CallReply<Term> {
        let ok = || Term::atom("ok");
        let reply = match &req {
            Term::Atom(a) if a == "which_children" => self.which_children(),
            Term::Atom(a) if a == "count_children" => self.count_children(),
            Term::Tuple(t) if t.len() == 2 && t[0].is_atom("terminate_child") => {
                match self.index_of_id(&t[1]) {
                    Some(i) => {
                        self.stop_child_at(ctx, i).await;
                        if self.children[i].spec.restart == Restart::Temporary {
                            self.children.remove(i);
                        }
                        ok()
                    }
                    None => error(Term::atom("not_found")),
                }
            }
            Term::Tuple(t) if t.len() == 2 && t[0].is_atom("restart_child") => {
                match self.index_of_id(&t[1]) {
                    Some(i) if self.children[i].pid.is_some() => error(Term::atom("running")),
                    Some(i) => match self.start_child_at(ctx, i).await {
                        Ok(()) => match &self.children[i].pid {
                            Some(p) => Term::ok(Term::Pid(p.clone())),
                            None => Term::ok(Term::atom("undefined")),
                        },
                        Err(e) => error(e),
                    },
                    None => error(Term::atom("not_found")),
                }
            }
            Term::Tuple(t) if t.len() == 2 && t[0].is_atom("delete_child") => {
                match self.index_of_id(&t[1]) {
                    Some(i) if self.children[i].pid.is_some() => error(Term::atom("running")),
                    Some(i) => {
                        self.children.remove(i);
                        ok()
                    }
                    None => error(Term::atom("not_found")),
                }
            }
            Term::Tuple(t) if t.len() == 2 && t[0].is_atom("start_child") => {
                let spec = stashed_spec(ctx.node(), &t[1]);
                match spec {
                    None => error(Term::atom("badarg")),
                    Some(spec) => match self.index_of_id(&spec.id) {
                        Some(i) => match &self.children[i].pid {
                            Some(p) => error(Term::tuple(vec![
                                Term::atom("already_started"),
                                Term::Pid(p.clone()),
                            ])),
                            None => error(Term::tuple(vec![
                                Term::atom("already_present"),
                                spec.id.clone(),
                            ])),
                        },
                        None => {
                            self.children.push(Child { spec, pid: None });
                            let i = self.children.len() - 1;
                            match self.start_child_at(ctx, i).await {
                                Ok(()) => match self.children[i].pid.clone() {
                                    Some(p) => Term::ok(Term::Pid(p)),
                                    None => {
                                        if self.children[i].spec.restart == Restart::Temporary {
                                            self.children.pop();
                                        }
                                        Term::ok(Term::atom("undefined"))
                                    }
                                },
                                Err(e) => {
                                    self.children.pop();
                                    error(e)
                                }
                            }
                        }
                    },
                }
            }
            _ => error(Term::tuple(vec![Term::atom("bad_request"), req.clone()])),
        };
        CallReply::Reply(reply)
    }

    async fn handle_info(&mut self, ctx: &Ctx, msg: Term) -> Flow {
        if let Term::Tuple(t) = &msg {
            if t.len() == 3 && t[0].is_atom("EXIT") {
                if let Some(pid) = t[1].as_pid() {
                    if let Some(i) = self.index_of_pid(pid) {
                        if let Some(r) = self.child_exited(ctx, i, t[2].clone()).await {
                            return Flow::Stop(r);
                        }
                    }
                }
            }
        }
        Flow::Continue
    }

    async fn terminate(&mut self, ctx: &Ctx, _reason: &Term) {
        self.terminate_all(ctx).await;
    }
}

/// A child spec handed to a local supervisor inside a call, as
/// `{'$ferrobeam_child_spec', Ref}`.
pub(crate) fn stash_spec(node: &Node, spec: ChildSpec) -> Term {
    let r = node.stash(Box::new(spec));
    Term::tuple(vec![Term::atom("$ferrobeam_child_spec"), Term::from(r)])
}

pub(crate) fn stashed_spec(node: &Node, t: &Term) -> Option<ChildSpec> {
    let t = t.as_tuple()?;
    if t.len() != 2 || !t[0].is_atom("$ferrobeam_child_spec") {
        return None;
    }
    let r: &Ref = t[1].as_ref()?;
    node.unstash(r)?.downcast::<ChildSpec>().ok().map(|b| *b)
}

/// A child as [`which_children`] reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildInfo {
    /// The child's id.
    pub id: Term,
    /// Its pid, or `None` (`undefined`) if it is not running.
    pub pid: Option<Pid>,
    /// Worker or supervisor.
    pub kind: ChildType,
}

fn parse_children(t: &Term) -> Vec<ChildInfo> {
    t.as_list()
        .unwrap_or(&[])
        .iter()
        .filter_map(|c| {
            let c = c.as_tuple()?;
            Some(ChildInfo {
                id: c.first()?.clone(),
                pid: c.get(1)?.as_pid().cloned(),
                kind: if c.get(2)?.is_atom("supervisor") {
                    ChildType::Supervisor
                } else {
                    ChildType::Worker
                },
            })
        })
        .collect()
}

async fn sup_call(ctx: &Ctx, sup: ServerRef, req: Term) -> Result<Term, Term> {
    gen_server::call_timeout::<Term, Term>(ctx, sup, req, Timeout::Infinity)
        .await
        .map_err(|e| e.reason)
}

fn ok_or_error(t: Term) -> Result<Term, Term> {
    match t {
        Term::Tuple(mut v) if v.len() == 2 && v[0].is_atom("error") => Err(v.pop().expect("2")),
        Term::Tuple(mut v) if v.len() == 2 && v[0].is_atom("ok") => Ok(v.pop().expect("2")),
        other => Ok(other),
    }
}

/// The children, in start order (`supervisor:which_children/1`).
pub async fn which_children(ctx: &Ctx, sup: impl Into<ServerRef>) -> Result<Vec<ChildInfo>, Term> {
    Ok(parse_children(
        &sup_call(ctx, sup.into(), Term::atom("which_children")).await?,
    ))
}

/// `supervisor:count_children/1`: `[{specs, N}, {active, N}, {supervisors, N},
/// {workers, N}]`.
pub async fn count_children(ctx: &Ctx, sup: impl Into<ServerRef>) -> Result<Term, Term> {
    sup_call(ctx, sup.into(), Term::atom("count_children")).await
}

/// Adds and starts a child (`supervisor:start_child/2`): the new pid, `None` for
/// `ignore`, or `{already_started, Pid}`, `{already_present, Id}` or the start error.
pub async fn start_child(
    ctx: &Ctx,
    sup: impl Into<ServerRef>,
    spec: ChildSpec,
) -> Result<Option<Pid>, Term> {
    let req = Term::tuple(vec![
        Term::atom("start_child"),
        stash_spec(ctx.node(), spec),
    ]);
    let r = ok_or_error(sup_call(ctx, sup.into(), req).await?)?;
    Ok(r.as_pid().cloned())
}

/// Stops a child and keeps its spec (`supervisor:terminate_child/2`); `Err(not_found)`.
pub async fn terminate_child(ctx: &Ctx, sup: impl Into<ServerRef>, id: Term) -> Result<(), Term> {
    let req = Term::tuple(vec![Term::atom("terminate_child"), id]);
    ok_or_error(sup_call(ctx, sup.into(), req).await?).map(|_| ())
}

/// Starts a stopped child again (`supervisor:restart_child/2`); `Err(running)` or
/// `Err(not_found)`.
pub async fn restart_child(
    ctx: &Ctx,
    sup: impl Into<ServerRef>,
    id: Term,
) -> Result<Option<Pid>, Term> {
    let req = Term::tuple(vec![Term::atom("restart_child"), id]);
    Ok(ok_or_error(sup_call(ctx, sup.into(), req).await?)?
        .as_pid()
        .cloned())
}

/// Removes a stopped child's spec (`supervisor:delete_child/2`); `Err(running)` or
/// `Err(not_found)`.
pub async fn delete_child(ctx: &Ctx, sup: impl Into<ServerRef>, id: Term) -> Result<(), Term> {
    let req = Term::tuple(vec![Term::atom("delete_child"), id]);
    ok_or_error(sup_call(ctx, sup.into(), req).await?).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intensity_counts_restarts_in_the_period() {
        let mut r = Restarts::new(2, Duration::from_secs(5));
        assert!(r.add());
        assert!(r.add());
        assert!(!r.add());
    }
}
