//! Persisted anomalies and alarms.

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use missionops_core::json::write_js;
use missionops_core::{
    Alarm, AlarmCursor, AlarmFilter, AlarmId, AlarmStates, Anomaly, AnomalyId, Limit, Operator,
    OpsDocument, RangeCursor, SpacecraftId, Timestamp,
};
use serde::Deserialize;

use super::completed;
use crate::error::{ApiError, ErrorBody};
use crate::extract::query::{self, QueryLimit};
use crate::extract::{CallerExt, JsJson, JsonBody, Path, Query, ok, rename_field, window};
use crate::state::AppState;
use crate::streamed::json_array;

/// The query of `GET /anomalies`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    #[serde(deserialize_with = "query::domain")]
    spacecraft_id: SpacecraftId,
    /// 1 to 200, 20 when absent.
    #[serde(default)]
    limit: QueryLimit<20, 200>,
}

/// The query of `GET /anomalies/timeline`: `from` and `to` are both required.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineQuery {
    #[serde(deserialize_with = "query::domain")]
    spacecraft_id: SpacecraftId,
    #[serde(default, deserialize_with = "query::optional_timestamp")]
    from: Option<Timestamp>,
    #[serde(default, deserialize_with = "query::optional_timestamp")]
    to: Option<Timestamp>,
    /// Page size (1 to 10,000, 1,000 with only a `cursor`): with it or a `cursor`, one page
    /// and a `Link: rel="next"` header when there may be more.
    #[serde(default)]
    limit: Option<QueryLimit<1_000, 10_000>>,
    /// Where the page starts, from the previous page's `Link: rel="next"`.
    #[serde(default, deserialize_with = "query::optional")]
    cursor: Option<RangeCursor>,
}

/// The query of `GET /alarms`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmsQuery {
    #[serde(default, deserialize_with = "query::optional")]
    spacecraft_id: Option<SpacecraftId>,
    /// Every state but CLEARED when absent.
    #[serde(default, deserialize_with = "query::alarm_states")]
    state: AlarmStates,
    /// Page size (1 to 1,000, 100 with only a `cursor`): with it or a `cursor`, one page, an
    /// `X-Total-Count` header and a `Link: rel="next"` header when there are more.
    #[serde(default)]
    limit: Option<QueryLimit<100, 1_000>>,
    /// Where the page starts, from the previous page's `Link: rel="next"`.
    #[serde(default, deserialize_with = "query::optional")]
    cursor: Option<AlarmCursor>,
}

/// Persisted anomalies of a spacecraft, newest first.
#[utoipa::path(get, path = "/anomalies", tag = "anomalies",
    params(("spacecraftId" = String, Query), ("limit" = Option<u32>, Query, description = "1–200, default 20")),
    responses((status = 200, description = "anomalies, newest first"), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %query.spacecraft_id))]
pub async fn list(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Query(query): Query<ListQuery>,
) -> Result<JsJson<Vec<Anomaly>>, ApiError> {
    Ok(ok(state
        .ops
        .acting_as(caller)
        .list_anomalies(&query.spacecraft_id, query.limit.0)
        .await?))
}

/// Persisted anomalies of a spacecraft in a window, in time order.
///
/// Without `limit` or `cursor`, the whole window (streamed). With them, one page; the
/// `Link: <…>; rel="next"` header, when present, is the request for the next page.
#[utoipa::path(get, path = "/anomalies/timeline", tag = "anomalies",
    params(("spacecraftId" = String, Query), ("from" = String, Query), ("to" = String, Query),
        ("limit" = Option<u32>, Query, description = "page size, 1–10,000"),
        ("cursor" = Option<String>, Query, description = "where the page starts, from the previous page's `Link: rel=\"next\"`")),
    responses((status = 200, description = "anomalies, oldest first; with `limit` or `cursor` one page, and a `Link: rel=\"next\"` header when there may be more",
        headers(("Link" = String, description = "with `limit` or `cursor`, when there may be more: `</anomalies/timeline?…&cursor=…>; rel=\"next\"`, the next page"))),
        (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = %query.spacecraft_id))]
