//! Analysis: batch analyse of a window of telemetry (nothing stored), and detect, which
//! analyses a time window and persists what it finds with `ANOMALY` events.

use crate::domain::{Anomaly, Limit, NewEvent, SpacecraftId, Timestamp};
use crate::error::{Error, Result};
use crate::rules::{AnalysisContext, analyse};

use super::recent_window_cache::WindowSnapshots;
use super::{DetectReport, MissionOps};

/// The most snapshots one analysed or detected time window may hold.
pub const MAX_WINDOW_SNAPSHOTS: usize = 1_000_000;

/// Which snapshots to analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalysisWindow {
    /// The newest `limit` snapshots, analysed newest first (the compat default).
    Recent(Limit),
    /// Every snapshot with `from <= timestamp <= to`, analysed oldest first.
    Range {
        /// The start, inclusive.
        from: Timestamp,
        /// The end, inclusive.
        to: Timestamp,
    },
}

impl AnalysisWindow {
    /// A time window, rejecting `from` after `to` (naming `from`).
    pub fn range(from: Timestamp, to: Timestamp) -> Result<Self> {
        if from > to {
            return Err(Error::invalid(
                "from",
                format!("must not be after to ({to})"),
            ));
        }
        Ok(AnalysisWindow::Range { from, to })
    }
}

impl MissionOps {
    async fn window_snapshots(
        &self,
        id: &SpacecraftId,
        window: AnalysisWindow,
    ) -> Result<WindowSnapshots> {
        match window {
            AnalysisWindow::Recent(limit) => self.recent_window(id, limit).await,
            AnalysisWindow::Range { from, to } => {
                let snapshots = self
                    .store
                    .telemetry_range(id, from, to, MAX_WINDOW_SNAPSHOTS + 1)
                    .await?;
                if snapshots.len() > MAX_WINDOW_SNAPSHOTS {
                    return Err(Error::invalid(
                        "to",
                        format!(
                            "the window holds more than {MAX_WINDOW_SNAPSHOTS} snapshots; narrow it"
                        ),
                    ));
                }
                Ok(WindowSnapshots::owned(snapshots))
            }
        }
    }

    /// Batch analyse (SPEC §3) of a window of `id`'s telemetry against its current rules: the
    /// newest snapshots newest first, or a time window oldest first. Nothing is stored.
    pub async fn analyse(&self, id: &SpacecraftId, window: AnalysisWindow) -> Result<Vec<Anomaly>> {
        let rules = self.rules_for(id).await?;
        if rules.is_empty() {
            return Ok(Vec::new());
        }
        let snapshots = self.window_snapshots(id, window).await?;
        let (window_start, window_end) = match window {
            AnalysisWindow::Range { from, to } => (Some(from), Some(to)),
            AnalysisWindow::Recent(_) => (
                snapshots.iter().map(|s| s.timestamp).min(),
                snapshots.iter().map(|s| s.timestamp).max(),
            ),
        };
        let context = AnalysisContext {
            detected_at: self.clock.now(),
            window_start,
            window_end,
        };
        Ok(analyse(&rules, &snapshots, context))
    }

    /// Analyses `from..=to` and persists what it finds, each new anomaly with an `ANOMALY`
    /// event; anomalies already stored are not stored or announced again.
    pub async fn detect(
        &self,
        id: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<DetectReport> {
        self.get_spacecraft(id).await?;
        let anomalies = self.analyse(id, AnalysisWindow::range(from, to)?).await?;
        let detected = anomalies.len();
        let with_events = anomalies
            .into_iter()
            .map(|anomaly| {
                let event = NewEvent::anomaly(self.event_stamp(), &anomaly, None);
                (anomaly, event)
            })
            .collect();
        let persisted = self.store.persist_anomalies(with_events).await?;
        Ok(DetectReport {
            detected,
            persisted,
        })
    }
}
