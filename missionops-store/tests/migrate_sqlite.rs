//! A SQLite database written by the schema before tenants (migrations up to 0008) migrates when
//! the store opens it, and everything in it is then the `default` tenant's (SPEC §9).

use std::path::Path;

use missionops_core::{AlarmId, AlarmRepository, AnomalyRepository};
use missionops_core::{
    AnomalyId, ConfigRepository, DocumentId, DocumentRepository, EventRepository, SearchQuery,
    SpacecraftRepository, TelemetryRepository, TelemetryWrite, TenantId,
};
use missionops_store::SqliteStore;
use missionops_store::conformance::fixtures::{limit, sc, snapshot, spacecraft};
use sqlx::{Connection, SqliteConnection};

/// The migrations before tenants, copied into `dir`, so that sqlx's migrator applies exactly
/// those (with the same checksums the store's embedded migrator expects later).
fn migrations_before_tenants(dir: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(&source).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let version: u32 = name[..4].parse().expect("numbered migration");
        if version <= 8 {
            std::fs::copy(&path, dir.join(&name)).expect("copy a migration");
        }
    }
}

/// Rows of every kind, written as the schema before tenants stored them.
const OLD_ROWS: &[&str] = &[
    "INSERT INTO spacecraft (key, id, name, mission_type, metadata, created_at, updated_at) \
     VALUES (1, 'SC-001', 'Old one', 'LEO_IMAGING', '{}', 1000, 1000)",
    "INSERT INTO config_versions (spacecraft_id, version, document, status, source, created_at) \
     VALUES ('SC-001', 1, '{\"parameters\":{\"temp\":{\"warnHigh\":50}}}', 'approved', NULL, 2000)",
    "INSERT INTO telemetry (seq, id, spacecraft_key, ts, parameters) \
     VALUES (1, 'snap-old', 1, 3000, '{\"temp\":21.5}')",
    "INSERT INTO latest_values (spacecraft_key, parameter, value, ts) \
     VALUES (1, 'temp', '21.5', 3000)",
    "INSERT INTO anomalies (id, spacecraft_id, ts, parameter, kind, value, severity, limit_value, \
     description, detected_at, window_start, window_end) \
     VALUES ('an-old', 'SC-001', 3000, 'temp', 'WARN_HIGH', '99.5', 'MEDIUM', 90.0, \
     'Parameter temp above warnHigh 90', 4000, NULL, NULL)",
    "INSERT INTO alarms (id, spacecraft_id, parameter, kind, state, severity, violation_count, \
     opened_at, last_value) \
     VALUES ('al-old', 'SC-001', 'temp', 'WARN_HIGH', 'ACTIVE', 'MEDIUM', 1, 3000, '99.5')",
    "INSERT INTO documents (key, id, spacecraft_id, title, category, tags, body, title_folded, \
     body_folded, published_at, updated_at, version) \
     VALUES (1, 'doc-old', 'SC-001', 'Battery reconditioning', 'procedure', '[\"power\"]', \
     'Discharge slowly', 'battery reconditioning', 'discharge slowly', 5000, 5000, 1)",
    "INSERT INTO document_versions (document_id, version, spacecraft_id, title, category, tags, \
     body, published_at, updated_at) \
     VALUES ('doc-old', 1, 'SC-001', 'Battery reconditioning', 'procedure', '[\"power\"]', \
     'Discharge slowly', 5000, 5000)",
    "INSERT INTO events (sequence, id, spacecraft_id, ts, type, severity, message, metadata) \
     VALUES (1, 'ev-old', 'SC-001', 1000, 'INFO', 'LOW', 'registered long ago', '{}')",
    "INSERT INTO outbox (sequence, next_attempt_at) VALUES (1, 1000)",
];

#[tokio::test]
async fn a_database_from_before_tenants_migrates_and_its_data_is_the_default_tenants() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("old.db");
    let old_migrations = dir.path().join("migrations");
    std::fs::create_dir(&old_migrations).expect("mkdir");
    migrations_before_tenants(&old_migrations);
    {
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let mut conn = SqliteConnection::connect(&url).await.expect("connect");
        let migrator = sqlx::migrate::Migrator::new(old_migrations.as_path())
            .await
            .expect("the old migrations");
        assert_eq!(
            migrator.iter().map(|m| m.version).max(),
            Some(8),
            "the schema before tenants"
        );
        migrator.run(&mut conn).await.expect("migrate up to 0008");
        sqlx::query("PRAGMA foreign_keys = ON")
            .execute(&mut conn)
            .await
            .expect("foreign keys");
        for sql in OLD_ROWS {
            sqlx::query(sql)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        conn.close().await.expect("close");
    }

    let store = SqliteStore::open_path(&file)
        .await
        .expect("open and migrate");
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
    assert_eq!(
        store
            .latest_values(&default, &sc("SC-001"))
            .await
            .expect("latest")
            .len(),
        1
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
        .expect("the full-text index still finds the old document");
    assert_eq!(hits.len(), 1);
    let events = store
        .recent_events(&default, None, limit(10))
        .await
        .expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id.as_str(), "ev-old");

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
            .recent_events(&other, None, limit(10))
            .await
            .expect("events")
            .is_empty()
    );

    // The migrated schema takes new writes of both tenants, the old rows' keys go on.
    store
        .register_spacecraft(
            &other,
            spacecraft("SC-001", 0),
            missionops_store::conformance::fixtures::event(
                2,
                Some("SC-001"),
                missionops_core::EventType::SpacecraftRegistered,
            ),
        )
        .await
        .expect("acme's own SC-001");
    let stored = store
        .insert_telemetry(TelemetryWrite {
            tenant: default.clone(),
            ..missionops_store::conformance::fixtures::write(vec![snapshot(
                "snap-new", "SC-001", 10, 30.0,
            )])
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
    store.close().await;

    // Every foreign key holds and names the rebuilt tables.
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("connect");
    let violations: Vec<(String, i64, String, i64)> = sqlx::query_as("PRAGMA foreign_key_check")
        .fetch_all(&mut conn)
        .await
        .expect("check");
    assert!(violations.is_empty(), "{violations:?}");
    let leftovers: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%\\_new' ESCAPE '\\' \
         OR sql LIKE '%\\_new%' ESCAPE '\\'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("schema");
    assert_eq!(leftovers, 0, "no table or reference keeps a temporary name");
}
