//! Conformance of [`ConfigRepository`](missionops_core::ConfigRepository): versions kept as
//! history, stale versions, unknown spacecraft.

use missionops_core::TenantId;
use missionops_core::{Error, EventType, Store};

use super::fixtures::*;

/// Every configuration version is kept; the newest is current.
pub async fn config_versions_are_kept_as_history(store: &dyn Store) {
    register(store, "SC-1", 1, 1).await;
    assert_eq!(
        store
            .current_config(&TenantId::default(), &sc("SC-1"))
            .await
            .expect("get"),
        None
    );
    store
        .put_config(
            &TenantId::default(),
            config("SC-1", 1, 45),
            event(2, Some("SC-1"), EventType::ConfigChanged),
        )
        .await
        .expect("put v1");
    store
        .put_config(
            &TenantId::default(),
            config("SC-1", 2, 50),
            event(3, Some("SC-1"), EventType::ConfigChanged),
        )
        .await
        .expect("put v2");
    let current = store
        .current_config(&TenantId::default(), &sc("SC-1"))
        .await
        .expect("get");
    assert_eq!(current, Some(config("SC-1", 2, 50)));
    let history = store
        .config_history(&TenantId::default(), &sc("SC-1"))
        .await
        .expect("history");
    assert_eq!(history, vec![config("SC-1", 1, 45), config("SC-1", 2, 50)]);
    assert_eq!(
        store
            .current_config_version(&TenantId::default(), &sc("SC-1"))
            .await
            .expect("version"),
        Some(2)
    );
    assert_eq!(
        store
            .current_config_version(&TenantId::default(), &sc("SC-404"))
            .await
            .expect("version"),
        None
    );
    assert_eq!(
        serde_json::to_string(history[0].config.as_object()).expect("json"),
        r#"{"parameters":{"temp":{"warnHigh":45}},"note":"kept"}"#,
        "the document must come back with its fields in order"
    );
    assert_eq!(event_count(store).await, 3);
}

/// A version that is not current + 1 lost a race: conflict, nothing written.
pub async fn a_config_with_a_stale_version_conflicts_and_writes_nothing(store: &dyn Store) {
    register(store, "SC-1", 1, 1).await;
    store
        .put_config(
            &TenantId::default(),
            config("SC-1", 1, 45),
            event(2, Some("SC-1"), EventType::ConfigChanged),
        )
        .await
        .expect("put v1");
    for version in [1, 3] {
        let err = store
            .put_config(
                &TenantId::default(),
                config("SC-1", version, 60),
                event(10 + version, Some("SC-1"), EventType::ConfigChanged),
            )
            .await
            .expect_err("stale version must fail");
        assert!(matches!(err, Error::Conflict { .. }), "got {err}");
    }
    assert_eq!(
        store
            .config_history(&TenantId::default(), &sc("SC-1"))
            .await
            .expect("h")
            .len(),
        1
    );
    assert_eq!(event_count(store).await, 2);
}

/// A configuration needs its spacecraft.
pub async fn a_config_for_an_unknown_spacecraft_is_not_found(store: &dyn Store) {
    let err = store
        .put_config(
            &TenantId::default(),
            config("SC-9", 1, 45),
            event(1, Some("SC-9"), EventType::ConfigChanged),
        )
        .await
        .expect_err("unknown spacecraft");
    assert!(matches!(err, Error::NotFound { .. }), "got {err}");
    assert_eq!(event_count(store).await, 0);
}
