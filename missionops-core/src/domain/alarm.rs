//! Alarms: one excursion of one parameter out of limits, with its operator-facing lifecycle.

use serde::{Deserialize, Serialize};

use super::ids::{AlarmId, Operator, ParameterName, SpacecraftId};
use super::severity::{AnomalyKind, Severity};
use super::time::Timestamp;
use super::value::ParameterValue;

/// Where an alarm is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    /// Raised and not yet seen by an operator.
    Active,
    /// An operator has seen it.
    Acknowledged,
    /// The value is back within limits.
    Cleared,
    /// Silenced by an operator until a time.
    Shelved,
}

impl AlarmState {
    /// The upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Active => "ACTIVE",
            AlarmState::Acknowledged => "ACKNOWLEDGED",
            AlarmState::Cleared => "CLEARED",
            AlarmState::Shelved => "SHELVED",
        }
    }

    /// Parses the upper-case name.
    pub fn parse(value: &str) -> crate::Result<Self> {
        match value {
            "ACTIVE" => Ok(AlarmState::Active),
            "ACKNOWLEDGED" => Ok(AlarmState::Acknowledged),
            "CLEARED" => Ok(AlarmState::Cleared),
            "SHELVED" => Ok(AlarmState::Shelved),
            _ => Err(crate::Error::invalid(
                "state",
                "must be one of ACTIVE, ACKNOWLEDGED, CLEARED, SHELVED",
            )),
        }
    }
}

/// One excursion of one parameter out of limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alarm {
    /// The id.
    pub id: AlarmId,
    /// The spacecraft.
    pub spacecraft_id: SpacecraftId,
    /// The parameter.
    pub parameter: ParameterName,
    /// The rule that raised it.
    pub kind: AnomalyKind,
    /// Where it is in its lifecycle.
    pub state: AlarmState,
    /// The worst severity seen during the excursion.
    pub severity: Severity,
    /// How many violating samples the excursion has had.
    pub violation_count: u64,
    /// The sample time that raised it.
    pub opened_at: Timestamp,
    /// The latest value seen.
    pub last_value: ParameterValue,
    /// The sample time that cleared it.
    pub cleared_at: Option<Timestamp>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<Operator>,
    /// When it was acknowledged.
    pub acknowledged_at: Option<Timestamp>,
    /// The operator's comment.
    pub comment: Option<String>,
    /// Silenced until this time.
    pub shelved_until: Option<Timestamp>,
}

/// Which states [`AlarmFilter`] lets through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AlarmStates {
    /// Every alarm an operator still has to deal with: any state but `CLEARED` (an alarm that
    /// returned to normal unacknowledged is still `ACTIVE`, so it stays listed).
    #[default]
    Open,
    /// Only this state.
    Only(AlarmState),
    /// Every alarm, history included.
    All,
}

impl AlarmStates {
    /// Whether an alarm in `state` passes.
    pub fn admits(self, state: AlarmState) -> bool {
        match self {
            AlarmStates::Open => state != AlarmState::Cleared,
            AlarmStates::Only(only) => state == only,
            AlarmStates::All => true,
        }
    }

    /// Parses a query value: a state name, `OPEN` or `ALL`.
    pub fn parse(value: &str) -> crate::Result<Self> {
        match value {
            "OPEN" => Ok(AlarmStates::Open),
            "ALL" => Ok(AlarmStates::All),
            other => AlarmState::parse(other)
                .map(AlarmStates::Only)
                .map_err(|_| {
                    crate::Error::invalid(
                        "state",
                        "must be one of ACTIVE, ACKNOWLEDGED, CLEARED, SHELVED, OPEN, ALL",
                    )
                }),
        }
    }
}

/// Which alarms to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmFilter {
    /// Only this spacecraft's.
    pub spacecraft_id: Option<SpacecraftId>,
    /// Which states (default: every open alarm, see [`AlarmStates::Open`]).
    pub states: AlarmStates,
}
