//! Ports: what the core needs from the outside world — time, ids and storage, the outbox of
//! recorded events included (`outbox`, with its retry policy in `retry`).
//!
//! Every write method takes the events the change causes, so that a backend commits the state
//! change and its events (and their outbox rows) in one transaction: no state change without its
//! event, no event without its state change. Event ids are unique in a store: a write whose
//! event id is already recorded fails whole, with [`Error::Conflict`]. Every method returns [`Error::Backend`] when the
//! backend itself fails; the other errors each method can return are listed in its docs.
//!
//!
//! Every repository is tenant-scoped (SPEC §9): each method takes the tenant it reads or writes
//! in (a [`TelemetryWrite`] carries its own), and a record of another tenant is treated exactly
//! as if it did not exist: absent from listings, `None` from lookups by id, and a spacecraft id
//! of another tenant is free to register. Event sequences are global to the store (one log), so
//! a tenant's sequences have gaps; `events_after` skips the other tenants' events.
//!
//! [`Error::Backend`]: crate::Error::Backend
//! [`Error::Conflict`]: crate::Error::Conflict

mod outbox;
mod packets;
mod retry;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt};
use uuid::Uuid;

use crate::domain::{
    Alarm, AlarmCursor, AlarmFilter, AlarmId, AlarmStates, Anomaly, AnomalyId, AnomalyKind, ApiKey,
    ApiKeyId, BucketWidth, ConfigRecord, DocumentFilter, DocumentId, EventType, LatestValue, Limit,
    MissionEvent, NewEvent, OpsDocument, ParameterName, SearchQuery, SeriesBucket, Severity,
    Spacecraft, SpacecraftId, TelemetrySnapshot, TenantId, Timestamp,
};
use crate::error::Result;

pub use outbox::{
    Claim, ClaimId, DeadLetter, FailureOutcome, OutboxEntry, OutboxStats, OutboxStore,
    RetrySelection,
};
pub use packets::{
    CompiledPackets, DecodedPackets, OnPacketError, PacketCounts, PacketDecoding,
    PacketDefinitionRecord, PacketDefinitionRepository, PacketValues,
};
pub use retry::RetryPolicy;

/// The source of the current time. The core never reads the system clock itself.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The source of new ids (UUIDv7 in production, a counter in tests).
pub trait IdGenerator: Send + Sync {
    /// A new, unique id.
    fn new_id(&self) -> Uuid;
}

/// A clock that says what it is told: for tests and simulations.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: Timestamp) -> Self {
        ManualClock(AtomicI64::new(now.as_millis()))
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: Timestamp) {
        self.0.store(now.as_millis(), Ordering::SeqCst);
    }

    /// Moves the clock forward by `millis`.
    pub fn advance_millis(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis_clamped(self.0.load(Ordering::SeqCst))
    }
}

/// Ids `00000000-0000-0000-0000-000000000001`, `…02`, …: deterministic, for tests.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl SequentialIds {
    /// A generator starting at 1.
    pub fn new() -> Self {
        Self::default()
    }
}

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::SeqCst) + 1))
    }
}

/// One page of spacecraft and how many there are in all.
#[derive(Debug, Clone, PartialEq)]
pub struct SpacecraftPage {
    /// How many spacecraft exist.
    pub total: u64,
    /// This page, oldest registration first.
    pub items: Vec<Spacecraft>,
}

/// Spacecraft storage.
#[async_trait]
pub trait SpacecraftRepository: Send + Sync {
    /// Stores a new spacecraft with its `SPACECRAFT_REGISTERED` event.
    /// [`Error::Conflict`](crate::Error::Conflict) when the id exists; nothing is written then.
    async fn register_spacecraft(
        &self,
        tenant: &TenantId,
        spacecraft: Spacecraft,
        event: NewEvent,
    ) -> Result<()>;

    /// The spacecraft with `id`, or `None`.
    async fn get_spacecraft(
        &self,
        tenant: &TenantId,
        id: &SpacecraftId,
    ) -> Result<Option<Spacecraft>>;

    /// Which of `ids` exist in `tenant`, in any order: what live ingest asks, once per group,
    /// about the spacecraft it has not seen yet (a spacecraft that does not exist has no
    /// history, configuration or alarms to read). The default asks [`get_spacecraft`] about
    /// each; a backend answers it in one query.
    ///
    /// [`get_spacecraft`]: SpacecraftRepository::get_spacecraft
    async fn existing_spacecraft(
        &self,
        tenant: &TenantId,
        ids: &[SpacecraftId],
    ) -> Result<Vec<SpacecraftId>> {
        let mut existing = Vec::new();
        for id in ids {
            if self.get_spacecraft(tenant, id).await?.is_some() {
                existing.push(id.clone());
            }
        }
        Ok(existing)
    }

