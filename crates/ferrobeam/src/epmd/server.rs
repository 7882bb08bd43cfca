//! The EPMD server: a port mapper that real Erlang nodes and ferrobeam nodes register with.
//!
//! It behaves as OTP's `epmd` does, and was checked against it byte for byte:
//!
//! - A registration (`ALIVE2_REQ`) lives exactly as long as its connection. Closing the
//!   connection, or sending anything more on it, unregisters the name.
//! - A name that is registered is refused (result 1, creation 99), as `epmd` refuses it.
//! - Nodes that announce distribution version 6 get `ALIVE2_X_RESP` with a 32-bit creation;
//!   older ones get `ALIVE2_RESP` with a creation from 1 to 3. The first creation of a name
//!   comes from the clock (seconds since 1970, plus one) and is above every creation handed
//!   out before; each re-registration of a remembered name gets the previous creation plus
//!   one. Creations 0 to 3 are never handed out as 32-bit creations. Like `epmd`, the server
//!   remembers the last 1000 names that went away.
//! - `NAMES_REQ` is answered with EPMD's port and `name N at port P\n` lines, newest first,
//!   exactly as `epmd` writes them, so `epmd -names` and `net_adm:names/0` read them.
//! - `DUMP_REQ` lists active and old slots in `epmd`'s format.
//! - Each connection carries one request; the server answers it and closes the connection
//!   (except a successful registration, which stays open).
//!
//! **Which peers may do what.** As in `epmd`, `ALIVE2_REQ`, `DUMP_REQ`, `KILL_REQ` and
//! `STOP_REQ` are only accepted from a local peer: a loopback address, or the address the
//! connection arrived on. Anyone who can connect may use `PORT_PLEASE2_REQ` and `NAMES_REQ`.
//! `KILL_REQ` is answered `NO` while nodes are registered, and `STOP_REQ` is ignored, unless
//! the server runs with [`EpmdConfig::relaxed_command_check`] (`epmd -relaxed_command_check`).
//! One deliberate difference: `epmd` answers `STOP_REQ` for an unknown name with
//! `NOEXISTSTOPPED` (a missing `return` in its C source); this server answers `NOEXIST`.
//!
//! **Robustness.** A request frame longer than `epmd`'s limit of 3057 bytes, an unknown
//! tag, a malformed body or a request that does not arrive in full within
//! [`EpmdConfig::packet_timeout`] closes that connection only, with a `tracing` log. Each
//! connection is its own task, so a slow client stalls nobody else. At most
//! [`EpmdConfig::max_connections`] connections are open at once; further clients wait in
//! the listen backlog. Running out of file descriptors pauses accepting briefly instead of
//! failing.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use ferrobeam::epmd::{EpmdConfig, EpmdServer};
//!
//! let server = EpmdServer::bind(EpmdConfig::loopback(0)).await?;
//! let handle = server.spawn();
//! println!("EPMD on port {}", handle.port());
//! handle.shutdown().await;
//! # Ok(()) }
//! ```

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrobeam_proto::epmd::{
    request_len, AliveResp, DumpEntry, DumpResp, DumpState, EpmdError, KillResp, NamesResp,
    NodeInfo, Port2Resp, Request, StopResp, DEFAULT_PORT, DIST_VERSION_HIGH, REFUSED_CREATION,
    RESULT_ERROR,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

/// How many names that went away the server remembers, as `epmd` does, so that their next
/// registration gets a new creation.
pub const MAX_OLD_NAMES: usize = 1000;
/// The default time a client has to send its whole request (`epmd`'s `-packet_timeout`).
pub const DEFAULT_PACKET_TIMEOUT: Duration = Duration::from_secs(60);
/// The default limit of simultaneously open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 8192;

/// How an [`EpmdServer`] listens and what it allows.
#[derive(Debug, Clone)]
pub struct EpmdConfig {
    /// The port to listen on. 0 picks a free port (see [`EpmdServer::port`]).
    pub port: u16,
    /// The addresses to listen on. Empty means all interfaces, IPv4 and IPv6, as `epmd`
    /// does: `[::]` (which also serves IPv4 where IPv6 sockets are dual-stack, else
    /// `0.0.0.0` is added), or `0.0.0.0` alone on hosts without IPv6. A non-empty list
    /// always gets `127.0.0.1` added when it has no loopback address, as `epmd -address`
    /// does.
    pub addresses: Vec<IpAddr>,
    /// Allow `KILL_REQ` while nodes are registered, and `STOP_REQ`
    /// (`epmd -relaxed_command_check`).
    pub relaxed_command_check: bool,
    /// How long a client may take to send its request; it is also the limit of each write.
    pub packet_timeout: Duration,
    /// The most connections open at once.
    pub max_connections: usize,
}

impl EpmdConfig {
    /// All interfaces on `port`, with `epmd`'s defaults.
    pub fn new(port: u16) -> Self {
        EpmdConfig {
            port,
            addresses: Vec::new(),
            relaxed_command_check: false,
            packet_timeout: DEFAULT_PACKET_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }

    /// Only `127.0.0.1`, on `port`.
    pub fn loopback(port: u16) -> Self {
        EpmdConfig {
            addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            ..EpmdConfig::new(port)
        }
    }
}

impl Default for EpmdConfig {
    fn default() -> Self {
        EpmdConfig::new(DEFAULT_PORT)
    }
}

/// A bound EPMD server, ready to [`run`](EpmdServer::run) or [`spawn`](EpmdServer::spawn).
#[derive(Debug)]
pub struct EpmdServer {
    listeners: Vec<TcpListener>,
    shared: Arc<Shared>,
}

impl EpmdServer {
    /// Binds the listening sockets. Fails with [`io::ErrorKind::AddrInUse`] when another
    /// EPMD (or anything else) has the port.
    pub async fn bind(config: EpmdConfig) -> io::Result<EpmdServer> {
        let listeners = bind_listeners(&config).await?;
        let port = listeners[0].local_addr()?.port();
        let (shutdown, _) = watch::channel(false);
        Ok(EpmdServer {
            listeners,
            shared: Arc::new(Shared {
                registry: Mutex::new(Registry::default()),
                config,
                port,
                shutdown,
                next_conn: AtomicU64::new(1),
            }),
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// The addresses the server listens on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Serves until a `KILL_REQ` is granted or a [`EpmdHandle`] asks it to stop.
    pub async fn run(self) {
        let shared = self.shared;
        let mut stop = shared.shutdown.subscribe();
        let permits = Arc::new(Semaphore::new(shared.config.max_connections.max(1)));
        let accepters: Vec<JoinHandle<()>> = self
            .listeners
            .into_iter()
            .map(|l| tokio::spawn(accept_loop(l, shared.clone(), permits.clone())))
            .collect();
        info!(port = shared.port, "EPMD listening");
        wait_for_stop(&mut stop).await;
        for a in accepters {
            a.abort();
        }
        info!(port = shared.port, "EPMD stopped");
    }

    /// Runs the server as a task on the current tokio runtime.
    ///
    /// The server stops when the returned handle is dropped or shut down, when it grants a
    /// `KILL_REQ`, or when the runtime ends. Use [`EpmdHandle::detach`] to keep it running
    /// without the handle.
    pub fn spawn(self) -> EpmdHandle {
        let shared = self.shared.clone();
        let addrs = self.local_addrs();
        let join = tokio::spawn(self.run());
        EpmdHandle {
            shared,
            addrs,
            join: Some(join),
            detached: false,
        }
    }
}

/// A running EPMD server task. Dropping the handle stops the server.
#[derive(Debug)]
pub struct EpmdHandle {
    shared: Arc<Shared>,
    addrs: Vec<SocketAddr>,
    join: Option<JoinHandle<()>>,
    detached: bool,
}

impl EpmdHandle {
    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// The addresses the server listens on.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Whether the server has stopped (after a `KILL_REQ`, for example).
    pub fn is_finished(&self) -> bool {
        self.join.as_ref().is_none_or(|j| j.is_finished())
    }

    /// Waits until the server stops by itself, for example after a `KILL_REQ`.
    pub async fn stopped(&mut self) {
        if let Some(j) = self.join.as_mut() {
            let _ = j.await;
            self.join = None;
        }
    }

    /// Stops the server and waits until it has stopped. Registered nodes lose their
    /// registration.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.send_replace(true);
        self.stopped().await;
    }

    /// Lets the server run on without the handle, until the runtime ends or a `KILL_REQ`.
    pub fn detach(mut self) {
        self.detached = true;
    }
}

impl Drop for EpmdHandle {
    fn drop(&mut self) {
        if !self.detached {
            self.shared.shutdown.send_replace(true);
        }
    }
}

#[derive(Debug)]
struct Shared {
    registry: Mutex<Registry>,
    config: EpmdConfig,
    port: u16,
    shutdown: watch::Sender<bool>,
    next_conn: AtomicU64,
}

impl Shared {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock cannot leave the registry inconsistent in a way
        // that matters more than stopping the whole EPMD would, so recover the guard.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug)]
struct Active {
    info: NodeInfo,
    creation: u32,
    conn: u64,
    fd: i32,
    seq: u64,
    stop: Option<oneshot::Sender<()>>,
}

#[derive(Debug)]
struct Old {
    name: String,
    creation: u32,
    port: u16,
    fd: i32,
}

#[derive(Debug, Default)]
struct Registry {
    active: HashMap<String, Active>,
    old: VecDeque<Old>,
    seq: u64,
    last_creation: u32,
}

impl Registry {
    /// Registers a node; `None` when the name is taken.
    fn register(
        &mut self,
        info: NodeInfo,
        conn: u64,
        fd: i32,
        stop: oneshot::Sender<()>,
    ) -> Option<u32> {
        if self.active.contains_key(&info.name) {
            return None;
        }
        let creation = match self.old.iter().position(|o| o.name == info.name) {
            Some(i) => {
                let prev = self.old.remove(i).map_or(0, |o| o.creation);
                usable_creation(prev.wrapping_add(1))
            }
            None => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()) as u32;
                usable_creation(now.wrapping_add(1).max(self.last_creation.wrapping_add(1)))
            }
        };
        self.last_creation = self.last_creation.max(creation);
        self.seq += 1;
        self.active.insert(
            info.name.clone(),
            Active {
                info,
                creation,
                conn,
                fd,
                seq: self.seq,
                stop: Some(stop),
            },
        );
        Some(creation)
    }

    /// Unregisters `name` if connection `conn` owns it.
    fn unregister(&mut self, name: &str, conn: u64) {
        if self.active.get(name).is_some_and(|a| a.conn == conn) {
            if let Some(a) = self.active.remove(name) {
                self.remember(a);
            }
        }
    }

    /// Unregisters `name` whoever owns it, and closes its connection.
    fn stop(&mut self, name: &str) -> bool {
        match self.active.remove(name) {
            Some(mut a) => {
                if let Some(tx) = a.stop.take() {
                    let _ = tx.send(());
                }
                self.remember(a);
                true
            }
            None => false,
        }
    }

    fn remember(&mut self, a: Active) {
        info!(name = %a.info.name, creation = a.creation, port = a.info.port, "unregistered");
        if self.old.len() >= MAX_OLD_NAMES {
            self.old.pop_front();
        }
        self.old.push_back(Old {
            name: a.info.name,
            creation: a.creation,
            port: a.info.port,
            fd: a.fd,
        });
    }

    /// Registered nodes, newest first, as `epmd` lists them.
    fn newest_first(&self) -> Vec<&Active> {
        let mut v: Vec<&Active> = self.active.values().collect();
        v.sort_unstable_by_key(|a| std::cmp::Reverse(a.seq));
        v
    }
}

/// Creations 0 to 3 are not handed out: 0 means "no creation" and 1 to 3 were the 2-bit
/// creations of old nodes.
fn usable_creation(c: u32) -> u32 {
    if c < 4 {
        4
    } else {
        c
    }
}

/// The 16-bit creation of an `ALIVE2_RESP`, as `epmd` derives it.
fn old_creation(c: u32) -> u16 {
    (c % 3 + 1) as u16
}

async fn bind_listeners(config: &EpmdConfig) -> io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    if config.addresses.is_empty() {
        match TcpListener::bind((Ipv6Addr::UNSPECIFIED, config.port)).await {
            Ok(v6) => {
                let port = v6.local_addr()?.port();
                listeners.push(v6);
                // Where IPv6 sockets are dual-stack (Linux's default), `[::]` serves IPv4
                // too and this bind fails. Where they are IPv6-only, IPv4 needs its own.
                if let Ok(v4) = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).await {
                    listeners.push(v4);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Err(e),
            // No IPv6 on this host.
            Err(_) => {
                listeners.push(TcpListener::bind((Ipv4Addr::UNSPECIFIED, config.port)).await?)
            }
        }
        return Ok(listeners);
    }
    let mut addrs: Vec<IpAddr> = Vec::new();
    for a in &config.addresses {
        if !addrs.contains(a) {
            addrs.push(*a);
        }
    }
    if !addrs.iter().any(|a| a.is_loopback()) {
        addrs.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let mut port = config.port;
    for a in addrs {
        let l = TcpListener::bind((a, port)).await?;
        port = l.local_addr()?.port();
        listeners.push(l);
    }
    Ok(listeners)
}

async fn wait_for_stop(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, permits: Arc<Semaphore>) {
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((stream, peer)) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let mut stop = shared.shutdown.subscribe();
                    tokio::select! {
                        _ = serve(&shared, stream, peer) => {}
                        _ = wait_for_stop(&mut stop) => {}
                    }
                    drop(permit);
                });
            }
            Err(e) => {
                // EMFILE, ENFILE, ECONNABORTED...: log and retry shortly, never spin.
                warn!(error = %e, "EPMD accept failed");
                drop(permit);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[derive(Debug)]
enum ReadError {
    Io(io::Error),
    Proto(EpmdError),
}

/// Reads one request. `Ok(None)` when the client closed before sending anything.
async fn read_request(stream: &mut TcpStream) -> Result<Option<Request>, ReadError> {
    let mut header = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        let n = stream
            .read(&mut header[got..])
            .await
            .map_err(ReadError::Io)?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(ReadError::Proto(EpmdError::Truncated("request length")))
            };
        }
        got += n;
    }
    // request_len bounds the length, so this allocation is at most MAX_REQUEST_LEN bytes.
    let len = match request_len(&header) {
        Ok(Some(len)) => len,
        Ok(None) => return Err(ReadError::Proto(EpmdError::Truncated("request length"))),
        Err(e) => return Err(ReadError::Proto(e)),
    };
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await.map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ReadError::Proto(EpmdError::Truncated("request"))
        } else {
            ReadError::Io(e)
        }
    })?;
    Request::decode_body(&body)
        .map(Some)
        .map_err(ReadError::Proto)
}

