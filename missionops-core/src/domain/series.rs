//! Latest values and downsampled series of telemetry parameters.

use serde::Serialize;

use super::ids::ParameterName;
use super::serde_f64::serialize_number;
use super::time::Timestamp;
use super::value::ParameterValue;
use crate::error::{Error, Result};

/// The newest value of one parameter of a spacecraft.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatestValue {
    /// The parameter.
    pub parameter: ParameterName,
    /// Its newest value.
    pub value: ParameterValue,
    /// The sample time of that value.
    pub timestamp: Timestamp,
}

/// The width of the buckets of a downsampled series: whole seconds, from 1 s to 31 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BucketWidth(i64);

impl BucketWidth {
    const MAX_SECONDS: i64 = 31 * 24 * 3600;

    /// Parses `60` (seconds), `60s`, `5m`, `1h` or `1d`, naming `bucket` in the error.
    pub fn parse(value: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "bucket",
                format!(
                    "must be a duration such as 60, 60s, 5m, 1h or 1d (got {})",
                    crate::error::quote(value)
                ),
            )
        };
        let text = value.trim();
        let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
            Some((i, _)) => text.split_at(i),
            None => (text, "s"),
        };
        let amount: i64 = digits.parse().map_err(|_| bad())?;
        let seconds = match unit {
            "s" => Some(amount),
            "m" => amount.checked_mul(60),
            "h" => amount.checked_mul(3600),
            "d" => amount.checked_mul(86_400),
            _ => None,
        }
        .ok_or_else(bad)?;
        Self::from_seconds(seconds)
    }

    /// A width of `seconds`, from 1 s to 31 days.
    pub fn from_seconds(seconds: i64) -> Result<Self> {
        if (1..=Self::MAX_SECONDS).contains(&seconds) {
            Ok(BucketWidth(seconds * 1000))
        } else {
            Err(Error::invalid(
                "bucket",
                "must be between 1 second and 31 days",
            ))
        }
    }

    /// The width in milliseconds.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// The start of the bucket holding `t`; buckets are aligned to the Unix epoch.
    pub fn bucket_start(self, t: Timestamp) -> Timestamp {
        Timestamp::from_millis_clamped(t.as_millis().div_euclid(self.0) * self.0)
    }
}

impl std::str::FromStr for BucketWidth {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// One bucket of a downsampled numeric series. String and boolean samples are not counted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesBucket {
    /// The start of the bucket (aligned to the epoch).
    pub start: Timestamp,
    /// The smallest value.
    #[serde(serialize_with = "serialize_number")]
    pub min: f64,
    /// The largest value.
    #[serde(serialize_with = "serialize_number")]
    pub max: f64,
    /// The mean.
    #[serde(serialize_with = "serialize_number")]
    pub avg: f64,
    /// How many numeric samples.
    pub count: u64,
    /// The value of the newest sample in the bucket.
    #[serde(serialize_with = "serialize_number")]
    pub last: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_widths_parse_with_units() {
        assert_eq!(BucketWidth::parse("60").unwrap().as_millis(), 60_000);
        assert_eq!(BucketWidth::parse("60s").unwrap().as_millis(), 60_000);
        assert_eq!(BucketWidth::parse("5m").unwrap().as_millis(), 300_000);
        assert_eq!(BucketWidth::parse("1h").unwrap().as_millis(), 3_600_000);
        for bad in ["", "0", "5x", "m", "-5", "1.5m", "32d"] {
            let err = BucketWidth::parse(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("bucket: must be"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn buckets_align_to_the_epoch() {
        let w = BucketWidth::parse("1m").unwrap();
        let t = Timestamp::parse("2025-01-01T00:00:59.999Z").unwrap();
        assert_eq!(w.bucket_start(t).to_string(), "2025-01-01T00:00:00.000Z");
        let before_epoch = Timestamp::parse("1969-12-31T23:59:30Z").unwrap();
        assert_eq!(
            w.bucket_start(before_epoch).to_string(),
            "1969-12-31T23:59:00.000Z"
        );
    }
}
