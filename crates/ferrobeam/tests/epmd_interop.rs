//! ferrobeam's EPMD library against real Erlang/OTP: real `erl` nodes registering with an
//! in-process [`EpmdServer`], and ferrobeam's [`EpmdClient`] against OTP's `epmd`.
//!
//! These tests need `erl` and `epmd`. Without them they print a notice and pass, unless
//! `FERROBEAM_REQUIRE_ERLANG=1`, where they fail. Every test uses its own EPMD port.

#[path = "epmd_support.rs"]
mod support;

use std::time::Duration;

use ferrobeam::epmd::{
    ClientError, EpmdClient, EpmdConfig, EpmdHandle, EpmdServer, NODE_TYPE_NORMAL,
};
use ferrobeam_proto::epmd::{AliveResp, KillResp};
use support::{epmd_names, erl_eval, erl_node, erlang, is_registered, real_epmd, wait_until};

const SLOW: Duration = Duration::from_secs(30);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// An in-process EPMD on a runtime of its own, so that the test can block.
fn in_process_epmd(rt: &tokio::runtime::Runtime) -> EpmdHandle {
    rt.block_on(async {
        EpmdServer::bind(EpmdConfig::loopback(0))
            .await
            .expect("bind")
            .spawn()
    })
}

#[test]
fn real_erl_registers_with_ferrobeam_server() {
    let Some(e) = erlang("real_erl_registers_with_ferrobeam_server") else {
        return;
    };
    let rt = runtime();
    let epmd = in_process_epmd(&rt);
    let port = epmd.port();
    let client = EpmdClient::new(port);

    let mut node = erl_node(&e, "fbi_a", port);
    assert!(
        wait_until(SLOW, || is_registered(port, "fbi_a")),
        "erl did not register"
    );
    let info = rt
        .block_on(client.port_please("localhost", "fbi_a"))
        .unwrap()
        .expect("fbi_a found");
    assert_eq!(info.node_type, NODE_TYPE_NORMAL);
    assert_eq!((info.highest_version, info.lowest_version), (6, 5));
    assert!(info.port > 0);

    // OTP's own tools read ferrobeam's NAMES answer.
    let listed = epmd_names(&e, port);
    assert!(
        listed.contains(&format!("name fbi_a at port {}\n", info.port)),
        "epmd -names: {listed:?}"
    );
    let out = erl_eval(
        &e,
        "fbi_b",
        port,
        "io:format(\"~p~n\", [net_adm:names()]), init:stop().",
        SLOW,
    );
    assert!(
        out.contains(&format!("{{\"fbi_a\",{}}}", info.port)),
        "net_adm:names(): {out:?}"
    );

    // Killing the node removes its name.
    node.kill();
    assert!(
        wait_until(Duration::from_secs(10), || !is_registered(port, "fbi_a")),
        "fbi_a still registered after its process was killed"
    );
}

#[test]
fn real_erl_gets_a_new_creation_on_each_registration() {
    let Some(e) = erlang("real_erl_gets_a_new_creation_on_each_registration") else {
        return;
    };
    let rt = runtime();
    let epmd = in_process_epmd(&rt);
    let port = epmd.port();
    let creation = |_: ()| -> u64 {
        let out = erl_eval(
            &e,
            "fbc",
            port,
            "io:format(\"creation=~p~n\", [erlang:system_info(creation)]), init:stop().",
            SLOW,
        );
        out.lines()
            .find_map(|l| l.strip_prefix("creation="))
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or_else(|| panic!("no creation in {out:?}"))
    };
    let c1 = creation(());
    // The first registration must be gone before the name registers again.
    assert!(wait_until(SLOW, || !is_registered(port, "fbc")));
    let c2 = creation(());
    assert!(c1 >= 4, "creation {c1}");
    assert_eq!(c2, c1 + 1, "creations {c1} then {c2}");
}

#[test]
fn ferrobeam_client_against_real_epmd() {
    let Some(e) = erlang("ferrobeam_client_against_real_epmd") else {
        return;
    };
    let rt = runtime();
    let port = support::free_port();
    let _epmd = real_epmd(&e, port);
    let client = EpmdClient::new(port);

    // A real node, looked up through the real epmd.
    let _node = erl_node(&e, "fbr_erl", port);
    assert!(wait_until(SLOW, || is_registered(port, "fbr_erl")));
    let info = rt
        .block_on(client.port_please("localhost", "fbr_erl"))
        .unwrap()
        .expect("fbr_erl found");
    assert_eq!(info.name, "fbr_erl");
    assert_eq!((info.highest_version, info.lowest_version), (6, 5));
    assert_eq!(
        rt.block_on(client.port_please("localhost", "nobody"))
            .unwrap(),
        None
    );

    // ferrobeam registers with the real epmd; both listings show it.
    let reg = rt
        .block_on(client.register("fbr_rust", 45678, NODE_TYPE_NORMAL))
        .unwrap();
    assert!(matches!(reg.response(), AliveResp::X { result: 0, .. }));
    assert!(reg.creation() > 3);
    let listed = epmd_names(&e, port);
    assert!(
        listed.contains("name fbr_rust at port 45678\n"),
        "epmd -names: {listed:?}"
    );
    let names = rt.block_on(client.names("localhost")).unwrap();
    assert_eq!(names.epmd_port, u32::from(port));
    let mut got: Vec<_> = names.nodes.iter().map(|n| n.name.as_str()).collect();
    got.sort();
    assert_eq!(got, ["fbr_erl", "fbr_rust"]);
    let out = erl_eval(
        &e,
        "fbr_q",
        port,
        "io:format(\"~p~n\", [net_adm:names()]), init:stop().",
        SLOW,
    );
    assert!(
        out.contains("{\"fbr_rust\",45678}"),
        "net_adm:names(): {out:?}"
    );

    // The real epmd refuses a duplicate, answers DUMP and refuses KILL while nodes live.
    assert!(matches!(
        rt.block_on(client.register("fbr_rust", 45679, NODE_TYPE_NORMAL)),
        Err(ClientError::NameTaken(_))
    ));
    let dump = rt.block_on(client.dump("localhost")).unwrap();
    assert!(dump.entries.iter().any(|d| d.name == "fbr_rust"));
    assert_eq!(rt.block_on(client.kill("localhost")).unwrap(), KillResp::No);

    // Re-registering after the socket closed gives a new creation.
    let c1 = reg.creation();
    drop(reg);
    assert!(wait_until(SLOW, || !is_registered(port, "fbr_rust")));
    let reg2 = rt
        .block_on(client.register("fbr_rust", 45678, NODE_TYPE_NORMAL))
        .unwrap();
    assert_ne!(reg2.creation(), c1);
}
