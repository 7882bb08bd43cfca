//! Group leaders and the Erlang I/O protocol.
//!
//! As in Erlang, output goes through a process's *group leader*: an I/O server that the
//! process sends `{io_request, From, ReplyAs, Request}` to and that answers
//! `{io_reply, ReplyAs, Reply}`. By default a process's group leader is its node's
//! `user` process ([`user`]), which writes to standard output. A process spawned from
//! another node (see [`Ctx::spawn_remote`](crate::Ctx::spawn_remote)) gets the
//! requester's group leader, on the requester's node, so its output appears there:
//! `Node.spawn_link(node, fn -> IO.puts("hi") end)` prints on the caller's terminal.
//! Processes spawned by a process inherit its group leader, so the output of the
//! helpers a remotely spawned process starts goes there too. [`Ctx::set_group_leader`]
//! and [`Node::set_group_leader`] change it (the latter also for processes of other
//! nodes, with `GROUP_LEADER`).
//!
//! [`Ctx::put_chars`] and [`Ctx::println`] send `{put_chars, unicode, Chars}` and wait
//! for the reply, so output from a remote process and from BEAM processes looks the
//! same to an I/O server. [`start_server`] starts an I/O server that hands the text to
//! any Rust sink; it answers:
//!
//! | request | reply |
//! |---|---|
//! | `{put_chars, Encoding, Chars}` (and the old `{put_chars, Chars}`) | `ok` |
//! | `{put_chars, Encoding, io_lib, format, [Format, Args]}` (what `io:format` sends to a remote group leader) | `ok`, for the directives `~s ~ts ~p ~tp ~w ~tw ~c ~b ~i ~n ~~`; otherwise `{error, request}` |
//! | `{requests, [Request]}` | each in turn; the first error |
//! | `getopts` | `[{binary, false}, {encoding, unicode}]` |
//! | `{get_line, ...}`, `{get_chars, ...}`, `{get_until, ...}` | `eof` (no input) |
//! | anything else | `{error, request}` |
//!
//! ```
//! use ferrobeam::{io, Node};
//! use std::sync::{Arc, Mutex};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let node = Node::new();
//! let out = Arc::new(Mutex::new(String::new()));
//! let sink = out.clone();
//! let server = io::start_server(&node, move |text| sink.lock().unwrap().push_str(text));
//! node.run(move |ctx| async move {
//!     ctx.set_group_leader(&server);
//!     ctx.println("hello").await.unwrap();
//! })
//! .await
//! .unwrap();
//! assert_eq!(*out.lock().unwrap(), "hello\n");
//! # }
//! ```

use crate::ctx::Ctx;
use crate::node::Node;
use ferrobeam_term::{Pid, Term};
use std::io::Write;
use std::time::Duration;

/// The registered name of a node's default I/O server.
pub const USER: &str = "user";

/// Most characters one request may produce (a bound on what a remote peer can make
/// this node format).
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// The node's default I/O server, registered as `user`, which writes to standard
/// output. Started on first use; a process registered as `user` before that (an I/O
/// server of [`start_server`], say) is used instead.
pub fn user(node: &Node) -> Pid {
    if let Some(p) = node.whereis(USER) {
        return p;
    }
    let pid = start_server(node, |text| {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    });
    match node.register(USER, &pid) {
        Ok(()) => pid,
        Err(_) => {
            // Someone else registered one meanwhile: use that.
            node.exit(&pid, Term::atom("kill"));
            node.whereis(USER).unwrap_or(pid)
        }
    }
}

/// Starts an I/O server: a process that answers I/O requests, handing the text of
/// output requests to `write`. It runs until it is killed or gets the atom `'$stop'`.
pub fn start_server(node: &Node, mut write: impl FnMut(&str) + Send + 'static) -> Pid {
    node.spawn(move |ctx: Ctx| async move {
        loop {
            let m = ctx.receive().await;
            if m.is_atom("$stop") {
                return;
            }
            let Some([tag, from, reply_as, request]) = m.as_tuple() else {
                continue;
            };
            if !tag.is_atom("io_request") {
                continue;
            }
            let Term::Pid(from) = from else { continue };
            let reply = handle(request, &mut write);
            let _ = ctx.send(
                from,
                Term::tuple(vec![Term::atom("io_reply"), reply_as.clone(), reply]),
            );
        }
    })
}

fn error_request() -> Term {
    Term::tuple(vec![Term::atom("error"), Term::atom("request")])
}

