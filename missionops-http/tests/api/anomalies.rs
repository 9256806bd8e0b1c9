//! Anomalies over HTTP with the events and procedures around them: the compat event, document
//! and anomaly routes, detection that stores nothing twice, the timeline.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{next_page, spawn_app};

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

#[tokio::test]
async fn the_timeline_pages_by_limit_and_follows_its_next_links_to_the_whole_window() {
    let app = spawn_app().await;
    app.put_json(
        "/spacecraft/SC-1/config",
        &json!({"parameters": {"temp": {"warnHigh": 45}}}),
    )
    .await;
    // Seven violations, each an anomaly of the live monitor.
    let snapshots: Vec<_> = (0..7)
        .map(|i| {
            json!({"id": format!("s{i}"), "spacecraftId": "SC-1",
                "timestamp": format!("2025-01-01T00:00:0{i}Z"), "parameters": {"temp": 50 + i}})
        })
        .collect();
    let (status, _) = app
        .post_json(
            "/telemetry/batch",
            &json!({"spacecraftId": "SC-1", "snapshots": snapshots}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let window = "spacecraftId=SC-1&from=2025-01-01T00:00:00Z&to=2025-01-01T01:00:00Z";
    let (_, whole) = app.get_json(&format!("/anomalies/timeline?{window}")).await;
    let whole = whole.as_array().expect("array").clone();
    assert_eq!(whole.len(), 7);

    let mut paged = Vec::new();
    let mut next = Some(format!("/anomalies/timeline?{window}&limit=3"));
    let mut pages = 0;
    while let Some(path) = next.take() {
        let response = app.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        next = next_page(&response);
        let page: serde_json::Value = response.json().await.expect("json");
        let page = page.as_array().expect("array");
        assert!(page.len() <= 3, "{page:?}");
        paged.extend(page.iter().cloned());
        pages += 1;
        assert!(pages <= 4, "the next links must end");
    }
    assert_eq!(
        paged, whole,
        "the pages, in order, are the whole window once"
    );
    assert!(pages >= 3);

    for bad in ["limit=0", "limit=10001", "cursor=abc", "cursor=1_x"] {
        let (status, body) = app
            .get_json(&format!("/anomalies/timeline?{window}&{bad}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}
