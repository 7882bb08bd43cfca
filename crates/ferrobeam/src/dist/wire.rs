//! What goes on the wire: signals as control messages, and the writer's batch of
//! packets.
//!
//! The writer of a connection encodes many packets into one [`Batch`] and writes it
//! with one vectored write. Small terms are encoded into the batch's buffer; binaries
//! of [`BIG_BINARY`] bytes or more are not copied: the batch keeps a reference to them
//! and the vectored write sends them from where they are.

use crate::signal::{Dest, ExitKind, Signal};
use bytes::Bytes;
use ferrobeam_proto::control::{ControlMessage, ProcRef};
use ferrobeam_proto::dist_header::SendMode;
use ferrobeam_proto::flags;
use ferrobeam_term::etf::{encode_with, EncodeOptions};
use ferrobeam_term::{Pid, Term};
use std::io::IoSlice;

/// Binaries at least this large are sent from their own buffer (never copied).
pub(crate) const BIG_BINARY: usize = 2048;

/// How deep the zero-copy walk goes into nested terms; deeper parts are encoded (and
/// their binaries copied) by the term encoder.
const MAX_WALK_DEPTH: usize = 32;

const NO_VERSION: EncodeOptions = EncodeOptions {
    version: false,
    utf8_atoms: true,
};

/// Maps a signal from a local process to the control message that carries it over a
/// connection with the negotiated `flags`. `None`: nothing is sent (the peer does not
/// support the feature, as BEAM does in that case, or the signal has no wire form).
/// `system` is this node's `<0.0.0>`, the sender when a message has none.
pub(crate) fn to_control(
    to: Dest,
    signal: Signal,
    negotiated: u64,
    system: &Pid,
) -> Option<ControlMessage> {
    let monitors = negotiated & flags::DIST_MONITOR != 0;
    let payload = negotiated & flags::EXIT_PAYLOAD != 0;
    Some(match (signal, to) {
        (Signal::Message { from, message }, Dest::Pid(to)) => match from {
            Some(from) if negotiated & flags::SEND_SENDER != 0 => {
                ControlMessage::SendSender { from, to, message }
            }
            _ => ControlMessage::Send { to, message },
        },
        (Signal::Message { from, message }, Dest::Remote(name, _) | Dest::Name(name)) => {
            ControlMessage::RegSend {
                from: from.unwrap_or_else(|| system.clone()),
                to: name,
                message,
            }
        }
        (
            Signal::Message { from, message } | Signal::AliasMessage { from, message, .. },
            Dest::Alias(alias),
        ) => {
            if negotiated & flags::ALIAS == 0 {
                return None;
            }
            ControlMessage::AliasSend {
                from: from.unwrap_or_else(|| system.clone()),
                alias,
                message,
            }
        }
        (
            Signal::AliasMessage {
                from,
                alias,
                message,
            },
            _,
        ) => {
            if negotiated & flags::ALIAS == 0 {
                return None;
            }
            ControlMessage::AliasSend {
                from: from.unwrap_or_else(|| system.clone()),
                alias,
                message,
            }
        }
        (Signal::Link { from }, Dest::Pid(to)) => ControlMessage::Link { from, to },
        // Unlinks become UNLINK_ID in the connection manager, which keeps their ids:
        // the obsolete UNLINK is never sent.
        (Signal::Exit { from, reason, kind }, Dest::Pid(to)) => match (kind, payload) {
            (ExitKind::Link, true) => ControlMessage::PayloadExit { from, to, reason },
            (ExitKind::Link, false) => ControlMessage::Exit { from, to, reason },
            (ExitKind::Exit2, true) => ControlMessage::PayloadExit2 { from, to, reason },
            (ExitKind::Exit2, false) => ControlMessage::Exit2 { from, to, reason },
        },
        (Signal::Monitor { from, reference }, to) => {
            let to = proc_ref(to, negotiated)?;
            if !monitors {
                return None;
            }
            ControlMessage::MonitorP {
                from,
                to,
                reference,
            }
        }
        (Signal::Demonitor { from, reference }, to) => {
            let to = proc_ref(to, negotiated)?;
            if !monitors {
                return None;
            }
            ControlMessage::DemonitorP {
                from,
                to,
                reference,
            }
        }
        // Down signals are turned into MONITOR_P_EXIT by the connection manager, which
        // knows what the monitor was on.
        _ => return None,
    })
}

