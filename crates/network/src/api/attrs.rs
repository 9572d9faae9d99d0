//! Request bodies as Neutron's attribute maps read them: `{"network":
//! {...}}`, unknown attributes refused ("Unrecognized attribute(s)"),
//! attributes that may not be set refused per method, and values
//! converted and validated with neutron-lib's validator texts ("Invalid
//! input for name. Reason: …").

use std::net::IpAddr;

use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};

use super::ApiResult;
use crate::error::NetworkError;
use crate::ip::Cidr;

/// The longest name and description Neutron stores.
pub const NAME_MAX: usize = 255;
pub const DESCRIPTION_MAX: usize = 255;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
}

fn bad(msg: impl Into<String>) -> api::ApiError {
    NetworkError::http_bad_request(msg).into()
}

/// The request body: JSON (415 for another content type, 400 when
/// malformed) holding an object under `key`.
pub fn resource(headers: &HeaderMap, bytes: &[u8], key: &str) -> ApiResult<Map<String, Value>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if let Some(ct) = ct
        && !ct.is_empty()
        && ct != "application/json"
    {
        return Err(
            api::ApiError::unsupported_media_type(format!("Unsupported Content-Type: {ct}"))
                .with_kind("HTTPUnsupportedMediaType"),
        );
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(bad("Resource body required"));
    }
    let body: Value = serde_json::from_slice(bytes).map_err(|e| {
        api::ApiError::from(NetworkError::bad(
            "MalformedRequestBody",
            format!("Malformed request body: {e}."),
        ))
    })?;
    match body {
        Value::Object(mut m) => match m.remove(key) {
            Some(Value::Object(inner)) => Ok(inner),
            Some(_) => Err(bad(format!(
                "Invalid input for {key}. Reason: It must be a JSON object."
            ))),
            None => Err(bad(format!("Unable to find '{key}' in request body"))),
        },
        _ => Err(bad("Body contains invalid data")),
    }
}

/// Refuses attributes outside `known`, then those not `writable` by the
/// method.
pub fn check(m: &Map<String, Value>, known: &[&str], writable: &[&str], method: Method) -> ApiResult<()> {
    let mut unknown: Vec<&str> = m.keys().map(String::as_str).filter(|k| !known.contains(k)).collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(bad(format!("Unrecognized attribute(s) '{}'", unknown.join(", "))));
    }
    for k in m.keys() {
        if !writable.contains(&k.as_str()) {
            return Err(bad(match method {
                Method::Post => format!("Attribute '{k}' not allowed in POST"),
                Method::Put => format!("Cannot update read-only attribute {k}"),
            }));
        }
    }
    Ok(())
}

fn invalid(attr: &str, reason: impl std::fmt::Display) -> api::ApiError {
    NetworkError::invalid_attr(attr, reason).into()
}

/// Python's `repr`-ish rendering of a value in validator messages.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// A string of at most `max` characters.
pub fn string(m: &Map<String, Value>, key: &str, max: usize) -> ApiResult<Option<String>> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if s.chars().count() > max => {
            Err(invalid(key, format!("'{s}' exceeds maximum length of {max}")))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(key, format!("'{}' is not a valid string", shown(other)))),
    }
}

/// A string that may also be `null` (read as empty).
pub fn string_or_null(m: &Map<String, Value>, key: &str, max: usize) -> ApiResult<Option<String>> {
    match m.get(key) {
        Some(Value::Null) => Ok(Some(String::new())),
        _ => string(m, key, max),
    }
}

/// neutron-lib's `convert_to_boolean`.
pub fn boolean(m: &Map<String, Value>, key: &str) -> ApiResult<Option<bool>> {
    match m.get(key) {
        None => Ok(None),
        Some(v) => to_bool(v)
            .map(Some)
            .ok_or_else(|| invalid(key, format!("'{}' cannot be converted to boolean", shown(v)))),
    }
}

