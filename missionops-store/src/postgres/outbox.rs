//! The outbox port on PostgreSQL, safe with several processes on one database.
//!
//! A claim runs in one transaction that first takes a transaction-scoped advisory lock, so
//! that claims follow one another: each sees the rows the previous one leased and holds back
//! those spacecraft, and no two workers ever deliver one spacecraft's events side by side.
//! `FOR UPDATE SKIP LOCKED` keeps a claim from waiting on rows that another transaction is
//! marking. A worker that dies leaves its rows leased until `claimed_until`; then they are
//! claimed again. Times are the caller's (the `now` of [`OutboxStore::claim`] and
//! [`OutboxStore::mark_failed`]), so workers sharing the database keep their clocks in step.

use std::time::Duration;

use async_trait::async_trait;
use missionops_core::{
    Claim, ClaimId, DeadLetter, FailureOutcome, OutboxEntry, OutboxStats, OutboxStore, Result,
    RetryPolicy, RetrySelection, TenantId, Timestamp,
};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::codec::{PgTime, get, stored};
use super::events::event_from_row;
use super::{PostgresStore, db, to_i64};
use crate::outbox::{jitter, millis, new_claim_id, truncate_error};

/// The advisory lock every claim takes (`MOOB`: MissionOps outbox).
const CLAIM_LOCK: i64 = 0x4d4f_4f42;

/// Leases up to `$1` rows due at `$4` (now) for `$2` ms to claim `$3`, returning them with
/// their events.
///
/// A spacecraft is a tenant's: groups are (tenant, spacecraft).
///
/// `held` (materialised once): the first pending row of each spacecraft that is backing off
/// or leased (the `attempts > 0 OR claimed_until IS NOT NULL` term lets the planner read the
/// small `outbox_held_idx`). `picked`: due, free rows that come before their group's first held row.
const CLAIM_SQL: &str = "
WITH held AS MATERIALIZED (
    SELECT e.tenant, e.spacecraft_id AS grp, min(o.sequence) AS first_held
    FROM outbox o JOIN events e ON e.sequence = o.sequence
    WHERE o.status = 'pending' AND (o.attempts > 0 OR o.claimed_until IS NOT NULL)
      AND ((o.attempts > 0 AND o.next_attempt_at > $4)
           OR o.claimed_until > $4)
    GROUP BY e.tenant, e.spacecraft_id
), picked AS (
    SELECT o.sequence
    FROM outbox o JOIN events e ON e.sequence = o.sequence
    WHERE o.status = 'pending'
      AND (o.attempts = 0 OR o.next_attempt_at <= $4)
      AND (o.claimed_until IS NULL OR o.claimed_until <= $4)
      AND NOT EXISTS (
          SELECT 1 FROM held h
          WHERE h.tenant = e.tenant AND h.grp IS NOT DISTINCT FROM e.spacecraft_id
            AND h.first_held < o.sequence)
    ORDER BY o.sequence
    LIMIT $1
    FOR UPDATE OF o SKIP LOCKED
)
UPDATE outbox u
SET claimed_until = $4 + $2::float8 * interval '1 millisecond',
    claim_id = $3
FROM picked JOIN events e ON e.sequence = picked.sequence
WHERE u.sequence = picked.sequence
RETURNING u.attempts, e.tenant, e.sequence, e.id, e.spacecraft_id, e.ts, e.type, e.severity, e.message,
          e.metadata_json::text AS metadata";

fn attempts(row: &PgRow) -> Result<u32> {
    let attempts: i32 = get(row, "attempts")?;
    Ok(u32::try_from(attempts).unwrap_or(0))
}

fn sequences_i64(sequences: &[u64]) -> Vec<i64> {
    sequences
        .iter()
        .map(|s| i64::try_from(*s).unwrap_or(i64::MAX))
        .collect()
}

