//! The JSON text the durable backends store, and the reader they read that text back with.
//!
//! Parameters, configuration documents, metadata and tags are stored as the compact JSON text
//! serde_json writes (with `preserve_order`, so keys keep their order). Writing goes through the
//! domain types' own `Serialize` impls, which print integral numbers below 2^53 as JSON integers
//! and others in the shortest form that round-trips. The same value therefore always gives the
//! same text, which lets ingest compare a repeated snapshot with the stored one by its text.
//!
//! The workspace enables serde_json's `float_roundtrip`, so serde_json would read these texts
//! back exactly too (the PostgreSQL backend does, outside range reads). This reader stays
//! because of the telemetry read path: [`read_parameters_like`] reads a run of snapshots that share one layout (the usual
//! range) by comparing each name with the previous snapshot's name at the same position and
//! reusing that layout whole, where deserializing through serde would validate and hash every
//! name of every row again (reusing it took a day's range out of 10 M rows from 245 ms to
//! 170-190 ms, BENCHMARKS.md). Numbers go to the
//! standard library's correctly rounded parser, so `0.30000000000000004`, `1e21` and
//! `3.0000000000000007e20` come back as the very `f64` that was written, and `45` stays the
//! integer `45`. The other readers (objects, string arrays) share its number and string
//! handling, so that every column of the file is read by one set of rules.
//!
//! It stays in this crate rather than next to the core's JSON code: only the stores read
//! parameters back from text, and the core keeps no reader of its own to share. SQLite reads
//! every column with it; PostgreSQL (whose `json` columns keep the text as written) reads the
//! pages of range reads with it (see `text_pages`).

use std::borrow::Cow;
use std::fmt;

use missionops_core::{JsonObject, ParameterName, ParameterValue, Parameters};
use serde::Serialize;
use serde_json::{Number, Value};

/// Why stored JSON text could not be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodecError {
    reason: String,
    at: usize,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.at)
    }
}

impl std::error::Error for CodecError {}

type Read<T> = Result<T, CodecError>;

/// Compact JSON text of a serializable domain value; a failure (which serde_json reports only
/// for non-string map keys, which no domain value has) is a backend error.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> missionops_core::Result<String> {
    serde_json::to_string(value).map_err(missionops_core::Error::backend)
}

/// Reads the parameters object of a snapshot: names in order, numbers, strings and booleans.
pub(crate) fn read_parameters(text: &str) -> Read<Parameters> {
    read_parameters_like(text, None)
}

/// [`read_parameters`] for a run of snapshots: a name equal to the name at the same position in
/// `previous` (usually the snapshot read just before) is cloned from it instead of being
/// validated again.
pub(crate) fn read_parameters_like(text: &str, previous: Option<&Parameters>) -> Read<Parameters> {
    let known = previous.map_or(&[][..], Parameters::names);
    let mut reader = Reader::new(text);
    reader.skip_ws();
    reader.expect(b'{')?;
    // The values alone while every name so far equals the previous snapshot's name at the same
    // position (the usual run of one layout): that layout is then reused whole, with no name
    // kept, duplicate check or hashing. The names are gathered from the first one that differs.
    let mut values = Vec::with_capacity(known.len().max(4));
    let mut names: Option<Vec<ParameterName>> = previous.is_none().then(Vec::new);
    reader.skip_ws();
    if !reader.eat(b'}') {
        loop {
            reader.skip_ws();
            let at = reader.pos;
            let position = values.len();
            match (names.as_mut(), known.get(position)) {
                // The stored key is the previous name's text, compared in place without
                // reading it as a string first.
                (None, Some(same)) if reader.eat_unescaped_string(same.as_str()) => {}
                (names_so_far, known_here) => {
                    let raw = reader.string()?;
                    let name = match known_here {
                        Some(same) if same.as_str() == raw => same.clone(),
                        _ => ParameterName::parse(&raw)
                            .map_err(|e| reader.fail_at(at, &format!("bad parameter name: {e}")))?,
                    };
                    match names_so_far {
                        Some(names) => names.push(name),
                        // The first name off the previous layout: the ones before it were
                        // that layout's.
                        None if name.as_str() == known.get(position).map_or("", |k| k.as_str()) => {
                        }
                        None => {
                            let mut gathered = known[..position].to_vec();
                            gathered.push(name);
                            names = Some(gathered);
                        }
                    }
                }
            }
            reader.skip_ws();
            reader.expect(b':')?;
            reader.skip_ws();
            values.push(reader.scalar()?);
            reader.skip_ws();
            if reader.eat(b',') {
                continue;
            }
            reader.expect(b'}')?;
            break;
        }
    }
    reader.end()?;
    match (names, previous) {
        (None, Some(previous)) if previous.len() == values.len() => {
            Parameters::with_layout(previous.layout(), values)
                .map_err(|e| reader.fail_at(0, &e.to_string()))
        }
        // Fewer names than the previous layout's, all equal to its first ones.
        (None, _) => Parameters::new(known[..values.len()].iter().cloned().zip(values))
            .map_err(|e| reader.fail_at(0, &e.to_string())),
        (Some(names), _) => Parameters::new(names.into_iter().zip(values))
            .map_err(|e| reader.fail_at(0, &e.to_string())),
    }
}