pub fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) if n.as_i64() == Some(0) => Some(false),
        Value::Number(n) if n.as_i64() == Some(1) => Some(true),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// An integer (a JSON number or a numeric string, as `convert_to_int`).
pub fn int(m: &Map<String, Value>, key: &str) -> ApiResult<Option<i64>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => Ok(s.trim().parse().ok()),
        Some(other) => Err(invalid(key, format!("'{}' is not an integer", shown(other)))),
    }
}

pub fn uuid(m: &Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if uuid::Uuid::parse_str(s).is_ok() && s.len() == 36 => Ok(Some(s.to_lowercase())),
        Some(other) => Err(invalid(key, format!("'{}' is not a valid UUID", shown(other)))),
    }
}

/// An address (`null` is `Some(None)`).
pub fn ip_or_null(m: &Map<String, Value>, key: &str) -> ApiResult<Option<Option<IpAddr>>> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => Ok(Some(Some(ip_value(v, key)?))),
    }
}

pub fn ip_value(v: &Value, key: &str) -> ApiResult<IpAddr> {
    v.as_str()
        .and_then(crate::ip::parse_ip)
        .ok_or_else(|| invalid(key, format!("'{}' is not a valid IP address", shown(v))))
}

/// A subnet CIDR in Neutron's recommended form.
pub fn cidr_value(v: &Value, key: &str) -> ApiResult<Cidr> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid(key, format!("'{}' is not a valid IP subnet", shown(v))))?;
    Cidr::parse_strict(s).map_err(|e| invalid(key, e))
}

/// A list (`null` reads as empty).
pub fn list<'a>(m: &'a Map<String, Value>, key: &str) -> ApiResult<Option<Vec<&'a Value>>> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Vec::new())),
        Some(Value::Array(a)) => Ok(Some(a.iter().collect())),
        Some(other) => Err(invalid(key, format!("'{}' is not a list", shown(other)))),
    }
}

/// A list of strings.
pub fn string_list(m: &Map<String, Value>, key: &str, max_each: usize) -> ApiResult<Option<Vec<String>>> {
    let Some(items) = list(m, key)? else {
        return Ok(None);
    };
    items
        .into_iter()
        .map(|v| match v {
            Value::String(s) if s.chars().count() <= max_each => Ok(s.clone()),
            Value::String(s) => Err(invalid(key, format!("'{s}' exceeds maximum length of {max_each}"))),
            other => Err(invalid(key, format!("'{}' is not a valid string", shown(other)))),
        })
        .collect::<ApiResult<Vec<_>>>()
        .map(Some)
}

/// A dict (`null` reads as empty).
pub fn dict(m: &Map<String, Value>, key: &str) -> ApiResult<Option<Value>> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Value::Object(Map::new()))),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(other) => Err(invalid(key, format!("'{}' is not a dictionary", shown(other)))),
    }
}

/// One of `values`.
pub fn one_of(m: &Map<String, Value>, key: &str, values: &[&str]) -> ApiResult<Option<String>> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if values.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(v) => Err(invalid(
            key,
            format!("'{}' is not in {}", shown(v), python_list(values)),
        )),
    }
}

/// `['a', 'b']`, as Python prints a list of strings.
pub fn python_list(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The owner of a new resource: the caller's project, or the one an
/// admin names with `project_id`/`tenant_id` (which must agree).
pub fn owner(m: &Map<String, Value>, caller_project: &str, can_choose: bool) -> ApiResult<String> {
    let project = string(m, "project_id", 255)?;
    let tenant = string(m, "tenant_id", 255)?;
    let chosen = match (project, tenant) {
        (Some(p), Some(t)) if p != t => return Err(bad("'project_id' and 'tenant_id' do not match")),
        (Some(p), _) | (None, Some(p)) => p,
        (None, None) => return Ok(caller_project.to_owned()),
    };
    if chosen != caller_project && !can_choose {
        return Err(bad(
            "Specifying 'project_id' other than the authenticated project in request is not allowed for the \
             current user.",
        ));
    }
    Ok(chosen)
}
