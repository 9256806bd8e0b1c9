//! The rule fields beyond the compat thresholds (SPEC §3 "Beyond compat"): enable switch,
//! persistence, deadband, rate of change, staleness, allowed/forbidden states, severity
//! overrides and context-dependent limit sets.

use serde_json::Value;

use crate::domain::{AnomalyKind, JsonObject, ParameterName, ParameterValue, Severity};
use crate::error::{Error, Result};

use super::thresholds::{Thresholds, compile_thresholds};

/// The rule fields this module reads; anything else on a rule object is kept and ignored.
pub(crate) const EXTENSION_FIELDS: [&str; 8] = [
    "enabled",
    "persistence",
    "deadband",
    "maxRate",
    "staleAfterSec",
    "allowed",
    "forbidden",
    "severity",
];

/// A scalar telemetry value a rule compares against (`when`, `allowed`, `forbidden`).
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
    /// A boolean.
    Bool(bool),
}

impl Scalar {
    /// Whether `value` equals this scalar.
    pub fn matches(&self, value: &ParameterValue) -> bool {
        match (self, value) {
            (Scalar::Number(a), ParameterValue::Number(b)) => a == b,
            (Scalar::Text(a), ParameterValue::Text(b)) => a == b,
            (Scalar::Bool(a), ParameterValue::Bool(b)) => a == b,
            _ => false,
        }
    }
}

/// Limits on the absolute rate of change per second; absent limits are +∞.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// `maxRate.warn`.
    pub warn: f64,
    /// `maxRate.crit`.
    pub crit: f64,
}

/// The severity of each class of violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Severities {
    /// Warning limits and `RATE_WARN` (compat: `MEDIUM`).
    pub warn: Severity,
    /// Critical limits and `RATE_CRIT` (compat: `HIGH`).
    pub crit: Severity,
    /// `STATE` (default `MEDIUM`).
    pub state: Severity,
    /// `STALE` (default `MEDIUM`).
    pub stale: Severity,
}

impl Default for Severities {
    fn default() -> Self {
        Severities {
            warn: Severity::Medium,
            crit: Severity::High,
            state: Severity::Medium,
            stale: Severity::Medium,
        }
    }
}

impl Severities {
    /// The severity of an anomaly of `kind`.
    pub fn of(&self, kind: AnomalyKind) -> Severity {
        match kind {
            AnomalyKind::CritLow | AnomalyKind::CritHigh | AnomalyKind::RateCrit => self.crit,
            AnomalyKind::WarnLow | AnomalyKind::WarnHigh | AnomalyKind::RateWarn => self.warn,
            AnomalyKind::State => self.state,
            AnomalyKind::Stale => self.stale,
        }
    }
}

/// One context-dependent set of limits: applies when every `when` parameter of the same
/// snapshot has the given value.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitSet {
    /// The conditions, all of which must hold.
    pub when: Vec<(ParameterName, Scalar)>,
    /// The thresholds in that context (absent ones are absent, not inherited).
    pub thresholds: Thresholds,
}

/// The beyond-compat fields of one rule, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Extensions {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `persistence`: consecutive violating samples before anything is raised (default 1).
    pub persistence: u32,
    /// `deadband`: how far back inside a limit a value must come to clear (default 0).
    pub deadband: f64,
    /// `maxRate`.
    pub max_rate: Option<RateLimits>,
    /// `staleAfterSec`, in milliseconds.
    pub stale_after_ms: Option<i64>,
    /// `allowed`: the only acceptable string/boolean values.
    pub allowed: Option<Vec<Scalar>>,
    /// `forbidden`: string/boolean values that are violations.
    pub forbidden: Vec<Scalar>,
    /// `severity` overrides.
    pub severities: Severities,
    /// `limitSets`, first match wins.
    pub limit_sets: Vec<LimitSet>,
}

