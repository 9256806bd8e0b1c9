//! The conformance suite on the SQLite backend, each case on a fresh file, plus what only a
//! durable backend can show: reopening, migrations, the outbox, exact JSON round trips, and
//! stored rows that cannot be read back.

use missionops_core::TenantId;
use std::sync::Arc;

use missionops_core::{
    BucketWidth, ConfigRecord, ConfigRepository, ConfigStatus, DocumentBody, DocumentRepository,
    DocumentTitle, Error, EventRepository, EventType, NewEvent, OpsDocument, ParameterName,
    Parameters, SearchQuery, SpacecraftConfig, SpacecraftRepository, Store, TelemetryRepository,
    TelemetrySnapshot, TelemetryWrite, Timestamp,
};
use missionops_store::SqliteStore;
use missionops_store::conformance::Guard;
use missionops_store::conformance::backends::TempSqlite;
use missionops_store::conformance::fixtures::{
    self, at, document, limit, object, register_as, sc, snapshot_with, spacecraft_with, write,
};
use serde_json::json;

async fn fresh() -> (Arc<dyn Store>, Guard) {
    let TempSqlite { store, dir } = TempSqlite::open().await;
    (Arc::new(store), Box::new(dir))
}

missionops_store::conformance_tests!(fresh);
missionops_store::tenancy_conformance_tests!(fresh);

/// Event number `n` of SC-1 (INFO), with a fraction in its metadata.
fn event(n: u32) -> NewEvent {
    NewEvent {
        metadata: object(json!({"n": n, "ratio": 0.1})),
        ..fixtures::event(n, Some("SC-1"), EventType::Info)
    }
}

/// Registers the CUBESAT `id`, with a fraction in its metadata, recording [`event`]`(n)`.
async fn register(store: &dyn Store, id: &str, n: u32) {
    let metadata = json!({"launch": 2025, "mass": 1.33});
    register_as(
        store,
        spacecraft_with(id, id, "CUBESAT", metadata, at(0)),
        event(n),
    )
    .await;
}

/// A procedure published at [`at`]`(second)` that belongs to no spacecraft.
fn doc(id: &str, second: i64, title: &str, body: &str, tags: &[&str]) -> OpsDocument {
    OpsDocument {
        spacecraft_id: None,
        ..document(id, second, title, body, tags)
    }
}

/// Runs `sql` on the store's file through a separate connection, as another program would.
async fn raw(sqlite: &TempSqlite, sql: &str) {
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&sqlite.url())
        .await
        .expect("raw connection");
    sqlx::query(sql).execute(&mut conn).await.expect("raw SQL");
}

async fn raw_count(sqlite: &TempSqlite, sql: &str) -> i64 {
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&sqlite.url())
        .await
        .expect("raw connection");
    sqlx::query_scalar(sql)
        .fetch_one(&mut conn)
        .await
        .expect("raw count")
}

#[tokio::test]
async fn every_location_form_opens_the_same_file_and_migrating_again_changes_nothing() {
    let sqlite = TempSqlite::open().await;
    let store = &sqlite.store;
    register(store, "SC-1", 1).await;
    store.close().await;
    let path = sqlite.path();
    let forms = [
        format!("sqlite://{}", path.display()),
        format!("sqlite:{}", path.display()),
        path.display().to_string(),
    ];
    for form in forms {
        let reopened = SqliteStore::open(&form).await.expect("reopen");
        let got = reopened
            .get_spacecraft(&TenantId::default(), &sc("SC-1"))
            .await
            .expect("get");
        assert!(got.is_some(), "{form} must open the same file");
        reopened.close().await;
    }
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .expect("migrations directory")
        .count();
    assert_eq!(
        raw_count(&sqlite, "SELECT COUNT(*) FROM _sqlx_migrations").await,
        i64::try_from(files).expect("count"),
        "each migration is recorded once"
    );
    let err = SqliteStore::open("sqlite::memory:")
        .await
        .expect_err("in-memory is refused");
    assert!(matches!(err, Error::Invalid { .. }), "got {err}");
}

