//! The one error type of the core boundary: domain parsing, rule compilation, ports and services.

use std::fmt;

/// A boxed error from a storage backend or another adapter.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the core, in a shape a frontend maps once to an HTTP status or
/// an exit code.
///
/// `Invalid` is always the caller's fault (HTTP 400) and names the field, as a dotted path where
/// the value is nested (`snapshots[3].parameters.temp`). `NotFound` is 404, `Conflict` 409, and
/// `Backend` is an internal failure whose text must not be shown to a client.
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
}

impl Error {
    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// An [`Error::NotFound`].
    pub fn not_found(entity: &'static str, id: impl fmt::Display) -> Self {
        Error::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// An [`Error::Conflict`].
    pub fn conflict(
        entity: &'static str,
        id: impl fmt::Display,
        reason: impl fmt::Display,
    ) -> Self {
        Error::Conflict {
            entity,
            id: id.to_string(),
            reason: reason.to_string(),
        }
    }

    /// Wraps an adapter failure as [`Error::Backend`].
    pub fn backend(err: impl Into<BoxError>) -> Self {
        Error::Backend(err.into())
    }

    /// The same error with its field placed under `prefix` (`parameters.temp` under `snapshots[2]`
    /// becomes `snapshots[2].parameters.temp`). Other variants are returned unchanged.
    #[must_use]
    pub fn within(self, prefix: &str) -> Self {
        match self {
            Error::Invalid { field, reason } => Error::Invalid {
                field: if field.is_empty() {
                    prefix.to_owned()
                } else if field.starts_with('[') {
                    format!("{prefix}{field}")
                } else {
                    format!("{prefix}.{field}")
                },
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
    fn within_leaves_other_errors_alone() {
        let err = Error::not_found("spacecraft", "SC-9").within("x");
        assert_eq!(err.to_string(), "spacecraft 'SC-9' was not found");
    }
}
