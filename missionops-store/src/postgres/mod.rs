//! The PostgreSQL backend: every repository trait over a `sqlx` connection pool.
//!
//! Each trait write is one transaction holding the state change, its events and their outbox
//! rows. Queries are SQL run by the server (ordering, ranges, latest values, downsampling);
//! nothing loads a table into the process to filter it.
//!
//! # Layout
//! - `codec`: how domain values travel to and from Postgres (times, JSON text, stored values).
//! - `events`: sequence allocation, event and outbox rows, and the event queries.
//! - `spacecraft`: spacecraft and their configuration versions.
//! - `telemetry`: batched, idempotent ingest and the telemetry queries.
//! - `anomalies`, `alarms`, `documents`: the other repositories.
//! - `outbox`: the outbox port: claims under a lease, delivery marks, backoff, dead letters.
//! - `pool`: the connection pool's settings (no ping on checkout, broken connections replaced)
//!   and the connections kept out of it for the ingest statement and one-statement reads.
//! - `health`: the write probe of readiness checks (a write matching no row, rolled back).
//! - `scratch`: throw-away databases for tests and benchmarks.
//!
//! The schema lives in `migrations/postgres/`; its comments say why each table and index exists.

/// A spacecraft's entry of `latest_values.by_parameter` for each parameter of the rows `u(s, p,
/// v, t, a)` (spacecraft, parameter, JSON value text, time, arrival number), grouped by
/// spacecraft in key order (migration 0017): `[value, epoch milliseconds, arrival]`.
macro_rules! latest_by_spacecraft {
    ($tenant:literal, $arrival:literal, $rows:literal) => {
        concat!(
            "SELECT ",
            $tenant,
            ", s, jsonb_object_agg(p, jsonb_build_array(v, (extract(epoch FROM t) * 1000)::int8, ",
            $arrival,
            "))
             FROM ",
            $rows,
            " GROUP BY s ORDER BY s COLLATE \"C\""
        )
    };
}

/// What an upsert of `latest_values` does to a spacecraft's row that exists: each parameter of
/// the row proposed goes in where it is new or newer, by sample time and then arrival, as one
/// row per parameter kept them before migration 0017.
macro_rules! merge_latest {
    () => {
        " ON CONFLICT (tenant, spacecraft_id) DO UPDATE
         SET by_parameter = l.by_parameter || (
             SELECT COALESCE(jsonb_object_agg(c.key, c.value), '{}'::jsonb)
             FROM jsonb_each(excluded.by_parameter) AS c
             WHERE NOT l.by_parameter ? c.key
                OR ((c.value->>1)::int8, (c.value->>2)::int8)
                   > ((l.by_parameter->c.key->>1)::int8, (l.by_parameter->c.key->>2)::int8))"
    };
}

mod alarms;
mod anomalies;
mod codec;
mod documents;
mod events;
mod health;
mod keys;
mod latest;
mod outbox;
mod packets;
mod pool;
mod scratch;
mod spacecraft;
mod telemetry;
mod window;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use missionops_core::{Error, Result, SpacecraftId, TenantId};
use sqlx::migrate::Migrator;
use sqlx::{PgPool, Postgres, Transaction};

use scratch::ScratchDatabase;

