//! Each spacecraft's streaming monitor, kept between writes: its slot behind an async lock, brought
//! up to date with the configuration (rebuilt from history after a restart), and the write that
//! locks the monitors of a batch, evaluates and commits.
//!
//! Each spacecraft's monitor sits behind an async lock held from evaluation to commit, so that
//! concurrent ingests of one spacecraft evaluate and commit in the same order, and an
//! operator's change to an alarm cannot be overwritten by a monitor holding an older copy.
//! Evaluation runs on a copy of the monitor that replaces it only once the store has
//! committed: a failed write leaves the monitor as it was.
//!
//! After a restart a monitor is rebuilt from the spacecraft's recent history (the newest
//! [`REBUILD_HISTORY`] snapshots, replayed) and its open alarms as stored.

use std::sync::Arc;

use futures_util::lock::Mutex as AsyncMutex;

use crate::domain::{Alarm, ConfigRecord, Limit, SpacecraftId, TelemetrySnapshot, Timestamp};
use crate::error::Result;
use crate::ports::{IngestOutcome, TelemetryWrite};
use crate::rules::{CompiledRules, LastValues, MonitorContext, MonitorOutput, SpacecraftMonitor};

use super::MissionOps;
use super::app::{RECHECK_MS, Scoped};
use super::rules_cache::RulesVersion;

/// What a monitor's rules come from, read by the clock tick for many monitors at once (see
/// `tick::read_rules_inputs`).
#[derive(Debug, Clone, Default)]
pub(super) struct RulesInputs {
    /// The current configuration, `None` when there is none.
    pub(super) config: Option<ConfigRecord>,
    /// The current packet definition version, `None` when there is none (or packets are not
    /// decoded here).
    pub(super) packets_version: Option<u32>,
    /// The slot's [`MonitorSlot::forgotten`] before they were read: a slot told to read again
    /// since does not take them (they may predate the change).
    pub(super) forgotten: u64,
    /// What a monitor not loaded yet is rebuilt from, read with the rest.
    pub(super) rebuild: Option<Rebuild>,
}

/// What a monitor is rebuilt from: the spacecraft's newest [`REBUILD_HISTORY`] snapshots, newest
/// first, and its open alarms as stored.
#[derive(Debug, Clone, Default)]
pub(super) struct Rebuild {
    pub(super) history: Vec<TelemetrySnapshot>,
    pub(super) open_alarms: Vec<Alarm>,
}

/// How long a monitor a registration started empty is kept for the spacecraft's first write
/// (see [`MonitorSlot::expire_empty_start`]): long enough for a script registering a fleet
/// one spacecraft after another before streaming it (1,000 took about a second on SQLite and
/// longer on PostgreSQL), short enough that a spacecraft streamed meanwhile through another
/// server is unlikely.
const EMPTY_START_KEPT_MS: i64 = 10_000;

/// How many of a spacecraft's newest snapshots rebuild its monitor after a restart.
pub const REBUILD_HISTORY: u32 = 100;

/// [`REBUILD_HISTORY`] as the limit of a read.
pub(super) fn rebuild_history() -> Limit {
    Limit::clamped(REBUILD_HISTORY.into(), REBUILD_HISTORY)
}

/// One spacecraft's monitor and what it knows of the configuration.
#[derive(Debug, Clone, Default)]
pub(super) struct MonitorSlot {
    pub(super) monitor: Option<SpacecraftMonitor>,
    /// The configuration and packet definition versions the monitor's rules come from
    /// (`None` when the spacecraft has none, `None` as a whole before the first refresh).
    pub(super) version: Option<RulesVersion>,
    /// When that version was last compared with the store.
    pub(super) checked_at: Option<Timestamp>,
    /// The latest known value of each parameter the configuration's derived parameters read
    /// through `last()`; committed with the monitor (see `ingest/derive.rs`).
    pub(super) last: LastValues,
    /// How many times a change made here made what was read for the monitor stale: its rules
    /// told to read again (`forget_rules`), or an operator's change to one of its alarms. What
    /// the clock tick read for it before such a change is not used (see [`RulesInputs`]).
    pub(super) forgotten: u64,
    /// When a registration through this handle started the monitor empty, until a write uses
    /// it (see [`MonitorSlot::expire_empty_start`]).
    pub(super) started_empty_at: Option<Timestamp>,
}

