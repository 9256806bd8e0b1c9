//! JSON rendering with JavaScript's number formatting, so that output matches the TypeScript
//! service byte for byte (`25`, `0.5`, `1e-7`, `1e+21`, `300000000000000070000`, never `25.0`).

use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// Formats `value` as JavaScript's `Number.prototype.toString()` does (ECMA-262
/// Number::toString): the shortest digits that round-trip, in plain notation for exponents from
/// −7 to 20 and in `d.ddde±x` notation outside, `0` for both zeros.
pub fn format_js_number(value: f64) -> String {
    let mut out = String::new();
    write_js_number(&mut out, value);
    out
}

/// Appends the JavaScript rendering of `value` to `out` (see [`format_js_number`]).
pub fn write_js_number(out: &mut String, value: f64) {
    if value == 0.0 {
        out.push('0');
        return;
    }
    if value.is_nan() {
        out.push_str("NaN");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if value < 0.0 {
        out.push('-');
    }
    let magnitude = value.abs();
    // Integers below 2^53 print their digits; this is the common case and skips the exponent
    // parsing below.
    if magnitude.fract() == 0.0 && magnitude < 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation)]
        out.push_str(&(magnitude as i64).to_string());
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits, as ECMA-262 requires: `d[.ddd]e[-]x`.
    let scientific = format!("{magnitude:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let k = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let n = exponent + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n - 1 < 0 { '-' } else { '+' });
        out.push_str(&(n - 1).abs().to_string());
    }
}

/// A `serde_json` formatter that writes floating-point numbers as JavaScript does and delegates
/// everything else to `F`.
#[derive(Debug, Clone)]
pub struct JsNumberFormatter<F>(pub F);

macro_rules! delegate {
    ($($method:ident$(($arg:ident: $ty:ty))?),* $(,)?) => {
        $(
            fn $method<W: ?Sized + io::Write>(&mut self, writer: &mut W $(, $arg: $ty)?) -> io::Result<()> {
                self.0.$method(writer $(, $arg)?)
            }
        )*
    };
}

impl<F: Formatter> Formatter for JsNumberFormatter<F> {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        let mut text = String::with_capacity(24);
        write_js_number(&mut text, value);
        writer.write_all(text.as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }

    delegate!(
        begin_array,
        end_array,
        begin_array_value(first: bool),
        end_array_value,
        begin_object,
        end_object,
        begin_object_key(first: bool),
        end_object_key,
        begin_object_value,
        end_object_value,
    );
}

/// Serializes `value` as compact JSON with JavaScript number formatting (`JSON.stringify(v)`).
pub fn to_vec_js<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    write_js(&mut out, value)?;
    Ok(out)
}

/// Appends `value` to `out` as [`to_vec_js`] writes it: for writers of a long array piece by
/// piece, which reuse one buffer.
pub fn write_js<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, JsNumberFormatter(CompactFormatter));
    value.serialize(&mut ser)
}

/// Serializes `value` as JSON indented by `indent` with JavaScript number formatting
/// (`JSON.stringify(v, null, indent)`).
pub fn to_string_pretty_js<T: Serialize + ?Sized>(
    value: &T,
    indent: &str,
) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(128);
    let formatter = JsNumberFormatter(PrettyFormatter::with_indent(indent.as_bytes()));
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut ser)?;
    // serde_json writes valid UTF-8 only.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_like_javascript() {
        let cases: &[(f64, &str)] = &[
            (25.0, "25"),
            (0.5, "0.5"),
            (-150.0, "-150"),
            (1e-7, "1e-7"),
            (1e21, "1e+21"),
            (1.5e22, "1.5e+22"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "0"),
            (0.0, "0"),
            (1e-6, "0.000001"),
            (1.5e-7, "1.5e-7"),
            (123_456_789_012_345_680_000.0, "123456789012345680000"),
            (300_000_000_000_000_070_000.0, "300000000000000070000"),
            (1e16, "10000000000000000"),
            (14.999, "14.999"),
            (-1e-9, "-1e-9"),
            (1.6e43, "1.6e+43"),
            (-1_000_000_000_000.000_1, "-1000000000000.0001"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_js_number(*value), *expected, "{value:e}");
        }
    }

    #[test]
    fn serializes_floats_without_a_trailing_point_zero() {
        let bytes = to_vec_js(&serde_json::json!({"a": 25.0, "b": [1e21, 0.5]})).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"a":25,"b":[1e+21,0.5]}"#
        );
    }

    #[test]
    fn pretty_output_matches_json_stringify_with_an_indent() {
        let text = to_string_pretty_js(&serde_json::json!({"a": [], "b": [1.0]}), " ").unwrap();
        assert_eq!(text, "{\n \"a\": [],\n \"b\": [\n  1\n ]\n}");
    }
}
