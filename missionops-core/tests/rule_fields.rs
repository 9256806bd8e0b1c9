//! SPEC §3 "Beyond compat": every rule field in batch analyse, and its validation.

use missionops_core::{
    AnalysisContext, AnomalyKind, CompiledRules, Parameters, Severity, SnapshotId,
    SpacecraftConfig, SpacecraftId, TelemetrySnapshot, Timestamp, analyse,
};
use serde_json::{Value, json};

fn rules(parameters: Value) -> CompiledRules {
    let config = json!({ "parameters": parameters });
    CompiledRules::compile(config.as_object().expect("object")).expect("valid rules")
}

/// Snapshots one second apart (or at the given seconds), oldest first.
fn series(samples: &[(i64, Value)]) -> Vec<TelemetrySnapshot> {
    samples
        .iter()
        .enumerate()
        .map(|(i, (second, parameters))| TelemetrySnapshot {
            id: SnapshotId::parse(format!("s{i}")).expect("id"),
            spacecraft_id: SpacecraftId::parse("SC-1").expect("id"),
            timestamp: Timestamp::parse("2025-01-01T00:00:00Z")
                .expect("ts")
                .add_millis(second * 1000),
            parameters: Parameters::from_json(parameters).expect("parameters"),
        })
        .collect()
}

fn values(name: &str, values: &[Value]) -> Vec<TelemetrySnapshot> {
    let samples: Vec<(i64, Value)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (i as i64, json!({ name: v })))
        .collect();
    series(&samples)
}

fn context() -> AnalysisContext {
    AnalysisContext {
        detected_at: Timestamp::parse("2025-01-02T00:00:00Z").expect("ts"),
        window_start: None,
        window_end: None,
    }
}

/// (snapshot id, kind) of every anomaly.
fn found(rules: &CompiledRules, snapshots: &[TelemetrySnapshot]) -> Vec<(String, AnomalyKind)> {
    analyse(rules, snapshots, context())
        .into_iter()
        .map(|a| {
            (
                a.id.as_str().split(':').next().unwrap_or("").to_owned(),
                a.kind,
            )
        })
        .collect()
}

fn ids(list: &[(&str, AnomalyKind)]) -> Vec<(String, AnomalyKind)> {
    list.iter().map(|(id, k)| ((*id).to_owned(), *k)).collect()
}

#[test]
fn a_disabled_rule_checks_nothing() {
    let r = rules(json!({"t": {"warnHigh": 1, "enabled": false}}));
    assert!(found(&r, &values("t", &[json!(5), json!(9)])).is_empty());
}

#[test]
fn persistence_raises_from_the_nth_consecutive_violation() {
    let r = rules(json!({"t": {"warnHigh": 10, "persistence": 3}}));
    let snaps = values("t", &[11, 12, 5, 11, 12, 13, 14, 5].map(|v| json!(v)));
    assert_eq!(
        found(&r, &snaps),
        ids(&[("s5", AnomalyKind::WarnHigh), ("s6", AnomalyKind::WarnHigh)]),
        "two violations then a good sample raise nothing; the third in a row and later do"
    );
}

#[test]
fn a_deadband_keeps_the_run_open_until_the_value_is_back_by_the_deadband() {
    let r = rules(json!({"t": {"warnHigh": 45, "persistence": 2, "deadband": 2}}));
    // 46 46 → raised at s1; 44 is inside but within 2 of 45: held; 46 raises at once;
    // 42 clears; 46 starts a new run (no anomaly until its second sample).
    let snaps = values("t", &[46, 46, 44, 46, 42, 46, 46].map(|v| json!(v)));
    assert_eq!(
        found(&r, &snaps),
        ids(&[
            ("s1", AnomalyKind::WarnHigh),
            ("s3", AnomalyKind::WarnHigh),
            ("s6", AnomalyKind::WarnHigh)
        ])
    );
    let low = rules(json!({"t": {"warnLow": 10, "persistence": 2, "deadband": 1}}));
    let snaps = values("t", &[9.0, 9.0, 10.5, 9.0, 11.5, 9.0].map(|v| json!(v)));
    assert_eq!(
        found(&low, &snaps),
        ids(&[("s1", AnomalyKind::WarnLow), ("s3", AnomalyKind::WarnLow)])
    );
}

