//! Played-back telemetry (a pass replayed, a backfill): checked by batch analyse per spacecraft
//! in time order from a fresh state and stored with its anomalies; no alarm, no event.

use crate::domain::{SpacecraftId, TelemetrySnapshot};
use crate::error::Result;
use crate::ports::IngestOutcome;
use crate::rules::{AnalysisContext, analyse};

use crate::service::MissionOps;

impl MissionOps {
    /// Stores played-back telemetry with the anomalies batch analyse finds in it, per
    /// spacecraft in time order from a fresh state; no alarm, no event. The live monitors are
    /// brought up to date first, so that rebuilding one later does not replay the pass.
    pub(super) async fn store_played_back(
        &self,
        snapshots: Vec<TelemetrySnapshot>,
        spacecraft: &[SpacecraftId],
    ) -> Result<IngestOutcome> {
        self.monitored_write(snapshots, spacecraft, |batch, work, out| {
            for (i, id) in batch.order.iter().enumerate() {
                let Some(monitor) = work[i].monitor.as_ref() else {
                    continue;
                };
                let rules = monitor.rules();
                if rules.is_empty() {
                    continue;
                }
                let own: Vec<TelemetrySnapshot>;
                let window: &[TelemetrySnapshot] = if batch.order.len() == 1 {
                    batch.snapshots
                } else {
                    own = batch
                        .snapshots
                        .iter()
                        .filter(|s| &s.spacecraft_id == *id)
                        .cloned()
                        .collect();
                    &own
                };
                let context = AnalysisContext {
                    detected_at: batch.context.now,
                    window_start: window.iter().map(|s| s.timestamp).min(),
                    window_end: window.iter().map(|s| s.timestamp).max(),
                };
                out.anomalies.extend(analyse(rules, window, context));
            }
        })
        .await
    }
}
