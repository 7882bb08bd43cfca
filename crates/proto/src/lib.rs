//! # ferrobeam-proto
//!
//! Sans-IO codecs and state machines of Erlang distribution. Every module here takes bytes
//! and returns values, or takes values and returns bytes; none of them opens a socket, so
//! each is tested without one. The `ferrobeam` crate does the I/O.
//!
//! - [`epmd`]: the EPMD protocol (register a node, look up a node's port, list names).
//!
//! ```
//! use ferrobeam_proto::epmd::{decode_request, AliveResp, NamesResp, NodeInfo, Request};
//!
//! // A node registers: the bytes it sends to EPMD, and what EPMD reads.
//! let bytes = Request::Alive2(NodeInfo::new("chat", 40001)).encode().unwrap();
//! let (req, _used) = decode_request(&bytes).unwrap().unwrap();
//! assert!(matches!(req, Request::Alive2(ref n) if n.name == "chat"));
//!
//! // EPMD answers with the node's creation.
//! let answer = AliveResp::X { result: 0, creation: 7 }.encode();
//! let (resp, _) = AliveResp::decode(&answer).unwrap().unwrap();
//! assert_eq!(resp.creation(), 7);
//!
//! // The NAMES answer, byte for byte as `epmd` writes it.
//! let names = NamesResp::decode(b"\x00\x00\x11\x11name chat at port 40001\n").unwrap();
//! assert_eq!(names.epmd_port, 4369);
//! assert_eq!(names.nodes[0].name, "chat");
//! ```

#![warn(missing_docs)]

pub mod epmd;

pub mod control;
pub mod dist_header;
pub mod flags;
pub mod framing;
pub mod handshake;
