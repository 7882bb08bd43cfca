//! Packet bodies of a connection: the distribution header with its atom cache,
//! fragmented messages, and pass-through packets.
//!
//! After the handshake every packet body (see [`crate::framing`]) is one of:
//!
//! | form | layout | when |
//! |---|---|---|
//! | pass-through | `112, 131 Control, [131 Message]` | neither side of the flags has [`flags::DIST_HDR_ATOM_CACHE`] or [`flags::FRAGMENTS`] |
//! | normal header | `131, 68, NumberOfAtomCacheRefs, Flags, AtomCacheRefs, Control, [Message]` | otherwise |
//! | first fragment | `131, 69, SequenceId:64, FragmentId:64, NumberOfAtomCacheRefs, Flags, AtomCacheRefs, Control, MessagePart` | with [`flags::FRAGMENTS`] |
//! | later fragment | `131, 70, SequenceId:64, FragmentId:64, MessagePart` | with [`flags::FRAGMENTS`] |
//!
//! After a header, `Control` and `Message` are terms *without* the leading 131.
//!
//! The receiving side is [`DistReceiver`]; it keeps the connection's atom cache and the
//! fragments being reassembled. [`DistReceiver::receive_raw`] decodes the control
//! message and leaves the message as bytes (so that it can be decoded later, by the
//! process that gets it); [`DistReceiver::receive`] decodes both. The sending side is
//! [`DistSender`].
//!
//! BEAM (erts `erts_prepare_dist_ext`) treats a packet as pass-through exactly when the
//! negotiated flags have neither `DIST_HDR_ATOM_CACHE` nor `FRAGMENTS`, and kills the
//! connection on the other form. [`DistSender`] follows that rule. [`DistReceiver`]
//! accepts both forms whatever the flags.

use crate::flags;
use crate::framing::{self, FrameError};
use bytes::Bytes;
use ferrobeam_term::etf::{decode_no_version_at, encode_with, EncodeOptions};
use ferrobeam_term::{Atom, DecodeError, DecodeOptions, Term};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

/// `131`: the version byte of the external term format.
pub const VERSION_MAGIC: u8 = 131;
/// `68`: a normal distribution header.
pub const DIST_HEADER: u8 = 68;
/// `69`: the header of a first fragment.
pub const DIST_FRAG_HEADER: u8 = 69;
/// `70`: the header of a later fragment.
pub const DIST_FRAG_CONT: u8 = 70;
/// `112`: a pass-through packet.
pub const PASS_THROUGH: u8 = 112;
/// Entries in a connection's atom cache: 8 segments of 256.
pub const ATOM_CACHE_SIZE: usize = 2048;
/// The fragment size BEAM uses, and [`DistSender`]'s default: 64 KiB.
pub const DEFAULT_FRAGMENT_SIZE: usize = 64 * 1024;

/// Why a packet could not be taken apart. The connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DistError {
    /// An empty packet body where data was expected.
    #[error("empty packet")]
    Empty,
    /// A packet that is neither pass-through nor a distribution header.
    #[error("unknown packet type {0:?}")]
    UnknownPacket([u8; 2]),
    /// A distribution header that does not parse.
    #[error("corrupted distribution header: {0}")]
    Header(&'static str),
    /// An atom cache reference to an entry never filled.
    #[error("reference to empty atom cache entry {0}")]
    EmptyCacheEntry(usize),
    /// A control message or message that does not parse.
    #[error("corrupted external term: {0}")]
    Term(String),
    /// A fragment that does not fit a sequence in progress.
    #[error("fragment error: {0}")]
    Fragment(&'static str),
    /// More fragmented messages in flight than allowed.
    #[error("more than {0} fragmented messages in flight")]
    TooManySequences(usize),
    /// More bytes in reassembly than allowed.
    #[error("fragment reassembly exceeds {0} bytes")]
    ReassemblyTooLarge(usize),
}

impl From<DecodeError> for DistError {
    fn from(e: DecodeError) -> DistError {
        DistError::Term(e.to_string())
    }
}

/// The ETF tag of a binary.
const BINARY_EXT: u8 = 109;

/// Limits of a [`DistReceiver`].
///
/// Start from [`ReceiverLimits::default`] and change what you need, field by field or
/// with the `with_*` methods; more limits may be added, so the struct cannot be built
/// with a literal outside this crate.
///
/// ```
/// use ferrobeam_proto::dist_header::{DistReceiver, ReceiverLimits};
/// let limits = ReceiverLimits::default()
///     .with_max_reassembly_bytes(16 << 20)
///     .with_max_sequences(64);
/// assert_eq!(limits.max_sequences, 64);
/// let _receiver = DistReceiver::new(limits);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReceiverLimits {
    /// Deepest term nesting accepted when decoding.
    pub max_depth: usize,
    /// Most fragmented messages being reassembled at once.
    pub max_sequences: usize,
    /// Most bytes held by all messages being reassembled.
    pub max_reassembly_bytes: usize,
    /// Most terms one decoded control message or message may contain (see
    /// [`DecodeOptions::max_terms`]): bounds the memory a packet decodes into.
    pub max_terms: usize,
}

