//! The checks of one sample against one rule — limits or states, rate of change, staleness —
//! shared by batch analyse and the streaming monitor so that both name and describe a
//! violation the same way. What happens across samples (persistence, deadband) is in
//! [`super::deadband`].

use crate::domain::{AnomalyKind, ParameterName, ParameterValue, Timestamp};
use crate::js_json::write_js_number;

use super::compile::Rule;
use super::extensions::{Extensions, RateLimits};
use super::finding::Finding;
use super::thresholds::Thresholds;

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

/// The rate check between a `previous` and a `current` numeric sample (time, value); `None`
/// when the rate is within limits or the samples are not apart in time.
pub(crate) fn rate(
    parameter: &ParameterName,
    rates: RateLimits,
    previous: (Timestamp, f64),
    current: (Timestamp, f64),
) -> Option<Finding> {
    let seconds = (current.0.as_millis() - previous.0.as_millis()) as f64 / 1000.0;
    if seconds <= 0.0 {
        return None;
    }
    let rate = (current.1 - previous.1).abs() / seconds;
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

/// The staleness of a gap between two samples: the finding when `current` came more than
/// `stale_after_ms` after `previous` (it is recorded against the previous sample).
pub(crate) fn stale_gap(
    parameter: &ParameterName,
    stale_after_ms: i64,
    previous: Timestamp,
    current: Timestamp,
) -> Option<Finding> {
    (current.as_millis() - previous.as_millis() > stale_after_ms)
        .then(|| stale(parameter, stale_after_ms))
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
