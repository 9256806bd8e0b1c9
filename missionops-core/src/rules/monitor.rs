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

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::domain::{
    Alarm, AlarmId, AlarmState, Anomaly, AnomalyId, AnomalyKind, EventType, Layout, NewEvent,
    ParameterName, ParameterValue, Severity, SnapshotId, SpacecraftId, TelemetrySnapshot,
    Timestamp,
};
use crate::ports::IdGenerator;

use super::checks::{self, Finding};
use super::compile::{CompiledRules, Rule};
use super::fields::Extensions;

/// Time and ids for one monitoring step.
#[derive(Clone, Copy)]
pub struct MonitorContext<'a> {
    /// Now, by the application's clock: when samples arrive and ticks run.
    pub now: Timestamp,
    /// Where alarm and event ids come from.
    pub ids: &'a dyn IdGenerator,
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

/// The newest in-order sample of a parameter.
#[derive(Debug, Clone)]
struct LastSample {
    snapshot: SnapshotId,
    timestamp: Timestamp,
    /// Kept only when a rate or staleness check needs it.
    value: Option<ParameterValue>,
}

/// Which of a parameter's alarms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Limit or state excursion.
    Limit,
    /// Rate of change.
    Rate,
    /// No sample for too long.
    Stale,
}

impl Slot {
    fn of(kind: AnomalyKind) -> Slot {
        match kind {
            AnomalyKind::RateWarn | AnomalyKind::RateCrit => Slot::Rate,
            AnomalyKind::Stale => Slot::Stale,
            _ => Slot::Limit,
        }
    }
}

/// The state of one parameter that has a rule.
#[derive(Debug, Clone, Default)]
struct ParameterMonitor {
    last: Option<LastSample>,
    /// When the newest in-order sample arrived, by the application's clock.
    arrived: Option<Timestamp>,
    /// Consecutive violating samples.
    run: u32,
    /// The limit or state kind raised and not yet cleared (for the deadband).
    active: Option<AnomalyKind>,
    // Boxed: most parameters have no open alarm, and a small state keeps the hot loop's
    // memory traffic low.
    limit_alarm: Option<Box<Alarm>>,
    rate_alarm: Option<Box<Alarm>>,
    stale_alarm: Option<Box<Alarm>>,
}

impl ParameterMonitor {
    fn slot(&mut self, slot: Slot) -> &mut Option<Box<Alarm>> {
        match slot {
            Slot::Limit => &mut self.limit_alarm,
            Slot::Rate => &mut self.rate_alarm,
            Slot::Stale => &mut self.stale_alarm,
        }
    }

    fn alarms(&self) -> impl Iterator<Item = &Alarm> {
        [&self.limit_alarm, &self.rate_alarm, &self.stale_alarm]
            .into_iter()
            .flatten()
            .map(|alarm| &**alarm)
    }
}

