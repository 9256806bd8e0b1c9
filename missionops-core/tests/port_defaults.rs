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
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        Ok(self
            .0
            .iter()
            .filter(|e| e.sequence > after)
            .filter(|e| spacecraft.is_none_or(|id| e.spacecraft_id.as_ref() == Some(id)))
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

#[tokio::test]
async fn the_default_last_contact_loss_reads_every_page_of_each_spacecrafts_events() {
    // 2,500 events, SC-1's losses at the 3rd and the 2,400th (SC-1 has 1,251 events: the
    // newer loss is on the second of the default's pages of 1,000), SC-2's none, SC-3's one.
    let at = |second: i64| {
        Timestamp::parse("2025-06-01T00:00:00Z")
            .expect("time")
            .add_millis(second * 1000)
    };
    let events = (1..=2500u64)
        .map(|n| {
            let (spacecraft, kind) = match n {
                3 | 2400 => ("SC-1", EventType::ContactLost),
                7 => ("SC-3", EventType::ContactLost),
                n if n % 2 == 0 => ("SC-1", EventType::Info),
                _ => ("SC-2", EventType::Anomaly),
            };
            MissionEvent {
                timestamp: at(i64::try_from(n).expect("small")),
                ..event(n, spacecraft, kind)
            }
        })
        .collect();
    let log = Log(events);
    let asked: Vec<SpacecraftId> = ["SC-2", "SC-1", "SC-3"]
        .into_iter()
        .map(|id| SpacecraftId::parse(id).expect("id"))
        .collect();
    assert_eq!(
        log.last_contact_lost_of(&TenantId::default(), &asked)
            .await
            .expect("losses"),
        [None, Some(at(2400)), Some(at(7))]
    );
}
