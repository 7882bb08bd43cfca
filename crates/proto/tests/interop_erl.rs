//! Interop with a real Erlang/OTP node: the sans-IO initiator handshakes over a plain
//! `TcpStream` with an `erl` node registered in a real `epmd` on a private port, sends
//! a REG_SEND to a registered process, and checks the process's reply.
//!
//! Skipped with a notice when `erl` is missing, unless `FERROBEAM_REQUIRE_ERLANG=1`,
//! in which case it fails.

use bytes::Bytes;
use ferrobeam_proto::control::ControlMessage;
use ferrobeam_proto::dist_header::{DistReceiver, DistSender, SendMode};
use ferrobeam_proto::epmd::{AliveResp, NodeInfo, Port2Resp, Request};
use ferrobeam_proto::flags;
use ferrobeam_proto::framing::{Frame, FrameDecoder};
use ferrobeam_proto::handshake::{
    accept_status, AcceptStatus, Config, Cookie, Event, ExistingConnection, Handshake, PeerName,
};
use ferrobeam_term::{Atom, Pid, Term};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Kills and reaps a child process this test started, when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn erlang_available() -> bool {
    let erl = Command::new("erl")
        .args(["-noshell", "-eval", "halt()."])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    // `epmd -help` exits non-zero; it is enough that it runs.
    let epmd = Command::new("epmd").arg("-help").output().is_ok();
    if !(erl && epmd) {
        if std::env::var("FERROBEAM_REQUIRE_ERLANG").as_deref() == Ok("1") {
            panic!("erl/epmd not found and FERROBEAM_REQUIRE_ERLANG=1");
        }
        // Written to the real stderr, past the test harness's capture, so it shows.
        let _ = std::io::stderr()
            .write_all(b"NOTICE: erl/epmd not found; skipping the real-Erlang interop test\n");
        return false;
    }
    true
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn start_epmd() -> (Guard, u16) {
    let port = free_port();
    let child = Command::new("epmd")
        .args(["-port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start epmd");
    let guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "epmd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (guard, port)
}

/// The probe: a registered process that answers `{echo, From, Bin}` with
/// `{echo_reply, Size, MD5, Bin}` and prints what it got.
const PROBE: &str = r#"
Loop = fun Loop() ->
    receive
        {echo, From, Bin} = M ->
            io:format("GOT ~p~n", [byte_size(Bin)]),
            From ! {echo_reply, byte_size(Bin), erlang:md5(Bin), Bin},
            Loop();
        Other ->
            io:format("OTHER ~p~n", [Other]),
            Loop()
    end
end,
register(probe, spawn(Loop)),
io:format("READY ~s~n", [node()]).
"#;

struct ErlNode {
    _guard: Guard,
    name: String,
    lines: mpsc::Receiver<String>,
}

fn start_erl(epmd_port: u16, cookie: &str, eval: &str) -> ErlNode {
    let sname = format!("fbprobe{}x{}", std::process::id(), epmd_port);
    let mut child = Command::new("erl")
        .env("ERL_EPMD_PORT", epmd_port.to_string())
        .args([
            "-sname",
            &sname,
            "-setcookie",
            cookie,
            "-noshell",
            "-start_epmd",
            "false",
            "-eval",
            eval,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start erl");
    let stdout = child.stdout.take().expect("stdout");
    let guard = Guard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            eprintln!("erl: {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let name = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("erl did not start");
        if let Some(n) = line.strip_prefix("READY ") {
            break n.trim().to_string();
        }
    };
    ErlNode {
        _guard: guard,
        name,
        lines: rx,
    }
}

fn port_please(epmd_port: u16, name: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", epmd_port)).expect("connect epmd");
    let req = Request::PortPlease2 { name: name.into() }
        .encode()
        .expect("encode");
    s.write_all(&req).expect("write epmd");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read epmd");
    match Port2Resp::decode(&buf).expect("decode").expect("complete") {
        (Port2Resp::Found(info), _) => info.port,
        (other, _) => panic!("node not found in epmd: {other:?}"),
    }
}

/// Handshakes as `rust@host` with `our_flags`, sends `{echo, Self, Bin}` to `probe`,
/// and returns the negotiated flags, the reply message, and how many packets of each
/// kind arrived: pass-through, normal header, first fragment, later fragment.
fn echo_through_real_erl(our_flags: u64, payload: Vec<u8>) -> (u64, Term, [usize; 4]) {
    let cookie = "interop_cookie";
    let (_epmd, epmd_port) = start_epmd();
    let node = start_erl(epmd_port, cookie, PROBE);
    let (alive, host) = node.name.split_once('@').expect("node name");
    let port = port_please(epmd_port, alive);

    let mut sock = TcpStream::connect(("127.0.0.1", port)).expect("connect node");
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    sock.set_nodelay(true).unwrap();
    let our_name = Atom::new(&format!("rust{}@{host}", std::process::id()));
    let mut cfg = Config::new(our_name.clone(), Cookie::new(cookie), 0x5eed_1234);
    cfg.flags = our_flags;
    cfg.creation = 0x0102_0304;
    let mut hs = Handshake::initiator(cfg, Atom::new(&node.name)).expect("initiator");

    let mut buf = vec![0u8; 64 * 1024];
    let completed = loop {
        while let Some(out) = hs.poll_transmit() {
            sock.write_all(&out).unwrap();
        }
        if let Some(ev) = hs.poll_event() {
            match ev {
                Event::Completed(c) => break c,
                other => panic!("unexpected handshake event {other:?}"),
            }
        }
        let n = sock.read(&mut buf).expect("read handshake");
        assert!(n > 0, "erl closed the connection during the handshake");
        hs.feed(&buf[..n]).expect("handshake");
    };
    assert_eq!(completed.peer_name, node.name.as_str());
    assert!(completed.is_hidden());
    let negotiated = completed.flags;

    let me = Pid::new(our_name.clone(), 42, 0, 0x0102_0304);
    let mut sender = DistSender::new(negotiated);
    let msg = ControlMessage::RegSend {
        from: me.clone(),
        to: Atom::new("probe"),
        message: Term::tuple(vec![
            Term::atom("echo"),
            Term::Pid(me.clone()),
            Term::binary(payload.clone()),
        ]),
    };
    let mut out = Vec::new();
    msg.encode(&mut sender, &mut out).expect("encode");
    sock.write_all(&out).unwrap();

    let mut frames = FrameDecoder::new();
    frames.push(&hs.take_leftover());
    let mut receiver = DistReceiver::default();
    let mut kinds = [0usize; 4];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        while let Some(f) = frames.next_frame() {
            let body: Bytes = match f.expect("frame") {
                Frame::Tick => continue,
                Frame::Data(b) => b,
            };
            match (body[0], body.get(1)) {
                (112, _) => kinds[0] += 1,
                (131, Some(68)) => kinds[1] += 1,
                (131, Some(69)) => kinds[2] += 1,
                (131, Some(70)) => kinds[3] += 1,
                _ => {}
            }
            let Some(rx) = receiver.receive(body).expect("dist packet") else {
                continue;
            };
            let ctl = ControlMessage::from_term(rx.control, rx.message).expect("control message");
            match ctl {
                ControlMessage::SendSender { to, message, .. }
                | ControlMessage::Send { to, message }
                    if to == me =>
                {
                    // The probe prints before it replies, but its output may
                    // reach us after the reply does.
                    let want = format!("GOT {}", payload.len());
                    let mut seen = Vec::new();
                    while !seen.contains(&want) {
                        match node.lines.recv_timeout(Duration::from_secs(10)) {
                            Ok(l) => seen.push(l),
                            Err(_) => panic!("erl did not report the message: {seen:?}"),
                        }
                    }
                    return (negotiated, message, kinds);
                }
                other => eprintln!("ignoring {}", other.name()),
            }
        }
        assert!(Instant::now() < deadline, "no reply from erl");
        let n = sock.read(&mut buf).expect("read");
        assert!(n > 0, "erl closed the connection");
        frames.push(&buf[..n]);
    }
}

fn check_reply(reply: &Term, payload: &[u8]) {
    let t = reply.as_tuple().expect("tuple reply");
    assert_eq!(t.len(), 4);
    assert!(t[0].is_atom("echo_reply"));
    assert_eq!(t[1].as_int(), Some(payload.len() as i64));
    assert_eq!(t[3].as_binary().map(|b| &b[..]), Some(payload));
}

#[test]
fn real_erl_pass_through() {
    if !erlang_available() {
        return;
    }
    // No DIST_HDR_ATOM_CACHE and no FRAGMENTS: both directions use pass-through packets.
    let payload = b"hello from rust".to_vec();
    let (negotiated, reply, kinds) =
        echo_through_real_erl(flags::DEFAULT & !flags::HEADER_FLAGS, payload.clone());
    assert_eq!(DistSender::new(negotiated).mode(), SendMode::PassThrough);
    assert!(kinds[0] >= 1 && kinds[1..] == [0, 0, 0], "{kinds:?}");
    check_reply(&reply, &payload);
}

#[test]
fn real_erl_atom_cache_and_fragments() {
    if !erlang_available() {
        return;
    }
    // With the header and fragments: we send 200 KiB in 64 KiB fragments, and the node
    // echoes it back with its atom cache and its own fragments.
    let payload: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
    let (negotiated, reply, kinds) = echo_through_real_erl(
        flags::DEFAULT | flags::DIST_HDR_ATOM_CACHE | flags::FRAGMENTS,
        payload.clone(),
    );
    assert_eq!(DistSender::new(negotiated).mode(), SendMode::Fragments);
    // 200 KiB comes back as one first fragment and three more.
    assert_eq!(kinds[0], 0, "{kinds:?}");
    assert!(kinds[2] == 1 && kinds[3] == 3, "{kinds:?}");
    check_reply(&reply, &payload);
}

#[test]
fn real_erl_header_with_only_one_of_the_two_flags() {
    if !erlang_available() {
        return;
    }
    // BEAM uses the distribution header when either flag is negotiated.
    let payload: Vec<u8> = (0..100 * 1024).map(|i| (i % 13) as u8).collect();
    for (extra, mode) in [
        (flags::FRAGMENTS, SendMode::Fragments),
        (flags::DIST_HDR_ATOM_CACHE, SendMode::Header),
    ] {
        let (negotiated, reply, kinds) = echo_through_real_erl(
            (flags::DEFAULT & !flags::HEADER_FLAGS) | extra,
            payload.clone(),
        );
        assert_eq!(DistSender::new(negotiated).mode(), mode);
        assert_eq!(kinds[0], 0, "{mode:?}: {kinds:?}");
        if mode == SendMode::Header {
            assert_eq!(kinds[2..], [0, 0], "{kinds:?}");
        } else {
            assert_eq!(kinds[2..], [1, 1], "{kinds:?}");
        }
        check_reply(&reply, &payload);
    }
}

#[test]
fn real_erl_dials_our_acceptor() {
    if !erlang_available() {
        return;
    }
    let cookie = "interop_cookie";
    let (_epmd, epmd_port) = start_epmd();

    // Listen and register with epmd, as a node does; the registration lives as long as
    // this socket.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let alive = format!("rustacc{}", std::process::id());
    let mut info = NodeInfo::new(alive.clone(), port);
    info.lowest_version = 6;
    let mut reg = TcpStream::connect(("127.0.0.1", epmd_port)).unwrap();
    reg.write_all(&Request::Alive2(info).encode().unwrap())
        .unwrap();
    let mut resp = [0u8; 6];
    reg.read_exact(&mut resp).unwrap();
    let (alive_resp, _) = AliveResp::decode(&resp).unwrap().unwrap();
    assert!(alive_resp.is_ok());
    let creation = alive_resp.creation();

    // The erl node dials us, sends {probe, Us} ! {hello, Self, <<"abc">>} and waits for
    // {reply, ok}.
    let host = {
        let out = Command::new("erl")
            .args(["-noshell", "-sname", "hostprobe", "-start_epmd", "false", "-eval"])
            .arg("io:format(\"~s\", [lists:nth(2, string:split(atom_to_list(node()), \"@\"))]), halt().")
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .output()
            .expect("erl");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let ours = format!("{alive}@{host}");
    let eval = format!(
        "io:format(\"READY ~s~n\", [node()]), \
         io:format(\"CONNECT ~p~n\", [net_kernel:connect_node('{ours}')]), \
         {{probe, '{ours}'}} ! {{hello, self(), <<\"abc\">>}}, \
         receive {{reply, R}} -> io:format(\"REPLY ~p~n\", [R]) \
         after 15000 -> io:format(\"TIMEOUT~n\") end."
    );
    let node = start_erl(epmd_port, cookie, &eval);

    listener.set_nonblocking(false).unwrap();
    let (mut sock, _) = listener.accept().unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let our_name = Atom::new(&ours);
    let mut cfg = Config::new(our_name.clone(), Cookie::new(cookie), 0x0bad_cafe);
    cfg.creation = creation;
    let mut hs = Handshake::acceptor(cfg).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let completed = loop {
        while let Some(out) = hs.poll_transmit() {
            sock.write_all(&out).unwrap();
        }
        match hs.poll_event() {
            Some(Event::PeerIdentified {
                name: PeerName::Node(peer),
                ..
            }) => {
                assert_eq!(peer, node.name.as_str());
                let st = accept_status(&our_name, &peer, ExistingConnection::None);
                assert_eq!(st, AcceptStatus::Ok);
                hs.accept(st).unwrap();
                continue;
            }
            Some(Event::Completed(c)) => break c,
            Some(other) => panic!("unexpected {other:?}"),
            None => {}
        }
        let n = sock.read(&mut buf).expect("read handshake");
        assert!(n > 0, "erl closed the connection during the handshake");
        hs.feed(&buf[..n]).expect("handshake");
    };
    while let Some(out) = hs.poll_transmit() {
        sock.write_all(&out).unwrap();
    }
    assert_eq!(completed.peer_name, node.name.as_str());

    let mut frames = FrameDecoder::new();
    frames.push(&hs.take_leftover());
    let mut receiver = DistReceiver::default();
    let mut sender = DistSender::new(completed.flags);
    let deadline = Instant::now() + Duration::from_secs(20);
    'outer: loop {
        while let Some(f) = frames.next_frame() {
            let Frame::Data(body) = f.expect("frame") else {
                continue;
            };
            let Some(rx) = receiver.receive(body).expect("packet") else {
                continue;
            };
            match ControlMessage::from_term(rx.control, rx.message).expect("control") {
                ControlMessage::RegSend { to, message, .. } if to == "probe" => {
                    let t = message.as_tuple().expect("tuple").to_vec();
                    assert!(t[0].is_atom("hello"));
                    assert_eq!(t[2].as_binary().map(|b| &b[..]), Some(&b"abc"[..]));
                    let from = t[1].as_pid().expect("pid").clone();
                    let reply = ControlMessage::SendSender {
                        from: Pid::new(our_name.clone(), 1, 0, creation),
                        to: from,
                        message: Term::tuple(vec![Term::atom("reply"), Term::atom("ok")]),
                    };
                    let mut out = Vec::new();
                    reply.encode(&mut sender, &mut out).unwrap();
                    sock.write_all(&out).unwrap();
                    break 'outer;
                }
                other => eprintln!("ignoring {}", other.name()),
            }
        }
        assert!(Instant::now() < deadline, "no message from erl");
        let n = sock.read(&mut buf).expect("read");
        assert!(n > 0, "erl closed the connection");
        frames.push(&buf[..n]);
    }
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|l: &String| l.starts_with("REPLY") || l == "TIMEOUT")
    {
        match node.lines.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => seen.push(l),
            Err(_) => panic!("erl said nothing: {seen:?}"),
        }
    }
    assert!(seen.contains(&"CONNECT true".to_string()), "{seen:?}");
    assert!(seen.contains(&"REPLY ok".to_string()), "{seen:?}");
    drop(reg);
}
