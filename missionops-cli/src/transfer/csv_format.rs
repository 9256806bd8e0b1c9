//! CSV: header `id,spacecraftId,timestamp,<parameter>...`, one row per snapshot.
//!
//! An empty cell means the parameter is absent. Reading, a cell that parses as a finite number
//! is a number, `true`/`false` are booleans, anything else is a string; writing, numbers print
//! as JavaScript prints them (the shortest text that reads back to the same number).

use std::collections::HashMap;
use std::io::{Read, Write};

use missionops_core::{
    NewSnapshot, ParameterName, ParameterValue, Parameters, SnapshotId, SpacecraftId,
    TelemetrySnapshot, Timestamp,
};

use super::{Item, MAX_LINE_BYTES, line_error};

/// The columns before the parameters, in order.
const FIXED_COLUMNS: [&str; 3] = ["id", "spacecraftId", "timestamp"];

/// Reads CSV snapshots row by row.
pub(crate) struct CsvReader<R> {
    reader: csv::Reader<R>,
    /// The parameter of each column after the fixed ones.
    names: Vec<ParameterName>,
    /// The current row, reused from row to row.
    record: csv::ByteRecord,
}

impl<R> std::fmt::Debug for CsvReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvReader")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl<R: Read> CsvReader<R> {
    /// Reads and checks the header.
    pub(crate) fn new(input: R) -> anyhow::Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            // Rows of the wrong length are reported by line below, as any other bad row.
            .flexible(true)
            .from_reader(input);
        let header = reader.byte_headers()?.clone();
        let fields: Vec<&str> = header
            .iter()
            .map(std::str::from_utf8)
            .collect::<Result<_, _>>()
            .map_err(|_| line_error(1, "the header is not UTF-8"))?;
        if fields.len() < FIXED_COLUMNS.len() || fields[..3] != FIXED_COLUMNS {
            return Err(line_error(
                1,
                &format!(
                    "the header must start with {} (got {:?})",
                    FIXED_COLUMNS.join(","),
                    fields.iter().take(3).collect::<Vec<_>>()
                ),
            )
            .into());
        }
        let mut names: Vec<ParameterName> = Vec::with_capacity(fields.len() - 3);
        for field in &fields[3..] {
            let name = ParameterName::parse(*field)
                .map_err(|e| line_error(1, &format!("column {field:?}: {e}")))?;
            if names.contains(&name) {
                return Err(line_error(1, &format!("column {field:?} is given twice")).into());
            }
            names.push(name);
        }
        Ok(CsvReader {
            reader,
            names,
            record: csv::ByteRecord::new(),
        })
    }

    pub(crate) fn position(&self) -> u64 {
        self.reader.position().byte()
    }

    pub(crate) fn next_item(&mut self) -> anyhow::Result<Option<Item>> {
        if !self.reader.read_byte_record(&mut self.record)? {
            return Ok(None);
        }
        let line = self.record.position().map_or(0, csv::Position::line);
        let snapshot = self.snapshot();
        Ok(Some(Item { line, snapshot }))
    }

    fn snapshot(&self) -> Result<NewSnapshot, String> {
        let record = &self.record;
        if record.as_slice().len() > MAX_LINE_BYTES {
            return Err(format!("is longer than {MAX_LINE_BYTES} bytes"));
        }
        let expected = FIXED_COLUMNS.len() + self.names.len();
        if record.len() != expected {
            return Err(format!(
                "has {} fields where the header has {expected}",
                record.len()
            ));
        }
        let cell = |index: usize| -> Result<&str, String> {
            let bytes = record.get(index).unwrap_or_default();
            std::str::from_utf8(bytes).map_err(|_| format!("field {} is not UTF-8", index + 1))
        };
        let id = match cell(0)? {
            "" => None,
            text => Some(SnapshotId::parse(text).map_err(|e| e.to_string())?),
        };
        let spacecraft_id = SpacecraftId::parse(cell(1)?).map_err(|e| e.to_string())?;
        let timestamp = Timestamp::parse(cell(2)?).map_err(|e| e.to_string())?;
        let mut pairs = Vec::with_capacity(self.names.len());
        for (i, name) in self.names.iter().enumerate() {
            let text = cell(FIXED_COLUMNS.len() + i)?;
            if text.is_empty() {
                continue;
            }
            let value = read_value(text).map_err(|e| match e {
                missionops_core::Error::Invalid { reason, .. } => {
                    format!("parameters.{name}: {reason}")
                }
                other => other.to_string(),
            })?;
            pairs.push((name.clone(), value));
        }
        let parameters = Parameters::new(pairs).map_err(|e| e.to_string())?;
        Ok(NewSnapshot {
            id,
            spacecraft_id,
            timestamp,
            parameters,
        })
    }
}