#[tokio::test]
async fn opening_creates_a_wal_database_with_foreign_keys() {
    let sqlite = TempSqlite::open().await;
    assert!(sqlite.path().exists());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&sqlite.url())
        .await
        .expect("raw connection");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("journal mode");
    assert_eq!(mode, "wal");
    // A telemetry row for a spacecraft key that does not exist breaks a foreign key.
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut conn)
        .await
        .expect("pragma");
    let orphan = sqlx::query(
        "INSERT INTO telemetry (id, spacecraft_key, ts, parameters) VALUES ('x', 42, 0, '{}')",
    )
    .execute(&mut conn)
    .await;
    assert!(orphan.is_err(), "the schema must declare its foreign keys");
}

#[tokio::test]
async fn data_survives_closing_and_reopening() {
    let sqlite = TempSqlite::open().await;
    let store = &sqlite.store;
    register(store, "SC-1", 1).await;
    let original = snapshot_with(
        "a",
        "SC-1",
        1,
        json!({"temp": 0.30000000000000004, "mode": "SAFE"}),
    );
    store
        .insert_telemetry(write(vec![original.clone()]))
        .await
        .expect("insert");
    store.close().await;
    let reopened = SqliteStore::open(&sqlite.url()).await.expect("reopen");
    let back = reopened
        .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert_eq!(back, vec![original]);
    assert_eq!(
        reopened
            .recent_events(&TenantId::default(), None, limit(10))
            .await
            .expect("events")
            .len(),
        1
    );
}

#[tokio::test]
async fn every_event_gets_one_pending_outbox_row_and_failed_writes_add_none() {
    let sqlite = TempSqlite::open().await;
    let store = &sqlite.store;
    register(store, "SC-1", 1).await;
    store
        .record_event(&TenantId::default(), event(2))
        .await
        .expect("record");
    store
        .insert_telemetry(TelemetryWrite {
            tenant: Default::default(),
            registrations: Vec::new(),
            snapshots: vec![snapshot_with("a", "SC-1", 1, json!({"temp": 1}))],
            anomalies: vec![],
            alarms: Vec::new(),
            events: vec![event(3), event(4)],
        })
        .await
        .expect("insert");
    assert_eq!(store.outbox_pending().await.expect("outbox"), 4);
    // Event 2 is taken: nothing of this write may remain, outbox included.
    let failed = store
        .insert_telemetry(TelemetryWrite {
            tenant: Default::default(),
            registrations: Vec::new(),
            snapshots: vec![snapshot_with("b", "SC-1", 2, json!({"temp": 1}))],
            anomalies: vec![],
            alarms: Vec::new(),
            events: vec![event(5), event(2)],
        })
        .await
        .expect_err("taken event id");
    match failed {
        Error::Conflict { entity, id, .. } => assert_eq!((entity, id.as_str()), ("event", "ev-2")),
        other => panic!("expected a conflict naming the event, got {other}"),
    }
    assert_eq!(store.outbox_pending().await.expect("outbox"), 4);
    assert_eq!(
        raw_count(
            &sqlite,
            "SELECT COUNT(*) FROM outbox o JOIN events e ON e.sequence = o.sequence \
             WHERE o.attempts = 0 AND o.next_attempt_at = e.ts"
        )
        .await,
        4,
        "outbox rows are due at once and untried"
    );
    let recent = store
        .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert_eq!(recent.len(), 1);
}

#[tokio::test]
async fn configurations_keep_numbers_and_field_order_exactly() {
    let sqlite = TempSqlite::open().await;
    let store = &sqlite.store;
    register(store, "SC-1", 1).await;
    let document = json!({
        "zeta": {"b": 1, "a": [1e21, 1e-7, 0.30000000000000004, -0.5]},
        "parameters": {"temp": {"warnHigh": 45, "critHigh": 70.25}},
        "status": "approved", "alpha": null
    });
    let record = ConfigRecord {
        spacecraft_id: sc("SC-1"),
        version: 1,
        config: SpacecraftConfig::parse(document.clone()).expect("config"),
        status: ConfigStatus::Draft,
        source: None,
        created_at: at(3),
    };
    store
        .put_config(&TenantId::default(), record.clone(), event(2))
        .await
        .expect("put");
    let back = store
        .current_config(&TenantId::default(), &sc("SC-1"))
        .await
        .expect("get")
        .expect("a config");
    assert_eq!(back, record);
    assert_eq!(
        serde_json::to_string(back.config.as_object()).expect("json"),
        serde_json::to_string(&document).expect("json"),
    );
    let spacecraft = store
        .get_spacecraft(&TenantId::default(), &sc("SC-1"))
        .await
        .expect("get")
        .expect("found");
    assert_eq!(
        serde_json::to_string(&spacecraft.metadata).expect("json"),
        r#"{"launch":2025,"mass":1.33}"#
    );
}