    /// A page of spacecraft ordered by registration time, then id.
    async fn list_spacecraft(
        &self,
        tenant: &TenantId,
        limit: Limit,
        offset: u64,
    ) -> Result<SpacecraftPage>;

    /// Every spacecraft of `tenant`, ordered by registration time, then id: what the fleet's
    /// status and the clock tick walk. The default reads [`list_spacecraft`] pages of 1,000
    /// (each counts the fleet and skips the pages before it); a backend reads them in one
    /// statement.
    ///
    /// [`list_spacecraft`]: SpacecraftRepository::list_spacecraft
    async fn every_spacecraft(&self, tenant: &TenantId) -> Result<Vec<Spacecraft>> {
        const PAGE: u32 = 1000;
        let page_size = Limit::clamped(i64::from(PAGE), PAGE);
        let mut all = Vec::new();
        let mut offset = 0u64;
        loop {
            let page = self.list_spacecraft(tenant, page_size, offset).await?;
            let count = page.items.len();
            all.extend(page.items);
            offset += count as u64;
            if count < page_size.get() || offset >= page.total {
                return Ok(all);
            }
        }
    }
}

/// Configuration storage, with every version kept.
#[async_trait]
pub trait ConfigRepository: Send + Sync {
    /// The newest configuration of `spacecraft`, or `None` when it has none (or does not exist).
    async fn current_config(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<ConfigRecord>>;

    /// The version of [`current_config`], or `None` when there is none: what a caller holding
    /// the rules of a version asks to learn whether they are still current. The default
    /// reads the whole configuration; a backend answers it without reading the document.
    ///
    /// [`current_config`]: ConfigRepository::current_config
    async fn current_config_version(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<u32>> {
        Ok(self
            .current_config(tenant, spacecraft)
            .await?
            .map(|record| record.version))
    }

    /// [`current_config`] of each of `spacecraft`, in their order: what the clock tick reads
    /// at once for the monitors it must bring up to date (after a configuration change of a
    /// whole fleet, every one). The default reads them one by one; a backend reads them in
    /// one query.
    ///
    /// [`current_config`]: ConfigRepository::current_config
    async fn current_configs(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<ConfigRecord>>> {
        let mut configs = Vec::with_capacity(spacecraft.len());
        for id in spacecraft {
            configs.push(self.current_config(tenant, id).await?);
        }
        Ok(configs)
    }

    /// Stores `record` as the newest version with its `CONFIG_CHANGED` event.
    /// `record.version` must be one more than the current version (1 for the first);
    /// otherwise [`Error::Conflict`](crate::Error::Conflict) (a concurrent change won) and
    /// nothing is written. [`Error::NotFound`](crate::Error::NotFound) when the spacecraft does
    /// not exist.
    async fn put_config(
        &self,
        tenant: &TenantId,
        record: ConfigRecord,
        event: NewEvent,
    ) -> Result<()>;

    /// Every version of `spacecraft`'s configuration, oldest first; empty when none.
    async fn config_history(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<ConfigRecord>>;
}

/// A spacecraft a telemetry write registers if nobody registered it yet (implicit
/// registration, SPEC: telemetry for an unknown spacecraft registers it), with its
/// `SPACECRAFT_REGISTERED` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// The spacecraft to register.
    pub spacecraft: Spacecraft,
    /// Its `SPACECRAFT_REGISTERED` event, recorded only when this write registers it.
    pub event: NewEvent,
}

/// Telemetry to store in one transaction, with what evaluating it produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TelemetryWrite {
    /// The tenant every record of the write belongs to. The write carries it (rather than the
    /// call) because group commit stores writes of many tenants in one transaction.
    pub tenant: TenantId,
    /// Spacecraft to register first, each only if no spacecraft with its id exists (then its
    /// event is recorded, before the write's own events); one that exists is left as it is and
    /// its event dropped, which is no failure. So however many writes carry the registration
    /// of one new spacecraft, concurrently or in one group, it is registered, and its event
    /// recorded, once.
    pub registrations: Vec<Registration>,
    /// The snapshots, each id at most once.
    pub snapshots: Vec<TelemetrySnapshot>,
    /// Anomalies to persist with them (unique on spacecraft, parameter, timestamp, kind).
    pub anomalies: Vec<Anomaly>,
    /// Alarms the telemetry opened, updated or cleared, created or replaced by id (each id at
    /// most once: the state after the whole batch).
    pub alarms: Vec<Alarm>,
    /// Events to record with them.
    pub events: Vec<NewEvent>,
}

impl TelemetryWrite {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.registrations.is_empty()
            && self.snapshots.is_empty()
            && self.anomalies.is_empty()
            && self.alarms.is_empty()
            && self.events.is_empty()
    }
}

/// What an ingest stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Snapshots newly stored.
    pub inserted: usize,
    /// Snapshots already stored with the same content, left as they were.
    pub duplicates: usize,
}

