//! The event log in memory: gap-free sequences, listing per spacecraft and resuming after a
//! sequence, each tenant's own.

use async_trait::async_trait;
use missionops_core::TenantId;
use missionops_core::{
    ConfigChanges, EventRepository, EventType, Limit, MissionEvent, NewEvent, Result, SpacecraftId,
};

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

    async fn config_changes_after(
        &self,
        tenant: &TenantId,
        after: u64,
        limit: Limit,
    ) -> Result<ConfigChanges> {
        let world = self.lock()?;
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        let newest = world
            .log
            .of(tenant, 0)
            .next_back()
            .map_or(0, |e| e.sequence);
        let rows = world
            .log
            .of(tenant, start)
            .filter(|e| e.event_type == EventType::ConfigChanged)
            .filter_map(|e| Some((e.sequence, e.spacecraft_id.clone()?)))
            .take(limit.get() + 1)
            .collect();
        Ok(ConfigChanges::from_rows(rows, after, newest, limit))
    }
}
