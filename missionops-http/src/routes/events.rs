//! Mission events: the compat listing and the live Server-Sent Events stream.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use missionops_core::{Limit, MissionEvent, MissionOps, SpacecraftId};
use serde::Deserialize;
use tokio::sync::watch;

use crate::error::{ApiError, ErrorBody};
use crate::extract::query::{self, QueryLimit};
use crate::extract::{CallerExt, JsJson, Query, ok};
use crate::state::AppState;

/// The query of `GET /events`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    #[serde(default, deserialize_with = "query::optional")]
    spacecraft_id: Option<SpacecraftId>,
    /// 1 to 100, 20 when absent.
    #[serde(default)]
    limit: QueryLimit<20, 100>,
}

/// The query of `GET /events/stream`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamQuery {
    #[serde(default, deserialize_with = "query::optional")]
    spacecraft_id: Option<SpacecraftId>,
}

/// The newest events, of one spacecraft or all, newest first.
#[utoipa::path(get, path = "/events", tag = "events",
    params(("spacecraftId" = Option<String>, Query), ("limit" = Option<u32>, Query, description = "1–100, default 20")),
    responses((status = 200, description = "events, newest first"), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = query.spacecraft_id.as_ref().map(SpacecraftId::as_str)))]
pub async fn list(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    Query(query): Query<ListQuery>,
) -> Result<JsJson<Vec<MissionEvent>>, ApiError> {
    Ok(ok(state
        .ops
        .acting_as(caller)
        .list_events(query.spacecraft_id.as_ref(), query.limit.0)
        .await?))
}

/// Where a stream is and what it still has to send.
struct Cursor {
    ops: MissionOps,
    spacecraft: Option<SpacecraftId>,
    after: u64,
    pending: VecDeque<MissionEvent>,
    shutdown: watch::Receiver<bool>,
    poll: Duration,
}

const STREAM_PAGE: u32 = 200;

impl Cursor {
    /// The next event, waiting for one if none is recorded yet; `None` when the server shuts
    /// down.
    async fn next(&mut self) -> Option<MissionEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if *self.shutdown.borrow() {
                return None;
            }
            let page = Limit::clamped(i64::from(STREAM_PAGE), STREAM_PAGE);
            match self
                .ops
                .events_after(self.after, self.spacecraft.as_ref(), page)
                .await
            {
                Ok(events) if !events.is_empty() => {
                    if let Some(last) = events.last() {
                        self.after = last.sequence;
                    }
                    self.pending.extend(events);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "event stream could not read events; retrying")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.poll) => {}
                _ = self.shutdown.changed() => {}
            }
        }
    }
}

fn to_sse(event: &MissionEvent) -> Event {
    let data = missionops_core::json::to_vec_js(event)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    Event::default()
        .id(event.sequence.to_string())
        .event(event.event_type.as_str())
        .data(data)
}

/// A live stream of events as Server-Sent Events: `id:` the sequence, `event:` the type,
/// `data:` the event JSON. With `Last-Event-ID` it resumes after that sequence; without, it
/// starts with the next event recorded.
#[utoipa::path(get, path = "/events/stream", tag = "events",
    params(("spacecraftId" = Option<String>, Query), ("Last-Event-ID" = Option<u64>, Header, description = "resume after this sequence")),
    responses((status = 200, content_type = "text/event-stream", description = "the event stream"), (status = 400, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(spacecraft_id = query.spacecraft_id.as_ref().map(SpacecraftId::as_str)))]
pub async fn stream(
    State(state): State<AppState>,
    CallerExt(caller): CallerExt,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let ops = state.ops.acting_as(caller);
    let spacecraft = query.spacecraft_id;
    let after = match headers.get("last-event-id") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                ApiError::invalid("Last-Event-ID", "must be the sequence number of an event")
            })?,
        None => ops
            .list_events(None, Limit::clamped(1, 1))
            .await?
            .first()
            .map_or(0, |e| e.sequence),
    };
    let cursor = Cursor {
        ops,
        spacecraft,
        after,
        pending: VecDeque::new(),
        shutdown: state.shutdown_signal(),
        poll: state.config.stream_poll_interval,
    };
    let events = futures_util::stream::unfold(cursor, |mut cursor| async move {
        let event = cursor.next().await?;
        Some((Ok(to_sse(&event)), cursor))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
