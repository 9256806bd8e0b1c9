//! The live event stream: delivery after connect, resumption with `Last-Event-ID` across
//! pages of the backlog, and the hand-off from replaying the backlog to live events.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_gated_app};

/// One SSE frame: (id, event, data).
type Frame = (u64, String, Value);

/// Reads SSE frames off a response, in steps.
struct EventReader {
    stream: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Vec<u8>>> + Send>>,
    buffer: String,
    parsed: std::collections::VecDeque<Frame>,
}

impl EventReader {
    fn new(response: reqwest::Response) -> Self {
        EventReader {
            stream: Box::pin(
                response
                    .bytes_stream()
                    .map(|chunk| chunk.map(|b| b.to_vec())),
            ),
            buffer: String::new(),
            parsed: std::collections::VecDeque::new(),
        }
    }

    /// The next `count` events (panics when they do not arrive within 10 s).
    async fn next(&mut self, count: usize) -> Vec<Frame> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.parsed.len() < count {
            let chunk = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{count} events should arrive in time; {} did",
                        self.parsed.len()
                    )
                })
                .expect("stream open")
                .expect("chunk");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut kind = String::new();
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        kind = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if let Some(id) = id {
                    self.parsed.push_back((
                        id,
                        kind,
                        serde_json::from_str(&data).expect("event json"),
                    ));
                }
            }
        }
        self.parsed.drain(..count).collect()
    }
}

/// Reads SSE frames until `count` events arrived (or a timeout): (id, event, data).
async fn read_events(response: reqwest::Response, count: usize) -> Vec<Frame> {
    EventReader::new(response).next(count).await
}

async fn record(app: &TestApp, id: &str) {
    let (status, _) = app
        .post_json("/spacecraft", &json!({"id": id, "name": id}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn an_event_recorded_after_connecting_reaches_the_client() {
    let app = spawn_app().await;
    record(&app, "SC-0").await;
    let response = app.get("/events/stream").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"))
    );
    let reader = tokio::spawn(read_events(response, 1));
    tokio::time::sleep(Duration::from_millis(100)).await;
    record(&app, "SC-1").await;
    let events = reader.await.expect("reader");
    assert_eq!(events.len(), 1, "only events after connecting");
    let (id, kind, data) = &events[0];
    assert_eq!(*id, 2);
    assert_eq!(kind, "SPACECRAFT_REGISTERED");
    assert_eq!(data["spacecraftId"], "SC-1");
    assert_eq!(data["sequence"], 2);
}

#[tokio::test]
async fn reconnecting_with_last_event_id_delivers_exactly_the_missed_events() {
    let app = spawn_app().await;
    for i in 0..3 {
        record(&app, &format!("SC-{i}")).await;
    }
    // The client saw up to sequence 1, then lost the connection while 2..=5 were recorded.
    for i in 3..5 {
        record(&app, &format!("SC-{i}")).await;
    }
    let response = app
        .client
        .get(app.url("/events/stream"))
        .header("Last-Event-ID", "1")
        .send()
        .await
        .expect("stream");
    let events = read_events(response, 4).await;
    let ids: Vec<u64> = events.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(ids, [2, 3, 4, 5]);
    let reader_app = app.client.clone();
    let response = reader_app
        .get(app.url("/events/stream?spacecraftId=SC-4"))
        .header("Last-Event-ID", "0")
        .send()
        .await
        .expect("stream");
    let events = read_events(response, 1).await;
    assert_eq!(events[0].0, 5, "filtered by spacecraft");
}

/// More events than two of the pages the stream reads the store in (200 a page).
const BACKLOG: u64 = 420;

/// Registers spacecraft `SC-{from}` to `SC-{to - 1}`: one `SPACECRAFT_REGISTERED` event each.
async fn record_range(app: &TestApp, from: u64, to: u64) {
    for i in from..to {
        record(app, &format!("SC-{i}")).await;
    }
}

/// Asserts that `events` are the registrations with sequences `first..=last`, in order and
/// each once.
fn assert_registrations(events: &[(u64, String, Value)], first: u64, last: u64) {
    let ids: Vec<u64> = events.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(ids, (first..=last).collect::<Vec<u64>>());
    for (id, kind, data) in events {
        assert_eq!(kind, "SPACECRAFT_REGISTERED");
        assert_eq!(data["sequence"], *id);
        // Sequence n registered SC-(n-1).
        assert_eq!(data["spacecraftId"], format!("SC-{}", id - 1));
    }
}

async fn stream_after(app: &TestApp, last_event_id: u64) -> reqwest::Response {
    let response = app
        .client
        .get(app.url("/events/stream"))
        .header("Last-Event-ID", last_event_id.to_string())
        .send()
        .await
        .expect("stream");
    assert_eq!(response.status(), StatusCode::OK);
    response
}

#[tokio::test]
async fn resuming_far_behind_pages_through_the_whole_backlog_in_order() {
    let app = spawn_app().await;
    record_range(&app, 0, BACKLOG).await;
    let events = read_events(stream_after(&app, 0).await, BACKLOG as usize).await;
    assert_registrations(&events, 1, BACKLOG);
    // From the middle of a page, across the page boundaries after it.
    let events = read_events(stream_after(&app, 150).await, (BACKLOG - 150) as usize).await;
    assert_registrations(&events, 151, BACKLOG);
}

#[tokio::test]
async fn events_recorded_while_a_stream_replays_arrive_once_in_order_then_live_ones_follow() {
    let (app, gated) = spawn_gated_app().await;
    record_range(&app, 0, 250).await;
    // The stream reads its first page (1..=200), then waits at the gate for its second.
    gated.event_pages.hold_after(1);
    let response = stream_after(&app, 0).await;
    let mut stream = EventReader::new(response);
    assert_registrations(&stream.next(200).await, 1, 200);
    gated.event_pages.until_waiting(1).await;
    // Recorded while the replay is between its pages, after the stream connected.
    record_range(&app, 250, 280).await;
    gated.event_pages.open();
    assert_registrations(&stream.next(80).await, 201, 280);
    // The replay has caught up: what is recorded now arrives live.
    record_range(&app, 280, 285).await;
    assert_registrations(&stream.next(5).await, 281, 285);
    // Nothing arrives twice: the next event after a sentinel is the sentinel itself.
    record_range(&app, 285, 286).await;
    assert_registrations(&stream.next(1).await, 286, 286);
}

#[tokio::test]
async fn a_bad_last_event_id_is_a_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/events/stream"))
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["details"][0]["field"], "Last-Event-ID");
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let app = spawn_app().await;
    let response = app.get("/events/stream").await;
    let mut body = response.bytes_stream();
    let shutdown = tokio::spawn(app.shutdown());
    // The stream ends (None) instead of holding the server open.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = body.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream must end on shutdown");
    tokio::time::timeout(Duration::from_secs(5), shutdown)
        .await
        .expect("graceful shutdown completes")
        .expect("join");
}