fn sequences_u64(sequences: Vec<i64>) -> Vec<u64> {
    let mut out: Vec<u64> = sequences
        .into_iter()
        .filter_map(|s| u64::try_from(s).ok())
        .collect();
    out.sort_unstable();
    out
}

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn claim(&self, now: Timestamp, limit: usize, lease: Duration) -> Result<Claim> {
        let id = new_claim_id();
        let mut tx = self.begin_all_tenants().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CLAIM_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let rows = sqlx::query(CLAIM_SQL)
            .bind(to_i64(limit))
            .bind(millis(lease) as f64)
            .bind(id.as_str())
            .bind(PgTime(now))
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let mut entries = rows
            .iter()
            .map(|row| {
                let event = event_from_row(row)?;
                Ok(OutboxEntry {
                    sequence: event.sequence,
                    attempts: attempts(row)?,
                    tenant: stored(
                        "event tenant",
                        TenantId::parse(get::<String>(row, "tenant")?),
                    )?,
                    event,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        entries.sort_by_key(|e| e.sequence);
        Ok(Claim { id, entries })
    }

    async fn mark_delivered(&self, sequences: &[u64]) -> Result<()> {
        if sequences.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_all_tenants().await?;
        sqlx::query(
            "UPDATE outbox SET status = 'delivered', claimed_until = NULL, claim_id = NULL
             WHERE sequence = ANY($1) AND status = 'pending'",
        )
        .bind(sequences_i64(sequences))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn mark_failed(
        &self,
        now: Timestamp,
        claim: &ClaimId,
        sequence: u64,
        error: &str,
        policy: &RetryPolicy,
    ) -> Result<FailureOutcome> {
        let sequence = i64::try_from(sequence).unwrap_or(i64::MAX);
        let mut tx = self.begin_all_tenants().await?;
        let held = sqlx::query(
            "SELECT attempts FROM outbox
             WHERE sequence = $1 AND status = 'pending' AND claim_id = $2
               AND claimed_until > $3
             FOR UPDATE",
        )
        .bind(sequence)
        .bind(claim.as_str())
        .bind(PgTime(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = held else {
            return Ok(FailureOutcome::NotHeld);
        };
        let attempts = attempts(&row)?.saturating_add(1);
        let (status, outcome, wait) = if policy.is_exhausted(attempts) {
            ("dead", FailureOutcome::Dead { attempts }, Duration::ZERO)
        } else {
            let after = policy.backoff(attempts, jitter(attempts));
            ("pending", FailureOutcome::Retry { attempts, after }, after)
        };
        sqlx::query(
            "UPDATE outbox SET status = $1, attempts = $2, last_error = $3,
                 next_attempt_at = $6 + $4::float8 * interval '1 millisecond',
                 claimed_until = NULL, claim_id = NULL
             WHERE sequence = $5",
        )
        .bind(status)
        .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
        .bind(truncate_error(error))
        .bind(millis(wait) as f64)
        .bind(sequence)
        .bind(PgTime(now))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(outcome)
    }

    async fn release(&self, claim: &ClaimId, sequences: &[u64]) -> Result<()> {
        if sequences.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_all_tenants().await?;
        sqlx::query(
            "UPDATE outbox SET claimed_until = NULL, claim_id = NULL
             WHERE sequence = ANY($1) AND status = 'pending' AND claim_id = $2",
        )
        .bind(sequences_i64(sequences))
        .bind(claim.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn stats(&self) -> Result<OutboxStats> {
        let mut tx = self.begin_all_tenants().await?;
        let row = sqlx::query(
            "SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                    count(*) FILTER (WHERE status = 'delivered') AS delivered,
                    count(*) FILTER (WHERE status = 'dead') AS dead
             FROM outbox",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let count = |name: &str| -> Result<u64> {
            let n: i64 = row.try_get(name).map_err(db)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        Ok(OutboxStats {
            pending: count("pending")?,
            delivered: count("delivered")?,
            dead: count("dead")?,
        })
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        let mut tx = self.begin_all_tenants().await?;
        let rows = sqlx::query(
            "SELECT o.attempts, o.last_error, e.sequence, e.id, e.spacecraft_id, e.ts, e.type,
                    e.severity, e.message, e.metadata_json::text AS metadata
             FROM outbox o JOIN events e ON e.sequence = o.sequence
             WHERE o.status = 'dead'
             ORDER BY o.sequence
             LIMIT $1",
        )
        .bind(to_i64(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                let event = event_from_row(row)?;
                Ok(DeadLetter {
                    sequence: event.sequence,
                    attempts: attempts(row)?,
                    last_error: get(row, "last_error")?,
                    event,
                })
            })
            .collect()
    }

    async fn retry_dead(&self, which: &RetrySelection) -> Result<Vec<u64>> {
        const RETRY: &str = "UPDATE outbox SET status = 'pending', attempts = 0,
                 next_attempt_at = statement_timestamp(), claimed_until = NULL, claim_id = NULL
             WHERE status = 'dead'";
        let mut tx = self.begin_all_tenants().await?;
        let chosen: Vec<i64> = match which {
            RetrySelection::All => sqlx::query_scalar(&format!("{RETRY} RETURNING sequence"))
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?,
            RetrySelection::Sequences(sequences) => sqlx::query_scalar(&format!(
                "{RETRY} AND sequence = ANY($1) RETURNING sequence"
            ))
            .bind(sequences_i64(sequences))
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?,
        };
        tx.commit().await.map_err(db)?;
        Ok(sequences_u64(chosen))
    }
}
