//! The EPMD (Erlang Port Mapper Daemon) protocol, sans-IO.
//!
//! Nodes find each other through EPMD, a small TCP server (port 4369, or `ERL_EPMD_PORT`) on
//! every host that runs distributed nodes. This module holds the messages of that protocol as
//! plain Rust values, with encoders that produce bytes and decoders that take bytes. Nothing
//! here touches a socket; the EPMD server and client in the `ferrobeam` crate do the I/O.
//!
//! Every request travels in a frame with a 2-byte big-endian length, which [`Request::encode`]
//! writes and [`decode_request`] reads. Responses have no frame: each has its own shape, and
//! some (NAMES, DUMP, PORT2) end when EPMD closes the connection.
//!
//! | request | tag | response |
//! |---|---|---|
//! | `ALIVE2_REQ` | 120 | `ALIVE2_X_RESP` (118) with a 32-bit creation, or `ALIVE2_RESP` (121) with a 16-bit one for version-5 nodes: [`AliveResp`] |
//! | `PORT_PLEASE2_REQ` | 122 | `PORT2_RESP` (119): [`Port2Resp`] |
//! | `NAMES_REQ` | 110 | EPMD's port, then `name N at port P\n` lines: [`NamesResp`] |
//! | `DUMP_REQ` | 100 | EPMD's port, then NUL-terminated lines: [`DumpResp`] |
//! | `KILL_REQ` | 107 | `OK` or `NO`: [`KillResp`] |
//! | `STOP_REQ` | 115 | `STOPPED` or `NOEXIST`: [`StopResp`] |
//!
//! The limits are those of OTP's `epmd`: a request body is at most [`MAX_REQUEST_LEN`] bytes,
//! a node name is 1 to 255 UTF-8 characters without NUL, and the extra field is at most
//! [`MAX_EXTRA_LEN`] bytes. Decoders never panic and never allocate more than their input.
//!
//! ```
//! use ferrobeam_proto::epmd::{decode_request, NodeInfo, Request};
//!
//! let req = Request::Alive2(NodeInfo::new("capnode", 34237));
//! let bytes = req.encode().unwrap();
//! assert_eq!(&bytes[..3], &[0x00, 0x14, 120]);
//! let (decoded, used) = decode_request(&bytes).unwrap().unwrap();
//! assert_eq!(decoded, req);
//! assert_eq!(used, bytes.len());
//! ```

use std::fmt;

/// The default EPMD port.
pub const DEFAULT_PORT: u16 = 4369;

/// Tag of `ALIVE2_REQ`, the registration of a node.
pub const ALIVE2_REQ: u8 = 120;
/// Tag of `ALIVE2_X_RESP`, the answer to a registration with a 32-bit creation.
pub const ALIVE2_X_RESP: u8 = 118;
/// Tag of `ALIVE2_RESP`, the old answer to a registration with a 16-bit creation.
pub const ALIVE2_RESP: u8 = 121;
/// Tag of `PORT_PLEASE2_REQ`, the lookup of a node's port.
pub const PORT_PLEASE2_REQ: u8 = 122;
/// Tag of `PORT2_RESP`, the answer to `PORT_PLEASE2_REQ`.
pub const PORT2_RESP: u8 = 119;
/// Tag of `NAMES_REQ`, the listing of registered names.
pub const NAMES_REQ: u8 = 110;
/// Tag of `DUMP_REQ`, a debug listing of all of EPMD's node slots.
pub const DUMP_REQ: u8 = 100;
/// Tag of `KILL_REQ`, which asks EPMD to exit.
pub const KILL_REQ: u8 = 107;
/// Tag of `STOP_REQ`, which asks EPMD to unregister a name by force.
pub const STOP_REQ: u8 = 115;

/// Node type of a normal (visible) Erlang node: `'M'`.
pub const NODE_TYPE_NORMAL: u8 = 77;
/// Node type of a hidden node (C node): `'H'`.
pub const NODE_TYPE_HIDDEN: u8 = 72;
/// Protocol 0: TCP over IPv4.
pub const PROTOCOL_TCP_IPV4: u8 = 0;
/// The highest distribution version of OTP 23 and later.
pub const DIST_VERSION_HIGH: u16 = 6;
/// The lowest distribution version OTP 25 announces to EPMD.
pub const DIST_VERSION_LOW: u16 = 5;

/// The largest request body (after the 2-byte length) that OTP's `epmd` accepts.
///
/// `epmd` reads a request into a buffer of 3060 bytes and refuses a length that does not
/// leave room for the header and a terminating NUL.
pub const MAX_REQUEST_LEN: usize = 3057;
/// The largest node name in bytes (255 characters of up to 4 bytes).
pub const MAX_NAME_LEN: usize = 1020;
/// The largest node name in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// The largest extra field of a registration, in bytes.
pub const MAX_EXTRA_LEN: usize = 1020;

/// The `Result` byte EPMD sends for a refused registration or an unknown name.
pub const RESULT_ERROR: u8 = 1;
/// The creation EPMD puts in a refused registration's answer.
pub const REFUSED_CREATION: u16 = 99;

