//! EPMD, the Erlang Port Mapper Daemon: both sides of the protocol.
//!
//! Distributed nodes find each other through EPMD, a small TCP server on every host (port
//! 4369, or the port in `ERL_EPMD_PORT`). A node registers its name and distribution port
//! with the EPMD of its own host and keeps that connection open for as long as it lives; a
//! node that wants to connect to `name@host` asks the EPMD on `host` for the port of `name`.
//!
//! - [`EpmdServer`]: an EPMD that real `erl` nodes and ferrobeam nodes register with. It is
//!   what `ferrobeam epmd` runs. See [`server`] for the details it shares with OTP's `epmd`.
//! - [`EpmdClient`]: register a node ([`Registration`]), look up `name@host`
//!   ([`EpmdClient::port_please`]), list names ([`names`]). It works against OTP's `epmd`
//!   as well.
//! - [`ensure_running`]: start an EPMD when none is listening, as `erl` does.
//!
//! The bytes on the wire are encoded and decoded by the sans-IO codecs of
//! [`ferrobeam_proto::epmd`].
//!
//! # The EPMD that outlives its node
//!
//! `erl -sname x` runs `epmd -daemon` before it registers: if no EPMD listens yet, one
//! starts in the background and keeps running after `x` exits, so that nodes started later
//! (or still running) are found by name. ferrobeam does the same through
//! [`ensure_running`]:
//!
//! 1. If something accepts connections on `127.0.0.1:<port>`, an EPMD is there; nothing is
//!    started ([`Started::AlreadyRunning`]).
//! 2. Otherwise, if a `ferrobeam` binary is available, it runs
//!    `ferrobeam epmd --daemon --port <port>` in its own process group, with its standard
//!    input and output on `/dev/null` and `/` as its working directory. `--daemon` starts a
//!    second, detached copy of the EPMD and exits as soon as that copy listens; the copy is
//!    adopted by init and lives on when the node (and whoever started it) exits, until it is
//!    killed or sent a granted `KILL_REQ` ([`Started::Daemon`]). The binary is, in this
//!    order: the current executable when it is named `ferrobeam` (the CLI itself), the path
//!    in the environment variable `FERROBEAM_BIN` (see [`BINARY_ENV`]), or `ferrobeam` on
//!    the `PATH`.
//! 3. Otherwise (no binary, or it failed), the EPMD runs as a task inside the current
//!    process ([`Started::InProcess`]). **That EPMD dies with the process**, and with it
//!    every registration on it, including other nodes' registrations: keep the returned
//!    [`EpmdHandle`] for the life of the node, and prefer installing the `ferrobeam` binary
//!    (or setting `FERROBEAM_BIN`) for programs that use ferrobeam as a library, so that
//!    step 2 applies.
//!
//! Two nodes that start at the same moment may both find no EPMD. Only one EPMD can bind
//! the port; the other one gets "address in use", which `ferrobeam epmd` (like `epmd`)
//! treats as success because an EPMD is running, and `ensure_running` then returns
//! [`Started::AlreadyRunning`] or [`Started::Daemon`]. In every case, when it returns `Ok`
//! an EPMD accepted a connection on the port.
//!
//! A program that uses ferrobeam as a library without the binary can also run
//! `ferrobeam epmd --daemon` itself at boot (or use the system's `epmd`, which ferrobeam
//! nodes use just as well), or embed an [`EpmdServer`] in a long-running process of its own.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ferrobeam::epmd::{ensure_running, port_from_env, EpmdClient, Started, NODE_TYPE_NORMAL};
//!
//! let port = port_from_env();
//! let started = ensure_running(port).await?;
//! // Keep `started` alive: if it is Started::InProcess, it owns the EPMD.
//! let registration = EpmdClient::new(port).register("chat", 40001, NODE_TYPE_NORMAL).await?;
//! # drop((started, registration));
//! # Ok(()) }
//! ```

pub mod client;
pub mod server;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tracing::{debug, warn};

pub use client::{names, split_node_name, ClientError, EpmdClient, Registration};
pub use ferrobeam_proto::epmd::{
    NameEntry, NamesResp, NodeInfo, DEFAULT_PORT, NODE_TYPE_HIDDEN, NODE_TYPE_NORMAL,
};
pub use server::{EpmdConfig, EpmdHandle, EpmdServer};

/// The environment variable that names EPMD's port, as for `erl` and `epmd`.
pub const PORT_ENV: &str = "ERL_EPMD_PORT";
/// The environment variable with the path of the `ferrobeam` binary that
/// [`ensure_running`] starts the EPMD daemon with.
pub const BINARY_ENV: &str = "FERROBEAM_BIN";

/// The EPMD port: `ERL_EPMD_PORT` when it holds a port number, else 4369.
pub fn port_from_env() -> u16 {
    match std::env::var(PORT_ENV) {
        Ok(v) => match v.trim().parse::<u16>() {
            Ok(p) if p != 0 => p,
            _ => {
                warn!(value = %v, "ignoring an invalid ERL_EPMD_PORT");
                DEFAULT_PORT
            }
        },
        Err(_) => DEFAULT_PORT,
    }
}