/// The migrations, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Every repository trait on PostgreSQL. Cheap to clone: clones share one connection pool.
///
/// ```no_run
/// # async fn demo() -> missionops_core::Result<()> {
/// use std::sync::Arc;
/// use missionops_core::MissionOps;
/// use missionops_store::{PostgresStore, SystemClock, UuidV7Ids};
///
/// let store = PostgresStore::connect("postgres://postgres@127.0.0.1:5432/missionops").await?;
/// store.migrate().await?;
/// let app = MissionOps::new(Arc::new(store), Arc::new(SystemClock), Arc::new(UuidV7Ids));
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Writes stored by the one-statement ingest (see the `telemetry` module).
    one_statement_writes: Arc<AtomicU64>,
    /// The connection the one-statement ingest runs on, out of the pool (see the `pool`
    /// module).
    ingest_connection: Arc<pool::KeptConnection>,
    /// The connection a group commit asks on which of its spacecraft exist, out of the pool
    /// too: a group of new spacecraft asks it once each, while it holds the writers' turn.
    lookup_connection: Arc<pool::KeptConnection>,
    /// The connections one-statement reads run on, out of the pool, each set to its last
    /// read's tenant (see the `pool` module): planning as the server does by default...
    reads: Arc<pool::ReadConnections>,
    /// ...and for each call's values (see [`PostgresStore::filtered_read_for`]).
    filtered_reads: Arc<pool::ReadConnections>,
    /// Whether telemetry ingest commits without waiting for the WAL flush
    /// ([`PostgresStore::committing_telemetry_without_flush_wait`]).
    telemetry_without_flush_wait: bool,
    /// What a store writing latest values behind holds back
    /// ([`PostgresStore::deferring_latest_values`]).
    behind: Option<Arc<latest::Behind>>,
    /// Its write-behind task, stopped when the last clone of the store goes.
    write_behind: Option<Arc<AbortOnDrop>>,
    /// Set on stores made by [`PostgresStore::scratch`]: drops their database when the last
    /// clone of the store goes away. Declared after `pool` so that the pool is released first.
    scratch: Option<Arc<ScratchDatabase>>,
}

