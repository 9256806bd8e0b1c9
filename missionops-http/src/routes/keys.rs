//! API keys of the caller's tenant (SPEC §9), for admins: create (the only answer that ever
//! holds a key), list (never a secret or hash), revoke.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use missionops_core::{ApiKey, ApiKeyId, Caller, KeyLifetime, KeyName, Role, Timestamp};
use serde::{Deserialize, Serialize};

use super::completed;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsJson, JsonBody, Path, created, ok};
use crate::state::AppState;

/// The body of `POST /keys`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewKeyRequest {
    #[serde(deserialize_with = "crate::extract::query::domain")]
    name: KeyName,
    #[serde(deserialize_with = "crate::extract::query::domain")]
    role: Role,
    #[serde(default)]
    expires_in: Option<String>,
}

/// A key as listed: no secret, no hash.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    id: String,
    name: String,
    tenant: String,
    role: Role,
    created_at: Timestamp,
    expires_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
}

impl From<&ApiKey> for KeyView {
    fn from(key: &ApiKey) -> Self {
        KeyView {
            id: key.id.to_string(),
            name: key.name.to_string(),
            tenant: key.tenant.to_string(),
            role: key.role,
            created_at: key.created_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            last_used_at: key.last_used_at,
        }
    }
}

/// A created key: the listing's fields plus the key itself, shown this once.
#[derive(Debug, Serialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    view: KeyView,
    key: String,
}

fn caller(extension: Option<Extension<Caller>>) -> Caller {
    extension.map_or_else(Caller::open, |Extension(caller)| caller)
}

/// Creates a key of the caller's tenant; the answer is the only one that ever holds it.
#[utoipa::path(post, path = "/keys", tag = "keys",
    request_body(content = Object, description = "`{name, role, expiresIn?}`; `expiresIn` like `90d`, `12h`, `30m`"),
    responses((status = 201, description = "`{id, name, tenant, role, createdAt, expiresAt, key}`"), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    who: Option<Extension<Caller>>,
    JsonBody(new): JsonBody<NewKeyRequest>,
) -> Result<JsJson<CreatedKey>, ApiError> {
    let lifetime = new
        .expires_in
        .as_deref()
        .map(KeyLifetime::parse)
        .transpose()?;
    let who = caller(who);
    let ops = state.ops.clone();
    let made = completed(async move {
        crate::auth::create_key(&ops, &who, new.name, new.role, lifetime).await
    })
    .await?;
    tracing::info!(key_id = %made.record.id, role = %made.record.role, "API key created");
    Ok(created(CreatedKey {
        view: KeyView::from(&made.record),
        key: made.key,
    }))
}

/// The keys of the caller's tenant, oldest first, without secrets.
#[utoipa::path(get, path = "/keys", tag = "keys",
    responses((status = 200, description = "`[{id, name, tenant, role, createdAt, expiresAt, revokedAt, lastUsedAt}]`")))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    who: Option<Extension<Caller>>,
) -> Result<JsJson<Vec<KeyView>>, ApiError> {
    let keys = state.ops.list_keys(&caller(who)).await?;
    Ok(ok(keys.iter().map(KeyView::from).collect()))
}

/// Revokes a key of the caller's tenant (within 1 s on every server sharing the database);
/// another tenant's key answers 404.
#[utoipa::path(delete, path = "/keys/{id}", tag = "keys",
    params(("id" = String, Path)),
    responses((status = 204, description = "revoked"), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %id))]
pub async fn revoke(
    State(state): State<AppState>,
    who: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = ApiKeyId::parse_strict(id)?;
    let who = caller(who);
    let ops = state.ops.clone();
    completed(async move { ops.revoke_key(&who, &id).await }).await?;
    tracing::info!("API key revoked");
    Ok(StatusCode::NO_CONTENT)
}
