//! The application services over the in-memory store, a manual clock and sequential ids.

use std::sync::Arc;

use missionops_core::{
    AnalysisWindow, ConfigSource, ConfigStatus, DocumentId, Error, EventType, IngestMode, Limit,
    ManualClock, MissionOps, NewDocument, NewSnapshot, NewSpacecraft, SearchQuery, Severity,
    SnapshotId, SpacecraftConfig, SpacecraftId, Timestamp,
};
use missionops_store::MemoryStore;
use serde_json::{Value, json};

const START: &str = "2025-06-01T12:00:00Z";

struct Harness {
    app: MissionOps,
    clock: Arc<ManualClock>,
}

fn harness() -> Harness {
    let clock = Arc::new(ManualClock::new(Timestamp::parse(START).expect("ts")));
    let app = MissionOps::new(
        Arc::new(MemoryStore::new()),
        clock.clone(),
        Arc::new(missionops_core::SequentialIds::new()),
    );
    Harness { app, clock }
}

fn sc(id: &str) -> SpacecraftId {
    SpacecraftId::parse(id).expect("id")
}

fn limit(n: i64) -> Limit {
    Limit::new(n, 1000).expect("limit")
}

/// A snapshot `seconds` after START (negative: before).
fn snap(id: Option<&str>, spacecraft: &str, seconds: i64, parameters: Value) -> NewSnapshot {
    serde_json::from_value(json!({
        "id": id,
        "spacecraftId": spacecraft,
        "timestamp": Timestamp::parse(START).expect("ts").add_millis(seconds * 1000).to_string(),
        "parameters": parameters,
    }))
    .expect("snapshot")
}

fn config(value: Value) -> SpacecraftConfig {
    SpacecraftConfig::parse(value).expect("config")
}

async fn set_limits(app: &MissionOps, id: &str, value: Value) {
    app.set_config(
        &sc(id),
        config(value),
        ConfigStatus::Approved,
        Some(ConfigSource::Manual),
    )
    .await
    .expect("set config");
}

async fn event_types(app: &MissionOps) -> Vec<EventType> {
    app.list_events(None, limit(100))
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

#[tokio::test]
async fn registering_generates_an_id_records_an_event_and_rejects_a_taken_id() {
    let h = harness();
    let new: NewSpacecraft =
        serde_json::from_value(json!({"name": "Sat-Imager-001", "missionType": "LEO_IMAGING"}))
            .expect("new");
    let registered = h.app.register_spacecraft(new).await.expect("register");
    assert_eq!(
        registered.id.as_str(),
        "00000000-0000-0000-0000-000000000001"
    );
    assert_eq!(registered.mission_type.as_str(), "LEO_IMAGING");
    assert_eq!(
        registered.created_at.to_string(),
        "2025-06-01T12:00:00.000Z"
    );
    let fetched = h.app.get_spacecraft(&registered.id).await.expect("get");
    assert_eq!(fetched, registered);

    let taken: NewSpacecraft =
        serde_json::from_value(json!({"id": registered.id, "name": "Other"})).expect("new");
    let err = h
        .app
        .register_spacecraft(taken)
        .await
        .expect_err("taken id");
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    assert_eq!(event_types(&h.app).await, [EventType::SpacecraftRegistered]);
}

#[tokio::test]
async fn an_unknown_spacecraft_is_not_found() {
    let h = harness();
    let err = h
        .app
        .get_spacecraft(&sc("SC-404"))
        .await
        .expect_err("missing");
    assert_eq!(err.to_string(), "spacecraft 'SC-404' was not found");
    // The status of an unknown spacecraft is the compat nominal answer, not an error (see
    // `the_status_of_a_spacecraft_nobody_registered_is_nominal`).
    let status = h.app.status(&sc("SC-404")).await.expect("status");
    assert_eq!(status.last_telemetry_timestamp, None);
    // ...except where an operator names a spacecraft (the CLI's `status ID`).
    let err = h
        .app
        .registered_status(&sc("SC-404"))
        .await
        .expect_err("unknown");
    assert!(matches!(err, Error::NotFound { .. }), "got {err}");
    let err = h.app.get_config(&sc("SC-404")).await.expect_err("missing");
    assert!(matches!(err, Error::NotFound { .. }));
}

#[tokio::test]
async fn telemetry_for_an_unregistered_spacecraft_registers_it_once() {
    let h = harness();
    h.app
        .ingest(snap(
            None,
            "SC-001",
            0,
            json!({"temp": 42, "mode": "CRUISE"}),
        ))
        .await
        .expect("ingest");
    h.app
        .ingest(snap(None, "SC-001", 1, json!({"temp": 43})))
        .await
        .expect("ingest");
    let spacecraft = h
        .app
        .get_spacecraft(&sc("SC-001"))
        .await
        .expect("registered");
    assert_eq!(spacecraft.name.as_str(), "SC-001");
    assert_eq!(spacecraft.mission_type.as_str(), "UNSPECIFIED");
    let events = h.app.list_events(None, limit(10)).await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].metadata["implicit"], json!(true));
}