/// Aborts a task when dropped: the write-behind task of the last clone of a store.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:5432/database`) with a
    /// pool of up to 10 connections, waiting up to 10 seconds for the first. Connections are
    /// handed out without a ping unless they were idle for 30 seconds, and one that broke is
    /// replaced (see the `pool` module). The schema is not touched: call
    /// [`PostgresStore::migrate`] to create or update it.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = pool::options(pool::MAX_CONNECTIONS, pool::PING_IF_IDLE_FOR)
            .connect(url)
            .await
            .map_err(db)?;
        Ok(Self::from_pool(pool))
    }

    /// A store over a pool configured by the caller.
    pub fn from_pool(pool: PgPool) -> Self {
        PostgresStore {
            pool,
            one_statement_writes: Arc::default(),
            ingest_connection: Arc::default(),
            lookup_connection: Arc::default(),
            reads: Arc::new(pool::ReadConnections::new(
                pool::READ_CONNECTIONS,
                pool::ReadPlanning::Auto,
                pool::PING_IF_IDLE_FOR,
            )),
            filtered_reads: Arc::new(pool::ReadConnections::new(
                pool::FILTERED_READ_CONNECTIONS,
                pool::ReadPlanning::ForEachCall,
                pool::PING_IF_IDLE_FOR,
            )),
            telemetry_without_flush_wait: false,
            behind: None,
            write_behind: None,
            scratch: None,
        }
    }

    /// This store writing the latest values of its live telemetry behind it, once a second,
    /// instead of in each ingest statement (see README "Storage"): for the server. Its reads
    /// see them at once; other processes see them up to a second later. A server killed (or
    /// stopped) between two writes leaves its latest values to the next server that runs:
    /// within ten seconds of its last write, that server rebuilds
    /// them from the telemetry. Must be called inside a Tokio runtime (it starts the task that
    /// writes them).
    #[must_use]
    pub fn deferring_latest_values(self) -> Self {
        self.deferring_latest_values_every(latest::WRITE_EVERY)
    }

    /// [`Self::deferring_latest_values`], writing them every `period` (the first time one
    /// `period` from now) instead of every second: for tests, which write them when they
    /// choose with [`Self::write_latest_values`].
    #[must_use]
    pub fn deferring_latest_values_every(mut self, period: std::time::Duration) -> Self {
        let behind = Arc::new(latest::Behind::new());
        let task = {
            let behind = Arc::clone(&behind);
            let pool = self.pool.clone();
            tokio::spawn(async move {
                let first = tokio::time::Instant::now() + period;
                let mut every = tokio::time::interval_at(first, period);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    if pool.is_closed() {
                        return;
                    }
                    // Whatever failed stays held back for the next tick.
                    if let Err(e) = behind.write_behind(&pool).await {
                        tracing::warn!(error = %e, "cannot write the latest values; retrying");
                    }
                }
            })
        };
        self.behind = Some(behind);
        self.write_behind = Some(Arc::new(AbortOnDrop(task)));
        self
    }

    /// This store committing telemetry ingest (snapshots, the spacecraft they register with
    /// their events, and what the monitors decide of them: anomalies, alarms, their events)
    /// without waiting for PostgreSQL's WAL flush (`synchronous_commit = off` for those
    /// transactions only): for the server, on `serve --telemetry-durability process` (the
    /// default; see README "Storage").
    ///
    /// An acknowledged write then survives a crash or `kill -9` of the process that wrote it,
    /// which is what SPEC §8 calls durable and what SQLite's `synchronous=NORMAL` gives the
    /// other backend; a crash of PostgreSQL or of its machine may lose the last writes of up
    /// to three times the server's `wal_writer_delay` (0.6 s by default), never a part of one,
    /// and never out of order (a commit that waits for its flush makes every earlier one
    /// durable too). Configurations, keys, documents, operators' acknowledgements and every
    /// other write keep waiting for the flush. About half of a live group's store time was the
    /// flush's wait (BENCHMARKS.md, "Session 14").
    #[must_use]
    pub fn committing_telemetry_without_flush_wait(mut self) -> Self {
        self.telemetry_without_flush_wait = true;
        self
    }

    /// Writes the latest values this store holds back now (a store that does not hold any
    /// back has nothing to do), and rebuilds those of servers gone for
    /// ten seconds.
    pub async fn write_latest_values(&self) -> Result<()> {
        match &self.behind {
            Some(behind) => behind.write_behind(&self.pool).await,
            None => Ok(()),
        }
    }

    /// Rebuilds the latest values held back by servers whose last write is older than
    /// `gone_after`, from the telemetry (what a deferring store does on its own with
    /// ten seconds).
    pub async fn rebuild_latest_values_of_gone_servers(
        &self,
        gone_after: std::time::Duration,
    ) -> Result<()> {
        let me = self.behind.as_ref().map_or("", |b| b.writer());
        latest::rebuild_gone(&self.pool, me, gone_after).await
    }

    /// How many telemetry writes were stored by one statement in its own implicit
    /// transaction, rather than in a transaction of several statements: how often live
    /// ingest took its one-round-trip path (for tests and diagnostics).
    pub fn one_statement_writes(&self) -> u64 {
        self.one_statement_writes.load(Ordering::Relaxed)
    }

    /// The connection pool, for health checks and for SQL of the caller's own. On a store
    /// made by [`PostgresStore::connect`], a statement run outside a transaction is planned
    /// with the generic plan (`plan_cache_mode`, see the `pool` module); inside one, as the
    /// server would.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the schema or brings it up to date. Applying the migrations again is a no-op,
    /// and concurrent callers wait for each other (an advisory lock).
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(crate::unavailable::backend_error)
    }

    /// How many recorded events, of every tenant, wait in the outbox for delivery.
    pub async fn outbox_pending(&self) -> Result<u64> {
        let mut tx = self.begin_all_tenants().await?;
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE status = 'pending'")
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        Ok(u64::try_from(pending).unwrap_or(0))
    }

    /// Begins a transaction in which row-level security shows and accepts `tenant`'s rows only
    /// (`missionops.tenant`, transaction-local; see migration `0012_tenants.sql`). Every
    /// repository method runs its statements in one of these, except reads that are one
    /// statement ([`Self::read_for`]): a read of several statements drops its transaction
    /// rather than commit it, and sqlx sends its `ROLLBACK` when the connection goes back to
    /// the pool, after the caller has its answer.
    async fn begin_for(&self, tenant: &TenantId) -> Result<Tx> {
        begin_with_setting(
            &self.pool,
            "missionops.tenant",
            tenant.as_str(),
            &[AUTO_PLANS],
        )
        .await
    }

    /// A connection for one read statement of `tenant`, outside any transaction, whose
    /// session reads as `tenant` (see the `pool` module). Call [`pool::KeptRead::succeeded`]
    /// after the read.
    async fn read_for(&self, tenant: &TenantId) -> Result<pool::KeptRead<'_>> {
        self.reads
            .get(&self.pool, tenant.as_str())
            .await
            .map_err(db)
    }

    /// For each of `spacecraft`, in their order, the value `one_each` answers: a statement
    /// taking the ids as `$1` (`text[]`) and the tenant as `$2`, one row a spacecraft in the
    /// order of the ids (`unnest … WITH ORDINALITY`), `NULL` for none.
    async fn one_value_each<T>(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
        one_each: &'static str,
    ) -> Result<Vec<Option<T>>>
    where
        T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres> + Send + Unpin,
    {
        if spacecraft.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = spacecraft.iter().map(SpacecraftId::as_str).collect();
        let mut reader = self.read_for(tenant).await?;
        let values: Vec<Option<T>> = sqlx::query_scalar(one_each)
            .bind(&ids)
            .bind(tenant.as_str())
            .fetch_all(&mut *reader)
            .await
            .map_err(db)?;
        reader.succeeded();
        Ok(values)
    }

    /// [`Self::one_value_each`] of a time.
    async fn times_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
        newest: &'static str,
    ) -> Result<Vec<Option<missionops_core::Timestamp>>> {
        let times = self
            .one_value_each::<codec::PgTime>(tenant, spacecraft, newest)
            .await?;
        Ok(times.into_iter().map(|t| t.map(|t| t.0)).collect())
    }

    /// [`Self::read_for`] for a read that filters by one index and orders by another (the
    /// alarm and document lists): it plans for each call's values (see
    /// [`pool::ReadPlanning::ForEachCall`]).
    async fn filtered_read_for(&self, tenant: &TenantId) -> Result<pool::KeptRead<'_>> {
        self.filtered_reads
            .get(&self.pool, tenant.as_str())
            .await
            .map_err(db)
    }

    /// [`Self::begin_for`] for telemetry ingest, which commits without waiting for the WAL
    /// flush on a store told so ([`Self::committing_telemetry_without_flush_wait`]).
    ///
    /// `generic` keeps the connection's generic planning (see the `pool` module), for a
    /// transaction whose every statement plans well generically: rows inserted from arrays,
    /// rows looked up by a unique key, never a scan a small table's plan would choose. The
    /// ingest statement, planned for each call's values inside a transaction that also
    /// registers spacecraft, took 0.3–0.4 ms to plan against 0.25 ms to run, on the critical
    /// path of every group of new spacecraft.
    async fn begin_ingest_for(&self, tenant: &TenantId, generic: bool) -> Result<Tx> {
        let planning = if generic { "" } else { AUTO_PLANS };
        let commit = if self.telemetry_without_flush_wait {
            NO_FLUSH_WAIT
        } else {
            ""
        };
        begin_with_setting(
            &self.pool,
            "missionops.tenant",
            tenant.as_str(),
            &[planning, commit],
        )
        .await
    }

    /// The newest version of one of `spacecraft`'s versioned documents, read by `sql` (one of
    /// [`NEWEST_CONFIG_VERSION`] or [`NEWEST_PACKET_DEFINITION_VERSION`]); `what` names the
    /// version in the error when the stored number does not fit.
    ///
    /// A read of one statement ([`Self::read_for`]): every monitor rechecks both versions every
    /// 2 s, a fleet of 1,000 about 1,000 reads a second; as a transaction each read took three
    /// round trips, and through the pool two (the statement and the test on return).
    async fn newest_version(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        sql: &'static str,
        what: &'static str,
    ) -> Result<Option<u32>> {
        let mut reader = self.read_for(tenant).await?;
        let version: Option<i32> = sqlx::query_scalar(sql)
            .bind(tenant.as_str())
            .bind(spacecraft.as_str())
            .fetch_one(&mut *reader)
            .await
            .map_err(db)?;
        reader.succeeded();
        version
            .map(|v| u32::try_from(v).map_err(|e| codec::corrupt(what, e)))
            .transpose()
    }

    /// The row of `tenant` whose id is `id`, read by `sql` (which binds the id as `$1` and the
    /// tenant as `$2`) in a read of that tenant and mapped by `from_row`; `None` when
    /// there is none.
    async fn one_of_tenant<T>(
        &self,
        tenant: &TenantId,
        sql: &'static str,
        id: &str,
        from_row: fn(&sqlx::postgres::PgRow) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut reader = self.read_for(tenant).await?;
        let row = sqlx::query(sql)
            .bind(id)
            .bind(tenant.as_str())
            .fetch_optional(&mut *reader)
            .await
            .map_err(db)?;
        reader.succeeded();
        row.as_ref().map(from_row).transpose()
    }

    /// Begins a transaction that sees the events and outbox rows of every tenant
    /// (`missionops.all_tenants`): the outbox dispatcher's path, and only its.
    async fn begin_all_tenants(&self) -> Result<Tx> {
        begin_with_setting(&self.pool, "missionops.all_tenants", "on", &[AUTO_PLANS]).await
    }
}

