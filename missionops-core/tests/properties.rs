//! Property tests of the rule engine and the parsers.

use missionops_core::json::format_js_number;
use missionops_core::{
    Alarm, AlarmState, AnalysisContext, Anomaly, AnomalyKind, BucketWidth, CompiledRules,
    EventType, Limit, MissionEvent, MonitorContext, MonitorOutput, NewDocument, NewSnapshot,
    NewSnapshotBatch, NewSpacecraft, OpsDocument, ParameterValue, Parameters, SearchQuery,
    SequentialIds, Severity, SpacecraftConfig, SpacecraftMonitor, TelemetrySnapshot, Timestamp,
    analyse,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];

/// One rule: each of the four thresholds present or not, consistent by construction.
fn rule() -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec(-100i32..100, 4),
        proptest::collection::vec(any::<bool>(), 4),
    )
        .prop_map(|(mut points, present)| {
            points.sort_unstable();
            // critLow <= warnLow <= warnHigh <= critHigh
            let fields = ["critLow", "warnLow", "warnHigh", "critHigh"];
            let mut rule = Map::new();
            for ((field, point), keep) in fields.iter().zip(&points).zip(&present) {
                if *keep {
                    rule.insert((*field).to_owned(), json!(f64::from(*point) / 4.0));
                }
            }
            Value::Object(rule)
        })
}

fn config() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(proptest::sample::select(NAMES.to_vec()), rule(), 0..5)
        .prop_map(|rules| {
            let parameters: Map<String, Value> =
                rules.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            json!({ "parameters": parameters })
        })
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => (-120i32..120).prop_map(|v| json!(f64::from(v) / 4.0)),
        2 => (-30.0f64..30.0).prop_map(|v| json!(v)),
        1 => "[a-z0-9]{0,4}".prop_map(Value::String),
        1 => any::<bool>().prop_map(Value::Bool),
    ]
}

/// A snapshot with a random subset of the names in a random order.
fn snapshot(index: usize) -> impl Strategy<Value = TelemetrySnapshot> {
    (
        Just(NAMES.to_vec()).prop_shuffle(),
        0..=NAMES.len(),
        proptest::collection::vec(value(), NAMES.len()),
    )
        .prop_map(move |(names, count, values)| {
            let parameters: Map<String, Value> = names[..count]
                .iter()
                .zip(values)
                .map(|(n, v)| ((*n).to_owned(), v))
                .collect();
            TelemetrySnapshot {
                id: missionops_core::SnapshotId::parse(format!("s{index}")).expect("id"),
                spacecraft_id: missionops_core::SpacecraftId::parse("SC").expect("id"),
                timestamp: Timestamp::from_millis(index as i64 * 1000).expect("ts"),
                parameters: Parameters::from_json(&Value::Object(parameters)).expect("p"),
            }
        })
}

fn snapshots() -> impl Strategy<Value = Vec<TelemetrySnapshot>> {
    (0usize..12).prop_flat_map(|n| (0..n).map(snapshot).collect::<Vec<_>>())
}

fn context() -> AnalysisContext {
    AnalysisContext {
        detected_at: Timestamp::from_millis(0).expect("ts"),
        window_start: None,
        window_end: None,
    }
}

/// The compat table read literally off the JSON config, with a map lookup per sample.
fn naive(config: &Value, snapshots: &[TelemetrySnapshot]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for snapshot in snapshots {
        for (name, value) in snapshot.parameters.iter() {
            let Some(rule) = config["parameters"].get(name.as_str()) else {
                continue;
            };
            let ParameterValue::Number(v) = value else {
                continue;
            };
            let get = |f: &str| rule.get(f).and_then(Value::as_f64);
            let hit = if let Some(t) = get("critLow").filter(|t| *v < *t) {
                Some((
                    "CRIT_LOW",
                    "HIGH",
                    format!("below critLow {}", format_js_number(t)),
                ))
            } else if let Some(t) = get("warnLow").filter(|t| *v < *t) {
                Some((
                    "WARN_LOW",
                    "MEDIUM",
                    format!("below warnLow {}", format_js_number(t)),
                ))
            } else if let Some(t) = get("critHigh").filter(|t| *v > *t) {
                Some((
                    "CRIT_HIGH",
                    "HIGH",
                    format!("above critHigh {}", format_js_number(t)),
                ))
            } else {
                get("warnHigh").filter(|t| *v > *t).map(|t| {
                    (
                        "WARN_HIGH",
                        "MEDIUM",
                        format!("above warnHigh {}", format_js_number(t)),
                    )
                })
            };
            if let Some((kind, severity, text)) = hit {
                out.push((
                    format!("{}:{name}:{kind}", snapshot.id),
                    severity.to_owned(),
                    format!("Parameter {name} {text}"),
                ));
            }
        }
    }
    out
}

