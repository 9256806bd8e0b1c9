//! The served OpenAPI document: the route table of `openapi` with the server's real contract
//! written into it, so that a client generated from `/openapi.json`, a reader, or a contract
//! fuzzer sees what the server accepts and answers.
//!
//! The handlers' annotations say what each operation is; this pass adds what is the same
//! across operations and what utoipa's typed model cannot state (`propertyNames`, `anyOf` with
//! `null`): the schema of every parameter by its name (ids, names, limits, times), the request
//! bodies as the domain parses them, and the error answers every operation can give. Lengths
//! are the domain's, in UTF-8 bytes; JSON Schema counts characters, so for text outside ASCII a
//! `maxLength` is an upper bound the server may refuse below.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

/// Characters no id may hold: whitespace, control characters and `/` (ids travel in paths).
const IDENTIFIER: &str =
    r"^[^\u0000-\u0020\u007f-\u00a0/\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+$";
/// Text without control characters that is not blank.
const LABEL: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$";

fn identifier(description: &str) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 128, "pattern": IDENTIFIER,
        "description": format!("{description}: 1–128 bytes without whitespace, control characters or `/`")})
}

fn label(max: usize, description: &str) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": LABEL,
        "description": format!("{description}: 1–{max} bytes, not blank, no control characters")})
}

fn timestamp(description: &str) -> Value {
    json!({"type": "string", "format": "date-time",
        "description": format!("{description}: RFC 3339, years 0–9999 once in UTC")})
}

fn nullable(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

fn limit(max: u32, default: u32) -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": max, "default": default,
        "description": format!("1–{max}, default {default}")})
}

