//! The dispatcher: a Tokio task that drains the outbox into the sinks.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use missionops_core::{
    ClaimId, Clock, Error, FailureOutcome, OutboxEntry, OutboxStore, Result, RetryPolicy,
    SpacecraftId, TenantId, Timestamp,
};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::sink::{Delivery, Sink, SinkOutcome};

/// Settings of a [`Dispatcher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatcherConfig {
    /// The most rows claimed and delivered at once. Default 100.
    pub batch_size: usize,
    /// How long to wait before looking again when the outbox had nothing to do. Default 500 ms.
    pub poll_interval: Duration,
    /// How long a claim holds its rows; rows of a worker that died come back after it.
    /// Default 2 min. Each batch is cut off after half of it.
    pub lease: Duration,
    /// Backoff and the maximum number of attempts.
    pub retry: RetryPolicy,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            batch_size: 100,
            poll_interval: Duration::from_millis(500),
            lease: Duration::from_secs(120),
            retry: RetryPolicy::default(),
        }
    }
}

/// The largest batch: one claim must stay one short transaction.
const MAX_BATCH_SIZE: usize = 10_000;

impl DispatcherConfig {
    /// Checks the settings: [`Error::Invalid`] naming the flag when one cannot work.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_SIZE {
            return Err(Error::invalid(
                "outbox-batch-size",
                format!("must be from 1 to {MAX_BATCH_SIZE}"),
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(Error::invalid("outbox-poll-ms", "must be more than 0"));
        }
        if self.lease < Duration::from_millis(10) {
            return Err(Error::invalid("outbox-lease", "must be at least 10 ms"));
        }
        self.retry.validate()
    }
}

/// What one batch came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Rows claimed.
    pub claimed: usize,
    /// Rows every sink accepted, now marked delivered.
    pub delivered: usize,
    /// Rows whose attempt failed and that will be tried again.
    pub failed: usize,
    /// Rows that failed their last attempt and are now dead.
    pub dead: usize,
    /// Rows not tried because an earlier event of their spacecraft failed; freed untouched.
    pub released: usize,
}

/// Drains an [`OutboxStore`] into [`Sink`]s, at least once, in order per spacecraft.
///
/// Each round claims up to [`DispatcherConfig::batch_size`] rows, groups them by spacecraft
/// (of a tenant),
/// and hands each group to every sink (groups and sinks concurrently, the events of a group in
/// order). A row is marked delivered when every sink accepted it; at a group's first failure
/// that row's attempt is counted (backoff, or dead) and the group's later rows are released
/// untried. A sink that had accepted the failed event gets it again on the retry.
///
/// ```no_run
/// # async fn demo(store: std::sync::Arc<dyn missionops_core::Store>,
/// #               sink: std::sync::Arc<dyn missionops_delivery::Sink>) -> missionops_core::Result<()> {
/// use std::sync::Arc;
/// use missionops_delivery::{Dispatcher, DispatcherConfig};
///
/// // A whole store is an outbox: `Arc::new(store)` hands it over as `Arc<dyn OutboxStore>`.
/// let handle = Dispatcher::new(Arc::new(store), vec![sink], DispatcherConfig::default())?.spawn();
/// // … record events …
/// handle.shutdown().await; // finishes the batch in flight
/// # Ok(()) }
/// ```
pub struct Dispatcher {
    store: Arc<dyn OutboxStore>,
    sinks: Vec<Arc<dyn Sink>>,
    config: DispatcherConfig,
    /// The time leases and backoffs are measured on ([`Dispatcher::with_clock`]).
    clock: Arc<dyn Clock>,
}

/// The system's wall clock: the time a dispatcher claims and backs off by unless told
/// otherwise. Workers sharing a database compare leases by it, so keep it in step (NTP).
#[derive(Debug, Clone, Copy)]
struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp::from_millis_clamped(millis)
    }
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("sinks", &self.sinks)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The outcome of one group of one batch.
struct GroupOutcome {
    /// How many of the group's leading rows every sink accepted.
    accepted: usize,
    /// Why the next row was not accepted, naming the sinks that refused it.
    error: Option<String>,
}

