//! Conformance of tenant isolation at the port level (SPEC §9): two tenants that both own
//! `SC-001` each see only their own spacecraft, configurations, telemetry, anomalies, alarms,
//! documents and events, and ids of one are unknown to the other. Run by the backends that keep
//! tenants apart (see [`tenancy_conformance_tests!`](crate::tenancy_conformance_tests)).

use missionops_core::{
    AlarmFilter, AlarmState, AnomalyKind, DocumentFilter, DocumentTitle, Error, EventType,
    MissionEvent, SearchQuery, SpacecraftName, Store, TelemetrySnapshot, TelemetryWrite, TenantId,
};

use super::fixtures::*;

/// The tenant `name`.
fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).expect("tenant")
}

/// Tenant `acme`, tenant `zenith` and tenant `empty` (which never writes anything).
fn tenants() -> (TenantId, TenantId, TenantId) {
    (tenant("acme"), tenant("zenith"), tenant("empty"))
}

/// Registers `SC-001` in `tenant`, named `name`, with event number `n`.
async fn register_in(store: &dyn Store, tenant: &TenantId, name: &str, n: u32) {
    let spacecraft = spacecraft_with("SC-001", name, "LEO_IMAGING", serde_json::json!({}), at(0));
    store
        .register_spacecraft(
            tenant,
            spacecraft,
            event(n, Some("SC-001"), EventType::SpacecraftRegistered),
        )
        .await
        .expect("register SC-001");
}

/// A write of `snapshots` by `tenant`.
fn write_in(tenant: &TenantId, snapshots: Vec<TelemetrySnapshot>) -> TelemetryWrite {
    TelemetryWrite {
        tenant: tenant.clone(),
        ..write(snapshots)
    }
}

/// The temperatures of `snapshots`, in order.
fn temps(snapshots: &[TelemetrySnapshot]) -> Vec<String> {
    snapshots
        .iter()
        .map(|s| {
            s.parameters
                .get("temp")
                .map(|v| format!("{v:?}"))
                .unwrap_or_default()
        })
        .collect()
}

/// The ids of `events`, in order.
fn event_ids(events: &[MissionEvent]) -> Vec<&str> {
    events.iter().map(|e| e.id.as_str()).collect()
}

/// Spacecraft and their configurations are kept per tenant: one id in two tenants is two
/// spacecraft, each tenant lists and reads only its own, and a third sees neither.
pub async fn spacecraft_and_configs_are_kept_per_tenant(store: &dyn Store) {
    let (acme, zenith, empty) = tenants();
    register_in(store, &acme, "Acme one", 1).await;
    register_in(store, &zenith, "Zenith one", 2).await;
    let name = |t: TenantId| async move {
        store
            .get_spacecraft(&t, &sc("SC-001"))
            .await
            .expect("get")
            .map(|s| s.name)
    };
    assert_eq!(
        name(acme.clone()).await,
        Some(SpacecraftName::parse("Acme one").expect("name"))
    );
    assert_eq!(
        name(zenith.clone()).await,
        Some(SpacecraftName::parse("Zenith one").expect("name"))
    );
    assert_eq!(
        name(empty.clone()).await,
        None,
        "another tenant's spacecraft"
    );
    for (t, expected) in [(&acme, "Acme one"), (&zenith, "Zenith one")] {
        let page = store.list_spacecraft(t, limit(10), 0).await.expect("list");
        assert_eq!(page.total, 1, "{t:?} counts only its own");
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].name.as_str(), expected);
    }
    let page = store
        .list_spacecraft(&empty, limit(10), 0)
        .await
        .expect("list");
    assert_eq!((page.total, page.items.len()), (0, 0));

    // Registering the id again conflicts within a tenant only.
    let again = store
        .register_spacecraft(
            &acme,
            spacecraft("SC-001", 0),
            event(3, Some("SC-001"), EventType::SpacecraftRegistered),
        )
        .await;
    assert!(matches!(again, Err(Error::Conflict { .. })), "{again:?}");

    // Configuration versions count per tenant.
    store
        .put_config(
            &acme,
            config("SC-001", 1, 50),
            event(4, Some("SC-001"), EventType::ConfigChanged),
        )
        .await
        .expect("acme config");
    assert_eq!(
        store
            .current_config(&zenith, &sc("SC-001"))
            .await
            .expect("read"),
        None,
        "acme's configuration is not zenith's"
    );
    store
        .put_config(
            &zenith,
            config("SC-001", 1, 70),
            event(5, Some("SC-001"), EventType::ConfigChanged),
        )
        .await
        .expect("zenith's own version 1");
    for (t, warn_high) in [(&acme, 50), (&zenith, 70)] {
        let history = store
            .config_history(t, &sc("SC-001"))
            .await
            .expect("history");
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].config, config("SC-001", 1, warn_high).config);
        assert_eq!(
            store
                .current_config_version(t, &sc("SC-001"))
                .await
                .expect("version"),
            Some(1)
        );
    }
    let unknown = store
        .put_config(
            &empty,
            config("SC-001", 1, 10),
            event(6, Some("SC-001"), EventType::ConfigChanged),
        )
        .await;
    assert!(
        matches!(unknown, Err(Error::NotFound { .. })),
        "{unknown:?}"
    );
    assert!(
        store
            .config_history(&empty, &sc("SC-001"))
            .await
            .expect("history")
            .is_empty()
    );
}

