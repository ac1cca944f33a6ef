//! Wire helpers shared by the handlers: Consul-style plain-text errors, JSON replies, and
//! the request-body decoding rules Consul applies (case-insensitive field names, unknown
//! fields rejected).

use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderValue, StatusCode};
use serde_json::{Map, Value};

/// The body of Consul's 404 for a path its HTTP mux does not route.
const UNKNOWN_PATH: &str = "Invalid URL path: not a recognized HTTP API endpoint";

/// An error answer: Consul sends the message as a plain-text body.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// For 405: the methods the endpoint accepts.
    pub allow: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            allow: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }
    /// Consul's answer to a path its HTTP mux does not route (made by the agent itself).
    pub fn unknown_path() -> ApiError {
        ApiError::not_found(UNKNOWN_PATH)
    }

    /// Whether this is [`ApiError::unknown_path`]'s answer.
    pub fn is_unknown_path(&self) -> bool {
        self.status == StatusCode::NOT_FOUND && self.message == UNKNOWN_PATH
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
    pub fn method_not_allowed(method: &http::Method, allow: &'static str) -> ApiError {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: format!("method {method} not allowed"),
            allow: Some(allow),
        }
    }
    /// The `ACL not found` answer for an unknown token.
    pub fn acl_not_found() -> ApiError {
        ApiError::forbidden("ACL not found")
    }
    /// The answer every ACL endpoint gives while ACLs are disabled.
    pub fn acl_disabled() -> ApiError {
        ApiError::unauthorized("ACL support disabled")
    }

    pub fn into_response(self) -> Response {
        let mut resp = text(self.status, &self.message);
        if let Some(allow) = self.allow {
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        resp
    }
}

/// Result type of every handler.
pub(crate) type Reply = Result<Response, ApiError>;

