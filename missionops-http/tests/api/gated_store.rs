//! A store that holds chosen calls until the test lets them through: how a test makes "a
//! request is in flight" or "the stream is between two pages" a fact rather than a guess about
//! timing. Every method delegates to the real store; the telemetry writes wait at
//! [`GatedStore::writes`], `events_after` (the event stream's pages) at
//! [`GatedStore::event_pages`].

#![allow(dead_code)] // each test uses one gate

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use missionops_core::{
    Alarm, AlarmFilter, AlarmId, AlarmRepository, Anomaly, AnomalyCount, AnomalyId, AnomalyPage,
    AnomalyRepository, BucketWidth, Claim, ClaimId, ConfigRecord, ConfigRepository, DeadLetter,
    DocumentFilter, DocumentId, DocumentRepository, EventRepository, FailureOutcome, GroupOutcome,
    IngestOutcome, LatestValue, Limit, MissionEvent, NewEvent, OpsDocument, OutboxStats,
    OutboxStore, ParameterName, RangeCursor, Result, RetryPolicy, RetrySelection, SearchQuery,
    SeriesBucket, Spacecraft, SpacecraftId, SpacecraftPage, SpacecraftRepository, Store,
    TelemetryPage, TelemetryRepository, TelemetrySnapshot, TelemetryWrite, Timestamp, WriteProbe,
};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy)]
struct GateState {
    /// How many more calls may pass; `None`: every call passes.
    allowance: Option<usize>,
    /// Calls waiting at the gate now.
    waiting: usize,
    /// Calls that went through so far.
    passed: usize,
}

/// Where calls of one kind wait. Open when made; clones share the gate.
#[derive(Debug, Clone)]
pub struct Gate(Arc<watch::Sender<GateState>>);

impl Default for Gate {
    fn default() -> Self {
        Gate(Arc::new(watch::Sender::new(GateState {
            allowance: None,
            waiting: 0,
            passed: 0,
        })))
    }
}

/// Takes a waiting call off the count when it leaves, let through or cancelled.
struct Waiting<'a>(&'a Gate);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.0.send_modify(|s| s.waiting -= 1);
    }
}

impl Gate {
    /// Lets `count` more calls through, then holds every later one.
    pub fn hold_after(&self, count: usize) {
        self.0.send_modify(|s| s.allowance = Some(count));
    }

    /// Lets every call through, the waiting ones first.
    pub fn open(&self) {
        self.0.send_modify(|s| s.allowance = None);
    }

    /// How many calls went through so far.
    pub fn passed(&self) -> usize {
        self.0.borrow().passed
    }

    /// Waits until `count` calls are held at the gate (panics after 20 s).
    pub async fn until_waiting(&self, count: usize) {
        let mut state = self.0.subscribe();
        tokio::time::timeout(
            Duration::from_secs(20),
            state.wait_for(|s| s.waiting >= count),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{count} calls should be held at the gate; {} are",
                self.0.borrow().waiting
            )
        })
        .expect("the gate outlives its waiters");
    }

    /// Passes now if the gate lets this call through, else waits until it is opened.
    async fn pass(&self) {
        let mut admitted = false;
        self.0.send_modify(|s| match s.allowance {
            None => admitted = true,
            Some(0) => s.waiting += 1,
            Some(left) => {
                s.allowance = Some(left - 1);
                admitted = true;
            }
        });
        if !admitted {
            let _waiting = Waiting(self);
            let mut state = self.0.subscribe();
            let _ = state.wait_for(|s| s.allowance.is_none()).await;
        }
        self.0.send_modify(|s| s.passed += 1);
    }
}

/// The real store behind two gates.
pub struct GatedStore {
    inner: Arc<dyn Store>,
    /// Telemetry writes (`insert_telemetry`, `insert_telemetry_group`): one pass per call.
    pub writes: Gate,
    /// `events_after`: one pass per page an event stream reads.
    pub event_pages: Gate,
}

impl GatedStore {
    /// `inner` behind two open gates.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        GatedStore {
            inner,
            writes: Gate::default(),
            event_pages: Gate::default(),
        }
    }
}

#[async_trait]
impl SpacecraftRepository for GatedStore {
    async fn register_spacecraft(&self, spacecraft: Spacecraft, event: NewEvent) -> Result<()> {
        self.inner.register_spacecraft(spacecraft, event).await
    }

    async fn get_spacecraft(&self, id: &SpacecraftId) -> Result<Option<Spacecraft>> {
        self.inner.get_spacecraft(id).await
    }

    async fn list_spacecraft(&self, limit: Limit, offset: u64) -> Result<SpacecraftPage> {
        self.inner.list_spacecraft(limit, offset).await
    }
}

#[async_trait]
impl ConfigRepository for GatedStore {
    async fn current_config(&self, spacecraft: &SpacecraftId) -> Result<Option<ConfigRecord>> {
        self.inner.current_config(spacecraft).await
    }

    async fn current_config_version(&self, spacecraft: &SpacecraftId) -> Result<Option<u32>> {
        self.inner.current_config_version(spacecraft).await
    }

    async fn put_config(&self, record: ConfigRecord, event: NewEvent) -> Result<()> {
        self.inner.put_config(record, event).await
    }

    async fn config_history(&self, spacecraft: &SpacecraftId) -> Result<Vec<ConfigRecord>> {
        self.inner.config_history(spacecraft).await
    }
}

#[async_trait]
impl TelemetryRepository for GatedStore {
    async fn insert_telemetry(&self, write: TelemetryWrite) -> Result<IngestOutcome> {
        self.writes.pass().await;
        self.inner.insert_telemetry(write).await
    }

    async fn insert_telemetry_group(&self, writes: Vec<TelemetryWrite>) -> GroupOutcome {
        self.writes.pass().await;
        self.inner.insert_telemetry_group(writes).await
    }

