//! The demo simulation (SPEC §7): the TypeScript service's four demo spacecraft, a
//! deterministic telemetry generator and the demo documents. Pure: randomness comes from a
//! seeded ChaCha8 stream, time from the caller.
//!
//! - [`DemoProfile`]: the four profiles, each with its spacecraft name, limits configuration
//!   and a [`ParameterModel`] per parameter.
//! - [`SnapshotGenerator`]: an iterator of snapshots for one profile, seed and time window.
//! - [`DemoProfile::documents`]: procedures, telemetry definitions and a mission note.
//!
//! The use cases that write all this to a store are `MissionOps::seed_demo_data` and
//! `MissionOps::seed_demo_docs`.

mod documents;
mod generator;
mod profile;

pub use documents::SAT_IMAGER_001_PACKET_DEFINITION;
pub use generator::SnapshotGenerator;
pub(crate) use generator::{Span, validate_span};
pub use profile::{Behaviour, DemoProfile, ParameterModel};