pub async fn timeline(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Query(query): Query<TimelineQuery>,
) -> Result<Response, ApiError> {
    let (from, to) =
        window(query.from, query.to)?.ok_or_else(|| ApiError::invalid("from", "is required"))?;
    let ops = state.ops.acting_as(caller);
    if query.limit.is_some() || query.cursor.is_some() {
        let limit = query.limit.unwrap_or_default().0;
        let page = ops
            .anomaly_timeline_page(&query.spacecraft_id, from, to, query.cursor, limit)
            .await?;
        let mut response = ok(page.anomalies).into_response();
        if let Some(next) = page.next {
            let link = next_page_link(&query.spacecraft_id, from, to, limit, next);
            if let Ok(value) = HeaderValue::from_str(&link) {
                response.headers_mut().insert(header::LINK, value);
            }
        }
        return Ok(response);
    }
    // Streamed page by page; the first page is read before answering, so that its failure
    // still gets a status.
    let mut pages = ops.anomaly_timeline_pages(&query.spacecraft_id, from, to)?;
    let first = pages.next().await?;
    Ok(json_array(first, pages, |anomaly, out| {
        write_js(out, anomaly)
    }))
}

/// The `Link` header value of the timeline page after `next` (RFC 8288), relative to the
/// server, its query percent-encoded.
fn next_page_link(
    spacecraft: &SpacecraftId,
    from: Timestamp,
    to: Timestamp,
    limit: Limit,
    next: RangeCursor,
) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("spacecraftId", spacecraft.as_str())
        .append_pair("from", &from.to_string())
        .append_pair("to", &to.to_string())
        .append_pair("limit", &limit.get().to_string())
        .append_pair("cursor", &next.token())
        .finish();
    format!("</anomalies/timeline?{query}>; rel=\"next\"")
}

/// `procedure` documents relevant to an anomaly, best first.
#[utoipa::path(get, path = "/anomalies/{id}/procedures", tag = "anomalies",
    params(("id" = String, Path, description = "`{snapshotId}:{parameter}:{KIND}`")),
    responses((status = 200, description = "procedures"), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(anomaly_id = %id))]
pub async fn procedures(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> Result<JsJson<Vec<OpsDocument>>, ApiError> {
    let id = AnomalyId::parse(id).map_err(|e| rename_field(e, "id"))?;
    Ok(ok(state
        .ops
        .acting_as(caller)
        .procedures_for_anomaly(&id)
        .await?))
}

/// Alarms, most recently opened first.
///
/// Without `limit` or `cursor`, every alarm passing the filter. With them, one page: the
/// `X-Total-Count` header says how many pass the filter in all, and the `Link: <…>;
/// rel="next"` header, when present, is the request for the next page.
#[utoipa::path(get, path = "/alarms", tag = "anomalies",
    params(("spacecraftId" = Option<String>, Query), ("state" = Option<String>, Query, description = "ACTIVE, ACKNOWLEDGED, CLEARED, SHELVED, OPEN (default: every state but CLEARED) or ALL"),
        ("limit" = Option<u32>, Query, description = "page size, 1–1,000"),
        ("cursor" = Option<String>, Query, description = "where the page starts, from the previous page's `Link: rel=\"next\"`")),
    responses((status = 200, description = "alarms; with `limit` or `cursor` one page, its `X-Total-Count` and, when there are more, a `Link: rel=\"next\"` header",
        headers(("X-Total-Count" = u64, description = "with `limit` or `cursor`: how many alarms pass the filter in all"),
            ("Link" = String, description = "with `limit` or `cursor`, when there are more: `</alarms?…&cursor=…>; rel=\"next\"`, the next page"))),
        (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = query.spacecraft_id.as_ref().map(SpacecraftId::as_str)))]
