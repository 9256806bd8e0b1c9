//! PostgreSQL ingest and reads. Ingest: `insert_telemetry` on batches of 1,000 snapshots × 10 numeric
//! parameters, beside a baseline that inserts the same rows into the same table with one plain
//! `INSERT … SELECT FROM unnest(…)` per batch in one transaction. Both commit durably
//! (`synchronous_commit` as the server has it, `on` by default) before they return.
//!
//! The store path does what the baseline does not: it checks the spacecraft, registers the ids
//! (telling new snapshots from retries), and maintains the latest value of every parameter. The
//! ratio of the two rates, measured in one run, is the cost of those guarantees.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-pg cargo bench -p missionops-store --features postgres \
//!     --bench postgres_ingest
//! ```
//!
//! Reads (`postgres_read_one_day_1hz`): one day at 1 Hz (86,400 snapshots × 10 parameters)
//! loaded with `telemetry_range`, and downsampled into 1-minute buckets with
//! `telemetry_series`.
//!
//! Each group creates a scratch database through `MISSIONOPS_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and drops it at the end. Throughput is
//! reported in snapshots per second.

use missionops_core::TenantId;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use missionops_core::{
    BucketWidth, EventId, EventType, MissionType, NewEvent, ParameterName, ParameterValue,
    Parameters, Severity, SnapshotId, Spacecraft, SpacecraftId, SpacecraftName,
    SpacecraftRepository, TelemetryRepository, TelemetrySnapshot, TelemetryWrite, Timestamp,
};
use missionops_store::PostgresStore;

const BATCH: usize = 1_000;
const PARAMETERS: usize = 10;

fn admin_url() -> String {
    std::env::var("MISSIONOPS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn spacecraft_id(name: &str) -> SpacecraftId {
    SpacecraftId::parse(name).expect("spacecraft id")
}

async fn register(store: &PostgresStore, id: &str) {
    let now = Timestamp::parse("2025-01-01T00:00:00Z").expect("time");
    store
        .register_spacecraft(
            &TenantId::default(),
            Spacecraft {
                id: spacecraft_id(id),
                name: SpacecraftName::parse(id).expect("name"),
                mission_type: MissionType::parse("LEO_IMAGING").expect("mission type"),
                metadata: serde_json::Map::new(),
                created_at: now,
                updated_at: now,
            },
            NewEvent {
                id: EventId::parse(format!("register-{id}")).expect("event id"),
                spacecraft_id: Some(spacecraft_id(id)),
                timestamp: now,
                event_type: EventType::SpacecraftRegistered,
                severity: Severity::Low,
                message: format!("{id} registered"),
                metadata: serde_json::Map::new(),
            },
        )
        .await
        .expect("register spacecraft");
}

/// The next batch: 1 Hz samples of 10 numeric parameters, continuing from `next`.
fn batch(spacecraft: &str, next: &AtomicI64) -> Vec<TelemetrySnapshot> {
    let first = next.fetch_add(BATCH as i64, Ordering::Relaxed);
    let names: Vec<ParameterName> = (0..PARAMETERS)
        .map(|p| ParameterName::parse(format!("param_{p}")).expect("name"))
        .collect();
    let start = Timestamp::parse("2025-01-01T00:00:00Z").expect("time");
    (first..first + BATCH as i64)
        .map(|n| TelemetrySnapshot {
            id: SnapshotId::parse(format!("{spacecraft}-{n}")).expect("snapshot id"),
            spacecraft_id: spacecraft_id(spacecraft),
            timestamp: start.add_millis(n * 1000),
            parameters: Parameters::new(names.iter().enumerate().map(|(p, name)| {
                #[allow(clippy::cast_precision_loss)]
                let value = (n as f64).mul_add(0.25, p as f64) % 97.0;
                (name.clone(), ParameterValue::Number(value))
            }))
            .expect("parameters"),
        })
        .collect()
}

/// The baseline: the same rows, one plain UNNEST insert in one transaction.
async fn plain_insert(store: &PostgresStore, snapshots: &[TelemetrySnapshot]) {
    let spacecraft: Vec<&str> = snapshots.iter().map(|s| s.spacecraft_id.as_str()).collect();
    let millis: Vec<i64> = snapshots.iter().map(|s| s.timestamp.as_millis()).collect();
    // Arrival numbers far above the store's, from the same counter as the ids.
    let arrivals: Vec<i64> = millis.iter().map(|ms| (1 << 60) + ms).collect();
    let ids: Vec<&str> = snapshots.iter().map(|s| s.id.as_str()).collect();
    let parameters: Vec<String> = snapshots
        .iter()
        .map(|s| serde_json::to_string(&s.parameters).expect("json"))
        .collect();
    let mut tx = store.pool().begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO telemetry (spacecraft_id, ts, arrival, id, parameters)
         SELECT s, timestamptz 'epoch' + ms * interval '1 millisecond', a, i, p::json
         FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[])
              AS u(s, ms, a, i, p)",
    )
    .bind(&spacecraft)
    .bind(&millis)
    .bind(&arrivals)
    .bind(&ids)
    .bind(&parameters)
    .execute(&mut *tx)
    .await
    .expect("insert");
    tx.commit().await.expect("commit");
}

