//! A time window of one spacecraft read as one `COPY` stream: what a time-window analysis
//! reads on PostgreSQL ([`TelemetryRepository::telemetry_range_pages`]).
//!
//! The window's rows come out of one index scan, no further than one row past the cap, cut
//! into pages as they arrive; each page is read back on the blocking pool while the stream
//! goes on, and handed to the analysis in order, at most [`PAGES_AHEAD`] ahead of it. The
//! stream's end tells whether the window is over the cap. Read with probes first (SQLite's way,
//! `pages_ahead`), PostgreSQL walked the window's index twice, the walk visiting the table for
//! every row until it is vacuumed: a third of its CPU in the 100,000-snapshot analysis, and
//! the walk set the pace of the reads.
//!
//! The analysis waits to know whether the window is over the cap before it answers anything,
//! and holds what it finds meanwhile only up to a bound, so the pages ahead can fill up before
//! the stream ends. Then the rest of the window is counted on another connection (no further
//! than the cap) to tell it, and the stream goes on once there is room.
//!
//! Once that is known, a stream whose pages wait unread for [`PAUSE_AFTER`] (a client taking
//! the answer slowly) lets its connection go and starts again after the last row it read when
//! there is room: a slow reader holds no connection, and no transaction open, while it reads.
//!
//! [`TelemetryRepository::telemetry_range_pages`]: missionops_core::TelemetryRepository::telemetry_range_pages

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{self, BoxFuture, Either};
use futures_util::{FutureExt, StreamExt};
use missionops_core::{
    Error, RangeCursor, RangePages, Result, SpacecraftId, TelemetryPage, TenantId, Timestamp,
};
use sqlx::Postgres;
use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use tokio::sync::{mpsc, oneshot};

use super::codec::{CopiedPage, CopyStream, PageText, PgTime};
use super::telemetry::copy_rows;
use super::{PostgresStore, db, is_plain, to_i64};
use crate::pages_ahead::{PAGES_AHEAD, PageRead, range_pages, report};
use crate::text_pages::{PageTimes, read_page_off_thread, stored_time};

/// How long a stream waits for room among the pages ahead, once the window is known not to be
/// over the cap, before it lets its connection go. Pages come from the database faster than
/// the analysis takes them, so the stream waits for room all the time, briefly; a wait this
/// long means a reader that is slow (a client taking a long answer slowly).
const PAUSE_AFTER: Duration = Duration::from_millis(250);

/// The pages of `page` rows of `spacecraft`'s window `from..=to`, read as the module says, and
/// whether it holds more than `cap` rows; no pages and not over the cap when `from` is after
/// `to`.
pub(super) fn window_pages(
    store: Arc<PostgresStore>,
    tenant: TenantId,
    spacecraft: SpacecraftId,
    (from, to): (Timestamp, Timestamp),
    page: usize,
    cap: usize,
) -> RangePages {
    let (reads, receiver) = mpsc::channel::<PageRead>(PAGES_AHEAD);
    let (verdict, more_than_cap) = oneshot::channel::<Result<bool>>();
    if from > to {
        let _ = verdict.send(Ok(false));
        return range_pages(receiver, more_than_cap);
    }
    let mut window = WindowRead {
        store,
        tenant,
        spacecraft,
        to,
        page: page.max(1),
        cap,
        verdict: Some(verdict),
        reads,
        counting: None,
        building: PageText::default(),
        full: None,
        rows: 0,
        // Arrival numbers start at 1, so (from, 0) is just before the first row at `from`.
        last: (from.as_millis(), 0),
    };
    tokio::spawn(async move {
        if let Err(e) = window.run().await {
            let for_pages = match window.verdict.take() {
                Some(verdict) => report(e, verdict),
                None => e,
            };
            let _ = window
                .reads
                .send(future::ready(Err(for_pages)).boxed())
                .await;
        }
    });
    range_pages(receiver, more_than_cap)
}

/// How a window's stream ended.
enum Ended {
    /// Read to its end: the connection is in its transaction, in order; the last page is left
    /// to hand over.
    Whole,
    /// Cut at the cap (rows stored after a count said the window was under it), mid-stream;
    /// the last page is left to hand over.
    AtCap,
    /// Cut short mid-stream: the window is over the cap, or nobody reads the pages any more.
    Cut,
    /// Paused mid-stream: a page has waited for room for [`PAUSE_AFTER`]; it is `full`.
    Paused,
}

/// What became of a page handed over.
enum HandOver {
    Taken,
    /// Nobody reads the pages any more, or the window turned out over the cap.
    Gone,
    /// It waited for room for [`PAUSE_AFTER`], the window known not to be over the cap.
    Waiting(PageText),
}

