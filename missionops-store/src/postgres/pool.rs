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
//! Reads that are one statement run on [`ReadConnections`], kept out of the pool too, whose
//! sessions hold their last reader's tenant, so that a read needs no transaction to set it.

use std::ops::{Deref, DerefMut};
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool, Postgres};
use tokio::sync::{Mutex, MutexGuard, Semaphore, SemaphorePermit};

/// Connections of [`super::PostgresStore::connect`]'s pool.
pub(super) const MAX_CONNECTIONS: u32 = 10;
/// Kept connections of a store's one-statement reads ([`ReadConnections`]), and of its reads
/// that plan for each call's values: with the ingest's two, a store opens at most this many
/// beside its pool.
pub(super) const READ_CONNECTIONS: usize = 4;
/// See [`READ_CONNECTIONS`].
pub(super) const FILTERED_READ_CONNECTIONS: usize = 2;
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

/// How a [`ReadConnections`] set's connections plan their statements, as a session setting
/// (they run outside transactions, so nothing transaction-local applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadPlanning {
    /// The server's default: custom plans first, a generic one once it is no worse.
    Auto,
    /// A plan for each call's values: the alarm and document lists, which filter by one index
    /// and order by another. Under the server's default planning such a statement, first run
    /// while its table was nearly empty, settles on a generic plan that walks the ordering
    /// index and filters every row, and keeps it as the table grows until an `ANALYZE` happens
    /// to replace it: 3–4 ms a read at 30,000 alarms (psql, a statement prepared on the empty
    /// table), where a plan for the values reads the spacecraft's index in 0.1–0.3 ms, its
    /// planning (0.05–0.15 ms) included.
    ForEachCall,
}

impl ReadPlanning {
    fn setting(self) -> &'static str {
        match self {
            ReadPlanning::Auto => "auto",
            ReadPlanning::ForEachCall => "force_custom_plan",
        }
    }
}

/// Connections taken out of the pool for good, for reads that are one statement: each keeps
/// the tenant of its last read as a session setting (`missionops.tenant`, which row-level
/// security reads), so that a read is its statement alone — no `BEGIN` to set the tenant, no
/// `ROLLBACK`, no test on return. A read in a transaction of the pool took four messages to
/// the server (the `BEGIN` with the tenant, the statement, then the `ROLLBACK` and sqlx's ping
/// when the connection went back): twice the server's CPU of a read (BENCHMARKS.md, "Session
/// 27"), and the console's pages reread their lists on every event.
///
/// At most `count` reads run at once; the others wait their turn here (on two cores, more
/// statements at once than that only queue in the server), as long as a checkout of the pool
/// waits for a connection (then it fails as the pool's would, a timeout). A read takes an idle connection
/// already set to its tenant if there is one, else the most recently used, whose tenant it
/// sets again first (one more round trip), else a new one from the pool. Like
/// [`KeptConnection`], a connection is kept only after a read that succeeded — one that
/// failed, or was dropped half-way, may have left it broken or mid-answer, so it is closed —
/// and one idle for `idle_limit` is closed (the pool pings the one it hands out next, as for
/// any checkout after a quiet spell). Connections holding a session tenant never go back to
/// the pool (they are detached from it), so no other statement of the store ever runs under a
/// tenant it did not set.
#[derive(Debug)]
pub(super) struct ReadConnections {
    idle: std::sync::Mutex<Vec<TenantConnection>>,
    turns: Semaphore,
    wait_limit: Duration,
    planning: ReadPlanning,
    idle_limit: Duration,
}

/// A kept read connection, the tenant its session reads as, and when it was last used.
#[derive(Debug)]
struct TenantConnection {
    connection: PgConnection,
    tenant: String,
    used: Instant,
}

/// A connection of a [`ReadConnections`] set, with its read's turn, until
/// [`KeptRead::succeeded`] gives both back. Dropped instead, it closes the connection.
#[derive(Debug)]
pub(super) struct KeptRead<'a> {
    set: &'a ReadConnections,
    _turn: SemaphorePermit<'a>,
    connection: PgConnection,
    tenant: String,
}