fn compiled(config: &Value) -> CompiledRules {
    CompiledRules::compile(config.as_object().expect("object")).expect("consistent rules")
}

/// For each sample, how many consecutive samples up to and including it are above `limit`.
fn violation_runs(samples: &[i32], limit: i32) -> Vec<usize> {
    samples
        .iter()
        .scan(0, |run, v| {
            *run = if *v > limit { *run + 1 } else { 0 };
            Some(*run)
        })
        .collect()
}

proptest! {
    #[test]
    fn the_compiled_engine_equals_the_naive_reference(config in config(), snaps in snapshots()) {
        let got: Vec<(String, String, String)> = analyse(&compiled(&config), &snaps, context())
            .into_iter()
            .map(|a| (a.id.into_string(), a.severity.as_str().to_owned(), a.description))
            .collect();
        prop_assert_eq!(got, naive(&config, &snaps));
    }

    #[test]
    fn at_most_one_threshold_anomaly_per_snapshot_and_parameter(config in config(), snaps in snapshots()) {
        let found = analyse(&compiled(&config), &snaps, context());
        let mut keys: Vec<(String, String)> = found
            .iter()
            .map(|a| (a.timestamp.to_string(), a.parameter.to_string()))
            .collect();
        let total = keys.len();
        keys.sort();
        keys.dedup();
        prop_assert_eq!(keys.len(), total);
    }

    #[test]
    fn nothing_is_raised_for_values_inside_all_limits(config in config(), fraction in 0.0f64..=1.0) {
        let rules = compiled(&config);
        for rule in rules.rules() {
            let t = rule.thresholds;
            let low = t.warn_low.max(t.crit_low).max(-1e6);
            let high = t.warn_high.min(t.crit_high).min(1e6);
            let inside = low + (high - low) * fraction;
            prop_assert!(t.check(inside).is_none(), "{inside} inside [{low}, {high}]");
        }
    }

    #[test]
    fn snapshots_round_trip_through_json(snap in snapshot(7), extra in any::<f64>()) {
        let mut snap = snap;
        if extra.is_finite() {
            let mut pairs: Vec<_> = snap.parameters.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
            pairs.push((missionops_core::ParameterName::parse("z").expect("name"), ParameterValue::Number(extra)));
            snap.parameters = Parameters::new(pairs).expect("parameters");
        }
        let text = serde_json::to_string(&snap).expect("serialize");
        let back: TelemetrySnapshot = serde_json::from_str(&text).expect("parse back");
        prop_assert_eq!(back, snap);
    }

    #[test]
    fn timestamps_round_trip_through_their_text(millis in -62_167_219_200_000i64..253_402_300_799_999) {
        let t = Timestamp::from_millis(millis).expect("in range");
        prop_assert_eq!(Timestamp::parse(&t.to_string()).expect("parse"), t);
        let json = serde_json::to_string(&t).expect("json");
        prop_assert_eq!(serde_json::from_str::<Timestamp>(&json).expect("json back"), t);
    }

    #[test]
    fn js_numbers_parse_back_to_the_same_float(v in any::<f64>().prop_filter("finite", |v| v.is_finite())) {
        let text = format_js_number(v);
        let back: f64 = text.parse().expect("a JS number is a valid float literal");
        prop_assert!(back == v, "{text}");
        prop_assert!(!text.ends_with(".0"));
    }

    #[test]
    fn records_round_trip_through_json(
        seq in 1u64..1_000_000,
        severity in proptest::sample::select(vec![Severity::Low, Severity::Medium, Severity::High, Severity::Critical]),
        kind in proptest::sample::select(AnomalyKind::ALL.to_vec()),
        event_type in proptest::sample::select(EventType::ALL.to_vec()),
        value in -1e9f64..1e9,
        text in "[ -~]{1,40}",
    ) {
        let t = Timestamp::from_millis(1_700_000_000_000 + seq as i64).expect("ts");
        let anomaly = Anomaly {
            id: missionops_core::AnomalyId::parse(format!("s{seq}:p:{}", kind.as_str())).expect("id"),
            spacecraft_id: missionops_core::SpacecraftId::parse("SC-1").expect("id"),
            timestamp: t,
            parameter: missionops_core::ParameterName::parse("p").expect("name"),
            value: ParameterValue::Number(value),
            severity,
            kind,
            limit: Some(value / 2.0),
            description: text.clone(),
            detected_at: t,
            window_start: Some(t),
            window_end: None,
        };
        let back: Anomaly = serde_json::from_str(&serde_json::to_string(&anomaly).expect("ser")).expect("de");
        prop_assert_eq!(back, anomaly);

        let event = MissionEvent {
            id: missionops_core::EventId::parse(format!("e{seq}")).expect("id"),
            sequence: seq,
            spacecraft_id: None,
            timestamp: t,
            event_type,
            severity,
            message: text.clone(),
            metadata: json!({"value": value}).as_object().cloned().unwrap_or_default(),
        };
        let back: MissionEvent = serde_json::from_str(&serde_json::to_string(&event).expect("ser")).expect("de");
        prop_assert_eq!(back, event);

        let alarm = Alarm {
            id: missionops_core::AlarmId::parse(format!("a{seq}")).expect("id"),
            spacecraft_id: missionops_core::SpacecraftId::parse("SC-1").expect("id"),
            parameter: missionops_core::ParameterName::parse("p").expect("name"),
            kind,
            state: AlarmState::Acknowledged,
            severity,
            violation_count: seq,
            opened_at: t,
            last_value: ParameterValue::Text(text.clone()),
            cleared_at: None,
            acknowledged_by: Some(missionops_core::Operator::parse(text.trim().to_owned() + "x").expect("op")),
            acknowledged_at: Some(t),
            comment: Some(text.clone()),
            shelved_until: None,
        };
        let back: Alarm = serde_json::from_str(&serde_json::to_string(&alarm).expect("ser")).expect("de");
        prop_assert_eq!(back, alarm);

        let new: NewDocument = serde_json::from_value(json!({"title": text.trim().to_owned() + "t", "body": text, "tags": ["x"]})).expect("doc");
        let document = OpsDocument {
            id: missionops_core::DocumentId::parse(format!("d{seq}")).expect("id"),
            spacecraft_id: None,
            title: new.title,
            category: missionops_core::DocumentCategory::parse("procedure").expect("category"),
            tags: new.tags.unwrap_or_default(),
            body: new.body,
            published_at: t,
            updated_at: t,
            version: 3,
        };
        let back: OpsDocument = serde_json::from_str(&serde_json::to_string(&document).expect("ser")).expect("de");
        prop_assert_eq!(back, document);
    }
}

