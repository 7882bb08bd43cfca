//! `ferrobeam taskchat`: a node of seed 002's chat (also the `ferrobeam-taskchat`
//! binary of this crate). Each input line `NODE MESSAGE` runs
//! `send_message(NODE, MESSAGE)` and prints its result (`:ok`, as iex would); messages
//! other nodes send here are printed as they come.

use crate::Output;
use ferrobeam::dist::{self, DistConfig, DistNode, NameKind};
use ferrobeam::Term;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Arguments of `ferrobeam taskchat`.
#[derive(clap::Args, Debug, Clone)]
pub struct TaskChatArgs {
    /// This node's short name (`name` or `name@host`), like `erl -sname`. Name it
    /// `moebi` to be Moebi.
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
    /// Exit at the end of the input (by default the node keeps running, to receive).
    #[arg(long)]
    pub exit_on_eof: bool,
}

fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Parses `NODE MESSAGE`. A node name without a host gets this node's host.
pub fn parse_line(line: &str, own: &str) -> Option<(String, String)> {
    let line = line.trim();
    let (node, msg) = line.split_once(char::is_whitespace)?;
    let msg = msg.trim();
    if msg.is_empty() {
        return None;
    }
    let node = if node.contains('@') {
        node.to_string()
    } else {
        let host = own.split_once('@').map(|(_, h)| h).unwrap_or("localhost");
        format!("{node}@{host}")
    };
    Some((node, msg.to_string()))
}

enum Input {
    Line(String),
    Eof,
}

/// Runs `ferrobeam taskchat`.
pub fn run(args: TaskChatArgs) -> Result<ExitCode, String> {
    let (name, kind) = match (&args.sname, &args.name) {
        (Some(s), _) => (s.clone(), NameKind::Short),
        (None, Some(n)) => (n.clone(), NameKind::Long),
        (None, None) => return Err("a node name is needed: --sname NAME or --name NAME".into()),
    };
    let mut cfg = DistConfig::new(name.clone(), kind).epmd_port(args.epmd_port);
    cfg.cookie = args.cookie.clone();
    let rt = ferrobeam::runtime::builder()
        .worker_threads(2)
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let code = rt.block_on(async move {
        let dist = dist::start(cfg)
            .await
            .map_err(|e| format!("cannot start the node {name}: {e}"))?;
        let r = node_main(&dist, args.exit_on_eof).await;
        dist.shutdown().await;
        r
    });
    rt.shutdown_timeout(Duration::from_millis(100));
    code
}

async fn node_main(dist: &DistNode, exit_on_eof: bool) -> Result<ExitCode, String> {
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut editor = None;
    let print: Arc<dyn Fn(&str) + Send + Sync> = match terminal
        .then(rustyline::DefaultEditor::new)
        .and_then(Result::ok)
    {
        Some(mut ed) => match ed.create_external_printer() {
            Ok(p) => {
                editor = Some(ed);
                let p = Mutex::new(p);
                Arc::new(move |s: &str| {
                    use rustyline::ExternalPrinter;
                    let mut p = p.lock().unwrap_or_else(|e| e.into_inner());
                    if p.print(format!("{s}\n")).is_err() {
                        print_line(s);
                    }
                })
            }
            Err(_) => Arc::new(print_line),
        },
        None => Arc::new(print_line),
    };
    let out: Output = {
        let print = print.clone();
        Arc::new(move |text: &str| print(text.strip_suffix('\n').unwrap_or(text)))
    };
    crate::start(dist, out)
        .await
        .map_err(|e| format!("cannot start Chat.TaskSupervisor: {e}"))?;
    print(&format!("chat node started on {}", dist.name()));

    let (tx, mut rx) = mpsc::unbounded_channel();
    match editor {
        Some(mut ed) => {
            let prompt = format!("{}> ", dist.name());
            std::thread::spawn(move || loop {
                match ed.readline(&prompt) {
                    Ok(line) => {
                        if !line.trim().is_empty() {
                            let _ = ed.add_history_entry(line.as_str());
                        }
                        if tx.send(Input::Line(line)).is_err() {
                            return;
                        }
                    }
                    // Ctrl-C / Ctrl-D leave.
                    Err(_) => {
                        let _ = tx.send(Input::Eof);
                        return;
                    }
                }
            });
        }
        None => {
            std::thread::spawn(move || {
                let stdin = std::io::stdin();
                let mut lock = stdin.lock();
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match lock.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            let l = String::from_utf8_lossy(&buf).trim_end().to_string();
                            if tx.send(Input::Line(l)).is_err() {
                                return;
                            }
                        }
                    }
                }
                let _ = tx.send(Input::Eof);
            });
        }
    }
    let own = dist.name().to_string();
    let stay = !exit_on_eof && !terminal;
    let session = dist
        .node()
        .run(move |ctx| async move {
            // A failing task is linked to this process: trap, report, go on.
            ctx.trap_exit(true);
            while let Some(input) = rx.recv().await {
                let Input::Line(line) = input else { break };
                if line.trim().is_empty() {
                    continue;
                }
                match parse_line(&line, &own) {
                    Some((node, msg)) => {
                        match crate::send_message(&ctx, &node, &msg).await {
                            Ok(v) => print(&show(&v)),
                            Err(e) => print(&format!("** (exit) {e}")),
                        }
                        ctx.flush();
                    }
                    None => print("usage: NODE MESSAGE (e.g. kate hi)"),
                }
            }
        })
        .await;
    if session.is_err() {
        return Err("the input process ended".into());
    }
    if stay {
        // Like an idle iex session: the node keeps serving other nodes.
        let _ = tokio::signal::ctrl_c().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// A value as iex shows a few common ones: `:ok`, atoms with a colon.
fn show(t: &Term) -> String {
    match t {
        Term::Atom(a) => format!(":{a}"),
        other => other.to_string(),
    }
}
