//! The telemetry read path: recent snapshots, paged range reads, the last sample time, latest
//! values and downsampled series.
//!
//! Range reads (a day at 1 Hz is 86,400 rows) go by pages of 2,048 rows that SQLite joins into
//! one text each, keyed by (time, arrival) so that a page can end anywhere, even inside a run
//! of equal times. Pages are parsed on the blocking pool while SQLite produces the next one.

use std::collections::VecDeque;

use missionops_core::TenantId;
use missionops_core::{
    BucketWidth, LatestValue, Limit, ParameterName, RangeCursor, Result, SeriesBucket,
    SpacecraftId, TelemetryPage, TelemetrySnapshot, Timestamp,
};
use rusqlite::OptionalExtension;
use sqlx::SqliteConnection;

use crate::json_text::read_parameter_value;
use crate::sqlite::{DbResult, SqliteStore, corrupt, sql_count, stored, stored_time};
use crate::text_pages::{PageTimes, parse_page, read_page_off_thread, split_page};

/// Snapshots per page of a range read.
const RANGE_PAGE: usize = 2_048;

/// One page of a range read: the rows of one spacecraft after the row (`after_ts`,
/// `after_seq`) and up to the row `up_to` (inclusive), at most `limit` of them, in time order,
/// as one text (the form of `text_pages`, each row with its arrival number:
/// `PageTimes::InText`, since a cursor after the page needs the last one) and the number of
/// rows.
pub(super) async fn fetch_page(
    conn: &mut SqliteConnection,
    key: i64,
    (after_ts, after_seq): (i64, i64),
    (up_to_ts, up_to_seq): (i64, i64),
    limit: usize,
) -> Result<(Option<String>, i64)> {
    sqlx::query_as(
        "SELECT group_concat(concat_ws(char(31), id, ts, seq, parameters), char(30)), \
                count(*) \
         FROM (SELECT id, ts, seq, parameters FROM telemetry \
               WHERE spacecraft_key = ?1 AND ts >= ?2 AND ts <= ?3 \
                 AND (ts > ?2 OR seq > ?4) AND (ts < ?3 OR seq <= ?5) \
               ORDER BY ts, seq LIMIT ?6)",
    )
    .bind(key)
    .bind(after_ts)
    .bind(up_to_ts)
    .bind(after_seq)
    .bind(up_to_seq)
    .bind(sql_count(limit))
    .fetch_one(&mut *conn)
    .await
    .db()
}

/// The end of a range: every row up to `to`, whatever its arrival number.
pub(super) fn up_to_the_end(to: Timestamp) -> (i64, i64) {
    (to.as_millis(), i64::MAX)
}

/// Waits for the oldest page being parsed and appends its snapshots.
async fn collect(
    parsing: &mut VecDeque<tokio::task::JoinHandle<Result<Vec<TelemetrySnapshot>>>>,
    snapshots: &mut Vec<TelemetrySnapshot>,
) -> Result<()> {
    if let Some(task) = parsing.pop_front() {
        let page = task.await.map_err(crate::unavailable::backend_error)??;
        if snapshots.is_empty() {
            *snapshots = page;
        } else {
            snapshots.extend(page);
        }
    }
    Ok(())
}

/// How many pages of a range read are parsed at once, besides the one SQLite is producing:
/// enough to keep both cores of a small machine busy, few enough to bound memory.
const PAGES_IN_FLIGHT: usize = 2;

/// The `json_extract` path of a top-level key, or `None` when the key is stored with JSON
/// escapes (`"` and `\`; control characters are not allowed in names): SQLite's quoted path
/// labels have no escapes, and its comparison of escaped keys is best not relied on.
fn json_path(name: &str) -> Option<String> {
    (!name.contains(['"', '\\'])).then(|| format!("$.\"{name}\""))
}

