//! GenServer: OTP's `gen_server` behaviour, with OTP's exact messages.
//!
//! A server is a type implementing [`GenServer`]. Requests, replies and casts are
//! typed through the serde mapping (or raw [`Term`]s: use `Term` as the associated
//! type), and travel as OTP's own messages:
//!
//! * a call is `{'$gen_call', {CallerPid, [alias | Mref]}, Request}`, answered with
//!   `{[alias | Mref], Reply}` sent to the alias, exactly as OTP 24+ does, so an Elixir
//!   `GenServer.call` reaches a Rust server and the reverse, once nodes are connected;
//! * a cast is `{'$gen_cast', Msg}`;
//! * anything else goes to [`GenServer::handle_info`].
//!
//! Failures have OTP's exit reasons, carried by [`CallError`]: a call to a server that
//! does not exist fails with `{noproc, {gen_server, call, [Server, Request]}}`, one that
//! times out with `{timeout, {gen_server, call, [Server, Request, Timeout]}}`, and one to
//! a server that dies during the call with `{Reason, {gen_server, call, ...}}`.
//! Returning that error from a process function exits the process with that reason, as
//! an uncaught `gen_server:call` failure would.
//!
//! ```
//! use ferrobeam::gen_server::{self, CallFrom, CallReply, GenServer, StartOpts};
//! use ferrobeam::{Ctx, Node, Term};
//! use serde::{Deserialize, Serialize};
//!
//! struct Counter(i64);
//!
//! #[derive(Serialize, Deserialize)]
//! enum Req { Add(i64), Get }
//!
//! impl GenServer for Counter {
//!     type Args = i64;
//!     type Call = Req;
//!     type Reply = i64;
//!     type Cast = Term;
//!
//!     async fn init(_ctx: &Ctx, start: i64) -> Result<Self, Term> {
//!         Ok(Counter(start))
//!     }
//!
//!     async fn handle_call(&mut self, _ctx: &Ctx, req: Req, _from: CallFrom) -> CallReply<i64> {
//!         match req {
//!             Req::Add(n) => { self.0 += n; CallReply::Reply(self.0) }
//!             Req::Get => CallReply::Reply(self.0),
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let node = Node::new();
//! let pid = gen_server::start::<Counter>(&node, 10, StartOpts::name("counter")).await.unwrap();
//! let n = node.run(|ctx| async move {
//!     let _: i64 = gen_server::call(&ctx, "counter", Req::Add(5)).await.unwrap();
//!     gen_server::call::<_, i64>(&ctx, "counter", Req::Get).await.unwrap()
//! }).await.unwrap();
//! assert_eq!(n, 15);
//! # let _ = pid;
//! # }
//! ```

use crate::convert::{decode, encode};
use crate::ctx::Ctx;
use crate::node::{Node, Setup};
use crate::process::AliasMode;
use crate::reason;
use crate::signal::{Dest, Watcher};
use ferrobeam_term::{Atom, Pid, Term};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::any::Any;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::oneshot;

#[path = "gen_server_multi.rs"]
mod multi;
pub use multi::{abcast, multi_call, MultiCall};

/// The default call timeout: 5 seconds, as in OTP.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A timeout: a duration or `infinity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// At most this long.
    After(Duration),
    /// No limit.
    Infinity,
}

impl Timeout {
    /// The timeout as Erlang writes it: milliseconds, or `infinity`.
    pub fn to_term(&self) -> Term {
        match self {
            Timeout::After(d) => Term::from(d.as_millis() as u64),
            Timeout::Infinity => Term::atom("infinity"),
        }
    }

    pub(crate) fn duration(&self) -> Option<Duration> {
        match self {
            Timeout::After(d) => Some(*d),
            Timeout::Infinity => None,
        }
    }
}

impl From<Duration> for Timeout {
    fn from(d: Duration) -> Timeout {
        Timeout::After(d)
    }
}

/// A server to call: a pid, a local name, `{Name, Node}` or `{global, Name}`.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerRef {
    /// A process.
    Pid(Pid),
    /// A name registered on this node.
    Local(Atom),
    /// `{Name, Node}`: a name registered on a node (possibly this one).
    Remote(Atom, Atom),
    /// `{global, Name}`. Not available yet: calls fail with `noproc`, as for a global
    /// name that is not registered.
    Global(Term),
}