/// The streaming monitor of one spacecraft.
#[derive(Debug, Clone)]
pub struct SpacecraftMonitor {
    spacecraft: SpacecraftId,
    rules: Arc<CompiledRules>,
    /// By rule index.
    parameters: Vec<ParameterMonitor>,
    /// The snapshot layout the binding was made for.
    layout: Option<Layout>,
    /// Positions in that layout with an enabled rule, and the rule's index.
    bound: Vec<(usize, u32)>,
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
            layout: None,
            bound: Vec::new(),
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
        let stale_rules = monitor.stale_rule_count();
        let stale_open = monitor
            .parameters
            .iter()
            .filter(|p| p.stale_alarm.is_some())
            .count();
        monitor.contact_lost = stale_rules > 0 && stale_open == stale_rules;
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
            parameter.active = Some(alarm.kind);
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
        self.layout = None;
        self.bound.clear();
    }

    /// Replaces the copy of an alarm this monitor holds open (after an operator changed it),
    /// so that the next change starts from the operator's version.
    pub fn replace_alarm(&mut self, alarm: &Alarm) {
        for parameter in &mut self.parameters {
            for slot in [Slot::Limit, Slot::Rate, Slot::Stale] {
                if let Some(held) = parameter.slot(slot) {
                    if held.id == alarm.id {
                        **held = alarm.clone();
                    }
                }
            }
        }
    }

    fn bind(&mut self, layout: &Layout) {
        if let Some(current) = &self.layout {
            if current.same_as(layout) || current.names() == layout.names() {
                return;
            }
        }
        self.bound.clear();
        for (position, name) in layout.names().iter().enumerate() {
            if let Some(index) = self.rules.index_of(name) {
                if self.rules.rule(index).enabled() {
                    self.bound.push((position, index));
                }
            }
        }
        self.layout = Some(layout.clone());
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
        self.bind(snapshot.parameters.layout());
        let defaults = Extensions::default();
        let values = snapshot.parameters.values();
        let mut any_in_order = false;
        let emit = Emitter {
            spacecraft: &self.spacecraft,
            context,
        };
        for &(position, index) in &self.bound {
            let Some(value) = values.get(position) else {
                continue;
            };
            let rule = self.rules.rule(index);
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
                let thresholds = rule.thresholds_in(|n| snapshot.parameters.get(n));
                if let Some(finding) = checks::limit_or_state(rule, ext, thresholds, value) {
                    out.anomalies.push(emit.anomaly(
                        rule,
                        ext,
                        finding,
                        (&snapshot.id, snapshot.timestamp),
                        value.clone(),
                    ));
                }
            }
        }
        if any_in_order && self.contact_lost {
            self.contact_lost = false;
            if mode == Mode::Live {
                out.events.push(emit.event(
                    EventType::Info,
                    Severity::Low,
                    format!("Contact with {} regained", self.spacecraft),
                    json!({"contact": "regained", "sampleTimestamp": snapshot.timestamp}),
                ));
            }
        }
    }

    /// The clock tick: parameters with `staleAfterSec` whose newest sample arrived longer ago
    /// than that go stale (a `STALE` anomaly against that sample and an alarm); when every
    /// such parameter is stale, one `CONTACT_LOST` event.
    pub fn tick(&mut self, context: MonitorContext<'_>, out: &mut MonitorOutput) {
        let defaults = Extensions::default();
        let emit = Emitter {
            spacecraft: &self.spacecraft,
            context,
        };
        for (rule, state) in self.rules.rules().iter().zip(self.parameters.iter_mut()) {
            let ext = rule.extensions.as_deref().unwrap_or(&defaults);
            let Some(stale_ms) = ext.stale_after_ms.filter(|_| rule.enabled()) else {
                continue;
            };
            let overdue = state
                .arrived
                .is_some_and(|t| context.now.as_millis() - t.as_millis() > stale_ms);
            if overdue
                && state.stale_alarm.is_none()
                && let Some(last) = &state.last
                && let Some(value) = &last.value
            {
                let anomaly = emit.anomaly(
                    rule,
                    ext,
                    checks::stale(&rule.parameter, stale_ms),
                    (&last.snapshot, last.timestamp),
                    value.clone(),
                );
                emit.raise_alarm(state, &anomaly, context.now, out);
                out.anomalies.push(anomaly);
            }
        }
        let stale_rules = self.stale_rule_count();
        let stale_open = self
            .parameters
            .iter()
            .filter(|p| p.stale_alarm.is_some())
            .count();
        if !self.contact_lost && stale_rules > 0 && stale_open == stale_rules {
            self.contact_lost = true;
            out.events.push(emit.event(
                EventType::ContactLost,
                Severity::High,
                format!(
                    "Contact with {} lost: every monitored parameter is stale",
                    self.spacecraft
                ),
                json!({"staleParameters": stale_open}),
            ));
        }
    }

    /// How many enabled rules have `staleAfterSec`.
    fn stale_rule_count(&self) -> usize {
        self.rules
            .rules()
            .iter()
            .filter(|r| {
                r.enabled()
                    && r.extensions
                        .as_ref()
                        .is_some_and(|e| e.stale_after_ms.is_some())
            })
            .count()
    }
}

