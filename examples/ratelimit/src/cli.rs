//! `ferrobeam ratelimit`: a rate limiter node serving HTTP (also the
//! `ferrobeam-ratelimit` binary of this crate).

use crate::limiter::{RateLimiter, Settings, DEFAULT_LIMIT, DEFAULT_WINDOW_MS};
use crate::ring::DEFAULT_POINTS;
use ferrobeam::dist::{self, DistConfig, DistNode, NameKind};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `ferrobeam ratelimit`.
#[derive(clap::Args, Debug, Clone)]
pub struct RateLimitArgs {
    /// This node's short name (`name` or `name@host`), like `erl -sname`.
    #[arg(
        long,
        value_name = "NAME",
        required_unless_present = "name",
        conflicts_with = "name"
    )]
    pub sname: Option<String>,
    /// A long name instead (`name@fully.qualified.host` or `name@ip`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The cookie (default: the content of ~/.erlang.cookie, created if missing).
    #[arg(long)]
    pub cookie: Option<String>,
    /// The EPMD port (ERL_EPMD_PORT when set). An EPMD is started when none listens.
    #[arg(
        long,
        env = "ERL_EPMD_PORT",
        default_value_t = 4369,
        hide_env_values = true
    )]
    pub epmd_port: u16,
    /// The HTTP address to serve on, e.g. 127.0.0.1:8080 (port 0: any free port; the
    /// address is printed).
    #[arg(long, value_name = "ADDR")]
    pub http: std::net::SocketAddr,
    /// Nodes to connect to at start (retried until they answer): `--connect a@h b@h`
    /// or `--connect a@h --connect b@h`.
    #[arg(long, value_name = "NODE", num_args = 1..)]
    pub connect: Vec<String>,
    /// Requests allowed per key and window.
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    pub limit: u64,
    /// The window, in milliseconds (a fixed window, as Hammer's).
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_WINDOW_MS)]
    pub window_ms: u64,
    /// Points per node on the hash ring.
    #[arg(long, default_value_t = DEFAULT_POINTS)]
    pub points: usize,
    /// How long to wait for the key's owner before checking locally, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub call_timeout_ms: u64,
    /// Seconds of silence after which a peer is disconnected (`net_ticktime`).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub net_ticktime: f64,
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Connects to `node`, retrying every second until it answers (for nodes started at the
/// same time, in any order).
async fn keep_connecting(dist: DistNode, node: String) {
    let mut delay = Duration::from_millis(100);
    loop {
        if dist.connect(&node).await {
            return;
        }
        tracing::debug!(%node, "not connected yet; retrying");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

/// Runs `ferrobeam ratelimit` until killed (or Ctrl-C).
pub fn run(args: RateLimitArgs) -> Result<ExitCode, String> {
    let (name, kind) = match (&args.sname, &args.name) {
        (Some(s), _) => (s.clone(), NameKind::Short),
        (None, Some(n)) => (n.clone(), NameKind::Long),
        (None, None) => return Err("a node name is needed: --sname NAME or --name NAME".into()),
    };
    if args.limit == 0 || args.window_ms == 0 {
        return Err("--limit and --window-ms must be at least 1".into());
    }
    let mut cfg = DistConfig::new(name.clone(), kind).epmd_port(args.epmd_port);
    cfg.cookie = args.cookie.clone();
    if args.net_ticktime.is_finite() && args.net_ticktime > 0.0 {
        cfg.net_ticktime = Duration::from_secs_f64(args.net_ticktime.max(0.1));
    }
    let settings = Settings {
        limit: args.limit,
        window_ms: args.window_ms,
        points: args.points.max(1),
        call_timeout: Duration::from_millis(args.call_timeout_ms.max(1)),
    };
    let rt = ferrobeam::runtime::builder()
        .worker_threads(2)
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.http)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.http))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot listen on {}: {e}", args.http))?;
        let dist = dist::start(cfg)
            .await
            .map_err(|e| format!("cannot start the node {name}: {e}"))?;
        let limiter = RateLimiter::start(&dist, settings, Some(Arc::new(|l: &str| say(l))))
            .await
            .map_err(|e| format!("cannot start the rate limiter: {e}"))?;
        say(&format!(
            "rate limiter node {} serving http://{addr} (limit {} per {} ms)",
            dist.name(),
            settings.limit,
            settings.window_ms
        ));
        for node in args.connect {
            tokio::spawn(keep_connecting(dist.clone(), node));
        }
        tokio::select! {
            _ = crate::http::serve(listener, limiter) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        dist.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
