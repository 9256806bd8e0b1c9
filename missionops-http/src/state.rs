//! The shared state of the service: the application, its metrics and configuration.

use std::sync::Arc;
use std::time::Duration;

use missionops_core::MissionOps;
use tokio::sync::watch;

use crate::auth::Authenticator;
use crate::body_budget::BodyBudget;
use crate::metrics::Metrics;
use crate::session::Sessions;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The largest request body accepted; larger ones answer 413. Default 16 MiB.
    pub body_limit: usize,
    /// How long a request may take before it is abandoned with 503. Default 30 s. Streams
    /// (`/events/stream`) are not cut: the limit applies until the response starts.
    pub request_timeout: Duration,
    /// Origins allowed by CORS; empty disables CORS, `*` allows any origin. Default empty.
    pub cors_origins: Vec<String>,
    /// How often an event stream looks for new events. Default 250 ms.
    pub stream_poll_interval: Duration,
    /// How often the server runs the monitor's clock tick (staleness, contact loss, shelvings
    /// that run out); `None` never. Default 5 s.
    pub monitor_tick: Option<Duration>,
    /// Whether every request gets an info line (method, path, route, status, milliseconds).
    /// Off by default: successes and 4xx are then logged at debug, under the target
    /// `missionops_http::access`, and only 5xx and slow requests reach the default level.
    pub access_log: bool,
    /// A request whose response takes at least this long to start is logged at warn, whatever
    /// its status. Default 1 s.
    pub slow_request: Duration,
    /// How long a client may take to send a request's headers, counted from the connection's
    /// start or from the first byte after an idle pause; a slower one is disconnected (a
    /// slowloris client holds a connection by sending headers a byte at a time). Default 10 s.
    pub header_read_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request before it is closed
    /// (idle connections each hold a file descriptor and buffers). Default 75 s: longer than
    /// the 60 s idle timeout of common load balancers, so that they close first.
    pub idle_timeout: Duration,
    /// How many connections may be open at once; one more is answered 503 with
    /// `Retry-After` (or, when many more arrive at once, closed). Default 512: under the
    /// usual limit of 1,024 file descriptors with room for the store's, at about 60 KB each.
    pub max_connections: usize,
    /// Failed authentications one client address may make within a minute; the next request
    /// from it answers 429 for a minute (SPEC §9). Default 20.
    pub max_auth_failures: u32,
    /// How many bytes of request bodies all requests together may hold at once; a request
    /// whose body does not fit is answered 503 with `Retry-After` before its body is read, so
    /// nothing of it is stored. A request holds several times its body while it is parsed and
    /// written (about 6.6 times for a telemetry batch), so this bounds the memory that parallel
    /// large uploads take. Counted by `Content-Length`, or chunk by chunk for a chunked body;
    /// a value below [`HttpConfig::body_limit`] counts as that limit, so that one body of the
    /// largest accepted size always fits. Default 64 MiB: four bodies of the default 16 MiB
    /// limit at once.
    pub max_body_bytes_in_flight: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            cors_origins: Vec::new(),
            stream_poll_interval: Duration::from_millis(250),
            monitor_tick: Some(Duration::from_secs(5)),
            access_log: false,
            slow_request: Duration::from_secs(1),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_connections: 512,
            max_auth_failures: crate::auth::MAX_FAILURES,
            max_body_bytes_in_flight: 64 * 1024 * 1024,
        }
    }
}

/// The state every handler gets: one shared [`SharedState`], so that a clone (every middleware
/// layer and handler takes one per request) is one reference-count increment.
#[derive(Clone, Debug)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// What the handles of one server share (reached through [`AppState`]).
#[derive(Clone)]
pub struct SharedState {
    /// The application services.
    pub ops: MissionOps,
    /// Prometheus metrics of this process.
    pub metrics: Arc<Metrics>,
    /// The HTTP settings.
    pub config: Arc<HttpConfig>,
    /// Whether `GET /outbox/stats` and the outbox gauges of `/metrics` report the delivery
    /// outbox of the store behind `ops` ([`AppState::with_outbox`]). Off by default: a server
    /// embedded without event delivery answers 404 there and shows no outbox metric, rather
    /// than counts that only ever grow.
    pub report_outbox: bool,
    /// Checks API keys and caches what the store says about them (see `auth`).
    pub auth: Arc<Authenticator>,
    /// The console's browser sessions (see `session`).
    pub sessions: Arc<Sessions>,
    /// The request-body bytes still free under [`HttpConfig::max_body_bytes_in_flight`].
    pub(crate) body_budget: BodyBudget,
    /// Flips to `true` when the server starts shutting down, so that endless responses (event
    /// streams) end and graceful shutdown can complete.
    shutdown: Arc<watch::Sender<bool>>,
}

impl std::fmt::Debug for SharedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over `ops` with `config`.
    pub fn new(ops: MissionOps, config: HttpConfig) -> Self {
        AppState(Arc::new(SharedState {
            auth: Arc::new(Authenticator::new(ops.clone(), config.max_auth_failures)),
            sessions: Arc::new(Sessions::new()),
            ops,
            metrics: Arc::new(Metrics::new()),
            body_budget: BodyBudget::new(config.max_body_bytes_in_flight.max(config.body_limit)),
            config: Arc::new(config),
            report_outbox: false,
            shutdown: Arc::new(watch::channel(false).0),
        }))
    }

    /// The same state reporting the delivery outbox of the store behind `ops`
    /// ([`MissionOps::outbox_stats`]) at `GET /outbox/stats` and in `/metrics`.
    #[must_use]
    pub fn with_outbox(mut self) -> Self {
        Arc::make_mut(&mut self.0).report_outbox = true;
        self
    }

    /// Brings the outbox gauges of [`Metrics`] up to date, when the outbox is reported. A
    /// store failure is logged and leaves the previous values.
    pub(crate) async fn refresh_outbox_metrics(&self) {
        if !self.report_outbox {
            return;
        }
        match self.ops.outbox_stats().await {
            Ok(stats) => self.metrics.outbox(&stats),
            Err(e) => tracing::warn!(error = %e, "cannot read the outbox statistics for /metrics"),
        }
    }

    /// A receiver that sees `true` once shutdown begins.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Tells endless responses to end.
    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}
