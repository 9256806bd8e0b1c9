//! Operational documents over HTTP: read, updated, listed and linked to anomalies.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn documents_are_read_updated_listed_and_linked_to_anomalies() {
    let app = spawn_app().await;
    let (_, created) = app
        .post_json("/docs", &json!({"spacecraftId": "SC-1", "title": "Battery recovery", "body": "steps", "tags": ["battery_soc"], "category": "procedure"}))
        .await;
    let id = created["documentId"].as_str().expect("id").to_owned();
    app.post_json(
        "/docs",
        &json!({"title": "Mission note", "body": "n", "category": "mission_note"}),
    )
    .await;
    let (status, doc) = app.get_json(&format!("/docs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (doc["version"].clone(), doc["category"].clone()),
        (json!(1), json!("procedure"))
    );
    let (status, updated) = app
        .put_json(&format!("/docs/{id}"), &json!({"spacecraftId": "SC-1", "title": "Battery recovery v2", "body": "better steps", "tags": ["battery_soc"], "category": "procedure"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["version"], 2);
    let (_, events) = app.get_json("/events?limit=1").await;
    assert_eq!(events[0]["type"], "DOCUMENT_UPDATED");
    let (_, procedures) = app.get_json("/docs?category=procedure").await;
    assert_eq!(procedures.as_array().map(Vec::len), Some(1));
    let (_, tagged) = app
        .get_json("/docs?tag=battery_soc&spacecraftId=SC-1")
        .await;
    assert_eq!(tagged[0]["id"], json!(id));
    let (_, all) = app.get_json("/docs?limit=1&offset=1").await;
    assert_eq!(all[0]["id"], json!(id), "newest first, then paged");

    app.put_json(
        "/spacecraft/SC-1/config",
        &json!({"parameters": {"battery_soc": {"warnLow": 25}}}),
    )
    .await;
    app.post_json("/telemetry", &json!({"id": "s1", "spacecraftId": "SC-1", "timestamp": "2025-01-01T00:00:00Z", "parameters": {"battery_soc": 20}})).await;
    app.post_json(
        "/spacecraft/SC-1/detect",
        &json!({"from": "2025-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}),
    )
    .await;
    let (status, procedures) = app
        .get_json("/anomalies/s1:battery_soc:WARN_LOW/procedures")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(procedures[0]["id"], json!(id));
}
