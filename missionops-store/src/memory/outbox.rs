//! The in-memory store's outbox: row states beside the events, under the store's one mutex.
//!
//! A child module of `memory`, so that it reaches the store's private state; the rest of the
//! in-memory store only pushes new rows ([`MemoryOutbox::push`]) and counts pending ones.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use missionops_core::{
    Claim, ClaimId, DeadLetter, Error, FailureOutcome, OutboxEntry, OutboxStats, OutboxStore,
    Result, RetryPolicy, RetrySelection, SpacecraftId, TenantId, Timestamp,
};

use super::MemoryStore;
use crate::outbox::{jitter, millis, new_claim_id, truncate_error};

/// The outbox rows of a [`MemoryStore`]. Times are the callers' epoch milliseconds (the `now`
/// of [`OutboxStore::claim`] and [`OutboxStore::mark_failed`]).
#[derive(Debug, Default)]
pub(super) struct MemoryOutbox {
    pending: BTreeMap<u64, PendingRow>,
    dead: BTreeMap<u64, DeadRow>,
    delivered: u64,
}

#[derive(Debug, Default)]
struct PendingRow {
    attempts: u32,
    /// Not due before this (set after a failure).
    not_before: Option<i64>,
    /// The claim holding the row, and until when.
    claim: Option<(ClaimId, i64)>,
}

impl PendingRow {
    fn is_ready(&self, now: i64) -> bool {
        self.not_before.is_none_or(|t| t <= now)
            && self.claim.as_ref().is_none_or(|(_, until)| *until <= now)
    }

    fn is_held_by(&self, claim: &ClaimId, now: i64) -> bool {
        self.claim
            .as_ref()
            .is_some_and(|(id, until)| id == claim && *until > now)
    }
}

#[derive(Debug)]
struct DeadRow {
    attempts: u32,
    last_error: Option<String>,
}

impl MemoryOutbox {
    /// Adds the pending row of a newly recorded event.
    pub(super) fn push(&mut self, sequence: u64) {
        self.pending.insert(sequence, PendingRow::default());
    }

    /// How many rows are pending.
    pub(super) fn len(&self) -> usize {
        self.pending.len()
    }
}

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn claim(&self, now: Timestamp, limit: usize, lease: Duration) -> Result<Claim> {
        let mut inner = self.lock()?;
        let inner = &mut *inner;
        let now = now.as_millis();
        let until = now.saturating_add(millis(lease));
        let id = new_claim_id();
        // Order is kept per (tenant, spacecraft): two tenants' `SC-001` are two groups.
        let mut held_back: HashSet<(TenantId, Option<SpacecraftId>)> = HashSet::new();
        let mut entries = Vec::new();
        for (&sequence, row) in inner.log.outbox.pending.iter_mut() {
            if entries.len() >= limit {
                break;
            }
            let event = usize::try_from(sequence - 1)
                .ok()
                .and_then(|i| inner.log.events.get(i))
                .ok_or_else(|| Error::backend(format!("outbox row {sequence} has no event")))?;
            let tenant = usize::try_from(sequence - 1)
                .ok()
                .and_then(|i| inner.log.tenants.get(i))
                .ok_or_else(|| Error::backend(format!("outbox row {sequence} has no tenant")))?;
            let group = (tenant.clone(), event.spacecraft_id.clone());
            if held_back.contains(&group) {
                continue;
            }
            if !row.is_ready(now) {
                held_back.insert(group);
                continue;
            }
            row.claim = Some((id.clone(), until));
            entries.push(OutboxEntry {
                sequence,
                attempts: row.attempts,
                tenant: tenant.clone(),
                event: event.clone(),
            });
        }
        Ok(Claim { id, entries })
    }

    async fn mark_delivered(&self, sequences: &[u64]) -> Result<()> {
        let mut inner = self.lock()?;
        for sequence in sequences {
            if inner.log.outbox.pending.remove(sequence).is_some() {
                inner.log.outbox.delivered += 1;
            }
        }
        Ok(())
    }

    async fn mark_failed(
        &self,
        now: Timestamp,
        claim: &ClaimId,
        sequence: u64,
        error: &str,
        policy: &RetryPolicy,
    ) -> Result<FailureOutcome> {
        let mut inner = self.lock()?;
        let now = now.as_millis();
        let outbox = &mut inner.log.outbox;
        let Some(row) = outbox.pending.get_mut(&sequence) else {
            return Ok(FailureOutcome::NotHeld);
        };
        if !row.is_held_by(claim, now) {
            return Ok(FailureOutcome::NotHeld);
        }
        let attempts = row.attempts.saturating_add(1);
        if policy.is_exhausted(attempts) {
            outbox.pending.remove(&sequence);
            outbox.dead.insert(
                sequence,
                DeadRow {
                    attempts,
                    last_error: Some(truncate_error(error).to_owned()),
                },
            );
            return Ok(FailureOutcome::Dead { attempts });
        }
        let after = policy.backoff(attempts, jitter(attempts));
        *row = PendingRow {
            attempts,
            not_before: Some(now.saturating_add(millis(after))),
            claim: None,
        };
        Ok(FailureOutcome::Retry { attempts, after })
    }

    async fn release(&self, claim: &ClaimId, sequences: &[u64]) -> Result<()> {
        let mut inner = self.lock()?;
        // Whether the lease ran out does not matter: a row freed either way is free.
        for sequence in sequences {
            if let Some(row) = inner.log.outbox.pending.get_mut(sequence) {
                if row.claim.as_ref().is_some_and(|(id, _)| id == claim) {
                    row.claim = None;
                }
            }
        }
        Ok(())
    }

    async fn stats(&self) -> Result<OutboxStats> {
        let inner = self.lock()?;
        Ok(OutboxStats {
            pending: inner.log.outbox.pending.len() as u64,
            delivered: inner.log.outbox.delivered,
            dead: inner.log.outbox.dead.len() as u64,
        })
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        let inner = self.lock()?;
        inner
            .log
            .outbox
            .dead
            .iter()
            .take(limit)
            .map(|(&sequence, row)| {
                let event = usize::try_from(sequence - 1)
                    .ok()
                    .and_then(|i| inner.log.events.get(i))
                    .ok_or_else(|| Error::backend(format!("outbox row {sequence} has no event")))?;
                Ok(DeadLetter {
                    sequence,
                    attempts: row.attempts,
                    last_error: row.last_error.clone(),
                    event: event.clone(),
                })
            })
            .collect()
    }

    async fn retry_dead(&self, which: &RetrySelection) -> Result<Vec<u64>> {
        let mut inner = self.lock()?;
        let outbox = &mut inner.log.outbox;
        let chosen: Vec<u64> = match which {
            RetrySelection::All => outbox.dead.keys().copied().collect(),
            RetrySelection::Sequences(sequences) => {
                let mut chosen: Vec<u64> = sequences
                    .iter()
                    .copied()
                    .filter(|s| outbox.dead.contains_key(s))
                    .collect();
                chosen.sort_unstable();
                chosen.dedup();
                chosen
            }
        };
        for sequence in &chosen {
            if outbox.dead.remove(sequence).is_some() {
                outbox.pending.insert(*sequence, PendingRow::default());
            }
        }
        Ok(chosen)
    }
}