/// Arbitrary JSON, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|v| json!(v)),
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(|v| json!(v)),
        "\\PC{0,12}".prop_map(Value::String),
        proptest::sample::select(vec![
            "2025-01-01T00:00:00Z",
            "SC-1",
            "",
            "parameters",
            "1e400"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                proptest::sample::select(vec![
                    "id",
                    "spacecraftId",
                    "timestamp",
                    "parameters",
                    "snapshots",
                    "name",
                    "title",
                    "body",
                    "tags",
                    "category",
                    "warnLow",
                    "warnHigh",
                    "critLow",
                    "critHigh",
                    "temp",
                    "missionType",
                    "metadata",
                ]),
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic_on_arbitrary_json(value in any_json()) {
        let text = value.to_string();
        let _ = serde_json::from_str::<NewSnapshot>(&text);
        let _ = serde_json::from_str::<NewSnapshotBatch>(&text);
        let _ = serde_json::from_str::<NewSpacecraft>(&text);
        let _ = serde_json::from_str::<NewDocument>(&text);
        let _ = serde_json::from_str::<Parameters>(&text);
        let _ = Parameters::from_json(&value);
        let _ = SpacecraftConfig::parse(value.clone());
        let _ = SpacecraftConfig::parse(json!({"parameters": value.clone()}));
        let _ = SpacecraftConfig::parse(json!({"parameters": {"p": value}}));
    }

    #[test]
    fn text_parsers_never_panic_on_arbitrary_strings(text in "\\PC{0,40}") {
        let _ = Timestamp::parse(&text);
        let _ = Limit::parse(Some(&text), 20, 100);
        let _ = BucketWidth::parse(&text);
        let _ = SearchQuery::parse(&text);
        let _ = missionops_core::SpacecraftId::parse(text.clone());
        let _ = serde_json::from_str::<NewSnapshot>(&text);
    }

    #[test]
    fn snapshot_parsing_accepts_exactly_the_valid_shapes(
        id in proptest::option::of("[A-Za-z0-9-]{1,10}"),
        timestamp in proptest::sample::select(vec!["2025-01-01T00:00:00Z", "2025-13-01T00:00:00Z", "yesterday"]),
        values in proptest::collection::vec(any_json(), 0..4),
    ) {
        let parameters: Map<String, Value> =
            values.iter().enumerate().map(|(i, v)| (format!("p{i}"), v.clone())).collect();
        let body = json!({"id": id, "spacecraftId": "SC-1", "timestamp": timestamp, "parameters": parameters});
        let parsed = serde_json::from_value::<NewSnapshot>(body);
        let valid_values = values.iter().all(|v| match v {
            Value::Number(n) => n.as_f64().is_some_and(f64::is_finite),
            Value::String(s) => s.len() <= missionops_core::MAX_TEXT_VALUE_LEN,
            Value::Bool(_) => true,
            _ => false,
        });
        prop_assert_eq!(parsed.is_ok(), valid_values && timestamp == "2025-01-01T00:00:00Z");
    }
}

proptest! {
    #[test]
    fn the_stateful_path_with_compat_rules_equals_the_compat_path(config in config(), snaps in snapshots()) {
        let mut extended = config.clone();
        // A beyond-compat field on a parameter no snapshot has forces the stateful evaluator.
        extended["parameters"]["unused"] = json!({"persistence": 1});
        let stateful = compiled(&extended);
        prop_assert!(!stateful.is_compat_only());
        prop_assert_eq!(
            analyse(&stateful, &snaps, context()),
            analyse(&compiled(&config), &snaps, context())
        );
    }

    #[test]
    fn persistence_never_raises_on_fewer_than_n_consecutive_violations(
        persistence in 1u32..5,
        samples in proptest::collection::vec(0i32..20, 1..40),
    ) {
        let config = json!({"parameters": {"t": {"warnHigh": 10, "persistence": persistence}}});
        let rules = compiled(&config);
        let snaps: Vec<TelemetrySnapshot> = samples
            .iter()
            .enumerate()
            .map(|(i, v)| TelemetrySnapshot {
                id: missionops_core::SnapshotId::parse(format!("s{i}")).expect("id"),
                spacecraft_id: missionops_core::SpacecraftId::parse("SC").expect("id"),
                timestamp: Timestamp::from_millis(i as i64 * 1000).expect("ts"),
                parameters: Parameters::from_json(&json!({"t": v})).expect("p"),
            })
            .collect();
        let mut flagged = Vec::new();
        for anomaly in analyse(&rules, &snaps, context()) {
            let index: usize = anomaly.id.as_str()[1..].split(':').next().and_then(|n| n.parse().ok()).expect("index");
            let n = persistence as usize;
            prop_assert!(index + 1 >= n, "raised before {n} samples existed");
            prop_assert!(
                samples[index + 1 - n..=index].iter().all(|v| *v > 10),
                "anomaly at {index} without {n} consecutive violations: {samples:?}"
            );
            flagged.push(index);
        }
        // And the lower bound: every sample that completes a run of N is flagged.
        let runs = violation_runs(&samples, 10);
        let expected: Vec<usize> = (0..samples.len())
            .filter(|i| runs[*i] >= persistence as usize)
            .collect();
        prop_assert_eq!(flagged, expected, "persistence {} over {:?}", persistence, samples);
    }
}

// ---- the streaming monitor ----------------------------------------------------------------

/// Feeds `snaps` to a fresh monitor of `config`, one clock second per snapshot, returning
/// everything it produced, step by step.
fn monitor_run(config: &Value, snaps: &[TelemetrySnapshot]) -> Vec<MonitorOutput> {
    let ids = SequentialIds::new();
    let mut monitor = SpacecraftMonitor::new(
        missionops_core::SpacecraftId::parse("SC").expect("id"),
        std::sync::Arc::new(compiled(config)),
    );
    snaps
        .iter()
        .enumerate()
        .map(|(i, snapshot)| {
            let context = MonitorContext {
                now: Timestamp::from_millis(i as i64 * 1000).expect("ts"),
                ids: &ids,
            };
            let mut out = MonitorOutput::default();
            monitor.observe(snapshot, context, &mut out);
            out
        })
        .collect()
}

/// Snapshots of one numeric parameter `t`, one a second.
fn series(values: &[f64]) -> Vec<TelemetrySnapshot> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| TelemetrySnapshot {
            id: missionops_core::SnapshotId::parse(format!("s{i}")).expect("id"),
            spacecraft_id: missionops_core::SpacecraftId::parse("SC").expect("id"),
            timestamp: Timestamp::from_millis(i as i64 * 1000).expect("ts"),
            parameters: Parameters::from_json(&json!({ "t": v })).expect("p"),
        })
        .collect()
}

