//! Anomalies, unique on (spacecraft, parameter, sample time, kind).

use missionops_core::TenantId;
use std::collections::HashMap;

use async_trait::async_trait;
use missionops_core::{
    Anomaly, AnomalyCount, AnomalyId, AnomalyKind, AnomalyPage, AnomalyRepository, Error, EventId,
    Limit, NewEvent, ParameterName, RangeCursor, Result, Severity, SpacecraftId, Timestamp,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::codec::{PgTime, get, opt_time, parse_value, stored, time, value_text};
use super::events::record_events;
use super::spacecraft::require_spacecraft;
use super::{PostgresStore, db, to_i64};

type AnomalyKey = (String, String, Timestamp, String);

/// Inserts `anomalies` in order, skipping any whose key is already stored (or comes earlier in
/// the list); returns, for each one, whether it was stored.
pub(super) async fn insert_anomalies(
    conn: &mut PgConnection,
    tenant: &TenantId,
    anomalies: &[Anomaly],
) -> Result<Vec<bool>> {
    if anomalies.is_empty() {
        return Ok(Vec::new());
    }
    let spacecraft: Vec<&str> = anomalies.iter().map(|a| a.spacecraft_id.as_str()).collect();
    let parameters: Vec<&str> = anomalies.iter().map(|a| a.parameter.as_str()).collect();
    let times: Vec<PgTime> = anomalies.iter().map(|a| PgTime(a.timestamp)).collect();
    let kinds: Vec<&str> = anomalies.iter().map(|a| a.kind.as_str()).collect();
    let ids: Vec<&str> = anomalies.iter().map(|a| a.id.as_str()).collect();
    let values = anomalies
        .iter()
        .map(|a| value_text(&a.value))
        .collect::<Result<Vec<String>>>()?;
    let severities: Vec<&str> = anomalies.iter().map(|a| a.severity.as_str()).collect();
    let limits: Vec<Option<f64>> = anomalies.iter().map(|a| a.limit).collect();
    let descriptions: Vec<&str> = anomalies.iter().map(|a| a.description.as_str()).collect();
    let detected: Vec<PgTime> = anomalies.iter().map(|a| PgTime(a.detected_at)).collect();
    let window_starts: Vec<Option<PgTime>> = anomalies
        .iter()
        .map(|a| a.window_start.map(PgTime))
        .collect();
    let window_ends: Vec<Option<PgTime>> =
        anomalies.iter().map(|a| a.window_end.map(PgTime)).collect();
    // Rows are inserted in array order, so `stored` follows the list and, among equal keys, the
    // first is kept and the later ones skipped.
    let inserted: Vec<(String, String, PgTime, String)> = sqlx::query_as(
        "INSERT INTO anomalies (tenant, spacecraft_id, parameter, ts, kind, id, value_json,
                                severity, limit_value, description, detected_at, window_start,
                                window_end)
         SELECT $13, s, p, t, k, i, v::json, sev, l, d, da, ws, we
         FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[],
                     $6::text[], $7::text[], $8::float8[], $9::text[], $10::timestamptz[],
                     $11::timestamptz[], $12::timestamptz[])
              AS u(s, p, t, k, i, v, sev, l, d, da, ws, we)
         ON CONFLICT (tenant, spacecraft_id, parameter, ts, kind) DO NOTHING
         RETURNING spacecraft_id, parameter, ts, kind",
    )
    .bind(&spacecraft)
    .bind(&parameters)
    .bind(&times)
    .bind(&kinds)
    .bind(&ids)
    .bind(&values)
    .bind(&severities)
    .bind(&limits)
    .bind(&descriptions)
    .bind(&detected)
    .bind(&window_starts)
    .bind(&window_ends)
    .bind(tenant.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    // Each inserted key belongs to the first anomaly in the list that has it.
    let mut first_with_key: HashMap<AnomalyKey, usize> = HashMap::with_capacity(anomalies.len());
    for (index, a) in anomalies.iter().enumerate().rev() {
        first_with_key.insert(key_of(a), index);
    }
    let mut stored_flags = vec![false; anomalies.len()];
    for (spacecraft, parameter, ts, kind) in inserted {
        if let Some(&index) = first_with_key.get(&(spacecraft, parameter, ts.0, kind)) {
            stored_flags[index] = true;
        }
    }
    Ok(stored_flags)
}

fn key_of(anomaly: &Anomaly) -> AnomalyKey {
    (
        anomaly.spacecraft_id.as_str().to_owned(),
        anomaly.parameter.as_str().to_owned(),
        anomaly.timestamp,
        anomaly.kind.as_str().to_owned(),
    )
}

