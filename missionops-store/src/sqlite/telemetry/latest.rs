//! Latest values written behind the telemetry (issue 13, fleet scale).
//!
//! Every snapshot moves its spacecraft's latest values forward. Upserted in the telemetry's
//! own transaction, a group of writes of many spacecraft dirtied a `latest_values` page per
//! spacecraft on every commit, on top of the telemetry's: a sixth of the server's CPU on
//! single writes round-robin over a fleet. So a committed write's latest values wait here, in
//! memory, and [`flush_latest_values`] upserts what gathered, each row once, every second (and
//! when the store closes).
//!
//! Nothing is lost: the telemetry rows are committed, and `latest_values_flushed.seq` says up
//! to which arrival number (`telemetry.seq`) the table holds them. Opening the store first
//! moves the table forward from the telemetry rows after that number, so a process killed
//! between two flushes leaves nothing missing. Readers of this process see the values at
//! once (reads overlay what waits here); another process reading the file sees them after
//! the next flush.
//!
//! Merges into the waiting values and flushes both happen while the write connection is held,
//! so that a flush's `MAX(seq)` and the values it writes agree: every committed row up to that
//! number has its values in the flush.

use std::collections::HashMap;
use std::sync::Mutex;

use missionops_core::{ParameterName, ParameterValue, Result, TelemetrySnapshot};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::write::{Keys, LatestRow, NewestValue, newest_values, push_latest_values};
use crate::json_text::{read_parameters, to_json};
use crate::sqlite::{
    DbResult, SqliteStore, Writer, begin_write, corrupt, rows_per_statement, stored_time,
};

/// A parameter's newest value waiting to be written: sample time (ms) and value.
pub(crate) type Waiting = (i64, ParameterValue);

/// The latest values of committed writes not yet in `latest_values`, by spacecraft key, then
/// parameter. Names and numbers are kept as they are (a name is a shared string, a number is
/// copied): merging a write's values costs no allocation, only the flush encodes them. A std
/// mutex: held for map operations only, never across an await.
#[derive(Debug, Default)]
pub(crate) struct PendingLatest(Mutex<HashMap<i64, HashMap<ParameterName, Waiting>>>);

impl PendingLatest {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<i64, HashMap<ParameterName, Waiting>>> {
        // Every update is a few inserts; a panic between two leaves a usable map.
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
        let mut map = self.map();
        for (key, parameter, ts, value) in values {
            let of = map.entry(key).or_default();
            match of.get_mut(parameter) {
                Some(waiting) if ts >= waiting.0 => *waiting = (ts, value.clone()),
                Some(_) => {}
                None => {
                    of.insert(parameter.clone(), (ts, value.clone()));
                }
            }
        }
    }

    /// What waits for the spacecraft with `key`, by parameter.
    pub(crate) fn of(&self, key: i64) -> HashMap<ParameterName, Waiting> {
        self.map().get(&key).cloned().unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        self.map().is_empty()
    }

    /// Everything that waits, as `latest_values` rows, in the table's key order (spacecraft
    /// key, then parameter name, byte by byte as SQLite's `BINARY` collation): each
    /// spacecraft's rows then go in one after another at one place in the table, where in the
    /// maps' hash order every row was a search from the root to a page touched at random. A
    /// flush of 100,000 rows (a new spacecraft per request) took 77 ms of SQLite's time in
    /// order against 130–138 ms.
    fn rows(&self) -> Result<Vec<(i64, ParameterName, i64, String)>> {
        let map = self.map();
        let mut rows = Vec::with_capacity(map.values().map(HashMap::len).sum());
        let mut keys: Vec<i64> = map.keys().copied().collect();
        keys.sort_unstable();
        let mut names: Vec<(&ParameterName, &Waiting)> = Vec::new();
        for key in keys {
            let Some(of) = map.get(&key) else { continue };
            names.clear();
            names.extend(of.iter());
            names.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
            for &(parameter, (ts, value)) in &names {
                rows.push((key, parameter.clone(), *ts, to_json(value)?));
            }
        }
        Ok(rows)
    }

    fn clear(&self) {
        self.map().clear();
    }
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

/// Telemetry rows read back per step of the repair at open.
const REPAIR_ROWS: i64 = 10_000;

/// Writes the latest values waiting in `latest` into `latest_values`, with the arrival number
/// they cover, in one transaction on the write connection (see the module). Nothing to do
/// when none waits.
pub(crate) async fn flush_latest_values(writer: &Writer, latest: &PendingLatest) -> Result<()> {
    if latest.is_empty() {
        return Ok(());
    }
    let mut writer = writer.lock().await?;
    // Merges wait for the write connection, so what waits cannot change from here on.
    let rows = latest.rows()?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut tx = begin_write(&mut writer).await?;
    upsert(&mut tx, &rows).await?;
    sqlx::query(
        "UPDATE latest_values_flushed SET seq = (SELECT COALESCE(MAX(seq), 0) FROM telemetry)",
    )
    .execute(&mut *tx)
    .await
    .db()?;
    tx.commit().await.db()?;
    latest.clear();
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
            upsert(&mut tx, &owned).await?;
            sqlx::query("UPDATE latest_values_flushed SET seq = ?")
                .bind(last)
                .execute(&mut *tx)
                .await
                .db()?;
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
        let order: Vec<(i64, String)> = latest
            .rows()
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
}