/// The read of the newest `version` of spacecraft `$2` of tenant `$1` in a versioned table
/// keyed by (tenant, spacecraft_id, version): one row, `NULL` when there is none.
macro_rules! newest_version_of {
    ($table:literal) => {
        concat!(
            "SELECT (SELECT version FROM ",
            $table,
            " WHERE tenant = $1 AND spacecraft_id = $2 ORDER BY version DESC LIMIT 1)"
        )
    };
}

/// The newest configuration version of spacecraft `$2` of tenant `$1`, read from the primary
/// key backwards, whatever plan is cached.
const NEWEST_CONFIG_VERSION: &str = newest_version_of!("spacecraft_configs");

/// [`NEWEST_CONFIG_VERSION`] for the packet definition.
const NEWEST_PACKET_DEFINITION_VERSION: &str = newest_version_of!("packet_definitions");

/// A transaction on a pooled connection.
type Tx = Transaction<'static, Postgres>;

/// The server's default planning, transaction-local, appended to the `SELECT` that sets a
/// transaction's tenant: the store's pool makes its connections prefer generic plans outside
/// transactions, for the one-statement ingest (see the `pool` module), and a generic plan
/// cached while a table was small would scan it whole once it is large.
const AUTO_PLANS: &str = ", set_config('plan_cache_mode', 'auto', true)";