/// A plain-text answer (Consul's error format).
pub(crate) fn text(status: StatusCode, body: &str) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// A 200 JSON answer.
pub(crate) fn json(value: &Value) -> Response {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A 200 answer with an empty body (agent writes).
pub(crate) fn empty_ok() -> Response {
    Response::new(Body::empty())
}

/// The JSON shape an endpoint accepts; used to match field names the way Consul's decoder
/// does (case-insensitively, snake_case aliases) and to reject unknown fields.
pub(crate) enum Shape {
    /// Any JSON value, kept as is (opaque maps such as `Meta`, proxy `Config`).
    Any,
    /// An object with exactly these fields (canonical spelling).
    Obj(&'static [(&'static str, &'static Shape)]),
    /// An array of the inner shape.
    List(&'static Shape),
    /// An object with free keys whose values have the inner shape.
    Map(&'static Shape),
    /// A string.
    Str,
    /// An integer.
    Int,
    /// A boolean.
    Bool,
}

/// Shorthand for an opaque field (or one Consul decodes weakly, like durations).
pub(crate) static ANY: Shape = Shape::Any;
/// A string field.
pub(crate) static STR: Shape = Shape::Str;
/// An integer field.
pub(crate) static INT: Shape = Shape::Int;
/// A boolean field.
pub(crate) static BOOL: Shape = Shape::Bool;
/// A list of strings.
pub(crate) static STRS: Shape = Shape::List(&STR);
/// A map of strings (`Meta`).
pub(crate) static STR_MAP: Shape = Shape::Map(&STR);

fn fold(name: &str) -> String {
    let folded: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    // Consul's registration decoder knows these historic aliases.
    match folded.as_str() {
        "args" => "scriptargs".to_string(),
        other => other.to_string(),
    }
}

/// Rewrites `value` so every known field carries its canonical name; the first unknown
/// field gives the Go decoder's error text `json: unknown field "X"`.
pub(crate) fn normalize(value: &Value, shape: &Shape) -> Result<Value, String> {
    match (shape, value) {
        (_, Value::Null) | (Shape::Any, _) => Ok(value.clone()),
        (Shape::Str, Value::String(_)) | (Shape::Bool, Value::Bool(_)) => Ok(value.clone()),
        (Shape::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(value.clone()),
        (Shape::Str, other) => Err(type_error(other, "string")),
        (Shape::Int, other) => Err(type_error(other, "int")),
        (Shape::Bool, other) => Err(type_error(other, "bool")),
        (Shape::Obj(fields), Value::Object(map)) => {
            let mut out = Map::new();
            for (key, v) in map {
                let wanted = fold(key);
                let Some((name, inner)) = fields.iter().find(|(name, _)| fold(name) == wanted)
                else {
                    return Err(format!("json: unknown field {key:?}"));
                };
                out.insert((*name).to_string(), normalize(v, inner)?);
            }
            Ok(Value::Object(out))
        }
        (Shape::List(inner), Value::Array(items)) => Ok(Value::Array(
            items
                .iter()
                .map(|item| normalize(item, inner))
                .collect::<Result<_, _>>()?,
        )),
        (Shape::Map(inner), Value::Object(map)) => {
            let mut out = Map::new();
            for (key, v) in map {
                out.insert(key.clone(), normalize(v, inner)?);
            }
            Ok(Value::Object(out))
        }
        (Shape::Obj(_) | Shape::Map(_), other) => Err(format!(
            "json: cannot unmarshal {} into Go value of type struct",
            json_kind(other)
        )),
        (Shape::List(_), other) => Err(format!(
            "json: cannot unmarshal {} into Go value of type []",
            json_kind(other)
        )),
    }
}

/// Go's `json: cannot unmarshal X into Go value of type Y`.
fn type_error(value: &Value, go_type: &str) -> String {
    let kind = match value {
        Value::Number(_) => "number",
        other => json_kind(other),
    };
    format!("json: cannot unmarshal {kind} into Go value of type {go_type}")
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Parses a request body as JSON of the given shape. An empty body decodes as `{}`.
pub(crate) fn decode(body: &[u8], shape: &Shape) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    normalize(&value, shape)
}

/// String field of a normalised object (`""` when absent or not a string).
pub(crate) fn s<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Integer field (accepts numbers and numeric strings, as Consul's weak decoding does).
pub(crate) fn int(obj: &Value, key: &str) -> i64 {
    match obj.get(key) {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(t)) => t.parse().unwrap_or(0),
        _ => 0,
    }
}

/// Boolean field (accepts `true`/`"true"`).
pub(crate) fn boolean(obj: &Value, key: &str) -> bool {
    match obj.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(t)) => t.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// List-of-strings field.
pub(crate) fn strings(obj: &Value, key: &str) -> Vec<String> {
    obj.get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses a Go duration string (`"10s"`, `"1h30m"`, `"500ms"`) or integer nanoseconds.
pub(crate) fn parse_duration(value: &Value) -> Result<std::time::Duration, String> {
    match value {
        Value::Number(n) => Ok(std::time::Duration::from_nanos(
            n.as_u64().ok_or_else(|| format!("invalid duration {n}"))?,
        )),
        Value::String(t) => parse_duration_str(t),
        Value::Null => Ok(std::time::Duration::ZERO),
        other => Err(format!("invalid duration {other}")),
    }
}

fn parse_duration_str(text: &str) -> Result<std::time::Duration, String> {
    if text.is_empty() || text == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {text:?}"))?;
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("time: invalid duration {text:?}"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            unit => return Err(format!("time: unknown unit {unit:?} in duration {text:?}")),
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    Ok(std::time::Duration::from_secs_f64(total))
}

/// Formats a duration the way Go's `time.Duration.String` does (`10s`, `100000h0m0s`).
pub(crate) fn go_duration(d: std::time::Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim_float(nanos as f64 / 1e3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim_float(nanos as f64 / 1e6));
    }
    let secs_total = d.as_secs();
    let hours = secs_total / 3600;
    let minutes = (secs_total % 3600) / 60;
    let secs = (secs_total % 60) as f64 + f64::from(d.subsec_nanos()) / 1e9;
    let secs = trim_float(secs);
    if hours > 0 {
        format!("{hours}h{minutes}m{secs}s")
    } else if minutes > 0 {
        format!("{minutes}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

fn trim_float(v: f64) -> String {
    let mut out = format!("{v:.9}");
    while out.ends_with('0') {
        out.pop();
    }
    if out.ends_with('.') {
        out.pop();
    }
    out
}

/// The current time as RFC 3339 with nanoseconds, UTC (Consul's `CreateTime` format).
pub(crate) fn now_rfc3339() -> String {
    rfc3339(std::time::SystemTime::now())
}

pub(crate) use crate::time::{parse_rfc3339, rfc3339};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static INNER: Shape = Shape::Obj(&[("Address", &ANY), ("Port", &ANY)]);
    static OUTER: Shape = Shape::Obj(&[
        ("Name", &ANY),
        ("EnableTagOverride", &ANY),
        ("TaggedAddresses", &Shape::Map(&INNER)),
    ]);

    #[test]
    fn field_names_match_case_insensitively_and_snake_case() {
        let v = normalize(
            &json!({"name": "web", "enable_tag_override": true, "tagged_addresses": {"lan": {"address": "a"}}}),
            &OUTER,
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"Name": "web", "EnableTagOverride": true, "TaggedAddresses": {"lan": {"Address": "a"}}})
        );
    }

    #[test]
    fn scalar_types_are_checked() {
        static TYPED: Shape = Shape::Obj(&[("Port", &INT), ("Tags", &STRS), ("On", &BOOL)]);
        assert!(normalize(&json!({"Port": 1, "Tags": ["a"], "On": true}), &TYPED).is_ok());
        assert!(normalize(&json!({"Port": null}), &TYPED).is_ok());
        assert_eq!(
            normalize(&json!({"Port": "80"}), &TYPED).unwrap_err(),
            "json: cannot unmarshal string into Go value of type int"
        );
        assert!(normalize(&json!({"Port": 1.5}), &TYPED).is_err());
        assert!(normalize(&json!({"Tags": [1]}), &TYPED).is_err());
        assert!(normalize(&json!({"On": "yes"}), &TYPED).is_err());
    }

    #[test]
    fn unknown_fields_are_rejected_with_the_go_text() {
        let err = normalize(&json!({"Name": "web", "Bogus": 1}), &OUTER).unwrap_err();
        assert_eq!(err, "json: unknown field \"Bogus\"");
    }

    #[test]
    fn durations_parse_and_format_like_go() {
        let d = parse_duration(&json!("100000h")).unwrap();
        assert_eq!(go_duration(d), "100000h0m0s");
        assert_eq!(go_duration(parse_duration(&json!("10s")).unwrap()), "10s");
        assert_eq!(
            go_duration(parse_duration(&json!("1m30s")).unwrap()),
            "1m30s"
        );
        assert_eq!(
            go_duration(parse_duration(&json!("500ms")).unwrap()),
            "500ms"
        );
        assert_eq!(
            parse_duration(&json!(1_000_000_000u64)).unwrap(),
            std::time::Duration::from_secs(1)
        );
        assert!(parse_duration(&json!("10")).is_err());
    }
}
