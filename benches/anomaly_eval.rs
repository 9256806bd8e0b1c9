//! Compat threshold evaluation (SPEC §8): 100 k snapshots of 10 parameters with the
//! LEO_IMAGING limits, about 2 % of values out of limits. Throughput is in parameter checks
//! (10 per snapshot). The `baseline_read` bench reads the same values without checking them.
//!
//! The `streaming_monitor` group feeds the same snapshots, plus an imaging mode (a string)
//! and a payload switch (a boolean), to the stateful streaming monitor with every rule kind
//! active: persistence, deadband, rate of change, staleness, allowed/forbidden states,
//! severity overrides and a limit set chosen by the imaging mode (12 checks per snapshot),
//! beside the compat evaluator on the same machine in the same run.
//!
//! `cargo bench --bench anomaly_eval`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;

use missionops::{
    AnalysisContext, CompiledRules, DemoProfile, Evaluator, LayoutInterner, MonitorContext,
    MonitorOutput, ParameterName, ParameterValue, Parameters, SequentialIds, SnapshotId,
    SpacecraftId, SpacecraftMonitor, TelemetrySnapshot, Timestamp, analyse,
};
use serde_json::{Value, json};

const SNAPSHOTS: usize = 100_000;

/// (name, low limit, high limit, nominal low, nominal high) for the LEO_IMAGING profile; NaN
/// marks an absent limit.
const PROFILE: [(&str, f64, f64, f64, f64); 10] = [
    ("battery_soc", 25.0, f64::NAN, 40.0, 95.0),
    ("battery_temp", -5.0, 35.0, 5.0, 25.0),
    ("bus_voltage", 24.0, 34.0, 27.0, 31.0),
    ("solar_array_current", 0.5, f64::NAN, 1.0, 6.0),
    ("panel_temp", f64::NAN, 60.0, 0.0, 50.0),
    ("payload_temp", f64::NAN, 50.0, 10.0, 40.0),
    ("attitude_error_deg", f64::NAN, 2.0, 0.0, 1.5),
    ("rw1_speed_rpm", f64::NAN, 6000.0, 1000.0, 5000.0),
    ("rw2_speed_rpm", f64::NAN, 6000.0, 1000.0, 5000.0),
    ("images_captured", f64::NAN, f64::NAN, 0.0, 500.0),
];

fn leo_imaging_rules() -> CompiledRules {
    let config = DemoProfile::LeoImaging
        .config()
        .expect("the demo limits are valid");
    CompiledRules::compile(config.as_object()).expect("valid limits")
}

/// A small deterministic generator, so that every run measures the same data.
struct XorShift(u64);

