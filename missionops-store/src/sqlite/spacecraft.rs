//! Spacecraft and their configuration versions.

use missionops_core::TenantId;
use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use missionops_core::{
    ConfigRecord, ConfigRepository, ConfigSource, ConfigStatus, Error, Limit, MissionType,
    NewEvent, Registration, Result, Spacecraft, SpacecraftConfig, SpacecraftId, SpacecraftName,
    SpacecraftPage, SpacecraftRepository, Timestamp,
};
use rusqlite::OptionalExtension;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::{
    DbResult, SqliteStore, begin_write, corrupt, events, is_unique_violation, require_spacecraft,
    rows_per_statement, sql_count, stored, stored_time,
};
use crate::json_text::{read_object, to_json};

type SpacecraftRow = (String, String, String, String, i64, i64);

/// A spacecraft's columns, in [`SpacecraftRow`]'s order.
macro_rules! spacecraft_columns {
    () => {
        "id, name, mission_type, metadata, created_at, updated_at"
    };
}

/// Six columns read by position on a plain connection (a [`SpacecraftRow`] or a
/// [`ConfigRow`]).
fn six_columns<A, B, C, D, E, F>(row: &rusqlite::Row<'_>) -> rusqlite::Result<(A, B, C, D, E, F)>
where
    A: rusqlite::types::FromSql,
    B: rusqlite::types::FromSql,
    C: rusqlite::types::FromSql,
    D: rusqlite::types::FromSql,
    E: rusqlite::types::FromSql,
    F: rusqlite::types::FromSql,
{
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn spacecraft_from_row(row: SpacecraftRow) -> Result<Spacecraft> {
    let (id, name, mission_type, metadata, created_at, updated_at) = row;
    let what = "spacecraft";
    Ok(Spacecraft {
        name: stored(SpacecraftName::parse(name), what, &id)?,
        mission_type: stored(MissionType::parse(mission_type), what, &id)?,
        metadata: read_object(&metadata).map_err(|e| corrupt(what, &id, e))?,
        created_at: stored_time(created_at, what, &id)?,
        updated_at: stored_time(updated_at, what, &id)?,
        id: stored(SpacecraftId::parse(id.clone()), what, &id)?,
    })
}

/// The metadata JSON of each registration's spacecraft, for [`push_registration_rows`].
pub(super) fn registration_metadata(registrations: &[Registration]) -> Result<Vec<String>> {
    registrations
        .iter()
        .map(|r| to_json(&r.spacecraft.metadata))
        .collect()
}

/// Appends the multi-row `INSERT` of the spacecraft of `registrations` (with their `metadata`
/// JSON), with the given `keys` (one per registration) or, with `None`, keys SQLite picks.
pub(super) fn push_registration_rows<'q>(
    query: &mut QueryBuilder<'q, Sqlite>,
    tenant: &'q TenantId,
    registrations: &'q [Registration],
    metadata: &'q [String],
    keys: Option<&[i64]>,
) {
    query.push(if keys.is_some() {
        "INSERT INTO spacecraft \
         (key, tenant, id, name, mission_type, metadata, created_at, updated_at) "
    } else {
        "INSERT INTO spacecraft \
         (tenant, id, name, mission_type, metadata, created_at, updated_at) "
    });
    let mut keys = keys.map(|keys| keys.iter());
    query.push_values(
        registrations.iter().zip(metadata),
        |mut row, (r, metadata)| {
            if let Some(key) = keys.as_mut().and_then(Iterator::next) {
                row.push_bind(*key);
            }
            let spacecraft = &r.spacecraft;
            row.push_bind(tenant.as_str())
                .push_bind(spacecraft.id.as_str())
                .push_bind(spacecraft.name.as_str())
                .push_bind(spacecraft.mission_type.as_str())
                .push_bind(metadata.as_str())
                .push_bind(spacecraft.created_at.as_millis())
                .push_bind(spacecraft.updated_at.as_millis());
        },
    );
}

/// Registers each of `registrations` whose id nobody registered, in the open write transaction
/// on `conn`, and returns the events of those it registered, in the order given (see
/// [`TelemetryWrite::registrations`](missionops_core::TelemetryWrite::registrations)), and
/// their keys by id: one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING id, key` per
/// few hundred spacecraft.
pub(super) async fn register_missing(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    registrations: &[Registration],
) -> Result<(Vec<NewEvent>, HashMap<String, i64>)> {
    let mut registered: HashMap<String, i64> = HashMap::new();
    let metadata = registration_metadata(registrations)?;
    let rows = rows_per_statement(7);
    for (chunk, metadata) in registrations.chunks(rows).zip(metadata.chunks(rows)) {
        let mut query = QueryBuilder::<Sqlite>::new("");
        push_registration_rows(&mut query, tenant, chunk, metadata, None);
        // The keys come back with the ids, so that the write does not look them up again.
        query.push(" ON CONFLICT (tenant, id) DO NOTHING RETURNING id, key");
        let rows: Vec<(String, i64)> = query.build_query_as().fetch_all(&mut *conn).await.db()?;
        registered.extend(rows);
    }
    // The first registration of an id is the one that counted, as one after another.
    let mut counted: HashSet<&str> = HashSet::with_capacity(registered.len());
    let events = registrations
        .iter()
        .filter(|r| {
            let id = r.spacecraft.id.as_str();
            registered.contains_key(id) && counted.insert(id)
        })
        .map(|r| r.event.clone())
        .collect();
    Ok((events, registered))
}

#[async_trait]
impl SpacecraftRepository for SqliteStore {
    async fn register_spacecraft(
        &self,
        tenant: &TenantId,
        spacecraft: Spacecraft,
        event: NewEvent,
    ) -> Result<()> {
        let metadata = to_json(&spacecraft.metadata)?;
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        let inserted = sqlx::query(
            "INSERT INTO spacecraft \
             (tenant, id, name, mission_type, metadata, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant.as_str())
        .bind(spacecraft.id.as_str())
        .bind(spacecraft.name.as_str())
        .bind(spacecraft.mission_type.as_str())
        .bind(metadata)
        .bind(spacecraft.created_at.as_millis())
        .bind(spacecraft.updated_at.as_millis())
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(err) if is_unique_violation(&err) => {
                return Err(Error::conflict(
                    "spacecraft",
                    &spacecraft.id,
                    "already exists",
                ));
            }
            other => other.db()?,
        };
        events::record(&mut tx, tenant, std::slice::from_ref(&event)).await?;
        tx.commit().await.db()?;
        // SQLite numbered it; a registration in one go reads the highest key again.
        self.set_next_spacecraft_key(None);
        Ok(())
    }

    async fn get_spacecraft(
        &self,
        tenant: &TenantId,
        id: &SpacecraftId,
    ) -> Result<Option<Spacecraft>> {
        const SQL: &str = concat!(
            "SELECT ",
            spacecraft_columns!(),
            " FROM spacecraft WHERE tenant = ?1 AND id = ?2"
        );
        let row: Option<SpacecraftRow> = self
            .short_read(|connection| {
                connection
                    .prepare_cached(SQL)?
                    .query_row([tenant.as_str(), id.as_str()], six_columns)
                    .optional()
            })
            .await?;
        row.map(spacecraft_from_row).transpose()
    }

    async fn existing_spacecraft(
        &self,
        tenant: &TenantId,
        ids: &[SpacecraftId],
    ) -> Result<Vec<SpacecraftId>> {
        // Asked on the direct write connection, on the calling thread: live ingest asks under
        // the group commit's turn, right after the previous group's commit on that
        // connection, whose cache holds the spacecraft index's pages. sqlx's write connection
        // (below, on a store without it) needs its thread woken and reads those pages again
        // after every commit of the direct one.
        let direct = self
            .writer
            .read_direct(|conn| {
                let mut exists = conn.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM spacecraft WHERE tenant = ?1 AND id = ?2)",
                )?;
                let mut existing = Vec::new();
                for id in ids {
                    if exists.query_row([tenant.as_str(), id.as_str()], |row| row.get(0))? {
                        existing.push(id.clone());
                    }
                }
                Ok(existing)
            })
            .await;
        if let Some(existing) = direct {
            return existing;
        }
        let mut existing = Vec::new();
        let mut writer = self.writer.lock().await?;
        for chunk in ids.chunks(rows_per_statement(1) - 1) {
            let mut query =
                QueryBuilder::<Sqlite>::new("SELECT id FROM spacecraft WHERE tenant = ");
            query.push_bind(tenant.as_str()).push(" AND id IN (");
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(id.as_str());
            }
            query.push(")");
            let found: Vec<String> = query
                .build_query_scalar()
                .fetch_all(&mut *writer)
                .await
                .db()?;
            let found: HashSet<String> = found.into_iter().collect();
            existing.extend(
                chunk
                    .iter()
                    .filter(|id| found.contains(id.as_str()))
                    .cloned(),
            );
        }
        Ok(existing)
    }

    /// One statement on a reader's thread: ten thousand rows are no short read, and the
    /// writer goes on meanwhile.
    async fn every_spacecraft(&self, tenant: &TenantId) -> Result<Vec<Spacecraft>> {
        let rows: Vec<SpacecraftRow> = sqlx::query_as(concat!(
            "SELECT ",
            spacecraft_columns!(),
            " FROM spacecraft WHERE tenant = ? ORDER BY created_at, id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.reader)
        .await
        .db()?;
        rows.into_iter().map(spacecraft_from_row).collect()
    }

    async fn list_spacecraft(
        &self,
        tenant: &TenantId,
        limit: Limit,
        offset: u64,
    ) -> Result<SpacecraftPage> {
        // One statement, so that the total and the page describe the same moment: the count,
        // beside each row of the page (one row of no spacecraft when the page is empty).
        const SQL: &str = concat!(
            "SELECT n.total, s.* FROM (SELECT COUNT(*) AS total FROM spacecraft WHERE tenant = ?1) \
             AS n LEFT JOIN (SELECT ",
            spacecraft_columns!(),
            " FROM spacecraft WHERE tenant = ?1 ORDER BY created_at, id LIMIT ?2 OFFSET ?3) AS s \
             ORDER BY s.created_at, s.id"
        );
        let bounds = (sql_count(limit.get()), sql_count(offset));
        let (total, rows) = self
            .short_read(|connection| {
                let mut statement = connection.prepare_cached(SQL)?;
                let mut rows =
                    statement.query(rusqlite::params![tenant.as_str(), bounds.0, bounds.1])?;
                let mut total = 0i64;
                let mut page: Vec<SpacecraftRow> = Vec::new();
                while let Some(row) = rows.next()? {
                    total = row.get(0)?;
                    if row.get_ref(1)? != rusqlite::types::ValueRef::Null {
                        page.push((
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                            row.get(5)?,
                            row.get(6)?,
                        ));
                    }
                }
                Ok((total, page))
            })
            .await?;
        Ok(SpacecraftPage {
            total: u64::try_from(total).unwrap_or(0),
            items: rows
                .into_iter()
                .map(spacecraft_from_row)
                .collect::<Result<_>>()?,
        })
    }
}

type ConfigRow = (String, i64, String, String, Option<String>, i64);

/// Spacecraft looked up per query by a list of ids (well under SQLite's 32,766 variables).
pub(super) const LOOKUPS_PER_QUERY: usize = 500;

/// For a statement on a plain connection that binds the tenant as `?1` and `ids` after it:
/// the placeholders `?2, ?3, …` to list them, and every value to bind, in order.
pub(super) fn tenant_then_ids<'a>(
    tenant: &'a TenantId,
    ids: &'a [SpacecraftId],
) -> (String, Vec<&'a str>) {
    let listed: Vec<String> = (2..ids.len() + 2).map(|n| format!("?{n}")).collect();
    let values = std::iter::once(tenant.as_str())
        .chain(ids.iter().map(SpacecraftId::as_str))
        .collect();
    (listed.join(", "), values)
}

