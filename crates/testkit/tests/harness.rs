//! The harness itself: in-process meshes, OS processes with the cluster's EPMD port,
//! output collection, and cleanup of whole process groups.

use ferrobeam_testkit::{wait_until_blocking, Cluster, NodeSpec};
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_nodes_form_a_mesh_and_can_stop() {
    let mut c = Cluster::builder()
        .names(["alex", "kate", "moebi"])
        .cookie("k")
        .in_process()
        .await;
    assert_eq!(c.node(1).name().as_str(), c.full_name("kate"));
    for n in c.nodes() {
        assert_eq!(n.nodes().len(), 2);
    }
    // A fourth node joins later.
    let extra = c.start_node("extra").await;
    assert!(extra.connect(c.node(0).name().as_str()).await);
    c.stop_node(2).await;
    let alex = c.node(0).clone();
    let moebi = c.full_name("moebi");
    ferrobeam_testkit::wait_until(Duration::from_secs(10), "moebi gone", || {
        !alex.nodes().iter().any(|n| n.as_str() == moebi)
    })
    .await;
    assert_eq!(c.nodes().len(), 3);
    c.shutdown().await;
}

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    cmd
}

fn alive(pid: &str) -> bool {
    Command::new("kill")
        .args(["-0", pid])
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn os_processes_get_the_epmd_port_and_are_killed_with_their_children() {
    let mut c = Cluster::builder()
        .nodes(2)
        .cookie("k")
        .os_processes(|s: &NodeSpec| {
            // A child of the node process, to see that the whole group goes.
            sh(&format!(
                "echo name={} cookie={} epmd=$ERL_EPMD_PORT peers={}; sleep 600 & echo child=$!; \
             while read l; do echo \"got $l\"; done; echo bye >&2; wait",
                s.name,
                s.cookie,
                s.peers.join(",")
            ))
        });
    let port = c.epmd_port();
    let (n1, n2) = (c.full_name("node1"), c.full_name("node2"));
    let first = c.os(0).wait_line("name=", Duration::from_secs(10));
    assert_eq!(first, format!("name={n1} cookie=k epmd={port} peers={n2}"));
    let child = c.os(0).wait_line("child=", Duration::from_secs(10));
    let child = child.trim_start_matches("child=").to_string();
    assert!(alive(&child));
    c.os(0).send_line("hello");
    c.os(0).wait_line("got hello", Duration::from_secs(10));
    assert!(c
        .os(0)
        .wait_line_with(|l| l == "never", Duration::from_millis(100))
        .is_none());
    c.os(1).close_stdin();
    c.os(1).wait_stderr("bye", Duration::from_secs(10));
    assert!(c.os(0).is_running());
    drop(c);
    wait_until_blocking(Duration::from_secs(5), "the child killed", || {
        !alive(&child)
    });
}
