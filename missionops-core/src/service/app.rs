//! The [`MissionOps`] handle: the store, clock and id generator every use case runs over, and
//! the caches clones share. The use cases themselves live in the sibling files, one concern each.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::domain::{
    Actor, Caller, EventStamp, Limit, NewEvent, SpacecraftId, TenantId, Timestamp,
};
use crate::error::Result;
use crate::ports::{Clock, IdGenerator, PacketDecoding, Store};

use super::change_feed::ChangeFeeds;
use super::deadlines::Deadlines;
use super::ingest::WriteQueue;
use super::monitor_slots::SlotHandle;
use super::packets::CachedPackets;
use super::recent_window_cache::Windows;
use super::rules_cache::{CachedRules, SharedRules};
use super::status_runs::StatusRuns;

/// How long a cached window, rule version or monitor configuration is trusted without asking
/// the store again.
///
/// The caches are exact for writes made through this application: every ingest invalidates the
/// windows of the spacecraft it names, every configuration change its rules. Writes made by
/// another process sharing the database (a CLI `import` into the server's SQLite file, a second
/// server on one PostgreSQL) are seen after at most this long. Monitors learn of configuration
/// changes from the event stream at this pace (see [`super::change_feed`]).
pub(super) const RECHECK_MS: i64 = 2_000;

/// A spacecraft of one tenant: the key of every per-spacecraft cache, so that two tenants'
/// `SC-001` never share rules, a monitor or a window.
pub(super) type Scoped = (TenantId, SpacecraftId);

/// Puts `actor` into `event.metadata.actor` (SPEC §9: every event a request causes names who
/// caused it). Not for the open caller (anonymous in `default`, i.e. no key exists, the CLI,
/// embedding): its events stay byte-identical to those of the TypeScript service, which the
/// compat fixtures pin.
pub(super) fn audit(tenant: &TenantId, actor: &Actor, event: &mut NewEvent) {
    if tenant.is_default() && *actor == Actor::Anonymous {
        return;
    }
    event.metadata.insert("actor".to_owned(), actor.to_json());
}

/// The MissionOps application: every use case, over a store, a clock and an id generator.
///
/// A cheap, clonable handle; clones share the store and the caches. Each handle acts for one
/// caller (SPEC §9): its use cases read and write in the caller's tenant only and name the
/// caller's actor in the events they record. [`MissionOps::new`] acts as [`Caller::open`];
/// [`MissionOps::acting_as`] gives a handle for another caller.
///
/// ```
/// # use std::sync::Arc;
/// # use missionops_core::{MissionOps, ManualClock, SequentialIds, Timestamp};
/// # fn demo(store: Arc<dyn missionops_core::Store>) {
/// let clock = Arc::new(ManualClock::new(Timestamp::parse("2025-01-01T00:00:00Z").unwrap()));
/// let app = MissionOps::new(store, clock, Arc::new(SequentialIds::new()));
/// # }
/// ```
#[derive(Clone)]
pub struct MissionOps {
    /// What every handle shares: one reference count to bump per clone, since handles are
    /// made per request (each acts for its caller).
    pub(super) shared: Arc<Shared>,
    /// The tenant this handle reads and writes in.
    pub(super) tenant: TenantId,
    /// Who the events this handle records name as their cause.
    pub(super) actor: Actor,
}

/// The store, clock, id generator and caches every handle of one application shares.
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) ids: Arc<dyn IdGenerator>,
    /// Compiled rules per spacecraft, recompiled when the configuration version changes.
    pub(super) rules: Arc<Mutex<HashMap<Scoped, CachedRules>>>,
    /// Spacecraft known to exist, so that ingest skips the existence lookup. Spacecraft are
    /// never deleted, so an entry never goes stale. A std mutex: held for a lookup only, never
    /// across an await.
    pub(super) known: Arc<Mutex<HashSet<Scoped>>>,
    /// The streaming monitor of each spacecraft seen since start (see [`super::monitor_slots`]).
    pub(super) monitors: Arc<Mutex<HashMap<Scoped, SlotHandle>>>,
    /// When each monitor is next due for the clock tick (see [`super::deadlines`]).
    pub(super) deadlines: Arc<Deadlines>,
    /// Live writes of any spacecraft waiting to be evaluated and stored together (see
    /// `MissionOps::store_live_grouped`).
    pub(super) live_writes: WriteQueue,
    /// Whether every registered spacecraft has a monitor slot (done once, on the first tick).
    pub(super) fleet_loaded: Arc<AtomicBool>,
    /// The newest snapshots of each spacecraft as last read (see [`super::recent_window_cache`]).
    pub(super) windows: Arc<Windows>,
    /// Snapshots per page of a time-window analysis (see [`super::analysis`]).
    pub(super) analysis_page: usize,
    /// The most snapshots an analysed or detected time window may hold.
    pub(super) window_cap: usize,
    /// The packet definition compiler, when this build decodes packets (see
    /// [`MissionOps::with_packet_decoding`]).
    pub(super) packet_decoding: Option<Arc<dyn PacketDecoding>>,
    /// The compiled packet definition of each spacecraft, per definition version.
    pub(super) packet_decoders: Arc<Mutex<HashMap<Scoped, CachedPackets>>>,
    /// Which spacecraft's rules changed, from the event stream (see [`super::change_feed`]).
    pub(super) change_feeds: ChangeFeeds,
    /// Compiled rules shared by the spacecraft whose configurations are the same document.
    pub(super) shared_rules: Arc<SharedRules>,
    /// The fleet statuses being made, shared by the callers that ask meanwhile.
    pub(super) status_runs: Arc<StatusRuns>,
}

