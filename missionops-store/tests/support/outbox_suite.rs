//! The outbox cases every backend passes: claims in order under a lease, marks, backoff,
//! dead letters and their retry, statistics, ordering per spacecraft, concurrent claims.
//!
//! A backend's test file defines `async fn fresh() -> (Arc<dyn TestStore>, Guard)` and
//! expands `outbox_suite!(fresh)`; the guard keeps what the store needs (a temporary
//! directory) until the case ends.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use missionops_core::{
    EventRepository, FailureOutcome, MissionEvent, OutboxStats, OutboxStore, RetryPolicy,
    RetrySelection, Timestamp,
};
use missionops_store::conformance::fixtures;

/// What the cases need of a store.
pub trait TestStore: EventRepository + OutboxStore + 'static {}
impl<T: EventRepository + OutboxStore + 'static> TestStore for T {}

pub use missionops_store::conformance::Guard;

/// A long lease: rows stay claimed for the whole case unless it says otherwise.
pub const LEASE: Duration = Duration::from_secs(60);

/// The instant `millis` after the cases' start (2025-06-01): every claim and failure is given
/// its time, so leases and backoffs are checked to the millisecond without waiting on the real
/// clock.
pub fn t(millis: i64) -> Timestamp {
    Timestamp::from_millis(1_748_736_000_000 + millis).expect("time")
}

/// Records an event of `spacecraft` (none for `None`) dated `millis`.
pub async fn record_at(
    store: &dyn TestStore,
    id: &str,
    spacecraft: Option<&str>,
    millis: i64,
) -> MissionEvent {
    let timestamp = Timestamp::from_millis(millis).expect("time");
    fixtures::record_event_at(store, id, spacecraft, timestamp).await
}

/// Records an event of `spacecraft` dated 2025-01-01.
pub async fn record(store: &dyn TestStore, id: &str, spacecraft: Option<&str>) -> MissionEvent {
    record_at(store, id, spacecraft, 1_735_689_600_000).await
}

fn policy(max_attempts: u32, initial_ms: u64) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(initial_ms),
        max_backoff: Duration::from_millis(initial_ms * 4),
    }
}

/// A claim at the start takes nothing.
async fn assert_nothing_claimable(store: &dyn TestStore) {
    assert_nothing_claimable_at(store, t(0)).await;
}

/// A claim at `now` takes nothing.
async fn assert_nothing_claimable_at(store: &dyn TestStore, now: Timestamp) {
    let claim = store.claim(now, 10, LEASE).await.expect("claim");
    assert!(
        claim.entries.is_empty(),
        "claimed {:?} at {now}",
        claim.sequences()
    );
}

fn sequences_of(events: &[&MissionEvent]) -> Vec<u64> {
    events.iter().map(|e| e.sequence).collect()
}

pub async fn claims_take_pending_rows_in_sequence_order_with_their_events(
    store: Arc<dyn TestStore>,
) {
    let a1 = record(&*store, "a1", Some("SC-A")).await;
    let b1 = record(&*store, "b1", Some("SC-B")).await;
    let n1 = record(&*store, "n1", None).await;
    let a2 = record(&*store, "a2", Some("SC-A")).await;
    let claim = store.claim(t(0), 10, LEASE).await.expect("claim");
    assert_eq!(claim.sequences(), sequences_of(&[&a1, &b1, &n1, &a2]));
    let events: Vec<&MissionEvent> = claim.entries.iter().map(|e| &e.event).collect();
    assert_eq!(events, vec![&a1, &b1, &n1, &a2]);
    assert!(claim.entries.iter().all(|e| e.attempts == 0));
    assert!(
        claim.entries.iter().all(|e| e.tenant.is_default()),
        "events recorded for `default` are delivered as its"
    );
    // Claimed rows are not handed out twice.
    let again = store.claim(t(0), 10, LEASE).await.expect("claim again");
    assert!(again.entries.is_empty(), "{:?}", again.sequences());
    assert_eq!(
        store.stats().await.expect("stats"),
        OutboxStats {
            pending: 4,
            delivered: 0,
            dead: 0
        }
    );
}

