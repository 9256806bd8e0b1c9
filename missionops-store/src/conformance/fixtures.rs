//! The values the conformance cases and the backends' own test files build their data from,
//! defined once so that every harness writes the same spacecraft, snapshots and events.
//!
//! Times are seconds after 2025-06-01T00:00:00Z ([`at`]); ids parse or the test panics.

use missionops_core::TenantId;
use missionops_core::{
    Alarm, AlarmId, AlarmState, Anomaly, AnomalyId, AnomalyKind, ConfigRecord, ConfigStatus,
    DocumentBody, DocumentCategory, DocumentId, DocumentTitle, EventId, EventRepository, EventType,
    IngestOutcome, JsonObject, Limit, MissionEvent, MissionType, NewEvent, OpsDocument,
    ParameterName, ParameterValue, Parameters, Registration, Severity, SnapshotId, Spacecraft,
    SpacecraftConfig, SpacecraftId, SpacecraftName, Store, Tag, Tags, TelemetrySnapshot,
    TelemetryWrite, Timestamp,
};
use serde_json::{Value, json};

/// The time written as RFC 3339 `text`.
pub fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("test timestamp")
}

/// `second` seconds after 2025-06-01T00:00:00Z (before it when negative).
pub fn at(second: i64) -> Timestamp {
    ts("2025-06-01T00:00:00Z").add_millis(second * 1000)
}

/// The spacecraft id `id`.
pub fn sc(id: &str) -> SpacecraftId {
    SpacecraftId::parse(id).expect("test id")
}

/// A limit of `n` (at most 1,000).
pub fn limit(n: i64) -> Limit {
    Limit::new(n, 1000).expect("test limit")
}

/// The JSON object `value` (empty when it is not an object).
pub fn object(value: Value) -> JsonObject {
    value.as_object().cloned().unwrap_or_default()
}

/// An event `id` of `spacecraft` at `timestamp`: INFO, LOW, message "event {id}".
pub fn event_named(
    id: &str,
    spacecraft: Option<&str>,
    timestamp: Timestamp,
    metadata: Value,
) -> NewEvent {
    NewEvent {
        id: EventId::parse(id).expect("event id"),
        spacecraft_id: spacecraft.map(sc),
        timestamp,
        event_type: EventType::Info,
        severity: Severity::Low,
        message: format!("event {id}"),
        metadata: object(metadata),
    }
}

/// Records [`event_named`]`(id, spacecraft, timestamp)` with empty metadata and returns it as
/// stored (with its sequence): an event whose outbox row the delivery cases work on.
pub async fn record_event_at(
    store: &dyn EventRepository,
    id: &str,
    spacecraft: Option<&str>,
    timestamp: Timestamp,
) -> MissionEvent {
    store
        .record_event(
            &TenantId::default(),
            event_named(id, spacecraft, timestamp, json!({})),
        )
        .await
        .expect("record an event")
}

/// Event number `n`: id `ev-{n}` at [`at`]`(n)`, message "event {n}", metadata `{"n": n}`.
pub fn event(n: u32, spacecraft: Option<&str>, event_type: EventType) -> NewEvent {
    NewEvent {
        event_type,
        message: format!("event {n}"),
        ..event_named(
            &format!("ev-{n}"),
            spacecraft,
            at(i64::from(n)),
            json!({ "n": n }),
        )
    }
}

/// A spacecraft registered at `created`, updated then too.
pub fn spacecraft_with(
    id: &str,
    name: &str,
    mission_type: &str,
    metadata: Value,
    created: Timestamp,
) -> Spacecraft {
    Spacecraft {
        id: sc(id),
        name: SpacecraftName::parse(name).expect("name"),
        mission_type: MissionType::parse(mission_type).expect("mission"),
        metadata: object(metadata),
        created_at: created,
        updated_at: created,
    }
}

/// The LEO_IMAGING spacecraft `id`, named "{id} name", registered at [`at`]`(second)`.
pub fn spacecraft(id: &str, second: i64) -> Spacecraft {
    spacecraft_with(
        id,
        &format!("{id} name"),
        "LEO_IMAGING",
        json!({"orbit": "SSO"}),
        at(second),
    )
}

/// The implicit registration of [`spacecraft`]`(id, second)` with its SPACECRAFT_REGISTERED
/// event number `n`.
pub fn registration(id: &str, second: i64, n: u32) -> Registration {
    Registration {
        spacecraft: spacecraft(id, second),
        event: event(n, Some(id), EventType::SpacecraftRegistered),
    }
}

/// Registers `spacecraft` with `event`, or panics.
pub async fn register_as(store: &dyn Store, spacecraft: Spacecraft, event: NewEvent) {
    store
        .register_spacecraft(&TenantId::default(), spacecraft, event)
        .await
        .expect("register spacecraft");
}

/// Registers SC-3 in tenant `other`, which the cases reading for a list of spacecraft of the
/// default tenant must not see; answers that tenant.
pub async fn register_sc3_in_other_tenant(store: &dyn Store) -> TenantId {
    let other = TenantId::parse("other").expect("tenant");
    store
        .register_spacecraft(
            &other,
            spacecraft("SC-3", 1),
            event(90, Some("SC-3"), EventType::SpacecraftRegistered),
        )
        .await
        .expect("register in the other tenant");
    other
}

