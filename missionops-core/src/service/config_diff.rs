//! The diff recorded in a `CONFIG_CHANGED` event.

use serde_json::{Map, Value, json};

/// The changes from `before` to `after` as a JSON array of
/// `{"path": "parameters.temp.warnHigh", "change": "added"|"removed"|"changed", "from"?, "to"?}`,
/// descending into nested objects; arrays and scalars are compared whole.
pub(crate) fn config_diff(before: &Map<String, Value>, after: &Map<String, Value>) -> Value {
    let mut changes = Vec::new();
    walk("", before, after, &mut changes);
    Value::Array(changes)
}

fn walk(
    prefix: &str,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    out: &mut Vec<Value>,
) {
    let path = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    for (key, old) in before {
        match after.get(key) {
            None => out.push(json!({"path": path(key), "change": "removed", "from": old})),
            Some(new) if new == old => {}
            Some(Value::Object(new)) if old.is_object() => {
                if let Value::Object(old) = old {
                    walk(&path(key), old, new, out);
                }
            }
            Some(new) => {
                out.push(json!({"path": path(key), "change": "changed", "from": old, "to": new}));
            }
        }
    }
    for (key, new) in after {
        if !before.contains_key(key) {
            out.push(json!({"path": path(key), "change": "added", "to": new}));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_added_removed_and_changed_paths() {
        let before = json!({"parameters": {"temp": {"warnHigh": 45}, "old": {}}, "note": "a"});
        let after = json!({"parameters": {"temp": {"warnHigh": 50, "critHigh": 70}}, "note": "a"});
        let diff = config_diff(before.as_object().unwrap(), after.as_object().unwrap());
        assert_eq!(
            diff,
            json!([
                {"path": "parameters.temp.warnHigh", "change": "changed", "from": 45, "to": 50},
                {"path": "parameters.temp.critHigh", "change": "added", "to": 70},
                {"path": "parameters.old", "change": "removed", "from": {}},
            ])
        );
    }
}
