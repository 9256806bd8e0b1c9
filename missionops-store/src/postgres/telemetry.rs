//! Telemetry: batched, idempotent ingest in one transaction, and the telemetry queries.
//!
//! Ingest carries the whole batch as arrays that the server `unnest`s, so the number of
//! statements does not grow with the batch. It assumes first that every snapshot is new, the
//! common case, and sends one statement that checks the spacecraft, registers the ids in
//! `telemetry_ids`, inserts the snapshots and moves `latest_values` forward (with the write's
//! anomalies and events, if any, in the same transaction). When an id is already stored, its
//! unique key fails that statement, nothing is kept, and the ingest starts over carefully:
//! it registers the ids with `ON CONFLICT DO NOTHING`, which tells new ids from stored ones,
//! compares the stored ones with the batch (same content is a duplicate, different content a
//! conflict naming the batch index) and inserts only the new snapshots.
//!
//! Ties between equal sample times go to the last stored: each snapshot gets an arrival number
//! `block << 20 | index in the batch`, with one block per batch from a sequence.
//!
//! A write of snapshots alone (the usual live write of a fleet) sends that statement on its
//! own, in its implicit transaction: one round trip instead of three (`BEGIN`, statement,
//! `COMMIT`). The statement sets the tenant for row-level security before it touches a row;
//! anything it refuses goes again in a transaction, which decides.
//!
//! A write that registers spacecraft (implicit registration) registers them first, in the same
//! transaction. A group of writes (group commit) goes in as one merged write, so the same few
//! statements carry the whole group, whatever spacecraft it names.

use missionops_core::TenantId;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use futures_util::StreamExt;
use missionops_core::{
    Alarm, BucketWidth, Error, GroupOutcome, IngestOutcome, LatestValue, LayoutInterner, Limit,
    ParameterName, ParameterValue, RangeCursor, RangePages, Registration, Result, SeriesBucket,
    SnapshotId, SpacecraftId, TelemetryPage, TelemetryRepository, TelemetrySnapshot,
    TelemetryWrite, Timestamp, insert_one_by_one,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::anomalies::insert_anomalies;
use super::codec::{
    CopiedPage, PgTime, copied_page, get, parameters_text, parse_parameters, parse_value, stored,
    time, value_text,
};
use super::events::record_events;
use super::latest::{Behind, Held, UPSERT_LATEST_VALUES, latest_documents};
use super::spacecraft::{
    RegistrationRows, register_missing, require_spacecraft, unknown_spacecraft,
};
use super::window::window_pages;
use super::{PostgresStore, db, is_deadlock, is_plain, to_i64, unique_violation};
use crate::text_pages::{PageTimes, read_page_off_thread, stored_time};

/// The stored snapshots of tenant `$2` among the ids `$1`: a primary-key lookup per id
/// (`LIMIT 1` keeps it from being flattened into a join). Planned generically,
/// `r.id = ANY($1)` would read every snapshot id of the tenant.
pub(super) const STORED_SNAPSHOTS: &str = "SELECT found.*
     FROM unnest($1::text[]) AS wanted(id)
     CROSS JOIN LATERAL (
         SELECT t.id, t.spacecraft_id, t.ts, t.parameters::text AS parameters
         FROM telemetry_ids r
         JOIN telemetry t ON t.tenant = r.tenant AND t.spacecraft_id = r.spacecraft_id
                         AND t.ts = r.ts AND t.id = r.id
         WHERE r.tenant = $2 AND r.id = wanted.id
         LIMIT 1) found";

/// Arrival numbers are `block << ARRIVAL_BITS | index in the batch`.
const ARRIVAL_BITS: u32 = 20;
// The optimistic ingest statement spells the shift and the mask out as literals.
const _: () = assert!(ARRIVAL_BITS == 20 && (1_i64 << ARRIVAL_BITS) - 1 == 1_048_575);

/// How many arrival blocks a batch of `len` snapshots needs.
fn blocks_for(len: usize) -> i64 {
    to_i64((len >> ARRIVAL_BITS) + 1)
}

/// The spacecraft named by `snapshots`, each once.
fn spacecraft_of(snapshots: &[TelemetrySnapshot]) -> Vec<&SpacecraftId> {
    let mut ids: Vec<&SpacecraftId> = Vec::new();
    for snapshot in snapshots {
        // Batches usually name one spacecraft; a linear scan beats a set for a handful.
        if !ids.contains(&&snapshot.spacecraft_id) {
            ids.push(&snapshot.spacecraft_id);
        }
    }
    ids
}

/// Whether some id appears twice in `snapshots`.
fn has_repeated_ids(snapshots: &[TelemetrySnapshot]) -> bool {
    let mut seen = HashSet::with_capacity(snapshots.len());
    !snapshots.iter().all(|s| seen.insert(&s.id))
}

/// What is stored under an id the batch uses too.
struct StoredSnapshot {
    spacecraft_id: String,
    timestamp: Timestamp,
    parameters: String,
}

/// Whether `snapshot` has the content of `stored`.
fn same_content(snapshot: &TelemetrySnapshot, stored: &StoredSnapshot) -> Result<bool> {
    if snapshot.spacecraft_id.as_str() != stored.spacecraft_id
        || snapshot.timestamp != stored.timestamp
    {
        return Ok(false);
    }
    // Compared as values, not as text, so that a change in how numbers are spelled can never
    // turn a retry into a conflict.
    Ok(parse_parameters("snapshot parameters", &stored.parameters)? == snapshot.parameters)
}

/// The stored snapshots under `ids`.
async fn stored_snapshots(
    conn: &mut PgConnection,
    tenant: &TenantId,
    ids: &[&str],
) -> Result<HashMap<String, StoredSnapshot>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(STORED_SNAPSHOTS)
        .bind(ids)
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        found.insert(
            get::<String>(row, "id")?,
            StoredSnapshot {
                spacecraft_id: get(row, "spacecraft_id")?,
                timestamp: time(row, "ts")?,
                parameters: get(row, "parameters")?,
            },
        );
    }
    Ok(found)
}

/// The first snapshot of the batch that cannot be stored, as the error to answer: checked in
/// batch order, and for each snapshot in the order of the in-memory store (spacecraft, id
/// repeated within the batch, id stored with other content).
fn first_rejection(
    snapshots: &[TelemetrySnapshot],
    unknown: &[&SpacecraftId],
    stored: &HashMap<String, StoredSnapshot>,
) -> Result<Option<Error>> {
    let mut seen = HashSet::with_capacity(snapshots.len());
    for (index, snapshot) in snapshots.iter().enumerate() {
        let id = &snapshot.id;
        if unknown.contains(&&snapshot.spacecraft_id) {
            return Ok(Some(Error::not_found(
                "spacecraft",
                &snapshot.spacecraft_id,
            )));
        }
        if !seen.insert(id) {
            return Ok(Some(Error::conflict(
                "snapshot",
                id,
                format!("snapshots[{index}] repeats an id of the same batch"),
            )));
        }
        if let Some(held) = stored.get(id.as_str()) {
            if !same_content(snapshot, held)? {
                return Ok(Some(Error::conflict(
                    "snapshot",
                    id,
                    format!(
                        "snapshots[{index}] has the id of a stored snapshot with different content"
                    ),
                )));
            }
        }
    }
    Ok(None)
}

