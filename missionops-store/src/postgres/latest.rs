//! Latest values written behind the telemetry, for the server's store
//! ([`PostgresStore::deferring_latest_values`]).
//!
//! Moving `latest_values` forward in the ingest statement is one row update per parameter of
//! every snapshot: for a fleet of ten-parameter snapshots, half of PostgreSQL's work per write.
//! A deferring store keeps the newest value of each (spacecraft, parameter) its ingests stored
//! in memory instead (from the commit of each), answers its own reads from the table and that
//! memory, and writes them once a second, with its row in `latest_values_writers` (see migration 0014):
//! the tenants it holds values back for and `from_arrival`, below which everything it held
//! back is written. A process killed between two writes loses what it held; another
//! deferring store finds its row unrefreshed for [`GONE_AFTER`] and rebuilds those tenants'
//! latest values from the telemetry stored from `from_arrival` on (idempotent: every upsert
//! keeps the newest by sample time, then arrival).
//!
//! A tenant's values are held back only once the writer's row lists it: the first writes of a
//! tenant move `latest_values` in their statement, and the next write-behind adds the tenant.
//!
//! [`PostgresStore::deferring_latest_values`]: super::PostgresStore::deferring_latest_values

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use missionops_core::{Error, ParameterName, Result, SpacecraftId, TenantId, Timestamp};
use sqlx::{Connection, PgPool};
use tokio::sync::{RwLock, RwLockReadGuard};

use super::{db, is_deadlock, unique_violation};

/// Inserts the entries `$2` of spacecraft `$1` of tenant `$3` (see [`latest_documents`]) that
/// no row of `latest_values` holds yet: their first values, when this store registered them.
/// A plain insert costs PostgreSQL less than [`UPSERT_LATEST_VALUES`]'s speculative one
/// (which looks the key up first, then confirms the row with a second WAL record). Should
/// another process have written one of them meanwhile, the statement fails on the key and the
/// write-behind goes again with the upsert.
const INSERT_FIRST_LATEST_VALUES: &str =
    "INSERT INTO latest_values (tenant, spacecraft_id, by_parameter)
     SELECT $3, s, d::jsonb FROM unnest($1::text[], $2::text[]) AS u(s, d)";

/// Moves `latest_values` of tenant `$3` forward to the entries `$2` of spacecraft `$1` (see
/// [`latest_documents`]), parameter by parameter where newer by time, then arrival: what a
/// write stored, or what the server held back.
pub(super) const UPSERT_LATEST_VALUES: &str = concat!(
    "INSERT INTO latest_values AS l (tenant, spacecraft_id, by_parameter)
     SELECT $3, s, d::jsonb FROM unnest($1::text[], $2::text[]) AS u(s, d)",
    merge_latest!()
);

/// The spacecraft of `rows` (spacecraft, parameter, value as JSON text, time, arrival number;
/// in key order, each (spacecraft, parameter) once) and the entry of `latest_values` (migration
/// 0017) of each: `{"parameter": ["value", epoch milliseconds, arrival], …}`. Built here, one
/// text for each spacecraft, because PostgreSQL building it from a row per parameter
/// (`jsonb_object_agg`) cost as much as the row per parameter it replaces. Rows out of
/// spacecraft order are refused: one statement would be given a spacecraft's row twice.
pub(super) fn latest_documents<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a str, &'a str, Timestamp, i64)>,
) -> Result<(Vec<&'a str>, Vec<String>)> {
    let mut spacecraft: Vec<&str> = Vec::new();
    let mut documents: Vec<String> = Vec::new();
    let mut document = String::new();
    for (of, parameter, value, timestamp, arrival) in rows {
        if spacecraft.last() == Some(&of) {
            document.push(',');
        } else {
            if let Some(before) = spacecraft.last().filter(|before| **before > of) {
                return Err(Error::backend(format!(
                    "latest values out of spacecraft order: '{of}' after '{before}'"
                )));
            }
            if !document.is_empty() {
                document.push('}');
                documents.push(std::mem::take(&mut document));
            }
            spacecraft.push(of);
            document.push('{');
        }
        document.push_str(
            &serde_json::to_string(parameter).map_err(crate::unavailable::backend_error)?,
        );
        document.push_str(":[");
        document
            .push_str(&serde_json::to_string(value).map_err(crate::unavailable::backend_error)?);
        document.push_str(&format!(",{},{arrival}]", timestamp.as_millis()));
    }
    if !document.is_empty() {
        document.push('}');
        documents.push(document);
    }
    Ok((spacecraft, documents))
}

