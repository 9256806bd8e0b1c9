//! The conformance suite on the PostgreSQL backend, then what only this backend has to show:
//! migrations, outbox rows, exact JSON text, concurrency, scratch databases, bad stored data.
//!
//! Needs a PostgreSQL server: `MISSIONOPS_TEST_DATABASE_URL` names a role that may create
//! databases (default `postgres://postgres@127.0.0.1:5432/postgres`). When it cannot be reached
//! every case fails saying so; nothing is skipped.
//!
//! Every case runs on a database of its own: [`scratch_postgres`] creates one with a random name
//! and migrates it, and the store drops it when the case ends. The guard that drops it lives
//! inside the store, so the harness's guard holds nothing.

use missionops_core::TenantId;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;

use missionops_core::{
    ConfigRecord, ConfigStatus, DocumentBody, DocumentCategory, DocumentId, DocumentTitle, Error,
    NewEvent, OpsDocument, Parameters, RangePages, SearchQuery, SnapshotId, Spacecraft,
    SpacecraftConfig, Store, Tags, TelemetryPage, TelemetrySnapshot, TelemetryWrite, Timestamp,
};
use missionops_core::{
    ConfigRepository, DocumentRepository, EventRepository, SpacecraftRepository,
    TelemetryRepository,
};
use missionops_store::PostgresStore;
use missionops_store::conformance::Guard;
use missionops_store::conformance::backends::{admin_url, scratch_postgres};
use missionops_store::conformance::fixtures::{
    at, event_named, limit, register_as, sc, snapshot, snapshot_with, spacecraft_with, write,
};
use serde_json::json;

async fn fresh() -> (Arc<dyn Store>, Guard) {
    (Arc::new(scratch_postgres().await), Box::new(()))
}

missionops_store::conformance_tests!(fresh);
missionops_store::tenancy_conformance_tests!(fresh);

// ---------------------------------------------------------------------------------------------
// Postgres-specific behaviour.

/// An INFO event `id` of `spacecraft` at [`at`]`(0)`, its metadata keys out of order.
fn event(id: &str, spacecraft: Option<&str>) -> NewEvent {
    event_named(id, spacecraft, at(0), json!({"z": 1, "a": 2.5}))
}

/// The CUBESAT `id` registered at [`at`]`(0)`, with an orbit in its metadata.
fn spacecraft_named(id: &str) -> Spacecraft {
    let metadata = json!({"orbit": "SSO", "altitudeKm": 550});
    spacecraft_with(id, id, "CUBESAT", metadata, at(0))
}

async fn register(store: &PostgresStore, id: &str) {
    register_as(
        store,
        spacecraft_named(id),
        event(&format!("reg-{id}"), Some(id)),
    )
    .await;
}

#[tokio::test]
async fn migrating_again_is_a_no_op() {
    let store = scratch_postgres().await;
    store.migrate().await.expect("second migration");
    store.migrate().await.expect("third migration");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .expect("count migrations");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .expect("migrations folder")
        .count();
    assert_eq!(applied, i64::try_from(files).expect("count"));
}

/// `latest_values` keeps half of each page free (migration 0015): the write-behind updates
/// every live row once a second, and only with room on the page can an update stay there as a
/// heap-only tuple instead of adding an index entry (2 % HOT before, 99 % after, BENCHMARKS.md
/// "Session 18").
#[tokio::test]
async fn latest_values_keeps_room_for_updates_on_their_page() {
    let store = scratch_postgres().await;
    let options: Option<Vec<String>> =
        sqlx::query_scalar("SELECT reloptions FROM pg_class WHERE oid = 'latest_values'::regclass")
            .fetch_one(store.pool())
            .await
            .expect("reloptions");
    assert_eq!(options, Some(vec!["fillfactor=50".to_owned()]));
}

/// An outbox row costs its event's statement one heap row and the indexes claims read, nothing
/// else (migration 0016): no foreign key trigger looking its event up again and locking it,
/// no index that no query reads.
#[tokio::test]
async fn an_outbox_row_carries_no_foreign_key_and_only_the_indexes_claims_read() {
    let store = scratch_postgres().await;
    let constraints: Vec<(String, String)> = sqlx::query_as(
        "SELECT conname::text, contype::text FROM pg_constraint
         WHERE conrelid = 'outbox'::regclass AND contype IN ('f', 'p', 'u') ORDER BY conname",
    )
    .fetch_all(store.pool())
    .await
    .expect("constraints");
    assert_eq!(
        constraints,
        vec![("outbox_pkey".to_owned(), "p".to_owned())]
    );
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'outbox' ORDER BY indexname",
    )
    .fetch_all(store.pool())
    .await
    .expect("indexes");
    assert_eq!(
        indexes,
        [
            "outbox_dead_idx",
            "outbox_held_idx",
            "outbox_pending_sequence_idx",
            "outbox_pkey"
        ]
    );
}

#[tokio::test]
async fn every_recorded_event_has_a_pending_outbox_row() {
    let store = scratch_postgres().await;
    register(&store, "SC-1").await;
    store
        .record_event(&TenantId::default(), event("info-1", None))
        .await
        .expect("record");
    assert_eq!(store.outbox_pending().await.expect("pending"), 2);
    let rows: Vec<(i64, String, i32)> =
        sqlx::query_as("SELECT sequence, status, attempts FROM outbox ORDER BY sequence")
            .fetch_all(store.pool())
            .await
            .expect("outbox");
    assert_eq!(
        rows,
        vec![(1, "pending".to_owned(), 0), (2, "pending".to_owned(), 0)]
    );
}

