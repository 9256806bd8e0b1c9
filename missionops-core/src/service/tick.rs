//! The clock tick (SPEC §3): stale parameters and lost contact across the fleet, and shelvings
//! that ran out. What goes stale is decided by each spacecraft's monitor; this loops over the
//! monitors that are due (see `deadlines`) and commits what they decide.

use std::collections::HashMap;

use crate::domain::{
    AlarmFilter, AlarmState, AlarmStates, Caller, Operator, SpacecraftId, TenantId, Timestamp,
};
use crate::error::{Error, Result};
use crate::ports::{GroupOutcome, TelemetryWrite};
use crate::rules::{MonitorContext, MonitorOutput};

use super::MissionOps;
use super::app::Scoped;
use super::monitor_slots::{Rebuild, RulesInputs, rebuild_history};

/// The most monitors one tick locks and stores together (see [`MissionOps::tick_group`]):
/// enough that a fleet-wide outage commits in few transactions, few enough that the writes of
/// those spacecraft do not wait long for their monitors.
const TICK_GROUP: usize = 256;

/// What a clock tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Spacecraft whose monitors were checked: those due (every loaded one for
    /// [`MissionOps::tick_every_monitor`]).
    pub spacecraft: usize,
    /// Alarms opened or changed (stale parameters).
    pub alarms: usize,
    /// Events raised (`ANOMALY`, `CONTACT_LOST`).
    pub events: usize,
    /// Shelvings that ran out.
    pub unshelved: usize,
}

impl MissionOps {
    /// The clock tick (SPEC §3): every monitored parameter whose newest sample arrived longer
    /// ago than its `staleAfterSec` goes `STALE`; a spacecraft whose every such parameter is
    /// stale gets one `CONTACT_LOST` event; shelvings that ran out end. The server calls it
    /// every few seconds; an embedding application calls it on its own schedule.
    ///
    /// Only the monitors that are due are visited (see `deadlines`): a tick over a fleet where
    /// nothing is overdue costs next to nothing. It decides what visiting every monitor
    /// ([`tick_every_monitor`](Self::tick_every_monitor)) would.
    pub async fn tick(&self) -> Result<TickReport> {
        self.load_fleet_monitors().await?;
        let due = self
            .shared
            .deadlines
            .due(self.shared.clock.now().as_millis());
        self.tick_monitors(due).await
    }

    /// The clock tick visiting every loaded monitor, due or not: the same decisions as
    /// [`tick`](Self::tick), at a cost that grows with the fleet. Besides, it brings every
    /// monitor up to date with configuration changes made by another process sharing the
    /// database (which `tick` sees only at a spacecraft's next write or deadline).
    pub async fn tick_every_monitor(&self) -> Result<TickReport> {
        self.load_fleet_monitors().await?;
        let every = self
            .loaded_slots()
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        self.tick_monitors(every).await
    }

