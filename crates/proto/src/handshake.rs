//! The distribution handshake (protocol version 6, `DFLAG_HANDSHAKE_23`), sans-IO.
//!
//! A [`Handshake`] is a state machine for one side of one connection: the dialing side
//! ([`Handshake::initiator`]) or the accepting side ([`Handshake::acceptor`]). It never
//! touches a socket. The caller
//!
//! 1. writes out whatever [`Handshake::poll_transmit`] returns,
//! 2. passes every byte read from the socket to [`Handshake::feed`],
//! 3. handles [`Handshake::poll_event`]s, some of which ask for a decision
//!    ([`Handshake::accept`], [`Handshake::answer_alive`],
//!    [`Handshake::old_connection_closed`]),
//!
//! until [`Event::Completed`] or an error. After an error, the caller still writes out
//! what [`Handshake::poll_transmit`] returns (a refusal status, say), then closes the
//! connection. Bytes that arrived after the last handshake message belong to the
//! connection proper (4-byte framed) and are returned by [`Handshake::take_leftover`].
//!
//! Handshake messages are framed with a 2-byte big-endian length. The messages:
//!
//! | message | layout |
//! |---|---|
//! | send_name (v6) | `'N' Flags:64 Creation:32 NameLen:16 Name` |
//! | send_name (v5, accepted only) | `'n' Version:16 Flags:32 Name` |
//! | status | `'s' Status` — `ok`, `ok_simultaneous`, `nok`, `not_allowed`, `alive`, `named:` |
//! | named status | `'s' "named:" NameLen:16 Name Creation:32` |
//! | challenge | `'N' Flags:64 Challenge:32 Creation:32 NameLen:16 Name` |
//! | complement (after a v5 name) | `'c' FlagsHigh:32 Creation:32` |
//! | challenge reply | `'r' Challenge:32 Digest:16` |
//! | challenge ack | `'a' Digest:16` |
//!
//! The digest is `MD5(Cookie ++ integer_to_list(Challenge))`.
//!
//! # Simultaneous connect
//!
//! When two nodes dial each other at once, each acceptor sees an incoming connection
//! from a node it is itself dialing. [`accept_status`] gives the reply `net_kernel`
//! gives (see its docs): the connection dialed by the node with the greater name wins.
//!
//! ```
//! use ferrobeam_proto::handshake::{Config, Cookie, Event, Handshake, AcceptStatus};
//! use ferrobeam_term::Atom;
//!
//! let cfg = |name: &str, challenge| Config::new(Atom::new(name), Cookie::new("secret"), challenge);
//! let mut a = Handshake::initiator(cfg("a@host", 1), Atom::new("b@host")).unwrap();
//! let mut b = Handshake::acceptor(cfg("b@host", 2)).unwrap();
//! let mut done = 0;
//! for _ in 0..10 {
//!     while let Some(bytes) = a.poll_transmit() { b.feed(&bytes).unwrap(); }
//!     while let Some(bytes) = b.poll_transmit() { a.feed(&bytes).unwrap(); }
//!     while let Some(ev) = b.poll_event() {
//!         match ev {
//!             Event::PeerIdentified { .. } => b.accept(AcceptStatus::Ok).unwrap(),
//!             Event::Completed(c) => { assert_eq!(c.peer_name, "a@host"); done += 1 }
//!             _ => {}
//!         }
//!     }
//!     while let Some(ev) = a.poll_event() {
//!         if let Event::Completed(c) = ev { assert_eq!(c.peer_name, "b@host"); done += 1 }
//!     }
//! }
//! assert_eq!(done, 2);
//! ```

use crate::flags;
use bytes::Bytes;
use ferrobeam_term::{Atom, MAX_ATOM_CHARS};
use md5::{Digest, Md5};
use std::collections::VecDeque;
use std::fmt;

/// Most bytes buffered while the handshake waits for a decision or a message. A
/// well-behaved peer never has more than one handshake message in flight; a message
/// is at most 2 + 65535 bytes.
pub const MAX_BUFFERED_INPUT: usize = 2 * (2 + u16::MAX as usize);

/// The handshake protocol version this module speaks (OTP 23+).
pub const VERSION: u16 = 6;

/// A magic cookie. Its `Debug` output never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Cookie(Vec<u8>);

impl Cookie {
    /// Makes a cookie from its text (an Erlang cookie is an atom, sent as its Latin-1 or
    /// UTF-8 bytes).
    pub fn new(secret: impl AsRef<[u8]>) -> Cookie {
        Cookie(secret.as_ref().to_vec())
    }

    /// The handshake digest for a challenge: `MD5(cookie ++ decimal(challenge))`.
    pub fn digest(&self, challenge: u32) -> [u8; 16] {
        let mut h = Md5::new();
        h.update(&self.0);
        h.update(challenge.to_string().as_bytes());
        h.finalize().into()
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cookie(<redacted>)")
    }
}

/// Short (`-sname`) or long (`-name`) node names. Nodes of different kinds refuse each
/// other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameDomain {
    /// Host parts without dots, like `-sname`.
    Short,
    /// Fully qualified host names or IP addresses, like `-name`.
    Long,
}

