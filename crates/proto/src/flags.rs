//! Distribution capability flags (`DFLAG_*`), as defined by OTP's `dist.hrl`.
//!
//! Both nodes send their flags in the handshake; the connection uses the intersection
//! ([`negotiate`]). A peer that lacks a flag of the mandatory set is refused with
//! "cannot handle [...]" ([`missing_mandatory`], [`CannotHandle`]).

use std::fmt;

/// The node is to be published and part of the global namespace (a visible node).
pub const PUBLISHED: u64 = 0x01;
/// The node implements an atom cache (obsolete).
pub const ATOM_CACHE: u64 = 0x02;
/// The node implements extended (3 × 32 bits) references. Mandatory.
pub const EXTENDED_REFERENCES: u64 = 0x04;
/// The node implements distributed process monitoring.
pub const DIST_MONITOR: u64 = 0x08;
/// The node uses separate tags for funs. Mandatory.
pub const FUN_TAGS: u64 = 0x10;
/// The node implements distributed named process monitoring.
pub const DIST_MONITOR_NAME: u64 = 0x20;
/// The (hidden) node implements an atom cache (obsolete).
pub const HIDDEN_ATOM_CACHE: u64 = 0x40;
/// The node understands `NEW_FUN_EXT`. Mandatory.
pub const NEW_FUN_TAGS: u64 = 0x80;
/// The node can handle extended pids and ports. Mandatory.
pub const EXTENDED_PIDS_PORTS: u64 = 0x100;
/// The node understands `EXPORT_EXT`. Mandatory.
pub const EXPORT_PTR_TAG: u64 = 0x200;
/// The node understands `BIT_BINARY_EXT`. Mandatory.
pub const BIT_BINARIES: u64 = 0x400;
/// The node understands `NEW_FLOAT_EXT`. Mandatory.
pub const NEW_FLOATS: u64 = 0x800;
/// The node handles Unicode I/O requests.
pub const UNICODE_IO: u64 = 0x1000;
/// The node implements the atom cache in the distribution header.
pub const DIST_HDR_ATOM_CACHE: u64 = 0x2000;
/// The node understands `SMALL_ATOM_EXT`.
pub const SMALL_ATOM_TAGS: u64 = 0x4000;
/// The node understands UTF-8 atoms. Mandatory.
pub const UTF8_ATOMS: u64 = 0x10000;
/// The node understands `MAP_EXT`. Mandatory.
pub const MAP_TAG: u64 = 0x20000;
/// The node understands big creations (`NEW_PID_EXT`, `NEW_PORT_EXT`,
/// `NEWER_REFERENCE_EXT`). Mandatory.
pub const BIG_CREATION: u64 = 0x40000;
/// Use `SEND_SENDER` instead of `SEND`.
pub const SEND_SENDER: u64 = 0x80000;
/// The node understands any term as a seq-trace label.
pub const BIG_SEQTRACE_LABELS: u64 = 0x100000;
/// Use the `PAYLOAD_*` exit control messages.
pub const EXIT_PAYLOAD: u64 = 0x400000;
/// The node accepts fragmented distribution messages.
pub const FRAGMENTS: u64 = 0x800000;
/// The node supports handshake version 6 (OTP 23+). Mandatory.
pub const HANDSHAKE_23: u64 = 0x1000000;
/// The node uses the new link protocol (`UNLINK_ID`). Mandatory from OTP 26.
pub const UNLINK_ID: u64 = 0x2000000;
/// Shorthand for all of [`MANDATORY_25`] (OTP 25+). A peer that sets it is treated as if
/// it had set every flag of [`MANDATORY_25`].
pub const MANDATORY_25_DIGEST: u64 = 0x4000000;
/// Reserved bits of the low word.
pub const RESERVED: u64 = 0xf8000000;
/// The node supports `SPAWN_REQUEST`/`SPAWN_REPLY`.
pub const SPAWN: u64 = 1 << 32;
/// Dynamic node name: the initiator asks the acceptor to name it.
pub const NAME_ME: u64 = 1 << 33;
/// Node container types version 4 (32-bit pid fields, 64-bit ports, 5-word refs).
/// Mandatory from OTP 26.
pub const V4_NC: u64 = 1 << 34;
/// The node supports process aliases (`ALIAS_SEND`).
pub const ALIAS: u64 = 1 << 35;

