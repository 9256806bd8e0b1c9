//! Extractors whose rejections are our [`ApiError`]: JSON bodies, query strings, path ids.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use axum::response::{IntoResponse, Response};
use missionops_core::{Caller, SpacecraftId, Timestamp};
use serde::Serialize;
use serde::de::value::{Error as DeError, MapDeserializer};
use serde::de::{DeserializeOwned, Deserializer, IntoDeserializer, Visitor};

use crate::error::ApiError;
use crate::state::AppState;

/// Who is asking (SPEC §9): the [`Caller`] the authentication layer put into the request's
/// extensions, or [`Caller::open`] (the anonymous admin of tenant `default`) when there is
/// none, which is the open mode: no key exists, so no layer authenticates. Every handler that
/// reaches data acts as this caller (`state.ops.acting_as(caller)`), so it sees and writes
/// its own tenant's data only.
#[derive(Debug, Clone)]
pub struct CallerExt(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for CallerExt {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(CallerExt(
            parts
                .extensions
                .get::<Caller>()
                .cloned()
                .unwrap_or_else(Caller::open),
        ))
    }
}

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
            // The name of the path's last segment without its index: `tags` of `tags[0]`.
            let last_name = path
                .rsplit('.')
                .next()
                .and_then(|segment| segment.split('[').next())
                .unwrap_or("");
            let field = if path.ends_with(head) || (path.ends_with(']') && head == last_name) {
                // `tags[0]` + `tags` (an element names its list) → `tags[0]`
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
            return ApiError::invalid(field, crate::serde_errors::reason(tail));
        }
    }
    let field = if path.is_empty() {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    ApiError::invalid(field, crate::serde_errors::reason(message))
}

/// The query string deserialized into a typed struct `T` whose fields are domain values.
///
/// Every error answers 400 in the app's shape and names the parameter: a value that does not
/// parse gives the domain's own reason (through the [`query`] field parsers), a required one
/// that is absent "is required". A repeated key keeps its last value; unknown keys are ignored.
#[derive(Debug, Clone, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|_| ApiError::invalid("query", "is not a valid query string"))?
            .0;
        let mut last: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            match last.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => last.push((key, value)),
            }
        }
        let values = MapDeserializer::new(last.into_iter().map(|(k, v)| (k, QueryValue(v))));
        serde_path_to_error::deserialize(values)
            .map(Query)
            .map_err(|err| {
                let path = err.path().to_string();
                query_error(&path, &err.into_inner().to_string())
            })
    }
}

/// The 400 for a query parameter at `path` that serde rejected with `message`.
fn query_error(path: &str, message: &str) -> ApiError {
    if let Some(rest) = message.strip_prefix("missing field `") {
        return ApiError::invalid(rest.trim_end_matches('`'), "is required");
    }
    let field = if path.is_empty() || path == "." {
        "query"
    } else {
        path
    };
    ApiError::invalid(field, crate::serde_errors::reason(message))
}

/// One query-string value: text, which an `Option` field takes as present.
struct QueryValue(String);

impl<'de> IntoDeserializer<'de, DeError> for QueryValue {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for QueryValue {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_string(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// Field parsers for [`Query`] structs (`#[serde(deserialize_with = "query::…")]`): each
/// parses one parameter into a domain value and, when it does not parse, reports the domain's
/// reason, which [`Query`] puts under the parameter's name.
pub mod query {
    use std::str::FromStr;

    use missionops_core::{AlarmStates, Limit, Timestamp};
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer};

    /// The reason of a domain error, without its field (the parameter names it).
    fn reason<E: serde::de::Error>(err: missionops_core::Error) -> E {
        match err {
            missionops_core::Error::Invalid { reason, .. } => E::custom(reason),
            other => E::custom(other),
        }
    }

    /// A domain value parsed from its text.
    pub fn domain<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr<Err = missionops_core::Error>,
    {
        String::deserialize(d)?.parse().map_err(reason)
    }

    /// An optional [`domain`] value (with `#[serde(default)]`).
    pub fn optional<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr<Err = missionops_core::Error>,
    {
        domain(d).map(Some)
    }

    /// An RFC 3339 timestamp.
    pub fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        Timestamp::parse_field("", &String::deserialize(d)?).map_err(reason)
    }

    /// An optional [`timestamp`] (with `#[serde(default)]`).
    pub fn optional_timestamp<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        timestamp(d).map(Some)
    }

