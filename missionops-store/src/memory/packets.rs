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
            .tenant(tenant)
            .packet_definitions
            .get(spacecraft)
            .and_then(|versions| versions.last().cloned()))
    }

    async fn put_packet_definition(
        &self,
        tenant: &TenantId,
        record: PacketDefinitionRecord,
        event: NewEvent,
    ) -> Result<()> {
        let mut world = self.lock()?;
        let (inner, log) = world.split(tenant);
        inner.require_spacecraft(&record.spacecraft_id)?;
        let current = inner
            .packet_definitions
            .get(&record.spacecraft_id)
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
        log.check_events([&event])?;
        inner
            .packet_definitions
            .entry(record.spacecraft_id.clone())
            .or_default()
            .push(record);
        log.record(tenant, event);
        Ok(())
    }

    async fn packet_definition_history(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<PacketDefinitionRecord>> {
        Ok(self
            .lock()?
            .tenant(tenant)
            .packet_definitions
            .get(spacecraft)
            .cloned()
            .unwrap_or_default())
    }
}
