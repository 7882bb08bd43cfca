//! The distributed rate limiter: the seed's `Distribution` and `RateLimiter`.
//!
//! * The **Distribution** process keeps the ring equal to the connected nodes: at start
//!   it subscribes to `nodeup`/`nodedown` (`net_kernel:monitor_nodes(true)`) and adds
//!   this node and the connected ones; then it adds each node that comes up and removes
//!   each node that goes down.
//! * The **RateLimiter** GenServer is registered as `'Elixir.RateLimiter'` (the Elixir
//!   port's name, so that Elixir and ferrobeam nodes can share a cluster) and answers
//!   `{check, Key}` with `{allow, Count}` or `{deny, Limit}` from this node's counters.
//! * [`RateLimiter::check`] finds the key's owner on the ring and calls the RateLimiter
//!   there (itself, without a message, when the owner is this node). If the call fails
//!   (node down, timeout) it logs `Tried to check rate limit but failed` and checks
//!   locally, as the seed does: "It's better than nothing!"

use crate::ring::HashRing;
use crate::window::{now_ms, Decision, FixedWindow};
use ferrobeam::dist::{DistNode, MonitorNodesOptions};
use ferrobeam::gen_server::{self, CallFrom, CallReply, GenServer, ServerRef, StartOpts};
use ferrobeam::{Atom, Ctx, Pid, Term};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

/// The registered name of the RateLimiter GenServer.
pub const SERVER_NAME: &str = "Elixir.RateLimiter";

/// The registered name of the Distribution process.
pub const DISTRIBUTION_NAME: &str = "Elixir.Distribution";

/// The seed's limit: 10 hits ...
pub const DEFAULT_LIMIT: u64 = 10;

/// ... per 60 s window (`Hammer.check_rate(ip, 60_000, 10)`).
pub const DEFAULT_WINDOW_MS: u64 = 60_000;

/// How long a check waits for the owner's answer before it falls back to a local check.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Calls to the RateLimiter: `{check, Key}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Count a hit for the key on this node.
    Check(String),
}

/// Settings of a [`RateLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Hits allowed per key and window.
    pub limit: u64,
    /// The window, in milliseconds.
    pub window_ms: u64,
    /// Points per node on the ring.
    pub points: usize,
    /// How long to wait for the owner node.
    pub call_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            limit: DEFAULT_LIMIT,
            window_ms: DEFAULT_WINDOW_MS,
            points: crate::ring::DEFAULT_POINTS,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        }
    }
}

/// The outcome of [`RateLimiter::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Allowed (with the count) or denied.
    pub decision: Decision,
    /// The node whose counters decided: the owner, or this node after a fallback.
    pub node: String,
    /// True when the owner could not be asked and this node checked locally.
    pub fallback: bool,
}

/// Where ring changes are reported (besides the `tracing` log): one line per change.
pub type EventFn = Arc<dyn Fn(&str) + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A node's rate limiter: its ring, its counters, its processes. Cheap to clone.
#[derive(Clone)]
pub struct RateLimiter {
    dist: DistNode,
    ring: Arc<RwLock<HashRing>>,
    counters: Arc<Mutex<FixedWindow>>,
    settings: Settings,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("node", self.dist.name())
            .field("settings", &self.settings)
            .finish()
    }
}

struct Server {
    counters: Arc<Mutex<FixedWindow>>,
}

impl GenServer for Server {
    type Args = Arc<Mutex<FixedWindow>>;
    type Call = Term;
    type Reply = Term;
    type Cast = Term;

    async fn init(_ctx: &Ctx, counters: Self::Args) -> Result<Self, Term> {
        Ok(Server { counters })
    }

    async fn handle_call(&mut self, _ctx: &Ctx, req: Term, from: CallFrom) -> CallReply<Term> {
        match ferrobeam_term::from_term::<Request>(&req) {
            Ok(Request::Check(key)) => {
                let d = lock(&self.counters).check(&key);
                CallReply::Reply(
                    ferrobeam_term::to_term(&d).unwrap_or_else(|_| Term::atom("error")),
                )
            }
            Err(e) => {
                tracing::warn!(%req, from = %from.pid.node, "RateLimiter: unknown call ({e})");
                CallReply::Reply(Term::tuple(vec![Term::atom("error"), Term::atom("badarg")]))
            }
        }
    }

    async fn handle_cast(&mut self, _ctx: &Ctx, _msg: Term) -> ferrobeam::gen_server::Flow {
        ferrobeam::gen_server::Flow::Continue
    }
}

