//! Analysis: batch analyse of a window of telemetry (nothing stored), and detect, which
//! analyses a time window and persists what it finds with `ANOMALY` events.
//!
//! A time window is read and analysed page by page ([`RangeAnalysis`]), so that its length
//! bounds neither the memory of the analysis nor that of a frontend streaming its answer.

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::domain::{Anomaly, Limit, NewEvent, SpacecraftId, Timestamp};
use crate::error::{Error, Result};
use crate::ports::{RangePages, TelemetryPage};
use crate::rules::{AnalysisContext, WindowAnalysis, analyse};

use super::{DetectReport, MissionOps};

/// The most snapshots one analysed or detected time window may hold, unless
/// [`MissionOps::with_window_cap`] says otherwise.
pub const MAX_WINDOW_SNAPSHOTS: usize = 1_000_000;

/// Snapshots read per page of a time-window analysis (see [`MissionOps::with_analysis_page`]).
pub const ANALYSIS_PAGE_SNAPSHOTS: usize = 4_096;

/// Which snapshots to analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalysisWindow {
    /// The newest `limit` snapshots, analysed newest first (the compat default).
    Recent(Limit),
    /// Every snapshot with `from <= timestamp <= to`, analysed oldest first.
    Range {
        /// The start, inclusive.
        from: Timestamp,
        /// The end, inclusive.
        to: Timestamp,
    },
}

impl AnalysisWindow {
    /// A time window, rejecting `from` after `to` (naming `from`).
    pub fn range(from: Timestamp, to: Timestamp) -> Result<Self> {
        if from > to {
            return Err(Error::invalid(
                "from",
                format!("must not be after to ({to})"),
            ));
        }
        Ok(AnalysisWindow::Range { from, to })
    }
}

/// The analysis of a time window in progress: each call to [`next`](Self::next) reads the next
/// page of the window and returns the anomalies that are final, in the order
/// [`MissionOps::analyse`] returns them for the whole window.
///
/// The pages come from [`TelemetryRepository::telemetry_range_pages`], which a store may read
/// ahead of the analysis: telemetry stored in the window while it is read may or may not be
/// seen, as with any series of reads.
///
/// [`TelemetryRepository::telemetry_range_pages`]: crate::ports::TelemetryRepository::telemetry_range_pages
pub struct RangeAnalysis {
    spacecraft: SpacecraftId,
    /// The window's pages; `None` once read to the end (or failed).
    pages: Option<BoxStream<'static, Result<TelemetryPage>>>,
    /// `None` once the window is done (or when there are no rules to analyse against).
    analysis: Option<WindowAnalysis>,
}

impl std::fmt::Debug for RangeAnalysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeAnalysis")
            .field("spacecraft", &self.spacecraft)
            .field("read_to_the_end", &self.pages.is_none())
            .finish_non_exhaustive()
    }
}

impl RangeAnalysis {
    /// The anomalies of the next page that are final (possibly none), or `None` when the
    /// window is done. After a failure the analysis is over: the next call returns `None`.
    pub async fn next(&mut self) -> Result<Option<Vec<Anomaly>>> {
        let Some(analysis) = self.analysis.as_mut() else {
            return Ok(None);
        };
        if let Some(pages) = self.pages.as_mut() {
            match pages.next().await {
                Some(Ok(page)) => return Ok(Some(analysis.push(&page.snapshots))),
                Some(Err(e)) => {
                    self.pages = None;
                    self.analysis = None;
                    return Err(e);
                }
                None => self.pages = None,
            }
        }
        Ok(self.analysis.take().map(WindowAnalysis::finish))
    }

    /// Every remaining anomaly of the window, in order.
    pub async fn collect(mut self) -> Result<Vec<Anomaly>> {
        let mut all = Vec::new();
        while let Some(found) = self.next().await? {
            all.extend(found);
        }
        Ok(all)
    }
}

impl MissionOps {
    /// Reads time windows in pages of `snapshots` (at least 1) instead of
    /// [`ANALYSIS_PAGE_SNAPSHOTS`]: for tests of paging, which want small pages.
    #[must_use]
    pub fn with_analysis_page(mut self, snapshots: usize) -> Self {
        Arc::make_mut(&mut self.shared).analysis_page = snapshots.max(1);
        self
    }

    /// Refuses to analyse or detect time windows of more than `snapshots` (at least 1) instead
    /// of [`MAX_WINDOW_SNAPSHOTS`]: a window is read whole for one answer, so the cap bounds
    /// the time a request may take.
    #[must_use]
    pub fn with_window_cap(mut self, snapshots: usize) -> Self {
        Arc::make_mut(&mut self.shared).window_cap = snapshots.max(1);
        self
    }

