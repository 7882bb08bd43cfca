//! `ferrobeam shell` driven through pipes, as separate OS processes: seed 001's
//! walkthrough between two shells and with Elixir/Erlang on the other side, a
//! SIGSTOPped peer, simultaneous connects, hidden shells, bad commands.

#[path = "shell_support.rs"]
mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

#[test]
fn seed_001_between_two_shells() {
    let (_epmd, port) = epmd();
    let mut chip = Shell::start(port, &["--sname", "chip", "--cookie", COOKIE]);
    let mut dale = Shell::start(port, &["--sname", "dale", "--cookie", COOKIE]);
    let (c, d) = (chip.name.clone(), dale.name.clone());
    assert_eq!(dale.cmd("nodes"), "[]");
    assert_eq!(dale.cmd(&format!("connect {c}")), "true");
    assert_eq!(dale.cmd("nodes"), format!("[{c}]"));
    assert_eq!(dale.cmd(&format!("disconnect {c}")), "true");
    assert_eq!(dale.cmd("nodes"), "[]");
    assert_eq!(chip.cmd("register my_iex"), "true");
    assert_eq!(
        dale.cmd(&format!("send {{my_iex, {c}}} hello_from_dale")),
        "hello_from_dale"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let got = loop {
        let got = chip.flush();
        if !got.is_empty() || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(got, vec!["hello_from_dale".to_string()]);
    assert_eq!(chip.cmd("nodes"), format!("[{d}]"));
    // Pids travel and are typed back with their node number.
    assert_eq!(chip.cmd("whereis my_iex"), chip.cmd("self"));
    let r = dale.cmd(&format!("send {{my_iex, {c}}} {{from, <0.1.0>, dale}}"));
    assert_eq!(r, "{from,<0.1.0>,dale}");
    let m = chip.cmd("receive 5000");
    assert_eq!(m, "{from,<1.1.0>,dale}");
    assert_eq!(
        chip.cmd("send <1.1.0> back_to_dale_net_kernel"),
        "back_to_dale_net_kernel"
    );
    // Monitor {my_iex, chip} from dale, then kill chip: DOWN with noconnection.
    let r = dale.cmd(&format!("monitor {{my_iex, {c}}}"));
    assert!(r.starts_with("#Ref<"), "{r}");
    std::thread::sleep(Duration::from_millis(200));
    drop(chip);
    let down = dale.cmd("receive 10000");
    assert_eq!(
        down,
        format!("{{'DOWN',{r},process,{{my_iex,{c}}},noconnection}}")
    );
    assert!(dale.quit());
}

#[test]
fn bad_commands_print_errors_and_the_shell_goes_on() {
    let (_epmd, port) = epmd();
    let mut s = Shell::start(port, &["--sname", "errs", "--cookie", COOKIE]);
    assert!(s.cmd("bogus").starts_with("error: unknown command"));
    assert!(s.cmd("send {x").starts_with("error:"));
    assert!(s.cmd("send nobody hello").starts_with("error: badarg"));
    assert!(s.cmd("register 42").starts_with("error:"));
    assert!(s.cmd("receive soon").starts_with("error:"));
    assert!(s.cmd("nodes sideways").starts_with("error:"));
    assert!(s
        .cmd("send <7.1.1> x")
        .starts_with("error: no node is numbered 7"));
    assert_eq!(s.cmd("receive 10"), "timeout");
    assert_eq!(s.cmd("register me"), "true");
    assert!(s.cmd("register me").starts_with("error: badarg"));
    assert_eq!(
        s.cmd("send me {a, \"b\", <<\"c\">>, #{d => 1.5}}"),
        "{a,\"b\",<<\"c\">>,#{d => 1.5}}"
    );
    assert_eq!(s.cmd("receive"), "{a,\"b\",<<\"c\">>,#{d => 1.5}}");
    assert_eq!(s.cmd("unregister me"), "true");
    assert_eq!(s.cmd("whereis me"), "undefined");
    assert_eq!(s.cmd("cookie"), COOKIE);
    assert_eq!(s.cmd("cookie other"), "true");
    assert_eq!(s.cmd("cookie"), "other");
    s.send_line("help");
    assert!(s.line(Duration::from_secs(5)).starts_with("commands"));
    assert!(s.quit());
}

#[test]
fn stopped_shell_is_dropped_within_net_ticktime() {
    let (_epmd, port) = epmd();
    let tick = ["--net-ticktime", "2"];
    let chip = Shell::start(
        port,
        &["--sname", "chip", "--cookie", COOKIE, tick[0], tick[1]],
    );
    let mut dale = Shell::start(
        port,
        &["--sname", "dale", "--cookie", COOKIE, tick[0], tick[1]],
    );
    let c = chip.name.clone();
    assert_eq!(dale.cmd("monitor_nodes on nodedown_reason"), "ok");
    assert_eq!(dale.cmd(&format!("ping {c}")), "pong");
    assert_eq!(dale.cmd("receive 1000"), format!("{{nodeup,{c},[]}}"));
    // Quiet for longer than net_ticktime: ticks keep the connection.
    assert_eq!(dale.cmd("receive 3000"), "timeout");
    signal(chip.pid(), "-STOP");
    let t0 = Instant::now();
    let down = dale.cmd("receive 8000");
    let took = t0.elapsed();
    signal(chip.pid(), "-CONT");
    assert_eq!(
        down,
        format!("{{nodedown,{c},[{{nodedown_reason,net_tick_timeout}}]}}")
    );
    assert!(took < Duration::from_millis(2800), "{took:?}");
    drop(chip);
    assert!(dale.quit());
}

#[test]
fn simultaneous_connects_between_os_processes() {
    let (_epmd, port) = epmd();
    let mut a = Shell::start(port, &["--sname", "sima", "--cookie", COOKIE]);
    let mut b = Shell::start(port, &["--sname", "simb", "--cookie", COOKIE]);
    let (an, bn) = (a.name.clone(), b.name.clone());
    assert_eq!(a.cmd("monitor_nodes on"), "ok");
    assert_eq!(b.cmd("monitor_nodes on"), "ok");
    for round in 0..6 {
        a.send_line(&format!("connect {bn}"));
        b.send_line(&format!("connect {an}"));
        assert_eq!(a.line(Duration::from_secs(10)), "true", "round {round}");
        assert_eq!(b.line(Duration::from_secs(10)), "true", "round {round}");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(a.flush(), vec![format!("{{nodeup,{bn}}}")], "round {round}");
        assert_eq!(b.flush(), vec![format!("{{nodeup,{an}}}")], "round {round}");
        assert_eq!(a.cmd("nodes"), format!("[{bn}]"));
        assert_eq!(b.cmd("nodes"), format!("[{an}]"));
        assert_eq!(a.cmd(&format!("ping {bn}")), "pong");
        assert_eq!(a.cmd(&format!("disconnect {bn}")), "true");
        assert_eq!(a.cmd("receive 5000"), format!("{{nodedown,{bn}}}"));
        assert_eq!(b.cmd("receive 5000"), format!("{{nodedown,{an}}}"));
    }
    assert!(a.quit());
    assert!(b.quit());
}

#[test]
fn hidden_shell() {
    let (_epmd, port) = epmd();
    let mut v = Shell::start(port, &["--sname", "vis", "--cookie", COOKIE]);
    let mut h = Shell::start(port, &["--sname", "hid", "--cookie", COOKIE, "--hidden"]);
    assert_eq!(h.cmd(&format!("ping {}", v.name)), "pong");
    assert_eq!(h.cmd("nodes"), "[]");
    assert_eq!(h.cmd("nodes hidden"), format!("[{}]", v.name));
    assert_eq!(v.cmd("nodes"), "[]");
    assert_eq!(v.cmd("nodes hidden"), format!("[{}]", h.name));
    assert_eq!(
        v.cmd("nodes this connected"),
        format!("[{},{}]", v.name, h.name)
    );
    assert!(h.quit());
    assert!(v.quit());
}

/// Seed 001 with Elixir as dale: `Node.connect`, `Node.list`, `Node.disconnect`, a send
/// to `{:my_iex, chip}` that reconnects, and a monitor that fires with `noconnection`
/// when chip (the ferrobeam shell) is killed.
#[test]
fn seed_001_with_elixir() {
    let Some(elixir) = beam_tool("elixir", "seed_001_with_elixir") else {
        return;
    };
    let (_epmd, port) = epmd();
    let mut chip = Shell::start(port, &["--sname", "chip", "--cookie", COOKIE]);
    let c = chip.name.clone();
    assert_eq!(chip.cmd("register my_iex"), "true");
    let script = format!(
        r#"chip = :"{c}"
IO.puts("LIST1 #{{inspect(Node.list())}}")
IO.puts("CONNECT #{{inspect(Node.connect(chip))}}")
IO.puts("LIST2 #{{inspect(Node.list())}}")
IO.puts("DISCONNECT #{{inspect(Node.disconnect(chip))}}")
IO.puts("LIST3 #{{inspect(Node.list())}}")
send({{:my_iex, chip}}, :hello_from_dale)
IO.puts("SENT")
ref = Process.monitor({{:my_iex, chip}})
IO.puts("MONITOR")
IO.read(:stdio, :line)
receive do
  {{:DOWN, ^ref, :process, obj, reason}} -> IO.puts("DOWN #{{inspect(obj)}} #{{inspect(reason)}}")
after 10_000 -> IO.puts("DOWN timeout")
end"#
    );
    let mut child = Guard(
        Command::new(elixir)
            .args([
                "--sname",
                &format!("dale{}", std::process::id()),
                "--cookie",
                COOKIE,
            ])
            .args(["--erl", "-start_epmd false"])
            .args(["-e", &script])
            .env("ERL_EPMD_PORT", port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start elixir"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("[elixir] {l}");
            let _ = tx.send(l);
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(30))
            .expect("elixir output")
    };
    assert_eq!(next(), "LIST1 []");
    assert_eq!(next(), "CONNECT true");
    assert_eq!(next(), format!("LIST2 [:{c}]"));
    assert_eq!(next(), "DISCONNECT true");
    assert_eq!(next(), "LIST3 []");
    assert_eq!(next(), "SENT");
    assert_eq!(next(), "MONITOR");
    let got = chip.flush();
    let got = if got.is_empty() {
        vec![chip.cmd("receive 5000")]
    } else {
        got
    };
    assert_eq!(got, vec!["hello_from_dale".to_string()]);
    assert!(chip.cmd("nodes").starts_with("[dale"));
    // Kill chip; the monitor in Elixir fires with noconnection.
    drop(chip);
    writeln!(child.0.stdin.as_mut().unwrap(), "go").unwrap();
    assert_eq!(next(), format!("DOWN {{:my_iex, :{c}}} :noconnection"));
}

/// Seed 001 the other way round: `erl` is chip (its shell process registered as
/// `my_iex`), the ferrobeam shell is dale.
#[test]
fn seed_001_with_erl_as_chip() {
    let Some(erl) = beam_tool("erl", "seed_001_with_erl_as_chip") else {
        return;
    };
    let (_epmd, port) = epmd();
    let sname = format!("chip{}", std::process::id());
    let script = "register(my_iex, self()), io:format(\"READY~n\"), \
        receive M -> io:format(\"GOT ~w~n\", [M]) end, \
        io:format(\"NODES ~w~n\", [nodes()]), \
        receive stop -> ok end.";
    let mut erl = Guard(
        Command::new(erl)
            .args(["-sname", &sname, "-setcookie", COOKIE, "-noshell"])
            .args(["-start_epmd", "false", "-eval", script])
            .env("ERL_EPMD_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start erl"),
    );
    let stdout = erl.0.stdout.take().unwrap();
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
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), "READY");
    let mut dale = Shell::start(port, &["--sname", "dale", "--cookie", COOKIE]);
    let c = format!("{sname}@{}", dale.name.split('@').nth(1).unwrap());
    assert_eq!(dale.cmd(&format!("connect {c}")), "true");
    assert_eq!(dale.cmd("nodes"), format!("[{c}]"));
    assert_eq!(dale.cmd(&format!("disconnect {c}")), "true");
    assert_eq!(dale.cmd("nodes"), "[]");
    assert_eq!(
        dale.cmd(&format!("send {{my_iex, {c}}} hello_from_dale")),
        "hello_from_dale"
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "GOT hello_from_dale"
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        format!("NODES [{}]", dale.name)
    );
    assert_eq!(dale.cmd(&format!("monitor_node {c}")), "true");
    drop(erl);
    assert_eq!(dale.cmd("receive 10000"), format!("{{nodedown,{c}}}"));
    assert!(dale.quit());
}