/// The error that rejects a batch known to be bad (`unknown` spacecraft, or an id repeated
/// within it). Which snapshot it names depends on the stored ids too: an earlier conflict wins.
async fn rejection(
    conn: &mut PgConnection,
    tenant: &TenantId,
    snapshots: &[TelemetrySnapshot],
    unknown: &[&SpacecraftId],
) -> Result<Error> {
    let ids: Vec<&str> = snapshots.iter().map(|s| s.id.as_str()).collect();
    let stored = stored_snapshots(conn, tenant, &ids).await?;
    Ok(
        first_rejection(snapshots, unknown, &stored)?.unwrap_or_else(|| {
            Error::backend("a telemetry batch was rejected for no reason found".to_owned())
        }),
    )
}

/// The rows to upsert into `latest_values`: the newest sample of each (spacecraft, parameter)
/// of a batch, ordered by key (so that concurrent ingests lock those rows in the same order).
/// `positions` are batch indices; the snapshots' arrival numbers follow them.
#[derive(Default)]
struct LatestRows<'a> {
    keys: Vec<(&'a SpacecraftId, &'a ParameterName)>,
    spacecraft: Vec<&'a str>,
    parameters: Vec<&'a str>,
    values: Vec<String>,
    times: Vec<PgTime>,
    positions: Vec<usize>,
}