/// What [`TelemetryRepository::insert_telemetry_group`] did: the outcome of each write stored,
/// in order, and the failure of the write after them, if one failed.
#[derive(Debug, Default)]
pub struct GroupOutcome {
    /// The outcomes of the first `stored.len()` writes, which are stored.
    pub stored: Vec<IngestOutcome>,
    /// Why the next write failed (it and every write after it are not stored); `None` when
    /// every write is stored.
    pub failure: Option<crate::Error>,
}

/// Stores `writes` one after the other with [`TelemetryRepository::insert_telemetry`],
/// stopping at the first that fails: the plain form of
/// [`TelemetryRepository::insert_telemetry_group`], for backends without group commit and as
/// their fallback.
pub async fn insert_one_by_one<R>(repository: &R, writes: Vec<TelemetryWrite>) -> GroupOutcome
where
    R: TelemetryRepository + ?Sized,
{
    let mut stored = Vec::with_capacity(writes.len());
    for write in writes {
        match repository.insert_telemetry(write).await {
            Ok(outcome) => stored.push(outcome),
            Err(failure) => {
                return GroupOutcome {
                    stored,
                    failure: Some(failure),
                };
            }
        }
    }
    GroupOutcome {
        stored,
        failure: None,
    }
}

/// Where a page of a range read ended: the sample time and arrival number of its last
/// snapshot, so that the next page starts right after it (a keyset cursor: reading on costs the
/// same however far into the range). Arrival numbers are the backend's own; a cursor is only
/// meaningful to the store that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeCursor {
    /// The sample time of the last snapshot of the page.
    pub timestamp: Timestamp,
    /// Its arrival number (ties of equal times go in arrival order).
    pub arrival: i64,
}

impl RangeCursor {
    /// The cursor as the text a client passes back (`<epoch ms>_<arrival>`): opaque to
    /// clients, meaningful only to the store that made it.
    pub fn token(&self) -> String {
        format!("{}_{}", self.timestamp.as_millis(), self.arrival)
    }
}

impl std::str::FromStr for RangeCursor {
    type Err = crate::error::Error;

    /// Parses a [`RangeCursor::token`]; anything else is [`Error::Invalid`] naming `cursor`.
    ///
    /// [`Error::Invalid`]: crate::error::Error::Invalid
    fn from_str(text: &str) -> Result<Self> {
        let invalid = || {
            crate::error::Error::invalid(
                "cursor",
                "must be a cursor given by a previous page (its `Link: rel=\"next\"`)",
            )
        };
        let (millis, arrival) = text.split_once('_').ok_or_else(invalid)?;
        let millis: i64 = millis.parse().map_err(|_| invalid())?;
        let arrival: i64 = arrival.parse().map_err(|_| invalid())?;
        let timestamp = Timestamp::from_millis(millis).map_err(|_| invalid())?;
        Ok(RangeCursor { timestamp, arrival })
    }
}

/// One page of a range read of telemetry.
#[derive(Debug, Clone, Default)]
pub struct TelemetryPage {
    /// The snapshots, oldest first (ties: first stored first).
    pub snapshots: Vec<TelemetrySnapshot>,
    /// Where the next page starts, when this page is full (there may be more); `None` when the
    /// range is exhausted.
    pub next: Option<RangeCursor>,
}

/// The pages of a long range read (see [`TelemetryRepository::telemetry_range_pages`]), with
/// whether the range holds more snapshots than the reader's cap.
pub struct RangePages {
    /// Whether the range holds more snapshots than the cap, found by looking no further into
    /// the range than the cap. Await it before reading the pages: a failure to find out comes
    /// here (and the pages then end in a failure of their own).
    pub more_than_cap: BoxFuture<'static, Result<bool>>,
    /// The pages, in order.
    pub pages: BoxStream<'static, Result<TelemetryPage>>,
}

impl std::fmt::Debug for RangePages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangePages").finish_non_exhaustive()
    }
}