impl Dispatcher {
    /// A dispatcher over `store` delivering to `sinks`. [`Error::Invalid`] when `sinks` is
    /// empty or `config` cannot work.
    pub fn new(
        store: Arc<dyn OutboxStore>,
        sinks: Vec<Arc<dyn Sink>>,
        config: DispatcherConfig,
    ) -> Result<Self> {
        if sinks.is_empty() {
            return Err(Error::invalid(
                "sinks",
                "configure at least one sink (a NATS URL or a webhook URL)",
            ));
        }
        config.validate()?;
        Ok(Dispatcher {
            store,
            sinks,
            config,
            clock: Arc::new(WallClock),
        })
    }

    /// The same dispatcher measuring leases and backoffs on `clock` instead of the system's
    /// wall clock: tests drive them with a [`ManualClock`](missionops_core::ManualClock).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The settings.
    pub fn config(&self) -> &DispatcherConfig {
        &self.config
    }

    /// Runs one round: claims a batch, delivers it and records the outcome. For tests and for
    /// callers that drive delivery themselves; [`spawn`](Self::spawn) loops over it.
    pub async fn run_once(&self) -> Result<BatchReport> {
        let store = self.store.clone();
        let (limit, lease) = (self.config.batch_size, self.config.lease);
        let now = self.clock.now();
        let claim = detached(async move { store.claim(now, limit, lease).await }).await?;
        if claim.entries.is_empty() {
            return Ok(BatchReport::default());
        }
        let claimed = claim.entries.len();
        let groups = group_by_spacecraft(claim.entries);
        // Render every event once; one that cannot be rendered fails its group there.
        let mut prepared: Vec<(Vec<OutboxEntry>, Vec<Delivery>, Option<String>)> = Vec::new();
        for group in groups {
            let mut deliveries = Vec::with_capacity(group.len());
            let mut error = None;
            for entry in &group {
                match Delivery::new(entry.tenant.clone(), entry.event.clone()) {
                    Ok(delivery) => deliveries.push(delivery),
                    Err(e) => {
                        error = Some(format!("cannot render the event: {e}"));
                        break;
                    }
                }
            }
            prepared.push((group, deliveries, error));
        }
        let outcomes = join_all(
            prepared
                .iter()
                .map(|(_, deliveries, _)| self.deliver_group(deliveries)),
        )
        .await;
        let mut delivered = Vec::new();
        let mut released = Vec::new();
        let mut failures = Vec::new();
        for ((group, deliveries, render_error), outcome) in prepared.into_iter().zip(outcomes) {
            let (accepted, error) = match (render_error, outcome.error) {
                (Some(e), _) if outcome.accepted == deliveries.len() => (outcome.accepted, Some(e)),
                (_, error) => (outcome.accepted, error),
            };
            let accepted = accepted.min(group.len());
            delivered.extend(group[..accepted].iter().map(|e| e.sequence));
            if accepted < group.len() {
                let error = error.unwrap_or_else(|| "not accepted".to_owned());
                failures.push((group[accepted].sequence, error));
                released.extend(group[accepted + 1..].iter().map(|e| e.sequence));
            }
        }
        let settled = detached(settle(
            self.store.clone(),
            self.clock.clone(),
            claim.id,
            delivered,
            failures,
            released,
            self.config.retry,
        ))
        .await?;
        Ok(BatchReport { claimed, ..settled })
    }

    /// Delivers one group to every sink at once; the group's accepted prefix is the shortest.
    async fn deliver_group(&self, deliveries: &[Delivery]) -> GroupOutcome {
        if deliveries.is_empty() {
            return GroupOutcome {
                accepted: 0,
                error: None,
            };
        }
        let cutoff = self.config.lease / 2;
        let outcomes = join_all(self.sinks.iter().map(|sink| async move {
            match tokio::time::timeout(cutoff, sink.deliver(deliveries)).await {
                Ok(outcome) => (sink.name(), outcome),
                Err(_) => (
                    sink.name(),
                    SinkOutcome::stopped(
                        0,
                        Error::backend(format!(
                            "gave up after {} ms (half the claim lease)",
                            cutoff.as_millis()
                        )),
                    ),
                ),
            }
        }))
        .await;
        let accepted = outcomes
            .iter()
            .map(|(_, o)| o.accepted.min(deliveries.len()))
            .min()
            .unwrap_or(0);
        let errors: Vec<String> = outcomes
            .iter()
            .filter(|(_, o)| o.accepted.min(deliveries.len()) == accepted)
            .filter_map(|(name, o)| o.error.as_ref().map(|e| format!("{name}: {}", plain(e))))
            .collect();
        GroupOutcome {
            accepted,
            error: if accepted < deliveries.len() {
                Some(if errors.is_empty() {
                    "a sink stopped without saying why".to_owned()
                } else {
                    errors.join("; ")
                })
            } else {
                None
            },
        }
    }

