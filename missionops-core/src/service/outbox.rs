//! The operator's view of event delivery: how many events wait, which were given up (dead
//! letters), and putting those back. Delivering them is the dispatcher's job
//! (`missionops-delivery`), which works on the [`OutboxStore`] port directly.

use super::MissionOps;
use crate::error::Result;
use crate::ports::{DeadLetter, OutboxStats, RetrySelection, Store};

/// What [`MissionOps::retry_dead_letters`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryReport {
    /// The dead letters put back for delivery, lowest sequence first.
    pub retried: Vec<u64>,
    /// The sequences asked for that were not dead letters (never recorded, still pending,
    /// or delivered), left alone, in the order asked. Always empty for
    /// [`RetrySelection::All`].
    pub not_dead: Vec<u64>,
}

impl MissionOps {
    /// How many recorded events are pending delivery, delivered, and dead.
    pub async fn outbox_stats(&self) -> Result<OutboxStats> {
        self.outbox().stats().await
    }

    /// Up to `limit` dead letters (events whose delivery was given up), lowest sequence first.
    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        self.outbox().dead_letters(limit).await
    }

    /// Puts the selected dead letters back for delivery, with no attempts counted, and says
    /// which of the sequences asked for were not dead letters.
    pub async fn retry_dead_letters(&self, which: &RetrySelection) -> Result<RetryReport> {
        let retried = self.outbox().retry_dead(which).await?;
        let not_dead = match which {
            RetrySelection::All => Vec::new(),
            RetrySelection::Sequences(asked) => asked
                .iter()
                .copied()
                .filter(|sequence| !retried.contains(sequence))
                .collect(),
        };
        Ok(RetryReport { retried, not_dead })
    }

    /// The store's outbox, reached through the store itself rather than through the
    /// forwarding `impl OutboxStore for Arc<_>` (one boxed future per call instead of two).
    fn outbox(&self) -> &dyn Store {
        self.shared.store.as_ref()
    }
}
