//! The embedded SQLite backend: one file in WAL mode, created and migrated on open.
//!
//! # Layout
//! - The JSON text stored for parameters, documents and metadata, and its exact reader, are the
//!   crate's `json_text`; the pages of range reads, its `text_pages`.
//! - `events`: recording events with gap-free sequences plus their outbox rows, inside the
//!   caller's transaction; the event queries.
//! - `spacecraft`: spacecraft and configuration versions.
//! - `telemetry`: batched, idempotent ingest; recent, range, latest-value and series queries.
//! - `anomalies`: anomalies and alarms.
//! - `documents`: documents, their version history and full-text search.
//! - `outbox`: the outbox port: claims under a lease, delivery marks, backoff, dead letters.
//! - `keys`: API keys (SPEC §9), the secret's hash only.
//! - `health`: the write probe of readiness checks (`BEGIN IMMEDIATE`, rolled back).
//!
//! # Transactions
//! Every trait write runs in one `BEGIN IMMEDIATE` transaction on the writer (one of its two
//! connections, one write at a time): the state change, its events and their outbox rows
//! commit together or not at all. A failed write returns before `COMMIT`; dropping the
//! transaction rolls it back, so nothing of it (not even an event sequence number) is left
//! behind.

mod anomalies;
mod documents;
mod events;
mod health;
mod keys;
mod outbox;
mod packets;
mod spacecraft;
mod telemetry;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use missionops_core::{Error, Result, SpacecraftId, TenantId, Timestamp};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Sqlite, SqliteConnection, Transaction};

use crate::text_pages::{corrupt, stored_time};

/// The schema migrations, embedded at build time and applied by [`SqliteStore::open`].
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a connection waits for a lock held by another connection (or process) before it
/// gives up with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read connections. SQLite in WAL mode lets readers run beside the one writer; a few cover a
/// small server on a small machine without holding much page cache.
const READ_CONNECTIONS: u32 = 4;

/// Page cache of each write connection, in KiB (SQLite reads a negative `cache_size` as KiB).
/// Ingest updates the unique snapshot-id index, at random places when clients pick random ids;
/// a larger cache than SQLite's 2 MiB keeps its inner pages resident as the table grows.
const WRITER_CACHE_KIB: i64 = 32 * 1024;

/// Page cache of the direct write connection while the file is smaller than
/// [`LARGE_FILE_BYTES`], in KiB: SQLite's default. Below 1 GiB a large cache costs every commit
/// that split an index page in the middle a walk over all of it: SQLite's `balance_nonroot`
/// renumbers the new pages through the lock page's number (1 GiB ÷ page size + 1), and the end
/// of the transaction then drops cached pages from the file's end up to that number by
/// visiting every bucket of the cache. A fleet splits index pages all the time, and that walk
/// was the top symbol of the batch-of-10 fleet row, on the request's thread; with 2 MiB the
/// row ran 4–9 % faster and the single-write rows no slower (BENCHMARKS.md, session 17). From
/// 1 GiB on the lock page lies inside the file and the walk visits a few buckets, so the large
/// cache costs nothing there.
const SMALL_FILE_CACHE_KIB: i64 = 2 * 1024;

/// The file size from which the direct write connection keeps [`WRITER_CACHE_KIB`]: SQLite's
/// lock page.
const LARGE_FILE_BYTES: i64 = 1 << 30;

/// Page cache of each reader, in KiB. Reads mostly stream through pages once (the operating
/// system caches the file anyway), so readers keep little: all caches together stay at 104 MiB
/// (the two write connections' 32 MiB each, four readers', four range readers' 2 MiB:
/// `telemetry::pages`), inside the server's memory budget
/// (SPEC §8: 10,000 live spacecraft measured 153–163 MB resident in all).
const READER_CACHE_KIB: i64 = 8 * 1024;

/// The page size of a new file. Telemetry rows are a few hundred bytes and mostly appended:
/// 8 KiB pages mean half as many pages to log, checksum and walk as SQLite's default 4 KiB
/// (ingest measured about 8 % faster), while a point lookup still reads little. A file keeps
/// the page size it was created with.
const PAGE_SIZE: u32 = 8192;

/// How often the write-ahead log is checkpointed into the database file beside the writer.
/// SQLite's automatic checkpoint runs inside whichever commit takes the log past 1,000 pages
/// and stretched that request's latency (p99 of single writes 7.5 ms → 3.4 ms without it).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// The latest values waiting in memory are written every this many checkpoint intervals (1 s):
/// a fleet touches every spacecraft's values within a second, so each flush writes each row
/// once however often it runs, and a rarer flush writes fewer rows in all (see
/// `telemetry::latest`). A process killed between two flushes leaves at most this much
/// telemetry to rebuild them from when the file is next opened.
const LATEST_FLUSH_TICKS: u32 = 4;
/// A log of at least this many frames (128 MiB of 8 KiB pages) is finished on the writer
/// connection after the background pass, so that the next write starts the log afresh: the
/// background pass alone never catches up with a writer that keeps appending, and the log
/// would grow without end. Finishing holds every write back while it copies what the pass
/// left and syncs the log and the file (15–30 ms under a fleet's load); at 1,000 frames it
/// ran twice a second there, and the cores stood idle 5 % of the time waiting for it
/// (BENCHMARKS.md, session 19). A log that grows this long only under constant writes, and
/// a quiet moment lets the background pass finish it, so a light load keeps a short log.
const RESTART_FRAMES: i64 = 16_384;

/// Every repository trait over one SQLite file. Cheap to clone: clones share the connection
/// pools.
///
/// Writes go through the writer, one at a time (on one of its two connections, never both at
/// once), so they are serialized in the process and never deadlock upgrading a read lock to a
/// write lock; reads go through a pool of read-only connections and run beside the writer
/// (WAL mode). Commits use `synchronous=NORMAL`: a committed write survives the process being
/// killed, but the last commits before a power cut or an operating system crash may be lost
/// (the database itself stays consistent).
///
/// ```no_run
/// # async fn demo() -> missionops_core::Result<()> {
/// use missionops_store::SqliteStore;
///
/// let store = SqliteStore::open("sqlite://missionops.db").await?;
/// # let _ = store;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    /// One connection: every write transaction runs here, one at a time.
    writer: Writer,
    /// Read-only (`query_only`) connections for queries.
    reader: SqlitePool,
    /// Read-only connections that step the rows of long range reads (see
    /// `telemetry::pages`).
    range_readers: telemetry::RangeReaders,
    /// Read-only connections for short reads on the request's thread
    /// ([`SqliteStore::short_read`]).
    short_readers: telemetry::RangeReaders,
    /// The background checkpointer (and writer of the latest values), stopped when the last
    /// clone of the store goes.
    checkpointer: Arc<Checkpointer>,
    /// The integer keys of spacecraft, by tenant and id, as writes found them: a spacecraft
    /// row is never deleted, so its key never changes, and an ingest of known spacecraft need
    /// not look them up (see `telemetry`).
    spacecraft_keys: Arc<std::sync::RwLock<SpacecraftKeys>>,
    /// The key the next spacecraft registered in one go gets (see `telemetry::write`), once
    /// known: the highest key + 1, kept up to date by those registrations and forgotten
    /// (read again when next needed) after any other registration or a failed one.
    next_spacecraft_key: Arc<std::sync::Mutex<Option<i64>>>,
    /// Latest values of committed writes waiting to be written (see `telemetry::latest`).
    latest: Arc<telemetry::PendingLatest>,
    /// Whether this store writes latest values behind the telemetry
    /// ([`SqliteStore::deferring_latest_values`]) or with it.
    defer_latest: bool,
}

