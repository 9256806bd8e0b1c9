//! Ten thousand spacecraft live (SPEC §8 "Fleet scale": 10,000 spacecraft × 10 parameters,
//! server < 200 MB resident, one monitor tick < 20 ms), on the SQLite store the server uses.
//!
//! Registers `FLEET` spacecraft (default 10,000) with ten limit-checked parameters each, every
//! one with `staleAfterSec: 30`, sends each spacecraft two snapshots (every monitor is built
//! and live), then prints:
//!
//! - the process's resident memory before and after, and the growth per spacecraft (monitors,
//!   compiled rules, caches and SQLite's page cache together: an upper bound on the state);
//! - one tick when nothing is due (the usual case: the median and worst of 20 ticks, a second
//!   apart by the application's clock);
//! - one tick visiting every monitor with nothing to change (`tick_every_monitor`: what every
//!   tick cost before the deadline index);
//! - one tick after a new configuration of the whole fleet (every monitor due, reading what
//!   its rules come from);
//! - one tick when every spacecraft is due at once: the whole fleet silent for a minute, every
//!   parameter goes stale and every spacecraft loses contact (100,000 stale alarms and
//!   anomalies, 10,000 `CONTACT_LOST`), committed;
//! - the first tick after a restart (a new application over the same store), which rebuilds
//!   every monitor from its history and open alarms.
//!
//! `cargo run --release --example fleet_tick` (`FLEET=1000 …` for a smaller fleet;
//! `FLEET_TICK_PAUSE_BEFORE_RESTART=N` to wait N seconds before the restart;
//! `FLEET_TICK_DATABASE_URL=postgres://… cargo run --release --features postgres --example
//! fleet_tick` on a PostgreSQL database created beforehand). An example
//! rather than a bench so that it shares the release build of the server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use missionops::store::{SqliteStore, UuidV7Ids};
use missionops::{
    Clock, ConfigStatus, ManualClock, MissionOps, NewSnapshot, SpacecraftConfig, SpacecraftId,
    Store, Timestamp,
};
use serde_json::{Map, Value, json};

const PARAMETERS: usize = 10;

/// A line of `/proc/self/status` in kB (`VmRSS`, `VmHWM`); 0 where there is none.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(str::to_owned))
        })
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn config() -> SpacecraftConfig {
    let mut parameters = Map::new();
    for p in 0..PARAMETERS {
        parameters.insert(
            format!("p{p}"),
            json!({"warnHigh": 80, "critHigh": 95, "staleAfterSec": 30}),
        );
    }
    SpacecraftConfig::parse(json!({ "parameters": parameters })).expect("config")
}

/// [`config`] with lower warning limits: what a fleet-wide change of limits looks like.
fn lowered_config() -> SpacecraftConfig {
    let mut parameters = Map::new();
    for p in 0..PARAMETERS {
        parameters.insert(
            format!("p{p}"),
            json!({"warnHigh": 75, "critHigh": 95, "staleAfterSec": 30}),
        );
    }
    SpacecraftConfig::parse(json!({ "parameters": parameters })).expect("config")
}