/// How [`ensure_running`] found or started the EPMD.
#[derive(Debug)]
pub enum Started {
    /// An EPMD was already listening.
    AlreadyRunning,
    /// `ferrobeam epmd --daemon` was run: an EPMD now runs in its own process and outlives
    /// this one.
    Daemon {
        /// The binary that was run.
        binary: PathBuf,
    },
    /// The EPMD runs inside this process and stops with it, or when the handle is dropped.
    InProcess(EpmdHandle),
}

/// Where [`ensure_running_with`] gets the `ferrobeam` binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinarySource {
    /// [`find_ferrobeam_binary`].
    Auto,
    /// This file.
    Path(PathBuf),
    /// Never start a daemon.
    None,
}

/// Options of [`ensure_running_with`].
#[derive(Debug, Clone)]
pub struct EnsureOptions {
    /// The EPMD port.
    pub port: u16,
    /// Where the daemon's binary comes from.
    pub binary: BinarySource,
    /// Whether to run an in-process EPMD when no daemon could be started.
    pub in_process_fallback: bool,
    /// How long to wait for a daemon to listen.
    pub timeout: Duration,
}

impl EnsureOptions {
    /// The defaults: find the binary, fall back to an in-process EPMD, wait up to 10 s.
    pub fn new(port: u16) -> Self {
        EnsureOptions {
            port,
            binary: BinarySource::Auto,
            in_process_fallback: true,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Makes sure an EPMD listens on `port` of this host, starting one that outlives this
/// process when none does. See [the module documentation](self#the-epmd-that-outlives-its-node).
pub async fn ensure_running(port: u16) -> io::Result<Started> {
    ensure_running_with(&EnsureOptions::new(port)).await
}

/// [`ensure_running`] with options.
pub async fn ensure_running_with(opts: &EnsureOptions) -> io::Result<Started> {
    if accepts(opts.port).await {
        return Ok(Started::AlreadyRunning);
    }
    let binary = match &opts.binary {
        BinarySource::Auto => find_ferrobeam_binary(),
        BinarySource::Path(p) => Some(p.clone()),
        BinarySource::None => None,
    };
    if let Some(binary) = binary {
        match start_daemon(&binary, opts.port, opts.timeout).await {
            Ok(()) if wait_until_accepts(opts.port, opts.timeout).await => {
                return Ok(Started::Daemon { binary });
            }
            Ok(()) => {
                warn!(binary = %binary.display(), "the EPMD daemon does not accept connections")
            }
            Err(e) => {
                warn!(binary = %binary.display(), error = %e, "could not start the EPMD daemon")
            }
        }
        if accepts(opts.port).await {
            return Ok(Started::AlreadyRunning);
        }
    }
    if !opts.in_process_fallback {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no EPMD is running and none could be started",
        ));
    }
    match EpmdServer::bind(EpmdConfig::new(opts.port)).await {
        Ok(server) => {
            debug!(port = opts.port, "running an in-process EPMD");
            Ok(Started::InProcess(server.spawn()))
        }
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            // Someone else started one in the meantime.
            if wait_until_accepts(opts.port, Duration::from_secs(2)).await {
                Ok(Started::AlreadyRunning)
            } else {
                Err(e)
            }
        }
        Err(e) => Err(e),
    }
}

/// The `ferrobeam` binary to start an EPMD daemon with: the current executable when it is
/// named `ferrobeam`, else the file in `FERROBEAM_BIN`, else `ferrobeam` on the `PATH`.
pub fn find_ferrobeam_binary() -> Option<PathBuf> {
    if let Ok(exe) = std::env::current_exe() {
        if exe.file_stem().is_some_and(|s| s == "ferrobeam") && exe.is_file() {
            return Some(exe);
        }
    }
    if let Some(p) = std::env::var_os(BINARY_ENV) {
        let p = PathBuf::from(p);
        if is_executable(&p) {
            return Some(p);
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("ferrobeam"))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// Runs `binary epmd --daemon --port <port>` detached and waits for it to report.
async fn start_daemon(binary: &Path, port: u16, timeout: Duration) -> io::Result<()> {
    let mut cmd = tokio::process::Command::new(binary);
    cmd.arg("epmd")
        .arg("--daemon")
        .arg("--port")
        .arg(port.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .current_dir("/")
        .kill_on_drop(false);
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd.spawn()?;
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(io::Error::other(format!(
            "`ferrobeam epmd --daemon` exited with {status}"
        ))),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "`ferrobeam epmd --daemon` did not report",
            ))
        }
    }
}

/// Whether something accepts connections on `127.0.0.1:port`.
pub async fn accepts(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    matches!(
        tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

async fn wait_until_accepts(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if accepts(port).await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
