//! The deterministic snapshot generator.
//!
//! Over 500 lines with its tests, and kept whole: the generator, its span checks and the
//! seeded random helpers it draws from are one concept (same seed, same snapshots).

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::profile::{Behaviour, DemoProfile};
use crate::domain::{
    LayoutInterner, NewSnapshot, ParameterName, ParameterValue, Parameters, SnapshotId,
    SpacecraftId, Timestamp,
};
use crate::error::{Error, Result};
use crate::rules::{CompiledRules, Thresholds};

/// The longest simulated run: one week.
pub(crate) const MAX_DURATION_MINUTES: i64 = 10_080;
/// The longest interval between two samples: one day.
pub(crate) const MAX_INTERVAL_SECONDS: i64 = 86_400;
/// The most snapshots one run may produce for one profile.
pub(crate) const MAX_SNAPSHOTS: i64 = 1_000_000;

// The bounds above keep every run within MAX_SNAPSHOTS (a week at 1 s is 604,800 samples), so
// no run needs a separate count check; this fails the build if someone widens them.
const _: () = assert!(MAX_DURATION_MINUTES * 60 <= MAX_SNAPSHOTS);

/// How strongly a walk is pulled back toward its nominal value per sample. Small enough that
/// the values wander visibly, large enough that they never settle at a bound.
const MEAN_REVERSION: f64 = 0.02;
/// The fewest samples between two spikes. Gaps are drawn uniformly between this and
/// [`MAX_SPIKE_GAP`] rather than per sample by coin toss: with spikes of 1–3 samples that puts
/// about 5 % of snapshots out of limits with little spread even over a short run, and any run
/// of more than 63 samples (a two-hour run at one sample a minute) has a spike.
const MIN_SPIKE_GAP: usize = 20;
/// The most samples between two spikes (and before the first).
const MAX_SPIKE_GAP: usize = 60;
/// The longest spike, in samples.
const MAX_SPIKE_SAMPLES: usize = 3;
/// The share of spikes that go past the critical limit rather than stopping between the
/// warning and critical limits.
const CRITICAL_SPIKE_SHARE: f64 = 0.3;

/// Checks a run's length and cadence, naming `durationMinutes` or `intervalSeconds`, and
/// returns them with the number of samples.
pub(crate) fn validate_span(duration_minutes: i64, interval_seconds: i64) -> Result<Span> {
    if !(1..=MAX_DURATION_MINUTES).contains(&duration_minutes) {
        return Err(Error::invalid(
            "durationMinutes",
            format!("must be an integer from 1 to {MAX_DURATION_MINUTES} (got {duration_minutes})"),
        ));
    }
    if !(1..=MAX_INTERVAL_SECONDS).contains(&interval_seconds) {
        return Err(Error::invalid(
            "intervalSeconds",
            format!("must be an integer from 1 to {MAX_INTERVAL_SECONDS} (got {interval_seconds})"),
        ));
    }
    // One sample closes each whole interval; an interval longer than the run still gives the
    // one sample at its end rather than an empty run.
    let count = (duration_minutes * 60 / interval_seconds).max(1);
    Ok(Span {
        duration_minutes: u32::try_from(duration_minutes).unwrap_or(u32::MAX),
        interval_seconds: u32::try_from(interval_seconds).unwrap_or(u32::MAX),
        count: usize::try_from(count).unwrap_or(0),
    })
}

/// A validated run length and cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) duration_minutes: u32,
    pub(crate) interval_seconds: u32,
    /// How many samples the run holds.
    pub(crate) count: usize,
}

