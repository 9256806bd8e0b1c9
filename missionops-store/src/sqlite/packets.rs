//! Packet definition versions (SPEC §11).

use async_trait::async_trait;
use missionops_core::{
    Error, NewEvent, PacketDefinitionRecord, PacketDefinitionRepository, Result, SpacecraftId,
    TenantId,
};

use super::{DbResult, SqliteStore, begin_write, corrupt, events, require_spacecraft, stored_time};

type DefinitionRow = (String, i64, String, i64);

const WHAT: &str = "packet definition of spacecraft";

fn definition_from_row(row: DefinitionRow) -> Result<PacketDefinitionRecord> {
    let (id, version, text, created_at) = row;
    Ok(PacketDefinitionRecord {
        version: u32::try_from(version).map_err(|e| corrupt(WHAT, &id, e))?,
        text,
        created_at: stored_time(created_at, WHAT, &id)?,
        spacecraft_id: SpacecraftId::parse(id.as_str()).map_err(|e| corrupt(WHAT, &id, e))?,
    })
}

#[async_trait]
impl PacketDefinitionRepository for SqliteStore {
    async fn current_packet_definition(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<PacketDefinitionRecord>> {
        let row: Option<DefinitionRow> = sqlx::query_as(
            "SELECT spacecraft_id, version, document, created_at FROM packet_definitions \
             WHERE tenant = ? AND spacecraft_id = ? ORDER BY version DESC LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(spacecraft.as_str())
        .fetch_optional(&self.reader)
        .await
        .db()?;
        row.map(definition_from_row).transpose()
    }

    async fn current_packet_definition_version(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<u32>> {
        let version: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(version) FROM packet_definitions WHERE tenant = ? AND spacecraft_id = ?",
        )
        .bind(tenant.as_str())
        .bind(spacecraft.as_str())
        .fetch_one(&self.reader)
        .await
        .db()?;
        version
            .map(|v| u32::try_from(v).map_err(|e| corrupt(WHAT, spacecraft.as_str(), e)))
            .transpose()
    }

    async fn current_packet_definition_versions(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<u32>>> {
        let mut newest = std::collections::HashMap::new();
        for chunk in spacecraft.chunks(super::spacecraft::LOOKUPS_PER_QUERY) {
            let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "SELECT spacecraft_id, MAX(version) FROM packet_definitions WHERE tenant = ",
            );
            super::spacecraft::push_tenant_and_ids(&mut query, tenant, chunk);
            query.push(" GROUP BY spacecraft_id");
            let rows: Vec<(String, i64)> =
                query.build_query_as().fetch_all(&self.reader).await.db()?;
            for (id, version) in rows {
                let version = u32::try_from(version).map_err(|e| corrupt(WHAT, &id, e))?;
                newest.insert(id, version);
            }
        }
        Ok(spacecraft
            .iter()
            .map(|id| newest.get(id.as_str()).copied())
            .collect())
    }

    async fn put_packet_definition(
        &self,
        tenant: &TenantId,
        record: PacketDefinitionRecord,
        event: NewEvent,
    ) -> Result<()> {
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        require_spacecraft(&mut tx, tenant, &record.spacecraft_id).await?;
        let current: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) FROM packet_definitions \
             WHERE tenant = ? AND spacecraft_id = ?",
        )
        .bind(tenant.as_str())
        .bind(record.spacecraft_id.as_str())
        .fetch_one(&mut *tx)
        .await
        .db()?;
        if i64::from(record.version) != current + 1 {
            return Err(Error::conflict(
                WHAT,
                &record.spacecraft_id,
                format!(
                    "version {} was written concurrently (current is {current})",
                    record.version
                ),
            ));
        }
        sqlx::query(
            "INSERT INTO packet_definitions \
             (tenant, spacecraft_id, version, document, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(tenant.as_str())
        .bind(record.spacecraft_id.as_str())
        .bind(i64::from(record.version))
        .bind(&record.text)
        .bind(record.created_at.as_millis())
        .execute(&mut *tx)
        .await
        .db()?;
        events::record(&mut tx, tenant, std::slice::from_ref(&event)).await?;
        tx.commit().await.db()
    }

    async fn packet_definition_history(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<PacketDefinitionRecord>> {
        let rows: Vec<DefinitionRow> = sqlx::query_as(
            "SELECT spacecraft_id, version, document, created_at FROM packet_definitions \
             WHERE tenant = ? AND spacecraft_id = ? ORDER BY version",
        )
        .bind(tenant.as_str())
        .bind(spacecraft.as_str())
        .fetch_all(&self.reader)
        .await
        .db()?;
        rows.into_iter().map(definition_from_row).collect()
    }
}
