//! Seed 002's scene on an in-process cluster (testkit): alex, kate and moebi. This is
//! the seed's `test "send_message"` without the manual step and without a tag to skip.

use ferrobeam::Term;
use ferrobeam_taskchat::{send_message, start};
use ferrobeam_testkit::Cluster;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

type Out = mpsc::UnboundedReceiver<String>;

async fn scene() -> (Cluster, Vec<Out>) {
    let c = Cluster::builder()
        .names(["alex", "kate", "moebi"])
        .in_process()
        .await;
    let mut outs = Vec::new();
    for i in 0..3 {
        let (tx, rx) = mpsc::unbounded_channel();
        start(
            c.node(i),
            Arc::new(move |t: &str| drop(tx.send(t.to_string()))),
        )
        .await
        .unwrap();
        outs.push(rx);
    }
    (c, outs)
}

async fn line(rx: &mut Out) -> String {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("output within 10 s")
        .expect("output open")
}

async fn nothing(rx: &mut Out) {
    if let Ok(Some(l)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
        panic!("unexpected output {l:?}");
    }
}

async fn send(c: &Cluster, from: usize, to: &str, msg: &str) -> Result<Term, Term> {
    let (to, msg) = (to.to_string(), msg.to_string());
    c.node(from)
        .node()
        .run(move |ctx| async move {
            ctx.trap_exit(true);
            send_message(&ctx, &to, &msg).await
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alex_says_hi_to_moebi_and_gets_chicken() {
    let (c, mut out) = scene().await;
    let moebi = c.node(2).name().to_string();
    // The seed's test: assert Chat.send_message(:moebi@localhost, "hi") == :ok
    assert_eq!(send(&c, 0, &moebi, "hi").await, Ok(Term::atom("ok")));
    assert_eq!(line(&mut out[2]).await, "hi\n");
    assert_eq!(line(&mut out[0]).await, "chicken?\n");
    nothing(&mut out[1]).await;
    nothing(&mut out[0]).await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alex_and_kate_talk() {
    let (c, mut out) = scene().await;
    let (alex, kate) = (c.node(0).name().to_string(), c.node(1).name().to_string());
    assert_eq!(send(&c, 0, &kate, "hi").await, Ok(Term::atom("ok")));
    assert_eq!(line(&mut out[1]).await, "hi\n");
    assert_eq!(
        send(&c, 1, &alex, "how are you?").await,
        Ok(Term::atom("ok"))
    );
    assert_eq!(line(&mut out[0]).await, "how are you?\n");
    // A message to oneself runs under one's own supervisor.
    assert_eq!(
        send(&c, 1, &kate, "note to self").await,
        Ok(Term::atom("ok"))
    );
    assert_eq!(line(&mut out[1]).await, "note to self\n");
    nothing(&mut out[2]).await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_node_is_an_exit_as_in_the_seed() {
    let (c, _out) = scene().await;
    let nobody = c.full_name("nobody");
    let err = send(&c, 0, &nobody, "hi").await.unwrap_err();
    // {{nodedown, nobody@host}, {gen_server, call, [...]}}: "no connection to ..."
    let first = err.as_tuple().and_then(|t| t.first()).cloned().unwrap();
    assert_eq!(
        first,
        Term::tuple(vec![Term::atom("nodedown"), Term::atom(&nobody)])
    );
    c.shutdown().await;
}
