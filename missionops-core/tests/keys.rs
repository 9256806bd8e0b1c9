//! The API key use cases over the in-memory store, a manual clock and sequential ids.

use std::sync::Arc;

use missionops_core::{
    Caller, Clock, Error, KeyLifetime, KeyName, ManualClock, MissionOps, Role, SecretHash,
    SequentialIds, TenantId, Timestamp,
};
use missionops_store::MemoryStore;

fn app() -> (MissionOps, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse("2025-06-01T12:00:00Z").expect("ts"),
    ));
    let app = MissionOps::new(
        Arc::new(MemoryStore::new()),
        clock.clone(),
        Arc::new(SequentialIds::new()),
    );
    (app, clock)
}

fn tenant_caller(name: &str) -> Caller {
    Caller::operator_of(TenantId::parse(name).expect("tenant"))
}

#[tokio::test]
async fn a_created_key_belongs_to_the_callers_tenant_and_expires_after_its_lifetime() {
    let (app, clock) = app();
    assert!(!app.any_key_exists().await.expect("any"));
    let caller = tenant_caller("mission-a");
    let key = app
        .create_key(
            &caller,
            KeyName::parse("ground-1").expect("name"),
            Role::Operator,
            SecretHash([1; 32]),
            Some(KeyLifetime::parse("12h").expect("lifetime")),
        )
        .await
        .expect("create");
    assert!(app.any_key_exists().await.expect("any"));
    assert_eq!(key.tenant.as_str(), "mission-a");
    assert!(
        key.id.as_str().len() >= 12 && key.id.as_str().bytes().all(|b| b.is_ascii_alphanumeric())
    );
    assert_eq!(key.expires_at, Some(clock.now().add_millis(12 * 3_600_000)));
    assert_eq!(
        app.find_key(&key.id).await.expect("find"),
        Some(key.clone())
    );
    assert!(key.is_active_at(clock.now()));
    clock.advance_millis(12 * 3_600_000);
    assert!(!key.is_active_at(clock.now()), "expired at expiresAt");
    assert_eq!(
        app.list_keys(&caller).await.expect("list"),
        vec![key.clone()]
    );
    assert!(
        app.list_keys(&Caller::open())
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn another_tenants_key_cannot_be_revoked_and_answers_not_found() {
    let (app, clock) = app();
    let a = tenant_caller("mission-a");
    let key = app
        .create_key(
            &a,
            KeyName::parse("k").expect("name"),
            Role::Admin,
            SecretHash([2; 32]),
            None,
        )
        .await
        .expect("create");
    let err = app
        .revoke_key(&tenant_caller("mission-b"), &key.id)
        .await
        .expect_err("another tenant");
    assert!(matches!(err, Error::NotFound { .. }), "got {err}");
    clock.advance_millis(1_000);
    let revoked = app.revoke_key(&a, &key.id).await.expect("revoke");
    assert_eq!(revoked.revoked_at, Some(clock.now()));
    assert!(!revoked.is_active_at(clock.now()));
    app.record_key_use(&[(key.id.clone(), clock.now())])
        .await
        .expect("use");
    assert_eq!(
        app.find_key(&key.id)
            .await
            .expect("find")
            .expect("key")
            .last_used_at,
        Some(clock.now())
    );
}
