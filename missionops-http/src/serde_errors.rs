//! serde's error messages as reasons a client can read: JSON's names for JSON's types, no
//! Rust type names (`expected struct Acknowledgement`), and never more than a short prefix of
//! the value that was refused (a 10 MiB string is not sent back).

use missionops_core::{QUOTE_CHARS, quote};

/// serde's `message` (its position already cut off) as the reason of a 400:
/// `invalid type: string "x", expected struct Acknowledgement` becomes
/// `must be an object (got the string "x")`. Messages of other shapes (the domain parsers'
/// own sentences) are kept, with any quoted value cut to [`QUOTE_CHARS`] characters.
pub(crate) fn reason(message: &str) -> String {
    let unexpected = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    if let Some((got, expected)) = unexpected.and_then(split_unexpected) {
        return format!("must be {} (got {got})", expected_phrase(expected));
    }
    if let Some((count, expected)) = message
        .strip_prefix("invalid length ")
        .and_then(|rest| rest.split_once(", expected "))
    {
        return format!("must be {} (got {count} items)", expected_phrase(expected));
    }
    if let Some((variant, expected)) = message
        .strip_prefix("unknown variant `")
        .and_then(|rest| rest.split_once("`, expected "))
    {
        return format!("must be {} (got {})", names(expected), quote(variant));
    }
    // The path names the unknown field itself (`mood: is not a known field`).
    if let Some(rest) = message.strip_prefix("unknown field `") {
        return match rest.split_once("`, expected ") {
            Some((_, expected)) => format!("is not a known field (known: {})", names(expected)),
            None => "is not a known field".to_owned(),
        };
    }
    if let Some(rest) = message.strip_prefix("duplicate field `") {
        return format!("has the field {} twice", quote(rest.trim_end_matches('`')));
    }
    if message.starts_with("data did not match any variant of untagged enum") {
        return "does not match any accepted form".to_owned();
    }
    shorten_quotes(message)
}

/// Splits `<unexpected>, expected <expected>` into a description of what was got and the
/// expected part. A string is quoted with escapes and may itself hold `, expected`.
fn split_unexpected(rest: &str) -> Option<(String, &str)> {
    if let Some(quoted) = rest.strip_prefix("string \"") {
        let end = closing_quote(quoted)?;
        let expected = quoted[end + 1..].strip_prefix(", expected ")?;
        return Some((
            format!("the string {}", shorten_escaped(&quoted[..end])),
            expected,
        ));
    }
    let (got, expected) = rest.split_once(", expected ")?;
    let literal = |prefix: &str| {
        got.strip_prefix(prefix)
            .map(|v| v.trim_matches('`').to_owned())
    };
    let got = literal("boolean ")
        .or_else(|| literal("integer "))
        .or_else(|| literal("floating point "))
        .or_else(|| literal("character ").map(|c| quote(&c)))
        .unwrap_or_else(|| match got {
            "unit value" | "null" => "null".to_owned(),
            "sequence" => "an array".to_owned(),
            "map" => "an object".to_owned(),
            other => shorten_quotes(other),
        });
    Some((got, expected))
}

/// The byte index of the `"` that closes an escaped string starting at `text`'s beginning.
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// An escaped string's content, requoted and cut to [`QUOTE_CHARS`] characters.
fn shorten_escaped(content: &str) -> String {
    match content.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => {
            let mut prefix = &content[..cut];
            // Do not end inside an escape (`\` alone would escape the closing quote).
            let trailing = prefix.len() - prefix.trim_end_matches('\\').len();
            if trailing % 2 == 1 {
                prefix = &prefix[..prefix.len() - 1];
            }
            format!("\"{prefix}\"…")
        }
        None => format!("\"{content}\""),
    }
}

/// What serde expected, in JSON's words.
fn expected_phrase(expected: &str) -> String {
    let expected = expected.trim();
    let plain = match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer",
        "f32" | "f64" => "a number",
        "a string" | "a borrowed string" | "a character" | "char" | "string" => "a string",
        "a boolean" | "bool" => "true or false",
        "unit" | "a unit" => "null",
        "a sequence" | "sequence" | "an array" => "an array",
        "a map" | "map" => "an object",
        "option" => "a value or null",
        _ if expected.starts_with("struct ")
            || expected.starts_with("tuple struct ")
            || expected.starts_with("struct variant ")
            || expected.starts_with("unit struct ") =>
        {
            "an object"
        }
        _ if expected.starts_with("enum ") => "one of the accepted values",
        _ if expected.starts_with("tuple ") || expected.starts_with("an array of length") => {
            "an array"
        }
        other => return shorten_quotes(other),
    };
    plain.to_owned()
}

