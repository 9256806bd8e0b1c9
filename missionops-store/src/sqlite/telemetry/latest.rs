//! Latest values written behind the telemetry (issue 13, fleet scale).
//!
//! Every snapshot moves its spacecraft's latest values forward. Upserted in the telemetry's
//! own transaction, a group of writes of many spacecraft dirtied a `latest_values` page per
//! spacecraft on every commit, on top of the telemetry's: a sixth of the server's CPU on
//! single writes round-robin over a fleet. So a committed write's latest values wait here, in
//! memory, and [`flush_latest_values`] upserts what gathered, each row once, every second (and
//! when the store closes). The values of spacecraft a write registers are the exception: they
//! go in with that write, on the direct connection (see `write_all_new`).
//!
//! Nothing is lost: the telemetry rows are committed, and `latest_values_flushed.seq` says up
//! to which arrival number (`telemetry.seq`) the table holds them. Opening the store first
//! moves the table forward from the telemetry rows after that number, so a process killed
//! between two flushes leaves nothing missing. Readers of this process see the values at
//! once (reads overlay what waits here); another process reading the file sees them after
//! the next flush.
//!
//! Merges into the waiting values, and a flush's taking of them with `MAX(seq)`, both happen
//! while the write connection is held, so that the number and the values agree: every
//! committed row up to that number has its values in what the flush took (or in the table).
//! The flush encodes them with the connection let go, readers seeing them in memory
//! meanwhile, and writes them with the number in one transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use missionops_core::{ParameterName, ParameterValue, Result, TelemetrySnapshot};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::write::{Keys, LatestRow, NewestValue, newest_values, push_latest_values};
use crate::json_text::{read_parameters, to_json};
use crate::sqlite::{
    DbResult, SqliteStore, Writer, begin_write, corrupt, rows_per_statement, stored_time,
};

/// A parameter's newest value waiting to be written: sample time (ms) and value.
pub(crate) type Waiting = (i64, ParameterValue);

/// Values by spacecraft key, then parameter.
type ValueMap = HashMap<i64, HashMap<ParameterName, Waiting>>;

/// The latest values of committed writes not yet in `latest_values`, by spacecraft key, then
/// parameter. Names and numbers are kept as they are (a name is a shared string, a number is
/// copied): merging a write's values costs no allocation, only the flush encodes them. A std
/// mutex: held for map operations only, never across an await.
#[derive(Debug, Default)]
pub(crate) struct PendingLatest(Mutex<Maps>);

#[derive(Debug, Default)]
struct Maps {
    /// Merged since the last flush took what waited.
    waiting: ValueMap,
    /// Taken by a flush that has not committed them all yet (or failed: the next flush takes
    /// them again). Readers still see them here until they are in the table.
    flushing: Arc<ValueMap>,
}

/// Keeps `value` for `parameter` in `of` unless what is there is newer (a later arrival wins a
/// tie of sample times, as the table's upsert says).
fn keep_newer(of: &mut HashMap<ParameterName, Waiting>, parameter: &ParameterName, value: Waiting) {
    match of.get_mut(parameter) {
        Some(kept) if value.0 >= kept.0 => *kept = value,
        Some(_) => {}
        None => {
            of.insert(parameter.clone(), value);
        }
    }
}

impl PendingLatest {
    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        // Every update is a few inserts; a panic between two leaves usable maps.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes in the newest values of a committed write, where at least as new as what waits
    /// (a later arrival wins a tie of sample times, as the table's upsert says).
    pub(crate) fn merge(&self, values: Vec<NewestValue<'_>>) {
        if values.is_empty() {
            return;
        }
        let mut maps = self.maps();
        for (key, parameter, ts, value) in values {
            keep_newer(
                maps.waiting.entry(key).or_default(),
                parameter,
                (ts, value.clone()),
            );
        }
    }

    /// What waits for the spacecraft with `key`, by parameter: being flushed, overlaid with
    /// what was merged since.
    pub(crate) fn of(&self, key: i64) -> HashMap<ParameterName, Waiting> {
        let maps = self.maps();
        let mut of = maps.flushing.get(&key).cloned().unwrap_or_default();
        for (parameter, value) in maps.waiting.get(&key).into_iter().flatten() {
            keep_newer(&mut of, parameter, value.clone());
        }
        of
    }

    fn is_empty(&self) -> bool {
        let maps = self.maps();
        maps.waiting.is_empty() && maps.flushing.is_empty()
    }

    /// Moves what waits to the values being flushed (with those of a flush that failed) and
    /// answers them all.
    fn take_for_flush(&self) -> Arc<ValueMap> {
        let mut maps = self.maps();
        let waiting = std::mem::take(&mut maps.waiting);
        let taken = if maps.flushing.is_empty() {
            waiting
        } else {
            let mut all = (*maps.flushing).clone();
            for (key, values) in waiting {
                let of = all.entry(key).or_default();
                for (parameter, value) in values {
                    keep_newer(of, &parameter, value);
                }
            }
            all
        };
        maps.flushing = Arc::new(taken);
        Arc::clone(&maps.flushing)
    }

