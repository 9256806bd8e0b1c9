//! Alarms in memory: saved and replaced by id, filtered by spacecraft and state.

use async_trait::async_trait;
use missionops_core::TenantId;
use missionops_core::{Alarm, AlarmFilter, AlarmId, AlarmRepository, NewEvent, Result};

use super::MemoryStore;

#[async_trait]
impl AlarmRepository for MemoryStore {
    async fn save_alarm(
        &self,
        tenant: &TenantId,
        alarm: Alarm,
        events: Vec<NewEvent>,
    ) -> Result<()> {
        let mut world = self.lock()?;
        let (inner, log) = world.split(tenant);
        inner.require_spacecraft(&alarm.spacecraft_id)?;
        log.check_events(&events)?;
        inner.alarms.insert(alarm.id.clone(), alarm);
        for event in events {
            log.record(tenant, event);
        }
        Ok(())
    }

    async fn get_alarm(&self, tenant: &TenantId, id: &AlarmId) -> Result<Option<Alarm>> {
        Ok(self.lock()?.tenant(tenant).alarms.get(id).cloned())
    }

    async fn list_alarms(&self, tenant: &TenantId, filter: &AlarmFilter) -> Result<Vec<Alarm>> {
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        let mut found: Vec<Alarm> = inner
            .alarms
            .values()
            .filter(|a| filter.admits(a))
            .cloned()
            .collect();
        found.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then_with(|| b.id.cmp(&a.id)));
        Ok(found)
    }
}
