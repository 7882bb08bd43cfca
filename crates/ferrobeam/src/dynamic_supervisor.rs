//! DynamicSupervisor: a supervisor that starts with no children and gets them one at
//! a time ([`start_child`]), as Elixir's `DynamicSupervisor`.
//!
//! The strategy is one_for_one. Each child is restarted by its own
//! [`Restart`] type; more than `intensity` restarts within
//! `period` (Elixir's defaults: 3 in 5 seconds) make the supervisor terminate all
//! children and exit with `shutdown`. Children are stopped in the reverse of their
//! start order. `max_children` limits how many run at once.
//!
//! ```
//! use ferrobeam::dynamic_supervisor::{self, DynamicSupervisorOpts};
//! use ferrobeam::gen_server::StartOpts;
//! use ferrobeam::supervisor::ChildSpec;
//! use ferrobeam::Node;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let node = Node::new();
//! let sup = dynamic_supervisor::start(&node, DynamicSupervisorOpts::default(), StartOpts::default())
//!     .await
//!     .unwrap();
//! let n = node.run(move |ctx| async move {
//!     let spec = ChildSpec::task("w", |ctx| async move { ctx.receive().await; });
//!     dynamic_supervisor::start_child(&ctx, &sup, spec.clone()).await.unwrap();
//!     dynamic_supervisor::start_child(&ctx, &sup, spec).await.unwrap();
//!     dynamic_supervisor::which_children(&ctx, &sup).await.unwrap().len()
//! }).await.unwrap();
//! assert_eq!(n, 2);
//! # }
//! ```

use crate::ctx::Ctx;
use crate::gen_server::{
    self, CallFrom, CallReply, Flow, GenServer, ServerRef, StartOpts, Timeout,
};
use crate::node::Node;
use crate::reason;
use crate::supervisor::{
    shutdown_child, stash_spec, stashed_spec, ChildInfo, ChildSpec, ChildType, Restart, Restarts,
};
use crate::table::FxHashMap;
use ferrobeam_term::{Pid, Term};
use std::time::Duration;

/// A dynamic supervisor's options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynamicSupervisorOpts {
    /// At most this many restarts...
    pub intensity: u32,
    /// ... within this period (Elixir's defaults: 3 in 5 seconds).
    pub period: Duration,
    /// At most this many children at once (`None`: no limit).
    pub max_children: Option<usize>,
}

impl Default for DynamicSupervisorOpts {
    fn default() -> Self {
        DynamicSupervisorOpts {
            intensity: 3,
            period: Duration::from_secs(5),
            max_children: None,
        }
    }
}

struct DynChild {
    seq: u64,
    spec: ChildSpec,
}

/// The dynamic supervisor server.
pub struct DynamicSupervisor {
    restarts: Restarts,
    max_children: Option<usize>,
    children: FxHashMap<Pid, DynChild>,
    seq: u64,
}

/// Starts a dynamic supervisor not linked to anyone.
pub async fn start(
    node: &Node,
    opts: DynamicSupervisorOpts,
    start: StartOpts,
) -> Result<Pid, Term> {
    gen_server::start::<DynamicSupervisor>(node, opts, start).await
}

/// Starts a dynamic supervisor linked to the calling process.
pub async fn start_link(
    ctx: &Ctx,
    opts: DynamicSupervisorOpts,
    start: StartOpts,
) -> Result<Pid, Term> {
    gen_server::start_link::<DynamicSupervisor>(ctx, opts, start).await
}

impl DynamicSupervisor {
    fn ordered(&self) -> Vec<(u64, Pid)> {
        let mut v: Vec<(u64, Pid)> = self
            .children
            .iter()
            .map(|(p, c)| (c.seq, p.clone()))
            .collect();
        v.sort();
        v
    }

    async fn terminate_all(&mut self, ctx: &Ctx) {
        for (_, pid) in self.ordered().into_iter().rev() {
            if let Some(c) = self.children.remove(&pid) {
                shutdown_child(ctx, &pid, c.spec.shutdown).await;
            }
        }
    }

