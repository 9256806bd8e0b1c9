//! Tenants (SPEC §9) through the application services over the in-memory store: two tenants
//! that both own `SC-001` each see only their own data, and never change the other's.

use std::sync::Arc;

use missionops_core::{
    Actor, AlarmFilter, ApiKeyId, Caller, ConfigSource, ConfigStatus, DocumentFilter, Error,
    KeyName, Limit, ManualClock, MissionOps, NewDocument, NewSnapshot, Operator, Role, SearchQuery,
    SpacecraftConfig, SpacecraftId, TenantId, Timestamp,
};
use missionops_store::MemoryStore;
use serde_json::{Value, json};

const START: &str = "2025-06-01T12:00:00Z";

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).expect("tenant")
}

fn caller(name: &str) -> Caller {
    Caller {
        tenant: tenant(name),
        role: Role::Admin,
        actor: Actor::Key {
            id: ApiKeyId::parse(format!("key{name}000000000")).expect("key id"),
            name: KeyName::parse(format!("{name}-operator")).expect("key name"),
        },
    }
}

/// One application (one store, one set of caches) and a handle for each of two tenants.
struct Two {
    root: MissionOps,
    a: MissionOps,
    b: MissionOps,
}

fn two() -> Two {
    let clock = Arc::new(ManualClock::new(Timestamp::parse(START).expect("ts")));
    let root = MissionOps::new(
        Arc::new(MemoryStore::new()),
        clock,
        Arc::new(missionops_core::SequentialIds::new()),
    );
    Two {
        a: root.acting_as(caller("alpha")),
        b: root.acting_as(caller("bravo")),
        root,
    }
}

fn sc1() -> SpacecraftId {
    SpacecraftId::parse("SC-001").expect("id")
}

fn limit(n: i64) -> Limit {
    Limit::new(n, 1000).expect("limit")
}

fn snap(seconds: i64, parameters: Value) -> NewSnapshot {
    serde_json::from_value(json!({
        "spacecraftId": "SC-001",
        "timestamp": Timestamp::parse(START).expect("ts").add_millis(seconds * 1000).to_string(),
        "parameters": parameters,
    }))
    .expect("snapshot")
}

async fn warn_above(app: &MissionOps, high: f64) {
    app.set_config(
        &sc1(),
        SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": high}}}))
            .expect("config"),
        ConfigStatus::Approved,
        Some(ConfigSource::Manual),
    )
    .await
    .expect("set config");
}

fn document(title: &str) -> NewDocument {
    serde_json::from_value(json!({
        "spacecraftId": "SC-001",
        "title": title,
        "body": format!("{title}: shared words in every procedure"),
        "tags": ["thermal"],
    }))
    .expect("document")
}

#[test]
fn a_handle_made_with_new_acts_as_the_open_caller() {
    let t = two();
    assert_eq!(t.root.tenant(), &TenantId::default_tenant());
    assert_eq!(t.root.actor(), &Actor::Anonymous);
    assert_eq!(t.a.tenant(), &tenant("alpha"));
}