/// Registers [`spacecraft`]`(id, second)` with its SPACECRAFT_REGISTERED event number `n`.
pub async fn register(store: &dyn Store, id: &str, second: i64, n: u32) {
    register_as(
        store,
        spacecraft(id, second),
        event(n, Some(id), EventType::SpacecraftRegistered),
    )
    .await;
}

/// A snapshot `id` of `spacecraft` at [`at`]`(second)` with the JSON object `parameters`.
pub fn snapshot_with(
    id: &str,
    spacecraft: &str,
    second: i64,
    parameters: Value,
) -> TelemetrySnapshot {
    TelemetrySnapshot {
        id: SnapshotId::parse(id).expect("snapshot id"),
        spacecraft_id: sc(spacecraft),
        timestamp: at(second),
        parameters: Parameters::from_json(&parameters).expect("parameters"),
    }
}

/// A snapshot with `temp` and `mode: "CRUISE"`.
pub fn snapshot(id: &str, spacecraft: &str, second: i64, temp: f64) -> TelemetrySnapshot {
    snapshot_with(
        id,
        spacecraft,
        second,
        json!({"temp": temp, "mode": "CRUISE"}),
    )
}

/// A telemetry write of `snapshots` alone.
pub fn write(snapshots: Vec<TelemetrySnapshot>) -> TelemetryWrite {
    TelemetryWrite {
        tenant: Default::default(),
        registrations: Vec::new(),
        snapshots,
        anomalies: Vec::new(),
        alarms: Vec::new(),
        events: Vec::new(),
    }
}

/// The outcome of a write that inserted `inserted` snapshots and found `duplicates`.
pub fn outcome(inserted: usize, duplicates: usize) -> IngestOutcome {
    IngestOutcome {
        inserted,
        duplicates,
    }
}

/// The ids of `snapshots`, in order.
pub fn ids(snapshots: &[TelemetrySnapshot]) -> Vec<&str> {
    snapshots.iter().map(|s| s.id.as_str()).collect()
}

/// An anomaly of `kind` on `parameter` at [`at`]`(second)`: value 99.5 over the limit 90.
pub fn anomaly(spacecraft: &str, second: i64, parameter: &str, kind: AnomalyKind) -> Anomaly {
    let severity = match kind {
        AnomalyKind::CritHigh | AnomalyKind::CritLow => Severity::High,
        _ => Severity::Medium,
    };
    Anomaly {
        id: AnomalyId::parse(format!("s{second}:{parameter}:{}", kind.as_str())).expect("id"),
        spacecraft_id: sc(spacecraft),
        timestamp: at(second),
        parameter: ParameterName::parse(parameter).expect("parameter"),
        value: ParameterValue::Number(99.5),
        severity,
        kind,
        limit: Some(90.0),
        description: format!("Parameter {parameter} above warnHigh 90"),
        detected_at: at(10_000),
        window_start: Some(at(0)),
        window_end: Some(at(9_999)),
    }
}

/// Approved configuration `version` of `spacecraft` with a `temp` rule of `warn_high`.
pub fn config(spacecraft: &str, version: u32, warn_high: i64) -> ConfigRecord {
    ConfigRecord {
        spacecraft_id: sc(spacecraft),
        version,
        config: SpacecraftConfig::parse(
            json!({"parameters": {"temp": {"warnHigh": warn_high}}, "note": "kept"}),
        )
        .expect("config"),
        status: ConfigStatus::Approved,
        source: None,
        created_at: at(i64::from(version)),
    }
}

/// Version 1 of a procedure of SC-1 published at [`at`]`(second)`.
pub fn document(id: &str, second: i64, title: &str, body: &str, tags: &[&str]) -> OpsDocument {
    OpsDocument {
        id: DocumentId::parse(id).expect("doc id"),
        spacecraft_id: Some(sc("SC-1")),
        title: DocumentTitle::parse(title).expect("title"),
        category: DocumentCategory::parse("procedure").expect("category"),
        tags: Tags::new(tags.iter().map(|t| Tag::parse(*t).expect("tag")).collect()).expect("tags"),
        body: DocumentBody::parse(body).expect("body"),
        published_at: at(second),
        updated_at: at(second),
        version: 1,
    }
}

/// How many events the store holds (up to 1,000).
pub async fn event_count(store: &dyn Store) -> usize {
    store
        .recent_events(&TenantId::default(), None, limit(1000))
        .await
        .expect("list events")
        .len()
}

/// An active WARN_HIGH alarm on `temp` opened at [`at`]`(opened)`, one violation, last 50.
pub fn test_alarm(id: &str, spacecraft: &str, opened: i64) -> Alarm {
    Alarm {
        id: AlarmId::parse(id).expect("id"),
        spacecraft_id: sc(spacecraft),
        parameter: ParameterName::parse("temp").expect("parameter"),
        kind: AnomalyKind::WarnHigh,
        state: AlarmState::Active,
        severity: Severity::Medium,
        violation_count: 1,
        opened_at: at(opened),
        last_value: ParameterValue::Number(50.0),
        cleared_at: None,
        acknowledged_by: None,
        acknowledged_at: None,
        comment: None,
        shelved_until: None,
    }
}