impl SqliteStore {
    /// For each of `spacecraft`, in their order, the time `newest` reads, `None` for one it
    /// has no row (or a `NULL`) for. `newest(listed)` is a statement binding the tenant as
    /// `?1` and the ids listed as `listed` (`?2, ?3, …`), answering rows of (id, time in epoch
    /// milliseconds); each is a short read of at most [`LOOKUPS_PER_QUERY`] ids, one index
    /// lookup each. `what` names the times in an error.
    pub(super) async fn short_read_times_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
        what: &str,
        newest: impl Fn(&str) -> String,
    ) -> Result<Vec<Option<Timestamp>>> {
        let mut times = HashMap::with_capacity(spacecraft.len());
        for chunk in spacecraft.chunks(LOOKUPS_PER_QUERY) {
            let (listed, parameters) = tenant_then_ids(tenant, chunk);
            let sql = newest(&listed);
            let rows: Vec<(String, Option<i64>)> = self
                .short_read(|connection| {
                    connection
                        .prepare_cached(&sql)?
                        .query_map(rusqlite::params_from_iter(&parameters), |row| {
                            Ok((row.get(0)?, row.get(1)?))
                        })?
                        .collect()
                })
                .await?;
            for (id, at) in rows {
                if let Some(at) = at {
                    times.insert(id.clone(), stored_time(at, what, &id)?);
                }
            }
        }
        Ok(spacecraft
            .iter()
            .map(|id| times.get(id.as_str()).copied())
            .collect())
    }
}