#[tokio::test]
async fn series_take_the_last_stored_sample_of_a_tie_and_read_any_parameter_name() {
    let sqlite = TempSqlite::open().await;
    let store = &sqlite.store;
    register(store, "SC-1", 1).await;
    let odd = r#"odd "name".x\y"#;
    store
        .insert_telemetry(write(vec![
            snapshot_with("a", "SC-1", 5, json!({"temp": 1.5, odd: 10, "bus.v x": 7})),
            snapshot_with(
                "b",
                "SC-1",
                5,
                json!({"temp": 4.5, odd: 20, "bus.v x": 8.5}),
            ),
            snapshot_with("c", "SC-1", 1, json!({"temp": 0.25, odd: "n/a"})),
            snapshot_with("d", "SC-1", -61, json!({"temp": -3})),
        ]))
        .await
        .expect("insert");
    let minute = BucketWidth::parse("1m").expect("bucket");
    let temp = ParameterName::parse("temp").expect("name");
    let series = store
        .telemetry_series(
            &TenantId::default(),
            &sc("SC-1"),
            &temp,
            at(-100),
            at(100),
            minute,
        )
        .await
        .expect("series");
    let got: Vec<(Timestamp, f64, f64, f64, u64, f64)> = series
        .iter()
        .map(|b| (b.start, b.min, b.max, b.avg, b.count, b.last))
        .collect();
    assert_eq!(
        got,
        vec![
            (at(-120), -3.0, -3.0, -3.0, 1, -3.0),
            (at(0), 0.25, 4.5, 6.25 / 3.0, 3, 4.5),
        ]
    );
    let odd = ParameterName::parse(odd).expect("name");
    let series = store
        .telemetry_series(
            &TenantId::default(),
            &sc("SC-1"),
            &odd,
            at(0),
            at(100),
            minute,
        )
        .await
        .expect("series");
    assert_eq!(series.len(), 1);
    assert_eq!(
        (series[0].count, series[0].last, series[0].avg),
        (2, 20.0, 15.0)
    );
    let dotted = ParameterName::parse("bus.v x").expect("name");
    let series = store
        .telemetry_series(
            &TenantId::default(),
            &sc("SC-1"),
            &dotted,
            at(0),
            at(100),
            minute,
        )
        .await
        .expect("series");
    assert_eq!(series.len(), 1);
    assert_eq!(
        (series[0].min, series[0].max, series[0].last),
        (7.0, 8.5, 8.5)
    );
}

#[tokio::test]
async fn long_ranges_come_back_whole_in_order_across_pages_and_ties() {
    let sqlite = TempSqlite::open().await;
    let store = &sqlite.store;
    register(store, "SC-1", 1).await;
    register(store, "SC-2", 2).await;
    // 7,000 snapshots, three per second, stored in three batches out of time order, with
    // another spacecraft's telemetry in between: reads cross several pages, and pages end
    // in the middle of a run of equal times.
    let mut expected: Vec<(i64, usize)> = Vec::new();
    let mut batches: Vec<Vec<TelemetrySnapshot>> = vec![Vec::new(), Vec::new(), Vec::new()];
    for n in 0..7_000usize {
        let second = (n / 3) as i64;
        let batch = n % 3;
        batches[batch].push(snapshot_with(
            &format!("s{n}"),
            "SC-1",
            second,
            json!({"n": n, "half": 0.5}),
        ));
        expected.push((second, batch * 10_000 + n));
    }
    for (b, batch) in batches.into_iter().enumerate() {
        store.insert_telemetry(write(batch)).await.expect("insert");
        store
            .insert_telemetry(write(vec![snapshot_with(
                &format!("other{b}"),
                "SC-2",
                10,
                json!({"n": -1}),
            )]))
            .await
            .expect("insert");
    }
    // Within one second, the batch stored first comes first.
    expected.sort();
    let expected: Vec<String> = expected
        .iter()
        .map(|(_, k)| format!("s{}", k % 10_000))
        .collect();
    for max in [1, 2_047, 2_048, 2_049, 4_500, 7_000, 10_000] {
        let got = store
            .telemetry_range(&TenantId::default(), &sc("SC-1"), at(0), at(100_000), max)
            .await
            .expect("range");
        let ids: Vec<&str> = got.iter().map(|s| s.id.as_str()).collect();
        let want: Vec<&str> = expected.iter().take(max).map(String::as_str).collect();
        assert_eq!(ids, want, "max {max}");
        assert!(got.iter().all(|s| s.spacecraft_id == sc("SC-1")));
    }
    let window = store
        .telemetry_range(
            &TenantId::default(),
            &sc("SC-1"),
            at(1_000),
            at(1_999),
            usize::MAX,
        )
        .await
        .expect("range");
    assert_eq!(window.len(), 3_000);
    assert_eq!(window[0].timestamp, at(1_000));
    assert_eq!(window[2_999].timestamp, at(1_999));
    assert_eq!(
        window[1].parameters,
        Parameters::from_json(&json!({"n": 3_001, "half": 0.5})).expect("parameters")
    );
}

