//! One connection: setting it up (dialing or accepting, with the handshake) and running
//! it (one reader task and one writer task).

use super::flow::Flow;
use super::manager::{Inner, Outcome, Track};
use super::random;
use super::wire::{self, Batch, Pieces};
use crate::signal::{Dest, ExitKind, Signal};
use bytes::Bytes;
use ferrobeam_proto::control::{ControlMessage, ProcRef, SpawnResult};
use ferrobeam_proto::dist_header::{DistReceiver, SendMode};
use ferrobeam_proto::framing::{Frame, FrameDecoder};
use ferrobeam_proto::handshake::{
    AcceptStatus, Completed, Config, Cookie as HsCookie, Event, Handshake, HandshakeError, PeerName,
};
use ferrobeam_term::{Atom, Term};
use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// What a connection's writer is asked to send.
pub(crate) enum Out {
    /// A signal from a local process, with its estimated size (counted in the flow).
    Signal(Dest, Signal, usize),
    /// A control message (an answer, a `MONITOR_P_EXIT`, an `UNLINK_ID`...), with its
    /// estimated size (counted in the flow).
    Ctl(ControlMessage, usize),
    /// Write what is queued, then close.
    Close,
}

impl Out {
    /// The estimated size counted in the flow.
    pub(crate) fn estimate(&self) -> usize {
        match self {
            Out::Signal(_, _, e) | Out::Ctl(_, e) => *e,
            Out::Close => 0,
        }
    }

    /// The local process the signal comes from, if known: signals from one process
    /// keep their order, so nothing from it overtakes a message of its that is being
    /// sent in fragments.
    fn sender(&self) -> Option<&ferrobeam_term::Pid> {
        use ControlMessage as C;
        match self {
            Out::Signal(_, s, _) => match s {
                Signal::Message { from, .. }
                | Signal::AliasMessage { from, .. }
                | Signal::Down { from, .. } => from.as_ref(),
                Signal::Link { from }
                | Signal::Unlink { from }
                | Signal::Exit { from, .. }
                | Signal::Monitor { from, .. }
                | Signal::Demonitor { from, .. } => Some(from),
            },
            Out::Ctl(c, _) => match c {
                C::UnlinkId { from, .. }
                | C::UnlinkIdAck { from, .. }
                | C::SpawnRequest { from, .. }
                | C::GroupLeader { from, .. }
                | C::AliasSend { from, .. }
                | C::SendSender { from, .. }
                | C::RegSend { from, .. }
                | C::Link { from, .. }
                | C::Exit { from, .. }
                | C::PayloadExit { from, .. }
                | C::Exit2 { from, .. }
                | C::PayloadExit2 { from, .. } => Some(from),
                // The reply is the first signal of the new process.
                C::SpawnReply {
                    result: SpawnResult::Pid(p),
                    ..
                }
                | C::MonitorPExit {
                    from: ProcRef::Pid(p),
                    ..
                }
                | C::PayloadMonitorPExit {
                    from: ProcRef::Pid(p),
                    ..
                } => Some(p),
                _ => None,
            },
            Out::Close => None,
        }
    }
}

/// Most bytes a writer gathers before writing.
const MAX_BATCH_BYTES: usize = 1 << 20;
/// Most packets a writer gathers before writing.
const MAX_BATCH_PACKETS: usize = 4096;
/// The time slice of a connection's reader and writer: after working this long without
/// waiting, each yields until the runtime has polled the I/O driver and run its other
/// tasks. Without it the writer of a connection streaming large messages (or the
/// reader of one receiving them) keeps its worker for many milliseconds, and the
/// replies to small calls wait unread on the same connection (head-of-line blocking
/// in the scheduler rather than on the wire). Tokio's own budget lets a task do 128
/// operations before yielding, which here is up to 128 MiB of writing.
const SLICE: Duration = Duration::from_micros(500);
/// The size of the fragments of a large message, when the peer accepts fragments (as
/// BEAM's).
pub(crate) const FRAGMENT_SIZE: usize = 64 * 1024;
/// Messages larger than this go out in fragments. BEAM fragments every message over
/// 64 KiB; sending messages of up to 256 KiB whole spares the receiver the reassembly
/// (a copy of the whole message, where a whole packet is a slice of the read buffer)
/// and both sides the per-fragment work: `oneway_64k` between ferrobeam nodes went from
/// 5.6 to 8.8 GB/s. A small message waits behind at most one such packet (about
/// 40 µs on loopback), and a BEAM receiver takes packets of any size.
pub(crate) const FRAGMENT_ABOVE: usize = 4 * FRAGMENT_SIZE;

fn handshake_config(inner: &Inner) -> Config {
    let cookie = inner
        .cookie
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut cfg = Config::new(
        inner.name.clone(),
        HsCookie::new(cookie.expose()),
        random::random_u32(),
    );
    cfg.flags = inner.flags;
    cfg.creation = inner.node.creation();
    cfg.name_domain = inner.domain();
    cfg
}