/// Telemetry is kept per tenant: the same snapshot id in two tenants is two snapshots (not a
/// conflict), and every read (recent, range, count, latest values, last time) shows each tenant
/// only its own.
pub async fn telemetry_is_kept_per_tenant(store: &dyn Store) {
    let (acme, zenith, empty) = tenants();
    register_in(store, &acme, "Acme one", 1).await;
    register_in(store, &zenith, "Zenith one", 2).await;
    let stored = store
        .insert_telemetry(write_in(&acme, vec![snapshot("snap-1", "SC-001", 10, 1.5)]))
        .await
        .expect("acme telemetry");
    assert_eq!(stored, outcome(1, 0));
    let stored = store
        .insert_telemetry(write_in(
            &zenith,
            vec![snapshot("snap-1", "SC-001", 20, 2.5)],
        ))
        .await
        .expect("zenith's snap-1 is its own, not a conflict with acme's");
    assert_eq!(stored, outcome(1, 0));
    // A retry is a duplicate within its own tenant.
    let again = store
        .insert_telemetry(write_in(
            &zenith,
            vec![snapshot("snap-1", "SC-001", 20, 2.5)],
        ))
        .await
        .expect("retry");
    assert_eq!(again, outcome(0, 1));

    for (t, temp, second) in [(&acme, 1.5, 10), (&zenith, 2.5, 20)] {
        let recent = store
            .recent_telemetry(t, &sc("SC-001"), limit(10))
            .await
            .expect("recent");
        assert_eq!(ids(&recent), ["snap-1"]);
        assert_eq!(temps(&recent), temps(&[snapshot("x", "SC-001", 0, temp)]));
        let range = store
            .telemetry_range(t, &sc("SC-001"), at(0), at(100), 100)
            .await
            .expect("range");
        assert_eq!(range.len(), 1);
        assert_eq!(range[0].timestamp, at(second));
        assert_eq!(
            store
                .count_telemetry_range(t, &sc("SC-001"), at(0), at(100), 100)
                .await
                .expect("count"),
            1
        );
        assert_eq!(
            store
                .last_telemetry_timestamp(t, &sc("SC-001"))
                .await
                .expect("last"),
            Some(at(second))
        );
        let latest = store.latest_values(t, &sc("SC-001")).await.expect("latest");
        assert_eq!(latest.len(), 2, "temp and mode");
        assert!(latest.iter().all(|v| v.timestamp == at(second)));
    }
    assert!(
        store
            .recent_telemetry(&empty, &sc("SC-001"), limit(10))
            .await
            .expect("recent")
            .is_empty()
    );
    assert!(
        store
            .latest_values(&empty, &sc("SC-001"))
            .await
            .expect("latest")
            .is_empty()
    );
    let unknown = store
        .insert_telemetry(write_in(
            &empty,
            vec![snapshot("snap-9", "SC-001", 30, 1.0)],
        ))
        .await;
    assert!(
        matches!(unknown, Err(Error::NotFound { .. })),
        "{unknown:?}"
    );
}

