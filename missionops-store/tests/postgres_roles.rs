//! The least-privilege roles `migrate` creates (SPEC §9, migration `0010_roles.sql`), each
//! case on a scratch database that the owner (`MISSIONOPS_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`) created and migrated:
//!
//! - the whole conformance suite and the outbox suite pass connected as `missionops_app`, so
//!   the role holds every privilege the service uses;
//! - as `missionops_app`, DDL, TRUNCATE, DELETE anywhere and UPDATE of history (events,
//!   anomalies) are refused;
//! - as `missionops_readonly`, every write is refused and reads answer;
//! - a table a later migration creates is covered by the default privileges;
//! - the server's latest values written behind, and a gone server's rebuilt, as
//!   `missionops_app` with row-level security in force.
//!
//! The roles connect without a password: the test server must trust them on its host.

use std::sync::Arc;

use missionops_core::{
    AlarmRepository, AnomalyKind, ConfigRepository, DocumentRepository, Error, EventType,
    PacketDefinitionRecord, PacketDefinitionRepository, SpacecraftRepository, Store,
    TelemetryRepository, TelemetryWrite, TenantId,
};
use missionops_store::PostgresStore;
use missionops_store::conformance::Guard;
use missionops_store::conformance::backends::{APP_ROLE, READONLY_ROLE, scratch_postgres_as};
use missionops_store::conformance::fixtures::{
    anomaly, at, config, document, event, limit, register, registration, sc, snapshot, spacecraft,
    test_alarm, write,
};

/// The conformance suite, connected as the app role.
mod as_app {
    use super::*;

    async fn fresh() -> (Arc<dyn Store>, Guard) {
        let (app, owner) = scratch_postgres_as(APP_ROLE).await;
        (Arc::new(app), Box::new(owner))
    }

    missionops_store::conformance_tests!(fresh);
    // Tenants apart with row-level security in force (the app role is no superuser).
    missionops_store::tenancy_conformance_tests!(fresh);
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

/// The rows of `table` that a transaction which set `missionops.tenant` to `tenant` sees.
async fn count_in(store: &PostgresStore, tenant: &str, table: &str) -> i64 {
    let mut tx = store.pool().begin().await.expect("begin");
    sqlx::query("SELECT set_config('missionops.tenant', $1, true)")
        .bind(tenant)
        .execute(&mut *tx)
        .await
        .expect("set the tenant");
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&mut *tx)
        .await
        .unwrap_or_else(|err| panic!("count {table} in {tenant}: {err}"))
}

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
    // Row-level security: a query of its own sees a tenant's rows once it names the tenant.
    assert_eq!(count(&readonly, "events").await, 0, "no tenant set");
    assert_eq!(count_in(&readonly, "default", "events").await, 2);
    assert_eq!(count_in(&readonly, "default", "outbox").await, 2);

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

/// Every table that holds a tenant's data (migration `0012_tenants.sql`).
const TENANT_TABLES: [&str; 12] = [
    "spacecraft",
    "spacecraft_configs",
    "telemetry",
    "telemetry_ids",
    "latest_values",
    "anomalies",
    "alarms",
    "documents",
    "document_versions",
    "events",
    "outbox",
    "packet_definitions",
];

/// Writes at least one row into every table of [`TENANT_TABLES`], as tenant `default`.
async fn write_every_table(store: &PostgresStore) {
    write_history(store).await;
    let default = TenantId::default();
    store
        .put_config(
            &default,
            config("SC-1", 1, 40),
            event(3, Some("SC-1"), EventType::ConfigChanged),
        )
        .await
        .expect("config");
    store
        .save_alarm(&default, test_alarm("al-1", "SC-1", 5), vec![])
        .await
        .expect("alarm");
    store
        .publish_document(
            &default,
            document("doc-1", 1, "Battery", "Discharge slowly", &["power"]),
            event(4, None, EventType::Info),
        )
        .await
        .expect("document");
    store
        .put_packet_definition(
            &default,
            PacketDefinitionRecord {
                spacecraft_id: sc("SC-1"),
                version: 1,
                text: "<SpaceSystem/>".to_owned(),
                created_at: at(6),
            },
            event(5, Some("SC-1"), EventType::Info),
        )
        .await
        .expect("packet definition");
}

