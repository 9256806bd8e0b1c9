//! Live telemetry: every snapshot goes through its spacecraft's streaming monitor, and what the
//! monitor makes of it commits with it.

use crate::domain::{SpacecraftId, TelemetrySnapshot};
use crate::error::Result;
use crate::ports::IngestOutcome;

use crate::service::MissionOps;

impl MissionOps {
    /// Stores live telemetry with what the streaming monitor made of it, registering the
    /// spacecraft nobody registered in the same write.
    ///
    /// Every live write, of one spacecraft or several, is committed together with the live
    /// writes of any spacecraft that arrive meanwhile (group commit, see
    /// [`Self::store_live_grouped`]).
    pub(super) async fn store_live(
        &self,
        snapshots: Vec<TelemetrySnapshot>,
        spacecraft: &[SpacecraftId],
    ) -> Result<IngestOutcome> {
        self.store_live_grouped(snapshots, spacecraft.to_vec())
            .await
    }
}
