//! Alarms: created or replaced by id, with the events their change causes.

use async_trait::async_trait;
use missionops_core::TenantId;
use missionops_core::{
    Alarm, AlarmCursor, AlarmFilter, AlarmId, AlarmPage, AlarmRepository, AlarmState, AlarmStates,
    AnomalyKind, Limit, NewEvent, OpenAlarmSummary, Operator, ParameterName, Result, Severity,
    SpacecraftId,
};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use super::codec::{
    PgTime, get, opt_time, parse_value, stored, time, u64_column, u64_to_i64, value_text,
};
use super::events::record_events;
use super::spacecraft::require_spacecraft;
use super::{PostgresStore, db};

fn alarm_from_row(row: &PgRow) -> Result<Alarm> {
    let last_value: String = get(row, "last_value")?;
    Ok(Alarm {
        id: stored("alarm id", AlarmId::parse(get::<String>(row, "id")?))?,
        spacecraft_id: stored(
            "alarm spacecraft id",
            SpacecraftId::parse(get::<String>(row, "spacecraft_id")?),
        )?,
        parameter: stored(
            "alarm parameter",
            ParameterName::parse(get::<String>(row, "parameter")?),
        )?,
        kind: stored(
            "alarm kind",
            AnomalyKind::parse(&get::<String>(row, "kind")?),
        )?,
        state: stored(
            "alarm state",
            AlarmState::parse(&get::<String>(row, "state")?),
        )?,
        severity: stored(
            "alarm severity",
            Severity::parse(&get::<String>(row, "severity")?),
        )?,
        violation_count: u64_column(row, "violation_count")?,
        opened_at: time(row, "opened_at")?,
        last_value: parse_value("alarm value", &last_value)?,
        cleared_at: opt_time(row, "cleared_at")?,
        acknowledged_by: get::<Option<String>>(row, "acknowledged_by")?
            .map(|by| stored("alarm operator", Operator::parse(by)))
            .transpose()?,
        acknowledged_at: opt_time(row, "acknowledged_at")?,
        comment: get(row, "comment")?,
        shelved_until: opt_time(row, "shelved_until")?,
    })
}

/// The columns [`alarm_from_row`] reads.
macro_rules! alarm_columns {
    () => {
        "SELECT id, spacecraft_id, parameter, kind, state, severity, violation_count, opened_at,
                last_value_json::text AS last_value, cleared_at, acknowledged_by,
                acknowledged_at, comment, shelved_until
         FROM alarms "
    };
}

/// The conditions of an alarm list: `$1` the spacecraft (or null), `$2` the states (or null
/// for every state, see [`states_of`]), `$3` the tenant.
macro_rules! alarms_passing {
    () => {
        "WHERE tenant = $3
           AND ($1::text IS NULL OR spacecraft_id = $1)
           AND ($2::text[] IS NULL OR state = ANY($2))"
    };
}

/// The states `filter` lets through, as `$2` of [`alarms_passing`]: the open ones listed
/// (rather than "not cleared"), so that a count can take the state index.
fn states_of(filter: &AlarmFilter) -> Option<Vec<&'static str>> {
    match filter.states {
        AlarmStates::Open => Some(AlarmState::OPEN.iter().map(|s| s.as_str()).collect()),
        AlarmStates::Only(state) => Some(vec![state.as_str()]),
        AlarmStates::All => None,
    }
}

/// Creates or replaces `alarm` by id, in the open transaction on `conn`.
pub(super) async fn upsert_alarm(
    conn: &mut PgConnection,
    tenant: &TenantId,
    alarm: &Alarm,
) -> Result<()> {
    upsert_alarms(conn, tenant, std::slice::from_ref(alarm)).await
}

