//! The event log in memory: gap-free sequences, listing per spacecraft and resuming after a
//! sequence, each tenant's own.

use async_trait::async_trait;
use missionops_core::TenantId;
use missionops_core::{EventRepository, Limit, MissionEvent, NewEvent, Result, SpacecraftId};

use super::MemoryStore;

#[async_trait]
impl EventRepository for MemoryStore {
    async fn record_event(&self, tenant: &TenantId, event: NewEvent) -> Result<MissionEvent> {
        let mut world = self.lock()?;
        world.log.check_events([&event])?;
        Ok(world.log.record(tenant, event))
    }

    async fn recent_events(
        &self,
        tenant: &TenantId,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        let world = self.lock()?;
        Ok(world
            .log
            .of(tenant, 0)
            .rev()
            .filter(|e| spacecraft.is_none_or(|id| e.spacecraft_id.as_ref() == Some(id)))
            .take(limit.get())
            .cloned()
            .collect())
    }

    async fn events_after(
        &self,
        tenant: &TenantId,
        after: u64,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        let world = self.lock()?;
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        Ok(world
            .log
            .of(tenant, start)
            .filter(|e| spacecraft.is_none_or(|id| e.spacecraft_id.as_ref() == Some(id)))
            .take(limit.get())
            .cloned()
            .collect())
    }
}
