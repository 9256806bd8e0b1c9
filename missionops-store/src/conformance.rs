//! The backend conformance suite: one set of behaviours every storage backend must show,
//! written once and run unchanged against each (memory, SQLite, Postgres).
//!
//! A backend's test target runs it with [`conformance_tests!`](crate::conformance_tests):
//!
//! ```text
//! missionops_store::conformance_tests!(missionops_store::MemoryStore::new());
//! ```
//!
//! The expression is evaluated afresh, inside an async test, for every case, so each case gets
//! an empty store. Each case panics with a message saying what the backend got wrong.

use missionops_core::{
    Alarm, AlarmFilter, AlarmId, AlarmState, AlarmStates, Anomaly, AnomalyId, AnomalyKind,
    BucketWidth, ConfigRecord, ConfigStatus, DocumentBody, DocumentCategory, DocumentFilter,
    DocumentId, DocumentTitle, Error, EventId, EventType, IngestOutcome, Limit, MissionType,
    NewEvent, OpsDocument, ParameterName, ParameterValue, Parameters, SearchQuery, Severity,
    SnapshotId, Spacecraft, SpacecraftConfig, SpacecraftId, SpacecraftName, Store, Tag, Tags,
    TelemetrySnapshot, TelemetryWrite, Timestamp,
};
use serde_json::json;

/// Generates one `#[tokio::test]` per conformance case, each on the store that `$make`
/// evaluates to (any expression, `.await` allowed). The calling crate needs `tokio` with the
/// `macros` and `rt` features as a dev-dependency.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@cases $make;
            spacecraft_are_registered_and_read_back,
            registering_an_existing_id_conflicts_and_writes_nothing,
            spacecraft_are_listed_in_registration_order_with_a_total,
            config_versions_are_kept_as_history,
            a_config_with_a_stale_version_conflicts_and_writes_nothing,
            a_config_for_an_unknown_spacecraft_is_not_found,
            recent_telemetry_is_newest_first_and_ranges_oldest_first,
            parameters_round_trip_in_order_with_their_types,
            the_same_snapshot_twice_is_stored_once,
            a_conflicting_snapshot_rejects_the_whole_batch,
            a_group_of_writes_is_stored_in_order_each_with_its_outcome,
            a_failed_write_of_a_group_fails_alone_and_stops_the_group,
            telemetry_for_an_unknown_spacecraft_is_rejected,
            telemetry_writes_carry_their_anomalies_and_events,
            the_last_telemetry_timestamp_is_the_newest_sample,
            anomalies_are_unique_and_announced_once,
            anomalies_are_queried_by_time,
            documents_are_published_updated_and_versioned,
            document_search_is_case_insensitive_ranked_and_matches_tags,
            documents_are_listed_with_filters_newest_first,
            event_sequences_are_gap_free_and_increasing,
            events_are_listed_per_spacecraft_and_resumed_after_a_sequence,
            alarms_are_saved_replaced_and_filtered,
            latest_values_are_the_newest_sample_of_each_parameter,
            a_rejected_batch_names_its_first_bad_snapshot,
            series_are_downsampled_into_epoch_aligned_buckets,
            a_change_whose_event_cannot_be_recorded_is_not_stored
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make;
                $crate::conformance::$case(&store).await;
            }
        )*
    };
}

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("test timestamp")
}

fn at(second: i64) -> Timestamp {
    ts("2025-06-01T00:00:00Z").add_millis(second * 1000)
}

fn sc(id: &str) -> SpacecraftId {
    SpacecraftId::parse(id).expect("test id")
}

fn limit(n: i64) -> Limit {
    Limit::new(n, 1000).expect("test limit")
}

fn event(n: u32, spacecraft: Option<&str>, event_type: EventType) -> NewEvent {
    NewEvent {
        id: EventId::parse(format!("ev-{n}")).expect("event id"),
        spacecraft_id: spacecraft.map(sc),
        timestamp: at(i64::from(n)),
        event_type,
        severity: Severity::Low,
        message: format!("event {n}"),
        metadata: json!({"n": n}).as_object().cloned().unwrap_or_default(),
    }
}

