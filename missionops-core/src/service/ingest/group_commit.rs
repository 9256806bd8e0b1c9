//! Group commit of live writes: concurrent live writes, of any spacecraft, wait in one queue in
//! arrival order, and whoever has the turn takes the oldest as a group, locks their
//! spacecraft's monitors, and evaluates and stores them together. A store that commits on
//! several connections lets the next group be taken while the one before is being stored.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::lock::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::domain::{Actor, NewEvent, SpacecraftId, TelemetrySnapshot, TenantId};
use crate::error::{Error, Result};
use crate::ports::{GroupOutcome, IngestOutcome, Registration, TelemetryWrite};
use crate::rules::{MonitorContext, MonitorOutput};

use crate::service::MissionOps;
use crate::service::app::{Scoped, audit};

use super::derive::{derive_live, has_derived};
use crate::service::monitor_slots::MonitorSlot;

/// The most snapshots one group commit takes (a larger write goes alone): enough to turn many
/// concurrent small writes into one transaction, few enough that the writes queued behind a
/// group do not wait long for it.
const GROUP_SNAPSHOTS: usize = 2_000;

/// Where the answer to a queued write goes: whoever stores the write puts it there and wakes
/// the caller, who may be waiting for it rather than for the turn.
type Answer = Arc<Mutex<AnswerCell>>;

#[derive(Debug, Default)]
struct AnswerCell {
    result: Option<Result<IngestOutcome>>,
    waiting: Option<Waker>,
}

/// A live write waiting for its turn.
#[derive(Debug)]
struct QueuedWrite {
    snapshots: Vec<TelemetrySnapshot>,
    /// The tenant of the handle that queued it (the writes of one group may be of several).
    tenant: TenantId,
    /// Who queued it, named in the events it causes.
    actor: Actor,
    /// The spacecraft its snapshots name, each once, in its tenant.
    spacecraft: Vec<Scoped>,
    answer: Answer,
}

/// The live writes waiting to be stored, in arrival order, the turn to take the next group, and
/// the lanes groups are stored in. Clones share them.
#[derive(Debug, Clone)]
pub(in crate::service) struct WriteQueue {
    /// A std mutex: held to push or take, never across an await.
    waiting: Arc<Mutex<Vec<QueuedWrite>>>,
    /// Held by whoever takes the next group, until it holds the group's monitors. Groups are
    /// taken oldest first and each holds its spacecraft's monitors until it is stored, so the
    /// writes of each spacecraft are evaluated and committed in arrival order.
    turn: Arc<AsyncMutex<()>>,
    /// One per group that may be in flight at once (the store's
    /// [`group_commits_at_once`](crate::TelemetryRepository::group_commits_at_once)), used in
    /// turn: a group waits for the one taken that many groups before it.
    lanes: Arc<[Arc<AsyncMutex<()>>]>,
    /// The lane of the next group; moved on under the turn.
    next_lane: Arc<AtomicUsize>,
}

impl WriteQueue {
    /// A queue whose groups may have `at_once` in flight (at least one).
    pub(in crate::service) fn new(at_once: usize) -> Self {
        WriteQueue {
            waiting: Arc::default(),
            turn: Arc::default(),
            lanes: (0..at_once.max(1)).map(|_| Arc::default()).collect(),
            next_lane: Arc::default(),
        }
    }

    /// The lane of the next group (called under the turn).
    fn next_lane(&self) -> Arc<AsyncMutex<()>> {
        let lane = self.next_lane.fetch_add(1, Ordering::Relaxed) % self.lanes.len();
        Arc::clone(&self.lanes[lane])
    }