impl ServerRef {
    /// The server as Erlang writes it in exit reasons.
    pub fn to_term(&self) -> Term {
        match self {
            ServerRef::Pid(p) => Term::Pid(p.clone()),
            ServerRef::Local(n) => Term::Atom(n.clone()),
            ServerRef::Remote(n, node) => {
                Term::tuple(vec![Term::Atom(n.clone()), Term::Atom(node.clone())])
            }
            ServerRef::Global(n) => Term::tuple(vec![Term::atom("global"), n.clone()]),
        }
    }
}

impl From<Pid> for ServerRef {
    fn from(p: Pid) -> Self {
        ServerRef::Pid(p)
    }
}
impl From<&Pid> for ServerRef {
    fn from(p: &Pid) -> Self {
        ServerRef::Pid(p.clone())
    }
}
impl From<&str> for ServerRef {
    fn from(s: &str) -> Self {
        ServerRef::Local(Atom::new(s))
    }
}
impl From<Atom> for ServerRef {
    fn from(a: Atom) -> Self {
        ServerRef::Local(a)
    }
}
impl From<(Atom, Atom)> for ServerRef {
    fn from((n, node): (Atom, Atom)) -> Self {
        ServerRef::Remote(n, node)
    }
}
impl From<(&str, &str)> for ServerRef {
    fn from((n, node): (&str, &str)) -> Self {
        ServerRef::Remote(Atom::new(n), Atom::new(node))
    }
}
impl From<&ServerRef> for ServerRef {
    fn from(s: &ServerRef) -> Self {
        s.clone()
    }
}

/// The caller of a `handle_call`: OTP's `From`, `{Pid, Tag}`. Keep it to reply later
/// with [`reply`].
#[derive(Clone, Debug, PartialEq)]
pub struct CallFrom {
    /// The calling process.
    pub pid: Pid,
    /// The tag that the reply carries: `[alias | Mref]` from OTP 24+ callers, a bare
    /// reference from older ones.
    pub tag: Term,
}

impl CallFrom {
    /// `{Pid, Tag}`.
    pub fn to_term(&self) -> Term {
        Term::tuple(vec![Term::Pid(self.pid.clone()), self.tag.clone()])
    }

    /// Reads `{Pid, Tag}`.
    pub fn from_term(t: &Term) -> Option<CallFrom> {
        match t.as_tuple()? {
            [Term::Pid(p), tag] => Some(CallFrom {
                pid: p.clone(),
                tag: tag.clone(),
            }),
            _ => None,
        }
    }

    /// Where the reply goes: the alias in the tag if there is one, else the pid.
    fn reply_dest(&self) -> Dest {
        match &self.tag {
            Term::ImproperList { elements, tail } => {
                if elements.len() == 1 && elements[0].is_atom("alias") {
                    if let Term::Ref(r) = &**tail {
                        return Dest::Alias((**r).clone());
                    }
                }
                Dest::Pid(self.pid.clone())
            }
            Term::List(l) if !l.is_empty() => match &l[0] {
                Term::ImproperList { elements, tail }
                    if elements.len() == 1 && elements[0].is_atom("alias") =>
                {
                    match &**tail {
                        Term::Ref(r) => Dest::Alias((**r).clone()),
                        _ => Dest::Pid(self.pid.clone()),
                    }
                }
                _ => Dest::Pid(self.pid.clone()),
            },
            _ => Dest::Pid(self.pid.clone()),
        }
    }
}

/// Sends the reply to a call (`gen_server:reply/2`): `{Tag, Reply}` to the caller's
/// alias, or to its pid. Used by a server that answered [`CallReply::NoReply`].
pub fn reply<R: Serialize + 'static>(node: &Node, from: &CallFrom, reply: R) {
    match encode(reply) {
        Ok(r) => send_reply(node, from, r),
        Err(e) => tracing::warn!(error = %e, "gen_server reply could not be encoded"),
    }
}

fn send_reply(node: &Node, from: &CallFrom, reply: Term) {
    let msg = Term::tuple(vec![from.tag.clone(), reply]);
    let _ = node.send(from.reply_dest(), msg);
}