/// What an anomaly says, without when it was detected or in which window.
fn finding(
    a: &Anomaly,
) -> (
    String,
    AnomalyKind,
    Severity,
    ParameterValue,
    Option<f64>,
    String,
) {
    (
        a.id.to_string(),
        a.kind,
        a.severity,
        a.value.clone(),
        a.limit,
        a.description.clone(),
    )
}

/// The alarms cleared: (step, alarm id).
fn cleared(outputs: &[MonitorOutput]) -> Vec<(usize, String)> {
    let mut cleared = Vec::new();
    for (step, out) in outputs.iter().enumerate() {
        for event in &out.events {
            if event.event_type == EventType::AnomalyCleared {
                cleared.push((
                    step,
                    event.metadata["alarmId"].as_str().unwrap_or("").to_owned(),
                ));
            }
        }
    }
    cleared
}

/// The alarms opened: (step, alarm id).
fn raised(outputs: &[MonitorOutput]) -> Vec<(usize, String)> {
    let mut opened = Vec::new();
    for (step, out) in outputs.iter().enumerate() {
        for event in &out.events {
            if event.event_type == EventType::Anomaly && event.metadata["alarm"] == json!("raised")
            {
                opened.push((
                    step,
                    event.metadata["alarmId"].as_str().unwrap_or("").to_owned(),
                ));
            }
        }
    }
    opened
}

