//! The outbox cases on SQLite, each on a fresh file, plus what only a file shows: the claim
//! query reads the small indexes, and rows survive reopening.

use std::sync::Arc;
use std::time::Duration;

use missionops_core::{OutboxStats, OutboxStore, RetryPolicy};
use missionops_store::SqliteStore;

#[macro_use]
#[path = "support/outbox_suite.rs"]
mod suite;

use missionops_store::conformance::backends::TempSqlite;
use suite::{Guard, TestStore};

async fn fresh() -> (Arc<dyn TestStore>, Guard) {
    let TempSqlite { store, dir } = TempSqlite::open().await;
    (Arc::new(store), Box::new(dir))
}

outbox_suite!(fresh);

#[tokio::test]
async fn outbox_states_survive_reopening_the_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("missionops.db");
    {
        let store = SqliteStore::open_path(&path).await.expect("open");
        for (id, sc) in [("a1", "SC-A"), ("a2", "SC-A"), ("b1", "SC-B")] {
            suite::record(&store, id, Some(sc)).await;
        }
        let claim = store
            .claim(suite::t(0), 10, suite::LEASE)
            .await
            .expect("claim");
        store.mark_delivered(&[1]).await.expect("delivered");
        let once = RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
        };
        store
            .mark_failed(suite::t(0), &claim.id, 2, "gone", &once)
            .await
            .expect("dead");
        store.close().await;
    }
    let store = SqliteStore::open_path(&path).await.expect("reopen");
    assert_eq!(
        store.stats().await.expect("stats"),
        OutboxStats {
            pending: 1,
            delivered: 1,
            dead: 1
        }
    );
    assert_eq!(store.dead_letters(10).await.expect("dead")[0].sequence, 2);
    // Row 3 is still leased to the claim of the closed store: it comes back after the lease.
    assert!(
        store
            .claim(suite::t(0), 10, suite::LEASE)
            .await
            .expect("claim")
            .entries
            .is_empty()
    );
}