#[tokio::test]
async fn ingest_is_idempotent_by_id_and_conflicts_on_different_content() {
    let h = harness();
    let first = h
        .app
        .ingest(snap(Some("s-1"), "SC-1", 0, json!({"temp": 1})))
        .await
        .expect("ingest");
    assert_eq!((first.id.as_str(), first.duplicate), ("s-1", false));
    let again = h
        .app
        .ingest(snap(Some("s-1"), "SC-1", 0, json!({"temp": 1})))
        .await
        .expect("same content again is a success");
    assert!(again.duplicate);
    let err = h
        .app
        .ingest(snap(Some("s-1"), "SC-1", 0, json!({"temp": 2})))
        .await
        .expect_err("different content");
    match err {
        Error::Conflict { id, reason, .. } => {
            assert_eq!(id, "s-1");
            assert!(reason.contains("snapshots[0]"), "{reason}");
        }
        other => panic!("expected a conflict, got {other}"),
    }
    let stored = h
        .app
        .recent_telemetry(&sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0]
            .parameters
            .get("temp")
            .map(ToString::to_string)
            .as_deref(),
        Some("1")
    );
}

#[tokio::test]
async fn a_batch_is_all_or_nothing_and_names_the_conflicting_index() {
    let h = harness();
    h.app
        .ingest(snap(Some("old"), "SC-1", 0, json!({"temp": 1})))
        .await
        .expect("ingest");
    let err = h
        .app
        .ingest_batch(vec![
            snap(Some("n1"), "SC-1", 1, json!({"temp": 1})),
            snap(Some("n2"), "SC-1", 2, json!({"temp": 1})),
            snap(Some("old"), "SC-1", 0, json!({"temp": 99})),
        ])
        .await
        .expect_err("conflict");
    assert!(err.to_string().contains("snapshots[2]"), "{err}");
    let err = h
        .app
        .ingest_batch(vec![
            snap(Some("x"), "SC-1", 1, json!({"temp": 1})),
            snap(Some("x"), "SC-1", 1, json!({"temp": 2})),
        ])
        .await
        .expect_err("repeated id, different content");
    assert!(
        err.to_string()
            .contains("snapshots[1] repeats the id of snapshots[0]"),
        "{err}"
    );
    let stored = h
        .app
        .recent_telemetry(&sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert_eq!(stored.len(), 1, "nothing of the failed batches is stored");

    let ok = h
        .app
        .ingest_batch(vec![
            snap(Some("y"), "SC-1", 3, json!({"temp": 1})),
            snap(Some("y"), "SC-1", 3, json!({"temp": 1})),
            snap(None, "SC-2", 3, json!({"temp": 1})),
        ])
        .await
        .expect("same content twice in a batch is fine");
    assert_eq!(ok.count, 3);
    assert_eq!((ok.outcome.inserted, ok.outcome.duplicates), (2, 1));
    assert_eq!(ok.ids.len(), 3);
    let empty = h.app.ingest_batch(Vec::new()).await.expect("empty batch");
    assert_eq!(empty.receipt().count, 0);
}

#[tokio::test]
async fn an_oversized_batch_is_rejected_naming_snapshots() {
    let h = harness();
    let batch: Vec<NewSnapshot> = (0..=missionops_core::MAX_BATCH_SNAPSHOTS as i64)
        .map(|i| snap(None, "SC-1", i, json!({})))
        .collect();
    let err = h.app.ingest_batch(batch).await.expect_err("too many");
    assert!(
        err.to_string()
            .starts_with("snapshots: must hold at most 10000"),
        "{err}"
    );
}

#[tokio::test]
async fn configs_are_versioned_with_a_diff_in_their_event() {
    let h = harness();
    set_limits(
        &h.app,
        "SC-1",
        json!({"parameters": {"temp": {"warnHigh": 45}}}),
    )
    .await;
    h.clock.advance_millis(1000);
    set_limits(
        &h.app,
        "SC-1",
        json!({"parameters": {"temp": {"warnHigh": 50, "critHigh": 70}}, "note": "x"}),
    )
    .await;
    let current = h.app.get_config(&sc("SC-1")).await.expect("config");
    assert_eq!(current.version, 2);
    let history = h.app.config_history(&sc("SC-1")).await.expect("history");
    assert_eq!(
        history.iter().map(|c| c.version).collect::<Vec<_>>(),
        [1, 2]
    );
    let events = h
        .app
        .list_events(Some(&sc("SC-1")), limit(1))
        .await
        .expect("events");
    assert_eq!(events[0].event_type, EventType::ConfigChanged);
    assert_eq!(events[0].metadata["version"], json!(2));
    assert_eq!(events[0].metadata["previousVersion"], json!(1));
    assert_eq!(
        events[0].metadata["diff"],
        json!([
            {"path": "parameters.temp.warnHigh", "change": "changed", "from": 45, "to": 50},
            {"path": "parameters.temp.critHigh", "change": "added", "to": 70},
            {"path": "note", "change": "added", "to": "x"},
        ])
    );
}

#[tokio::test]
async fn a_config_saved_over_an_older_version_is_refused_and_changes_nothing() {
    let h = harness();
    let id = sc("SC-1");
    let save_over = |edited: u32, warn_high: i64| {
        h.app.set_config_over(
            &id,
            config(json!({"parameters": {"temp": {"warnHigh": warn_high}}})),
            ConfigStatus::Approved,
            Some(ConfigSource::Manual),
            edited,
        )
    };
    // Over no configuration yet, then over the version just saved.
    assert_eq!(save_over(0, 45).await.expect("first").version, 1);
    assert_eq!(save_over(1, 50).await.expect("second").version, 2);
    // An editor still on version 1 (or one who thinks there is none) is refused.
    for edited in [1, 0, 3] {
        let err = save_over(edited, 99).await.expect_err("stale");
        assert!(matches!(err, Error::Conflict { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("version 2") && text.contains(&format!("version {edited}")),
            "{text}"
        );
    }
    let history = h.app.config_history(&sc("SC-1")).await.expect("history");
    assert_eq!(
        history.iter().map(|c| c.version).collect::<Vec<_>>(),
        [1, 2],
        "nothing saved by the refused changes"
    );
    let events = h
        .app
        .list_events(Some(&sc("SC-1")), limit(10))
        .await
        .expect("events");
    let changes = events
        .iter()
        .filter(|e| e.event_type == EventType::ConfigChanged)
        .count();
    assert_eq!(changes, 2, "an event for each saved version only");
}

#[tokio::test]
async fn an_invalid_config_is_rejected_naming_parameter_and_field() {
    let err = SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": "45"}}}))
        .expect_err("string threshold");
    assert!(
        err.to_string()
            .starts_with("parameters.temp.warnHigh: must be a number")
    );
    let err =
        SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnLow": 50, "warnHigh": 45}}}))
            .expect_err("inconsistent");
    assert_eq!(
        err.to_string(),
        "parameters.temp.warnLow: must not be above warnHigh"
    );
}

#[tokio::test]
async fn analyse_uses_the_current_config_version() {
    let h = harness();
    set_limits(
        &h.app,
        "SC-1",
        json!({"parameters": {"temp": {"warnHigh": 45}}}),
    )
    .await;
    h.app
        .ingest(snap(Some("s"), "SC-1", 0, json!({"temp": 50})))
        .await
        .expect("ingest");
    let recent = AnalysisWindow::Recent(limit(20));
    let found = h.app.analyse(&sc("SC-1"), recent).await.expect("analyse");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].description, "Parameter temp above warnHigh 45");
    assert_eq!(found[0].detected_at.to_string(), "2025-06-01T12:00:00.000Z");
    set_limits(
        &h.app,
        "SC-1",
        json!({"parameters": {"temp": {"warnHigh": 100}}}),
    )
    .await;
    let found = h.app.analyse(&sc("SC-1"), recent).await.expect("analyse");
    assert!(found.is_empty(), "the new limits apply at once");
}

#[tokio::test]
async fn analyse_orders_recent_newest_first_and_ranges_oldest_first() {
    let h = harness();
    set_limits(
        &h.app,
        "SC-1",
        json!({"parameters": {"temp": {"warnHigh": 0}}}),
    )
    .await;
    for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
        h.app
            .ingest(snap(Some(id), "SC-1", i as i64, json!({"temp": 1})))
            .await
            .expect("ingest");
    }
    let ids = |list: Vec<missionops_core::Anomaly>| -> Vec<String> {
        list.into_iter().map(|a| a.id.into_string()).collect()
    };
    let recent = h
        .app
        .analyse(&sc("SC-1"), AnalysisWindow::Recent(limit(2)))
        .await
        .expect("analyse");
    assert_eq!(ids(recent), ["c:temp:WARN_HIGH", "b:temp:WARN_HIGH"]);
    let start = Timestamp::parse(START).expect("ts");
    let window = AnalysisWindow::range(start, start.add_millis(1000)).expect("window");
    let range = h.app.analyse(&sc("SC-1"), window).await.expect("analyse");
    assert_eq!(range.len(), 2);
    assert_eq!(range[0].window_start, Some(start));
    assert_eq!(ids(range), ["a:temp:WARN_HIGH", "b:temp:WARN_HIGH"]);
    let err = AnalysisWindow::range(start.add_millis(1), start).expect_err("from after to");
    assert!(err.to_string().starts_with("from: must not be after to"));
    let none = h
        .app
        .analyse(&sc("SC-9"), AnalysisWindow::Recent(limit(5)))
        .await
        .expect("no config");
    assert!(none.is_empty());
}

