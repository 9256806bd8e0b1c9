//! Live writes of many spacecraft are committed in groups across spacecraft: each write is
//! still evaluated by its own spacecraft's monitor in arrival order and answered on its own, a
//! failing write fails alone, and implicit registration rides in the same group, once per
//! spacecraft.
//!
//! The tests that look at how writes were grouped run on a single-threaded runtime: every
//! spawned write joins the queue before the first one, holding the turn, takes its group, so
//! the groups are the same on every run.

use std::sync::Arc;

use missionops_core::EventRepository;
use missionops_core::{
    Alarm, AlarmFilter, AlarmStates, Anomaly, ConfigSource, ConfigStatus, Error, EventType, Limit,
    ManualClock, MissionEvent, MissionOps, NewSnapshot, NewSpacecraft, SequentialIds,
    SpacecraftConfig, SpacecraftId, SpacecraftName, Store, Timestamp,
};
use missionops_store::MemoryStore;
use missionops_store::conformance::intercept::{Intercepted, Interceptor};
use missionops_store::conformance::recording::{Recorded, RecordingStore};
use proptest::prelude::*;
use serde_json::{Value, json};

fn t0() -> Timestamp {
    Timestamp::parse("2025-06-01T00:00:00Z").expect("ts")
}

fn sc(id: &str) -> SpacecraftId {
    SpacecraftId::parse(id).expect("id")
}

fn sample(id: &str, spacecraft: &str, second: i64, temp: f64) -> NewSnapshot {
    serde_json::from_value(json!({
        "id": id,
        "spacecraftId": spacecraft,
        "timestamp": t0().add_millis(second * 1000).to_string(),
        "parameters": {"temp": temp},
    }))
    .expect("snapshot")
}

fn limits() -> SpacecraftConfig {
    SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": 45, "critHigh": 70}}}))
        .expect("config")
}

/// The application over a recording memory store, and the recording.
fn recorded_app() -> (MissionOps, Arc<RecordingStore>) {
    let store = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new())));
    let app = MissionOps::new(
        store.clone(),
        Arc::new(ManualClock::new(t0())),
        Arc::new(SequentialIds::new()),
    );
    (app, store)
}

async fn register(app: &MissionOps, id: &str) {
    register_elsewhere(app, app, id).await;
}

/// Registers `id` through `registrar` and configures it through `app`: with another handle
/// as the registrar (another server, or this one before a restart), `app` knows the
/// spacecraft but has no monitor for it, and loads one from the store.
async fn register_elsewhere(registrar: &MissionOps, app: &MissionOps, id: &str) {
    registrar
        .register_spacecraft(NewSpacecraft::named(
            sc(id),
            SpacecraftName::parse(id).expect("name"),
        ))
        .await
        .expect("register");
    app.set_config(
        &sc(id),
        limits(),
        ConfigStatus::Approved,
        Some(ConfigSource::Manual),
    )
    .await
    .expect("config");
}