fn anomaly_from_row(row: &PgRow) -> Result<Anomaly> {
    let value: String = get(row, "value")?;
    Ok(Anomaly {
        id: stored("anomaly id", AnomalyId::parse(get::<String>(row, "id")?))?,
        spacecraft_id: stored(
            "anomaly spacecraft id",
            SpacecraftId::parse(get::<String>(row, "spacecraft_id")?),
        )?,
        timestamp: time(row, "ts")?,
        parameter: stored(
            "anomaly parameter",
            ParameterName::parse(get::<String>(row, "parameter")?),
        )?,
        value: parse_value("anomaly value", &value)?,
        severity: stored(
            "anomaly severity",
            Severity::parse(&get::<String>(row, "severity")?),
        )?,
        kind: stored(
            "anomaly kind",
            AnomalyKind::parse(&get::<String>(row, "kind")?),
        )?,
        limit: get(row, "limit_value")?,
        description: get(row, "description")?,
        detected_at: time(row, "detected_at")?,
        window_start: opt_time(row, "window_start")?,
        window_end: opt_time(row, "window_end")?,
    })
}

/// The columns [`anomaly_from_row`] reads.
macro_rules! anomaly_columns {
    () => {
        "SELECT id, spacecraft_id, ts, parameter, value_json::text AS value, severity, kind,
                limit_value, description, detected_at, window_start, window_end
         FROM anomalies "
    };
}

/// The worst severity among the anomalies counted, by name.
macro_rules! worst_severity {
    () => {
        concat!(
            "(ARRAY['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'])[max(",
            severity_rank!(),
            ")]"
        )
    };
}

/// An anomaly's severity as a rank, 1 (`LOW`) to 4 (`CRITICAL`).
macro_rules! severity_rank {
    () => {
        "CASE severity WHEN 'LOW' THEN 1 WHEN 'MEDIUM' THEN 2 WHEN 'HIGH' THEN 3 \
         WHEN 'CRITICAL' THEN 4 END"
    };
}

/// A count of anomalies and the name of the worst one's severity ([`worst_severity!`]).
fn anomaly_count(count: i64, highest: Option<String>) -> Result<AnomalyCount> {
    Ok(AnomalyCount {
        count: u64::try_from(count).unwrap_or(0),
        highest: highest
            .map(|s| stored("anomaly severity", Severity::parse(&s)))
            .transpose()?,
    })
}

#[async_trait]
impl AnomalyRepository for PostgresStore {
    async fn persist_anomalies(
        &self,
        tenant: &TenantId,
        anomalies: Vec<(Anomaly, NewEvent)>,
    ) -> Result<usize> {
        if anomalies.is_empty() {
            return Ok(0);
        }
        let (anomalies, events): (Vec<Anomaly>, Vec<NewEvent>) = anomalies.into_iter().unzip();
        let mut tx = self.begin_for(tenant).await?;
        require_spacecraft(&mut tx, tenant, anomalies.iter().map(|a| &a.spacecraft_id)).await?;
        let stored_flags = insert_anomalies(&mut tx, tenant, &anomalies).await?;
        let persisted = stored_flags.iter().filter(|s| **s).count();
        let mut recorded: Vec<&NewEvent> = Vec::with_capacity(persisted);
        let mut skipped: Vec<&EventId> = Vec::new();
        for (event, stored) in events.iter().zip(stored_flags) {
            if stored {
                recorded.push(event);
            } else {
                skipped.push(&event.id);
            }
        }
        record_events(&mut tx, tenant, &recorded, &skipped).await?;
        tx.commit().await.map_err(db)?;
        Ok(persisted)
    }

    async fn get_anomaly(&self, tenant: &TenantId, id: &AnomalyId) -> Result<Option<Anomaly>> {
        const SQL: &str = concat!(
            anomaly_columns!(),
            "WHERE tenant = $2 AND id = $1 ORDER BY stored DESC LIMIT 1"
        );
        self.one_of_tenant(tenant, SQL, id.as_str(), anomaly_from_row)
            .await
    }

