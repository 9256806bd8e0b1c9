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
        // Sub-millisecond digits (written by hand, not by this store) are dropped toward the
        // past, as `Timestamp` does when parsing; ±infinity falls out of range below.
        let millis = micros
            .div_euclid(1000)
            .checked_add(POSTGRES_EPOCH_MILLIS)
            .ok_or("timestamptz out of range")?;
        Ok(PgTime(Timestamp::from_millis(millis)?))
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
