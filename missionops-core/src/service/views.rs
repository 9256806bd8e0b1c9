//! What the application services answer with, shaped as the HTTP API renders it (SPEC §5).

use serde::Serialize;

use crate::domain::{
    ConfigRecord, ConfigSource, ConfigStatus, JsonObject, MissionType, Spacecraft,
    SpacecraftConfig, SpacecraftId, SpacecraftName, Timestamp,
};
use crate::ports::IngestOutcome;

/// `GET /spacecraft/:id/config`: a spacecraft's current configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigView {
    /// The spacecraft.
    pub spacecraft_id: SpacecraftId,
    /// The document.
    pub config: SpacecraftConfig,
    /// Approved or draft.
    pub status: ConfigStatus,
    /// Where it came from.
    pub source: Option<ConfigSource>,
    /// Its version.
    pub version: u32,
}

impl From<ConfigRecord> for ConfigView {
    fn from(record: ConfigRecord) -> Self {
        ConfigView {
            spacecraft_id: record.spacecraft_id,
            config: record.config,
            status: record.status,
            source: record.source,
            version: record.version,
        }
    }
}

/// One item of `GET /spacecraft`: the old service's fields plus name and mission type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpacecraftListItem {
    /// The id.
    pub spacecraft_id: SpacecraftId,
    /// The human name.
    pub name: SpacecraftName,
    /// The mission type.
    pub mission_type: MissionType,
    /// The current configuration document, `null` when none.
    pub config: Option<SpacecraftConfig>,
    /// Its status, `null` when none.
    pub status: Option<ConfigStatus>,
    /// Its source, `null` when none.
    pub source: Option<ConfigSource>,
    /// Free-form fields.
    pub metadata: JsonObject,
    /// When the spacecraft was registered.
    pub created_at: Timestamp,
    /// When it or its configuration last changed.
    pub updated_at: Timestamp,
}

impl SpacecraftListItem {
    pub(crate) fn new(spacecraft: Spacecraft, config: Option<ConfigRecord>) -> Self {
        let updated_at = config.as_ref().map_or(spacecraft.updated_at, |c| {
            c.created_at.max(spacecraft.updated_at)
        });
        let (config, status, source) = match config {
            Some(record) => (Some(record.config), Some(record.status), record.source),
            None => (None, None, None),
        };
        SpacecraftListItem {
            spacecraft_id: spacecraft.id,
            name: spacecraft.name,
            mission_type: spacecraft.mission_type,
            config,
            status,
            source,
            metadata: spacecraft.metadata,
            created_at: spacecraft.created_at,
            updated_at,
        }
    }
}

/// `GET /spacecraft`: one page of spacecraft.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpacecraftListing {
    /// How many spacecraft exist.
    pub total: u64,
    /// How many are on this page.
    pub count: usize,
    /// The page size used.
    pub limit: usize,
    /// The offset used.
    pub offset: u64,
    /// The page.
    pub items: Vec<SpacecraftListItem>,
}

/// The answer to an ingest of one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestReceipt {
    /// The snapshot's id, as given or generated.
    pub id: crate::domain::SnapshotId,
    /// Whether it was already stored with the same content.
    #[serde(skip)]
    pub duplicate: bool,
}

/// The answer to a batch ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchReceipt {
    /// How many snapshots the batch held (the compat `count`).
    pub count: usize,
    /// What the store did with them.
    #[serde(skip)]
    pub outcome: IngestOutcome,
}

/// The answer to detect-and-persist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectReport {
    /// Anomalies found in the window.
    pub detected: usize,
    /// Of those, how many were new and stored.
    pub persisted: usize,
}