/// The sqlx write connection, held directly rather than in a pool of one, and the direct
/// connection beside it (see [`Writer::commit_direct`]), under one lock: a sqlx pool tests a
/// connection with a round trip to SQLite's thread when it is taken and again (on a task of
/// its own) when it is given back, which made every write wait for two extra round trips of
/// the write before it. Here a write waits for the lock (first come, first served) and then
/// only for its own statements. A write cut off halfway is rolled back (by its dropped
/// transaction, or see [`Writer::commit_in_one_go`]) before the next write's statements run:
/// the connection's thread takes commands in order.
#[derive(Clone)]
struct Writer {
    state: Arc<tokio::sync::Mutex<WriterState>>,
    file: PathBuf,
}

struct WriterState {
    /// `None` once the store is closed.
    connection: Option<SqliteConnection>,
    /// A second connection to the same file for live telemetry, driven on the caller's
    /// thread (see [`Writer::commit_direct`]); used only under this state's lock, so it never
    /// writes beside `connection`. `None` once closed, and on a store waiting for the disk.
    direct: Option<rusqlite::Connection>,
    /// The file size from which `direct` has the large page cache, and whether it has it (see
    /// [`SMALL_FILE_CACHE_KIB`]).
    large_from: i64,
    direct_cache_large: bool,
    /// A transaction sent in one go may have been cut off before its `COMMIT`: the next
    /// user of the connection rolls back whatever is left open first.
    unfinished: bool,
}

impl Writer {
    fn new(
        connection: SqliteConnection,
        direct: rusqlite::Connection,
        sizing: DirectCache,
        file: PathBuf,
    ) -> Self {
        Writer {
            state: Arc::new(tokio::sync::Mutex::new(WriterState {
                connection: Some(connection),
                direct: Some(direct),
                large_from: sizing.large_from,
                direct_cache_large: sizing.large,
                unfinished: false,
            })),
            file,
        }
    }

    /// The write connection, once the writes before have finished with it.
    async fn lock(&self) -> Result<tokio::sync::MappedMutexGuard<'_, SqliteConnection>> {
        let mut state = self.state.lock().await;
        state.settle().await;
        tokio::sync::MutexGuard::try_map(state, |s| s.connection.as_mut())
            .map_err(|_| Error::backend("the store is closed"))
    }

    /// Runs `statements`, which must read `BEGIN IMMEDIATE; …; COMMIT`, as one command: one
    /// round trip to SQLite's thread for a whole transaction. On failure whatever the
    /// statements left open is rolled back before this returns; when the caller is cut off
    /// while they run, before the next user of the connection goes on.
    async fn commit_in_one_go<'q>(
        &self,
        statements: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
        committed: impl FnOnce(),
    ) -> Result<()> {
        let mut state = self.state.lock().await;
        state.settle().await;
        let WriterState {
            connection,
            unfinished,
            ..
        } = &mut *state;
        let connection = connection
            .as_mut()
            .ok_or_else(|| Error::backend("the store is closed"))?;
        *unfinished = true;
        let result = statements.execute(&mut *connection).await;
        if result.is_err() {
            // Fails harmlessly when nothing is open (the BEGIN or the COMMIT itself failed).
            let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
        }
        *unfinished = false;
        let result = result.map(|_| ()).db();
        if result.is_ok() {
            // Still holding the connection: nothing else writes before `committed` ran.
            committed();
        }
        result
    }

    /// Runs `transaction` on the direct connection, on the calling thread, once the writes
    /// before have finished; `committed` runs when it succeeded, still holding the writer.
    /// Whatever a failed transaction left open is rolled back. `None`, with nothing run, when
    /// there is no direct connection (the store is closed, or waits for the disk).
    ///
    /// sqlx runs every statement on a thread of its own; a group commit paid a round trip to
    /// it and two thread switches, and the next group could not start before its task was
    /// woken. SQLite's work for a live write is a few rows in the page cache and a `write`
    /// to the log (no `fsync` at `synchronous=NORMAL`), shorter than those switches, so it
    /// runs in place: the fleet rows rose 6–13 % (BENCHMARKS.md, session 17).
    async fn commit_direct(
        &self,
        transaction: impl FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<()>,
        committed: impl FnOnce(),
    ) -> Option<Result<()>> {
        let mut state = self.state.lock().await;
        state.settle().await;
        let direct = state.direct.as_mut()?;
        let result = transaction(direct);
        if result.is_err() && !direct.is_autocommit() {
            // Fails harmlessly when nothing is open.
            let _ = direct.execute_batch("ROLLBACK");
        }
        if result.is_ok() {
            committed();
        }
        Some(result.map_err(crate::unavailable::backend_error))
    }

    /// Runs `read` on the direct connection, on the calling thread, between two writes (its
    /// statements are their own read transactions). `None`, with nothing run, when there is
    /// no direct connection (the store is closed, or waits for the disk).
    ///
    /// For the reads live ingest makes between its writes: the direct connection has the
    /// pages they touch cached, while any other connection's cache is dropped by each commit
    /// of this one and read again from the file, on a thread of sqlx's that has to be woken.
    async fn read_direct<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Option<Result<T>> {
        let mut state = self.state.lock().await;
        state.settle().await;
        let direct = state.direct.as_ref()?;
        Some(read(direct).map_err(crate::unavailable::backend_error))
    }

    /// Gives the direct connection its large page cache once the file, `bytes` long now, has
    /// reached the size for it.
    async fn fit_direct_cache(&self, bytes: i64) -> Result<()> {
        let mut state = self.state.lock().await;
        if state.direct_cache_large || bytes < state.large_from {
            return Ok(());
        }
        if let Some(direct) = state.direct.as_ref() {
            direct
                .pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
                .map_err(crate::unavailable::backend_error)?;
        }
        state.direct_cache_large = true;
        Ok(())
    }

    async fn close(&self) {
        let (connection, direct) = {
            let mut state = self.state.lock().await;
            (state.connection.take(), state.direct.take())
        };
        // Before the sqlx connection, whose close (the last connection's) checkpoints the log.
        drop(direct);
        if let Some(connection) = connection {
            if let Err(e) = connection.close().await {
                tracing::warn!(error = %e, "closing the write connection failed");
            }
        }
    }
}

impl WriterState {
    /// Rolls back a transaction sent in one go whose sender was cut off.
    async fn settle(&mut self) {
        if let (true, Some(connection)) = (self.unfinished, self.connection.as_mut()) {
            let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
        }
        self.unfinished = false;
    }
}