    /// `true` or `false`, nothing else.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match String::deserialize(d)?.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(D::Error::custom(format!(
                "must be true or false (got {})",
                missionops_core::quote(other)
            ))),
        }
    }

    /// A non-negative integer.
    pub fn offset<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let raw = String::deserialize(d)?;
        raw.trim().parse().map_err(|_| {
            D::Error::custom(format!(
                "must be a non-negative integer (got {})",
                missionops_core::quote(&raw)
            ))
        })
    }

    /// Alarm states: one state, `OPEN` or `ALL`.
    pub fn alarm_states<'de, D: Deserializer<'de>>(d: D) -> Result<AlarmStates, D::Error> {
        AlarmStates::parse(&String::deserialize(d)?).map_err(reason)
    }

    /// `limit`: an integer from 1 to `MAX`, `DEFAULT` when absent (its `Default`).
    #[derive(Debug, Clone, Copy)]
    pub struct QueryLimit<const DEFAULT: u32, const MAX: u32>(pub Limit);

    impl<const DEFAULT: u32, const MAX: u32> Default for QueryLimit<DEFAULT, MAX> {
        fn default() -> Self {
            QueryLimit(Limit::clamped(i64::from(DEFAULT), MAX))
        }
    }

    impl<'de, const DEFAULT: u32, const MAX: u32> Deserialize<'de> for QueryLimit<DEFAULT, MAX> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let raw = String::deserialize(d)?;
            Limit::parse(Some(&raw), DEFAULT, MAX)
                .map(QueryLimit)
                .map_err(reason)
        }
    }
}

/// A path parameter, whose rejection (a segment that is not UTF-8 once percent-decoded, say)
/// answers 400 in our error shape rather than axum's plain text.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        use axum::extract::rejection::PathRejection;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                use axum::extract::path::ErrorKind;
                Err(match e.into_kind() {
                    ErrorKind::InvalidUtf8InPathParam { key } => {
                        ApiError::invalid(key, "must be valid UTF-8 once percent-decoded")
                    }
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::DeserializeError { key, .. } => {
                        ApiError::invalid(key, "is not a valid path segment")
                    }
                    _ => ApiError::invalid("path", "is not a valid path for this route"),
                })
            }
            Err(_) => Err(ApiError::invalid(
                "path",
                "is not a valid path for this route",
            )),
        }
    }
}

/// `from` and `to`, which come together or not at all.
pub fn window(
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> Result<Option<(Timestamp, Timestamp)>, ApiError> {
    match (from, to) {
        (Some(from), Some(to)) => Ok(Some((from, to))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ApiError::invalid("to", "is required when from is given")),
        (None, Some(_)) => Err(ApiError::invalid("from", "is required when to is given")),
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

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        #[serde(deserialize_with = "query::domain")]
        spacecraft_id: SpacecraftId,
        #[serde(default)]
        limit: query::QueryLimit<20, 100>,
        #[serde(default, deserialize_with = "query::optional_timestamp")]
        from: Option<Timestamp>,
        #[serde(default, deserialize_with = "query::flag")]
        stored: bool,
        #[serde(default, deserialize_with = "query::offset")]
        offset: u64,
    }

    async fn probe(uri: &str) -> Result<Probe, serde_json::Value> {
        let (mut parts, ()) = axum::http::Request::builder()
            .uri(uri)
            .body(())
            .expect("request")
            .into_parts();
        match Query::<Probe>::from_request_parts(&mut parts, &()).await {
            Ok(Query(probe)) => Ok(probe),
            Err(err) => Err(body_of(err).await),
        }
    }

    async fn message(uri: &str) -> String {
        let body = probe(uri).await.expect_err("a 400");
        assert_eq!(body["error"], "InvalidInput", "{body}");
        body["message"].as_str().expect("message").to_owned()
    }

    #[tokio::test]
    async fn typed_queries_parse_domain_values_with_defaults_and_the_last_repeat() {
        let probe = probe(
            "/x?spacecraftId=SC-1&limit=5&limit=7&from=2025-01-01T00:00:00Z&stored=true&other=1",
        )
        .await
        .expect("valid");
        assert_eq!(probe.spacecraft_id.as_str(), "SC-1");
        assert_eq!(
            probe.limit.0.get(),
            7,
            "a repeated key keeps its last value"
        );
        assert_eq!(
            probe.from,
            Some(Timestamp::parse("2025-01-01T00:00:00Z").expect("time"))
        );
        assert!(probe.stored);
        let defaults = self::probe("/x?spacecraftId=SC-1").await.expect("valid");
        assert_eq!(defaults.limit.0.get(), 20);
        assert_eq!(
            (defaults.from, defaults.stored, defaults.offset),
            (None, false, 0)
        );
    }

    #[tokio::test]
    async fn typed_query_errors_name_the_parameter_with_the_domain_reason() {
        assert_eq!(message("/x").await, "spacecraftId: is required");
        assert_eq!(
            message("/x?spacecraftId=").await,
            "spacecraftId: must not be empty"
        );
        assert_eq!(
            message("/x?spacecraftId=A&limit=abc").await,
            "limit: must be an integer from 1 to 100 (got \"abc\")"
        );
        assert!(
            message("/x?spacecraftId=A&from=x")
                .await
                .starts_with("from: must be an RFC 3339 timestamp")
        );
        assert_eq!(
            message("/x?spacecraftId=A&stored=yes").await,
            "stored: must be true or false (got \"yes\")"
        );
        assert_eq!(
            message("/x?spacecraftId=A&offset=-1").await,
            "offset: must be a non-negative integer (got \"-1\")"
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
