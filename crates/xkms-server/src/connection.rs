//! The accept loop: TCP connections from the listener, TLS when configured (`tls`), the
//! request-line repair for deployed clients (`request_line`, on the decrypted stream),
//! hyper's HTTP/1 serving the router, the per-connection limits, and graceful shutdown
//! (stop accepting, let in-flight requests finish, close idle keep-alive connections).
//!
//! # Limits (what an unauthenticated peer can hold)
//!
//! * **TLS handshake**: with TLS, the handshake and then the request line must both be
//!   done within `header_timeout` of the accept (a peer that opens a connection and sends
//!   nothing, or half a handshake, is dropped then).
//! * **Headers**: the request line and headers must arrive within `header_timeout`.
//! * **Body**: the handler reads a body within `request_timeout` (see `http`).
//! * **Idle keep-alive**: a connection with no request in flight for `idle_timeout` is
//!   closed.
//! * **Connections**: at most `max_connections` are served. Beyond that, up to
//!   [`OVERFLOW_CONNECTIONS`] more are accepted into an overflow lane that answers
//!   `GET /healthz` (so health checks see a busy server as alive) and `503 Service
//!   Unavailable` with `Retry-After` to everything else, one request each; past that, new
//!   connections are closed at once.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::request_line;

/// Connections accepted beyond `max_connections` to answer health checks and 503s.
pub const OVERFLOW_CONNECTIONS: usize = 64;
/// How long an overflow connection may take to send its request line and headers.
const OVERFLOW_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// Per-connection limits (`[server]` in the configuration).
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Time a client has to send a request's line and headers.
    pub header_timeout: Duration,
    /// A keep-alive connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long in-flight requests may run on after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Threads serving connections, each with its own single-threaded runtime; 0 = one
    /// per core.
    pub threads: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(30),
            threads: 0,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then drains: no new
/// connections, in-flight requests answered (up to `shutdown_grace`), idle ones closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(listener, router, limits, None, shutdown).await
}

/// [`serve`], over TLS when `tls` is given (every connection; a client that does not
/// speak TLS is dropped after the failed handshake).
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    let lanes = ConnectionThreads::start(limits.threads)?;
    let mut accepted_count = 0usize;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let lane = if let Ok(permit) = slots.clone().try_acquire_owned() {
                        Lane::Regular(permit)
                    } else if let Ok(permit) = overflow.clone().try_acquire_owned() {
                        Lane::Overflow(permit)
                    } else {
                        tracing::warn!(%peer, "connection refused: connection limit reached");
                        continue;
                    };
                    accepted_count = accepted_count.wrapping_add(1);
                    // Re-registered with the serving thread's own reactor: readiness of
                    // the socket then wakes that thread directly, not the main runtime.
                    let Ok(stream) = stream.into_std() else { continue };
                    let (router, limits, tls, stop) = (router.clone(), limits.clone(), tls.clone(), stop_rx.clone());
                    connections.spawn_on(
                        async move {
                            if let Ok(stream) = TcpStream::from_std(stream) {
                                connection(stream, peer, router, limits, tls, lane, stop).await;
                            }
                        },
                        lanes.pick(accepted_count),
                    );
                }
                // Per-connection failures (reset before accept, out of descriptors): keep
                // serving; a short pause keeps a descriptor shortage from spinning.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Reap finished connection tasks as we go.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "shutdown grace period over: closing the remaining connections"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// The threads connections are served on, round robin, each running a single-threaded
/// runtime: a connection's requests (hyper, the handler, the store reads made in place)
/// stay on one thread, without the work-stealing runtime's cross-thread wake-ups
/// (measured on Locate: +25 % requests/s on 2 cores, docs/PERFORMANCE.md). The accept
/// loop and the background jobs stay on the main runtime; CA signatures still go to a
/// blocking pool. Dropping it stops the threads once their connections are gone.
struct ConnectionThreads {
    handles: Vec<tokio::runtime::Handle>,
    /// Dropped: each thread's runtime returns from `block_on` and shuts down.
    _stop: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl ConnectionThreads {
    /// `n` threads (0: one per core).
    fn start(n: usize) -> std::io::Result<ConnectionThreads> {
        let n = match n {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let mut handles = Vec::with_capacity(n);
        let mut stop = Vec::with_capacity(n);
        for i in 0..n {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name(format!("xkmsd-conn-{i}"))
                .build()?;
            handles.push(runtime.handle().clone());
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            stop.push(stop_tx);
            std::thread::Builder::new()
                .name(format!("xkmsd-conn-{i}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        let _ = stop_rx.await;
                    });
                })?;
        }
        Ok(ConnectionThreads {
            handles,
            _stop: stop,
        })
    }

