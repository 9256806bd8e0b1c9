//! Live monitoring and the alarm lifecycle: the streaming monitor fed by every live ingest,
//! the clock tick, and the operator's acknowledge, shelve and unshelve.
//!
//! Each spacecraft's monitor sits behind an async lock held from evaluation to commit, so that
//! concurrent ingests of one spacecraft evaluate and commit in the same order, and an
//! operator's change to an alarm cannot be overwritten by a monitor holding an older copy.
//! Evaluation runs on a copy of the monitor that replaces it only once the store has
//! committed: a failed write leaves the monitor as it was.
//!
//! After a restart a monitor is rebuilt from the spacecraft's recent history (the newest
//! [`REBUILD_HISTORY`] snapshots, replayed) and its open alarms as stored.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use futures_util::lock::Mutex as AsyncMutex;
use serde_json::{Value, json};

use crate::domain::{
    Alarm, AlarmFilter, AlarmId, AlarmState, AlarmStates, EventType, Limit, Operator, Severity,
    SpacecraftId, TelemetrySnapshot, Timestamp,
};
use crate::error::{Error, Result};
use crate::ports::{GroupOutcome, IngestOutcome, TelemetryWrite};
use crate::rules::{
    AnalysisContext, CompiledRules, MonitorContext, MonitorOutput, SpacecraftMonitor, analyse,
};

use super::MissionOps;

/// How many of a spacecraft's newest snapshots rebuild its monitor after a restart.
pub const REBUILD_HISTORY: u32 = 100;
/// The longest operator comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 2_000;
/// The most snapshots one group commit of a spacecraft's live writes takes (a larger write goes
/// alone): enough to turn many concurrent small writes into one transaction, few enough that
/// the writes queued behind a group do not wait long for it.
const GROUP_SNAPSHOTS: usize = 2_000;

/// Whether ingested telemetry is live or played back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IngestMode {
    /// Live telemetry: the streaming monitor sees it, opens and clears alarms, raises events.
    #[default]
    Live,
    /// Stored telemetry (a played-back pass, a backfill): checked in time order from a fresh
    /// state and its anomalies recorded, but it opens no alarm, raises no event and leaves the
    /// live monitor untouched, so replaying an old pass never pages anyone.
    Stored,
}

/// One spacecraft's monitor and what it knows of the configuration.
#[derive(Debug, Clone, Default)]
pub(super) struct MonitorSlot {
    monitor: Option<SpacecraftMonitor>,
    /// The configuration version the monitor's rules come from (`None`: no configuration).
    version: Option<u32>,
    /// When that version was last compared with the store.
    checked_at: Option<Timestamp>,
}

/// A spacecraft's monitor, and the live writes of that spacecraft waiting for it (see
/// [`MissionOps::store_live`]). Clones share both.
#[derive(Debug, Clone, Default)]
pub(super) struct SlotHandle {
    slot: Arc<AsyncMutex<MonitorSlot>>,
    /// Live writes in arrival order. A std mutex: held to push or take, never across an await.
    queue: Arc<Mutex<Vec<QueuedWrite>>>,
}

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

impl SlotHandle {
    /// Queues `snapshots`; the guard takes them out of the queue again if the caller gives up
    /// (its request is cancelled) before anyone stored them.
    fn enqueue(&self, snapshots: Vec<TelemetrySnapshot>) -> Result<Queued<'_>> {
        let answer = Answer::default();
        self.queue
            .lock()
            .map_err(|_| Error::backend("the live write queue is poisoned".to_owned()))?
            .push(QueuedWrite {
                snapshots,
                answer: Arc::clone(&answer),
            });
        Ok(Queued {
            handle: self,
            answer,
        })
    }

    /// Takes the oldest queued writes, up to [`GROUP_SNAPSHOTS`] snapshots (at least one write).
    fn take_group(&self) -> Vec<QueuedWrite> {
        let Ok(mut queue) = self.queue.lock() else {
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
    handle: &'a SlotHandle,
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
        if let Ok(mut queue) = self.handle.queue.lock() {
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

/// A write the monitors evaluate: its spacecraft in lock order, its snapshots, and when.
struct Monitored<'a> {
    order: &'a [&'a SpacecraftId],
    snapshots: &'a [TelemetrySnapshot],
    context: MonitorContext<'a>,
}

impl Monitored<'_> {
    /// Where `id`'s monitor sits in the lock order.
    fn position(&self, id: &SpacecraftId) -> Option<usize> {
        self.order.iter().position(|o| *o == id)
    }
}

/// What a clock tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Spacecraft whose monitors were checked.
    pub spacecraft: usize,
    /// Alarms opened or changed (stale parameters).
    pub alarms: usize,
    /// Events raised (`ANOMALY`, `CONTACT_LOST`).
    pub events: usize,
    /// Shelvings that ran out.
    pub unshelved: usize,
}

