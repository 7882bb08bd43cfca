//! Control messages: the typed form of the tuple at the start of every packet.
//!
//! [`ControlMessage::from_term`] validates a control tuple and the term that follows it
//! (the "payload": a message, an exit reason or a spawn argument list). Any mismatch is
//! a [`ControlError`], on which the node closes the connection, as BEAM does.
//! [`ControlMessage::control_term`] and [`ControlMessage::payload`] go the other way,
//! and [`ControlMessage::encode`] writes a packet with a [`DistSender`].
//!
//! ```
//! use ferrobeam_proto::control::ControlMessage;
//! use ferrobeam_term::{Atom, Pid, Term};
//!
//! let from = Pid::new("a@host", 85, 0, 1);
//! let msg = ControlMessage::RegSend { from, to: Atom::new("rex"), message: Term::atom("hi") };
//! let (ctl, payload) = msg.to_terms().unwrap();
//! assert_eq!(ctl.as_tuple().unwrap().len(), 4);
//! assert_eq!(ControlMessage::from_term(ctl, payload).unwrap(), msg);
//! ```

use crate::dist_header::DistSender;
use crate::framing::FrameError;
use ferrobeam_term::{Atom, Pid, Ref, Term};

/// Operation codes: the first element of a control tuple.
pub mod op {
    /// `{1, FromPid, ToPid}`
    pub const LINK: u8 = 1;
    /// `{2, Unused, ToPid}` + Message
    pub const SEND: u8 = 2;
    /// `{3, FromPid, ToPid, Reason}`
    pub const EXIT: u8 = 3;
    /// `{4, FromPid, ToPid}` — obsolete; refused by OTP 26+.
    pub const UNLINK: u8 = 4;
    /// `{5}`
    pub const NODE_LINK: u8 = 5;
    /// `{6, FromPid, Unused, ToName}` + Message
    pub const REG_SEND: u8 = 6;
    /// `{7, FromPid, ToPid}`
    pub const GROUP_LEADER: u8 = 7;
    /// `{8, FromPid, ToPid, Reason}`
    pub const EXIT2: u8 = 8;
    /// `{12, Unused, ToPid, TraceToken}` + Message
    pub const SEND_TT: u8 = 12;
    /// `{13, FromPid, ToPid, TraceToken, Reason}`
    pub const EXIT_TT: u8 = 13;
    /// `{16, FromPid, Unused, ToName, TraceToken}` + Message
    pub const REG_SEND_TT: u8 = 16;
    /// `{18, FromPid, ToPid, TraceToken, Reason}`
    pub const EXIT2_TT: u8 = 18;
    /// `{19, FromPid, ToProc, Ref}`
    pub const MONITOR_P: u8 = 19;
    /// `{20, FromPid, ToProc, Ref}`
    pub const DEMONITOR_P: u8 = 20;
    /// `{21, FromProc, ToPid, Ref, Reason}`
    pub const MONITOR_P_EXIT: u8 = 21;
    /// `{22, FromPid, ToPid}` + Message
    pub const SEND_SENDER: u8 = 22;
    /// `{23, FromPid, ToPid, TraceToken}` + Message
    pub const SEND_SENDER_TT: u8 = 23;
    /// `{24, FromPid, ToPid}` + Reason
    pub const PAYLOAD_EXIT: u8 = 24;
    /// `{25, FromPid, ToPid, TraceToken}` + Reason
    pub const PAYLOAD_EXIT_TT: u8 = 25;
    /// `{26, FromPid, ToPid}` + Reason
    pub const PAYLOAD_EXIT2: u8 = 26;
    /// `{27, FromPid, ToPid, TraceToken}` + Reason
    pub const PAYLOAD_EXIT2_TT: u8 = 27;
    /// `{28, FromProc, ToPid, Ref}` + Reason
    pub const PAYLOAD_MONITOR_P_EXIT: u8 = 28;
    /// `{29, ReqId, From, GroupLeader, {M, F, Arity}, OptList}` + ArgList
    pub const SPAWN_REQUEST: u8 = 29;
    /// `{30, ReqId, From, GroupLeader, {M, F, Arity}, OptList, Token}` + ArgList
    pub const SPAWN_REQUEST_TT: u8 = 30;
    /// `{31, ReqId, To, Flags, Result}`
    pub const SPAWN_REPLY: u8 = 31;
    /// `{32, ReqId, To, Flags, Result, Token}`
    pub const SPAWN_REPLY_TT: u8 = 32;
    /// `{33, FromPid, Alias}` + Message
    pub const ALIAS_SEND: u8 = 33;
    /// `{34, FromPid, Alias, Token}` + Message
    pub const ALIAS_SEND_TT: u8 = 34;
    /// `{35, Id, FromPid, ToPid}`
    pub const UNLINK_ID: u8 = 35;
    /// `{36, Id, FromPid, ToPid}`
    pub const UNLINK_ID_ACK: u8 = 36;
}

/// `SPAWN_REPLY` flag: a link was set up.
pub const SPAWN_REPLY_LINK: u64 = 1;
/// `SPAWN_REPLY` flag: a monitor was set up.
pub const SPAWN_REPLY_MONITOR: u64 = 2;

/// A process named in a monitor: by pid, or by registered name on the receiving node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProcRef {
    /// A pid.
    Pid(Pid),
    /// A registered name.
    Name(Atom),
}

