//! The HTTP front: `GET /` is rate limited, `GET /ring` shows the ring (hyper 1, HTTP/1.1).
//!
//! * `GET /` checks the client: the first address of `X-Forwarded-For` when present,
//!   else the peer's IP. It answers `200 OK` while the limit allows, then
//!   `429 Too Many Requests` with `Retry-After` (seconds to the next window). Both carry
//!   `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Node` (the node whose
//!   counters decided) and, after a fallback to a local check,
//!   `X-RateLimit-Fallback: true`.
//! * `GET /ring` answers `{"node": "a@host", "nodes": ["a@host", "b@host"],
//!   "points_per_node": 512, "limit": 10, "window_ms": 60000}`.
//!
//! Other paths are `404`, other methods `405`.

use crate::limiter::RateLimiter;
use crate::window::Decision;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Longest key kept from `X-Forwarded-For` (bytes); longer ones are cut.
pub const MAX_KEY_LEN: usize = 256;

/// How long a connection may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves HTTP on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, limiter: RateLimiter) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("HTTP accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let limiter = limiter.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let limiter = limiter.clone();
                async move { Ok::<_, Infallible>(handle(req, peer, &limiter).await) }
            });
            let conn = http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!(%peer, "HTTP connection ended: {e}");
            }
        });
    }
}

/// The key of a request: the first `X-Forwarded-For` address, else the peer's IP.
pub fn client_key(forwarded_for: Option<&[u8]>, peer: SocketAddr) -> String {
    if let Some(v) = forwarded_for {
        let first = v.split(|b| *b == b',').next().unwrap_or(&[]);
        let first = String::from_utf8_lossy(first);
        let first = first.trim();
        if !first.is_empty() {
            let mut end = first.len().min(MAX_KEY_LEN);
            while !first.is_char_boundary(end) {
                end -= 1;
            }
            return first[..end].to_string();
        }
    }
    peer.ip().to_string()
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn header(r: &mut Response<Full<Bytes>>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    limiter: &RateLimiter,
) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    match req.uri().path() {
        "/" => {
            let xff = req
                .headers()
                .get("x-forwarded-for")
                .map(|v| v.as_bytes().to_vec());
            let key = client_key(xff.as_deref(), peer);
            let checked = limiter.check(&key).await;
            let limit = limiter.settings().limit;
            let mut r = match checked.decision {
                Decision::Allow(n) => {
                    let mut r = text(StatusCode::OK, "ok\n");
                    header(
                        &mut r,
                        "x-ratelimit-remaining",
                        &(limit.saturating_sub(n)).to_string(),
                    );
                    r
                }
                Decision::Deny(_) => {
                    let mut r = text(StatusCode::TOO_MANY_REQUESTS, "too many requests\n");
                    let secs = limiter.ms_to_next_window().div_ceil(1000).max(1);
                    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                        r.headers_mut().insert(RETRY_AFTER, v);
                    }
                    header(&mut r, "x-ratelimit-remaining", "0");
                    r
                }
            };
            header(&mut r, "x-ratelimit-limit", &limit.to_string());
            header(&mut r, "x-ratelimit-node", &checked.node);
            if checked.fallback {
                header(&mut r, "x-ratelimit-fallback", "true");
            }
            r
        }
        "/ring" => {
            let s = limiter.settings();
            let body = serde_json::json!({
                "node": limiter.node_name(),
                "nodes": limiter.ring_nodes(),
                "points_per_node": s.points,
                "limit": s.limit,
                "window_ms": s.window_ms,
            });
            let mut r = Response::new(Full::new(Bytes::from(format!("{body}\n"))));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}
