//! The HTTP service on the default embedded SQLite store (`./missionops.db`, created and
//! migrated on first start), at http://127.0.0.1:3000, until ctrl-c or SIGTERM.
//!
//! Run with `cargo run --example server --features http`, then try
//! `curl -s http://127.0.0.1:3000/healthz`. `missionops serve` is the same server with flags for
//! the address, body limit, timeout, CORS and logging.

use missionops::MissionOps;
use missionops::http::{AppState, HttpConfig, serve, shutdown_signal};
use missionops::store::{SystemClock, UuidV7Ids};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = missionops::store::open("sqlite://missionops.db").await?;
    let ops = MissionOps::new(store, Arc::new(SystemClock), Arc::new(UuidV7Ids));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("MissionOps listening on http://{}", listener.local_addr()?);
    serve(
        listener,
        AppState::new(ops, HttpConfig::default()),
        shutdown_signal(),
    )
    .await?;
    Ok(())
}
