//! The outbox port: what event delivery needs from a store.
//!
//! Every recorded event gets an outbox row in the transaction that records it (see the
//! [`ports`](super) docs). Delivery workers (the dispatcher of `missionops-delivery`) drain
//! those rows through [`OutboxStore`]: claim due rows with their events under a lease, mark
//! them delivered, count a failed attempt (exponential backoff with jitter, `dead` after
//! [`RetryPolicy::max_attempts`]); operators read statistics and dead letters and put dead
//! letters back ([`MissionOps::outbox_stats`](crate::MissionOps::outbox_stats) and its
//! neighbours).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

use super::retry::RetryPolicy;
use crate::domain::{MissionEvent, TenantId, Timestamp};
use crate::error::Result;

/// One outbox row handed to a delivery worker, with its event.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// The event's sequence (the row's key).
    pub sequence: u64,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// The tenant that recorded the event: delivery names it (the NATS subject, a webhook
    /// header), since the event's JSON does not.
    pub tenant: TenantId,
    /// The event to deliver.
    pub event: MissionEvent,
}

/// Names one [`OutboxStore::claim`]: the rows it took are leased to it, and only it may count
/// a failure on them or release them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimId(String);

impl ClaimId {
    /// The claim id made of `id`, which must be new and unique: a backend takes it from its id
    /// generator (UUIDv7 in production), since the core makes no ids of its own.
    pub fn new(id: Uuid) -> Self {
        ClaimId(id.to_string())
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Rows claimed for delivery, in sequence order, leased to [`Claim::id`] until the lease given
/// to [`OutboxStore::claim`] runs out.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// Who holds the rows.
    pub id: ClaimId,
    /// The rows, in sequence order.
    pub entries: Vec<OutboxEntry>,
}

impl Claim {
    /// The sequences claimed, in order.
    pub fn sequences(&self) -> Vec<u64> {
        self.entries.iter().map(|e| e.sequence).collect()
    }
}

/// How many outbox rows are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxStats {
    /// Waiting for delivery (new, backing off after a failure, or claimed by a worker).
    pub pending: u64,
    /// Accepted by every sink.
    pub delivered: u64,
    /// Given up after the maximum number of attempts; see [`OutboxStore::dead_letters`].
    pub dead: u64,
}

/// An event whose delivery was given up, with why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The event's sequence.
    pub sequence: u64,
    /// Failed attempts.
    pub attempts: u32,
    /// The error of the last attempt.
    pub last_error: Option<String>,
    /// The event.
    pub event: MissionEvent,
}

/// What [`OutboxStore::mark_failed`] did with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// The row stays pending and is due again after `after`.
    Retry {
        /// Failed attempts, this one included.
        attempts: u32,
        /// The backoff before the next attempt.
        after: Duration,
    },
    /// The row reached the maximum number of attempts and is now `dead`.
    Dead {
        /// Failed attempts, this one included.
        attempts: u32,
    },
    /// The row is no longer held by this claim (its lease ran out and another worker took it,
    /// or it was delivered meanwhile): nothing was changed.
    NotHeld,
}

/// Which dead letters [`OutboxStore::retry_dead`] puts back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetrySelection {
    /// Every dead letter.
    All,
    /// These sequences (those that are not dead are left alone).
    Sequences(Vec<u64>),
}

