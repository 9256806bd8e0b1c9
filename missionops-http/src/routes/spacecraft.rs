//! Spacecraft: listing, registration, detail, status, configuration, detection, fleet.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use missionops_core::{
    ConfigRecord, ConfigSource, ConfigStatus, ConfigView, DetectReport, FleetEntry, Limit,
    NewSpacecraft, Spacecraft, SpacecraftConfig, SpacecraftId, SpacecraftListing, SpacecraftStatus,
    Timestamp,
};
use serde::Deserialize;
use serde_json::Value;

use super::completed;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{CallerExt, JsJson, JsonBody, Path, Query, created, ok, parse_id};
use crate::state::AppState;

fn path_id(raw: &str) -> Result<SpacecraftId, ApiError> {
    parse_id("id", raw)
}

/// Parses a compat paging value the way the TypeScript service did: anything that is not an
/// integer falls back to the default, and the value is clamped into range.
fn lenient_int(raw: Option<&str>, default: i64) -> i64 {
    raw.and_then(|r| r.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .map_or(default, |v| v.trunc() as i64)
}

/// The query of `GET /spacecraft`: paging values kept as given, because the compat rule reads
/// them leniently ([`lenient_int`]) instead of rejecting them.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    offset: Option<String>,
}

/// A page of spacecraft with their configurations (compat: `limit` and `offset` are clamped,
/// never rejected).
#[utoipa::path(get, path = "/spacecraft", tag = "spacecraft",
    params(("limit" = Option<u32>, Query, description = "clamped to 1–100, default 20"),
        ("offset" = Option<u64>, Query, description = "clamped to ≥ 0, default 0")),
    responses((status = 200, description = "`{total, count, limit, offset, items}`")))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Query(query): Query<ListQuery>,
) -> Result<JsJson<SpacecraftListing>, ApiError> {
    let limit = Limit::clamped(lenient_int(query.limit.as_deref(), 20), 100);
    let offset = lenient_int(query.offset.as_deref(), 0).max(0) as u64;
    Ok(ok(state
        .ops
        .acting_as(caller)
        .list_spacecraft(limit, offset)
        .await?))
}

/// Registers a spacecraft; the id is generated when absent.
#[utoipa::path(post, path = "/spacecraft", tag = "spacecraft",
    request_body(content = Object, description = "`{id?, name, missionType?, metadata?}`"),
    responses((status = 201, description = "the spacecraft"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = new.id.as_ref().map(SpacecraftId::as_str)))]
pub async fn register(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    JsonBody(new): JsonBody<NewSpacecraft>,
) -> Result<JsJson<Spacecraft>, ApiError> {
    let ops = state.ops.acting_as(caller);
    Ok(created(
        completed(async move { ops.register_spacecraft(new).await }).await?,
    ))
}

/// One spacecraft.
#[utoipa::path(get, path = "/spacecraft/{id}", tag = "spacecraft",
    params(("id" = String, Path)),
    responses((status = 200, description = "the spacecraft"), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %id))]
pub async fn get(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> Result<JsJson<Spacecraft>, ApiError> {
    Ok(ok(state
        .ops
        .acting_as(caller)
        .get_spacecraft(&path_id(&id)?)
        .await?))
}

/// Compat health: anomaly counts over 1 h / 6 h / 24 h and the overall status.
#[utoipa::path(get, path = "/spacecraft/{id}/status", tag = "spacecraft",
    params(("id" = String, Path)),
    responses((status = 200, description = "`{spacecraftId, lastTelemetryTimestamp, anomalies: {last1h, last6h, last24h}, highestSeverityLast24h, overallStatus}`; a spacecraft nobody registered answers `null`, zero counts, `LOW`, `NOMINAL` (compat)"),
        (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %id))]
pub async fn status(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> Result<JsJson<SpacecraftStatus>, ApiError> {
    Ok(ok(state
        .ops
        .acting_as(caller)
        .status(&path_id(&id)?)
        .await?))
}

/// The current configuration.
#[utoipa::path(get, path = "/spacecraft/{id}/config", tag = "spacecraft",
    params(("id" = String, Path)),
    responses((status = 200, description = "`{spacecraftId, config, status, source, version}`"), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %id))]
