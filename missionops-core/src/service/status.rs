//! Status: the compat health of one spacecraft (SPEC §5) and the fleet overview.

use futures_util::future::{try_join, try_join3};
use serde::Serialize;

use crate::domain::{Severity, SpacecraftId, SpacecraftName, Timestamp};
use crate::error::{Error, Result};
use crate::ports::AnomalyCount;

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

/// One line of the fleet overview: the status (with its active alarms) plus the name and what
/// the console marks a tile with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetEntry {
    /// The compat status.
    #[serde(flatten)]
    pub status: SpacecraftStatus,
    /// The spacecraft's name.
    pub name: SpacecraftName,
    /// An open `STALE` alarm (shelved ones included) whose parameter has not arrived since: a
    /// monitored parameter stopped arriving.
    pub stale: bool,
    /// When contact was lost (its newest `CONTACT_LOST` event), while no telemetry newer than
    /// that has arrived; `null` otherwise.
    pub contact_lost_at: Option<Timestamp>,
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
        let store = &self.shared.store;
        let last = store.last_telemetry_timestamp(&self.tenant, id).await?;
        let mut counts = [AnomalyCount::default(); 3];
        for (count, window) in counts.iter_mut().zip(WINDOWS_MS) {
            *count = store
                .count_anomalies_since(&self.tenant, id, now.add_millis(-window))
                .await?;
        }
        let active_alarms = self.active_alarm_count(id).await?;
        Ok(status_of(id, last, counts, active_alarms))
    }

    /// The status of every spacecraft, with its name, open alarms and marks (stale, contact
    /// lost), in registration order. Read [`FLEET_READS_OF`] spacecraft at a time, each read
    /// asked for all of them (the anomaly counts for every window) at once, and the alarms
    /// once for the tenant: the console's fleet page reloads this on every event, and one
    /// read per spacecraft and figure made a fleet of 1,000 five thousand reads.
    ///
    /// Callers of one tenant that ask while a status is being made share the next one (see
    /// `status_runs`): every answer is made after its caller asked, and a burst of callers
    /// (a control room's screens after one event) costs at most two statuses.
    pub async fn fleet_status(&self) -> Result<Vec<FleetEntry>> {
        let runs = self.shared.status_runs.of(&self.tenant);
        runs.status(self.read_fleet_status()).await
    }

    /// [`Self::fleet_status`], read from the store.
    async fn read_fleet_status(&self) -> Result<Vec<FleetEntry>> {
        // The reads go out together (each backend runs them on connections of their own):
        // a status waits for the slowest, not for their sum.
        let (spacecraft, alarms) =
            try_join(self.every_spacecraft(), self.open_alarm_summaries()).await?;
        let now = self.shared.clock.now();
        let store = &self.shared.store;
        let since = WINDOWS_MS.map(|window| now.add_millis(-window));
        let mut fleet = Vec::with_capacity(spacecraft.len());
        for chunk in spacecraft.chunks(FLEET_READS_OF) {
            let ids: Vec<SpacecraftId> = chunk.iter().map(|s| s.id.clone()).collect();
            let (last, counts, lost) = try_join3(
                store.last_telemetry_timestamps_of(&self.tenant, &ids),
                store.count_anomalies_since_of(&self.tenant, &ids, &since),
                store.last_contact_lost_of(&self.tenant, &ids),
            )
            .await?;
            let answered = || {
                Error::backend(
                    "the store answered the fleet's status for other spacecraft than asked",
                )
            };
            if last.len() != ids.len() || counts.len() != ids.len() || lost.len() != ids.len() {
                return Err(answered());
            }
            for (((spacecraft, last), counts), lost) in chunk.iter().zip(last).zip(counts).zip(lost)
            {
                let counts: [AnomalyCount; 3] = counts.try_into().map_err(|_| answered())?;
                let alarms = alarms.get(&spacecraft.id).copied().unwrap_or_default();
                fleet.push(FleetEntry {
                    status: status_of(&spacecraft.id, last, counts, alarms.needing_attention),
                    name: spacecraft.name.clone(),
                    stale: alarms.stale,
                    // Telemetry newer than the loss means contact came back.
                    contact_lost_at: lost.filter(|lost| last.is_none_or(|last| *lost >= last)),
                });
            }
        }
        Ok(fleet)
    }
}

/// How many spacecraft the fleet's status asks each read about at once.
const FLEET_READS_OF: usize = 1000;

/// The windows of the anomaly counts, newest first: an hour, six hours, a day.
const WINDOWS_MS: [i64; 3] = [HOUR_MS, 6 * HOUR_MS, 24 * HOUR_MS];

/// The status of `id` from its newest sample time, its anomaly counts over [`WINDOWS_MS`] and
/// its alarms that need attention.
fn status_of(
    id: &SpacecraftId,
    last: Option<Timestamp>,
    [h1, h6, h24]: [AnomalyCount; 3],
    active_alarms: usize,
) -> SpacecraftStatus {
    let highest = h24.highest.unwrap_or(Severity::Low);
    SpacecraftStatus {
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
    }
}
