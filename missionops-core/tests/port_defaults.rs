//! The default methods of the ports, for stores that do not answer them themselves.

use async_trait::async_trait;
use missionops_core::{
    ConfigChanges, Error, EventId, EventRepository, EventType, Limit, MissionEvent, NewEvent,
    Result, Severity, SpacecraftId, TenantId, Timestamp,
};

/// An event log that answers only what `EventRepository` requires.
struct Log(Vec<MissionEvent>);

#[async_trait]
impl EventRepository for Log {
    async fn record_event(&self, _: &TenantId, _: NewEvent) -> Result<MissionEvent> {
        Err(Error::invalid("event", "this log is read-only"))
    }

    async fn recent_events(
        &self,
        _: &TenantId,
        _: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        Ok(self.0.iter().rev().take(limit.get()).cloned().collect())
    }

    async fn events_after(
        &self,
        _: &TenantId,
        after: u64,
        _: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        Ok(self
            .0
            .iter()
            .filter(|e| e.sequence > after)
            .take(limit.get())
            .cloned()
            .collect())
    }
}

fn event(sequence: u64, spacecraft: &str, event_type: EventType) -> MissionEvent {
    NewEvent {
        id: EventId::parse(format!("e{sequence}")).expect("id"),
        spacecraft_id: Some(SpacecraftId::parse(spacecraft).expect("spacecraft")),
        timestamp: Timestamp::parse("2025-06-01T00:00:00Z").expect("time"),
        event_type,
        severity: Severity::Low,
        message: String::new(),
        metadata: Default::default(),
    }
    .recorded(sequence)
}

fn ids(changes: &ConfigChanges) -> Vec<&str> {
    changes.changed.iter().map(SpacecraftId::as_str).collect()
}

#[tokio::test]
async fn the_default_config_changes_read_keeps_the_changes_of_a_page_of_events() {
    let log = Log(vec![
        event(1, "SC-1", EventType::Info),
        event(2, "SC-1", EventType::ConfigChanged),
        event(3, "SC-2", EventType::Anomaly),
        event(4, "SC-2", EventType::ConfigChanged),
        event(5, "SC-3", EventType::Info),
    ]);
    let tenant = TenantId::default();
    let page = |most: i64| Limit::new(most, 100).expect("limit");
    let first = log
        .config_changes_after(&tenant, 0, page(3))
        .await
        .expect("first page");
    assert_eq!(
        (ids(&first), first.covered, first.more),
        (vec!["SC-1"], 3, true)
    );
    let rest = log
        .config_changes_after(&tenant, first.covered, page(3))
        .await
        .expect("the rest");
    assert_eq!(
        (ids(&rest), rest.covered, rest.more),
        (vec!["SC-2"], 5, false)
    );
    let none = log
        .config_changes_after(&tenant, 5, page(3))
        .await
        .expect("none after");
    assert_eq!((ids(&none), none.covered, none.more), (vec![], 5, false));
}
