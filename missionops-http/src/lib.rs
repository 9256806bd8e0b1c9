//! # missionops-http
//!
//! The MissionOps HTTP service: every route of the TypeScript service it replaces, with the
//! same paths and JSON shapes, plus the rest of the API (SPEC §5): spacecraft registration,
//! configuration history, detection, fleet status, latest values, plot series, NDJSON ingest,
//! documents, procedures, a resumable Server-Sent Events stream, health, readiness, Prometheus
//! metrics and an OpenAPI document generated from the handlers.
//!
//! ```no_run
//! use std::sync::Arc;
//! use missionops_core::MissionOps;
//! use missionops_http::{AppState, HttpConfig, serve, shutdown_signal};
//! use missionops_store::{MemoryStore, SystemClock, UuidV7Ids};
//!
//! # async fn run() -> std::io::Result<()> {
//! let ops = MissionOps::new(Arc::new(MemoryStore::new()), Arc::new(SystemClock), Arc::new(UuidV7Ids));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! serve(listener, AppState::new(ops, HttpConfig::default()), shutdown_signal()).await
//! # }
//! ```
//!
//! # Layout
//! - `routes`: the handlers, one module per area; each parses, calls one service, renders.
//! - `extract`: JSON, query and path extractors whose rejections are our error shape.
//! - `serde_errors`: serde's messages as reasons for clients (no Rust types, short quotes).
//! - `error`: [`ApiError`], the one mapping from core errors to statuses.
//! - `openapi`: the route table, shared by the router and the OpenAPI document.
//! - `auth`: API keys, the route roles, the authentication middleware (SPEC §9).
//! - `contract`: the served `/openapi.json`: that document with the server's real contract.
//! - `server`: middleware, [`router`], [`serve`].
//! - `access_log`: which finished requests are logged, at which level.
//! - `connections`: the accept loop: the connection cap, header-read and idle timeouts, and
//!   the TLS handshake under them.
//! - `tls` (feature `tls`): `TlsConfig` from PEM files, for `serve_tls`.
//! - `body_budget`: the bound on request-body bytes held by all requests at once.
//! - `session`: browser sessions: a key signed in once becomes an `HttpOnly` cookie; the
//!   same-origin check on the cookie's writes.
//! - `console` (feature `console`): the operator console's page and assets (SPEC §10).

#![deny(missing_docs)]

mod access_log;
mod auth;
mod body_budget;
mod connections;
#[cfg(feature = "console")]
pub mod console;
mod contract;
mod error;
mod extract;
mod metrics;
mod openapi;
mod routes;
mod serde_errors;
mod server;
mod session;
mod state;
mod streamed;
#[cfg(feature = "tls")]
mod tls;

pub use auth::{
    Access, Authenticator, KEY_PREFIX, NewKey, PresentedKey, RouteAccess, create_key, hash_secret,
    route_table,
};
pub use error::{ApiError, ErrorBody};
pub use metrics::Metrics;
pub use openapi::document as openapi_document;
#[cfg(feature = "tls")]
pub use server::serve_tls;
pub use server::{router, serve, shutdown_signal};
pub use session::{COOKIE as SESSION_COOKIE, SESSION_LIFETIME, Sessions};
pub use state::{AppState, HttpConfig, SharedState};
#[cfg(feature = "tls")]
pub use tls::{TlsConfig, TlsError};
