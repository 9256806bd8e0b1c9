//! The access log as an operator sees it: the server's log lines, formatted by a `tracing`
//! subscriber like the CLI's (level `info` unless said otherwise), captured in a buffer.
//!
//! At the default level a successful request (or a 4xx) writes nothing; a 5xx writes an error
//! line with its cause; a slow request a warn line; `HttpConfig::access_log` or a
//! `missionops_http::access=debug` filter writes a line for every request.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use missionops_core::MissionOps;
use missionops_http::{AppState, HttpConfig, router};
use missionops_store::{MemoryStore, SqliteStore, SystemClock, UuidV7Ids};
use tower::ServiceExt;
use tracing_subscriber::EnvFilter;

/// The text a subscriber wrote; clones share it.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut text) = self.0.lock() {
            text.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn lines(&self) -> Vec<String> {
        let text = self.0.lock().map(|t| t.clone()).unwrap_or_default();
        String::from_utf8_lossy(&text)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The access-log lines written so far.
    fn access_lines(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|line| line.contains("missionops_http::access"))
            .collect()
    }
}

/// Logs like `missionops serve` (plain text, filtered by `filter`) into a buffer, for as long
/// as the guard lives on this thread.
fn capture(filter: &str) -> (Buffer, tracing::subscriber::DefaultGuard) {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (buffer, tracing::subscriber::set_default(subscriber))
}

fn app(config: HttpConfig) -> axum::Router {
    let ops = MissionOps::new(
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
    );
    router(AppState::new(ops, config))
}

async fn send(app: &axum::Router, method: Method, uri: &str, body: &str) -> StatusCode {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request");
    app.clone()
        .oneshot(request)
        .await
        .expect("response")
        .status()
}

const SNAPSHOT: &str =
    r#"{"spacecraftId":"SC-LOG","timestamp":"2025-01-01T00:00:00Z","parameters":{"t":1}}"#;

#[tokio::test(flavor = "current_thread")]
async fn successful_and_rejected_requests_write_nothing_at_the_default_level() {
    let (log, _guard) = capture("info");
    let app = app(HttpConfig::default());
    assert_eq!(
        send(&app, Method::POST, "/telemetry", SNAPSHOT).await,
        StatusCode::CREATED
    );
    assert_eq!(
        send(&app, Method::GET, "/healthz", "").await,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, Method::GET, "/telemetry?limit=x", "").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&app, Method::GET, "/no/such/route", "").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        log.access_lines(),
        Vec::<String>::new(),
        "{:?}",
        log.lines()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_access_log_flag_writes_an_info_line_for_every_request() {
    let (log, _guard) = capture("info");
    let app = app(HttpConfig {
        access_log: true,
        ..HttpConfig::default()
    });
    assert_eq!(
        send(&app, Method::POST, "/telemetry", SNAPSHOT).await,
        StatusCode::CREATED
    );
    assert_eq!(
        send(&app, Method::GET, "/spacecraft/SC-LOG", "").await,
        StatusCode::OK
    );
    let lines = log.access_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains(" INFO "), "{lines:?}");
    assert!(
        lines[0].contains("method=POST") && lines[0].contains("path=/telemetry"),
        "{lines:?}"
    );
    assert!(lines[0].contains("status=201"), "{lines:?}");
    assert!(
        lines[1].contains("route=/spacecraft/{id}") && lines[1].contains("status=200"),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_debug_filter_on_the_access_target_turns_the_access_log_on_without_the_flag() {
    let (log, _guard) = capture("info,missionops_http::access=debug");
    let app = app(HttpConfig::default());
    assert_eq!(
        send(&app, Method::GET, "/healthz", "").await,
        StatusCode::OK
    );
    let lines = log.access_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("DEBUG") && lines[0].contains("path=/healthz"),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_request_slower_than_the_threshold_writes_a_warning() {
    let (log, _guard) = capture("info");
    // Every request takes at least a nanosecond.
    let app = app(HttpConfig {
        slow_request: Duration::from_nanos(1),
        ..HttpConfig::default()
    });
    assert_eq!(
        send(&app, Method::GET, "/healthz", "").await,
        StatusCode::OK
    );
    let lines = log.access_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(" WARN ") && lines[0].contains("slow request"),
        "{lines:?}"
    );
    assert!(lines[0].contains("path=/healthz"), "{lines:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_failing_request_writes_an_error_line_with_its_cause() {
    let (log, _guard) = capture("info");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open_path(dir.path().join("missionops.db"))
        .await
        .expect("open SQLite");
    let ops = MissionOps::new(
        Arc::new(store.clone()),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
    );
    let app = router(AppState::new(ops, HttpConfig::default()));
    // A closed store fails every call as unavailable: the request answers 503, its cause goes
    // to the log.
    store.close().await;
    assert_eq!(
        send(&app, Method::GET, "/spacecraft", "").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let lines = log.access_lines();
    assert_eq!(lines.len(), 1, "{:?}", log.lines());
    assert!(
        lines[0].contains("ERROR") && lines[0].contains("request failed"),
        "{lines:?}"
    );
    assert!(
        lines[0].contains("path=/spacecraft") && lines[0].contains("status=503"),
        "{lines:?}"
    );
    assert!(
        lines[0].contains("cause=storage backend unavailable"),
        "the cause is logged: {lines:?}"
    );
}
