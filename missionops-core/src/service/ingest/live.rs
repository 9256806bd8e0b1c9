//! Live telemetry: every snapshot goes through its spacecraft's streaming monitor, and what the
//! monitor makes of it commits with it.

use crate::domain::{SpacecraftId, TelemetrySnapshot};
use crate::error::Result;
use crate::ports::IngestOutcome;

use crate::service::MissionOps;

impl MissionOps {
    /// Stores live telemetry with what the streaming monitor made of it, in one write.
    ///
    /// A write of one spacecraft (the usual one) is committed together with the live writes
    /// of that spacecraft that arrive meanwhile (group commit, see [`Self::store_live_grouped`]);
    /// a write naming several spacecraft goes alone.
    pub(super) async fn store_live(
        &self,
        snapshots: Vec<TelemetrySnapshot>,
        spacecraft: &[SpacecraftId],
    ) -> Result<IngestOutcome> {
        if let [id] = spacecraft {
            return self.store_live_grouped(id, snapshots).await;
        }
        self.monitored_write(snapshots, spacecraft, |batch, work, out| {
            for snapshot in batch.snapshots {
                let monitor = batch
                    .position(&snapshot.spacecraft_id)
                    .and_then(|i| work[i].monitor.as_mut());
                if let Some(monitor) = monitor {
                    monitor.observe(snapshot, batch.context, out);
                }
            }
        })
        .await
    }
}
