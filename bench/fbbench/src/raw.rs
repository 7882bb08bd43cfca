//! The physical floor: raw loopback TCP between two processes, on Tokio, with
//! `TCP_NODELAY`, and nothing but framing.
//!
//! * `workload=raw_rtt count=N`: N round trips of 32 bytes; the mean, p50 and p99.
//! * `workload=raw_oneway size=S count=N`: N frames of a 4-byte big-endian length and S
//!   bytes, with buffered writes (small frames are copied into a 64 KiB buffer; frames of
//!   8 KiB and more go out from their own memory, up to 1 MiB per vectored write, as the
//!   distribution writer sends large binaries); the receiver parses every frame and
//!   acknowledges the last.
//!
//! The client runs a repetition per `rep I` line of standard input, each starting with
//! a header on the one connection: a mode byte (`R` or `F`) and the count (u64,
//! big-endian). The harness interleaves them with the repetitions of the two-node
//! workload the floor is shown beside, so that both see the same machine.

use crate::stats::{payload, pcts, result, V};
use crate::Args;
use std::io::IoSlice;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const RTT_BYTES: usize = 32;
const WRITE_BUF: usize = 64 * 1024;
/// The receiver's buffer (64 KiB to 1 MiB make no difference here).
const READ_BUF: usize = 256 * 1024;
/// Frames of this size and more are written from their own memory (vectored).
const LARGE: usize = 8 * 1024;
/// Bytes of large frames per vectored write.
const VECTORED_BYTES: usize = 1 << 20;

fn io(e: std::io::Error) -> String {
    e.to_string()
}

/// `fbbench raw-server port=P`: prints `READY <port>` and serves connections.
pub async fn server(args: &Args) -> Result<(), String> {
    let l = TcpListener::bind(("127.0.0.1", args.int("port", 0)? as u16))
        .await
        .map_err(io)?;
    println!("READY {}", l.local_addr().map_err(io)?.port());
    loop {
        let (s, _) = l.accept().await.map_err(io)?;
        tokio::spawn(async move {
            if let Err(e) = serve(s).await {
                eprintln!("raw-server: {e}");
            }
        });
    }
}

async fn serve(mut s: TcpStream) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let _watch = ferrobeam::runtime::Watch::new(&s);
    let mut buf = vec![0u8; READ_BUF];
    loop {
        let mut hdr = [0u8; 9];
        if s.read_exact(&mut hdr).await.is_err() {
            return Ok(());
        }
        let count = u64::from_be_bytes(hdr[1..].try_into().expect("8 bytes"));
        match hdr[0] {
            b'R' => {
                let mut m = [0u8; RTT_BYTES];
                let spin = spin_us();
                for _ in 0..count {
                    read_exact_spinning(&mut s, &mut m, spin).await?;
                    s.write_all(&m).await?;
                }
            }
            _ => {
                read_frames(&mut s, &mut buf, count).await?;
                s.write_all(b"k").await?;
            }
        }
    }
}

/// Reads and parses `count` length-prefixed frames.
async fn read_frames(s: &mut TcpStream, buf: &mut [u8], count: u64) -> std::io::Result<()> {
    let mut frames = 0u64;
    let mut hdr = [0u8; 4];
    let mut have = 0usize; // header bytes held
    let mut skip = 0usize; // payload bytes still to come
    while frames < count {
        let n = s.read(buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let mut i = 0;
        while i < n {
            if skip > 0 {
                let k = skip.min(n - i);
                skip -= k;
                i += k;
                if skip == 0 {
                    frames += 1;
                }
                continue;
            }
            let len = if have == 0 && n - i >= 4 {
                let l = u32::from_be_bytes(buf[i..i + 4].try_into().expect("4 bytes"));
                i += 4;
                l as usize
            } else {
                hdr[have] = buf[i];
                have += 1;
                i += 1;
                if have < 4 {
                    continue;
                }
                have = 0;
                u32::from_be_bytes(hdr) as usize
            };
            if len == 0 {
                frames += 1;
            } else {
                skip = len;
            }
        }
    }
    Ok(())
}

async fn write_all_vectored(s: &mut TcpStream, bufs: &mut [IoSlice<'_>]) -> std::io::Result<()> {
    let mut rest = bufs;
    while !rest.is_empty() {
        let n = s.write_vectored(rest).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut rest, n);
    }
    Ok(())
}

/// `fbbench raw-client port=P workload=raw_rtt|raw_oneway ...`: connects, prints
/// `READY`, then runs a repetition per `rep I` line of standard input.
pub async fn client(args: &Args) -> Result<(), String> {
    let port = args.int("port", 0)? as u16;
    let count = args.int("count", 10_000)?;
    let rtt = args.str("workload")? == "raw_rtt";
    let size = args.int("size", 40)? as usize;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.map_err(io)?;
    s.set_nodelay(true).map_err(io)?;
    let _watch = ferrobeam::runtime::Watch::new(&s);
    println!("READY");
    // The same protocol as `crate::serve`, written out so that the future is `Send`
    // (it runs as a spawned task).
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Some(n) = line.trim().strip_prefix("rep ") else {
            break;
        };
        let rep: u64 = n.parse().map_err(|_| format!("bad command {line:?}"))?;
        if rtt {
            round_trips(&mut s, count, rep).await
        } else {
            frames(&mut s, size, count, rep).await
        }
        .map_err(io)?;
        println!("DONE {rep}");
    }
    Ok(())
}

