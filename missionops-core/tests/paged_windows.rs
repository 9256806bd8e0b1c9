//! Time-window analysis and detect read in small pages give exactly what they give read in one
//! page: the same anomalies in the same order, the same detect totals, stored anomalies and
//! events.

use std::sync::Arc;

use missionops_core::{
    AnalysisWindow, ConfigStatus, EventType, Limit, ManualClock, MissionOps, NewSnapshot,
    SequentialIds, SpacecraftConfig, SpacecraftId, Timestamp,
};
use missionops_store::MemoryStore;
use serde_json::{Value, json};

const START: &str = "2025-06-01T12:00:00Z";

fn sc() -> SpacecraftId {
    SpacecraftId::parse("SC-1").expect("id")
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::parse(START)
        .expect("ts")
        .add_millis(seconds * 1000)
}

/// An app over a fresh store with the same telemetry and stateful rules, reading windows in
/// pages of `page` snapshots.
async fn app(page: usize) -> MissionOps {
    let app = MissionOps::new(
        Arc::new(MemoryStore::new()),
        Arc::new(ManualClock::new(at(0))),
        Arc::new(SequentialIds::new()),
    )
    .with_analysis_page(page);
    // Telemetry first, so that the live monitor has no rules and stores nothing.
    let mut snapshots: Vec<NewSnapshot> = Vec::new();
    let mut second = 0;
    for i in 0..60_i64 {
        // Gaps of 0 (equal times), 1 and 7 s (stale), values crossing limits and jumping.
        second += [0, 1, 1, 7, 1][usize::try_from(i % 5).expect("index")];
        let temp = [20, 50, 80, 44, 90, 10, 46][usize::try_from(i % 7).expect("index")];
        let mut parameters = json!({"temp": temp, "mode": "CRUISE"});
        if i % 3 != 0 {
            parameters["volt"] = json!(28 + (i % 4) * 3);
        }
        snapshots.push(
            serde_json::from_value(json!({
                "id": format!("s{i:03}"),
                "spacecraftId": "SC-1",
                "timestamp": at(second).to_string(),
                "parameters": parameters,
            }))
            .expect("snapshot"),
        );
    }
    app.ingest_batch(snapshots).await.expect("ingest");
    let rules: Value = json!({"parameters": {
        "temp": {"warnHigh": 45, "critHigh": 70, "persistence": 2, "deadband": 3,
                 "maxRate": {"warn": 20, "crit": 40}, "staleAfterSec": 5},
        "volt": {"warnLow": 29, "staleAfterSec": 3},
    }});
    app.set_config(
        &sc(),
        SpacecraftConfig::parse(rules).expect("config"),
        ConfigStatus::Approved,
        None,
    )
    .await
    .expect("config");
    app
}

#[tokio::test]
async fn small_pages_give_exactly_the_one_page_answer() {
    let whole = app(1_000_000).await;
    let window = AnalysisWindow::range(at(0), at(1000)).expect("window");
    let expected = whole.analyse(&sc(), window).await.expect("analyse");
    assert!(
        expected.len() > 10,
        "the fixture must find anomalies of several kinds: {expected:?}"
    );
    for page in [1, 2, 3, 7, 59, 60, 61] {
        let paged = app(page).await;
        let got = paged.analyse(&sc(), window).await.expect("analyse");
        assert_eq!(got, expected, "pages of {page}");
    }
}

#[tokio::test]
async fn detect_in_small_pages_persists_what_detect_in_one_page_does() {
    let whole = app(1_000_000).await;
    let expected = whole.detect(&sc(), at(0), at(1000)).await.expect("detect");
    let paged = app(4).await;
    let got = paged.detect(&sc(), at(0), at(1000)).await.expect("detect");
    assert_eq!(
        (got.detected, got.persisted),
        (expected.detected, expected.persisted)
    );
    assert!(expected.persisted > 10, "{expected:?}");
    let limit = Limit::new(1000, 1000).expect("limit");
    let stored = |app: MissionOps| async move {
        let anomalies = app.list_anomalies(&sc(), limit).await.expect("list");
        let events: Vec<EventType> = app
            .list_events(None, limit)
            .await
            .expect("events")
            .into_iter()
            .map(|e| e.event_type)
            .collect();
        (anomalies, events)
    };
    assert_eq!(stored(paged.clone()).await, stored(whole).await);
    let again = paged.detect(&sc(), at(0), at(1000)).await.expect("again");
    assert_eq!((again.detected, again.persisted), (got.detected, 0));
}
