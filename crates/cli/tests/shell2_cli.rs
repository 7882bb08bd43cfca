//! `ferrobeam shell`'s process commands, with shells as OS processes: spawn (with the
//! output coming back to the caller's shell), spawn_link and spawn_monitor, link,
//! unlink, trap_exit, exit, monitor and demonitor, GenServer call and cast, between two
//! shells and with `erl` and `elixir` peers.

#[path = "shell_support.rs"]
mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// Runs `line` and returns its output lines until one satisfies `done`, with the other
/// lines printed meanwhile (remote output can come before or after a command's own).
fn cmd_until(s: &mut Shell, line: &str, n: usize) -> Vec<String> {
    s.send_line(line);
    (0..n).map(|_| s.line(Duration::from_secs(15))).collect()
}

/// `<N.Id.Serial>` in a line.
fn is_pid(l: &str) -> bool {
    l.starts_with('<') && l.ends_with('>') && l.matches('.').count() == 2
}

#[test]
fn spawn_link_monitor_exit_call_and_cast_between_shells() {
    let (_epmd, port) = epmd();
    let mut a = Shell::start(port, &["--sname", "alex", "--cookie", COOKIE]);
    let mut b = Shell::start(port, &["--sname", "kate", "--cookie", COOKIE]);
    let k = b.name.clone();
    // Remote spawn: the process runs on kate, its output comes out of alex's shell.
    let out = cmd_until(&mut a, &format!("spawn {k} demo hello"), 2);
    assert!(
        out.iter().any(|l| is_pid(l) && l.starts_with("<1.")),
        "{out:?}"
    );
    assert!(out.contains(&format!("hello from {k}")), "{out:?}");
    let out = cmd_until(
        &mut a,
        &format!("spawn {k} demo print [<<\"hi there\">>]"),
        2,
    );
    assert!(out.contains(&"hi there".to_string()), "{out:?}");
    // kate printed none of it.
    assert_eq!(b.cmd("node"), k);
    // An unknown function is refused.
    assert_eq!(
        a.cmd(&format!("spawn {k} demo nope")),
        "error: spawn failed: badarg"
    );
    // spawn_monitor: DOWN with the real reason.
    let r = a.cmd(&format!("spawn_monitor {k} demo wait"));
    let (pid, mref) = r
        .trim_start_matches('{')
        .trim_end_matches('}')
        .split_once(',')
        .unwrap_or_else(|| panic!("{r}"));
    let (pid, mref) = (pid.to_string(), mref.to_string());
    a.cmd(&format!("send {pid} {{shutdown, done}}"));
    assert_eq!(
        a.cmd("receive 5000"),
        format!("{{'DOWN',{mref},process,{pid},{{shutdown,done}}}}")
    );
    // spawn_link with trap_exit, and exit/2 with kill: killed.
    assert_eq!(a.cmd("trap_exit true"), "false");
    let p = a.cmd(&format!("spawn_link {k} demo wait"));
    assert!(is_pid(&p), "{p}");
    assert_eq!(a.cmd(&format!("exit {p} kill")), "true");
    assert_eq!(a.cmd("receive 5000"), format!("{{'EXIT',{p},killed}}"));
    // link to a running process; its exit comes as a message.
    let p = a.cmd(&format!("spawn {k} demo wait"));
    assert_eq!(a.cmd(&format!("link {p}")), "true");
    a.cmd(&format!("send {p} boom"));
    assert_eq!(a.cmd("receive 5000"), format!("{{'EXIT',{p},boom}}"));
    // unlink: the exit no longer comes.
    let p = a.cmd(&format!("spawn {k} demo wait"));
    assert_eq!(a.cmd(&format!("link {p}")), "true");
    assert_eq!(a.cmd(&format!("unlink {p}")), "true");
    a.cmd(&format!("send {p} boom"));
    assert_eq!(a.cmd("receive 500"), "timeout");
    // monitor and demonitor.
    let p = a.cmd(&format!("spawn {k} demo wait"));
    let r = a.cmd(&format!("monitor {p}"));
    assert_eq!(a.cmd(&format!("demonitor {r}")), "true");
    assert!(a.cmd(&format!("demonitor {r}")).starts_with("error:"));
    a.cmd(&format!("send {p} bye"));
    assert_eq!(a.cmd("receive 500"), "timeout");
    // A monitor of a process that is gone: noproc at once.
    let r = a.cmd(&format!("monitor {p}"));
    assert_eq!(
        a.cmd("receive 2000"),
        format!("{{'DOWN',{r},process,{p},noproc}}")
    );
    // GenServer calls: kate's net_kernel and rex, a missing name, and a cast.
    assert_eq!(
        a.cmd(&format!("call {{net_kernel, {k}}} {{is_auth, {}}}", a.name)),
        "yes"
    );
    let user = a.cmd("whereis user");
    assert!(user.starts_with("<0."), "{user}");
    assert_eq!(
        a.cmd(&format!(
            "call {{rex, {k}}} {{call, demo, add, [1, 2], {user}}} 3000"
        )),
        "3"
    );
    let started = Instant::now();
    let err = a.cmd(&format!("call {{nobody, {k}}} hello"));
    assert_eq!(
        err,
        format!("error: exit {{noproc,{{gen_server,call,[{{nobody,{k}}},hello]}}}}")
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let out = cmd_until(
        &mut a,
        &format!("cast {{rex, {k}}} {{cast, demo, print, [<<\"cast output\">>], {user}}}"),
        2,
    );
    assert!(out.contains(&"ok".to_string()), "{out:?}");
    assert!(out.contains(&"cast output".to_string()), "{out:?}");
    // exit/2 with a reason to a trapping shell: a message.
    assert_eq!(b.cmd("trap_exit true"), "false");
    let bp = b.cmd("self").replacen("<0.", "<1.", 1);
    assert_eq!(a.cmd(&format!("exit {bp} please")), "true");
    let got = b.cmd("receive 3000");
    assert!(
        got.starts_with("{'EXIT',<1.") && got.ends_with(",please}"),
        "{got}"
    );
    let me = a.cmd("self");
    // demo:echo through rpc sends back to us.
    let kp = a.cmd(&format!(
        "call {{rex, {k}}} {{call, demo, echo, [{me}, ok], {user}}}"
    ));
    assert_eq!(kp, "ok");
    assert_eq!(a.cmd("receive 2000"), "ok");
    assert!(a.quit());
    assert!(b.quit());
}

#[test]
fn shell_with_erl_spawn_both_ways_link_and_exit() {
    let Some(erl) = beam_tool("erl", "shell_with_erl_spawn_both_ways_link_and_exit") else {
        return;
    };
    let (_epmd, port) = epmd();
    let mut a = Shell::start(port, &["--sname", "fbsh", "--cookie", COOKIE]);
    let me = a.name.clone();
    let sname = format!("erlsh{}", std::process::id());
    // erl spawns the shell node's demo function; its output is erl's.
    let script = format!(
        "P = spawn('{me}', demo, hello, []), io:format(\"SPAWNED ~w~n\", [node(P) =:= '{me}']), \
         register(waiter, spawn(fun() -> receive M -> exit(M) end end)), \
         io:format(\"READY~n\"), receive after 20000 -> halt() end."
    );
    let mut child = Command::new(&erl)
        .args([
            "-sname",
            &sname,
            "-setcookie",
            COOKIE,
            "-noshell",
            "-start_epmd",
            "false",
        ])
        .args(["-eval", &script])
        .env("ERL_EPMD_PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start erl");
    let stdout = child.stdout.take().unwrap();
    let _g = Guard(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("[erl] {l}");
            let _ = tx.send(l);
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.iter().any(|l: &String| l == "READY") {
        let left = deadline.saturating_duration_since(Instant::now());
        seen.push(rx.recv_timeout(left).expect("erl output"));
    }
    assert!(seen.contains(&"SPAWNED true".to_string()), "{seen:?}");
    assert!(seen.contains(&format!("hello from {me}")), "{seen:?}");
    let host = me.split('@').nth(1).unwrap().to_string();
    let en = format!("{sname}@{host}");
    // The shell spawns io:format on erl: the text comes out of the shell.
    let out = cmd_until(
        &mut a,
        &format!("spawn {en} io format [\"hi from erl~n\"]"),
        2,
    );
    assert!(out.contains(&"hi from erl".to_string()), "{out:?}");
    // Monitor and exit/2 kill an erl process.
    let p = a.cmd(&format!("spawn {en} timer sleep [60000]"));
    let r = a.cmd(&format!("monitor {p}"));
    assert_eq!(a.cmd(&format!("exit {p} kill")), "true");
    assert_eq!(
        a.cmd("receive 5000"),
        format!("{{'DOWN',{r},process,{p},killed}}")
    );
    // Link to erl's registered waiter, which exits with our message as its reason.
    assert_eq!(a.cmd("trap_exit true"), "false");
    let w = a.cmd(&format!(
        "call {{rex, {en}}} {{call, erlang, whereis, [waiter], user}}"
    ));
    assert!(is_pid(&w), "{w}");
    assert_eq!(a.cmd(&format!("link {w}")), "true");
    a.cmd(&format!("send {{waiter, {en}}} {{custom, reason}}"));
    assert_eq!(
        a.cmd("receive 5000"),
        format!("{{'EXIT',{w},{{custom,reason}}}}")
    );
    assert!(a.quit());
}

#[test]
fn shell_calls_and_casts_an_elixir_genserver_and_sees_its_node_die() {
    let Some(elixir) = beam_tool(
        "elixir",
        "shell_calls_and_casts_an_elixir_genserver_and_sees_its_node_die",
    ) else {
        return;
    };
    let (_epmd, port) = epmd();
    let mut a = Shell::start(port, &["--sname", "fbgs", "--cookie", COOKIE]);
    assert_eq!(a.cmd("register inbox"), "true");
    let me = a.name.clone();
    let sname = format!("exgs{}", std::process::id());
    let script = format!(
        r#"defmodule Counter do
  use GenServer
  def init(n), do: {{:ok, n}}
  def handle_call(:get, _from, n), do: {{:reply, n, n}}
  def handle_call({{:add, k}}, _from, n), do: {{:reply, n + k, n + k}}
  def handle_call({{:sleep, ms}}, _from, n) do
    Process.sleep(ms)
    {{:reply, :slept, n}}
  end
  def handle_cast({{:add, k}}, n), do: {{:noreply, n + k}}
end
{{:ok, _}} = GenServer.start(Counter, 0, name: :counter)
send({{:inbox, :"{me}"}}, {{:ready, node()}})
Process.sleep(:infinity)"#
    );
    let child = Command::new(&elixir)
        .args(["--sname", &sname, "--cookie", COOKIE])
        .args(["--erl", "-start_epmd false"])
        .args(["-e", &script])
        .env("ERL_EPMD_PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start elixir");
    let mut g = Guard(child);
    let ready = a.cmd("receive 30000");
    assert!(ready.starts_with("{ready,"), "{ready}");
    let en = ready
        .trim_start_matches("{ready,")
        .trim_end_matches('}')
        .to_string();
    assert_eq!(a.cmd(&format!("call {{counter, {en}}} {{add, 5}}")), "5");
    assert_eq!(a.cmd(&format!("cast {{counter, {en}}} {{add, 10}}")), "ok");
    assert_eq!(a.cmd(&format!("call {{counter, {en}}} get")), "15");
    let err = a.cmd(&format!("call {{nobody, {en}}} get 3000"));
    assert!(err.starts_with("error: exit {noproc,"), "{err}");
    // A call in progress when the node dies: {nodedown, Node}.
    a.send_line(&format!("call {{counter, {en}}} {{sleep, 10000}} 15000"));
    std::thread::sleep(Duration::from_millis(700));
    let _ = g.0.kill();
    let t0 = Instant::now();
    let err = a.line(Duration::from_secs(10));
    assert!(
        err.starts_with(&format!("error: exit {{{{nodedown,{en}}},")),
        "{err}"
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
    let _ = std::io::stderr().flush();
    assert!(a.quit());
}