impl MonitorSlot {
    /// Whether the monitor is loaded and its versions were compared with the store less than
    /// [`RECHECK_MS`] before `now`.
    pub(super) fn is_checked_recently(&self, now: Timestamp) -> bool {
        self.monitor.is_some()
            && self
                .checked_at
                .is_some_and(|t| now.as_millis() - t.as_millis() < RECHECK_MS)
    }

    /// The slot of a spacecraft that does not exist yet (the write at hand registers it): no
    /// history, configuration, packet definition or alarms, so it is what `MissionOps::refresh`
    /// would build after reading all of them, without reading them.
    pub(super) fn unregistered(id: &SpacecraftId, now: Timestamp) -> Self {
        MonitorSlot {
            monitor: Some(SpacecraftMonitor::rebuild(
                id.clone(),
                Arc::new(CompiledRules::empty()),
                &[],
                Vec::new(),
                now,
            )),
            version: Some((None, None)),
            checked_at: Some(now),
            last: LastValues::default(),
            forgotten: 0,
            started_empty_at: None,
        }
    }

    /// Forgets a monitor a registration started empty that no write used within
    /// [`EMPTY_START_KEPT_MS`]: the spacecraft may have been streamed through another server
    /// since (its history and alarms are in the store), so it is read back like any other.
    fn expire_empty_start(&mut self, now: Timestamp) {
        if self
            .started_empty_at
            .is_some_and(|at| now.as_millis() - at.as_millis() >= EMPTY_START_KEPT_MS)
        {
            *self = MonitorSlot {
                forgotten: self.forgotten,
                ..MonitorSlot::default()
            };
        }
    }
}

/// A spacecraft's monitor. Clones share it.
#[derive(Debug, Clone, Default)]
pub(super) struct SlotHandle {
    pub(super) slot: Arc<AsyncMutex<MonitorSlot>>,
}

/// A write the monitors evaluate: its spacecraft in lock order, its snapshots, and when.
pub(super) struct Monitored<'a> {
    pub(super) order: &'a [&'a SpacecraftId],
    pub(super) snapshots: &'a [TelemetrySnapshot],
    pub(super) context: MonitorContext<'a>,
}

impl MissionOps {
    pub(super) fn slot_handle(&self, key: &Scoped) -> SlotHandle {
        match self.shared.monitors.lock() {
            Ok(mut monitors) => match monitors.get(key) {
                Some(handle) => handle.clone(),
                None => {
                    let handle = SlotHandle::default();
                    monitors.insert(key.clone(), handle.clone());
                    // Under the registry's lock: the slot is never seen unscheduled.
                    self.shared.deadlines.added(key);
                    handle
                }
            },
            // A poisoned registry only means another thread panicked mid-insert; a fresh
            // slot rebuilds from the store.
            Err(_) => SlotHandle::default(),
        }
    }

    /// Gives a spacecraft this handle has just registered the monitor its first write would
    /// otherwise build from three reads (history, configuration and packet definition, open
    /// alarms), of which it has none: [`MonitorSlot::unregistered`], as for a spacecraft a
    /// write registers. On PostgreSQL those reads were nine round trips for each spacecraft
    /// of a fleet registered and then streamed. A slot someone holds or has built already is
    /// left alone; a configuration stored later marks it for a refresh, as any monitor's; one
    /// that no write uses within [`EMPTY_START_KEPT_MS`] is read back after all.
    pub(super) async fn start_new_monitor(&self, key: &Scoped) {
        // As before a monitor's reads: what changes elsewhere from now on reaches it by the feed.
        self.begin_change_feed(&key.0).await;
        let handle = self.slot_handle(key);
        let Some(mut slot) = handle.slot.try_lock() else {
            return;
        };
        if slot.monitor.is_some() {
            return;
        }
        let now = self.shared.clock.now();
        *slot = MonitorSlot {
            forgotten: slot.forgotten,
            started_empty_at: Some(now),
            ..MonitorSlot::unregistered(&key.1, now)
        };
        self.shared.deadlines.reschedule(key, &slot);
    }

