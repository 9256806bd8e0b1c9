//! The demo simulation and the seeders, over the in-memory store, a manual clock and
//! sequential ids.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use missionops_core::{
    AnalysisContext, AnomalyKind, CompiledRules, DemoProfile, DocumentFilter, Error, Limit,
    MAX_PARAMETERS, ManualClock, MissionOps, NewSnapshot, NewSpacecraft, OverallStatus,
    ParameterValue, SeedOptions, SeedProgress, SequentialIds, Severity, SnapshotGenerator,
    SpacecraftId, TelemetrySnapshot, Timestamp, analyse,
};
use missionops_store::MemoryStore;
use serde_json::{Map, Value, json};

const NOW: &str = "2025-06-01T12:00:00Z";

fn now() -> Timestamp {
    Timestamp::parse(NOW).expect("timestamp")
}

fn app() -> MissionOps {
    MissionOps::new(
        Arc::new(MemoryStore::new()),
        Arc::new(ManualClock::new(now())),
        Arc::new(SequentialIds::new()),
    )
}

fn sc(id: &str) -> SpacecraftId {
    SpacecraftId::parse(id).expect("spacecraft id")
}

fn limit(n: i64) -> Limit {
    Limit::new(n, 1_000_000).expect("limit")
}

/// The stored form of generated snapshots (which always carry their ids).
fn stored(snapshots: impl IntoIterator<Item = NewSnapshot>) -> Vec<TelemetrySnapshot> {
    snapshots
        .into_iter()
        .map(|s| TelemetrySnapshot {
            id: s.id.expect("generated snapshots carry ids"),
            spacecraft_id: s.spacecraft_id,
            timestamp: s.timestamp,
            parameters: s.parameters,
        })
        .collect()
}

fn run(profile: DemoProfile, minutes: i64, interval: i64, seed: u64) -> Vec<TelemetrySnapshot> {
    let start = now().add_millis(-minutes * 60_000);
    stored(SnapshotGenerator::new(profile, start, minutes, interval, seed).expect("generator"))
}

fn json_of(snapshots: &[TelemetrySnapshot]) -> String {
    serde_json::to_string(snapshots).expect("serialize")
}

/// How many snapshots have a value out of limits, and the anomalies found.
fn crossings(
    profile: DemoProfile,
    snapshots: &[TelemetrySnapshot],
) -> (usize, Vec<missionops_core::Anomaly>) {
    let config = profile.config().expect("config");
    let rules = CompiledRules::compile(config.as_object()).expect("rules");
    let context = AnalysisContext {
        detected_at: now(),
        window_start: None,
        window_end: None,
    };
    let anomalies = analyse(&rules, snapshots, context);
    let mut out_of_limits: Vec<_> = anomalies.iter().map(|a| a.timestamp).collect();
    out_of_limits.dedup();
    (out_of_limits.len(), anomalies)
}

async fn event_count(app: &MissionOps) -> usize {
    app.list_events(None, limit(1_000_000))
        .await
        .expect("events")
        .len()
}

async fn spacecraft_total(app: &MissionOps) -> u64 {
    app.list_spacecraft(limit(100), 0)
        .await
        .expect("spacecraft")
        .total
}

// ---- the generator ---------------------------------------------------------------------------

#[test]
fn the_same_seed_gives_identical_snapshots_ids_included() {
    for profile in DemoProfile::ALL {
        let a = run(profile, 120, 60, 7);
        let b = run(profile, 120, 60, 7);
        assert_eq!(a.len(), 120);
        assert_eq!(json_of(&a), json_of(&b), "{profile}");
    }
}