    async fn recent_telemetry(
        &self,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<TelemetrySnapshot>> {
        self.inner.recent_telemetry(spacecraft, limit).await
    }

    async fn telemetry_range(
        &self,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        max: usize,
    ) -> Result<Vec<TelemetrySnapshot>> {
        self.inner.telemetry_range(spacecraft, from, to, max).await
    }

    async fn last_telemetry_timestamp(
        &self,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<Timestamp>> {
        self.inner.last_telemetry_timestamp(spacecraft).await
    }

    async fn latest_values(&self, spacecraft: &SpacecraftId) -> Result<Vec<LatestValue>> {
        self.inner.latest_values(spacecraft).await
    }

    async fn telemetry_series(
        &self,
        spacecraft: &SpacecraftId,
        parameter: &ParameterName,
        from: Timestamp,
        to: Timestamp,
        bucket: BucketWidth,
    ) -> Result<Vec<SeriesBucket>> {
        self.inner
            .telemetry_series(spacecraft, parameter, from, to, bucket)
            .await
    }

    async fn telemetry_range_page(
        &self,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        after: Option<RangeCursor>,
        limit: usize,
    ) -> Result<TelemetryPage> {
        self.inner
            .telemetry_range_page(spacecraft, from, to, after, limit)
            .await
    }

    async fn count_telemetry_range(
        &self,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        at_most: usize,
    ) -> Result<usize> {
        self.inner
            .count_telemetry_range(spacecraft, from, to, at_most)
            .await
    }
}

#[async_trait]
impl AnomalyRepository for GatedStore {
    async fn persist_anomalies(&self, anomalies: Vec<(Anomaly, NewEvent)>) -> Result<usize> {
        self.inner.persist_anomalies(anomalies).await
    }

    async fn get_anomaly(&self, id: &AnomalyId) -> Result<Option<Anomaly>> {
        self.inner.get_anomaly(id).await
    }

    async fn recent_anomalies(
        &self,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<Anomaly>> {
        self.inner.recent_anomalies(spacecraft, limit).await
    }

    async fn anomaly_timeline(
        &self,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Anomaly>> {
        self.inner.anomaly_timeline(spacecraft, from, to).await
    }

    async fn count_anomalies_since(
        &self,
        spacecraft: &SpacecraftId,
        since: Timestamp,
    ) -> Result<AnomalyCount> {
        self.inner.count_anomalies_since(spacecraft, since).await
    }

    async fn anomaly_timeline_page(
        &self,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        after: Option<RangeCursor>,
        limit: usize,
    ) -> Result<AnomalyPage> {
        self.inner
            .anomaly_timeline_page(spacecraft, from, to, after, limit)
            .await
    }
}

#[async_trait]
impl AlarmRepository for GatedStore {
    async fn save_alarm(&self, alarm: Alarm, events: Vec<NewEvent>) -> Result<()> {
        self.inner.save_alarm(alarm, events).await
    }

    async fn get_alarm(&self, id: &AlarmId) -> Result<Option<Alarm>> {
        self.inner.get_alarm(id).await
    }

    async fn list_alarms(&self, filter: &AlarmFilter) -> Result<Vec<Alarm>> {
        self.inner.list_alarms(filter).await
    }
}

#[async_trait]
impl DocumentRepository for GatedStore {
    async fn publish_document(&self, document: OpsDocument, event: NewEvent) -> Result<()> {
        self.inner.publish_document(document, event).await
    }

    async fn update_document(&self, document: OpsDocument, event: NewEvent) -> Result<()> {
        self.inner.update_document(document, event).await
    }

    async fn get_document(&self, id: &DocumentId) -> Result<Option<OpsDocument>> {
        self.inner.get_document(id).await
    }

    async fn search_documents(
        &self,
        query: &SearchQuery,
        limit: Limit,
    ) -> Result<Vec<OpsDocument>> {
        self.inner.search_documents(query, limit).await
    }

    async fn list_documents(&self, filter: &DocumentFilter) -> Result<Vec<OpsDocument>> {
        self.inner.list_documents(filter).await
    }
}

#[async_trait]
impl EventRepository for GatedStore {
    async fn record_event(&self, event: NewEvent) -> Result<MissionEvent> {
        self.inner.record_event(event).await
    }

    async fn recent_events(
        &self,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        self.inner.recent_events(spacecraft, limit).await
    }

    async fn events_after(
        &self,
        after: u64,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        self.event_pages.pass().await;
        self.inner.events_after(after, spacecraft, limit).await
    }
}

#[async_trait]
impl OutboxStore for GatedStore {
    async fn claim(&self, limit: usize, lease: Duration) -> Result<Claim> {
        self.inner.claim(limit, lease).await
    }

    async fn mark_delivered(&self, sequences: &[u64]) -> Result<()> {
        self.inner.mark_delivered(sequences).await
    }

    async fn mark_failed(
        &self,
        claim: &ClaimId,
        sequence: u64,
        error: &str,
        policy: &RetryPolicy,
    ) -> Result<FailureOutcome> {
        self.inner.mark_failed(claim, sequence, error, policy).await
    }

    async fn release(&self, claim: &ClaimId, sequences: &[u64]) -> Result<()> {
        self.inner.release(claim, sequences).await
    }

    async fn stats(&self) -> Result<OutboxStats> {
        self.inner.stats().await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        self.inner.dead_letters(limit).await
    }

    async fn retry_dead(&self, which: &RetrySelection) -> Result<Vec<u64>> {
        self.inner.retry_dead(which).await
    }
}

#[async_trait]
impl WriteProbe for GatedStore {
    async fn probe_writes(&self) -> Result<()> {
        self.inner.probe_writes().await
    }
}