/// Creates or replaces every one of `alarms` by id in one statement, in the open transaction
/// on `conn`: a tick after a fleet-wide outage opens ten alarms a spacecraft for hundreds of
/// spacecraft per transaction, and an upsert each took a round trip each (28–30 s for 10,000
/// spacecraft). An id listed twice takes its last copy, as one upsert after another would
/// leave it (a row cannot be upserted twice in one statement).
pub(super) async fn upsert_alarms(
    conn: &mut PgConnection,
    tenant: &TenantId,
    alarms: &[Alarm],
) -> Result<()> {
    let last_of: std::collections::HashMap<&str, usize> = alarms
        .iter()
        .enumerate()
        .map(|(position, alarm)| (alarm.id.as_str(), position))
        .collect();
    let alarms: Vec<&Alarm> = alarms
        .iter()
        .enumerate()
        .filter(|(position, alarm)| last_of.get(alarm.id.as_str()) == Some(position))
        .map(|(_, alarm)| alarm)
        .collect();
    if alarms.is_empty() {
        return Ok(());
    }
    let texts = |f: fn(&Alarm) -> &str| alarms.iter().map(|a| f(a)).collect::<Vec<&str>>();
    let times = |f: fn(&Alarm) -> Option<PgTime>| alarms.iter().map(|a| f(a)).collect::<Vec<_>>();
    let counts = alarms
        .iter()
        .map(|a| u64_to_i64("violationCount", a.violation_count))
        .collect::<Result<Vec<i64>>>()?;
    let last_values = alarms
        .iter()
        .map(|a| value_text(&a.last_value))
        .collect::<Result<Vec<String>>>()?;
    sqlx::query(
        "INSERT INTO alarms AS a (tenant, id, spacecraft_id, parameter, kind, state, severity,
                                 violation_count, opened_at, last_value_json, cleared_at,
                                 acknowledged_by, acknowledged_at, comment, shelved_until)
         SELECT $15, i, s, p, k, st, sev, n, o, v::json, c, ab, aa, cm, sh
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::int8[], $8::timestamptz[], $9::text[], $10::timestamptz[],
                     $11::text[], $12::timestamptz[], $13::text[], $14::timestamptz[])
              AS u(i, s, p, k, st, sev, n, o, v, c, ab, aa, cm, sh)
         ON CONFLICT (tenant, id) DO UPDATE SET
             spacecraft_id = excluded.spacecraft_id, parameter = excluded.parameter,
             kind = excluded.kind, state = excluded.state, severity = excluded.severity,
             violation_count = excluded.violation_count, opened_at = excluded.opened_at,
             last_value_json = excluded.last_value_json, cleared_at = excluded.cleared_at,
             acknowledged_by = excluded.acknowledged_by,
             acknowledged_at = excluded.acknowledged_at, comment = excluded.comment,
             shelved_until = excluded.shelved_until",
    )
    .bind(texts(|a| a.id.as_str()))
    .bind(texts(|a| a.spacecraft_id.as_str()))
    .bind(texts(|a| a.parameter.as_str()))
    .bind(texts(|a| a.kind.as_str()))
    .bind(texts(|a| a.state.as_str()))
    .bind(texts(|a| a.severity.as_str()))
    .bind(counts)
    .bind(times(|a| Some(PgTime(a.opened_at))))
    .bind(last_values)
    .bind(times(|a| a.cleared_at.map(PgTime)))
    .bind(
        alarms
            .iter()
            .map(|a| a.acknowledged_by.as_ref().map(Operator::as_str))
            .collect::<Vec<Option<&str>>>(),
    )
    .bind(times(|a| a.acknowledged_at.map(PgTime)))
    .bind(
        alarms
            .iter()
            .map(|a| a.comment.as_deref())
            .collect::<Vec<Option<&str>>>(),
    )
    .bind(times(|a| a.shelved_until.map(PgTime)))
    .bind(tenant.as_str())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

#[async_trait]
impl AlarmRepository for PostgresStore {
    async fn save_alarm(
        &self,
        tenant: &TenantId,
        alarm: Alarm,
        events: Vec<NewEvent>,
    ) -> Result<()> {
        let mut tx = self.begin_for(tenant).await?;
        require_spacecraft(&mut tx, tenant, [&alarm.spacecraft_id]).await?;
        upsert_alarm(&mut tx, tenant, &alarm).await?;
        let events: Vec<&NewEvent> = events.iter().collect();
        record_events(&mut tx, tenant, &events, &[]).await?;
        tx.commit().await.map_err(db)
    }

    async fn get_alarm(&self, tenant: &TenantId, id: &AlarmId) -> Result<Option<Alarm>> {
        const SQL: &str = concat!(alarm_columns!(), "WHERE tenant = $2 AND id = $1");
        self.one_of_tenant(tenant, SQL, id.as_str(), alarm_from_row)
            .await
    }

    async fn list_alarms(&self, tenant: &TenantId, filter: &AlarmFilter) -> Result<Vec<Alarm>> {
        let mut reader = self.filtered_read_for(tenant).await?;
        let rows = sqlx::query(concat!(
            alarm_columns!(),
            alarms_passing!(),
            " ORDER BY opened_at DESC, id DESC"
        ))
        .bind(filter.spacecraft_id.as_ref().map(SpacecraftId::as_str))
        .bind(states_of(filter))
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        rows.iter().map(alarm_from_row).collect()
    }