impl NameDomain {
    /// Checks a host part the way `inet_tcp_dist:splitnode/2` does: with long names a
    /// host must contain a dot or be an IP address; with short names it must not
    /// contain a dot.
    pub fn allows_host(self, host: &str) -> bool {
        let dotted = host.contains('.');
        match self {
            NameDomain::Long => dotted || host.parse::<std::net::IpAddr>().is_ok(),
            NameDomain::Short => !dotted,
        }
    }

    /// The domain a host part belongs to (`Long` if it has a dot or is an IPv6 address).
    pub fn of_host(host: &str) -> NameDomain {
        if host.contains('.') || host.parse::<std::net::IpAddr>().is_ok() {
            NameDomain::Long
        } else {
            NameDomain::Short
        }
    }
}

impl fmt::Display for NameDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameDomain::Short => "short names",
            NameDomain::Long => "long names",
        })
    }
}

/// Splits `name@host`. Returns `None` unless there is exactly one `@` with text on both
/// sides (`dist_util:is_node_name/1`).
pub fn split_node_name(node: &str) -> Option<(&str, &str)> {
    let (name, host) = node.split_once('@')?;
    if name.is_empty() || host.is_empty() || host.contains('@') {
        return None;
    }
    Some((name, host))
}

/// Settings for one side of a handshake.
#[derive(Debug, Clone)]
pub struct Config {
    /// This node's full name, `name@host`. With [`flags::NAME_ME`] in `flags` (dynamic
    /// name, initiator only), just the host.
    pub our_name: Atom,
    /// The flags this node advertises. Defaults to [`flags::DEFAULT`] | [`flags::PUBLISHED`].
    pub flags: u64,
    /// This node's creation (from EPMD). Sent as 0 with a dynamic name.
    pub creation: u32,
    /// The cookie shared with the peer.
    pub cookie: Cookie,
    /// The challenge this side sends: a random 32-bit number the caller draws.
    pub challenge: u32,
    /// Short or long names. Defaults to the kind of `our_name`'s host.
    pub name_domain: NameDomain,
    /// Flags the peer must have. Defaults to [`flags::MANDATORY`].
    pub required_flags: u64,
}

impl Config {
    /// A config with default flags (visible node), creation 1, and the name domain
    /// taken from `our_name`.
    pub fn new(our_name: Atom, cookie: Cookie, challenge: u32) -> Config {
        let host = our_name
            .as_str()
            .split_once('@')
            .map(|(_, h)| h.to_string())
            .unwrap_or_else(|| our_name.as_str().to_string());
        Config {
            name_domain: NameDomain::of_host(&host),
            our_name,
            flags: flags::DEFAULT | flags::PUBLISHED,
            creation: 1,
            cookie,
            challenge,
            required_flags: flags::MANDATORY,
        }
    }
}

/// Which side of the connection a handshake is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The dialing node ("A" in OTP's documentation).
    Initiator,
    /// The accepting node ("B").
    Acceptor,
}

/// Where a handshake is. Useful for timeouts and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Initiator: name sent, waiting for the status.
    AwaitStatus,
    /// Initiator: the peer said `alive`; waiting for [`Handshake::answer_alive`].
    AwaitAliveAnswer,
    /// Initiator: waiting for the challenge.
    AwaitChallenge,
    /// Initiator: reply sent, waiting for the challenge ack.
    AwaitAck,
    /// Acceptor: waiting for the peer's name.
    AwaitName,
    /// Acceptor: waiting for [`Handshake::accept`].
    AwaitDecision,
    /// Acceptor: `alive` sent, waiting for the peer's `true`/`false`.
    AwaitAliveReply,
    /// Acceptor: challenge sent after a version-5 name, waiting for the complement.
    AwaitComplement,
    /// Acceptor: challenge sent, waiting for the challenge reply.
    AwaitChallengeReply,
    /// Acceptor: reply verified; waiting for [`Handshake::old_connection_closed`].
    AwaitOldConnection,
    /// The handshake succeeded.
    Complete,
    /// The handshake failed; close the connection after flushing output.
    Failed,
}

/// The acceptor's reply to a new connection: the status it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptStatus {
    /// `ok`: continue.
    Ok,
    /// `ok_simultaneous`: continue; this node is dropping its own attempt to the peer.
    OkSimultaneous,
    /// `nok`: refuse; this node's own attempt to the peer wins.
    Nok,
    /// `not_allowed`: refuse.
    NotAllowed,
    /// `alive`: this node already has a connection to the peer. If the peer confirms,
    /// the handshake continues and the old connection must be closed before it completes.
    Alive,
    /// `named:`: continue, giving a dynamic-name peer its name and creation.
    Named {
        /// The full node name the peer gets.
        name: Atom,
        /// The creation the peer gets.
        creation: u32,
    },
    /// Close without a status: this node is already replacing a connection to the peer
    /// (`already_pending`).
    AlreadyPending,
}

