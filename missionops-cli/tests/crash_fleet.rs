//! `serve` killed with SIGKILL under fleet load (issue 13), on SQLite and on PostgreSQL (with
//! the `postgres` feature and a server, as the other PostgreSQL tests): single writes from eight
//! clients round-robin over a fleet, a new spacecraft in every fifth (implicit registration,
//! grouped with the others' writes), batches of ten among them. After the kill, everything
//! that was answered 201 is stored, no batch is there in part, each spacecraft is
//! registered once with one `SPACECRAFT_REGISTERED` event, every event has its outbox row, and
//! a restarted server shows each spacecraft's latest values as its newest stored snapshot's
//! (they are written behind the telemetry, so the kill loses some: SQLite rebuilds them when
//! the file is reopened, PostgreSQL when a server finds the killed one gone).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
#[cfg(feature = "postgres")]
use sqlx::PgConnection;
use sqlx::{Connection, Row, SqliteConnection};

mod support;
use support::{Db, Serving, http};

const CLIENTS: usize = 8;
/// Registered by their first write, then written to round-robin.
const FLEET: usize = 200;
/// Acknowledged writes to wait for before the kill.
const KILL_AFTER: usize = 2_000;
const BATCH: usize = 10;

/// A time `i` seconds into 2025-06-01.
fn time(i: usize) -> String {
    format!(
        "2025-06-{:02}T{:02}:{:02}:{:02}Z",
        1 + i / 86_400,
        i / 3_600 % 24,
        i / 60 % 60,
        i % 60
    )
}

/// One client's writes until a request fails (the server is gone): the ids answered 201 go
/// into `acknowledged`; a batch counts under its id prefix `b{client}-{i}`.
fn client(port: u16, n: usize, acknowledged: &Mutex<Vec<String>>) {
    for i in 0.. {
        let temp = (n * 1_000 + i) % 97;
        let (path, body, acked) = if i % 7 == 3 {
            let spacecraft = format!("FL-{:03}", (i * CLIENTS + n) % FLEET);
            let snapshots: Vec<Value> = (0..BATCH)
                .map(|k| {
                    json!({"id": format!("b{n}-{i}-{k}"), "timestamp": time(i * BATCH + k),
                           "parameters": {"temp": temp, "k": k}})
                })
                .collect();
            let body = json!({"spacecraftId": spacecraft, "snapshots": snapshots});
            ("/telemetry/batch", body, format!("b{n}-{i}"))
        } else {
            let spacecraft = if i % 5 == 0 {
                format!("NEW-{n}-{i}")
            } else {
                format!("FL-{:03}", (i * CLIENTS + n) % FLEET)
            };
            let id = format!("s{n}-{i}");
            let body = json!({"id": id, "spacecraftId": spacecraft, "timestamp": time(i),
                              "parameters": {"temp": temp, "mode": "CRUISE"}});
            ("/telemetry", body, id)
        };
        match http(port, "POST", path, &body.to_string()) {
            Some((201, _)) => acknowledged.lock().expect("acknowledged").push(acked),
            Some((status, answer)) => panic!("client {n}: {path} answered {status}: {answer}"),
            None => return,
        }
    }
}

