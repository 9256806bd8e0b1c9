//! The outbox cases on PostgreSQL, each on a scratch database of its own (created with a
//! random name on `MISSIONOPS_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, and dropped afterwards). Without a reachable
//! server every case fails saying so; nothing is skipped.
//!
//! Beyond the shared cases: claims from two separate connection pools, as two server
//! processes on one database would make them.

use std::collections::HashSet;
use std::sync::Arc;

use missionops_core::OutboxStore;
use missionops_store::PostgresStore;

#[macro_use]
#[path = "support/outbox_suite.rs"]
mod suite;

use missionops_store::conformance::backends::{admin_url, scratch_postgres};
use suite::{Guard, TestStore};

async fn fresh() -> (Arc<dyn TestStore>, Guard) {
    (Arc::new(scratch_postgres().await), Box::new(()))
}

outbox_suite!(fresh);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_drain_one_database_without_taking_a_row_twice() {
    let first = scratch_postgres().await;
    let name = first.scratch_database().expect("scratch").to_owned();
    // A second pool on the same database, as another server process would have.
    let base = admin_url();
    let url = match base.rfind('/') {
        Some(slash) => format!("{}/{name}", &base[..slash]),
        None => panic!("admin URL without a database: {base}"),
    };
    let second = PostgresStore::connect(&url).await.expect("second pool");
    for i in 0..200u64 {
        let sc = format!("SC-{}", i % 10);
        suite::record(&first, &format!("e{i}"), Some(&sc)).await;
    }
    let workers: Vec<Arc<dyn OutboxStore>> = vec![Arc::new(first.clone()), Arc::new(second)];
    let mut tasks = Vec::new();
    for (w, store) in workers.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut delivered = Vec::new();
            for _ in 0..200 {
                let claim = store
                    .claim(suite::t(0), 5, suite::LEASE)
                    .await
                    .expect("claim");
                if claim.entries.is_empty() {
                    let stats = store.stats().await.expect("stats");
                    if stats.pending == 0 {
                        break;
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
                store
                    .mark_delivered(&claim.sequences())
                    .await
                    .expect("delivered");
                delivered.extend(claim.sequences().into_iter().map(|s| (s, w)));
            }
            delivered
        }));
    }
    let mut seen = HashSet::new();
    for task in tasks {
        for (sequence, _) in task.await.expect("worker") {
            assert!(seen.insert(sequence), "sequence {sequence} delivered twice");
        }
    }
    assert_eq!(seen.len(), 200);
    assert_eq!(first.stats().await.expect("stats").delivered, 200);
}