/// The monitored object of a monitor signal: a pid, or a name on the peer.
fn proc_ref(to: Dest, negotiated: u64) -> Option<ProcRef> {
    match to {
        Dest::Pid(p) => Some(ProcRef::Pid(p)),
        Dest::Remote(name, _) | Dest::Name(name) => {
            if negotiated & flags::DIST_MONITOR_NAME == 0 {
                None
            } else {
                Some(ProcRef::Name(name))
            }
        }
        Dest::Alias(_) => None,
    }
}

/// `MONITOR_P_EXIT` (or its payload form): the monitored process `from` ended.
pub(crate) fn monitor_exit(
    from: ProcRef,
    to: Pid,
    reference: ferrobeam_term::Ref,
    reason: Term,
    negotiated: u64,
) -> Option<ControlMessage> {
    if negotiated & flags::DIST_MONITOR == 0 {
        return None;
    }
    Some(if negotiated & flags::EXIT_PAYLOAD != 0 {
        ControlMessage::PayloadMonitorPExit {
            from,
            to,
            reference,
            reason,
        }
    } else {
        ControlMessage::MonitorPExit {
            from,
            to,
            reference,
            reason,
        }
    })
}

/// Framed packets waiting to be written, as one buffer plus the large binaries that go
/// out from their own memory.
#[derive(Default)]
pub(crate) struct Batch {
    buf: Vec<u8>,
    /// `(offset in buf, binary)`: the binary goes on the wire right after
    /// `buf[..offset]`. Offsets never decrease.
    bigs: Vec<(usize, Bytes)>,
    /// Bytes in `bigs`.
    big_bytes: usize,
    packets: usize,
    /// Where the control message of the last packet pushed ends in `buf`.
    ctl_end: usize,
}

/// A position in a [`Batch`], to take back what was pushed after it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    buf: usize,
    bigs: usize,
    big_bytes: usize,
    packets: usize,
}

/// The bytes of one packet in pieces (small ones copied, binaries shared).
pub(crate) type Pieces = Vec<Bytes>;

/// Why a packet could not be added to a batch.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EncodeError {
    #[error("packet of {0} bytes is larger than 4 GiB")]
    TooLarge(usize),
    #[error("control message cannot be encoded: {0}")]
    Control(#[from] ferrobeam_proto::control::ControlError),
}

impl Batch {
    /// Bytes in the batch.
    pub(crate) fn len(&self) -> usize {
        self.buf.len() + self.big_bytes
    }

    /// Packets in the batch (ticks included).
    pub(crate) fn packets(&self) -> usize {
        self.packets
    }