/// Generates a demo spacecraft's telemetry: a deterministic stream of [`NewSnapshot`]s.
///
/// A run of `duration_minutes` from `start` holds one sample per whole interval, the last
/// exactly at `start + duration` (at least one sample). Each numeric parameter follows a
/// random walk around its nominal value ([`Behaviour::Walk`]) that stays inside the warning
/// limits. Every 20–60 samples a spike of one to three samples hits one limited parameter,
/// past its warning limit and in three spikes out of ten past its critical limit, so that
/// about 5 % of snapshots are out of limits. Mode parameters change now and then, and counters
/// count while their mode is active.
///
/// The stream is a pure function of the profile, the spacecraft id, `start`, the interval and
/// `seed`: the same inputs give the same snapshots, ids included, on every platform. The ids
/// are UUIDs (version 8, RFC 9562 custom) drawn from the same stream, so that a re-run is
/// recognised as duplicates and a run over another window never reuses an id for other
/// content. A longer run over the same start and interval extends a shorter one.
///
/// Snapshots are produced one at a time, so a run of a million needs no big buffer.
///
/// ```
/// use missionops_core::{DemoProfile, SnapshotGenerator, Timestamp};
///
/// let start = Timestamp::parse("2025-06-01T00:00:00Z")?;
/// let run = SnapshotGenerator::new(DemoProfile::Cubesat, start, 10, 60, 42)?;
/// assert_eq!(run.len(), 10);
/// let last = run.last().expect("ten snapshots");
/// assert_eq!(last.timestamp.to_string(), "2025-06-01T00:10:00.000Z");
/// assert!(last.parameters.get("battery_soc").is_some());
/// # Ok::<(), missionops_core::Error>(())
/// ```
#[derive(Debug)]
pub struct SnapshotGenerator {
    spacecraft_id: SpacecraftId,
    names: Vec<ParameterName>,
    models: Vec<Model>,
    /// The position of the mode parameter that counters follow, if the profile has one.
    mode_index: Option<usize>,
    /// The numeric parameters with limits, which spikes choose from.
    spike_targets: Vec<usize>,
    spike: Option<Spike>,
    /// Quiet samples left before the next spike starts.
    until_spike: usize,
    rng: ChaCha8Rng,
    /// Shares one parameter layout between all snapshots of the run, so a consumer that keeps
    /// them (or evaluates them) pays for the names once.
    layouts: LayoutInterner,
    start: Timestamp,
    end_millis: i64,
    interval_millis: i64,
    next: usize,
    count: usize,
}

/// The state of one parameter.
#[derive(Debug, Clone, Copy)]
enum Model {
    Walk {
        value: f64,
        nominal: f64,
        step: f64,
        min: f64,
        max: f64,
        /// `10^decimals`, for rounding.
        scale: f64,
        thresholds: Thresholds,
    },
    Counter {
        count: u64,
        max_increment: u32,
        active_mode: Option<&'static str>,
    },
    Mode {
        modes: &'static [&'static str],
        current: usize,
        leave_nominal: f64,
        return_to_nominal: f64,
    },
}

/// A running spike.
#[derive(Debug, Clone, Copy)]
struct Spike {
    /// The parameter's position.
    parameter: usize,
    high: bool,
    critical: bool,
    remaining: usize,
}

impl SnapshotGenerator {
    /// A run of `profile` for its demo spacecraft (the id is the profile's spacecraft name).
    ///
    /// [`Error::Invalid`] naming `durationMinutes` unless it is 1–10,080, or
    /// `intervalSeconds` unless it is 1–86,400.
    pub fn new(
        profile: DemoProfile,
        start: Timestamp,
        duration_minutes: i64,
        interval_seconds: i64,
        seed: u64,
    ) -> Result<Self> {
        let spacecraft_id = SpacecraftId::parse(profile.spacecraft_name())?;
        Self::for_spacecraft(
            profile,
            spacecraft_id,
            start,
            duration_minutes,
            interval_seconds,
            seed,
        )
    }

    /// A run of `profile` for the spacecraft `spacecraft_id` (a demo spacecraft registered
    /// under another id). Rejects what [`SnapshotGenerator::new`] rejects.
    pub fn for_spacecraft(
        profile: DemoProfile,
        spacecraft_id: SpacecraftId,
        start: Timestamp,
        duration_minutes: i64,
        interval_seconds: i64,
        seed: u64,
    ) -> Result<Self> {
        let span = validate_span(duration_minutes, interval_seconds)?;
        Self::from_span(profile, spacecraft_id, start, span, seed)
    }

