//! The outbox port on SQLite: claims under a lease, marks, backoff, dead letters.
//!
//! Every write runs in one `BEGIN IMMEDIATE` transaction on the writer connection, which
//! serialises claims in this process and, through the database lock, with other processes on
//! the same file: two claims never overlap. Times are epoch milliseconds of the caller's clock
//! (the `now` of [`OutboxStore::claim`] and [`OutboxStore::mark_failed`]).

use std::time::Duration;

use async_trait::async_trait;
use missionops_core::{
    Claim, ClaimId, Clock, DeadLetter, Error, FailureOutcome, OutboxEntry, OutboxStats,
    OutboxStore, Result, RetryPolicy, RetrySelection, TenantId, Timestamp,
};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::events::{EventRow, event_from_row};
use super::{DbResult, SqliteStore, begin_write, rows_per_statement, sql_count};
use crate::SystemClock;
use crate::outbox::{jitter, millis, new_claim_id, truncate_error};

/// A claimed row: outbox attempts, the event's tenant and the event.
#[derive(sqlx::FromRow)]
struct ClaimRow {
    attempts: i64,
    tenant: String,
    #[sqlx(flatten)]
    event: EventRow,
}

/// Pending rows that hold back their group: backing off, or claimed under a live lease. The
/// first such row of each group (a tenant's spacecraft) bounds what a claim may take of it. `held` is materialised
/// once per claim, and its `attempts > 0 OR claimed_until IS NOT NULL` term lets SQLite read
/// the small `outbox_held` index; the main scan walks `outbox_pending` in sequence order.
const CLAIM_SQL: &str = "
WITH held AS MATERIALIZED (
    SELECT e.tenant AS tenant, e.spacecraft_id AS grp, MIN(o.sequence) AS first_held
    FROM outbox o JOIN events e ON e.sequence = o.sequence
    WHERE o.status = 'pending' AND (o.attempts > 0 OR o.claimed_until IS NOT NULL)
      AND ((o.attempts > 0 AND o.next_attempt_at > ?1) OR o.claimed_until > ?1)
    GROUP BY e.tenant, e.spacecraft_id
)
SELECT o.attempts, e.tenant, e.sequence, e.id, e.spacecraft_id, e.ts, e.type, e.severity, e.message,
       e.metadata
FROM outbox o JOIN events e ON e.sequence = o.sequence
WHERE o.status = 'pending'
  AND (o.attempts = 0 OR o.next_attempt_at <= ?1)
  AND (o.claimed_until IS NULL OR o.claimed_until <= ?1)
  AND NOT EXISTS (
      SELECT 1 FROM held h
      WHERE h.tenant = e.tenant AND h.grp IS e.spacecraft_id AND h.first_held < o.sequence)
ORDER BY o.sequence
LIMIT ?2";