impl ReceiverLimits {
    /// These limits with `max_depth` set.
    pub fn with_max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }

    /// These limits with `max_sequences` set.
    pub fn with_max_sequences(mut self, n: usize) -> Self {
        self.max_sequences = n;
        self
    }

    /// These limits with `max_reassembly_bytes` set.
    pub fn with_max_reassembly_bytes(mut self, n: usize) -> Self {
        self.max_reassembly_bytes = n;
        self
    }

    /// These limits with `max_terms` set.
    pub fn with_max_terms(mut self, n: usize) -> Self {
        self.max_terms = n;
        self
    }
}

impl Default for ReceiverLimits {
    fn default() -> Self {
        ReceiverLimits {
            max_depth: DecodeOptions::default().max_depth,
            max_sequences: 1024,
            max_reassembly_bytes: 256 * 1024 * 1024,
            max_terms: DecodeOptions::default().max_terms,
        }
    }
}

/// A complete packet with its control message decoded and its message still bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMessage {
    /// The control message tuple.
    pub control: Term,
    /// What `ATOM_CACHE_REF` index `i` in the message means: the atoms the header
    /// referenced, in order (empty for pass-through packets).
    pub atoms: Vec<Option<Atom>>,
    /// The message (or exit reason, or spawn arguments) as external term format
    /// *without* the version byte.
    pub message: Option<Bytes>,
}

impl RawMessage {
    /// Decodes the message, if there is one, within the nesting and size limits of
    /// `limits`. It must fill its bytes exactly.
    pub fn decode_message(&self, limits: &ReceiverLimits) -> Result<Option<Term>, DistError> {
        match &self.message {
            None => Ok(None),
            Some(m) => decode_exact(m, 0, &self.atoms, limits).map(Some),
        }
    }
}

/// A decoded packet: a control message and its message, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The control message tuple.
    pub control: Term,
    /// The message, exit reason or spawn argument list that follows it.
    pub message: Option<Term>,
}

fn opts<'a>(atoms: &'a [Option<Atom>], limits: &ReceiverLimits) -> DecodeOptions<'a> {
    DecodeOptions {
        max_depth: limits.max_depth,
        max_terms: limits.max_terms,
        atom_cache: Some(atoms),
        ..DecodeOptions::default()
    }
}

/// Decodes the term that starts at `pos` of `input` and must end with it.
fn decode_exact(
    input: &Bytes,
    pos: usize,
    atoms: &[Option<Atom>],
    limits: &ReceiverLimits,
) -> Result<Term, DistError> {
    let len = input.len();
    let (t, used) = decode_no_version_at(input, pos, &opts(atoms, limits))?;
    if used != len {
        return Err(DistError::Term(format!(
            "{} bytes of trailing data after the message",
            len - used
        )));
    }
    Ok(t)
}

#[derive(Debug)]
struct Sequence {
    atoms: Vec<Option<Atom>>,
    control: Term,
    /// The message bytes received so far (no version byte).
    message: Vec<u8>,
    /// The bytes counted in `in_flight` for this sequence: its reserved capacity.
    accounted: usize,
    /// The fragment id expected next.
    next: u64,
}

/// Reassembly buffers of at least this capacity are recycled.
const POOL_MIN_BUFFER: usize = 32 * 1024;
/// Larger reassembly buffers are not kept (9 MiB: an 8 MiB binary and its header).
const POOL_MAX_BUFFER: usize = 9 * 1024 * 1024;
/// Most bytes (of capacity) a connection keeps for reuse: a read can deliver many
/// messages at once, whose buffers all come back when the receiving process has
/// handled them.
const POOL_MAX_BYTES: usize = 16 * 1024 * 1024;

/// The reassembly buffers of messages that were delivered and dropped, kept for the
/// next fragmented messages. A fresh buffer of a large message costs a page fault per
/// 4 KiB written, as the allocator gives large freed blocks back to the kernel; a
/// recycled one is already mapped (BEAM keeps its memory in its allocators' carriers
/// for the same reason).
#[derive(Default)]
struct BufferPool {
    /// The buffers, and the sum of their capacities.
    free: Mutex<(Vec<Vec<u8>>, usize)>,
}

