//! Packet telemetry routes (SPEC §11): the definition (PUT/GET), packets in (reject and skip),
//! and the packet counters of `/metrics`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error_shape, spawn_app};

const DEFINITION: &str = include_str!("../../../fixtures/packets/housekeeping.xml");
/// 2025-06-01T12:00:00Z in UNIX seconds.
const START_SECS: u32 = 1_748_779_200;

/// A Space Packet of `apid` and `seq` around `data`, written byte by byte.
fn packet(apid: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let length = u16::try_from(data.len() - 1).expect("length");
    let mut bytes = vec![
        (apid >> 8) as u8 & 0x07,
        apid as u8,
        0xC0 | ((seq >> 8) as u8 & 0x3F),
        seq as u8,
    ];
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// A housekeeping packet (APID 100): time, `temp` in 0.1 °C, `volt` in mV.
fn hk(seq: u16, seconds: u32, temp_tenths: i16, millivolts: u16) -> Vec<u8> {
    let mut data = (START_SECS + seconds).to_be_bytes().to_vec();
    data.extend_from_slice(&temp_tenths.to_be_bytes());
    data.extend_from_slice(&millivolts.to_be_bytes());
    packet(100, seq, &data)
}

async fn put_definition(
    app: &TestApp,
    id: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, Value) {
    let response = app
        .client
        .put(app.url(&format!("/spacecraft/{id}/packet-definition")))
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

async fn post_packets(app: &TestApp, id: &str, query: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url(&format!("/spacecraft/{id}/packets{query}")))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

async fn stored(app: &TestApp, id: &str) -> usize {
    let (status, body) = app
        .get_json(&format!("/telemetry?spacecraftId={id}&limit=100"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("array").len()
}

async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    text.lines()
        .find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_definition_is_put_versioned_and_read_back_as_xml() {
    let app = spawn_app().await;
    let (status, body) = put_definition(&app, "PKT-1", "application/xml", DEFINITION).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["spacecraftId"], json!("PKT-1"));
    assert_eq!(body["version"], json!(1));
    assert_eq!(body["parameters"], json!(["time", "temp", "volt"]));
    let (status, body) = put_definition(&app, "PKT-1", "text/xml; charset=utf-8", DEFINITION).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], json!(2));
    let response = app.get("/spacecraft/PKT-1/packet-definition").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["x-packet-definition-version"]
            .to_str()
            .expect("header"),
        "2"
    );
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("header")
            .starts_with("application/xml")
    );
    assert_eq!(response.text().await.expect("text"), DEFINITION);
    let (status, body) = app.get_json("/spacecraft/NOPE/packet-definition").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn a_bad_definition_is_a_400_naming_element_and_line() {
    let app = spawn_app().await;
    let bad = DEFINITION.replace("<ParameterSet>", "<ParameterSet>\n<Bogus/>");
    let (status, body) = put_definition(&app, "PKT-1", "application/xml", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = assert_error_shape(&body);
    assert!(
        message.contains("Bogus") && message.contains("line 26"),
        "{message}"
    );
    let (status, body) = put_definition(&app, "PKT-1", "application/json", DEFINITION).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
}

#[tokio::test]
async fn packets_are_ingested_and_a_repost_is_stored_once() {
    let app = spawn_app().await;
    put_definition(&app, "PKT-1", "application/xml", DEFINITION).await;
    let mut body = hk(1, 1, 200, 28_000);
    body.extend(hk(2, 2, 210, 28_100));
    let (status, answer) = post_packets(&app, "PKT-1", "", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!({"packets": 2, "snapshots": 2, "unknownApid": 0, "malformed": 0})
    );
    let (status, answer) = post_packets(&app, "PKT-1", "?stored=true", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(stored(&app, "PKT-1").await, 2);
    // Not sent as octet-stream: 415.
    let response = app
        .client
        .post(app.url("/spacecraft/PKT-1/packets"))
        .header("content-type", "application/json")
        .body(hk(3, 3, 200, 28_000))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn a_bad_packet_is_a_400_naming_its_offset_and_nothing_is_stored() {
    let app = spawn_app().await;
    put_definition(&app, "PKT-1", "application/xml", DEFINITION).await;
    let mut body = hk(1, 1, 200, 28_000);
    let offset = body.len();
    body.extend(&hk(2, 2, 200, 28_000)[..8]); // truncated: its length field says more
    let (status, answer) = post_packets(&app, "PKT-1", "", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let message = assert_error_shape(&answer);
    assert!(
        message.contains(&format!("byte offset {offset}")),
        "{message}"
    );
    assert_eq!(stored(&app, "PKT-1").await, 0);
    let (status, answer) = post_packets(&app, "PKT-1", "?onError=later", vec![0]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        assert_error_shape(&answer).contains("reject or skip"),
        "{answer}"
    );
}

#[tokio::test]
async fn skip_counts_bad_and_unknown_packets_and_the_metrics_move() {
    let app = spawn_app().await;
    put_definition(&app, "PKT-1", "application/xml", DEFINITION).await;
    let mut body = hk(1, 1, 200, 28_000);
    body.extend(packet(200, 1, &[1, 2, 3]));
    body.extend(packet(100, 2, &[1, 2]));
    body.extend(hk(3, 3, 200, 28_000));
    let (status, answer) = post_packets(&app, "PKT-1", "?onError=skip", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!({"packets": 4, "snapshots": 2, "unknownApid": 1, "malformed": 1})
    );
    assert_eq!(stored(&app, "PKT-1").await, 2);
    assert_eq!(metric(&app, "missionops_packets_received_total").await, 4.0);
    assert_eq!(
        metric(&app, "missionops_packets_unknown_apid_total").await,
        1.0
    );
    assert_eq!(
        metric(&app, "missionops_packets_malformed_total").await,
        1.0
    );
}
