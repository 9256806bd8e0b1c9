//! Event delivery throughput from the outbox to NATS JetStream, beside raw async-nats
//! publishing of the same messages, measured in the same run.
//!
//! ```text
//! cargo bench -p missionops-delivery --features nats --bench outbox_nats
//! ```
//!
//! The bench starts its own `nats-server -js` (on a free port, file storage in a temporary
//! directory; `MISSIONOPS_NATS_SERVER` names the binary). Each iteration delivers 10,000
//! events of 8 spacecraft, recorded beforehand (not timed) in a fresh store:
//!
//! - `outbox_nats/sqlite_batch_{100,1000}`: [`Dispatcher::run_once`] rounds until the outbox
//!   is empty, on a SQLite file: claim (one write), publish and await every acknowledgement,
//!   mark delivered (one write). What `serve --nats-url` does, minus the poll interval.
//! - `outbox_nats/memory_batch_100`: the same on the in-memory store, to separate the cost of
//!   the SQLite writes from the cost of publishing.
//! - `outbox_nats/raw_publish_ack_sequential`: the same subjects, headers and payloads with
//!   async-nats alone, awaiting each acknowledgement before the next publish.
//! - `outbox_nats/raw_publish_ack_pipelined_100`: async-nats alone, 100 publishes then their
//!   100 acknowledgements: the most a batch of 100 could do on one connection.
//!
//! Event ids are unique per iteration, so JetStream's de-duplication never short-cuts a
//! message.

#[path = "../tests/support/nats_server.rs"]
mod nats_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::{HeaderMap, header};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use missionops_core::{
    EventId, EventRepository, EventType, JsonObject, NewEvent, OutboxStore, Severity, SpacecraftId,
    TenantId, Timestamp,
};
use missionops_delivery::{
    Delivery, Dispatcher, DispatcherConfig, NatsConfig, NatsSink, Sink, nats_subject,
};
use missionops_store::{MemoryStore, SqliteStore};
use serde_json::json;
use tokio::runtime::Runtime;

const EVENTS: u64 = 10_000;
const FLEET: u64 = 8;
const PREFIX: &str = "missionops.events";

/// Makes every iteration's event ids new.
static RUN: AtomicU64 = AtomicU64::new(0);

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn events() -> Vec<NewEvent> {
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    (0..EVENTS)
        .map(|i| {
            let mut metadata = JsonObject::new();
            metadata.insert("parameter".to_owned(), json!("battery_temp"));
            metadata.insert("value".to_owned(), json!(36.5));
            metadata.insert("limit".to_owned(), json!(35));
            NewEvent {
                id: EventId::parse(format!("bench-{run}-{i}")).expect("id"),
                spacecraft_id: Some(SpacecraftId::parse(format!("SC-{}", i % FLEET)).expect("id")),
                timestamp: Timestamp::from_millis(1_735_689_600_000 + i as i64).expect("time"),
                event_type: EventType::Anomaly,
                severity: Severity::High,
                message: "Parameter battery_temp above critHigh 35".to_owned(),
                metadata,
            }
        })
        .collect()
}

async fn record_all(store: &dyn EventRepository, events: Vec<NewEvent>) {
    for event in events {
        store
            .record_event(&missionops_core::TenantId::default(), event)
            .await
            .expect("record");
    }
}

/// Runs dispatcher rounds until the outbox is empty; the time it took.
async fn drain(store: Arc<dyn OutboxStore>, sink: Arc<NatsSink>, batch_size: usize) -> Duration {
    let dispatcher = Dispatcher::new(
        store.clone(),
        vec![sink as Arc<dyn Sink>],
        DispatcherConfig {
            batch_size,
            ..DispatcherConfig::default()
        },
    )
    .expect("dispatcher");
    let started = Instant::now();
    let mut delivered = 0;
    while delivered < EVENTS as usize {
        let report = dispatcher.run_once().await.expect("round");
        assert_eq!(report.failed + report.dead, 0, "{report:?}");
        delivered += report.delivered;
    }
    started.elapsed()
}

/// The same messages the sink publishes: (subject, headers, payload).
fn raw_messages() -> Vec<(String, HeaderMap, bytes::Bytes)> {
    events()
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let event = event.recorded(i as u64 + 1);
            let subject = nats_subject(PREFIX, &TenantId::default(), &event);
            let mut headers = HeaderMap::new();
            headers.insert(header::NATS_MESSAGE_ID, event.id.as_str());
            let delivery = Delivery::new(TenantId::default(), event).expect("render");
            (subject, headers, delivery.payload)
        })
        .collect()
}

fn outbox_nats(c: &mut Criterion) {
    let rt = runtime();
    let server = rt.block_on(nats_server::NatsServer::start());
    let sink = rt.block_on(async {
        let sink = NatsSink::connect(NatsConfig {
            create_stream: true,
            ..NatsConfig::new(server.url())
        })
        .await
        .expect("sink");
        let deadline = Instant::now() + Duration::from_secs(10);
        while sink.client().connection_state() != async_nats::connection::State::Connected {
            assert!(Instant::now() < deadline, "never connected to NATS");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        sink.ensure_stream().await.expect("stream");
        Arc::new(sink)
    });
    // The JetStream context spawns its acknowledgement task: it must be made on the runtime.
    let jetstream = {
        let _runtime = rt.enter();
        async_nats::jetstream::new(sink.client().clone())
    };

    let mut group = c.benchmark_group("outbox_nats");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));

    for batch in [100usize, 1000] {
        group.bench_function(format!("sqlite_batch_{batch}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let dir = tempfile::tempdir().expect("temporary directory");
                    total += rt.block_on(async {
                        let store = Arc::new(
                            SqliteStore::open_path(dir.path().join("bench.db"))
                                .await
                                .expect("open"),
                        );
                        record_all(&*store, events()).await;
                        let elapsed = drain(store.clone(), sink.clone(), batch).await;
                        store.close().await;
                        elapsed
                    });
                }
                total
            });
        });
    }

    group.bench_function("memory_batch_100", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(async {
                    let store = Arc::new(MemoryStore::new());
                    record_all(&*store, events()).await;
                    drain(store, sink.clone(), 100).await
                });
            }
            total
        });
    });

    group.bench_function("raw_publish_ack_sequential", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let messages = raw_messages();
                total += rt.block_on(async {
                    let started = Instant::now();
                    for (subject, headers, payload) in messages {
                        jetstream
                            .publish_with_headers(subject, headers, payload)
                            .await
                            .expect("publish")
                            .await
                            .expect("ack");
                    }
                    started.elapsed()
                });
            }
            total
        });
    });

    group.bench_function("raw_publish_ack_pipelined_100", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let messages = raw_messages();
                total += rt.block_on(async {
                    let started = Instant::now();
                    let mut messages = messages.into_iter().peekable();
                    while messages.peek().is_some() {
                        let mut acks = Vec::with_capacity(100);
                        for (subject, headers, payload) in messages.by_ref().take(100) {
                            acks.push(
                                jetstream
                                    .publish_with_headers(subject, headers, payload)
                                    .await
                                    .expect("publish"),
                            );
                        }
                        for ack in acks {
                            ack.await.expect("ack");
                        }
                    }
                    started.elapsed()
                });
            }
            total
        });
    });

    group.finish();
    drop(server);
}

criterion_group!(benches, outbox_nats);
criterion_main!(benches);
