//! Spacecraft in memory: registration, lookup and the paged listing.

use async_trait::async_trait;
use missionops_core::TenantId;
use missionops_core::{
    Error, Limit, NewEvent, Result, Spacecraft, SpacecraftId, SpacecraftPage, SpacecraftRepository,
};

use super::MemoryStore;

#[async_trait]
impl SpacecraftRepository for MemoryStore {
    async fn register_spacecraft(
        &self,
        tenant: &TenantId,
        spacecraft: Spacecraft,
        event: NewEvent,
    ) -> Result<()> {
        let mut world = self.lock()?;
        let (inner, log) = world.split(tenant);
        if inner.spacecraft.contains_key(&spacecraft.id) {
            return Err(Error::conflict(
                "spacecraft",
                &spacecraft.id,
                "already exists",
            ));
        }
        log.check_events([&event])?;
        inner.spacecraft.insert(spacecraft.id.clone(), spacecraft);
        log.record(tenant, event);
        Ok(())
    }

    async fn get_spacecraft(
        &self,
        tenant: &TenantId,
        id: &SpacecraftId,
    ) -> Result<Option<Spacecraft>> {
        Ok(self.lock()?.tenant(tenant).spacecraft.get(id).cloned())
    }

    async fn list_spacecraft(
        &self,
        tenant: &TenantId,
        limit: Limit,
        offset: u64,
    ) -> Result<SpacecraftPage> {
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        let mut all: Vec<&Spacecraft> = inner.spacecraft.values().collect();
        all.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        Ok(SpacecraftPage {
            total: all.len() as u64,
            items: all
                .into_iter()
                .skip(skip)
                .take(limit.get())
                .cloned()
                .collect(),
        })
    }
}
