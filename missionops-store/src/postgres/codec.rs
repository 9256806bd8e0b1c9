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

/// The built-in type `int8` and its array.
const INT8_OID: Oid = Oid(20);
const INT8_ARRAY_OID: Oid = Oid(1016);

/// A `timestamptz[]` with no nulls, as epoch milliseconds (see [`millis_of`]); not checked
/// to be [`Timestamp`]s. Read straight from the binary array: sqlx's `Vec<T>` goes through a
/// value reference and a decode call per element, 7 % of this process's CPU in a
/// 100,000-snapshot analysis (a page's times and arrival numbers).
pub(super) struct PgMillisArray(pub(super) Vec<i64>);

/// An `int8[]` with no nulls, read as [`PgMillisArray`] is.
pub(super) struct PgInt8Array(pub(super) Vec<i64>);

impl Type<Postgres> for PgMillisArray {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(TIMESTAMPTZ_ARRAY_OID)
    }
}

impl Type<Postgres> for PgInt8Array {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(INT8_ARRAY_OID)
    }
}

impl<'r> Decode<'r, Postgres> for PgMillisArray {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let micros = eight_byte_elements(binary(value)?, TIMESTAMPTZ_OID)?;
        Ok(PgMillisArray(
            micros
                .into_iter()
                .map(millis_of)
                .collect::<Result<_, _>>()?,
        ))
    }
}

impl<'r> Decode<'r, Postgres> for PgInt8Array {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(PgInt8Array(eight_byte_elements(binary(value)?, INT8_OID)?))
    }
}

fn binary(value: PgValueRef<'_>) -> Result<&[u8], BoxDynError> {
    if value.format() != PgValueFormat::Binary {
        return Err("arrays are read in binary format only".into());
    }
    value.as_bytes()
}

/// The elements of a one-dimensional array of `element` in Postgres's binary format (`array_send`:
/// dimensions, a has-nulls flag, the element type, each dimension's length and lower bound,
/// then each element's length and bytes), each eight bytes, big-endian; none may be null.
fn eight_byte_elements(bytes: &[u8], element: Oid) -> Result<Vec<i64>, BoxDynError> {
    let mut array = BinaryArray { bytes, at: 0 };
    let dimensions = array.int4()?;
    let _has_nulls = array.int4()?;
    let element_type = u32::from_be_bytes(array.take::<4>()?);
    if dimensions == 0 {
        return Ok(Vec::new());
    }
    if dimensions != 1 {
        return Err(format!("an array of {dimensions} dimensions where one was expected").into());
    }
    if element_type != element.0 {
        let expected = element.0;
        return Err(
            format!("an array of type {element_type} where {expected} was expected").into(),
        );
    }
    let len = usize::try_from(array.int4()?).map_err(|_| "an array of negative length")?;
    let _lower_bound = array.int4()?;
    // Each element takes at least its length word: a length beyond the bytes is damage.
    let mut elements = Vec::with_capacity(len.min(bytes.len() / 4));
    for _ in 0..len {
        match array.int4()? {
            8 => elements.push(i64::from_be_bytes(array.take::<8>()?)),
            -1 => return Err("an array holds a null".into()),
            other => return Err(format!("an array element of {other} bytes, not 8").into()),
        }
    }
    let left = bytes.len() - array.at;
    if left != 0 {
        return Err(format!("an array has {left} bytes after its elements").into());
    }
    Ok(elements)
}

/// A binary array being read, front to back.
struct BinaryArray<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl BinaryArray<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], BoxDynError> {
        let taken = self
            .bytes
            .get(self.at..self.at + N)
            .ok_or_else(|| format!("an array of {} bytes ends early", self.bytes.len()))?;
        self.at += N;
        Ok(taken.try_into()?)
    }

    fn int4(&mut self) -> Result<i32, BoxDynError> {
        Ok(i32::from_be_bytes(self.take::<4>()?))
    }
}

/// Compact JSON text of a document (keys in their order; numbers as `serde_json` writes them,
/// which parse back to the same values).
pub(super) fn object_text(value: &JsonObject) -> Result<String> {
    serde_json::to_string(value).map_err(Error::backend)
}

/// Compact JSON text of a snapshot's parameters, in their order.
pub(super) fn parameters_text(value: &Parameters) -> Result<String> {
    serde_json::to_string(value).map_err(Error::backend)
}

/// JSON text of one parameter value: a number, a string or a boolean.
pub(super) fn value_text(value: &ParameterValue) -> Result<String> {
    serde_json::to_string(value).map_err(Error::backend)
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

    /// `array_send`'s bytes of a one-dimensional array of `element` holding `values`.
    fn array_bytes(element: u32, values: &[i64]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [1_i32, 0] {
            bytes.extend(word.to_be_bytes());
        }
        bytes.extend(element.to_be_bytes());
        bytes.extend(i32::try_from(values.len()).expect("short").to_be_bytes());
        bytes.extend(1_i32.to_be_bytes());
        for value in values {
            bytes.extend(8_i32.to_be_bytes());
            bytes.extend(value.to_be_bytes());
        }
        bytes
    }

    #[test]
    fn binary_arrays_of_eight_byte_elements_are_read_and_damage_is_named() {
        let values = [0, -1, i64::MAX, 1 << 40];
        let bytes = array_bytes(20, &values);
        assert_eq!(eight_byte_elements(&bytes, INT8_OID).expect("read"), values);
        // An empty array has no dimensions at all.
        let empty = [0_i32, 0, 20].map(i32::to_be_bytes).concat();
        assert!(
            eight_byte_elements(&empty, INT8_OID)
                .expect("read")
                .is_empty()
        );
        let refused = |bytes: &[u8], element: Oid| {
            eight_byte_elements(bytes, element)
                .expect_err("refused")
                .to_string()
        };
        assert!(refused(&bytes, TIMESTAMPTZ_OID).contains("type 20 where 1184"));
        assert!(refused(&bytes[..bytes.len() - 1], INT8_OID).contains("ends early"));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(refused(&longer, INT8_OID).contains("1 bytes after"));
        let mut null = array_bytes(20, &[7]);
        let at = null.len() - 12;
        null[at..at + 4].copy_from_slice(&(-1_i32).to_be_bytes());
        null.truncate(at + 4);
        assert!(refused(&null, INT8_OID).contains("null"));
        let mut two_dimensions = bytes.clone();
        two_dimensions[..4].copy_from_slice(&2_i32.to_be_bytes());
        assert!(refused(&two_dimensions, INT8_OID).contains("2 dimensions"));
        let mut claims_more = array_bytes(20, &[7]);
        claims_more[12..16].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(refused(&claims_more, INT8_OID).contains("ends early"));
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