/// Evaluates one in-order sample of one parameter against its state.
#[allow(clippy::too_many_arguments)]
fn sample_in_order(
    emit: &Emitter<'_>,
    rule: &Rule,
    ext: &Extensions,
    state: &mut ParameterMonitor,
    snapshot: &TelemetrySnapshot,
    value: &ParameterValue,
    out: &mut MonitorOutput,
    mode: Mode,
) {
    let live = mode == Mode::Live;
    let name = &rule.parameter;

    // Staleness: a gap longer than staleAfterSec since the previous sample is recorded against
    // that sample (as batch analyse does); any new sample ends a stale alarm.
    if live {
        if let (Some(stale_ms), Some(last)) = (ext.stale_after_ms, &state.last) {
            if snapshot.timestamp.as_millis() - last.timestamp.as_millis() > stale_ms {
                if let Some(previous) = &last.value {
                    out.anomalies.push(emit.anomaly(
                        rule,
                        ext,
                        checks::stale(name, stale_ms),
                        (&last.snapshot, last.timestamp),
                        previous.clone(),
                    ));
                }
            }
        }
        if let Some(alarm) = state.stale_alarm.take() {
            emit.clear(*alarm, snapshot.timestamp, "has fresh samples again", out);
        }
    }

    // Rate of change against the previous sample.
    if let (true, Some(rates), ParameterValue::Number(v)) = (live, ext.max_rate, value) {
        let finding = match &state.last {
            Some(LastSample {
                timestamp,
                value: Some(ParameterValue::Number(previous)),
                ..
            }) => {
                let seconds =
                    (snapshot.timestamp.as_millis() - timestamp.as_millis()) as f64 / 1000.0;
                checks::rate(name, rates, *previous, *v, seconds)
            }
            _ => None,
        };
        match finding {
            Some(finding) => emit.raise(state, rule, ext, finding, snapshot, value, out),
            None => {
                if let Some(alarm) = state.rate_alarm.take() {
                    emit.clear(
                        *alarm,
                        snapshot.timestamp,
                        "changes within its rate limits again",
                        out,
                    );
                }
            }
        }
    }

    // Limits and states, with persistence and deadband.
    let thresholds = rule.thresholds_in(|n| snapshot.parameters.get(n));
    match checks::limit_or_state(rule, ext, thresholds, value) {
        Some(finding) => {
            state.run = state.run.saturating_add(1);
            if state.run >= ext.persistence {
                state.active = Some(finding.kind);
                if live {
                    emit.raise(state, rule, ext, finding, snapshot, value, out);
                }
            }
        }
        None => {
            // Only a parameter with something open has anything to clear (the common case
            // skips the deadband check).
            let open = state.active.is_some() || state.run > 0 || state.limit_alarm.is_some();
            if open && !checks::still_held(state.active, ext, thresholds, value) {
                state.run = 0;
                state.active = None;
                if live && let Some(alarm) = state.limit_alarm.take() {
                    emit.clear(*alarm, snapshot.timestamp, "is back within limits", out);
                }
            }
        }
    }

    // The newest sample; its value only when a rate or staleness check needs it (reusing the
    // previous value's allocation for strings).
    let keep_value = ext.max_rate.is_some() || ext.stale_after_ms.is_some();
    match &mut state.last {
        Some(last) => {
            if last.snapshot != snapshot.id {
                last.snapshot.clone_from(&snapshot.id);
            }
            last.timestamp = snapshot.timestamp;
            if keep_value {
                match &mut last.value {
                    Some(kept) => kept.clone_from(value),
                    None => last.value = Some(value.clone()),
                }
            }
        }
        None => {
            state.last = Some(LastSample {
                snapshot: snapshot.id.clone(),
                timestamp: snapshot.timestamp,
                value: keep_value.then(|| value.clone()),
            });
        }
    }
    state.arrived = Some(emit.context.now);
}

/// Builds what the monitor of one spacecraft emits: anomalies, alarms and events.
struct Emitter<'a> {
    spacecraft: &'a SpacecraftId,
    context: MonitorContext<'a>,
}