fn snapshot(n: usize, at: Timestamp, round: usize) -> NewSnapshot {
    let parameters: Map<String, Value> = (0..PARAMETERS)
        .map(|p| (format!("p{p}"), json!(20 + (n + p + round) % 50)))
        .collect();
    serde_json::from_value(json!({
        "spacecraftId": format!("SC-{n:05}"),
        "timestamp": at.to_string(),
        "parameters": parameters,
    }))
    .expect("snapshot")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let fleet: usize = std::env::var("FLEET")
        .ok()
        .and_then(|f| f.parse().ok())
        .unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("fleet-tick-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let rss_start = status_kb("VmRSS");
    // FLEET_TICK_DATABASE_URL: another database (a PostgreSQL one, created beforehand, with
    // `--features postgres`); the SQLite file of a temporary directory otherwise.
    let store: Arc<dyn Store> = match std::env::var("FLEET_TICK_DATABASE_URL") {
        Ok(url) => {
            missionops::store::migrate(&url).await.expect("migrate");
            missionops::store::open(&url).await.expect("store")
        }
        Err(_) => Arc::new(
            SqliteStore::open_path(dir.join("bench.db"))
                .await
                .expect("store"),
        ),
    };
    let t0 = Timestamp::parse("2025-06-01T00:00:00Z").expect("ts");
    let clock = Arc::new(ManualClock::new(t0));
    let store_again = Arc::clone(&store);
    let app = MissionOps::new(store, clock.clone(), Arc::new(UuidV7Ids));
    let started = Instant::now();
    let config = config();
    for n in 0..fleet {
        let id = SpacecraftId::parse(format!("SC-{n:05}")).expect("id");
        app.set_config(&id, config.clone(), ConfigStatus::Approved, None)
            .await
            .expect("set config");
    }
    let configured = started.elapsed();
    for round in 0..2 {
        clock.advance_millis(1_000);
        let at = clock.now();
        let snapshots: Vec<NewSnapshot> = (0..fleet).map(|n| snapshot(n, at, round)).collect();
        for batch in snapshots.chunks(1_000) {
            app.ingest_batch(batch.to_vec()).await.expect("ingest");
        }
    }
    println!(
        "{fleet} spacecraft × {PARAMETERS} parameters: configured in {:.1} s, two snapshots each in {:.1} s",
        configured.as_secs_f64(),
        (started.elapsed() - configured).as_secs_f64()
    );
    // The first tick after start loads the fleet's monitors (all built already by the writes).
    let first = Instant::now();
    let report = app.tick().await.expect("tick");
    println!(
        "first tick (loads the fleet): {:.2} ms, {} monitors visited",
        ms(first.elapsed()),
        report.spacecraft
    );
    let rss = status_kb("VmRSS");
    println!(
        "resident: {} MB at start, {} MB with the fleet live: {:.1} kB per spacecraft \
         (monitors, rules, caches and SQLite's page cache)",
        rss_start / 1024,
        rss / 1024,
        (rss.saturating_sub(rss_start)) as f64 / fleet as f64
    );
    let mut quiet = Vec::new();
    let mut visited = 0;
    for _ in 0..20 {
        clock.advance_millis(1_000);
        let t = Instant::now();
        let report = app.tick().await.expect("tick");
        quiet.push(t.elapsed());
        visited += report.spacecraft;
    }
    quiet.sort();
    println!(
        "tick, nothing due: median {:.3} ms, worst {:.3} ms ({} monitors visited in 20 ticks)",
        ms(quiet[quiet.len() / 2]),
        ms(quiet[quiet.len() - 1]),
        visited
    );
    clock.advance_millis(1_000);
    let t = Instant::now();
    let report = app.tick_every_monitor().await.expect("tick");
    println!(
        "tick visiting every monitor, nothing to change (every tick before the index): {:.1} ms, {} visited",
        ms(t.elapsed()),
        report.spacecraft
    );
    let t = Instant::now();
    let report = app.tick_every_monitor().await.expect("tick");
    println!(
        "  again, configuration versions checked < 2 s ago (no store read): {:.1} ms, {} visited",
        ms(t.elapsed()),
        report.spacecraft
    );
    // A new configuration for the whole fleet (lower limits, as an engineer pushes to a
    // constellation of one model): every monitor is due at the next tick, which reads what
    // its rules now come from (for all of them at once, `current_configs`).
    let lowered = lowered_config();
    let t = Instant::now();
    for n in 0..fleet {
        let id = SpacecraftId::parse(format!("SC-{n:05}")).expect("id");
        app.set_config(&id, lowered.clone(), ConfigStatus::Approved, None)
            .await
            .expect("set config");
    }
    let reconfigured = t.elapsed();
    clock.advance_millis(1_000);
    let t = Instant::now();
    let report = app.tick().await.expect("tick");
    println!(
        "tick after a new configuration of the whole fleet ({:.1} s to set): {:.1} ms, {} visited",
        reconfigured.as_secs_f64(),
        ms(t.elapsed()),
        report.spacecraft
    );
    clock.advance_millis(60_000);
    let t = Instant::now();
    let report = app.tick().await.expect("tick");
    println!(
        "tick, every spacecraft due (all stale, contact lost, committed): {:.1} ms, {} visited, {} alarms, {} events",
        ms(t.elapsed()),
        report.spacecraft,
        report.alarms,
        report.events
    );
    clock.advance_millis(1_000);
    let t = Instant::now();
    let report = app.tick().await.expect("tick");
    println!(
        "tick after that, nothing due: {:.3} ms, {} visited",
        ms(t.elapsed()),
        report.spacecraft
    );
    // A restart: a new application over the same store has no monitor loaded; its first tick
    // rebuilds every one from its history and open alarms (ten stale alarms each by now).
    // FLEET_TICK_PAUSE_BEFORE_RESTART=N waits N seconds first: time to `ANALYZE` a PostgreSQL
    // database whose tables grew from nothing during this run, as a database in service has
    // statistics (its planner otherwise keeps plans made for empty tables).
    if let Some(pause) = std::env::var("FLEET_TICK_PAUSE_BEFORE_RESTART")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        println!("pausing {pause} s before the restart");
        tokio::time::sleep(Duration::from_secs(pause)).await;
    }
    let restarted = MissionOps::new(store_again, clock.clone(), Arc::new(UuidV7Ids));
    clock.advance_millis(1_000);
    let t = Instant::now();
    let report = restarted.tick().await.expect("tick");
    println!(
        "first tick after a restart (every monitor rebuilt from history and open alarms): {:.1} ms, {} visited",
        ms(t.elapsed()),
        report.spacecraft
    );
    println!(
        "resident at the end: {} MB (peak {} MB)",
        status_kb("VmRSS") / 1024,
        status_kb("VmHWM") / 1024
    );
    drop((app, restarted));
    let _ = std::fs::remove_dir_all(&dir);
}
