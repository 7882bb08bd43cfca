//! Remote tasks: a task supervisor on another node accepts `async` and `await` returns
//! the result (seed 002's `Task.Supervisor.async({Chat.TaskSupervisor, node}, ...) |>
//! Task.await()`), between ferrobeam nodes, and with Elixir in both directions.

#[path = "dist2_beam.rs"]
mod beam;
#[path = "dist_support.rs"]
mod support;

use beam::{require, sname, Elixir};
use ferrobeam::dist::DistNode;
use ferrobeam::gen_server::StartOpts;
use ferrobeam::{io, task_supervisor, Atom, Ctx, Term};
use std::time::Duration;
use support::*;
use tokio::sync::mpsc;

const SUP: &str = "Elixir.Chat.TaskSupervisor";
const CHAT: &str = "Elixir.Chat";

/// Seed 002's chat on a ferrobeam node: `Chat.receive_message/1` prints the message;
/// `Chat.receive_message_for_moebi/2` prints it and answers "chicken?" to the sender's
/// node with a task there. The node's `user` is a capture, so the test sees what the
/// node prints.
async fn chat_node(c: &Cluster, name: &str) -> (DistNode, mpsc::UnboundedReceiver<String>) {
    let n = c.node(name).await;
    let (tx, rx) = mpsc::unbounded_channel();
    let user = io::start_server(n.node(), move |text| {
        let _ = tx.send(text.to_string());
    });
    n.node().register(io::USER, &user).unwrap();
    task_supervisor::start(n.node(), StartOpts::name(SUP))
        .await
        .unwrap();
    n.node().register_fn(
        CHAT,
        "receive_message",
        |ctx: Ctx, args: Vec<Term>| async move {
            let text = args
                .first()
                .and_then(|a| io::chardata(a, true))
                .unwrap_or_default();
            ctx.println(&text).await
        },
    );
    n.node().register_fn(
        CHAT,
        "receive_message_for_moebi",
        |ctx: Ctx, args: Vec<Term>| async move {
            let text = args
                .first()
                .and_then(|a| io::chardata(a, true))
                .unwrap_or_default();
            ctx.println(&text).await?;
            let from = args
                .get(1)
                .and_then(|f| f.as_atom())
                .cloned()
                .ok_or(Term::atom("badarg"))?;
            let task = task_supervisor::async_remote(
                &ctx,
                (Atom::new(SUP), from),
                CHAT,
                "receive_message",
                vec![Term::string("chicken?")],
            )
            .await?;
            task.await_(&ctx).await.map_err(Term::from)
        },
    );
    n.node()
        .register_fn(CHAT, "fail", |_ctx: Ctx, args: Vec<Term>| async move {
            Err::<Term, Term>(args.first().cloned().unwrap_or(Term::atom("failed")))
        });
    n.node()
        .register_fn(CHAT, "slow", |_ctx: Ctx, _args: Vec<Term>| async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
    (n, rx)
}

async fn line(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("output within 5 s")
        .expect("capture open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_task_supervisor_async_and_await() {
    let c = Cluster::new().await;
    let (alex, mut alex_out) = chat_node(&c, "alex").await;
    let (kate, mut kate_out) = chat_node(&c, "kate").await;
    let (moebi, mut moebi_out) = chat_node(&c, "moebi").await;
    // Chat.send_message(:kate@host, "hi") from alex: kate prints it, alex gets :ok.
    let (kn, mn) = (kate.name().clone(), moebi.name().clone());
    let an = alex.name().clone();
    let (r1, r2) = alex
        .node()
        .run(move |ctx| async move {
            let t = task_supervisor::async_remote(
                &ctx,
                (Atom::new(SUP), kn),
                CHAT,
                "receive_message",
                vec![Term::string("hi")],
            )
            .await
            .unwrap();
            let r1 = t.await_(&ctx).await.unwrap();
            // To moebi, who answers on alex's node.
            let t = task_supervisor::async_remote(
                &ctx,
                (Atom::new(SUP), mn),
                CHAT,
                "receive_message_for_moebi",
                vec![Term::string("hi"), Term::Atom(an)],
            )
            .await
            .unwrap();
            let r2 = t.await_(&ctx).await.unwrap();
            (r1, r2)
        })
        .await
        .unwrap();
    assert_eq!(r1, Term::atom("ok"));
    assert_eq!(r2, Term::atom("ok"));
    assert_eq!(line(&mut kate_out).await, "hi\n");
    assert_eq!(line(&mut moebi_out).await, "hi\n");
    assert_eq!(line(&mut alex_out).await, "chicken?\n");

    // Failures: a task that exits, an unknown function, a missing supervisor, and the
    // supervisor's node going down during the await.
    let kn = kate.name().clone();
    let (fail, undef, nosup) = alex
        .node()
        .run(move |ctx| async move {
            let sup = (Atom::new(SUP), kn.clone());
            let t = task_supervisor::async_nolink_remote(
                &ctx,
                sup.clone(),
                CHAT,
                "fail",
                vec![t("{custom, 1}")],
            )
            .await
            .unwrap();
            let fail = t.await_(&ctx).await.unwrap_err();
            let t = task_supervisor::async_nolink_remote(&ctx, sup, CHAT, "nope", vec![])
                .await
                .unwrap();
            let undef = t.await_(&ctx).await.unwrap_err();
            let nosup = task_supervisor::async_remote(
                &ctx,
                (Atom::new("Elixir.NoSuch.Supervisor"), kn),
                CHAT,
                "receive_message",
                vec![],
            )
            .await
            .err();
            (fail, undef, nosup)
        })
        .await
        .unwrap();
    assert_eq!(*fail.kind(), t("{custom,1}"));
    assert_eq!(
        *undef.kind(),
        t(&format!("{{undef,[{{'{CHAT}',nope,[],[]}}]}}"))
    );
    let nosup = nosup.expect("no such supervisor");
    assert!(nosup.as_tuple().unwrap()[0].is_atom("noproc"), "{nosup}");
    // A linked task that fails brings the caller down with it (trapped here).
    let kn = kate.name().clone();
    let exit = alex
        .node()
        .run(move |ctx| async move {
            ctx.trap_exit(true);
            let t = task_supervisor::async_remote(
                &ctx,
                (Atom::new(SUP), kn),
                CHAT,
                "fail",
                vec![t("boom")],
            )
            .await
            .unwrap();
            let pid = t.pid.clone();
            let e = ctx.receive().await;
            (pid, e)
        })
        .await
        .unwrap();
    assert_eq!(
        exit.1,
        Term::tuple(vec![
            Term::atom("EXIT"),
            Term::Pid(exit.0),
            Term::atom("boom")
        ])
    );
    // The node goes down while the caller awaits: {nodedown, Node}.
    let kn = kate.name().clone();
    let node = alex.node().clone();
    let awaiting = tokio::spawn(async move {
        node.run(move |ctx| async move {
            let t = task_supervisor::async_nolink_remote(
                &ctx,
                (Atom::new(SUP), kn),
                CHAT,
                "slow",
                vec![],
            )
            .await
            .unwrap();
            t.await_timeout(&ctx, Duration::from_secs(10)).await
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    kate.shutdown().await;
    let r = tokio::time::timeout(Duration::from_secs(5), awaiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        *r.kind(),
        Term::tuple(vec![
            Term::atom("nodedown"),
            Term::Atom(kate.name().clone())
        ])
    );
    alex.shutdown().await;
    moebi.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_tasks_with_elixir_task_supervisors_both_ways() {
    let Some(elixir) = require(
        "elixir",
        "remote_tasks_with_elixir_task_supervisors_both_ways",
    ) else {
        return;
    };
    let c = Cluster::new().await;
    let (kate, mut kate_out) = chat_node(&c, "kate").await;
    let mut inbox = Mailbox::new(&kate, Some("inbox"));
    let fb = kate.name().to_string();
    // An Elixir node with its own Chat.TaskSupervisor, calling ours.
    let script = format!(
        r#"{{:ok, _}} = Task.Supervisor.start_link(name: Chat.TaskSupervisor)
fb = :"{fb}"
r = Task.Supervisor.async({{Chat.TaskSupervisor, fb}}, Chat, :receive_message, ["from elixir"]) |> Task.await()
IO.puts("AWAIT #{{inspect(r)}}")
t = Task.Supervisor.async_nolink({{Chat.TaskSupervisor, fb}}, Chat, :fail, [:oops])
IO.puts("YIELD #{{inspect(Task.yield(t, 5000))}}")
send({{:inbox, fb}}, {{:ready, node()}})
Process.sleep(:infinity)"#
    );
    let mut ex = Elixir::start(&elixir, &sname("exs"), c.epmd_port, COOKIE, &script);
    assert_eq!(ex.line("AWAIT ", 30).await, ":ok");
    assert_eq!(line(&mut kate_out).await, "from elixir\n");
    assert_eq!(ex.line("YIELD ", 10).await, "{:exit, :oops}");
    // And ours calling the Elixir one, with an Erlang function there.
    let ready = inbox.recv(10).await;
    let en = ready.as_tuple().unwrap()[1].as_atom().unwrap().clone();
    let r = kate
        .node()
        .run(move |ctx| async move {
            let t = task_supervisor::async_remote(
                &ctx,
                (Atom::new(SUP), en),
                "erlang",
                "+",
                vec![Term::from(40), Term::from(2)],
            )
            .await
            .unwrap();
            t.await_(&ctx).await
        })
        .await
        .unwrap();
    assert_eq!(r.unwrap(), Term::from(42));
    kate.shutdown().await;
}
