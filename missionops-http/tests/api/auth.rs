//! Authentication and roles (SPEC §9): the table test generated from the route table, the one
//! 401 for every bad key, revocation seen by a second server within 1 s, the 429 after too
//! many failures, open mode, the OpenAPI security scheme, and `/keys`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use missionops_core::{Caller, KeyLifetime, KeyName, MissionOps, Role, Store, TenantId};
use missionops_http::{Access, HttpConfig, NewKey, create_key, route_table};
use missionops_store::{SqliteStore, SystemClock, UuidV7Ids};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error_shape, spawn_app, spawn_app_with, start};

fn ops_over(store: &Arc<dyn Store>) -> MissionOps {
    MissionOps::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Ids))
}

/// A key made directly on the store, as the CLI does.
async fn key_on(
    store: &Arc<dyn Store>,
    tenant: &str,
    role: Role,
    lifetime: Option<&str>,
) -> NewKey {
    create_key(
        &ops_over(store),
        &Caller::operator_of(TenantId::parse(tenant).expect("tenant")),
        KeyName::parse(format!("{role}-key")).expect("name"),
        role,
        lifetime.map(|l| KeyLifetime::parse(l).expect("lifetime")),
    )
    .await
    .expect("create a key")
}

async fn call(app: &TestApp, method: Method, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if method == Method::POST || method == Method::PUT {
        request = request.json(&json!({}));
    }
    request.send().await.expect("request")
}

/// `/spacecraft/{id}/config` → `/spacecraft/X/config`.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in template.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("X1");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

#[tokio::test]
async fn every_route_needs_its_declared_role_generated_from_the_route_table() {
    let app = spawn_app_with(HttpConfig {
        max_auth_failures: 10_000,
        ..HttpConfig::default()
    })
    .await;
    let mut keys = Vec::new();
    for role in Role::ALL {
        keys.push((role, key_on(&app.store, "default", role, None).await.key));
    }
    let key_of = |role: Role| {
        keys.iter()
            .find(|(r, _)| *r == role)
            .map(|(_, k)| k.as_str())
            .expect("a key per role")
    };
    let table = route_table();
    let undeclared: Vec<String> = table
        .iter()
        .filter(|r| r.access.is_none())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        undeclared.is_empty(),
        "routes with no declared role: {undeclared:?}"
    );
    assert!(table.len() >= 30, "the table lists every operation");
    for route in &table {
        let path = concrete(&route.path);
        let name = format!("{} {}", route.method, route.path);
        match route.access.expect("declared") {
            Access::Public => {
                let status = call(&app, route.method.clone(), &path, None).await.status();
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{name} is public but answered {status}"
                );
            }
            Access::Role(needed) => {
                let response = call(&app, route.method.clone(), &path, None).await;
                assert_eq!(
                    response.status(),
                    StatusCode::UNAUTHORIZED,
                    "{name} with no key"
                );
                assert_eq!(
                    response
                        .headers()
                        .get("www-authenticate")
                        .and_then(|v| v.to_str().ok()),
                    Some("Bearer"),
                    "{name}: 401 must carry WWW-Authenticate: Bearer"
                );
                if let Some(below) = needed.below() {
                    let response =
                        call(&app, route.method.clone(), &path, Some(key_of(below))).await;
                    assert_eq!(
                        response.status(),
                        StatusCode::FORBIDDEN,
                        "{name} with a {below} key"
                    );
                    let body: Value = response.json().await.expect("json");
                    let message = assert_error_shape(&body);
                    assert!(
                        message.contains(needed.as_str()),
                        "{name}: 403 names the role: {message}"
                    );
                }
                let status = call(&app, route.method.clone(), &path, Some(key_of(needed)))
                    .await
                    .status();
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{name} with a {needed} key answered {status}"
                );
            }
        }
    }
}

#[tokio::test]
async fn unknown_revoked_expired_and_malformed_keys_get_one_identical_401() {
    let app = spawn_app().await;
    let good = key_on(&app.store, "default", Role::Viewer, None).await;
    let revoked = key_on(&app.store, "default", Role::Viewer, None).await;
    let expiring = key_on(&app.store, "default", Role::Viewer, Some("1s")).await;
    ops_over(&app.store)
        .revoke_key(&Caller::open(), &revoked.record.id)
        .await
        .expect("revoke");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // The good key's secret under another key's id, and a well-formed key nobody made.
    let secret = good.key.rsplit_once('_').expect("secret").1;
    let wrong_secret = format!("mo_{}_{}", revoked.record.id, secret);
    let unknown = format!("mo_unknownKey0001_{}", secret);
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no key", None),
        ("unknown", Some(unknown)),
        ("revoked", Some(revoked.key.clone())),
        ("expired", Some(expiring.key.clone())),
        ("wrong secret", Some(wrong_secret)),
        ("malformed", Some("mo_nonsense".to_owned())),
        ("not a key", Some("hello".to_owned())),
    ];
    let mut bodies = Vec::new();
    for (what, key) in &cases {
        let response = call(&app, Method::GET, "/spacecraft", key.as_deref()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "{what}"
        );
        bodies.push((what, response.text().await.expect("body")));
    }
    for (what, body) in &bodies {
        assert_eq!(
            body, &bodies[0].1,
            "the 401 of `{what}` differs from the others"
        );
    }
    let status = call(&app, Method::GET, "/spacecraft", Some(&good.key))
        .await
        .status();
    assert_eq!(status, StatusCode::OK, "the good key still works");
}