impl<'a> LatestRows<'a> {
    /// The newest samples among `candidates` (batch index, snapshot), newest by sample time
    /// and then by batch index, which is arrival order.
    fn newest(candidates: &[(usize, &'a TelemetrySnapshot)]) -> Result<Self> {
        // The snapshots of a batch nearly always share a spacecraft and a list of names: find
        // the newest snapshot of each such group first (a short scan, no hashing per value),
        // and merge per parameter only those.
        let newest_of_groups = newest_per_layout(candidates, 16);
        let candidates = newest_of_groups.as_deref().unwrap_or(candidates);
        type Key<'k> = (&'k SpacecraftId, &'k ParameterName);
        let mut newest: HashMap<Key<'a>, (Timestamp, usize, &'a ParameterValue)> = HashMap::new();
        for &(position, snapshot) in candidates {
            for (name, value) in snapshot.parameters.iter() {
                let candidate = (snapshot.timestamp, position, value);
                newest
                    .entry((&snapshot.spacecraft_id, name))
                    .and_modify(|held| {
                        if (candidate.0, candidate.1) > (held.0, held.1) {
                            *held = candidate;
                        }
                    })
                    .or_insert(candidate);
            }
        }
        let mut sorted: Vec<_> = newest.into_iter().collect();
        sorted.sort_unstable_by_key(|(key, _)| *key);
        let mut rows = LatestRows::default();
        for ((spacecraft, parameter), (timestamp, position, value)) in sorted {
            rows.keys.push((spacecraft, parameter));
            rows.spacecraft.push(spacecraft.as_str());
            rows.parameters.push(parameter.as_str());
            rows.values.push(value_text(value)?);
            rows.times.push(PgTime(timestamp));
            rows.positions.push(position);
        }
        Ok(rows)
    }
}

/// For each group of candidates with the same spacecraft and the same parameter names, the
/// newest; `None` when there are more than `max_groups` groups.
fn newest_per_layout<'a>(
    candidates: &[(usize, &'a TelemetrySnapshot)],
    max_groups: usize,
) -> Option<Vec<(usize, &'a TelemetrySnapshot)>> {
    let mut groups: Vec<(usize, &TelemetrySnapshot)> = Vec::new();
    for &(position, snapshot) in candidates {
        let group = groups.iter().position(|(_, g)| {
            g.spacecraft_id == snapshot.spacecraft_id
                && (g.parameters.layout().same_as(snapshot.parameters.layout())
                    || g.parameters.names() == snapshot.parameters.names())
        });
        match group {
            Some(i) => {
                let (held_position, held) = groups[i];
                if (snapshot.timestamp, position) > (held.timestamp, held_position) {
                    groups[i] = (position, snapshot);
                }
            }
            None if groups.len() < max_groups => groups.push((position, snapshot)),
            None => return None,
        }
    }
    Some(groups)
}

/// The part of the optimistic ingest statement that moves `latest_values` forward with the rows
/// `$7`–`$11`; left out of the statements of a store that writes them behind (its rows are
/// empty there, and the part's `INSERT … ON CONFLICT` cost the database its set-up on every
/// call all the same).
macro_rules! move_latest {
    () => {
        concat!(
            ",
             latest AS (
                 INSERT INTO latest_values AS l (tenant, spacecraft_id, by_parameter) ",
            latest_by_spacecraft!(
                "$12",
                "((SELECT b FROM block)[((n - 1) >> 20) + 1] << 20) | ((n - 1) & 1048575)",
                "unnest($7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::int8[])
                      AS u(s, p, v, t, n) WHERE (SELECT ok FROM go)"
            ),
            merge_latest!(),
            ")"
        )
    };
}

/// The optimistic ingest statement, with `$registering` in the existence check,
/// `$registration` among its parts and `$newcomers` (the spacecraft it registered) as its
/// third answer when it registers spacecraft too (see [`REGISTER_AND_INSERT_AS_NEW`]), and
/// `$commit` beside the tenant's setting (see [`super::NO_FLUSH_WAIT`]). Every part runs only
/// when all spacecraft exist (`ok`); data-modifying CTEs always run to completion, so the statement stores the whole batch or,
/// failing anywhere, nothing. Ordinals are 1-based; arrival numbers use the 0-based index
/// (`n - 1`), shifted and masked with ARRIVAL_BITS = 20.
macro_rules! insert_as_new {
    ($registering:literal, $registration:literal, $newcomers:literal, $commit:expr, $latest:expr) => {
        concat!(
            "WITH tenant AS MATERIALIZED (
                 SELECT set_config('missionops.tenant', $12, true) AS t",
            $commit,
            "),
             unknown AS (
                 SELECT s FROM unnest($1::text[]) AS s
                 LEFT JOIN LATERAL (SELECT 1 AS found FROM spacecraft
                                    WHERE tenant = $12 AND id = s LIMIT 1) AS f ON true
                 WHERE f.found IS NULL",
            $registering,
            "),
             go AS (SELECT (SELECT t FROM tenant) = $12
                           AND NOT EXISTS (SELECT 1 FROM unknown) AS ok),",
            $registration,
            "
             block AS (
                 SELECT ARRAY(SELECT nextval('telemetry_arrival_block_seq')
                              FROM generate_series(1, $2) ORDER BY 1) AS b
                 WHERE (SELECT ok FROM go)),
             registered AS (
                 INSERT INTO telemetry_ids (tenant, id, spacecraft_id, ts)
                 SELECT $12, i, s, t
                 FROM unnest($3::text[], $4::text[], $5::timestamptz[]) AS u(i, s, t)
                 WHERE (SELECT ok FROM go)),
             inserted AS (
                 INSERT INTO telemetry (tenant, spacecraft_id, ts, arrival, id, parameters)
                 SELECT $12, s, t,
                        ((SELECT b FROM block)[((n - 1) >> 20) + 1] << 20) | ((n - 1) & 1048575),
                        i, p::json
                 FROM unnest($4::text[], $5::timestamptz[], $3::text[], $6::text[])
                      WITH ORDINALITY AS u(s, t, i, p, n)
                 WHERE (SELECT ok FROM go))",
            $latest,
            "
         SELECT CASE WHEN (SELECT t FROM tenant) = $12 THEN ARRAY(SELECT s FROM unknown) END,
                (SELECT b FROM block), ",
            $newcomers
        )
    };
}

/// The optimistic ingest of tenant `$12`: checks that the spacecraft `$1` exist, takes `$2`
/// arrival blocks, registers the ids `$3` and inserts the snapshots (`$3`–`$6`: id,
/// spacecraft, time, parameters as JSON), moves `latest_values` forward with the rows `$7`–`$11`
/// (spacecraft, parameter, value, time, ordinal of the snapshot); answers the spacecraft it
/// found missing (`NULL` when the tenant was not set in time), the blocks it took, and `NULL`
/// where [`REGISTER_AND_INSERT_AS_NEW`] answers the spacecraft it registered.
const INSERT_AS_NEW: &str = insert_as_new!("", "", "NULL::text[]", "", move_latest!());

/// Beside the tenant's setting in the optimistic statement: its implicit transaction commits
/// without waiting for the WAL flush (see [`super::NO_FLUSH_WAIT`]).
macro_rules! no_flush_wait {
    () => {
        ", set_config('synchronous_commit', 'off', true) AS c"
    };
}

/// [`REGISTER_AND_INSERT_AS_NEW`] with `$commit` beside the tenant's setting and `$latest`
/// ([`move_latest`] or nothing).
macro_rules! register_and_insert_as_new {
    ($commit:expr, $latest:expr) => {
        insert_as_new!(
            " AND s <> ALL($13::text[])",
            "
             newcomers AS (
                 INSERT INTO spacecraft
                     (tenant, id, name, mission_type, metadata_json, created_at, updated_at)
                 SELECT $12, i, n, m, d::json, c, u
                 FROM unnest($13::text[], $14::text[], $15::text[], $16::text[],
                             $17::timestamptz[], $18::timestamptz[])
                      WITH ORDINALITY AS x(i, n, m, d, c, u, k)
                 WHERE (SELECT ok FROM go)
                 ORDER BY k
                 ON CONFLICT (tenant, id) DO NOTHING
                 RETURNING id),
             announced AS (
                 SELECT e.*, row_number() OVER (ORDER BY e.o) AS r
                 FROM unnest($13::text[], $19::int8[], $20::text[], $21::text[],
                             $22::timestamptz[], $23::text[], $24::text[], $25::text[],
                             $26::text[]) AS e(sc, o, i, esc, t, ty, sev, m, md)
                 WHERE e.sc IN (SELECT id FROM newcomers)),
             bumped AS (
                 UPDATE event_counter
                 SET last_sequence = last_sequence + (SELECT count(*) FROM announced)
                 WHERE EXISTS (SELECT 1 FROM announced)
                 RETURNING last_sequence),
             recorded AS (
                 INSERT INTO events
                     (tenant, sequence, id, spacecraft_id, ts, type, severity, message,
                      metadata_json)
                 SELECT $12, b.last_sequence - (SELECT count(*) FROM announced) + a.r,
                        a.i, a.esc, a.t, a.ty, a.sev, a.m, a.md::json
                 FROM bumped b CROSS JOIN announced a
                 RETURNING sequence),
             queued AS (
                 INSERT INTO outbox (tenant, sequence) SELECT $12, sequence FROM recorded),",
            "ARRAY(SELECT id FROM newcomers)",
            $commit,
            $latest
        )
    };
}

/// [`INSERT_AS_NEW`] that also registers spacecraft (implicit registration), so that a group of
/// writes from new spacecraft is one statement in its own implicit transaction, one round trip
/// where a transaction took five (`BEGIN`, registration, ingest, events, `COMMIT`) with the event
/// counter locked across two of them. The registrations, as [`RegistrationRows`] gives them:
/// `$13`–`$18` (id, name, type, metadata, created, updated), `$19` the place of each in the
/// write, and its event `$20`–`$26` (id, spacecraft, time, type, severity, message, metadata).
/// The spacecraft it registers count as existing in the check. Only those it registers (`ON
/// CONFLICT DO NOTHING`) have their event recorded, numbered in the write's order from the
/// event counter, with an outbox row each. The counter is locked last, once the spacecraft rows
/// are in (the same order of locks as a transaction that registers, then records events), and
/// stays locked only until this statement commits. Its third answer is the spacecraft it
/// registered (those that were missing).
const REGISTER_AND_INSERT_AS_NEW: &str = register_and_insert_as_new!("", move_latest!());

/// The optimistic statement for a write that registers spacecraft or not, commits without
/// waiting for the WAL flush or not, and moves `latest_values` forward itself or leaves them
/// to the store's write-behind: [`INSERT_AS_NEW`] or [`REGISTER_AND_INSERT_AS_NEW`], or one of
/// their variants.
fn ingest_statement(registering: bool, no_flush_wait: bool, moves_latest: bool) -> &'static str {
    match (registering, no_flush_wait, moves_latest) {
        (false, false, true) => INSERT_AS_NEW,
        (false, false, false) => insert_as_new!("", "", "NULL::text[]", "", ""),
        (false, true, true) => {
            insert_as_new!("", "", "NULL::text[]", no_flush_wait!(), move_latest!())
        }
        (false, true, false) => insert_as_new!("", "", "NULL::text[]", no_flush_wait!(), ""),
        (true, false, true) => REGISTER_AND_INSERT_AS_NEW,
        (true, false, false) => register_and_insert_as_new!("", ""),
        (true, true, true) => register_and_insert_as_new!(no_flush_wait!(), move_latest!()),
        (true, true, false) => register_and_insert_as_new!(no_flush_wait!(), ""),
    }
}

/// How the optimistic statement ended.
enum Optimistic<'a> {
    /// Every snapshot was new and is stored (uncommitted while in a transaction), with the
    /// latest values to hold back once it committed when asked to.
    Stored(Option<HeldBack<'a>>),
    /// These spacecraft do not exist; nothing was written.
    UnknownSpacecraft(Vec<&'a SpacecraftId>),
    /// An id is already stored (or held by a concurrent batch); nothing was written.
    IdTaken,
    /// The statement could not see the tenant's rows when it checked; nothing was written.
    Unchecked,
}

/// The latest values of a statement that left `latest_values` alone, and the arrival blocks it
/// took: held back by the store once the statement's transaction committed.
struct HeldBack<'a> {
    rows: LatestRows<'a>,
    blocks: Vec<i64>,
    /// The spacecraft the statement registered: no row of `latest_values` is theirs yet.
    registered: Vec<String>,
}

impl HeldBack<'_> {
    fn hold(self, behind: &Behind, tenant: &TenantId) {
        let LatestRows {
            keys,
            values,
            times,
            positions,
            ..
        } = self.rows;
        let rows = keys
            .into_iter()
            .zip(values)
            .zip(times)
            .zip(positions)
            .map(|((((s, p), v), t), n)| (s, p, v, t.0, n));
        behind.merge(tenant, rows, &self.blocks, &self.registered);
    }
}

/// The optimistic ingest: one statement that checks the spacecraft, registers every id,
/// inserts every snapshot and moves `latest_values` forward, assuming all ids are new; with
/// `registrations`, it registers those spacecraft and records their events too.
///
/// With `behind` the statement leaves `latest_values` alone and returns them, to be held back
/// there once the caller's transaction committed. With `no_flush_wait` the statement's
/// transaction commits without waiting for the WAL flush (see [`super::NO_FLUSH_WAIT`]).
async fn insert_as_new<'a>(
    conn: &mut PgConnection,
    tenant: &TenantId,
    snapshots: &'a [TelemetrySnapshot],
    registrations: &[Registration],
    behind: Option<&Behind>,
    no_flush_wait: bool,
) -> Result<Optimistic<'a>> {
    let registrations = if registrations.is_empty() {
        None
    } else {
        Some(RegistrationRows::of(registrations)?)
    };
    let wanted = spacecraft_of(snapshots);
    let names: Vec<&str> = wanted.iter().map(|id| id.as_str()).collect();
    let ids: Vec<&str> = snapshots.iter().map(|s| s.id.as_str()).collect();
    let spacecraft: Vec<&str> = snapshots.iter().map(|s| s.spacecraft_id.as_str()).collect();
    let times: Vec<PgTime> = snapshots.iter().map(|s| PgTime(s.timestamp)).collect();
    let parameters = snapshots
        .iter()
        .map(|s| parameters_text(&s.parameters))
        .collect::<Result<Vec<String>>>()?;
    let candidates: Vec<(usize, &TelemetrySnapshot)> = snapshots.iter().enumerate().collect();
    let newest = LatestRows::newest(&candidates)?;
    let none = LatestRows::default();
    let latest = if behind.is_some() { &none } else { &newest };
    let latest_ordinals: Vec<i64> = latest.positions.iter().map(|p| to_i64(p + 1)).collect();
    let sql = ingest_statement(registrations.is_some(), no_flush_wait, behind.is_none());
    let mut query =
        sqlx::query_as::<_, (Option<Vec<String>>, Option<Vec<i64>>, Option<Vec<String>>)>(sql)
            .bind(&names)
            .bind(blocks_for(snapshots.len()))
            .bind(&ids)
            .bind(&spacecraft)
            .bind(&times)
            .bind(&parameters)
            .bind(&latest.spacecraft)
            .bind(&latest.parameters)
            .bind(&latest.values)
            .bind(&latest.times)
            .bind(&latest_ordinals)
            .bind(tenant.as_str());
    if let Some(rows) = &registrations {
        query = query
            .bind(&rows.ids)
            .bind(&rows.names)
            .bind(&rows.types)
            .bind(&rows.metadata)
            .bind(&rows.created)
            .bind(&rows.updated)
            .bind(&rows.order)
            .bind(&rows.events.ids)
            .bind(&rows.events.spacecraft)
            .bind(&rows.events.times)
            .bind(&rows.events.types)
            .bind(&rows.events.severities)
            .bind(&rows.events.messages)
            .bind(&rows.events.metadata);
    }
    let outcome = query.fetch_one(&mut *conn).await;
    match outcome {
        Ok((Some(unknown), blocks, registered)) if unknown.is_empty() => {
            Ok(Optimistic::Stored(behind.is_some().then(|| HeldBack {
                rows: newest,
                blocks: blocks.unwrap_or_default(),
                registered: registered.unwrap_or_default(),
            })))
        }
        // The tenant was not set before the existence check: nothing was written, and the
        // check's answer is not to be trusted (it saw no spacecraft at all).
        Ok((None, _, _)) => Ok(Optimistic::Unchecked),
        Ok((Some(unknown), _, _)) => Ok(Optimistic::UnknownSpacecraft(
            wanted
                .into_iter()
                .filter(|id| unknown.iter().any(|u| u == id.as_str()))
                .collect(),
        )),
        Err(err) if unique_violation(&err) == Some("telemetry_ids_pkey") || is_deadlock(&err) => {
            Ok(Optimistic::IdTaken)
        }
        Err(err) => Err(db(err)),
    }
}

