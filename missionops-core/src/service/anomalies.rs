//! Reads of persisted anomalies: the newest, a time line, one by id.

use crate::domain::{Anomaly, AnomalyId, Limit, SpacecraftId, Timestamp};
use crate::error::{Error, Result};

use super::{AnalysisWindow, MissionOps};

impl MissionOps {
    /// Persisted anomalies of `id`, newest first.
    pub async fn list_anomalies(&self, id: &SpacecraftId, limit: Limit) -> Result<Vec<Anomaly>> {
        self.store.recent_anomalies(id, limit).await
    }

    /// Persisted anomalies of `id` in `from..=to`, oldest first.
    pub async fn anomaly_timeline(
        &self,
        id: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Anomaly>> {
        AnalysisWindow::range(from, to)?;
        self.store.anomaly_timeline(id, from, to).await
    }

    /// The persisted anomaly with `id`; [`Error::NotFound`] when unknown.
    pub async fn get_anomaly(&self, id: &AnomalyId) -> Result<Anomaly> {
        self.store
            .get_anomaly(id)
            .await?
            .ok_or_else(|| Error::not_found("anomaly", id))
    }
}