impl AcceptStatus {
    /// The status text sent on the wire, if any.
    pub fn wire_text(&self) -> Option<&'static str> {
        Some(match self {
            AcceptStatus::Ok => "ok",
            AcceptStatus::OkSimultaneous => "ok_simultaneous",
            AcceptStatus::Nok => "nok",
            AcceptStatus::NotAllowed => "not_allowed",
            AcceptStatus::Alive => "alive",
            AcceptStatus::Named { .. } => "named:",
            AcceptStatus::AlreadyPending => return None,
        })
    }
}

/// What the node already has towards a peer that is connecting to it, for
/// [`accept_status`]. These are `net_kernel`'s connection states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingConnection {
    /// Nothing.
    None,
    /// This node is itself dialing the peer (`pending`): a simultaneous connect.
    Pending,
    /// A connection is up (`up`).
    Up,
    /// A connection is up and a replacement is already being accepted (`up_pending`).
    UpPending,
}

/// The status an acceptor replies with, exactly as `net_kernel` decides it on
/// `{accept_pending, MyNode, Node, Type}`:
///
/// * no connection: `ok`;
/// * this node is dialing the peer too (`pending`): if `MyNode > Node` (atoms compare
///   by text), `nok` — our own attempt wins and the peer's is refused; otherwise
///   `ok_simultaneous` — the node must abort its own attempt (`net_kernel` kills it
///   with reason `remarked`) and this one takes over;
/// * a connection is up: `alive` (the peer is probably a restarted node whose old
///   connection we have not seen die yet);
/// * a replacement is already pending: close without a status.
///
/// The net effect of a simultaneous connect is that the connection *dialed by the node
/// with the greater name* survives on both sides.
pub fn accept_status(
    our_name: &Atom,
    peer_name: &Atom,
    existing: ExistingConnection,
) -> AcceptStatus {
    match existing {
        ExistingConnection::None => AcceptStatus::Ok,
        ExistingConnection::Pending => {
            if our_name > peer_name {
                AcceptStatus::Nok
            } else {
                AcceptStatus::OkSimultaneous
            }
        }
        ExistingConnection::Up => AcceptStatus::Alive,
        ExistingConnection::UpPending => AcceptStatus::AlreadyPending,
    }
}

/// How the peer named itself in its first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerName {
    /// A full node name `name@host`.
    Node(Atom),
    /// Just a host: the peer asks for a dynamic name ([`flags::NAME_ME`]); reply with
    /// [`AcceptStatus::Named`].
    Host(String),
}

/// The result of a successful handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// The peer's full node name.
    pub peer_name: Atom,
    /// The peer's creation.
    pub peer_creation: u32,
    /// The flags the peer advertised, with [`flags::MANDATORY_25_DIGEST`] expanded.
    pub peer_flags: u64,
    /// The flags the connection uses: the intersection of both sides' flags.
    pub flags: u64,
    /// This node's name (assigned by the peer with a dynamic name).
    pub our_name: Atom,
    /// This node's creation (assigned by the peer with a dynamic name).
    pub our_creation: u32,
}

impl Completed {
    /// True if the connection is hidden: not both sides set [`flags::PUBLISHED`].
    pub fn is_hidden(&self) -> bool {
        self.flags & flags::PUBLISHED == 0
    }
}

/// Something the caller must know or decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Acceptor: the peer introduced itself and passed the flag check. Reply with
    /// [`Handshake::accept`] (see [`accept_status`]).
    PeerIdentified {
        /// Who is connecting.
        name: PeerName,
        /// Its flags (digest expanded).
        flags: u64,
        /// Its creation; `None` for a version-5 name (it comes in the complement).
        creation: Option<u32>,
        /// The handshake version of its name message: 5 (`'n'`) or 6 (`'N'`).
        version: u16,
    },
    /// Initiator: the peer already has a connection from this node (`alive`). Answer
    /// with [`Handshake::answer_alive`]: `true` if this attempt is still the one the
    /// node wants (`net_kernel:is_pending`), which replaces the old connection.
    AliveCheck,
    /// Initiator with a dynamic name: the peer named this node.
    Named {
        /// This node's name from now on.
        name: Atom,
        /// This node's creation from now on.
        creation: u32,
    },
    /// Acceptor after `alive`: the peer proved the cookie; close the old connection to
    /// it and call [`Handshake::old_connection_closed`].
    ReplacingConnection,
    /// The handshake succeeded.
    Completed(Completed),
}

