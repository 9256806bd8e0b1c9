//! Durability under `kill -9`: a batch reported committed is there in full after a crash, and
//! no batch is ever there in part.
//!
//! The test re-executes its own binary as the child process (selecting the ignored
//! `child_ingests_until_killed` test through an environment variable), so `cargo test` builds
//! everything it needs. The child ingests batches of 1,000 snapshots and prints a line after
//! each commit; the parent reads a few lines, sends SIGKILL while the child is in the middle of
//! the next batch, reopens the file and counts what is there.

use missionops_core::TenantId;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use missionops_core::{
    EventId, EventType, MissionType, NewEvent, Parameters, Severity, SnapshotId, Spacecraft,
    SpacecraftId, SpacecraftName, SpacecraftRepository, TelemetryRepository, TelemetrySnapshot,
    TelemetryWrite, Timestamp,
};
use missionops_store::SqliteStore;
use serde_json::json;

/// Set in the child's environment: the database file it writes to.
const CHILD_DB: &str = "MISSIONOPS_CRASH_CHILD_DB";
/// What the child prints after each committed batch, before the batch number.
const COMMITTED: &str = "committed-batch=";
const BATCH_SIZE: usize = 1_000;
/// How many commits the parent waits for before it kills the child.
const KILL_AFTER: usize = 5;

fn spacecraft_id() -> SpacecraftId {
    SpacecraftId::parse("SC-CRASH").expect("id")
}

fn start() -> Timestamp {
    Timestamp::parse("2025-06-01T00:00:00Z").expect("timestamp")
}

