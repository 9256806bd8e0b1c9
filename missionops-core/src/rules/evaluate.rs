//! The compat evaluator: the threshold check of every numeric parameter of a snapshot, bound to
//! the snapshot's layout once, and batch analyse of a window when only compat fields are in use.

use crate::domain::{Anomaly, ParameterValue, Parameters, TelemetrySnapshot};

use super::binding::LayoutBinding;
use super::compile::{CompiledRules, Rule};
use super::finding::{AnalysisContext, Finding, Sample};
use super::thresholds::{ThresholdViolation, Thresholds};

/// Evaluates snapshots against compiled rules.
///
/// The evaluator binds each snapshot layout (the ordered parameter names) to rule thresholds
/// once; following snapshots with the same layout reuse the binding after a pointer comparison
/// (or a slice comparison for layouts that are equal but not shared), so the per-sample work is
/// a float comparison, with no hashing or string work unless a limit is crossed.
#[derive(Debug)]
pub struct Evaluator<'r> {
    rules: &'r CompiledRules,
    /// The positions in the current layout that have a rule, with that rule's index and
    /// thresholds copied in for locality.
    binding: LayoutBinding<(u32, Thresholds)>,
}

impl<'r> Evaluator<'r> {
    /// An evaluator of `rules`.
    pub fn new(rules: &'r CompiledRules) -> Self {
        Evaluator {
            rules,
            binding: LayoutBinding::default(),
        }
    }

    /// Calls `on_violation` for every numeric parameter of `parameters` that crosses a threshold,
    /// in the order of the parameters. Strings and booleans never cross a threshold.
    #[inline]
    pub fn check(
        &mut self,
        parameters: &Parameters,
        mut on_violation: impl FnMut(&Rule, &ParameterValue, ThresholdViolation),
    ) {
        let rules = self.rules;
        self.binding.bind(parameters.layout(), rules, |index| {
            let thresholds = rules.rule(index).thresholds;
            (thresholds != Thresholds::NONE).then_some((index, thresholds))
        });
        let values = parameters.values();
        for &(position, (index, thresholds)) in self.binding.bound() {
            if let Some(value @ ParameterValue::Number(number)) = values.get(position) {
                if let Some(violation) = thresholds.check(*number) {
                    on_violation(rules.rule(index), value, violation);
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

/// The stateless compat analysis of `snapshots`: exactly the TypeScript service's result, in
/// the order of the snapshots and, within one, of its parameters.
pub(crate) fn analyse_compat(
    rules: &CompiledRules,
    snapshots: &[TelemetrySnapshot],
    context: AnalysisContext,
) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    let mut evaluator = Evaluator::new(rules);
    let mut scratch = String::with_capacity(64);
    for snapshot in snapshots {
        let sample = Sample {
            snapshot: &snapshot.id,
            spacecraft: &snapshot.spacecraft_id,
            timestamp: snapshot.timestamp,
        };
        evaluator.check(&snapshot.parameters, |rule, value, violation| {
            let finding = Finding {
                kind: violation.kind,
                limit: Some(violation.limit),
                description: rule.describe(&violation),
            };
            anomalies.push(finding.into_anomaly(
                &rule.parameter,
                violation.severity(),
                sample,
                value.clone(),
                &context,
                &mut scratch,
            ));
        });
    }
    anomalies
}