#[tokio::test]
async fn documents_keep_their_exact_text_and_are_queryable_as_jsonb() {
    let store = scratch_postgres().await;
    register(&store, "SC-1").await;
    let config = SpacecraftConfig::parse(json!({
        "parameters": {"temp": {"warnHigh": 45, "critHigh": 70.5}},
        "zeta": 1e21, "alpha": 0.30000000000000004, "note": "kept"
    }))
    .expect("config");
    store
        .put_config(
            &TenantId::default(),
            ConfigRecord {
                spacecraft_id: sc("SC-1"),
                version: 1,
                config,
                status: ConfigStatus::Draft,
                source: None,
                created_at: at(1),
            },
            event("cfg-1", Some("SC-1")),
        )
        .await
        .expect("put config");
    let (text, warn_high): (String, String) = sqlx::query_as(
        "SELECT config_json::text, config #>> '{parameters,temp,warnHigh}' FROM spacecraft_configs",
    )
    .fetch_one(store.pool())
    .await
    .expect("config row");
    assert_eq!(
        text,
        r#"{"parameters":{"temp":{"warnHigh":45,"critHigh":70.5}},"zeta":1e+21,"alpha":0.30000000000000004,"note":"kept"}"#
    );
    assert_eq!(warn_high, "45");
    let back = store
        .current_config(&TenantId::default(), &sc("SC-1"))
        .await
        .expect("current")
        .expect("a config");
    assert_eq!(
        serde_json::to_string(back.config.as_object()).expect("json"),
        text
    );
    let orbit: String =
        sqlx::query_scalar("SELECT metadata ->> 'orbit' FROM spacecraft WHERE id = 'SC-1'")
            .fetch_one(store.pool())
            .await
            .expect("metadata");
    assert_eq!(orbit, "SSO");
}

#[tokio::test]
async fn a_nul_character_in_a_config_is_invalid_input_not_a_backend_failure() {
    let store = scratch_postgres().await;
    register(&store, "SC-1").await;
    // The core rejects NUL when it parses a config; a document that reaches the store some
    // other way (here: unchecked) must still be refused as bad input, not fail the backend.
    assert!(SpacecraftConfig::parse(json!({"note": "a\u{0}b"})).is_err());
    let config = SpacecraftConfig::from_stored(
        json!({"note": "a\u{0}b"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    let err = store
        .put_config(
            &TenantId::default(),
            ConfigRecord {
                spacecraft_id: sc("SC-1"),
                version: 1,
                config,
                status: ConfigStatus::Approved,
                source: None,
                created_at: at(1),
            },
            event("cfg-1", Some("SC-1")),
        )
        .await
        .expect_err("jsonb cannot hold NUL");
    assert!(matches!(err, Error::Invalid { .. }), "got {err}");
    assert_eq!(store.outbox_pending().await.expect("pending"), 1);
}

#[tokio::test]
async fn concurrent_writers_get_gap_free_sequences() {
    let store = scratch_postgres().await;
    let mut tasks = Vec::new();
    for n in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            // Every fourth write reuses an id and must fail without using up a number.
            let id = if n % 4 == 3 {
                format!("ev-{}", n - 1)
            } else {
                format!("ev-{n}")
            };
            store
                .record_event(&TenantId::default(), event(&id, None))
                .await
        }));
    }
    let mut failures = 0;
    for task in tasks {
        if task.await.expect("task").is_err() {
            failures += 1;
        }
    }
    assert_eq!(failures, 10);
    let events = store
        .recent_events(&TenantId::default(), None, limit(1000))
        .await
        .expect("events");
    let mut sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    sequences.sort_unstable();
    assert_eq!(sequences, (1..=30).collect::<Vec<u64>>());
}

#[tokio::test]
async fn concurrent_ingests_of_one_batch_store_it_once() {
    let store = Arc::new(scratch_postgres().await);
    register(&store, "SC-1").await;
    let batch: Vec<TelemetrySnapshot> = (0..200)
        .map(|i| {
            snapshot_with(
                &format!("s{i}"),
                "SC-1",
                i,
                json!({"temp": i, "mode": "CRUISE"}),
            )
        })
        .collect();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = Arc::clone(&store);
        let batch = batch.clone();
        tasks.push(tokio::spawn(async move {
            store.insert_telemetry(write(batch)).await
        }));
    }
    let mut inserted = 0;
    let mut duplicates = 0;
    for task in tasks {
        let outcome = task.await.expect("task").expect("ingest");
        inserted += outcome.inserted;
        duplicates += outcome.duplicates;
    }
    assert_eq!((inserted, duplicates), (200, 600));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM telemetry")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(rows, 200);
}

