//! The seed's chat protocol as Rust enums. Through ferrobeam's serde mapping they are
//! exactly the terms the Elixir ExMessenger server and client exchange (nicks and
//! messages are Elixir strings, that is binaries):
//!
//! | Rust | Elixir |
//! |---|---|
//! | `ServerCall::Connect(nick)` | `{:connect, nick}` (a call) |
//! | `ConnectReply::Ok(users)` / `NickNotAllowed` / `NickInUse` | `{:ok, "a:b"}` / `:nick_not_allowed` / `:nick_in_use` |
//! | `ServerCall::Disconnect(nick)` | `{:disconnect, nick}` (a call) |
//! | `DisconnectReply::Ok` / `UserNotFound` / `NotAllowed` | `:ok` / `:user_not_found` / `:not_allowed` |
//! | `ServerCast::Say(nick, msg)` | `{:say, nick, msg}` |
//! | `ServerCast::PrivateMessage(nick, to, msg)` | `{:private_message, nick, to, msg}` |
//! | `ServerCast::ListUsers(nick)` | `{:list_users, nick}` |
//! | `ClientCast::Message(nick, msg)` | `{:message, nick, msg}`, cast to `{:message_handler, client_node}` |
//!
//! ```
//! use ferrobeam_chat::protocol::{ConnectReply, ServerCall};
//! use ferrobeam_term::{to_term, Term};
//!
//! let t = to_term(&ServerCall::Connect("alice".into())).unwrap();
//! assert_eq!(t, Term::tuple(vec![Term::atom("connect"), Term::string("alice")]));
//! assert_eq!(to_term(&ConnectReply::NickInUse).unwrap(), Term::atom("nick_in_use"));
//! ```

use serde::{Deserialize, Serialize};

/// The name the server is registered under on its node (`:message_server`).
pub const SERVER_NAME: &str = "message_server";

/// The name each client's message handler is registered under (`:message_handler`).
pub const HANDLER_NAME: &str = "message_handler";

/// The nick the server keeps for itself: it answers `/users` as this user.
pub const SERVER_NICK: &str = "server";

/// The default cookie, the seed's.
pub const DEFAULT_COOKIE: &str = "chocolate-chip";

/// Calls to the server.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum ServerCall {
    /// `{:connect, nick}`: join the room; the caller's node is recorded for the nick.
    Connect(String),
    /// `{:disconnect, nick}`: leave the room (only from the node that joined).
    Disconnect(String),
}

/// The reply to [`ServerCall::Connect`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum ConnectReply {
    /// `{:ok, "a:b:c"}`: joined; every nick in the room, the new one included, joined
    /// with `:`.
    Ok(String),
    /// `:nick_not_allowed`: the nick is `server`.
    NickNotAllowed,
    /// `:nick_in_use`: someone has this nick.
    NickInUse,
}

/// The reply to [`ServerCall::Disconnect`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReply {
    /// `:ok`: left the room.
    Ok,
    /// `:user_not_found`: no one has this nick.
    UserNotFound,
    /// `:not_allowed`: the nick joined from another node.
    NotAllowed,
}

/// Casts to the server.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum ServerCast {
    /// `{:say, nick, msg}`: to everyone in the room but `nick`.
    Say(String, String),
    /// `{:private_message, nick, to, msg}`: to `to` only (dropped if unknown).
    PrivateMessage(String, String, String),
    /// `{:list_users, nick}`: answered to `nick` as a private message from `server`,
    /// `users: a, b`.
    ListUsers(String),
}

/// Casts to a client's message handler.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum ClientCast {
    /// `{:message, from_nick, msg}`.
    Message(String, String),
}
