//! Application services: the use cases every frontend calls.

mod alarms;
mod diff;
mod monitoring;
mod outbox;
mod seed;
mod views;
mod windows;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::domain::{
    Alarm, AlarmFilter, Anomaly, AnomalyId, ConfigRecord, ConfigSource, ConfigStatus,
    DocumentCategory, DocumentFilter, DocumentId, EventType, JsonObject, Limit, MissionEvent,
    MissionType, NewDocument, NewEvent, NewSnapshot, NewSpacecraft, OpsDocument, SearchQuery,
    Severity, SnapshotId, Spacecraft, SpacecraftConfig, SpacecraftId, SpacecraftName,
    TelemetrySnapshot, Timestamp,
};
use crate::error::{Error, Result};
use crate::ports::{Clock, IdGenerator, IngestOutcome, Store};
use crate::rules::{AnalysisContext, CompiledRules, analyse};

pub use alarms::{IngestMode, MAX_COMMENT_CHARS, REBUILD_HISTORY, TickReport};
pub use monitoring::{FleetEntry, LatestView, MAX_SERIES_BUCKETS, ParameterState};
pub use outbox::RetryReport;
pub use seed::{ProfileSeedReport, SeedOptions, SeedProgress, SeedReport, SeededDocument};
pub use views::{
    AnomalyCounts, BatchReceipt, ConfigView, DetectReport, IngestReceipt, OverallStatus,
    SpacecraftListItem, SpacecraftListing, SpacecraftStatus,
};

/// The most snapshots one batch may hold.
pub const MAX_BATCH_SNAPSHOTS: usize = 100_000;
/// The most snapshots one analysed or detected time window may hold.
pub const MAX_WINDOW_SNAPSHOTS: usize = 1_000_000;
/// How many times a configuration change is retried when another change wins the race.
const CONFIG_WRITE_ATTEMPTS: usize = 5;

const HOUR_MS: i64 = 3_600_000;

/// Which snapshots to analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalysisWindow {
    /// The newest `limit` snapshots, analysed newest first (the compat default).
    Recent(Limit),
    /// Every snapshot with `from <= timestamp <= to`, analysed oldest first.
    Range {
        /// The start, inclusive.
        from: Timestamp,
        /// The end, inclusive.
        to: Timestamp,
    },
}

impl AnalysisWindow {
    /// A time window, rejecting `from` after `to` (naming `from`).
    pub fn range(from: Timestamp, to: Timestamp) -> Result<Self> {
        if from > to {
            return Err(Error::invalid(
                "from",
                format!("must not be after to ({to})"),
            ));
        }
        Ok(AnalysisWindow::Range { from, to })
    }
}

/// The rules compiled for one configuration version of a spacecraft.
#[derive(Debug)]
struct CachedRules {
    version: u32,
    rules: Arc<CompiledRules>,
    /// When `version` was last compared with the store.
    checked_at: Timestamp,
}

/// The MissionOps application: every use case, over a store, a clock and an id generator.
///
/// A cheap, clonable handle; clones share the store and the caches.
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
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    /// Compiled rules per spacecraft, recompiled when the configuration version changes.
    rules: Arc<Mutex<HashMap<SpacecraftId, CachedRules>>>,
    /// Spacecraft known to exist, so that ingest skips the existence lookup. Spacecraft are
    /// never deleted, so an entry never goes stale. A std mutex: held for a lookup only, never
    /// across an await.
    known: Arc<Mutex<HashSet<SpacecraftId>>>,
    /// The streaming monitor of each spacecraft seen since start (see [`alarms`]).
    monitors: Arc<Mutex<HashMap<SpacecraftId, alarms::SlotHandle>>>,
    /// Whether every registered spacecraft has a monitor slot (done once, on the first tick).
    fleet_loaded: Arc<AtomicBool>,
    /// The newest snapshots of each spacecraft as last read (see [`windows`]).
    windows: Arc<windows::Windows>,
}

