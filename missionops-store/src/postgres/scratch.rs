//! Scratch databases: a fresh, migrated database per store, dropped when the store goes away.
//! For test suites and benchmarks that must not share state (or leave any behind).

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use missionops_core::{Error, Result};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

use super::{PostgresStore, db};

/// The prefix of every scratch database's name; the rest is `<unix seconds>_<random hex>`.
const PREFIX: &str = "missionops_test_";
/// Scratch databases older than this were left behind by a run that crashed.
const STALE_AFTER: Duration = Duration::from_secs(3600);
/// How long dropping a scratch database may take before it is left for a later sweep.
const DROP_TIMEOUT: Duration = Duration::from_secs(30);

/// Owns a scratch database: dropping the last handle drops the database.
#[derive(Debug)]
pub(super) struct ScratchDatabase {
    admin: PgConnectOptions,
    name: String,
}

impl PostgresStore {
    /// A store on a new, empty, migrated database, created through `admin_url` (a role allowed
    /// to create databases, e.g. `postgres://postgres@127.0.0.1:5432/postgres`) and dropped
    /// (`WITH (FORCE)`) when the last clone of the store is dropped. For tests and benchmarks.
    ///
    /// Its name is `missionops_test_<unix seconds>_<random hex>`. Scratch databases more than an
    /// hour old, left by runs that were killed before they could drop theirs, are dropped first.
    /// Fails with [`Error::Backend`] when the server cannot be reached within 10 seconds.
    pub async fn scratch(admin_url: &str) -> Result<Self> {
        let admin = PgConnectOptions::from_str(admin_url)
            .map_err(db)?
            .disable_statement_logging();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(crate::unavailable::backend_error)?;
        let mut conn = connect_admin(&admin).await?;
        drop_stale(&mut conn, now).await?;
        let name = format!(
            "{PREFIX}{}_{}",
            now.as_secs(),
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .map_err(db)?;
        // From here on the guard drops the database, also when migrating fails.
        let guard = ScratchDatabase {
            admin: admin.clone(),
            name,
        };
        let _ = conn.close().await;
        let pool = super::pool::options(4, super::pool::PING_IF_IDLE_FOR)
            .connect_with(admin.database(&guard.name))
            .await
            .map_err(db)?;
        let store = PostgresStore {
            scratch: Some(std::sync::Arc::new(guard)),
            ..PostgresStore::from_pool(pool)
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The name of the scratch database this store works on, if it is one.
    pub fn scratch_database(&self) -> Option<&str> {
        self.scratch.as_deref().map(|s| s.name.as_str())
    }
}

async fn connect_admin(admin: &PgConnectOptions) -> Result<PgConnection> {
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect_with(admin)).await {
        Ok(conn) => conn.map_err(db),
        Err(_) => Err(Error::backend(
            "timed out after 10 s connecting to PostgreSQL".to_owned(),
        )),
    }
}

/// Drops scratch databases whose name says they are older than [`STALE_AFTER`].
async fn drop_stale(conn: &mut PgConnection, now: Duration) -> Result<()> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE starts_with(datname::text, $1)",
    )
    .bind(PREFIX)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for name in names {
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        let Some(created) = created else { continue };
        if now.as_secs().saturating_sub(created) > STALE_AFTER.as_secs() {
            // Another run may be sweeping the same database: IF EXISTS, and errors ignored.
            let _ = drop_database(conn, &name).await;
        }
    }
    Ok(())
}

async fn drop_database(conn: &mut PgConnection, name: &str) -> Result<()> {
    let quoted = name.replace('"', "\"\"");
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS \"{quoted}\" WITH (FORCE)"
    ))
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

impl Drop for ScratchDatabase {
    /// Drops the database from a thread of its own with its own runtime: `Drop` cannot await,
    /// and the runtime the store lived on may be single-threaded or shutting down. Waits for
    /// the drop, so that a test process does not exit before its databases are gone; a
    /// failure leaves the database for the sweep of a later run.
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = std::mem::take(&mut self.name);
        let worker = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let dropped = tokio::time::timeout(DROP_TIMEOUT, async {
                    let mut conn = connect_admin(&admin).await?;
                    drop_database(&mut conn, &name).await?;
                    let _ = conn.close().await;
                    Ok::<(), Error>(())
                })
                .await;
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!(
                        "missionops: could not drop scratch database {name}; a later run drops it"
                    );
                }
            });
        });
        let _ = worker.join();
    }
}
