//! Packet telemetry (SPEC §11): a spacecraft's packet definition (XTCE), and CCSDS Space
//! Packets in. Decoding is the core's port; the server decodes when the binary injected it.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use missionops_core::{IngestMode, OnPacketError, PacketDefinitionView, SpacecraftId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::completed;
use crate::error::{ApiError, ErrorBody};
use crate::extract::query;
use crate::extract::{Body, CallerExt, JsJson, Path, Query, parse_id};
use crate::state::AppState;

/// The header of `GET /spacecraft/{id}/packet-definition` carrying the definition's version.
pub const VERSION_HEADER: &str = "x-packet-definition-version";

fn path_id(raw: &str) -> Result<SpacecraftId, ApiError> {
    parse_id("id", raw)
}

/// The media type of a request, lower-cased, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
}

/// Replaces the packet definition with a new version (XTCE subset, compiled before it is
/// stored; `CONFIG_CHANGED` event naming the parameters added and removed).
#[utoipa::path(put, path = "/spacecraft/{id}/packet-definition", tag = "packets",
    params(("id" = String, Path)),
    request_body(content = String, content_type = "application/xml", description = "the XTCE document"),
    responses((status = 201, description = "the first version: `{spacecraftId, version, created, parameters, parametersWithLimits, createdAt}`"),
        (status = 200, description = "a new version, same shape"),
        (status = 400, body = ErrorBody, description = "names the element and its line"),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %id))]
pub async fn put_definition(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(bytes): Body,
) -> Result<JsJson<PacketDefinitionView>, ApiError> {
    let id = path_id(&id)?;
    if !matches!(
        media_type(&headers).as_deref(),
        Some("application/xml" | "text/xml")
    ) {
        return Err(ApiError::unsupported_media_type("application/xml"));
    }
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|e| ApiError::invalid("definition", format!("is not UTF-8 ({e})")))?;
    let ops = state.ops.acting_as(caller);
    let view = completed(async move { ops.put_packet_definition(&id, &text).await }).await?;
    let status = if view.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(JsJson(status, view))
}

/// The current packet definition: the XTCE document as uploaded, its version in the
/// `X-Packet-Definition-Version` header.
#[utoipa::path(get, path = "/spacecraft/{id}/packet-definition", tag = "packets",
    params(("id" = String, Path)),
    responses((status = 200, content_type = "application/xml", description = "the XTCE document"),
        (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %id))]
pub async fn get_definition(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let record = state
        .ops
        .acting_as(caller)
        .packet_definition(&path_id(&id)?)
        .await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml; charset=utf-8"),
            ),
            (
                header::HeaderName::from_static(VERSION_HEADER),
                HeaderValue::from(record.version),
            ),
        ],
        record.text,
    )
        .into_response())
}

/// `onError`: `reject` or `skip`.
fn on_error<'de, D: serde::Deserializer<'de>>(d: D) -> Result<OnPacketError, D::Error> {
    use serde::de::Error as _;
    match String::deserialize(d)?.as_str() {
        "reject" => Ok(OnPacketError::Reject),
        "skip" => Ok(OnPacketError::Skip),
        other => Err(D::Error::custom(format!(
            "must be reject or skip (got {})",
            missionops_core::quote(other)
        ))),
    }
}

/// The query of `POST /spacecraft/{id}/packets`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PacketsQuery {
    /// Played-back (stored) telemetry.
    #[serde(default, deserialize_with = "query::flag")]
    stored: bool,
    /// `reject` (default) or `skip`.
    #[serde(default, deserialize_with = "on_error")]
    on_error: OnPacketError,
}

/// Ingests CCSDS Space Packets back to back, decoded with the current packet definition;
/// all-or-nothing (400 naming the byte offset of the first bad packet) unless
/// `?onError=skip`; a packet sent again is stored once.
#[utoipa::path(post, path = "/spacecraft/{id}/packets", tag = "packets",
    params(("id" = String, Path),
        ("stored" = Option<bool>, Query, description = "played-back (stored) telemetry"),
        ("onError" = Option<String>, Query, description = "`reject` (default) or `skip`")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "Space Packets back to back"),
    responses((status = 200, description = "`{packets, snapshots, unknownApid, malformed}`"),
        (status = 400, body = ErrorBody, description = "names the byte offset of the first bad packet"),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %id))]
pub async fn ingest(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    Query(query): Query<PacketsQuery>,
    headers: HeaderMap,
    Body(bytes): Body,
) -> Result<JsJson<Value>, ApiError> {
    let id = path_id(&id)?;
    if media_type(&headers).as_deref() != Some("application/octet-stream") {
        return Err(ApiError::unsupported_media_type("application/octet-stream"));
    }
    let mode = if query.stored {
        IngestMode::Stored
    } else {
        IngestMode::Live
    };
    let on_error = query.on_error;
    let ops = state.ops.acting_as(caller);
    let counts =
        completed(async move { ops.ingest_packets(&id, &bytes, on_error, mode).await }).await?;
    state.metrics.packets(&counts);
    state.metrics.snapshots_ingested(counts.snapshots);
    Ok(JsJson(
        StatusCode::OK,
        json!({
            "packets": counts.packets,
            "snapshots": counts.snapshots,
            "unknownApid": counts.unknown_apid,
            "malformed": counts.malformed,
        }),
    ))
}