#[test]
fn different_seeds_profiles_and_windows_give_different_streams() {
    let base = run(DemoProfile::Gnss, 120, 60, 7);
    assert_ne!(json_of(&base), json_of(&run(DemoProfile::Gnss, 120, 60, 8)));
    // Another window over the same seed must not reuse snapshot ids for other content.
    let shifted = run(DemoProfile::Gnss, 121, 60, 7);
    assert!(base.iter().all(|s| shifted.iter().all(|t| t.id != s.id)));
    // Profiles never share ids either, though they share a seed.
    let cubesat = run(DemoProfile::Cubesat, 120, 60, 7);
    assert!(base.iter().all(|s| cubesat.iter().all(|t| t.id != s.id)));
    // Nor does the same profile for another spacecraft.
    let start = now().add_millis(-120 * 60_000);
    let other = stored(
        SnapshotGenerator::for_spacecraft(DemoProfile::Gnss, sc("GNSS-2"), start, 120, 60, 7)
            .expect("generator"),
    );
    assert!(other.iter().all(|s| s.spacecraft_id.as_str() == "GNSS-2"));
    assert!(base.iter().zip(&other).all(|(a, b)| a.id != b.id));
}

#[test]
fn a_longer_run_over_the_same_start_extends_a_shorter_one() {
    let start = now();
    let short: Vec<_> =
        stored(SnapshotGenerator::new(DemoProfile::LeoImaging, start, 10, 60, 3).expect("g"));
    let long: Vec<_> =
        stored(SnapshotGenerator::new(DemoProfile::LeoImaging, start, 20, 60, 3).expect("g"));
    assert_eq!(json_of(&short), json_of(&long[..10]));
}

#[test]
fn every_snapshot_validates_and_the_timestamps_step_by_the_interval_to_the_end() {
    for profile in DemoProfile::ALL {
        for (minutes, interval) in [(120, 60), (10, 7), (60, 1)] {
            let start = now().add_millis(-minutes * 60_000);
            let generator =
                SnapshotGenerator::new(profile, start, minutes, interval, 99).expect("generator");
            assert_eq!(generator.end(), now());
            let count = generator.len();
            let snapshots = stored(generator);
            assert_eq!(snapshots.len(), count);
            assert_eq!(count as i64, minutes * 60 / interval);
            assert_eq!(snapshots.last().map(|s| s.timestamp), Some(now()));
            assert!(snapshots.windows(2).all(|w| w[1].timestamp.as_millis()
                - w[0].timestamp.as_millis()
                == interval * 1000));
            let mut ids: Vec<&str> = snapshots.iter().map(|s| s.id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), snapshots.len(), "ids are unique");
            for snapshot in &snapshots {
                // Through JSON and back: every field passes the same parsers as client input.
                let text = serde_json::to_string(snapshot).expect("serialize");
                let parsed: NewSnapshot = serde_json::from_str(&text).expect("parses back");
                assert_eq!(parsed.id.as_ref(), Some(&snapshot.id));
                assert_eq!(parsed.parameters, snapshot.parameters);
                assert_eq!(snapshot.spacecraft_id.as_str(), profile.spacecraft_name());
                assert!(snapshot.parameters.len() <= MAX_PARAMETERS);
                assert_eq!(snapshot.parameters.len(), profile.parameters().len());
                for (_, value) in snapshot.parameters.iter() {
                    if let ParameterValue::Number(n) = value {
                        assert!(n.is_finite());
                    }
                }
            }
        }
    }
}

#[test]
fn over_two_hours_every_profile_crosses_a_warning_limit_in_a_small_share_of_samples() {
    for profile in DemoProfile::ALL {
        let snapshots = run(profile, 120, 60, SeedOptions::default().seed);
        let (out, anomalies) = crossings(profile, &snapshots);
        assert!(!anomalies.is_empty(), "{profile}: no limit crossed");
        assert!(
            out * 10 < snapshots.len(),
            "{profile}: {out} of {} out of limits",
            snapshots.len()
        );
    }
}