fn spacecraft(id: &str, second: i64) -> Spacecraft {
    Spacecraft {
        id: sc(id),
        name: SpacecraftName::parse(format!("{id} name")).expect("name"),
        mission_type: MissionType::parse("LEO_IMAGING").expect("mission"),
        metadata: json!({"orbit": "SSO"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        created_at: at(second),
        updated_at: at(second),
    }
}

async fn register(store: &dyn Store, id: &str, second: i64, n: u32) {
    store
        .register_spacecraft(
            spacecraft(id, second),
            event(n, Some(id), EventType::SpacecraftRegistered),
        )
        .await
        .expect("register spacecraft");
}

fn snapshot(id: &str, spacecraft: &str, second: i64, temp: f64) -> TelemetrySnapshot {
    TelemetrySnapshot {
        id: SnapshotId::parse(id).expect("snapshot id"),
        spacecraft_id: sc(spacecraft),
        timestamp: at(second),
        parameters: Parameters::from_json(&json!({"temp": temp, "mode": "CRUISE"}))
            .expect("parameters"),
    }
}

fn write(snapshots: Vec<TelemetrySnapshot>) -> TelemetryWrite {
    TelemetryWrite {
        snapshots,
        anomalies: Vec::new(),
        alarms: Vec::new(),
        events: Vec::new(),
    }
}

fn outcome(inserted: usize, duplicates: usize) -> IngestOutcome {
    IngestOutcome {
        inserted,
        duplicates,
    }
}

fn ids(snapshots: &[TelemetrySnapshot]) -> Vec<&str> {
    snapshots.iter().map(|s| s.id.as_str()).collect()
}

fn anomaly(spacecraft: &str, second: i64, parameter: &str, kind: AnomalyKind) -> Anomaly {
    let severity = match kind {
        AnomalyKind::CritHigh | AnomalyKind::CritLow => Severity::High,
        _ => Severity::Medium,
    };
    Anomaly {
        id: AnomalyId::parse(format!("s{second}:{parameter}:{}", kind.as_str())).expect("id"),
        spacecraft_id: sc(spacecraft),
        timestamp: at(second),
        parameter: ParameterName::parse(parameter).expect("parameter"),
        value: ParameterValue::Number(99.5),
        severity,
        kind,
        limit: Some(90.0),
        description: format!("Parameter {parameter} above warnHigh 90"),
        detected_at: at(10_000),
        window_start: Some(at(0)),
        window_end: Some(at(9_999)),
    }
}

fn config(spacecraft: &str, version: u32, warn_high: i64) -> ConfigRecord {
    ConfigRecord {
        spacecraft_id: sc(spacecraft),
        version,
        config: SpacecraftConfig::parse(
            json!({"parameters": {"temp": {"warnHigh": warn_high}}, "note": "kept"}),
        )
        .expect("config"),
        status: ConfigStatus::Approved,
        source: None,
        created_at: at(i64::from(version)),
    }
}

fn document(id: &str, second: i64, title: &str, body: &str, tags: &[&str]) -> OpsDocument {
    OpsDocument {
        id: DocumentId::parse(id).expect("doc id"),
        spacecraft_id: Some(sc("SC-1")),
        title: DocumentTitle::parse(title).expect("title"),
        category: DocumentCategory::parse("procedure").expect("category"),
        tags: Tags::new(tags.iter().map(|t| Tag::parse(*t).expect("tag")).collect()).expect("tags"),
        body: DocumentBody::parse(body).expect("body"),
        published_at: at(second),
        updated_at: at(second),
        version: 1,
    }
}

async fn event_count(store: &dyn Store) -> usize {
    store
        .recent_events(None, limit(1000))
        .await
        .expect("list events")
        .len()
}

/// A registered spacecraft reads back field for field, and its event is recorded.
pub async fn spacecraft_are_registered_and_read_back(store: &dyn Store) {
    register(store, "SC-1", 1, 1).await;
    let got = store.get_spacecraft(&sc("SC-1")).await.expect("get");
    assert_eq!(
        got,
        Some(spacecraft("SC-1", 1)),
        "spacecraft read back differs"
    );
    assert_eq!(store.get_spacecraft(&sc("SC-2")).await.expect("get"), None);
    let events = store.recent_events(None, limit(10)).await.expect("events");
    assert_eq!(events.len(), 1, "registration must record its event");
    assert_eq!(events[0].event_type, EventType::SpacecraftRegistered);
}

/// Registering an id twice is a conflict that changes nothing.
pub async fn registering_an_existing_id_conflicts_and_writes_nothing(store: &dyn Store) {
    register(store, "SC-1", 1, 1).await;
    let mut other = spacecraft("SC-1", 5);
    other.name = SpacecraftName::parse("impostor").expect("name");
    let err = store
        .register_spacecraft(
            other,
            event(2, Some("SC-1"), EventType::SpacecraftRegistered),
        )
        .await
        .expect_err("second registration must fail");
    assert!(
        matches!(err, Error::Conflict { .. }),
        "expected a conflict, got {err}"
    );
    let got = store.get_spacecraft(&sc("SC-1")).await.expect("get");
    assert_eq!(
        got,
        Some(spacecraft("SC-1", 1)),
        "the first registration must stay"
    );
    assert_eq!(
        event_count(store).await,
        1,
        "a failed write must record no event"
    );
}

/// Listing pages through spacecraft oldest registration first and counts them all.
pub async fn spacecraft_are_listed_in_registration_order_with_a_total(store: &dyn Store) {
    register(store, "SC-B", 2, 1).await;
    register(store, "SC-A", 3, 2).await;
    register(store, "SC-C", 1, 3).await;
    let page = store.list_spacecraft(limit(2), 0).await.expect("list");
    assert_eq!(page.total, 3);
    let names: Vec<&str> = page.items.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(names, ["SC-C", "SC-B"]);
    let page = store.list_spacecraft(limit(2), 2).await.expect("list");
    let names: Vec<&str> = page.items.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(names, ["SC-A"]);
    let page = store.list_spacecraft(limit(2), 10).await.expect("list");
    assert!(page.items.is_empty());
    assert_eq!(page.total, 3);
}

/// Every configuration version is kept; the newest is current.
pub async fn config_versions_are_kept_as_history(store: &dyn Store) {
    register(store, "SC-1", 1, 1).await;
    assert_eq!(store.current_config(&sc("SC-1")).await.expect("get"), None);
    store
        .put_config(
            config("SC-1", 1, 45),
            event(2, Some("SC-1"), EventType::ConfigChanged),
        )
        .await
        .expect("put v1");
    store
        .put_config(
            config("SC-1", 2, 50),
            event(3, Some("SC-1"), EventType::ConfigChanged),
        )
        .await
        .expect("put v2");
    let current = store.current_config(&sc("SC-1")).await.expect("get");
    assert_eq!(current, Some(config("SC-1", 2, 50)));
    let history = store.config_history(&sc("SC-1")).await.expect("history");
    assert_eq!(history, vec![config("SC-1", 1, 45), config("SC-1", 2, 50)]);
    assert_eq!(
        store
            .current_config_version(&sc("SC-1"))
            .await
            .expect("version"),
        Some(2)
    );
    assert_eq!(
        store
            .current_config_version(&sc("SC-404"))
            .await
            .expect("version"),
        None
    );
    assert_eq!(
        serde_json::to_string(history[0].config.as_object()).expect("json"),
        r#"{"parameters":{"temp":{"warnHigh":45}},"note":"kept"}"#,
        "the document must come back with its fields in order"
    );
    assert_eq!(event_count(store).await, 3);
}

/// A version that is not current + 1 lost a race: conflict, nothing written.
pub async fn a_config_with_a_stale_version_conflicts_and_writes_nothing(store: &dyn Store) {
    register(store, "SC-1", 1, 1).await;
    store
        .put_config(
            config("SC-1", 1, 45),
            event(2, Some("SC-1"), EventType::ConfigChanged),
        )
        .await
        .expect("put v1");
    for version in [1, 3] {
        let err = store
            .put_config(
                config("SC-1", version, 60),
                event(10 + version, Some("SC-1"), EventType::ConfigChanged),
            )
            .await
            .expect_err("stale version must fail");
        assert!(matches!(err, Error::Conflict { .. }), "got {err}");
    }
    assert_eq!(store.config_history(&sc("SC-1")).await.expect("h").len(), 1);
    assert_eq!(event_count(store).await, 2);
}

/// A configuration needs its spacecraft.
pub async fn a_config_for_an_unknown_spacecraft_is_not_found(store: &dyn Store) {
    let err = store
        .put_config(
            config("SC-9", 1, 45),
            event(1, Some("SC-9"), EventType::ConfigChanged),
        )
        .await
        .expect_err("unknown spacecraft");
    assert!(matches!(err, Error::NotFound { .. }), "got {err}");
    assert_eq!(event_count(store).await, 0);
}

/// Recent telemetry is newest first (ties: last stored first); ranges are inclusive and oldest
/// first (ties: first stored first), capped at `max`.
pub async fn recent_telemetry_is_newest_first_and_ranges_oldest_first(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    store
        .insert_telemetry(write(vec![
            snapshot("c", "SC-1", 3, 1.0),
            snapshot("a", "SC-1", 1, 1.0),
            snapshot("b1", "SC-1", 2, 1.0),
            snapshot("b2", "SC-1", 2, 2.0),
            snapshot("x", "SC-2", 2, 1.0),
        ]))
        .await
        .expect("insert");
    let recent = store
        .recent_telemetry(&sc("SC-1"), limit(3))
        .await
        .expect("recent");
    assert_eq!(ids(&recent), ["c", "b2", "b1"]);
    let range = store
        .telemetry_range(&sc("SC-1"), at(1), at(2), 100)
        .await
        .expect("range");
    assert_eq!(ids(&range), ["a", "b1", "b2"]);
    let capped = store
        .telemetry_range(&sc("SC-1"), at(0), at(10), 2)
        .await
        .expect("range");
    assert_eq!(ids(&capped), ["a", "b1"]);
    let none = store
        .recent_telemetry(&sc("SC-3"), limit(3))
        .await
        .expect("recent");
    assert!(none.is_empty());
}

/// Parameters come back in the order given, with numbers, strings and booleans intact.
pub async fn parameters_round_trip_in_order_with_their_types(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let parameters = Parameters::from_json(&json!({
        "z_last_alpha": 1e21, "tiny": 1e-7, "mode": "SAFE", "flag": true, "neg": -150,
        "frac": 0.30000000000000004, "big": 300_000_000_000_000_070_000.0
    }))
    .expect("parameters");
    let original = TelemetrySnapshot {
        id: SnapshotId::parse("p1").expect("id"),
        spacecraft_id: sc("SC-1"),
        timestamp: ts("2025-06-01T00:00:00.123Z"),
        parameters,
    };
    store
        .insert_telemetry(write(vec![original.clone()]))
        .await
        .expect("insert");
    let back = store
        .recent_telemetry(&sc("SC-1"), limit(1))
        .await
        .expect("recent");
    assert_eq!(back, vec![original], "snapshot must round-trip exactly");
}

/// Ingest is idempotent by id: the same content again is a duplicate, stored once.
pub async fn the_same_snapshot_twice_is_stored_once(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let first = store
        .insert_telemetry(write(vec![snapshot("a", "SC-1", 1, 1.0)]))
        .await
        .expect("insert");
    assert_eq!((first.inserted, first.duplicates), (1, 0));
    let again = store
        .insert_telemetry(write(vec![
            snapshot("a", "SC-1", 1, 1.0),
            snapshot("b", "SC-1", 2, 1.0),
        ]))
        .await
        .expect("insert again");
    assert_eq!((again.inserted, again.duplicates), (1, 1));
    let all = store
        .recent_telemetry(&sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert_eq!(ids(&all), ["b", "a"]);
}

/// The same id with different content rejects the whole batch, naming the index.
pub async fn a_conflicting_snapshot_rejects_the_whole_batch(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    store
        .insert_telemetry(write(vec![snapshot("a", "SC-1", 1, 1.0)]))
        .await
        .expect("insert");
    let err = store
        .insert_telemetry(TelemetryWrite {
            snapshots: vec![snapshot("b", "SC-1", 2, 1.0), snapshot("a", "SC-1", 1, 7.0)],
            anomalies: vec![anomaly("SC-1", 2, "temp", AnomalyKind::WarnHigh)],
            alarms: Vec::new(),
            events: vec![event(5, Some("SC-1"), EventType::Anomaly)],
        })
        .await
        .expect_err("conflict");
    match err {
        Error::Conflict { id, reason, .. } => {
            assert_eq!(id, "a");
            assert!(
                reason.contains("snapshots[1]"),
                "reason must name the index: {reason}"
            );
        }
        other => panic!("expected a conflict, got {other}"),
    }
    let all = store
        .recent_telemetry(&sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert_eq!(ids(&all), ["a"], "nothing of a failed batch may be stored");
    assert_eq!(
        all[0],
        snapshot("a", "SC-1", 1, 1.0),
        "the stored snapshot must not change"
    );
    let anomalies = store
        .recent_anomalies(&sc("SC-1"), limit(10))
        .await
        .expect("anomalies");
    assert!(
        anomalies.is_empty(),
        "no anomaly of a failed batch may be stored"
    );
    assert_eq!(
        event_count(store).await,
        1,
        "no event of a failed batch may be recorded"
    );
}

/// A group of writes stores each as it would be stored alone after the ones before it: all
/// new (one transaction on a backend that groups them), then with a snapshot stored before
/// and an id repeated across writes (each write's own duplicates counted).
pub async fn a_group_of_writes_is_stored_in_order_each_with_its_outcome(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let fresh = store
        .insert_telemetry_group(vec![
            TelemetryWrite {
                snapshots: vec![snapshot("a", "SC-1", 1, 1.0), snapshot("b", "SC-1", 2, 1.0)],
                anomalies: vec![anomaly("SC-1", 2, "temp", AnomalyKind::WarnHigh)],
                alarms: Vec::new(),
                events: vec![event(10, Some("SC-1"), EventType::Anomaly)],
            },
            write(vec![snapshot("c", "SC-1", 3, 2.0)]),
            TelemetryWrite {
                snapshots: vec![snapshot("d", "SC-1", 3, 5.0)],
                // The same anomaly again: stored once, as two writes in a row would.
                anomalies: vec![anomaly("SC-1", 2, "temp", AnomalyKind::WarnHigh)],
                alarms: Vec::new(),
                events: vec![event(11, Some("SC-1"), EventType::Anomaly)],
            },
        ])
        .await;
    assert!(fresh.failure.is_none(), "{:?}", fresh.failure);
    assert_eq!(
        fresh.stored,
        vec![outcome(2, 0), outcome(1, 0), outcome(1, 0),]
    );
    let retried = store
        .insert_telemetry_group(vec![
            write(vec![
                snapshot("a", "SC-1", 1, 1.0),
                snapshot("e", "SC-1", 4, 1.0),
            ]),
            write(vec![snapshot("f", "SC-1", 5, 1.0)]),
            write(vec![snapshot("f", "SC-1", 5, 1.0)]),
        ])
        .await;
    assert!(retried.failure.is_none(), "{:?}", retried.failure);
    assert_eq!(
        retried.stored,
        vec![outcome(1, 1), outcome(1, 0), outcome(0, 1),]
    );
    let all = store
        .recent_telemetry(&sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert_eq!(ids(&all), ["f", "e", "d", "c", "b", "a"]);
    let latest = store.latest_values(&sc("SC-1")).await.expect("latest");
    let temp = latest
        .iter()
        .find(|v| v.parameter.as_str() == "temp")
        .expect("temp");
    assert_eq!(temp.timestamp, at(5));
    let anomalies = store
        .recent_anomalies(&sc("SC-1"), limit(10))
        .await
        .expect("anomalies");
    assert_eq!(anomalies.len(), 1);
    assert_eq!(event_count(store).await, 3);
}

/// A write of a group that fails gets its error and leaves nothing behind; the writes before
/// it are stored, the ones after it are not attempted.
pub async fn a_failed_write_of_a_group_fails_alone_and_stops_the_group(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    store
        .insert_telemetry(write(vec![snapshot("a", "SC-1", 1, 1.0)]))
        .await
        .expect("insert");
    let group = store
        .insert_telemetry_group(vec![
            write(vec![snapshot("b", "SC-1", 2, 1.0)]),
            TelemetryWrite {
                snapshots: vec![snapshot("c", "SC-1", 3, 1.0), snapshot("a", "SC-1", 1, 7.0)],
                anomalies: Vec::new(),
                alarms: Vec::new(),
                events: vec![event(10, Some("SC-1"), EventType::Anomaly)],
            },
            write(vec![snapshot("d", "SC-1", 4, 1.0)]),
        ])
        .await;
    assert_eq!(group.stored, vec![outcome(1, 0)]);
    match group.failure {
        Some(Error::Conflict { id, reason, .. }) => {
            assert_eq!(id, "a");
            assert!(reason.contains("snapshots[1]"), "{reason}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let all = store
        .recent_telemetry(&sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert_eq!(ids(&all), ["b", "a"]);
    assert_eq!(event_count(store).await, 1);
}

/// Telemetry needs its spacecraft; nothing of the batch is stored otherwise.
pub async fn telemetry_for_an_unknown_spacecraft_is_rejected(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let err = store
        .insert_telemetry(write(vec![
            snapshot("a", "SC-1", 1, 1.0),
            snapshot("b", "SC-404", 1, 1.0),
        ]))
        .await
        .expect_err("unknown spacecraft");
    assert!(matches!(err, Error::NotFound { .. }), "got {err}");
    let all = store
        .recent_telemetry(&sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert!(all.is_empty());
}

/// Anomalies and events given with telemetry are stored with it.
pub async fn telemetry_writes_carry_their_anomalies_and_events(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let outcome = store
        .insert_telemetry(TelemetryWrite {
            snapshots: vec![snapshot("a", "SC-1", 1, 99.5)],
            anomalies: vec![anomaly("SC-1", 1, "temp", AnomalyKind::WarnHigh)],
            alarms: vec![test_alarm("al-1", "SC-1", 1)],
            events: vec![event(2, Some("SC-1"), EventType::Anomaly)],
        })
        .await
        .expect("insert");
    assert_eq!(outcome.inserted, 1);
    assert_eq!(
        store
            .get_alarm(&test_alarm("al-1", "SC-1", 1).id)
            .await
            .expect("alarm"),
        Some(test_alarm("al-1", "SC-1", 1))
    );
    // An alarm change alone (a clock tick's) is a write of its own, replacing by id.
    let mut cleared = test_alarm("al-1", "SC-1", 1);
    cleared.state = AlarmState::Cleared;
    cleared.cleared_at = Some(at(3));
    cleared.violation_count = 4;
    let outcome = store
        .insert_telemetry(TelemetryWrite {
            alarms: vec![cleared.clone()],
            events: vec![event(3, Some("SC-1"), EventType::AnomalyCleared)],
            ..TelemetryWrite::default()
        })
        .await
        .expect("alarm alone");
    assert_eq!(outcome, IngestOutcome::default());
    assert_eq!(
        store.get_alarm(&cleared.id).await.expect("alarm"),
        Some(cleared)
    );
    let anomalies = store
        .recent_anomalies(&sc("SC-1"), limit(10))
        .await
        .expect("anomalies");
    assert_eq!(
        anomalies,
        vec![anomaly("SC-1", 1, "temp", AnomalyKind::WarnHigh)]
    );
    let events = store.recent_events(None, limit(10)).await.expect("events");
    assert_eq!(events[0].event_type, EventType::AnomalyCleared);
    assert_eq!(events[1].event_type, EventType::Anomaly);
    assert_eq!(events.len(), 3);
}

fn test_alarm(id: &str, spacecraft: &str, opened: i64) -> Alarm {
    Alarm {
        id: AlarmId::parse(id).expect("id"),
        spacecraft_id: sc(spacecraft),
        parameter: ParameterName::parse("temp").expect("parameter"),
        kind: AnomalyKind::WarnHigh,
        state: AlarmState::Active,
        severity: Severity::Medium,
        violation_count: 1,
        opened_at: at(opened),
        last_value: ParameterValue::Number(50.0),
        cleared_at: None,
        acknowledged_by: None,
        acknowledged_at: None,
        comment: None,
        shelved_until: None,
    }
}

/// The last telemetry timestamp is the newest sample time, not the last stored.
pub async fn the_last_telemetry_timestamp_is_the_newest_sample(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    assert_eq!(
        store
            .last_telemetry_timestamp(&sc("SC-1"))
            .await
            .expect("last"),
        None
    );
    store
        .insert_telemetry(write(vec![
            snapshot("b", "SC-1", 9, 1.0),
            snapshot("a", "SC-1", 4, 1.0),
        ]))
        .await
        .expect("insert");
    assert_eq!(
        store
            .last_telemetry_timestamp(&sc("SC-1"))
            .await
            .expect("last"),
        Some(at(9))
    );
}

/// Persisting the same (spacecraft, parameter, timestamp, kind) twice stores and announces it
/// once.
pub async fn anomalies_are_unique_and_announced_once(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let first = store
        .persist_anomalies(vec![
            (
                anomaly("SC-1", 1, "temp", AnomalyKind::WarnHigh),
                event(2, Some("SC-1"), EventType::Anomaly),
            ),
            (
                anomaly("SC-1", 1, "temp", AnomalyKind::CritHigh),
                event(3, Some("SC-1"), EventType::Anomaly),
            ),
        ])
        .await
        .expect("persist");
    assert_eq!(first, 2);
    let again = store
        .persist_anomalies(vec![
            (
                anomaly("SC-1", 1, "temp", AnomalyKind::WarnHigh),
                event(4, Some("SC-1"), EventType::Anomaly),
            ),
            (
                anomaly("SC-1", 2, "temp", AnomalyKind::WarnHigh),
                event(5, Some("SC-1"), EventType::Anomaly),
            ),
        ])
        .await
        .expect("persist again");
    assert_eq!(again, 1, "only the new anomaly counts");
    let stored = store
        .recent_anomalies(&sc("SC-1"), limit(10))
        .await
        .expect("list");
    assert_eq!(stored.len(), 3);
    let events = store.recent_events(None, limit(10)).await.expect("events");
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        ["ev-5", "ev-3", "ev-2", "ev-1"],
        "a skipped anomaly records no event"
    );
}

/// Anomalies are listed newest first, as a timeline oldest first, counted since a time, and
/// found by id.
pub async fn anomalies_are_queried_by_time(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    let mut crit = anomaly("SC-1", 30, "volt", AnomalyKind::CritLow);
    crit.value = ParameterValue::Number(-3.5);
    store
        .persist_anomalies(vec![
            (
                anomaly("SC-1", 10, "temp", AnomalyKind::WarnHigh),
                event(3, Some("SC-1"), EventType::Anomaly),
            ),
            (crit.clone(), event(4, Some("SC-1"), EventType::Anomaly)),
            (
                anomaly("SC-1", 20, "temp", AnomalyKind::WarnHigh),
                event(5, Some("SC-1"), EventType::Anomaly),
            ),
            (
                anomaly("SC-2", 25, "temp", AnomalyKind::CritHigh),
                event(6, Some("SC-2"), EventType::Anomaly),
            ),
        ])
        .await
        .expect("persist");
    let recent = store
        .recent_anomalies(&sc("SC-1"), limit(2))
        .await
        .expect("recent");
    let seconds: Vec<i64> = recent
        .iter()
        .map(|a| (a.timestamp.as_millis() - at(0).as_millis()) / 1000)
        .collect();
    assert_eq!(seconds, [30, 20]);
    let timeline = store
        .anomaly_timeline(&sc("SC-1"), at(10), at(20))
        .await
        .expect("timeline");
    assert_eq!(timeline.len(), 2);
    assert!(timeline[0].timestamp < timeline[1].timestamp);
    let count = store
        .count_anomalies_since(&sc("SC-1"), at(15))
        .await
        .expect("count");
    assert_eq!(count.count, 2);
    assert_eq!(count.highest, Some(Severity::High));
    let none = store
        .count_anomalies_since(&sc("SC-1"), at(31))
        .await
        .expect("count");
    assert_eq!((none.count, none.highest), (0, None));
    assert_eq!(store.get_anomaly(&crit.id).await.expect("get"), Some(crit));
    let missing = AnomalyId::parse("nope").expect("id");
    assert_eq!(store.get_anomaly(&missing).await.expect("get"), None);
}

/// Documents are published once, updated to the next version only, and read back exactly.
pub async fn documents_are_published_updated_and_versioned(store: &dyn Store) {
    let doc = document("d1", 1, "Battery recovery", "Steps", &["battery_soc"]);
    store
        .publish_document(
            doc.clone(),
            event(1, Some("SC-1"), EventType::DocumentPublished),
        )
        .await
        .expect("publish");
    assert_eq!(
        store.get_document(&doc.id).await.expect("get"),
        Some(doc.clone())
    );
    let err = store
        .publish_document(doc.clone(), event(2, None, EventType::DocumentPublished))
        .await
        .expect_err("publish twice");
    assert!(matches!(err, Error::Conflict { .. }), "got {err}");
    let mut next = doc.clone();
    next.version = 2;
    next.body = DocumentBody::parse("Steps, revised").expect("body");
    next.updated_at = at(5);
    store
        .update_document(
            next.clone(),
            event(3, Some("SC-1"), EventType::DocumentUpdated),
        )
        .await
        .expect("update");
    assert_eq!(
        store.get_document(&doc.id).await.expect("get"),
        Some(next.clone())
    );
    let err = store
        .update_document(next.clone(), event(4, None, EventType::DocumentUpdated))
        .await
        .expect_err("same version again");
    assert!(matches!(err, Error::Conflict { .. }), "got {err}");
    let mut missing = next;
    missing.id = DocumentId::parse("d404").expect("id");
    let err = store
        .update_document(missing, event(5, None, EventType::DocumentUpdated))
        .await
        .expect_err("missing");
    assert!(matches!(err, Error::NotFound { .. }), "got {err}");
    assert_eq!(event_count(store).await, 2);
}

/// Search matches title or body ignoring case, or an exact tag; title hits rank first.
pub async fn document_search_is_case_insensitive_ranked_and_matches_tags(store: &dyn Store) {
    let docs = [
        document("body", 1, "Power notes", "check the BATTERY heaters", &[]),
        document("title", 2, "Battery recovery", "steps", &[]),
        document("tag", 3, "Thermal", "nothing here", &["battery"]),
        document("none", 4, "Attitude", "wheels", &["adcs"]),
    ];
    for (n, doc) in docs.iter().enumerate() {
        store
            .publish_document(
                doc.clone(),
                event(n as u32 + 1, None, EventType::DocumentPublished),
            )
            .await
            .expect("publish");
    }
    let query = SearchQuery::parse("battery").expect("query");
    let found = store
        .search_documents(&query, limit(10))
        .await
        .expect("search");
    let ids: Vec<&str> = found.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "three documents match: {ids:?}");
    assert!(!ids.contains(&"none"));
    let rank = |id: &str| ids.iter().position(|d| *d == id);
    assert!(
        rank("title") < rank("body"),
        "a title match ranks above a body match: {ids:?}"
    );
    let found = store
        .search_documents(&query, limit(1))
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    let query = SearchQuery::parse("adcs").expect("query");
    let found = store
        .search_documents(&query, limit(10))
        .await
        .expect("search");
    assert_eq!(found.len(), 1, "an exact tag matches");
}

/// Listing filters by spacecraft, category and tag, newest first, with an offset.
pub async fn documents_are_listed_with_filters_newest_first(store: &dyn Store) {
    let mut note = document("note", 3, "Note", "text", &["ops"]);
    note.category = DocumentCategory::parse("mission_note").expect("category");
    note.spacecraft_id = Some(sc("SC-2"));
    let docs = [
        document("p1", 1, "Proc 1", "text", &["battery_soc"]),
        document("p2", 2, "Proc 2", "text", &["bus_voltage"]),
        note,
    ];
    for (n, doc) in docs.iter().enumerate() {
        store
            .publish_document(
                doc.clone(),
                event(n as u32 + 1, None, EventType::DocumentPublished),
            )
            .await
            .expect("publish");
    }
    let list = |spacecraft: Option<&str>, category: Option<&str>, tag: Option<&str>, offset| {
        DocumentFilter {
            spacecraft_id: spacecraft.map(sc),
            category: category.map(|c| DocumentCategory::parse(c).expect("category")),
            tag: tag.map(|t| Tag::parse(t).expect("tag")),
            limit: limit(10),
            offset,
        }
    };
    let names = |docs: Vec<OpsDocument>| -> Vec<String> {
        docs.into_iter().map(|d| d.id.into_string()).collect()
    };
    let all = store
        .list_documents(&list(None, None, None, 0))
        .await
        .expect("list");
    assert_eq!(names(all), ["note", "p2", "p1"]);
    let skipped = store
        .list_documents(&list(None, None, None, 1))
        .await
        .expect("list");
    assert_eq!(names(skipped), ["p2", "p1"]);
    let by_sc = store
        .list_documents(&list(Some("SC-1"), None, None, 0))
        .await
        .expect("list");
    assert_eq!(names(by_sc), ["p2", "p1"]);
    let by_cat = store
        .list_documents(&list(None, Some("mission_note"), None, 0))
        .await
        .expect("list");
    assert_eq!(names(by_cat), ["note"]);
    let by_tag = store
        .list_documents(&list(None, None, Some("battery_soc"), 0))
        .await
        .expect("list");
    assert_eq!(names(by_tag), ["p1"]);
}

/// Every recorded event gets the next sequence, from 1, without gaps, whatever wrote it.
pub async fn event_sequences_are_gap_free_and_increasing(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    store
        .put_config(
            config("SC-1", 1, 45),
            event(2, Some("SC-1"), EventType::ConfigChanged),
        )
        .await
        .expect("config");
    // A failed write must not consume a sequence number.
    let _ = store
        .register_spacecraft(
            spacecraft("SC-1", 0),
            event(3, Some("SC-1"), EventType::SpacecraftRegistered),
        )
        .await;
    let recorded = store
        .record_event(event(4, None, EventType::Info))
        .await
        .expect("record");
    assert_eq!(recorded.sequence, 3);
    store
        .insert_telemetry(TelemetryWrite {
            snapshots: vec![snapshot("a", "SC-1", 1, 1.0)],
            anomalies: vec![],
            alarms: Vec::new(),
            events: vec![event(5, Some("SC-1"), EventType::ModeChange)],
        })
        .await
        .expect("insert");
    let events = store.recent_events(None, limit(100)).await.expect("events");
    let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [4, 3, 2, 1]);
    assert_eq!(events[1], event(4, None, EventType::Info).recorded(3));
}

/// Events filter by spacecraft and resume after a sequence, oldest first.
pub async fn events_are_listed_per_spacecraft_and_resumed_after_a_sequence(store: &dyn Store) {
    for n in 1..=6 {
        let spacecraft = if n % 2 == 0 {
            Some("SC-2")
        } else {
            Some("SC-1")
        };
        store
            .record_event(event(n, spacecraft, EventType::Info))
            .await
            .expect("record");
    }
    let sc1 = store
        .recent_events(Some(&sc("SC-1")), limit(2))
        .await
        .expect("events");
    let sequences: Vec<u64> = sc1.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [5, 3]);
    let after = store.events_after(2, None, limit(3)).await.expect("after");
    let sequences: Vec<u64> = after.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [3, 4, 5]);
    let after = store
        .events_after(2, Some(&sc("SC-2")), limit(10))
        .await
        .expect("after");
    let sequences: Vec<u64> = after.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [4, 6]);
    assert!(
        store
            .events_after(6, None, limit(10))
            .await
            .expect("after")
            .is_empty()
    );
}

/// Alarms are created, replaced by id, filtered by spacecraft and state, newest first.
pub async fn alarms_are_saved_replaced_and_filtered(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    let alarm = |id: &str, spacecraft: &str, opened: i64, state: AlarmState| Alarm {
        state,
        ..test_alarm(id, spacecraft, opened)
    };
    store
        .save_alarm(
            alarm("a1", "SC-1", 1, AlarmState::Active),
            vec![event(3, Some("SC-1"), EventType::Anomaly)],
        )
        .await
        .expect("save");
    store
        .save_alarm(alarm("a2", "SC-1", 2, AlarmState::Active), vec![])
        .await
        .expect("save");
    store
        .save_alarm(alarm("a3", "SC-2", 3, AlarmState::Active), vec![])
        .await
        .expect("save");
    let mut acked = alarm("a1", "SC-1", 1, AlarmState::Acknowledged);
    acked.acknowledged_by = Some(missionops_core::Operator::parse("flight").expect("op"));
    acked.acknowledged_at = Some(at(4));
    acked.comment = Some("looking".to_owned());
    acked.violation_count = 3;
    store
        .save_alarm(
            acked.clone(),
            vec![event(4, Some("SC-1"), EventType::AlarmAcknowledged)],
        )
        .await
        .expect("replace");
    assert_eq!(store.get_alarm(&acked.id).await.expect("get"), Some(acked));
    let all = store
        .list_alarms(&AlarmFilter::default())
        .await
        .expect("list");
    let ids: Vec<&str> = all.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a3", "a2", "a1"]);
    let filter = AlarmFilter {
        spacecraft_id: Some(sc("SC-1")),
        states: AlarmStates::Only(AlarmState::Active),
    };
    let active = store.list_alarms(&filter).await.expect("list");
    let ids: Vec<&str> = active.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a2"]);
    // A cleared alarm leaves the default (open) listing but stays in the history.
    let mut cleared = alarm("a2", "SC-1", 2, AlarmState::Cleared);
    cleared.cleared_at = Some(at(5));
    store.save_alarm(cleared, vec![]).await.expect("clear");
    let open = store
        .list_alarms(&AlarmFilter::default())
        .await
        .expect("list");
    let ids: Vec<&str> = open.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a3", "a1"]);
    let every = store
        .list_alarms(&AlarmFilter {
            spacecraft_id: None,
            states: AlarmStates::All,
        })
        .await
        .expect("list");
    assert_eq!(every.len(), 3);
    let history = store
        .list_alarms(&AlarmFilter {
            spacecraft_id: None,
            states: AlarmStates::Only(AlarmState::Cleared),
        })
        .await
        .expect("list");
    let ids: Vec<&str> = history.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a2"]);
    assert_eq!(event_count(store).await, 4);
}

/// The latest value of each parameter is the one of its newest sample time, whatever the
/// order of arrival; parameters are ordered by name.
pub async fn latest_values_are_the_newest_sample_of_each_parameter(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let snap = |id: &str, second: i64, parameters: serde_json::Value| TelemetrySnapshot {
        id: SnapshotId::parse(id).expect("id"),
        spacecraft_id: sc("SC-1"),
        timestamp: at(second),
        parameters: Parameters::from_json(&parameters).expect("parameters"),
    };
    store
        .insert_telemetry(write(vec![
            snap("new", 5, json!({"temp": 30, "mode": "SAFE"})),
            snap(
                "old",
                1,
                json!({"temp": 10, "mode": "CRUISE", "volt": 28.5}),
            ),
        ]))
        .await
        .expect("insert");
    assert_eq!(
        latest_of(store, "SC-1").await,
        vec![
            ("mode".to_owned(), "SAFE".to_owned(), at(5)),
            ("temp".to_owned(), "30".to_owned(), at(5)),
            ("volt".to_owned(), "28.5".to_owned(), at(1)),
        ]
    );
    assert!(
        store
            .latest_values(&sc("SC-9"))
            .await
            .expect("latest")
            .is_empty()
    );
    // Across batches: an older sample arriving later does not replace a newer one...
    store
        .insert_telemetry(write(vec![snap("older", 4, json!({"temp": 2, "volt": 3}))]))
        .await
        .expect("insert");
    // ...a sample of the same time arriving later does, the last stored of a tie winning...
    store
        .insert_telemetry(write(vec![
            snap("tie-1", 5, json!({"mode": "B"})),
            snap("tie-2", 5, json!({"mode": "C"})),
        ]))
        .await
        .expect("insert");
    // ...and a repeated snapshot is not stored again, so it does not count as the last stored.
    store
        .insert_telemetry(write(vec![snap("tie-1", 5, json!({"mode": "B"}))]))
        .await
        .expect("duplicate");
    assert_eq!(
        latest_of(store, "SC-1").await,
        vec![
            ("mode".to_owned(), "C".to_owned(), at(5)),
            ("temp".to_owned(), "30".to_owned(), at(5)),
            ("volt".to_owned(), "3".to_owned(), at(4)),
        ]
    );
}

/// `spacecraft`'s latest values as (parameter, value text, sample time), by parameter name.
async fn latest_of(store: &dyn Store, spacecraft: &str) -> Vec<(String, String, Timestamp)> {
    store
        .latest_values(&sc(spacecraft))
        .await
        .expect("latest")
        .into_iter()
        .map(|l| (l.parameter.into_string(), l.value.to_string(), l.timestamp))
        .collect()
}

/// A batch that cannot be stored names its first bad snapshot by index, whatever is wrong
/// with it and however many duplicates come before it, and leaves nothing behind.
pub async fn a_rejected_batch_names_its_first_bad_snapshot(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    store
        .insert_telemetry(write(vec![
            snapshot("a", "SC-1", 1, 1.0),
            snapshot("b", "SC-1", 2, 2.0),
        ]))
        .await
        .expect("insert");
    let expect_conflict_at = |err: Error, id: &str, index: &str| match err {
        Error::Conflict {
            id: got, reason, ..
        } => {
            assert_eq!(got, id);
            assert!(reason.contains(index), "{reason} should name {index}");
        }
        other => panic!("expected a conflict at {index}, got {other}"),
    };
    // Different content under a stored id.
    let err = store
        .insert_telemetry(write(vec![
            snapshot("a", "SC-1", 1, 9.0),
            snapshot("c", "SC-1", 2, 1.0),
        ]))
        .await
        .expect_err("conflict");
    expect_conflict_at(err, "a", "snapshots[0]");
    // A stored id moved to another spacecraft, after a new snapshot and a true duplicate.
    let err = store
        .insert_telemetry(write(vec![
            snapshot("new", "SC-1", 3, 3.0),
            snapshot("a", "SC-1", 1, 1.0),
            snapshot("b", "SC-2", 2, 2.0),
        ]))
        .await
        .expect_err("b moved to another spacecraft");
    expect_conflict_at(err, "b", "snapshots[2]");
    let err = store
        .insert_telemetry(write(vec![
            snapshot("x", "SC-1", 3, 3.0),
            snapshot("x", "SC-1", 4, 3.0),
        ]))
        .await
        .expect_err("repeated id");
    assert!(matches!(err, Error::Conflict { .. }), "got {err}");
    let err = store
        .insert_telemetry(write(vec![
            snapshot("d", "SC-404", 2, 1.0),
            snapshot("a", "SC-1", 1, 9.0),
        ]))
        .await
        .expect_err("unknown spacecraft first");
    assert!(matches!(err, Error::NotFound { .. }), "got {err}");
    let stored = store
        .recent_telemetry(&sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert_eq!(stored.len(), 2, "nothing of the rejected batches is stored");
    assert!(
        store
            .latest_values(&sc("SC-2"))
            .await
            .expect("latest")
            .is_empty()
    );
}

/// Series buckets hold min, max, avg, count and last of the numeric samples in range.
pub async fn series_are_downsampled_into_epoch_aligned_buckets(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let values = [
        (0, 1.0),
        (30, 3.0),
        (59, 2.0),
        (60, 10.0),
        (200, 7.0),
        (250, 9.0),
    ];
    let mut snapshots: Vec<TelemetrySnapshot> = values
        .iter()
        .map(|(second, v)| snapshot(&format!("s{second}"), "SC-1", *second, *v))
        .collect();
    snapshots.push(TelemetrySnapshot {
        id: SnapshotId::parse("text").expect("id"),
        spacecraft_id: sc("SC-1"),
        timestamp: at(61),
        parameters: Parameters::from_json(&json!({"temp": "n/a"})).expect("parameters"),
    });
    store
        .insert_telemetry(write(snapshots))
        .await
        .expect("insert");
    let temp = ParameterName::parse("temp").expect("name");
    let minute = BucketWidth::parse("1m").expect("bucket");
    let series = store
        .telemetry_series(&sc("SC-1"), &temp, at(0), at(210), minute)
        .await
        .expect("series");
    let got: Vec<(i64, f64, f64, f64, u64, f64)> = series
        .iter()
        .map(|b| {
            let start = (b.start.as_millis() - at(0).as_millis()) / 1000;
            (start, b.min, b.max, b.avg, b.count, b.last)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (0, 1.0, 3.0, 2.0, 3, 2.0),
            (60, 10.0, 10.0, 10.0, 1, 10.0),
            (180, 7.0, 7.0, 7.0, 1, 7.0)
        ],
        "empty buckets are omitted and strings are not counted"
    );
    let other = ParameterName::parse("mode").expect("name");
    let none = store
        .telemetry_series(&sc("SC-1"), &other, at(0), at(300), minute)
        .await
        .expect("series");
    assert!(none.is_empty(), "a string parameter has no numeric series");
}

/// A write whose event cannot be recorded (its id is taken) fails whole: the state change is
/// not stored either, and no sequence number is used up.
pub async fn a_change_whose_event_cannot_be_recorded_is_not_stored(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let taken = || event(1, Some("SC-1"), EventType::Info);

    let err = store
        .register_spacecraft(spacecraft("SC-2", 1), taken())
        .await;
    assert!(err.is_err(), "registration with a taken event id must fail");
    assert_eq!(store.get_spacecraft(&sc("SC-2")).await.expect("get"), None);

    let err = store.put_config(config("SC-1", 1, 45), taken()).await;
    assert!(err.is_err(), "config with a taken event id must fail");
    assert_eq!(store.current_config(&sc("SC-1")).await.expect("get"), None);

    let err = store
        .insert_telemetry(TelemetryWrite {
            snapshots: vec![snapshot("a", "SC-1", 1, 1.0)],
            anomalies: vec![anomaly("SC-1", 1, "temp", AnomalyKind::WarnHigh)],
            alarms: vec![test_alarm("al-x", "SC-1", 1)],
            events: vec![taken()],
        })
        .await;
    assert!(err.is_err(), "telemetry with a taken event id must fail");
    assert_eq!(
        store
            .get_alarm(&test_alarm("al-x", "SC-1", 1).id)
            .await
            .expect("get"),
        None
    );
    assert!(
        store
            .recent_telemetry(&sc("SC-1"), limit(5))
            .await
            .expect("recent")
            .is_empty()
    );
    assert!(
        store
            .recent_anomalies(&sc("SC-1"), limit(5))
            .await
            .expect("list")
            .is_empty()
    );

    let err = store
        .persist_anomalies(vec![(
            anomaly("SC-1", 2, "temp", AnomalyKind::WarnHigh),
            taken(),
        )])
        .await;
    assert!(err.is_err(), "an anomaly with a taken event id must fail");
    assert!(
        store
            .recent_anomalies(&sc("SC-1"), limit(5))
            .await
            .expect("list")
            .is_empty()
    );

    let doc = document("d1", 1, "Title", "body", &[]);
    assert!(store.publish_document(doc.clone(), taken()).await.is_err());
    assert_eq!(store.get_document(&doc.id).await.expect("get"), None);

    let recorded = store
        .record_event(event(2, None, EventType::Info))
        .await
        .expect("record");
    assert_eq!(
        recorded.sequence, 2,
        "failed writes must not use up sequence numbers"
    );
}