/// A group commit that mixes tenants stores each write in its own tenant, with the outcome it
/// would have had alone; a group of one tenant other than `default` stays in it.
pub async fn a_group_of_two_tenants_keeps_each_write_in_its_tenant(store: &dyn Store) {
    let (acme, zenith, _) = tenants();
    register_in(store, &acme, "Acme one", 1).await;
    register_in(store, &zenith, "Zenith one", 2).await;
    let group = store
        .insert_telemetry_group(vec![
            write_in(&acme, vec![snapshot("snap-1", "SC-001", 10, 1.5)]),
            write_in(&zenith, vec![snapshot("snap-1", "SC-001", 11, 2.5)]),
            write_in(&acme, vec![snapshot("snap-2", "SC-001", 12, 1.75)]),
        ])
        .await;
    assert!(group.failure.is_none(), "{:?}", group.failure);
    assert_eq!(group.stored, [outcome(1, 0), outcome(1, 0), outcome(1, 0)]);
    let recent = |t: TenantId| async move {
        store
            .recent_telemetry(&t, &sc("SC-001"), limit(10))
            .await
            .expect("recent")
    };
    assert_eq!(ids(&recent(acme.clone()).await), ["snap-2", "snap-1"]);
    assert_eq!(ids(&recent(zenith.clone()).await), ["snap-1"]);
    assert_eq!(
        temps(&recent(zenith.clone()).await),
        temps(&[snapshot("x", "SC-001", 0, 2.5)])
    );

    // A group of zenith's writes alone (its spacecraft's key now known) stays zenith's.
    let group = store
        .insert_telemetry_group(vec![
            write_in(&zenith, vec![snapshot("snap-2", "SC-001", 13, 3.5)]),
            write_in(&zenith, vec![snapshot("snap-3", "SC-001", 14, 4.5)]),
        ])
        .await;
    assert!(group.failure.is_none(), "{:?}", group.failure);
    assert_eq!(group.stored, [outcome(1, 0), outcome(1, 0)]);
    assert_eq!(
        ids(&recent(zenith.clone()).await),
        ["snap-3", "snap-2", "snap-1"]
    );
    assert_eq!(ids(&recent(acme.clone()).await), ["snap-2", "snap-1"]);
    assert_eq!(
        temps(&recent(acme).await)[0],
        temps(&[snapshot("x", "SC-001", 0, 1.75)])[0],
        "acme's snap-2 is not zenith's"
    );
}