    /// True when nothing is to be written.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.bigs.is_empty()
    }

    /// Adds a tick (an empty packet).
    pub(crate) fn push_tick(&mut self) {
        self.buf.extend_from_slice(&[0, 0, 0, 0]);
        self.packets += 1;
    }

    /// Adds one packet carrying `msg`, laid out as `mode` says.
    pub(crate) fn push(&mut self, mode: SendMode, msg: &ControlMessage) -> Result<(), EncodeError> {
        let control = msg.control_term()?;
        let payload_list;
        let payload = match msg {
            ControlMessage::SpawnRequest { args, .. }
            | ControlMessage::SpawnRequestTT { args, .. } => {
                payload_list = Term::List(args.clone());
                Some(&payload_list)
            }
            _ => msg.payload(),
        };
        let start = self.buf.len();
        let bigs_start = self.bigs.len();
        let big_bytes_start = self.big_bytes;
        self.buf.extend_from_slice(&[0, 0, 0, 0]);
        if mode == SendMode::PassThrough {
            self.buf.push(112);
            self.buf.push(131);
            encode_with(&control, &NO_VERSION, &mut self.buf);
            if let Some(p) = payload {
                self.buf.push(131);
                self.term(p, 0);
            }
        } else {
            self.buf.extend_from_slice(&[131, 68, 0]);
            encode_with(&control, &NO_VERSION, &mut self.buf);
            self.ctl_end = self.buf.len();
            if let Some(p) = payload {
                self.term(p, 0);
            }
        }
        let len = self.buf.len() - start - 4 + (self.big_bytes - big_bytes_start);
        match u32::try_from(len) {
            Ok(l) => {
                self.buf[start..start + 4].copy_from_slice(&l.to_be_bytes());
                self.packets += 1;
                Ok(())
            }
            Err(_) => {
                self.buf.truncate(start);
                self.bigs.truncate(bigs_start);
                self.big_bytes = big_bytes_start;
                Err(EncodeError::TooLarge(len))
            }
        }
    }

    /// The current end of the batch.
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            buf: self.buf.len(),
            bigs: self.bigs.len(),
            big_bytes: self.big_bytes,
            packets: self.packets,
        }
    }

    /// Bytes pushed since `mark`.
    pub(crate) fn len_since(&self, mark: Mark) -> usize {
        self.len() - (mark.buf + mark.big_bytes)
    }

    /// Takes out the one packet pushed (in a header mode) since `mark`: its body after
    /// the distribution header (`Control, Message`) as pieces, and the control
    /// message's length.
    pub(crate) fn take_packet(&mut self, mark: Mark) -> (Pieces, usize) {
        // Skip the length and the `131, 68, 0` header.
        let body_start = mark.buf + 7;
        let ctl_len = self.ctl_end.saturating_sub(body_start);
        let small = Bytes::copy_from_slice(&self.buf[body_start.min(self.buf.len())..]);
        let base = body_start.min(self.buf.len());
        let mut pieces = Vec::with_capacity(2 * (self.bigs.len() - mark.bigs) + 1);
        let mut at = base;
        for (off, b) in self.bigs.drain(mark.bigs..) {
            if off > at {
                pieces.push(small.slice(at - base..off - base));
            }
            if !b.is_empty() {
                pieces.push(b);
            }
            at = off;
        }
        if at < self.buf.len() {
            pieces.push(small.slice(at - base..));
        }
        self.buf.truncate(mark.buf);
        self.big_bytes = mark.big_bytes;
        self.packets = mark.packets;
        (pieces, ctl_len)
    }

    /// Adds a packet given as pieces (a fragment): small pieces are copied, large ones
    /// written from their own memory.
    pub(crate) fn push_pieces(&mut self, pieces: &[Bytes]) {
        for p in pieces {
            if p.len() >= BIG_BINARY {
                self.big_bytes += p.len();
                self.bigs.push((self.buf.len(), p.clone()));
            } else {
                self.buf.extend_from_slice(p);
            }
        }
        self.packets += 1;
    }

    /// Encodes a term without its version byte; large binaries are referenced, not
    /// copied.
    fn term(&mut self, t: &Term, depth: usize) {
        if depth >= MAX_WALK_DEPTH || !needs_walk(t) {
            encode_with(t, &NO_VERSION, &mut self.buf);
            return;
        }
        match t {
            Term::Binary(b) => {
                self.buf.push(109);
                self.buf.extend_from_slice(&(b.len() as u32).to_be_bytes());
                self.big_bytes += b.len();
                self.bigs.push((self.buf.len(), b.clone()));
            }
            Term::Tuple(v) => {
                if v.len() < 256 {
                    self.buf.push(104);
                    self.buf.push(v.len() as u8);
                } else {
                    self.buf.push(105);
                    self.buf.extend_from_slice(&(v.len() as u32).to_be_bytes());
                }
                for e in v {
                    self.term(e, depth + 1);
                }
            }
            Term::List(v) => {
                self.buf.push(108);
                self.buf.extend_from_slice(&(v.len() as u32).to_be_bytes());
                for e in v {
                    self.term(e, depth + 1);
                }
                self.buf.push(106);
            }
            Term::ImproperList { elements, tail } => {
                self.buf.push(108);
                self.buf
                    .extend_from_slice(&(elements.len() as u32).to_be_bytes());
                for e in elements {
                    self.term(e, depth + 1);
                }
                self.term(tail, depth + 1);
            }
            Term::Map(m) => {
                self.buf.push(116);
                self.buf.extend_from_slice(&(m.len() as u32).to_be_bytes());
                for (k, v) in m.iter() {
                    self.term(k, depth + 1);
                    self.term(v, depth + 1);
                }
            }
            other => encode_with(other, &NO_VERSION, &mut self.buf),
        }
    }

    /// The batch as slices to write in order.
    pub(crate) fn io_slices(&self) -> Vec<IoSlice<'_>> {
        let mut out = Vec::with_capacity(2 * self.bigs.len() + 1);
        let mut at = 0;
        for (off, b) in &self.bigs {
            if *off > at {
                out.push(IoSlice::new(&self.buf[at..*off]));
            }
            if !b.is_empty() {
                out.push(IoSlice::new(b));
            }
            at = *off;
        }
        if at < self.buf.len() {
            out.push(IoSlice::new(&self.buf[at..]));
        }
        out
    }

    /// Empties the batch, keeping the buffer's memory (up to a limit).
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        if self.buf.capacity() > 4 * 1024 * 1024 {
            self.buf.shrink_to(256 * 1024);
        }
        self.bigs.clear();
        self.big_bytes = 0;
        self.packets = 0;
        self.ctl_end = 0;
    }
}