    /// Queues a write; the guard takes it out of the queue again if the caller gives up (its
    /// request is cancelled) before anyone took it.
    fn enqueue(
        &self,
        snapshots: Vec<TelemetrySnapshot>,
        tenant: TenantId,
        actor: Actor,
        spacecraft: Vec<Scoped>,
    ) -> Result<Queued<'_>> {
        let answer = Answer::default();
        self.waiting
            .lock()
            .map_err(|_| Error::backend("the live write queue is poisoned".to_owned()))?
            .push(QueuedWrite {
                snapshots,
                tenant,
                actor,
                spacecraft,
                answer: Arc::clone(&answer),
            });
        Ok(Queued {
            queue: self,
            answer,
        })
    }

    /// How many of the oldest queued writes the next group takes: up to [`GROUP_SNAPSHOTS`]
    /// snapshots (at least one write), stopping before the first write naming a spacecraft
    /// `covered` says no to.
    fn group_len(queue: &[QueuedWrite], covered: impl Fn(&Scoped) -> bool) -> usize {
        let mut total = 0;
        let within = queue
            .iter()
            .take_while(|write| {
                total += write.snapshots.len();
                total <= GROUP_SNAPSHOTS
            })
            .count()
            .max(1)
            .min(queue.len());
        queue[..within]
            .iter()
            .take_while(|write| write.spacecraft.iter().all(&covered))
            .count()
    }

    /// The spacecraft the next group would name, each once, sorted (see [`lock_order`]);
    /// `None` when no write waits.
    fn peek_group(&self) -> Option<Vec<Scoped>> {
        let queue = self.waiting.lock().ok()?;
        if queue.is_empty() {
            return None;
        }
        let len = Self::group_len(&queue, |_| true);
        Some(lock_order(&queue[..len]))
    }

    /// Takes the oldest queued writes, as [`Self::peek_group`] saw them, but only as far as
    /// their spacecraft are among `locked` (sorted): writes queued after the peek may name
    /// others, whose monitors this group does not hold. Empty when the oldest write does.
    fn take_group(&self, locked: &[Scoped]) -> Vec<QueuedWrite> {
        let Ok(mut queue) = self.waiting.lock() else {
            return Vec::new();
        };
        let len = Self::group_len(&queue, |id| locked.binary_search(id).is_ok());
        queue.drain(..len).collect()
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

    /// Whether the write still waits in the queue (nobody took it yet).
    fn is_waiting(&self) -> bool {
        self.queue.waiting.lock().is_ok_and(|queue| {
            queue
                .iter()
                .any(|write| Arc::ptr_eq(&write.answer, &self.answer))
        })
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        // A caller that gives up while its write waits takes the write with it: nobody would
        // hear of it, and storing it later, out of its time, would be worse than not at all.
        if let Ok(mut queue) = self.queue.waiting.lock() {
            queue.retain(|write| !Arc::ptr_eq(&write.answer, &self.answer));
        }
    }
}

/// The writes of a group being evaluated and stored, each taken out once answered. Whatever
/// is left when it is dropped (the request storing the group was cancelled, or panicked) is
/// answered with an error saying so: its callers wait for their answers, not for the turn.
struct InFlight(Vec<QueuedWrite>);

impl std::ops::Deref for InFlight {
    type Target = Vec<QueuedWrite>;

    fn deref(&self) -> &Vec<QueuedWrite> {
        &self.0
    }
}

impl std::ops::DerefMut for InFlight {
    fn deref_mut(&mut self) -> &mut Vec<QueuedWrite> {
        &mut self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        for write in self.0.drain(..) {
            answer(&write, Err(cancelled_while_storing()));
        }
    }
}

/// The answer to a write whose group was being stored by a request that was cancelled (or
/// panicked) before it answered.
fn cancelled_while_storing() -> Error {
    Error::backend(
        "the request storing this write with others was cancelled before it answered; the \
         write may or may not be stored"
            .to_owned(),
    )
}

