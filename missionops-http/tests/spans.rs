//! Every handler runs in a `tracing` span named for it, and the span carries the id of the
//! spacecraft the request is about, wherever the request names one.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use missionops_core::MissionOps;
use missionops_http::{AppState, HttpConfig, router};
use missionops_store::{MemoryStore, SystemClock, UuidV7Ids};
use tower::ServiceExt;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span as opened: its name and its fields as text.
type Opened = (String, Vec<(String, String)>);

/// A subscriber that remembers every span opened while it is the default.
#[derive(Default)]
struct Recorder {
    spans: Arc<Mutex<Vec<Opened>>>,
    next: AtomicU64,
}

#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        if let Ok(mut spans) = self.spans.lock() {
            spans.push((attributes.metadata().name().to_owned(), fields.0));
        }
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
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

/// The `spacecraft_id` of the first span named `name`, if it has one.
fn spacecraft_of(spans: &[Opened], name: &str) -> Option<String> {
    let (_, fields) = spans.iter().find(|(n, _)| n == name)?;
    fields
        .iter()
        .find(|(field, _)| field == "spacecraft_id")
        .map(|(_, value)| value.clone())
}

#[tokio::test(flavor = "current_thread")]
async fn handlers_run_in_spans_that_carry_the_spacecraft_id() {
    let recorder = Recorder::default();
    let spans = Arc::clone(&recorder.spans);
    let _default = tracing::subscriber::set_default(recorder);
    let ops = MissionOps::new(
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
    );
    let app = router(AppState::new(ops, HttpConfig::default()));

    let registered = send(
        &app,
        Method::POST,
        "/spacecraft",
        r#"{"id":"SC-7","name":"Seven"}"#,
    )
    .await;
    assert_eq!(registered, StatusCode::CREATED);
    let snapshot =
        r#"{"spacecraftId":"SC-7","timestamp":"2025-01-01T00:00:00Z","parameters":{"t":1}}"#;
    assert_eq!(
        send(&app, Method::POST, "/telemetry", snapshot).await,
        StatusCode::CREATED
    );
    for uri in [
        "/telemetry?spacecraftId=SC-7",
        "/telemetry/latest?spacecraftId=SC-7",
        "/spacecraft/SC-7/status",
        "/alarms?spacecraftId=SC-7",
        "/events?spacecraftId=SC-7",
        "/healthz",
    ] {
        assert_eq!(
            send(&app, Method::GET, uri, "").await,
            StatusCode::OK,
            "{uri}"
        );
    }

    let spans = spans.lock().expect("spans").clone();
    for handler in [
        "register", "ingest", "recent", "latest", "status", "alarms", "list",
    ] {
        assert_eq!(
            spacecraft_of(&spans, handler).as_deref(),
            Some("SC-7"),
            "the span of {handler} carries the spacecraft id: {spans:?}"
        );
    }
    assert!(
        spans.iter().any(|(name, _)| name == "healthz"),
        "every handler has a span, not only those about a spacecraft"
    );
}