#[tokio::test]
async fn a_transaction_with_no_tenant_set_sees_no_rows_and_writes_none() {
    let (app, owner) = scratch_postgres_as(APP_ROLE).await;
    write_every_table(&app).await;
    for table in TENANT_TABLES {
        assert!(
            count_in(&app, "default", table).await > 0,
            "{table}: the rows are there"
        );
        assert_eq!(count(&app, table).await, 0, "{table}: no tenant set");
        assert_eq!(
            count_in(&app, "other", table).await,
            0,
            "{table}: another tenant"
        );
        // The owner's own connections are bound too (FORCE), unless it is a superuser as the
        // test server's is; the catalogue says the tables are forced.
        let (enabled, forced): (bool, bool) = sqlx::query_as(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class
             WHERE relname = $1 AND relnamespace = current_schema()::regnamespace",
        )
        .bind(table)
        .fetch_one(owner.pool())
        .await
        .expect("catalogue");
        assert!(
            enabled && forced,
            "{table}: row-level security enabled and forced"
        );
    }
    // A write that sets no tenant, or another tenant than its rows', is refused.
    for sql in [
        "INSERT INTO spacecraft (tenant, id, name, mission_type, metadata_json, created_at,
                                 updated_at)
         VALUES ('default', 'SC-9', 'n', 'CUBESAT', '{}', now(), now())",
        "UPDATE alarms SET comment = 'x' WHERE true RETURNING id",
    ] {
        let refused_or_nothing = sqlx::query(sql).execute(app.pool()).await;
        match refused_or_nothing {
            Ok(done) => assert_eq!(done.rows_affected(), 0, "{sql}"),
            Err(sqlx::Error::Database(err)) => {
                assert_eq!(err.code().as_deref(), Some(DENIED), "{sql}")
            }
            Err(other) => panic!("{sql}: {other}"),
        }
    }
    let mut tx = app.pool().begin().await.expect("begin");
    sqlx::query("SELECT set_config('missionops.tenant', 'other', true)")
        .execute(&mut *tx)
        .await
        .expect("set the tenant");
    let err = sqlx::query(
        "INSERT INTO documents (tenant, id, title, category, tags, body, published_at,
                                updated_at, version)
         VALUES ('default', 'd', 't', 'general', '{}', 'b', now(), now(), 1)",
    )
    .execute(&mut *tx)
    .await
    .expect_err("a row of another tenant than the transaction's");
    assert!(
        err.to_string().contains("row-level security"),
        "refused by the policy: {err}"
    );
    drop(tx);
    assert_eq!(count_in(&owner, "default", "spacecraft").await, 1);
}

/// A live write of snapshots alone, as the app role (row-level security in force): stored by
/// its one statement, outside any transaction of the store's, in the write's own tenant.
async fn write_alone(app: &PostgresStore, tenant: &TenantId, id: &str, spacecraft: &str) {
    let before = app.one_statement_writes();
    let outcome = app
        .insert_telemetry(TelemetryWrite {
            tenant: tenant.clone(),
            registrations: Vec::new(),
            snapshots: vec![snapshot(id, spacecraft, 5, 20.0)],
            anomalies: Vec::new(),
            alarms: Vec::new(),
            events: Vec::new(),
        })
        .await
        .unwrap_or_else(|err| panic!("{tenant}'s write {id}: {err}"));
    assert_eq!(outcome.inserted, 1, "{id}");
    assert_eq!(
        app.one_statement_writes(),
        before + 1,
        "{tenant}'s write {id} went in by its one statement"
    );
}