/// A commit that does not wait for the WAL flush, transaction-local, appended like
/// [`AUTO_PLANS`]: telemetry ingest on a store told so
/// ([`PostgresStore::committing_telemetry_without_flush_wait`]).
const NO_FLUSH_WAIT: &str = ", set_config('synchronous_commit', 'off', true)";

/// Begins a transaction with the transaction-local `setting` at `value`, and the `extras`
/// ([`AUTO_PLANS`], [`NO_FLUSH_WAIT`]; none keeps the connection's planning and commits).
///
/// A value of plain characters (the usual tenant ids) rides with `BEGIN` in one simple query,
/// as a literal that needs no escaping: one round trip, as a bare `BEGIN` costs. Any other value
/// is bound as a parameter in a statement of its own (one more round trip), so that no quoting
/// rule of the server's is relied on.
async fn begin_with_setting(
    pool: &PgPool,
    setting: &'static str,
    value: &str,
    extras: &[&'static str],
) -> Result<Tx> {
    let extras = extras.concat();
    if is_plain(value) {
        return pool
            .begin_with(format!(
                "BEGIN; SELECT set_config('{setting}', '{value}', true){extras}"
            ))
            .await
            .map_err(db);
    }
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query(&format!("SELECT set_config($1, $2, true){extras}"))
        .bind(setting)
        .bind(value)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    Ok(tx)
}

/// Whether `value` is non-empty and only ASCII letters, digits, `-`, `_`, `.`, `:` or `@`: a
/// string literal of it means the same under every server setting.
fn is_plain(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@'))
}

/// A failure of the database or of the connection to it.
fn db(err: sqlx::Error) -> Error {
    crate::unavailable::backend_error(err)
}

/// The constraint a unique violation broke, when `err` is one.
fn unique_violation(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(e) if e.is_unique_violation() => Some(e.constraint().unwrap_or("")),
        _ => None,
    }
}

