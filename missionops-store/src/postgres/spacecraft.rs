//! Spacecraft and the versions of their configuration.

use missionops_core::TenantId;
use std::collections::HashSet;

use async_trait::async_trait;
use missionops_core::{
    ConfigRecord, ConfigRepository, ConfigSource, ConfigStatus, Error, Limit, MissionType,
    NewEvent, Registration, Result, Spacecraft, SpacecraftConfig, SpacecraftId, SpacecraftName,
    SpacecraftPage, SpacecraftRepository,
};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use super::codec::{PgTime, get, object_text, parse_object, stored, time, version_column};
use super::events::{EventRows, record_events};
use super::{PostgresStore, db, is_untranslatable_character, to_i64, unique_violation};

/// Which of the ids `$2` are spacecraft of the tenant `$1`: a primary-key lookup per id.
/// Planned generically (as the store's statements are outside transactions, and as PostgreSQL
/// settles on after five runs inside them), `id = ANY($2)` read every spacecraft of the tenant
/// (2.4 ms at 20,000; this form 0.06 ms). `LIMIT 1` keeps the lookup from being flattened into
/// a join.
pub(super) const EXISTING_SPACECRAFT: &str = "SELECT s.id FROM unnest($2::text[]) AS wanted(id) \
     CROSS JOIN LATERAL \
       (SELECT id FROM spacecraft WHERE tenant = $1 AND id = wanted.id LIMIT 1) s";

/// [`EXISTING_SPACECRAFT`] as one statement in its own implicit transaction, which sets the
/// tenant for row-level security itself (each lookup waits for it: it reads the materialized
/// setting): the group commit asks it for every group that names a spacecraft it has not
/// seen, and a transaction around it took three round trips.
pub(super) const EXISTING_SPACECRAFT_ALONE: &str = "WITH scope AS MATERIALIZED (SELECT set_config('missionops.tenant', $1, true) AS tenant) \
     SELECT s.id FROM scope CROSS JOIN unnest($2::text[]) AS wanted(id) \
     CROSS JOIN LATERAL \
       (SELECT id FROM spacecraft WHERE tenant = scope.tenant AND id = wanted.id LIMIT 1) s";

fn spacecraft_from_row(row: &PgRow) -> Result<Spacecraft> {
    let metadata: String = get(row, "metadata")?;
    Ok(Spacecraft {
        id: stored(
            "spacecraft id",
            SpacecraftId::parse(get::<String>(row, "id")?),
        )?,
        name: stored(
            "spacecraft name",
            SpacecraftName::parse(get::<String>(row, "name")?),
        )?,
        mission_type: stored(
            "mission type",
            MissionType::parse(get::<String>(row, "mission_type")?),
        )?,
        metadata: parse_object("spacecraft metadata", &metadata)?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

/// The columns [`spacecraft_from_row`] reads.
macro_rules! spacecraft_columns {
    () => {
        "SELECT id, name, mission_type, metadata_json::text AS metadata, created_at, updated_at
         FROM spacecraft "
    };
}

/// The ids among `ids` that name no spacecraft, in the order given (each once).
pub(super) async fn unknown_spacecraft<'a>(
    conn: &mut PgConnection,
    tenant: &TenantId,
    ids: impl IntoIterator<Item = &'a SpacecraftId>,
) -> Result<Vec<&'a SpacecraftId>> {
    let mut wanted: Vec<&SpacecraftId> = Vec::new();
    for id in ids {
        // Batches usually name one spacecraft; a linear scan beats a set for a handful.
        if !wanted.contains(&id) {
            wanted.push(id);
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = wanted.iter().map(|id| id.as_str()).collect();
    let known: Vec<String> = sqlx::query_scalar(EXISTING_SPACECRAFT)
        .bind(tenant.as_str())
        .bind(&names)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    Ok(wanted
        .into_iter()
        .filter(|id| !known.iter().any(|k| k == id.as_str()))
        .collect())
}

/// Fails with [`Error::NotFound`] naming the first of `ids` that is not a spacecraft.
pub(super) async fn require_spacecraft<'a>(
    conn: &mut PgConnection,
    tenant: &TenantId,
    ids: impl IntoIterator<Item = &'a SpacecraftId>,
) -> Result<()> {
    match unknown_spacecraft(conn, tenant, ids).await?.first() {
        Some(id) => Err(Error::not_found("spacecraft", id)),
        None => Ok(()),
    }
}

/// A JSON document that `jsonb` refused: it holds a NUL character.
fn nul_in_document(field: &str) -> Error {
    Error::invalid(
        field,
        "must not contain NUL characters (\\u0000): PostgreSQL cannot store them in jsonb",
    )
}

/// Registers each of `registrations` whose id nobody registered, in the open transaction on
/// `conn`, and returns the events of those it registered, in the order given (see
/// [`TelemetryWrite::registrations`](missionops_core::TelemetryWrite::registrations)).
///
/// One statement, in id order, so that concurrent writes registering the same spacecraft
/// take their locks in the same order: the later one waits for the earlier to commit and then
/// registers nothing.
pub(super) async fn register_missing<'a>(
    conn: &mut PgConnection,
    tenant: &TenantId,
    registrations: &'a [Registration],
) -> Result<Vec<&'a NewEvent>> {
    if registrations.is_empty() {
        return Ok(Vec::new());
    }
    let rows = RegistrationRows::of(registrations)?;
    let registered: Vec<String> = sqlx::query_scalar(
        "INSERT INTO spacecraft
             (tenant, id, name, mission_type, metadata_json, created_at, updated_at)
         SELECT $7, i, n, m, d::json, c, u
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                     $6::timestamptz[]) WITH ORDINALITY AS x(i, n, m, d, c, u, k)
         ORDER BY k
         ON CONFLICT (tenant, id) DO NOTHING
         RETURNING id",
    )
    .bind(&rows.ids)
    .bind(&rows.names)
    .bind(&rows.types)
    .bind(&rows.metadata)
    .bind(&rows.created)
    .bind(&rows.updated)
    .bind(tenant.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| {
        if is_untranslatable_character(&e) {
            nul_in_document("metadata")
        } else {
            db(e)
        }
    })?;
    let mut registered: HashSet<String> = registered.into_iter().collect();
    Ok(registrations
        .iter()
        .filter(|r| registered.remove(r.spacecraft.id.as_str()))
        .map(|r| &r.event)
        .collect())
}