    /// Forgets the values `flushed` took, now in the table.
    fn flushed(&self, flushed: &Arc<ValueMap>) {
        let mut maps = self.maps();
        if Arc::ptr_eq(&maps.flushing, flushed) {
            maps.flushing = Arc::default();
        }
    }
}

/// `values` as `latest_values` rows, in the table's key order (spacecraft key, then parameter
/// name, byte by byte as SQLite's `BINARY` collation): each spacecraft's rows then go in one
/// after another at one place in the table, where in the maps' hash order every row was a
/// search from the root to a page touched at random. A flush of 100,000 rows (a new spacecraft
/// per request) took 77 ms of SQLite's time in order against 130–138 ms.
fn rows_in_key_order(values: &ValueMap) -> Result<Vec<(i64, ParameterName, i64, String)>> {
    let mut rows = Vec::with_capacity(values.values().map(HashMap::len).sum());
    let mut keys: Vec<i64> = values.keys().copied().collect();
    keys.sort_unstable();
    let mut names: Vec<(&ParameterName, &Waiting)> = Vec::new();
    for key in keys {
        let Some(of) = values.get(&key) else { continue };
        names.clear();
        names.extend(of.iter());
        names.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        for &(parameter, (ts, value)) in &names {
            rows.push((key, parameter.clone(), *ts, to_json(value)?));
        }
    }
    Ok(rows)
}

/// Writes `rows` (spacecraft key, parameter, time, JSON value) into `latest_values` where at
/// least as new as what the table holds.
async fn upsert(
    conn: &mut SqliteConnection,
    rows: &[(i64, ParameterName, i64, String)],
) -> Result<()> {
    let borrowed: Vec<LatestRow<'_>> = rows
        .iter()
        .map(|(key, p, ts, value)| (*key, p.as_str(), *ts, value.clone()))
        .collect();
    for chunk in borrowed.chunks(rows_per_statement(4)) {
        let mut query = QueryBuilder::<Sqlite>::new("");
        push_latest_values(&mut query, chunk);
        query.build().execute(&mut *conn).await.db()?;
    }
    Ok(())
}

/// Writes `rows` as [`upsert`] does and says that the table holds the latest values of every
/// telemetry row up to arrival number `covered`; never backwards (a store that writes latest
/// values with its rows may have moved it on meanwhile).
async fn upsert_covering(
    conn: &mut SqliteConnection,
    rows: &[(i64, ParameterName, i64, String)],
    covered: i64,
) -> Result<()> {
    upsert(&mut *conn, rows).await?;
    sqlx::query("UPDATE latest_values_flushed SET seq = max(seq, ?)")
        .bind(covered)
        .execute(&mut *conn)
        .await
        .db()?;
    Ok(())
}

/// Telemetry rows read back per step of the repair at open.
const REPAIR_ROWS: i64 = 10_000;

/// Writes the latest values waiting in `latest` into `latest_values`, with the arrival number
/// they cover (see the module), in one transaction. Nothing to do when none waits.
///
/// What waits is taken, and the highest arrival number read, on the write connection, where
/// every committed write has merged its values already (merges happen while the connection
/// is held): every telemetry row up to that number has its values in what was taken, or in
/// the table. They are encoded away from the connection (100,000 values take ~20 ms, which
/// group commits no longer wait for), and readers see them in memory until they are written.
/// A failure leaves them to the next flush (the upsert keeps the newest, so writing one twice
/// is harmless); a process killed before the commit leaves them to the repair at open.
///
/// Written a few thousand rows a transaction instead, with the connection let go between
/// two, a flush of a new spacecraft per request (100,000 rows a second) held group commits
/// back 30–40 ms at worst instead of 150–180, but many more of them a little (p99 10–11 ms
/// against 5–6) for no more requests a second.
pub(crate) async fn flush_latest_values(writer: &Writer, latest: &PendingLatest) -> Result<()> {
    if latest.is_empty() {
        return Ok(());
    }
    let (taken, covered) = {
        let mut conn = writer.lock().await?;
        let covered: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM telemetry")
            .fetch_one(&mut *conn)
            .await
            .db()?;
        (latest.take_for_flush(), covered)
    };
    let encoding = Arc::clone(&taken);
    // Encoding 100,000 values takes ~20 ms: not on the runtime's workers.
    let rows = tokio::task::spawn_blocking(move || rows_in_key_order(&encoding))
        .await
        .map_err(|e| missionops_core::Error::backend(format!("encoding latest values: {e}")))??;
    if !rows.is_empty() {
        let mut conn = writer.lock().await?;
        let mut tx = begin_write(&mut conn).await?;
        upsert_covering(&mut tx, &rows, covered).await?;
        tx.commit().await.db()?;
    }
    latest.flushed(&taken);
    Ok(())
}