/// How often what is held back is written.
pub(super) const WRITE_EVERY: Duration = Duration::from_secs(1);

/// How long a writer's row may go unrefreshed before another writer takes it for gone.
pub(super) const GONE_AFTER: Duration = Duration::from_secs(10);

/// Arrival numbers are a block number shifted by this many bits, plus the index in the block
/// (see the `telemetry` module).
const ARRIVAL_BITS: u32 = 20;

/// A value held back: the sample's time and arrival number, and the value as JSON.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Held {
    pub(super) timestamp: Timestamp,
    pub(super) arrival: i64,
    pub(super) value_json: String,
}

impl Held {
    fn newer_than(&self, other: &Held) -> bool {
        (self.timestamp, self.arrival) > (other.timestamp, other.arrival)
    }
}

type Key = (TenantId, SpacecraftId);

#[derive(Default)]
struct State {
    held: HashMap<Key, HashMap<ParameterName, Held>>,
    /// The highest arrival block merged since the last write-behind took what was held.
    highest_block: Option<i64>,
    /// The tenants the writer's row lists (committed): their values may be held back.
    listed: HashSet<TenantId>,
    /// Tenants written since, to be listed by the next write-behind.
    unlisted: HashSet<TenantId>,
    /// Spacecraft registered by this store's ingests since the last write-behind took what
    /// was held: no row of `latest_values` held their values when they were registered.
    registered: HashSet<Key>,
}

/// What a deferring store holds back, and the gate between its ingests and its write-behind.
pub(super) struct Behind {
    writer: String,
    /// Held shared by a deferring ingest from before its statement until its values are
    /// merged; a write-behind takes it exclusively while it takes what is held, so that every
    /// statement that took an arrival block before that moment has merged by then.
    gate: RwLock<()>,
    state: std::sync::Mutex<State>,
}

impl std::fmt::Debug for Behind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Behind")
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}

impl Behind {
    pub(super) fn new() -> Self {
        Behind {
            writer: uuid::Uuid::now_v7().to_string(),
            gate: RwLock::new(()),
            state: std::sync::Mutex::default(),
        }
    }

    /// This process's id in `latest_values_writers`.
    pub(super) fn writer(&self) -> &str {
        &self.writer
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `tenant`'s values may be held back now; when not, the tenant is listed by the
    /// next write-behind.
    pub(super) fn holds_back(&self, tenant: &TenantId) -> bool {
        let mut state = self.state();
        if state.listed.contains(tenant) {
            return true;
        }
        state.unlisted.insert(tenant.clone());
        false
    }

    /// Entered by a deferring ingest before its statement, left after [`Behind::merge`].
    pub(super) async fn enter(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().await
    }

    /// Takes in the newest values of a committed statement: `rows` are (spacecraft,
    /// parameter, JSON value, time, index in the batch), `blocks` the arrival blocks the
    /// statement took, `registered` the spacecraft it registered.
    pub(super) fn merge<'a>(
        &self,
        tenant: &TenantId,
        rows: impl Iterator<
            Item = (
                &'a SpacecraftId,
                &'a ParameterName,
                String,
                Timestamp,
                usize,
            ),
        >,
        blocks: &[i64],
        registered: &[String],
    ) {
        // A set: a batch may register thousands of spacecraft, each with a row a parameter.
        let registered: HashSet<&str> = registered.iter().map(String::as_str).collect();
        let mut state = self.state();
        if let Some(&highest) = blocks.iter().max() {
            state.highest_block = Some(state.highest_block.map_or(highest, |h| h.max(highest)));
        }
        for (spacecraft, parameter, value_json, timestamp, index) in rows {
            let Some(&block) = blocks.get(index >> ARRIVAL_BITS) else {
                continue;
            };
            let index = i64::try_from(index & ((1 << ARRIVAL_BITS) - 1)).unwrap_or(0);
            let held = Held {
                timestamp,
                arrival: (block << ARRIVAL_BITS) | index,
                value_json,
            };
            if registered.contains(spacecraft.as_str()) {
                state
                    .registered
                    .insert((tenant.clone(), spacecraft.clone()));
            }
            keep_newer(
                state
                    .held
                    .entry((tenant.clone(), spacecraft.clone()))
                    .or_default(),
                parameter,
                held,
            );
        }
    }