pub async fn delivered_rows_leave_the_outbox(store: Arc<dyn TestStore>) {
    for i in 0..5 {
        record(&*store, &format!("e{i}"), Some("SC-A")).await;
    }
    let claim = store.claim(t(0), 3, LEASE).await.expect("claim");
    assert_eq!(claim.sequences(), vec![1, 2, 3], "the limit is honoured");
    store
        .mark_delivered(&claim.sequences())
        .await
        .expect("mark delivered");
    let rest = store.claim(t(0), 10, LEASE).await.expect("claim the rest");
    assert_eq!(rest.sequences(), vec![4, 5]);
    store
        .mark_delivered(&rest.sequences())
        .await
        .expect("mark delivered");
    // Marking twice changes nothing.
    store.mark_delivered(&[1, 2]).await.expect("mark again");
    assert_eq!(
        store.stats().await.expect("stats"),
        OutboxStats {
            pending: 0,
            delivered: 5,
            dead: 0
        }
    );
    assert_nothing_claimable(&*store).await;
}

pub async fn events_dated_in_the_future_are_due_at_once(store: Arc<dyn TestStore>) {
    // 2100-01-01: a spacecraft clock far ahead must not delay delivery.
    record_at(&*store, "future", Some("SC-A"), 4_102_444_800_000).await;
    let claim = store.claim(t(0), 10, LEASE).await.expect("claim");
    assert_eq!(claim.sequences(), vec![1]);
}

pub async fn a_claim_whose_lease_runs_out_comes_back_and_loses_its_rows(store: Arc<dyn TestStore>) {
    record(&*store, "a1", Some("SC-A")).await;
    record(&*store, "b1", Some("SC-B")).await;
    let first = store
        .claim(t(0), 10, Duration::from_millis(300))
        .await
        .expect("claim");
    assert_eq!(first.sequences(), vec![1, 2]);
    assert_nothing_claimable(&*store).await;
    // The lease holds to its last millisecond…
    assert_nothing_claimable_at(&*store, t(299)).await;
    // …and the worker "died": nothing is settled. When the lease ends the rows are claimed again.
    let second = store.claim(t(300), 10, LEASE).await.expect("reclaim");
    assert_eq!(second.sequences(), vec![1, 2]);
    assert_ne!(second.id, first.id);
    // The first worker can no longer count a failure or release them…
    let outcome = store
        .mark_failed(t(301), &first.id, 1, "late", &policy(3, 50))
        .await
        .expect("mark failed");
    assert_eq!(outcome, FailureOutcome::NotHeld);
    store.release(&first.id, &[1, 2]).await.expect("release");
    assert!(
        store
            .claim(t(301), 10, LEASE)
            .await
            .expect("claim")
            .entries
            .is_empty(),
        "the second claim still holds both"
    );
    // …but a late delivery still counts.
    store.mark_delivered(&[1]).await.expect("late delivery");
    assert_eq!(store.stats().await.expect("stats").delivered, 1);
}