impl Emitter<'_> {
    /// Clears every open alarm of `state` now.
    fn close_all(&self, state: &mut ParameterMonitor, why: &str, out: &mut MonitorOutput) {
        for slot in [Slot::Limit, Slot::Rate, Slot::Stale] {
            if let Some(alarm) = state.slot(slot).take() {
                self.clear(*alarm, self.context.now, why, out);
            }
        }
    }

    /// Records the anomaly of `finding` and opens its alarm, or updates the open one.
    #[allow(clippy::too_many_arguments)]
    fn raise(
        &self,
        state: &mut ParameterMonitor,
        rule: &Rule,
        ext: &Extensions,
        finding: Finding,
        snapshot: &TelemetrySnapshot,
        value: &ParameterValue,
        out: &mut MonitorOutput,
    ) {
        let anomaly = self.anomaly(
            rule,
            ext,
            finding,
            (&snapshot.id, snapshot.timestamp),
            value.clone(),
        );
        self.raise_alarm(state, &anomaly, snapshot.timestamp, out);
        out.anomalies.push(anomaly);
    }

    fn raise_alarm(
        &self,
        state: &mut ParameterMonitor,
        anomaly: &Anomaly,
        at: Timestamp,
        out: &mut MonitorOutput,
    ) {
        let slot = state.slot(Slot::of(anomaly.kind));
        match slot {
            None => {
                let alarm = Alarm {
                    id: self.context.ids.new_id().into(),
                    spacecraft_id: self.spacecraft.clone(),
                    parameter: anomaly.parameter.clone(),
                    kind: anomaly.kind,
                    state: AlarmState::Active,
                    severity: anomaly.severity,
                    violation_count: 1,
                    opened_at: at,
                    last_value: anomaly.value.clone(),
                    cleared_at: None,
                    acknowledged_by: None,
                    acknowledged_at: None,
                    comment: None,
                    shelved_until: None,
                };
                out.events
                    .push(self.anomaly_event(&alarm, anomaly, "raised"));
                out.touch(&alarm);
                *slot = Some(Box::new(alarm));
            }
            Some(alarm) => {
                alarm.violation_count = alarm.violation_count.saturating_add(1);
                alarm.last_value.clone_from(&anomaly.value);
                if anomaly.severity > alarm.severity {
                    alarm.severity = anomaly.severity;
                    alarm.kind = anomaly.kind;
                    if alarm.state != AlarmState::Shelved {
                        out.events
                            .push(self.anomaly_event(alarm, anomaly, "escalated"));
                    }
                }
                out.touch(alarm);
            }
        }
    }

    /// Clears an open alarm at `at`. An unacknowledged alarm stays `ACTIVE` (with its
    /// `clearedAt`) until someone acknowledges it; an acknowledged or shelved one is done.
    fn clear(&self, mut alarm: Alarm, at: Timestamp, why: &str, out: &mut MonitorOutput) {
        let shelved = alarm.state == AlarmState::Shelved;
        alarm.cleared_at = Some(at);
        if alarm.state != AlarmState::Active {
            alarm.state = AlarmState::Cleared;
        }
        if !shelved {
            out.events.push(self.event(
                EventType::AnomalyCleared,
                Severity::Low,
                format!("Parameter {} {why}", alarm.parameter),
                json!({
                    "alarmId": alarm.id,
                    "parameter": alarm.parameter,
                    "kind": alarm.kind,
                    "worstSeverity": alarm.severity,
                    "violationCount": alarm.violation_count,
                    "openedAt": alarm.opened_at,
                    "clearedAt": at,
                }),
            ));
        }
        out.touch(&alarm);
    }

    fn anomaly(
        &self,
        rule: &Rule,
        ext: &Extensions,
        finding: Finding,
        (snapshot, timestamp): (&SnapshotId, Timestamp),
        value: ParameterValue,
    ) -> Anomaly {
        Anomaly {
            id: AnomalyId::compose(snapshot, &rule.parameter, finding.kind.as_str()),
            spacecraft_id: self.spacecraft.clone(),
            timestamp,
            parameter: rule.parameter.clone(),
            value,
            severity: ext.severities.of(finding.kind),
            kind: finding.kind,
            limit: finding.limit,
            description: finding.description,
            detected_at: self.context.now,
            window_start: None,
            window_end: None,
        }
    }

    fn anomaly_event(&self, alarm: &Alarm, anomaly: &Anomaly, what: &str) -> NewEvent {
        self.event(
            EventType::Anomaly,
            anomaly.severity,
            anomaly.description.clone(),
            json!({
                "alarmId": alarm.id,
                "alarm": what,
                "anomalyId": anomaly.id,
                "parameter": anomaly.parameter,
                "kind": anomaly.kind,
                "value": anomaly.value,
                "limit": anomaly.limit,
                "sampleTimestamp": anomaly.timestamp,
                "violationCount": alarm.violation_count,
            }),
        )
    }

    fn event(
        &self,
        event_type: EventType,
        severity: Severity,
        message: String,
        metadata: Value,
    ) -> NewEvent {
        NewEvent {
            id: self.context.ids.new_id().into(),
            spacecraft_id: Some(self.spacecraft.clone()),
            timestamp: self.context.now,
            event_type,
            severity,
            message,
            metadata: NewEvent::metadata_of(metadata),
        }
    }
}
