//! Alarms over HTTP: the operator's whole loop against the real server — limits with
//! persistence and a deadband, a noisy excursion, one alarm, acknowledge, clear, events in
//! order — plus shelving, played-back telemetry, limit sets, staleness and bad requests.

use std::time::Duration;

use missionops_http::HttpConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error_shape, next_page, spawn_app, spawn_app_with};

fn at(second: i64) -> String {
    format!("2025-06-01T00:{:02}:{:02}Z", second / 60, second % 60)
}

async fn configure(app: &TestApp, spacecraft: &str, parameters: Value) {
    let (status, body) = app
        .put_json(
            &format!("/spacecraft/{spacecraft}/config"),
            &json!({ "parameters": parameters }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Posts one batch of samples of `spacecraft`, one a second from `first`.
async fn samples(app: &TestApp, spacecraft: &str, first: i64, values: &[Value], stored: bool) {
    let snapshots: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(i, parameters)| json!({"timestamp": at(first + i as i64), "parameters": parameters}))
        .collect();
    let (status, body) = app
        .post_json(
            "/telemetry/batch",
            &json!({"spacecraftId": spacecraft, "snapshots": snapshots, "stored": stored}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn alarms(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app.get_json(&format!("/alarms?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("array").clone()
}

/// The types of `spacecraft`'s events, oldest first.
async fn event_types(app: &TestApp, spacecraft: &str) -> Vec<String> {
    let (status, body) = app
        .get_json(&format!("/events?spacecraftId={spacecraft}&limit=100"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut types: Vec<String> = body
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    types.reverse();
    types
}

#[tokio::test]
async fn an_operator_sees_one_alarm_acknowledges_it_and_watches_it_clear() {
    let app = spawn_app().await;
    configure(
        &app,
        "SC-A",
        json!({"temp": {"warnHigh": 45, "persistence": 3, "deadband": 2}}),
    )
    .await;
    // A noisy excursion around the limit.
    let noisy: Vec<Value> = [46.0, 47.0, 46.5, 44.5, 46.0, 45.5]
        .iter()
        .map(|t| json!({ "temp": t }))
        .collect();
    samples(&app, "SC-A", 1, &noisy, false).await;
    let open = alarms(&app, "spacecraftId=SC-A").await;
    assert_eq!(open.len(), 1, "exactly one alarm: {open:?}");
    let alarm = &open[0];
    assert_eq!(alarm["state"], "ACTIVE");
    assert_eq!(alarm["kind"], "WARN_HIGH");
    assert_eq!(alarm["severity"], "MEDIUM");
    assert_eq!(alarm["violationCount"], 3);
    assert_eq!(alarm["openedAt"], "2025-06-01T00:00:03.000Z");
    assert_eq!(alarm["lastValue"], 45.5);
    for field in [
        "clearedAt",
        "acknowledgedBy",
        "acknowledgedAt",
        "comment",
        "shelvedUntil",
    ] {
        assert!(alarm[field].is_null(), "{field} should be null: {alarm}");
    }
    let id = alarm["id"].as_str().expect("id").to_owned();

    let (status, acked) = app
        .post_json(
            &format!("/alarms/{id}/acknowledge"),
            &json!({"by": "flight", "comment": "heater cycling, watching"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{acked}");
    assert_eq!(acked["state"], "ACKNOWLEDGED");
    assert_eq!(acked["acknowledgedBy"], "flight");
    assert_eq!(acked["comment"], "heater cycling, watching");
    let (_, status_body) = app.get_json("/spacecraft/SC-A/status").await;
    assert_eq!(status_body["activeAlarms"], 1);

    // The value returns: 43.5 is still inside the deadband, 42 is not.
    samples(
        &app,
        "SC-A",
        7,
        &[json!({"temp": 43.5}), json!({"temp": 42})],
        false,
    )
    .await;
    assert!(
        alarms(&app, "spacecraftId=SC-A").await.is_empty(),
        "done alarms leave the open list"
    );
    let history = alarms(&app, "spacecraftId=SC-A&state=ALL").await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["state"], "CLEARED");
    assert_eq!(history[0]["clearedAt"], "2025-06-01T00:00:08.000Z");
    let (_, status_body) = app.get_json("/spacecraft/SC-A/status").await;
    assert_eq!(status_body["activeAlarms"], 0);
    assert_eq!(
        status_body["anomalies"]["last24h"], 0,
        "samples from 2025 are not in the last day"
    );

    let lifecycle: Vec<String> = event_types(&app, "SC-A")
        .await
        .into_iter()
        .filter(|t| ["ANOMALY", "ALARM_ACKNOWLEDGED", "ANOMALY_CLEARED"].contains(&t.as_str()))
        .collect();
    assert_eq!(
        lifecycle,
        ["ANOMALY", "ALARM_ACKNOWLEDGED", "ANOMALY_CLEARED"]
    );
    let (_, anomalies) = app.get_json("/anomalies?spacecraftId=SC-A&limit=50").await;
    assert_eq!(
        anomalies.as_array().expect("array").len(),
        3,
        "one per alarmed sample"
    );
}

#[tokio::test]
async fn shelving_silences_an_alarm_until_unshelved() {
    let app = spawn_app().await;
    configure(
        &app,
        "SC-S",
        json!({"temp": {"warnHigh": 45, "critHigh": 70}}),
    )
    .await;
    samples(&app, "SC-S", 1, &[json!({"temp": 50})], false).await;
    let id = alarms(&app, "spacecraftId=SC-S").await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let until = "2999-01-01T00:00:00Z";
    let (status, shelved) = app
        .post_json(
            &format!("/alarms/{id}/shelve"),
            &json!({"until": until, "by": "flight", "comment": "known"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shelved}");
    assert_eq!(shelved["state"], "SHELVED");
    assert_eq!(shelved["shelvedUntil"], "2999-01-01T00:00:00.000Z");
    let before = event_types(&app, "SC-S").await.len();
    samples(&app, "SC-S", 2, &[json!({"temp": 90})], false).await;
    assert_eq!(
        event_types(&app, "SC-S").await.len(),
        before,
        "no escalation event while shelved"
    );
    let listed = alarms(&app, "spacecraftId=SC-S&state=SHELVED").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0]["severity"], "HIGH",
        "the worst severity is still kept"
    );
    let (status, back) = app
        .post_json(&format!("/alarms/{id}/unshelve"), &json!({"by": "flight"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["state"], "ACTIVE");
    assert!(back["shelvedUntil"].is_null());
}

#[tokio::test]
async fn alarm_requests_that_cannot_be_done_say_why() {
    let app = spawn_app().await;
    configure(&app, "SC-E", json!({"temp": {"warnHigh": 45}})).await;
    samples(&app, "SC-E", 1, &[json!({"temp": 50})], false).await;
    let id = alarms(&app, "spacecraftId=SC-E").await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let cases: Vec<(String, Value, StatusCode, &str)> = vec![
        (
            "/alarms/no-such-alarm/acknowledge".to_owned(),
            json!({"by": "x"}),
            StatusCode::NOT_FOUND,
            "alarm",
        ),
        (
            format!("/alarms/{id}/acknowledge"),
            json!({}),
            StatusCode::BAD_REQUEST,
            "by",
        ),
        (
            format!("/alarms/{id}/acknowledge"),
            json!({"by": ""}),
            StatusCode::BAD_REQUEST,
            "by",
        ),
        (
            format!("/alarms/{id}/acknowledge"),
            json!({"by": "x", "extra": 1}),
            StatusCode::BAD_REQUEST,
            "extra",
        ),
        (
            format!("/alarms/{id}/shelve"),
            json!({"until": "2001-01-01T00:00:00Z", "by": "x"}),
            StatusCode::BAD_REQUEST,
            "until",
        ),
        (
            format!("/alarms/{id}/shelve"),
            json!({"until": "tomorrow", "by": "x"}),
            StatusCode::BAD_REQUEST,
            "until",
        ),
        (
            format!("/alarms/{id}/unshelve"),
            json!({"by": "x"}),
            StatusCode::CONFLICT,
            "not shelved",
        ),
        (
            format!("/alarms/{id}/acknowledge"),
            json!({"by": "x", "comment": "c".repeat(2001)}),
            StatusCode::BAD_REQUEST,
            "comment",
        ),
        (
            "/alarms/%20/acknowledge".to_owned(),
            json!({"by": "x"}),
            StatusCode::BAD_REQUEST,
            "id",
        ),
    ];
    for (path, body, expected, names) in cases {
        let (status, answer) = app.post_json(&path, &body).await;
        assert_eq!(status, expected, "{path} {body}: {answer}");
        let message = assert_error_shape(&answer);
        assert!(
            message.contains(names),
            "{path} {body}: {message:?} should name {names}"
        );
    }
    let (status, _) = app
        .post_json(&format!("/alarms/{id}/acknowledge"), &json!({"by": "x"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = app
        .post_json(&format!("/alarms/{id}/acknowledge"), &json!({"by": "y"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(assert_error_shape(&answer).contains("already acknowledged"));
    let (status, answer) = app.get_json("/alarms?state=SOMETIMES").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(assert_error_shape(&answer).contains("state"));
    // Nothing above changed the alarm beyond the one acknowledgement.
    let alarm = &alarms(&app, "spacecraftId=SC-E").await[0];
    assert_eq!(
        (alarm["state"].as_str(), alarm["acknowledgedBy"].as_str()),
        (Some("ACKNOWLEDGED"), Some("x"))
    );
}

/// Follows `first` and its `Link: rel="next"` headers to the end: the alarms of every page in
/// order, and each page's `X-Total-Count` and next link.
async fn alarm_pages(app: &TestApp, first: &str) -> (Vec<Value>, Vec<(u64, Option<String>)>) {
    let mut alarms = Vec::new();
    let mut pages = Vec::new();
    let mut next = Some(first.to_owned());
    while let Some(path) = next.take() {
        let response = app.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let total = response
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .expect("a page says how many alarms pass its filter");
        next = next_page(&response);
        pages.push((total, next.clone()));
        let page: Value = response.json().await.expect("json");
        alarms.extend(page.as_array().expect("array").iter().cloned());
        assert!(pages.len() <= 10, "the next links must end");
    }
    (alarms, pages)
}

#[tokio::test]
async fn alarms_are_listed_by_pages_that_keep_their_filter() {
    let app = spawn_app().await;
    // Seven spacecraft over their limit, one alarm each, opened ten seconds apart; three come
    // back and are acknowledged (cleared).
    for n in 0..7 {
        let spacecraft = format!("SC-P{n}");
        configure(&app, &spacecraft, json!({"temp": {"warnHigh": 45}})).await;
        let mut values = vec![json!({"temp": 50})];
        if n % 3 == 0 {
            values.push(json!({"temp": 20}));
        }
        samples(&app, &spacecraft, n * 10, &values, false).await;
    }
    for alarm in alarms(&app, "").await {
        if alarm["clearedAt"].is_string() {
            let id = alarm["id"].as_str().expect("id");
            let (status, body) = app
                .post_json(
                    &format!("/alarms/{id}/acknowledge"),
                    &json!({"by": "flight"}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    let open = alarms(&app, "").await;
    assert_eq!(open.len(), 4, "{open:?}");
    for (query, pages_of_two, expected) in [
        ("", 2, 4),
        ("state=ALL", 4, 7),
        ("state=CLEARED", 2, 3),
        ("spacecraftId=SC-P1", 1, 1),
        ("spacecraftId=SC-P1&state=CLEARED", 1, 0),
    ] {
        let whole = alarms(&app, query).await;
        assert_eq!(whole.len(), expected, "{query}");
        let (paged, pages) = alarm_pages(&app, &format!("/alarms?{query}&limit=2")).await;
        assert_eq!(
            paged, whole,
            "{query}: the pages, in order, are the list once"
        );
        assert_eq!(pages.len(), pages_of_two, "{query}");
        for (n, (total, next)) in pages.iter().enumerate() {
            assert_eq!(*total, expected as u64, "{query}");
            assert_eq!(next.is_none(), n + 1 == pages.len(), "{query}");
            if let Some(next) = next {
                // The next page keeps the filter and the size.
                for part in query.split('&').filter(|p| !p.is_empty()) {
                    assert!(next.contains(part), "{next} lost {part}");
                }
                assert!(next.contains("limit=2"), "{next}");
            }
        }
    }
    // A cursor alone pages by 100.
    let (status, _) = app.get_json("/alarms?state=ALL&limit=3").await;
    assert_eq!(status, StatusCode::OK);
    let (_, pages) = alarm_pages(&app, "/alarms?state=ALL&limit=3").await;
    let cursor = pages[0]
        .1
        .as_deref()
        .and_then(|l| l.split("cursor=").nth(1))
        .expect("cursor");
    let (status, rest) = app
        .get_json(&format!("/alarms?state=ALL&cursor={cursor}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    assert_eq!(rest.as_array().map(Vec::len), Some(4));

    // Clients learn the paging from the API's description.
    let (_, doc) = app.get_json("/openapi.json").await;
    let alarms_get = &doc["paths"]["/alarms"]["get"];
    let parameters: Vec<&str> = alarms_get["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        parameters.contains(&"limit") && parameters.contains(&"cursor"),
        "{parameters:?}"
    );
    let headers = &alarms_get["responses"]["200"]["headers"];
    assert!(
        headers["X-Total-Count"].is_object() && headers["Link"].is_object(),
        "{headers}"
    );

    for (bad, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("cursor=abc", "cursor"),
        ("cursor=1_a%20b", "cursor"),
        ("cursor=99999999999999999_x", "cursor"),
    ] {
        let (status, body) = app.get_json(&format!("/alarms?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(assert_error_shape(&body).contains(field), "{bad}: {body}");
    }
}

#[tokio::test]
async fn played_back_telemetry_records_anomalies_without_alarms_or_events() {
    let app = spawn_app().await;
    configure(&app, "SC-P", json!({"temp": {"warnHigh": 45}})).await;
    let before = event_types(&app, "SC-P").await.len();
    samples(
        &app,
        "SC-P",
        1,
        &[json!({"temp": 50}), json!({"temp": 60})],
        true,
    )
    .await;
    let ndjson = format!(
        "{{\"spacecraftId\":\"SC-P\",\"timestamp\":\"{}\",\"parameters\":{{\"temp\":70}}}}\n",
        at(3)
    );
    let response = app
        .client
        .post(app.url("/telemetry/ndjson?stored=true"))
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .expect("ndjson");
    assert_eq!(response.status(), StatusCode::CREATED);
    let (_, anomalies) = app.get_json("/anomalies?spacecraftId=SC-P&limit=50").await;
    assert_eq!(anomalies.as_array().expect("array").len(), 3);
    assert!(alarms(&app, "spacecraftId=SC-P&state=ALL").await.is_empty());
    assert_eq!(
        event_types(&app, "SC-P").await.len(),
        before,
        "a replayed pass pages nobody"
    );
}

#[tokio::test]
async fn switching_imaging_mode_switches_the_limits_from_the_next_sample() {
    let app = spawn_app().await;
    configure(
        &app,
        "SC-L",
        json!({"ccd_temp": {"warnHigh": -10, "limitSets": [{"when": {"imaging_mode": "IDLE"}, "warnHigh": 5}]}}),
    )
    .await;
    samples(
        &app,
        "SC-L",
        1,
        &[json!({"imaging_mode": "IDLE", "ccd_temp": 0})],
        false,
    )
    .await;
    assert!(alarms(&app, "spacecraftId=SC-L").await.is_empty());
    samples(
        &app,
        "SC-L",
        2,
        &[json!({"imaging_mode": "IMAGING", "ccd_temp": 0})],
        false,
    )
    .await;
    let open = alarms(&app, "spacecraftId=SC-L").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["openedAt"], "2025-06-01T00:00:02.000Z");
}

#[tokio::test]
async fn a_silent_spacecraft_goes_stale_and_loses_contact_once() {
    let app = spawn_app_with(HttpConfig {
        monitor_tick: Some(Duration::from_millis(100)),
        ..HttpConfig::default()
    })
    .await;
    configure(
        &app,
        "SC-Q",
        json!({"temp": {"staleAfterSec": 0.3}, "volt": {"staleAfterSec": 0.5}}),
    )
    .await;
    samples(&app, "SC-Q", 1, &[json!({"temp": 20, "volt": 28})], false).await;
    let mut types = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        types = event_types(&app, "SC-Q").await;
        if types.iter().any(|t| t == "CONTACT_LOST") {
            break;
        }
    }
    assert!(types.iter().any(|t| t == "CONTACT_LOST"), "{types:?}");
    // More ticks pass; contact is lost once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let types = event_types(&app, "SC-Q").await;
    assert_eq!(
        types.iter().filter(|t| *t == "CONTACT_LOST").count(),
        1,
        "{types:?}"
    );
    let stale = alarms(&app, "spacecraftId=SC-Q").await;
    assert_eq!(stale.len(), 2);
    assert!(stale.iter().all(|a| a["kind"] == "STALE"), "{stale:?}");
    let (_, anomalies) = app.get_json("/anomalies?spacecraftId=SC-Q&limit=50").await;
    let kinds: Vec<&str> = anomalies
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|a| a["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["STALE", "STALE"]);
    // The ticks are timed in /metrics, with how many monitors the last one visited (none is
    // due any more: both parameters are stale and contact is lost).
    let metrics = app.get("/metrics").await.text().await.expect("text");
    let ticks = metrics
        .lines()
        .find_map(|l| l.strip_prefix("missionops_monitor_tick_duration_seconds_count "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no tick duration in {metrics}"));
    assert!(ticks >= 5, "{ticks} ticks");
    assert!(
        metrics.contains("missionops_monitor_tick_spacecraft 0"),
        "{metrics}"
    );
}
