//! Events: gap-free sequences, event and outbox rows written inside the caller's transaction,
//! and the event queries.

use missionops_core::TenantId;
use std::collections::HashSet;

use async_trait::async_trait;
use missionops_core::{
    ConfigChanges, Error, EventId, EventRepository, EventType, Limit, MissionEvent, NewEvent,
    Result, Severity, SpacecraftId, Timestamp,
};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use super::codec::{PgTime, corrupt, get, object_text, parse_object, stored, time, u64_column};
use super::{PostgresStore, db, to_i64, unique_violation};

/// Records events in one statement: takes `$1` sequence numbers from the counter unless one of
/// the event ids `$2` is recorded already, and only then inserts the `$1` events (`$3`…`$9`,
/// numbered in array order) with their outbox rows; answers the first id found recorded and
/// the last number taken. Each id is looked up by the unique key on its own: planned
/// generically, `id = ANY($2)` read the whole table (2 ms at 20,000 events). One statement
/// where the check and the insert took two: the counter row it locks stays locked until the
/// transaction ends, so every round trip after it holds back every other writer of events.
pub(super) const RECORD_EVENTS: &str = "WITH taken AS (
         SELECT min(e.id) AS id FROM unnest($2::text[]) AS wanted(id)
         CROSS JOIN LATERAL (SELECT id FROM events WHERE id = wanted.id LIMIT 1) e),
     bumped AS (
         UPDATE event_counter SET last_sequence = last_sequence + $1
         WHERE $1 > 0 AND (SELECT id FROM taken) IS NULL
         RETURNING last_sequence),
     recorded AS (
         INSERT INTO events
             (tenant, sequence, id, spacecraft_id, ts, type, severity, message, metadata_json)
         SELECT $10, b.last_sequence - $1 + u.k, u.i, u.sc, u.t, u.ty, u.sev, u.m, u.md::json
         FROM bumped b
         CROSS JOIN unnest($3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
                           $8::text[], $9::text[]) WITH ORDINALITY AS u(i, sc, t, ty, sev, m, md, k)
         RETURNING sequence),
     queued AS (
         INSERT INTO outbox (tenant, sequence) SELECT $10, sequence FROM recorded)
SELECT (SELECT id FROM taken), (SELECT last_sequence FROM bumped)";

/// Records `events` of `tenant` in order with the next sequences, each with its outbox row,
/// inside the transaction `conn` belongs to; returns their sequences.
///
/// `also_unique` are ids of events the caller drops (an anomaly that was already stored) but
/// which must still not be taken, as in the in-memory store. A repeated or already recorded id
/// fails with [`Error::Conflict`] before any sequence is taken.
///
/// The counter row stays locked until the caller's transaction ends, so writers that record
/// events commit one after another and sequences become visible in order: a stream resumed
/// after sequence N never misses an event that commits later with a smaller number. Callers
/// record events last, to hold the lock briefly.
pub(super) async fn record_events(
    conn: &mut PgConnection,
    tenant: &TenantId,
    events: &[&NewEvent],
    also_unique: &[&EventId],
) -> Result<Vec<u64>> {
    if events.is_empty() && also_unique.is_empty() {
        return Ok(Vec::new());
    }
    let mut seen = HashSet::with_capacity(events.len() + also_unique.len());
    let ids: Vec<&str> = events
        .iter()
        .map(|e| &e.id)
        .chain(also_unique.iter().copied())
        .map(EventId::as_str)
        .collect();
    for id in &ids {
        if !seen.insert(*id) {
            return Err(Error::conflict("event", id, "is already recorded"));
        }
    }
    let count = to_i64(events.len());
    let rows = EventRows::of(events)?;
    // The check and the insert see the same snapshot. The unique key on events.id still
    // guards against a concurrent writer recording the same id after the check, and against
    // an id another tenant recorded (row-level security hides those rows from the check;
    // unique keys are checked on every row).
    let recorded: std::result::Result<(Option<String>, Option<i64>), sqlx::Error> =
        sqlx::query_as(RECORD_EVENTS)
            .bind(count)
            .bind(&ids)
            .bind(&rows.ids)
            .bind(&rows.spacecraft)
            .bind(&rows.times)
            .bind(&rows.types)
            .bind(&rows.severities)
            .bind(&rows.messages)
            .bind(&rows.metadata)
            .bind(tenant.as_str())
            .fetch_one(&mut *conn)
            .await;
    let (taken, last) = recorded.map_err(|err| match unique_violation(&err) {
        Some("events_id_key") => Error::conflict(
            "event",
            taken_id(&err).unwrap_or_else(|| ids.join(", ")),
            "is already recorded",
        ),
        _ => db(err),
    })?;
    if let Some(id) = taken {
        return Err(Error::conflict("event", id, "is already recorded"));
    }
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let last = last.ok_or_else(|| corrupt("event counter", "the counter row is missing"))?;
    let sequences: Vec<i64> = (last - count + 1..=last).collect();
    sequences
        .into_iter()
        .map(|sequence| {
            u64::try_from(sequence)
                .map_err(|_| corrupt("event counter", format!("sequence {sequence} is negative")))
        })
        .collect()
}

