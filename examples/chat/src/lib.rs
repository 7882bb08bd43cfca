//! # ferrobeam-chat
//!
//! Seed 000's ExMessenger chat on ferrobeam: a server (a GenServer registered as
//! `message_server`) and a command-line client (a GenServer registered as
//! `message_handler`, plus the user's commands), speaking the seed's protocol exactly,
//! so that ferrobeam clients join the Elixir server, Elixir clients join the ferrobeam
//! server, and both kinds of client share a room.
//!
//! * [`protocol`]: the messages, as Rust enums (Elixir tagged tuples and atoms through
//!   the serde mapping);
//! * [`server`]: the room;
//! * [`client`]: the client's handler and session;
//! * [`cli`]: `ferrobeam chat server` and `ferrobeam chat client`.
//!
//! A room on one node (a distributed node works the same way, with the server's node
//! name in place of `"nonode@nohost"`):
//!
//! ```
//! use ferrobeam::{dist, gen_server, Node};
//! use ferrobeam_chat::protocol::{ConnectReply, ServerCall, ServerCast, SERVER_NAME};
//! use ferrobeam_chat::server::{self, ServerOpts};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let node = Node::new();
//! server::start(&node, ServerOpts::default()).await.unwrap();
//! let reply = node.run(|ctx| async move {
//!     let r: ConnectReply =
//!         gen_server::call(&ctx, SERVER_NAME, ServerCall::Connect("alice".into())).await.unwrap();
//!     gen_server::cast(ctx.node(), SERVER_NAME, ServerCast::Say("alice".into(), "hi".into()));
//!     let again: ConnectReply =
//!         gen_server::call(&ctx, SERVER_NAME, ServerCall::Connect("alice".into())).await.unwrap();
//!     (r, again)
//! }).await.unwrap();
//! assert_eq!(reply, (ConnectReply::Ok("alice".into()), ConnectReply::NickInUse));
//! # let _ = dist::NameKind::Short;
//! # }
//! ```
//!
//! Between nodes, a [`client::Client`] joins a server on another node and prints what
//! the room says through a sink:
//!
//! ```no_run
//! use ferrobeam::dist::{self, DistConfig, NameKind};
//! use ferrobeam_chat::client::Client;
//! use std::sync::Arc;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let node = dist::start(DistConfig::new("alice", NameKind::Short).cookie("chocolate-chip")).await?;
//! let server = node.name().as_str().replace("alice@", "server@");
//! let client = Client::start(&node, &server, "alice", Arc::new(|line| println!("{line}"))).await?;
//! println!("{:?}", client.join().await?); // Ok("alice") or NickInUse, ...
//! client.command("hello everyone").await;
//! client.command("/pm bob psst").await;
//! client.command("/quit").await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod cli;
pub mod client;
pub mod protocol;
pub mod server;
