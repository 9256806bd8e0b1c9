//! The in-memory backend: every repository trait over maps behind one mutex. For tests and
//! embedding; the same semantics as the durable backends, kept until the process ends.

#[path = "memory_outbox.rs"]
mod outbox;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use missionops_core::{
    Alarm, AlarmFilter, AlarmId, AlarmRepository, Anomaly, AnomalyCount, AnomalyId, AnomalyKind,
    AnomalyRepository, BucketWidth, ConfigRecord, ConfigRepository, DocumentFilter, DocumentId,
    DocumentRepository, Error, EventId, EventRepository, IngestOutcome, LatestValue, Limit,
    MissionEvent, NewEvent, OpsDocument, ParameterName, ParameterValue, Result, SearchQuery,
    SeriesBucket, SnapshotId, Spacecraft, SpacecraftId, SpacecraftPage, SpacecraftRepository,
    TelemetryRepository, TelemetrySnapshot, TelemetryWrite, Timestamp,
};

/// Every repository trait, in memory. Cheap to clone: clones share the same data.
///
/// One `std::sync::Mutex` guards everything: every operation is a short, synchronous critical
/// section that is never held across an `.await`, and taking one lock per write is what makes
/// each write all-or-nothing, the way a transaction does in the durable backends.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

type AnomalyKey = (SpacecraftId, ParameterName, Timestamp, AnomalyKind);

#[derive(Debug, Default)]
struct Inner {
    spacecraft: HashMap<SpacecraftId, Spacecraft>,
    configs: HashMap<SpacecraftId, Vec<ConfigRecord>>,
    /// Per spacecraft, snapshots by (sample time, arrival order).
    telemetry: HashMap<SpacecraftId, BTreeMap<(Timestamp, u64), Arc<TelemetrySnapshot>>>,
    snapshots_by_id: HashMap<SnapshotId, Arc<TelemetrySnapshot>>,
    arrivals: u64,
    anomalies: Vec<Anomaly>,
    anomaly_keys: HashSet<AnomalyKey>,
    anomaly_ids: HashMap<AnomalyId, usize>,
    alarms: HashMap<AlarmId, Alarm>,
    documents: HashMap<DocumentId, OpsDocument>,
    events: Vec<MissionEvent>,
    event_ids: HashSet<EventId>,
    /// The outbox rows of the events (`memory_outbox.rs`).
    outbox: outbox::MemoryOutbox,
}

impl Inner {
    /// Fails when an event id is already recorded (or repeated), before anything is written.
    fn check_events<'a>(&self, events: impl IntoIterator<Item = &'a NewEvent>) -> Result<()> {
        let mut seen = HashSet::new();
        for event in events {
            if self.event_ids.contains(&event.id) || !seen.insert(&event.id) {
                return Err(Error::conflict("event", &event.id, "is already recorded"));
            }
        }
        Ok(())
    }

    fn record(&mut self, event: NewEvent) -> MissionEvent {
        let sequence = self.events.len() as u64 + 1;
        self.event_ids.insert(event.id.clone());
        let recorded = event.recorded(sequence);
        self.events.push(recorded.clone());
        self.outbox.push(sequence);
        recorded
    }

    fn require_spacecraft(&self, id: &SpacecraftId) -> Result<()> {
        if self.spacecraft.contains_key(id) {
            Ok(())
        } else {
            Err(Error::not_found("spacecraft", id))
        }
    }
}

fn anomaly_key(anomaly: &Anomaly) -> AnomalyKey {
    (
        anomaly.spacecraft_id.clone(),
        anomaly.parameter.clone(),
        anomaly.timestamp,
        anomaly.kind,
    )
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| Error::backend("the in-memory store was poisoned by a panic".to_owned()))
    }

    /// How many recorded events wait in the outbox for delivery.
    pub fn outbox_pending(&self) -> Result<usize> {
        Ok(self.lock()?.outbox.len())
    }
}