/// The outbox of a store: what delivery workers need. Every backend implements it, and it is
/// part of [`Store`](super::Store).
///
/// Rows move `pending` → `delivered`, or `pending` → `dead` after
/// [`RetryPolicy::max_attempts`] failed attempts, and `dead` → `pending` when retried. A
/// pending row is *due* when it has never failed or its backoff has passed, and *free* when no
/// unexpired claim holds it. Leases and backoffs run on the caller's time: [`claim`] and
/// [`mark_failed`] take `now` (a delivery worker reads it from its [`Clock`]), so that tests
/// drive leases and backoffs with a [`ManualClock`] instead of waiting on the real clock.
/// Workers sharing a database must therefore keep their clocks in step (NTP): a worker whose
/// clock runs ahead sees leases and backoffs end early by as much.
///
/// [`claim`]: OutboxStore::claim
/// [`mark_failed`]: OutboxStore::mark_failed
/// [`ManualClock`]: super::ManualClock
///
/// Every method fails only with [`Error::Backend`](crate::Error::Backend) (the storage
/// failed); rows that are missing or in another state are skipped, never an error.
///
/// [`Clock`]: super::Clock
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` rows that are due, free and pending at `now`, in sequence order,
    /// with their events, and leases them to a new [`ClaimId`] until `now` + `lease`.
    ///
    /// A row is only taken when every earlier pending row of the same spacecraft (events
    /// without a spacecraft form one group) is taken by this claim too; a row that is backing
    /// off or held by another claim holds back its group's later rows. When several processes
    /// share a database, concurrent claims never take the same row, nor rows of one group
    /// out of order. Rows whose lease runs out without being settled become free again: that
    /// is how the rows of a crashed worker come back.
    async fn claim(&self, now: Timestamp, limit: usize, lease: Duration) -> Result<Claim>;

    /// Marks the pending rows `sequences` delivered, whoever holds them (a late mark after the
    /// lease ran out still records a real delivery).
    async fn mark_delivered(&self, sequences: &[u64]) -> Result<()>;

    /// Counts a failed attempt on row `sequence` held by `claim` at `now`, keeps `error` (cut to
    /// 1,000 bytes) and frees the row: it is due again at `now` + [`RetryPolicy::backoff`] (the
    /// backend draws the random number of its jitter), or becomes `dead` when this was attempt
    /// [`RetryPolicy::max_attempts`].
    async fn mark_failed(
        &self,
        now: Timestamp,
        claim: &ClaimId,
        sequence: u64,
        error: &str,
        policy: &RetryPolicy,
    ) -> Result<FailureOutcome>;

    /// Frees the rows `sequences` held by `claim` without counting an attempt (they were not
    /// tried, because an earlier event of their spacecraft failed).
    async fn release(&self, claim: &ClaimId, sequences: &[u64]) -> Result<()>;

    /// How many rows are in each state.
    async fn stats(&self) -> Result<OutboxStats>;

    /// Up to `limit` dead letters, lowest sequence first.
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>>;

    /// Puts the selected dead letters back to pending with no attempts counted, due at once.
    /// Returns the sequences that were put back, in order.
    async fn retry_dead(&self, which: &RetrySelection) -> Result<Vec<u64>>;
}

/// A shared outbox is an outbox: so that a delivery worker can be handed an `Arc` of a whole
/// store (`Arc<dyn Store>`, `Arc<SqliteStore>`) where it asks for an [`OutboxStore`], without
/// trait-object upcasting (which needs Rust 1.86; the workspace supports 1.85).
#[async_trait]
impl<S: OutboxStore + ?Sized> OutboxStore for Arc<S> {
    async fn claim(&self, now: Timestamp, limit: usize, lease: Duration) -> Result<Claim> {
        (**self).claim(now, limit, lease).await
    }

    async fn mark_delivered(&self, sequences: &[u64]) -> Result<()> {
        (**self).mark_delivered(sequences).await
    }

    async fn mark_failed(
        &self,
        now: Timestamp,
        claim: &ClaimId,
        sequence: u64,
        error: &str,
        policy: &RetryPolicy,
    ) -> Result<FailureOutcome> {
        (**self)
            .mark_failed(now, claim, sequence, error, policy)
            .await
    }

    async fn release(&self, claim: &ClaimId, sequences: &[u64]) -> Result<()> {
        (**self).release(claim, sequences).await
    }

    async fn stats(&self) -> Result<OutboxStats> {
        (**self).stats().await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        (**self).dead_letters(limit).await
    }

    async fn retry_dead(&self, which: &RetrySelection) -> Result<Vec<u64>> {
        (**self).retry_dead(which).await
    }
}