/// Batch `n`: snapshots `b{n}-0` … `b{n}-999`, one second apart.
fn batch(n: u64) -> TelemetryWrite {
    let snapshots = (0..BATCH_SIZE)
        .map(|i| {
            let second = i64::try_from(n).expect("batch number") * 1_000 + i as i64;
            TelemetrySnapshot {
                id: SnapshotId::parse(format!("b{n}-{i}")).expect("id"),
                spacecraft_id: spacecraft_id(),
                timestamp: start().add_millis(second * 1_000),
                parameters: Parameters::from_json(&json!({
                    "temp": 20.5 + (i % 10) as f64, "volt": 28.1, "mode": "CRUISE", "ok": true
                }))
                .expect("parameters"),
            }
        })
        .collect();
    TelemetryWrite {
        tenant: Default::default(),
        registrations: Vec::new(),
        snapshots,
        ..TelemetryWrite::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[test]
#[ignore = "the child process of committed_batches_survive_kill_9, which starts it"]
fn child_ingests_until_killed() {
    let Ok(path) = std::env::var(CHILD_DB) else {
        return;
    };
    runtime().block_on(async {
        // As the server opens it: latest values written behind the telemetry, so that a
        // kill leaves some for the reopening to rebuild.
        let store = SqliteStore::open_path(&path)
            .await
            .expect("child: open")
            .deferring_latest_values();
        let mut stdout = std::io::stdout();
        for n in 0.. {
            store
                .insert_telemetry(batch(n))
                .await
                .expect("child: insert");
            // Only after the commit returned: the parent takes this line as a promise.
            writeln!(stdout, "{COMMITTED}{n}").expect("child: stdout");
            stdout.flush().expect("child: stdout");
        }
    });
}

#[test]
fn committed_batches_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("crash.db");
    let rt = runtime();
    rt.block_on(async {
        let store = SqliteStore::open_path(&path).await.expect("open");
        store
            .register_spacecraft(
                &TenantId::default(),
                Spacecraft {
                    id: spacecraft_id(),
                    name: SpacecraftName::parse("crash test").expect("name"),
                    mission_type: MissionType::parse("CUBESAT").expect("mission type"),
                    metadata: serde_json::Map::new(),
                    created_at: start(),
                    updated_at: start(),
                },
                NewEvent {
                    id: EventId::parse("registered").expect("event id"),
                    spacecraft_id: Some(spacecraft_id()),
                    timestamp: start(),
                    event_type: EventType::SpacecraftRegistered,
                    severity: Severity::Low,
                    message: "registered".to_owned(),
                    metadata: serde_json::Map::new(),
                },
            )
            .await
            .expect("register");
        store.close().await;
    });

    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_ingests_until_killed",
            "--ignored",
            "--nocapture",
            "-q",
        ])
        .env(CHILD_DB, &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().expect("child stdout");
    let (lines, reports) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest may print its own text on the same line; the marker finds ours.
            if let Some(n) = line
                .find(COMMITTED)
                .and_then(|at| line[at + COMMITTED.len()..].trim().parse::<u64>().ok())
            {
                if lines.send(n).is_err() {
                    break;
                }
            }
        }
    });

    let deadline = Instant::now() + Duration::from_secs(120);
    let mut committed = Vec::new();
    while committed.len() < KILL_AFTER {
        let left = deadline.saturating_duration_since(Instant::now());
        match reports.recv_timeout(left) {
            Ok(n) => committed.push(n),
            Err(_) => {
                let _ = child.kill();
                let output = child.wait_with_output().expect("child output");
                panic!(
                    "the child reported {} commits, then stopped; its stderr:\n{}",
                    committed.len(),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
    }
    // SIGKILL on Unix: no destructor, no flush, no checkpoint runs in the child.
    child.kill().expect("kill the child");
    let status = child.wait().expect("reap the child");
    assert!(
        !status.success(),
        "the child must have been killed: {status}"
    );
    reader.join().expect("stdout reader");
    // Lines the child printed before it died count too.
    committed.extend(reports.try_iter());

    rt.block_on(async {
        let store = SqliteStore::open_path(&path)
            .await
            .expect("reopen after the crash");
        let stored = store
            .telemetry_range(
                &TenantId::default(),
                &spacecraft_id(),
                start().add_millis(-1),
                start().add_millis(i64::MAX / 2),
                usize::MAX,
            )
            .await
            .expect("read back");
        let mut per_batch: BTreeMap<u64, usize> = BTreeMap::new();
        for snapshot in &stored {
            let batch = snapshot
                .id
                .as_str()
                .strip_prefix('b')
                .and_then(|rest| rest.split_once('-'))
                .and_then(|(n, _)| n.parse::<u64>().ok())
                .expect("a snapshot id of the form b{batch}-{index}");
            *per_batch.entry(batch).or_default() += 1;
        }
        for n in &committed {
            assert_eq!(
                per_batch.get(n).copied(),
                Some(BATCH_SIZE),
                "batch {n} was reported committed, so all of it must be there: {per_batch:?}"
            );
        }
        for (n, count) in &per_batch {
            assert_eq!(
                *count, BATCH_SIZE,
                "batch {n} is there in part: {per_batch:?}"
            );
        }
        // Batches commit in order, so what survived is 0..=k, where k is the last reported
        // batch or the one after it (committed, but killed before it could say so).
        let last_reported = committed.iter().max().copied().expect("some commits");
        let present: Vec<u64> = per_batch.keys().copied().collect();
        let last_present = present.last().copied().expect("some batches");
        assert_eq!(present, (0..=last_present).collect::<Vec<u64>>());
        assert!(
            last_present == last_reported || last_present == last_reported + 1,
            "reported up to {last_reported}, found up to {last_present}"
        );
        // Latest values are written behind the telemetry (every 250 ms): those the child had
        // not written yet are rebuilt from the surviving telemetry at reopening, so they are
        // the last surviving snapshot's (batch `last_present`, snapshot 999).
        let latest = store
            .latest_values(&TenantId::default(), &spacecraft_id())
            .await
            .expect("latest values");
        let newest = start()
            .add_millis((i64::try_from(last_present).expect("batch number") * 1_000 + 999) * 1_000);
        let temp = latest
            .iter()
            .find(|v| v.parameter.as_str() == "temp")
            .map(|v| serde_json::to_value(v).expect("json"));
        assert_eq!(
            temp,
            Some(json!({"parameter": "temp", "value": 29.5, "timestamp": newest.to_string()})),
            "the latest temp is the last surviving snapshot's"
        );
        let integrity: String = {
            let url = format!("sqlite://{}", path.display());
            let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
                .await
                .expect("raw connection");
            sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(&mut conn)
                .await
                .expect("integrity check")
        };
        assert_eq!(integrity, "ok");
        println!(
            "killed after batch {last_reported} was reported; batches 0..={last_present} survived"
        );
        store.close().await;
    });
}