#[test]
fn max_rate_flags_fast_changes_per_second() {
    let r = rules(json!({"t": {"maxRate": {"warn": 1, "crit": 5}}}));
    let snaps = series(&[
        (0, json!({"t": 0})),
        (1, json!({"t": 0.5})),
        (2, json!({"t": 2.5})),
        (4, json!({"t": 20})),
    ]);
    let anomalies = analyse(&r, &snaps, context());
    let got: Vec<(&str, AnomalyKind, Severity)> = anomalies
        .iter()
        .map(|a| (a.id.as_str(), a.kind, a.severity))
        .collect();
    assert_eq!(
        got,
        [
            ("s2:t:RATE_WARN", AnomalyKind::RateWarn, Severity::Medium),
            ("s3:t:RATE_CRIT", AnomalyKind::RateCrit, Severity::High)
        ]
    );
    assert_eq!(
        anomalies[1].description,
        "Parameter t changed at 8.75/s, above maxRate.crit 5"
    );
    assert_eq!(anomalies[1].limit, Some(5.0));
}

#[test]
fn a_gap_longer_than_stale_after_flags_the_last_sample_before_it() {
    let r = rules(json!({"t": {"staleAfterSec": 10}}));
    let snaps = series(&[
        (0, json!({"t": 1})),
        (5, json!({"t": 1})),
        (30, json!({"t": 1})),
        (35, json!({"t": 1})),
    ]);
    let anomalies = analyse(&r, &snaps, context());
    assert_eq!(anomalies.len(), 1);
    assert_eq!(anomalies[0].id.as_str(), "s1:t:STALE");
    assert_eq!(anomalies[0].severity, Severity::Medium);
    assert_eq!(
        anomalies[0].description,
        "Parameter t had no sample for more than 10s"
    );
}

#[test]
fn allowed_and_forbidden_states_flag_strings_and_booleans() {
    let r =
        rules(json!({"mode": {"allowed": ["NOMINAL", "SAFE"]}, "heater": {"forbidden": [true]}}));
    let snaps = series(&[
        (0, json!({"mode": "NOMINAL", "heater": false})),
        (1, json!({"mode": "DETUMBLE", "heater": true})),
        (2, json!({"mode": 3, "heater": "on"})),
    ]);
    let anomalies = analyse(&r, &snaps, context());
    let got: Vec<(&str, &str)> = anomalies
        .iter()
        .map(|a| (a.id.as_str(), a.description.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "s1:mode:STATE",
                "Parameter mode value DETUMBLE is not allowed"
            ),
            (
                "s1:heater:STATE",
                "Parameter heater value true is forbidden"
            ),
        ],
        "numbers never break a state rule; strings outside `allowed` and values in `forbidden` do"
    );
}

#[test]
fn severity_overrides_apply_per_class() {
    let r = rules(json!({
        "t": {"warnHigh": 10, "critHigh": 20, "staleAfterSec": 1, "severity": {"warn": "LOW", "crit": "CRITICAL", "stale": "HIGH"}},
        "m": {"allowed": ["A"], "severity": {"state": "HIGH"}},
    }));
    let snaps = series(&[(0, json!({"t": 15, "m": "B"})), (5, json!({"t": 25}))]);
    let got: Vec<(String, Severity)> = analyse(&r, &snaps, context())
        .into_iter()
        .map(|a| (a.id.into_string(), a.severity))
        .collect();
    assert_eq!(
        got,
        [
            ("s0:t:WARN_HIGH".to_owned(), Severity::Low),
            ("s0:t:STALE".to_owned(), Severity::High),
            ("s0:m:STATE".to_owned(), Severity::High),
            ("s1:t:CRIT_HIGH".to_owned(), Severity::Critical),
        ]
    );
}

#[test]
fn limit_sets_switch_thresholds_with_the_mode_from_the_next_sample() {
    let r = rules(json!({"payload_temp": {"warnHigh": 50, "limitSets": [
        {"when": {"imaging_mode": "IMAGING"}, "warnHigh": 60, "critHigh": 70}
    ]}}));
    let snaps = series(&[
        (0, json!({"imaging_mode": "STANDBY", "payload_temp": 55})),
        (1, json!({"imaging_mode": "IMAGING", "payload_temp": 55})),
        (2, json!({"imaging_mode": "IMAGING", "payload_temp": 75})),
        (3, json!({"imaging_mode": "STANDBY", "payload_temp": 55})),
    ]);
    assert_eq!(
        found(&r, &snaps),
        ids(&[
            ("s0", AnomalyKind::WarnHigh),
            ("s2", AnomalyKind::CritHigh),
            ("s3", AnomalyKind::WarnHigh)
        ])
    );
    let anomalies = analyse(&r, &snaps, context());
    assert_eq!(
        anomalies[1].description,
        "Parameter payload_temp above critHigh 70"
    );
}