#[async_trait]
impl SpacecraftRepository for MemoryStore {
    async fn register_spacecraft(&self, spacecraft: Spacecraft, event: NewEvent) -> Result<()> {
        let mut inner = self.lock()?;
        if inner.spacecraft.contains_key(&spacecraft.id) {
            return Err(Error::conflict(
                "spacecraft",
                &spacecraft.id,
                "already exists",
            ));
        }
        inner.check_events([&event])?;
        inner.spacecraft.insert(spacecraft.id.clone(), spacecraft);
        inner.record(event);
        Ok(())
    }

    async fn get_spacecraft(&self, id: &SpacecraftId) -> Result<Option<Spacecraft>> {
        Ok(self.lock()?.spacecraft.get(id).cloned())
    }

    async fn list_spacecraft(&self, limit: Limit, offset: u64) -> Result<SpacecraftPage> {
        let inner = self.lock()?;
        let mut all: Vec<&Spacecraft> = inner.spacecraft.values().collect();
        all.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        Ok(SpacecraftPage {
            total: all.len() as u64,
            items: all
                .into_iter()
                .skip(skip)
                .take(limit.get())
                .cloned()
                .collect(),
        })
    }
}

#[async_trait]
impl ConfigRepository for MemoryStore {
    async fn current_config(&self, spacecraft: &SpacecraftId) -> Result<Option<ConfigRecord>> {
        Ok(self
            .lock()?
            .configs
            .get(spacecraft)
            .and_then(|versions| versions.last().cloned()))
    }

    async fn put_config(&self, record: ConfigRecord, event: NewEvent) -> Result<()> {
        let mut inner = self.lock()?;
        inner.require_spacecraft(&record.spacecraft_id)?;
        let current = inner
            .configs
            .get(&record.spacecraft_id)
            .map_or(0, |versions| versions.len() as u32);
        if record.version != current + 1 {
            return Err(Error::conflict(
                "configuration of spacecraft",
                &record.spacecraft_id,
                format!(
                    "version {} was written concurrently (current is {current})",
                    record.version
                ),
            ));
        }
        inner.check_events([&event])?;
        inner
            .configs
            .entry(record.spacecraft_id.clone())
            .or_default()
            .push(record);
        inner.record(event);
        Ok(())
    }

    async fn config_history(&self, spacecraft: &SpacecraftId) -> Result<Vec<ConfigRecord>> {
        Ok(self
            .lock()?
            .configs
            .get(spacecraft)
            .cloned()
            .unwrap_or_default())
    }
}