impl ReadConnections {
    /// Up to `count` reads at once (at least one), on connections opened when first needed and
    /// planning as `planning`, each closed once idle for `idle_limit`.
    pub(super) fn new(count: usize, planning: ReadPlanning, idle_limit: Duration) -> Self {
        ReadConnections {
            idle: std::sync::Mutex::new(Vec::new()),
            turns: Semaphore::new(count.max(1)),
            wait_limit: ACQUIRE_TIMEOUT,
            planning,
            idle_limit,
        }
    }

    /// A connection whose session reads as `tenant`, once it is this read's turn.
    pub(super) async fn get(&self, pool: &PgPool, tenant: &str) -> sqlx::Result<KeptRead<'_>> {
        let turn = match tokio::time::timeout(self.wait_limit, self.turns.acquire()).await {
            Ok(Ok(turn)) => turn,
            // The semaphore is never closed.
            Ok(Err(_)) => return Err(sqlx::Error::PoolClosed),
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
        };
        let (taken, expired) = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let (fresh, expired): (Vec<_>, Vec<_>) = idle
                .drain(..)
                .partition(|kept| kept.used.elapsed() < self.idle_limit);
            *idle = fresh;
            let pick = idle
                .iter()
                .rposition(|kept| kept.tenant == tenant)
                .or(idle.len().checked_sub(1));
            (pick.map(|at| idle.remove(at)), expired)
        };
        // Closed outside the lock.
        drop(expired);
        let (mut connection, current) = match taken {
            Some(kept) => (kept.connection, Some(kept.tenant)),
            None => (pool.acquire().await?.detach(), None),
        };
        if current.as_deref() != Some(tenant) {
            // Bound, not spliced: any tenant id is safe. A failure drops (closes) the
            // connection.
            sqlx::query(
                "SELECT set_config('missionops.tenant', $1, false), \
                        set_config('plan_cache_mode', $2, false)",
            )
            .bind(tenant)
            .bind(self.planning.setting())
            .execute(&mut connection)
            .await?;
        }
        Ok(KeptRead {
            set: self,
            _turn: turn,
            connection,
            tenant: tenant.to_owned(),
        })
    }

    /// This set, its reads waiting at most `wait_limit` for their turn (for tests).
    #[cfg(test)]
    fn waiting_at_most(mut self, wait_limit: Duration) -> Self {
        self.wait_limit = wait_limit;
        self
    }

    /// How many connections wait idle for a read (for tests).
    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl KeptRead<'_> {
    /// Keeps the connection for the next read, after a read that succeeded, and ends this
    /// read's turn. Not called, the connection is closed when this is dropped.
    pub(super) fn succeeded(self) {
        let KeptRead {
            set,
            _turn,
            connection,
            tenant,
        } = self;
        set.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(TenantConnection {
                connection,
                tenant,
                used: Instant::now(),
            });
        // The turn ends here, once the connection is back for the next read.
        drop(_turn);
    }
}

impl Deref for KeptRead<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.connection
    }
}

