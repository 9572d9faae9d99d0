//! `POST /os-server-external-events` (Nova's `server_external_events.py`):
//! other services (the network service, block storage) tell compute
//! about its servers. Admin only (`os_compute_api:os-server-external-events:create`).
//!
//! The body is checked as Nova's JSON schema does, with the event names
//! each microversion adds (`volume-extended` 2.51, `power-update` 2.76,
//! `accelerator-request-bound` 2.82, `volume-reimaged` 2.93). Each event
//! is answered with a `code` and a `status`: 200 `completed` when it goes
//! to the server's host, 404 for an unknown server, 400 for a missing tag
//! where the name needs one, 422 for a server on no host, all `failed`.
//! The answer is 200 when every event went, 207 otherwise — also when
//! none did, as Nova has answered since the fix of bug 1855752 (it used
//! to answer 404 then).

use std::collections::HashMap;

use api::ApiError;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

use super::servers::{ApiResult, Who};
use crate::Compute;
use crate::db::servers::InstanceRow;
use crate::error::ComputeError;
use crate::external_events::{ExternalEvent, TAG_REQUIRED, names_at};
use crate::microversion::Version;

const RULE: &str = "os_compute_api:os-server-external-events:create";
const STATUSES: &[&str] = &["failed", "completed", "in-progress"];

pub fn routes() -> Router<Compute> {
    Router::new().route("/os-server-external-events", post(create))
}

/// Python's rendering of a list of names in jsonschema's messages.
fn py_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// jsonschema's rendering of a value: strings quoted as Python does.
fn py_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

fn invalid(field: &str, value: &Value, message: String) -> ApiError {
    let shown = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    ApiError::bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {shown}. {message}"
    ))
}

/// One event of the body, checked as Nova's schema of version `v`.
fn parse_event(index: usize, item: &Value, v: Version) -> ApiResult<Map<String, Value>> {
    let field = index.to_string();
    let Value::Object(o) = item else {
        return Err(invalid(
            &field,
            item,
            format!("{} is not of type 'object'", py_value(item)),
        ));
    };
    for k in o.keys() {
        if !matches!(k.as_str(), "name" | "server_uuid" | "status" | "tag") {
            return Err(invalid(
                &field,
                item,
                format!("Additional properties are not allowed ('{k}' was unexpected)"),
            ));
        }
    }
    for required in ["name", "server_uuid"] {
        if !o.contains_key(required) {
            return Err(invalid(&field, item, format!("'{required}' is a required property")));
        }
    }
    for (k, val) in o {
        let Value::String(s) = val else {
            return Err(invalid(k, val, format!("{} is not of type 'string'", py_value(val))));
        };
        match k.as_str() {
            "name" => {
                let names = names_at(v.0);
                if !names.contains(&s.as_str()) {
                    return Err(invalid(k, val, format!("'{s}' is not one of {}", py_list(&names))));
                }
            }
            "server_uuid" if uuid::Uuid::parse_str(s).is_err() => {
                return Err(invalid(k, val, format!("'{s}' is not a 'uuid'")));
            }
            "status" if !STATUSES.contains(&s.as_str()) => {
                return Err(invalid(k, val, format!("'{s}' is not one of {}", py_list(STATUSES))));
            }
            "tag" if s.chars().count() > 255 => {
                return Err(invalid(k, val, format!("'{s}' is too long")));
            }
            _ => {}
        }
    }
    Ok(o.clone())
}

fn parse_body(body: &Value, v: Version) -> ApiResult<Vec<Map<String, Value>>> {
    let Value::Object(o) = body else {
        return Err(ApiError::bad_request(format!(
            "{} is not of type 'object'",
            py_value(body)
        )));
    };
    if let Some(k) = o.keys().find(|k| *k != "events") {
        return Err(ApiError::bad_request(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let Some(events) = o.get("events") else {
        return Err(ApiError::bad_request("'events' is a required property"));
    };
    let Value::Array(list) = events else {
        return Err(invalid(
            "events",
            events,
            format!("{} is not of type 'array'", py_value(events)),
        ));
    };
    if list.is_empty() {
        return Err(invalid("events", events, "[] is too short".to_owned()));
    }
    list.iter().enumerate().map(|(i, e)| parse_event(i, e, v)).collect()
}

async fn create(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Response> {
    api::enforce(&c.policy, RULE, &caller.auth, &json!({}))?;
    let events = parse_body(&body, v)?;
    let mut servers: HashMap<String, Option<InstanceRow>> = HashMap::new();
    let mut answers = Vec::with_capacity(events.len());
    let mut accepted = Vec::new();
    let mut all_went = true;
    for mut e in events {
        let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
        let (uuid, name, tag) = (
            text("server_uuid").unwrap_or_default(),
            text("name").unwrap_or_default(),
            text("tag"),
        );
        let status = text("status").unwrap_or_else(|| "completed".to_owned());
        let row = match servers.get(&uuid) {
            Some(r) => r.clone(),
            None => {
                let r = match c.get_instance(&uuid).await {
                    Ok(r) => Some(r),
                    Err(ComputeError::NotFound(_)) => None,
                    Err(other) => return Err(other.into()),
                };
                servers.insert(uuid.clone(), r.clone());
                r
            }
        };
        let code = match row {
            None => {
                tracing::debug!(instance = %uuid, name = %name, "dropping an event for an unknown server");
                404
            }
            Some(_) if tag.is_none() && TAG_REQUIRED.contains(&name.as_str()) => {
                tracing::debug!(instance = %uuid, name = %name, "dropping an event without its tag");
                400
            }
            Some(row) if row.host.is_some() => {
                accepted.push((row, ExternalEvent { name, tag, status }));
                200
            }
            Some(_) => {
                tracing::debug!(instance = %uuid, name = %name, "dropping an event for a server on no host");
                422
            }
        };
        all_went &= code == 200;
        e.insert("status".into(), json!(if code == 200 { "completed" } else { "failed" }));
        e.insert("code".into(), json!(code));
        answers.push(Value::Object(e));
    }
    if !accepted.is_empty() {
        c.external_instance_events(&caller, accepted).await;
    }
    let status = if all_went {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok((status, Json(json!({ "events": answers }))).into_response())
}
