//! Telemetry ingest: one snapshot, a batch, or a bulk load (ids of id-less snapshots derived
//! from their content), live or played back.
//!
//! - this file: checking a batch (size, ids, repeated ids) and registering unknown spacecraft;
//! - [`live`]: live telemetry through the streaming monitor;
//! - [`group_commit`]: concurrent live writes of any spacecraft committed together;
//! - [`played_back`]: stored telemetry, checked by batch analyse, no alarms or events;
//! - [`derive`]: the derived parameters appended to each snapshot before the rules.

mod derive;
mod group_commit;
mod live;
mod played_back;

use std::collections::HashMap;

use crate::domain::{NewSnapshot, SnapshotId, SpacecraftId, TelemetrySnapshot};
use crate::error::{Error, Result};
use crate::ports::IngestOutcome;

use super::{BatchReceipt, IngestReceipt, MissionOps};

pub(super) use derive::derive_played_back;
pub(super) use group_commit::WriteQueue;

/// The most snapshots one batch may hold.
pub const MAX_BATCH_SNAPSHOTS: usize = 100_000;

/// Whether ingested telemetry is live or played back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IngestMode {
    /// Live telemetry: the streaming monitor sees it, opens and clears alarms, raises events.
    #[default]
    Live,
    /// Stored telemetry (a played-back pass, a backfill): checked in time order from a fresh
    /// state and its anomalies recorded, but it opens no alarm, raises no event and leaves the
    /// live monitor untouched, so replaying an old pass never pages anyone.
    Stored,
}

impl MissionOps {
    /// Ingests one snapshot; idempotent by id (see [`MissionOps::ingest_batch`]).
    pub async fn ingest(&self, snapshot: NewSnapshot) -> Result<IngestReceipt> {
        let receipt = self.ingest_batch(vec![snapshot]).await?;
        let id =
            receipt.ids.into_iter().next().ok_or_else(|| {
                Error::backend("ingest of one snapshot returned no id".to_owned())
            })?;
        Ok(IngestReceipt {
            id,
            duplicate: receipt.outcome.duplicates > 0,
        })
    }

    /// Ingests a batch of live telemetry all-or-nothing (see [`MissionOps::ingest_batch_as`]).
    pub async fn ingest_batch(&self, snapshots: Vec<NewSnapshot>) -> Result<BatchIngest> {
        self.ingest_batch_as(snapshots, IngestMode::Live).await
    }

    /// Bulk ingest (an NDJSON body, an imported file) all-or-nothing: as
    /// [`MissionOps::ingest_batch_as`], except that a snapshot sent without an id gets the id
    /// derived from its content ([`SnapshotId::derived`]) instead of a fresh one, so that
    /// sending or importing the same lines again stores nothing twice.
    pub async fn ingest_bulk(
        &self,
        snapshots: Vec<NewSnapshot>,
        mode: IngestMode,
    ) -> Result<BatchIngest> {
        let snapshots = snapshots
            .into_iter()
            .map(NewSnapshot::with_derived_id)
            .collect();
        self.ingest_batch_as(snapshots, mode).await
    }

    /// Ingests a batch all-or-nothing, generating missing ids and registering unknown
    /// spacecraft. A snapshot whose id is already stored with the same content is accepted and
    /// stored once; with different content the batch fails with [`Error::Conflict`] naming its
    /// index. At most [`MAX_BATCH_SNAPSHOTS`]; an empty batch is accepted.
    ///
    /// Live telemetry goes through the streaming monitor, whose anomalies, alarm changes and
    /// events commit with it; stored telemetry is only checked (see [`IngestMode`]).
    pub async fn ingest_batch_as(
        &self,
        snapshots: Vec<NewSnapshot>,
        mode: IngestMode,
    ) -> Result<BatchIngest> {
        if snapshots.len() > MAX_BATCH_SNAPSHOTS {
            return Err(Error::invalid(
                "snapshots",
                format!(
                    "must hold at most {MAX_BATCH_SNAPSHOTS} snapshots (got {})",
                    snapshots.len()
                ),
            ));
        }
        let count = snapshots.len();
        let mut ids = Vec::with_capacity(count);
        let mut unique: Vec<TelemetrySnapshot> = Vec::with_capacity(count);
        let mut first_index: HashMap<SnapshotId, usize> = HashMap::new();
        let mut in_batch_duplicates = 0;
        let mut spacecraft: Vec<SpacecraftId> = Vec::new();
        for (index, new) in snapshots.into_iter().enumerate() {
            let snapshot = TelemetrySnapshot {
                id: new.id.unwrap_or_else(|| self.shared.ids.new_id().into()),
                spacecraft_id: new.spacecraft_id,
                timestamp: new.timestamp,
                parameters: new.parameters,
            };
            ids.push(snapshot.id.clone());
            if let Some(&earlier) = first_index.get(&snapshot.id) {
                if unique[earlier] != snapshot {
                    return Err(Error::conflict(
                        "snapshot",
                        &snapshot.id,
                        format!(
                            "snapshots[{index}] repeats the id of snapshots[{earlier}] with different content"
                        ),
                    ));
                }
                in_batch_duplicates += 1;
                continue;
            }
            if !spacecraft.contains(&snapshot.spacecraft_id) {
                spacecraft.push(snapshot.spacecraft_id.clone());
            }
            first_index.insert(snapshot.id.clone(), unique.len());
            unique.push(snapshot);
        }
        let stored = match mode {
            // Live writes register unknown spacecraft in their own transaction.
            IngestMode::Live => self.store_live(unique, &spacecraft).await,
            IngestMode::Stored => {
                for id in &spacecraft {
                    self.ensure_spacecraft(id).await?;
                }
                self.store_played_back(unique, &spacecraft).await
            }
        };
        // Whatever the outcome (a write cut short may or may not have committed), cached
        // windows of these spacecraft are stale now.
        let keys: Vec<_> = spacecraft.iter().map(|id| self.scoped(id)).collect();
        self.shared.windows.invalidate(&keys);
        let mut outcome = stored.map_err(|e| match e {
            // Name the snapshot by its index in the batch as the client sent it.
            Error::Conflict { entity, id, .. } if entity == "snapshot" => {
                let index = ids.iter().position(|s| s.as_str() == id).unwrap_or(0);
                Error::conflict(
                    entity,
                    &id,
                    format!(
                        "snapshots[{index}] has the id of a stored snapshot with different content"
                    ),
                )
            }
            other => other,
        })?;
        outcome.duplicates += in_batch_duplicates;
        Ok(BatchIngest {
            count,
            ids,
            outcome,
        })
    }
}

/// What a batch ingest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchIngest {
    /// How many snapshots the batch held.
    pub count: usize,
    /// The id of every snapshot, in batch order (as given or generated).
    pub ids: Vec<SnapshotId>,
    /// What the store did.
    pub outcome: IngestOutcome,
}

impl BatchIngest {
    /// The compat receipt `{count}`.
    pub fn receipt(&self) -> BatchReceipt {
        BatchReceipt {
            count: self.count,
            outcome: self.outcome,
        }
    }
}
