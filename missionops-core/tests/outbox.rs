//! The operator's outbox use cases (statistics, dead letters, retry) over the in-memory store,
//! with the store's outbox driven by hand as a delivery worker would drive it.

use std::sync::Arc;
use std::time::Duration;

use missionops_core::{
    EventType, JsonObject, ManualClock, MissionOps, OutboxStats, OutboxStore, RetryPolicy,
    RetryReport, RetrySelection, SequentialIds, Severity, SpacecraftId, Timestamp,
};
use missionops_store::MemoryStore;

const LEASE: Duration = Duration::from_secs(60);

/// A policy that gives up at the first failure.
const ONCE: RetryPolicy = RetryPolicy {
    max_attempts: 1,
    initial_backoff: Duration::from_secs(1),
    max_backoff: Duration::from_secs(1),
};

/// The worker's time, the application's too.
fn now() -> Timestamp {
    Timestamp::parse("2025-06-01T12:00:00Z").expect("time")
}

struct Harness {
    app: MissionOps,
    /// The same store as the application's, for the worker's side of the outbox.
    store: Arc<MemoryStore>,
}

fn harness() -> Harness {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(now()));
    let app = MissionOps::new(store.clone(), clock, Arc::new(SequentialIds::new()));
    Harness { app, store }
}

impl Harness {
    /// Records `count` events of SC-1; their sequences are 1..=count.
    async fn record(&self, count: usize) {
        let sc = SpacecraftId::parse("SC-1").expect("id");
        for i in 0..count {
            self.app
                .record_event(
                    Some(&sc),
                    EventType::Info,
                    Severity::Low,
                    format!("note {i}"),
                    JsonObject::new(),
                )
                .await
                .expect("record an event");
        }
    }

    /// Claims every due row, delivers `delivered` and gives up on `dead` (with `error`).
    async fn settle(&self, delivered: &[u64], dead: &[u64], error: &str) {
        let claim = self.store.claim(now(), 100, LEASE).await.expect("claim");
        self.store
            .mark_delivered(delivered)
            .await
            .expect("mark delivered");
        for &sequence in dead {
            self.store
                .mark_failed(now(), &claim.id, sequence, error, &ONCE)
                .await
                .expect("mark failed");
        }
    }
}

#[tokio::test]
async fn outbox_stats_count_recorded_events_by_delivery_state() {
    let h = harness();
    assert_eq!(
        h.app.outbox_stats().await.expect("stats"),
        OutboxStats::default()
    );
    h.record(4).await;
    assert_eq!(
        h.app.outbox_stats().await.expect("stats"),
        OutboxStats {
            pending: 4,
            delivered: 0,
            dead: 0
        }
    );
    h.settle(&[1, 2], &[3], "HTTP 500").await;
    assert_eq!(
        h.app.outbox_stats().await.expect("stats"),
        OutboxStats {
            pending: 1,
            delivered: 2,
            dead: 1
        }
    );
}

#[tokio::test]
async fn dead_letters_list_given_up_events_lowest_sequence_first_with_their_last_error() {
    let h = harness();
    h.record(5).await;
    h.settle(&[1], &[4, 2, 5], "receiver down").await;
    let letters = h.app.dead_letters(10).await.expect("dead letters");
    let sequences: Vec<u64> = letters.iter().map(|l| l.sequence).collect();
    assert_eq!(sequences, vec![2, 4, 5]);
    assert!(letters.iter().all(|l| l.attempts == 1));
    assert!(
        letters
            .iter()
            .all(|l| l.last_error.as_deref() == Some("receiver down"))
    );
    assert_eq!(
        letters[0].event.sequence, 2,
        "each letter carries its event"
    );
    let first_two = h.app.dead_letters(2).await.expect("dead letters");
    assert_eq!(first_two.len(), 2, "the limit is honoured");
}

#[tokio::test]
async fn retrying_chosen_sequences_puts_dead_letters_back_and_names_the_rest() {
    let h = harness();
    h.record(4).await;
    // 1 delivered, 2 and 3 dead, 4 still pending.
    h.settle(&[1], &[2, 3], "HTTP 503").await;
    let report = h
        .app
        .retry_dead_letters(&RetrySelection::Sequences(vec![4, 3, 99, 1]))
        .await
        .expect("retry");
    assert_eq!(
        report,
        RetryReport {
            retried: vec![3],
            not_dead: vec![4, 99, 1],
        },
        "pending, unknown and delivered sequences are left alone, in the order asked"
    );
    assert_eq!(
        h.app.outbox_stats().await.expect("stats"),
        OutboxStats {
            pending: 2,
            delivered: 1,
            dead: 1
        }
    );
}

#[tokio::test]
async fn retrying_all_puts_every_dead_letter_back_for_delivery() {
    let h = harness();
    h.record(3).await;
    h.settle(&[2], &[1, 3], "timeout").await;
    let report = h
        .app
        .retry_dead_letters(&RetrySelection::All)
        .await
        .expect("retry");
    assert_eq!(
        report,
        RetryReport {
            retried: vec![1, 3],
            not_dead: vec![],
        }
    );
    assert!(h.app.dead_letters(10).await.expect("dead").is_empty());
    // Back with no attempts counted, due at once: a worker claims them again.
    let claim = h.store.claim(now(), 10, LEASE).await.expect("claim");
    assert!(claim.entries.iter().all(|e| e.attempts == 0));
    assert_eq!(claim.sequences(), vec![1, 3]);
}
