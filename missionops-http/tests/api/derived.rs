//! Derived parameters over HTTP (SPEC §11): a bad expression is a 400 naming it; derived values
//! are stored with the snapshot and answered like raw ones, by single and NDJSON ingest alike.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error_shape, spawn_app};

#[tokio::test]
async fn a_config_with_a_bad_expression_answers_400_naming_it_and_changes_nothing() {
    let app = spawn_app().await;
    let (status, _) = app
        .put_json(
            "/spacecraft/SC-D/config",
            &json!({"parameters": {"power": {"warnHigh": 100}}, "derived": {"power": "v * i"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for (derived, message) in [
        (
            json!({"power": "v ** i"}),
            "derived.power: unexpected `*` at position 4 in the expression \"v ** i\"",
        ),
        (
            json!({"power": "foo(v)"}),
            "derived.power: unknown function `foo`",
        ),
        (
            json!({"a": "b + 1", "b": "a + 1"}),
            "derived.a: is part of a cycle of derived parameters (a → b → a)",
        ),
    ] {
        let (status, body) = app
            .put_json("/spacecraft/SC-D/config", &json!({ "derived": derived }))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let text = assert_error_shape(&body);
        assert!(text.starts_with(message), "{text}");
    }
    let (_, body) = app.get_json("/spacecraft/SC-D/config").await;
    assert_eq!(body["config"]["derived"]["power"], "v * i");
}

#[tokio::test]
async fn derived_values_are_stored_and_answered_like_raw_ones() {
    let app = spawn_app().await;
    let (status, _) = app
        .put_json(
            "/spacecraft/SC-D/config",
            &json!({"parameters": {"power": {"warnHigh": 100}}, "derived": {"power": "v * i"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post_json(
            "/telemetry",
            &json!({"spacecraftId": "SC-D", "timestamp": "2025-01-01T00:00:00Z", "parameters": {"v": 28, "i": 5}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let response = app
        .client
        .post(app.url("/telemetry/ndjson"))
        .header("content-type", "application/x-ndjson")
        .body(
            "{\"spacecraftId\":\"SC-D\",\"timestamp\":\"2025-01-01T00:01:00Z\",\"parameters\":{\"v\":28,\"i\":1}}\n",
        )
        .send()
        .await
        .expect("post");
    assert!(response.status().is_success(), "{}", response.status());
    let (status, telemetry) = app.get_json("/telemetry?spacecraftId=SC-D&limit=10").await;
    assert_eq!(status, StatusCode::OK);
    let powers: Vec<_> = telemetry
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["parameters"]["power"].clone())
        .collect();
    assert_eq!(powers, [json!(28), json!(140)], "newest first");
    let (_, latest) = app.get_json("/telemetry/latest?spacecraftId=SC-D").await;
    assert_eq!(latest["parameters"]["power"]["value"], 28);
    let (_, alarms) = app.get_json("/alarms?spacecraftId=SC-D&state=ALL").await;
    let alarms = alarms.as_array().expect("array");
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0]["parameter"], "power");
}
