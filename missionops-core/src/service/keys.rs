//! API keys (SPEC §9): creating, listing and revoking the keys of a tenant, and what
//! authentication asks of the store. The secret is made and hashed at the edge, with the
//! operating system's randomness; the core only ever sees its hash.

use super::MissionOps;
use crate::domain::{ApiKey, ApiKeyId, Caller, KeyLifetime, KeyName, Role, SecretHash, Timestamp};
use crate::error::Result;
use crate::ports::Store;

impl MissionOps {
    /// Creates a key of `caller`'s tenant named `name` with `role`, whose secret hashes to
    /// `secret_hash`, valid for `lifetime` (forever when `None`). Its id is a new id of the
    /// application's generator as 32 hex digits.
    pub async fn create_key(
        &self,
        caller: &Caller,
        name: KeyName,
        role: Role,
        secret_hash: SecretHash,
        lifetime: Option<KeyLifetime>,
    ) -> Result<ApiKey> {
        let now = self.shared.clock.now();
        let id = ApiKeyId::parse_strict(self.shared.ids.new_id().simple().to_string())?;
        let key = ApiKey {
            id,
            name,
            tenant: caller.tenant.clone(),
            role,
            secret_hash,
            created_at: now,
            expires_at: lifetime.map(|l| now.add_millis(l.as_millis())),
            revoked_at: None,
            last_used_at: None,
        };
        self.keys().create_key(key.clone()).await?;
        Ok(key)
    }

    /// The keys of `caller`'s tenant, oldest first.
    pub async fn list_keys(&self, caller: &Caller) -> Result<Vec<ApiKey>> {
        self.keys().list_keys(&caller.tenant).await
    }

    /// Revokes the key `id` of `caller`'s tenant now; a key of another tenant is
    /// [`Error::NotFound`](crate::Error::NotFound), as if it did not exist.
    pub async fn revoke_key(&self, caller: &Caller, id: &ApiKeyId) -> Result<ApiKey> {
        self.keys()
            .revoke_key(&caller.tenant, id, self.shared.clock.now())
            .await
    }

    /// The key `id` of any tenant, for authentication.
    pub async fn find_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>> {
        self.keys().get_key(id).await
    }

    /// Whether any key exists: authentication is on from the first one.
    pub async fn any_key_exists(&self) -> Result<bool> {
        self.keys().any_key_exists().await
    }

    /// Stores the last-use times collected since the last flush, in one write.
    pub async fn record_key_use(&self, uses: &[(ApiKeyId, Timestamp)]) -> Result<()> {
        if uses.is_empty() {
            return Ok(());
        }
        self.keys().record_key_use(uses).await
    }

    fn keys(&self) -> &dyn Store {
        self.shared.store.as_ref()
    }
}
