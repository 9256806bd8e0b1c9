//! Events: recorded inside the transaction of the change that causes them, each with its
//! outbox row, and read back by sequence.

use missionops_core::TenantId;
use std::collections::HashSet;

use async_trait::async_trait;
use missionops_core::{
    ConfigChanges, Error, EventId, EventRepository, EventType, Limit, MissionEvent, NewEvent,
    Result, Severity, SpacecraftId, Timestamp,
};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::{
    DbResult, SqliteStore, begin_write, corrupt, is_unique_violation, rows_per_statement,
    sql_count, stored, stored_time,
};
use crate::json_text::{read_object, to_json};

/// Fails with [`Error::Conflict`] when two of `events` share an id, before anything is written.
pub(super) fn check_distinct<'a>(events: impl IntoIterator<Item = &'a NewEvent>) -> Result<()> {
    let mut seen = HashSet::new();
    for event in events {
        if !seen.insert(event.id.as_str()) {
            return Err(taken(&event.id));
        }
    }
    Ok(())
}

fn taken(id: &EventId) -> Error {
    Error::conflict("event", id, "is already recorded")
}

/// Fails with [`Error::Conflict`] when one of `events` has an id that is already recorded (by
/// any tenant: event ids are unique in a store, as the port says).
pub(super) async fn check_unrecorded<'a>(
    conn: &mut SqliteConnection,
    events: impl IntoIterator<Item = &'a NewEvent>,
) -> Result<()> {
    let ids: Vec<&EventId> = events.into_iter().map(|e| &e.id).collect();
    for chunk in ids.chunks(rows_per_statement(1)) {
        let mut query = QueryBuilder::<Sqlite>::new("SELECT id FROM events WHERE id IN (");
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(id.as_str());
        }
        query.push(") LIMIT 1");
        let found: Option<String> = query
            .build_query_scalar()
            .fetch_optional(&mut *conn)
            .await
            .db()?;
        if let Some(id) = found {
            return Err(Error::conflict("event", id, "is already recorded"));
        }
    }
    Ok(())
}

/// Records `events` in the open transaction on `conn`, numbered from the current highest
/// sequence + 1, each with a pending outbox row. Returns the first sequence used (0 when `events`
/// is empty).
///
/// The numbers are taken inside the caller's write transaction, which holds the database
/// write lock, so no other writer can take the same ones, and a rollback gives them back.
/// [`Error::Conflict`] when an event id is already recorded; the caller's transaction must then
/// be dropped (rolled back).
pub(super) async fn record(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    events: &[NewEvent],
) -> Result<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    check_distinct(events)?;
    let first: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(sequence), 0) + 1 FROM events")
        .fetch_one(&mut *conn)
        .await
        .db()?;
    let metadata = metadata_of(events)?;
    let mut sequence = first;
    for (chunk, metadata) in events
        .chunks(rows_per_statement(9))
        .zip(metadata.chunks(rows_per_statement(9)))
    {
        let mut query = QueryBuilder::<Sqlite>::new("");
        push_event_rows(&mut query, tenant, chunk, metadata, Some(&mut sequence));
        if let Err(err) = query.build().execute(&mut *conn).await {
            if is_unique_violation(&err) {
                // Name the id that is taken; fall back to the first one if the lookup finds
                // none (it cannot, but an error must be returned either way).
                check_unrecorded(&mut *conn, events).await?;
                return Err(taken(&events[0].id));
            }
            return Err(crate::unavailable::backend_error(err));
        }
    }
    sqlx::query(
        "INSERT INTO outbox (sequence, next_attempt_at) \
         SELECT sequence, ts FROM events WHERE sequence >= ? ORDER BY sequence",
    )
    .bind(first)
    .execute(&mut *conn)
    .await
    .db()?;
    Ok(u64::try_from(first).unwrap_or(0))
}

