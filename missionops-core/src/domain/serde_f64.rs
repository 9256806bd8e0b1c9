//! serde `serialize_with` helpers for plain `f64` fields (thresholds, limits) that must print
//! `25`, not `25.0`. Not the JavaScript number formatter: that is `crate::js_json`.

use serde::Serializer;

/// Integers up to 2^53 are written as JSON integers.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Serializes a number as an integer when it is one, otherwise as a float.
pub(crate) fn serialize_number<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && value.abs() < EXACT_INTEGER_LIMIT {
        #[allow(clippy::cast_possible_truncation)]
        s.serialize_i64(*value as i64)
    } else {
        s.serialize_f64(*value)
    }
}

/// [`serialize_number`] for an optional number (`null` when absent).
#[allow(clippy::ref_option)]
pub(crate) fn serialize_opt_number<S: Serializer>(
    value: &Option<f64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => serialize_number(v, s),
        None => s.serialize_none(),
    }
}
