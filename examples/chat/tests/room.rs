//! The chat protocol between nodes in one process (testkit's in-process cluster): the
//! server on one node, clients on the others.

use ferrobeam::gen_server::{self, ServerRef};
use ferrobeam::{Atom, Term};
use ferrobeam_chat::client::{Client, Outcome, Sink};
use ferrobeam_chat::protocol::{
    ConnectReply, DisconnectReply, ServerCall, DEFAULT_COOKIE, SERVER_NAME,
};
use ferrobeam_chat::server::{self, ServerOpts};
use ferrobeam_testkit::Cluster;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A sink that forwards lines to a channel.
fn sink() -> (Sink, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(move |l: String| drop(tx.send(l))), rx)
}

/// The next line within 10 s.
async fn next(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no output within 10 s")
        .expect("sink closed")
}

/// No line within 300 ms.
async fn quiet(rx: &mut mpsc::UnboundedReceiver<String>) {
    if let Ok(Some(l)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
        panic!("unexpected output: {l}");
    }
}

async fn cluster(n: usize) -> Cluster {
    let c = Cluster::builder()
        .nodes(n)
        .cookie(DEFAULT_COOKIE)
        .in_process()
        .await;
    server::start(
        c.node(0).node(),
        ServerOpts {
            dist: Some(c.node(0).clone()),
            log: None,
        },
    )
    .await
    .expect("start the server");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_say_pm_users_leave() {
    let c = cluster(3).await;
    let server = c.node(0).name().to_string();
    let (s1, mut alice_out) = sink();
    let (s2, mut bob_out) = sink();
    let alice = Client::start(c.node(1), &server, "alice", s1)
        .await
        .unwrap();
    let bob = Client::start(c.node(2), &server, "bob", s2).await.unwrap();

    assert_eq!(
        alice.join().await.unwrap(),
        ConnectReply::Ok("alice".into())
    );
    assert_eq!(
        bob.join().await.unwrap(),
        ConnectReply::Ok("alice:bob".into())
    );
    assert_eq!(
        next(&mut alice_out).await,
        format!("{server}> bob: * bob has joined *")
    );

    // Said to the room: everyone but the sender.
    assert_eq!(bob.command("hello alice").await, Outcome::Continue);
    assert_eq!(
        next(&mut alice_out).await,
        format!("{server}> bob: hello alice")
    );
    quiet(&mut bob_out).await;

    // Private message: the recipient only; an unknown recipient is dropped.
    alice.command("/pm bob   psst, bob").await;
    assert_eq!(
        next(&mut bob_out).await,
        format!("{server}> alice: psst, bob")
    );
    alice.command("/pm nobody hi").await;
    alice.command("/pm bob").await;
    assert_eq!(next(&mut alice_out).await, "usage: /pm <to nick> <message>");

    // The user list, as a private message from "server".
    bob.command("/users").await;
    assert_eq!(
        next(&mut bob_out).await,
        format!("{server}> server: users: alice, bob")
    );
    quiet(&mut alice_out).await;

    // /help, and an empty line does nothing.
    bob.command("").await;
    bob.command("/help").await;
    assert!(next(&mut bob_out).await.starts_with("Available commands:"));

    // Joining twice: nick_in_use (the command prints it).
    bob.command("/join").await;
    assert_eq!(
        next(&mut bob_out).await,
        "Could not join chatroom, reason: nick_in_use"
    );

    // Leaving: announced to the others; a second /leave finds no user.
    bob.command("/leave").await;
    assert!(next(&mut bob_out)
        .await
        .starts_with("You have exited the chatroom"));
    assert_eq!(
        next(&mut alice_out).await,
        format!("{server}> bob: * bob has left *")
    );
    bob.command("/leave").await;
    assert_eq!(next(&mut bob_out).await, "You are not in the chatroom");
    // Not in the room: hears nothing.
    alice.command("anyone?").await;
    quiet(&mut bob_out).await;

    // Rejoin with /join, then /quit leaves.
    bob.command("/join").await;
    assert_eq!(next(&mut bob_out).await, "* Joined the chatroom *");
    assert_eq!(next(&mut bob_out).await, "* Users in the room: alice:bob *");
    assert_eq!(
        next(&mut alice_out).await,
        format!("{server}> bob: * bob has joined *")
    );
    assert_eq!(bob.command("/quit").await, Outcome::Quit);
    assert_eq!(
        next(&mut alice_out).await,
        format!("{server}> bob: * bob has left *")
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_disconnect_rules() {
    let c = cluster(3).await;
    let server = Atom::new(c.node(0).name().as_str());
    let srv = ServerRef::Remote(Atom::new(SERVER_NAME), server.clone());
    let (a, b) = (c.node(1).node().clone(), c.node(2).node().clone());

    let call = |node: ferrobeam::Node, req: ServerCall| {
        let srv = srv.clone();
        async move {
            node.run(move |ctx| async move {
                gen_server::call::<_, Term>(&ctx, srv, req).await.unwrap()
            })
            .await
            .unwrap()
        }
    };
    let t = |v: &dyn erased::Ser| v.term();
    assert_eq!(
        call(a.clone(), ServerCall::Connect("server".into())).await,
        t(&ConnectReply::NickNotAllowed)
    );
    assert_eq!(
        call(a.clone(), ServerCall::Connect("alice".into())).await,
        t(&ConnectReply::Ok("alice".into()))
    );
    assert_eq!(
        call(b.clone(), ServerCall::Connect("alice".into())).await,
        t(&ConnectReply::NickInUse)
    );
    // Only alice's node may disconnect alice.
    assert_eq!(
        call(b.clone(), ServerCall::Disconnect("alice".into())).await,
        t(&DisconnectReply::NotAllowed)
    );
    assert_eq!(
        call(b.clone(), ServerCall::Disconnect("zed".into())).await,
        t(&DisconnectReply::UserNotFound)
    );
    assert_eq!(
        call(a.clone(), ServerCall::Disconnect("alice".into())).await,
        Term::atom("ok")
    );
    // Not the protocol: an error reply, and the server goes on.
    let bad = b
        .run({
            let srv = srv.clone();
            move |ctx| async move {
                gen_server::call::<_, Term>(&ctx, srv, Term::atom("hello"))
                    .await
                    .unwrap()
            }
        })
        .await
        .unwrap();
    assert_eq!(
        bad,
        Term::tuple(vec![Term::atom("error"), Term::atom("badarg")])
    );
    gen_server::cast(&b, srv.clone(), Term::tuple(vec![Term::atom("say")]));
    assert_eq!(
        call(b.clone(), ServerCall::Connect("bob".into())).await,
        t(&ConnectReply::Ok("bob".into()))
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_node_that_dies_leaves_the_room() {
    let mut c = cluster(3).await;
    let server = c.node(0).name().to_string();
    let (s1, mut alice_out) = sink();
    let (s2, _bob_out) = sink();
    let alice = Client::start(c.node(1), &server, "alice", s1)
        .await
        .unwrap();
    let bob = Client::start(c.node(2), &server, "bob", s2).await.unwrap();
    alice.join().await.unwrap();
    bob.join().await.unwrap();
    assert_eq!(
        next(&mut alice_out).await,
        format!("{server}> bob: * bob has joined *")
    );
    // bob's node goes away without leaving.
    c.stop_node(2).await;
    assert_eq!(
        next(&mut alice_out).await,
        format!("{server}> bob: * bob has left *")
    );
    alice.command("/users").await;
    assert_eq!(
        next(&mut alice_out).await,
        format!("{server}> server: users: alice")
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_sees_the_server_go_down() {
    let mut c = cluster(2).await;
    let server = c.node(0).name().to_string();
    let (s1, mut alice_out) = sink();
    let alice = Client::start(c.node(1), &server, "alice", s1)
        .await
        .unwrap();
    alice.join().await.unwrap();
    assert!(!alice.is_server_down());
    c.stop_node(0).await;
    tokio::time::timeout(Duration::from_secs(10), alice.server_down())
        .await
        .expect("server_down");
    assert_eq!(
        next(&mut alice_out).await,
        format!("* Lost the connection to the server {server} *")
    );
    alice.command("/join").await;
    assert!(next(&mut alice_out)
        .await
        .starts_with("Could not join chatroom, reason:"));
    c.shutdown().await;
}

/// Encodes protocol values for comparison with raw replies.
mod erased {
    use ferrobeam::Term;

    pub trait Ser {
        fn term(&self) -> Term;
    }

    impl<T: serde::Serialize> Ser for T {
        fn term(&self) -> Term {
            ferrobeam_term::to_term(self).unwrap()
        }
    }
}
