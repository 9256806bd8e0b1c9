//! A store that forwards every call to a real store and lets a test step in before the calls
//! it cares about: telemetry writes (alone or grouped) and the event pages a stream reads. The
//! recording store of the services' tests and the gated store of the HTTP shutdown and SSE
//! tests are this wrapper with different [`Interceptor`]s, so a repository method added to the
//! ports is forwarded in one place.

use async_trait::async_trait;
use missionops_core::{
    Alarm, AlarmCursor, AlarmFilter, AlarmId, AlarmPage, AlarmRepository, Anomaly, AnomalyCount,
    AnomalyId, AnomalyPage, AnomalyRepository, ApiKey, ApiKeyId, BucketWidth, Claim, ClaimId,
    ConfigChanges, ConfigRecord, ConfigRepository, DeadLetter, DocumentFilter, DocumentId,
    DocumentRepository, EventRepository, FailureOutcome, GroupOutcome, IngestOutcome,
    KeyRepository, LatestValue, Limit, MissionEvent, NewEvent, OpenAlarmSummary, OpsDocument,
    OutboxStats, OutboxStore, PacketDefinitionRecord, PacketDefinitionRepository, ParameterName,
    RangeCursor, RangePages, Result, RetryPolicy, RetrySelection, SearchQuery, SeriesBucket,
    Spacecraft, SpacecraftId, SpacecraftPage, SpacecraftRepository, Store, TelemetryPage,
    TelemetryRepository, TelemetrySnapshot, TelemetryWrite, TenantId, Timestamp, WriteProbe,
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

    /// Before `config_changes_after` (one read of the monitors' change feed).
    async fn before_config_changes_after(&self) {}

    /// Before `recent_telemetry` of `spacecraft` (what a monitor is rebuilt from).
    async fn before_recent_telemetry(&self, _spacecraft: &SpacecraftId) {}

    /// Before `current_config` or `current_config_version` of `spacecraft` (what a monitor's
    /// recheck reads).
    async fn before_config_read(&self, _spacecraft: &SpacecraftId) {}

    /// Before `current_configs` or `current_packet_definition_versions` of `spacecraft` (what
    /// the clock tick reads at once for the monitors it brings up to date).
    async fn before_configs_read(&self, _spacecraft: &[SpacecraftId]) {}

    /// Before `list_alarms` with `filter` (a monitor rebuilt on its own reads its open alarms
    /// this way).
    async fn before_list_alarms(&self, _filter: &AlarmFilter) {}

    /// Before `recent_telemetry_of` of `spacecraft` (what the clock tick reads at once for the
    /// monitors it loads, with their open alarms).
    async fn before_recent_telemetry_of(&self, _spacecraft: &[SpacecraftId]) {}

    /// Before `open_alarms_of` of `spacecraft` (what the clock tick reads at once for the
    /// monitors it loads, with their history).
    async fn before_open_alarms_of(&self, _spacecraft: &[SpacecraftId]) {}

    /// Before `count_anomalies_since_of` of `spacecraft` for the windows `since` (what the
    /// fleet's status reads at once for its spacecraft).
    async fn before_anomaly_counts_of(&self, _spacecraft: &[SpacecraftId], _since: &[Timestamp]) {}
}

/// `inner` with `I` stepping in before its intercepted calls; derefs to the interceptor, so a
/// test reaches its gates or records through the store.
pub struct Intercepted<I> {
    inner: Arc<dyn Store>,
    interceptor: I,
    /// What `group_commits_at_once` answers instead of `inner`'s, when set.
    group_commits_at_once: Option<usize>,
}

impl<I> Intercepted<I> {
    /// `inner` behind `interceptor`.
    pub fn wrap(inner: Arc<dyn Store>, interceptor: I) -> Self {
        Intercepted {
            inner,
            interceptor,
            group_commits_at_once: None,
        }
    }