impl BufferPool {
    /// An empty buffer with room for `n` bytes: a recycled one if one is large enough.
    fn take(&self, n: usize) -> Vec<u8> {
        if n >= POOL_MIN_BUFFER {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = free.0.iter().position(|b| b.capacity() >= n) {
                let b = free.0.swap_remove(i);
                free.1 -= b.capacity();
                return b;
            }
        }
        Vec::with_capacity(n)
    }
}

impl std::fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.free.lock().map(|v| v.0.len()).unwrap_or(0);
        write!(f, "BufferPool({n} free)")
    }
}

/// A reassembled message's bytes; the buffer goes back to its pool when the last
/// `Bytes` referring to it is dropped.
struct Pooled {
    buf: Vec<u8>,
    pool: Weak<BufferPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let cap = self.buf.capacity();
        if !(POOL_MIN_BUFFER..=POOL_MAX_BUFFER).contains(&cap) {
            return;
        }
        if let Some(pool) = self.pool.upgrade() {
            let mut free = pool.free.lock().unwrap_or_else(|p| p.into_inner());
            if free.1 + cap <= POOL_MAX_BYTES {
                let mut b = std::mem::take(&mut self.buf);
                b.clear();
                free.0.push(b);
                free.1 += cap;
            }
        }
    }
}

/// The receiving side of a connection: its atom cache and fragment reassembly.
#[derive(Debug)]
pub struct DistReceiver {
    cache: Vec<Option<Atom>>,
    /// The atoms the packet being decoded by [`DistReceiver::receive`] references,
    /// kept between packets so that a whole packet costs no vector of its own.
    scratch: Vec<Option<Atom>>,
    sequences: HashMap<u64, Sequence>,
    in_flight: usize,
    limits: ReceiverLimits,
    pool: Arc<BufferPool>,
}

impl Default for DistReceiver {
    fn default() -> Self {
        DistReceiver::new(ReceiverLimits::default())
    }
}

impl DistReceiver {
    /// A receiver with an empty atom cache.
    pub fn new(limits: ReceiverLimits) -> DistReceiver {
        DistReceiver {
            cache: vec![None; ATOM_CACHE_SIZE],
            scratch: Vec::new(),
            sequences: HashMap::new(),
            in_flight: 0,
            limits,
            pool: Arc::default(),
        }
    }

    /// The limits in use.
    pub fn limits(&self) -> &ReceiverLimits {
        &self.limits
    }

    /// The atom cache entry at `index` (segment × 256 + internal index).
    pub fn cached_atom(&self, index: usize) -> Option<&Atom> {
        self.cache.get(index).and_then(|a| a.as_ref())
    }

    /// Fragmented messages being reassembled.
    pub fn sequences_in_flight(&self) -> usize {
        self.sequences.len()
    }

    /// Bytes held (reserved) by fragmented messages being reassembled.
    pub fn bytes_in_flight(&self) -> usize {
        self.in_flight
    }

    /// Takes a packet body apart and decodes its terms. Returns `None` for a fragment
    /// that does not complete its message.
    ///
    /// The same as [`DistReceiver::receive_raw`] then [`RawMessage::decode_message`],
    /// but a whole packet with a distribution header (the common case) is decoded in
    /// place, with the atoms its header references in a buffer of the receiver rather
    /// than a vector of its own.
    pub fn receive(&mut self, packet: Bytes) -> Result<Option<Received>, DistError> {
        if packet.first() == Some(&VERSION_MAGIC) && packet.get(1) == Some(&DIST_HEADER) {
            // Left empty after every packet, so it holds no atom between packets.
            let mut atoms = std::mem::take(&mut self.scratch);
            let got = self.decode_whole(&packet, &mut atoms);
            atoms.clear();
            self.scratch = atoms;
            return got.map(Some);
        }
        match self.receive_raw(packet)? {
            None => Ok(None),
            Some(raw) => {
                let message = raw.decode_message(&self.limits)?;
                Ok(Some(Received {
                    control: raw.control,
                    message,
                }))
            }
        }
    }