#[tokio::test]
async fn a_write_of_snapshots_alone_is_one_statement_that_sets_its_own_tenant() {
    let (app, _owner) = scratch_postgres_as(APP_ROLE).await;
    // A tenant id that is no plain literal takes the same path.
    let other = TenantId::parse("team-b's").expect("tenant");
    register(&app, "SC-1", 0, 1).await;
    app.register_spacecraft(
        &other,
        spacecraft("SC-2", 0),
        event(2, Some("SC-2"), EventType::SpacecraftRegistered),
    )
    .await
    .expect("register SC-2 in the other tenant");
    write_alone(&app, &TenantId::default(), "s1", "SC-1").await;
    write_alone(&app, &other, "s2", "SC-2").await;
    assert_eq!(count_in(&app, "default", "telemetry").await, 1);
    assert_eq!(count_in(&app, "team-b's", "telemetry").await, 1);
    // One row for SC-2 (migration 0017), with its two parameters.
    assert_eq!(count_in(&app, "team-b's", "latest_values").await, 1);
    assert_eq!(
        count_in(
            &app,
            "team-b's",
            "latest_values CROSS JOIN LATERAL jsonb_object_keys(by_parameter)"
        )
        .await,
        2,
        "temp and mode"
    );
    // The one statement cannot see another tenant's spacecraft: refused, named, nothing kept.
    let before = app.one_statement_writes();
    let refused = app
        .insert_telemetry(TelemetryWrite {
            tenant: other.clone(),
            registrations: Vec::new(),
            snapshots: vec![snapshot("s3", "SC-1", 6, 20.0)],
            anomalies: Vec::new(),
            alarms: Vec::new(),
            events: Vec::new(),
        })
        .await;
    assert!(
        matches!(&refused, Err(Error::NotFound { id, .. }) if id == "SC-1"),
        "SC-1 is not the other tenant's: {refused:?}"
    );
    assert_eq!(app.one_statement_writes(), before);
    assert_eq!(
        count(&app, "telemetry_ids").await,
        0,
        "no tenant set: none visible"
    );
    assert_eq!(count_in(&app, "default", "telemetry").await, 1);
    assert_eq!(count_in(&app, "team-b's", "telemetry").await, 1);
    // A write with more than snapshots is a transaction of several statements, as before.
    app.insert_telemetry(TelemetryWrite {
        tenant: TenantId::default(),
        registrations: Vec::new(),
        snapshots: vec![snapshot("s4", "SC-1", 7, 99.5)],
        anomalies: vec![anomaly("SC-1", 7, "temp", AnomalyKind::WarnHigh)],
        alarms: Vec::new(),
        events: vec![event(3, Some("SC-1"), EventType::Anomaly)],
    })
    .await
    .expect("a write with an anomaly");
    assert_eq!(app.one_statement_writes(), before);
    assert_eq!(count_in(&app, "default", "anomalies").await, 1);
}

/// A live write of snapshots from spacecraft it registers (implicit registration), as the app
/// role: one statement too, which registers them, stores the snapshots and records each
/// registration's event and outbox row, all in the write's own tenant.
#[tokio::test]
async fn a_write_that_registers_its_spacecraft_is_one_statement_in_its_own_tenant() {
    let (app, _owner) = scratch_postgres_as(APP_ROLE).await;
    let other = TenantId::parse("team-b's").expect("tenant");
    for (tenant, n) in [(TenantId::default(), 1), (other.clone(), 2)] {
        let before = app.one_statement_writes();
        let outcome = app
            .insert_telemetry(TelemetryWrite {
                tenant: tenant.clone(),
                registrations: vec![registration("NEW-1", 0, n)],
                ..write(vec![snapshot(&format!("s{n}"), "NEW-1", 5, 20.0)])
            })
            .await
            .unwrap_or_else(|err| panic!("{tenant}'s write: {err}"));
        assert_eq!(outcome.inserted, 1, "{tenant}");
        assert_eq!(
            app.one_statement_writes(),
            before + 1,
            "{tenant}'s registering write went in by its one statement"
        );
        assert_eq!(
            app.get_spacecraft(&tenant, &sc("NEW-1"))
                .await
                .expect("get"),
            Some(spacecraft("NEW-1", 0)),
            "{tenant}"
        );
    }
    for tenant in ["default", "team-b's"] {
        for table in ["spacecraft", "telemetry", "events", "outbox"] {
            assert_eq!(count_in(&app, tenant, table).await, 1, "{tenant}: {table}");
        }
    }
}

