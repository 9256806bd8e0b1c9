//! The clock tick (SPEC §3): stale parameters and lost contact across the fleet, and shelvings
//! that ran out. What goes stale is decided by each spacecraft's monitor; this loops over them
//! and commits what they decide.

use crate::domain::{AlarmFilter, AlarmState, AlarmStates, Caller, Operator};
use crate::error::{Error, Result};
use crate::ports::TelemetryWrite;
use crate::rules::{MonitorContext, MonitorOutput};

use super::MissionOps;

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
    /// The clock tick (SPEC §3): every monitored parameter whose newest sample arrived longer
    /// ago than its `staleAfterSec` goes `STALE`; a spacecraft whose every such parameter is
    /// stale gets one `CONTACT_LOST` event; shelvings that ran out end. The server calls it
    /// every few seconds; an embedding application calls it on its own schedule.
    pub async fn tick(&self) -> Result<TickReport> {
        let mut report = TickReport::default();
        self.load_fleet_monitors().await?;
        // Monitors of every tenant are checked; the tenants seen are then unshelved too.
        let mut tenants = vec![self.tenant.clone()];
        for (key, handle) in self.loaded_slots() {
            if !tenants.contains(&key.0) {
                tenants.push(key.0.clone());
            }
            let mut guard = handle.slot.lock().await;
            let context = MonitorContext {
                now: self.clock.now(),
                ids: &*self.ids,
            };
            let mut work = (*guard).clone();
            let mut out = MonitorOutput::default();
            self.refresh(&key, &mut work, context, &mut out).await?;
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
                        tenant: key.0.clone(),
                        registrations: Vec::new(),
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
        let system = Operator::parse("system")?;
        for tenant in tenants {
            // The clock, not the caller, unshelves: the tenant's own anonymous handle.
            let ops = self.acting_as(Caller::operator_of(tenant));
            let shelved = ops
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

    /// Gives every registered spacecraft a monitor once, so that a spacecraft that stays
    /// silent after a restart still goes stale.
    async fn load_fleet_monitors(&self) -> Result<()> {
        if self.fleet_loaded.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(());
        }
        for spacecraft in self.every_spacecraft().await? {
            self.slot_handle(&self.scoped(&spacecraft.id));
        }
        self.fleet_loaded
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }
}
