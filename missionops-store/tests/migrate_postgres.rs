//! A PostgreSQL database written by the schema before tenants (migrations up to 0011) migrates,
//! and everything in it is then the `default` tenant's (SPEC §9); the SQLite twin is
//! `migrate_sqlite.rs`.
//!
//! The old schema lives in a schema of its own (`before_tenants`) of a scratch database, reached
//! through `search_path`, so that the case needs no database of its own besides the scratch one
//! and leaves nothing behind.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use missionops_core::{
    AlarmId, AlarmRepository, AnomalyId, AnomalyRepository, ConfigRepository, DocumentId,
    DocumentRepository, EventRepository, EventType, OutboxStore, PacketDefinitionRepository,
    SearchQuery, SpacecraftRepository, TelemetryRepository, TelemetryWrite, TenantId,
};
use missionops_store::PostgresStore;
use missionops_store::conformance::backends::{admin_url, scratch_postgres};
use missionops_store::conformance::fixtures::{at, event, limit, sc, snapshot, spacecraft, write};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The schema the old database lives in.
const OLD_SCHEMA: &str = "before_tenants";

/// The migrations before tenants, copied into `dir`, so that sqlx's migrator applies exactly
/// those (with the same checksums the store's embedded migrator expects later).
fn migrations_before_tenants(dir: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    for entry in std::fs::read_dir(&source).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let version: u32 = name[..4].parse().expect("numbered migration");
        if version <= 11 {
            std::fs::copy(&path, dir.join(&name)).expect("copy a migration");
        }
    }
}

/// Rows of every kind, written as the schema before tenants stored them.
const OLD_ROWS: &[&str] = &[
    "INSERT INTO spacecraft (id, name, mission_type, metadata_json, created_at, updated_at) \
     VALUES ('SC-001', 'Old one', 'LEO_IMAGING', '{}', '2025-01-01Z', '2025-01-01Z')",
    "INSERT INTO spacecraft_configs (spacecraft_id, version, config_json, status, source, \
     created_at) VALUES ('SC-001', 1, '{\"parameters\":{\"temp\":{\"warnHigh\":50}}}', \
     'approved', NULL, '2025-01-01Z')",
    "INSERT INTO telemetry (spacecraft_id, ts, arrival, id, parameters) \
     VALUES ('SC-001', '2025-01-01T00:00:03Z', 1, 'snap-old', '{\"temp\":21.5}')",
    "INSERT INTO telemetry_ids (id, spacecraft_id, ts) \
     VALUES ('snap-old', 'SC-001', '2025-01-01T00:00:03Z')",
    "INSERT INTO latest_values (spacecraft_id, parameter, value_json, ts, arrival) \
     VALUES ('SC-001', 'temp', '21.5', '2025-01-01T00:00:03Z', 1)",
    "INSERT INTO anomalies (spacecraft_id, parameter, ts, kind, id, value_json, severity, \
     limit_value, description, detected_at) \
     VALUES ('SC-001', 'temp', '2025-01-01T00:00:03Z', 'WARN_HIGH', 'an-old', '99.5', 'MEDIUM', \
     90.0, 'Parameter temp above warnHigh 90', '2025-01-01T00:00:04Z')",
    "INSERT INTO alarms (id, spacecraft_id, parameter, kind, state, severity, violation_count, \
     opened_at, last_value_json) \
     VALUES ('al-old', 'SC-001', 'temp', 'WARN_HIGH', 'ACTIVE', 'MEDIUM', 1, \
     '2025-01-01T00:00:03Z', '99.5')",
    "INSERT INTO documents (id, spacecraft_id, title, category, tags, body, published_at, \
     updated_at, version) \
     VALUES ('doc-old', 'SC-001', 'Battery reconditioning', 'procedure', '{power}', \
     'Discharge slowly', '2025-01-01Z', '2025-01-01Z', 1)",
    "INSERT INTO document_versions (document_id, version, spacecraft_id, title, category, tags, \
     body, written_at) \
     VALUES ('doc-old', 1, 'SC-001', 'Battery reconditioning', 'procedure', '{power}', \
     'Discharge slowly', '2025-01-01Z')",
    "UPDATE event_counter SET last_sequence = 1",
    "INSERT INTO events (sequence, id, spacecraft_id, ts, type, severity, message, \
     metadata_json) \
     VALUES (1, 'ev-old', 'SC-001', '2025-01-01Z', 'INFO', 'LOW', 'registered long ago', '{}')",
    "INSERT INTO outbox (sequence, next_attempt_at) VALUES (1, '2025-01-01Z')",
    "INSERT INTO packet_definitions (spacecraft_id, version, document, created_at) \
     VALUES ('SC-001', 1, '<SpaceSystem/>', '2025-01-01Z')",
];

