//! The chat client: a `message_handler` GenServer that prints what the server delivers,
//! and a session process that runs the user's commands against the server, in order.
//!
//! [`Client::start`] starts both on a node; [`Client::join`], [`Client::leave`] and
//! [`Client::command`] drive them. Everything the client shows goes to a [`Sink`], one
//! line (or block) per call, so that a terminal, a pipe or a test can display it.
//!
//! Commands ([`Client::command`]): `/help`, `/join`, `/leave`, `/users`,
//! `/pm <to> <message>`, `/quit`; any other non-empty line is said to the room.
//! Incoming messages show as `SERVER_NODE> nick: message`, as in the seed.

use crate::protocol::{
    ClientCast, ConnectReply, DisconnectReply, ServerCall, ServerCast, HANDLER_NAME, SERVER_NAME,
};
use ferrobeam::dist::DistNode;
use ferrobeam::gen_server::{self, CallError, Flow, GenServer, ServerRef, StartOpts};
use ferrobeam::{Atom, Ctx, Pid, Term};
use ferrobeam_term::from_term;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// Where the client's output goes: one call per line (without the newline) or, for
/// `/help`, per block of lines.
pub type Sink = Arc<dyn Fn(String) + Send + Sync>;

/// The help text of `/help`.
pub const HELP: &str = "\
Available commands:
/join
/leave
/users
/pm <to nick> <message>
/quit
or just type a message to send";

/// What to do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Read the next command.
    Continue,
    /// `/quit`: the client left the room; stop.
    Quit,
}

/// Why [`Client::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The node already runs a `message_handler` (one client per node).
    #[error("cannot start the message handler: {0}")]
    Handler(Term),
}

/// The message handler: prints `{:message, nick, msg}` casts; reports when the server's
/// node goes down.
struct Handler {
    server: Atom,
    sink: Sink,
    down: Arc<watch::Sender<bool>>,
}

struct HandlerArgs {
    server: Atom,
    sink: Sink,
    down: Arc<watch::Sender<bool>>,
}

impl GenServer for Handler {
    type Args = HandlerArgs;
    type Call = Term;
    type Reply = Term;
    type Cast = Term;

    async fn init(_ctx: &Ctx, a: HandlerArgs) -> Result<Self, Term> {
        Ok(Handler {
            server: a.server,
            sink: a.sink,
            down: a.down,
        })
    }

    async fn handle_cast(&mut self, _ctx: &Ctx, msg: Term) -> Flow {
        match from_term::<ClientCast>(&msg) {
            Ok(ClientCast::Message(nick, text)) => {
                (self.sink)(format!("{}> {nick}: {}", self.server, text.trim_end()));
            }
            Err(e) => tracing::debug!(%msg, "chat client: unexpected cast ({e})"),
        }
        Flow::Continue
    }

    async fn handle_info(&mut self, _ctx: &Ctx, msg: Term) -> Flow {
        if let Some([tag, Term::Atom(node), ..]) = msg.as_tuple() {
            if tag.is_atom("nodedown") && *node == self.server {
                (self.sink)(format!("* Lost the connection to the server {node} *"));
                self.down.send_replace(true);
            }
        }
        Flow::Continue
    }
}

enum Cmd {
    Line(String, oneshot::Sender<Outcome>),
    Join(oneshot::Sender<Result<ConnectReply, CallError>>),
    Leave(oneshot::Sender<Result<DisconnectReply, CallError>>),
}

/// A chat client on a node: its `message_handler` and its session process.
pub struct Client {
    dist: DistNode,
    server: Atom,
    nick: String,
    handler: Pid,
    session: Pid,
    tx: mpsc::UnboundedSender<Cmd>,
    down: watch::Receiver<bool>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("node", self.dist.name())
            .field("server", &self.server)
            .field("nick", &self.nick)
            .finish()
    }
}

impl Client {
    /// Starts the message handler (registered as `message_handler`) and the session on
    /// `dist`, for the server node `server` and the nick `nick`. Does not join yet.
    pub async fn start(
        dist: &DistNode,
        server: &str,
        nick: &str,
        sink: Sink,
    ) -> Result<Client, StartError> {
        let server = Atom::new(server);
        let (down_tx, down_rx) = watch::channel(false);
        let down_tx = Arc::new(down_tx);
        let handler = gen_server::start::<Handler>(
            dist.node(),
            HandlerArgs {
                server: server.clone(),
                sink: sink.clone(),
                down: down_tx.clone(),
            },
            StartOpts::name(HANDLER_NAME),
        )
        .await
        .map_err(StartError::Handler)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let session = dist.node().spawn({
            let server = server.clone();
            let nick = nick.to_string();
            let dist = dist.clone();
            let handler = handler.clone();
            move |ctx| {
                Session {
                    dist,
                    server,
                    nick,
                    sink,
                    handler,
                    watching: false,
                    down: down_tx,
                }
                .run(ctx, rx)
            }
        });
        Ok(Client {
            dist: dist.clone(),
            server,
            nick: nick.to_string(),
            handler,
            session,
            tx,
            down: down_rx,
        })
    }

    /// The server node.
    pub fn server(&self) -> &Atom {
        &self.server
    }

