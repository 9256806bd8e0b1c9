//! The domain: parsed value types and the records built from them.

mod access;
mod alarm;
mod anomaly;
mod content_id;
mod document;
mod event;
mod event_payloads;
mod ids;
mod json_limits;
mod limit;
mod serde_f64;
mod series;
mod severity;
mod snapshot;
mod spacecraft;
pub(crate) mod text;
mod time;
mod value;

pub use access::{
    Actor, ApiKey, ApiKeyId, Caller, KeyLifetime, KeyName, Role, SecretHash, TenantId,
};
pub use alarm::{Alarm, AlarmCursor, AlarmFilter, AlarmState, AlarmStates};
pub use anomaly::{Anomaly, CompatAnomaly};
pub use document::{
    DocumentBody, DocumentFilter, MAX_TAGS, NewDocument, OpsDocument, SearchQuery, Tags,
};
pub use event::{EventFilter, EventType, MissionEvent, NewEvent};
pub(crate) use event_payloads::{AlarmStep, EventStamp};
pub use ids::{
    AlarmId, AnomalyId, DocumentCategory, DocumentId, DocumentTitle, EventId, MissionType,
    Operator, ParameterName, SnapshotId, SpacecraftId, SpacecraftName, Tag,
};
pub use json_limits::{
    MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_CONFIG_PARAMETERS, MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH, MAX_METADATA_KEYS, check_metadata,
};
pub use limit::Limit;
pub use series::{BucketWidth, LatestValue, SeriesBucket};
pub use severity::{AnomalyKind, Severity};
pub use snapshot::{BatchSnapshot, NewSnapshot, NewSnapshotBatch, TelemetrySnapshot};
pub use spacecraft::{
    ConfigRecord, ConfigSource, ConfigStatus, JsonObject, NewSpacecraft, Spacecraft,
    SpacecraftConfig,
};
pub use time::Timestamp;
pub use value::{
    Layout, LayoutInterner, MAX_PARAMETERS, MAX_TEXT_VALUE_LEN, ParameterValue, Parameters,
};
