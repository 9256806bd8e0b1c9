//! Delivery to signed webhooks: a real HTTP receiver of the test's own (axum on port 0) that
//! fails on purpose, and a SQLite outbox.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use missionops_core::{
    Clock, ManualClock, MissionEvent, OutboxStats, OutboxStore, RetryPolicy, RetrySelection,
    Timestamp,
};
use missionops_delivery::{Dispatcher, DispatcherConfig, Sink, WebhookConfig, WebhookSink};
use missionops_store::SqliteStore;
use sha2::Sha256;

#[path = "support/fixtures.rs"]
mod fixtures;

const SECRET: &str = "s3cr3t-for-tests";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    timestamp: String,
    signature: String,
    event_id: String,
    tenant: String,
    body: Bytes,
    answered: StatusCode,
}

/// A receiver that answers 500 to its first `fail_first` requests (all of them while
/// `always_fail` is set), then 204.
#[derive(Debug, Default)]
struct Receiver {
    fail_first: usize,
    always_fail: bool,
    calls: usize,
    received: Vec<Received>,
}

type Shared = Arc<Mutex<Receiver>>;

async fn hook(State(receiver): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut receiver = receiver.lock().expect("receiver");
    receiver.calls += 1;
    let answered = if receiver.always_fail || receiver.calls <= receiver.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    };
    receiver.received.push(Received {
        timestamp: header("x-missionops-timestamp"),
        signature: header("x-missionops-signature"),
        event_id: header("x-missionops-event-id"),
        tenant: header("x-missionops-tenant"),
        body,
        answered,
    });
    answered
}

async fn spawn_receiver(receiver: Receiver) -> (String, Shared) {
    let shared = Arc::new(Mutex::new(receiver));
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, shared)
}

/// A receiver's check, written from the documentation rather than with the library's helper:
/// hex HMAC-SHA256 over `<timestamp>.<body>`, in constant time, and a fresh timestamp.
fn verify(secret: &str, received: &Received) -> bool {
    let Some(hex) = received.signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(bytes) = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(received.timestamp.as_bytes());
    mac.update(b".");
    mac.update(&received.body);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let fresh = received
        .timestamp
        .parse::<u64>()
        .is_ok_and(|t| now.abs_diff(t) <= 300);
    fresh && mac.verify_slice(&bytes).is_ok()
}

async fn fresh_store() -> (Arc<SqliteStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open_path(dir.path().join("missionops.db"))
        .await
        .expect("open a fresh SQLite file");
    (Arc::new(store), dir)
}

fn dispatcher_config(max_attempts: u32) -> DispatcherConfig {
    DispatcherConfig {
        batch_size: 50,
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(30),
        retry: RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_millis(200),
        },
    }
}

fn sink(url: &str) -> Arc<dyn Sink> {
    let config = WebhookConfig {
        timeout: Duration::from_secs(5),
        ..WebhookConfig::new(url, SECRET)
    };
    Arc::new(WebhookSink::new(config).expect("webhook sink"))
}

