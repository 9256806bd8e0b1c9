//! How the monitor of one spacecraft records what it finds: anomalies, alarms opened,
//! escalated and cleared, and the events that announce them.

use crate::domain::{
    Alarm, AlarmState, AlarmStep, Anomaly, NewEvent, ParameterValue, SnapshotId, SpacecraftId,
    TelemetrySnapshot, Timestamp,
};

use super::super::compile::Rule;
use super::super::extensions::Extensions;
use super::super::finding::{AnalysisContext, Finding, Sample};
use super::parameter_state::{ParameterMonitor, Slot};
use super::{MonitorContext, MonitorOutput};

/// Builds what the monitor of one spacecraft emits: anomalies, alarms and events.
pub(super) struct Emitter<'a> {
    pub(super) spacecraft: &'a SpacecraftId,
    pub(super) context: MonitorContext<'a>,
}

impl Emitter<'_> {
    /// Clears every open alarm of `state` now.
    pub(super) fn close_all(
        &self,
        state: &mut ParameterMonitor,
        why: &str,
        out: &mut MonitorOutput,
    ) {
        for slot in Slot::ALL {
            if let Some(alarm) = state.slot(slot).take() {
                self.clear(*alarm, self.context.now, why, out);
            }
        }
    }

    /// Records the anomaly of `finding` and opens its alarm, or updates the open one.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn raise(
        &self,
        state: &mut ParameterMonitor,
        rule: &Rule,
        ext: &Extensions,
        finding: Finding,
        snapshot: &TelemetrySnapshot,
        value: &ParameterValue,
        out: &mut MonitorOutput,
    ) {
        let at = (&snapshot.id, snapshot.timestamp);
        let anomaly = self.anomaly(rule, ext, finding, at, value.clone());
        self.raise_alarm(state, &anomaly, snapshot.timestamp, out);
        out.anomalies.push(anomaly);
    }

    /// Opens the alarm of `anomaly` at `at` (an `ANOMALY` event), or counts it on the open one
    /// (an `ANOMALY` event when its severity rises, unless it is shelved).
    pub(super) fn raise_alarm(
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
                let step = Some((&alarm, AlarmStep::Raised));
                out.events
                    .push(NewEvent::anomaly(self.context.stamp(), anomaly, step));
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
                        let step = Some((&**alarm, AlarmStep::Escalated));
                        out.events
                            .push(NewEvent::anomaly(self.context.stamp(), anomaly, step));
                    }
                }
                out.touch(alarm);
            }
        }
    }

    /// Clears an open alarm at `at`. An unacknowledged alarm stays `ACTIVE` (with its
    /// `clearedAt`) until someone acknowledges it; an acknowledged or shelved one is done.
    pub(super) fn clear(
        &self,
        mut alarm: Alarm,
        at: Timestamp,
        why: &str,
        out: &mut MonitorOutput,
    ) {
        let shelved = alarm.state == AlarmState::Shelved;
        alarm.cleared_at = Some(at);
        if alarm.state != AlarmState::Active {
            alarm.state = AlarmState::Cleared;
        }
        if !shelved {
            out.events.push(NewEvent::anomaly_cleared(
                self.context.stamp(),
                &alarm,
                at,
                why,
            ));
        }
        out.touch(&alarm);
    }

    /// The anomaly of `finding` against the sample `(snapshot, timestamp)`, detected now.
    pub(super) fn anomaly(
        &self,
        rule: &Rule,
        ext: &Extensions,
        finding: Finding,
        (snapshot, timestamp): (&SnapshotId, Timestamp),
        value: ParameterValue,
    ) -> Anomaly {
        let sample = Sample {
            snapshot,
            spacecraft: self.spacecraft,
            timestamp,
        };
        let severity = ext.severities.of(finding.kind);
        let context = AnalysisContext::live(self.context.now);
        finding.into_anomaly(
            &rule.parameter,
            severity,
            sample,
            value,
            &context,
            &mut String::new(),
        )
    }
}
