//! Conformance of [`EventRepository`](missionops_core::EventRepository): gap-free sequences,
//! listing and resuming, and that a change whose event cannot be recorded is not stored.

use missionops_core::TenantId;
use missionops_core::{AnomalyKind, EventType, SpacecraftId, Store, TelemetryWrite};

use super::fixtures::*;

/// Every recorded event gets the next sequence, from 1, without gaps, whatever wrote it.
pub async fn event_sequences_are_gap_free_and_increasing(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    store
        .put_config(
            &TenantId::default(),
            config("SC-1", 1, 45),
            event(2, Some("SC-1"), EventType::ConfigChanged),
        )
        .await
        .expect("config");
    // A failed write must not consume a sequence number.
    let _ = store
        .register_spacecraft(
            &TenantId::default(),
            spacecraft("SC-1", 0),
            event(3, Some("SC-1"), EventType::SpacecraftRegistered),
        )
        .await;
    let recorded = store
        .record_event(&TenantId::default(), event(4, None, EventType::Info))
        .await
        .expect("record");
    assert_eq!(recorded.sequence, 3);
    store
        .insert_telemetry(TelemetryWrite {
            tenant: Default::default(),
            registrations: Vec::new(),
            snapshots: vec![snapshot("a", "SC-1", 1, 1.0)],
            anomalies: vec![],
            alarms: Vec::new(),
            events: vec![event(5, Some("SC-1"), EventType::ModeChange)],
        })
        .await
        .expect("insert");
    let events = store
        .recent_events(&TenantId::default(), None, limit(100))
        .await
        .expect("events");
    let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [4, 3, 2, 1]);
    assert_eq!(events[1], event(4, None, EventType::Info).recorded(3));
}

/// Events filter by spacecraft and resume after a sequence, oldest first.
pub async fn events_are_listed_per_spacecraft_and_resumed_after_a_sequence(store: &dyn Store) {
    for n in 1..=6 {
        let spacecraft = if n % 2 == 0 {
            Some("SC-2")
        } else {
            Some("SC-1")
        };
        store
            .record_event(&TenantId::default(), event(n, spacecraft, EventType::Info))
            .await
            .expect("record");
    }
    let sc1 = store
        .recent_events(&TenantId::default(), Some(&sc("SC-1")), limit(2))
        .await
        .expect("events");
    let sequences: Vec<u64> = sc1.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [5, 3]);
    let after = store
        .events_after(&TenantId::default(), 2, None, limit(3))
        .await
        .expect("after");
    let sequences: Vec<u64> = after.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [3, 4, 5]);
    let after = store
        .events_after(&TenantId::default(), 2, Some(&sc("SC-2")), limit(10))
        .await
        .expect("after");
    let sequences: Vec<u64> = after.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [4, 6]);
    assert!(
        store
            .events_after(&TenantId::default(), 6, None, limit(10))
            .await
            .expect("after")
            .is_empty()
    );
}

/// The change feed's read: the spacecraft of a tenant's `CONFIG_CHANGED` events after a
/// sequence, oldest first and paged, the other events passed over, and how far the read looked
/// (the tenant's newest event when no page was cut short); other tenants' events are not seen.
pub async fn configuration_changes_are_read_alone_paged_and_per_tenant(store: &dyn Store) {
    let default = TenantId::default();
    let other = TenantId::parse("other").expect("tenant");
    let kinds = [
        (Some("SC-1"), EventType::Info),
        (Some("SC-1"), EventType::ConfigChanged),
        (None, EventType::Info),
        (Some("SC-2"), EventType::ConfigChanged),
        (Some("SC-1"), EventType::ConfigChanged),
        (Some("SC-2"), EventType::Anomaly),
    ];
    for (n, (spacecraft, kind)) in (1..).zip(kinds) {
        store
            .record_event(&default, event(n, spacecraft, kind))
            .await
            .expect("record");
    }
    let theirs = store
        .record_event(&other, event(7, Some("SC-9"), EventType::ConfigChanged))
        .await
        .expect("record");
    let newest = store
        .recent_events(&default, None, limit(1))
        .await
        .expect("newest")[0]
        .sequence;
    let read = |tenant: TenantId, after: u64, most: i64| async move {
        let page = store
            .config_changes_after(&tenant, after, limit(most))
            .await
            .expect("changes");
        let changed: Vec<String> = page
            .changed
            .iter()
            .map(|id| id.as_str().to_owned())
            .collect();
        (changed, page.covered, page.more)
    };
    let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        read(default.clone(), 0, 10).await,
        (ids(&["SC-1", "SC-2", "SC-1"]), newest, false)
    );
    let events = store
        .events_after(&default, 0, None, limit(10))
        .await
        .expect("events");
    let fourth = events[3].sequence;
    assert_eq!(
        read(default.clone(), 0, 2).await,
        (ids(&["SC-1", "SC-2"]), fourth, true),
        "cut short at the second change"
    );
    assert_eq!(
        read(default.clone(), fourth, 2).await,
        (ids(&["SC-1"]), newest, false)
    );
    assert_eq!(
        read(default.clone(), newest, 10).await,
        (ids(&[]), newest, false)
    );
    assert_eq!(
        read(other.clone(), 0, 10).await,
        (ids(&["SC-9"]), theirs.sequence, false)
    );
    let empty = TenantId::parse("empty").expect("tenant");
    assert_eq!(read(empty, 0, 10).await, (ids(&[]), 0, false));
}

