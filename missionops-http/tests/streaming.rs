//! `GET /telemetry/analyze` over a time window and `GET /anomalies/timeline` are streamed
//! bodies: read in pages of 3 they answer the very bytes they answer read in one page, for
//! compat-only rules (stateless) and beyond-compat rules (state carried across pages), across
//! several chunks; detect in pages of 3 persists every anomaly of the window.

use std::sync::Arc;

use missionops_core::{MissionOps, Store};
use missionops_http::{AppState, HttpConfig, serve};
use missionops_store::{SqliteStore, SystemClock, UuidV7Ids};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// A server over `store` reading windows in pages of `page` snapshots; stopped on drop.
async fn server(store: Arc<dyn Store>, page: usize) -> (String, tokio::sync::oneshot::Sender<()>) {
    let ops =
        MissionOps::new(store, Arc::new(SystemClock), Arc::new(UuidV7Ids)).with_analysis_page(page);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(
        listener,
        AppState::new(ops, HttpConfig::default()),
        async move {
            let _ = rx.await;
        },
    ));
    (address, tx)
}

#[tokio::test]
async fn a_window_read_in_small_pages_answers_the_bytes_of_one_page() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open_path(dir.path().join("missionops.db"))
            .await
            .expect("open"),
    );
    let (paged, _stop_paged) = server(Arc::clone(&store), 3).await;
    let (whole, _stop_whole) = server(store, 1_000_000).await;
    let client = Client::new();
    let configs = [
        (
            "SC-COMPAT",
            json!({"temp": {"warnHigh": 45, "critHigh": 70}, "volt": {"warnLow": 27}}),
        ),
        (
            "SC-STATE",
            json!({"temp": {"warnHigh": 45, "persistence": 2, "deadband": 3,
                             "maxRate": {"warn": 20, "crit": 40}, "staleAfterSec": 5},
                   "volt": {"warnLow": 27, "staleAfterSec": 3}}),
        ),
    ];
    for (id, rules) in &configs {
        let mut snapshots = Vec::new();
        let mut second = 0_i64;
        for i in 0..1_000_i64 {
            second += [0, 1, 1, 7, 1][usize::try_from(i % 5).expect("index")];
            let temp = [20, 50, 80, 44, 90, 10, 46][usize::try_from(i % 7).expect("index")];
            let mut parameters = json!({"temp": temp, "mode": "CRUISE"});
            if i % 3 != 0 {
                parameters["volt"] = json!(24 + (i % 4) * 2);
            }
            snapshots.push(json!({
                "id": format!("{id}-{i:04}"),
                "timestamp": format!("2025-01-01T{:02}:{:02}:{:02}Z", second / 3600, second / 60 % 60, second % 60),
                "parameters": parameters,
            }));
        }
        for chunk in snapshots.chunks(500) {
            let response = client
                .post(format!("{paged}/telemetry/batch"))
                .json(&json!({"spacecraftId": id, "snapshots": chunk}))
                .send()
                .await
                .expect("batch");
            assert_eq!(response.status(), StatusCode::CREATED);
        }
        let response = client
            .put(format!("{paged}/spacecraft/{id}/config"))
            .json(&json!({"parameters": rules}))
            .send()
            .await
            .expect("config");
        assert!(response.status().is_success(), "{}", response.status());
        let query = format!(
            "/telemetry/analyze?spacecraftId={id}&from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z"
        );
        let answer = |base: String| {
            let client = client.clone();
            let url = format!("{base}{query}");
            async move {
                let response = client.get(url).send().await.expect("analyze");
                assert_eq!(response.status(), StatusCode::OK);
                assert_eq!(
                    response.headers()["content-type"],
                    "application/json; charset=utf-8"
                );
                response.bytes().await.expect("body")
            }
        };
        let by_pages = answer(paged.clone()).await;
        let at_once = answer(whole.clone()).await;
        assert!(
            by_pages == at_once,
            "{id}: paged and one-page answers differ"
        );
        let anomalies: Vec<Value> = serde_json::from_slice(&by_pages).expect("a JSON array");
        assert!(
            by_pages.len() > 64 * 1024 && anomalies.len() > 300,
            "{id}: the answer must span several chunks ({} bytes, {} anomalies)",
            by_pages.len(),
            anomalies.len()
        );
        let empty = client
            .get(format!(
                "{paged}/telemetry/analyze?spacecraftId={id}&from=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z"
            ))
            .send()
            .await
            .expect("analyze");
        assert_eq!(empty.bytes().await.expect("body").as_ref(), b"[]");

        // Detect in pages of 3 persists every anomaly of the window; the time line, read in
        // pages of 3, answers the bytes of one page.
        let report: Value = client
            .post(format!("{paged}/spacecraft/{id}/detect"))
            .json(&json!({"from": "2025-01-01T00:00:00Z", "to": "2025-01-02T00:00:00Z"}))
            .send()
            .await
            .expect("detect")
            .json()
            .await
            .expect("report");
        assert_eq!(report["detected"], json!(anomalies.len()), "{report}");
        let timeline = format!(
            "/anomalies/timeline?spacecraftId={id}&from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z"
        );
        let read = |base: &str| {
            let request = client.get(format!("{base}{timeline}"));
            async move {
                let response = request.send().await.expect("timeline");
                assert_eq!(response.status(), StatusCode::OK);
                response.bytes().await.expect("body")
            }
        };
        let by_pages = read(&paged).await;
        assert!(by_pages == read(&whole).await, "{id}: timelines differ");
        let stored: Vec<Value> = serde_json::from_slice(&by_pages).expect("a JSON array");
        assert_eq!(json!(stored.len()), report["persisted"]);
    }
}
