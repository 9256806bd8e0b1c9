//! SPEC §3, the compat threshold table: one test per row, at, just below and just above each
//! threshold, plus precedence, ignored value types and missing rules.

use missionops_core::{
    AnalysisContext, Anomaly, AnomalyKind, CompiledRules, Parameters, Severity, SnapshotId,
    SpacecraftId, TelemetrySnapshot, Timestamp, analyse,
};
use serde_json::{Value, json};

fn rules(rule: Value) -> CompiledRules {
    let config = json!({"parameters": {"p": rule}});
    CompiledRules::compile(config.as_object().expect("object")).expect("valid rule")
}

fn snapshot(value: Value) -> TelemetrySnapshot {
    TelemetrySnapshot {
        id: SnapshotId::parse("s1").expect("id"),
        spacecraft_id: SpacecraftId::parse("SC-1").expect("id"),
        timestamp: Timestamp::parse("2025-01-01T00:00:00Z").expect("ts"),
        parameters: Parameters::from_json(&json!({"p": value})).expect("parameters"),
    }
}

fn check(rules: &CompiledRules, value: Value) -> Vec<Anomaly> {
    let context = AnalysisContext {
        detected_at: Timestamp::parse("2025-01-01T00:00:01Z").expect("ts"),
        window_start: None,
        window_end: None,
    };
    analyse(rules, &[snapshot(value)], context)
}

/// The single anomaly `value` raises, as (kind, severity, description), or `None`.
fn outcome(rules: &CompiledRules, value: f64) -> Option<(AnomalyKind, Severity, String)> {
    let found = check(rules, json!(value));
    assert!(found.len() <= 1, "at most one anomaly per parameter");
    found
        .into_iter()
        .next()
        .map(|a| (a.kind, a.severity, a.description))
}

#[test]
fn row_1_below_crit_low_is_crit_low_high() {
    let r = rules(json!({"critLow": 10}));
    assert_eq!(
        outcome(&r, 9.999),
        Some((
            AnomalyKind::CritLow,
            Severity::High,
            "Parameter p below critLow 10".into()
        ))
    );
    assert_eq!(
        outcome(&r, 10.0),
        None,
        "strict: at the threshold nothing fires"
    );
    assert_eq!(outcome(&r, 10.001), None);
}

#[test]
fn row_2_below_warn_low_is_warn_low_medium() {
    let r = rules(json!({"warnLow": 20}));
    assert_eq!(
        outcome(&r, 19.999),
        Some((
            AnomalyKind::WarnLow,
            Severity::Medium,
            "Parameter p below warnLow 20".into()
        ))
    );
    assert_eq!(outcome(&r, 20.0), None);
    assert_eq!(outcome(&r, 20.001), None);
}

#[test]
fn row_3_above_crit_high_is_crit_high_high() {
    let r = rules(json!({"critHigh": 70}));
    assert_eq!(
        outcome(&r, 70.001),
        Some((
            AnomalyKind::CritHigh,
            Severity::High,
            "Parameter p above critHigh 70".into()
        ))
    );
    assert_eq!(outcome(&r, 70.0), None);
    assert_eq!(outcome(&r, 69.999), None);
}

#[test]
fn row_4_above_warn_high_is_warn_high_medium() {
    let r = rules(json!({"warnHigh": 45}));
    assert_eq!(
        outcome(&r, 45.001),
        Some((
            AnomalyKind::WarnHigh,
            Severity::Medium,
            "Parameter p above warnHigh 45".into()
        ))
    );
    assert_eq!(outcome(&r, 45.0), None);
    assert_eq!(outcome(&r, 44.999), None);
}

#[test]
fn critical_limits_take_precedence_over_warning_limits() {
    let r = rules(json!({"critLow": 10, "warnLow": 20, "warnHigh": 45, "critHigh": 70}));
    let kind = |v: f64| outcome(&r, v).map(|(k, _, _)| k);
    assert_eq!(kind(5.0), Some(AnomalyKind::CritLow));
    assert_eq!(kind(10.0), Some(AnomalyKind::WarnLow));
    assert_eq!(kind(15.0), Some(AnomalyKind::WarnLow));
    assert_eq!(kind(20.0), None);
    assert_eq!(kind(45.0), None);
    assert_eq!(kind(50.0), Some(AnomalyKind::WarnHigh));
    assert_eq!(kind(70.0), Some(AnomalyKind::WarnHigh));
    assert_eq!(kind(80.0), Some(AnomalyKind::CritHigh));
}