/// The flags OTP 25 requires of a peer (`MANDATORY_DFLAGS_25`).
pub const MANDATORY_25: u64 = EXTENDED_REFERENCES
    | FUN_TAGS
    | EXTENDED_PIDS_PORTS
    | NEW_FUN_TAGS
    | EXPORT_PTR_TAG
    | BIT_BINARIES
    | NEW_FLOATS
    | UTF8_ATOMS
    | MAP_TAG
    | BIG_CREATION
    | HANDSHAKE_23;

/// The flags that became mandatory in OTP 26 (`MANDATORY_DFLAGS_26`).
pub const MANDATORY_26: u64 = V4_NC | UNLINK_ID;

/// Every flag ferrobeam requires of a peer: the OTP 25 and OTP 26 sets.
pub const MANDATORY: u64 = MANDATORY_25 | MANDATORY_26;

/// Flags whose names [`flag_name`] knows, lowest bit first.
const NAMES: &[(u64, &str)] = &[
    (PUBLISHED, "PUBLISHED"),
    (ATOM_CACHE, "ATOM_CACHE"),
    (EXTENDED_REFERENCES, "EXTENDED_REFERENCES"),
    (DIST_MONITOR, "DIST_MONITOR"),
    (FUN_TAGS, "FUN_TAGS"),
    (DIST_MONITOR_NAME, "DIST_MONITOR_NAME"),
    (HIDDEN_ATOM_CACHE, "HIDDEN_ATOM_CACHE"),
    (NEW_FUN_TAGS, "NEW_FUN_TAGS"),
    (EXTENDED_PIDS_PORTS, "EXTENDED_PIDS_PORTS"),
    (EXPORT_PTR_TAG, "EXPORT_PTR_TAG"),
    (BIT_BINARIES, "BIT_BINARIES"),
    (NEW_FLOATS, "NEW_FLOATS"),
    (UNICODE_IO, "UNICODE_IO"),
    (DIST_HDR_ATOM_CACHE, "DIST_HDR_ATOM_CACHE"),
    (SMALL_ATOM_TAGS, "SMALL_ATOM_TAGS"),
    (UTF8_ATOMS, "UTF8_ATOMS"),
    (MAP_TAG, "MAP_TAG"),
    (BIG_CREATION, "BIG_CREATION"),
    (SEND_SENDER, "SEND_SENDER"),
    (BIG_SEQTRACE_LABELS, "BIG_SEQTRACE_LABELS"),
    (EXIT_PAYLOAD, "EXIT_PAYLOAD"),
    (FRAGMENTS, "FRAGMENTS"),
    (HANDSHAKE_23, "HANDSHAKE_23"),
    (UNLINK_ID, "UNLINK_ID"),
    (MANDATORY_25_DIGEST, "MANDATORY_25_DIGEST"),
    (SPAWN, "SPAWN"),
    (NAME_ME, "NAME_ME"),
    (V4_NC, "V4_NC"),
    (ALIAS, "ALIAS"),
];

/// The `dist_util` name of a single flag bit (`"UTF8_ATOMS"`), or `None` if unknown.
pub fn flag_name(flag: u64) -> Option<&'static str> {
    NAMES.iter().find(|(f, _)| *f == flag).map(|(_, n)| *n)
}

/// Expands [`MANDATORY_25_DIGEST`] into the flags it stands for, as `dist_util` does
/// with the flags a peer sends.
pub fn expand_digest(flags: u64) -> u64 {
    if flags & MANDATORY_25_DIGEST != 0 {
        flags | MANDATORY_25
    } else {
        flags
    }
}

/// The flags a connection uses: the intersection of both nodes' flags, after expanding
/// the peer's [`MANDATORY_25_DIGEST`].
pub fn negotiate(ours: u64, theirs: u64) -> u64 {
    ours & expand_digest(theirs)
}

/// The bits of `required` that are missing from `flags`, lowest first.
pub fn missing_mandatory(flags: u64, required: u64) -> CannotHandle {
    CannotHandle(required & !flags)
}

