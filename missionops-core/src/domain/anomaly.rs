//! Anomalies: one parameter of one snapshot breaking one rule.

use serde::{Deserialize, Serialize};

use super::ids::{AnomalyId, ParameterName, SpacecraftId};
use super::serde_f64::serialize_opt_number;
use super::severity::{AnomalyKind, Severity};
use super::time::Timestamp;
use super::value::ParameterValue;

/// One parameter of one snapshot that broke a rule. Unique on
/// (`spacecraftId`, `parameter`, `timestamp`, `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Anomaly {
    /// `{snapshotId}:{parameter}:{KIND}` for rule anomalies of a snapshot.
    pub id: AnomalyId,
    /// The spacecraft.
    pub spacecraft_id: SpacecraftId,
    /// The time of the sample.
    pub timestamp: Timestamp,
    /// The parameter.
    pub parameter: ParameterName,
    /// The value that broke the rule.
    pub value: ParameterValue,
    /// How bad it is.
    pub severity: Severity,
    /// Which rule it broke.
    pub kind: AnomalyKind,
    /// The threshold crossed, when one was.
    #[serde(serialize_with = "serialize_opt_number", default)]
    pub limit: Option<f64>,
    /// A sentence for people (`Parameter temp above warnHigh 45`).
    pub description: String,
    /// When it was detected.
    pub detected_at: Timestamp,
    /// The start of the analysed window, when it came from a window.
    #[serde(default)]
    pub window_start: Option<Timestamp>,
    /// The end of the analysed window, when it came from a window.
    #[serde(default)]
    pub window_end: Option<Timestamp>,
}

/// The fields of an anomaly that the TypeScript service's analysis returned, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompatAnomaly<'a> {
    /// The id.
    pub id: &'a AnomalyId,
    /// The spacecraft.
    pub spacecraft_id: &'a SpacecraftId,
    /// The time of the sample.
    pub timestamp: Timestamp,
    /// The parameter.
    pub parameter: &'a ParameterName,
    /// The value.
    pub value: &'a ParameterValue,
    /// How bad it is.
    pub severity: Severity,
    /// The sentence.
    pub description: &'a str,
}

impl Anomaly {
    /// The compat view of this anomaly.
    pub fn compat(&self) -> CompatAnomaly<'_> {
        CompatAnomaly {
            id: &self.id,
            spacecraft_id: &self.spacecraft_id,
            timestamp: self.timestamp,
            parameter: &self.parameter,
            value: &self.value,
            severity: self.severity,
            description: &self.description,
        }
    }
}
