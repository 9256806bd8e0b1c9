//! Operations endpoints: liveness, readiness, metrics, the OpenAPI document.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsJson, ok};
use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "`{status: \"ok\"}`")))]
#[tracing::instrument(skip_all)]
pub async fn healthz() -> JsJson<Value> {
    ok(json!({"status": "ok"}))
}

/// Readiness: the store answers reads and takes writes (a write probe that changes nothing).
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, description = "`{status: \"ready\"}`"),
        (status = 503, body = ErrorBody, description = "the store does not answer or refuses writes")))]
#[tracing::instrument(skip_all)]
pub async fn readyz(State(state): State<AppState>) -> Result<JsJson<Value>, ApiError> {
    state
        .ops
        .check_ready()
        .await
        .map_err(ApiError::unavailable)?;
    Ok(ok(json!({"status": "ready"})))
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, content_type = "application/openmetrics-text", description = "metrics")))]
#[tracing::instrument(skip_all)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    state.refresh_outbox_metrics().await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// This API's OpenAPI document, generated from the handlers' own annotations.
#[utoipa::path(get, path = "/openapi.json", tag = "ops",
    responses((status = 200, description = "the OpenAPI 3.1 document")))]
#[tracing::instrument(skip_all)]
pub async fn openapi() -> Response {
    // The route table's document with the server's contract written in (`contract`).
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::contract::served(),
    )
        .into_response()
}
