//! The compat threshold check (SPEC §3): the four limits of a parameter, compiled from a rule
//! object, and the check of a value against them in the compat order (`CRIT_LOW`, `WARN_LOW`,
//! `CRIT_HIGH`, `WARN_HIGH`, strict comparisons) with its compat severity and description.

use serde_json::Value;

use crate::domain::{AnomalyKind, JsonObject, ParameterName, Severity};
use crate::error::{Error, Result};

/// The compat threshold fields of a rule, by their JSON names, in the order they are checked.
const THRESHOLD_FIELDS: [&str; 4] = ["critLow", "warnLow", "critHigh", "warnHigh"];

/// The four compat thresholds of one parameter. Absent thresholds are stored as ±∞, so that the
/// strict comparisons of the compat table never fire for them and the hot loop needs no
/// `Option` checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// `critLow`, or −∞.
    pub crit_low: f64,
    /// `warnLow`, or −∞.
    pub warn_low: f64,
    /// `critHigh`, or +∞.
    pub crit_high: f64,
    /// `warnHigh`, or +∞.
    pub warn_high: f64,
}

impl Thresholds {
    /// No threshold at all.
    pub const NONE: Thresholds = Thresholds {
        crit_low: f64::NEG_INFINITY,
        warn_low: f64::NEG_INFINITY,
        crit_high: f64::INFINITY,
        warn_high: f64::INFINITY,
    };

    /// The compat check (SPEC §3): at most one violation, in the order `CRIT_LOW`, `WARN_LOW`,
    /// `CRIT_HIGH`, `WARN_HIGH`, with strict comparisons.
    #[inline]
    pub fn check(&self, value: f64) -> Option<ThresholdViolation> {
        // One combined test first: nearly every sample is inside its limits.
        if value >= self.warn_low
            && value >= self.crit_low
            && value <= self.warn_high
            && value <= self.crit_high
        {
            return None;
        }
        let (kind, limit) = if value < self.crit_low {
            (AnomalyKind::CritLow, self.crit_low)
        } else if value < self.warn_low {
            (AnomalyKind::WarnLow, self.warn_low)
        } else if value > self.crit_high {
            (AnomalyKind::CritHigh, self.crit_high)
        } else if value > self.warn_high {
            (AnomalyKind::WarnHigh, self.warn_high)
        } else {
            return None;
        };
        Some(ThresholdViolation { kind, limit })
    }
}

/// A threshold crossed by a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdViolation {
    /// Which threshold.
    pub kind: AnomalyKind,
    /// Its value.
    pub limit: f64,
}

impl ThresholdViolation {
    /// The compat severity: `HIGH` for critical limits, `MEDIUM` for warning limits.
    pub fn severity(&self) -> Severity {
        match self.kind {
            AnomalyKind::CritLow | AnomalyKind::CritHigh => Severity::High,
            _ => Severity::Medium,
        }
    }

    /// The compat description, `Parameter {name} below critLow {critLow}`, numbers printed as
    /// JavaScript prints them.
    pub fn describe(&self, parameter: &ParameterName) -> String {
        let (direction, field) = match self.kind {
            AnomalyKind::CritLow => ("below", "critLow"),
            AnomalyKind::WarnLow => ("below", "warnLow"),
            AnomalyKind::CritHigh => ("above", "critHigh"),
            _ => ("above", "warnHigh"),
        };
        let mut text = String::with_capacity(40 + parameter.as_str().len());
        text.push_str("Parameter ");
        text.push_str(parameter.as_str());
        text.push(' ');
        text.push_str(direction);
        text.push(' ');
        text.push_str(field);
        text.push(' ');
        crate::js_json::write_js_number(&mut text, self.limit);
        text
    }
}

/// Compiles the four threshold fields of the rule (or limit set) at `field`, rejecting values
/// that are not finite numbers and inconsistent limits, naming the field.
pub(crate) fn compile_thresholds(field: &str, rule: &JsonObject) -> Result<Thresholds> {
    let mut found: [Option<f64>; 4] = [None; 4];
    for (slot, name) in found.iter_mut().zip(THRESHOLD_FIELDS) {
        if let Some(value) = rule.get(name) {
            *slot = Some(threshold_number(&format!("{field}.{name}"), value)?);
        }
    }
    let [crit_low, warn_low, crit_high, warn_high] = found;
    let inconsistent = |a: &str, b: &str, relation: &str| {
        Err(Error::invalid(
            format!("{field}.{a}"),
            format!("must not be {relation} {b}"),
        ))
    };
    if let (Some(cl), Some(wl)) = (crit_low, warn_low) {
        if cl > wl {
            return inconsistent("critLow", "warnLow", "above");
        }
    }
    if let (Some(ch), Some(wh)) = (crit_high, warn_high) {
        if ch < wh {
            return inconsistent("critHigh", "warnHigh", "below");
        }
    }
    for (low_name, low) in [("warnLow", warn_low), ("critLow", crit_low)] {
        for (high_name, high) in [("warnHigh", warn_high), ("critHigh", crit_high)] {
            if let (Some(l), Some(h)) = (low, high) {
                if l > h {
                    return inconsistent(low_name, high_name, "above");
                }
            }
        }
    }
    Ok(Thresholds {
        crit_low: crit_low.unwrap_or(f64::NEG_INFINITY),
        warn_low: warn_low.unwrap_or(f64::NEG_INFINITY),
        crit_high: crit_high.unwrap_or(f64::INFINITY),
        warn_high: warn_high.unwrap_or(f64::INFINITY),
    })
}

fn threshold_number(field: &str, value: &Value) -> Result<f64> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or_else(|| Error::invalid(field, "must be a finite number")),
        Value::String(s) => Err(Error::invalid(
            field,
            format!(
                "must be a number, not the string {}",
                crate::error::quote(s)
            ),
        )),
        Value::Null => Err(Error::invalid(field, "must be a number, not null")),
        _ => Err(Error::invalid(field, "must be a number")),
    }
}
