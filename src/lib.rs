//! # MissionOps
//!
//! Spacecraft operations data in one place: spacecraft and their limits configuration,
//! telemetry, rule-based anomaly detection, operational documents and the event history of all
//! of it. Embed it in your own Rust program, run it as an HTTP service beside a ground station,
//! or script it from the `missionops` CLI.
//!
//! This facade re-exports the workspace's crates:
//! - everything of [`missionops_core`] at the top level: the domain types, the rule engine and
//!   [`MissionOps`], the application services;
//! - [`store`]: the storage backends (in memory; SQLite with the default `sqlite` feature;
//!   PostgreSQL with `postgres`);
//! - `delivery` (feature `webhook` or `nats`): the outbox dispatcher that delivers recorded
//!   events to signed webhooks and, with `nats`, to NATS JetStream;
//! - `packets` (feature `packets`): XTCE-subset packet definitions compiled into CCSDS Space
//!   Packet decoders;
//! - `http` (feature `http`) and `cli` (feature `cli`): the frontends; `tls` adds HTTPS to
//!   `http` (`http::serve_tls`).
//!
//! ## Embedding in a few lines
//!
//! ```
//! use std::sync::Arc;
//! use missionops::store::{MemoryStore, SystemClock, UuidV7Ids};
//! use missionops::{AnalysisWindow, ConfigStatus, Limit, MissionOps, SpacecraftConfig, SpacecraftId};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ops = MissionOps::new(Arc::new(MemoryStore::new()), Arc::new(SystemClock), Arc::new(UuidV7Ids));
//! let sc = SpacecraftId::parse("SC-001")?;
//! let limits = SpacecraftConfig::parse(serde_json::json!(
//!     {"parameters": {"temp": {"warnHigh": 45, "critHigh": 70}}}
//! ))?;
//! ops.set_config(&sc, limits, ConfigStatus::Approved, None).await?;
//! ops.ingest(serde_json::from_str(
//!     r#"{"spacecraftId":"SC-001","timestamp":"2025-01-01T00:00:00Z","parameters":{"temp":72}}"#,
//! )?).await?;
//! for anomaly in ops.analyse(&sc, AnalysisWindow::Recent(Limit::new(20, 100)?)).await? {
//!     println!("{}", anomaly.description); // Parameter temp above critHigh 70
//! }
//! # Ok(())
//! # }
//! ```
//!
//! See `examples/embed.rs` for a longer walk through, and the README for the HTTP service and
//! the CLI.

#![deny(missing_docs)]

pub use missionops_core::*;

/// Storage backends and the production clock and id generator.
pub mod store {
    pub use missionops_store::*;
}

/// Event delivery: the outbox dispatcher and its sinks (signed webhooks; NATS JetStream with
/// the `nats` feature).
#[cfg(any(feature = "webhook", feature = "nats"))]
pub mod delivery {
    pub use missionops_delivery::*;
}

/// Packet telemetry: XTCE-subset definitions compiled into CCSDS Space Packet decoders.
#[cfg(feature = "packets")]
pub mod packets {
    pub use missionops_packets::*;
}

/// The HTTP service.
#[cfg(feature = "http")]
pub mod http {
    pub use missionops_http::*;
}

/// The `missionops` command-line program.
#[cfg(feature = "cli")]
pub mod cli {
    pub use missionops_cli::*;
}