impl RateLimiter {
    /// Starts the RateLimiter GenServer and the Distribution process on `dist`.
    /// `events` gets a line when the ring changes (`Node b@host connected`, ...).
    pub async fn start(
        dist: &DistNode,
        settings: Settings,
        events: Option<EventFn>,
    ) -> Result<RateLimiter, Term> {
        let ring = Arc::new(RwLock::new(HashRing::with_points(settings.points)));
        let counters = Arc::new(Mutex::new(FixedWindow::new(
            settings.window_ms,
            settings.limit,
        )));
        gen_server::start::<Server>(dist.node(), counters.clone(), StartOpts::name(SERVER_NAME))
            .await?;
        let limiter = RateLimiter {
            dist: dist.clone(),
            ring,
            counters,
            settings,
        };
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let pid = dist.node().spawn({
            let limiter = limiter.clone();
            move |ctx| distribution(ctx, limiter, events, ready_tx)
        });
        dist.node()
            .register(DISTRIBUTION_NAME, &pid)
            .map_err(|e| Term::string(&e.to_string()))?;
        let _ = ready_rx.await;
        Ok(limiter)
    }

    /// This node's name.
    pub fn node_name(&self) -> &str {
        self.dist.name().as_str()
    }

    /// The settings.
    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// The nodes on the ring, in the order they were added.
    pub fn ring_nodes(&self) -> Vec<String> {
        self.ring.read().unwrap_or_else(|p| p.into_inner()).nodes()
    }

    /// The node that owns `key` (this node on an empty ring).
    pub fn owner(&self, key: &str) -> String {
        self.ring
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .find_node(key)
            .map(str::to_string)
            .unwrap_or_else(|| self.node_name().to_string())
    }

    /// Milliseconds until the current window ends.
    pub fn ms_to_next_window(&self) -> u64 {
        lock(&self.counters).ms_to_next_window(now_ms())
    }

    /// Checks locally, on this node's counters (the seed's `check_internal`).
    pub fn check_local(&self, key: &str) -> Decision {
        lock(&self.counters).check(key)
    }

    /// The seed's `RateLimiter.check(key)`: asks the owner node, falls back to a local
    /// check if that fails.
    pub async fn check(&self, key: &str) -> Checked {
        let owner = self.owner(key);
        let me = self.node_name().to_string();
        if owner == me {
            return Checked {
                decision: self.check_local(key),
                node: me,
                fallback: false,
            };
        }
        let server = ServerRef::Remote(Atom::new(SERVER_NAME), Atom::new(&owner));
        let req = Request::Check(key.to_string());
        let timeout = self.settings.call_timeout;
        let answer = self
            .dist
            .node()
            .run(move |ctx| async move {
                gen_server::call_timeout::<_, Decision>(&ctx, server, req, timeout).await
            })
            .await;
        match answer {
            Ok(Ok(decision)) => Checked {
                decision,
                node: owner,
                fallback: false,
            },
            Ok(Err(e)) => self.fallback(key, me, &e.reason),
            Err(reason) => self.fallback(key, me, &reason),
        }
    }

    fn fallback(&self, key: &str, me: String, reason: &Term) -> Checked {
        tracing::warn!(reason = %reason, "Tried to check rate limit but failed");
        Checked {
            decision: self.check_local(key),
            node: me,
            fallback: true,
        }
    }

    fn ring_add(&self, node: &str) -> bool {
        self.ring
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .add_node(node)
    }

    fn ring_remove(&self, node: &str) -> bool {
        self.ring
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove_node(node)
    }
}

/// The Distribution process.
async fn distribution(
    ctx: Ctx,
    limiter: RateLimiter,
    events: Option<EventFn>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let me: Pid = ctx.self_pid().clone();
    limiter
        .dist
        .monitor_nodes(&me, true, MonitorNodesOptions::default());
    limiter.ring_add(limiter.node_name());
    for n in limiter.dist.nodes() {
        limiter.ring_add(n.as_str());
    }
    let report = |what: String| {
        let line = format!("{what}; ring: {}", limiter.ring_nodes().join(", "));
        tracing::info!("{line}");
        if let Some(e) = &events {
            e(&line);
        }
    };
    report(format!("Node {} started", limiter.node_name()));
    let _ = ready.send(());
    loop {
        let msg = ctx.receive().await;
        let Some([tag, Term::Atom(node), ..]) = msg.as_tuple() else {
            continue;
        };
        if tag.is_atom("nodeup") {
            if limiter.ring_add(node.as_str()) {
                report(format!("Node {node} connected"));
            }
        } else if tag.is_atom("nodedown") && limiter.ring_remove(node.as_str()) {
            report(format!("Node {node} disconnected"));
        }
    }
}