/// Events as the columns of one statement, in order.
pub(super) struct EventRows<'a> {
    pub(super) ids: Vec<&'a str>,
    pub(super) spacecraft: Vec<Option<&'a str>>,
    pub(super) times: Vec<PgTime>,
    pub(super) types: Vec<&'a str>,
    pub(super) severities: Vec<&'a str>,
    pub(super) messages: Vec<&'a str>,
    pub(super) metadata: Vec<String>,
}

impl<'a> EventRows<'a> {
    pub(super) fn of(events: &[&'a NewEvent]) -> Result<Self> {
        Ok(EventRows {
            ids: events.iter().map(|e| e.id.as_str()).collect(),
            spacecraft: events
                .iter()
                .map(|e| e.spacecraft_id.as_ref().map(SpacecraftId::as_str))
                .collect(),
            times: events.iter().map(|e| PgTime(e.timestamp)).collect(),
            types: events.iter().map(|e| e.event_type.as_str()).collect(),
            severities: events.iter().map(|e| e.severity.as_str()).collect(),
            messages: events.iter().map(|e| e.message.as_str()).collect(),
            metadata: events
                .iter()
                .map(|e| object_text(&e.metadata))
                .collect::<Result<_>>()?,
        })
    }
}

/// The id in a unique violation's detail (`Key (id)=(ev-1) already exists.`).
fn taken_id(err: &sqlx::Error) -> Option<String> {
    let sqlx::Error::Database(e) = err else {
        return None;
    };
    let pg = e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
    let detail = pg.detail()?;
    let start = detail.find("=(")? + 2;
    let end = detail.rfind(") already exists")?;
    detail.get(start..end).map(str::to_owned)
}

/// The columns [`event_from_row`] reads.
/// The newest sequence of tenant `$1` beside each of its `CONFIG_CHANGED` events after `$2`
/// (sequence, spacecraft), oldest first, at most `$3`; one row of the newest alone when there
/// is none. One statement, so one snapshot: the newest is the newest those changes were read
/// up to. Both parts walk the tenant's sequence index; the other events are passed over here.
const CONFIG_CHANGES_AFTER: &str = "\
    SELECT n.newest, c.sequence, c.spacecraft_id::text
    FROM (SELECT COALESCE(max(sequence), 0) AS newest FROM events WHERE tenant = $1) AS n
    LEFT JOIN (SELECT sequence, spacecraft_id FROM events
               WHERE tenant = $1 AND sequence > $2 AND type = 'CONFIG_CHANGED'
                 AND spacecraft_id IS NOT NULL
               ORDER BY sequence LIMIT $3) AS c ON true
    ORDER BY c.sequence";

macro_rules! event_columns {
    () => {
        "SELECT sequence, id, spacecraft_id, ts, type, severity, message,
                metadata_json::text AS metadata
         FROM events "
    };
}

pub(super) fn event_from_row(row: &PgRow) -> Result<MissionEvent> {
    let metadata: String = get(row, "metadata")?;
    Ok(MissionEvent {
        id: stored("event id", EventId::parse(get::<String>(row, "id")?))?,
        sequence: u64_column(row, "sequence")?,
        spacecraft_id: get::<Option<String>>(row, "spacecraft_id")?
            .map(|id| stored("event spacecraft id", SpacecraftId::parse(id)))
            .transpose()?,
        timestamp: time(row, "ts")?,
        event_type: stored("event type", EventType::parse(&get::<String>(row, "type")?))?,
        severity: stored(
            "event severity",
            Severity::parse(&get::<String>(row, "severity")?),
        )?,
        message: get(row, "message")?,
        metadata: parse_object("event metadata", &metadata)?,
    })
}

#[async_trait]
impl EventRepository for PostgresStore {
    async fn record_event(&self, tenant: &TenantId, event: NewEvent) -> Result<MissionEvent> {
        let mut tx = self.begin_for(tenant).await?;
        let sequences = record_events(&mut tx, tenant, &[&event], &[]).await?;
        tx.commit().await.map_err(db)?;
        match sequences.first() {
            Some(&sequence) => Ok(event.recorded(sequence)),
            None => Err(Error::backend("the event was not recorded".to_owned())),
        }
    }

    async fn recent_events(
        &self,
        tenant: &TenantId,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        let mut reader = self.read_for(tenant).await?;
        // Two statements rather than `$1 IS NULL OR …`, so that each keeps a plan that uses its
        // index.
        let query = match spacecraft {
            Some(id) => sqlx::query(concat!(
                event_columns!(),
                "WHERE tenant = $3 AND spacecraft_id = $2 ORDER BY sequence DESC LIMIT $1"
            ))
            .bind(to_i64(limit.get()))
            .bind(id.as_str())
            .bind(tenant.as_str()),
            None => sqlx::query(concat!(
                event_columns!(),
                "WHERE tenant = $2 ORDER BY sequence DESC LIMIT $1"
            ))
            .bind(to_i64(limit.get()))
            .bind(tenant.as_str()),
        };
        let rows = query.fetch_all(&mut *reader).await.map_err(db)?;
        reader.succeeded();
        rows.iter().map(event_from_row).collect()
    }