    pub(super) fn loaded_slots(&self) -> Vec<(Scoped, SlotHandle)> {
        self.shared
            .monitors
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), SlotHandle::clone(v)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Does the store reads [`Self::refresh`] would need for `key`'s monitor before a live write
    /// joins the group-commit queue, so that they run beside other requests' instead of one
    /// after another under the queue's turn (on PostgreSQL each is a round trip, and a fleet
    /// has a monitor to load, or to recheck every [`RECHECK_MS`], for nearly every write).
    ///
    /// Only what changes no alarm happens here: a monitor is loaded from history, or its
    /// versions are compared with the store's and found current. Anything else (a changed
    /// configuration, which may clear alarms) is left to the refresh under the turn, whose
    /// output is stored with the write. A spacecraft not known to exist is left alone (its
    /// first write may register it, and needs no reads at all), and so is a failed read (the
    /// refresh under the turn reads again and answers the write with the error).
    ///
    /// A monitor locked by someone else is left alone too, without waiting: a group holds it
    /// from evaluation until its commit, so it was loaded and checked just now, and waiting
    /// would keep this write out of the queue until that commit (one busy spacecraft's
    /// writes would stop gathering into groups).
    pub(super) async fn prepare_monitor(&self, key: &Scoped) {
        let handle = self.slot_handle(key);
        let Some(mut slot) = handle.slot.try_lock() else {
            return;
        };
        let now = self.shared.clock.now();
        slot.expire_empty_start(now);
        if slot.is_checked_recently(now) {
            return;
        }
        if slot.monitor.is_none() {
            if !self.is_known(key) {
                return;
            }
            // Before the monitor's reads, so that it counts as checked after the feed began.
            self.begin_change_feed(&key.0).await;
            let context = MonitorContext {
                now: self.shared.clock.now(),
                ids: &*self.shared.ids,
            };
            // Loading a monitor writes nothing into the output: it is rebuilt, not retargeted.
            let mut loaded = (*slot).clone();
            if self
                .refresh(key, &mut loaded, context, &mut MonitorOutput::default())
                .await
                .is_ok()
            {
                self.shared.deadlines.reschedule(key, &loaded);
                *slot = loaded;
            }
            return;
        }
        let Some(version) = slot.version else {
            return;
        };
        if let Some(checked_at) = slot.checked_at {
            if let Some(unchanged_at) = self.rules_unchanged_as_of(key, checked_at).await {
                slot.checked_at = Some(unchanged_at);
                return;
            }
        }
        if self.current_rules_version(key).await.ok() == Some(version) {
            slot.checked_at = Some(now);
        }
    }

    /// The versions of `key`'s configuration and packet definition the rules would come
    /// from now.
    async fn current_rules_version(&self, key: &Scoped) -> Result<RulesVersion> {
        let (tenant, id) = key;
        let packets = self.packets_for_rules(key).await?.map(|p| p.0);
        let config = self.shared.store.current_config_version(tenant, id).await?;
        Ok((config, packets))
    }

    /// Brings `slot` up to date with `id`'s current configuration, rebuilding its monitor
    /// from history on first use. Alarms of rules that went away clear into `out`.
    pub(super) async fn refresh(
        &self,
        key: &Scoped,
        slot: &mut MonitorSlot,
        context: MonitorContext<'_>,
        out: &mut MonitorOutput,
    ) -> Result<()> {
        // A write uses the slot: an empty start still fresh now is this server's to keep.
        slot.expire_empty_start(context.now);
        slot.started_empty_at = None;
        self.refresh_knowing(key, slot, context, out, None).await
    }

