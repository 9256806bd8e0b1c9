//! Telemetry files: NDJSON and CSV snapshots, read and written one at a time so that any amount
//! of telemetry moves in bounded memory.
//!
//! These are file formats, not domain rules: a line or row is parsed into the same
//! [`NewSnapshot`] the HTTP API accepts, and a stored [`TelemetrySnapshot`] is written as the
//! HTTP API renders it.
//!
//! [`TelemetrySnapshot`]: missionops_core::TelemetrySnapshot

mod csv_format;
mod ndjson;

use std::io::Read;
use std::path::Path;

use missionops_core::{Error, NewSnapshot};

use crate::args::Format;

pub(crate) use csv_format::{CsvColumns, CsvSnapshotWriter};

/// The longest line or row accepted, in bytes: far above the largest valid snapshot (1,000
/// parameters of 1 KiB strings). For NDJSON it also bounds the memory one bad line can take.
pub(crate) const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

impl Format {
    /// `explicit` when given, else CSV for a `.csv` file and NDJSON for anything else.
    pub(crate) fn choose(explicit: Option<Format>, path: Option<&Path>) -> Format {
        explicit.unwrap_or_else(|| {
            let csv = path
                .and_then(Path::extension)
                .is_some_and(|ext| ext.eq_ignore_ascii_case("csv"));
            if csv { Format::Csv } else { Format::Ndjson }
        })
    }

    /// The lower-case name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Ccsds => "ccsds",
        }
    }
}

/// One line (NDJSON) or row (CSV) of an input.
#[derive(Debug)]
pub(crate) struct Item {
    /// Its 1-based line number in the input.
    pub line: u64,
    /// The snapshot as given (one without an id gets its content-derived id at ingest, see
    /// [`MissionOps::ingest_bulk`]), or why the line is not a snapshot.
    ///
    /// [`MissionOps::ingest_bulk`]: missionops_core::MissionOps::ingest_bulk
    pub snapshot: Result<NewSnapshot, String>,
}

/// Reads snapshots from NDJSON or CSV, one at a time.
#[derive(Debug)]
pub(crate) enum SnapshotReader<R: Read> {
    /// One JSON snapshot per line.
    Ndjson(ndjson::NdjsonReader<R>),
    /// A header, then one snapshot per row.
    Csv(csv_format::CsvReader<R>),
}

impl<R: Read> SnapshotReader<R> {
    /// A reader of `format` over `input`. A CSV header that is not
    /// `id,spacecraftId,timestamp,<parameter>...` is an [`Error::Invalid`] naming line 1.
    pub(crate) fn new(format: Format, input: R) -> anyhow::Result<Self> {
        Ok(match format {
            Format::Ndjson => SnapshotReader::Ndjson(ndjson::NdjsonReader::new(input)),
            Format::Csv => SnapshotReader::Csv(csv_format::CsvReader::new(input)?),
            Format::Ccsds => {
                return Err(Error::invalid(
                    "format",
                    "ccsds is read as packets, not as snapshot lines",
                )
                .into());
            }
        })
    }

    /// The next line or row; `None` at the end. Errors are read failures only: a line that is
    /// not a snapshot is an [`Item`] with an error.
    pub(crate) fn next_item(&mut self) -> anyhow::Result<Option<Item>> {
        match self {
            SnapshotReader::Ndjson(reader) => reader.next_item(),
            SnapshotReader::Csv(reader) => reader.next_item(),
        }
    }

    /// How many bytes of the input have been consumed, for progress.
    pub(crate) fn position(&self) -> u64 {
        match self {
            SnapshotReader::Ndjson(reader) => reader.position(),
            SnapshotReader::Csv(reader) => reader.position(),
        }
    }
}

/// The error for line `line` of an input: `line 7: <reason>`.
pub(crate) fn line_error(line: u64, reason: &str) -> Error {
    Error::invalid(format!("line {line}"), reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_format_follows_the_extension_unless_given() {
        let path = |p: &str| PathBuf::from(p);
        assert_eq!(Format::choose(None, Some(&path("a.CSV"))), Format::Csv);
        assert_eq!(
            Format::choose(None, Some(&path("a.ndjson"))),
            Format::Ndjson
        );
        assert_eq!(Format::choose(None, Some(&path("a.txt"))), Format::Ndjson);
        assert_eq!(Format::choose(None, None), Format::Ndjson);
        assert_eq!(
            Format::choose(Some(Format::Csv), Some(&path("a.ndjson"))),
            Format::Csv
        );
    }
}