/// Whether `err` is PostgreSQL breaking a deadlock: two batches registering shared ids in
/// different orders (the careful path registers in id order and cannot deadlock that way), or
/// two processes writing the same latest values in different orders.
fn is_deadlock(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.code().as_deref() == Some("40P01"))
}

/// Whether `err` is Postgres refusing a `\u0000` escape in a JSON document it converts to
/// `jsonb` (SQLSTATE 22P05): `jsonb` cannot hold NUL characters.
fn is_untranslatable_character(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.code().as_deref() == Some("22P05"))
}

/// `value` as a `bigint`, for limits and offsets (larger values mean "all").
fn to_i64(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::is_plain;

    #[test]
    fn only_plain_values_go_into_the_begin_statement() {
        assert!(is_plain("default"));
        assert!(is_plain("acme-2.eu_west:x@y"));
        for value in [
            "",
            "o'brien",
            "a\\b",
            "x;y",
            "a b",
            "*",
            "t$$",
            "\u{e9}t\u{e9}",
        ] {
            assert!(!is_plain(value), "{value:?}");
        }
    }
}

/// The lookups by id list that run on every group commit (or on its conflict path) are key
/// lookups under a generic plan, whatever the tables held when the plan was made.
#[cfg(all(test, feature = "conformance"))]
mod plan_tests {
    use sqlx::{Connection, Row};

