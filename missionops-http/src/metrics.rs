//! Prometheus metrics of the service (`GET /metrics`).

use std::sync::{Mutex, OnceLock};

use missionops_core::{OutboxStats, PacketCounts};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboxLabels {
    state: &'static str,
}

/// The method as a label: a standard method by name, anything else as `OTHER`. A client can
/// send any token as a method; each would otherwise add a counter that lives for ever.
fn method_label(method: &str) -> &'static str {
    const STANDARD: [&str; 9] = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];
    STANDARD
        .into_iter()
        .find(|m| *m == method)
        .unwrap_or("OTHER")
}

fn latency_histogram() -> Histogram {
    // 0.1 ms to ~1.6 s.
    Histogram::new(exponential_buckets(0.000_1, 2.0, 15))
}

/// Request counts and latencies by route, telemetry throughput, and the delivery outbox.
pub struct Metrics {
    /// The registry is only read when rendering; a mutex keeps `encode` simple.
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    snapshots: Counter,
    /// Space Packets received, of unknown APIDs, and malformed (skipped).
    packets: Counter,
    unknown_apid: Counter,
    malformed: Counter,
    /// Outbox rows by state; registered on first use, so that a server without an outbox
    /// shows no outbox metric rather than zeros.
    outbox: OnceLock<Family<OutboxLabels, Gauge>>,
    /// How long each monitor tick took, and how many monitors the last one visited (SPEC §8
    /// "Fleet scale": a tick costs what is due, not the fleet).
    tick_duration: Histogram,
    tick_spacecraft: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("missionops");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let snapshots = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by route",
            latency.clone(),
        );
        registry.register(
            "telemetry_snapshots_ingested",
            "Telemetry snapshots accepted over HTTP",
            snapshots.clone(),
        );
        let packets = Counter::default();
        let unknown_apid = Counter::default();
        let malformed = Counter::default();
        registry.register(
            "packets_received",
            "Space Packets received over HTTP (decoded, of an unknown APID or malformed)",
            packets.clone(),
        );
        registry.register(
            "packets_unknown_apid",
            "Space Packets of an APID the definition does not know, skipped",
            unknown_apid.clone(),
        );
        registry.register(
            "packets_malformed",
            "Malformed Space Packets skipped (onError=skip)",
            malformed.clone(),
        );
        let tick_duration = latency_histogram();
        let tick_spacecraft = Gauge::default();
        registry.register(
            "monitor_tick_duration_seconds",
            "Time each clock tick of the monitors took (staleness, lost contact, unshelving)",
            tick_duration.clone(),
        );
        registry.register(
            "monitor_tick_spacecraft",
            "Monitors the last clock tick visited (those due)",
            tick_spacecraft.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            requests,
            latency,
            snapshots,
            packets,
            unknown_apid,
            malformed,
            outbox: OnceLock::new(),
            tick_duration,
            tick_spacecraft,
        }
    }

    /// Sets the outbox gauges (`missionops_outbox_events{state="pending|delivered|dead"}`).
    pub fn outbox(&self, stats: &OutboxStats) {
        let family = self.outbox.get_or_init(|| {
            let family = Family::<OutboxLabels, Gauge>::default();
            if let Ok(mut registry) = self.registry.lock() {
                registry.register(
                    "outbox_events",
                    "Recorded events in the delivery outbox, by state",
                    family.clone(),
                );
            }
            family
        });
        for (state, count) in [
            ("pending", stats.pending),
            ("delivered", stats.delivered),
            ("dead", stats.dead),
        ] {
            family
                .get_or_create(&OutboxLabels { state })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Records one answered request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method_label(method),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// Records one monitor tick that took `seconds` and visited `spacecraft` monitors.
    pub fn tick(&self, seconds: f64, spacecraft: usize) {
        self.tick_duration.observe(seconds);
        self.tick_spacecraft
            .set(i64::try_from(spacecraft).unwrap_or(i64::MAX));
    }

    /// Counts accepted snapshots.
    pub fn snapshots_ingested(&self, count: usize) {
        self.snapshots.inc_by(count as u64);
    }

    /// Counts the packets of an accepted packet request.
    pub fn packets(&self, counts: &PacketCounts) {
        self.packets.inc_by(counts.packets as u64);
        self.unknown_apid.inc_by(counts.unknown_apid as u64);
        self.malformed.inc_by(counts.malformed as u64);
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            // Writing into a String cannot fail.
            let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        }
        out
    }
}