async fn wait_for(store: &dyn OutboxStore, expected: OutboxStats) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = store.stats().await.expect("stats");
        if stats == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "outbox stats stayed {stats:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_at_first_gets_every_event_signed_and_in_order() {
    let (url, receiver) = spawn_receiver(Receiver {
        fail_first: 4,
        ..Receiver::default()
    })
    .await;
    let (store, _dir) = fresh_store().await;
    let mut events = Vec::new();
    for i in 0..12 {
        let sc = if i % 2 == 0 {
            Some("SC-A")
        } else {
            Some("SC-B")
        };
        events.push(fixtures::record(&*store, &format!("ev-{i}"), sc).await);
    }
    events.push(fixtures::record(&*store, "fleet-1", None).await);
    let handle = Dispatcher::new(store.clone(), vec![sink(&url)], dispatcher_config(10))
        .expect("dispatcher")
        .spawn();
    wait_for(
        &*store,
        OutboxStats {
            pending: 0,
            delivered: 13,
            dead: 0,
        },
    )
    .await;
    handle.shutdown().await;

    let receiver = receiver.lock().expect("receiver");
    assert!(
        receiver.calls >= 13 + 4,
        "the first 4 calls failed and were retried: {}",
        receiver.calls
    );
    for received in &receiver.received {
        assert!(
            verify(SECRET, received),
            "signature does not verify: {received:?}"
        );
        assert!(!verify("wrong secret", received));
        let event: MissionEvent = serde_json::from_slice(&received.body).expect("event JSON");
        assert_eq!(received.event_id, event.id.as_str());
        assert_eq!(received.tenant, "default");
    }
    // Every event accepted exactly once (nothing was accepted and then failed), in sequence
    // order per spacecraft.
    let accepted: Vec<MissionEvent> = receiver
        .received
        .iter()
        .filter(|r| r.answered.is_success())
        .map(|r| serde_json::from_slice(&r.body).expect("event JSON"))
        .collect();
    assert_eq!(accepted.len(), events.len());
    let mut by_spacecraft: HashMap<Option<String>, Vec<u64>> = HashMap::new();
    for event in &accepted {
        by_spacecraft
            .entry(event.spacecraft_id.as_ref().map(|s| s.as_str().to_owned()))
            .or_default()
            .push(event.sequence);
    }
    for (sc, sequences) in &by_spacecraft {
        let mut sorted = sequences.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(&sorted, sequences, "{sc:?} out of order or duplicated");
    }
    let mut delivered: Vec<&MissionEvent> = accepted.iter().collect();
    delivered.sort_by_key(|e| e.sequence);
    assert_eq!(delivered, events.iter().collect::<Vec<_>>());
    // The body is the event JSON exactly as the API renders it.
    let first = receiver
        .received
        .iter()
        .find(|r| r.answered.is_success())
        .expect("one accepted");
    let event: MissionEvent = serde_json::from_slice(&first.body).expect("event JSON");
    assert_eq!(
        first.body.as_ref(),
        missionops_core::json::to_vec_js(&event)
            .expect("render")
            .as_slice()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_names_the_tenant_that_recorded_it() {
    let (url, receiver) = spawn_receiver(Receiver::default()).await;
    let (store, _dir) = fresh_store().await;
    fixtures::record_in(&*store, "default", "ev-d", Some("SC-001")).await;
    fixtures::record_in(&*store, "mission-a", "ev-a", Some("SC-001")).await;
    fixtures::record_in(&*store, "mission-b", "ev-b", None).await;
    let handle = Dispatcher::new(store.clone(), vec![sink(&url)], dispatcher_config(10))
        .expect("dispatcher")
        .spawn();
    wait_for(
        &*store,
        OutboxStats {
            pending: 0,
            delivered: 3,
            dead: 0,
        },
    )
    .await;
    handle.shutdown().await;
    let receiver = receiver.lock().expect("receiver");
    let mut tenants: Vec<(String, String)> = receiver
        .received
        .iter()
        .map(|r| (r.event_id.clone(), r.tenant.clone()))
        .collect();
    tenants.sort();
    assert_eq!(
        tenants,
        [
            ("ev-a".to_owned(), "mission-a".to_owned()),
            ("ev-b".to_owned(), "mission-b".to_owned()),
            ("ev-d".to_owned(), "default".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_always_fails_dead_letters_the_events_and_a_retry_brings_them_back() {
    let (url, receiver) = spawn_receiver(Receiver {
        always_fail: true,
        ..Receiver::default()
    })
    .await;
    let (store, _dir) = fresh_store().await;
    let first = fixtures::record(&*store, "ev-1", Some("SC-A")).await;
    let second = fixtures::record(&*store, "ev-2", Some("SC-A")).await;
    let dispatcher =
        Dispatcher::new(store.clone(), vec![sink(&url)], dispatcher_config(3)).expect("dispatcher");
    let handle = dispatcher.spawn();
    wait_for(
        &*store,
        OutboxStats {
            pending: 0,
            delivered: 0,
            dead: 2,
        },
    )
    .await;
    {
        let receiver = receiver.lock().expect("receiver");
        // Three attempts each; the second event was only tried after the first was given up.
        assert_eq!(receiver.calls, 6, "{:?}", receiver.received);
        let order: Vec<&str> = receiver
            .received
            .iter()
            .map(|r| r.event_id.as_str())
            .collect();
        assert_eq!(order, vec!["ev-1", "ev-1", "ev-1", "ev-2", "ev-2", "ev-2"]);
    }
    let dead = store.dead_letters(10).await.expect("dead letters");
    assert_eq!(
        dead.iter().map(|d| d.sequence).collect::<Vec<_>>(),
        vec![first.sequence, second.sequence]
    );
    assert!(dead.iter().all(|d| d.attempts == 3));
    let error = dead[0].last_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("the receiver answered HTTP 500"),
        "last error names the answer: {error}"
    );
    assert!(!error.contains(SECRET), "no secret in the error: {error}");

    // The receiver is fixed; the operator retries the dead letters.
    receiver.lock().expect("receiver").always_fail = false;
    let retried = store.retry_dead(&RetrySelection::All).await.expect("retry");
    assert_eq!(retried, vec![first.sequence, second.sequence]);
    wait_for(
        &*store,
        OutboxStats {
            pending: 0,
            delivered: 2,
            dead: 0,
        },
    )
    .await;
    handle.shutdown().await;
    let receiver = receiver.lock().expect("receiver");
    let accepted: Vec<&str> = receiver
        .received
        .iter()
        .filter(|r| r.answered.is_success())
        .map(|r| r.event_id.as_str())
        .collect();
    assert_eq!(accepted, vec!["ev-1", "ev-2"]);
    assert!(receiver.received.iter().all(|r| verify(SECRET, r)));
}

#[tokio::test]
async fn a_receiver_that_does_not_answer_in_time_counts_as_a_failure() {
    // A listener that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let (store, _dir) = fresh_store().await;
    fixtures::record(&*store, "ev-1", Some("SC-A")).await;
    let slow = WebhookSink::new(WebhookConfig {
        timeout: Duration::from_millis(200),
        ..WebhookConfig::new(url, SECRET)
    })
    .expect("sink");
    let dispatcher = Dispatcher::new(
        store.clone(),
        vec![Arc::new(slow) as Arc<dyn Sink>],
        dispatcher_config(1),
    )
    .expect("dispatcher");
    let started = Instant::now();
    let report = dispatcher.run_once().await.expect("run");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(report.dead, 1, "{report:?}");
    let dead = store.dead_letters(1).await.expect("dead");
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("timed out")),
        "{dead:?}"
    );
    hold.abort();
}

#[tokio::test]
async fn a_failed_event_waits_out_its_backoff_on_the_dispatcher_clock() {
    let (url, receiver) = spawn_receiver(Receiver {
        fail_first: 1,
        ..Receiver::default()
    })
    .await;
    let (store, _dir) = fresh_store().await;
    fixtures::record(&*store, "ev-1", Some("SC-A")).await;
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse("2025-06-01T00:00:00Z").expect("time"),
    ));
    let config = DispatcherConfig {
        retry: RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_secs(60),
            max_backoff: Duration::from_secs(60),
        },
        ..dispatcher_config(5)
    };
    let dispatcher = Dispatcher::new(store.clone(), vec![sink(&url)], config)
        .expect("dispatcher")
        .with_clock(clock.clone());
    let report = dispatcher.run_once().await.expect("first attempt");
    assert_eq!(report.failed, 1, "{report:?}");
    // The first retry waits 30 to 60 s (jitter); on the dispatcher's clock, not the wall's.
    clock.advance_millis(29_999);
    let report = dispatcher.run_once().await.expect("during the backoff");
    assert_eq!(report.claimed, 0, "claimed during the backoff: {report:?}");
    clock.advance_millis(30_001);
    let report = dispatcher.run_once().await.expect("after the backoff");
    assert_eq!((report.claimed, report.delivered), (1, 1), "{report:?}");
    assert_eq!(receiver.lock().expect("receiver").calls, 2);
    assert_eq!(
        clock.now(),
        Timestamp::parse("2025-06-01T00:01:00Z").expect("time")
    );
}
