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

use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::PgPoolOptions;

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

    #[tokio::test]
    async fn a_broken_connection_is_replaced_and_only_a_long_idle_one_is_pinged() {
        let admin_url = admin_url();
        let scratch = PostgresStore::scratch(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "this test needs PostgreSQL at {admin_url} (MISSIONOPS_TEST_DATABASE_URL): {e}"
                )
            });
        let admin = scratch.pool().clone();
        let database = scratch.scratch_database().expect("a scratch database");
        let connect = PgConnectOptions::from_str(&admin_url)
            .expect("admin url")
            .database(database)
            .disable_statement_logging();
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
}