    /// Takes a packet body apart, applying its atom cache updates and decoding only the
    /// control message. Returns `None` for a fragment that does not complete its
    /// message. The message bytes are a slice of `packet`, except for reassembled
    /// fragments.
    pub fn receive_raw(&mut self, packet: Bytes) -> Result<Option<RawMessage>, DistError> {
        match (packet.first().copied(), packet.get(1).copied()) {
            (None, _) => Err(DistError::Empty),
            (Some(PASS_THROUGH), _) => self.pass_through(packet).map(Some),
            (Some(VERSION_MAGIC), Some(DIST_HEADER)) => {
                let (atoms, pos) = self.parse_atom_refs(&packet, 2)?;
                self.split(packet, pos, atoms).map(Some)
            }
            (Some(VERSION_MAGIC), Some(DIST_FRAG_HEADER)) => self.first_fragment(packet),
            (Some(VERSION_MAGIC), Some(DIST_FRAG_CONT)) => self.later_fragment(packet),
            (Some(a), b) => Err(DistError::UnknownPacket([a, b.unwrap_or(0)])),
        }
    }

    /// A whole packet with a distribution header, decoded with `atoms` as the buffer
    /// of the atoms its header references.
    fn decode_whole(
        &mut self,
        packet: &Bytes,
        atoms: &mut Vec<Option<Atom>>,
    ) -> Result<Received, DistError> {
        let pos = self.parse_atom_refs_into(packet, 2, atoms)?;
        let (control, end) = self.control_at(packet, pos, atoms)?;
        let message = if end == packet.len() {
            None
        } else {
            Some(decode_exact(packet, end, atoms, &self.limits)?)
        };
        Ok(Received { control, message })
    }

    /// Decodes the control message at `pos` (no version byte); the rest of the packet
    /// is the message.
    fn split(
        &self,
        packet: Bytes,
        pos: usize,
        atoms: Vec<Option<Atom>>,
    ) -> Result<RawMessage, DistError> {
        let (control, end) = self.control_at(&packet, pos, &atoms)?;
        let message = if end == packet.len() {
            None
        } else {
            Some(packet.slice(end..))
        };
        Ok(RawMessage {
            control,
            atoms,
            message,
        })
    }

    /// Decodes the control message starting at `pos`; returns it and where it ends.
    fn control_at(
        &self,
        packet: &Bytes,
        pos: usize,
        atoms: &[Option<Atom>],
    ) -> Result<(Term, usize), DistError> {
        if pos >= packet.len() {
            return Err(DistError::Term("no control message".into()));
        }
        Ok(decode_no_version_at(
            packet,
            pos,
            &opts(atoms, &self.limits),
        )?)
    }

    fn pass_through(&self, packet: Bytes) -> Result<RawMessage, DistError> {
        if packet.get(1) != Some(&VERSION_MAGIC) {
            return Err(DistError::Term(
                "pass-through control message without version byte".into(),
            ));
        }
        let (control, end) = self.control_at(&packet, 2, &[])?;
        let message = if end == packet.len() {
            None
        } else if packet[end] != VERSION_MAGIC || end + 1 == packet.len() {
            return Err(DistError::Term(
                "pass-through message without version byte".into(),
            ));
        } else {
            Some(packet.slice(end + 1..))
        };
        Ok(RawMessage {
            control,
            atoms: Vec::new(),
            message,
        })
    }

    fn first_fragment(&mut self, packet: Bytes) -> Result<Option<RawMessage>, DistError> {
        let (seq, frag) = seq_and_frag(&packet)?;
        if frag == 0 {
            return Err(DistError::Fragment("fragment id 0"));
        }
        if self.sequences.contains_key(&seq) {
            return Err(DistError::Fragment("sequence id already in progress"));
        }
        let (atoms, pos) = self.parse_atom_refs(&packet, 18)?;
        if frag == 1 {
            return self.split(packet, pos, atoms).map(Some);
        }
        if self.sequences.len() >= self.limits.max_sequences {
            return Err(DistError::TooManySequences(self.limits.max_sequences));
        }
        // The whole control message is in the first fragment.
        let (control, end) = self.control_at(&packet, pos, &atoms)?;
        let part = &packet[end..];
        // Reserve room for the whole message when the budget allows it: growing the
        // buffer fragment by fragment copies it again and again, and faults in fresh
        // pages each time. A binary (the usual large message) gives its exact size;
        // otherwise the later fragments are taken to be as large as this packet.
        let estimate = match *part {
            [BINARY_EXT, a, b, c, d, ..] => 5 + u64::from(u32::from_be_bytes([a, b, c, d])),
            _ => (frag - 1)
                .saturating_mul(packet.len().saturating_sub(18) as u64)
                .saturating_add(part.len() as u64),
        }
        .max(part.len() as u64);
        let room = self
            .limits
            .max_reassembly_bytes
            .saturating_sub(self.in_flight);
        let reserve = match usize::try_from(estimate) {
            Ok(e) if e <= room => e,
            _ => part.len(),
        };
        self.account(reserve)?;
        let mut message = self.pool.take(reserve);
        message.extend_from_slice(part);
        self.sequences.insert(
            seq,
            Sequence {
                atoms,
                control,
                message,
                accounted: reserve,
                next: frag - 1,
            },
        );
        Ok(None)
    }

