//! Persisted anomalies and alarms.

use axum::extract::{Path, State};
use missionops_core::{Alarm, AlarmFilter, AlarmStates, Anomaly, AnomalyId, OpsDocument};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsJson, Params, ok, rename_field};
use crate::state::AppState;

/// Persisted anomalies of a spacecraft, newest first.
#[utoipa::path(get, path = "/anomalies", tag = "anomalies",
    params(("spacecraftId" = String, Query), ("limit" = Option<u32>, Query, description = "1–200, default 20")),
    responses((status = 200, description = "anomalies, newest first"), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    params: Params,
) -> Result<JsJson<Vec<Anomaly>>, ApiError> {
    let spacecraft = params.spacecraft("spacecraftId")?;
    let limit = params.limit(20, 200)?;
    Ok(ok(state.ops.list_anomalies(&spacecraft, limit).await?))
}

/// Persisted anomalies of a spacecraft in a window, in time order.
#[utoipa::path(get, path = "/anomalies/timeline", tag = "anomalies",
    params(("spacecraftId" = String, Query), ("from" = String, Query), ("to" = String, Query)),
    responses((status = 200, description = "anomalies, oldest first"), (status = 400, body = ErrorBody)))]
pub async fn timeline(
    State(state): State<AppState>,
    params: Params,
) -> Result<JsJson<Vec<Anomaly>>, ApiError> {
    let spacecraft = params.spacecraft("spacecraftId")?;
    let (from, to) = params
        .window()?
        .ok_or_else(|| ApiError::invalid("from", "is required"))?;
    Ok(ok(state
        .ops
        .anomaly_timeline(&spacecraft, from, to)
        .await?))
}

/// `procedure` documents relevant to an anomaly, best first.
#[utoipa::path(get, path = "/anomalies/{id}/procedures", tag = "anomalies",
    params(("id" = String, Path, description = "`{snapshotId}:{parameter}:{KIND}`")),
    responses((status = 200, description = "procedures"), (status = 404, body = ErrorBody)))]
pub async fn procedures(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<JsJson<Vec<OpsDocument>>, ApiError> {
    let id = AnomalyId::parse(id).map_err(|e| rename_field(e, "id"))?;
    Ok(ok(state.ops.procedures_for_anomaly(&id).await?))
}

/// Alarms, most recently opened first.
#[utoipa::path(get, path = "/alarms", tag = "anomalies",
    params(("spacecraftId" = Option<String>, Query), ("state" = Option<String>, Query, description = "ACTIVE, ACKNOWLEDGED, CLEARED, SHELVED, OPEN (default: every state but CLEARED) or ALL")),
    responses((status = 200, description = "alarms"), (status = 400, body = ErrorBody)))]
pub async fn alarms(
    State(state): State<AppState>,
    params: Params,
) -> Result<JsJson<Vec<Alarm>>, ApiError> {
    let filter = AlarmFilter {
        spacecraft_id: params.optional_spacecraft("spacecraftId")?,
        states: params
            .get("state")
            .map(AlarmStates::parse)
            .transpose()?
            .unwrap_or_default(),
    };
    Ok(ok(state.ops.list_alarms(&filter).await?))
}
