//! Batch analyse with every rule field (SPEC §3 "Beyond compat"): a window of snapshots
//! evaluated in time order from a fresh state, so persistence, deadband, rate and staleness
//! can look back at earlier samples of the same parameter.

use crate::domain::{
    Anomaly, AnomalyId, AnomalyKind, ParameterValue, SnapshotId, TelemetrySnapshot, Timestamp,
};
use crate::json::write_js_number;

use super::compile::{CompiledRules, Rule, Thresholds};
use super::evaluate::AnalysisContext;
use super::fields::Extensions;

/// What one parameter's previous samples left behind.
#[derive(Debug, Default, Clone)]
struct ParameterState {
    /// The previous sample: its snapshot index, id, time and value.
    last: Option<(usize, SnapshotId, Timestamp, ParameterValue)>,
    /// Consecutive violating samples so far.
    run: u32,
    /// The limit kind raised and not yet cleared (for the deadband).
    active: Option<AnomalyKind>,
}

/// The position of an anomaly in the output: snapshot, parameter position, kind rank.
type Slot = (usize, usize, u8);

fn rank(kind: AnomalyKind) -> u8 {
    match kind {
        AnomalyKind::RateWarn | AnomalyKind::RateCrit => 1,
        AnomalyKind::Stale => 2,
        _ => 0,
    }
}

/// Whether `value` is still inside the deadband of the `active` limit kind: a high alarm
/// clears only once the value is at least `deadband` below the lowest high limit, a low alarm
/// once it is at least `deadband` above the highest low limit.
fn held_by_deadband(
    active: AnomalyKind,
    thresholds: &Thresholds,
    value: f64,
    deadband: f64,
) -> bool {
    match active {
        AnomalyKind::WarnHigh | AnomalyKind::CritHigh => {
            let high = thresholds.warn_high.min(thresholds.crit_high);
            high.is_finite() && value > high - deadband
        }
        AnomalyKind::WarnLow | AnomalyKind::CritLow => {
            let low = thresholds.warn_low.max(thresholds.crit_low);
            low.is_finite() && value < low + deadband
        }
        _ => false,
    }
}

struct Emitter<'a> {
    context: AnalysisContext,
    found: Vec<(Slot, Anomaly)>,
    snapshots: &'a [TelemetrySnapshot],
}

impl Emitter<'_> {
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        index: usize,
        position: usize,
        rule: &Rule,
        severities: &super::fields::Severities,
        kind: AnomalyKind,
        value: ParameterValue,
        limit: Option<f64>,
        description: String,
    ) {
        let snapshot = &self.snapshots[index];
        self.found.push((
            (index, position, rank(kind)),
            Anomaly {
                id: AnomalyId::compose(&snapshot.id, &rule.parameter, kind.as_str()),
                spacecraft_id: snapshot.spacecraft_id.clone(),
                timestamp: snapshot.timestamp,
                parameter: rule.parameter.clone(),
                value,
                severity: severities.of(kind),
                kind,
                limit,
                description,
                detected_at: self.context.detected_at,
                window_start: self.context.window_start,
                window_end: self.context.window_end,
            },
        ));
    }
}

/// The order to evaluate in: oldest first. Input given newest first (a recent window) is
/// reversed, so that ties keep their arrival order; anything else is sorted stably by time.
fn time_order(snapshots: &[TelemetrySnapshot]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..snapshots.len()).collect();
    let newest_first = snapshots.len() > 1
        && snapshots
            .windows(2)
            .all(|w| w[0].timestamp >= w[1].timestamp)
        && snapshots[0].timestamp > snapshots[snapshots.len() - 1].timestamp;
    if newest_first {
        order.reverse();
    } else {
        order.sort_by_key(|&i| snapshots[i].timestamp);
    }
    order
}