/// [`reply`] for the server loop, which is done with `from`: its tag moves into the
/// reply instead of being copied.
fn reply_owned<R: Serialize + 'static>(node: &Node, from: CallFrom, reply: R) {
    match encode(reply) {
        Ok(r) => {
            let dest = from.reply_dest();
            let _ = node.send(dest, Term::tuple(vec![from.tag, r]));
        }
        Err(e) => tracing::warn!(error = %e, "gen_server reply could not be encoded"),
    }
}

/// What `handle_call` answers.
#[derive(Debug, Clone, PartialEq)]
pub enum CallReply<R> {
    /// `{reply, Reply, State}`.
    Reply(R),
    /// `{noreply, State}`: reply later with [`reply`].
    NoReply,
    /// `{stop, Reason, Reply, State}` (with a reply) or `{stop, Reason, State}`.
    Stop {
        /// The exit reason.
        reason: Term,
        /// A reply sent before stopping.
        reply: Option<R>,
    },
}

/// What `handle_cast` and `handle_info` answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Flow {
    /// `{noreply, State}`.
    Continue,
    /// `{stop, Reason, State}`.
    Stop(Term),
}

/// A GenServer's callbacks. The state is `self`.
///
/// Requests (`Call`), replies (`Reply`) and casts (`Cast`) go through the serde mapping;
/// use [`Term`] for any of them to handle raw terms. A request or cast that does not
/// have the shape of its type stops the server with `{bad_call, Request}` or
/// `{bad_cast, Msg}` (as a missing function clause would crash an Erlang server).
///
/// A callback that panics (or calls [`Ctx::exit_self`]) stops the server: `terminate`
/// runs with the reason, then the process exits with it.
pub trait GenServer: Sized + Send + 'static {
    /// The argument of `init`.
    type Args: Send + 'static;
    /// Call requests.
    type Call: DeserializeOwned + Send + 'static;
    /// Call replies.
    type Reply: Serialize + Send + 'static;
    /// Casts.
    type Cast: DeserializeOwned + Send + 'static;

    /// Starts the server: `Ok(state)` (`{ok, State}`) or `Err(reason)`
    /// (`{stop, Reason}`).
    fn init(ctx: &Ctx, args: Self::Args) -> impl Future<Output = Result<Self, Term>> + Send;

    /// Handles a call. The default stops the server with `bad_call`.
    fn handle_call(
        &mut self,
        ctx: &Ctx,
        request: Self::Call,
        from: CallFrom,
    ) -> impl Future<Output = CallReply<Self::Reply>> + Send {
        let _ = (ctx, request, from);
        async {
            CallReply::Stop {
                reason: Term::atom("bad_call"),
                reply: None,
            }
        }
    }

    /// Handles a cast. The default stops the server with `bad_cast`.
    fn handle_cast(&mut self, ctx: &Ctx, msg: Self::Cast) -> impl Future<Output = Flow> + Send {
        let _ = (ctx, msg);
        async { Flow::Stop(Term::atom("bad_cast")) }
    }

    /// Handles any other message. The default ignores it.
    fn handle_info(&mut self, ctx: &Ctx, msg: Term) -> impl Future<Output = Flow> + Send {
        let _ = (ctx, msg);
        async { Flow::Continue }
    }

    /// Runs before the server exits with `reason` (not when it is killed, and not on an
    /// exit signal unless it traps exits).
    fn terminate(&mut self, ctx: &Ctx, reason: &Term) -> impl Future<Output = ()> + Send {
        let _ = (ctx, reason);
        async {}
    }
}

/// Options for starting a server.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartOpts {
    /// A name to register: `Local(name)` or `Global(name)` (not available yet: the start
    /// fails with `notsup`).
    pub name: Option<ServerName>,
}

impl StartOpts {
    /// Registers the server under a local name.
    pub fn name(name: &str) -> StartOpts {
        StartOpts {
            name: Some(ServerName::Local(Atom::new(name))),
        }
    }
}

/// A name for a server: `{local, Name}` or `{global, Name}`.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerName {
    /// Registered on this node.
    Local(Atom),
    /// Registered in `global` (later; starting fails with `notsup` for now).
    Global(Term),
}

