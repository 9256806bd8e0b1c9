//! The bound on request-body bytes in flight: while held requests fill it, a large body (sized
//! by `Content-Length` or sent chunked) is answered 503 with `Retry-After` and nothing of it is
//! stored, small bodies are still served, and once the held requests finish the refused one
//! goes through.

use std::time::Duration;

use futures_util::stream;
use missionops_core::{SpacecraftId, Timestamp};
use missionops_http::HttpConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error_shape, spawn_gated_app_with};

const MIB: usize = 1024 * 1024;

/// A played-back batch (one store call of its own) of about 900 KB: two fit under 2 MiB, three
/// do not.
fn large_batch(spacecraft: &str) -> Vec<u8> {
    let snapshots: Vec<Value> = (0..7_000)
        .map(|i| {
            json!({"id": format!("{spacecraft}-{i:05}"), "timestamp": "2025-01-01T00:00:00Z",
                "parameters": {"temp": i, "pad": "x".repeat(40)}})
        })
        .collect();
    let body = serde_json::to_vec(&json!({"spacecraftId": spacecraft, "stored": true,
        "snapshots": snapshots}))
    .expect("json");
    assert!(
        (850_000..1_000_000).contains(&body.len()),
        "{} bytes",
        body.len()
    );
    body
}

async fn post(
    app: &TestApp,
    path: &str,
    body: reqwest::Body,
) -> (StatusCode, Option<String>, Value) {
    let response = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        status,
        retry_after,
        response.json().await.expect("json body"),
    )
}

/// The same bytes sent chunked (no `Content-Length`), 64 KiB a chunk.
fn chunked(bytes: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(stream::iter(chunks))
}

async fn stored(app: &TestApp, spacecraft: &str) -> usize {
    let id = SpacecraftId::parse(spacecraft).expect("id");
    let from = Timestamp::parse("2024-01-01T00:00:00Z").expect("time");
    let to = Timestamp::parse("2026-01-01T00:00:00Z").expect("time");
    app.store
        .count_telemetry_range(
            &missionops_core::TenantId::default_tenant(),
            &id,
            from,
            to,
            usize::MAX,
        )
        .await
        .expect("count")
}

fn assert_full(status: StatusCode, retry_after: Option<String>, body: &Value, what: &str) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {body}");
    assert_eq!(retry_after.as_deref(), Some("1"), "{what}: Retry-After");
    assert_eq!(body["error"], "Unavailable", "{what}: {body}");
    let message = assert_error_shape(body);
    assert!(message.contains("request bodies"), "{what}: {message}");
}

#[tokio::test]
async fn large_bodies_past_the_in_flight_bound_get_503_with_retry_after_and_store_nothing() {
    let (app, gated) = spawn_gated_app_with(HttpConfig {
        body_limit: MIB,
        max_body_bytes_in_flight: 2 * MIB,
        ..HttpConfig::default()
    })
    .await;
    // Two large batches are held at their writes, holding their bodies' room: ~1.5 MiB of 2.
    gated.writes.hold_after(0);
    let mut held = Vec::new();
    for spacecraft in ["SC-A", "SC-B"] {
        let client = app.client.clone();
        let url = app.url("/telemetry/batch");
        let body = large_batch(spacecraft);
        held.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            let status = response.status();
            response.json::<Value>().await.map(|b| (status, b))
        }));
    }
    gated.writes.until_waiting(2).await;

    // A third large body does not fit, whether its length is declared or not.
    let (status, retry_after, body) =
        post(&app, "/telemetry/batch", large_batch("SC-C").into()).await;
    assert_full(status, retry_after, &body, "sized body");
    let (status, retry_after, body) =
        post(&app, "/telemetry/batch", chunked(large_batch("SC-D"))).await;
    assert_full(status, retry_after, &body, "chunked body");

    // Small bodies still fit, sized or chunked.
    let small = json!({"id": "SC-SMALL", "name": "small"});
    let (status, _, body) = post(
        &app,
        "/spacecraft",
        serde_json::to_vec(&small).expect("json").into(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let small = json!({"id": "SC-SMALL-2", "name": "small, chunked"});
    let (status, _, body) = post(
        &app,
        "/spacecraft",
        chunked(serde_json::to_vec(&small).expect("json")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The held batches complete in full; the refused ones left nothing behind.
    gated.writes.open();
    for task in held {
        let (status, body) = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("answered")
            .expect("join")
            .expect("response");
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["count"], 7_000, "{body}");
    }
    assert_eq!(stored(&app, "SC-A").await, 7_000);
    assert_eq!(stored(&app, "SC-B").await, 7_000);
    assert_eq!(
        stored(&app, "SC-C").await,
        0,
        "a refused body stores nothing"
    );
    assert_eq!(
        stored(&app, "SC-D").await,
        0,
        "a refused body stores nothing"
    );
    let (status, listed) = app.get_json("/spacecraft?limit=100").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = listed
        .as_array()
        .or_else(|| listed["items"].as_array())
        .expect("a list")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert!(
        !ids.contains(&"SC-C") && !ids.contains(&"SC-D"),
        "a refused batch registers nothing: {ids:?}"
    );

    // The room is given back: the refused bodies go through now.
    let (status, _, body) = post(&app, "/telemetry/batch", large_batch("SC-C").into()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _, body) = post(&app, "/telemetry/batch", chunked(large_batch("SC-D"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(stored(&app, "SC-C").await, 7_000);
    assert_eq!(stored(&app, "SC-D").await, 7_000);
}

#[tokio::test]
async fn a_chunked_body_over_the_body_limit_is_413() {
    let (app, _gated) = spawn_gated_app_with(HttpConfig {
        body_limit: 256 * 1024,
        ..HttpConfig::default()
    })
    .await;
    let (status, _, body) = post(&app, "/telemetry/batch", chunked(large_batch("SC-E"))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_error_shape(&body);
    assert_eq!(stored(&app, "SC-E").await, 0);
}
