//! Spacecraft and their configuration documents.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ids::{MissionType, SpacecraftId, SpacecraftName};
use super::time::Timestamp;
use crate::error::{Error, Result};

/// A JSON object of free-form fields.
pub type JsonObject = Map<String, Value>;

/// Rejects a NUL character anywhere in a JSON document's strings or keys (PostgreSQL cannot
/// store it, so no backend takes it), naming the path to it.
pub fn reject_nul(field: &str, value: &Value) -> Result<()> {
    match value {
        Value::String(s) if s.contains('\0') => {
            Err(Error::invalid(field, "must not contain NUL characters"))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| reject_nul(&format!("{field}[{i}]"), v)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            if k.contains('\0') {
                return Err(Error::invalid(
                    field,
                    "must not contain NUL characters in keys",
                ));
            }
            reject_nul(&format!("{field}.{k}"), v)
        }),
        _ => Ok(()),
    }
}

/// A spacecraft known to MissionOps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spacecraft {
    /// The operator's id (`SC-001`) or a generated one.
    pub id: SpacecraftId,
    /// The human name.
    pub name: SpacecraftName,
    /// `LEO_IMAGING`, `GNSS`, `GEO_COMMS`, `CUBESAT` or any other label.
    pub mission_type: MissionType,
    /// Free-form fields.
    pub metadata: JsonObject,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// A spacecraft to register (`POST /spacecraft`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSpacecraft {
    /// The id; generated when absent.
    #[serde(default)]
    pub id: Option<SpacecraftId>,
    /// The human name.
    pub name: SpacecraftName,
    /// The mission type; `UNSPECIFIED` when absent.
    #[serde(default)]
    pub mission_type: Option<MissionType>,
    /// Free-form fields, within the limits of [`check_metadata`](crate::check_metadata)
    /// (checked when parsed, and again when registered).
    #[serde(default, deserialize_with = "parse_metadata")]
    pub metadata: Option<JsonObject>,
}

impl NewSpacecraft {
    /// A spacecraft to register as `id`, called `name`, with nothing else: mission type
    /// `UNSPECIFIED`, no metadata.
    pub fn named(id: SpacecraftId, name: SpacecraftName) -> Self {
        NewSpacecraft {
            id: Some(id),
            name,
            mission_type: None,
            metadata: None,
        }
    }
}

/// `metadata` of a [`NewSpacecraft`], refused at parse time when over a limit.
fn parse_metadata<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<JsonObject>, D::Error> {
    let metadata = Option::<JsonObject>::deserialize(d)?;
    if let Some(metadata) = &metadata {
        super::json_limits::check_metadata(metadata).map_err(serde::de::Error::custom)?;
    }
    Ok(metadata)
}

/// Whether a configuration is approved for operations or still a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigStatus {
    /// Approved for operations.
    Approved,
    /// Work in progress.
    Draft,
}

impl ConfigStatus {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigStatus::Approved => "approved",
            ConfigStatus::Draft => "draft",
        }
    }

    /// Parses the lower-case name.
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "approved" => Ok(ConfigStatus::Approved),
            "draft" => Ok(ConfigStatus::Draft),
            _ => Err(Error::invalid("status", "must be approved or draft")),
        }
    }
}

/// Where a configuration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigSource {
    /// Set by an operator.
    Manual,
    /// Written by the demo seeder.
    Seed,
    /// Imported from another system.
    Import,
}

impl ConfigSource {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigSource::Manual => "manual",
            ConfigSource::Seed => "seed",
            ConfigSource::Import => "import",
        }
    }

    /// Parses the lower-case name.
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "manual" => Ok(ConfigSource::Manual),
            "seed" => Ok(ConfigSource::Seed),
            "import" => Ok(ConfigSource::Import),
            _ => Err(Error::invalid("source", "must be manual, seed or import")),
        }
    }
}

/// A spacecraft's configuration document, checked to be a JSON object whose `parameters` compile
/// into rules. Unknown top-level fields are kept as given.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct SpacecraftConfig(JsonObject);

impl SpacecraftConfig {
    /// Parses and validates a configuration document: it must be an object within the size
    /// limits ([`MAX_CONFIG_BYTES`](crate::MAX_CONFIG_BYTES),
    /// [`MAX_CONFIG_PARAMETERS`](crate::MAX_CONFIG_PARAMETERS),
    /// [`MAX_CONFIG_DEPTH`](crate::MAX_CONFIG_DEPTH)), without NUL characters, and its
    /// `parameters` must compile (see [`crate::CompiledRules::compile`]).
    pub fn parse(document: Value) -> Result<Self> {
        let Value::Object(map) = document else {
            return Err(Error::invalid("config", "must be a JSON object"));
        };
        super::json_limits::check_config_size(&map)?;
        for (key, value) in &map {
            if key.contains('\0') {
                return Err(Error::invalid(
                    "config",
                    "must not contain NUL characters in keys",
                ));
            }
            reject_nul(&format!("config.{key}"), value)?;
        }
        crate::rules::CompiledRules::compile(&map)?;
        Ok(SpacecraftConfig(map))
    }