    pub(crate) fn from_span(
        profile: DemoProfile,
        spacecraft_id: SpacecraftId,
        start: Timestamp,
        span: Span,
        seed: u64,
    ) -> Result<Self> {
        let rules = CompiledRules::compile(profile.config()?.as_object())?;
        let mut names = Vec::with_capacity(profile.parameters().len());
        let mut models = Vec::with_capacity(profile.parameters().len());
        for model in profile.parameters() {
            let name = ParameterName::parse(model.name)?;
            let thresholds = rules
                .rule_for(&name)
                .map_or(Thresholds::NONE, |r| r.thresholds);
            models.push(match model.behaviour {
                Behaviour::Walk {
                    nominal,
                    step,
                    min,
                    max,
                    decimals,
                } => Model::Walk {
                    value: nominal,
                    nominal,
                    step,
                    min,
                    max,
                    scale: 10f64.powi(i32::from(decimals)),
                    thresholds,
                },
                Behaviour::Counter {
                    initial,
                    max_increment,
                    active_mode,
                } => Model::Counter {
                    count: u64::from(initial),
                    max_increment,
                    active_mode,
                },
                Behaviour::Mode {
                    modes,
                    leave_nominal,
                    return_to_nominal,
                } => Model::Mode {
                    modes,
                    current: 0,
                    leave_nominal,
                    return_to_nominal,
                },
            });
            names.push(name);
        }
        // A trial build proves the names make valid parameters (unique, not too many), so that
        // building each snapshot's parameters cannot fail later.
        Parameters::new(
            names
                .iter()
                .map(|n| (n.clone(), ParameterValue::Bool(false))),
        )?;
        let mode_index = models.iter().position(|m| matches!(m, Model::Mode { .. }));
        let spike_targets = models
            .iter()
            .enumerate()
            .filter_map(|(i, m)| match m {
                Model::Walk { thresholds, .. } if *thresholds != Thresholds::NONE => Some(i),
                _ => None,
            })
            .collect();
        let interval_millis = i64::from(span.interval_seconds) * 1000;
        let end = start.add_millis(i64::from(span.duration_minutes) * 60_000);
        let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(
            seed,
            profile,
            &spacecraft_id,
            start,
            span.interval_seconds,
        ));
        Ok(SnapshotGenerator {
            spacecraft_id,
            names,
            models,
            mode_index,
            spike_targets,
            spike: None,
            until_spike: below(&mut rng, MAX_SPIKE_GAP + 1),
            rng,
            layouts: LayoutInterner::new(),
            start,
            end_millis: end.as_millis(),
            interval_millis,
            next: 0,
            count: span.count,
        })
    }

    /// The spacecraft the snapshots belong to.
    pub fn spacecraft_id(&self) -> &SpacecraftId {
        &self.spacecraft_id
    }

    /// The start of the run (exclusive: the first sample is one interval later).
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The end of the run: the time of the last sample.
    pub fn end(&self) -> Timestamp {
        Timestamp::from_millis_clamped(self.end_millis)
    }

    fn chance(&mut self, probability: f64) -> bool {
        chance(&mut self.rng, probability)
    }

    fn below(&mut self, n: usize) -> usize {
        below(&mut self.rng, n)
    }

    fn advance_modes(&mut self) {
        let rng = &mut self.rng;
        for model in &mut self.models {
            if let Model::Mode {
                modes,
                current,
                leave_nominal,
                return_to_nominal,
            } = model
            {
                if *current == 0 {
                    if modes.len() > 1 && chance(rng, *leave_nominal) {
                        *current = 1 + below(rng, modes.len() - 1);
                    }
                } else if chance(rng, *return_to_nominal) {
                    *current = 0;
                }
            }
        }
    }

    fn current_mode(&self) -> Option<&'static str> {
        match self.models.get(self.mode_index?)? {
            Model::Mode { modes, current, .. } => modes.get(*current).copied(),
            _ => None,
        }
    }

    fn advance_values(&mut self) {
        let mode = self.current_mode();
        let rng = &mut self.rng;
        for model in &mut self.models {
            match model {
                Model::Walk {
                    value,
                    nominal,
                    step,
                    min,
                    max,
                    ..
                } => {
                    let jitter = *step * (2.0 * unit(rng) - 1.0);
                    let moved = *value + MEAN_REVERSION * (*nominal - *value) + jitter;
                    *value = finite_or(moved.clamp(*min, *max), *nominal);
                }
                Model::Counter {
                    count,
                    max_increment,
                    active_mode,
                } => {
                    if active_mode.is_none_or(|m| mode == Some(m)) {
                        let increment = below(rng, *max_increment as usize + 1) as u64;
                        *count = count.saturating_add(increment);
                    }
                }
                Model::Mode { .. } => {}
            }
        }
    }

    fn advance_spike(&mut self) {
        match &mut self.spike {
            Some(spike) if spike.remaining > 1 => spike.remaining -= 1,
            Some(_) => {
                self.spike = None;
                self.until_spike = MIN_SPIKE_GAP + self.below(MAX_SPIKE_GAP - MIN_SPIKE_GAP + 1);
            }
            None if self.until_spike > 0 => self.until_spike -= 1,
            None => {
                if !self.spike_targets.is_empty() {
                    let target = self.below(self.spike_targets.len());
                    let Some(&parameter) = self.spike_targets.get(target) else {
                        return;
                    };
                    let (low, high) = match self.models.get(parameter) {
                        Some(Model::Walk { thresholds: t, .. }) => (
                            t.warn_low.is_finite() || t.crit_low.is_finite(),
                            t.warn_high.is_finite() || t.crit_high.is_finite(),
                        ),
                        _ => (false, false),
                    };
                    let high = match (low, high) {
                        (true, true) => self.chance(0.5),
                        (_, high) => high,
                    };
                    let critical = self.chance(CRITICAL_SPIKE_SHARE);
                    let remaining = 1 + self.below(MAX_SPIKE_SAMPLES);
                    self.spike = Some(Spike {
                        parameter,
                        high,
                        critical,
                        remaining,
                    });
                }
            }
        }
    }

    /// The value of the running spike on walk `thresholds`: between the warning and critical
    /// limits, or past the critical one.
    fn spike_value(&mut self, spike: Spike, thresholds: Thresholds, step: f64) -> f64 {
        let (warn, crit, outward) = if spike.high {
            (thresholds.warn_high, thresholds.crit_high, 1.0)
        } else {
            (thresholds.warn_low, thresholds.crit_low, -1.0)
        };
        let gap = (crit - warn).abs();
        let both = warn.is_finite() && crit.is_finite() && gap > 0.0;
        // Without a band between the two limits, a spike overshoots the outermost limit by a
        // few walk steps.
        let gap = if both { gap } else { (10.0 * step).max(1e-3) };
        let u = unit(&mut self.rng);
        if both && !spike.critical {
            warn + outward * gap * (0.2 + 0.6 * u)
        } else {
            let outermost = if crit.is_finite() { crit } else { warn };
            outermost + outward * gap * (0.1 + 0.5 * u)
        }
    }

    fn snapshot_id(&mut self) -> SnapshotId {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        uuid::Builder::from_custom_bytes(bytes).into_uuid().into()
    }
}

