//! Black-box tests of the `missionops` binary: every command, its success and failure paths,
//! each test on a fresh SQLite file in a temporary directory.

use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;
use support::{Db, Run, Serving, http};

const END: &str = "2025-01-01T00:00:00Z";
const DEMO: [&str; 4] = [
    "Sat-Imager-001",
    "GNSS-Nav-Alpha",
    "GEO-Comms-01",
    "Cube-001",
];

fn snapshot(spacecraft: &str, timestamp: &str, parameters: &str) -> String {
    format!(
        r#"{{"spacecraftId":"{spacecraft}","timestamp":"{timestamp}","parameters":{parameters}}}"#
    )
}

// ---- help ------------------------------------------------------------------------------------

#[test]
fn every_command_has_help_with_an_example() {
    let db = Db::new();
    let commands: &[&[&str]] = &[
        &[],
        &["ingest-telemetry"],
        &["list-telemetry"],
        &["analyze-telemetry"],
        &["list-events"],
        &["search-docs"],
        &["seed-demo-data"],
        &["seed-demo-docs"],
        &["serve"],
        &["migrate"],
        &["spacecraft"],
        &["spacecraft", "add"],
        &["spacecraft", "list"],
        &["spacecraft", "show"],
        &["config"],
        &["config", "get"],
        &["config", "set"],
        &["config", "history"],
        &["detect"],
        &["anomalies"],
        &["anomalies", "list"],
        &["alarms"],
        &["alarms", "list"],
        &["alarms", "ack"],
        &["alarms", "shelve"],
        &["alarms", "unshelve"],
        &["docs"],
        &["docs", "add"],
        &["docs", "show"],
        &["docs", "list"],
        &["status"],
        &["import"],
        &["export"],
        &["packets"],
        &["packets", "define"],
        &["packets", "listen"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let help = db.run(&args).ok();
        assert!(
            help.contains("Example"),
            "{command:?} --help has no example:\n{help}"
        );
    }
    let top = db.run(&["--help"]).ok();
    for code in [
        "0  success",
        "2  invalid input",
        "3  not found",
        "4  conflict",
        "5  unavailable",
    ] {
        assert!(
            top.contains(code),
            "exit status {code:?} is not documented:\n{top}"
        );
    }
    assert!(!db.file().exists(), "help must not open the database");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_locked_by_another_process_exits_5_and_loses_nothing() {
    use sqlx::Connection;

    let db = Db::new();
    let first = snapshot("SC-001", "2025-01-01T00:00:00Z", r#"{"temp":42}"#);
    db.run(&["ingest-telemetry", &first]).ok();
    let mut other = sqlx::SqliteConnection::connect(&db.url())
        .await
        .expect("a second connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("take the write lock");
    // Held past the store's busy timeout (5 s).
    let second = snapshot("SC-001", "2025-01-01T00:01:00Z", r#"{"temp":43}"#);
    let line = db.run(&["ingest-telemetry", &second]).fails(5);
    assert!(line.contains("unavailable"), "{line}");
    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("release the lock");
    db.run(&["ingest-telemetry", &second]).ok();
    let stored = db.json(&["list-telemetry", "--spacecraft-id", "SC-001"]);
    assert_eq!(stored.as_array().map(Vec::len), Some(2), "{stored}");
}

#[test]
fn config_set_over_a_version_replaces_only_that_version() {
    let db = Db::new();
    let limits =
        |warn_high: u32| format!(r#"{{"parameters":{{"temp":{{"warnHigh":{warn_high}}}}}}}"#);
    let set_over = |over: &str, warn_high: u32| {
        db.run_with_stdin(
            &["config", "set", "SC-001", "--over", over],
            &limits(warn_high),
        )
    };
    assert!(set_over("0", 45).ok().contains("version 1"));
    assert!(set_over("1", 50).ok().contains("version 2"));
    // Made from version 1 while 2 is the newest: exit 4, one line naming both.
    let line = set_over("1", 99).fails(4);
    assert!(
        line.contains("version 2") && line.contains("version 1"),
        "{line}"
    );
    let run = set_over("two", 99);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("--over"), "{run:#?}");
    let history = db.json(&["config", "history", "SC-001"]);
    assert_eq!(history.as_array().map(Vec::len), Some(2), "{history}");
}

#[test]
fn bad_arguments_exit_2_with_usage() {
    let db = Db::new();
    let run = db.run(&["list-telemetry"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("--spacecraft-id"), "{run:#?}");
    let run = db.run(&["seed-demo-data", "--end", "yesterday"]);
    assert_eq!(run.code, 2, "{run:#?}");
    let run = db.run(&["no-such-command"]);
    assert_eq!(run.code, 2, "{run:#?}");
    let run = db.run(&["serve", "--monitor-tick", "0s"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("must be longer than 0"), "{run:#?}");
}

// ---- seeding ---------------------------------------------------------------------------------

#[test]
fn seeding_twice_with_the_same_seed_and_end_gives_identical_telemetry() {
    let (a, b) = (Db::new(), Db::new());
    for db in [&a, &b] {
        let out = db
            .run(&["seed-demo-data", "10", "60", "--seed", "1", "--end", END])
            .ok();
        assert!(
            out.contains("Seeded Sat-Imager-001 (LEO_IMAGING) for 10 minutes @ 60s interval"),
            "{out}"
        );
    }
    for spacecraft in DEMO {
        let export = |db: &Db| db.run(&["export", "--spacecraft-id", spacecraft]).ok();
        let (first, second) = (export(&a), export(&b));
        assert_eq!(first.lines().count(), 10, "{spacecraft}: {first}");
        assert_eq!(first, second, "{spacecraft}");
    }
    // A second run into the same database stores nothing new.
    let report = a.json(&["seed-demo-data", "10", "60", "--seed", "1", "--end", END]);
    for profile in report["profiles"].as_array().expect("profiles") {
        assert_eq!(profile["snapshotsInserted"], 0, "{profile}");
        assert_eq!(profile["snapshotsDuplicate"], 10, "{profile}");
    }
    // Another seed gives other data.
    let c = Db::new();
    c.run(&["seed-demo-data", "10", "60", "--seed", "2", "--end", END])
        .ok();
    let export = |db: &Db| {
        db.run(&["export", "--spacecraft-id", "Sat-Imager-001"])
            .ok()
    };
    assert_ne!(export(&a), export(&c));
}

#[test]
fn a_dry_run_prints_what_it_would_write_and_creates_no_file() {
    let db = Db::new();
    let out = db.run(&["seed-demo-data", "10", "60", "--dry-run"]).ok();
    let expected = [
        "[DRY-RUN] Seeded Sat-Imager-001 (LEO_IMAGING) for 10 minutes @ 60s interval",
        "[DRY-RUN] Seeded GNSS-Nav-Alpha (GNSS) for 10 minutes @ 60s interval",
        "[DRY-RUN] Seeded GEO-Comms-01 (GEO_COMMS) for 10 minutes @ 60s interval",
        "[DRY-RUN] Seeded Cube-001 (CUBESAT) for 10 minutes @ 60s interval",
    ];
    let lines: Vec<&str> = out.lines().take(4).collect();
    assert_eq!(lines, expected, "{out}");
    assert!(!db.file().exists(), "a dry run created the database file");
    let out = db.run(&["seed-demo-docs", "--dry-run"]).ok();
    assert!(out.contains("[DRY-RUN] Would publish"), "{out}");
    assert!(!db.file().exists(), "a dry run created the database file");
}

#[test]
fn a_dry_run_on_an_existing_database_writes_no_row() {
    let db = Db::new();
    db.run(&["spacecraft", "add", "--id", "SC-001", "--name", "One"])
        .ok();
    let events_before = db.json(&["list-events", "--limit", "100"]);
    db.run(&["seed-demo-data", "10", "60", "--dry-run"]).ok();
    db.run(&["seed-demo-docs", "--dry-run"]).ok();
    assert_eq!(db.json(&["list-events", "--limit", "100"]), events_before);
    assert_eq!(db.json(&["spacecraft", "list"])["total"], 1);
    assert_eq!(db.json(&["docs", "list"]), Value::Array(Vec::new()));
}

#[test]
fn seed_then_status_and_anomalies_show_the_fleet_its_health_and_the_spikes() {
    let db = Db::new();
    let out = db.run(&["seed-demo-data"]).ok();
    assert!(out.contains("Seeded Sat-Imager-001 (LEO_IMAGING) for 120 minutes @ 60s interval"));

    let status = db.run(&["status"]).ok();
    for spacecraft in DEMO {
        assert!(
            status.contains(spacecraft),
            "{spacecraft} missing:\n{status}"
        );
    }
    let fleet = db.json(&["status"]);
    let imager = fleet
        .as_array()
        .expect("fleet")
        .iter()
        .find(|e| e["spacecraftId"] == "Sat-Imager-001")
        .expect("Sat-Imager-001 in the fleet");
    let last24h = imager["anomalies"]["last24h"].as_u64().expect("count");
    assert!(last24h > 0, "the spikes raised no anomaly: {imager}");
    assert_ne!(imager["overallStatus"], "NOMINAL", "{imager}");
    let health = imager["overallStatus"].as_str().expect("status");
    assert!(status.contains(health), "{status}");

    let one = db.json(&["status", "Sat-Imager-001"]);
    assert_eq!(one["anomalies"]["last24h"], last24h);

    let anomalies = db
        .run(&["anomalies", "list", "--spacecraft-id", "Sat-Imager-001"])
        .ok();
    assert!(anomalies.contains("Parameter "), "{anomalies}");
    let listed = db.json(&[
        "anomalies",
        "list",
        "--spacecraft-id",
        "Sat-Imager-001",
        "--limit",
        "200",
    ]);
    let listed = listed.as_array().expect("anomalies");
    assert_eq!(listed.len() as u64, last24h.min(200));
    assert!(listed.iter().all(|a| a["spacecraftId"] == "Sat-Imager-001"));
}

#[test]
fn seed_demo_docs_publishes_once_and_search_finds_them() {
    let db = Db::new();
    let first = db.json(&["seed-demo-docs"]);
    let first = first.as_array().expect("documents");
    assert!(!first.is_empty());
    assert!(first.iter().all(|d| d["published"] == true));
    let second = db.json(&["seed-demo-docs"]);
    assert!(
        second
            .as_array()
            .expect("documents")
            .iter()
            .all(|d| d["published"] == false)
    );
    let found = db.json(&["search-docs", "battery"]);
    assert!(!found.as_array().expect("documents").is_empty(), "{found}");
    let table = db.run(&["search-docs", "battery", "--limit", "3"]).ok();
    assert!(
        table.contains("procedure") || table.contains("telemetry_definition"),
        "{table}"
    );
    db.run(&["search-docs", "battery", "--limit", "51"])
        .fails(2);
    db.run(&["search-docs", "  "]).fails(2);
}

// ---- telemetry -------------------------------------------------------------------------------

#[test]
fn ingest_from_an_argument_a_file_and_stdin_then_list_analyse_detect() {
    let db = Db::new();
    let one = snapshot(
        "SC-001",
        "2025-01-01T00:00:00Z",
        r#"{"temp":42,"mode":"CRUISE"}"#,
    );
    let id = db.json(&["ingest-telemetry", &one])["id"].clone();
    assert!(id.is_string());
    // With an id, ingest is idempotent; the same id with other content is a conflict.
    let with_id = r#"{"id":"fixed-1","spacecraftId":"SC-001","timestamp":"2025-01-01T00:01:00Z","parameters":{"temp":80}}"#;
    db.run(&["ingest-telemetry", with_id]).ok();
    let again = db.run(&["ingest-telemetry", with_id]).ok();
    assert!(again.contains("already stored"), "{again}");
    let conflicting = with_id.replace("80", "81");
    db.run(&["ingest-telemetry", &conflicting]).fails(4);

    let file = db.path("snap.json");
    std::fs::write(
        &file,
        snapshot("SC-001", "2025-01-01T00:02:00Z", r#"{"temp":50}"#),
    )
    .expect("write");
    db.run(&["ingest-telemetry", "--file", file.to_str().expect("path")])
        .ok();
    db.run_with_stdin(
        &["ingest-telemetry"],
        &snapshot("SC-001", "2025-01-01T00:03:00Z", r#"{"temp":20}"#),
    )
    .ok();
    let batch = format!(
        "[{},{}]",
        snapshot("SC-001", "2025-01-01T00:04:00Z", r#"{"temp":21}"#),
        snapshot("SC-001", "2025-01-01T00:05:00Z", r#"{"temp":22}"#)
    );
    assert_eq!(db.json(&["ingest-telemetry", &batch])["count"], 2);

    let listed = db.json(&[
        "list-telemetry",
        "--spacecraft-id",
        "SC-001",
        "--limit",
        "100",
    ]);
    let listed = listed.as_array().expect("snapshots");
    assert_eq!(listed.len(), 6);
    assert_eq!(
        listed[0]["timestamp"], "2025-01-01T00:05:00.000Z",
        "newest first"
    );
    let table = db
        .run(&[
            "list-telemetry",
            "--spacecraft-id",
            "SC-001",
            "--limit",
            "2",
        ])
        .ok();
    assert!(
        table.contains("temp=22") && !table.contains("temp=42"),
        "{table}"
    );

    // No limits yet: nothing to find.
    assert_eq!(
        db.json(&["analyze-telemetry", "--spacecraft-id", "SC-001"]),
        Value::Array(vec![])
    );
    db.run_with_stdin(
        &["config", "set", "SC-001"],
        r#"{"parameters":{"temp":{"warnHigh":45,"critHigh":70}}}"#,
    )
    .ok();
    let found = db.json(&[
        "analyze-telemetry",
        "--spacecraft-id",
        "SC-001",
        "--limit",
        "100",
    ]);
    let descriptions: Vec<&str> = found
        .as_array()
        .expect("anomalies")
        .iter()
        .map(|a| a["description"].as_str().expect("description"))
        .collect();
    assert_eq!(
        descriptions,
        [
            "Parameter temp above warnHigh 45",
            "Parameter temp above critHigh 70"
        ]
    );
    let window = db.json(&[
        "analyze-telemetry",
        "--spacecraft-id",
        "SC-001",
        "--from",
        "2025-01-01T00:00:00Z",
        "--to",
        "2025-01-01T00:01:30Z",
    ]);
    assert_eq!(window.as_array().expect("anomalies").len(), 1);
    db.run(&[
        "analyze-telemetry",
        "--spacecraft-id",
        "SC-001",
        "--limit",
        "0",
    ])
    .fails(2);
    db.run(&[
        "analyze-telemetry",
        "--spacecraft-id",
        "SC-001",
        "--from",
        "2025-01-02T00:00:00Z",
        "--to",
        END,
    ])
    .fails(2);

    // Nothing is stored until detect.
    assert_eq!(
        db.json(&["anomalies", "list", "--spacecraft-id", "SC-001"]),
        Value::Array(vec![])
    );
    let detect = [
        "detect",
        "--spacecraft-id",
        "SC-001",
        "--from",
        "2025-01-01T00:00:00Z",
        "--to",
        "2025-01-01T01:00:00Z",
    ];
    let report = db.json(&detect);
    assert_eq!(
        (report["detected"].clone(), report["persisted"].clone()),
        (2.into(), 2.into())
    );
    let report = db.json(&detect);
    assert_eq!(report["persisted"], 0, "detect stores each anomaly once");
    let stored = db.json(&["anomalies", "list", "--spacecraft-id", "SC-001"]);
    assert_eq!(stored.as_array().expect("anomalies").len(), 2);
    assert_eq!(stored[0]["kind"], "WARN_HIGH", "newest first");
    let timeline = db.json(&[
        "anomalies",
        "list",
        "--spacecraft-id",
        "SC-001",
        "--from",
        END,
        "--to",
        "2025-01-01T00:02:00Z",
    ]);
    let kinds: Vec<&str> = timeline
        .as_array()
        .expect("anomalies")
        .iter()
        .map(|a| a["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["CRIT_HIGH", "WARN_HIGH"], "oldest first");
    let table = db
        .run(&["anomalies", "list", "--spacecraft-id", "SC-001"])
        .ok();
    assert!(
        table.contains("CRIT_HIGH") && table.contains("70"),
        "{table}"
    );

    let events = db.json(&["list-events", "--spacecraft-id", "SC-001"]);
    let types: Vec<&str> = events
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert!(
        types.contains(&"ANOMALY") && types.contains(&"CONFIG_CHANGED"),
        "{types:?}"
    );
    let table = db.run(&["list-events"]).ok();
    assert!(table.contains("SPACECRAFT_REGISTERED"), "{table}");
}

#[test]
fn bad_snapshots_are_refused_with_the_field_named() {
    let db = Db::new();
    let line = db
        .run(&[
            "ingest-telemetry",
            r#"{"spacecraftId":"SC-001","parameters":{}}"#,
        ])
        .fails(2);
    assert!(line.contains("timestamp"), "{line}");
    let line = db.run(&["ingest-telemetry", "{not json"]).fails(2);
    assert!(line.contains("not valid JSON"), "{line}");
    let line = db
        .run(&[
            "ingest-telemetry",
            &snapshot("SC-001", END, r#"{"temp":null}"#),
        ])
        .fails(2);
    assert!(line.contains("parameters.temp"), "{line}");
    db.run(&[
        "list-telemetry",
        "--spacecraft-id",
        "SC-001",
        "--limit",
        "101",
    ])
    .fails(2);
}

// ---- spacecraft, config, docs, status ---------------------------------------------------------

#[test]
fn spacecraft_can_be_added_listed_and_shown() {
    let db = Db::new();
    let added = db.json(&[
        "spacecraft",
        "add",
        "--id",
        "SC-001",
        "--name",
        "Imager One",
        "--mission-type",
        "LEO_IMAGING",
        "--metadata",
        r#"{"operator":"ESOC"}"#,
    ]);
    assert_eq!(added["id"], "SC-001");
    assert_eq!(added["metadata"]["operator"], "ESOC");
    let line = db
        .run(&["spacecraft", "add", "--id", "SC-001", "--name", "Again"])
        .fails(4);
    assert!(line.contains("SC-001"), "{line}");
    db.run(&["spacecraft", "add", "--name", "X", "--metadata", "[1]"])
        .fails(2);
    let generated = db.json(&["spacecraft", "add", "--name", "Generated"]);
    assert!(
        generated["id"].as_str().is_some_and(|id| id.len() == 36),
        "{generated}"
    );

    let listing = db.json(&["spacecraft", "list"]);
    assert_eq!(listing["total"], 2);
    assert_eq!(listing["items"][0]["spacecraftId"], "SC-001");
    let table = db.run(&["spacecraft", "list"]).ok();
    assert!(
        table.contains("Imager One") && table.contains("1 to 2 of 2"),
        "{table}"
    );
    let shown = db.run(&["spacecraft", "show", "SC-001"]).ok();
    assert!(
        shown.contains("LEO_IMAGING") && shown.contains("ESOC"),
        "{shown}"
    );
    db.run(&["spacecraft", "list", "--limit", "0"]).fails(2);
}

#[test]
fn an_unknown_spacecraft_exits_3_with_one_line() {
    let db = Db::new();
    for args in [
        &["status", "NOPE"][..],
        &["spacecraft", "show", "NOPE"],
        &["config", "get", "NOPE"],
        &["config", "history", "NOPE"],
        &["detect", "--spacecraft-id", "NOPE"],
        &["export", "--spacecraft-id", "NOPE"],
    ] {
        let line = db.run(args).fails(3);
        assert!(
            line.contains("NOPE") && line.contains("not found"),
            "{args:?}: {line}"
        );
    }
}

#[test]
fn configuration_is_set_from_a_file_or_stdin_and_keeps_its_history() {
    let db = Db::new();
    let file = db.path("limits.json");
    std::fs::write(
        &file,
        r#"{"parameters":{"temp":{"warnHigh":45}},"owner":"fdops"}"#,
    )
    .expect("write");
    let view = db.json(&["config", "set", "SC-001", file.to_str().expect("path")]);
    assert_eq!(
        (view["version"].clone(), view["status"].clone()),
        (1.into(), "approved".into())
    );
    db.run_with_stdin(
        &["config", "set", "SC-001", "-", "--status", "draft"],
        r#"{"parameters":{"temp":{"warnHigh":45,"critHigh":70}}}"#,
    )
    .ok();
    let current = db.json(&["config", "get", "SC-001"]);
    assert_eq!(current["version"], 2);
    assert_eq!(current["status"], "draft");
    assert_eq!(current["config"]["parameters"]["temp"]["critHigh"], 70);
    let text = db.run(&["config", "get", "SC-001"]).ok();
    assert!(
        text.contains("version 2") && text.contains("\"critHigh\": 70"),
        "{text}"
    );
    let history = db.json(&["config", "history", "SC-001"]);
    assert_eq!(history.as_array().expect("history").len(), 2);
    assert_eq!(history[0]["config"]["owner"], "fdops");
    let line = db
        .run_with_stdin(
            &["config", "set", "SC-001"],
            r#"{"parameters":{"temp":{"warnLow":50,"warnHigh":45}}}"#,
        )
        .fails(2);
    assert!(line.contains("temp"), "{line}");
    db.run_with_stdin(&["config", "set", "SC-001"], "[]")
        .fails(2);
    assert_eq!(
        db.run(&["config", "set", "SC-001", "--status", "final"])
            .code,
        2
    );
    assert_eq!(
        db.json(&["config", "history", "SC-001"])
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[test]
fn documents_can_be_published_shown_and_listed() {
    let db = Db::new();
    let body = db.path("recovery.md");
    std::fs::write(
        &body,
        "# Battery recovery\n\nShed loads when battery_soc drops.",
    )
    .expect("write");
    let published = db.json(&[
        "docs",
        "add",
        "--title",
        "Battery recovery",
        "--category",
        "procedure",
        "--tag",
        "battery_soc",
        "--spacecraft-id",
        "SC-001",
        "--file",
        body.to_str().expect("path"),
    ]);
    let id = published["id"].as_str().expect("id").to_owned();
    db.run(&[
        "docs",
        "add",
        "--title",
        "Pass notes",
        "--body",
        "Nominal pass.",
    ])
    .ok();
    db.run_with_stdin(&["docs", "add", "--title", "From stdin"], "Body from stdin")
        .ok();

    let shown = db.run(&["docs", "show", &id]).ok();
    assert!(
        shown.contains("Shed loads") && shown.contains("procedure"),
        "{shown}"
    );
    assert_eq!(db.json(&["docs", "show", &id])["tags"][0], "battery_soc");
    let all = db.json(&["docs", "list"]);
    assert_eq!(all.as_array().expect("docs").len(), 3);
    let procedures = db.json(&[
        "docs",
        "list",
        "--category",
        "procedure",
        "--tag",
        "battery_soc",
    ]);
    assert_eq!(procedures.as_array().expect("docs").len(), 1);
    let table = db.run(&["docs", "list", "--spacecraft-id", "SC-001"]).ok();
    assert!(
        table.contains("Battery recovery") && !table.contains("Pass notes"),
        "{table}"
    );
    let found = db.json(&["search-docs", "stdin"]);
    assert_eq!(found[0]["title"], "From stdin");
    db.run(&["docs", "show", "no-such-doc"]).fails(3);
}

#[test]
fn status_of_a_spacecraft_without_telemetry_is_nominal() {
    let db = Db::new();
    assert!(db.run(&["status"]).ok().contains("No spacecraft yet"));
    db.run(&["spacecraft", "add", "--id", "SC-001", "--name", "One"])
        .ok();
    let status = db.json(&["status", "SC-001"]);
    assert_eq!(status["overallStatus"], "NOMINAL");
    assert_eq!(status["lastTelemetryTimestamp"], Value::Null);
    let table = db.run(&["status", "SC-001"]).ok();
    assert!(
        table.contains("NOMINAL") && !table.contains('\u{1b}'),
        "no colour when piped: {table}"
    );
}

// ---- storage ---------------------------------------------------------------------------------

#[test]
fn a_bad_database_url_exits_non_zero_with_one_line() {
    let db = Db::new();
    let line = db
        .run(&["--database-url", "mysql://localhost/ops", "status"])
        .fails(2);
    assert!(line.contains("database"), "{line}");
    let missing = db.path("no/such/dir/ops.db");
    let url = format!("sqlite://{}", missing.display());
    let line = db.run(&["--database-url", &url, "status"]).fails(1);
    assert!(line.contains("cannot open database"), "{line}");
    // Refused (2) without the postgres feature, unavailable (5) with it: never the password.
    let run = db.run(&[
        "--database-url",
        "postgres://ops:s3cret@127.0.0.1:1/none",
        "status",
    ]);
    let code = run.code;
    assert!(code == 5 || code == 2, "{run:#?}");
    let line = run.fails(code);
    assert!(!line.contains("s3cret"), "the password leaked: {line}");
}

#[test]
fn migrate_creates_the_database_and_memory_keeps_nothing() {
    let db = Db::new();
    let out = db.run(&["migrate"]).ok();
    assert!(out.contains("up to date"), "{out}");
    assert!(db.file().exists());
    assert_eq!(db.json(&["migrate"])["migrated"], true);
    db.run(&[
        "--database-url",
        "memory:",
        "spacecraft",
        "add",
        "--id",
        "A",
        "--name",
        "A",
    ])
    .ok();
    db.run(&["--database-url", "memory:", "spacecraft", "show", "A"])
        .fails(3);
}

#[test]
fn the_database_url_is_read_from_a_dot_env_file() {
    let db = Db::new();
    let file = db.path("from-env.db");
    std::fs::write(
        db.path(".env"),
        format!("MISSIONOPS_DATABASE_URL=sqlite://{}\n", file.display()),
    )
    .expect("write .env");
    let run = Run::from(
        Command::new(env!("CARGO_BIN_EXE_missionops"))
            .current_dir(db.dir.path())
            .env_remove("MISSIONOPS_DATABASE_URL")
            .args(["migrate"])
            .output()
            .expect("run"),
    );
    run.ok();
    assert!(file.exists(), ".env was not read");
}

// ---- import and export -----------------------------------------------------------------------

fn seeded() -> Db {
    let db = Db::new();
    db.run(&["seed-demo-data", "30", "60", "--seed", "3", "--end", END])
        .ok();
    // Add values of every type, including ones that need care in CSV.
    let extra = [
        r#"{"id":"x-1","spacecraftId":"Sat-Imager-001","timestamp":"2024-12-31T23:45:30.250Z","parameters":{"battery_soc":0.1,"flag":true,"note":"a, \"quoted\" value","big":1e21}}"#,
        r#"{"id":"x-2","spacecraftId":"Sat-Imager-001","timestamp":"2024-12-31T23:45:30.250Z","parameters":{"battery_soc":-1.5e-7,"flag":false}}"#,
    ];
    for snapshot in extra {
        db.run(&["ingest-telemetry", snapshot]).ok();
    }
    db
}

#[test]
fn ndjson_export_then_import_round_trips_exactly() {
    let source = seeded();
    let target = Db::new();
    for spacecraft in DEMO {
        let file = source.path(&format!("{spacecraft}.ndjson"));
        let file = file.to_str().expect("path");
        let out = source
            .run(&["export", "--spacecraft-id", spacecraft, "--output", file])
            .ok();
        assert!(out.starts_with("Exported "), "{out}");
        let report = target.json(&["import", file]);
        assert_eq!(report["inserted"], report["snapshots"], "{report}");
        let original = std::fs::read_to_string(file).expect("read");
        let copy = target.run(&["export", "--spacecraft-id", spacecraft]).ok();
        assert_eq!(copy, original, "{spacecraft}");
    }
    let imager = std::fs::read_to_string(source.path("Sat-Imager-001.ndjson")).expect("read");
    assert!(
        imager.contains(r#""big":1e+21"#) && imager.contains(r#""battery_soc":-1.5e-7"#),
        "{imager}"
    );
    // Importing again stores nothing new.
    let again = target.json(&[
        "import",
        source.path("Cube-001.ndjson").to_str().expect("path"),
    ]);
    assert_eq!(again["inserted"], 0);
    assert_eq!(again["duplicates"], again["snapshots"]);
}

#[test]
fn csv_export_then_import_round_trips_exactly() {
    let source = seeded();
    let target = Db::new();
    for spacecraft in DEMO {
        let csv = source.path(&format!("{spacecraft}.csv"));
        let csv = csv.to_str().expect("path");
        let run = source.run(&["export", "--spacecraft-id", spacecraft, "--output", csv]);
        assert!(!run.stderr.contains("warning"), "{run:#?}");
        run.ok();
        let header = std::fs::read_to_string(csv).expect("read");
        assert!(header.starts_with("id,spacecraftId,timestamp,"), "{header}");
        target.run(&["import", csv]).ok();
        let export = |db: &Db| {
            db.run(&[
                "export",
                "--spacecraft-id",
                spacecraft,
                "--format",
                "ndjson",
            ])
            .ok()
        };
        assert_eq!(export(&target), export(&source), "{spacecraft}");
    }
    let imager = std::fs::read_to_string(source.path("Sat-Imager-001.csv")).expect("read");
    assert!(imager.contains(r#""a, ""quoted"" value""#), "{imager}");
}

#[test]
fn export_pages_through_ties_and_windows() {
    let db = Db::new();
    // More snapshots at one timestamp than fit one page, around other timestamps.
    let mut lines = String::new();
    lines.push_str(&snapshot("SC-T", "2025-01-01T00:00:00Z", r#"{"i":-1}"#));
    lines.push('\n');
    for i in 0..5_200 {
        lines.push_str(&snapshot(
            "SC-T",
            "2025-01-01T00:00:01Z",
            &format!(r#"{{"i":{i}}}"#),
        ));
        lines.push('\n');
    }
    lines.push_str(&snapshot("SC-T", "2025-01-01T00:00:02Z", r#"{"i":9999}"#));
    lines.push('\n');
    let report = db.run_with_stdin(&["import", "--json"], &lines).json();
    assert_eq!(report["inserted"], 5_202);
    let exported = db.run(&["export", "--spacecraft-id", "SC-T"]).ok();
    assert_eq!(exported.lines().count(), 5_202);
    let ids: std::collections::HashSet<&str> = exported
        .lines()
        .map(|l| l.split('"').nth(3).expect("id"))
        .collect();
    assert_eq!(ids.len(), 5_202, "a snapshot was exported twice");
    let window = db
        .run(&[
            "export",
            "--spacecraft-id",
            "SC-T",
            "--from",
            "2025-01-01T00:00:02Z",
            "--format",
            "csv",
        ])
        .ok();
    assert_eq!(window.lines().count(), 2, "{window}");
    db.run(&[
        "export",
        "--spacecraft-id",
        "SC-T",
        "--from",
        "2025-01-02T00:00:00Z",
        "--to",
        END,
    ])
    .fails(2);
}

#[test]
fn a_malformed_import_line_is_reported_by_number_and_nothing_is_imported() {
    let db = Db::new();
    let file = db.path("bad.ndjson");
    let content = [
        snapshot("SC-IMP", "2025-01-01T00:00:00Z", r#"{"t":1}"#),
        String::new(),
        snapshot("SC-IMP", "2025-01-01T00:01:00Z", r#"{"t":2}"#),
        snapshot("SC-IMP", "not-a-time", r#"{"t":3}"#),
        snapshot("SC-IMP", "2025-01-01T00:03:00Z", r#"{"t":4}"#),
    ]
    .join("\n");
    std::fs::write(&file, content).expect("write");
    let line = db.run(&["import", file.to_str().expect("path")]).fails(2);
    assert!(
        line.contains("line 4") && line.contains("timestamp"),
        "{line}"
    );
    assert!(line.contains("nothing was imported"), "{line}");
    db.run(&["status", "SC-IMP"]).fails(3);

    let csv = db.path("bad.csv");
    std::fs::write(
        &csv,
        "id,spacecraftId,timestamp,t\n,SC-IMP,2025-01-01T00:00:00Z,1\n,SC-IMP,2025-01-01T00:01:00Z\n",
    )
    .expect("write");
    let line = db.run(&["import", csv.to_str().expect("path")]).fails(2);
    assert!(line.contains("line 3"), "{line}");
    let line = db
        .run_with_stdin(&["import", "--format", "csv"], "time,t\n1,2\n")
        .fails(2);
    assert!(line.contains("line 1"), "{line}");
    db.run(&["status", "SC-IMP"]).fails(3);
}

#[test]
fn skip_invalid_imports_the_rest_and_reports_what_it_skipped() {
    let db = Db::new();
    let content = [
        snapshot("SC-IMP", "2025-01-01T00:00:00Z", r#"{"t":1}"#),
        "garbage".to_owned(),
        snapshot("SC-IMP", "2025-01-01T00:01:00Z", r#"{"t":2}"#),
        snapshot("", "2025-01-01T00:02:00Z", r#"{"t":3}"#),
    ]
    .join("\n");
    let run = db.run_with_stdin(&["import", "--skip-invalid"], &content);
    assert!(
        run.stderr.contains("line 2") && run.stderr.contains("line 4"),
        "{run:#?}"
    );
    let out = run.ok();
    assert!(
        out.contains("Imported 2 snapshots") && out.contains("skipped 2 invalid lines"),
        "{out}"
    );
    let report = db
        .run_with_stdin(&["import", "--skip-invalid", "--json"], &content)
        .json();
    assert_eq!(report["skipped"], 2);
    assert_eq!(report["skippedLines"][0]["line"], 2);
    assert_eq!(
        report["duplicates"], 2,
        "derived ids make a re-import idempotent"
    );
    assert_eq!(
        db.json(&["list-telemetry", "--spacecraft-id", "SC-IMP"])
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

// ---- JSON and colour -------------------------------------------------------------------------

#[test]
fn every_listing_prints_json_that_parses() {
    let db = seeded();
    db.run(&["seed-demo-docs"]).ok();
    let listings: &[&[&str]] = &[
        &["list-telemetry", "--spacecraft-id", "Cube-001"],
        &[
            "analyze-telemetry",
            "--spacecraft-id",
            "Sat-Imager-001",
            "--limit",
            "100",
        ],
        &["list-events"],
        &["search-docs", "battery"],
        &["spacecraft", "list"],
        &["spacecraft", "show", "Cube-001"],
        &["config", "get", "Cube-001"],
        &["config", "history", "Cube-001"],
        &["anomalies", "list", "--spacecraft-id", "Sat-Imager-001"],
        &["docs", "list"],
        &["status"],
        &["status", "Cube-001"],
        &[
            "detect",
            "--spacecraft-id",
            "Cube-001",
            "--from",
            "2024-12-31T00:00:00Z",
            "--to",
            END,
        ],
    ];
    for args in listings {
        let value = db.json(args);
        assert!(value.is_array() || value.is_object(), "{args:?}: {value}");
    }
    // Numbers print as the HTTP API prints them.
    let listed = db
        .run(&[
            "list-telemetry",
            "--spacecraft-id",
            "Sat-Imager-001",
            "--json",
        ])
        .ok();
    assert!(
        !listed.contains(".0,") && !listed.contains(".0}"),
        "{listed}"
    );
    // NO_COLOR and --json never colour, even when forced into a pipe.
    let run = Run::from(
        db.command(&["status"])
            .env("NO_COLOR", "1")
            .output()
            .expect("run"),
    );
    assert!(!run.ok().contains('\u{1b}'));
}

// ---- serve -----------------------------------------------------------------------------------

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn wait_for_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not stop within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_answers_until_sigterm_then_exits_0_with_the_data_kept() {
    let db = Db::new();
    let mut server =
        Serving::start(db.command(&["serve", "--request-timeout", "5s", "--body-limit", "1MiB"]));
    let port = server.port;
    let body = snapshot(
        "SC-SRV",
        "2025-01-01T00:00:00Z",
        r#"{"temp":42,"mode":"CRUISE"}"#,
    );
    let (status, answer) = http(port, "POST", "/telemetry", &body).expect("POST /telemetry");
    assert_eq!(status, 201, "{answer}");
    terminate(&server.child);
    let status = wait_for_exit(&mut server.child, Duration::from_secs(20));
    let logs = server.finish_log();
    assert!(status.success(), "serve exited with {status}: {logs}");
    assert!(logs.contains("listening"), "no start-up log: {logs}");
    let listed = db.json(&["list-telemetry", "--spacecraft-id", "SC-SRV"]);
    assert_eq!(listed[0]["parameters"]["temp"], 42, "{listed}");
}

#[test]
fn serve_refuses_a_bad_port_variable() {
    let db = Db::new();
    let run = Run::from(
        db.command(&["serve"])
            .env("PORT", "http")
            .output()
            .expect("run"),
    );
    let line = run.fails(2);
    assert!(line.contains("PORT"), "{line}");
}

#[test]
fn serve_refuses_a_connection_cap_of_0() {
    let db = Db::new();
    let run = Run::from(
        db.command(&["serve", "--max-connections", "0"])
            .output()
            .expect("run"),
    );
    // clap's own usage error: status 2 and the flag named.
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("--max-connections"), "{run:#?}");
}

#[test]
fn serve_help_names_the_bound_on_bodies_in_flight_and_a_bad_size_is_a_usage_error() {
    let db = Db::new();
    let help = db.run(&["serve", "--help"]).ok();
    assert!(help.contains("--max-body-bytes-in-flight"), "{help}");
    assert!(
        help.contains("MISSIONOPS_MAX_BODY_BYTES_IN_FLIGHT"),
        "{help}"
    );
    assert!(help.contains("Retry-After"), "{help}");
    assert!(help.contains("Protects memory"), "{help}");
    let run = db.run(&["serve", "--max-body-bytes-in-flight", "lots"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("--max-body-bytes-in-flight"),
        "{run:#?}"
    );
}

#[test]
fn serve_disconnects_a_silent_client_after_the_header_read_timeout_it_is_given() {
    use std::io::Read;

    let db = Db::new();
    let mut serving = Serving::start(db.command(&[
        "serve",
        "--header-read-timeout",
        "300ms",
        "--idle-timeout",
        "1m",
        "--max-connections",
        "8",
    ]));
    let bind = format!("127.0.0.1:{}", serving.port);
    let mut silent = std::net::TcpStream::connect(&bind).expect("connect");
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let started = Instant::now();
    let mut buffer = [0u8; 64];
    let read = silent.read(&mut buffer);
    let elapsed = started.elapsed();
    terminate(&serving.child);
    wait_for_exit(&mut serving.child, Duration::from_secs(20));
    assert!(
        matches!(read, Ok(0))
            || read
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "expected the server to close the connection, got {read:?} after {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(4), "closed after {elapsed:?}");
}

#[test]
fn serve_reports_an_address_in_use() {
    let db = Db::new();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let run = Run::from(
        db.command(&["serve", "--bind", &format!("127.0.0.1:{port}")])
            .output()
            .expect("run"),
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("error: cannot listen on")),
        "{run:#?}"
    );
    drop(taken);
}

// ---- alarms ----------------------------------------------------------------------------------

/// The operator's loop on the command line: limits with persistence and a deadband, a noisy
/// excursion, one alarm, acknowledge, clear, and the events in order.
#[test]
fn an_operator_acknowledges_an_alarm_and_sees_it_clear() {
    let db = Db::new();
    db.run_with_stdin(
        &["config", "set", "SC-A", "-"],
        r#"{"parameters":{"temp":{"warnHigh":45,"persistence":3,"deadband":2}}}"#,
    )
    .ok();
    let excursion: Vec<String> = [46.0, 47.0, 46.5, 44.5, 46.0]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            snapshot(
                "SC-A",
                &format!("2025-01-01T00:00:0{}Z", i + 1),
                &format!(r#"{{"temp":{t}}}"#),
            )
        })
        .collect();
    db.run_with_stdin(&["ingest-telemetry"], &format!("[{}]", excursion.join(",")))
        .ok();
    let open = db.json(&["alarms", "list", "--spacecraft-id", "SC-A"]);
    let open = open.as_array().expect("array");
    assert_eq!(open.len(), 1, "exactly one alarm: {open:?}");
    assert_eq!(open[0]["state"], "ACTIVE");
    let id = open[0]["id"].as_str().expect("id").to_owned();
    let table = db.run(&["alarms", "list"]).ok();
    assert!(
        table.contains(&id) && table.contains("WARN_HIGH"),
        "{table}"
    );

    let acked = db.json(&[
        "alarms",
        "ack",
        &id,
        "--by",
        "flight",
        "--comment",
        "watching",
    ]);
    assert_eq!(acked["state"], "ACKNOWLEDGED");
    let again = db.run(&["alarms", "ack", &id, "--by", "flight"]).fails(4);
    assert!(again.contains("already acknowledged"), "{again}");

    db.run(&[
        "ingest-telemetry",
        &snapshot("SC-A", "2025-01-01T00:00:09Z", r#"{"temp":42}"#),
    ])
    .ok();
    assert_eq!(
        db.json(&["alarms", "list", "--spacecraft-id", "SC-A"]),
        serde_json::json!([])
    );
    let history = db.json(&["alarms", "list", "--state", "all"]);
    assert_eq!(history[0]["state"], "CLEARED");

    let events = db.json(&["list-events", "--spacecraft-id", "SC-A", "--limit", "100"]);
    let mut types: Vec<String> = events
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .filter(|t| ["ANOMALY", "ALARM_ACKNOWLEDGED", "ANOMALY_CLEARED"].contains(t))
        .map(str::to_owned)
        .collect();
    types.reverse();
    assert_eq!(types, ["ANOMALY", "ALARM_ACKNOWLEDGED", "ANOMALY_CLEARED"]);
}

#[test]
fn alarms_list_shows_the_most_recent_with_a_limit_and_says_how_many_there_are() {
    let db = Db::new();
    for (n, spacecraft) in ["SC-L1", "SC-L2", "SC-L3"].iter().enumerate() {
        db.run_with_stdin(
            &["config", "set", spacecraft, "-"],
            r#"{"parameters":{"temp":{"warnHigh":45}}}"#,
        )
        .ok();
        db.run(&[
            "ingest-telemetry",
            &snapshot(
                spacecraft,
                &format!("2025-01-01T00:00:0{n}Z"),
                r#"{"temp":50}"#,
            ),
        ])
        .ok();
    }
    let newest: Vec<String> = db
        .json(&["alarms", "list", "--limit", "2"])
        .as_array()
        .expect("array")
        .iter()
        .map(|a| a["spacecraftId"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(newest, ["SC-L3", "SC-L2"]);
    let table = db.run(&["alarms", "list", "--limit", "2"]).ok();
    assert!(
        table.contains("SC-L3") && table.contains("SC-L2") && !table.contains("SC-L1"),
        "{table}"
    );
    assert!(
        table.contains("2 most recent of 3 alarms (--limit)"),
        "{table}"
    );
    let all = db.run(&["alarms", "list", "--limit", "3"]).ok();
    assert!(!all.contains("most recent of"), "{all}");
    for bad in ["0", "1001", "-1"] {
        let line = db.run(&["alarms", "list", "--limit", bad]).fails(2);
        assert!(line.contains("limit"), "--limit {bad}: {line}");
    }
}

#[test]
fn alarms_are_shelved_and_bad_alarm_commands_exit_with_one_line() {
    let db = Db::new();
    db.run_with_stdin(
        &["config", "set", "SC-B", "-"],
        r#"{"parameters":{"temp":{"warnHigh":45}}}"#,
    )
    .ok();
    db.run(&[
        "ingest-telemetry",
        &snapshot("SC-B", "2025-01-01T00:00:01Z", r#"{"temp":50}"#),
    ])
    .ok();
    let id = db.json(&["alarms", "list"])[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let shelved = db.json(&[
        "alarms",
        "shelve",
        &id,
        "--until",
        "2999-01-01T00:00:00Z",
        "--by",
        "flight",
    ]);
    assert_eq!(shelved["state"], "SHELVED");
    let line = db
        .run(&[
            "alarms",
            "shelve",
            &id,
            "--until",
            "2001-01-01T00:00:00Z",
            "--by",
            "flight",
        ])
        .fails(2);
    assert!(line.contains("until"), "{line}");
    let line = db
        .run(&["alarms", "ack", "no-such-alarm", "--by", "x"])
        .fails(3);
    assert!(line.contains("alarm"), "{line}");
    let back = db.json(&["alarms", "unshelve", &id, "--by", "flight"]);
    assert_eq!(back["state"], "ACTIVE");
    let usage = db.run(&["alarms", "list", "--state", "sometimes"]);
    assert_eq!(usage.code, 2, "{usage:#?}");
    assert!(usage.stderr.contains("must be one of ACTIVE"), "{usage:#?}");
}

#[test]
fn imported_telemetry_is_played_back_unless_live() {
    let db = Db::new();
    db.run_with_stdin(
        &["config", "set", "SC-I", "-"],
        r#"{"parameters":{"temp":{"warnHigh":45}}}"#,
    )
    .ok();
    let file = db.path("pass.ndjson");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            snapshot("SC-I", "2025-01-01T00:00:01Z", r#"{"temp":50}"#),
            snapshot("SC-I", "2025-01-01T00:00:02Z", r#"{"temp":55}"#)
        ),
    )
    .expect("write");
    db.run(&["import", file.to_str().expect("path")]).ok();
    let anomalies = db.json(&["anomalies", "list", "--spacecraft-id", "SC-I"]);
    assert_eq!(anomalies.as_array().map(Vec::len), Some(2));
    assert_eq!(
        db.json(&["alarms", "list", "--state", "all"]),
        serde_json::json!([])
    );
    let live = db.path("live.ndjson");
    std::fs::write(
        &live,
        format!(
            "{}\n",
            snapshot("SC-I", "2025-01-01T00:00:03Z", r#"{"temp":60}"#)
        ),
    )
    .expect("write");
    db.run(&["import", live.to_str().expect("path"), "--live"])
        .ok();
    assert_eq!(
        db.json(&["alarms", "list"]).as_array().map(Vec::len),
        Some(1)
    );
}

/// `--tenant`: two tenants that both own `SC-001` each ingest, list, export and import only
/// their own data, `default` sees neither, and the commands that work for every tenant refuse
/// the flag.
#[test]
fn data_commands_act_in_the_tenant_given_by_tenant() {
    let db = Db::new();
    let snapshot = |id: &str, temp: i32| {
        format!(
            r#"{{"id":"{id}","spacecraftId":"SC-001","timestamp":"2025-01-01T00:00:0{temp}Z","parameters":{{"temp":{temp}}}}}"#
        )
    };
    db.run(&["--tenant", "acme", "ingest-telemetry", &snapshot("a1", 1)])
        .ok();
    // The flag is global: after the subcommand too.
    db.run(&["ingest-telemetry", &snapshot("z1", 2), "--tenant", "zenith"])
        .ok();
    db.run(&["ingest-telemetry", "--tenant", "zenith", &snapshot("z2", 3)])
        .ok();

    let temps = |tenant: &str| -> Vec<Value> {
        db.json(&[
            "--tenant",
            tenant,
            "list-telemetry",
            "--spacecraft-id",
            "SC-001",
        ])
        .as_array()
        .expect("snapshots")
        .iter()
        .map(|s| s["parameters"]["temp"].clone())
        .collect()
    };
    assert_eq!(temps("acme"), [json!(1)]);
    assert_eq!(temps("zenith"), [json!(3), json!(2)]);
    assert!(db.run(&["status"]).ok().contains("No spacecraft yet"));
    // `default` has no SC-001: its listing is empty (as the compat listing of an unknown id is).
    assert_eq!(
        db.run(&["list-telemetry", "--spacecraft-id", "SC-001"])
            .ok(),
        "No telemetry for SC-001.\n"
    );
    let status = db.json(&["--tenant", "acme", "status", "SC-001"]);
    assert_eq!(status["spacecraftId"], "SC-001", "{status}");

    // Export from one tenant, import into another: the copy is the new tenant's only.
    let file = db.path("acme.ndjson");
    let file = file.to_str().expect("path");
    db.run(&[
        "--tenant",
        "acme",
        "export",
        "--spacecraft-id",
        "SC-001",
        "--output",
        file,
    ])
    .ok();
    let report = db.json(&["--tenant", "copy", "import", file]);
    assert_eq!(report["inserted"], 1, "{report}");
    assert_eq!(temps("copy"), [json!(1)]);
    assert_eq!(temps("zenith"), [json!(3), json!(2)]);

    // Keys take the same flag.
    db.run(&[
        "--tenant", "acme", "keys", "create", "--name", "a", "--role", "viewer",
    ])
    .ok();
    assert_eq!(
        db.json(&["keys", "list", "--tenant", "acme"])
            .as_array()
            .expect("keys")
            .len(),
        1
    );
    assert!(
        db.json(&["keys", "list"])
            .as_array()
            .expect("keys")
            .is_empty()
    );

    // Bad tenants and commands that work for every tenant are refused as bad input.
    let refused = db.run(&["--tenant", "a b", "status"]).fails(2);
    assert!(refused.contains("tenant"), "{refused}");
    for args in [&["migrate"][..], &["outbox", "stats"], &["serve"]] {
        let mut all = vec!["--tenant", "acme"];
        all.extend_from_slice(args);
        let refused = db.run(&all).fails(2);
        assert!(refused.contains("takes no --tenant"), "{args:?}: {refused}");
    }
}