/// Starts a server not linked to anyone (`gen_server:start/3,4`). Waits for `init`.
/// Errors: `{already_started, Pid}` if the name is taken, or the reason `init` gave
/// (or the server's crash reason).
pub async fn start<S: GenServer>(node: &Node, args: S::Args, opts: StartOpts) -> Result<Pid, Term> {
    start_inner::<S>(node, None, args, opts).await
}

/// Starts a server linked to the calling process (`gen_server:start_link/3,4`).
/// As in OTP, if `init` fails, the server exits with that reason and the link
/// delivers it to the caller.
pub async fn start_link<S: GenServer>(
    ctx: &Ctx,
    args: S::Args,
    opts: StartOpts,
) -> Result<Pid, Term> {
    start_inner::<S>(ctx.node(), Some(ctx), args, opts).await
}

async fn start_inner<S: GenServer>(
    node: &Node,
    parent: Option<&Ctx>,
    args: S::Args,
    opts: StartOpts,
) -> Result<Pid, Term> {
    let (ack_tx, ack_rx) = oneshot::channel::<Result<(), Term>>();
    let (exit_tx, exit_rx) = oneshot::channel();
    let parent_pid = parent.map(|c| c.self_pid().clone());
    let setup = Setup {
        link: parent_pid.clone(),
        monitor: Some((node.make_ref(), Watcher::External(exit_tx))),
        group_leader: parent.and_then(|c| crate::process::group_leader(&c.proc)),
    };
    let body = move |ctx: Ctx| async move {
        if let Some(name) = opts.name {
            match name {
                ServerName::Local(n) => {
                    if let Err(e) = ctx.register(n.clone()) {
                        let r = match ctx.node().whereis(n.as_str()) {
                            Some(p) => {
                                Term::tuple(vec![Term::atom("already_started"), Term::Pid(p)])
                            }
                            None => e.reason(),
                        };
                        let _ = ack_tx.send(Err(r));
                        return reason::normal();
                    }
                }
                ServerName::Global(_) => {
                    let _ = ack_tx.send(Err(Term::atom("notsup")));
                    return reason::normal();
                }
            }
        }
        let state = match catch(S::init(&ctx, args)).await {
            Ok(Ok(s)) => s,
            Ok(Err(r)) => {
                let _ = ack_tx.send(Err(r.clone()));
                return r;
            }
            Err(p) => {
                let r = reason::from_panic(p);
                let _ = ack_tx.send(Err(r.clone()));
                return r;
            }
        };
        let _ = ack_tx.send(Ok(()));
        serve(ctx, state, parent_pid).await
    };
    let pid = match parent {
        Some(p) => p.node().spawn_setup(
            move |ctx| async move { crate::reason::ExitReason(body(ctx).await) },
            setup,
            |pid| p.add_link_local(pid),
        ),
        None => node.spawn_setup(
            move |ctx| async move { crate::reason::ExitReason(body(ctx).await) },
            setup,
            |_| {},
        ),
    };
    match ack_rx.await {
        Ok(Ok(())) => Ok(pid),
        Ok(Err(r)) => Err(r),
        Err(_) => Err(exit_rx.await.unwrap_or_else(|_| reason::noproc())),
    }
}

/// Runs a future, catching a panic (or an `exit_self`) in it.
pub(crate) async fn catch<F: Future>(f: F) -> Result<F::Output, Box<dyn Any + Send>> {
    let mut f = pin!(f);
    poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        },
    )
    .await
}

enum Incoming {
    Call(CallFrom, Term),
    Cast(Term),
    Terminate(Term),
    ParentExit(Term),
    Info(Term),
}