/// How many writes each telemetry call of the store was given, in order.
fn group_sizes(store: &RecordingStore) -> Vec<usize> {
    store.calls().iter().map(|c| c.writes().len()).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn writes_of_many_spacecraft_commit_together_and_a_conflict_fails_alone() {
    let (app, store) = recorded_app();
    for n in 1..=8 {
        register(&app, &format!("SC-{n}")).await;
    }
    app.ingest(sample("taken", "SC-3", 0, 20.0))
        .await
        .expect("first");
    let before = store.calls().len();
    let mut tasks = Vec::new();
    for n in 1..=8 {
        let app = app.clone();
        // SC-3's write reuses a stored id with other content: a conflict.
        let id = if n == 3 {
            "taken".to_owned()
        } else {
            format!("s-{n}")
        };
        tasks.push(tokio::spawn(async move {
            app.ingest(sample(&id, &format!("SC-{n}"), 1, 50.0)).await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let n = i + 1;
        match (n, task.await.expect("task")) {
            (3, Err(Error::Conflict { id, .. })) => assert_eq!(id, "taken"),
            (3, other) => panic!("SC-3's write must conflict, got {other:?}"),
            (_, Ok(receipt)) => {
                assert_eq!(receipt.id.as_str(), format!("s-{n}"));
                assert!(!receipt.duplicate);
            }
            (_, Err(e)) => panic!("SC-{n}'s write must be stored, got {e}"),
        }
    }
    // One group of all eight; the store stopped at the conflict, and the five after it went
    // again together.
    assert_eq!(group_sizes(&store)[before..], [8, 5]);
    let calls = store.calls();
    let Recorded::Group(first) = &calls[before] else {
        panic!("a group was expected");
    };
    let named: Vec<&str> = first
        .iter()
        .map(|w| w.snapshots[0].spacecraft_id.as_str())
        .collect();
    assert_eq!(
        named,
        [
            "SC-1", "SC-2", "SC-3", "SC-4", "SC-5", "SC-6", "SC-7", "SC-8"
        ],
        "arrival order"
    );
    for n in 1..=8 {
        let id = sc(&format!("SC-{n}"));
        let stored = app
            .recent_telemetry(&id, Limit::clamped(10, 10))
            .await
            .expect("recent");
        let anomalies = app
            .list_anomalies(&id, Limit::clamped(10, 10))
            .await
            .expect("anomalies");
        if n == 3 {
            assert_eq!(stored.len(), 1, "only the first SC-3 snapshot");
            assert!(anomalies.is_empty(), "the failed write left no anomaly");
            let open = app
                .list_alarms(&AlarmFilter {
                    spacecraft_id: Some(id),
                    states: AlarmStates::All,
                })
                .await
                .expect("alarms");
            assert!(open.is_empty(), "nor an alarm: {open:?}");
        } else {
            assert_eq!(stored.len(), 1, "SC-{n}");
            assert_eq!(anomalies.len(), 1, "SC-{n}'s monitor saw its write once");
        }
    }
    // The failed write left SC-3's monitor as it was: a good write now opens its alarm.
    app.ingest(sample("s-3", "SC-3", 2, 50.0))
        .await
        .expect("after");
    let sc3 = app
        .list_anomalies(&sc("SC-3"), Limit::clamped(10, 10))
        .await
        .expect("anomalies");
    assert_eq!(sc3.len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn implicit_registration_rides_in_the_group_once_per_spacecraft() {
    let (app, store) = recorded_app();
    register(&app, "SC-1").await;
    let before = store.calls().len();
    let mut tasks = Vec::new();
    // Three first writes of NEW-1 at once, first writes of NEW-2 and NEW-3, and a write of a
    // registered spacecraft, all in one group.
    let writes = [
        ("a", "NEW-1"),
        ("b", "NEW-2"),
        ("c", "NEW-1"),
        ("d", "SC-1"),
        ("e", "NEW-3"),
        ("f", "NEW-1"),
    ];
    for (second, (id, spacecraft)) in (1..).zip(writes) {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.ingest(sample(id, spacecraft, second, 20.0)).await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("stored");
    }
    assert_eq!(group_sizes(&store)[before..], [6], "one group");
    let calls = store.calls();
    let registered: Vec<&str> = calls[before]
        .writes()
        .iter()
        .flat_map(|w| w.registrations.iter().map(|r| r.spacecraft.id.as_str()))
        .collect();
    assert_eq!(
        registered,
        ["NEW-1", "NEW-2", "NEW-3"],
        "each new spacecraft registered with its first write only"
    );
    assert!(calls[before].writes()[0].registrations.len() == 1);
    for id in ["NEW-1", "NEW-2", "NEW-3"] {
        let spacecraft = app.get_spacecraft(&sc(id)).await.expect("registered");
        assert_eq!(spacecraft.name.as_str(), id);
        let events = app
            .list_events(Some(&sc(id)), Limit::clamped(100, 100))
            .await
            .expect("events");
        let registrations: Vec<&MissionEvent> = events
            .iter()
            .filter(|e| e.event_type == EventType::SpacecraftRegistered)
            .collect();
        assert_eq!(registrations.len(), 1, "{id}: {events:?}");
        assert_eq!(registrations[0].metadata["implicit"], json!(true));
    }
    // A later write of a spacecraft registered this way registers nothing.
    app.ingest(sample("g", "NEW-2", 9, 20.0))
        .await
        .expect("later");
    let last = store.calls();
    assert!(last[last.len() - 1].writes()[0].registrations.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn first_writes_of_new_spacecraft_read_no_history_but_a_spacecraft_stored_before_is_rebuilt()
{
    // OLD-1 was registered, configured and put in alarm through another application over the
    // same store (another process, or this one before a restart): this one does not know it.
    let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(t0()));
    let ids = Arc::new(SequentialIds::new());
    let earlier = MissionOps::new(memory.clone(), clock.clone(), ids.clone());
    register(&earlier, "OLD-1").await;
    earlier
        .ingest(sample("o-1", "OLD-1", 1, 80.0))
        .await
        .expect("earlier write");
    let store = Arc::new(RecordingStore::new(memory));
    let app = MissionOps::new(store.clone(), clock, ids);
    let mut tasks = Vec::new();
    let writes = [
        ("a", "NEW-1"),
        ("b", "OLD-1"),
        ("c", "NEW-2"),
        ("d", "NEW-1"),
    ];
    for (second, (id, spacecraft)) in (2..).zip(writes) {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.ingest(sample(id, spacecraft, second, 80.0)).await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("stored");
    }
    assert_eq!(group_sizes(&store), [4], "one group");
    // The new spacecraft's monitors were built without a read; OLD-1's from what is stored.
    assert_eq!(store.history_reads(), [sc("OLD-1")]);
    let calls = store.calls();
    let group = calls[0].writes();
    let registered: Vec<&str> = group
        .iter()
        .flat_map(|w| w.registrations.iter().map(|r| r.spacecraft.id.as_str()))
        .collect();
    assert_eq!(
        registered,
        ["NEW-1", "NEW-2"],
        "OLD-1 exists: not registered"
    );
    assert!(
        !group[1].anomalies.is_empty(),
        "OLD-1's write was checked against its stored configuration"
    );
    let open = app
        .list_alarms(&AlarmFilter {
            spacecraft_id: Some(sc("OLD-1")),
            states: AlarmStates::All,
        })
        .await
        .expect("alarms");
    assert_eq!(
        open.len(),
        1,
        "the alarm opened before is still the one: {open:?}"
    );
    for id in ["NEW-1", "NEW-2"] {
        assert!(app.get_spacecraft(&sc(id)).await.is_ok(), "{id} registered");
        let registrations = app
            .list_events(Some(&sc(id)), Limit::clamped(100, 100))
            .await
            .expect("events")
            .into_iter()
            .filter(|e| e.event_type == EventType::SpacecraftRegistered)
            .count();
        assert_eq!(registrations, 1, "{id}");
        // No configuration: nothing to check, no anomaly.
        assert!(
            app.list_anomalies(&sc(id), Limit::clamped(10, 10))
                .await
                .expect("anomalies")
                .is_empty()
        );
    }
    // A configuration set now reaches the monitor built without reads.
    app.set_config(
        &sc("NEW-2"),
        limits(),
        ConfigStatus::Approved,
        Some(ConfigSource::Manual),
    )
    .await
    .expect("config");
    app.ingest(sample("e", "NEW-2", 9, 80.0))
        .await
        .expect("after the configuration");
    assert_eq!(
        app.list_anomalies(&sc("NEW-2"), Limit::clamped(10, 10))
            .await
            .expect("anomalies")
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_writes_of_new_spacecraft_record_one_registration_each() {
    let (app, _store) = recorded_app();
    let mut tasks = Vec::new();
    for i in 0..96 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let spacecraft = format!("NEW-{}", i % 8);
            app.ingest(sample(&format!("s-{i}"), &spacecraft, i, 20.0))
                .await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("stored");
    }
    let events = app
        .list_events(None, Limit::clamped(1000, 1000))
        .await
        .expect("events");
    for n in 0..8 {
        let id = sc(&format!("NEW-{n}"));
        let count = events
            .iter()
            .filter(|e| {
                e.event_type == EventType::SpacecraftRegistered
                    && e.spacecraft_id.as_ref() == Some(&id)
            })
            .count();
        assert_eq!(count, 1, "{id}");
        let stored = app
            .recent_telemetry(&id, Limit::clamped(100, 100))
            .await
            .expect("recent");
        assert_eq!(stored.len(), 12, "{id}");
    }
}

/// One write of the property test: snapshots `(id, spacecraft, second, temp)`.
type PlannedWrite = Vec<(String, String, i64, f64)>;

const FLEET: [&str; 3] = ["SC-A", "SC-B", "SC-C"];

fn planned_writes() -> impl Strategy<Value = Vec<PlannedWrite>> {
    let snapshot = (
        0usize..40,
        0usize..FLEET.len(),
        0i64..30,
        prop_oneof![3 => 0.0f64..40.0, 2 => 40.0f64..80.0],
    );
    proptest::collection::vec(proptest::collection::vec(snapshot, 1..4), 1..24).prop_map(|writes| {
        writes
            .into_iter()
            .map(|write| {
                write
                    .into_iter()
                    // Ids repeat across writes: a retry when the content matches, a
                    // conflict when it does not.
                    .map(|(id, craft, second, temp)| {
                        (
                            format!("s-{id}"),
                            FLEET[craft].to_owned(),
                            second,
                            temp.round(),
                        )
                    })
                    .collect()
            })
            .collect()
    })
}

/// Whether no id of `write` comes twice with different content.
fn consistent(write: &PlannedWrite) -> bool {
    write.iter().enumerate().all(|(i, a)| {
        write[..i]
            .iter()
            .all(|b| a.0 != b.0 || (a.1 == b.1 && a.2 == b.2 && a.3 == b.3))
    })
}

fn batch(write: &PlannedWrite) -> Vec<NewSnapshot> {
    write
        .iter()
        .map(|(id, craft, second, temp)| sample(id, craft, *second, *temp))
        .collect()
}

/// What a write was answered, without the ids generated for it.
#[derive(Debug, PartialEq)]
enum Answer {
    Stored { inserted: usize, duplicates: usize },
    Conflict,
    Failed(String),
}

/// What the store holds, per spacecraft, without generated ids.
#[derive(Debug, PartialEq)]
struct Outcome {
    answers: Vec<Answer>,
    telemetry: Vec<Vec<(String, i64)>>,
    anomalies: Vec<Vec<Value>>,
    alarms: Vec<Vec<Value>>,
    events: Vec<Vec<Value>>,
}

fn without_ids(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        for key in ["id", "alarmId", "anomalyId", "sequence"] {
            map.remove(key);
        }
        for inner in map.values_mut() {
            *inner = without_ids(inner.take());
        }
    }
    value
}

async fn outcome(app: &MissionOps, answers: Vec<Answer>) -> Outcome {
    let mut result = Outcome {
        answers,
        telemetry: Vec::new(),
        anomalies: Vec::new(),
        alarms: Vec::new(),
        events: Vec::new(),
    };
    for craft in FLEET {
        let id = sc(craft);
        let stored = app
            .recent_telemetry(&id, Limit::clamped(1000, 1000))
            .await
            .expect("recent");
        result.telemetry.push(
            stored
                .iter()
                .map(|s| (s.id.as_str().to_owned(), s.timestamp.as_millis()))
                .collect(),
        );
        let anomalies: Vec<Anomaly> = app
            .list_anomalies(&id, Limit::clamped(1000, 1000))
            .await
            .expect("anomalies");
        let mut anomalies: Vec<Value> = anomalies
            .iter()
            .map(|a| without_ids(serde_json::to_value(a).expect("json")))
            .collect();
        anomalies.sort_by_key(Value::to_string);
        result.anomalies.push(anomalies);
        let alarms: Vec<Alarm> = app
            .list_alarms(&AlarmFilter {
                spacecraft_id: Some(id.clone()),
                states: AlarmStates::All,
            })
            .await
            .expect("alarms");
        let mut alarms: Vec<Value> = alarms
            .iter()
            .map(|a| without_ids(serde_json::to_value(a).expect("json")))
            .collect();
        alarms.sort_by_key(Value::to_string);
        result.alarms.push(alarms);
        // Each spacecraft's events in the order they were recorded.
        let events = app
            .list_events(Some(&id), Limit::clamped(1000, 1000))
            .await
            .expect("events");
        result.events.push(
            events
                .iter()
                .rev()
                .map(|e| without_ids(serde_json::to_value(e).expect("json")))
                .collect(),
        );
    }
    result
}

fn answer(result: missionops_core::Result<missionops_core::BatchIngest>) -> Answer {
    match result {
        Ok(done) => Answer::Stored {
            inserted: done.outcome.inserted,
            duplicates: done.outcome.duplicates,
        },
        Err(Error::Conflict { .. }) => Answer::Conflict,
        Err(e) => Answer::Failed(e.to_string()),
    }
}

fn fresh_app() -> MissionOps {
    MissionOps::new(
        Arc::new(MemoryStore::new()),
        Arc::new(ManualClock::new(t0())),
        Arc::new(SequentialIds::new()),
    )
}

async fn configure(app: &MissionOps) {
    // SC-C stays unregistered: its first write registers it.
    for craft in &FLEET[..2] {
        register(app, craft).await;
    }
}

/// The writes one after another, each awaited before the next is sent.
async fn sequential(writes: &[PlannedWrite], after: &[PlannedWrite]) -> Outcome {
    let app = fresh_app();
    configure(&app).await;
    let mut answers = Vec::new();
    for write in writes.iter().chain(after) {
        answers.push(answer(app.ingest_batch(batch(write)).await));
    }
    outcome(&app, answers).await
}

/// The writes all sent at once (grouped), then `after` one by one, which shows that the
/// monitors were left as the sequential run left them.
async fn grouped(writes: &[PlannedWrite], after: &[PlannedWrite]) -> (Outcome, Vec<usize>) {
    let (app, store) = recorded_app();
    configure(&app).await;
    let before = store.calls().len();
    let tasks: Vec<_> = writes
        .iter()
        .map(|write| {
            let app = app.clone();
            let snapshots = batch(write);
            tokio::spawn(async move { app.ingest_batch(snapshots).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(answer(task.await.expect("task")));
    }
    let sizes = group_sizes(&store)[before..].to_vec();
    for write in after {
        answers.push(answer(app.ingest_batch(batch(write)).await));
    }
    (outcome(&app, answers).await, sizes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Grouped ingest answers every write, and leaves the telemetry, anomalies, alarms, events
    /// and monitors of every spacecraft, exactly as sending the writes one by one in their
    /// arrival order.
    #[test]
    fn grouped_ingest_equals_sequential_ingest(
        writes in planned_writes(),
        after in planned_writes(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let expected = runtime.block_on(sequential(&writes, &after));
        let (got, sizes) = runtime.block_on(grouped(&writes, &after));
        prop_assert_eq!(got, expected);
        // They were grouped: the first group took every write that reached the store (a
        // write repeating an id of its own with other content is refused before).
        let reaching = writes.iter().filter(|write| consistent(write)).count();
        prop_assert_eq!(sizes.first().copied(), (reaching > 0).then_some(reaching));
    }
}

/// Holds every grouped write at a gate until the test opens it, and notes whose history was
/// read (what loading a monitor reads).
#[derive(Default)]
struct HeldGroups {
    open: tokio::sync::watch::Sender<bool>,
    held: tokio::sync::watch::Sender<usize>,
    history_reads: std::sync::Mutex<Vec<SpacecraftId>>,
}

#[async_trait::async_trait]
impl Interceptor for HeldGroups {
    async fn before_insert_group(&self, _writes: &[missionops_core::TelemetryWrite]) {
        self.held.send_modify(|held| *held += 1);
        let _ = self.open.subscribe().wait_for(|open| *open).await;
    }

    async fn before_recent_telemetry(&self, spacecraft: &SpacecraftId) {
        if let Ok(mut reads) = self.history_reads.lock() {
            reads.push(spacecraft.clone());
        }
    }
}

/// Waits (up to 10 s) until `done` holds, checking every millisecond; `false` if it never did.
async fn eventually(done: impl Fn() -> bool) -> bool {
    for _ in 0..10_000 {
        if done() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    false
}

#[tokio::test]
async fn a_monitor_is_loaded_while_another_group_is_being_stored() {
    // A fleet's writes each need their spacecraft's monitor loaded (or rechecked) from the
    // store; on PostgreSQL every read is a round trip. Done while the write waits for its
    // turn, beside other requests, the reads no longer add up one after another under the
    // turn, which the whole fleet's writes queue for.
    let store = Arc::new(Intercepted::wrap(
        Arc::new(MemoryStore::new()) as Arc<dyn Store>,
        HeldGroups::default(),
    ));
    let (clock, ids) = (
        Arc::new(ManualClock::new(t0())),
        Arc::new(SequentialIds::new()),
    );
    let app = MissionOps::new(store.clone(), clock.clone(), ids.clone());
    // Registered by another server (or before a restart): this one loads their monitors.
    let elsewhere = MissionOps::new(store.clone(), clock, ids);
    register_elsewhere(&elsewhere, &app, "SC-A").await;
    register_elsewhere(&elsewhere, &app, "SC-B").await;
    let first = tokio::spawn({
        let app = app.clone();
        async move { app.ingest(sample("a-1", "SC-A", 1, 20.0)).await }
    });
    let mut held = store.held.subscribe();
    held.wait_for(|held| *held == 1).await.expect("gate");
    // SC-A's group holds the turn, waiting at the store. SC-B's write loads its monitor now.
    let second = tokio::spawn({
        let app = app.clone();
        async move { app.ingest(sample("b-1", "SC-B", 1, 50.0)).await }
    });
    let loaded = eventually(|| {
        store
            .history_reads
            .lock()
            .is_ok_and(|reads| reads.contains(&sc("SC-B")))
    })
    .await;
    assert!(
        loaded,
        "SC-B's monitor must be loaded while SC-A's group is stored"
    );
    assert_eq!(*store.held.borrow(), 1, "SC-B's write has not been stored");
    store.open.send_replace(true);
    first.await.expect("task").expect("SC-A's write");
    second.await.expect("task").expect("SC-B's write");
    // Loaded once, and the write was evaluated on it: 50 is over SC-B's warning limit.
    let reads = store
        .history_reads
        .lock()
        .map(|r| r.clone())
        .expect("reads");
    assert_eq!(reads.iter().filter(|id| id.as_str() == "SC-B").count(), 1);
    let alarms = app
        .list_alarms(&AlarmFilter {
            spacecraft_id: Some(sc("SC-B")),
            states: AlarmStates::All,
        })
        .await
        .expect("alarms");
    assert_eq!(alarms.len(), 1, "SC-B's write raised its alarm: {alarms:?}");
}

/// Stores `config` as version 2 of `spacecraft`'s configuration straight into `store`, with its
/// `CONFIG_CHANGED` event, as another process sharing the database would: the application
/// over the store does not hear of it.
async fn configure_behind_the_app(
    store: &dyn missionops_core::ConfigRepository,
    spacecraft: &str,
    config: SpacecraftConfig,
) {
    store
        .put_config(
            &Default::default(),
            missionops_core::ConfigRecord {
                spacecraft_id: sc(spacecraft),
                version: 2,
                config,
                status: ConfigStatus::Approved,
                source: Some(ConfigSource::Manual),
                created_at: t0(),
            },
            missionops_store::conformance::fixtures::event(
                900,
                Some(spacecraft),
                EventType::ConfigChanged,
            ),
        )
        .await
        .expect("another process changes the configuration");
}

#[tokio::test]
async fn a_configuration_changed_by_another_process_still_applies_to_a_live_write() {
    // The version recheck before the queue only confirms a monitor whose versions are
    // current; a changed configuration (here written straight into the store, as another
    // process sharing the database would) is applied under the turn, within the recheck time,
    // and what it clears is stored with the write that found it.
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(t0()));
    let app = MissionOps::new(store.clone(), clock.clone(), Arc::new(SequentialIds::new()));
    register(&app, "SC-1").await;
    app.ingest(sample("s-1", "SC-1", 1, 50.0))
        .await
        .expect("over the limit");
    let open = |app: MissionOps| async move {
        app.list_alarms(&AlarmFilter {
            spacecraft_id: Some(sc("SC-1")),
            states: AlarmStates::Open,
        })
        .await
        .expect("alarms")
        .len()
    };
    assert_eq!(open(app.clone()).await, 1, "temp over 45 opened an alarm");
    // Another process: version 2 has no rule for temp any more.
    let version_two =
        SpacecraftConfig::parse(json!({"parameters": {"volt": {"warnLow": 20}}})).expect("config");
    configure_behind_the_app(&*store, "SC-1", version_two).await;
    clock.advance_millis(2_500);
    app.ingest(sample("s-2", "SC-1", 3, 50.0))
        .await
        .expect("the next write");
    let events = store
        .recent_events(&Default::default(), None, Limit::clamped(50, 100))
        .await
        .expect("events");
    let cleared: Vec<&str> = events
        .iter()
        .filter(|e| e.event_type == EventType::AnomalyCleared)
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(
        cleared,
        ["Parameter temp is no longer monitored"],
        "version 2 has no rule for temp: the write that found it cleared the alarm's anomaly"
    );
}

/// Holds every group that reaches the store while the gate is closed, and counts them.
struct Gate {
    open: tokio::sync::watch::Sender<bool>,
    reached: tokio::sync::watch::Sender<usize>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            open: tokio::sync::watch::Sender::new(true),
            reached: tokio::sync::watch::Sender::new(0),
        }
    }
}

#[async_trait::async_trait]
impl Interceptor for Gate {
    async fn before_insert_group(&self, _writes: &[missionops_core::TelemetryWrite]) {
        self.reached.send_modify(|reached| *reached += 1);
        let _ = self.open.subscribe().wait_for(|open| *open).await;
    }
}

type GatedStore = Intercepted<Gate>;

/// The application over a gated memory store that lets `at_once` groups be in flight.
fn gated_app(at_once: usize) -> (MissionOps, Arc<GatedStore>) {
    let store = Arc::new(
        Intercepted::wrap(
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            Gate::default(),
        )
        .with_group_commits_at_once(at_once),
    );
    let app = MissionOps::new(
        store.clone(),
        Arc::new(ManualClock::new(t0())),
        Arc::new(SequentialIds::new()),
    );
    (app, store)
}

fn spawn_ingest(
    app: &MissionOps,
    snapshots: Vec<NewSnapshot>,
) -> tokio::task::JoinHandle<missionops_core::Result<missionops_core::BatchIngest>> {
    let app = app.clone();
    tokio::spawn(async move { app.ingest_batch(snapshots).await })
}

/// Lets the other tasks of a single-threaded runtime run for a while.
async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
}

#[tokio::test]
async fn a_second_group_of_other_spacecraft_is_stored_while_the_first_waits_when_the_store_takes_two()
 {
    for at_once in [1, 2] {
        let (app, store) = gated_app(at_once);
        register(&app, "SC-A").await;
        register(&app, "SC-B").await;
        store.open.send_replace(false);
        let first = spawn_ingest(&app, vec![sample("a-1", "SC-A", 1, 20.0)]);
        let mut reached = store.reached.subscribe();
        reached.wait_for(|n| *n == 1).await.expect("gate");
        let second = spawn_ingest(&app, vec![sample("b-1", "SC-B", 1, 20.0)]);
        if at_once == 2 {
            // Two lanes: SC-B's group reaches the store while SC-A's is held there.
            let both = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                reached.wait_for(|n| *n == 2),
            )
            .await;
            assert!(both.is_ok(), "SC-B's group reaches the store");
        } else {
            // One lane: SC-B's group waits for SC-A's to be stored (nothing to wait for but
            // time: every task here runs on this thread, and 30 ms lets them all run).
            settle().await;
            assert_eq!(*store.reached.borrow(), 1, "SC-B's group waits");
        }
        store.open.send_replace(true);
        first.await.expect("task").expect("SC-A's write");
        second.await.expect("task").expect("SC-B's write");
        assert_eq!(*store.reached.borrow(), 2);
    }
}

#[tokio::test]
async fn a_group_taken_while_another_is_stored_waits_for_the_monitors_they_share() {
    let writes: Vec<PlannedWrite> = vec![
        vec![("a-1".into(), "SC-A".into(), 1, 50.0)],
        vec![("b-1".into(), "SC-B".into(), 1, 50.0)],
        vec![("a-2".into(), "SC-A".into(), 2, 20.0)],
    ];
    let expected = sequential(&writes, &[]).await;
    let (app, store) = gated_app(2);
    configure(&app).await;
    store.open.send_replace(false);
    let first = spawn_ingest(&app, batch(&writes[0]));
    let mut reached = store.reached.subscribe();
    reached.wait_for(|n| *n == 1).await.expect("gate");
    let later: Vec<_> = writes[1..]
        .iter()
        .map(|write| spawn_ingest(&app, batch(write)))
        .collect();
    settle().await;
    // The second group (SC-B's write and SC-A's second) needs SC-A's monitor, which the first
    // holds until it is stored: it may not be evaluated on the state before `a-1`.
    assert_eq!(*store.reached.borrow(), 1, "the second group waits");
    store.open.send_replace(true);
    let mut answers = vec![answer(first.await.expect("task"))];
    for task in later {
        answers.push(answer(task.await.expect("task")));
    }
    assert_eq!(*store.reached.borrow(), 2, "then goes as one group");
    assert_eq!(outcome(&app, answers).await, expected);
}

#[tokio::test]
async fn the_writes_of_a_cancelled_group_are_answered_and_their_monitors_let_go() {
    let (app, store) = gated_app(2);
    register(&app, "SC-A").await;
    register(&app, "SC-B").await;
    store.open.send_replace(false);
    // Both join the queue before the first takes its group: one group, stored by the first.
    let storing = spawn_ingest(&app, vec![sample("a-1", "SC-A", 1, 20.0)]);
    let riding = spawn_ingest(&app, vec![sample("b-1", "SC-B", 1, 20.0)]);
    let mut reached = store.reached.subscribe();
    reached.wait_for(|n| *n == 1).await.expect("gate");
    storing.abort();
    let riding = tokio::time::timeout(std::time::Duration::from_secs(10), riding)
        .await
        .expect("the riding write is answered, not left waiting")
        .expect("task");
    let message = riding.expect_err("its group was cancelled").to_string();
    assert!(message.contains("may or may not be stored"), "{message}");
    // The monitors were let go: the next writes of both spacecraft go through.
    store.open.send_replace(true);
    app.ingest(sample("a-2", "SC-A", 2, 20.0))
        .await
        .expect("SC-A");
    app.ingest(sample("b-2", "SC-B", 2, 20.0))
        .await
        .expect("SC-B");
}

/// `writes` with each snapshot id made its spacecraft's own: writes of different spacecraft
/// in flight at once commit in either order, so which of two spacecraft's snapshots sharing an
/// id would be the conflict is not a matter of arrival order.
fn ids_per_spacecraft(writes: Vec<PlannedWrite>) -> Vec<PlannedWrite> {
    writes
        .into_iter()
        .map(|write| {
            write
                .into_iter()
                .map(|(id, craft, second, temp)| (format!("{craft}-{id}"), craft, second, temp))
                .collect()
        })
        .collect()
}

/// `first` sent while the store holds every group, `second` sent once the first group is held
/// (so groups are taken while others are in flight), then the store let go; then `after` one
/// by one.
async fn pipelined(
    first: &[PlannedWrite],
    second: &[PlannedWrite],
    after: &[PlannedWrite],
) -> Outcome {
    let (app, store) = gated_app(2);
    configure(&app).await;
    store.open.send_replace(false);
    let mut tasks: Vec<_> = first.iter().map(|w| spawn_ingest(&app, batch(w))).collect();
    if first.iter().any(consistent) {
        let mut reached = store.reached.subscribe();
        reached.wait_for(|n| *n >= 1).await.expect("gate");
    }
    tasks.extend(second.iter().map(|w| spawn_ingest(&app, batch(w))));
    settle().await;
    store.open.send_replace(true);
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(answer(task.await.expect("task")));
    }
    for write in after {
        answers.push(answer(app.ingest_batch(batch(write)).await));
    }
    outcome(&app, answers).await
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// With two groups in flight at once, every spacecraft's telemetry, anomalies, alarms,
    /// events and monitor are still those of sending the writes one by one in arrival order.
    #[test]
    fn pipelined_group_commit_equals_sequential_ingest(
        first in planned_writes(),
        second in planned_writes(),
        after in planned_writes(),
    ) {
        let (first, second, after) = (
            ids_per_spacecraft(first),
            ids_per_spacecraft(second),
            ids_per_spacecraft(after),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let all: Vec<PlannedWrite> = first.iter().chain(&second).cloned().collect();
        let expected = runtime.block_on(sequential(&all, &after));
        let got = runtime.block_on(pipelined(&first, &second, &after));
        prop_assert_eq!(got, expected);
    }
}

/// Counts the configuration reads of each spacecraft, the reads of the change feed and the
/// pages of every event read.
#[derive(Default)]
struct Reads {
    config: std::sync::Mutex<std::collections::HashMap<SpacecraftId, usize>>,
    feed_reads: std::sync::atomic::AtomicUsize,
    event_pages: std::sync::atomic::AtomicUsize,
    /// The spacecraft of each read of configurations for a list.
    config_lists: std::sync::Mutex<Vec<Vec<String>>>,
    /// Run (once) before the next read of configurations for a list.
    before_list: std::sync::Mutex<Option<futures_util::future::BoxFuture<'static, ()>>>,
    /// How many spacecraft and windows each read of anomaly counts for a list asked about.
    anomaly_counts: std::sync::Mutex<Vec<(usize, usize)>>,
    /// Run (once) before the next read of anomaly counts for a list.
    before_counts: std::sync::Mutex<Option<futures_util::future::BoxFuture<'static, ()>>>,
    /// Lists of alarms read.
    alarm_lists: std::sync::atomic::AtomicUsize,
}

impl Reads {
    /// The configuration reads since the last call, per spacecraft.
    fn take_config(&self) -> std::collections::BTreeMap<String, usize> {
        let mut config = self.config.lock().expect("reads");
        config
            .drain()
            .map(|(id, n)| (id.as_str().to_owned(), n))
            .collect()
    }

    /// The reads of configurations for a list since the last call.
    fn take_config_lists(&self) -> Vec<Vec<String>> {
        std::mem::take(&mut *self.config_lists.lock().expect("reads"))
    }

    /// Asserts that since the last call the configurations were read once, for `list`, and
    /// none one by one.
    fn assert_one_read_for(&self, list: &[&str]) {
        assert_eq!(
            self.take_config(),
            Default::default(),
            "none read one by one"
        );
        let list: Vec<String> = list.iter().map(|id| (*id).to_owned()).collect();
        assert_eq!(self.take_config_lists(), [list], "one read for the list");
    }

    /// The change feed's reads since the last call; every page of all events read meanwhile
    /// must be none (the feed reads the changes alone).
    fn take_feed_reads(&self) -> usize {
        assert_eq!(
            self.event_pages
                .swap(0, std::sync::atomic::Ordering::SeqCst),
            0,
            "pages of every event read"
        );
        self.feed_reads.swap(0, std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Interceptor for Reads {
    async fn before_config_read(&self, spacecraft: &SpacecraftId) {
        *self
            .config
            .lock()
            .expect("reads")
            .entry(spacecraft.clone())
            .or_default() += 1;
    }

    async fn before_events_after(&self) {
        self.event_pages
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    async fn before_configs_read(&self, spacecraft: &[SpacecraftId]) {
        self.config_lists
            .lock()
            .expect("reads")
            .push(spacecraft.iter().map(|id| id.as_str().to_owned()).collect());
        let step = self.before_list.lock().expect("reads").take();
        if let Some(step) = step {
            step.await;
        }
    }

    async fn before_config_changes_after(&self) {
        self.feed_reads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    async fn before_anomaly_counts_of(&self, spacecraft: &[SpacecraftId], since: &[Timestamp]) {
        self.anomaly_counts
            .lock()
            .expect("reads")
            .push((spacecraft.len(), since.len()));
        let step = self.before_counts.lock().expect("reads").take();
        if let Some(step) = step {
            step.await;
        }
    }

    async fn before_list_alarms(&self, _filter: &missionops_core::AlarmFilter) {
        self.alarm_lists
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A fleet of registered spacecraft over a memory store whose configuration reads and event
/// pages are counted, on a clock the test moves.
struct CountedFleet {
    app: MissionOps,
    store: Arc<Intercepted<Reads>>,
    clock: Arc<ManualClock>,
    fleet: &'static [&'static str],
}

impl CountedFleet {
    async fn new(fleet: &'static [&'static str]) -> Self {
        let store = Arc::new(Intercepted::wrap(
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            Reads::default(),
        ));
        let clock = Arc::new(ManualClock::new(t0()));
        let ids = Arc::new(SequentialIds::new());
        let app = MissionOps::new(store.clone(), clock.clone(), ids.clone());
        // Registered by another server (or before a restart): a fleet coming up loads its
        // monitors from the store.
        let elsewhere = MissionOps::new(store.clone(), clock.clone(), ids);
        for id in fleet {
            register_elsewhere(&elsewhere, &app, id).await;
        }
        CountedFleet {
            app,
            store,
            clock,
            fleet,
        }
    }

    /// `count` events of `kind` about SC-1, recorded straight into the store (as another
    /// process sharing the database would).
    async fn record_events_of_sc1(&self, count: u32, kind: EventType) {
        for n in 0..count {
            self.store
                .record_event(
                    &Default::default(),
                    missionops_store::conformance::fixtures::event(1_000 + n, Some("SC-1"), kind),
                )
                .await
                .expect("event");
        }
    }

    /// `ms` later, one write of every spacecraft at `second` with `temp`.
    async fn round_after(&self, ms: i64, second: i64, temp: f64) {
        self.clock.advance_millis(ms);
        for id in self.fleet {
            self.app
                .ingest(sample(&format!("{id}-{second}"), id, second, temp))
                .await
                .expect("write");
        }
    }
}

#[tokio::test]
async fn monitors_of_a_fleet_coming_up_are_covered_by_the_feed_from_their_first_recheck() {
    // The tenant's change feed begins when its first monitor loads; the monitors loaded after
    // that never read their versions again, only the first (loaded at the very moment the
    // feed began) does, once. Before, the feed began at the first recheck and every monitor
    // of the fleet read its versions once more then.
    let counted = CountedFleet::new(&["SC-1", "SC-2", "SC-3", "SC-4"]).await;
    let store = &counted.store;
    let first = |second: i64| sample(&format!("SC-1-{second}"), "SC-1", second, 20.0);
    counted.app.ingest(first(1)).await.expect("write");
    counted.clock.advance_millis(1);
    for id in &counted.fleet[1..] {
        counted
            .app
            .ingest(sample(&format!("{id}-1"), id, 1, 20.0))
            .await
            .expect("write");
    }
    store.take_config();
    assert_eq!(store.take_feed_reads(), 0, "begun, nothing to poll yet");
    counted.round_after(2_500, 2, 20.0).await;
    let reads = store.take_config();
    assert_eq!(
        reads.keys().map(String::as_str).collect::<Vec<_>>(),
        ["SC-1"],
        "only the monitor loaded as the feed began"
    );
    assert_eq!(store.take_feed_reads(), 1, "one page of events");
    counted.round_after(2_500, 3, 20.0).await;
    assert_eq!(store.take_config(), Default::default(), "covered");
}

#[tokio::test]
async fn a_fleets_monitors_are_rechecked_through_the_event_stream() {
    // Every monitor compares its configuration with the store again after the recheck time;
    // once the tenant's change feed is running, one page of events every recheck time says
    // which spacecraft changed, and only those read their configuration. A change another
    // process makes (straight into the store, with its CONFIG_CHANGED event) still applies.
    let counted = CountedFleet::new(&["SC-1", "SC-2", "SC-3", "SC-4"]).await;
    let store = &counted.store;
    counted.round_after(0, 1, 20.0).await;
    // Loaded when the feed began, with the first of them (this clock stands still while the
    // feed is asked, and an equal time is not trusted): read once more.
    counted.round_after(2_500, 2, 20.0).await;
    assert_eq!(
        store.take_config().len(),
        counted.fleet.len(),
        "round 2: read"
    );
    store.take_feed_reads();
    // Checked after the feed began: one page of events instead of a read each.
    for second in 3..7 {
        counted.round_after(2_500, second, 20.0).await;
        assert_eq!(
            store.take_config(),
            Default::default(),
            "round {second}: no reads"
        );
        assert_eq!(store.take_feed_reads(), 1, "round {second}: one read");
    }
    // Another process lowers SC-3's limit.
    let lower =
        SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": 10}}})).expect("config");
    configure_behind_the_app(&**store, "SC-3", lower).await;
    counted.round_after(2_500, 7, 20.0).await;
    let reads = store.take_config();
    assert!(
        reads.get("SC-3").is_some_and(|n| *n > 0),
        "SC-3 read: {reads:?}"
    );
    assert!(
        ["SC-1", "SC-2", "SC-4"]
            .iter()
            .all(|id| !reads.contains_key(*id)),
        "only the changed spacecraft read: {reads:?}"
    );
    let anomalies = |id: &'static str| {
        let store = Arc::clone(store);
        async move {
            missionops_core::AnomalyRepository::recent_anomalies(
                &*store,
                &Default::default(),
                &sc(id),
                Limit::clamped(10, 10),
            )
            .await
            .expect("anomalies")
            .len()
        }
    };
    assert_eq!(anomalies("SC-3").await, 1, "version 2's limit applied");
    assert_eq!(anomalies("SC-1").await, 0);
}

#[tokio::test]
async fn spacecraft_with_the_same_configuration_share_one_compiled_copy() {
    // A fleet of one model keeps one copy of its compiled rules, not one per spacecraft; a
    // spacecraft whose configuration differs has its own, and shares again once it is the same.
    let (app, _store) = recorded_app();
    for id in ["SC-1", "SC-2", "SC-3"] {
        register(&app, id).await;
    }
    let rules = |id: &'static str| {
        let app = app.clone();
        async move { app.rules_for(&sc(id)).await.expect("rules") }
    };
    assert!(Arc::ptr_eq(&rules("SC-1").await, &rules("SC-2").await));
    assert!(Arc::ptr_eq(&rules("SC-1").await, &rules("SC-3").await));
    let other =
        SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": 10}}})).expect("config");
    app.set_config(&sc("SC-3"), other, ConfigStatus::Approved, None)
        .await
        .expect("config");
    let changed = rules("SC-3").await;
    assert!(!Arc::ptr_eq(&rules("SC-1").await, &changed), "its own");
    let temp = missionops_core::ParameterName::parse("temp").expect("name");
    assert_eq!(
        changed.rule_for(&temp).map(|r| r.thresholds.warn_high),
        Some(10.0)
    );
    app.set_config(&sc("SC-3"), limits(), ConfigStatus::Approved, None)
        .await
        .expect("config");
    assert!(
        Arc::ptr_eq(&rules("SC-1").await, &rules("SC-3").await),
        "shared again"
    );
}

#[tokio::test]
async fn a_change_feed_far_behind_starts_again_and_every_monitor_reads_once() {
    // A feed not polled for 30 s, or with more than 20 pages of events to catch up on, is not
    // read through: it starts again at the newest event, and the monitors it covered read
    // their versions once (a change among those events still applies).
    let counted = CountedFleet::new(&["SC-1", "SC-2"]).await;
    let store = &counted.store;
    for second in 1..5 {
        counted.round_after(2_500, second, 20.0).await;
    }
    store.take_config();
    store.take_feed_reads();
    counted.round_after(2_500, 5, 20.0).await;
    assert_eq!(
        store.take_config(),
        Default::default(),
        "the feed is running"
    );
    assert_eq!(store.take_feed_reads(), 1);
    // Silent for 40 s; meanwhile SC-2's limit is lowered behind the application's back.
    let lower =
        SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": 10}}})).expect("config");
    configure_behind_the_app(&**store, "SC-2", lower).await;
    counted.round_after(40_000, 6, 20.0).await;
    assert_eq!(store.take_feed_reads(), 0, "not read through");
    assert_eq!(store.take_config().len(), 2, "every monitor read once");
    // Read when the feed started again (this clock stands still, an equal time is not
    // trusted): read once more, then covered.
    for second in 7..9 {
        counted.round_after(2_500, second, 20.0).await;
    }
    store.take_config();
    store.take_feed_reads();
    counted.round_after(2_500, 9, 20.0).await;
    assert_eq!(store.take_config(), Default::default(), "covered again");
    assert_eq!(store.take_feed_reads(), 1);
    // More than 20 pages of configuration changes behind: the same.
    counted
        .record_events_of_sc1(20_001, EventType::ConfigChanged)
        .await;
    counted.round_after(2_500, 10, 20.0).await;
    assert_eq!(store.take_feed_reads(), 20, "gave up after 20 pages");
    assert_eq!(store.take_config().len(), 2, "every monitor read once");
    let anomalies = missionops_core::AnomalyRepository::recent_anomalies(
        &**store,
        &Default::default(),
        &sc("SC-2"),
        Limit::clamped(10, 10),
    )
    .await
    .expect("anomalies");
    assert!(!anomalies.is_empty(), "SC-2's new limit applied");
}

#[tokio::test]
async fn a_change_feed_passes_over_a_storm_of_other_events_in_one_read() {
    // A tenant recording thousands of other events between two polls (a fleet in anomaly)
    // costs the feed one read of its changes: it does not page through the others, does not
    // start again, and no monitor reads its versions but the one that changed.
    let counted = CountedFleet::new(&["SC-1", "SC-2", "SC-3"]).await;
    let store = &counted.store;
    for second in 1..5 {
        counted.round_after(2_500, second, 20.0).await;
    }
    store.take_config();
    store.take_feed_reads();
    counted.record_events_of_sc1(25_000, EventType::Info).await;
    let lower =
        SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": 10}}})).expect("config");
    configure_behind_the_app(&**store, "SC-2", lower).await;
    counted.round_after(2_500, 5, 20.0).await;
    assert_eq!(store.take_feed_reads(), 1, "one read of the changes");
    let reads = store.take_config();
    assert_eq!(
        reads.keys().map(String::as_str).collect::<Vec<_>>(),
        ["SC-2"],
        "only the changed spacecraft read: {reads:?}"
    );
    // SC-2 read while its change was seen (this clock stands still, an equal time is not
    // trusted): read once more, then covered.
    counted.round_after(2_500, 6, 20.0).await;
    let reads = store.take_config();
    assert!(reads.keys().all(|id| id == "SC-2"), "{reads:?}");
    assert_eq!(store.take_feed_reads(), 1);
    counted.round_after(2_500, 7, 20.0).await;
    assert_eq!(store.take_config(), Default::default(), "covered again");
    assert_eq!(store.take_feed_reads(), 1);
}

#[tokio::test]
async fn a_page_of_spacecraft_reads_its_configurations_at_once() {
    // `GET /spacecraft` lists a page with each one's current configuration (the fleet's, or
    // the one set since): one read for the page, none one by one, each beside its own.
    let counted = CountedFleet::new(&["SC-1", "SC-2", "SC-3", "SC-4"]).await;
    let store = &counted.store;
    for (id, high) in [("SC-2", 20), ("SC-4", 40)] {
        let config = SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": high}}}))
            .expect("config");
        counted
            .app
            .set_config(&sc(id), config, ConfigStatus::Approved, None)
            .await
            .expect("config");
    }
    store.take_config();
    store.take_config_lists();
    let listing = counted
        .app
        .list_spacecraft(Limit::clamped(3, 100), 1)
        .await
        .expect("list");
    let configs: Vec<(String, Option<serde_json::Value>)> = listing
        .items
        .iter()
        .map(|item| {
            (
                item.spacecraft_id.to_string(),
                item.config
                    .as_ref()
                    .map(|c| serde_json::to_value(c).expect("json")),
            )
        })
        .collect();
    assert_eq!(
        configs,
        [
            (
                "SC-2".to_owned(),
                Some(json!({"parameters": {"temp": {"warnHigh": 20}}}))
            ),
            (
                "SC-3".to_owned(),
                Some(json!({"parameters": {"temp": {"warnHigh": 45, "critHigh": 70}}}))
            ),
            (
                "SC-4".to_owned(),
                Some(json!({"parameters": {"temp": {"warnHigh": 40}}}))
            ),
        ]
    );
    store.assert_one_read_for(&["SC-2", "SC-3", "SC-4"]);
}

#[tokio::test]
async fn a_tick_after_a_fleet_configuration_change_reads_every_configuration_at_once() {
    // A configuration change of the whole fleet makes every monitor due at the next tick;
    // the tick reads their configurations in one read for the list, none one by one, and
    // the new limits apply from the next sample without a further read.
    let counted = CountedFleet::new(&["SC-1", "SC-2", "SC-3", "SC-4", "SC-5"]).await;
    let store = &counted.store;
    counted.round_after(0, 1, 20.0).await;
    let lower =
        SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": 10}}})).expect("config");
    for id in counted.fleet {
        counted
            .app
            .set_config(&sc(id), lower.clone(), ConfigStatus::Approved, None)
            .await
            .expect("config");
    }
    store.take_config();
    store.take_config_lists();
    counted.clock.advance_millis(100);
    let report = counted.app.tick().await.expect("tick");
    assert_eq!(
        report.spacecraft,
        counted.fleet.len(),
        "every monitor was due"
    );
    store.assert_one_read_for(counted.fleet);
    counted.round_after(100, 2, 20.0).await;
    assert_eq!(
        store.take_config(),
        Default::default(),
        "nothing read to write"
    );
    for id in counted.fleet {
        let anomalies = missionops_core::AnomalyRepository::recent_anomalies(
            &**store,
            &Default::default(),
            &sc(id),
            Limit::clamped(10, 10),
        )
        .await
        .expect("anomalies");
        assert_eq!(anomalies.len(), 1, "{id}: the new limit applied");
    }
}

#[tokio::test]
async fn a_monitor_changed_here_while_the_tick_reads_for_the_list_reads_its_own() {
    // A configuration changed by this application after the tick's read for the list began
    // may be newer than what that read finds: its monitor reads its own, and the change
    // applies from the next sample.
    let counted = CountedFleet::new(&["SC-1", "SC-2", "SC-3"]).await;
    let store = &counted.store;
    counted.round_after(0, 1, 20.0).await;
    let lower =
        SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": 10}}})).expect("config");
    for id in ["SC-1", "SC-3"] {
        counted
            .app
            .set_config(&sc(id), limits(), ConfigStatus::Approved, None)
            .await
            .expect("config");
    }
    let app = counted.app.clone();
    *store.before_list.lock().expect("reads") = Some(Box::pin(async move {
        app.set_config(&sc("SC-3"), lower, ConfigStatus::Approved, None)
            .await
            .expect("change during the read");
    }));
    store.take_config();
    counted.clock.advance_millis(100);
    counted.app.tick().await.expect("tick");
    assert_eq!(
        store.take_config_lists(),
        [vec!["SC-1".to_owned(), "SC-3".to_owned()]]
    );
    let reads = store.take_config();
    assert!(
        reads.get("SC-3").is_some_and(|n| *n > 1),
        "SC-3 read its own, after the change's own read: {reads:?}"
    );
    assert!(
        !reads.contains_key("SC-1"),
        "SC-1 took the list's: {reads:?}"
    );
    counted.round_after(100, 2, 20.0).await;
    let anomalies = missionops_core::AnomalyRepository::recent_anomalies(
        &**store,
        &Default::default(),
        &sc("SC-3"),
        Limit::clamped(10, 10),
    )
    .await
    .expect("anomalies");
    assert_eq!(anomalies.len(), 1, "SC-3's change applied");
}

/// The reads that build a monitor from the store: history and open alarms, per spacecraft.
#[derive(Default)]
struct MonitorReads {
    history: std::sync::Mutex<Vec<String>>,
    alarms: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Interceptor for MonitorReads {
    async fn before_recent_telemetry(&self, spacecraft: &SpacecraftId) {
        self.history
            .lock()
            .expect("reads")
            .push(spacecraft.as_str().to_owned());
    }

    async fn before_list_alarms(&self, _filter: &AlarmFilter) {
        self.alarms
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_spacecraft_registered_here_starts_its_monitor_without_reading_it_back() {
    // Registered by this handle, a spacecraft has no history, alarms or configuration to
    // rebuild a monitor from: its first write reads none of them (on PostgreSQL nine round
    // trips each for a fleet registered and then streamed), and is monitored all the same,
    // under the configuration stored after the registration. One registered by another
    // handle is read back as before, and so is one registered here that no write used
    // within ten seconds.
    let store = Arc::new(Intercepted::wrap(
        Arc::new(MemoryStore::new()) as Arc<dyn Store>,
        MonitorReads::default(),
    ));
    let (clock, ids) = (
        Arc::new(ManualClock::new(t0())),
        Arc::new(SequentialIds::new()),
    );
    let app = MissionOps::new(store.clone(), clock.clone(), ids.clone());
    let elsewhere = MissionOps::new(store.clone(), clock.clone(), ids);
    register(&app, "SC-HERE").await;
    register(&app, "SC-SOON").await;
    register(&app, "SC-LATER").await;
    register_elsewhere(&elsewhere, &app, "SC-THERE").await;
    for id in ["SC-HERE", "SC-THERE"] {
        app.ingest(sample(&format!("{id}-1"), id, 1, 50.0))
            .await
            .expect("write");
    }
    assert_eq!(
        *store.history.lock().expect("reads"),
        ["SC-THERE"],
        "only the spacecraft registered elsewhere is read back"
    );
    assert_eq!(
        store.alarms.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one read of open alarms, SC-THERE's"
    );
    // Unused for ten seconds, an empty start is read back after all (another server may have
    // streamed the spacecraft meanwhile); one a write used is this server's.
    clock.advance_millis(9_999);
    app.ingest(sample("SC-SOON-2", "SC-SOON", 2, 50.0))
        .await
        .expect("write");
    clock.advance_millis(1);
    for id in ["SC-HERE", "SC-LATER"] {
        app.ingest(sample(&format!("{id}-3"), id, 3, 50.0))
            .await
            .expect("write");
    }
    assert_eq!(
        *store.history.lock().expect("reads"),
        ["SC-THERE", "SC-LATER"],
        "SC-SOON (first written just in time) and SC-HERE kept, SC-LATER read back"
    );
    // Each crossed the limit its configuration (stored after the registration) sets.
    for id in ["SC-HERE", "SC-SOON", "SC-LATER", "SC-THERE"] {
        let open = app
            .list_alarms(&AlarmFilter {
                spacecraft_id: Some(sc(id)),
                states: AlarmStates::Open,
            })
            .await
            .expect("alarms");
        assert_eq!(open.len(), 1, "{id}: {open:?}");
    }
}

#[tokio::test]
async fn the_fleet_status_reads_every_window_at_once_and_counts_alarms_without_listing_them() {
    // The console's fleet page reloads the status on every event: each figure is one read
    // for the list, the three anomaly windows together, and the alarms counted by the store
    // rather than every open alarm of the fleet read and counted here.
    let counted = CountedFleet::new(&["SC-1", "SC-2", "SC-3"]).await;
    let app = &counted.app;
    app.set_config(&sc("SC-2"), limits(), ConfigStatus::Approved, None)
        .await
        .expect("limits");
    app.ingest(sample("hot", "SC-2", 1, 50.0))
        .await
        .expect("above warnHigh");
    counted.store.anomaly_counts.lock().expect("reads").clear();
    counted
        .store
        .alarm_lists
        .store(0, std::sync::atomic::Ordering::SeqCst);
    let fleet = app.fleet_status().await.expect("fleet");
    let alarms: Vec<(&str, usize)> = fleet
        .iter()
        .map(|f| (f.status.spacecraft_id.as_str(), f.status.active_alarms))
        .collect();
    assert_eq!(alarms, [("SC-1", 0), ("SC-2", 1), ("SC-3", 0)]);
    assert_eq!(
        *counted.store.anomaly_counts.lock().expect("reads"),
        [(3, 3)],
        "one read of three windows for the three spacecraft"
    );
    assert_eq!(
        counted
            .store
            .alarm_lists
            .load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no list of alarms read"
    );
}

#[tokio::test]
async fn callers_asking_while_a_fleet_status_is_made_share_the_next_one_made_after_they_asked() {
    // A control room's screens all reload the fleet after one event: the first caller's
    // status is held half-way; a spacecraft registers; four more callers ask. They share one
    // status, made after they asked (so it has the new spacecraft), and the first caller's is
    // not given to them.
    let counted = CountedFleet::new(&["SC-1", "SC-2"]).await;
    let (reached, held_reached) = tokio::sync::oneshot::channel::<()>();
    let (release, held) = tokio::sync::oneshot::channel::<()>();
    *counted.store.before_counts.lock().expect("reads") = Some(Box::pin(async move {
        let _ = reached.send(());
        let _ = held.await;
    }));
    counted.store.anomaly_counts.lock().expect("reads").clear();
    let first = tokio::spawn({
        let app = counted.app.clone();
        async move { app.fleet_status().await }
    });
    held_reached
        .await
        .expect("the first status reaches its counts");
    register_elsewhere(&counted.app, &counted.app, "SC-3").await;
    let later: Vec<_> = (0..4)
        .map(|_| {
            let app = counted.app.clone();
            tokio::spawn(async move { app.fleet_status().await })
        })
        .collect();
    // One thread: each caller runs until it waits for its turn.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    release.send(()).expect("release the first status");
    let ids = |fleet: &[missionops_core::FleetEntry]| -> Vec<String> {
        fleet
            .iter()
            .map(|f| f.status.spacecraft_id.to_string())
            .collect()
    };
    let first = first.await.expect("first").expect("first status");
    assert_eq!(ids(&first), ["SC-1", "SC-2"]);
    let mut answers = Vec::new();
    for caller in later {
        answers.push(caller.await.expect("caller").expect("status"));
    }
    for answer in &answers {
        assert_eq!(ids(answer), ["SC-1", "SC-2", "SC-3"]);
        assert_eq!(answer, &answers[0]);
    }
    assert_eq!(
        *counted.store.anomaly_counts.lock().expect("reads"),
        [(2, 3), (3, 3)],
        "two statuses for five callers: the first's and one shared by the other four"
    );

    // Nothing is kept once every caller has its answer: a lone caller makes its own.
    register_elsewhere(&counted.app, &counted.app, "SC-4").await;
    let alone = counted.app.fleet_status().await.expect("status");
    assert_eq!(ids(&alone), ["SC-1", "SC-2", "SC-3", "SC-4"]);
    assert_eq!(counted.store.anomaly_counts.lock().expect("reads").len(), 3);
}
