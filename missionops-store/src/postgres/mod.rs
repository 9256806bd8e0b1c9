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
//! - `pool`: the connection pool's settings: no ping on checkout, broken connections replaced.
//! - `health`: the write probe of readiness checks (a write matching no row, rolled back).
//! - `scratch`: throw-away databases for tests and benchmarks.
//!
//! The schema lives in `migrations/postgres/`; its comments say why each table and index exists.

mod alarms;
mod anomalies;
mod codec;
mod documents;
mod events;
mod health;
mod keys;
mod outbox;
mod packets;
mod pool;
mod scratch;
mod spacecraft;
mod telemetry;

use std::sync::Arc;

use missionops_core::{Error, Result};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

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
    /// Set on stores made by [`PostgresStore::scratch`]: drops their database when the last
    /// clone of the store goes away. Declared after `pool` so that the pool is released first.
    scratch: Option<Arc<ScratchDatabase>>,
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
            scratch: None,
        }
    }

    /// The connection pool, for health checks and for SQL of the caller's own.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the schema or brings it up to date. Applying the migrations again is a no-op,
    /// and concurrent callers wait for each other (an advisory lock).
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await.map_err(Error::backend)
    }

    /// How many recorded events wait in the outbox for delivery.
    pub async fn outbox_pending(&self) -> Result<u64> {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE status = 'pending'")
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
        Ok(u64::try_from(pending).unwrap_or(0))
    }
}

/// A failure of the database or of the connection to it.
fn db(err: sqlx::Error) -> Error {
    Error::backend(err)
}

/// The constraint a unique violation broke, when `err` is one.
fn unique_violation(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(e) if e.is_unique_violation() => Some(e.constraint().unwrap_or("")),
        _ => None,
    }
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
