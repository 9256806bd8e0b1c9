//! Telemetry in memory: idempotent ingest by snapshot id, and the reads over it (recent,
//! ranges, latest values, series).

use missionops_core::TenantId;
use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use async_trait::async_trait;
use missionops_core::{
    Anomaly, BucketWidth, Error, IngestOutcome, LatestValue, Limit, ParameterName, ParameterValue,
    RangeCursor, Registration, Result, SeriesBucket, SpacecraftId, TelemetryPage,
    TelemetryRepository, TelemetrySnapshot, TelemetryWrite, Timestamp,
};

use super::anomalies::store_anomaly;
use super::{MemoryStore, anomaly_key};

#[async_trait]
impl TelemetryRepository for MemoryStore {
    async fn insert_telemetry(&self, write: TelemetryWrite) -> Result<IngestOutcome> {
        let tenant = &write.tenant.clone();
        let mut world = self.lock()?;
        let (inner, log) = world.split(tenant);
        // Check everything first, so that a failure leaves nothing behind.
        let mut registering: Vec<usize> = Vec::new();
        for (index, registration) in write.registrations.iter().enumerate() {
            let id = &registration.spacecraft.id;
            let repeated = registering
                .iter()
                .any(|&r| write.registrations[r].spacecraft.id == *id);
            if !repeated && !inner.spacecraft.contains_key(id) {
                registering.push(index);
            }
        }
        let registered = |id: &SpacecraftId| {
            registering
                .iter()
                .any(|&r| write.registrations[r].spacecraft.id == *id)
        };
        let mut fresh = Vec::with_capacity(write.snapshots.len());
        let mut duplicates = 0;
        let mut batch_ids = HashSet::with_capacity(write.snapshots.len());
        for (index, snapshot) in write.snapshots.iter().enumerate() {
            if !registered(&snapshot.spacecraft_id) {
                inner.require_spacecraft(&snapshot.spacecraft_id)?;
            }
            if !batch_ids.insert(&snapshot.id) {
                return Err(Error::conflict(
                    "snapshot",
                    &snapshot.id,
                    format!("snapshots[{index}] repeats an id of the same batch"),
                ));
            }
            match inner.snapshots_by_id.get(&snapshot.id) {
                Some(stored) if **stored == *snapshot => duplicates += 1,
                Some(_) => {
                    return Err(Error::conflict(
                        "snapshot",
                        &snapshot.id,
                        format!(
                            "snapshots[{index}] has the id of a stored snapshot with different content"
                        ),
                    ));
                }
                None => fresh.push(index),
            }
        }
        for alarm in &write.alarms {
            if !registered(&alarm.spacecraft_id) {
                inner.require_spacecraft(&alarm.spacecraft_id)?;
            }
        }
        log.check_events(
            registering
                .iter()
                .map(|&r| &write.registrations[r].event)
                .chain(&write.events),
        )?;
        let new_anomalies: Vec<usize> = {
            let mut keys = HashSet::new();
            write
                .anomalies
                .iter()
                .enumerate()
                .filter(|(_, a)| {
                    let key = anomaly_key(a);
                    !inner.anomaly_keys.contains(&key) && keys.insert(key)
                })
                .map(|(i, _)| i)
                .collect()
        };
        let inserted = fresh.len();
        let mut registrations: Vec<Option<Registration>> =
            write.registrations.into_iter().map(Some).collect();
        for index in registering {
            if let Some(Registration { spacecraft, event }) = registrations[index].take() {
                inner.spacecraft.insert(spacecraft.id.clone(), spacecraft);
                log.record(tenant, event);
            }
        }
        let mut snapshots: Vec<Option<TelemetrySnapshot>> =
            write.snapshots.into_iter().map(Some).collect();
        for index in fresh {
            let Some(snapshot) = snapshots[index].take() else {
                continue;
            };
            let snapshot = Arc::new(snapshot);
            inner.arrivals += 1;
            let arrival = inner.arrivals;
            inner
                .telemetry
                .entry(snapshot.spacecraft_id.clone())
                .or_default()
                .insert((snapshot.timestamp, arrival), Arc::clone(&snapshot));
            inner.snapshots_by_id.insert(snapshot.id.clone(), snapshot);
        }
        let mut anomalies: Vec<Option<Anomaly>> = write.anomalies.into_iter().map(Some).collect();
        for index in new_anomalies {
            if let Some(anomaly) = anomalies[index].take() {
                store_anomaly(inner, anomaly);
            }
        }
        for alarm in write.alarms {
            inner.alarms.insert(alarm.id.clone(), alarm);
        }
        for event in write.events {
            log.record(tenant, event);
        }
        Ok(IngestOutcome {
            inserted,
            duplicates,
        })
    }