    /// Says that `count` group commits may be in flight at once, whatever `inner` says: the
    /// application's pipelined group commit over a store that stores one write at a time.
    #[must_use]
    pub fn with_group_commits_at_once(mut self, count: usize) -> Self {
        self.group_commits_at_once = Some(count);
        self
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
    async fn register_spacecraft(
        &self,
        tenant: &TenantId,
        spacecraft: Spacecraft,
        event: NewEvent,
    ) -> Result<()> {
        self.inner
            .register_spacecraft(tenant, spacecraft, event)
            .await
    }

    async fn get_spacecraft(
        &self,
        tenant: &TenantId,
        id: &SpacecraftId,
    ) -> Result<Option<Spacecraft>> {
        self.inner.get_spacecraft(tenant, id).await
    }

    async fn existing_spacecraft(
        &self,
        tenant: &TenantId,
        ids: &[SpacecraftId],
    ) -> Result<Vec<SpacecraftId>> {
        self.inner.existing_spacecraft(tenant, ids).await
    }

    async fn list_spacecraft(
        &self,
        tenant: &TenantId,
        limit: Limit,
        offset: u64,
    ) -> Result<SpacecraftPage> {
        self.inner.list_spacecraft(tenant, limit, offset).await
    }

    async fn every_spacecraft(&self, tenant: &TenantId) -> Result<Vec<Spacecraft>> {
        self.inner.every_spacecraft(tenant).await
    }
}

#[async_trait]
impl<I: Interceptor> ConfigRepository for Intercepted<I> {
    async fn current_config(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<ConfigRecord>> {
        self.interceptor.before_config_read(spacecraft).await;
        self.inner.current_config(tenant, spacecraft).await
    }

    async fn current_config_version(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<u32>> {
        self.interceptor.before_config_read(spacecraft).await;
        self.inner.current_config_version(tenant, spacecraft).await
    }

    async fn current_configs(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<ConfigRecord>>> {
        self.interceptor.before_configs_read(spacecraft).await;
        self.inner.current_configs(tenant, spacecraft).await
    }

    async fn put_config(
        &self,
        tenant: &TenantId,
        record: ConfigRecord,
        event: NewEvent,
    ) -> Result<()> {
        self.inner.put_config(tenant, record, event).await
    }

    async fn config_history(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<ConfigRecord>> {
        self.inner.config_history(tenant, spacecraft).await
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

    async fn current_packet_definition_versions(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<u32>>> {
        self.interceptor.before_configs_read(spacecraft).await;
        self.inner
            .current_packet_definition_versions(tenant, spacecraft)
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

    fn group_commits_at_once(&self) -> usize {
        self.group_commits_at_once
            .unwrap_or_else(|| self.inner.group_commits_at_once())
    }

    async fn recent_telemetry(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<TelemetrySnapshot>> {
        self.interceptor.before_recent_telemetry(spacecraft).await;
        self.inner.recent_telemetry(tenant, spacecraft, limit).await
    }

    async fn recent_telemetry_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
        limit: Limit,
    ) -> Result<Vec<Vec<TelemetrySnapshot>>> {
        self.interceptor
            .before_recent_telemetry_of(spacecraft)
            .await;
        self.inner
            .recent_telemetry_of(tenant, spacecraft, limit)
            .await
    }

    async fn telemetry_range(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        max: usize,
    ) -> Result<Vec<TelemetrySnapshot>> {
        self.inner
            .telemetry_range(tenant, spacecraft, from, to, max)
            .await
    }

    async fn last_telemetry_timestamp(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<Timestamp>> {
        self.inner
            .last_telemetry_timestamp(tenant, spacecraft)
            .await
    }

    async fn last_telemetry_timestamps_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<Timestamp>>> {
        self.inner
            .last_telemetry_timestamps_of(tenant, spacecraft)
            .await
    }

    async fn latest_values(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<LatestValue>> {
        self.inner.latest_values(tenant, spacecraft).await
    }

    async fn telemetry_series(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        parameter: &ParameterName,
        from: Timestamp,
        to: Timestamp,
        bucket: BucketWidth,
    ) -> Result<Vec<SeriesBucket>> {
        self.inner
            .telemetry_series(tenant, spacecraft, parameter, from, to, bucket)
            .await
    }

    async fn telemetry_range_page(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        after: Option<RangeCursor>,
        limit: usize,
    ) -> Result<TelemetryPage> {
        self.inner
            .telemetry_range_page(tenant, spacecraft, from, to, after, limit)
            .await
    }

    fn telemetry_range_pages(
        self: Arc<Self>,
        tenant: TenantId,
        spacecraft: SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        page: usize,
        cap: usize,
    ) -> RangePages {
        Arc::clone(&self.inner).telemetry_range_pages(tenant, spacecraft, from, to, page, cap)
    }

    async fn count_telemetry_range(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        at_most: usize,
    ) -> Result<usize> {
        self.inner
            .count_telemetry_range(tenant, spacecraft, from, to, at_most)
            .await
    }
}

#[async_trait]
impl<I: Interceptor> AnomalyRepository for Intercepted<I> {
    async fn persist_anomalies(
        &self,
        tenant: &TenantId,
        anomalies: Vec<(Anomaly, NewEvent)>,
    ) -> Result<usize> {
        self.inner.persist_anomalies(tenant, anomalies).await
    }

    async fn get_anomaly(&self, tenant: &TenantId, id: &AnomalyId) -> Result<Option<Anomaly>> {
        self.inner.get_anomaly(tenant, id).await
    }

    async fn recent_anomalies(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<Anomaly>> {
        self.inner.recent_anomalies(tenant, spacecraft, limit).await
    }

    async fn anomaly_timeline(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Anomaly>> {
        self.inner
            .anomaly_timeline(tenant, spacecraft, from, to)
            .await
    }

    async fn count_anomalies_since(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        since: Timestamp,
    ) -> Result<AnomalyCount> {
        self.inner
            .count_anomalies_since(tenant, spacecraft, since)
            .await
    }

    async fn count_anomalies_since_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
        since: &[Timestamp],
    ) -> Result<Vec<Vec<AnomalyCount>>> {
        self.interceptor
            .before_anomaly_counts_of(spacecraft, since)
            .await;
        self.inner
            .count_anomalies_since_of(tenant, spacecraft, since)
            .await
    }

    async fn anomaly_timeline_page(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        after: Option<RangeCursor>,
        limit: usize,
    ) -> Result<AnomalyPage> {
        self.inner
            .anomaly_timeline_page(tenant, spacecraft, from, to, after, limit)
            .await
    }
}

#[async_trait]
impl<I: Interceptor> AlarmRepository for Intercepted<I> {
    async fn save_alarm(
        &self,
        tenant: &TenantId,
        alarm: Alarm,
        events: Vec<NewEvent>,
    ) -> Result<()> {
        self.inner.save_alarm(tenant, alarm, events).await
    }

    async fn get_alarm(&self, tenant: &TenantId, id: &AlarmId) -> Result<Option<Alarm>> {
        self.inner.get_alarm(tenant, id).await
    }

    async fn list_alarms(&self, tenant: &TenantId, filter: &AlarmFilter) -> Result<Vec<Alarm>> {
        self.interceptor.before_list_alarms(filter).await;
        self.inner.list_alarms(tenant, filter).await
    }

    async fn list_alarms_page(
        &self,
        tenant: &TenantId,
        filter: &AlarmFilter,
        after: Option<&AlarmCursor>,
        limit: Limit,
    ) -> Result<AlarmPage> {
        self.inner
            .list_alarms_page(tenant, filter, after, limit)
            .await
    }

    async fn count_alarms(&self, tenant: &TenantId, filter: &AlarmFilter) -> Result<u64> {
        self.inner.count_alarms(tenant, filter).await
    }

    async fn open_alarms_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Vec<Alarm>>> {
        self.interceptor.before_open_alarms_of(spacecraft).await;
        self.inner.open_alarms_of(tenant, spacecraft).await
    }

    async fn open_alarm_summaries(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(SpacecraftId, OpenAlarmSummary)>> {
        self.inner.open_alarm_summaries(tenant).await
    }
}

#[async_trait]
impl<I: Interceptor> DocumentRepository for Intercepted<I> {
    async fn publish_document(
        &self,
        tenant: &TenantId,
        document: OpsDocument,
        event: NewEvent,
    ) -> Result<()> {
        self.inner.publish_document(tenant, document, event).await
    }

    async fn update_document(
        &self,
        tenant: &TenantId,
        document: OpsDocument,
        event: NewEvent,
    ) -> Result<()> {
        self.inner.update_document(tenant, document, event).await
    }

    async fn get_document(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
    ) -> Result<Option<OpsDocument>> {
        self.inner.get_document(tenant, id).await
    }

    async fn search_documents(
        &self,
        tenant: &TenantId,
        query: &SearchQuery,
        limit: Limit,
    ) -> Result<Vec<OpsDocument>> {
        self.inner.search_documents(tenant, query, limit).await
    }

    async fn list_documents(
        &self,
        tenant: &TenantId,
        filter: &DocumentFilter,
    ) -> Result<Vec<OpsDocument>> {
        self.inner.list_documents(tenant, filter).await
    }
}

#[async_trait]
impl<I: Interceptor> EventRepository for Intercepted<I> {
    async fn record_event(&self, tenant: &TenantId, event: NewEvent) -> Result<MissionEvent> {
        self.inner.record_event(tenant, event).await
    }

    async fn recent_events(
        &self,
        tenant: &TenantId,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        self.inner.recent_events(tenant, spacecraft, limit).await
    }

    async fn events_after(
        &self,
        tenant: &TenantId,
        after: u64,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        self.interceptor.before_events_after().await;
        self.inner
            .events_after(tenant, after, spacecraft, limit)
            .await
    }

    async fn config_changes_after(
        &self,
        tenant: &TenantId,
        after: u64,
        limit: Limit,
    ) -> Result<ConfigChanges> {
        self.interceptor.before_config_changes_after().await;
        self.inner.config_changes_after(tenant, after, limit).await
    }

    async fn last_contact_lost_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<Timestamp>>> {
        self.inner.last_contact_lost_of(tenant, spacecraft).await
    }
}

#[async_trait]
impl<I: Interceptor> KeyRepository for Intercepted<I> {
    async fn create_key(&self, key: ApiKey) -> Result<()> {
        self.inner.create_key(key).await
    }

    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>> {
        self.inner.list_keys(tenant).await
    }

    async fn get_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>> {
        self.inner.get_key(id).await
    }

    async fn revoke_key(&self, tenant: &TenantId, id: &ApiKeyId, at: Timestamp) -> Result<ApiKey> {
        self.inner.revoke_key(tenant, id, at).await
    }

    async fn record_key_use(&self, uses: &[(ApiKeyId, Timestamp)]) -> Result<()> {
        self.inner.record_key_use(uses).await
    }

    async fn any_key_exists(&self) -> Result<bool> {
        self.inner.any_key_exists().await
    }
}

#[async_trait]
impl<I: Interceptor> OutboxStore for Intercepted<I> {
    async fn claim(&self, now: Timestamp, limit: usize, lease: Duration) -> Result<Claim> {
        self.inner.claim(now, limit, lease).await
    }

    async fn mark_delivered(&self, sequences: &[u64]) -> Result<()> {
        self.inner.mark_delivered(sequences).await
    }

    async fn mark_failed(
        &self,
        now: Timestamp,
        claim: &ClaimId,
        sequence: u64,
        error: &str,
        policy: &RetryPolicy,
    ) -> Result<FailureOutcome> {
        self.inner
            .mark_failed(now, claim, sequence, error, policy)
            .await
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
