//! Spacecraft in memory: registration, lookup and the paged listing.

use async_trait::async_trait;
use missionops_core::{
    Error, Limit, NewEvent, Result, Spacecraft, SpacecraftId, SpacecraftPage, SpacecraftRepository,
};

use super::MemoryStore;

#[async_trait]
impl SpacecraftRepository for MemoryStore {
    async fn register_spacecraft(&self, spacecraft: Spacecraft, event: NewEvent) -> Result<()> {
        let mut inner = self.lock()?;
        if inner.spacecraft.contains_key(&spacecraft.id) {
            return Err(Error::conflict(
                "spacecraft",
                &spacecraft.id,
                "already exists",
            ));
        }
        inner.check_events([&event])?;
        inner.spacecraft.insert(spacecraft.id.clone(), spacecraft);
        inner.record(event);
        Ok(())
    }

    async fn get_spacecraft(&self, id: &SpacecraftId) -> Result<Option<Spacecraft>> {
        Ok(self.lock()?.spacecraft.get(id).cloned())
    }

    async fn list_spacecraft(&self, limit: Limit, offset: u64) -> Result<SpacecraftPage> {
        let inner = self.lock()?;
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
