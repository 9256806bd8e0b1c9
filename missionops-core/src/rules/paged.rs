//! Batch analyse of a time window page by page: the snapshots arrive in time order a page at a
//! time, and the anomalies come out in the order whole-window analysis gives them, so that a
//! window of any length is analysed in memory bounded by the page (SPEC §3, issue 17).
//!
//! The compat evaluator is stateless, so each page is analysed on its own. The stateful one
//! carries its state from page to page; and since a staleness finding is recorded against the
//! sample *before* a gap, a snapshot's anomalies are final only once every parameter of it with
//! a staleness rule has seen its next sample (or the window has ended). Until then they wait,
//! with those of the snapshots after it: only snapshots with findings or open waits are kept.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::domain::{
    Anomaly, ParameterValue, SnapshotId, SpacecraftId, TelemetrySnapshot, Timestamp,
};

use super::compile::{CompiledRules, Rule};
use super::evaluate::analyse_compat;
use super::extensions::Extensions;
use super::finding::{AnalysisContext, Finding, Sample};
use super::stateful::{Sink, Slot, StatefulEngine};

/// A batch analysis of a time window fed page by page, oldest snapshot first: the
/// concatenation of what [`push`](Self::push) and [`finish`](Self::finish) return is exactly
/// what [`analyse`](super::analyse) returns for the whole window at once.
#[derive(Debug)]
pub struct WindowAnalysis {
    rules: Arc<CompiledRules>,
    context: AnalysisContext,
    /// `None` for compat-only rules, which need no state.
    stateful: Option<(StatefulEngine, Waiting)>,
    /// The index the next snapshot gets: how many were pushed.
    next_index: usize,
}

impl WindowAnalysis {
    /// An analysis of a window against `rules`, stamping `context` on every anomaly.
    pub fn new(rules: Arc<CompiledRules>, context: AnalysisContext) -> Self {
        let stateful = (!rules.is_empty() && !rules.is_compat_only()).then(|| {
            (
                StatefulEngine::new(&rules),
                Waiting {
                    entries: VecDeque::new(),
                    context,
                    scratch: String::with_capacity(64),
                },
            )
        });
        WindowAnalysis {
            rules,
            context,
            stateful,
            next_index: 0,
        }
    }

    /// Analyses the next `page` of the window (in time order, after every page pushed before)
    /// and returns the anomalies that are final, in output order.
    pub fn push(&mut self, page: &[TelemetrySnapshot]) -> Vec<Anomaly> {
        let base = self.next_index;
        self.next_index += page.len();
        if self.rules.is_empty() {
            return Vec::new();
        }
        let Some((engine, waiting)) = &mut self.stateful else {
            return analyse_compat(&self.rules, page, self.context);
        };
        let mut sink = PageSink {
            waiting,
            page,
            base,
        };
        for (offset, snapshot) in page.iter().enumerate() {
            engine.step(&self.rules, base + offset, snapshot, &mut sink);
        }
        waiting.release(false)
    }

    /// Ends the window: the anomalies still waiting for a next sample that will not come.
    pub fn finish(mut self) -> Vec<Anomaly> {
        match &mut self.stateful {
            Some((_, waiting)) => waiting.release(true),
            None => Vec::new(),
        }
    }
}

/// A snapshot whose anomalies are not final yet, or are held behind one that is not.
#[derive(Debug)]
struct Entry {
    index: usize,
    snapshot: SnapshotId,
    spacecraft: SpacecraftId,
    timestamp: Timestamp,
    /// How many of its parameters await their next sample.
    awaiting: u32,
    /// Its anomalies so far, by (parameter position, kind rank).
    found: Vec<((usize, u8), Anomaly)>,
}

/// The snapshots held back, in index order.
#[derive(Debug)]
struct Waiting {
    entries: VecDeque<Entry>,
    context: AnalysisContext,
    scratch: String,
}

impl Waiting {
    /// The anomalies of the leading snapshots that wait for nothing (of all with `all`), in
    /// output order.
    fn release(&mut self, all: bool) -> Vec<Anomaly> {
        let mut out = Vec::new();
        while self
            .entries
            .front()
            .is_some_and(|entry| all || entry.awaiting == 0)
        {
            let Some(mut entry) = self.entries.pop_front() else {
                break;
            };
            // Stable: anomalies of one slot keep the order they were found in.
            entry.found.sort_by_key(|(key, _)| *key);
            out.extend(entry.found.into_iter().map(|(_, anomaly)| anomaly));
        }
        out
    }
}

/// The engine's sink while one page is evaluated.
struct PageSink<'a> {
    waiting: &'a mut Waiting,
    page: &'a [TelemetrySnapshot],
    /// The index of the page's first snapshot.
    base: usize,
}

impl PageSink<'_> {
    /// The entry of snapshot `index`, made from the page when there is none yet (a snapshot
    /// before the page always has one when it is named: it awaits a sample).
    fn entry(&mut self, index: usize) -> Option<&mut Entry> {
        let entries = &mut self.waiting.entries;
        let at = match entries.binary_search_by_key(&index, |e| e.index) {
            Ok(at) => at,
            Err(at) => {
                let snapshot = self.page.get(index.checked_sub(self.base)?)?;
                entries.insert(
                    at,
                    Entry {
                        index,
                        snapshot: snapshot.id.clone(),
                        spacecraft: snapshot.spacecraft_id.clone(),
                        timestamp: snapshot.timestamp,
                        awaiting: 0,
                        found: Vec::new(),
                    },
                );
                at
            }
        };
        entries.get_mut(at)
    }
}

impl Sink for PageSink<'_> {
    fn found(
        &mut self,
        (index, position, rank): Slot,
        rule: &Rule,
        ext: &Extensions,
        finding: Finding,
        value: ParameterValue,
    ) {
        let context = self.waiting.context;
        let mut scratch = std::mem::take(&mut self.waiting.scratch);
        if let Some(entry) = self.entry(index) {
            let sample = Sample {
                snapshot: &entry.snapshot,
                spacecraft: &entry.spacecraft,
                timestamp: entry.timestamp,
            };
            let severity = ext.severities.of(finding.kind);
            let anomaly = finding.into_anomaly(
                &rule.parameter,
                severity,
                sample,
                value,
                &context,
                &mut scratch,
            );
            entry.found.push(((position, rank), anomaly));
        }
        self.waiting.scratch = scratch;
    }

    fn awaiting(&mut self, index: usize) {
        if let Some(entry) = self.entry(index) {
            entry.awaiting += 1;
        }
    }

    fn settled(&mut self, index: usize) {
        if let Some(entry) = self.entry(index) {
            entry.awaiting = entry.awaiting.saturating_sub(1);
        }
    }
}