/// What can be wrong with EPMD bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpmdError {
    /// The 2-byte length of a request is 0 or larger than [`MAX_REQUEST_LEN`].
    #[error("invalid request length {0}")]
    BadLength(usize),
    /// A request with a tag this protocol does not know.
    #[error("unknown request tag {0}")]
    UnknownRequest(u8),
    /// A response that starts with the wrong tag.
    #[error("unexpected response tag {0}")]
    UnexpectedResponse(u8),
    /// A message ends before one of its fields.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A node name that is empty, too long, not UTF-8, or contains NUL.
    #[error("invalid node name: {0}")]
    InvalidName(&'static str),
    /// An extra field longer than [`MAX_EXTRA_LEN`].
    #[error("extra field too long ({0} bytes)")]
    ExtraTooLong(usize),
    /// A message whose content does not follow the protocol.
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// A node as EPMD knows it: what `ALIVE2_REQ` registers and `PORT2_RESP` returns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeInfo {
    /// The name part of `name@host`.
    pub name: String,
    /// The port on which the node accepts distribution connections.
    pub port: u16,
    /// [`NODE_TYPE_NORMAL`] or [`NODE_TYPE_HIDDEN`].
    pub node_type: u8,
    /// [`PROTOCOL_TCP_IPV4`].
    pub protocol: u8,
    /// The highest distribution version the node handles.
    pub highest_version: u16,
    /// The lowest distribution version the node handles.
    pub lowest_version: u16,
    /// Opaque extra data, at most [`MAX_EXTRA_LEN`] bytes.
    pub extra: Vec<u8>,
}

impl NodeInfo {
    /// A normal node on TCP/IPv4 with the versions OTP 25 announces (6 and 5), no extra.
    pub fn new(name: impl Into<String>, port: u16) -> Self {
        NodeInfo {
            name: name.into(),
            port,
            node_type: NODE_TYPE_NORMAL,
            protocol: PROTOCOL_TCP_IPV4,
            highest_version: DIST_VERSION_HIGH,
            lowest_version: DIST_VERSION_LOW,
            extra: Vec::new(),
        }
    }

    /// Whether the node registered as hidden.
    pub fn is_hidden(&self) -> bool {
        self.node_type == NODE_TYPE_HIDDEN
    }

    /// Checks the lengths of the name and the extra field.
    pub fn validate(&self) -> Result<(), EpmdError> {
        validate_name(self.name.as_bytes())?;
        if self.extra.len() > MAX_EXTRA_LEN {
            return Err(EpmdError::ExtraTooLong(self.extra.len()));
        }
        Ok(())
    }

    /// Appends the fields shared by `ALIVE2_REQ` and `PORT2_RESP`, from PortNo to Extra.
    fn put_fields(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.port.to_be_bytes());
        out.push(self.node_type);
        out.push(self.protocol);
        out.extend_from_slice(&self.highest_version.to_be_bytes());
        out.extend_from_slice(&self.lowest_version.to_be_bytes());
        out.extend_from_slice(&(self.name.len() as u16).to_be_bytes());
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(&(self.extra.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.extra);
    }

    /// Parses the fields from PortNo to Extra. Returns the node and the bytes used, or
    /// `Ok(None)` when `buf` is a prefix of them.
    fn parse_fields(buf: &[u8]) -> Result<Option<(NodeInfo, usize)>, EpmdError> {
        if buf.len() < 10 {
            return Ok(None);
        }
        let port = be16(&buf[0..2]);
        let node_type = buf[2];
        let protocol = buf[3];
        let highest_version = be16(&buf[4..6]);
        let lowest_version = be16(&buf[6..8]);
        let nlen = be16(&buf[8..10]) as usize;
        if nlen > MAX_NAME_LEN {
            return Err(EpmdError::InvalidName("longer than 1020 bytes"));
        }
        let name_end = 10 + nlen;
        if buf.len() < name_end + 2 {
            return Ok(None);
        }
        let name = validate_name(&buf[10..name_end])?.to_owned();
        let elen = be16(&buf[name_end..name_end + 2]) as usize;
        if elen > MAX_EXTRA_LEN {
            return Err(EpmdError::ExtraTooLong(elen));
        }
        let end = name_end + 2 + elen;
        if buf.len() < end {
            return Ok(None);
        }
        let extra = buf[name_end + 2..end].to_vec();
        Ok(Some((
            NodeInfo {
                name,
                port,
                node_type,
                protocol,
                highest_version,
                lowest_version,
                extra,
            },
            end,
        )))
    }
}

/// A request to EPMD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `ALIVE2_REQ`: register a node. The registration lives as long as the connection.
    Alive2(NodeInfo),
    /// `PORT_PLEASE2_REQ`: look up the node registered under `name`.
    PortPlease2 {
        /// The name part of `name@host`.
        name: String,
    },
    /// `NAMES_REQ`: list the registered names.
    Names,
    /// `DUMP_REQ`: list all node slots, registered and old (a debug feature).
    Dump,
    /// `KILL_REQ`: ask EPMD to exit.
    Kill,
    /// `STOP_REQ`: unregister `name` by force.
    Stop {
        /// The name part of `name@host`.
        name: String,
    },
}

impl Request {
    /// The tag byte of this request.
    pub fn tag(&self) -> u8 {
        match self {
            Request::Alive2(_) => ALIVE2_REQ,
            Request::PortPlease2 { .. } => PORT_PLEASE2_REQ,
            Request::Names => NAMES_REQ,
            Request::Dump => DUMP_REQ,
            Request::Kill => KILL_REQ,
            Request::Stop { .. } => STOP_REQ,
        }
    }

