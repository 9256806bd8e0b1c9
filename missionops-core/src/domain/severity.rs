//! Severities and anomaly kinds.

use serde::{Deserialize, Serialize};

/// How bad something is, ordered `LOW` < `MEDIUM` < `HIGH` < `CRITICAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// Informational.
    Low,
    /// A warning limit was crossed.
    Medium,
    /// A critical limit was crossed.
    High,
    /// The spacecraft is at risk.
    Critical,
}

impl Severity {
    /// The upper-case name used in JSON and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }

    /// Parses the upper-case name.
    pub fn parse(value: &str) -> crate::Result<Self> {
        match value {
            "LOW" => Ok(Severity::Low),
            "MEDIUM" => Ok(Severity::Medium),
            "HIGH" => Ok(Severity::High),
            "CRITICAL" => Ok(Severity::Critical),
            _ => Err(crate::Error::invalid(
                "severity",
                "must be one of LOW, MEDIUM, HIGH, CRITICAL",
            )),
        }
    }
}

/// Which rule an anomaly broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AnomalyKind {
    /// Below the critical low limit.
    CritLow,
    /// Below the warning low limit.
    WarnLow,
    /// Above the critical high limit.
    CritHigh,
    /// Above the warning high limit.
    WarnHigh,
    /// Changing faster than the warning rate.
    RateWarn,
    /// Changing faster than the critical rate.
    RateCrit,
    /// No sample for longer than allowed.
    Stale,
    /// A string or boolean value outside the allowed set.
    State,
}

impl AnomalyKind {
    /// Every kind, in declaration order.
    pub const ALL: [AnomalyKind; 8] = [
        AnomalyKind::CritLow,
        AnomalyKind::WarnLow,
        AnomalyKind::CritHigh,
        AnomalyKind::WarnHigh,
        AnomalyKind::RateWarn,
        AnomalyKind::RateCrit,
        AnomalyKind::Stale,
        AnomalyKind::State,
    ];

    /// The upper-case name used in ids, JSON and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::CritLow => "CRIT_LOW",
            AnomalyKind::WarnLow => "WARN_LOW",
            AnomalyKind::CritHigh => "CRIT_HIGH",
            AnomalyKind::WarnHigh => "WARN_HIGH",
            AnomalyKind::RateWarn => "RATE_WARN",
            AnomalyKind::RateCrit => "RATE_CRIT",
            AnomalyKind::Stale => "STALE",
            AnomalyKind::State => "STATE",
        }
    }

    /// Parses the upper-case name.
    pub fn parse(value: &str) -> crate::Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == value)
            .ok_or_else(|| {
                crate::Error::invalid(
                    "kind",
                    format!("unknown anomaly kind {}", crate::error::quote(value)),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_are_ordered_and_named_in_upper_case() {
        assert!(Severity::Low < Severity::Medium && Severity::High < Severity::Critical);
        assert_eq!(
            serde_json::to_string(&Severity::Medium).unwrap(),
            "\"MEDIUM\""
        );
        assert_eq!(Severity::parse("HIGH").unwrap(), Severity::High);
        assert!(Severity::parse("high").is_err());
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in AnomalyKind::ALL {
            assert_eq!(AnomalyKind::parse(kind.as_str()).unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }
}
