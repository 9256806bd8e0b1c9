//! The pages of a long range read on SQLite, read ahead of their consumer and side by side
//! (see the crate's `pages_ahead`).
//!
//! A page is the rows of one spacecraft key between two ends found on the time index, stepped
//! on a blocking thread through a connection of [`RangeReaders`] and turned into snapshots as
//! they come. Joined into one text by SQLite (as `read`'s pages are, for sqlx's per-row cost)
//! they cost SQLite three to four times the reading of the rows, and half of the
//! 100,000-snapshot analysis's CPU (BENCHMARKS.md, session 20).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_util::FutureExt;
use missionops_core::{
    Error, RangeCursor, RangePages, Result, SpacecraftId, TelemetryPage, TelemetrySnapshot,
    TenantId, Timestamp,
};
use sqlx::SqlitePool;

use super::read::up_to_the_end;
use crate::pages_ahead::{PagedRange, ReadTurn, RowKey, read_ahead};
use crate::sqlite::{
    BUSY_TIMEOUT, DbResult, READ_CONNECTIONS, SqliteStore, sql_count, stored_time,
};
use crate::text_pages::SnapshotReader;

impl SqliteStore {
    /// The pages of `spacecraft`'s range `from..=to`, of `page` snapshots each (the last may
    /// hold fewer), read ahead, and whether the range holds more than `cap` (see
    /// `pages_ahead`). Pages found by their ends may hold more than `page` snapshots when
    /// telemetry is stored inside them while the range is read.
    pub(super) fn range_pages(
        &self,
        tenant: TenantId,
        spacecraft: SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        page: usize,
        cap: usize,
    ) -> RangePages {
        let reader = self.reader.clone();
        let rows = self.range_readers.clone();
        let open = async move {
            let key: Option<i64> =
                sqlx::query_scalar("SELECT key FROM spacecraft WHERE tenant = ? AND id = ?")
                    .bind(tenant.as_str())
                    .bind(spacecraft.as_str())
                    .fetch_optional(&reader)
                    .await
                    .db()?;
            Ok(key.map(|key| SqliteRange {
                reader,
                rows,
                spacecraft,
                key,
                to,
            }))
        };
        read_ahead(open.boxed(), from, to, page, cap)
    }
}

/// Page cache of a range reader, in KiB: SQLite's default. A range is read once, front to
/// back, and the operating system caches the file, so four of these add 8 MiB at most to the
/// server's memory.
const RANGE_READER_CACHE_KIB: i64 = 2 * 1024;

/// Read-only connections to the store's file that step the rows of range pages, each used by
/// one blocking thread at a time: at most [`READ_CONNECTIONS`] at once, however many ranges
/// are read together (the others' pages wait their turn, as they did for sqlx's pool), and
/// kept between pages. Plain rusqlite connections: sqlx would hand each row over from its
/// own thread.
#[derive(Clone)]
pub(in crate::sqlite) struct RangeReaders(Arc<RangeReadersInner>);

struct RangeReadersInner {
    file: PathBuf,
    /// How long a connection waits for a lock before it fails with `SQLITE_BUSY`.
    busy_timeout: std::time::Duration,
    idle: Mutex<Vec<rusqlite::Connection>>,
    /// One permit a connection in use.
    in_use: tokio::sync::Semaphore,
}

impl RangeReaders {
    /// Readers of `file` (opened when first needed).
    pub(in crate::sqlite) fn new(file: PathBuf) -> Self {
        Self::waiting_for_locks(file, BUSY_TIMEOUT)
    }

    /// Readers of `file` whose connections fail with `SQLITE_BUSY` at once where a lock would
    /// make them wait (the store's short reads on the request's thread, see
    /// `SqliteStore::short_read`).
    pub(in crate::sqlite) fn never_waiting(file: PathBuf) -> Self {
        Self::waiting_for_locks(file, std::time::Duration::ZERO)
    }

    fn waiting_for_locks(file: PathBuf, busy_timeout: std::time::Duration) -> Self {
        RangeReaders(Arc::new(RangeReadersInner {
            file,
            busy_timeout,
            idle: Mutex::default(),
            in_use: tokio::sync::Semaphore::new(READ_CONNECTIONS as usize),
        }))
    }

