//! API keys: one row each, the secret's hash as a 32-byte blob.

use async_trait::async_trait;
use missionops_core::{
    ApiKey, ApiKeyId, Error, KeyName, KeyRepository, Result, Role, SecretHash, TenantId, Timestamp,
};
use sqlx::{QueryBuilder, Sqlite};

use super::{
    DbResult, SqliteStore, begin_write, corrupt, is_unique_violation, rows_per_statement, stored,
    stored_opt_time, stored_time,
};

type KeyRow = (
    String,
    String,
    String,
    String,
    Vec<u8>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

const KEY_COLUMNS: &str =
    "id, name, tenant, role, secret_hash, created_at, expires_at, revoked_at, last_used_at";

fn key_from_row(row: KeyRow) -> Result<ApiKey> {
    let (id, name, tenant, role, hash, created, expires, revoked, used) = row;
    let what = "key";
    Ok(ApiKey {
        name: stored(KeyName::parse(name), what, &id)?,
        tenant: stored(TenantId::parse(tenant), what, &id)?,
        role: stored(Role::parse(&role), what, &id)?,
        secret_hash: SecretHash::from_slice(&hash).map_err(|e| corrupt(what, &id, e))?,
        created_at: stored_time(created, what, &id)?,
        expires_at: stored_opt_time(expires, what, &id)?,
        revoked_at: stored_opt_time(revoked, what, &id)?,
        last_used_at: stored_opt_time(used, what, &id)?,
        id: stored(ApiKeyId::parse(id.clone()), what, &id)?,
    })
}

#[async_trait]
impl KeyRepository for SqliteStore {
    async fn create_key(&self, key: ApiKey) -> Result<()> {
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(key.id.as_str())
        .bind(key.name.as_str())
        .bind(key.tenant.as_str())
        .bind(key.role.as_str())
        .bind(&key.secret_hash.0[..])
        .bind(key.created_at.as_millis())
        .bind(key.expires_at.map(Timestamp::as_millis))
        .bind(key.revoked_at.map(Timestamp::as_millis))
        .bind(key.last_used_at.map(Timestamp::as_millis))
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(err) if is_unique_violation(&err) => {
                return Err(Error::conflict("key", &key.id, "already exists"));
            }
            other => other.db()?,
        };
        tx.commit().await.db()
    }

    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>> {
        let rows: Vec<KeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant = ? ORDER BY created_at, id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.reader)
        .await
        .db()?;
        rows.into_iter().map(key_from_row).collect()
    }

    async fn get_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>> {
        let row: Option<KeyRow> =
            sqlx::query_as(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?"))
                .bind(id.as_str())
                .fetch_optional(&self.reader)
                .await
                .db()?;
        row.map(key_from_row).transpose()
    }

    async fn revoke_key(&self, tenant: &TenantId, id: &ApiKeyId, at: Timestamp) -> Result<ApiKey> {
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        let row: Option<KeyRow> = sqlx::query_as(&format!(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) \
             WHERE id = ? AND tenant = ? RETURNING {KEY_COLUMNS}"
        ))
        .bind(at.as_millis())
        .bind(id.as_str())
        .bind(tenant.as_str())
        .fetch_optional(&mut *tx)
        .await
        .db()?;
        let row = row.ok_or_else(|| Error::not_found("key", id))?;
        tx.commit().await.db()?;
        key_from_row(row)
    }

    async fn record_key_use(&self, uses: &[(ApiKeyId, Timestamp)]) -> Result<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        for chunk in uses.chunks(rows_per_statement(2)) {
            // One UPDATE from a VALUES list per chunk: the later time wins, unknown ids match
            // no row.
            let mut query = QueryBuilder::<Sqlite>::new("WITH used (id, at) AS (");
            query.push_values(chunk, |mut row, (id, at)| {
                row.push_bind(id.as_str()).push_bind(at.as_millis());
            });
            query.push(
                ") UPDATE api_keys SET last_used_at = \
                 max(coalesce(last_used_at, 0), (SELECT max(at) FROM used WHERE used.id = api_keys.id)) \
                 WHERE id IN (SELECT id FROM used)",
            );
            query.build().execute(&mut *tx).await.db()?;
        }
        tx.commit().await.db()
    }

    async fn any_key_exists(&self) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM api_keys LIMIT 1")
            .fetch_optional(&self.reader)
            .await
            .db()?;
        Ok(found.is_some())
    }
}