/// Telemetry storage.
#[async_trait]
pub trait TelemetryRepository: Send + Sync + 'static {
    /// Stores a batch all-or-nothing, registering its [`registrations`] that do not exist yet
    /// first. A snapshot whose id is already stored with the same
    /// content counts as a duplicate and is not stored again; with different content the whole
    /// batch fails with [`Error::Conflict`](crate::Error::Conflict), whose reason names the
    /// batch index (`snapshots[3]`), and nothing is written. Every spacecraft must exist, else
    /// [`Error::NotFound`](crate::Error::NotFound) and nothing is written.
    ///
    /// [`registrations`]: TelemetryWrite::registrations
    async fn insert_telemetry(&self, write: TelemetryWrite) -> Result<IngestOutcome>;

    /// Stores `writes` in order, each exactly as [`insert_telemetry`] would store it after the
    /// ones before it, stopping at the first that fails: that write and the ones after it are
    /// not stored. A backend may commit several writes in one transaction (group commit), as
    /// long as each write's outcome, and what is stored, are those of storing them one by one
    /// (except that the events of one transaction may be numbered registrations first: each
    /// spacecraft's events keep their order). The writes may name any spacecraft, each write
    /// several.
    ///
    /// The default stores them one by one.
    ///
    /// [`insert_telemetry`]: TelemetryRepository::insert_telemetry
    async fn insert_telemetry_group(&self, writes: Vec<TelemetryWrite>) -> GroupOutcome {
        insert_one_by_one(self, writes).await
    }

    /// How many group commits ([`insert_telemetry_group`] calls) the application may have in
    /// flight at once, each holding the monitors of its own spacecraft (at least one). A store
    /// that runs one write at a time anyway (one write connection) gains nothing from a second
    /// and answers 1, the default: each group then gathers every write that arrived while the
    /// one before it was stored. A store that commits on several connections answers more, so
    /// that the next group's statements run while the one before waits for its commit to be
    /// flushed.
    ///
    /// [`insert_telemetry_group`]: TelemetryRepository::insert_telemetry_group
    fn group_commits_at_once(&self) -> usize {
        1
    }

    /// The newest `limit` snapshots of `spacecraft`, newest first (ties: last stored first).
    async fn recent_telemetry(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<TelemetrySnapshot>>;

    /// [`recent_telemetry`] of each of `spacecraft`, in their order: what the clock tick reads
    /// at once for the monitors it loads (after a restart, the whole fleet's). The default
    /// reads them one by one; a backend where each read is a round trip (PostgreSQL) reads
    /// them in one query.
    ///
    /// [`recent_telemetry`]: TelemetryRepository::recent_telemetry
    async fn recent_telemetry_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
        limit: Limit,
    ) -> Result<Vec<Vec<TelemetrySnapshot>>> {
        let mut recent = Vec::with_capacity(spacecraft.len());
        for id in spacecraft {
            recent.push(self.recent_telemetry(tenant, id, limit).await?);
        }
        Ok(recent)
    }

    /// The snapshots of `spacecraft` with `from <= timestamp <= to`, oldest first (ties: first
    /// stored first), at most `max`.
    async fn telemetry_range(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        max: usize,
    ) -> Result<Vec<TelemetrySnapshot>>;

    /// The newest sample time of `spacecraft`, or `None` when it has no telemetry.
    async fn last_telemetry_timestamp(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<Timestamp>>;

    /// [`last_telemetry_timestamp`] of each of `spacecraft`, in their order: what the fleet's
    /// status reads at once for its spacecraft. The default reads them one by one; a backend
    /// reads them in one query.
    ///
    /// [`last_telemetry_timestamp`]: TelemetryRepository::last_telemetry_timestamp
    async fn last_telemetry_timestamps_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<Timestamp>>> {
        let mut last = Vec::with_capacity(spacecraft.len());
        for id in spacecraft {
            last.push(self.last_telemetry_timestamp(tenant, id).await?);
        }
        Ok(last)
    }

    /// The newest value of every parameter `spacecraft` has sent, ordered by parameter name.
    /// A parameter's newest value is the one of its newest sample time (ties: last stored).
    async fn latest_values(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<LatestValue>>;

    /// The numeric samples of `parameter` with `from <= timestamp <= to`, downsampled into
    /// epoch-aligned buckets of `bucket` (min, max, avg, count, and the value of the newest
    /// sample, ties: last stored), oldest bucket first, empty buckets omitted. String and
    /// boolean samples are not counted. Computed by the backend, not by loading every sample
    /// into the caller.
    async fn telemetry_series(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        parameter: &ParameterName,
        from: Timestamp,
        to: Timestamp,
        bucket: BucketWidth,
    ) -> Result<Vec<SeriesBucket>>;

    /// One page of the snapshots of `spacecraft` with `from <= timestamp <= to`, in the order
    /// of [`telemetry_range`]: at most `limit`, starting after `after` (from the start of the
    /// range when `None`). Concatenating the pages gives what one `telemetry_range` call
    /// would, when nothing is stored in the range meanwhile.
    ///
    /// [`telemetry_range`]: TelemetryRepository::telemetry_range
    async fn telemetry_range_page(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        after: Option<RangeCursor>,
        limit: usize,
    ) -> Result<TelemetryPage>;

    /// The snapshots of `spacecraft` with `from <= timestamp <= to` as a series of pages of
    /// about `page` snapshots each (at least 1), in the order of [`telemetry_range`]: what a
    /// long analysis reads, with whether the range holds more than `cap` snapshots
    /// ([`RangePages::more_than_cap`]; `usize::MAX` for no cap). Concatenated, the pages give
    /// what one `telemetry_range` call would, when nothing is stored in the range meanwhile; a
    /// page may hold more than `page` snapshots when some were stored in it while the range
    /// was read.
    ///
    /// By default the pages are [`telemetry_range_page`] calls, one after another, each made
    /// when the stream is polled for it, and the cap is checked by
    /// [`count_telemetry_range`]. A backend may read pages ahead of the consumer, side by side
    /// on connections of their own (SQLite's and PostgreSQL's do, which is why this takes the
    /// store by `Arc`), and check the cap on the way, so that the range is walked once; the
    /// stream's memory stays bounded by a few pages all the same.
    ///
    /// [`telemetry_range`]: TelemetryRepository::telemetry_range
    /// [`telemetry_range_page`]: TelemetryRepository::telemetry_range_page
    /// [`count_telemetry_range`]: TelemetryRepository::count_telemetry_range
    fn telemetry_range_pages(
        self: Arc<Self>,
        tenant: TenantId,
        spacecraft: SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        page: usize,
        cap: usize,
    ) -> RangePages {
        let page = page.max(1);
        let more_than_cap = {
            let (store, tenant, spacecraft) =
                (Arc::clone(&self), tenant.clone(), spacecraft.clone());
            async move {
                let counted = store
                    .count_telemetry_range(&tenant, &spacecraft, from, to, cap.saturating_add(1))
                    .await?;
                Ok(counted > cap)
            }
            .boxed()
        };
        // `Some(after)` while there may be more: `after` is where the next page starts.
        let start: Option<Option<RangeCursor>> = Some(None);
        let pages = futures_util::stream::try_unfold(start, move |next| {
            let store = Arc::clone(&self);
            let (tenant, spacecraft) = (tenant.clone(), spacecraft.clone());
            async move {
                let Some(after) = next else {
                    return Ok(None);
                };
                let read = store
                    .telemetry_range_page(&tenant, &spacecraft, from, to, after, page)
                    .await?;
                let next = read.next.map(Some);
                Ok(Some((read, next)))
            }
        })
        .boxed();
        RangePages {
            more_than_cap,
            pages,
        }
    }

    /// How many snapshots of `spacecraft` have `from <= timestamp <= to`, counting no further
    /// than `at_most` (so that checking a window against a cap costs at most the cap).
    async fn count_telemetry_range(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        at_most: usize,
    ) -> Result<usize>;
}

/// How many anomalies a spacecraft had since a time, and the worst.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnomalyCount {
    /// How many.
    pub count: u64,
    /// The worst severity among them, `None` when there were none.
    pub highest: Option<Severity>,
}

