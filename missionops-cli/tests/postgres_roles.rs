//! The README's PostgreSQL set-up, with the binary: `migrate` connected as the owner, then
//! seeding and `serve` connected as `missionops_app` (SPEC §9). Needs the `postgres` feature
//! and a PostgreSQL server (`MISSIONOPS_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`) that trusts the roles on its host.
#![cfg(feature = "postgres")]

use missionops_store::conformance::backends::{APP_ROLE, admin_url, scratch_postgres};

mod support;
use support::{Db, Serving, http};

/// `postgres://ROLE@HOST:PORT/DATABASE` on the admin URL's server.
fn url_as(role: &str, database: &str) -> String {
    let admin = admin_url();
    let (_, rest) = admin.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host = host.split('/').next().expect("a host");
    format!("postgres://{role}@{host}/{database}")
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_as_the_owner_then_seed_and_serve_as_the_app_role() {
    let scratch = scratch_postgres().await;
    let name = scratch.scratch_database().expect("scratch").to_owned();
    let owner_url = {
        let admin = admin_url();
        let (base, _) = admin.rsplit_once('/').expect("a database in the admin URL");
        format!("{base}/{name}")
    };
    let app_url = url_as(APP_ROLE, &name);
    let db = Db::new();
    let out = db
        .run(&["--database-url", &owner_url, "migrate", "--json"])
        .ok();
    assert!(out.contains("\"migrated\":true"), "{out}");

    // Migrating needs the owner: the app role may not create the migrations' table.
    let line = db.run(&["--database-url", &app_url, "migrate"]).fails(1);
    assert!(line.contains("permission denied"), "{line}");

    // Seeding writes spacecraft, configs, telemetry, anomalies, alarms and events.
    db.run(&[
        "--database-url",
        &app_url,
        "seed-demo-data",
        "30",
        "60",
        "--profile",
        "CUBESAT",
    ])
    .ok();
    let alarms = db.json(&[
        "--database-url",
        &app_url,
        "alarms",
        "list",
        "--state",
        "ALL",
    ]);
    assert!(alarms.as_array().is_some(), "{alarms}");

    let serving = Serving::start(db.command(&["--database-url", &app_url, "serve"]));
    let body = r#"{"spacecraftId":"Cube-001","timestamp":"2025-01-01T00:00:00Z","parameters":{"temp":20}}"#;
    let (status, answer) = http(serving.port, "POST", "/telemetry", body).expect("answer");
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = http(serving.port, "GET", "/events?limit=5", "").expect("answer");
    assert_eq!(status, 200, "{answer}");
    // The server writes latest values behind, as the app role: a tenant's first write of a
    // known spacecraft moves the table itself and has the next write-behind list the tenant;
    // from then on a write is held back and written within a second or so.
    let post = |second: u32, temp: u32| {
        let body = format!(
            r#"{{"spacecraftId":"Cube-001","timestamp":"2025-01-01T00:00:{second:02}Z","parameters":{{"temp":{temp}}}}}"#
        );
        let (status, answer) = http(serving.port, "POST", "/telemetry", &body).expect("answer");
        assert_eq!(status, 201, "{answer}");
    };
    let stored = |temp: u32| {
        format!(
            "SELECT count(*) FROM latest_values WHERE spacecraft_id = 'Cube-001' \
             AND by_parameter->'temp'->>0 = '{temp}'"
        )
    };
    post(1, 21);
    wait_for(&scratch, &stored(21), 1).await;
    let listed = "SELECT count(*) FROM latest_values_writers WHERE 'default' = ANY(tenants)";
    wait_for(&scratch, listed, 1).await;
    post(2, 22);
    wait_for(&scratch, &stored(22), 1).await;
    drop(serving);
    drop(scratch);
}

/// Waits (up to 10 s) until `count_sql`, run on the scratch store's admin connection (a
/// superuser: row-level security does not hide other tenants' rows from it), counts `expected`.
async fn wait_for(store: &missionops_store::PostgresStore, count_sql: &str, expected: i64) {
    let mut count = -1;
    for _ in 0..100 {
        count = sqlx::query_scalar(count_sql)
            .fetch_one(store.pool())
            .await
            .expect("count");
        if count == expected {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{count_sql} counted {count}, not {expected}");
}
