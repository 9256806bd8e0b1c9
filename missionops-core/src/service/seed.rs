//! The demo seeders (SPEC §7): the simulation's telemetry, limits and documents written through
//! the same use cases as real data, idempotently, with a dry run that writes nothing.
//!
//! Over 500 lines with its tests, and kept whole: the seeding of telemetry, limits and
//! documents is one use case with one report and one dry run.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use super::MissionOps;
use crate::domain::{
    ConfigSource, ConfigStatus, DocumentCategory, DocumentFilter, DocumentId, DocumentTitle, Limit,
    MissionType, NewSnapshot, NewSpacecraft, Spacecraft, SpacecraftId, SpacecraftName, Tags,
    Timestamp,
};
use crate::error::{Error, Result};
use crate::rules::{CompiledRules, Evaluator};
use crate::simulation::{DemoProfile, SnapshotGenerator, Span, validate_span};

/// Snapshots per ingest batch while seeding: small enough to bound memory and give the progress
/// callback a steady beat, large enough to amortise a store's transaction.
const SEED_BATCH: usize = 1_000;
/// Page size when looking up spacecraft by name and documents by title.
const PAGE: u32 = 100;

/// What [`MissionOps::seed_demo_data`] seeds.
///
/// ```
/// use missionops_core::{DemoProfile, SeedOptions};
///
/// let options = SeedOptions {
///     duration_minutes: 10,
///     profiles: vec![DemoProfile::Cubesat],
///     dry_run: true,
///     ..SeedOptions::default()
/// };
/// assert_eq!(options.interval_seconds, 60);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOptions {
    /// How many minutes of telemetry, 1–10,080 (a week). Default 120.
    pub duration_minutes: i64,
    /// Seconds between two samples, 1–86,400. Default 60.
    pub interval_seconds: i64,
    /// The seed of the simulation: the same seed and window give the same data. Default 42.
    pub seed: u64,
    /// When the last sample is taken; now, by the application's clock, when `None` (the
    /// default). Give it to make a run reproducible.
    pub end: Option<Timestamp>,
    /// Report what would be written without writing anything. Default `false`.
    pub dry_run: bool,
    /// Which profiles, in order; repeats are ignored. Default all four.
    pub profiles: Vec<DemoProfile>,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions {
            duration_minutes: 120,
            interval_seconds: 60,
            seed: 42,
            end: None,
            dry_run: false,
            profiles: DemoProfile::ALL.to_vec(),
        }
    }
}

/// Progress of [`MissionOps::seed_demo_data_with_progress`], reported after every batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedProgress {
    /// The profile being seeded.
    pub profile: DemoProfile,
    /// Its spacecraft.
    pub spacecraft_id: SpacecraftId,
    /// The profile's position in the run, from 0.
    pub profile_index: usize,
    /// How many profiles the run seeds.
    pub profile_count: usize,
    /// Snapshots of this profile done so far.
    pub snapshots_done: usize,
    /// Snapshots of this profile in all.
    pub snapshots_total: usize,
}

/// What seeding one profile did (or, in a dry run, would do).
///
/// Displays as the compat summary line, `Seeded Sat-Imager-001 (LEO_IMAGING) for 10 minutes @
/// 60s interval`, prefixed with `[DRY-RUN] ` in a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSeedReport {
    /// The profile.
    pub profile: DemoProfile,
    /// The spacecraft seeded: the one with the profile's name, or a new one with the name as id.
    pub spacecraft_id: SpacecraftId,
    /// Its name.
    pub name: SpacecraftName,
    /// The profile's mission type.
    pub mission_type: MissionType,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Minutes of telemetry.
    pub duration_minutes: u32,
    /// Seconds between samples.
    pub interval_seconds: u32,
    /// Whether the spacecraft was (or would be) registered by this run.
    pub registered: bool,
    /// Whether the limits configuration was (or would be) written by this run: it is written
    /// only when the current one differs.
    pub config_changed: bool,
    /// Snapshots generated.
    pub snapshots: usize,
    /// Of those, how many were new to the store (0 in a dry run).
    pub snapshots_inserted: usize,
    /// Of those, how many the store already held from an earlier run (0 in a dry run).
    pub snapshots_duplicate: usize,
    /// Anomalies found in the seeded window; in a dry run, the limit crossings in the
    /// generated snapshots.
    pub anomalies_detected: usize,
    /// Of those, how many were new and persisted (0 in a dry run).
    pub anomalies_persisted: usize,
}

impl fmt::Display for ProfileSeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            f.write_str("[DRY-RUN] ")?;
        }
        write!(
            f,
            "Seeded {} ({}) for {} minutes @ {}s interval",
            self.name, self.mission_type, self.duration_minutes, self.interval_seconds
        )
    }
}

