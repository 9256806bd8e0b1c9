//! How domain values travel to and from Postgres.
//!
//! Times are bound as `timestamptz` in Postgres's binary format (microseconds since
//! 2000-01-01), converted exactly from and to [`Timestamp`]'s milliseconds, so no value goes
//! through floating point or text. JSON documents are sent and read as their exact text.
//! Everything read back is parsed into domain types again; stored data that does not parse is a
//! backend error, never a panic.

use std::fmt;

use missionops_core::{Error, JsonObject, ParameterValue, Parameters, Result, Timestamp};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{
    PgArgumentBuffer, PgHasArrayType, PgRow, PgTypeInfo, PgValueFormat, PgValueRef, Postgres,
};
use sqlx::{Decode, Encode, Row, Type};

use super::db;

/// Milliseconds from the Unix epoch to the Postgres epoch, 2000-01-01T00:00:00Z.
const POSTGRES_EPOCH_MILLIS: i64 = 946_684_800_000;
/// The built-in type `timestamptz` and its array.
const TIMESTAMPTZ_OID: Oid = Oid(1184);
const TIMESTAMPTZ_ARRAY_OID: Oid = Oid(1185);

/// A [`Timestamp`] as a Postgres `timestamptz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct PgTime(pub(super) Timestamp);

impl Type<Postgres> for PgTime {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(TIMESTAMPTZ_OID)
    }
}

impl PgHasArrayType for PgTime {
    fn array_type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(TIMESTAMPTZ_ARRAY_OID)
    }
}

impl Encode<'_, Postgres> for PgTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // Timestamps hold years 0–9999, so neither operation can overflow; check anyway.
        let micros = self
            .0
            .as_millis()
            .checked_sub(POSTGRES_EPOCH_MILLIS)
            .and_then(|ms| ms.checked_mul(1000))
            .ok_or("timestamp out of range for timestamptz")?;
        <i64 as Encode<'_, Postgres>>::encode(micros, buf)
    }

    fn size_hint(&self) -> usize {
        std::mem::size_of::<i64>()
    }
}

impl<'r> Decode<'r, Postgres> for PgTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.format() != PgValueFormat::Binary {
            return Err("timestamptz values are read in binary format only".into());
        }
        let micros = <i64 as Decode<'r, Postgres>>::decode(value)?;
        Ok(PgTime(Timestamp::from_millis(millis_of(micros)?)?))
    }
}

/// A `timestamptz`'s microseconds since 2000 as epoch milliseconds. Sub-millisecond digits
/// (written by hand, not by this store) are dropped toward the past, as `Timestamp` does when
/// parsing; ±infinity falls out of range.
fn millis_of(micros: i64) -> Result<i64, BoxDynError> {
    Ok(micros
        .div_euclid(1000)
        .checked_add(POSTGRES_EPOCH_MILLIS)
        .ok_or("timestamptz out of range")?)
}

/// `COPY … TO STDOUT (FORMAT binary)` of a page's rows (id, ts, arrival, parameters): the ids
/// and parameters as one text, as `text_pages` reads it (each row's id, a unit separator, its
/// parameters; rows apart by record separators), and each row's (epoch milliseconds, arrival);
/// `None` when it holds no row. The format: a signature, flags and a header extension, then per
/// row a column count and each column's length and bytes (`timestamptz` and `int8` eight bytes
/// big-endian, `text` and `json` their text), ended by a count of -1.
pub(super) fn copied_page(bytes: &[u8]) -> Result<Option<CopiedPage>, BoxDynError> {
    let mut copy = CopyReader::default();
    let mut page = PageText::default();
    let mut at = 0;
    loop {
        match copy.step(&bytes[at..])? {
            Step::Skipped(len) => at += len,
            Step::Row(len, row) => {
                page.push(&row)?;
                at += len;
            }
            Step::Ended(len) => {
                at += len;
                break;
            }
            Step::More => {
                return Err(format!("binary data of {} bytes ends early", bytes.len()).into());
            }
        }
    }
    let left = bytes.len() - at;
    if left != 0 {
        return Err(format!("a binary COPY has {left} bytes after its end").into());
    }
    page.finish()
}