    /// The plan PostgreSQL makes for `sql` with `parameters` (their types, in order) when it
    /// plans generically, as the store's pool does outside transactions, on an empty database.
    async fn generic_plan(sql: &str, parameters: &str, values: &str) -> String {
        let store = crate::conformance::backends::scratch_postgres().await;
        let mut conn = store.pool.acquire().await.expect("connection");
        let mut tx = conn.begin().await.expect("begin");
        sqlx::query("SET LOCAL plan_cache_mode = force_generic_plan")
            .execute(&mut *tx)
            .await
            .expect("plan mode");
        sqlx::query(&format!("PREPARE lookup({parameters}) AS {sql}"))
            .execute(&mut *tx)
            .await
            .expect("prepare");
        let lines = sqlx::query(&format!("EXPLAIN EXECUTE lookup({values})"))
            .fetch_all(&mut *tx)
            .await
            .expect("explain");
        lines
            .iter()
            .map(|line| line.get::<String, _>(0))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `table` is read through an index by the id of each element of the list, never scanned
    /// or filtered after reading a whole tenant.
    fn assert_key_lookups(plan: &str, table: &str) {
        assert!(
            !plan.contains(&format!("Seq Scan on {table}")),
            "{table} is scanned:\n{plan}"
        );
        assert!(
            !plan.contains("ANY"),
            "ids are filtered, not looked up:\n{plan}"
        );
        assert!(
            plan.lines()
                .any(|line| line.contains("Index Cond") && line.contains("wanted.id")),
            "the id is not an index condition:\n{plan}"
        );
    }

    /// The transaction that registers spacecraft with their telemetry keeps the pool's generic
    /// planning (its statements were planned afresh on every call otherwise, 0.3–0.4 ms each);
    /// every other transaction plans for its values. All set the tenant. Ingest transactions
    /// commit without waiting for the WAL flush on a store told so, and only they.
    #[tokio::test]
    async fn registering_transactions_plan_generically_and_others_for_their_values() {
        let tenant = missionops_core::TenantId::default();
        for no_flush_wait in [false, true] {
            let mut store = crate::conformance::backends::scratch_postgres().await;
            if no_flush_wait {
                store = store.committing_telemetry_without_flush_wait();
            }
            let ingest_commit = if no_flush_wait { "off" } else { "on" };
            for (kind, mode_expected, commit_expected) in [
                ("generic ingest", "force_generic_plan", ingest_commit),
                ("ingest", "auto", ingest_commit),
                ("other", "auto", "on"),
            ] {
                let mut tx = match kind {
                    "generic ingest" => store.begin_ingest_for(&tenant, true).await,
                    "ingest" => store.begin_ingest_for(&tenant, false).await,
                    _ => store.begin_for(&tenant).await,
                }
                .expect("begin");
                let (mode, scoped, commit): (String, String, String) = sqlx::query_as(
                    "SELECT current_setting('plan_cache_mode'), \
                     current_setting('missionops.tenant'), current_setting('synchronous_commit')",
                )
                .fetch_one(&mut *tx)
                .await
                .expect("settings");
                let case = format!("{kind} transaction, store {no_flush_wait}");
                assert_eq!(mode, mode_expected, "{case}");
                assert_eq!(scoped, tenant.as_str(), "{case}");
                assert_eq!(commit, commit_expected, "{case}");
            }
        }
    }

    /// Reads of several tenants at once, more than run at a time, each see their own tenant's
    /// rows and only those, whichever kept connection (and its session's tenant) they get:
    /// a connection still set to another tenant would show its reader nothing.
    #[tokio::test]
    async fn reads_of_many_tenants_at_once_each_see_their_own() {
        use missionops_core::{EventRepository, EventType, Limit, TenantId};

        use crate::conformance::fixtures::event;

        // As the service's role: row-level security applies (the owner bypasses it).
        let (store, _owner) = crate::conformance::backends::scratch_postgres_as(
            crate::conformance::backends::APP_ROLE,
        )
        .await;
        let tenants: Vec<TenantId> = ["alpha", "beta", "gamma"]
            .iter()
            .map(|name| TenantId::parse(*name).expect("tenant"))
            .collect();
        for (k, tenant) in (1_u32..).zip(&tenants) {
            // k events for the k-th tenant, numbered apart from the others'.
            for n in 0..k {
                store
                    .record_event(tenant, event(k * 100 + n, None, EventType::Info))
                    .await
                    .expect("record");
            }
        }
        let limit = Limit::new(50, 100).expect("limit");
        let reads = (0..30).map(|i| {
            let tenant = &tenants[i % tenants.len()];
            let store = &store;
            async move { (tenant, store.recent_events(tenant, None, limit).await) }
        });
        for (tenant, events) in futures_util::future::join_all(reads).await {
            let events = events.expect("read");
            let k = tenants
                .iter()
                .position(|t| t == tenant)
                .expect("one of them")
                + 1;
            let mut ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
            ids.sort();
            let expected: Vec<String> = (0..k).map(|n| format!("ev-{}", k * 100 + n)).collect();
            assert_eq!(ids, expected, "tenant {tenant}");
        }
    }

    /// The alarm and document lists never settle on a generic plan, however often they run
    /// on one connection while their tables are empty (the server's default planning
    /// switches after the fifth run, and a plan made then scans the ordering index with a
    /// filter once the table has grown).
    #[tokio::test]
    async fn filtered_lists_plan_for_their_values_on_every_call() {
        use missionops_core::{
            AlarmFilter, AlarmRepository, AlarmStates, DocumentFilter, DocumentRepository, Limit,
            SpacecraftId, TenantId,
        };

        // Reads one at a time, so that every call below prepares on the one kept connection
        // this test inspects.
        let store = crate::conformance::backends::scratch_postgres().await;
        let tenant = TenantId::default();
        let spacecraft = SpacecraftId::parse("SAT-1").expect("id");
        let of_one = AlarmFilter {
            spacecraft_id: Some(spacecraft.clone()),
            states: AlarmStates::Open,
        };
        let documents = DocumentFilter {
            spacecraft_id: Some(spacecraft.clone()),
            category: None,
            tag: None,
            limit: Limit::new(10, 100).expect("limit"),
            offset: 0,
        };
        for _ in 0..8 {
            store.list_alarms(&tenant, &of_one).await.expect("alarms");
            store
                .open_alarms_of(&tenant, std::slice::from_ref(&spacecraft))
                .await
                .expect("open alarms");
            store
                .list_documents(&tenant, &documents)
                .await
                .expect("documents");
        }
        let mut inspected = store
            .filtered_read_for(&tenant)
            .await
            .expect("the connection");
        let plans: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements
             WHERE (statement LIKE '%FROM alarms%' OR statement LIKE '%FROM documents%')
               AND statement NOT LIKE '%pg_prepared_statements%'",
        )
        .fetch_all(&mut *inspected)
        .await
        .expect("prepared statements");
        inspected.succeeded();
        assert_eq!(plans.len(), 3, "the three lists are prepared: {plans:?}");
        for (statement, generic, custom) in &plans {
            assert_eq!(*generic, 0, "a generic plan for {statement}");
            assert_eq!(*custom, 8, "a plan for each call of {statement}");
        }
    }

