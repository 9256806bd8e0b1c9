//! A store that forwards every call to a real store and lets a test step in before the calls
//! it cares about: telemetry writes (alone or grouped) and the event pages a stream reads. The
//! recording store of the services' tests and the gated store of the HTTP shutdown and SSE
//! tests are this wrapper with different [`Interceptor`]s, so a repository method added to the
//! ports is forwarded in one place.

use async_trait::async_trait;
use missionops_core::{
    Alarm, AlarmFilter, AlarmId, AlarmRepository, Anomaly, AnomalyCount, AnomalyId, AnomalyPage,
    AnomalyRepository, BucketWidth, Claim, ClaimId, ConfigRecord, ConfigRepository, DeadLetter,
    DocumentFilter, DocumentId, DocumentRepository, EventRepository, FailureOutcome, GroupOutcome,
    IngestOutcome, LatestValue, Limit, MissionEvent, NewEvent, OpsDocument, OutboxStats,
    OutboxStore, PacketDefinitionRecord, PacketDefinitionRepository, ParameterName, RangeCursor,
    Result, RetryPolicy, RetrySelection, SearchQuery, SeriesBucket, Spacecraft, SpacecraftId,
    SpacecraftPage, SpacecraftRepository, Store, TelemetryPage, TelemetryRepository,
    TelemetrySnapshot, TelemetryWrite, TenantId, Timestamp, WriteProbe,
};
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

/// What a test does before the intercepted calls reach the store. Every method does nothing
/// by default.
#[async_trait]
pub trait Interceptor: Send + Sync + 'static {
    /// Before `insert_telemetry(write)`.
    async fn before_insert(&self, _write: &TelemetryWrite) {}

    /// Before `insert_telemetry_group(writes)`.
    async fn before_insert_group(&self, _writes: &[TelemetryWrite]) {}

    /// Before `events_after` (one page of an event stream).
    async fn before_events_after(&self) {}
}

/// `inner` with `I` stepping in before its intercepted calls; derefs to the interceptor, so a
/// test reaches its gates or records through the store.
pub struct Intercepted<I> {
    inner: Arc<dyn Store>,
    interceptor: I,
}

impl<I> Intercepted<I> {
    /// `inner` behind `interceptor`.
    pub fn wrap(inner: Arc<dyn Store>, interceptor: I) -> Self {
        Intercepted { inner, interceptor }
    }
}

impl<I> Deref for Intercepted<I> {
    type Target = I;

    fn deref(&self) -> &I {
        &self.interceptor
    }
}

impl<I> std::fmt::Debug for Intercepted<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intercepted").finish_non_exhaustive()
    }
}

#[async_trait]
impl<I: Interceptor> SpacecraftRepository for Intercepted<I> {
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
impl<I: Interceptor> ConfigRepository for Intercepted<I> {
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
impl<I: Interceptor> PacketDefinitionRepository for Intercepted<I> {
    async fn current_packet_definition(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<PacketDefinitionRecord>> {
        self.inner
            .current_packet_definition(tenant, spacecraft)
            .await
    }

    async fn current_packet_definition_version(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<u32>> {
        self.inner
            .current_packet_definition_version(tenant, spacecraft)
            .await
    }

    async fn put_packet_definition(
        &self,
        tenant: &TenantId,
        record: PacketDefinitionRecord,
        event: NewEvent,
    ) -> Result<()> {
        self.inner
            .put_packet_definition(tenant, record, event)
            .await
    }

    async fn packet_definition_history(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<PacketDefinitionRecord>> {
        self.inner
            .packet_definition_history(tenant, spacecraft)
            .await
    }
}

#[async_trait]
impl<I: Interceptor> TelemetryRepository for Intercepted<I> {
    async fn insert_telemetry(&self, write: TelemetryWrite) -> Result<IngestOutcome> {
        self.interceptor.before_insert(&write).await;
        self.inner.insert_telemetry(write).await
    }

    async fn insert_telemetry_group(&self, writes: Vec<TelemetryWrite>) -> GroupOutcome {
        self.interceptor.before_insert_group(&writes).await;
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
impl<I: Interceptor> AnomalyRepository for Intercepted<I> {
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
impl<I: Interceptor> AlarmRepository for Intercepted<I> {
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
impl<I: Interceptor> DocumentRepository for Intercepted<I> {
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
impl<I: Interceptor> EventRepository for Intercepted<I> {
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
        self.interceptor.before_events_after().await;
        self.inner.events_after(after, spacecraft, limit).await
    }
}

#[async_trait]
impl<I: Interceptor> OutboxStore for Intercepted<I> {
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
impl<I: Interceptor> WriteProbe for Intercepted<I> {
    async fn probe_writes(&self) -> Result<()> {
        self.inner.probe_writes().await
    }
}
