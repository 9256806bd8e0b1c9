//! The one error shape of the API (SPEC §5), and the one place core errors become statuses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use missionops_core::Error;
use serde_json::{Value, json};

/// An error answered as `{"error": "<Kind>", "message": "<sentence>", "details": [...]}`.
///
/// Internal failures answer `Internal` with a generic message; their cause travels in a
/// response extension (`InternalCause`) to the request-logging middleware, which logs it once.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    details: Vec<Value>,
    internal: Option<String>,
    /// Seconds for a `Retry-After` header, on a 503 that is worth retrying soon.
    retry_after: Option<u32>,
}

/// The body of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The kind: `InvalidInput`, `NotFound`, `Conflict`, `PayloadTooLarge`,
    /// `UnsupportedMediaType`, `MethodNotAllowed`, `Timeout`, `Unavailable`, `Unauthorized`,
    /// `Forbidden`, `TooManyRequests` or `Internal`.
    pub error: &'static str,
    /// A sentence for people, naming the field for bad input.
    pub message: String,
    /// Structured detail: `{field, reason}` for bad input, `{entity, id, reason}` for conflicts.
    #[schema(value_type = Vec<Object>)]
    pub details: Vec<Value>,
}

/// The cause of a 5xx, for the logging middleware; never sent to the client.
#[derive(Debug, Clone)]
pub struct InternalCause(pub String);

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            details: Vec::new(),
            internal: None,
            retry_after: None,
        }
    }

    /// 400: a field of the request is not acceptable.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::invalid(field, reason.into()).into()
    }

    /// 404 for a path no route serves.
    pub fn no_route(path: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no route serves {path}"),
        )
    }

    /// 405 for a method a route does not accept.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not allowed on {path}"),
        )
    }

    /// 413: the body is over the configured limit.
    pub fn payload_too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            format!("the request body is over the limit of {limit} bytes"),
        )
    }

    /// 415: the body is not declared as JSON (or NDJSON where that is expected).
    pub fn unsupported_media_type(expected: &str) -> Self {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!("the request body must be sent with content-type {expected}"),
        )
    }

    /// 503: the request took longer than the configured timeout.
    pub fn timeout() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Timeout",
            "the request took too long and was abandoned",
        )
    }

    /// 503: the server holds as many connections as it may ([`HttpConfig::max_connections`]).
    ///
    /// [`HttpConfig::max_connections`]: crate::HttpConfig::max_connections
    pub fn too_many_connections() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "the server has as many connections open as it may; try again shortly",
        )
    }

    /// 503 with `Retry-After: 1`: the request bodies the server holds already add up to its
    /// limit ([`HttpConfig::max_body_bytes_in_flight`]), so this one is not read.
    ///
    /// [`HttpConfig::max_body_bytes_in_flight`]: crate::HttpConfig::max_body_bytes_in_flight
    pub fn bodies_in_flight_full(limit: usize) -> Self {
        let mut err = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            format!(
                "the server is holding as many request bodies as it may ({limit} bytes in all); \
                 try again shortly"
            ),
        );
        err.retry_after = Some(1);
        err
    }

    /// 503: the store does not answer (readiness).
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        let mut err = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "the store is not answering or not taking writes",
        );
        err.internal = Some(cause.to_string());
        err
    }

    /// 401: no key, or a key that is unknown, revoked, expired or malformed: one message for
    /// all of them, so that the answer tells an attacker nothing (SPEC §9). The
    /// `WWW-Authenticate: Bearer` header is added where the answer is made (`auth`).
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "a valid API key is required: send it as Authorization: Bearer <key>",
        )
    }

    /// 403: the key is valid but its role is below `needed`.
    pub fn forbidden(needed: missionops_core::Role) -> Self {
        let mut err = ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("this operation needs the role {needed} or above"),
        );
        err.details = vec![json!({"requiredRole": needed.as_str()})];
        err
    }

    /// 403: a write made with the console's session cookie that does not come from the
    /// server's own origin (SPEC §9).
    pub fn cross_origin() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "a write made with the session cookie must come from the console's own origin \
             (Origin or Sec-Fetch-Site)",
        )
    }

    /// 429: too many failed authentications from this client address; try again in
    /// `retry_after_secs` (the `Retry-After` header is added where the answer is made).
    pub fn too_many_failures(retry_after_secs: u64) -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            format!(
                "too many failed authentications from this address; try again in {retry_after_secs} s"
            ),
        )
    }

    /// The same error about line `line` of an NDJSON body.
    #[must_use]
    pub fn at_line(mut self, line: usize) -> Self {
        self.message = format!("line {line}: {}", self.message);
        for detail in &mut self.details {
            if let Value::Object(map) = detail {
                map.insert("line".to_owned(), json!(line));
            }
        }
        if self.details.is_empty() {
            self.details.push(json!({"line": line}));
        }
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid { field, reason } => {
                let mut api = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidInput",
                    format!("{field}: {reason}"),
                );
                api.details = vec![json!({"field": field, "reason": reason})];
                api
            }
            Error::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "NotFound", err.to_string())
            }
            Error::Conflict {
                entity,
                ref id,
                ref reason,
            } => {
                let mut api = ApiError::new(StatusCode::CONFLICT, "Conflict", err.to_string());
                api.details = vec![json!({"entity": entity, "id": id, "reason": reason})];
                api
            }
            unavailable @ Error::Unavailable(_) => {
                let mut api = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Unavailable",
                    "the store cannot answer now (unreachable, busy or full); try again shortly",
                );
                api.retry_after = Some(1);
                api.internal = Some(unavailable.to_string());
                api
            }
            other => {
                let mut api = ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal",
                    "an internal error occurred; it has been logged",
                );
                api.internal = Some(other.to_string());
                api
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.kind,
            message: self.message,
            details: self.details,
        };
        let bytes = missionops_core::json::to_vec_js(&body).unwrap_or_default();
        let mut response = (self.status, bytes).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(cause) = self.internal {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_statuses_once() {
        let cases = [
            (Error::invalid("limit", "bad"), StatusCode::BAD_REQUEST),
            (Error::not_found("spacecraft", "X"), StatusCode::NOT_FOUND),
            (
                Error::conflict("snapshot", "s", "differs"),
                StatusCode::CONFLICT,
            ),
            (
                Error::backend("disk on fire".to_owned()),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                Error::unavailable("database is locked".to_owned()),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ];
        for (err, status) in cases {
            assert_eq!(ApiError::from(err).status(), status);
        }
    }

    #[test]
    fn internal_errors_say_nothing_internal() {
        let response = ApiError::from(Error::backend("disk on fire".to_owned())).into_response();
        assert_eq!(
            response
                .extensions()
                .get::<InternalCause>()
                .map(|c| c.0.as_str()),
            Some("storage backend failed: disk on fire")
        );
    }
}
