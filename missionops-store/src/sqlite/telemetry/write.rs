//! The telemetry write path: batched, idempotent ingest and group commit.
//!
//! A write of up to 250 snapshots of spacecraft whose keys are known is first tried as all new.
//! It commits on the writer's direct connection, on the calling thread
//! (`Writer::commit_direct`), with whatever it carries (registrations of new spacecraft, the
//! monitor's anomalies, alarms and events): no round trip to a thread of sqlx's at all, and a
//! load where some snapshots cross a limit keeps to one connection and its page cache. On a
//! store without that connection (waiting for the disk) plain telemetry goes as one command to
//! SQLite's thread, `BEGIN IMMEDIATE` to `COMMIT` (each round trip to that thread costs two
//! thread switches, and they were most of the cost of a single snapshot), the rest as a
//! transaction there. Should a snapshot be stored already, its `INSERT` fails, nothing is kept,
//! and the write goes the careful way:
//!
//! multi-row `INSERT … ON CONFLICT (id) DO NOTHING` statements in one transaction. When every
//! row went in nothing else is read; when fewer did, the batch is checked for repeated ids and
//! the ids stored before are looked up and compared with the batch: the same content is a
//! duplicate, different content a conflict that rolls the whole batch back.
//!
//! The work is split across the two threads involved: while SQLite (on the connection's worker
//! thread) inserts one chunk of rows, this thread encodes the next chunk's JSON, and while it
//! inserts the last chunk, this thread works out the batch's latest values.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::task::Poll;

use missionops_core::TenantId;

use missionops_core::{
    Anomaly, Error, GroupOutcome, IngestOutcome, NewEvent, ParameterName, ParameterValue,
    Parameters, Registration, Result, SpacecraftId, TelemetrySnapshot, TelemetryWrite,
    insert_one_by_one,
};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::json_text::{read_parameters, to_json};
use crate::sqlite::{
    DbResult, SqliteStore, anomalies, begin_write, events, rows_per_statement, spacecraft,
};

/// Rows per multi-row telemetry INSERT. Four values per row; 250 rows keep a statement quick to
/// prepare, a batch of 1,000 reuses one cached statement four times, and four chunks give the
/// encoding of one chunk something to overlap with.
const SNAPSHOTS_PER_STATEMENT: usize = 250;

/// The compact JSON text of a snapshot's parameters (see `json_text`), written into a buffer sized
/// for typical telemetry so that it is not regrown value by value.
fn encode(parameters: &Parameters) -> Result<String> {
    let mut out = Vec::with_capacity(2 + 32 * parameters.len());
    serde_json::to_writer(&mut out, parameters).map_err(crate::unavailable::backend_error)?;
    String::from_utf8(out).map_err(crate::unavailable::backend_error)
}

fn encode_chunk(chunk: &[TelemetrySnapshot]) -> Result<Vec<String>> {
    chunk.iter().map(|s| encode(&s.parameters)).collect()
}

/// Runs `statement` (a query on the connection's worker thread) while `work` runs on this
/// thread, and returns both results.
///
/// The first poll hands the statement to the worker; SQLite then runs it on that thread while
/// `work` runs here, and only then does this task wait for the statement's answer.
async fn overlapped<T, R>(statement: impl Future<Output = T>, work: impl FnOnce() -> R) -> (T, R) {
    let mut statement = std::pin::pin!(statement);
    let early = std::future::poll_fn(|cx| Poll::Ready(statement.as_mut().poll(cx))).await;
    let result = work();
    let output = match early {
        Poll::Ready(output) => output,
        Poll::Pending => statement.await,
    };
    (output, result)
}

/// The integer keys of the spacecraft of a write. A batch is usually of one spacecraft, so
/// that case skips hashing a key per snapshot.
pub(super) struct Keys<'a> {
    map: HashMap<&'a str, i64>,
    only: Option<i64>,
}

impl Keys<'_> {
    fn get(&self, id: &SpacecraftId) -> Option<i64> {
        self.only.or_else(|| self.map.get(id.as_str()).copied())
    }
}

impl<'a> Keys<'a> {
    /// The keys of `map` (spacecraft id to key).
    pub(super) fn from_owned(map: &'a HashMap<String, i64>) -> Self {
        Keys::new(map.iter().map(|(id, &key)| (id.as_str(), key)).collect())
    }

    fn new(map: HashMap<&'a str, i64>) -> Self {
        let only = (map.len() == 1)
            .then(|| map.values().next().copied())
            .flatten();
        Keys { map, only }
    }
}

/// The spacecraft a write names, each once, in the order first named.
fn distinct_spacecraft<'a>(
    ids: impl Iterator<Item = &'a SpacecraftId>,
) -> (Vec<&'a SpacecraftId>, HashSet<&'a str>) {
    let mut wanted: Vec<&'a SpacecraftId> = Vec::new();
    let mut distinct = HashSet::new();
    let mut previous: Option<&SpacecraftId> = None;
    for id in ids {
        // Runs of one spacecraft (the usual batch) cost one comparison per snapshot.
        if previous != Some(id) && distinct.insert(id.as_str()) {
            wanted.push(id);
        }
        previous = Some(id);
    }
    (wanted, distinct)
}

/// The spacecraft named by a write's snapshots, anomalies and alarms.
fn named_spacecraft(write: &TelemetryWrite) -> impl Iterator<Item = &SpacecraftId> {
    write
        .snapshots
        .iter()
        .map(|s| &s.spacecraft_id)
        .chain(write.anomalies.iter().map(|a| &a.spacecraft_id))
        .chain(write.alarms.iter().map(|a| &a.spacecraft_id))
}