impl ProcRef {
    fn to_term(&self) -> Term {
        match self {
            ProcRef::Pid(p) => Term::Pid(p.clone()),
            ProcRef::Name(a) => Term::Atom(a.clone()),
        }
    }
}

/// The result in a `SPAWN_REPLY`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SpawnResult {
    /// The new process.
    Pid(Pid),
    /// Why the spawn failed (`badarg`, `notsup`, `system_limit`, ...).
    Error(Atom),
}

/// A control message with its payload. Variant names follow OTP's op names.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // fields are named as in OTP's documentation
pub enum ControlMessage {
    /// `LINK` (1).
    Link { from: Pid, to: Pid },
    /// `SEND` (2).
    Send { to: Pid, message: Term },
    /// `EXIT` (3): a link broke.
    Exit { from: Pid, to: Pid, reason: Term },
    /// `UNLINK` (4): obsolete. Decoded, never encoded (OTP 26 kills the connection on it).
    Unlink { from: Pid, to: Pid },
    /// `NODE_LINK` (5).
    NodeLink,
    /// `REG_SEND` (6).
    RegSend { from: Pid, to: Atom, message: Term },
    /// `GROUP_LEADER` (7): set `to`'s group leader to `from`.
    GroupLeader { from: Pid, to: Pid },
    /// `EXIT2` (8): `exit/2`.
    Exit2 { from: Pid, to: Pid, reason: Term },
    /// `SEND_TT` (12).
    SendTT { to: Pid, token: Term, message: Term },
    /// `EXIT_TT` (13).
    ExitTT {
        from: Pid,
        to: Pid,
        token: Term,
        reason: Term,
    },
    /// `REG_SEND_TT` (16).
    RegSendTT {
        from: Pid,
        to: Atom,
        token: Term,
        message: Term,
    },
    /// `EXIT2_TT` (18).
    Exit2TT {
        from: Pid,
        to: Pid,
        token: Term,
        reason: Term,
    },
    /// `MONITOR_P` (19).
    MonitorP {
        from: Pid,
        to: ProcRef,
        reference: Ref,
    },
    /// `DEMONITOR_P` (20).
    DemonitorP {
        from: Pid,
        to: ProcRef,
        reference: Ref,
    },
    /// `MONITOR_P_EXIT` (21).
    MonitorPExit {
        from: ProcRef,
        to: Pid,
        reference: Ref,
        reason: Term,
    },
    /// `SEND_SENDER` (22).
    SendSender { from: Pid, to: Pid, message: Term },
    /// `SEND_SENDER_TT` (23).
    SendSenderTT {
        from: Pid,
        to: Pid,
        token: Term,
        message: Term,
    },
    /// `PAYLOAD_EXIT` (24).
    PayloadExit { from: Pid, to: Pid, reason: Term },
    /// `PAYLOAD_EXIT_TT` (25).
    PayloadExitTT {
        from: Pid,
        to: Pid,
        token: Term,
        reason: Term,
    },
    /// `PAYLOAD_EXIT2` (26).
    PayloadExit2 { from: Pid, to: Pid, reason: Term },
    /// `PAYLOAD_EXIT2_TT` (27).
    PayloadExit2TT {
        from: Pid,
        to: Pid,
        token: Term,
        reason: Term,
    },
    /// `PAYLOAD_MONITOR_P_EXIT` (28).
    PayloadMonitorPExit {
        from: ProcRef,
        to: Pid,
        reference: Ref,
        reason: Term,
    },
    /// `SPAWN_REQUEST` (29).
    SpawnRequest {
        req_id: Ref,
        from: Pid,
        group_leader: Pid,
        module: Atom,
        function: Atom,
        arity: u8,
        opts: Vec<Term>,
        args: Vec<Term>,
    },
    /// `SPAWN_REQUEST_TT` (30).
    SpawnRequestTT {
        req_id: Ref,
        from: Pid,
        group_leader: Pid,
        module: Atom,
        function: Atom,
        arity: u8,
        opts: Vec<Term>,
        token: Term,
        args: Vec<Term>,
    },
    /// `SPAWN_REPLY` (31).
    SpawnReply {
        req_id: Ref,
        to: Pid,
        flags: u64,
        result: SpawnResult,
    },
    /// `SPAWN_REPLY_TT` (32).
    SpawnReplyTT {
        req_id: Ref,
        to: Pid,
        flags: u64,
        result: SpawnResult,
        token: Term,
    },
    /// `ALIAS_SEND` (33).
    AliasSend {
        from: Pid,
        alias: Ref,
        message: Term,
    },
    /// `ALIAS_SEND_TT` (34).
    AliasSendTT {
        from: Pid,
        alias: Ref,
        token: Term,
        message: Term,
    },
    /// `UNLINK_ID` (35).
    UnlinkId { id: u64, from: Pid, to: Pid },
    /// `UNLINK_ID_ACK` (36).
    UnlinkIdAck { id: u64, from: Pid, to: Pid },
}

