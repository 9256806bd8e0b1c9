//! The routes beyond the compat set.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error_shape, spawn_app};

#[tokio::test]
async fn spacecraft_are_registered_read_and_their_config_history_kept() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json("/spacecraft", &json!({"id": "SC-7", "name": "Sat-Imager-007", "missionType": "LEO_IMAGING", "metadata": {"orbit": "SSO"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["id"], "SC-7");
    assert_eq!(body["metadata"], json!({"orbit": "SSO"}));
    let (status, fetched) = app.get_json("/spacecraft/SC-7").await;
    assert_eq!((status, fetched.clone()), (StatusCode::OK, body));
    let (status, generated) = app.post_json("/spacecraft", &json!({"name": "Anon"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(generated["missionType"], "UNSPECIFIED");
    assert_eq!(generated["id"].as_str().map(str::len), Some(36), "a UUID");

    app.put_json(
        "/spacecraft/SC-7/config",
        &json!({"parameters": {"temp": {"warnHigh": 45}}}),
    )
    .await;
    app.put_json(
        "/spacecraft/SC-7/config",
        &json!({"parameters": {"temp": {"warnHigh": 50}}}),
    )
    .await;
    let (status, history) = app.get_json("/spacecraft/SC-7/config/history").await;
    assert_eq!(status, StatusCode::OK);
    let versions: Vec<&Value> = history
        .as_array()
        .expect("array")
        .iter()
        .map(|h| &h["version"])
        .collect();
    assert_eq!(versions, [&json!(1), &json!(2)]);
    assert_eq!(history[0]["config"]["parameters"]["temp"]["warnHigh"], 45);
    assert!(history[0]["createdAt"].is_string());
    let (status, body) = app.get_json("/spacecraft/SC-404/config/history").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error_shape(&body);
}

#[tokio::test]
async fn latest_values_series_and_ndjson_ingest() {
    let app = spawn_app().await;
    app.put_json(
        "/spacecraft/SC-1/config",
        &json!({"parameters": {"temp": {"warnHigh": 45}}}),
    )
    .await;
    let ndjson: String = (0..6)
        .map(|i| {
            format!(
                "{}\n",
                json!({"spacecraftId": "SC-1", "timestamp": format!("2025-01-01T00:0{i}:30Z"), "parameters": {"temp": 40 + i * 2, "mode": "CRUISE"}})
            )
        })
        .collect();
    let response = app
        .client
        .post(app.url("/telemetry/ndjson?stored=true"))
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        json!({"count": 6})
    );

    let (status, latest) = app.get_json("/telemetry/latest?spacecraftId=SC-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        latest["parameters"]["temp"],
        json!({"value": 50, "timestamp": "2025-01-01T00:05:30.000Z", "state": "WARN_HIGH", "severity": "MEDIUM"})
    );
    assert_eq!(latest["parameters"]["mode"]["state"], "NOMINAL");

    let (status, series) = app
        .get_json("/telemetry/series?spacecraftId=SC-1&parameter=temp&from=2025-01-01T00:00:00Z&to=2025-01-01T01:00:00Z&bucket=2m")
        .await;
    assert_eq!(status, StatusCode::OK, "{series}");
    assert_eq!(
        series,
        json!([
            {"start": "2025-01-01T00:00:00.000Z", "min": 40, "max": 42, "avg": 41, "count": 2, "last": 42},
            {"start": "2025-01-01T00:02:00.000Z", "min": 44, "max": 46, "avg": 45, "count": 2, "last": 46},
            {"start": "2025-01-01T00:04:00.000Z", "min": 48, "max": 50, "avg": 49, "count": 2, "last": 50},
        ])
    );
}

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

#[tokio::test]
async fn made_up_methods_share_one_metrics_label() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    for method in ["BREW", "PROPFIND", "X-ANYTHING"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = client
            .request(method, app.url("/telemetry"))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("method=\"OTHER\",route=\"/telemetry\",status=\"405\"} 3"),
        "{metrics}"
    );
    for made_up in ["BREW", "PROPFIND", "X-ANYTHING"] {
        assert!(!metrics.contains(made_up), "{metrics}");
    }
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_keeps_acknowledged_writes() {
    let app = spawn_app().await;
    let mut pending = Vec::new();
    for i in 0..50 {
        let client = app.client.clone();
        let url = app.url("/telemetry");
        pending.push(tokio::spawn(async move {
            let body = json!({"id": format!("s{i}"), "spacecraftId": "SC-1",
                "timestamp": "2025-01-01T00:00:00Z", "parameters": {"i": i}});
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .map(|r| (i, r.status()))
        }));
    }
    // Shut down while the requests are in flight.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let store = app.store.clone();
    let _dir = app.shutdown().await;
    let mut acknowledged = Vec::new();
    for task in pending {
        if let Ok(Ok((i, StatusCode::CREATED))) = task.await {
            acknowledged.push(format!("s{i}"));
        }
    }
    let sc = missionops_core::SpacecraftId::parse("SC-1").expect("id");
    let limit = missionops_core::Limit::new(100, 100).expect("limit");
    let stored: Vec<String> = store
        .recent_telemetry(&sc, limit)
        .await
        .expect("read store")
        .into_iter()
        .map(|s| s.id.into_string())
        .collect();
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged {id} was lost");
    }
}

#[tokio::test]
async fn clients_that_give_up_mid_write_neither_jam_the_store_nor_leave_half_a_batch() {
    let app = spawn_app().await;
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(3))
        .build()
        .expect("client");
    for b in 0..30 {
        let snapshots: Vec<Value> = (0..100)
            .map(|i| json!({"id": format!("b{b}-{i}"), "timestamp": "2025-01-01T00:00:00Z", "parameters": {"i": i}}))
            .collect();
        // Most of these are abandoned by the client while the server is writing.
        let _ = impatient
            .post(app.url("/telemetry/batch"))
            .json(&json!({"spacecraftId": "SC-1", "snapshots": snapshots}))
            .send()
            .await;
    }
    // A jammed writer would hold this write until SQLite's busy timeout; a patient client
    // with a deadline well inside that must get its answer.
    let patient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client");
    let answer = patient
        .post(app.url("/telemetry"))
        .json(&json!({"spacecraftId": "SC-1", "timestamp": "2025-01-01T00:00:01Z", "parameters": {"i": -1}}))
        .send()
        .await
        .expect("a write after abandoned ones is answered");
    assert_eq!(answer.status(), StatusCode::CREATED);
    // Every abandoned batch was stored whole or not at all.
    let sc = missionops_core::SpacecraftId::parse("SC-1").expect("id");
    let from = missionops_core::Timestamp::parse("2025-01-01T00:00:00Z").expect("ts");
    let stored = app
        .store
        .telemetry_range(&sc, from, from, 10_000)
        .await
        .expect("range");
    assert_eq!(stored.len() % 100, 0, "{} snapshots stored", stored.len());
}