/// A page's rows as [`copied_page`] reads them.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CopiedPage {
    pub(super) text: String,
    pub(super) times: Vec<(i64, i64)>,
}

/// A page's rows being gathered from a binary COPY into [`CopiedPage`]'s form.
#[derive(Debug, Default)]
pub(super) struct PageText {
    text: Vec<u8>,
    times: Vec<(i64, i64)>,
}

impl PageText {
    /// Adds `row` after the rows before it.
    pub(super) fn push(&mut self, row: &CopiedRow<'_>) -> Result<(), BoxDynError> {
        if !self.times.is_empty() {
            self.text.push(0x1e);
        }
        self.text.extend_from_slice(row.id);
        self.text.push(0x1f);
        self.text.extend_from_slice(row.parameters);
        self.times.push((millis_of(row.micros)?, row.arrival));
        Ok(())
    }

    /// Rows gathered.
    pub(super) fn len(&self) -> usize {
        self.times.len()
    }

    /// The last row's (epoch milliseconds, arrival).
    pub(super) fn last(&self) -> Option<(i64, i64)> {
        self.times.last().copied()
    }

    /// The page, `None` when it holds no row; its text must be UTF-8.
    pub(super) fn finish(self) -> Result<Option<CopiedPage>, BoxDynError> {
        if self.times.is_empty() {
            return Ok(None);
        }
        Ok(Some(CopiedPage {
            text: String::from_utf8(self.text)?,
            times: self.times,
        }))
    }
}

/// One row of a binary COPY of (id, ts, arrival, parameters), its text columns as copied.
#[derive(Debug)]
pub(super) struct CopiedRow<'a> {
    id: &'a [u8],
    micros: i64,
    arrival: i64,
    parameters: &'a [u8],
}

impl CopiedRow<'_> {
    /// The row's (epoch milliseconds, arrival).
    pub(super) fn key(&self) -> Result<(i64, i64), BoxDynError> {
        Ok((millis_of(self.micros)?, self.arrival))
    }
}

/// What the next bytes of a binary COPY hold ([`CopyReader::step`]).
#[derive(Debug)]
pub(super) enum Step<'a> {
    /// The header, this many bytes, read.
    Skipped(usize),
    /// A row, this many bytes.
    Row(usize, CopiedRow<'a>),
    /// The end mark, this many bytes: nothing may follow.
    Ended(usize),
    /// The bytes end inside the header or a row: more are needed.
    More,
}

/// Reads a binary COPY of (id, ts, arrival, parameters) step by step, whether it is whole
/// ([`copied_page`]) or arriving in pieces (a window read as one stream): each step reads the
/// header, one row or the end mark from the front of the bytes not read yet, or asks for more.
#[derive(Debug, Default)]
pub(super) struct CopyReader {
    started: bool,
    ended: bool,
}