/// Appends `tenant` (after a `tenant = ` already written) and ` AND spacecraft_id IN (…)` of
/// `ids`, each bound.
pub(super) fn push_tenant_and_ids(
    query: &mut QueryBuilder<'_, Sqlite>,
    tenant: &TenantId,
    ids: &[SpacecraftId],
) {
    query
        .push_bind(tenant.as_str().to_owned())
        .push(" AND spacecraft_id IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id.as_str().to_owned());
    }
    query.push(")");
}

/// A configuration version's columns, in [`ConfigRow`]'s order.
macro_rules! config_columns {
    () => {
        "spacecraft_id, version, document, status, source, created_at"
    };
}

fn config_from_row(row: ConfigRow) -> Result<ConfigRecord> {
    let (spacecraft_id, version, document, status, source, created_at) = row;
    let what = "configuration of spacecraft";
    let id = spacecraft_id.as_str();
    Ok(ConfigRecord {
        version: u32::try_from(version).map_err(|e| corrupt(what, id, e))?,
        config: SpacecraftConfig::from_stored(
            read_object(&document).map_err(|e| corrupt(what, id, e))?,
        ),
        status: stored(ConfigStatus::parse(&status), what, id)?,
        source: source
            .map(|s| stored(ConfigSource::parse(&s), what, id))
            .transpose()?,
        created_at: stored_time(created_at, what, id)?,
        spacecraft_id: stored(SpacecraftId::parse(id), what, id)?,
    })
}

