//! Pages of telemetry as one text each, the form both durable backends hand a range read over
//! in, and their reading back into snapshots.
//!
//! A day at 1 Hz is 86,400 rows; handed over row by row, a driver's per-row work (a message, a
//! copy and an allocation per column) costs more than the database's. So the database joins a
//! page into one text: rows separated by U+001E, fields (id, time in epoch milliseconds,
//! arrival number, parameters as stored JSON text; or id and parameters, with the times and
//! arrival numbers beside the text, see [`PageTimes`]) by U+001F. Neither can occur in a row: ids
//! exclude control characters and the JSON writer escapes them inside strings. The text is
//! split here, and its parameters read with [`read_parameters_like`], which reuses the layout
//! of the row before instead of hashing every name again; [`read_page_off_thread`] does both
//! on the blocking pool, so that the runtime's threads go on meanwhile.

use std::ops::Range;

use missionops_core::{
    Error, LayoutInterner, Result, SnapshotId, SpacecraftId, TelemetrySnapshot, Timestamp,
};

use crate::json_text::read_parameters_like;

/// A stored row that cannot be turned back into a domain value: the database was written by
/// something else or is damaged. Reported, never panicked on.
pub(crate) fn corrupt(what: &str, id: &str, detail: impl std::fmt::Display) -> Error {
    Error::backend(format!(
        "the stored {what} '{id}' cannot be read back: {detail}"
    ))
}

/// A stored time in epoch milliseconds back as a [`Timestamp`].
pub(crate) fn stored_time(millis: i64, what: &str, id: &str) -> Result<Timestamp> {
    Timestamp::from_millis(millis).map_err(|e| corrupt(what, id, e))
}

/// Turns stored rows of one spacecraft back into snapshots.
pub(crate) struct SnapshotReader<'a> {
    spacecraft: &'a SpacecraftId,
    layouts: LayoutInterner,
}

impl<'a> SnapshotReader<'a> {
    pub(crate) fn new(spacecraft: &'a SpacecraftId) -> Self {
        SnapshotReader {
            spacecraft,
            layouts: LayoutInterner::new(),
        }
    }

    /// One row; `previous`, the snapshot read before it, lends its parameter names.
    pub(crate) fn read(
        &mut self,
        id: &str,
        ts: i64,
        parameters: &str,
        previous: Option<&TelemetrySnapshot>,
    ) -> Result<TelemetrySnapshot> {
        let what = "snapshot";
        let parameters = read_parameters_like(parameters, previous.map(|p| &p.parameters))
            .map_err(|e| corrupt(what, id, e))?;
        // A layout borrowed from the previous snapshot is shared already.
        let shared = previous.is_some_and(|p| p.parameters.layout().same_as(parameters.layout()));
        Ok(TelemetrySnapshot {
            id: SnapshotId::parse(id).map_err(|e| corrupt(what, id, e))?,
            spacecraft_id: self.spacecraft.clone(),
            timestamp: stored_time(ts, what, id)?,
            parameters: if shared {
                parameters
            } else {
                self.layouts.share(parameters)
            },
        })
    }
}

/// Separates the rows of a page of a range read.
const ROW_SEPARATOR: char = '\u{1e}';
/// Separates the fields of a row of a page.
const FIELD_SEPARATOR: char = '\u{1f}';

/// Where a row of a page is: the byte range of its id, its time, its arrival number and the
/// byte range of its parameters.
pub(crate) type RowSpan = (Range<usize>, i64, i64, Range<usize>);

/// Where the times and arrival numbers of a page's rows are.
#[derive(Debug)]
pub(crate) enum PageTimes {
    /// In the text: each row is id, time, arrival, parameters (how SQLite hands a page over).
    /// The count is the number of rows.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    InText(usize),
    /// Beside the text, one (time, arrival) per row in the text's order; each row of the text
    /// is id, parameters. PostgreSQL hands them over as binary arrays, which costs it less
    /// than writing each as text.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Beside(Vec<(i64, i64)>),
}

