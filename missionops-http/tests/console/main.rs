//! The operator console (SPEC §10) and its sign-in (SPEC §9): the session cookie and
//! same-origin rules over HTTP (`session.rs`), the served assets (`assets.rs`), and the pages
//! in a real headless Chromium driven over WebDriver (`pages.rs`), each test with its own
//! server on a fresh SQLite file, its own chromedriver and browser profile. Screenshots of
//! every page go to `target/console-screenshots/`.

mod assets;
mod pages;
mod session;
mod webdriver;

use std::sync::Arc;

use missionops_core::{Caller, KeyName, MissionOps, Role, Store};
use missionops_http::{AppState, HttpConfig, create_key, serve};
use missionops_store::{SqliteStore, SystemClock, UuidV7Ids};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

/// The server under test on 127.0.0.1, over a fresh SQLite file.
#[derive(Debug)]
pub struct ConsoleApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub client: Client,
    /// The application behind the server (seeding, keys).
    pub ops: MissionOps,
    _shutdown: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

/// Sends `request`; its status and its body as JSON (`null` when the body is not JSON).
pub async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

impl ConsoleApp {
    pub async fn spawn() -> ConsoleApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open_path(dir.path().join("missionops.db"))
                .await
                .expect("open SQLite"),
        );
        let ops = MissionOps::new(store, Arc::new(SystemClock), Arc::new(UuidV7Ids));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let (tx, rx) = oneshot::channel::<()>();
        let state = AppState::new(
            ops.clone(),
            HttpConfig {
                stream_poll_interval: std::time::Duration::from_millis(100),
                ..HttpConfig::default()
            },
        );
        tokio::spawn(serve(listener, state, async move {
            let _ = rx.await;
        }));
        ConsoleApp {
            address,
            client: Client::new(),
            ops,
            _shutdown: tx,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A key of tenant `default` made on the store, as the CLI does; returns the key text.
    pub async fn key(&self, name: &str, role: Role) -> String {
        create_key(
            &self.ops,
            &Caller::open(),
            KeyName::parse(name).expect("name"),
            role,
            None,
        )
        .await
        .expect("create a key")
        .key
    }

    /// A request with a bearer key and an optional JSON body; answers status and JSON.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(body) = body {
            request = request.json(body);
        }
        answer(request).await
    }

    /// Signs `key` in over HTTP and returns the session cookie's `name=value`.
    pub async fn sign_in(&self, key: &str) -> String {
        let response = self
            .client
            .post(self.url("/session"))
            .json(&serde_json::json!({"key": key}))
            .send()
            .await
            .expect("sign in");
        assert_eq!(response.status(), StatusCode::OK, "sign-in");
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("a session cookie")
            .to_owned();
        cookie.split(';').next().expect("name=value").to_owned()
    }
}
