//! Size limits of the free-form JSON documents clients store: spacecraft metadata and
//! configurations. Both are kept as given and sent back whole — metadata in every page of
//! the spacecraft list, a configuration with every version of its history — so an unbounded
//! one makes every later read of it as large as the largest write.

use std::io::Write;

use serde_json::Value;

use super::spacecraft::{JsonObject, reject_nul};
use crate::error::{Error, Result};

/// The largest spacecraft metadata, as compact JSON: 64 KiB. Metadata describes a spacecraft
/// (identifiers, orbit, owner, notes); a list page of 100 spacecraft stays under 6.4 MB.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// The most keys spacecraft metadata may hold, counted at every depth.
pub const MAX_METADATA_KEYS: usize = 1_000;

/// How deeply metadata may nest objects and arrays (the metadata object itself is level 1).
pub const MAX_METADATA_DEPTH: usize = 16;

/// The largest configuration document, as compact JSON: 1 MiB, the limit of a document body.
/// A rule with every beyond-compat field is well under 1 KiB, so this leaves room for the
/// most parameters a configuration may have ([`MAX_CONFIG_PARAMETERS`]) with plain limits.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// The most parameters (rules) a configuration may have: ten times the parameters of one
/// snapshot, for spacecraft whose parameters arrive in several packets.
pub const MAX_CONFIG_PARAMETERS: usize = 10_000;

/// How deeply a configuration may nest objects and arrays (a rule's `limitSets[i].when` is
/// level 5).
pub const MAX_CONFIG_DEPTH: usize = 32;

/// Checks spacecraft metadata: no NUL characters, at most [`MAX_METADATA_BYTES`] as JSON,
/// [`MAX_METADATA_KEYS`] keys and [`MAX_METADATA_DEPTH`] levels; the error names `metadata`
/// and the limit.
pub fn check_metadata(metadata: &JsonObject) -> Result<()> {
    // Depth first: measuring the size and looking for NUL recurse through the document.
    let shape = Shape::of_object(metadata);
    if shape.depth > MAX_METADATA_DEPTH {
        return Err(Error::invalid(
            "metadata",
            format!("must not nest more than {MAX_METADATA_DEPTH} levels deep"),
        ));
    }
    let size = json_size(metadata, MAX_METADATA_BYTES);
    if size > MAX_METADATA_BYTES {
        return Err(Error::invalid(
            "metadata",
            format!("must be at most {MAX_METADATA_BYTES} bytes as JSON (64 KiB)"),
        ));
    }
    for (key, value) in metadata {
        reject_nul(&format!("metadata.{key}"), value)?;
    }
    if shape.keys > MAX_METADATA_KEYS {
        return Err(Error::invalid(
            "metadata",
            format!(
                "must have at most {MAX_METADATA_KEYS} keys in all (got {})",
                shape.keys
            ),
        ));
    }
    Ok(())
}

/// Checks the size of a configuration document: at most [`MAX_CONFIG_BYTES`] as JSON,
/// [`MAX_CONFIG_DEPTH`] levels and [`MAX_CONFIG_PARAMETERS`] parameters; the error names the
/// limit. Run before the rules are compiled, so that an oversize document costs no more than
/// measuring it.
pub(crate) fn check_config_size(document: &JsonObject) -> Result<()> {
    if let Some(Value::Object(parameters)) = document.get("parameters") {
        if parameters.len() > MAX_CONFIG_PARAMETERS {
            return Err(Error::invalid(
                "parameters",
                format!(
                    "must have at most {MAX_CONFIG_PARAMETERS} parameters (got {})",
                    parameters.len()
                ),
            ));
        }
    }
    // Depth first: measuring the size recurses through the document.
    if Shape::of_object(document).depth > MAX_CONFIG_DEPTH {
        return Err(Error::invalid(
            "config",
            format!("must not nest more than {MAX_CONFIG_DEPTH} levels deep"),
        ));
    }
    let size = json_size(document, MAX_CONFIG_BYTES);
    if size > MAX_CONFIG_BYTES {
        return Err(Error::invalid(
            "config",
            format!("must be at most {MAX_CONFIG_BYTES} bytes as JSON (1 MiB)"),
        ));
    }
    Ok(())
}

/// The length of `object` as compact JSON, counted up to a little past `limit` (the count
/// stops there: what matters is only whether it is over).
fn json_size(object: &JsonObject, limit: usize) -> usize {
    let mut counter = Counter {
        count: 0,
        stop_after: limit,
    };
    // The counter fails the write once past the limit, which ends serialisation early.
    let _ = serde_json::to_writer(&mut counter, object);
    counter.count
}