impl DerefMut for KeptRead<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.connection
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

    /// A scratch database (kept alive by the store returned first), a pool of its owner's
    /// to watch the server with, and a pool of four connections with the store's options.
    async fn scratch_admin_and_pool() -> (PostgresStore, PgPool, PgPool) {
        let (scratch, connect) = scratch_and_options().await;
        let admin = scratch.pool().clone();
        let pool = options(4, PING_IF_IDLE_FOR)
            .connect_with(connect)
            .await
            .expect("pool");
        (scratch, admin, pool)
    }

    #[tokio::test]
    async fn a_kept_connection_stays_out_of_the_pool_until_a_call_fails_or_it_idles() {
        let (_scratch, admin, pool) = scratch_admin_and_pool().await;
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

    /// The session settings a read sees on `conn`: its tenant (empty when none is set) and its
    /// planning mode.
    async fn read_settings(conn: &mut PgConnection) -> (String, String) {
        sqlx::query_as(
            "SELECT coalesce(current_setting('missionops.tenant', true), ''), \
                    current_setting('plan_cache_mode')",
        )
        .fetch_one(conn)
        .await
        .expect("settings")
    }

    #[tokio::test]
    async fn a_read_connection_reads_as_its_tenant_and_is_kept_only_after_a_read_that_succeeded() {
        let (_scratch, admin, pool) = scratch_admin_and_pool().await;
        // Long enough that no stall of a loaded machine between two calls below passes for a
        // quiet spell, short enough to wait out once.
        let reads =
            ReadConnections::new(2, ReadPlanning::ForEachCall, Duration::from_millis(1_500));

        // One read after another: one connection, set to each read's tenant in turn.
        let mut alpha = reads.get(&pool, "alpha").await.expect("a read");
        assert_eq!(
            read_settings(&mut alpha).await,
            ("alpha".to_owned(), "force_custom_plan".to_owned())
        );
        let first = backend_of(&mut alpha).await;
        alpha.succeeded();
        let mut beta = reads.get(&pool, "beta").await.expect("a read");
        assert_eq!(backend_of(&mut beta).await, first, "the same connection");
        assert_eq!(read_settings(&mut beta).await.0, "beta");
        beta.succeeded();

        // Two at once: two connections, each with its own tenant; then a read takes the one
        // already set to its tenant.
        let mut beta = reads.get(&pool, "beta").await.expect("a read");
        let mut alpha = reads.get(&pool, "alpha").await.expect("a second read");
        let (beta_backend, alpha_backend) =
            (backend_of(&mut beta).await, backend_of(&mut alpha).await);
        assert_eq!(beta_backend, first, "the idle one set to beta");
        assert_ne!(alpha_backend, first);
        assert_eq!(read_settings(&mut alpha).await.0, "alpha");
        assert_eq!(read_settings(&mut beta).await.0, "beta");
        alpha.succeeded();
        beta.succeeded();
        assert_eq!(reads.idle_count(), 2);
        let mut again = reads.get(&pool, "alpha").await.expect("a read");
        assert_eq!(
            backend_of(&mut again).await,
            alpha_backend,
            "the connection set to alpha, not the most recent"
        );
        assert_eq!(read_settings(&mut again).await.0, "alpha");

        // A third read while two run waits for one of them to end.
        let held = reads.get(&pool, "beta").await.expect("a second read");
        let third = reads.get(&pool, "gamma");
        tokio::pin!(third);
        assert!(
            tokio::time::timeout(Duration::from_millis(200), &mut third)
                .await
                .is_err(),
            "a third read ran beside two"
        );
        held.succeeded();
        let mut third = tokio::time::timeout(Duration::from_secs(5), third)
            .await
            .expect("the third read's turn came")
            .expect("a read");
        assert_eq!(read_settings(&mut third).await.0, "gamma");
        third.succeeded();

        // None of them ever went back to the pool: no pooled connection has a tenant.
        let mut pooled = Vec::new();
        for _ in 0..4 {
            pooled.push(pool.acquire().await.expect("a pooled connection"));
        }
        for conn in &mut pooled {
            let backend = backend_of(conn).await;
            assert!(
                backend != first && backend != alpha_backend,
                "a read connection in the pool"
            );
            assert_eq!(
                read_settings(conn).await.0,
                "",
                "a tenant on a pooled connection"
            );
        }
        drop(pooled);

        // A read whose turn does not come within the wait limit fails as a checkout of the
        // pool would.
        let turns = ReadConnections::new(1, ReadPlanning::Auto, PING_IF_IDLE_FOR)
            .waiting_at_most(Duration::from_millis(300));
        let running = turns.get(&pool, "alpha").await.expect("a read");
        let waited = turns.get(&pool, "alpha").await;
        assert!(
            matches!(waited, Err(sqlx::Error::PoolTimedOut)),
            "a read waited past its limit: {waited:?}"
        );
        drop(waited);
        running.succeeded();
        turns
            .get(&pool, "alpha")
            .await
            .expect("its turn")
            .succeeded();
        drop(turns);

        // A read that did not succeed closes its connection; the next read opens another.
        drop(again);
        gone(&admin, alpha_backend).await;
        assert_eq!(reads.idle_count(), 1);

        // Idle past the limit, a connection is closed and the next read opens a fresh one.
        tokio::time::sleep(Duration::from_millis(1_700)).await;
        let mut fresh = reads
            .get(&pool, "beta")
            .await
            .expect("a read after a quiet spell");
        let fresh_backend = backend_of(&mut fresh).await;
        assert!(fresh_backend != first && fresh_backend != alpha_backend);
        assert_eq!(read_settings(&mut fresh).await.0, "beta");
        fresh.succeeded();
        gone(&admin, first).await;
        pool.close().await;
    }
}
