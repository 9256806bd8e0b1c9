//! The pages of a long range read, read ahead of their consumer and side by side
//! ([`TelemetryRepository::telemetry_range_pages`]: what a time-window analysis reads).
//!
//! A SQLite connection produces one page at a time on its own thread, and producing a page is
//! about half the work of analysing it (the rest is parsing its JSON, evaluating it and
//! rendering what it finds). Read one after another, the pages keep one core busy while the
//! other waits. So the ends of the pages are found first, each by a probe of the time index
//! (`LIMIT 1 OFFSET page - 1`, which walks the index only: a small fraction of reading the
//! page), and the rows between two ends are read and parsed by a task of its own, on a reader
//! connection of its own, while the pages before it are consumed.
//!
//! [`TelemetryRepository::telemetry_range_pages`]: missionops_core::TelemetryRepository::telemetry_range_pages

use futures_util::future::{self, BoxFuture};
use futures_util::stream::{self, BoxStream};
use futures_util::{FutureExt, StreamExt};
use missionops_core::{
    Error, RangeCursor, Result, SpacecraftId, TelemetryPage, TenantId, Timestamp,
};
use sqlx::SqlitePool;
use tokio::sync::mpsc;

use super::read::{fetch_page, up_to_the_end};
use crate::sqlite::{DbResult, SqliteStore, sql_count, stored_time};
use crate::text_pages::{PageTimes, read_page_off_thread};

/// Pages read ahead of the one the consumer waits for. Each being read holds a reader
/// connection (the store has four) and a page of memory. With one, two pages are produced side
/// by side (the one waited for and the next); two more ahead measured no faster on two cores.
const PAGES_AHEAD: usize = 1;

/// The read of one page, running on a task of its own.
type PageRead = BoxFuture<'static, Result<TelemetryPage>>;

impl SqliteStore {
    /// The pages of `spacecraft`'s range `from..=to`, of `page` snapshots each (the last may
    /// hold fewer), read ahead as the module says. Pages found by their ends may hold more
    /// than `page` snapshots when telemetry is stored inside them while the range is read.
    pub(super) fn range_pages(
        &self,
        tenant: TenantId,
        spacecraft: SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        page: usize,
    ) -> BoxStream<'static, Result<TelemetryPage>> {
        if from > to {
            return stream::empty().boxed();
        }
        let (reads, receiver) = mpsc::channel::<PageRead>(PAGES_AHEAD);
        let plan = PagePlan {
            reader: self.reader.clone(),
            spacecraft,
            from,
            to,
            page: page.max(1),
        };
        tokio::spawn(async move {
            if let Err(e) = plan.run(&tenant, &reads).await {
                // The consumer sees the failure in place of the next page.
                let _ = reads.send(future::ready(Err(e)).boxed()).await;
            }
        });
        stream::unfold(receiver, |mut receiver| async move {
            let read = receiver.recv().await?;
            Some((read.await, receiver))
        })
        .boxed()
    }
}

/// What finds the ends of a range's pages and starts their reads.
struct PagePlan {
    reader: SqlitePool,
    spacecraft: SpacecraftId,
    from: Timestamp,
    to: Timestamp,
    page: usize,
}

impl PagePlan {
    /// Finds each page's end and hands its read to the consumer, in order, no more than
    /// [`PAGES_AHEAD`] ahead of it; stops when the consumer goes away.
    async fn run(&self, tenant: &TenantId, reads: &mpsc::Sender<PageRead>) -> Result<()> {
        let key: Option<i64> =
            sqlx::query_scalar("SELECT key FROM spacecraft WHERE tenant = ? AND id = ?")
                .bind(tenant.as_str())
                .bind(self.spacecraft.as_str())
                .fetch_optional(&self.reader)
                .await
                .db()?;
        let Some(key) = key else {
            return Ok(());
        };
        // Arrival numbers start at 1, so (from, 0) is just before the first row at `from`.
        let mut after = (self.from.as_millis(), 0);
        loop {
            // Waiting for room first bounds the reads in flight (and the connections they
            // hold) by the channel, not by how fast the ends are found.
            let Ok(room) = reads.reserve().await else {
                return Ok(());
            };
            let end = self.end_of_page_after(key, after).await?;
            let read = tokio::spawn(read_page(
                self.reader.clone(),
                self.spacecraft.clone(),
                key,
                after,
                end,
                self.to,
            ));
            room.send(async move { read.await.map_err(Error::backend)? }.boxed());
            match end {
                Some(end) => after = end,
                None => return Ok(()),
            }
        }
    }

    /// The (time, arrival) of the `page`-th row after `after`, or `None` when fewer rows are
    /// left in the range.
    async fn end_of_page_after(
        &self,
        key: i64,
        (after_ts, after_seq): (i64, i64),
    ) -> Result<Option<(i64, i64)>> {
        sqlx::query_as(
            "SELECT ts, seq FROM telemetry \
             WHERE spacecraft_key = ?1 AND ts >= ?2 AND ts <= ?3 AND (ts > ?2 OR seq > ?4) \
             ORDER BY ts, seq LIMIT 1 OFFSET ?5",
        )
        .bind(key)
        .bind(after_ts)
        .bind(self.to.as_millis())
        .bind(after_seq)
        .bind(sql_count(self.page - 1))
        .fetch_optional(&self.reader)
        .await
        .db()
    }
}

/// Reads and parses the rows after `after` up to `end` (to the end of the range when `None`).
async fn read_page(
    reader: SqlitePool,
    spacecraft: SpacecraftId,
    key: i64,
    after: (i64, i64),
    end: Option<(i64, i64)>,
    to: Timestamp,
) -> Result<TelemetryPage> {
    let mut conn = reader.acquire().await.db()?;
    let up_to = end.unwrap_or_else(|| up_to_the_end(to));
    let (text, count) = fetch_page(&mut conn, key, after, up_to, None).await?;
    drop(conn);
    let next = end
        .map(|(ts, arrival)| {
            Ok::<_, Error>(RangeCursor {
                timestamp: stored_time(ts, "snapshot", spacecraft.as_str())?,
                arrival,
            })
        })
        .transpose()?;
    let Some(text) = text else {
        return Ok(TelemetryPage {
            snapshots: Vec::new(),
            next,
        });
    };
    let count = usize::try_from(count).unwrap_or(0);
    let (snapshots, _) = read_page_off_thread(&spacecraft, text, PageTimes::InText(count)).await?;
    Ok(TelemetryPage { snapshots, next })
}