impl CopyReader {
    /// The next step from `bytes`, the bytes after the ones the steps before took.
    pub(super) fn step<'a>(&mut self, bytes: &'a [u8]) -> Result<Step<'a>, BoxDynError> {
        if self.ended {
            return Err(format!("a binary COPY has {} bytes after its end", bytes.len()).into());
        }
        if !self.started {
            const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
            let signed = bytes.len().min(SIGNATURE.len());
            if bytes[..signed] != SIGNATURE[..signed] {
                return Err("not a binary COPY".into());
            }
            let Some(extension) = bytes.get(15..19) else {
                return Ok(Step::More);
            };
            let extension = i32::from_be_bytes(extension.try_into()?);
            let extension =
                usize::try_from(extension).map_err(|_| "a negative header extension")?;
            let len = 19 + extension;
            if bytes.len() < len {
                return Ok(Step::More);
            }
            self.started = true;
            return Ok(Step::Skipped(len));
        }
        let Some(count) = bytes.get(..2) else {
            return Ok(Step::More);
        };
        match i16::from_be_bytes(count.try_into()?) {
            -1 => {
                self.ended = true;
                return Ok(Step::Ended(2));
            }
            4 => {}
            other => return Err(format!("a copied row of {other} columns, not 4").into()),
        }
        // The row's length, once its four column lengths and their bytes are all here.
        let mut len = 2;
        for index in 0..4 {
            let Some(column) = bytes.get(len..len + 4) else {
                return Ok(Step::More);
            };
            let column = i32::from_be_bytes(column.try_into()?);
            let column = usize::try_from(column).map_err(|_| "a copied column is null")?;
            // The time and the arrival number are eight bytes each.
            if (index == 1 || index == 2) && column != 8 {
                return Err(format!("a copied column of {column} bytes, not 8").into());
            }
            len = len
                .checked_add(4 + column)
                .ok_or("a copied column longer than memory")?;
            if bytes.len() < len {
                return Ok(Step::More);
            }
        }
        let mut row = BinaryReader {
            bytes: &bytes[..len],
            at: 2,
        };
        let copied = CopiedRow {
            id: row.column()?,
            micros: row.eight_bytes()?,
            arrival: row.eight_bytes()?,
            parameters: row.column()?,
        };
        Ok(Step::Row(len, copied))
    }
}

/// A binary COPY read as its bytes arrive, in pieces cut anywhere: its rows one by one.
#[derive(Debug, Default)]
pub(super) struct CopyStream {
    reader: CopyReader,
    bytes: Vec<u8>,
    /// Where the bytes not read yet begin.
    at: usize,
}

impl CopyStream {
    /// Adds the next piece of the stream.
    pub(super) fn push(&mut self, piece: &[u8]) {
        self.bytes.drain(..self.at);
        self.at = 0;
        self.bytes.extend_from_slice(piece);
    }

    /// The next whole row of the pieces pushed so far; `None` until more are pushed, and after
    /// the end mark.
    pub(super) fn next_row(&mut self) -> Result<Option<CopiedRow<'_>>, BoxDynError> {
        loop {
            if self.reader.ended {
                return Ok(None);
            }
            match self.reader.step(&self.bytes[self.at..])? {
                Step::Skipped(len) | Step::Ended(len) => self.at += len,
                Step::Row(len, row) => {
                    self.at += len;
                    return Ok(Some(row));
                }
                Step::More => return Ok(None),
            }
        }
    }

    /// Checks that the stream ended with its end mark and nothing after it.
    pub(super) fn finish(&self) -> Result<(), BoxDynError> {
        if !self.reader.ended {
            return Err(format!(
                "the stream ended inside {}",
                if self.reader.started {
                    "a row"
                } else {
                    "its header"
                }
            )
            .into());
        }
        match self.bytes.len() - self.at {
            0 => Ok(()),
            left => Err(format!("a binary COPY has {left} bytes after its end").into()),
        }
    }
}

/// Binary data from PostgreSQL being read, front to back.
struct BinaryReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> BinaryReader<'a> {
    fn slice(&mut self, len: usize) -> Result<&'a [u8], BoxDynError> {
        let taken = self
            .at
            .checked_add(len)
            .and_then(|end| self.bytes.get(self.at..end))
            .ok_or_else(|| format!("binary data of {} bytes ends early", self.bytes.len()))?;
        self.at += len;
        Ok(taken)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], BoxDynError> {
        Ok(self.slice(N)?.try_into()?)
    }

    fn int4(&mut self) -> Result<i32, BoxDynError> {
        Ok(i32::from_be_bytes(self.take::<4>()?))
    }

    /// A column's bytes; none of a page's columns may be null.
    fn column(&mut self) -> Result<&'a [u8], BoxDynError> {
        let len = self.int4()?;
        let len = usize::try_from(len).map_err(|_| "a copied column is null")?;
        self.slice(len)
    }

    /// An eight-byte column (`int8`, `timestamptz`).
    fn eight_bytes(&mut self) -> Result<i64, BoxDynError> {
        let column = self.column()?;
        let bytes: [u8; 8] = column
            .try_into()
            .map_err(|_| format!("a copied column of {} bytes, not 8", column.len()))?;
        Ok(i64::from_be_bytes(bytes))
    }
}

