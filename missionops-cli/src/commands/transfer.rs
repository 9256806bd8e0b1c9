//! `import` and `export`: telemetry files in and out, streaming, in bounded memory.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use missionops_core::{
    AnalysisWindow, Error, IngestMode, MissionOps, NewSnapshot, SnapshotId, SpacecraftId,
    TelemetrySnapshot, Timestamp,
};
use serde::Serialize;
use serde_json::json;

use super::telemetry::{end_of_time, start_of_time};
use crate::args::{ExportArgs, Format, ImportArgs};
use crate::output::Output;
use crate::progress;
use crate::transfer::{CsvColumns, CsvSnapshotWriter, SnapshotReader, line_error};

/// Snapshots per ingest call: one store transaction each.
const IMPORT_BATCH: usize = 1_000;
/// Snapshots per store query while exporting.
const EXPORT_PAGE: usize = 5_000;
/// How many skipped lines an import reports one by one.
const MAX_REPORTED_SKIPS: usize = 10;

/// What `import` did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ImportReport {
    /// The file, or `stdin`.
    source: String,
    /// `ndjson` or `csv`.
    format: &'static str,
    /// Valid snapshots read (and ingested).
    snapshots: u64,
    /// Of those, how many were new to the store.
    inserted: u64,
    /// Of those, how many the store already held with the same content.
    duplicates: u64,
    /// Invalid lines skipped with `--skip-invalid`.
    skipped: u64,
    /// The first skipped lines with why.
    skipped_lines: Vec<SkippedLine>,
}

#[derive(Debug, Serialize)]
struct SkippedLine {
    line: u64,
    reason: String,
}

/// The input of an import: a file, or stdin copied to an anonymous temporary file so that it can
/// be read twice (once to check, once to ingest) without holding it in memory.
#[derive(Debug)]
enum Input {
    File(PathBuf),
    Spooled(File),
}

impl Input {
    fn open(path: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(path) = path {
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            return Ok(Input::File(path.to_owned()));
        }
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err(Error::invalid(
                "FILE",
                "give a file to import, or pipe the telemetry on stdin",
            )
            .into());
        }
        let mut spool = tempfile::tempfile().context("cannot create a temporary file for stdin")?;
        std::io::copy(&mut stdin.lock(), &mut spool).context("cannot read stdin")?;
        Ok(Input::Spooled(spool))
    }

    /// A fresh reader from the start.
    fn reader(&self) -> anyhow::Result<File> {
        match self {
            Input::File(path) => {
                File::open(path).with_context(|| format!("cannot open {}", path.display()))
            }
            Input::Spooled(file) => {
                let mut file = file
                    .try_clone()
                    .context("cannot reopen the spooled stdin")?;
                file.seek(SeekFrom::Start(0))
                    .context("cannot rewind the spooled stdin")?;
                Ok(file)
            }
        }
    }

    fn len(&self) -> u64 {
        let metadata = match self {
            Input::File(path) => std::fs::metadata(path),
            Input::Spooled(file) => file.metadata(),
        };
        metadata.map_or(0, |m| m.len())
    }
}