impl SqliteStore {
    /// Looks up the keys of the spacecraft of a write: those `registered` by its transaction
    /// and those remembered from committed ones as they are, the others in the transaction on
    /// `conn`. [`Error::NotFound`] names the first spacecraft, in the order given, that does
    /// not exist. The caller remembers them once its transaction committed (see
    /// [`Self::remember_keys`]): a spacecraft registered by a transaction that rolls back has
    /// no key, and SQLite may give its key to another.
    async fn spacecraft_keys<'a>(
        &self,
        conn: &mut SqliteConnection,
        tenant: &TenantId,
        ids: impl Iterator<Item = &'a SpacecraftId>,
        registered: &HashMap<String, i64>,
    ) -> Result<Keys<'a>> {
        let (wanted, distinct) = distinct_spacecraft(ids);
        let mut map = HashMap::with_capacity(wanted.len());
        if let Ok(cache) = self.spacecraft_keys.read() {
            let remembered = cache.get(tenant.as_str());
            for id in &wanted {
                let key = registered
                    .get(id.as_str())
                    .or_else(|| remembered.and_then(|r| r.get(id.as_str())));
                if let Some(&key) = key {
                    map.insert(id.as_str(), key);
                }
            }
        }
        let unknown: Vec<&SpacecraftId> = wanted
            .iter()
            .copied()
            .filter(|id| !map.contains_key(id.as_str()))
            .collect();
        for chunk in unknown.chunks(rows_per_statement(1)) {
            let mut query =
                QueryBuilder::<Sqlite>::new("SELECT id, key FROM spacecraft WHERE tenant = ");
            query.push_bind(tenant.as_str()).push(" AND id IN (");
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(id.as_str());
            }
            query.push(")");
            let found: Vec<(String, i64)> =
                query.build_query_as().fetch_all(&mut *conn).await.db()?;
            for (id, key) in found {
                if let Some(&wanted) = distinct.get(id.as_str()) {
                    map.insert(wanted, key);
                }
            }
        }
        if let Some(missing) = wanted.iter().find(|id| !map.contains_key(id.as_str())) {
            return Err(Error::not_found("spacecraft", missing));
        }
        Ok(Keys::new(map))
    }

    /// Remembers `keys`, looked up in a transaction that committed.
    fn remember_keys(&self, tenant: &TenantId, keys: &Keys<'_>) {
        if let Ok(mut cache) = self.spacecraft_keys.write() {
            let cache = cache.entry(tenant.as_str().to_owned()).or_default();
            for (&id, &key) in &keys.map {
                cache.insert(id.to_owned(), key);
            }
        }
    }

    /// The keys of the spacecraft of a write that registers some, for registering them in one
    /// go: the registered ones numbered from the next spacecraft key (returned too), the others
    /// as remembered. `None` when one of the others is not remembered, a spacecraft is
    /// registered twice, or the next key cannot be read.
    async fn keys_registering<'a>(&self, write: &'a TelemetryWrite) -> Option<(Keys<'a>, i64)> {
        let known = *self.next_spacecraft_key.lock().ok()?;
        let first = match known {
            Some(next) => next,
            None => {
                sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(key), 0) + 1 FROM spacecraft")
                    .fetch_one(&self.reader)
                    .await
                    .ok()?
            }
        };
        let mut map: HashMap<&'a str, i64> = HashMap::new();
        for (key, registration) in (first..).zip(&write.registrations) {
            if map
                .insert(registration.spacecraft.id.as_str(), key)
                .is_some()
            {
                return None;
            }
        }
        let cache = self.spacecraft_keys.read().ok()?;
        let remembered = cache.get(write.tenant.as_str());
        let (wanted, _) = distinct_spacecraft(named_spacecraft(write));
        for id in wanted {
            if !map.contains_key(id.as_str()) {
                map.insert(id.as_str(), *remembered?.get(id.as_str())?);
            }
        }
        Some((Keys::new(map), first))
    }

    /// Sets (or, with `None`, forgets) the key the next registration in one go takes.
    pub(in crate::sqlite) fn set_next_spacecraft_key(&self, next: Option<i64>) {
        if let Ok(mut slot) = self.next_spacecraft_key.lock() {
            *slot = next;
        }
    }

    /// The keys of the spacecraft of a write as remembered, or `None` when one of them is not.
    fn remembered_keys<'a>(
        &self,
        tenant: &TenantId,
        ids: impl Iterator<Item = &'a SpacecraftId>,
    ) -> Option<Keys<'a>> {
        let cache = self.spacecraft_keys.read().ok()?;
        let cache = cache.get(tenant.as_str())?;
        let (wanted, _) = distinct_spacecraft(ids);
        let mut map = HashMap::with_capacity(wanted.len());
        for id in wanted {
            map.insert(id.as_str(), *cache.get(id.as_str())?);
        }
        Some(Keys::new(map))
    }
}

/// How many keys `registrations` take.
fn key_count(registrations: &[Registration]) -> i64 {
    i64::try_from(registrations.len()).unwrap_or(i64::MAX)
}

/// The first index whose id repeats an earlier one of the same batch, if any.
fn first_repeat(snapshots: &[TelemetrySnapshot]) -> Option<usize> {
    let mut seen = HashSet::with_capacity(snapshots.len());
    snapshots.iter().position(|s| !seen.insert(s.id.as_str()))
}