    /// Encodes the request with its 2-byte length frame.
    ///
    /// Fails when a name or the extra field breaks EPMD's limits, so that EPMD would refuse
    /// the request.
    pub fn encode(&self) -> Result<Vec<u8>, EpmdError> {
        let mut out = vec![0, 0, self.tag()];
        match self {
            Request::Alive2(info) => {
                info.validate()?;
                info.put_fields(&mut out);
            }
            Request::PortPlease2 { name } | Request::Stop { name } => {
                validate_name(name.as_bytes())?;
                out.extend_from_slice(name.as_bytes());
            }
            Request::Names | Request::Dump | Request::Kill => {}
        }
        let len = out.len() - 2;
        if len > MAX_REQUEST_LEN {
            return Err(EpmdError::BadLength(len));
        }
        out[..2].copy_from_slice(&(len as u16).to_be_bytes());
        Ok(out)
    }

    /// Decodes a request body: the bytes after the 2-byte length.
    ///
    /// Like OTP's `epmd`, bytes after the end of an `ALIVE2_REQ`, `NAMES_REQ`, `DUMP_REQ` or
    /// `KILL_REQ` are ignored, and one trailing NUL after a name is accepted.
    pub fn decode_body(body: &[u8]) -> Result<Request, EpmdError> {
        let Some((&tag, rest)) = body.split_first() else {
            return Err(EpmdError::BadLength(0));
        };
        match tag {
            ALIVE2_REQ => match NodeInfo::parse_fields(rest)? {
                Some((info, _)) => Ok(Request::Alive2(info)),
                None => Err(EpmdError::Truncated("ALIVE2_REQ")),
            },
            PORT_PLEASE2_REQ => Ok(Request::PortPlease2 {
                name: name_field(rest)?,
            }),
            NAMES_REQ => Ok(Request::Names),
            DUMP_REQ => Ok(Request::Dump),
            KILL_REQ => Ok(Request::Kill),
            STOP_REQ => Ok(Request::Stop {
                name: name_field(rest)?,
            }),
            other => Err(EpmdError::UnknownRequest(other)),
        }
    }
}

/// Decodes one framed request from the start of `buf`.
///
/// Returns the request and the number of bytes it took, or `Ok(None)` when `buf` holds only
/// part of the frame. A length of 0 or above [`MAX_REQUEST_LEN`] is an error as soon as the
/// 2-byte header is there, so a reader never needs to buffer more than
/// `2 + MAX_REQUEST_LEN` bytes.
pub fn decode_request(buf: &[u8]) -> Result<Option<(Request, usize)>, EpmdError> {
    let Some(len) = request_len(buf)? else {
        return Ok(None);
    };
    if buf.len() < 2 + len {
        return Ok(None);
    }
    Request::decode_body(&buf[2..2 + len]).map(|r| Some((r, 2 + len)))
}

/// Reads and checks the 2-byte length of a request frame. `Ok(None)` when fewer than two
/// bytes are there.
pub fn request_len(buf: &[u8]) -> Result<Option<usize>, EpmdError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let len = be16(&buf[..2]) as usize;
    if len == 0 || len > MAX_REQUEST_LEN {
        return Err(EpmdError::BadLength(len));
    }
    Ok(Some(len))
}

/// The answer to `ALIVE2_REQ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliveResp {
    /// `ALIVE2_X_RESP` (118), sent to nodes whose highest version is 6 or more.
    X {
        /// 0 on success, anything else when the registration was refused.
        result: u8,
        /// The node's creation: its incarnation number.
        creation: u32,
    },
    /// `ALIVE2_RESP` (121), sent to nodes whose highest version is below 6.
    Old {
        /// 0 on success, anything else when the registration was refused.
        result: u8,
        /// The node's creation: its incarnation number.
        creation: u16,
    },
}

impl AliveResp {
    /// Whether the registration succeeded.
    pub fn is_ok(&self) -> bool {
        self.result() == 0
    }

    /// The result byte: 0 on success.
    pub fn result(&self) -> u8 {
        match *self {
            AliveResp::X { result, .. } | AliveResp::Old { result, .. } => result,
        }
    }

    /// The creation, widened to 32 bits.
    pub fn creation(&self) -> u32 {
        match *self {
            AliveResp::X { creation, .. } => creation,
            AliveResp::Old { creation, .. } => u32::from(creation),
        }
    }

    /// The bytes of the response.
    pub fn encode(&self) -> Vec<u8> {
        match *self {
            AliveResp::X { result, creation } => {
                let c = creation.to_be_bytes();
                vec![ALIVE2_X_RESP, result, c[0], c[1], c[2], c[3]]
            }
            AliveResp::Old { result, creation } => {
                let c = creation.to_be_bytes();
                vec![ALIVE2_RESP, result, c[0], c[1]]
            }
        }
    }

    /// Decodes a response from the start of `buf`; `Ok(None)` while it is incomplete.
    pub fn decode(buf: &[u8]) -> Result<Option<(AliveResp, usize)>, EpmdError> {
        let Some(&tag) = buf.first() else {
            return Ok(None);
        };
        match tag {
            ALIVE2_X_RESP if buf.len() >= 6 => Ok(Some((
                AliveResp::X {
                    result: buf[1],
                    creation: u32::from_be_bytes([buf[2], buf[3], buf[4], buf[5]]),
                },
                6,
            ))),
            ALIVE2_RESP if buf.len() >= 4 => Ok(Some((
                AliveResp::Old {
                    result: buf[1],
                    creation: be16(&buf[2..4]),
                },
                4,
            ))),
            ALIVE2_X_RESP | ALIVE2_RESP => Ok(None),
            other => Err(EpmdError::UnexpectedResponse(other)),
        }
    }
}

