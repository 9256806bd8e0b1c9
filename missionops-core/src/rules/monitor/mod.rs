//! The streaming monitor (SPEC §3): evaluates each ingested snapshot against per-(spacecraft,
//! parameter) state, opens and clears alarms, and returns the anomalies, alarm changes and
//! events to commit in the same transaction as the telemetry.
//!
//! State per parameter: the newest sample (time, snapshot, value), when it arrived by the
//! application's clock, the length of the current run of violations, the violation held open
//! by a deadband, and up to three open alarms — one for the limit or state excursion, one for
//! the rate of change, one for staleness. A sample older than (or as old as) the newest one
//! seen for its parameter is out of order: it is threshold-checked (an anomaly is recorded
//! when it violates a rule without persistence) but it moves no run, rate or staleness state
//! and opens no alarm. Replaying the same sample (a client's retry) is therefore harmless.
//!
//! Events: `ANOMALY` when an alarm opens and when its severity rises; `ANOMALY_CLEARED` when
//! it clears; `CONTACT_LOST` once when every parameter with `staleAfterSec` has gone stale
//! (`INFO` when telemetry comes back). A shelved alarm raises no event.
//!
//! Files: this one holds the monitor and feeds it samples; `parameter_state` the state of one
//! parameter; `parameter` what one sample does to it; `alarm_changes` how alarms open,
//! escalate and clear; `staleness` the tick's decisions (stale parameters, lost and regained
//! contact).

mod alarm_changes;
mod parameter;
mod parameter_state;
mod staleness;

use std::collections::HashMap;
use std::sync::Arc;

use crate::domain::{
    Alarm, AlarmId, AlarmState, Anomaly, AnomalyKind, EventStamp, NewEvent, ParameterName,
    SpacecraftId, TelemetrySnapshot, Timestamp,
};
use crate::ports::IdGenerator;

use super::binding::LayoutBinding;
use super::checks;
use super::compile::CompiledRules;
use super::extensions::Extensions;
use alarm_changes::Emitter;
use parameter::sample_in_order;
use parameter_state::{ParameterMonitor, Slot};

/// Time and ids for one monitoring step.
#[derive(Clone, Copy)]
pub struct MonitorContext<'a> {
    /// Now, by the application's clock: when samples arrive and ticks run.
    pub now: Timestamp,
    /// Where alarm and event ids come from.
    pub ids: &'a dyn IdGenerator,
}

impl MonitorContext<'_> {
    /// The id and time of an event recorded now.
    pub(crate) fn stamp(&self) -> EventStamp {
        EventStamp {
            id: self.ids.new_id().into(),
            timestamp: self.now,
        }
    }
}

impl std::fmt::Debug for MonitorContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorContext")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// What monitoring produced, to be committed with the telemetry that caused it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonitorOutput {
    /// Anomalies to record (unique on spacecraft, parameter, sample time and kind).
    pub anomalies: Vec<Anomaly>,
    /// Alarms opened, updated or cleared: each id once, in its newest state.
    pub alarms: Vec<Alarm>,
    /// Events to record, in the order they happened.
    pub events: Vec<NewEvent>,
    /// Where each alarm id sits in `alarms`.
    positions: HashMap<AlarmId, usize>,
}

impl MonitorOutput {
    /// Whether there is nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.anomalies.is_empty() && self.alarms.is_empty() && self.events.is_empty()
    }

    /// Records the newest state of `alarm`, replacing an earlier state of the same alarm.
    pub fn touch(&mut self, alarm: &Alarm) {
        match self.positions.get(&alarm.id) {
            Some(&i) => self.alarms[i] = alarm.clone(),
            None => {
                self.positions.insert(alarm.id.clone(), self.alarms.len());
                self.alarms.push(alarm.clone());
            }
        }
    }

    /// Splits into anomalies, alarms and events.
    pub fn into_parts(self) -> (Vec<Anomaly>, Vec<Alarm>, Vec<NewEvent>) {
        (self.anomalies, self.alarms, self.events)
    }
}

/// The streaming monitor of one spacecraft.
#[derive(Debug, Clone)]
pub struct SpacecraftMonitor {
    spacecraft: SpacecraftId,
    rules: Arc<CompiledRules>,
    /// By rule index.
    parameters: Vec<ParameterMonitor>,
    /// Positions of the current snapshot layout with an enabled rule, and the rule's index.
    binding: LayoutBinding<u32>,
    contact_lost: bool,
}

/// How one sample is observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Live: anomalies, alarms and events.
    Live,
    /// Rebuilding state from history: state moves, nothing is emitted.
    Replay,
}

impl SpacecraftMonitor {
    /// A monitor of `spacecraft` with no history, under `rules`.
    pub fn new(spacecraft: SpacecraftId, rules: Arc<CompiledRules>) -> Self {
        let parameters = vec![ParameterMonitor::default(); rules.rules().len()];
        SpacecraftMonitor {
            spacecraft,
            rules,
            parameters,
            binding: LayoutBinding::default(),
            contact_lost: false,
        }
    }

