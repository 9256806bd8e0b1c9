//! The server over TLS (feature `tls`): certificates made by the test (a CA and a server
//! certificate for `localhost` it signs), a rustls client that trusts only that CA, and raw
//! sockets for what clients that are not TLS clients get.
//!
//! - https answers; plain HTTP sent to the TLS port gets no HTTP response;
//! - the connection limits hold under TLS: a client that never starts the handshake, or
//!   finishes it and sends no request, is disconnected after the header-read timeout; an idle
//!   TLS keep-alive connection after the idle timeout; over the cap a TLS client gets 503;
//! - bad certificate and key files are refused, naming the file.

use std::sync::Arc;
use std::time::{Duration, Instant};

use missionops_core::MissionOps;
use missionops_http::{AppState, HttpConfig, TlsConfig, TlsError, serve_tls};
use missionops_store::{MemoryStore, SystemClock, UuidV7Ids};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

const SHORT: Duration = Duration::from_millis(400);
const LONG: Duration = Duration::from_secs(30);

/// A CA, and a certificate for `localhost` signed by it, with its key: all PEM.
struct TestPki {
    ca_der: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
}

fn test_pki() -> TestPki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().expect("CA key");
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let server_key = KeyPair::generate().expect("server key");
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("server params")
        .signed_by(&server_key, &ca, &ca_key)
        .expect("server certificate");
    TestPki {
        ca_der: ca.der().clone(),
        cert_pem: server.pem(),
        key_pem: server_key.serialize_pem(),
    }
}

/// A TLS server on port 0 with `config`, until the returned sender is dropped or fired.
struct TlsApp {
    address: String,
    pki: TestPki,
    /// The application behind the server (keys for the sign-in test).
    ops: MissionOps,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

async fn spawn_tls_app(config: HttpConfig) -> TlsApp {
    let pki = test_pki();
    let tls = TlsConfig::from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes())
        .expect("the test certificate is usable");
    let ops = MissionOps::new(
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    let state = AppState::new(ops.clone(), config);
    let server = tokio::spawn(async move {
        serve_tls(listener, state, tls, async move {
            let _ = stopped.await;
        })
        .await
        .expect("serve");
    });
    TlsApp {
        address,
        pki,
        ops,
        stop: Some(stop),
        server,
    }
}

impl TlsApp {
    fn connector(&self) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        roots.add(self.pki.ca_der.clone()).expect("trust the CA");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }

    async fn tcp(&self) -> TcpStream {
        TcpStream::connect(&self.address).await.expect("connect")
    }

    async fn tls(&self) -> TlsStream<TcpStream> {
        let name = ServerName::try_from("localhost").expect("name");
        self.connector()
            .connect(name, self.tcp().await)
            .await
            .expect("TLS handshake with the test CA")
    }
}

/// Sends `GET path` on `stream` and reads the response head and body (`content-length`).
async fn get<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    path: &str,
    close: bool,
) -> (String, String) {
    let connection = if close { "close" } else { "keep-alive" };
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: {connection}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
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
    let head = String::from_utf8(buffer[..head_end].to_vec()).expect("head");
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
    let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).into_owned();
    (status, body)
}

/// Waits until the server closes `stream` (end of stream or an error) and returns how long
/// that took from `since`; panics when data arrives or it is still open after `within`.
async fn closed_within<S: AsyncRead + Unpin>(
    stream: &mut S,
    since: Instant,
    within: Duration,
) -> Duration {
    let mut chunk = [0u8; 1024];
    match tokio::time::timeout(within, stream.read(&mut chunk)).await {
        Ok(Ok(0) | Err(_)) => since.elapsed(),
        Ok(Ok(n)) => panic!(
            "the server sent data instead of closing: {:?}",
            String::from_utf8_lossy(&chunk[..n])
        ),
        Err(_) => panic!("the connection was still open after {within:?}"),
    }
}

#[tokio::test]
async fn the_console_session_cookie_is_secure_under_tls() {
    let app = spawn_tls_app(HttpConfig::default()).await;
    let key = missionops_http::create_key(
        &app.ops,
        &missionops_core::Caller::open(),
        missionops_core::KeyName::parse("console").expect("name"),
        missionops_core::Role::Viewer,
        None,
    )
    .await
    .expect("key")
    .key;
    let mut stream = app.tls().await;
    let body = format!("{{\"key\":\"{key}\"}}");
    let request = format!(
        "POST /session HTTP/1.1\r\nHost: localhost\r\nOrigin: https://localhost\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let cookie = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a session cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(cookie.contains(part), "{part} missing: {cookie}");
    }
}