impl XorShift {
    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Snapshots whose values are nominal except about 2 % pushed past a limit. With `share`,
/// snapshots share one parameter layout, as a store hands them out; without, each has its own.
fn snapshots(share: bool) -> Vec<TelemetrySnapshot> {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut interner = LayoutInterner::new();
    let spacecraft = SpacecraftId::parse("LEO_IMAGING_DEMO").expect("id");
    (0..SNAPSHOTS)
        .map(|i| {
            let pairs = PROFILE
                .iter()
                .map(|(name, low, high, nominal_low, nominal_high)| {
                    let mut value = nominal_low + (nominal_high - nominal_low) * rng.next_unit();
                    if rng.next_unit() < 0.02 {
                        value = if !high.is_nan() {
                            high * 1.1 + 1.0
                        } else if !low.is_nan() {
                            low * 0.5 - 1.0
                        } else {
                            value
                        };
                    }
                    (
                        ParameterName::parse(*name).expect("name"),
                        ParameterValue::Number(value),
                    )
                });
            let parameters = Parameters::new(pairs).expect("parameters");
            TelemetrySnapshot {
                id: SnapshotId::parse(format!("snap-{i}")).expect("id"),
                spacecraft_id: spacecraft.clone(),
                timestamp: Timestamp::from_millis(1_750_000_000_000 + i as i64 * 1000).expect("ts"),
                parameters: if share {
                    interner.share(parameters)
                } else {
                    parameters
                },
            }
        })
        .collect()
}

/// The LEO_IMAGING limits with every beyond-compat field on every rule, and rules for the
/// imaging mode and the payload switch.
fn every_rule_kind() -> CompiledRules {
    let mut config = DemoProfile::LeoImaging
        .config()
        .expect("the demo limits are valid")
        .as_object()
        .clone();
    let parameters = config
        .get_mut("parameters")
        .and_then(Value::as_object_mut)
        .expect("parameters");
    for (name, rule) in parameters.iter_mut() {
        let rule = rule.as_object_mut().expect("rule");
        // Nominal values wander over their whole range from one second to the next; only a
        // spike changes faster than twice that range per second.
        let span = PROFILE
            .iter()
            .find(|(n, ..)| n == name)
            .map_or(100.0, |(_, _, _, low, high)| high - low);
        rule.insert("persistence".into(), json!(2));
        rule.insert("deadband".into(), json!(0.5));
        rule.insert(
            "maxRate".into(),
            json!({"warn": 2.0 * span, "crit": 10.0 * span}),
        );
        rule.insert("staleAfterSec".into(), json!(60));
        rule.insert("severity".into(), json!({"crit": "CRITICAL"}));
        if name == "payload_temp" {
            rule.insert(
                "limitSets".into(),
                json!([{"when": {"imaging_mode": "IDLE"}, "warnHigh": 30, "critHigh": 45}]),
            );
        }
    }
    parameters.insert(
        "imaging_mode".into(),
        json!({"allowed": ["IDLE", "IMAGING", "DOWNLINK"], "staleAfterSec": 60}),
    );
    parameters.insert(
        "payload_on".into(),
        json!({"forbidden": [false], "persistence": 3}),
    );
    CompiledRules::compile(&config).expect("valid rules")
}

/// `base` with an imaging mode cycling every 50 snapshots and a payload switch that is off
/// for one snapshot in 200.
fn with_modes(base: &[TelemetrySnapshot]) -> Vec<TelemetrySnapshot> {
    let mut interner = LayoutInterner::new();
    let modes = ["IDLE", "IMAGING", "DOWNLINK"];
    base.iter()
        .enumerate()
        .map(|(i, snapshot)| {
            let mut pairs: Vec<(ParameterName, ParameterValue)> = snapshot
                .parameters
                .iter()
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            pairs.push((
                ParameterName::parse("imaging_mode").expect("name"),
                ParameterValue::Text(modes[(i / 50) % 3].to_owned()),
            ));
            pairs.push((
                ParameterName::parse("payload_on").expect("name"),
                ParameterValue::Bool(i % 200 != 0),
            ));
            TelemetrySnapshot {
                parameters: interner.share(Parameters::new(pairs).expect("parameters")),
                ..snapshot.clone()
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rules = leo_imaging_rules();
    let shared = snapshots(true);
    let unshared = snapshots(false);
    let context = AnalysisContext {
        detected_at: Timestamp::from_millis(1_760_000_000_000).expect("ts"),
        window_start: None,
        window_end: None,
    };
    let violations = Evaluator::new(&rules).count_violations(&shared);
    println!(
        "{} parameter values, {} out of limits ({:.2} %)",
        SNAPSHOTS * 10,
        violations,
        violations as f64 * 100.0 / (SNAPSHOTS * 10) as f64
    );

    let mut group = c.benchmark_group("compat_thresholds");
    group.throughput(Throughput::Elements((SNAPSHOTS * PROFILE.len()) as u64));
    group.sample_size(30);
    group.bench_function("baseline_read", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for snapshot in black_box(&shared) {
                for value in snapshot.parameters.values() {
                    if let ParameterValue::Number(v) = value {
                        sum += *v;
                    }
                }
            }
            black_box(sum)
        });
    });
    group.bench_function("evaluate", |b| {
        b.iter(|| black_box(Evaluator::new(&rules).count_violations(black_box(&shared))));
    });
    group.bench_function("analyse", |b| {
        b.iter(|| black_box(analyse(&rules, black_box(&shared), context)));
    });
    group.bench_function("analyse_unshared_layouts", |b| {
        b.iter(|| black_box(analyse(&rules, black_box(&unshared), context)));
    });
    group.finish();

    let every_kind = Arc::new(every_rule_kind());
    let compat = Arc::new(rules);
    let moded = with_modes(&shared);
    let checks_per_snapshot = moded[0].parameters.len();
    let mut group = c.benchmark_group("streaming_monitor");
    group.throughput(Throughput::Elements(
        (SNAPSHOTS * checks_per_snapshot) as u64,
    ));
    group.sample_size(20);
    let spacecraft = SpacecraftId::parse("LEO_IMAGING_DEMO").expect("id");
    let run = |rules: &Arc<CompiledRules>| {
        let ids = SequentialIds::new();
        let mut monitor = SpacecraftMonitor::new(spacecraft.clone(), Arc::clone(rules));
        let mut out = MonitorOutput::default();
        for snapshot in black_box(&moded) {
            let context = MonitorContext {
                now: snapshot.timestamp,
                ids: &ids,
            };
            monitor.observe(snapshot, context, &mut out);
        }
        out
    };
    let found = run(&every_kind);
    println!(
        "streaming monitor, every rule kind: {} snapshots of {checks_per_snapshot} parameters, {} anomalies, {} alarms, {} events",
        moded.len(),
        found.anomalies.len(),
        found.alarms.len(),
        found.events.len()
    );
    group.bench_function("compat_evaluate", |b| {
        b.iter(|| black_box(Evaluator::new(&compat).count_violations(black_box(&moded))));
    });
    group.bench_function("every_rule_kind", |b| {
        b.iter(|| black_box(run(&every_kind)));
    });
    group.bench_function("compat_rules", |b| {
        b.iter(|| black_box(run(&compat)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