    /// Wraps a document read back from storage, where it was validated when written.
    pub fn from_stored(document: JsonObject) -> Self {
        SpacecraftConfig(document)
    }

    /// The document.
    pub fn as_object(&self) -> &JsonObject {
        &self.0
    }

    /// The document, owned.
    pub fn into_object(self) -> JsonObject {
        self.0
    }
}

impl<'de> Deserialize<'de> for SpacecraftConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SpacecraftConfig::parse(Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// One version of a spacecraft's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigRecord {
    /// The spacecraft.
    pub spacecraft_id: SpacecraftId,
    /// 1 for the first configuration, +1 for every change.
    pub version: u32,
    /// The document.
    pub config: SpacecraftConfig,
    /// Approved or draft.
    pub status: ConfigStatus,
    /// Where it came from.
    pub source: Option<ConfigSource>,
    /// When this version was written.
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `named` registers what a request naming only an id and a name would.
    #[test]
    fn named_is_a_request_with_only_an_id_and_a_name() {
        let from_request: NewSpacecraft =
            serde_json::from_value(json!({"id": "SC-1", "name": "One"})).expect("parse");
        let named = NewSpacecraft::named(
            SpacecraftId::parse("SC-1").expect("id"),
            SpacecraftName::parse("One").expect("name"),
        );
        assert_eq!(named, from_request);
    }

    #[test]
    fn nul_characters_are_rejected_anywhere_in_a_config() {
        let err = SpacecraftConfig::parse(json!({"note": {"x": ["ok", "a\u{0}"]}})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config.note.x[1]: must not contain NUL characters"
        );
    }

    #[test]
    fn an_oversize_config_is_refused_naming_the_limit_before_it_is_compiled() {
        let huge = "x".repeat(10 * 1024 * 1024);
        let err = SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": huge}}}))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config: must be at most 1048576 bytes as JSON (1 MiB)"
        );
        let many: JsonObject = (0..200_000)
            .map(|i| (format!("p{i}"), json!({"warnHigh": 1})))
            .collect();
        let err = SpacecraftConfig::parse(json!({ "parameters": many })).unwrap_err();
        assert_eq!(
            err.to_string(),
            "parameters: must have at most 10000 parameters (got 200000)"
        );
    }

    #[test]
    fn a_bad_value_in_a_config_is_quoted_by_a_short_prefix() {
        let long = "4".repeat(100_000);
        let err = SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": long}}}))
            .unwrap_err();
        let text = err.to_string();
        assert!(text.len() < 200, "{} bytes", text.len());
        assert!(
            text.starts_with("parameters.temp.warnHigh: must be a number, not the string \"444"),
            "{text}"
        );
        assert!(text.ends_with("\"…"), "{text}");
    }

    #[test]
    fn new_spacecraft_metadata_over_a_limit_is_refused_when_parsed() {
        let big = "x".repeat(70 * 1024);
        let err = serde_json::from_value::<NewSpacecraft>(
            json!({"name": "Big", "metadata": {"note": big}}),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("metadata: must be at most 65536 bytes as JSON"),
            "{err}"
        );
        let fine = serde_json::from_value::<NewSpacecraft>(
            json!({"name": "Small", "metadata": {"norad": 25544}}),
        )
        .expect("small metadata");
        assert_eq!(fine.metadata.expect("metadata")["norad"], 25544);
        let none =
            serde_json::from_value::<NewSpacecraft>(json!({"name": "None"})).expect("no metadata");
        assert!(none.metadata.is_none());
    }

    #[test]
    fn a_config_must_be_an_object() {
        let err = SpacecraftConfig::parse(json!([1])).unwrap_err();
        assert_eq!(err.to_string(), "config: must be a JSON object");
    }

    #[test]
    fn unknown_top_level_fields_are_kept_in_order() {
        let cfg =
            SpacecraftConfig::parse(json!({"z": 1, "parameters": {}, "a": {"b": 2}})).unwrap();
        assert_eq!(
            serde_json::to_string(&cfg).unwrap(),
            r#"{"z":1,"parameters":{},"a":{"b":2}}"#
        );
    }

    #[test]
    fn status_and_source_use_lower_case_names() {
        assert_eq!(
            serde_json::to_string(&ConfigStatus::Approved).unwrap(),
            "\"approved\""
        );
        assert_eq!(ConfigSource::parse("seed").unwrap(), ConfigSource::Seed);
        assert!(ConfigStatus::parse("final").is_err());
    }
}
