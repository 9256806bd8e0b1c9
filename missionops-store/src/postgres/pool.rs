//! How the store pools its connections to PostgreSQL.
//!
//! sqlx's default pings a pooled connection (a round trip to the server) before handing it out,
//! so every query or transaction paid two round trips where it needs one; under a fleet's load
//! that was a large part of the server's work. Here a connection is handed out without a ping
//! unless it has sat idle for [`PING_IF_IDLE_FOR`]: idle time is when a connection is lost
//! unnoticed (the server restarted, a firewall dropped a quiet connection), and then the ping
//! finds it dead, closes it and opens a fresh one before anyone uses it.
//!
//! A connection that breaks while in use (the server restarts under load) fails the one call
//! using it, with [`missionops_core::Error::Backend`]. sqlx tests every connection when it is
//! returned to the pool, in a task of its own after the caller has its answer (this cannot be
//! turned off, and is off the caller's path): a broken one is closed there, so the next
//! checkout opens a fresh connection instead.
//!
//! That test on return is a round trip all the same, for both processes: a fifth of the
//! server's work on a stream of new spacecraft went to returning connections and pinging them.
//! So the one-statement ingest, a group commit's usual write, runs on a [`KeptConnection`]
//! that never goes back to the pool, and nothing pings it; so does a group's check of which of
//! its spacecraft exist, asked under the writers' turn for every group of new spacecraft.

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool, Postgres};
use tokio::sync::{Mutex, MutexGuard};