/// Why a handshake failed. No variant ever contains the cookie.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// A message that does not follow the protocol.
    #[error("malformed handshake: {0}")]
    Malformed(String),
    /// The peer's digest did not match: the cookies differ.
    #[error("invalid challenge {}: the peer has a different cookie", if *.in_ack { "ack" } else { "reply" })]
    BadCookie {
        /// True if it was the ack (initiator side), false for the reply (acceptor side).
        in_ack: bool,
    },
    /// The peer lacks mandatory flags.
    #[error("connection {} node {node} since it {missing}", if *.peer_started { "rejected from" } else { "aborted to" })]
    CannotHandle {
        /// The peer's name as it sent it.
        node: String,
        /// The missing flags.
        missing: flags::CannotHandle,
        /// True on the acceptor side.
        peer_started: bool,
    },
    /// The peer that answered is not the node that was dialed.
    #[error("dialed {expected} but {got} answered")]
    WrongPeer {
        /// The node we dialed.
        expected: Atom,
        /// The name in its challenge.
        got: String,
    },
    /// A node name that is not `name@host` (or a host for a dynamic name).
    #[error("invalid node name {0:?}")]
    InvalidName(String),
    /// A node using the other kind of names (short vs long).
    #[error("node {name} does not use {ours}")]
    NameDomainMismatch {
        /// The offending name.
        name: String,
        /// The kind this node uses.
        ours: NameDomain,
    },
    /// Our own config is unusable.
    #[error("invalid handshake config: {0}")]
    InvalidConfig(String),
    /// The peer answered `nok`: it is dialing us too and its attempt wins. Drop this
    /// attempt and expect the peer's incoming connection.
    #[error("simultaneous connect: the peer's own connection attempt wins (nok)")]
    SimultaneousLost,
    /// The peer answered `not_allowed`.
    #[error("the peer does not allow this node to connect (not_allowed)")]
    NotAllowed,
    /// After `alive`, the attempt was abandoned (`false`).
    #[error("connection abandoned after 'alive'")]
    AliveRefused,
    /// This side refused the peer with the given status.
    #[error("refused the peer ({0:?})")]
    Refused(AcceptStatus),
    /// The peer sent more than a handshake could need.
    #[error("too much handshake input buffered")]
    InputTooLarge,
    /// A method was called in a state where it does not apply.
    #[error("{call} is not expected in state {state:?}")]
    UnexpectedCall {
        /// The method.
        call: &'static str,
        /// The state the handshake was in.
        state: State,
    },
    /// The handshake had already failed.
    #[error("the handshake has already failed")]
    AlreadyFailed,
}

fn malformed(what: impl Into<String>) -> HandshakeError {
    HandshakeError::Malformed(what.into())
}

/// One side of a distribution handshake. See the [module docs](self).
#[derive(Debug)]
pub struct Handshake {
    role: Role,
    state: State,
    cfg: Config,
    /// Dialed node (initiator) or the peer's name once known (acceptor).
    peer_name: Option<Atom>,
    peer_flags: u64,
    peer_creation: Option<u32>,
    /// The peer sent a version-5 name: a complement follows the challenge.
    old_name: bool,
    /// Acceptor: the handshake replaces a live connection (after `alive`).
    replacing: bool,
    /// Acceptor: the peer's challenge, kept while waiting for the old connection.
    peer_challenge: u32,
    /// Acceptor: the host a dynamic-name peer sent.
    peer_dynamic_host: Option<String>,
    input: Vec<u8>,
    output: Vec<u8>,
    events: VecDeque<Event>,
}

impl Handshake {
    /// Starts the dialing side towards `peer` (the node name that was looked up in
    /// EPMD). The name message is queued at once.
    pub fn initiator(cfg: Config, peer: Atom) -> Result<Handshake, HandshakeError> {
        let dynamic = cfg.flags & flags::NAME_ME != 0;
        if dynamic {
            let host = cfg.our_name.as_str();
            if host.is_empty() || host.contains('@') {
                return Err(HandshakeError::InvalidName(host.to_string()));
            }
            check_domain(cfg.name_domain, host, host)?;
        } else {
            check_node_name(cfg.name_domain, cfg.our_name.as_str())?;
        }
        check_node_name(cfg.name_domain, peer.as_str())?;
        check_own_config(&cfg)?;
        let mut hs = Handshake::new(Role::Initiator, State::AwaitStatus, cfg);
        hs.peer_name = Some(peer);
        let creation = if dynamic { 0 } else { hs.cfg.creation };
        let name = latin1_bytes(hs.cfg.our_name.as_str())?;
        let mut m = Vec::with_capacity(15 + name.len());
        m.push(b'N');
        m.extend_from_slice(&hs.cfg.flags.to_be_bytes());
        m.extend_from_slice(&creation.to_be_bytes());
        m.extend_from_slice(&(name.len() as u16).to_be_bytes());
        m.extend_from_slice(&name);
        hs.send(&m);
        Ok(hs)
    }

    /// Starts the accepting side of a connection that was just accepted.
    pub fn acceptor(cfg: Config) -> Result<Handshake, HandshakeError> {
        if cfg.flags & flags::NAME_ME != 0 {
            return Err(HandshakeError::InvalidConfig(
                "an acceptor cannot ask for a dynamic name".into(),
            ));
        }
        check_node_name(cfg.name_domain, cfg.our_name.as_str())?;
        check_own_config(&cfg)?;
        Ok(Handshake::new(Role::Acceptor, State::AwaitName, cfg))
    }

    fn new(role: Role, state: State, cfg: Config) -> Handshake {
        Handshake {
            role,
            state,
            cfg,
            peer_name: None,
            peer_flags: 0,
            peer_creation: None,
            old_name: false,
            replacing: false,
            peer_challenge: 0,
            peer_dynamic_host: None,
            input: Vec::new(),
            output: Vec::new(),
            events: VecDeque::new(),
        }
    }