impl SqliteStore {
    pub(super) async fn read_recent(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<TelemetrySnapshot>> {
        // Joined into one text by SQLite, as a page of a range read is (see `fetch_page`):
        // `analyze` reads the newest 100 snapshots on every request, and handing them over
        // row by row cost more than reading them.
        // A short read (`SqliteStore::short_read`): one row.
        let limit = sql_count(limit.get());
        let (text, count): (Option<String>, i64) = self
            .short_read(|connection| {
                connection
                    .prepare_cached(
                        "SELECT group_concat(concat_ws(char(31), id, ts, seq, parameters), char(30)), \
                                count(*) \
                         FROM (SELECT id, ts, seq, parameters FROM telemetry \
                               WHERE spacecraft_key = \
                                     (SELECT key FROM spacecraft WHERE tenant = ?1 AND id = ?2) \
                               ORDER BY ts DESC, seq DESC LIMIT ?3)",
                    )?
                    .query_row(
                        rusqlite::params![tenant.as_str(), spacecraft.as_str(), limit],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
            })
            .await?;
        let Some(text) = text else {
            return Ok(Vec::new());
        };
        let rows = split_page(
            spacecraft,
            &text,
            PageTimes::InText(usize::try_from(count).unwrap_or(0)),
            true,
        )?;
        parse_page(spacecraft, &text, rows)
    }

    pub(super) async fn read_range(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        max: usize,
    ) -> Result<Vec<TelemetrySnapshot>> {
        if from > to || max == 0 {
            return Ok(Vec::new());
        }
        // One read transaction, so that every page sees the same state of the file.
        let mut tx = self.reader.begin().await.db()?;
        let key: Option<i64> =
            sqlx::query_scalar("SELECT key FROM spacecraft WHERE tenant = ? AND id = ?")
                .bind(tenant.as_str())
                .bind(spacecraft.as_str())
                .fetch_optional(&mut *tx)
                .await
                .db()?;
        let Some(key) = key else {
            return Ok(Vec::new());
        };
        // Reading JSON back is most of the cost of a large range. Each page is parsed on the
        // blocking pool as soon as it arrives, while SQLite produces the next one on its
        // connection's thread, so a long read uses more than one core.
        let mut parsing = VecDeque::with_capacity(PAGES_IN_FLIGHT);
        let mut snapshots: Vec<TelemetrySnapshot> = Vec::new();
        // Arrival numbers start at 1, so (from, 0) is just before the first row at `from`.
        let mut after = (from.as_millis(), 0);
        let mut wanted = max;
        loop {
            let asked = RANGE_PAGE.min(wanted);
            let (text, count) = fetch_page(&mut tx, key, after, up_to_the_end(to), asked).await?;
            let Some(text) = text else { break };
            let count = usize::try_from(count).unwrap_or(0);
            let rows = split_page(spacecraft, &text, PageTimes::InText(count), false)?;
            let last = rows.last().map_or(after, |(_, ts, seq, _)| (*ts, *seq));
            if parsing.len() == PAGES_IN_FLIGHT {
                collect(&mut parsing, &mut snapshots).await?;
            }
            let id = spacecraft.clone();
            parsing.push_back(tokio::task::spawn_blocking(move || {
                parse_page(&id, &text, rows)
            }));
            wanted = wanted.saturating_sub(count);
            if count < asked || wanted == 0 {
                break;
            }
            after = last;
        }
        tx.commit().await.db()?;
        while !parsing.is_empty() {
            collect(&mut parsing, &mut snapshots).await?;
        }
        Ok(snapshots)
    }

    /// One page of a range read (see [`TelemetryRepository::telemetry_range_page`]): the same
    /// page query as [`Self::read_range`], from the cursor on, parsed on the blocking pool.
    ///
    /// [`TelemetryRepository::telemetry_range_page`]: missionops_core::TelemetryRepository::telemetry_range_page
    pub(super) async fn read_range_page(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        after: Option<RangeCursor>,
        limit: usize,
    ) -> Result<TelemetryPage> {
        if from > to || limit == 0 {
            return Ok(TelemetryPage::default());
        }
        let mut conn = self.reader.acquire().await.db()?;
        let key: Option<i64> =
            sqlx::query_scalar("SELECT key FROM spacecraft WHERE tenant = ? AND id = ?")
                .bind(tenant.as_str())
                .bind(spacecraft.as_str())
                .fetch_optional(&mut *conn)
                .await
                .db()?;
        let Some(key) = key else {
            return Ok(TelemetryPage::default());
        };
        // Arrival numbers start at 1, so (from, 0) is just before the first row at `from`.
        let start = match after {
            Some(c) if c.timestamp >= from => (c.timestamp.as_millis(), c.arrival),
            _ => (from.as_millis(), 0),
        };
        let (text, count) = fetch_page(&mut conn, key, start, up_to_the_end(to), limit).await?;
        drop(conn);
        let Some(text) = text else {
            return Ok(TelemetryPage::default());
        };
        let count = usize::try_from(count).unwrap_or(0);
        let (snapshots, last) =
            read_page_off_thread(spacecraft, text, PageTimes::InText(count)).await?;
        let next = match last {
            Some((ts, arrival)) if count == limit => Some(RangeCursor {
                timestamp: stored_time(ts, "snapshot", spacecraft.as_str())?,
                arrival,
            }),
            _ => None,
        };
        Ok(TelemetryPage { snapshots, next })
    }

    /// How many rows a range read would return, counting at most `at_most`.
    pub(super) async fn count_range(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        at_most: usize,
    ) -> Result<usize> {
        if from > to || at_most == 0 {
            return Ok(0);
        }
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT 1 FROM telemetry \
             WHERE spacecraft_key = (SELECT key FROM spacecraft WHERE tenant = ?5 AND id = ?1) \
               AND ts >= ?2 AND ts <= ?3 LIMIT ?4)",
        )
        .bind(spacecraft.as_str())
        .bind(from.as_millis())
        .bind(to.as_millis())
        .bind(sql_count(at_most))
        .bind(tenant.as_str())
        .fetch_one(&self.reader)
        .await
        .db()?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    pub(super) async fn read_last_timestamp(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<Timestamp>> {
        let last: Option<i64> = self
            .short_read(|connection| {
                connection
                    .prepare_cached(
                        "SELECT ts FROM telemetry \
                         WHERE spacecraft_key = \
                               (SELECT key FROM spacecraft WHERE tenant = ?1 AND id = ?2) \
                         ORDER BY ts DESC LIMIT 1",
                    )?
                    .query_row(
                        rusqlite::params![tenant.as_str(), spacecraft.as_str()],
                        |row| row.get(0),
                    )
                    .optional()
            })
            .await?;
        last.map(|ts| stored_time(ts, "telemetry of spacecraft", spacecraft.as_str()))
            .transpose()
    }

    /// [`Self::read_last_timestamp`] of each of `spacecraft`, in their order: one statement
    /// per [`LOOKUPS_PER_QUERY`] of them, each an index lookup of a spacecraft and one of its
    /// newest sample.
    pub(super) async fn read_last_timestamps(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<Timestamp>>> {
        self.short_read_times_of(tenant, spacecraft, "telemetry of spacecraft", |listed| {
            format!(
                "SELECT s.id, (SELECT ts FROM telemetry WHERE spacecraft_key = s.key \
                 ORDER BY ts DESC LIMIT 1) FROM spacecraft AS s \
                 WHERE s.tenant = ?1 AND s.id IN ({listed})"
            )
        })
        .await
    }

    pub(super) async fn read_latest_values(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<LatestValue>> {
        // What waits in memory first, then the table (see `latest`): a flush between the two
        // moves a value from the one to the other, never out of both. Only writes through this
        // store leave values waiting, and they remember the spacecraft's key.
        let key = self.spacecraft_keys.read().ok().and_then(|keys| {
            keys.get(tenant.as_str())
                .and_then(|of| of.get(spacecraft.as_str()))
                .copied()
        });
        let waiting = key.map(|key| self.latest.of(key)).unwrap_or_default();
        let rows: Vec<(String, String, i64)> = self
            .short_read(|connection| {
                connection
                    .prepare_cached(
                        "SELECT parameter, value, ts FROM latest_values \
                         WHERE spacecraft_key = \
                               (SELECT key FROM spacecraft WHERE tenant = ?1 AND id = ?2) \
                         ORDER BY parameter",
                    )?
                    .query_map(
                        rusqlite::params![tenant.as_str(), spacecraft.as_str()],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )?
                    .collect()
            })
            .await?;
        let what = "latest value of spacecraft";
        let id = spacecraft.as_str();
        let mut values = rows
            .into_iter()
            .map(|(parameter, value, ts)| {
                Ok(LatestValue {
                    parameter: stored(ParameterName::parse(parameter), what, id)?,
                    value: read_parameter_value(&value).map_err(|e| corrupt(what, id, e))?,
                    timestamp: stored_time(ts, what, id)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if waiting.is_empty() {
            return Ok(values);
        }
        for (parameter, (ts, value)) in waiting {
            let timestamp = stored_time(ts, what, id)?;
            // As the table's upsert: at least as new wins (a later arrival wins a tie).
            match values.iter_mut().find(|v| v.parameter == parameter) {
                Some(stored) if timestamp < stored.timestamp => {}
                Some(stored) => {
                    stored.value = value;
                    stored.timestamp = timestamp;
                }
                None => values.push(LatestValue {
                    parameter,
                    value,
                    timestamp,
                }),
            }
        }
        // By parameter, as the table's ORDER BY (byte order) gives them.
        values.sort_unstable_by(|a, b| a.parameter.as_str().cmp(b.parameter.as_str()));
        Ok(values)
    }

    pub(super) async fn read_series(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        parameter: &ParameterName,
        from: Timestamp,
        to: Timestamp,
        bucket: BucketWidth,
    ) -> Result<Vec<SeriesBucket>> {
        if from > to {
            return Ok(Vec::new());
        }
        // The samples of the parameter: through a JSON path when the name can be written as
        // one, else by walking each snapshot's keys (slower, but right for any name).
        let samples = if json_path(parameter.as_str()).is_some() {
            "SELECT t.ts AS ts, t.seq AS seq, json_extract(t.parameters, ?1) AS v \
             FROM telemetry t \
             WHERE t.spacecraft_key = (SELECT key FROM spacecraft WHERE tenant = ?6 AND id = ?2) \
             AND t.ts >= ?3 AND t.ts <= ?4 \
             AND json_type(t.parameters, ?1) IN ('integer', 'real')"
        } else {
            "SELECT t.ts AS ts, t.seq AS seq, j.value AS v \
             FROM telemetry t, json_each(t.parameters) j \
             WHERE t.spacecraft_key = (SELECT key FROM spacecraft WHERE tenant = ?6 AND id = ?2) \
             AND t.ts >= ?3 AND t.ts <= ?4 \
             AND j.key = ?1 AND j.type IN ('integer', 'real')"
        };
        // Buckets start at multiples of the width since the epoch; `%` truncates toward zero,
        // so the remainder is made non-negative for times before 1970. The newest sample of a
        // bucket (ties: last stored) gives `last`.
        let sql = format!(
            "WITH samples AS ({samples}), \
             bucketed AS ( \
               SELECT ts - (((ts % ?5) + ?5) % ?5) AS bucket, ts, seq, v FROM samples), \
             ranked AS ( \
               SELECT bucket, v, ROW_NUMBER() OVER \
                 (PARTITION BY bucket ORDER BY ts DESC, seq DESC) AS newest FROM bucketed) \
             SELECT bucket, CAST(MIN(v) AS REAL), CAST(MAX(v) AS REAL), CAST(AVG(v) AS REAL), \
                    COUNT(*), CAST(MAX(CASE WHEN newest = 1 THEN v END) AS REAL) \
             FROM ranked GROUP BY bucket ORDER BY bucket"
        );
        let key = json_path(parameter.as_str()).unwrap_or_else(|| parameter.as_str().to_owned());
        let rows: Vec<(i64, f64, f64, f64, i64, f64)> = sqlx::query_as(&sql)
            .bind(key)
            .bind(spacecraft.as_str())
            .bind(from.as_millis())
            .bind(to.as_millis())
            .bind(bucket.as_millis())
            .bind(tenant.as_str())
            .fetch_all(&self.reader)
            .await
            .db()?;
        let what = "telemetry of spacecraft";
        rows.into_iter()
            .map(|(start, min, max, avg, count, last)| {
                Ok(SeriesBucket {
                    start: stored_time(start, what, spacecraft.as_str())?,
                    min,
                    max,
                    avg,
                    count: u64::try_from(count)
                        .map_err(|e| corrupt(what, spacecraft.as_str(), e))?,
                    last,
                })
            })
            .collect()
    }
}