    fn later_fragment(&mut self, packet: Bytes) -> Result<Option<RawMessage>, DistError> {
        let (seq, frag) = seq_and_frag(&packet)?;
        match self.sequences.get(&seq) {
            None => return Err(DistError::Fragment("continuation of an unknown sequence")),
            Some(s) if s.next != frag => return Err(DistError::Fragment("fragment out of order")),
            Some(_) => {}
        }
        let part = &packet[18..];
        // Only what does not fit in the room already counted is counted now.
        let more = match self.sequences.get(&seq) {
            Some(s) => (s.message.len() + part.len()).saturating_sub(s.accounted),
            None => 0,
        };
        self.account(more)?;
        if frag > 1 {
            if let Some(s) = self.sequences.get_mut(&seq) {
                s.message.extend_from_slice(part);
                s.accounted += more;
                s.next = frag - 1;
            }
            return Ok(None);
        }
        let Some(mut s) = self.sequences.remove(&seq) else {
            return Err(DistError::Fragment("continuation of an unknown sequence"));
        };
        s.message.extend_from_slice(part);
        self.in_flight = self.in_flight.saturating_sub(s.accounted + more);
        let message = if s.message.is_empty() {
            None
        } else if s.message.capacity() >= POOL_MIN_BUFFER {
            Some(Bytes::from_owner(Pooled {
                buf: s.message,
                pool: Arc::downgrade(&self.pool),
            }))
        } else {
            Some(Bytes::from(s.message))
        };
        Ok(Some(RawMessage {
            control: s.control,
            atoms: s.atoms,
            message,
        }))
    }

    fn account(&mut self, more: usize) -> Result<(), DistError> {
        let total = self.in_flight.saturating_add(more);
        if total > self.limits.max_reassembly_bytes {
            return Err(DistError::ReassemblyTooLarge(
                self.limits.max_reassembly_bytes,
            ));
        }
        self.in_flight = total;
        Ok(())
    }

    /// Parses `NumberOfAtomCacheRefs, Flags, AtomCacheRefs` starting at `pos`, updating
    /// the cache. Returns the header's atoms (by reference index) and the position
    /// after the header.
    fn parse_atom_refs(
        &mut self,
        b: &[u8],
        pos: usize,
    ) -> Result<(Vec<Option<Atom>>, usize), DistError> {
        let mut atoms = Vec::new();
        let p = self.parse_atom_refs_into(b, pos, &mut atoms)?;
        Ok((atoms, p))
    }

    /// Reads the atom cache references of the header at `pos` into `atoms` (empty),
    /// applying its cache updates; returns where the header ends.
    fn parse_atom_refs_into(
        &mut self,
        b: &[u8],
        pos: usize,
        atoms: &mut Vec<Option<Atom>>,
    ) -> Result<usize, DistError> {
        let n = *b.get(pos).ok_or(DistError::Header("truncated"))? as usize;
        let mut p = pos + 1;
        if n == 0 {
            return Ok(p);
        }
        let flag_bytes = n / 2 + 1;
        let flags = b
            .get(p..p + flag_bytes)
            .ok_or(DistError::Header("truncated flags"))?;
        p += flag_bytes;
        // Flags for reference i are in byte i/2: the low nibble for even i, the high
        // nibble for odd i. The nibble after the last reference holds LongAtoms.
        let nibble = |i: usize| -> u8 {
            let byte = flags[i / 2];
            if i % 2 == 0 {
                byte & 0x0f
            } else {
                byte >> 4
            }
        };
        let long_atoms = nibble(n) & 1 != 0;
        atoms.reserve(n);
        for i in 0..n {
            let f = nibble(i);
            let ix = *b.get(p).ok_or(DistError::Header("truncated reference"))? as usize;
            p += 1;
            let cix = ((f & 7) as usize) << 8 | ix;
            if f & 8 != 0 {
                let len = if long_atoms {
                    let l = b
                        .get(p..p + 2)
                        .ok_or(DistError::Header("truncated atom length"))?;
                    p += 2;
                    u16::from_be_bytes([l[0], l[1]]) as usize
                } else {
                    let l = *b.get(p).ok_or(DistError::Header("truncated atom length"))?;
                    p += 1;
                    l as usize
                };
                let text = b
                    .get(p..p + len)
                    .ok_or(DistError::Header("truncated atom text"))?;
                p += len;
                let text = std::str::from_utf8(text)
                    .map_err(|_| DistError::Header("atom text is not UTF-8"))?;
                let atom = Atom::try_new(text)
                    .ok_or(DistError::Header("atom longer than 255 characters"))?;
                self.cache[cix] = Some(atom.clone());
                atoms.push(Some(atom));
            } else {
                match &self.cache[cix] {
                    Some(a) => atoms.push(Some(a.clone())),
                    None => return Err(DistError::EmptyCacheEntry(cix)),
                }
            }
        }
        Ok(p)
    }
}