#[test]
fn over_a_week_spikes_are_a_few_percent_and_some_are_critical() {
    for profile in DemoProfile::ALL {
        let snapshots = run(profile, 7 * 24 * 60, 60, 5);
        let (out, anomalies) = crossings(profile, &snapshots);
        let share = out as f64 / snapshots.len() as f64;
        assert!((0.02..0.10).contains(&share), "{profile}: {share}");
        let warn = anomalies
            .iter()
            .filter(|a| a.severity == Severity::Medium)
            .count();
        let crit = anomalies
            .iter()
            .filter(|a| a.severity == Severity::High)
            .count();
        assert!(
            warn > crit && crit > 0,
            "{profile}: {warn} warn, {crit} crit"
        );
        // Both sides of a two-sided limit are exercised.
        if profile == DemoProfile::LeoImaging {
            let kinds: Vec<AnomalyKind> = anomalies
                .iter()
                .filter(|a| a.parameter.as_str() == "bus_voltage")
                .map(|a| a.kind)
                .collect();
            assert!(
                kinds
                    .iter()
                    .any(|k| matches!(k, AnomalyKind::WarnLow | AnomalyKind::CritLow))
            );
            assert!(
                kinds
                    .iter()
                    .any(|k| matches!(k, AnomalyKind::WarnHigh | AnomalyKind::CritHigh))
            );
        }
    }
}

#[test]
fn mode_parameters_change_now_and_then_and_stay_nominal_most_of_the_time() {
    let snapshots = run(DemoProfile::Cubesat, 24 * 60, 60, 1);
    let modes: Vec<String> = snapshots
        .iter()
        .map(|s| match s.parameters.get("mode") {
            Some(ParameterValue::Text(mode)) => mode.clone(),
            other => panic!("mode is a string, got {other:?}"),
        })
        .collect();
    let changes = modes.windows(2).filter(|w| w[0] != w[1]).count();
    let nominal = modes.iter().filter(|m| *m == "NOMINAL").count();
    assert!(changes >= 4, "{changes} mode changes");
    assert!(
        nominal * 10 > modes.len() * 7,
        "{nominal} of {} nominal",
        modes.len()
    );
    assert!(
        modes
            .iter()
            .all(|m| ["NOMINAL", "SAFE", "DETUMBLE"].contains(&m.as_str()))
    );
}

#[test]
fn a_week_at_one_second_streams_without_buffering() {
    let start = now().add_millis(-7 * 24 * 3_600_000);
    let generator =
        SnapshotGenerator::new(DemoProfile::Gnss, start, 10_080, 1, 1).expect("generator");
    assert_eq!(generator.len(), 604_800);
    let last = generator.last().expect("snapshots");
    assert_eq!(last.timestamp, now());
}

#[test]
fn the_profile_configs_are_the_typescript_demo_configs_exactly() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/compat/configs.json");
    let text = std::fs::read_to_string(path).expect("configs.json");
    let configs: Map<String, Value> = serde_json::from_str(&text).expect("json");
    for profile in DemoProfile::ALL {
        let expected = &configs[&format!("{}_DEMO", profile.as_str())];
        let actual = profile.config().expect("config");
        // Compared as text, so that the order of every key counts too.
        assert_eq!(
            serde_json::to_string(&actual).expect("ser"),
            serde_json::to_string(expected).expect("ser"),
            "{profile}"
        );
    }
    let names: Vec<&str> = DemoProfile::ALL
        .iter()
        .map(|p| p.spacecraft_name())
        .collect();
    assert_eq!(
        names,
        [
            "Sat-Imager-001",
            "GNSS-Nav-Alpha",
            "GEO-Comms-01",
            "Cube-001"
        ]
    );
}

// ---- seed_demo_data --------------------------------------------------------------------------

#[tokio::test]
async fn a_dry_run_writes_nothing_and_reports_the_summary_lines() {
    let app = app();
    let report = app
        .seed_demo_data(SeedOptions {
            duration_minutes: 10,
            interval_seconds: 60,
            dry_run: true,
            ..SeedOptions::default()
        })
        .await
        .expect("dry run");
    assert_eq!(
        report.to_string(),
        "[DRY-RUN] Seeded Sat-Imager-001 (LEO_IMAGING) for 10 minutes @ 60s interval\n\
         [DRY-RUN] Seeded GNSS-Nav-Alpha (GNSS) for 10 minutes @ 60s interval\n\
         [DRY-RUN] Seeded GEO-Comms-01 (GEO_COMMS) for 10 minutes @ 60s interval\n\
         [DRY-RUN] Seeded Cube-001 (CUBESAT) for 10 minutes @ 60s interval"
    );
    for profile in &report.profiles {
        assert_eq!(profile.snapshots, 10);
        assert!(profile.registered && profile.config_changed);
        assert_eq!(profile.snapshots_inserted + profile.anomalies_persisted, 0);
    }
    assert_eq!(spacecraft_total(&app).await, 0);
    assert_eq!(event_count(&app).await, 0);
    assert!(
        app.recent_telemetry(&sc("Sat-Imager-001"), limit(10))
            .await
            .expect("telemetry")
            .is_empty()
    );
}

