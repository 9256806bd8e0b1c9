//! Handlers: each parses its input into domain values, calls one application service and
//! renders the result. No business rule lives here.

pub mod anomalies;
pub mod docs;
pub mod events;
pub mod ops;
pub mod spacecraft;
pub mod telemetry;
