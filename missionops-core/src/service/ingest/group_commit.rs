//! Group commit of live writes: concurrent live writes of one spacecraft wait in its queue, and
//! whoever holds the spacecraft's monitor evaluates and stores them together.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use crate::domain::{SpacecraftId, TelemetrySnapshot};
use crate::error::{Error, Result};
use crate::ports::{GroupOutcome, IngestOutcome, TelemetryWrite};
use crate::rules::{MonitorContext, MonitorOutput};

use crate::service::MissionOps;
use crate::service::monitor_slots::MonitorSlot;

/// The most snapshots one group commit of a spacecraft's live writes takes (a larger write goes
/// alone): enough to turn many concurrent small writes into one transaction, few enough that
/// the writes queued behind a group do not wait long for it.
const GROUP_SNAPSHOTS: usize = 2_000;

/// Where the answer to a queued write goes: whoever stores the write puts it there and wakes
/// the caller, who may be waiting for it rather than for the monitor.
type Answer = Arc<Mutex<AnswerCell>>;

#[derive(Debug, Default)]
struct AnswerCell {
    result: Option<Result<IngestOutcome>>,
    waiting: Option<Waker>,
}

/// A live write of one spacecraft waiting for the spacecraft's monitor.
#[derive(Debug)]
struct QueuedWrite {
    snapshots: Vec<TelemetrySnapshot>,
    answer: Answer,
}

/// The live writes of one spacecraft waiting for its monitor, in arrival order. Clones share
/// the queue. A std mutex: held to push or take, never across an await.
#[derive(Debug, Clone, Default)]
pub(in crate::service) struct WriteQueue(Arc<Mutex<Vec<QueuedWrite>>>);

impl WriteQueue {
    /// Queues `snapshots`; the guard takes them out of the queue again if the caller gives up
    /// (its request is cancelled) before anyone stored them.
    fn enqueue(&self, snapshots: Vec<TelemetrySnapshot>) -> Result<Queued<'_>> {
        let answer = Answer::default();
        self.0
            .lock()
            .map_err(|_| Error::backend("the live write queue is poisoned".to_owned()))?
            .push(QueuedWrite {
                snapshots,
                answer: Arc::clone(&answer),
            });
        Ok(Queued {
            queue: self,
            answer,
        })
    }

    /// Takes the oldest queued writes, up to [`GROUP_SNAPSHOTS`] snapshots (at least one write).
    fn take_group(&self) -> Vec<QueuedWrite> {
        let Ok(mut queue) = self.0.lock() else {
            return Vec::new();
        };
        let mut total = 0;
        let count = queue
            .iter()
            .take_while(|write| {
                total += write.snapshots.len();
                total <= GROUP_SNAPSHOTS
            })
            .count()
            .max(1)
            .min(queue.len());
        queue.drain(..count).collect()
    }
}

/// A queued write, from its caller's side.
struct Queued<'a> {
    queue: &'a WriteQueue,
    answer: Answer,
}

impl Queued<'_> {
    /// The answer, once someone stored the write (or failed to); until then `waker` is woken
    /// when it comes.
    fn answer(&self, waker: Option<&Waker>) -> Option<Result<IngestOutcome>> {
        let mut cell = self.answer.lock().ok()?;
        let result = cell.result.take();
        if let (None, Some(waker)) = (&result, waker) {
            cell.waiting = Some(waker.clone());
        }
        result
    }

    fn is_answered(&self) -> bool {
        self.answer.lock().is_ok_and(|cell| cell.result.is_some())
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        // A caller that gives up while its write waits takes the write with it: nobody would
        // hear of it, and storing it later, out of its time, would be worse than not at all.
        if let Ok(mut queue) = self.queue.0.lock() {
            queue.retain(|write| !Arc::ptr_eq(&write.answer, &self.answer));
        }
    }
}

/// Puts `result` where the caller of `write` finds it, and wakes the caller.
fn answer(write: &QueuedWrite, result: Result<IngestOutcome>) {
    let waiting = write.answer.lock().ok().and_then(|mut cell| {
        cell.result = Some(result);
        cell.waiting.take()
    });
    if let Some(waker) = waiting {
        waker.wake();
    }
}

