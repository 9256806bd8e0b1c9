//! SQLite ingest and range benchmarks (SPEC §8).
//!
//! ```text
//! cargo bench -p missionops-store --bench sqlite_ingest --features sqlite
//! ```
//!
//! - `sqlite_ingest/insert_telemetry`: [`SqliteStore::insert_telemetry`] of batches of 1,000
//!   snapshots × 10 numeric parameters into a fresh file, durable on return (committed in WAL
//!   mode with `synchronous=NORMAL`). Target: ≥ 100 k snapshots/s.
//! - `sqlite_ingest/plain_sql_baseline`: the same snapshots into the same schema, serialized
//!   the same way, with a plain prepared single-row `INSERT` per snapshot in one transaction per
//!   batch and nothing else (no idempotency check, no latest values): what a straightforward
//!   hand-written ingest costs, measured in the same run for a ratio.
//! - `sqlite_range/one_day_at_1hz`: [`SqliteStore::telemetry_range`] of one spacecraft's day
//!   at 1 Hz (86,400 snapshots) out of a large table. Target: < 200 ms out of 10 M. The file
//!   comes from `MISSIONOPS_BENCH_DB`, filled beforehand with
//!   `cargo run --release -p missionops-store --features sqlite --example sqlite_fill -- FILE
//!   10000000` (about two minutes); without it, the bench fills (once, then reuses) a 1 M file
//!   under Cargo's target tmp directory.

#[allow(dead_code)]
#[path = "../examples/sqlite_fill.rs"]
mod fill;

use missionops_core::TenantId;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use missionops_core::{TelemetryRepository, TelemetrySnapshot, TelemetryWrite};
use missionops_store::SqliteStore;
use sqlx::{Connection, SqliteConnection};
use tokio::runtime::Runtime;

const BATCH: u64 = fill::BATCH;
const DAY_SECONDS: u64 = 86_400;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Hands out batches of fresh snapshots: one spacecraft at 1 Hz, ids never repeated.
struct Batches {
    names: Vec<missionops_core::ParameterName>,
    next: AtomicU64,
}

impl Batches {
    fn new() -> Self {
        Batches {
            names: fill::parameter_names(),
            next: AtomicU64::new(0),
        }
    }

    fn next(&self) -> Vec<TelemetrySnapshot> {
        let b = self.next.fetch_add(1, Ordering::Relaxed);
        (0..BATCH)
            .map(|i| fill::snapshot(&self.names, 0, b * BATCH + i, u128::from(b * BATCH + i)))
            .collect()
    }
}

fn fresh_store(rt: &Runtime, dir: &tempfile::TempDir, name: &str) -> (SqliteStore, PathBuf) {
    let path = dir.path().join(name);
    let store = rt.block_on(async {
        let store = SqliteStore::open_path(&path).await.expect("open");
        fill::register_all(&store).await;
        store
    });
    (store, path)
}

fn ingest(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut group = c.benchmark_group("sqlite_ingest");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(30);

    let (store, _) = fresh_store(&rt, &dir, "ingest.db");
    let batches = Batches::new();
    group.bench_function("insert_telemetry", |b| {
        b.iter_batched(
            || TelemetryWrite {
                tenant: Default::default(),
                registrations: Vec::new(),
                snapshots: batches.next(),
                ..TelemetryWrite::default()
            },
            |write| {
                let outcome = rt.block_on(store.insert_telemetry(write)).expect("insert");
                assert_eq!(outcome.inserted as u64, BATCH);
            },
            BatchSize::SmallInput,
        );
    });
    rt.block_on(store.close());

    // The baseline writes into a file with the same schema (created by the store), through its
    // own connection with the same journal and sync settings.
    let (store, path) = fresh_store(&rt, &dir, "baseline.db");
    rt.block_on(store.close());
    let mut conn = rt.block_on(async {
        let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("connect");
        sqlx::raw_sql("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .execute(&mut conn)
            .await
            .expect("pragmas");
        conn
    });
    let key: i64 = rt
        .block_on(
            sqlx::query_scalar("SELECT key FROM spacecraft WHERE id = ?")
                .bind(fill::spacecraft_id(0).as_str())
                .fetch_one(&mut conn),
        )
        .expect("spacecraft key");
    let batches = Batches::new();
    group.bench_function("plain_sql_baseline", |b| {
        b.iter_batched(
            || batches.next(),
            |snapshots| {
                rt.block_on(async {
                    let mut tx = conn.begin().await.expect("begin");
                    for s in &snapshots {
                        let parameters = serde_json::to_string(&s.parameters).expect("json");
                        sqlx::query(
                            "INSERT INTO telemetry (id, spacecraft_key, ts, parameters) \
                             VALUES (?, ?, ?, ?)",
                        )
                        .bind(s.id.as_str())
                        .bind(key)
                        .bind(s.timestamp.as_millis())
                        .bind(parameters)
                        .execute(&mut *tx)
                        .await
                        .expect("insert");
                    }
                    tx.commit().await.expect("commit");
                });
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// The file the range benchmark reads: `MISSIONOPS_BENCH_DB`, or a 1 M-snapshot file filled on
/// first use.
fn range_database(rt: &Runtime) -> PathBuf {
    if let Some(path) = std::env::var_os("MISSIONOPS_BENCH_DB") {
        let path = PathBuf::from(path);
        assert!(
            path.exists(),
            "MISSIONOPS_BENCH_DB={} does not exist; fill it with the sqlite_fill example",
            path.display()
        );
        return path;
    }
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("missionops-range-1m.db");
    let done = path.with_extension("done");
    if !done.exists() {
        // A fill that was interrupted leaves no marker; start it over.
        for stale in ["db", "db-wal", "db-shm"] {
            let _ = std::fs::remove_file(path.with_extension(stale));
        }
        eprintln!("filling {} with 1,000,000 snapshots (once)", path.display());
        rt.block_on(fill::fill(&path, 1_000_000));
        std::fs::write(&done, b"filled").expect("marker");
    }
    path
}

fn range(c: &mut Criterion) {
    let rt = runtime();
    let path = range_database(&rt);
    let store = rt.block_on(SqliteStore::open_path(&path)).expect("open");
    let spacecraft = fill::spacecraft_id(0);
    // The spacecraft's first full day.
    let from = fill::epoch();
    let to = from.add_millis(i64::try_from(DAY_SECONDS).expect("day") * 1_000 - 1);
    let day = rt
        .block_on(store.telemetry_range(&TenantId::default(), &spacecraft, from, to, usize::MAX))
        .expect("range");
    assert_eq!(
        day.len() as u64,
        DAY_SECONDS,
        "the file must hold a full day of SC-000"
    );
    drop(day);
    let mut group = c.benchmark_group("sqlite_range");
    group.throughput(Throughput::Elements(DAY_SECONDS));
    group.sample_size(10);
    group.bench_function("one_day_at_1hz", |b| {
        b.iter(|| {
            let day = rt
                .block_on(store.telemetry_range(
                    &TenantId::default(),
                    &spacecraft,
                    from,
                    to,
                    usize::MAX,
                ))
                .expect("range");
            black_box(day)
        });
    });
    group.finish();
    rt.block_on(store.close());
}

criterion_group!(benches, ingest, range);
criterion_main!(benches);