/// Checkpoints the write-ahead log every [`CHECKPOINT_EVERY`]: first `PASSIVE` on a connection
/// of its own (it copies what it can without waiting for readers or the writer), then, once
/// the log is `restart_frames` long ([`RESTART_FRAMES`] by default), the remainder on the
/// writer connection between two writes — little is left by then, and a checkpoint that
/// completes there lets the next write restart the log. Aborted on drop.
struct Checkpointer(tokio::task::JoinHandle<()>);

impl Checkpointer {
    fn start(
        connection: SqlitePool,
        writer: Writer,
        latest: Arc<telemetry::PendingLatest>,
        restart_frames: i64,
    ) -> Self {
        Checkpointer(tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECKPOINT_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut ticks: u32 = 0;
            loop {
                every.tick().await;
                if connection.is_closed() {
                    return;
                }
                // The latest values gathered since the last flush, before the checkpoint
                // copies their pages (see `telemetry::latest`). A failure leaves them waiting
                // for the next one; they are in the telemetry meanwhile.
                ticks = ticks.wrapping_add(1);
                if ticks % LATEST_FLUSH_TICKS == 0 {
                    if let Err(e) = telemetry::flush_latest_values(&writer, &latest).await {
                        tracing::warn!(error = %e, "cannot write the latest values; retrying");
                    }
                    let fitted = match file_bytes(&connection).await {
                        Ok(bytes) => writer.fit_direct_cache(bytes).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = fitted {
                        tracing::debug!(error = %e, "cannot size the direct cache; retrying");
                    }
                }
                // A failed checkpoint (the file busy in another process) is retried at the
                // next tick; the log only grows meanwhile.
                let pass: std::result::Result<(i64, i64, i64), sqlx::Error> =
                    sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                        .fetch_one(&connection)
                        .await;
                let finish = match pass {
                    Ok((_, frames, _)) => frames >= restart_frames,
                    Err(e) => {
                        tracing::debug!(error = %e, "WAL checkpoint failed; retrying");
                        false
                    }
                };
                if finish {
                    let Ok(mut conn) = writer.lock().await else {
                        return;
                    };
                    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                        .execute(&mut *conn)
                        .await
                    {
                        tracing::debug!(error = %e, "WAL checkpoint on the writer failed; retrying");
                    }
                }
            }
        }))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("file", &self.writer.file.display())
            .finish_non_exhaustive()
    }
}

/// How long a short read waits before it tries again when SQLite would have made it wait for
/// a lock ([`SqliteStore::short_read`]).
const SHORT_READ_RETRY: Duration = Duration::from_millis(5);

/// Whether SQLite refused `error`'s statement for a lock another connection holds.
fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            )
    )
}

impl SqliteStore {
    /// Runs `read`, a short read (one statement over an index, a bounded number of rows), on
    /// a plain read-only connection on the calling thread. Through sqlx's pool a read was
    /// handed to the pool's thread and its rows handed back one by one, which cost the server
    /// more than twice the CPU of the read itself (BENCHMARKS.md, "Session 27"). Where SQLite
    /// would make the read wait for a lock (the log being restarted or recovered, another
    /// process's exclusive lock), the connection fails at once, and this waits without holding
    /// the thread, trying again every [`SHORT_READ_RETRY`] for up to the busy timeout; then the
    /// read fails as unavailable, as a read of the pool's would.
    async fn short_read<T>(
        &self,
        read: impl FnMut(&rusqlite::Connection) -> rusqlite::Result<T> + Send,
    ) -> Result<T> {
        self.short_read_waiting_at_most(BUSY_TIMEOUT, read).await
    }

    /// [`Self::short_read`], trying again for up to `limit`.
    async fn short_read_waiting_at_most<T>(
        &self,
        limit: Duration,
        mut read: impl FnMut(&rusqlite::Connection) -> rusqlite::Result<T> + Send,
    ) -> Result<T> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let mut busy = false;
            let result = self.short_readers.with(|connection| {
                read(connection).map_err(|e| {
                    busy = is_busy(&e);
                    crate::unavailable::backend_error(e)
                })
            });
            match result {
                Err(_) if busy && std::time::Instant::now() < deadline => {
                    tokio::time::sleep(SHORT_READ_RETRY).await;
                }
                other => return other,
            }
        }
    }

    /// Opens the database at `location`, creating the file when it is missing and applying the
    /// embedded migrations (a no-op when they are applied already).
    ///
    /// `location` is a URL (`sqlite://missionops.db`, `sqlite:missionops.db`, optionally with
    /// SQLite URI parameters such as `?mode=rw`) or a plain path (`missionops.db`,
    /// `/var/lib/missionops/ops.db`). In-memory databases are refused: use
    /// [`MemoryStore`](crate::MemoryStore) for that.
    ///
    /// [`Error::Invalid`] (field `database-url`) when the location cannot be understood;
    /// [`Error::Backend`] when the file cannot be opened or migrated.
    pub async fn open(location: &str) -> Result<Self> {
        let options = if location.starts_with("sqlite:") {
            if location.contains(":memory:") || location.contains("mode=memory") {
                return Err(Error::invalid(
                    "database-url",
                    "an in-memory SQLite database is not supported; use the memory store",
                ));
            }
            SqliteConnectOptions::from_str(location)
                .map_err(|e| Error::invalid("database-url", e))?
                .create_if_missing(true)
        } else {
            SqliteConnectOptions::new()
                .filename(location)
                .create_if_missing(true)
        };
        Self::open_with(options).await
    }

    /// Opens (creating it when missing) the database file at `path`; see [`SqliteStore::open`].
    pub async fn open_path(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true),
        )
        .await
    }

    async fn open_with(options: SqliteConnectOptions) -> Result<Self> {
        Self::open_with_thresholds(options, Thresholds::default()).await
    }

    /// [`Self::open_with`] under other [`Thresholds`] (tests reach them with small files).
    async fn open_with_thresholds(
        options: SqliteConnectOptions,
        thresholds: Thresholds,
    ) -> Result<Self> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // Multi-row inserts keep a statement journal; in memory it costs no file writes.
            .pragma("temp_store", "MEMORY")
            .page_size(PAGE_SIZE);
        let mut writer = options
            .clone()
            .pragma("cache_size", (-WRITER_CACHE_KIB).to_string())
            // Checkpoints run beside the writer (see `Checkpointer`), not inside the commit
            // that happens to cross SQLite's threshold.
            .pragma("wal_autocheckpoint", "0")
            .connect()
            .await
            .map_err(crate::unavailable::backend_error)?;
        MIGRATOR
            .run(&mut writer)
            .await
            .map_err(crate::unavailable::backend_error)?;
        // Latest values a process stopped before writing (see `telemetry::latest`).
        Self::repair_latest_values(&mut writer).await?;
        let sizing = DirectCache {
            large_from: thresholds.large_cache_from,
            large: file_bytes(&mut writer).await? >= thresholds.large_cache_from,
        };
        let direct = open_direct(options.get_filename(), sizing.large)?;
        let writer = Writer::new(writer, direct, sizing, options.get_filename().to_path_buf());
        let checkpoint_connection = SqlitePoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            // A local file needs no liveness test (a round trip on every use).
            .test_before_acquire(false)
            .connect_with(options.clone().pragma("cache_size", "-256"))
            .await
            .map_err(crate::unavailable::backend_error)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .connect_with(
                options
                    .pragma("cache_size", (-READER_CACHE_KIB).to_string())
                    // A read connection can never write by mistake.
                    .pragma("query_only", "ON"),
            )
            .await
            .map_err(crate::unavailable::backend_error)?;
        let latest = Arc::<telemetry::PendingLatest>::default();
        let checkpointer = Arc::new(Checkpointer::start(
            checkpoint_connection,
            writer.clone(),
            Arc::clone(&latest),
            thresholds.restart_log_frames,
        ));
        Ok(SqliteStore {
            range_readers: telemetry::RangeReaders::new(writer.file.clone()),
            short_readers: telemetry::RangeReaders::never_waiting(writer.file.clone()),
            writer,
            reader,
            checkpointer,
            spacecraft_keys: Arc::default(),
            next_spacecraft_key: Arc::default(),
            latest,
            defer_latest: false,
        })
    }

    /// This store writing the latest values of live telemetry behind it, once a second, instead
    /// of in each write's transaction (see README "Storage"): for the one long-running
    /// process that ingests (the server). Its reads see them at once; another process reading
    /// the file sees them up to a second later; opening the file rebuilds those a killed
    /// process had not written. Other processes writing the same file (CLI commands) keep
    /// the default, which writes them with the telemetry, so that nothing they wrote waits on
    /// them. One file takes one deferring process at a time.
    #[must_use]
    pub fn deferring_latest_values(mut self) -> Self {
        self.defer_latest = true;
        self
    }

    /// This store's commits waiting until SQLite has synced the write-ahead log to disk
    /// (`synchronous=FULL` on its write connection): an acknowledged write then survives a
    /// power cut or an OS crash too, not only a crash of the process (see README "Storage").
    /// Each commit pays a sync of the log.
    pub async fn waiting_for_disk(self) -> Result<Self> {
        // Every commit goes through the sqlx writer then, whose sync waits on a thread of its
        // own rather than on the runtime's (see `Writer::commit_direct`).
        self.writer.state.lock().await.direct = None;
        let mut writer = self.writer.lock().await?;
        sqlx::query("PRAGMA synchronous = FULL")
            .execute(&mut *writer)
            .await
            .map_err(crate::unavailable::backend_error)?;
        drop(writer);
        Ok(self)
    }

    /// Closes every connection, waiting for those in use to be returned. The last connection
    /// to close checkpoints the write-ahead log into the database file. Later calls on this
    /// store (or its clones) fail with [`Error::Unavailable`].
    pub async fn close(&self) {
        self.checkpointer.0.abort();
        if let Err(e) = telemetry::flush_latest_values(&self.writer, &self.latest).await {
            // Written from the telemetry when the file is next opened.
            tracing::warn!(error = %e, "cannot write the latest values at close");
        }
        self.reader.close().await;
        self.writer.close().await;
    }

    /// How many recorded events wait in the outbox for delivery.
    pub async fn outbox_pending(&self) -> Result<usize> {
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
                .fetch_one(&self.reader)
                .await
                .db()?;
        Ok(usize::try_from(pending).unwrap_or(0))
    }
}