/// A cell's value: a finite number, a boolean, or else a string.
fn read_value(text: &str) -> missionops_core::Result<ParameterValue> {
    match text {
        "true" => return Ok(ParameterValue::Bool(true)),
        "false" => return Ok(ParameterValue::Bool(false)),
        _ => {}
    }
    match text.parse::<f64>() {
        Ok(number) if number.is_finite() => Ok(ParameterValue::Number(number)),
        _ => ParameterValue::text(text),
    }
}

/// Whether a cell written for `value` reads back as the same value.
fn survives_csv(value: &ParameterValue) -> bool {
    match value {
        ParameterValue::Text(text) => {
            !text.is_empty() && matches!(read_value(text), Ok(ParameterValue::Text(_)))
        }
        ParameterValue::Number(_) | ParameterValue::Bool(_) => true,
    }
}

/// The union of the parameter names of many snapshots, in an order that keeps each snapshot's
/// own order wherever the snapshots agree: a new name goes right after the name that precedes
/// it in the snapshot where it first appears.
#[derive(Debug, Default)]
pub(crate) struct CsvColumns {
    names: Vec<ParameterName>,
    /// The names of the last snapshot observed, to skip the common case of a repeated layout.
    last: Vec<ParameterName>,
}

impl CsvColumns {
    /// Takes the names of `snapshot` into the union.
    pub(crate) fn observe(&mut self, snapshot: &TelemetrySnapshot) {
        let names = snapshot.parameters.names();
        if names == self.last.as_slice() {
            return;
        }
        let mut after: Option<usize> = None;
        for name in names {
            match self.names.iter().position(|n| n == name) {
                Some(index) => after = Some(index),
                None => {
                    let index = after.map_or(0, |i| i + 1);
                    self.names.insert(index, name.clone());
                    after = Some(index);
                }
            }
        }
        self.last = names.to_vec();
    }

    /// The parameter columns, in order.
    pub(crate) fn names(&self) -> &[ParameterName] {
        &self.names
    }
}

/// Writes snapshots as CSV rows under a fixed set of parameter columns.
pub(crate) struct CsvSnapshotWriter<W: Write> {
    writer: csv::Writer<W>,
    /// Column index of each parameter name.
    index: HashMap<ParameterName, usize>,
    /// The cells of the current row, reused from row to row.
    row: Vec<Option<String>>,
    /// Snapshots whose CSV row does not read back exactly (see [`CsvSnapshotWriter::lossy`]).
    lossy: u64,
}

impl<W: Write> std::fmt::Debug for CsvSnapshotWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSnapshotWriter")
            .field("columns", &self.row.len())
            .field("lossy", &self.lossy)
            .finish_non_exhaustive()
    }
}

impl<W: Write> CsvSnapshotWriter<W> {
    /// Writes the header for `columns` to `output`.
    pub(crate) fn new(output: W, columns: &[ParameterName]) -> anyhow::Result<Self> {
        let mut writer = csv::WriterBuilder::new().from_writer(output);
        let header = FIXED_COLUMNS
            .iter()
            .copied()
            .chain(columns.iter().map(ParameterName::as_str));
        writer.write_record(header)?;
        Ok(CsvSnapshotWriter {
            writer,
            index: columns
                .iter()
                .enumerate()
                .map(|(i, name)| (name.clone(), i))
                .collect(),
            row: vec![None; columns.len()],
            lossy: 0,
        })
    }

    /// Writes one snapshot; a parameter missing from the columns is an error (the columns come
    /// from a first pass over the same snapshots).
    pub(crate) fn write(&mut self, snapshot: &TelemetrySnapshot) -> anyhow::Result<()> {
        self.row.iter_mut().for_each(|cell| *cell = None);
        let mut exact = true;
        let mut previous: Option<usize> = None;
        for (name, value) in snapshot.parameters.iter() {
            let Some(&index) = self.index.get(name) else {
                anyhow::bail!(
                    "snapshot {} has parameter {name} that appeared during the export; run it again",
                    snapshot.id
                );
            };
            exact &= survives_csv(value) && previous.is_none_or(|p| p < index);
            previous = Some(index);
            self.row[index] = Some(value.to_string());
        }
        if !exact {
            self.lossy += 1;
        }
        self.writer.write_field(snapshot.id.as_str())?;
        self.writer.write_field(snapshot.spacecraft_id.as_str())?;
        self.writer.write_field(snapshot.timestamp.to_string())?;
        for cell in &self.row {
            self.writer.write_field(cell.as_deref().unwrap_or(""))?;
        }
        self.writer.write_record(None::<&[u8]>)?;
        Ok(())
    }

