//! Extractors whose rejections are our [`ApiError`]: JSON bodies, query strings, path ids.

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use axum::response::{IntoResponse, Response};
use missionops_core::{Limit, SpacecraftId, Timestamp};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON response rendered with JavaScript number formatting (`25`, `1e+21`), as the
/// TypeScript service rendered it.
#[derive(Debug)]
pub struct JsJson<T>(pub axum::http::StatusCode, pub T);

/// A 200 JSON response.
pub fn ok<T>(value: T) -> JsJson<T> {
    JsJson(axum::http::StatusCode::OK, value)
}

/// A 201 JSON response.
pub fn created<T>(value: T) -> JsJson<T> {
    JsJson(axum::http::StatusCode::CREATED, value)
}

impl<T: Serialize> IntoResponse for JsJson<T> {
    fn into_response(self) -> Response {
        match missionops_core::json::to_vec_js(&self.1) {
            Ok(bytes) => (
                self.0,
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                bytes,
            )
                .into_response(),
            Err(e) => ApiError::from(missionops_core::Error::backend(e)).into_response(),
        }
    }
}

/// The raw body, with the body-limit failure answered as 413 in our shape.
pub struct Body(pub Bytes);

impl FromRequest<AppState> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(Body)
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::payload_too_large(state.config.body_limit)
                } else {
                    ApiError::invalid("body", "could not be read")
                }
            })
    }
}

/// A JSON body parsed into `T`; malformed JSON, a wrong content type, an oversize body and
/// every field error answer in our error shape, naming the field.
pub struct JsonBody<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::unsupported_media_type("application/json"));
        }
        let Body(bytes) = Body::from_request(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses JSON into `T`, turning serde's error into a 400 that names the field by its path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Most bodies are valid: parse them with plain serde_json, and only parse a body that
    // fails again with the path-tracking deserializer, which names the field. Tracking the
    // path of every value made parsing a 100-snapshot batch markedly slower.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        json_error(&path, &inner)
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::invalid("body", format!("is not valid JSON ({e})")))?;
    Ok(value)
}

/// Builds the 400 for a serde error at `path` (`.` is the root).
fn json_error(path: &str, err: &serde_json::Error) -> ApiError {
    let path = if path == "." { "" } else { path };
    let text = err.to_string();
    let message = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => text.as_str(),
    };
    if err.is_syntax() || err.is_eof() {
        return ApiError::invalid("body", format!("is not valid JSON ({text})"));
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.trim_end_matches('`');
        let field = if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return ApiError::invalid(field, "is required");
    }
    // Domain parsers name their field themselves (`parameters.temp: must be …`); prefer that
    // name when it extends the path serde reports.
    if let Some((head, tail)) = message.split_once(": ") {
        let named = !head.contains(' ') && !head.is_empty();
        if named {
            let last = path.rsplit(['.', '[']).next().unwrap_or("");
            let field = if path.ends_with(head) {
                path.to_owned()
            } else if path.is_empty() || head.starts_with(path) {
                head.to_owned()
            } else if head == last
                || head.starts_with(&format!("{last}."))
                || head.starts_with(&format!("{last}["))
            {
                // `snapshots[2].parameters` + `parameters.temp` → `snapshots[2].parameters.temp`
                let prefix = &path[..path.len() - last.len()];
                format!("{prefix}{head}")
            } else {
                format!("{path}.{head}")
            };
            return ApiError::invalid(field, tail.to_owned());
        }
    }
    let field = if path.is_empty() {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    ApiError::invalid(field, message.to_owned())
}

/// Query-string parameters, parsed into domain values on request with errors naming the
/// parameter. A repeated key keeps its last value.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|q| Params(q.0))
            .map_err(|_| ApiError::invalid("query", "is not a valid query string"))
    }
}

impl Params {
    /// The raw value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A required spacecraft id in `key`.
    pub fn spacecraft(&self, key: &str) -> Result<SpacecraftId, ApiError> {
        match self.get(key) {
            None => Err(ApiError::invalid(key, "is required")),
            Some(raw) => parse_id(key, raw),
        }
    }

    /// An optional spacecraft id in `key`.
    pub fn optional_spacecraft(&self, key: &str) -> Result<Option<SpacecraftId>, ApiError> {
        self.get(key).map(|raw| parse_id(key, raw)).transpose()
    }

    /// `limit`: an integer from 1 to `max`, `default` when absent.
    pub fn limit(&self, default: u32, max: u32) -> Result<Limit, ApiError> {
        Limit::parse(self.get("limit"), default, max).map_err(ApiError::from)
    }

