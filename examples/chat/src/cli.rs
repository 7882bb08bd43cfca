//! `ferrobeam chat server` and `ferrobeam chat client`: the command line (also the
//! `ferrobeam-chat` binary of this crate).

use crate::client::{refusal, Client, Outcome, Sink};
use crate::protocol::{ConnectReply, DEFAULT_COOKIE};
use crate::server::{self, ServerOpts};
use ferrobeam::dist::{self, DistConfig, DistError, DistNode, NameKind};
use ferrobeam::epmd::EpmdClient;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// `ferrobeam chat ...`.
#[derive(clap::Subcommand, Debug)]
pub enum ChatCommand {
    /// Run the chat server (a GenServer registered as message_server).
    Server(ServerArgs),
    /// Join a chat server from the terminal (or a pipe).
    Client(ClientArgs),
}

/// Options of both sides.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// The cookie.
    #[arg(long, default_value = DEFAULT_COOKIE)]
    pub cookie: String,
    /// The EPMD port (ERL_EPMD_PORT when set). An EPMD is started when none listens.
    #[arg(
        long,
        env = "ERL_EPMD_PORT",
        default_value_t = 4369,
        hide_env_values = true
    )]
    pub epmd_port: u16,
}

/// Arguments of `ferrobeam chat server`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// The node's short name (`name` or `name@host`), like `erl -sname`.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "server",
        conflicts_with = "name"
    )]
    pub sname: String,
    /// A long name instead (`name@fully.qualified.host` or `name@ip`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Cookie and EPMD.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Arguments of `ferrobeam chat client`.