    /// How many snapshots written so far will not read back exactly: a string that is empty or
    /// reads as a number or boolean, or parameters in another order than the columns.
    pub(crate) fn lossy(&self) -> u64 {
        self.lossy
    }

    /// Flushes and returns the output.
    pub(crate) fn finish(self) -> anyhow::Result<W> {
        self.writer
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write CSV: {}", e.error()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snapshot(id: &str, parameters: serde_json::Value) -> TelemetrySnapshot {
        serde_json::from_value(json!({
            "id": id, "spacecraftId": "SC-1", "timestamp": "2025-01-01T00:00:00Z",
            "parameters": parameters,
        }))
        .expect("snapshot")
    }

    fn read_all(text: &str) -> Vec<Item> {
        let mut reader = CsvReader::new(text.as_bytes()).expect("header");
        let mut items = Vec::new();
        while let Some(item) = reader.next_item().expect("read") {
            items.push(item);
        }
        items
    }

    #[test]
    fn cells_read_as_numbers_booleans_or_strings_and_empty_cells_are_absent() {
        let items = read_all(
            "id,spacecraftId,timestamp,a,b,c,d,e\n\
             s1,SC-1,2025-01-01T00:00:00Z,1e+21,true,CRUISE,,-0.5\n",
        );
        let snapshot = items[0].snapshot.as_ref().expect("valid");
        assert_eq!(
            serde_json::to_value(&snapshot.parameters).expect("json"),
            json!({"a": 1e21, "b": true, "c": "CRUISE", "e": -0.5})
        );
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let items = read_all(
            "id,spacecraftId,timestamp,t\n\
             s1,SC-1,2025-01-01T00:00:00Z,1\n\
             s2,SC-1,yesterday,2\n\
             s3,SC-1\n",
        );
        assert!(items[0].snapshot.is_ok());
        assert_eq!(items[1].line, 3);
        assert!(
            items[1]
                .snapshot
                .as_ref()
                .is_err_and(|r| r.starts_with("timestamp:"))
        );
        assert_eq!(items[2].line, 4);
        assert!(
            items[2]
                .snapshot
                .as_ref()
                .is_err_and(|r| r.contains("2 fields"))
        );
    }

    #[test]
    fn a_header_without_the_fixed_columns_is_refused_naming_line_1() {
        let err = CsvReader::new("time,temp\n".as_bytes()).expect_err("bad header");
        assert!(
            err.to_string()
                .starts_with("line 1: the header must start with"),
            "{err}"
        );
        let err = CsvReader::new("id,spacecraftId,timestamp,t,t\n".as_bytes()).expect_err("dup");
        assert!(err.to_string().contains("given twice"), "{err}");
    }

    #[test]
    fn columns_keep_each_snapshots_order_where_they_agree() {
        let mut columns = CsvColumns::default();
        columns.observe(&snapshot("1", json!({"b": 1, "d": 1})));
        columns.observe(&snapshot("2", json!({"a": 1, "b": 1, "c": 1, "d": 1})));
        columns.observe(&snapshot("3", json!({"d": 1, "e": 1})));
        let names: Vec<&str> = columns.names().iter().map(ParameterName::as_str).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn rows_round_trip_and_lossy_values_are_counted() {
        let exact = snapshot("1", json!({"n": 0.1, "s": "CRUISE", "f": false}));
        let lossy = snapshot("2", json!({"n": 2, "s": "42"}));
        let mut columns = CsvColumns::default();
        columns.observe(&exact);
        columns.observe(&lossy);
        let mut writer = CsvSnapshotWriter::new(Vec::new(), columns.names()).expect("header");
        writer.write(&exact).expect("row");
        writer.write(&lossy).expect("row");
        assert_eq!(writer.lossy(), 1);
        let bytes = writer.finish().expect("flush");
        let text = String::from_utf8(bytes).expect("utf8");
        assert_eq!(
            text,
            "id,spacecraftId,timestamp,n,s,f\n\
             1,SC-1,2025-01-01T00:00:00.000Z,0.1,CRUISE,false\n\
             2,SC-1,2025-01-01T00:00:00.000Z,2,42,\n"
        );
        let items = read_all(&text);
        let read = items[0].snapshot.as_ref().expect("valid");
        assert_eq!(read.parameters, exact.parameters);
    }
}