/// The answer to `PORT_PLEASE2_REQ`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Port2Resp {
    /// The node is registered.
    Found(NodeInfo),
    /// No node has that name; EPMD sends result 1.
    NotFound(u8),
}

impl Port2Resp {
    /// The bytes of the response.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Port2Resp::Found(info) => {
                let mut out = Vec::with_capacity(14 + info.name.len() + info.extra.len());
                out.push(PORT2_RESP);
                out.push(0);
                info.put_fields(&mut out);
                out
            }
            Port2Resp::NotFound(result) => vec![PORT2_RESP, (*result).max(1)],
        }
    }

    /// Decodes a response from the start of `buf`; `Ok(None)` while it is incomplete.
    pub fn decode(buf: &[u8]) -> Result<Option<(Port2Resp, usize)>, EpmdError> {
        if buf.len() < 2 {
            return match buf.first() {
                Some(&t) if t != PORT2_RESP => Err(EpmdError::UnexpectedResponse(t)),
                _ => Ok(None),
            };
        }
        if buf[0] != PORT2_RESP {
            return Err(EpmdError::UnexpectedResponse(buf[0]));
        }
        if buf[1] != 0 {
            return Ok(Some((Port2Resp::NotFound(buf[1]), 2)));
        }
        Ok(NodeInfo::parse_fields(&buf[2..])?.map(|(info, n)| (Port2Resp::Found(info), 2 + n)))
    }
}

/// One registered node in a NAMES answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameEntry {
    /// The name part of `name@host`.
    pub name: String,
    /// The node's distribution port.
    pub port: u16,
}

/// The answer to `NAMES_REQ`: EPMD's own port, then one `name N at port P\n` line per node,
/// newest registration first. EPMD closes the connection after the last line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamesResp {
    /// The port EPMD listens on, as a 32-bit number.
    pub epmd_port: u32,
    /// The registered nodes, in EPMD's order.
    pub nodes: Vec<NameEntry>,
}

impl NamesResp {
    /// The 4-byte header: EPMD's port.
    pub fn encode_header(epmd_port: u32) -> [u8; 4] {
        epmd_port.to_be_bytes()
    }

    /// One line, exactly as `epmd` writes it: `name <Name> at port <Port>\n`.
    pub fn encode_line(name: &str, port: u16, out: &mut Vec<u8>) {
        out.extend_from_slice(b"name ");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b" at port ");
        out.extend_from_slice(port.to_string().as_bytes());
        out.push(b'\n');
    }

    /// The whole response.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Self::encode_header(self.epmd_port).to_vec();
        for n in &self.nodes {
            Self::encode_line(&n.name, n.port, &mut out);
        }
        out
    }

    /// Decodes a complete response: everything EPMD sent until it closed the connection.
    pub fn decode(buf: &[u8]) -> Result<NamesResp, EpmdError> {
        if buf.len() < 4 {
            return Err(EpmdError::Truncated("NAMES response"));
        }
        let epmd_port = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let text = std::str::from_utf8(&buf[4..])
            .map_err(|_| EpmdError::Malformed("NAMES response: not UTF-8"))?;
        let mut nodes = Vec::new();
        for line in text.split_terminator('\n') {
            let rest = line
                .strip_prefix("name ")
                .ok_or(EpmdError::Malformed("NAMES line"))?;
            let (name, port) = rest
                .rsplit_once(" at port ")
                .ok_or(EpmdError::Malformed("NAMES line"))?;
            let port = port
                .parse::<u16>()
                .map_err(|_| EpmdError::Malformed("NAMES port"))?;
            nodes.push(NameEntry {
                name: name.to_owned(),
                port,
            });
        }
        Ok(NamesResp { epmd_port, nodes })
    }
}

/// Whether a node slot in a DUMP answer is registered or a remembered old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpState {
    /// A registered node.
    Active,
    /// A node that was registered and is gone; EPMD remembers it to change its creation the
    /// next time the name registers.
    Old,
}

/// One node slot in a DUMP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpEntry {
    /// Registered or old.
    pub state: DumpState,
    /// The node name.
    pub name: String,
    /// The node's distribution port.
    pub port: u16,
    /// The file descriptor of the registration's socket inside EPMD.
    pub fd: i32,
}

/// The answer to `DUMP_REQ`: EPMD's port, then one NUL-terminated line per slot:
/// `active name     <N> at port P, fd = F\n` or `old/unused name <N>, port = P, fd = F \n`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DumpResp {
    /// The port EPMD listens on.
    pub epmd_port: u32,
    /// Active slots first, then old ones.
    pub entries: Vec<DumpEntry>,
}

impl DumpResp {
    /// One entry, exactly as `epmd` writes it, NUL included.
    pub fn encode_entry(e: &DumpEntry, out: &mut Vec<u8>) {
        let line = match e.state {
            DumpState::Active => format!(
                "active name     <{}> at port {}, fd = {}\n",
                e.name, e.port, e.fd
            ),
            DumpState::Old => format!(
                "old/unused name <{}>, port = {}, fd = {} \n",
                e.name, e.port, e.fd
            ),
        };
        out.extend_from_slice(line.as_bytes());
        out.push(0);
    }

    /// The whole response.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.epmd_port.to_be_bytes().to_vec();
        for e in &self.entries {
            Self::encode_entry(e, &mut out);
        }
        out
    }

    /// Decodes a complete response.
    pub fn decode(buf: &[u8]) -> Result<DumpResp, EpmdError> {
        if buf.len() < 4 {
            return Err(EpmdError::Truncated("DUMP response"));
        }
        let epmd_port = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let mut entries = Vec::new();
        for raw in buf[4..].split(|&b| b == 0).filter(|l| !l.is_empty()) {
            let line = std::str::from_utf8(raw)
                .map_err(|_| EpmdError::Malformed("DUMP line: not UTF-8"))?
                .trim_end();
            entries.push(parse_dump_line(line).ok_or(EpmdError::Malformed("DUMP line"))?);
        }
        Ok(DumpResp { epmd_port, entries })
    }
}