/// serde's list of names (`one of `a`, `b``, `` `a` or `b` ``) without the backticks.
fn names(expected: &str) -> String {
    let expected = expected.trim();
    if expected.starts_with("there are no") {
        return "none".to_owned();
    }
    shorten_quotes(&expected.replace('`', ""))
}

/// `text` with every double-quoted (escaped) string in it cut to [`QUOTE_CHARS`] characters.
fn shorten_quotes(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(512));
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match closing_quote(after) {
            Some(close) => {
                out.push_str(&shorten_escaped(&after[..close]));
                rest = &after[close + 1..];
            }
            None => {
                // An unbalanced quote: keep a short prefix of what follows it.
                out.push('"');
                out.push_str(shorten_escaped(after).trim_start_matches('"'));
                return out;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_type_names_become_json_words() {
        assert_eq!(
            reason(r#"invalid type: string "x", expected struct Acknowledgement"#),
            r#"must be an object (got the string "x")"#
        );
        assert_eq!(
            reason("invalid type: integer `5`, expected a string"),
            "must be a string (got 5)"
        );
        assert_eq!(
            reason("invalid type: sequence, expected struct NewSpacecraft"),
            "must be an object (got an array)"
        );
        assert_eq!(
            reason("invalid type: map, expected a sequence"),
            "must be an array (got an object)"
        );
        assert_eq!(
            reason("invalid type: unit value, expected a boolean"),
            "must be true or false (got null)"
        );
        assert_eq!(
            reason("invalid value: integer `-1`, expected u32"),
            "must be a non-negative integer (got -1)"
        );
        assert_eq!(
            reason("invalid type: floating point `2.5`, expected i64"),
            "must be an integer (got 2.5)"
        );
        assert_eq!(
            reason("unknown variant `loud`, expected one of `approved`, `draft`"),
            r#"must be one of approved, draft (got "loud")"#
        );
        assert_eq!(
            reason("unknown field `mood`, expected `by` or `comment`"),
            "is not a known field (known: by or comment)"
        );
        assert_eq!(
            reason("unknown field `mood`, there are no fields"),
            "is not a known field"
        );
        assert_eq!(
            reason("data did not match any variant of untagged enum Input"),
            "does not match any accepted form"
        );
        for message in [
            "invalid type: string \"x\", expected struct Acknowledgement",
            "invalid type: map, expected enum Kind",
            "invalid type: string \"x\", expected tuple struct Pair",
        ] {
            let reason = reason(message);
            assert!(
                !reason.contains("struct") && !reason.contains("enum"),
                "{reason}"
            );
        }
    }

    #[test]
    fn quoted_values_are_cut_to_a_short_prefix() {
        let long = "y".repeat(10 * 1024 * 1024);
        let message = format!("invalid type: string \"{long}\", expected a boolean");
        let reason = reason(&message);
        assert_eq!(
            reason,
            format!(
                "must be true or false (got the string \"{}\"…)",
                "y".repeat(QUOTE_CHARS)
            )
        );
        // A string that itself holds `, expected` and escapes.
        let tricky = format!("invalid type: string \"a\\\", expected b{long}\", expected u8");
        assert!(
            super::reason(&tricky)
                .starts_with("must be a non-negative integer (got the string \"a\\\", expected b")
        );
        assert!(super::reason(&tricky).len() < 200);
        let custom = format!("must be one of LOW, HIGH (got \"{long}\")");
        assert!(super::reason(&custom).len() < 200);
        let variant = format!("unknown variant `{long}`, expected `a` or `b`");
        assert!(super::reason(&variant).len() < 200);
    }

    #[test]
    fn a_cut_never_leaves_a_lone_backslash_before_the_closing_quote() {
        let content = format!("{}\\\"rest", "a".repeat(QUOTE_CHARS - 1));
        let shortened = shorten_escaped(&content);
        assert_eq!(shortened, format!("\"{}\"…", "a".repeat(QUOTE_CHARS - 1)));
    }
}
