//! Batch analyse with every rule field (SPEC §3 "Beyond compat"): a window of snapshots
//! evaluated in time order from a fresh state, so persistence, deadband, rate and staleness
//! can look back at earlier samples of the same parameter.

use crate::domain::{Anomaly, AnomalyKind, ParameterValue, TelemetrySnapshot, Timestamp};

use super::checks;
use super::compile::{CompiledRules, Rule};
use super::deadband::{Excursion, Step};
use super::extensions::Extensions;
use super::finding::{AnalysisContext, Finding, Sample};

/// A parameter's previous sample: the index of its snapshot (in the order the evaluation
/// numbers them), its position in that snapshot, its time and value.
#[derive(Debug, Clone)]
struct LastSample {
    index: usize,
    position: usize,
    timestamp: Timestamp,
    value: ParameterValue,
}

/// What one parameter's previous samples left behind.
#[derive(Debug, Default, Clone)]
struct ParameterState {
    last: Option<LastSample>,
    excursion: Excursion,
}

/// The position of an anomaly in the output: snapshot, parameter position, kind rank.
pub(super) type Slot = (usize, usize, u8);

fn rank(kind: AnomalyKind) -> u8 {
    match kind {
        AnomalyKind::RateWarn | AnomalyKind::RateCrit => 1,
        AnomalyKind::Stale => 2,
        _ => 0,
    }
}

/// Where the engine reports what it finds, and which snapshots may still get a finding.
pub(super) trait Sink {
    /// `finding` for the parameter `rule` at `slot`, with the sample's value.
    fn found(
        &mut self,
        slot: Slot,
        rule: &Rule,
        ext: &Extensions,
        finding: Finding,
        value: ParameterValue,
    );

    /// A parameter of snapshot `index` with a staleness rule waits for its next sample: until
    /// then, a staleness finding may still be recorded against that snapshot.
    fn awaiting(&mut self, _index: usize) {}

    /// The next sample of a parameter that snapshot `index` was awaiting has been evaluated.
    fn settled(&mut self, _index: usize) {}
}

/// The state of a stateful evaluation: every parameter's previous sample and excursion,
/// carried from one snapshot to the next (and across the pages of a paged analysis).
#[derive(Debug)]
pub(super) struct StatefulEngine {
    defaults: Extensions,
    states: Vec<ParameterState>,
}

impl StatefulEngine {
    /// A fresh state for `rules`.
    pub(super) fn new(rules: &CompiledRules) -> Self {
        StatefulEngine {
            defaults: Extensions::default(),
            states: vec![ParameterState::default(); rules.rules().len()],
        }
    }

    /// Evaluates `snapshot`, numbered `index`, after every snapshot evaluated before it: the
    /// next in time order.
    pub(super) fn step(
        &mut self,
        rules: &CompiledRules,
        index: usize,
        snapshot: &TelemetrySnapshot,
        out: &mut impl Sink,
    ) {
        for (position, (name, value)) in snapshot.parameters.iter().enumerate() {
            let Some(rule_index) = rules.index_of(name) else {
                continue;
            };
            let rule = rules.rule(rule_index);
            if !rule.enabled() {
                continue;
            }
            let ext = rule.extensions.as_deref().unwrap_or(&self.defaults);
            let state = &mut self.states[rule_index as usize];

            // A gap longer than staleAfterSec is recorded against the sample before it.
            if let (Some(stale_ms), Some(prev)) = (ext.stale_after_ms, &state.last) {
                if let Some(finding) =
                    checks::stale_gap(name, stale_ms, prev.timestamp, snapshot.timestamp)
                {
                    let slot = (prev.index, prev.position, rank(finding.kind));
                    out.found(slot, rule, ext, finding, prev.value.clone());
                }
                out.settled(prev.index);
            }

            if let (
                Some(rates),
                ParameterValue::Number(v),
                Some(LastSample {
                    timestamp: prev_time,
                    value: ParameterValue::Number(prev),
                    ..
                }),
            ) = (ext.max_rate, value, &state.last)
            {
                let previous = (*prev_time, *prev);
                if let Some(finding) = checks::rate(name, rates, previous, (snapshot.timestamp, *v))
                {
                    let slot = (index, position, rank(finding.kind));
                    out.found(slot, rule, ext, finding, value.clone());
                }
            }

            let thresholds = rule.thresholds_in(|n| snapshot.parameters.get(n));
            if let Step::Raise(finding) = state.excursion.step(rule, ext, thresholds, value) {
                let slot = (index, position, rank(finding.kind));
                out.found(slot, rule, ext, finding, value.clone());
            }
            state.last = Some(LastSample {
                index,
                position,
                timestamp: snapshot.timestamp,
                value: value.clone(),
            });
            if ext.stale_after_ms.is_some() {
                out.awaiting(index);
            }
        }
    }
}

/// The anomalies found so far, each with its place in the output.
struct Found<'a> {
    context: AnalysisContext,
    found: Vec<(Slot, Anomaly)>,
    snapshots: &'a [TelemetrySnapshot],
    scratch: String,
}

impl Sink for Found<'_> {
    fn found(
        &mut self,
        slot: Slot,
        rule: &Rule,
        ext: &Extensions,
        finding: Finding,
        value: ParameterValue,
    ) {
        let snapshot = &self.snapshots[slot.0];
        let sample = Sample {
            snapshot: &snapshot.id,
            spacecraft: &snapshot.spacecraft_id,
            timestamp: snapshot.timestamp,
        };
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
    let mut engine = StatefulEngine::new(rules);
    let mut out = Found {
        context,
        found: Vec::new(),
        snapshots,
        scratch: String::with_capacity(64),
    };
    for index in time_order(snapshots) {
        engine.step(rules, index, &snapshots[index], &mut out);
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
