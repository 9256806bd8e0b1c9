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

    /// Whether an alarm in this state needs an operator's attention: `ACTIVE` or
    /// `ACKNOWLEDGED` (a shelved alarm is silenced, a cleared one is over).
    pub fn needs_attention(self) -> bool {
        matches!(self, AlarmState::Active | AlarmState::Acknowledged)
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

impl Alarm {
    /// An operator has seen the alarm: `ACTIVE` becomes `ACKNOWLEDGED`, or `CLEARED` when the
    /// value has already returned to normal; a shelved alarm stays shelved (and comes back
    /// acknowledged). [`Error::Conflict`](crate::Error::Conflict) when it is already
    /// acknowledged or cleared.
    pub fn acknowledge(
        &mut self,
        by: Operator,
        comment: Option<String>,
        now: Timestamp,
    ) -> crate::Result<()> {
        if self.acknowledged_at.is_some() || self.state == AlarmState::Cleared {
            return Err(self.conflict("is already acknowledged"));
        }
        self.acknowledged_by = Some(by);
        self.acknowledged_at = Some(now);
        if comment.is_some() {
            self.comment = comment;
        }
        if self.state != AlarmState::Shelved {
            self.state = self.resting_state();
        }
        Ok(())
    }

    /// Silences the alarm until `until` (after `now`): it raises no events meanwhile.
    /// [`Error::Conflict`](crate::Error::Conflict) when it is cleared.
    pub fn shelve(
        &mut self,
        until: Timestamp,
        comment: Option<String>,
        now: Timestamp,
    ) -> crate::Result<()> {
        if until <= now {
            return Err(crate::Error::invalid(
                "until",
                format!("must be in the future (now is {now})"),
            ));
        }
        if self.state == AlarmState::Cleared {
            return Err(self.conflict("is cleared"));
        }
        self.state = AlarmState::Shelved;
        self.shelved_until = Some(until);
        if comment.is_some() {
            self.comment = comment;
        }
        Ok(())
    }

    /// Ends a shelving early (or on time): the alarm returns to the state its
    /// acknowledgement and clearing give it. [`Error::Conflict`](crate::Error::Conflict) when
    /// it is not shelved.
    pub fn unshelve(&mut self) -> crate::Result<()> {
        if self.state != AlarmState::Shelved {
            return Err(self.conflict("is not shelved"));
        }
        self.shelved_until = None;
        self.state = self.resting_state();
        Ok(())
    }

    /// The state an alarm rests in when nobody shelves it.
    fn resting_state(&self) -> AlarmState {
        match (self.acknowledged_at.is_some(), self.cleared_at.is_some()) {
            (true, true) => AlarmState::Cleared,
            (true, false) => AlarmState::Acknowledged,
            (false, _) => AlarmState::Active,
        }
    }

    fn conflict(&self, reason: &str) -> crate::Error {
        crate::Error::conflict("alarm", &self.id, reason)
    }
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