/// Anomaly storage.
#[async_trait]
pub trait AnomalyRepository: Send + Sync {
    /// Persists anomalies, each with the event to record if (and only if) it is new. An anomaly
    /// whose (spacecraft, parameter, timestamp, kind) is already stored is skipped with its
    /// event. Returns how many were new. All-or-nothing.
    async fn persist_anomalies(
        &self,
        tenant: &TenantId,
        anomalies: Vec<(Anomaly, NewEvent)>,
    ) -> Result<usize>;

    /// The anomaly with `id`, or `None`.
    async fn get_anomaly(&self, tenant: &TenantId, id: &AnomalyId) -> Result<Option<Anomaly>>;

    /// The newest `limit` anomalies of `spacecraft` by sample time, newest first.
    async fn recent_anomalies(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<Anomaly>>;

    /// The anomalies of `spacecraft` with `from <= timestamp <= to`, oldest first.
    async fn anomaly_timeline(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Anomaly>>;

    /// How many anomalies of `spacecraft` have a sample time at or after `since`, and the worst.
    async fn count_anomalies_since(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        since: Timestamp,
    ) -> Result<AnomalyCount>;

    /// [`count_anomalies_since`] of each of `spacecraft` for each of `since`: for each
    /// spacecraft in their order, its counts in the order of `since`. What the fleet's status
    /// reads at once for its spacecraft and its windows. The default counts them one by one; a
    /// backend counts every window of many spacecraft in one query.
    ///
    /// [`count_anomalies_since`]: AnomalyRepository::count_anomalies_since
    async fn count_anomalies_since_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
        since: &[Timestamp],
    ) -> Result<Vec<Vec<AnomalyCount>>> {
        let mut counts = Vec::with_capacity(spacecraft.len());
        for id in spacecraft {
            let mut windows = Vec::with_capacity(since.len());
            for &since in since {
                windows.push(self.count_anomalies_since(tenant, id, since).await?);
            }
            counts.push(windows);
        }
        Ok(counts)
    }

    /// One page of [`anomaly_timeline`], in its order (ties of equal times: first stored
    /// first): at most `limit`, starting after `after` (from the start when `None`). The
    /// cursor's arrival is the store's own order of stored anomalies.
    ///
    /// [`anomaly_timeline`]: AnomalyRepository::anomaly_timeline
    async fn anomaly_timeline_page(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        after: Option<RangeCursor>,
        limit: usize,
    ) -> Result<AnomalyPage>;
}

/// One page of an anomaly timeline.
#[derive(Debug, Clone, Default)]
pub struct AnomalyPage {
    /// The anomalies, oldest first.
    pub anomalies: Vec<Anomaly>,
    /// Where the next page starts, when this page is full; `None` when the timeline is done.
    pub next: Option<RangeCursor>,
}

/// Alarm storage.
#[async_trait]
pub trait AlarmRepository: Send + Sync {
    /// Creates or replaces `alarm` (by id) with the events its change causes.
    async fn save_alarm(
        &self,
        tenant: &TenantId,
        alarm: Alarm,
        events: Vec<NewEvent>,
    ) -> Result<()>;