/// Connections of [`super::PostgresStore::connect`]'s pool.
pub(super) const MAX_CONNECTIONS: u32 = 10;
/// How long a checkout waits for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection idle at least this long is pinged before it is handed out. Under load
/// connections are idle for microseconds and are never pinged.
pub(super) const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// Pool options with up to `max_connections`, pinging connections idle for `ping_if_idle_for`
/// or longer before handing them out and no others.
pub(super) fn options(max_connections: u32, ping_if_idle_for: Duration) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .after_connect(|conn, _| {
            Box::pin(async move {
                // The one-statement ingest runs outside any transaction, on the session's
                // planning mode. Planned for each call's values, that large statement over
                // arrays took longer to plan than to run (0.55 ms against 0.3 ms for a group
                // of five snapshots on the test machine), and the server never settles on its
                // generic plan by itself, as it cannot price arrays of unknown length. The
                // statement is written so that its generic plan is good whatever the tables
                // hold (existence by primary key, row by row). Every transaction the store
                // begins goes back to the server's default planning.
                sqlx::query("SET plan_cache_mode = force_generic_plan")
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .before_acquire(move |conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= ping_if_idle_for {
                    // An error closes this connection and the pool opens another.
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// A connection taken out of the pool for good, for one statement that runs all the time (the
/// one-statement ingest): it is never returned, so never pinged on return. Taken from the pool
/// when first needed (so it has the pool's settings; the pool may then open one more in its
/// place), and kept only after calls that succeeded: a call that failed, or was dropped
/// half-way, may have left it broken or mid-answer, so it is closed and the next call takes a
/// fresh one. So is one left idle for [`PING_IF_IDLE_FOR`] (the pool then pings the one it
/// hands out, as for any checkout after a quiet spell). One caller at a time; a caller that
/// finds it busy gets a pooled one.
#[derive(Debug)]
pub(super) struct KeptConnection {
    place: Mutex<Option<(PgConnection, Instant)>>,
    idle_limit: Duration,
}

impl Default for KeptConnection {
    fn default() -> Self {
        KeptConnection::idle_for_at_most(PING_IF_IDLE_FOR)
    }
}

/// A connection to run a statement on: the kept one, or one from the pool.
#[derive(Debug)]
pub(super) enum StatementConnection<'a> {
    /// The [`KeptConnection`]'s, out of its place until [`StatementConnection::succeeded`]
    /// puts it back; the place stays locked meanwhile.
    Kept {
        place: MutexGuard<'a, Option<(PgConnection, Instant)>>,
        connection: PgConnection,
    },
    /// A pooled connection, for a caller that found the kept one busy.
    Pooled(PoolConnection<Postgres>),
}

impl KeptConnection {
    /// A kept connection that is replaced once idle for `idle_limit`.
    pub(super) fn idle_for_at_most(idle_limit: Duration) -> Self {
        KeptConnection {
            place: Mutex::new(None),
            idle_limit,
        }
    }

    /// The kept connection (taken from `pool` if there is none, or it sat idle too long), or a
    /// pooled one when another call holds it.
    pub(super) async fn get(&self, pool: &PgPool) -> sqlx::Result<StatementConnection<'_>> {
        let Ok(mut place) = self.place.try_lock() else {
            return Ok(StatementConnection::Pooled(pool.acquire().await?));
        };
        let connection = match place.take() {
            Some((connection, used)) if used.elapsed() < self.idle_limit => connection,
            _ => pool.acquire().await?.detach(),
        };
        Ok(StatementConnection::Kept { place, connection })
    }
}

impl StatementConnection<'_> {
    /// Keeps the connection for the next call, after a call that succeeded (a pooled one goes
    /// back to the pool). Not called, the kept connection is closed when this is dropped.
    pub(super) fn succeeded(self) {
        if let StatementConnection::Kept {
            mut place,
            connection,
        } = self
        {
            *place = Some((connection, Instant::now()));
        }
    }
}

impl Deref for StatementConnection<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match self {
            StatementConnection::Kept { connection, .. } => connection,
            StatementConnection::Pooled(pooled) => pooled,
        }
    }
}

impl DerefMut for StatementConnection<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            StatementConnection::Kept { connection, .. } => connection,
            StatementConnection::Pooled(pooled) => pooled,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::postgres::PgConnectOptions;
    use sqlx::{ConnectOptions, PgPool};

    use super::*;
    use crate::PostgresStore;

    fn admin_url() -> String {
        std::env::var("MISSIONOPS_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
    }

    async fn backend_pid(pool: &PgPool) -> sqlx::Result<i32> {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(pool)
            .await
    }

    /// Ends the server process behind connection `pid`, as a restart or an administrator
    /// would, and waits until it is gone.
    async fn kill_backend(admin: &PgPool, pid: i32) {
        let signalled: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(admin)
            .await
            .expect("pg_terminate_backend");
        assert!(signalled, "no backend {pid}");
        for _ in 0..200 {
            let alive: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
                    .bind(pid)
                    .fetch_one(admin)
                    .await
                    .expect("pg_stat_activity");
            if !alive {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("backend {pid} did not end");
    }

    /// Waits until the pool's one connection has been returned (sqlx tests it on return, in a
    /// task of its own), so that it is killed while idle in the pool, not while returning.
    async fn back_in_the_pool(pool: &PgPool) {
        for _ in 0..200 {
            if pool.num_idle() == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the connection never came back to the pool");
    }

    /// A scratch database, and options to connect to it as the admin URL's role.
    async fn scratch_and_options() -> (PostgresStore, PgConnectOptions) {
        let admin_url = admin_url();
        let scratch = PostgresStore::scratch(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "this test needs PostgreSQL at {admin_url} (MISSIONOPS_TEST_DATABASE_URL): {e}"
                )
            });
        let connect = PgConnectOptions::from_str(&admin_url)
            .expect("admin url")
            .database(scratch.scratch_database().expect("a scratch database"))
            .disable_statement_logging();
        (scratch, connect)
    }

    #[tokio::test]
    async fn a_broken_connection_is_replaced_and_only_a_long_idle_one_is_pinged() {
        let (scratch, connect) = scratch_and_options().await;
        let admin = scratch.pool().clone();
        // One connection, so that every call below gets the same one unless it was replaced.
        let pool = options(1, Duration::from_secs(1))
            .connect_with(connect)
            .await
            .expect("pool");

        // Killed while idle for longer than the threshold: the ping before use finds it dead,
        // and the call runs on a fresh connection without failing.
        let first = backend_pid(&pool).await.expect("first call");
        back_in_the_pool(&pool).await;
        kill_backend(&admin, first).await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let second = backend_pid(&pool)
            .await
            .expect("a long-idle dead connection is replaced");
        assert_ne!(second, first);

        // Killed and used at once: no ping before use (that is the point), so this one call
        // fails; the test on return closes the connection and the next call gets a fresh one.
        back_in_the_pool(&pool).await;
        kill_backend(&admin, second).await;
        assert!(
            backend_pid(&pool).await.is_err(),
            "a recently used connection is handed out without a ping"
        );
        let third = backend_pid(&pool)
            .await
            .expect("the broken connection was replaced");
        assert_ne!(third, second);
        pool.close().await;
    }

    /// The backend process behind `conn`.
    async fn backend_of(conn: &mut PgConnection) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(conn)
            .await
            .expect("pg_backend_pid")
    }

    /// The statement backend `pid` ran last, as the server reports it (`None`: it is gone).
    async fn last_statement(admin: &PgPool, pid: i32) -> Option<String> {
        sqlx::query_scalar("SELECT query FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_optional(admin)
            .await
            .expect("pg_stat_activity")
    }

    /// Waits until backend `pid` has ended.
    async fn gone(admin: &PgPool, pid: i32) {
        for _ in 0..200 {
            if last_statement(admin, pid).await.is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("backend {pid} is still there");
    }

    #[tokio::test]
    async fn a_kept_connection_stays_out_of_the_pool_until_a_call_fails_or_it_idles() {
        let (scratch, connect) = scratch_and_options().await;
        let admin = scratch.pool().clone();
        let pool = options(4, PING_IF_IDLE_FOR)
            .connect_with(connect)
            .await
            .expect("pool");
        // The kept one serves call after call from one backend.
        // Long enough that no stall of a loaded machine between two calls below passes for a
        // quiet spell, short enough to wait out once.
        let kept = KeptConnection::idle_for_at_most(Duration::from_millis(1_500));
        let mut conn = kept.get(&pool).await.expect("kept");
        assert!(matches!(conn, StatementConnection::Kept { .. }));
        let first = backend_of(&mut conn).await;
        conn.succeeded();
        let mut conn = kept.get(&pool).await.expect("kept again");
        assert_eq!(backend_of(&mut conn).await, first, "the same connection");
        conn.succeeded();

        // It never went back to the pool (where it would be tested on return): every
        // connection the pool has to give is another backend.
        let mut pooled = Vec::new();
        for _ in 0..4 {
            pooled.push(pool.acquire().await.expect("a pooled connection"));
        }
        for conn in &mut pooled {
            assert_ne!(
                backend_of(conn).await,
                first,
                "the kept backend is not pooled"
            );
        }
        drop(pooled);

        // While one call holds it, another gets a pooled connection.
        let mut held = kept.get(&pool).await.expect("kept");
        let mut other = kept.get(&pool).await.expect("pooled while busy");
        assert!(matches!(other, StatementConnection::Pooled(_)));
        assert_ne!(backend_of(&mut other).await, backend_of(&mut held).await);
        other.succeeded();
        held.succeeded();

        // A call that did not succeed closes it; the next call gets a fresh one.
        drop(kept.get(&pool).await.expect("kept"));
        gone(&admin, first).await;
        let mut conn = kept.get(&pool).await.expect("a fresh kept connection");
        let second = backend_of(&mut conn).await;
        assert_ne!(second, first);
        conn.succeeded();

        // Idle past its limit, it is closed and replaced by one from the pool.
        tokio::time::sleep(Duration::from_millis(1_700)).await;
        let mut conn = kept
            .get(&pool)
            .await
            .expect("a kept connection after a quiet spell");
        let third = backend_of(&mut conn).await;
        assert_ne!(third, second);
        conn.succeeded();
        gone(&admin, second).await;
        pool.close().await;
    }
}
