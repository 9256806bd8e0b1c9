//! Black-box tests of event delivery in the `missionops` binary: `serve` with its delivery
//! flags, and `outbox stats|list|retry`, each on a fresh SQLite file. With the `nats` feature,
//! the acceptance test: `serve --nats-url` delivers every event of a `seed-demo-data` run to a
//! JetStream server of the test's own.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::{Db, Serving, http, refused_port};

const END: &str = "2025-01-01T00:00:00Z";

impl Db {
    /// Starts `serve` on a port of its own with `extra` flags; waits until it answers.
    fn serve(&self, extra: &[&str]) -> Server {
        let mut args = vec!["serve"];
        args.extend_from_slice(extra);
        Server(Serving::start(self.command(&args)))
    }

    /// The newest event's sequence: how many events were recorded (sequences are gap-free).
    fn event_count(&self) -> u64 {
        let events = self.json(&["list-events", "--limit", "1"]);
        events[0]["sequence"].as_u64().expect("an event")
    }
}

struct Server(Serving);

impl Server {
    fn stats(&self) -> Value {
        let (status, body) =
            http(self.0.port, "GET", "/outbox/stats", "").expect("GET /outbox/stats");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("stats JSON")
    }

    /// Polls `GET /outbox/stats` until `done` holds.
    fn wait_for(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let stats = self.stats();
            if done(&stats) {
                return stats;
            }
            assert!(Instant::now() < deadline, "{what}: stats stayed {stats}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then asserts a clean exit; returns the logs.
    fn stop(mut self) -> String {
        let child = &mut self.0.child;
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("serve did not stop");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let logs = self.0.finish_log();
        assert!(status.success(), "serve exited with {status}: {logs}");
        logs
    }
}

#[test]
fn undeliverable_events_become_dead_letters_that_outbox_list_shows_and_retry_puts_back() {
    let db = Db::new();
    db.run(&["seed-demo-data", "10", "60", "--seed", "3", "--end", END])
        .ok();
    let total = db.event_count();
    assert!(total >= 8, "seeding records events: {total}");
    assert_eq!(
        db.json(&["outbox", "stats"]),
        serde_json::json!({"pending": total, "delivered": 0, "dead": 0})
    );

    // A webhook nobody listens on, one attempt each: every event becomes a dead letter.
    let (_held, port) = refused_port();
    let nobody = format!("http://127.0.0.1:{port}/hook");
    let server = db.serve(&[
        "--webhook-url",
        &nobody,
        "--webhook-secret",
        "s3cret",
        "--outbox-max-attempts",
        "1",
        "--outbox-poll-ms",
        "20",
    ]);
    let stats = server.wait_for("every event dead", |s| s["dead"] == total);
    assert_eq!(stats["pending"], 0);
    assert_eq!(stats["delivered"], 0);
    let logs = server.stop();
    assert!(logs.contains("event delivery started"), "{logs}");
    assert!(logs.contains("dead letter"), "{logs}");
    assert!(!logs.contains("s3cret"), "the secret is never logged");

    let dead = db.json(&["outbox", "list"]);
    let dead = dead.as_array().expect("array");
    assert_eq!(dead.len() as u64, total);
    for (i, letter) in dead.iter().enumerate() {
        assert_eq!(letter["sequence"], i as u64 + 1, "lowest sequence first");
        assert_eq!(letter["attempts"], 1);
        assert_eq!(letter["event"]["sequence"], letter["sequence"]);
        let error = letter["lastError"].as_str().unwrap_or_default();
        assert!(error.contains("could not connect"), "{letter}");
    }
    let table = db.run(&["outbox", "list", "--limit", "2"]).ok();
    assert!(table.contains("SPACECRAFT_REGISTERED"), "{table}");
    assert!(table.contains("could not connect"), "{table}");
    assert_eq!(
        table
            .lines()
            .filter(|l| l.contains("could not connect"))
            .count(),
        2,
        "{table}"
    );

    let run = db.run(&["outbox", "retry", "1", "2", "99999"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("2 dead letters back"), "{run:#?}");
    assert!(
        run.stderr.contains("99999 is not a dead letter"),
        "{run:#?}"
    );
    assert_eq!(
        db.json(&["outbox", "stats"]),
        serde_json::json!({"pending": 2, "delivered": 0, "dead": total - 2})
    );
    let retried = db.json(&["outbox", "retry", "--all"]);
    let expected: Vec<u64> = (3..=total).collect();
    assert_eq!(retried["retried"], serde_json::json!(expected));
    assert_eq!(
        db.json(&["outbox", "stats"]),
        serde_json::json!({"pending": total, "delivered": 0, "dead": 0})
    );
    // Neither sequences nor --all is a usage error.
    assert_eq!(db.run(&["outbox", "retry"]).code, 2);
}

#[test]
fn the_refused_port_refuses_connections_and_nobody_else_can_take_it() {
    let (_held, port) = refused_port();
    let refused = std::net::TcpStream::connect(("127.0.0.1", port)).expect_err("refused");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_err(),
        "port {port} must stay ours"
    );
}

#[test]
fn bad_delivery_settings_exit_2_with_one_line_and_open_nothing() {
    let db = Db::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["serve", "--webhook-url", "http://127.0.0.1:9/x"],
            "error: webhook-secret: is required",
        ),
        (
            &["serve", "--webhook-url", "ftp://x", "--webhook-secret", "s"],
            "error: webhook-url: must be an absolute http:// or https:// URL",
        ),
        (
            &["serve", "--outbox-batch-size", "0"],
            "error: outbox-batch-size: must be from 1 to",
        ),
        (
            &["serve", "--outbox-max-attempts", "0"],
            "error: outbox-max-attempts: must be at least 1",
        ),
        (
            &["serve", "--outbox-poll-ms", "0"],
            "error: outbox-poll-ms: must be more than 0",
        ),
    ];
    for (args, expected) in cases {
        let run = db.run(args);
        assert_eq!(run.code, 2, "{args:?}: {run:#?}");
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {run:#?}");
        assert!(lines[0].starts_with(expected), "{args:?}: {run:#?}");
    }
    assert!(
        !db.dir.path().join("ops.db").exists(),
        "bad settings are reported before the database is opened"
    );
}

#[cfg(not(feature = "nats"))]
#[test]
fn a_nats_url_without_the_nats_feature_says_how_to_get_it() {
    let db = Db::new();
    let run = db.run(&["serve", "--nats-url", "nats://127.0.0.1:4222"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr
            .contains("nats-url: this build has no NATS support"),
        "{run:#?}"
    );
}

#[cfg(feature = "nats")]
#[path = "../../missionops-delivery/tests/support/nats_server.rs"]
mod nats_server;

#[cfg(feature = "nats")]
#[test]
fn serve_with_nats_delivers_every_event_of_a_seed_run_to_jetstream() {
    use std::collections::{HashMap, HashSet};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let nats = runtime.block_on(nats_server::NatsServer::start());
    let db = Db::new();
    let server = db.serve(&[
        "--nats-url",
        &nats.url(),
        "--nats-create-stream",
        "--outbox-poll-ms",
        "50",
    ]);
    // Seed while the server runs, from another process on the same file.
    db.run(&["seed-demo-data", "120", "60", "--seed", "42", "--end", END])
        .ok();
    let total = db.event_count();
    assert!(total > 20, "the seed recorded events: {total}");
    let stats = server.wait_for("every event delivered", |s| {
        s["pending"] == 0 && s["delivered"] == total
    });
    assert_eq!(stats["dead"], 0);
    let logs = server.stop();
    assert!(logs.contains("event delivery started"), "{logs}");

    // JetStream holds exactly one message per event, in sequence order per spacecraft.
    let messages = runtime.block_on(async {
        let client = async_nats::connect(nats.url()).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        let mut stream = js
            .get_stream("MISSIONOPS_EVENTS")
            .await
            .expect("the stream serve created");
        let state = stream.info().await.expect("info").state.clone();
        let mut messages = Vec::new();
        for sequence in state.first_sequence..=state.last_sequence {
            let message = stream.get_raw_message(sequence).await.expect("message");
            let id = message
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str().to_owned())
                .expect("Nats-Msg-Id");
            let event: Value = serde_json::from_slice(&message.payload).expect("event JSON");
            messages.push((message.subject.to_string(), id, event));
        }
        messages
    });
    assert_eq!(messages.len() as u64, total, "one message per event");
    let ids: HashSet<&str> = messages.iter().map(|(_, id, _)| id.as_str()).collect();
    assert_eq!(ids.len() as u64, total, "no duplicates");
    let sequences: HashSet<u64> = messages
        .iter()
        .map(|(_, _, e)| e["sequence"].as_u64().expect("sequence"))
        .collect();
    assert_eq!(sequences, (1..=total).collect::<HashSet<u64>>());
    let mut last: HashMap<String, u64> = HashMap::new();
    for (subject, id, event) in &messages {
        assert_eq!(event["id"], id.as_str());
        let spacecraft = event["spacecraftId"].as_str().unwrap_or("_").to_owned();
        let expected = format!(
            "missionops.events.default.{spacecraft}.{}",
            event["type"].as_str().expect("type")
        );
        assert_eq!(subject, &expected);
        let sequence = event["sequence"].as_u64().expect("sequence");
        if let Some(previous) = last.insert(spacecraft.clone(), sequence) {
            assert!(
                previous < sequence,
                "{spacecraft}: {sequence} after {previous}"
            );
        }
    }
    drop(nats);
}