pub async fn a_failure_backs_off_and_holds_back_only_its_spacecraft(store: Arc<dyn TestStore>) {
    let a1 = record(&*store, "a1", Some("SC-A")).await;
    let b1 = record(&*store, "b1", Some("SC-B")).await;
    let a2 = record(&*store, "a2", Some("SC-A")).await;
    let n1 = record(&*store, "n1", None).await;
    let b2 = record(&*store, "b2", Some("SC-B")).await;
    let claim = store.claim(t(0), 10, LEASE).await.expect("claim");
    assert_eq!(claim.entries.len(), 5);
    let retry = policy(5, 400);
    let outcome = store
        .mark_failed(t(0), &claim.id, a1.sequence, "receiver down", &retry)
        .await
        .expect("mark failed");
    let FailureOutcome::Retry { attempts, after } = outcome else {
        panic!("expected a retry, got {outcome:?}");
    };
    assert_eq!(attempts, 1);
    assert!(
        after >= Duration::from_millis(200) && after <= Duration::from_millis(400),
        "{after:?}"
    );
    store
        .release(&claim.id, &[a2.sequence])
        .await
        .expect("release");
    store
        .mark_delivered(&[b1.sequence, b2.sequence])
        .await
        .expect("delivered");
    // n1 is still claimed; a1 backs off and holds a2 back, to the backoff's last millisecond.
    assert_nothing_claimable(&*store).await;
    let backoff = i64::try_from(after.as_millis()).expect("millis");
    assert_nothing_claimable_at(&*store, t(backoff - 1)).await;
    store
        .release(&claim.id, &[n1.sequence])
        .await
        .expect("release");
    let b3 = record(&*store, "b3", Some("SC-B")).await;
    let other = store
        .claim(t(0), 10, LEASE)
        .await
        .expect("claim other groups");
    assert_eq!(
        other.sequences(),
        vec![n1.sequence, b3.sequence],
        "other spacecraft go on"
    );
    store
        .mark_delivered(&other.sequences())
        .await
        .expect("delivered");
    let later = store
        .claim(t(backoff), 10, LEASE)
        .await
        .expect("claim after the backoff");
    assert_eq!(later.sequences(), vec![a1.sequence, a2.sequence]);
    assert_eq!(later.entries[0].attempts, 1);
    assert_eq!(later.entries[1].attempts, 0);
}

pub async fn the_last_attempt_makes_a_dead_letter_that_no_longer_holds_back_and_can_be_retried(
    store: Arc<dyn TestStore>,
) {
    let a1 = record(&*store, "a1", Some("SC-A")).await;
    let a2 = record(&*store, "a2", Some("SC-A")).await;
    let retry = policy(2, 30);
    let claim = store.claim(t(0), 1, LEASE).await.expect("claim");
    assert_eq!(claim.sequences(), vec![a1.sequence]);
    let outcome = store
        .mark_failed(t(0), &claim.id, a1.sequence, "HTTP 500", &retry)
        .await
        .expect("fail");
    let FailureOutcome::Retry { attempts: 1, after } = outcome else {
        panic!("expected a first retry, got {outcome:?}");
    };
    // Not due during its backoff, due when it ends.
    let backoff = i64::try_from(after.as_millis()).expect("millis");
    assert_nothing_claimable_at(&*store, t(backoff - 1)).await;
    let claim = store
        .claim(t(backoff), 1, LEASE)
        .await
        .expect("claim again");
    assert_eq!(claim.sequences(), vec![a1.sequence]);
    assert_eq!(
        store
            .mark_failed(t(backoff), &claim.id, a1.sequence, "HTTP 503", &retry)
            .await
            .expect("fail"),
        FailureOutcome::Dead { attempts: 2 }
    );
    assert_eq!(
        store.stats().await.expect("stats"),
        OutboxStats {
            pending: 1,
            delivered: 0,
            dead: 1
        }
    );
    let dead = store.dead_letters(10).await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].sequence, a1.sequence);
    assert_eq!(dead[0].attempts, 2);
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(dead[0].event, a1);
    // The dead event no longer holds its successor back.
    let next = store
        .claim(t(backoff), 10, LEASE)
        .await
        .expect("claim the successor");
    assert_eq!(next.sequences(), vec![a2.sequence]);
    store
        .mark_delivered(&next.sequences())
        .await
        .expect("delivered");
    // Retrying puts it back, due at once with no attempts counted; unknown or live sequences
    // are left alone.
    let retried = store
        .retry_dead(&RetrySelection::Sequences(vec![
            a2.sequence,
            999,
            a1.sequence,
        ]))
        .await
        .expect("retry");
    assert_eq!(retried, vec![a1.sequence]);
    assert_eq!(
        store.stats().await.expect("stats"),
        OutboxStats {
            pending: 1,
            delivered: 1,
            dead: 0
        }
    );
    let back = store
        .claim(t(backoff), 10, LEASE)
        .await
        .expect("claim the retried");
    assert_eq!(back.sequences(), vec![a1.sequence]);
    assert_eq!(back.entries[0].attempts, 0);
    assert!(store.dead_letters(10).await.expect("dead").is_empty());
}