    /// Runs `read` on a blocking thread with a connection (see [`Self::with`]), once fewer
    /// than [`READ_CONNECTIONS`] are in use.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .0
            .in_use
            .acquire()
            .await
            .map_err(crate::unavailable::backend_error)?;
        let readers = self.clone();
        tokio::task::spawn_blocking(move || readers.with(read))
            .await
            .map_err(crate::unavailable::backend_error)?
    }

    /// Runs `read` on an idle connection, or a new one, on the calling thread; the
    /// connection is kept for the next page unless `read` failed.
    pub(in crate::sqlite) fn with<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T>,
    ) -> Result<T> {
        let idle = self.0.idle.lock().ok().and_then(|mut idle| idle.pop());
        let connection = match idle {
            Some(connection) => connection,
            None => self.open()?,
        };
        let result = read(&connection);
        if result.is_ok() {
            if let Ok(mut idle) = self.0.idle.lock() {
                if idle.len() < READ_CONNECTIONS as usize {
                    idle.push(connection);
                }
            }
        }
        result
    }

    fn open(&self) -> Result<rusqlite::Connection> {
        let connection = rusqlite::Connection::open_with_flags(
            &self.0.file,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(crate::unavailable::backend_error)?;
        // A reader can meet a lock while the log is restarted or recovered. A range reader
        // waits, like the other connections, on its blocking thread; a short reader, on the
        // request's thread, fails at once and its caller waits without blocking the thread.
        connection
            .busy_timeout(self.0.busy_timeout)
            .map_err(crate::unavailable::backend_error)?;
        connection
            .execute_batch(&format!(
                "PRAGMA cache_size = {}; PRAGMA query_only = ON",
                -RANGE_READER_CACHE_KIB
            ))
            .map_err(crate::unavailable::backend_error)?;
        Ok(connection)
    }
}

/// One spacecraft's range, found by its key.
struct SqliteRange {
    reader: SqlitePool,
    rows: RangeReaders,
    spacecraft: SpacecraftId,
    key: i64,
    to: Timestamp,
}

#[async_trait]
impl PagedRange for SqliteRange {
    async fn row_after(&self, (after_ts, after_seq): RowKey, nth: usize) -> Result<Option<RowKey>> {
        sqlx::query_as(
            "SELECT ts, seq FROM telemetry \
             WHERE spacecraft_key = ?1 AND ts >= ?2 AND ts <= ?3 AND (ts > ?2 OR seq > ?4) \
             ORDER BY ts, seq LIMIT 1 OFFSET ?5",
        )
        .bind(self.key)
        .bind(after_ts)
        .bind(self.to.as_millis())
        .bind(after_seq)
        .bind(sql_count(nth.saturating_sub(1)))
        .fetch_optional(&self.reader)
        .await
        .db()
    }

    fn read_page(
        &self,
        after: RowKey,
        end: Option<RowKey>,
        turn: ReadTurn,
    ) -> futures_util::future::BoxFuture<'static, Result<TelemetryPage>> {
        let rows = self.rows.clone();
        let spacecraft = self.spacecraft.clone();
        let (key, to) = (self.key, self.to);
        async move {
            // Rows are read back as they are stepped: the turn lasts the whole read.
            let page = rows
                .read(move |connection| read_page(connection, &spacecraft, key, after, end, to))
                .await;
            drop(turn);
            page
        }
        .boxed()
    }
}