#[tokio::test]
async fn a_retried_batch_stores_only_its_new_snapshots_with_its_events() {
    let store = scratch_postgres().await;
    register(&store, "SC-1").await;
    store
        .insert_telemetry(write(vec![snapshot_with(
            "a",
            "SC-1",
            5,
            json!({"temp": 1}),
        )]))
        .await
        .expect("insert");
    let outcome = store
        .insert_telemetry(TelemetryWrite {
            tenant: Default::default(),
            registrations: Vec::new(),
            snapshots: vec![
                snapshot_with("b", "SC-1", 5, json!({"temp": 2})),
                snapshot_with("a", "SC-1", 5, json!({"temp": 1})),
            ],
            anomalies: Vec::new(),
            alarms: Vec::new(),
            events: vec![event("mode-1", Some("SC-1"))],
        })
        .await
        .expect("retry");
    assert_eq!((outcome.inserted, outcome.duplicates), (1, 1));
    let recent = store
        .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect("recent");
    let ids: Vec<&str> = recent.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["b", "a"],
        "the snapshot stored last comes first on a tie"
    );
    let latest = store
        .latest_values(&TenantId::default(), &sc("SC-1"))
        .await
        .expect("latest");
    assert_eq!(latest[0].value.to_string(), "2");
    assert_eq!(store.outbox_pending().await.expect("pending"), 2);
}

/// The same writes on this store and on the in-memory reference give the same series, latest
/// values and windows, ties and times before 1970 included.
#[tokio::test]
async fn series_latest_values_and_windows_match_the_in_memory_store() {
    let store = scratch_postgres().await;
    let memory = missionops_store::MemoryStore::new();
    let stores: [&dyn missionops_core::Store; 2] = [&store, &memory];
    let epoch = Timestamp::parse("1970-01-01T00:00:00Z").expect("epoch");
    let snap = |id: &str, second: i64, parameters: serde_json::Value| TelemetrySnapshot {
        id: SnapshotId::parse(id).expect("id"),
        spacecraft_id: sc("SC-1"),
        timestamp: epoch.add_millis(second * 1000 + 250),
        parameters: Parameters::from_json(&parameters).expect("parameters"),
    };
    let batches = vec![
        vec![
            snap("a", -90, json!({"v": 1.5, "mode": "SAFE"})),
            snap("b", -61, json!({"v": -2})),
            snap("c", -1, json!({"v": 0.1, "flag": true})),
            snap("d", 0, json!({"v": "n/a"})),
        ],
        vec![
            snap("e", -1, json!({"v": 0.2})),
            snap("f", 59, json!({"v": 1e21})),
            snap("g", 59, json!({"v": 3})),
            snap("h", 125, json!({"mode": "CRUISE"})),
        ],
    ];
    for target in stores {
        let mut spacecraft = spacecraft_named("SC-1");
        spacecraft.created_at = epoch;
        target
            .register_spacecraft(&TenantId::default(), spacecraft, event("reg", Some("SC-1")))
            .await
            .expect("register");
        for batch in &batches {
            target
                .insert_telemetry(write(batch.clone()))
                .await
                .expect("insert");
        }
    }
    let v = missionops_core::ParameterName::parse("v").expect("name");
    for bucket in ["1s", "1m", "1h"] {
        let width = missionops_core::BucketWidth::parse(bucket).expect("bucket");
        let from = epoch.add_millis(-3_600_000);
        let to = epoch.add_millis(3_600_000);
        let got = store
            .telemetry_series(&TenantId::default(), &sc("SC-1"), &v, from, to, width)
            .await
            .expect("series");
        let want = memory
            .telemetry_series(&TenantId::default(), &sc("SC-1"), &v, from, to, width)
            .await
            .expect("series");
        assert_eq!(got, want, "series in {bucket} buckets");
    }
    assert_eq!(
        store
            .latest_values(&TenantId::default(), &sc("SC-1"))
            .await
            .expect("latest"),
        memory
            .latest_values(&TenantId::default(), &sc("SC-1"))
            .await
            .expect("latest")
    );
    let (from, to) = (epoch.add_millis(-61_000), epoch.add_millis(60_000));
    assert_eq!(
        store
            .telemetry_range(&TenantId::default(), &sc("SC-1"), from, to, 100)
            .await
            .expect("range"),
        memory
            .telemetry_range(&TenantId::default(), &sc("SC-1"), from, to, 100)
            .await
            .expect("range")
    );
    assert_eq!(
        store
            .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(5))
            .await
            .expect("recent"),
        memory
            .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(5))
            .await
            .expect("recent")
    );
}

