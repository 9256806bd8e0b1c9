//! The black-box HTTP tests of `tests/api`, on a fresh PostgreSQL database per test (created
//! with a random name on `MISSIONOPS_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, and dropped afterwards). Without a reachable
//! server these tests fail; they never skip.

/// The store every test here runs on.
pub const BACKEND: helpers::Backend = helpers::Backend::Postgres;

#[path = "../api/alarms.rs"]
mod alarms;
#[path = "../api/anomalies.rs"]
mod anomalies;
#[path = "../api/bad_requests.rs"]
mod bad_requests;
#[path = "../api/docs.rs"]
mod docs;
#[path = "../api/fleet.rs"]
mod fleet;
#[path = "../api/gated_store.rs"]
mod gated_store;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/ndjson.rs"]
mod ndjson;
#[path = "../api/ops.rs"]
mod ops;
#[path = "../api/packets.rs"]
mod packets;
#[path = "../api/server.rs"]
mod server;
#[path = "../api/spacecraft.rs"]
mod spacecraft;
#[path = "../api/sse.rs"]
mod sse;
#[path = "../api/status.rs"]
mod status;
#[path = "../api/telemetry.rs"]
mod telemetry;
