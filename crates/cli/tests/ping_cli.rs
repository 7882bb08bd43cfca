//! `ferrobeam ping NODE`: pong (exit 0) or pang (exit 1), against a ferrobeam node in
//! another OS process and against a real `erl`.

#[path = "shell_support.rs"]
mod support;

use std::process::{Command, Stdio};
use support::*;

fn ping(epmd_port: u16, node: &str, extra: &[&str]) -> (String, bool) {
    let out = Command::new(bin())
        .args(["ping", node])
        .args(extra)
        .env("ERL_EPMD_PORT", epmd_port.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run ferrobeam ping");
    (
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        out.status.success(),
    )
}

#[test]
fn ping_a_ferrobeam_node() {
    let (_epmd, port) = epmd();
    let chip = Shell::start(port, &["--sname", "chip", "--cookie", COOKIE]);
    assert_eq!(
        ping(port, &chip.name, &["--cookie", COOKIE]),
        ("pong".to_string(), true)
    );
    assert_eq!(
        ping(port, &chip.name, &["--sname", "pinger", "--cookie", COOKIE]),
        ("pong".to_string(), true)
    );
    assert_eq!(
        ping(port, &chip.name, &["--cookie", "wrong"]),
        ("pang".to_string(), false)
    );
    let host = chip.name.split('@').nth(1).unwrap().to_string();
    assert_eq!(
        ping(port, &format!("nobody@{host}"), &["--cookie", COOKIE]),
        ("pang".to_string(), false)
    );
    assert!(chip.quit());
}

#[test]
fn ping_a_real_erl() {
    let Some(erl) = beam_tool("erl", "ping_a_real_erl") else {
        return;
    };
    let (_epmd, port) = epmd();
    let sname = format!("erlping{}", std::process::id());
    let node = Guard(
        Command::new(erl)
            .args(["-sname", &sname, "-setcookie", COOKIE, "-noshell"])
            .args(["-start_epmd", "false"])
            .env("ERL_EPMD_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start erl"),
    );
    let host = ferrobeam::dist::name::short_hostname();
    let target = format!("{sname}@{host}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (out, ok) = ping(port, &target, &["--cookie", COOKIE]);
        if ok {
            assert_eq!(out, "pong");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "erl never answered");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        ping(port, &target, &["--cookie", "wrong"]),
        ("pang".to_string(), false)
    );
    drop(node);
}