/// A control message that does not follow the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The control message is not a non-empty tuple starting with a small integer.
    #[error("control message is not a tuple starting with an operation code")]
    NotAControlTuple,
    /// An operation code this module does not know.
    #[error("unknown control operation {0}")]
    UnknownOp(i64),
    /// The tuple has the wrong size for its operation.
    #[error("{op}: tuple of {got} elements, expected {expected}")]
    BadArity {
        /// The operation's name.
        op: &'static str,
        /// Elements found.
        got: usize,
        /// Elements expected.
        expected: usize,
    },
    /// An element has the wrong type.
    #[error("{op}: {field} is not {expected}")]
    BadField {
        /// The operation's name.
        op: &'static str,
        /// Which element.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
    },
    /// An operation that carries a payload arrived without one.
    #[error("{0}: missing payload")]
    MissingPayload(&'static str),
    /// An operation without a payload arrived with one.
    #[error("{0}: unexpected payload")]
    UnexpectedPayload(&'static str),
    /// Obsolete operations are never sent.
    #[error("{0} is obsolete and is never sent")]
    Obsolete(&'static str),
    /// The packet could not be framed.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// The name of an operation code (`"REG_SEND"`), if known.
pub fn op_name(code: u8) -> Option<&'static str> {
    Some(match code {
        op::LINK => "LINK",
        op::SEND => "SEND",
        op::EXIT => "EXIT",
        op::UNLINK => "UNLINK",
        op::NODE_LINK => "NODE_LINK",
        op::REG_SEND => "REG_SEND",
        op::GROUP_LEADER => "GROUP_LEADER",
        op::EXIT2 => "EXIT2",
        op::SEND_TT => "SEND_TT",
        op::EXIT_TT => "EXIT_TT",
        op::REG_SEND_TT => "REG_SEND_TT",
        op::EXIT2_TT => "EXIT2_TT",
        op::MONITOR_P => "MONITOR_P",
        op::DEMONITOR_P => "DEMONITOR_P",
        op::MONITOR_P_EXIT => "MONITOR_P_EXIT",
        op::SEND_SENDER => "SEND_SENDER",
        op::SEND_SENDER_TT => "SEND_SENDER_TT",
        op::PAYLOAD_EXIT => "PAYLOAD_EXIT",
        op::PAYLOAD_EXIT_TT => "PAYLOAD_EXIT_TT",
        op::PAYLOAD_EXIT2 => "PAYLOAD_EXIT2",
        op::PAYLOAD_EXIT2_TT => "PAYLOAD_EXIT2_TT",
        op::PAYLOAD_MONITOR_P_EXIT => "PAYLOAD_MONITOR_P_EXIT",
        op::SPAWN_REQUEST => "SPAWN_REQUEST",
        op::SPAWN_REQUEST_TT => "SPAWN_REQUEST_TT",
        op::SPAWN_REPLY => "SPAWN_REPLY",
        op::SPAWN_REPLY_TT => "SPAWN_REPLY_TT",
        op::ALIAS_SEND => "ALIAS_SEND",
        op::ALIAS_SEND_TT => "ALIAS_SEND_TT",
        op::UNLINK_ID => "UNLINK_ID",
        op::UNLINK_ID_ACK => "UNLINK_ID_ACK",
        _ => return None,
    })
}

/// True if an operation is followed by a payload term.
pub fn has_payload(code: u8) -> bool {
    matches!(
        code,
        op::SEND
            | op::REG_SEND
            | op::SEND_TT
            | op::REG_SEND_TT
            | op::SEND_SENDER
            | op::SEND_SENDER_TT
            | op::PAYLOAD_EXIT
            | op::PAYLOAD_EXIT_TT
            | op::PAYLOAD_EXIT2
            | op::PAYLOAD_EXIT2_TT
            | op::PAYLOAD_MONITOR_P_EXIT
            | op::SPAWN_REQUEST
            | op::SPAWN_REQUEST_TT
            | op::ALIAS_SEND
            | op::ALIAS_SEND_TT
    )
}

/// Reads the elements of a control tuple, checking their types.
struct Fields {
    op: &'static str,
    items: std::vec::IntoIter<Term>,
}

impl Fields {
    fn next(&mut self, field: &'static str) -> Result<Term, ControlError> {
        // The arity was checked before, so this never fails; stay total anyway.
        self.items.next().ok_or(ControlError::BadField {
            op: self.op,
            field,
            expected: "present",
        })
    }

    fn bad(&self, field: &'static str, expected: &'static str) -> ControlError {
        ControlError::BadField {
            op: self.op,
            field,
            expected,
        }
    }

    fn pid(&mut self, field: &'static str) -> Result<Pid, ControlError> {
        match self.next(field)? {
            Term::Pid(p) => Ok(p),
            _ => Err(self.bad(field, "a pid")),
        }
    }

    fn atom(&mut self, field: &'static str) -> Result<Atom, ControlError> {
        match self.next(field)? {
            Term::Atom(a) => Ok(a),
            _ => Err(self.bad(field, "an atom")),
        }
    }

    fn reference(&mut self, field: &'static str) -> Result<Ref, ControlError> {
        match self.next(field)? {
            Term::Ref(r) => Ok(*r),
            _ => Err(self.bad(field, "a reference")),
        }
    }

    fn proc_ref(&mut self, field: &'static str) -> Result<ProcRef, ControlError> {
        match self.next(field)? {
            Term::Pid(p) => Ok(ProcRef::Pid(p)),
            Term::Atom(a) => Ok(ProcRef::Name(a)),
            _ => Err(self.bad(field, "a pid or an atom")),
        }
    }

    fn any(&mut self, field: &'static str) -> Result<Term, ControlError> {
        self.next(field)
    }

    fn uint(&mut self, field: &'static str) -> Result<u64, ControlError> {
        match self.next(field)? {
            Term::Int(i) if i >= 0 => Ok(i as u64),
            Term::BigInt(b) => b
                .to_u64()
                .ok_or_else(|| self.bad(field, "a 64-bit unsigned integer")),
            _ => Err(self.bad(field, "a non-negative integer")),
        }
    }

    fn list(&mut self, field: &'static str) -> Result<Vec<Term>, ControlError> {
        match self.next(field)? {
            Term::List(l) => Ok(l),
            _ => Err(self.bad(field, "a proper list")),
        }
    }

    fn mfa(&mut self, field: &'static str) -> Result<(Atom, Atom, u8), ControlError> {
        match self.next(field)? {
            Term::Tuple(t) if t.len() == 3 => {
                let mut it = t.into_iter();
                match (it.next(), it.next(), it.next()) {
                    (Some(Term::Atom(m)), Some(Term::Atom(f)), Some(Term::Int(a)))
                        if (0..=255).contains(&a) =>
                    {
                        Ok((m, f, a as u8))
                    }
                    _ => Err(self.bad(field, "{Module, Function, Arity}")),
                }
            }
            _ => Err(self.bad(field, "{Module, Function, Arity}")),
        }
    }

    fn spawn_result(&mut self, field: &'static str) -> Result<SpawnResult, ControlError> {
        match self.next(field)? {
            Term::Pid(p) => Ok(SpawnResult::Pid(p)),
            Term::Atom(a) => Ok(SpawnResult::Error(a)),
            _ => Err(self.bad(field, "a pid or an atom")),
        }
    }
}

fn payload_list(op: &'static str, t: Term) -> Result<Vec<Term>, ControlError> {
    match t {
        Term::List(l) => Ok(l),
        _ => Err(ControlError::BadField {
            op,
            field: "argument list",
            expected: "a proper list",
        }),
    }
}

impl ControlMessage {
    /// Validates a control tuple and its payload (the term after it in the packet).
    pub fn from_term(control: Term, payload: Option<Term>) -> Result<ControlMessage, ControlError> {
        let Term::Tuple(items) = control else {
            return Err(ControlError::NotAControlTuple);
        };
        let code = match items.first() {
            Some(Term::Int(i)) => *i,
            _ => return Err(ControlError::NotAControlTuple),
        };
        let code8 = u8::try_from(code).map_err(|_| ControlError::UnknownOp(code))?;
        let name = op_name(code8).ok_or(ControlError::UnknownOp(code))?;
        let expected = arity(code8);
        if items.len() != expected {
            return Err(ControlError::BadArity {
                op: name,
                got: items.len(),
                expected,
            });
        }
        let mut payload = match (has_payload(code8), payload) {
            (true, None) => return Err(ControlError::MissingPayload(name)),
            (false, Some(_)) => return Err(ControlError::UnexpectedPayload(name)),
            (_, p) => p,
        };
        let mut take = || payload.take().ok_or(ControlError::MissingPayload(name));
        let mut f = Fields {
            op: name,
            items: items.into_iter(),
        };
        f.next("op")?;
        use ControlMessage as C;
        Ok(match code8 {
            op::LINK => C::Link {
                from: f.pid("FromPid")?,
                to: f.pid("ToPid")?,
            },
            op::SEND => {
                f.any("Unused")?;
                C::Send {
                    to: f.pid("ToPid")?,
                    message: take()?,
                }
            }
            op::EXIT => C::Exit {
                from: f.pid("FromPid")?,
                to: f.pid("ToPid")?,
                reason: f.any("Reason")?,
            },
            op::UNLINK => C::Unlink {
                from: f.pid("FromPid")?,
                to: f.pid("ToPid")?,
            },
            op::NODE_LINK => C::NodeLink,
            op::REG_SEND => {
                let from = f.pid("FromPid")?;
                f.any("Unused")?;
                C::RegSend {
                    from,
                    to: f.atom("ToName")?,
                    message: take()?,
                }
            }
            op::GROUP_LEADER => C::GroupLeader {
                from: f.pid("FromPid")?,
                to: f.pid("ToPid")?,
            },
            op::EXIT2 => C::Exit2 {
                from: f.pid("FromPid")?,
                to: f.pid("ToPid")?,
                reason: f.any("Reason")?,
            },
            op::SEND_TT => {
                f.any("Unused")?;
                C::SendTT {
                    to: f.pid("ToPid")?,
                    token: f.any("TraceToken")?,
                    message: take()?,
                }
            }
            op::EXIT_TT => C::ExitTT {
                from: f.pid("FromPid")?,
                to: f.pid("ToPid")?,
                token: f.any("TraceToken")?,
                reason: f.any("Reason")?,
            },
            op::REG_SEND_TT => {
                let from = f.pid("FromPid")?;
                f.any("Unused")?;
                C::RegSendTT {
                    from,
                    to: f.atom("ToName")?,
                    token: f.any("TraceToken")?,
                    message: take()?,
                }
            }
            op::EXIT2_TT => C::Exit2TT {
                from: f.pid("FromPid")?,
                to: f.pid("ToPid")?,
                token: f.any("TraceToken")?,
                reason: f.any("Reason")?,
            },
            op::MONITOR_P => C::MonitorP {
                from: f.pid("FromPid")?,
                to: f.proc_ref("ToProc")?,
                reference: f.reference("Ref")?,
            },
            op::DEMONITOR_P => C::DemonitorP {
                from: f.pid("FromPid")?,
                to: f.proc_ref("ToProc")?,
                reference: f.reference("Ref")?,
            },
            op::MONITOR_P_EXIT => C::MonitorPExit {
                from: f.proc_ref("FromProc")?,
                to: f.pid("ToPid")?,
                reference: f.reference("Ref")?,
                reason: f.any("Reason")?,
            },
            op::SEND_SENDER => C::SendSender {
                from: f.pid("FromPid")?,
                to: f.pid("ToPid")?,
                message: take()?,
            },
            op::SEND_SENDER_TT => C::SendSenderTT {
                from: f.pid("FromPid")?,
                to: f.pid("ToPid")?,
                token: f.any("TraceToken")?,
                message: take()?,
            },
            op::PAYLOAD_EXIT => C::PayloadExit {
                from: f.pid("FromPid")?,
                to: f.pid("ToPid")?,
                reason: take()?,
            },
            op::PAYLOAD_EXIT_TT => C::PayloadExitTT {
                from: f.pid("FromPid")?,
                to: f.pid("ToPid")?,
                token: f.any("TraceToken")?,
                reason: take()?,
            },
            op::PAYLOAD_EXIT2 => C::PayloadExit2 {
                from: f.pid("FromPid")?,
                to: f.pid("ToPid")?,
                reason: take()?,
            },
            op::PAYLOAD_EXIT2_TT => C::PayloadExit2TT {
                from: f.pid("FromPid")?,
                to: f.pid("ToPid")?,
                token: f.any("TraceToken")?,
                reason: take()?,
            },
            op::PAYLOAD_MONITOR_P_EXIT => C::PayloadMonitorPExit {
                from: f.proc_ref("FromProc")?,
                to: f.pid("ToPid")?,
                reference: f.reference("Ref")?,
                reason: take()?,
            },
            op::SPAWN_REQUEST | op::SPAWN_REQUEST_TT => {
                let req_id = f.reference("ReqId")?;
                let from = f.pid("From")?;
                let group_leader = f.pid("GroupLeader")?;
                let (module, function, arity) = f.mfa("{Module, Function, Arity}")?;
                let opts = f.list("OptList")?;
                let args = payload_list(name, take()?)?;
                if code8 == op::SPAWN_REQUEST {
                    C::SpawnRequest {
                        req_id,
                        from,
                        group_leader,
                        module,
                        function,
                        arity,
                        opts,
                        args,
                    }
                } else {
                    C::SpawnRequestTT {
                        req_id,
                        from,
                        group_leader,
                        module,
                        function,
                        arity,
                        opts,
                        token: f.any("Token")?,
                        args,
                    }
                }
            }
            op::SPAWN_REPLY => C::SpawnReply {
                req_id: f.reference("ReqId")?,
                to: f.pid("To")?,
                flags: f.uint("Flags")?,
                result: f.spawn_result("Result")?,
            },
            op::SPAWN_REPLY_TT => C::SpawnReplyTT {
                req_id: f.reference("ReqId")?,
                to: f.pid("To")?,
                flags: f.uint("Flags")?,
                result: f.spawn_result("Result")?,
                token: f.any("Token")?,
            },
            op::ALIAS_SEND => C::AliasSend {
                from: f.pid("FromPid")?,
                alias: f.reference("Alias")?,
                message: take()?,
            },
            op::ALIAS_SEND_TT => C::AliasSendTT {
                from: f.pid("FromPid")?,
                alias: f.reference("Alias")?,
                token: f.any("Token")?,
                message: take()?,
            },
            op::UNLINK_ID | op::UNLINK_ID_ACK => {
                let id = f.uint("Id")?;
                if id == 0 {
                    return Err(f.bad("Id", "in 1..2^64-1"));
                }
                let from = f.pid("FromPid")?;
                let to = f.pid("ToPid")?;
                if code8 == op::UNLINK_ID {
                    C::UnlinkId { id, from, to }
                } else {
                    C::UnlinkIdAck { id, from, to }
                }
            }
            _ => return Err(ControlError::UnknownOp(code)),
        })
    }

    /// The operation code.
    pub fn op(&self) -> u8 {
        use ControlMessage as C;
        match self {
            C::Link { .. } => op::LINK,
            C::Send { .. } => op::SEND,
            C::Exit { .. } => op::EXIT,
            C::Unlink { .. } => op::UNLINK,
            C::NodeLink => op::NODE_LINK,
            C::RegSend { .. } => op::REG_SEND,
            C::GroupLeader { .. } => op::GROUP_LEADER,
            C::Exit2 { .. } => op::EXIT2,
            C::SendTT { .. } => op::SEND_TT,
            C::ExitTT { .. } => op::EXIT_TT,
            C::RegSendTT { .. } => op::REG_SEND_TT,
            C::Exit2TT { .. } => op::EXIT2_TT,
            C::MonitorP { .. } => op::MONITOR_P,
            C::DemonitorP { .. } => op::DEMONITOR_P,
            C::MonitorPExit { .. } => op::MONITOR_P_EXIT,
            C::SendSender { .. } => op::SEND_SENDER,
            C::SendSenderTT { .. } => op::SEND_SENDER_TT,
            C::PayloadExit { .. } => op::PAYLOAD_EXIT,
            C::PayloadExitTT { .. } => op::PAYLOAD_EXIT_TT,
            C::PayloadExit2 { .. } => op::PAYLOAD_EXIT2,
            C::PayloadExit2TT { .. } => op::PAYLOAD_EXIT2_TT,
            C::PayloadMonitorPExit { .. } => op::PAYLOAD_MONITOR_P_EXIT,
            C::SpawnRequest { .. } => op::SPAWN_REQUEST,
            C::SpawnRequestTT { .. } => op::SPAWN_REQUEST_TT,
            C::SpawnReply { .. } => op::SPAWN_REPLY,
            C::SpawnReplyTT { .. } => op::SPAWN_REPLY_TT,
            C::AliasSend { .. } => op::ALIAS_SEND,
            C::AliasSendTT { .. } => op::ALIAS_SEND_TT,
            C::UnlinkId { .. } => op::UNLINK_ID,
            C::UnlinkIdAck { .. } => op::UNLINK_ID_ACK,
        }
    }

    /// The operation's name (`"REG_SEND"`).
    pub fn name(&self) -> &'static str {
        op_name(self.op()).unwrap_or("?")
    }

    /// The term sent after the control tuple, if the operation has one.
    pub fn payload(&self) -> Option<&Term> {
        use ControlMessage as C;
        match self {
            C::Send { message, .. }
            | C::RegSend { message, .. }
            | C::SendTT { message, .. }
            | C::RegSendTT { message, .. }
            | C::SendSender { message, .. }
            | C::SendSenderTT { message, .. }
            | C::AliasSend { message, .. }
            | C::AliasSendTT { message, .. } => Some(message),
            C::PayloadExit { reason, .. }
            | C::PayloadExitTT { reason, .. }
            | C::PayloadExit2 { reason, .. }
            | C::PayloadExit2TT { reason, .. }
            | C::PayloadMonitorPExit { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The control tuple. Fails only for [`ControlMessage::Unlink`], which is never sent.
    /// For `SPAWN_REQUEST*` the payload is the argument list: see
    /// [`ControlMessage::to_terms`].
    pub fn control_term(&self) -> Result<Term, ControlError> {
        use ControlMessage as C;
        let op = Term::Int(self.op() as i64);
        let pid = |p: &Pid| Term::Pid(p.clone());
        let rf = |r: &Ref| Term::Ref(Box::new(r.clone()));
        let empty = || Term::atom("");
        Ok(Term::Tuple(match self {
            C::Link { from, to } | C::GroupLeader { from, to } => vec![op, pid(from), pid(to)],
            C::Unlink { .. } => return Err(ControlError::Obsolete("UNLINK")),
            C::Send { to, .. } => vec![op, empty(), pid(to)],
            C::Exit { from, to, reason } | C::Exit2 { from, to, reason } => {
                vec![op, pid(from), pid(to), reason.clone()]
            }
            C::NodeLink => vec![op],
            C::RegSend { from, to, .. } => vec![op, pid(from), empty(), Term::Atom(to.clone())],
            C::SendTT { to, token, .. } => vec![op, empty(), pid(to), token.clone()],
            C::ExitTT {
                from,
                to,
                token,
                reason,
            }
            | C::Exit2TT {
                from,
                to,
                token,
                reason,
            } => vec![op, pid(from), pid(to), token.clone(), reason.clone()],
            C::RegSendTT {
                from, to, token, ..
            } => {
                vec![
                    op,
                    pid(from),
                    empty(),
                    Term::Atom(to.clone()),
                    token.clone(),
                ]
            }
            C::MonitorP {
                from,
                to,
                reference,
            }
            | C::DemonitorP {
                from,
                to,
                reference,
            } => {
                vec![op, pid(from), to.to_term(), rf(reference)]
            }
            C::MonitorPExit {
                from,
                to,
                reference,
                reason,
            } => vec![op, from.to_term(), pid(to), rf(reference), reason.clone()],
            C::SendSender { from, to, .. }
            | C::PayloadExit { from, to, .. }
            | C::PayloadExit2 { from, to, .. } => vec![op, pid(from), pid(to)],
            C::SendSenderTT {
                from, to, token, ..
            }
            | C::PayloadExitTT {
                from, to, token, ..
            }
            | C::PayloadExit2TT {
                from, to, token, ..
            } => vec![op, pid(from), pid(to), token.clone()],
            C::PayloadMonitorPExit {
                from,
                to,
                reference,
                ..
            } => vec![op, from.to_term(), pid(to), rf(reference)],
            C::SpawnRequest {
                req_id,
                from,
                group_leader,
                module,
                function,
                arity,
                opts,
                ..
            } => vec![
                op,
                rf(req_id),
                pid(from),
                pid(group_leader),
                mfa(module, function, *arity),
                Term::List(opts.clone()),
            ],
            C::SpawnRequestTT {
                req_id,
                from,
                group_leader,
                module,
                function,
                arity,
                opts,
                token,
                ..
            } => vec![
                op,
                rf(req_id),
                pid(from),
                pid(group_leader),
                mfa(module, function, *arity),
                Term::List(opts.clone()),
                token.clone(),
            ],
            C::SpawnReply {
                req_id,
                to,
                flags,
                result,
            } => vec![
                op,
                rf(req_id),
                pid(to),
                Term::from(*flags),
                spawn_result(result),
            ],
            C::SpawnReplyTT {
                req_id,
                to,
                flags,
                result,
                token,
            } => vec![
                op,
                rf(req_id),
                pid(to),
                Term::from(*flags),
                spawn_result(result),
                token.clone(),
            ],
            C::AliasSend { from, alias, .. } => vec![op, pid(from), rf(alias)],
            C::AliasSendTT {
                from, alias, token, ..
            } => vec![op, pid(from), rf(alias), token.clone()],
            C::UnlinkId { id, from, to } | C::UnlinkIdAck { id, from, to } => {
                vec![op, Term::from(*id), pid(from), pid(to)]
            }
        }))
    }

    /// The control tuple and the payload, cloned.
    pub fn to_terms(&self) -> Result<(Term, Option<Term>), ControlError> {
        let ctl = self.control_term()?;
        let payload = match self {
            ControlMessage::SpawnRequest { args, .. }
            | ControlMessage::SpawnRequestTT { args, .. } => Some(Term::List(args.clone())),
            _ => self.payload().cloned(),
        };
        Ok((ctl, payload))
    }

    /// Appends the framed packet(s) for this message to `out`.
    pub fn encode(&self, sender: &mut DistSender, out: &mut Vec<u8>) -> Result<(), ControlError> {
        let ctl = self.control_term()?;
        match self {
            ControlMessage::SpawnRequest { args, .. }
            | ControlMessage::SpawnRequestTT { args, .. } => {
                let list = Term::List(args.clone());
                sender.encode(&ctl, Some(&list), out)?;
            }
            _ => sender.encode(&ctl, self.payload(), out)?,
        }
        Ok(())
    }
}

fn mfa(m: &Atom, f: &Atom, a: u8) -> Term {
    Term::Tuple(vec![
        Term::Atom(m.clone()),
        Term::Atom(f.clone()),
        Term::Int(a as i64),
    ])
}

fn spawn_result(r: &SpawnResult) -> Term {
    match r {
        SpawnResult::Pid(p) => Term::Pid(p.clone()),
        SpawnResult::Error(a) => Term::Atom(a.clone()),
    }
}

/// The tuple size of each operation.
fn arity(code: u8) -> usize {
    match code {
        op::NODE_LINK => 1,
        op::LINK
        | op::SEND
        | op::UNLINK
        | op::GROUP_LEADER
        | op::SEND_SENDER
        | op::PAYLOAD_EXIT
        | op::PAYLOAD_EXIT2
        | op::ALIAS_SEND => 3,
        op::EXIT
        | op::REG_SEND
        | op::EXIT2
        | op::SEND_TT
        | op::MONITOR_P
        | op::DEMONITOR_P
        | op::SEND_SENDER_TT
        | op::PAYLOAD_EXIT_TT
        | op::PAYLOAD_EXIT2_TT
        | op::PAYLOAD_MONITOR_P_EXIT
        | op::ALIAS_SEND_TT
        | op::UNLINK_ID
        | op::UNLINK_ID_ACK => 4,
        op::EXIT_TT | op::REG_SEND_TT | op::EXIT2_TT | op::MONITOR_P_EXIT | op::SPAWN_REPLY => 5,
        op::SPAWN_REQUEST | op::SPAWN_REPLY_TT => 6,
        op::SPAWN_REQUEST_TT => 7,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(n: u32) -> Pid {
        Pid::new("a@h", n, 0, 1)
    }

    fn reference() -> Ref {
        Ref::new("a@h", 1, &[1, 2, 3]).unwrap()
    }

    fn all() -> Vec<ControlMessage> {
        use ControlMessage as C;
        let t = || Term::atom("tok");
        let m = || Term::tuple(vec![Term::atom("hello"), Term::Int(1)]);
        vec![
            C::Link {
                from: pid(1),
                to: pid(2),
            },
            C::Send {
                to: pid(2),
                message: m(),
            },
            C::Exit {
                from: pid(1),
                to: pid(2),
                reason: Term::atom("normal"),
            },
            C::NodeLink,
            C::RegSend {
                from: pid(1),
                to: Atom::new("rex"),
                message: m(),
            },
            C::GroupLeader {
                from: pid(1),
                to: pid(2),
            },
            C::Exit2 {
                from: pid(1),
                to: pid(2),
                reason: Term::atom("kill"),
            },
            C::SendTT {
                to: pid(2),
                token: t(),
                message: m(),
            },
            C::ExitTT {
                from: pid(1),
                to: pid(2),
                token: t(),
                reason: m(),
            },
            C::RegSendTT {
                from: pid(1),
                to: Atom::new("x"),
                token: t(),
                message: m(),
            },
            C::Exit2TT {
                from: pid(1),
                to: pid(2),
                token: t(),
                reason: m(),
            },
            C::MonitorP {
                from: pid(1),
                to: ProcRef::Name(Atom::new("x")),
                reference: reference(),
            },
            C::DemonitorP {
                from: pid(1),
                to: ProcRef::Pid(pid(3)),
                reference: reference(),
            },
            C::MonitorPExit {
                from: ProcRef::Pid(pid(3)),
                to: pid(1),
                reference: reference(),
                reason: m(),
            },
            C::SendSender {
                from: pid(1),
                to: pid(2),
                message: m(),
            },
            C::SendSenderTT {
                from: pid(1),
                to: pid(2),
                token: t(),
                message: m(),
            },
            C::PayloadExit {
                from: pid(1),
                to: pid(2),
                reason: m(),
            },
            C::PayloadExitTT {
                from: pid(1),
                to: pid(2),
                token: t(),
                reason: m(),
            },
            C::PayloadExit2 {
                from: pid(1),
                to: pid(2),
                reason: m(),
            },
            C::PayloadExit2TT {
                from: pid(1),
                to: pid(2),
                token: t(),
                reason: m(),
            },
            C::PayloadMonitorPExit {
                from: ProcRef::Name(Atom::new("x")),
                to: pid(1),
                reference: reference(),
                reason: Term::atom("noproc"),
            },
            C::SpawnRequest {
                req_id: reference(),
                from: pid(1),
                group_leader: pid(0),
                module: Atom::new("erpc"),
                function: Atom::new("execute_call"),
                arity: 4,
                opts: vec![Term::atom("monitor")],
                args: vec![Term::Int(1), Term::Int(2), Term::Int(3), Term::nil()],
            },
            C::SpawnRequestTT {
                req_id: reference(),
                from: pid(1),
                group_leader: pid(0),
                module: Atom::new("m"),
                function: Atom::new("f"),
                arity: 0,
                opts: vec![],
                token: t(),
                args: vec![],
            },
            C::SpawnReply {
                req_id: reference(),
                to: pid(1),
                flags: 2,
                result: SpawnResult::Pid(pid(9)),
            },
            C::SpawnReplyTT {
                req_id: reference(),
                to: pid(1),
                flags: 0,
                result: SpawnResult::Error(Atom::new("badarg")),
                token: t(),
            },
            C::AliasSend {
                from: pid(1),
                alias: reference(),
                message: m(),
            },
            C::AliasSendTT {
                from: pid(1),
                alias: reference(),
                token: t(),
                message: m(),
            },
            C::UnlinkId {
                id: u64::MAX,
                from: pid(1),
                to: pid(2),
            },
            C::UnlinkIdAck {
                id: 1,
                from: pid(2),
                to: pid(1),
            },
        ]
    }

    #[test]
    fn every_op_round_trips_through_terms() {
        let msgs = all();
        assert_eq!(msgs.len(), 29); // every op but the obsolete UNLINK
        for m in msgs {
            let (ctl, payload) = m.to_terms().unwrap();
            assert_eq!(payload.is_some(), has_payload(m.op()), "{}", m.name());
            let tuple = ctl.as_tuple().unwrap();
            assert_eq!(tuple.len(), arity(m.op()), "{}", m.name());
            assert_eq!(tuple[0], Term::Int(m.op() as i64));
            assert_eq!(ControlMessage::from_term(ctl, payload).unwrap(), m);
        }
    }

    #[test]
    fn unlink_decodes_but_never_encodes() {
        let ctl = Term::tuple(vec![Term::Int(4), Term::Pid(pid(1)), Term::Pid(pid(2))]);
        let m = ControlMessage::from_term(ctl, None).unwrap();
        assert_eq!(
            m,
            ControlMessage::Unlink {
                from: pid(1),
                to: pid(2)
            }
        );
        assert_eq!(m.to_terms(), Err(ControlError::Obsolete("UNLINK")));
    }

    #[test]
    fn malformed_controls_are_errors() {
        use ControlError as E;
        let p = || Term::Pid(pid(1));
        let cases: Vec<(Term, Option<Term>)> = vec![
            (Term::atom("x"), None),
            (Term::tuple(vec![]), None),
            (Term::tuple(vec![Term::atom("link")]), None),
            (Term::tuple(vec![Term::Int(99)]), None),
            (Term::tuple(vec![Term::Int(-1)]), None),
            (Term::tuple(vec![Term::Int(1), p()]), None),
            (Term::tuple(vec![Term::Int(1), p(), Term::atom("x")]), None),
            (Term::tuple(vec![Term::Int(2), Term::atom(""), p()]), None),
            (Term::tuple(vec![Term::Int(1), p(), p()]), Some(Term::nil())),
            (
                Term::tuple(vec![Term::Int(35), Term::Int(0), p(), p()]),
                None,
            ),
            (
                Term::tuple(vec![Term::Int(35), Term::Int(-5), p(), p()]),
                None,
            ),
            (
                Term::tuple(vec![Term::Int(6), p(), Term::atom(""), p()]),
                Some(Term::nil()),
            ),
        ];
        for (c, pl) in cases {
            let r = ControlMessage::from_term(c.clone(), pl);
            assert!(
                matches!(
                    r,
                    Err(E::NotAControlTuple
                        | E::UnknownOp(_)
                        | E::BadArity { .. }
                        | E::BadField { .. }
                        | E::MissingPayload(_)
                        | E::UnexpectedPayload(_))
                ),
                "{c:?} gave {r:?}"
            );
        }
    }
}