/// A writer that only counts, and fails once past `stop_after` bytes.
struct Counter {
    count: usize,
    stop_after: usize,
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.count = self.count.saturating_add(buf.len());
        if self.count > self.stop_after {
            return Err(std::io::Error::other("over the limit"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How many keys a JSON document holds at every depth, and how deeply it nests.
#[derive(Debug, Default, PartialEq, Eq)]
struct Shape {
    keys: usize,
    depth: usize,
}

impl Shape {
    fn of_object(object: &JsonObject) -> Self {
        let mut shape = Shape::default();
        // Iterative, so that a document nested deeper than any limit cannot exhaust the stack.
        let mut stack: Vec<(&Value, usize)> = object.values().map(|v| (v, 2)).collect();
        shape.keys = object.len();
        shape.depth = 1;
        while let Some((value, depth)) = stack.pop() {
            match value {
                Value::Object(map) => {
                    shape.depth = shape.depth.max(depth);
                    shape.keys += map.len();
                    stack.extend(map.values().map(|v| (v, depth + 1)));
                }
                Value::Array(items) => {
                    shape.depth = shape.depth.max(depth);
                    stack.extend(items.iter().map(|v| (v, depth + 1)));
                }
                _ => {}
            }
        }
        shape
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> JsonObject {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    /// An object nested `levels` deep: `{"n": {"n": … 1}}`.
    fn nested(levels: usize) -> JsonObject {
        let mut value = json!(1);
        for _ in 0..levels {
            // Not `json!({"n": value})`: that serializes `value` again, recursively.
            let mut level = JsonObject::new();
            level.insert("n".to_owned(), value);
            value = Value::Object(level);
        }
        object(value)
    }

    #[test]
    fn metadata_up_to_the_limits_is_accepted() {
        check_metadata(&object(json!({"norad": 25544, "orbit": {"apogee": 420}}))).expect("small");
        let at_size = "x".repeat(MAX_METADATA_BYTES - r#"{"note":""}"#.len());
        check_metadata(&object(json!({ "note": at_size }))).expect("exactly 64 KiB");
        check_metadata(&nested(MAX_METADATA_DEPTH)).expect("16 levels");
        let keys: JsonObject = (0..MAX_METADATA_KEYS)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect();
        check_metadata(&keys).expect("1,000 keys");
    }

    #[test]
    fn metadata_over_a_limit_is_refused_naming_the_limit() {
        let big = "x".repeat(10 * 1024 * 1024);
        let err = check_metadata(&object(json!({ "note": big }))).expect_err("10 MiB");
        assert_eq!(
            err.to_string(),
            "metadata: must be at most 65536 bytes as JSON (64 KiB)"
        );
        let just_over = "x".repeat(MAX_METADATA_BYTES - r#"{"note":""}"#.len() + 1);
        assert!(check_metadata(&object(json!({ "note": just_over }))).is_err());
        let err = check_metadata(&nested(MAX_METADATA_DEPTH + 1)).expect_err("too deep");
        assert_eq!(
            err.to_string(),
            "metadata: must not nest more than 16 levels deep"
        );
        let keys: JsonObject = (0..=MAX_METADATA_KEYS)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect();
        let err = check_metadata(&keys).expect_err("too many keys");
        assert_eq!(
            err.to_string(),
            "metadata: must have at most 1000 keys in all (got 1001)"
        );
        let err = check_metadata(&object(json!({"a": ["\u{0}"]}))).expect_err("NUL");
        assert_eq!(
            err.to_string(),
            "metadata.a[0]: must not contain NUL characters"
        );
    }

    #[test]
    fn a_document_nested_far_past_the_limit_is_measured_without_recursion() {
        // serde_json's own parser stops at 128 levels; a document built in code has no limit.
        let deep = nested(100_000);
        assert_eq!(Shape::of_object(&deep).depth, 100_000);
        drop_iteratively(deep);
    }

    /// Takes `object` apart level by level: dropping a value nested 100,000 deep recursively
    /// would overflow the test thread's stack.
    fn drop_iteratively(object: JsonObject) {
        let mut next = object;
        while let Some(Value::Object(inner)) = next.remove("n") {
            next = inner;
        }
    }

    #[test]
    fn configurations_are_bounded_in_size_parameters_and_depth() {
        let many: JsonObject = (0..=MAX_CONFIG_PARAMETERS)
            .map(|i| (format!("p{i}"), json!({"warnHigh": 1})))
            .collect();
        let config = object(json!({ "parameters": many }));
        assert_eq!(
            check_config_size(&config)
                .expect_err("too many")
                .to_string(),
            "parameters: must have at most 10000 parameters (got 10001)"
        );
        let config = object(json!({ "notes": "x".repeat(MAX_CONFIG_BYTES) }));
        assert_eq!(
            check_config_size(&config).expect_err("too big").to_string(),
            "config: must be at most 1048576 bytes as JSON (1 MiB)"
        );
        let mut deep = object(json!({ "parameters": {} }));
        deep.insert("x".to_owned(), Value::Object(nested(MAX_CONFIG_DEPTH)));
        assert!(check_config_size(&deep).is_err());
        let fine: JsonObject = (0..MAX_CONFIG_PARAMETERS)
            .map(|i| (format!("p{i}"), json!({"warnHigh": 1})))
            .collect();
        check_config_size(&object(json!({ "parameters": fine }))).expect("10,000 parameters");
    }
}