    async fn recent_telemetry(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<TelemetrySnapshot>> {
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        Ok(inner
            .telemetry
            .get(spacecraft)
            .map_or_else(Vec::new, |series| {
                series
                    .values()
                    .rev()
                    .take(limit.get())
                    .map(|s| (**s).clone())
                    .collect()
            }))
    }

    async fn telemetry_range(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        max: usize,
    ) -> Result<Vec<TelemetrySnapshot>> {
        if from > to {
            return Ok(Vec::new());
        }
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        Ok(inner
            .telemetry
            .get(spacecraft)
            .map_or_else(Vec::new, |series| {
                series
                    .range((from, 0)..=(to, u64::MAX))
                    .take(max)
                    .map(|(_, s)| (**s).clone())
                    .collect()
            }))
    }

    async fn last_telemetry_timestamp(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<Timestamp>> {
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        Ok(inner
            .telemetry
            .get(spacecraft)
            .and_then(|series| series.keys().next_back().map(|(t, _)| *t)))
    }

    async fn latest_values(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<LatestValue>> {
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        let mut latest: BTreeMap<&str, LatestValue> = BTreeMap::new();
        if let Some(series) = inner.telemetry.get(spacecraft) {
            // Oldest to newest, so that later samples overwrite earlier ones.
            for snapshot in series.values() {
                for (name, value) in snapshot.parameters.iter() {
                    latest.insert(
                        name.as_str(),
                        LatestValue {
                            parameter: name.clone(),
                            value: value.clone(),
                            timestamp: snapshot.timestamp,
                        },
                    );
                }
            }
        }
        Ok(latest.into_values().collect())
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
        if from > to {
            return Ok(Vec::new());
        }
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        let mut buckets: BTreeMap<Timestamp, (SeriesBucket, f64)> = BTreeMap::new();
        let Some(series) = inner.telemetry.get(spacecraft) else {
            return Ok(Vec::new());
        };
        for snapshot in series.range((from, 0)..=(to, u64::MAX)).map(|(_, s)| s) {
            let Some(ParameterValue::Number(value)) = snapshot.parameters.get(parameter.as_str())
            else {
                continue;
            };
            let start = bucket.bucket_start(snapshot.timestamp);
            let (b, sum) = buckets.entry(start).or_insert((
                SeriesBucket {
                    start,
                    min: *value,
                    max: *value,
                    avg: 0.0,
                    count: 0,
                    last: *value,
                },
                0.0,
            ));
            b.min = b.min.min(*value);
            b.max = b.max.max(*value);
            b.count += 1;
            b.last = *value;
            *sum += value;
        }
        Ok(buckets
            .into_values()
            .map(|(mut b, sum)| {
                #[allow(clippy::cast_precision_loss)]
                let count = b.count as f64;
                b.avg = sum / count;
                b
            })
            .collect())
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
        if from > to || limit == 0 {
            return Ok(TelemetryPage::default());
        }
        // Arrival numbers start at 1, so (from, 0) is just before the first snapshot at `from`.
        let start = after.map_or((from, 0), |c| {
            (c.timestamp, u64::try_from(c.arrival).unwrap_or(0))
        });
        if start.0 > to {
            return Ok(TelemetryPage::default());
        }
        let lower = if after.is_some() && start.0 >= from {
            Bound::Excluded(start)
        } else {
            Bound::Included((from, 0))
        };
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        let mut last = None;
        let snapshots: Vec<TelemetrySnapshot> =
            inner
                .telemetry
                .get(spacecraft)
                .map_or_else(Vec::new, |series| {
                    series
                        .range((lower, Bound::Included((to, u64::MAX))))
                        .take(limit)
                        .map(|(key, s)| {
                            last = Some(*key);
                            (**s).clone()
                        })
                        .collect()
                });
        let next =
            (snapshots.len() == limit)
                .then_some(last)
                .flatten()
                .map(|(timestamp, arrival)| RangeCursor {
                    timestamp,
                    arrival: i64::try_from(arrival).unwrap_or(i64::MAX),
                });
        Ok(TelemetryPage { snapshots, next })
    }

    async fn count_telemetry_range(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        at_most: usize,
    ) -> Result<usize> {
        if from > to {
            return Ok(0);
        }
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        Ok(inner.telemetry.get(spacecraft).map_or(0, |series| {
            series
                .range((from, 0)..=(to, u64::MAX))
                .take(at_most)
                .count()
        }))
    }
}
