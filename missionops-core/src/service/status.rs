//! Status: the compat health of one spacecraft (SPEC §5) and the fleet overview.

use serde::Serialize;

use crate::domain::{Severity, SpacecraftId, SpacecraftName, Timestamp};
use crate::error::Result;

use super::MissionOps;

const HOUR_MS: i64 = 3_600_000;

/// Anomaly counts over the last hour, six hours and day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnomalyCounts {
    /// In the last hour.
    pub last1h: u64,
    /// In the last six hours.
    pub last6h: u64,
    /// In the last 24 hours.
    pub last24h: u64,
}

/// A spacecraft's overall health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OverallStatus {
    /// Nothing worse than `LOW` in 24 h.
    Nominal,
    /// A `MEDIUM` anomaly in 24 h.
    Warning,
    /// A `HIGH` or `CRITICAL` anomaly in 24 h.
    Critical,
}

impl OverallStatus {
    /// The compat formula: `CRITICAL` when the worst severity is `HIGH` or `CRITICAL`, `WARNING`
    /// when `MEDIUM`, else `NOMINAL`.
    pub fn from_highest(highest: Severity) -> Self {
        match highest {
            Severity::High | Severity::Critical => OverallStatus::Critical,
            Severity::Medium => OverallStatus::Warning,
            Severity::Low => OverallStatus::Nominal,
        }
    }
}

/// `GET /spacecraft/:id/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpacecraftStatus {
    /// The spacecraft.
    pub spacecraft_id: SpacecraftId,
    /// The newest sample time, `null` without telemetry.
    pub last_telemetry_timestamp: Option<Timestamp>,
    /// Persisted anomalies by sample time, relative to now.
    pub anomalies: AnomalyCounts,
    /// The worst severity in 24 h, `LOW` when there was none.
    pub highest_severity_last24h: Severity,
    /// The compat health formula.
    pub overall_status: OverallStatus,
    /// Alarms that need attention (`ACTIVE` or `ACKNOWLEDGED`), beside the compat counts.
    pub active_alarms: usize,
}

/// One line of the fleet overview: the status (with its active alarms) plus the name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetEntry {
    /// The compat status.
    #[serde(flatten)]
    pub status: SpacecraftStatus,
    /// The spacecraft's name.
    pub name: SpacecraftName,
}

impl MissionOps {
    /// The status of a registered spacecraft: [`Error::NotFound`](crate::Error::NotFound) for an id nobody registered,
    /// where [`Self::status`] answers the compat nominal status. For an operator typing an id,
    /// an unknown one is more likely a typo than a spacecraft before its first contact.
    pub async fn registered_status(&self, id: &SpacecraftId) -> Result<SpacecraftStatus> {
        self.get_spacecraft(id).await?;
        self.status(id).await
    }

    /// The compat status of `id` (SPEC §5). A spacecraft nobody registered has no telemetry,
    /// anomalies or alarms, so it answers as the TypeScript service did, and as dashboards that
    /// poll a spacecraft before its first contact expect: no last telemetry, zero counts,
    /// `LOW`, `NOMINAL`.
    pub async fn status(&self, id: &SpacecraftId) -> Result<SpacecraftStatus> {
        let now = self.shared.clock.now();
        let last = self
            .shared
            .store
            .last_telemetry_timestamp(&self.tenant, id)
            .await?;
        let h1 = self
            .shared
            .store
            .count_anomalies_since(&self.tenant, id, now.add_millis(-HOUR_MS))
            .await?;
        let h6 = self
            .shared
            .store
            .count_anomalies_since(&self.tenant, id, now.add_millis(-6 * HOUR_MS))
            .await?;
        let h24 = self
            .shared
            .store
            .count_anomalies_since(&self.tenant, id, now.add_millis(-24 * HOUR_MS))
            .await?;
        let highest = h24.highest.unwrap_or(Severity::Low);
        let active_alarms = self.active_alarm_count(id).await?;
        Ok(SpacecraftStatus {
            spacecraft_id: id.clone(),
            last_telemetry_timestamp: last,
            anomalies: AnomalyCounts {
                last1h: h1.count,
                last6h: h6.count,
                last24h: h24.count,
            },
            highest_severity_last24h: highest,
            overall_status: OverallStatus::from_highest(highest),
            active_alarms,
        })
    }

    /// The status of every spacecraft, with its name and open alarms, in registration order.
    pub async fn fleet_status(&self) -> Result<Vec<FleetEntry>> {
        let mut fleet = Vec::new();
        for spacecraft in self.every_spacecraft().await? {
            let status = self.status(&spacecraft.id).await?;
            fleet.push(FleetEntry {
                status,
                name: spacecraft.name,
            });
        }
        Ok(fleet)
    }
}
