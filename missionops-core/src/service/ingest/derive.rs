//! Derived parameters at ingest (SPEC §11): each snapshot gets the values of its spacecraft's
//! `derived` expressions appended before the rules see it, so that alarms, series, latest
//! values, staleness and export treat them like raw ones.
//!
//! `last()` reads the latest known value per (spacecraft, parameter):
//! - live: kept with the spacecraft's monitor ([`MonitorSlot::last`]), updated in arrival order
//!   (batch order within a write), and, like the monitor, replaced only once the write is
//!   committed; after a restart it is rebuilt from the same recent history as the monitor;
//! - played back: per spacecraft in time order from nothing known, and the live values are left
//!   untouched (like the played-back checks, which start from a fresh state).

use crate::domain::{SpacecraftId, TelemetrySnapshot};
use crate::error::{Error, Result};
use crate::rules::{DeriveScratch, LastValues};

use crate::service::monitor_slots::MonitorSlot;

/// Whether `slot`'s configuration defines derived parameters.
pub(super) fn has_derived(slot: &MonitorSlot) -> bool {
    slot.monitor
        .as_ref()
        .is_some_and(|m| !m.rules().derived().is_empty())
}

/// Names the snapshot in an error about its parameters (the index in the batch as sent is not
/// known here once repeated ids are folded).
fn of_snapshot(snapshot: &TelemetrySnapshot, err: Error) -> Error {
    match err {
        Error::Invalid { field, reason } => Error::invalid(
            field,
            format!(
                "snapshot {}: {reason}",
                crate::error::quote(snapshot.id.as_str())
            ),
        ),
        other => other,
    }
}

/// Appends the derived values to live `snapshots`, in order, each with the configuration and
/// `last()` values of its spacecraft's monitor in `work` (by `slot_of`).
pub(super) fn derive_live(
    snapshots: &mut [TelemetrySnapshot],
    work: &mut [Option<MonitorSlot>],
    slot_of: impl Fn(&SpacecraftId) -> usize,
) -> Result<()> {
    let mut scratch: Vec<Option<DeriveScratch>> = Vec::new();
    scratch.resize_with(work.len(), || None);
    for snapshot in snapshots {
        let at = slot_of(&snapshot.spacecraft_id);
        let Some(MonitorSlot {
            monitor: Some(monitor),
            last,
            ..
        }) = work.get_mut(at).and_then(Option::as_mut)
        else {
            continue;
        };
        let derived = monitor.rules().derived();
        if derived.is_empty() {
            continue;
        }
        let scratch = scratch[at].get_or_insert_with(DeriveScratch::default);
        if let Some(parameters) = derived
            .derive(&snapshot.parameters, last, scratch)
            .map_err(|e| of_snapshot(snapshot, e))?
        {
            snapshot.parameters = parameters;
        }
    }
    Ok(())
}

/// Appends the derived values to played-back `snapshots`: per spacecraft (`order`, with its
/// monitor in `work`) in time order, `last()` starting from nothing known.
pub(in crate::service) fn derive_played_back(
    snapshots: &mut [TelemetrySnapshot],
    order: &[&SpacecraftId],
    work: &[MonitorSlot],
) -> Result<()> {
    for (id, slot) in order.iter().zip(work) {
        let Some(monitor) = slot.monitor.as_ref() else {
            continue;
        };
        let derived = monitor.rules().derived();
        if derived.is_empty() {
            continue;
        }
        let mut indices: Vec<usize> = (0..snapshots.len())
            .filter(|&i| &snapshots[i].spacecraft_id == *id)
            .collect();
        indices.sort_by_key(|&i| snapshots[i].timestamp);
        let mut last = LastValues::default();
        let mut scratch = DeriveScratch::default();
        for i in indices {
            let snapshot = &mut snapshots[i];
            if let Some(parameters) = derived
                .derive(&snapshot.parameters, &mut last, &mut scratch)
                .map_err(|e| of_snapshot(snapshot, e))?
            {
                snapshot.parameters = parameters;
            }
        }
    }
    Ok(())
}
