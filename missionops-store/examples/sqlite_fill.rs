//! Fills a SQLite file with telemetry, for the range benchmark of `benches/sqlite_ingest.rs`.
//!
//! ```text
//! cargo run --release -p missionops-store --features sqlite --example sqlite_fill -- \
//!     /tmp/missionops-10m.db 10000000
//! MISSIONOPS_BENCH_DB=/tmp/missionops-10m.db \
//!     cargo bench -p missionops-store --bench sqlite_ingest --features sqlite -- range
//! ```
//!
//! The file gets [`SPACECRAFT`] spacecraft sending one snapshot of ten numeric parameters per
//! second each, stored the way a ground station ingests them: batches of 1,000 snapshots of one
//! spacecraft, the spacecraft taking turns, through [`SqliteStore::insert_telemetry`] (so the
//! file is exactly what the store writes, latest values included). With N snapshots, every
//! spacecraft has N / 8 seconds of history: 10 M gives each 14 days, 1 M about 35 hours.
//! Snapshot ids are time-ordered UUIDs, as generated ids are.

use missionops_core::TenantId;
use std::path::Path;
use std::time::Instant;

use missionops_core::{
    EventId, EventType, MissionType, NewEvent, ParameterName, ParameterValue, Parameters, Severity,
    SnapshotId, Spacecraft, SpacecraftId, SpacecraftName, SpacecraftRepository,
    TelemetryRepository, TelemetrySnapshot, TelemetryWrite, Timestamp,
};
use missionops_store::SqliteStore;

/// How many spacecraft share the file.
pub const SPACECRAFT: u64 = 8;
/// Snapshots per ingest batch.
pub const BATCH: u64 = 1_000;

/// The id of spacecraft `n` (`SC-000` …).
pub fn spacecraft_id(n: u64) -> SpacecraftId {
    SpacecraftId::parse(format!("SC-{n:03}")).expect("spacecraft id")
}

/// The time of the first sample of every spacecraft.
pub fn epoch() -> Timestamp {
    Timestamp::parse("2025-01-01T00:00:00Z").expect("timestamp")
}

/// The names of the ten parameters.
pub fn parameter_names() -> Vec<ParameterName> {
    [
        "battery_soc",
        "bus_voltage",
        "bus_current",
        "temp_obc",
        "temp_battery",
        "temp_panel",
        "gyro_x",
        "gyro_y",
        "gyro_z",
        "signal_strength",
    ]
    .into_iter()
    .map(|n| ParameterName::parse(n).expect("name"))
    .collect()
}

/// Snapshot `second` of `spacecraft`: ten numbers that vary like telemetry (fractions, some
/// negative), with a globally unique, time-ordered id.
pub fn snapshot(
    names: &[ParameterName],
    spacecraft: u64,
    second: u64,
    id_counter: u128,
) -> TelemetrySnapshot {
    let s = second as f64;
    let values = [
        80.0 + (s * 0.001).sin() * 15.0,
        28.0 + (s * 0.01).cos() * 0.7,
        1.5 + (s * 0.003).sin() * 0.4,
        21.37 + (s * 0.0005).sin() * 4.0,
        18.2 + (s * 0.0007).cos() * 3.0,
        -40.0 + (s * 0.001).sin() * 60.0,
        (s * 0.1).sin() * 0.02,
        (s * 0.11).cos() * 0.02,
        (s * 0.13).sin() * 0.02,
        -95.0 + (s * 0.05).sin() * 10.0 + spacecraft as f64,
    ];
    let parameters = Parameters::new(
        names
            .iter()
            .cloned()
            .zip(values.into_iter().map(ParameterValue::Number)),
    )
    .expect("parameters");
    TelemetrySnapshot {
        id: SnapshotId::from(uuid::Uuid::from_u128(
            (0x0190_0000_0000_7000_8000_0000_0000_0000_u128) + id_counter,
        )),
        spacecraft_id: spacecraft_id(spacecraft),
        timestamp: epoch().add_millis(i64::try_from(second).expect("second") * 1_000),
        parameters,
    }
}

/// Registers the spacecraft that are not registered yet.
pub async fn register_all(store: &SqliteStore) {
    for n in 0..SPACECRAFT {
        let id = spacecraft_id(n);
        if store
            .get_spacecraft(&TenantId::default(), &id)
            .await
            .expect("get")
            .is_some()
        {
            continue;
        }
        store
            .register_spacecraft(
                &TenantId::default(),
                Spacecraft {
                    id: id.clone(),
                    name: SpacecraftName::parse(format!("Bench-{n}")).expect("name"),
                    mission_type: MissionType::parse("LEO_IMAGING").expect("mission type"),
                    metadata: serde_json::Map::new(),
                    created_at: epoch(),
                    updated_at: epoch(),
                },
                NewEvent {
                    id: EventId::parse(format!("register-{n}")).expect("event id"),
                    spacecraft_id: Some(id),
                    timestamp: epoch(),
                    event_type: EventType::SpacecraftRegistered,
                    severity: Severity::Low,
                    message: "registered for the benchmark".to_owned(),
                    metadata: serde_json::Map::new(),
                },
            )
            .await
            .expect("register");
    }
}

/// Creates `path` with `total` snapshots (rounded down to whole batches), printing progress.
pub async fn fill(path: &Path, total: u64) {
    let store = SqliteStore::open_path(path).await.expect("open");
    register_all(&store).await;
    let names = parameter_names();
    let batches = total / BATCH;
    let started = Instant::now();
    for b in 0..batches {
        let spacecraft = b % SPACECRAFT;
        let round = b / SPACECRAFT;
        let snapshots = (0..BATCH)
            .map(|i| {
                let counter = u128::from(b * BATCH + i);
                snapshot(&names, spacecraft, round * BATCH + i, counter)
            })
            .collect();
        store
            .insert_telemetry(TelemetryWrite {
                tenant: Default::default(),
                registrations: Vec::new(),
                snapshots,
                ..TelemetryWrite::default()
            })
            .await
            .expect("insert");
        if (b + 1) % 1_000 == 0 || b + 1 == batches {
            let done = (b + 1) * BATCH;
            let rate = done as f64 / started.elapsed().as_secs_f64();
            eprintln!("{done} snapshots stored ({rate:.0}/s)");
        }
    }
    store.close().await;
}

#[allow(dead_code)]
fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(total)) = (args.next(), args.next()) else {
        eprintln!("usage: sqlite_fill <file> <snapshots>");
        std::process::exit(2);
    };
    let Ok(total) = total.replace('_', "").parse::<u64>() else {
        eprintln!("sqlite_fill: <snapshots> must be a whole number, got {total:?}");
        std::process::exit(2);
    };
    if Path::new(&path).exists() {
        eprintln!("sqlite_fill: {path} exists; remove it first (the fill always starts empty)");
        std::process::exit(2);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(fill(Path::new(&path), total));
}
