//! Application services: the use cases every frontend calls, one concern per file.
//!
//! - [`app`](self::app): the [`MissionOps`] handle, its ports and the caches clones share.
//! - `spacecraft`, `config`: registration and configuration versions; `rules_cache`: the
//!   compiled rules of each configuration version; `config_diff`: the diff a
//!   `CONFIG_CHANGED` event carries.
//! - `ingest/`: telemetry in, live (through the streaming monitor, with group commit) or
//!   played back; `monitor_slots`: each spacecraft's streaming monitor between writes; `deadlines`:
//!   when each monitor is next due for the tick.
//! - `analysis`: analyse and detect; `anomalies`: reads of persisted anomalies.
//! - `status`: a spacecraft's compat status and the fleet overview.
//! - `telemetry_reads`: newest snapshots, latest values, series, export pages;
//!   `recent_window_cache`: the newest snapshots dashboards poll.
//! - `documents`, `events`: documents and the event history.
//! - `alarms`: the operator's acknowledge, shelve and unshelve; `tick`: the clock tick.
//! - `keys`: API keys of a tenant and what authentication asks of the store.
//! - `packets`: packet definitions and packet ingest (SPEC §11).
//! - `outbox`: event delivery as operators see it (statistics, dead letters, retry).
//! - `seed`: the demo seeders; `views`: answers shaped as the HTTP API renders them.

mod alarms;
mod analysis;
mod anomalies;
mod app;
mod change_feed;
mod config;
mod config_diff;
mod deadlines;
mod documents;
mod events;
mod ingest;
mod keys;
mod monitor_slots;
mod outbox;
mod packets;
mod recent_window_cache;
mod rules_cache;
mod seed;
mod spacecraft;
mod status;
mod status_runs;
mod telemetry_reads;
mod tick;
mod views;

pub use alarms::{AlarmListing, MAX_COMMENT_CHARS};
pub use analysis::{ANALYSIS_PAGE_SNAPSHOTS, AnalysisWindow, MAX_WINDOW_SNAPSHOTS, RangeAnalysis};
pub use anomalies::TimelinePages;
pub use app::MissionOps;
pub use ingest::{BatchIngest, IngestMode, MAX_BATCH_SNAPSHOTS};
pub use monitor_slots::REBUILD_HISTORY;
pub use outbox::RetryReport;
pub use packets::PacketDefinitionView;
pub use seed::{ProfileSeedReport, SeedOptions, SeedProgress, SeedReport, SeededDocument};
pub use status::{AnomalyCounts, FleetEntry, OverallStatus, SpacecraftStatus};
pub use telemetry_reads::{LatestView, MAX_SERIES_BUCKETS, ParameterState};
pub use tick::TickReport;
pub use views::{
    BatchReceipt, ConfigView, DetectReport, IngestReceipt, SpacecraftListItem, SpacecraftListing,
};