/// Splits a packet body (`Control, Message` as pieces, the control message being the
/// first `ctl_len` bytes) into fragments of sequence `seq`, each a packet with its
/// length and fragment header: the first carries the whole control message and up to
/// `size` bytes of the message, the others `size` bytes each.
pub(crate) fn fragments(
    pieces: Pieces,
    ctl_len: usize,
    seq: u64,
    size: usize,
) -> std::collections::VecDeque<Pieces> {
    let size = size.max(1);
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let first_len = ctl_len.saturating_add(size).min(total);
    let count = 1 + (total - first_len).div_ceil(size) as u64;
    let mut out = std::collections::VecDeque::with_capacity(count as usize);
    let mut src = pieces.into_iter();
    let mut cur: Option<Bytes> = None;
    let mut take = |mut n: usize| -> Pieces {
        let mut v = Vec::new();
        while n > 0 {
            let b = match cur.take() {
                Some(b) => b,
                None => match src.next() {
                    Some(b) => b,
                    None => break,
                },
            };
            if b.len() > n {
                v.push(b.slice(..n));
                cur = Some(b.slice(n..));
                n = 0;
            } else {
                n -= b.len();
                if !b.is_empty() {
                    v.push(b);
                }
            }
        }
        v
    };
    let header = |first: bool, frag: u64, payload: usize| -> Bytes {
        let mut h = Vec::with_capacity(23);
        let len = 18 + usize::from(first) + payload;
        h.extend_from_slice(&(len as u32).to_be_bytes());
        h.extend_from_slice(&[131, if first { 69 } else { 70 }]);
        h.extend_from_slice(&seq.to_be_bytes());
        h.extend_from_slice(&frag.to_be_bytes());
        if first {
            h.push(0); // NumberOfAtomCacheRefs
        }
        Bytes::from(h)
    };
    let mut first = vec![header(true, count, first_len)];
    first.extend(take(first_len));
    out.push_back(first);
    let mut left = total - first_len;
    let mut frag = count;
    while left > 0 {
        frag -= 1;
        let n = left.min(size);
        let mut p = vec![header(false, frag, n)];
        p.extend(take(n));
        out.push_back(p);
        left -= n;
    }
    out
}

/// Whether a term holds a large binary within reach of the walk (worth encoding part
/// by part). Checked one level deep for containers, which covers messages like
/// `{data, Bin}` and `[Bin1, Bin2]` without a full pass over large terms; deeper
/// containers are walked when their parent is.
fn needs_walk(t: &Term) -> bool {
    fn shallow(t: &Term) -> bool {
        match t {
            Term::Binary(b) => b.len() >= BIG_BINARY,
            Term::Tuple(_) | Term::List(_) | Term::ImproperList { .. } | Term::Map(_) => true,
            _ => false,
        }
    }
    match t {
        Term::Binary(b) => b.len() >= BIG_BINARY,
        Term::Tuple(v) | Term::List(v) => v.iter().any(shallow),
        Term::ImproperList { elements, tail } => elements.iter().any(shallow) || shallow(tail),
        Term::Map(m) => m.iter().any(|(k, v)| shallow(k) || shallow(v)),
        _ => false,
    }
}

/// Estimated bytes a term will take on the wire (a shallow look: binaries and the
/// elements of a top-level tuple or list).
pub(crate) fn estimate_term(t: &Term) -> usize {
    match t {
        Term::Binary(b) => 8 + b.len(),
        Term::Tuple(v) | Term::List(v) => {
            8 + v
                .iter()
                .map(|e| match e {
                    Term::Binary(b) => 8 + b.len(),
                    Term::Tuple(w) | Term::List(w) => {
                        8 + w
                            .iter()
                            .map(|x| match x {
                                Term::Binary(b) => 8 + b.len(),
                                _ => 16,
                            })
                            .sum::<usize>()
                    }
                    _ => 16,
                })
                .sum::<usize>()
        }
        _ => 32,
    }
}

