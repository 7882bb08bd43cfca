//! The settings of a distributed node: [`DistConfig`].

use super::name::NameKind;
use ferrobeam_proto::dist_header::ReceiverLimits;
use ferrobeam_proto::flags;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

/// The distribution flags a ferrobeam node advertises: the protocol layer's
/// [`flags::DEFAULT`] (every mandatory flag, the distribution header with its atom cache,
/// fragments, `SEND_SENDER`, `EXIT_PAYLOAD`, ...) plus the optional features this node
/// implements: monitors by pid and by name ([`flags::DIST_MONITOR`],
/// [`flags::DIST_MONITOR_NAME`]), process aliases ([`flags::ALIAS`]) and remote spawn
/// ([`flags::SPAWN`]: `SPAWN_REQUEST`/`SPAWN_REPLY`, which `erpc` and `spawn/4` use).
/// [`flags::PUBLISHED`] is added for visible nodes.
pub const DEFAULT_FLAGS: u64 =
    flags::DEFAULT | flags::DIST_MONITOR | flags::DIST_MONITOR_NAME | flags::ALIAS | flags::SPAWN;

/// The default `net_ticktime`, as in Erlang: 60 seconds.
pub const DEFAULT_NET_TICKTIME: Duration = Duration::from_secs(60);

/// The default time a connection setup may take (Erlang's `net_setuptime`, 7 s).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(7);

/// The default [`DistConfig::read_spin`]: 50 µs, about a loopback round trip.
pub const DEFAULT_READ_SPIN: Duration = Duration::from_micros(50);

/// Settings for [`start`](super::start).
///
/// ```
/// use ferrobeam::dist::{DistConfig, NameKind};
/// use std::time::Duration;
///
/// let cfg = DistConfig::new("dale", NameKind::Short)
///     .cookie("secret")
///     .hidden(true)
///     .listen_port_range(9100..=9110)
///     .net_ticktime(Duration::from_secs(10));
/// assert!(cfg.hidden);
/// ```
#[derive(Clone)]
pub struct DistConfig {
    /// `name` or `name@host`. Without a host, this machine's short host name (for
    /// [`NameKind::Short`]) or fully qualified name (for [`NameKind::Long`]) is used.
    pub name: String,
    /// Short (`--sname`) or long (`--name`) names.
    pub kind: NameKind,
    /// The cookie. `None`: read `cookie_file`, creating it if it is missing.
    pub cookie: Option<String>,
    /// Where the cookie is read from when `cookie` is `None` (default `~/.erlang.cookie`).
    pub cookie_file: Option<PathBuf>,
    /// A hidden node: its connections are hidden and it takes no part in the mesh.
    pub hidden: bool,
    /// The ports the node may listen on, like `inet_dist_listen_min`/`max`. `None`: any
    /// free port.
    pub listen_port_range: Option<RangeInclusive<u16>>,
    /// The address to listen on (default: all IPv4 interfaces).
    pub listen_addr: IpAddr,
    /// A peer from which nothing was read for this long is disconnected
    /// (`net_tick_timeout`). Ticks are sent every quarter of it when idle.
    pub net_ticktime: Duration,
    /// The EPMD port (default: `ERL_EPMD_PORT`, else 4369).
    pub epmd_port: u16,
    /// Start an EPMD when none is listening (as `erl` does).
    pub start_epmd: bool,
    /// How long a connection setup (EPMD lookup, TCP connect and handshake) may take. A
    /// peer that stalls mid-handshake is dropped after it.
    pub handshake_timeout: Duration,
    /// The flags advertised in the handshake ([`DEFAULT_FLAGS`]; `PUBLISHED` is added
    /// for a visible node).
    pub flags: u64,
    /// Most signals queued for a node while its connection is being set up. Further
    /// signals are dropped with a log (and links and monitors get `noconnection`).
    pub max_pending_signals: usize,
    /// The bytes (estimated) queued for one connection's writer above which the
    /// connection counts as busy and processes that send to it are suspended (see
    /// [`DistNode::is_busy`](super::DistNode::is_busy)). Default 8 MiB.
    pub busy_limit: usize,
    /// Largest packet accepted from a peer, in bytes (default 128 MiB). A peer that
    /// announces a larger one is disconnected, with the size in the log. BEAM sends
    /// messages over 64 KiB in fragments, so this bounds one fragment, not a message.
    pub max_frame_size: usize,
    /// Most bytes a connection may hold in messages being reassembled from fragments
    /// (default 256 MiB): bounds the largest message received in fragments.
    pub max_reassembly_bytes: usize,
    /// Most terms one received message may decode into (default 16 Mi, see
    /// [`DecodeOptions::max_terms`](ferrobeam_term::DecodeOptions::max_terms)). A decoded
    /// term takes up to 48 times its encoded size, so this, not the packet size, bounds
    /// the memory a packet decodes into. A peer that sends more is disconnected.
    pub max_message_terms: usize,
    /// How long a connection's reader busy-polls its socket for the next packet, once
    /// it has read everything, before it waits for the runtime to report the socket
    /// readable (default [`DEFAULT_READ_SPIN`]; zero turns it off). A request's reply
    /// that comes within it is read at once, without the cost of the runtime's wake-up
    /// (BEAM's schedulers busy-wait the same way). The reader yields to the other tasks
    /// between polls, and a reader whose spins find nothing spins before fewer and
    /// fewer of its waits (down to one in 64), so a quiet connection costs next to no
    /// CPU. At most one reader per CPU of the OS process spins at a time; the others
    /// wait for readiness at once.
    pub read_spin: Duration,
}

