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
    /// The states of an open alarm: every state but `CLEARED` ([`AlarmStates::Open`]), for a
    /// store that looks them up by state.
    pub const OPEN: [AlarmState; 3] = [
        AlarmState::Active,
        AlarmState::Acknowledged,
        AlarmState::Shelved,
    ];

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

    /// The query value that [`AlarmStates::parse`] reads back: a state name, `OPEN` or `ALL`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmStates::Open => "OPEN",
            AlarmStates::Only(state) => state.as_str(),
            AlarmStates::All => "ALL",
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

impl AlarmFilter {
    /// Whether `alarm` passes.
    pub fn admits(&self, alarm: &Alarm) -> bool {
        self.spacecraft_id
            .as_ref()
            .is_none_or(|id| &alarm.spacecraft_id == id)
            && self.states.admits(alarm.state)
    }
}

/// Where a page of alarms ended: the opening time and id of its last alarm. Alarms are listed
/// most recently opened first (ties: greater id first), so the next page holds the alarms that
/// sort after it (a keyset cursor: reading on costs the same however deep the list, and an
/// alarm opened meanwhile does not shift the pages after the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmCursor {
    /// When the page's last alarm opened.
    pub opened_at: Timestamp,
    /// Its id.
    pub id: AlarmId,
}

impl AlarmCursor {
    /// The cursor just after `alarm`.
    pub fn after(alarm: &Alarm) -> Self {
        AlarmCursor {
            opened_at: alarm.opened_at,
            id: alarm.id.clone(),
        }
    }

    /// Whether `alarm` comes after the cursor in list order.
    pub fn precedes(&self, alarm: &Alarm) -> bool {
        (alarm.opened_at, &alarm.id) < (self.opened_at, &self.id)
    }

    /// The cursor as the text a client passes back (`<epoch ms>_<alarm id>`).
    pub fn token(&self) -> String {
        format!("{}_{}", self.opened_at.as_millis(), self.id)
    }
}

impl std::str::FromStr for AlarmCursor {
    type Err = crate::Error;

    /// Parses an [`AlarmCursor::token`]; anything else is [`crate::Error::Invalid`] naming
    /// `cursor`.
    fn from_str(text: &str) -> crate::Result<Self> {
        let invalid = || {
            crate::Error::invalid(
                "cursor",
                "must be a cursor given by a previous page (its `Link: rel=\"next\"`)",
            )
        };
        let (millis, id) = text.split_once('_').ok_or_else(invalid)?;
        let millis: i64 = millis.parse().map_err(|_| invalid())?;
        let opened_at = Timestamp::from_millis(millis).map_err(|_| invalid())?;
        let id = AlarmId::parse(id).map_err(|_| invalid())?;
        Ok(AlarmCursor { opened_at, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_states_are_every_state_an_open_filter_admits() {
        for state in [
            AlarmState::Active,
            AlarmState::Acknowledged,
            AlarmState::Cleared,
            AlarmState::Shelved,
        ] {
            assert_eq!(
                AlarmState::OPEN.contains(&state),
                AlarmStates::Open.admits(state),
                "{state:?}"
            );
        }
        for states in [
            AlarmStates::Open,
            AlarmStates::All,
            AlarmStates::Only(AlarmState::Shelved),
        ] {
            assert_eq!(AlarmStates::parse(states.as_str()).expect("parse"), states);
        }
    }

    #[test]
    fn a_cursor_reads_back_from_its_token() {
        let cursor = AlarmCursor {
            opened_at: Timestamp::from_millis(1_748_736_000_123).expect("time"),
            id: AlarmId::parse("0190-ab_cd").expect("id"),
        };
        assert_eq!(cursor.token(), "1748736000123_0190-ab_cd");
        assert_eq!(
            cursor.token().parse::<AlarmCursor>().expect("parse"),
            cursor
        );
    }

    #[test]
    fn a_token_not_made_by_a_page_is_rejected_naming_the_cursor() {
        for bad in ["", "123", "_abc", "12x_abc", "123_", "123_a b", "123_a/b"] {
            let error = bad.parse::<AlarmCursor>().expect_err(bad);
            assert!(
                matches!(&error, crate::Error::Invalid { field, .. } if field == "cursor"),
                "{bad}: {error:?}"
            );
        }
    }
}