/// Runs `UPDATE outbox SET <set> WHERE <filter> AND sequence IN (…)` over `sequences` in
/// chunks; `set` and `filter` bind nothing of their own but what `bind` pushes.
async fn update_listed(
    conn: &mut SqliteConnection,
    sequences: &[u64],
    build: impl Fn(&mut QueryBuilder<'_, Sqlite>),
) -> Result<u64> {
    let mut changed = 0;
    for chunk in sequences.chunks(rows_per_statement(1)) {
        let mut query = QueryBuilder::<Sqlite>::new("UPDATE outbox SET ");
        build(&mut query);
        query.push(" AND sequence IN (");
        let mut list = query.separated(", ");
        for sequence in chunk {
            list.push_bind(sql_count(*sequence));
        }
        query.push(")");
        changed += query
            .build()
            .execute(&mut *conn)
            .await
            .db()?
            .rows_affected();
    }
    Ok(changed)
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn claim(&self, now: Timestamp, limit: usize, lease: Duration) -> Result<Claim> {
        let id = new_claim_id();
        let now = now.as_millis();
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        let rows: Vec<ClaimRow> = sqlx::query_as(CLAIM_SQL)
            .bind(now)
            .bind(sql_count(limit))
            .fetch_all(&mut *tx)
            .await
            .db()?;
        let mut entries = Vec::with_capacity(rows.len());
        for ClaimRow {
            attempts,
            tenant,
            event,
        } in rows
        {
            let event = event_from_row(event)?;
            let tenant = TenantId::parse(tenant)
                .map_err(|e| Error::backend(format!("event {}: stored tenant: {e}", event.id)))?;
            entries.push(OutboxEntry {
                sequence: event.sequence,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                tenant,
                event,
            });
        }
        if !entries.is_empty() {
            let sequences: Vec<u64> = entries.iter().map(|e| e.sequence).collect();
            let until = now.saturating_add(millis(lease));
            update_listed(&mut tx, &sequences, |q| {
                q.push("claimed_until = ")
                    .push_bind(until)
                    .push(", claim_id = ")
                    .push_bind(id.as_str().to_owned())
                    .push(" WHERE status = 'pending'");
            })
            .await?;
        }
        tx.commit().await.db()?;
        Ok(Claim { id, entries })
    }

    async fn mark_delivered(&self, sequences: &[u64]) -> Result<()> {
        if sequences.is_empty() {
            return Ok(());
        }
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        update_listed(&mut tx, sequences, |q| {
            q.push(
                "status = 'delivered', claimed_until = NULL, claim_id = NULL \
                 WHERE status = 'pending'",
            );
        })
        .await?;
        tx.commit().await.db()
    }

    async fn mark_failed(
        &self,
        now: Timestamp,
        claim: &ClaimId,
        sequence: u64,
        error: &str,
        policy: &RetryPolicy,
    ) -> Result<FailureOutcome> {
        let now = now.as_millis();
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        let attempts: Option<i64> = sqlx::query_scalar(
            "SELECT attempts FROM outbox \
             WHERE sequence = ? AND status = 'pending' AND claim_id = ? AND claimed_until > ?",
        )
        .bind(sql_count(sequence))
        .bind(claim.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .db()?;
        let Some(attempts) = attempts else {
            return Ok(FailureOutcome::NotHeld);
        };
        let attempts = u32::try_from(attempts)
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        let (status, outcome, next) = if policy.is_exhausted(attempts) {
            ("dead", FailureOutcome::Dead { attempts }, now)
        } else {
            let after = policy.backoff(attempts, jitter(attempts));
            (
                "pending",
                FailureOutcome::Retry { attempts, after },
                now.saturating_add(millis(after)),
            )
        };
        sqlx::query(
            "UPDATE outbox SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ?, \
             claimed_until = NULL, claim_id = NULL WHERE sequence = ?",
        )
        .bind(status)
        .bind(i64::from(attempts))
        .bind(truncate_error(error))
        .bind(next)
        .bind(sql_count(sequence))
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(outcome)
    }

    async fn release(&self, claim: &ClaimId, sequences: &[u64]) -> Result<()> {
        if sequences.is_empty() {
            return Ok(());
        }
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        update_listed(&mut tx, sequences, |q| {
            q.push(
                "claimed_until = NULL, claim_id = NULL WHERE status = 'pending' AND claim_id = ",
            )
            .push_bind(claim.as_str().to_owned());
        })
        .await?;
        tx.commit().await.db()
    }

    async fn stats(&self) -> Result<OutboxStats> {
        let (pending, dead, total): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM outbox WHERE status = 'pending'), \
                    (SELECT COUNT(*) FROM outbox WHERE status = 'dead'), \
                    (SELECT COUNT(*) FROM outbox)",
        )
        .fetch_one(&self.reader)
        .await
        .db()?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(OutboxStats {
            pending: count(pending),
            delivered: count(total - pending - dead),
            dead: count(dead),
        })
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        let rows: Vec<DeadRow> = sqlx::query_as(
            "SELECT o.attempts, o.last_error, e.sequence, e.id, e.spacecraft_id, e.ts, e.type, \
                    e.severity, e.message, e.metadata \
             FROM outbox o JOIN events e ON e.sequence = o.sequence \
             WHERE o.status = 'dead' ORDER BY o.sequence LIMIT ?",
        )
        .bind(sql_count(limit))
        .fetch_all(&self.reader)
        .await
        .db()?;
        rows.into_iter()
            .map(
                |DeadRow {
                     attempts,
                     last_error,
                     event,
                 }| {
                    let event = event_from_row(event)?;
                    Ok(DeadLetter {
                        sequence: event.sequence,
                        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                        last_error,
                        event,
                    })
                },
            )
            .collect()
    }

    async fn retry_dead(&self, which: &RetrySelection) -> Result<Vec<u64>> {
        // With no attempts counted a row is due whatever `next_attempt_at` says; the system
        // time here only keeps the column meaningful to someone reading the file.
        let now = SystemClock.now().as_millis();
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        let chosen: Vec<i64> = match which {
            RetrySelection::All => {
                sqlx::query_scalar(
                    "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, \
                     claimed_until = NULL, claim_id = NULL WHERE status = 'dead' RETURNING sequence",
                )
                .bind(now)
                .fetch_all(&mut *tx)
                .await
                .db()?
            }
            RetrySelection::Sequences(sequences) => {
                let mut chosen = Vec::new();
                for chunk in sequences.chunks(rows_per_statement(1)) {
                    let mut query = QueryBuilder::<Sqlite>::new(
                        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ",
                    );
                    query.push_bind(now).push(
                        ", claimed_until = NULL, claim_id = NULL \
                         WHERE status = 'dead' AND sequence IN (",
                    );
                    let mut list = query.separated(", ");
                    for sequence in chunk {
                        list.push_bind(sql_count(*sequence));
                    }
                    query.push(") RETURNING sequence");
                    let done: Vec<i64> = query
                        .build_query_scalar()
                        .fetch_all(&mut *tx)
                        .await
                        .db()?;
                    chosen.extend(done);
                }
                chosen
            }
        };
        tx.commit().await.db()?;
        let mut chosen: Vec<u64> = chosen
            .into_iter()
            .filter_map(|s| u64::try_from(s).ok())
            .collect();
        chosen.sort_unstable();
        Ok(chosen)
    }
}

/// A dead letter row: attempts, last error and the event.
#[derive(sqlx::FromRow)]
struct DeadRow {
    attempts: i64,
    last_error: Option<String>,
    #[sqlx(flatten)]
    event: EventRow,
}
