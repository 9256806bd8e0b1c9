//! Analysis: batch analyse of a window of telemetry (nothing stored), and detect, which
//! analyses a time window and persists what it finds with `ANOMALY` events.
//!
//! A time window is read and analysed page by page ([`RangeAnalysis`]), so that its length
//! bounds neither the memory of the analysis nor that of a frontend streaming its answer.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::future::{self, BoxFuture, Either};
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

/// Anomalies a time-window analysis may hold, found in pages it analysed while the store was
/// still finding out whether the window is too long, before it stops analysing and waits for
/// the answer: a few megabytes. The 100,000-snapshot analysis (20,000 anomalies) holds under
/// half of them when the answer comes (PostgreSQL's walk of the window, the slowest).
const HELD_ANOMALIES: usize = 16_384;

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
    /// Anomalies of pages analysed while the window's length was being checked, a page's
    /// each, returned before any further page is read.
    held: VecDeque<Vec<Anomaly>>,
    /// A page's failure met while the window's length was being checked, returned after
    /// `held`: the analysis then ends.
    failure: Option<Error>,
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
        if let Some(anomalies) = self.held.pop_front() {
            return Ok(Some(anomalies));
        }
        if let Some(e) = self.failure.take() {
            self.analysis = None;
            return Err(e);
        }
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

/// What a window's analysis did while the store found out whether the window is too long.
struct AnalysedAhead {
    more_than_cap: bool,
    held: VecDeque<Vec<Anomaly>>,
    failure: Option<Error>,
    /// `None` when the pages ended (or failed) before the answer came.
    pages: Option<BoxStream<'static, Result<TelemetryPage>>>,
    analysis: WindowAnalysis,
}

