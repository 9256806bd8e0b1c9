//! Operational documents.

use axum::extract::State;
use missionops_core::{
    DocumentCategory, DocumentFilter, DocumentId, NewDocument, OpsDocument, SearchQuery,
    SpacecraftId, Tag,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::completed;
use crate::error::{ApiError, ErrorBody};
use crate::extract::query::{self, QueryLimit};
use crate::extract::{CallerExt, JsJson, JsonBody, Path, Query, created, ok, rename_field};
use crate::state::AppState;

fn path_id(raw: &str) -> Result<DocumentId, ApiError> {
    DocumentId::parse(raw).map_err(|e| rename_field(e, "id"))
}

/// Publishes a document (`DOCUMENT_PUBLISHED` event).
#[utoipa::path(post, path = "/docs", tag = "docs",
    request_body(content = Object, description = "`{spacecraftId?, title, body, tags?, category?}`"),
    responses((status = 201, description = "`{documentId}`"), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = new.spacecraft_id.as_ref().map(SpacecraftId::as_str)))]
pub async fn publish(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    JsonBody(new): JsonBody<NewDocument>,
) -> Result<JsJson<Value>, ApiError> {
    let ops = state.ops.acting_as(caller);
    let document = completed(async move { ops.publish_document(new).await }).await?;
    Ok(created(json!({"documentId": document.id})))
}

/// The query of `GET /docs`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    #[serde(default, deserialize_with = "query::optional")]
    spacecraft_id: Option<SpacecraftId>,
    #[serde(default, deserialize_with = "query::optional")]
    category: Option<DocumentCategory>,
    #[serde(default, deserialize_with = "query::optional")]
    tag: Option<Tag>,
    /// 1 to 100, 20 when absent.
    #[serde(default)]
    limit: QueryLimit<20, 100>,
    #[serde(default, deserialize_with = "query::offset")]
    offset: u64,
}

/// The query of `GET /docs/search`.
#[derive(Debug, Deserialize)]
pub struct SearchParams {
    /// The search text, parsed by the handler so that an absent one gets the domain's reason.
    #[serde(default)]
    q: String,
    /// 1 to 50, 10 when absent.
    #[serde(default)]
    limit: QueryLimit<10, 50>,
}

/// Documents filtered by spacecraft, category and tag, newest first.
#[utoipa::path(get, path = "/docs", tag = "docs",
    params(("spacecraftId" = Option<String>, Query), ("category" = Option<String>, Query), ("tag" = Option<String>, Query),
        ("limit" = Option<u32>, Query, description = "1–100, default 20"), ("offset" = Option<u64>, Query)),
    responses((status = 200, description = "documents, newest first"), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = query.spacecraft_id.as_ref().map(SpacecraftId::as_str)))]
pub async fn list(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Query(query): Query<ListQuery>,
) -> Result<JsJson<Vec<OpsDocument>>, ApiError> {
    let filter = DocumentFilter {
        spacecraft_id: query.spacecraft_id,
        category: query.category,
        tag: query.tag,
        limit: query.limit.0,
        offset: usize::try_from(query.offset).unwrap_or(usize::MAX),
    };
    Ok(ok(state
        .ops
        .acting_as(caller)
        .list_documents(&filter)
        .await?))
}

/// Full-text search, best match first.
#[utoipa::path(get, path = "/docs/search", tag = "docs",
    params(("q" = String, Query), ("limit" = Option<u32>, Query, description = "1–50, default 10")),
    responses((status = 200, description = "documents, best match first"), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn search(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Query(query): Query<SearchParams>,
) -> Result<JsJson<Vec<OpsDocument>>, ApiError> {
    // An absent `q` is the empty query, which the domain refuses with its own reason.
    let search = SearchQuery::parse(&query.q)?;
    Ok(ok(state
        .ops
        .acting_as(caller)
        .search_documents(&search, query.limit.0)
        .await?))
}

/// One document.
#[utoipa::path(get, path = "/docs/{id}", tag = "docs",
    params(("id" = String, Path)),
    responses((status = 200, description = "the document"), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(document_id = %id))]
pub async fn get(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> Result<JsJson<OpsDocument>, ApiError> {
    Ok(ok(state
        .ops
        .acting_as(caller)
        .get_document(&path_id(&id)?)
        .await?))
}

/// Replaces a document's content (`version` + 1, `DOCUMENT_UPDATED` event).
#[utoipa::path(put, path = "/docs/{id}", tag = "docs",
    params(("id" = String, Path)),
    request_body(content = Object, description = "`{spacecraftId?, title, body, tags, category}`"),
    responses((status = 200, description = "the document"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(document_id = %id))]
pub async fn update(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    JsonBody(new): JsonBody<NewDocument>,
) -> Result<JsJson<OpsDocument>, ApiError> {
    let id = path_id(&id)?;
    let ops = state.ops.acting_as(caller);
    Ok(ok(completed(
        async move { ops.update_document(&id, new).await },
    )
    .await?))
}