#[tokio::test]
async fn search_takes_wildcards_literally_and_matches_substrings() {
    let store = scratch_postgres().await;
    let doc = |id: &str, title: &str, body: &str| OpsDocument {
        id: DocumentId::parse(id).expect("id"),
        spacecraft_id: None,
        title: DocumentTitle::parse(title).expect("title"),
        category: DocumentCategory::general(),
        tags: Tags::default(),
        body: DocumentBody::parse(body).expect("body"),
        published_at: at(1),
        updated_at: at(1),
        version: 1,
    };
    for (n, d) in [
        doc("pct", "Charge above 50% only", "text"),
        doc("plain", "Charge above 500 cycles", "text"),
        doc("sub", "Subsystems", "see the batteries chapter"),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .publish_document(&TenantId::default(), d, event(&format!("doc-{n}"), None))
            .await
            .expect("publish");
    }
    let search = |q: &str| {
        let store = store.clone();
        let q = SearchQuery::parse(q).expect("query");
        async move {
            store
                .search_documents(&TenantId::default(), &q, limit(10))
                .await
                .expect("search")
                .into_iter()
                .map(|d| d.id.into_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("50%").await, ["pct"]);
    assert_eq!(
        search("batt").await,
        ["sub"],
        "a substring of a word matches"
    );
    assert!(search("_").await.is_empty());
}

#[tokio::test]
async fn unreadable_stored_data_is_a_backend_error_not_a_panic() {
    let store = scratch_postgres().await;
    register(&store, "SC-1").await;
    store
        .insert_telemetry(write(vec![snapshot_with(
            "a",
            "SC-1",
            1,
            json!({"temp": 1}),
        )]))
        .await
        .expect("insert");
    sqlx::query("UPDATE telemetry SET parameters = '[1, 2]'")
        .execute(store.pool())
        .await
        .expect("sabotage");
    let err = store
        .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(5))
        .await
        .expect_err("parameters that are not an object");
    assert!(matches!(err, Error::Backend(_)), "got {err}");
    sqlx::query("UPDATE spacecraft SET id = 'has space' WHERE id = 'SC-1'")
        .execute(store.pool())
        .await
        .expect("sabotage");
    let err = store
        .list_spacecraft(&TenantId::default(), limit(5), 0)
        .await
        .expect_err("an id that does not parse");
    assert!(matches!(err, Error::Backend(_)), "got {err}");
}

#[tokio::test]
async fn a_scratch_database_is_dropped_with_its_store() {
    let store = scratch_postgres().await;
    let name = store
        .scratch_database()
        .expect("a scratch store")
        .to_owned();
    let observer = PostgresStore::connect(&admin_url()).await.expect("connect");
    let exists = |observer: PostgresStore, name: String| async move {
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
        )
        .bind(name)
        .fetch_one(observer.pool())
        .await
        .expect("query")
    };
    assert!(exists(observer.clone(), name.clone()).await);
    drop(store);
    assert!(!exists(observer, name).await);
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_at_connect_and_on_every_call() {
    let started = std::time::Instant::now();
    let err = PostgresStore::connect("postgres://postgres@127.0.0.1:1/missionops")
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(err, Error::Unavailable(_)), "got {err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));

    // A store whose server went away: each call fails as unavailable (HTTP 503, worth
    // retrying), not as an internal error.
    let gone = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:1/missionops")
        .expect("a lazy pool");
    let store = PostgresStore::from_pool(gone);
    let err = store
        .list_spacecraft(&TenantId::default(), limit(5), 0)
        .await
        .expect_err("no server");
    assert!(matches!(err, Error::Unavailable(_)), "got {err}");
    let err = store
        .insert_telemetry(write(vec![snapshot_with(
            "a",
            "SC-1",
            1,
            json!({"temp": 1}),
        )]))
        .await
        .expect_err("no server");
    assert!(matches!(err, Error::Unavailable(_)), "got {err}");
}

#[tokio::test]
async fn the_write_probe_fails_on_a_database_that_refuses_writes_and_reads_still_answer() {
    use missionops_core::WriteProbe;

    let store = scratch_postgres().await;
    store
        .probe_writes()
        .await
        .expect("a fresh database takes writes");
    let name = store
        .scratch_database()
        .expect("a scratch store")
        .to_owned();
    sqlx::query(&format!(
        "ALTER DATABASE \"{name}\" SET default_transaction_read_only = on"
    ))
    .execute(store.pool())
    .await
    .expect("make the database read-only for new sessions");
    // A server connecting now finds the database read-only, as after a switch to a standby.
    let admin = admin_url();
    let (base, _) = admin.rsplit_once('/').expect("a database in the admin URL");
    let url = format!("{base}/{name}");
    let read_only = PostgresStore::connect(&url).await.expect("connect");
    let err = read_only.probe_writes().await.expect_err("read-only");
    assert!(matches!(err, Error::Backend(_)), "got {err}");
    assert!(
        err.to_string().contains("read-only"),
        "the cause is kept for the log: {err}"
    );
    read_only
        .list_spacecraft(&TenantId::default(), limit(1), 0)
        .await
        .expect("reads still answer");
    read_only.pool().close().await;

    sqlx::query(&format!(
        "ALTER DATABASE \"{name}\" RESET default_transaction_read_only"
    ))
    .execute(store.pool())
    .await
    .expect("writable again");
    let writable = PostgresStore::connect(&url).await.expect("connect");
    writable.probe_writes().await.expect("takes writes");
    writable.pool().close().await;
    // The probe changed nothing: the first write still gets event sequence 1.
    register(&store, "SC-1").await;
    let events = store
        .recent_events(&TenantId::default(), None, limit(10))
        .await
        .expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].sequence, 1);
}

/// A server's store on `plain`'s database that holds latest values back, writing them only
/// when a case asks (`write_latest_values`).
fn holding_back(plain: &PostgresStore) -> PostgresStore {
    let hour = std::time::Duration::from_secs(3600);
    PostgresStore::from_pool(plain.pool().clone()).deferring_latest_values_every(hour)
}

/// [`holding_back`] with the default tenant listed: a first write (snapshot "a" of SC-1, which
/// must be registered, temp 1.0 at second 1) moved the table in its statement, and a
/// write-behind listed the tenant, so that its later writes are held back.
async fn holding_back_listed(plain: &PostgresStore) -> PostgresStore {
    let server = holding_back(plain);
    server
        .insert_telemetry(write(vec![snapshot("a", "SC-1", 1, 1.0)]))
        .await
        .expect("first");
    server.write_latest_values().await.expect("write behind");
    server
}