/// The schema of the query, path or header parameter `name` of operation `method path`.
fn parameter(method: &str, path: &str, name: &str) -> Option<Value> {
    Some(match (name, path) {
        ("id", "/anomalies/{id}/procedures") => {
            let mut schema = label(512, "the anomaly id `{snapshotId}:{parameter}:{KIND}`");
            schema["pattern"] = json!(
                r"^[^\u0000-\u001f\u007f-\u009f/]*[^\u0000-\u0020\u007f-\u00a0/\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f/]*$"
            );
            schema
        }
        ("id", "/keys/{id}") => json!({"type": "string", "pattern": "^[A-Za-z0-9]{12,64}$",
            "description": "a key id: 12–64 ASCII letters and digits"}),
        ("id", _) => identifier("the id"),
        ("spacecraftId", _) => identifier("a spacecraft id"),
        ("limit", "/spacecraft") => json!({"type": "string",
            "description": "compat: read leniently, clamped to 1–100; default 20"}),
        ("offset", "/spacecraft") => json!({"type": "string",
            "description": "compat: read leniently, clamped to ≥ 0; default 0"}),
        ("limit", "/telemetry" | "/telemetry/analyze" | "/events" | "/docs") => limit(100, 20),
        ("limit", "/anomalies") => limit(200, 20),
        ("limit", "/docs/search") => limit(50, 10),
        ("offset", _) => json!({"type": "integer", "minimum": 0,
            "maximum": 18_446_744_073_709_551_615_u64, "default": 0}),
        ("from" | "to", _) => timestamp(name),
        ("until", _) => timestamp(name),
        ("parameter", _) => label(128, "a parameter name"),
        ("category", _) => label(64, "a category"),
        ("tag", _) => label(64, "a tag"),
        ("q", _) => label(200, "the search text"),
        ("bucket", _) => json!({"type": "string", "pattern": r"^[0-9]+[smhd]?$",
            "description": "a bucket width: seconds (`60`), or with a unit `s`, `m`, `h`, `d`; 1 s to 1 d"}),
        ("limit", "/anomalies/timeline") => limit(10_000, 1_000),
        ("cursor", _) => json!({"type": "string", "pattern": "^-?[0-9]{1,16}_-?[0-9]{1,19}$",
            "description": "where the page starts, from the previous page's `Link: rel=\"next\"`"}),
        ("onError", _) => json!({"type": "string", "enum": ["reject", "skip"], "default": "reject",
            "description": "`reject`: a bad packet refuses the whole request (400 naming its byte \
             offset); `skip`: bad packets are counted and skipped"}),
        ("state", _) => json!({"type": "string",
            "enum": ["ACTIVE", "ACKNOWLEDGED", "CLEARED", "SHELVED", "OPEN", "ALL"]}),
        ("stored", _) => json!({"type": "boolean", "default": false}),
        ("If-Match", _) => json!({"type": "string", "pattern": r#"^("[0-9]{1,9}"|[0-9]{1,9})$"#,
            "description": "the version the change was made from, quoted as an entity tag (`\"3\"`; `\"0\"`: no configuration yet)"}),
        ("file", "/console/{file}") => json!({"type": "string", "minLength": 1, "maxLength": 64,
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$", "description": "a file of the console"}),
        ("Last-Event-ID", _) => json!({"type": "integer", "minimum": 0,
            "maximum": 18_446_744_073_709_551_615_u64}),
        _ => {
            let _ = method;
            return None;
        }
    })
}

/// One telemetry snapshot as `POST /telemetry` and a batch's items take it.
fn snapshot(spacecraft_required: bool) -> Value {
    let value = json!({"anyOf": [
        {"type": "number"},
        {"type": "boolean"},
        {"type": "string", "maxLength": 1024, "pattern": r"^[^\u0000]*$",
            "description": "at most 1,024 bytes, no NUL"},
    ]});
    let mut required = vec!["timestamp", "parameters"];
    if spacecraft_required {
        required.push("spacecraftId");
    }
    json!({"type": "object", "required": required, "properties": {
        "id": nullable(identifier("the snapshot id; generated when absent")),
        "spacecraftId": identifier("the spacecraft"),
        "timestamp": timestamp("the sample time"),
        "parameters": {"type": "object", "maxProperties": 1000,
            "propertyNames": label(128, "a parameter name"),
            "additionalProperties": value,
            "description": "name → number, string or boolean; at most 1,000"},
    }})
}

fn document_body() -> Value {
    json!({"type": "object", "required": ["title", "body"], "properties": {
        "spacecraftId": nullable(identifier("the spacecraft it is about")),
        "title": label(300, "the title"),
        "body": {"type": "string", "maxLength": 1_048_576, "description": "Markdown, at most 1 MiB"},
        "tags": nullable(json!({"type": "array", "maxItems": 32, "items": label(64, "a tag")})),
        "category": nullable(label(64, "the category; `general` when absent")),
    }})
}

fn operator_body(extra: &[(&str, Value)], required: &[&str]) -> Value {
    let mut properties = Map::new();
    properties.insert("by".to_owned(), label(128, "the operator"));
    for (name, schema) in extra {
        properties.insert((*name).to_owned(), schema.clone());
    }
    // Unknown fields are refused here (a misspelt `comment` would otherwise be lost).
    json!({"type": "object", "required": required, "properties": properties,
        "additionalProperties": false})
}

/// The request body schema of operation `method path`, where the handler's annotation only says
/// "an object".
fn request_body(method: &str, path: &str) -> Option<Value> {
    let comment = || {
        nullable(json!({"type": "string", "maxLength": 2000,
            "description": "at most 2,000 characters"}))
    };
    Some(match (method, path) {
        ("post", "/telemetry") => snapshot(true),
        ("post", "/telemetry/batch") => json!({"type": "object",
        "required": ["spacecraftId", "snapshots"], "properties": {
            "spacecraftId": identifier("the spacecraft of every snapshot that names none"),
            "snapshots": {"type": "array", "maxItems": 100_000, "items": snapshot(false)},
            "stored": {"type": "boolean", "default": false,
                "description": "played-back telemetry: anomalies recorded, no alarms or events"},
        }}),
        ("post", "/spacecraft") => json!({"type": "object", "required": ["name"], "properties": {
            "id": nullable(identifier("the id; generated when absent")),
            "name": label(200, "the name"),
            "missionType": nullable(label(64, "the mission type; `UNSPECIFIED` when absent")),
            "metadata": nullable(json!({"type": "object", "description":
                "at most 64 KiB as compact JSON, 1,000 keys at every depth, 16 levels"})),
        }}),
        ("post", "/spacecraft/{id}/detect") => json!({"type": "object",
        "required": ["from", "to"], "properties": {
            "from": timestamp("the window's start"), "to": timestamp("the window's end"),
        }}),
        ("post", "/docs") | ("put", "/docs/{id}") => document_body(),
        ("post", "/alarms/{id}/acknowledge") => operator_body(&[("comment", comment())], &["by"]),
        ("post", "/alarms/{id}/shelve") => operator_body(
            &[
                ("until", timestamp("shelved until")),
                ("comment", comment()),
            ],
            &["until", "by"],
        ),
        ("post", "/alarms/{id}/unshelve") => operator_body(&[], &["by"]),
        ("post", "/session") => json!({"type": "object", "required": ["key"], "properties": {
            "key": {"type": "string", "description": "an API key `mo_<keyId>_<secret>`, sent once"},
        }}),
        _ => return None,
    })
}

fn error(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/ErrorBody"}}}})
}

/// Adds `status` to `responses` unless the handler's annotation already documents it.
fn answer(responses: &mut Map<String, Value>, status: &str, description: &str) {
    responses
        .entry(status.to_owned())
        .or_insert_with(|| error(description));
}

/// Writes the contract into one operation.
fn operation(method: &str, path: &str, op: &mut Map<String, Value>) {
    let mut takes_input = false;
    if let Some(Value::Array(parameters)) = op.get_mut("parameters") {
        for parameter_object in parameters.iter_mut() {
            let Some(name) = parameter_object["name"].as_str().map(str::to_owned) else {
                continue;
            };
            takes_input = true;
            if let Some(schema) = parameter(method, path, &name) {
                parameter_object["schema"] = schema;
            }
        }
    }
    let mut json_body = false;
    if let Some(body) = op.get_mut("requestBody") {
        takes_input = true;
        if let Some(Value::Object(content)) = body.get_mut("content") {
            if let Some(media) = content.get_mut("application/json") {
                json_body = true;
                if let Some(schema) = request_body(method, path) {
                    media["schema"] = schema;
                }
            }
            json_body |= content.contains_key("application/x-ndjson");
        }
    }
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|schemes| !schemes.is_empty());
    let Some(Value::Object(responses)) = op.get_mut("responses") else {
        return;
    };
    if secured {
        answer(
            responses,
            "401",
            "no key, or an unknown, revoked or expired one (with `WWW-Authenticate: Bearer`)",
        );
        answer(
            responses,
            "403",
            "the key's role is below the operation's (`x-required-role`)",
        );
        answer(
            responses,
            "429",
            "too many failed authentications from this address within a minute (with \
             `Retry-After`)",
        );
    }
    if takes_input {
        answer(
            responses,
            "400",
            "a parameter or the body is not acceptable; `details` names the field",
        );
    }
    if path.contains("{id}") {
        answer(responses, "404", "no such resource");
    }
    if json_body {
        answer(
            responses,
            "413",
            "the body is over the body limit (`--body-limit`)",
        );
        answer(
            responses,
            "415",
            "the body is not sent with the content type the operation reads",
        );
    }
    answer(
        responses,
        "503",
        "the request took longer than the request timeout, the server holds as many connections \
         or request bodies as it may (with `Retry-After`), or the store is unavailable",
    );
}

/// `document` (the route table's OpenAPI document as JSON) with the contract written in.
fn strict(mut document: Value) -> Value {
    if let Some(Value::Object(paths)) = document.get_mut("paths") {
        for (path, item) in paths.iter_mut() {
            let Value::Object(item) = item else { continue };
            for (method, op) in item.iter_mut() {
                if let Value::Object(op) = op {
                    operation(method, path, op);
                }
            }
        }
    }
    document
}

/// The served document, rendered once.
pub(crate) fn served() -> &'static [u8] {
    static SERVED: OnceLock<Vec<u8>> = OnceLock::new();
    SERVED.get_or_init(|| {
        let document = serde_json::to_value(crate::openapi::document()).unwrap_or_default();
        serde_json::to_vec(&strict(document)).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served_json() -> Value {
        serde_json::from_slice(served()).expect("the served document is JSON")
    }

    #[test]
    fn every_parameter_has_a_schema_stricter_than_any_string() {
        let document = served_json();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("item") {
                for parameter in op["parameters"].as_array().into_iter().flatten() {
                    let schema = &parameter["schema"];
                    let name = parameter["name"].as_str().unwrap_or_default();
                    let loose = schema == &json!({"type": "string"})
                        || schema == &json!({"type": ["string", "null"]});
                    let lenient = path == "/spacecraft" && matches!(name, "limit" | "offset");
                    assert!(
                        !loose || lenient,
                        "{method} {path} {name} has no constraint: {schema}"
                    );
                }
            }
        }
    }

    #[test]
    fn ids_and_limits_state_the_domain_rules() {
        let document = served_json();
        let get = &document["paths"]["/spacecraft/{id}"]["get"];
        let id = &get["parameters"][0]["schema"];
        assert_eq!(id["maxLength"], 128);
        assert_eq!(id["minLength"], 1);
        assert!(id["pattern"].as_str().is_some_and(|p| p.contains('/')));
        let telemetry = &document["paths"]["/telemetry"]["get"]["parameters"];
        let limit = telemetry
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "limit"))
            .expect("limit");
        assert_eq!(
            (&limit["schema"]["minimum"], &limit["schema"]["maximum"]),
            (&json!(1), &json!(100))
        );
    }

    #[test]
    fn every_operation_documents_its_error_answers() {
        let document = served_json();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("item") {
                let responses = &op["responses"];
                assert!(responses.get("503").is_some(), "{method} {path}: 503");
                if op.get("requestBody").is_some() {
                    for status in ["400", "413", "415"] {
                        assert_eq!(
                            responses[status]["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/ErrorBody",
                            "{method} {path}: {status}"
                        );
                    }
                }
                if path.contains("{id}") {
                    assert!(responses.get("404").is_some(), "{method} {path}: 404");
                }
                let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
                // `/session` is public and authenticates the key it is given itself, so its
                // own annotation documents the refusals.
                if path == "/session" {
                    continue;
                }
                for status in ["401", "403", "429"] {
                    assert_eq!(
                        responses.get(status).is_some(),
                        secured,
                        "{method} {path}: {status}"
                    );
                }
            }
        }
        let batch = &document["paths"]["/telemetry/batch"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"];
        assert_eq!(batch["required"], json!(["spacecraftId", "snapshots"]));
        assert_eq!(batch["properties"]["snapshots"]["maxItems"], 100_000);
    }
}