    /// Ticks the monitors of `keys`, then ends the shelvings that ran out in every tenant
    /// that has a monitor.
    async fn tick_monitors(&self, mut keys: Vec<Scoped>) -> Result<TickReport> {
        let mut report = TickReport::default();
        // Sorted: the order every holder of several monitors locks them in (see
        // `group_commit::lock_order`), so that a tick never deadlocks with a group write.
        keys.sort_unstable();
        keys.dedup();
        for group in keys.chunks(TICK_GROUP) {
            self.tick_group(group, &mut report).await?;
        }
        // This handle's tenant first, then every tenant with a monitor.
        let mut tenants = vec![self.tenant.clone()];
        for tenant in self.shared.deadlines.tenants() {
            if !tenants.contains(&tenant) {
                tenants.push(tenant);
            }
        }
        let now = self.shared.clock.now();
        let system = Operator::parse("system")?;
        for tenant in tenants {
            // The clock, not the caller, unshelves: the tenant's own anonymous handle.
            let ops = self.acting_as(Caller::operator_of(tenant));
            let shelved = ops
                .shared
                .store
                .list_alarms(
                    &ops.tenant,
                    &AlarmFilter {
                        spacecraft_id: None,
                        states: AlarmStates::Only(AlarmState::Shelved),
                    },
                )
                .await?;
            for alarm in shelved {
                if alarm.shelved_until.is_some_and(|until| until <= now) {
                    match ops.unshelve_alarm(&alarm.id, system.clone()).await {
                        // Someone unshelved it meanwhile: nothing left to do.
                        Ok(_) | Err(Error::Conflict { .. }) => report.unshelved += 1,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(report)
    }

    /// The configuration and packet definition version of every monitor of `keys` that must
    /// read them at `now` (not loaded yet, or not checked within the recheck time and not
    /// covered by its tenant's change feed), read in one query of each per tenant: after a
    /// configuration change of a whole fleet every monitor is due, and reading them one by
    /// one took a round trip or two each (2.6 s for 10,000 on PostgreSQL, 0.8 s this way).
    /// For the monitors not loaded yet (after a restart, the whole fleet's) their history and
    /// open alarms too, one query of each per tenant. Empty when fewer than two need them (the
    /// refresh reads its own).
    ///
    /// A monitor busy elsewhere is left to read its own, and so is one whose slot was told by
    /// a change made here (its rules, or an operator's change to one of its alarms) to read
    /// again after these reads began: they may predate that change. A change made elsewhere
    /// after `now` is found by the change feed, as after a read of the monitor's own. A
    /// monitor loaded meanwhile (by a write) does not use the history and alarms read here.
    async fn read_rules_inputs(
        &self,
        keys: &[Scoped],
        now: Timestamp,
    ) -> Result<HashMap<Scoped, RulesInputs>> {
        let due: Vec<(&Scoped, u64, bool)> = keys
            .iter()
            .filter_map(|key| {
                let handle = self.slot_handle(key);
                let slot = handle.slot.try_lock()?;
                // Not loaded yet (a fleet configured before it sent anything, or after a
                // restart): it reads its rules whatever the feed says.
                let unloaded = slot.monitor.is_none();
                let due = unloaded
                    || (!slot.is_checked_recently(now)
                        && slot
                            .checked_at
                            .and_then(|at| self.shared.change_feeds.unchanged_as_of(key, at, now))
                            .is_none());
                due.then_some((key, slot.forgotten, unloaded))
            })
            .collect();
        let mut known = HashMap::new();
        if due.len() < 2 {
            return Ok(known);
        }
        let mut by_tenant: HashMap<&TenantId, Vec<(SpacecraftId, u64, bool)>> = HashMap::new();
        for ((tenant, id), forgotten, unloaded) in due {
            by_tenant
                .entry(tenant)
                .or_default()
                .push((id.clone(), forgotten, unloaded));
        }
        for (tenant, due) in by_tenant {
            let ids: Vec<SpacecraftId> = due.iter().map(|(id, ..)| id.clone()).collect();
            let configs = self.shared.store.current_configs(tenant, &ids).await?;
            let packets = if self.shared.packet_decoding.is_some() {
                self.shared
                    .store
                    .current_packet_definition_versions(tenant, &ids)
                    .await?
            } else {
                vec![None; ids.len()]
            };
            let mut rebuilds = self.read_rebuilds(tenant, &due).await?;
            for (((id, forgotten, _), config), packets_version) in
                due.into_iter().zip(configs).zip(packets)
            {
                let rebuild = rebuilds.remove(&id);
                known.insert(
                    (tenant.clone(), id),
                    RulesInputs {
                        config,
                        packets_version,
                        forgotten,
                        rebuild,
                    },
                );
            }
        }
        Ok(known)
    }

    /// The history and open alarms of the monitors of `due` (spacecraft, mark, not loaded)
    /// that are not loaded yet, read for the list.
    async fn read_rebuilds(
        &self,
        tenant: &TenantId,
        due: &[(SpacecraftId, u64, bool)],
    ) -> Result<HashMap<SpacecraftId, Rebuild>> {
        let unloaded: Vec<SpacecraftId> = due
            .iter()
            .filter(|(.., unloaded)| *unloaded)
            .map(|(id, ..)| id.clone())
            .collect();
        if unloaded.is_empty() {
            return Ok(HashMap::new());
        }
        // Alarms first: an operator's change to one of them after this read is what the
        // slots' marks guard against (see `change_alarm`).
        let alarms = self.shared.store.open_alarms_of(tenant, &unloaded).await?;
        let histories = self
            .shared
            .store
            .recent_telemetry_of(tenant, &unloaded, rebuild_history())
            .await?;
        Ok(unloaded
            .into_iter()
            .zip(histories.into_iter().zip(alarms))
            .map(|(id, (history, open_alarms))| {
                (
                    id,
                    Rebuild {
                        history,
                        open_alarms,
                    },
                )
            })
            .collect())
    }

    /// Gives every registered spacecraft a monitor once, so that a spacecraft that stays
    /// silent after a restart still goes stale.
    async fn load_fleet_monitors(&self) -> Result<()> {
        if self
            .shared
            .fleet_loaded
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return Ok(());
        }
        for spacecraft in self.every_spacecraft().await? {
            self.slot_handle(&self.scoped(&spacecraft.id));
        }
        self.shared
            .fleet_loaded
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Ticks the monitors of `keys` (sorted), and stores what they decide together: one
    /// [`insert_telemetry_group`] call for the group, so that a tick after a fleet-wide outage
    /// (every spacecraft due, ten alarms each) costs a commit per [`TICK_GROUP`] spacecraft
    /// rather than one per spacecraft. A monitor that decides nothing takes its new state and
    /// is let go at once (most due monitors: new ones, refreshed configurations); one that
    /// decided something stays locked until what it decided is stored, and takes its new
    /// state only then. When storing fails, the monitors of the writes not stored keep their
    /// old state and the tick answers the error (the next tick decides again).
    ///
    /// [`insert_telemetry_group`]: crate::TelemetryRepository::insert_telemetry_group
    async fn tick_group(&self, keys: &[Scoped], report: &mut TickReport) -> Result<()> {
        let context = MonitorContext {
            now: self.shared.clock.now(),
            ids: &*self.shared.ids,
        };
        // Read after `context.now`: what a monitor takes from them is current as of then.
        let mut known = self.read_rules_inputs(keys, context.now).await?;
        // The monitors that decided something, locked, with their new state, and their writes.
        let mut deciding = Vec::new();
        let mut writes = Vec::new();
        for key in keys {
            let handle = self.slot_handle(key);
            let mut guard = handle.slot.lock_owned().await;
            let mut work = (*guard).clone();
            let mut out = MonitorOutput::default();
            self.refresh_knowing(key, &mut work, context, &mut out, known.remove(key))
                .await?;
            if let Some(monitor) = work.monitor.as_mut() {
                monitor.tick(context, &mut out);
            }
            report.spacecraft += 1;
            if out.is_empty() {
                self.shared.deadlines.reschedule(key, &work);
                *guard = work;
                continue;
            }
            let (anomalies, alarms, events) = out.into_parts();
            report.alarms += alarms.len();
            report.events += events.len();
            writes.push(TelemetryWrite {
                tenant: key.0.clone(),
                registrations: Vec::new(),
                snapshots: Vec::new(),
                anomalies,
                alarms,
                events,
            });
            deciding.push((key, guard, work));
        }
        if writes.is_empty() {
            return Ok(());
        }
        let GroupOutcome { stored, failure } =
            self.shared.store.insert_telemetry_group(writes).await;
        for (key, mut guard, state) in deciding.into_iter().take(stored.len()) {
            self.shared.deadlines.reschedule(key, &state);
            *guard = state;
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