impl Default for Extensions {
    fn default() -> Self {
        Extensions {
            enabled: true,
            persistence: 1,
            deadband: 0.0,
            max_rate: None,
            stale_after_ms: None,
            allowed: None,
            forbidden: Vec::new(),
            severities: Severities::default(),
            limit_sets: Vec::new(),
        }
    }
}

impl Extensions {
    /// Whether `value` breaks `allowed` or `forbidden`; numbers never do.
    pub fn state_violation(&self, value: &ParameterValue) -> Option<&'static str> {
        if matches!(value, ParameterValue::Number(_)) {
            return None;
        }
        if self.forbidden.iter().any(|s| s.matches(value)) {
            return Some("is forbidden");
        }
        match &self.allowed {
            Some(allowed) if !allowed.iter().any(|s| s.matches(value)) => Some("is not allowed"),
            _ => None,
        }
    }
}

/// Compiles the beyond-compat fields of the rule at `field`; `None` when it has none, so that
/// a compat-only rule stays on the compat path. `thresholds` are the rule's defaults, for the
/// deadband check.
pub(crate) fn compile_extensions(
    field: &str,
    rule: &JsonObject,
    thresholds: &Thresholds,
) -> Result<Option<Extensions>> {
    if !EXTENSION_FIELDS.iter().any(|f| rule.contains_key(*f)) && !rule.contains_key("limitSets") {
        return Ok(None);
    }
    let at = |name: &str| format!("{field}.{name}");
    let mut ext = Extensions::default();
    if let Some(value) = rule.get("enabled") {
        ext.enabled = value
            .as_bool()
            .ok_or_else(|| Error::invalid(at("enabled"), "must be true or false"))?;
    }
    if let Some(value) = rule.get("persistence") {
        ext.persistence = value
            .as_u64()
            .filter(|n| (1..=1_000_000).contains(n))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                Error::invalid(
                    at("persistence"),
                    "must be a whole number from 1 to 1000000",
                )
            })?;
    }
    if let Some(value) = rule.get("deadband") {
        let deadband = positive_number(&at("deadband"), value, true)?;
        let band = thresholds.warn_high.min(thresholds.crit_high)
            - thresholds.warn_low.max(thresholds.crit_low);
        if band.is_finite() && deadband > band {
            return Err(Error::invalid(
                at("deadband"),
                format!(
                    "must not be wider than the band between the low and high limits ({})",
                    crate::js_json::format_js_number(band)
                ),
            ));
        }
        ext.deadband = deadband;
    }
    if let Some(value) = rule.get("maxRate") {
        let object = value.as_object().ok_or_else(|| {
            Error::invalid(
                at("maxRate"),
                "must be an object {warn?, crit?} of rates per second",
            )
        })?;
        let warn = object
            .get("warn")
            .map(|v| positive_number(&at("maxRate.warn"), v, false))
            .transpose()?;
        let crit = object
            .get("crit")
            .map(|v| positive_number(&at("maxRate.crit"), v, false))
            .transpose()?;
        if warn.is_none() && crit.is_none() {
            return Err(Error::invalid(at("maxRate"), "must set warn, crit or both"));
        }
        if let (Some(w), Some(c)) = (warn, crit) {
            if c < w {
                return Err(Error::invalid(
                    at("maxRate.crit"),
                    "must not be below maxRate.warn",
                ));
            }
        }
        ext.max_rate = Some(RateLimits {
            warn: warn.unwrap_or(f64::INFINITY),
            crit: crit.unwrap_or(f64::INFINITY),
        });
    }
    if let Some(value) = rule.get("staleAfterSec") {
        let seconds = positive_number(&at("staleAfterSec"), value, false)?;
        if seconds > 31_536_000.0 {
            return Err(Error::invalid(
                at("staleAfterSec"),
                "must be at most a year (31536000)",
            ));
        }
        #[allow(clippy::cast_possible_truncation)]
        let millis = (seconds * 1000.0).round() as i64;
        ext.stale_after_ms = Some(millis.max(1));
    }
    if let Some(value) = rule.get("allowed") {
        ext.allowed = Some(state_list(&at("allowed"), value)?);
    }
    if let Some(value) = rule.get("forbidden") {
        ext.forbidden = state_list(&at("forbidden"), value)?;
    }
    if let Some(value) = rule.get("severity") {
        ext.severities = severities(&at("severity"), value)?;
    }
    if let Some(value) = rule.get("limitSets") {
        let sets = value.as_array().ok_or_else(|| {
            Error::invalid(at("limitSets"), "must be an array of {when, warnLow?, …}")
        })?;
        for (i, set) in sets.iter().enumerate() {
            let set_field = at(&format!("limitSets[{i}]"));
            let object = set.as_object().ok_or_else(|| {
                Error::invalid(&set_field, "must be an object {when, warnLow?, …}")
            })?;
            let when = object
                .get("when")
                .and_then(Value::as_object)
                .filter(|w| !w.is_empty())
                .ok_or_else(|| {
                    Error::invalid(
                        format!("{set_field}.when"),
                        "must be a non-empty object of parameter → value",
                    )
                })?;
            let mut conditions = Vec::with_capacity(when.len());
            for (name, value) in when {
                let condition_field = format!("{set_field}.when.{name}");
                let parameter = ParameterName::parse(name.as_str()).map_err(|e| {
                    Error::invalid(
                        &condition_field,
                        format!("is not a valid parameter name ({e})"),
                    )
                })?;
                let scalar = scalar(value).ok_or_else(|| {
                    Error::invalid(&condition_field, "must be a string, number or boolean")
                })?;
                conditions.push((parameter, scalar));
            }
            ext.limit_sets.push(LimitSet {
                when: conditions,
                thresholds: compile_thresholds(&set_field, object)?,
            });
        }
    }
    Ok(Some(ext))
}

