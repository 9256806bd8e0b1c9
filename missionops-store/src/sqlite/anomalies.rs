//! Anomalies (unique on spacecraft, parameter, sample time and kind) and alarms.

use missionops_core::TenantId;
use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use missionops_core::{
    Alarm, AlarmCursor, AlarmFilter, AlarmId, AlarmPage, AlarmRepository, AlarmState, AlarmStates,
    Anomaly, AnomalyCount, AnomalyId, AnomalyKind, AnomalyPage, AnomalyRepository, Error, Limit,
    NewEvent, OpenAlarmSummary, Operator, ParameterName, RangeCursor, Result, Severity,
    SpacecraftId, Timestamp,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::spacecraft::{LOOKUPS_PER_QUERY, push_tenant_and_ids};
use super::{
    DbResult, SqliteStore, begin_write, corrupt, events, require_spacecraft, rows_per_statement,
    sql_count, stored, stored_opt_time, stored_time,
};
use crate::json_text::{read_parameter_value, to_json};

/// The head of an anomaly `INSERT`, before its values (13 a row).
macro_rules! insert_anomaly {
    () => {
        "INSERT INTO anomalies \
         (tenant, id, spacecraft_id, ts, parameter, kind, value, severity, limit_value, \
          description, detected_at, window_start, window_end) "
    };
}

/// What is left out of an anomaly `INSERT` when the anomaly is already stored.
macro_rules! skip_duplicate_anomaly {
    () => {
        " ON CONFLICT (tenant, spacecraft_id, parameter, ts, kind) DO NOTHING"
    };
}

const ANOMALY_INSERT: &str = insert_anomaly!();
const ANOMALY_SKIP_DUPLICATE: &str = skip_duplicate_anomaly!();

const ANOMALY_COLUMNS: &str = "id, spacecraft_id, ts, parameter, kind, value, severity, \
     limit_value, description, detected_at, window_start, window_end";

/// Each anomaly's value as JSON text, as it is stored.
pub(super) fn anomaly_values(anomalies: &[Anomaly]) -> Result<Vec<String>> {
    anomalies.iter().map(|a| to_json(&a.value)).collect()
}

/// Stores the anomalies that are not stored yet, with their `values` (see [`anomaly_values`]),
/// in the open transaction on the writer's direct connection: one cached statement a row.
pub(super) fn insert_directly(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    anomalies: &[Anomaly],
    values: &[String],
) -> rusqlite::Result<()> {
    if anomalies.is_empty() {
        return Ok(());
    }
    let mut insert = conn.prepare_cached(concat!(
        insert_anomaly!(),
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        skip_duplicate_anomaly!()
    ))?;
    for (anomaly, value) in anomalies.iter().zip(values) {
        insert.execute(rusqlite::params![
            tenant.as_str(),
            anomaly.id.as_str(),
            anomaly.spacecraft_id.as_str(),
            anomaly.timestamp.as_millis(),
            anomaly.parameter.as_str(),
            anomaly.kind.as_str(),
            value,
            anomaly.severity.as_str(),
            anomaly.limit,
            anomaly.description,
            anomaly.detected_at.as_millis(),
            anomaly.window_start.map(Timestamp::as_millis),
            anomaly.window_end.map(Timestamp::as_millis),
        ])?;
    }
    Ok(())
}

/// Stores the anomalies that are not stored yet (by spacecraft, parameter, sample time and
/// kind), in the open transaction on `conn`. Returns, for each anomaly, whether it was new.
pub(super) async fn insert_new(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    anomalies: &[Anomaly],
) -> Result<Vec<bool>> {
    let values = anomaly_values(anomalies)?;
    let mut fresh = Vec::with_capacity(anomalies.len());
    if anomalies.len() <= 1 {
        // The usual case, and the only way to learn per row whether it was new.
        for (anomaly, value) in anomalies.iter().zip(&values) {
            let mut query = QueryBuilder::<Sqlite>::new(ANOMALY_INSERT);
            query.push_values([(tenant, anomaly, value)], push_anomaly);
            query.push(ANOMALY_SKIP_DUPLICATE);
            let done = query.build().execute(&mut *conn).await.db()?;
            fresh.push(done.rows_affected() == 1);
        }
        return Ok(fresh);
    }
    // Several: one statement per chunk, learning which rows were new from RETURNING. Rows
    // repeated inside the batch are new only the first time.
    let per = rows_per_statement(13);
    for (chunk, values) in anomalies.chunks(per).zip(values.chunks(per)) {
        let mut query = QueryBuilder::<Sqlite>::new(ANOMALY_INSERT);
        query.push_values(
            chunk.iter().zip(values).map(|(a, v)| (tenant, a, v)),
            push_anomaly,
        );
        query.push(ANOMALY_SKIP_DUPLICATE);
        query.push(" RETURNING spacecraft_id, parameter, ts, kind");
        let inserted: Vec<(String, String, i64, String)> =
            query.build_query_as().fetch_all(&mut *conn).await.db()?;
        let inserted: HashSet<(String, String, i64, String)> = inserted.into_iter().collect();
        let mut taken = HashSet::new();
        for anomaly in chunk {
            let key = (
                anomaly.spacecraft_id.as_str().to_owned(),
                anomaly.parameter.as_str().to_owned(),
                anomaly.timestamp.as_millis(),
                anomaly.kind.as_str().to_owned(),
            );
            let new = inserted.contains(&key) && taken.insert(key);
            fresh.push(new);
        }
    }
    Ok(fresh)
}

fn push_anomaly(
    mut row: sqlx::query_builder::Separated<'_, '_, Sqlite, &'static str>,
    (tenant, anomaly, value): (&TenantId, &Anomaly, &String),
) {
    row.push_bind(tenant.as_str().to_owned())
        .push_bind(anomaly.id.as_str().to_owned())
        .push_bind(anomaly.spacecraft_id.as_str().to_owned())
        .push_bind(anomaly.timestamp.as_millis())
        .push_bind(anomaly.parameter.as_str().to_owned())
        .push_bind(anomaly.kind.as_str())
        .push_bind(value.clone())
        .push_bind(anomaly.severity.as_str())
        .push_bind(anomaly.limit)
        .push_bind(anomaly.description.clone())
        .push_bind(anomaly.detected_at.as_millis())
        .push_bind(anomaly.window_start.map(Timestamp::as_millis))
        .push_bind(anomaly.window_end.map(Timestamp::as_millis));
}

type AnomalyRow = (
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    Option<f64>,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

fn anomaly_from_row(row: AnomalyRow) -> Result<Anomaly> {
    let (
        id,
        spacecraft_id,
        ts,
        parameter,
        kind,
        value,
        severity,
        limit,
        description,
        detected_at,
        window_start,
        window_end,
    ) = row;
    let what = "anomaly";
    Ok(Anomaly {
        spacecraft_id: stored(SpacecraftId::parse(spacecraft_id), what, &id)?,
        timestamp: stored_time(ts, what, &id)?,
        parameter: stored(ParameterName::parse(parameter), what, &id)?,
        value: read_parameter_value(&value).map_err(|e| corrupt(what, &id, e))?,
        severity: stored(Severity::parse(&severity), what, &id)?,
        kind: stored(AnomalyKind::parse(&kind), what, &id)?,
        limit,
        description,
        detected_at: stored_time(detected_at, what, &id)?,
        window_start: stored_opt_time(window_start, what, &id)?,
        window_end: stored_opt_time(window_end, what, &id)?,
        id: stored(AnomalyId::parse(id.clone()), what, &id)?,
    })
}

/// An anomaly's severity as a rank, 0 (`LOW`) to 3 (`CRITICAL`).
macro_rules! severity_rank_of {
    () => {
        "(CASE severity WHEN 'LOW' THEN 0 WHEN 'MEDIUM' THEN 1 WHEN 'HIGH' THEN 2 \
         WHEN 'CRITICAL' THEN 3 END)"
    };
}

/// The worst severity of the anomalies counted, as a rank ([`anomaly_count`] reads it back).
macro_rules! severity_rank {
    () => {
        concat!("MAX", severity_rank_of!())
    };
}

/// The count of `spacecraft`'s anomalies and the worst one's rank ([`severity_rank!`]).
fn anomaly_count(count: i64, worst: Option<i64>, spacecraft: &str) -> Result<AnomalyCount> {
    let highest = match worst {
        None => None,
        Some(0) => Some(Severity::Low),
        Some(1) => Some(Severity::Medium),
        Some(2) => Some(Severity::High),
        Some(3) => Some(Severity::Critical),
        Some(other) => {
            return Err(corrupt(
                "anomalies of spacecraft",
                spacecraft,
                format!("unknown severity rank {other}"),
            ));
        }
    };
    Ok(AnomalyCount {
        count: u64::try_from(count).unwrap_or(0),
        highest,
    })
}

impl SqliteStore {
    async fn fetch_anomalies(&self, sql: &str, binds: AnomalyQuery<'_>) -> Result<Vec<Anomaly>> {
        let mut query = sqlx::query_as::<_, AnomalyRow>(sql)
            .bind(binds.tenant.as_str())
            .bind(binds.spacecraft.as_str());
        for bound in binds.integers {
            query = query.bind(bound);
        }
        let rows = query.fetch_all(&self.reader).await.db()?;
        rows.into_iter().map(anomaly_from_row).collect()
    }
}

/// The values bound to an anomaly query: the tenant, the spacecraft, then integers in order.
struct AnomalyQuery<'a> {
    tenant: &'a TenantId,
    spacecraft: &'a SpacecraftId,
    integers: Vec<i64>,
}

#[async_trait]
impl AnomalyRepository for SqliteStore {
    async fn persist_anomalies(
        &self,
        tenant: &TenantId,
        anomalies: Vec<(Anomaly, NewEvent)>,
    ) -> Result<usize> {
        events::check_distinct(anomalies.iter().map(|(_, e)| e))?;
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        let mut checked = HashSet::new();
        for (anomaly, _) in &anomalies {
            if checked.insert(&anomaly.spacecraft_id) {
                require_spacecraft(&mut tx, tenant, &anomaly.spacecraft_id).await?;
            }
        }
        // Every event id must be free, even those of anomalies that turn out to be stored
        // already, so that the call fails or succeeds whole as the other backends do.
        events::check_unrecorded(&mut tx, anomalies.iter().map(|(_, e)| e)).await?;
        let (anomalies, announcements): (Vec<Anomaly>, Vec<NewEvent>) =
            anomalies.into_iter().unzip();
        let fresh = insert_new(&mut tx, tenant, &anomalies).await?;
        let to_record: Vec<NewEvent> = announcements
            .into_iter()
            .zip(&fresh)
            .filter_map(|(event, new)| new.then_some(event))
            .collect();
        events::record(&mut tx, tenant, &to_record).await?;
        tx.commit().await.db()?;
        Ok(to_record.len())
    }

    async fn get_anomaly(&self, tenant: &TenantId, id: &AnomalyId) -> Result<Option<Anomaly>> {
        let row: Option<AnomalyRow> = sqlx::query_as(&format!(
            "SELECT {ANOMALY_COLUMNS} FROM anomalies WHERE tenant = ? AND id = ? ORDER BY seq DESC LIMIT 1"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.reader)
        .await
        .db()?;
        row.map(anomaly_from_row).transpose()
    }

    async fn recent_anomalies(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<Anomaly>> {
        self.fetch_anomalies(
            &format!(
                "SELECT {ANOMALY_COLUMNS} FROM anomalies WHERE tenant = ? AND spacecraft_id = ? \
                 ORDER BY ts DESC, seq DESC LIMIT ?"
            ),
            AnomalyQuery {
                tenant,
                spacecraft,
                integers: vec![sql_count(limit.get())],
            },
        )
        .await
    }

    async fn anomaly_timeline(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Anomaly>> {
        self.fetch_anomalies(
            &format!(
                "SELECT {ANOMALY_COLUMNS} FROM anomalies \
                 WHERE tenant = ? AND spacecraft_id = ? AND ts >= ? AND ts <= ? ORDER BY ts, seq"
            ),
            AnomalyQuery {
                tenant,
                spacecraft,
                integers: vec![from.as_millis(), to.as_millis()],
            },
        )
        .await
    }

    async fn count_anomalies_since(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        since: Timestamp,
    ) -> Result<AnomalyCount> {
        let (count, worst): (i64, Option<i64>) = sqlx::query_as(concat!(
            "SELECT COUNT(*), ",
            severity_rank!(),
            " FROM anomalies WHERE tenant = ? AND spacecraft_id = ? AND ts >= ?"
        ))
        .bind(tenant.as_str())
        .bind(spacecraft.as_str())
        .bind(since.as_millis())
        .fetch_one(&self.reader)
        .await
        .db()?;
        anomaly_count(count, worst, spacecraft.as_str())
    }

    async fn count_anomalies_since_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
        since: &[Timestamp],
    ) -> Result<Vec<Vec<AnomalyCount>>> {
        let Some(earliest) = since.iter().min() else {
            return Ok(vec![Vec::new(); spacecraft.len()]);
        };
        let mut counts: HashMap<String, Vec<AnomalyCount>> =
            HashMap::with_capacity(spacecraft.len());
        for chunk in spacecraft.chunks(LOOKUPS_PER_QUERY) {
            // Each spacecraft's anomalies since the earliest window over the (tenant,
            // spacecraft, time) index, every window counted on the way, on a reader's thread:
            // a day of a noisy fleet's anomalies is no short read.
            let mut query = QueryBuilder::<Sqlite>::new("SELECT spacecraft_id");
            for &window in since {
                query
                    .push(", SUM(ts >= ")
                    .push_bind(window.as_millis())
                    .push("), MAX(CASE WHEN ts >= ")
                    .push_bind(window.as_millis())
                    .push(concat!(" THEN ", severity_rank_of!(), " END)"));
            }
            query
                .push(" FROM anomalies WHERE ts >= ")
                .push_bind(earliest.as_millis())
                .push(" AND tenant = ");
            push_tenant_and_ids(&mut query, tenant, chunk);
            query.push(" GROUP BY spacecraft_id");
            let rows = query.build().fetch_all(&self.reader).await.db()?;
            for row in rows {
                let id: String = row.try_get(0).db()?;
                let mut windows = Vec::with_capacity(since.len());
                for column in (1..=2 * since.len()).step_by(2) {
                    let count: i64 = row.try_get(column).db()?;
                    let worst: Option<i64> = row.try_get(column + 1).db()?;
                    windows.push(anomaly_count(count, worst, &id)?);
                }
                counts.insert(id, windows);
            }
        }
        let none = vec![AnomalyCount::default(); since.len()];
        Ok(spacecraft
            .iter()
            .map(|id| counts.remove(id.as_str()).unwrap_or_else(|| none.clone()))
            .collect())
    }

    async fn anomaly_timeline_page(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        after: Option<RangeCursor>,
        limit: usize,
    ) -> Result<AnomalyPage> {
        if from > to || limit == 0 {
            return Ok(AnomalyPage::default());
        }
        // Row ids start at 1, so (from, 0) is just before the first anomaly at `from`.
        let (after_ts, after_seq) = match after {
            Some(c) if c.timestamp >= from => (c.timestamp.as_millis(), c.arrival),
            _ => (from.as_millis(), 0),
        };
        // The anomaly's columns, then its seq for the cursor.
        let rows: Vec<(AnomalyRow, (i64, i64))> = sqlx::query(&format!(
            "SELECT {ANOMALY_COLUMNS}, seq FROM anomalies \
             WHERE spacecraft_id = ?1 AND ts >= ?2 AND ts <= ?3 AND (ts > ?2 OR seq > ?4) \
             AND tenant = ?6 ORDER BY ts, seq LIMIT ?5"
        ))
        .bind(spacecraft.as_str())
        .bind(after_ts)
        .bind(to.as_millis())
        .bind(after_seq)
        .bind(sql_count(limit))
        .bind(tenant.as_str())
        .fetch_all(&self.reader)
        .await
        .db()?
        .iter()
        .map(|row| {
            use sqlx::{FromRow, Row};
            let anomaly = AnomalyRow::from_row(row)?;
            let key = (row.try_get::<i64, _>(2)?, row.try_get::<i64, _>(12)?);
            Ok((anomaly, key))
        })
        .collect::<std::result::Result<_, sqlx::Error>>()
        .db()?;
        let next = match rows.last() {
            Some((_, (ts, seq))) if rows.len() == limit => Some(RangeCursor {
                timestamp: stored_time(*ts, "anomaly of spacecraft", spacecraft.as_str())?,
                arrival: *seq,
            }),
            _ => None,
        };
        Ok(AnomalyPage {
            anomalies: rows
                .into_iter()
                .map(|(row, _)| anomaly_from_row(row))
                .collect::<Result<_>>()?,
            next,
        })
    }
}

/// The columns of an alarm, as read and written (the tenant apart).
macro_rules! alarm_columns {
    () => {
        "id, spacecraft_id, parameter, kind, state, severity, violation_count, opened_at, \
         last_value, cleared_at, acknowledged_by, acknowledged_at, comment, shelved_until"
    };
}

const ALARM_COLUMNS: &str = alarm_columns!();

/// The tail of an alarm upsert: a stored alarm takes every column of the new row.
macro_rules! update_alarm {
    () => {
        " ON CONFLICT (tenant, id) DO UPDATE SET spacecraft_id = excluded.spacecraft_id, \
         parameter = excluded.parameter, kind = excluded.kind, state = excluded.state, \
         severity = excluded.severity, violation_count = excluded.violation_count, \
         opened_at = excluded.opened_at, last_value = excluded.last_value, \
         cleared_at = excluded.cleared_at, acknowledged_by = excluded.acknowledged_by, \
         acknowledged_at = excluded.acknowledged_at, comment = excluded.comment, \
         shelved_until = excluded.shelved_until"
    };
}

/// An alarm ready to store: its violation count as a column value and its last value as JSON
/// text.
pub(super) type AlarmRowToStore<'a> = (&'a Alarm, i64, String);

/// `alarms` ready to store, or the error naming what does not fit.
pub(super) fn alarm_rows(alarms: &[Alarm]) -> Result<Vec<AlarmRowToStore<'_>>> {
    alarms
        .iter()
        .map(|alarm| {
            let violation_count = i64::try_from(alarm.violation_count)
                .map_err(|_| Error::invalid("violationCount", "is too large to store"))?;
            Ok((alarm, violation_count, to_json(&alarm.last_value)?))
        })
        .collect()
}

/// Inserts or replaces `rows` (see [`alarm_rows`]) in the open transaction on the writer's
/// direct connection: one cached statement a row.
pub(super) fn upsert_alarms_directly(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    rows: &[AlarmRowToStore<'_>],
) -> rusqlite::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut upsert = conn.prepare_cached(concat!(
        "INSERT INTO alarms (tenant, ",
        alarm_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        update_alarm!()
    ))?;
    for (alarm, violation_count, last_value) in rows {
        upsert.execute(rusqlite::params![
            tenant.as_str(),
            alarm.id.as_str(),
            alarm.spacecraft_id.as_str(),
            alarm.parameter.as_str(),
            alarm.kind.as_str(),
            alarm.state.as_str(),
            alarm.severity.as_str(),
            violation_count,
            alarm.opened_at.as_millis(),
            last_value,
            alarm.cleared_at.map(Timestamp::as_millis),
            alarm.acknowledged_by.as_ref().map(Operator::as_str),
            alarm.acknowledged_at.map(Timestamp::as_millis),
            alarm.comment.as_deref(),
            alarm.shelved_until.map(Timestamp::as_millis),
        ])?;
    }
    Ok(())
}

type AlarmRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

fn alarm_from_row(row: AlarmRow) -> Result<Alarm> {
    let (
        id,
        spacecraft_id,
        parameter,
        kind,
        state,
        severity,
        violation_count,
        opened_at,
        last_value,
        cleared_at,
        acknowledged_by,
        acknowledged_at,
        comment,
        shelved_until,
    ) = row;
    let what = "alarm";
    Ok(Alarm {
        spacecraft_id: stored(SpacecraftId::parse(spacecraft_id), what, &id)?,
        parameter: stored(ParameterName::parse(parameter), what, &id)?,
        kind: stored(AnomalyKind::parse(&kind), what, &id)?,
        state: stored(AlarmState::parse(&state), what, &id)?,
        severity: stored(Severity::parse(&severity), what, &id)?,
        violation_count: u64::try_from(violation_count).map_err(|e| corrupt(what, &id, e))?,
        opened_at: stored_time(opened_at, what, &id)?,
        last_value: read_parameter_value(&last_value).map_err(|e| corrupt(what, &id, e))?,
        cleared_at: stored_opt_time(cleared_at, what, &id)?,
        acknowledged_by: acknowledged_by
            .map(|by| stored(Operator::parse(by), what, &id))
            .transpose()?,
        acknowledged_at: stored_opt_time(acknowledged_at, what, &id)?,
        comment,
        shelved_until: stored_opt_time(shelved_until, what, &id)?,
        id: stored(AlarmId::parse(id.clone()), what, &id)?,
    })
}

/// Creates or replaces each of `alarms` by id, in order, in the open transaction on `conn`:
/// one multi-row upsert per few hundred alarms (SQLite applies the rows of one statement one
/// after another, so an alarm named twice ends as its last row says, as one by one would).
/// A clock tick after a fleet-wide outage opens a hundred thousand alarms at once.
pub(super) async fn upsert_alarms(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    alarms: &[Alarm],
) -> Result<()> {
    let rows = alarm_rows(alarms)?;
    for chunk in rows.chunks(rows_per_statement(15)) {
        let mut query = QueryBuilder::<Sqlite>::new(concat!(
            "INSERT INTO alarms (tenant, ",
            alarm_columns!(),
            ") "
        ));
        query.push_values(chunk, |mut row, (alarm, violation_count, last_value)| {
            row.push_bind(tenant.as_str())
                .push_bind(alarm.id.as_str())
                .push_bind(alarm.spacecraft_id.as_str())
                .push_bind(alarm.parameter.as_str())
                .push_bind(alarm.kind.as_str())
                .push_bind(alarm.state.as_str())
                .push_bind(alarm.severity.as_str())
                .push_bind(*violation_count)
                .push_bind(alarm.opened_at.as_millis())
                .push_bind(last_value.as_str())
                .push_bind(alarm.cleared_at.map(Timestamp::as_millis))
                .push_bind(alarm.acknowledged_by.as_ref().map(Operator::as_str))
                .push_bind(alarm.acknowledged_at.map(Timestamp::as_millis))
                .push_bind(alarm.comment.as_deref())
                .push_bind(alarm.shelved_until.map(Timestamp::as_millis));
        });
        query.push(update_alarm!());
        query.build().execute(&mut *conn).await.db()?;
    }
    Ok(())
}

/// `{select} FROM alarms WHERE` the alarm is `tenant`'s and passes `filter`; the caller adds
/// its own conditions, order and limit. Open alarms are the three open states, so that the
/// (tenant, state, opened_at) index finds them among a long history of cleared ones.
fn alarms_query<'q>(
    select: &str,
    tenant: &'q TenantId,
    filter: &'q AlarmFilter,
) -> QueryBuilder<'q, Sqlite> {
    let mut query = QueryBuilder::<Sqlite>::new(format!("{select} FROM alarms WHERE tenant = "));
    query.push_bind(tenant.as_str());
    if let Some(id) = &filter.spacecraft_id {
        query.push(" AND spacecraft_id = ").push_bind(id.as_str());
    }
    match filter.states {
        AlarmStates::Open => {
            query.push(" AND state IN (");
            let mut states = query.separated(", ");
            for state in AlarmState::OPEN {
                states.push_bind(state.as_str());
            }
            query.push(")");
        }
        AlarmStates::Only(state) => {
            query.push(" AND state = ").push_bind(state.as_str());
        }
        AlarmStates::All => {}
    }
    query
}