#[tokio::test]
async fn seeding_registers_configures_ingests_and_persists_anomalies() {
    let app = app();
    let report = app
        .seed_demo_data(SeedOptions::default())
        .await
        .expect("seed");
    assert_eq!(
        report.to_string().lines().next(),
        Some("Seeded Sat-Imager-001 (LEO_IMAGING) for 120 minutes @ 60s interval")
    );
    assert_eq!(report.to, now());
    assert_eq!(spacecraft_total(&app).await, 4);
    for profile in &report.profiles {
        let id = &profile.spacecraft_id;
        assert_eq!(id.as_str(), profile.profile.spacecraft_name());
        let spacecraft = app.get_spacecraft(id).await.expect("registered");
        assert_eq!(spacecraft.mission_type.as_str(), profile.profile.as_str());
        assert_eq!(Value::Object(spacecraft.metadata), json!({"demo": true}));
        let config = app.get_config(id).await.expect("config");
        assert_eq!(config.version, 1);
        assert_eq!(config.source, Some(missionops_core::ConfigSource::Seed));
        assert_eq!(config.status, missionops_core::ConfigStatus::Approved);
        assert_eq!(profile.snapshots, 120);
        assert_eq!(profile.snapshots_inserted, 120);
        assert!(profile.anomalies_detected > 0, "{}", profile.profile);
        assert_eq!(profile.anomalies_persisted, profile.anomalies_detected);
        let stored = app
            .list_anomalies(id, limit(1000))
            .await
            .expect("anomalies");
        assert_eq!(stored.len(), profile.anomalies_persisted);
    }
}

#[tokio::test]
async fn seeding_twice_duplicates_nothing() {
    let app = app();
    let first = app
        .seed_demo_data(SeedOptions::default())
        .await
        .expect("first");
    let events = event_count(&app).await;
    let second = app
        .seed_demo_data(SeedOptions::default())
        .await
        .expect("second");
    assert_eq!(spacecraft_total(&app).await, 4);
    assert_eq!(event_count(&app).await, events, "no new events at all");
    for (a, b) in first.profiles.iter().zip(&second.profiles) {
        assert!(!b.registered && !b.config_changed);
        assert_eq!(b.snapshots_inserted, 0);
        assert_eq!(b.snapshots_duplicate, a.snapshots);
        assert_eq!(b.anomalies_detected, a.anomalies_detected);
        assert_eq!(b.anomalies_persisted, 0);
        let history = app.config_history(&a.spacecraft_id).await.expect("history");
        assert_eq!(history.len(), 1);
        let telemetry = app
            .recent_telemetry(&a.spacecraft_id, limit(1000))
            .await
            .expect("telemetry");
        assert_eq!(telemetry.len(), a.snapshots);
    }
    // A dry run afterwards knows everything is in place.
    let dry = app
        .seed_demo_data(SeedOptions {
            dry_run: true,
            ..SeedOptions::default()
        })
        .await
        .expect("dry");
    assert!(
        dry.profiles
            .iter()
            .all(|p| !p.registered && !p.config_changed)
    );
    assert_eq!(event_count(&app).await, events);
}

#[tokio::test]
async fn status_reflects_the_persisted_anomalies() {
    let app = app();
    let report = app
        .seed_demo_data(SeedOptions::default())
        .await
        .expect("seed");
    for profile in &report.profiles {
        let status = app.status(&profile.spacecraft_id).await.expect("status");
        assert_eq!(status.last_telemetry_timestamp, Some(now()));
        assert_eq!(
            status.anomalies.last24h as usize,
            profile.anomalies_persisted
        );
        assert!(status.anomalies.last6h > 0);
        assert_ne!(status.overall_status, OverallStatus::Nominal);
    }
}