pub async fn get_config(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> Result<JsJson<ConfigView>, ApiError> {
    Ok(ok(state
        .ops
        .acting_as(caller)
        .get_config(&path_id(&id)?)
        .await?
        .into()))
}

/// Replaces the configuration with a new version (validated; `CONFIG_CHANGED` event with the
/// diff). The body is the configuration document itself. With `If-Match: "N"` only over
/// version N (0: over none yet): 409 naming both versions when another was saved since.
#[utoipa::path(put, path = "/spacecraft/{id}/config", tag = "spacecraft",
    params(("id" = String, Path),
        ("If-Match" = Option<String>, Header, description = "the version the change was made from, quoted (`\"3\"`; `\"0\"`: no configuration yet): a version saved since answers 409 instead of being replaced")),
    request_body(content = Object, description = "the configuration document: `parameters` \
        (name → rule) and `derived` (name → expression, evaluated at ingest before the rules; \
        a bad expression or a cycle answers 400 naming `derived.<name>`)",
        example = json!({"parameters": {"temp": {"warnHigh": 45, "critHigh": 70}, "power": {"warnHigh": 150}},
            "derived": {"power": "bus_v * bus_i"}})),
    responses((status = 200, description = "`{spacecraftId, config, status, source, version}`"), (status = 400, body = ErrorBody),
        (status = 409, description = "`If-Match` names a version older than the newest", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %id))]
pub async fn put_config(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(document): JsonBody<Value>,
) -> Result<JsJson<ConfigView>, ApiError> {
    let id = path_id(&id)?;
    let edited = edited_version(&headers)?;
    let config = SpacecraftConfig::parse(document)?;
    let ops = state.ops.acting_as(caller);
    let record = completed(async move {
        let (status, source) = (ConfigStatus::Approved, Some(ConfigSource::Manual));
        match edited {
            Some(edited) => {
                ops.set_config_over(&id, config, status, source, edited)
                    .await
            }
            None => ops.set_config(&id, config, status, source).await,
        }
    })
    .await?;
    Ok(ok(record.into()))
}

/// The version an `If-Match` header says a change was made from: `"3"` (an entity tag, as
/// HTTP writes them) or `3`, up to nine digits (the OpenAPI document's pattern).
fn edited_version(headers: &HeaderMap) -> Result<Option<u32>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let version = value.to_str().ok().and_then(|text| {
        let digits = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(text);
        let plain = (1..=9).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        plain.then(|| digits.parse::<u32>().ok()).flatten()
    });
    version.map(Some).ok_or_else(|| {
        ApiError::from(missionops_core::Error::invalid(
            "If-Match",
            "must be the version the change was made from, quoted: \"3\"",
        ))
    })
}

/// Every version of the configuration, oldest first.
#[utoipa::path(get, path = "/spacecraft/{id}/config/history", tag = "spacecraft",
    params(("id" = String, Path)),
    responses((status = 200, description = "`[{version, config, status, source, createdAt}]`"), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %id))]
pub async fn config_history(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> Result<JsJson<Vec<ConfigRecord>>, ApiError> {
    Ok(ok(state
        .ops
        .acting_as(caller)
        .config_history(&path_id(&id)?)
        .await?))
}

/// The body of `POST /spacecraft/{id}/detect`.
#[derive(Debug, Deserialize)]
pub struct DetectWindow {
    from: Timestamp,
    to: Timestamp,
}

/// Analyses a window and persists new anomalies (each with an `ANOMALY` event).
#[utoipa::path(post, path = "/spacecraft/{id}/detect", tag = "spacecraft",
    params(("id" = String, Path)),
    request_body(content = Object, description = "`{from, to}`"),
    responses((status = 200, description = "`{detected, persisted}`"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %id))]
pub async fn detect(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    JsonBody(window): JsonBody<DetectWindow>,
) -> Result<JsJson<DetectReport>, ApiError> {
    let id = path_id(&id)?;
    let ops = state.ops.acting_as(caller);
    Ok(ok(completed(async move {
        ops.detect(&id, window.from, window.to).await
    })
    .await?))
}

/// The status of every spacecraft, with its name, open alarms and marks: `stale` (an open
/// `STALE` alarm whose parameter has not come back) and `contactLostAt` (the newest
/// `CONTACT_LOST` when no telemetry has arrived since, else `null`).
#[utoipa::path(get, path = "/fleet/status", tag = "spacecraft",
    responses((status = 200, description = "`[status + {name, activeAlarms, stale, contactLostAt}]`")))]
#[tracing::instrument(skip_all)]
pub async fn fleet(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
) -> Result<JsJson<Vec<FleetEntry>>, ApiError> {
    Ok(ok(state.ops.acting_as(caller).fleet_status().await?))
}

#[cfg(test)]
mod tests {
    use super::lenient_int;

    #[test]
    fn compat_paging_values_fall_back_and_truncate() {
        assert_eq!(lenient_int(None, 20), 20);
        assert_eq!(lenient_int(Some("abc"), 20), 20);
        assert_eq!(lenient_int(Some("2.7"), 20), 2);
        assert_eq!(lenient_int(Some("-5"), 0), -5);
    }
}