    /// The nick.
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// Joins the room: the server's answer, or the call's failure.
    pub async fn join(&self) -> Result<ConnectReply, CallError> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Join(tx));
        rx.await.unwrap_or_else(|_| Err(session_gone()))
    }

    /// Leaves the room: the server's answer, or the call's failure.
    pub async fn leave(&self) -> Result<DisconnectReply, CallError> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Leave(tx));
        rx.await.unwrap_or_else(|_| Err(session_gone()))
    }

    /// Runs one command line (see the [module documentation](self)).
    pub async fn command(&self, line: &str) -> Outcome {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Line(line.to_string(), tx));
        rx.await.unwrap_or(Outcome::Quit)
    }

    /// Resolves when the server's node goes down (the handler has printed it).
    pub async fn server_down(&self) {
        let mut rx = self.down.clone();
        let _ = rx.wait_for(|d| *d).await;
    }

    /// True once the server's node went down (until a later `/join` succeeds).
    pub fn is_server_down(&self) -> bool {
        *self.down.borrow()
    }

    /// Stops the session and the message handler (without leaving the room).
    pub fn stop(self) {
        let node = self.dist.node();
        let _ = node.unregister(HANDLER_NAME);
        node.exit(&self.handler, Term::atom("kill"));
        node.exit(&self.session, Term::atom("kill"));
    }

    fn send(&self, cmd: Cmd) {
        // A failed send drops the reply channel, which the callers read as "gone".
        let _ = self.tx.send(cmd);
    }
}

fn session_gone() -> CallError {
    CallError {
        reason: Term::atom("noproc"),
    }
}

/// The session process: one at a time, in order, so that the server sees a client's
/// commands in the order they were typed.
struct Session {
    dist: DistNode,
    server: Atom,
    nick: String,
    sink: Sink,
    handler: Pid,
    watching: bool,
    down: Arc<watch::Sender<bool>>,
}

impl Session {
    async fn run(mut self, ctx: Ctx, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        while let Some(cmd) = rx.recv().await {
            match cmd {
                Cmd::Line(line, reply) => {
                    let out = self.line(&ctx, &line).await;
                    let _ = reply.send(out);
                }
                Cmd::Join(reply) => {
                    let r = self.connect(&ctx).await;
                    let _ = reply.send(r);
                }
                Cmd::Leave(reply) => {
                    let r = self.disconnect(&ctx).await;
                    let _ = reply.send(r);
                }
            }
        }
    }

    fn server_ref(&self) -> ServerRef {
        ServerRef::Remote(Atom::new(SERVER_NAME), self.server.clone())
    }

    fn out(&self, line: impl Into<String>) {
        (self.sink)(line.into())
    }

    async fn connect(&mut self, ctx: &Ctx) -> Result<ConnectReply, CallError> {
        let r = gen_server::call(
            ctx,
            self.server_ref(),
            ServerCall::Connect(self.nick.clone()),
        )
        .await;
        if matches!(r, Ok(ConnectReply::Ok(_))) {
            self.watch_server();
        }
        r
    }

    /// Watches the server's node from the handler (again, after it went down).
    fn watch_server(&mut self) {
        if !self.watching || *self.down.borrow() {
            self.dist
                .monitor_node(&self.handler, self.server.as_str(), true);
            self.watching = true;
            self.down.send_replace(false);
        }
    }

    async fn disconnect(&mut self, ctx: &Ctx) -> Result<DisconnectReply, CallError> {
        gen_server::call(
            ctx,
            self.server_ref(),
            ServerCall::Disconnect(self.nick.clone()),
        )
        .await
    }

    fn cast(&self, ctx: &Ctx, msg: ServerCast) {
        gen_server::cast(ctx.node(), self.server_ref(), msg);
    }

    async fn line(&mut self, ctx: &Ctx, line: &str) -> Outcome {
        let line = line.trim_end();
        let (cmd, rest) = match line.split_once(char::is_whitespace) {
            Some((c, r)) => (c, r.trim()),
            None => (line, ""),
        };
        match cmd {
            "" if rest.is_empty() => {}
            "/help" => self.out(HELP),
            "/join" => self.join_cmd(ctx).await,
            "/leave" => match self.disconnect(ctx).await {
                Ok(DisconnectReply::Ok) => self.out(
                    "You have exited the chatroom, you can rejoin with /join or quit with /quit",
                ),
                Ok(DisconnectReply::UserNotFound) => self.out("You are not in the chatroom"),
                Ok(DisconnectReply::NotAllowed) => self.out(format!(
                    "Could not leave the chatroom, reason: not_allowed ({} joined from another node)",
                    self.nick
                )),
                Err(e) => self.out(format!(
                    "Could not leave the chatroom, reason: {}",
                    e.kind()
                )),
            },
            "/users" => self.cast(ctx, ServerCast::ListUsers(self.nick.clone())),
            "/pm" => match rest.split_once(char::is_whitespace) {
                Some((to, msg)) if !msg.trim().is_empty() => self.cast(
                    ctx,
                    ServerCast::PrivateMessage(
                        self.nick.clone(),
                        to.to_string(),
                        msg.trim().to_string(),
                    ),
                ),
                _ => self.out("usage: /pm <to nick> <message>"),
            },
            "/quit" => {
                let _ = self.disconnect(ctx).await;
                return Outcome::Quit;
            }
            _ => self.cast(
                ctx,
                ServerCast::Say(self.nick.clone(), line.trim_start().to_string()),
            ),
        }
        Outcome::Continue
    }

    async fn join_cmd(&mut self, ctx: &Ctx) {
        match self.connect(ctx).await {
            Ok(ConnectReply::Ok(users)) => {
                self.out("* Joined the chatroom *");
                self.out(format!("* Users in the room: {users} *"));
            }
            Ok(refused) => self.out(format!(
                "Could not join chatroom, reason: {}",
                refusal(&refused)
            )),
            Err(e) => self.out(format!("Could not join chatroom, reason: {}", e.kind())),
        }
    }
}

/// The atom of a refusal (`nick_in_use`, `nick_not_allowed`).
pub fn refusal(r: &ConnectReply) -> &'static str {
    match r {
        ConnectReply::Ok(_) => "ok",
        ConnectReply::NickNotAllowed => "nick_not_allowed",
        ConnectReply::NickInUse => "nick_in_use",
    }
}
