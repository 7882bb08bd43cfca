//! `ferrobeam ping` and `ferrobeam shell`: a distributed node on the command line.
//!
//! `ferrobeam ping NODE` prints `pong` and exits 0, or prints `pang` and exits 1.
//!
//! `ferrobeam shell --sname dale --cookie c` starts a node and gives a prompt
//! (`dale@host> `) whose commands act as one process of that node: it can register
//! itself, send, receive and flush its messages, connect, ping and list nodes, link,
//! monitor and send exit signals, spawn processes on other nodes, and call and cast to
//! GenServers. Terms are written and printed in Erlang syntax; pids of other nodes print
//! as `<N.Id.Serial>` with `N` a number the shell gives each node (0 is the shell's
//! own), and can be typed back the same way. Commands are read from a terminal (with
//! line editing) or from a pipe, so that scripts and tests can drive the shell.
//!
//! The shell's node has a few demo functions registered, so that other nodes (ferrobeam
//! shells, `erl`, `iex`) can spawn them and see their output come back through the
//! group leader: `demo:hello()`, `demo:print(Text)`, `demo:echo(To, Msg)`, `demo:wait()`
//! (exits with the first message it gets), `demo:add(A, B)` and `demo:sleep(Ms)`.

use ferrobeam::dist::{
    self, DistConfig, DistNode, MonitorNodesOptions, NameKind, NodeKind, NodeName, NodeTypeFilter,
    Ping,
};
use ferrobeam::gen_server::{self, ServerRef, Timeout};
use ferrobeam::{io, Atom, Ctx, Dest, Pid, Ref, Term};
use ferrobeam_term::TermMap;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::mpsc;

/// Options shared by the node commands.
#[derive(clap::Args, Debug, Clone)]
pub struct NodeOpts {
    /// This node's short name (`name` or `name@host`), like `erl -sname`.
    #[arg(long, value_name = "NAME", conflicts_with = "name")]
    pub sname: Option<String>,
    /// This node's long name (`name@fully.qualified.host` or `name@ip`), like
    /// `erl -name`.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The cookie [default: the content of ~/.erlang.cookie, created if missing].
    #[arg(long)]
    pub cookie: Option<String>,
    /// Start a hidden node: its connections are hidden and it takes no part in the
    /// mesh.
    #[arg(long)]
    pub hidden: bool,
    /// The EPMD port [default: ERL_EPMD_PORT, else 4369]. An EPMD is started when none
    /// listens.
    #[arg(
        long,
        env = "ERL_EPMD_PORT",
        default_value_t = 4369,
        hide_env_values = true
    )]
    pub epmd_port: u16,
    /// Lowest port to listen on for distribution (like `inet_dist_listen_min`).
    #[arg(long, value_name = "PORT")]
    pub listen_min: Option<u16>,
    /// Highest port to listen on for distribution (like `inet_dist_listen_max`).
    #[arg(long, value_name = "PORT")]
    pub listen_max: Option<u16>,
    /// Seconds of silence after which a peer is disconnected (`net_ticktime`).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub net_ticktime: f64,
}

/// Arguments of `ferrobeam ping`.
#[derive(clap::Args, Debug)]
pub struct PingArgs {
    /// The node to ping, `name@host`.
    pub node: String,
    #[command(flatten)]
    pub opts: NodeOpts,
}

/// Arguments of `ferrobeam shell`.
#[derive(clap::Args, Debug)]
pub struct ShellArgs {
    #[command(flatten)]
    pub opts: NodeOpts,
}