/// `import`.
pub(crate) async fn import(ops: &MissionOps, out: Output, args: ImportArgs) -> anyhow::Result<()> {
    let path = args.file.clone().filter(|p| p != Path::new("-"));
    let format = Format::choose(args.format, path.as_deref());
    if format == Format::Ccsds {
        return super::packets::import_ccsds(ops, out, args).await;
    }
    if args.spacecraft_id.is_some() {
        return Err(Error::invalid("spacecraftId", "is only read with --format ccsds").into());
    }
    let source = path
        .as_ref()
        .map_or_else(|| "stdin".to_owned(), |p| p.display().to_string());
    let input = Input::open(path.as_deref())?;

    // Pass 1: check every line, keeping nothing but counts, so that a bad line anywhere stops
    // the import before anything is written.
    let bar = progress::bar(input.len(), "bytes");
    bar.set_message("checking");
    let mut reader = SnapshotReader::new(format, input.reader()?)
        .with_context(|| format!("nothing was imported from {source}"))?;
    let mut report = ImportReport {
        source: source.clone(),
        format: format.as_str(),
        snapshots: 0,
        inserted: 0,
        duplicates: 0,
        skipped: 0,
        skipped_lines: Vec::new(),
    };
    let mut valid = 0u64;
    while let Some(item) = reader.next_item()? {
        match item.snapshot {
            Ok(_) => valid += 1,
            Err(reason) if args.skip_invalid => {
                report.skipped += 1;
                if report.skipped_lines.len() < MAX_REPORTED_SKIPS {
                    report.skipped_lines.push(SkippedLine {
                        line: item.line,
                        reason,
                    });
                }
            }
            Err(reason) => {
                bar.finish_and_clear();
                return Err(line_error(item.line, &reason))
                    .with_context(|| format!("nothing was imported from {source}"));
            }
        }
        if (valid + report.skipped) % 1024 == 0 {
            bar.set_position(reader.position());
        }
    }
    bar.finish_and_clear();

    // Pass 2: ingest the valid snapshots in batches.
    let bar = progress::bar(valid, "snapshots");
    bar.set_message("importing");
    let mut reader = SnapshotReader::new(format, input.reader()?)?;
    let mut batch: Vec<NewSnapshot> = Vec::with_capacity(IMPORT_BATCH);
    let mut lines = (0u64, 0u64);
    let mode = if args.live {
        IngestMode::Live
    } else {
        IngestMode::Stored
    };
    let result = async {
        while let Some(item) = reader.next_item()? {
            let Ok(snapshot) = item.snapshot else {
                continue;
            };
            if batch.is_empty() {
                lines.0 = item.line;
            }
            lines.1 = item.line;
            // A snapshot without an id gets its content-derived id at ingest, so that
            // importing the same file again stores nothing twice.
            batch.push(snapshot);
            if batch.len() == IMPORT_BATCH {
                ingest(ops, mode, &mut batch, lines, &mut report).await?;
                bar.set_position(report.snapshots);
            }
        }
        ingest(ops, mode, &mut batch, lines, &mut report).await
    }
    .await;
    bar.finish_and_clear();
    result.with_context(|| format!("importing {source}"))?;

    if out.is_json() {
        return out.json(&report);
    }
    for skipped in &report.skipped_lines {
        eprintln!("warning: skipped line {}: {}", skipped.line, skipped.reason);
    }
    let mut summary = format!(
        "Imported {} snapshots from {source} ({} new, {} already stored)",
        report.snapshots, report.inserted, report.duplicates
    );
    if report.skipped > 0 {
        summary.push_str(&format!("; skipped {} invalid lines", report.skipped));
        if report.skipped > report.skipped_lines.len() as u64 {
            summary.push_str(&format!(
                " (the first {} are listed above)",
                report.skipped_lines.len()
            ));
        }
    }
    out.line(summary)
}

/// Ingests and empties `batch` (lines `lines.0..=lines.1` of the input).
async fn ingest(
    ops: &MissionOps,
    mode: IngestMode,
    batch: &mut Vec<NewSnapshot>,
    lines: (u64, u64),
    report: &mut ImportReport,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let snapshots = std::mem::replace(batch, Vec::with_capacity(IMPORT_BATCH));
    let ingested = ops.ingest_bulk(snapshots, mode).await.with_context(|| {
        format!(
            "lines {} to {} were not imported ({} snapshots before them were)",
            lines.0, lines.1, report.snapshots
        )
    })?;
    report.snapshots += ingested.count as u64;
    report.inserted += ingested.outcome.inserted as u64;
    report.duplicates += ingested.outcome.duplicates as u64;
    Ok(())
}

/// Pages through a spacecraft's telemetry in time order, `EXPORT_PAGE` snapshots per query.
///
/// Each query starts at the last timestamp already returned, so snapshots sharing that
/// timestamp come back again; their ids are remembered and skipped. Memory holds one page plus
/// the ids at one timestamp.
struct Pager<'a> {
    ops: &'a MissionOps,
    spacecraft: &'a SpacecraftId,
    from: Timestamp,
    to: Timestamp,
    /// The ids already returned whose timestamp is `from`.
    seen_at_from: HashSet<SnapshotId>,
    done: bool,
}

impl<'a> Pager<'a> {
    fn new(
        ops: &'a MissionOps,
        spacecraft: &'a SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Self {
        Pager {
            ops,
            spacecraft,
            from,
            to,
            seen_at_from: HashSet::new(),
            done: false,
        }
    }

    /// The next snapshots, oldest first; empty at the end.
    async fn next_page(&mut self) -> anyhow::Result<Vec<TelemetrySnapshot>> {
        if self.done {
            return Ok(Vec::new());
        }
        // Asking for the repeated ones on top of a page means every full page has new ones,
        // however many snapshots share one timestamp.
        let max = EXPORT_PAGE + self.seen_at_from.len();
        let page = self
            .ops
            .telemetry_page(self.spacecraft, self.from, self.to, max)
            .await?;
        self.done = page.len() < max;
        let from = self.from;
        let fresh: Vec<TelemetrySnapshot> = page
            .into_iter()
            .filter(|s| !(s.timestamp == from && self.seen_at_from.contains(&s.id)))
            .collect();
        if let Some(last) = fresh.last().map(|s| s.timestamp) {
            if last != self.from {
                self.seen_at_from.clear();
                self.from = last;
            }
            self.seen_at_from.extend(
                fresh
                    .iter()
                    .filter(|s| s.timestamp == last)
                    .map(|s| s.id.clone()),
            );
        } else {
            self.done = true;
        }
        Ok(fresh)
    }
}