    /// The alarm with `id`, or `None`.
    async fn get_alarm(&self, tenant: &TenantId, id: &AlarmId) -> Result<Option<Alarm>>;

    /// The alarms passing `filter`, most recently opened first.
    async fn list_alarms(&self, tenant: &TenantId, filter: &AlarmFilter) -> Result<Vec<Alarm>>;

    /// At most `limit` of the alarms passing `filter` that come after `after` (from the first
    /// when `None`), most recently opened first, and where the next page starts when there are
    /// more. The default lists them all and keeps the page; a backend reads only the page.
    async fn list_alarms_page(
        &self,
        tenant: &TenantId,
        filter: &AlarmFilter,
        after: Option<&AlarmCursor>,
        limit: Limit,
    ) -> Result<AlarmPage> {
        let listed = self.list_alarms(tenant, filter).await?;
        let following = listed
            .into_iter()
            .filter(|alarm| after.is_none_or(|cursor| cursor.precedes(alarm)));
        Ok(AlarmPage::of(following, limit))
    }

    /// How many alarms pass `filter`. The default lists them; a backend counts them.
    async fn count_alarms(&self, tenant: &TenantId, filter: &AlarmFilter) -> Result<u64> {
        let listed = self.list_alarms(tenant, filter).await?;
        Ok(u64::try_from(listed.len()).unwrap_or(u64::MAX))
    }

    /// The open alarms (every state but `CLEARED`) of each of `spacecraft`, in their order,
    /// each list most recently opened first: what the clock tick reads at once for the
    /// monitors it loads. The default lists them one by one; a backend where each read is a
    /// round trip (PostgreSQL) reads them in one query.
    async fn open_alarms_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Vec<Alarm>>> {
        let mut open = Vec::with_capacity(spacecraft.len());
        for id in spacecraft {
            let filter = AlarmFilter {
                spacecraft_id: Some(id.clone()),
                states: AlarmStates::Open,
            };
            open.push(self.list_alarms(tenant, &filter).await?);
        }
        Ok(open)
    }

    /// What the open alarms (every state but `CLEARED`) of each spacecraft of `tenant` say,
    /// for each spacecraft that has any, in no particular order: what the fleet's status reads
    /// once for the whole fleet. The default lists the open alarms; a backend counts them
    /// without reading them.
    async fn open_alarm_summaries(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(SpacecraftId, OpenAlarmSummary)>> {
        let filter = AlarmFilter {
            spacecraft_id: None,
            states: AlarmStates::Open,
        };
        let mut summaries: HashMap<SpacecraftId, OpenAlarmSummary> = HashMap::new();
        for alarm in self.list_alarms(tenant, &filter).await? {
            let summary = summaries.entry(alarm.spacecraft_id.clone()).or_default();
            summary.add(&alarm);
        }
        Ok(summaries.into_iter().collect())
    }
}

/// One page of alarms ([`AlarmRepository::list_alarms_page`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmPage {
    /// The alarms, most recently opened first.
    pub alarms: Vec<Alarm>,
    /// Where the next page starts, when more alarms pass the filter; `None` at the end.
    pub next: Option<AlarmCursor>,
}

impl AlarmPage {
    /// The page of `limit` alarms at the head of `following` (in list order), with a cursor
    /// when `following` holds more: a backend reads `limit + 1` rows and passes them here.
    pub fn of(following: impl IntoIterator<Item = Alarm>, limit: Limit) -> Self {
        let wanted = limit.get();
        let mut alarms: Vec<Alarm> = following.into_iter().take(wanted + 1).collect();
        let next = if alarms.len() > wanted {
            alarms.truncate(wanted);
            alarms.last().map(AlarmCursor::after)
        } else {
            None
        };
        AlarmPage { alarms, next }
    }
}

/// What a spacecraft's open alarms say ([`AlarmRepository::open_alarm_summaries`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpenAlarmSummary {
    /// How many need attention: `ACTIVE` or `ACKNOWLEDGED`
    /// ([`AlarmState::needs_attention`](crate::AlarmState::needs_attention)).
    pub needing_attention: usize,
    /// Whether one of them (shelved ones included) is a `STALE` alarm whose parameter has not
    /// arrived since: a monitored parameter stopped arriving. (A stale alarm whose parameter
    /// came back stays open, `ACTIVE`, until acknowledged; it no longer counts here.)
    pub stale: bool,
}