#[async_trait]
impl TelemetryRepository for MemoryStore {
    async fn insert_telemetry(&self, write: TelemetryWrite) -> Result<IngestOutcome> {
        let mut inner = self.lock()?;
        // Check everything first, so that a failure leaves nothing behind.
        let mut fresh = Vec::with_capacity(write.snapshots.len());
        let mut duplicates = 0;
        let mut batch_ids = HashSet::with_capacity(write.snapshots.len());
        for (index, snapshot) in write.snapshots.iter().enumerate() {
            inner.require_spacecraft(&snapshot.spacecraft_id)?;
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
            inner.require_spacecraft(&alarm.spacecraft_id)?;
        }
        inner.check_events(&write.events)?;
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
                store_anomaly(&mut inner, anomaly);
            }
        }
        for alarm in write.alarms {
            inner.alarms.insert(alarm.id.clone(), alarm);
        }
        for event in write.events {
            inner.record(event);
        }
        Ok(IngestOutcome {
            inserted,
            duplicates,
        })
    }

    async fn recent_telemetry(
        &self,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<TelemetrySnapshot>> {
        let inner = self.lock()?;
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
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        max: usize,
    ) -> Result<Vec<TelemetrySnapshot>> {
        if from > to {
            return Ok(Vec::new());
        }
        let inner = self.lock()?;
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
        spacecraft: &SpacecraftId,
    ) -> Result<Option<Timestamp>> {
        let inner = self.lock()?;
        Ok(inner
            .telemetry
            .get(spacecraft)
            .and_then(|series| series.keys().next_back().map(|(t, _)| *t)))
    }

    async fn latest_values(&self, spacecraft: &SpacecraftId) -> Result<Vec<LatestValue>> {
        let inner = self.lock()?;
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
        spacecraft: &SpacecraftId,
        parameter: &ParameterName,
        from: Timestamp,
        to: Timestamp,
        bucket: BucketWidth,
    ) -> Result<Vec<SeriesBucket>> {
        if from > to {
            return Ok(Vec::new());
        }
        let inner = self.lock()?;
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
}

fn store_anomaly(inner: &mut Inner, anomaly: Anomaly) {
    inner.anomaly_keys.insert(anomaly_key(&anomaly));
    inner
        .anomaly_ids
        .insert(anomaly.id.clone(), inner.anomalies.len());
    inner.anomalies.push(anomaly);
}

#[async_trait]
impl AnomalyRepository for MemoryStore {
    async fn persist_anomalies(&self, anomalies: Vec<(Anomaly, NewEvent)>) -> Result<usize> {
        let mut inner = self.lock()?;
        for (anomaly, _) in &anomalies {
            inner.require_spacecraft(&anomaly.spacecraft_id)?;
        }
        inner.check_events(anomalies.iter().map(|(_, e)| e))?;
        let mut persisted = 0;
        for (anomaly, event) in anomalies {
            if inner.anomaly_keys.contains(&anomaly_key(&anomaly)) {
                continue;
            }
            store_anomaly(&mut inner, anomaly);
            inner.record(event);
            persisted += 1;
        }
        Ok(persisted)
    }

    async fn get_anomaly(&self, id: &AnomalyId) -> Result<Option<Anomaly>> {
        let inner = self.lock()?;
        Ok(inner
            .anomaly_ids
            .get(id)
            .map(|&i| inner.anomalies[i].clone()))
    }

    async fn recent_anomalies(
        &self,
        spacecraft: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<Anomaly>> {
        let inner = self.lock()?;
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
        spacecraft: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Anomaly>> {
        let inner = self.lock()?;
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
        spacecraft: &SpacecraftId,
        since: Timestamp,
    ) -> Result<AnomalyCount> {
        let inner = self.lock()?;
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
}

#[async_trait]
impl AlarmRepository for MemoryStore {
    async fn save_alarm(&self, alarm: Alarm, events: Vec<NewEvent>) -> Result<()> {
        let mut inner = self.lock()?;
        inner.require_spacecraft(&alarm.spacecraft_id)?;
        inner.check_events(&events)?;
        inner.alarms.insert(alarm.id.clone(), alarm);
        for event in events {
            inner.record(event);
        }
        Ok(())
    }

    async fn get_alarm(&self, id: &AlarmId) -> Result<Option<Alarm>> {
        Ok(self.lock()?.alarms.get(id).cloned())
    }

    async fn list_alarms(&self, filter: &AlarmFilter) -> Result<Vec<Alarm>> {
        let inner = self.lock()?;
        let mut found: Vec<Alarm> = inner
            .alarms
            .values()
            .filter(|a| {
                filter
                    .spacecraft_id
                    .as_ref()
                    .is_none_or(|id| &a.spacecraft_id == id)
                    && filter.states.admits(a.state)
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then_with(|| b.id.cmp(&a.id)));
        Ok(found)
    }
}

/// The relevance of `document` to `query` under the compat rule, or `None` when it does not
/// match: title hits weigh three times body hits, and an exact tag adds five.
fn relevance(document: &OpsDocument, query: &str) -> Option<usize> {
    let needle = query.to_lowercase();
    let title_hits = document
        .title
        .as_str()
        .to_lowercase()
        .matches(&needle)
        .count();
    let body_hits = document
        .body
        .as_str()
        .to_lowercase()
        .matches(&needle)
        .count();
    let tag_hit = document.tags.contains(query);
    if title_hits == 0 && body_hits == 0 && !tag_hit {
        return None;
    }
    Some(3 * title_hits + body_hits + if tag_hit { 5 } else { 0 })
}

fn newest_first(a: &OpsDocument, b: &OpsDocument) -> std::cmp::Ordering {
    b.published_at
        .cmp(&a.published_at)
        .then_with(|| b.id.cmp(&a.id))
}

#[async_trait]
impl DocumentRepository for MemoryStore {
    async fn publish_document(&self, document: OpsDocument, event: NewEvent) -> Result<()> {
        let mut inner = self.lock()?;
        if inner.documents.contains_key(&document.id) {
            return Err(Error::conflict("document", &document.id, "already exists"));
        }
        inner.check_events([&event])?;
        inner.documents.insert(document.id.clone(), document);
        inner.record(event);
        Ok(())
    }

    async fn update_document(&self, document: OpsDocument, event: NewEvent) -> Result<()> {
        let mut inner = self.lock()?;
        let Some(current) = inner.documents.get(&document.id) else {
            return Err(Error::not_found("document", &document.id));
        };
        if document.version != current.version + 1 {
            return Err(Error::conflict(
                "document",
                &document.id,
                format!(
                    "version {} was written concurrently (current is {})",
                    document.version, current.version
                ),
            ));
        }
        inner.check_events([&event])?;
        inner.documents.insert(document.id.clone(), document);
        inner.record(event);
        Ok(())
    }

    async fn get_document(&self, id: &DocumentId) -> Result<Option<OpsDocument>> {
        Ok(self.lock()?.documents.get(id).cloned())
    }

    async fn search_documents(
        &self,
        query: &SearchQuery,
        limit: Limit,
    ) -> Result<Vec<OpsDocument>> {
        let inner = self.lock()?;
        let mut found: Vec<(usize, &OpsDocument)> = inner
            .documents
            .values()
            .filter_map(|d| relevance(d, query.as_str()).map(|score| (score, d)))
            .collect();
        found.sort_by(|(sa, a), (sb, b)| sb.cmp(sa).then_with(|| newest_first(a, b)));
        Ok(found
            .into_iter()
            .take(limit.get())
            .map(|(_, d)| d.clone())
            .collect())
    }

    async fn list_documents(&self, filter: &DocumentFilter) -> Result<Vec<OpsDocument>> {
        let inner = self.lock()?;
        let mut found: Vec<&OpsDocument> = inner
            .documents
            .values()
            .filter(|d| d.matches(filter))
            .collect();
        found.sort_by(|a, b| newest_first(a, b));
        Ok(found
            .into_iter()
            .skip(filter.offset)
            .take(filter.limit.get())
            .cloned()
            .collect())
    }
}

#[async_trait]
impl EventRepository for MemoryStore {
    async fn record_event(&self, event: NewEvent) -> Result<MissionEvent> {
        let mut inner = self.lock()?;
        inner.check_events([&event])?;
        Ok(inner.record(event))
    }

    async fn recent_events(
        &self,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        let inner = self.lock()?;
        Ok(inner
            .events
            .iter()
            .rev()
            .filter(|e| spacecraft.is_none_or(|id| e.spacecraft_id.as_ref() == Some(id)))
            .take(limit.get())
            .cloned()
            .collect())
    }

    async fn events_after(
        &self,
        after: u64,
        spacecraft: Option<&SpacecraftId>,
        limit: Limit,
    ) -> Result<Vec<MissionEvent>> {
        let inner = self.lock()?;
        let start = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(inner.events.len());
        Ok(inner.events[start..]
            .iter()
            .filter(|e| spacecraft.is_none_or(|id| e.spacecraft_id.as_ref() == Some(id)))
            .take(limit.get())
            .cloned()
            .collect())
    }
}
