//! The rule engine (SPEC §3): configuration → compiled rules → anomalies.

mod compile;
mod evaluate;

pub use compile::{CompiledRules, Rule, ThresholdViolation, Thresholds};
pub use evaluate::{AnalysisContext, Evaluator, analyse};