/// Handles one request.
fn handle(request: &Term, write: &mut impl FnMut(&str)) -> Term {
    if request.is_atom("getopts") {
        return Term::list(vec![
            Term::tuple(vec![Term::atom("binary"), Term::atom("false")]),
            Term::tuple(vec![Term::atom("encoding"), Term::atom("unicode")]),
        ]);
    }
    let Some(t) = request.as_tuple() else {
        return error_request();
    };
    let Some(Term::Atom(op)) = t.first() else {
        return error_request();
    };
    match (op.as_str(), t.len()) {
        ("put_chars", 2) => put(chardata(&t[1], false), write),
        ("put_chars", 3) => put(chardata(&t[2], !t[1].is_atom("latin1")), write),
        ("put_chars", 4) => put(apply_format(&t[1], &t[2], &t[3]), write),
        ("put_chars", 5) => put(apply_format(&t[2], &t[3], &t[4]), write),
        ("requests", 2) => {
            let Some(list) = t[1].as_list() else {
                return error_request();
            };
            let mut last = Term::atom("ok");
            for r in list {
                // Nested `requests` are not followed.
                if r.as_tuple()
                    .is_some_and(|x| x.first().is_some_and(|a| a.is_atom("requests")))
                {
                    return error_request();
                }
                last = handle(r, write);
                if last
                    .as_tuple()
                    .is_some_and(|x| x.first().is_some_and(|a| a.is_atom("error")))
                {
                    return last;
                }
            }
            last
        }
        ("get_line" | "get_chars" | "get_until" | "get_password", _) => Term::atom("eof"),
        _ => error_request(),
    }
}

fn put(text: Option<String>, write: &mut impl FnMut(&str)) -> Term {
    match text {
        Some(s) => {
            write(&s);
            Term::atom("ok")
        }
        None => error_request(),
    }
}

/// `{put_chars, _, Module, Function, Args}`: only `io_lib:format/2` is known.
fn apply_format(module: &Term, function: &Term, args: &Term) -> Option<String> {
    if !module.is_atom("io_lib") || !function.is_atom("format") {
        return None;
    }
    match args.as_list()? {
        [fmt, list] => format(&chardata(fmt, true)?, list.as_list()?),
        _ => None,
    }
}

