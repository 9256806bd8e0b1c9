//! `serve` on SQLite killed with SIGKILL under fleet load (issue 13): single writes from eight
//! clients round-robin over a fleet, a new spacecraft in every fifth (implicit registration,
//! grouped with the others' writes), batches of ten among them. After the kill, everything
//! that was answered 201 is in the file, no batch is there in part, each spacecraft is
//! registered once with one `SPACECRAFT_REGISTERED` event, every event has its outbox row, and
//! a restarted server shows each spacecraft's latest values as its newest stored snapshot's
//! (they are written behind the telemetry, so the kill loses some that the reopening rebuilds).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
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

#[test]
fn acknowledged_fleet_writes_survive_kill_9_and_each_spacecraft_registers_once() {
    let db = Db::new();
    let mut serving = Serving::start(db.command(&["serve"]));
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
    let acknowledged: Vec<String> = acknowledged.lock().expect("acknowledged").clone();
    assert!(acknowledged.len() >= KILL_AFTER);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let newest_temps = runtime.block_on(async {
        let url = format!("sqlite://{}", db.file().display());
        let mut conn = SqliteConnection::connect(&url).await.expect("open the file");
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM telemetry")
            .fetch_all(&mut conn)
            .await
            .expect("ids");
        let stored: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut batches: BTreeMap<String, usize> = BTreeMap::new();
        for id in &ids {
            if let Some((batch, _)) = id.strip_prefix('b').and_then(|rest| rest.rsplit_once('-')) {
                *batches.entry(format!("b{batch}")).or_default() += 1;
            }
        }
        for acked in &acknowledged {
            if acked.starts_with('b') {
                assert_eq!(batches.get(acked), Some(&BATCH), "batch {acked} was acknowledged");
            } else {
                assert!(stored.contains(acked.as_str()), "{acked} was acknowledged");
            }
        }
        for (batch, count) in &batches {
            assert_eq!(*count, BATCH, "batch {batch} is there in part");
        }
        let registrations: Vec<(String, i64)> = sqlx::query_as(
            "SELECT s.id, (SELECT count(*) FROM events e \
                           WHERE e.type = 'SPACECRAFT_REGISTERED' AND e.spacecraft_id = s.id) \
             FROM spacecraft s",
        )
        .fetch_all(&mut conn)
        .await
        .expect("registrations");
        assert!(registrations.len() > FLEET, "the new spacecraft are registered too");
        for (spacecraft, events) in &registrations {
            assert_eq!(*events, 1, "{spacecraft} has {events} registration events");
        }
        let orphans: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events e WHERE e.type = 'SPACECRAFT_REGISTERED' \
             AND NOT EXISTS (SELECT 1 FROM spacecraft s WHERE s.id = e.spacecraft_id)",
        )
        .fetch_one(&mut conn)
        .await
        .expect("orphans");
        assert_eq!(orphans, 0, "a registration event without its spacecraft");
        let without_outbox: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events e \
             WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.sequence = e.sequence)",
        )
        .fetch_one(&mut conn)
        .await
        .expect("outbox");
        assert_eq!(without_outbox, 0, "events without their outbox row");
        // Each spacecraft's newest snapshot: newest time, ties to the last stored.
        let newest = sqlx::query(
            "SELECT s.id, (SELECT t.ts FROM telemetry t WHERE t.spacecraft_key = s.key \
                           ORDER BY t.ts DESC, t.seq DESC LIMIT 1), \
                          (SELECT json_extract(t.parameters, '$.temp') FROM telemetry t \
                           WHERE t.spacecraft_key = s.key ORDER BY t.ts DESC, t.seq DESC LIMIT 1) \
             FROM spacecraft s",
        )
        .fetch_all(&mut conn)
        .await
        .expect("newest");
        conn.close().await.expect("close");
        newest
            .iter()
            .map(|row| {
                let id: String = row.get(0);
                let temp: Option<i64> = row.get(2);
                (id, temp)
            })
            .collect::<Vec<_>>()
    });

    let restarted = Serving::start(db.command(&["serve"]));
    for (spacecraft, temp) in newest_temps {
        let (status, body) = http(
            restarted.port,
            "GET",
            &format!("/telemetry/latest?spacecraftId={spacecraft}"),
            "",
        )
        .expect("latest");
        assert_eq!(status, 200, "{body}");
        let latest: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            latest["parameters"]["temp"]["value"].as_i64(),
            temp,
            "{spacecraft}'s latest temp is its newest stored snapshot's: {latest}"
        );
    }
}
