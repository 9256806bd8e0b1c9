//! Telemetry reads for operators' screens and exports: the newest snapshots, every parameter's
//! newest value with its limit state, plot series, and pages of a time window.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::{
    AnomalyKind, BucketWidth, Limit, ParameterName, ParameterValue, SeriesBucket, Severity,
    SpacecraftId, TelemetrySnapshot, Timestamp,
};
use crate::error::{Error, Result};

use super::{AnalysisWindow, MissionOps};

/// The most buckets one series request may span.
pub const MAX_SERIES_BUCKETS: i64 = 10_000;

/// The newest value of one parameter and where it stands against its limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterState {
    /// The newest value.
    pub value: ParameterValue,
    /// Its sample time.
    pub timestamp: Timestamp,
    /// `NOMINAL`, or the kind of the limit the value is outside (`WARN_HIGH`, …).
    pub state: String,
    /// The severity of that limit; `null` when nominal.
    pub severity: Option<Severity>,
}

/// `GET /telemetry/latest`: every parameter's newest value and limit state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatestView {
    /// The spacecraft.
    pub spacecraft_id: SpacecraftId,
    /// By parameter name, in name order.
    pub parameters: BTreeMap<String, ParameterState>,
}

impl MissionOps {
    /// The newest `limit` snapshots of `id`, newest first (empty for an unknown spacecraft).
    pub async fn recent_telemetry(
        &self,
        id: &SpacecraftId,
        limit: Limit,
    ) -> Result<Vec<TelemetrySnapshot>> {
        Ok(self.recent_window(id, limit).await?.to_vec())
    }

    /// The newest value of every parameter of `id` with its state against the current limits.
    pub async fn latest_values(&self, id: &SpacecraftId) -> Result<LatestView> {
        self.get_spacecraft(id).await?;
        let rules = self.rules_for(id).await?;
        let latest = self.shared.store.latest_values(&self.tenant, id).await?;
        // Limit sets look at other parameters' values: use the newest of each as the context.
        let value_of = |name: &str| {
            latest
                .iter()
                .find(|l| l.parameter.as_str() == name)
                .map(|l| &l.value)
        };
        let parameters = latest
            .iter()
            .map(|latest| {
                let rule = rules.rule_for(&latest.parameter).filter(|r| r.enabled());
                let verdict = rule.and_then(|rule| {
                    let severities = rule
                        .extensions
                        .as_ref()
                        .map(|e| e.severities)
                        .unwrap_or_default();
                    match &latest.value {
                        ParameterValue::Number(v) => rule
                            .thresholds_in(value_of)
                            .check(*v)
                            .map(|t| (t.kind, severities.of(t.kind))),
                        other => rule
                            .extensions
                            .as_ref()
                            .and_then(|e| e.state_violation(other))
                            .map(|_| (AnomalyKind::State, severities.state)),
                    }
                });
                let state = ParameterState {
                    value: latest.value.clone(),
                    timestamp: latest.timestamp,
                    state: verdict
                        .map_or("NOMINAL", |(kind, _)| kind.as_str())
                        .to_owned(),
                    severity: verdict.map(|(_, severity)| severity),
                };
                (latest.parameter.to_string(), state)
            })
            .collect();
        Ok(LatestView {
            spacecraft_id: id.clone(),
            parameters,
        })
    }

    /// The downsampled series of one numeric parameter over `from..=to`; at most
    /// [`MAX_SERIES_BUCKETS`] buckets.
    pub async fn series(
        &self,
        id: &SpacecraftId,
        parameter: &ParameterName,
        from: Timestamp,
        to: Timestamp,
        bucket: BucketWidth,
    ) -> Result<Vec<SeriesBucket>> {
        AnalysisWindow::range(from, to)?;
        let span = to.as_millis() - from.as_millis();
        if span / bucket.as_millis() >= MAX_SERIES_BUCKETS {
            return Err(Error::invalid(
                "bucket",
                format!(
                    "spans more than {MAX_SERIES_BUCKETS} buckets between from and to; use a wider bucket"
                ),
            ));
        }
        self.shared
            .store
            .telemetry_series(&self.tenant, id, parameter, from, to, bucket)
            .await
    }

    /// Up to `max` snapshots of `id` with `from <= timestamp <= to`, oldest first (ties: first
    /// stored first): one page of an export that walks a window in time order. Empty for an
    /// unknown spacecraft or when `from` is after `to`.
    pub async fn telemetry_page(
        &self,
        id: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        max: usize,
    ) -> Result<Vec<TelemetrySnapshot>> {
        self.shared
            .store
            .telemetry_range(&self.tenant, id, from, to, max)
            .await
    }
}