/// Explains why a batch did not all go in: a repeated id, or an id stored before with other
/// content, whichever comes first in the batch (a repeat first at the same index). Returns
/// which batch indices are duplicates of stored snapshots when neither is the case.
async fn find_duplicates(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    snapshots: &[TelemetrySnapshot],
    keys: &Keys<'_>,
    stored_up_to: i64,
) -> Result<Vec<bool>> {
    let repeat = first_repeat(snapshots);
    let mut index_of: HashMap<&str, usize> = HashMap::with_capacity(snapshots.len());
    for (i, s) in snapshots.iter().enumerate() {
        index_of.entry(s.id.as_str()).or_insert(i);
    }
    let mut duplicate = vec![false; snapshots.len()];
    let mut conflict: Option<usize> = None;
    for chunk in snapshots.chunks(rows_per_statement(1)) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT id, spacecraft_key, ts, parameters FROM telemetry WHERE seq <= ",
        );
        query
            .push_bind(stored_up_to)
            .push(" AND tenant = ")
            .push_bind(tenant.as_str())
            .push(" AND id IN (");
        let mut list = query.separated(", ");
        for snapshot in chunk {
            list.push_bind(snapshot.id.as_str());
        }
        query.push(")");
        let rows: Vec<(String, i64, i64, String)> =
            query.build_query_as().fetch_all(&mut *conn).await.db()?;
        for (id, spacecraft_key, ts, parameters) in rows {
            let Some(&index) = index_of.get(id.as_str()) else {
                continue;
            };
            let given = &snapshots[index];
            let same_place = keys.get(&given.spacecraft_id) == Some(spacecraft_key)
                && given.timestamp.as_millis() == ts;
            // The text is canonical for what this store writes, so equal text is equal
            // content; text that differs is parsed before it is called a conflict, in case an
            // older version of the store spelled the same values differently.
            let same = same_place
                && (encode(&given.parameters)? == parameters
                    || read_parameters(&parameters).is_ok_and(|p| p == given.parameters));
            if same {
                duplicate[index] = true;
            } else {
                conflict = Some(conflict.map_or(index, |c| c.min(index)));
            }
        }
    }
    match (repeat, conflict) {
        (Some(r), c) if c.is_none_or(|c| r <= c) => Err(Error::conflict(
            "snapshot",
            &snapshots[r].id,
            format!("snapshots[{r}] repeats an id of the same batch"),
        )),
        (_, Some(c)) => Err(Error::conflict(
            "snapshot",
            &snapshots[c].id,
            format!("snapshots[{c}] has the id of a stored snapshot with different content"),
        )),
        _ => Ok(duplicate),
    }
}

/// One row of `latest_values`: spacecraft key, parameter, sample time, JSON value.
pub(super) type LatestRow<'a> = (i64, &'a str, i64, String);

/// A newest value found in a write: spacecraft key, parameter, sample time, value.
pub(super) type NewestValue<'a> = (i64, &'a ParameterName, i64, &'a ParameterValue);

/// `values` as `latest_values` rows (the value as JSON text).
fn latest_rows<'a>(values: &[NewestValue<'a>]) -> Result<Vec<LatestRow<'a>>> {
    values
        .iter()
        .map(|&(key, name, ts, value)| Ok((key, name.as_str(), ts, to_json(value)?)))
        .collect()
}

/// Moves the stored latest values forward to `rows` where they are at least as new (a later
/// arrival wins a tie of sample times).
async fn upsert_latest_values(conn: &mut SqliteConnection, rows: &[LatestRow<'_>]) -> Result<()> {
    for chunk in rows.chunks(rows_per_statement(4)) {
        let mut query = QueryBuilder::<Sqlite>::new("");
        push_latest_values(&mut query, chunk);
        query.build().execute(&mut *conn).await.db()?;
    }
    Ok(())
}

/// Appends the statement that moves `latest_values_flushed` over the `inserted` telemetry rows
/// a write that wrote their latest values with them just added (they took the highest arrival
/// numbers), but only when it covered every row before them: rows of another process that
/// writes latest values behind (see `latest`) may wait below them, and must stay uncovered
/// until that process writes them.
fn push_covered(query: &mut QueryBuilder<'_, Sqlite>, inserted: usize) {
    query.push(covered_minus!());
    query.push_bind(i64::try_from(inserted).unwrap_or(i64::MAX));
}

/// [`push_covered`]'s statement up to the count of inserted rows.
macro_rules! covered_minus {
    () => {
        "UPDATE latest_values_flushed SET seq = (SELECT COALESCE(MAX(seq), 0) FROM telemetry) \
         WHERE seq >= (SELECT COALESCE(MAX(seq), 0) FROM telemetry) - "
    };
}
use covered_minus;

/// [`push_covered`]'s statement with the count as parameter `?1`, for the direct connection.
const COVERED: &str = concat!(covered_minus!(), "?1");

/// The newest value of each (spacecraft, parameter) among the snapshots not marked in `skip`
/// (newest sample time; ties go to the later snapshot, stored later).
pub(super) fn newest_values<'a>(
    snapshots: &'a [TelemetrySnapshot],
    keys: &Keys<'_>,
    skip: Option<&[bool]>,
) -> Vec<NewestValue<'a>> {
    type Slot<'a> = (i64, &'a ParameterValue);
    /// Consecutive snapshots of one spacecraft with the same names in the same order (the
    /// usual batch) are folded position by position, without hashing a name per value.
    struct Run<'a> {
        key: i64,
        names: &'a [ParameterName],
        slots: Vec<Slot<'a>>,
    }
    fn flush<'a>(run: Option<Run<'a>>, newest: &mut HashMap<(i64, &'a ParameterName), Slot<'a>>) {
        let Some(run) = run else { return };
        for (name, slot) in run.names.iter().zip(run.slots) {
            newest
                .entry((run.key, name))
                .and_modify(|kept| {
                    if slot.0 >= kept.0 {
                        *kept = slot;
                    }
                })
                .or_insert(slot);
        }
    }
    let mut newest: HashMap<(i64, &'a ParameterName), Slot<'a>> = HashMap::new();
    let mut run: Option<Run<'a>> = None;
    for (index, snapshot) in snapshots.iter().enumerate() {
        if skip.is_some_and(|skip| skip[index]) {
            continue;
        }
        let Some(key) = keys.get(&snapshot.spacecraft_id) else {
            continue;
        };
        let ts = snapshot.timestamp.as_millis();
        let names = snapshot.parameters.names();
        let values = snapshot.parameters.values();
        match &mut run {
            Some(current) if current.key == key && current.names == names => {
                for (slot, value) in current.slots.iter_mut().zip(values) {
                    if ts >= slot.0 {
                        *slot = (ts, value);
                    }
                }
            }
            _ => {
                flush(run.take(), &mut newest);
                run = Some(Run {
                    key,
                    names,
                    slots: values.iter().map(|v| (ts, v)).collect(),
                });
            }
        }
    }
    flush(run, &mut newest);
    newest
        .into_iter()
        .map(|((key, name), (ts, value))| (key, name, ts, value))
        .collect()
}

