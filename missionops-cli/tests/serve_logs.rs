//! What `serve` writes to stderr about requests: nothing for a successful one by default, an
//! info line for each with `--access-log` (or `MISSIONOPS_ACCESS_LOG`).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{Db, Serving, http};

/// Serves with `extra` arguments and `env`, sends one snapshot, stops with SIGTERM and returns
/// the server's log.
fn log_of_one_request(extra: &[&str], env: &[(&str, &str)]) -> String {
    let db = Db::new();
    let mut args = vec!["serve"];
    args.extend_from_slice(extra);
    let mut command = db.command(&args);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut serving = Serving::start(command);
    let body =
        r#"{"spacecraftId":"SC-LOG","timestamp":"2025-01-01T00:00:00Z","parameters":{"t":1}}"#;
    let (status, answer) = http(serving.port, "POST", "/telemetry", body).expect("POST /telemetry");
    assert_eq!(status, 201, "{answer}");
    let killed = Command::new("kill")
        .args(["-TERM", &serving.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while serving.child.try_wait().expect("try_wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "the server did not stop within 20 s: {}",
            serving.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let logs = serving.finish_log();
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
