//! Black-box tests of the HTTP service, one file per resource (`bad_requests` is the table of
//! invalid requests, `server` the server's lifecycle): the real server on port 0 over a fresh
//! SQLite file, spoken to over HTTP. `tests/api_postgres` runs the same tests on PostgreSQL.

/// The store every test here runs on.
pub const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

mod alarms;
mod anomalies;
mod bad_requests;
mod docs;
mod fleet;
mod gated_store;
mod helpers;
mod ndjson;
mod ops;
mod server;
mod spacecraft;
mod sse;
mod status;
mod telemetry;
