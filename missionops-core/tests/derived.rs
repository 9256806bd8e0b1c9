//! Derived parameters (SPEC §11) through the application over the in-memory store: evaluated at
//! ingest before the rules, stored with the snapshot, and treated like raw parameters.

use std::sync::Arc;

use missionops_core::{
    AlarmFilter, AlarmStates, AnomalyKind, BucketWidth, ConfigSource, ConfigStatus, Error,
    EventType, IngestMode, Limit, ManualClock, MissionOps, NewSnapshot, ParameterName,
    SequentialIds, SpacecraftConfig, SpacecraftId, Timestamp,
};
use missionops_store::MemoryStore;
use serde_json::{Value, json};

fn t0() -> Timestamp {
    Timestamp::parse("2025-06-01T00:00:00Z").expect("ts")
}

fn sc1() -> SpacecraftId {
    SpacecraftId::parse("SC-1").expect("id")
}

struct Desk {
    app: MissionOps,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    ids: Arc<SequentialIds>,
    second: i64,
}

impl Desk {
    async fn with_config(config: Value) -> Desk {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(t0()));
        let ids = Arc::new(SequentialIds::new());
        let app = MissionOps::new(store.clone(), clock.clone(), ids.clone());
        let config = SpacecraftConfig::parse(config).expect("config");
        app.set_config(
            &sc1(),
            config,
            ConfigStatus::Approved,
            Some(ConfigSource::Manual),
        )
        .await
        .expect("set config");
        Desk {
            app,
            store,
            clock,
            ids,
            second: 0,
        }
    }

    fn at(second: i64, parameters: Value) -> NewSnapshot {
        serde_json::from_value(json!({
            "spacecraftId": "SC-1",
            "timestamp": t0().add_millis(second * 1000).to_string(),
            "parameters": parameters,
        }))
        .expect("snapshot")
    }

    /// One live snapshot a second; the clock follows.
    async fn feed(&mut self, parameters: Value) {
        self.second += 1;
        self.clock.set(t0().add_millis(self.second * 1000));
        self.app
            .ingest(Desk::at(self.second, parameters))
            .await
            .expect("ingest");
    }

    /// The stored parameters of every snapshot, oldest first.
    async fn stored(&self) -> Vec<Value> {
        let mut snapshots = self
            .app
            .recent_telemetry(&sc1(), Limit::new(1000, 1000).expect("limit"))
            .await
            .expect("telemetry");
        snapshots.sort_by_key(|s| s.timestamp);
        snapshots
            .iter()
            .map(|s| serde_json::to_value(&s.parameters).expect("json"))
            .collect()
    }

    async fn alarm_kinds(&self) -> Vec<(String, AnomalyKind, bool)> {
        self.app
            .list_alarms(&AlarmFilter {
                spacecraft_id: Some(sc1()),
                states: AlarmStates::All,
            })
            .await
            .expect("alarms")
            .into_iter()
            .map(|a| (a.parameter.to_string(), a.kind, a.cleared_at.is_none()))
            .collect()
    }
}

#[tokio::test]
async fn derived_values_are_stored_with_the_snapshot_and_queryable_like_raw_ones() {
    let mut desk = Desk::with_config(json!({
        "derived": {"power": "bus_v * bus_i", "ratio": "bus_i / bus_v"},
    }))
    .await;
    desk.feed(json!({"bus_v": 28, "bus_i": 2})).await;
    desk.feed(json!({"bus_v": 0, "bus_i": 3})).await;
    desk.feed(json!({"bus_i": 1})).await;
    assert_eq!(
        desk.stored().await,
        [
            json!({"bus_v": 28, "bus_i": 2, "power": 56, "ratio": 2.0 / 28.0}),
            // Division by zero: ratio absent, never NaN.
            json!({"bus_v": 0, "bus_i": 3, "power": 0}),
            // A missing input: both absent.
            json!({"bus_i": 1}),
        ]
    );
    let series = desk
        .app
        .series(
            &sc1(),
            &ParameterName::parse("power").expect("name"),
            t0(),
            t0().add_millis(60_000),
            BucketWidth::parse("1m").expect("bucket"),
        )
        .await
        .expect("series");
    assert_eq!(series.len(), 1);
    assert_eq!(
        (series[0].count, series[0].max, series[0].min),
        (2, 56.0, 0.0)
    );
    let latest = desk.app.latest_values(&sc1()).await.expect("latest");
    assert!(latest.parameters.contains_key("power"), "{latest:?}");
}

