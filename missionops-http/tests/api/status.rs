//! `GET /spacecraft/:id/status`: the compat status, including that of a spacecraft nobody
//! registered.

use missionops_core::Clock;
use missionops_store::SystemClock;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_spacecraft_nobody_registered_answers_the_nominal_status() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/spacecraft/SC-NEVER/status").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "spacecraftId": "SC-NEVER",
            "lastTelemetryTimestamp": null,
            "anomalies": {"last1h": 0, "last6h": 0, "last24h": 0},
            "highestSeverityLast24h": "LOW",
            "overallStatus": "NOMINAL",
            "activeAlarms": 0,
        })
    );
    // Asking for the status registers nothing.
    let (status, _) = app.get_json("/spacecraft/SC-NEVER").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_status_of_a_spacecraft_with_telemetry_counts_its_anomalies() {
    let app = spawn_app().await;
    app.put_json(
        "/spacecraft/SC-S/config",
        &json!({"parameters": {"temp": {"warnHigh": 45, "critHigh": 70}}}),
    )
    .await;
    // A minute ago by the server's clock, so that it counts in the last hour.
    let now = SystemClock.now().add_millis(-60_000).to_string();
    let (status, _) = app
        .post_json(
            "/telemetry",
            &json!({"spacecraftId": "SC-S", "timestamp": now, "parameters": {"temp": 80}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app.get_json("/spacecraft/SC-S/status").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["lastTelemetryTimestamp"], json!(now));
    assert_eq!(
        body["anomalies"],
        json!({"last1h": 1, "last6h": 1, "last24h": 1})
    );
    assert_eq!(body["highestSeverityLast24h"], "HIGH");
    assert_eq!(body["overallStatus"], "CRITICAL");
}