/// What [`MissionOps::seed_demo_data`] did. Displays as one summary line per profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedReport {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The seed used.
    pub seed: u64,
    /// The start of the window (the first sample is one interval later).
    pub from: Timestamp,
    /// The end of the window: the last sample.
    pub to: Timestamp,
    /// One report per profile, in the order seeded.
    pub profiles: Vec<ProfileSeedReport>,
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, profile) in self.profiles.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{profile}")?;
        }
        Ok(())
    }
}

/// One demo document and what [`MissionOps::seed_demo_docs`] did with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeededDocument {
    /// The spacecraft it is about.
    pub spacecraft_id: SpacecraftId,
    /// Its title, unique per spacecraft among the demo documents.
    pub title: DocumentTitle,
    /// `procedure`, `telemetry_definition` or `mission_note`.
    pub category: DocumentCategory,
    /// Its tags.
    pub tags: Tags,
    /// The stored document: just published, or already there; `None` in a dry run for a
    /// document not yet published.
    pub id: Option<DocumentId>,
    /// Whether this run published it (in a dry run: would publish it).
    pub published: bool,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

impl fmt::Display for SeededDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match (self.dry_run, self.published) {
            (true, true) => "[DRY-RUN] Would publish",
            (false, true) => "Published",
            (_, false) => "Already present:",
        };
        write!(
            f,
            "{verb} \"{}\" ({}) for {}",
            self.title, self.category, self.spacecraft_id
        )
    }
}

/// The validated parts of a seeding run that every profile shares.
#[derive(Debug, Clone, Copy)]
struct SeedRun {
    span: Span,
    start: Timestamp,
    seed: u64,
    dry_run: bool,
    profile_count: usize,
}

/// The spacecraft a profile is seeded into.
#[derive(Debug)]
struct DemoTarget {
    id: SpacecraftId,
    name: SpacecraftName,
    /// Whether it did not exist and was (or, in a dry run, would be) registered.
    registered: bool,
}

impl MissionOps {
    /// Seeds the demo spacecraft with simulated telemetry and persisted anomalies (SPEC §7,
    /// `seed-demo-data`), as [`MissionOps::seed_demo_data_with_progress`] without progress.
    pub async fn seed_demo_data(&self, options: SeedOptions) -> Result<SeedReport> {
        self.seed_demo_data_with_progress(options, &|_| {}).await
    }

    /// Seeds each profile of `options` in turn, calling `progress` after every batch:
    ///
    /// 1. finds the spacecraft by the profile's name, or registers it with the name as id, the
    ///    profile's mission type and metadata `{"demo": true}`;
    /// 2. sets the profile's limits (status approved, source seed) when the current
    ///    configuration differs;
    /// 3. ingests the simulated snapshots of the window ending at `options.end` in batches of
    ///    1,000 as live telemetry (the streaming monitor opens and clears alarms), and detects
    ///    and persists the anomalies of each batch's time span.
    ///
    /// Idempotent: the same seed and window give the same snapshot ids, so a second run stores
    /// nothing new. With `dry_run` nothing is written; the report says what would be.
    ///
    /// [`Error::Invalid`] naming `durationMinutes`, `intervalSeconds` or `profiles` for bad
    /// options (before anything is written); [`Error::Conflict`] when a profile's spacecraft id
    /// is taken by a spacecraft with another name. A failure part-way leaves the profiles
    /// and batches before it seeded; running again with the same seed and `end` completes
    /// them.
    pub async fn seed_demo_data_with_progress(
        &self,
        options: SeedOptions,
        progress: &(dyn Fn(SeedProgress) + Send + Sync),
    ) -> Result<SeedReport> {
        let span = validate_span(options.duration_minutes, options.interval_seconds)?;
        if options.profiles.is_empty() {
            return Err(Error::invalid("profiles", "must name at least one profile"));
        }
        let mut profiles: Vec<DemoProfile> = Vec::with_capacity(options.profiles.len());
        for profile in options.profiles {
            if !profiles.contains(&profile) {
                profiles.push(profile);
            }
        }
        let end = options.end.unwrap_or_else(|| self.shared.clock.now());
        let start = end.add_millis(-i64::from(span.duration_minutes) * 60_000);
        let run = SeedRun {
            span,
            start,
            seed: options.seed,
            dry_run: options.dry_run,
            profile_count: profiles.len(),
        };
        let mut reports = Vec::with_capacity(profiles.len());
        for (index, profile) in profiles.into_iter().enumerate() {
            reports.push(self.seed_profile(profile, index, run, progress).await?);
        }
        Ok(SeedReport {
            dry_run: options.dry_run,
            seed: options.seed,
            from: start,
            to: end,
            profiles: reports,
        })
    }