fn parse_dump_line(line: &str) -> Option<DumpEntry> {
    if let Some(rest) = line.strip_prefix("active name     <") {
        let (name, rest) = rest.rsplit_once("> at port ")?;
        let (port, fd) = rest.split_once(", fd = ")?;
        Some(DumpEntry {
            state: DumpState::Active,
            name: name.to_owned(),
            port: port.parse().ok()?,
            fd: fd.trim().parse().ok()?,
        })
    } else {
        let rest = line.strip_prefix("old/unused name <")?;
        let (name, rest) = rest.rsplit_once(">, port = ")?;
        let (port, fd) = rest.split_once(", fd = ")?;
        Some(DumpEntry {
            state: DumpState::Old,
            name: name.to_owned(),
            port: port.parse().ok()?,
            fd: fd.trim().parse().ok()?,
        })
    }
}

/// The answer to `KILL_REQ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillResp {
    /// `OK`: EPMD exits.
    Ok,
    /// `NO`: EPMD refuses because nodes are registered and it runs without
    /// `-relaxed_command_check`.
    No,
}

impl KillResp {
    /// The two bytes of the response.
    pub fn encode(&self) -> &'static [u8] {
        match self {
            KillResp::Ok => b"OK",
            KillResp::No => b"NO",
        }
    }

    /// Decodes a complete response.
    pub fn decode(buf: &[u8]) -> Result<KillResp, EpmdError> {
        match buf {
            b"OK" => Ok(KillResp::Ok),
            b"NO" => Ok(KillResp::No),
            _ => Err(EpmdError::Malformed("KILL response")),
        }
    }
}

/// The answer to `STOP_REQ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopResp {
    /// `STOPPED`: the name was unregistered and its connection closed.
    Stopped,
    /// `NOEXIST`: no node has that name.
    NoExist,
}

impl StopResp {
    /// The seven bytes of the response.
    pub fn encode(&self) -> &'static [u8] {
        match self {
            StopResp::Stopped => b"STOPPED",
            StopResp::NoExist => b"NOEXIST",
        }
    }

    /// Decodes a complete response. OTP's `epmd` answers an unknown name with
    /// `NOEXISTSTOPPED`; that reads as [`StopResp::NoExist`].
    pub fn decode(buf: &[u8]) -> Result<StopResp, EpmdError> {
        if buf.starts_with(b"NOEXIST") {
            Ok(StopResp::NoExist)
        } else if buf == b"STOPPED" {
            Ok(StopResp::Stopped)
        } else {
            Err(EpmdError::Malformed("STOP response"))
        }
    }
}

impl fmt::Display for NameEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "name {} at port {}", self.name, self.port)
    }
}