    /// Starts the dispatcher on the current Tokio runtime. It runs a round, and when the round
    /// found a full batch and delivered some of it, runs the next at once; otherwise it waits
    /// for the poll interval, a [`DispatcherHandle::wake`], or shutdown. A failing store is
    /// logged and tried again after the poll interval.
    pub fn spawn(self) -> DispatcherHandle {
        let wake = Arc::new(Notify::new());
        let (stop, mut stopped) = watch::channel(false);
        let notified = wake.clone();
        let task = tokio::spawn(async move {
            tracing::info!(
                sinks = ?self.sinks.iter().map(|s| s.name().to_owned()).collect::<Vec<_>>(),
                batch_size = self.config.batch_size,
                poll_ms = u64::try_from(self.config.poll_interval.as_millis()).unwrap_or(u64::MAX),
                max_attempts = self.config.retry.max_attempts,
                "event delivery started"
            );
            loop {
                if *stopped.borrow() {
                    break;
                }
                let busy = match self.run_once().await {
                    Ok(report) => {
                        if report.claimed > 0 {
                            tracing::debug!(?report, "outbox batch");
                        }
                        report.claimed == self.config.batch_size && report.delivered > 0
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the outbox could not be read or updated; retrying");
                        false
                    }
                };
                if busy {
                    continue;
                }
                tokio::select! {
                    () = tokio::time::sleep(self.config.poll_interval) => {}
                    () = notified.notified() => {}
                    _ = stopped.changed() => {}
                }
            }
            tracing::info!("event delivery stopped");
        });
        DispatcherHandle { wake, stop, task }
    }
}

/// Controls a running [`Dispatcher`].
#[derive(Debug)]
pub struct DispatcherHandle {
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl DispatcherHandle {
    /// Makes the dispatcher look at the outbox now instead of at the end of its poll interval
    /// (after recording events, say).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops the dispatcher: the batch in flight is delivered and recorded, then the task
    /// ends. Rows not yet claimed stay pending for the next start.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the event delivery task failed");
        }
    }

    /// Stops the dispatcher at once, even in the middle of a batch (a store write already
    /// started still completes); what it had claimed and not settled comes back when the lease
    /// runs out. For tests of crash recovery.
    pub fn abort(self) {
        self.task.abort();
    }
}

/// Runs a store operation as a task of its own, so that it completes even when the task that
/// awaits it is aborted: a write cut off halfway could leave a connection unusable (sqlx does
/// not make every step of a transaction cancel-safe), and a claim cut off after its commit
/// only costs a lease.
async fn detached<T: Send + 'static>(
    operation: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    tokio::spawn(operation)
        .await
        .map_err(|e| Error::backend(format!("an outbox operation failed: {e}")))?
}

/// Records a batch's outcome: delivered rows in one write, then each failure, then the rows
/// released untried. Returns the counts (all but `claimed`).
async fn settle(
    store: Arc<dyn OutboxStore>,
    clock: Arc<dyn Clock>,
    claim: ClaimId,
    delivered: Vec<u64>,
    failures: Vec<(u64, String)>,
    released: Vec<u64>,
    retry: RetryPolicy,
) -> Result<BatchReport> {
    let mut report = BatchReport::default();
    if !delivered.is_empty() {
        store.mark_delivered(&delivered).await?;
        report.delivered = delivered.len();
    }
    for (sequence, error) in &failures {
        match store
            .mark_failed(clock.now(), &claim, *sequence, error, &retry)
            .await?
        {
            FailureOutcome::Retry { attempts, after } => {
                report.failed += 1;
                tracing::warn!(
                    sequence,
                    attempts,
                    retry_in_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
                    error = %error,
                    "event delivery failed; will retry"
                );
            }
            FailureOutcome::Dead { attempts } => {
                report.dead += 1;
                tracing::error!(
                    sequence,
                    attempts,
                    error = %error,
                    "event delivery failed for the last time; the event is a dead letter"
                );
            }
            FailureOutcome::NotHeld => {
                tracing::warn!(
                    sequence,
                    "event delivery failed after the claim's lease ran out; left to the worker that holds it now"
                );
            }
        }
    }
    if !released.is_empty() {
        store.release(&claim, &released).await?;
        report.released = released.len();
    }
    Ok(report)
}