pub async fn retry_all_puts_every_dead_letter_back(store: Arc<dyn TestStore>) {
    for i in 0..3 {
        record(&*store, &format!("e{i}"), Some(&format!("SC-{i}"))).await;
    }
    let once = policy(1, 10);
    let claim = store.claim(t(0), 10, LEASE).await.expect("claim");
    for entry in &claim.entries {
        assert_eq!(
            store
                .mark_failed(t(0), &claim.id, entry.sequence, "no", &once)
                .await
                .expect("fail"),
            FailureOutcome::Dead { attempts: 1 }
        );
    }
    assert_eq!(store.dead_letters(2).await.expect("dead").len(), 2, "limit");
    let retried = store.retry_dead(&RetrySelection::All).await.expect("retry");
    assert_eq!(retried, vec![1, 2, 3]);
    assert_eq!(store.stats().await.expect("stats").pending, 3);
    assert!(
        store
            .retry_dead(&RetrySelection::All)
            .await
            .expect("retry none")
            .is_empty()
    );
}

pub async fn concurrent_claims_never_overlap_nor_split_a_spacecraft(store: Arc<dyn TestStore>) {
    // 24 spacecraft, 5 events each, round robin: sequence n belongs to SC-((n-1) % 24).
    const FLEET: u64 = 24;
    let name = |sequence: u64| format!("SC-{:02}", (sequence - 1) % FLEET);
    for sequence in 1..=FLEET * 5 {
        record(&*store, &format!("e{sequence}"), Some(&name(sequence))).await;
    }
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim(t(0), 7, LEASE).await.expect("claim") })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut owner: HashMap<String, usize> = HashMap::new();
    let mut claimed_any = 0;
    for (worker, task) in tasks.into_iter().enumerate() {
        let claim = task.await.expect("task");
        claimed_any += usize::from(!claim.entries.is_empty());
        for entry in &claim.entries {
            assert!(
                seen.insert(entry.sequence),
                "sequence {} claimed twice",
                entry.sequence
            );
            let sc = name(entry.sequence);
            assert_eq!(
                entry
                    .event
                    .spacecraft_id
                    .as_ref()
                    .map(|s| s.as_str().to_owned()),
                Some(sc.clone())
            );
            let previous = owner.insert(sc.clone(), worker);
            assert!(
                previous.is_none_or(|w| w == worker),
                "two claims hold events of {sc}"
            );
        }
    }
    assert!(claimed_any >= 2, "several claims found work");
    // What was claimed of each spacecraft is its earliest events, with none skipped.
    let mut by_spacecraft: HashMap<String, Vec<u64>> = HashMap::new();
    for sequence in &seen {
        by_spacecraft
            .entry(name(*sequence))
            .or_default()
            .push(*sequence);
    }
    for (sc, mut sequences) in by_spacecraft {
        sequences.sort_unstable();
        assert!(sequences[0] <= FLEET, "{sc} starts at {}", sequences[0]);
        for pair in sequences.windows(2) {
            assert_eq!(pair[1] - pair[0], FLEET, "{sc} skipped an event");
        }
    }
}

/// Expands to one `#[tokio::test]` per case, each on a fresh store from `$fresh`.
#[allow(unused_macros)]
macro_rules! outbox_suite {
    ($fresh:path) => {
        outbox_suite!(@cases $fresh;
            claims_take_pending_rows_in_sequence_order_with_their_events,
            delivered_rows_leave_the_outbox,
            events_dated_in_the_future_are_due_at_once,
            a_claim_whose_lease_runs_out_comes_back_and_loses_its_rows,
            a_failure_backs_off_and_holds_back_only_its_spacecraft,
            the_last_attempt_makes_a_dead_letter_that_no_longer_holds_back_and_can_be_retried,
            retry_all_puts_every_dead_letter_back,
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_claims_never_overlap_nor_split_a_spacecraft() {
            let (store, _guard) = $fresh().await;
            suite::concurrent_claims_never_overlap_nor_split_a_spacecraft(store).await;
        }
    };
    (@cases $fresh:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, _guard) = $fresh().await;
                suite::$case(store).await;
            }
        )*
    };
}