    async fn start_spec(
        &mut self,
        ctx: &Ctx,
        spec: ChildSpec,
        seq: u64,
    ) -> Result<Option<Pid>, Term> {
        let pid = (spec.start)(ctx.clone()).await?;
        if let Some(p) = &pid {
            self.children.insert(p.clone(), DynChild { seq, spec });
        }
        Ok(pid)
    }
}

impl GenServer for DynamicSupervisor {
    type Args = DynamicSupervisorOpts;
    type Call = Term;
    type Reply = Term;
    type Cast = Term;

    async fn init(ctx: &Ctx, opts: DynamicSupervisorOpts) -> Result<Self, Term> {
        ctx.trap_exit(true);
        Ok(DynamicSupervisor {
            restarts: Restarts::new(opts.intensity, opts.period),
            max_children: opts.max_children,
            children: FxHashMap::default(),
            seq: 0,
        })
    }

    async fn handle_call(&mut self, ctx: &Ctx, req: Term, _from: CallFrom) -> CallReply<Term> {
        let reply = match &req {
            Term::Atom(a) if a == "which_children" => Term::list(
                self.ordered()
                    .into_iter()
                    .map(|(_, p)| {
                        let kind = self.children[&p].spec.kind;
                        Term::tuple(vec![
                            Term::atom("undefined"),
                            Term::Pid(p),
                            Term::atom(if kind == ChildType::Supervisor {
                                "supervisor"
                            } else {
                                "worker"
                            }),
                            Term::atom("dynamic"),
                        ])
                    })
                    .collect(),
            ),
            Term::Atom(a) if a == "count_children" => {
                let n = self.children.len();
                let sups = self
                    .children
                    .values()
                    .filter(|c| c.spec.kind == ChildType::Supervisor)
                    .count();
                let kv = |k: &str, v: usize| (Term::atom(k), Term::from(v));
                Term::map(vec![
                    kv("specs", n),
                    kv("active", n),
                    kv("supervisors", sups),
                    kv("workers", n - sups),
                ])
            }
            Term::Tuple(t) if t.len() == 2 && t[0].is_atom("terminate_child") => {
                match t[1]
                    .as_pid()
                    .and_then(|p| self.children.remove(p).map(|c| (p.clone(), c)))
                {
                    Some((pid, c)) => {
                        shutdown_child(ctx, &pid, c.spec.shutdown).await;
                        Term::atom("ok")
                    }
                    None => Term::error(Term::atom("not_found")),
                }
            }
            Term::Tuple(t) if t.len() == 2 && t[0].is_atom("start_child") => {
                match stashed_spec(ctx.node(), &t[1]) {
                    None => Term::error(Term::atom("badarg")),
                    Some(_) if self.max_children.is_some_and(|m| self.children.len() >= m) => {
                        Term::error(Term::atom("max_children"))
                    }
                    Some(spec) => {
                        self.seq += 1;
                        let seq = self.seq;
                        match self.start_spec(ctx, spec, seq).await {
                            Ok(Some(p)) => Term::ok(Term::Pid(p)),
                            Ok(None) => Term::atom("ignore"),
                            Err(e) => Term::error(e),
                        }
                    }
                }
            }
            // Elixir's Task.Supervisor: `{start_task, [Owner, monitor], Restart,
            // Shutdown}` (see `task_supervisor::async_remote`).
            Term::Tuple(t) if t.len() == 4 && t[0].is_atom("start_task") => {
                if self.max_children.is_some_and(|m| self.children.len() >= m) {
                    Term::error(Term::atom("max_children"))
                } else {
                    let spec = crate::task_supervisor::start_task_spec(&t[1], &t[2], &t[3]);
                    self.seq += 1;
                    let seq = self.seq;
                    match self.start_spec(ctx, spec, seq).await {
                        Ok(Some(p)) => Term::ok(Term::Pid(p)),
                        Ok(None) => Term::atom("ignore"),
                        Err(e) => Term::error(e),
                    }
                }
            }
            _ => Term::error(Term::tuple(vec![Term::atom("bad_request"), req.clone()])),
        };
        CallReply::Reply(reply)
    }