/// A time window of more snapshots than the cap is refused, naming `to`, by analyse and by
/// detect, and detect then stores nothing; a window at the cap is analysed.
#[tokio::test]
async fn windows_over_the_cap_are_refused_before_anything_is_analysed() {
    let h = harness();
    let app = h.app.clone().with_window_cap(3);
    for i in 0..4 {
        app.ingest(snap(None, "SC-1", i, json!({"temp": 50})))
            .await
            .expect("ingest");
    }
    set_limits(
        &app,
        "SC-1",
        json!({"parameters": {"temp": {"warnHigh": 45}}}),
    )
    .await;
    let start = Timestamp::parse(START).expect("ts");
    let over = AnalysisWindow::range(start, start.add_millis(3000)).expect("window");
    let err = app
        .analyse(&sc("SC-1"), over)
        .await
        .expect_err("four snapshots");
    assert!(matches!(err, Error::Invalid { ref field, .. } if field == "to"));
    assert_eq!(
        err.to_string(),
        "to: the window holds more than 3 snapshots; narrow it"
    );
    let at_cap = AnalysisWindow::range(start, start.add_millis(2000)).expect("window");
    let found = app
        .analyse(&sc("SC-1"), at_cap)
        .await
        .expect("three snapshots");
    assert_eq!(found.len(), 3);
    let err = app
        .detect(&sc("SC-1"), start, start.add_millis(3000))
        .await
        .expect_err("four snapshots");
    assert!(matches!(err, Error::Invalid { ref field, .. } if field == "to"));
    assert!(
        !event_types(&app).await.contains(&EventType::Anomaly),
        "a refused detect announces nothing"
    );
    let whole = h
        .app
        .analyse(&sc("SC-1"), over)
        .await
        .expect("the default cap");
    assert_eq!(whole.len(), 4);
}