    async fn config_changes_after(
        &self,
        tenant: &TenantId,
        after: u64,
        limit: Limit,
    ) -> Result<ConfigChanges> {
        let mut reader = self.read_for(tenant).await?;
        let rows: Vec<(i64, Option<i64>, Option<String>)> = sqlx::query_as(CONFIG_CHANGES_AFTER)
            .bind(tenant.as_str())
            .bind(i64::try_from(after).unwrap_or(i64::MAX))
            .bind(to_i64(limit.get().saturating_add(1)))
            .fetch_all(&mut *reader)
            .await
            .map_err(db)?;
        reader.succeeded();
        let what = "CONFIG_CHANGED event";
        let newest = rows.first().map_or(0, |(newest, _, _)| *newest);
        let newest = u64::try_from(newest).map_err(|e| corrupt(what, e))?;
        let changes = rows
            .into_iter()
            .filter_map(|(_, sequence, spacecraft)| Some((sequence?, spacecraft?)))
            .map(|(sequence, spacecraft)| {
                Ok((
                    u64::try_from(sequence).map_err(|e| corrupt(what, e))?,
                    SpacecraftId::parse(spacecraft).map_err(|e| corrupt(what, e))?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ConfigChanges::from_rows(changes, after, newest, limit))
    }

    async fn last_contact_lost_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<Timestamp>>> {
        // The newest entry of each spacecraft asked, in the partial index of contact losses
        // (migration 0018), which holds nothing else.
        self.times_of(
            tenant,
            spacecraft,
            "SELECT (SELECT max(e.ts) FROM events AS e \
                     WHERE e.type = 'CONTACT_LOST' AND e.tenant = $2 \
                       AND e.spacecraft_id = asked.id) \
             FROM unnest($1::text[]) WITH ORDINALITY AS asked(id, n) ORDER BY asked.n",
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
        let mut reader = self.read_for(tenant).await?;
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let query = match spacecraft {
            Some(id) => sqlx::query(concat!(
                event_columns!(),
                "WHERE tenant = $4 AND spacecraft_id = $3 AND sequence > $1
                 ORDER BY sequence LIMIT $2"
            ))
            .bind(after)
            .bind(to_i64(limit.get()))
            .bind(id.as_str())
            .bind(tenant.as_str()),
            None => sqlx::query(concat!(
                event_columns!(),
                "WHERE tenant = $3 AND sequence > $1 ORDER BY sequence LIMIT $2"
            ))
            .bind(after)
            .bind(to_i64(limit.get()))
            .bind(tenant.as_str()),
        };
        let rows = query.fetch_all(&mut *reader).await.map_err(db)?;
        reader.succeeded();
        rows.iter().map(event_from_row).collect()
    }
}

/// The counter is the one row every writer of events locks: a call that finds an id taken
/// must leave it alone.
#[cfg(all(test, feature = "conformance"))]
mod tests {
    use std::time::Duration;

    use missionops_core::{Error, EventRepository, EventType, TenantId};

    use super::record_events;
    use crate::conformance::backends::scratch_postgres;
    use crate::conformance::fixtures::event;

    /// A call whose event id is recorded already fails with a conflict found before the
    /// counter is touched: its transaction goes on (no statement failed in it) and still reads
    /// the counter where it was, and meanwhile another writer records its event at once, with
    /// the next number.
    #[tokio::test]
    async fn a_taken_id_takes_no_number_and_holds_no_lock() {
        let store = scratch_postgres().await;
        let tenant = TenantId::default();
        store
            .record_event(&tenant, event(1, None, EventType::Anomaly))
            .await
            .expect("first event");
        let mut open = store.begin_for(&tenant).await.expect("begin");
        let again = event(1, None, EventType::Anomaly);
        let refused = record_events(&mut open, &tenant, &[&again], &[]).await;
        assert!(
            matches!(&refused, Err(Error::Conflict { id, .. }) if id == "ev-1"),
            "names the taken id: {refused:?}"
        );
        let counter: i64 = sqlx::query_scalar("SELECT last_sequence FROM event_counter")
            .fetch_one(&mut *open)
            .await
            .expect("the transaction goes on");
        assert_eq!(counter, 1, "no number was taken");
        let other = tokio::time::timeout(
            Duration::from_secs(5),
            store.record_event(&tenant, event(2, None, EventType::Anomaly)),
        )
        .await
        .expect("not held back by the open transaction")
        .expect("second event");
        assert_eq!(other.sequence, 2);
        drop(open);
    }
}
