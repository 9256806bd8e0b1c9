//! Telemetry snapshots.

use serde::{Deserialize, Serialize};

use super::ids::{SnapshotId, SpacecraftId};
use super::time::Timestamp;
use super::value::Parameters;

/// One stored telemetry sample of a spacecraft: its parameters at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelemetrySnapshot {
    /// Client-supplied or generated (UUIDv7) id; ingest is idempotent by it.
    pub id: SnapshotId,
    /// The spacecraft that sent it.
    pub spacecraft_id: SpacecraftId,
    /// When it was sampled.
    pub timestamp: Timestamp,
    /// The values, in the order given.
    pub parameters: Parameters,
}

/// A snapshot as a client submits it: the id is optional and generated when absent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSnapshot {
    /// The client's id, making a retried submission idempotent.
    #[serde(default)]
    pub id: Option<SnapshotId>,
    /// The spacecraft.
    pub spacecraft_id: SpacecraftId,
    /// When it was sampled.
    pub timestamp: Timestamp,
    /// The values.
    pub parameters: Parameters,
}

/// One snapshot inside a batch (`POST /telemetry/batch`): its own `spacecraftId` counts and
/// defaults to the batch's.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchSnapshot {
    /// The client's id.
    #[serde(default)]
    pub id: Option<SnapshotId>,
    /// The spacecraft, when it differs from the batch's.
    #[serde(default)]
    pub spacecraft_id: Option<SpacecraftId>,
    /// When it was sampled.
    pub timestamp: Timestamp,
    /// The values.
    pub parameters: Parameters,
}

/// A batch of snapshots as a client submits it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSnapshotBatch {
    /// The default spacecraft of every snapshot.
    pub spacecraft_id: SpacecraftId,
    /// The snapshots.
    pub snapshots: Vec<BatchSnapshot>,
    /// Played-back (stored) telemetry: checked and its anomalies recorded, but no alarm or
    /// event (see [`crate::IngestMode::Stored`]).
    #[serde(default)]
    pub stored: bool,
}

impl NewSnapshotBatch {
    /// The snapshots with the batch's spacecraft filled in where a snapshot names none.
    pub fn into_snapshots(self) -> Vec<NewSnapshot> {
        let outer = self.spacecraft_id;
        self.snapshots
            .into_iter()
            .map(|s| NewSnapshot {
                id: s.id,
                spacecraft_id: s.spacecraft_id.unwrap_or_else(|| outer.clone()),
                timestamp: s.timestamp,
                parameters: s.parameters,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_snapshot_defaults_to_the_outer_spacecraft() {
        let batch: NewSnapshotBatch = serde_json::from_str(
            r#"{"spacecraftId":"A","snapshots":[
                {"timestamp":"2025-01-01T00:00:00Z","parameters":{"t":1}},
                {"spacecraftId":"B","timestamp":"2025-01-01T00:00:01Z","parameters":{}}]}"#,
        )
        .unwrap();
        let snaps = batch.into_snapshots();
        assert_eq!(snaps[0].spacecraft_id.as_str(), "A");
        assert_eq!(snaps[1].spacecraft_id.as_str(), "B");
    }

    #[test]
    fn a_snapshot_without_a_timestamp_is_rejected_naming_it() {
        let err = serde_json::from_str::<NewSnapshot>(r#"{"spacecraftId":"A","parameters":{}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("timestamp"), "{err}");
    }
}
