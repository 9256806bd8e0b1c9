//! `serve --tls-cert FILE --tls-key FILE`: HTTPS with a certificate made by the test (a CA
//! and a `localhost` certificate it signs), plain HTTP to the port answered by nothing, and
//! bad files or a lone flag refused before anything starts.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, ClientConnection, RootCertStore, StreamOwned};

mod support;
use support::{Db, Serving, http};

/// A CA's certificate, and the PEM files of a `localhost` certificate it signed and its key,
/// written in `db`'s directory.
struct Files {
    ca: CertificateDer<'static>,
    cert: PathBuf,
    key: PathBuf,
}

fn files(db: &Db) -> Files {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().expect("CA key");
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &ca, &ca_key)
        .expect("certificate");
    std::fs::write(db.path("server.crt"), cert.pem()).expect("write cert");
    std::fs::write(db.path("server.key"), key.serialize_pem()).expect("write key");
    Files {
        ca: ca.der().clone(),
        cert: db.path("server.crt"),
        key: db.path("server.key"),
    }
}

/// `GET path` over TLS to `localhost` at `port`, trusting only `ca`: the status code and
/// body, or `None` when the server cannot be reached or the handshake fails.
fn https(port: u16, ca: &CertificateDer<'static>, path: &str) -> Option<(u16, String)> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).ok()?;
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .ok()?
            .with_root_certificates(roots)
            .with_no_client_auth();
    let name = ServerName::try_from("localhost").ok()?;
    let connection = ClientConnection::new(Arc::new(config), name).ok()?;
    let tcp = TcpStream::connect(("127.0.0.1", port)).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut tls = StreamOwned::new(connection, tcp);
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    // A server may close without a TLS close_notify; what arrived before still counts.
    let _ = tls.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn serve_with_a_certificate_answers_https_and_nothing_in_clear() {
    let db = Db::new();
    let files = files(&db);
    let ca = files.ca.clone();
    let serving = Serving::start_until(
        db.command(&[
            "serve",
            "--tls-cert",
            path(&files.cert),
            "--tls-key",
            path(&files.key),
        ]),
        move |port| matches!(https(port, &ca, "/healthz"), Some((200, _))),
    );
    assert!(
        serving.log().contains("listening on https://127.0.0.1:"),
        "{}",
        serving.log()
    );
    let (status, body) = https(serving.port, &files.ca, "/spacecraft").expect("https");
    assert_eq!(status, 200, "{body}");
    assert!(
        http(serving.port, "GET", "/healthz", "").is_none(),
        "plain HTTP gets no HTTP answer"
    );
}

#[test]
fn serve_refuses_one_tls_flag_without_the_other() {
    let db = Db::new();
    let files = files(&db);
    for (flag, file, missing) in [
        ("--tls-cert", &files.cert, "--tls-key"),
        ("--tls-key", &files.key, "--tls-cert"),
    ] {
        let run = db.run(&["serve", "--bind", "127.0.0.1:0", flag, path(file)]);
        assert_eq!(run.code, 2, "{run:#?}");
        assert!(run.stderr.contains(missing), "{run:#?}");
    }
}

#[test]
fn serve_refuses_unusable_certificate_files_in_one_line_naming_the_file() {
    let db = Db::new();
    let files = files(&db);
    std::fs::write(db.path("garbage.pem"), "not PEM at all\n").expect("write");
    let garbage = db.path("garbage.pem");
    let missing = db.path("missing.pem");
    let other = Db::new();
    let other_files = files_in(&other);
    let cases = [
        (&missing, &files.key, "tls-cert", "missing.pem"),
        (&garbage, &files.key, "tls-cert", "garbage.pem"),
        (&files.cert, &missing, "tls-key", "missing.pem"),
        (&files.cert, &files.cert, "tls-key", "server.crt"),
        (&files.cert, &other_files, "tls-key", "server.key"),
    ];
    for (cert, key, flag, named) in cases {
        let line = db
            .run(&[
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--tls-cert",
                path(cert),
                "--tls-key",
                path(key),
            ])
            .fails(2);
        assert!(
            line.starts_with(&format!("error: {flag}: ")),
            "{cert:?} {key:?}: {line}"
        );
        assert!(line.contains(named), "{cert:?} {key:?}: {line}");
        assert!(!line.contains("PRIVATE KEY"), "{line}");
    }
}

/// The key of another certificate, in `db`'s directory.
fn files_in(db: &Db) -> PathBuf {
    files(db).key
}
