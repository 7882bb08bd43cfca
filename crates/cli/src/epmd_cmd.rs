//! `ferrobeam epmd` and `ferrobeam names`.
//!
//! `ferrobeam epmd` runs ferrobeam's EPMD server ([`ferrobeam::epmd::EpmdServer`]), a
//! drop-in for OTP's `epmd`: real `erl` nodes register with it, and `epmd -names` and
//! `net_adm:names/0` read it. `ferrobeam names` lists what an EPMD (ferrobeam's or OTP's)
//! has registered, in `epmd -names`'s format.

use std::ffi::OsString;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use ferrobeam::epmd::server::{DEFAULT_MAX_CONNECTIONS, DEFAULT_PACKET_TIMEOUT};
use ferrobeam::epmd::{EpmdClient, EpmdConfig, EpmdServer};

/// Arguments of `ferrobeam epmd`.
#[derive(clap::Args, Debug)]
pub struct EpmdArgs {
    /// The port to listen on [default: ERL_EPMD_PORT, else 4369].
    #[arg(
        long,
        env = "ERL_EPMD_PORT",
        default_value_t = 4369,
        hide_env_values = true
    )]
    pub port: u16,
    /// Listen only on these addresses (comma-separated), plus loopback, like
    /// `epmd -address`. By default EPMD listens on all interfaces.
    #[arg(long, value_name = "LIST")]
    pub address: Option<String>,
    /// Detach from the terminal and run in the background. Returns once the background
    /// EPMD listens (or when another EPMD already has the port).
    #[arg(long)]
    pub daemon: bool,
    /// Allow `KILL_REQ` while nodes are registered, and `STOP_REQ` (forced unregistering),
    /// like `epmd -relaxed_command_check`. Both are only accepted from this host.
    #[arg(long)]
    pub relaxed_command_check: bool,
    /// Seconds a client may take to send its request before it is disconnected.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_PACKET_TIMEOUT.as_secs())]
    pub packet_timeout: u64,
    /// The most connections open at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// The detached process of `--daemon` (internal).
    #[arg(long, hide = true)]
    pub daemon_child: bool,
}

/// Arguments of `ferrobeam names`.
#[derive(clap::Args, Debug)]
pub struct NamesArgs {
    /// The host whose EPMD to ask.
    #[arg(long, default_value = "localhost")]
    pub host: String,
    /// The EPMD port [default: ERL_EPMD_PORT, else 4369].
    #[arg(
        long,
        env = "ERL_EPMD_PORT",
        default_value_t = 4369,
        hide_env_values = true
    )]
    pub port: u16,
}

/// Runs `ferrobeam epmd`: serves until killed (`KILL_REQ`, SIGINT or SIGTERM).
///
/// Like `epmd`, finding the port taken by another EPMD is not an error: the command exits
/// with success.
pub fn run_epmd(args: EpmdArgs) -> Result<ExitCode, String> {
    let addresses = parse_addresses(args.address.as_deref().unwrap_or(""))?;
    if args.daemon && !args.daemon_child {
        return daemonize(&args);
    }
    let config = EpmdConfig {
        port: args.port,
        addresses,
        relaxed_command_check: args.relaxed_command_check,
        packet_timeout: Duration::from_secs(args.packet_timeout.max(1)),
        max_connections: args.max_connections.max(1),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(serve(config, args.daemon_child))
}

async fn serve(config: EpmdConfig, detached: bool) -> Result<ExitCode, String> {
    let port = config.port;
    let server = match EpmdServer::bind(config).await {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            if !detached {
                eprintln!("ferrobeam epmd: there is already an EPMD running at port {port}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(format!("cannot listen on port {port}: {e}")),
    };
    // Installing a SIGHUP handler is what matters: a detached EPMD must survive the hangup
    // of the terminal it was started from.
    #[cfg(unix)]
    let (hangup, mut terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        let hangup = if detached {
            signal(SignalKind::hangup()).ok()
        } else {
            None
        };
        (hangup, signal(SignalKind::terminate()).ok())
    };
    #[cfg(not(unix))]
    let (hangup, mut terminate): (Option<()>, Option<()>) = (None, None);
    let mut handle = server.spawn();
    tokio::select! {
        _ = handle.stopped() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = next_signal(&mut terminate) => {}
    }
    drop(hangup);
    handle.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

#[cfg(unix)]
async fn next_signal(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn next_signal(_: &mut Option<()>) {
    std::future::pending().await
}

/// `--daemon`: starts a detached copy of this command and waits until it listens.
fn daemonize(args: &EpmdArgs) -> Result<ExitCode, String> {
    if args.port == 0 {
        return Err("--daemon needs a fixed --port".into());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut child_args: Vec<OsString> = vec![
        "epmd".into(),
        "--daemon-child".into(),
        "--port".into(),
        args.port.to_string().into(),
        "--packet-timeout".into(),
        args.packet_timeout.to_string().into(),
        "--max-connections".into(),
        args.max_connections.to_string().into(),
    ];
    if let Some(a) = &args.address {
        child_args.push("--address".into());
        child_args.push(a.into());
    }
    if args.relaxed_command_check {
        child_args.push("--relaxed-command-check".into());
    }
    let mut cmd = Command::new(exe);
    cmd.args(child_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir("/");
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start the EPMD daemon: {e}"))?;
    // EPMD always listens on a loopback address (see EpmdConfig::addresses).
    let probes = [
        SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, args.port)),
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(ExitCode::SUCCESS),
            Ok(Some(status)) => return Err(format!("the EPMD daemon exited with {status}")),
            Ok(None) => {}
            Err(e) => return Err(format!("cannot watch the EPMD daemon: {e}")),
        }
        if probes
            .iter()
            .any(|p| TcpStream::connect_timeout(p, Duration::from_millis(200)).is_ok())
        {
            return Ok(ExitCode::SUCCESS);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the EPMD daemon did not start listening".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Parses `epmd -address`'s list: addresses separated by commas or spaces.
fn parse_addresses(list: &str) -> Result<Vec<IpAddr>, String> {
    list.split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpAddr>()
                .map_err(|_| format!("cannot parse IP address {s:?}"))
        })
        .collect()
}

/// Runs `ferrobeam names`: prints the registered names like `epmd -names`.
pub fn run_names(args: NamesArgs) -> Result<ExitCode, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let resp = runtime
        .block_on(EpmdClient::new(args.port).names(&args.host))
        .map_err(|e| {
            format!(
                "cannot list the names of EPMD at {}:{}: {e}",
                args.host, args.port
            )
        })?;
    let mut out = format!(
        "epmd: up and running on port {} with data:\n",
        resp.epmd_port
    );
    for n in &resp.nodes {
        out.push_str(&format!("name {} at port {}\n", n.name, n.port));
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .map_err(|e| format!("cannot write the names: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lists() {
        assert_eq!(parse_addresses("").unwrap(), Vec::<IpAddr>::new());
        assert_eq!(
            parse_addresses("127.0.0.1, ::1,10.0.0.1").unwrap(),
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap(),
                "10.0.0.1".parse().unwrap()
            ]
        );
        assert!(parse_addresses("nope").is_err());
    }
}