#[test]
fn equal_low_and_high_thresholds_flag_both_sides_but_not_the_value_itself() {
    let r = rules(json!({"warnLow": 5, "warnHigh": 5}));
    assert_eq!(outcome(&r, 4.0).map(|o| o.0), Some(AnomalyKind::WarnLow));
    assert_eq!(outcome(&r, 6.0).map(|o| o.0), Some(AnomalyKind::WarnHigh));
    assert_eq!(outcome(&r, 5.0), None);
}

#[test]
fn strings_and_booleans_never_match_a_threshold_rule() {
    let r = rules(json!({"warnHigh": 0, "warnLow": 0}));
    for value in [
        json!("100"),
        json!("-5"),
        json!(true),
        json!(false),
        json!(""),
    ] {
        assert!(
            check(&r, value.clone()).is_empty(),
            "{value} must be ignored"
        );
    }
}

#[test]
fn a_parameter_without_a_rule_or_with_an_empty_rule_raises_nothing() {
    let r = rules(json!({}));
    assert!(check(&r, json!(1e300)).is_empty());
    let config = json!({"parameters": {"other": {"warnHigh": 1}}});
    let r = CompiledRules::compile(config.as_object().expect("object")).expect("valid");
    assert!(check(&r, json!(1e300)).is_empty());
    assert!(check(&CompiledRules::empty(), json!(1e300)).is_empty());
}

#[test]
fn descriptions_print_numbers_as_javascript_does() {
    let cases = [
        (
            json!({"warnHigh": 1e-7}),
            1.0,
            "Parameter p above warnHigh 1e-7",
        ),
        (
            json!({"warnHigh": 1e21}),
            1e22,
            "Parameter p above warnHigh 1e+21",
        ),
        (
            json!({"warnLow": 0.30000000000000004}),
            0.0,
            "Parameter p below warnLow 0.30000000000000004",
        ),
        (
            json!({"critLow": -150}),
            -151.0,
            "Parameter p below critLow -150",
        ),
        (
            json!({"warnHigh": 0.5}),
            1.0,
            "Parameter p above warnHigh 0.5",
        ),
        (
            json!({"warnHigh": 25.0}),
            26.0,
            "Parameter p above warnHigh 25",
        ),
        (
            json!({"warnLow": -0.0}),
            -1.0,
            "Parameter p below warnLow 0",
        ),
    ];
    for (rule, value, description) in cases {
        let r = rules(rule);
        assert_eq!(
            outcome(&r, value).map(|o| o.2).as_deref(),
            Some(description)
        );
    }
}

#[test]
fn anomalies_carry_the_compat_id_the_value_and_the_limit() {
    let r = rules(json!({"warnHigh": 45}));
    let found = check(&r, json!(50));
    assert_eq!(found[0].id.as_str(), "s1:p:WARN_HIGH");
    assert_eq!(found[0].limit, Some(45.0));
    assert_eq!(
        serde_json::to_string(&found[0].compat()).expect("json"),
        r#"{"id":"s1:p:WARN_HIGH","spacecraftId":"SC-1","timestamp":"2025-01-01T00:00:00.000Z","parameter":"p","value":50,"severity":"MEDIUM","description":"Parameter p above warnHigh 45"}"#
    );
}

#[test]
fn anomalies_of_one_snapshot_follow_the_order_of_its_parameters() {
    let config =
        json!({"parameters": {"a": {"warnHigh": 1}, "b": {"warnHigh": 1}, "c": {"warnHigh": 1}}});
    let r = CompiledRules::compile(config.as_object().expect("object")).expect("valid");
    let snap = TelemetrySnapshot {
        parameters: Parameters::from_json(&json!({"c": 2, "a": 2, "x": 2, "b": 2})).expect("p"),
        ..snapshot(json!(0))
    };
    let context = AnalysisContext {
        detected_at: Timestamp::parse("2025-01-01T00:00:01Z").expect("ts"),
        window_start: None,
        window_end: None,
    };
    let found = analyse(&r, &[snap], context);
    let order: Vec<&str> = found.iter().map(|a| a.parameter.as_str()).collect();
    assert_eq!(order, ["c", "a", "b"]);
}
