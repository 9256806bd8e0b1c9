//! Black-box tests of the HTTP service: the real server on port 0 over a fresh SQLite file,
//! spoken to over HTTP. `tests/api_postgres` runs the same tests on PostgreSQL.

/// The store every test here runs on.
pub const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

mod alarms;
mod bad_requests;
mod beyond;
mod compat;
mod helpers;
mod ndjson;
mod openapi;
mod sse;
mod status;