impl MissionOps {
    /// Stores a live write of one spacecraft, with the writes of that spacecraft that wait
    /// for its monitor meanwhile.
    ///
    /// Every write of one spacecraft needs the spacecraft's monitor from evaluation to commit,
    /// so concurrent writes of one spacecraft would each wait for a whole transaction of the
    /// one before. Instead each write joins the spacecraft's queue and then waits for the
    /// monitor; whoever gets it takes the queued writes in arrival order, evaluates them one
    /// after another exactly as if they came one by one (each on the monitor state the one
    /// before left), and stores them with one [`insert_telemetry_group`] call, which may commit
    /// them in one transaction. Each write gets its own outcome. When one of them fails, the
    /// ones before it stand, it gets its error, and the ones after it are evaluated again on
    /// the state the stored ones left and stored in the next round: a failed write fails
    /// nobody else, and the monitor only ever holds the state of what was stored.
    ///
    /// A caller whose turn comes finds its write stored already, or stores it (with the ones
    /// queued behind it). If the request storing a group is cancelled halfway, the writes it
    /// took answer with an error saying they may or may not be stored.
    ///
    /// [`insert_telemetry_group`]: crate::TelemetryRepository::insert_telemetry_group
    pub(super) async fn store_live_grouped(
        &self,
        id: &SpacecraftId,
        snapshots: Vec<TelemetrySnapshot>,
    ) -> Result<IngestOutcome> {
        let handle = self.slot_handle(id);
        let queued = handle.queue.enqueue(snapshots)?;
        // Wait for the monitor, or for whoever holds it to store this write meanwhile: then
        // there is no need to take the monitor at all.
        let mut lock = std::pin::pin!(handle.slot.lock());
        let slot = std::future::poll_fn(|cx| match queued.answer(Some(cx.waker())) {
            Some(result) => Poll::Ready(Err(result)),
            None => lock.as_mut().poll(cx).map(Ok),
        })
        .await;
        let mut slot = match slot {
            Ok(slot) => slot,
            Err(result) => return result,
        };
        // Groups are taken oldest first, so this write may come in a later one.
        while !queued.is_answered() {
            // Requests the executor has ready to run may be writes about to join the queue:
            // let them first, so that the group is larger and the commits fewer (single
            // writes over HTTP measured ~5 % more per second). Costs nothing when idle.
            yield_once().await;
            let group = handle.queue.take_group();
            if group.is_empty() {
                break;
            }
            self.commit_group(id, &mut slot, group).await;
        }
        drop(slot);
        queued.answer(None).unwrap_or_else(|| {
            Err(Error::backend(
                "the request storing this write with others was cancelled before it answered; \
                 the write may or may not be stored"
                    .to_owned(),
            ))
        })
    }

    /// Evaluates and stores `writes` of `id` in order under its monitor (see
    /// [`Self::store_live_grouped`]), answering each.
    async fn commit_group(
        &self,
        id: &SpacecraftId,
        slot: &mut MonitorSlot,
        mut writes: Vec<QueuedWrite>,
    ) {
        while !writes.is_empty() {
            let context = MonitorContext {
                now: self.clock.now(),
                ids: &*self.ids,
            };
            let mut work = slot.clone();
            let mut out = MonitorOutput::default();
            if let Err(e) = self.refresh(id, &mut work, context, &mut out).await {
                // The first write gets the failure; the others try again in the next round.
                answer(&writes[0], Err(e));
                writes.remove(0);
                continue;
            }
            // A lone write hands its snapshots over; in a group each keeps them, in case it
            // has to be evaluated again after a neighbour failed.
            let count = writes.len();
            let alone = count == 1;
            let mut group = Vec::with_capacity(count);
            // The monitor state after each write, for when a later one fails.
            let mut states = Vec::with_capacity(count);
            for (i, write) in writes.iter_mut().enumerate() {
                if let Some(monitor) = work.monitor.as_mut() {
                    for snapshot in &write.snapshots {
                        monitor.observe(snapshot, context, &mut out);
                    }
                }
                let (anomalies, alarms, events) = std::mem::take(&mut out).into_parts();
                group.push(TelemetryWrite {
                    snapshots: if alone {
                        std::mem::take(&mut write.snapshots)
                    } else {
                        write.snapshots.clone()
                    },
                    anomalies,
                    alarms,
                    events,
                });
                if i + 1 < count {
                    states.push(work.clone());
                }
            }
            states.push(work);
            let GroupOutcome { stored, failure } = self.store.insert_telemetry_group(group).await;
            let done = stored.len().min(writes.len());
            let last = done.checked_sub(1).and_then(|i| states.into_iter().nth(i));
            if let Some(state) = last {
                *slot = state;
            }
            for (write, outcome) in writes.iter().zip(stored) {
                answer(write, Ok(outcome));
            }
            writes.drain(..done);
            match failure {
                Some(failure) => {
                    if let Some(failed) = writes.first() {
                        answer(failed, Err(failure));
                        writes.remove(0);
                    }
                }
                None => {
                    // Every write should be stored; a store that says otherwise is broken,
                    // and trying again could go on for ever.
                    for write in writes.drain(..) {
                        answer(
                            &write,
                            Err(Error::backend(
                                "the store answered a group write without storing it".to_owned(),
                            )),
                        );
                    }
                }
            }
        }
    }
}

/// Returns control to the executor once: the task wakes itself and is polled again after the
/// tasks that were ready before it (any executor; no runtime is named here).
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}