/// The newest `CONTACT_LOST` of each spacecraft asked, in the order asked (a repeat answered
/// again): the newest by time, not by sequence; none for a spacecraft with only other events,
/// none known, or one whose loss is another tenant's.
pub async fn the_last_contact_loss_is_read_for_a_list(store: &dyn Store) {
    let default = TenantId::default();
    let other = TenantId::parse("other").expect("tenant");
    // (number, which is also the time in seconds; spacecraft; type)
    let recorded = [
        (5, Some("SC-1"), EventType::ContactLost),
        (9, Some("SC-1"), EventType::ContactLost),
        (7, Some("SC-1"), EventType::ContactLost),
        (11, Some("SC-1"), EventType::Info),
        (12, Some("SC-2"), EventType::Anomaly),
        (13, Some("SC-2"), EventType::Info),
        (14, None, EventType::ContactLost),
        (3, Some("SC-4"), EventType::ContactLost),
    ];
    for (n, spacecraft, kind) in recorded {
        store
            .record_event(&default, event(n, spacecraft, kind))
            .await
            .expect("record");
    }
    store
        .record_event(&other, event(20, Some("SC-2"), EventType::ContactLost))
        .await
        .expect("record in the other tenant");
    let asked: Vec<SpacecraftId> = ["SC-2", "SC-1", "SC-404", "SC-4", "SC-1"]
        .into_iter()
        .map(sc)
        .collect();
    assert_eq!(
        store
            .last_contact_lost_of(&default, &asked)
            .await
            .expect("losses"),
        [None, Some(at(9)), None, Some(at(3)), Some(at(9))]
    );
    assert_eq!(
        store
            .last_contact_lost_of(&other, &asked)
            .await
            .expect("the other tenant's"),
        [Some(at(20)), None, None, None, None]
    );
    assert!(
        store
            .last_contact_lost_of(&default, &[])
            .await
            .expect("none asked")
            .is_empty()
    );
}

/// A write whose event cannot be recorded (its id is taken) fails whole: the state change is
/// not stored either, and no sequence number is used up.
pub async fn a_change_whose_event_cannot_be_recorded_is_not_stored(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let taken = || event(1, Some("SC-1"), EventType::Info);

    let err = store
        .register_spacecraft(&TenantId::default(), spacecraft("SC-2", 1), taken())
        .await;
    assert!(err.is_err(), "registration with a taken event id must fail");
    assert_eq!(
        store
            .get_spacecraft(&TenantId::default(), &sc("SC-2"))
            .await
            .expect("get"),
        None
    );

    let err = store
        .put_config(&TenantId::default(), config("SC-1", 1, 45), taken())
        .await;
    assert!(err.is_err(), "config with a taken event id must fail");
    assert_eq!(
        store
            .current_config(&TenantId::default(), &sc("SC-1"))
            .await
            .expect("get"),
        None
    );

    let err = store
        .insert_telemetry(TelemetryWrite {
            tenant: Default::default(),
            registrations: Vec::new(),
            snapshots: vec![snapshot("a", "SC-1", 1, 1.0)],
            anomalies: vec![anomaly("SC-1", 1, "temp", AnomalyKind::WarnHigh)],
            alarms: vec![test_alarm("al-x", "SC-1", 1)],
            events: vec![taken()],
        })
        .await;
    assert!(err.is_err(), "telemetry with a taken event id must fail");
    assert_eq!(
        store
            .get_alarm(&TenantId::default(), &test_alarm("al-x", "SC-1", 1).id)
            .await
            .expect("get"),
        None
    );
    assert!(
        store
            .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(5))
            .await
            .expect("recent")
            .is_empty()
    );
    assert!(
        store
            .recent_anomalies(&TenantId::default(), &sc("SC-1"), limit(5))
            .await
            .expect("list")
            .is_empty()
    );

    let err = store
        .persist_anomalies(
            &TenantId::default(),
            vec![(anomaly("SC-1", 2, "temp", AnomalyKind::WarnHigh), taken())],
        )
        .await;
    assert!(err.is_err(), "an anomaly with a taken event id must fail");
    assert!(
        store
            .recent_anomalies(&TenantId::default(), &sc("SC-1"), limit(5))
            .await
            .expect("list")
            .is_empty()
    );

    let doc = document("d1", 1, "Title", "body", &[]);
    assert!(
        store
            .publish_document(&TenantId::default(), doc.clone(), taken())
            .await
            .is_err()
    );
    assert_eq!(
        store
            .get_document(&TenantId::default(), &doc.id)
            .await
            .expect("get"),
        None
    );

    let recorded = store
        .record_event(&TenantId::default(), event(2, None, EventType::Info))
        .await
        .expect("record");
    assert_eq!(
        recorded.sequence, 2,
        "failed writes must not use up sequence numbers"
    );
}
