//! Every compat route, the SPEC §5 curl examples, and the whole compat fixture over HTTP.

use std::path::PathBuf;

use missionops_core::json::to_vec_js;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::helpers::{assert_error_shape, spawn_app};

#[tokio::test]
async fn the_spec_curl_examples_work_as_written() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/telemetry"))
        .header("content-type", "application/json")
        .body(r#"{"spacecraftId":"SC-001","timestamp":"2025-01-01T00:00:00Z","parameters":{"temp":42,"mode":"CRUISE"}}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    assert!(body["id"].is_string(), "{body}");

    let (status, anomalies) = app
        .get_json("/telemetry/analyze?spacecraftId=SC-001&limit=5")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(anomalies, json!([]), "no config yet: nothing flagged");

    let (status, body) = app.get_json("/spacecraft/SC-001/config").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error_shape(&body);

    let response = app
        .client
        .put(app.url("/spacecraft/SC-001/config"))
        .header("content-type", "application/json")
        .body(r#"{"parameters":{"temp":{"warnHigh":45,"critHigh":70}}}"#)
        .send()
        .await
        .expect("put");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["spacecraftId"], "SC-001");
    assert_eq!(
        body["config"],
        json!({"parameters": {"temp": {"warnHigh": 45, "critHigh": 70}}})
    );
    assert_eq!(body["status"], "approved");
    assert_eq!(body["source"], "manual");

    let (status, snapshots) = app.get_json("/telemetry?spacecraftId=SC-001&limit=5").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        snapshots[0]["parameters"],
        json!({"temp": 42, "mode": "CRUISE"})
    );
    assert_eq!(snapshots[0]["timestamp"], "2025-01-01T00:00:00.000Z");
}

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/compat")
        .join(name);
    std::fs::read_to_string(path).expect("fixture")
}