/// The direct write connection (see [`Writer::commit_direct`]) to the migrated `file`, set up
/// like the sqlx writer but for one thing: it never waits for a lock. Its transactions run on
/// the runtime's threads, which must not sleep in SQLite's busy handler while another process
/// writes the file; its write fails at once instead, and goes the careful way on the sqlx
/// writer, which waits (up to [`BUSY_TIMEOUT`]) on its own thread.
fn open_direct(file: &Path, large_cache: bool) -> Result<rusqlite::Connection> {
    let connection = rusqlite::Connection::open_with_flags(
        file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(crate::unavailable::backend_error)?;
    connection
        .busy_timeout(Duration::ZERO)
        .map_err(crate::unavailable::backend_error)?;
    connection
        .execute_batch(&format!(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
             PRAGMA cache_size = {}; PRAGMA wal_autocheckpoint = 0",
            if large_cache {
                -WRITER_CACHE_KIB
            } else {
                -SMALL_FILE_CACHE_KIB
            }
        ))
        .map_err(crate::unavailable::backend_error)?;
    Ok(connection)
}

/// The sizes at which the store changes how it works: [`LARGE_FILE_BYTES`] and
/// [`RESTART_FRAMES`] by default.
#[derive(Debug, Clone, Copy)]
struct Thresholds {
    /// The file size from which the direct connection keeps its large page cache.
    large_cache_from: i64,
    /// The log length from which a checkpoint is finished between two writes.
    restart_log_frames: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            large_cache_from: LARGE_FILE_BYTES,
            restart_log_frames: RESTART_FRAMES,
        }
    }
}

/// How the direct connection's page cache starts: large from `large_from` bytes of file, and
/// whether the file is that large already.
struct DirectCache {
    large_from: i64,
    large: bool,
}

/// The size of the database as `conn` sees it, log included, in bytes.
async fn file_bytes(conn: impl sqlx::SqliteExecutor<'_>) -> Result<i64> {
    sqlx::query_scalar("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
        .fetch_one(conn)
        .await
        .db()
}

/// Spacecraft keys by tenant, then by spacecraft id (nested so that a lookup borrows both).
type SpacecraftKeys = std::collections::HashMap<String, std::collections::HashMap<String, i64>>;

/// Starts a write transaction on the write connection (see [`Writer::lock`]), taking the
/// database write lock at once (`BEGIN IMMEDIATE`), so that a concurrent writer in another
/// process makes this one wait (up to the busy timeout) at the start instead of failing
/// halfway.
async fn begin_write(writer: &mut SqliteConnection) -> Result<Transaction<'_, Sqlite>> {
    writer.begin_with("BEGIN IMMEDIATE").await.db()
}

/// `?` for sqlx results: every database failure is a backend failure unless a caller maps a
/// specific one (a unique violation on a business key) first.
trait DbResult<T> {
    fn db(self) -> Result<T>;
}

impl<T> DbResult<T> for std::result::Result<T, sqlx::Error> {
    fn db(self) -> Result<T> {
        self.map_err(crate::unavailable::backend_error)
    }
}

/// Whether `err` is a violated UNIQUE or PRIMARY KEY constraint.
fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// An optional stored time back as a [`Timestamp`].
fn stored_opt_time(millis: Option<i64>, what: &str, id: &str) -> Result<Option<Timestamp>> {
    millis.map(|m| stored_time(m, what, id)).transpose()
}

/// Parses a stored text with a domain parser, reporting failure as a corrupt row.
fn stored<T>(parsed: Result<T>, what: &str, id: &str) -> Result<T> {
    parsed.map_err(|e| corrupt(what, id, e))
}

/// A count or offset from the domain (`usize`, `u64`) as an SQLite integer, saturating: SQLite
/// has no unsigned type and nothing here comes near `i64::MAX`.
fn sql_count(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// Fails with [`Error::NotFound`] unless the spacecraft exists.
async fn require_spacecraft(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    id: &SpacecraftId,
) -> Result<()> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM spacecraft WHERE tenant = ? AND id = ?")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await
            .db()?;
    match found {
        Some(_) => Ok(()),
        None => Err(Error::not_found("spacecraft", id)),
    }
}