/// Reads one parameter value: a number, a string or a boolean.
pub(crate) fn read_parameter_value(text: &str) -> Read<ParameterValue> {
    let mut reader = Reader::new(text);
    reader.skip_ws();
    let value = reader.scalar()?;
    reader.end()?;
    Ok(value)
}

/// Reads a JSON object, keys in order.
pub(crate) fn read_object(text: &str) -> Read<JsonObject> {
    match read_value(text)? {
        Value::Object(map) => Ok(map),
        _ => Err(CodecError {
            reason: "expected a JSON object".to_owned(),
            at: 0,
        }),
    }
}

/// Reads an array of strings.
pub(crate) fn read_strings(text: &str) -> Read<Vec<String>> {
    match read_value(text)? {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                _ => Err(CodecError {
                    reason: "expected an array of strings".to_owned(),
                    at: 0,
                }),
            })
            .collect(),
        _ => Err(CodecError {
            reason: "expected a JSON array".to_owned(),
            at: 0,
        }),
    }
}

/// Reads any JSON value, with exact numbers and object keys in order.
pub(crate) fn read_value(text: &str) -> Read<Value> {
    let mut reader = Reader::new(text);
    reader.skip_ws();
    let value = reader.value(0)?;
    reader.end()?;
    Ok(value)
}

