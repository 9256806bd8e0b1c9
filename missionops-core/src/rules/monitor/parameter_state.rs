//! The monitor's state of one parameter: its newest sample, its excursion and its open alarms.

use crate::domain::{Alarm, AnomalyKind, ParameterValue, SnapshotId, Timestamp};

use super::super::deadband::Excursion;

/// The newest in-order sample of a parameter.
#[derive(Debug, Clone)]
pub(super) struct LastSample {
    pub(super) snapshot: SnapshotId,
    pub(super) timestamp: Timestamp,
    /// Kept only when a rate or staleness check needs it.
    pub(super) value: Option<ParameterValue>,
}

/// Which of a parameter's alarms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    /// Limit or state excursion.
    Limit,
    /// Rate of change.
    Rate,
    /// No sample for too long.
    Stale,
}

impl Slot {
    pub(super) const ALL: [Slot; 3] = [Slot::Limit, Slot::Rate, Slot::Stale];

    pub(super) fn of(kind: AnomalyKind) -> Slot {
        match kind {
            AnomalyKind::RateWarn | AnomalyKind::RateCrit => Slot::Rate,
            AnomalyKind::Stale => Slot::Stale,
            _ => Slot::Limit,
        }
    }
}

/// The state of one parameter that has a rule.
#[derive(Debug, Clone, Default)]
pub(super) struct ParameterMonitor {
    pub(super) last: Option<LastSample>,
    /// When the newest in-order sample arrived, by the application's clock.
    pub(super) arrived: Option<Timestamp>,
    /// The current limit or state excursion (persistence and deadband).
    pub(super) excursion: Excursion,
    // Boxed: most parameters have no open alarm, and a small state keeps the hot loop's
    // memory traffic low.
    pub(super) limit_alarm: Option<Box<Alarm>>,
    pub(super) rate_alarm: Option<Box<Alarm>>,
    pub(super) stale_alarm: Option<Box<Alarm>>,
}

impl ParameterMonitor {
    pub(super) fn slot(&mut self, slot: Slot) -> &mut Option<Box<Alarm>> {
        match slot {
            Slot::Limit => &mut self.limit_alarm,
            Slot::Rate => &mut self.rate_alarm,
            Slot::Stale => &mut self.stale_alarm,
        }
    }

    pub(super) fn alarms(&self) -> impl Iterator<Item = &Alarm> {
        [&self.limit_alarm, &self.rate_alarm, &self.stale_alarm]
            .into_iter()
            .flatten()
            .map(|alarm| &**alarm)
    }
}
