//! Batch analyse with every rule field (SPEC §3 "Beyond compat"): a window of snapshots
//! evaluated in time order from a fresh state, so persistence, deadband, rate and staleness
//! can look back at earlier samples of the same parameter.

use crate::domain::{Anomaly, AnomalyKind, ParameterValue, TelemetrySnapshot, Timestamp};

use super::checks;
use super::compile::{CompiledRules, Rule};
use super::deadband::{Excursion, Step};
use super::extensions::Extensions;
use super::finding::{AnalysisContext, Finding, Sample};

/// What one parameter's previous samples left behind.
#[derive(Debug, Default, Clone)]
struct ParameterState {
    /// The previous sample: its snapshot index, time and value.
    last: Option<(usize, Timestamp, ParameterValue)>,
    excursion: Excursion,
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

/// The anomalies found so far, each with its place in the output.
struct Found<'a> {
    context: AnalysisContext,
    found: Vec<(Slot, Anomaly)>,
    snapshots: &'a [TelemetrySnapshot],
    scratch: String,
}

impl Found<'_> {
    /// Records `finding` against the parameter at `position` of snapshot `index`.
    fn push(
        &mut self,
        (index, position): (usize, usize),
        rule: &Rule,
        ext: &Extensions,
        finding: Finding,
        value: ParameterValue,
    ) {
        let snapshot = &self.snapshots[index];
        let sample = Sample {
            snapshot: &snapshot.id,
            spacecraft: &snapshot.spacecraft_id,
            timestamp: snapshot.timestamp,
        };
        let slot = (index, position, rank(finding.kind));
        let severity = ext.severities.of(finding.kind);
        let anomaly = finding.into_anomaly(
            &rule.parameter,
            severity,
            sample,
            value,
            &self.context,
            &mut self.scratch,
        );
        self.found.push((slot, anomaly));
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
    let mut out = Found {
        context,
        found: Vec::new(),
        snapshots,
        scratch: String::with_capacity(64),
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

            // A gap longer than staleAfterSec is recorded against the sample before it.
            if let (Some(stale_ms), Some((prev_index, prev_time, prev_value))) =
                (ext.stale_after_ms, &state.last)
            {
                if let Some(finding) =
                    checks::stale_gap(name, stale_ms, *prev_time, snapshot.timestamp)
                {
                    let prev_position = snapshots[*prev_index]
                        .parameters
                        .names()
                        .iter()
                        .position(|n| n == name)
                        .unwrap_or(position);
                    let at = (*prev_index, prev_position);
                    out.push(at, rule, ext, finding, prev_value.clone());
                }
            }

            if let (
                Some(rates),
                ParameterValue::Number(v),
                Some((_, prev_time, ParameterValue::Number(prev))),
            ) = (ext.max_rate, value, &state.last)
            {
                let previous = (*prev_time, *prev);
                if let Some(finding) = checks::rate(name, rates, previous, (snapshot.timestamp, *v))
                {
                    out.push((index, position), rule, ext, finding, value.clone());
                }
            }

            let thresholds = rule.thresholds_in(|n| snapshot.parameters.get(n));
            if let Step::Raise(finding) = state.excursion.step(rule, ext, thresholds, value) {
                out.push((index, position), rule, ext, finding, value.clone());
            }
            state.last = Some((index, snapshot.timestamp, value.clone()));
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