/// The time of each latest value of `spacecraft` (default tenant) that `store` reads, by
/// parameter.
async fn latest_times(store: &PostgresStore, spacecraft: &str) -> Vec<(String, Timestamp)> {
    store
        .latest_values(&TenantId::default(), &sc(spacecraft))
        .await
        .expect("latest values")
        .into_iter()
        .map(|v| (v.parameter.as_str().to_owned(), v.timestamp))
        .collect()
}

/// The server's store writes latest values behind its one-statement ingests: its own reads see
/// them at once, other processes once they are written. A tenant's first write moves the table
/// in its statement (the store's row in `latest_values_writers` does not list the tenant yet);
/// after a write-behind lists it, writes are held back until the next one.
#[tokio::test]
async fn latest_values_written_behind_are_read_at_once_and_by_others_once_written() {
    let plain = scratch_postgres().await;
    register(&plain, "SC-1").await;
    let server = holding_back(&plain);
    let tenant = TenantId::default();
    let temp = |store: PostgresStore| {
        let tenant = tenant.clone();
        async move {
            let values = store
                .latest_values(&tenant, &sc("SC-1"))
                .await
                .expect("latest values");
            values
                .into_iter()
                .find(|v| v.parameter.as_str() == "temp")
                .map(|v| (v.timestamp, v.value))
        }
    };
    let number = |n: f64| missionops_core::ParameterValue::Number(n);
    server
        .insert_telemetry(write(vec![snapshot("a", "SC-1", 1, 1.0)]))
        .await
        .expect("first");
    assert_eq!(
        temp(plain.clone()).await,
        Some((at(1), number(1.0))),
        "first write inline"
    );
    server.write_latest_values().await.expect("write behind");
    server
        .insert_telemetry(write(vec![snapshot("b", "SC-1", 2, 2.0)]))
        .await
        .expect("second");
    assert_eq!(
        temp(server.clone()).await,
        Some((at(2), number(2.0))),
        "read at once"
    );
    assert_eq!(
        temp(plain.clone()).await,
        Some((at(1), number(1.0))),
        "held back"
    );
    // An older sample held back does not hide the newer one in the table.
    server
        .insert_telemetry(write(vec![snapshot("c", "SC-1", 0, 9.0)]))
        .await
        .expect("older");
    assert_eq!(temp(server.clone()).await, Some((at(2), number(2.0))));
    server.write_latest_values().await.expect("write behind");
    assert_eq!(
        temp(plain.clone()).await,
        Some((at(2), number(2.0))),
        "written"
    );
    // A write of several statements (here it registers its spacecraft) holds back too.
    server
        .insert_telemetry(TelemetryWrite {
            registrations: vec![missionops_store::conformance::fixtures::registration(
                "SC-2", 5, 7,
            )],
            ..write(vec![snapshot("d", "SC-2", 3, 3.0)])
        })
        .await
        .expect("registering write");
    let of_sc2 = |store: PostgresStore| {
        let tenant = tenant.clone();
        async move {
            store
                .latest_values(&tenant, &sc("SC-2"))
                .await
                .expect("latest values")
                .len()
        }
    };
    assert_eq!(of_sc2(server.clone()).await, 2, "read at once");
    assert_eq!(of_sc2(plain.clone()).await, 0, "held back");
    server.write_latest_values().await.expect("write behind");
    assert_eq!(of_sc2(plain.clone()).await, 2, "written");
}

/// The first values of a spacecraft the server registered are written behind with a plain
/// insert (no row can hold them yet); if another process wrote some meanwhile, the insert
/// meets its row, and the write-behind goes again with the upsert: the newer of the two
/// stays, and nothing held back is lost.
#[tokio::test]
async fn first_values_of_a_spacecraft_registered_here_survive_another_writer_meanwhile() {
    let plain = scratch_postgres().await;
    register(&plain, "SC-1").await;
    let server = holding_back_listed(&plain).await;
    let registering = |id: &str, spacecraft: &str, second: i64, temp: f64, n: u32| TelemetryWrite {
        registrations: vec![missionops_store::conformance::fixtures::registration(
            spacecraft, second, n,
        )],
        ..write(vec![snapshot(id, spacecraft, second, temp)])
    };
    server
        .insert_telemetry(registering("b", "SC-2", 3, 3.0, 7))
        .await
        .expect("registers SC-2, held back");
    server
        .insert_telemetry(registering("c", "SC-3", 4, 4.0, 8))
        .await
        .expect("registers SC-3, held back");
    // Another process writes SC-2's values first, an older sample: its row is there before the
    // server's write-behind, which must still leave the server's newer sample.
    plain
        .insert_telemetry(write(vec![snapshot("x", "SC-2", 2, 2.0)]))
        .await
        .expect("another process");
    server.write_latest_values().await.expect("write behind");
    let temps = |spacecraft: &'static str| latest_times(&plain, spacecraft);
    let both = |second| {
        vec![
            ("mode".to_owned(), at(second)),
            ("temp".to_owned(), at(second)),
        ]
    };
    assert_eq!(temps("SC-2").await, both(3), "the server's newer sample");
    assert_eq!(
        temps("SC-3").await,
        both(4),
        "written in the same write-behind"
    );
    // Once written, a spacecraft's values are updated like any other's.
    server
        .insert_telemetry(write(vec![snapshot("d", "SC-3", 6, 6.0)]))
        .await
        .expect("later");
    server.write_latest_values().await.expect("write behind");
    assert_eq!(temps("SC-3").await, both(6));
}

