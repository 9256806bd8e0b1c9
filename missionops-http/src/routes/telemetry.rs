//! Telemetry: ingest (one, batch, NDJSON), recent, analyse, latest values, series.

use axum::extract::{FromRequest, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use missionops_core::{
    AnalysisWindow, Anomaly, IngestMode, NewSnapshot, NewSnapshotBatch, ParameterName,
};
use serde_json::{Value, json};

use super::completed;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, JsJson, JsonBody, Params, created, ok, parse_json};
use crate::state::AppState;

/// `limit` bounds of the compat telemetry routes.
const TELEMETRY_LIMIT: (u32, u32) = (20, 100);

/// Ingest one snapshot; idempotent by `id`.
#[utoipa::path(post, path = "/telemetry", tag = "telemetry",
    request_body(content = Object, description = "`{id?, spacecraftId, timestamp, parameters}`",
        example = json!({"spacecraftId": "SC-001", "timestamp": "2025-01-01T00:00:00Z", "parameters": {"temp": 42, "mode": "CRUISE"}})),
    responses((status = 201, description = "`{id}`"), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn ingest(
    State(state): State<AppState>,
    JsonBody(snapshot): JsonBody<NewSnapshot>,
) -> Result<JsJson<Value>, ApiError> {
    let ops = state.ops.clone();
    let receipt = completed(async move { ops.ingest(snapshot).await }).await?;
    state.metrics.snapshots_ingested(1);
    Ok(created(json!({"id": receipt.id})))
}

/// Ingest a batch, all or nothing; each snapshot's `spacecraftId` defaults to the batch's.
#[utoipa::path(post, path = "/telemetry/batch", tag = "telemetry",
    request_body(content = Object, description = "`{spacecraftId, snapshots: [{id?, spacecraftId?, timestamp, parameters}], stored?}`; `stored: true` marks played-back telemetry (anomalies recorded, no alarms or events)"),
    responses((status = 201, description = "`{count}`"), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn ingest_batch(
    State(state): State<AppState>,
    JsonBody(batch): JsonBody<NewSnapshotBatch>,
) -> Result<JsJson<Value>, ApiError> {
    let mode = if batch.stored {
        IngestMode::Stored
    } else {
        IngestMode::Live
    };
    let ops = state.ops.clone();
    let ingested =
        completed(async move { ops.ingest_batch_as(batch.into_snapshots(), mode).await }).await?;
    state.metrics.snapshots_ingested(ingested.count);
    Ok(created(json!({"count": ingested.count})))
}

/// An NDJSON body: one snapshot per line.
pub struct NdjsonBody(Vec<NewSnapshot>);

impl FromRequest<AppState> for NdjsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let accepted = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .is_some_and(|m| {
                matches!(
                    m.as_str(),
                    "application/x-ndjson"
                        | "application/ndjson"
                        | "application/jsonl"
                        | "application/json"
                        | "text/plain"
                )
            });
        if !accepted {
            return Err(ApiError::unsupported_media_type("application/x-ndjson"));
        }
        let Body(bytes) = Body::from_request(req, state).await?;
        let mut snapshots = Vec::new();
        for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let snapshot = parse_json::<NewSnapshot>(line).map_err(|e| e.at_line(index + 1))?;
            snapshots.push(snapshot);
        }
        Ok(NdjsonBody(snapshots))
    }
}

