//! Anomalies over HTTP with the events and procedures around them: the compat event, document
//! and anomaly routes, detection that stores nothing twice, the timeline.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn events_docs_and_anomalies_follow_the_compat_routes() {
    let app = spawn_app().await;
    app.put_json(
        "/spacecraft/SC-1/config",
        &json!({"parameters": {"temp": {"warnHigh": 45}}}),
    )
    .await;
    app.post_json("/telemetry", &json!({"id": "s1", "spacecraftId": "SC-1", "timestamp": "2025-01-01T00:00:00Z", "parameters": {"temp": 50}})).await;
    let (status, events) = app.get_json("/events?spacecraftId=SC-1&limit=10").await;
    assert_eq!(status, StatusCode::OK);
    let types: Vec<&str> = events
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    // The live monitor raised the alarm as the sample arrived (beyond the old service).
    assert_eq!(
        types,
        ["ANOMALY", "CONFIG_CHANGED", "SPACECRAFT_REGISTERED"]
    );

    let (status, body) = app
        .post_json("/docs", &json!({"spacecraftId": "SC-1", "title": "Thermal procedure", "body": "If temp rises above limits…", "tags": ["temp"], "category": "procedure"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let document_id = body["documentId"].as_str().expect("documentId").to_owned();
    let (status, found) = app.get_json("/docs/search?q=TEMP&limit=5").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found[0]["id"], json!(document_id));

    let (status, report) = app
        .post_json(
            "/spacecraft/SC-1/detect",
            &json!({"from": "2025-01-01T00:00:00Z", "to": "2025-01-01T01:00:00Z"}),
        )
        .await;
    assert_eq!(
        (status, report),
        (StatusCode::OK, json!({"detected": 1, "persisted": 0})),
        "the monitor recorded it already; detect stores nothing twice"
    );
    let (status, anomalies) = app.get_json("/anomalies?spacecraftId=SC-1&limit=200").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(anomalies[0]["id"], "s1:temp:WARN_HIGH");
    assert_eq!(anomalies[0]["kind"], "WARN_HIGH");
    assert_eq!(anomalies[0]["limit"], 45);
    let (status, timeline) = app
        .get_json("/anomalies/timeline?spacecraftId=SC-1&from=2025-01-01T00:00:00Z&to=2025-01-01T00:00:00Z")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(timeline.as_array().map(Vec::len), Some(1));
}
