//! What error answers say: at most a short prefix of a bad value, sentences instead of Rust
//! type names, field paths as the client wrote them, and the error shape for a path segment
//! that is not UTF-8.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error_shape, spawn_app};

/// Sends `body` as JSON text and returns the status, the raw body length and the body.
async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: String,
) -> (StatusCode, usize, Value) {
    let response = app
        .client
        .request(method, app.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    let json: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    assert_error_shape(&json);
    (status, text.len(), json)
}

#[tokio::test]
async fn an_error_about_a_10_mib_value_is_under_1_kb_and_quotes_a_short_prefix() {
    let app = spawn_app().await;
    let huge = "4".repeat(10 * 1024 * 1024);

    // Past the size limit of a configuration: the limit is named, the value is not repeated.
    let config = format!(r#"{{"parameters":{{"temp":{{"warnHigh":"{huge}"}}}}}}"#);
    let (status, length, body) = send(
        &app,
        reqwest::Method::PUT,
        "/spacecraft/SC-1/config",
        config,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(length < 1024, "{length} bytes");

    // Under the size limit, the bad value itself is quoted, by its first 64 characters.
    let long = "4".repeat(512 * 1024);
    let config = format!(r#"{{"parameters":{{"temp":{{"warnHigh":"{long}"}}}}}}"#);
    let (status, length, body) = send(
        &app,
        reqwest::Method::PUT,
        "/spacecraft/SC-1/config",
        config,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(length < 1024, "{length} bytes");
    assert_eq!(body["details"][0]["field"], "parameters.temp.warnHigh");
    let expected = format!("must be a number, not the string \"{}\"…", "4".repeat(64));
    assert_eq!(body["details"][0]["reason"], expected.as_str());

    // serde's own messages quote values too: a 10 MiB string where a boolean belongs.
    let batch = format!(
        r#"{{"spacecraftId":"SC-1","stored":"{huge}","snapshots":[{{"timestamp":"2025-01-01T00:00:00Z","parameters":{{}}}}]}}"#
    );
    let (status, length, body) = send(&app, reqwest::Method::POST, "/telemetry/batch", batch).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(length < 1024, "{length} bytes: {body}");
    assert_eq!(body["details"][0]["field"], "stored");

    // A 10 MiB key names a field only by its prefix.
    let key = "k".repeat(10 * 1024 * 1024);
    let config = format!(r#"{{"parameters":{{"{key}":{{"warnHigh":1}}}}}}"#);
    let (status, length, body) = send(
        &app,
        reqwest::Method::PUT,
        "/spacecraft/SC-1/config",
        config,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(length < 1024, "{length} bytes");
}

#[tokio::test]
async fn messages_are_sentences_without_rust_type_names() {
    let app = spawn_app().await;
    let (status, _, body) = send(
        &app,
        reqwest::Method::POST,
        "/alarms/a1/acknowledge",
        r#""flight""#.to_owned(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["message"],
        r#"body: must be an object (got the string "flight")"#
    );
    let (status, _, body) = send(
        &app,
        reqwest::Method::POST,
        "/spacecraft",
        "true".to_owned(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["message"], "body: must be an object (got true)");
    let (status, _, body) = send(
        &app,
        reqwest::Method::POST,
        "/alarms/a1/acknowledge",
        r#"{"by":"flight","mood":"calm"}"#.to_owned(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["message"],
        "mood: is not a known field (known: by or comment)"
    );
    let (status, _, body) = send(
        &app,
        reqwest::Method::POST,
        "/telemetry/batch",
        r#"{"spacecraftId":"SC-1","snapshots":{"a":1}}"#.to_owned(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["message"],
        "snapshots: must be an array (got an object)"
    );
}

#[tokio::test]
async fn an_element_of_a_list_is_named_by_its_index_alone() {
    let app = spawn_app().await;
    let (status, _, body) = send(
        &app,
        reqwest::Method::POST,
        "/docs",
        json!({"title": "t", "body": "b", "tags": ["ok", ""]}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"][0]["field"], "tags[1]");
    assert_eq!(body["message"], "tags[1]: must not be empty");
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_answers_400_in_the_error_shape() {
    let app = spawn_app().await;
    for path in [
        "/spacecraft/%FF",
        "/spacecraft/%C3%28/config",
        "/docs/%FE%FF",
        "/alarms/%80/acknowledge",
    ] {
        let request = if path.ends_with("acknowledge") {
            app.client
                .post(app.url(path))
                .header("content-type", "application/json")
                .body(r#"{"by":"flight"}"#)
        } else {
            app.client.get(app.url(path))
        };
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {content_type}"
        );
        let body: Value = response.json().await.expect("json");
        let message = assert_error_shape(&body);
        assert_eq!(body["error"], "InvalidInput", "{path}");
        assert_eq!(body["details"][0]["field"], "id", "{path}");
        assert!(message.contains("UTF-8"), "{path}: {message}");
    }
}