/// Estimated bytes a signal will take on the wire (for the busy limit).
pub(crate) fn estimate(signal: &Signal) -> usize {
    64 + match signal {
        Signal::Message { message, .. } | Signal::AliasMessage { message, .. } => {
            estimate_term(message)
        }
        Signal::Exit { reason, .. } | Signal::Down { reason, .. } => estimate_term(reason),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrobeam_proto::dist_header::DistReceiver;
    use ferrobeam_proto::framing::{Frame, FrameDecoder};
    use ferrobeam_term::Atom;

    fn flatten(b: &Batch) -> Vec<u8> {
        b.io_slices().iter().flat_map(|s| s.to_vec()).collect()
    }

    #[test]
    fn batch_round_trips_with_large_binaries_in_every_mode() {
        let from = Pid::new("a@h", 1, 0, 1);
        let big = Bytes::from(vec![7u8; 10_000]);
        let msgs = vec![
            Term::atom("small"),
            Term::binary(big.clone()),
            Term::tuple(vec![
                Term::atom("data"),
                Term::binary(big.clone()),
                Term::Int(1),
            ]),
            Term::list(vec![
                Term::binary(big.clone()),
                Term::map(vec![(Term::atom("k"), Term::binary(big.clone()))]),
            ]),
            Term::improper_list(vec![Term::binary(big.clone())], Term::atom("t")),
            "[1,2,3]".parse().unwrap(),
        ];
        for mode in [SendMode::PassThrough, SendMode::Header, SendMode::Fragments] {
            let mut batch = Batch::default();
            for m in &msgs {
                let c = ControlMessage::RegSend {
                    from: from.clone(),
                    to: Atom::new("x"),
                    message: m.clone(),
                };
                batch.push(mode, &c).unwrap();
            }
            batch.push_tick();
            assert_eq!(batch.packets(), msgs.len() + 1);
            let wire = flatten(&batch);
            assert_eq!(wire.len(), batch.len());
            let mut dec = FrameDecoder::new();
            dec.push(&wire);
            let mut rx = DistReceiver::default();
            let mut got = Vec::new();
            while let Some(f) = dec.next_frame() {
                match f.unwrap() {
                    Frame::Tick => got.push(None),
                    Frame::Data(d) => {
                        let r = rx.receive(d).unwrap().unwrap();
                        let c = ControlMessage::from_term(r.control, r.message).unwrap();
                        got.push(Some(c.payload().unwrap().clone()));
                    }
                }
            }
            let want: Vec<Option<Term>> = msgs.iter().cloned().map(Some).chain([None]).collect();
            assert_eq!(got, want, "{mode:?}");
            // The large binaries were not copied into the buffer.
            assert!(batch.buf.len() < 2000, "{}", batch.buf.len());
        }
    }

    #[test]
    fn packets_taken_out_and_fragmented_reassemble() {
        let from = Pid::new("a@h", 1, 0, 1);
        let big = Bytes::from((0..30_000u32).map(|i| i as u8).collect::<Vec<u8>>());
        let msg = Term::tuple(vec![
            Term::atom("data"),
            Term::binary(big.clone()),
            Term::list(vec![Term::Int(7); 500]),
            Term::binary(big.clone()),
        ]);
        let c = ControlMessage::RegSend {
            from,
            to: Atom::new("sink"),
            message: msg.clone(),
        };
        for size in [1, 999, 4096, 1 << 20] {
            let mut batch = Batch::default();
            batch.push(SendMode::Fragments, &c).unwrap();
            let mark = batch.mark();
            batch.push(SendMode::Fragments, &c).unwrap();
            let (pieces, ctl_len) = batch.take_packet(mark);
            assert_eq!(batch.packets(), 1);
            let frags = fragments(pieces, ctl_len, 9, size);
            let n = frags.len();
            // Interleave a small packet between the fragments.
            let mut out = Batch::default();
            for (i, f) in frags.iter().enumerate() {
                out.push_pieces(f);
                if i == 0 {
                    out.push(SendMode::Fragments, &c).unwrap();
                }
            }
            let mut wire = flatten(&batch);
            wire.extend(flatten(&out));
            let mut dec = FrameDecoder::new();
            dec.push(&wire);
            let mut rx = DistReceiver::default();
            let mut got = Vec::new();
            while let Some(f) = dec.next_frame() {
                let Frame::Data(d) = f.unwrap() else {
                    panic!("tick")
                };
                if let Some(r) = rx.receive(d).unwrap() {
                    let c = ControlMessage::from_term(r.control, r.message).unwrap();
                    got.push(c.payload().unwrap().clone());
                }
            }
            assert_eq!(
                got,
                vec![msg.clone(); 3],
                "fragment size {size} ({n} fragments)"
            );
            assert_eq!(rx.sequences_in_flight(), 0);
        }
    }
}