/// Awaits `more_than_cap`, analysing the pages that come meanwhile (a store reads the first
/// pages while it walks the window to its end or its cap: on PostgreSQL that walk took a third
/// of the 100,000-snapshot analysis, with both cores half idle while the analysis waited for
/// it), until [`HELD_ANOMALIES`] are held. The answer is asked first each time, so a store that
/// knows at once (the in-memory one) has no page analysed ahead.
async fn analyse_while_checked(
    more_than_cap: BoxFuture<'static, Result<bool>>,
    pages: BoxStream<'static, Result<TelemetryPage>>,
    mut analysis: WindowAnalysis,
) -> Result<AnalysedAhead> {
    let mut verdict = more_than_cap;
    let mut pages = Some(pages);
    let mut held = VecDeque::new();
    let mut held_count = 0;
    let mut failure = None;
    let more_than_cap = loop {
        let reading = match pages.as_mut() {
            Some(reading) if held_count < HELD_ANOMALIES => reading,
            _ => break verdict.await?,
        };
        match future::select(verdict, reading.next()).await {
            Either::Left((answer, _)) => break answer?,
            Either::Right((page, pending)) => {
                verdict = pending;
                match page {
                    Some(Ok(page)) => {
                        let found = analysis.push(&page.snapshots);
                        held_count += found.len();
                        held.push_back(found);
                    }
                    Some(Err(e)) => {
                        failure = Some(e);
                        pages = None;
                    }
                    None => pages = None,
                }
            }
        }
    };
    Ok(AnalysedAhead {
        more_than_cap,
        held,
        failure,
        pages,
        analysis,
    })
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
    /// [`MAX_WINDOW_SNAPSHOTS`] (or [`Self::with_window_cap`]'s cap) is refused (naming `to`)
    /// before any of its anomalies is returned, the store looking no further into it than the
    /// cap; with no rules nothing is read. While the store finds out, the first pages are
    /// analysed already (up to [`HELD_ANOMALIES`] found), and what they found is held until
    /// the window is known to be short enough.
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
                held: VecDeque::new(),
                failure: None,
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
        let context = AnalysisContext {
            detected_at: self.shared.clock.now(),
            window_start: Some(from),
            window_end: Some(to),
        };
        let ahead =
            analyse_while_checked(more_than_cap, pages, WindowAnalysis::new(rules, context))
                .await?;
        if ahead.more_than_cap {
            return Err(Error::invalid(
                "to",
                format!(
                    "the window holds more than {} snapshots; narrow it",
                    self.shared.window_cap
                ),
            ));
        }
        Ok(RangeAnalysis {
            spacecraft: id.clone(),
            held: ahead.held,
            failure: ahead.failure,
            pages: ahead.pages,
            analysis: Some(ahead.analysis),
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
    use futures_util::{FutureExt, stream};
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

    fn temp_rules() -> Arc<CompiledRules> {
        let config = json!({"parameters": {"temp": {"warnHigh": 10}}});
        Arc::new(CompiledRules::compile(config.as_object().expect("object")).expect("rules"))
    }

    fn window_analysis() -> WindowAnalysis {
        let context = AnalysisContext {
            detected_at: Timestamp::from_millis(0).expect("time"),
            window_start: None,
            window_end: None,
        };
        WindowAnalysis::new(temp_rules(), context)
    }

    /// A page of `len` snapshots from second `first` on, every one over the limit.
    fn long_page(first: i64, len: i64) -> Result<TelemetryPage> {
        let snapshots = (first..first + len)
            .map(|second| -> Result<TelemetrySnapshot> {
                Ok(TelemetrySnapshot {
                    id: SnapshotId::parse(format!("s{second}"))?,
                    spacecraft_id: SpacecraftId::parse("SC-1")?,
                    timestamp: Timestamp::from_millis(second * 1000)?,
                    parameters: Parameters::from_json(&json!({"temp": 20 + second % 7}))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TelemetryPage {
            snapshots,
            next: None,
        })
    }

    /// The store's answer to whether the window is too long, given once it has been asked
    /// `polls` times (each time, the analysis takes one page that is ready meanwhile).
    fn answer_after(polls: usize, more_than_cap: bool) -> BoxFuture<'static, Result<bool>> {
        let mut left = polls;
        future::poll_fn(move |cx| {
            if left == 0 {
                return std::task::Poll::Ready(Ok(more_than_cap));
            }
            left -= 1;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        })
        .boxed()
    }

    /// `pages` as a stream that counts the pages taken from it in `taken`.
    fn counted(
        pages: Vec<Result<TelemetryPage>>,
        taken: &Arc<std::sync::atomic::AtomicUsize>,
    ) -> BoxStream<'static, Result<TelemetryPage>> {
        let taken = Arc::clone(taken);
        stream::iter(pages)
            .inspect(move |_| {
                taken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
            .boxed()
    }

    /// Every anomaly a range analysis returns, the failure that ended it if one did.
    async fn drain(ahead: AnalysedAhead) -> (Vec<Anomaly>, Option<Error>) {
        let mut analysis = RangeAnalysis {
            spacecraft: SpacecraftId::parse("SC-1").expect("id"),
            held: ahead.held,
            failure: ahead.failure,
            pages: ahead.pages,
            analysis: Some(ahead.analysis),
        };
        let mut found = Vec::new();
        loop {
            match analysis.next().await {
                Ok(Some(anomalies)) => found.extend(anomalies),
                Ok(None) => return (found, None),
                Err(e) => {
                    assert!(
                        matches!(analysis.next().await, Ok(None)),
                        "read on after {e}"
                    );
                    return (found, Some(e));
                }
            }
        }
    }

    fn five_pages() -> Vec<Result<TelemetryPage>> {
        (0..5).map(|n| long_page(n * 10, 10)).collect()
    }

    /// The analysis of `pages` while the store answers `more_than_cap` after `polls` polls,
    /// and how many pages it took meanwhile.
    async fn analysed_ahead(
        polls: usize,
        more_than_cap: bool,
        pages: Vec<Result<TelemetryPage>>,
    ) -> (AnalysedAhead, usize) {
        let taken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let ahead = analyse_while_checked(
            answer_after(polls, more_than_cap),
            counted(pages, &taken),
            window_analysis(),
        )
        .await
        .expect("answer");
        (ahead, taken.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Pages analysed while the store is still checking the window's length are returned
    /// first, in order, and the whole answer is the one the window gets when the store knows
    /// its length at once; a store that knows at once has no page read ahead.
    #[tokio::test]
    async fn pages_analysed_while_the_length_is_checked_come_first_and_change_nothing() {
        let (at_once, taken) = analysed_ahead(0, false, five_pages()).await;
        assert_eq!(taken, 0);
        assert!(at_once.held.is_empty());
        let (expected, failure) = drain(at_once).await;
        assert!(failure.is_none());
        assert_eq!(expected.len(), 50, "one anomaly a snapshot");

        for polls in [1, 3, 5, 9] {
            let (ahead, taken) = analysed_ahead(polls, false, five_pages()).await;
            assert!(!ahead.more_than_cap);
            assert_eq!(
                taken,
                polls.min(5),
                "pages read ahead while the answer took {polls} polls"
            );
            assert_eq!(ahead.held.len(), polls.min(5));
            let (found, failure) = drain(ahead).await;
            assert!(failure.is_none());
            assert_eq!(found, expected, "answer after {polls} polls");
        }
    }

    /// A window found too long after pages were analysed ahead is still refused: the answer
    /// says so, and a page's failure met meanwhile does not hide it.
    #[tokio::test]
    async fn a_window_found_too_long_after_pages_were_analysed_is_refused() {
        let (ahead, taken) = analysed_ahead(3, true, five_pages()).await;
        assert_eq!(taken, 3);
        assert!(ahead.more_than_cap);

        let pages = vec![
            long_page(0, 10),
            Err(Error::backend("the store went away".to_owned())),
        ];
        let (ahead, _) = analysed_ahead(4, true, pages).await;
        assert!(ahead.more_than_cap, "refused, not failed");
    }

    /// A page that fails while the length is checked ends the analysis after the pages before
    /// it, once the window is known to be short enough; a failure to find out the length is
    /// the answer's failure.
    #[tokio::test]
    async fn a_failure_met_ahead_comes_after_the_pages_before_it() {
        let pages = vec![
            long_page(0, 10),
            long_page(10, 10),
            Err(Error::backend("the store went away".to_owned())),
            long_page(20, 10),
        ];
        let (ahead, taken) = analysed_ahead(9, false, pages).await;
        assert_eq!(taken, 3, "no page taken after the failure");
        assert!(!ahead.more_than_cap);
        let (found, failure) = drain(ahead).await;
        assert_eq!(found.len(), 20, "the two pages before the failure");
        assert!(
            matches!(failure, Some(Error::Backend(ref m)) if m.to_string().contains("went away")),
            "{failure:?}"
        );

        let failed_answer = future::ready(Err(Error::backend("no count".to_owned()))).boxed();
        let outcome = analyse_while_checked(
            failed_answer,
            stream::iter(five_pages()).boxed(),
            window_analysis(),
        )
        .await;
        assert!(matches!(outcome, Err(Error::Backend(ref m)) if m.to_string() == "no count"));
    }

    /// Analysis ahead of the answer stops once it holds [`HELD_ANOMALIES`]: a window just
    /// under the cap whose length takes long to check holds a few megabytes, not the window's
    /// anomalies.
    #[tokio::test]
    async fn analysis_ahead_stops_at_the_held_anomalies_bound() {
        let page = 1_000;
        let pages: Vec<_> = (0..100).map(|n| long_page(n * page, page)).collect();
        let (ahead, taken) = analysed_ahead(1_000, false, pages).await;
        let held: usize = ahead.held.iter().map(Vec::len).sum();
        assert!(held >= HELD_ANOMALIES, "held {held}");
        assert!(
            held < HELD_ANOMALIES + 1_000,
            "held {held}: more than a page past the bound"
        );
        assert_eq!(taken, HELD_ANOMALIES.div_ceil(1_000));
        let (found, failure) = drain(ahead).await;
        assert!(failure.is_none());
        assert_eq!(found.len(), 100_000, "the rest read after the answer");
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
            held: VecDeque::new(),
            failure: None,
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