/// A group taken from the queue: its writes, the monitors of their spacecraft (locked, in
/// lock order) and the lane it is stored in.
struct TakenGroup {
    writes: InFlight,
    order: Vec<Scoped>,
    guards: Vec<OwnedMutexGuard<MonitorSlot>>,
    /// Held until the group is stored.
    _lane: OwnedMutexGuard<()>,
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

/// The spacecraft `writes` name, each once, sorted: the order their monitors are locked in,
/// the same everywhere, so that a group never deadlocks with a batch locking several.
fn lock_order(writes: &[QueuedWrite]) -> Vec<Scoped> {
    let mut order: Vec<Scoped> = writes
        .iter()
        .flat_map(|write| write.spacecraft.iter().cloned())
        .collect();
    order.sort_unstable();
    order.dedup();
    order
}

/// Where `id` sits in `order` (sorted, and naming it).
fn slot_of(order: &[Scoped], id: &Scoped) -> usize {
    order.binary_search(id).unwrap_or(0)
}

impl MissionOps {
    /// Stores a live write (of one spacecraft or several) with the live writes of any
    /// spacecraft that arrive while the store is busy.
    ///
    /// Every write needs the monitors of its spacecraft from evaluation to commit, and a
    /// commit costs far more than an evaluation. So each write joins one queue and waits for
    /// the turn; whoever gets it waits for a free lane (one group at a time, or as many as the
    /// store may commit at once), takes the oldest queued writes, locks the monitors they name
    /// and lets go of the turn. It then evaluates the writes one after another exactly as if
    /// they came one by one (each on the monitor state the writes of its spacecraft before it
    /// left), registers the spacecraft nobody registered with the first write naming them,
    /// and stores the lot with one [`insert_telemetry_group`] call, which may commit it in one
    /// transaction. Each write gets its own outcome. When one fails, the ones before it stand,
    /// it gets its error, and the ones after it are evaluated again on the state the stored
    /// ones left and stored in the next round: a failed write fails nobody else, the monitors
    /// only ever hold the state of what was stored, and no write is answered before it is
    /// committed. A group taken while another is being stored waits for the monitors the two
    /// share, so each spacecraft's writes still commit in arrival order.
    ///
    /// A caller whose turn comes finds its write stored already, or being stored by another
    /// group (and waits for that answer), or stores it (with the ones queued around it). If
    /// the request storing a group is cancelled halfway, the writes it took answer with an
    /// error saying they may or may not be stored.
    ///
    /// [`insert_telemetry_group`]: crate::TelemetryRepository::insert_telemetry_group
    pub(super) async fn store_live_grouped(
        &self,
        snapshots: Vec<TelemetrySnapshot>,
        spacecraft: Vec<SpacecraftId>,
    ) -> Result<IngestOutcome> {
        let queue = &self.shared.live_writes;
        let keys: Vec<Scoped> = spacecraft.iter().map(|id| self.scoped(id)).collect();
        for key in &keys {
            self.prepare_monitor(key).await;
        }
        let queued = queue.enqueue(snapshots, self.tenant.clone(), self.actor.clone(), keys)?;
        loop {
            // Wait for the turn, or for whoever has it to store this write meanwhile: then
            // there is no need to take the turn at all.
            let mut turn = std::pin::pin!(queue.turn.lock());
            let turn = std::future::poll_fn(|cx| match queued.answer(Some(cx.waker())) {
                Some(result) => Poll::Ready(Err(result)),
                None => turn.as_mut().poll(cx).map(Ok),
            })
            .await;
            let turn = match turn {
                Ok(turn) => turn,
                Err(result) => return result,
            };
            if !queued.is_answered() && !queued.is_waiting() {
                // Taken by a group still being stored, which answers it (see `InFlight`).
                drop(turn);
                return std::future::poll_fn(|cx| match queued.answer(Some(cx.waker())) {
                    Some(result) => Poll::Ready(result),
                    None => Poll::Pending,
                })
                .await;
            }
            if queued.is_answered() {
                break;
            }
            let lane = queue.next_lane().lock_owned().await;
            // Requests the executor has ready to run may be writes about to join the queue:
            // let them first, so that the group is larger and the commits fewer (single
            // writes over HTTP measured ~5 % more per second). Costs nothing when idle.
            yield_once().await;
            let Some(group) = self.take_locked_group(lane).await else {
                break;
            };
            drop(turn);
            self.commit_group(group).await;
        }
        queued
            .answer(None)
            .unwrap_or_else(|| Err(cancelled_while_storing()))
    }

