//! What each kind of event says: one constructor per event kind, the only place the message,
//! severity and metadata of an event are written. Every use case and the streaming monitor
//! record events through these, so that one kind of event reads the same wherever it comes from.

use serde_json::{Value, json};

use super::alarm::Alarm;
use super::anomaly::Anomaly;
use super::document::OpsDocument;
use super::event::{EventType, NewEvent};
use super::ids::{EventId, Operator, SpacecraftId};
use super::severity::Severity;
use super::spacecraft::{ConfigRecord, JsonObject, Spacecraft};
use super::time::Timestamp;

/// The id and time of an event about to be recorded, from the application's id generator and
/// clock.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventStamp {
    /// The event's id.
    pub id: EventId,
    /// When it happened.
    pub timestamp: Timestamp,
}

/// Which step of an alarm an `ANOMALY` event announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AlarmStep {
    /// The alarm opened with this anomaly.
    Raised,
    /// The open alarm's severity rose with this anomaly.
    Escalated,
}

impl AlarmStep {
    fn as_str(self) -> &'static str {
        match self {
            AlarmStep::Raised => "raised",
            AlarmStep::Escalated => "escalated",
        }
    }
}

impl NewEvent {
    fn stamped(
        stamp: EventStamp,
        spacecraft: Option<&SpacecraftId>,
        event_type: EventType,
        severity: Severity,
        message: String,
        metadata: Value,
    ) -> NewEvent {
        NewEvent {
            id: stamp.id,
            spacecraft_id: spacecraft.cloned(),
            timestamp: stamp.timestamp,
            event_type,
            severity,
            message,
            metadata: NewEvent::metadata_of(metadata),
        }
    }

    /// An event whose type, severity, message and metadata the caller gives (an operator's or
    /// an integration's informational event).
    pub(crate) fn custom(
        stamp: EventStamp,
        spacecraft: Option<&SpacecraftId>,
        event_type: EventType,
        severity: Severity,
        message: String,
        metadata: JsonObject,
    ) -> NewEvent {
        let metadata = Value::Object(metadata);
        Self::stamped(stamp, spacecraft, event_type, severity, message, metadata)
    }

    /// `SPACECRAFT_REGISTERED`; `implicit` when data for an unknown id registered it.
    pub(crate) fn spacecraft_registered(
        stamp: EventStamp,
        spacecraft: &Spacecraft,
        implicit: bool,
    ) -> NewEvent {
        Self::stamped(
            stamp,
            Some(&spacecraft.id),
            EventType::SpacecraftRegistered,
            Severity::Low,
            format!(
                "Spacecraft {} ({}) registered",
                spacecraft.id, spacecraft.name
            ),
            json!({
                "name": spacecraft.name,
                "missionType": spacecraft.mission_type,
                "implicit": implicit,
            }),
        )
    }

    /// `CONFIG_CHANGED`: `record` is the new version, `diff` the changes from `previous`.
    pub(crate) fn config_changed(
        stamp: EventStamp,
        record: &ConfigRecord,
        previous: Option<u32>,
        diff: Value,
    ) -> NewEvent {
        let id = &record.spacecraft_id;
        let version = record.version;
        Self::stamped(
            stamp,
            Some(id),
            EventType::ConfigChanged,
            Severity::Low,
            format!("Configuration of {id} changed to version {version}"),
            json!({
                "version": version,
                "previousVersion": previous,
                "status": record.status,
                "source": record.source,
                "diff": diff,
            }),
        )
    }

    /// `CONFIG_CHANGED` for a packet definition (SPEC §11): its version and the parameters it
    /// added and removed against the previous version.
    pub(crate) fn packet_definition_changed(
        stamp: EventStamp,
        spacecraft: &SpacecraftId,
        version: u32,
        previous: Option<u32>,
        added: &[String],
        removed: &[String],
    ) -> NewEvent {
        Self::stamped(
            stamp,
            Some(spacecraft),
            EventType::ConfigChanged,
            Severity::Low,
            format!(
                "Packet definition of {spacecraft} changed to version {version} ({} parameters \
                 added, {} removed)",
                added.len(),
                removed.len()
            ),
            json!({
                "packetDefinition": true,
                "version": version,
                "previousVersion": previous,
                "parametersAdded": added,
                "parametersRemoved": removed,
            }),
        )
    }

    /// `DOCUMENT_PUBLISHED`.
    pub(crate) fn document_published(stamp: EventStamp, document: &OpsDocument) -> NewEvent {
        Self::document(stamp, document, EventType::DocumentPublished, "published")
    }

    /// `DOCUMENT_UPDATED`.
    pub(crate) fn document_updated(stamp: EventStamp, document: &OpsDocument) -> NewEvent {
        Self::document(stamp, document, EventType::DocumentUpdated, "updated")
    }

    fn document(
        stamp: EventStamp,
        document: &OpsDocument,
        event_type: EventType,
        verb: &str,
    ) -> NewEvent {
        Self::stamped(
            stamp,
            document.spacecraft_id.as_ref(),
            event_type,
            Severity::Low,
            format!("Document \"{}\" {verb}", document.title),
            json!({
                "documentId": document.id,
                "version": document.version,
                "category": document.category,
                "tags": document.tags,
            }),
        )
    }