/// Deeper nesting than this is refused rather than risking the stack on a corrupt file.
const MAX_DEPTH: usize = 128;

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    fn fail(&self, reason: &str) -> CodecError {
        self.fail_at(self.pos, reason)
    }

    fn fail_at(&self, at: usize, reason: &str) -> CodecError {
        CodecError {
            reason: reason.to_owned(),
            at,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8) -> Read<()> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.fail(&format!("expected '{}'", char::from(byte))))
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn end(&mut self) -> Read<()> {
        self.skip_ws();
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.fail("unexpected text after the value"))
        }
    }

    fn scalar(&mut self) -> Read<ParameterValue> {
        match self.peek() {
            Some(b'"') => {
                let at = self.pos;
                let text = self.string()?.into_owned();
                ParameterValue::text(text).map_err(|e| self.fail_at(at, &e.to_string()))
            }
            Some(b't') if self.eat_word("true") => Ok(ParameterValue::Bool(true)),
            Some(b'f') if self.eat_word("false") => Ok(ParameterValue::Bool(false)),
            Some(b'-' | b'0'..=b'9') => {
                let at = self.pos;
                let value = self.number()?;
                ParameterValue::number(value).map_err(|e| self.fail_at(at, &e.to_string()))
            }
            _ => Err(self.fail("expected a number, string or boolean")),
        }
    }

    /// A JSON number as the nearest `f64`.
    ///
    /// Reading telemetry back is mostly reading numbers, so the common case is done in the
    /// same pass that checks the grammar: the digits are gathered into an integer, and when it
    /// and the power of ten to scale it by are both exact in an `f64` (at most 2^53 and 10^22),
    /// one multiplication or division gives the correctly rounded result (Clinger's fast path).
    /// Anything else goes to the standard library's parser, which is correct everywhere.
    fn number(&mut self) -> Read<f64> {
        let start = self.pos;
        let negative = self.eat(b'-');
        let mut mantissa: u64 = 0;
        // Set when a digit no longer fits the integer; the slow path reads those numbers.
        let mut overflow = false;
        let mut exponent: i64 = 0;
        let mut digit = |mantissa: &mut u64, d: u8| {
            if *mantissa < 100_000_000_000_000_000 {
                *mantissa = *mantissa * 10 + u64::from(d - b'0');
                true
            } else {
                overflow = true;
                false
            }
        };
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(d @ b'0'..=b'9') = self.peek() {
                    if !digit(&mut mantissa, d) {
                        exponent += 1;
                    }
                    self.pos += 1;
                }
            }
            _ => return Err(self.fail("expected a digit")),
        }
        if self.eat(b'.') {
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.fail("expected a digit after '.'"));
            }
            while let Some(d @ b'0'..=b'9') = self.peek() {
                if digit(&mut mantissa, d) {
                    exponent -= 1;
                }
                self.pos += 1;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            let minus = match self.peek() {
                Some(b'-') => {
                    self.pos += 1;
                    true
                }
                Some(b'+') => {
                    self.pos += 1;
                    false
                }
                _ => false,
            };
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.fail("expected a digit in the exponent"));
            }
            let mut written: i64 = 0;
            while let Some(d @ b'0'..=b'9') = self.peek() {
                // Beyond this the value is zero or infinite anyway; the slow path decides.
                written = (written * 10 + i64::from(d - b'0')).min(1_000_000);
                self.pos += 1;
            }
            exponent += if minus { -written } else { written };
        }
        const EXACT_MANTISSA: u64 = 1 << 53;
        if !overflow && mantissa <= EXACT_MANTISSA {
            if let Some(&scale) = POWERS_OF_TEN.get(exponent.unsigned_abs() as usize) {
                #[allow(clippy::cast_precision_loss)] // exact: mantissa <= 2^53
                let m = mantissa as f64;
                let value = if exponent >= 0 { m * scale } else { m / scale };
                return Ok(if negative { -value } else { value });
            }
        }
        let literal = &self.text[start..self.pos];
        parse_f64(literal).ok_or_else(|| self.fail_at(start, "number out of range"))
    }

    fn value(&mut self, depth: usize) -> Read<Value> {
        if depth > MAX_DEPTH {
            return Err(self.fail("nested too deeply"));
        }
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                let mut map = JsonObject::new();
                self.skip_ws();
                if self.eat(b'}') {
                    return Ok(Value::Object(map));
                }
                loop {
                    self.skip_ws();
                    let key = self.string()?.into_owned();
                    self.skip_ws();
                    self.expect(b':')?;
                    self.skip_ws();
                    let value = self.value(depth + 1)?;
                    map.insert(key, value);
                    self.skip_ws();
                    if self.eat(b',') {
                        continue;
                    }
                    self.expect(b'}')?;
                    return Ok(Value::Object(map));
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.eat(b']') {
                    return Ok(Value::Array(items));
                }
                loop {
                    self.skip_ws();
                    items.push(self.value(depth + 1)?);
                    self.skip_ws();
                    if self.eat(b',') {
                        continue;
                    }
                    self.expect(b']')?;
                    return Ok(Value::Array(items));
                }
            }
            Some(b'"') => Ok(Value::String(self.string()?.into_owned())),
            Some(b't') if self.eat_word("true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat_word("false") => Ok(Value::Bool(false)),
            Some(b'n') if self.eat_word("null") => Ok(Value::Null),
            Some(b'-' | b'0'..=b'9') => {
                let at = self.pos;
                let (literal, integral) = self.number_literal()?;
                json_number(literal, integral)
                    .map(Value::Number)
                    .ok_or_else(|| self.fail_at(at, "number out of range"))
            }
            _ => Err(self.fail("expected a JSON value")),
        }
    }

    /// The text of a JSON number (checked against the JSON grammar) and whether it is an
    /// integer literal (no fraction, no exponent).
    fn number_literal(&mut self) -> Read<(&'a str, bool)> {
        let start = self.pos;
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.fail("expected a digit")),
        }
        let mut integral = true;
        if self.eat(b'.') {
            integral = false;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.fail("expected a digit after '.'"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            integral = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.fail("expected a digit in the exponent"));
            }
            self.digits();
        }
        Ok((&self.text[start..self.pos], integral))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes the JSON string `"expected"` when it is next, written without escapes; a
    /// text with `"` or `\` in it is never matched (its JSON form has escapes), so `false`
    /// means only "read it the long way".
    fn eat_unescaped_string(&mut self, expected: &str) -> bool {
        let end = self.pos + 1 + expected.len();
        let matches = self.bytes.get(self.pos) == Some(&b'"')
            && self.bytes.get(self.pos + 1..end) == Some(expected.as_bytes())
            && self.bytes.get(end) == Some(&b'"')
            && !expected.contains(['"', '\\']);
        if matches {
            self.pos = end + 1;
        }
        matches
    }

    /// A string literal, borrowed from the text when it has no escapes.
    fn string(&mut self) -> Read<Cow<'a, str>> {
        self.expect(b'"')?;
        let start = self.pos;
        // Fast path: most names and values have no escapes.
        loop {
            match self.peek() {
                Some(b'"') => {
                    let text = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(text));
                }
                Some(b'\\') => break,
                Some(_) => self.pos += 1,
                None => return Err(self.fail("unterminated string")),
            }
        }
        let mut owned = String::from(&self.text[start..self.pos]);
        loop {
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' {
                    break;
                }
                self.pos += 1;
            }
            // Both delimiters are ASCII, so the run ends on a character boundary.
            owned.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(owned));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = self.escape()?;
                    owned.push(escaped);
                }
                _ => return Err(self.fail("unterminated string")),
            }
        }
    }

    fn escape(&mut self) -> Read<char> {
        let Some(byte) = self.peek() else {
            return Err(self.fail("unterminated escape"));
        };
        self.pos += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                if (0xD800..0xDC00).contains(&first) {
                    if !(self.eat(b'\\') && self.eat(b'u')) {
                        return Err(self.fail("unpaired surrogate in \\u escape"));
                    }
                    let second = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return Err(self.fail("unpaired surrogate in \\u escape"));
                    }
                    let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    char::from_u32(code).ok_or_else(|| self.fail("bad \\u escape"))?
                } else {
                    char::from_u32(first).ok_or_else(|| self.fail("bad \\u escape"))?
                }
            }
            _ => return Err(self.fail("unknown escape")),
        })
    }

    fn hex4(&mut self) -> Read<u32> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.fail("short \\u escape"))?;
        let code = u32::from_str_radix(digits, 16).map_err(|_| self.fail("bad \\u escape"))?;
        self.pos += 4;
        Ok(code)
    }
}