impl std::fmt::Debug for MissionOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MissionOps").finish_non_exhaustive()
    }
}

impl MissionOps {
    /// The application over `store`, reading time from `clock` and ids from `ids`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        MissionOps {
            store,
            clock,
            ids,
            rules: Arc::default(),
            known: Arc::default(),
            monitors: Arc::default(),
            fleet_loaded: Arc::default(),
            windows: Arc::default(),
        }
    }

    /// The store, for frontends that need a query no use case covers yet.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Now, by the application's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn new_event(
        &self,
        spacecraft: Option<&SpacecraftId>,
        event_type: EventType,
        severity: Severity,
        message: String,
        metadata: Value,
    ) -> NewEvent {
        NewEvent {
            id: self.ids.new_id().into(),
            spacecraft_id: spacecraft.cloned(),
            timestamp: self.clock.now(),
            event_type,
            severity,
            message,
            metadata: NewEvent::metadata_of(metadata),
        }
    }

    fn is_known(&self, id: &SpacecraftId) -> bool {
        self.known.lock().map(|k| k.contains(id)).unwrap_or(false)
    }

    fn remember(&self, id: &SpacecraftId) {
        if let Ok(mut known) = self.known.lock() {
            known.insert(id.clone());
        }
    }

    // ---- spacecraft -------------------------------------------------------------------------

    /// Registers a spacecraft (`SPACECRAFT_REGISTERED` event); the id is generated when absent.
    /// [`Error::Conflict`] when the id exists.
    pub async fn register_spacecraft(&self, new: NewSpacecraft) -> Result<Spacecraft> {
        if let Some(metadata) = &new.metadata {
            for (key, value) in metadata {
                crate::domain::reject_nul(&format!("metadata.{key}"), value)?;
            }
        }
        let now = self.clock.now();
        let spacecraft = Spacecraft {
            id: new.id.unwrap_or_else(|| self.ids.new_id().into()),
            name: new.name,
            mission_type: new.mission_type.unwrap_or_else(MissionType::unspecified),
            metadata: new.metadata.unwrap_or_default(),
            created_at: now,
            updated_at: now,
        };
        self.store_registration(&spacecraft, false).await?;
        Ok(spacecraft)
    }

    async fn store_registration(&self, spacecraft: &Spacecraft, implicit: bool) -> Result<()> {
        let event = self.new_event(
            Some(&spacecraft.id),
            EventType::SpacecraftRegistered,
            Severity::Low,
            format!(
                "Spacecraft {} ({}) registered",
                spacecraft.id, spacecraft.name
            ),
            json!({
                "name": spacecraft.name,
                "missionType": spacecraft.mission_type,
                "implicit": implicit,
            }),
        );
        self.store
            .register_spacecraft(spacecraft.clone(), event)
            .await?;
        self.remember(&spacecraft.id);
        Ok(())
    }

    /// Makes sure `id` exists, registering it under its own name when telemetry or a
    /// configuration arrives for a spacecraft nobody registered (as the TypeScript service
    /// accepted them).
    async fn ensure_spacecraft(&self, id: &SpacecraftId) -> Result<()> {
        if self.is_known(id) {
            return Ok(());
        }
        if self.store.get_spacecraft(id).await?.is_some() {
            self.remember(id);
            return Ok(());
        }
        let now = self.clock.now();
        let spacecraft = Spacecraft {
            id: id.clone(),
            name: SpacecraftName::from_id(id),
            mission_type: MissionType::unspecified(),
            metadata: Map::new(),
            created_at: now,
            updated_at: now,
        };
        match self.store_registration(&spacecraft, true).await {
            // Another request registered it first: it exists, which is all we need.
            Ok(()) | Err(Error::Conflict { .. }) => {
                self.remember(id);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The spacecraft with `id`; [`Error::NotFound`] when unknown.
    pub async fn get_spacecraft(&self, id: &SpacecraftId) -> Result<Spacecraft> {
        self.store
            .get_spacecraft(id)
            .await?
            .ok_or_else(|| Error::not_found("spacecraft", id))
    }

    /// A page of spacecraft with their current configurations (`GET /spacecraft`).
    pub async fn list_spacecraft(&self, limit: Limit, offset: u64) -> Result<SpacecraftListing> {
        let page = self.store.list_spacecraft(limit, offset).await?;
        let mut items = Vec::with_capacity(page.items.len());
        for spacecraft in page.items {
            let config = self.store.current_config(&spacecraft.id).await?;
            items.push(SpacecraftListItem::new(spacecraft, config));
        }
        Ok(SpacecraftListing {
            total: page.total,
            count: items.len(),
            limit: limit.get(),
            offset,
            items,
        })
    }

    // ---- configuration ----------------------------------------------------------------------

    /// The current configuration of `id`; [`Error::NotFound`] when it has none.
    pub async fn get_config(&self, id: &SpacecraftId) -> Result<ConfigRecord> {
        self.store
            .current_config(id)
            .await?
            .ok_or_else(|| Error::not_found("configuration of spacecraft", id))
    }

    /// Stores `config` as the next version of `id`'s configuration, with a `CONFIG_CHANGED` event
    /// carrying the diff from the previous version. Registers the spacecraft when unknown.
    pub async fn set_config(
        &self,
        id: &SpacecraftId,
        config: SpacecraftConfig,
        status: ConfigStatus,
        source: Option<ConfigSource>,
    ) -> Result<ConfigRecord> {
        self.ensure_spacecraft(id).await?;
        let mut last_conflict = None;
        for _ in 0..CONFIG_WRITE_ATTEMPTS {
            let previous = self.store.current_config(id).await?;
            let empty = Map::new();
            let before = previous.as_ref().map_or(&empty, |p| p.config.as_object());
            let diff = diff::config_diff(before, config.as_object());
            let version = previous.as_ref().map_or(1, |p| p.version + 1);
            let record = ConfigRecord {
                spacecraft_id: id.clone(),
                version,
                config: config.clone(),
                status,
                source,
                created_at: self.clock.now(),
            };
            let event = self.new_event(
                Some(id),
                EventType::ConfigChanged,
                Severity::Low,
                format!("Configuration of {id} changed to version {version}"),
                json!({
                    "version": version,
                    "previousVersion": previous.as_ref().map(|p| p.version),
                    "status": status,
                    "source": source,
                    "diff": diff,
                }),
            );
            match self.store.put_config(record.clone(), event).await {
                Ok(()) => {
                    self.forget_rules(id).await;
                    return Ok(record);
                }
                Err(conflict @ Error::Conflict { .. }) => last_conflict = Some(conflict),
                Err(e) => return Err(e),
            }
        }
        Err(last_conflict.unwrap_or_else(|| {
            Error::conflict("configuration of spacecraft", id, "changed concurrently")
        }))
    }

    /// Every version of `id`'s configuration, oldest first.
    pub async fn config_history(&self, id: &SpacecraftId) -> Result<Vec<ConfigRecord>> {
        self.get_spacecraft(id).await?;
        self.store.config_history(id).await
    }

    /// The compiled rules of `id`'s current configuration (empty without one), compiled once
    /// per version.
    pub async fn rules_for(&self, id: &SpacecraftId) -> Result<Arc<CompiledRules>> {
        // The version alone tells whether the cached rules are current: `analyze` asks on
        // every request, and reading and validating the whole document each time cost more
        // than the rest of a small analysis.
        let now = self.clock.now();
        if let Some(rules) = self.recently_checked_rules(id, now) {
            return Ok(rules);
        }
        let Some(version) = self.store.current_config_version(id).await? else {
            return Ok(Arc::new(CompiledRules::empty()));
        };
        if let Some(rules) = self.cached_rules(id, version) {
            if let Ok(mut cache) = self.rules.lock() {
                if let Some(cached) = cache.get_mut(id) {
                    cached.checked_at = now;
                }
            }
            return Ok(rules);
        }
        match self.store.current_config(id).await? {
            Some(record) => self.compiled_rules(id, &record),
            None => Ok(Arc::new(CompiledRules::empty())),
        }
    }

    /// The cached rules of `id` when their version was compared with the store less than
    /// [`windows::RECHECK_MS`] ago (a configuration change made here drops them at once).
    fn recently_checked_rules(
        &self,
        id: &SpacecraftId,
        now: Timestamp,
    ) -> Option<Arc<CompiledRules>> {
        let cache = self.rules.lock().ok()?;
        cache
            .get(id)
            .filter(|cached| now.as_millis() - cached.checked_at.as_millis() < windows::RECHECK_MS)
            .map(|cached| Arc::clone(&cached.rules))
    }

    /// The cached rules of `id`, when they are those of `version`.
    fn cached_rules(&self, id: &SpacecraftId, version: u32) -> Option<Arc<CompiledRules>> {
        let cache = self.rules.lock().ok()?;
        cache
            .get(id)
            .filter(|cached| cached.version == version)
            .map(|cached| Arc::clone(&cached.rules))
    }

    /// The compiled rules of `record`, from the cache when that version was compiled before.
    fn compiled_rules(
        &self,
        id: &SpacecraftId,
        record: &ConfigRecord,
    ) -> Result<Arc<CompiledRules>> {
        if let Some(rules) = self.cached_rules(id, record.version) {
            return Ok(rules);
        }
        let rules = Arc::new(CompiledRules::compile(record.config.as_object())?);
        if let Ok(mut cache) = self.rules.lock() {
            cache.insert(
                id.clone(),
                CachedRules {
                    version: record.version,
                    rules: Arc::clone(&rules),
                    checked_at: self.clock.now(),
                },
            );
        }
        Ok(rules)
    }

    // ---- telemetry --------------------------------------------------------------------------

    /// Ingests one snapshot; idempotent by id (see [`MissionOps::ingest_batch`]).
    pub async fn ingest(&self, snapshot: NewSnapshot) -> Result<IngestReceipt> {
        let receipt = self.ingest_batch(vec![snapshot]).await?;
        let id =
            receipt.ids.into_iter().next().ok_or_else(|| {
                Error::backend("ingest of one snapshot returned no id".to_owned())
            })?;
        Ok(IngestReceipt {
            id,
            duplicate: receipt.outcome.duplicates > 0,
        })
    }

    /// Ingests a batch of live telemetry all-or-nothing (see [`MissionOps::ingest_batch_as`]).
    pub async fn ingest_batch(&self, snapshots: Vec<NewSnapshot>) -> Result<BatchIngest> {
        self.ingest_batch_as(snapshots, IngestMode::Live).await
    }

    /// Ingests a batch all-or-nothing, generating missing ids and registering unknown
    /// spacecraft. A snapshot whose id is already stored with the same content is accepted and
    /// stored once; with different content the batch fails with [`Error::Conflict`] naming its
    /// index. At most [`MAX_BATCH_SNAPSHOTS`]; an empty batch is accepted.
    ///
    /// Live telemetry goes through the streaming monitor, whose anomalies, alarm changes and
    /// events commit with it; stored telemetry is only checked (see [`IngestMode`]).
    pub async fn ingest_batch_as(
        &self,
        snapshots: Vec<NewSnapshot>,
        mode: IngestMode,
    ) -> Result<BatchIngest> {
        if snapshots.len() > MAX_BATCH_SNAPSHOTS {
            return Err(Error::invalid(
                "snapshots",
                format!(
                    "must hold at most {MAX_BATCH_SNAPSHOTS} snapshots (got {})",
                    snapshots.len()
                ),
            ));
        }
        let count = snapshots.len();
        let mut ids = Vec::with_capacity(count);
        let mut unique: Vec<TelemetrySnapshot> = Vec::with_capacity(count);
        let mut first_index: HashMap<SnapshotId, usize> = HashMap::new();
        let mut in_batch_duplicates = 0;
        let mut spacecraft: Vec<SpacecraftId> = Vec::new();
        for (index, new) in snapshots.into_iter().enumerate() {
            let snapshot = TelemetrySnapshot {
                id: new.id.unwrap_or_else(|| self.ids.new_id().into()),
                spacecraft_id: new.spacecraft_id,
                timestamp: new.timestamp,
                parameters: new.parameters,
            };
            ids.push(snapshot.id.clone());
            if let Some(&earlier) = first_index.get(&snapshot.id) {
                if unique[earlier] != snapshot {
                    return Err(Error::conflict(
                        "snapshot",
                        &snapshot.id,
                        format!(
                            "snapshots[{index}] repeats the id of snapshots[{earlier}] with different content"
                        ),
                    ));
                }
                in_batch_duplicates += 1;
                continue;
            }
            if !spacecraft.contains(&snapshot.spacecraft_id) {
                spacecraft.push(snapshot.spacecraft_id.clone());
            }
            first_index.insert(snapshot.id.clone(), unique.len());
            unique.push(snapshot);
        }
        for id in &spacecraft {
            self.ensure_spacecraft(id).await?;
        }
        let stored = match mode {
            IngestMode::Live => self.store_live(unique, &spacecraft).await,
            IngestMode::Stored => self.store_played_back(unique, &spacecraft).await,
        };
        // Whatever the outcome (a write cut short may or may not have committed), cached
        // windows of these spacecraft are stale now.
        self.windows.invalidate(&spacecraft);
        let mut outcome = stored.map_err(|e| match e {
            // Name the snapshot by its index in the batch as the client sent it.
            Error::Conflict { entity, id, .. } if entity == "snapshot" => {
                let index = ids.iter().position(|s| s.as_str() == id).unwrap_or(0);
                Error::conflict(
                    entity,
                    &id,
                    format!(
                        "snapshots[{index}] has the id of a stored snapshot with different content"
                    ),
                )
            }
            other => other,
        })?;
        outcome.duplicates += in_batch_duplicates;
        Ok(BatchIngest {
            count,
            ids,
            outcome,
        })
    }

    async fn window_snapshots(
        &self,
        id: &SpacecraftId,
        window: AnalysisWindow,
    ) -> Result<windows::WindowSnapshots> {
        match window {
            AnalysisWindow::Recent(limit) => self.recent_window(id, limit).await,
            AnalysisWindow::Range { from, to } => {
                let snapshots = self
                    .store
                    .telemetry_range(id, from, to, MAX_WINDOW_SNAPSHOTS + 1)
                    .await?;
                if snapshots.len() > MAX_WINDOW_SNAPSHOTS {
                    return Err(Error::invalid(
                        "to",
                        format!(
                            "the window holds more than {MAX_WINDOW_SNAPSHOTS} snapshots; narrow it"
                        ),
                    ));
                }
                Ok(windows::WindowSnapshots::owned(snapshots))
            }
        }
    }

    /// Batch analyse (SPEC §3) of a window of `id`'s telemetry against its current rules: the
    /// newest snapshots newest first, or a time window oldest first. Nothing is stored.
    pub async fn analyse(&self, id: &SpacecraftId, window: AnalysisWindow) -> Result<Vec<Anomaly>> {
        let rules = self.rules_for(id).await?;
        if rules.is_empty() {
            return Ok(Vec::new());
        }
        let snapshots = self.window_snapshots(id, window).await?;
        let (window_start, window_end) = match window {
            AnalysisWindow::Range { from, to } => (Some(from), Some(to)),
            AnalysisWindow::Recent(_) => (
                snapshots.iter().map(|s| s.timestamp).min(),
                snapshots.iter().map(|s| s.timestamp).max(),
            ),
        };
        let context = AnalysisContext {
            detected_at: self.clock.now(),
            window_start,
            window_end,
        };
        Ok(analyse(&rules, &snapshots, context))
    }

    /// Analyses `from..=to` and persists what it finds, each new anomaly with an `ANOMALY`
    /// event; anomalies already stored are not stored or announced again.
    pub async fn detect(
        &self,
        id: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<DetectReport> {
        self.get_spacecraft(id).await?;
        let anomalies = self.analyse(id, AnalysisWindow::range(from, to)?).await?;
        let detected = anomalies.len();
        let with_events = anomalies
            .into_iter()
            .map(|anomaly| {
                let event = self.new_event(
                    Some(&anomaly.spacecraft_id),
                    EventType::Anomaly,
                    anomaly.severity,
                    anomaly.description.clone(),
                    json!({
                        "anomalyId": anomaly.id,
                        "parameter": anomaly.parameter,
                        "kind": anomaly.kind,
                        "value": anomaly.value,
                        "limit": anomaly.limit,
                        "sampleTimestamp": anomaly.timestamp,
                    }),
                );
                (anomaly, event)
            })
            .collect();
        let persisted = self.store.persist_anomalies(with_events).await?;
        Ok(DetectReport {
            detected,
            persisted,
        })
    }

    /// Persisted anomalies of `id`, newest first.
    pub async fn list_anomalies(&self, id: &SpacecraftId, limit: Limit) -> Result<Vec<Anomaly>> {
        self.store.recent_anomalies(id, limit).await
    }

    /// Persisted anomalies of `id` in `from..=to`, oldest first.
    pub async fn anomaly_timeline(
        &self,
        id: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Anomaly>> {
        AnalysisWindow::range(from, to)?;
        self.store.anomaly_timeline(id, from, to).await
    }

    /// The persisted anomaly with `id`; [`Error::NotFound`] when unknown.
    pub async fn get_anomaly(&self, id: &AnomalyId) -> Result<Anomaly> {
        self.store
            .get_anomaly(id)
            .await?
            .ok_or_else(|| Error::not_found("anomaly", id))
    }

    /// The compat status of `id` (SPEC §5); [`Error::NotFound`] for an unknown spacecraft.
    pub async fn status(&self, id: &SpacecraftId) -> Result<SpacecraftStatus> {
        self.get_spacecraft(id).await?;
        let now = self.clock.now();
        let last = self.store.last_telemetry_timestamp(id).await?;
        let h1 = self
            .store
            .count_anomalies_since(id, now.add_millis(-HOUR_MS))
            .await?;
        let h6 = self
            .store
            .count_anomalies_since(id, now.add_millis(-6 * HOUR_MS))
            .await?;
        let h24 = self
            .store
            .count_anomalies_since(id, now.add_millis(-24 * HOUR_MS))
            .await?;
        let highest = h24.highest.unwrap_or(Severity::Low);
        let active_alarms = self.active_alarm_count(id).await?;
        Ok(SpacecraftStatus {
            spacecraft_id: id.clone(),
            last_telemetry_timestamp: last,
            anomalies: AnomalyCounts {
                last1h: h1.count,
                last6h: h6.count,
                last24h: h24.count,
            },
            highest_severity_last24h: highest,
            overall_status: OverallStatus::from_highest(highest),
            active_alarms,
        })
    }

    // ---- documents --------------------------------------------------------------------------

    /// Publishes a document (version 1, `DOCUMENT_PUBLISHED` event).
    pub async fn publish_document(&self, new: NewDocument) -> Result<OpsDocument> {
        let now = self.clock.now();
        let document = OpsDocument {
            id: self.ids.new_id().into(),
            spacecraft_id: new.spacecraft_id,
            title: new.title,
            category: new.category.unwrap_or_else(DocumentCategory::general),
            tags: new.tags.unwrap_or_default(),
            body: new.body,
            published_at: now,
            updated_at: now,
            version: 1,
        };
        let event = self.document_event(&document, EventType::DocumentPublished, "published");
        self.store.publish_document(document.clone(), event).await?;
        Ok(document)
    }

    /// Replaces a document's content with its next version (`DOCUMENT_UPDATED` event).
    pub async fn update_document(&self, id: &DocumentId, new: NewDocument) -> Result<OpsDocument> {
        let current = self.get_document(id).await?;
        let document = OpsDocument {
            id: current.id,
            spacecraft_id: new.spacecraft_id,
            title: new.title,
            category: new.category.unwrap_or_else(DocumentCategory::general),
            tags: new.tags.unwrap_or_default(),
            body: new.body,
            published_at: current.published_at,
            updated_at: self.clock.now(),
            version: current.version + 1,
        };
        let event = self.document_event(&document, EventType::DocumentUpdated, "updated");
        self.store.update_document(document.clone(), event).await?;
        Ok(document)
    }

    fn document_event(&self, document: &OpsDocument, kind: EventType, verb: &str) -> NewEvent {
        self.new_event(
            document.spacecraft_id.as_ref(),
            kind,
            Severity::Low,
            format!("Document \"{}\" {verb}", document.title),
            json!({
                "documentId": document.id,
                "version": document.version,
                "category": document.category,
                "tags": document.tags,
            }),
        )
    }

    /// The document with `id`; [`Error::NotFound`] when unknown.
    pub async fn get_document(&self, id: &DocumentId) -> Result<OpsDocument> {
        self.store
            .get_document(id)
            .await?
            .ok_or_else(|| Error::not_found("document", id))
    }

    /// Documents matching `query`, best match first.
    pub async fn search_documents(
        &self,
        query: &SearchQuery,
        limit: Limit,
    ) -> Result<Vec<OpsDocument>> {
        self.store.search_documents(query, limit).await
    }

    /// Documents passing `filter`, newest first.
    pub async fn list_documents(&self, filter: &DocumentFilter) -> Result<Vec<OpsDocument>> {
        self.store.list_documents(filter).await
    }

    // ---- events and alarms ------------------------------------------------------------------

    /// The newest events, of one spacecraft or all, newest first.
    pub async fn list_events(
        &self,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        self.store.recent_events(spacecraft, limit).await
    }

    /// Events after `sequence`, oldest first (for resuming a stream).
    pub async fn events_after(
        &self,
        sequence: u64,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        self.store.events_after(sequence, spacecraft, limit).await
    }

    /// Records an informational event that comes with no state change.
    pub async fn record_event(
        &self,
        spacecraft: Option<&SpacecraftId>,
        event_type: EventType,
        severity: Severity,
        message: String,
        metadata: JsonObject,
    ) -> Result<MissionEvent> {
        let event = self.new_event(
            spacecraft,
            event_type,
            severity,
            message,
            Value::Object(metadata),
        );
        self.store.record_event(event).await
    }

    /// Alarms passing `filter`, most recently opened first.
    pub async fn list_alarms(&self, filter: &AlarmFilter) -> Result<Vec<Alarm>> {
        self.store.list_alarms(filter).await
    }
}

/// What a batch ingest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchIngest {
    /// How many snapshots the batch held.
    pub count: usize,
    /// The id of every snapshot, in batch order (as given or generated).
    pub ids: Vec<SnapshotId>,
    /// What the store did.
    pub outcome: IngestOutcome,
}

impl BatchIngest {
    /// The compat receipt `{count}`.
    pub fn receipt(&self) -> BatchReceipt {
        BatchReceipt {
            count: self.count,
            outcome: self.outcome,
        }
    }
}