impl SqliteStore {
    /// Moves `latest_values` forward from the telemetry rows stored after the arrival number
    /// it covers (a process that stopped between two flushes), step by step, on the write
    /// connection `conn` at open.
    pub(crate) async fn repair_latest_values(conn: &mut SqliteConnection) -> Result<()> {
        loop {
            let mut tx = begin_write(conn).await?;
            let flushed: i64 = sqlx::query_scalar("SELECT seq FROM latest_values_flushed")
                .fetch_one(&mut *tx)
                .await
                .db()?;
            let rows: Vec<(i64, i64, String, i64)> = sqlx::query_as(
                "SELECT seq, spacecraft_key, parameters, ts FROM telemetry \
                 WHERE seq > ? ORDER BY seq LIMIT ?",
            )
            .bind(flushed)
            .bind(REPAIR_ROWS)
            .fetch_all(&mut *tx)
            .await
            .db()?;
            let Some(&(last, ..)) = rows.last() else {
                return tx.commit().await.db();
            };
            let mut snapshots = Vec::with_capacity(rows.len());
            let mut keys = HashMap::new();
            for (seq, key, parameters, ts) in &rows {
                let what = format!("#{seq}");
                let parameters =
                    read_parameters(parameters).map_err(|e| corrupt("telemetry", &what, e))?;
                // The key stands in for the spacecraft id: only its key is written.
                let id = missionops_core::SpacecraftId::parse(format!("K{key}"))
                    .map_err(|e| corrupt("telemetry", &what, e))?;
                keys.entry(format!("K{key}")).or_insert(*key);
                snapshots.push(TelemetrySnapshot {
                    id: missionops_core::SnapshotId::parse(format!("repair-{seq}"))
                        .map_err(|e| corrupt("telemetry", &what, e))?,
                    spacecraft_id: id,
                    timestamp: stored_time(*ts, "telemetry", &what)?,
                    parameters,
                });
            }
            let keys = Keys::from_owned(&keys);
            let owned = newest_values(&snapshots, &keys, None)
                .into_iter()
                .map(|(key, p, ts, value)| Ok((key, p.clone(), ts, to_json(value)?)))
                .collect::<Result<Vec<_>>>()?;
            upsert_covering(&mut tx, &owned, last).await?;
            tx.commit().await.db()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_values_come_out_in_the_tables_key_order() {
        let latest = PendingLatest::default();
        let names: Vec<ParameterName> = ["temp", "b", "a", "Z"]
            .into_iter()
            .map(|n| ParameterName::parse(n).expect("name"))
            .collect();
        let value = ParameterValue::Number(1.0);
        latest.merge(vec![
            (3, &names[0], 10, &value),
            (1, &names[1], 10, &value),
            (1, &names[2], 10, &value),
            (2, &names[3], 10, &value),
            (1, &names[3], 10, &value),
        ]);
        let order: Vec<(i64, String)> = rows_in_key_order(&latest.take_for_flush())
            .expect("rows")
            .into_iter()
            .map(|(key, parameter, ..)| (key, parameter.as_str().to_owned()))
            .collect();
        let expected = [(1, "Z"), (1, "a"), (1, "b"), (2, "Z"), (3, "temp")];
        assert_eq!(
            order,
            expected.map(|(key, name)| (key, name.to_owned())),
            "spacecraft key, then name byte by byte (BINARY)"
        );
    }

    #[test]
    fn values_being_flushed_are_read_until_written_and_taken_again_after_a_failure() {
        let latest = PendingLatest::default();
        let [a, b, c] = ["a", "b", "c"].map(|n| ParameterName::parse(n).expect("name"));
        let old = ParameterValue::Number(1.0);
        let new = ParameterValue::Number(2.0);
        latest.merge(vec![(1, &a, 10, &old), (1, &c, 10, &old)]);
        let taken = latest.take_for_flush();
        // Merged while the flush writes: newer wins over what is being flushed.
        latest.merge(vec![(1, &a, 20, &new), (1, &b, 5, &new)]);
        let read = latest.of(1);
        assert_eq!(read.get(&a), Some(&(20, new.clone())));
        assert_eq!(read.get(&b), Some(&(5, new.clone())));
        assert_eq!(
            read.get(&c),
            Some(&(10, old.clone())),
            "still being flushed"
        );
        // The flush failed: the next one takes its values again, with what came since.
        let again = latest.take_for_flush();
        assert_eq!(again.get(&1).map(HashMap::len), Some(3));
        assert_eq!(again[&1].get(&a), Some(&(20, new.clone())));
        latest.flushed(&taken);
        assert_eq!(latest.of(1).len(), 3, "an older flush lets go of nothing");
        latest.flushed(&again);
        assert!(latest.of(1).is_empty(), "written: read from the table");
        assert!(latest.is_empty());
    }
}
