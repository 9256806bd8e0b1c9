//! `POST /telemetry/ndjson`: bulk ingest whose id-less lines get ids derived from their content.

use missionops_core::{Parameters, SnapshotId, SpacecraftId, Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Three id-less snapshots of `SC-N`, one a minute, the last above its `warnHigh`.
fn lines() -> String {
    (0..3)
        .map(|i| {
            format!(
                "{}\n",
                json!({"spacecraftId": "SC-N", "timestamp": format!("2025-01-01T00:0{i}:00Z"), "parameters": {"temp": 40 + i * 5, "mode": "CRUISE"}})
            )
        })
        .collect()
}

async fn post_ndjson(app: &TestApp, body: String) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url("/telemetry/ndjson"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("post");
    let status = response.status();
    (status, response.json().await.expect("json body"))
}

async fn stored(app: &TestApp) -> Vec<Value> {
    let (status, telemetry) = app.get_json("/telemetry?spacecraftId=SC-N&limit=100").await;
    assert_eq!(status, StatusCode::OK);
    telemetry.as_array().expect("array").clone()
}

#[tokio::test]
async fn posting_the_same_id_less_ndjson_twice_stores_nothing_twice() {
    let app = spawn_app().await;
    let (status, _) = app
        .put_json(
            "/spacecraft/SC-N/config",
            &json!({"parameters": {"temp": {"warnHigh": 45}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = post_ndjson(&app, lines()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body, json!({"count": 3}));
    let first = stored(&app).await;
    assert_eq!(first.len(), 3);
    let (_, anomalies) = app.get_json("/spacecraft/SC-N/anomalies").await;
    let (_, events) = app.get_json("/events?limit=100").await;

    let (status, body) = post_ndjson(&app, lines()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body, json!({"count": 3}));
    assert_eq!(stored(&app).await, first, "no snapshot stored twice");
    assert_eq!(
        app.get_json("/spacecraft/SC-N/anomalies").await.1,
        anomalies,
        "no anomaly stored twice"
    );
    assert_eq!(
        app.get_json("/events?limit=100").await.1,
        events,
        "no event raised twice"
    );
}

#[tokio::test]
async fn an_id_less_line_gets_the_id_derived_from_its_content_and_a_given_id_is_kept() {
    let app = spawn_app().await;
    let body = concat!(
        r#"{"spacecraftId":"SC-N","timestamp":"2025-01-01T02:00:00+02:00","parameters":{"temp":15.0}}"#,
        "\n",
        r#"{"id":"mine","spacecraftId":"SC-N","timestamp":"2025-01-01T00:01:00Z","parameters":{"temp":16}}"#,
        "\n",
    );
    let (status, _) = post_ndjson(&app, body.to_owned()).await;
    assert_eq!(status, StatusCode::CREATED);
    let derived = SnapshotId::derived(
        &SpacecraftId::parse("SC-N").expect("id"),
        Timestamp::parse("2025-01-01T00:00:00Z").expect("ts"),
        &Parameters::from_json(&json!({"temp": 15})).expect("parameters"),
    );
    let ids: Vec<Value> = stored(&app).await.iter().map(|s| s["id"].clone()).collect();
    assert_eq!(ids, [json!("mine"), json!(derived.as_str())]);
}

#[tokio::test]
async fn ndjson_is_read_only_when_sent_as_ndjson_or_json_and_never_as_text_plain() {
    let app = spawn_app().await;
    let send = |content_type: Option<&'static str>| {
        let mut request = app.client.post(app.url("/telemetry/ndjson")).body(lines());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        async move {
            let response = request.send().await.expect("post");
            let status = response.status();
            (status, response.json::<Value>().await.expect("json body"))
        }
    };
    // What a web page can send from any origin without a CORS preflight is refused, and
    // nothing of it is stored.
    for refused in [
        Some("text/plain"),
        Some("text/plain; charset=utf-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonl"),
        None,
    ] {
        let (status, body) = send(refused).await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{refused:?}: {body}"
        );
        assert_eq!(body["error"], "UnsupportedMediaType");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("application/x-ndjson")),
            "{body}"
        );
    }
    assert!(stored(&app).await.is_empty());
    for accepted in [
        "application/x-ndjson",
        "application/x-ndjson; charset=utf-8",
        "application/json",
    ] {
        let (status, body) = send(Some(accepted)).await;
        assert_eq!(status, StatusCode::CREATED, "{accepted}: {body}");
    }
    assert_eq!(stored(&app).await.len(), 3);
}
