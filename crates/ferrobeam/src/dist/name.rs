//! Node names: `name@host`, short (`--sname`) or long (`--name`).

use ferrobeam_term::Atom;
use std::fmt;

/// Whether a node uses short or long host names. Nodes of different kinds refuse each
/// other, as in Erlang.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// `--sname`: the host part is a short host name without dots.
    Short,
    /// `--name`: the host part is a fully qualified name or an IP address.
    Long,
}

/// A parsed node name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeName {
    /// The part before `@`, registered with EPMD.
    pub alive: String,
    /// The host part.
    pub host: String,
    /// Short or long.
    pub kind: NameKind,
}

/// Why a node name is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name part is empty or has characters EPMD and Erlang do not accept.
    #[error("invalid node name {0:?}: the part before @ must be letters, digits, '_' or '-'")]
    BadAlive(String),
    /// A short name was given a host with dots, or a long name a host without.
    #[error("node name {name:?} does not fit {kind}: {hint}")]
    WrongHostKind {
        /// The name given.
        name: String,
        /// `--sname` or `--name`.
        kind: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// The host part is empty or malformed.
    #[error("invalid host in node name {0:?}")]
    BadHost(String),
}

impl NodeName {
    /// Parses `--sname`/`--name` input. A name without `@host` gets this machine's
    /// host name: the short one for `Short`, the fully qualified one for `Long`.
    pub fn parse(input: &str, kind: NameKind) -> Result<NodeName, NameError> {
        let (alive, host) = match input.split_once('@') {
            Some((a, h)) => (a.to_string(), h.to_string()),
            None => (
                input.to_string(),
                match kind {
                    NameKind::Short => short_hostname(),
                    NameKind::Long => long_hostname(),
                },
            ),
        };
        if alive.is_empty()
            || alive.len() > 255
            || !alive
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(NameError::BadAlive(alive));
        }
        if host.is_empty() || host.contains('@') {
            return Err(NameError::BadHost(input.to_string()));
        }
        let dotted = host.contains('.') || host.contains(':');
        match kind {
            NameKind::Short if dotted => Err(NameError::WrongHostKind {
                name: input.to_string(),
                kind: "--sname",
                hint: "short names take a host without dots; use --name for a full host name or IP",
            }),
            NameKind::Long if !dotted => Err(NameError::WrongHostKind {
                name: input.to_string(),
                kind: "--name",
                hint: "long names need a fully qualified host name or an IP address; use --sname for a short one",
            }),
            _ => Ok(NodeName { alive, host, kind }),
        }
    }

    /// The node name as an atom, `alive@host`.
    pub fn atom(&self) -> Atom {
        Atom::new(&self.to_string())
    }

    /// The kind that a peer's full node name implies: long if its host has a dot.
    pub fn kind_of(node: &str) -> NameKind {
        match node.split_once('@') {
            Some((_, h)) if h.contains('.') || h.contains(':') => NameKind::Long,
            _ => NameKind::Short,
        }
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.alive, self.host)
    }
}

/// This machine's host name as `erl -sname` uses it: up to the first dot.
pub fn short_hostname() -> String {
    let h = raw_hostname();
    h.split('.').next().unwrap_or("localhost").to_string()
}

/// This machine's fully qualified host name, as `erl -name` uses it. Falls back to
/// `127.0.0.1`... only when nothing better is known.
pub fn long_hostname() -> String {
    let h = raw_hostname();
    if h.contains('.') {
        return h;
    }
    // Try the resolver's canonical name via /etc/hosts-style lookup through std.
    if let Ok(text) = std::fs::read_to_string("/etc/hosts") {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let _addr = fields.next();
            let names: Vec<&str> = fields.collect();
            if names.contains(&h.as_str()) {
                if let Some(fq) = names.iter().find(|n| n.contains('.')) {
                    return fq.to_string();
                }
            }
        }
    }
    "127.0.0.1".to_string()
}

fn raw_hostname() -> String {
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let h = h.trim();
        if !h.is_empty() {
            return h.to_string();
        }
    }
    std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_names() {
        let n = NodeName::parse("chip@macbook", NameKind::Short).unwrap();
        assert_eq!(n.to_string(), "chip@macbook");
        assert!(NodeName::parse("chip@192.168.1.13", NameKind::Short).is_err());
        assert!(NodeName::parse("chip@macbook", NameKind::Long).is_err());
        assert_eq!(
            NodeName::parse("fabio@192.168.1.13", NameKind::Long)
                .unwrap()
                .kind,
            NameKind::Long
        );
        assert!(NodeName::parse("bad name@h", NameKind::Short).is_err());
        let local = NodeName::parse("x", NameKind::Short).unwrap();
        assert!(!local.host.contains('.'));
        assert_eq!(NodeName::kind_of("a@b.c"), NameKind::Long);
        assert_eq!(NodeName::kind_of("a@b"), NameKind::Short);
    }
}