#[tokio::test]
async fn detect_persists_new_anomalies_once_with_their_events() {
    let h = harness();
    // Telemetry first, limits after: the live monitor had no rule to flag it with.
    h.app
        .ingest_batch(vec![
            snap(Some("a"), "SC-1", 0, json!({"temp": 50})),
            snap(Some("b"), "SC-1", 1, json!({"temp": 80})),
            snap(Some("c"), "SC-1", 2, json!({"temp": 20})),
        ])
        .await
        .expect("ingest");
    set_limits(
        &h.app,
        "SC-1",
        json!({"parameters": {"temp": {"warnHigh": 45, "critHigh": 70}}}),
    )
    .await;
    let start = Timestamp::parse(START).expect("ts");
    let report = h
        .app
        .detect(&sc("SC-1"), start, start.add_millis(5000))
        .await
        .expect("detect");
    assert_eq!((report.detected, report.persisted), (2, 2));
    let again = h
        .app
        .detect(&sc("SC-1"), start, start.add_millis(5000))
        .await
        .expect("detect again");
    assert_eq!((again.detected, again.persisted), (2, 0));
    let stored = h
        .app
        .list_anomalies(&sc("SC-1"), limit(10))
        .await
        .expect("list");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].id.as_str(), "b:temp:CRIT_HIGH", "newest first");
    let anomaly_events = event_types(&h.app)
        .await
        .into_iter()
        .filter(|t| *t == EventType::Anomaly)
        .count();
    assert_eq!(anomaly_events, 2);
    let timeline = h
        .app
        .anomaly_timeline(&sc("SC-1"), start, start.add_millis(5000))
        .await
        .expect("timeline");
    assert_eq!(timeline[0].id.as_str(), "a:temp:WARN_HIGH");
    let fetched = h.app.get_anomaly(&stored[0].id).await.expect("get");
    assert_eq!(fetched, stored[0]);
}

/// SC-1's history, detected: a warning 2 h ago, a critical 20 h ago and a warning 30 h ago
/// (outside 24 h), against limits of warnHigh 45 and critHigh 70 set before.
async fn sc1_history_detected(app: &MissionOps) {
    app.ingest_batch(vec![
        snap(Some("w2h"), "SC-1", -2 * 3600, json!({"temp": 50})),
        snap(Some("c20h"), "SC-1", -20 * 3600, json!({"temp": 80})),
        snap(Some("w30h"), "SC-1", -30 * 3600, json!({"temp": 50})),
    ])
    .await
    .expect("history");
    let start = Timestamp::parse(START).expect("ts");
    app.detect(&sc("SC-1"), start.add_millis(-40 * 3_600_000), start)
        .await
        .expect("detect");
}

#[tokio::test]
async fn status_follows_the_compat_formula() {
    let h = harness();
    set_limits(
        &h.app,
        "SC-1",
        json!({"parameters": {"temp": {"warnHigh": 45, "critHigh": 70}}}),
    )
    .await;
    let status = h.app.status(&sc("SC-1")).await.expect("status");
    assert_eq!(
        serde_json::to_value(&status).expect("json"),
        json!({
            "spacecraftId": "SC-1",
            "lastTelemetryTimestamp": null,
            "anomalies": {"last1h": 0, "last6h": 0, "last24h": 0},
            "highestSeverityLast24h": "LOW",
            "overallStatus": "NOMINAL",
            "activeAlarms": 0,
        })
    );
    sc1_history_detected(&h.app).await;
    let status = h.app.status(&sc("SC-1")).await.expect("status");
    assert_eq!(status.anomalies.last1h, 0);
    assert_eq!(status.anomalies.last6h, 1);
    assert_eq!(status.anomalies.last24h, 2);
    assert_eq!(status.highest_severity_last24h, Severity::High);
    assert_eq!(
        serde_json::to_value(status.overall_status).expect("json"),
        json!("CRITICAL")
    );
    assert_eq!(
        status
            .last_telemetry_timestamp
            .map(|t| t.to_string())
            .as_deref(),
        Some("2025-06-01T10:00:00.000Z")
    );
    // 21 h later the critical anomaly is 41 h old and out of the day; the warning is 23 h old.
    h.clock.advance_millis(21 * 3_600_000);
    let status = h.app.status(&sc("SC-1")).await.expect("status");
    assert_eq!(status.anomalies.last24h, 1);
    assert_eq!(status.highest_severity_last24h, Severity::Medium);
    assert_eq!(
        serde_json::to_value(status.overall_status).expect("json"),
        json!("WARNING")
    );
}

