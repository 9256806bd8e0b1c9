//! Conformance of [`PacketDefinitionRepository`](missionops_core::PacketDefinitionRepository):
//! versions kept as history per tenant, stale versions, unknown spacecraft.

use missionops_core::{Error, EventType, PacketDefinitionRecord, Store, TenantId};

use super::fixtures::*;

fn definition(id: &str, version: u32, text: &str) -> PacketDefinitionRecord {
    PacketDefinitionRecord {
        spacecraft_id: sc(id),
        version,
        text: text.to_owned(),
        created_at: ts("2025-01-01T00:00:05Z"),
    }
}

/// The clock tick's reads for a list of spacecraft: each one's newest configuration and
/// newest packet definition version, in the order asked (a repeat answered again), `None`
/// for one without (or unknown); another tenant's are not seen.
pub async fn current_configs_and_packet_versions_are_read_for_a_list(store: &dyn Store) {
    let tenant = TenantId::default_tenant();
    for (n, id) in (1..).zip(["SC-1", "SC-2", "SC-3"]) {
        register(store, id, 1, n).await;
    }
    let mut n = 10;
    let mut next_event = |id: &str| {
        n += 1;
        event(n, Some(id), EventType::ConfigChanged)
    };
    for (id, version, warn_high) in [("SC-1", 1, 40), ("SC-1", 2, 45), ("SC-2", 1, 50)] {
        store
            .put_config(&tenant, config(id, version, warn_high), next_event(id))
            .await
            .expect("config");
    }
    for (id, version) in [("SC-2", 1), ("SC-2", 2), ("SC-3", 1)] {
        store
            .put_packet_definition(
                &tenant,
                definition(id, version, "<SpaceSystem/>"),
                next_event(id),
            )
            .await
            .expect("packets");
    }
    let other = register_sc3_in_other_tenant(store).await;
    store
        .put_config(
            &other,
            config("SC-3", 1, 99),
            event(91, Some("SC-3"), EventType::ConfigChanged),
        )
        .await
        .expect("other config");
    let wanted = [sc("SC-3"), sc("SC-1"), sc("NOPE"), sc("SC-2"), sc("SC-1")];
    let configs = store
        .current_configs(&tenant, &wanted)
        .await
        .expect("configs");
    let summary: Vec<Option<(String, u32)>> = configs
        .iter()
        .map(|c| {
            c.as_ref()
                .map(|c| (c.spacecraft_id.as_str().to_owned(), c.version))
        })
        .collect();
    let some = |id: &str, v: u32| Some((id.to_owned(), v));
    assert_eq!(
        summary,
        [
            None,
            some("SC-1", 2),
            None,
            some("SC-2", 1),
            some("SC-1", 2)
        ]
    );
    assert_eq!(
        configs[1],
        store
            .current_config(&tenant, &sc("SC-1"))
            .await
            .expect("one")
    );
    assert_eq!(
        store
            .current_packet_definition_versions(&tenant, &wanted)
            .await
            .expect("versions"),
        [Some(1), None, None, Some(2), None]
    );
    assert_eq!(
        store
            .current_configs(&other, &wanted)
            .await
            .expect("other's")
            .iter()
            .map(|c| c.as_ref().map(|c| c.version))
            .collect::<Vec<_>>(),
        [Some(1), None, None, None, None]
    );
    assert!(
        store
            .current_configs(&tenant, &[])
            .await
            .expect("none")
            .is_empty()
    );
}

/// Every version is kept, the newest current; another tenant sees none of them.
pub async fn packet_definitions_are_kept_as_history(store: &dyn Store) {
    let tenant = TenantId::default_tenant();
    register(store, "SC-1", 1, 1).await;
    assert_eq!(
        store
            .current_packet_definition(&tenant, &sc("SC-1"))
            .await
            .expect("get"),
        None
    );
    let v1 = definition("SC-1", 1, "<SpaceSystem name=\"a\"/>");
    let v2 = definition("SC-1", 2, "<SpaceSystem name=\"b\">\n  é\n</SpaceSystem>");
    store
        .put_packet_definition(
            &tenant,
            v1.clone(),
            event(2, Some("SC-1"), EventType::ConfigChanged),
        )
        .await
        .expect("put v1");
    store
        .put_packet_definition(
            &tenant,
            v2.clone(),
            event(3, Some("SC-1"), EventType::ConfigChanged),
        )
        .await
        .expect("put v2");
    let current = store
        .current_packet_definition(&tenant, &sc("SC-1"))
        .await
        .expect("get");
    assert_eq!(current, Some(v2.clone()));
    assert_eq!(
        store
            .current_packet_definition_version(&tenant, &sc("SC-1"))
            .await
            .expect("version"),
        Some(2)
    );
    assert_eq!(
        store
            .packet_definition_history(&tenant, &sc("SC-1"))
            .await
            .expect("history"),
        vec![v1, v2]
    );
    let other = TenantId::parse("other").expect("tenant");
    assert_eq!(
        store
            .current_packet_definition_version(&other, &sc("SC-1"))
            .await
            .expect("version"),
        None
    );
    assert!(
        store
            .packet_definition_history(&other, &sc("SC-1"))
            .await
            .expect("history")
            .is_empty()
    );
    assert_eq!(event_count(store).await, 3);
}

/// A version that is not current + 1 lost a race: conflict, nothing written, no event.
pub async fn a_packet_definition_with_a_stale_version_conflicts_and_writes_nothing(
    store: &dyn Store,
) {
    let tenant = TenantId::default_tenant();
    register(store, "SC-1", 1, 1).await;
    store
        .put_packet_definition(
            &tenant,
            definition("SC-1", 1, "a"),
            event(2, Some("SC-1"), EventType::ConfigChanged),
        )
        .await
        .expect("put v1");
    for stale in [1, 3] {
        let err = store
            .put_packet_definition(
                &tenant,
                definition("SC-1", stale, "b"),
                event(3, Some("SC-1"), EventType::ConfigChanged),
            )
            .await
            .expect_err("stale version");
        assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    }
    assert_eq!(
        store
            .packet_definition_history(&tenant, &sc("SC-1"))
            .await
            .expect("history")
            .len(),
        1
    );
    assert_eq!(event_count(store).await, 2);
}

/// A definition for a spacecraft nobody registered is not found, and nothing is written.
pub async fn a_packet_definition_for_an_unknown_spacecraft_is_not_found(store: &dyn Store) {
    let tenant = TenantId::default_tenant();
    let err = store
        .put_packet_definition(
            &tenant,
            definition("SC-404", 1, "a"),
            event(1, Some("SC-404"), EventType::ConfigChanged),
        )
        .await
        .expect_err("unknown spacecraft");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(event_count(store).await, 0);
}