    /// Rebuilds a monitor after a restart: `history` (any order; replayed oldest first) moves
    /// runs, deadbands and newest samples as it did live, without emitting anything; `open`
    /// alarms (stored, not cleared) take their places back. Every parameter seen counts as
    /// arrived `now`, so that staleness is judged from the restart on, never retroactively.
    pub fn rebuild(
        spacecraft: SpacecraftId,
        rules: Arc<CompiledRules>,
        history: &[TelemetrySnapshot],
        open: Vec<Alarm>,
        now: Timestamp,
    ) -> Self {
        let mut monitor = Self::new(spacecraft, rules);
        let mut order: Vec<&TelemetrySnapshot> = history.iter().collect();
        order.sort_by_key(|s| s.timestamp);
        let mut discard = MonitorOutput::default();
        let ids = crate::ports::SequentialIds::new();
        let context = MonitorContext { now, ids: &ids };
        for snapshot in order {
            monitor.observe_in(snapshot, context, &mut discard, Mode::Replay);
        }
        for alarm in open {
            monitor.adopt(alarm);
        }
        monitor.recount_contact();
        monitor
    }

    /// Puts an open alarm back in its parameter's slot (dropped when the parameter no longer
    /// has a rule, or the alarm has cleared).
    fn adopt(&mut self, alarm: Alarm) {
        if alarm.cleared_at.is_some() || alarm.state == AlarmState::Cleared {
            return;
        }
        let Some(index) = self.rules.index_of(&alarm.parameter) else {
            return;
        };
        let parameter = &mut self.parameters[index as usize];
        let slot = Slot::of(alarm.kind);
        if slot == Slot::Limit && alarm.kind != AnomalyKind::State {
            parameter.excursion.hold_open(alarm.kind);
        }
        *parameter.slot(slot) = Some(Box::new(alarm));
    }

    /// The spacecraft monitored.
    pub fn spacecraft(&self) -> &SpacecraftId {
        &self.spacecraft
    }

    /// The rules in force.
    pub fn rules(&self) -> &Arc<CompiledRules> {
        &self.rules
    }

    /// Whether contact is currently considered lost.
    pub fn contact_lost(&self) -> bool {
        self.contact_lost
    }

    /// The alarms currently open (not cleared), in rule order.
    pub fn open_alarms(&self) -> impl Iterator<Item = &Alarm> {
        self.parameters.iter().flat_map(ParameterMonitor::alarms)
    }

    /// Switches to new `rules` (a new configuration version), keeping each parameter's state
    /// under its name. Alarms of parameters that lost their rule or were disabled clear now.
    pub fn retarget(
        &mut self,
        rules: Arc<CompiledRules>,
        context: MonitorContext<'_>,
        out: &mut MonitorOutput,
    ) {
        let mut old: HashMap<ParameterName, ParameterMonitor> = HashMap::new();
        for (rule, state) in self.rules.rules().iter().zip(self.parameters.drain(..)) {
            old.insert(rule.parameter.clone(), state);
        }
        let emit = Emitter {
            spacecraft: &self.spacecraft,
            context,
        };
        let why = "is no longer monitored";
        let parameters = rules
            .rules()
            .iter()
            .map(|rule| match old.remove(&rule.parameter) {
                Some(state) if rule.enabled() => state,
                Some(mut state) => {
                    emit.close_all(&mut state, why, out);
                    ParameterMonitor::default()
                }
                None => ParameterMonitor::default(),
            })
            .collect();
        for (_, mut state) in old {
            emit.close_all(&mut state, why, out);
        }
        self.parameters = parameters;
        self.rules = rules;
        self.binding.clear();
    }

    /// Replaces the copy of an alarm this monitor holds open (after an operator changed it),
    /// so that the next change starts from the operator's version.
    pub fn replace_alarm(&mut self, alarm: &Alarm) {
        for parameter in &mut self.parameters {
            for slot in Slot::ALL {
                if let Some(held) = parameter.slot(slot) {
                    if held.id == alarm.id {
                        **held = alarm.clone();
                    }
                }
            }
        }
    }

    /// Observes one ingested snapshot of this spacecraft.
    pub fn observe(
        &mut self,
        snapshot: &TelemetrySnapshot,
        context: MonitorContext<'_>,
        out: &mut MonitorOutput,
    ) {
        self.observe_in(snapshot, context, out, Mode::Live);
    }

    fn observe_in(
        &mut self,
        snapshot: &TelemetrySnapshot,
        context: MonitorContext<'_>,
        out: &mut MonitorOutput,
        mode: Mode,
    ) {
        if self.rules.is_empty() {
            return;
        }
        let rules = &*self.rules;
        self.binding
            .bind(snapshot.parameters.layout(), rules, |index| {
                rules.rule(index).enabled().then_some(index)
            });
        let defaults = Extensions::default();
        let values = snapshot.parameters.values();
        let mut any_in_order = false;
        let emit = Emitter {
            spacecraft: &self.spacecraft,
            context,
        };
        for &(position, index) in self.binding.bound() {
            let Some(value) = values.get(position) else {
                continue;
            };
            let rule = rules.rule(index);
            let ext = rule.extensions.as_deref().unwrap_or(&defaults);
            let state = &mut self.parameters[index as usize];
            let in_order = state
                .last
                .as_ref()
                .is_none_or(|last| snapshot.timestamp > last.timestamp);
            if in_order {
                any_in_order = true;
                sample_in_order(&emit, rule, ext, state, snapshot, value, out, mode);
            } else if mode == Mode::Live && ext.persistence == 1 {
                // Out of order: checked against its limits, but it moves no state.
                let thresholds = rule.thresholds_in(|n| snapshot.parameters.get(n));
                if let Some(finding) = checks::limit_or_state(rule, ext, thresholds, value) {
                    let at = (&snapshot.id, snapshot.timestamp);
                    out.anomalies
                        .push(emit.anomaly(rule, ext, finding, at, value.clone()));
                }
            }
        }
        if any_in_order {
            self.sample_arrived(snapshot.timestamp, context, out, mode);
        }
    }
}