fn seq_and_frag(b: &[u8]) -> Result<(u64, u64), DistError> {
    let h = b
        .get(2..18)
        .ok_or(DistError::Header("truncated fragment header"))?;
    let mut seq = [0u8; 8];
    let mut frag = [0u8; 8];
    seq.copy_from_slice(&h[..8]);
    frag.copy_from_slice(&h[8..]);
    Ok((u64::from_be_bytes(seq), u64::from_be_bytes(frag)))
}

/// How a [`DistSender`] lays out packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMode {
    /// `112, 131 Control, 131 Message`.
    PassThrough,
    /// A normal distribution header with an empty atom cache.
    Header,
    /// A normal header, and fragments for large messages.
    Fragments,
}

impl SendMode {
    /// The mode BEAM expects for the negotiated `flags`: pass-through unless
    /// [`flags::DIST_HDR_ATOM_CACHE`] or [`flags::FRAGMENTS`] is set; fragments when
    /// [`flags::FRAGMENTS`] is set.
    pub fn for_flags(negotiated: u64) -> SendMode {
        if negotiated & flags::FRAGMENTS != 0 {
            SendMode::Fragments
        } else if negotiated & flags::DIST_HDR_ATOM_CACHE != 0 {
            SendMode::Header
        } else {
            SendMode::PassThrough
        }
    }
}

const NO_VERSION: EncodeOptions = EncodeOptions {
    version: false,
    utf8_atoms: true,
};
const WITH_VERSION: EncodeOptions = EncodeOptions {
    version: true,
    utf8_atoms: true,
};

/// The sending side of a connection: encodes control messages and messages into
/// framed packets (4-byte length included). Atoms are written as UTF-8, as the
/// distribution does. It never uses the atom cache (`NumberOfAtomCacheRefs` is always
/// 0), and fragments messages larger than the fragment size when the peer accepts
/// fragments.
#[derive(Debug)]
pub struct DistSender {
    mode: SendMode,
    fragment_size: usize,
    next_sequence: u64,
}

impl DistSender {
    /// A sender for a connection with the given negotiated flags.
    pub fn new(negotiated_flags: u64) -> DistSender {
        DistSender::with_mode(SendMode::for_flags(negotiated_flags))
    }

    /// A sender with an explicit layout.
    pub fn with_mode(mode: SendMode) -> DistSender {
        DistSender {
            mode,
            fragment_size: DEFAULT_FRAGMENT_SIZE,
            next_sequence: 1,
        }
    }

    /// Sets the largest message part per fragment (at least 1 byte).
    pub fn with_fragment_size(mut self, size: usize) -> DistSender {
        self.fragment_size = size.max(1);
        self
    }

    /// The packet layout in use.
    pub fn mode(&self) -> SendMode {
        self.mode
    }

    /// Appends the framed packet(s) carrying `control` and `message` to `out`.
    /// A fragmented message is copied once more here than with
    /// [`DistSender::encode_chunks`].
    pub fn encode(
        &mut self,
        control: &Term,
        message: Option<&Term>,
        out: &mut Vec<u8>,
    ) -> Result<(), FrameError> {
        if self.mode == SendMode::Fragments {
            if let Some(m) = message {
                if ferrobeam_term::etf::encoded_len_with(m, &NO_VERSION) > self.fragment_size {
                    for chunk in self.encode_chunks(control, message)? {
                        out.extend_from_slice(&chunk);
                    }
                    return Ok(());
                }
            }
        }
        let start = framing::begin_frame(out);
        self.encode_body(control, message, out);
        framing::finish_frame(out, start)
    }

