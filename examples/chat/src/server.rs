//! The chat server: a GenServer registered locally as `message_server`, with the seed's
//! protocol (see [`protocol`](crate::protocol)).
//!
//! It keeps the room as a map from nick to the node the nick joined from (`node(from)`
//! of the `{:connect, nick}` call), delivers every message as the cast
//! `{:message, nick, msg}` to `{:message_handler, client_node}`, and announces joins and
//! leaves to the others as `* nick has joined *` and `* nick has left *`.
//!
//! Beyond the seed: the server watches the node of every client (`monitor_node`), and a
//! client node that goes down is dropped from the room and announced as left. A request
//! that is not part of the protocol is answered with `{:error, :badarg}` (a call) or
//! ignored (a cast), and logged, instead of crashing the server.

use crate::protocol::{
    ClientCast, ConnectReply, DisconnectReply, ServerCall, ServerCast, HANDLER_NAME, SERVER_NAME,
    SERVER_NICK,
};
use ferrobeam::dist::DistNode;
use ferrobeam::gen_server::{self, CallFrom, CallReply, Flow, GenServer, ServerRef, StartOpts};
use ferrobeam::{Atom, Ctx, Node, Pid, Term};
use ferrobeam_term::{from_term, to_term};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

/// Where the server writes what happens in the room (the seed's `Logger.debug` lines).
pub type LogFn = Arc<dyn Fn(&str) + Send + Sync>;

/// Options of [`start`].
#[derive(Clone, Default)]
pub struct ServerOpts {
    /// The distributed node the server runs on, to watch client nodes. Without one, the
    /// server works for clients on its own node only.
    pub dist: Option<DistNode>,
    /// Receives one line per event: `alice has joined, user_list: alice`,
    /// `alice said hello`, ...
    pub log: Option<LogFn>,
}

impl fmt::Debug for ServerOpts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerOpts")
            .field("dist", &self.dist)
            .field("log", &self.log.is_some())
            .finish()
    }
}

/// Starts the server on `node`, registered as `message_server`.
pub async fn start(node: &Node, opts: ServerOpts) -> Result<Pid, Term> {
    gen_server::start::<ChatServer>(node, opts, StartOpts::name(SERVER_NAME)).await
}

/// The server's state: the room.
pub struct ChatServer {
    /// nick → node it joined from. Sorted, as Elixir's small maps are, so that the
    /// user lists come out in the same order.
    users: BTreeMap<String, Atom>,
    /// Client nodes under `monitor_node`.
    watched: HashSet<Atom>,
    opts: ServerOpts,
}

impl ChatServer {
    fn log(&self, line: &str) {
        if let Some(l) = &self.opts.log {
            l(line);
        }
        tracing::debug!("{line}");
    }

    fn user_list(&self, sep: &str) -> String {
        self.users.keys().cloned().collect::<Vec<_>>().join(sep)
    }

    /// Casts `{:message, nick, msg}` to the client's handler on `node`.
    fn deliver(&self, ctx: &Ctx, node: &Atom, nick: &str, msg: &str) {
        let dest = ServerRef::Remote(Atom::new(HANDLER_NAME), node.clone());
        gen_server::cast(
            ctx.node(),
            dest,
            ClientCast::Message(nick.to_string(), msg.to_string()),
        );
    }

    /// The seed's `handle_cast({:say, nick, message})`: to everyone but `nick`.
    fn say(&self, ctx: &Ctx, nick: &str, msg: &str) {
        self.log(&format!("{nick} said {msg}"));
        for (n, node) in &self.users {
            if n != nick {
                self.deliver(ctx, node, nick, msg);
            }
        }
    }

    /// The seed's `log/3`: logs, and says `* nick <what> *` to the others.
    fn announce(&self, ctx: &Ctx, nick: &str, what: &str) {
        self.log(&format!(
            "{nick} {what}, user_list: {}",
            self.user_list(":")
        ));
        self.say(ctx, nick, &format!("* {nick} {what} *"));
    }

