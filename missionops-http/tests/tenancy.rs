//! Tenants through the API (SPEC §9): two tenants that both own `SC-001` each see only their
//! own data on every read route, search, the fleet view and the SSE stream, and the other
//! tenant's alarm and document ids answer 404.
//!
//! Each tenant signs in with an admin API key of its own, created before the server starts, so
//! the real authentication layer puts each key's `Caller` into its requests. Over the in-memory
//! store; that SQLite and PostgreSQL keep tenants apart as it does is the store conformance
//! suite's `tenancy_conformance_tests!`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use missionops_core::{Caller, KeyName, MissionOps, Role, TenantId};
use missionops_http::{AppState, HttpConfig, NewKey, create_key, router};
use missionops_store::{MemoryStore, SystemClock, UuidV7Ids};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Api {
    base: String,
    client: reqwest::Client,
    /// Each tenant's admin key (`alpha`, `bravo`, `default`), named `<tenant>-desk`.
    keys: HashMap<&'static str, NewKey>,
}

impl Api {
    async fn start() -> Api {
        let ops = MissionOps::new(
            Arc::new(MemoryStore::new()),
            Arc::new(SystemClock),
            Arc::new(UuidV7Ids),
        )
        .with_packet_decoding(Arc::new(missionops_packets::XtceDecoding));
        let mut keys = HashMap::new();
        for tenant in ["alpha", "bravo", "default"] {
            let caller = Caller::operator_of(TenantId::parse(tenant).expect("tenant"));
            let name = KeyName::parse(format!("{tenant}-desk")).expect("key name");
            let key = create_key(&ops, &caller, name, Role::Admin, None)
                .await
                .expect("create key");
            keys.insert(tenant, key);
        }
        let app = router(AppState::new(ops, HttpConfig::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Api {
            base,
            client: reqwest::Client::new(),
            keys,
        }
    }

    fn request(
        &self,
        method: reqwest::Method,
        tenant: &str,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.keys[tenant].key)
    }

    async fn get(&self, tenant: &str, path: &str) -> (StatusCode, Value) {
        let response = self
            .request(reqwest::Method::GET, tenant, path)
            .send()
            .await
            .expect("get");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn send(
        &self,
        method: reqwest::Method,
        tenant: &str,
        path: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        let response = self
            .request(method, tenant, path)
            .json(body)
            .send()
            .await
            .expect("send");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, tenant: &str, path: &str) -> Value {
        let (status, body) = self.get(tenant, path).await;
        assert_eq!(status, StatusCode::OK, "{tenant} GET {path}: {body}");
        body
    }
}

/// Alpha warns above 45 and sends 50 (an alarm); bravo warns above 100 and sends 60, 61.
async fn two_tenants_with_sc_001(api: &Api) -> (String, String) {
    for (tenant, high) in [("alpha", 45), ("bravo", 100)] {
        let (status, body) = api
            .send(
                reqwest::Method::PUT,
                tenant,
                "/spacecraft/SC-001/config",
                &json!({"parameters": {"temp": {"warnHigh": high}}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for (tenant, values) in [("alpha", vec![50]), ("bravo", vec![60, 61])] {
        let snapshots: Vec<Value> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                json!({"timestamp": format!("2025-06-01T12:00:0{i}Z"), "parameters": {"temp": v}})
            })
            .collect();
        let (status, body) = api
            .send(
                reqwest::Method::POST,
                tenant,
                "/telemetry/batch",
                &json!({"spacecraftId": "SC-001", "snapshots": snapshots}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut docs = Vec::new();
    for tenant in ["alpha", "bravo"] {
        let (status, doc) = api
            .send(
                reqwest::Method::POST,
                tenant,
                "/docs",
                &json!({"spacecraftId": "SC-001", "title": format!("{tenant} thermal procedure"),
                        "body": "common words", "tags": ["thermal"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{doc}");
        docs.push(doc["documentId"].as_str().expect("doc id").to_owned());
    }
    (docs.remove(0), docs.remove(0))
}

fn len(value: &Value) -> usize {
    value.as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn every_read_route_shows_each_tenant_only_its_own() {
    let api = Api::start().await;
    let (alpha_doc, bravo_doc) = two_tenants_with_sc_001(&api).await;

    // Telemetry, latest values, config and its history: each its own.
    assert_eq!(
        len(&api.ok("alpha", "/telemetry?spacecraftId=SC-001").await),
        1
    );
    assert_eq!(
        len(&api.ok("bravo", "/telemetry?spacecraftId=SC-001").await),
        2
    );
    let latest = api
        .ok("bravo", "/telemetry/latest?spacecraftId=SC-001")
        .await;
    assert!(latest.to_string().contains("61"), "{latest}");
    assert!(!latest.to_string().contains("50"), "{latest}");
    let config = api.ok("alpha", "/spacecraft/SC-001/config").await;
    assert!(config.to_string().contains("45"), "{config}");
    assert!(!config.to_string().contains("100"), "{config}");
    assert_eq!(
        len(&api.ok("bravo", "/spacecraft/SC-001/config/history").await),
        1
    );

    // Spacecraft, status and fleet: one SC-001 each; the default tenant has none.
    for tenant in ["alpha", "bravo"] {
        let listing = api.ok(tenant, "/spacecraft").await;
        assert_eq!(listing["total"], 1, "{listing}");
        assert_eq!(len(&api.ok(tenant, "/fleet/status").await), 1);
        api.ok(tenant, "/spacecraft/SC-001/status").await;
    }
    let (status, _) = api.get("default", "/spacecraft/SC-001").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(len(&api.ok("default", "/fleet/status").await), 0);

    // Alarms: alpha's own limit was crossed, bravo's was not; bravo cannot see or touch it.
    let alarms = api.ok("alpha", "/alarms").await;
    assert_eq!(len(&alarms), 1, "{alarms}");
    assert_eq!(len(&api.ok("bravo", "/alarms").await), 0);
    let alarm = alarms[0]["id"].as_str().expect("alarm id");
    let (status, _) = api
        .send(
            reqwest::Method::POST,
            "bravo",
            &format!("/alarms/{alarm}/acknowledge"),
            &json!({"by": "mallory"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.ok("alpha", "/alarms").await[0]["state"],
        alarms[0]["state"]
    );

    // Anomalies: alpha's one, none for bravo.
    assert_eq!(
        len(&api.ok("alpha", "/anomalies?spacecraftId=SC-001").await),
        1
    );
    assert_eq!(
        len(&api.ok("bravo", "/anomalies?spacecraftId=SC-001").await),
        0
    );

    // Documents: by id, listing and search.
    let (status, _) = api.get("bravo", &format!("/docs/{alpha_doc}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.get("alpha", &format!("/docs/{bravo_doc}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .send(
            reqwest::Method::PUT,
            "bravo",
            &format!("/docs/{alpha_doc}"),
            &json!({"title": "taken over", "body": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (tenant, own) in [("alpha", &alpha_doc), ("bravo", &bravo_doc)] {
        let listed = api.ok(tenant, "/docs").await;
        let found = api.ok(tenant, "/docs/search?q=common").await;
        for answer in [&listed, &found] {
            let ids: Vec<&str> = answer
                .as_array()
                .expect("array")
                .iter()
                .filter_map(|d| d["id"].as_str())
                .collect();
            assert_eq!(ids, [own.as_str()], "{tenant}: {answer}");
        }
    }

    // Events: disjoint, and the default tenant has none.
    let events = |value: Value| -> BTreeSet<u64> {
        value
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|e| e["sequence"].as_u64())
            .collect()
    };
    let alpha_events = events(api.ok("alpha", "/events?limit=100").await);
    let bravo_events = events(api.ok("bravo", "/events?limit=100").await);
    assert!(!alpha_events.is_empty() && !bravo_events.is_empty());
    assert!(alpha_events.is_disjoint(&bravo_events));
    assert!(events(api.ok("default", "/events?limit=100").await).is_empty());
}

#[tokio::test]
async fn the_event_stream_carries_only_the_tenants_own_events() {
    let api = Api::start().await;
    two_tenants_with_sc_001(&api).await;
    let own: BTreeSet<u64> = api
        .ok("bravo", "/events?limit=100")
        .await
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["sequence"].as_u64())
        .collect();
    let mut response = api
        .request(reqwest::Method::GET, "bravo", "/events/stream")
        .header("Last-Event-ID", "0")
        .send()
        .await
        .expect("stream");
    assert_eq!(response.status(), StatusCode::OK);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, response.chunk()).await {
        text.push_str(&String::from_utf8_lossy(&chunk));
        let seen = text.lines().filter(|l| l.starts_with("id:")).count();
        if seen >= own.len() {
            break;
        }
    }
    let streamed: BTreeSet<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .filter_map(|id| id.trim().parse().ok())
        .collect();
    assert_eq!(streamed, own, "{text}");
}

#[tokio::test]
async fn a_keys_events_name_it_and_its_acknowledgement_is_by_the_key() {
    let api = Api::start().await;
    two_tenants_with_sc_001(&api).await;
    let alarm = api.ok("alpha", "/alarms").await[0]["id"]
        .as_str()
        .expect("alarm id")
        .to_owned();
    // No `by`: the key names who acknowledged.
    let (status, acked) = api
        .send(
            reqwest::Method::POST,
            "alpha",
            &format!("/alarms/{alarm}/acknowledge"),
            &json!({"comment": "on it"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{acked}");
    assert_eq!(acked["acknowledgedBy"], "alpha-desk");
    let events = api.ok("alpha", "/events?limit=100").await;
    let events = events.as_array().expect("array");
    assert!(events.iter().any(|e| e["type"] == "ALARM_ACKNOWLEDGED"));
    for event in events {
        assert_eq!(
            event["metadata"]["actor"],
            json!({"keyId": api.keys["alpha"].record.id.as_str(), "name": "alpha-desk"}),
            "{event}"
        );
    }
}

#[tokio::test]
async fn a_packet_definition_is_its_tenants_own() {
    let api = Api::start().await;
    two_tenants_with_sc_001(&api).await;
    let xml = include_str!("../../fixtures/packets/housekeeping.xml");
    let response = api
        .request(
            reqwest::Method::PUT,
            "alpha",
            "/spacecraft/SC-001/packet-definition",
        )
        .header("content-type", "application/xml")
        .body(xml)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    let (status, _) = api
        .get("alpha", "/spacecraft/SC-001/packet-definition")
        .await;
    assert_eq!(status, StatusCode::OK);
    // Bravo's SC-001 has none, and bravo's packets are not decoded with alpha's definition.
    let (status, _) = api
        .get("bravo", "/spacecraft/SC-001/packet-definition")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = api
        .request(reqwest::Method::POST, "bravo", "/spacecraft/SC-001/packets")
        .header("content-type", "application/octet-stream")
        .body(vec![0x08, 100, 0xC0, 0, 0, 0, 0])
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