    /// The packet body (no length prefix) for an unfragmented message.
    fn encode_body(&self, control: &Term, message: Option<&Term>, out: &mut Vec<u8>) {
        if self.mode == SendMode::PassThrough {
            out.push(PASS_THROUGH);
            encode_with(control, &WITH_VERSION, out);
            if let Some(m) = message {
                encode_with(m, &WITH_VERSION, out);
            }
        } else {
            out.extend_from_slice(&[VERSION_MAGIC, DIST_HEADER, 0]);
            encode_with(control, &NO_VERSION, out);
            if let Some(m) = message {
                encode_with(m, &NO_VERSION, out);
            }
        }
    }

    /// Like [`DistSender::encode`], but returns the packets as chunks to write in order
    /// (for vectored writes). A large message is encoded once and its fragments are
    /// slices of that encoding, with small header chunks between them.
    pub fn encode_chunks(
        &mut self,
        control: &Term,
        message: Option<&Term>,
    ) -> Result<Vec<Bytes>, FrameError> {
        let mut body = Vec::new();
        match (self.mode, message) {
            (SendMode::Fragments, Some(m)) => {
                encode_with(control, &NO_VERSION, &mut body);
                let ctl_len = body.len();
                encode_with(m, &NO_VERSION, &mut body);
                if body.len() - ctl_len > self.fragment_size {
                    return self.fragment(Bytes::from(body), ctl_len);
                }
                let mut h = Vec::with_capacity(7);
                h.extend_from_slice(&framing::frame_header(body.len() + 3)?);
                h.extend_from_slice(&[VERSION_MAGIC, DIST_HEADER, 0]);
                Ok(vec![Bytes::from(h), Bytes::from(body)])
            }
            _ => {
                let start = framing::begin_frame(&mut body);
                self.encode_body(control, message, &mut body);
                framing::finish_frame(&mut body, start)?;
                Ok(vec![Bytes::from(body)])
            }
        }
    }