/// Appends the multi-row `INSERT` of `events` (with their `metadata` JSON), numbered from
/// `sequence` on (advanced past them) or, with `None`, by SQLite: each row takes the highest
/// sequence + 1, in order, which is the same number.
fn push_event_rows<'q>(
    query: &mut QueryBuilder<'q, Sqlite>,
    tenant: &'q TenantId,
    events: &'q [NewEvent],
    metadata: &'q [String],
    mut sequence: Option<&mut i64>,
) {
    query.push(if sequence.is_some() {
        "INSERT INTO events (sequence, tenant, id, spacecraft_id, ts, type, severity, message, metadata) "
    } else {
        "INSERT INTO events (tenant, id, spacecraft_id, ts, type, severity, message, metadata) "
    });
    query.push_values(events.iter().zip(metadata), |mut row, (event, metadata)| {
        if let Some(sequence) = sequence.as_deref_mut() {
            row.push_bind(*sequence);
            *sequence += 1;
        }
        row.push_bind(tenant.as_str())
            .push_bind(event.id.as_str())
            .push_bind(event.spacecraft_id.as_ref().map(SpacecraftId::as_str))
            .push_bind(event.timestamp.as_millis())
            .push_bind(event.event_type.as_str())
            .push_bind(event.severity.as_str())
            .push_bind(event.message.as_str())
            .push_bind(metadata.as_str());
    });
}

/// The metadata JSON of each of `events`, for [`push_record`].
pub(super) fn metadata_of(events: &[NewEvent]) -> Result<Vec<String>> {
    events.iter().map(|e| to_json(&e.metadata)).collect()
}

/// Appends the statements that record `events` (with their `metadata`, see [`metadata_of`]),
/// each with its pending outbox row, to a transaction sent in one go: as [`record`] does, but
/// with nothing read back before the `COMMIT`. SQLite numbers them; an id already recorded
/// fails the statement, and with it the transaction.
pub(super) fn push_record<'q>(
    query: &mut QueryBuilder<'q, Sqlite>,
    tenant: &'q TenantId,
    events: &'q [NewEvent],
    metadata: &'q [String],
) {
    let rows = rows_per_statement(8);
    for (chunk, metadata) in events.chunks(rows).zip(metadata.chunks(rows)) {
        query.push("; ");
        push_event_rows(query, tenant, chunk, metadata, None);
    }
    for chunk in events.chunks(rows_per_statement(1)) {
        query.push(
            "; INSERT INTO outbox (sequence, next_attempt_at) \
             SELECT sequence, ts FROM events WHERE id IN (",
        );
        let mut list = query.separated(", ");
        for event in chunk {
            list.push_bind(event.id.as_str());
        }
        query.push(")");
    }
}

/// An event row, read by column name ([`event_columns!`]); other rows flatten it into theirs.
#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    sequence: i64,
    id: String,
    spacecraft_id: Option<String>,
    ts: i64,
    #[sqlx(rename = "type")]
    event_type: String,
    severity: String,
    message: String,
    metadata: String,
}

/// The columns of an [`EventRow`], in the order [`event_row`] reads them.
macro_rules! event_columns {
    () => {
        "sequence, id, spacecraft_id, ts, type, severity, message, metadata"
    };
}

/// An event row read by position ([`event_columns!`]) on a plain connection.
fn event_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        sequence: row.get(0)?,
        id: row.get(1)?,
        spacecraft_id: row.get(2)?,
        ts: row.get(3)?,
        event_type: row.get(4)?,
        severity: row.get(5)?,
        message: row.get(6)?,
        metadata: row.get(7)?,
    })
}

/// The events `sql` selects ([`event_columns!`] first), its parameters bound in order, as a
/// short read (see `SqliteStore::short_read`).
async fn short_read_events(
    store: &SqliteStore,
    sql: &'static str,
    parameters: &[&(dyn rusqlite::ToSql + Sync)],
) -> Result<Vec<MissionEvent>> {
    let rows = store
        .short_read(|connection| {
            connection
                .prepare_cached(sql)?
                .query_map(rusqlite::params_from_iter(parameters), event_row)?
                .collect::<rusqlite::Result<Vec<EventRow>>>()
        })
        .await?;
    rows.into_iter().map(event_from_row).collect()
}

pub(super) fn event_from_row(row: EventRow) -> Result<MissionEvent> {
    let EventRow {
        sequence,
        id,
        spacecraft_id,
        ts,
        event_type,
        severity,
        message,
        metadata,
    } = row;
    let what = "event";
    Ok(MissionEvent {
        sequence: u64::try_from(sequence).map_err(|e| corrupt(what, &id, e))?,
        spacecraft_id: spacecraft_id
            .map(|s| stored(SpacecraftId::parse(s), what, &id))
            .transpose()?,
        timestamp: stored_time(ts, what, &id)?,
        event_type: stored(EventType::parse(&event_type), what, &id)?,
        severity: stored(Severity::parse(&severity), what, &id)?,
        message,
        metadata: read_object(&metadata).map_err(|e| corrupt(what, &id, e))?,
        id: stored(EventId::parse(id.clone()), what, &id)?,
    })
}

