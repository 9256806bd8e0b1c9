//! The least-privilege roles `migrate` creates (SPEC §9, migration `0010_roles.sql`), each
//! case on a scratch database that the owner (`MISSIONOPS_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`) created and migrated:
//!
//! - the whole conformance suite and the outbox suite pass connected as `missionops_app`, so
//!   the role holds every privilege the service uses;
//! - as `missionops_app`, DDL, TRUNCATE, DELETE anywhere and UPDATE of history (events,
//!   anomalies) are refused;
//! - as `missionops_readonly`, every write is refused and reads answer;
//! - a table a later migration creates is covered by the default privileges.
//!
//! The roles connect without a password: the test server must trust them on its host.

use std::sync::Arc;

use missionops_core::{
    AnomalyKind, Error, EventType, SpacecraftRepository, Store, TelemetryRepository,
    TelemetryWrite, TenantId,
};
use missionops_store::PostgresStore;
use missionops_store::conformance::Guard;
use missionops_store::conformance::backends::{APP_ROLE, READONLY_ROLE, scratch_postgres_as};
use missionops_store::conformance::fixtures::{
    anomaly, event, limit, register, sc, snapshot, spacecraft,
};

/// The conformance suite, connected as the app role.
mod as_app {
    use super::*;

    async fn fresh() -> (Arc<dyn Store>, Guard) {
        let (app, owner) = scratch_postgres_as(APP_ROLE).await;
        (Arc::new(app), Box::new(owner))
    }

    missionops_store::conformance_tests!(fresh);
}

#[macro_use]
#[path = "support/outbox_suite.rs"]
mod suite;

/// The outbox suite (claims, marks, backoff, dead letters, retries), as the app role.
async fn fresh_outbox() -> (Arc<dyn suite::TestStore>, suite::Guard) {
    let (app, owner) = scratch_postgres_as(APP_ROLE).await;
    (Arc::new(app), Box::new(owner))
}

outbox_suite!(fresh_outbox);

/// Runs `sql` on `store`'s pool and returns the SQLSTATE it failed with, or panics when it ran.
async fn refused(store: &PostgresStore, sql: &str) -> String {
    match sqlx::query(sql).execute(store.pool()).await {
        Ok(done) => panic!("`{sql}` ran ({} rows)", done.rows_affected()),
        Err(sqlx::Error::Database(err)) => err.code().map(|c| c.into_owned()).unwrap_or_default(),
        Err(other) => panic!("`{sql}` failed otherwise: {other}"),
    }
}

/// `insufficient_privilege`: what PostgreSQL answers to a statement the role may not run.
const DENIED: &str = "42501";

async fn count(store: &PostgresStore, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .unwrap_or_else(|err| panic!("count {table}: {err}"))
}

/// Registers SC-1 and stores a snapshot with an anomaly and its event through the store, as
/// the service does.
async fn write_history(store: &PostgresStore) {
    register(store, "SC-1", 0, 1).await;
    store
        .insert_telemetry(TelemetryWrite {
            tenant: TenantId::default(),
            registrations: Vec::new(),
            snapshots: vec![snapshot("s1", "SC-1", 5, 99.5)],
            anomalies: vec![anomaly("SC-1", 5, "temp", AnomalyKind::WarnHigh)],
            alarms: Vec::new(),
            events: vec![event(2, Some("SC-1"), EventType::Anomaly)],
        })
        .await
        .expect("the app role ingests");
}

#[tokio::test]
async fn the_app_role_writes_but_cannot_change_the_schema_nor_rewrite_history() {
    let (app, owner) = scratch_postgres_as(APP_ROLE).await;
    write_history(&app).await;
    let before = [
        count(&owner, "events").await,
        count(&owner, "anomalies").await,
        count(&owner, "telemetry").await,
    ];
    assert_eq!(before, [2, 1, 1], "the service's writes went through");

    for sql in [
        "CREATE TABLE intruder (id int)",
        "CREATE TEMPORARY TABLE intruder (id int)",
        "ALTER TABLE events ADD COLUMN extra text",
        "DROP TABLE outbox",
        "CREATE INDEX intruder_idx ON events (message)",
        "TRUNCATE events",
        "TRUNCATE anomalies",
        "TRUNCATE telemetry",
        "UPDATE events SET message = 'rewritten'",
        "DELETE FROM events",
        "UPDATE anomalies SET description = 'rewritten'",
        "DELETE FROM anomalies",
        "UPDATE telemetry SET parameters = '{}'",
        "DELETE FROM telemetry",
        "DELETE FROM spacecraft",
        "DELETE FROM outbox",
        "UPDATE spacecraft_configs SET status = 'draft'",
        "DELETE FROM event_counter",
    ] {
        assert_eq!(refused(&app, sql).await, DENIED, "{sql}");
    }
    let after = [
        count(&owner, "events").await,
        count(&owner, "anomalies").await,
        count(&owner, "telemetry").await,
    ];
    assert_eq!(after, before, "nothing was removed");
    let messages: Vec<String> = sqlx::query_scalar("SELECT message FROM events")
        .fetch_all(owner.pool())
        .await
        .expect("events");
    assert!(messages.iter().all(|m| m != "rewritten"), "{messages:?}");

    // Still usable afterwards: a refused statement did not poison the pool.
    register(&app, "SC-2", 10, 3).await;
    assert_eq!(count(&owner, "events").await, 3);
}