#[tokio::test]
async fn https_answers_with_the_test_certificate() {
    let app = spawn_tls_app(HttpConfig::default()).await;
    let mut stream = app.tls().await;
    let (_, connection) = stream.get_ref();
    assert_eq!(
        connection.alpn_protocol(),
        None,
        "the client offered no ALPN; none is forced on it"
    );
    let (status, body) = get(&mut stream, "/healthz", false).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("ok"), "{body}");
    // Keep-alive works over TLS: a second request on the same connection.
    let (status, _) = get(&mut stream, "/spacecraft", true).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_fails_the_handshake() {
    let app = spawn_tls_app(HttpConfig::default()).await;
    let other = test_pki();
    let mut roots = RootCertStore::empty();
    roots.add(other.ca_der).expect("another CA");
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let result = TlsConnector::from(Arc::new(config))
        .connect(
            ServerName::try_from("localhost").expect("name"),
            app.tcp().await,
        )
        .await;
    assert!(result.is_err(), "an unknown issuer is refused");
    // The server is unharmed.
    let (status, _) = get(&mut app.tls().await, "/healthz", true).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn plain_http_to_the_tls_port_gets_no_http_response() {
    let app = spawn_tls_app(HttpConfig::default()).await;
    let mut stream = app.tcp().await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server closes the connection");
    assert!(
        !answer.starts_with(b"HTTP/"),
        "no HTTP response in clear: {:?}",
        String::from_utf8_lossy(&answer)
    );
    // At most a TLS alert record (content type 21).
    assert!(answer.is_empty() || answer[0] == 21, "{answer:?}");
}

#[tokio::test]
async fn a_client_that_never_starts_the_handshake_is_disconnected_after_the_header_timeout() {
    let app = spawn_tls_app(HttpConfig {
        header_read_timeout: SHORT,
        idle_timeout: LONG,
        ..HttpConfig::default()
    })
    .await;
    let started = Instant::now();
    let mut silent = app.tcp().await;
    let took = closed_within(&mut silent, started, Duration::from_secs(5)).await;
    assert!(
        took >= SHORT - Duration::from_millis(50),
        "closed early: {took:?}"
    );
    assert!(took < SHORT * 4, "closed late: {took:?}");
    // Others are served meanwhile and after.
    let (status, _) = get(&mut app.tls().await, "/healthz", true).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn the_handshake_counts_toward_the_header_timeout() {
    let app = spawn_tls_app(HttpConfig {
        header_read_timeout: SHORT,
        idle_timeout: LONG,
        ..HttpConfig::default()
    })
    .await;
    let started = Instant::now();
    // Handshake done, then no request at all: closed at the header timeout from the accept.
    let mut quiet = app.tls().await;
    let took = closed_within(&mut quiet, started, Duration::from_secs(5)).await;
    assert!(
        took >= SHORT - Duration::from_millis(50),
        "closed early: {took:?}"
    );
    assert!(took < SHORT * 4, "closed late: {took:?}");
}

#[tokio::test]
async fn an_idle_tls_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_tls_app(HttpConfig {
        header_read_timeout: LONG,
        idle_timeout: SHORT,
        ..HttpConfig::default()
    })
    .await;
    let mut stream = app.tls().await;
    let (status, _) = get(&mut stream, "/healthz", false).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let answered = Instant::now();
    let took = closed_within(&mut stream, answered, Duration::from_secs(5)).await;
    assert!(
        took >= SHORT - Duration::from_millis(50),
        "closed early: {took:?}"
    );
    assert!(took < SHORT * 4, "closed late: {took:?}");
}

#[tokio::test]
async fn over_the_cap_a_tls_client_is_answered_503() {
    let app = spawn_tls_app(HttpConfig {
        max_connections: 1,
        header_read_timeout: Duration::from_secs(5),
        idle_timeout: LONG,
        ..HttpConfig::default()
    })
    .await;
    // The one place: a keep-alive connection that stays open.
    let mut holder = app.tls().await;
    let (status, _) = get(&mut holder, "/healthz", false).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let (status, body) = get(&mut app.tls().await, "/healthz", false).await;
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    assert!(body.contains("error"), "the error shape: {body}");
    // The place is given back when the holder closes.
    drop(holder);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _) = get(&mut app.tls().await, "/healthz", true).await;
        if status == "HTTP/1.1 200 OK" {
            break;
        }
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- certificate and key files --------------------------------------------------------------

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

#[test]
fn pem_files_load_and_bad_ones_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = test_pki();
    let cert = write(&dir, "server.crt", &pki.cert_pem);
    let key = write(&dir, "server.key", &pki.key_pem);
    TlsConfig::from_pem_files(&cert, &key).expect("a good pair loads");

    let missing = dir.path().join("missing.crt");
    let err = TlsConfig::from_pem_files(&missing, &key).expect_err("missing");
    assert!(matches!(err, TlsError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.crt"), "{err}");

    let garbage = write(&dir, "garbage.crt", "not a certificate\n");
    let err = TlsConfig::from_pem_files(&garbage, &key).expect_err("no PEM");
    assert!(matches!(err, TlsError::Certificate { .. }), "{err:?}");
    assert!(err.to_string().contains("garbage.crt"), "{err}");

    // The certificate given as the key: no private key in it.
    let err = TlsConfig::from_pem_files(&cert, &cert).expect_err("no key");
    assert!(matches!(err, TlsError::Key { .. }), "{err:?}");
    assert!(err.to_string().contains("server.crt"), "{err}");

    // A key of another certificate.
    let other = write(&dir, "other.key", &test_pki().key_pem);
    let err = TlsConfig::from_pem_files(&cert, &other).expect_err("mismatched key");
    assert!(matches!(err, TlsError::Pair { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("server.crt") && text.contains("other.key"),
        "{text}"
    );

    // Messages are one line and never hold key material.
    for err in [
        TlsConfig::from_pem_files(&garbage, &key).expect_err("garbage"),
        TlsConfig::from_pem_files(&cert, &other).expect_err("mismatch"),
    ] {
        let text = err.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
    }
}

#[tokio::test]
async fn shutdown_does_not_wait_for_a_client_stuck_before_its_handshake() {
    let mut app = spawn_tls_app(HttpConfig {
        header_read_timeout: LONG,
        idle_timeout: LONG,
        ..HttpConfig::default()
    })
    .await;
    let mut silent = app.tcp().await;
    // Let the server accept it and start waiting for the handshake.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    drop(app.stop.take());
    tokio::time::timeout(Duration::from_secs(5), &mut app.server)
        .await
        .expect("the server stops without waiting for the header timeout")
        .expect("server task");
    assert!(started.elapsed() < Duration::from_secs(5));
    closed_within(&mut silent, started, Duration::from_secs(1)).await;
}