impl std::fmt::Debug for DistConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("cookie", &self.cookie.as_ref().map(|_| "<hidden>"))
            .field("cookie_file", &self.cookie_file)
            .field("hidden", &self.hidden)
            .field("listen_port_range", &self.listen_port_range)
            .field("listen_addr", &self.listen_addr)
            .field("net_ticktime", &self.net_ticktime)
            .field("epmd_port", &self.epmd_port)
            .field("start_epmd", &self.start_epmd)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("flags", &flags::describe(self.flags))
            .field("max_pending_signals", &self.max_pending_signals)
            .field("busy_limit", &self.busy_limit)
            .field("max_frame_size", &self.max_frame_size)
            .field("max_reassembly_bytes", &self.max_reassembly_bytes)
            .field("max_message_terms", &self.max_message_terms)
            .field("read_spin", &self.read_spin)
            .finish()
    }
}

impl DistConfig {
    /// A visible node named `name` with the defaults: the cookie from
    /// `~/.erlang.cookie`, any listen port, `net_ticktime` 60 s, EPMD from
    /// `ERL_EPMD_PORT` (else 4369), started if needed.
    pub fn new(name: impl Into<String>, kind: NameKind) -> DistConfig {
        DistConfig {
            name: name.into(),
            kind,
            cookie: None,
            cookie_file: None,
            hidden: false,
            listen_port_range: None,
            listen_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            net_ticktime: DEFAULT_NET_TICKTIME,
            epmd_port: crate::epmd::port_from_env(),
            start_epmd: true,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            flags: DEFAULT_FLAGS,
            max_pending_signals: 100_000,
            busy_limit: 8 * 1024 * 1024,
            max_frame_size: ferrobeam_proto::framing::DEFAULT_MAX_FRAME_SIZE,
            max_reassembly_bytes: ReceiverLimits::default().max_reassembly_bytes,
            max_message_terms: ReceiverLimits::default().max_terms,
            read_spin: DEFAULT_READ_SPIN,
        }
    }

    /// Sets the cookie.
    pub fn cookie(mut self, cookie: impl Into<String>) -> Self {
        self.cookie = Some(cookie.into());
        self
    }

    /// Sets the cookie file read when no cookie is given.
    pub fn cookie_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.cookie_file = Some(path.into());
        self
    }

    /// Makes the node hidden (or visible).
    pub fn hidden(mut self, hidden: bool) -> Self {
        self.hidden = hidden;
        self
    }

    /// Sets the listen port range.
    pub fn listen_port_range(mut self, range: RangeInclusive<u16>) -> Self {
        self.listen_port_range = Some(range);
        self
    }

    /// Sets `net_ticktime`.
    pub fn net_ticktime(mut self, t: Duration) -> Self {
        self.net_ticktime = t;
        self
    }

    /// Sets the EPMD port.
    pub fn epmd_port(mut self, port: u16) -> Self {
        self.epmd_port = port;
        self
    }

    /// Sets the connection setup timeout.
    pub fn handshake_timeout(mut self, t: Duration) -> Self {
        self.handshake_timeout = t;
        self
    }

    /// Sets how long a connection's reader busy-polls for the next packet (see
    /// [`DistConfig::read_spin`]); zero turns it off.
    pub fn read_spin(mut self, t: Duration) -> Self {
        self.read_spin = t;
        self
    }

    /// The limits a connection's receiver applies, from this configuration.
    pub(crate) fn receiver_limits(&self) -> ReceiverLimits {
        ReceiverLimits::default()
            .with_max_reassembly_bytes(self.max_reassembly_bytes)
            .with_max_terms(self.max_message_terms)
    }
}
