//! Read-side use cases for operators' screens: latest values with their limit state, plot
//! series, the fleet overview, procedures for an anomaly, readiness.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{MissionOps, SpacecraftStatus};
use crate::domain::{
    AnomalyId, AnomalyKind, BucketWidth, DocumentCategory, DocumentFilter, Limit, OpsDocument,
    ParameterName, ParameterValue, SearchQuery, SeriesBucket, Severity, Spacecraft, SpacecraftId,
    SpacecraftName, Tag, TelemetrySnapshot, Timestamp,
};
use crate::error::{Error, Result};

/// The most buckets one series request may span.
pub const MAX_SERIES_BUCKETS: i64 = 10_000;
/// The most procedures returned for one anomaly.
const MAX_PROCEDURES: u32 = 50;

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

/// One line of the fleet overview: the status (with its active alarms) plus the name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetEntry {
    /// The compat status.
    #[serde(flatten)]
    pub status: SpacecraftStatus,
    /// The spacecraft's name.
    pub name: SpacecraftName,
}

impl MissionOps {
    /// The newest value of every parameter of `id` with its state against the current limits.
    pub async fn latest_values(&self, id: &SpacecraftId) -> Result<LatestView> {
        self.get_spacecraft(id).await?;
        let rules = self.rules_for(id).await?;
        let latest = self.store.latest_values(id).await?;
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
        super::AnalysisWindow::range(from, to)?;
        let span = to.as_millis() - from.as_millis();
        if span / bucket.as_millis() >= MAX_SERIES_BUCKETS {
            return Err(Error::invalid(
                "bucket",
                format!(
                    "spans more than {MAX_SERIES_BUCKETS} buckets between from and to; use a wider bucket"
                ),
            ));
        }
        self.store
            .telemetry_series(id, parameter, from, to, bucket)
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
        self.store.telemetry_range(id, from, to, max).await
    }

    /// The status of every spacecraft, with its name and open alarms, in registration order.
    pub async fn fleet_status(&self) -> Result<Vec<FleetEntry>> {
        let mut fleet = Vec::new();
        for spacecraft in self.every_spacecraft().await? {
            let status = self.status(&spacecraft.id).await?;
            fleet.push(FleetEntry {
                status,
                name: spacecraft.name,
            });
        }
        Ok(fleet)
    }

    /// Every registered spacecraft in registration order, read a page at a time.
    pub(super) async fn every_spacecraft(&self) -> Result<Vec<Spacecraft>> {
        let mut all = Vec::new();
        let page_size = Limit::clamped(100, 100);
        let mut offset = 0u64;
        loop {
            let page = self.store.list_spacecraft(page_size, offset).await?;
            let count = page.items.len();
            all.extend(page.items);
            offset += count as u64;
            if count < page_size.get() || offset >= page.total {
                return Ok(all);
            }
        }
    }

    /// `procedure` documents relevant to a persisted anomaly: those tagged with its parameter
    /// first (newest first), then those whose text names it (best match first).
    pub async fn procedures_for_anomaly(&self, id: &AnomalyId) -> Result<Vec<OpsDocument>> {
        let anomaly = self.get_anomaly(id).await?;
        let limit = Limit::clamped(i64::from(MAX_PROCEDURES), MAX_PROCEDURES);
        let procedure = DocumentCategory::parse("procedure")?;
        let tagged = match Tag::parse(anomaly.parameter.as_str()) {
            Ok(tag) => {
                self.store
                    .list_documents(&DocumentFilter {
                        spacecraft_id: None,
                        category: Some(procedure),
                        tag: Some(tag),
                        limit,
                        offset: 0,
                    })
                    .await?
            }
            Err(_) => Vec::new(),
        };
        let mentioned = match SearchQuery::parse(anomaly.parameter.as_str()) {
            Ok(query) => self.store.search_documents(&query, limit).await?,
            Err(_) => Vec::new(),
        };
        let mut found = tagged;
        for document in mentioned {
            if document.category.is_procedure() && !found.iter().any(|d| d.id == document.id) {
                found.push(document);
            }
        }
        let for_this_spacecraft = |d: &OpsDocument| {
            d.spacecraft_id
                .as_ref()
                .is_none_or(|s| s == &anomaly.spacecraft_id)
        };
        found.retain(for_this_spacecraft);
        found.truncate(MAX_PROCEDURES as usize);
        Ok(found)
    }

    /// Whether the store answers (for readiness probes).
    pub async fn ping(&self) -> Result<()> {
        self.store
            .list_spacecraft(Limit::clamped(1, 1), 0)
            .await
            .map(|_| ())
    }
}