    async fn recent_anomalies(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<Anomaly>> {
        let mut reader = self.read_for(tenant).await?;
        let rows = sqlx::query(concat!(
            anomaly_columns!(),
            "WHERE tenant = $3 AND spacecraft_id = $1 ORDER BY ts DESC, stored DESC LIMIT $2"
        ))
        .bind(spacecraft.as_str())
        .bind(to_i64(limit.get()))
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        rows.iter().map(anomaly_from_row).collect()
    }

    async fn anomaly_timeline(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Anomaly>> {
        let mut reader = self.read_for(tenant).await?;
        let rows = sqlx::query(concat!(
            anomaly_columns!(),
            "WHERE tenant = $4 AND spacecraft_id = $1 AND ts BETWEEN $2 AND $3
             ORDER BY ts, stored"
        ))
        .bind(spacecraft.as_str())
        .bind(PgTime(from))
        .bind(PgTime(to))
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        rows.iter().map(anomaly_from_row).collect()
    }

    async fn count_anomalies_since_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
        since: &[Timestamp],
    ) -> Result<Vec<Vec<AnomalyCount>>> {
        let Some(earliest) = since.iter().min().copied() else {
            return Ok(vec![Vec::new(); spacecraft.len()]);
        };
        if spacecraft.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = spacecraft.iter().map(SpacecraftId::as_str).collect();
        // Each spacecraft asked, in order, with its own anomalies since the earliest window
        // over (tenant, spacecraft, ts), every window counted in the same pass: one index scan
        // a spacecraft, where a scan for each window and spacecraft took four times as long.
        let mut sql = String::from(
            "SELECT c.* FROM unnest($1::text[]) WITH ORDINALITY AS asked(id, n) \
             CROSS JOIN LATERAL (SELECT ",
        );
        for window in 0..since.len() {
            let at = window + 4;
            if window > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "count(*) FILTER (WHERE ts >= ${at}), \
                 (ARRAY['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'])\
                 [max({}) FILTER (WHERE ts >= ${at})]",
                severity_rank!()
            ));
        }
        sql.push_str(
            " FROM anomalies WHERE tenant = $3 AND spacecraft_id = asked.id AND ts >= $2) AS c \
             ORDER BY asked.n",
        );
        let mut query = sqlx::query(&sql)
            .bind(&ids)
            .bind(PgTime(earliest))
            .bind(tenant.as_str());
        for &window in since {
            query = query.bind(PgTime(window));
        }
        let mut reader = self.read_for(tenant).await?;
        let rows = query.fetch_all(&mut *reader).await.map_err(db)?;
        reader.succeeded();
        if rows.len() != ids.len() {
            return Err(Error::backend(format!(
                "PostgreSQL counted anomalies for {} spacecraft of {}",
                rows.len(),
                ids.len()
            )));
        }
        rows.iter()
            .map(|row| {
                (0..since.len())
                    .map(|window| {
                        let count: i64 = row.try_get(2 * window).map_err(db)?;
                        let worst: Option<String> = row.try_get(2 * window + 1).map_err(db)?;
                        anomaly_count(count, worst)
                    })
                    .collect()
            })
            .collect()
    }

    async fn count_anomalies_since(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        since: Timestamp,
    ) -> Result<AnomalyCount> {
        let mut reader = self.read_for(tenant).await?;
        let (count, highest): (i64, Option<String>) = sqlx::query_as(concat!(
            "SELECT count(*), ",
            worst_severity!(),
            " FROM anomalies WHERE tenant = $3 AND spacecraft_id = $1 AND ts >= $2"
        ))
        .bind(spacecraft.as_str())
        .bind(PgTime(since))
        .bind(tenant.as_str())
        .fetch_one(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        anomaly_count(count, highest)
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
        let mut reader = self.read_for(tenant).await?;
        // `stored` comes from a sequence starting at 1: (from, 0) is before all at `from`.
        let (after_ts, after_stored) = match after {
            Some(c) if c.timestamp >= from => (c.timestamp, c.arrival),
            _ => (from, 0),
        };
        let rows = sqlx::query(
            "SELECT id, spacecraft_id, ts, parameter, value_json::text AS value, severity, kind,
                    limit_value, description, detected_at, window_start, window_end, stored
             FROM anomalies
             WHERE tenant = $6 AND spacecraft_id = $1 AND ts BETWEEN $2 AND $3
               AND (ts, stored) > ($2, $4)
             ORDER BY ts, stored LIMIT $5",
        )
        .bind(spacecraft.as_str())
        .bind(PgTime(after_ts))
        .bind(PgTime(to))
        .bind(after_stored)
        .bind(to_i64(limit))
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        let next = match rows.last() {
            Some(row) if rows.len() == limit => Some(RangeCursor {
                timestamp: time(row, "ts")?,
                arrival: get(row, "stored")?,
            }),
            _ => None,
        };
        Ok(AnomalyPage {
            anomalies: rows.iter().map(anomaly_from_row).collect::<Result<_>>()?,
            next,
        })
    }
}