/// Why a connection setup failed, for the log.
#[derive(Debug, thiserror::Error)]
enum SetupError {
    #[error("{0}")]
    Handshake(#[from] HandshakeError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the peer closed the connection during the handshake")]
    Closed,
    #[error("{0}")]
    Other(String),
}

/// Writes everything the handshake has queued.
async fn flush(sock: &mut TcpStream, hs: &mut Handshake) -> std::io::Result<()> {
    while let Some(out) = hs.poll_transmit() {
        sock.write_all(&out).await?;
    }
    Ok(())
}

/// Reads more handshake input; on a handshake error, writes out the refusal first.
async fn read_more(
    sock: &mut TcpStream,
    hs: &mut Handshake,
    buf: &mut [u8],
) -> Result<(), SetupError> {
    let n = sock.read(buf).await?;
    if n == 0 {
        return Err(SetupError::Closed);
    }
    if let Err(e) = hs.feed(&buf[..n]) {
        let _ = flush(sock, hs).await;
        return Err(e.into());
    }
    Ok(())
}

/// Dials `peer` and runs the connection. Owns the pending entry `id` until it is
/// cancelled (a simultaneous connect from the peer took over).
pub(crate) async fn dial(inner: Arc<Inner>, peer: Atom, id: u64, token: CancellationToken) {
    let timeout = inner.cfg.handshake_timeout;
    let attempt = tokio::time::timeout(timeout, dial_handshake(&inner, &peer, id));
    let r = tokio::select! {
        _ = token.cancelled() => {
            debug!(%peer, "connection attempt superseded by the peer's own");
            return;
        }
        r = attempt => r,
    };
    match r {
        Ok(Ok((sock, completed, leftover))) => run(inner, peer, id, sock, completed, leftover),
        Ok(Err(SetupError::Handshake(HandshakeError::SimultaneousLost))) => {
            // The peer is dialing us too and its attempt wins: its connection comes in
            // and takes over this entry. Give it the setup time, then give up.
            debug!(%peer, "simultaneous connect: the peer's attempt wins");
            tokio::select! {
                _ = token.cancelled() => {}
                _ = tokio::time::sleep(timeout) => inner.attempt_failed(&peer, id),
            }
        }
        Ok(Err(e)) => {
            log_setup_failure(&inner, &peer, &e, true);
            inner.attempt_failed(&peer, id);
        }
        Err(_) => {
            warn!(node = %inner.name, %peer, ?timeout, "connection setup timed out");
            inner.attempt_failed(&peer, id);
        }
    }
}

fn log_setup_failure(inner: &Inner, peer: &Atom, e: &SetupError, dialing: bool) {
    let dir = if dialing { "to" } else { "from" };
    match e {
        SetupError::Handshake(HandshakeError::BadCookie { .. }) => warn!(
            node = %inner.name, %peer,
            "connection {dir} node {peer} refused: wrong cookie (challenge digest mismatch)"
        ),
        SetupError::Handshake(HandshakeError::NameDomainMismatch { .. }) => warn!(
            node = %inner.name, %peer,
            "connection {dir} node {peer} refused: {e} (short and long names do not mix)"
        ),
        _ => info!(node = %inner.name, %peer, "connection {dir} node {peer} failed: {e}"),
    }
}

async fn dial_handshake(
    inner: &Arc<Inner>,
    peer: &Atom,
    id: u64,
) -> Result<(TcpStream, Completed, Vec<u8>), SetupError> {
    let (alive, host) = ferrobeam_proto::handshake::split_node_name(peer.as_str())
        .ok_or_else(|| SetupError::Other(format!("{peer} is not a node name")))?;
    let epmd =
        crate::epmd::EpmdClient::new(inner.cfg.epmd_port).with_timeout(inner.cfg.handshake_timeout);
    let info = epmd
        .port_please(host, alive)
        .await
        .map_err(|e| SetupError::Other(format!("EPMD lookup on {host} failed: {e}")))?
        .ok_or_else(|| {
            SetupError::Other(format!("{alive} is not registered with EPMD on {host}"))
        })?;
    if info.highest_version < 6 {
        return Err(SetupError::Other(format!(
            "{peer} speaks distribution versions {}..{}, not 6",
            info.lowest_version, info.highest_version
        )));
    }
    let mut sock = TcpStream::connect((host, info.port)).await?;
    sock.set_nodelay(true)?;
    let mut hs = Handshake::initiator(handshake_config(inner), peer.clone())?;
    let mut buf = vec![0u8; 4096];
    loop {
        flush(&mut sock, &mut hs).await?;
        while let Some(ev) = hs.poll_event() {
            match ev {
                Event::AliveCheck => {
                    let owns = inner.owns_pending(peer, id);
                    let r = hs.answer_alive(owns);
                    flush(&mut sock, &mut hs).await?;
                    r?;
                }
                Event::Completed(c) => {
                    flush(&mut sock, &mut hs).await?;
                    let leftover = hs.take_leftover();
                    return Ok((sock, c, leftover));
                }
                other => debug!(%peer, ?other, "handshake event"),
            }
        }
        read_more(&mut sock, &mut hs, &mut buf).await?;
    }
}

/// Runs the accepting side of a connection that was just accepted.
pub(crate) async fn accept(inner: Arc<Inner>, sock: TcpStream) {
    let id = inner.new_id();
    let token = CancellationToken::new();
    let peer_addr = sock.peer_addr().ok();
    let mut peer: Option<Atom> = None;
    let timeout = inner.cfg.handshake_timeout;
    let r = tokio::select! {
        _ = token.cancelled() => {
            debug!(?peer_addr, "incoming connection superseded");
            return;
        }
        r = tokio::time::timeout(timeout, accept_handshake(&inner, sock, id, &token, &mut peer)) => r,
    };
    let name = peer.clone().unwrap_or_else(|| Atom::new(""));
    match r {
        Ok(Ok((sock, completed, leftover))) => run(
            inner,
            completed.peer_name.clone(),
            id,
            sock,
            completed,
            leftover,
        ),
        Ok(Err(e)) => {
            if peer.is_some() {
                log_setup_failure(&inner, &name, &e, false);
                inner.attempt_failed(&name, id);
            } else {
                info!(node = %inner.name, ?peer_addr, "incoming connection failed: {e}");
            }
        }
        Err(_) => {
            warn!(node = %inner.name, ?peer_addr, peer = %name, ?timeout,
                "incoming connection dropped: the handshake did not complete in time");
            if peer.is_some() {
                inner.attempt_failed(&name, id);
            }
        }
    }
}

async fn accept_handshake(
    inner: &Arc<Inner>,
    mut sock: TcpStream,
    id: u64,
    token: &CancellationToken,
    peer_out: &mut Option<Atom>,
) -> Result<(TcpStream, Completed, Vec<u8>), SetupError> {
    sock.set_nodelay(true)?;
    let mut hs = Handshake::acceptor(handshake_config(inner))?;
    let mut buf = vec![0u8; 4096];
    let mut alive_pending = false;
    let result = async {
        loop {
            flush(&mut sock, &mut hs).await?;
            while let Some(ev) = hs.poll_event() {
                match ev {
                    Event::PeerIdentified { name, .. } => {
                        let status = match &name {
                            PeerName::Host(_) => AcceptStatus::NotAllowed,
                            PeerName::Node(n) => {
                                let s = inner.accept_pending(n, id, token);
                                if matches!(s, AcceptStatus::Ok | AcceptStatus::OkSimultaneous) {
                                    *peer_out = Some(n.clone());
                                }
                                if s == AcceptStatus::Alive {
                                    alive_pending = true;
                                }
                                s
                            }
                        };
                        debug!(node = %inner.name, peer = ?name, ?status, "incoming connection");
                        let r = hs.accept(status);
                        flush(&mut sock, &mut hs).await?;
                        r?;
                    }
                    Event::ReplacingConnection => {
                        let Some(n) = hs.peer_name().cloned() else {
                            return Err(SetupError::Other("replacing an unnamed peer".into()));
                        };
                        alive_pending = false;
                        inner.replace_connection(&n, id, token);
                        *peer_out = Some(n);
                        hs.old_connection_closed()?;
                    }
                    Event::Completed(c) => {
                        flush(&mut sock, &mut hs).await?;
                        return Ok(c);
                    }
                    other => debug!(?other, "handshake event"),
                }
            }
            read_more(&mut sock, &mut hs, &mut buf).await?;
        }
    }
    .await;
    if alive_pending {
        if let Some(n) = hs.peer_name() {
            inner.replace_abandoned(n);
        }
    }
    let c = result?;
    let leftover = hs.take_leftover();
    Ok((sock, c, leftover))
}

/// Starts the reader and writer of a connection whose handshake completed.
fn run(inner: Arc<Inner>, peer: Atom, id: u64, sock: TcpStream, c: Completed, leftover: Vec<u8>) {
    let hidden = c.is_hidden() || inner.cfg.hidden;
    let negotiated = c.flags;
    // Watched by the busy-poll phase of `crate::runtime` while the reader runs.
    let watch = crate::runtime::Watch::new(&sock);
    let (rd, wr) = sock.into_split();
    let mut rd = Some((rd, watch));
    let mut wr = Some(wr);
    let tick_req = Arc::new(Notify::new());
    let inner2 = inner.clone();
    let peer2 = peer.clone();
    let outcome = inner.connection_up(&peer, id, negotiated, hidden, |rx, flow| {
        let handle = inner2.node.handle().clone();
        let (Some((rd, watch)), Some(wr)) = (rd.take(), wr.take()) else {
            unreachable!("halves are taken once")
        };
        let reader_flow = flow.clone();
        handle.spawn(writer(
            inner2.clone(),
            peer2.clone(),
            id,
            wr,
            rx,
            negotiated,
            tick_req.clone(),
            flow,
        ));
        let mut dec = FrameDecoder::with_max_frame_size(inner2.cfg.max_frame_size)
            .with_copy_below(COPY_BELOW);
        dec.push(&leftover);
        handle
            .spawn(async move {
                let _watch = watch;
                reader(
                    inner2,
                    peer2,
                    id,
                    rd,
                    dec,
                    negotiated,
                    tick_req,
                    reader_flow,
                )
                .await
            })
            .abort_handle()
    });
    if let Outcome::Superseded = outcome {
        debug!(%peer, "handshake completed for a superseded attempt; closing it");
    }
}

/// Writes the vectored batch completely.
async fn write_batch(wr: &mut OwnedWriteHalf, batch: &Batch) -> std::io::Result<()> {
    let mut slices = batch.io_slices();
    let mut rest: &mut [IoSlice<'_>] = &mut slices;
    while !rest.is_empty() {
        let n = wr.write_vectored(rest).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut rest, n);
    }
    Ok(())
}

/// A message being sent in fragments.
struct Stream {
    /// The sending process.
    key: Option<ferrobeam_term::Pid>,
    /// The fragments still to write, each a packet.
    frags: VecDeque<Pieces>,
    /// Its estimated size in the flow, taken off once the last fragment is written.
    est: usize,
    /// Later signals from the same process, held until this message is out.
    held: VecDeque<Out>,
}

/// The state of a connection's writer: the batch being gathered and the messages
/// being sent in fragments.
struct WriterState {
    mode: SendMode,
    negotiated: u64,
    system: ferrobeam_term::Pid,
    peer: Atom,
    flow: Arc<Flow>,
    batch: Batch,
    streams: VecDeque<Stream>,
    next_seq: u64,
    closing: bool,
}

impl WriterState {
    /// Takes one item from the queue.
    fn add(&mut self, out: Out) {
        if let Out::Close = out {
            self.closing = true;
            return;
        }
        if !self.streams.is_empty() {
            let key = out.sender();
            if let Some(s) = self.streams.iter_mut().find(|s| s.key.as_ref() == key) {
                s.held.push_back(out);
                return;
            }
        }
        self.encode(out);
    }

