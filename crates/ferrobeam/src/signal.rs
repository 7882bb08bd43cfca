//! Signals and destinations.
//!
//! Everything that one process does to another (a message, a link, an exit signal, a
//! monitor, a `DOWN`) is a [`Signal`]: plain data, with the sending pid and `Term`
//! payloads, so the distribution layer can carry it over a connection. Every signal to
//! a process goes through that process's one ordered queue, so the signals between a
//! pair of processes arrive in the order they were sent.

use ferrobeam_term::{Atom, Pid, Ref, Term};
use std::fmt;

/// Where a message or signal goes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Dest {
    /// A process, local or remote.
    Pid(Pid),
    /// A name registered on this node. Sending to a name that is not registered is an
    /// error (Erlang's `badarg`).
    Name(Atom),
    /// `{Name, Node}`: a name registered on a node, possibly this one. Sending to it
    /// never fails: if the name is not registered, the message is dropped.
    Remote(Atom, Atom),
    /// A process alias (OTP 24+). A message to an inactive alias is dropped.
    Alias(Ref),
}

impl fmt::Debug for Dest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dest::Pid(p) => write!(f, "{p:?}"),
            Dest::Name(n) => write!(f, "{n}"),
            Dest::Remote(n, node) => write!(f, "{{{n},{node}}}"),
            Dest::Alias(r) => write!(f, "{r:?}"),
        }
    }
}

impl Dest {
    /// The destination as an Erlang term: a pid, an atom, `{Name, Node}` or a reference.
    pub fn to_term(&self) -> Term {
        match self {
            Dest::Pid(p) => Term::Pid(p.clone()),
            Dest::Name(n) => Term::Atom(n.clone()),
            Dest::Remote(n, node) => {
                Term::tuple(vec![Term::Atom(n.clone()), Term::Atom(node.clone())])
            }
            Dest::Alias(r) => Term::from(r.clone()),
        }
    }

    /// Reads a destination from a term: a pid, an atom, `{Name, Node}` or a reference.
    pub fn from_term(t: &Term) -> Option<Dest> {
        match t {
            Term::Pid(p) => Some(Dest::Pid(p.clone())),
            Term::Atom(a) => Some(Dest::Name(a.clone())),
            Term::Ref(r) => Some(Dest::Alias((**r).clone())),
            Term::Tuple(t) if t.len() == 2 => match (&t[0], &t[1]) {
                (Term::Atom(n), Term::Atom(node)) => Some(Dest::Remote(n.clone(), node.clone())),
                _ => None,
            },
            _ => None,
        }
    }
}

impl From<Pid> for Dest {
    fn from(p: Pid) -> Dest {
        Dest::Pid(p)
    }
}
impl From<&Pid> for Dest {
    fn from(p: &Pid) -> Dest {
        Dest::Pid(p.clone())
    }
}
impl From<Atom> for Dest {
    fn from(a: Atom) -> Dest {
        Dest::Name(a)
    }
}
impl From<&Atom> for Dest {
    fn from(a: &Atom) -> Dest {
        Dest::Name(a.clone())
    }
}
impl From<&str> for Dest {
    /// A locally registered name.
    fn from(s: &str) -> Dest {
        Dest::Name(Atom::new(s))
    }
}
impl From<(Atom, Atom)> for Dest {
    /// `{Name, Node}`.
    fn from((name, node): (Atom, Atom)) -> Dest {
        Dest::Remote(name, node)
    }
}
impl From<(&str, &str)> for Dest {
    /// `{Name, Node}`.
    fn from((name, node): (&str, &str)) -> Dest {
        Dest::Remote(Atom::new(name), Atom::new(node))
    }
}
impl From<Ref> for Dest {
    /// An alias.
    fn from(r: Ref) -> Dest {
        Dest::Alias(r)
    }
}
impl From<&Ref> for Dest {
    /// An alias.
    fn from(r: &Ref) -> Dest {
        Dest::Alias(r.clone())
    }
}
impl From<&Dest> for Dest {
    fn from(d: &Dest) -> Dest {
        d.clone()
    }
}

/// Which kind of exit signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitKind {
    /// Sent to the linked processes when a process exits (`EXIT` on the wire).
    Link,
    /// Sent by `exit(Pid, Reason)` (`EXIT2` on the wire). Only this kind of `kill` is
    /// untrappable.
    Exit2,
}