/// Compact JSON text of a document (keys in their order; numbers as `serde_json` writes them,
/// which parse back to the same values).
pub(super) fn object_text(value: &JsonObject) -> Result<String> {
    serde_json::to_string(value).map_err(crate::unavailable::backend_error)
}

/// Compact JSON text of a snapshot's parameters, in their order.
pub(super) fn parameters_text(value: &Parameters) -> Result<String> {
    serde_json::to_string(value).map_err(crate::unavailable::backend_error)
}

/// JSON text of one parameter value: a number, a string or a boolean.
pub(super) fn value_text(value: &ParameterValue) -> Result<String> {
    serde_json::to_string(value).map_err(crate::unavailable::backend_error)
}

/// Parses a stored document, naming `what` when it is not a JSON object.
pub(super) fn parse_object(what: &str, text: &str) -> Result<JsonObject> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

/// Parses stored parameters.
pub(super) fn parse_parameters(what: &str, text: &str) -> Result<Parameters> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

/// Parses a stored parameter value.
pub(super) fn parse_value(what: &str, text: &str) -> Result<ParameterValue> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

/// A stored value that does not parse: the database holds something this store never writes.
pub(super) fn corrupt(what: &str, reason: impl fmt::Display) -> Error {
    Error::backend(format!("stored {what} is not valid: {reason}"))
}

/// Turns the domain's validation error for a stored value into a backend error.
pub(super) fn stored<T>(what: &str, parsed: Result<T>) -> Result<T> {
    parsed.map_err(|e| corrupt(what, e))
}

/// Column `name` of `row`.
pub(super) fn get<'r, T>(row: &'r PgRow, name: &str) -> Result<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(name).map_err(db)
}

/// A time column of `row`.
pub(super) fn time(row: &PgRow, name: &str) -> Result<Timestamp> {
    Ok(get::<PgTime>(row, name)?.0)
}

/// A nullable time column of `row`.
pub(super) fn opt_time(row: &PgRow, name: &str) -> Result<Option<Timestamp>> {
    Ok(get::<Option<PgTime>>(row, name)?.map(|t| t.0))
}

/// `value` as a `bigint` column, which holds the `u64` counts of the domain up to `i64::MAX`.
pub(super) fn u64_to_i64(what: &str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::invalid(what, "is too large to store"))
}

/// A `bigint` column that holds a `u64` of the domain.
pub(super) fn u64_column(row: &PgRow, name: &str) -> Result<u64> {
    let value: i64 = get(row, name)?;
    u64::try_from(value).map_err(|_| corrupt(name, format!("{value} is negative")))
}

/// A version (`u32` in the domain) as an `integer` column.
pub(super) fn version_to_i32(value: u32) -> Result<i32> {
    i32::try_from(value).map_err(|_| Error::invalid("version", "is too large to store"))
}

