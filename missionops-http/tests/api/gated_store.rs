//! A store that holds chosen calls until the test lets them through: how a test makes "a
//! request is in flight" or "the stream is between two pages" a fact rather than a guess about
//! timing. Every method delegates to the real store; the telemetry writes wait at
//! [`Gates::writes`], `events_after` (the event stream's pages) at [`Gates::event_pages`].

#![allow(dead_code)] // each test uses one gate

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use missionops_core::TelemetryWrite;
use missionops_store::conformance::intercept::{Intercepted, Interceptor};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy)]
struct GateState {
    /// How many more calls may pass; `None`: every call passes.
    allowance: Option<usize>,
    /// Calls waiting at the gate now.
    waiting: usize,
    /// Calls that went through so far.
    passed: usize,
}

/// Where calls of one kind wait. Open when made; clones share the gate.
#[derive(Debug, Clone)]
pub struct Gate(Arc<watch::Sender<GateState>>);

impl Default for Gate {
    fn default() -> Self {
        Gate(Arc::new(watch::Sender::new(GateState {
            allowance: None,
            waiting: 0,
            passed: 0,
        })))
    }
}

/// Takes a waiting call off the count when it leaves, let through or cancelled.
struct Waiting<'a>(&'a Gate);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.0.send_modify(|s| s.waiting -= 1);
    }
}

impl Gate {
    /// Lets `count` more calls through, then holds every later one.
    pub fn hold_after(&self, count: usize) {
        self.0.send_modify(|s| s.allowance = Some(count));
    }

    /// Lets every call through, the waiting ones first.
    pub fn open(&self) {
        self.0.send_modify(|s| s.allowance = None);
    }

    /// How many calls went through so far.
    pub fn passed(&self) -> usize {
        self.0.borrow().passed
    }

    /// Waits until `count` calls are held at the gate (panics after 20 s).
    pub async fn until_waiting(&self, count: usize) {
        let mut state = self.0.subscribe();
        tokio::time::timeout(
            Duration::from_secs(20),
            state.wait_for(|s| s.waiting >= count),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{count} calls should be held at the gate; {} are",
                self.0.borrow().waiting
            )
        })
        .expect("the gate outlives its waiters");
    }

    /// Passes now if the gate lets this call through, else waits until it is opened.
    async fn pass(&self) {
        let mut admitted = false;
        self.0.send_modify(|s| match s.allowance {
            None => admitted = true,
            Some(0) => s.waiting += 1,
            Some(left) => {
                s.allowance = Some(left - 1);
                admitted = true;
            }
        });
        if !admitted {
            let _waiting = Waiting(self);
            let mut state = self.0.subscribe();
            let _ = state.wait_for(|s| s.allowance.is_none()).await;
        }
        self.0.send_modify(|s| s.passed += 1);
    }
}

/// The real store behind two gates (the store derefs to its [`Gates`]).
pub type GatedStore = Intercepted<Gates>;

/// The gates of a [`GatedStore`], open when made.
#[derive(Default)]
pub struct Gates {
    /// Telemetry writes (`insert_telemetry`, `insert_telemetry_group`): one pass per call.
    pub writes: Gate,
    /// `events_after`: one pass per page an event stream reads.
    pub event_pages: Gate,
}

#[async_trait]
impl Interceptor for Gates {
    async fn before_insert(&self, _write: &TelemetryWrite) {
        self.writes.pass().await;
    }

    async fn before_insert_group(&self, _writes: &[TelemetryWrite]) {
        self.writes.pass().await;
    }

    async fn before_events_after(&self) {
        self.event_pages.pass().await;
    }
}
