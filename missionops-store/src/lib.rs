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
//! [`outbox`] delivers recorded events to NATS JetStream (feature `nats`) and signed webhooks
//! (feature `webhook`), at least once and in order per spacecraft; every backend implements
//! its [`OutboxStore`] port, and [`open_with_outbox`] opens a store with its outbox.
//!
//! # Layout
//! - `memory/`: the in-memory backend, one file per repository.
//! - `sqlite/`, `postgres/`: the durable backends (features `sqlite`, `postgres`); SQLite's
//!   telemetry has its write path and its read path in files of their own.
//! - `system`: the system clock and UUIDv7 ids.
//! - `outbox`: event delivery — the outbox port, the dispatcher and its sinks.
//! - `conformance/`: the shared backend test suite (feature `conformance`): one file of cases
//!   per repository, `fixtures`, `backends`.

#![deny(missing_docs)]

#[cfg(feature = "conformance")]
pub mod conformance;
mod memory;
mod open;
pub mod outbox;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod system;

pub use memory::MemoryStore;
pub use open::{DatabaseUrl, OpenedStore, migrate, open, open_with_outbox};
pub use outbox::{OutboxStats, OutboxStore};
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use system::{SystemClock, UuidV7Ids};