/// As the app role (row-level security in force), the server's store writes its latest values
/// behind, and another store rebuilds those of a server gone since from the telemetry and
/// removes its row (the one `DELETE` the role may do).
#[tokio::test]
async fn the_app_role_writes_latest_values_behind_and_rebuilds_a_gone_servers() {
    let (app, owner) = scratch_postgres_as(APP_ROLE).await;
    register(&app, "SC-1", 0, 1).await;
    let hour = std::time::Duration::from_secs(3600);
    let server = PostgresStore::from_pool(app.pool().clone()).deferring_latest_values_every(hour);
    server
        .insert_telemetry(write(vec![snapshot("a", "SC-1", 1, 1.0)]))
        .await
        .expect("first write");
    server
        .write_latest_values()
        .await
        .expect("the write-behind lists the tenant");
    server
        .insert_telemetry(write(vec![snapshot("b", "SC-1", 2, 2.0)]))
        .await
        .expect("held back");
    drop(server);
    assert_eq!(count(&owner, "latest_values_writers").await, 1);
    sqlx::query("UPDATE latest_values_writers SET seen_at = now() - interval '1 hour'")
        .execute(owner.pool())
        .await
        .expect("age the row");
    app.rebuild_latest_values_of_gone_servers(std::time::Duration::from_secs(60))
        .await
        .expect("rebuilt as the app role");
    let temps: Vec<_> = app
        .latest_values(&TenantId::default(), &sc("SC-1"))
        .await
        .expect("latest values")
        .into_iter()
        .filter(|v| v.parameter.as_str() == "temp")
        .map(|v| v.timestamp)
        .collect();
    assert_eq!(temps, [at(2)]);
    assert_eq!(count(&owner, "latest_values_writers").await, 0);
}

/// Records, for every statement that inserts into `tables`, the table and the
/// `synchronous_commit` in force when it ran (a trigger of the owner's, so that the app role
/// needs no privilege on the record).
async fn record_commit_settings(owner: &PostgresStore, tables: &[&str]) {
    for sql in [
        "CREATE TABLE commits_seen (n serial PRIMARY KEY, what text, setting text)",
        "CREATE FUNCTION record_commit_setting() RETURNS trigger LANGUAGE plpgsql
         SECURITY DEFINER SET search_path = public AS $$
         BEGIN
             INSERT INTO commits_seen (what, setting)
             VALUES (TG_TABLE_NAME, current_setting('synchronous_commit'));
             RETURN NULL;
         END $$",
    ] {
        sqlx::query(sql).execute(owner.pool()).await.expect(sql);
    }
    for table in tables {
        sqlx::query(&format!(
            "CREATE TRIGGER record_commit_setting AFTER INSERT ON {table}
             FOR EACH STATEMENT EXECUTE FUNCTION record_commit_setting()"
        ))
        .execute(owner.pool())
        .await
        .expect("trigger");
    }
}

/// What [`record_commit_settings`] recorded, in order.
async fn commit_settings(owner: &PostgresStore) -> Vec<(String, String)> {
    sqlx::query_as("SELECT what, setting FROM commits_seen ORDER BY n")
        .fetch_all(owner.pool())
        .await
        .expect("commit settings")
}

