//! Paged batch analysis ([`WindowAnalysis`]) against whole-window analysis ([`analyse`]): the
//! same anomalies in the same order, whatever the page sizes, with every rule field in play
//! (persistence, deadband and rate carry state across pages; a staleness finding lands on the
//! sample before a gap, possibly pages back).

use std::sync::Arc;

use missionops_core::{
    AnalysisContext, CompiledRules, Parameters, SnapshotId, SpacecraftId, TelemetrySnapshot,
    Timestamp, WindowAnalysis, analyse,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const NAMES: [&str; 4] = ["a", "b", "c", "d"];

/// One rule: thresholds, and each beyond-compat field present or not.
fn rule() -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec(-40i32..40, 4),
        proptest::collection::vec(any::<bool>(), 4),
        proptest::option::of(1u32..4),
        proptest::option::of(0u32..3),
        proptest::option::of((1u32..6, 6u32..20)),
        proptest::option::of(1u32..5),
    )
        .prop_map(
            |(mut points, present, persistence, deadband, rate, stale)| {
                points.sort_unstable();
                let fields = ["critLow", "warnLow", "warnHigh", "critHigh"];
                let mut rule = Map::new();
                for ((field, point), keep) in fields.iter().zip(&points).zip(&present) {
                    if *keep {
                        rule.insert((*field).to_owned(), json!(f64::from(*point) / 2.0));
                    }
                }
                if let Some(p) = persistence {
                    rule.insert("persistence".into(), json!(p));
                }
                if let Some(d) = deadband {
                    rule.insert("deadband".into(), json!(d));
                }
                if let Some((warn, crit)) = rate {
                    rule.insert("maxRate".into(), json!({"warn": warn, "crit": crit}));
                }
                if let Some(s) = stale {
                    rule.insert("staleAfterSec".into(), json!(s));
                }
                Value::Object(rule)
            },
        )
}

fn rules() -> impl Strategy<Value = CompiledRules> {
    proptest::collection::btree_map(proptest::sample::select(NAMES.to_vec()), rule(), 0..4)
        .prop_filter_map("consistent rules", |rules| {
            let parameters: Map<String, Value> =
                rules.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            let config = json!({ "parameters": parameters });
            CompiledRules::compile(config.as_object()?).ok()
        })
}

/// A window in time order: gaps of 0–6 s (0 makes runs of equal times), random subsets of
/// the names, numbers mostly, sometimes a string.
fn window() -> impl Strategy<Value = Vec<TelemetrySnapshot>> {
    let sample = (
        0i64..7,
        Just(NAMES.to_vec()).prop_shuffle(),
        0..=NAMES.len(),
        proptest::collection::vec(
            prop_oneof![
                8 => (-50i32..50).prop_map(|v| json!(f64::from(v) / 2.0)),
                1 => "[a-z]{0,3}".prop_map(Value::String),
            ],
            NAMES.len(),
        ),
    );
    proptest::collection::vec(sample, 0..60).prop_map(|samples| {
        let mut at = 0;
        samples
            .into_iter()
            .enumerate()
            .map(|(index, (gap, names, count, values))| {
                at += gap * 1000;
                let parameters: Map<String, Value> = names[..count]
                    .iter()
                    .zip(values)
                    .map(|(n, v)| ((*n).to_owned(), v))
                    .collect();
                TelemetrySnapshot {
                    id: SnapshotId::parse(format!("s{index}")).expect("id"),
                    spacecraft_id: SpacecraftId::parse("SC").expect("id"),
                    timestamp: Timestamp::from_millis(at).expect("ts"),
                    parameters: Parameters::from_json(&Value::Object(parameters)).expect("p"),
                }
            })
            .collect()
    })
}

fn context() -> AnalysisContext {
    AnalysisContext {
        detected_at: Timestamp::from_millis(0).expect("ts"),
        window_start: Some(Timestamp::from_millis(0).expect("ts")),
        window_end: Some(Timestamp::from_millis(1_000_000).expect("ts")),
    }
}

/// The window fed to a [`WindowAnalysis`] in pages of the given sizes (cycled).
fn paged(
    rules: CompiledRules,
    snapshots: &[TelemetrySnapshot],
    sizes: &[usize],
) -> Vec<missionops_core::Anomaly> {
    let mut analysis = WindowAnalysis::new(Arc::new(rules), context());
    let mut out = Vec::new();
    let mut rest = snapshots;
    let mut size = sizes.iter().cycle();
    while !rest.is_empty() {
        let n = (*size.next().expect("sizes")).min(rest.len());
        let (page, after) = rest.split_at(n);
        out.extend(analysis.push(page));
        rest = after;
    }
    out.extend(analysis.finish());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Paged analysis equals whole-window analysis for any page sizes.
    #[test]
    fn paged_analysis_equals_whole_window_analysis(
        rules in rules(),
        snapshots in window(),
        sizes in proptest::collection::vec(1usize..9, 1..5),
    ) {
        let whole = analyse(&rules, &snapshots, context());
        let by_pages = paged(rules, &snapshots, &sizes);
        prop_assert_eq!(by_pages, whole);
    }
}

/// A staleness finding lands on the sample before the gap, a page back: it is held until the
/// next sample arrives and comes out in the whole-window order.
#[test]
fn a_staleness_finding_pages_back_comes_out_in_order() {
    let config = json!({"parameters": {"a": {"staleAfterSec": 2, "warnHigh": 10}}});
    let rules = CompiledRules::compile(config.as_object().expect("object")).expect("rules");
    let snapshot = |i: usize, second: i64, value: f64| TelemetrySnapshot {
        id: SnapshotId::parse(format!("s{i}")).expect("id"),
        spacecraft_id: SpacecraftId::parse("SC").expect("id"),
        timestamp: Timestamp::from_millis(second * 1000).expect("ts"),
        parameters: Parameters::from_json(&json!({"a": value, "b": 1})).expect("p"),
    };
    // s0 is stale (the next sample is 5 s later), s1 and s2 exceed warnHigh.
    let snapshots = vec![
        snapshot(0, 0, 1.0),
        snapshot(1, 5, 11.0),
        snapshot(2, 6, 12.0),
    ];
    let whole = analyse(&rules, &snapshots, context());
    let found: Vec<_> = whole
        .iter()
        .map(|a| (a.timestamp.as_millis(), a.kind))
        .collect();
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[0].0, 0, "s0's staleness comes first: {found:?}");
    for sizes in [[1], [2], [3]] {
        assert_eq!(
            paged(rules.clone(), &snapshots, &sizes),
            whole,
            "pages of {sizes:?}"
        );
    }
    // Nothing of s0 can come out of its own page: its staleness is not known yet.
    let mut analysis = WindowAnalysis::new(Arc::new(rules), context());
    assert!(analysis.push(&snapshots[..1]).is_empty());
    let rest = analysis.push(&snapshots[1..]);
    assert_eq!(rest.first().map(|a| a.timestamp.as_millis()), Some(0));
}