fn classify(msg: Term, parent: Option<&Pid>, trapping: bool) -> Incoming {
    let Term::Tuple(mut t) = msg else {
        return Incoming::Info(msg);
    };
    if t.len() == 3 && t[0].is_atom("$gen_call") {
        if matches!(t[1].as_tuple(), Some([Term::Pid(_), _])) {
            // Moved out of the message, not copied.
            let req = t.pop().expect("3 elements");
            if let Some(Term::Tuple(mut f)) = t.pop() {
                let tag = f.pop().expect("2 elements");
                if let Some(Term::Pid(pid)) = f.pop() {
                    return Incoming::Call(CallFrom { pid, tag }, req);
                }
            }
            unreachable!("checked above");
        }
    } else if t.len() == 2 && t[0].is_atom("$gen_cast") {
        let m = t.pop().expect("2 elements");
        return Incoming::Cast(m);
    } else if t.len() == 3 && t[0].is_atom("system") {
        if let Term::Tuple(req) = &t[2] {
            if req.len() == 2 && req[0].is_atom("terminate") {
                return Incoming::Terminate(req[1].clone());
            }
        }
    } else if trapping
        && t.len() == 3
        && t[0].is_atom("EXIT")
        && parent.is_some_and(|p| t[1].as_pid() == Some(p))
    {
        let r = t.pop().expect("3 elements");
        return Incoming::ParentExit(r);
    }
    Incoming::Info(Term::Tuple(t))
}

/// The server loop. Returns the exit reason.
async fn serve<S: GenServer>(ctx: Ctx, mut state: S, parent: Option<Pid>) -> Term {
    loop {
        let msg = ctx.receive().await;
        let trapping = ctx.is_trapping_exits();
        let stop = match classify(msg, parent.as_ref(), trapping) {
            Incoming::Call(from, req) => match decode::<S::Call>(req) {
                Ok(req) => match catch(state.handle_call(&ctx, req, from.clone())).await {
                    Ok(CallReply::Reply(r)) => {
                        reply_owned(ctx.node(), from, r);
                        None
                    }
                    Ok(CallReply::NoReply) => None,
                    Ok(CallReply::Stop { reason, reply: r }) => {
                        if let Some(r) = r {
                            reply_owned(ctx.node(), from, r);
                        }
                        Some(reason)
                    }
                    Err(p) => Some(reason::from_panic(p)),
                },
                Err(raw) => Some(Term::tuple(vec![Term::atom("bad_call"), raw])),
            },
            Incoming::Cast(m) => match decode::<S::Cast>(m) {
                Ok(m) => flow(catch(state.handle_cast(&ctx, m)).await),
                Err(raw) => Some(Term::tuple(vec![Term::atom("bad_cast"), raw])),
            },
            Incoming::Info(m) => flow(catch(state.handle_info(&ctx, m)).await),
            Incoming::Terminate(r) | Incoming::ParentExit(r) => Some(r),
        };
        if let Some(reason) = stop {
            let _ = catch(state.terminate(&ctx, &reason)).await;
            return reason;
        }
    }
}

fn flow(r: Result<Flow, Box<dyn Any + Send>>) -> Option<Term> {
    match r {
        Ok(Flow::Continue) => None,
        Ok(Flow::Stop(reason)) => Some(reason),
        Err(p) => Some(reason::from_panic(p)),
    }
}

/// A failed call: the exit reason OTP's `gen_server:call` would exit the caller with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("gen_server call failed: {reason}")]
pub struct CallError {
    /// `{Reason, {gen_server, call, Args}}`, e.g.
    /// `{noproc, {gen_server, call, [Server, Request]}}`.
    pub reason: Term,
}

impl CallError {
    /// The inner reason: `noproc`, `timeout`, `calling_self`, `{nodedown, Node}`, or the
    /// server's exit reason.
    pub fn kind(&self) -> &Term {
        match &self.reason {
            Term::Tuple(t) if t.len() == 2 => &t[0],
            other => other,
        }
    }

    /// True if the server did not exist.
    pub fn is_noproc(&self) -> bool {
        self.kind().is_atom("noproc")
    }

    /// True if the call timed out.
    pub fn is_timeout(&self) -> bool {
        self.kind().is_atom("timeout")
    }
}

impl From<CallError> for Term {
    fn from(e: CallError) -> Term {
        e.reason
    }
}

/// Calls a server with the default timeout of 5 seconds (`gen_server:call/2`).
pub async fn call<Req, Rep>(
    ctx: &Ctx,
    server: impl Into<ServerRef>,
    request: Req,
) -> Result<Rep, CallError>
where
    Req: Serialize + 'static,
    Rep: DeserializeOwned + 'static,
{
    call_inner(
        ctx,
        server.into(),
        request,
        Timeout::After(DEFAULT_TIMEOUT),
        false,
    )
    .await
}

