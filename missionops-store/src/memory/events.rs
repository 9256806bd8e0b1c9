//! The event log in memory: gap-free sequences, listing per spacecraft and resuming after a
//! sequence.

use async_trait::async_trait;
use missionops_core::{EventRepository, Limit, MissionEvent, NewEvent, Result, SpacecraftId};

use super::MemoryStore;

#[async_trait]
impl EventRepository for MemoryStore {
    async fn record_event(&self, event: NewEvent) -> Result<MissionEvent> {
        let mut inner = self.lock()?;
        inner.check_events([&event])?;
        Ok(inner.record(event))
    }

    async fn recent_events(
        &self,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        let inner = self.lock()?;
        Ok(inner
            .events
            .iter()
            .rev()
            .filter(|e| spacecraft.is_none_or(|id| e.spacecraft_id.as_ref() == Some(id)))
            .take(limit.get())
            .cloned()
            .collect())
    }

    async fn events_after(
        &self,
        after: u64,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        let inner = self.lock()?;
        let start = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(inner.events.len());
        Ok(inner.events[start..]
            .iter()
            .filter(|e| spacecraft.is_none_or(|id| e.spacecraft_id.as_ref() == Some(id)))
            .take(limit.get())
            .cloned()
            .collect())
    }
}
