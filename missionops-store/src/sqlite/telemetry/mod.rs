//! Telemetry on SQLite: the write path (`write`: batched, idempotent ingest and group commit)
//! and the read path (`read`: recent snapshots, paged range reads, latest values, series).
//!
//! [`TelemetryRepository`] is one trait, so its impl lives here and hands each method to the
//! path it belongs to.

mod read;
mod write;

use async_trait::async_trait;
use missionops_core::TenantId;
use missionops_core::{
    BucketWidth, GroupOutcome, IngestOutcome, LatestValue, Limit, ParameterName, RangeCursor,
    Result, SeriesBucket, SpacecraftId, TelemetryPage, TelemetryRepository, TelemetrySnapshot,
    TelemetryWrite, Timestamp, insert_one_by_one,
};

use super::SqliteStore;

#[async_trait]
impl TelemetryRepository for SqliteStore {
    async fn insert_telemetry(&self, write: TelemetryWrite) -> Result<IngestOutcome> {
        crate::tenancy::only_default(&write.tenant)?;
        self.ingest(write).await
    }

    async fn insert_telemetry_group(&self, writes: Vec<TelemetryWrite>) -> GroupOutcome {
        if writes.iter().any(|w| !w.tenant.is_default()) {
            return insert_one_by_one(self, writes).await;
        }
        self.ingest_group(writes).await
    }

    async fn recent_telemetry(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<TelemetrySnapshot>> {
        crate::tenancy::only_default(tenant)?;
        self.read_recent(spacecraft, limit).await
    }

    async fn telemetry_range(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        max: usize,
    ) -> Result<Vec<TelemetrySnapshot>> {
        crate::tenancy::only_default(tenant)?;
        self.read_range(spacecraft, from, to, max).await
    }

    async fn last_telemetry_timestamp(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<Timestamp>> {
        crate::tenancy::only_default(tenant)?;
        self.read_last_timestamp(spacecraft).await
    }

    async fn latest_values(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<LatestValue>> {
        crate::tenancy::only_default(tenant)?;
        self.read_latest_values(spacecraft).await
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
        crate::tenancy::only_default(tenant)?;
        self.read_series(spacecraft, parameter, from, to, bucket)
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
        crate::tenancy::only_default(tenant)?;
        self.read_range_page(spacecraft, from, to, after, limit)
            .await
    }

    async fn count_telemetry_range(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        at_most: usize,
    ) -> Result<usize> {
        crate::tenancy::only_default(tenant)?;
        self.count_range(spacecraft, from, to, at_most).await
    }
}
