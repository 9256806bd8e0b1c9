//! API keys: one row each, the secret's hash as a 32-byte `bytea`.

use async_trait::async_trait;
use missionops_core::{
    ApiKey, ApiKeyId, Error, KeyName, KeyRepository, Result, Role, SecretHash, TenantId, Timestamp,
};
use sqlx::postgres::PgRow;

use super::codec::{PgTime, corrupt, get, opt_time, stored, time};
use super::{PostgresStore, db, unique_violation};

/// The columns [`key_from_row`] reads.
const KEY_COLUMNS: &str =
    "id, name, tenant, role, secret_hash, created_at, expires_at, revoked_at, last_used_at";

fn key_from_row(row: &PgRow) -> Result<ApiKey> {
    let hash: Vec<u8> = get(row, "secret_hash")?;
    Ok(ApiKey {
        id: stored("key id", ApiKeyId::parse(get::<String>(row, "id")?))?,
        name: stored("key name", KeyName::parse(get::<String>(row, "name")?))?,
        tenant: stored("key tenant", TenantId::parse(get::<String>(row, "tenant")?))?,
        role: stored("key role", Role::parse(&get::<String>(row, "role")?))?,
        secret_hash: SecretHash::from_slice(&hash).map_err(|e| corrupt("key hash", e))?,
        created_at: time(row, "created_at")?,
        expires_at: opt_time(row, "expires_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
        last_used_at: opt_time(row, "last_used_at")?,
    })
}

#[async_trait]
impl KeyRepository for PostgresStore {
    async fn create_key(&self, key: ApiKey) -> Result<()> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(key.id.as_str())
        .bind(key.name.as_str())
        .bind(key.tenant.as_str())
        .bind(key.role.as_str())
        .bind(&key.secret_hash.0[..])
        .bind(PgTime(key.created_at))
        .bind(key.expires_at.map(PgTime))
        .bind(key.revoked_at.map(PgTime))
        .bind(key.last_used_at.map(PgTime))
        .execute(&self.pool)
        .await;
        match inserted {
            Err(err) if unique_violation(&err).is_some() => {
                Err(Error::conflict("key", &key.id, "already exists"))
            }
            Err(err) => Err(db(err)),
            Ok(_) => Ok(()),
        }
    }

    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant = $1 ORDER BY created_at, id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(key_from_row)
        .collect()
    }

    async fn get_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>> {
        sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .as_ref()
            .map(key_from_row)
            .transpose()
    }

    async fn revoke_key(&self, tenant: &TenantId, id: &ApiKeyId, at: Timestamp) -> Result<ApiKey> {
        sqlx::query(&format!(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) \
             WHERE id = $2 AND tenant = $3 RETURNING {KEY_COLUMNS}"
        ))
        .bind(PgTime(at))
        .bind(id.as_str())
        .bind(tenant.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .as_ref()
        .map(key_from_row)
        .transpose()?
        .ok_or_else(|| Error::not_found("key", id))
    }

    async fn record_key_use(&self, uses: &[(ApiKeyId, Timestamp)]) -> Result<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = uses.iter().map(|(id, _)| id.as_str()).collect();
        let times: Vec<PgTime> = uses.iter().map(|(_, at)| PgTime(*at)).collect();
        // One statement for all keys: the latest time per id wins, unknown ids match no row.
        sqlx::query(
            "UPDATE api_keys SET last_used_at = greatest(api_keys.last_used_at, used.at)
             FROM (SELECT id, max(at) AS at FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)
                   GROUP BY id) AS used
             WHERE api_keys.id = used.id",
        )
        .bind(ids)
        .bind(times)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn any_key_exists(&self) -> Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_keys)")
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }
}