/// Appends the multi-row `INSERT` of `snapshots` with their parameters' JSON `texts` (moved
/// into the statement's arguments rather than copied).
fn push_snapshot_rows<'q>(
    query: &mut QueryBuilder<'q, Sqlite>,
    tenant: &'q TenantId,
    snapshots: &'q [TelemetrySnapshot],
    texts: Vec<String>,
    keys: &Keys<'_>,
) {
    query.push(insert_telemetry!());
    query.push_values(snapshots.iter().zip(texts), |mut row, (snapshot, text)| {
        row.push_bind(tenant.as_str())
            .push_bind(snapshot.id.as_str())
            .push_bind(keys.get(&snapshot.spacecraft_id))
            .push_bind(snapshot.timestamp.as_millis())
            .push_bind(text);
    });
}

/// Appends the statement that moves the stored latest values forward to `rows`.
pub(super) fn push_latest_values<'q>(
    query: &mut QueryBuilder<'q, Sqlite>,
    rows: &'q [LatestRow<'q>],
) {
    query.push(insert_latest!());
    query.push_values(rows, |mut row, (key, name, ts, value)| {
        row.push_bind(*key)
            .push_bind(*name)
            .push_bind(*ts)
            .push_bind(value.as_str());
    });
    query.push(keep_newer_latest!());
}

/// The head of a telemetry row `INSERT`, before its values (both drivers' statements).
macro_rules! insert_telemetry {
    () => {
        "INSERT INTO telemetry (tenant, id, spacecraft_key, ts, parameters) "
    };
}
use insert_telemetry;

/// The head of a latest-values upsert, before its values.
macro_rules! insert_latest {
    () => {
        "INSERT INTO latest_values (spacecraft_key, parameter, ts, value) "
    };
}
use insert_latest;

/// The tail of a latest-values upsert: a stored value moves forward only to one at least as
/// new (a later arrival wins a tie of sample times).
macro_rules! keep_newer_latest {
    () => {
        " ON CONFLICT (spacecraft_key, parameter) DO UPDATE \
         SET ts = excluded.ts, value = excluded.value WHERE excluded.ts >= latest_values.ts"
    };
}
use keep_newer_latest;

/// Spacecraft a write registers, with what their rows are stored with.
struct Registered<'a> {
    spacecraft: &'a [Registration],
    /// Each one's metadata as JSON text.
    metadata: &'a [String],
    /// Each one's key.
    keys: &'a [i64],
}

/// A write whose snapshots are all new, ready to store on the writer's direct connection.
struct AllNewWrite<'a> {
    tenant: &'a TenantId,
    registrations: Registered<'a>,
    snapshots: &'a [TelemetrySnapshot],
    /// Each snapshot's parameters as JSON text.
    texts: &'a [String],
    keys: &'a Keys<'a>,
    /// The latest values, when this store writes them with the telemetry (`None` when it
    /// writes them behind).
    latest_rows: Option<&'a [LatestRow<'a>]>,
    /// On a store writing latest values behind, those of the spacecraft the write registers:
    /// written with it, the mark of covered rows left where it is (see `write_all_new`).
    registered_latest: &'a [LatestRow<'a>],
    anomalies: &'a [Anomaly],
    /// Each anomaly's value as JSON text.
    anomaly_values: &'a [String],
    alarms: &'a [anomalies::AlarmRowToStore<'a>],
    /// The events to record (the registrations' or the monitor's: a write that registers
    /// spacecraft carries no other event), and each one's metadata as JSON text.
    events: &'a [NewEvent],
    event_metadata: &'a [String],
}