#[tokio::test]
async fn a_derived_parameter_with_limits_raises_and_clears_an_alarm_like_a_raw_one() {
    let mut desk = Desk::with_config(json!({
        "parameters": {"power": {"warnHigh": 100, "critHigh": 200}},
        "derived": {"power": "bus_v * bus_i"},
    }))
    .await;
    desk.feed(json!({"bus_v": 28, "bus_i": 2})).await;
    assert!(desk.alarm_kinds().await.is_empty());
    desk.feed(json!({"bus_v": 28, "bus_i": 5})).await;
    assert_eq!(
        desk.alarm_kinds().await,
        [("power".to_owned(), AnomalyKind::WarnHigh, true)]
    );
    desk.feed(json!({"bus_v": 28, "bus_i": 8})).await;
    assert_eq!(
        desk.alarm_kinds().await,
        [("power".to_owned(), AnomalyKind::CritHigh, true)]
    );
    desk.feed(json!({"bus_v": 28, "bus_i": 1})).await;
    assert_eq!(
        desk.alarm_kinds().await,
        [("power".to_owned(), AnomalyKind::CritHigh, false)],
        "cleared"
    );
    let events = desk
        .app
        .events_after(0, None, Limit::new(100, 100).expect("limit"))
        .await
        .expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.event_type == EventType::AnomalyCleared)
    );
}

#[tokio::test]
async fn last_follows_a_parameter_sent_in_another_snapshot_and_survives_a_restart() {
    let mut desk = Desk::with_config(json!({
        "parameters": {"margin": {"critLow": 0}},
        "derived": {"margin": "temp - last(limit)"},
    }))
    .await;
    desk.feed(json!({"temp": 20})).await;
    desk.feed(json!({"limit": 30})).await;
    desk.feed(json!({"temp": 25})).await;
    desk.feed(json!({"temp": 35})).await;
    desk.feed(json!({"limit": 40})).await;
    desk.feed(json!({"temp": 35})).await;
    let margins: Vec<Option<i64>> = desk
        .stored()
        .await
        .iter()
        .map(|p| p.get("margin").and_then(Value::as_i64))
        .collect();
    assert_eq!(margins, [None, None, Some(-5), Some(5), None, Some(-5)]);
    // Opened at -5, cleared at 5, opened again at -5 (newest first).
    assert_eq!(
        desk.alarm_kinds().await,
        [
            ("margin".to_owned(), AnomalyKind::CritLow, true),
            ("margin".to_owned(), AnomalyKind::CritLow, false)
        ]
    );
    // A restarted application rebuilds the latest known values from the stored history.
    let restarted = MissionOps::new(desk.store.clone(), desk.clock.clone(), desk.ids.clone());
    restarted
        .ingest(Desk::at(7, json!({"temp": 50})))
        .await
        .expect("ingest");
    let newest = restarted
        .recent_telemetry(&sc1(), Limit::new(1, 1).expect("limit"))
        .await
        .expect("telemetry");
    assert_eq!(
        serde_json::to_value(&newest[0].parameters).expect("json"),
        json!({"temp": 50, "margin": 10})
    );
}

#[tokio::test]
async fn last_in_a_batch_follows_the_batch_order_and_a_failed_write_leaves_it_unchanged() {
    let desk = Desk::with_config(json!({"derived": {"d": "x + last(k)"}})).await;
    desk.app
        .ingest_batch(vec![
            Desk::at(1, json!({"k": 1})),
            Desk::at(2, json!({"x": 10})),
            Desk::at(3, json!({"k": 2, "x": 10})),
        ])
        .await
        .expect("batch");
    assert_eq!(
        desk.stored().await,
        [
            json!({"k": 1}),
            json!({"x": 10, "d": 11}),
            json!({"k": 2, "x": 10, "d": 12}),
        ]
    );
    // A batch the store refuses (an id stored before, with other content) changes no latest
    // known value.
    let snapshot = |id: &str, second: i64, k: i64| -> NewSnapshot {
        serde_json::from_value(json!({"id": id, "spacecraftId": "SC-1",
            "timestamp": t0().add_millis(second * 1000).to_string(), "parameters": {"k": k}}))
        .expect("snapshot")
    };
    desk.app
        .ingest(snapshot("dup", 4, 50))
        .await
        .expect("ingest");
    let err = desk
        .app
        .ingest_batch(vec![snapshot("new", 5, 100), snapshot("dup", 4, 200)])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    desk.app
        .ingest(Desk::at(6, json!({"x": 0})))
        .await
        .expect("ingest");
    assert_eq!(desk.stored().await[4], json!({"x": 0, "d": 50}));
}