#[tokio::test]
async fn a_spacecraft_with_the_demo_name_is_reused_whatever_its_id() {
    let app = app();
    let new: NewSpacecraft =
        serde_json::from_value(json!({"id": "legacy-42", "name": "Cube-001"})).expect("new");
    app.register_spacecraft(new).await.expect("register");
    let report = app
        .seed_demo_data(SeedOptions {
            duration_minutes: 30,
            profiles: vec![DemoProfile::Cubesat, DemoProfile::Cubesat],
            ..SeedOptions::default()
        })
        .await
        .expect("seed");
    assert_eq!(
        report.profiles.len(),
        1,
        "repeated profiles are seeded once"
    );
    assert_eq!(report.profiles[0].spacecraft_id.as_str(), "legacy-42");
    assert!(!report.profiles[0].registered);
    assert_eq!(spacecraft_total(&app).await, 1);
    let telemetry = app
        .recent_telemetry(&sc("legacy-42"), limit(100))
        .await
        .expect("telemetry");
    assert_eq!(telemetry.len(), 30);
}

#[tokio::test]
async fn a_demo_id_taken_by_another_spacecraft_is_a_conflict() {
    let app = app();
    let new: NewSpacecraft =
        serde_json::from_value(json!({"id": "Cube-001", "name": "Somebody else's cube"}))
            .expect("new");
    app.register_spacecraft(new).await.expect("register");
    for dry_run in [true, false] {
        let err = app
            .seed_demo_data(SeedOptions {
                dry_run,
                profiles: vec![DemoProfile::Cubesat],
                ..SeedOptions::default()
            })
            .await
            .expect_err("conflict");
        assert!(matches!(err, Error::Conflict { .. }), "{err}");
        assert!(err.to_string().contains("Somebody else's cube"), "{err}");
    }
}

#[tokio::test]
async fn progress_is_reported_after_every_batch() {
    let app = app();
    let seen: Mutex<Vec<SeedProgress>> = Mutex::new(Vec::new());
    let record = |p: SeedProgress| seen.lock().expect("lock").push(p);
    app.seed_demo_data_with_progress(
        SeedOptions {
            duration_minutes: 40,
            interval_seconds: 1,
            profiles: vec![DemoProfile::Gnss, DemoProfile::GeoComms],
            ..SeedOptions::default()
        },
        &record,
    )
    .await
    .expect("seed");
    let seen = seen.into_inner().expect("lock");
    // 2,400 snapshots per profile in batches of 1,000: three calls each.
    let done: Vec<(usize, usize)> = seen
        .iter()
        .map(|p| (p.profile_index, p.snapshots_done))
        .collect();
    assert_eq!(
        done,
        [
            (0, 1000),
            (0, 2000),
            (0, 2400),
            (1, 1000),
            (1, 2000),
            (1, 2400)
        ]
    );
    assert!(
        seen.iter()
            .all(|p| p.snapshots_total == 2400 && p.profile_count == 2)
    );
    assert_eq!(seen[3].profile, DemoProfile::GeoComms);
}

#[tokio::test]
async fn bad_options_are_rejected_naming_the_field_before_anything_is_written() {
    let app = app();
    let cases = [
        (0, 60, "durationMinutes"),
        (-1, 60, "durationMinutes"),
        (10_081, 60, "durationMinutes"),
        (120, 0, "intervalSeconds"),
        (120, -60, "intervalSeconds"),
        (120, 86_401, "intervalSeconds"),
    ];
    for (duration_minutes, interval_seconds, field) in cases {
        let err = app
            .seed_demo_data(SeedOptions {
                duration_minutes,
                interval_seconds,
                ..SeedOptions::default()
            })
            .await
            .expect_err("invalid");
        match err {
            Error::Invalid { field: f, .. } => {
                assert_eq!(f, field, "{duration_minutes} min @ {interval_seconds} s");
            }
            other => panic!("{duration_minutes} @ {interval_seconds}: {other}"),
        }
    }
    let err = app
        .seed_demo_data(SeedOptions {
            profiles: Vec::new(),
            ..SeedOptions::default()
        })
        .await
        .expect_err("invalid");
    assert!(err.to_string().starts_with("profiles:"), "{err}");
    assert_eq!(spacecraft_total(&app).await, 0);
    assert_eq!(event_count(&app).await, 0);
}