/// A spacecraft's latest values are one `jsonb` row (migration 0017), each value kept as the
/// JSON text it came as: quotes, escapes, text beyond ASCII, large numbers and booleans come
/// back as written, moved in the ingest statement or written behind.
#[tokio::test]
async fn latest_values_keep_any_text_and_number_in_their_spacecraft_row() {
    let plain = scratch_postgres().await;
    register(&plain, "SC-1").await;
    register(&plain, "SC-2").await;
    let server = holding_back(&plain);
    let parameters = json!({"note": "tab\t \"quoted\" \\ é", "big": 1e21, "on": true});
    let snapshot = |id: &str, spacecraft: &str| {
        missionops_store::conformance::fixtures::snapshot_with(
            id,
            spacecraft,
            1,
            parameters.clone(),
        )
    };
    // The plain store moves them in its statement; the server lists the tenant, then holds
    // SC-2's back and writes them behind.
    plain
        .insert_telemetry(write(vec![snapshot("a", "SC-1")]))
        .await
        .expect("moved in the statement");
    server
        .write_latest_values()
        .await
        .expect("lists the tenant");
    server
        .insert_telemetry(write(vec![snapshot("b", "SC-2")]))
        .await
        .expect("held back");
    server.write_latest_values().await.expect("write behind");
    let expected = missionops_core::Parameters::from_json(&parameters).expect("parameters");
    for spacecraft in ["SC-1", "SC-2"] {
        let latest = plain
            .latest_values(&TenantId::default(), &sc(spacecraft))
            .await
            .expect("latest values");
        assert_eq!(latest.len(), 3, "{spacecraft}");
        for value in latest {
            assert_eq!(
                Some(&value.value),
                expected.get(value.parameter.as_str()),
                "{spacecraft} {}",
                value.parameter
            );
            assert_eq!(value.timestamp, at(1));
        }
    }
}

/// Pages are copied out with `COPY`, which takes no parameters: a spacecraft id that is no
/// plain literal (quotes, a backslash, text beyond ASCII) goes through a setting of the
/// transaction instead, and reads exactly its own rows, page by page.
#[tokio::test]
async fn pages_of_a_spacecraft_whose_id_is_no_plain_literal_are_its_own() {
    let store = scratch_postgres().await;
    let odd = r"SC'1\x'é";
    for spacecraft in [odd, "SC-1"] {
        register(&store, spacecraft).await;
        let snapshots = (1..=5)
            .map(|second| snapshot(&format!("{spacecraft}-{second}"), spacecraft, second, 1.0))
            .collect();
        store
            .insert_telemetry(write(snapshots))
            .await
            .expect("insert");
    }
    let tenant = TenantId::default();
    let mut seconds = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .telemetry_range_page(&tenant, &sc(odd), at(2), at(5), after, 2)
            .await
            .expect("page");
        assert!(page.snapshots.iter().all(|s| s.spacecraft_id == sc(odd)));
        seconds.extend(page.snapshots.iter().map(|s| s.timestamp));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seconds, [at(2), at(3), at(4), at(5)]);
    let streamed: Vec<TelemetryPage> = Arc::new(store)
        .telemetry_range_pages(tenant, sc(odd), at(2), at(5), 3, usize::MAX)
        .pages
        .try_collect()
        .await
        .expect("window");
    let snapshots: Vec<_> = streamed.into_iter().flat_map(|p| p.snapshots).collect();
    assert!(snapshots.iter().all(|s| s.spacecraft_id == sc(odd)));
    let seconds: Vec<_> = snapshots.iter().map(|s| s.timestamp).collect();
    assert_eq!(
        seconds,
        [at(2), at(3), at(4), at(5)],
        "the window read as one stream"
    );
}

/// A window whose pages nobody reads until told whether it is over the cap (the analysis
/// waits for that, holding what it found only up to a bound) fills the pages read ahead long
/// before its stream ends: the rest of it is counted to tell, over the cap or not, and the
/// pages then come whole, each but the last with the cursor after it.
#[tokio::test]
async fn a_window_whose_answer_is_awaited_first_is_counted_then_read_whole() {
    let store = Arc::new(scratch_postgres().await);
    register(&store, "SC-1").await;
    let snapshots = (1..=40)
        .map(|second| snapshot(&format!("s{second}"), "SC-1", second, 1.0))
        .collect();
    store
        .insert_telemetry(write(snapshots))
        .await
        .expect("insert");
    // 40 rows in pages of 2: the eight pages ahead fill at row 18, before the stream's end.
    for (cap, over) in [
        (100, false),
        (40, false),
        (39, true),
        (21, true),
        (12, true),
    ] {
        let RangePages {
            more_than_cap,
            pages,
        } = Arc::clone(&store).telemetry_range_pages(
            TenantId::default(),
            sc("SC-1"),
            at(1),
            at(40),
            2,
            cap,
        );
        let more = tokio::time::timeout(Duration::from_secs(10), more_than_cap)
            .await
            .unwrap_or_else(|_| panic!("cap {cap}: no answer while the pages wait"))
            .expect("answer");
        assert_eq!(more, over, "cap {cap}");
        if over {
            continue;
        }
        let read: Vec<TelemetryPage> = pages.try_collect().await.expect("pages");
        let seconds: Vec<_> = read
            .iter()
            .flat_map(|p| p.snapshots.iter().map(|s| s.timestamp))
            .collect();
        assert_eq!(seconds, (1..=40).map(at).collect::<Vec<_>>(), "cap {cap}");
        assert_eq!(read.len(), 20);
        for (n, page) in read.iter().enumerate() {
            let last = page.snapshots.last().map(|s| s.timestamp);
            match &page.next {
                Some(next) => assert_eq!(Some(next.timestamp), last, "page {n}"),
                None => assert_eq!(n, 19, "only the last page has no cursor"),
            }
        }
    }
}

