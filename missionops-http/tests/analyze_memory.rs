//! The server's resident memory while it answers `GET /telemetry/analyze` over a window of
//! 200,000 stored snapshots (issue 17): the answer is streamed, so the memory it takes does
//! not grow with the window beyond SQLite's bounded reader page caches. Before streaming, the
//! window, its anomalies and the body were each held whole (681 MB resident for 1 M snapshots
//! in release, about 0.7 KB a snapshot).
//!
//! Its own test binary, so that no other test allocates in the process meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use missionops_core::{
    ConfigStatus, IngestMode, MissionOps, NewSnapshot, SpacecraftConfig, SpacecraftId,
};
use missionops_http::{AppState, HttpConfig, serve};
use missionops_store::{SqliteStore, SystemClock, UuidV7Ids};
use serde_json::json;

const SNAPSHOTS: u64 = 200_000;

/// This process's resident memory in KiB.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysing_a_long_window_takes_memory_independent_of_its_length() {
    if !std::path::Path::new("/proc/self/status").exists() {
        return; // Resident memory is read from Linux's /proc.
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(
        SqliteStore::open_path(dir.path().join("missionops.db"))
            .await
            .expect("open"),
    );
    let ops = MissionOps::new(store, Arc::new(SystemClock), Arc::new(UuidV7Ids));
    for start in (0..SNAPSHOTS).step_by(20_000) {
        let batch: Vec<NewSnapshot> = (start..start + 20_000)
            .map(|i| {
                serde_json::from_value(json!({
                    "id": format!("m{i}"),
                    "spacecraftId": "SC-MEM",
                    "timestamp": format!("2025-01-{:02}T{:02}:{:02}:{:02}Z",
                        1 + i / 86_400, i % 86_400 / 3600, i % 3600 / 60, i % 60),
                    "parameters": {"temp": 30 + i % 30, "volt": 28.5, "mode": "CRUISE"},
                }))
                .expect("snapshot")
            })
            .collect();
        ops.ingest_batch_as(batch, IngestMode::Stored)
            .await
            .expect("ingest");
    }
    // Every snapshot crosses two limits: 400 k anomalies, a 77 MB answer.
    let rules = json!({"parameters": {"temp": {"warnHigh": 29}, "volt": {"warnLow": 29}}});
    ops.set_config(
        &SpacecraftId::parse("SC-MEM").expect("id"),
        SpacecraftConfig::parse(rules).expect("config"),
        ConfigStatus::Approved,
        None,
    )
    .await
    .expect("config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(
        listener,
        AppState::new(ops, HttpConfig::default()),
        async move {
            let _ = stopped.await;
        },
    ));

    let before = resident_kib();
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(resident_kib(), Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    let mut response = reqwest::get(format!(
        "{address}/telemetry/analyze?spacecraftId=SC-MEM&from=2025-01-01T00:00:00Z&to=2025-12-31T00:00:00Z"
    ))
    .await
    .expect("analyze");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    // Read and dropped piece by piece, as a client saving it to a file would.
    let (mut bytes, mut commas) = (0_usize, 0_usize);
    while let Some(piece) = response.chunk().await.expect("body") {
        bytes += piece.len();
        commas += piece.iter().filter(|b| **b == b'}').count();
    }
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    let _ = stop.send(());
    let grown_mib = peak.load(Ordering::Relaxed).saturating_sub(before) / 1024;
    println!(
        "{SNAPSHOTS} snapshots: {bytes} bytes, {commas} anomalies; resident {} MiB before, +{grown_mib} MiB at peak",
        before / 1024
    );
    assert_eq!(commas, usize::try_from(2 * SNAPSHOTS).expect("count"));
    // Measured: +31 MiB for 200 k snapshots, +46 MiB for 600 k, most of it SQLite's reader
    // page caches filling up (8 MiB per reader connection, 64 MiB in all): bounded, not
    // growing with the window. Holding the anomalies and the body whole instead: +230 MiB.
    // Since pages are read side by side (two readers producing, parsed on blocking threads),
    // +50 to +62 MiB: glibc keeps an arena per thread (+35 MiB with MALLOC_ARENA_MAX=1).
    assert!(
        grown_mib < 96,
        "analysing {SNAPSHOTS} snapshots grew the server by {grown_mib} MiB"
    );
}