/// Splits a page into its rows, checking that there are as many as `times` says, and returns
/// them in (time, arrival) order, or the reverse with `newest_first`. Only the row headers
/// are read here; the parameters are parsed by [`parse_page`], off this thread for a range
/// read.
pub(crate) fn split_page(
    spacecraft: &SpacecraftId,
    text: &str,
    times: PageTimes,
    newest_first: bool,
) -> Result<Vec<RowSpan>> {
    let damaged = |detail: &str| {
        corrupt(
            "telemetry of spacecraft",
            spacecraft.as_str(),
            format!("a page of a range read is damaged: {detail}"),
        )
    };
    let (count, mut beside) = match times {
        PageTimes::InText(count) => (count, None),
        PageTimes::Beside(times) => (times.len(), Some(times.into_iter())),
    };
    let mut rows = Vec::with_capacity(count);
    let mut at = 0;
    for record in text.split(ROW_SEPARATOR) {
        let start = at;
        at += record.len() + ROW_SEPARATOR.len_utf8();
        let (id, ts, seq, parameters) = match beside.as_mut() {
            None => {
                let mut fields = record.splitn(4, FIELD_SEPARATOR);
                let (Some(id), Some(ts), Some(seq), Some(parameters)) =
                    (fields.next(), fields.next(), fields.next(), fields.next())
                else {
                    return Err(damaged("a row has too few fields"));
                };
                let ts = ts
                    .parse()
                    .map_err(|_| damaged("a time is not an integer"))?;
                let seq = seq
                    .parse()
                    .map_err(|_| damaged("an arrival number is not an integer"))?;
                (id, ts, seq, parameters)
            }
            Some(times) => {
                let Some((id, parameters)) = record.split_once(FIELD_SEPARATOR) else {
                    return Err(damaged("a row has too few fields"));
                };
                let Some((ts, seq)) = times.next() else {
                    return Err(damaged("more rows than times"));
                };
                (id, ts, seq, parameters)
            }
        };
        let parameters_at = start + record.len() - parameters.len();
        rows.push((
            start..start + id.len(),
            ts,
            seq,
            parameters_at..parameters_at + parameters.len(),
        ));
    }
    if rows.len() != count {
        return Err(damaged(&format!(
            "{} rows where {count} were counted",
            rows.len()
        )));
    }
    // The database joins the rows in the order its subquery yields them, which is the ORDER
    // BY order; neither SQLite's nor PostgreSQL's documentation promises it, so check, not
    // trust.
    if newest_first {
        if !rows.is_sorted_by(|a, b| (a.1, a.2) >= (b.1, b.2)) {
            rows.sort_by_key(|(_, ts, seq, _)| std::cmp::Reverse((*ts, *seq)));
        }
    } else if !rows.is_sorted_by_key(|(_, ts, seq, _)| (*ts, *seq)) {
        rows.sort_by_key(|(_, ts, seq, _)| (*ts, *seq));
    }
    Ok(rows)
}

/// Reads the rows of a page back into snapshots, in order.
pub(crate) fn parse_page(
    spacecraft: &SpacecraftId,
    text: &str,
    rows: Vec<RowSpan>,
) -> Result<Vec<TelemetrySnapshot>> {
    // A page's own copy of the id: its snapshots count references to it on this thread and
    // drop them on the consumer's, so sharing one with the pages being read meanwhile would
    // bounce that count between the cores.
    let own = SpacecraftId::parse(spacecraft.as_str())?;
    let mut reader = SnapshotReader::new(&own);
    let mut snapshots: Vec<TelemetrySnapshot> = Vec::with_capacity(rows.len());
    for (id, ts, _, parameters) in rows {
        let (Some(id), Some(parameters)) = (text.get(id), text.get(parameters)) else {
            return Err(corrupt(
                "telemetry of spacecraft",
                spacecraft.as_str(),
                "a row of a range read is out of its page",
            ));
        };
        let snapshot = reader.read(id, ts, parameters, snapshots.last())?;
        snapshots.push(snapshot);
    }
    Ok(snapshots)
}

