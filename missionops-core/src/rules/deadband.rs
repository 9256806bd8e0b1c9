//! Persistence and deadband (SPEC §3): how one excursion out of a parameter's limits or states
//! lives across samples. It is raised only after `persistence` consecutive violating samples;
//! once raised, a low or high excursion ends only when the value is back inside the limit by at
//! least `deadband` (hysteresis against flapping). Batch analyse and the streaming monitor both
//! step an [`Excursion`] per parameter.

use crate::domain::{AnomalyKind, ParameterValue};

use super::checks;
use super::compile::Rule;
use super::extensions::Extensions;
use super::finding::Finding;
use super::thresholds::Thresholds;

/// The excursion of one parameter so far.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Excursion {
    /// Consecutive violating samples.
    run: u32,
    /// The limit or state kind raised and not yet cleared (for the deadband).
    active: Option<AnomalyKind>,
}

/// What one sample did to an excursion.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// The sample violates the rule and the run has reached `persistence`: an anomaly.
    Raise(Finding),
    /// The sample violates the rule but the run is still shorter than `persistence`, or it no
    /// longer violates but is inside the deadband of the raised limit: nothing changes.
    Holding,
    /// The sample is inside the rule (and out of any deadband): whatever was raised clears.
    Clear,
}

impl Excursion {
    /// Marks `kind` as raised (an open alarm taken back after a restart), so that its
    /// deadband holds from the next sample on.
    pub(crate) fn hold_open(&mut self, kind: AnomalyKind) {
        self.active = Some(kind);
    }

    /// Steps the excursion with one in-order sample: `thresholds` are those in force for the
    /// sample's snapshot.
    #[inline]
    pub(crate) fn step(
        &mut self,
        rule: &Rule,
        ext: &Extensions,
        thresholds: &Thresholds,
        value: &ParameterValue,
    ) -> Step {
        match checks::limit_or_state(rule, ext, thresholds, value) {
            Some(finding) => {
                self.run = self.run.saturating_add(1);
                if self.run >= ext.persistence {
                    self.active = Some(finding.kind);
                    Step::Raise(finding)
                } else {
                    Step::Holding
                }
            }
            None if still_held(self.active, ext, thresholds, value) => Step::Holding,
            None => {
                self.run = 0;
                self.active = None;
                Step::Clear
            }
        }
    }
}

/// Whether `value` is still inside the deadband of the `active` limit kind: a high alarm
/// clears only once the value is at least `deadband` below the lowest high limit, a low alarm
/// once it is at least `deadband` above the highest low limit.
fn held_by_deadband(
    active: AnomalyKind,
    thresholds: &Thresholds,
    value: f64,
    deadband: f64,
) -> bool {
    match active {
        AnomalyKind::WarnHigh | AnomalyKind::CritHigh => {
            let high = thresholds.warn_high.min(thresholds.crit_high);
            high.is_finite() && value > high - deadband
        }
        AnomalyKind::WarnLow | AnomalyKind::CritLow => {
            let low = thresholds.warn_low.max(thresholds.crit_low);
            low.is_finite() && value < low + deadband
        }
        _ => false,
    }
}

/// Whether a value that no longer violates its rule still holds the `active` violation open:
/// only a number inside the deadband of a low or high limit does.
fn still_held(
    active: Option<AnomalyKind>,
    ext: &Extensions,
    thresholds: &Thresholds,
    value: &ParameterValue,
) -> bool {
    match (active, value) {
        (Some(active), ParameterValue::Number(v)) if ext.deadband > 0.0 => {
            held_by_deadband(active, thresholds, *v, ext.deadband)
        }
        _ => false,
    }
}
