//! `GET /outbox/stats` and the outbox gauges of `/metrics`, against the real server on port 0
//! over a fresh SQLite file, with the outbox reported and without.

use std::sync::Arc;

use missionops_core::{MissionOps, OutboxStore, RetryPolicy};
use missionops_http::{AppState, HttpConfig, serve};
use missionops_store::{SqliteStore, SystemClock, UuidV7Ids};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct App {
    address: String,
    client: reqwest::Client,
    store: Arc<SqliteStore>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn spawn(with_outbox: bool) -> App {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Arc::new(
        SqliteStore::open_path(dir.path().join("missionops.db"))
            .await
            .expect("open"),
    );
    let ops = MissionOps::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Ids));
    let mut state = AppState::new(ops, HttpConfig::default());
    if with_outbox {
        state = state.with_outbox();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state, async move {
        let _ = stopped.await;
    }));
    App {
        address,
        client: reqwest::Client::new(),
        store,
        _stop: stop,
        _dir: dir,
    }
}

impl App {
    async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request");
        (response.status(), response.text().await.expect("body"))
    }

    async fn stats(&self) -> Value {
        let (status, body) = self.get("/outbox/stats").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str(&body).expect("json")
    }
}

#[tokio::test]
async fn outbox_stats_count_events_by_delivery_state_over_http_and_in_metrics() {
    let app = spawn(true).await;
    assert_eq!(
        app.stats().await,
        json!({"pending": 0, "delivered": 0, "dead": 0})
    );
    // Three registrations record three events, each with its outbox row.
    for id in ["SC-1", "SC-2", "SC-3"] {
        let response = app
            .client
            .post(format!("{}/spacecraft", app.address))
            .json(&json!({"id": id, "name": id}))
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    assert_eq!(
        app.stats().await,
        json!({"pending": 3, "delivered": 0, "dead": 0})
    );
    // A worker delivers one and gives up on another.
    let now = missionops_core::Timestamp::parse("2025-06-01T00:00:00Z").expect("time");
    let claim = app
        .store
        .claim(now, 10, std::time::Duration::from_secs(60))
        .await
        .expect("claim");
    app.store.mark_delivered(&[1]).await.expect("delivered");
    let once = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    app.store
        .mark_failed(now, &claim.id, 2, "HTTP 500", &once)
        .await
        .expect("dead");
    assert_eq!(
        app.stats().await,
        json!({"pending": 1, "delivered": 1, "dead": 1})
    );
    let (status, metrics) = app.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "missionops_outbox_events{state=\"pending\"} 1",
        "missionops_outbox_events{state=\"delivered\"} 1",
        "missionops_outbox_events{state=\"dead\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
}

#[tokio::test]
async fn without_an_outbox_the_stats_answer_404_in_the_error_shape_and_metrics_omit_it() {
    let app = spawn(false).await;
    let (status, body) = app.get("/outbox/stats").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["error"], "NotFound");
    assert!(body["message"].is_string());
    let (_, metrics) = app.get("/metrics").await;
    assert!(!metrics.contains("missionops_outbox_events"), "{metrics}");
}