    /// What is held back for `spacecraft` of `tenant`, by parameter.
    pub(super) fn held(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> HashMap<ParameterName, Held> {
        self.state()
            .held
            .get(&(tenant.clone(), spacecraft.clone()))
            .cloned()
            .unwrap_or_default()
    }

    /// Writes what is held back, with the writer's row; on failure it stays held for the next
    /// call. Then rebuilds the latest values of writers gone for [`GONE_AFTER`].
    pub(super) async fn write_behind(&self, pool: &PgPool) -> Result<()> {
        let (held, registered, highest_block, tenants, unlisted) = {
            let _gate = self.gate.write().await;
            let mut state = self.state();
            let held = std::mem::take(&mut state.held);
            let registered = std::mem::take(&mut state.registered);
            let highest_block = state.highest_block.take();
            let unlisted: Vec<TenantId> = state.unlisted.drain().collect();
            let mut tenants: Vec<String> = state
                .listed
                .iter()
                .chain(&unlisted)
                .map(|t| t.as_str().to_owned())
                .collect();
            tenants.sort_unstable();
            (held, registered, highest_block, tenants, unlisted)
        };
        match self
            .write(pool, &held, &registered, highest_block, &tenants)
            .await
        {
            Ok(()) => {
                self.state().listed.extend(unlisted);
            }
            Err(e) => {
                let mut state = self.state();
                state.registered.extend(registered);
                for (key, values) in held {
                    let of = state.held.entry(key).or_default();
                    for (parameter, value) in values {
                        keep_newer(of, &parameter, value);
                    }
                }
                if let Some(block) = highest_block {
                    state.highest_block = Some(state.highest_block.map_or(block, |h| h.max(block)));
                }
                state.unlisted.extend(unlisted);
                return Err(e);
            }
        }
        rebuild_gone(pool, &self.writer, GONE_AFTER).await
    }

    async fn write(
        &self,
        pool: &PgPool,
        held: &HashMap<Key, HashMap<ParameterName, Held>>,
        registered: &HashSet<Key>,
        highest_block: Option<i64>,
        tenants: &[String],
    ) -> Result<()> {
        let mut conn = pool.acquire().await.map_err(db)?;
        let mut written = self
            .write_on(&mut conn, held, registered, highest_block, tenants)
            .await;
        if let Ok(false) = written {
            // Another process wrote a first value meanwhile: nothing was written; every row
            // goes through the upsert, which keeps the newer of the two.
            written = self
                .write_on(&mut conn, held, &HashSet::new(), highest_block, tenants)
                .await;
        }
        // A fleet's write is one message of megabytes (10,000 spacecraft × 10 values), and a
        // connection keeps a buffer as large as the largest message it sent for as long as it
        // lives: every pool connection that ever carried one held ~7 MB more (the server on
        // PostgreSQL measured 209–244 MB resident with 10,000 spacecraft live).
        conn.shrink_buffers();
        written.map(|_| ())
    }

    /// Writes `held` in one transaction: the values of spacecraft in `registered` with a plain
    /// insert, the rest with the upsert. `Ok(false)` when a plain insert met a row (or a
    /// deadlock with another process writing one): then nothing was written.
    async fn write_on(
        &self,
        conn: &mut sqlx::PgConnection,
        held: &HashMap<Key, HashMap<ParameterName, Held>>,
        registered: &HashSet<Key>,
        highest_block: Option<i64>,
        tenants: &[String],
    ) -> Result<bool> {
        type Rows<'a> = Vec<(&'a SpacecraftId, &'a ParameterName, &'a Held)>;
        let mut by_tenant: HashMap<&TenantId, (Rows<'_>, Rows<'_>)> = HashMap::new();
        for (key, values) in held {
            let (first, later) = by_tenant.entry(&key.0).or_default();
            let rows = if registered.contains(key) {
                first
            } else {
                later
            };
            rows.extend(values.iter().map(|(p, h)| (&key.1, p, h)));
        }
        let mut tx = conn.begin().await.map_err(db)?;
        for (tenant, (first, later)) in by_tenant {
            set_tenant(&mut tx, tenant.as_str()).await?;
            for (mut rows, sql, plain) in [
                (first, INSERT_FIRST_LATEST_VALUES, true),
                (later, UPSERT_LATEST_VALUES, false),
            ] {
                if rows.is_empty() {
                    continue;
                }
                // In key order, as the ingest locks them, so that the two never deadlock.
                rows.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
                let (spacecraft, documents) = latest_documents(rows.iter().map(|r| {
                    let held = r.2;
                    let value = held.value_json.as_str();
                    (
                        r.0.as_str(),
                        r.1.as_str(),
                        value,
                        held.timestamp,
                        held.arrival,
                    )
                }))?;
                let done = sqlx::query(sql)
                    .bind(&spacecraft)
                    .bind(&documents)
                    .bind(tenant.as_str())
                    .execute(&mut *tx)
                    .await;
                match done {
                    Err(err)
                        if plain
                            && (unique_violation(&err) == Some("latest_values_pkey")
                                || is_deadlock(&err)) =>
                    {
                        return Ok(false);
                    }
                    done => {
                        done.map_err(db)?;
                    }
                }
            }
        }
        // Everything held back came from blocks up to `highest_block`, and every statement
        // after the gate takes a later block; with nothing merged, the mark stays (a new row
        // starts after every block taken so far).
        sqlx::query(
            "INSERT INTO latest_values_writers AS w (writer, tenants, from_arrival, seen_at)
             VALUES ($1, $2, COALESCE($3, nextval('telemetry_arrival_block_seq') << 20), now())
             ON CONFLICT (writer) DO UPDATE
             SET tenants = excluded.tenants, seen_at = excluded.seen_at,
                 from_arrival = COALESCE($3, w.from_arrival)",
        )
        .bind(&self.writer)
        .bind(tenants)
        .bind(highest_block.map(|b| (b + 1) << ARRIVAL_BITS))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }
}

