//! JSON arrays written as streamed bodies: a windowed read of any length is answered batch by
//! batch as the core produces it, so the server's memory does not grow with the window
//! (issue 17). The bytes are those of rendering the whole array at once.
//!
//! The status is sent before the window is read to its end: a failure part way (the store
//! failing) cuts the body short, which a client sees as a broken response, not as a complete
//! array; it is logged.

use std::future::Future;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use missionops_core::{Anomaly, RangeAnalysis, TimelinePages};

/// Bytes gathered before a piece of the body is handed to the connection: large enough to
/// keep per-chunk costs small, small enough to keep memory flat.
const CHUNK_BYTES: usize = 64 * 1024;

/// A source of array items, batch by batch, in order.
pub trait Batches: Send + 'static {
    /// What the array holds.
    type Item: Send + 'static;

    /// The next batch (possibly empty), or `None` when there are no more.
    fn next_batch(
        &mut self,
    ) -> impl Future<Output = missionops_core::Result<Option<Vec<Self::Item>>>> + Send;
}

impl Batches for RangeAnalysis {
    type Item = Anomaly;

    fn next_batch(
        &mut self,
    ) -> impl Future<Output = missionops_core::Result<Option<Vec<Anomaly>>>> + Send {
        self.next()
    }
}

impl Batches for TimelinePages {
    type Item = Anomaly;

    fn next_batch(
        &mut self,
    ) -> impl Future<Output = missionops_core::Result<Option<Vec<Anomaly>>>> + Send {
        self.next()
    }
}

/// Appends one item's JSON to the body.
pub type Render<T> = fn(&T, &mut Vec<u8>) -> serde_json::Result<()>;

/// Where the writer of one body is.
struct Writer<B: Batches> {
    batches: B,
    /// A batch read before the response was made (so that its failure got a status).
    first: Option<Vec<B::Item>>,
    render: Render<B::Item>,
    opened: bool,
    wrote_item: bool,
    done: bool,
}

impl<B: Batches> Writer<B> {
    /// The next piece of the body, `None` after the closing bracket.
    async fn piece(&mut self) -> Option<std::io::Result<Bytes>> {
        if self.done {
            return None;
        }
        let mut out = Vec::with_capacity(CHUNK_BYTES + 1024);
        if !self.opened {
            out.push(b'[');
            self.opened = true;
        }
        while out.len() < CHUNK_BYTES {
            let batch = match self.first.take() {
                Some(first) => Ok(Some(first)),
                None => self.batches.next_batch().await,
            };
            let items = match batch {
                Ok(Some(items)) => items,
                Ok(None) => {
                    out.push(b']');
                    self.done = true;
                    break;
                }
                Err(e) => return Some(Err(self.fail(&e))),
            };
            for item in &items {
                if self.wrote_item {
                    out.push(b',');
                }
                self.wrote_item = true;
                if let Err(e) = (self.render)(item, &mut out) {
                    return Some(Err(self.fail(&e)));
                }
            }
        }
        Some(Ok(Bytes::from(out)))
    }

    fn fail(&mut self, cause: &dyn std::fmt::Display) -> std::io::Error {
        self.done = true;
        tracing::error!(cause = %cause, "a streamed answer failed part way; its body is cut short");
        std::io::Error::other(cause.to_string())
    }
}

/// A 200 `application/json` response whose body is the array of `first` (a batch already
/// read, if any) and the batches after it, each item rendered by `render`. A source asked
/// again after its last batch must answer `None` again.
pub fn json_array<B: Batches>(
    first: Option<Vec<B::Item>>,
    batches: B,
    render: Render<B::Item>,
) -> Response {
    let writer = Writer {
        done: false,
        first,
        batches,
        render,
        opened: false,
        wrote_item: false,
    };
    let body = stream::unfold(writer, |mut writer| async move {
        let piece = writer.piece().await?;
        Some((piece, writer))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        Body::from_stream(body),
    )
        .into_response()
}
