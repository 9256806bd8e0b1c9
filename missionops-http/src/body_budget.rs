//! The bound on request-body bytes held by all requests at once
//! ([`HttpConfig::max_body_bytes_in_flight`](crate::HttpConfig::max_body_bytes_in_flight)).
//!
//! A request takes room for its body before the body is read and gives it back when its
//! response is ready (the body and what was parsed from it are gone by then). A body declared
//! by `Content-Length` takes its whole length at once; a chunked body, whose length nobody
//! knows beforehand, is read here chunk by chunk, taking room for each chunk before keeping
//! it. When there is no room the request is answered 503 with `Retry-After` without running
//! its handler, so nothing of it is stored.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use std::future::Future;

use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http_body::Body as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::state::AppState;

/// Room is counted in units of this many bytes, so that a `u32` of permits covers terabytes.
const UNIT: usize = 1024;

/// The room left for request bodies; clones share it.
#[derive(Debug, Clone)]
pub(crate) struct BodyBudget {
    room: Arc<Semaphore>,
    /// The bytes it holds in all, for the 503's message.
    limit: usize,
}

impl BodyBudget {
    /// A budget of `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        let units = units(limit).min(Semaphore::MAX_PERMITS);
        BodyBudget {
            room: Arc::new(Semaphore::new(units)),
            limit,
        }
    }

    /// Room for `units` more units, or `None` when there is not that much left.
    fn take_units(&self, units: usize) -> Option<OwnedSemaphorePermit> {
        let units = u32::try_from(units).ok()?;
        self.room.clone().try_acquire_many_owned(units).ok()
    }

    /// The 503 answered when the budget is full.
    fn full(&self) -> Response {
        ApiError::bodies_in_flight_full(self.limit).into_response()
    }
}

/// The units that `bytes` bytes take.
fn units(bytes: usize) -> usize {
    bytes.div_ceil(UNIT)
}

/// Middleware (a step of `server::front`): runs the request through `next` only when its body
/// fits in the budget, holding the room until the response is ready.
pub(crate) async fn limit_bodies<F>(
    state: &AppState,
    request: Request,
    next: impl FnOnce(Request) -> F,
) -> Response
where
    F: Future<Output = Response>,
{
    if request.body().is_end_stream() {
        return next(request).await;
    }
    let budget = &state.body_budget;
    let body_limit = state.config.body_limit;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) => {
            let Some(length) = usize::try_from(length).ok().filter(|l| *l <= body_limit) else {
                // Refused before a byte of it is read.
                return ApiError::payload_too_large(body_limit).into_response();
            };
            let Some(_room) = budget.take_units(units(length)) else {
                return budget.full();
            };
            next(request).await
        }
        None => {
            let (parts, body) = request.into_parts();
            let mut room = match budget.take_units(0) {
                Some(room) => room,
                None => return budget.full(),
            };
            let mut buffer: Vec<u8> = Vec::new();
            let mut chunks = body.into_data_stream();
            while let Some(chunk) = chunks.next().await {
                let Ok(chunk) = chunk else {
                    return ApiError::invalid("body", "could not be read").into_response();
                };
                let total = buffer.len() + chunk.len();
                if total > body_limit {
                    return ApiError::payload_too_large(body_limit).into_response();
                }
                let more = units(total).saturating_sub(room.num_permits());
                if more > 0 {
                    match budget.take_units(more) {
                        Some(extra) => room.merge(extra),
                        None => return budget.full(),
                    }
                }
                buffer.extend_from_slice(&chunk);
            }
            let request = Request::from_parts(parts, Body::from(Bytes::from(buffer)));
            let response = next(request).await;
            drop(room);
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_taken_and_given_back_in_whole_units() {
        let budget = BodyBudget::new(10 * UNIT);
        let first = budget
            .take_units(units(6 * UNIT - 1))
            .expect("room for 6 units");
        assert!(
            budget.take_units(units(4 * UNIT + 1)).is_none(),
            "5 units do not fit in 4"
        );
        let second = budget.take_units(units(4 * UNIT)).expect("4 units fit");
        assert!(budget.take_units(1).is_none());
        drop(first);
        drop(second);
        assert!(budget.take_units(10).is_some(), "all room is given back");
    }
}
