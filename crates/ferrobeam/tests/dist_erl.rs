//! Interop with real Erlang/OTP and Elixir nodes, in both directions: ping (and a wrong
//! cookie), node lists and hidden nodes, sends to `{Name, Node}` and to pids, reconnect
//! on send after a disconnect, nodeup/nodedown, the tick timeout with a SIGSTOPped
//! `erl`, and Elixir's `Node.ping`/`Node.list`.
//!
//! Skipped with a notice when `erl` is missing, unless `FERROBEAM_REQUIRE_ERLANG=1`, in
//! which case the tests fail. Each test has its own EPMD port, and kills every process
//! it started.

#[path = "dist_support.rs"]
mod support;

use ferrobeam::dist::{DistNode, MonitorNodesOptions, NodeKind, Ping};
use ferrobeam::{Atom, Term};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::*;

#[path = "beam_support.rs"]
mod beam_support;
use beam_support::{find, AGENT};

/// `erl`, or `None` with a printed notice (a panic with `FERROBEAM_REQUIRE_ERLANG=1`).
fn erl(test: &str) -> Option<PathBuf> {
    beam_support::beam_tool("erl", test)
}

/// A running `erl` with the agent. Killed (even when stopped) when dropped.
struct Erl {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    msgs: Vec<String>,
    name: String,
}