fn config(opts: &NodeOpts, default_name: impl FnOnce() -> (String, NameKind)) -> DistConfig {
    let (name, kind) = match (&opts.sname, &opts.name) {
        (Some(s), _) => (s.clone(), NameKind::Short),
        (None, Some(n)) => (n.clone(), NameKind::Long),
        (None, None) => default_name(),
    };
    let mut cfg = DistConfig::new(name, kind)
        .hidden(opts.hidden)
        .epmd_port(opts.epmd_port);
    cfg.cookie = opts.cookie.clone();
    if opts.net_ticktime.is_finite() && opts.net_ticktime > 0.0 {
        cfg.net_ticktime = Duration::from_secs_f64(opts.net_ticktime.max(0.1));
    }
    match (opts.listen_min, opts.listen_max) {
        (Some(lo), Some(hi)) => cfg.listen_port_range = Some(lo..=hi.max(lo)),
        (Some(lo), None) => cfg.listen_port_range = Some(lo..=lo),
        (None, Some(hi)) => cfg.listen_port_range = Some(1024..=hi),
        (None, None) => {}
    }
    cfg
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    ferrobeam::runtime::builder()
        .worker_threads(2)
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// Runs `ferrobeam ping`.
pub fn run_ping(args: PingArgs) -> Result<ExitCode, String> {
    let kind = NodeName::kind_of(&args.node);
    let cfg = config(&args.opts, || (format!("ping{}", std::process::id()), kind));
    let rt = runtime()?;
    rt.block_on(async move {
        let node = dist::start(cfg).await.map_err(|e| e.to_string())?;
        let r = node.ping(&args.node).await;
        node.shutdown().await;
        println!("{r}");
        Ok(if r == Ping::Pong {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

/// Runs `ferrobeam shell`.
pub fn run_shell(args: ShellArgs) -> Result<ExitCode, String> {
    let cfg = config(&args.opts, || {
        (format!("shell{}", std::process::id()), NameKind::Short)
    });
    let rt = runtime()?;
    let code = rt.block_on(async move {
        let node = dist::start(cfg).await.map_err(|e| e.to_string())?;
        register_demo_functions(node.node());
        let (tx, rx) = mpsc::unbounded_channel::<String>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<bool>();
        let prompt = format!("{}> ", node.name());
        std::thread::spawn(move || read_lines(prompt, tx, done_rx));
        let d = node.clone();
        let result = node
            .node()
            .run(move |ctx| async move { Shell::new(d, ctx).run(rx, done_tx).await })
            .await;
        node.shutdown().await;
        match result {
            Ok(()) => Ok::<_, String>(ExitCode::SUCCESS),
            Err(reason) => Err(format!("the shell process exited: {reason}")),
        }
    })?;
    // The line reader may be blocked on the terminal; do not wait for it.
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(code)
}

/// Reads command lines from the terminal (with editing) or from a pipe, one at a time:
/// the next line is read once the previous command is done (`done`), so that output
/// and prompts stay in order.
fn read_lines(
    prompt: String,
    tx: mpsc::UnboundedSender<String>,
    done: std::sync::mpsc::Receiver<bool>,
) {
    let next = |line: String| -> bool {
        if tx.send(line).is_err() {
            return false;
        }
        matches!(done.recv(), Ok(true))
    };
    if std::io::stdin().is_terminal() {
        if let Ok(mut ed) = rustyline::DefaultEditor::new() {
            loop {
                match ed.readline(&prompt) {
                    Ok(line) => {
                        if !line.trim().is_empty() {
                            let _ = ed.add_history_entry(line.as_str());
                        }
                        if !next(line) {
                            return;
                        }
                    }
                    // Ctrl-C or Ctrl-D at the prompt leaves the shell.
                    Err(_) => return,
                }
            }
        }
    }
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { return };
        if !next(line) {
            return;
        }
    }
}

/// The demo functions other nodes can spawn here (see the module documentation).
fn register_demo_functions(node: &ferrobeam::Node) {
    node.register_fn("demo", "hello", |ctx: Ctx, _args: Vec<Term>| async move {
        ctx.println(&format!("hello from {}", ctx.node().name()))
            .await
    });
    node.register_fn("demo", "print", |ctx: Ctx, args: Vec<Term>| async move {
        let text = match args.first() {
            Some(t) => io::chardata(t, true).unwrap_or_else(|| t.to_string()),
            None => String::new(),
        };
        ctx.println(&text).await
    });
    node.register_fn("demo", "echo", |ctx: Ctx, args: Vec<Term>| async move {
        match args.as_slice() {
            [to, msg] => {
                let to = Dest::from_term(to).ok_or(Term::atom("badarg"))?;
                ctx.send(to, msg.clone()).map_err(Term::from)?;
                Ok(msg.clone())
            }
            _ => Err(Term::atom("badarg")),
        }
    });
    node.register_fn("demo", "wait", |ctx: Ctx, _args: Vec<Term>| async move {
        let m = ctx.receive().await;
        Err::<(), Term>(m)
    });
    node.register_fn("demo", "add", |_ctx: Ctx, args: Vec<Term>| async move {
        match args.as_slice() {
            [Term::Int(a), Term::Int(b)] => a
                .checked_add(*b)
                .map(Term::from)
                .ok_or(Term::atom("badarith")),
            _ => Err(Term::atom("badarith")),
        }
    });
    node.register_fn("demo", "sleep", |_ctx: Ctx, args: Vec<Term>| async move {
        match args.as_slice() {
            [Term::Int(ms)] if *ms >= 0 => {
                tokio::time::sleep(Duration::from_millis(*ms as u64)).await;
                Ok(Term::atom("ok"))
            }
            _ => Err(Term::atom("badarg")),
        }
    });
}

const HELP: &str = "\
commands (arguments in Erlang term syntax):
  node                          this node's name
  nodes [visible|hidden|connected|this ...]
                                connected nodes (default: visible)
  connect NODE                  connect to NODE: true or false
  disconnect NODE               close the connection to NODE
  ping NODE                     pong or pang
  self                          the shell process's pid
  register NAME                 register the shell process as NAME
  unregister NAME               remove a registered name
  whereis NAME                  the pid registered as NAME, or undefined
  send DEST TERM                send TERM to DEST: a pid, a name, or {Name, Node}
  flush                         print and drop every message the shell holds
  receive [TIMEOUT_MS]          print the next message (or timeout)
  monitor DEST                  monitor a process (a pid or {Name, Node}): a reference
  demonitor REF                 remove a monitor (REF as monitor printed it)
  link PID                      link the shell process to PID
  unlink PID                    remove the link
  trap_exit true|false          exit signals become {'EXIT', From, Reason} messages
  exit PID REASON               send an exit signal (exit/2; kill cannot be trapped)
  spawn NODE MOD FUN [ARGS]     start MOD:FUN(ARGS) on NODE (a registered function on a
                                ferrobeam node, an Erlang function on a BEAM node); its
                                output comes here (spawn_link, spawn_monitor likewise)
  call DEST TERM [TIMEOUT_MS]   GenServer call (default timeout 5000)
  cast DEST TERM                GenServer cast
  monitor_node NODE [true|false]
                                get {nodedown, NODE} when the connection goes down
  monitor_nodes on|off [nodedown_reason] [visible|hidden|all]
                                get nodeup/nodedown messages
  cookie [NEW]                  show or set the cookie
  help                          this text
  quit                          leave the shell (also exit with no arguments)";

/// Numbers the nodes whose pids the shell prints, so that `<N.Id.Serial>` can be typed
/// back.
struct NodeTable {
    nodes: Vec<(Atom, u32)>,
}

impl NodeTable {
    fn index(&mut self, pid: &Pid) -> usize {
        match self.nodes.iter().position(|(n, _)| *n == pid.node) {
            Some(i) => {
                if i > 0 {
                    self.nodes[i].1 = pid.creation;
                }
                i
            }
            None => {
                self.nodes.push((pid.node.clone(), pid.creation));
                self.nodes.len() - 1
            }
        }
    }
}

fn contains_pid(t: &Term) -> bool {
    match t {
        Term::Pid(_) => true,
        Term::Tuple(v) | Term::List(v) => v.iter().any(contains_pid),
        Term::ImproperList { elements, tail } => {
            elements.iter().any(contains_pid) || contains_pid(tail)
        }
        Term::Map(m) => m.iter().any(|(k, v)| contains_pid(k) || contains_pid(v)),
        _ => false,
    }
}

/// Erlang syntax, with pids as `<N.Id.Serial>`.
fn show(t: &Term, table: &mut NodeTable) -> String {
    if !contains_pid(t) {
        return t.to_string();
    }
    let join = |v: &[Term], table: &mut NodeTable| {
        v.iter()
            .map(|e| show(e, table))
            .collect::<Vec<_>>()
            .join(",")
    };
    match t {
        Term::Pid(p) => format!("<{}.{}.{}>", table.index(p), p.id, p.serial),
        Term::Tuple(v) => format!("{{{}}}", join(v, table)),
        Term::List(v) => format!("[{}]", join(v, table)),
        Term::ImproperList { elements, tail } => {
            format!("[{}|{}]", join(elements, table), show(tail, table))
        }
        Term::Map(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{} => {}", show(k, table), show(v, table)))
                .collect();
            format!("#{{{}}}", parts.join(","))
        }
        other => other.to_string(),
    }
}

/// The `<N.Id.Serial>` literals in `text`, in order.
fn pid_literals(text: &str) -> Vec<(usize, u32, u32)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'<' {
            let rest = &text[i + 1..];
            if let Some(end) = rest.find('>') {
                let parts: Vec<&str> = rest[..end].split('.').collect();
                if parts.len() == 3 {
                    if let (Ok(n), Ok(id), Ok(serial)) = (
                        parts[0].trim().parse::<usize>(),
                        parts[1].trim().parse::<u32>(),
                        parts[2].trim().parse::<u32>(),
                    ) {
                        out.push((n, id, serial));
                        i += end + 2;
                        continue;
                    }
                }
            }
        }
        i += 1;
    }
    out
}

/// Parses a term typed at the prompt, giving pids their nodes.
fn parse_term(text: &str, table: &NodeTable) -> Result<Term, String> {
    let t: Term = text.trim().parse().map_err(|e| format!("{e}"))?;
    if !contains_pid(&t) {
        return Ok(t);
    }
    let lits = pid_literals(text);
    let mut err = None;
    let t = map_pids(t, &mut |p: Pid| {
        let n = lits
            .iter()
            .find(|(_, id, serial)| *id == p.id && *serial == p.serial)
            .map(|(n, _, _)| *n)
            .unwrap_or(0);
        match table.nodes.get(n) {
            Some((node, creation)) => Pid::new(node.clone(), p.id, p.serial, *creation),
            None => {
                err = Some(format!(
                    "no node is numbered {n} (see the pids printed so far)"
                ));
                p
            }
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(t),
    }
}

fn map_pids(t: Term, f: &mut impl FnMut(Pid) -> Pid) -> Term {
    match t {
        Term::Pid(p) => Term::Pid(f(p)),
        Term::Tuple(v) => Term::Tuple(v.into_iter().map(|e| map_pids(e, f)).collect()),
        Term::List(v) => Term::List(v.into_iter().map(|e| map_pids(e, f)).collect()),
        Term::ImproperList { elements, tail } => Term::ImproperList {
            elements: elements.into_iter().map(|e| map_pids(e, f)).collect(),
            tail: Box::new(map_pids(*tail, f)),
        },
        Term::Map(m) => Term::Map(TermMap::from_pairs(
            m.into_entries()
                .into_iter()
                .map(|(k, v)| (map_pids(k, f), map_pids(v, f)))
                .collect(),
        )),
        other => other,
    }
}

/// A node name argument: an atom in term syntax, or plain text.
fn node_arg(arg: &str) -> Result<String, String> {
    let arg = arg.trim();
    if arg.is_empty() {
        return Err("a node name is needed".into());
    }
    match arg.parse::<Term>() {
        Ok(Term::Atom(a)) => Ok(a.as_str().to_string()),
        _ => Ok(arg.to_string()),
    }
}

fn atom_arg(arg: &str) -> Result<Atom, String> {
    match arg.trim().parse::<Term>() {
        Ok(Term::Atom(a)) => Ok(a),
        _ => Err(format!("{:?} is not an atom", arg.trim())),
    }
}

/// Splits `DEST TERM` at the first whitespace where both sides parse.
fn split_dest(rest: &str, table: &NodeTable) -> Result<(Term, Term), String> {
    let rest = rest.trim();
    let mut last_err = "usage: send DEST TERM".to_string();
    for (i, c) in rest.char_indices() {
        if !c.is_whitespace() {
            continue;
        }
        let (d, m) = (&rest[..i], &rest[i..]);
        if m.trim().is_empty() {
            continue;
        }
        match (parse_term(d, table), parse_term(m, table)) {
            (Ok(d), Ok(m)) => return Ok((d, m)),
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => last_err = e,
            _ => {}
        }
    }
    Err(last_err)
}

/// `NODE MOD FUN [ARGS]`.
fn spawn_args(rest: &str, table: &NodeTable) -> Result<(Atom, Atom, Atom, Vec<Term>), String> {
    let usage = || "usage: spawn NODE MOD FUN [ARGS]".to_string();
    let mut parts = rest.splitn(4, char::is_whitespace);
    let node = Atom::try_new(&node_arg(parts.next().ok_or_else(usage)?)?)
        .ok_or_else(|| "the node name is too long".to_string())?;
    let module = atom_arg(parts.next().ok_or_else(usage)?)?;
    let function = atom_arg(parts.next().ok_or_else(usage)?)?;
    let args = match parts.next().map(str::trim) {
        None | Some("") => Vec::new(),
        Some(a) => match parse_term(a, table)? {
            Term::List(v) => v,
            other => return Err(format!("{other}: the arguments are a list")),
        },
    };
    Ok((node, module, function, args))
}

/// `DEST TERM [TIMEOUT_MS]`.
fn call_args(rest: &str, table: &NodeTable) -> Result<(Term, Term, Option<Timeout>), String> {
    match split_dest(rest, table) {
        Ok((d, m)) => Ok((d, m, None)),
        Err(e) => {
            let rest = rest.trim_end();
            let Some((head, last)) = rest.rsplit_once(char::is_whitespace) else {
                return Err(e);
            };
            let Ok(ms) = last.parse::<u64>() else {
                return Err(e);
            };
            let (d, m) = split_dest(head, table)?;
            Ok((d, m, Some(Timeout::After(Duration::from_millis(ms)))))
        }
    }
}

/// A server to call: a pid, a local name, or `{Name, Node}`.
fn server_ref(t: &Term) -> Result<ServerRef, String> {
    match Dest::from_term(t) {
        Some(Dest::Pid(p)) => Ok(ServerRef::Pid(p)),
        Some(Dest::Name(n)) => Ok(ServerRef::Local(n)),
        Some(Dest::Remote(n, node)) => Ok(ServerRef::Remote(n, node)),
        _ => Err(format!("{t}: a server is a pid, a name or {{Name, Node}}")),
    }
}

struct Shell {
    dist: DistNode,
    ctx: Ctx,
    table: NodeTable,
    /// Monitors made with `monitor`, for `demonitor`.
    monitors: Vec<Ref>,
}

impl Shell {
    fn new(dist: DistNode, ctx: Ctx) -> Shell {
        let me = (dist.name().clone(), dist.creation());
        Shell {
            dist,
            ctx,
            table: NodeTable { nodes: vec![me] },
            monitors: Vec::new(),
        }
    }

    async fn run(
        mut self,
        mut lines: mpsc::UnboundedReceiver<String>,
        done: std::sync::mpsc::Sender<bool>,
    ) {
        while let Some(line) = lines.recv().await {
            let go_on = match self.command(line.trim()).await {
                Ok(Some(out)) => {
                    println!("{out}");
                    true
                }
                Ok(None) => false,
                Err(e) => {
                    println!("error: {e}");
                    true
                }
            };
            let _ = std::io::stdout().flush();
            if !go_on {
                break;
            }
            if done.send(true).is_err() {
                break;
            }
        }
        // Leaving the shell stops the node: connections close first, so that peers
        // see the node go (`noconnection`), as when an Erlang node is halted.
        self.dist.shutdown().await;
        let _ = done.send(false);
    }

    fn show(&mut self, t: &Term) -> String {
        show(t, &mut self.table)
    }

    fn pid_arg(&self, arg: &str) -> Result<Pid, String> {
        match parse_term(arg, &self.table)? {
            Term::Pid(p) => Ok(p),
            other => Err(format!("{other}: not a pid")),
        }
    }

    /// Runs one command: `Ok(None)` to quit.
    async fn command(&mut self, line: &str) -> Result<Option<String>, String> {
        let (cmd, rest) = match line.split_once(char::is_whitespace) {
            Some((c, r)) => (c, r.trim()),
            None => (line, ""),
        };
        let out = match cmd {
            "" => String::new(),
            "help" | "h" => HELP.to_string(),
            "quit" | "q" => return Ok(None),
            "exit" if rest.is_empty() => return Ok(None),
            "node" => self.dist.name().to_string(),
            "self" => {
                let me = Term::Pid(self.ctx.self_pid().clone());
                self.show(&me)
            }
            "nodes" => {
                let mut kinds = Vec::new();
                for w in rest.split_whitespace() {
                    kinds.push(NodeKind::parse(w).ok_or_else(|| {
                        format!("{w:?}: expected visible, hidden, connected or this")
                    })?);
                }
                if kinds.is_empty() {
                    kinds.push(NodeKind::Visible);
                }
                let list = self.dist.nodes_of(&kinds);
                Term::List(list.into_iter().map(Term::Atom).collect()).to_string()
            }
            "connect" => self.dist.connect(&node_arg(rest)?).await.to_string(),
            "disconnect" => self.dist.disconnect(&node_arg(rest)?).to_string(),
            "ping" => self.dist.ping(&node_arg(rest)?).await.to_string(),
            "register" => {
                let name = atom_arg(rest)?;
                self.ctx
                    .register(name)
                    .map_err(|e| format!("badarg: {e}"))?;
                "true".into()
            }
            "unregister" => {
                let name = atom_arg(rest)?;
                self.ctx
                    .node()
                    .unregister(name)
                    .map_err(|e| format!("badarg: {e}"))?;
                "true".into()
            }
            "whereis" => {
                let name = atom_arg(rest)?;
                match self.ctx.node().whereis(name.as_str()) {
                    Some(p) => self.show(&Term::Pid(p)),
                    None => "undefined".into(),
                }
            }
            "send" => {
                let (dest, msg) = split_dest(rest, &self.table)?;
                let d = Dest::from_term(&dest).ok_or_else(|| {
                    format!("{dest}: a destination is a pid, a name or {{Name, Node}}")
                })?;
                self.ctx
                    .send(d, msg.clone())
                    .map_err(|e| format!("badarg: {e}"))?;
                self.show(&msg)
            }
            "flush" => {
                let msgs = self.ctx.flush();
                let mut out: Vec<String> = msgs.iter().map(|m| self.show(m)).collect();
                out.push("ok".into());
                out.join("\n")
            }
            "receive" => {
                let timeout = if rest.is_empty() {
                    None
                } else {
                    Some(Duration::from_millis(rest.parse::<u64>().map_err(
                        |_| format!("{rest:?}: the timeout is a number of milliseconds"),
                    )?))
                };
                let m = match timeout {
                    Some(t) => self.ctx.receive_timeout(t).await,
                    None => Some(self.ctx.receive().await),
                };
                match m {
                    Some(m) => self.show(&m),
                    None => "timeout".into(),
                }
            }
            "monitor" => {
                let target = parse_term(rest, &self.table)?;
                let d = match Dest::from_term(&target) {
                    Some(d @ (Dest::Pid(_) | Dest::Remote(..) | Dest::Name(_))) => d,
                    _ => return Err(format!("{target}: cannot be monitored")),
                };
                let r = self.ctx.monitor(d);
                self.monitors.retain(|m| *m != r);
                self.monitors.push(r.clone());
                if self.monitors.len() > 10_000 {
                    self.monitors.remove(0);
                }
                Term::from(r).to_string()
            }
            "demonitor" => {
                let i = self
                    .monitors
                    .iter()
                    .position(|r| Term::from(r.clone()).to_string() == rest)
                    .ok_or_else(|| format!("{rest:?}: not a monitor made here"))?;
                let r = self.monitors.remove(i);
                self.ctx.demonitor(&r).to_string()
            }
            "link" => {
                let pid = self.pid_arg(rest)?;
                self.ctx
                    .link(&pid)
                    .map_err(|_| "noproc: no such process".to_string())?;
                "true".into()
            }
            "unlink" => {
                let pid = self.pid_arg(rest)?;
                self.ctx.unlink(&pid);
                "true".into()
            }
            "trap_exit" => {
                let flag = match rest {
                    "true" => true,
                    "false" => false,
                    _ => return Err("usage: trap_exit true|false".into()),
                };
                self.ctx.trap_exit(flag).to_string()
            }
            "exit" => {
                let (pid, reason) = split_dest(rest, &self.table)
                    .map_err(|_| "usage: exit PID REASON".to_string())?;
                let Term::Pid(pid) = pid else {
                    return Err(format!("{pid}: not a pid"));
                };
                self.ctx.exit(&pid, reason);
                "true".into()
            }
            "spawn" | "spawn_link" | "spawn_monitor" => {
                let (node, module, function, args) = spawn_args(rest, &self.table)?;
                let opts = ferrobeam::SpawnOpts {
                    link: cmd == "spawn_link",
                    monitor: cmd == "spawn_monitor",
                };
                match self
                    .ctx
                    .spawn_request(node, module, function, args, opts)
                    .await
                {
                    Ok((pid, Some(r))) => {
                        self.monitors.push(r.clone());
                        let p = Term::Pid(pid);
                        format!("{{{},{}}}", self.show(&p), Term::from(r))
                    }
                    Ok((pid, None)) => self.show(&Term::Pid(pid)),
                    Err(e) => return Err(format!("spawn failed: {}", self.show(&e))),
                }
            }
            "call" => {
                let (dest, req, timeout) = call_args(rest, &self.table)?;
                let server = server_ref(&dest)?;
                let r = match timeout {
                    Some(t) => {
                        gen_server::call_timeout::<Term, Term>(&self.ctx, server, req, t).await
                    }
                    None => gen_server::call::<Term, Term>(&self.ctx, server, req).await,
                };
                match r {
                    Ok(reply) => self.show(&reply),
                    Err(e) => return Err(format!("exit {}", self.show(&e.reason))),
                }
            }
            "cast" => {
                let (dest, msg) = split_dest(rest, &self.table)?;
                gen_server::cast(self.ctx.node(), server_ref(&dest)?, msg);
                "ok".into()
            }
            "monitor_node" => {
                let mut words = rest.split_whitespace();
                let node = node_arg(words.next().unwrap_or(""))?;
                let flag = match words.next() {
                    None | Some("true") => true,
                    Some("false") => false,
                    Some(w) => return Err(format!("{w:?}: expected true or false")),
                };
                self.dist.monitor_node(self.ctx.self_pid(), &node, flag);
                "true".into()
            }
            "monitor_nodes" => {
                let mut words = rest.split_whitespace();
                let flag =
                    match words.next() {
                        Some("on" | "true") => true,
                        Some("off" | "false") => false,
                        _ => return Err(
                            "usage: monitor_nodes on|off [nodedown_reason] [visible|hidden|all]"
                                .into(),
                        ),
                    };
                let mut opts = MonitorNodesOptions::default();
                for w in words {
                    match w {
                        "nodedown_reason" => opts.nodedown_reason = true,
                        "visible" => opts.node_type = Some(NodeTypeFilter::Visible),
                        "hidden" => opts.node_type = Some(NodeTypeFilter::Hidden),
                        "all" => opts.node_type = Some(NodeTypeFilter::All),
                        w => return Err(format!("{w:?}: unknown option")),
                    }
                }
                self.dist.monitor_nodes(self.ctx.self_pid(), flag, opts);
                "ok".into()
            }
            "cookie" => {
                if rest.is_empty() {
                    let c = self.dist.get_cookie();
                    Term::atom(c.expose()).to_string()
                } else {
                    let c = match rest.parse::<Term>() {
                        Ok(Term::Atom(a)) => a.as_str().to_string(),
                        _ => rest.to_string(),
                    };
                    self.dist.set_cookie(&c);
                    "true".into()
                }
            }
            other => return Err(format!("unknown command {other:?} (try help)")),
        };
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_print_with_node_numbers_and_parse_back() {
        let me = Atom::new("dale@h");
        let mut table = NodeTable {
            nodes: vec![(me.clone(), 5)],
        };
        let local = Pid::new(me.clone(), 85, 0, 5);
        let remote = Pid::new("chip@h", 90, 1, 7);
        let t = Term::tuple(vec![
            Term::Pid(local.clone()),
            Term::list(vec![Term::Pid(remote.clone())]),
            Term::atom("x"),
        ]);
        let text = show(&t, &mut table);
        assert_eq!(text, "{<0.85.0>,[<1.90.1>],x}");
        assert_eq!(parse_term(&text, &table).unwrap(), t);
        let (d, m) = split_dest("{my_iex, chip@h} {hello, <1.90.1>}", &table).unwrap();
        assert_eq!(d.to_string(), "{my_iex,chip@h}");
        assert_eq!(m.as_tuple().unwrap()[1], Term::Pid(remote));
        assert!(parse_term("<4.1.1>", &table).is_err());
        assert_eq!(node_arg("'chip@h'").unwrap(), "chip@h");
    }
}