#[test]
fn recent_windows_given_newest_first_are_evaluated_oldest_first_and_returned_as_given() {
    let r = rules(json!({"t": {"warnHigh": 10, "persistence": 2}}));
    let mut snaps = values("t", &[11, 12, 13].map(|v| json!(v)));
    snaps.reverse();
    let got: Vec<String> = analyse(&r, &snaps, context())
        .into_iter()
        .map(|a| a.id.into_string())
        .collect();
    assert_eq!(got, ["s2:t:WARN_HIGH", "s1:t:WARN_HIGH"]);
}

#[test]
fn a_compat_rule_beside_an_extended_one_keeps_its_compat_results() {
    let snaps = values("t", &[5, 11, 25, 9, -3].map(|v| json!(v)));
    let compat = rules(json!({"t": {"warnLow": 0, "warnHigh": 10, "critHigh": 20}}));
    let mixed = rules(
        json!({"t": {"warnLow": 0, "warnHigh": 10, "critHigh": 20}, "other": {"persistence": 2}}),
    );
    assert!(compat.is_compat_only() && !mixed.is_compat_only());
    assert_eq!(
        analyse(&compat, &snaps, context()),
        analyse(&mixed, &snaps, context())
    );
}

#[test]
fn bad_rule_fields_are_rejected_naming_parameter_and_field() {
    let cases = [
        (
            json!({"enabled": "no"}),
            "parameters.t.enabled: must be true or false",
        ),
        (
            json!({"persistence": 0}),
            "parameters.t.persistence: must be a whole number from 1 to 1000000",
        ),
        (
            json!({"persistence": -2}),
            "parameters.t.persistence: must be a whole number from 1 to 1000000",
        ),
        (
            json!({"persistence": 2.5}),
            "parameters.t.persistence: must be a whole number from 1 to 1000000",
        ),
        (
            json!({"deadband": -1}),
            "parameters.t.deadband: must be zero or more",
        ),
        (
            json!({"warnLow": 0, "warnHigh": 10, "deadband": 11}),
            "parameters.t.deadband: must not be wider than the band between the low and high limits (10)",
        ),
        (
            json!({"maxRate": 5}),
            "parameters.t.maxRate: must be an object {warn?, crit?} of rates per second",
        ),
        (
            json!({"maxRate": {}}),
            "parameters.t.maxRate: must set warn, crit or both",
        ),
        (
            json!({"maxRate": {"warn": 5, "crit": 1}}),
            "parameters.t.maxRate.crit: must not be below maxRate.warn",
        ),
        (
            json!({"maxRate": {"warn": 0}}),
            "parameters.t.maxRate.warn: must be more than zero",
        ),
        (
            json!({"staleAfterSec": 0}),
            "parameters.t.staleAfterSec: must be more than zero",
        ),
        (
            json!({"allowed": "A"}),
            "parameters.t.allowed: must be an array of strings or booleans",
        ),
        (
            json!({"allowed": ["A", 3]}),
            "parameters.t.allowed[1]: must be a string or a boolean",
        ),
        (
            json!({"severity": {"warn": "SEVERE"}}),
            "parameters.t.severity.warn: must be one of LOW, MEDIUM, HIGH, CRITICAL",
        ),
        (
            json!({"severity": {"loud": "LOW"}}),
            "parameters.t.severity.loud: is not a severity class (warn, crit, state, stale)",
        ),
        (
            json!({"limitSets": {}}),
            "parameters.t.limitSets: must be an array of {when, warnLow?, …}",
        ),
        (
            json!({"limitSets": [{"warnHigh": 1}]}),
            "parameters.t.limitSets[0].when: must be a non-empty object of parameter → value",
        ),
        (
            json!({"limitSets": [{"when": {"mode": {"is": "A"}}}]}),
            "parameters.t.limitSets[0].when.mode: must be a string, number or boolean",
        ),
        (
            json!({"limitSets": [{"when": {"mode": "A"}, "warnLow": 9, "warnHigh": 1}]}),
            "parameters.t.limitSets[0].warnLow: must not be above warnHigh",
        ),
    ];
    for (rule, message) in cases {
        let err = SpacecraftConfig::parse(json!({"parameters": {"t": rule}})).expect_err(message);
        assert_eq!(err.to_string(), message);
    }
}
