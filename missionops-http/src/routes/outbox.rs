//! Event delivery: the outbox's counts.

use axum::extract::State;
use missionops_core::Error;
use missionops_store::OutboxStats;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsJson, ok};
use crate::state::AppState;

/// How many recorded events wait for delivery, were delivered, or were given up (dead
/// letters). 404 when the server was started without an outbox.
#[utoipa::path(get, path = "/outbox/stats", tag = "outbox",
    responses(
        (status = 200, description = "`{pending, delivered, dead}`: outbox rows by state"),
        (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn stats(State(state): State<AppState>) -> Result<JsJson<OutboxStats>, ApiError> {
    let outbox = state
        .outbox
        .as_ref()
        .ok_or_else(|| Error::not_found("outbox", "stats"))?;
    Ok(ok(outbox.stats().await?))
}