/// The most bound parameters put into one statement. SQLite's limit is 32,766 in the bundled
/// build; staying well below it keeps statements small enough to prepare quickly.
const MAX_BINDS_PER_STATEMENT: usize = 4_000;

/// How many rows of `columns` bound values fit one multi-row statement.
const fn rows_per_statement(columns: usize) -> usize {
    MAX_BINDS_PER_STATEMENT / columns
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    use super::*;

    async fn count(store: &SqliteStore) -> i64 {
        let mut writer = store.writer.lock().await.expect("writer");
        sqlx::query_scalar("SELECT COUNT(*) FROM cut")
            .fetch_one(&mut *writer)
            .await
            .expect("count")
    }

    #[tokio::test]
    async fn a_transaction_sent_in_one_go_and_cut_off_is_rolled_back_before_the_next_write() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open_path(dir.path().join("cut.db"))
            .await
            .expect("open");
        {
            let mut writer = store.writer.lock().await.expect("writer");
            sqlx::query("CREATE TABLE cut (x INTEGER)")
                .execute(&mut *writer)
                .await
                .expect("create");
        }
        // Long enough (a million rows) that the caller is gone before SQLite gets to COMMIT.
        let slow = "BEGIN IMMEDIATE; \
            WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) \
            INSERT INTO cut SELECT x FROM c; INSERT INTO cut VALUES (0); COMMIT";
        {
            let mut write = pin!(store.writer.commit_in_one_go(sqlx::query(slow), || ()));
            let mut cx = Context::from_waker(Waker::noop());
            assert!(write.as_mut().poll(&mut cx).is_pending(), "sent, not done");
        }
        assert_eq!(
            count(&store).await,
            0,
            "nothing of the cut-off transaction stays"
        );
        // The connection is usable for transactions again, both ways.
        store
            .writer
            .commit_in_one_go(
                sqlx::query("BEGIN IMMEDIATE; INSERT INTO cut VALUES (1); COMMIT"),
                || (),
            )
            .await
            .expect("one go");
        {
            let mut writer = store.writer.lock().await.expect("writer");
            let mut tx = begin_write(&mut writer).await.expect("begin");
            sqlx::query("INSERT INTO cut VALUES (2)")
                .execute(&mut *tx)
                .await
                .expect("insert");
            tx.commit().await.expect("commit");
        }
        assert_eq!(count(&store).await, 2);
    }

    #[tokio::test]
    async fn a_transaction_sent_in_one_go_that_fails_leaves_nothing_open() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open_path(dir.path().join("fail.db"))
            .await
            .expect("open");
        store
            .writer
            .commit_in_one_go(
                sqlx::query("BEGIN IMMEDIATE; CREATE TABLE cut (x INTEGER UNIQUE); COMMIT"),
                || (),
            )
            .await
            .expect("create");
        let failed = store
            .writer
            .commit_in_one_go(sqlx::query(
                "BEGIN IMMEDIATE; INSERT INTO cut VALUES (1); INSERT INTO cut VALUES (1); COMMIT",
            ), || ())
            .await;
        assert!(matches!(failed, Err(Error::Backend(_))), "{failed:?}");
        assert_eq!(count(&store).await, 0, "the first insert was rolled back");
        store
            .writer
            .commit_in_one_go(
                sqlx::query("BEGIN IMMEDIATE; INSERT INTO cut VALUES (1); COMMIT"),
                || (),
            )
            .await
            .expect("the next transaction starts");
        assert_eq!(count(&store).await, 1);
    }

    /// `PRAGMA synchronous` on the store's write connection: 1 NORMAL, 2 FULL.
    async fn writer_synchronous(store: &SqliteStore) -> i64 {
        let mut writer = store.writer.lock().await.expect("writer");
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *writer)
            .await
            .expect("synchronous")
    }

    /// Commits wait for the disk only on a store told so (`serve --telemetry-durability
    /// machine`); the default is SQLite's NORMAL, which survives the process's crash.
    #[tokio::test]
    async fn commits_wait_for_the_disk_only_when_told() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open_path(dir.path().join("durable.db"))
            .await
            .expect("open");
        assert_eq!(writer_synchronous(&store).await, 1, "NORMAL by default");
        let store = store.waiting_for_disk().await.expect("FULL");
        assert_eq!(writer_synchronous(&store).await, 2, "FULL when told");
        assert!(
            store.writer.state.lock().await.direct.is_none(),
            "a store waiting for the disk commits nothing on the runtime's threads"
        );
    }

    /// The arrival number the stored latest values cover, and the highest stored.
    #[cfg(feature = "conformance")]
    async fn covered_and_stored(store: &SqliteStore) -> (i64, i64) {
        let mut writer = store.writer.lock().await.expect("writer");
        sqlx::query_as(
            "SELECT (SELECT seq FROM latest_values_flushed), \
                    (SELECT COALESCE(MAX(seq), 0) FROM telemetry)",
        )
        .fetch_one(&mut *writer)
        .await
        .expect("marks")
    }

    /// The value of `pragma` on the direct write connection.
    async fn direct_pragma(store: &SqliteStore, pragma: &str) -> i64 {
        let state = store.writer.state.lock().await;
        state
            .direct
            .as_ref()
            .expect("a direct connection")
            .pragma_query_value(None, pragma, |row| row.get(0))
            .expect(pragma)
    }

    /// The default thresholds but for the file size from which the direct cache is large.
    fn large_from(bytes: i64) -> Thresholds {
        Thresholds {
            large_cache_from: bytes,
            ..Thresholds::default()
        }
    }

    /// `PRAGMA cache_size` of the direct write connection (negative: KiB).
    async fn direct_cache(store: &SqliteStore) -> i64 {
        direct_pragma(store, "cache_size").await
    }

    /// The direct connection keeps SQLite's small cache until the file reaches the size from
    /// which a large one costs commits nothing (1 GiB; here the test's own size): at opening
    /// when the file is that large already, otherwise once the checkpointer sees it grow there.
    #[tokio::test]
    async fn the_direct_cache_grows_when_the_file_does() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("grow.db");
        let options = || {
            SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
        };
        let store = SqliteStore::open_path(&path).await.expect("open");
        assert_eq!(direct_cache(&store).await, -SMALL_FILE_CACHE_KIB);
        let opened = {
            let mut writer = store.writer.lock().await.expect("writer");
            file_bytes(&mut *writer).await.expect("size")
        };
        store.close().await;

        let threshold = opened + 512 * 1024;
        let store = SqliteStore::open_with_thresholds(options(), large_from(threshold))
            .await
            .expect("open below the threshold");
        assert_eq!(direct_cache(&store).await, -SMALL_FILE_CACHE_KIB);
        {
            let mut writer = store.writer.lock().await.expect("writer");
            sqlx::query(
                "CREATE TABLE filler (b BLOB); INSERT INTO filler VALUES (zeroblob(1048576))",
            )
            .execute(&mut *writer)
            .await
            .expect("grow the file by 1 MiB");
        }
        // The checkpointer looks once a second.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while direct_cache(&store).await != -WRITER_CACHE_KIB {
            assert!(
                std::time::Instant::now() < deadline,
                "the cache stayed small past the threshold"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        store.close().await;

        let store = SqliteStore::open_with_thresholds(options(), large_from(threshold))
            .await
            .expect("reopen");
        assert_eq!(
            direct_cache(&store).await,
            -WRITER_CACHE_KIB,
            "large from the start"
        );
        store.close().await;
    }

    /// How many times the log at `file`'s side started again: the checkpoint sequence number
    /// of its header (big-endian at byte 12), which SQLite counts up at every restart.
    #[cfg(feature = "conformance")]
    fn log_restarts(file: &Path) -> u32 {
        use std::io::Read;

        let mut name = file.as_os_str().to_owned();
        name.push("-wal");
        let mut header = [0u8; 16];
        std::fs::File::open(name)
            .and_then(|mut log| log.read_exact(&mut header))
            .expect("log header");
        u32::from_be_bytes([header[12], header[13], header[14], header[15]])
    }

    /// Under writes without a pause the background checkpoint never sees a quiet log (without a
    /// threshold, 200,000 snapshots grew it to 131 MB in 5 s and it never restarted): only
    /// finishing a checkpoint between two writes once the log reaches its threshold (here 200
    /// frames, 1.6 MiB) lets it start again.
    #[cfg(feature = "conformance")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_write_ahead_log_restarts_from_its_threshold_under_constant_writes() {
        use crate::conformance::fixtures::{register, snapshot_with, write};
        use missionops_core::TelemetryRepository;
        use serde_json::json;

        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("log.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let thresholds = Thresholds {
            restart_log_frames: 200,
            ..Thresholds::default()
        };
        let store = SqliteStore::open_with_thresholds(options, thresholds)
            .await
            .expect("open");
        register(&store, "SC-1", 0, 1).await;
        // Without a threshold the log restarts every 16,000 frames or so (12 snapshots a
        // frame here): 3 restarts would take 600,000 snapshots.
        let mut n = 0i64;
        while log_restarts(&path) < 3 {
            assert!(
                n < 300_000,
                "the log started again {} times in {n} snapshots written without a pause",
                log_restarts(&path)
            );
            let snapshots = (0..200)
                .map(|_| {
                    n += 1;
                    snapshot_with(
                        &format!("s{n}"),
                        "SC-1",
                        n,
                        json!({"a": n, "b": n * 2, "c": "CRUISE", "d": 1.5, "e": true}),
                    )
                })
                .collect();
            store
                .insert_telemetry(write(snapshots))
                .await
                .expect("insert");
        }
        store.close().await;
    }

    /// A store on `path` with SC-1 registered and its key remembered: its first write, stored
    /// the careful way, which looks the key up.
    #[cfg(feature = "conformance")]
    async fn store_knowing_sc1(path: &Path) -> SqliteStore {
        use crate::conformance::fixtures::{outcome, register, snapshot, write};
        use missionops_core::TelemetryRepository;

        let store = SqliteStore::open_path(path).await.expect("open");
        register(&store, "SC-1", 0, 1).await;
        let first = store
            .insert_telemetry(write(vec![snapshot("t1", "SC-1", 1, 20.0)]))
            .await
            .expect("first write");
        assert_eq!(first, outcome(1, 0));
        store
    }

    /// Rows the direct connection changed since it was opened.
    #[cfg(feature = "conformance")]
    async fn direct_changes(store: &SqliteStore) -> u64 {
        let state = store.writer.state.lock().await;
        state.direct.as_ref().map_or(0, |d| d.total_changes())
    }

    /// A write registering `id` (with event `n`) by its one snapshot `snapshot_id` at
    /// `second`.
    #[cfg(feature = "conformance")]
    fn registering_write(
        id: &str,
        second: i64,
        n: u32,
        snapshot_id: &str,
    ) -> missionops_core::TelemetryWrite {
        use crate::conformance::fixtures::{registration, snapshot, write};

        missionops_core::TelemetryWrite {
            registrations: vec![registration(id, second, n)],
            ..write(vec![snapshot(snapshot_id, id, second, 20.0)])
        }
    }

    /// The key `id` is stored under.
    #[cfg(feature = "conformance")]
    async fn spacecraft_key(store: &SqliteStore, id: &str) -> i64 {
        let mut writer = store.writer.lock().await.expect("writer");
        sqlx::query_scalar("SELECT key FROM spacecraft WHERE id = ?")
            .bind(id)
            .fetch_one(&mut *writer)
            .await
            .expect("key")
    }

    /// Live ingest's question about spacecraft it has not seen is answered on the direct
    /// connection (here with sqlx's write connection taken away), seeing what that connection
    /// committed; a store waiting for the disk, which has no direct connection, answers the
    /// same through sqlx.
    #[cfg(feature = "conformance")]
    #[tokio::test]
    async fn existing_spacecraft_are_looked_up_on_the_direct_connection() {
        use crate::conformance::fixtures::{outcome, sc};
        use missionops_core::{SpacecraftRepository, TelemetryRepository, TenantId};

        let dir = tempfile::tempdir().expect("dir");
        let store = store_knowing_sc1(&dir.path().join("existing.db")).await;
        let stored = store
            .insert_telemetry(registering_write("SC-2", 2, 2, "t2"))
            .await
            .expect("a write registering SC-2");
        assert_eq!(stored, outcome(1, 0));
        let tenant = TenantId::default();
        let asked = [sc("SC-3"), sc("SC-2"), sc("SC-1")];
        let sqlx_connection = store.writer.state.lock().await.connection.take();
        let found = store.existing_spacecraft(&tenant, &asked).await;
        store.writer.state.lock().await.connection = sqlx_connection;
        let mut found = found.expect("answered without sqlx's write connection");
        found.sort();
        assert_eq!(found, [sc("SC-1"), sc("SC-2")]);
        let other = TenantId::parse("other").expect("tenant");
        assert_eq!(
            store
                .existing_spacecraft(&other, &asked)
                .await
                .expect("other tenant"),
            []
        );

        let store = store.waiting_for_disk().await.expect("FULL");
        let mut found = store
            .existing_spacecraft(&tenant, &asked)
            .await
            .expect("through sqlx");
        found.sort();
        assert_eq!(found, [sc("SC-1"), sc("SC-2")]);
        store.close().await;
    }

    /// On a store writing latest values behind, a write that registers its spacecraft writes
    /// that spacecraft's latest values in its own transaction (nothing of it waits for the
    /// flush, and the mark of covered rows stays), while a known spacecraft's values in the
    /// same write wait as before.
    #[cfg(feature = "conformance")]
    #[tokio::test]
    async fn a_registering_write_stores_its_new_spacecrafts_latest_values_with_it() {
        use crate::conformance::fixtures::{at, outcome, registration, sc, snapshot, write};
        use missionops_core::{TelemetryRepository, TelemetryWrite, TenantId};

        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("behind.db");
        let store = store_knowing_sc1(&path).await.deferring_latest_values();
        let (covered, _) = covered_and_stored(&store).await;
        let before = direct_changes(&store).await;
        let registering = TelemetryWrite {
            registrations: vec![registration("SC-2", 5, 9)],
            ..write(vec![
                snapshot("u1", "SC-2", 5, 20.0),
                snapshot("t2", "SC-1", 5, 21.0),
            ])
        };
        let stored = store
            .insert_telemetry(registering)
            .await
            .expect("a registering write");
        assert_eq!(stored, outcome(2, 0));
        // The spacecraft, two rows, SC-2's two latest values, the event, its outbox row.
        assert_eq!(direct_changes(&store).await - before, 7);
        assert_eq!(
            covered_and_stored(&store).await.0,
            covered,
            "the mark stays"
        );
        assert!(
            store
                .latest
                .of(spacecraft_key(&store, "SC-2").await)
                .is_empty(),
            "none waits"
        );
        assert_eq!(
            store.latest.of(spacecraft_key(&store, "SC-1").await).len(),
            2,
            "SC-1's wait"
        );
        let tenant = TenantId::default();
        for id in ["SC-1", "SC-2"] {
            let latest = store.latest_values(&tenant, &sc(id)).await.expect("latest");
            assert_eq!(latest.len(), 2, "{id}: temp and mode");
            assert!(latest.iter().all(|v| v.timestamp == at(5)), "{latest:?}");
        }
        // Several snapshots of one new spacecraft: one row a value, the newest (in time, not
        // in the write's order), the rows being plain inserts with no older row to meet.
        let before = direct_changes(&store).await;
        let several = TelemetryWrite {
            registrations: vec![registration("SC-4", 5, 11)],
            ..write(vec![
                snapshot("w1", "SC-4", 7, 30.0),
                snapshot("w2", "SC-4", 6, 31.0),
                snapshot("w3", "SC-4", 7, 32.0),
            ])
        };
        let stored = store
            .insert_telemetry(several)
            .await
            .expect("a registering write of three snapshots");
        assert_eq!(stored, outcome(3, 0));
        assert!(
            direct_changes(&store).await > before,
            "written on the direct connection"
        );
        let latest = store
            .latest_values(&tenant, &sc("SC-4"))
            .await
            .expect("latest");
        assert_eq!(latest.len(), 2, "temp and mode, once each: {latest:?}");
        let temp = latest
            .iter()
            .find(|v| v.parameter.as_str() == "temp")
            .expect("temp");
        assert_eq!(temp.timestamp, at(7));
        assert_eq!(temp.value, missionops_core::ParameterValue::Number(32.0));
        // A store waiting for the disk has no direct connection: such a write's values all
        // wait for the flush.
        let store = store.waiting_for_disk().await.expect("FULL");
        let stored = store
            .insert_telemetry(registering_write("SC-3", 6, 10, "v1"))
            .await
            .expect("a registering write waiting for the disk");
        assert_eq!(stored, outcome(1, 0));
        assert_eq!(
            store.latest.of(spacecraft_key(&store, "SC-3").await).len(),
            2,
            "SC-3's wait"
        );
        store.close().await;
    }

    /// A plain write of known spacecraft commits on the direct connection, latest values
    /// included; a write that repeats a stored snapshot fails there with nothing kept and is
    /// told a duplicate the careful way; a write that registers its spacecraft commits there
    /// with its event and outbox row; a store waiting for the disk stores plain writes through
    /// sqlx.
    #[cfg(feature = "conformance")]
    #[tokio::test]
    async fn plain_writes_commit_on_the_direct_connection() {
        use crate::conformance::fixtures::{outcome, snapshot, snapshot_with, write};
        use missionops_core::{TelemetryRepository, TenantId};
        use serde_json::json;

        let dir = tempfile::tempdir().expect("dir");
        let store = store_knowing_sc1(&dir.path().join("direct.db")).await;
        let before = direct_changes(&store).await;
        let plain = store
            .insert_telemetry(write(vec![
                snapshot("t2", "SC-1", 2, 21.0),
                snapshot("t3", "SC-1", 3, 22.0),
            ]))
            .await
            .expect("plain write");
        assert_eq!(plain, outcome(2, 0));
        // Two rows, the latest values of their two parameters, the covered mark.
        assert_eq!(direct_changes(&store).await - before, 5, "stored directly");
        assert_eq!(
            covered_and_stored(&store).await,
            (3, 3),
            "the mark covers them"
        );
        // A snapshot with no parameters has no latest value, and the mark still moves over it.
        let bare = store
            .insert_telemetry(write(vec![snapshot_with("t0", "SC-1", 0, json!({}))]))
            .await
            .expect("a snapshot with no parameters");
        assert_eq!(bare, outcome(1, 0));
        assert_eq!(
            covered_and_stored(&store).await,
            (4, 4),
            "the mark covers it"
        );
        let again = store
            .insert_telemetry(write(vec![
                snapshot("t3", "SC-1", 3, 22.0),
                snapshot("t4", "SC-1", 4, 23.0),
            ]))
            .await
            .expect("a repeated snapshot");
        assert_eq!(again, outcome(1, 1), "told the careful way");
        let tenant = TenantId::default();
        let latest = store
            .latest_values(&tenant, &crate::conformance::fixtures::sc("SC-1"))
            .await
            .expect("latest");
        assert_eq!(latest.len(), 2, "temp and mode");
        for value in &latest {
            assert_eq!(
                value.timestamp,
                crate::conformance::fixtures::at(4),
                "{value:?}"
            );
        }
        // A write that registers its spacecraft commits there too, with the registration's
        // event and outbox row.
        let pending = store.outbox_pending().await.expect("outbox");
        let before = direct_changes(&store).await;
        let registered = store
            .insert_telemetry(registering_write("SC-2", 5, 9, "u1"))
            .await
            .expect("a registering write");
        assert_eq!(registered, outcome(1, 0));
        // The spacecraft, the row, two latest values, the covered mark, the event, its outbox row.
        assert_eq!(
            direct_changes(&store).await - before,
            7,
            "registered directly"
        );
        assert_eq!(store.outbox_pending().await.expect("outbox"), pending + 1);

        let store = store.waiting_for_disk().await.expect("FULL");
        let stored = store
            .insert_telemetry(write(vec![snapshot("t5", "SC-1", 5, 24.0)]))
            .await
            .expect("a write waiting for the disk");
        assert_eq!(stored, outcome(1, 0));
        let count: i64 = {
            let mut writer = store.writer.lock().await.expect("writer");
            sqlx::query_scalar("SELECT COUNT(*) FROM telemetry")
                .fetch_one(&mut *writer)
                .await
                .expect("count")
        };
        assert_eq!(count, 7);
    }

    /// A write that carries the monitor's anomalies, alarms and events commits on the direct
    /// connection too (a mixed load keeps to one connection), and reads back as the same write
    /// stored through sqlx by a store waiting for the disk: the anomaly, the alarm, the events
    /// numbered in order, their outbox rows.
    #[cfg(feature = "conformance")]
    #[tokio::test]
    async fn writes_with_anomalies_alarms_and_events_commit_on_the_direct_connection() {
        use crate::conformance::fixtures::{
            anomaly, at, event, limit, outcome, sc, snapshot, test_alarm, write,
        };
        use missionops_core::{
            AlarmRepository, AnomalyKind, AnomalyRepository, EventRepository, EventType,
            TelemetryRepository, TelemetryWrite, TenantId,
        };

        let mixed = || TelemetryWrite {
            anomalies: vec![anomaly("SC-1", 2, "temp", AnomalyKind::WarnHigh)],
            alarms: vec![test_alarm("alarm-1", "SC-1", 2)],
            events: vec![
                event(11, Some("SC-1"), EventType::Anomaly),
                event(12, Some("SC-1"), EventType::AnomalyCleared),
            ],
            ..write(vec![snapshot("m2", "SC-1", 2, 99.5)])
        };
        let dir = tempfile::tempdir().expect("dir");
        let tenant = TenantId::default();
        let mut read_back = Vec::new();
        for waiting_for_disk in [false, true] {
            let file = dir.path().join(format!("mixed-{waiting_for_disk}.db"));
            let mut store = store_knowing_sc1(&file).await;
            if waiting_for_disk {
                store = store.waiting_for_disk().await.expect("FULL");
            }
            let pending = store.outbox_pending().await.expect("outbox");
            let registered = store
                .recent_events(&tenant, None, limit(1))
                .await
                .expect("events")
                .first()
                .map_or(0, |e| e.sequence);
            let before = direct_changes(&store).await;
            let stored = store.insert_telemetry(mixed()).await.expect("mixed write");
            assert_eq!(stored, outcome(1, 0));
            let direct = direct_changes(&store).await - before;
            if waiting_for_disk {
                assert_eq!(direct, 0, "no direct connection");
            } else {
                // The row, two latest values, the covered mark, the anomaly, the alarm, two
                // events and their two outbox rows.
                assert_eq!(direct, 10, "stored directly");
            }
            assert_eq!(
                store.outbox_pending().await.expect("outbox"),
                pending + 2,
                "an outbox row an event"
            );
            let anomalies = store
                .recent_anomalies(&tenant, &sc("SC-1"), limit(10))
                .await
                .expect("anomalies");
            let alarm = store
                .get_alarm(&tenant, &"alarm-1".parse().expect("alarm id"))
                .await
                .expect("alarm");
            let events = store
                .events_after(&tenant, registered, None, limit(10))
                .await
                .expect("events");
            assert_eq!(alarm.as_ref().map(|a| a.opened_at), Some(at(2)));
            assert_eq!(events.len(), 2, "{events:?}");
            assert!(
                events[0].sequence < events[1].sequence,
                "numbered in the write's order: {events:?}"
            );
            // The outbox rows as stored: each event's number and time, pending, untried.
            let outbox: Vec<(i64, i64, String, i64)> = {
                let mut writer = store.writer.lock().await.expect("writer");
                sqlx::query_as(
                    "SELECT sequence, next_attempt_at, status, attempts FROM outbox \
                     ORDER BY sequence",
                )
                .fetch_all(&mut *writer)
                .await
                .expect("outbox rows")
            };
            let expected: Vec<(i64, i64, String, i64)> = events
                .iter()
                .map(|e| {
                    let sequence = i64::try_from(e.sequence).expect("sequence");
                    (sequence, e.timestamp.as_millis(), "pending".to_owned(), 0)
                })
                .collect();
            assert!(outbox.ends_with(&expected), "{outbox:?}");
            read_back.push(format!("{anomalies:?} {alarm:?} {events:?} {outbox:?}"));
        }
        assert_eq!(read_back[0], read_back[1], "the same as through sqlx");
    }

    /// The direct connection never sleeps in SQLite's busy handler on the runtime's thread (no
    /// busy timeout): while another program holds the file's write lock, a plain write fails
    /// there at once, with nothing kept, and goes the careful way, which waits on sqlx's thread
    /// until a task on the same (one-threaded) runtime lets the lock go.
    #[cfg(feature = "conformance")]
    #[tokio::test]
    async fn a_plain_write_waits_for_another_programs_lock_off_the_runtime() {
        use crate::conformance::fixtures::{outcome, snapshot, write};
        use missionops_core::TelemetryRepository;

        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("busy.db");
        let store = store_knowing_sc1(&path).await;
        let busy_timeout = direct_pragma(&store, "busy_timeout").await;
        assert_eq!(
            busy_timeout, 0,
            "the direct connection never waits for a lock"
        );
        let mut other = <SqliteConnection as sqlx::Connection>::connect(&format!(
            "sqlite://{}",
            path.display()
        ))
        .await
        .expect("another program's connection");
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .expect("take the write lock");
        let release = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            sqlx::query("COMMIT")
                .execute(&mut other)
                .await
                .expect("let the lock go");
        });
        let before = direct_changes(&store).await;
        let stored = store
            .insert_telemetry(write(vec![snapshot("t2", "SC-1", 2, 21.0)]))
            .await
            .expect("the write waits for the lock");
        assert_eq!(stored, outcome(1, 0));
        assert_eq!(
            direct_changes(&store).await,
            before,
            "stored the careful way, nothing on the direct connection"
        );
        release.await.expect("the releasing task");
    }

    /// SQLite's refusal for a lock, as a statement meets it.
    fn busy() -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("database is locked".to_owned()),
        )
    }

    /// A short read never waits for a lock inside SQLite (its connection's busy timeout is
    /// zero), since it runs on the request's thread: it waits here, letting other tasks of the
    /// thread run, tries again, and answers once the lock is gone, or fails as unavailable
    /// once it has waited its limit. Other failures are not tried again.
    #[tokio::test]
    async fn a_short_read_that_meets_a_lock_waits_without_holding_the_thread() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open_path(dir.path().join("short.db"))
            .await
            .expect("open");
        let timeout: i64 = store
            .short_read(|connection| connection.query_row("PRAGMA busy_timeout", [], |r| r.get(0)))
            .await
            .expect("busy timeout");
        assert_eq!(timeout, 0, "a short reader waits inside SQLite");

        // This test's runtime has one thread: the ticks run only while no read holds it.
        let ticks = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let ticker = tokio::spawn({
            let ticks = Arc::clone(&ticks);
            async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        // Locked for the first ten attempts, then read.
        let mut attempts = 0;
        let answer: i64 = store
            .short_read(|connection| {
                attempts += 1;
                if attempts <= 10 {
                    return Err(busy());
                }
                connection.query_row("SELECT 7", [], |row| row.get(0))
            })
            .await
            .expect("the read answers once the lock is gone");
        let ticked = ticks.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!((answer, attempts), (7, 11));
        assert!(
            ticked >= 10,
            "the thread was held while the read waited: {ticked} ticks in 50 ms"
        );

        // Locked for longer than its limit: unavailable, as a read of the pool's would be.
        let started = std::time::Instant::now();
        let waited = store
            .short_read_waiting_at_most(Duration::from_millis(100), |_| -> rusqlite::Result<i64> {
                Err(busy())
            })
            .await;
        assert!(matches!(waited, Err(Error::Unavailable(_))), "{waited:?}");
        assert!(started.elapsed() >= Duration::from_millis(100));

        // Any other failure fails the read at once.
        let mut attempts = 0;
        let failed = store
            .short_read(|connection| {
                attempts += 1;
                connection.query_row("SELECT * FROM no_such_table", [], |row| {
                    row.get::<_, i64>(0)
                })
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(attempts, 1);
        ticker.abort();
    }
}