// ---- seed_demo_docs --------------------------------------------------------------------------

#[tokio::test]
async fn demo_documents_are_published_once() {
    let app = app();
    let dry = app.seed_demo_docs(true).await.expect("dry run");
    assert!(dry.iter().all(|d| d.published && d.id.is_none()));
    assert_eq!(event_count(&app).await, 0, "a dry run writes nothing");

    let first = app.seed_demo_docs(false).await.expect("first");
    assert_eq!(first.len(), dry.len());
    assert!(first.iter().all(|d| d.published && d.id.is_some()));
    let events = event_count(&app).await;

    let second = app.seed_demo_docs(false).await.expect("second");
    assert!(second.iter().all(|d| !d.published));
    let ids = |docs: &[missionops_core::SeededDocument]| -> Vec<String> {
        docs.iter()
            .map(|d| d.id.as_ref().map(|i| i.to_string()).unwrap_or_default())
            .collect()
    };
    assert_eq!(ids(&first), ids(&second));
    assert_eq!(event_count(&app).await, events);

    for profile in DemoProfile::ALL {
        let filter = DocumentFilter {
            spacecraft_id: Some(sc(profile.spacecraft_name())),
            category: None,
            tag: None,
            limit: limit(1000),
            offset: 0,
        };
        let stored = app.list_documents(&filter).await.expect("documents");
        assert_eq!(
            stored.len(),
            profile
                .documents(&sc(profile.spacecraft_name()))
                .expect("docs")
                .len()
        );
    }
    // Seeding data afterwards reuses the spacecraft the documents registered.
    app.seed_demo_data(SeedOptions {
        duration_minutes: 5,
        ..SeedOptions::default()
    })
    .await
    .expect("seed data");
    assert_eq!(spacecraft_total(&app).await, 4);
}

#[tokio::test]
async fn procedures_carry_the_tags_of_the_parameters_they_cover() {
    let app = app();
    app.seed_demo_docs(false).await.expect("seed docs");
    let filter = DocumentFilter {
        spacecraft_id: Some(sc("Sat-Imager-001")),
        category: Some("procedure".parse().expect("category")),
        tag: Some("battery_soc".parse().expect("tag")),
        limit: limit(100),
        offset: 0,
    };
    let found = app.list_documents(&filter).await.expect("documents");
    let low_soc = found
        .iter()
        .find(|d| d.title.as_str() == "Battery low-SOC recovery")
        .expect("the low-SOC procedure");
    assert!(low_soc.tags.contains("battery_soc") && low_soc.tags.contains("bus_voltage"));
    assert!(
        low_soc
            .body
            .as_str()
            .starts_with("# Battery low-SOC recovery")
    );

    let definitions = app
        .list_documents(&DocumentFilter {
            category: Some("telemetry_definition".parse().expect("category")),
            tag: None,
            ..filter.clone()
        })
        .await
        .expect("definitions");
    // The parameter table and the packet definition (XTCE, SPEC §11).
    assert_eq!(definitions.len(), 2);
    let table = definitions
        .iter()
        .find(|d| d.title.as_str().ends_with("telemetry definitions"))
        .expect("the parameter table");
    let body = table.body.as_str();
    for model in DemoProfile::LeoImaging.parameters() {
        assert!(
            body.contains(&format!("| `{}` |", model.name)),
            "{}",
            model.name
        );
        assert!(table.tags.contains(model.name));
    }
    assert!(definitions.iter().any(|d| {
        d.body
            .as_str()
            .contains("<SpaceSystem name=\"Sat-Imager-001\"")
    }));
    let notes = app
        .list_documents(&DocumentFilter {
            category: Some("mission_note".parse().expect("category")),
            tag: None,
            ..filter
        })
        .await
        .expect("notes");
    assert_eq!(notes.len(), 1);
}