    /// [`Self::refresh`], with the current configuration and packet definition version, and
    /// for a monitor not loaded yet what it is rebuilt from, already `known` (read for many
    /// monitors at once by the clock tick, no earlier than `context.now`) instead of read here.
    pub(super) async fn refresh_knowing(
        &self,
        key: &Scoped,
        slot: &mut MonitorSlot,
        context: MonitorContext<'_>,
        out: &mut MonitorOutput,
        known: Option<RulesInputs>,
    ) -> Result<()> {
        let known = known.filter(|known| known.forgotten == slot.forgotten);
        let now = context.now;
        if slot.is_checked_recently(now) {
            return Ok(());
        }
        // Under the turn no feed is polled (a round trip every group would wait for); a fresh
        // one that saw no change of this spacecraft spares the version reads.
        if let Some(unchanged_at) =
            slot.checked_at
                .filter(|_| slot.monitor.is_some())
                .and_then(|checked_at| {
                    self.shared
                        .change_feeds
                        .unchanged_as_of(key, checked_at, now)
                })
        {
            slot.checked_at = Some(unchanged_at);
            return Ok(());
        }
        let (tenant, id) = key;
        let packets = match &known {
            Some(known) => {
                self.packets_for_rules_at(key, known.packets_version)
                    .await?
            }
            None => self.packets_for_rules(key).await?,
        };
        let packets_version = packets.as_ref().map(|p| p.0);
        // A monitor in use is only rechecked: the version answers that without the document.
        if let Some((config_version, current_packets)) =
            slot.version.filter(|_| slot.monitor.is_some())
        {
            let current_config = match &known {
                Some(known) => known.config.as_ref().map(|record| record.version),
                None => self.shared.store.current_config_version(tenant, id).await?,
            };
            if current_packets == packets_version && current_config == config_version {
                slot.checked_at = Some(now);
                return Ok(());
            }
        }
        let (record, rebuild) = match known {
            Some(known) => (known.config, known.rebuild),
            None => (self.shared.store.current_config(tenant, id).await?, None),
        };
        let version = (record.as_ref().map(|r| r.version), packets_version);
        if slot.monitor.is_some() && slot.version == Some(version) {
            slot.checked_at = Some(now);
            return Ok(());
        }
        let rules = if version == (None, None) {
            Arc::new(CompiledRules::empty())
        } else {
            self.compiled_rules(key, record.as_ref(), packets.as_ref())?
        };
        match &mut slot.monitor {
            Some(monitor) => monitor.retarget(rules, context, out),
            None => {
                let Rebuild {
                    history,
                    open_alarms: open,
                } = match rebuild {
                    Some(rebuild) => rebuild,
                    None => Rebuild {
                        history: self
                            .shared
                            .store
                            .recent_telemetry(tenant, id, rebuild_history())
                            .await?,
                        open_alarms: self.open_alarms_of(tenant, id).await?,
                    },
                };
                slot.last = LastValues::default();
                if rules.derived().uses_last() {
                    // The stored snapshots carry their derived values too.
                    let mut oldest_first: Vec<&TelemetrySnapshot> = history.iter().collect();
                    oldest_first.sort_by_key(|s| s.timestamp);
                    for snapshot in oldest_first {
                        slot.last.remember(rules.derived(), &snapshot.parameters);
                    }
                }
                slot.monitor = Some(SpacecraftMonitor::rebuild(
                    id.clone(),
                    rules,
                    &history,
                    open,
                    now,
                ));
            }
        }
        slot.version = Some(version);
        slot.checked_at = Some(now);
        Ok(())
    }

    /// Stores `snapshots` in one write with what `evaluate` makes of them. The monitors of
    /// `spacecraft` are locked (in one order everywhere, so that batches naming several
    /// spacecraft never deadlock), brought up to date with the configuration, and handed to
    /// `evaluate` as copies that replace them only once the store has committed. The snapshots
    /// get their derived values first (as played back: see `ingest/derive.rs`).
    pub(super) async fn monitored_write(
        &self,
        mut snapshots: Vec<TelemetrySnapshot>,
        spacecraft: &[SpacecraftId],
        evaluate: impl FnOnce(&Monitored<'_>, &mut [MonitorSlot], &mut MonitorOutput),
    ) -> Result<IngestOutcome> {
        let mut order: Vec<&SpacecraftId> = spacecraft.iter().collect();
        order.sort();
        let mut guards = Vec::with_capacity(order.len());
        for id in &order {
            guards.push(self.slot_handle(&self.scoped(id)).slot.lock_owned().await);
        }
        let context = MonitorContext {
            now: self.shared.clock.now(),
            ids: &*self.shared.ids,
        };
        let mut out = MonitorOutput::default();
        let mut work: Vec<MonitorSlot> = guards.iter().map(|g| (**g).clone()).collect();
        for (id, slot) in order.iter().zip(work.iter_mut()) {
            self.refresh(&self.scoped(id), slot, context, &mut out)
                .await?;
        }
        // Played back (the only caller): derived values before the checks, from nothing known.
        super::ingest::derive_played_back(&mut snapshots, &order, &work)?;
        let monitored = Monitored {
            order: &order,
            snapshots: &snapshots,
            context,
        };
        evaluate(&monitored, &mut work, &mut out);
        let (anomalies, alarms, events) = out.into_parts();
        let outcome = self
            .shared
            .store
            .insert_telemetry(TelemetryWrite {
                tenant: self.tenant.clone(),
                registrations: Vec::new(),
                snapshots,
                anomalies,
                alarms,
                events: events.into_iter().map(|e| self.audited(e)).collect(),
            })
            .await?;
        for ((id, guard), slot) in order.iter().zip(guards.iter_mut()).zip(work) {
            self.shared.deadlines.reschedule(&self.scoped(id), &slot);
            **guard = slot;
        }
        Ok(outcome)
    }
}
