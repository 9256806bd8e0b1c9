//! Points in time, with the millisecond precision and the RFC 3339 rendering of the TypeScript
//! service (`2025-06-01T00:00:00.000Z`).

use std::fmt;

use chrono::{DateTime, Datelike, Utc};

use crate::error::{Error, Result};

/// A UTC instant with millisecond precision, between the years 0 and 9999.
///
/// Parsed from RFC 3339 with any offset and converted to UTC; digits below the millisecond are
/// dropped (rounded toward the past), as JavaScript's `Date` did. Rendered as
/// `YYYY-MM-DDTHH:MM:SS.mmmZ`. Stored as milliseconds since the Unix epoch so that ordering,
/// storage and arithmetic are integer operations.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Milliseconds since the epoch of 0000-01-01T00:00:00.000Z.
const MIN_MILLIS: i64 = -62_167_219_200_000;
/// Milliseconds since the epoch of 9999-12-31T23:59:59.999Z.
const MAX_MILLIS: i64 = 253_402_300_799_999;

impl Timestamp {
    /// The field name used in error messages.
    pub const FIELD: &'static str = "timestamp";

    /// Parses an RFC 3339 timestamp (`2025-01-01T00:00:00Z`, `2025-01-01T02:00:00.5+02:00`).
    pub fn parse(value: &str) -> Result<Self> {
        Self::parse_field(Self::FIELD, value)
    }

    /// Parses an RFC 3339 timestamp, naming `field` in the error.
    pub fn parse_field(field: &str, value: &str) -> Result<Self> {
        let parsed = DateTime::parse_from_rfc3339(value).map_err(|e| {
            Error::invalid(
                field,
                format!("must be an RFC 3339 timestamp such as 2025-01-01T00:00:00Z ({e})"),
            )
        })?;
        let utc = parsed.with_timezone(&Utc);
        if !(0..=9999).contains(&utc.year()) {
            return Err(Error::invalid(
                field,
                "must be between the years 0 and 9999",
            ));
        }
        Ok(Timestamp(utc.timestamp_millis()))
    }

    /// The instant `millis` milliseconds after the Unix epoch.
    pub fn from_millis(millis: i64) -> Result<Self> {
        if (MIN_MILLIS..=MAX_MILLIS).contains(&millis) {
            Ok(Timestamp(millis))
        } else {
            Err(Error::invalid(
                Self::FIELD,
                "must be between the years 0 and 9999",
            ))
        }
    }

    /// The instant `millis` milliseconds after the Unix epoch, clamped into the years 0–9999.
    pub fn from_millis_clamped(millis: i64) -> Self {
        Timestamp(millis.clamp(MIN_MILLIS, MAX_MILLIS))
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// This instant moved by `millis` (negative moves back), kept within the representable range.
    #[must_use]
    pub fn add_millis(self, millis: i64) -> Self {
        Timestamp(self.0.saturating_add(millis).clamp(MIN_MILLIS, MAX_MILLIS))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.render();
        // The rendering is ASCII digits and separators only.
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, written by hand: every time in every JSON answer is rendered
    /// here, and chrono's general RFC 3339 formatter was a tenth of the cost of an `analyze`
    /// answer. The year is always four digits (the range is 0–9999).
    fn render(self) -> [u8; 24] {
        let days = self.0.div_euclid(86_400_000);
        let of_day = self.0.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut value: i64| {
            for i in (at..at + width).rev() {
                // `value` is non-negative and below 10^width, so each digit fits a byte.
                out[i] = b'0' + u8::try_from(value % 10).unwrap_or(0);
                value /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, of_day / 3_600_000);
        put(14, 2, of_day / 60_000 % 60);
        put(17, 2, of_day / 1000 % 60);
        put(20, 3, of_day % 1000);
        out
    }
}

/// The proleptic Gregorian (year, month, day) of `days` since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use chrono::SecondsFormat;
    use proptest::prelude::*;

    use super::*;

    fn chrono_rendering(t: Timestamp) -> String {
        DateTime::from_timestamp_millis(t.as_millis())
            .unwrap()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    proptest! {
        #[test]
        fn renders_every_instant_as_chrono_does(millis in MIN_MILLIS..=MAX_MILLIS) {
            let t = Timestamp::from_millis(millis).unwrap();
            prop_assert_eq!(t.to_string(), chrono_rendering(t));
        }
    }

    #[test]
    fn renders_the_edges_of_the_range_and_of_days_and_leap_years_as_chrono_does() {
        let day = 86_400_000;
        let mut instants = vec![MIN_MILLIS, MAX_MILLIS, 0, -1, 1, day - 1, day, -day];
        for text in [
            "2000-02-29T23:59:59.999Z",
            "1900-02-28T23:59:59.999Z",
            "1900-03-01T00:00:00.000Z",
            "2024-12-31T23:59:59.999Z",
            "0000-03-01T00:00:00.000Z",
            "1969-12-31T23:59:59.999Z",
        ] {
            let t = Timestamp::parse(text).unwrap();
            assert_eq!(t.to_string(), text);
            instants.extend([t.as_millis() - 1, t.as_millis(), t.as_millis() + 1]);
        }
        for millis in instants {
            let t = Timestamp::from_millis_clamped(millis);
            assert_eq!(t.to_string(), chrono_rendering(t), "{millis}");
        }
    }

    #[test]
    fn renders_like_javascript_to_iso_string() {
        let t = Timestamp::parse("2025-01-01T00:00:00Z").unwrap();
        assert_eq!(t.to_string(), "2025-01-01T00:00:00.000Z");
    }

    #[test]
    fn converts_offsets_to_utc_and_drops_sub_millisecond_digits() {
        let t = Timestamp::parse("2025-01-01T02:00:00.123987+02:00").unwrap();
        assert_eq!(t.to_string(), "2025-01-01T00:00:00.123Z");
    }

    #[test]
    fn rejects_text_that_is_not_rfc_3339_naming_the_field() {
        for bad in [
            "",
            "yesterday",
            "2025-01-01",
            "2025-13-01T00:00:00Z",
            "1735689600",
        ] {
            let err = Timestamp::parse(bad).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("timestamp: must be an RFC 3339"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn orders_by_instant() {
        let a = Timestamp::parse("2025-01-01T00:00:00Z").unwrap();
        let b = Timestamp::parse("2025-01-01T00:00:00.001Z").unwrap();
        assert!(a < b);
        assert_eq!(a.add_millis(1), b);
    }

    #[test]
    fn rejects_millis_outside_the_four_digit_years() {
        assert!(Timestamp::from_millis(MAX_MILLIS + 1).is_err());
        assert!(Timestamp::from_millis(MIN_MILLIS).is_ok());
    }
}