#[tokio::test]
async fn two_tenants_with_the_same_spacecraft_id_keep_everything_apart() {
    let t = two();
    // Both own SC-001, with different limits: alpha warns above 45, bravo above 100.
    warn_above(&t.a, 45.0).await;
    warn_above(&t.b, 100.0).await;
    t.a.ingest(snap(0, json!({"temp": 50})))
        .await
        .expect("alpha ingest");
    t.b.ingest(snap(0, json!({"temp": 60})))
        .await
        .expect("bravo ingest");
    t.b.ingest(snap(1, json!({"temp": 61})))
        .await
        .expect("bravo ingest");

    // Configurations: each its own version 1 with its own limits.
    let config_a = t.a.get_config(&sc1()).await.expect("alpha config");
    let config_b = t.b.get_config(&sc1()).await.expect("bravo config");
    assert_eq!(config_a.version, 1);
    assert_eq!(config_b.version, 1);
    assert_ne!(config_a.config, config_b.config);

    // Telemetry: alpha's one snapshot, bravo's two; latest values differ.
    let recent_a =
        t.a.recent_telemetry(&sc1(), limit(10))
            .await
            .expect("recent");
    let recent_b =
        t.b.recent_telemetry(&sc1(), limit(10))
            .await
            .expect("recent");
    assert_eq!(recent_a.len(), 1);
    assert_eq!(recent_b.len(), 2);
    let latest_b = t.b.latest_values(&sc1()).await.expect("latest");
    let latest_b = serde_json::to_value(&latest_b).expect("json").to_string();
    assert!(latest_b.contains("61"), "{latest_b}");

    // Alarms: only alpha's limits were crossed (its own monitor and rules, not bravo's).
    let alarms_a =
        t.a.list_alarms(&AlarmFilter::default())
            .await
            .expect("alarms");
    let alarms_b =
        t.b.list_alarms(&AlarmFilter::default())
            .await
            .expect("alarms");
    assert_eq!(alarms_a.len(), 1);
    assert!(alarms_b.is_empty(), "bravo's 60 is under its own limit");
    let alarm = &alarms_a[0];
    assert!(matches!(
        t.b.get_alarm(&alarm.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        t.b.acknowledge_alarm(&alarm.id, Operator::parse("mallory").expect("op"), None)
            .await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        t.a.get_alarm(&alarm.id).await.expect("own alarm").state,
        alarm.state,
        "bravo's attempt changed nothing"
    );

    // Fleet status and the spacecraft listing: one SC-001 each, with its own counts.
    let fleet_a = t.a.fleet_status().await.expect("fleet");
    let fleet_b = t.b.fleet_status().await.expect("fleet");
    assert_eq!(fleet_a.len(), 1);
    assert_eq!(fleet_b.len(), 1);
    assert_eq!(
        t.a.list_spacecraft(limit(10), 0).await.expect("list").total,
        1
    );
    // The default tenant (the open handle) has nothing at all.
    assert!(t.root.fleet_status().await.expect("fleet").is_empty());
    assert!(matches!(
        t.root.get_spacecraft(&sc1()).await,
        Err(Error::NotFound { .. })
    ));

    // Events: each tenant's own only, and a stream resumed from 0 likewise.
    let events_a = t.a.list_events(None, limit(100)).await.expect("events");
    let events_b = t.b.list_events(None, limit(100)).await.expect("events");
    assert!(!events_a.is_empty() && !events_b.is_empty());
    let sequences_a: Vec<u64> = events_a.iter().map(|e| e.sequence).collect();
    assert!(events_b.iter().all(|e| !sequences_a.contains(&e.sequence)));
    let after_b = t.b.events_after(0, None, limit(100)).await.expect("after");
    assert_eq!(after_b.len(), events_b.len());
    assert!(
        t.root
            .list_events(None, limit(100))
            .await
            .expect("events")
            .is_empty()
    );
}

#[tokio::test]
async fn documents_of_another_tenant_are_not_found_listed_or_searched() {
    let t = two();
    let doc =
        t.a.publish_document(document("Thermal recovery"))
            .await
            .expect("publish");
    t.b.publish_document(document("Bravo power procedure"))
        .await
        .expect("publish");
    assert!(matches!(
        t.b.get_document(&doc.id).await,
        Err(Error::NotFound { .. })
    ));
    let query = SearchQuery::parse("shared words").expect("query");
    let found_a =
        t.a.search_documents(&query, limit(10))
            .await
            .expect("search");
    let found_b =
        t.b.search_documents(&query, limit(10))
            .await
            .expect("search");
    assert_eq!(found_a.len(), 1);
    assert_eq!(found_a[0].id, doc.id);
    assert_eq!(found_b.len(), 1);
    assert_ne!(found_b[0].id, doc.id);
    let listed_b =
        t.b.list_documents(&DocumentFilter {
            spacecraft_id: None,
            category: None,
            tag: None,
            limit: limit(100),
            offset: 0,
        })
        .await
        .expect("list");
    assert!(listed_b.iter().all(|d| d.id != doc.id));
    assert_eq!(
        t.a.get_document(&doc.id).await.expect("own").title,
        doc.title
    );
}

#[tokio::test]
async fn a_write_by_one_tenant_never_changes_the_other() {
    let t = two();
    warn_above(&t.a, 45.0).await;
    // Bravo writes SC-001 three times: alpha's configuration stays at version 1.
    for high in [10.0, 20.0, 30.0] {
        warn_above(&t.b, high).await;
    }
    assert_eq!(t.a.get_config(&sc1()).await.expect("config").version, 1);
    assert_eq!(t.b.get_config(&sc1()).await.expect("config").version, 3);
    // A cold bravo rule (warn above 10) does not reach alpha's monitor: alpha's 40 opens
    // nothing, bravo's 40 opens an alarm.
    t.a.ingest(snap(0, json!({"temp": 40})))
        .await
        .expect("ingest");
    t.b.ingest(snap(0, json!({"temp": 40})))
        .await
        .expect("ingest");
    assert!(
        t.a.list_alarms(&AlarmFilter::default())
            .await
            .expect("alarms")
            .is_empty()
    );
    assert_eq!(
        t.b.list_alarms(&AlarmFilter::default())
            .await
            .expect("alarms")
            .len(),
        1
    );
}

#[tokio::test]
async fn concurrent_live_writes_of_two_tenants_committed_together_stay_apart() {
    let t = two();
    warn_above(&t.a, 45.0).await;
    warn_above(&t.b, 100.0).await;
    // Both queue at once, so one group commit stores them (and registers nothing twice).
    let (a, b) = tokio::join!(
        t.a.ingest_batch(vec![
            snap(0, json!({"temp": 50})),
            snap(1, json!({"temp": 51}))
        ]),
        t.b.ingest_batch(vec![snap(0, json!({"temp": 50}))]),
    );
    assert_eq!(a.expect("alpha").outcome.inserted, 2);
    assert_eq!(b.expect("bravo").outcome.inserted, 1);
    let recent_a =
        t.a.recent_telemetry(&sc1(), limit(10))
            .await
            .expect("recent");
    let recent_b =
        t.b.recent_telemetry(&sc1(), limit(10))
            .await
            .expect("recent");
    assert_eq!(recent_a.len(), 2);
    assert_eq!(recent_b.len(), 1);
    // Each evaluated with its own tenant's rules.
    let alarms_a =
        t.a.list_alarms(&AlarmFilter::default())
            .await
            .expect("alarms");
    let alarms_b =
        t.b.list_alarms(&AlarmFilter::default())
            .await
            .expect("alarms");
    assert_eq!(alarms_a.len(), 1);
    assert!(alarms_b.is_empty());
}

#[tokio::test]
async fn events_caused_by_a_key_name_it_and_open_mode_events_stay_as_they_were() {
    let t = two();
    warn_above(&t.a, 45.0).await;
    t.a.ingest(snap(0, json!({"temp": 50})))
        .await
        .expect("ingest");
    let alarm =
        t.a.list_alarms(&AlarmFilter::default())
            .await
            .expect("alarms")[0]
            .clone();
    t.a.acknowledge_alarm(&alarm.id, Operator::parse("flight").expect("op"), None)
        .await
        .expect("ack");
    t.a.publish_document(document("Procedure"))
        .await
        .expect("publish");
    let events = t.a.list_events(None, limit(100)).await.expect("events");
    // Registration, config change, anomaly, alarm, acknowledgement, document.
    assert!(events.len() >= 5, "{events:?}");
    for event in &events {
        assert_eq!(
            event.metadata.get("actor"),
            Some(&json!({"keyId": "keyalpha000000000", "name": "alpha-operator"})),
            "{event:?}"
        );
    }
    // The open caller (no key: open mode, CLI, embedding) adds nothing to its events.
    warn_above(&t.root, 45.0).await;
    t.root
        .ingest(snap(0, json!({"temp": 50})))
        .await
        .expect("ingest");
    let open = t.root.list_events(None, limit(100)).await.expect("events");
    assert!(!open.is_empty());
    assert!(open.iter().all(|e| !e.metadata.contains_key("actor")));
}