    #[tokio::test]
    async fn lookups_by_a_list_of_ids_are_key_lookups_under_a_generic_plan() {
        let lookups = [
            (
                super::spacecraft::EXISTING_SPACECRAFT,
                "text, text[]",
                "'default', '{a,b}'",
                "spacecraft",
            ),
            (
                super::spacecraft::EXISTING_SPACECRAFT_ALONE,
                "text, text[]",
                "'default', '{a,b}'",
                "spacecraft",
            ),
            (
                super::events::RECORD_EVENTS,
                "bigint, text[], text[], text[], timestamptz[], text[], text[], text[], text[], text",
                "2, '{a,b}', '{a,b}', '{s,s}', '{2025-01-01,2025-01-01}', '{t,t}', '{LOW,LOW}', \
                 '{m,m}', '{\"{}\",\"{}\"}', 'default'",
                "events",
            ),
            (
                super::telemetry::STORED_SNAPSHOTS,
                "text[], text",
                "'{a,b}', 'default'",
                "telemetry_ids",
            ),
        ];
        for (sql, types, values, table) in lookups {
            assert_key_lookups(&generic_plan(sql, types, values).await, table);
        }
    }

    #[tokio::test]
    async fn the_newest_versions_are_read_from_the_key_backwards_under_a_generic_plan() {
        for (sql, table) in [
            (super::NEWEST_CONFIG_VERSION, "spacecraft_configs"),
            (
                super::NEWEST_PACKET_DEFINITION_VERSION,
                "packet_definitions",
            ),
        ] {
            let plan = generic_plan(sql, "text, text", "'default', 'SC-1'").await;
            assert!(
                !plan.contains(&format!("Seq Scan on {table}")),
                "{table} is scanned:\n{plan}"
            );
            assert!(
                plan.contains("Index Only Scan Backward") || plan.contains("Index Scan Backward"),
                "{table} is not read from its key backwards:\n{plan}"
            );
        }
    }
}
