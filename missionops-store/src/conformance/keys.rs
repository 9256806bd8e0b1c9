//! Conformance of [`KeyRepository`](missionops_core::KeyRepository): creation, conflicts, the
//! listing per tenant, revocation within a tenant, bulk last-use times.

use missionops_core::{ApiKey, ApiKeyId, Error, KeyName, Role, SecretHash, Store, TenantId};

use super::fixtures::*;

/// A key `id` of `tenant` created at `second`, with a hash made of `fill`.
pub fn api_key(id: &str, tenant: &str, second: i64, fill: u8) -> ApiKey {
    ApiKey {
        id: ApiKeyId::parse_strict(id).expect("key id"),
        name: KeyName::parse(format!("key {id}")).expect("key name"),
        tenant: TenantId::parse(tenant).expect("tenant"),
        role: Role::Operator,
        secret_hash: SecretHash([fill; 32]),
        created_at: at(second),
        expires_at: Some(at(second + 3_600)),
        revoked_at: None,
        last_used_at: None,
    }
}

fn key_id(id: &str) -> ApiKeyId {
    ApiKeyId::parse_strict(id).expect("key id")
}

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).expect("tenant")
}

/// A created key reads back field for field (hash included); a second key with its id
/// conflicts and changes nothing; "any key" turns true with the first.
pub async fn keys_are_created_read_back_and_unique(store: &dyn Store) {
    assert!(
        !store.any_key_exists().await.expect("any"),
        "a fresh store has no key"
    );
    let key = api_key("aaaaaaaaaaaa1", "default", 1, 1);
    store.create_key(key.clone()).await.expect("create");
    assert!(store.any_key_exists().await.expect("any"));
    assert_eq!(
        store.get_key(&key.id).await.expect("get"),
        Some(key.clone())
    );
    assert_eq!(
        store.get_key(&key_id("bbbbbbbbbbbb1")).await.expect("get"),
        None
    );
    let mut twin = api_key("aaaaaaaaaaaa1", "other", 2, 9);
    twin.role = Role::Admin;
    let err = store.create_key(twin).await.expect_err("same id twice");
    assert!(
        matches!(err, Error::Conflict { .. }),
        "expected a conflict, got {err}"
    );
    assert_eq!(
        store.get_key(&key.id).await.expect("get"),
        Some(key),
        "the first key must stay as it was"
    );
}

/// A tenant's listing holds its own keys only, oldest first.
pub async fn keys_are_listed_per_tenant_oldest_first(store: &dyn Store) {
    store
        .create_key(api_key("cccccccccccc1", "default", 3, 3))
        .await
        .expect("create");
    store
        .create_key(api_key("aaaaaaaaaaaa1", "default", 1, 1))
        .await
        .expect("create");
    store
        .create_key(api_key("bbbbbbbbbbbb1", "mission-b", 2, 2))
        .await
        .expect("create");
    let listed = store.list_keys(&tenant("default")).await.expect("list");
    let ids: Vec<&str> = listed.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["aaaaaaaaaaaa1", "cccccccccccc1"]);
    let listed = store.list_keys(&tenant("mission-b")).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert!(
        store
            .list_keys(&tenant("nobody"))
            .await
            .expect("list")
            .is_empty()
    );
}

/// Revoking sets `revokedAt` once (a second revocation keeps the first time); another
/// tenant's key, or no key, is not found and stays active; a revoked key still counts for
/// "any key exists".
pub async fn keys_are_revoked_within_their_tenant(store: &dyn Store) {
    let key = api_key("aaaaaaaaaaaa1", "default", 1, 1);
    store.create_key(key.clone()).await.expect("create");
    let err = store
        .revoke_key(&tenant("mission-b"), &key.id, at(5))
        .await
        .expect_err("another tenant's key");
    assert!(
        matches!(err, Error::NotFound { .. }),
        "expected not found, got {err}"
    );
    assert_eq!(
        store
            .get_key(&key.id)
            .await
            .expect("get")
            .expect("key")
            .revoked_at,
        None,
        "a refused revocation must change nothing"
    );
    let err = store
        .revoke_key(&tenant("default"), &key_id("zzzzzzzzzzzz1"), at(5))
        .await
        .expect_err("no such key");
    assert!(
        matches!(err, Error::NotFound { .. }),
        "expected not found, got {err}"
    );

    let revoked = store
        .revoke_key(&tenant("default"), &key.id, at(6))
        .await
        .expect("revoke");
    assert_eq!(revoked.revoked_at, Some(at(6)));
    let again = store
        .revoke_key(&tenant("default"), &key.id, at(9))
        .await
        .expect("revoke again");
    assert_eq!(
        again.revoked_at,
        Some(at(6)),
        "the first revocation time stays"
    );
    assert_eq!(
        store
            .get_key(&key.id)
            .await
            .expect("get")
            .expect("key")
            .revoked_at,
        Some(at(6))
    );
    assert!(store.any_key_exists().await.expect("any"));
}

/// Last-use times are recorded in bulk: the latest time per key wins (an older flush never
/// moves it back), unknown ids are skipped.
pub async fn key_uses_are_recorded_in_bulk_latest_first(store: &dyn Store) {
    store
        .create_key(api_key("aaaaaaaaaaaa1", "default", 1, 1))
        .await
        .expect("create");
    store
        .create_key(api_key("bbbbbbbbbbbb1", "default", 2, 2))
        .await
        .expect("create");
    let used = |id: &str, second: i64| (key_id(id), at(second));
    store
        .record_key_use(&[
            used("aaaaaaaaaaaa1", 100),
            used("bbbbbbbbbbbb1", 50),
            used("aaaaaaaaaaaa1", 120),
            used("zzzzzzzzzzzz1", 10),
        ])
        .await
        .expect("record");
    let last = |key: Option<ApiKey>| key.expect("key").last_used_at;
    let a = key_id("aaaaaaaaaaaa1");
    let b = key_id("bbbbbbbbbbbb1");
    assert_eq!(last(store.get_key(&a).await.expect("get")), Some(at(120)));
    assert_eq!(last(store.get_key(&b).await.expect("get")), Some(at(50)));
    store
        .record_key_use(&[used("aaaaaaaaaaaa1", 110)])
        .await
        .expect("record older");
    assert_eq!(
        last(store.get_key(&a).await.expect("get")),
        Some(at(120)),
        "an older use must not move lastUsedAt back"
    );
    store.record_key_use(&[]).await.expect("nothing to record");
}