impl Drop for Erl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Erl {
    fn start(erl: &PathBuf, sname: &str, epmd_port: u16, cookie: &str, extra: &[&str]) -> Erl {
        let mut child = Command::new(erl)
            .args(["-sname", sname, "-setcookie", cookie, "-noshell"])
            .args(["-start_epmd", "false"])
            .args(extra)
            .args(["-eval", AGENT])
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start erl");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        let tag = sname.to_string();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("erl {tag}: {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut e = Erl {
            child,
            stdin,
            lines,
            msgs: Vec::new(),
            name: String::new(),
        };
        let ready = e.next_line("READY ", Duration::from_secs(30));
        e.name = ready.trim().to_string();
        e
    }

    fn next_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("erl printed no {prefix:?} line within {timeout:?}"));
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_string();
            }
            if let Some(m) = line.strip_prefix("MSG ") {
                self.msgs.push(m.to_string());
            }
        }
    }

    /// Evaluates `expr` (without the final dot) and returns what it printed.
    fn eval(&mut self, expr: &str) -> String {
        writeln!(self.stdin, "{expr}.").expect("write to erl");
        self.stdin.flush().unwrap();
        self.next_line("R ", Duration::from_secs(15))
    }

    /// The next message the agent printed.
    fn msg(&mut self, timeout: Duration) -> String {
        if !self.msgs.is_empty() {
            return self.msgs.remove(0);
        }
        self.next_line("MSG ", timeout)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

fn sname(tag: &str) -> String {
    format!("erl{tag}{}", std::process::id())
}

async fn node(c: &Cluster, name: &str) -> DistNode {
    c.node(name).await
}

/// Runs `f` with an `Erl` on a blocking thread and gives it back.
async fn with<R: Send + 'static>(
    mut e: Erl,
    f: impl FnOnce(&mut Erl) -> R + Send + 'static,
) -> (Erl, R) {
    blocking(move || {
        let r = f(&mut e);
        (e, r)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_both_ways_and_node_lists() {
    let Some(erl) = erl("ping_both_ways_and_node_lists") else {
        return;
    };
    let c = Cluster::new().await;
    let a = node(&c, "fb").await;
    let me = a.name().to_string();
    let port = c.epmd_port;
    let e = blocking(move || Erl::start(&erl, &sname("p"), port, COOKIE, &[])).await;
    let erl_name = e.name.clone();
    // erl pings us.
    let m = me.clone();
    let (e, r) = with(e, move |e| {
        (
            e.eval(&format!("net_adm:ping('{m}')")),
            e.eval("nodes()"),
            e.eval("nodes(hidden)"),
        )
    })
    .await;
    assert_eq!(r.0, "pong");
    assert_eq!(t(&r.1), Term::List(vec![Term::atom(&me)]));
    assert_eq!(r.2, "[]");
    assert_eq!(a.nodes(), vec![Atom::new(&erl_name)]);
    assert!(a.nodes_of(&[NodeKind::Hidden]).is_empty());
    // We ping erl (connected already, then after a disconnect).
    assert_eq!(a.ping(&erl_name).await, Ping::Pong);
    assert!(a.disconnect(&erl_name));
    let (e, r) = with(e, |e| {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let n = e.eval("nodes()");
            if n == "[]" || Instant::now() > deadline {
                return n;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await;
    assert_eq!(r, "[]");
    assert_eq!(a.ping(&erl_name).await, Ping::Pong);
    assert_eq!(a.nodes(), vec![Atom::new(&erl_name)]);
    let (_e, r) = with(e, |e| e.eval("nodes()")).await;
    assert_eq!(t(&r), Term::List(vec![Term::atom(&me)]));
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_cookie_is_pang_both_ways() {
    let Some(erl) = erl("wrong_cookie_is_pang_both_ways") else {
        return;
    };
    let c = Cluster::new().await;
    let mut cfg = c.config("fb");
    cfg.cookie = Some("not_the_cookie".into());
    let a = c.start(cfg).await;
    let me = a.name().to_string();
    let port = c.epmd_port;
    let e = blocking(move || Erl::start(&erl, &sname("w"), port, COOKIE, &[])).await;
    let erl_name = e.name.clone();
    let (e, r) = with(e, move |e| e.eval(&format!("net_adm:ping('{me}')"))).await;
    assert_eq!(r, "pang");
    assert_eq!(a.ping(&erl_name).await, Ping::Pang);
    assert!(!a.connect(&erl_name).await);
    assert!(a.nodes().is_empty());
    let (_e, r) = with(e, |e| e.eval("nodes(connected)")).await;
    assert_eq!(r, "[]");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_to_names_and_pids_both_ways() {
    let Some(erl) = erl("sends_to_names_and_pids_both_ways") else {
        return;
    };
    let c = Cluster::new().await;
    let a = node(&c, "fb").await;
    let mut inbox = Mailbox::new(&a, Some("inbox"));
    let me = a.name().to_string();
    let port = c.epmd_port;
    let e = blocking(move || Erl::start(&erl, &sname("s"), port, COOKIE, &[])).await;
    let erl_name = e.name.clone();
    // We send to {agent, erl}: connects on demand.
    a.node()
        .send(
            ("agent", erl_name.as_str()),
            t("{hello,from_ferrobeam,<<\"bin\">>,#{k => [1,2.5]}}"),
        )
        .unwrap();
    let (e, m) = with(e, |e| e.msg(Duration::from_secs(10))).await;
    assert_eq!(
        t(&m),
        t("{hello,from_ferrobeam,<<\"bin\">>,#{k => [1,2.5]}}")
    );
    // erl sends to {inbox, fb}, with its agent's pid.
    let m2 = me.clone();
    let (e, _) = with(e, move |e| {
        e.eval(&format!(
            "{{inbox, '{m2}'}} ! {{from_erl, whereis(agent), \"text\", 1.5, 123456789012345678901234567890}}"
        ))
    })
    .await;
    let got = inbox.recv(10).await;
    let tt = got.as_tuple().unwrap();
    assert!(tt[0].is_atom("from_erl"));
    let agent = tt[1].as_pid().unwrap().clone();
    assert_eq!(agent.node.as_str(), erl_name);
    assert_eq!(tt[2], Term::charlist("text"));
    assert_eq!(tt[4].to_string(), "123456789012345678901234567890");
    // We send to the erl pid.
    a.node().send(&agent, t("{to_pid, ok}")).unwrap();
    let (e, m) = with(e, |e| e.msg(Duration::from_secs(10))).await;
    assert_eq!(m, "{to_pid,ok}");
    // erl sends to our pid, which it got in a message.
    let (e, _) = with(e, |e| {
        e.eval(
            "register(echo, spawn(fun() -> receive {reply_to, P} -> P ! {echoed, self()} end end))",
        )
    })
    .await;
    a.node()
        .send(
            ("echo", erl_name.as_str()),
            Term::tuple(vec![Term::atom("reply_to"), Term::Pid(inbox.pid.clone())]),
        )
        .unwrap();
    let got = inbox.recv(10).await;
    assert!(got.as_tuple().unwrap()[0].is_atom("echoed"));
    // Large binaries both ways (BEAM fragments what it sends above 64 KiB).
    let m3 = me.clone();
    let (e, _) = with(e, move |e| {
        e.eval("register(sizer, spawn(fun L() -> receive {bin, B} -> io:format(\"MSG {size,~w,~w}~n\", [byte_size(B), erlang:crc32(B)]), L() end end))");
        e.eval(&format!("{{inbox, '{m3}'}} ! {{big, binary:copy(<<1,2,3,4,5>>, 100000)}}"))
    })
    .await;
    let got = inbox.recv(10).await;
    let b = got.as_tuple().unwrap()[1].as_binary().unwrap().clone();
    assert_eq!(b.len(), 500_000);
    assert!(b.chunks(5).all(|c| c == [1, 2, 3, 4, 5]));
    let payload: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    let h = crc32fast_like(&payload);
    a.node()
        .send(
            ("sizer", erl_name.as_str()),
            Term::tuple(vec![Term::atom("bin"), Term::binary(payload)]),
        )
        .unwrap();
    let (e, m) = with(e, |e| e.msg(Duration::from_secs(10))).await;
    assert_eq!(m, format!("{{size,700000,{h}}}"));
    // A message to a name that is not registered on erl: dropped, nothing breaks.
    a.node()
        .send(("nobody", erl_name.as_str()), Term::atom("lost"))
        .unwrap();
    a.node()
        .send(("agent", erl_name.as_str()), Term::atom("later"))
        .unwrap();
    let (_e, m) = with(e, |e| e.msg(Duration::from_secs(10))).await;
    assert_eq!(m, "later");
    assert_eq!(a.nodes(), vec![Atom::new(&erl_name)]);
    a.shutdown().await;
}

/// CRC-32 (IEEE), as `erlang:crc32/1` computes it.
fn crc32fast_like(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_on_send_after_disconnect_both_ways() {
    let Some(erl) = erl("reconnect_on_send_after_disconnect_both_ways") else {
        return;
    };
    let c = Cluster::new().await;
    let a = node(&c, "fb").await;
    let mut inbox = Mailbox::new(&a, Some("my_iex"));
    let me = a.name().to_string();
    let port = c.epmd_port;
    let e = blocking(move || Erl::start(&erl, &sname("r"), port, COOKIE, &[])).await;
    let erl_name = e.name.clone();
    assert!(a.connect(&erl_name).await);
    assert!(a.disconnect(&erl_name));
    assert!(a.nodes().is_empty());
    a.node()
        .send(("agent", erl_name.as_str()), Term::atom("hello_again"))
        .unwrap();
    let (e, m) = with(e, |e| e.msg(Duration::from_secs(10))).await;
    assert_eq!(m, "hello_again");
    // erl disconnects, then sends.
    let m2 = me.clone();
    let (_e, r) = with(e, move |e| {
        let d = e.eval(&format!("erlang:disconnect_node('{m2}')"));
        let n = e.eval("nodes()");
        e.eval(&format!("{{my_iex, '{m2}'}} ! hello_from_erl"));
        (d, n)
    })
    .await;
    assert_eq!(r, ("true".to_string(), "[]".to_string()));
    assert_eq!(inbox.recv(10).await, Term::atom("hello_from_erl"));
    assert_eq!(a.nodes(), vec![Atom::new(&erl_name)]);
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodeup_and_nodedown_seen_on_both_sides() {
    let Some(erl) = erl("nodeup_and_nodedown_seen_on_both_sides") else {
        return;
    };
    let c = Cluster::new().await;
    let a = node(&c, "fb").await;
    let mut watch = Mailbox::new(&a, None);
    a.monitor_nodes(
        &watch.pid,
        true,
        MonitorNodesOptions {
            node_type: None,
            nodedown_reason: true,
        },
    );
    let me = a.name().to_string();
    let port = c.epmd_port;
    let e = blocking(move || Erl::start(&erl, &sname("n"), port, COOKIE, &[])).await;
    let erl_name = e.name.clone();
    let (e, _) = with(e, |e| {
        e.eval("agent ! {'$do', fun() -> net_kernel:monitor_nodes(true, [nodedown_reason]) end}")
    })
    .await;
    // We connect: nodeup on both sides.
    assert!(a.connect(&erl_name).await);
    assert_eq!(
        watch.recv(5).await,
        t(&format!("{{nodeup,'{erl_name}',[]}}"))
    );
    let (e, m) = with(e, |e| e.msg(Duration::from_secs(10))).await;
    assert_eq!(t(&m), t(&format!("{{nodeup,'{me}',[]}}")));
    // We disconnect: our reason is disconnect, erl's connection_closed.
    assert!(a.disconnect(&erl_name));
    assert_eq!(
        watch.recv(5).await,
        t(&format!(
            "{{nodedown,'{erl_name}',[{{nodedown_reason,disconnect}}]}}"
        ))
    );
    let (e, m) = with(e, |e| e.msg(Duration::from_secs(10))).await;
    assert_eq!(
        t(&m),
        t(&format!(
            "{{nodedown,'{me}',[{{nodedown_reason,connection_closed}}]}}"
        ))
    );
    // erl connects and then disconnects.
    let m2 = me.clone();
    let (e, r) = with(e, move |e| {
        e.eval(&format!("net_kernel:connect_node('{m2}')"))
    })
    .await;
    assert_eq!(r, "true");
    assert_eq!(
        watch.recv(5).await,
        t(&format!("{{nodeup,'{erl_name}',[]}}"))
    );
    let m3 = me.clone();
    let (mut e, _) = with(e, move |e| {
        let _ = e.msg(Duration::from_secs(10));
        e.eval(&format!("erlang:disconnect_node('{m3}')"))
    })
    .await;
    assert_eq!(
        watch.recv(5).await,
        t(&format!(
            "{{nodedown,'{erl_name}',[{{nodedown_reason,connection_closed}}]}}"
        ))
    );
    // erl exits: nodedown.
    assert!(a.connect(&erl_name).await);
    assert!(watch.recv(5).await.as_tuple().unwrap()[0].is_atom("nodeup"));
    let _ = e.child.kill();
    assert_eq!(
        watch.recv(10).await,
        t(&format!(
            "{{nodedown,'{erl_name}',[{{nodedown_reason,connection_closed}}]}}"
        ))
    );
    drop(e);
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_nodes_both_ways() {
    let Some(erl) = erl("hidden_nodes_both_ways") else {
        return;
    };
    let c = Cluster::new().await;
    let a = node(&c, "fb").await;
    let mut cfg = c.config("fbhidden");
    cfg.hidden = true;
    let h = c.start(cfg).await;
    let port = c.epmd_port;
    let erl2 = erl.clone();
    // erl -hidden connects to our visible node.
    let me = a.name().to_string();
    let e = blocking(move || Erl::start(&erl, &sname("h"), port, COOKIE, &["-hidden"])).await;
    let erl_name = e.name.clone();
    let (e, r) = with(e, move |e| {
        (
            e.eval(&format!("net_adm:ping('{me}')")),
            e.eval("nodes()"),
            e.eval("nodes(hidden)"),
        )
    })
    .await;
    assert_eq!(r.0, "pong");
    assert_eq!(r.1, "[]");
    assert_eq!(t(&r.2), Term::List(vec![Term::atom(a.name().as_str())]));
    assert!(a.nodes().is_empty());
    assert_eq!(a.nodes_of(&[NodeKind::Hidden]), vec![Atom::new(&erl_name)]);
    drop(e);
    // Our hidden node pings a visible erl.
    let e = blocking(move || Erl::start(&erl2, &sname("v"), port, COOKIE, &[])).await;
    let erl_name = e.name.clone();
    assert_eq!(h.ping(&erl_name).await, Ping::Pong);
    assert!(h.nodes().is_empty());
    assert_eq!(h.nodes_of(&[NodeKind::Hidden]), vec![Atom::new(&erl_name)]);
    let (_e, r) = with(e, |e| (e.eval("nodes()"), e.eval("nodes(hidden)"))).await;
    assert_eq!(r.0, "[]");
    assert_eq!(t(&r.1), Term::List(vec![Term::atom(h.name().as_str())]));
    a.shutdown().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_erl_is_dropped_within_net_ticktime() {
    let Some(erl) = erl("stopped_erl_is_dropped_within_net_ticktime") else {
        return;
    };
    let c = Cluster::new().await;
    let mut cfg = c.config("fb");
    cfg.net_ticktime = Duration::from_secs(3);
    let a = c.start(cfg).await;
    let mut watch = Mailbox::new(&a, None);
    a.monitor_nodes(
        &watch.pid,
        true,
        MonitorNodesOptions {
            node_type: None,
            nodedown_reason: true,
        },
    );
    let port = c.epmd_port;
    // erl ticks every second (net_ticktime 4 s) and must not drop us either.
    let e = blocking(move || {
        Erl::start(
            &erl,
            &sname("t"),
            port,
            COOKIE,
            &["-kernel", "net_ticktime", "4"],
        )
    })
    .await;
    let erl_name = e.name.clone();
    assert_eq!(a.ping(&erl_name).await, Ping::Pong);
    assert!(watch.recv(5).await.as_tuple().unwrap()[0].is_atom("nodeup"));
    // Idle for longer than net_ticktime: ticks keep the connection.
    assert_eq!(watch.try_recv(4500).await, None);
    assert_eq!(a.nodes(), vec![Atom::new(&erl_name)]);
    let stopped_at = Instant::now();
    let status = Command::new("kill")
        .args(["-STOP", &e.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let down = watch.recv(10).await;
    let took = stopped_at.elapsed();
    let _ = Command::new("kill")
        .args(["-CONT", &e.pid().to_string()])
        .status();
    drop(e);
    assert_eq!(
        down,
        t(&format!(
            "{{nodedown,'{erl_name}',[{{nodedown_reason,net_tick_timeout}}]}}"
        ))
    );
    assert!(took <= Duration::from_millis(3800), "{took:?}");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elixir_node_ping_and_list() {
    let Some(_erl) = erl("elixir_node_ping_and_list") else {
        return;
    };
    let Some(elixir) = find("elixir") else {
        if std::env::var("FERROBEAM_REQUIRE_ERLANG").as_deref() == Ok("1") {
            panic!("elixir is required (FERROBEAM_REQUIRE_ERLANG=1) but was not found");
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED elixir_node_ping_and_list: elixir not found"
        );
        return;
    };
    let c = Cluster::new().await;
    let a = node(&c, "fb").await;
    let mut inbox = Mailbox::new(&a, Some("inbox"));
    let me = a.name().to_string();
    let script = format!(
        r#"IO.puts("PING #{{inspect(Node.ping(:"{me}"))}}")
IO.puts("LIST #{{inspect(Node.list())}}")
send({{:inbox, :"{me}"}}, {{:from_elixir, self()}})
receive do
  m -> IO.puts("GOT #{{inspect(m)}}")
after 10_000 -> IO.puts("GOT timeout")
end"#
    );
    let port = c.epmd_port;
    let sn = sname("x");
    let child = tokio::process::Command::new(elixir)
        .args(["--sname", &sn, "--cookie", COOKIE])
        .args(["--erl", "-start_epmd false"])
        .args(["-e", &script])
        .env("ERL_EPMD_PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start elixir");
    let got = inbox.recv(30).await;
    let from = got.as_tuple().unwrap()[1].as_pid().unwrap().clone();
    // Elixir's list includes us; the reply goes back to its pid.
    a.node()
        .send(&from, Term::atom("reply_from_ferrobeam"))
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("elixir finished")
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    assert!(text.contains("PING :pong"), "{text}");
    assert!(
        text.contains(&format!("LIST [:\"{me}\"]")) || text.contains(&format!("LIST [:{me}]")),
        "{text}"
    );
    assert!(text.contains("GOT :reply_from_ferrobeam"), "{text}");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_links_and_aliases_with_erl() {
    let Some(erl) = erl("monitors_links_and_aliases_with_erl") else {
        return;
    };
    let c = Cluster::new().await;
    let a = node(&c, "fb").await;
    let mut inbox = Mailbox::new(&a, Some("inbox"));
    let me = a.name().to_string();
    let port = c.epmd_port;
    let e = blocking(move || Erl::start(&erl, &sname("m"), port, COOKIE, &[])).await;
    let erl_name = e.name.clone();
    // erl monitors a ferrobeam process by name, and one that does not exist.
    let victim = a.node().spawn(|ctx| async move {
        let m = ctx.receive().await;
        Err::<(), Term>(m)
    });
    a.node().register("victim", &victim).unwrap();
    let m2 = me.clone();
    let (e, _) = with(e, move |e| {
        e.eval(&format!(
            "agent ! {{'$do', fun() -> erlang:monitor(process, {{victim, '{m2}'}}), erlang:monitor(process, {{nobody, '{m2}'}}) end}}"
        ))
    })
    .await;
    let (e, m) = with(e, |e| e.msg(Duration::from_secs(10))).await;
    let d = t(&m);
    let d = d.as_tuple().unwrap();
    assert!(d[0].is_atom("DOWN") && d[4].is_atom("noproc"), "{m}");
    assert_eq!(d[3], t(&format!("{{nobody,'{me}'}}")));
    a.node().send(&victim, t("{shutdown,bye}")).unwrap();
    let (e, m) = with(e, |e| e.msg(Duration::from_secs(10))).await;
    let d = t(&m);
    let d = d.as_tuple().unwrap();
    assert!(d[0].is_atom("DOWN"), "{m}");
    assert_eq!(d[3], t(&format!("{{victim,'{me}'}}")));
    assert_eq!(d[4], t("{shutdown,bye}"));
    // We monitor and link an erl process; it exits with a reason.
    let (e, _) = with(e, |e| {
        e.eval("register(doomed, spawn(fun() -> receive {die, R} -> exit(R) end end))")
    })
    .await;
    let en = Atom::new(&erl_name);
    let out = a
        .node()
        .run(move |ctx| async move {
            ctx.trap_exit(true);
            let r = ctx.monitor(ferrobeam::Dest::Remote(Atom::new("doomed"), en.clone()));
            let r2 = ctx.monitor(ferrobeam::Dest::Remote(Atom::new("ghost"), en.clone()));
            let noproc = ctx.receive_timeout(Duration::from_secs(5)).await;
            ctx.send(
                ferrobeam::Dest::Remote(Atom::new("doomed"), en.clone()),
                t("{die, {custom, reason}}"),
            )
            .unwrap();
            let down = ctx.receive_timeout(Duration::from_secs(5)).await;
            (r, r2, noproc, down)
        })
        .await
        .unwrap();
    let (r, r2, noproc, down) = out;
    let noproc = noproc.expect("DOWN noproc");
    assert_eq!(noproc.as_tuple().unwrap()[1].as_ref(), Some(&r2));
    assert!(noproc.as_tuple().unwrap()[4].is_atom("noproc"));
    let down = down.expect("DOWN");
    assert_eq!(down.as_tuple().unwrap()[1].as_ref(), Some(&r));
    assert_eq!(down.as_tuple().unwrap()[4], t("{custom,reason}"));
    // Link: erl links to our process, which exits. The LINK and the message that
    // follows it travel on the same connection, so the link is in place when the
    // message arrives.
    let m3 = me.clone();
    let (e, _) = with(e, move |e| {
        e.eval(&format!("register(trapper, spawn(fun() -> process_flag(trap_exit, true), receive {{link, P}} -> link(P), {{inbox, '{m3}'}} ! linked, receive M -> agent ! M end end end))"))
    })
    .await;
    let linked = a.node().spawn(|ctx| async move {
        let m = ctx.receive().await;
        Err::<(), Term>(m)
    });
    a.node()
        .send(
            ("trapper", erl_name.as_str()),
            Term::tuple(vec![Term::atom("link"), Term::Pid(linked.clone())]),
        )
        .unwrap();
    assert_eq!(inbox.recv(10).await, Term::atom("linked"));
    a.node().send(&linked, Term::atom("linked_death")).unwrap();
    let (e, m) = with(e, |e| e.msg(Duration::from_secs(10))).await;
    let x = t(&m);
    assert!(x.as_tuple().unwrap()[0].is_atom("EXIT"), "{m}");
    assert!(x.as_tuple().unwrap()[2].is_atom("linked_death"), "{m}");
    // Aliases both ways: erl replies to our alias, we reply to erl's.
    let (e, _) = with(e, |e| {
        e.eval("register(aliaser, spawn(fun() -> A = alias(), receive {reply, To} -> To ! {via_alias, A}, receive M -> agent ! {got, M} end end end))")
    })
    .await;
    let en = Atom::new(&erl_name);
    let got = a
        .node()
        .run(move |ctx| async move {
            let al = ctx.alias();
            ctx.send(
                ferrobeam::Dest::Remote(Atom::new("aliaser"), en.clone()),
                Term::tuple(vec![Term::atom("reply"), Term::from(al.clone())]),
            )
            .unwrap();
            let m = ctx
                .receive_timeout(Duration::from_secs(5))
                .await
                .expect("via alias");
            let their = m.as_tuple().unwrap()[1].as_ref().unwrap().clone();
            ctx.send(ferrobeam::Dest::Alias(their), Term::atom("alias_reply"))
                .unwrap();
            m
        })
        .await
        .unwrap();
    assert!(got.as_tuple().unwrap()[0].is_atom("via_alias"));
    let (_e, m) = with(e, |e| e.msg(Duration::from_secs(10))).await;
    assert_eq!(m, "{got,alias_reply}");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_connects_with_erl() {
    let Some(erl) = erl("simultaneous_connects_with_erl") else {
        return;
    };
    let c = Cluster::new().await;
    let a = node(&c, "fb").await;
    let mut watch = Mailbox::new(&a, None);
    a.monitor_nodes(&watch.pid, true, MonitorNodesOptions::default());
    let me = a.name().to_string();
    let port = c.epmd_port;
    let mut e = blocking(move || Erl::start(&erl, &sname("sim"), port, COOKIE, &[])).await;
    let erl_name = e.name.clone();
    for round in 0..8 {
        // erl dials us while we dial it.
        writeln!(e.stdin, "net_kernel:connect_node('{me}').").unwrap();
        e.stdin.flush().unwrap();
        assert!(a.connect(&erl_name).await, "round {round}");
        let (e2, r) = with(e, |e| e.next_line("R ", Duration::from_secs(10))).await;
        e = e2;
        assert_eq!(r, "true", "round {round}");
        assert!(watch.recv(5).await.as_tuple().unwrap()[0].is_atom("nodeup"));
        assert_eq!(watch.try_recv(300).await, None, "round {round}: flapping");
        assert_eq!(a.ping(&erl_name).await, Ping::Pong);
        let (e2, n) = with(e, |e| e.eval("length(nodes())")).await;
        e = e2;
        assert_eq!(n, "1");
        assert!(a.disconnect(&erl_name));
        assert!(watch.recv(5).await.as_tuple().unwrap()[0].is_atom("nodedown"));
        let (e2, _) = with(e, |e| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while e.eval("nodes()") != "[]" && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await;
        e = e2;
    }
    a.shutdown().await;
}
