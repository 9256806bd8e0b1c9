//! Event delivery: the outbox's counts.

use axum::extract::State;
use missionops_core::{Error, OutboxStats};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsJson, ok};
use crate::state::AppState;

/// How many recorded events wait for delivery, were delivered, or were given up (dead
/// letters). 404 when the server does not report its outbox ([`AppState::with_outbox`]).
#[utoipa::path(get, path = "/outbox/stats", tag = "outbox",
    responses(
        (status = 200, description = "`{pending, delivered, dead}`: outbox rows by state"),
        (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn stats(State(state): State<AppState>) -> Result<JsJson<OutboxStats>, ApiError> {
    if !state.report_outbox {
        return Err(Error::not_found("outbox", "stats").into());
    }
    Ok(ok(state.ops.outbox_stats().await?))
}