fn ingest(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = runtime
        .block_on(PostgresStore::scratch(&admin_url()))
        .unwrap_or_else(|e| {
            panic!("this bench needs PostgreSQL (MISSIONOPS_TEST_DATABASE_URL): {e}")
        });
    runtime.block_on(register(&store, "SC-STORE"));
    runtime.block_on(register(&store, "SC-PLAIN"));
    let next_store = AtomicI64::new(0);
    let next_plain = AtomicI64::new(0);

    let mut group = c.benchmark_group("postgres_ingest_1000x10");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("insert_telemetry", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let write = TelemetryWrite {
                        tenant: Default::default(),
                        registrations: Vec::new(),
                        snapshots: batch("SC-STORE", &next_store),
                        anomalies: Vec::new(),
                        alarms: Vec::new(),
                        events: Vec::new(),
                    };
                    let started = Instant::now();
                    let outcome = store.insert_telemetry(write).await.expect("ingest");
                    spent += started.elapsed();
                    assert_eq!(outcome.inserted, BATCH);
                }
                spent
            })
        });
    });
    group.bench_function("baseline_plain_unnest_insert", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let snapshots = batch("SC-PLAIN", &next_plain);
                    let started = Instant::now();
                    plain_insert(&store, &snapshots).await;
                    spent += started.elapsed();
                }
                spent
            })
        });
    });
    group.finish();

    // Criterion measures one function after the other, and a busy machine can change speed in
    // between; so also time the two paths batch by batch, alternating which goes first, and
    // compare their medians.
    let rounds = 40;
    let mut store_times = Vec::with_capacity(rounds);
    let mut plain_times = Vec::with_capacity(rounds);
    runtime.block_on(async {
        for round in 0..rounds {
            for first in [round % 2 == 0, round % 2 != 0] {
                if first {
                    let write = TelemetryWrite {
                        tenant: Default::default(),
                        registrations: Vec::new(),
                        snapshots: batch("SC-STORE", &next_store),
                        anomalies: Vec::new(),
                        alarms: Vec::new(),
                        events: Vec::new(),
                    };
                    let started = Instant::now();
                    store.insert_telemetry(write).await.expect("ingest");
                    store_times.push(started.elapsed());
                } else {
                    let snapshots = batch("SC-PLAIN", &next_plain);
                    let started = Instant::now();
                    plain_insert(&store, &snapshots).await;
                    plain_times.push(started.elapsed());
                }
            }
        }
    });
    let rate = |times: &mut Vec<Duration>| {
        times.sort_unstable();
        BATCH as f64 / times[times.len() / 2].as_secs_f64()
    };
    let store_rate = rate(&mut store_times);
    let plain_rate = rate(&mut plain_times);
    println!(
        "postgres_ingest_1000x10/paired ({rounds} alternating rounds, medians): \
         insert_telemetry {:.1} k snapshots/s, baseline {:.1} k snapshots/s, ratio {:.2}",
        store_rate / 1000.0,
        plain_rate / 1000.0,
        store_rate / plain_rate
    );
    // Dropping the store drops its scratch database.
    drop(store);
}

/// Reading one day at 1 Hz back: the window the batch analysis loads, and a downsampled
/// series of one parameter over it (computed by the server).
fn read_day(c: &mut Criterion) {
    const DAY: i64 = 86_400;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = runtime
        .block_on(PostgresStore::scratch(&admin_url()))
        .unwrap_or_else(|e| {
            panic!("this bench needs PostgreSQL (MISSIONOPS_TEST_DATABASE_URL): {e}")
        });
    runtime.block_on(register(&store, "SC-DAY"));
    let next = AtomicI64::new(0);
    runtime.block_on(async {
        while next.load(Ordering::Relaxed) < DAY {
            let write = TelemetryWrite {
                tenant: Default::default(),
                registrations: Vec::new(),
                snapshots: batch("SC-DAY", &next),
                anomalies: Vec::new(),
                alarms: Vec::new(),
                events: Vec::new(),
            };
            store.insert_telemetry(write).await.expect("fill");
        }
    });
    let start = Timestamp::parse("2025-01-01T00:00:00Z").expect("time");
    let end = start.add_millis((DAY - 1) * 1000);
    let spacecraft = spacecraft_id("SC-DAY");
    let parameter = ParameterName::parse("param_3").expect("name");
    let minute = BucketWidth::parse("1m").expect("bucket");

    let mut group = c.benchmark_group("postgres_read_one_day_1hz");
    group.sample_size(10);
    group.bench_function("telemetry_range_86400", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let day = store
                    .telemetry_range(&TenantId::default(), &spacecraft, start, end, 100_000)
                    .await
                    .expect("range");
                assert_eq!(day.len(), 86_400);
            })
        });
    });
    group.bench_function("telemetry_series_1m_buckets", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let series = store
                    .telemetry_series(
                        &TenantId::default(),
                        &spacecraft,
                        &parameter,
                        start,
                        end,
                        minute,
                    )
                    .await
                    .expect("series");
                assert_eq!(series.len(), 1440);
            })
        });
    });
    group.finish();
    drop(store);
}

criterion_group!(benches, ingest, read_day);
criterion_main!(benches);