impl MissionOps {
    fn slot_handle(&self, id: &SpacecraftId) -> SlotHandle {
        match self.monitors.lock() {
            Ok(mut monitors) => monitors.entry(id.clone()).or_default().clone(),
            // A poisoned registry only means another thread panicked mid-insert; a fresh
            // slot rebuilds from the store.
            Err(_) => SlotHandle::default(),
        }
    }

    fn loaded_slots(&self) -> Vec<(SpacecraftId, SlotHandle)> {
        self.monitors
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), SlotHandle::clone(v)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Makes the next ingest of `id` re-read the configuration (after a change here).
    pub(super) async fn forget_rules(&self, id: &SpacecraftId) {
        if let Ok(mut rules) = self.rules.lock() {
            rules.remove(id);
        }
        let handle = self.slot_handle(id);
        handle.slot.lock().await.checked_at = None;
    }

    /// Brings `slot` up to date with `id`'s current configuration, rebuilding its monitor
    /// from history on first use. Alarms of rules that went away clear into `out`.
    async fn refresh(
        &self,
        id: &SpacecraftId,
        slot: &mut MonitorSlot,
        context: MonitorContext<'_>,
        out: &mut MonitorOutput,
    ) -> Result<()> {
        let now = context.now;
        let recent = slot
            .checked_at
            .is_some_and(|t| now.as_millis() - t.as_millis() < super::windows::RECHECK_MS);
        if slot.monitor.is_some() && recent {
            return Ok(());
        }
        let record = self.store.current_config(id).await?;
        let version = record.as_ref().map(|r| r.version);
        if slot.monitor.is_some() && slot.version == version {
            slot.checked_at = Some(now);
            return Ok(());
        }
        let rules = match &record {
            Some(record) => self.compiled_rules(id, record)?,
            None => Arc::new(CompiledRules::empty()),
        };
        match &mut slot.monitor {
            Some(monitor) => monitor.retarget(rules, context, out),
            None => {
                let history = self
                    .store
                    .recent_telemetry(id, Limit::clamped(REBUILD_HISTORY.into(), REBUILD_HISTORY))
                    .await?;
                let open = self.open_alarms_of(id).await?;
                slot.monitor = Some(SpacecraftMonitor::rebuild(
                    id.clone(),
                    rules,
                    &history,
                    open,
                    now,
                ));
            }
        }
        slot.version = version;
        slot.checked_at = Some(now);
        Ok(())
    }

