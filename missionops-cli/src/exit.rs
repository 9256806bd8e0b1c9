//! Failures as the shell sees them: one line on stderr and an exit status by kind.
//!
//! The mapping is made once, here, from the first [`missionops_core::Error`] found in the error's
//! chain; the top-level `--help` documents it.

use std::process::ExitCode;

use missionops_core::Error;

/// Success.
pub(crate) const SUCCESS: u8 = 0;
/// Storage, network or file failure, or anything not covered below.
pub(crate) const FAILURE: u8 = 1;
/// Invalid input (clap uses 2 for bad arguments too).
pub(crate) const INVALID: u8 = 2;
/// Something asked for does not exist.
pub(crate) const NOT_FOUND: u8 = 3;
/// The data clashes with what is stored.
pub(crate) const CONFLICT: u8 = 4;
/// The store cannot answer now (the database is locked by another process past the wait, its
/// server cannot be reached, its disk is full): worth running again.
pub(crate) const UNAVAILABLE: u8 = 5;

/// The exit status of a failed run.
pub(crate) fn code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if let Some(core) = cause.downcast_ref::<Error>() {
            return match core {
                Error::Invalid { .. } => INVALID,
                Error::NotFound { .. } => NOT_FOUND,
                Error::Conflict { .. } => CONFLICT,
                Error::Unavailable(_) => UNAVAILABLE,
                _ => FAILURE,
            };
        }
    }
    FAILURE
}

/// Whether the run failed only because the reader of stdout went away (`missionops export |
/// head`), which is how pipelines end and not a failure worth reporting.
pub(crate) fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, `context: cause: cause`. A cause whose text its
/// parent already quotes (a core `Backend` error displays its source) is not repeated.
pub(crate) fn one_line(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if parts.last().is_some_and(|parent| parent.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts
        .join(": ")
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reports `error` on stderr and turns it into the process's exit status.
pub(crate) fn report(error: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(error) {
        return ExitCode::from(SUCCESS);
    }
    eprintln!("error: {}", one_line(error));
    ExitCode::from(code(error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn core_errors_map_to_their_exit_status_through_context() {
        let cases = [
            (Error::invalid("limit", "too big"), INVALID),
            (Error::not_found("spacecraft", "SC-9"), NOT_FOUND),
            (Error::conflict("snapshot", "s1", "differs"), CONFLICT),
            (Error::backend("corrupt row"), FAILURE),
            (Error::unavailable("database is locked"), UNAVAILABLE),
        ];
        for (error, expected) in cases {
            let wrapped = Err::<(), _>(error).context("while testing").unwrap_err();
            assert_eq!(code(&wrapped), expected, "{wrapped:#}");
        }
        assert_eq!(code(&anyhow::anyhow!("plain")), FAILURE);
    }

    #[test]
    fn a_cause_quoted_by_its_parent_is_not_repeated() {
        let error =
            anyhow::Error::new(Error::backend("pool timed out")).context("cannot open database");
        assert_eq!(
            one_line(&error),
            "cannot open database: storage backend failed: pool timed out"
        );
    }

    #[test]
    fn a_multi_line_error_is_reported_on_one_line() {
        let error = anyhow::anyhow!("first\nsecond\r\nthird").context("outer");
        assert_eq!(one_line(&error), "outer: first second third");
    }
}