/// The registrations of a write as the columns of one statement: the first registration of
/// each id (the one that counts, as one after another), sorted by id so that concurrent
/// writes registering the same spacecraft lock them in the same order, each with its
/// `SPACECRAFT_REGISTERED` event and its place in the write (`order`, the order the events of
/// those registered are recorded in).
pub(super) struct RegistrationRows<'a> {
    pub(super) ids: Vec<&'a str>,
    pub(super) names: Vec<&'a str>,
    pub(super) types: Vec<&'a str>,
    pub(super) metadata: Vec<String>,
    pub(super) created: Vec<PgTime>,
    pub(super) updated: Vec<PgTime>,
    pub(super) order: Vec<i64>,
    pub(super) events: EventRows<'a>,
}

impl<'a> RegistrationRows<'a> {
    pub(super) fn of(registrations: &'a [Registration]) -> Result<Self> {
        let mut seen = HashSet::with_capacity(registrations.len());
        let mut firsts: Vec<(usize, &Registration)> = registrations
            .iter()
            .filter(|r| seen.insert(&r.spacecraft.id))
            .enumerate()
            .collect();
        firsts.sort_by(|(_, a), (_, b)| a.spacecraft.id.cmp(&b.spacecraft.id));
        let spacecraft = || firsts.iter().map(|(_, r)| &r.spacecraft);
        let events: Vec<&NewEvent> = firsts.iter().map(|(_, r)| &r.event).collect();
        Ok(RegistrationRows {
            ids: spacecraft().map(|s| s.id.as_str()).collect(),
            names: spacecraft().map(|s| s.name.as_str()).collect(),
            types: spacecraft().map(|s| s.mission_type.as_str()).collect(),
            metadata: spacecraft()
                .map(|s| object_text(&s.metadata))
                .collect::<Result<_>>()?,
            created: spacecraft().map(|s| PgTime(s.created_at)).collect(),
            updated: spacecraft().map(|s| PgTime(s.updated_at)).collect(),
            order: firsts.iter().map(|(at, _)| to_i64(*at)).collect(),
            events: EventRows::of(&events)?,
        })
    }
}