/// SC-1 with 20,000 snapshots at seconds 0..20,000, about 20 MB of rows: more than the
/// sockets between the two processes hold, so that a stream of them is still running while its
/// pages wait.
async fn store_a_long_window(store: &PostgresStore) {
    register(store, "SC-1").await;
    let filler = "x".repeat(1_000);
    for batch in 0..20 {
        let snapshots = (0..1_000)
            .map(|n| {
                let second = batch * 1_000 + n;
                snapshot_with(
                    &format!("s{second}"),
                    "SC-1",
                    second,
                    json!({"temp": 1.0, "note": filler}),
                )
            })
            .collect();
        store
            .insert_telemetry(write(snapshots))
            .await
            .expect("insert");
    }
}

/// The backends streaming a window (their last statement its `COPY`), waited for to be gone
/// for up to 5 s.
async fn window_streams_left(store: &PostgresStore) -> Vec<i32> {
    let mut left = Vec::new();
    for _ in 0..100 {
        left = backends_that_last_ran(store, "COPY (SELECT id, ts, arrival%").await;
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    left
}

/// A window whose pages are left unread for a while, once it is known not to be over the cap
/// (a client taking a long answer slowly), holds no connection meanwhile: its stream lets its
/// connection go and starts again after the last row it read, and the pages come whole, in
/// order, each row once.
#[tokio::test]
async fn a_window_read_slowly_holds_no_connection_while_it_waits() {
    let store = Arc::new(scratch_postgres().await);
    store_a_long_window(&store).await;
    let RangePages {
        more_than_cap,
        mut pages,
    } = Arc::clone(&store).telemetry_range_pages(
        TenantId::default(),
        sc("SC-1"),
        at(0),
        at(20_000),
        100,
        1_000_000,
    );
    let first = pages.try_next().await.expect("read").expect("a page");
    assert_eq!(first.snapshots.len(), 100);
    let mut seconds: Vec<_> = first.snapshots.iter().map(|s| s.timestamp).collect();
    assert!(!more_than_cap.await.expect("answer"));
    let streaming = backends_that_last_ran(&store, "COPY (SELECT id, ts, arrival%").await;
    assert_eq!(streaming.len(), 1, "the stream runs while pages are taken");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let left = window_streams_left(&store).await;
    assert!(
        left.is_empty(),
        "backends {left:?} still stream for a reader that waits"
    );
    while let Some(page) = pages.try_next().await.expect("read") {
        seconds.extend(page.snapshots.iter().map(|s| s.timestamp));
    }
    assert_eq!(seconds, (0..20_000).map(at).collect::<Vec<_>>());
}

/// A window's stream dropped part way (the client went away) leaves no backend sending the
/// rest of it: its connection is closed, not given back mid-stream, and the store answers as
/// before.
#[tokio::test]
async fn a_window_dropped_part_way_leaves_no_backend_streaming_it() {
    let store = Arc::new(scratch_postgres().await);
    store_a_long_window(&store).await;
    let mut pages = Arc::clone(&store)
        .telemetry_range_pages(
            TenantId::default(),
            sc("SC-1"),
            at(0),
            at(20_000),
            100,
            usize::MAX,
        )
        .pages;
    let first = pages.try_next().await.expect("read").expect("a page");
    assert_eq!(first.snapshots.len(), 100);
    let streaming = backends_that_last_ran(&store, "COPY (SELECT id, ts, arrival%").await;
    assert_eq!(
        streaming.len(),
        1,
        "the stream runs while its pages are read"
    );
    drop(pages);
    let left = window_streams_left(&store).await;
    assert!(
        left.is_empty(),
        "backends {left:?} still hold the dropped stream"
    );
    let again = store
        .telemetry_range(&TenantId::default(), &sc("SC-1"), at(0), at(2), 10)
        .await
        .expect("range after a dropped stream");
    assert_eq!(again.len(), 3);
}

/// A server killed between two write-behinds leaves its row in `latest_values_writers`; once
/// that row is older than the limit, another store rebuilds the latest values of its tenants
/// from the telemetry stored since its last write-behind, and removes the row.
#[tokio::test]
async fn latest_values_a_killed_server_held_back_are_rebuilt_from_the_telemetry() {
    let plain = scratch_postgres().await;
    register(&plain, "SC-1").await;
    register(&plain, "SC-2").await;
    let server = holding_back_listed(&plain).await;
    for (id, spacecraft, second, temp) in [("b", "SC-1", 2, 2.0), ("c", "SC-2", 5, 5.0)] {
        server
            .insert_telemetry(write(vec![snapshot(id, spacecraft, second, temp)]))
            .await
            .expect("held back");
    }
    // Killed: nothing more is written.
    drop(server);
    let temps = |spacecraft: &'static str| {
        let plain = plain.clone();
        async move {
            latest_times(&plain, spacecraft)
                .await
                .into_iter()
                .filter(|(parameter, _)| parameter == "temp")
                .map(|(_, timestamp)| timestamp)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(temps("SC-1").await, [at(1)]);
    assert_eq!(temps("SC-2").await, Vec::<Timestamp>::new());
    plain
        .rebuild_latest_values_of_gone_servers(std::time::Duration::from_secs(3600))
        .await
        .expect("nothing gone yet");
    assert_eq!(temps("SC-1").await, [at(1)], "a recent row is left alone");
    plain
        .rebuild_latest_values_of_gone_servers(std::time::Duration::ZERO)
        .await
        .expect("rebuild");
    assert_eq!(temps("SC-1").await, [at(2)]);
    assert_eq!(temps("SC-2").await, [at(5)]);
    let writers: i64 = sqlx::query_scalar("SELECT count(*) FROM latest_values_writers")
        .fetch_one(plain.pool())
        .await
        .expect("count");
    assert_eq!(writers, 0, "the row of the gone server is removed");
}

/// The backends of `store`'s database, other than the asking one, whose last statement is
/// `LIKE` `pattern`.
async fn backends_that_last_ran(store: &PostgresStore, pattern: &str) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE $1",
    )
    .bind(pattern)
    .fetch_all(store.pool())
    .await
    .expect("pg_stat_activity")
}