/// One window being read.
struct WindowRead {
    store: Arc<PostgresStore>,
    tenant: TenantId,
    spacecraft: SpacecraftId,
    to: Timestamp,
    page: usize,
    cap: usize,
    /// Whoever waits to know whether the window is over the cap, until told.
    verdict: Option<oneshot::Sender<Result<bool>>>,
    reads: mpsc::Sender<PageRead>,
    /// The count of the rest of the window, once the pages ahead filled up before the stream
    /// told whether it is over the cap.
    counting: Option<BoxFuture<'static, Result<bool>>>,
    /// The page being gathered.
    building: PageText,
    /// A page that is full, held until the next row shows that more follow.
    full: Option<PageText>,
    /// Rows read from the stream so far.
    rows: usize,
    /// The key (epoch milliseconds, arrival) of the last row read.
    last: (i64, i64),
}

impl WindowRead {
    /// Streams the window on a pooled connection, again after the last row read after each
    /// pause. A connection left mid-stream (cut short, paused, or failed) is closed rather than
    /// given back: the rest of its stream would have to be read first.
    async fn run(&mut self) -> Result<()> {
        loop {
            let mut conn = self.store.pool.acquire().await.map_err(db)?;
            match self.stream_on(&mut conn).await {
                Ok(Ended::Whole) => {
                    sqlx::query("COMMIT")
                        .execute(&mut *conn)
                        .await
                        .map_err(db)?;
                    drop(conn);
                    return self.last_page().await;
                }
                Ok(Ended::AtCap) => {
                    drop(conn.detach());
                    return self.last_page().await;
                }
                Ok(Ended::Cut) => {
                    drop(conn.detach());
                    return Ok(());
                }
                Ok(Ended::Paused) => drop(conn.detach()),
                Err(e) => {
                    drop(conn.detach());
                    return Err(e);
                }
            }
            // Room, then the page that waited, then the rest of the window.
            let Ok(slot) = self.reads.reserve().await else {
                return Ok(());
            };
            if let Some(page) = self.full.take() {
                slot.send(self.read_back(page, true)?);
            }
        }
    }

    /// Hands over the window's last page, the full one held or the one being gathered, with
    /// no cursor after it: the stream has ended, and its connection is gone.
    async fn last_page(&mut self) -> Result<()> {
        let last = match self.full.take() {
            Some(page) => page,
            None if self.building.len() > 0 => std::mem::take(&mut self.building),
            None => return Ok(()),
        };
        if let Ok(slot) = self.reads.reserve().await {
            slot.send(self.read_back(last, false)?);
        }
        Ok(())
    }

    /// Streams from the row after `last` on `conn`, in a transaction begun here rather than by
    /// the store's `begin_for`: sqlx's transaction would give the connection back to the pool
    /// when dropped, and one cut mid-stream must be closed instead (see [`Self::run`]).
    async fn stream_on(&mut self, conn: &mut PoolConnection<Postgres>) -> Result<Ended> {
        sqlx::query("BEGIN READ ONLY")
            .execute(&mut **conn)
            .await
            .map_err(db)?;
        // `COPY` takes no parameters: the spacecraft goes in as a literal when it is plain (see
        // `is_plain`), through a setting of the transaction otherwise (see `copy_rows`).
        sqlx::query(
            "SELECT set_config('missionops.tenant', $1, true), \
                    set_config('missionops.page_spacecraft', $2, true)",
        )
        .bind(self.tenant.as_str())
        .bind(self.spacecraft.as_str())
        .execute(&mut **conn)
        .await
        .map_err(db)?;
        let spacecraft_sql = if is_plain(self.spacecraft.as_str()) {
            format!("'{}'", self.spacecraft)
        } else {
            "current_setting('missionops.page_spacecraft')".to_owned()
        };
        // One row past the cap, counting the rows read before a pause.
        let limit = to_i64(self.cap.saturating_add(1).saturating_sub(self.rows));
        let copy = copy_rows(
            &spacecraft_sql,
            self.last,
            (self.to.as_millis(), i64::MAX),
            &limit.to_string(),
        );
        let mut copied = conn.copy_out_raw(&copy).await.map_err(db)?;
        let mut stream = CopyStream::default();
        while let Some(piece) = copied.next().await {
            stream.push(&piece.map_err(db)?);
            loop {
                let row = match stream.next_row() {
                    Ok(Some(row)) => row,
                    Ok(None) => break,
                    Err(e) => return Err(self.damaged(e)),
                };
                self.rows += 1;
                if self.rows > self.cap {
                    return Ok(match self.verdict.take() {
                        Some(verdict) => {
                            let _ = verdict.send(Ok(true));
                            Ended::Cut
                        }
                        // A count said the window was not over the cap a moment ago, and rows
                        // were stored meanwhile: the window ends at the cap.
                        None => Ended::AtCap,
                    });
                }
                self.building.push(&row).map_err(|e| self.damaged(e))?;
                self.last = row.key().map_err(|e| self.damaged(e))?;
                if self.building.len() == 1
                    && let Some(page) = self.full.take()
                {
                    match self.hand_over(page).await? {
                        HandOver::Taken => {}
                        HandOver::Gone => return Ok(Ended::Cut),
                        HandOver::Waiting(page) => {
                            self.full = Some(page);
                            return Ok(Ended::Paused);
                        }
                    }
                }
                if self.building.len() == self.page {
                    self.full = Some(std::mem::take(&mut self.building));
                }
            }
        }
        drop(copied);
        stream.finish().map_err(|e| self.damaged(e))?;
        if let Some(verdict) = self.verdict.take() {
            let _ = verdict.send(Ok(false));
        }
        Ok(Ended::Whole)
    }

