//! A database that refuses writes: another process holds the SQLite file's write lock.
//! Liveness (`/healthz`) and reads go on; readiness fails until the lock is gone, and a write
//! that cannot get the lock in time is a 503 to retry, which loses nothing stored.

use std::path::PathBuf;
use std::sync::Arc;

use missionops_core::MissionOps;
use missionops_http::{AppState, HttpConfig, serve};
use missionops_store::{SqliteStore, SystemClock, UuidV7Ids};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::assert_error_shape;

/// A server on a SQLite file of its own, and a second connection to that file.
struct FileApp {
    _dir: tempfile::TempDir,
    file: PathBuf,
    base: String,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl FileApp {
    async fn spawn() -> FileApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("missionops.db");
        let store = SqliteStore::open_path(&file).await.expect("open");
        let ops = MissionOps::new(Arc::new(store), Arc::new(SystemClock), Arc::new(UuidV7Ids));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            AppState::new(ops, HttpConfig::default()),
            async move {
                let _ = stopped.await;
            },
        ));
        FileApp {
            _dir: dir,
            file,
            base,
            client: reqwest::Client::new(),
            stop: Some(stop),
            server,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.expect("json"))
    }

    /// Takes the file's write lock on a connection of another "process", until `ROLLBACK`.
    async fn lock(&self) -> sqlx::SqliteConnection {
        let mut other =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", self.file.display()))
                .await
                .expect("second connection");
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .expect("take the write lock");
        other
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.server)
            .await
            .expect("server task")
            .expect("server");
    }
}

async fn release(mut lock: sqlx::SqliteConnection) {
    sqlx::query("ROLLBACK")
        .execute(&mut lock)
        .await
        .expect("release the lock");
}

#[tokio::test]
async fn readyz_fails_while_the_database_refuses_writes() {
    let app = FileApp::spawn().await;
    assert_eq!(
        app.get("/readyz").await,
        (StatusCode::OK, json!({"status": "ready"}))
    );

    let lock = app.lock().await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error_shape(&body);
    assert_eq!(body["error"], "Unavailable");
    assert_eq!(app.get("/healthz").await.0, StatusCode::OK);
    assert_eq!(
        app.get("/spacecraft").await.0,
        StatusCode::OK,
        "reads answer"
    );

    release(lock).await;
    assert_eq!(
        app.get("/readyz").await,
        (StatusCode::OK, json!({"status": "ready"}))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_write_that_cannot_get_the_lock_in_time_is_a_503_to_retry_and_loses_nothing() {
    let app = FileApp::spawn().await;
    let post = |id: &'static str| {
        app.client
            .post(format!("{}/telemetry", app.base))
            .json(&json!({"id": id, "spacecraftId": "SC-LOCK",
                "timestamp": if id == "s1" { "2025-01-01T00:00:00Z" } else { "2025-01-01T00:00:01Z" },
                "parameters": {"temp": 20}}))
            .send()
    };
    assert_eq!(
        post("s1").await.expect("first").status(),
        StatusCode::CREATED
    );

    // Held past the store's busy timeout (5 s).
    let lock = app.lock().await;
    let refused = post("s2").await.expect("second");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        refused
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: Value = refused.json().await.expect("json");
    assert_error_shape(&body);
    assert_eq!(body["error"], "Unavailable", "{body}");
    assert!(
        !body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("lock"),
        "no backend text reaches the client: {body}"
    );

    // Once the lock is gone the same request goes through, and what was stored is all there.
    release(lock).await;
    assert_eq!(
        post("s2").await.expect("again").status(),
        StatusCode::CREATED
    );
    let (status, stored) = app.get("/telemetry?spacecraftId=SC-LOCK").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = stored
        .as_array()
        .expect("snapshots")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["s2", "s1"], "newest first, each once");
    app.stop().await;
}