#[tokio::test]
async fn a_key_revoked_through_a_second_server_on_the_same_file_stops_working_within_a_second() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("missionops.db");
    let first: Arc<dyn Store> = Arc::new(SqliteStore::open_path(&file).await.expect("open"));
    let second: Arc<dyn Store> = Arc::new(SqliteStore::open_path(&file).await.expect("open"));
    let one = start(first.clone(), first.clone(), None, HttpConfig::default()).await;
    let two = start(second.clone(), second, None, HttpConfig::default()).await;
    let admin = key_on(&first, "default", Role::Admin, None).await;
    let user = key_on(&first, "default", Role::Viewer, None).await;
    assert_eq!(
        call(&one, Method::GET, "/spacecraft", Some(&user.key))
            .await
            .status(),
        StatusCode::OK
    );
    let revoked = call(
        &two,
        Method::DELETE,
        &format!("/keys/{}", user.record.id),
        Some(&admin.key),
    )
    .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let since = Instant::now();
    loop {
        let status = call(&one, Method::GET, "/spacecraft", Some(&user.key))
            .await
            .status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            since.elapsed() < Duration::from_millis(1_500),
            "the revoked key still works on the first server after 1.5 s ({status})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(dir);
}

#[tokio::test]
async fn the_twenty_first_failure_within_a_minute_answers_429_with_retry_after() {
    let app = spawn_app().await;
    let good = key_on(&app.store, "default", Role::Viewer, None).await;
    for n in 1..=20 {
        let status = call(&app, Method::GET, "/spacecraft", Some("mo_wrong"))
            .await
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "failure {n}");
    }
    let response = call(&app, Method::GET, "/spacecraft", Some("mo_wrong")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let body: Value = response.json().await.expect("json");
    assert_error_shape(&body);
    assert_eq!(body["error"], "TooManyRequests");
    // Blocked for the minute, even with a good key; public routes stay open.
    let status = call(&app, Method::GET, "/spacecraft", Some(&good.key))
        .await
        .status();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        call(&app, Method::GET, "/healthz", None).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn with_no_key_the_server_runs_open_until_the_first_key_is_created() {
    let app = spawn_app().await;
    assert_eq!(
        call(&app, Method::GET, "/spacecraft", None).await.status(),
        StatusCode::OK
    );
    let (status, created) = app
        .post_json(
            "/keys",
            &json!({"name": "first admin", "role": "admin", "expiresIn": "90d"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().expect("the key, once").to_owned();
    assert!(key.starts_with("mo_"));
    assert_eq!(created["role"], "admin");
    assert_eq!(created["tenant"], "default");
    assert!(created["expiresAt"].is_string());
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        call(&app, Method::GET, "/spacecraft", None).await.status(),
        StatusCode::UNAUTHORIZED,
        "auth is on once a key exists"
    );
    let listed: Value = call(&app, Method::GET, "/keys", Some(&key))
        .await
        .json()
        .await
        .expect("json");
    let text = listed.to_string();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert!(
        !text.contains(key.rsplit_once('_').expect("secret").1),
        "a listing never holds a secret"
    );
    assert!(listed[0].get("key").is_none() && listed[0].get("secretHash").is_none());
}

#[tokio::test]
async fn keys_are_created_listed_and_revoked_within_the_admins_tenant() {
    let app = spawn_app().await;
    let admin_a = key_on(&app.store, "mission-a", Role::Admin, None).await;
    let other = key_on(&app.store, "mission-b", Role::Viewer, None).await;
    let response = app
        .client
        .post(app.url("/keys"))
        .bearer_auth(&admin_a.key)
        .json(&json!({"name": "ops", "role": "operator"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.expect("json");
    assert_eq!(created["tenant"], "mission-a");
    assert_eq!(created["expiresAt"], Value::Null);
    let listed: Value = call(&app, Method::GET, "/keys", Some(&admin_a.key))
        .await
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|k| k["id"].as_str())
        .collect();
    assert!(ids.contains(&created["id"].as_str().expect("id")));
    assert!(
        !ids.contains(&other.record.id.as_str()),
        "another tenant's key is not listed"
    );
    let status = call(
        &app,
        Method::DELETE,
        &format!("/keys/{}", other.record.id),
        Some(&admin_a.key),
    )
    .await
    .status();
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another tenant's key answers 404"
    );
    let status = call(
        &app,
        Method::DELETE,
        &format!("/keys/{}", created["id"].as_str().expect("id")),
        Some(&admin_a.key),
    )
    .await
    .status();
    assert_eq!(status, StatusCode::NO_CONTENT);
    for bad in [
        json!({"name": "x", "role": "root"}),
        json!({"name": "x", "role": "viewer", "expiresIn": "soon"}),
        json!({"role": "viewer"}),
    ] {
        let response = app
            .client
            .post(app.url("/keys"))
            .bearer_auth(&admin_a.key)
            .json(&bad)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn the_openapi_document_carries_the_bearer_scheme_and_each_operations_role() {
    let app = spawn_app().await;
    let _key = key_on(&app.store, "default", Role::Viewer, None).await;
    let (status, doc) = app.get_json("/openapi.json").await;
    assert_eq!(status, StatusCode::OK, "the document needs no key");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let ingest = &doc["paths"]["/telemetry"]["post"];
    assert_eq!(ingest["security"], json!([{"bearer": []}]));
    assert_eq!(ingest["x-required-role"], "operator");
    assert!(
        ingest["description"]
            .as_str()
            .unwrap_or_default()
            .contains("operator")
    );
    assert_eq!(doc["paths"]["/healthz"]["get"]["x-required-role"], "public");
    assert!(doc["paths"]["/healthz"]["get"].get("security").is_none());
}