/// Drives `serve` (started by `start`) with the fleet's writes, kills it after
/// [`KILL_AFTER`] acknowledgements, and returns what was acknowledged.
fn load_then_kill(mut serving: Serving) -> Vec<String> {
    let port = serving.port;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let acknowledged = Arc::clone(&acknowledged);
            std::thread::spawn(move || client(port, n, &acknowledged))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acknowledged.lock().expect("acknowledged").len() < KILL_AFTER {
        assert!(
            Instant::now() < deadline,
            "the server acknowledged too few writes: {}",
            serving.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL: no destructor, no flush of what is held back, no checkpoint.
    serving.child.kill().expect("kill the server");
    serving.child.wait().expect("reap the server");
    for client in clients {
        client.join().expect("a client panicked");
    }
    let acknowledged = acknowledged.lock().expect("acknowledged").clone();
    assert!(acknowledged.len() >= KILL_AFTER);
    acknowledged
}

/// What the database holds after the kill, read with SQL.
struct Stored {
    /// Every snapshot id.
    ids: Vec<String>,
    /// Each spacecraft and its number of `SPACECRAFT_REGISTERED` events.
    registrations: Vec<(String, i64)>,
    /// Registration events whose spacecraft is not stored.
    orphans: i64,
    /// Events without their outbox row.
    without_outbox: i64,
    /// Each spacecraft and the `temp` of its newest snapshot (newest time, ties to the last
    /// stored).
    newest_temps: Vec<(String, Option<i64>)>,
}

/// The SQL that reads [`Stored`] on one backend (their schemas differ).
struct StoredSql {
    registrations: &'static str,
    orphans: &'static str,
    without_outbox: &'static str,
    newest_temps: &'static str,
}

/// Reads [`Stored`] over `$conn` (a `&mut` SQLite or PostgreSQL connection) with `$sql`.
macro_rules! read_stored {
    ($conn:expr, $sql:expr) => {{
        let conn = $conn;
        let sql: &StoredSql = $sql;
        Stored {
            ids: sqlx::query_scalar("SELECT id FROM telemetry")
                .fetch_all(&mut *conn)
                .await
                .expect("ids"),
            registrations: sqlx::query_as(sql.registrations)
                .fetch_all(&mut *conn)
                .await
                .expect("registrations"),
            orphans: sqlx::query_scalar(sql.orphans)
                .fetch_one(&mut *conn)
                .await
                .expect("orphans"),
            without_outbox: sqlx::query_scalar(sql.without_outbox)
                .fetch_one(&mut *conn)
                .await
                .expect("outbox"),
            newest_temps: sqlx::query(sql.newest_temps)
                .fetch_all(&mut *conn)
                .await
                .expect("newest")
                .iter()
                .map(|row| (row.get(0), row.get(1)))
                .collect(),
        }
    }};
}

/// Everything acknowledged is stored, no batch in part, one registration event per
/// spacecraft, an outbox row per event.
fn check_stored(stored: &Stored, acknowledged: &[String]) {
    let ids: HashSet<&str> = stored.ids.iter().map(String::as_str).collect();
    let mut batches: BTreeMap<String, usize> = BTreeMap::new();
    for id in &stored.ids {
        if let Some((batch, _)) = id.strip_prefix('b').and_then(|rest| rest.rsplit_once('-')) {
            *batches.entry(format!("b{batch}")).or_default() += 1;
        }
    }
    for acked in acknowledged {
        if acked.starts_with('b') {
            assert_eq!(
                batches.get(acked),
                Some(&BATCH),
                "batch {acked} was acknowledged"
            );
        } else {
            assert!(ids.contains(acked.as_str()), "{acked} was acknowledged");
        }
    }
    for (batch, count) in &batches {
        assert_eq!(*count, BATCH, "batch {batch} is there in part");
    }
    assert!(
        stored.registrations.len() > FLEET,
        "the new spacecraft are registered too"
    );
    for (spacecraft, events) in &stored.registrations {
        assert_eq!(*events, 1, "{spacecraft} has {events} registration events");
    }
    assert_eq!(
        stored.orphans, 0,
        "a registration event without its spacecraft"
    );
    assert_eq!(stored.without_outbox, 0, "events without their outbox row");
}

/// Each spacecraft's latest `temp` as `serving` shows it is its newest snapshot's, within
/// `within` (at once for SQLite; PostgreSQL's servers find a killed one gone after a while).
fn check_latest(serving: &Serving, newest_temps: &[(String, Option<i64>)], within: Duration) {
    let deadline = Instant::now() + within;
    for (spacecraft, temp) in newest_temps {
        loop {
            let (status, body) = http(
                serving.port,
                "GET",
                &format!("/telemetry/latest?spacecraftId={spacecraft}"),
                "",
            )
            .expect("latest");
            assert_eq!(status, 200, "{body}");
            let latest: Value = serde_json::from_str(&body).expect("json");
            let shown = latest["parameters"]["temp"]["value"].as_i64();
            if shown == *temp {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{spacecraft}'s latest temp is not its newest stored snapshot's ({temp:?}): \
                 {latest}\n{}",
                serving.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn acknowledged_fleet_writes_survive_kill_9_and_each_spacecraft_registers_once() {
    let db = Db::new();
    let acknowledged = load_then_kill(Serving::start(db.command(&["serve"])));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stored = runtime.block_on(async {
        let url = format!("sqlite://{}", db.file().display());
        let mut conn = SqliteConnection::connect(&url)
            .await
            .expect("open the file");
        let stored = read_stored!(
            &mut conn,
            &StoredSql {
                registrations: "SELECT s.id, (SELECT count(*) FROM events e \
                                WHERE e.type = 'SPACECRAFT_REGISTERED' AND e.spacecraft_id = s.id) \
                                FROM spacecraft s",
                orphans: "SELECT count(*) FROM events e WHERE e.type = 'SPACECRAFT_REGISTERED' \
                          AND NOT EXISTS (SELECT 1 FROM spacecraft s WHERE s.id = e.spacecraft_id)",
                without_outbox: "SELECT count(*) FROM events e \
                                 WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.sequence = e.sequence)",
                newest_temps: "SELECT s.id, (SELECT json_extract(t.parameters, '$.temp') \
                               FROM telemetry t WHERE t.spacecraft_key = s.key \
                               ORDER BY t.ts DESC, t.seq DESC LIMIT 1) FROM spacecraft s",
            }
        );
        conn.close().await.expect("close");
        stored
    });
    check_stored(&stored, &acknowledged);
    let restarted = Serving::start(db.command(&["serve"]));
    check_latest(&restarted, &stored.newest_temps, Duration::ZERO);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_fleet_writes_survive_kill_9_on_postgres_and_held_values_are_rebuilt() {
    use missionops_store::conformance::backends::{admin_url, scratch_postgres};

    let scratch = scratch_postgres().await;
    let name = scratch.scratch_database().expect("scratch").to_owned();
    let url = {
        let admin = admin_url();
        let (base, _) = admin.rsplit_once('/').expect("a database in the admin URL");
        format!("{base}/{name}")
    };
    let db = Db::new();
    let serve = |db: &Db| Serving::start(db.command(&["--database-url", &url, "serve"]));
    let acknowledged = {
        let serving = serve(&db);
        tokio::task::block_in_place(|| load_then_kill(serving))
    };
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let stored = read_stored!(
        &mut conn,
        &StoredSql {
            registrations: "SELECT s.id, (SELECT count(*) FROM events e \
                            WHERE e.type = 'SPACECRAFT_REGISTERED' AND e.tenant = s.tenant \
                            AND e.spacecraft_id = s.id) FROM spacecraft s",
            orphans: "SELECT count(*) FROM events e WHERE e.type = 'SPACECRAFT_REGISTERED' \
                      AND NOT EXISTS (SELECT 1 FROM spacecraft s \
                      WHERE s.tenant = e.tenant AND s.id = e.spacecraft_id)",
            without_outbox: "SELECT count(*) FROM events e WHERE NOT EXISTS \
                             (SELECT 1 FROM outbox o WHERE o.tenant = e.tenant \
                             AND o.sequence = e.sequence)",
            newest_temps: "SELECT s.id, (SELECT (t.parameters->>'temp')::int8 FROM telemetry t \
                           WHERE t.tenant = s.tenant AND t.spacecraft_id = s.id \
                           ORDER BY t.ts DESC, t.arrival DESC LIMIT 1) FROM spacecraft s",
        }
    );
    conn.close().await.expect("close");
    check_stored(&stored, &acknowledged);
    // The new server rebuilds the killed one's held values once it has not been seen for a
    // while (ten seconds, `postgres/latest.rs`).
    let restarted = serve(&db);
    tokio::task::block_in_place(|| {
        check_latest(&restarted, &stored.newest_temps, Duration::from_secs(40));
    });
    drop(restarted);
    drop(scratch);
}
