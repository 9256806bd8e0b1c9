//! A store that records the telemetry writes it is given, for tests of the services above a
//! store: which writes were handed over together as one group (one transaction on a backend
//! that commits groups together), and which alone.

use std::sync::{Arc, Mutex};
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

/// One call that stored telemetry, as the store was given it.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// `insert_telemetry` with one write.
    Single(TelemetryWrite),
    /// `insert_telemetry_group` with these writes, in order.
    Group(Vec<TelemetryWrite>),
}

impl Recorded {
    /// The writes of the call, in order.
    pub fn writes(&self) -> &[TelemetryWrite] {
        match self {
            Recorded::Single(write) => std::slice::from_ref(write),
            Recorded::Group(writes) => writes,
        }
    }
}

/// Forwards every call to the store inside, and records the telemetry writes.
pub struct RecordingStore {
    inner: Arc<dyn Store>,
    calls: Mutex<Vec<Recorded>>,
}

impl std::fmt::Debug for RecordingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingStore").finish_non_exhaustive()
    }
}

impl RecordingStore {
    /// Records the writes given to `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        RecordingStore {
            inner,
            calls: Mutex::new(Vec::new()),
        }
    }

    /// The telemetry calls so far, oldest first.
    pub fn calls(&self) -> Vec<Recorded> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn record(&self, call: Recorded) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
    }
}

#[async_trait]
impl SpacecraftRepository for RecordingStore {
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
impl ConfigRepository for RecordingStore {
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
impl TelemetryRepository for RecordingStore {
    async fn insert_telemetry(&self, write: TelemetryWrite) -> Result<IngestOutcome> {
        self.record(Recorded::Single(write.clone()));
        self.inner.insert_telemetry(write).await
    }

    async fn insert_telemetry_group(&self, writes: Vec<TelemetryWrite>) -> GroupOutcome {
        self.record(Recorded::Group(writes.clone()));
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
impl AnomalyRepository for RecordingStore {
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
impl AlarmRepository for RecordingStore {
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
impl DocumentRepository for RecordingStore {
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
impl EventRepository for RecordingStore {
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
        self.inner.events_after(after, spacecraft, limit).await
    }
}

#[async_trait]
impl OutboxStore for RecordingStore {
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
impl WriteProbe for RecordingStore {
    async fn probe_writes(&self) -> Result<()> {
        self.inner.probe_writes().await
    }
}