/// Bulk ingest of NDJSON, all or nothing; a line without `id` gets the id derived from its
/// content, so posting the same lines again stores nothing twice; `?stored=true` marks
/// played-back data.
#[utoipa::path(post, path = "/telemetry/ndjson", tag = "telemetry",
    params(("stored" = Option<bool>, Query, description = "played-back (stored) telemetry")),
    request_body(content = String, content_type = "application/x-ndjson", description = "one snapshot JSON per line"),
    responses((status = 201, description = "`{count}`"), (status = 400, body = ErrorBody, description = "names the first bad line"),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn ingest_ndjson(
    State(state): State<AppState>,
    params: Params,
    NdjsonBody(snapshots): NdjsonBody,
) -> Result<JsJson<Value>, ApiError> {
    let mode = match params.get("stored") {
        None | Some("false") => IngestMode::Live,
        Some("true") => IngestMode::Stored,
        Some(other) => {
            return Err(ApiError::invalid(
                "stored",
                format!("must be true or false (got {other:?})"),
            ));
        }
    };
    let ops = state.ops.clone();
    let ingested = completed(async move { ops.ingest_bulk(snapshots, mode).await }).await?;
    state.metrics.snapshots_ingested(ingested.count);
    Ok(created(json!({"count": ingested.count})))
}

/// The newest snapshots of a spacecraft, newest first.
#[utoipa::path(get, path = "/telemetry", tag = "telemetry",
    params(("spacecraftId" = String, Query), ("limit" = Option<u32>, Query, description = "1–100, default 20")),
    responses((status = 200, description = "snapshots, newest first"), (status = 400, body = ErrorBody)))]
pub async fn recent(
    State(state): State<AppState>,
    params: Params,
) -> Result<JsJson<Vec<missionops_core::TelemetrySnapshot>>, ApiError> {
    let spacecraft = params.spacecraft("spacecraftId")?;
    let limit = params.limit(TELEMETRY_LIMIT.0, TELEMETRY_LIMIT.1)?;
    Ok(ok(state.ops.recent_telemetry(&spacecraft, limit).await?))
}

/// Compat threshold analysis of the newest snapshots, or of a time window in time order.
#[utoipa::path(get, path = "/telemetry/analyze", tag = "telemetry",
    params(("spacecraftId" = String, Query), ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("from" = Option<String>, Query, description = "RFC 3339; with `to`"), ("to" = Option<String>, Query, description = "RFC 3339; with `from`")),
    responses((status = 200, description = "anomalies `{id, spacecraftId, timestamp, parameter, value, severity, description}`"),
        (status = 400, body = ErrorBody)))]
pub async fn analyze(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let spacecraft = params.spacecraft("spacecraftId")?;
    let limit = params.limit(TELEMETRY_LIMIT.0, TELEMETRY_LIMIT.1)?;
    let window = match params.window()? {
        Some((from, to)) => AnalysisWindow::range(from, to)?,
        None => AnalysisWindow::Recent(limit),
    };
    let anomalies = state.ops.analyse(&spacecraft, window).await?;
    // Rendered from the borrowed compat views here, with no JSON tree built in between.
    let compat: Vec<_> = anomalies.iter().map(Anomaly::compat).collect();
    Ok(ok(compat).into_response())
}

/// The newest value of every parameter and its limit state.
#[utoipa::path(get, path = "/telemetry/latest", tag = "telemetry",
    params(("spacecraftId" = String, Query)),
    responses((status = 200, description = "`{spacecraftId, parameters: {name: {value, timestamp, state, severity}}}`"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn latest(
    State(state): State<AppState>,
    params: Params,
) -> Result<JsJson<missionops_core::LatestView>, ApiError> {
    let spacecraft = params.spacecraft("spacecraftId")?;
    Ok(ok(state.ops.latest_values(&spacecraft).await?))
}

/// A downsampled numeric series for plots; empty buckets are omitted.
#[utoipa::path(get, path = "/telemetry/series", tag = "telemetry",
    params(("spacecraftId" = String, Query), ("parameter" = String, Query), ("from" = String, Query),
        ("to" = String, Query), ("bucket" = String, Query, description = "`60`, `60s`, `5m`, `1h`, `1d`")),
    responses((status = 200, description = "`[{start, min, max, avg, count, last}]`"), (status = 400, body = ErrorBody)))]
pub async fn series(
    State(state): State<AppState>,
    params: Params,
) -> Result<JsJson<Vec<missionops_core::SeriesBucket>>, ApiError> {
    let spacecraft = params.spacecraft("spacecraftId")?;
    let parameter: ParameterName = params.required("parameter")?;
    let from = params.required_timestamp("from")?;
    let to = params.required_timestamp("to")?;
    let bucket = params.required("bucket")?;
    Ok(ok(state
        .ops
        .series(&spacecraft, &parameter, from, to, bucket)
        .await?))
}
