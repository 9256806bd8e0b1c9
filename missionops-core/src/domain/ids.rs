//! Identifiers and names of the domain.

use super::text::text_newtype;

text_newtype!(
    /// The id of a spacecraft, chosen by the operator (`SC-001`) or generated: 1–128 bytes, no
    /// whitespace, control characters or `/`.
    SpacecraftId, field = "spacecraftId", max = 128, rule = Identifier
);
text_newtype!(
    /// The name of a telemetry parameter (`battery_soc`): 1–128 bytes, no control characters.
    ParameterName, field = "parameter", max = 128, rule = Label
);
text_newtype!(
    /// The id of a telemetry snapshot, client-supplied or a generated UUIDv7: 1–128 bytes, no
    /// whitespace, control characters or `/`.
    SnapshotId, field = "id", max = 128, rule = Identifier
);
text_newtype!(
    /// The id of an anomaly, `{snapshotId}:{parameter}:{KIND}`.
    AnomalyId, field = "anomalyId", max = 512, rule = Label
);
text_newtype!(
    /// The id of an alarm.
    AlarmId, field = "alarmId", max = 128, rule = Identifier
);
text_newtype!(
    /// The id of an operational document.
    DocumentId, field = "documentId", max = 128, rule = Identifier
);
text_newtype!(
    /// The id of a mission event.
    EventId, field = "eventId", max = 128, rule = Identifier
);
text_newtype!(
    /// The human name of a spacecraft (`Sat-Imager-001`): 1–200 bytes.
    SpacecraftName, field = "name", max = 200, rule = Label
);
text_newtype!(
    /// The mission type of a spacecraft: `LEO_IMAGING`, `GNSS`, `GEO_COMMS`, `CUBESAT` or any
    /// other label of 1–64 bytes.
    MissionType, field = "missionType", max = 64, rule = Label
);
text_newtype!(
    /// The title of an operational document: 1–300 bytes.
    DocumentTitle, field = "title", max = 300, rule = Label
);
text_newtype!(
    /// The category of a document: `config_spec`, `telemetry_definition`, `procedure`,
    /// `mission_note`, `report`, `general` or any other label of 1–64 bytes.
    DocumentCategory, field = "category", max = 64, rule = Label
);
text_newtype!(
    /// A document tag: 1–64 bytes.
    Tag, field = "tags", max = 64, rule = Label
);
text_newtype!(
    /// The operator who acknowledged or shelved an alarm: 1–128 bytes.
    Operator, field = "by", max = 128, rule = Label
);

impl MissionType {
    /// The mission type given to a spacecraft registered implicitly by its first telemetry or
    /// configuration.
    pub fn unspecified() -> Self {
        MissionType("UNSPECIFIED".into())
    }
}

impl DocumentCategory {
    /// The category of a document published without one.
    pub fn general() -> Self {
        DocumentCategory("general".into())
    }

    /// Whether this is the `procedure` category.
    pub fn is_procedure(&self) -> bool {
        &*self.0 == "procedure"
    }
}

impl SpacecraftName {
    /// The name of a spacecraft registered implicitly: its id.
    pub fn from_id(id: &SpacecraftId) -> Self {
        SpacecraftName(std::sync::Arc::clone(&id.0))
    }
}

impl AnomalyId {
    /// The compat anomaly id `{snapshotId}:{parameter}:{KIND}`.
    pub fn compose(snapshot: &SnapshotId, parameter: &ParameterName, kind: &str) -> Self {
        Self::compose_in(&mut String::new(), snapshot, parameter, kind)
    }

    /// [`AnomalyId::compose`] using `scratch` as the working buffer, so that composing many
    /// ids allocates once per id (the shared string) instead of twice.
    pub fn compose_in(
        scratch: &mut String,
        snapshot: &SnapshotId,
        parameter: &ParameterName,
        kind: &str,
    ) -> Self {
        scratch.clear();
        scratch.push_str(&snapshot.0);
        scratch.push(':');
        scratch.push_str(&parameter.0);
        scratch.push(':');
        scratch.push_str(kind);
        AnomalyId(std::sync::Arc::from(scratch.as_str()))
    }
}

/// Ids that may be generated from a UUID (UUIDv7 in production).
macro_rules! from_uuid {
    ($($name:ident),*) => {
        $(
            impl From<uuid::Uuid> for $name {
                fn from(id: uuid::Uuid) -> Self {
                    $name(id.hyphenated().to_string().into())
                }
            }
        )*
    };
}

from_uuid!(SpacecraftId, SnapshotId, AlarmId, DocumentId, EventId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacecraft_ids_parse_and_print_back() {
        let id = SpacecraftId::parse("SC-001").unwrap();
        assert_eq!(id.to_string(), "SC-001");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"SC-001\"");
    }

    #[test]
    fn an_empty_spacecraft_id_is_rejected_naming_the_field() {
        let err = serde_json::from_str::<SpacecraftId>("\"\"").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("spacecraftId: must not be empty"),
            "{err}"
        );
    }

    #[test]
    fn an_over_long_parameter_name_is_rejected() {
        let long = "p".repeat(ParameterName::MAX_LEN + 1);
        let err = ParameterName::parse(long).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("parameter: must be at most 128 bytes")
        );
    }

    #[test]
    fn anomaly_ids_follow_the_compat_pattern() {
        let id = AnomalyId::compose(
            &SnapshotId::parse("fx-0001").unwrap(),
            &ParameterName::parse("battery_soc").unwrap(),
            "WARN_LOW",
        );
        assert_eq!(id.as_str(), "fx-0001:battery_soc:WARN_LOW");
    }
}