    /// Encodes an item into the batch, or starts a fragmented stream for it.
    fn encode(&mut self, out: Out) {
        let key = out.sender().cloned();
        let est = out.estimate();
        let msg = match out {
            Out::Signal(to, signal, _) => {
                wire::to_control(to, signal, self.negotiated, &self.system)
            }
            Out::Ctl(c, _) => Some(c),
            Out::Close => None,
        };
        let Some(msg) = msg else {
            self.flow.sub(est);
            return;
        };
        let mark = self.batch.mark();
        if let Err(e) = self.batch.push(self.mode, &msg) {
            warn!(peer = %self.peer, "message not sent: {e}");
            self.flow.sub(est);
            return;
        }
        if self.mode == SendMode::Fragments && self.batch.len_since(mark) > FRAGMENT_ABOVE {
            let (pieces, ctl_len) = self.batch.take_packet(mark);
            let seq = self.next_seq;
            self.next_seq = self.next_seq.wrapping_add(1).max(1);
            self.streams.push_back(Stream {
                key,
                frags: wire::fragments(pieces, ctl_len, seq, FRAGMENT_SIZE),
                est,
                held: VecDeque::new(),
            });
        } else {
            self.flow.sub(est);
        }
    }

    /// Puts the next fragment of each stream in the batch, round-robin. A stream that
    /// ends lets the signals it held go.
    fn pump(&mut self) {
        for _ in 0..self.streams.len() {
            let Some(mut s) = self.streams.pop_front() else {
                return;
            };
            if let Some(f) = s.frags.pop_front() {
                self.batch.push_pieces(&f);
            }
            if s.frags.is_empty() {
                self.flow.sub(s.est);
                for out in s.held {
                    self.add(out);
                }
            } else {
                self.streams.push_back(s);
            }
        }
    }

