//! Mission events: the history of everything that changed.

use serde::{Deserialize, Serialize};

use super::ids::{EventId, SpacecraftId};
use super::limit::Limit;
use super::severity::Severity;
use super::spacecraft::JsonObject;
use super::time::Timestamp;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    /// An anomaly was recorded or an alarm raised.
    Anomaly,
    /// An alarm cleared.
    AnomalyCleared,
    /// An operator acknowledged an alarm.
    AlarmAcknowledged,
    /// A configuration changed.
    ConfigChanged,
    /// A document was published.
    DocumentPublished,
    /// A document was updated.
    DocumentUpdated,
    /// A spacecraft was registered.
    SpacecraftRegistered,
    /// Every parameter of a spacecraft went stale.
    ContactLost,
    /// A spacecraft changed mode.
    ModeChange,
    /// A command was sent.
    CommandSent,
    /// Anything else worth recording.
    Info,
}

impl EventType {
    /// Every type, in declaration order.
    pub const ALL: [EventType; 11] = [
        EventType::Anomaly,
        EventType::AnomalyCleared,
        EventType::AlarmAcknowledged,
        EventType::ConfigChanged,
        EventType::DocumentPublished,
        EventType::DocumentUpdated,
        EventType::SpacecraftRegistered,
        EventType::ContactLost,
        EventType::ModeChange,
        EventType::CommandSent,
        EventType::Info,
    ];

    /// The upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Anomaly => "ANOMALY",
            EventType::AnomalyCleared => "ANOMALY_CLEARED",
            EventType::AlarmAcknowledged => "ALARM_ACKNOWLEDGED",
            EventType::ConfigChanged => "CONFIG_CHANGED",
            EventType::DocumentPublished => "DOCUMENT_PUBLISHED",
            EventType::DocumentUpdated => "DOCUMENT_UPDATED",
            EventType::SpacecraftRegistered => "SPACECRAFT_REGISTERED",
            EventType::ContactLost => "CONTACT_LOST",
            EventType::ModeChange => "MODE_CHANGE",
            EventType::CommandSent => "COMMAND_SENT",
            EventType::Info => "INFO",
        }
    }

    /// Parses the upper-case name.
    pub fn parse(value: &str) -> crate::Result<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == value)
            .ok_or_else(|| {
                crate::Error::invalid(
                    "type",
                    format!("unknown event type {}", crate::error::quote(value)),
                )
            })
    }
}

/// An event about to be recorded; the store gives it its `sequence`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The id.
    pub id: EventId,
    /// The spacecraft concerned, if one.
    pub spacecraft_id: Option<SpacecraftId>,
    /// When it happened.
    pub timestamp: Timestamp,
    /// What happened.
    pub event_type: EventType,
    /// How much it matters.
    pub severity: Severity,
    /// A sentence for people.
    pub message: String,
    /// Structured detail (a config diff, an anomaly's fields, …).
    pub metadata: JsonObject,
}

impl NewEvent {
    /// Metadata from a JSON value built with `json!`: the object itself, or an empty object
    /// for anything else.
    pub fn metadata_of(value: serde_json::Value) -> JsonObject {
        match value {
            serde_json::Value::Object(map) => map,
            _ => JsonObject::new(),
        }
    }

    /// The recorded event with its store-assigned `sequence`.
    pub fn recorded(self, sequence: u64) -> MissionEvent {
        MissionEvent {
            id: self.id,
            sequence,
            spacecraft_id: self.spacecraft_id,
            timestamp: self.timestamp,
            event_type: self.event_type,
            severity: self.severity,
            message: self.message,
            metadata: self.metadata,
        }
    }
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MissionEvent {
    /// The id.
    pub id: EventId,
    /// Gap-free and increasing within a store: the order events were recorded in.
    pub sequence: u64,
    /// The spacecraft concerned, if one.
    pub spacecraft_id: Option<SpacecraftId>,
    /// When it happened.
    pub timestamp: Timestamp,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// How much it matters.
    pub severity: Severity,
    /// A sentence for people.
    pub message: String,
    /// Structured detail.
    pub metadata: JsonObject,
}

/// Which events to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this spacecraft's; all when `None`.
    pub spacecraft_id: Option<SpacecraftId>,
    /// Only events with a sequence above this (for resuming a stream).
    pub after_sequence: Option<u64>,
    /// At most this many.
    pub limit: Limit,
}
