//! Telemetry: ingest (one, batch, NDJSON), recent, analyse, latest values, series.

use axum::extract::{FromRequest, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use missionops_core::json::write_js;
use missionops_core::{
    AnalysisWindow, Anomaly, BucketWidth, IngestMode, NewSnapshot, NewSnapshotBatch, ParameterName,
    SpacecraftId, Timestamp,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::completed;
use crate::error::{ApiError, ErrorBody};
use crate::extract::query::{self, QueryLimit};
use crate::extract::{Body, CallerExt, JsJson, JsonBody, Query, created, ok, parse_json, window};
use crate::state::AppState;
use crate::streamed::json_array;

/// `limit` of the compat telemetry routes: 1 to 100, 20 when absent.
type TelemetryLimit = QueryLimit<20, 100>;

/// The query of `GET /telemetry`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentQuery {
    #[serde(deserialize_with = "query::domain")]
    spacecraft_id: SpacecraftId,
    #[serde(default)]
    limit: TelemetryLimit,
}

/// The query of `GET /telemetry/analyze`: the newest `limit` snapshots, or `from`–`to`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeQuery {
    #[serde(deserialize_with = "query::domain")]
    spacecraft_id: SpacecraftId,
    #[serde(default)]
    limit: TelemetryLimit,
    #[serde(default, deserialize_with = "query::optional_timestamp")]
    from: Option<Timestamp>,
    #[serde(default, deserialize_with = "query::optional_timestamp")]
    to: Option<Timestamp>,
}

/// The query of `GET /telemetry/latest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatestQuery {
    #[serde(deserialize_with = "query::domain")]
    spacecraft_id: SpacecraftId,
}

/// The query of `GET /telemetry/series`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesQuery {
    #[serde(deserialize_with = "query::domain")]
    spacecraft_id: SpacecraftId,
    #[serde(deserialize_with = "query::domain")]
    parameter: ParameterName,
    #[serde(deserialize_with = "query::timestamp")]
    from: Timestamp,
    #[serde(deserialize_with = "query::timestamp")]
    to: Timestamp,
    #[serde(deserialize_with = "query::domain")]
    bucket: BucketWidth,
}

/// The query of `POST /telemetry/ndjson`.
#[derive(Debug, Deserialize)]
pub struct NdjsonQuery {
    /// Played-back (stored) telemetry.
    #[serde(default, deserialize_with = "query::flag")]
    stored: bool,
}

/// Ingest one snapshot; idempotent by `id`.
#[utoipa::path(post, path = "/telemetry", tag = "telemetry",
    request_body(content = Object, description = "`{id?, spacecraftId, timestamp, parameters}`",
        example = json!({"spacecraftId": "SC-001", "timestamp": "2025-01-01T00:00:00Z", "parameters": {"temp": 42, "mode": "CRUISE"}})),
    responses((status = 201, description = "`{id}`"), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %snapshot.spacecraft_id))]
pub async fn ingest(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    JsonBody(snapshot): JsonBody<NewSnapshot>,
) -> Result<JsJson<Value>, ApiError> {
    let ops = state.ops.acting_as(caller);
    let receipt = completed(async move { ops.ingest(snapshot).await }).await?;
    state.metrics.snapshots_ingested(1);
    Ok(created(json!({"id": receipt.id})))
}

/// Ingest a batch, all or nothing; each snapshot's `spacecraftId` defaults to the batch's.
#[utoipa::path(post, path = "/telemetry/batch", tag = "telemetry",
    request_body(content = Object, description = "`{spacecraftId, snapshots: [{id?, spacecraftId?, timestamp, parameters}], stored?}`; `stored: true` marks played-back telemetry (anomalies recorded, no alarms or events)"),
    responses((status = 201, description = "`{count}`"), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %batch.spacecraft_id))]
pub async fn ingest_batch(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    JsonBody(batch): JsonBody<NewSnapshotBatch>,
) -> Result<JsJson<Value>, ApiError> {
    let mode = if batch.stored {
        IngestMode::Stored
    } else {
        IngestMode::Live
    };
    let ops = state.ops.acting_as(caller);
    let ingested =
        completed(async move { ops.ingest_batch_as(batch.into_snapshots(), mode).await }).await?;
    state.metrics.snapshots_ingested(ingested.count);
    Ok(created(json!({"count": ingested.count})))
}

/// An NDJSON body: one snapshot per line.
pub struct NdjsonBody(Vec<NewSnapshot>);

impl FromRequest<AppState> for NdjsonBody {
    type Rejection = ApiError;

