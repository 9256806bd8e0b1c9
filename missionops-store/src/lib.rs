//! # missionops-store
//!
//! Storage backends for MissionOps: implementations of the repository traits of
//! [`missionops_core`], plus the production [`SystemClock`] and [`UuidV7Ids`].
//!
//! - [`MemoryStore`]: everything in memory, for tests and embedding.
//!
//! ```
//! use std::sync::Arc;
//! use missionops_core::MissionOps;
//! use missionops_store::{MemoryStore, SystemClock, UuidV7Ids};
//!
//! let app = MissionOps::new(Arc::new(MemoryStore::new()), Arc::new(SystemClock), Arc::new(UuidV7Ids));
//! # let _ = app;
//! ```
//!
//! With the `conformance` feature, [`conformance`] holds the suite every backend must pass, the
//! fixtures its cases and the backends' own tests build their data from, and fresh stores.
//!
//! Every backend also implements the core's [`OutboxStore`](missionops_core::OutboxStore)
//! port: each recorded event gets an outbox row in the transaction that records it, and the
//! backend keeps the rows' delivery state (claims under a lease, backoff, dead letters).
//! Delivering them to NATS JetStream and webhooks is `missionops-delivery`'s job.
//!
//! # Layout
//! - `memory/`: the in-memory backend, one file per repository.
//! - `sqlite/`, `postgres/`: the durable backends (features `sqlite`, `postgres`); SQLite's
//!   telemetry has its write path and its read path in files of their own.
//! - `system`: the system clock and UUIDv7 ids.
//! - `outbox`: what the backends' outbox implementations share (claim ids, jitter, error cut).
//! - `json_text`, `text_pages`, `pages_ahead`: what the durable backends share to read
//!   telemetry back: the exact reader of stored JSON text, pages of a range read joined into
//!   one text, and those pages handed to their consumer in order, read ahead of it (SQLite
//!   reads them side by side between ends it probes for; PostgreSQL cuts one stream into
//!   them, `postgres/window.rs`).
//! - `conformance/`: the shared backend test suite (feature `conformance`): one file of cases
//!   per repository, `fixtures`, `backends`.

#![deny(missing_docs)]

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
mod json_text;
mod memory;
mod open;
mod outbox;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
mod pages_ahead;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod system;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod text_pages;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod unavailable;

pub use memory::MemoryStore;
pub use open::{DatabaseUrl, TelemetryDurability, migrate, open, open_for_server};
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use system::{SystemClock, UuidV7Ids};
