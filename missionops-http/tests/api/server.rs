//! The server as a whole: graceful shutdown keeps acknowledged writes, and clients that give up
//! mid-write neither jam the store nor leave half a batch.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_keeps_acknowledged_writes() {
    let app = spawn_app().await;
    let mut pending = Vec::new();
    for i in 0..50 {
        let client = app.client.clone();
        let url = app.url("/telemetry");
        pending.push(tokio::spawn(async move {
            let body = json!({"id": format!("s{i}"), "spacecraftId": "SC-1",
                "timestamp": "2025-01-01T00:00:00Z", "parameters": {"i": i}});
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .map(|r| (i, r.status()))
        }));
    }
    // Shut down while the requests are in flight.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let store = app.store.clone();
    let _dir = app.shutdown().await;
    let mut acknowledged = Vec::new();
    for task in pending {
        if let Ok(Ok((i, StatusCode::CREATED))) = task.await {
            acknowledged.push(format!("s{i}"));
        }
    }
    let sc = missionops_core::SpacecraftId::parse("SC-1").expect("id");
    let limit = missionops_core::Limit::new(100, 100).expect("limit");
    let stored: Vec<String> = store
        .recent_telemetry(&sc, limit)
        .await
        .expect("read store")
        .into_iter()
        .map(|s| s.id.into_string())
        .collect();
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged {id} was lost");
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
        .telemetry_range(&sc, from, from, 10_000)
        .await
        .expect("range");
    assert_eq!(stored.len() % 100, 0, "{} snapshots stored", stored.len());
}