pub async fn alarms(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Query(query): Query<AlarmsQuery>,
) -> Result<Response, ApiError> {
    let filter = AlarmFilter {
        spacecraft_id: query.spacecraft_id,
        states: query.state,
    };
    let ops = state.ops.acting_as(caller);
    if query.limit.is_none() && query.cursor.is_none() {
        return Ok(ok(ops.list_alarms(&filter).await?).into_response());
    }
    let limit = query.limit.unwrap_or_default().0;
    let page = ops
        .alarm_page(&filter, query.cursor.as_ref(), limit)
        .await?;
    let mut response = ok(page.alarms).into_response();
    let headers = response.headers_mut();
    headers.insert(TOTAL_COUNT, HeaderValue::from(page.total));
    if let Some(next) = page.next {
        let link = next_alarms_link(&filter, limit, &next);
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// How many items pass a paged list's filter in all.
const TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

/// The `Link` header value of the alarms page after `next` (RFC 8288), relative to the
/// server, its query percent-encoded.
fn next_alarms_link(filter: &AlarmFilter, limit: Limit, next: &AlarmCursor) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(spacecraft) = &filter.spacecraft_id {
        query.append_pair("spacecraftId", spacecraft.as_str());
    }
    let query = query
        .append_pair("state", filter.states.as_str())
        .append_pair("limit", &limit.get().to_string())
        .append_pair("cursor", &next.token())
        .finish();
    format!("</alarms?{query}>; rel=\"next\"")
}

/// The body of `POST /alarms/{id}/acknowledge`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Acknowledgement {
    /// Who; optional with an API key, whose name is used instead.
    #[serde(default)]
    by: Option<Operator>,
    /// Why, or what is being done.
    #[serde(default)]
    comment: Option<String>,
}

/// The body of `POST /alarms/{id}/shelve`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Shelving {
    /// Silenced until then (RFC 3339, in the future).
    until: Timestamp,
    /// Who; optional with an API key, whose name is used instead.
    #[serde(default)]
    by: Option<Operator>,
    /// Why.
    #[serde(default)]
    comment: Option<String>,
}

/// The body of `POST /alarms/{id}/unshelve`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Unshelving {
    /// Who; optional with an API key, whose name is used instead.
    #[serde(default)]
    by: Option<Operator>,
}

fn alarm_id(raw: String) -> Result<AlarmId, ApiError> {
    AlarmId::parse(raw).map_err(|e| rename_field(e, "id"))
}

/// Acknowledge an alarm: `ACTIVE` becomes `ACKNOWLEDGED` (or `CLEARED` when the value has
/// already returned); records `ALARM_ACKNOWLEDGED`.
#[utoipa::path(post, path = "/alarms/{id}/acknowledge", tag = "anomalies",
    params(("id" = String, Path)),
    request_body(content = Object, description = "`{by?, comment?}` (`by` is required without an API key; with one, the key's name is used)", example = json!({"by": "flight", "comment": "heater cycling, watching"})),
    responses((status = 200, description = "the alarm"), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "already acknowledged")))]
#[tracing::instrument(skip_all, fields(alarm_id = %id))]
pub async fn acknowledge(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Acknowledgement>,
) -> Result<JsJson<Alarm>, ApiError> {
    let id = alarm_id(id)?;
    let ops = state.ops.acting_as(caller);
    Ok(ok(completed(async move {
        ops.acknowledge_alarm(&id, ops.operator(body.by)?, body.comment)
            .await
    })
    .await?))
}

/// Shelve an alarm until a time: it raises no events meanwhile.
#[utoipa::path(post, path = "/alarms/{id}/shelve", tag = "anomalies",
    params(("id" = String, Path)),
    request_body(content = Object, description = "`{until, by?, comment?}`", example = json!({"until": "2025-01-01T06:00:00Z", "by": "flight"})),
    responses((status = 200, description = "the alarm"), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "cleared")))]
#[tracing::instrument(skip_all, fields(alarm_id = %id))]
pub async fn shelve(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Shelving>,
) -> Result<JsJson<Alarm>, ApiError> {
    let id = alarm_id(id)?;
    let ops = state.ops.acting_as(caller);
    Ok(ok(completed(async move {
        ops.shelve_alarm(&id, body.until, ops.operator(body.by)?, body.comment)
            .await
    })
    .await?))
}

/// End a shelving early.
#[utoipa::path(post, path = "/alarms/{id}/unshelve", tag = "anomalies",
    params(("id" = String, Path)),
    request_body(content = Object, description = "`{by?}`", example = json!({"by": "flight"})),
    responses((status = 200, description = "the alarm"), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "not shelved")))]
#[tracing::instrument(skip_all, fields(alarm_id = %id))]
pub async fn unshelve(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Unshelving>,
) -> Result<JsJson<Alarm>, ApiError> {
    let id = alarm_id(id)?;
    let ops = state.ops.acting_as(caller);
    Ok(ok(completed(async move {
        ops.unshelve_alarm(&id, ops.operator(body.by)?).await
    })
    .await?))
}
