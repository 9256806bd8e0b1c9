//! A store that records the telemetry writes it is given, for tests of the services above a
//! store: which writes were handed over together as one group (one transaction on a backend
//! that commits groups together), and which alone; and whose recent history was read (what
//! rebuilds a monitor).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use missionops_core::{SpacecraftId, Store, TelemetryWrite};

use super::intercept::{Intercepted, Interceptor};

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

/// Records the telemetry calls it sees, oldest first.
#[derive(Debug, Default)]
pub struct Recorder {
    calls: Mutex<Vec<Recorded>>,
    history_reads: Mutex<Vec<SpacecraftId>>,
}

impl Recorder {
    /// The telemetry calls so far, oldest first.
    pub fn calls(&self) -> Vec<Recorded> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The spacecraft whose recent history was read (`recent_telemetry`), oldest first.
    pub fn history_reads(&self) -> Vec<SpacecraftId> {
        self.history_reads
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    fn record(&self, call: Recorded) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
    }
}

#[async_trait]
impl Interceptor for Recorder {
    async fn before_insert(&self, write: &TelemetryWrite) {
        self.record(Recorded::Single(write.clone()));
    }

    async fn before_insert_group(&self, writes: &[TelemetryWrite]) {
        self.record(Recorded::Group(writes.to_vec()));
    }

    async fn before_recent_telemetry(&self, spacecraft: &SpacecraftId) {
        if let Ok(mut reads) = self.history_reads.lock() {
            reads.push(spacecraft.clone());
        }
    }
}

/// Forwards every call to the store inside, and records the telemetry writes.
pub type RecordingStore = Intercepted<Recorder>;

impl RecordingStore {
    /// Records the writes given to `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Intercepted::wrap(inner, Recorder::default())
    }
}
