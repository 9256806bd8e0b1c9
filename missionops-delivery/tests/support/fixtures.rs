//! Events to deliver: recorded in a real store, so that each gets its outbox row.

#![allow(dead_code)]

use missionops_core::{EventRepository, MissionEvent, TenantId, Timestamp};
use missionops_store::conformance::fixtures::{event_named, record_event_at};

/// Records an `INFO` event `id` of `spacecraft` (none for `None`) dated 2025-01-01.
pub async fn record(
    store: &dyn EventRepository,
    id: &str,
    spacecraft: Option<&str>,
) -> MissionEvent {
    let timestamp = Timestamp::from_millis(1_735_689_600_000).expect("time");
    record_event_at(store, id, spacecraft, timestamp).await
}

/// Records an `INFO` event `id` of `spacecraft` dated 2025-01-01 for `tenant`.
pub async fn record_in(
    store: &dyn EventRepository,
    tenant: &str,
    id: &str,
    spacecraft: Option<&str>,
) -> MissionEvent {
    let timestamp = Timestamp::from_millis(1_735_689_600_000).expect("time");
    store
        .record_event(
            &TenantId::parse(tenant).expect("tenant"),
            event_named(id, spacecraft, timestamp, serde_json::json!({})),
        )
        .await
        .expect("record an event")
}