#[async_trait]
impl SpacecraftRepository for PostgresStore {
    async fn register_spacecraft(
        &self,
        tenant: &TenantId,
        spacecraft: Spacecraft,
        event: NewEvent,
    ) -> Result<()> {
        let metadata = object_text(&spacecraft.metadata)?;
        let mut tx = self.begin_for(tenant).await?;
        let inserted = sqlx::query(
            "INSERT INTO spacecraft
                 (tenant, id, name, mission_type, metadata_json, created_at, updated_at)
             VALUES ($7, $1, $2, $3, $4::json, $5, $6)
             ON CONFLICT (tenant, id) DO NOTHING",
        )
        .bind(spacecraft.id.as_str())
        .bind(spacecraft.name.as_str())
        .bind(spacecraft.mission_type.as_str())
        .bind(&metadata)
        .bind(PgTime(spacecraft.created_at))
        .bind(PgTime(spacecraft.updated_at))
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_untranslatable_character(&e) {
                nul_in_document("metadata")
            } else {
                db(e)
            }
        })?;
        if inserted.rows_affected() == 0 {
            return Err(Error::conflict(
                "spacecraft",
                &spacecraft.id,
                "already exists",
            ));
        }
        record_events(&mut tx, tenant, &[&event], &[]).await?;
        tx.commit().await.map_err(db)
    }

    async fn get_spacecraft(
        &self,
        tenant: &TenantId,
        id: &SpacecraftId,
    ) -> Result<Option<Spacecraft>> {
        const SQL: &str = concat!(spacecraft_columns!(), "WHERE tenant = $2 AND id = $1");
        self.one_of_tenant(tenant, SQL, id.as_str(), spacecraft_from_row)
            .await
    }

    /// One query, by primary key: the group commit asks it about
    /// every spacecraft of a group it has not seen, under the queue's turn (the default's one
    /// transaction per id made a group of new spacecraft wait for as many round trips).
    async fn existing_spacecraft(
        &self,
        tenant: &TenantId,
        ids: &[SpacecraftId],
    ) -> Result<Vec<SpacecraftId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<&str> = ids.iter().map(SpacecraftId::as_str).collect();
        let mut conn = self.lookup_connection.get(&self.pool).await.map_err(db)?;
        let found: HashSet<String> = sqlx::query_scalar(EXISTING_SPACECRAFT_ALONE)
            .bind(tenant.as_str())
            .bind(&names)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
            .into_iter()
            .collect();
        conn.succeeded();
        Ok(ids
            .iter()
            .filter(|id| found.contains(id.as_str()))
            .cloned()
            .collect())
    }

    /// One statement, where pages of 1,000 each counted the fleet and skipped the pages
    /// before them.
    async fn every_spacecraft(&self, tenant: &TenantId) -> Result<Vec<Spacecraft>> {
        let mut reader = self.read_for(tenant).await?;
        let rows = sqlx::query(
            "SELECT id, name, mission_type, metadata_json::text AS metadata, created_at,
                    updated_at
             FROM spacecraft WHERE tenant = $1 ORDER BY created_at, id",
        )
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        rows.iter().map(spacecraft_from_row).collect()
    }

    async fn list_spacecraft(
        &self,
        tenant: &TenantId,
        limit: Limit,
        offset: u64,
    ) -> Result<SpacecraftPage> {
        let mut reader = self.read_for(tenant).await?;
        // One statement, so that the total and the page come from the same snapshot.
        let rows = sqlx::query(
            "WITH page AS (
                 SELECT id, name, mission_type, metadata_json::text AS metadata, created_at,
                        updated_at
                 FROM spacecraft WHERE tenant = $3 ORDER BY created_at, id LIMIT $1 OFFSET $2)
             SELECT (SELECT count(*) FROM spacecraft WHERE tenant = $3) AS total, page.*
             FROM (SELECT 1) AS one LEFT JOIN page ON true
             ORDER BY page.created_at, page.id",
        )
        .bind(to_i64(limit.get()))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        let total: i64 = match rows.first() {
            Some(row) => get(row, "total")?,
            None => 0,
        };
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            // The left join yields one row of NULLs when the page is empty.
            if get::<Option<String>>(row, "id")?.is_some() {
                items.push(spacecraft_from_row(row)?);
            }
        }
        Ok(SpacecraftPage {
            total: u64::try_from(total).unwrap_or(0),
            items,
        })
    }
}

fn config_from_row(row: &PgRow) -> Result<ConfigRecord> {
    let config: String = get(row, "config")?;
    Ok(ConfigRecord {
        spacecraft_id: stored(
            "config spacecraft id",
            SpacecraftId::parse(get::<String>(row, "spacecraft_id")?),
        )?,
        version: version_column(row, "version")?,
        config: SpacecraftConfig::from_stored(parse_object("configuration", &config)?),
        status: stored(
            "config status",
            ConfigStatus::parse(&get::<String>(row, "status")?),
        )?,
        source: get::<Option<String>>(row, "source")?
            .map(|s| stored("config source", ConfigSource::parse(&s)))
            .transpose()?,
        created_at: time(row, "created_at")?,
    })
}