#[tokio::test]
async fn spacecraft_listing_carries_the_compat_fields() {
    let h = harness();
    set_limits(
        &h.app,
        "SC-1",
        json!({"parameters": {"temp": {"warnHigh": 45}}}),
    )
    .await;
    h.app
        .ingest(snap(None, "SC-2", 0, json!({"temp": 1})))
        .await
        .expect("ingest");
    let listing = h.app.list_spacecraft(limit(1), 0).await.expect("list");
    assert_eq!(
        serde_json::to_value(&listing).expect("json"),
        json!({
            "total": 2, "count": 1, "limit": 1, "offset": 0,
            "items": [{
                "spacecraftId": "SC-1", "name": "SC-1", "missionType": "UNSPECIFIED",
                "config": {"parameters": {"temp": {"warnHigh": 45}}},
                "status": "approved", "source": "manual", "metadata": {},
                "createdAt": "2025-06-01T12:00:00.000Z", "updatedAt": "2025-06-01T12:00:00.000Z",
            }],
        })
    );
    let listing = h.app.list_spacecraft(limit(5), 1).await.expect("list");
    assert_eq!(listing.items[0].spacecraft_id.as_str(), "SC-2");
    assert_eq!(listing.items[0].config, None);
}

#[tokio::test]
async fn documents_are_published_updated_searched_and_announced() {
    let h = harness();
    let new: NewDocument = serde_json::from_value(json!({
        "spacecraftId": "SC-1", "title": "Battery recovery", "body": "Steps for low SOC",
        "tags": ["battery_soc"], "category": "procedure",
    }))
    .expect("doc");
    let doc = h.app.publish_document(new).await.expect("publish");
    assert_eq!(doc.version, 1);
    let plain: NewDocument =
        serde_json::from_value(json!({"title": "Note", "body": "text"})).expect("doc");
    let note = h
        .app
        .publish_document(plain.clone())
        .await
        .expect("publish");
    assert_eq!(note.category.as_str(), "general");
    assert_eq!(note.spacecraft_id, None);
    h.clock.advance_millis(5000);
    let updated = h
        .app
        .update_document(&note.id, plain)
        .await
        .expect("update");
    assert_eq!(updated.version, 2);
    assert_eq!(updated.published_at, note.published_at);
    assert!(updated.updated_at > note.updated_at);
    let missing = DocumentId::parse("nope").expect("id");
    let plain: NewDocument =
        serde_json::from_value(json!({"title": "Note", "body": "text"})).expect("doc");
    assert!(matches!(
        h.app.update_document(&missing, plain).await,
        Err(Error::NotFound { .. })
    ));
    let found = h
        .app
        .search_documents(&SearchQuery::parse("soc").expect("q"), limit(10))
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, doc.id);
    assert_eq!(
        event_types(&h.app).await,
        [
            EventType::DocumentUpdated,
            EventType::DocumentPublished,
            EventType::DocumentPublished
        ]
    );
}

#[tokio::test]
async fn events_are_listed_newest_first_and_resumed_after_a_sequence() {
    let h = harness();
    for id in ["SC-1", "SC-2", "SC-1"] {
        h.app
            .record_event(
                Some(&sc(id)),
                EventType::Info,
                Severity::Low,
                format!("hi {id}"),
                Default::default(),
            )
            .await
            .expect("record");
    }
    let sc1 = h
        .app
        .list_events(Some(&sc("SC-1")), limit(10))
        .await
        .expect("events");
    assert_eq!(sc1.iter().map(|e| e.sequence).collect::<Vec<_>>(), [3, 1]);
    let after = h.app.events_after(1, None, limit(10)).await.expect("after");
    assert_eq!(after.iter().map(|e| e.sequence).collect::<Vec<_>>(), [2, 3]);
}

