//! What a check finds and the anomaly it becomes: the one place the rule engine builds an
//! [`Anomaly`], whichever evaluator found it (compat analyse, stateful analyse, the streaming
//! monitor).

use crate::domain::{
    Anomaly, AnomalyId, AnomalyKind, ParameterName, ParameterValue, Severity, SnapshotId,
    SpacecraftId, Timestamp,
};

/// Where an analysis runs: stamped on every anomaly it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisContext {
    /// When the analysis ran.
    pub detected_at: Timestamp,
    /// The start of the window analysed, when it was a time window.
    pub window_start: Option<Timestamp>,
    /// The end of the window analysed, when it was a time window.
    pub window_end: Option<Timestamp>,
}

impl AnalysisContext {
    /// The context of a live check at `now`: no window.
    pub(crate) fn live(now: Timestamp) -> Self {
        AnalysisContext {
            detected_at: now,
            window_start: None,
            window_end: None,
        }
    }
}

/// A violation found by one check: its kind, the limit crossed (when there is one) and the
/// description an anomaly carries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    /// What was violated.
    pub kind: AnomalyKind,
    /// The limit crossed: a threshold, a rate, or a staleness in seconds.
    pub limit: Option<f64>,
    /// `Parameter {name} …`.
    pub description: String,
}

/// The sample an anomaly is recorded against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample<'a> {
    /// Its snapshot.
    pub snapshot: &'a SnapshotId,
    /// Its spacecraft.
    pub spacecraft: &'a SpacecraftId,
    /// Its sample time.
    pub timestamp: Timestamp,
}

impl Finding {
    /// The anomaly of this finding for `parameter` at `sample`, with id
    /// `{snapshotId}:{parameter}:{KIND}` composed in `scratch` (reused across a window, so that
    /// composing many ids allocates once per id).
    #[inline]
    pub(crate) fn into_anomaly(
        self,
        parameter: &ParameterName,
        severity: Severity,
        sample: Sample<'_>,
        value: ParameterValue,
        context: &AnalysisContext,
        scratch: &mut String,
    ) -> Anomaly {
        Anomaly {
            id: AnomalyId::compose_in(scratch, sample.snapshot, parameter, self.kind.as_str()),
            spacecraft_id: sample.spacecraft.clone(),
            timestamp: sample.timestamp,
            parameter: parameter.clone(),
            value,
            severity,
            kind: self.kind,
            limit: self.limit,
            description: self.description,
            detected_at: context.detected_at,
            window_start: context.window_start,
            window_end: context.window_end,
        }
    }
}