/// Reads the rows after `after` up to `end` (to the end of the range when `None`) on
/// `connection`, in (time, arrival) order, into snapshots.
fn read_page(
    connection: &rusqlite::Connection,
    spacecraft: &SpacecraftId,
    key: i64,
    after: (i64, i64),
    end: Option<(i64, i64)>,
    to: Timestamp,
) -> Result<TelemetryPage> {
    let up_to = end.unwrap_or_else(|| up_to_the_end(to));
    let mut statement = connection
        .prepare_cached(
            "SELECT id, ts, parameters FROM telemetry \
             WHERE spacecraft_key = ?1 AND ts >= ?2 AND ts <= ?3 \
               AND (ts > ?2 OR seq > ?4) AND (ts < ?3 OR seq <= ?5) \
             ORDER BY ts, seq",
        )
        .map_err(crate::unavailable::backend_error)?;
    let mut rows = statement
        .query(rusqlite::params![key, after.0, up_to.0, after.1, up_to.1])
        .map_err(crate::unavailable::backend_error)?;
    // A page's own copy of the id (see `text_pages::parse_page`).
    let own = SpacecraftId::parse(spacecraft.as_str())?;
    let mut reader = SnapshotReader::new(&own);
    let mut snapshots: Vec<TelemetrySnapshot> = Vec::new();
    while let Some(row) = rows.next().map_err(crate::unavailable::backend_error)? {
        let text = |column| -> Result<&str> {
            row.get_ref(column)
                .and_then(|value| Ok(value.as_str()?))
                .map_err(crate::unavailable::backend_error)
        };
        let ts: i64 = row.get(1).map_err(crate::unavailable::backend_error)?;
        let snapshot = reader.read(text(0)?, ts, text(2)?, snapshots.last())?;
        snapshots.push(snapshot);
    }
    let next = end
        .map(|(ts, arrival)| {
            Ok::<_, Error>(RangeCursor {
                timestamp: stored_time(ts, "snapshot", spacecraft.as_str())?,
                arrival,
            })
        })
        .transpose()?;
    Ok(TelemetryPage { snapshots, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A range reader is set up like the store's other readers: it waits out a lock for the
    /// store's busy timeout, cannot write, and keeps a small cache; it is kept for the next
    /// page unless its use failed.
    #[tokio::test]
    async fn range_readers_wait_for_locks_and_cannot_write() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("ranges.db");
        let url = format!("sqlite://{}", file.display());
        let store = SqliteStore::open(&url).await.expect("open");
        let readers = store.range_readers.clone();
        let pragma = |connection: &rusqlite::Connection, name: &str| -> Result<i64> {
            connection
                .pragma_query_value(None, name, |row| row.get(0))
                .map_err(crate::unavailable::backend_error)
        };
        let settings = readers
            .with(|connection| {
                Ok((
                    pragma(connection, "busy_timeout")?,
                    pragma(connection, "query_only")?,
                    pragma(connection, "cache_size")?,
                ))
            })
            .expect("settings");
        let busy_ms = i64::try_from(BUSY_TIMEOUT.as_millis()).expect("ms");
        assert_eq!(settings, (busy_ms, 1, -RANGE_READER_CACHE_KIB));
        let idle = || readers.0.idle.lock().map(|idle| idle.len()).ok();
        assert_eq!(idle(), Some(1), "kept for the next page");
        let write = readers.with(|connection| {
            connection
                .execute_batch("CREATE TABLE scratch (x INTEGER)")
                .map_err(crate::unavailable::backend_error)
        });
        assert!(write.is_err(), "a range reader wrote");
        assert_eq!(idle(), Some(0), "a connection that failed is not kept");
    }

    /// However many pages are read at once, no more than `READ_CONNECTIONS` connections are
    /// in use, and so no more are ever kept. (Only the bound is asserted; how many pages
    /// overlap depends on the scheduler.)
    #[tokio::test]
    async fn range_readers_are_bounded() {
        use std::sync::atomic::{AtomicUsize, Ordering};

        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}", dir.path().join("bounded.db").display());
        let store = SqliteStore::open(&url).await.expect("open");
        let readers = store.range_readers.clone();
        let busy = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let pages = (0..16).map(|_| {
            let (busy, most) = (Arc::clone(&busy), Arc::clone(&most));
            readers.read(move |_| {
                let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // Long enough for the other pages to pile up behind this one.
                std::thread::sleep(std::time::Duration::from_millis(20));
                busy.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            })
        });
        for page in futures_util::future::join_all(pages).await {
            page.expect("page");
        }
        let limit = READ_CONNECTIONS as usize;
        let most = most.load(Ordering::SeqCst);
        assert!(
            (1..=limit).contains(&most),
            "{most} connections in use at once"
        );
        let kept = readers.0.idle.lock().map_or(usize::MAX, |idle| idle.len());
        assert!((1..=limit).contains(&kept), "{kept} connections kept");
    }
}