impl Iterator for SnapshotGenerator {
    type Item = NewSnapshot;

    fn next(&mut self) -> Option<NewSnapshot> {
        if self.next >= self.count {
            return None;
        }
        let index = self.next;
        self.next += 1;
        // The draws happen in a fixed order (id, modes, values, spike), which is what makes the
        // stream reproducible.
        let id = self.snapshot_id();
        self.advance_modes();
        self.advance_values();
        self.advance_spike();
        let spike = self.spike;
        let spike_value = match spike {
            Some(spike) => match self.models.get(spike.parameter) {
                Some(&Model::Walk {
                    thresholds, step, ..
                }) => Some((spike.parameter, self.spike_value(spike, thresholds, step))),
                _ => None,
            },
            None => None,
        };
        let values = self
            .models
            .iter()
            .enumerate()
            .map(|(i, model)| match *model {
                Model::Walk {
                    value,
                    nominal,
                    scale,
                    ..
                } => {
                    let raw = match spike_value {
                        Some((parameter, spiked)) if parameter == i => spiked,
                        _ => value,
                    };
                    ParameterValue::Number(finite_or((raw * scale).round() / scale, nominal))
                }
                Model::Counter { count, .. } => ParameterValue::Number(count as f64),
                Model::Mode { modes, current, .. } => {
                    ParameterValue::Text(modes.get(current).copied().unwrap_or_default().to_owned())
                }
            });
        let values: Vec<ParameterValue> = values.collect();
        let remaining_after = i64::try_from(self.count - 1 - index).unwrap_or(i64::MAX);
        let timestamp = Timestamp::from_millis_clamped(
            self.end_millis
                .saturating_sub(remaining_after.saturating_mul(self.interval_millis)),
        );
        let parameters = match Parameters::new(self.names.iter().cloned().zip(values)) {
            Ok(parameters) => self.layouts.share(parameters),
            // The names passed the same check in `from_span`, so this cannot happen; end the
            // stream rather than panic if it ever did.
            Err(_) => {
                self.next = self.count;
                return None;
            }
        };
        Some(NewSnapshot {
            id: Some(id),
            spacecraft_id: self.spacecraft_id.clone(),
            timestamp,
            parameters,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.count - self.next;
        (remaining, Some(remaining))
    }
}

impl ExactSizeIterator for SnapshotGenerator {}

/// A uniform number in `[0, 1)` from the top 53 bits of the next word. Written out here rather
/// than taken from `rand`'s distributions, whose algorithms may change between releases, so
/// that a seed gives the same data with every version of this crate's dependencies.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn chance(rng: &mut ChaCha8Rng, probability: f64) -> bool {
    unit(rng) < probability
}

/// A uniform index below `n` (`n > 0`).
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    // `unit < 1`, so the product is below `n`; `min` guards the rounding edge anyway.
    ((unit(rng) * n as f64) as usize).min(n.saturating_sub(1))
}

fn finite_or(value: f64, fallback: f64) -> f64 {
    if value.is_finite() { value } else { fallback }
}

