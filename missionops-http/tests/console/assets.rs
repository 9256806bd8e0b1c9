//! The console's page and assets: public, cached by `ETag`, under a strict
//! `Content-Security-Policy`, gzip-compressed, and light (< 300 KB before compression).

use missionops_core::Role;
use missionops_http::console::ASSETS;
use reqwest::StatusCode;

use crate::ConsoleApp;

#[tokio::test]
async fn the_page_is_public_with_cache_and_security_headers() {
    let app = ConsoleApp::spawn().await;
    // Keys exist: the API needs one, the page does not (it holds no data).
    let _ = app.key("k", Role::Viewer).await;
    let response = app.client.get(app.url("/")).send().await.expect("page");
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(header("content-type").starts_with("text/html"));
    let csp = header("content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("cache-control"), "no-cache");
    let etag = header("etag");
    assert!(etag.starts_with('"'), "{etag}");
    let again = app
        .client
        .get(app.url("/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("revalidate");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let script = app
        .client
        .get(app.url("/console/app.js"))
        .send()
        .await
        .expect("js");
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/javascript")
    );
    let licence = app
        .client
        .get(app.url("/console/uPlot.LICENSE.txt"))
        .send()
        .await
        .expect("licence");
    assert!(licence.text().await.expect("text").contains("MIT License"));
    let (status, body) = app
        .call(reqwest::Method::GET, "/console/nope.js", "", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "NotFound");
    let (status, _) = app
        .call(reqwest::Method::GET, "/spacecraft", "", None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the API still needs a key"
    );
}

#[tokio::test]
async fn the_page_weighs_under_300_kb_and_is_served_compressed() {
    let app = ConsoleApp::spawn().await;
    let page = app.client.get(app.url("/")).send().await.expect("page");
    let html = page.text().await.expect("html");
    let mut total = html.len();
    let mut compressed_total = 0usize;
    for asset in ASSETS
        .iter()
        .filter(|a| a.name != "index.html" && !a.name.ends_with(".txt"))
    {
        assert!(
            html.contains(&format!("/console/{}", asset.name)) || asset.name == "markdown.js",
            "{} is loaded by the page",
            asset.name
        );
        let response = app
            .client
            .get(app.url(&format!("/console/{}", asset.name)))
            .send()
            .await
            .expect("asset");
        total += response.bytes().await.expect("bytes").len();
        let gzipped = app
            .client
            .get(app.url(&format!("/console/{}", asset.name)))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .expect("asset");
        assert_eq!(
            gzipped
                .headers()
                .get("content-encoding")
                .and_then(|v| v.to_str().ok()),
            Some("gzip"),
            "{} is compressed",
            asset.name
        );
        compressed_total += gzipped.bytes().await.expect("bytes").len();
    }
    println!("console page weight: {total} bytes, {compressed_total} gzipped (assets)");
    assert!(total < 300 * 1024, "the page weighs {total} bytes");
    assert!(
        compressed_total < total / 2,
        "gzip roughly halves it at least"
    );
}
