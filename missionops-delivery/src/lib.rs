//! # missionops-delivery
//!
//! Event delivery from the outbox, at least once.
//!
//! Every recorded event gets an outbox row in the transaction that records it (SPEC §4); the
//! core's [`OutboxStore`](missionops_core::OutboxStore) port, which every store implements,
//! hands those rows out. This crate drains them to the outside world:
//!
//! - [`Sink`]: where events go. [`NatsSink`] (feature `nats`) publishes to NATS JetStream,
//!   [`WebhookSink`] posts signed JSON to a URL.
//! - [`Dispatcher`]: the Tokio task that polls the outbox, delivers each claimed batch to every
//!   sink and records the outcome; [`DispatcherHandle`] wakes it early or stops it.
//!
//! It depends on the core's ports only, not on a storage backend: any store, or anything else
//! that implements the port, can be drained.
//!
//! ```no_run
//! use std::sync::Arc;
//! use missionops_core::Store;
//! use missionops_delivery::{Dispatcher, DispatcherConfig, WebhookConfig, WebhookSink};
//!
//! # async fn demo(store: Arc<dyn Store>) -> Result<(), Box<dyn std::error::Error>> {
//! let sink = WebhookSink::new(WebhookConfig::new("https://ops.example/hook", "s3cr3t"))?;
//! let handle =
//!     Dispatcher::new(Arc::new(store), vec![Arc::new(sink)], DispatcherConfig::default())?
//!         .spawn();
//! // … record events: they reach the webhook, in order per spacecraft …
//! handle.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//! - **At least once.** A row is marked delivered only after every sink accepted its event. A
//!   process that dies between a sink accepting and the mark leaves the row claimed until its
//!   lease ends; then it is claimed and sent again. A retry after a partial failure re-sends to
//!   the sinks that had accepted. Receivers de-duplicate by event id (JetStream does it by the
//!   `Nats-Msg-Id` header within its duplicate window).
//! - **Order per spacecraft.** The events of one spacecraft reach each sink in sequence order:
//!   a claim only takes a row when no earlier pending row of the same spacecraft is backing off
//!   or claimed by someone else, and a batch stops a spacecraft's delivery at its first failure.
//!   Events without a spacecraft form one group of their own. A `dead` event no longer holds
//!   its successors back, so a dead letter that is retried arrives after them.
//!
//! # Layout
//! - `sink`: [`Sink`], the port a destination implements, and [`Delivery`], an event with its
//!   JSON.
//! - `dispatcher`: [`Dispatcher`], its settings and its handle.
//! - `nats`: [`NatsSink`] (feature `nats`).
//! - `webhook`: [`WebhookSink`] and its signature.

#![deny(missing_docs)]

mod dispatcher;
#[cfg(feature = "nats")]
mod nats;
mod sink;
mod webhook;

pub use dispatcher::{BatchReport, Dispatcher, DispatcherConfig, DispatcherHandle};
#[cfg(feature = "nats")]
pub use nats::{DEFAULT_SUBJECT_PREFIX, NatsConfig, NatsSink, nats_subject};
pub use sink::{Delivery, Sink, SinkOutcome};
pub use webhook::{
    EVENT_ID_HEADER, SIGNATURE_HEADER, TENANT_HEADER, TIMESTAMP_HEADER, WebhookConfig, WebhookSink,
    webhook_signature,
};
