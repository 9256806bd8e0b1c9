//! The checks of one sample against one rule, shared by batch analyse and the streaming
//! monitor so that both name and describe a violation the same way.

use crate::domain::{AnomalyKind, ParameterName, ParameterValue};
use crate::json::write_js_number;

use super::compile::{Rule, Thresholds};
use super::fields::{Extensions, RateLimits};

/// A violation found by one check: its kind, the limit crossed (when there is one) and the
/// description an anomaly carries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    /// What was violated.
    pub kind: AnomalyKind,
    /// The limit crossed: a threshold, a rate, or a staleness in seconds.
    pub limit: Option<f64>,
    /// `Parameter {name} …`.
    pub description: String,
}

/// The limit or state check of `value` (SPEC §3): thresholds for numbers (`thresholds` are the
/// ones in force for the sample's snapshot), `allowed`/`forbidden` for strings and booleans.
pub(crate) fn limit_or_state(
    rule: &Rule,
    ext: &Extensions,
    thresholds: &Thresholds,
    value: &ParameterValue,
) -> Option<Finding> {
    match value {
        ParameterValue::Number(v) => thresholds.check(*v).map(|t| Finding {
            kind: t.kind,
            limit: Some(t.limit),
            // The defaults' descriptions were written once at compile time.
            description: if std::ptr::eq(thresholds, &rule.thresholds) {
                rule.describe(&t)
            } else {
                t.describe(&rule.parameter)
            },
        }),
        other => ext.state_violation(other).map(|verdict| Finding {
            kind: AnomalyKind::State,
            limit: None,
            description: format!("Parameter {} value {other} {verdict}", rule.parameter),
        }),
    }
}

/// The rate check between two numeric samples `seconds` apart; `None` when the rate is within
/// limits or the samples are not apart in time.
pub(crate) fn rate(
    parameter: &ParameterName,
    rates: RateLimits,
    previous: f64,
    value: f64,
    seconds: f64,
) -> Option<Finding> {
    if seconds <= 0.0 {
        return None;
    }
    let rate = (value - previous).abs() / seconds;
    let (kind, class, limit) = if rate > rates.crit {
        (AnomalyKind::RateCrit, "crit", rates.crit)
    } else if rate > rates.warn {
        (AnomalyKind::RateWarn, "warn", rates.warn)
    } else {
        return None;
    };
    let mut description = format!("Parameter {parameter} changed at ");
    write_js_number(&mut description, rate);
    description.push_str(&format!("/s, above maxRate.{class} "));
    write_js_number(&mut description, limit);
    Some(Finding {
        kind,
        limit: Some(limit),
        description,
    })
}

/// The staleness finding of a parameter whose rule says `staleAfterSec` (in milliseconds).
pub(crate) fn stale(parameter: &ParameterName, stale_after_ms: i64) -> Finding {
    let seconds = stale_after_ms as f64 / 1000.0;
    let mut description = format!("Parameter {parameter} had no sample for more than ");
    write_js_number(&mut description, seconds);
    description.push('s');
    Finding {
        kind: AnomalyKind::Stale,
        limit: Some(seconds),
        description,
    }
}

/// Whether `value` is still inside the deadband of the `active` limit kind: a high alarm
/// clears only once the value is at least `deadband` below the lowest high limit, a low alarm
/// once it is at least `deadband` above the highest low limit.
pub(crate) fn held_by_deadband(
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
pub(crate) fn still_held(
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
