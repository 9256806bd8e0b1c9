//! One fleet status for every caller that asks while one is being made.
//!
//! The console's fleet page reloads `GET /fleet/status` after events, and a control room keeps
//! it open on several screens: after one event every screen asks within a few hundred
//! milliseconds, and at ten thousand spacecraft each status is about a hundred milliseconds of
//! the server's reads. A tenant's statuses are made one at a time here, and a caller that
//! arrives while one is being made waits for the next, which it shares with every caller that
//! arrived meanwhile. Every answer is still made after its caller asked: a status started
//! before a caller arrived might miss the event that made it ask, so that one is not shared
//! with it. A burst of callers costs at most two statuses, however many they are.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::lock::Mutex as AsyncMutex;

use crate::domain::TenantId;

use super::status::FleetEntry;

/// The statuses being made, per tenant.
#[derive(Default)]
pub(super) struct StatusRuns {
    tenants: Mutex<HashMap<TenantId, Arc<TenantRuns>>>,
}

impl StatusRuns {
    /// `tenant`'s runs (made on first use; a poisoned lock gives runs of this caller's own,
    /// which only means its status is not shared).
    pub(super) fn of(&self, tenant: &TenantId) -> Arc<TenantRuns> {
        match self.tenants.lock() {
            Ok(mut tenants) => tenants.entry(tenant.clone()).or_default().clone(),
            Err(_) => Arc::default(),
        }
    }
}

/// One tenant's statuses: made one at a time, the last kept while callers wait.
#[derive(Default)]
pub(super) struct TenantRuns {
    /// Held while a status is made.
    turn: AsyncMutex<()>,
    state: Mutex<RunState>,
}

#[derive(Default)]
struct RunState {
    /// How many statuses have been started.
    started: u64,
    /// Callers between their arrival and their answer.
    waiting: usize,
    /// The last status made while others waited, and its number: kept only while a caller
    /// waits, for those that arrived before it started.
    last: Option<(u64, Arc<Vec<FleetEntry>>)>,
}

impl TenantRuns {
    /// The fleet's status for a caller arriving now: the one `make` makes, or one that another
    /// caller's `make` started after this caller arrived.
    pub(super) async fn status<F>(&self, make: F) -> crate::Result<Vec<FleetEntry>>
    where
        F: Future<Output = crate::Result<Vec<FleetEntry>>>,
    {
        let arrived = self.arrive();
        let _turn = self.turn.lock().await;
        if let Some(shared) = arrived.fresh() {
            return Ok(shared.as_ref().clone());
        }
        let number = arrived.start();
        let fleet = make.await?;
        Ok(arrived.finish(number, fleet))
    }

    fn arrive(&self) -> Arrival<'_> {
        let started = self.state.lock().map_or(u64::MAX, |mut state| {
            state.waiting += 1;
            state.started
        });
        Arrival {
            runs: self,
            started,
        }
    }
}

/// A caller from its arrival to its answer.
struct Arrival<'a> {
    runs: &'a TenantRuns,
    /// How many statuses had started when it arrived (`u64::MAX`: not counted, share nothing).
    started: u64,
}

impl Arrival<'_> {
    /// The last status, if it started after this caller arrived.
    fn fresh(&self) -> Option<Arc<Vec<FleetEntry>>> {
        let state = self.runs.state.lock().ok()?;
        match &state.last {
            Some((number, fleet)) if *number > self.started => Some(fleet.clone()),
            _ => None,
        }
    }

    /// Numbers a new status.
    fn start(&self) -> u64 {
        self.runs.state.lock().map_or(0, |mut state| {
            state.started += 1;
            state.started
        })
    }

    /// Keeps status `number` for the callers waiting behind this one (when there are any) and
    /// gives it back.
    fn finish(&self, number: u64, fleet: Vec<FleetEntry>) -> Vec<FleetEntry> {
        if let Ok(mut state) = self.runs.state.lock() {
            if state.waiting > 1 {
                let fleet = Arc::new(fleet);
                state.last = Some((number, fleet.clone()));
                return fleet.as_ref().clone();
            }
        }
        fleet
    }
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        if self.started == u64::MAX {
            return;
        }
        if let Ok(mut state) = self.runs.state.lock() {
            state.waiting -= 1;
            if state.waiting == 0 {
                state.last = None;
            }
        }
    }
}
