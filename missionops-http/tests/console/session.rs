//! Sign-in over HTTP (SPEC §9, the console's paragraph): the cookie's attributes, cookie
//! requests under the role table, the same-origin rule for cookie writes, sign-out,
//! revocation ending sessions, open mode.

use std::time::{Duration, Instant};

use missionops_core::{ApiKeyId, Caller, Role};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::ConsoleApp;

fn telemetry() -> Value {
    json!({"spacecraftId": "SC-1", "timestamp": "2025-01-01T00:00:00Z", "parameters": {"temp": 1}})
}

async fn with_cookie(
    app: &ConsoleApp,
    method: Method,
    path: &str,
    cookie: &str,
    headers: &[(&str, String)],
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("cookie", cookie);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    crate::answer(request).await
}

#[tokio::test]
async fn signing_in_sets_an_http_only_strict_cookie_that_authenticates_reads() {
    let app = ConsoleApp::spawn().await;
    let key = app.key("flight-director", Role::Operator).await;
    let response = app
        .client
        .post(app.url("/session"))
        .json(&json!({"key": key}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("set-cookie")
        .to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{part} missing from {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP: no Secure ({cookie})"
    );
    let secret = key.rsplit_once('_').expect("secret").1;
    assert!(!cookie.contains(secret), "the cookie never holds the key");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["name"], "flight-director");
    assert_eq!(body["role"], "operator");
    assert_eq!(body["signedIn"], true);
    let pair = cookie.split(';').next().expect("pair").to_owned();
    let (status, _) = with_cookie(&app, Method::GET, "/spacecraft", &pair, &[], None).await;
    assert_eq!(status, StatusCode::OK, "a read with the cookie");
    let (status, me) = with_cookie(&app, Method::GET, "/session", &pair, &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["name"], "flight-director");
    let (status, _) = with_cookie(
        &app,
        Method::GET,
        "/spacecraft",
        "mo_session=forged",
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an unknown session");
}

#[tokio::test]
async fn a_bad_key_gets_the_one_401_and_no_cookie() {
    let app = ConsoleApp::spawn().await;
    let key = app.key("k", Role::Viewer).await;
    for bad in ["", "hello", "mo_abcdEFGH1234_00", &format!("{key}0")] {
        let response = app
            .client
            .post(app.url("/session"))
            .json(&json!({"key": bad}))
            .send()
            .await
            .expect("sign in");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad:?}");
        assert!(response.headers().get("set-cookie").is_none());
    }
    let response = app
        .client
        .post(app.url("/session"))
        .json(&json!({}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "no key field");
}

/// Request headers of a case: name and value.
type Headers<'a> = Vec<(&'a str, String)>;

#[tokio::test]
async fn cookie_writes_must_come_from_the_same_origin_and_bearer_writes_need_not() {
    let app = ConsoleApp::spawn().await;
    let key = app.key("ops", Role::Operator).await;
    let cookie = app.sign_in(&key).await;
    let own = app.address.clone();
    let cases: Vec<(&str, Headers<'_>, StatusCode)> = vec![
        (
            "no Origin, no Sec-Fetch-Site",
            vec![],
            StatusCode::FORBIDDEN,
        ),
        (
            "another origin",
            vec![("origin", "http://evil.example".to_owned())],
            StatusCode::FORBIDDEN,
        ),
        (
            "cross-site fetch",
            vec![
                ("sec-fetch-site", "cross-site".to_owned()),
                ("origin", own.clone()),
            ],
            StatusCode::FORBIDDEN,
        ),
        (
            "same-site is not same-origin",
            vec![("sec-fetch-site", "same-site".to_owned())],
            StatusCode::FORBIDDEN,
        ),
        (
            "own Origin",
            vec![("origin", own.clone())],
            StatusCode::CREATED,
        ),
        (
            "same-origin fetch",
            vec![("sec-fetch-site", "same-origin".to_owned())],
            StatusCode::CREATED,
        ),
    ];
    for (what, headers, expected) in cases {
        let (status, body) = with_cookie(
            &app,
            Method::POST,
            "/telemetry",
            &cookie,
            &headers,
            Some(&telemetry()),
        )
        .await;
        assert_eq!(status, expected, "{what}: {body}");
        if expected == StatusCode::FORBIDDEN {
            assert!(
                body["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("origin"),
                "{what}: the 403 says why: {body}"
            );
        }
    }
    let (status, _) = app
        .call(Method::POST, "/telemetry", &key, Some(&telemetry()))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a bearer write has no cookie to forge"
    );
}

#[tokio::test]
async fn cookie_requests_go_through_the_role_table() {
    let app = ConsoleApp::spawn().await;
    let viewer = app.key("watcher", Role::Viewer).await;
    let cookie = app.sign_in(&viewer).await;
    let origin = vec![("origin", app.address.clone())];
    let (status, body) = with_cookie(
        &app,
        Method::POST,
        "/telemetry",
        &cookie,
        &origin,
        Some(&telemetry()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("operator"),
        "{body}"
    );
    let (status, _) = with_cookie(&app, Method::GET, "/keys", &cookie, &[], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "GET /keys needs admin");
    let (status, _) = with_cookie(&app, Method::GET, "/alarms", &cookie, &[], None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn revoking_the_key_ends_its_sessions_within_a_second() {
    let app = ConsoleApp::spawn().await;
    let key = app.key("leaving", Role::Viewer).await;
    let cookie = app.sign_in(&key).await;
    let (status, _) = with_cookie(&app, Method::GET, "/alarms", &cookie, &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let id = key
        .strip_prefix("mo_")
        .and_then(|k| k.rsplit_once('_'))
        .expect("id")
        .0;
    app.ops
        .revoke_key(
            &Caller::open(),
            &ApiKeyId::parse_strict(id).expect("key id"),
        )
        .await
        .expect("revoke");
    let revoked = Instant::now();
    loop {
        let (status, _) = with_cookie(&app, Method::GET, "/alarms", &cookie, &[], None).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            revoked.elapsed() < Duration::from_millis(1_500),
            "the session outlived its key"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, me) = with_cookie(&app, Method::GET, "/session", &cookie, &[], None).await;
    assert_eq!(me["signedIn"], false);
}

#[tokio::test]
async fn signing_out_ends_the_session_and_clears_the_cookie() {
    let app = ConsoleApp::spawn().await;
    let key = app.key("k", Role::Viewer).await;
    let cookie = app.sign_in(&key).await;
    let (status, _) = with_cookie(&app, Method::DELETE, "/session", &cookie, &[], None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a sign-out must be same-origin too"
    );
    let response = app
        .client
        .delete(app.url("/session"))
        .header("cookie", &cookie)
        .header("origin", &app.address)
        .send()
        .await
        .expect("sign out");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("clearing cookie");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let (status, _) = with_cookie(&app, Method::GET, "/alarms", &cookie, &[], None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old cookie no longer works"
    );
}

#[tokio::test]
async fn open_mode_needs_no_sign_in() {
    let app = ConsoleApp::spawn().await;
    let (status, me) = app.call(Method::GET, "/session", "", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["authRequired"], false);
    assert_eq!(me["signedIn"], true);
    let response = app
        .client
        .post(app.url("/session"))
        .json(&json!({"key": "anything"}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("set-cookie").is_none(),
        "no session in open mode"
    );
}

#[tokio::test]
async fn a_cross_site_sign_in_is_refused() {
    let app = ConsoleApp::spawn().await;
    let key = app.key("k", Role::Viewer).await;
    let response = app
        .client
        .post(app.url("/session"))
        .header("origin", "http://evil.example")
        .json(&json!({"key": key}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("set-cookie").is_none());
}
