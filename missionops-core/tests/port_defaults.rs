//! The default methods of the ports, for stores that do not answer them themselves.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use missionops_core::{
    ConfigChanges, Error, EventId, EventRepository, EventType, Limit, MissionEvent, MissionType,
    NewEvent, Result, Severity, Spacecraft, SpacecraftId, SpacecraftName, SpacecraftPage,
    SpacecraftRepository, TenantId, Timestamp,
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

/// A registry that answers only what `SpacecraftRepository` requires, counting its pages.
struct Registry {
    fleet: Vec<Spacecraft>,
    pages: AtomicUsize,
}

#[async_trait]
impl SpacecraftRepository for Registry {
    async fn register_spacecraft(&self, _: &TenantId, _: Spacecraft, _: NewEvent) -> Result<()> {
        Err(Error::invalid("spacecraft", "this registry is read-only"))
    }

    async fn get_spacecraft(&self, _: &TenantId, id: &SpacecraftId) -> Result<Option<Spacecraft>> {
        Ok(self.fleet.iter().find(|s| &s.id == id).cloned())
    }

    async fn list_spacecraft(
        &self,
        _: &TenantId,
        limit: Limit,
        offset: u64,
    ) -> Result<SpacecraftPage> {
        self.pages.fetch_add(1, Ordering::Relaxed);
        let from = usize::try_from(offset).unwrap_or(usize::MAX);
        Ok(SpacecraftPage {
            total: self.fleet.len() as u64,
            items: self
                .fleet
                .iter()
                .skip(from)
                .take(limit.get())
                .cloned()
                .collect(),
        })
    }
}

fn registry(size: usize) -> Registry {
    let registered = Timestamp::parse("2025-06-01T00:00:00Z").expect("time");
    let fleet = (0..size)
        .map(|n| Spacecraft {
            id: SpacecraftId::parse(format!("SC-{n:05}")).expect("id"),
            name: SpacecraftName::parse(format!("Sat {n}")).expect("name"),
            mission_type: MissionType::parse("CUBESAT").expect("mission type"),
            metadata: Default::default(),
            created_at: registered.add_millis(n as i64),
            updated_at: registered.add_millis(n as i64),
        })
        .collect();
    Registry {
        fleet,
        pages: AtomicUsize::new(0),
    }
}

#[tokio::test]
async fn the_default_read_of_every_spacecraft_walks_the_pages_to_the_end() {
    for (size, pages) in [(0, 1), (999, 1), (1000, 1), (2345, 3), (3000, 3)] {
        let registry = registry(size);
        let every = registry
            .every_spacecraft(&TenantId::default())
            .await
            .expect("every spacecraft");
        assert_eq!(every, registry.fleet, "{size} spacecraft, in their order");
        assert_eq!(
            registry.pages.load(Ordering::Relaxed),
            pages,
            "{size} spacecraft: pages read"
        );
    }
}
