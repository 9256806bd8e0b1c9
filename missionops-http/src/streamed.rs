//! JSON arrays written as streamed bodies: a windowed read of any length is answered batch by
//! batch as the core produces it, so the server's memory does not grow with the window
//! (issue 17). The bytes are those of rendering the whole array at once.
//!
//! The status is sent before the window is read to its end: a failure part way (the store
//! failing) cuts the body short, which a client sees as a broken response, not as a complete
//! array; it is logged.
//!
//! The batches are read by a task of their own, at most [`READ_AHEAD`] ahead of the body: the
//! next page of a window is read and analysed while this one is rendered and sent (SPEC §8
//! "Fleet scale": a 100,000-snapshot analysis end to end), and memory stays bounded by a few
//! batches.

use std::future::Future;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use missionops_core::{Anomaly, RangeAnalysis, TimelinePages};
use tokio::sync::mpsc;

/// Bytes gathered before a piece of the body is handed to the connection: large enough to
/// keep per-chunk costs small, small enough to keep memory flat.
const CHUNK_BYTES: usize = 64 * 1024;

/// Batches read ahead of the body being written: one being rendered, this many waiting.
const READ_AHEAD: usize = 2;

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

/// What the reading task hands the writer: a batch, the end, or the failure that stopped it.
type Message<T> = missionops_core::Result<Option<Vec<T>>>;

/// Reads `batches` to their end on a task of its own, at most [`READ_AHEAD`] batches ahead of
/// the receiver; stops when the receiver is dropped (the client went away).
fn read_ahead<B: Batches>(mut batches: B) -> mpsc::Receiver<Message<B::Item>> {
    let (sender, receiver) = mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        loop {
            let message = batches.next_batch().await;
            let last = !matches!(message, Ok(Some(_)));
            if sender.send(message).await.is_err() || last {
                return;
            }
        }
    });
    receiver
}

/// Where the writer of one body is.
struct Writer<T> {
    /// The batches, read ahead; the reader says when they end, so a channel closing before
    /// that (the reading task panicked) is a failure, never a complete array.
    batches: mpsc::Receiver<Message<T>>,
    /// A batch read before the response was made (so that its failure got a status).
    first: Option<Vec<T>>,
    render: Render<T>,
    opened: bool,
    wrote_item: bool,
    done: bool,
}

impl<T> Writer<T> {
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
                None => match self.batches.recv().await {
                    Some(message) => message,
                    None => Err(missionops_core::Error::backend(
                        "the reader of a streamed answer stopped before its end".to_owned(),
                    )),
                },
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
        batches: read_ahead(batches),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers in batches of three, up to `count`, failing at batch `fail_at` (if given) or
    /// panicking at batch `panic_at`.
    struct Numbers {
        next: u32,
        count: u32,
        fail_at: Option<u32>,
        panic_at: Option<u32>,
    }

    impl Batches for Numbers {
        type Item = u32;

        async fn next_batch(&mut self) -> missionops_core::Result<Option<Vec<u32>>> {
            let batch = self.next / 3;
            if self.fail_at == Some(batch) {
                return Err(missionops_core::Error::backend(
                    "the store went away".to_owned(),
                ));
            }
            assert_ne!(self.panic_at, Some(batch), "the reader panics");
            if self.next >= self.count {
                return Ok(None);
            }
            let end = (self.next + 3).min(self.count);
            let items = (self.next..end).collect();
            self.next = end;
            Ok(Some(items))
        }
    }

    fn render(n: &u32, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, n)
    }

    async fn body(source: Numbers) -> Result<String, String> {
        let response = json_array(None, source, render);
        match axum::body::to_bytes(response.into_body(), usize::MAX).await {
            Ok(body) => Ok(String::from_utf8(body.to_vec()).expect("utf-8")),
            Err(e) => Err(e.to_string()),
        }
    }

    fn numbers(count: u32) -> Numbers {
        Numbers {
            next: 0,
            count,
            fail_at: None,
            panic_at: None,
        }
    }

    #[tokio::test]
    async fn batches_read_ahead_make_the_array_rendered_whole() {
        let whole: Vec<u32> = (0..20_000).collect();
        let expected = serde_json::to_string(&whole).expect("json");
        assert_eq!(body(numbers(20_000)).await, Ok(expected));
        assert_eq!(body(numbers(0)).await, Ok("[]".to_owned()));
    }

    #[tokio::test]
    async fn a_reader_failing_or_panicking_part_way_cuts_the_body_short() {
        let failing = Numbers {
            fail_at: Some(4),
            ..numbers(100)
        };
        assert!(body(failing).await.is_err());
        let panicking = Numbers {
            panic_at: Some(4),
            ..numbers(100)
        };
        assert!(
            body(panicking).await.is_err(),
            "never a complete array that is not the whole answer"
        );
    }
}