#[tokio::test]
async fn the_compat_fixture_posted_over_http_analyses_back_byte_for_byte() {
    let app = spawn_app().await;
    let configs: Map<String, Value> =
        serde_json::from_str(&fixture("configs.json")).expect("configs");
    for (id, config) in &configs {
        let (status, body) = app
            .put_json(&format!("/spacecraft/{id}/config"), config)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let lines: Vec<Value> = fixture("snapshots.ndjson")
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    let mut by_spacecraft: Vec<(String, Vec<Value>)> = Vec::new();
    for line in lines {
        let id = line["spacecraftId"].as_str().expect("id").to_owned();
        match by_spacecraft.iter_mut().find(|(k, _)| *k == id) {
            Some((_, list)) => list.push(line),
            None => by_spacecraft.push((id, vec![line])),
        }
    }
    for (id, snapshots) in &by_spacecraft {
        for chunk in snapshots.chunks(50) {
            let (status, body) = app
                .post_json(
                    "/telemetry/batch",
                    &json!({"spacecraftId": id, "snapshots": chunk}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            assert_eq!(body, json!({"count": chunk.len()}));
        }
    }
    let expected: Map<String, Value> =
        serde_json::from_str(&fixture("expected.json")).expect("expected");
    for (id, results) in &expected {
        let (_, snapshots) = by_spacecraft
            .iter()
            .find(|(k, _)| k == id)
            .expect("spacecraft");
        let from = snapshots[0]["timestamp"].as_str().expect("ts");
        let to = snapshots[snapshots.len() - 1]["timestamp"]
            .as_str()
            .expect("ts");
        let range = app
            .get(&format!(
                "/telemetry/analyze?spacecraftId={id}&from={from}&to={to}&limit=100"
            ))
            .await;
        assert_eq!(range.status(), StatusCode::OK);
        let bytes = range.bytes().await.expect("body");
        assert!(
            bytes.as_ref() == to_vec_js(&results["range"]).expect("render").as_slice(),
            "range of {id} differs"
        );
        let recent = app
            .get(&format!("/telemetry/analyze?spacecraftId={id}&limit=20"))
            .await;
        let bytes = recent.bytes().await.expect("body");
        assert!(
            bytes.as_ref() == to_vec_js(&results["recent20"]).expect("render").as_slice(),
            "recent20 of {id} differs"
        );
    }
}

#[tokio::test]
async fn batches_default_each_snapshot_to_the_outer_spacecraft() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(
            "/telemetry/batch",
            &json!({"spacecraftId": "A", "snapshots": [
                {"timestamp": "2025-01-01T00:00:00Z", "parameters": {"t": 1}},
                {"spacecraftId": "B", "timestamp": "2025-01-01T00:00:00Z", "parameters": {"t": 2}},
            ]}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::CREATED, json!({"count": 2})));
    let (_, a) = app.get_json("/telemetry?spacecraftId=A").await;
    let (_, b) = app.get_json("/telemetry?spacecraftId=B").await;
    assert_eq!(
        (a.as_array().map(Vec::len), b.as_array().map(Vec::len)),
        (Some(1), Some(1))
    );
    let (status, body) = app
        .post_json(
            "/telemetry/batch",
            &json!({"spacecraftId": "A", "snapshots": []}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::CREATED, json!({"count": 0})));
}

#[tokio::test]
async fn telemetry_is_listed_newest_first_with_the_limit() {
    let app = spawn_app().await;
    for second in 0..25 {
        let (status, _) = app
            .post_json("/telemetry", &json!({"id": format!("s{second}"), "spacecraftId": "SC-1",
                "timestamp": format!("2025-01-01T00:00:{second:02}Z"), "parameters": {"v": second}}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, list) = app.get_json("/telemetry?spacecraftId=SC-1").await;
    let ids: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ids.len(), 20, "default limit is 20");
    assert_eq!(ids[0], "s24");
    let (_, list) = app.get_json("/telemetry?spacecraftId=SC-1&limit=3").await;
    assert_eq!(list.as_array().map(Vec::len), Some(3));
    // The same id and content again is accepted; different content is a conflict.
    let same = json!({"id": "s0", "spacecraftId": "SC-1", "timestamp": "2025-01-01T00:00:00Z", "parameters": {"v": 0}});
    assert_eq!(
        app.post_json("/telemetry", &same).await.0,
        StatusCode::CREATED
    );
    let different = json!({"id": "s0", "spacecraftId": "SC-1", "timestamp": "2025-01-01T00:00:00Z", "parameters": {"v": 9}});
    let (status, body) = app.post_json("/telemetry", &different).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "Conflict");
}

#[tokio::test]
async fn spacecraft_listing_status_and_config_follow_the_compat_shapes() {
    let app = spawn_app().await;
    app.put_json(
        "/spacecraft/SC-1/config",
        &json!({"parameters": {"temp": {"warnHigh": 45}}}),
    )
    .await;
    app.post_json("/telemetry", &json!({"spacecraftId": "SC-2", "timestamp": "2025-01-01T00:00:00Z", "parameters": {"temp": 1}})).await;
    let (status, listing) = app.get_json("/spacecraft?limit=1&offset=0").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            listing["total"].clone(),
            listing["count"].clone(),
            listing["limit"].clone(),
            listing["offset"].clone()
        ),
        (json!(2), json!(1), json!(1), json!(0))
    );
    let item = &listing["items"][0];
    for field in [
        "spacecraftId",
        "config",
        "status",
        "source",
        "createdAt",
        "updatedAt",
        "name",
        "missionType",
    ] {
        assert!(item.get(field).is_some(), "{field} missing in {item}");
    }
    // Clamped, not rejected.
    let (status, listing) = app.get_json("/spacecraft?limit=1000&offset=-4").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (listing["limit"].clone(), listing["offset"].clone()),
        (json!(100), json!(0))
    );
    let (status, listing) = app.get_json("/spacecraft?limit=0&offset=abc").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listing["limit"], json!(1));

    let (status, body) = app.get_json("/spacecraft/SC-2/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["lastTelemetryTimestamp"], "2025-01-01T00:00:00.000Z");
    assert_eq!(body["highestSeverityLast24h"], "LOW");
    assert_eq!(body["overallStatus"], "NOMINAL");
    assert_eq!(
        body["anomalies"],
        json!({"last1h": 0, "last6h": 0, "last24h": 0})
    );
    let (status, body) = app.get_json("/spacecraft/SC-1/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["lastTelemetryTimestamp"], Value::Null);
    // A spacecraft nobody registered answers the compat nominal status (see status.rs).
    let (status, body) = app.get_json("/spacecraft/NOPE/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["overallStatus"], "NOMINAL");

    let (status, body) = app
        .put_json(
            "/spacecraft/SC-1/config",
            &json!({"parameters": {"temp": {"warnHigh": "hot"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        assert_error_shape(&body).starts_with("parameters.temp.warnHigh: must be a number"),
        "{body}"
    );
    let (_, body) = app.get_json("/spacecraft/SC-1/config").await;
    assert_eq!(
        body["config"]["parameters"]["temp"]["warnHigh"], 45,
        "a rejected config changes nothing"
    );
}

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