fn header(mode: u8, count: u64) -> [u8; 9] {
    let mut hdr = [0u8; 9];
    hdr[0] = mode;
    hdr[1..].copy_from_slice(&count.to_be_bytes());
    hdr
}

async fn round_trips(s: &mut TcpStream, count: u64, rep: u64) -> std::io::Result<()> {
    s.write_all(&header(b'R', count)).await?;
    let mut m = [7u8; RTT_BYTES];
    let mut lats = Vec::with_capacity(count as usize);
    let t0 = Instant::now();
    let spin = spin_us();
    for _ in 0..count {
        let t = Instant::now();
        s.write_all(&m).await?;
        read_exact_spinning(s, &mut m, spin).await?;
        lats.push(t.elapsed().as_nanos() as u64);
    }
    let mean = t0.elapsed().as_secs_f64() * 1e6 / count as f64;
    let (p50, p99, max) = pcts(&mut lats);
    result(
        rep,
        &[
            ("p50_us", V::F(p50)),
            ("mean_us", V::F(mean)),
            ("p99_us", V::F(p99)),
            ("max_us", V::F(max)),
        ],
    );
    Ok(())
}

async fn frames(s: &mut TcpStream, size: usize, count: u64, rep: u64) -> std::io::Result<()> {
    s.write_all(&header(b'F', count)).await?;
    let body = payload(size);
    let len = (size as u32).to_be_bytes();
    let t0 = Instant::now();
    if size >= LARGE {
        // Up to VECTORED_BYTES of frames per vectored write, payloads not copied.
        let per = (VECTORED_BYTES / size).clamp(1, 512) as u64;
        let mut left = count;
        while left > 0 {
            let n = left.min(per);
            let mut bufs = Vec::with_capacity(2 * n as usize);
            for _ in 0..n {
                bufs.push(IoSlice::new(&len));
                bufs.push(IoSlice::new(&body));
            }
            write_all_vectored(s, &mut bufs).await?;
            left -= n;
        }
    } else {
        let mut out: Vec<u8> = Vec::with_capacity(WRITE_BUF + size + 4);
        for _ in 0..count {
            out.extend_from_slice(&len);
            out.extend_from_slice(&body);
            if out.len() >= WRITE_BUF {
                s.write_all(&out).await?;
                out.clear();
            }
        }
        if !out.is_empty() {
            s.write_all(&out).await?;
        }
    }
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack).await?;
    let secs = t0.elapsed().as_secs_f64();
    result(
        rep,
        &[
            ("msgs_s", V::F(count as f64 / secs)),
            ("mb_s", V::F((count as usize * size) as f64 / secs / 1e6)),
            ("secs", V::F(secs)),
        ],
    );
    Ok(())
}

/// How long the round-trip reader busy-polls its socket before it waits for the
/// runtime: `ferrobeam::dist::DEFAULT_READ_SPIN`, as a distribution connection's
/// reader does (`FBB_RAW_SPIN_US` sets another, 0 turns it off), so that the floor
/// reads the way ferrobeam does.
fn spin_us() -> u64 {
    std::env::var("FBB_RAW_SPIN_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ferrobeam::dist::DEFAULT_READ_SPIN.as_micros() as u64)
}

/// Reads `buf` whole: as a distribution reader does, it first busy-polls the socket
/// for up to `spin_us` (with `ferrobeam::runtime::readable_now`, yielding to the runtime
/// between polls) and reads
/// what comes with the system call directly (Tokio's `try_read` only tries once the
/// reactor has seen the socket become readable, which it does not while this task
/// spins), then waits for readiness.
async fn read_exact_spinning(
    s: &mut TcpStream,
    buf: &mut [u8],
    spin_us: u64,
) -> std::io::Result<()> {
    use std::io::Read;
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut got = 0;
    if spin_us > 0 {
        let fd = s.as_raw_fd();
        // SAFETY: the descriptor stays open (owned by `s`) and is never closed here;
        // the socket is non-blocking (Tokio made it so).
        let mut raw = std::mem::ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(fd) });
        let t = Instant::now();
        while got < buf.len() && t.elapsed().as_micros() < spin_us as u128 {
            tokio::task::yield_now().await;
            if !ferrobeam::runtime::readable_now(fd) {
                continue;
            }
            match raw.read(&mut buf[got..]) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }
    s.read_exact(&mut buf[got..]).await.map(|_| ())
}
