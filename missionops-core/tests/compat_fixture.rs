//! The compatibility oracle: `fixtures/compat/` (a copy of `../shared/fixtures/compat/`) holds
//! inputs and the TypeScript service's exact analysis output. Both the bare engine and the full
//! service path (ingest → config → analyse over the in-memory store) must reproduce
//! `expected.json` byte for byte.

use std::path::PathBuf;
use std::sync::Arc;

use missionops_core::json::to_string_pretty_js;
use missionops_core::{
    AnalysisContext, AnalysisWindow, Anomaly, CompiledRules, ConfigStatus, Limit, ManualClock,
    MissionOps, NewSnapshot, SequentialIds, SpacecraftConfig, SpacecraftId, TelemetrySnapshot,
    Timestamp, analyse,
};
use missionops_store::MemoryStore;
use serde_json::{Map, Value};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/compat")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture_dir().join(name)).expect("fixture file")
}

fn configs() -> Map<String, Value> {
    serde_json::from_str(&read("configs.json")).expect("configs.json")
}

fn snapshots() -> Vec<TelemetrySnapshot> {
    read("snapshots.ndjson")
        .lines()
        .map(|line| serde_json::from_str(line).expect("snapshot line"))
        .collect()
}

/// The spacecraft ids of `expected.json`, in its order.
fn expected_order() -> Vec<String> {
    let expected: Map<String, Value> =
        serde_json::from_str(&read("expected.json")).expect("expected.json");
    expected.keys().cloned().collect()
}

/// Renders results as the TypeScript fixture generator did: `JSON.stringify(v, null, 1)`.
fn render(results: Vec<(String, Vec<Anomaly>, Vec<Anomaly>)>) -> String {
    let mut out = Map::new();
    for (id, range, recent) in results {
        let compat = |list: &[Anomaly]| {
            serde_json::to_value(list.iter().map(Anomaly::compat).collect::<Vec<_>>())
                .expect("serialize")
        };
        let mut entry = Map::new();
        entry.insert("range".into(), compat(&range));
        entry.insert("recent20".into(), compat(&recent));
        out.insert(id, Value::Object(entry));
    }
    to_string_pretty_js(&out, " ").expect("render") + "\n"
}

fn context() -> AnalysisContext {
    AnalysisContext {
        detected_at: Timestamp::parse("2025-06-02T00:00:00Z").expect("ts"),
        window_start: None,
        window_end: None,
    }
}

#[test]
fn the_engine_reproduces_expected_json_byte_for_byte() {
    let configs = configs();
    let all = snapshots();
    let mut results = Vec::new();
    for id in expected_order() {
        let rules = match configs.get(&id) {
            Some(Value::Object(config)) => CompiledRules::compile(config).expect("compile"),
            _ => CompiledRules::empty(),
        };
        let mine: Vec<TelemetrySnapshot> = all
            .iter()
            .filter(|s| s.spacecraft_id.as_str() == id)
            .cloned()
            .collect();
        let range = analyse(&rules, &mine, context());
        let newest: Vec<TelemetrySnapshot> = mine.iter().rev().take(20).cloned().collect();
        let recent = analyse(&rules, &newest, context());
        results.push((id, range, recent));
    }
    let rendered = render(results);
    let expected = read("expected.json");
    assert!(
        rendered == expected,
        "engine output differs from expected.json; first difference at byte {}",
        first_difference(&rendered, &expected)
    );
}

#[tokio::test]
async fn the_service_reproduces_expected_json_byte_for_byte() {
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse("2025-06-02T00:00:00Z").expect("ts"),
    ));
    let app = MissionOps::new(
        Arc::new(MemoryStore::new()),
        clock,
        Arc::new(SequentialIds::new()),
    );
    for (id, config) in configs() {
        let id = SpacecraftId::parse(id).expect("id");
        let config = SpacecraftConfig::parse(config).expect("fixture config is valid");
        app.set_config(&id, config, ConfigStatus::Approved, None)
            .await
            .expect("set config");
    }
    let lines: Vec<NewSnapshot> = read("snapshots.ndjson")
        .lines()
        .map(|line| serde_json::from_str(line).expect("snapshot line"))
        .collect();
    // In batches, as a client would post them.
    for chunk in lines.chunks(100) {
        app.ingest_batch(chunk.to_vec()).await.expect("ingest");
    }
    let all = snapshots();
    let mut results = Vec::new();
    for id in expected_order() {
        let sc = SpacecraftId::parse(id.as_str()).expect("id");
        let times: Vec<Timestamp> = all
            .iter()
            .filter(|s| s.spacecraft_id == sc)
            .map(|s| s.timestamp)
            .collect();
        let (first, last) = (times[0], times[times.len() - 1]);
        let range = app
            .analyse(&sc, AnalysisWindow::range(first, last).expect("window"))
            .await
            .expect("analyse range");
        let recent = app
            .analyse(
                &sc,
                AnalysisWindow::Recent(Limit::new(20, 100).expect("limit")),
            )
            .await
            .expect("analyse recent");
        results.push((id, range, recent));
    }
    let rendered = render(results);
    let expected = read("expected.json");
    assert!(
        rendered == expected,
        "service output differs from expected.json; first difference at byte {}",
        first_difference(&rendered, &expected)
    );
}

#[test]
fn the_vendored_fixture_matches_the_shared_one_when_present() {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/compat");
    if !shared.exists() {
        // A clone outside the workplace has only the vendored copy, which the tests above use.
        return;
    }
    for name in ["configs.json", "expected.json", "snapshots.ndjson"] {
        let ours = std::fs::read(fixture_dir().join(name)).expect("vendored");
        let theirs = std::fs::read(shared.join(name)).expect("shared");
        assert!(
            ours == theirs,
            "fixtures/compat/{name} differs from ../shared; copy it again"
        );
    }
}

fn first_difference(a: &str, b: &str) -> String {
    let index = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = index.saturating_sub(200);
    format!(
        "{index}:\n--- ours ---\n{}\n--- expected ---\n{}",
        a.get(from..(index + 200).min(a.len())).unwrap_or(""),
        b.get(from..(index + 200).min(b.len())).unwrap_or("")
    )
}
