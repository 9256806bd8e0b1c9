//! Batch analyse: the compat threshold evaluator over a window of snapshots.

use crate::domain::{
    Anomaly, AnomalyId, Layout, ParameterValue, Parameters, TelemetrySnapshot, Timestamp,
};

use super::compile::{CompiledRules, Rule, ThresholdViolation, Thresholds};

/// Evaluates snapshots against compiled rules.
///
/// The evaluator binds each snapshot layout (the ordered parameter names) to rule thresholds
/// once; following snapshots with the same layout reuse the binding after a pointer comparison
/// (or a slice comparison for layouts that are equal but not shared), so the per-sample work is
/// a float comparison, with no hashing or string work unless a limit is crossed.
#[derive(Debug)]
pub struct Evaluator<'r> {
    rules: &'r CompiledRules,
    layout: Option<Layout>,
    /// The positions in the current layout that have a rule, with that rule's index and
    /// thresholds copied in for locality.
    bound: Vec<(usize, u32, Thresholds)>,
}

impl<'r> Evaluator<'r> {
    /// An evaluator of `rules`.
    pub fn new(rules: &'r CompiledRules) -> Self {
        Evaluator {
            rules,
            layout: None,
            bound: Vec::new(),
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
                let thresholds = self.rules.rule(index).thresholds;
                if thresholds != Thresholds::NONE {
                    self.bound.push((position, index, thresholds));
                }
            }
        }
        self.layout = Some(layout.clone());
    }

    /// Calls `on_violation` for every numeric parameter of `parameters` that crosses a threshold,
    /// in the order of the parameters. Strings and booleans never cross a threshold.
    #[inline]
    pub fn check(
        &mut self,
        parameters: &Parameters,
        mut on_violation: impl FnMut(&Rule, &ParameterValue, ThresholdViolation),
    ) {
        self.bind(parameters.layout());
        let values = parameters.values();
        for &(position, index, thresholds) in &self.bound {
            if let Some(value @ ParameterValue::Number(number)) = values.get(position) {
                if let Some(violation) = thresholds.check(*number) {
                    on_violation(self.rules.rule(index), value, violation);
                }
            }
        }
    }

    /// How many threshold violations `snapshots` contain (for measuring the evaluator alone).
    pub fn count_violations(&mut self, snapshots: &[TelemetrySnapshot]) -> usize {
        let mut count = 0;
        for snapshot in snapshots {
            self.check(&snapshot.parameters, |_, _, _| count += 1);
        }
        count
    }
}

/// Where an analysis runs: stamped on every anomaly it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisContext {
    /// When the analysis ran.
    pub detected_at: Timestamp,
    /// The start of the window analysed, when it was a time window.
    pub window_start: Option<Timestamp>,
    /// The end of the window analysed, when it was a time window.
    pub window_end: Option<Timestamp>,
}

/// Batch analyse (SPEC §3): the anomalies of `snapshots`, in the order of the snapshots and,
/// within one, of its parameters. With only compat fields this is the stateless compat
/// evaluation, exactly the TypeScript service's result; with any beyond-compat field the window
/// is evaluated in time order from a fresh state.
pub fn analyse(
    rules: &CompiledRules,
    snapshots: &[TelemetrySnapshot],
    context: AnalysisContext,
) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    if rules.is_empty() {
        return anomalies;
    }
    if !rules.is_compat_only() {
        return super::stateful::analyse_stateful(rules, snapshots, context);
    }
    let mut evaluator = Evaluator::new(rules);
    let mut scratch = String::with_capacity(64);
    for snapshot in snapshots {
        evaluator.check(&snapshot.parameters, |rule, value, violation| {
            anomalies.push(Anomaly {
                id: AnomalyId::compose_in(
                    &mut scratch,
                    &snapshot.id,
                    &rule.parameter,
                    violation.kind.as_str(),
                ),
                spacecraft_id: snapshot.spacecraft_id.clone(),
                timestamp: snapshot.timestamp,
                parameter: rule.parameter.clone(),
                value: value.clone(),
                severity: violation.severity(),
                kind: violation.kind,
                limit: Some(violation.limit),
                description: rule.describe(&violation),
                detected_at: context.detected_at,
                window_start: context.window_start,
                window_end: context.window_end,
            });
        });
    }
    anomalies
}