async fn search(store: &dyn Store, q: &str) -> Vec<String> {
    let query = SearchQuery::parse(q).expect("query");
    store
        .search_documents(&TenantId::default(), &query, limit(10))
        .await
        .expect("search")
        .into_iter()
        .map(|d| d.id.into_string())
        .collect()
}

#[tokio::test]
async fn search_finds_substrings_inside_words_and_ranks_whole_word_hits_first() {
    let sqlite = TempSqlite::open().await;
    let store = &sqlite.store;
    let docs = [
        doc(
            "inside",
            1,
            "Notes",
            "check the thermistorvolt readings",
            &[],
        ),
        doc("word", 2, "Volt recovery", "bus VOLT drop", &[]),
        doc("unicode", 3, "ÜBERSPANNUNG", "Überspannung am Bus", &[]),
        doc("tag", 4, "Other", "nothing", &["volt"]),
        doc("quote", 5, "Say \"hi\"", "text", &[]),
    ];
    for (n, d) in docs.iter().enumerate() {
        store
            .publish_document(&TenantId::default(), d.clone(), event(n as u32 + 1))
            .await
            .expect("publish");
    }
    assert_eq!(search(store, "volt").await, ["word", "tag", "inside"]);
    assert_eq!(
        search(store, "rvol").await,
        ["inside"],
        "a substring inside a word matches"
    );
    assert_eq!(
        search(store, "überspannung").await,
        ["unicode"],
        "case folding is Unicode-aware"
    );
    assert_eq!(
        search(store, "\"hi\"").await,
        ["quote"],
        "quotes cannot break the FTS query"
    );
    assert_eq!(search(store, "--").await, Vec::<String>::new());
    // The index follows updates.
    let mut updated = docs[1].clone();
    updated.version = 2;
    updated.title = DocumentTitle::parse("Power recovery").expect("title");
    updated.body = DocumentBody::parse("bus drop").expect("body");
    store
        .update_document(&TenantId::default(), updated, event(9))
        .await
        .expect("update");
    assert_eq!(search(store, "volt").await, ["tag", "inside"]);
    assert_eq!(
        raw_count(
            &sqlite,
            "SELECT COUNT(*) FROM document_versions WHERE document_id = 'word'"
        )
        .await,
        2,
        "every version is kept"
    );
}

