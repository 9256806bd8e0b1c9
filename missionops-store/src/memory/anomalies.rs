//! Anomalies in memory: unique on (spacecraft, parameter, time, kind), queried by time.

use async_trait::async_trait;
use missionops_core::TenantId;
use missionops_core::{
    Anomaly, AnomalyCount, AnomalyId, AnomalyPage, AnomalyRepository, Limit, NewEvent, RangeCursor,
    Result, SpacecraftId, Timestamp,
};

use super::{Inner, MemoryStore, anomaly_key};

/// Adds a new anomaly to the store and its two indexes.
pub(super) fn store_anomaly(inner: &mut Inner, anomaly: Anomaly) {
    inner.anomaly_keys.insert(anomaly_key(&anomaly));
    inner
        .anomaly_ids
        .insert(anomaly.id.clone(), inner.anomalies.len());
    inner.anomalies.push(anomaly);
}

#[async_trait]
impl AnomalyRepository for MemoryStore {
    async fn persist_anomalies(
        &self,
        tenant: &TenantId,
        anomalies: Vec<(Anomaly, NewEvent)>,
    ) -> Result<usize> {
        let mut world = self.lock()?;
        let (inner, log) = world.split(tenant);
        for (anomaly, _) in &anomalies {
            inner.require_spacecraft(&anomaly.spacecraft_id)?;
        }
        log.check_events(anomalies.iter().map(|(_, e)| e))?;
        let mut persisted = 0;
        for (anomaly, event) in anomalies {
            if inner.anomaly_keys.contains(&anomaly_key(&anomaly)) {
                continue;
            }
            store_anomaly(inner, anomaly);
            log.record(tenant, event);
            persisted += 1;
        }
        Ok(persisted)
    }

    async fn get_anomaly(&self, tenant: &TenantId, id: &AnomalyId) -> Result<Option<Anomaly>> {
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        Ok(inner
            .anomaly_ids
            .get(id)
            .map(|&i| inner.anomalies[i].clone()))
    }

    async fn recent_anomalies(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<Anomaly>> {
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        let mut found: Vec<(usize, &Anomaly)> = inner
            .anomalies
            .iter()
            .enumerate()
            .filter(|(_, a)| &a.spacecraft_id == spacecraft)
            .collect();
        found.sort_by(|(ia, a), (ib, b)| b.timestamp.cmp(&a.timestamp).then(ib.cmp(ia)));
        Ok(found
            .into_iter()
            .take(limit.get())
            .map(|(_, a)| a.clone())
            .collect())
    }

    async fn anomaly_timeline(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Anomaly>> {
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        let mut found: Vec<(usize, &Anomaly)> = inner
            .anomalies
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                &a.spacecraft_id == spacecraft && a.timestamp >= from && a.timestamp <= to
            })
            .collect();
        found.sort_by(|(ia, a), (ib, b)| a.timestamp.cmp(&b.timestamp).then(ia.cmp(ib)));
        Ok(found.into_iter().map(|(_, a)| a.clone()).collect())
    }

    async fn count_anomalies_since(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        since: Timestamp,
    ) -> Result<AnomalyCount> {
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        let mut count = AnomalyCount::default();
        for anomaly in inner
            .anomalies
            .iter()
            .filter(|a| &a.spacecraft_id == spacecraft && a.timestamp >= since)
        {
            count.count += 1;
            count.highest = count.highest.max(Some(anomaly.severity));
        }
        Ok(count)
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
        if limit == 0 {
            return Ok(AnomalyPage::default());
        }
        // The position in the store's list is the arrival; positions start at 0, so the
        // cursor holds position + 1 and (from, 0) is before everything at `from`.
        let start = match after {
            Some(c) if c.timestamp >= from => (c.timestamp, c.arrival),
            _ => (from, 0),
        };
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        let mut found: Vec<((Timestamp, i64), &Anomaly)> = inner
            .anomalies
            .iter()
            .enumerate()
            .map(|(i, a)| {
                (
                    (a.timestamp, i64::try_from(i).unwrap_or(i64::MAX - 1) + 1),
                    a,
                )
            })
            .filter(|(key, a)| &a.spacecraft_id == spacecraft && *key > start && a.timestamp <= to)
            .collect();
        found.sort_by_key(|(key, _)| *key);
        found.truncate(limit);
        let next = match found.last() {
            Some(((timestamp, arrival), _)) if found.len() == limit => Some(RangeCursor {
                timestamp: *timestamp,
                arrival: *arrival,
            }),
            _ => None,
        };
        Ok(AnomalyPage {
            anomalies: found.into_iter().map(|(_, a)| a.clone()).collect(),
            next,
        })
    }
}