impl OpenAlarmSummary {
    /// Counts `alarm`, an open one, in.
    pub fn add(&mut self, alarm: &Alarm) {
        if alarm.state.needs_attention() {
            self.needing_attention += 1;
        }
        self.stale |= alarm.kind == AnomalyKind::Stale && alarm.cleared_at.is_none();
    }
}

/// Document storage.
#[async_trait]
pub trait DocumentRepository: Send + Sync {
    /// Stores a new document (version 1) with its `DOCUMENT_PUBLISHED` event.
    /// [`Error::Conflict`](crate::Error::Conflict) when the id exists.
    async fn publish_document(
        &self,
        tenant: &TenantId,
        document: OpsDocument,
        event: NewEvent,
    ) -> Result<()>;

    /// Replaces a document with its next version and records its `DOCUMENT_UPDATED` event.
    /// [`Error::NotFound`](crate::Error::NotFound) when it does not exist;
    /// [`Error::Conflict`](crate::Error::Conflict) when `document.version` is not the stored
    /// version + 1.
    async fn update_document(
        &self,
        tenant: &TenantId,
        document: OpsDocument,
        event: NewEvent,
    ) -> Result<()>;

    /// The document with `id`, or `None`.
    async fn get_document(&self, tenant: &TenantId, id: &DocumentId)
    -> Result<Option<OpsDocument>>;

    /// Documents matching `query`, best match first: the compat rule (the query appears in the
    /// title or body ignoring case, or equals a tag) ranked by relevance, ties newest first.
    async fn search_documents(
        &self,
        tenant: &TenantId,
        query: &SearchQuery,
        limit: Limit,
    ) -> Result<Vec<OpsDocument>>;

    /// Documents passing `filter`, newest publication first.
    async fn list_documents(
        &self,
        tenant: &TenantId,
        filter: &DocumentFilter,
    ) -> Result<Vec<OpsDocument>>;
}

/// Event storage.
#[async_trait]
pub trait EventRepository: Send + Sync {
    /// Records an event that comes with no state change (`INFO`, `COMMAND_SENT`, …).
    async fn record_event(&self, tenant: &TenantId, event: NewEvent) -> Result<MissionEvent>;