fn positive_number(field: &str, value: &Value, zero_allowed: bool) -> Result<f64> {
    let number = value
        .as_f64()
        .filter(|v| v.is_finite())
        .ok_or_else(|| Error::invalid(field, "must be a number"))?;
    if number < 0.0 || (!zero_allowed && number == 0.0) {
        let bound = if zero_allowed {
            "zero or more"
        } else {
            "more than zero"
        };
        return Err(Error::invalid(field, format!("must be {bound}")));
    }
    Ok(number)
}

fn scalar(value: &Value) -> Option<Scalar> {
    match value {
        Value::Number(n) => n.as_f64().map(Scalar::Number),
        Value::String(s) => Some(Scalar::Text(s.clone())),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        _ => None,
    }
}

fn state_list(field: &str, value: &Value) -> Result<Vec<Scalar>> {
    let items = value
        .as_array()
        .ok_or_else(|| Error::invalid(field, "must be an array of strings or booleans"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => Ok(Scalar::Text(s.clone())),
            Value::Bool(b) => Ok(Scalar::Bool(*b)),
            _ => Err(Error::invalid(
                format!("{field}[{i}]"),
                "must be a string or a boolean",
            )),
        })
        .collect()
}

fn severities(field: &str, value: &Value) -> Result<Severities> {
    let object = value
        .as_object()
        .ok_or_else(|| Error::invalid(field, "must be an object {warn?, crit?, state?, stale?}"))?;
    let mut severities = Severities::default();
    for (name, value) in object {
        let parsed = value
            .as_str()
            .and_then(|s| Severity::parse(s).ok())
            .ok_or_else(|| {
                Error::invalid(
                    format!("{field}.{name}"),
                    "must be one of LOW, MEDIUM, HIGH, CRITICAL",
                )
            })?;
        match name.as_str() {
            "warn" => severities.warn = parsed,
            "crit" => severities.crit = parsed,
            "state" => severities.state = parsed,
            "stale" => severities.stale = parsed,
            _ => {
                return Err(Error::invalid(
                    format!("{field}.{name}"),
                    "is not a severity class (warn, crit, state, stale)",
                ));
            }
        }
    }
    Ok(severities)
}
