//! `keys create|list|revoke` and what `serve` does about keys: the open-mode start-up line,
//! refusing a non-loopback address with no key, and a key created or revoked by the CLI
//! taking effect on a running server within a second.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{Db, Serving};

/// `GET path` with an optional bearer key; the status code.
fn get_status(port: u16, path: &str, key: Option<&str>) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status")
}

fn wait_for_status(port: u16, key: Option<&str>, want: u16) {
    let since = Instant::now();
    loop {
        let status = get_status(port, "/spacecraft", key);
        if status == want {
            return;
        }
        assert!(
            since.elapsed() < Duration::from_millis(1_500),
            "still {status} after 1.5 s, want {want}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn keys_are_created_once_listed_without_secrets_and_revoked() {
    let db = Db::new();
    let run = db.run(&[
        "keys",
        "create",
        "--name",
        "alice",
        "--role",
        "operator",
        "--expires-in",
        "90d",
    ]);
    assert_eq!(run.code, 0, "{run:#?}");
    let key = run.stdout.trim().to_owned();
    assert!(key.starts_with("mo_"), "{key}");
    assert!(run.stderr.contains("shown only now"), "{run:#?}");
    let secret = key.rsplit_once('_').expect("secret").1.to_owned();
    let id = key
        .trim_start_matches("mo_")
        .rsplit_once('_')
        .expect("id")
        .0
        .to_owned();

    let listed = db.run(&["keys", "list"]).ok();
    assert!(
        listed.contains(&id) && listed.contains("alice") && listed.contains("operator"),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "a listing never shows a secret");
    let json = db.json(&["--json", "keys", "list"]);
    assert_eq!(json[0]["id"], id.as_str());
    assert!(json[0]["expiresAt"].is_string());
    assert!(!json.to_string().contains(&secret));
    assert_eq!(
        db.json(&["--json", "keys", "list", "--tenant", "other"]),
        serde_json::json!([])
    );

    db.run(&["keys", "revoke", &id]).ok();
    let json = db.json(&["--json", "keys", "list"]);
    assert!(json[0]["revokedAt"].is_string(), "{json}");
    let line = db.run(&["keys", "revoke", "nosuchkey0000"]).fails(3);
    assert!(line.contains("nosuchkey0000"), "{line}");
    let line = db
        .run(&["keys", "create", "--name", "x", "--role", "root"])
        .fails(2);
    assert!(line.contains("role"), "{line}");
}

#[test]
fn serve_refuses_a_non_loopback_address_with_no_key_unless_allowed() {
    let db = Db::new();
    let line = db.run(&["serve", "--bind", "0.0.0.0:0"]).fails(2);
    assert!(line.contains("missionops keys create"), "{line}");
    assert!(line.contains("--allow-anonymous"), "{line}");
}

#[test]
fn a_key_created_and_revoked_by_the_cli_takes_effect_on_a_running_server_within_a_second() {
    let db = Db::new();
    let serving = Serving::start(db.command(&["serve"]));
    assert!(
        serving
            .log()
            .contains("running open as admin of tenant default"),
        "{}",
        serving.log()
    );
    assert_eq!(get_status(serving.port, "/spacecraft", None), 200);
    let key = db
        .run(&["keys", "create", "--name", "admin", "--role", "admin"])
        .ok()
        .trim()
        .to_owned();
    wait_for_status(serving.port, None, 401);
    assert_eq!(get_status(serving.port, "/spacecraft", Some(&key)), 200);
    assert_eq!(get_status(serving.port, "/healthz", None), 200);
    let id = key
        .trim_start_matches("mo_")
        .rsplit_once('_')
        .expect("id")
        .0
        .to_owned();
    db.run(&["keys", "revoke", &id]).ok();
    wait_for_status(serving.port, Some(&key), 401);
    let log = serving.log();
    assert!(
        !log.contains(key.rsplit_once('_').expect("secret").1),
        "the secret reached the log"
    );
}
