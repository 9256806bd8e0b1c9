//! Connection limits: a client slow with its headers and an idle keep-alive client are
//! disconnected after the configured time while other requests keep being answered, and a
//! connection over the cap is answered 503 in the error shape.

use std::time::{Duration, Instant};

use missionops_http::HttpConfig;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, assert_error_shape, spawn_app_with};

const SHORT: Duration = Duration::from_millis(400);
const LONG: Duration = Duration::from_secs(30);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Reads one response (headers and a `content-length` body) off `stream`: its status line,
/// its header block and its body.
async fn read_response(stream: &mut TcpStream) -> (String, String, Vec<u8>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "closed before a whole response head arrived");
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).expect("head text");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().expect("length"))
        })
        .expect("content-length");
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "closed before the whole body arrived");
        buffer.extend_from_slice(&chunk[..n]);
    }
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, head, buffer[head_end..head_end + length].to_vec())
}

/// Waits for the server to close `stream` and returns how long that took from `since`;
/// panics when it is still open after `within`.
async fn closed_within(stream: &mut TcpStream, since: Instant, within: Duration) -> Duration {
    let mut chunk = [0u8; 1024];
    match tokio::time::timeout(within, stream.read(&mut chunk)).await {
        Ok(Ok(0)) | Ok(Err(_)) => since.elapsed(),
        Ok(Ok(n)) => panic!(
            "the server answered instead of closing: {:?}",
            String::from_utf8_lossy(&chunk[..n])
        ),
        Err(_) => panic!("the connection was still open after {within:?}"),
    }
}

async fn healthz_ok(app: &TestApp) {
    let (status, _) = app.get_json("/healthz").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_client_sending_its_headers_a_byte_at_a_time_is_disconnected() {
    let app = spawn_app_with(HttpConfig {
        header_read_timeout: SHORT,
        idle_timeout: LONG,
        ..HttpConfig::default()
    })
    .await;
    let stream = connect(&app).await;
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    // About 4 s of headers at one byte every 40 ms; the server must not wait for them.
    let head = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: {}\r\n\r\n",
        "a".repeat(60)
    );
    let drip = tokio::spawn(async move {
        for byte in head.bytes() {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    });
    // Other clients are answered meanwhile.
    for _ in 0..3 {
        healthz_ok(&app).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut chunk = [0u8; 1024];
    let outcome = tokio::time::timeout(Duration::from_secs(3), reader.read(&mut chunk)).await;
    let elapsed = started.elapsed();
    drip.abort();
    match outcome {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(n)) => panic!(
            "the server answered a head it never fully got: {:?}",
            String::from_utf8_lossy(&chunk[..n])
        ),
        Err(_) => panic!("a slow client was still connected after {elapsed:?}"),
    }
    assert!(
        elapsed >= SHORT,
        "closed after {elapsed:?}, before the header timeout"
    );
    healthz_ok(&app).await;
}

#[tokio::test]
async fn a_client_that_connects_and_says_nothing_is_disconnected_after_the_header_timeout() {
    let app = spawn_app_with(HttpConfig {
        header_read_timeout: SHORT,
        idle_timeout: LONG,
        ..HttpConfig::default()
    })
    .await;
    let mut silent = connect(&app).await;
    let elapsed = closed_within(&mut silent, Instant::now(), Duration::from_secs(3)).await;
    assert!(elapsed >= SHORT, "closed after {elapsed:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_and_not_while_used() {
    let app = spawn_app_with(HttpConfig {
        header_read_timeout: LONG,
        idle_timeout: SHORT,
        ..HttpConfig::default()
    })
    .await;
    let mut stream = connect(&app).await;
    // Requests closer together than the idle timeout keep the connection, for longer in
    // total than the timeout.
    let started = Instant::now();
    for request in 0..5 {
        if request > 0 {
            tokio::time::sleep(SHORT / 2).await;
        }
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("write");
        let (status, _, body) = read_response(&mut stream).await;
        assert!(status.contains(" 200 "), "{status}");
        assert_eq!(body, br#"{"status":"ok"}"#);
    }
    assert!(started.elapsed() > SHORT);
    let idle_from = Instant::now();
    let elapsed = closed_within(&mut stream, idle_from, Duration::from_secs(3)).await;
    assert!(
        elapsed >= SHORT - SHORT / 2,
        "closed after {elapsed:?} of idling"
    );
    healthz_ok(&app).await;
}

#[tokio::test]
async fn a_connection_over_the_cap_is_answered_503_with_retry_after_and_then_served_again() {
    let app = spawn_app_with(HttpConfig {
        max_connections: 2,
        header_read_timeout: LONG,
        idle_timeout: LONG,
        ..HttpConfig::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("write");
        let (status, _, _) = read_response(&mut stream).await;
        assert!(status.contains(" 200 "), "{status}");
        held.push(stream);
    }

    let mut third = connect(&app).await;
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let (status, head, body) = read_response(&mut third).await;
    assert!(status.contains(" 503 "), "{status}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("\r\nretry-after: 1\r\n"), "{head}");
    assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
    let body: Value = serde_json::from_slice(&body).expect("json");
    let message = assert_error_shape(&body);
    assert_eq!(body["error"], "Unavailable");
    assert!(message.contains("connections"), "{message}");
    closed_within(&mut third, Instant::now(), Duration::from_secs(3)).await;

    // A closed connection gives its place back.
    held.pop();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let response = reqwest::Client::new()
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("request");
        if response.status() == StatusCode::OK {
            break;
        }
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(Instant::now() < deadline, "no place came free");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_event_stream_is_not_idle_and_outlives_the_idle_timeout() {
    use futures_util::StreamExt;

    let app = spawn_app_with(HttpConfig {
        header_read_timeout: SHORT,
        idle_timeout: SHORT,
        ..HttpConfig::default()
    })
    .await;
    let response = app.get("/events/stream").await;
    assert_eq!(response.status(), StatusCode::OK);
    tokio::time::sleep(SHORT * 3).await;
    let (status, _) = app
        .post_json(
            "/spacecraft",
            &serde_json::json!({"id": "SC-STREAM", "name": "Streamed"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !seen.contains("SC-STREAM") {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("the event arrives in time")
            .expect("the stream is still open")
            .expect("chunk");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}