/// Where an export goes: stdout, or a temporary file beside `--output` that replaces it only
/// once the export is complete, so that a failed export never leaves a truncated file.
enum Sink {
    Stdout(BufWriter<std::io::Stdout>),
    File {
        writer: BufWriter<tempfile::NamedTempFile>,
        path: PathBuf,
    },
}

impl Sink {
    fn open(output: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = output else {
            return Ok(Sink::Stdout(BufWriter::with_capacity(
                256 * 1024,
                std::io::stdout(),
            )));
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut builder = tempfile::Builder::new();
        builder.prefix(".missionops-export-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // A temporary file is private by default; the export is an ordinary file.
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let temp = builder
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        Ok(Sink::File {
            writer: BufWriter::with_capacity(256 * 1024, temp),
            path: path.to_owned(),
        })
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            Sink::Stdout(mut writer) => Ok(writer.flush()?),
            Sink::File { writer, path } => {
                let temp = writer
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                temp.as_file()
                    .sync_all()
                    .with_context(|| format!("cannot write {}", path.display()))?;
                temp.persist(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Ok(())
            }
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Stdout(writer) => writer.write(buf),
            Sink::File { writer, .. } => writer.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Stdout(writer) => writer.write_all(buf),
            Sink::File { writer, .. } => writer.write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Stdout(writer) => writer.flush(),
            Sink::File { writer, .. } => writer.flush(),
        }
    }
}

/// `export`.
pub(crate) async fn export(ops: &MissionOps, out: Output, args: ExportArgs) -> anyhow::Result<()> {
    // An unknown spacecraft is a mistake worth an error, not an empty file.
    ops.get_spacecraft(&args.spacecraft_id).await?;
    let from = args.from.unwrap_or_else(start_of_time);
    let to = args.to.unwrap_or_else(end_of_time);
    AnalysisWindow::range(from, to)?;
    let format = Format::choose(args.format, args.output.as_deref());
    let mut sink = Sink::open(args.output.as_deref())?;
    let bar = progress::counter("snapshots");
    let spacecraft = &args.spacecraft_id;
    let mut count = 0u64;
    let mut lossy = 0u64;
    match format {
        Format::Ndjson => {
            bar.set_message("exporting");
            let mut pager = Pager::new(ops, spacecraft, from, to);
            loop {
                let page = pager.next_page().await?;
                if page.is_empty() {
                    break;
                }
                for snapshot in &page {
                    let mut line = missionops_core::json::to_vec_js(snapshot)?;
                    line.push(b'\n');
                    sink.write_all(&line)?;
                }
                count += page.len() as u64;
                bar.set_position(count);
            }
        }
        Format::Ccsds => {
            return Err(Error::invalid(
                "format",
                "ccsds is an import format; export writes ndjson or csv",
            )
            .into());
        }
        Format::Csv => {
            // The header needs every parameter name before the first row.
            bar.set_message("collecting columns");
            let mut columns = CsvColumns::default();
            let mut pager = Pager::new(ops, spacecraft, from, to);
            let mut seen = 0u64;
            loop {
                let page = pager.next_page().await?;
                if page.is_empty() {
                    break;
                }
                page.iter().for_each(|s| columns.observe(s));
                seen += page.len() as u64;
                bar.set_position(seen);
            }
            bar.set_message("exporting");
            bar.set_position(0);
            let mut writer = CsvSnapshotWriter::new(&mut sink, columns.names())?;
            let mut pager = Pager::new(ops, spacecraft, from, to);
            loop {
                let page = pager.next_page().await?;
                if page.is_empty() {
                    break;
                }
                for snapshot in &page {
                    writer.write(snapshot)?;
                }
                count += page.len() as u64;
                bar.set_position(count);
            }
            lossy = writer.lossy();
            writer.finish()?;
        }
    }
    bar.finish_and_clear();
    sink.finish()?;
    if lossy > 0 {
        eprintln!(
            "warning: {lossy} snapshots will not read back exactly from CSV (a string that is \
             empty or reads as a number or boolean, or parameters in another order than the \
             columns); use --format ndjson for an exact copy"
        );
    }
    if let Some(path) = &args.output {
        let path = path.display().to_string();
        out.either(
            &json!({"spacecraftId": spacecraft, "count": count, "format": format.as_str(), "output": path}),
            || format!("Exported {count} snapshots of {spacecraft} to {path}"),
        )?;
    }
    Ok(())
}