/// The newest sequence of tenant `?1` beside each of its `CONFIG_CHANGED` events after `?2`
/// (sequence, spacecraft), oldest first, at most `?3`; one row of the newest alone when there
/// is none. One statement, so one snapshot: the newest is the newest those changes were read
/// up to. Both parts walk the tenant's sequence index; the other events are passed over here.
const CONFIG_CHANGES_AFTER: &str = "\
    SELECT n.newest, c.sequence, c.spacecraft_id \
    FROM (SELECT COALESCE(MAX(sequence), 0) AS newest FROM events WHERE tenant = ?1) AS n \
    LEFT JOIN (SELECT sequence, spacecraft_id FROM events \
               WHERE tenant = ?1 AND sequence > ?2 AND type = 'CONFIG_CHANGED' \
                 AND spacecraft_id IS NOT NULL \
               ORDER BY sequence LIMIT ?3) AS c \
    ORDER BY c.sequence";

#[async_trait]
impl EventRepository for SqliteStore {
    async fn record_event(&self, tenant: &TenantId, event: NewEvent) -> Result<MissionEvent> {
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        let sequence = record(&mut tx, tenant, std::slice::from_ref(&event)).await?;
        tx.commit().await.db()?;
        Ok(event.recorded(sequence))
    }

    async fn recent_events(
        &self,
        tenant: &TenantId,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        let limit = sql_count(limit.get());
        match spacecraft {
            Some(id) => {
                const SQL: &str = concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE tenant = ?1 AND spacecraft_id = ?2 \
                     ORDER BY sequence DESC LIMIT ?3"
                );
                short_read_events(self, SQL, &[&tenant.as_str(), &id.as_str(), &limit]).await
            }
            None => {
                const SQL: &str = concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE tenant = ?1 ORDER BY sequence DESC LIMIT ?2"
                );
                short_read_events(self, SQL, &[&tenant.as_str(), &limit]).await
            }
        }
    }

    async fn config_changes_after(
        &self,
        tenant: &TenantId,
        after: u64,
        limit: Limit,
    ) -> Result<ConfigChanges> {
        let rows: Vec<(i64, Option<i64>, Option<String>)> = sqlx::query_as(CONFIG_CHANGES_AFTER)
            .bind(tenant.as_str())
            .bind(sql_count(after))
            .bind(sql_count(limit.get().saturating_add(1)))
            .fetch_all(&self.reader)
            .await
            .db()?;
        let newest = rows.first().map_or(0, |(newest, _, _)| *newest);
        let what = "CONFIG_CHANGED event";
        let changes = rows
            .into_iter()
            .filter_map(|(_, sequence, spacecraft)| Some((sequence?, spacecraft?)))
            .map(|(sequence, spacecraft)| {
                let number = sequence.to_string();
                Ok((
                    u64::try_from(sequence).map_err(|e| corrupt(what, &number, e))?,
                    stored(SpacecraftId::parse(spacecraft), what, &number)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let newest = u64::try_from(newest).map_err(|e| corrupt(what, "newest", e))?;
        Ok(ConfigChanges::from_rows(changes, after, newest, limit))
    }

    async fn last_contact_lost_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<Timestamp>>> {
        // The newest entry of each spacecraft in the partial index of contact losses
        // (migration 0016), which holds nothing else.
        self.short_read_times_of(
            tenant,
            spacecraft,
            "CONTACT_LOST event of spacecraft",
            |listed| {
                format!(
                    "SELECT spacecraft_id, MAX(ts) FROM events \
                 WHERE type = 'CONTACT_LOST' AND tenant = ?1 AND spacecraft_id IN ({listed}) \
                 GROUP BY spacecraft_id"
                )
            },
        )
        .await
    }

    async fn events_after(
        &self,
        tenant: &TenantId,
        after: u64,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        let (after, limit) = (sql_count(after), sql_count(limit.get()));
        match spacecraft {
            Some(id) => {
                const SQL: &str = concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE sequence > ?1 AND tenant = ?2 AND spacecraft_id = ?3 \
                     ORDER BY sequence LIMIT ?4"
                );
                short_read_events(self, SQL, &[&after, &tenant.as_str(), &id.as_str(), &limit])
                    .await
            }
            None => {
                const SQL: &str = concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events WHERE sequence > ?1 AND tenant = ?2 ORDER BY sequence LIMIT ?3"
                );
                short_read_events(self, SQL, &[&after, &tenant.as_str(), &limit]).await
            }
        }
    }
}