#[tokio::test]
async fn stale_after_sec_on_a_derived_parameter_goes_stale_when_its_inputs_stop() {
    let mut desk = Desk::with_config(json!({
        "parameters": {"power": {"staleAfterSec": 10}},
        "derived": {"power": "v * i"},
    }))
    .await;
    desk.feed(json!({"v": 28, "i": 1})).await;
    // `i` stops coming: the derived value is absent from now on, so it goes stale.
    for _ in 0..5 {
        desk.feed(json!({"v": 28})).await;
    }
    desk.app.tick().await.expect("tick");
    assert!(desk.alarm_kinds().await.is_empty(), "5 s: not stale yet");
    desk.clock.advance_millis(6_000);
    desk.app.tick().await.expect("tick");
    assert_eq!(
        desk.alarm_kinds().await,
        [("power".to_owned(), AnomalyKind::Stale, true)]
    );
    desk.second += 6;
    desk.feed(json!({"v": 28, "i": 2})).await;
    assert_eq!(
        desk.alarm_kinds().await,
        [("power".to_owned(), AnomalyKind::Stale, false)],
        "the derived value is back"
    );
}

#[tokio::test]
async fn played_back_telemetry_gets_derived_values_in_time_order_and_records_anomalies() {
    let desk = Desk::with_config(json!({
        "parameters": {"d": {"warnHigh": 15}},
        "derived": {"d": "x + last(k)"},
    }))
    .await;
    // Sent out of order; derived in time order, from nothing known.
    desk.app
        .ingest_bulk(
            vec![
                Desk::at(3, json!({"x": 10})),
                Desk::at(1, json!({"k": 1, "x": 1})),
                Desk::at(2, json!({"k": 9})),
            ],
            IngestMode::Stored,
        )
        .await
        .expect("bulk");
    assert_eq!(
        desk.stored().await,
        [
            json!({"k": 1, "x": 1, "d": 2}),
            json!({"k": 9}),
            json!({"x": 10, "d": 19}),
        ]
    );
    let anomalies = desk
        .app
        .list_anomalies(&sc1(), Limit::new(10, 10).expect("limit"))
        .await
        .expect("anomalies");
    assert_eq!(anomalies.len(), 1);
    assert_eq!(anomalies[0].parameter.as_str(), "d");
    assert!(desk.alarm_kinds().await.is_empty(), "played back: no alarm");
    // The live `last()` values are untouched by the played-back pass.
    desk.app
        .ingest(Desk::at(10, json!({"x": 0})))
        .await
        .expect("ingest");
    assert_eq!(desk.stored().await[3], json!({"x": 0}));
}

#[tokio::test]
async fn a_config_with_a_bad_expression_is_invalid_naming_it() {
    for (derived, field, words) in [
        (
            json!({"p": "foo(x)"}),
            "derived.p",
            "unknown function `foo`",
        ),
        (
            json!({"a": "b * 2", "b": "a + 1"}),
            "derived.a",
            "cycle of derived parameters (a → b → a)",
        ),
        (json!({"p": "(x"}), "derived.p", "at position 3"),
    ] {
        let err = SpacecraftConfig::parse(json!({ "derived": derived })).unwrap_err();
        match err {
            Error::Invalid { field: got, reason } => {
                assert_eq!(got, field);
                assert!(reason.contains(words), "{reason}");
            }
            other => panic!("{other}"),
        }
    }
}

#[tokio::test]
async fn a_new_config_version_recompiles_the_derived_parameters() {
    let mut desk = Desk::with_config(json!({"derived": {"d": "x * 2"}})).await;
    desk.feed(json!({"x": 3})).await;
    desk.app
        .set_config(
            &sc1(),
            SpacecraftConfig::parse(json!({"derived": {"d": "x * 10"}})).expect("config"),
            ConfigStatus::Approved,
            None,
        )
        .await
        .expect("config");
    desk.feed(json!({"x": 3})).await;
    assert_eq!(
        desk.stored().await,
        [json!({"x": 3, "d": 6}), json!({"x": 3, "d": 30})]
    );
}
