//! Configurations in memory: every version kept, the newest current.

use async_trait::async_trait;
use missionops_core::TenantId;
use missionops_core::{ConfigRecord, ConfigRepository, Error, NewEvent, Result, SpacecraftId};

use super::MemoryStore;

#[async_trait]
impl ConfigRepository for MemoryStore {
    async fn current_config(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<ConfigRecord>> {
        Ok(self
            .lock()?
            .tenant(tenant)
            .configs
            .get(spacecraft)
            .and_then(|versions| versions.last().cloned()))
    }

    async fn put_config(
        &self,
        tenant: &TenantId,
        record: ConfigRecord,
        event: NewEvent,
    ) -> Result<()> {
        let mut world = self.lock()?;
        let (inner, log) = world.split(tenant);
        inner.require_spacecraft(&record.spacecraft_id)?;
        let current = inner
            .configs
            .get(&record.spacecraft_id)
            .map_or(0, |versions| versions.len() as u32);
        if record.version != current + 1 {
            return Err(Error::conflict(
                "configuration of spacecraft",
                &record.spacecraft_id,
                format!(
                    "version {} was written concurrently (current is {current})",
                    record.version
                ),
            ));
        }
        log.check_events([&event])?;
        inner
            .configs
            .entry(record.spacecraft_id.clone())
            .or_default()
            .push(record);
        log.record(tenant, event);
        Ok(())
    }

    async fn config_history(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<ConfigRecord>> {
        Ok(self
            .lock()?
            .tenant(tenant)
            .configs
            .get(spacecraft)
            .cloned()
            .unwrap_or_default())
    }
}
