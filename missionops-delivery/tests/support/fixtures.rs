//! Events to deliver: recorded in a real store, so that each gets its outbox row.

#![allow(dead_code)]

use missionops_core::{EventRepository, MissionEvent, Timestamp};
use missionops_store::conformance::fixtures::record_event_at;

/// Records an `INFO` event `id` of `spacecraft` (none for `None`) dated 2025-01-01.
pub async fn record(
    store: &dyn EventRepository,
    id: &str,
    spacecraft: Option<&str>,
) -> MissionEvent {
    let timestamp = Timestamp::from_millis(1_735_689_600_000).expect("time");
    record_event_at(store, id, spacecraft, timestamp).await
}
