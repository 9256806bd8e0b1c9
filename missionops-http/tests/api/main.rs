//! Black-box tests of the HTTP service, one file per resource (`bad_requests` is the table of
//! invalid requests, `errors` what error answers say, `server` the server's lifecycle,
//! `connections` its connection limits, `readiness` `/readyz` against a locked database): the
//! real server on port 0 over a fresh SQLite file, spoken to over HTTP. `tests/api_postgres`
//! runs the same tests on PostgreSQL (but for the last three, which are about the server or
//! the SQLite file).

/// The store every test here runs on.
pub const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

mod alarms;
mod anomalies;
mod auth;
mod bad_requests;
mod body_budget;
mod connections;
mod derived;
mod docs;
mod errors;
mod fleet;
mod gated_store;
mod helpers;
mod ndjson;
mod ops;
mod packets;
mod readiness;
mod server;
mod spacecraft;
mod sse;
mod status;
mod telemetry;
