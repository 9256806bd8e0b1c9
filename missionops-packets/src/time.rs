//! Absolute times of packets: seconds since an epoch, turned into UTC.
//!
//! UNIX and date epochs count POSIX seconds (no leap seconds), as on-board clocks synchronised
//! to UTC do. GPS, TAI and J2000 count SI seconds on a continuous scale, so the leap seconds
//! between that scale and UTC are taken off with the table below.

use crate::definition::Epoch;

/// 1958-01-01T00:00:00 as POSIX seconds.
const TAI_EPOCH_UNIX: f64 = -378_691_200.0;
/// 1980-01-06T00:00:00 as POSIX seconds.
const GPS_EPOCH_UNIX: f64 = 315_964_800.0;
/// TAI − GPS, constant since GPS time began.
const GPS_TO_TAI: f64 = 19.0;
/// J2000 (2000-01-01T12:00:00 TT) on the TAI scale, as seconds since 1970-01-01 TAI:
/// TT = TAI + 32.184 s.
const J2000_TAI_UNIX: f64 = 946_728_000.0 - 32.184;

/// (UTC date of the step as POSIX seconds, TAI − UTC from then on). The first row is the start
/// of leap-second UTC (1972); before it, 10 s is used. Last leap second: 2016-12-31.
const LEAP_SECONDS: [(i64, f64); 28] = [
    (days(1972, 1, 1), 10.0),
    (days(1972, 7, 1), 11.0),
    (days(1973, 1, 1), 12.0),
    (days(1974, 1, 1), 13.0),
    (days(1975, 1, 1), 14.0),
    (days(1976, 1, 1), 15.0),
    (days(1977, 1, 1), 16.0),
    (days(1978, 1, 1), 17.0),
    (days(1979, 1, 1), 18.0),
    (days(1980, 1, 1), 19.0),
    (days(1981, 7, 1), 20.0),
    (days(1982, 7, 1), 21.0),
    (days(1983, 7, 1), 22.0),
    (days(1985, 7, 1), 23.0),
    (days(1988, 1, 1), 24.0),
    (days(1990, 1, 1), 25.0),
    (days(1991, 1, 1), 26.0),
    (days(1992, 7, 1), 27.0),
    (days(1993, 7, 1), 28.0),
    (days(1994, 7, 1), 29.0),
    (days(1996, 1, 1), 30.0),
    (days(1997, 7, 1), 31.0),
    (days(1999, 1, 1), 32.0),
    (days(2006, 1, 1), 33.0),
    (days(2009, 1, 1), 34.0),
    (days(2012, 7, 1), 35.0),
    (days(2015, 7, 1), 36.0),
    (days(2017, 1, 1), 37.0),
];

/// POSIX seconds at midnight UTC of a proleptic Gregorian date (Howard Hinnant's
/// days-from-civil).
const fn days(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400
}

/// TAI − UTC at a time given on the TAI scale (POSIX-style seconds since 1970 TAI).
fn tai_minus_utc(tai_unix: f64) -> f64 {
    let mut offset = 10.0;
    for (utc_start, step) in LEAP_SECONDS {
        // The step takes effect when TAI reaches the UTC start plus the new offset.
        if tai_unix >= utc_start as f64 + step {
            offset = step;
        } else {
            break;
        }
    }
    offset
}

/// UTC milliseconds since the UNIX epoch of `seconds` counted from `epoch`, or `None` when not
/// finite or out of the range of an `i64`.
pub(crate) fn utc_millis(epoch: Epoch, seconds: f64) -> Option<i64> {
    let unix = match epoch {
        Epoch::Unix => seconds,
        Epoch::Date(millis) => millis as f64 / 1000.0 + seconds,
        Epoch::Tai => from_tai(TAI_EPOCH_UNIX + seconds),
        Epoch::Gps => from_tai(GPS_EPOCH_UNIX + seconds + GPS_TO_TAI),
        Epoch::J2000 => from_tai(J2000_TAI_UNIX + seconds),
    };
    let millis = (unix * 1000.0).round();
    // The range check keeps the cast exact; ±2^62 ms is far beyond any timestamp.
    (millis.is_finite() && millis.abs() < 4.6e18).then_some(millis as i64)
}

/// TAI seconds since 1958-01-01 (the TAI epoch) of a UTC time in POSIX seconds: the inverse of
/// [`utc_millis`] with [`Epoch::Tai`], for encoders.
pub(crate) fn tai_seconds(unix: f64) -> f64 {
    let mut offset = 10.0;
    for (utc_start, step) in LEAP_SECONDS {
        if unix >= utc_start as f64 {
            offset = step;
        } else {
            break;
        }
    }
    unix + offset - TAI_EPOCH_UNIX
}

fn from_tai(tai_unix: f64) -> f64 {
    tai_unix - tai_minus_utc(tai_unix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_arithmetic_matches_known_posix_times() {
        assert_eq!(days(1970, 1, 1), 0);
        assert_eq!(days(2017, 1, 1), 1_483_228_800);
        assert_eq!(days(1958, 1, 1), TAI_EPOCH_UNIX as i64);
        assert_eq!(days(1980, 1, 6), GPS_EPOCH_UNIX as i64);
    }

    #[test]
    fn gps_time_is_18_seconds_ahead_of_utc_since_2017() {
        // 2020-01-01T00:00:00Z is GPS second 1261872018.
        let utc = utc_millis(Epoch::Gps, 1_261_872_018.0);
        assert_eq!(utc, Some(days(2020, 1, 1) * 1000));
    }

    #[test]
    fn tai_and_j2000_apply_the_leap_seconds_of_their_time() {
        // J2000 second 0 is 2000-01-01T11:58:55.816Z (TAI − UTC was 32 s).
        assert_eq!(
            utc_millis(Epoch::J2000, 0.0),
            Some(days(2000, 1, 1) * 1000 + 11 * 3_600_000 + 58 * 60_000 + 55_816)
        );
        // TAI seconds of 2017-01-01T00:00:00Z: POSIX + 37 − TAI epoch.
        let tai = (days(2017, 1, 1) + 37) as f64 - TAI_EPOCH_UNIX;
        assert_eq!(utc_millis(Epoch::Tai, tai), Some(days(2017, 1, 1) * 1000));
    }

    #[test]
    fn non_finite_times_are_none() {
        assert_eq!(utc_millis(Epoch::Unix, f64::NAN), None);
        assert_eq!(utc_millis(Epoch::Unix, 1e300), None);
    }
}