impl AllNewWrite<'_> {
    /// Stores the write in one transaction on `conn` (see `Writer::commit_direct`), in the
    /// order of the sqlx paths: the spacecraft rows, the telemetry rows, the latest values and
    /// the mark of the rows they cover, the anomalies, the alarms, the events (SQLite numbers
    /// them) and their pending outbox rows; each row through one cached statement. Fails, with
    /// nothing kept, when a snapshot is stored already or a spacecraft or event id is taken.
    fn insert_directly(&self, conn: &mut rusqlite::Connection) -> rusqlite::Result<()> {
        let tenant = self.tenant.as_str();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let registered = &self.registrations;
        if !registered.spacecraft.is_empty() {
            let mut insert = conn.prepare_cached(
                "INSERT INTO spacecraft \
                 (key, tenant, id, name, mission_type, metadata, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for ((registration, metadata), key) in registered
                .spacecraft
                .iter()
                .zip(registered.metadata)
                .zip(registered.keys)
            {
                let spacecraft = &registration.spacecraft;
                insert.execute(rusqlite::params![
                    key,
                    tenant,
                    spacecraft.id.as_str(),
                    spacecraft.name.as_str(),
                    spacecraft.mission_type.as_str(),
                    metadata,
                    spacecraft.created_at.as_millis(),
                    spacecraft.updated_at.as_millis(),
                ])?;
            }
        }
        {
            let mut insert =
                conn.prepare_cached(concat!(insert_telemetry!(), "VALUES (?1, ?2, ?3, ?4, ?5)"))?;
            for (snapshot, text) in self.snapshots.iter().zip(self.texts) {
                insert.execute(rusqlite::params![
                    tenant,
                    snapshot.id.as_str(),
                    self.keys.get(&snapshot.spacecraft_id),
                    snapshot.timestamp.as_millis(),
                    text,
                ])?;
            }
        }
        // A write of no snapshot (a clock tick's) leaves the latest values and their mark.
        if let Some(latest_rows) = self.latest_rows.filter(|_| !self.snapshots.is_empty()) {
            let mut upsert = conn.prepare_cached(concat!(
                insert_latest!(),
                "VALUES (?1, ?2, ?3, ?4)",
                keep_newer_latest!()
            ))?;
            for (key, name, ts, value) in latest_rows {
                upsert.execute(rusqlite::params![key, name, ts, value])?;
            }
            conn.prepare_cached(COVERED)?
                .execute([i64::try_from(self.snapshots.len()).unwrap_or(i64::MAX)])?;
        }
        if !self.registered_latest.is_empty() {
            // Plain rows, no upsert: their spacecraft are registered by this transaction, so
            // nothing of theirs is stored (a spacecraft is never deleted), and an upsert costs
            // each row a statement journal.
            let mut insert =
                conn.prepare_cached(concat!(insert_latest!(), "VALUES (?1, ?2, ?3, ?4)"))?;
            for (key, name, ts, value) in self.registered_latest {
                insert.execute(rusqlite::params![key, name, ts, value])?;
            }
        }
        anomalies::insert_directly(conn, self.tenant, self.anomalies, self.anomaly_values)?;
        anomalies::upsert_alarms_directly(conn, self.tenant, self.alarms)?;
        if !self.events.is_empty() {
            let mut record = conn.prepare_cached(
                "INSERT INTO events \
                 (tenant, id, spacecraft_id, ts, type, severity, message, metadata) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut sequences = Vec::with_capacity(self.events.len());
            for (event, metadata) in self.events.iter().zip(self.event_metadata) {
                record.execute(rusqlite::params![
                    tenant,
                    event.id.as_str(),
                    event.spacecraft_id.as_ref().map(SpacecraftId::as_str),
                    event.timestamp.as_millis(),
                    event.event_type.as_str(),
                    event.severity.as_str(),
                    event.message.as_str(),
                    metadata,
                ])?;
                // The sequence number SQLite gave the event (its rowid).
                sequences.push(conn.last_insert_rowid());
            }
            // Due at once: at the event's own time. One row of values each, not a copy out of
            // `events` (an `INSERT … SELECT` looks the event up by id and keeps a statement
            // journal).
            let mut pending = conn
                .prepare_cached("INSERT INTO outbox (sequence, next_attempt_at) VALUES (?1, ?2)")?;
            for (event, sequence) in self.events.iter().zip(sequences) {
                pending.execute([sequence, event.timestamp.as_millis()])?;
            }
        }
        conn.execute_batch("COMMIT")
    }
}

/// What the ingest thread prepares while a chunk is being inserted.
enum Prepared<'a> {
    /// The JSON of the next chunk.
    Chunk(Result<Vec<String>>),
    /// After the last chunk: the latest values, assuming every snapshot was new.
    Latest(Vec<NewestValue<'a>>),
}

/// What [`SqliteStore::write_telemetry`] did.
enum Written {
    /// Committed, with this outcome.
    Stored(IngestOutcome),
    /// Not every snapshot was new, and the caller asked for nothing to be stored then.
    NotAllNew,
}

/// How many registrations, snapshots, anomalies, alarms and events one write of a group holds,
/// to take the group's merged write apart again.
type Counts = (usize, usize, usize, usize, usize);

/// Appends `writes` into one write, in order, with the size of each part.
fn merge(writes: Vec<TelemetryWrite>) -> (TelemetryWrite, Vec<Counts>) {
    let mut merged = TelemetryWrite::default();
    let mut counts = Vec::with_capacity(writes.len());
    for write in writes {
        // The caller merges writes of one tenant only.
        merged.tenant = write.tenant;
        counts.push((
            write.registrations.len(),
            write.snapshots.len(),
            write.anomalies.len(),
            write.alarms.len(),
            write.events.len(),
        ));
        merged.registrations.extend(write.registrations);
        merged.snapshots.extend(write.snapshots);
        merged.anomalies.extend(write.anomalies);
        merged.alarms.extend(write.alarms);
        merged.events.extend(write.events);
    }
    (merged, counts)
}

/// Takes a merged write apart into the writes it was made of (the inverse of [`merge`]).
fn split(mut merged: TelemetryWrite, counts: &[Counts]) -> Vec<TelemetryWrite> {
    fn tail<T>(items: &mut Vec<T>, n: usize) -> Vec<T> {
        items.split_off(items.len().saturating_sub(n))
    }
    let mut writes: Vec<TelemetryWrite> = counts
        .iter()
        .rev()
        .map(
            |&(registrations, snapshots, anomalies, alarms, events)| TelemetryWrite {
                tenant: merged.tenant.clone(),
                registrations: tail(&mut merged.registrations, registrations),
                snapshots: tail(&mut merged.snapshots, snapshots),
                anomalies: tail(&mut merged.anomalies, anomalies),
                alarms: tail(&mut merged.alarms, alarms),
                events: tail(&mut merged.events, events),
            },
        )
        .collect();
    writes.reverse();
    writes
}

/// The most snapshots a write may hold to be tried as all new first (see
/// [`SqliteStore::write_all_new`]): one statement's worth. Larger batches go chunk by chunk,
/// encoding one chunk while SQLite inserts the one before.
const ALL_NEW_MAX: usize = SNAPSHOTS_PER_STATEMENT;

impl SqliteStore {
    /// Stores a write whose snapshots are all new, of spacecraft whose keys are remembered:
    /// the rows (a plain `INSERT`, no conflict clause), the latest values and whatever else
    /// the write carries, on the writer's direct connection. On a store without one: in one
    /// round trip to SQLite's thread together with `BEGIN IMMEDIATE` and `COMMIT` when the
    /// write carries no anomalies, alarms or events; otherwise `BEGIN`, that batch, their
    /// statements and `COMMIT`.
    ///
    /// `None` when it cannot be stored that way: a key not remembered, a snapshot already
    /// stored (its `INSERT` fails on the unique id), or any other failure. Nothing is stored
    /// then, and the caller stores the write the careful way, which tells a duplicate from a
    /// conflict and names whatever else went wrong.
    ///
    /// Single writes of one spacecraft are the common case this serves: the round trips to
    /// SQLite's thread, not SQLite's work, were most of their cost.
    async fn write_all_new(&self, write: &TelemetryWrite) -> Option<IngestOutcome> {
        let TelemetryWrite {
            tenant,
            registrations,
            snapshots,
            anomalies,
            alarms,
            events,
        } = write;
        // Plain telemetry (the usual write) needs nothing back from SQLite before its commit,
        // so its whole transaction goes over as one command.
        let one_go = anomalies.is_empty() && alarms.is_empty() && events.is_empty();
        // Registrations go in one go only (their events need no number read back first
        // there), and come with the telemetry that caused them.
        if (!registrations.is_empty() && (!one_go || snapshots.is_empty()))
            || snapshots.len() > ALL_NEW_MAX
            || events::check_distinct(registrations.iter().map(|r| &r.event).chain(events)).is_err()
        {
            return None;
        }
        let (keys, first_new_key) = if registrations.is_empty() {
            (self.remembered_keys(tenant, named_spacecraft(write))?, 0)
        } else {
            self.keys_registering(write).await?
        };
        let outcome = IngestOutcome {
            inserted: snapshots.len(),
            duplicates: 0,
        };
        if registrations.is_empty() && snapshots.is_empty() && one_go {
            return Some(outcome);
        }
        let texts = encode_chunk(snapshots).ok()?;
        let mut latest = newest_values(snapshots, &keys, None);
        // Written behind, a new spacecraft's values were a flush's rows once each (a new
        // spacecraft per request: ~70,000 a second, the writer held 120–140 ms of every
        // second); with the write that registers it they go in at the table's end, with no
        // older row to compare, and nothing waits for them.
        // (A key in the registered range taken by another spacecraft fails the write.)
        let registered_keys = first_new_key..first_new_key.saturating_add(key_count(registrations));
        let mut registered_values = Vec::new();
        if self.defer_latest && !registrations.is_empty() {
            (registered_values, latest) = std::mem::take(&mut latest)
                .into_iter()
                .partition(|value| registered_keys.contains(&value.0));
        }
        let registered_latest = latest_rows(&registered_values).ok()?;
        // Written with the rows unless this store writes them behind (see `latest`).
        let latest_rows = if self.defer_latest {
            Vec::new()
        } else {
            latest_rows(&latest).ok()?
        };
        let registered_metadata = spacecraft::registration_metadata(registrations).ok()?;
        let registered_events: Vec<NewEvent> =
            registrations.iter().map(|r| r.event.clone()).collect();
        let event_metadata = events::metadata_of(&registered_events).ok()?;
        let new_keys: Vec<i64> = (first_new_key..).take(registrations.len()).collect();
        // Whatever the write carries, it commits on the direct connection when there is one:
        // a mixed load then keeps to one connection and its page cache.
        let defer = self.defer_latest;
        let anomaly_values = anomalies::anomaly_values(anomalies).ok()?;
        let alarm_rows = anomalies::alarm_rows(alarms).ok()?;
        let monitor_metadata = events::metadata_of(events).ok()?;
        let all_new = AllNewWrite {
            tenant,
            registrations: Registered {
                spacecraft: registrations,
                metadata: &registered_metadata,
                keys: &new_keys,
            },
            snapshots,
            texts: &texts,
            keys: &keys,
            latest_rows: (!defer).then_some(latest_rows.as_slice()),
            registered_latest: &registered_latest,
            anomalies,
            anomaly_values: &anomaly_values,
            alarms: &alarm_rows,
            // A write that registers spacecraft has no other event (see above).
            events: if registrations.is_empty() {
                events
            } else {
                &registered_events
            },
            event_metadata: if registrations.is_empty() {
                &monitor_metadata
            } else {
                &event_metadata
            },
        };
        let direct = self
            .writer
            .commit_direct(
                |conn| all_new.insert_directly(conn),
                || {
                    if defer {
                        self.latest.merge(std::mem::take(&mut latest));
                    }
                    if !registrations.is_empty() {
                        // Still holding the writer: no other registration between.
                        self.set_next_spacecraft_key(Some(
                            first_new_key + key_count(registrations),
                        ));
                    }
                },
            )
            .await;
        match direct {
            Some(Ok(())) => {
                if !registrations.is_empty() {
                    self.remember_keys(tenant, &keys);
                }
                return Some(outcome);
            }
            Some(Err(_)) => {
                if !registrations.is_empty() {
                    // Taken by another writer, perhaps: read it again next time.
                    self.set_next_spacecraft_key(None);
                }
                return None;
            }
            // No direct connection (a store waiting for the disk): one command to SQLite's
            // thread, or a transaction there, below, every latest value written behind.
            None => latest.extend(registered_values),
        }
        let mut query = QueryBuilder::<Sqlite>::new(if one_go { "BEGIN IMMEDIATE; " } else { "" });
        let rows = rows_per_statement(8);
        for ((chunk, metadata), chunk_keys) in registrations
            .chunks(rows)
            .zip(registered_metadata.chunks(rows))
            .zip(new_keys.chunks(rows))
        {
            spacecraft::push_registration_rows(
                &mut query,
                tenant,
                chunk,
                metadata,
                Some(chunk_keys),
            );
            query.push("; ");
        }
        if !snapshots.is_empty() {
            push_snapshot_rows(&mut query, tenant, snapshots, texts, &keys);
            if !self.defer_latest {
                for chunk in latest_rows.chunks(rows_per_statement(4)) {
                    query.push("; ");
                    push_latest_values(&mut query, chunk);
                }
                query.push("; ");
                push_covered(&mut query, snapshots.len());
            }
        }
        if one_go {
            // The registrations' events come after the telemetry that caused them, as the
            // careful way records them (`push_record` starts each statement with "; ").
            events::push_record(&mut query, tenant, &registered_events, &event_metadata);
            query.push("; COMMIT");
            let defer = self.defer_latest;
            let committed = self
                .writer
                .commit_in_one_go(query.build(), || {
                    if defer {
                        self.latest.merge(latest);
                    }
                    if !registrations.is_empty() {
                        // Still holding the write connection: no other registration between.
                        self.set_next_spacecraft_key(Some(
                            first_new_key + key_count(registrations),
                        ));
                    }
                })
                .await;
            if committed.is_err() {
                if !registrations.is_empty() {
                    // Taken by another writer, perhaps: read it again next time.
                    self.set_next_spacecraft_key(None);
                }
                return None;
            }
            if !registrations.is_empty() {
                self.remember_keys(tenant, &keys);
            }
            return Some(outcome);
        }
        let mut writer = self.writer.lock().await.ok()?;
        let mut tx = begin_write(&mut writer).await.ok()?;
        if !snapshots.is_empty() {
            query.build().execute(&mut *tx).await.ok()?;
        }
        if !anomalies.is_empty() {
            anomalies::insert_new(&mut tx, tenant, anomalies)
                .await
                .ok()?;
        }
        anomalies::upsert_alarms(&mut tx, tenant, alarms)
            .await
            .ok()?;
        events::record(&mut tx, tenant, events).await.ok()?;
        tx.commit().await.ok()?;
        if self.defer_latest {
            self.latest.merge(latest);
        }
        Some(outcome)
    }

    /// Stores `write` in one transaction (see [`TelemetryRepository::insert_telemetry`]). With
    /// `all_new`, a write any of whose snapshots is stored already is rolled back instead and
    /// answers [`Written::NotAllNew`].
    async fn write_telemetry(&self, write: &TelemetryWrite, all_new: bool) -> Result<Written> {
        let TelemetryWrite {
            tenant,
            registrations,
            snapshots,
            anomalies,
            alarms,
            events,
        } = write;
        events::check_distinct(registrations.iter().map(|r| &r.event).chain(events))?;
        let chunks: Vec<&[TelemetrySnapshot]> = snapshots.chunks(SNAPSHOTS_PER_STATEMENT).collect();

        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        if !registrations.is_empty() {
            // SQLite numbers these; the next registration in one go reads the highest again.
            self.set_next_spacecraft_key(None);
        }
        let (registered, registered_keys) =
            spacecraft::register_missing(&mut tx, tenant, registrations).await?;
        let keys = self
            .spacecraft_keys(&mut tx, tenant, named_spacecraft(write), &registered_keys)
            .await?;
        let encode_first = || chunks.first().map_or(Ok(Vec::new()), |c| encode_chunk(c));
        // Rows up to this arrival number were stored before this batch; only the search for
        // duplicates needs it, and a write that must be all new never searches.
        let (stored_up_to, mut texts) = if all_new {
            (0, encode_first()?)
        } else {
            let (stored_up_to, first_texts) = overlapped(
                sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(seq), 0) FROM telemetry")
                    .fetch_one(&mut *tx),
                encode_first,
            )
            .await;
            (stored_up_to.db()?, first_texts?)
        };
        let mut inserted: usize = 0;
        let mut optimistic_latest = None;
        for (k, chunk) in chunks.iter().enumerate() {
            let mut query = QueryBuilder::<Sqlite>::new("");
            push_snapshot_rows(&mut query, tenant, chunk, texts, &keys);
            query.push(" ON CONFLICT (tenant, id) DO NOTHING");
            let (done, prepared) = overlapped(query.build().execute(&mut *tx), || {
                match chunks.get(k + 1) {
                    Some(next) => Prepared::Chunk(encode_chunk(next)),
                    None => Prepared::Latest(newest_values(snapshots, &keys, None)),
                }
            })
            .await;
            inserted += usize::try_from(done.db()?.rows_affected()).unwrap_or(0);
            texts = Vec::new();
            match prepared {
                Prepared::Chunk(next) => texts = next?,
                Prepared::Latest(latest) => optimistic_latest = Some(latest),
            }
        }
        let latest = if inserted < snapshots.len() {
            if all_new {
                return Ok(Written::NotAllNew);
            }
            let duplicate =
                find_duplicates(&mut tx, tenant, snapshots, &keys, stored_up_to).await?;
            let found = duplicate.iter().filter(|d| **d).count();
            if found + inserted != snapshots.len() {
                return Err(Error::backend(format!(
                    "ingest stored {inserted} of {} snapshots but found {found} stored before",
                    snapshots.len()
                )));
            }
            newest_values(snapshots, &keys, Some(&duplicate))
        } else {
            optimistic_latest.unwrap_or_default()
        };
        if !anomalies.is_empty() {
            anomalies::insert_new(&mut tx, tenant, anomalies).await?;
        }
        anomalies::upsert_alarms(&mut tx, tenant, alarms).await?;
        // A registration's event comes before what the telemetry caused; both in one go
        // (each recording costs three statements).
        if registered.is_empty() {
            events::record(&mut tx, tenant, events).await?;
        } else {
            let mut all = registered;
            all.extend(events.iter().cloned());
            events::record(&mut tx, tenant, &all).await?;
        }
        if !self.defer_latest {
            upsert_latest_values(&mut tx, &latest_rows(&latest)?).await?;
            let mut covered = QueryBuilder::<Sqlite>::new("");
            push_covered(&mut covered, inserted);
            covered.build().execute(&mut *tx).await.db()?;
        }
        tx.commit().await.db()?;
        self.remember_keys(tenant, &keys);
        if self.defer_latest {
            // Still holding the write connection (see `latest`).
            self.latest.merge(latest);
        }
        Ok(Written::Stored(IngestOutcome {
            inserted,
            duplicates: snapshots.len() - inserted,
        }))
    }
}

