//! The accept loop and what it bounds: how many connections are open at once, how long a
//! client may take to send a request's headers, and how long a keep-alive connection may sit
//! idle between requests. Without these a client that sends its headers one byte a second
//! (slowloris), or opens thousands of keep-alive connections and says nothing, holds a file
//! descriptor and tens of kilobytes per connection for as long as it likes.
//!
//! Each connection is served by hyper's HTTP/1 connection on a task of its own, beside a
//! watchdog that knows which phase the connection is in:
//! - *awaiting a head*, from the moment it was accepted or from the first byte of a request
//!   that follows an idle pause, until hyper has parsed the request's headers: at most
//!   [`ConnectionLimits::header_read_timeout`];
//! - *busy*, from the headers until the response body has been sent (the request timeout
//!   bounds the handler; event streams run as long as they run);
//! - *idle*, between a response and the first byte of the next request: at most
//!   [`ConnectionLimits::idle_timeout`].
//!
//! A connection over its time is closed; no request is cut off, because none is in flight then.
//! hyper's own `header_read_timeout` is not used: its clock starts when hyper begins waiting for
//! a request, so it would close idle keep-alive connections after the header timeout too, and
//! the two limits could not differ.
//!
//! Under TLS (`Transport::Tls`) the handshake runs on the connection's task, inside its
//! place under the cap, and counts as part of awaiting the first head: a client must finish
//! the handshake and send its first request's headers within the header-read timeout from
//! the moment it was accepted. Connections over the cap are still answered `503`, after a
//! handshake bounded by the same timeout.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::error::ApiError;

/// How many connections past the cap are answered `503` at once; beyond that a connection
/// over the cap is closed as soon as it is accepted. Answering costs a task and a buffer for
/// up to the header timeout, so the answers themselves must be bounded too.
const REFUSALS_AT_ONCE: usize = 64;

/// What a refused client is told to wait before trying again, in seconds.
const RETRY_AFTER_SECS: &str = "1";

/// The bounds the accept loop enforces; see the module docs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// How long a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// How many connections may be open at once.
    pub max_connections: usize,
}

/// How an accepted socket becomes the byte stream HTTP runs over.
#[derive(Clone)]
pub(crate) enum Transport {
    /// HTTP straight on the socket.
    Plain,
    /// HTTP inside TLS, after a handshake.
    #[cfg(feature = "tls")]
    Tls(tokio_rustls::TlsAcceptor),
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves; then stops
/// accepting, lets every connection finish the request it is serving (idle ones close at
/// once), and returns when all have closed.
pub(crate) async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    transport: Transport,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    // `true` once shutdown begins: each connection finishes its request and closes.
    let (stopping_tx, stopping_rx) = watch::channel(false);
    // Every connection task holds a receiver; all of them are gone once every task ended.
    let (done_tx, done_rx) = watch::channel(());
    // Whether the cap was reached, so that it is logged once per episode, not per refusal.
    let mut saturated = false;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => {
                if std::mem::take(&mut saturated) {
                    tracing::info!("accepting connections again");
                }
                let connection = Connection {
                    app: app.clone(),
                    peer,
                    limits,
                    stopping: stopping_rx.clone(),
                    accepted: Instant::now(),
                    _slot: slot,
                    _done: done_rx.clone(),
                };
                tokio::spawn(connection.start(stream, transport.clone()));
            }
            Err(_) => {
                if !std::mem::replace(&mut saturated, true) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached: refusing new connections with 503"
                    );
                }
                if let Ok(refusal) = Arc::clone(&refusals).try_acquire_owned() {
                    let timeout = limits.header_read_timeout;
                    tokio::spawn(refuse(
                        stream,
                        transport.clone(),
                        timeout,
                        refusal,
                        done_rx.clone(),
                    ));
                }
                // else: dropped here, which closes it at once.
            }
        }
    }
    drop(listener);
    stopping_tx.send_replace(true);
    drop(done_rx);
    done_tx.closed().await;
}

/// An accept error is about one connection (reset before it was accepted) or about the
/// process (out of file descriptors); in the second case accepting again at once would spin.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Answers a connection over the cap with one `503` (with `Retry-After`) and closes it; a
/// client that does not even send its request (under TLS: complete the handshake and send it)
/// within `timeout` is dropped.
async fn refuse(
    stream: TcpStream,
    transport: Transport,
    timeout: Duration,
    _refusal: OwnedSemaphorePermit,
    _done: watch::Receiver<()>,
) {
    let _ = tokio::time::timeout(timeout, async move {
        match transport {
            Transport::Plain => answer_503(stream).await,
            #[cfg(feature = "tls")]
            Transport::Tls(acceptor) => {
                if let Ok(stream) = acceptor.accept(stream).await {
                    answer_503(stream).await;
                }
            }
        }
    })
    .await;
}

