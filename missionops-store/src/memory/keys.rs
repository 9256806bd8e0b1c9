//! API keys in memory.

use async_trait::async_trait;
use missionops_core::{ApiKey, ApiKeyId, Error, KeyRepository, Result, TenantId, Timestamp};

use super::MemoryStore;

#[async_trait]
impl KeyRepository for MemoryStore {
    async fn create_key(&self, key: ApiKey) -> Result<()> {
        let mut inner = self.lock()?;
        if inner.keys.iter().any(|k| k.id == key.id) {
            return Err(Error::conflict("key", &key.id, "already exists"));
        }
        inner.keys.push(key);
        Ok(())
    }

    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>> {
        let inner = self.lock()?;
        let mut keys: Vec<ApiKey> = inner
            .keys
            .iter()
            .filter(|k| &k.tenant == tenant)
            .cloned()
            .collect();
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(keys)
    }

    async fn get_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>> {
        Ok(self.lock()?.keys.iter().find(|k| &k.id == id).cloned())
    }

    async fn revoke_key(&self, tenant: &TenantId, id: &ApiKeyId, at: Timestamp) -> Result<ApiKey> {
        let mut inner = self.lock()?;
        let key = inner
            .keys
            .iter_mut()
            .find(|k| &k.id == id && &k.tenant == tenant)
            .ok_or_else(|| Error::not_found("key", id))?;
        key.revoked_at.get_or_insert(at);
        Ok(key.clone())
    }

    async fn record_key_use(&self, uses: &[(ApiKeyId, Timestamp)]) -> Result<()> {
        let mut inner = self.lock()?;
        for (id, at) in uses {
            if let Some(key) = inner.keys.iter_mut().find(|k| &k.id == id) {
                if key.last_used_at.is_none_or(|last| last < *at) {
                    key.last_used_at = Some(*at);
                }
            }
        }
        Ok(())
    }

    async fn any_key_exists(&self) -> Result<bool> {
        Ok(!self.lock()?.keys.is_empty())
    }
}