    fn watch(&mut self, ctx: &Ctx, node: &Atom) {
        if node == ctx.node().name() || self.watched.contains(node) {
            return;
        }
        if let Some(d) = &self.opts.dist {
            d.monitor_node(ctx.self_pid(), node.as_str(), true);
            self.watched.insert(node.clone());
        }
    }

    fn connect(&mut self, ctx: &Ctx, nick: String, node: Atom) -> ConnectReply {
        if nick == SERVER_NICK {
            ConnectReply::NickNotAllowed
        } else if self.users.contains_key(&nick) {
            ConnectReply::NickInUse
        } else {
            self.users.insert(nick.clone(), node.clone());
            self.watch(ctx, &node);
            self.announce(ctx, &nick, "has joined");
            ConnectReply::Ok(self.user_list(":"))
        }
    }

    fn disconnect(&mut self, ctx: &Ctx, nick: String, node: Atom) -> DisconnectReply {
        match self.users.get(&nick) {
            None => DisconnectReply::UserNotFound,
            Some(n) if *n != node => DisconnectReply::NotAllowed,
            Some(_) => {
                self.users.remove(&nick);
                self.announce(ctx, &nick, "has left");
                DisconnectReply::Ok
            }
        }
    }

    fn node_down(&mut self, ctx: &Ctx, node: &Atom) {
        self.watched.remove(node);
        let gone: Vec<String> = self
            .users
            .iter()
            .filter(|(_, n)| *n == node)
            .map(|(nick, _)| nick.clone())
            .collect();
        for nick in gone {
            self.users.remove(&nick);
            self.announce(ctx, &nick, "has left");
        }
    }
}

fn encode<T: serde::Serialize>(v: &T) -> Term {
    to_term(v).unwrap_or_else(|_| Term::atom("error"))
}

impl GenServer for ChatServer {
    type Args = ServerOpts;
    type Call = Term;
    type Reply = Term;
    type Cast = Term;

    async fn init(ctx: &Ctx, opts: ServerOpts) -> Result<Self, Term> {
        let s = ChatServer {
            users: BTreeMap::new(),
            watched: HashSet::new(),
            opts,
        };
        s.log(&format!(
            "chat server started on {} (registered as {SERVER_NAME})",
            ctx.node().name()
        ));
        Ok(s)
    }

    async fn handle_call(&mut self, ctx: &Ctx, request: Term, from: CallFrom) -> CallReply<Term> {
        let node = from.pid.node.clone();
        let reply = match from_term::<ServerCall>(&request) {
            Ok(ServerCall::Connect(nick)) => encode(&self.connect(ctx, nick, node)),
            Ok(ServerCall::Disconnect(nick)) => encode(&self.disconnect(ctx, nick, node)),
            Err(e) => {
                tracing::warn!(%request, from = %node, "chat server: unknown call ({e})");
                Term::tuple(vec![Term::atom("error"), Term::atom("badarg")])
            }
        };
        CallReply::Reply(reply)
    }

    async fn handle_cast(&mut self, ctx: &Ctx, msg: Term) -> Flow {
        match from_term::<ServerCast>(&msg) {
            Ok(ServerCast::Say(nick, text)) => self.say(ctx, &nick, &text),
            Ok(ServerCast::PrivateMessage(nick, to, text)) => {
                if let Some(node) = self.users.get(&to) {
                    self.deliver(ctx, node, &nick, &text);
                }
            }
            Ok(ServerCast::ListUsers(nick)) => {
                if let Some(node) = self.users.get(&nick) {
                    let text = format!("users: {}", self.user_list(", "));
                    self.deliver(ctx, node, SERVER_NICK, &text);
                }
            }
            Err(e) => tracing::warn!(%msg, "chat server: unknown cast ({e})"),
        }
        Flow::Continue
    }

    async fn handle_info(&mut self, ctx: &Ctx, msg: Term) -> Flow {
        if let Some([tag, Term::Atom(node), ..]) = msg.as_tuple() {
            if tag.is_atom("nodedown") {
                self.node_down(ctx, &node.clone());
            }
        }
        Flow::Continue
    }
}
