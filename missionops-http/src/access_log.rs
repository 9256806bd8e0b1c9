//! The access log: which finished requests get a log line, and at which level.
//!
//! A busy server answers thousands of requests a second; one info line for each buried the lines
//! that matter (70 MB of log in a minute of load) and cost the server time. So:
//! - a 5xx is logged at error, always, with its internal cause when it has one;
//! - a request that took at least [`HttpConfig::slow_request`] is logged at warn, whatever its
//!   status;
//! - every other request (successes and 4xx) is logged at info when
//!   [`HttpConfig::access_log`] is on, else at debug. A 4xx is the client's mistake, already
//!   explained in its answer; a client repeating one must not flood the server's log.
//!
//! Every line has the target [`TARGET`], so `RUST_LOG=info,missionops_http::access=debug` turns
//! the per-request log on without the flag, and `…=error` keeps only the failures. The counts and
//! latencies of every request are in `/metrics` whatever is logged.

use std::time::Duration;

use axum::http::{Method, StatusCode};

use crate::state::HttpConfig;

/// The `tracing` target of every access-log line.
pub(crate) const TARGET: &str = "missionops_http::access";

/// What is logged about one finished request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Line {
    /// A 5xx: at error.
    Failed,
    /// Slower than the threshold: at warn.
    Slow,
    /// The access log is on: at info.
    Access,
    /// Everything else: at debug, off at the default level.
    Quiet,
}

impl Line {
    /// The line for a request answered `status` after `elapsed`, under `config`.
    pub(crate) fn of(config: &HttpConfig, status: StatusCode, elapsed: Duration) -> Line {
        if status.is_server_error() {
            Line::Failed
        } else if elapsed >= config.slow_request {
            Line::Slow
        } else if config.access_log {
            Line::Access
        } else {
            Line::Quiet
        }
    }
}

/// One finished request, as the access log shows it.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    /// The method.
    pub method: &'a Method,
    /// The path asked for.
    pub path: &'a str,
    /// The route that served it (`/spacecraft/{id}`), or `unmatched`.
    pub route: &'a str,
    /// The answer's status.
    pub status: StatusCode,
    /// From the request's arrival to its response's start.
    pub elapsed: Duration,
    /// The cause of a 5xx, never sent to the client.
    pub cause: Option<&'a str>,
}

/// Logs `request` as [`Line::of`] says.
pub(crate) fn record(config: &HttpConfig, request: &Request<'_>) {
    let Request {
        method,
        path,
        route,
        status,
        elapsed,
        cause,
    } = request;
    let status = status.as_u16();
    let millis = elapsed.as_secs_f64() * 1000.0;
    // `tracing` levels are fixed per call site, hence one call per line kind.
    match Line::of(config, request.status, *elapsed) {
        Line::Failed => match cause {
            Some(cause) => {
                tracing::error!(target: TARGET, %method, %path, %route, status, millis, %cause, "request failed");
            }
            None => {
                tracing::error!(target: TARGET, %method, %path, %route, status, millis, "request failed")
            }
        },
        Line::Slow => {
            tracing::warn!(target: TARGET, %method, %path, %route, status, millis, "slow request");
        }
        Line::Access => {
            tracing::info!(target: TARGET, %method, %path, %route, status, millis, "request")
        }
        Line::Quiet => {
            tracing::debug!(target: TARGET, %method, %path, %route, status, millis, "request")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(access_log: bool) -> HttpConfig {
        HttpConfig {
            access_log,
            slow_request: Duration::from_secs(1),
            ..HttpConfig::default()
        }
    }

    #[test]
    fn successes_and_client_errors_are_quiet_unless_the_access_log_is_on() {
        let fast = Duration::from_millis(3);
        for status in [StatusCode::OK, StatusCode::CREATED, StatusCode::CONFLICT] {
            assert_eq!(Line::of(&config(false), status, fast), Line::Quiet);
            assert_eq!(Line::of(&config(true), status, fast), Line::Access);
        }
    }

    #[test]
    fn server_errors_always_and_slow_requests_from_the_threshold_on_are_logged() {
        for access_log in [false, true] {
            let config = config(access_log);
            let fast = Duration::from_millis(1);
            assert_eq!(
                Line::of(&config, StatusCode::INTERNAL_SERVER_ERROR, fast),
                Line::Failed
            );
            assert_eq!(
                Line::of(
                    &config,
                    StatusCode::SERVICE_UNAVAILABLE,
                    Duration::from_secs(9)
                ),
                Line::Failed,
                "a slow failure is logged as the failure it is"
            );
            assert_eq!(
                Line::of(&config, StatusCode::OK, Duration::from_secs(1)),
                Line::Slow
            );
            assert_eq!(
                Line::of(&config, StatusCode::NOT_FOUND, Duration::from_millis(1500)),
                Line::Slow
            );
            assert_ne!(
                Line::of(&config, StatusCode::OK, Duration::from_millis(999)),
                Line::Slow
            );
        }
    }
}