/// An `integer` column that holds a version.
pub(super) fn version_column(row: &PgRow, name: &str) -> Result<u32> {
    let value: i32 = get(row, name)?;
    u32::try_from(value).map_err(|_| corrupt(name, format!("{value} is negative")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(t: Timestamp) -> Timestamp {
        let mut buf = PgArgumentBuffer::default();
        let _ = PgTime(t).encode_by_ref(&mut buf).expect("encode");
        let bytes: [u8; 8] = buf[..].try_into().expect("eight bytes");
        let micros = i64::from_be_bytes(bytes);
        let millis = micros.div_euclid(1000) + POSTGRES_EPOCH_MILLIS;
        Timestamp::from_millis(millis).expect("in range")
    }

    /// The bytes of `COPY … TO STDOUT (FORMAT binary)` of `rows` (id, microseconds since 2000,
    /// arrival, parameters).
    fn copy_bytes(rows: &[(&str, i64, i64, &str)]) -> Vec<u8> {
        let mut bytes = b"PGCOPY\n\xff\r\n\0".to_vec();
        bytes.extend(0_i32.to_be_bytes());
        bytes.extend(0_i32.to_be_bytes());
        let text = |bytes: &mut Vec<u8>, text: &str| {
            bytes.extend(i32::try_from(text.len()).expect("short").to_be_bytes());
            bytes.extend(text.as_bytes());
        };
        for (id, micros, arrival, parameters) in rows {
            bytes.extend(4_i16.to_be_bytes());
            text(&mut bytes, id);
            for word in [micros, arrival] {
                bytes.extend(8_i32.to_be_bytes());
                bytes.extend(word.to_be_bytes());
            }
            text(&mut bytes, parameters);
        }
        bytes.extend((-1_i16).to_be_bytes());
        bytes
    }

    #[test]
    fn copied_pages_are_read_and_damage_is_named() {
        let bytes = copy_bytes(&[
            ("a1", 1_000, 5, r#"{"temp":1}"#),
            ("é2", -1_000, 1 << 40, r#"{"mode":"SAFE"}"#),
        ]);
        assert_eq!(
            copied_page(&bytes).expect("read"),
            Some(CopiedPage {
                text: "a1\u{1f}{\"temp\":1}\u{1e}é2\u{1f}{\"mode\":\"SAFE\"}".to_owned(),
                times: vec![
                    (POSTGRES_EPOCH_MILLIS + 1, 5),
                    (POSTGRES_EPOCH_MILLIS - 1, 1 << 40)
                ],
            })
        );
        assert_eq!(copied_page(&copy_bytes(&[])).expect("empty"), None);
        let refused = |bytes: &[u8]| copied_page(bytes).expect_err("refused").to_string();
        assert!(refused(&bytes[..bytes.len() - 1]).contains("ends early"));
        assert!(refused(&bytes[..5]).contains("ends early"));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(refused(&longer).contains("1 bytes after its end"));
        let mut signature = bytes.clone();
        signature[0] = b'X';
        assert!(refused(&signature).contains("not a binary COPY"));
        // The first row's column count, then its id's length.
        let mut three_columns = bytes.clone();
        three_columns[19..21].copy_from_slice(&3_i16.to_be_bytes());
        assert!(refused(&three_columns).contains("3 columns, not 4"));
        let mut null = bytes.clone();
        null[21..25].copy_from_slice(&(-1_i32).to_be_bytes());
        assert!(refused(&null).contains("null"));
        let mut claims_more = bytes.clone();
        claims_more[21..25].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(refused(&claims_more).contains("ends early"));
        // The first row's time, four bytes instead of eight.
        let mut short_time = copy_bytes(&[("a1", 1_000, 5, "{}")]);
        short_time[27..31].copy_from_slice(&4_i32.to_be_bytes());
        assert!(refused(&short_time).contains("4 bytes, not 8"));
        let not_utf8 = copy_bytes(&[("a1", 1_000, 5, "{}")]);
        let mut not_utf8 = not_utf8;
        not_utf8[25] = 0xff;
        assert!(copied_page(&not_utf8).is_err());
    }

    /// Every row a stream gives, pushed in `pieces` of the given lengths (the last takes the
    /// rest), as a page; or the first failure, of a row or of the end.
    fn streamed(bytes: &[u8], pieces: &[usize]) -> Result<Option<CopiedPage>, String> {
        let mut stream = CopyStream::default();
        let mut page = PageText::default();
        let mut rest = bytes;
        for (n, len) in pieces
            .iter()
            .chain(std::iter::once(&usize::MAX))
            .enumerate()
        {
            let (piece, after) = rest.split_at((*len).min(rest.len()));
            rest = after;
            stream.push(piece);
            while let Some(row) = stream.next_row().map_err(|e| e.to_string())? {
                page.push(&row).map_err(|e| e.to_string())?;
                assert_eq!(row.key().expect("key"), page.last().expect("a row"));
            }
            if rest.is_empty() && n + 1 >= pieces.len() {
                break;
            }
        }
        stream.finish().map_err(|e| e.to_string())?;
        page.finish().map_err(|e| e.to_string())
    }

    /// A stream cut into pieces anywhere (between rows, inside the header, a length or a
    /// column, one byte at a time) gives the rows the whole COPY gives, and names damage the
    /// same way: a stream that ends early, bytes after the end mark, a row of other columns.
    #[test]
    fn a_copy_streamed_in_pieces_reads_as_the_whole() {
        let bytes = copy_bytes(&[
            ("a1", 1_000, 5, r#"{"temp":1}"#),
            ("é2", -1_000, 1 << 40, r#"{"mode":"SAFE"}"#),
            ("a3", 3_000, 6, "{}"),
        ]);
        let whole = copied_page(&bytes).expect("read");
        assert_eq!(streamed(&bytes, &[]), Ok(whole.clone()));
        for cut in 0..=bytes.len() {
            assert_eq!(streamed(&bytes, &[cut]), Ok(whole.clone()), "cut at {cut}");
        }
        for cuts in [[1, 1, 1], [7, 13, 2], [19, 31, 1], [20, 0, 5]] {
            assert_eq!(streamed(&bytes, &cuts), Ok(whole.clone()), "{cuts:?}");
        }
        let ones = vec![1; bytes.len()];
        assert_eq!(streamed(&bytes, &ones), Ok(whole));
        assert_eq!(streamed(&copy_bytes(&[]), &[3]), Ok(None));

        let early = streamed(&bytes[..bytes.len() - 1], &[40]).expect_err("ends early");
        assert!(early.contains("ended inside a row"), "{early}");
        let header = streamed(&bytes[..12], &[5]).expect_err("ends early");
        assert!(header.contains("ended inside its header"), "{header}");
        let mut longer = bytes.clone();
        longer.extend([0, 0]);
        let after = streamed(&longer, &[30]).expect_err("bytes after the end");
        assert!(after.contains("2 bytes after its end"), "{after}");
        let mut three_columns = bytes.clone();
        three_columns[19..21].copy_from_slice(&3_i16.to_be_bytes());
        let columns = streamed(&three_columns, &[20]).expect_err("three columns");
        assert!(columns.contains("3 columns, not 4"), "{columns}");
        let mut signature = bytes;
        signature[3] = b'X';
        let wrong = streamed(&signature, &[2]).expect_err("not a COPY");
        assert!(wrong.contains("not a binary COPY"), "{wrong}");
    }

    #[test]
    fn times_are_encoded_as_microseconds_since_2000() {
        let t = Timestamp::parse("2000-01-01T00:00:00.001Z").expect("time");
        let mut buf = PgArgumentBuffer::default();
        let _ = PgTime(t).encode_by_ref(&mut buf).expect("encode");
        assert_eq!(&buf[..], &1000_i64.to_be_bytes());
    }

    #[test]
    fn times_round_trip_across_the_whole_range() {
        for text in [
            "0000-01-01T00:00:00.000Z",
            "1969-12-31T23:59:59.999Z",
            "2025-06-01T00:00:00.123Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            let t = Timestamp::parse(text).expect("time");
            assert_eq!(round_trip(t), t, "{text}");
        }
    }
}
