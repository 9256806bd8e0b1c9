//! When each loaded monitor next has something for the clock tick to decide, so that a tick
//! touches only the monitors that are due (SPEC §8 "Fleet scale": the tick's cost grows with
//! the work that is due, not with the fleet).
//!
//! Every place that puts a monitor slot back after changing it (a write landing, the tick, an
//! operator's alarm change, a configuration change made here) reschedules it here while still
//! holding the slot's lock, from the state it puts back (see [`slot_deadline`]), so the index
//! always ends at the state the last holder left. A slot whose monitor is not built yet, or
//! whose configuration must be read again, is due at once.
//!
//! Configuration changes made by another process sharing the database are not seen here: they
//! reach a monitor at its next write or next deadline, or through
//! [`MissionOps::tick_every_monitor`](super::MissionOps::tick_every_monitor).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::domain::TenantId;

use super::app::Scoped;
use super::monitor_slots::MonitorSlot;

/// A deadline meaning "at the next tick, whatever the time".
const AT_ONCE: i64 = i64::MIN;

/// The deadline index: each scheduled monitor once, ordered by deadline (milliseconds since
/// the epoch). A std mutex: held for a few map operations, never across an await.
#[derive(Debug, Default)]
pub(super) struct Deadlines {
    inner: Mutex<Index>,
}

#[derive(Debug, Default)]
struct Index {
    by_deadline: BTreeSet<(i64, Scoped)>,
    of: HashMap<Scoped, i64>,
    /// Every tenant that has had a monitor, in the order first seen: the tick unshelves in
    /// each.
    tenants: Vec<TenantId>,
}

/// When the tick next has something to decide for `slot`: at once when its monitor is not
/// built or its configuration is to be read again, else what the monitor says
/// ([`SpacecraftMonitor::next_tick_due`](crate::rules::SpacecraftMonitor::next_tick_due));
/// `None` when nothing can happen before the next write.
pub(super) fn slot_deadline(slot: &MonitorSlot) -> Option<i64> {
    match &slot.monitor {
        None => Some(AT_ONCE),
        Some(_) if slot.checked_at.is_none() => Some(AT_ONCE),
        Some(monitor) => monitor.next_tick_due(),
    }
}

impl Deadlines {
    fn index(&self) -> MutexGuard<'_, Index> {
        // A poisoned lock only means another thread panicked between two map operations,
        // each of which leaves the index consistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new slot for `key`: due at once (its monitor is built at the next tick).
    pub(super) fn added(&self, key: &Scoped) {
        let mut index = self.index();
        if !index.tenants.contains(&key.0) {
            index.tenants.push(key.0.clone());
        }
        index.set(key, Some(AT_ONCE));
    }

    /// `key`'s slot was put back as `slot`.
    pub(super) fn reschedule(&self, key: &Scoped, slot: &MonitorSlot) {
        self.index().set(key, slot_deadline(slot));
    }

    /// The monitors due at `now` (milliseconds since the epoch), soonest first.
    pub(super) fn due(&self, now: i64) -> Vec<Scoped> {
        self.index()
            .by_deadline
            .iter()
            .take_while(|(deadline, _)| *deadline <= now)
            .map(|(_, key)| key.clone())
            .collect()
    }

    /// Every tenant that has had a monitor.
    pub(super) fn tenants(&self) -> Vec<TenantId> {
        self.index().tenants.clone()
    }

    /// How many monitors have a deadline.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.index().of.len()
    }
}

impl Index {
    fn set(&mut self, key: &Scoped, deadline: Option<i64>) {
        let previous = self.of.get(key).copied();
        if previous == deadline {
            return;
        }
        if let Some(previous) = previous {
            self.by_deadline.remove(&(previous, key.clone()));
        }
        match deadline {
            Some(deadline) => {
                self.of.insert(key.clone(), deadline);
                self.by_deadline.insert((deadline, key.clone()));
            }
            None => {
                self.of.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SpacecraftId;

    fn key(id: &str) -> Scoped {
        (
            TenantId::default_tenant(),
            SpacecraftId::parse(id).expect("id"),
        )
    }

    #[test]
    fn each_monitor_is_due_once_at_its_newest_deadline() {
        let deadlines = Deadlines::default();
        deadlines.added(&key("a"));
        deadlines.added(&key("b"));
        assert_eq!(
            deadlines.due(0),
            [key("a"), key("b")],
            "new slots are due at once"
        );
        deadlines.index().set(&key("a"), Some(50));
        deadlines.index().set(&key("b"), Some(20));
        deadlines.index().set(&key("a"), Some(10));
        assert_eq!(deadlines.len(), 2);
        assert_eq!(deadlines.due(9), Vec::<Scoped>::new());
        assert_eq!(deadlines.due(20), [key("a"), key("b")], "soonest first");
        deadlines.index().set(&key("a"), None);
        assert_eq!(deadlines.due(i64::MAX), [key("b")]);
        assert_eq!(deadlines.len(), 1);
        assert_eq!(deadlines.tenants(), [TenantId::default_tenant()]);
    }
}
