//! Telemetry over HTTP: the SPEC §5 curl examples, ingest (one, batch with its default
//! spacecraft, NDJSON), the newest-first listing, the compat analysis of the whole compat
//! fixture byte for byte, latest values and series.

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::helpers::{assert_error_shape, spawn_app, spawn_app_configured};

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
    // The answers, assembled as text into the shape of `expected.json` (spacecraft id →
    // `{range, recent20}`), are compared with the oracle's own text, compacted: nothing of it
    // goes through a serializer of ours, so a number we print differently from JavaScript
    // shows.
    let raw = fixture("expected.json");
    let expected: Map<String, Value> = serde_json::from_str(&raw).expect("expected");
    let mut served = String::from("{");
    for (n, id) in expected.keys().enumerate() {
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
        let range = range.text().await.expect("body");
        let recent = app
            .get(&format!("/telemetry/analyze?spacecraftId={id}&limit=20"))
            .await;
        assert_eq!(recent.status(), StatusCode::OK);
        let recent = recent.text().await.expect("body");
        if n > 0 {
            served.push(',');
        }
        served.push_str(&format!(
            r#"{}:{{"range":{range},"recent20":{recent}}}"#,
            serde_json::to_string(id).expect("key")
        ));
    }
    served.push('}');
    let expected = compact(&raw);
    if served != expected {
        let at = served
            .bytes()
            .zip(expected.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(served.len().min(expected.len()));
        let around = |text: &str| {
            let from = at.saturating_sub(150);
            text.get(from..(at + 150).min(text.len()))
                .unwrap_or("")
                .to_owned()
        };
        panic!(
            "the analysis over HTTP differs from expected.json at byte {at}:\n--- served ---\n{}\n--- expected ---\n{}",
            around(&served),
            around(&expected)
        );
    }
}

/// `text` without the whitespace between tokens (JSON's insignificant whitespace); strings,
/// numbers and every other token stay exactly as written.
fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\n' | '\r' | '\t') {
            out.push(c);
        }
    }
    out
}

#[test]
fn compacting_keeps_every_token_and_drops_only_the_whitespace_between() {
    assert_eq!(
        compact("{\n \"a b\": [\n  1e+21,\n  -0,\n  \"x \\\" y\"\n ]\n}\n"),
        r#"{"a b":[1e+21,-0,"x \" y"]}"#
    );
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

/// Single writes of a fleet sent all at once, many of them the first of a spacecraft nobody
/// registered (several at once for each): every write is answered on its own (201, or 409 for
/// the one that reuses a stored id with other content), each new spacecraft is registered
/// with exactly one `SPACECRAFT_REGISTERED` event, and each keeps all its snapshots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_fleet_writes_register_each_new_spacecraft_once() {
    let app = spawn_app().await;
    let (status, _) = app
        .post_json(
            "/telemetry",
            &json!({"id": "taken", "spacecraftId": "KNOWN-1",
                    "timestamp": "2025-01-01T00:00:00Z", "parameters": {"temp": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let fleet = 12;
    let per_spacecraft = 8;
    let mut requests = Vec::new();
    for i in 0..fleet * per_spacecraft {
        let body = json!({
            "id": format!("w-{i}"),
            "spacecraftId": format!("NEW-{}", i % fleet),
            "timestamp": format!("2025-01-01T00:00:{:02}Z", i / fleet),
            "parameters": {"temp": i},
        });
        requests.push((body, StatusCode::CREATED));
        if i == fleet * per_spacecraft / 2 {
            let clash = json!({"id": "taken", "spacecraftId": "KNOWN-1",
                               "timestamp": "2025-01-01T00:00:00Z", "parameters": {"temp": 2}});
            requests.push((clash, StatusCode::CONFLICT));
        }
    }
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(body, expected)| {
            let client = app.client.clone();
            let url = app.url("/telemetry");
            tokio::spawn(async move {
                let response = client.post(url).json(&body).send().await.expect("post");
                (body, expected, response.status())
            })
        })
        .collect();
    for task in tasks {
        let (body, expected, status) = task.await.expect("task");
        assert_eq!(status, expected, "{body}");
    }
    for n in 0..fleet {
        let (status, events) = app
            .get_json(&format!("/events?spacecraftId=NEW-{n}&limit=100"))
            .await;
        assert_eq!(status, StatusCode::OK);
        let registered: Vec<&Value> = events
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["type"] == "SPACECRAFT_REGISTERED")
            .collect();
        assert_eq!(registered.len(), 1, "NEW-{n}: {events}");
        assert_eq!(registered[0]["metadata"]["implicit"], json!(true));
        let (status, stored) = app
            .get_json(&format!("/telemetry?spacecraftId=NEW-{n}&limit=100"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(stored.as_array().map(Vec::len), Some(per_spacecraft));
    }
    let (_, known) = app
        .get_json("/telemetry?spacecraftId=KNOWN-1&limit=100")
        .await;
    assert_eq!(
        known[0]["parameters"],
        json!({"temp": 1}),
        "the clash changed nothing"
    );
}

/// A time window of more snapshots than the cap is refused with 400 naming `to` before any of
/// the answer is sent; a window at the cap is answered whole.
#[tokio::test]
async fn an_analysis_window_over_the_cap_is_a_400_naming_to() {
    let app = spawn_app_configured(|ops| ops.with_window_cap(3)).await;
    for second in 0..4 {
        let (status, body) = app
            .post_json(
                "/telemetry",
                &json!({"spacecraftId": "SC-CAP", "timestamp": format!("2025-01-01T00:00:0{second}Z"),
                        "parameters": {"temp": 50}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app
        .put_json(
            "/spacecraft/SC-CAP/config",
            &json!({"parameters": {"temp": {"warnHigh": 45}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let window = |to: &str| {
        format!("/telemetry/analyze?spacecraftId=SC-CAP&from=2025-01-01T00:00:00Z&to={to}")
    };
    let (status, body) = app.get_json(&window("2025-01-01T00:00:03Z")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = assert_error_shape(&body);
    assert_eq!(
        message,
        "to: the window holds more than 3 snapshots; narrow it"
    );
    assert_eq!(body["details"][0]["field"], "to", "{body}");
    let (status, body) = app.get_json(&window("2025-01-01T00:00:02Z")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(3), "{body}");
}
