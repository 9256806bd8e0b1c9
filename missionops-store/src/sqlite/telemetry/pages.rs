//! The pages of a long range read on SQLite, read ahead of their consumer and side by side
//! (see the crate's `pages_ahead`).
//!
//! SQLite's page is one text (see `text_pages`), the rows of one spacecraft key between two
//! ends found on the time index.

use async_trait::async_trait;
use futures_util::FutureExt;
use futures_util::stream::BoxStream;
use missionops_core::{
    Error, RangeCursor, Result, SpacecraftId, TelemetryPage, TenantId, Timestamp,
};
use sqlx::SqlitePool;

use super::read::{fetch_page, up_to_the_end};
use crate::pages_ahead::{PagedRange, RowKey, read_ahead};
use crate::sqlite::{DbResult, SqliteStore, sql_count, stored_time};
use crate::text_pages::{PageTimes, read_page_off_thread};

impl SqliteStore {
    /// The pages of `spacecraft`'s range `from..=to`, of `page` snapshots each (the last may
    /// hold fewer), read ahead (see `pages_ahead`). Pages found by their ends may hold more
    /// than `page` snapshots when telemetry is stored inside them while the range is read.
    pub(super) fn range_pages(
        &self,
        tenant: TenantId,
        spacecraft: SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        page: usize,
    ) -> BoxStream<'static, Result<TelemetryPage>> {
        let reader = self.reader.clone();
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
                spacecraft,
                key,
                to,
                page: page.max(1),
            }))
        };
        read_ahead(open.boxed(), from, to)
    }
}

/// One spacecraft's range, found by its key.
struct SqliteRange {
    reader: SqlitePool,
    spacecraft: SpacecraftId,
    key: i64,
    to: Timestamp,
    page: usize,
}

#[async_trait]
impl PagedRange for SqliteRange {
    async fn end_of_page_after(&self, (after_ts, after_seq): RowKey) -> Result<Option<RowKey>> {
        sqlx::query_as(
            "SELECT ts, seq FROM telemetry \
             WHERE spacecraft_key = ?1 AND ts >= ?2 AND ts <= ?3 AND (ts > ?2 OR seq > ?4) \
             ORDER BY ts, seq LIMIT 1 OFFSET ?5",
        )
        .bind(self.key)
        .bind(after_ts)
        .bind(self.to.as_millis())
        .bind(after_seq)
        .bind(sql_count(self.page - 1))
        .fetch_optional(&self.reader)
        .await
        .db()
    }

    fn read_page(
        &self,
        after: RowKey,
        end: Option<RowKey>,
    ) -> futures_util::future::BoxFuture<'static, Result<TelemetryPage>> {
        read_page(
            self.reader.clone(),
            self.spacecraft.clone(),
            self.key,
            after,
            end,
            self.to,
        )
        .boxed()
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
    let (snapshots, _) =
        read_page_off_thread(&spacecraft, text, PageTimes::TimesInText(count)).await?;
    Ok(TelemetryPage { snapshots, next })
}
