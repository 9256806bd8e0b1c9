//! The operations routes: metrics labels, and `/openapi.json` listing every route served.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn made_up_methods_share_one_metrics_label() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    for method in ["BREW", "PROPFIND", "X-ANYTHING"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = client
            .request(method, app.url("/telemetry"))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("method=\"OTHER\",route=\"/telemetry\",status=\"405\"} 3"),
        "{metrics}"
    );
    for made_up in ["BREW", "PROPFIND", "X-ANYTHING"] {
        assert!(!metrics.contains(made_up), "{metrics}");
    }
}

/// Every route of SPEC §5 this service serves (the alarm actions arrive with the alarm issue).
const SPEC_ROUTES: &[(&str, &str)] = &[
    ("post", "/telemetry"),
    ("get", "/telemetry"),
    ("post", "/telemetry/batch"),
    ("post", "/telemetry/ndjson"),
    ("get", "/telemetry/analyze"),
    ("get", "/telemetry/latest"),
    ("get", "/telemetry/series"),
    ("get", "/spacecraft"),
    ("post", "/spacecraft"),
    ("get", "/spacecraft/{id}"),
    ("get", "/spacecraft/{id}/status"),
    ("get", "/spacecraft/{id}/config"),
    ("put", "/spacecraft/{id}/config"),
    ("get", "/spacecraft/{id}/config/history"),
    ("post", "/spacecraft/{id}/detect"),
    ("get", "/fleet/status"),
    ("get", "/events"),
    ("get", "/events/stream"),
    ("post", "/docs"),
    ("get", "/docs"),
    ("get", "/docs/search"),
    ("get", "/docs/{id}"),
    ("put", "/docs/{id}"),
    ("get", "/anomalies"),
    ("get", "/anomalies/timeline"),
    ("get", "/anomalies/{id}/procedures"),
    ("get", "/alarms"),
    ("post", "/alarms/{id}/acknowledge"),
    ("post", "/alarms/{id}/shelve"),
    ("post", "/alarms/{id}/unshelve"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/outbox/stats"),
    ("get", "/openapi.json"),
    ("post", "/keys"),
    ("get", "/keys"),
    ("delete", "/keys/{id}"),
    // SPEC §11.
    ("put", "/spacecraft/{id}/packet-definition"),
    ("get", "/spacecraft/{id}/packet-definition"),
    ("post", "/spacecraft/{id}/packets"),
    // SPEC §9, the console's sign-in.
    ("post", "/session"),
    ("get", "/session"),
    ("delete", "/session"),
    // SPEC §10, with the `console` feature.
    #[cfg(feature = "console")]
    ("get", "/"),
    #[cfg(feature = "console")]
    ("get", "/console/{file}"),
];

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_served() {
    let app = spawn_app().await;
    let (status, doc) = app.get_json("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let expected: BTreeSet<(String, String)> = SPEC_ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, expected);

    // And the router serves each documented route: no "no route" 404 and no 405.
    for (method, path) in &documented {
        if path == "/events/stream" {
            continue; // an endless response; covered by the SSE tests
        }
        let concrete = path.replace("{id}", "x");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let response = app
            .client
            .request(method.clone(), app.url(&concrete))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let no_route = body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no route"));
        assert!(!no_route, "{method} {path} is documented but not served");
        assert!(status.as_u16() < 500, "{method} {path} answered {status}");
    }
}
