//! A table of bad requests: each answers 4xx in the error shape, nothing stored changes
//! (spacecraft, configurations, telemetry, anomalies, alarms, documents, events, the outbox),
//! and the server keeps answering.

use missionops_core::{
    Alarm, AlarmFilter, AlarmStates, Anomaly, ConfigRecord, DeadLetter, DocumentFilter, Limit,
    MissionEvent, OpsDocument, OutboxStats, SpacecraftPage, TelemetrySnapshot, Timestamp,
};
use missionops_http::HttpConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error_shape, spawn_app_with};

const LIMIT: usize = 64 * 1024;

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Option<String>,
    status: StatusCode,
    /// A piece the message must contain (usually the field).
    mentions: &'static str,
}

fn case(
    name: &'static str,
    method: Method,
    path: &str,
    body: Option<&str>,
    status: u16,
    mentions: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        content_type: body.map(|_| "application/json"),
        body: body.map(str::to_owned),
        status: StatusCode::from_u16(status).expect("status"),
        mentions,
    }
}

fn snapshot_with(parameters: &str) -> String {
    format!(
        r#"{{"spacecraftId":"SC-1","timestamp":"2025-01-01T00:00:09Z","parameters":{parameters}}}"#
    )
}

/// What the set-up stored that the table's requests name.
struct Stored {
    /// The alarm the `temp` excursion opened (`ACTIVE`).
    alarm: String,
    /// The published document.
    document: String,
}