    /// Only the page (and the row after it, to know whether there is more) is read: the
    /// reads plan for each call's values, so an absent cursor drops out of the statement and
    /// a present one bounds the walk of the (tenant, opened_at, id) index.
    async fn list_alarms_page(
        &self,
        tenant: &TenantId,
        filter: &AlarmFilter,
        after: Option<&AlarmCursor>,
        limit: Limit,
    ) -> Result<AlarmPage> {
        let mut reader = self.filtered_read_for(tenant).await?;
        let rows = sqlx::query(concat!(
            alarm_columns!(),
            alarms_passing!(),
            " AND ($4::timestamptz IS NULL OR (opened_at, id) < ($4, $5::text))
             ORDER BY opened_at DESC, id DESC LIMIT $6"
        ))
        .bind(filter.spacecraft_id.as_ref().map(SpacecraftId::as_str))
        .bind(states_of(filter))
        .bind(tenant.as_str())
        .bind(after.map(|cursor| PgTime(cursor.opened_at)))
        .bind(after.map(|cursor| cursor.id.as_str()))
        .bind(i64::try_from(limit.get()).unwrap_or(i64::MAX - 1) + 1)
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        let read: Result<Vec<Alarm>> = rows.iter().map(alarm_from_row).collect();
        Ok(AlarmPage::of(read?, limit))
    }

    async fn count_alarms(&self, tenant: &TenantId, filter: &AlarmFilter) -> Result<u64> {
        let mut reader = self.filtered_read_for(tenant).await?;
        let count: i64 =
            sqlx::query_scalar(concat!("SELECT count(*) FROM alarms ", alarms_passing!()))
                .bind(filter.spacecraft_id.as_ref().map(SpacecraftId::as_str))
                .bind(states_of(filter))
                .bind(tenant.as_str())
                .fetch_one(&mut *reader)
                .await
                .map_err(db)?;
        reader.succeeded();
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// One query for the list, where one by one took a transaction each.
    async fn open_alarms_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Vec<Alarm>>> {
        if spacecraft.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = spacecraft.iter().map(SpacecraftId::as_str).collect();
        let mut reader = self.filtered_read_for(tenant).await?;
        let rows = sqlx::query(concat!(
            alarm_columns!(),
            "WHERE tenant = $2 AND spacecraft_id = ANY($1::text[]) AND state <> $3
             ORDER BY opened_at DESC, id DESC"
        ))
        .bind(&ids)
        .bind(tenant.as_str())
        .bind(AlarmState::Cleared.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        let mut open: std::collections::HashMap<SpacecraftId, Vec<Alarm>> =
            std::collections::HashMap::new();
        for row in &rows {
            let alarm = alarm_from_row(row)?;
            open.entry(alarm.spacecraft_id.clone())
                .or_default()
                .push(alarm);
        }
        Ok(spacecraft
            .iter()
            .map(|id| open.get(id).cloned().unwrap_or_default())
            .collect())
    }

    /// Counted over (tenant, state, opened_at), no alarm read.
    async fn open_alarm_summaries(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(SpacecraftId, OpenAlarmSummary)>> {
        let mut reader = self.filtered_read_for(tenant).await?;
        let rows: Vec<(String, i64, bool)> = sqlx::query_as(
            "SELECT spacecraft_id, count(*) FILTER (WHERE state = ANY($2::text[])), \
                    coalesce(bool_or(kind = $4 AND cleared_at IS NULL), false) \
             FROM alarms WHERE tenant = $1 AND state = ANY($3::text[]) GROUP BY spacecraft_id",
        )
        .bind(tenant.as_str())
        .bind([
            AlarmState::Active.as_str(),
            AlarmState::Acknowledged.as_str(),
        ])
        .bind([
            AlarmState::Active.as_str(),
            AlarmState::Acknowledged.as_str(),
            AlarmState::Shelved.as_str(),
        ])
        .bind(AnomalyKind::Stale.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        rows.into_iter()
            .map(|(id, needing_attention, stale)| {
                let spacecraft = stored("alarm's spacecraft", SpacecraftId::parse(id))?;
                let summary = OpenAlarmSummary {
                    needing_attention: usize::try_from(needing_attention).unwrap_or(0),
                    stale,
                };
                Ok((spacecraft, summary))
            })
            .collect()
    }
}
