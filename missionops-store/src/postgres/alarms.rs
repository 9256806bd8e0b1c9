//! Alarms: created or replaced by id, with the events their change causes.

use async_trait::async_trait;
use missionops_core::TenantId;
use missionops_core::{
    Alarm, AlarmFilter, AlarmId, AlarmRepository, AlarmState, AlarmStates, AnomalyKind, NewEvent,
    Operator, ParameterName, Result, Severity, SpacecraftId,
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

/// Creates or replaces `alarm` by id, in the open transaction on `conn`.
pub(super) async fn upsert_alarm(
    conn: &mut PgConnection,
    tenant: &TenantId,
    alarm: &Alarm,
) -> Result<()> {
    let violation_count = u64_to_i64("violationCount", alarm.violation_count)?;
    let last_value = value_text(&alarm.last_value)?;
    sqlx::query(
        "INSERT INTO alarms AS a (tenant, id, spacecraft_id, parameter, kind, state, severity,
                                 violation_count, opened_at, last_value_json, cleared_at,
                                 acknowledged_by, acknowledged_at, comment, shelved_until)
         VALUES ($15, $1, $2, $3, $4, $5, $6, $7, $8, $9::json, $10, $11, $12, $13, $14)
         ON CONFLICT (tenant, id) DO UPDATE SET
             spacecraft_id = excluded.spacecraft_id, parameter = excluded.parameter,
             kind = excluded.kind, state = excluded.state, severity = excluded.severity,
             violation_count = excluded.violation_count, opened_at = excluded.opened_at,
             last_value_json = excluded.last_value_json, cleared_at = excluded.cleared_at,
             acknowledged_by = excluded.acknowledged_by,
             acknowledged_at = excluded.acknowledged_at, comment = excluded.comment,
             shelved_until = excluded.shelved_until",
    )
    .bind(alarm.id.as_str())
    .bind(alarm.spacecraft_id.as_str())
    .bind(alarm.parameter.as_str())
    .bind(alarm.kind.as_str())
    .bind(alarm.state.as_str())
    .bind(alarm.severity.as_str())
    .bind(violation_count)
    .bind(PgTime(alarm.opened_at))
    .bind(&last_value)
    .bind(alarm.cleared_at.map(PgTime))
    .bind(alarm.acknowledged_by.as_ref().map(Operator::as_str))
    .bind(alarm.acknowledged_at.map(PgTime))
    .bind(alarm.comment.as_deref())
    .bind(alarm.shelved_until.map(PgTime))
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
        let mut tx = self.begin_for(tenant).await?;
        let rows = sqlx::query(concat!(
            alarm_columns!(),
            "WHERE tenant = $4
               AND ($1::text IS NULL OR spacecraft_id = $1)
               AND ($2::text IS NULL OR state = $2)
               AND ($3::text IS NULL OR state <> $3)
             ORDER BY opened_at DESC, id DESC"
        ))
        .bind(filter.spacecraft_id.as_ref().map(SpacecraftId::as_str))
        .bind(match filter.states {
            AlarmStates::Only(state) => Some(state.as_str()),
            _ => None,
        })
        .bind(match filter.states {
            AlarmStates::Open => Some(AlarmState::Cleared.as_str()),
            _ => None,
        })
        .bind(tenant.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        rows.iter().map(alarm_from_row).collect()
    }
}