    /// Stores `snapshots` in one write with what `evaluate` makes of them. The monitors of
    /// `spacecraft` are locked (in one order everywhere, so that batches naming several
    /// spacecraft never deadlock), brought up to date with the configuration, and handed to
    /// `evaluate` as copies that replace them only once the store has committed.
    async fn monitored_write(
        &self,
        snapshots: Vec<TelemetrySnapshot>,
        spacecraft: &[SpacecraftId],
        evaluate: impl FnOnce(&Monitored<'_>, &mut [MonitorSlot], &mut MonitorOutput),
    ) -> Result<IngestOutcome> {
        let mut order: Vec<&SpacecraftId> = spacecraft.iter().collect();
        order.sort();
        let mut guards = Vec::with_capacity(order.len());
        for id in &order {
            guards.push(self.slot_handle(id).slot.lock_owned().await);
        }
        let context = MonitorContext {
            now: self.clock.now(),
            ids: &*self.ids,
        };
        let mut out = MonitorOutput::default();
        let mut work: Vec<MonitorSlot> = guards.iter().map(|g| (**g).clone()).collect();
        for (id, slot) in order.iter().zip(work.iter_mut()) {
            self.refresh(id, slot, context, &mut out).await?;
        }
        let monitored = Monitored {
            order: &order,
            snapshots: &snapshots,
            context,
        };
        evaluate(&monitored, &mut work, &mut out);
        let (anomalies, alarms, events) = out.into_parts();
        let outcome = self
            .store
            .insert_telemetry(TelemetryWrite {
                snapshots,
                anomalies,
                alarms,
                events,
            })
            .await?;
        for (guard, slot) in guards.iter_mut().zip(work) {
            **guard = slot;
        }
        Ok(outcome)
    }

    /// Stores live telemetry with what the streaming monitor made of it, in one write.
    ///
    /// A write of one spacecraft (the usual one) is committed together with the live writes
    /// of that spacecraft that arrive meanwhile (group commit, see [`Self::store_live_grouped`]);
    /// a write naming several spacecraft goes alone.
    pub(super) async fn store_live(
        &self,
        snapshots: Vec<TelemetrySnapshot>,
        spacecraft: &[SpacecraftId],
    ) -> Result<IngestOutcome> {
        if let [id] = spacecraft {
            return self.store_live_grouped(id, snapshots).await;
        }
        self.monitored_write(snapshots, spacecraft, |batch, work, out| {
            for snapshot in batch.snapshots {
                let monitor = batch
                    .position(&snapshot.spacecraft_id)
                    .and_then(|i| work[i].monitor.as_mut());
                if let Some(monitor) = monitor {
                    monitor.observe(snapshot, batch.context, out);
                }
            }
        })
        .await
    }

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
    async fn store_live_grouped(
        &self,
        id: &SpacecraftId,
        snapshots: Vec<TelemetrySnapshot>,
    ) -> Result<IngestOutcome> {
        let handle = self.slot_handle(id);
        let queued = handle.enqueue(snapshots)?;
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
            let group = handle.take_group();
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

    /// Stores played-back telemetry with the anomalies batch analyse finds in it, per
    /// spacecraft in time order from a fresh state; no alarm, no event. The live monitors are
    /// brought up to date first, so that rebuilding one later does not replay the pass.
    pub(super) async fn store_played_back(
        &self,
        snapshots: Vec<TelemetrySnapshot>,
        spacecraft: &[SpacecraftId],
    ) -> Result<IngestOutcome> {
        self.monitored_write(snapshots, spacecraft, |batch, work, out| {
            for (i, id) in batch.order.iter().enumerate() {
                let Some(monitor) = work[i].monitor.as_ref() else {
                    continue;
                };
                let rules = monitor.rules();
                if rules.is_empty() {
                    continue;
                }
                let own: Vec<TelemetrySnapshot>;
                let window: &[TelemetrySnapshot] = if batch.order.len() == 1 {
                    batch.snapshots
                } else {
                    own = batch
                        .snapshots
                        .iter()
                        .filter(|s| &s.spacecraft_id == *id)
                        .cloned()
                        .collect();
                    &own
                };
                let context = AnalysisContext {
                    detected_at: batch.context.now,
                    window_start: window.iter().map(|s| s.timestamp).min(),
                    window_end: window.iter().map(|s| s.timestamp).max(),
                };
                out.anomalies.extend(analyse(rules, window, context));
            }
        })
        .await
    }

    /// The clock tick (SPEC §3): every monitored parameter whose newest sample arrived longer
    /// ago than its `staleAfterSec` goes `STALE`; a spacecraft whose every such parameter is
    /// stale gets one `CONTACT_LOST` event; shelvings that ran out end. The server calls it
    /// every few seconds; an embedding application calls it on its own schedule.
    pub async fn tick(&self) -> Result<TickReport> {
        let mut report = TickReport::default();
        self.load_fleet_monitors().await?;
        for (id, handle) in self.loaded_slots() {
            let mut guard = handle.slot.lock().await;
            let context = MonitorContext {
                now: self.clock.now(),
                ids: &*self.ids,
            };
            let mut work = (*guard).clone();
            let mut out = MonitorOutput::default();
            self.refresh(&id, &mut work, context, &mut out).await?;
            if let Some(monitor) = work.monitor.as_mut() {
                monitor.tick(context, &mut out);
            }
            report.spacecraft += 1;
            if !out.is_empty() {
                let (anomalies, alarms, events) = out.into_parts();
                report.alarms += alarms.len();
                report.events += events.len();
                self.store
                    .insert_telemetry(TelemetryWrite {
                        snapshots: Vec::new(),
                        anomalies,
                        alarms,
                        events,
                    })
                    .await?;
            }
            *guard = work;
        }
        let now = self.clock.now();
        let shelved = self
            .store
            .list_alarms(&AlarmFilter {
                spacecraft_id: None,
                states: AlarmStates::Only(AlarmState::Shelved),
            })
            .await?;
        let system = Operator::parse("system")?;
        for alarm in shelved {
            if alarm.shelved_until.is_some_and(|until| until <= now) {
                match self.unshelve_alarm(&alarm.id, system.clone()).await {
                    // Someone unshelved it meanwhile: nothing left to do.
                    Ok(_) | Err(Error::Conflict { .. }) => report.unshelved += 1,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(report)
    }

    /// Gives every registered spacecraft a monitor once, so that a spacecraft that stays
    /// silent after a restart still goes stale.
    async fn load_fleet_monitors(&self) -> Result<()> {
        if self.fleet_loaded.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(());
        }
        for spacecraft in self.every_spacecraft().await? {
            self.slot_handle(&spacecraft.id);
        }
        self.fleet_loaded
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// The alarm with `id`; [`Error::NotFound`] when unknown.
    pub async fn get_alarm(&self, id: &AlarmId) -> Result<Alarm> {
        self.store
            .get_alarm(id)
            .await?
            .ok_or_else(|| Error::not_found("alarm", id))
    }

    /// An operator acknowledges an alarm (`ALARM_ACKNOWLEDGED` event): `ACTIVE` becomes
    /// `ACKNOWLEDGED`, or `CLEARED` when the value has already returned.
    /// [`Error::Conflict`] when it is already acknowledged.
    pub async fn acknowledge_alarm(
        &self,
        id: &AlarmId,
        by: Operator,
        comment: Option<String>,
    ) -> Result<Alarm> {
        let comment = checked_comment(comment)?;
        let now = self.clock.now();
        self.change_alarm(
            id,
            |alarm| alarm.acknowledge(by.clone(), comment.clone(), now),
            |alarm| {
                (
                    EventType::AlarmAcknowledged,
                    format!(
                        "Alarm on {} ({}) acknowledged by {by}",
                        alarm.parameter,
                        alarm.kind.as_str()
                    ),
                    json!({"by": by, "comment": alarm.comment}),
                )
            },
        )
        .await
    }

    /// An operator shelves an alarm until `until`: it raises no event meanwhile (an `INFO`
    /// event records the shelving).
    pub async fn shelve_alarm(
        &self,
        id: &AlarmId,
        until: Timestamp,
        by: Operator,
        comment: Option<String>,
    ) -> Result<Alarm> {
        let comment = checked_comment(comment)?;
        let now = self.clock.now();
        self.change_alarm(
            id,
            |alarm| alarm.shelve(until, comment.clone(), now),
            |alarm| {
                (
                    EventType::Info,
                    format!(
                        "Alarm on {} ({}) shelved by {by} until {until}",
                        alarm.parameter,
                        alarm.kind.as_str()
                    ),
                    json!({"by": by, "shelvedUntil": until, "comment": alarm.comment}),
                )
            },
        )
        .await
    }

    /// Ends a shelving (an `INFO` event records it). [`Error::Conflict`] when the alarm is
    /// not shelved.
    pub async fn unshelve_alarm(&self, id: &AlarmId, by: Operator) -> Result<Alarm> {
        self.change_alarm(id, Alarm::unshelve, |alarm| {
            (
                EventType::Info,
                format!(
                    "Alarm on {} ({}) unshelved by {by}",
                    alarm.parameter,
                    alarm.kind.as_str()
                ),
                json!({"by": by}),
            )
        })
        .await
    }

    /// Applies an operator's change to an alarm under its spacecraft's monitor lock, stores
    /// it with its event, and hands the new version to the monitor.
    async fn change_alarm(
        &self,
        id: &AlarmId,
        change: impl FnOnce(&mut Alarm) -> Result<()>,
        describe: impl FnOnce(&Alarm) -> (EventType, String, Value),
    ) -> Result<Alarm> {
        let spacecraft = self.get_alarm(id).await?.spacecraft_id;
        let handle = self.slot_handle(&spacecraft);
        let mut slot = handle.slot.lock().await;
        // Read again under the lock: the monitor may have changed it meanwhile.
        let mut alarm = self.get_alarm(id).await?;
        change(&mut alarm)?;
        let (event_type, message, mut metadata) = describe(&alarm);
        if let Value::Object(map) = &mut metadata {
            map.insert("alarmId".to_owned(), json!(alarm.id));
            map.insert("parameter".to_owned(), json!(alarm.parameter));
            map.insert("kind".to_owned(), json!(alarm.kind));
            map.insert("state".to_owned(), json!(alarm.state));
        }
        let event = self.new_event(
            Some(&alarm.spacecraft_id),
            event_type,
            Severity::Low,
            message,
            metadata,
        );
        self.store.save_alarm(alarm.clone(), vec![event]).await?;
        if let Some(monitor) = slot.monitor.as_mut() {
            monitor.replace_alarm(&alarm);
        }
        Ok(alarm)
    }

    /// The stored alarms of `id` that are not `CLEARED`.
    async fn open_alarms_of(&self, id: &SpacecraftId) -> Result<Vec<Alarm>> {
        self.store
            .list_alarms(&AlarmFilter {
                spacecraft_id: Some(id.clone()),
                states: AlarmStates::Open,
            })
            .await
    }

    /// How many alarms of `id` need attention: `ACTIVE` or `ACKNOWLEDGED`.
    pub(super) async fn active_alarm_count(&self, id: &SpacecraftId) -> Result<usize> {
        let open = self.open_alarms_of(id).await?;
        Ok(open
            .iter()
            .filter(|a| matches!(a.state, AlarmState::Active | AlarmState::Acknowledged))
            .count())
    }
}

fn checked_comment(comment: Option<String>) -> Result<Option<String>> {
    match comment {
        Some(text) if text.chars().count() > MAX_COMMENT_CHARS => Err(Error::invalid(
            "comment",
            format!("must be at most {MAX_COMMENT_CHARS} characters long"),
        )),
        Some(text) if text.contains('\0') => {
            Err(Error::invalid("comment", "must not contain NUL characters"))
        }
        other => Ok(other),
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
