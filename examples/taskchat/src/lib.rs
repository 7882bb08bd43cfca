//! # ferrobeam-taskchat
//!
//! Seed 002's `Chat` application on ferrobeam: every node runs a task supervisor named
//! `Chat.TaskSupervisor` (the atom `'Elixir.Chat.TaskSupervisor'`), and
//! [`send_message`] runs a supervised task on the recipient's node that prints the
//! message there, `Task.Supervisor.async({Chat.TaskSupervisor, node}, Chat,
//! :receive_message, [message]) |> Task.await()`. A node named `moebi` answers every
//! message by sending `chicken?` back to the sender's node.
//!
//! # Functions, not closures
//!
//! A closure cannot cross nodes, so the task runs a function registered on the
//! recipient's node under a `{module, function}` name ([`Node::register_fn`]):
//! `'Elixir.Chat':receive_message/1` and `'Elixir.Chat':receive_message_for_moebi/2`,
//! the names of the Elixir module's functions. Since the seed calls
//! `Task.Supervisor.async/4` with a module, a function and arguments (not a closure),
//! the Elixir port of the seed (`examples/elixir/tasks`) and ferrobeam nodes
//! interoperate both ways: an Elixir node's `Chat.send_message(:"kate@localhost", "hi")`
//! runs the registered function on a ferrobeam kate, and a ferrobeam node's
//! [`send_message`] runs `Chat.receive_message/1` on an Elixir node. (A closure sent
//! by `Task.Supervisor.async/2` would not run on a ferrobeam node.) The Elixir port
//! recognizes Moebi only as `:"moebi@localhost"`; ferrobeam recognizes any node whose
//! name is `moebi@...`.
//!
//! The printing goes through the task's group leader, the `user` I/O server of the
//! node that runs the task, so the message shows on the recipient's output, as in the
//! seed.
//!
//! ```
//! use ferrobeam::Term;
//! use ferrobeam_taskchat::{send_message, start};
//! use ferrobeam_testkit::Cluster;
//! use std::sync::Arc;
//!
//! # #[tokio::main]
//! # async fn main() {
//! // The seed's scene: alex, kate and moebi, without a manual step.
//! let cluster = Cluster::builder().names(["alex", "kate", "moebi"]).in_process().await;
//! let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
//! for (i, who) in ["alex", "kate", "moebi"].into_iter().enumerate() {
//!     let tx = tx.clone();
//!     start(cluster.node(i), Arc::new(move |text: &str| drop(tx.send((who, text.to_string())))))
//!         .await
//!         .unwrap();
//! }
//! let moebi = cluster.node(2).name().to_string();
//! let r = cluster.node(0).node().run(move |ctx| async move {
//!     send_message(&ctx, &moebi, "hi").await
//! }).await.unwrap();
//! assert_eq!(r, Ok(Term::atom("ok")));
//! assert_eq!(rx.recv().await.unwrap(), ("moebi", "hi\n".to_string()));
//! assert_eq!(rx.recv().await.unwrap(), ("alex", "chicken?\n".to_string()));
//! # }
//! ```

#![warn(missing_docs)]

pub mod cli;

use ferrobeam::dist::DistNode;
use ferrobeam::gen_server::StartOpts;
use ferrobeam::{io, task_supervisor, Atom, Ctx, Node, Pid, Term};
use std::sync::Arc;

/// The task supervisor's registered name: Elixir's `Chat.TaskSupervisor`.
pub const SUPERVISOR: &str = "Elixir.Chat.TaskSupervisor";

/// The module of the functions tasks run: Elixir's `Chat`.
pub const MODULE: &str = "Elixir.Chat";

/// What Moebi answers, whatever he is told.
pub const CHICKEN: &str = "chicken?";

/// Where a node's output goes (the text of each `put_chars`, newline included).
pub type Output = Arc<dyn Fn(&str) + Send + Sync>;

/// True for Moebi's node: `moebi@...`.
pub fn is_moebi(node: &str) -> bool {
    node.split('@').next() == Some("moebi")
}

fn text_arg(args: &[Term]) -> String {
    args.first()
        .map(|a| io::chardata(a, true).unwrap_or_else(|| a.to_string()))
        .unwrap_or_default()
}

/// Registers the seed's functions on `node`:
/// * `'Elixir.Chat':receive_message(Message)`: prints the message;
/// * `'Elixir.Chat':receive_message_for_moebi(Message, From)`: prints it, then sends
///   `chicken?` to the node `From` (with [`send_message`]).
pub fn register_functions(node: &Node) {
    node.register_fn(
        MODULE,
        "receive_message",
        |ctx: Ctx, args: Vec<Term>| async move { ctx.println(&text_arg(&args)).await },
    );
    node.register_fn(
        MODULE,
        "receive_message_for_moebi",
        |ctx: Ctx, args: Vec<Term>| async move {
            ctx.println(&text_arg(&args)).await?;
            let from = match args.get(1) {
                Some(Term::Atom(a)) => a.clone(),
                _ => return Err(Term::atom("badarg")),
            };
            send_message(&ctx, from.as_str(), CHICKEN).await
        },
    );
}

/// Starts the chat on a node: the functions, a `user` I/O server writing to `out`
/// (unless the node already has one), and the task supervisor `Chat.TaskSupervisor`.
pub async fn start(dist: &DistNode, out: Output) -> Result<Pid, Term> {
    let node = dist.node();
    if node.whereis(io::USER).is_none() {
        let user = io::start_server(node, move |text| out(text));
        if node.register(io::USER, &user).is_err() {
            node.exit(&user, Term::atom("kill"));
        }
    }
    register_functions(node);
    task_supervisor::start(node, StartOpts::name(SUPERVISOR)).await
}

/// The seed's `Chat.send_message(recipient, message)`: a task under the recipient's
/// `Chat.TaskSupervisor` that prints the message there (for Moebi,
/// `receive_message_for_moebi(message, node())`, which also answers), awaited (5 s).
/// Returns the task's value, `ok`, or the exit reason `Task.await` would exit with.
pub async fn send_message(ctx: &Ctx, recipient: &str, message: &str) -> Result<Term, Term> {
    if is_moebi(recipient) {
        let me = Term::Atom(ctx.node().name().clone());
        spawn_task(
            ctx,
            MODULE,
            "receive_message_for_moebi",
            recipient,
            vec![Term::string(message), me],
        )
        .await
    } else {
        spawn_task(
            ctx,
            MODULE,
            "receive_message",
            recipient,
            vec![Term::string(message)],
        )
        .await
    }
}

/// The seed's `Chat.spawn_task(module, fun, recipient, args)`:
/// `Task.Supervisor.async({Chat.TaskSupervisor, recipient}, module, fun, args) |>
/// Task.await()`.
pub async fn spawn_task(
    ctx: &Ctx,
    module: &str,
    function: &str,
    recipient: &str,
    args: Vec<Term>,
) -> Result<Term, Term> {
    let recipient = Atom::try_new(recipient).ok_or_else(|| Term::atom("badarg"))?;
    let sup = (Atom::new(SUPERVISOR), recipient);
    let task = task_supervisor::async_remote(ctx, sup, module, function, args).await?;
    task.await_(ctx).await.map_err(Term::from)
}