/// Sets the tenant of the open transaction on `tx` (row-level security).
async fn set_tenant(tx: &mut sqlx::PgConnection, tenant: &str) -> Result<()> {
    sqlx::query("SELECT set_config('missionops.tenant', $1, true)")
        .bind(tenant)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    Ok(())
}

fn keep_newer(of: &mut HashMap<ParameterName, Held>, parameter: &ParameterName, held: Held) {
    match of.get_mut(parameter) {
        Some(kept) if held.newer_than(kept) => *kept = held,
        Some(_) => {}
        None => {
            of.insert(parameter.clone(), held);
        }
    }
}

/// Rebuilds the latest values that writers other than `me`, unrefreshed for `gone_after`,
/// held back, from the telemetry stored from their `from_arrival` on, and removes their rows.
pub(super) async fn rebuild_gone(pool: &PgPool, me: &str, gone_after: Duration) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db)?;
    let gone: Vec<(String, Vec<String>, i64)> = sqlx::query_as(
        "SELECT writer, tenants, from_arrival FROM latest_values_writers
         WHERE writer <> $1 AND seen_at < now() - make_interval(secs => $2)
         FOR UPDATE SKIP LOCKED",
    )
    .bind(me)
    .bind(gone_after.as_secs_f64())
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    if gone.is_empty() {
        return Ok(());
    }
    for (writer, tenants, from_arrival) in &gone {
        for tenant in tenants {
            set_tenant(&mut tx, tenant).await?;
            sqlx::query(concat!(
                "WITH newest AS (
                         SELECT DISTINCT ON (t.spacecraft_id, p.key)
                                t.spacecraft_id AS s, p.key AS p, p.value::text AS v,
                                t.ts AS t, t.arrival AS a
                         FROM telemetry t CROSS JOIN LATERAL json_each(t.parameters) AS p
                         WHERE t.tenant = $1 AND t.arrival >= $2
                         ORDER BY t.spacecraft_id, p.key, t.ts DESC, t.arrival DESC)
                 INSERT INTO latest_values AS l (tenant, spacecraft_id, by_parameter) ",
                latest_by_spacecraft!("$1", "a", "newest"),
                merge_latest!()
            ))
            .bind(tenant)
            .bind(from_arrival)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        sqlx::query("DELETE FROM latest_values_writers WHERE writer = $1")
            .bind(writer)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tracing::info!(
            tenants = tenants.len(),
            "rebuilt the latest values a stopped server had not written"
        );
    }
    tx.commit().await.map_err(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One entry a spacecraft, each parameter's value kept as its JSON text.
    #[test]
    fn latest_documents_group_rows_by_spacecraft() {
        let at = |ms| Timestamp::from_millis(ms).expect("time");
        let (spacecraft, documents) = latest_documents([
            ("SC-1", "mode", r#""SAFE \"now\"""#, at(2_000), 7),
            ("SC-1", "temp", "21.5", at(1_000), 5),
            ("SC-2", "on", "true", at(3_000), 9),
        ])
        .expect("documents");
        assert_eq!(spacecraft, ["SC-1", "SC-2"]);
        let parsed: Vec<serde_json::Value> = documents
            .iter()
            .map(|d| serde_json::from_str(d).expect("JSON"))
            .collect();
        assert_eq!(
            parsed,
            [
                serde_json::json!({
                    "mode": [r#""SAFE \"now\"""#, 2_000, 7],
                    "temp": ["21.5", 1_000, 5]
                }),
                serde_json::json!({"on": ["true", 3_000, 9]})
            ]
        );
        assert_eq!(latest_documents([]).expect("none"), (vec![], vec![]));
    }

    /// A spacecraft whose rows come apart would get two entries, which one upsert statement
    /// cannot take: refused, naming both.
    #[test]
    fn latest_documents_refuse_rows_out_of_spacecraft_order() {
        let at = |ms| Timestamp::from_millis(ms).expect("time");
        let err = latest_documents([
            ("SC-1", "temp", "21.5", at(1_000), 5),
            ("SC-2", "on", "true", at(3_000), 9),
            ("SC-1", "mode", "1", at(2_000), 7),
        ])
        .expect_err("SC-1 again after SC-2");
        assert!(
            err.to_string().contains("'SC-1' after 'SC-2'"),
            "names both: {err}"
        );
    }

    /// Only the spacecraft a statement registered get the plain insert: a spacecraft that was
    /// known before may have rows, and would send every write-behind round twice.
    #[test]
    fn only_the_spacecraft_a_statement_registered_are_first_written() {
        let behind = Behind::new();
        let tenant = TenantId::default();
        let known = SpacecraftId::parse("SC-1").expect("id");
        let new = SpacecraftId::parse("SC-2").expect("id");
        let temp = ParameterName::parse("temp").expect("name");
        let at = Timestamp::from_millis(1_000).expect("time");
        behind.merge(
            &tenant,
            [
                (&known, &temp, "1".to_owned(), at, 0),
                (&new, &temp, "2".to_owned(), at, 1),
            ]
            .into_iter(),
            &[5],
            &["SC-2".to_owned()],
        );
        assert_eq!(
            behind.state().registered,
            HashSet::from([(tenant.clone(), new.clone())])
        );
        assert_eq!(
            behind.held(&tenant, &new)[&temp].arrival,
            (5 << ARRIVAL_BITS) | 1
        );
    }
}