    /// Hands `page` (more rows follow it) to the analysis, read back, once there is room among
    /// the pages ahead.
    async fn hand_over(&mut self, page: PageText) -> Result<HandOver> {
        let slot = loop {
            if self.verdict.is_some() && self.counting.is_none() && self.reads.capacity() == 0 {
                self.counting = Some(self.count_rest());
            }
            let outcome = match (&self.verdict, self.counting.as_mut()) {
                (Some(_), Some(counting)) => {
                    match future::select(Box::pin(self.reads.reserve()), counting).await {
                        Either::Left((slot, _)) => Either::Left(slot),
                        Either::Right((over, _)) => Either::Right(over),
                    }
                }
                (Some(_), None) => Either::Left(self.reads.reserve().await),
                (None, _) => match tokio::time::timeout(PAUSE_AFTER, self.reads.reserve()).await {
                    Ok(slot) => Either::Left(slot),
                    Err(_) => return Ok(HandOver::Waiting(page)),
                },
            };
            match outcome {
                Either::Left(Ok(slot)) => break slot,
                Either::Left(Err(_)) => return Ok(HandOver::Gone),
                Either::Right(over) => {
                    self.counting = None;
                    let over = over?;
                    if let Some(verdict) = self.verdict.take() {
                        let _ = verdict.send(Ok(over));
                    }
                    if over {
                        return Ok(HandOver::Gone);
                    }
                }
            }
        };
        slot.send(self.read_back(page, true)?);
        Ok(HandOver::Taken)
    }

    /// `page` read back on a task of its own, started now; `more_follow` gives it the cursor
    /// after its last row.
    fn read_back(&self, page: PageText, more_follow: bool) -> Result<PageRead> {
        let next = match (more_follow, page.last()) {
            (true, Some((millis, arrival))) => Some(RangeCursor {
                timestamp: stored_time(millis, "snapshot", self.spacecraft.as_str())?,
                arrival,
            }),
            _ => None,
        };
        let spacecraft = self.spacecraft.clone();
        let read = tokio::spawn(async move {
            let what = spacecraft.as_str();
            let page = page.finish().map_err(|e| damaged(what, e))?;
            let snapshots = match page {
                Some(CopiedPage { text, times }) => {
                    read_page_off_thread(&spacecraft, text, PageTimes::Beside(times))
                        .await?
                        .0
                }
                None => Vec::new(),
            };
            Ok(TelemetryPage { snapshots, next })
        });
        Ok(async move { read.await.map_err(crate::unavailable::backend_error)? }.boxed())
    }

    /// Whether the window holds more rows after the last one read than are left below the cap,
    /// counted on a connection of its own, no further than the cap.
    fn count_rest(&self) -> BoxFuture<'static, Result<bool>> {
        let store = Arc::clone(&self.store);
        let tenant = self.tenant.clone();
        let spacecraft = self.spacecraft.clone();
        let (after, to) = (self.last, self.to);
        let room = self.cap.saturating_sub(self.rows);
        async move {
            let after_ts = stored_time(after.0, "snapshot", spacecraft.as_str())?;
            let mut tx = store.begin_for(&tenant).await?;
            let more: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM (SELECT 1 FROM telemetry \
                 WHERE tenant = $1 AND spacecraft_id = $2 \
                 AND (ts, arrival) > ($3, $4) AND (ts, arrival) <= ($5, $6) \
                 ORDER BY ts, arrival LIMIT $7) AS rest",
            )
            .bind(tenant.as_str())
            .bind(spacecraft.as_str())
            .bind(PgTime(after_ts))
            .bind(after.1)
            .bind(PgTime(to))
            .bind(i64::MAX)
            .bind(to_i64(room.saturating_add(1)))
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            Ok(usize::try_from(more).unwrap_or(usize::MAX) > room)
        }
        .boxed()
    }

    fn damaged(&self, e: BoxDynError) -> Error {
        damaged(self.spacecraft.as_str(), e)
    }
}

/// A window's stream that does not read as a binary `COPY` of its rows.
fn damaged(spacecraft: &str, e: BoxDynError) -> Error {
    Error::backend(format!(
        "the window of spacecraft '{spacecraft}' came back damaged: {e}"
    ))
}