    /// `ANOMALY`: an anomaly recorded, by detect (no alarm) or by the streaming monitor as it
    /// raises or escalates `alarm`. The message is the anomaly's description.
    pub(crate) fn anomaly(
        stamp: EventStamp,
        anomaly: &Anomaly,
        alarm: Option<(&Alarm, AlarmStep)>,
    ) -> NewEvent {
        let mut metadata = JsonObject::new();
        if let Some((alarm, step)) = alarm {
            metadata.insert("alarmId".to_owned(), json!(alarm.id));
            metadata.insert("alarm".to_owned(), json!(step.as_str()));
        }
        metadata.insert("anomalyId".to_owned(), json!(anomaly.id));
        metadata.insert("parameter".to_owned(), json!(anomaly.parameter));
        metadata.insert("kind".to_owned(), json!(anomaly.kind));
        metadata.insert("value".to_owned(), json!(anomaly.value));
        metadata.insert("limit".to_owned(), json!(anomaly.limit));
        metadata.insert("sampleTimestamp".to_owned(), json!(anomaly.timestamp));
        if let Some((alarm, _)) = alarm {
            metadata.insert("violationCount".to_owned(), json!(alarm.violation_count));
        }
        Self::stamped(
            stamp,
            Some(&anomaly.spacecraft_id),
            EventType::Anomaly,
            anomaly.severity,
            anomaly.description.clone(),
            Value::Object(metadata),
        )
    }

    /// `ANOMALY_CLEARED`: `alarm` cleared at `at`; `why` completes "Parameter {name} …".
    pub(crate) fn anomaly_cleared(
        stamp: EventStamp,
        alarm: &Alarm,
        at: Timestamp,
        why: &str,
    ) -> NewEvent {
        Self::stamped(
            stamp,
            Some(&alarm.spacecraft_id),
            EventType::AnomalyCleared,
            Severity::Low,
            format!("Parameter {} {why}", alarm.parameter),
            json!({
                "alarmId": alarm.id,
                "parameter": alarm.parameter,
                "kind": alarm.kind,
                "worstSeverity": alarm.severity,
                "violationCount": alarm.violation_count,
                "openedAt": alarm.opened_at,
                "clearedAt": at,
            }),
        )
    }

    /// `CONTACT_LOST`: every parameter of `spacecraft` with `staleAfterSec` went stale.
    pub(crate) fn contact_lost(
        stamp: EventStamp,
        spacecraft: &SpacecraftId,
        stale_parameters: usize,
    ) -> NewEvent {
        Self::stamped(
            stamp,
            Some(spacecraft),
            EventType::ContactLost,
            Severity::High,
            format!("Contact with {spacecraft} lost: every monitored parameter is stale"),
            json!({"staleParameters": stale_parameters}),
        )
    }

    /// `INFO`: telemetry of `spacecraft` came back after contact was lost.
    pub(crate) fn contact_regained(
        stamp: EventStamp,
        spacecraft: &SpacecraftId,
        sample: Timestamp,
    ) -> NewEvent {
        Self::stamped(
            stamp,
            Some(spacecraft),
            EventType::Info,
            Severity::Low,
            format!("Contact with {spacecraft} regained"),
            json!({"contact": "regained", "sampleTimestamp": sample}),
        )
    }

    /// `ALARM_ACKNOWLEDGED`: `by` acknowledged `alarm` (as it is after the acknowledgement).
    pub(crate) fn alarm_acknowledged(stamp: EventStamp, alarm: &Alarm, by: &Operator) -> NewEvent {
        Self::operator_action(
            stamp,
            alarm,
            EventType::AlarmAcknowledged,
            format!("acknowledged by {by}"),
            json!({"by": by, "comment": alarm.comment}),
        )
    }

    /// `INFO`: `by` shelved `alarm` until `until`.
    pub(crate) fn alarm_shelved(
        stamp: EventStamp,
        alarm: &Alarm,
        by: &Operator,
        until: Timestamp,
    ) -> NewEvent {
        Self::operator_action(
            stamp,
            alarm,
            EventType::Info,
            format!("shelved by {by} until {until}"),
            json!({"by": by, "shelvedUntil": until, "comment": alarm.comment}),
        )
    }

    /// `INFO`: `by` ended the shelving of `alarm`.
    pub(crate) fn alarm_unshelved(stamp: EventStamp, alarm: &Alarm, by: &Operator) -> NewEvent {
        Self::operator_action(
            stamp,
            alarm,
            EventType::Info,
            format!("unshelved by {by}"),
            json!({"by": by}),
        )
    }

    /// An operator's change to an alarm: "Alarm on {parameter} ({KIND}) {what}", with the
    /// action's `metadata` followed by the alarm's id, parameter, kind and new state.
    fn operator_action(
        stamp: EventStamp,
        alarm: &Alarm,
        event_type: EventType,
        what: String,
        mut metadata: Value,
    ) -> NewEvent {
        if let Value::Object(map) = &mut metadata {
            map.insert("alarmId".to_owned(), json!(alarm.id));
            map.insert("parameter".to_owned(), json!(alarm.parameter));
            map.insert("kind".to_owned(), json!(alarm.kind));
            map.insert("state".to_owned(), json!(alarm.state));
        }
        Self::stamped(
            stamp,
            Some(&alarm.spacecraft_id),
            event_type,
            Severity::Low,
            format!(
                "Alarm on {} ({}) {what}",
                alarm.parameter,
                alarm.kind.as_str()
            ),
            metadata,
        )
    }
}