proptest! {
    /// (a) With only compat fields, the monitor records exactly what batch analyse finds, in
    /// order or not.
    #[test]
    fn the_monitor_with_compat_rules_records_what_analyse_finds(
        config in config(),
        snaps in snapshots().prop_shuffle(),
    ) {
        let rules = compiled(&config);
        prop_assert!(rules.is_compat_only());
        let monitored: Vec<_> = monitor_run(&config, &snaps)
            .iter()
            .flat_map(|out| out.anomalies.iter().map(finding))
            .collect();
        let analysed: Vec<_> = analyse(&rules, &snaps, context()).iter().map(finding).collect();
        prop_assert_eq!(monitored, analysed);
    }

    /// (b) Noise of amplitude below the deadband around a limit opens at most one alarm: exactly
    /// one, at the first sample over the limit, when the noise crosses it, and it holds until a
    /// value comes back inside by more than the deadband, which clears it.
    #[test]
    fn noise_inside_the_deadband_opens_at_most_one_alarm(
        deadband in 0.5f64..5.0,
        noise in proptest::collection::vec(-0.999f64..0.999, 1..60),
    ) {
        let config = json!({"parameters": {"t": {"warnHigh": 50, "deadband": deadband}}});
        let mut values: Vec<f64> = noise.iter().map(|n| 50.0 + n * deadband).collect();
        let noisy = values.len();
        // Then back inside by more than the deadband.
        values.push(50.0 - deadband - 0.5);
        let outputs = monitor_run(&config, &series(&values));
        let opened = raised(&outputs);
        prop_assert!(opened.len() <= 1, "{values:?}");
        let first_over = values[..noisy].iter().position(|v| *v > 50.0);
        prop_assert_eq!(
            opened.iter().map(|(step, _)| *step).collect::<Vec<_>>(),
            first_over.into_iter().collect::<Vec<_>>(),
            "one alarm, at the first sample over the limit: {:?}", values
        );
        let clears = cleared(&outputs);
        prop_assert!(
            clears.iter().all(|(step, _)| *step == noisy),
            "the deadband holds the alarm through the noise: {clears:?} {values:?}"
        );
        let expected: Vec<(usize, String)> =
            opened.into_iter().map(|(_, id)| (noisy, id)).collect();
        prop_assert_eq!(clears, expected, "a value past the deadband clears: {:?}", values);
    }

    /// (c) Every opened alarm clears at most once, and stays cleared; every alarm opened clears
    /// once the values settle inside the limits; and the excursions that must open an alarm do.
    #[test]
    fn every_alarm_clears_at_most_once(
        persistence in 1u32..4,
        deadband in 0.0f64..3.0,
        values in proptest::collection::vec(0i32..40, 1..60),
    ) {
        let config = json!({"parameters": {"t": {
            "warnLow": 10, "warnHigh": 25, "critHigh": 35,
            "persistence": persistence, "deadband": deadband,
            "maxRate": {"warn": 8, "crit": 20},
        }}});
        let excursion = values
            .iter()
            .scan(0usize, |run, v| {
                *run = if (10..=25).contains(v) { 0 } else { *run + 1 };
                Some(*run)
            })
            .any(|run| run >= persistence as usize);
        let jump = values.windows(2).any(|w| (w[1] - w[0]).abs() > 8);
        // Then the values settle in the middle of the band, beyond any deadband: the first
        // settled sample may jump (a rate alarm), the ones after it do not.
        let samples = values.len();
        let mut values: Vec<f64> = values.into_iter().map(f64::from).collect();
        values.extend([17.0; 3]);
        let outputs = monitor_run(&config, &series(&values));
        let mut clears: std::collections::HashMap<String, usize> = Default::default();
        let mut cleared: std::collections::HashSet<String> = Default::default();
        for out in &outputs {
            for event in &out.events {
                if event.event_type == EventType::AnomalyCleared {
                    let id = event.metadata["alarmId"].as_str().unwrap_or("").to_owned();
                    *clears.entry(id).or_default() += 1;
                }
            }
            for alarm in &out.alarms {
                let id = alarm.id.to_string();
                prop_assert!(
                    !(cleared.contains(&id) && alarm.cleared_at.is_none()),
                    "alarm {id} reopened after clearing"
                );
                if alarm.cleared_at.is_some() {
                    cleared.insert(id);
                }
            }
        }
        prop_assert!(clears.values().all(|n| *n <= 1), "{clears:?}");
        let opened = raised(&outputs);
        for (_, id) in &opened {
            prop_assert!(clears.get(id).copied().unwrap_or(0) <= 1);
            prop_assert_eq!(clears.get(id).copied(), Some(1), "alarm {} never cleared: {:?}", id, values);
        }
        prop_assert_eq!(clears.len(), opened.len(), "cleared alarms that never opened: {:?}", clears);
        let opened_early = opened.iter().filter(|(step, _)| *step < samples).count();
        if excursion || jump {
            prop_assert!(opened_early >= 1, "no alarm for {values:?}");
        }
    }

    /// (d) `persistence: N` never opens an alarm on fewer than N consecutive violations.
    #[test]
    fn the_monitor_never_alarms_on_fewer_than_n_consecutive_violations(
        persistence in 1u32..5,
        samples in proptest::collection::vec(0i32..20, 1..40),
    ) {
        let config = json!({"parameters": {"t": {"warnHigh": 10, "persistence": persistence}}});
        let values: Vec<f64> = samples.iter().map(|v| f64::from(*v)).collect();
        let outputs = monitor_run(&config, &series(&values));
        let n = persistence as usize;
        for (step, _) in raised(&outputs) {
            prop_assert!(step + 1 >= n, "raised before {n} samples existed");
            prop_assert!(
                samples[step + 1 - n..=step].iter().all(|v| *v > 10),
                "alarm at {step} without {n} consecutive violations: {samples:?}"
            );
        }
        for (step, out) in outputs.iter().enumerate() {
            for anomaly in &out.anomalies {
                prop_assert!(samples[step + 1 - n..=step].iter().all(|v| *v > 10), "{anomaly:?}");
            }
        }
        // And the lower bound: an alarm opens at the N-th consecutive violation of every run
        // that reaches N, and each sample from there on is recorded as an anomaly.
        let runs = violation_runs(&samples, 10);
        let opened: Vec<usize> = raised(&outputs).into_iter().map(|(step, _)| step).collect();
        let expected: Vec<usize> = (0..samples.len()).filter(|i| runs[*i] == n).collect();
        prop_assert_eq!(opened, expected, "alarms for persistence {} over {:?}", n, samples);
        for (step, out) in outputs.iter().enumerate() {
            let expected = usize::from(runs[step] >= n);
            prop_assert_eq!(out.anomalies.len(), expected, "anomalies at {} of {:?}", step, samples);
        }
    }
}