/// The RNG seed of one run: the caller's seed mixed with everything else that shapes the run,
/// so that two profiles, two spacecraft or two windows never share a stream (and never share
/// snapshot ids) under the same `--seed`.
fn stream_seed(
    seed: u64,
    profile: DemoProfile,
    spacecraft: &SpacecraftId,
    start: Timestamp,
    interval_seconds: u32,
) -> u64 {
    let words = [
        fnv1a(profile.as_str().as_bytes()),
        fnv1a(spacecraft.as_str().as_bytes()),
        start.as_millis() as u64,
        u64::from(interval_seconds),
    ];
    words
        .into_iter()
        .fold(mix(seed), |state, word| mix(state.rotate_left(23) ^ word))
}

/// The SplitMix64 finalizer: a fixed bijection that spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, a fixed string hash (std's hashers may change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> Timestamp {
        Timestamp::parse("2025-06-01T00:00:00Z").unwrap()
    }

    #[test]
    fn a_run_has_one_sample_per_whole_interval_ending_at_start_plus_duration() {
        let run = SnapshotGenerator::new(DemoProfile::Gnss, start(), 10, 7, 1).unwrap();
        assert_eq!(run.len(), 85);
        let end = run.end();
        let times: Vec<i64> = run.map(|s| s.timestamp.as_millis()).collect();
        assert_eq!(*times.last().unwrap(), end.as_millis());
        assert_eq!(end.to_string(), "2025-06-01T00:10:00.000Z");
        assert!(times.windows(2).all(|w| w[1] - w[0] == 7_000));
    }

    #[test]
    fn an_interval_longer_than_the_run_gives_the_one_sample_at_its_end() {
        let run = SnapshotGenerator::new(DemoProfile::Gnss, start(), 1, 3600, 1).unwrap();
        let all: Vec<_> = run.collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].timestamp.to_string(), "2025-06-01T00:01:00.000Z");
    }

    #[test]
    fn spans_outside_the_bounds_are_rejected_naming_the_field() {
        for (d, i, field) in [
            (0, 60, "durationMinutes"),
            (-5, 60, "durationMinutes"),
            (10_081, 60, "durationMinutes"),
            (10, 0, "intervalSeconds"),
            (10, 86_401, "intervalSeconds"),
        ] {
            match validate_span(d, i) {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field, "{d} {i}"),
                other => panic!("{d} {i}: {other:?}"),
            }
        }
        assert_eq!(validate_span(10_080, 1).unwrap().count, 604_800);
    }

    #[test]
    fn the_stream_seed_depends_on_every_input() {
        let sc = SpacecraftId::parse("Cube-001").unwrap();
        let other = SpacecraftId::parse("Cube-002").unwrap();
        let base = stream_seed(7, DemoProfile::Cubesat, &sc, start(), 60);
        assert_ne!(base, stream_seed(8, DemoProfile::Cubesat, &sc, start(), 60));
        assert_ne!(base, stream_seed(7, DemoProfile::Gnss, &sc, start(), 60));
        assert_ne!(
            base,
            stream_seed(7, DemoProfile::Cubesat, &other, start(), 60)
        );
        assert_ne!(
            base,
            stream_seed(7, DemoProfile::Cubesat, &sc, start().add_millis(1), 60)
        );
        assert_ne!(base, stream_seed(7, DemoProfile::Cubesat, &sc, start(), 61));
    }

    #[test]
    fn snapshot_ids_are_version_8_uuids() {
        let mut run = SnapshotGenerator::new(DemoProfile::Cubesat, start(), 1, 60, 3).unwrap();
        let id = run.next().unwrap().id.unwrap();
        let uuid = uuid::Uuid::parse_str(id.as_str()).unwrap();
        assert_eq!(uuid.get_version_num(), 8);
    }

    #[test]
    fn modes_change_and_counters_count_only_in_their_mode() {
        let run = SnapshotGenerator::new(DemoProfile::LeoImaging, start(), 600, 60, 11).unwrap();
        let mut modes = std::collections::BTreeSet::new();
        let mut previous_count = 0.0;
        for snapshot in run {
            let Some(ParameterValue::Text(mode)) = snapshot.parameters.get("imaging_mode") else {
                panic!("imaging_mode is a string");
            };
            let count = snapshot
                .parameters
                .get("images_captured")
                .and_then(ParameterValue::as_number)
                .unwrap();
            if mode != "IMAGING" {
                assert_eq!(count, previous_count);
            }
            assert!(count >= previous_count);
            previous_count = count;
            modes.insert(mode.clone());
        }
        assert!(modes.len() >= 3, "{modes:?}");
        assert!(previous_count > 0.0);
    }
}
