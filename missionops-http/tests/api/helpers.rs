//! `spawn_app`: the real server on 127.0.0.1:0 over a fresh store, with typed request helpers.

use std::sync::Arc;

use missionops_core::{MissionOps, Store};
use missionops_http::{AppState, HttpConfig, serve};
use missionops_store::{PostgresStore, SqliteStore, SystemClock, UuidV7Ids};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::gated_store::{GatedStore, Gates};

/// Which store the server under test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file in a temporary directory (the default deployment).
    Sqlite,
    /// A fresh PostgreSQL database with a random name, dropped afterwards.
    Postgres,
}

pub struct TestApp {
    pub address: String,
    pub client: Client,
    /// The store behind the server, to check what was written after the server stopped.
    pub store: Arc<dyn Store>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Keeps a SQLite test file's directory until the app is dropped.
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self.get(path).await;
        let status = response.status();
        (status, response.json().await.expect("json body"))
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .request(method, self.url(path))
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.expect("json body"))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send_json(reqwest::Method::POST, path, body).await
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send_json(reqwest::Method::PUT, path, body).await
    }

    /// Tells the server to shut down (stop accepting connections, finish in-flight requests)
    /// without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Whether the server has stopped.
    pub fn has_stopped(&self) -> bool {
        self.server
            .as_ref()
            .is_none_or(|server| server.is_finished())
    }

    /// Stops accepting connections and waits for in-flight requests to finish. Returns the
    /// SQLite file's directory, to keep while the store is still read.
    pub async fn shutdown(mut self) -> Option<tempfile::TempDir> {
        self.begin_shutdown();
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
        self._dir.take()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A fresh store for one test, on the backend the test binary was built for.
async fn fresh_store() -> (Arc<dyn Store>, Option<tempfile::TempDir>) {
    match crate::BACKEND {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = SqliteStore::open_path(dir.path().join("missionops.db"))
                .await
                .expect("open a fresh SQLite file");
            (Arc::new(store), Some(dir))
        }
        Backend::Postgres => {
            let admin = std::env::var("MISSIONOPS_TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
            let store = PostgresStore::scratch(&admin).await.unwrap_or_else(|e| {
                panic!("these tests need PostgreSQL at {admin} (MISSIONOPS_TEST_DATABASE_URL): {e}")
            });
            (Arc::new(store), None)
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(HttpConfig::default()).await
}

pub async fn spawn_app_with(config: HttpConfig) -> TestApp {
    let (store, dir) = fresh_store().await;
    start(store.clone(), store, dir, config).await
}

/// The server over a fresh store behind a [`GatedStore`], which the test holds to decide
/// when writes and event pages go through. The app's `store` is the one behind the gates.
pub async fn spawn_gated_app() -> (TestApp, Arc<GatedStore>) {
    spawn_gated_app_with(HttpConfig::default()).await
}

/// [`spawn_gated_app`] with `config`.
pub async fn spawn_gated_app_with(config: HttpConfig) -> (TestApp, Arc<GatedStore>) {
    let (store, dir) = fresh_store().await;
    let gated = Arc::new(GatedStore::wrap(store.clone(), Gates::default()));
    let app = start(gated.clone(), store, dir, config).await;
    (app, gated)
}

/// [`spawn_app`] with the application services set up further by `configure` (a lower cap,
/// say), as an embedding application may.
pub async fn spawn_app_configured(configure: impl FnOnce(MissionOps) -> MissionOps) -> TestApp {
    let (store, dir) = fresh_store().await;
    start_configured(store.clone(), store, dir, HttpConfig::default(), configure).await
}

/// Serves `served` on a port of its own; `store` is what the test reads afterwards.
pub async fn start(
    served: Arc<dyn Store>,
    store: Arc<dyn Store>,
    dir: Option<tempfile::TempDir>,
    config: HttpConfig,
) -> TestApp {
    start_configured(served, store, dir, config, |ops| ops).await
}

/// [`start`] with the application services set up further by `configure`.
pub async fn start_configured(
    served: Arc<dyn Store>,
    store: Arc<dyn Store>,
    dir: Option<tempfile::TempDir>,
    config: HttpConfig,
    configure: impl FnOnce(MissionOps) -> MissionOps,
) -> TestApp {
    // Packets are decoded as the CLI composes the server: with the packets crate's adapter.
    let ops = configure(
        MissionOps::new(served, Arc::new(SystemClock), Arc::new(UuidV7Ids))
            .with_packet_decoding(Arc::new(missionops_packets::XtceDecoding)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let (tx, rx) = oneshot::channel::<()>();
    let state = AppState::new(ops, config);
    let server = tokio::spawn(serve(listener, state, async move {
        let _ = rx.await;
    }));
    TestApp {
        address,
        client: Client::new(),
        store,
        shutdown: Some(tx),
        server: Some(server),
        _dir: dir,
    }
}

/// Asserts the SPEC §5 error shape and returns its `message`.
pub fn assert_error_shape(body: &Value) -> String {
    assert!(body["error"].is_string(), "error kind missing: {body}");
    assert!(body["message"].is_string(), "message missing: {body}");
    assert!(body["details"].is_array(), "details missing: {body}");
    body["message"].as_str().unwrap_or_default().to_owned()
}

/// The request for the page after `response`'s, from its `Link: <…>; rel="next"` header
/// (RFC 8288), or `None` on the last page.
pub fn next_page(response: &Response) -> Option<String> {
    let link = response.headers().get("link")?.to_str().ok()?;
    assert!(link.ends_with(">; rel=\"next\""), "{link}");
    let target = link
        .trim_start_matches('<')
        .split_once('>')
        .expect("a <target>")
        .0;
    Some(target.to_owned())
}