/// Calls a server with a timeout (`gen_server:call/3`).
pub async fn call_timeout<Req, Rep>(
    ctx: &Ctx,
    server: impl Into<ServerRef>,
    request: Req,
    timeout: impl Into<Timeout>,
) -> Result<Rep, CallError>
where
    Req: Serialize + 'static,
    Rep: DeserializeOwned + 'static,
{
    call_inner(ctx, server.into(), request, timeout.into(), true).await
}

async fn call_inner<Req, Rep>(
    ctx: &Ctx,
    server: ServerRef,
    request: Req,
    timeout: Timeout,
    explicit_timeout: bool,
) -> Result<Rep, CallError>
where
    Req: Serialize + 'static,
    Rep: DeserializeOwned + 'static,
{
    let request = match encode(request) {
        Ok(r) => r,
        Err(e) => {
            return Err(CallError {
                reason: Term::tuple(vec![Term::atom("badarg"), Term::string(&e.to_string())]),
            })
        }
    };
    let fail = |why: Term, request: Term| {
        let mut args = vec![server.to_term(), request];
        if explicit_timeout {
            args.push(timeout.to_term());
        }
        CallError {
            reason: Term::tuple(vec![
                why,
                Term::tuple(vec![
                    Term::atom("gen_server"),
                    Term::atom("call"),
                    Term::list(args),
                ]),
            ]),
        }
    };
    match do_call(ctx, &server, request.clone(), timeout).await {
        Ok(reply) => decode::<Rep>(reply)
            .map_err(|bad| fail(Term::tuple(vec![Term::atom("bad_reply"), bad]), request)),
        Err(why) => Err(fail(why, request)),
    }
}

/// `[alias | Mref]`, the tag of a call made with the monitor `mref`.
fn is_alias_tag(t: &Term, mref: &ferrobeam_term::Ref) -> bool {
    match t {
        Term::ImproperList { elements, tail } => {
            elements.len() == 1
                && elements[0].is_atom("alias")
                && matches!(&**tail, Term::Ref(r) if **r == *mref)
        }
        _ => false,
    }
}

/// `gen:do_call`: returns the reply, or the bare exit reason.
pub(crate) async fn do_call(
    ctx: &Ctx,
    server: &ServerRef,
    request: Term,
    timeout: Timeout,
) -> Result<Term, Term> {
    let own = ctx.node().name().clone();
    let target = match server {
        ServerRef::Pid(p) => Dest::Pid(p.clone()),
        ServerRef::Local(n) => match ctx.node().whereis(n.as_str()) {
            Some(p) => Dest::Pid(p),
            None => return Err(reason::noproc()),
        },
        ServerRef::Remote(n, node) if *node == own => match ctx.node().whereis(n.as_str()) {
            Some(p) => Dest::Pid(p),
            None => return Err(reason::noproc()),
        },
        ServerRef::Remote(n, node) => {
            if own == "nonode@nohost" {
                return Err(Term::tuple(vec![
                    Term::atom("nodedown"),
                    Term::Atom(node.clone()),
                ]));
            }
            Dest::Remote(n.clone(), node.clone())
        }
        ServerRef::Global(_) => return Err(reason::noproc()),
    };
    if let Dest::Pid(p) = &target {
        if p == ctx.self_pid() {
            return Err(Term::atom("calling_self"));
        }
    }
    let mref = ctx.monitor_alias(target.clone(), AliasMode::Demonitor);
    let tag = Term::improper_list(vec![Term::atom("alias")], Term::from(mref.clone()));
    let msg = Term::tuple(vec![
        Term::atom("$gen_call"),
        Term::tuple(vec![Term::Pid(ctx.self_pid().clone()), tag]),
        request,
    ]);
    let _ = ctx.send(target.clone(), msg);
    // The reply is `{[alias | Mref], Reply}` (or `{Mref, Reply}`); recognised by its
    // shape, so that no copy of the tag is kept per call.
    let is_mref = |t: &Term| matches!(t, Term::Ref(r) if **r == mref);
    let is_reply = |m: &Term| -> bool {
        matches!(m, Term::Tuple(t) if t.len() == 2 && (is_mref(&t[0]) || is_alias_tag(&t[0], &mref)))
    };
    let matcher = |m: &Term| {
        is_reply(m)
            || matches!(m, Term::Tuple(t) if t.len() == 5 && t[0].is_atom("DOWN") && is_mref(&t[1]))
    };
    let got = match timeout.duration() {
        Some(d) => ctx.receive_match_timeout(matcher, d).await,
        None => Some(ctx.receive_match(matcher).await),
    };
    match got {
        Some(Term::Tuple(mut t)) if t.len() == 2 => {
            ctx.demonitor_flush(&mref);
            Ok(t.pop().expect("2 elements"))
        }
        Some(Term::Tuple(mut t)) => {
            let r = t.pop().expect("5 elements");
            if r.is_atom("noconnection") {
                let node = match &target {
                    Dest::Pid(p) => p.node.clone(),
                    Dest::Remote(_, n) => n.clone(),
                    _ => own,
                };
                Err(Term::tuple(vec![Term::atom("nodedown"), Term::Atom(node)]))
            } else {
                Err(r)
            }
        }
        Some(_) => unreachable!("matcher accepts only tuples"),
        None => {
            ctx.demonitor_flush(&mref);
            // A reply may have arrived just now.
            match ctx.receive_match_timeout(is_reply, Duration::ZERO).await {
                Some(Term::Tuple(mut t)) => Ok(t.pop().expect("2 elements")),
                _ => Err(reason::timeout()),
            }
        }
    }
}