/// A set of mandatory flags a peer lacks. Displays as `dist_util` logs it:
/// `cannot handle ["V4_NC","UNLINK_ID"]` (highest bit first, like OTP's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CannotHandle(pub u64);

impl CannotHandle {
    /// True if nothing is missing.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The missing flags' names, highest bit first (the order `dist_util` builds its
    /// list in). Unknown bits are named `UNKNOWN<hex>`.
    pub fn names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for bit in (0..64).rev() {
            let f = 1u64 << bit;
            if self.0 & f != 0 {
                out.push(match flag_name(f) {
                    Some(n) => n.to_string(),
                    None => format!("UNKNOWN<{f:X}>"),
                });
            }
        }
        out
    }
}

impl fmt::Display for CannotHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot handle [")?;
        for (i, n) in self.names().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "\"{n}\"")?;
        }
        f.write_str("]")
    }
}

/// Formats a flag word as its names joined by `|` (for logs).
pub fn describe(flags: u64) -> String {
    let mut parts = Vec::new();
    for bit in 0..64 {
        let f = 1u64 << bit;
        if flags & f != 0 {
            parts.push(match flag_name(f) {
                Some(n) => n.to_string(),
                None => format!("0x{f:x}"),
            });
        }
    }
    parts.join("|")
}

/// The flags a ferrobeam node advertises by default: everything the protocol layer
/// implements. [`PUBLISHED`] is added for visible nodes.
///
/// [`DIST_HDR_ATOM_CACHE`] and [`FRAGMENTS`] are included: a connection that uses
/// [`crate::dist_header::DistReceiver`] and [`crate::dist_header::DistSender`] handles
/// the distribution header, the atom cache and fragments (checked against OTP 25).
/// [`DIST_MONITOR`], [`DIST_MONITOR_NAME`], [`SPAWN`] and [`ALIAS`] are left for the
/// node layer to add once it implements monitors, remote spawn and aliases.
pub const DEFAULT: u64 = MANDATORY
    | MANDATORY_25_DIGEST
    | SMALL_ATOM_TAGS
    | UNICODE_IO
    | SEND_SENDER
    | BIG_SEQTRACE_LABELS
    | EXIT_PAYLOAD
    | DIST_HDR_ATOM_CACHE
    | FRAGMENTS;

/// Flags that select the packet layout; without them the connection uses pass-through
/// packets (see [`crate::dist_header::SendMode::for_flags`]).
pub const HEADER_FLAGS: u64 = DIST_HDR_ATOM_CACHE | FRAGMENTS;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otp25_flags_from_a_real_handshake() {
        // The flags an OTP 25 `erl -sname a` sent in its 'N' send_name.
        let real = 0x0000_000d_07df_7fbd_u64;
        assert!(missing_mandatory(real, MANDATORY).is_empty());
        assert_ne!(real & MANDATORY_25_DIGEST, 0);
        assert_ne!(real & FRAGMENTS, 0);
        assert_ne!(real & DIST_HDR_ATOM_CACHE, 0);
    }

    #[test]
    fn digest_stands_for_the_25_set() {
        let f = MANDATORY_25_DIGEST | MANDATORY_26;
        assert!(!missing_mandatory(f, MANDATORY).is_empty());
        assert!(missing_mandatory(expand_digest(f), MANDATORY).is_empty());
        assert_eq!(negotiate(DEFAULT, f) & MANDATORY, MANDATORY);
    }

    #[test]
    fn cannot_handle_message() {
        let m = missing_mandatory(MANDATORY & !(V4_NC | UTF8_ATOMS), MANDATORY);
        assert_eq!(m.to_string(), r#"cannot handle ["V4_NC","UTF8_ATOMS"]"#);
        assert_eq!(
            CannotHandle(1 << 50).to_string(),
            r#"cannot handle ["UNKNOWN<4000000000000>"]"#
        );
    }

    #[test]
    fn names_are_unique_bits() {
        for (f, _) in NAMES {
            assert_eq!(f.count_ones(), 1);
        }
        assert_eq!(describe(PUBLISHED | SPAWN), "PUBLISHED|SPAWN");
    }
}
