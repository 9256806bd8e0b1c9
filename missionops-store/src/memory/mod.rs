//! The in-memory backend: every repository trait over maps behind one mutex. For tests and
//! embedding; the same semantics as the durable backends, kept until the process ends.
//!
//! This file holds the store and its shared state; each repository trait is implemented in the
//! file named for it, and `outbox` keeps the outbox rows beside the events.

mod alarms;
mod anomalies;
mod config;
mod documents;
mod events;
mod health;
mod keys;
mod outbox;
mod packets;
mod spacecraft;
mod telemetry;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use missionops_core::PacketDefinitionRecord;
use missionops_core::{
    Alarm, AlarmId, Anomaly, AnomalyId, AnomalyKind, ConfigRecord, DocumentId, Error, EventId,
    MissionEvent, NewEvent, OpsDocument, ParameterName, Result, SnapshotId, Spacecraft,
    SpacecraftId, TelemetrySnapshot, TenantId, Timestamp,
};

/// Every repository trait, in memory. Cheap to clone: clones share the same data.
///
/// One `std::sync::Mutex` guards everything: every operation is a short, synchronous critical
/// section that is never held across an `.await`, and taking one lock per write is what makes
/// each write all-or-nothing, the way a transaction does in the durable backends.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<World>>,
}

/// Everything stored: each tenant's records apart (so that nothing of one tenant can be found
/// through another), and one event log for all, numbered in one sequence like the durable
/// backends' event tables.
#[derive(Debug, Default)]
struct World {
    tenants: HashMap<TenantId, Inner>,
    log: Log,
    /// API keys of every tenant, in creation order (`memory/keys.rs`): a key is looked up by
    /// its id before its tenant is known.
    keys: Vec<missionops_core::ApiKey>,
}

impl World {
    /// The records of `tenant` (empty when it has none yet) and the shared log.
    fn split(&mut self, tenant: &TenantId) -> (&mut Inner, &mut Log) {
        (
            self.tenants.entry(tenant.clone()).or_default(),
            &mut self.log,
        )
    }

    /// The records of `tenant`.
    fn tenant(&mut self, tenant: &TenantId) -> &mut Inner {
        self.tenants.entry(tenant.clone()).or_default()
    }
}

/// The event log of every tenant and its outbox rows.
#[derive(Debug, Default)]
struct Log {
    events: Vec<MissionEvent>,
    /// The tenant of each event, by index.
    tenants: Vec<TenantId>,
    event_ids: HashSet<EventId>,
    /// The outbox rows of the events (`memory/outbox.rs`).
    outbox: outbox::MemoryOutbox,
}

type AnomalyKey = (SpacecraftId, ParameterName, Timestamp, AnomalyKind);

#[derive(Debug, Default)]
struct Inner {
    spacecraft: HashMap<SpacecraftId, Spacecraft>,
    configs: HashMap<SpacecraftId, Vec<ConfigRecord>>,
    /// Packet definition versions per spacecraft.
    packet_definitions: HashMap<SpacecraftId, Vec<PacketDefinitionRecord>>,
    /// Per spacecraft, snapshots by (sample time, arrival order).
    telemetry: HashMap<SpacecraftId, BTreeMap<(Timestamp, u64), Arc<TelemetrySnapshot>>>,
    snapshots_by_id: HashMap<SnapshotId, Arc<TelemetrySnapshot>>,
    arrivals: u64,
    anomalies: Vec<Anomaly>,
    anomaly_keys: HashSet<AnomalyKey>,
    anomaly_ids: HashMap<AnomalyId, usize>,
    alarms: HashMap<AlarmId, Alarm>,
    documents: HashMap<DocumentId, OpsDocument>,
}

impl Log {
    /// Fails when an event id is already recorded (or repeated), before anything is written.
    fn check_events<'a>(&self, events: impl IntoIterator<Item = &'a NewEvent>) -> Result<()> {
        let mut seen = HashSet::new();
        for event in events {
            if self.event_ids.contains(&event.id) || !seen.insert(&event.id) {
                return Err(Error::conflict("event", &event.id, "is already recorded"));
            }
        }
        Ok(())
    }

    fn record(&mut self, tenant: &TenantId, event: NewEvent) -> MissionEvent {
        let sequence = self.events.len() as u64 + 1;
        self.event_ids.insert(event.id.clone());
        let recorded = event.recorded(sequence);
        self.events.push(recorded.clone());
        self.tenants.push(tenant.clone());
        self.outbox.push(sequence);
        recorded
    }

    /// The events of `tenant`, oldest first, from index `start` on.
    fn of<'a>(
        &'a self,
        tenant: &'a TenantId,
        start: usize,
    ) -> impl DoubleEndedIterator<Item = &'a MissionEvent> + 'a {
        let start = start.min(self.events.len());
        self.events[start..]
            .iter()
            .zip(&self.tenants[start..])
            .filter(move |(_, t)| *t == tenant)
            .map(|(e, _)| e)
    }
}

impl Inner {
    fn require_spacecraft(&self, id: &SpacecraftId) -> Result<()> {
        if self.spacecraft.contains_key(id) {
            Ok(())
        } else {
            Err(Error::not_found("spacecraft", id))
        }
    }
}

pub(super) fn anomaly_key(anomaly: &Anomaly) -> AnomalyKey {
    (
        anomaly.spacecraft_id.clone(),
        anomaly.parameter.clone(),
        anomaly.timestamp,
        anomaly.kind,
    )
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, World>> {
        self.inner
            .lock()
            .map_err(|_| Error::backend("the in-memory store was poisoned by a panic".to_owned()))
    }

    /// How many recorded events wait in the outbox for delivery.
    pub fn outbox_pending(&self) -> Result<usize> {
        Ok(self.lock()?.log.outbox.len())
    }
}