    /// The runtime of the `n`th connection.
    fn pick(&self, n: usize) -> &tokio::runtime::Handle {
        &self.handles[n % self.handles.len()]
    }
}

/// Which capacity a connection holds; dropped with the connection.
enum Lane {
    Regular(#[allow(dead_code)] OwnedSemaphorePermit),
    Overflow(#[allow(dead_code)] OwnedSemaphorePermit),
}

/// Requests in flight on one connection and when the last one ended.
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds since `started` when the last request ended.
    last_done_ms: AtomicU64,
}

impl Activity {
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let last = Duration::from_millis(self.last_done_ms.load(Ordering::Acquire));
        Some(self.started.elapsed().saturating_sub(last))
    }

    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    fn end(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_done_ms.store(now, Ordering::Release);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    lane: Lane,
    stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let overflow = matches!(lane, Lane::Overflow(_));
    let header_timeout = if overflow {
        limits.header_timeout.min(OVERFLOW_HEADER_TIMEOUT)
    } else {
        limits.header_timeout
    };
    let Some(tls) = tls else {
        let timeouts = (header_timeout, header_timeout);
        return http(stream, peer, router, &limits, timeouts, overflow, stop).await;
    };
    // The handshake and the request line share the header timeout.
    let accepted = Instant::now();
    let stream = match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let left = header_timeout.saturating_sub(accepted.elapsed());
    let timeouts = (left, header_timeout);
    http(stream, peer, router, &limits, timeouts, overflow, stop).await;
    // `lane` (the connection's capacity) is released here, after the connection.
    drop(lane);
}

/// HTTP/1 on an accepted (and, with TLS, decrypted) stream: the request-line repair
/// within `timeouts.0`, then hyper (headers of each request within `timeouts.1`) with
/// the idle and shutdown handling.
async fn http<S>(
    stream: S,
    peer: SocketAddr,
    router: Router,
    limits: &ConnectionLimits,
    timeouts: (Duration, Duration),
    overflow: bool,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (first_line_within, header_timeout) = timeouts;
    let prepared = match request_line::prepare(stream, first_line_within).await {
        Ok(prepared) => prepared,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "connection closed before a request line");
            return;
        }
    };
    if prepared.repaired {
        tracing::debug!(%peer, "request line repaired (no space before HTTP/)");
    }
    let activity = Arc::new(Activity {
        started: Instant::now(),
        in_flight: AtomicUsize::new(0),
        last_done_ms: AtomicU64::new(0),
    });
    let tracked = activity.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        let activity = tracked.clone();
        async move {
            if overflow && request.uri().path() != "/healthz" {
                return Ok::<_, std::convert::Infallible>(busy());
            }
            activity.begin();
            let response = router.oneshot(request).await;
            activity.end();
            response
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(!prepared.repaired && !overflow);
    let conn = http.serve_connection(TokioIo::new(prepared), service);
    tokio::pin!(conn);
    let tick = limits.idle_timeout.min(Duration::from_secs(1));
    let mut closing = false;
    let result = loop {
        tokio::select! {
            result = conn.as_mut() => break result,
            _ = stop.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(tick), if !closing => {
                if activity.idle_for().is_some_and(|idle| idle >= limits.idle_timeout) {
                    tracing::debug!(%peer, "closing an idle connection");
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// The overflow lane's answer to everything but `/healthz`.
fn busy() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [(axum::http::header::RETRY_AFTER, "1")],
        "xkmsd is at its connection limit; retry shortly\n",
    )
        .into_response()
}
