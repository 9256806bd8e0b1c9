//! Events to deliver: recorded in a real store, so that each gets its outbox row.

#![allow(dead_code)]

use missionops_core::{
    EventId, EventRepository, EventType, JsonObject, MissionEvent, NewEvent, Severity,
    SpacecraftId, Timestamp,
};

/// Records an `INFO` event `id` of `spacecraft` (none for `None`) dated 2025-01-01.
pub async fn record(
    store: &dyn EventRepository,
    id: &str,
    spacecraft: Option<&str>,
) -> MissionEvent {
    store
        .record_event(NewEvent {
            id: EventId::parse(id).expect("event id"),
            spacecraft_id: spacecraft.map(|s| SpacecraftId::parse(s).expect("spacecraft id")),
            timestamp: Timestamp::from_millis(1_735_689_600_000).expect("time"),
            event_type: EventType::Info,
            severity: Severity::Low,
            message: format!("event {id}"),
            metadata: JsonObject::new(),
        })
        .await
        .expect("record an event")
}
