//! What one in-order sample of a parameter does to the parameter's state.

use crate::domain::{ParameterValue, TelemetrySnapshot};

use super::super::checks;
use super::super::compile::Rule;
use super::super::deadband::Step;
use super::super::extensions::Extensions;
use super::alarm_changes::Emitter;
use super::parameter_state::{LastSample, ParameterMonitor};
use super::{Mode, MonitorOutput};

/// Evaluates one in-order sample of one parameter against its state.
#[allow(clippy::too_many_arguments)]
pub(super) fn sample_in_order(
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
            let gap = checks::stale_gap(name, stale_ms, last.timestamp, snapshot.timestamp);
            if let (Some(finding), Some(previous)) = (gap, &last.value) {
                let at = (&last.snapshot, last.timestamp);
                out.anomalies
                    .push(emit.anomaly(rule, ext, finding, at, previous.clone()));
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
            }) => checks::rate(
                name,
                rates,
                (*timestamp, *previous),
                (snapshot.timestamp, *v),
            ),
            _ => None,
        };
        match finding {
            Some(finding) => emit.raise(state, rule, ext, finding, snapshot, value, out),
            None => {
                if let Some(alarm) = state.rate_alarm.take() {
                    let why = "changes within its rate limits again";
                    emit.clear(*alarm, snapshot.timestamp, why, out);
                }
            }
        }
    }

    // Limits and states, with persistence and deadband.
    let thresholds = rule.thresholds_in(|n| snapshot.parameters.get(n));
    match state.excursion.step(rule, ext, thresholds, value) {
        Step::Raise(finding) if live => emit.raise(state, rule, ext, finding, snapshot, value, out),
        Step::Clear if live => {
            if let Some(alarm) = state.limit_alarm.take() {
                emit.clear(*alarm, snapshot.timestamp, "is back within limits", out);
            }
        }
        Step::Raise(_) | Step::Clear | Step::Holding => {}
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