#[async_trait]
impl ConfigRepository for SqliteStore {
    async fn current_config(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<ConfigRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            config_columns!(),
            " FROM config_versions WHERE tenant = ?1 AND spacecraft_id = ?2 \
             ORDER BY version DESC LIMIT 1"
        );
        let row: Option<ConfigRow> = self
            .short_read(|connection| {
                connection
                    .prepare_cached(SQL)?
                    .query_row([tenant.as_str(), spacecraft.as_str()], six_columns)
                    .optional()
            })
            .await?;
        row.map(config_from_row).transpose()
    }

    async fn current_configs(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<ConfigRecord>>> {
        let mut newest = HashMap::new();
        for chunk in spacecraft.chunks(LOOKUPS_PER_QUERY) {
            let (listed, parameters) = tenant_then_ids(tenant, chunk);
            let sql = format!(
                concat!(
                    "SELECT ",
                    config_columns!(),
                    " FROM config_versions AS c WHERE tenant = ?1 AND spacecraft_id IN ({}) \
                     AND version = (SELECT MAX(version) FROM config_versions \
                     WHERE tenant = c.tenant AND spacecraft_id = c.spacecraft_id)"
                ),
                listed
            );
            let rows: Vec<ConfigRow> = self
                .short_read(|connection| {
                    connection
                        .prepare_cached(&sql)?
                        .query_map(rusqlite::params_from_iter(&parameters), six_columns)?
                        .collect()
                })
                .await?;
            for row in rows {
                let record = config_from_row(row)?;
                newest.insert(record.spacecraft_id.clone(), record);
            }
        }
        Ok(spacecraft
            .iter()
            .map(|id| newest.get(id).cloned())
            .collect())
    }

    async fn current_config_version(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<u32>> {
        const SQL: &str = "SELECT version FROM config_versions \
                           WHERE tenant = ?1 AND spacecraft_id = ?2 ORDER BY version DESC LIMIT 1";
        let version: Option<i64> = self
            .short_read(|connection| {
                connection
                    .prepare_cached(SQL)?
                    .query_row([tenant.as_str(), spacecraft.as_str()], |row| row.get(0))
                    .optional()
            })
            .await?;
        version
            .map(|v| {
                u32::try_from(v)
                    .map_err(|e| corrupt("configuration of spacecraft", spacecraft.as_str(), e))
            })
            .transpose()
    }

    async fn put_config(
        &self,
        tenant: &TenantId,
        record: ConfigRecord,
        event: NewEvent,
    ) -> Result<()> {
        let document = to_json(record.config.as_object())?;
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        require_spacecraft(&mut tx, tenant, &record.spacecraft_id).await?;
        let current: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) FROM config_versions \
             WHERE tenant = ? AND spacecraft_id = ?",
        )
        .bind(tenant.as_str())
        .bind(record.spacecraft_id.as_str())
        .fetch_one(&mut *tx)
        .await
        .db()?;
        if i64::from(record.version) != current + 1 {
            return Err(Error::conflict(
                "configuration of spacecraft",
                &record.spacecraft_id,
                format!(
                    "version {} was written concurrently (current is {current})",
                    record.version
                ),
            ));
        }
        sqlx::query(
            "INSERT INTO config_versions \
             (tenant, spacecraft_id, version, document, status, source, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant.as_str())
        .bind(record.spacecraft_id.as_str())
        .bind(i64::from(record.version))
        .bind(document)
        .bind(record.status.as_str())
        .bind(record.source.map(ConfigSource::as_str))
        .bind(record.created_at.as_millis())
        .execute(&mut *tx)
        .await
        .db()?;
        events::record(&mut tx, tenant, std::slice::from_ref(&event)).await?;
        tx.commit().await.db()?;
        // SQLite numbered it; a registration in one go reads the highest key again.
        self.set_next_spacecraft_key(None);
        Ok(())
    }

    async fn config_history(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<ConfigRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            config_columns!(),
            " FROM config_versions WHERE tenant = ?1 AND spacecraft_id = ?2 ORDER BY version"
        );
        let rows: Vec<ConfigRow> = self
            .short_read(|connection| {
                connection
                    .prepare_cached(SQL)?
                    .query_map([tenant.as_str(), spacecraft.as_str()], six_columns)?
                    .collect()
            })
            .await?;
        rows.into_iter().map(config_from_row).collect()
    }
}