#[tokio::test]
async fn concurrent_writers_get_gap_free_sequences() {
    let sqlite = TempSqlite::open().await;
    let store = &sqlite.store;
    register(store, "SC-1", 1000).await;
    let mut tasks = Vec::new();
    for task in 0..8u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25u32 {
                let n = task * 100 + i;
                store
                    .insert_telemetry(TelemetryWrite {
                        tenant: Default::default(),
                        registrations: Vec::new(),
                        snapshots: vec![snapshot_with(
                            &format!("s{n}"),
                            "SC-1",
                            i64::from(n),
                            json!({"t": n}),
                        )],
                        anomalies: vec![],
                        alarms: Vec::new(),
                        events: vec![event(n)],
                    })
                    .await
                    .expect("insert");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let events = store
        .recent_events(&TenantId::default(), None, limit(1000))
        .await
        .expect("events");
    let sequences: Vec<u64> = events.iter().rev().map(|e| e.sequence).collect();
    assert_eq!(sequences, (1..=201).collect::<Vec<u64>>());
}

#[tokio::test]
async fn a_stored_row_that_cannot_be_read_back_is_a_backend_error() {
    let sqlite = TempSqlite::open().await;
    let store = &sqlite.store;
    register(store, "SC-1", 1).await;
    store
        .insert_telemetry(write(vec![snapshot_with("a", "SC-1", 1, json!({"t": 1}))]))
        .await
        .expect("insert");
    raw(&sqlite, "UPDATE telemetry SET parameters = '{\"t\": [1]}'").await;
    let err = store
        .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect_err("corrupt row");
    assert!(matches!(err, Error::Backend(_)), "got {err}");
    assert!(err.to_string().contains("snapshot 'a'"), "{err}");
    raw(
        &sqlite,
        "UPDATE spacecraft SET created_at = 999999999999999999",
    )
    .await;
    let err = store
        .get_spacecraft(&TenantId::default(), &sc("SC-1"))
        .await
        .expect_err("corrupt time");
    assert!(matches!(err, Error::Backend(_)), "got {err}");
}

#[tokio::test]
async fn the_write_probe_fails_while_another_process_holds_the_write_lock() {
    use missionops_core::WriteProbe;

    let sqlite = TempSqlite::open().await;
    let store = &sqlite.store;
    store
        .probe_writes()
        .await
        .expect("a fresh file takes writes");
    let mut other = <sqlx::SqliteConnection as sqlx::Connection>::connect(&sqlite.url())
        .await
        .expect("raw connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("take the write lock");
    // After the busy timeout, as a write would: unavailable (worth retrying), not broken.
    let err = store.probe_writes().await.expect_err("the file is locked");
    assert!(matches!(err, Error::Unavailable(_)), "got {err}");
    store
        .list_spacecraft(&TenantId::default(), limit(1), 0)
        .await
        .expect("reads still answer");
    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("release the lock");
    store.probe_writes().await.expect("writable again");
    // The probe changed nothing: a write still commits with the first event sequence.
    register(store, "SC-1", 1).await;
    let events = store
        .recent_events(&TenantId::default(), None, limit(10))
        .await
        .expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].sequence, 1);
}

/// The clock tick asks for each tenant's SHELVED alarms on every tick; after a fleet-wide
/// outage a tenant holds a hundred thousand open alarms, few of them shelved. The query must
/// read only the alarms of the state it names (index `alarms_by_state`), not walk every alarm
/// of the tenant by opening time.
#[tokio::test]
async fn alarms_of_one_state_are_read_through_the_state_index() {
    let sqlite = TempSqlite::open().await;
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&sqlite.url())
        .await
        .expect("raw connection");
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT * FROM alarms WHERE tenant = ?1 AND state = ?2 \
         ORDER BY opened_at DESC, id DESC",
    )
    .bind("default")
    .bind("SHELVED")
    .fetch_all(&mut conn)
    .await
    .expect("query plan");
    let details: Vec<&str> = plan.iter().map(|(_, _, _, d)| d.as_str()).collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("USING INDEX alarms_by_state (tenant=? AND state=?)")),
        "plan: {details:?}"
    );
}

/// A store on `sqlite`'s file as the server opens it: latest values written behind the
/// telemetry.
async fn deferring_store(sqlite: &TempSqlite) -> SqliteStore {
    SqliteStore::open(&sqlite.url())
        .await
        .expect("open")
        .deferring_latest_values()
}

/// The latest values of every spacecraft, by spacecraft then parameter, as JSON.
async fn latest_of(store: &dyn Store, ids: &[&str]) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    for id in ids {
        let values = store
            .latest_values(&TenantId::default(), &sc(id))
            .await
            .expect("latest values");
        all.push(serde_json::to_value(values).expect("json"));
    }
    all
}