/// The text of Erlang chardata: a binary, or a (possibly deep, possibly improper)
/// list of characters and binaries. `unicode`: binaries are UTF-8 (else Latin-1).
pub fn chardata(t: &Term, unicode: bool) -> Option<String> {
    let mut out = String::new();
    let mut stack: Vec<&Term> = vec![t];
    while let Some(t) = stack.pop() {
        if out.len() > MAX_OUTPUT {
            return None;
        }
        match t {
            Term::Binary(b) => {
                if unicode {
                    out.push_str(std::str::from_utf8(b).ok()?);
                } else {
                    out.extend(b.iter().map(|&c| c as char));
                }
            }
            Term::Int(c) => out.push(char::from_u32(u32::try_from(*c).ok()?)?),
            Term::List(v) => stack.extend(v.iter().rev()),
            Term::ImproperList { elements, tail } => {
                // Only a binary may end an improper chardata list.
                if !matches!(**tail, Term::Binary(_)) {
                    return None;
                }
                stack.push(tail);
                stack.extend(elements.iter().rev());
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A subset of `io_lib:format/2`: `~s ~ts ~p ~tp ~w ~tw ~c ~b ~i ~n ~~`, with no field
/// width or precision. `None` for anything else.
pub fn format(fmt: &str, args: &[Term]) -> Option<String> {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if out.len() > MAX_OUTPUT {
            return None;
        }
        if c != '~' {
            out.push(c);
            continue;
        }
        let mut d = chars.next()?;
        if d == 't' || d == 'l' {
            d = chars.next()?;
        }
        match d {
            '~' => out.push('~'),
            'n' => out.push('\n'),
            's' => {
                let a = args.next()?;
                match a {
                    Term::Atom(x) => out.push_str(x.as_str()),
                    other => out.push_str(&chardata(other, true)?),
                }
            }
            'p' | 'w' => {
                let a = args.next()?;
                let s = a.to_string();
                if out.len() + s.len() > MAX_OUTPUT {
                    return None;
                }
                out.push_str(&s);
            }
            'c' => match args.next()? {
                Term::Int(c) => out.push(char::from_u32(u32::try_from(*c).ok()?)?),
                _ => return None,
            },
            'b' | 'B' => match args.next()? {
                i @ (Term::Int(_) | Term::BigInt(_)) => out.push_str(&i.to_string()),
                _ => return None,
            },
            'i' => {
                args.next()?;
            }
            _ => return None,
        }
    }
    if args.next().is_some() {
        return None;
    }
    Some(out)
}

impl Ctx {
    /// This process's group leader: the I/O server its output goes to. The node's
    /// `user` ([`user`]) unless set otherwise, inherited from the spawning process, or
    /// given by a remote spawn request.
    pub fn group_leader(&self) -> Pid {
        match crate::process::group_leader(&self.proc) {
            Some(p) => p,
            None => user(self.node()),
        }
    }

    /// Sets this process's group leader (`group_leader(GL, self())`).
    pub fn set_group_leader(&self, gl: &Pid) {
        crate::process::set_group_leader(&self.proc, gl.clone());
    }

    /// Sends an I/O request to the group leader and waits for its reply
    /// (`io:request/2`): the reply, or `Err({error, terminated})` if the group leader
    /// is gone (or `{error, timeout}` after `timeout`).
    pub async fn io_request(&self, request: Term, timeout: Duration) -> Result<Term, Term> {
        let gl = self.group_leader();
        let mref = self.monitor(&gl);
        let _ = self.send(
            &gl,
            Term::tuple(vec![
                Term::atom("io_request"),
                Term::Pid(self.self_pid().clone()),
                Term::from(mref.clone()),
                request,
            ]),
        );
        let m = Term::from(mref.clone());
        let got = self
            .receive_match_timeout(
                move |t| match t.as_tuple() {
                    Some([a, r, _]) => a.is_atom("io_reply") && *r == m,
                    Some([a, r, _, _, _]) => a.is_atom("DOWN") && *r == m,
                    _ => false,
                },
                timeout,
            )
            .await;
        self.demonitor_flush(&mref);
        let err = |why: &str| Term::tuple(vec![Term::atom("error"), Term::atom(why)]);
        match got {
            Some(Term::Tuple(mut t)) if t.len() == 3 => Ok(t.pop().expect("3 elements")),
            Some(_) => Err(err("terminated")),
            None => Err(err("timeout")),
        }
    }

    /// Writes `text` through the group leader (`io:put_chars/1`), waiting until it is
    /// written. `Err` carries the I/O server's error.
    pub async fn put_chars(&self, text: &str) -> Result<(), Term> {
        let req = Term::tuple(vec![
            Term::atom("put_chars"),
            Term::atom("unicode"),
            Term::binary(text.as_bytes().to_vec()),
        ]);
        match self.io_request(req, Duration::from_secs(30)).await? {
            r if r.is_atom("ok") => Ok(()),
            r => Err(r),
        }
    }

    /// Writes `text` and a newline through the group leader (`IO.puts/1`).
    pub async fn println(&self, text: &str) -> Result<(), Term> {
        self.put_chars(&format!("{text}\n")).await
    }
}

impl Node {
    /// Sets the group leader of the process `pid` to `gl` (`group_leader(GL, Pid)`).
    /// For a process of another node this sends `GROUP_LEADER` there; a process that
    /// does not exist is ignored. False if `pid` is local and not alive.
    pub fn set_group_leader(&self, pid: &Pid, gl: &Pid) -> bool {
        if self.is_local(pid) {
            match self.lookup(pid) {
                Some(p) => {
                    crate::process::set_group_leader(&p, gl.clone());
                    true
                }
                None => false,
            }
        } else {
            crate::remote::group_leader(self, pid, gl);
            true
        }
    }

    /// The group leader of the local process `pid`, if it is alive.
    pub fn group_leader(&self, pid: &Pid) -> Option<Pid> {
        let p = self.lookup(pid)?;
        Some(crate::process::group_leader(&p).unwrap_or_else(|| user(self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chardata_forms() {
        let t: Term = "[<<\"ab\">>, [99, [100]], 233 | <<\"!\">>]"
            .parse()
            .unwrap();
        assert_eq!(chardata(&t, true).unwrap(), "abcdé!");
        assert_eq!(chardata(&Term::binary(vec![0xe9]), false).unwrap(), "é");
        assert!(chardata(&Term::binary(vec![0xe9]), true).is_none());
        assert!(chardata(&Term::atom("x"), true).is_none());
    }

    #[test]
    fn format_subset() {
        let args: Term = "[<<\"x\">>, {a, 1}, 65, 42, ok]".parse().unwrap();
        assert_eq!(
            format("s=~s p=~p c=~c b=~b ~~ ~ts~n", args.as_list().unwrap()).unwrap(),
            "s=x p={a,1} c=A b=42 ~ ok\n"
        );
        assert!(format("~s", &[]).is_none());
        assert!(format("~10s", &[Term::binary(b"x".to_vec())]).is_none());
        assert!(format("x", &[Term::Int(1)]).is_none());
    }
}