    /// Takes the next group (under the turn): peeks at the oldest queued writes, locks their
    /// spacecraft's monitors (waiting for any group in flight that holds one), and takes the
    /// writes those monitors cover, which may by then be more than were peeked at. `None`
    /// when nothing waits.
    async fn take_locked_group(&self, lane: OwnedMutexGuard<()>) -> Option<TakenGroup> {
        let queue = &self.shared.live_writes;
        loop {
            let peeked = queue.peek_group()?;
            let mut guards: Vec<OwnedMutexGuard<MonitorSlot>> = Vec::with_capacity(peeked.len());
            for id in &peeked {
                guards.push(self.slot_handle(id).slot.lock_owned().await);
            }
            let writes = queue.take_group(&peeked);
            if writes.is_empty() {
                // The oldest write was given up while the monitors were awaited.
                continue;
            }
            let order = lock_order(&writes);
            // Let go of the monitors no taken write names.
            let guards = peeked
                .iter()
                .zip(guards)
                .filter(|(id, _)| order.binary_search(id).is_ok())
                .map(|(_, guard)| guard)
                .collect();
            return Some(TakenGroup {
                writes: InFlight(writes),
                order,
                guards,
                _lane: lane,
            });
        }
    }

    /// Evaluates and stores a taken group's writes in order under their spacecraft's monitors
    /// (see [`Self::store_live_grouped`]), answering each.
    async fn commit_group(&self, group: TakenGroup) {
        let TakenGroup {
            mut writes,
            order,
            mut guards,
            _lane,
        } = group;
        while !writes.is_empty() {
            let round = match self.evaluate_round(&order, &guards, &mut writes).await {
                Some(round) => round,
                // A write failed before anything was stored; the others go again.
                None => continue,
            };
            let Round {
                group,
                mut work,
                mut kept,
                slots,
                last_of,
            } = round;
            let GroupOutcome { stored, failure } =
                self.shared.store.insert_telemetry_group(group).await;
            let done = stored.len().min(writes.len());
            // Each monitor takes the state the last stored write of its spacecraft left.
            let mut last_stored: Vec<Option<usize>> = vec![None; order.len()];
            for (i, write_slots) in slots.iter().enumerate().take(done) {
                for &slot in write_slots {
                    last_stored[slot] = Some(i);
                }
            }
            for (slot, last) in last_stored.into_iter().enumerate() {
                let state = match last {
                    None => None,
                    Some(i) if i == last_of[slot] => work[slot].take(),
                    Some(i) => kept[i]
                        .iter()
                        .position(|(s, _)| *s == slot)
                        .map(|at| kept[i].swap_remove(at).1),
                };
                if let Some(state) = state {
                    self.shared.deadlines.reschedule(&order[slot], &state);
                    *guards[slot] = state;
                }
            }
            // The spacecraft of the stored writes exist now: registered before, or by them.
            self.remember_all(writes[..done].iter().flat_map(|w| &w.spacecraft));
            for (write, outcome) in writes.iter().zip(stored) {
                answer(write, Ok(outcome));
            }
            writes.drain(..done);
            match failure {
                Some(failure) => {
                    if !writes.is_empty() {
                        let failed = writes.remove(0);
                        answer(&failed, Err(failure));
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

    /// Evaluates `writes` in order on copies of the locked monitors (`guards`, in `order`),
    /// each brought up to date with its configuration when first needed. `None` when bringing
    /// a monitor up to date failed: the write that needed it is answered with the error and
    /// taken out, and nothing is stored.
    async fn evaluate_round(
        &self,
        order: &[Scoped],
        guards: &[OwnedMutexGuard<MonitorSlot>],
        writes: &mut Vec<QueuedWrite>,
    ) -> Option<Round> {
        let context = MonitorContext {
            now: self.shared.clock.now(),
            ids: &*self.shared.ids,
        };
        let count = writes.len();
        // A lone write hands its snapshots over; in a group each keeps them, in case it has
        // to be evaluated again after a neighbour failed.
        let alone = count == 1;
        let slots: Vec<Vec<usize>> = writes
            .iter()
            .map(|write| {
                write
                    .spacecraft
                    .iter()
                    .map(|id| slot_of(order, id))
                    .collect()
            })
            .collect();
        let mut last_of = vec![0; order.len()];
        for (i, write_slots) in slots.iter().enumerate() {
            for &slot in write_slots {
                last_of[slot] = i;
            }
        }
        let unregistered = self.unregistered(order, guards).await;
        let mut work: Vec<Option<MonitorSlot>> = vec![None; order.len()];
        let mut registering = vec![false; order.len()];
        let mut group = Vec::with_capacity(count);
        let mut kept = Vec::with_capacity(count);
        let mut out = MonitorOutput::default();
        for i in 0..count {
            let mut registrations = Vec::new();
            let mut refused = None;
            for (id, &slot) in writes[i].spacecraft.iter().zip(&slots[i]) {
                if work[slot].is_none() && unregistered[slot] {
                    // Registered by this write: nothing stored to build its monitor from.
                    work[slot] = Some(MonitorSlot::unregistered(&id.1, context.now));
                } else if work[slot].is_none() {
                    let mut state = (*guards[slot]).clone();
                    if let Err(e) = self.refresh(id, &mut state, context, &mut out).await {
                        refused = Some(e);
                        break;
                    }
                    work[slot] = Some(state);
                }
                if !registering[slot] && !self.is_known(id) {
                    registering[slot] = true;
                    let spacecraft = self.implicit_spacecraft(&id.1);
                    let mut event =
                        NewEvent::spacecraft_registered(self.event_stamp(), &spacecraft, true);
                    audit(&writes[i].tenant, &writes[i].actor, &mut event);
                    registrations.push(Registration { spacecraft, event });
                }
            }
            if let Some(e) = refused {
                let failed = writes.remove(i);
                answer(&failed, Err(e));
                return None;
            }
            // Derived values before the rules. A lone write takes them in place; in a group the
            // write keeps its snapshots as sent, in case it is evaluated again.
            let mut derived: Option<Vec<TelemetrySnapshot>> = None;
            if slots[i]
                .iter()
                .any(|&slot| work[slot].as_ref().is_some_and(has_derived))
            {
                let tenant = writes[i].tenant.clone();
                let target = if alone {
                    &mut writes[i].snapshots
                } else {
                    derived.insert(writes[i].snapshots.clone())
                };
                let slot_in = |id: &SpacecraftId| slot_of(order, &(tenant.clone(), id.clone()));
                if let Err(e) = derive_live(target, &mut work, slot_in) {
                    let failed = writes.remove(i);
                    answer(&failed, Err(e));
                    return None;
                }
            }
            let write = &mut writes[i];
            let observed: &[TelemetrySnapshot] = derived.as_deref().unwrap_or(&write.snapshots);
            if let [slot] = slots[i][..] {
                if let Some(monitor) = work[slot].as_mut().and_then(|s| s.monitor.as_mut()) {
                    for snapshot in observed {
                        monitor.observe(snapshot, context, &mut out);
                    }
                }
            } else {
                for snapshot in observed {
                    let key = (write.tenant.clone(), snapshot.spacecraft_id.clone());
                    let slot = slot_of(order, &key);
                    if let Some(monitor) = work[slot].as_mut().and_then(|s| s.monitor.as_mut()) {
                        monitor.observe(snapshot, context, &mut out);
                    }
                }
            }
            let (anomalies, alarms, mut events) = std::mem::take(&mut out).into_parts();
            for event in &mut events {
                audit(&write.tenant, &write.actor, event);
            }
            group.push(TelemetryWrite {
                tenant: write.tenant.clone(),
                registrations,
                snapshots: match derived {
                    Some(derived) => derived,
                    None if alone => std::mem::take(&mut write.snapshots),
                    None => write.snapshots.clone(),
                },
                anomalies,
                alarms,
                events,
            });
            // The state after this write, for when a later write of its spacecraft fails;
            // after the last write of a spacecraft the working copy is that state.
            kept.push(
                slots[i]
                    .iter()
                    .filter(|&&slot| last_of[slot] != i)
                    .filter_map(|&slot| work[slot].clone().map(|state| (slot, state)))
                    .collect(),
            );
        }
        Some(Round {
            group,
            work,
            kept,
            slots,
            last_of,
        })
    }
}

impl MissionOps {
    /// Which of the locked monitors (`guards`, in `order`) belong to spacecraft that do not
    /// exist yet, by lock order: never loaded, not known to exist, and not found by one
    /// [`existing_spacecraft`] query per tenant (those found are remembered as known, so no
    /// write tries to register them again). Their monitors need none of the three reads
    /// that rebuild a monitor (configuration, history, open alarms); the write that names them
    /// first registers them. When the query fails every spacecraft is read the usual way.
    ///
    /// A spacecraft registered by someone else between this query and the commit (another
    /// request's explicit registration, or a configuration's implicit one) only ever got that
    /// far concurrently with this write, which is then evaluated as if it came first; a
    /// configuration change marks the monitor for a refresh once this group lets go of it.
    ///
    /// [`existing_spacecraft`]: crate::SpacecraftRepository::existing_spacecraft
    async fn unregistered(
        &self,
        order: &[Scoped],
        guards: &[OwnedMutexGuard<MonitorSlot>],
    ) -> Vec<bool> {
        let mut unregistered: Vec<bool> = order
            .iter()
            .zip(guards)
            .map(|(key, guard)| guard.monitor.is_none() && !self.is_known(key))
            .collect();
        // `order` is sorted, so the candidates of each tenant are together.
        let mut start = 0;
        while start < order.len() {
            let tenant = &order[start].0;
            let end = start + order[start..].partition_point(|(t, _)| t == tenant);
            let ids: Vec<SpacecraftId> = (start..end)
                .filter(|&slot| unregistered[slot])
                .map(|slot| order[slot].1.clone())
                .collect();
            if !ids.is_empty() {
                match self.shared.store.existing_spacecraft(tenant, &ids).await {
                    Ok(existing) => {
                        for id in &existing {
                            if let Ok(at) = order[start..end].binary_search_by(|(_, s)| s.cmp(id)) {
                                unregistered[start + at] = false;
                                // Spacecraft are never deleted: no write needs to register it.
                                self.remember(order[start + at].clone());
                            }
                        }
                    }
                    Err(_) => unregistered[start..end].fill(false),
                }
            }
            start = end;
        }
        unregistered
    }
}

/// One round of a group commit, evaluated and ready to store.
struct Round {
    /// The writes to store, in order.
    group: Vec<TelemetryWrite>,
    /// Each locked monitor after the last write of its spacecraft (by lock order).
    work: Vec<Option<MonitorSlot>>,
    /// After each write, the monitors of its spacecraft that later writes go on to change.
    kept: Vec<Vec<(usize, MonitorSlot)>>,
    /// The monitors each write names (by lock order).
    slots: Vec<Vec<usize>>,
    /// The last write naming each monitor.
    last_of: Vec<usize>,
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