fn is_local_peer(peer: SocketAddr, local: SocketAddr) -> bool {
    let p = peer.ip().to_canonical();
    p.is_loopback() || p == local.ip().to_canonical()
}

#[cfg(unix)]
fn raw_fd(s: &TcpStream) -> i32 {
    use std::os::fd::AsRawFd;
    s.as_raw_fd()
}

#[cfg(not(unix))]
fn raw_fd(_: &TcpStream) -> i32 {
    -1
}

async fn reply(shared: &Shared, stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    match tokio::time::timeout(shared.config.packet_timeout, stream.write_all(bytes)).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
    }
}

async fn serve(shared: &Shared, mut stream: TcpStream, peer: SocketAddr) {
    let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let local = stream.local_addr().is_ok_and(|l| is_local_peer(peer, l));
    let request =
        match tokio::time::timeout(shared.config.packet_timeout, read_request(&mut stream)).await {
            Err(_) => {
                debug!(%peer, "EPMD: closing, timed out on receive");
                return;
            }
            Ok(Ok(None)) => {
                debug!(%peer, "EPMD: connection closed without a request");
                return;
            }
            Ok(Err(ReadError::Io(e))) => {
                debug!(%peer, error = %e, "EPMD: read failed");
                return;
            }
            Ok(Err(ReadError::Proto(e))) => {
                warn!(%peer, error = %e, "EPMD: bad request, closing connection");
                return;
            }
            Ok(Ok(Some(r))) => r,
        };
    if !local && !matches!(request, Request::PortPlease2 { .. } | Request::Names) {
        warn!(%peer, tag = request.tag(), "EPMD: request refused from a non-local address");
        return;
    }
    let result = match request {
        Request::Alive2(node) => return alive(shared, stream, peer, conn, node).await,
        Request::PortPlease2 { name } => {
            let found = shared.registry().active.get(&name).map(|a| a.info.clone());
            debug!(%peer, %name, found = found.is_some(), "EPMD: PORT_PLEASE2_REQ");
            let resp = match found {
                Some(info) => Port2Resp::Found(info),
                None => Port2Resp::NotFound(RESULT_ERROR),
            };
            reply(shared, &mut stream, &resp.encode()).await
        }
        Request::Names => {
            let bytes = {
                let reg = shared.registry();
                let mut out = NamesResp::encode_header(u32::from(shared.port)).to_vec();
                for a in reg.newest_first() {
                    NamesResp::encode_line(&a.info.name, a.info.port, &mut out);
                }
                out
            };
            reply(shared, &mut stream, &bytes).await
        }
        Request::Dump => {
            let bytes = {
                let reg = shared.registry();
                let mut out = u32::from(shared.port).to_be_bytes().to_vec();
                for a in reg.newest_first() {
                    DumpResp::encode_entry(
                        &DumpEntry {
                            state: DumpState::Active,
                            name: a.info.name.clone(),
                            port: a.info.port,
                            fd: a.fd,
                        },
                        &mut out,
                    );
                }
                for o in &reg.old {
                    DumpResp::encode_entry(
                        &DumpEntry {
                            state: DumpState::Old,
                            name: o.name.clone(),
                            port: o.port,
                            fd: o.fd,
                        },
                        &mut out,
                    );
                }
                out
            };
            reply(shared, &mut stream, &bytes).await
        }
        Request::Kill => {
            let allowed =
                shared.config.relaxed_command_check || shared.registry().active.is_empty();
            if allowed {
                let r = reply(shared, &mut stream, KillResp::Ok.encode()).await;
                let _ = stream.shutdown().await;
                info!(%peer, "EPMD: killed by KILL_REQ");
                shared.shutdown.send_replace(true);
                r
            } else {
                warn!(%peer, "EPMD: KILL_REQ refused, nodes are registered");
                reply(shared, &mut stream, KillResp::No.encode()).await
            }
        }
        Request::Stop { name } => {
            if !shared.config.relaxed_command_check {
                warn!(%peer, "EPMD: STOP_REQ refused without relaxed command check");
                return;
            }
            let resp = if shared.registry().stop(&name) {
                info!(%peer, %name, "EPMD: stopped by STOP_REQ");
                StopResp::Stopped
            } else {
                StopResp::NoExist
            };
            reply(shared, &mut stream, resp.encode()).await
        }
    };
    if let Err(e) = result {
        debug!(%peer, error = %e, "EPMD: reply failed");
    }
}