/// Latest values are written behind the telemetry (`telemetry::latest`): a process killed
/// before writing them leaves them to be rebuilt from the telemetry stored after the arrival
/// number `latest_values_flushed` names. With the table emptied and that number set back to
/// 0, reopening rebuilds exactly what was there: newest sample time per parameter, a later
/// arrival winning a tie, every kind of value with its exact JSON.
#[tokio::test]
async fn latest_values_a_process_did_not_write_are_rebuilt_from_the_telemetry_at_open() {
    let sqlite = TempSqlite::open().await;
    let deferring = deferring_store(&sqlite).await;
    let store = &deferring;
    register(store, "SC-1", 1).await;
    register(store, "SC-2", 2).await;
    let writes = [
        snapshot_with(
            "a",
            "SC-1",
            5,
            json!({"temp": 20.5, "mode": "SAFE", "on": true}),
        ),
        // Older than "a": "temp" stays 20.5, "volt" is new.
        snapshot_with(
            "b",
            "SC-1",
            3,
            json!({"temp": 99, "volt": 0.30000000000000004}),
        ),
        // The same time as "a": the later arrival wins.
        snapshot_with(
            "c",
            "SC-1",
            5,
            json!({"mode": "CRUISE", "id": "\"quoted\" ü"}),
        ),
        snapshot_with("d", "SC-2", 7, json!({"temp": -1e-7, "flag": false})),
    ];
    for snapshot in writes {
        store
            .insert_telemetry(write(vec![snapshot]))
            .await
            .expect("insert");
    }
    let expected = latest_of(store, &["SC-1", "SC-2"]).await;
    assert_eq!(
        expected[0],
        json!([
            {"parameter": "id", "value": "\"quoted\" ü", "timestamp": at(5).to_string()},
            {"parameter": "mode", "value": "CRUISE", "timestamp": at(5).to_string()},
            {"parameter": "on", "value": true, "timestamp": at(5).to_string()},
            {"parameter": "temp", "value": 20.5, "timestamp": at(5).to_string()},
            {"parameter": "volt", "value": 0.30000000000000004, "timestamp": at(3).to_string()},
        ]),
        "read before any flush, from what waits in memory"
    );
    store.close().await;
    sqlite.store.close().await;
    let reopened = SqliteStore::open(&sqlite.url()).await.expect("reopen");
    assert_eq!(
        latest_of(&reopened, &["SC-1", "SC-2"]).await,
        expected,
        "written at close"
    );
    reopened.close().await;
    raw(&sqlite, "DELETE FROM latest_values").await;
    raw(&sqlite, "UPDATE latest_values_flushed SET seq = 0").await;
    let rebuilt = SqliteStore::open(&sqlite.url()).await.expect("reopen");
    assert_eq!(
        latest_of(&rebuilt, &["SC-1", "SC-2"]).await,
        expected,
        "rebuilt from the telemetry"
    );
    assert_eq!(
        raw_count(&sqlite, "SELECT seq FROM latest_values_flushed").await,
        raw_count(&sqlite, "SELECT MAX(seq) FROM telemetry").await,
        "and the table says it holds all of it"
    );
}

/// A flush of a fleet's latest values (taken, encoded away from the write connection, then
/// written) writes them all with the arrival number they cover: they come back the same from
/// the file, and nothing is left for the repair at open.
#[tokio::test]
async fn a_flush_of_many_spacecraft_writes_them_all_with_the_number_they_cover() {
    let sqlite = TempSqlite::open().await;
    let deferring = deferring_store(&sqlite).await;
    let store = &deferring;
    let ids: Vec<String> = (0..250).map(|i| format!("SC-{i:03}")).collect();
    for (n, id) in (1..).zip(&ids) {
        register(store, id, n).await;
    }
    let parameters: serde_json::Map<String, serde_json::Value> =
        (0..10).map(|p| (format!("p{p}"), json!(p))).collect();
    for (second, id) in (1..).zip(&ids) {
        store
            .insert_telemetry(write(vec![snapshot_with(
                &format!("s-{id}"),
                id,
                second,
                serde_json::Value::Object(parameters.clone()),
            )]))
            .await
            .expect("insert");
    }
    let names: Vec<&str> = ids.iter().map(String::as_str).collect();
    let expected = latest_of(store, &names).await;
    assert_eq!(
        expected[249].as_array().map(Vec::len),
        Some(10),
        "read from memory"
    );
    store.close().await;
    assert_eq!(
        raw_count(&sqlite, "SELECT COUNT(*) FROM latest_values").await,
        2_500
    );
    assert_eq!(
        raw_count(&sqlite, "SELECT seq FROM latest_values_flushed").await,
        raw_count(&sqlite, "SELECT MAX(seq) FROM telemetry").await,
        "the number covers every row"
    );
    sqlite.store.close().await;
    let reopened = SqliteStore::open(&sqlite.url()).await.expect("reopen");
    assert_eq!(latest_of(&reopened, &names).await, expected);
}

