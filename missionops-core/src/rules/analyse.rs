//! Batch analyse (SPEC §3): the entry point that picks the compat evaluator or the stateful
//! one for a window of snapshots.

use crate::domain::{Anomaly, TelemetrySnapshot};

use super::compile::CompiledRules;
use super::evaluate::analyse_compat;
use super::finding::AnalysisContext;
use super::stateful::analyse_stateful;

/// Batch analyse (SPEC §3): the anomalies of `snapshots`, in the order of the snapshots and,
/// within one, of its parameters. With only compat fields this is the stateless compat
/// evaluation, exactly the TypeScript service's result; with any beyond-compat field the window
/// is evaluated in time order from a fresh state.
pub fn analyse(
    rules: &CompiledRules,
    snapshots: &[TelemetrySnapshot],
    context: AnalysisContext,
) -> Vec<Anomaly> {
    if rules.is_empty() {
        Vec::new()
    } else if rules.is_compat_only() {
        analyse_compat(rules, snapshots, context)
    } else {
        analyse_stateful(rules, snapshots, context)
    }
}