/// Sends a cast (`gen_server:cast/2`): `{'$gen_cast', Msg}`. Never fails, even if
/// there is no such server.
pub fn cast<M: Serialize + 'static>(node: &Node, server: impl Into<ServerRef>, msg: M) {
    let Ok(msg) = encode(msg) else { return };
    let msg = Term::tuple(vec![Term::atom("$gen_cast"), msg]);
    let dest = match server.into() {
        ServerRef::Pid(p) => Dest::Pid(p),
        ServerRef::Local(n) => Dest::Name(n),
        ServerRef::Remote(n, node) => Dest::Remote(n, node),
        ServerRef::Global(_) => return,
    };
    let _ = node.send(dest, msg);
}

/// Stops a server (`gen_server:stop/3`): it runs `terminate(Reason)` and exits with
/// `reason`. Fails with `noproc` if there is no such server, `timeout` if it does not
/// stop in time, or the reason it exited with if that is another one.
pub async fn stop(
    ctx: &Ctx,
    server: impl Into<ServerRef>,
    reason: Term,
    timeout: impl Into<Timeout>,
) -> Result<(), Term> {
    let server = server.into();
    let target = match &server {
        ServerRef::Pid(p) => Dest::Pid(p.clone()),
        ServerRef::Local(n) => match ctx.node().whereis(n.as_str()) {
            Some(p) => Dest::Pid(p),
            None => return Err(reason::noproc()),
        },
        ServerRef::Remote(n, node) => Dest::Remote(n.clone(), node.clone()),
        ServerRef::Global(_) => return Err(reason::noproc()),
    };
    let mref = ctx.monitor(target.clone());
    let from = Term::tuple(vec![
        Term::Pid(ctx.self_pid().clone()),
        Term::from(mref.clone()),
    ]);
    let msg = Term::tuple(vec![
        Term::atom("system"),
        from,
        Term::tuple(vec![Term::atom("terminate"), reason.clone()]),
    ]);
    let _ = ctx.send(target, msg);
    let mref_t = Term::from(mref.clone());
    let matcher = move |m: &Term| matches!(m, Term::Tuple(t) if t.len() == 5 && t[0].is_atom("DOWN") && t[1] == mref_t);
    let got = match timeout.into().duration() {
        Some(d) => ctx.receive_match_timeout(matcher, d).await,
        None => Some(ctx.receive_match(matcher).await),
    };
    match got {
        Some(Term::Tuple(mut t)) => {
            let r = t.pop().expect("5 elements");
            if r == reason {
                Ok(())
            } else {
                Err(r)
            }
        }
        _ => {
            ctx.demonitor_flush(&mref);
            Err(reason::timeout())
        }
    }
}