    async fn handle_info(&mut self, ctx: &Ctx, msg: Term) -> Flow {
        let Term::Tuple(t) = &msg else {
            return Flow::Continue;
        };
        if t.len() != 3 || !t[0].is_atom("EXIT") {
            return Flow::Continue;
        }
        let Some(pid) = t[1].as_pid() else {
            return Flow::Continue;
        };
        let Some(child) = self.children.remove(pid) else {
            return Flow::Continue;
        };
        let why = &t[2];
        let restart = match child.spec.restart {
            Restart::Permanent => true,
            Restart::Transient => !reason::is_orderly(why),
            Restart::Temporary => false,
        };
        if !restart {
            return Flow::Continue;
        }
        loop {
            if !self.restarts.add() {
                tracing::warn!(supervisor = %ctx.self_pid(), "reached_max_restart_intensity; shutting down");
                self.terminate_all(ctx).await;
                return Flow::Stop(reason::shutdown());
            }
            match self.start_spec(ctx, child.spec.clone(), child.seq).await {
                Ok(_) => return Flow::Continue,
                Err(e) => tracing::warn!(reason = %e, "restart failed"),
            }
        }
    }

    async fn terminate(&mut self, ctx: &Ctx, _reason: &Term) {
        self.terminate_all(ctx).await;
    }
}

async fn dcall(ctx: &Ctx, sup: ServerRef, req: Term) -> Result<Term, Term> {
    gen_server::call_timeout::<Term, Term>(ctx, sup, req, Timeout::Infinity)
        .await
        .map_err(|e| e.reason)
}

/// Starts a child (`DynamicSupervisor.start_child/2`): its pid, `None` for `ignore`,
/// or `Err(max_children)` or the start error.
pub async fn start_child(
    ctx: &Ctx,
    sup: impl Into<ServerRef>,
    spec: ChildSpec,
) -> Result<Option<Pid>, Term> {
    let stashed = stash_spec(ctx.node(), spec);
    let req = Term::tuple(vec![Term::atom("start_child"), stashed.clone()]);
    let r = match dcall(ctx, sup.into(), req).await {
        Ok(r) => r,
        Err(e) => {
            // The supervisor never took the spec: drop it.
            let _ = stashed_spec(ctx.node(), &stashed);
            return Err(e);
        }
    };
    match r {
        Term::Tuple(mut v) if v.len() == 2 && v[0].is_atom("ok") => {
            Ok(v.pop().and_then(|p| p.as_pid().cloned()))
        }
        Term::Tuple(mut v) if v.len() == 2 && v[0].is_atom("error") => Err(v.pop().expect("2")),
        _ => Ok(None),
    }
}

/// Stops a child (`DynamicSupervisor.terminate_child/2`); `Err(not_found)`.
pub async fn terminate_child(ctx: &Ctx, sup: impl Into<ServerRef>, pid: &Pid) -> Result<(), Term> {
    let req = Term::tuple(vec![Term::atom("terminate_child"), Term::Pid(pid.clone())]);
    match dcall(ctx, sup.into(), req).await? {
        Term::Tuple(mut v) if v.len() == 2 && v[0].is_atom("error") => Err(v.pop().expect("2")),
        _ => Ok(()),
    }
}

/// The children, in start order (ids are `undefined`).
pub async fn which_children(ctx: &Ctx, sup: impl Into<ServerRef>) -> Result<Vec<ChildInfo>, Term> {
    let t = dcall(ctx, sup.into(), Term::atom("which_children")).await?;
    Ok(t.as_list()
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
        .collect())
}

/// `DynamicSupervisor.count_children/1`: `#{specs, active, supervisors, workers}`.
pub async fn count_children(ctx: &Ctx, sup: impl Into<ServerRef>) -> Result<Term, Term> {
    dcall(ctx, sup.into(), Term::atom("count_children")).await
}