/// Anomalies, alarms and events are kept per tenant: the same anomaly in two tenants is new in
/// each, an alarm id of one tenant is unknown to the other, and each event list (recent, after a
/// sequence, per spacecraft) holds only the tenant's own events.
pub async fn anomalies_alarms_and_events_are_kept_per_tenant(store: &dyn Store) {
    let (acme, zenith, empty) = tenants();
    register_in(store, &acme, "Acme one", 1).await;
    register_in(store, &zenith, "Zenith one", 2).await;
    let found = anomaly("SC-001", 10, "temp", AnomalyKind::WarnHigh);
    let new = store
        .persist_anomalies(
            &acme,
            vec![(found.clone(), event(3, Some("SC-001"), EventType::Anomaly))],
        )
        .await
        .expect("acme anomaly");
    assert_eq!(new, 1);
    let new = store
        .persist_anomalies(
            &zenith,
            vec![(found.clone(), event(4, Some("SC-001"), EventType::Anomaly))],
        )
        .await
        .expect("zenith anomaly");
    assert_eq!(new, 1, "the same anomaly is new in another tenant");
    for t in [&acme, &zenith] {
        assert_eq!(
            store.get_anomaly(t, &found.id).await.expect("get"),
            Some(found.clone())
        );
        assert_eq!(
            store
                .recent_anomalies(t, &sc("SC-001"), limit(10))
                .await
                .expect("recent")
                .len(),
            1
        );
        assert_eq!(
            store
                .count_anomalies_since(t, &sc("SC-001"), at(0))
                .await
                .expect("count")
                .count,
            1
        );
    }
    assert_eq!(
        store.get_anomaly(&empty, &found.id).await.expect("get"),
        None
    );
    assert!(
        store
            .anomaly_timeline(&empty, &sc("SC-001"), at(0), at(100))
            .await
            .expect("timeline")
            .is_empty()
    );

    // Alarms: acme's id is unknown to zenith until zenith saves its own under it.
    let alarm = test_alarm("al-1", "SC-001", 5);
    store
        .save_alarm(&acme, alarm.clone(), vec![])
        .await
        .expect("acme alarm");
    assert_eq!(
        store.get_alarm(&zenith, &alarm.id).await.expect("get"),
        None
    );
    let zenith_alarm = missionops_core::Alarm {
        state: AlarmState::Shelved,
        violation_count: 7,
        ..alarm.clone()
    };
    store
        .save_alarm(
            &zenith,
            zenith_alarm.clone(),
            vec![event(5, Some("SC-001"), EventType::Info)],
        )
        .await
        .expect("zenith alarm");
    assert_eq!(
        store.get_alarm(&acme, &alarm.id).await.expect("get"),
        Some(alarm.clone())
    );
    assert_eq!(
        store.get_alarm(&zenith, &alarm.id).await.expect("get"),
        Some(zenith_alarm.clone())
    );
    let all = AlarmFilter {
        states: missionops_core::AlarmStates::All,
        ..AlarmFilter::default()
    };
    assert_eq!(store.list_alarms(&acme, &all).await.expect("list"), [alarm]);
    assert_eq!(
        store.list_alarms(&zenith, &all).await.expect("list"),
        [zenith_alarm]
    );
    assert!(
        store
            .list_alarms(&empty, &all)
            .await
            .expect("list")
            .is_empty()
    );
    let orphan = store
        .save_alarm(&empty, test_alarm("al-2", "SC-001", 5), vec![])
        .await;
    assert!(matches!(orphan, Err(Error::NotFound { .. })), "{orphan:?}");

    // Events: each tenant's own, whichever way they are listed.
    let acme_events = store
        .recent_events(&acme, None, limit(100))
        .await
        .expect("events");
    assert_eq!(event_ids(&acme_events), ["ev-3", "ev-1"]);
    let zenith_events = store
        .events_after(&zenith, 0, None, limit(100))
        .await
        .expect("events");
    assert_eq!(event_ids(&zenith_events), ["ev-2", "ev-4", "ev-5"]);
    let resumed = store
        .events_after(
            &zenith,
            zenith_events[0].sequence,
            Some(&sc("SC-001")),
            limit(100),
        )
        .await
        .expect("events");
    assert_eq!(event_ids(&resumed), ["ev-4", "ev-5"]);
    let per_spacecraft = store
        .recent_events(&acme, Some(&sc("SC-001")), limit(100))
        .await
        .expect("events");
    assert_eq!(event_ids(&per_spacecraft), ["ev-3", "ev-1"]);
    assert!(
        store
            .events_after(&empty, 0, None, limit(100))
            .await
            .expect("events")
            .is_empty()
    );
}

