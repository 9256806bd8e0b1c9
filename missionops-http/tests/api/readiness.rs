//! `/readyz` against a database that refuses writes: another process holds the SQLite file's
//! write lock. Liveness (`/healthz`) and reads go on; readiness fails until the lock is gone.

use std::sync::Arc;

use missionops_core::MissionOps;
use missionops_http::{AppState, HttpConfig, serve};
use missionops_store::{SqliteStore, SystemClock, UuidV7Ids};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::assert_error_shape;

#[tokio::test]
async fn readyz_fails_while_the_database_refuses_writes() {
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
    let client = reqwest::Client::new();
    let get = |path: &'static str| {
        let request = client.get(format!("{base}{path}"));
        async move {
            let response = request.send().await.expect("request");
            let status = response.status();
            (status, response.json::<Value>().await.expect("json"))
        }
    };
    assert_eq!(
        get("/readyz").await,
        (StatusCode::OK, json!({"status": "ready"}))
    );

    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("second connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("take the write lock");
    let (status, body) = get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error_shape(&body);
    assert_eq!(body["error"], "Unavailable");
    assert_eq!(get("/healthz").await.0, StatusCode::OK);
    assert_eq!(get("/spacecraft").await.0, StatusCode::OK, "reads answer");

    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("release the lock");
    assert_eq!(
        get("/readyz").await,
        (StatusCode::OK, json!({"status": "ready"}))
    );
    let _ = stop.send(());
    server.await.expect("server task").expect("server");
}
