//! The one error type of the core boundary: domain parsing, rule compilation, ports and services.

use std::fmt;

/// A boxed error from a storage backend or another adapter.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the core, in a shape a frontend maps once to an HTTP status or
/// an exit code.
///
/// `Invalid` is always the caller's fault (HTTP 400) and names the field, as a dotted path where
/// the value is nested (`snapshots[3].parameters.temp`). `NotFound` is 404, `Conflict` 409,
/// `Unavailable` a storage backend that cannot answer now and may later (503: worth retrying),
/// and `Backend` is an internal failure whose text must not be shown to a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value given by the caller is not acceptable.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, as a dotted path (`parameters.temp.warnHigh`).
        field: String,
        /// Why it is not acceptable, as a sentence fragment.
        reason: String,
    },
    /// The thing asked for does not exist.
    #[error("{entity} '{id}' was not found")]
    NotFound {
        /// What kind of thing (`spacecraft`, `document`, …).
        entity: &'static str,
        /// Its id as given.
        id: String,
    },
    /// The request clashes with what is stored.
    #[error("{entity} '{id}': {reason}")]
    Conflict {
        /// What kind of thing (`spacecraft`, `snapshot`, …).
        entity: &'static str,
        /// Its id.
        id: String,
        /// What clashes.
        reason: String,
    },
    /// The storage backend or another adapter failed.
    #[error("storage backend failed: {0}")]
    Backend(#[source] BoxError),
    /// The storage backend cannot answer now: its server cannot be reached or the connection
    /// broke, no connection came free in time, another process held the database locked past
    /// the wait, or its disk is full. Worth retrying once that passes. A write that failed so
    /// was not stored, unless the connection broke while it committed; telemetry is idempotent
    /// by snapshot id, so sending it again is always safe.
    #[error("storage backend unavailable: {0}")]
    Unavailable(#[source] BoxError),
}

/// The most characters of a bad value an error message quotes (see [`quote`]).
pub const QUOTE_CHARS: usize = 64;

/// The most characters an error keeps of a field path; longer ones (a path through keys a
/// client chose) end in `…`.
pub const MAX_FIELD_CHARS: usize = 200;

/// The most characters an error keeps of its reason, of an id it names, or of a conflict's
/// reason; longer ones end in `…`. Reasons are written here and quote values through
/// [`quote`], so this only catches what slipped through: an error answer stays small
/// whatever a client sent.
pub const MAX_REASON_CHARS: usize = 300;

/// `value` quoted for an error message: at most its first [`QUOTE_CHARS`] characters, in
/// double quotes with Rust's escapes, followed by `…` when the value is longer. An error
/// about a 10 MiB string then says which string without sending it back.
///
/// ```
/// assert_eq!(missionops_core::quote("5x"), r#""5x""#);
/// let long = "a".repeat(1000);
/// assert_eq!(missionops_core::quote(&long), format!("\"{}\"…", "a".repeat(64)));
/// ```
pub fn quote(value: &str) -> String {
    match value.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
        None => format!("{value:?}"),
    }
}

/// `text` cut to at most `max` characters, ending in `…` when it was cut.
fn bounded(mut text: String, max: usize) -> String {
    if let Some((cut, _)) = text.char_indices().nth(max) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

impl Error {
    /// An [`Error::Invalid`] for `field`. The field is kept to [`MAX_FIELD_CHARS`] and the
    /// reason to [`MAX_REASON_CHARS`].
    pub fn invalid(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        Error::Invalid {
            field: bounded(field.into(), MAX_FIELD_CHARS),
            reason: bounded(reason.to_string(), MAX_REASON_CHARS),
        }
    }

    /// An [`Error::NotFound`]; the id is kept to [`MAX_REASON_CHARS`].
    pub fn not_found(entity: &'static str, id: impl fmt::Display) -> Self {
        Error::NotFound {
            entity,
            id: bounded(id.to_string(), MAX_REASON_CHARS),
        }
    }

    /// An [`Error::Conflict`]; id and reason are kept to [`MAX_REASON_CHARS`].
    pub fn conflict(
        entity: &'static str,
        id: impl fmt::Display,
        reason: impl fmt::Display,
    ) -> Self {
        Error::Conflict {
            entity,
            id: bounded(id.to_string(), MAX_REASON_CHARS),
            reason: bounded(reason.to_string(), MAX_REASON_CHARS),
        }
    }

    /// Wraps an adapter failure as [`Error::Backend`].
    pub fn backend(err: impl Into<BoxError>) -> Self {
        Error::Backend(err.into())
    }

    /// Wraps a backend's failure to answer now as [`Error::Unavailable`].
    pub fn unavailable(err: impl Into<BoxError>) -> Self {
        Error::Unavailable(err.into())
    }

    /// The same error with its field placed under `prefix` (`parameters.temp` under `snapshots[2]`
    /// becomes `snapshots[2].parameters.temp`). Other variants are returned unchanged.
    #[must_use]
    pub fn within(self, prefix: &str) -> Self {
        match self {
            Error::Invalid { field, reason } => Error::Invalid {
                field: bounded(
                    if field.is_empty() {
                        prefix.to_owned()
                    } else if field.starts_with('[') {
                        format!("{prefix}{field}")
                    } else {
                        format!("{prefix}.{field}")
                    },
                    MAX_FIELD_CHARS,
                ),
                reason,
            },
            other => other,
        }
    }
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_prefixes_the_field_of_invalid_errors() {
        let err = Error::invalid("parameters.temp", "must not be null").within("snapshots[2]");
        assert_eq!(
            err.to_string(),
            "snapshots[2].parameters.temp: must not be null"
        );
        let err = Error::invalid("[3]", "bad").within("snapshots");
        assert_eq!(err.to_string(), "snapshots[3]: bad");
    }

    #[test]
    fn quotes_keep_a_short_prefix_of_long_values() {
        assert_eq!(quote("abc"), "\"abc\"");
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        let exactly = "é".repeat(QUOTE_CHARS);
        assert_eq!(quote(&exactly), format!("\"{exactly}\""));
        let long = "é".repeat(10 * 1024 * 1024);
        let quoted = quote(&long);
        assert_eq!(quoted, format!("\"{}\"…", "é".repeat(QUOTE_CHARS)));
    }

    #[test]
    fn errors_keep_fields_reasons_and_ids_short_whatever_they_are_given() {
        let huge = "k".repeat(10 * 1024 * 1024);
        let err = Error::invalid(format!("parameters.{huge}"), format!("bad {huge}"));
        assert!(err.to_string().len() < 2 * (MAX_FIELD_CHARS + MAX_REASON_CHARS));
        assert!(err.to_string().contains('…'));
        let err = Error::invalid(huge.clone(), "x").within("snapshots[1]");
        let Error::Invalid { field, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(field.chars().count(), MAX_FIELD_CHARS + 1);
        assert!(Error::not_found("document", &huge).to_string().len() < 400);
        assert!(
            Error::conflict("snapshot", &huge, &huge).to_string().len() < 2 * MAX_REASON_CHARS + 50
        );
        let short = Error::invalid("limit", "must be an integer from 1 to 100");
        assert_eq!(short.to_string(), "limit: must be an integer from 1 to 100");
    }

    #[test]
    fn within_leaves_other_errors_alone() {
        let err = Error::not_found("spacecraft", "SC-9").within("x");
        assert_eq!(err.to_string(), "spacecraft 'SC-9' was not found");
    }
}
