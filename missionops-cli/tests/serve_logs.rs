//! What `serve` writes to stderr about requests: nothing for a successful one by default, an
//! info line for each with `--access-log` (or `MISSIONOPS_ACCESS_LOG`).

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Db, free_port, http, wait_until_serving};

/// Serves with `extra` arguments and `env`, sends one snapshot, stops with SIGTERM and returns
/// the server's log.
fn log_of_one_request(extra: &[&str], env: &[(&str, &str)]) -> String {
    let db = Db::new();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--bind", &bind];
    args.extend_from_slice(extra);
    let mut command = db.command(&args);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    wait_until_serving(&mut child, port);
    let body =
        r#"{"spacecraftId":"SC-LOG","timestamp":"2025-01-01T00:00:00Z","parameters":{"t":1}}"#;
    let (status, answer) = http(port, "POST", "/telemetry", body).expect("POST /telemetry");
    assert_eq!(status, 201, "{answer}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not stop within 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut logs = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut logs);
    }
    assert!(logs.contains("listening"), "no start-up log: {logs}");
    logs
}

/// The log lines about requests to `path`.
fn lines_about<'a>(logs: &'a str, path: &str) -> Vec<&'a str> {
    let field = format!("path={path} ");
    logs.lines().filter(|l| l.contains(&field)).collect()
}

#[test]
fn serve_logs_no_line_for_a_successful_request_by_default() {
    let logs = log_of_one_request(&[], &[]);
    assert_eq!(
        lines_about(&logs, "/telemetry"),
        Vec::<&str>::new(),
        "{logs}"
    );
    assert_eq!(lines_about(&logs, "/healthz"), Vec::<&str>::new(), "{logs}");
}

#[test]
fn serve_with_access_log_logs_every_request() {
    for (extra, env) in [
        (&["--access-log"][..], &[][..]),
        (&[][..], &[("MISSIONOPS_ACCESS_LOG", "true")][..]),
    ] {
        let logs = log_of_one_request(extra, env);
        let lines = lines_about(&logs, "/telemetry");
        assert_eq!(lines.len(), 1, "{logs}");
        assert!(
            lines[0].contains("INFO") && lines[0].contains("status=201"),
            "{logs}"
        );
        assert!(
            !lines_about(&logs, "/healthz").is_empty(),
            "the readiness polls are logged too: {logs}"
        );
    }
}