/// Splits and reads a page, oldest first, on the blocking pool; returns its snapshots and the
/// (time, arrival) of its last row, the cursor after it.
pub(crate) async fn read_page_off_thread(
    spacecraft: &SpacecraftId,
    text: String,
    times: PageTimes,
) -> Result<(Vec<TelemetrySnapshot>, Option<(i64, i64)>)> {
    let spacecraft = spacecraft.clone();
    tokio::task::spawn_blocking(move || {
        let rows = split_page(&spacecraft, &text, times, false)?;
        let last = rows.last().map(|(_, ts, seq, _)| (*ts, *seq));
        Ok((parse_page(&spacecraft, &text, rows)?, last))
    })
    .await
    .map_err(Error::backend)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc() -> SpacecraftId {
        SpacecraftId::parse("SC-1").expect("id")
    }

    fn ids(text: &str, rows: &[RowSpan]) -> Vec<String> {
        rows.iter().map(|r| text[r.0.clone()].to_owned()).collect()
    }

    #[test]
    fn rows_with_times_in_the_text_come_back_in_time_order() {
        let text = "b\u{1f}2000\u{1f}5\u{1f}{\"t\":2}\u{1e}a\u{1f}1000\u{1f}9\u{1f}{\"t\":1}";
        let rows = split_page(&sc(), text, PageTimes::InText(2), false).expect("split");
        assert_eq!(ids(text, &rows), ["a", "b"]);
        assert_eq!(&text[rows[0].3.clone()], "{\"t\":1}");
        let newest = split_page(&sc(), text, PageTimes::InText(2), true).expect("split");
        assert_eq!(ids(text, &newest), ["b", "a"]);
        let snapshots = parse_page(&sc(), text, rows).expect("parse");
        assert_eq!(snapshots[0].timestamp.as_millis(), 1000);
        assert_eq!(snapshots[1].id.as_str(), "b");
    }

    #[test]
    fn rows_with_times_beside_the_text_take_them_in_order() {
        let text = "x\u{1f}{\"t\":1}\u{1e}y\u{1f}{\"t\":2}\u{1e}z\u{1f}{\"t\":3}";
        let times = vec![(2000, 1), (1000, 2), (2000, 0)];
        let rows = split_page(&sc(), text, PageTimes::Beside(times), false).expect("split");
        assert_eq!(ids(text, &rows), ["y", "z", "x"]);
        assert_eq!((rows[1].1, rows[1].2), (2000, 0));
        assert_eq!(&text[rows[2].3.clone()], "{\"t\":1}");
    }

    #[test]
    fn a_damaged_page_is_an_error_that_names_what_is_wrong() {
        let damaged = |text: &str, times: PageTimes| {
            split_page(&sc(), text, times, false)
                .expect_err("damaged")
                .to_string()
        };
        assert!(damaged("a\u{1f}1\u{1f}{}", PageTimes::InText(1)).contains("too few fields"));
        assert!(damaged("a\u{1f}x\u{1f}1\u{1f}{}", PageTimes::InText(1)).contains("time"));
        assert!(damaged("a\u{1f}1\u{1f}1\u{1f}{}", PageTimes::InText(2)).contains("counted"));
        assert!(
            damaged("a\u{1f}{}\u{1e}b\u{1f}{}", PageTimes::Beside(vec![(1, 1)]))
                .contains("more rows than times")
        );
        assert!(damaged("a\u{1f}{}", PageTimes::Beside(vec![(1, 1), (2, 2)])).contains("counted"));
        assert!(damaged("a{}", PageTimes::Beside(vec![(1, 1)])).contains("too few fields"));
    }
}
