//! `ferrobeam-taskchat` (the code behind `ferrobeam taskchat`) as three OS processes:
//! the seed's scene through pipes.

use ferrobeam_testkit::{Cluster, NodeSpec};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

#[test]
fn the_seeds_three_node_scene() {
    let mut c = Cluster::builder()
        .names(["kate", "moebi", "alex"])
        .cookie("taskchat")
        .os_processes(|spec: &NodeSpec| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrobeam-taskchat"));
            cmd.args(["--sname", &spec.alive, "--cookie", &spec.cookie]);
            cmd
        });
    for i in 0..3 {
        c.os(i).wait_line("chat node started on", T);
    }
    let (kate, moebi, alex) = (0, 1, 2);
    c.os(alex).send_line("moebi hi");
    c.os(moebi).wait_line("hi", T);
    c.os(alex).wait_line("chicken?", T);
    c.os(alex).wait_line(":ok", T);
    // Kate receives nothing (sorry kate) until she is told something.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.os(kate).stdout().len(), 1, "{:?}", c.os(kate).stdout());

    let alex_name = c.full_name("alex");
    c.os(alex).send_line("kate hi");
    c.os(kate).wait_line("hi", T);
    c.os(alex).wait_line(":ok", T);
    c.os(kate).send_line(&format!("{alex_name} how are you?"));
    c.os(alex).wait_line("how are you?", T);
    c.os(kate).wait_line(":ok", T);
    // An unknown node: the exit, printed as iex would, and the node goes on.
    c.os(alex).send_line("nobody hi");
    c.os(alex).wait_line("** (exit) {{nodedown,nobody@", T);
    c.os(alex).send_line("moebi are you there?");
    c.os(moebi).wait_line("are you there?", T);
    c.os(alex).wait_line("chicken?", T);
    assert_eq!(
        c.os(moebi).stdout().len(),
        3,
        "moebi printed {:?}",
        c.os(moebi).stdout()
    );
}