fn cases(stored: &Stored) -> Vec<Case> {
    let post = Method::POST;
    let get = Method::GET;
    let put = Method::PUT;
    let big = format!(
        r#"{{"spacecraftId":"SC-1","timestamp":"2025-01-01T00:00:09Z","parameters":{{"blob":"{}"}}}}"#,
        "x".repeat(LIMIT)
    );
    let mut list = vec![
        case(
            "malformed JSON",
            post.clone(),
            "/telemetry",
            Some(r#"{"spacecraftId": "SC-1","#),
            400,
            "body",
        ),
        case(
            "not JSON at all",
            post.clone(),
            "/telemetry",
            Some("hello"),
            400,
            "body",
        ),
        case(
            "trailing garbage",
            post.clone(),
            "/telemetry",
            Some(&format!("{} x", snapshot_with("{}"))),
            400,
            "body",
        ),
        case(
            "array instead of object",
            post.clone(),
            "/telemetry",
            Some("[]"),
            400,
            "",
        ),
        case(
            "missing spacecraftId",
            post.clone(),
            "/telemetry",
            Some(r#"{"timestamp":"2025-01-01T00:00:00Z","parameters":{}}"#),
            400,
            "spacecraftId",
        ),
        case(
            "missing timestamp",
            post.clone(),
            "/telemetry",
            Some(r#"{"spacecraftId":"SC-1","parameters":{}}"#),
            400,
            "timestamp",
        ),
        case(
            "missing parameters",
            post.clone(),
            "/telemetry",
            Some(r#"{"spacecraftId":"SC-1","timestamp":"2025-01-01T00:00:00Z"}"#),
            400,
            "parameters",
        ),
        case(
            "empty spacecraftId",
            post.clone(),
            "/telemetry",
            Some(r#"{"spacecraftId":"","timestamp":"2025-01-01T00:00:00Z","parameters":{}}"#),
            400,
            "spacecraftId",
        ),
        case(
            "spacecraftId of the wrong type",
            post.clone(),
            "/telemetry",
            Some(r#"{"spacecraftId":42,"timestamp":"2025-01-01T00:00:00Z","parameters":{}}"#),
            400,
            "spacecraftId",
        ),
        case(
            "bad timestamp",
            post.clone(),
            "/telemetry",
            Some(r#"{"spacecraftId":"SC-1","timestamp":"yesterday","parameters":{}}"#),
            400,
            "timestamp",
        ),
        case(
            "timestamp as a number",
            post.clone(),
            "/telemetry",
            Some(r#"{"spacecraftId":"SC-1","timestamp":1735689600,"parameters":{}}"#),
            400,
            "timestamp",
        ),
        case(
            "null parameter value",
            post.clone(),
            "/telemetry",
            Some(&snapshot_with(r#"{"temp":null}"#)),
            400,
            "parameters.temp",
        ),
        case(
            "nested object as a value",
            post.clone(),
            "/telemetry",
            Some(&snapshot_with(r#"{"temp":{"v":1}}"#)),
            400,
            "parameters.temp",
        ),
        case(
            "array as a value",
            post.clone(),
            "/telemetry",
            Some(&snapshot_with(r#"{"temp":[1,2]}"#)),
            400,
            "parameters.temp",
        ),
        case(
            "parameters not an object",
            post.clone(),
            "/telemetry",
            Some(&snapshot_with("[1]")),
            400,
            "parameters",
        ),
        case(
            "number out of range",
            post.clone(),
            "/telemetry",
            Some(&snapshot_with(r#"{"temp":1e400}"#)),
            400,
            "",
        ),
        case(
            "empty id",
            post.clone(),
            "/telemetry",
            Some(
                r#"{"id":"","spacecraftId":"SC-1","timestamp":"2025-01-01T00:00:00Z","parameters":{}}"#,
            ),
            400,
            "id",
        ),
        case(
            "batch without snapshots",
            post.clone(),
            "/telemetry/batch",
            Some(r#"{"spacecraftId":"SC-1"}"#),
            400,
            "snapshots",
        ),
        case(
            "batch with a bad snapshot",
            post.clone(),
            "/telemetry/batch",
            Some(
                r#"{"spacecraftId":"SC-1","snapshots":[{"timestamp":"2025-01-01T00:00:09Z","parameters":{}},{"timestamp":"bad","parameters":{}}]}"#,
            ),
            400,
            "snapshots[1].timestamp",
        ),
        case(
            "batch with stored that is not a boolean",
            post.clone(),
            "/telemetry/batch",
            Some(
                r#"{"spacecraftId":"SC-1","stored":"yes","snapshots":[{"timestamp":"2025-01-01T00:00:09Z","parameters":{}}]}"#,
            ),
            400,
            "stored",
        ),
        case(
            "alarms with an unknown state",
            get.clone(),
            "/alarms?state=SOMETIMES",
            None,
            400,
            "state",
        ),
        case(
            "shelving without until",
            post.clone(),
            "/alarms/a1/shelve",
            Some(r#"{"by":"flight"}"#),
            400,
            "until",
        ),
        case(
            "batch with a null value",
            post.clone(),
            "/telemetry/batch",
            Some(
                r#"{"spacecraftId":"SC-1","snapshots":[{"timestamp":"2025-01-01T00:00:09Z","parameters":{"t":null}}]}"#,
            ),
            400,
            "snapshots[0].parameters.t",
        ),
        case(
            "limit 0",
            get.clone(),
            "/telemetry?spacecraftId=SC-1&limit=0",
            None,
            400,
            "limit",
        ),
        case(
            "limit 101",
            get.clone(),
            "/telemetry?spacecraftId=SC-1&limit=101",
            None,
            400,
            "limit",
        ),
        case(
            "limit abc",
            get.clone(),
            "/telemetry?spacecraftId=SC-1&limit=abc",
            None,
            400,
            "limit",
        ),
        case(
            "limit 2.5",
            get.clone(),
            "/telemetry?spacecraftId=SC-1&limit=2.5",
            None,
            400,
            "limit",
        ),
        case(
            "analyze limit 101",
            get.clone(),
            "/telemetry/analyze?spacecraftId=SC-1&limit=101",
            None,
            400,
            "limit",
        ),
        case(
            "anomalies limit 201",
            get.clone(),
            "/anomalies?spacecraftId=SC-1&limit=201",
            None,
            400,
            "limit",
        ),
        case(
            "docs search limit 51",
            get.clone(),
            "/docs/search?q=x&limit=51",
            None,
            400,
            "limit",
        ),
        case(
            "telemetry without spacecraftId",
            get.clone(),
            "/telemetry",
            None,
            400,
            "spacecraftId",
        ),
        case(
            "analyze with from only",
            get.clone(),
            "/telemetry/analyze?spacecraftId=SC-1&from=2025-01-01T00:00:00Z",
            None,
            400,
            "to",
        ),
        case(
            "analyze with to only",
            get.clone(),
            "/telemetry/analyze?spacecraftId=SC-1&to=2025-01-01T00:00:00Z",
            None,
            400,
            "from",
        ),
        case(
            "analyze with a bad from",
            get.clone(),
            "/telemetry/analyze?spacecraftId=SC-1&from=x&to=2025-01-01T00:00:00Z",
            None,
            400,
            "from",
        ),
        case(
            "analyze with from after to",
            get.clone(),
            "/telemetry/analyze?spacecraftId=SC-1&from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z",
            None,
            400,
            "from",
        ),
        case(
            "timeline without a window",
            get.clone(),
            "/anomalies/timeline?spacecraftId=SC-1",
            None,
            400,
            "from",
        ),
        case(
            "search without q",
            get.clone(),
            "/docs/search",
            None,
            400,
            "q",
        ),
        case(
            "config with a string threshold",
            put.clone(),
            "/spacecraft/SC-1/config",
            Some(r#"{"parameters":{"temp":{"warnHigh":"45"}}}"#),
            400,
            "parameters.temp.warnHigh",
        ),
        case(
            "config with inconsistent thresholds",
            put.clone(),
            "/spacecraft/SC-1/config",
            Some(r#"{"parameters":{"temp":{"warnLow":50,"warnHigh":45}}}"#),
            400,
            "parameters.temp.warnLow",
        ),
        case(
            "config that is not an object",
            put.clone(),
            "/spacecraft/SC-1/config",
            Some("[1,2]"),
            400,
            "config",
        ),
        case(
            "doc without title",
            post.clone(),
            "/docs",
            Some(r#"{"spacecraftId":"SC-1","body":"x"}"#),
            400,
            "title",
        ),
        case(
            "doc with tags not a list",
            post.clone(),
            "/docs",
            Some(r#"{"title":"t","body":"x","tags":"a"}"#),
            400,
            "tags",
        ),
        case(
            "spacecraft without a name",
            post.clone(),
            "/spacecraft",
            Some(r#"{"id":"SC-9"}"#),
            400,
            "name",
        ),
        case(
            "spacecraft that exists",
            post.clone(),
            "/spacecraft",
            Some(r#"{"id":"SC-1","name":"again"}"#),
            409,
            "SC-1",
        ),
        case(
            "conflicting snapshot id",
            post.clone(),
            "/telemetry",
            Some(
                r#"{"id":"keep","spacecraftId":"SC-1","timestamp":"2025-01-01T00:00:00Z","parameters":{"temp":99}}"#,
            ),
            409,
            "keep",
        ),
        case(
            "series with a bad bucket",
            get.clone(),
            "/telemetry/series?spacecraftId=SC-1&parameter=temp&from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z&bucket=5x",
            None,
            400,
            "bucket",
        ),
        case(
            "events with an empty spacecraftId",
            get.clone(),
            "/events?spacecraftId=",
            None,
            400,
            "spacecraftId",
        ),
        case(
            "alarms with an unknown state",
            get.clone(),
            "/alarms?state=LOUD",
            None,
            400,
            "state",
        ),
        case(
            "ndjson with a bad line",
            post.clone(),
            "/telemetry/ndjson",
            Some(
                "{\"spacecraftId\":\"SC-1\",\"timestamp\":\"2025-01-01T00:00:09Z\",\"parameters\":{}}\n{\"spacecraftId\":\"SC-1\"}\n",
            ),
            400,
            "line 2",
        ),
        case("unknown route", get.clone(), "/nope", None, 404, "/nope"),
        case(
            "unknown spacecraft",
            get.clone(),
            "/spacecraft/SC-404",
            None,
            404,
            "SC-404",
        ),
        case(
            "unknown document",
            get.clone(),
            "/docs/doc-404",
            None,
            404,
            "doc-404",
        ),
        case(
            "wrong method",
            Method::DELETE,
            "/telemetry",
            None,
            405,
            "DELETE",
        ),
        case(
            "wrong method on a path with an id",
            Method::PATCH,
            "/spacecraft/SC-1/config",
            None,
            405,
            "PATCH",
        ),
    ];
    // Requests naming what is stored: each would change it if it were not refused whole.
    let alarm = &stored.alarm;
    let document = &stored.document;
    list.extend([
        case(
            "a batch whose second snapshot conflicts with a stored one",
            post.clone(),
            "/telemetry/batch",
            Some(
                r#"{"spacecraftId":"SC-1","snapshots":[{"id":"fresh","timestamp":"2025-01-01T00:00:05Z","parameters":{"temp":99}},{"id":"keep","timestamp":"2025-01-01T00:00:00Z","parameters":{"temp":5}}]}"#,
            ),
            409,
            "snapshots[1]",
        ),
        case(
            "acknowledging a stored alarm without saying who",
            post.clone(),
            &format!("/alarms/{alarm}/acknowledge"),
            Some(r#"{"comment":"seen"}"#),
            400,
            "by",
        ),
        case(
            "shelving a stored alarm until a time in the past",
            post.clone(),
            &format!("/alarms/{alarm}/shelve"),
            Some(r#"{"until":"2001-01-01T00:00:00Z","by":"flight"}"#),
            400,
            "until",
        ),
        case(
            "unshelving a stored alarm that is not shelved",
            post.clone(),
            &format!("/alarms/{alarm}/unshelve"),
            Some(r#"{"by":"flight"}"#),
            409,
            "",
        ),
        case(
            "updating a stored document with tags not a list",
            put.clone(),
            &format!("/docs/{document}"),
            Some(r#"{"title":"t","body":"x","tags":"a"}"#),
            400,
            "tags",
        ),
        case(
            "registering a spacecraft with an empty id",
            post.clone(),
            "/spacecraft",
            Some(r#"{"id":"","name":"nobody"}"#),
            400,
            "id",
        ),
    ]);
    list.push(Case {
        name: "wrong content type",
        method: Method::POST,
        path: "/telemetry".to_owned(),
        content_type: Some("text/plain"),
        body: Some(snapshot_with("{}")),
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        mentions: "application/json",
    });
    list.push(Case {
        name: "no content type",
        method: Method::POST,
        path: "/telemetry/batch".to_owned(),
        content_type: None,
        body: Some(r#"{"spacecraftId":"SC-1","snapshots":[]}"#.to_owned()),
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        mentions: "application/json",
    });
    list.push(Case {
        name: "oversize body",
        method: Method::POST,
        path: "/telemetry".to_owned(),
        content_type: Some("application/json"),
        body: Some(big),
        status: StatusCode::PAYLOAD_TOO_LARGE,
        mentions: "limit",
    });
    list
}

async fn stored_state(app: &TestApp) -> (Value, Value, Value) {
    let (_, telemetry) = app.get_json("/telemetry?spacecraftId=SC-1&limit=100").await;
    let (_, events) = app.get_json("/events?limit=100").await;
    let (_, config) = app.get_json("/spacecraft/SC-1/config").await;
    (telemetry, events, config)
}

/// Everything a request could change, read from the store itself: per spacecraft its
/// configuration history, telemetry and anomalies; every alarm, document and event; the outbox.
#[derive(Debug, PartialEq)]
struct Everything {
    spacecraft: SpacecraftPage,
    configs: Vec<Vec<ConfigRecord>>,
    telemetry: Vec<Vec<TelemetrySnapshot>>,
    anomalies: Vec<Vec<Anomaly>>,
    alarms: Vec<Alarm>,
    documents: Vec<OpsDocument>,
    events: Vec<MissionEvent>,
    outbox: OutboxStats,
    dead_letters: Vec<DeadLetter>,
}

async fn everything(app: &TestApp) -> Everything {
    let store = &app.store;
    let all = Limit::new(1_000, 1_000).expect("limit");
    let first = Timestamp::parse("0000-01-01T00:00:00Z").expect("ts");
    let last = Timestamp::parse("9999-12-31T23:59:59.999Z").expect("ts");
    let spacecraft = store
        .list_spacecraft(&missionops_core::TenantId::default(), all, 0)
        .await
        .expect("spacecraft");
    let (mut configs, mut telemetry, mut anomalies) = (Vec::new(), Vec::new(), Vec::new());
    for sc in &spacecraft.items {
        configs.push(
            store
                .config_history(&missionops_core::TenantId::default(), &sc.id)
                .await
                .expect("configs"),
        );
        telemetry.push(
            store
                .telemetry_range(
                    &missionops_core::TenantId::default(),
                    &sc.id,
                    first,
                    last,
                    100_000,
                )
                .await
                .expect("telemetry"),
        );
        anomalies.push(
            store
                .anomaly_timeline(&missionops_core::TenantId::default(), &sc.id, first, last)
                .await
                .expect("anomalies"),
        );
    }
    let alarms = store
        .list_alarms(
            &missionops_core::TenantId::default(),
            &AlarmFilter {
                spacecraft_id: None,
                states: AlarmStates::All,
            },
        )
        .await
        .expect("alarms");
    let documents = store
        .list_documents(
            &missionops_core::TenantId::default(),
            &DocumentFilter {
                spacecraft_id: None,
                category: None,
                tag: None,
                limit: all,
                offset: 0,
            },
        )
        .await
        .expect("documents");
    Everything {
        configs,
        telemetry,
        anomalies,
        alarms,
        documents,
        events: store
            .events_after(&missionops_core::TenantId::default(), 0, None, all)
            .await
            .expect("events"),
        outbox: store.stats().await.expect("outbox"),
        dead_letters: store.dead_letters(1_000).await.expect("dead letters"),
        spacecraft,
    }
}

#[tokio::test]
async fn bad_requests_answer_4xx_in_the_error_shape_and_change_nothing() {
    let app = spawn_app_with(HttpConfig {
        body_limit: LIMIT,
        ..HttpConfig::default()
    })
    .await;
    let (status, _) = app
        .put_json(
            "/spacecraft/SC-1/config",
            &json!({"parameters": {"temp": {"warnHigh": 45}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post_json("/telemetry", &json!({"id": "keep", "spacecraftId": "SC-1", "timestamp": "2025-01-01T00:00:00Z", "parameters": {"temp": 1}}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Something of every kind to change: an alarm with its anomaly, a document, a second
    // spacecraft.
    let (status, _) = app
        .post_json("/telemetry", &json!({"id": "hot", "spacecraftId": "SC-1", "timestamp": "2025-01-01T00:00:01Z", "parameters": {"temp": 99}}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, alarms) = app.get_json("/alarms").await;
    assert_eq!(status, StatusCode::OK);
    let alarm = alarms[0]["id"]
        .as_str()
        .expect("the alarm temp opened")
        .to_owned();
    let (status, document) = app
        .post_json(
            "/docs",
            &json!({"spacecraftId": "SC-1", "title": "Thermal", "body": "Heaters off.", "tags": ["thermal"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{document}");
    let document = document["documentId"]
        .as_str()
        .expect("document id")
        .to_owned();
    let (status, _) = app
        .post_json("/spacecraft", &json!({"id": "SC-2", "name": "Two"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let before = stored_state(&app).await;
    let before_everything = everything(&app).await;
    assert_eq!(before_everything.spacecraft.items.len(), 2);
    assert_eq!(before_everything.alarms.len(), 1);
    assert_eq!(before_everything.anomalies[0].len(), 1);
    assert_eq!(before_everything.documents.len(), 1);

    let cases = cases(&Stored { alarm, document });
    assert!(
        cases.len() >= 30,
        "the table must hold at least 30 bad requests"
    );
    for case in cases {
        let mut request = app.client.request(case.method.clone(), app.url(&case.path));
        if let Some(content_type) = case.content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(body) = case.body.clone() {
            request = request.body(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(status, case.status, "{}: {text}", case.name);
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {text}", case.name));
        let message = assert_error_shape(&body);
        assert!(
            message.contains(case.mentions),
            "{}: message {message:?} should mention {:?}",
            case.name,
            case.mentions
        );
    }

    assert_eq!(
        stored_state(&app).await,
        before,
        "bad requests must not change stored data"
    );
    assert_eq!(
        everything(&app).await,
        before_everything,
        "bad requests must not change anything stored"
    );
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
}
