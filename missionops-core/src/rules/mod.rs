//! The rule engine (SPEC §3): configuration → compiled rules → anomalies.

mod checks;
mod compile;
mod evaluate;
mod fields;
mod monitor;
mod stateful;

pub use compile::{CompiledRules, Rule, ThresholdViolation, Thresholds};
pub use evaluate::{AnalysisContext, Evaluator, analyse};
pub use fields::{Extensions, LimitSet, RateLimits, Scalar, Severities};
pub use monitor::{MonitorContext, MonitorOutput, SpacecraftMonitor};