/// A store told so commits telemetry ingest without waiting for the WAL flush, on every path
/// a live write takes (snapshots alone and a registering write, one statement each; a write
/// with an anomaly and a retry, transactions), and nothing else; a store not told so waits on
/// every one.
#[tokio::test]
async fn telemetry_ingest_commits_without_the_flush_wait_only_when_told_and_nothing_else_does() {
    for no_flush_wait in [false, true] {
        let (app, owner) = scratch_postgres_as(APP_ROLE).await;
        let app = if no_flush_wait {
            app.committing_telemetry_without_flush_wait()
        } else {
            app
        };
        register(&app, "SC-1", 0, 1).await;
        record_commit_settings(&owner, &["telemetry", "anomalies", "spacecraft_configs"]).await;
        let before = app.one_statement_writes();
        app.insert_telemetry(write(vec![snapshot("s1", "SC-1", 5, 20.0)]))
            .await
            .expect("snapshots alone");
        app.insert_telemetry(TelemetryWrite {
            registrations: vec![registration("NEW-1", 0, 2)],
            ..write(vec![snapshot("s2", "NEW-1", 5, 20.0)])
        })
        .await
        .expect("a registering write");
        assert_eq!(app.one_statement_writes(), before + 2, "one statement each");
        app.insert_telemetry(TelemetryWrite {
            anomalies: vec![anomaly("SC-1", 7, "temp", AnomalyKind::WarnHigh)],
            events: vec![event(3, Some("SC-1"), EventType::Anomaly)],
            ..write(vec![snapshot("s3", "SC-1", 7, 99.5)])
        })
        .await
        .expect("a write with an anomaly");
        let retry = app
            .insert_telemetry(write(vec![
                snapshot("s1", "SC-1", 5, 20.0),
                snapshot("s4", "SC-1", 8, 21.0),
            ]))
            .await
            .expect("a retry with one new snapshot");
        assert_eq!((retry.inserted, retry.duplicates), (1, 1));
        app.put_config(
            &TenantId::default(),
            config("SC-1", 1, 40),
            event(4, Some("SC-1"), EventType::ConfigChanged),
        )
        .await
        .expect("config");
        let seen = commit_settings(&owner).await;
        let ingest = if no_flush_wait { "off" } else { "on" };
        let expected: Vec<(String, String)> = [
            ("telemetry", ingest),
            ("telemetry", ingest),
            ("telemetry", ingest),
            ("anomalies", ingest),
            ("telemetry", ingest),
            ("spacecraft_configs", "on"),
        ]
        .iter()
        .map(|(what, setting)| (what.to_string(), setting.to_string()))
        .collect();
        assert_eq!(seen, expected, "told: {no_flush_wait}");
    }
}

/// The server's store (`open_for_server`, what `serve` opens) commits telemetry without the
/// flush wait on `--telemetry-durability process`, its default, and with it on `machine`.
#[tokio::test]
async fn the_servers_store_commits_telemetry_as_its_durability_says() {
    use missionops_store::TelemetryDurability;
    use sqlx::postgres::PgConnectOptions;
    use std::str::FromStr;

    for (durability, expected) in [
        (TelemetryDurability::default(), "off"),
        (TelemetryDurability::Machine, "on"),
    ] {
        let (_app, owner) = scratch_postgres_as(APP_ROLE).await;
        let admin =
            PgConnectOptions::from_str(&missionops_store::conformance::backends::admin_url())
                .expect("admin URL");
        let url = format!(
            "postgres://{APP_ROLE}@{}:{}/{}",
            admin.get_host(),
            admin.get_port(),
            owner.scratch_database().expect("a scratch store")
        );
        let server = missionops_store::open_for_server(&url, durability)
            .await
            .expect("the server's store");
        register(&*server, "SC-1", 0, 1).await;
        record_commit_settings(&owner, &["telemetry"]).await;
        server
            .insert_telemetry(write(vec![snapshot("s1", "SC-1", 5, 20.0)]))
            .await
            .expect("a live write");
        assert_eq!(
            commit_settings(&owner).await,
            [("telemetry".to_owned(), expected.to_owned())],
            "{durability:?}"
        );
    }
}