    fn full(&self) -> bool {
        self.batch.len() >= MAX_BATCH_BYTES || self.batch.packets() >= MAX_BATCH_PACKETS
    }

    /// Takes what is waiting in the queue, without waiting.
    fn drain(&mut self, rx: &mut mpsc::UnboundedReceiver<Out>) {
        while !self.closing && !self.full() {
            match rx.try_recv() {
                Ok(out) => self.add(out),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => self.closing = true,
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn writer(
    inner: Arc<Inner>,
    peer: Atom,
    id: u64,
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Out>,
    negotiated: u64,
    tick_req: Arc<Notify>,
    flow: Arc<Flow>,
) {
    let tick = (inner.cfg.net_ticktime / 4).max(Duration::from_millis(10));
    let mut st = WriterState {
        mode: SendMode::for_flags(negotiated),
        negotiated,
        system: inner.node.system_pid(),
        peer: peer.clone(),
        flow,
        batch: Batch::default(),
        streams: VecDeque::new(),
        next_seq: 1,
        closing: false,
    };
    let mut last_write = Instant::now();
    let mut slice_start = Instant::now();
    // The tick timer: one for the connection's life, armed for `tick` after the last
    // write and moved on only when it fires, rather than a timer registered and
    // cancelled around every wait for a message (once per message on a quiet
    // connection), as the reader's silence timer is.
    let idle = tokio::time::sleep_until(last_write + tick);
    tokio::pin!(idle);
    // Likewise, one wait for the reader's tick requests at a time, kept registered
    // until a request comes.
    let tick_wanted = tick_req.notified();
    tokio::pin!(tick_wanted);
    loop {
        if !st.closing {
            if st.batch.is_empty() && st.streams.is_empty() {
                slice_start = Instant::now();
                tokio::select! {
                    biased;
                    m = rx.recv() => match m {
                        Some(out) => st.add(out),
                        None => st.closing = true,
                    },
                    () = &mut tick_wanted => {
                        st.batch.push_tick();
                        tick_wanted.set(tick_req.notified());
                    }
                    () = &mut idle => {
                        let deadline = last_write + tick;
                        if Instant::now() >= deadline {
                            st.batch.push_tick();
                            idle.as_mut().reset(Instant::now() + tick);
                        } else {
                            idle.as_mut().reset(deadline);
                        }
                    }
                }
            }
            st.drain(&mut rx);
            // Fragments of large messages, with the small messages that come in
            // meanwhile put between them.
            while !st.closing && !st.streams.is_empty() && !st.full() {
                st.pump();
                st.drain(&mut rx);
            }
        }
        if !st.batch.is_empty() {
            if let Err(e) = write_batch(&mut wr, &st.batch).await {
                debug!(%peer, "write failed: {e}");
                inner.connection_down(&peer, id, "connection_closed");
                return;
            }
            st.batch.clear();
            last_write = Instant::now();
            if last_write.duration_since(slice_start) >= SLICE {
                tokio::task::yield_now().await;
                slice_start = Instant::now();
            }
        }
        if st.closing {
            let _ = wr.shutdown().await;
            inner.connection_down(&peer, id, "connection_closed");
            return;
        }
    }
}

/// Packets shorter than this are copied out of the read buffer, so that a binary a
/// process keeps from one holds its packet only, not the whole buffer (8 KiB on a quiet
/// connection, 256 KiB on a busy one) and every other packet read with it. Longer
/// packets stay slices of the buffer, which they mostly fill: a kept binary from one
/// holds at most 64 times its packet.
const COPY_BELOW: usize = 4 * 1024;

/// The least a quiet connection's reader asks the socket for.
const QUIET_READ: usize = 8 * 1024;
/// The least a busy connection's reader asks for: several 64 KiB fragments or
/// messages per system call.
const BUSY_READ: usize = 256 * 1024;
/// The most one read asks for.
const MAX_READ: usize = 1 << 20;

#[allow(clippy::too_many_arguments)]
async fn reader(
    inner: Arc<Inner>,
    peer: Atom,
    id: u64,
    mut rd: OwnedReadHalf,
    mut dec: FrameDecoder,
    negotiated: u64,
    tick_req: Arc<Notify>,
    flow: Arc<Flow>,
) {
    let mut rx = DistReceiver::new(inner.cfg.receiver_limits());
    let silence = inner.cfg.net_ticktime;
    let mut slice_start = Instant::now();
    let mut busy = false;
    // `net_ticktime`: one timer for the connection's life, armed for `silence` after
    // the last read and moved on only when it fires, rather than a timer registered and
    // cancelled around every wait for the socket (twice per round trip).
    let mut last_read = slice_start;
    let quiet = tokio::time::sleep(silence);
    tokio::pin!(quiet);
    let mut spin = ReadSpin::new(inner.cfg.read_spin);
    let reason = loop {
        let mut failed = None;
        while let Some(f) = dec.next_frame() {
            match f {
                Err(e) => {
                    failed = Some(format!("bad packet: {e}"));
                    break;
                }
                Ok(Frame::Tick) => tick_req.notify_one(),
                Ok(Frame::Data(body)) => {
                    if let Err(e) = packet(&inner, &peer, id, &flow, &mut rx, body, negotiated) {
                        failed = Some(e);
                        break;
                    }
                }
            }
        }
        if let Some(e) = failed {
            warn!(node = %inner.name, %peer, "closing the connection: {e}");
            break "connection_closed";
        }
        // A busy connection (the last read filled the buffer) reads in large pieces,
        // many packets per system call; a quiet one keeps a small buffer.
        let floor = if busy { BUSY_READ } else { QUIET_READ };
        let want = dec.bytes_needed().clamp(floor, MAX_READ);
        dec.buffer_mut().reserve(want);
        let room = dec.buffer_mut().capacity() - dec.buffer_mut().len();
        let mut got = read_now(&mut rd, dec.buffer_mut()).await;
        if matches!(&got, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock) {
            if let Some(r) = spin.read(&rd, dec.buffer_mut()).await {
                // The spin yielded between its polls: a new time slice.
                slice_start = Instant::now();
                got = r;
            }
        }
        match got {
            Ok(0) => {
                debug!(%peer, "the peer closed the connection");
                break "connection_closed";
            }
            // More was waiting: the connection is busy. After a time slice of
            // reading, let the other tasks of this worker (and the I/O driver) run.
            Ok(n) => {
                busy = n == room;
                last_read = Instant::now();
                if last_read.duration_since(slice_start) >= SLICE {
                    tokio::task::yield_now().await;
                    slice_start = Instant::now();
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let ready = loop {
                    tokio::select! {
                        biased;
                        r = rd.readable() => break Some(r),
                        () = &mut quiet => {
                            let deadline = last_read + silence;
                            if Instant::now() >= deadline {
                                break None;
                            }
                            quiet.as_mut().reset(deadline);
                        }
                    }
                };
                match ready {
                    None => {
                        warn!(node = %inner.name, %peer, ?silence, "net_tick_timeout: nothing received from the peer");
                        break "net_tick_timeout";
                    }
                    Some(Err(e)) => {
                        debug!(%peer, "read failed: {e}");
                        break "connection_closed";
                    }
                    Some(Ok(())) => {
                        slice_start = Instant::now();
                        busy = false;
                    }
                }
            }
            Err(e) => {
                debug!(%peer, "read failed: {e}");
                break "connection_closed";
            }
        }
    };
    inner.connection_down(&peer, id, reason);
}

/// A reader's busy poll, with backoff: a spin that found nothing makes the next ones
/// rarer (one wait in 2, 4, ... 64 spins first), one that found a packet resets it.
#[derive(Debug)]
struct ReadSpin {
    /// How long one spin lasts; zero: never spin.
    max: Duration,
    /// Spins in a row that found nothing (capped).
    fails: u32,
    /// Waits to let go by without spinning.
    skip: u32,
}

impl ReadSpin {
    fn new(max: Duration) -> ReadSpin {
        ReadSpin {
            // Only where the socket can be polled directly.
            max: if cfg!(unix) { max } else { Duration::ZERO },
            fails: 0,
            skip: 0,
        }
    }

    /// Whether to spin before this wait.
    fn wanted(&mut self) -> bool {
        if self.max.is_zero() {
            return false;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        true
    }

    /// Before a wait for readiness: if this wait is one to spin before and a spinner's
    /// slot is free, busy-polls the drained socket ([`spin_read`]) and learns from what
    /// it found. `None`: nothing was read; wait.
    async fn read(
        &mut self,
        rd: &OwnedReadHalf,
        buf: &mut bytes::BytesMut,
    ) -> Option<std::io::Result<usize>> {
        if !self.wanted() {
            return None;
        }
        let _slot = SPINNERS.take()?;
        let got = spin_read(rd, buf, self.max).await;
        self.done(got.is_some());
        got
    }

    /// The spin found a packet, or nothing.
    fn done(&mut self, found: bool) {
        if found {
            self.fails = 0;
            self.skip = 0;
        } else {
            self.fails = (self.fails + 1).min(6);
            self.skip = (1 << self.fails) - 1;
        }
    }
}

/// The readers of this OS process that may busy-poll at the same time: one per CPU it
/// may run on. More would only take CPU from each other (each spinning reader polls its
/// socket once per turn of its worker); the others wait for readiness, which the
/// runtime's own busy poll (`crate::runtime`) still shortens.
static SPINNERS: SpinSlots = SpinSlots::new();

/// A count of spinning readers, with a limit.
struct SpinSlots {
    spinning: AtomicUsize,
    /// The limit; 0 until first used, then the number of CPUs.
    max: AtomicUsize,
}

/// One reader's permission to spin, given back when dropped (also when the reader is
/// cancelled mid-spin).
struct SpinSlot<'a>(&'a SpinSlots);

impl SpinSlots {
    const fn new() -> SpinSlots {
        SpinSlots {
            spinning: AtomicUsize::new(0),
            max: AtomicUsize::new(0),
        }
    }

    fn take(&self) -> Option<SpinSlot<'_>> {
        let mut max = self.max.load(Ordering::Relaxed);
        if max == 0 {
            max = std::thread::available_parallelism().map_or(1, |n| n.get());
            self.max.store(max, Ordering::Relaxed);
        }
        if self.spinning.fetch_add(1, Ordering::Relaxed) < max {
            Some(SpinSlot(self))
        } else {
            self.spinning.fetch_sub(1, Ordering::Relaxed);
            None
        }
    }
}

impl Drop for SpinSlot<'_> {
    fn drop(&mut self) {
        self.0.spinning.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Busy-polls the drained socket for up to `max`, yielding to the worker's other tasks
/// (and its I/O driver) between polls, and reads what comes into `buf`: `None` if
/// nothing came. The socket is polled with `poll(2)`, which does not take the socket's
/// lock (reading it in a loop would, and slows down the sender's side: 64 KiB
/// one-way throughput fell by 17% when this spin read instead of polling), and read
/// directly, since Tokio still considers it drained.
#[cfg(unix)]
async fn spin_read(
    rd: &OwnedReadHalf,
    buf: &mut bytes::BytesMut,
    max: Duration,
) -> Option<std::io::Result<usize>> {
    use std::os::fd::AsRawFd;
    let fd = rd.as_ref().as_raw_fd();
    let start = std::time::Instant::now();
    loop {
        // First let the processes the last packets woke, and the writer, run.
        tokio::task::yield_now().await;
        if crate::runtime::readable_now(fd) {
            match crate::runtime::recv_now(fd, buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                r => return Some(r),
            }
        }
        if start.elapsed() >= max {
            return None;
        }
    }
}

#[cfg(not(unix))]
async fn spin_read(
    _: &OwnedReadHalf,
    _: &mut bytes::BytesMut,
    _: Duration,
) -> Option<std::io::Result<usize>> {
    None
}

/// Reads what the socket holds into `buf`, without waiting: `WouldBlock` when nothing
/// is there (and the task is then registered for readiness).
///
/// Unlike `try_read_buf`, a read that fills less than the free space of `buf` tells
/// Tokio that the socket is drained (the read path of `AsyncRead` does so with epoll),
/// so the next read waits for readiness instead of costing a system call that only
/// returns `EAGAIN`: one system call less per packet on a quiet connection, on each
/// side of a round trip.
async fn read_now(rd: &mut OwnedReadHalf, buf: &mut bytes::BytesMut) -> std::io::Result<usize> {
    std::future::poll_fn(|cx| {
        match tokio_util::io::poll_read_buf(std::pin::Pin::new(&mut *rd), cx, buf) {
            std::task::Poll::Ready(r) => std::task::Poll::Ready(r),
            std::task::Poll::Pending => {
                std::task::Poll::Ready(Err(std::io::ErrorKind::WouldBlock.into()))
            }
        }
    })
    .await
}

/// Handles one packet. `Err` closes the connection.
fn packet(
    inner: &Arc<Inner>,
    peer: &Atom,
    id: u64,
    flow: &Flow,
    rx: &mut DistReceiver,
    body: Bytes,
    negotiated: u64,
) -> Result<(), String> {
    let Some(got) = rx.receive(body).map_err(|e| e.to_string())? else {
        return Ok(());
    };
    let msg = ControlMessage::from_term(got.control, got.message).map_err(|e| e.to_string())?;
    control(inner, peer, id, flow, msg, negotiated)
}

/// Acts on a control message from `peer`.
fn control(
    inner: &Arc<Inner>,
    peer: &Atom,
    id: u64,
    flow: &Flow,
    msg: ControlMessage,
    negotiated: u64,
) -> Result<(), String> {
    use ControlMessage as C;
    let node = &inner.node;
    let me = &inner.name;
    let local = |p: &ferrobeam_term::Pid| p.node == *me;
    let exit = |to: ferrobeam_term::Pid, from, reason, kind| {
        if local(&to) {
            node.deliver(Dest::Pid(to), Signal::Exit { from, reason, kind });
        }
    };
    // A link or monitor comes from a process of the peer, and a link is for a process
    // here. Anything else would be tracked for this connection (and answered when it
    // is lost) without ever being delivered.
    match &msg {
        C::Link { from, to } if from.node != *peer || !local(to) => {
            debug!(%peer, "LINK from {from} to {to} ignored: not from the peer to this node");
            return Ok(());
        }
        C::MonitorP { from, .. } if from.node != *peer => {
            debug!(%peer, "MONITOR_P from {from} ignored: not from the peer");
            return Ok(());
        }
        _ => {}
    }
    if Track::concerns(&msg) {
        match inner.track_incoming(peer, id, &msg) {
            // The connection was replaced or closed meanwhile.
            None => return Err("connection no longer current".into()),
            // Ignored by the link protocol.
            Some(false) => return Ok(()),
            Some(true) => {}
        }
    } else if flow.is_closed() {
        // Checked without the connection table's lock, for every message.
        return Err("connection no longer current".into());
    }
    match msg {
        C::Send { to, message } | C::SendTT { to, message, .. } => {
            if local(&to) {
                node.deliver(
                    Dest::Pid(to),
                    Signal::Message {
                        from: None,
                        message,
                    },
                );
            }
        }
        C::SendSender { from, to, message }
        | C::SendSenderTT {
            from, to, message, ..
        } => {
            if local(&to) {
                node.deliver(
                    Dest::Pid(to),
                    Signal::Message {
                        from: Some(from),
                        message,
                    },
                );
            }
        }
        C::RegSend {
            from, to, message, ..
        }
        | C::RegSendTT {
            from, to, message, ..
        } => node.deliver(
            Dest::Name(to),
            Signal::Message {
                from: Some(from),
                message,
            },
        ),
        C::AliasSend {
            from,
            alias,
            message,
        }
        | C::AliasSendTT {
            from,
            alias,
            message,
            ..
        } => {
            if alias.node == *me {
                node.deliver(
                    Dest::Alias(alias.clone()),
                    Signal::AliasMessage {
                        from: Some(from),
                        alias,
                        message,
                    },
                );
            }
        }
        C::Link { from, to } => {
            if local(&to) {
                node.deliver(Dest::Pid(to), Signal::Link { from });
            }
        }
        C::Unlink { from, to } => {
            if local(&to) {
                node.deliver(Dest::Pid(to), Signal::Unlink { from });
            }
        }
        C::UnlinkId { id: uid, from, to } => {
            // Acknowledged before any other signal from `to` to `from`.
            inner.send_control(
                peer,
                id,
                C::UnlinkIdAck {
                    id: uid,
                    from: to.clone(),
                    to: from.clone(),
                },
            );
            if local(&to) {
                node.deliver(Dest::Pid(to), Signal::Unlink { from });
            }
        }
        C::UnlinkIdAck { .. } | C::NodeLink => {}
        C::GroupLeader { from, to } => super::spawn::group_leader(inner, from, to),
        C::Exit { from, to, reason }
        | C::ExitTT {
            from, to, reason, ..
        }
        | C::PayloadExit { from, to, reason }
        | C::PayloadExitTT {
            from, to, reason, ..
        } => exit(to, from, reason, ExitKind::Link),
        C::Exit2 { from, to, reason }
        | C::Exit2TT {
            from, to, reason, ..
        }
        | C::PayloadExit2 { from, to, reason }
        | C::PayloadExit2TT {
            from, to, reason, ..
        } => exit(to, from, reason, ExitKind::Exit2),
        C::MonitorP {
            from,
            to,
            reference,
        } => {
            let dest = match to {
                ProcRef::Pid(p) if local(&p) => Dest::Pid(p),
                ProcRef::Pid(p) => {
                    // Not one of ours: answer noproc at once (and keep no record).
                    inner.forget_monitor_in(peer, id, &reference);
                    if let Some(c) = wire::monitor_exit(
                        ProcRef::Pid(p),
                        from,
                        reference,
                        Term::atom("noproc"),
                        negotiated,
                    ) {
                        inner.send_control(peer, id, c);
                    }
                    return Ok(());
                }
                ProcRef::Name(n) => Dest::Name(n),
            };
            node.deliver(dest, Signal::Monitor { from, reference });
        }
        C::DemonitorP {
            from,
            to,
            reference,
        } => {
            let dest = match to {
                ProcRef::Pid(p) if local(&p) => Dest::Pid(p),
                ProcRef::Pid(_) => return Ok(()),
                ProcRef::Name(n) => Dest::Name(n),
            };
            node.deliver(dest, Signal::Demonitor { from, reference });
        }
        C::MonitorPExit {
            from,
            to,
            reference,
            reason,
        }
        | C::PayloadMonitorPExit {
            from,
            to,
            reference,
            reason,
        } => {
            if local(&to) {
                let from = match from {
                    ProcRef::Pid(p) => Some(p),
                    ProcRef::Name(_) => None,
                };
                node.deliver(
                    Dest::Pid(to),
                    Signal::Down {
                        from,
                        reference,
                        reason,
                    },
                );
            }
        }
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
        | C::SpawnRequestTT {
            req_id,
            from,
            group_leader,
            module,
            function,
            arity,
            opts,
            args,
            ..
        } => super::spawn::request(
            inner,
            peer,
            id,
            super::spawn::Incoming {
                req_id,
                from,
                group_leader,
                module,
                function,
                arity,
                opts,
                args,
            },
        ),
        C::SpawnReply {
            req_id,
            to,
            flags,
            result,
        }
        | C::SpawnReplyTT {
            req_id,
            to,
            flags,
            result,
            ..
        } => {
            if local(&to) {
                super::spawn::reply(inner, peer, req_id, to, flags, result);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_slots_are_limited_and_given_back() {
        let slots = SpinSlots::new();
        slots.max.store(2, Ordering::Relaxed);
        let a = slots.take().expect("first slot");
        let b = slots.take().expect("second slot");
        assert!(
            slots.take().is_none(),
            "a third reader spun with a limit of 2"
        );
        drop(a);
        let c = slots.take().expect("a slot given back is taken again");
        drop((b, c));
        assert_eq!(slots.spinning.load(Ordering::Relaxed), 0);
        // The limit defaults to the CPUs this process may use.
        let d = SpinSlots::new();
        let _held = d.take().expect("at least one slot");
        assert!(d.max.load(Ordering::Relaxed) >= 1);
    }

    #[test]
    fn read_spin_backs_off_when_it_finds_nothing_and_resets_when_it_does() {
        let mut s = ReadSpin::new(Duration::from_micros(50));
        if !cfg!(unix) {
            assert!(!s.wanted(), "no spin where the socket cannot be polled");
            return;
        }
        // Spins found nothing 1, 2, 3 times in a row: 1, 3, 7 waits go by unspun.
        for skipped in [1, 3, 7] {
            assert!(s.wanted());
            s.done(false);
            for _ in 0..skipped {
                assert!(!s.wanted());
            }
        }
        // Capped at one spin in 64.
        for _ in 0..10 {
            while !s.wanted() {}
            s.done(false);
        }
        let unspun = std::iter::from_fn(|| Some(s.wanted()))
            .take_while(|w| !w)
            .count();
        assert_eq!(unspun, 63);
        // A spin that finds a packet: every wait spins again.
        s.done(true);
        assert!((0..5).all(|_| s.wanted()));
        // Off.
        assert!(!ReadSpin::new(Duration::ZERO).wanted());
    }
}
