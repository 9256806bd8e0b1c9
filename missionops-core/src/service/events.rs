//! The event history: the newest events, events after a sequence (to resume a stream), and
//! informational events recorded on their own.

use crate::domain::{EventType, JsonObject, Limit, MissionEvent, NewEvent, Severity, SpacecraftId};
use crate::error::Result;

use super::MissionOps;

impl MissionOps {
    /// The newest events, of one spacecraft or all, newest first.
    pub async fn list_events(
        &self,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        self.shared
            .store
            .recent_events(&self.tenant, spacecraft, limit)
            .await
    }

    /// Events after `sequence`, oldest first (for resuming a stream).
    pub async fn events_after(
        &self,
        sequence: u64,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        self.shared
            .store
            .events_after(&self.tenant, sequence, spacecraft, limit)
            .await
    }

    /// Records an informational event that comes with no state change.
    pub async fn record_event(
        &self,
        spacecraft: Option<&SpacecraftId>,
        event_type: EventType,
        severity: Severity,
        message: String,
        metadata: JsonObject,
    ) -> Result<MissionEvent> {
        let stamp = self.event_stamp();
        let event = NewEvent::custom(stamp, spacecraft, event_type, severity, message, metadata);
        self.shared
            .store
            .record_event(&self.tenant, self.audited(event))
            .await
    }
}