/// Reads one request on `stream` and answers it `503` with `Connection: close`.
async fn answer_503<S>(stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(|_: Request<Incoming>| async {
        let mut response = ApiError::too_many_connections().into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        Ok::<_, std::convert::Infallible>(response)
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .header_read_timeout(None::<Duration>)
        .serve_connection(TokioIo::new(stream), service);
    let _ = connection.await;
}

/// One accepted connection and what it holds until it closes.
struct Connection {
    app: Router,
    /// The client's address, given to handlers as `ConnectInfo` (authentication limits
    /// failures per address).
    peer: std::net::SocketAddr,
    limits: ConnectionLimits,
    stopping: watch::Receiver<bool>,
    /// When it was accepted: the first head (and under TLS the handshake before it) must be
    /// in within the header-read timeout from then.
    accepted: Instant,
    /// Its place under the connection cap, given back when the connection closes.
    _slot: OwnedSemaphorePermit,
    /// Held until the connection closes, so that shutdown can wait for it.
    _done: watch::Receiver<()>,
}

impl Connection {
    /// Serves the connection over `transport`: at once when plain, after the handshake
    /// under TLS (a handshake that fails or overruns the header-read timeout closes it).
    async fn start(self, stream: TcpStream, transport: Transport) {
        match transport {
            Transport::Plain => self.run(stream, false).await,
            #[cfg(feature = "tls")]
            Transport::Tls(acceptor) => {
                let deadline = self.accepted + self.limits.header_read_timeout;
                let mut stopping = self.stopping.clone();
                let handshake = tokio::select! {
                    handshake = tokio::time::timeout_at(deadline, acceptor.accept(stream)) => handshake,
                    // No request is in flight yet: shutting down closes it at once, as it
                    // closes a plain connection awaiting its first head.
                    _ = stopping.wait_for(|s| *s) => return,
                };
                match handshake {
                    Ok(Ok(stream)) => self.run(stream, true).await,
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => {
                        tracing::debug!(
                            "closing a connection whose TLS handshake ran over its time"
                        );
                    }
                }
            }
        }
    }

    /// Serves requests on `stream`; `over_tls` marks each request with
    /// [`OverTls`](crate::session::OverTls) (the session cookie is then `Secure`).
    async fn run<S>(mut self, stream: S, over_tls: bool)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new(self.accepted));
        let app = self.app.clone();
        let service_activity = Arc::clone(&activity);
        let peer = self.peer;
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            // hyper calls the service once the request's headers are in.
            let guard = service_activity.begin_request();
            let app = app.clone();
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            if over_tls {
                request.extensions_mut().insert(crate::session::OverTls);
            }
            async move {
                let response = app.oneshot(request.map(Body::new)).await?;
                Ok::<Response, std::convert::Infallible>(response.map(|body| {
                    Body::new(TrackedBody {
                        inner: body,
                        _guard: guard,
                    })
                }))
            }
        });
        let io = TokioIo::new(WatchedIo {
            inner: stream,
            activity: Arc::clone(&activity),
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .header_read_timeout(None::<Duration>)
            .serve_connection(io, service);
        let mut connection = std::pin::pin!(connection);
        let mut stopping = false;
        loop {
            let deadline = activity.deadline(&self.limits);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = activity.changed.notified() => {}
                () = sleep_until(deadline) => {
                    if activity.deadline(&self.limits).is_some_and(|d| d <= Instant::now()) {
                        tracing::debug!(phase = activity.phase_name(), "closing a connection over its time");
                        return;
                    }
                }
                _ = self.stopping.wait_for(|s| *s), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The phase of a connection (see the module docs), shared by its reads, its service and its
/// watchdog.
struct Activity {
    state: Mutex<ActivityState>,
    /// Whether the phase is [`Phase::Idle`], readable without the lock: every read of the
    /// connection asks, and only the first one after an idle pause needs to change anything.
    idle: AtomicBool,
    /// Woken when the watchdog's deadline may have moved earlier.
    changed: Notify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitingHead,
    Busy,
    Idle,
}

struct ActivityState {
    phase: Phase,
    /// When the phase began.
    since: Instant,
    /// Requests whose response has not been sent yet (more than one only when pipelined).
    in_flight: usize,
}

impl Activity {
    /// A connection accepted at `accepted`, awaiting its first head since then.
    fn new(accepted: Instant) -> Self {
        Activity {
            state: Mutex::new(ActivityState {
                phase: Phase::AwaitingHead,
                since: accepted,
                in_flight: 0,
            }),
            idle: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        // Nothing panics while holding the lock; a poisoned one still holds a valid state.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// When the connection is over its time in the current phase; `None` while busy.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        let state = self.lock();
        match state.phase {
            Phase::AwaitingHead => Some(state.since + limits.header_read_timeout),
            Phase::Idle => Some(state.since + limits.idle_timeout),
            Phase::Busy => None,
        }
    }

    fn phase_name(&self) -> &'static str {
        match self.lock().phase {
            Phase::AwaitingHead => "awaiting headers",
            Phase::Busy => "busy",
            Phase::Idle => "idle",
        }
    }

    /// Bytes arrived: after an idle pause they start the next request's head.
    fn bytes_read(&self) {
        if !self.idle.load(Ordering::Relaxed) {
            return;
        }
        let mut state = self.lock();
        if state.phase == Phase::Idle {
            state.phase = Phase::AwaitingHead;
            state.since = Instant::now();
            self.idle.store(false, Ordering::Relaxed);
            drop(state);
            // The header timeout may end before the idle one would have.
            self.changed.notify_one();
        }
    }

    /// A request's headers are in; the returned guard ends the request when dropped (with
    /// the response body once it is sent, or with the handler when the client went away).
    fn begin_request(self: &Arc<Self>) -> RequestGuard {
        let mut state = self.lock();
        state.in_flight += 1;
        state.phase = Phase::Busy;
        state.since = Instant::now();
        self.idle.store(false, Ordering::Relaxed);
        RequestGuard(Arc::clone(self))
    }

    fn end_request(&self) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            state.phase = Phase::Idle;
            state.since = Instant::now();
            self.idle.store(true, Ordering::Relaxed);
            drop(state);
            self.changed.notify_one();
        }
    }
}

/// Marks the end of a request when dropped.
struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.end_request();
    }
}

/// A response body that ends its request when it is dropped, which hyper does once the body
/// has been sent (or the connection is gone).
struct TrackedBody {
    inner: Body,
    _guard: RequestGuard,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The connection's byte stream (the socket, or the TLS stream over it), telling
/// [`Activity`] when bytes arrive.
struct WatchedIo<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for WatchedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WatchedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