    async fn seed_profile(
        &self,
        profile: DemoProfile,
        index: usize,
        run: SeedRun,
        progress: &(dyn Fn(SeedProgress) + Send + Sync),
    ) -> Result<ProfileSeedReport> {
        let target = self.demo_spacecraft(profile, run.dry_run).await?;
        let config = profile.config()?;
        let current = self
            .shared
            .store
            .current_config(&self.tenant, &target.id)
            .await?;
        let config_changed = current
            .as_ref()
            .is_none_or(|c| c.config.as_object() != config.as_object());
        let rules = CompiledRules::compile(config.as_object())?;
        if config_changed && !run.dry_run {
            self.set_config(
                &target.id,
                config,
                ConfigStatus::Approved,
                Some(ConfigSource::Seed),
            )
            .await?;
        }
        let mut generator = SnapshotGenerator::from_span(
            profile,
            target.id.clone(),
            run.start,
            run.span,
            run.seed,
        )?;
        let mut report = ProfileSeedReport {
            profile,
            spacecraft_id: target.id.clone(),
            name: target.name,
            mission_type: MissionType::parse(profile.as_str())?,
            dry_run: run.dry_run,
            duration_minutes: run.span.duration_minutes,
            interval_seconds: run.span.interval_seconds,
            registered: target.registered,
            config_changed,
            snapshots: 0,
            snapshots_inserted: 0,
            snapshots_duplicate: 0,
            anomalies_detected: 0,
            anomalies_persisted: 0,
        };
        let total = generator.len();
        // A dry run cannot ask the store to detect, so it counts the limit crossings of the
        // generated data with the profile's rules instead.
        let mut evaluator = Evaluator::new(&rules);
        loop {
            let batch: Vec<NewSnapshot> = generator.by_ref().take(SEED_BATCH).collect();
            let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
                break;
            };
            let (from, to) = (first.timestamp, last.timestamp);
            let len = batch.len();
            if run.dry_run {
                for snapshot in &batch {
                    evaluator.check(&snapshot.parameters, |_, _, _| {
                        report.anomalies_detected += 1;
                    });
                }
            } else {
                let stored_before = self.anomaly_timeline(&target.id, from, to).await?.len();
                // Live: the demo's spikes open alarms and raise events, as a pass would.
                let ingested = self.ingest_batch(batch).await?;
                report.snapshots_inserted += ingested.outcome.inserted;
                report.snapshots_duplicate += ingested.outcome.duplicates;
                // Detecting batch by batch bounds the window loaded into memory, and an
                // interrupted run still has the anomalies of what it stored. The monitor has
                // recorded most of them already; detect stores what it did not.
                let detected = self.detect(&target.id, from, to).await?;
                let stored_after = self.anomaly_timeline(&target.id, from, to).await?.len();
                report.anomalies_detected += detected.detected;
                report.anomalies_persisted += stored_after.saturating_sub(stored_before);
            }
            report.snapshots += len;
            progress(SeedProgress {
                profile,
                spacecraft_id: target.id.clone(),
                profile_index: index,
                profile_count: run.profile_count,
                snapshots_done: report.snapshots,
                snapshots_total: total,
            });
        }
        Ok(report)
    }

    /// Publishes each demo profile's documents (SPEC §7, `seed-demo-docs`): procedures,
    /// telemetry definitions and a mission note, about the profile's spacecraft (found by name,
    /// or registered as [`MissionOps::seed_demo_data`] does).
    ///
    /// Idempotent: a document whose title the spacecraft already has a document with is left
    /// alone. With `dry_run` nothing is written. Returns every demo document, in order, with
    /// what was done with it.
    pub async fn seed_demo_docs(&self, dry_run: bool) -> Result<Vec<SeededDocument>> {
        let mut seeded = Vec::new();
        for profile in DemoProfile::ALL {
            let target = self.demo_spacecraft(profile, dry_run).await?;
            let existing = self.document_titles(&target.id).await?;
            for document in profile.documents(&target.id)? {
                let stored = existing
                    .iter()
                    .find(|(title, _)| *title == document.title)
                    .map(|(_, id)| id.clone());
                let summary = |id: Option<DocumentId>, published: bool| SeededDocument {
                    spacecraft_id: target.id.clone(),
                    title: document.title.clone(),
                    category: document
                        .category
                        .clone()
                        .unwrap_or_else(DocumentCategory::general),
                    tags: document.tags.clone().unwrap_or_default(),
                    id,
                    published,
                    dry_run,
                };
                let entry = match stored {
                    Some(id) => summary(Some(id), false),
                    None if dry_run => summary(None, true),
                    None => {
                        let entry = summary(None, true);
                        let published = self.publish_document(document).await?;
                        SeededDocument {
                            id: Some(published.id),
                            ..entry
                        }
                    }
                };
                seeded.push(entry);
            }
        }
        Ok(seeded)
    }

    /// The spacecraft `profile` is seeded into: the first one with the profile's name, else a
    /// new one with the name as id (registered unless `dry_run`).
    async fn demo_spacecraft(&self, profile: DemoProfile, dry_run: bool) -> Result<DemoTarget> {
        let name = SpacecraftName::parse(profile.spacecraft_name())?;
        if let Some(existing) = self.find_spacecraft_named(&name).await? {
            return Ok(DemoTarget {
                id: existing.id,
                name,
                registered: false,
            });
        }
        let id = SpacecraftId::parse(profile.spacecraft_name())?;
        if let Some(other) = self.shared.store.get_spacecraft(&self.tenant, &id).await? {
            return Err(id_taken(&id, &other, &name));
        }
        if dry_run {
            return Ok(DemoTarget {
                id,
                name,
                registered: true,
            });
        }
        let mut metadata = Map::new();
        metadata.insert("demo".to_owned(), Value::Bool(true));
        let new = NewSpacecraft {
            id: Some(id.clone()),
            name: name.clone(),
            mission_type: Some(MissionType::parse(profile.as_str())?),
            metadata: Some(metadata),
        };
        match self.register_spacecraft(new).await {
            Ok(_) => Ok(DemoTarget {
                id,
                name,
                registered: true,
            }),
            // Registered concurrently since the lookup: fine if it is the demo spacecraft.
            Err(conflict @ Error::Conflict { .. }) => {
                match self.shared.store.get_spacecraft(&self.tenant, &id).await? {
                    Some(existing) if existing.name == name => Ok(DemoTarget {
                        id,
                        name,
                        registered: false,
                    }),
                    Some(other) => Err(id_taken(&id, &other, &name)),
                    None => Err(conflict),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The oldest spacecraft named `name`, paging through all of them.
    async fn find_spacecraft_named(&self, name: &SpacecraftName) -> Result<Option<Spacecraft>> {
        let page_size = Limit::clamped(i64::from(PAGE), PAGE);
        let mut offset = 0u64;
        loop {
            let page = self
                .shared
                .store
                .list_spacecraft(&self.tenant, page_size, offset)
                .await?;
            let count = page.items.len() as u64;
            if let Some(found) = page.items.into_iter().find(|s| &s.name == name) {
                return Ok(Some(found));
            }
            offset += count;
            if count == 0 || offset >= page.total {
                return Ok(None);
            }
        }
    }

    /// The titles and ids of every document about `spacecraft`, paging through all of them.
    async fn document_titles(
        &self,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<(DocumentTitle, DocumentId)>> {
        let mut titles = Vec::new();
        let mut filter = DocumentFilter {
            spacecraft_id: Some(spacecraft.clone()),
            category: None,
            tag: None,
            limit: Limit::clamped(i64::from(PAGE), PAGE),
            offset: 0,
        };
        loop {
            let page = self.list_documents(&filter).await?;
            let count = page.len();
            titles.extend(page.into_iter().map(|d| (d.title, d.id)));
            if count < filter.limit.get() || count == 0 {
                return Ok(titles);
            }
            filter.offset += count;
        }
    }
}

fn id_taken(id: &SpacecraftId, other: &Spacecraft, name: &SpacecraftName) -> Error {
    Error::conflict(
        "spacecraft",
        id,
        format!(
            "the id is taken by spacecraft \"{}\", so the demo spacecraft {name} cannot be \
             registered under it",
            other.name
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(dry_run: bool) -> ProfileSeedReport {
        ProfileSeedReport {
            profile: DemoProfile::LeoImaging,
            spacecraft_id: SpacecraftId::parse("Sat-Imager-001").unwrap(),
            name: SpacecraftName::parse("Sat-Imager-001").unwrap(),
            mission_type: MissionType::parse("LEO_IMAGING").unwrap(),
            dry_run,
            duration_minutes: 10,
            interval_seconds: 60,
            registered: true,
            config_changed: true,
            snapshots: 10,
            snapshots_inserted: 0,
            snapshots_duplicate: 0,
            anomalies_detected: 0,
            anomalies_persisted: 0,
        }
    }

    #[test]
    fn the_summary_line_matches_the_typescript_cli() {
        assert_eq!(
            report(true).to_string(),
            "[DRY-RUN] Seeded Sat-Imager-001 (LEO_IMAGING) for 10 minutes @ 60s interval"
        );
        assert_eq!(
            report(false).to_string(),
            "Seeded Sat-Imager-001 (LEO_IMAGING) for 10 minutes @ 60s interval"
        );
    }

    #[test]
    fn defaults_are_two_hours_at_one_minute_for_all_four_profiles() {
        let options = SeedOptions::default();
        assert_eq!(
            (options.duration_minutes, options.interval_seconds),
            (120, 60)
        );
        assert_eq!(options.profiles, DemoProfile::ALL.to_vec());
        assert!(!options.dry_run && options.end.is_none());
    }
}
