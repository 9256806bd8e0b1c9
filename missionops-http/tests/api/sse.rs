//! The live event stream: delivery after connect, and resumption with `Last-Event-ID`.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Reads SSE frames until `count` events arrived (or a timeout): (id, event, data).
async fn read_events(response: reqwest::Response, count: usize) -> Vec<(u64, String, Value)> {
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.len() < count {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("events arrive in time")
            .expect("stream open")
            .expect("chunk");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
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
                events.push((id, kind, serde_json::from_str(&data).expect("event json")));
            }
        }
    }
    events
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
