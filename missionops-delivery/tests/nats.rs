//! Delivery to a real NATS JetStream server of the test's own (`nats-server -js` on a free
//! port, stopped and started again by the tests), from a SQLite outbox.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use missionops_core::{
    Clock, ManualClock, MissionEvent, OutboxStats, OutboxStore, RetryPolicy, TenantId, Timestamp,
};
use missionops_delivery::{
    Delivery, Dispatcher, DispatcherConfig, NatsConfig, NatsSink, Sink, nats_subject,
};
use missionops_store::SqliteStore;

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/nats_server.rs"]
mod nats_server;

use nats_server::NatsServer;

const STREAM: &str = "MISSIONOPS_EVENTS";

async fn fresh_store() -> (Arc<SqliteStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open_path(dir.path().join("missionops.db"))
        .await
        .expect("open a fresh SQLite file");
    (Arc::new(store), dir)
}

async fn sink(server: &NatsServer) -> Arc<NatsSink> {
    let config = NatsConfig {
        create_stream: true,
        ack_timeout: Duration::from_secs(2),
        ..NatsConfig::new(server.url())
    };
    Arc::new(NatsSink::connect(config).await.expect("NATS sink"))
}

/// Quick retries, never dead: these tests are about coming back.
fn config(lease: Duration) -> DispatcherConfig {
    DispatcherConfig {
        batch_size: 25,
        poll_interval: Duration::from_millis(50),
        lease,
        retry: RetryPolicy {
            max_attempts: 1_000,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(400),
        },
    }
}

async fn wait_for(store: &dyn OutboxStore, expected: OutboxStats, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let stats = store.stats().await.expect("stats");
        if stats == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "outbox stats stayed {stats:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every message of the stream, in stream order: (subject, Nats-Msg-Id, event).
async fn stream_messages(server: &NatsServer) -> Vec<(String, String, MissionEvent)> {
    let client = async_nats::connect(server.url()).await.expect("connect");
    let js = jetstream::new(client);
    let mut stream = js.get_stream(STREAM).await.expect("the stream exists");
    let state = stream.info().await.expect("stream info").state.clone();
    let mut messages = Vec::new();
    for sequence in state.first_sequence..=state.last_sequence {
        let message = stream
            .get_raw_message(sequence)
            .await
            .expect("stored message");
        let id = message
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.as_str().to_owned())
            .unwrap_or_else(|| panic!("Nats-Msg-Id header in {:?}", message.headers));
        let event: MissionEvent =
            serde_json::from_slice(&message.payload).expect("the payload is the event JSON");
        messages.push((message.subject.to_string(), id, event));
    }
    assert_eq!(
        messages.len() as u64,
        state.messages,
        "read every stored message"
    );
    messages
}

