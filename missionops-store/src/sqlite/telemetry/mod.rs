//! Telemetry on SQLite: the write path (`write`: batched, idempotent ingest and group commit)
//! and the read path (`read`: recent snapshots, paged range reads, latest values, series;
//! `pages`: the pages of a long range read, read ahead side by side).
//!
//! [`TelemetryRepository`] is one trait, so its impl lives here and hands each method to the
//! path it belongs to.

mod latest;
mod pages;
mod read;
mod write;

pub(crate) use latest::{PendingLatest, flush_latest_values};
pub(in crate::sqlite) use pages::RangeReaders;

use std::sync::Arc;

use async_trait::async_trait;
use missionops_core::TenantId;
use missionops_core::{
    BucketWidth, GroupOutcome, IngestOutcome, LatestValue, Limit, ParameterName, RangeCursor,
    RangePages, Result, SeriesBucket, SpacecraftId, TelemetryPage, TelemetryRepository,
    TelemetrySnapshot, TelemetryWrite, Timestamp, insert_one_by_one,
};

use super::SqliteStore;

#[async_trait]
impl TelemetryRepository for SqliteStore {
    async fn insert_telemetry(&self, write: TelemetryWrite) -> Result<IngestOutcome> {
        self.ingest(write).await
    }

    async fn insert_telemetry_group(&self, writes: Vec<TelemetryWrite>) -> GroupOutcome {
        // A group commit merges writes into one transaction of one tenant; a group that
        // mixes tenants (rare: one connection serves one tenant) is stored write by write.
        if writes.windows(2).any(|w| w[0].tenant != w[1].tenant) {
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
        self.read_recent(tenant, spacecraft, limit).await
    }

    async fn telemetry_range(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        max: usize,
    ) -> Result<Vec<TelemetrySnapshot>> {
        self.read_range(tenant, spacecraft, from, to, max).await
    }

    async fn last_telemetry_timestamp(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<Timestamp>> {
        self.read_last_timestamp(tenant, spacecraft).await
    }

    async fn last_telemetry_timestamps_of(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<Timestamp>>> {
        self.read_last_timestamps(tenant, spacecraft).await
    }

    async fn latest_values(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<LatestValue>> {
        self.read_latest_values(tenant, spacecraft).await
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
        self.read_series(tenant, spacecraft, parameter, from, to, bucket)
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
        self.read_range_page(tenant, spacecraft, from, to, after, limit)
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
        self.range_pages(tenant, spacecraft, from, to, page, cap)
    }

    async fn count_telemetry_range(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        at_most: usize,
    ) -> Result<usize> {
        self.count_range(tenant, spacecraft, from, to, at_most)
            .await
    }
}
