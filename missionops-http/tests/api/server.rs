//! The server as a whole: graceful shutdown keeps acknowledged writes, and clients that give up
//! mid-write neither jam the store nor leave half a batch.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_gated_app};

/// Requests the server is working on when shutdown begins: made a fact by holding their writes
/// in the store, not guessed by a sleep. Each is on a spacecraft of its own, so each is its own
/// write.
const IN_FLIGHT: usize = 12;

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_keeps_acknowledged_writes() {
    let (mut app, gated) = spawn_gated_app().await;
    gated.writes.hold_after(0);
    let mut pending = Vec::new();
    for i in 0..IN_FLIGHT {
        let client = app.client.clone();
        // Played-back batches: each is its own store call, where live writes of several
        // spacecraft would be grouped into one call behind the first (group commit), and
        // only the first would then be held at the gate.
        let url = app.url("/telemetry/batch");
        pending.push(tokio::spawn(async move {
            let body = json!({"spacecraftId": format!("SC-{i}"), "stored": true,
                "snapshots": [{"id": format!("s{i}"), "timestamp": "2025-01-01T00:00:00Z",
                    "parameters": {"i": i}}]});
            let response = client.post(url).json(&body).send().await?;
            let status = response.status();
            response.json::<Value>().await.map(|body| (status, body))
        }));
    }
    // Every request has reached its write: all of them are in flight.
    gated.writes.until_waiting(IN_FLIGHT).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    app.begin_shutdown();

    // The server stops accepting connections...
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(&address).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server still accepts connections after shutdown began"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...but does not stop while the requests it accepted are unanswered.
    assert!(
        !app.has_stopped(),
        "the server stopped with {IN_FLIGHT} requests in flight"
    );
    assert_eq!(gated.writes.passed(), 0, "no write went through yet");

    gated.writes.open();
    for (i, task) in pending.into_iter().enumerate() {
        let (status, body) = tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("an in-flight request is answered")
            .expect("join")
            .unwrap_or_else(|e| panic!("in-flight request {i} was dropped: {e}"));
        assert_eq!(status, StatusCode::CREATED, "request {i}: {body}");
        assert_eq!(body["count"], 1, "request {i}: {body}");
    }
    let store = app.store.clone();
    let _dir = tokio::time::timeout(Duration::from_secs(20), app.shutdown())
        .await
        .expect("the server stops once its requests are answered");
    for i in 0..IN_FLIGHT {
        let sc = missionops_core::SpacecraftId::parse(format!("SC-{i}")).expect("id");
        let limit = missionops_core::Limit::new(10, 10).expect("limit");
        let stored: Vec<String> = store
            .recent_telemetry(&missionops_core::TenantId::default(), &sc, limit)
            .await
            .expect("read store")
            .into_iter()
            .map(|s| s.id.into_string())
            .collect();
        assert_eq!(
            stored,
            [format!("s{i}")],
            "acknowledged s{i} must be stored"
        );
    }
}

#[tokio::test]
async fn clients_that_give_up_mid_write_neither_jam_the_store_nor_leave_half_a_batch() {
    let app = spawn_app().await;
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(3))
        .build()
        .expect("client");
    for b in 0..30 {
        let snapshots: Vec<Value> = (0..100)
            .map(|i| json!({"id": format!("b{b}-{i}"), "timestamp": "2025-01-01T00:00:00Z", "parameters": {"i": i}}))
            .collect();
        // Most of these are abandoned by the client while the server is writing.
        let _ = impatient
            .post(app.url("/telemetry/batch"))
            .json(&json!({"spacecraftId": "SC-1", "snapshots": snapshots}))
            .send()
            .await;
    }
    // A jammed writer would hold this write until SQLite's busy timeout; a patient client
    // with a deadline well inside that must get its answer.
    let patient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client");
    let answer = patient
        .post(app.url("/telemetry"))
        .json(&json!({"spacecraftId": "SC-1", "timestamp": "2025-01-01T00:00:01Z", "parameters": {"i": -1}}))
        .send()
        .await
        .expect("a write after abandoned ones is answered");
    assert_eq!(answer.status(), StatusCode::CREATED);
    // Every abandoned batch was stored whole or not at all.
    let sc = missionops_core::SpacecraftId::parse("SC-1").expect("id");
    let from = missionops_core::Timestamp::parse("2025-01-01T00:00:00Z").expect("ts");
    let stored = app
        .store
        .telemetry_range(
            &missionops_core::TenantId::default(),
            &sc,
            from,
            from,
            10_000,
        )
        .await
        .expect("range");
    assert_eq!(stored.len() % 100, 0, "{} snapshots stored", stored.len());
}