async fn alive(
    shared: &Shared,
    mut stream: TcpStream,
    peer: SocketAddr,
    conn: u64,
    node: NodeInfo,
) {
    let name = node.name.clone();
    let port = node.port;
    let new_style = node.highest_version >= DIST_VERSION_HIGH;
    let (stop_tx, stop_rx) = oneshot::channel();
    let fd = raw_fd(&stream);
    let creation = shared.registry().register(node, conn, fd, stop_tx);
    let resp = match (creation, new_style) {
        (Some(c), true) => AliveResp::X {
            result: 0,
            creation: c,
        },
        (Some(c), false) => AliveResp::Old {
            result: 0,
            creation: old_creation(c),
        },
        (None, true) => AliveResp::X {
            result: RESULT_ERROR,
            creation: u32::from(REFUSED_CREATION),
        },
        (None, false) => AliveResp::Old {
            result: RESULT_ERROR,
            creation: REFUSED_CREATION,
        },
    };
    let sent = reply(shared, &mut stream, &resp.encode()).await;
    let Some(creation) = creation else {
        warn!(%peer, %name, "EPMD: registration refused, the name is taken");
        return;
    };
    if let Err(e) = sent {
        debug!(%peer, %name, error = %e, "EPMD: could not answer a registration");
        shared.registry().unregister(&name, conn);
        return;
    }
    info!(%peer, %name, port, creation, "registered");
    let mut buf = [0u8; 64];
    tokio::select! {
        r = stream.read(&mut buf) => match r {
            Ok(0) => debug!(%name, "EPMD: registration connection closed"),
            Ok(n) => warn!(%name, bytes = n, "EPMD: got more than expected on a registration connection, unregistering"),
            Err(e) => debug!(%name, error = %e, "EPMD: error on a registration connection"),
        },
        _ = stop_rx => {}
    }
    shared.registry().unregister(&name, conn);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg_one(r: &mut Registry, name: &str, conn: u64) -> Option<u32> {
        let (tx, _rx) = oneshot::channel();
        r.register(NodeInfo::new(name, 1), conn, -1, tx)
    }

    #[test]
    fn creations_change_on_reregistration() {
        let mut r = Registry::default();
        let c1 = reg_one(&mut r, "a", 1).unwrap();
        assert!(c1 >= 4);
        assert_eq!(reg_one(&mut r, "a", 2), None);
        r.unregister("a", 1);
        let c2 = reg_one(&mut r, "a", 3).unwrap();
        assert_eq!(c2, c1 + 1);
        // A fresh name gets a creation above all earlier ones.
        let c3 = reg_one(&mut r, "b", 4).unwrap();
        assert!(c3 > c2);
    }

    #[test]
    fn unregister_needs_the_owner() {
        let mut r = Registry::default();
        reg_one(&mut r, "a", 1).unwrap();
        r.unregister("a", 99);
        assert!(r.active.contains_key("a"));
        assert!(r.stop("a"));
        assert!(!r.stop("a"));
        assert_eq!(r.old.len(), 1);
    }

    #[test]
    fn old_names_are_bounded() {
        let mut r = Registry::default();
        for i in 0..(MAX_OLD_NAMES as u64 + 10) {
            let name = format!("n{i}");
            reg_one(&mut r, &name, i).unwrap();
            r.unregister(&name, i);
        }
        assert_eq!(r.old.len(), MAX_OLD_NAMES);
    }

    #[test]
    fn creation_helpers() {
        assert_eq!(usable_creation(0), 4);
        assert_eq!(usable_creation(3), 4);
        assert_eq!(usable_creation(5), 5);
        // epmd answered a version-5 node registered with creation 0x6b01f422 with 3.
        assert_eq!(old_creation(0x6b01_f422), 3);
    }

    #[test]
    fn local_peers() {
        let l: SocketAddr = "10.0.0.1:4369".parse().unwrap();
        assert!(is_local_peer("127.0.0.5:1".parse().unwrap(), l));
        assert!(is_local_peer("10.0.0.1:1".parse().unwrap(), l));
        assert!(is_local_peer("[::1]:1".parse().unwrap(), l));
        assert!(is_local_peer("[::ffff:127.0.0.1]:1".parse().unwrap(), l));
        assert!(!is_local_peer("10.0.0.2:1".parse().unwrap(), l));
    }
}
