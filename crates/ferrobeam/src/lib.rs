//! # ferrobeam
//!
//! Erlang distribution, native in Rust. This crate holds the node: processes with
//! Erlang's exact semantics (spawn, send, selective receive, links, monitors, exit
//! signals, `trap_exit`, aliases, the name registry, timers), and the OTP behaviours
//! built on them ([`gen_server`], [`supervisor`], [`dynamic_supervisor`], [`task`],
//! [`task_supervisor`]).
//!
//! Processes are Tokio tasks. Pids carry their node, references their node and
//! creation, and exit reasons are [`Term`]s, so that every operation works the same
//! across nodes once the distribution layer routes signals (see [`RemoteRouter`]).
//!
//! ```
//! use ferrobeam::gen_server::{self, CallFrom, CallReply, GenServer, StartOpts};
//! use ferrobeam::{Ctx, Node, Term};
//!
//! /// A process function that crashes.
//! async fn crasher(_ctx: Ctx) {
//!     panic!("boom")
//! }
//!
//! /// A GenServer keeping a total.
//! struct Total(i64);
//!
//! impl GenServer for Total {
//!     type Args = ();
//!     type Call = i64;
//!     type Reply = i64;
//!     type Cast = Term;
//!
//!     async fn init(_ctx: &Ctx, _: ()) -> Result<Self, Term> {
//!         Ok(Total(0))
//!     }
//!
//!     async fn handle_call(&mut self, _ctx: &Ctx, n: i64, _from: CallFrom) -> CallReply<i64> {
//!         self.0 += n;
//!         CallReply::Reply(self.0)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let node = Node::new();
//! gen_server::start::<Total>(&node, (), StartOpts::name("total")).await.unwrap();
//!
//! let (exit, total) = node
//!     .run(|ctx| async move {
//!         // A linked crash arrives as {'EXIT', Pid, {panic, <<"boom">>}}.
//!         ctx.trap_exit(true);
//!         let child = ctx.spawn_link(crasher);
//!         let exit = ctx.receive().await;
//!         assert_eq!(exit.as_tuple().unwrap()[1], Term::Pid(child));
//!         // A call: {'$gen_call', {Self, [alias | Ref]}, 5} on the wire.
//!         let total: i64 = gen_server::call(&ctx, "total", 5i64).await.unwrap();
//!         (exit.as_tuple().unwrap()[2].clone(), total)
//!     })
//!     .await
//!     .unwrap();
//! assert_eq!(exit, ferrobeam::reason::panic("boom"));
//! assert_eq!(total, 5);
//! # }
//! ```

#![warn(missing_docs)]

mod convert;
mod ctx;
pub mod dynamic_supervisor;
mod error;
pub mod gen_server;
pub mod io;
mod node;
mod process;
pub mod reason;
mod remote;
pub mod runtime;
mod short_lock;
mod signal;
pub mod supervisor;
mod suspend;
mod table;
pub mod task;
pub mod task_supervisor;

pub mod dist;
pub mod epmd;

pub use ctx::{Ctx, Receive, ReceiveTimeout};
pub use error::{LinkError, RegisterError, SendError, SpawnError};
pub use ferrobeam_term::{Atom, Pid, Ref, Term};
pub use node::{Node, NodeBuilder, RemoteRouter};
pub use process::AliasMode;
pub use reason::{ExitReason, FnResult, IntoExitReason};
pub use remote::{DistRequest, SpawnOpts, SpawnRequest};
pub use signal::{Dest, ExitKind, Signal};
