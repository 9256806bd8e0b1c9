//! Event delivery from the outbox, at least once.
//!
//! Every recorded event gets an outbox row in the transaction that records it (SPEC §4). This
//! module drains those rows to the outside world:
//!
//! - [`OutboxStore`]: the port every backend implements — claim due rows with their events
//!   under a lease, mark them delivered, count a failed attempt (exponential backoff with
//!   jitter, `dead` after [`RetryPolicy::max_attempts`]), statistics, dead letters and their
//!   retry.
//! - [`Sink`]: where events go. [`NatsSink`] (feature `nats`) publishes to NATS JetStream,
//!   [`WebhookSink`] (feature `webhook`) posts signed JSON to a URL.
//! - [`Dispatcher`]: the Tokio task that polls the outbox, delivers each claimed batch to every
//!   sink and records the outcome; [`DispatcherHandle`] wakes it early or stops it.
//!
//! # Guarantees
//! - **At least once.** A row is marked delivered only after every sink accepted its event. A
//!   process that dies between a sink accepting and the mark leaves the row claimed until its
//!   lease ends; then it is claimed and sent again. A retry after a partial failure re-sends to
//!   the sinks that had accepted. Receivers de-duplicate by event id (JetStream does it by the
//!   `Nats-Msg-Id` header within its duplicate window).
//! - **Order per spacecraft.** The events of one spacecraft reach each sink in sequence order:
//!   a claim only takes a row when no earlier pending row of the same spacecraft is backing off
//!   or claimed by someone else, and a batch stops a spacecraft's delivery at its first failure.
//!   Events without a spacecraft form one group of their own. A `dead` event no longer holds
//!   its successors back, so a dead letter that is retried arrives after them.
//!
//! # Layout
//! - `policy`: [`RetryPolicy`], the backoff.
//! - `dispatcher`: [`Dispatcher`], [`Sink`], [`Delivery`].
//! - `nats`: [`NatsSink`] (feature `nats`). `webhook`: [`WebhookSink`] (feature `webhook`).

mod dispatcher;
#[cfg(feature = "nats")]
mod nats;
mod policy;
#[cfg(feature = "webhook")]
mod webhook;

use std::time::Duration;

use async_trait::async_trait;
use missionops_core::{MissionEvent, Result};
use serde::Serialize;

pub use dispatcher::{
    BatchReport, Delivery, Dispatcher, DispatcherConfig, DispatcherHandle, Sink, SinkOutcome,
};
#[cfg(feature = "nats")]
pub use nats::{DEFAULT_SUBJECT_PREFIX, NatsConfig, NatsSink, nats_subject};
pub use policy::RetryPolicy;
#[cfg(feature = "webhook")]
pub use webhook::{
    EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookConfig, WebhookSink,
    webhook_signature,
};

/// The longest `last_error` kept for a row; longer messages are cut.
pub(crate) const MAX_ERROR_LEN: usize = 1_000;

/// One outbox row handed to a delivery worker, with its event.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// The event's sequence (the row's key).
    pub sequence: u64,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// The event to deliver.
    pub event: MissionEvent,
}

/// Names one [`OutboxStore::claim`]: the rows it took are leased to it, and only it may count
/// a failure on them or release them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimId(String);

impl ClaimId {
    /// A new, unique claim id.
    pub fn generate() -> Self {
        ClaimId(uuid::Uuid::now_v7().to_string())
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

/// The outbox of a store: what delivery workers need.
///
/// Rows move `pending` → `delivered`, or `pending` → `dead` after
/// [`RetryPolicy::max_attempts`] failed attempts, and `dead` → `pending` when retried. A
/// pending row is *due* when it has never failed or its backoff has passed, and *free* when no
/// unexpired claim holds it.
///
/// Every method fails only with [`Error::Backend`](missionops_core::Error::Backend) (the
/// storage failed); rows that are missing or in another state are skipped, never an error.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` due, free, pending rows in sequence order, with their events, and
    /// leases them to a new [`ClaimId`] for `lease`.
    ///
    /// A row is only taken when every earlier pending row of the same spacecraft (events
    /// without a spacecraft form one group) is taken by this claim too; a row that is backing
    /// off or held by another claim holds back its group's later rows. When several processes
    /// share a database, concurrent claims never take the same row, nor rows of one group
    /// out of order. Rows whose lease runs out without being settled become free again: that
    /// is how the rows of a crashed worker come back.
    async fn claim(&self, limit: usize, lease: Duration) -> Result<Claim>;

    /// Marks the pending rows `sequences` delivered, whoever holds them (a late mark after the
    /// lease ran out still records a real delivery).
    async fn mark_delivered(&self, sequences: &[u64]) -> Result<()>;

    /// Counts a failed attempt on row `sequence` held by `claim`, keeps `error` (cut to 1,000
    /// bytes) and frees the row: it is due again after [`RetryPolicy::backoff`], or becomes
    /// `dead` when this was attempt [`RetryPolicy::max_attempts`].
    async fn mark_failed(
        &self,
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

/// `error` cut to at most [`MAX_ERROR_LEN`] bytes at a character boundary.
pub(crate) fn truncate_error(error: &str) -> &str {
    if error.len() <= MAX_ERROR_LEN {
        return error;
    }
    let mut end = MAX_ERROR_LEN;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

/// The milliseconds in `duration`, saturating.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_errors_are_cut_at_a_character_boundary() {
        let long = "é".repeat(600);
        let cut = truncate_error(&long);
        assert!(cut.len() <= MAX_ERROR_LEN);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(truncate_error("short"), "short");
    }

    #[test]
    fn claim_ids_are_unique() {
        assert_ne!(ClaimId::generate(), ClaimId::generate());
    }
}
