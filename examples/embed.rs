//! MissionOps as a library, no server: register a spacecraft, set its limits, ingest a few
//! snapshots, analyse them and print the anomalies.
//!
//! Run with `cargo run --example embed`.

use std::sync::Arc;

use missionops::store::{MemoryStore, SystemClock, UuidV7Ids};
use missionops::{AnalysisWindow, ConfigStatus, Limit, MissionOps, NewSnapshot, SpacecraftConfig};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ops = MissionOps::new(
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
    );

    let sat = ops
        .register_spacecraft(serde_json::from_value(json!({
            "id": "SC-001", "name": "Sat-Imager-001", "missionType": "LEO_IMAGING"
        }))?)
        .await?;

    let limits = SpacecraftConfig::parse(json!({"parameters": {
        "battery_soc": {"warnLow": 25, "critLow": 15},
        "battery_temp": {"warnHigh": 35, "critHigh": 45, "warnLow": -5, "critLow": -10},
    }}))?;
    ops.set_config(&sat.id, limits, ConfigStatus::Approved, None)
        .await?;

    for (second, soc, temp) in [
        (0, 80.0, 20.0),
        (60, 24.5, 36.2),
        (120, 14.0, 47.0),
        (180, 60.0, -7.5),
    ] {
        let snapshot: NewSnapshot = serde_json::from_value(json!({
            "spacecraftId": sat.id,
            "timestamp": format!("2025-01-01T00:{:02}:00Z", second / 60),
            "parameters": {"battery_soc": soc, "battery_temp": temp, "mode": "NOMINAL"},
        }))?;
        ops.ingest(snapshot).await?;
    }

    let anomalies = ops
        .analyse(&sat.id, AnalysisWindow::Recent(Limit::new(20, 100)?))
        .await?;
    println!(
        "{} anomalies for {} ({}):",
        anomalies.len(),
        sat.name,
        sat.id
    );
    for a in &anomalies {
        println!(
            "  {}  {:<9} {:<8} {}",
            a.timestamp,
            a.kind.as_str(),
            a.severity.as_str(),
            a.description
        );
    }
    Ok(())
}