    /// The newest `limit` events, of one spacecraft or all, newest first.
    async fn recent_events(
        &self,
        tenant: &TenantId,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>>;

    /// Events with a sequence above `after`, of one spacecraft or all, oldest first, at most
    /// `limit` (for resuming a stream).
    async fn events_after(
        &self,
        tenant: &TenantId,
        after: u64,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>>;

    /// The spacecraft of the tenant's `CONFIG_CHANGED` events with a sequence above `after`,
    /// oldest first, at most `limit` of them, and how far the read looked (the monitors' change
    /// feed). The other events are passed over, not returned: a tenant recording thousands of
    /// events a second costs the feed a scan in the store, not their transfer.
    ///
    /// The default reads one page of every event ([`Self::events_after`]) and keeps the
    /// changes; the stores answer with the changes alone.
    async fn config_changes_after(
        &self,
        tenant: &TenantId,
        after: u64,
        limit: Limit,
    ) -> Result<ConfigChanges> {
        let page = self.events_after(tenant, after, None, limit).await?;
        Ok(ConfigChanges {
            covered: page.last().map_or(after, |event| event.sequence),
            more: page.len() >= limit.get(),
            changed: page
                .into_iter()
                .filter(|event| event.event_type == EventType::ConfigChanged)
                .filter_map(|event| event.spacecraft_id)
                .collect(),
        })
    }

    /// The time of the newest `CONTACT_LOST` event of each of `spacecraft`, in their order,
    /// `None` for one that never lost contact: what the fleet's status reads at once for its
    /// spacecraft. The default reads each one's events; the stores read the contact losses
    /// alone.
    async fn last_contact_lost_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<Timestamp>>> {
        let page = Limit::clamped(1000, 1000);
        let mut lost = Vec::with_capacity(spacecraft.len());
        for id in spacecraft {
            let (mut after, mut newest) = (0, None);
            loop {
                let events = self.events_after(tenant, after, Some(id), page).await?;
                for event in &events {
                    if event.event_type == EventType::ContactLost {
                        newest = newest.max(Some(event.timestamp));
                    }
                }
                match events.last() {
                    Some(last) if events.len() >= page.get() => after = last.sequence,
                    _ => break,
                }
            }
            lost.push(newest);
        }
        Ok(lost)
    }
}

/// One read of a tenant's configuration changes ([`EventRepository::config_changes_after`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigChanges {
    /// The spacecraft of each `CONFIG_CHANGED` event read, oldest first (once per event).
    pub changed: Vec<SpacecraftId>,
    /// Every event of the tenant up to this sequence was looked at: the next read starts
    /// after it. At least the `after` asked with.
    pub covered: u64,
    /// The read stopped at its limit: more changes may follow `covered`.
    pub more: bool,
}

impl ConfigChanges {
    /// The answer of a store that read the changes after `after`, at most `limit`, and found
    /// `newest` the tenant's newest sequence before it read them: `rows` (sequence and
    /// spacecraft of each change, oldest first) may hold one more than `limit`, which tells
    /// that more follow.
    pub fn from_rows(
        rows: Vec<(u64, SpacecraftId)>,
        after: u64,
        newest: u64,
        limit: Limit,
    ) -> Self {
        let more = rows.len() > limit.get();
        let kept: Vec<(u64, SpacecraftId)> = rows.into_iter().take(limit.get()).collect();
        let covered = if more {
            kept.last().map_or(after, |(sequence, _)| *sequence)
        } else {
            newest.max(after)
        };
        ConfigChanges {
            changed: kept.into_iter().map(|(_, id)| id).collect(),
            covered,
            more,
        }
    }
}

/// API key storage (SPEC §9). Keys are never deleted: a revoked key stays listed with its
/// `revokedAt`, so the audit trail's key ids keep naming something.
#[async_trait]
pub trait KeyRepository: Send + Sync {
    /// Stores a new key. [`Error::Conflict`](crate::Error::Conflict) when its id exists;
    /// nothing is written then.
    async fn create_key(&self, key: ApiKey) -> Result<()>;

    /// The keys of `tenant`, oldest first (revoked and expired ones included).
    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>>;

    /// The key with `id`, whatever its tenant or state, or `None`.
    async fn get_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>>;

    /// Marks the key `id` of `tenant` revoked at `at` and returns it. A key already revoked
    /// keeps its first `revokedAt` (revoking twice is no failure).
    /// [`Error::NotFound`](crate::Error::NotFound) when no key of `tenant` has that id (a key
    /// of another tenant is not found either).
    async fn revoke_key(&self, tenant: &TenantId, id: &ApiKeyId, at: Timestamp) -> Result<ApiKey>;

    /// Sets `lastUsedAt` of each listed key to the time given when that is later than the
    /// stored one; ids of no key are skipped. One write for many keys: callers collect uses
    /// in memory and flush them now and then, never a write per request.
    async fn record_key_use(&self, uses: &[(ApiKeyId, Timestamp)]) -> Result<()>;

    /// Whether any key exists, in any tenant and state: authentication is on from the first
    /// key created, revoked ones included (revoking the last key must not reopen the server).
    async fn any_key_exists(&self) -> Result<bool>;
}

/// Whether the backend takes writes, for readiness checks: a store whose reads answer may
/// still refuse every write (a database switched to read-only, a file locked by another
/// process, a standby after a failover).
#[async_trait]
pub trait WriteProbe: Send + Sync {
    /// `Ok` when the backend accepts a write now. A durable backend starts a write
    /// transaction, takes its write lock and rolls back, changing nothing; it waits for the
    /// lock as a write would (behind the writes already queued). [`Error::Backend`] when the
    /// backend refuses. The default, for backends that cannot refuse a write, is `Ok`.
    ///
    /// [`Error::Backend`]: crate::Error::Backend
    async fn probe_writes(&self) -> Result<()> {
        Ok(())
    }
}

/// Everything the application services need from storage: the repositories, the outbox
/// their events are delivered from, and a write probe for readiness.
pub trait Store:
    SpacecraftRepository
    + ConfigRepository
    + TelemetryRepository
    + AnomalyRepository
    + AlarmRepository
    + DocumentRepository
    + EventRepository
    + KeyRepository
    + PacketDefinitionRepository
    + OutboxStore
    + WriteProbe
{
}

impl<T> Store for T where
    T: SpacecraftRepository
        + ConfigRepository
        + TelemetryRepository
        + AnomalyRepository
        + AlarmRepository
        + DocumentRepository
        + EventRepository
        + KeyRepository
        + PacketDefinitionRepository
        + OutboxStore
        + WriteProbe
{
}