    /// Which side this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Where the handshake is.
    pub fn state(&self) -> State {
        self.state
    }

    /// The peer's node name, once known: the dialed node for an initiator; for an
    /// acceptor, after its name message (after [`AcceptStatus::Named`] for a
    /// dynamic-name peer).
    pub fn peer_name(&self) -> Option<&Atom> {
        self.peer_name.as_ref()
    }

    /// True once [`Event::Completed`] has been produced.
    pub fn is_complete(&self) -> bool {
        self.state == State::Complete
    }

    /// Bytes to write to the socket, if any (all that is queued, as one chunk).
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.output.is_empty() {
            None
        } else {
            Some(Bytes::from(std::mem::take(&mut self.output)))
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Takes the bytes received after the handshake's last message: the start of the
    /// 4-byte framed connection data.
    pub fn take_leftover(&mut self) -> Vec<u8> {
        if self.state == State::Complete {
            std::mem::take(&mut self.input)
        } else {
            Vec::new()
        }
    }

    /// Passes bytes read from the socket. Processes every complete message that the
    /// current state can take. After completion, further bytes are only buffered (see
    /// [`Handshake::take_leftover`]).
    pub fn feed(&mut self, data: &[u8]) -> Result<(), HandshakeError> {
        if self.state == State::Failed {
            return Err(HandshakeError::AlreadyFailed);
        }
        self.input.extend_from_slice(data);
        let r = self.process();
        if r.is_err() {
            self.state = State::Failed;
            self.input.clear();
        } else if self.state != State::Complete && self.input.len() > MAX_BUFFERED_INPUT {
            self.state = State::Failed;
            self.input.clear();
            return Err(HandshakeError::InputTooLarge);
        }
        r
    }

    /// Acceptor: replies to [`Event::PeerIdentified`]. Refusals (`Nok`, `NotAllowed`,
    /// `AlreadyPending`) queue the status and return [`HandshakeError::Refused`].
    pub fn accept(&mut self, status: AcceptStatus) -> Result<(), HandshakeError> {
        self.expect_state(State::AwaitDecision, "accept")?;
        let dynamic = self.peer_dynamic_host.is_some();
        let r = self.do_accept(status, dynamic);
        self.after(r)
    }

    fn do_accept(&mut self, status: AcceptStatus, dynamic: bool) -> Result<(), HandshakeError> {
        match (&status, dynamic) {
            (AcceptStatus::Ok | AcceptStatus::OkSimultaneous | AcceptStatus::Alive, true) => {
                return Err(HandshakeError::UnexpectedCall {
                    call: "accept (a dynamic-name peer needs AcceptStatus::Named)",
                    state: self.state,
                })
            }
            (AcceptStatus::Named { .. }, false) => {
                return Err(HandshakeError::UnexpectedCall {
                    call: "accept (Named is only for dynamic-name peers)",
                    state: self.state,
                })
            }
            _ => {}
        }
        match status {
            AcceptStatus::Ok | AcceptStatus::OkSimultaneous => {
                self.send_status(status.wire_text().unwrap_or("ok"));
                self.send_challenge()
            }
            AcceptStatus::Named { name, creation } => {
                let text = name.as_str().to_string();
                let host = self.peer_dynamic_host.clone();
                match split_node_name(&text) {
                    Some((_, h)) if Some(h) == host.as_deref() => {}
                    _ => return Err(HandshakeError::InvalidName(text)),
                }
                let bytes = text.as_bytes();
                if bytes.len() > u16::MAX as usize {
                    return Err(HandshakeError::InvalidName(text));
                }
                let mut m = Vec::with_capacity(13 + bytes.len());
                m.extend_from_slice(b"snamed:");
                m.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
                m.extend_from_slice(bytes);
                m.extend_from_slice(&creation.to_be_bytes());
                self.send(&m);
                self.peer_name = Some(name);
                self.peer_creation = Some(creation);
                self.send_challenge()
            }
            AcceptStatus::Alive => {
                self.send_status("alive");
                self.state = State::AwaitAliveReply;
                self.process()
            }
            AcceptStatus::Nok | AcceptStatus::NotAllowed | AcceptStatus::AlreadyPending => {
                if let Some(t) = status.wire_text() {
                    self.send_status(t);
                }
                Err(HandshakeError::Refused(status))
            }
        }
    }

    /// Initiator: answers [`Event::AliveCheck`]. `false` abandons the attempt and
    /// returns [`HandshakeError::AliveRefused`] after queuing the answer.
    pub fn answer_alive(&mut self, proceed: bool) -> Result<(), HandshakeError> {
        self.expect_state(State::AwaitAliveAnswer, "answer_alive")?;
        let r = if proceed {
            self.send_status("true");
            self.state = State::AwaitChallenge;
            self.process()
        } else {
            self.send_status("false");
            Err(HandshakeError::AliveRefused)
        };
        self.after(r)
    }

    /// Acceptor: the old connection to the peer is gone (after
    /// [`Event::ReplacingConnection`]); sends the ack and completes.
    pub fn old_connection_closed(&mut self) -> Result<(), HandshakeError> {
        self.expect_state(State::AwaitOldConnection, "old_connection_closed")?;
        self.send_ack();
        self.complete();
        let r = self.process();
        self.after(r)
    }

    fn expect_state(&self, s: State, call: &'static str) -> Result<(), HandshakeError> {
        if self.state == State::Failed {
            return Err(HandshakeError::AlreadyFailed);
        }
        if self.state != s {
            return Err(HandshakeError::UnexpectedCall {
                call,
                state: self.state,
            });
        }
        Ok(())
    }

    fn after(&mut self, r: Result<(), HandshakeError>) -> Result<(), HandshakeError> {
        if let Err(e) = &r {
            if !matches!(e, HandshakeError::UnexpectedCall { .. }) {
                self.state = State::Failed;
                self.input.clear();
            }
        }
        r
    }

    fn send(&mut self, msg: &[u8]) {
        // Every message we build is far below 64 KiB (names are checked on the way in).
        let len = msg.len().min(u16::MAX as usize) as u16;
        self.output.extend_from_slice(&len.to_be_bytes());
        self.output.extend_from_slice(&msg[..len as usize]);
    }

    fn send_status(&mut self, text: &str) {
        let mut m = Vec::with_capacity(1 + text.len());
        m.push(b's');
        m.extend_from_slice(text.as_bytes());
        self.send(&m);
    }

    fn send_challenge(&mut self) -> Result<(), HandshakeError> {
        let name = latin1_bytes(self.cfg.our_name.as_str())?;
        let mut m = Vec::with_capacity(19 + name.len());
        m.push(b'N');
        m.extend_from_slice(&self.cfg.flags.to_be_bytes());
        m.extend_from_slice(&self.cfg.challenge.to_be_bytes());
        m.extend_from_slice(&self.cfg.creation.to_be_bytes());
        m.extend_from_slice(&(name.len() as u16).to_be_bytes());
        m.extend_from_slice(&name);
        self.send(&m);
        self.state = if self.old_name {
            State::AwaitComplement
        } else {
            State::AwaitChallengeReply
        };
        self.process()
    }

    fn send_ack(&mut self) {
        let d = self.cfg.cookie.digest(self.peer_challenge);
        let mut m = [0u8; 17];
        m[0] = b'a';
        m[1..].copy_from_slice(&d);
        self.send(&m);
    }

    fn complete(&mut self) {
        self.state = State::Complete;
        let peer_name = self.peer_name.clone().unwrap_or_else(|| Atom::new(""));
        self.events.push_back(Event::Completed(Completed {
            peer_name,
            peer_creation: self.peer_creation.unwrap_or(0),
            peer_flags: self.peer_flags,
            flags: self.cfg.flags & self.peer_flags,
            our_name: self.cfg.our_name.clone(),
            our_creation: self.cfg.creation,
        }));
    }

    /// Handles buffered messages while the state can take them.
    fn process(&mut self) -> Result<(), HandshakeError> {
        loop {
            if !matches!(
                self.state,
                State::AwaitStatus
                    | State::AwaitChallenge
                    | State::AwaitAck
                    | State::AwaitName
                    | State::AwaitAliveReply
                    | State::AwaitComplement
                    | State::AwaitChallengeReply
            ) {
                return Ok(());
            }
            if self.input.len() < 2 {
                return Ok(());
            }
            let len = u16::from_be_bytes([self.input[0], self.input[1]]) as usize;
            if self.input.len() < 2 + len {
                return Ok(());
            }
            let msg: Vec<u8> = self.input[2..2 + len].to_vec();
            self.input.drain(..2 + len);
            if msg.is_empty() {
                return Err(malformed("empty handshake message"));
            }
            self.handle(&msg)?;
        }
    }

    fn handle(&mut self, m: &[u8]) -> Result<(), HandshakeError> {
        match self.state {
            State::AwaitStatus => self.on_status(m),
            State::AwaitChallenge => self.on_challenge(m),
            State::AwaitAck => self.on_ack(m),
            State::AwaitName => self.on_name(m),
            State::AwaitAliveReply => self.on_alive_reply(m),
            State::AwaitComplement => self.on_complement(m),
            State::AwaitChallengeReply => self.on_challenge_reply(m),
            s => Err(HandshakeError::UnexpectedCall {
                call: "handle",
                state: s,
            }),
        }
    }

    // ---- initiator ----

    fn on_status(&mut self, m: &[u8]) -> Result<(), HandshakeError> {
        if m[0] != b's' {
            return Err(malformed(format!("expected a status, got tag {}", m[0])));
        }
        let dynamic = self.cfg.flags & flags::NAME_ME != 0;
        let text = &m[1..];
        if let Some(rest) = text.strip_prefix(b"named:") {
            if !dynamic {
                return Err(malformed("status named: without a dynamic name"));
            }
            if rest.len() < 2 {
                return Err(malformed("short named: status"));
            }
            let n = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            if rest.len() < 2 + n + 4 {
                return Err(malformed("short named: status"));
            }
            let name_bytes = &rest[2..2 + n];
            let creation = u32::from_be_bytes([rest[2 + n], rest[3 + n], rest[4 + n], rest[5 + n]]);
            let name = std::str::from_utf8(name_bytes)
                .map_err(|_| HandshakeError::InvalidName(latin1_string(name_bytes)))?;
            match split_node_name(name) {
                Some((_, host)) if host == self.cfg.our_name.as_str() => {}
                _ => return Err(HandshakeError::InvalidName(name.to_string())),
            }
            let atom =
                Atom::try_new(name).ok_or_else(|| HandshakeError::InvalidName(name.to_string()))?;
            self.cfg.our_name = atom.clone();
            self.cfg.creation = creation;
            self.events.push_back(Event::Named {
                name: atom,
                creation,
            });
            self.state = State::AwaitChallenge;
            return Ok(());
        }
        match text {
            b"not_allowed" => Err(HandshakeError::NotAllowed),
            _ if dynamic => Err(malformed(format!(
                "unexpected status {:?} for a dynamic name",
                latin1_string(text)
            ))),
            b"ok" | b"ok_simultaneous" => {
                self.state = State::AwaitChallenge;
                Ok(())
            }
            b"nok" => Err(HandshakeError::SimultaneousLost),
            b"alive" => {
                self.state = State::AwaitAliveAnswer;
                self.events.push_back(Event::AliveCheck);
                Ok(())
            }
            other => Err(malformed(format!(
                "unknown status {:?}",
                latin1_string(other)
            ))),
        }
    }

    fn on_challenge(&mut self, m: &[u8]) -> Result<(), HandshakeError> {
        if m[0] != b'N' || m.len() < 19 {
            return Err(malformed("expected a version 6 challenge ('N')"));
        }
        let peer_flags = u64::from_be_bytes(m[1..9].try_into().unwrap_or([0; 8]));
        let challenge = u32::from_be_bytes([m[9], m[10], m[11], m[12]]);
        let creation = u32::from_be_bytes([m[13], m[14], m[15], m[16]]);
        let n = u16::from_be_bytes([m[17], m[18]]) as usize;
        if m.len() < 19 + n {
            return Err(malformed("challenge name overruns the message"));
        }
        let name = &m[19..19 + n];
        let expected = self.peer_name.clone().unwrap_or_else(|| Atom::new(""));
        if name != expected.as_bytes() {
            return Err(HandshakeError::WrongPeer {
                expected,
                got: latin1_string(name),
            });
        }
        let expanded = flags::expand_digest(peer_flags);
        let missing = flags::missing_mandatory(expanded, self.cfg.required_flags);
        if !missing.is_empty() {
            return Err(HandshakeError::CannotHandle {
                node: expected.to_string(),
                missing,
                peer_started: false,
            });
        }
        self.peer_flags = expanded;
        self.peer_creation = Some(creation);
        let digest = self.cfg.cookie.digest(challenge);
        let mut r = [0u8; 21];
        r[0] = b'r';
        r[1..5].copy_from_slice(&self.cfg.challenge.to_be_bytes());
        r[5..].copy_from_slice(&digest);
        self.send(&r);
        self.state = State::AwaitAck;
        Ok(())
    }

    fn on_ack(&mut self, m: &[u8]) -> Result<(), HandshakeError> {
        if m[0] != b'a' || m.len() != 17 {
            return Err(malformed("expected a challenge ack"));
        }
        let expected = self.cfg.cookie.digest(self.cfg.challenge);
        if !digest_eq(&m[1..], &expected) {
            return Err(HandshakeError::BadCookie { in_ack: true });
        }
        self.complete();
        Ok(())
    }

    // ---- acceptor ----

    fn on_name(&mut self, m: &[u8]) -> Result<(), HandshakeError> {
        let (peer_flags, creation, name_bytes, version) = match m[0] {
            b'N' if m.len() >= 15 => {
                let f = u64::from_be_bytes(m[1..9].try_into().unwrap_or([0; 8]));
                let c = u32::from_be_bytes([m[9], m[10], m[11], m[12]]);
                let n = u16::from_be_bytes([m[13], m[14]]) as usize;
                if m.len() < 15 + n {
                    return Err(malformed("name overruns the message"));
                }
                (f, Some(c), &m[15..15 + n], 6)
            }
            b'n' if m.len() >= 7 => {
                let f = u32::from_be_bytes([m[3], m[4], m[5], m[6]]) as u64;
                (f, None, &m[7..], 5)
            }
            _ => return Err(malformed("expected a name message ('N' or 'n')")),
        };
        let text = latin1_string(name_bytes);
        let dynamic = peer_flags & flags::NAME_ME != 0 && version == 6;
        let peer = if dynamic {
            if text.is_empty() || text.contains('@') {
                return Err(HandshakeError::InvalidName(text));
            }
            if !self.cfg.name_domain.allows_host(&text) {
                self.send_status("not_allowed");
                return Err(HandshakeError::NameDomainMismatch {
                    name: text,
                    ours: self.cfg.name_domain,
                });
            }
            if text.chars().count() > MAX_ATOM_CHARS {
                return Err(HandshakeError::InvalidName(text));
            }
            self.peer_dynamic_host = Some(text.clone());
            PeerName::Host(text.clone())
        } else {
            match check_node_name(self.cfg.name_domain, &text) {
                Ok(()) => {}
                Err(e @ HandshakeError::NameDomainMismatch { .. }) => {
                    self.send_status("not_allowed");
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
            let atom =
                Atom::try_new(&text).ok_or_else(|| HandshakeError::InvalidName(text.clone()))?;
            self.peer_name = Some(atom.clone());
            PeerName::Node(atom)
        };
        let expanded = flags::expand_digest(peer_flags);
        // Like dist_util:check_dflags/2: without a creation (old name message) only the
        // low 32 flag bits are known yet.
        let mask = if creation.is_none() {
            u32::MAX as u64
        } else {
            u64::MAX
        };
        let missing = flags::missing_mandatory(expanded, self.cfg.required_flags & mask);
        if !missing.is_empty() {
            self.send_status("not_allowed");
            return Err(HandshakeError::CannotHandle {
                node: text,
                missing,
                peer_started: true,
            });
        }
        self.peer_flags = expanded;
        self.peer_creation = creation;
        self.old_name = version == 5;
        self.state = State::AwaitDecision;
        self.events.push_back(Event::PeerIdentified {
            name: peer,
            flags: expanded,
            creation,
            version,
        });
        Ok(())
    }

    fn on_alive_reply(&mut self, m: &[u8]) -> Result<(), HandshakeError> {
        match m {
            b"strue" => {
                self.replacing = true;
                self.send_challenge()
            }
            b"sfalse" => Err(HandshakeError::AliveRefused),
            _ => Err(malformed("expected status true or false after alive")),
        }
    }

    fn on_complement(&mut self, m: &[u8]) -> Result<(), HandshakeError> {
        if m[0] != b'c' || m.len() != 9 {
            return Err(malformed("expected a complement ('c')"));
        }
        let high = u32::from_be_bytes([m[1], m[2], m[3], m[4]]) as u64;
        let creation = u32::from_be_bytes([m[5], m[6], m[7], m[8]]);
        let expanded = flags::expand_digest(self.peer_flags | (high << 32));
        let missing = flags::missing_mandatory(expanded, self.cfg.required_flags);
        if !missing.is_empty() {
            return Err(HandshakeError::CannotHandle {
                node: self
                    .peer_name
                    .as_ref()
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                missing,
                peer_started: true,
            });
        }
        self.peer_flags = expanded;
        self.peer_creation = Some(creation);
        self.state = State::AwaitChallengeReply;
        Ok(())
    }

    fn on_challenge_reply(&mut self, m: &[u8]) -> Result<(), HandshakeError> {
        if m[0] != b'r' || m.len() != 21 {
            return Err(malformed("expected a challenge reply ('r')"));
        }
        let expected = self.cfg.cookie.digest(self.cfg.challenge);
        if !digest_eq(&m[5..], &expected) {
            return Err(HandshakeError::BadCookie { in_ack: false });
        }
        self.peer_challenge = u32::from_be_bytes([m[1], m[2], m[3], m[4]]);
        if self.replacing {
            self.state = State::AwaitOldConnection;
            self.events.push_back(Event::ReplacingConnection);
        } else {
            self.send_ack();
            self.complete();
        }
        Ok(())
    }
}

fn digest_eq(a: &[u8], b: &[u8; 16]) -> bool {
    a.len() == 16
        && a.iter()
            .zip(b.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Node names travel as Latin-1 bytes.
fn latin1_string(b: &[u8]) -> String {
    b.iter().map(|&c| c as char).collect()
}

fn latin1_bytes(s: &str) -> Result<Vec<u8>, HandshakeError> {
    let v: Option<Vec<u8>> = s.chars().map(|c| u8::try_from(c as u32).ok()).collect();
    match v {
        Some(v) if v.len() <= u16::MAX as usize => Ok(v),
        _ => Err(HandshakeError::InvalidName(s.to_string())),
    }
}

fn check_domain(domain: NameDomain, name: &str, host: &str) -> Result<(), HandshakeError> {
    if domain.allows_host(host) {
        Ok(())
    } else {
        Err(HandshakeError::NameDomainMismatch {
            name: name.to_string(),
            ours: domain,
        })
    }
}

fn check_node_name(domain: NameDomain, name: &str) -> Result<(), HandshakeError> {
    let (_, host) =
        split_node_name(name).ok_or_else(|| HandshakeError::InvalidName(name.to_string()))?;
    if name.chars().count() > MAX_ATOM_CHARS {
        return Err(HandshakeError::InvalidName(name.to_string()));
    }
    check_domain(domain, name, host)
}

fn check_own_config(cfg: &Config) -> Result<(), HandshakeError> {
    let missing = flags::missing_mandatory(flags::expand_digest(cfg.flags), cfg.required_flags);
    if !missing.is_empty() {
        return Err(HandshakeError::InvalidConfig(format!(
            "this node itself {missing}"
        )));
    }
    if cfg.flags & flags::HANDSHAKE_23 == 0 {
        return Err(HandshakeError::InvalidConfig(
            "HANDSHAKE_23 must be set".to_string(),
        ));
    }
    Ok(())
}