impl SqliteStore {
    pub(super) async fn ingest(&self, write: TelemetryWrite) -> Result<IngestOutcome> {
        if write.is_empty() {
            return Ok(IngestOutcome::default());
        }
        if let Some(outcome) = self.write_all_new(&write).await {
            return Ok(outcome);
        }
        match self.write_telemetry(&write, false).await? {
            Written::Stored(outcome) => Ok(outcome),
            Written::NotAllNew => Err(Error::backend(
                "a telemetry write was refused as not new without being asked to".to_owned(),
            )),
        }
    }

    /// Group commit: the writes go in as one merged write, in one transaction, when every
    /// snapshot of them is new and nothing fails: then each write's outcome is that all its
    /// snapshots were inserted, as storing them one by one would have found, and the group
    /// costs one commit (and its pages in the write-ahead log) instead of one per write.
    /// Otherwise (a retried snapshot, a conflict, any failure) the merged transaction is rolled
    /// back and the writes are stored one transaction each, so that a write that fails fails
    /// alone, with the error it would have had alone.
    pub(super) async fn ingest_group(&self, writes: Vec<TelemetryWrite>) -> GroupOutcome {
        let writes = if writes.len() > 1 {
            let (merged, counts) = merge(writes);
            // The one-command way needs every key remembered but those of the spacecraft the
            // group registers. Had it every key, a group it could not store holds a snapshot
            // stored before (or met a failure): one by one below. Otherwise (a spacecraft
            // registered meanwhile, say) the group takes one careful transaction first.
            let one_command = merged.snapshots.len() <= ALL_NEW_MAX
                && self
                    .remembered_keys(&merged.tenant, named_spacecraft(&merged))
                    .is_some();
            let stored = self.write_all_new(&merged).await.is_some()
                || (!one_command
                    && matches!(
                        self.write_telemetry(&merged, true).await,
                        Ok(Written::Stored(_))
                    ));
            if stored {
                return GroupOutcome {
                    stored: counts
                        .iter()
                        .map(|&(_, snapshots, ..)| IngestOutcome {
                            inserted: snapshots,
                            duplicates: 0,
                        })
                        .collect(),
                    failure: None,
                };
            }
            split(merged, &counts)
        } else {
            writes
        };
        insert_one_by_one(self, writes).await
    }
}