/// The backends whose last statement was the ingest statement and that still run (the
/// one-statement ingest has a connection of its own: see the store's `pool` module).
async fn ingest_backends(store: &PostgresStore) -> Vec<i32> {
    backends_that_last_ran(store, "WITH tenant AS MATERIALIZED%").await
}

/// Writes snapshot `id` of SC-1 at second `second` and answers how many were stored.
async fn write_one(store: &PostgresStore, id: &str, second: i64) -> usize {
    store
        .insert_telemetry(write(vec![snapshot(id, "SC-1", second, 1.0)]))
        .await
        .unwrap_or_else(|e| panic!("write {id}: {e}"))
        .inserted
}

/// The one-statement ingest runs on a connection kept out of the pool. Broken under it (the
/// server ended its backend, as a restart would), the write is stored all the same, by the
/// careful transaction on a pooled connection; the next one-statement write takes a fresh
/// connection.
#[tokio::test]
async fn a_write_whose_kept_connection_broke_is_stored_and_the_next_takes_a_fresh_one() {
    let store = scratch_postgres().await;
    register(&store, "SC-1").await;
    let one_statement = store.one_statement_writes();
    assert_eq!(write_one(&store, "a", 1).await, 1, "first write");
    assert_eq!(store.one_statement_writes(), one_statement + 1);
    let ran = ingest_backends(&store).await;
    assert_eq!(
        ran.len(),
        1,
        "one backend ran the ingest statement: {ran:?}"
    );
    let kept = ran[0];
    assert_eq!(write_one(&store, "b", 2).await, 1, "second write");
    assert_eq!(
        ingest_backends(&store).await,
        [kept],
        "the same connection ran both"
    );

    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(kept)
        .fetch_one(store.pool())
        .await
        .expect("pg_terminate_backend");
    assert!(ended);
    for waited in 0.. {
        if !ingest_backends(&store).await.contains(&kept) {
            break;
        }
        assert!(waited < 500, "backend {kept} did not end");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before = store.one_statement_writes();
    assert_eq!(
        write_one(&store, "c", 3).await,
        1,
        "a write on the broken connection is stored all the same"
    );
    assert_eq!(store.one_statement_writes(), before, "by the careful path");
    assert_eq!(write_one(&store, "d", 4).await, 1, "the next write");
    assert_eq!(
        store.one_statement_writes(),
        before + 1,
        "by its one statement again"
    );
    let ran = ingest_backends(&store).await;
    assert!(
        !ran.is_empty() && !ran.contains(&kept),
        "a fresh connection ran it: {ran:?}"
    );
    let ids: Vec<String> = store
        .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect("recent")
        .into_iter()
        .map(|s| s.id.as_str().to_owned())
        .collect();
    assert_eq!(ids.len(), 4, "every write is stored once: {ids:?}");
}

/// A group commit asks which of its spacecraft exist once a group of new spacecraft, holding
/// the writers' turn: on a connection kept out of the pool, as the ingest statement is, so
/// one backend answers every time.
#[tokio::test]
async fn the_existence_check_of_a_group_runs_on_one_kept_connection() {
    let store = scratch_postgres().await;
    register(&store, "SC-1").await;
    let tenant = TenantId::default();
    for _ in 0..4 {
        let found = store
            .existing_spacecraft(&tenant, &[sc("SC-1"), sc("SC-404")])
            .await
            .expect("existing");
        assert_eq!(found, [sc("SC-1")]);
    }
    let ran = backends_that_last_ran(
        &store,
        "WITH scope AS MATERIALIZED%unnest($2::text[]) AS wanted%",
    )
    .await;
    assert_eq!(ran.len(), 1, "one backend answered all four: {ran:?}");
}
