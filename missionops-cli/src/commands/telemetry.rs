//! Telemetry commands: ingest, list, analyse, detect, stored anomalies.

use missionops_core::{AnalysisWindow, Anomaly, Error, Limit, MissionOps, NewSnapshot, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::read_input;
use crate::args::{
    AnalyzeArgs, AnomaliesCommand, DetectArgs, IngestArgs, ListTelemetryArgs, WindowArgs,
};
use crate::output::{self, Output, or_dash};

/// `limit` bounds of the compat telemetry listings, as the HTTP API has them.
const TELEMETRY_LIMIT_MAX: u32 = 100;
/// `limit` bound of stored anomaly listings, as the HTTP API has it.
const ANOMALY_LIMIT_MAX: u32 = 200;
/// The window `detect` looks at when given no `--from`.
const DETECT_DEFAULT_WINDOW_MS: i64 = 24 * 3_600_000;

/// `ingest-telemetry`.
pub(crate) async fn ingest(ops: &MissionOps, out: Output, args: IngestArgs) -> anyhow::Result<()> {
    let text = match args.snapshot {
        Some(text) => text,
        None => read_input(args.file.as_deref(), "snapshot")?,
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Error::invalid("snapshot", format!("is not valid JSON: {e}")))?;
    match value {
        Value::Array(items) => {
            let mut snapshots = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                snapshots.push(parse_snapshot(item, &format!("snapshots[{index}]"))?);
            }
            let ingested = ops.ingest_batch(snapshots).await?;
            out.either(&ingested.receipt(), || {
                format!(
                    "Ingested {} snapshots ({} new, {} already stored)",
                    ingested.count, ingested.outcome.inserted, ingested.outcome.duplicates
                )
            })
        }
        value => {
            let receipt = ops.ingest(parse_snapshot(value, "snapshot")?).await?;
            out.either(&json!({"id": receipt.id}), || {
                let note = if receipt.duplicate {
                    " (already stored)"
                } else {
                    ""
                };
                format!("Ingested snapshot {}{note}", receipt.id)
            })
        }
    }
}

/// One snapshot from JSON, its errors naming `field`.
fn parse_snapshot(value: Value, field: &str) -> Result<NewSnapshot, Error> {
    NewSnapshot::deserialize(value).map_err(|e| Error::invalid(field, e))
}

/// `list-telemetry`.
pub(crate) async fn list(
    ops: &MissionOps,
    out: Output,
    args: ListTelemetryArgs,
) -> anyhow::Result<()> {
    let limit = Limit::new(args.limit, TELEMETRY_LIMIT_MAX)?;
    let snapshots = ops.recent_telemetry(&args.spacecraft_id, limit).await?;
    if out.is_json() {
        return out.json(&snapshots);
    }
    let mut table = out.table(["timestamp", "id", "parameters"]);
    for snapshot in &snapshots {
        table.add_row([
            snapshot.timestamp.to_string(),
            snapshot.id.to_string(),
            output::parameters(&snapshot.parameters),
        ]);
    }
    out.table_or(&table, &format!("No telemetry for {}.", args.spacecraft_id))
}

fn window(args: &WindowArgs) -> Result<Option<AnalysisWindow>, Error> {
    match (args.from, args.to) {
        (Some(from), Some(to)) => AnalysisWindow::range(from, to).map(Some),
        (None, None) => Ok(None),
        // clap enforces both-or-neither; this names the missing one should that ever change.
        (Some(_), None) => Err(Error::invalid("to", "is required with from")),
        (None, Some(_)) => Err(Error::invalid("from", "is required with to")),
    }
}

/// `analyze-telemetry`.
pub(crate) async fn analyze(
    ops: &MissionOps,
    out: Output,
    args: AnalyzeArgs,
) -> anyhow::Result<()> {
    let window = match window(&args.window)? {
        Some(window) => window,
        None => AnalysisWindow::Recent(Limit::new(args.limit, TELEMETRY_LIMIT_MAX)?),
    };
    let anomalies = ops.analyse(&args.spacecraft_id, window).await?;
    if out.is_json() {
        let compat: Vec<_> = anomalies.iter().map(Anomaly::compat).collect();
        return out.json(&compat);
    }
    let mut table = out.table(["timestamp", "parameter", "value", "severity", "description"]);
    for anomaly in &anomalies {
        table.add_row(vec![
            anomaly.timestamp.to_string().into(),
            anomaly.parameter.to_string().into(),
            output::value_text(&anomaly.value).into(),
            out.severity(anomaly.severity),
            anomaly.description.clone().into(),
        ]);
    }
    out.table_or(
        &table,
        &format!(
            "No anomalies in the analysed telemetry of {}.",
            args.spacecraft_id
        ),
    )
}

/// `detect`.
pub(crate) async fn detect(ops: &MissionOps, out: Output, args: DetectArgs) -> anyhow::Result<()> {
    let to = args.to.unwrap_or_else(|| ops.now());
    let from = args
        .from
        .unwrap_or_else(|| to.add_millis(-DETECT_DEFAULT_WINDOW_MS));
    let report = ops.detect(&args.spacecraft_id, from, to).await?;
    out.either(&report, || {
        format!(
            "Detected {} anomalies for {} between {from} and {to}; {} new stored",
            report.detected, args.spacecraft_id, report.persisted
        )
    })
}

/// `anomalies …`.
pub(crate) async fn anomalies(
    ops: &MissionOps,
    out: Output,
    command: AnomaliesCommand,
) -> anyhow::Result<()> {
    let AnomaliesCommand::List {
        spacecraft_id,
        limit,
        window: window_args,
    } = command;
    let anomalies = match window(&window_args)? {
        Some(AnalysisWindow::Range { from, to }) => {
            ops.anomaly_timeline(&spacecraft_id, from, to).await?
        }
        _ => {
            let limit = Limit::new(limit, ANOMALY_LIMIT_MAX)?;
            ops.list_anomalies(&spacecraft_id, limit).await?
        }
    };
    if out.is_json() {
        return out.json(&anomalies);
    }
    let mut table = out.table([
        "timestamp",
        "parameter",
        "value",
        "kind",
        "severity",
        "limit",
        "description",
    ]);
    for anomaly in &anomalies {
        table.add_row(vec![
            anomaly.timestamp.to_string().into(),
            anomaly.parameter.to_string().into(),
            output::value_text(&anomaly.value).into(),
            anomaly.kind.as_str().into(),
            out.severity(anomaly.severity),
            or_dash(anomaly.limit.map(missionops_core::json::format_js_number)).into(),
            anomaly.description.clone().into(),
        ]);
    }
    out.table_or(&table, &format!("No stored anomalies for {spacecraft_id}."))
}

/// The last instant a timestamp can hold, for open-ended windows.
pub(crate) fn end_of_time() -> Timestamp {
    Timestamp::from_millis_clamped(i64::MAX)
}

/// The first instant a timestamp can hold, for open-ended windows.
pub(crate) fn start_of_time() -> Timestamp {
    Timestamp::from_millis_clamped(i64::MIN)
}
