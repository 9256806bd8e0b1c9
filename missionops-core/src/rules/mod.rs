//! The rule engine (SPEC §3): configuration → compiled rules → anomalies.
//!
//! - `compile`: a configuration's `parameters` → [`CompiledRules`]; `thresholds`: the compat
//!   threshold check and its fields; `extensions`: the beyond-compat fields.
//! - `checks`: one sample against one rule (limits or states, rate, staleness); `deadband`:
//!   persistence and deadband across samples; `finding`: a check's finding → an anomaly.
//! - `derived/`: the `derived` expressions, compiled and evaluated at ingest before the rules.
//! - `binding`: a snapshot layout bound to rules once per layout.
//! - `analyse`: batch analyse, through `evaluate` (the compat evaluator) or `stateful` (every
//!   field, in time order).
//! - `monitor/`: the streaming monitor (its tick's decisions in `monitor/staleness.rs`).

mod analyse;
mod binding;
mod checks;
mod compile;
mod deadband;
mod derived;
mod evaluate;
mod extensions;
mod finding;
mod monitor;
mod paged;
mod stateful;
mod thresholds;

pub use analyse::analyse;
pub use compile::{CompiledRules, Rule};
pub use derived::{DeriveScratch, DerivedParameters, LastValues, MAX_DERIVED, Program};
pub use evaluate::Evaluator;
pub use extensions::{Extensions, LimitSet, RateLimits, Scalar, Severities};
pub use finding::AnalysisContext;
pub use monitor::{MonitorContext, MonitorOutput, SpacecraftMonitor};
pub use paged::WindowAnalysis;
pub use thresholds::{ThresholdViolation, Thresholds};
