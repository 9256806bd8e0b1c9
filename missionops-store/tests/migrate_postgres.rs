//! A PostgreSQL database written by the schema before tenants (migrations up to 0011) migrates,
//! and everything in it is then the `default` tenant's (SPEC §9); the SQLite twin is
//! `migrate_sqlite.rs`. A database whose owner is no superuser migrates from 0016 and keeps its
//! latest values (migration 0017 copies them under forced row-level security).
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

/// The migrations numbered up to `last`, copied into `dir`, so that sqlx's migrator applies
/// exactly those (with the same checksums the store's embedded migrator expects later).
fn migrations_up_to(dir: &Path, last: u32) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    for entry in std::fs::read_dir(&source).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let version: u32 = name[..4].parse().expect("numbered migration");
        if version <= last {
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
    migrations_up_to(dir.path(), 11);
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

/// A role name of the owner case: its scratch database's name and `_owner`.
const OWNER_SUFFIX: &str = "_owner";

/// Runs each of `statements` on `pool`, in order; panics naming the one that failed.
async fn run_all(pool: &sqlx::PgPool, statements: impl IntoIterator<Item = String>) {
    for sql in statements {
        sqlx::query(&sql)
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Drops owner roles that earlier runs left behind when they failed before their cleanup:
/// those whose scratch database is gone (the scratch sweep drops the databases). Another run's
/// live role keeps its database, so it is not touched; errors are ignored, as a later run
/// tries again.
async fn drop_stale_owners(admin: &sqlx::PgPool) {
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT rolname::text FROM pg_roles
         WHERE rolname LIKE 'missionops\\_test\\_%\\_owner'
           AND NOT EXISTS (SELECT FROM pg_database WHERE datname = left(rolname, -6))",
    )
    .fetch_all(admin)
    .await
    .unwrap_or_default();
    for role in stale {
        let _ = sqlx::query(&format!("DROP ROLE IF EXISTS \"{role}\""))
            .execute(admin)
            .await;
    }
}

/// Migration 0017 copies `latest_values` into one row a spacecraft. The table's row-level
/// security is forced, so a copy run by an owner that is no superuser (what a DBA sets up:
/// the database's owner runs `migrate`, and the service connects as `missionops_app`) would
/// see no row at all unless the migration lifts it first. The other cases migrate as
/// `postgres`, which bypasses row-level security: this one migrates as a plain owner.
#[tokio::test]
async fn an_owner_that_is_no_superuser_migrates_and_keeps_its_latest_values() {
    // Migrated as `postgres` first: the roles of 0010 exist, as a DBA would have created them
    // (the owner here may not create roles).
    let scratch = scratch_postgres().await;
    let database = scratch
        .scratch_database()
        .expect("a scratch store")
        .to_owned();
    let owner = format!("{database}{OWNER_SUFFIX}");
    let admin = scratch.pool();
    drop_stale_owners(admin).await;
    run_all(
        admin,
        [
            format!(
                "CREATE ROLE \"{owner}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
            ),
            format!("ALTER DATABASE \"{database}\" OWNER TO \"{owner}\""),
            format!("CREATE SCHEMA owned AUTHORIZATION \"{owner}\""),
        ],
    )
    .await;

    let admin_options = PgConnectOptions::from_str(&admin_url()).expect("admin url");
    let options = PgConnectOptions::new()
        .host(admin_options.get_host())
        .port(admin_options.get_port())
        .username(&owner)
        .database(&database)
        .options([("search_path", "owned")]);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .expect("connect as the owner");
    let is_superuser: bool = sqlx::query_scalar(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&pool)
    .await
    .expect("the owner's attributes");
    assert!(
        !is_superuser,
        "the case needs an owner that row-level security binds"
    );

    // The schema before 0017, and latest values in its shape: a row a parameter, written in
    // the tenant's name as row-level security asks of the owner too.
    let dir = tempfile::tempdir().expect("dir");
    migrations_up_to(dir.path(), 16);
    let migrator = sqlx::migrate::Migrator::new(dir.path())
        .await
        .expect("the migrations before 0017");
    migrator.run(&pool).await.expect("migrate up to 0016");
    let mut tx = pool.begin().await.expect("begin");
    for sql in [
        "SELECT set_config('missionops.tenant', 'default', true)",
        "INSERT INTO spacecraft (tenant, id, name, mission_type, metadata_json, created_at, \
         updated_at) VALUES ('default', 'SC-001', 'Owned', 'LEO_IMAGING', '{}', '2025-01-01Z', \
         '2025-01-01Z')",
        "INSERT INTO latest_values (tenant, spacecraft_id, parameter, value_json, ts, arrival) \
         VALUES ('default', 'SC-001', 'temp', '21.5', '2025-01-01T00:00:03Z', 1), \
                ('default', 'SC-001', 'mode', '\"SAFE\"', '2025-01-01T00:00:04Z', 2)",
    ] {
        sqlx::query(sql)
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    tx.commit().await.expect("commit the old rows");

    let store = PostgresStore::from_pool(pool.clone());
    store
        .migrate()
        .await
        .expect("the owner migrates to 0017 and on");
    let mut latest = store
        .latest_values(&TenantId::default(), &sc("SC-001"))
        .await
        .expect("latest");
    latest.sort_by(|a, b| a.parameter.as_str().cmp(b.parameter.as_str()));
    let found: Vec<(&str, missionops_core::ParameterValue)> = latest
        .iter()
        .map(|v| (v.parameter.as_str(), v.value.clone()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "mode",
                missionops_core::ParameterValue::Text("SAFE".to_owned())
            ),
            ("temp", missionops_core::ParameterValue::Number(21.5)),
        ],
        "the owner's migration copied every latest value"
    );
    // Row-level security is forced again afterwards: the owner sees no row without a tenant.
    let unscoped: i64 = sqlx::query_scalar("SELECT count(*) FROM latest_values")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(unscoped, 0, "row-level security binds the owner again");
    pool.close().await;

    run_all(
        admin,
        [
            format!("REASSIGN OWNED BY \"{owner}\" TO CURRENT_USER"),
            format!("DROP OWNED BY \"{owner}\""),
            format!("DROP ROLE \"{owner}\""),
        ],
    )
    .await;
}