/// `entries` (in sequence order) split by spacecraft of a tenant (two tenants' `SC-001` are two
/// groups), each group in sequence order, groups in the order of their first row.
fn group_by_spacecraft(entries: Vec<OutboxEntry>) -> Vec<Vec<OutboxEntry>> {
    let mut index: HashMap<(TenantId, Option<SpacecraftId>), usize> = HashMap::new();
    let mut groups: Vec<Vec<OutboxEntry>> = Vec::new();
    for entry in entries {
        let key = (entry.tenant.clone(), entry.event.spacecraft_id.clone());
        match index.get(&key) {
            Some(&i) => groups[i].push(entry),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![entry]);
            }
        }
    }
    groups
}

/// An error's text without the "storage backend failed: " that [`Error::Backend`] puts in
/// front: a sink's failure is not the store's.
fn plain(error: &Error) -> String {
    match error {
        Error::Backend(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use missionops_core::{EventId, EventType, JsonObject, MissionEvent, Severity, Timestamp};

    use super::*;

    fn entry(sequence: u64, spacecraft: Option<&str>) -> OutboxEntry {
        entry_of("default", sequence, spacecraft)
    }

    fn entry_of(tenant: &str, sequence: u64, spacecraft: Option<&str>) -> OutboxEntry {
        OutboxEntry {
            sequence,
            attempts: 0,
            tenant: TenantId::parse(tenant).expect("tenant"),
            event: MissionEvent {
                id: EventId::parse(format!("ev-{sequence}")).expect("id"),
                sequence,
                spacecraft_id: spacecraft.map(|s| SpacecraftId::parse(s).expect("spacecraft")),
                timestamp: Timestamp::from_millis(0).expect("time"),
                event_type: EventType::Info,
                severity: Severity::Low,
                message: "m".to_owned(),
                metadata: JsonObject::new(),
            },
        }
    }

    #[test]
    fn groups_keep_sequence_order_and_first_appearance() {
        let groups = group_by_spacecraft(vec![
            entry(1, Some("A")),
            entry(2, None),
            entry(3, Some("B")),
            entry(4, Some("A")),
            entry(5, None),
        ]);
        let sequences: Vec<Vec<u64>> = groups
            .iter()
            .map(|g| g.iter().map(|e| e.sequence).collect())
            .collect();
        assert_eq!(sequences, vec![vec![1, 4], vec![2, 5], vec![3]]);
    }

    #[test]
    fn two_tenants_spacecraft_of_one_id_are_two_groups() {
        let groups = group_by_spacecraft(vec![
            entry_of("acme", 1, Some("SC-001")),
            entry_of("zenith", 2, Some("SC-001")),
            entry_of("acme", 3, Some("SC-001")),
        ]);
        let sequences: Vec<Vec<u64>> = groups
            .iter()
            .map(|g| g.iter().map(|e| e.sequence).collect())
            .collect();
        assert_eq!(sequences, vec![vec![1, 3], vec![2]]);
    }

    #[test]
    fn configs_that_cannot_work_name_their_flag() {
        let bad = DispatcherConfig {
            batch_size: 0,
            ..DispatcherConfig::default()
        };
        let err = bad.validate().expect_err("zero batch");
        assert!(err.to_string().starts_with("outbox-batch-size:"), "{err}");
        let bad = DispatcherConfig {
            poll_interval: Duration::ZERO,
            ..DispatcherConfig::default()
        };
        assert!(bad.validate().is_err());
        assert!(DispatcherConfig::default().validate().is_ok());
    }
}