#[tokio::test]
async fn the_readonly_role_reads_and_cannot_write() {
    let (readonly, owner) = scratch_postgres_as(READONLY_ROLE).await;
    write_history(&owner).await;

    let listing = readonly
        .list_spacecraft(&TenantId::default(), limit(10), 0)
        .await
        .expect("the readonly role reads through the store");
    assert_eq!(listing.total, 1);
    assert_eq!(
        readonly
            .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(10))
            .await
            .expect("telemetry")
            .len(),
        1
    );
    assert_eq!(count(&readonly, "events").await, 2);
    assert_eq!(count(&readonly, "outbox").await, 2);

    for sql in [
        "INSERT INTO event_counter (singleton, last_sequence) VALUES (false, 0)",
        "INSERT INTO documents (id, title, category, tags, body, published_at, updated_at, version)
         VALUES ('d', 't', 'general', '{}', 'b', now(), now(), 1)",
        "UPDATE spacecraft SET name = 'renamed'",
        "UPDATE outbox SET status = 'dead'",
        "DELETE FROM alarms",
        "TRUNCATE telemetry",
        "CREATE TABLE intruder (id int)",
        "SELECT nextval('telemetry_arrival_block_seq')",
        // Not even a read of the key hashes.
        "SELECT secret_hash FROM api_keys",
    ] {
        assert_eq!(refused(&readonly, sql).await, DENIED, "{sql}");
    }
    // A write through the store is a backend failure, not a panic, and changes nothing.
    let err = readonly
        .register_spacecraft(
            &TenantId::default(),
            spacecraft("SC-2", 1),
            event(9, Some("SC-2"), EventType::SpacecraftRegistered),
        )
        .await
        .expect_err("the readonly role cannot register");
    assert!(matches!(err, Error::Backend(_)), "got {err}");
    assert_eq!(count(&owner, "spacecraft").await, 1);
}

#[tokio::test]
async fn tables_of_later_migrations_get_the_default_privileges() {
    let (app, owner) = scratch_postgres_as(APP_ROLE).await;
    // As a later migration would, run by the same owner.
    sqlx::query("CREATE TABLE later_table (id text PRIMARY KEY, note text)")
        .execute(owner.pool())
        .await
        .expect("the owner creates a table");
    sqlx::query("CREATE SEQUENCE later_seq")
        .execute(owner.pool())
        .await
        .expect("the owner creates a sequence");
    for sql in [
        "INSERT INTO later_table VALUES ('a', 'x')",
        "UPDATE later_table SET note = 'y' WHERE id = 'a'",
        "SELECT nextval('later_seq')",
    ] {
        sqlx::query(sql)
            .execute(app.pool())
            .await
            .unwrap_or_else(|err| panic!("the app role runs `{sql}`: {err}"));
    }
    assert_eq!(refused(&app, "DELETE FROM later_table").await, DENIED);
    assert_eq!(refused(&app, "TRUNCATE later_table").await, DENIED);

    let readonly = readonly_on(&owner).await;
    assert_eq!(count(&readonly, "later_table").await, 1);
    assert_eq!(
        refused(&readonly, "INSERT INTO later_table VALUES ('b', 'z')").await,
        DENIED
    );
}

/// A pool connected as the readonly role to `owner`'s scratch database.
async fn readonly_on(owner: &PostgresStore) -> PostgresStore {
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use std::str::FromStr;

    let name = owner.scratch_database().expect("a scratch store");
    let admin = PgConnectOptions::from_str(&missionops_store::conformance::backends::admin_url())
        .expect("admin URL");
    let options = PgConnectOptions::new()
        .host(admin.get_host())
        .port(admin.get_port())
        .username(READONLY_ROLE)
        .database(name);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("connect as the readonly role");
    PostgresStore::from_pool(pool)
}

#[tokio::test]
async fn migrating_again_keeps_the_roles_and_their_grants() {
    let (app, owner) = scratch_postgres_as(APP_ROLE).await;
    owner.migrate().await.expect("migrate again");
    register(&app, "SC-1", 0, 1).await;
    assert_eq!(refused(&app, "DELETE FROM events").await, DENIED);
    let logins: Vec<bool> = sqlx::query_scalar(
        "SELECT rolcanlogin FROM pg_roles WHERE rolname IN ($1, $2) ORDER BY rolname",
    )
    .bind(APP_ROLE)
    .bind(READONLY_ROLE)
    .fetch_all(owner.pool())
    .await
    .expect("roles");
    assert_eq!(logins, [true, true]);
    let super_or_bypass: bool = sqlx::query_scalar(
        "SELECT bool_or(rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb)
         FROM pg_roles WHERE rolname IN ($1, $2)",
    )
    .bind(APP_ROLE)
    .bind(READONLY_ROLE)
    .fetch_one(owner.pool())
    .await
    .expect("attributes");
    assert!(!super_or_bypass, "the roles have no special powers");
}
