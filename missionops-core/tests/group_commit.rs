//! Concurrent live writes of one spacecraft are committed in groups: each still gets its own
//! outcome, a failing write fails alone, and the monitor ends as if the writes came one by one.

use std::sync::Arc;

use missionops_core::{
    ConfigSource, ConfigStatus, Error, Limit, ManualClock, MissionOps, NewSnapshot, SequentialIds,
    SpacecraftConfig, SpacecraftId, Timestamp,
};
use missionops_store::MemoryStore;
use serde_json::json;

fn t0() -> Timestamp {
    Timestamp::parse("2025-06-01T00:00:00Z").expect("ts")
}

fn sc1() -> SpacecraftId {
    SpacecraftId::parse("SC-1").expect("id")
}

fn sample(id: &str, second: i64, temp: f64) -> NewSnapshot {
    serde_json::from_value(json!({
        "id": id,
        "spacecraftId": "SC-1",
        "timestamp": t0().add_millis(second * 1000).to_string(),
        "parameters": {"temp": temp},
    }))
    .expect("snapshot")
}

async fn app() -> MissionOps {
    let app = MissionOps::new(
        Arc::new(MemoryStore::new()),
        Arc::new(ManualClock::new(t0())),
        Arc::new(SequentialIds::new()),
    );
    let config =
        SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": 45}}})).expect("config");
    app.set_config(
        &sc1(),
        config,
        ConfigStatus::Approved,
        Some(ConfigSource::Manual),
    )
    .await
    .expect("config");
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_single_writes_each_get_their_own_outcome() {
    let app = app().await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let app = app.clone();
        // Every fourth sample is over the limit.
        let temp = if i % 4 == 0 { 50.0 } else { 20.0 };
        tasks.push(tokio::spawn(async move {
            app.ingest(sample(&format!("s-{i}"), i, temp)).await
        }));
    }
    // A retry of one of them (a duplicate) and a clash with another (a conflict) race with
    // the rest: the duplicate is accepted, and exactly one of the two clashing writes fails.
    let retry = {
        let app = app.clone();
        tokio::spawn(async move { app.ingest(sample("s-7", 7, 20.0)).await })
    };
    let clash = {
        let app = app.clone();
        tokio::spawn(async move { app.ingest(sample("s-9", 9, 99.0)).await })
    };
    let mut failed = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.expect("task") {
            Ok(receipt) => assert_eq!(receipt.id.as_str(), format!("s-{i}")),
            Err(e) => failed.push((i, e)),
        }
    }
    let retry = retry.await.expect("task").expect("a retry is accepted");
    assert_eq!(retry.id.as_str(), "s-7");
    let clash = clash.await.expect("task");
    match (&clash, failed.as_slice()) {
        // The clash came second: it fails alone.
        (Err(Error::Conflict { id, .. }), []) => assert_eq!(id, "s-9"),
        // The clash came first: the original s-9 fails alone.
        (Ok(_), [(9, Error::Conflict { .. })]) => {}
        other => panic!("exactly one of the clashing writes must fail: {other:?}"),
    }
    let stored = app
        .recent_telemetry(&sc1(), Limit::new(100, 100).expect("limit"))
        .await
        .expect("recent");
    assert_eq!(stored.len(), 64);
    // The monitor saw every stored sample once: one anomaly per violating sample (16, or 17
    // when the clash won; samples out of time order are still checked).
    let anomalies = app
        .list_anomalies(&sc1(), Limit::new(200, 200).expect("limit"))
        .await
        .expect("anomalies");
    let expected = if clash.is_ok() { 17 } else { 16 };
    assert_eq!(anomalies.len(), expected, "{anomalies:?}");
}