/// Asserts that `messages` hold each of `events` exactly once, with the right subject and
/// message id, and in sequence order per spacecraft.
fn assert_delivered_once_in_order(
    messages: &[(String, String, MissionEvent)],
    events: &[MissionEvent],
) {
    assert_eq!(
        messages.len(),
        events.len(),
        "one message per event, no duplicates"
    );
    let ids: HashSet<&str> = messages.iter().map(|(_, id, _)| id.as_str()).collect();
    for event in events {
        assert!(
            ids.contains(event.id.as_str()),
            "event {} was lost",
            event.id
        );
    }
    let mut last: HashMap<Option<String>, u64> = HashMap::new();
    for (subject, id, event) in messages {
        assert_eq!(id, event.id.as_str(), "Nats-Msg-Id is the event id");
        assert_eq!(
            subject,
            &nats_subject("missionops.events", &TenantId::default(), event)
        );
        let key = event.spacecraft_id.as_ref().map(|s| s.as_str().to_owned());
        if let Some(previous) = last.insert(key.clone(), event.sequence) {
            assert!(
                previous < event.sequence,
                "{key:?}: sequence {} arrived after {previous}",
                event.sequence
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_recorded_while_nats_is_down_are_all_delivered_in_order_when_it_returns() {
    let mut server = NatsServer::start().await;
    let (store, _dir) = fresh_store().await;
    let sink = sink(&server).await;
    let dispatcher = Dispatcher::new(
        store.clone(),
        vec![sink.clone() as Arc<dyn Sink>],
        config(Duration::from_secs(30)),
    )
    .expect("dispatcher")
    .spawn();

    let mut events = Vec::new();
    for i in 0..5 {
        events.push(fixtures::record(&*store, &format!("up-{i}"), Some("SC-A")).await);
    }
    dispatcher.wake();
    wait_for(
        &*store,
        OutboxStats {
            pending: 0,
            delivered: 5,
            dead: 0,
        },
        Duration::from_secs(10),
    )
    .await;

    server.stop();
    let spacecraft = [Some("SC-A"), Some("SC-B"), Some("Sat.Imager"), None];
    for i in 0..80 {
        let sc = spacecraft[i % spacecraft.len()];
        events.push(fixtures::record(&*store, &format!("down-{i}"), sc).await);
    }
    // While the server is down, deliveries fail and back off; nothing is lost or given up.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let stats = store.stats().await.expect("stats");
    assert_eq!(stats.pending, 80, "{stats:?}");
    assert_eq!(stats.dead, 0);

    server.restart().await;
    wait_for(
        &*store,
        OutboxStats {
            pending: 0,
            delivered: 85,
            dead: 0,
        },
        Duration::from_secs(30),
    )
    .await;
    dispatcher.shutdown().await;

    let messages = stream_messages(&server).await;
    assert_delivered_once_in_order(&messages, &events);
    // Events without a spacecraft go to `_`; a spacecraft id with a dot stays one token.
    let subjects: HashSet<&str> = messages.iter().map(|(s, _, _)| s.as_str()).collect();
    for subject in [
        "missionops.events.default.SC-A.INFO",
        "missionops.events.default._.INFO",
        "missionops.events.default.Sat%2EImager.INFO",
    ] {
        assert!(subjects.contains(subject), "{subject} in {subjects:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_dies_after_publishing_is_redelivered_and_jetstream_keeps_one_copy() {
    let server = NatsServer::start().await;
    let (store, _dir) = fresh_store().await;
    let sink = sink(&server).await;
    let mut events = Vec::new();
    for i in 0..30 {
        let sc = if i % 3 == 0 { "SC-B" } else { "SC-A" };
        events.push(fixtures::record(&*store, &format!("ev-{i}"), Some(sc)).await);
    }

    // A worker claims the rows, publishes every event (JetStream acknowledges them)…
    // Leases are measured on a clock the test moves, not waited out.
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse("2025-06-01T00:00:00Z").expect("time"),
    ));
    let lease = Duration::from_millis(400);
    let claim = store.claim(clock.now(), 100, lease).await.expect("claim");
    assert_eq!(claim.entries.len(), 30);
    let deliveries: Vec<Delivery> = claim
        .entries
        .iter()
        .map(|e| Delivery::new(e.tenant.clone(), e.event.clone()).expect("render"))
        .collect();
    let outcome = sink.deliver(&deliveries).await;
    assert_eq!(outcome.accepted, 30, "{:?}", outcome.error);
    assert_eq!(stream_messages(&server).await.len(), 30);
    // …and dies before marking them delivered: the claim is simply dropped.
    drop(claim);
    assert_eq!(store.stats().await.expect("stats").pending, 30);

    // Another worker finds nothing while the lease lasts, to its last millisecond…
    let dispatcher = Dispatcher::new(
        store.clone(),
        vec![sink.clone() as Arc<dyn Sink>],
        config(Duration::from_secs(30)),
    )
    .expect("dispatcher")
    .with_clock(clock.clone());
    clock.advance_millis(399);
    let report = dispatcher.run_once().await.expect("run while leased");
    assert_eq!(report.claimed, 0, "{report:?}");
    // …and picks the rows up once it has run out, and sends them again.
    clock.advance_millis(1);
    let report = dispatcher.run_once().await.expect("redeliver");
    assert_eq!(report.claimed, 25, "{report:?}");
    assert_eq!(report.delivered, 25, "{report:?}");
    let report = dispatcher.run_once().await.expect("redeliver the rest");
    assert_eq!(report.delivered, 5, "{report:?}");
    assert_eq!(
        store.stats().await.expect("stats"),
        OutboxStats {
            pending: 0,
            delivered: 30,
            dead: 0
        }
    );

    // JetStream de-duplicated the second copies by Nats-Msg-Id: still one message per event.
    let messages = stream_messages(&server).await;
    assert_delivered_once_in_order(&messages, &events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_aborted_mid_batch_loses_nothing() {
    let server = NatsServer::start().await;
    let (store, _dir) = fresh_store().await;
    let sink = sink(&server).await;
    let mut events = Vec::new();
    for i in 0..200 {
        let sc = ["SC-A", "SC-B", "SC-C"][i % 3];
        events.push(fixtures::record(&*store, &format!("ev-{i}"), Some(sc)).await);
    }
    let short_lease = config(Duration::from_millis(500));
    let first = Dispatcher::new(
        store.clone(),
        vec![sink.clone() as Arc<dyn Sink>],
        short_lease,
    )
    .expect("dispatcher")
    .spawn();
    // Kill it somewhere in the middle of its work.
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.stats().await.expect("stats").delivered == 0 {
        assert!(Instant::now() < deadline, "nothing was delivered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.abort();
    let second = Dispatcher::new(store.clone(), vec![sink as Arc<dyn Sink>], short_lease)
        .expect("dispatcher")
        .spawn();
    wait_for(
        &*store,
        OutboxStats {
            pending: 0,
            delivered: 200,
            dead: 0,
        },
        Duration::from_secs(30),
    )
    .await;
    second.shutdown().await;
    let messages = stream_messages(&server).await;
    assert_delivered_once_in_order(&messages, &events);
}

#[tokio::test]
async fn without_a_stream_delivery_fails_with_a_clear_message_and_backs_off() {
    let server = NatsServer::start().await;
    let (store, _dir) = fresh_store().await;
    let sink = Arc::new(
        NatsSink::connect(NatsConfig::new(server.url()))
            .await
            .expect("sink"),
    );
    // Wait for the background connection.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.client().connection_state() != async_nats::connection::State::Connected {
        assert!(Instant::now() < deadline, "never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fixtures::record(&*store, "ev-1", Some("SC-A")).await;
    let once = DispatcherConfig {
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..config(Duration::from_secs(30))
    };
    let dispatcher =
        Dispatcher::new(store.clone(), vec![sink as Arc<dyn Sink>], once).expect("dispatcher");
    let report = dispatcher.run_once().await.expect("run");
    assert_eq!(report.dead, 1, "{report:?}");
    let dead = store.dead_letters(10).await.expect("dead letters");
    let error = dead[0].last_error.clone().unwrap_or_default();
    assert!(
        error.contains("no JetStream stream takes subject missionops.events.default.SC-A.INFO"),
        "{error}"
    );
}

#[tokio::test]
async fn a_delivery_is_published_under_its_tenant() {
    let sink = NatsSink::connect(NatsConfig::new("nats://127.0.0.1:4222"))
        .await
        .expect("sink");
    let event = missionops_core::NewEvent {
        id: missionops_core::EventId::parse("ev-t").expect("id"),
        spacecraft_id: Some(missionops_core::SpacecraftId::parse("SC-001").expect("id")),
        timestamp: Timestamp::from_millis(0).expect("time"),
        event_type: missionops_core::EventType::Info,
        severity: missionops_core::Severity::Low,
        message: "m".to_owned(),
        metadata: missionops_core::JsonObject::new(),
    }
    .recorded(1);
    let tenant = TenantId::parse("mission-a").expect("tenant");
    let delivery = Delivery::new(tenant, event).expect("render");
    assert_eq!(
        sink.subject(&delivery),
        "missionops.events.mission-a.SC-001.INFO"
    );
}