#[tokio::test]
async fn a_database_from_before_tenants_migrates_and_its_data_is_the_default_tenants() {
    let scratch = scratch_postgres().await;
    sqlx::query(&format!("CREATE SCHEMA {OLD_SCHEMA}"))
        .execute(scratch.pool())
        .await
        .expect("a schema for the old database");
    let options = PgConnectOptions::from_str(&admin_url())
        .expect("admin url")
        .database(scratch.scratch_database().expect("a scratch store"))
        .options([("search_path", OLD_SCHEMA)]);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .expect("connect to the old schema");

    let dir = tempfile::tempdir().expect("dir");
    migrations_before_tenants(dir.path());
    let migrator = sqlx::migrate::Migrator::new(dir.path())
        .await
        .expect("the old migrations");
    assert_eq!(
        migrator.iter().map(|m| m.version).max(),
        Some(11),
        "the schema before tenants"
    );
    migrator.run(&pool).await.expect("migrate up to 0011");
    for sql in OLD_ROWS {
        sqlx::query(sql)
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    let store = PostgresStore::from_pool(pool);
    store.migrate().await.expect("migrate to tenants");
    let default = TenantId::default();
    let other = TenantId::parse("acme").expect("tenant");

    let found = store
        .get_spacecraft(&default, &sc("SC-001"))
        .await
        .expect("get")
        .expect("the old spacecraft is default's");
    assert_eq!(found.name.as_str(), "Old one");
    assert_eq!(
        store
            .current_config_version(&default, &sc("SC-001"))
            .await
            .expect("config"),
        Some(1)
    );
    let recent = store
        .recent_telemetry(&default, &sc("SC-001"), limit(10))
        .await
        .expect("telemetry");
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].id.as_str(), "snap-old");
    // Copied into the row of its spacecraft (migration 0017): value, time and all.
    let latest = store
        .latest_values(&default, &sc("SC-001"))
        .await
        .expect("latest");
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].parameter.as_str(), "temp");
    assert_eq!(
        latest[0].value,
        missionops_core::ParameterValue::Number(21.5)
    );
    assert_eq!(
        latest[0].timestamp,
        missionops_core::Timestamp::parse("2025-01-01T00:00:03Z").expect("time")
    );
    let anomaly = AnomalyId::parse("an-old").expect("id");
    assert!(
        store
            .get_anomaly(&default, &anomaly)
            .await
            .expect("get")
            .is_some()
    );
    let alarm = AlarmId::parse("al-old").expect("id");
    assert!(
        store
            .get_alarm(&default, &alarm)
            .await
            .expect("get")
            .is_some()
    );
    let document = DocumentId::parse("doc-old").expect("id");
    assert!(
        store
            .get_document(&default, &document)
            .await
            .expect("get")
            .is_some()
    );
    let query = SearchQuery::parse("reconditioning").expect("query");
    let hits = store
        .search_documents(&default, &query, limit(10))
        .await
        .expect("search");
    assert_eq!(hits.len(), 1);
    let events = store
        .recent_events(&default, None, limit(10))
        .await
        .expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id.as_str(), "ev-old");
    assert_eq!(
        store
            .current_packet_definition_version(&default, &sc("SC-001"))
            .await
            .expect("packet definition"),
        Some(1)
    );
    // The old event's outbox row is claimed as default's.
    let claim = store
        .claim(at(0), 10, Duration::from_secs(30))
        .await
        .expect("claim");
    assert_eq!(claim.entries.len(), 1);
    assert_eq!(claim.entries[0].tenant, default);

    // Nothing of it belongs to another tenant.
    assert!(
        store
            .get_spacecraft(&other, &sc("SC-001"))
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        store
            .get_document(&other, &document)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        store
            .get_alarm(&other, &alarm)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        store
            .recent_telemetry(&other, &sc("SC-001"), limit(10))
            .await
            .expect("telemetry")
            .is_empty()
    );
    assert!(
        store
            .recent_events(&other, None, limit(10))
            .await
            .expect("events")
            .is_empty()
    );

    // The migrated schema takes new writes of both tenants; the old rows' sequences go on.
    store
        .register_spacecraft(
            &other,
            spacecraft("SC-001", 0),
            event(2, Some("SC-001"), EventType::SpacecraftRegistered),
        )
        .await
        .expect("acme's own SC-001");
    let stored = store
        .insert_telemetry(TelemetryWrite {
            tenant: default.clone(),
            ..write(vec![snapshot("snap-new", "SC-001", 10, 30.0)])
        })
        .await
        .expect("default's telemetry");
    assert_eq!(stored.inserted, 1);
    assert_eq!(
        store
            .recent_telemetry(&default, &sc("SC-001"), limit(10))
            .await
            .expect("telemetry")
            .len(),
        2
    );
    let acme_events = store
        .recent_events(&other, None, limit(10))
        .await
        .expect("events");
    assert_eq!(acme_events.len(), 1);
    assert_eq!(
        acme_events[0].sequence, 2,
        "sequences continue after the old ones"
    );
    store.pool().close().await;
}