/// Documents are kept per tenant: one id in two tenants is two documents, and reads, searches,
/// listings and updates of one tenant never reach the other's.
pub async fn documents_are_kept_per_tenant(store: &dyn Store) {
    let (acme, zenith, empty) = tenants();
    let acme_doc = document("doc-1", 1, "Acme battery procedure", "charge slowly", &[]);
    let zenith_doc = document("doc-1", 2, "Zenith battery procedure", "charge fast", &[]);
    store
        .publish_document(&acme, acme_doc.clone(), event(1, None, EventType::Info))
        .await
        .expect("acme document");
    store
        .publish_document(&zenith, zenith_doc.clone(), event(2, None, EventType::Info))
        .await
        .expect("zenith's doc-1 is its own");
    for (t, expected) in [(&acme, &acme_doc), (&zenith, &zenith_doc)] {
        assert_eq!(
            store
                .get_document(t, &acme_doc.id)
                .await
                .expect("get")
                .as_ref(),
            Some(expected)
        );
        let query = SearchQuery::parse("battery").expect("query");
        let found = store
            .search_documents(t, &query, limit(10))
            .await
            .expect("search");
        assert_eq!(found, std::slice::from_ref(expected));
        let filter = DocumentFilter {
            spacecraft_id: None,
            category: None,
            tag: None,
            limit: limit(10),
            offset: 0,
        };
        assert_eq!(
            store.list_documents(t, &filter).await.expect("list"),
            std::slice::from_ref(expected)
        );
    }
    assert_eq!(
        store.get_document(&empty, &acme_doc.id).await.expect("get"),
        None
    );
    let query = SearchQuery::parse("procedure").expect("query");
    assert!(
        store
            .search_documents(&empty, &query, limit(10))
            .await
            .expect("search")
            .is_empty()
    );
    let update = missionops_core::OpsDocument {
        title: DocumentTitle::parse("Acme battery procedure, revised").expect("title"),
        version: 2,
        ..acme_doc.clone()
    };
    let elsewhere = store
        .update_document(&empty, update.clone(), event(3, None, EventType::Info))
        .await;
    assert!(
        matches!(elsewhere, Err(Error::NotFound { .. })),
        "{elsewhere:?}"
    );
    store
        .update_document(&acme, update.clone(), event(4, None, EventType::Info))
        .await
        .expect("acme update");
    assert_eq!(
        store.get_document(&acme, &acme_doc.id).await.expect("get"),
        Some(update)
    );
    assert_eq!(
        store
            .get_document(&zenith, &acme_doc.id)
            .await
            .expect("get"),
        Some(zenith_doc),
        "zenith's doc-1 is untouched by acme's update"
    );
}

/// Outbox entries carry the tenant that recorded their event, and delivery order is kept per
/// spacecraft of a tenant: a failing event of one tenant's `SC-001` holds back that tenant's
/// later events only, not another tenant's `SC-001`.
pub async fn outbox_entries_carry_their_tenant_and_hold_back_only_its_spacecraft(
    store: &dyn Store,
) {
    let (acme, zenith, _) = tenants();
    let mut sequences = Vec::new();
    for (n, t) in [(1, &acme), (2, &zenith), (3, &acme), (4, &zenith)] {
        let recorded = store
            .record_event(t, event(n, Some("SC-001"), EventType::Info))
            .await
            .expect("record");
        sequences.push(recorded.sequence);
    }
    let lease = std::time::Duration::from_secs(60);
    let claim = store.claim(at(10), 10, lease).await.expect("claim");
    let claimed: Vec<(&str, &str)> = claim
        .entries
        .iter()
        .map(|e| (e.event.id.as_str(), e.tenant.as_str()))
        .collect();
    assert_eq!(
        claimed,
        [
            ("ev-1", "acme"),
            ("ev-2", "zenith"),
            ("ev-3", "acme"),
            ("ev-4", "zenith")
        ]
    );
    // acme's ev-1 fails and backs off for a minute; the rest go back untried.
    let policy = missionops_core::RetryPolicy {
        max_attempts: 5,
        initial_backoff: std::time::Duration::from_secs(60),
        max_backoff: std::time::Duration::from_secs(60),
    };
    store
        .mark_failed(at(10), &claim.id, sequences[0], "receiver down", &policy)
        .await
        .expect("mark failed");
    store
        .release(&claim.id, &sequences[1..])
        .await
        .expect("release");
    let again = store.claim(at(11), 10, lease).await.expect("claim");
    let claimed: Vec<(&str, &str)> = again
        .entries
        .iter()
        .map(|e| (e.event.id.as_str(), e.tenant.as_str()))
        .collect();
    assert_eq!(
        claimed,
        [("ev-2", "zenith"), ("ev-4", "zenith")],
        "acme's ev-3 waits behind ev-1; zenith's SC-001 does not"
    );
}