#[derive(clap::Args, Debug, Clone)]
pub struct ClientArgs {
    /// The server node (default: server@THIS_HOST). Also read from the variable
    /// `server`, as in the seed.
    #[arg(long, env = "server", value_name = "NODE")]
    pub server: Option<String>,
    /// The nick to join as. Also read from the variable `nick`, as in the seed.
    #[arg(long, env = "nick")]
    pub nick: String,
    /// This node's short name (default: the nick).
    #[arg(long, value_name = "NAME", conflicts_with = "name")]
    pub sname: Option<String>,
    /// A long name instead (`name@fully.qualified.host` or `name@ip`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Cookie and EPMD.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs a `ferrobeam chat` command. `Err` is a one-line message for the user.
pub fn run(cmd: ChatCommand) -> Result<ExitCode, String> {
    match cmd {
        ChatCommand::Server(a) => run_server(a),
        ChatCommand::Client(a) => run_client(a),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    ferrobeam::runtime::builder()
        .worker_threads(2)
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn config(name: &str, kind: NameKind, common: &CommonArgs) -> DistConfig {
    DistConfig::new(name, kind)
        .cookie(common.cookie.clone())
        .epmd_port(common.epmd_port)
}

fn println_flush(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Runs `ferrobeam chat server`: until killed (or Ctrl-C).
pub fn run_server(args: ServerArgs) -> Result<ExitCode, String> {
    let (name, kind) = match &args.name {
        Some(n) => (n.clone(), NameKind::Long),
        None => (args.sname.clone(), NameKind::Short),
    };
    let cfg = config(&name, kind, &args.common);
    let rt = runtime()?;
    rt.block_on(async move {
        let dist = dist::start(cfg)
            .await
            .map_err(|e| format!("cannot start the node {name}: {e}"))?;
        let log: server::LogFn = Arc::new(|l: &str| println_flush(l));
        server::start(
            dist.node(),
            ServerOpts {
                dist: Some(dist.clone()),
                log: Some(log),
            },
        )
        .await
        .map_err(|e| format!("cannot start the chat server: {e}"))?;
        let _ = tokio::signal::ctrl_c().await;
        dist.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// True if `s` can be the name part of a node name.
fn valid_alive(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

async fn start_client_node(args: &ClientArgs) -> Result<DistNode, String> {
    let (name, kind, chosen) = match (&args.sname, &args.name) {
        (Some(s), _) => (s.clone(), NameKind::Short, true),
        (None, Some(n)) => (n.clone(), NameKind::Long, true),
        (None, None) if valid_alive(&args.nick) => (args.nick.clone(), NameKind::Short, false),
        (None, None) => ("client".to_string(), NameKind::Short, false),
    };
    match dist::start(config(&name, kind, &args.common)).await {
        Ok(d) => Ok(d),
        // A name we chose ourselves may be taken: add the process id.
        Err(DistError::Register(_)) if !chosen => {
            let name = format!("{name}_{}", std::process::id());
            dist::start(config(&name, kind, &args.common))
                .await
                .map_err(|e| format!("cannot start the node {name}: {e}"))
        }
        Err(e) => Err(format!("cannot start the node {name}: {e}")),
    }
}

/// Says why `server` could not be reached: not registered with its host's EPMD, EPMD
/// unreachable, or (registered) the connection was refused, most likely a wrong cookie.
async fn why_unreachable(server: &str, epmd_port: u16) -> String {
    let Some((alive, host)) = server.split_once('@') else {
        return format!("{server} is not a node name (name@host)");
    };
    let client = EpmdClient::new(epmd_port).with_timeout(Duration::from_secs(3));
    match client.port_please(host, alive).await {
        Ok(Some(_)) => format!(
            "{server} is running but refused the connection (wrong cookie, or short and long names mixed)"
        ),
        Ok(None) => format!("no node named {alive} is running on {host}"),
        Err(e) => format!("cannot reach EPMD on {host} (port {epmd_port}): {e}"),
    }
}

enum Input {
    Line(String),
    Eof,
}

/// Reads lines from a pipe or file, in order; `Eof` at the end.
fn read_piped(tx: mpsc::UnboundedSender<Input>) {
    let stdin = std::io::stdin();
    let mut lock = stdin.lock();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match lock.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches(['\n', '\r']).to_string();
                if tx.send(Input::Line(line)).is_err() {
                    return;
                }
            }
        }
    }
    let _ = tx.send(Input::Eof);
}

/// Reads lines from the terminal with line editing. Stops after `/quit` or at Ctrl-D /
/// Ctrl-C, so that the terminal is out of raw mode when the client exits.
fn read_terminal(
    mut ed: rustyline::DefaultEditor,
    prompt: String,
    tx: mpsc::UnboundedSender<Input>,
) {
    loop {
        match ed.readline(&prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = ed.add_history_entry(line.as_str());
                }
                let quit = line.trim() == "/quit";
                if tx.send(Input::Line(line)).is_err() || quit {
                    return;
                }
            }
            Err(_) => {
                let _ = tx.send(Input::Eof);
                return;
            }
        }
    }
}

/// Runs `ferrobeam chat client`: exit 0 after `/quit` or at the end of the input,
/// `Err` if the server cannot be reached or refuses the nick, or (input piped) when the
/// server goes down.
pub fn run_client(args: ClientArgs) -> Result<ExitCode, String> {
    let nick = args.nick.trim().to_string();
    if nick.is_empty() {
        return Err("the nick is empty (use --nick NICK or the variable nick)".into());
    }
    let rt = runtime()?;
    let code = rt.block_on(client_main(args, nick));
    // The terminal reader has returned; a pipe reader may still block on stdin.
    rt.shutdown_timeout(Duration::from_millis(100));
    code
}

async fn client_main(args: ClientArgs, nick: String) -> Result<ExitCode, String> {
    let dist = start_client_node(&args).await?;
    let server = match &args.server {
        Some(s) => s.trim().to_string(),
        None => match dist.name().as_str().split_once('@') {
            Some((_, host)) => format!("server@{host}"),
            None => "server".to_string(),
        },
    };
    let result = session(&dist, &server, &nick, args.common.epmd_port).await;
    dist.shutdown().await;
    result
}

async fn session(
    dist: &DistNode,
    server: &str,
    nick: &str,
    epmd_port: u16,
) -> Result<ExitCode, String> {
    println_flush(&format!("Connecting to {server} from {} ...", dist.name()));
    if !dist.connect(server).await {
        return Err(format!(
            "could not connect to the chat server: {}",
            why_unreachable(server, epmd_port).await
        ));
    }
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut editor = None;
    let sink: Sink = if terminal {
        match rustyline::DefaultEditor::new() {
            Ok(mut ed) => match ed.create_external_printer() {
                Ok(p) => {
                    editor = Some(ed);
                    let p = Mutex::new(p);
                    Arc::new(move |s: String| {
                        use rustyline::ExternalPrinter;
                        let mut p = p.lock().unwrap_or_else(|e| e.into_inner());
                        if p.print(format!("{s}\n")).is_err() {
                            println_flush(&s);
                        }
                    })
                }
                Err(_) => Arc::new(|s: String| println_flush(&s)),
            },
            Err(_) => Arc::new(|s: String| println_flush(&s)),
        }
    } else {
        Arc::new(|s: String| println_flush(&s))
    };
    let client = Client::start(dist, server, nick, sink.clone())
        .await
        .map_err(|e| e.to_string())?;
    match client.join().await {
        Ok(ConnectReply::Ok(users)) => {
            println_flush("* Joined the chatroom *");
            println_flush(&format!("* Users in the room: {users} *"));
            println_flush("* Type /help for options *");
        }
        Ok(refused) => {
            let why = match refused {
                ConnectReply::NickInUse => format!("the nick {nick} is in use"),
                _ => format!("the nick {nick} is not allowed"),
            };
            client.stop();
            return Err(format!(
                "could not join the chatroom: {} ({why})",
                refusal(&refused)
            ));
        }
        Err(e) => {
            client.stop();
            return Err(format!("could not join the chatroom: {}", e.kind()));
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let piped = editor.is_none();
    match editor {
        Some(ed) => {
            let prompt = format!("{}> ", dist.name());
            std::thread::spawn(move || read_terminal(ed, prompt, tx));
        }
        None => {
            std::thread::spawn(move || read_piped(tx));
        }
    }
    let code = loop {
        tokio::select! {
            input = rx.recv() => match input {
                Some(Input::Line(line)) => {
                    if client.command(&line).await == Outcome::Quit {
                        break Ok(ExitCode::SUCCESS);
                    }
                }
                Some(Input::Eof) | None => {
                    let _ = client.leave().await;
                    break Ok(ExitCode::SUCCESS);
                }
            },
            _ = client.server_down(), if piped => {
                break Err(format!("lost the connection to the chat server {server}"));
            }
        }
    };
    client.stop();
    code
}