    /// Splits `body` (`Control, Message`, no version bytes) into fragment packets. The
    /// first carries the whole control message and up to a fragment of the message.
    fn fragment(&mut self, body: Bytes, ctl_len: usize) -> Result<Vec<Bytes>, FrameError> {
        let seq = self.next_sequence;
        self.next_sequence = self.next_sequence.wrapping_add(1).max(1);
        let size = self.fragment_size;
        let first_end = ctl_len.saturating_add(size).min(body.len());
        let count = 1 + (body.len() - first_end).div_ceil(size) as u64;
        let header = |tag: u8, frag: u64, payload: usize| -> Result<Bytes, FrameError> {
            let first = tag == DIST_FRAG_HEADER;
            let mut h = Vec::with_capacity(23);
            h.extend_from_slice(&framing::frame_header(18 + usize::from(first) + payload)?);
            h.extend_from_slice(&[VERSION_MAGIC, tag]);
            h.extend_from_slice(&seq.to_be_bytes());
            h.extend_from_slice(&frag.to_be_bytes());
            if first {
                h.push(0); // NumberOfAtomCacheRefs
            }
            Ok(Bytes::from(h))
        };
        let mut chunks = Vec::with_capacity(2 * count as usize);
        chunks.push(header(DIST_FRAG_HEADER, count, first_end)?);
        chunks.push(body.slice(..first_end));
        let mut at = first_end;
        let mut frag = count;
        while at < body.len() {
            frag -= 1;
            let end = at.saturating_add(size).min(body.len());
            chunks.push(header(DIST_FRAG_CONT, frag, end - at)?);
            chunks.push(body.slice(at..end));
            at = end;
        }
        Ok(chunks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn header_atom_refs_from_a_real_packet() {
        // The first packet a real OTP 25 node sent after the handshake: a REG_SEND of
        // {Pid, features_request} to rex, with 4 new atom cache entries.
        let p = hex("83440488dc003b046240766d05007703726578601066656174757265735f72657175657374680461065852000000003600000000000000075201520268025852000000003600000000000000075203");
        let mut r = DistReceiver::default();
        let raw = r.receive_raw(Bytes::from(p)).unwrap().unwrap();
        let names: Vec<&str> = raw
            .atoms
            .iter()
            .map(|a| a.as_ref().unwrap().as_str())
            .collect();
        assert_eq!(names, ["b@vm", "", "rex", "features_request"]);
        assert_eq!(r.cached_atom(0x3b).unwrap(), "b@vm");
        assert_eq!(r.cached_atom(4 << 8 | 0x77).unwrap(), "rex");
        assert_eq!(raw.control.to_string(), "{6,<0.54.0>,'',rex}");
        let limits = ReceiverLimits {
            max_depth: 64,
            ..ReceiverLimits::default()
        };
        let msg = raw.decode_message(&limits).unwrap().unwrap();
        assert_eq!(msg.to_string(), "{<0.54.0>,features_request}");
    }

    #[test]
    fn fragments_and_single_packets_round_trip() {
        let ctl = Term::tuple(vec![
            Term::Int(6),
            Term::atom("x"),
            Term::atom(""),
            Term::atom("reg"),
        ]);
        let big = Term::binary(vec![7u8; 300]);
        for mode in [SendMode::PassThrough, SendMode::Header, SendMode::Fragments] {
            let mut s = DistSender::with_mode(mode).with_fragment_size(100);
            let mut wire = Vec::new();
            s.encode(&ctl, Some(&big), &mut wire).unwrap();
            s.encode(&ctl, None, &mut wire).unwrap();
            let mut dec = framing::FrameDecoder::new();
            dec.push(&wire);
            let mut r = DistReceiver::default();
            let mut got = Vec::new();
            while let Some(f) = dec.next_frame() {
                let framing::Frame::Data(body) = f.unwrap() else {
                    panic!("tick")
                };
                if let Some(m) = r.receive(body).unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got.len(), 2, "{mode:?}");
            assert_eq!(got[0].control, ctl);
            assert_eq!(got[0].message.as_ref(), Some(&big));
            assert_eq!(got[1].message, None);
            assert_eq!(r.sequences_in_flight(), 0);
            assert_eq!(r.bytes_in_flight(), 0);
        }
    }

    #[test]
    fn reassembly_reserves_the_whole_message_once() {
        let ctl = Term::tuple(vec![Term::Int(2), Term::atom(""), Term::atom("x")]);
        let big = Term::binary(vec![7u8; 64 * 1024]);
        let mut s = DistSender::with_mode(SendMode::Fragments).with_fragment_size(4096);
        let mut wire = Vec::new();
        s.encode(&ctl, Some(&big), &mut wire).unwrap();
        let mut dec = framing::FrameDecoder::new();
        dec.push(&wire);
        let mut r = DistReceiver::default();
        let mut got = None;
        let mut first = true;
        while let Some(f) = dec.next_frame() {
            let framing::Frame::Data(body) = f.unwrap() else {
                panic!("tick")
            };
            got = r.receive(body).unwrap();
            if first {
                // The room for the whole message is reserved (and counted) at once.
                assert!(r.bytes_in_flight() >= 64 * 1024, "{}", r.bytes_in_flight());
                first = false;
            }
        }
        assert_eq!(got.unwrap().message.as_ref(), Some(&big));
        assert_eq!(r.bytes_in_flight(), 0);
    }

    #[test]
    fn reassembly_buffers_are_recycled_once_the_message_is_dropped() {
        let ctl = Term::tuple(vec![Term::Int(2), Term::atom(""), Term::atom("x")]);
        let receive = |r: &mut DistReceiver, fill: u8| {
            let big = Term::binary(vec![fill; 100 * 1024]);
            let mut s = DistSender::with_mode(SendMode::Fragments).with_fragment_size(16384);
            let mut wire = Vec::new();
            s.encode(&ctl, Some(&big), &mut wire).unwrap();
            let mut dec = framing::FrameDecoder::new();
            dec.push(&wire);
            let mut got = None;
            while let Some(f) = dec.next_frame() {
                let framing::Frame::Data(body) = f.unwrap() else {
                    panic!("tick")
                };
                got = r.receive_raw(body).unwrap().or(got);
            }
            let m = got.unwrap().message.unwrap();
            assert_eq!(
                ferrobeam_term::etf::decode_no_version_with(m.clone(), &DecodeOptions::default())
                    .unwrap()
                    .0,
                big
            );
            m
        };
        let mut r = DistReceiver::default();
        let first = receive(&mut r, 1);
        let ptr = first.as_ptr();
        // While the message is alive its buffer is not reused.
        let second = receive(&mut r, 2);
        assert_ne!(second.as_ptr(), ptr);
        assert_eq!(first[5..10], [1; 5]);
        drop(first);
        drop(second);
        // Dropped: the next message is reassembled in one of the same buffers.
        let third = receive(&mut r, 3);
        assert_eq!(third[5..10], [3; 5]);
        assert_eq!(r.pool.free.lock().unwrap().0.len(), 1);
        drop(third);
        assert_eq!(r.pool.free.lock().unwrap().0.len(), 2);
        // A receiver that is gone lets the buffers go.
        let fourth = receive(&mut r, 4);
        drop(r);
        drop(fourth);
    }
}
