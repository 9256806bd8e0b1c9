//! Batch analyse with every rule field (SPEC §3 "Beyond compat"): a window of snapshots
//! evaluated in time order from a fresh state, so persistence, deadband, rate and staleness
//! can look back at earlier samples of the same parameter.

use crate::domain::{
    Anomaly, AnomalyId, AnomalyKind, ParameterValue, SnapshotId, TelemetrySnapshot, Timestamp,
};

use super::checks::{self, Finding};
use super::compile::{CompiledRules, Rule};
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

struct Emitter<'a> {
    context: AnalysisContext,
    found: Vec<(Slot, Anomaly)>,
    snapshots: &'a [TelemetrySnapshot],
}

impl Emitter<'_> {
    fn emit(
        &mut self,
        (index, position): (usize, usize),
        rule: &Rule,
        severities: &super::fields::Severities,
        finding: Finding,
        value: ParameterValue,
    ) {
        let Finding {
            kind,
            limit,
            description,
        } = finding;
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
                    let prev_position = snapshots[*prev_index]
                        .parameters
                        .names()
                        .iter()
                        .position(|n| n == name)
                        .unwrap_or(position);
                    out.emit(
                        (*prev_index, prev_position),
                        rule,
                        &ext.severities,
                        checks::stale(name, stale_ms),
                        prev_value.clone(),
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
                if let Some(finding) = checks::rate(name, rates, *prev, *v, seconds) {
                    out.emit(
                        (index, position),
                        rule,
                        &ext.severities,
                        finding,
                        value.clone(),
                    );
                }
            }

            let thresholds = rule.thresholds_in(|n| snapshot.parameters.get(n));
            match checks::limit_or_state(rule, ext, thresholds, value) {
                Some(finding) => {
                    state.run = state.run.saturating_add(1);
                    if state.run >= ext.persistence {
                        state.active = Some(finding.kind);
                        out.emit(
                            (index, position),
                            rule,
                            &ext.severities,
                            finding,
                            value.clone(),
                        );
                    }
                }
                None => {
                    if !checks::still_held(state.active, ext, thresholds, value) {
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