impl std::fmt::Debug for MissionOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MissionOps").finish_non_exhaustive()
    }
}

impl MissionOps {
    /// The application over `store`, reading time from `clock` and ids from `ids`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        let live_writes = WriteQueue::new(store.group_commits_at_once());
        MissionOps {
            shared: Arc::new(Shared {
                store,
                clock,
                ids,
                rules: Arc::default(),
                known: Arc::default(),
                monitors: Arc::default(),
                deadlines: Arc::default(),
                live_writes,
                fleet_loaded: Arc::default(),
                windows: Arc::default(),
                analysis_page: super::analysis::ANALYSIS_PAGE_SNAPSHOTS,
                window_cap: super::analysis::MAX_WINDOW_SNAPSHOTS,
                packet_decoding: None,
                packet_decoders: Arc::default(),
                change_feeds: ChangeFeeds::default(),
                shared_rules: Arc::default(),
                status_runs: Arc::default(),
            }),
            tenant: TenantId::default_tenant(),
            actor: Actor::Anonymous,
        }
    }

    /// A handle acting for `caller`: the same store, clock, ids and caches (a cheap clone),
    /// reading and writing in `caller.tenant` only and naming `caller.actor` in its events.
    pub fn acting_as(&self, caller: Caller) -> MissionOps {
        MissionOps {
            tenant: caller.tenant,
            actor: caller.actor,
            ..self.clone()
        }
    }

    /// The tenant this handle acts in.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The actor this handle names in the events it records.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// This application decoding packets with `decoding` (the packets crate's adapter): without
    /// it, the packet use cases answer that packet decoding is not enabled.
    pub fn with_packet_decoding(mut self, decoding: Arc<dyn PacketDecoding>) -> Self {
        Arc::make_mut(&mut self.shared).packet_decoding = Some(decoding);
        self
    }

    /// The store, for frontends that need a query no use case covers yet.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// Now, by the application's clock.
    pub fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    /// The id and time of an event recorded now.
    pub(super) fn event_stamp(&self) -> EventStamp {
        EventStamp {
            id: self.shared.ids.new_id().into(),
            timestamp: self.shared.clock.now(),
        }
    }

    /// `event` as this handle's caller causes it: with `metadata.actor` (SPEC §9 audit).
    pub(super) fn audited(&self, mut event: NewEvent) -> NewEvent {
        audit(&self.tenant, &self.actor, &mut event);
        event
    }

    /// The cache key of `id` in this handle's tenant.
    pub(super) fn scoped(&self, id: &SpacecraftId) -> Scoped {
        (self.tenant.clone(), id.clone())
    }

    pub(super) fn is_known(&self, key: &Scoped) -> bool {
        self.shared
            .known
            .lock()
            .map(|k| k.contains(key))
            .unwrap_or(false)
    }

    pub(super) fn remember(&self, key: Scoped) {
        if let Ok(mut known) = self.shared.known.lock() {
            known.insert(key);
        }
    }

    /// Remembers every one of `keys`, under one lock, copying only those not known yet.
    pub(super) fn remember_all<'a>(&self, keys: impl IntoIterator<Item = &'a Scoped>) {
        if let Ok(mut known) = self.shared.known.lock() {
            for key in keys {
                if !known.contains(key) {
                    known.insert(key.clone());
                }
            }
        }
    }

    /// Whether the store answers (for readiness probes).
    pub async fn ping(&self) -> Result<()> {
        self.shared
            .store
            .list_spacecraft(&self.tenant, Limit::clamped(1, 1), 0)
            .await
            .map(|_| ())
    }

    /// Whether the store answers reads and takes writes (for readiness probes): [`ping`]
    /// and then the store's [`WriteProbe`](crate::WriteProbe), which changes nothing.
    ///
    /// [`ping`]: MissionOps::ping
    pub async fn check_ready(&self) -> Result<()> {
        self.ping().await?;
        self.shared.store.probe_writes().await
    }
}
