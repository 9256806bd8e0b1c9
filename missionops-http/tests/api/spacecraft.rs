//! Spacecraft over HTTP: the compat listing, status and configuration shapes, registration,
//! and the configuration history.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error_shape, spawn_app};

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
    assert_eq!(versions_of(&history), [1, 2]);
    assert_eq!(history[0]["config"]["parameters"]["temp"]["warnHigh"], 45);
    assert!(history[0]["createdAt"].is_string());
    let (status, body) = app.get_json("/spacecraft/SC-404/config/history").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error_shape(&body);
}

#[tokio::test]
async fn oversize_metadata_and_configs_answer_400_naming_the_limit_and_store_nothing() {
    let app = spawn_app().await;
    let big = "x".repeat(10 * 1024 * 1024);
    let (status, body) = app
        .post_json(
            "/spacecraft",
            &json!({"id": "SC-BIG", "name": "Big", "metadata": {"note": big}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = assert_error_shape(&body);
    assert_eq!(body["details"][0]["field"], "metadata");
    assert!(message.contains("65536 bytes"), "{message}");
    let deep = (0..20).fold(json!(1), |inner, _| json!({ "n": inner }));
    let (status, body) = app
        .post_json(
            "/spacecraft",
            &json!({"id": "SC-DEEP", "name": "Deep", "metadata": deep}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(assert_error_shape(&body).contains("16 levels"), "{body}");

    let parameters: serde_json::Map<String, Value> = (0..200_000)
        .map(|i| (format!("p{i}"), json!({"warnHigh": 1})))
        .collect();
    let (status, body) = app
        .put_json(
            "/spacecraft/SC-CFG/config",
            &json!({ "parameters": parameters }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = assert_error_shape(&body);
    assert_eq!(body["details"][0]["field"], "parameters");
    assert!(message.contains("10000 parameters"), "{message}");
    let (status, body) = app
        .put_json(
            "/spacecraft/SC-CFG/config",
            &json!({"parameters": {}, "notes": "n".repeat(2 * 1024 * 1024)}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        assert_error_shape(&body).contains("1048576 bytes"),
        "{body}"
    );

    let (_, listing) = app.get_json("/spacecraft").await;
    assert_eq!(listing["total"], 0, "nothing was registered: {listing}");
    // Within the limits all is as before.
    let (status, body) = app
        .post_json(
            "/spacecraft",
            &json!({"id": "SC-OK", "name": "Fine", "metadata": {"note": "x".repeat(60 * 1024)}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_config_sent_with_if_match_replaces_only_the_version_it_was_made_from() {
    let app = spawn_app().await;
    let put = |edited: Option<&'static str>, warn_high: i64| {
        let mut request = app
            .client
            .put(app.url("/spacecraft/SC-IM/config"))
            .json(&json!({"parameters": {"temp": {"warnHigh": warn_high}}}));
        if let Some(edited) = edited {
            request = request.header("if-match", edited);
        }
        async move {
            let response = request.send().await.expect("request");
            let status = response.status();
            (status, response.json::<Value>().await.expect("json"))
        }
    };
    // Over no configuration yet ("0"), then over the version just saved (quoted or not).
    let (status, body) = put(Some("\"0\""), 45).await;
    assert_eq!(
        (status, &body["version"]),
        (StatusCode::OK, &json!(1)),
        "{body}"
    );
    let (status, body) = put(Some("1"), 50).await;
    assert_eq!(
        (status, &body["version"]),
        (StatusCode::OK, &json!(2)),
        "{body}"
    );

    // Made from version 1 while version 2 is the newest: refused, naming both.
    let (status, body) = put(Some("\"1\""), 99).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error_shape(&body);
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("version 2") && message.contains("version 1"),
        "{message}"
    );
    // Not a version: refused, naming the header.
    for malformed in ["latest", "\"2", "+2", "-1", "1234567890", "\"\""] {
        let (status, body) = put(Some(malformed), 99).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{malformed}: {body}");
        assert_eq!(body["details"][0]["field"], "If-Match", "{body}");
    }

    // Neither changed anything; without the header the change goes over whatever is newest.
    let (_, history) = app.get_json("/spacecraft/SC-IM/config/history").await;
    assert_eq!(versions_of(&history), [1, 2]);
    let (status, body) = put(None, 60).await;
    assert_eq!(
        (status, &body["version"]),
        (StatusCode::OK, &json!(3)),
        "{body}"
    );
}

/// The version numbers of a configuration history answer, in its order.
fn versions_of(history: &Value) -> Vec<u64> {
    history
        .as_array()
        .expect("a history")
        .iter()
        .filter_map(|v| v["version"].as_u64())
        .collect()
}