    /// A timestamp in `key`, if given.
    pub fn timestamp(&self, key: &str) -> Result<Option<Timestamp>, ApiError> {
        self.get(key)
            .map(|raw| Timestamp::parse_field(key, raw).map_err(ApiError::from))
            .transpose()
    }

    /// A required timestamp in `key`.
    pub fn required_timestamp(&self, key: &str) -> Result<Timestamp, ApiError> {
        self.timestamp(key)?
            .ok_or_else(|| ApiError::invalid(key, "is required"))
    }

    /// `from` and `to`, which come together or not at all.
    pub fn window(&self) -> Result<Option<(Timestamp, Timestamp)>, ApiError> {
        match (self.timestamp("from")?, self.timestamp("to")?) {
            (Some(from), Some(to)) => Ok(Some((from, to))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(ApiError::invalid("to", "is required when from is given")),
            (None, Some(_)) => Err(ApiError::invalid("from", "is required when to is given")),
        }
    }

    /// A domain value parsed from a required `key`.
    pub fn required<T>(&self, key: &str) -> Result<T, ApiError>
    where
        T: FromStr<Err = missionops_core::Error>,
    {
        let raw = self
            .get(key)
            .ok_or_else(|| ApiError::invalid(key, "is required"))?;
        raw.parse().map_err(|e| rename_field(e, key))
    }

    /// A domain value parsed from an optional `key`.
    pub fn optional<T>(&self, key: &str) -> Result<Option<T>, ApiError>
    where
        T: FromStr<Err = missionops_core::Error>,
    {
        self.get(key)
            .map(|raw| raw.parse().map_err(|e| rename_field(e, key)))
            .transpose()
    }

    /// A non-negative integer in `key`, `0` when absent.
    pub fn offset(&self, key: &str) -> Result<u64, ApiError> {
        match self.get(key) {
            None => Ok(0),
            Some(raw) => raw.trim().parse().map_err(|_| {
                ApiError::invalid(key, format!("must be a non-negative integer (got {raw:?})"))
            }),
        }
    }
}

/// Parses a spacecraft id, naming `field`.
pub fn parse_id(field: &str, raw: &str) -> Result<SpacecraftId, ApiError> {
    SpacecraftId::parse(raw).map_err(|e| rename_field(e, field))
}

/// The same error reported under `field`.
pub fn rename_field(err: missionops_core::Error, field: &str) -> ApiError {
    match err {
        missionops_core::Error::Invalid { reason, .. } => ApiError::invalid(field, reason),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use missionops_core::NewSnapshotBatch;

    async fn body_of(err: ApiError) -> serde_json::Value {
        let response = err.into_response();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[tokio::test]
    async fn batch_errors_name_the_index_and_the_field() {
        let body = br#"{"spacecraftId":"A","snapshots":[
            {"timestamp":"2025-01-01T00:00:00Z","parameters":{}},
            {"timestamp":"2025-01-01T00:00:00Z","parameters":{"temp":null}}]}"#;
        let err = parse_json::<NewSnapshotBatch>(body).expect_err("error");
        let json = body_of(err).await;
        assert_eq!(json["details"][0]["field"], "snapshots[1].parameters.temp");

        let body = br#"{"spacecraftId":"A","snapshots":[{"parameters":{}}]}"#;
        let err = parse_json::<NewSnapshotBatch>(body).expect_err("error");
        assert_eq!(
            body_of(err).await["details"][0]["field"],
            "snapshots[0].timestamp"
        );

        let body = br#"{"spacecraftId":"","snapshots":[]}"#;
        let err = parse_json::<NewSnapshotBatch>(body).expect_err("error");
        let json = body_of(err).await;
        assert_eq!(json["details"][0]["field"], "spacecraftId");
        assert_eq!(json["message"], "spacecraftId: must not be empty");

        let body = br#"{"spacecraftId":"A","snapshots":[{"timestamp":"nope","parameters":{}}]}"#;
        let err = parse_json::<NewSnapshotBatch>(body).expect_err("error");
        assert_eq!(
            body_of(err).await["details"][0]["field"],
            "snapshots[0].timestamp"
        );
    }

    #[tokio::test]
    async fn malformed_json_is_a_400_about_the_body() {
        let err = parse_json::<NewSnapshotBatch>(b"{\"spacecraftId\": ").expect_err("error");
        let json = body_of(err).await;
        assert_eq!(json["error"], "InvalidInput");
        assert_eq!(json["details"][0]["field"], "body");
    }
}