/// Two processes on one file: the server writes latest values behind its telemetry, a CLI
/// command writes them with its own. The CLI's write moves the "latest values hold every row
/// up to here" number only over rows it covered, so a server killed before writing its own
/// waiting values has them rebuilt at the next open, whatever the CLI wrote after them; and a
/// file written only by such writes needs no rebuilding (the number stays at the newest row).
#[tokio::test]
async fn latest_values_waiting_in_one_process_survive_another_writing_after_them() {
    let sqlite = TempSqlite::open().await;
    let cli = &sqlite.store;
    register(cli, "SC-1", 1).await;
    register(cli, "SC-2", 2).await;
    cli.insert_telemetry(write(vec![snapshot_with(
        "a",
        "SC-1",
        1,
        json!({"temp": 1}),
    )]))
    .await
    .expect("insert");
    let covered = "SELECT seq FROM latest_values_flushed";
    let newest = "SELECT MAX(seq) FROM telemetry";
    assert_eq!(
        raw_count(&sqlite, covered).await,
        raw_count(&sqlite, newest).await
    );
    let server = deferring_store(&sqlite).await;
    server
        .insert_telemetry(write(vec![snapshot_with(
            "b",
            "SC-2",
            2,
            json!({"volt": 28}),
        )]))
        .await
        .expect("insert");
    cli.insert_telemetry(write(vec![snapshot_with(
        "c",
        "SC-1",
        3,
        json!({"temp": 3}),
    )]))
    .await
    .expect("insert");
    // The server is killed: what waited in it is gone with it.
    drop(server);
    cli.close().await;
    let reopened = SqliteStore::open(&sqlite.url()).await.expect("reopen");
    let latest = latest_of(&reopened, &["SC-1", "SC-2"]).await;
    assert_eq!(
        latest,
        vec![
            json!([{"parameter": "temp", "value": 3, "timestamp": at(3).to_string()}]),
            json!([{"parameter": "volt", "value": 28, "timestamp": at(2).to_string()}]),
        ]
    );
}

/// A spacecraft registered in one go takes the key after the highest this store knows of. When
/// another process (a CLI command on the same file) registered one meanwhile, that key is
/// taken: the write goes the careful way instead, and no telemetry lands on the other
/// process's spacecraft.
#[tokio::test]
async fn registrations_in_one_go_never_take_a_key_another_process_took() {
    let sqlite = TempSqlite::open().await;
    let server = &sqlite.store;
    let cli = SqliteStore::open_path(sqlite.path()).await.expect("open");
    let new = |id: &str, n: u32, snapshot: &str| TelemetryWrite {
        registrations: vec![fixtures::registration(id, 5, n)],
        ..write(vec![fixtures::snapshot(snapshot, id, 1, f64::from(n))])
    };
    for (id, n, snapshot) in [("NEW-1", 1, "a"), ("NEW-2", 2, "b")] {
        let group = server
            .insert_telemetry_group(vec![new(id, n, snapshot)])
            .await;
        assert!(group.failure.is_none(), "{:?}", group.failure);
    }
    fixtures::register(&cli, "OTHER", 5, 3).await;
    let group = server
        .insert_telemetry_group(vec![new("NEW-3", 4, "c"), new("NEW-4", 5, "d")])
        .await;
    assert!(group.failure.is_none(), "{:?}", group.failure);
    assert_eq!(group.stored, vec![fixtures::outcome(1, 0); 2]);
    let tenant = TenantId::default();
    let others = cli
        .recent_telemetry(&tenant, &sc("OTHER"), limit(10))
        .await
        .expect("recent");
    assert!(others.is_empty(), "{others:?}");
    for (id, snapshot) in [
        ("NEW-1", "a"),
        ("NEW-2", "b"),
        ("NEW-3", "c"),
        ("NEW-4", "d"),
    ] {
        let stored = cli
            .recent_telemetry(&tenant, &sc(id), limit(10))
            .await
            .expect("recent");
        let ids: Vec<&str> = stored.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, [snapshot], "{id}");
    }
    let keys = raw_count(&sqlite, "SELECT COUNT(DISTINCT key) FROM spacecraft").await;
    assert_eq!(keys, 5);
    let events = cli
        .recent_events(&tenant, None, limit(10))
        .await
        .expect("events");
    assert_eq!(events.len(), 5, "one SPACECRAFT_REGISTERED each");
    // And in one go again afterwards, after the highest key.
    let group = server
        .insert_telemetry_group(vec![new("NEW-5", 6, "e")])
        .await;
    assert!(group.failure.is_none(), "{:?}", group.failure);
    let stored = cli
        .recent_telemetry(&tenant, &sc("NEW-5"), limit(10))
        .await
        .expect("recent");
    assert_eq!(stored.len(), 1);
}