#[tokio::test]
async fn latest_values_carry_their_limit_state() {
    let h = harness();
    set_limits(
        &h.app,
        "SC-1",
        json!({"parameters": {"temp": {"warnHigh": 45, "critHigh": 70}, "volt": {"warnLow": 24}}}),
    )
    .await;
    h.app
        .ingest_batch(vec![
            snap(
                None,
                "SC-1",
                0,
                json!({"temp": 20, "volt": 28, "mode": "SAFE"}),
            ),
            snap(None, "SC-1", 5, json!({"temp": 75})),
        ])
        .await
        .expect("ingest");
    let view = h.app.latest_values(&sc("SC-1")).await.expect("latest");
    assert_eq!(
        serde_json::to_value(&view).expect("json"),
        json!({"spacecraftId": "SC-1", "parameters": {
            "mode": {"value": "SAFE", "timestamp": "2025-06-01T12:00:00.000Z", "state": "NOMINAL", "severity": null},
            "temp": {"value": 75, "timestamp": "2025-06-01T12:00:05.000Z", "state": "CRIT_HIGH", "severity": "HIGH"},
            "volt": {"value": 28, "timestamp": "2025-06-01T12:00:00.000Z", "state": "NOMINAL", "severity": null},
        }})
    );
    assert!(matches!(
        h.app.latest_values(&sc("SC-9")).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn series_requests_are_bounded_in_buckets() {
    let h = harness();
    h.app
        .ingest_batch(
            (0..10)
                .map(|i| snap(None, "SC-1", i * 30, json!({"temp": i})))
                .collect(),
        )
        .await
        .expect("ingest");
    let start = Timestamp::parse(START).expect("ts");
    let temp = missionops_core::ParameterName::parse("temp").expect("name");
    let minute = missionops_core::BucketWidth::parse("1m").expect("bucket");
    let series = h
        .app
        .series(&sc("SC-1"), &temp, start, start.add_millis(300_000), minute)
        .await
        .expect("series");
    assert_eq!(series.len(), 5);
    assert_eq!(
        (
            series[0].count,
            series[0].min,
            series[0].max,
            series[0].last
        ),
        (2, 0.0, 1.0, 1.0)
    );
    let second = missionops_core::BucketWidth::parse("1s").expect("bucket");
    let err = h
        .app
        .series(
            &sc("SC-1"),
            &temp,
            start,
            start.add_millis(86_400_000),
            second,
        )
        .await
        .expect_err("too many buckets");
    assert!(
        err.to_string()
            .starts_with("bucket: spans more than 10000 buckets"),
        "{err}"
    );
    let err = h
        .app
        .series(&sc("SC-1"), &temp, start.add_millis(1), start, minute)
        .await
        .expect_err("from after to");
    assert!(err.to_string().starts_with("from:"));
}

#[tokio::test]
async fn the_fleet_overview_lists_every_spacecraft_with_its_status() {
    let h = harness();
    set_limits(
        &h.app,
        "SC-1",
        json!({"parameters": {"temp": {"warnHigh": 45}}}),
    )
    .await;
    h.app
        .ingest(snap(None, "SC-1", -60, json!({"temp": 50})))
        .await
        .expect("ingest");
    h.app
        .ingest(snap(None, "SC-2", -60, json!({"temp": 50})))
        .await
        .expect("ingest");
    let start = Timestamp::parse(START).expect("ts");
    h.app
        .detect(&sc("SC-1"), start.add_millis(-3_600_000), start)
        .await
        .expect("detect");
    let fleet = h.app.fleet_status().await.expect("fleet");
    let summary: Vec<(String, String, u64)> = fleet
        .iter()
        .map(|f| {
            let overall = serde_json::to_value(f.status.overall_status).expect("json");
            (
                f.name.to_string(),
                overall.as_str().unwrap_or("").to_owned(),
                f.status.anomalies.last1h,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("SC-1".to_owned(), "WARNING".to_owned(), 1),
            ("SC-2".to_owned(), "NOMINAL".to_owned(), 0)
        ]
    );
    // SC-1's live sample above warnHigh opened an alarm; SC-2 has no limits.
    let json = serde_json::to_value(&fleet[0]).expect("json");
    assert_eq!(json["activeAlarms"], json!(1));
    assert_eq!(
        serde_json::to_value(&fleet[1]).expect("json")["activeAlarms"],
        json!(0)
    );
    assert_eq!(json["spacecraftId"], json!("SC-1"));
}

#[tokio::test]
async fn the_fleet_overview_is_each_spacecrafts_own_status() {
    // The overview reads its figures for many spacecraft at once and the alarms once for the
    // tenant; every line must still be that spacecraft's own status, over more spacecraft
    // than one read is asked about and than one page of the registry holds.
    let h = harness();
    for id in ["SC-1", "SC-2"] {
        set_limits(
            &h.app,
            id,
            json!({"parameters": {"temp": {"warnHigh": 45, "critHigh": 70}}}),
        )
        .await;
    }
    // SC-1: its history of three anomalies; SC-2: a live warning.
    sc1_history_detected(&h.app).await;
    h.app
        .ingest(snap(Some("live"), "SC-2", -5, json!({"temp": 50})))
        .await
        .expect("live");
    // SC-2's alarm acknowledged: it still needs attention.
    let open = h
        .app
        .list_alarms(&missionops_core::AlarmFilter {
            spacecraft_id: Some(sc("SC-2")),
            states: missionops_core::AlarmStates::Open,
        })
        .await
        .expect("alarms");
    assert_eq!(open.len(), 1, "{open:?}");
    h.app
        .acknowledge_alarm(
            &open[0].id,
            missionops_core::Operator::parse("ops").expect("operator"),
            None,
        )
        .await
        .expect("acknowledge");
    for n in 0..1000 {
        h.app
            .ingest(snap(None, &format!("FLEET-{n:03}"), -n, json!({"temp": 1})))
            .await
            .expect("fleet");
    }
    let fleet = h.app.fleet_status().await.expect("fleet");
    let listed: Vec<&str> = fleet
        .iter()
        .map(|f| f.status.spacecraft_id.as_str())
        .collect();
    // Registered at one clock time: registration order is then the ids' order.
    let names: Vec<String> = (0..1000).map(|n| format!("FLEET-{n:03}")).collect();
    let mut registered: Vec<&str> = names.iter().map(String::as_str).collect();
    registered.extend(["SC-1", "SC-2"]);
    assert!(
        listed == registered,
        "every spacecraft once, in registration order: {} listed",
        listed.len()
    );
    for entry in &fleet {
        let own = h
            .app
            .status(&entry.status.spacecraft_id)
            .await
            .expect("status");
        assert_eq!(entry.status, own);
    }
    let line = |id: &str| {
        let entry = fleet
            .iter()
            .find(|f| f.status.spacecraft_id.as_str() == id)
            .expect("listed");
        serde_json::to_value(entry).expect("json")
    };
    assert_eq!(
        line("SC-1")["anomalies"],
        json!({"last1h": 0, "last6h": 1, "last24h": 2})
    );
    assert_eq!(line("SC-1")["overallStatus"], json!("CRITICAL"));
    assert_eq!(line("SC-2")["activeAlarms"], json!(1));
    assert_eq!(line("SC-2")["overallStatus"], json!("WARNING"));
    assert_eq!(
        line("FLEET-999")["lastTelemetryTimestamp"],
        json!("2025-06-01T11:43:21.000Z")
    );
}

#[tokio::test]
async fn the_fleet_overview_marks_silent_spacecraft_whatever_was_recorded_since() {
    // The console marks a tile STALE and CONTACT LOST from the overview: the marks must hold
    // however many events other spacecraft recorded since (it once looked for the loss among
    // the newest hundred events of the fleet), and go when telemetry comes back.
    let h = harness();
    for id in ["SC-QUIET", "SC-BACK"] {
        set_limits(
            &h.app,
            id,
            json!({"parameters": {"temp": {"staleAfterSec": 10}}}),
        )
        .await;
        h.app
            .ingest(snap(None, id, 0, json!({"temp": 20})))
            .await
            .expect("first sample");
    }
    h.clock.advance_millis(15_000);
    h.app.tick().await.expect("tick");
    let lost_at = missionops_core::Clock::now(&*h.clock);
    h.app
        .ingest(snap(None, "SC-BACK", 20, json!({"temp": 20})))
        .await
        .expect("back");
    for n in 0..150 {
        h.app
            .ingest(snap(None, &format!("OTHER-{n:03}"), 0, json!({"temp": 1})))
            .await
            .expect("another spacecraft");
    }
    let events = h.app.list_events(None, limit(100)).await.expect("events");
    assert!(
        events
            .iter()
            .all(|e| e.event_type != EventType::ContactLost),
        "the loss is not among the newest hundred events"
    );
    let fleet = h.app.fleet_status().await.expect("fleet");
    let entry = |id: &str| {
        fleet
            .iter()
            .find(|f| f.status.spacecraft_id.as_str() == id)
            .expect("listed")
    };
    let marks = |id: &str| (entry(id).stale, entry(id).contact_lost_at);
    assert_eq!(marks("SC-QUIET"), (true, Some(lost_at)));
    assert_eq!(marks("SC-BACK"), (false, None), "telemetry came back");
    assert_eq!(marks("OTHER-000"), (false, None));
    let line = serde_json::to_value(entry("SC-QUIET")).expect("json");
    assert_eq!(
        (&line["stale"], &line["contactLostAt"]),
        (&json!(true), &json!(lost_at.to_string()))
    );
}

#[tokio::test]
async fn procedures_for_an_anomaly_are_tagged_ones_first_then_mentions() {
    let h = harness();
    set_limits(
        &h.app,
        "SC-1",
        json!({"parameters": {"battery_soc": {"warnLow": 25}}}),
    )
    .await;
    h.app
        .ingest(snap(Some("s1"), "SC-1", -10, json!({"battery_soc": 20})))
        .await
        .expect("ingest");
    let start = Timestamp::parse(START).expect("ts");
    h.app
        .detect(&sc("SC-1"), start.add_millis(-60_000), start)
        .await
        .expect("detect");
    let publish = |value: Value| {
        let app = h.app.clone();
        async move {
            let new: NewDocument = serde_json::from_value(value).expect("doc");
            app.publish_document(new).await.expect("publish")
        }
    };
    let mention = publish(json!({"title": "Power checks", "body": "watch battery_soc closely", "category": "procedure"})).await;
    let tagged = publish(json!({"title": "Low SOC recovery", "body": "steps", "category": "procedure", "tags": ["battery_soc"]})).await;
    publish(json!({"title": "battery_soc definition", "body": "battery_soc is…", "category": "telemetry_definition"})).await;
    publish(json!({"spacecraftId": "SC-2", "title": "Other craft", "body": "battery_soc", "category": "procedure", "tags": ["battery_soc"]})).await;
    let anomaly_id = missionops_core::AnomalyId::parse("s1:battery_soc:WARN_LOW").expect("id");
    let found = h
        .app
        .procedures_for_anomaly(&anomaly_id)
        .await
        .expect("procedures");
    let ids: Vec<&DocumentId> = found.iter().map(|d| &d.id).collect();
    assert_eq!(ids, [&tagged.id, &mention.id]);
    let missing = missionops_core::AnomalyId::parse("nope").expect("id");
    assert!(matches!(
        h.app.procedures_for_anomaly(&missing).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn windowed_reads_see_this_application_s_writes_at_once_and_others_within_seconds() {
    use missionops_core::{TelemetryRepository, TelemetrySnapshot, TelemetryWrite};
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Timestamp::parse(START).expect("ts")));
    let app = MissionOps::new(
        store.clone(),
        clock.clone(),
        Arc::new(missionops_core::SequentialIds::new()),
    );
    app.ingest(snap(Some("a"), "SC-1", 0, json!({"temp": 1})))
        .await
        .expect("ingest");
    assert_eq!(
        app.recent_telemetry(&sc("SC-1"), limit(5))
            .await
            .expect("recent")
            .len(),
        1
    );
    app.ingest(snap(Some("b"), "SC-1", 1, json!({"temp": 2})))
        .await
        .expect("ingest");
    let recent = app
        .recent_telemetry(&sc("SC-1"), limit(5))
        .await
        .expect("recent");
    assert_eq!(
        recent[0].id.as_str(),
        "b",
        "this application's write is seen at once"
    );
    // Another process writes to the same database behind the application's back.
    store
        .insert_telemetry(TelemetryWrite {
            tenant: Default::default(),
            registrations: Vec::new(),
            snapshots: vec![TelemetrySnapshot {
                id: "c".parse().expect("id"),
                spacecraft_id: sc("SC-1"),
                timestamp: Timestamp::parse(START).expect("ts").add_millis(2000),
                parameters: serde_json::from_value(json!({"temp": 3})).expect("parameters"),
            }],
            ..TelemetryWrite::default()
        })
        .await
        .expect("insert");
    clock.advance_millis(2_500);
    let recent = app
        .recent_telemetry(&sc("SC-1"), limit(5))
        .await
        .expect("recent");
    assert_eq!(
        recent[0].id.as_str(),
        "c",
        "another writer is seen within the recheck time"
    );
    assert_eq!(recent.len(), 3);
}

#[tokio::test]
async fn the_status_of_a_spacecraft_nobody_registered_is_nominal() {
    let h = harness();
    let status = h.app.status(&sc("SC-NEW")).await.expect("status");
    assert_eq!(
        serde_json::to_value(&status).expect("json"),
        json!({
            "spacecraftId": "SC-NEW",
            "lastTelemetryTimestamp": null,
            "anomalies": {"last1h": 0, "last6h": 0, "last24h": 0},
            "highestSeverityLast24h": "LOW",
            "overallStatus": "NOMINAL",
            "activeAlarms": 0,
        })
    );
    // Asking registers nothing.
    assert!(event_types(&h.app).await.is_empty());
    let listing = h.app.list_spacecraft(limit(10), 0).await.expect("list");
    assert_eq!(listing.total, 0);
}

#[tokio::test]
async fn the_status_of_a_registered_spacecraft_is_unchanged_by_the_compat_answer() {
    let h = harness();
    set_limits(
        &h.app,
        "SC-1",
        json!({"parameters": {"temp": {"warnHigh": 45}}}),
    )
    .await;
    h.app
        .ingest(snap(Some("s1"), "SC-1", -60, json!({"temp": 50})))
        .await
        .expect("ingest");
    let status = h.app.status(&sc("SC-1")).await.expect("status");
    assert_eq!(
        status.last_telemetry_timestamp.map(|t| t.to_string()),
        Some("2025-06-01T11:59:00.000Z".to_owned())
    );
    assert_eq!(status.anomalies.last1h, 1);
    assert_eq!(status.highest_severity_last24h, Severity::Medium);
    assert_eq!(status.active_alarms, 1);
}

#[tokio::test]
async fn bulk_ingest_derives_the_ids_of_id_less_snapshots_so_a_resend_stores_nothing_twice() {
    let h = harness();
    let lines = || {
        vec![
            snap(None, "SC-1", 0, json!({"temp": 20})),
            snap(None, "SC-1", 1, json!({"temp": 21})),
            snap(Some("given"), "SC-1", 2, json!({"temp": 22})),
        ]
    };
    let first = h
        .app
        .ingest_bulk(lines(), IngestMode::Live)
        .await
        .expect("first");
    assert_eq!((first.outcome.inserted, first.outcome.duplicates), (3, 0));
    let expected = |seconds: i64, temp: i64| {
        let new = snap(None, "SC-1", seconds, json!({"temp": temp}));
        SnapshotId::derived(&new.spacecraft_id, new.timestamp, &new.parameters)
    };
    assert_eq!(first.ids[0], expected(0, 20));
    assert_eq!(first.ids[1], expected(1, 21));
    assert_eq!(first.ids[2].as_str(), "given");

    let again = h
        .app
        .ingest_bulk(lines(), IngestMode::Live)
        .await
        .expect("again");
    assert_eq!((again.outcome.inserted, again.outcome.duplicates), (0, 3));
    assert_eq!(again.ids, first.ids);
    let stored = h
        .app
        .recent_telemetry(&sc("SC-1"), limit(10))
        .await
        .expect("telemetry");
    assert_eq!(stored.len(), 3);

    // A plain batch keeps generating fresh ids for id-less snapshots (compat).
    let batch = h
        .app
        .ingest_batch(vec![snap(None, "SC-1", 0, json!({"temp": 20}))])
        .await
        .expect("batch");
    assert_ne!(batch.ids[0], expected(0, 20));
    assert_eq!(batch.outcome.inserted, 1);
}