    /// Starts the batch analysis of `id`'s telemetry in `from..=to` against its current rules,
    /// oldest first, to be read with [`RangeAnalysis::next`]. A window of more than
    /// [`MAX_WINDOW_SNAPSHOTS`] (or [`Self::with_window_cap`]'s cap) is refused (naming `to`) before anything is analysed, the
    /// store looking no further into it than the cap; with no rules nothing is read.
    pub async fn analyse_range(
        &self,
        id: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<RangeAnalysis> {
        if from > to {
            return Err(Error::invalid(
                "from",
                format!("must not be after to ({to})"),
            ));
        }
        let rules = self.rules_for(id).await?;
        if rules.is_empty() {
            return Ok(RangeAnalysis {
                spacecraft: id.clone(),
                pages: None,
                analysis: None,
            });
        }
        // A store that reads ahead starts on the first pages while it finds out whether the
        // window is too long; they are dropped unread when it is.
        let RangePages {
            more_than_cap,
            pages,
        } = Arc::clone(&self.shared.store).telemetry_range_pages(
            self.tenant.clone(),
            id.clone(),
            from,
            to,
            self.shared.analysis_page,
            self.shared.window_cap,
        );
        if more_than_cap.await? {
            return Err(Error::invalid(
                "to",
                format!(
                    "the window holds more than {} snapshots; narrow it",
                    self.shared.window_cap
                ),
            ));
        }
        let context = AnalysisContext {
            detected_at: self.shared.clock.now(),
            window_start: Some(from),
            window_end: Some(to),
        };
        Ok(RangeAnalysis {
            spacecraft: id.clone(),
            pages: Some(pages),
            analysis: Some(WindowAnalysis::new(rules, context)),
        })
    }

    /// Batch analyse (SPEC §3) of a window of `id`'s telemetry against its current rules: the
    /// newest snapshots newest first, or a time window oldest first (read page by page, see
    /// [`Self::analyse_range`]). Nothing is stored.
    pub async fn analyse(&self, id: &SpacecraftId, window: AnalysisWindow) -> Result<Vec<Anomaly>> {
        let limit = match window {
            AnalysisWindow::Range { from, to } => {
                return self.analyse_range(id, from, to).await?.collect().await;
            }
            AnalysisWindow::Recent(limit) => limit,
        };
        let rules = self.rules_for(id).await?;
        if rules.is_empty() {
            return Ok(Vec::new());
        }
        let snapshots = self.recent_window(id, limit).await?;
        let context = AnalysisContext {
            detected_at: self.shared.clock.now(),
            window_start: snapshots.iter().map(|s| s.timestamp).min(),
            window_end: snapshots.iter().map(|s| s.timestamp).max(),
        };
        Ok(analyse(&rules, &snapshots, context))
    }

    /// Analyses `from..=to` and persists what it finds, each new anomaly with an `ANOMALY`
    /// event; anomalies already stored are not stored or announced again.
    ///
    /// The window is analysed page by page and each page's anomalies are persisted as they
    /// come (each page all-or-nothing), so memory stays bounded by the page; a failure part
    /// way leaves the pages before it persisted, and running detect again completes the rest
    /// without repeating anything.
    pub async fn detect(
        &self,
        id: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<DetectReport> {
        self.get_spacecraft(id).await?;
        let mut analysis = self.analyse_range(id, from, to).await?;
        let mut report = DetectReport {
            detected: 0,
            persisted: 0,
        };
        while let Some(anomalies) = analysis.next().await? {
            if anomalies.is_empty() {
                continue;
            }
            report.detected += anomalies.len();
            let with_events = anomalies
                .into_iter()
                .map(|anomaly| {
                    let event = NewEvent::anomaly(self.event_stamp(), &anomaly, None);
                    (anomaly, self.audited(event))
                })
                .collect();
            report.persisted += self
                .shared
                .store
                .persist_anomalies(&self.tenant, with_events)
                .await?;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::stream;
    use serde_json::json;

    use super::*;
    use crate::domain::{Parameters, SnapshotId, TelemetrySnapshot};
    use crate::rules::CompiledRules;

    fn page(second: i64, temp: f64) -> Result<TelemetryPage> {
        Ok(TelemetryPage {
            snapshots: vec![TelemetrySnapshot {
                id: SnapshotId::parse(format!("s{second}"))?,
                spacecraft_id: SpacecraftId::parse("SC-1")?,
                timestamp: Timestamp::from_millis(second * 1000)?,
                parameters: Parameters::from_json(&json!({"temp": temp}))?,
            }],
            next: None,
        })
    }

    /// A page that fails ends the analysis: the failure once, then `None`. Neither the pages
    /// after it nor what the analysis holds for the window's end are returned as if the
    /// window had been read whole.
    #[tokio::test]
    async fn a_page_that_fails_ends_the_analysis() {
        let config = json!({"parameters": {"temp": {"warnHigh": 10}}});
        let rules = CompiledRules::compile(config.as_object().expect("object")).expect("rules");
        let context = AnalysisContext {
            detected_at: Timestamp::from_millis(0).expect("time"),
            window_start: None,
            window_end: None,
        };
        let pages = vec![
            page(1, 20.0),
            Err(Error::backend("the store went away".to_owned())),
            page(3, 30.0),
        ];
        let mut analysis = RangeAnalysis {
            spacecraft: SpacecraftId::parse("SC-1").expect("id"),
            pages: Some(stream::iter(pages).boxed()),
            analysis: Some(WindowAnalysis::new(Arc::new(rules), context)),
        };
        let mut found = Vec::new();
        while let Ok(Some(anomalies)) = analysis.next().await {
            found.extend(anomalies);
        }
        assert!(
            found.iter().all(|a| a.timestamp.as_millis() < 2000),
            "an anomaly after the failed page was returned: {found:?}"
        );
        assert!(matches!(analysis.next().await, Ok(None)));
    }
}
