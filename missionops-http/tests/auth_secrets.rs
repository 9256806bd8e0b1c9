//! A key's secret never appears in the server's log lines nor in any answer but the one that
//! creates it (SPEC §9): a run with failed and successful authentications, every log line
//! captured at trace level with the access log on, every response header and body searched.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use missionops_core::{Caller, KeyName, MissionOps, Role};
use missionops_http::{AppState, HttpConfig, create_key, router};
use missionops_store::{MemoryStore, SystemClock, UuidV7Ids};
use tower::ServiceExt;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut text) = self.0.lock() {
            text.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().map(|t| t.clone()).unwrap_or_default()).into_owned()
    }
}

fn secret_of(key: &str) -> &str {
    key.rsplit_once('_').expect("a key ends in its secret").1
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_a_log_line_or_another_answer() {
    let log = Buffer::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let ops = MissionOps::new(
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
    );
    let admin = create_key(
        &ops,
        &Caller::open(),
        KeyName::parse("admin").expect("name"),
        Role::Admin,
        None,
    )
    .await
    .expect("key");
    let app = router(AppState::new(
        ops,
        HttpConfig {
            access_log: true,
            ..HttpConfig::default()
        },
    ));
    let wrong = format!("mo_{}_{}", admin.record.id, "0".repeat(64));
    let requests = [
        (Method::GET, "/spacecraft", Some(admin.key.clone()), ""),
        (Method::GET, "/spacecraft", Some(wrong.clone()), ""),
        (
            Method::GET,
            "/spacecraft",
            Some(format!("{}x", admin.key)),
            "",
        ),
        (
            Method::POST,
            "/telemetry",
            Some(admin.key.clone()),
            r#"{"spacecraftId":"SC-1","timestamp":"2025-01-01T00:00:00Z","parameters":{"t":1}}"#,
        ),
        (
            Method::POST,
            "/telemetry",
            Some(admin.key.clone()),
            "{not json",
        ),
        (
            Method::POST,
            "/keys",
            Some(admin.key.clone()),
            r#"{"name":"new","role":"viewer"}"#,
        ),
        (Method::GET, "/keys", Some(admin.key.clone()), ""),
        (Method::GET, "/nowhere", Some(admin.key.clone()), ""),
    ];
    let mut answers = String::new();
    let mut created = None;
    for (method, path, key, body) in requests {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("content-type", "application/json");
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::from(body)).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let headers = format!("{:?}", response.headers());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if method == Method::POST && path == "/keys" {
            assert_eq!(status, StatusCode::CREATED);
            let json: serde_json::Value = serde_json::from_str(&text).expect("json");
            created = json["key"].as_str().map(str::to_owned);
            answers.push_str(&headers);
        } else {
            answers.push_str(&headers);
            answers.push_str(&text);
        }
    }
    let created = created.expect("the created key");
    let logged = log.text();
    assert!(
        logged.contains("/spacecraft"),
        "the access log was captured: {logged}"
    );
    for secret in [secret_of(&admin.key), secret_of(&created)] {
        assert!(
            !logged.contains(secret),
            "a secret reached the log:\n{logged}"
        );
        assert!(
            !answers.contains(secret),
            "a secret reached an answer:\n{answers}"
        );
    }
    assert!(
        !logged.contains(&"0".repeat(64)),
        "a presented wrong secret reached the log"
    );
}
