//! Packet definitions in memory: every version kept, the newest current.

use async_trait::async_trait;
use missionops_core::{
    Error, NewEvent, PacketDefinitionRecord, PacketDefinitionRepository, Result, SpacecraftId,
    TenantId,
};

use super::MemoryStore;

#[async_trait]
impl PacketDefinitionRepository for MemoryStore {
    async fn current_packet_definition(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<PacketDefinitionRecord>> {
        Ok(self
            .lock()?
            .packet_definitions
            .get(&(tenant.clone(), spacecraft.clone()))
            .and_then(|versions| versions.last().cloned()))
    }

    async fn put_packet_definition(
        &self,
        tenant: &TenantId,
        record: PacketDefinitionRecord,
        event: NewEvent,
    ) -> Result<()> {
        let mut inner = self.lock()?;
        inner.require_spacecraft(&record.spacecraft_id)?;
        let key = (tenant.clone(), record.spacecraft_id.clone());
        let current = inner
            .packet_definitions
            .get(&key)
            .map_or(0, |versions| versions.len() as u32);
        if record.version != current + 1 {
            return Err(Error::conflict(
                "packet definition of spacecraft",
                &record.spacecraft_id,
                format!(
                    "version {} was written concurrently (current is {current})",
                    record.version
                ),
            ));
        }
        inner.check_events([&event])?;
        inner
            .packet_definitions
            .entry(key)
            .or_default()
            .push(record);
        inner.record(event);
        Ok(())
    }

    async fn packet_definition_history(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<PacketDefinitionRecord>> {
        Ok(self
            .lock()?
            .packet_definitions
            .get(&(tenant.clone(), spacecraft.clone()))
            .cloned()
            .unwrap_or_default())
    }
}
