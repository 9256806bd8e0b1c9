//! Packet definition versions (SPEC §11).

use async_trait::async_trait;
use missionops_core::{
    Error, NewEvent, PacketDefinitionRecord, PacketDefinitionRepository, Result, SpacecraftId,
    TenantId,
};
use sqlx::postgres::PgRow;

use super::codec::{PgTime, get, stored, time, version_column, version_to_i32};
use super::events::record_events;
use super::{PostgresStore, db, unique_violation};

const WHAT: &str = "packet definition of spacecraft";

fn definition_from_row(row: &PgRow) -> Result<PacketDefinitionRecord> {
    Ok(PacketDefinitionRecord {
        spacecraft_id: stored(
            "packet definition spacecraft id",
            SpacecraftId::parse(get::<String>(row, "spacecraft_id")?),
        )?,
        version: version_column(row, "version")?,
        text: get(row, "document")?,
        created_at: time(row, "created_at")?,
    })
}

#[async_trait]
impl PacketDefinitionRepository for PostgresStore {
    async fn current_packet_definition(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<PacketDefinitionRecord>> {
        let mut reader = self.read_for(tenant).await?;
        let row = sqlx::query(
            "SELECT spacecraft_id, version, document, created_at FROM packet_definitions
             WHERE tenant = $1 AND spacecraft_id = $2 ORDER BY version DESC LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(spacecraft.as_str())
        .fetch_optional(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        row.as_ref().map(definition_from_row).transpose()
    }

    async fn current_packet_definition_version(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<u32>> {
        self.newest_version(
            tenant,
            spacecraft,
            super::NEWEST_PACKET_DEFINITION_VERSION,
            "packet definition version",
        )
        .await
    }

    /// One statement for the list: the newest version of each spacecraft read by its key.
    async fn current_packet_definition_versions(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<u32>>> {
        let versions = self
            .one_value_each::<i32>(
                tenant,
                spacecraft,
                "SELECT (SELECT version FROM packet_definitions
                         WHERE tenant = $2 AND spacecraft_id = wanted.id
                         ORDER BY version DESC LIMIT 1)
                 FROM unnest($1::text[]) WITH ORDINALITY AS wanted(id, n)
                 ORDER BY wanted.n",
            )
            .await?;
        versions
            .into_iter()
            .map(|version| {
                version
                    .map(|v| {
                        u32::try_from(v)
                            .map_err(|e| super::codec::corrupt("packet definition version", e))
                    })
                    .transpose()
            })
            .collect()
    }

    async fn put_packet_definition(
        &self,
        tenant: &TenantId,
        record: PacketDefinitionRecord,
        event: NewEvent,
    ) -> Result<()> {
        let version = version_to_i32(record.version)?;
        let mut tx = self.begin_for(tenant).await?;
        let (exists, current): (bool, Option<i32>) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM spacecraft WHERE tenant = $1 AND id = $2),
                    (SELECT max(version) FROM packet_definitions
                     WHERE tenant = $1 AND spacecraft_id = $2)",
        )
        .bind(tenant.as_str())
        .bind(record.spacecraft_id.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if !exists {
            return Err(Error::not_found("spacecraft", &record.spacecraft_id));
        }
        let current = current.unwrap_or(0);
        let stale = || {
            Error::conflict(
                WHAT,
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
            "INSERT INTO packet_definitions (tenant, spacecraft_id, version, document, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant.as_str())
        .bind(record.spacecraft_id.as_str())
        .bind(version)
        .bind(&record.text)
        .bind(PgTime(record.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| match unique_violation(&e) {
            Some("packet_definitions_pkey") => stale(),
            _ => db(e),
        })?;
        record_events(&mut tx, tenant, &[&event], &[]).await?;
        tx.commit().await.map_err(db)
    }

    async fn packet_definition_history(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<PacketDefinitionRecord>> {
        let mut reader = self.read_for(tenant).await?;
        let rows = sqlx::query(
            "SELECT spacecraft_id, version, document, created_at FROM packet_definitions
             WHERE tenant = $1 AND spacecraft_id = $2 ORDER BY version",
        )
        .bind(tenant.as_str())
        .bind(spacecraft.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        rows.iter().map(definition_from_row).collect()
    }
}