/// The powers of ten that are exact in an `f64`.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A finite `f64` from a JSON number literal, correctly rounded.
fn parse_f64(literal: &str) -> Option<f64> {
    literal.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The serde_json number a literal stands for, as serde_json itself would type it: integer
/// literals that fit `u64` or `i64` stay integers, everything else is an `f64`.
fn json_number(literal: &str, integral: bool) -> Option<Number> {
    if integral {
        if let Ok(n) = literal.parse::<u64>() {
            return Some(Number::from(n));
        }
        if let Ok(n) = literal.parse::<i64>() {
            return Some(Number::from(n));
        }
    }
    parse_f64(literal).and_then(Number::from_f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameters_round_trip_exactly_in_order() {
        let parameters = Parameters::from_json(&json!({
            "z": 1e21, "tiny": 1e-7, "mode": "SAFE \"quoted\" \\ é \u{1F680}", "flag": true,
            "neg": -150, "frac": 0.30000000000000004, "big": 300_000_000_000_000_070_000.0,
            "zero": -0.0, "off": false
        }))
        .unwrap();
        let text = to_json(&parameters).unwrap();
        let back = read_parameters(&text).unwrap();
        assert_eq!(back, parameters);
        let names: Vec<&str> = back.names().iter().map(ParameterName::as_str).collect();
        assert_eq!(
            names,
            [
                "z", "tiny", "mode", "flag", "neg", "frac", "big", "zero", "off"
            ]
        );
    }

    #[test]
    fn every_f64_bit_pattern_sampled_round_trips() {
        // A deterministic walk over bit patterns covering subnormals, huge and tiny values.
        let mut bits: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            bits = bits
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let value = f64::from_bits(bits);
            if !value.is_finite() {
                continue;
            }
            let name = ParameterName::parse("v").unwrap();
            let parameters = Parameters::new([(name, ParameterValue::Number(value))]).unwrap();
            let back = read_parameters(&to_json(&parameters).unwrap()).unwrap();
            assert_eq!(
                back.values()[0].as_number().map(f64::to_bits),
                Some(if value == 0.0 { 0 } else { value.to_bits() }),
                "{value:e}"
            );
        }
    }

    #[test]
    fn numbers_read_exactly_as_the_standard_parser_reads_them() {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        for _ in 0..50_000 {
            let digits: String = (0..1 + next(24))
                .map(|_| char::from(b'0' + next(10) as u8))
                .collect();
            let digits = digits.trim_start_matches('0');
            let digits = if digits.is_empty() { "0" } else { digits };
            let split = next(digits.len() as u64 + 1) as usize;
            let mut literal = String::new();
            if next(2) == 0 {
                literal.push('-');
            }
            literal.push_str(&digits[..split.max(1)]);
            if split < digits.len() && split > 0 {
                literal.push('.');
                literal.push_str(&digits[split..]);
            }
            match next(3) {
                0 => literal.push_str(&format!("e{}", next(40))),
                1 => literal.push_str(&format!("E-{}", next(40))),
                _ => {}
            }
            let expected: f64 = literal.parse().unwrap();
            let got = read_parameter_value(&literal).unwrap().as_number().unwrap();
            assert_eq!(got.to_bits(), expected.to_bits(), "{literal}");
        }
    }

    #[test]
    fn objects_keep_order_and_integer_types() {
        let text = r#"{"parameters":{"temp":{"warnHigh":45,"critLow":-1.5}},"note":"kept","n":null,"a":[1,2.5e-3,true]}"#;
        let object = read_object(text).unwrap();
        assert_eq!(
            serde_json::to_string(&object).unwrap(),
            text.replace("2.5e-3", "0.0025")
        );
        assert!(object["parameters"]["temp"]["warnHigh"].is_u64());
        assert!(object["parameters"]["temp"]["critLow"].is_f64());
    }

    #[test]
    fn a_run_of_one_layout_reads_each_name_as_written() {
        let layout = |value: serde_json::Value| Parameters::from_json(&value).unwrap();
        let names = |p: &Parameters| -> Vec<String> {
            p.names().iter().map(|n| n.as_str().to_owned()).collect()
        };
        // Names with escapes in their JSON form are read back from a previous snapshot of the
        // same layout as they are from none.
        let escaped = layout(json!({"a\"b": 1, "temp": 2, "x\\": 3}));
        let text = to_json(&escaped).unwrap();
        assert_eq!(
            read_parameters_like(&text, Some(&escaped)).unwrap(),
            escaped
        );
        // The previous name `a\"b` is not the stored key `"a\"b"` (which is `a"b`), and
        // `temp` is not `temperature`: each is read as written, not borrowed.
        let previous = layout(json!({"a\\\"b": 1, "temp": 2}));
        let read = read_parameters_like(r#"{"a\"b":1,"temperature":2}"#, Some(&previous)).unwrap();
        assert_eq!(names(&read), ["a\"b", "temperature"]);
        let read = read_parameters_like(r#"{"tem":1}"#, Some(&layout(json!({"temp": 1})))).unwrap();
        assert_eq!(names(&read), ["tem"]);
        // Fewer, more or repeated names than the previous layout's.
        let ab = layout(json!({"a": 1, "b": 2}));
        let read = read_parameters_like(r#"{"a":5}"#, Some(&ab)).unwrap();
        assert_eq!(read, layout(json!({"a": 5})));
        let read = read_parameters_like(r#"{"a":5,"b":6,"c":7}"#, Some(&ab)).unwrap();
        assert_eq!(read, layout(json!({"a": 5, "b": 6, "c": 7})));
        let read = read_parameters_like(r#"{"b":5,"a":6}"#, Some(&ab)).unwrap();
        assert_eq!(names(&read), ["b", "a"]);
        assert!(read_parameters_like(r#"{"a":5,"a":6}"#, Some(&ab)).is_err());
        assert_eq!(
            read_parameters_like("{}", Some(&ab)).unwrap(),
            layout(json!({}))
        );
    }

    #[test]
    fn escapes_are_decoded() {
        let value = read_value(r#""a\"b\\c\/d\n\u00e9\ud83d\ude80""#).unwrap();
        assert_eq!(value, json!("a\"b\\c/d\né\u{1F680}"));
    }

    #[test]
    fn malformed_text_is_an_error_not_a_panic() {
        for bad in [
            "",
            "{",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "[1,]",
            "\"abc",
            "01x",
            "-",
            "1.",
            "1e",
            "{\"a\":null}",
            "\"\\ud800\"",
            "\"\\u12\"",
            "{} x",
            "1e400",
        ] {
            let parameters = read_parameters(bad);
            let value = read_value(bad);
            assert!(
                parameters.is_err() && (value.is_err() || bad == "{\"a\":null}"),
                "{bad:?}"
            );
        }
        assert!(read_parameter_value("null").is_err());
        assert!(read_object("[1]").is_err());
        assert!(read_strings("[1]").is_err());
        assert!(read_value(&"[".repeat(MAX_DEPTH + 5)).is_err());
    }
}