/// A latest value held back by a deferring store.
fn latest_value(parameter: ParameterName, held: &Held) -> Result<LatestValue> {
    Ok(LatestValue {
        parameter,
        value: parse_value("latest value", &held.value_json)?,
        timestamp: held.timestamp,
    })
}

/// Takes arrival blocks and numbers the snapshots of a batch of `len`, in batch order.
async fn number_arrivals(conn: &mut PgConnection, len: usize) -> Result<Vec<i64>> {
    let mut blocks: Vec<i64> = sqlx::query_scalar(
        "SELECT nextval('telemetry_arrival_block_seq') FROM generate_series(1, $1)",
    )
    .bind(blocks_for(len))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    blocks.sort_unstable();
    (0..len)
        .map(|index| {
            let block = blocks
                .get(index >> ARRIVAL_BITS)
                .ok_or_else(|| Error::backend("too few arrival blocks".to_owned()))?;
            Ok((block << ARRIVAL_BITS) | to_i64(index & ((1 << ARRIVAL_BITS) - 1)))
        })
        .collect()
}

/// Registers the ids that are new (`ON CONFLICT DO NOTHING`) and returns them.
async fn register_new_ids(
    conn: &mut PgConnection,
    tenant: &TenantId,
    snapshots: &[TelemetrySnapshot],
) -> Result<HashSet<String>> {
    // Registering in id order makes concurrent batches that share ids take their locks in the
    // same order, so they wait for each other instead of deadlocking.
    let mut order: Vec<&TelemetrySnapshot> = snapshots.iter().collect();
    order.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let ids: Vec<&str> = order.iter().map(|s| s.id.as_str()).collect();
    let spacecraft: Vec<&str> = order.iter().map(|s| s.spacecraft_id.as_str()).collect();
    let times: Vec<PgTime> = order.iter().map(|s| PgTime(s.timestamp)).collect();
    let fresh: Vec<String> = sqlx::query_scalar(
        "INSERT INTO telemetry_ids (tenant, id, spacecraft_id, ts)
         SELECT $4, i, s, t FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(i, s, t)
         ON CONFLICT (tenant, id) DO NOTHING
         RETURNING id",
    )
    .bind(&ids)
    .bind(&spacecraft)
    .bind(&times)
    .bind(tenant.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok(fresh.into_iter().collect())
}

/// Inserts the new snapshots of a careful ingest (their ids are registered already) and moves
/// `latest_values` forward with them.
async fn insert_new(
    conn: &mut PgConnection,
    tenant: &TenantId,
    fresh: &[(usize, &TelemetrySnapshot)],
    arrivals: &[i64],
) -> Result<()> {
    if fresh.is_empty() {
        return Ok(());
    }
    let arrival_of = |position: usize| {
        arrivals
            .get(position)
            .copied()
            .ok_or_else(|| Error::backend("a snapshot has no arrival number".to_owned()))
    };
    let spacecraft: Vec<&str> = fresh
        .iter()
        .map(|(_, s)| s.spacecraft_id.as_str())
        .collect();
    let times: Vec<PgTime> = fresh.iter().map(|(_, s)| PgTime(s.timestamp)).collect();
    let fresh_arrivals = fresh
        .iter()
        .map(|(p, _)| arrival_of(*p))
        .collect::<Result<Vec<i64>>>()?;
    let ids: Vec<&str> = fresh.iter().map(|(_, s)| s.id.as_str()).collect();
    let parameters = fresh
        .iter()
        .map(|(_, s)| parameters_text(&s.parameters))
        .collect::<Result<Vec<String>>>()?;
    sqlx::query(
        "INSERT INTO telemetry (tenant, spacecraft_id, ts, arrival, id, parameters)
         SELECT $6, s, t, a, i, p::json
         FROM unnest($1::text[], $2::timestamptz[], $3::int8[], $4::text[], $5::text[])
              AS u(s, t, a, i, p)",
    )
    .bind(&spacecraft)
    .bind(&times)
    .bind(&fresh_arrivals)
    .bind(&ids)
    .bind(&parameters)
    .bind(tenant.as_str())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let latest = LatestRows::newest(fresh)?;
    let latest_arrivals = latest
        .positions
        .iter()
        .map(|p| arrival_of(*p))
        .collect::<Result<Vec<i64>>>()?;
    let (spacecraft, documents) = latest_documents(
        latest
            .spacecraft
            .iter()
            .zip(&latest.parameters)
            .zip(&latest.values)
            .zip(&latest.times)
            .zip(&latest_arrivals)
            .map(|((((s, p), v), t), a)| (*s, *p, v.as_str(), t.0, *a)),
    )?;
    sqlx::query(UPSERT_LATEST_VALUES)
        .bind(&spacecraft)
        .bind(&documents)
        .bind(tenant.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// Creates or replaces the alarms of an ingest; their spacecraft must exist.
async fn upsert_alarms(conn: &mut PgConnection, tenant: &TenantId, alarms: &[Alarm]) -> Result<()> {
    if alarms.is_empty() {
        return Ok(());
    }
    require_spacecraft(&mut *conn, tenant, alarms.iter().map(|a| &a.spacecraft_id)).await?;
    super::alarms::upsert_alarms(&mut *conn, tenant, alarms).await
}

impl PostgresStore {
    /// The common case: every snapshot is new. `Ok(None)` when one is not and the ingest must
    /// be run carefully. The transaction sets the write's tenant (row-level security) first.
    async fn ingest_as_new(&self, write: &TelemetryWrite) -> Result<Option<IngestOutcome>> {
        let snapshots = &write.snapshots;
        let tenant = &write.tenant;
        let stored = IngestOutcome {
            inserted: snapshots.len(),
            duplicates: 0,
        };
        if goes_in_one_statement(write) {
            match self.insert_alone(write).await {
                Ok(Optimistic::Stored(_)) => return Ok(Some(stored)),
                Ok(Optimistic::IdTaken) => return Ok(None),
                // The transaction below decides (and names what is unknown): the statement
                // is the same, so whatever it refused was not written.
                Ok(Optimistic::UnknownSpacecraft(_) | Optimistic::Unchecked) | Err(_) => {}
            }
        }
        let behind = self
            .behind
            .as_deref()
            .filter(|behind| behind.holds_back(tenant));
        // Entered before the statement takes its arrival block, left once its values merged.
        let _gate = match behind {
            Some(behind) => Some(behind.enter().await),
            None => None,
        };
        // Registrations, telemetry and events only (a group of new spacecraft): statements
        // that all plan well generically, planned once per connection instead of per call.
        let generic = write.anomalies.is_empty() && write.alarms.is_empty();
        let mut tx = self.begin_ingest_for(tenant, generic).await?;
        let mut events = register_missing(&mut tx, tenant, &write.registrations).await?;
        // The transaction's commit is already set: the statement leaves it alone.
        let outcome = insert_as_new(&mut tx, tenant, snapshots, &[], behind, false).await?;
        let outcome = if let Optimistic::Stored(held) = outcome {
            insert_anomalies(&mut tx, tenant, &write.anomalies).await?;
            upsert_alarms(&mut tx, tenant, &write.alarms).await?;
            events.extend(&write.events);
            record_events(&mut tx, tenant, &events, &[]).await?;
            tx.commit().await.map_err(db)?;
            if let (Some(behind), Some(held)) = (behind, held) {
                held.hold(behind, tenant);
            }
            Optimistic::Stored(None)
        } else {
            drop(tx);
            outcome
        };
        match outcome {
            Optimistic::Stored(_) => Ok(Some(stored)),
            Optimistic::IdTaken => Ok(None),
            Optimistic::Unchecked => Err(Error::backend(
                "the ingest statement did not see the tenant set by its transaction".to_owned(),
            )),
            Optimistic::UnknownSpacecraft(unknown) => {
                let mut tx = self.begin_for(tenant).await?;
                Err(rejection(&mut tx, tenant, snapshots, &unknown).await?)
            }
        }
    }

    /// A write of snapshots alone (no anomaly, alarm or event: a fleet's usual write), or of
    /// snapshots and the spacecraft they register (a group of new spacecraft), stored by the
    /// optimistic statement in its own implicit transaction: one round trip where `BEGIN`,
    /// the statement and `COMMIT` take three (five with the registration and its events). The
    /// statement sets the tenant for row-level security itself, before it reads or writes a
    /// row.
    async fn insert_alone<'a>(&self, write: &'a TelemetryWrite) -> Result<Optimistic<'a>> {
        let mut conn = self.ingest_connection.get(&self.pool).await.map_err(db)?;
        let behind = self
            .behind
            .as_deref()
            .filter(|behind| behind.holds_back(&write.tenant));
        // Entered before the statement takes its arrival block, left once its values merged.
        let _gate = match behind {
            Some(behind) => Some(behind.enter().await),
            None => None,
        };
        let outcome = insert_as_new(
            &mut conn,
            &write.tenant,
            &write.snapshots,
            &write.registrations,
            behind,
            self.telemetry_without_flush_wait,
        )
        .await?;
        conn.succeeded();
        Ok(match outcome {
            Optimistic::Stored(held) => {
                self.one_statement_writes.fetch_add(1, Ordering::Relaxed);
                // Its own implicit transaction: committed.
                if let (Some(behind), Some(held)) = (behind, held) {
                    held.hold(behind, &write.tenant);
                }
                Optimistic::Stored(None)
            }
            other => other,
        })
    }

    /// The ingest of a batch that may repeat stored snapshots (a retry), or of anomalies and
    /// events alone.
    async fn ingest_carefully(&self, write: &TelemetryWrite) -> Result<IngestOutcome> {
        let snapshots = &write.snapshots;
        let tenant = &write.tenant;
        let mut tx = self.begin_ingest_for(tenant, false).await?;
        // A registration's event comes before what the telemetry caused.
        let mut events = register_missing(&mut tx, tenant, &write.registrations).await?;
        let mut outcome = IngestOutcome::default();
        if !snapshots.is_empty() {
            let unknown = unknown_spacecraft(&mut tx, tenant, spacecraft_of(snapshots)).await?;
            if !unknown.is_empty() {
                return Err(rejection(&mut tx, tenant, snapshots, &unknown).await?);
            }
            let arrivals = number_arrivals(&mut tx, snapshots.len()).await?;
            let fresh_ids = register_new_ids(&mut tx, tenant, snapshots).await?;
            let known: Vec<&str> = snapshots
                .iter()
                .map(|s| s.id.as_str())
                .filter(|id| !fresh_ids.contains(*id))
                .collect();
            let stored = stored_snapshots(&mut tx, tenant, &known).await?;
            if let Some(err) = first_rejection(snapshots, &[], &stored)? {
                return Err(err);
            }
            let mut fresh = Vec::with_capacity(fresh_ids.len());
            for (position, snapshot) in snapshots.iter().enumerate() {
                if fresh_ids.contains(snapshot.id.as_str()) {
                    fresh.push((position, snapshot));
                } else if stored.contains_key(snapshot.id.as_str()) {
                    outcome.duplicates += 1;
                } else {
                    return Err(Error::backend(format!(
                        "snapshot id {} is registered but its snapshot is missing",
                        snapshot.id
                    )));
                }
            }
            insert_new(&mut tx, tenant, &fresh, &arrivals).await?;
            outcome.inserted = fresh.len();
        }
        insert_anomalies(&mut tx, tenant, &write.anomalies).await?;
        upsert_alarms(&mut tx, tenant, &write.alarms).await?;
        events.extend(&write.events);
        record_events(&mut tx, tenant, &events, &[]).await?;
        tx.commit().await.map_err(db)?;
        Ok(outcome)
    }
}

/// Whether `write` stores snapshots and nothing else but the spacecraft it registers (with their
/// events): what one optimistic statement can store on its own.
fn goes_in_one_statement(write: &TelemetryWrite) -> bool {
    !write.snapshots.is_empty()
        && write.anomalies.is_empty()
        && write.alarms.is_empty()
        && write.events.is_empty()
}

/// `writes` (all of one tenant) appended into one write of that tenant, in order. A
/// registration repeated by a later write counts once, as it would one write after another.
fn merge(writes: &[TelemetryWrite]) -> TelemetryWrite {
    let mut merged = TelemetryWrite::default();
    if let Some(first) = writes.first() {
        merged.tenant = first.tenant.clone();
    }
    for write in writes {
        merged
            .registrations
            .extend(write.registrations.iter().cloned());
        merged.snapshots.extend(write.snapshots.iter().cloned());
        merged.anomalies.extend(write.anomalies.iter().cloned());
        merged.alarms.extend(write.alarms.iter().cloned());
        merged.events.extend(write.events.iter().cloned());
    }
    merged
}

/// The columns [`snapshots_from_rows`] reads, in its order.
macro_rules! snapshot_columns {
    () => {
        "SELECT id, ts, parameters::text AS parameters FROM telemetry "
    };
}

/// Reads snapshots of `spacecraft` (the one the query asked for), sharing one parameter layout
/// between snapshots with the same names, as the rule engine's fast path wants. Columns are
/// read by position: a window can be 86,400 rows.
fn snapshots_from_rows(
    spacecraft: &SpacecraftId,
    rows: &[PgRow],
) -> Result<Vec<TelemetrySnapshot>> {
    let mut layouts = LayoutInterner::new();
    rows.iter()
        .map(|row| {
            let id: String = row.try_get(0).map_err(db)?;
            let timestamp: PgTime = row.try_get(1).map_err(db)?;
            let parameters: &str = row.try_get(2).map_err(db)?;
            Ok(TelemetrySnapshot {
                id: stored("snapshot id", SnapshotId::parse(id))?,
                spacecraft_id: spacecraft.clone(),
                timestamp: timestamp.0,
                parameters: layouts.share(parse_parameters("snapshot parameters", parameters)?),
            })
        })
        .collect()
}

/// `COPY … TO STDOUT (FORMAT binary)` of the rows (id, ts, arrival, parameters) of the
/// spacecraft `spacecraft_sql` names, in the tenant of the transaction, after the row `after`
/// up to the row `up_to` (each (epoch milliseconds, arrival)), in (time, arrival) order, at most
/// `limit` of them (`ALL` or a number). `COPY` takes no parameters, so everything here is SQL
/// the store wrote or an integer; the row comparisons alone bound the index scan (each further
/// condition on `ts` is checked on every index entry: a fifth of reading the rows).
pub(super) fn copy_rows(
    spacecraft_sql: &str,
    (after_ms, after_arrival): (i64, i64),
    (up_to_ms, up_to_arrival): (i64, i64),
    limit: &str,
) -> String {
    format!(
        "COPY (SELECT id, ts, arrival, parameters FROM telemetry \
         WHERE tenant = current_setting('missionops.tenant') \
         AND spacecraft_id = {spacecraft_sql} \
         AND (ts, arrival) > \
             (timestamptz 'epoch' + {after_ms} * interval '1 millisecond', {after_arrival}) \
         AND (ts, arrival) <= \
             (timestamptz 'epoch' + {up_to_ms} * interval '1 millisecond', {up_to_arrival}) \
         ORDER BY ts, arrival LIMIT {limit}) TO STDOUT (FORMAT binary)"
    )
}

/// A page of a range read as PostgreSQL hands it over (the form of `text_pages`, times
/// beside the text), not read back yet.
struct TextPage {
    text: String,
    /// (epoch milliseconds, arrival) of each row, in the text's order.
    times: Vec<(i64, i64)>,
}

impl TextPage {
    /// The cursor after the page's last row when the page is full (`limit` rows), so that
    /// more may follow; `None` after the last page.
    fn cursor_after(&self, spacecraft: &SpacecraftId, limit: usize) -> Result<Option<RangeCursor>> {
        if self.times.len() < limit {
            return Ok(None);
        }
        // The last in (time, arrival) order, whatever order the rows came in.
        let Some(&(millis, arrival)) = self.times.iter().max() else {
            return Ok(None);
        };
        Ok(Some(RangeCursor {
            timestamp: stored_time(millis, "snapshot", spacecraft.as_str())?,
            arrival,
        }))
    }

    /// The page's snapshots in time order, read back on the blocking pool.
    async fn read(self, spacecraft: &SpacecraftId) -> Result<Vec<TelemetrySnapshot>> {
        let (snapshots, _) =
            read_page_off_thread(spacecraft, self.text, PageTimes::Beside(self.times)).await?;
        Ok(snapshots)
    }
}

impl PostgresStore {
    /// The rows of `spacecraft` after the row (time, arrival) `after` up to the row `up_to`
    /// (inclusive), at most `limit` of them (all with `None`), in (time, arrival) order, as
    /// one text; `None` when there are none.
    async fn fetch_text_page(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        (after_ts, after_arrival): (Timestamp, i64),
        (up_to_ts, up_to_arrival): (Timestamp, i64),
        limit: Option<usize>,
    ) -> Result<Option<TextPage>> {
        let mut tx = self.begin_for(tenant).await?;
        // Copied out in PostgreSQL's binary format, read here into one text and the rows'
        // times: PostgreSQL spends about half what joining the rows into one text in SQL
        // (`string_agg`, and arrays of the times) cost it (1.6 against 3.3 ms of a 4,096-row
        // page), and this process reads the rows without a message or a decode call each.
        // `COPY` takes no parameters: the spacecraft goes in as a literal when it is plain (see
        // `is_plain`), through a setting of the transaction otherwise (see `copy_rows`).
        let spacecraft_sql = if is_plain(spacecraft.as_str()) {
            format!("'{spacecraft}'")
        } else {
            sqlx::query("SELECT set_config('missionops.page_spacecraft', $1, true)")
                .bind(spacecraft.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            "current_setting('missionops.page_spacecraft')".to_owned()
        };
        let limit = limit.map_or_else(|| "ALL".to_owned(), |l| to_i64(l).to_string());
        let copy = copy_rows(
            &spacecraft_sql,
            (after_ts.as_millis(), after_arrival),
            (up_to_ts.as_millis(), up_to_arrival),
            &limit,
        );
        let mut bytes = Vec::new();
        {
            let mut copied = tx.copy_out_raw(&copy).await.map_err(db)?;
            while let Some(chunk) = copied.next().await {
                bytes.extend_from_slice(&chunk.map_err(db)?);
            }
        }
        drop(tx);
        let page = copied_page(&bytes).map_err(|e| {
            Error::backend(format!(
                "a page of spacecraft '{spacecraft}' came back damaged: {e}"
            ))
        })?;
        Ok(page.map(|CopiedPage { text, times }| TextPage { text, times }))
    }
}

#[async_trait]
impl TelemetryRepository for PostgresStore {
    /// One `COPY` stream cut into pages (see the `window` module).
    fn telemetry_range_pages(
        self: Arc<Self>,
        tenant: TenantId,
        spacecraft: SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        page: usize,
        cap: usize,
    ) -> RangePages {
        window_pages(self, tenant, spacecraft, (from, to), page, cap)
    }

    async fn insert_telemetry(&self, write: TelemetryWrite) -> Result<IngestOutcome> {
        if write.snapshots.is_empty() {
            if write.is_empty() {
                return Ok(IngestOutcome::default());
            }
            return self.ingest_carefully(&write).await;
        }
        if has_repeated_ids(&write.snapshots) {
            let mut tx = self.begin_for(&write.tenant).await?;
            let mut unknown =
                unknown_spacecraft(&mut tx, &write.tenant, spacecraft_of(&write.snapshots)).await?;
            // A spacecraft the write registers would exist by the time its snapshots go in.
            unknown.retain(|id| !write.registrations.iter().any(|r| r.spacecraft.id == **id));
            return Err(rejection(&mut tx, &write.tenant, &write.snapshots, &unknown).await?);
        }
        match self.ingest_as_new(&write).await? {
            Some(outcome) => Ok(outcome),
            None => self.ingest_carefully(&write).await,
        }
    }

    /// Group commit: the writes go in as one merged write, in one transaction of a few
    /// statements (each carrying the whole group as arrays), when every snapshot of them is
    /// new and nothing fails: then each write's outcome is that all its snapshots were
    /// inserted, as storing them one by one would have found, and the group costs one commit
    /// instead of one per write. Otherwise (a retried snapshot, a conflict, any failure) the
    /// merged transaction is rolled back and the writes are stored one transaction each, so
    /// that a write that fails fails alone, with the error it would have had alone.
    async fn insert_telemetry_group(&self, writes: Vec<TelemetryWrite>) -> GroupOutcome {
        // One merged write is one tenant's transaction: a group of several tenants goes one by one.
        if writes.len() < 2 || writes.iter().any(|w| w.tenant != writes[0].tenant) {
            return insert_one_by_one(self, writes).await;
        }
        let counts: Vec<usize> = writes.iter().map(|w| w.snapshots.len()).collect();
        let merged = merge(&writes);
        // Writes with no snapshots (what a clock tick decides for a group of monitors) go in
        // one transaction too; a failure rolls it back and they go one by one.
        let stored = if merged.snapshots.is_empty() {
            self.ingest_carefully(&merged).await.is_ok()
        } else {
            !has_repeated_ids(&merged.snapshots)
                && matches!(self.ingest_as_new(&merged).await, Ok(Some(_)))
        };
        if stored {
            return GroupOutcome {
                stored: counts
                    .into_iter()
                    .map(|inserted| IngestOutcome {
                        inserted,
                        duplicates: 0,
                    })
                    .collect(),
                failure: None,
            };
        }
        insert_one_by_one(self, writes).await
    }

    /// One. Two paid while a group took several round trips (`BEGIN`, statements, `COMMIT`):
    /// the next group's ran while the one before waited. Now that a group of snapshots, or of
    /// snapshots and the spacecraft they register, is one statement in its own transaction,
    /// a second group in flight only makes both smaller: on a two-core machine where the
    /// database shares the cores, one measured 7–17 % more new spacecraft a second than two
    /// (with 20 % less database CPU a request), 3–8 % more batches of 10, and within the noise
    /// on one spacecraft and a fleet; three and four measured worse still (BENCHMARKS.md,
    /// "Session 14").
    fn group_commits_at_once(&self) -> usize {
        1
    }

    async fn recent_telemetry(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<TelemetrySnapshot>> {
        let mut reader = self.read_for(tenant).await?;
        let rows = sqlx::query(concat!(
            snapshot_columns!(),
            "WHERE tenant = $3 AND spacecraft_id = $1 ORDER BY ts DESC, arrival DESC LIMIT $2"
        ))
        .bind(spacecraft.as_str())
        .bind(to_i64(limit.get()))
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        snapshots_from_rows(spacecraft, &rows)
    }

    /// One query for the list: each spacecraft's newest rows through the time index (a
    /// lateral `LIMIT` per spacecraft), where one by one took a transaction each.
    async fn recent_telemetry_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
        limit: Limit,
    ) -> Result<Vec<Vec<TelemetrySnapshot>>> {
        if spacecraft.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = spacecraft.iter().map(SpacecraftId::as_str).collect();
        let mut reader = self.read_for(tenant).await?;
        // The columns of `snapshot_columns!` first, then the place of the spacecraft in the
        // list: each spacecraft's rows come together, newest first.
        let rows = sqlx::query(
            "SELECT t.id, t.ts, t.parameters::text AS parameters, w.k
             FROM unnest($1::text[]) WITH ORDINALITY AS w(id, k)
             CROSS JOIN LATERAL (SELECT id, ts, arrival, parameters FROM telemetry
                                 WHERE tenant = $3 AND spacecraft_id = w.id
                                 ORDER BY ts DESC, arrival DESC LIMIT $2) AS t
             ORDER BY w.k, t.ts DESC, t.arrival DESC",
        )
        .bind(&ids)
        .bind(to_i64(limit.get()))
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        let mut recent = Vec::with_capacity(spacecraft.len());
        let mut rest = rows.as_slice();
        for (place, id) in (1_i64..).zip(spacecraft) {
            let mut count = 0;
            for row in rest {
                let of: i64 = row.try_get(3).map_err(db)?;
                if of != place {
                    break;
                }
                count += 1;
            }
            let (own, after) = rest.split_at(count);
            recent.push(snapshots_from_rows(id, own)?);
            rest = after;
        }
        Ok(recent)
    }

    async fn telemetry_range(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        max: usize,
    ) -> Result<Vec<TelemetrySnapshot>> {
        if from > to || max == 0 {
            return Ok(Vec::new());
        }
        let mut reader = self.read_for(tenant).await?;
        let rows = sqlx::query(concat!(
            snapshot_columns!(),
            "WHERE tenant = $5 AND spacecraft_id = $1 AND ts BETWEEN $2 AND $3
             ORDER BY ts, arrival LIMIT $4"
        ))
        .bind(spacecraft.as_str())
        .bind(PgTime(from))
        .bind(PgTime(to))
        .bind(to_i64(max))
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        snapshots_from_rows(spacecraft, &rows)
    }

    async fn last_telemetry_timestamp(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<Timestamp>> {
        let mut reader = self.read_for(tenant).await?;
        let last: Option<PgTime> = sqlx::query_scalar(
            "SELECT max(ts) FROM telemetry WHERE tenant = $2 AND spacecraft_id = $1",
        )
        .bind(spacecraft.as_str())
        .bind(tenant.as_str())
        .fetch_one(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        Ok(last.map(|t| t.0))
    }

    async fn last_telemetry_timestamps_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<Timestamp>>> {
        // One newest-sample lookup per spacecraft over (tenant, spacecraft, ts).
        self.times_of(
            tenant,
            spacecraft,
            "SELECT (SELECT max(t.ts) FROM telemetry AS t \
                     WHERE t.tenant = $2 AND t.spacecraft_id = asked.id) \
             FROM unnest($1::text[]) WITH ORDINALITY AS asked(id, n) ORDER BY asked.n",
        )
        .await
    }

    async fn latest_values(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<LatestValue>> {
        // What this store holds back is read first: a value merged after the table was read
        // would be missed, one written out meanwhile is in the table too.
        let mut held = match &self.behind {
            Some(behind) => behind.held(tenant, spacecraft),
            None => HashMap::new(),
        };
        let mut reader = self.read_for(tenant).await?;
        let rows = sqlx::query(
            "SELECT p.key AS parameter, p.value->>0 AS value, (p.value->>1)::int8 AS millis,
                    (p.value->>2)::int8 AS arrival
             FROM latest_values l CROSS JOIN LATERAL jsonb_each(l.by_parameter) AS p
             WHERE l.tenant = $2 AND l.spacecraft_id = $1",
        )
        .bind(spacecraft.as_str())
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        let mut values = rows
            .iter()
            .map(|row| {
                let parameter = stored(
                    "parameter name",
                    ParameterName::parse(get::<String>(row, "parameter")?),
                )?;
                let timestamp = stored(
                    "latest value time",
                    Timestamp::from_millis(get(row, "millis")?),
                )?;
                let arrival: i64 = get(row, "arrival")?;
                let value = match held.remove(&parameter) {
                    Some(h) if (h.timestamp, h.arrival) > (timestamp, arrival) => {
                        return latest_value(parameter, &h);
                    }
                    _ => get::<String>(row, "value")?,
                };
                Ok(LatestValue {
                    parameter,
                    value: parse_value("latest value", &value)?,
                    timestamp,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for (parameter, h) in held {
            values.push(latest_value(parameter, &h)?);
        }
        values.sort_by(|a, b| a.parameter.cmp(&b.parameter));
        Ok(values)
    }

    async fn telemetry_series(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        parameter: &ParameterName,
        from: Timestamp,
        to: Timestamp,
        bucket: BucketWidth,
    ) -> Result<Vec<SeriesBucket>> {
        if from > to {
            return Ok(Vec::new());
        }
        let mut reader = self.read_for(tenant).await?;
        // The primary key's range scan reads the window; the parameter is taken out of each
        // row's JSON once (`samples` is materialized so that it is not looked up twice) and
        // non-numbers are dropped. Buckets start at multiples of the width since the epoch
        // (floored, also before 1970). `last`, the value of the bucket's newest sample (ties:
        // last stored), comes from a window over the one sort the grouping needs anyway: no
        // join and no per-bucket sort, whatever plan the parameters get. The sort is in time
        // order, so `avg` sums in time order, as the other backends do.
        let rows = sqlx::query(
            "WITH samples AS MATERIALIZED (
                 SELECT floor(extract(epoch FROM ts) * 1000)::int8 AS ms, arrival,
                        parameters -> $2 AS x
                 FROM telemetry
                 WHERE tenant = $6 AND spacecraft_id = $1 AND ts BETWEEN $3 AND $4),
             numbers AS (
                 SELECT ms - (((ms % $5) + $5) % $5) AS start, ms, arrival,
                        (x::text)::float8 AS v
                 FROM samples WHERE json_typeof(x) = 'number'),
             ranked AS (
                 SELECT start, v,
                        last_value(v) OVER (
                            PARTITION BY start ORDER BY ms, arrival
                            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last
                 FROM numbers)
             SELECT start, min(v) AS min, max(v) AS max, avg(v) AS avg, count(*) AS count,
                    max(last) AS last
             FROM ranked GROUP BY start ORDER BY start",
        )
        .bind(spacecraft.as_str())
        .bind(parameter.as_str())
        .bind(PgTime(from))
        .bind(PgTime(to))
        .bind(bucket.as_millis())
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        rows.iter()
            .map(|row| {
                let start: i64 = get(row, "start")?;
                let count: i64 = get(row, "count")?;
                Ok(SeriesBucket {
                    start: stored("bucket start", Timestamp::from_millis(start))?,
                    min: get(row, "min")?,
                    max: get(row, "max")?,
                    avg: get(row, "avg")?,
                    count: u64::try_from(count).unwrap_or(0),
                    last: get(row, "last")?,
                })
            })
            .collect()
    }

    async fn telemetry_range_page(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        after: Option<RangeCursor>,
        limit: usize,
    ) -> Result<TelemetryPage> {
        if from > to || limit == 0 {
            return Ok(TelemetryPage::default());
        }
        // Arrival numbers are positive, so (from, 0) is just before the first row at `from`.
        let after = match after {
            Some(c) if c.timestamp >= from => (c.timestamp, c.arrival),
            _ => (from, 0),
        };
        let Some(page) = self
            .fetch_text_page(tenant, spacecraft, after, (to, i64::MAX), Some(limit))
            .await?
        else {
            return Ok(TelemetryPage::default());
        };
        let next = page.cursor_after(spacecraft, limit)?;
        Ok(TelemetryPage {
            snapshots: page.read(spacecraft).await?,
            next,
        })
    }

    async fn count_telemetry_range(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        at_most: usize,
    ) -> Result<usize> {
        if from > to || at_most == 0 {
            return Ok(0);
        }
        let mut reader = self.read_for(tenant).await?;
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT 1 FROM telemetry \
             WHERE tenant = $5 AND spacecraft_id = $1 AND ts BETWEEN $2 AND $3 LIMIT $4) AS w",
        )
        .bind(spacecraft.as_str())
        .bind(PgTime(from))
        .bind(PgTime(to))
        .bind(to_i64(at_most))
        .bind(tenant.as_str())
        .fetch_one(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        Ok(usize::try_from(count).unwrap_or(0))
    }
}
