//! Funs, kept opaque.
//!
//! A fun cannot run outside the BEAM, but it can travel through a ferrobeam node (for
//! example inside a message that is forwarded). ferrobeam keeps the exact bytes it was
//! received as, so it re-encodes byte for byte, and parses just enough of the header to
//! compare and print it.

use crate::Atom;
use bytes::Bytes;
use std::fmt;

/// An Erlang fun, kept as the bytes of its encoding.
#[derive(Clone)]
pub struct Fun {
    /// What kind of fun this is, with the fields ferrobeam understands.
    pub kind: FunKind,
    /// The complete encoding, tag byte included (`112` for `NEW_FUN_EXT`, `113` for
    /// `EXPORT_EXT`), without the leading version byte `131`.
    pub raw: Bytes,
}

/// The readable part of a fun.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum FunKind {
    /// `fun M:F/A` (`EXPORT_EXT`).
    Export {
        /// Module.
        module: Atom,
        /// Function.
        function: Atom,
        /// Arity.
        arity: u8,
    },
    /// A closure (`NEW_FUN_EXT`).
    Closure {
        /// Module the fun was defined in.
        module: Atom,
        /// MD5 of the module code (the `Uniq` field).
        uniq: [u8; 16],
        /// Index of the fun in the module.
        index: u32,
        /// Arity of the fun.
        arity: u8,
        /// Number of free variables captured.
        num_free: u32,
    },
}

impl Fun {
    /// Makes an export fun `fun M:F/A`, encoding it as `EXPORT_EXT`.
    pub fn export(module: impl Into<Atom>, function: impl Into<Atom>, arity: u8) -> Fun {
        let module = module.into();
        let function = function.into();
        let mut raw = vec![113u8];
        for a in [&module, &function] {
            let b = a.as_bytes();
            if let Ok(n) = u8::try_from(b.len()) {
                raw.extend_from_slice(&[119, n]); // SMALL_ATOM_UTF8_EXT
            } else {
                raw.push(118); // ATOM_UTF8_EXT
                raw.extend_from_slice(&(b.len().min(u16::MAX as usize) as u16).to_be_bytes());
            }
            raw.extend_from_slice(&b[..b.len().min(u16::MAX as usize)]);
        }
        raw.extend_from_slice(&[97, arity]);
        Fun {
            kind: FunKind::Export {
                module,
                function,
                arity,
            },
            raw: Bytes::from(raw),
        }
    }
}

impl Fun {
    /// What identifies the fun for equality: export funs by `M:F/A` (OTP may encode their
    /// atoms in different ways), closures by their exact encoding.
    fn identity(&self) -> (&FunKind, &[u8]) {
        match &self.kind {
            FunKind::Export { .. } => (&self.kind, &[]),
            FunKind::Closure { .. } => (&self.kind, &self.raw),
        }
    }
}

impl PartialEq for Fun {
    fn eq(&self, other: &Fun) -> bool {
        self.identity() == other.identity()
    }
}
impl Eq for Fun {}

impl std::hash::Hash for Fun {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state)
    }
}

impl PartialOrd for Fun {
    fn partial_cmp(&self, other: &Fun) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Fun {
    /// A total order consistent with equality: by module, then export funs by function
    /// and arity before closures, closures by their encoding. Erlang's order among funs
    /// is an implementation detail; this keeps maps and sorts deterministic.
    fn cmp(&self, other: &Fun) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match (&self.kind, &other.kind) {
            (
                FunKind::Export {
                    module: m1,
                    function: f1,
                    arity: a1,
                },
                FunKind::Export {
                    module: m2,
                    function: f2,
                    arity: a2,
                },
            ) => (m1, f1, a1).cmp(&(m2, f2, a2)),
            (FunKind::Export { .. }, FunKind::Closure { .. }) => Ordering::Less,
            (FunKind::Closure { .. }, FunKind::Export { .. }) => Ordering::Greater,
            (FunKind::Closure { module: m1, .. }, FunKind::Closure { module: m2, .. }) => {
                m1.cmp(m2).then_with(|| self.raw.cmp(&other.raw))
            }
        }
    }
}

impl fmt::Display for Fun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FunKind::Export {
                module,
                function,
                arity,
            } => write!(f, "fun {module}:{function}/{arity}"),
            FunKind::Closure {
                module,
                index,
                uniq,
                ..
            } => {
                let u = u32::from_be_bytes([uniq[0], uniq[1], uniq[2], uniq[3]]);
                write!(f, "#Fun<{module}.{index}.{u}>")
            }
        }
    }
}

impl fmt::Debug for Fun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
