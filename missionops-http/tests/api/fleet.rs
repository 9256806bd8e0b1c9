//! The fleet over HTTP: `/fleet/status` with the alarms, readiness and metrics it is read with.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn fleet_status_alarms_health_readiness_and_metrics() {
    let app = spawn_app().await;
    app.post_json("/telemetry", &json!({"spacecraftId": "SC-1", "timestamp": "2025-01-01T00:00:00Z", "parameters": {"t": 1}})).await;
    let (status, fleet) = app.get_json("/fleet/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fleet[0]["spacecraftId"], "SC-1");
    assert_eq!(fleet[0]["name"], "SC-1");
    assert_eq!(fleet[0]["activeAlarms"], 0);
    assert_eq!(fleet[0]["overallStatus"], "NOMINAL");
    // The console's marks: present on every line, off for a spacecraft that is talking.
    assert_eq!(
        (&fleet[0]["stale"], &fleet[0]["contactLostAt"]),
        (&json!(false), &json!(null))
    );
    let (status, alarms) = app.get_json("/alarms?spacecraftId=SC-1&state=ACTIVE").await;
    assert_eq!((status, alarms), (StatusCode::OK, json!([])));
    assert_eq!(
        app.get_json("/readyz").await,
        (StatusCode::OK, json!({"status": "ready"}))
    );
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("missionops_http_requests_total"),
        "{metrics}"
    );
    assert!(metrics.contains("route=\"/telemetry\""), "{metrics}");
    assert!(
        metrics.contains("missionops_telemetry_snapshots_ingested_total 1"),
        "{metrics}"
    );
}