/// Checks a node name as EPMD does: 1 to 255 UTF-8 characters, at most
/// [`MAX_NAME_LEN`] bytes, no NUL.
pub fn validate_name(name: &[u8]) -> Result<&str, EpmdError> {
    if name.is_empty() {
        return Err(EpmdError::InvalidName("empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(EpmdError::InvalidName("longer than 1020 bytes"));
    }
    if name.contains(&0) {
        return Err(EpmdError::InvalidName("contains NUL"));
    }
    let s = std::str::from_utf8(name).map_err(|_| EpmdError::InvalidName("not UTF-8"))?;
    if s.chars().count() > MAX_NAME_CHARS {
        return Err(EpmdError::InvalidName("longer than 255 characters"));
    }
    Ok(s)
}

/// The name of `PORT_PLEASE2_REQ` and `STOP_REQ`: the rest of the body, with one optional
/// trailing NUL.
fn name_field(rest: &[u8]) -> Result<String, EpmdError> {
    let rest = rest.strip_suffix(&[0]).unwrap_or(rest);
    validate_name(rest).map(str::to_owned)
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    // Byte strings captured from OTP 25.2.3's `epmd` (Debian erlang-base) with strace and a
    // small socket probe, on a spare port through ERL_EPMD_PORT.

    /// `erl -sname capnode` registering (node port 34237).
    const REAL_ALIVE2_REQ: &[u8] =
        b"\x00\x14\x78\x85\xbd\x4d\x00\x00\x06\x00\x05\x00\x07capnode\x00\x00";
    /// epmd's answer: ALIVE2_X_RESP, ok, creation 0x6b01f413.
    const REAL_ALIVE2_X_RESP: &[u8] = b"\x76\x00\x6b\x01\xf4\x13";
    /// A duplicate name refused.
    const REAL_ALIVE2_X_REFUSED: &[u8] = b"\x76\x01\x00\x00\x00\x63";
    /// A version-5 registration's answer: ALIVE2_RESP with 16-bit creation 3.
    const REAL_ALIVE2_RESP_OLD: &[u8] = b"\x79\x00\x00\x03";
    /// PORT2_RESP for "alpha" (port 5001, normal, versions 6/5, extra "xy").
    const REAL_PORT2_ALPHA: &[u8] =
        b"\x77\x00\x13\x89\x4d\x00\x00\x06\x00\x05\x00\x05alpha\x00\x02xy";
    /// PORT2_RESP for "beta" (port 5002, hidden, versions 5/5, no extra).
    const REAL_PORT2_BETA: &[u8] = b"\x77\x00\x13\x8a\x48\x00\x00\x05\x00\x05\x00\x04beta\x00\x00";
    /// PORT2_RESP for an unknown name.
    const REAL_PORT2_NOTFOUND: &[u8] = b"\x77\x01";
    /// NAMES_REQ as `erl` and `epmd -names` send it.
    const REAL_NAMES_REQ: &[u8] = b"\x00\x01\x6e";
    /// NAMES answer of an epmd on port 57485 (0xe08d) with beta registered after alpha.
    const REAL_NAMES_RESP: &[u8] =
        b"\x00\x00\xe0\x8dname beta at port 5002\nname alpha at port 5001\n";
    /// DUMP answer with two active and one old slot.
    const REAL_DUMP_RESP: &[u8] = b"\x00\x00\xe0\x8dactive name     <beta> at port 5002, fd = 6\n\x00active name     <alpha> at port 5001, fd = 5\n\x00old/unused name <capnode>, port = 33447, fd = 5 \n\x00";

    #[test]
    fn real_alive2_req_decodes_and_reencodes() {
        let (req, used) = decode_request(REAL_ALIVE2_REQ).unwrap().unwrap();
        assert_eq!(used, REAL_ALIVE2_REQ.len());
        let expected = NodeInfo {
            name: "capnode".into(),
            port: 34237,
            node_type: NODE_TYPE_NORMAL,
            protocol: 0,
            highest_version: 6,
            lowest_version: 5,
            extra: vec![],
        };
        assert_eq!(req, Request::Alive2(expected.clone()));
        assert_eq!(Request::Alive2(expected).encode().unwrap(), REAL_ALIVE2_REQ);
    }

    #[test]
    fn real_alive_responses() {
        let (r, n) = AliveResp::decode(REAL_ALIVE2_X_RESP).unwrap().unwrap();
        assert_eq!(n, 6);
        assert_eq!(
            r,
            AliveResp::X {
                result: 0,
                creation: 1_795_290_131
            }
        );
        assert!(r.is_ok());
        assert_eq!(r.encode(), REAL_ALIVE2_X_RESP);

        let (r, _) = AliveResp::decode(REAL_ALIVE2_X_REFUSED).unwrap().unwrap();
        assert!(!r.is_ok());
        assert_eq!(
            AliveResp::X {
                result: RESULT_ERROR,
                creation: u32::from(REFUSED_CREATION)
            }
            .encode(),
            REAL_ALIVE2_X_REFUSED
        );

        let (r, n) = AliveResp::decode(REAL_ALIVE2_RESP_OLD).unwrap().unwrap();
        assert_eq!(n, 4);
        assert_eq!(
            r,
            AliveResp::Old {
                result: 0,
                creation: 3
            }
        );
        assert_eq!(r.creation(), 3);
        assert_eq!(r.encode(), REAL_ALIVE2_RESP_OLD);
    }

    #[test]
    fn alive_resp_incremental() {
        for cut in 0..REAL_ALIVE2_X_RESP.len() {
            assert_eq!(AliveResp::decode(&REAL_ALIVE2_X_RESP[..cut]).unwrap(), None);
        }
        assert_eq!(
            AliveResp::decode(b"NO"),
            Err(EpmdError::UnexpectedResponse(b'N'))
        );
    }

    #[test]
    fn real_port2_responses() {
        let (r, n) = Port2Resp::decode(REAL_PORT2_ALPHA).unwrap().unwrap();
        assert_eq!(n, REAL_PORT2_ALPHA.len());
        let mut alpha = NodeInfo::new("alpha", 5001);
        alpha.extra = b"xy".to_vec();
        assert_eq!(r, Port2Resp::Found(alpha));
        assert_eq!(r.encode(), REAL_PORT2_ALPHA);

        let (r, _) = Port2Resp::decode(REAL_PORT2_BETA).unwrap().unwrap();
        let Port2Resp::Found(beta) = &r else {
            panic!("not found")
        };
        assert!(beta.is_hidden());
        assert_eq!((beta.highest_version, beta.lowest_version), (5, 5));
        assert_eq!(r.encode(), REAL_PORT2_BETA);

        let (r, n) = Port2Resp::decode(REAL_PORT2_NOTFOUND).unwrap().unwrap();
        assert_eq!((r.clone(), n), (Port2Resp::NotFound(1), 2));
        assert_eq!(r.encode(), REAL_PORT2_NOTFOUND);

        for cut in 0..REAL_PORT2_ALPHA.len() {
            assert_eq!(Port2Resp::decode(&REAL_PORT2_ALPHA[..cut]).unwrap(), None);
        }
    }

    #[test]
    fn port_please_requests() {
        let req = Request::PortPlease2 {
            name: "alpha".into(),
        };
        assert_eq!(req.encode().unwrap(), b"\x00\x06\x7aalpha");
        assert_eq!(
            decode_request(b"\x00\x06\x7aalpha").unwrap(),
            Some((req.clone(), 8))
        );
        // One trailing NUL is accepted, as epmd accepts it.
        assert_eq!(
            decode_request(b"\x00\x07\x7aalpha\x00").unwrap(),
            Some((req, 9))
        );
        assert!(matches!(
            decode_request(b"\x00\x01\x7a"),
            Err(EpmdError::InvalidName(_))
        ));
        assert!(matches!(
            decode_request(b"\x00\x04\x7aa\x00b"),
            Err(EpmdError::InvalidName(_))
        ));
    }

    #[test]
    fn simple_requests() {
        assert_eq!(Request::Names.encode().unwrap(), REAL_NAMES_REQ);
        assert_eq!(
            decode_request(REAL_NAMES_REQ).unwrap(),
            Some((Request::Names, 3))
        );
        assert_eq!(Request::Dump.encode().unwrap(), b"\x00\x01\x64");
        assert_eq!(Request::Kill.encode().unwrap(), b"\x00\x01\x6b");
        let stop = Request::Stop {
            name: "beta".into(),
        };
        assert_eq!(stop.encode().unwrap(), b"\x00\x05\x73beta");
        assert_eq!(
            decode_request(b"\x00\x05\x73beta").unwrap(),
            Some((stop, 7))
        );
        // epmd answers NAMES even with junk after the tag.
        assert_eq!(
            decode_request(b"\x00\x04\x6exyz").unwrap(),
            Some((Request::Names, 6))
        );
    }

    #[test]
    fn framing_limits() {
        assert_eq!(decode_request(b"").unwrap(), None);
        assert_eq!(decode_request(b"\x00").unwrap(), None);
        assert_eq!(decode_request(b"\x00\x14\x78").unwrap(), None);
        assert_eq!(decode_request(b"\x00\x00"), Err(EpmdError::BadLength(0)));
        assert_eq!(
            decode_request(b"\xff\xffaaaa"),
            Err(EpmdError::BadLength(65535))
        );
        assert_eq!(
            decode_request(&[0x0b, 0xf2]),
            Err(EpmdError::BadLength(3058))
        );
        assert_eq!(request_len(&[0x0b, 0xf1]).unwrap(), Some(MAX_REQUEST_LEN));
        assert_eq!(
            decode_request(b"\x00\x01\x01"),
            Err(EpmdError::UnknownRequest(1))
        );
    }

    #[test]
    fn alive2_malformed() {
        // Name length beyond the body.
        let bad = b"\x00\x0e\x78\x00\x01\x4d\x00\x00\x06\x00\x05\x00\x09ab\x00\x00";
        assert!(decode_request(bad).is_err());
        // Extra length beyond the body.
        let bad = b"\x00\x0f\x78\x00\x01\x4d\x00\x00\x06\x00\x05\x00\x02ab\x00\x09";
        assert_eq!(decode_request(bad), Err(EpmdError::Truncated("ALIVE2_REQ")));
        // Empty name.
        let bad = b"\x00\x0d\x78\x00\x01\x4d\x00\x00\x06\x00\x05\x00\x00\x00\x00";
        assert!(matches!(
            decode_request(bad),
            Err(EpmdError::InvalidName(_))
        ));
        // NUL in the name.
        let bad = b"\x00\x0f\x78\x00\x01\x4d\x00\x00\x06\x00\x05\x00\x02a\x00\x00\x00";
        assert!(matches!(
            decode_request(bad),
            Err(EpmdError::InvalidName(_))
        ));
        // Invalid UTF-8.
        let bad = b"\x00\x0f\x78\x00\x01\x4d\x00\x00\x06\x00\x05\x00\x02\xc3\x28\x00\x00";
        assert!(matches!(
            decode_request(bad),
            Err(EpmdError::InvalidName(_))
        ));
        // Encoding refuses what epmd would refuse.
        assert!(Request::Alive2(NodeInfo::new("", 1)).encode().is_err());
        assert!(Request::Alive2(NodeInfo::new("é".repeat(256), 1))
            .encode()
            .is_err());
        let mut big = NodeInfo::new("x", 1);
        big.extra = vec![0; MAX_EXTRA_LEN + 1];
        assert_eq!(
            Request::Alive2(big).encode(),
            Err(EpmdError::ExtraTooLong(1021))
        );
    }

    #[test]
    fn utf8_names_round_trip() {
        let info = NodeInfo::new("nöde_ø", 4000);
        let bytes = Request::Alive2(info.clone()).encode().unwrap();
        let (req, _) = decode_request(&bytes).unwrap().unwrap();
        assert_eq!(req, Request::Alive2(info));
    }

    #[test]
    fn real_names_response() {
        let r = NamesResp::decode(REAL_NAMES_RESP).unwrap();
        assert_eq!(r.epmd_port, 57485);
        assert_eq!(
            r.nodes,
            vec![
                NameEntry {
                    name: "beta".into(),
                    port: 5002
                },
                NameEntry {
                    name: "alpha".into(),
                    port: 5001
                }
            ]
        );
        assert_eq!(r.encode(), REAL_NAMES_RESP);
        assert_eq!(r.nodes[0].to_string(), "name beta at port 5002");
        let empty = NamesResp::decode(b"\x00\x00\x11\x11").unwrap();
        assert!(empty.nodes.is_empty());
        assert!(NamesResp::decode(b"\x00\x00").is_err());
        assert!(NamesResp::decode(b"\x00\x00\x11\x11garbage\n").is_err());
    }

    #[test]
    fn real_dump_response() {
        let r = DumpResp::decode(REAL_DUMP_RESP).unwrap();
        assert_eq!(r.epmd_port, 57485);
        assert_eq!(r.entries.len(), 3);
        assert_eq!(
            r.entries[2],
            DumpEntry {
                state: DumpState::Old,
                name: "capnode".into(),
                port: 33447,
                fd: 5
            }
        );
        assert_eq!(r.encode(), REAL_DUMP_RESP);
    }

    #[test]
    fn kill_and_stop_responses() {
        assert_eq!(KillResp::decode(b"OK").unwrap(), KillResp::Ok);
        assert_eq!(KillResp::decode(b"NO").unwrap(), KillResp::No);
        assert!(KillResp::decode(b"").is_err());
        assert_eq!(StopResp::decode(b"STOPPED").unwrap(), StopResp::Stopped);
        assert_eq!(StopResp::decode(b"NOEXIST").unwrap(), StopResp::NoExist);
        // What OTP's epmd really sends for an unknown name.
        assert_eq!(
            StopResp::decode(b"NOEXISTSTOPPED").unwrap(),
            StopResp::NoExist
        );
        assert_eq!(KillResp::Ok.encode(), b"OK");
        assert_eq!(StopResp::Stopped.encode(), b"STOPPED");
    }

    #[test]
    fn decoders_never_panic_on_prefixes_and_noise() {
        let samples: [&[u8]; 5] = [
            REAL_ALIVE2_REQ,
            REAL_PORT2_ALPHA,
            REAL_NAMES_RESP,
            REAL_DUMP_RESP,
            REAL_ALIVE2_X_RESP,
        ];
        let mut seed = 0x9e37_79b9_u32;
        for s in samples {
            for cut in 0..=s.len() {
                let p = &s[..cut];
                let _ = decode_request(p);
                let _ = AliveResp::decode(p);
                let _ = Port2Resp::decode(p);
                let _ = NamesResp::decode(p);
                let _ = DumpResp::decode(p);
                let mut noisy = p.to_vec();
                for b in noisy.iter_mut() {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    if seed % 7 == 0 {
                        *b = seed as u8;
                    }
                }
                let _ = decode_request(&noisy);
                let _ = Port2Resp::decode(&noisy);
                let _ = NamesResp::decode(&noisy);
                let _ = DumpResp::decode(&noisy);
            }
        }
    }

    mod props {
        use super::super::*;
        use proptest::collection::vec;
        use proptest::prelude::*;

        fn name() -> impl Strategy<Value = String> {
            "[a-zA-Z0-9_\\-é]{1,40}"
        }

        fn node() -> impl Strategy<Value = NodeInfo> {
            (
                name(),
                any::<u16>(),
                any::<u8>(),
                any::<u8>(),
                any::<u16>(),
                any::<u16>(),
                vec(any::<u8>(), 0..64),
            )
                .prop_map(|(name, port, node_type, protocol, hi, lo, extra)| {
                    NodeInfo {
                        name,
                        port,
                        node_type,
                        protocol,
                        highest_version: hi,
                        lowest_version: lo,
                        extra,
                    }
                })
        }

        proptest! {
            #[test]
            fn alive2_round_trips(n in node()) {
                let b = Request::Alive2(n.clone()).encode().unwrap();
                prop_assert_eq!(decode_request(&b).unwrap(), Some((Request::Alive2(n), b.len())));
                // Every proper prefix is incomplete, never an error.
                for cut in 0..b.len() {
                    prop_assert_eq!(decode_request(&b[..cut]).unwrap(), None);
                }
            }

            #[test]
            fn name_requests_round_trip(n in name(), stop in any::<bool>()) {
                let r = if stop { Request::Stop { name: n } } else { Request::PortPlease2 { name: n } };
                let b = r.encode().unwrap();
                prop_assert_eq!(decode_request(&b).unwrap(), Some((r, b.len())));
            }

            #[test]
            fn port2_round_trips(n in node()) {
                let r = Port2Resp::Found(n);
                let b = r.encode();
                prop_assert_eq!(Port2Resp::decode(&b).unwrap(), Some((r, b.len())));
            }

            #[test]
            fn alive_resp_round_trips(result in any::<u8>(), creation in any::<u32>(), old in any::<bool>()) {
                let r = if old {
                    AliveResp::Old { result, creation: creation as u16 }
                } else {
                    AliveResp::X { result, creation }
                };
                let b = r.encode();
                prop_assert_eq!(AliveResp::decode(&b).unwrap(), Some((r, b.len())));
            }

            #[test]
            fn names_round_trip(epmd_port in any::<u32>(), nodes in vec((name(), any::<u16>()), 0..20)) {
                let r = NamesResp {
                    epmd_port,
                    nodes: nodes.into_iter().map(|(name, port)| NameEntry { name, port }).collect(),
                };
                prop_assert_eq!(NamesResp::decode(&r.encode()).unwrap(), r);
            }

            #[test]
            fn dump_round_trips(epmd_port in any::<u32>(), entries in vec((name(), any::<u16>(), any::<i32>(), any::<bool>()), 0..20)) {
                let r = DumpResp {
                    epmd_port,
                    entries: entries
                        .into_iter()
                        .map(|(name, port, fd, old)| DumpEntry {
                            state: if old { DumpState::Old } else { DumpState::Active },
                            name,
                            port,
                            fd,
                        })
                        .collect(),
                };
                prop_assert_eq!(DumpResp::decode(&r.encode()).unwrap(), r);
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..400)) {
                if let Ok(Some((_, used))) = decode_request(&bytes) {
                    prop_assert!(used <= bytes.len());
                }
                let _ = Request::decode_body(&bytes);
                let _ = AliveResp::decode(&bytes);
                let _ = Port2Resp::decode(&bytes);
                let _ = NamesResp::decode(&bytes);
                let _ = DumpResp::decode(&bytes);
                let _ = KillResp::decode(&bytes);
                let _ = StopResp::decode(&bytes);
            }
        }
    }
}