/// Analyses `snapshots` with every rule field, returning the anomalies in the order of the
/// snapshots as given and, within one, of its parameters (limit or state first, then rate,
/// then staleness).
pub(crate) fn analyse_stateful(
    rules: &CompiledRules,
    snapshots: &[TelemetrySnapshot],
    context: AnalysisContext,
) -> Vec<Anomaly> {
    let defaults = Extensions::default();
    let mut states = vec![ParameterState::default(); rules.rules().len()];
    let mut out = Emitter {
        context,
        found: Vec::new(),
        snapshots,
    };
    for index in time_order(snapshots) {
        let snapshot = &snapshots[index];
        for (position, (name, value)) in snapshot.parameters.iter().enumerate() {
            let Some(rule_index) = rules.index_of(name) else {
                continue;
            };
            let rule = rules.rule(rule_index);
            if !rule.enabled() {
                continue;
            }
            let ext = rule.extensions.as_deref().unwrap_or(&defaults);
            let state = &mut states[rule_index as usize];

            if let (Some(stale_ms), Some((prev_index, _, prev_time, prev_value))) =
                (ext.stale_after_ms, &state.last)
            {
                if snapshot.timestamp.as_millis() - prev_time.as_millis() > stale_ms {
                    let seconds = stale_ms as f64 / 1000.0;
                    let mut text = format!("Parameter {name} had no sample for more than ");
                    write_js_number(&mut text, seconds);
                    text.push('s');
                    let prev_position = snapshots[*prev_index]
                        .parameters
                        .names()
                        .iter()
                        .position(|n| n == name)
                        .unwrap_or(position);
                    out.emit(
                        *prev_index,
                        prev_position,
                        rule,
                        &ext.severities,
                        AnomalyKind::Stale,
                        prev_value.clone(),
                        Some(seconds),
                        text,
                    );
                }
            }

            if let (
                Some(rates),
                ParameterValue::Number(v),
                Some((_, _, prev_time, ParameterValue::Number(prev))),
            ) = (ext.max_rate, value, &state.last)
            {
                let seconds =
                    (snapshot.timestamp.as_millis() - prev_time.as_millis()) as f64 / 1000.0;
                if seconds > 0.0 {
                    let rate = (v - prev).abs() / seconds;
                    let crossed = if rate > rates.crit {
                        Some((AnomalyKind::RateCrit, "crit", rates.crit))
                    } else if rate > rates.warn {
                        Some((AnomalyKind::RateWarn, "warn", rates.warn))
                    } else {
                        None
                    };
                    if let Some((kind, class, limit)) = crossed {
                        let mut text = format!("Parameter {name} changed at ");
                        write_js_number(&mut text, rate);
                        text.push_str(&format!("/s, above maxRate.{class} "));
                        write_js_number(&mut text, limit);
                        out.emit(
                            index,
                            position,
                            rule,
                            &ext.severities,
                            kind,
                            value.clone(),
                            Some(limit),
                            text,
                        );
                    }
                }
            }

            let thresholds = rule.thresholds_in(|n| snapshot.parameters.get(n));
            let violation = match value {
                ParameterValue::Number(v) => thresholds
                    .check(*v)
                    .map(|t| (t.kind, Some(t.limit), t.describe(name))),
                other => ext.state_violation(other).map(|verdict| {
                    (
                        AnomalyKind::State,
                        None,
                        format!("Parameter {name} value {other} {verdict}"),
                    )
                }),
            };
            match violation {
                Some((kind, limit, description)) => {
                    state.run = state.run.saturating_add(1);
                    if state.run >= ext.persistence {
                        state.active = Some(kind);
                        out.emit(
                            index,
                            position,
                            rule,
                            &ext.severities,
                            kind,
                            value.clone(),
                            limit,
                            description,
                        );
                    }
                }
                None => {
                    let held = match (state.active, value) {
                        (Some(active), ParameterValue::Number(v)) if ext.deadband > 0.0 => {
                            held_by_deadband(active, thresholds, *v, ext.deadband)
                        }
                        _ => false,
                    };
                    if !held {
                        state.run = 0;
                        state.active = None;
                    }
                }
            }
            state.last = Some((
                index,
                snapshot.id.clone(),
                snapshot.timestamp,
                value.clone(),
            ));
        }
    }
    let mut found = out.found;
    // Stable: anomalies of one slot keep the order they were found in.
    found.sort_by_key(|(slot, _)| *slot);
    let mut by_index: Vec<Vec<Anomaly>> = vec![Vec::new(); snapshots.len()];
    for ((index, _, _), anomaly) in found {
        by_index[index].push(anomaly);
    }
    by_index.into_iter().flatten().collect()
}