#[async_trait]
impl AlarmRepository for SqliteStore {
    async fn save_alarm(
        &self,
        tenant: &TenantId,
        alarm: Alarm,
        events: Vec<NewEvent>,
    ) -> Result<()> {
        events::check_distinct(&events)?;
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        require_spacecraft(&mut tx, tenant, &alarm.spacecraft_id).await?;
        upsert_alarms(&mut tx, tenant, std::slice::from_ref(&alarm)).await?;
        events::record(&mut tx, tenant, &events).await?;
        tx.commit().await.db()
    }

    async fn get_alarm(&self, tenant: &TenantId, id: &AlarmId) -> Result<Option<Alarm>> {
        let row: Option<AlarmRow> = sqlx::query_as(&format!(
            "SELECT {ALARM_COLUMNS} FROM alarms WHERE tenant = ? AND id = ?"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.reader)
        .await
        .db()?;
        row.map(alarm_from_row).transpose()
    }

    async fn list_alarms(&self, tenant: &TenantId, filter: &AlarmFilter) -> Result<Vec<Alarm>> {
        let mut query = alarms_query(&format!("SELECT {ALARM_COLUMNS}"), tenant, filter);
        query.push(" ORDER BY opened_at DESC, id DESC");
        let rows: Vec<AlarmRow> = query.build_query_as().fetch_all(&self.reader).await.db()?;
        rows.into_iter().map(alarm_from_row).collect()
    }

    /// Only the page (and the row after it, to know whether there is more) is read.
    async fn list_alarms_page(
        &self,
        tenant: &TenantId,
        filter: &AlarmFilter,
        after: Option<&AlarmCursor>,
        limit: Limit,
    ) -> Result<AlarmPage> {
        let mut query = alarms_query(&format!("SELECT {ALARM_COLUMNS}"), tenant, filter);
        if let Some(cursor) = after {
            query
                .push(" AND (opened_at, id) < (")
                .push_bind(cursor.opened_at.as_millis())
                .push(", ")
                .push_bind(cursor.id.as_str())
                .push(")");
        }
        query
            .push(" ORDER BY opened_at DESC, id DESC LIMIT ")
            .push_bind(i64::try_from(limit.get()).unwrap_or(i64::MAX - 1) + 1);
        let rows: Vec<AlarmRow> = query.build_query_as().fetch_all(&self.reader).await.db()?;
        let read: Result<Vec<Alarm>> = rows.into_iter().map(alarm_from_row).collect();
        Ok(AlarmPage::of(read?, limit))
    }

    async fn count_alarms(&self, tenant: &TenantId, filter: &AlarmFilter) -> Result<u64> {
        let mut query = alarms_query("SELECT COUNT(*)", tenant, filter);
        let (count,): (i64,) = query.build_query_as().fetch_one(&self.reader).await.db()?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn open_alarm_summaries(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(SpacecraftId, OpenAlarmSummary)>> {
        // Over (tenant, state, opened_at), on a reader's thread: a fleet's open alarms are
        // thousands of index entries, no short read.
        let rows: Vec<(String, i64, bool)> = sqlx::query_as(
            "SELECT spacecraft_id, SUM(state IN (?2, ?3)), MAX(kind = ?5 AND cleared_at IS NULL) \
             FROM alarms \
             WHERE tenant = ?1 AND state IN (?2, ?3, ?4) GROUP BY spacecraft_id",
        )
        .bind(tenant.as_str())
        .bind(AlarmState::Active.as_str())
        .bind(AlarmState::Acknowledged.as_str())
        .bind(AlarmState::Shelved.as_str())
        .bind(AnomalyKind::Stale.as_str())
        .fetch_all(&self.reader)
        .await
        .db()?;
        rows.into_iter()
            .map(|(id, needing_attention, stale)| {
                let spacecraft =
                    stored(SpacecraftId::parse(id.clone()), "alarms of spacecraft", &id)?;
                let summary = OpenAlarmSummary {
                    needing_attention: usize::try_from(needing_attention).unwrap_or(0),
                    stale,
                };
                Ok((spacecraft, summary))
            })
            .collect()
    }
}
