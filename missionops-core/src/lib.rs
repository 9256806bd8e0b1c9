//! # missionops-core
//!
//! The pure heart of MissionOps: the domain of spacecraft operations data, the rule engine that
//! turns telemetry into anomalies, the ports through which storage, time and ids come in, and
//! the application services every frontend calls. No IO, no clock, no environment: the same
//! code runs in the HTTP service, the CLI and your own program.
//!
//! - Domain values are parsed once, at the edge, into types that cannot hold bad data:
//!   [`SpacecraftId`], [`ParameterName`], [`Timestamp`], [`Parameters`], [`SpacecraftConfig`], …
//! - [`CompiledRules`] compiles a configuration's limits once per version; [`analyse`] and
//!   [`Evaluator`] run them (SPEC §3).
//! - [`Store`] and its repository traits, the [`OutboxStore`] of recorded events, [`Clock`] and
//!   [`IdGenerator`] are the ports; `missionops-store` implements them, and
//!   `missionops-delivery` drains the outbox to NATS and webhooks.
//! - [`MissionOps`] holds the use cases.
//! - [`DemoProfile`] and [`SnapshotGenerator`] simulate the four demo spacecraft from a seed;
//!   [`MissionOps::seed_demo_data`] and [`MissionOps::seed_demo_docs`] seed a store with them
//!   (SPEC §7).
//!
//! ```
//! use std::sync::Arc;
//! use missionops_core::{CompiledRules, AnalysisContext, TelemetrySnapshot, Timestamp, analyse};
//!
//! let config = serde_json::json!({"parameters": {"temp": {"warnHigh": 45, "critHigh": 70}}});
//! let rules = CompiledRules::compile(config.as_object().unwrap())?;
//! let snapshot: TelemetrySnapshot = serde_json::from_str(
//!     r#"{"id":"s1","spacecraftId":"SC-001","timestamp":"2025-01-01T00:00:00Z",
//!         "parameters":{"temp":50,"mode":"CRUISE"}}"#,
//! )?;
//! let now = Timestamp::parse("2025-01-01T00:00:01Z")?;
//! let context = AnalysisContext { detected_at: now, window_start: None, window_end: None };
//! let anomalies = analyse(&rules, &[snapshot], context);
//! assert_eq!(anomalies[0].description, "Parameter temp above warnHigh 45");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//! - `domain`: parsed value types and records (one concept per file).
//! - `rules`: configuration → compiled rules → anomalies.
//! - `ports`: the traits adapters implement (the outbox and its retry policy included), plus a
//!   manual clock and sequential ids for tests.
//! - `service`: [`MissionOps`], the use cases.
//! - `simulation`: the demo profiles, the seeded telemetry generator and the demo documents.
//! - `js_json`: JSON rendering with JavaScript number formatting, public as [`json`].
//! - `error`: the one [`Error`] of this crate.

#![deny(missing_docs)]

mod domain;
mod error;
mod js_json;
mod ports;
mod rules;
mod service;
mod simulation;

/// JSON output with JavaScript's number formatting (`25`, `0.5`, `1e-7`, never `25.0`), so that
/// every frontend renders exactly what the TypeScript service rendered.
pub mod json {
    pub use crate::js_json::{
        JsNumberFormatter, format_js_number, to_string_pretty_js, to_vec_js, write_js,
        write_js_number,
    };
}

pub use domain::{
    Actor, Alarm, AlarmCursor, AlarmFilter, AlarmId, AlarmState, AlarmStates, Anomaly, AnomalyId,
    AnomalyKind, ApiKey, ApiKeyId, BatchSnapshot, BucketWidth, Caller, CompatAnomaly, ConfigRecord,
    ConfigSource, ConfigStatus, DocumentBody, DocumentCategory, DocumentFilter, DocumentId,
    DocumentTitle, EventFilter, EventId, EventType, JsonObject, KeyLifetime, KeyName, LatestValue,
    Layout, LayoutInterner, Limit, MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_CONFIG_PARAMETERS,
    MAX_METADATA_BYTES, MAX_METADATA_DEPTH, MAX_METADATA_KEYS, MAX_PARAMETERS, MAX_TAGS,
    MAX_TEXT_VALUE_LEN, MissionEvent, MissionType, NewDocument, NewEvent, NewSnapshot,
    NewSnapshotBatch, NewSpacecraft, Operator, OpsDocument, ParameterName, ParameterValue,
    Parameters, Role, SearchQuery, SecretHash, SeriesBucket, Severity, SnapshotId, Spacecraft,
    SpacecraftConfig, SpacecraftId, SpacecraftName, Tag, Tags, TelemetrySnapshot, TenantId,
    Timestamp, check_metadata,
};
pub use error::{BoxError, Error, MAX_FIELD_CHARS, MAX_REASON_CHARS, QUOTE_CHARS, Result, quote};
pub use ports::{
    AlarmPage, AlarmRepository, AnomalyCount, AnomalyPage, AnomalyRepository, Claim, ClaimId,
    Clock, CompiledPackets, ConfigChanges, ConfigRepository, DeadLetter, DecodedPackets,
    DocumentRepository, EventRepository, FailureOutcome, GroupOutcome, IdGenerator, IngestOutcome,
    KeyRepository, ManualClock, OnPacketError, OpenAlarmSummary, OutboxEntry, OutboxStats,
    OutboxStore, PacketCounts, PacketDecoding, PacketDefinitionRecord, PacketDefinitionRepository,
    PacketValues, RangeCursor, RangePages, Registration, RetryPolicy, RetrySelection,
    SequentialIds, SpacecraftPage, SpacecraftRepository, Store, TelemetryPage, TelemetryRepository,
    TelemetryWrite, WriteProbe, insert_one_by_one,
};
pub use rules::{
    AnalysisContext, CompiledRules, DeriveScratch, DerivedParameters, Evaluator, Extensions,
    LastValues, LimitSet, MAX_DERIVED, MonitorContext, MonitorOutput, Program, RateLimits, Rule,
    Scalar, Severities, SpacecraftMonitor, ThresholdViolation, Thresholds, WindowAnalysis, analyse,
};
pub use service::{
    ANALYSIS_PAGE_SNAPSHOTS, AlarmListing, AnalysisWindow, AnomalyCounts, BatchIngest,
    BatchReceipt, ConfigView, DetectReport, FleetEntry, IngestMode, IngestReceipt, LatestView,
    MAX_BATCH_SNAPSHOTS, MAX_COMMENT_CHARS, MAX_SERIES_BUCKETS, MAX_WINDOW_SNAPSHOTS, MissionOps,
    OverallStatus, PacketDefinitionView, ParameterState, REBUILD_HISTORY, RangeAnalysis,
    RetryReport, SpacecraftListItem, SpacecraftListing, SpacecraftStatus, TickReport,
    TimelinePages,
};
pub use service::{ProfileSeedReport, SeedOptions, SeedProgress, SeedReport, SeededDocument};
pub use simulation::{
    Behaviour, DemoProfile, ParameterModel, SAT_IMAGER_001_PACKET_DEFINITION, SnapshotGenerator,
};