/// A signal from one process to another, as plain data.
///
/// [`Node::deliver`](crate::Node::deliver) puts a signal that came from another node
/// into a local process's queue; a [`RemoteRouter`](crate::RemoteRouter) receives the
/// signals that local processes send to other nodes.
#[derive(Clone, Debug, PartialEq)]
pub enum Signal {
    /// A message. `from` is the sender, when known (`SEND_SENDER` carries it).
    Message {
        /// The sending process, if any.
        from: Option<Pid>,
        /// The message.
        message: Term,
    },
    /// A message sent to an alias (`ALIAS_SEND`).
    AliasMessage {
        /// The sending process, if any.
        from: Option<Pid>,
        /// The alias it was sent to.
        alias: Ref,
        /// The message.
        message: Term,
    },
    /// `from` links to the receiver.
    Link {
        /// The process that asked for the link.
        from: Pid,
    },
    /// `from` removes its link to the receiver.
    Unlink {
        /// The process that removed the link.
        from: Pid,
    },
    /// An exit signal.
    Exit {
        /// The process the signal comes from.
        from: Pid,
        /// The exit reason.
        reason: Term,
        /// A link exit or an `exit/2` signal.
        kind: ExitKind,
    },
    /// `from` starts monitoring the receiver with `reference`.
    Monitor {
        /// The monitoring process.
        from: Pid,
        /// The monitor reference.
        reference: Ref,
    },
    /// `from` stops the monitor `reference`.
    Demonitor {
        /// The monitoring process.
        from: Pid,
        /// The monitor reference.
        reference: Ref,
    },
    /// A monitored process ended (or did not exist): becomes the message
    /// `{'DOWN', Ref, process, Object, Reason}` at the monitoring process.
    Down {
        /// The monitored process, when known.
        from: Option<Pid>,
        /// The monitor reference.
        reference: Ref,
        /// The exit reason, `noproc` or `noconnection`.
        reason: Term,
    },
}

/// Who watches a monitor: a process, or a Rust future outside any process.
pub(crate) enum Watcher {
    Pid(Pid),
    External(tokio::sync::oneshot::Sender<Term>),
}

/// A signal in a process's queue. Messages, the common case, are stored inline; the
/// rest are boxed so the queue's slots stay small.
pub(crate) enum Sig {
    Msg(Term),
    Ctl(Box<Ctl>),
}

/// A control signal (anything but a plain message).
pub(crate) enum Ctl {
    Alias { alias: Ref, message: Term },
    Link(Pid),
    Unlink(Pid),
    Exit { from: Pid, reason: Term, link: bool },
    Monitor { watcher: Watcher, reference: Ref },
    Demonitor { reference: Ref },
    Down { reference: Ref, reason: Term },
}

impl Sig {
    pub(crate) fn ctl(c: Ctl) -> Sig {
        Sig::Ctl(Box::new(c))
    }

    pub(crate) fn is_message(&self) -> bool {
        matches!(self, Sig::Msg(_)) || matches!(self, Sig::Ctl(c) if matches!(**c, Ctl::Alias{..}))
    }
}

impl Ctl {
    /// Converts a public signal (from another node, say) to the internal form.
    pub(crate) fn from_signal(s: Signal) -> Sig {
        match s {
            Signal::Message { message, .. } => Sig::Msg(message),
            Signal::AliasMessage { alias, message, .. } => Sig::ctl(Ctl::Alias { alias, message }),
            Signal::Link { from } => Sig::ctl(Ctl::Link(from)),
            Signal::Unlink { from } => Sig::ctl(Ctl::Unlink(from)),
            Signal::Exit { from, reason, kind } => Sig::ctl(Ctl::Exit {
                from,
                reason,
                link: kind == ExitKind::Link,
            }),
            Signal::Monitor { from, reference } => Sig::ctl(Ctl::Monitor {
                watcher: Watcher::Pid(from),
                reference,
            }),
            Signal::Demonitor { reference, .. } => Sig::ctl(Ctl::Demonitor { reference }),
            Signal::Down {
                reference, reason, ..
            } => Sig::ctl(Ctl::Down { reference, reason }),
        }
    }

    /// The public form of a signal to another node. `sender` is the process that sends
    /// it (needed for demonitor and alias sends); `target` the receiver, for `Down`.
    /// External watchers never leave the node, so they give `None`.
    pub(crate) fn into_signal(self, sender: Option<&Pid>) -> Option<Signal> {
        Some(match self {
            Ctl::Alias { alias, message } => Signal::AliasMessage {
                from: sender.cloned(),
                alias,
                message,
            },
            Ctl::Link(from) => Signal::Link { from },
            Ctl::Unlink(from) => Signal::Unlink { from },
            Ctl::Exit { from, reason, link } => Signal::Exit {
                from,
                reason,
                kind: if link {
                    ExitKind::Link
                } else {
                    ExitKind::Exit2
                },
            },
            Ctl::Monitor { watcher, reference } => match watcher {
                Watcher::Pid(from) => Signal::Monitor { from, reference },
                Watcher::External(_) => return None,
            },
            Ctl::Demonitor { reference } => Signal::Demonitor {
                from: sender?.clone(),
                reference,
            },
            Ctl::Down { reference, reason } => Signal::Down {
                from: sender.cloned(),
                reference,
                reason,
            },
        })
    }
}
