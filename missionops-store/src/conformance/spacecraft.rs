//! Conformance of [`SpacecraftRepository`](missionops_core::SpacecraftRepository): registration,
//! conflicts, the paged listing.

use missionops_core::TenantId;
use missionops_core::{Error, EventType, SpacecraftName, Store};

use super::fixtures::*;

/// A registered spacecraft reads back field for field, and its event is recorded.
pub async fn spacecraft_are_registered_and_read_back(store: &dyn Store) {
    register(store, "SC-1", 1, 1).await;
    let got = store
        .get_spacecraft(&TenantId::default(), &sc("SC-1"))
        .await
        .expect("get");
    assert_eq!(
        got,
        Some(spacecraft("SC-1", 1)),
        "spacecraft read back differs"
    );
    assert_eq!(
        store
            .get_spacecraft(&TenantId::default(), &sc("SC-2"))
            .await
            .expect("get"),
        None
    );
    let events = store
        .recent_events(&TenantId::default(), None, limit(10))
        .await
        .expect("events");
    assert_eq!(events.len(), 1, "registration must record its event");
    assert_eq!(events[0].event_type, EventType::SpacecraftRegistered);
}

/// Registering an id twice is a conflict that changes nothing.
pub async fn registering_an_existing_id_conflicts_and_writes_nothing(store: &dyn Store) {
    register(store, "SC-1", 1, 1).await;
    let mut other = spacecraft("SC-1", 5);
    other.name = SpacecraftName::parse("impostor").expect("name");
    let err = store
        .register_spacecraft(
            &TenantId::default(),
            other,
            event(2, Some("SC-1"), EventType::SpacecraftRegistered),
        )
        .await
        .expect_err("second registration must fail");
    assert!(
        matches!(err, Error::Conflict { .. }),
        "expected a conflict, got {err}"
    );
    let got = store
        .get_spacecraft(&TenantId::default(), &sc("SC-1"))
        .await
        .expect("get");
    assert_eq!(
        got,
        Some(spacecraft("SC-1", 1)),
        "the first registration must stay"
    );
    assert_eq!(
        event_count(store).await,
        1,
        "a failed write must record no event"
    );
}

/// Listing pages through spacecraft oldest registration first and counts them all.
pub async fn spacecraft_are_listed_in_registration_order_with_a_total(store: &dyn Store) {
    register(store, "SC-B", 2, 1).await;
    register(store, "SC-A", 3, 2).await;
    register(store, "SC-C", 1, 3).await;
    let page = store
        .list_spacecraft(&TenantId::default(), limit(2), 0)
        .await
        .expect("list");
    assert_eq!(page.total, 3);
    let names: Vec<&str> = page.items.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(names, ["SC-C", "SC-B"]);
    let page = store
        .list_spacecraft(&TenantId::default(), limit(2), 2)
        .await
        .expect("list");
    let names: Vec<&str> = page.items.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(names, ["SC-A"]);
    let page = store
        .list_spacecraft(&TenantId::default(), limit(2), 10)
        .await
        .expect("list");
    assert!(page.items.is_empty());
    assert_eq!(page.total, 3);
    // An offset past any number a database counts in (a client's `offset=1e30`, clamped):
    // an empty page with the total, not an error.
    let page = store
        .list_spacecraft(&TenantId::default(), limit(2), u64::MAX)
        .await
        .expect("list far past the end");
    assert!(page.items.is_empty());
    assert_eq!(page.total, 3);
}

/// Every spacecraft of a tenant is read at once in registration order (ties by id), with
/// every field as the pages give it, none of another tenant's.
pub async fn every_spacecraft_is_read_at_once_in_registration_order(store: &dyn Store) {
    let tenant = TenantId::default();
    assert!(
        store
            .every_spacecraft(&tenant)
            .await
            .expect("an empty registry")
            .is_empty()
    );
    register(store, "SC-B", 2, 1).await;
    register(store, "SC-A", 3, 2).await;
    register(store, "SC-D", 1, 3).await;
    register(store, "SC-C", 1, 4).await;
    let other = register_sc3_in_other_tenant(store).await;
    let every = store.every_spacecraft(&tenant).await.expect("every");
    let ids: Vec<&str> = every.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["SC-C", "SC-D", "SC-B", "SC-A"]);
    let page = store
        .list_spacecraft(&tenant, limit(100), 0)
        .await
        .expect("list");
    assert_eq!(every, page.items);
    let theirs = store.every_spacecraft(&other).await.expect("theirs");
    let ids: Vec<&str> = theirs.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["SC-3"]);
}

/// `existing_spacecraft` answers which of the ids given are registered in the tenant asked
/// about: each once, none of another tenant's, none made up.
pub async fn the_existing_spacecraft_among_ids_are_those_registered_in_the_tenant(
    store: &dyn Store,
) {
    register(store, "SC-1", 1, 1).await;
    register(store, "SC-3", 2, 2).await;
    let other = TenantId::parse("other").expect("tenant");
    store
        .register_spacecraft(
            &other,
            spacecraft("SC-4", 3),
            event(3, Some("SC-4"), EventType::SpacecraftRegistered),
        )
        .await
        .expect("register in the other tenant");
    let asked = [sc("SC-4"), sc("SC-3"), sc("SC-2"), sc("SC-1")];
    let mut found = store
        .existing_spacecraft(&TenantId::default(), &asked)
        .await
        .expect("existing");
    found.sort();
    assert_eq!(found, [sc("SC-1"), sc("SC-3")]);
    let found = store
        .existing_spacecraft(&other, &asked)
        .await
        .expect("existing in the other tenant");
    assert_eq!(found, [sc("SC-4")]);
    assert_eq!(
        store
            .existing_spacecraft(&TenantId::default(), &[])
            .await
            .expect("none asked"),
        []
    );
}
