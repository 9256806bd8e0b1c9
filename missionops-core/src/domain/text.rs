//! Bounded text newtypes: ids and names that are checked once, when parsed.

use crate::error::{Error, Result};

/// How strict a text newtype is about its characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextRule {
    /// No whitespace, no control characters, no `/` (ids travel in URL paths).
    Identifier,
    /// Any printable text without control characters, not blank.
    Label,
}

/// Checks `value` for a text newtype: not empty, at most `max` bytes, allowed characters.
pub(crate) fn check_text(field: &str, value: &str, max: usize, rule: TextRule) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} bytes long (got {})", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    match rule {
        TextRule::Identifier => {
            if value.chars().any(char::is_whitespace) {
                return Err(Error::invalid(field, "must not contain whitespace"));
            }
            if value.contains('/') {
                return Err(Error::invalid(field, "must not contain '/'"));
            }
        }
        TextRule::Label => {
            if value.trim().is_empty() {
                return Err(Error::invalid(field, "must not be blank"));
            }
        }
    }
    Ok(())
}

/// A JSON string as text: borrowed from the input when it holds no escapes (serde_json over a
/// byte slice, as the HTTP bodies are parsed), owned otherwise. serde's own `Cow<str>` always
/// copies into a `String`, one allocation more for every id and name of a request.
pub(crate) fn deserialize_text<'de, D>(
    d: D,
) -> std::result::Result<std::borrow::Cow<'de, str>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct TextVisitor;
    impl<'de> serde::de::Visitor<'de> for TextVisitor {
        type Value = std::borrow::Cow<'de, str>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E: serde::de::Error>(
            self,
            v: &'de str,
        ) -> std::result::Result<Self::Value, E> {
            Ok(std::borrow::Cow::Borrowed(v))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
            Ok(std::borrow::Cow::Owned(v.to_owned()))
        }
        fn visit_string<E: serde::de::Error>(
            self,
            v: String,
        ) -> std::result::Result<Self::Value, E> {
            Ok(std::borrow::Cow::Owned(v))
        }
    }
    d.deserialize_str(TextVisitor)
}

/// [`deserialize_text`] as a seed, for map keys.
pub(crate) struct TextSeed;

impl<'de> serde::de::DeserializeSeed<'de> for TextSeed {
    type Value = std::borrow::Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        deserialize_text(d)
    }
}

/// Declares a parsed text newtype with `parse`, `as_str`, `Display`, `FromStr`, serde as a plain
/// JSON string, and the bounds given.
macro_rules! text_newtype {
    ($(#[$meta:meta])* $name:ident, field = $field:literal, max = $max:expr, rule = $rule:ident) => {
        $(#[$meta])*
        ///
        /// Held as a shared `Arc<str>`: ids and names are cloned into every anomaly, event and
        /// alarm, and a clone is then a reference-count increment instead of an allocation.
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(std::sync::Arc<str>);

        impl $name {
            /// The longest accepted value, in bytes.
            pub const MAX_LEN: usize = $max;
            /// The field name used in error messages.
            pub const FIELD: &'static str = $field;

            /// Parses `value`, naming the field in the error when it is not acceptable.
            pub fn parse(value: impl AsRef<str>) -> $crate::error::Result<Self> {
                let value = value.as_ref();
                $crate::domain::text::check_text(
                    $field,
                    value,
                    $max,
                    $crate::domain::text::TextRule::$rule,
                )?;
                // Straight into the shared form: one allocation, whether given a `&str` (as
                // rows read back are) or a `String`.
                Ok(Self(value.into()))
            }

            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value as an owned string.
            pub fn into_string(self) -> String {
                self.0.to_string()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = $crate::domain::text::deserialize_text(d)?;
                Self::parse(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use text_newtype;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_reject_empty_long_spaced_and_slashed_values() {
        for bad in ["", "a b", "a/b", "tab\there", "nul\u{0}"] {
            assert!(
                check_text("id", bad, 10, TextRule::Identifier).is_err(),
                "{bad:?}"
            );
        }
        assert!(check_text("id", "abcdefghijk", 10, TextRule::Identifier).is_err());
        assert!(check_text("id", "SC-001", 10, TextRule::Identifier).is_ok());
    }

    #[test]
    fn labels_allow_spaces_but_not_blank_or_control_text() {
        assert!(check_text("name", "Sat Imager 1", 64, TextRule::Label).is_ok());
        assert!(check_text("name", "   ", 64, TextRule::Label).is_err());
        assert!(check_text("name", "a\nb", 64, TextRule::Label).is_err());
    }

    #[test]
    fn the_error_names_the_field() {
        let err = check_text("spacecraftId", "", 10, TextRule::Identifier).unwrap_err();
        assert_eq!(err.to_string(), "spacecraftId: must not be empty");
    }
}