/// The columns [`config_from_row`] reads.
macro_rules! config_columns {
    () => {
        "SELECT spacecraft_id, version, config_json::text AS config, status, source, created_at
         FROM spacecraft_configs "
    };
}

#[async_trait]
impl ConfigRepository for PostgresStore {
    async fn current_config(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<ConfigRecord>> {
        let mut reader = self.read_for(tenant).await?;
        let row = sqlx::query(concat!(
            config_columns!(),
            "WHERE tenant = $2 AND spacecraft_id = $1 ORDER BY version DESC LIMIT 1"
        ))
        .bind(spacecraft.as_str())
        .bind(tenant.as_str())
        .fetch_optional(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        row.as_ref().map(config_from_row).transpose()
    }

    /// One statement for the list, the newest row of each spacecraft read by its key (a
    /// lateral lookup per id, which the generic plan keeps a key lookup however the table
    /// grows), in one transaction of the tenant.
    async fn current_configs(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<ConfigRecord>>> {
        if spacecraft.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = spacecraft.iter().map(|id| id.as_str()).collect();
        let mut reader = self.read_for(tenant).await?;
        let rows = sqlx::query(
            "SELECT c.spacecraft_id, c.version, c.config_json::text AS config, c.status,
                    c.source, c.created_at
             FROM unnest($1::text[]) AS wanted(id)
             CROSS JOIN LATERAL (SELECT * FROM spacecraft_configs
                                 WHERE tenant = $2 AND spacecraft_id = wanted.id
                                 ORDER BY version DESC LIMIT 1) AS c",
        )
        .bind(&ids)
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        let mut newest = std::collections::HashMap::new();
        for row in &rows {
            let record = config_from_row(row)?;
            newest.insert(record.spacecraft_id.clone(), record);
        }
        Ok(spacecraft
            .iter()
            .map(|id| newest.get(id).cloned())
            .collect())
    }

    /// The version alone: every live monitor asks it every 2 s, and the document (which the
    /// default reads) can be large.
    async fn current_config_version(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<u32>> {
        self.newest_version(
            tenant,
            spacecraft,
            super::NEWEST_CONFIG_VERSION,
            "configuration version",
        )
        .await
    }

    async fn put_config(
        &self,
        tenant: &TenantId,
        record: ConfigRecord,
        event: NewEvent,
    ) -> Result<()> {
        let document = object_text(record.config.as_object())?;
        let version = super::codec::version_to_i32(record.version)?;
        let mut tx = self.begin_for(tenant).await?;
        let (exists, current): (bool, Option<i32>) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM spacecraft WHERE tenant = $2 AND id = $1),
                    (SELECT max(version) FROM spacecraft_configs
                     WHERE tenant = $2 AND spacecraft_id = $1)",
        )
        .bind(record.spacecraft_id.as_str())
        .bind(tenant.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if !exists {
            return Err(Error::not_found("spacecraft", &record.spacecraft_id));
        }
        let current = current.unwrap_or(0);
        let stale = || {
            Error::conflict(
                "configuration of spacecraft",
                &record.spacecraft_id,
                format!(
                    "version {} was written concurrently (current is {current})",
                    record.version
                ),
            )
        };
        if i64::from(version) != i64::from(current) + 1 {
            return Err(stale());
        }
        // A concurrent writer of the same version that commits first makes this insert fail on
        // the primary key: the same conflict, detected by the database.
        sqlx::query(
            "INSERT INTO spacecraft_configs
                 (tenant, spacecraft_id, version, config_json, status, source, created_at)
             VALUES ($7, $1, $2, $3::json, $4, $5, $6)",
        )
        .bind(record.spacecraft_id.as_str())
        .bind(version)
        .bind(&document)
        .bind(record.status.as_str())
        .bind(record.source.map(ConfigSource::as_str))
        .bind(PgTime(record.created_at))
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| match unique_violation(&e) {
            Some("spacecraft_configs_pkey") => stale(),
            _ if is_untranslatable_character(&e) => nul_in_document("config"),
            _ => db(e),
        })?;
        record_events(&mut tx, tenant, &[&event], &[]).await?;
        tx.commit().await.map_err(db)
    }

    async fn config_history(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<ConfigRecord>> {
        let mut reader = self.read_for(tenant).await?;
        let rows = sqlx::query(concat!(
            config_columns!(),
            "WHERE tenant = $2 AND spacecraft_id = $1 ORDER BY version"
        ))
        .bind(spacecraft.as_str())
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        rows.iter().map(config_from_row).collect()
    }
}