    /// Only NDJSON (`application/x-ndjson`, or its unprefixed spelling) and JSON lines sent as
    /// `application/json` are read. Not `text/plain`: a web page can send that from any
    /// origin without a CORS preflight, so accepting it would let any page a user visits
    /// write telemetry to a server on their network.
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
                    "application/x-ndjson" | "application/ndjson" | "application/json"
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
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody, description = "not sent as `application/x-ndjson` (or `application/json`)")))]
#[tracing::instrument(skip_all)]
pub async fn ingest_ndjson(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Query(query): Query<NdjsonQuery>,
    NdjsonBody(snapshots): NdjsonBody,
) -> Result<JsJson<Value>, ApiError> {
    let mode = if query.stored {
        IngestMode::Stored
    } else {
        IngestMode::Live
    };
    let ops = state.ops.acting_as(caller);
    let ingested = completed(async move { ops.ingest_bulk(snapshots, mode).await }).await?;
    state.metrics.snapshots_ingested(ingested.count);
    Ok(created(json!({"count": ingested.count})))
}

/// The newest snapshots of a spacecraft, newest first.
#[utoipa::path(get, path = "/telemetry", tag = "telemetry",
    params(("spacecraftId" = String, Query), ("limit" = Option<u32>, Query, description = "1–100, default 20")),
    responses((status = 200, description = "snapshots, newest first"), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %query.spacecraft_id))]
pub async fn recent(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Query(query): Query<RecentQuery>,
) -> Result<JsJson<Vec<missionops_core::TelemetrySnapshot>>, ApiError> {
    Ok(ok(state
        .ops
        .acting_as(caller)
        .recent_telemetry(&query.spacecraft_id, query.limit.0)
        .await?))
}

/// Compat threshold analysis of the newest snapshots, or of a time window in time order.
#[utoipa::path(get, path = "/telemetry/analyze", tag = "telemetry",
    params(("spacecraftId" = String, Query), ("limit" = Option<u32>, Query, description = "1–100, default 20"),
        ("from" = Option<String>, Query, description = "RFC 3339; with `to`"), ("to" = Option<String>, Query, description = "RFC 3339; with `from`")),
    responses((status = 200, description = "anomalies `{id, spacecraftId, timestamp, parameter, value, severity, description}`"),
        (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %query.spacecraft_id))]
pub async fn analyze(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Query(query): Query<AnalyzeQuery>,
) -> Result<Response, ApiError> {
    let ops = state.ops.acting_as(caller);
    if let Some((from, to)) = window(query.from, query.to)? {
        // A time window can hold a million snapshots: streamed, page by page. The first page
        // is read before answering, so that its failure still gets a status.
        let mut analysis = ops.analyse_range(&query.spacecraft_id, from, to).await?;
        let first = analysis.next().await?;
        return Ok(json_array(first, analysis, |anomaly, out| {
            write_js(out, &anomaly.compat())
        }));
    }
    let window = AnalysisWindow::Recent(query.limit.0);
    let anomalies = ops.analyse(&query.spacecraft_id, window).await?;
    // Rendered from the borrowed compat views here, with no JSON tree built in between.
    let compat: Vec<_> = anomalies.iter().map(Anomaly::compat).collect();
    Ok(ok(compat).into_response())
}

/// The newest value of every parameter and its limit state.
#[utoipa::path(get, path = "/telemetry/latest", tag = "telemetry",
    params(("spacecraftId" = String, Query)),
    responses((status = 200, description = "`{spacecraftId, parameters: {name: {value, timestamp, state, severity}}}`"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %query.spacecraft_id))]
pub async fn latest(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Query(query): Query<LatestQuery>,
) -> Result<JsJson<missionops_core::LatestView>, ApiError> {
    Ok(ok(state
        .ops
        .acting_as(caller)
        .latest_values(&query.spacecraft_id)
        .await?))
}

/// A downsampled numeric series for plots; empty buckets are omitted.
#[utoipa::path(get, path = "/telemetry/series", tag = "telemetry",
    params(("spacecraftId" = String, Query), ("parameter" = String, Query), ("from" = String, Query),
        ("to" = String, Query), ("bucket" = String, Query, description = "`60`, `60s`, `5m`, `1h`, `1d`")),
    responses((status = 200, description = "`[{start, min, max, avg, count, last}]`"), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %query.spacecraft_id))]
pub async fn series(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Query(query): Query<SeriesQuery>,
) -> Result<JsJson<Vec<missionops_core::SeriesBucket>>, ApiError> {
    let SeriesQuery {
        spacecraft_id,
        parameter,
        from,
        to,
        bucket,
    } = query;
    Ok(ok(state
        .ops
        .acting_as(caller)
        .series(&spacecraft_id, &parameter, from, to, bucket)
        .await?))
}
