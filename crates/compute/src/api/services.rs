//! `os-services`: list (filters `host`, `binary`), the legacy
//! `PUT /os-services/{enable,disable,disable-log-reason,force-down}`
//! (before 2.53; `force-down` from 2.11), `PUT /os-services/{uuid}`
//! (2.53+), and delete. Ids are integers before 2.53 and uuids from it.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Map, Value, json};

use ::api::{ApiError, Auth, ValidJson};

use super::flavors::{Params, authorize, invalid, nova_time, only, only_query};
use crate::Compute;
use crate::microversion::Version;
use crate::services::ServiceView;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-services", get(list))
        .route("/os-services/{id}", axum::routing::put(update).delete(delete))
}

pub(crate) fn view(s: &ServiceView, v: Version) -> Value {
    let r = &s.row;
    let mut o = json!({
        "id": if v.at_least(53) { json!(r.uuid) } else { json!(r.id) },
        "binary": r.binary,
        "host": r.host,
        "zone": s.zone,
        "status": if r.disabled { "disabled" } else { "enabled" },
        "state": if s.up { "up" } else { "down" },
        "updated_at": r.updated_at.map(nova_time),
        "disabled_reason": r.disabled_reason,
    });
    if v.at_least(11) {
        o["forced_down"] = json!(r.forced_down);
    }
    o
}

async fn list(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-services:list")?;
    if v.at_least(75) {
        only_query(&pairs, &["host", "binary"])?;
    }
    let get = |k: &str| pairs.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let services = c.list_services(get("host"), get("binary")).await?;
    Ok(Json(
        json!({"services": services.iter().map(|s| view(s, v)).collect::<Vec<_>>()}),
    ))
}

fn string_field(obj: &Map<String, Value>, parent: &str, key: &str) -> ApiResult<String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 255 => Ok(s.clone()),
        Some(other) => Err(invalid(
            key,
            other,
            &format!("{other} is not a string of 1 to 255 characters"),
        )),
        None => Err(invalid(
            parent,
            &Value::Object(obj.clone()),
            &format!("'{key}' is a required property"),
        )),
    }
}

/// The legacy host/binary updates (before 2.53).
async fn legacy(c: &Compute, v: Version, action: &str, body: &Value) -> ApiResult<Json<Value>> {
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request(format!("{body} is not of type 'object'")))?;
    let allowed: &[&str] = match action {
        "enable" | "disable" => &["host", "binary"],
        "disable-log-reason" => &["host", "binary", "disabled_reason"],
        "force-down" if v.at_least(11) => &["host", "binary", "forced_down"],
        _ => return Err(ApiError::not_found("Unknown action")),
    };
    only(obj, "service", allowed)?;
    let host = string_field(obj, "service", "host")?;
    let binary = string_field(obj, "service", "binary")?;
    let service = c
        .list_services(Some(&host), Some(&binary))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(format!("Could not find binary {binary} on host {host}.")))?;
    let out = match action {
        "enable" => {
            c.update_service(&service, Some(false), None, None).await?;
            json!({"host": host, "binary": binary, "status": "enabled"})
        }
        "disable" => {
            c.update_service(&service, Some(true), None, None).await?;
            json!({"host": host, "binary": binary, "status": "disabled"})
        }
        "disable-log-reason" => {
            let reason = string_field(obj, "service", "disabled_reason")?;
            c.update_service(&service, Some(true), Some(Some(reason.clone())), None)
                .await?;
            json!({"host": host, "binary": binary, "status": "disabled", "disabled_reason": reason})
        }
        _ => {
            let forced = match obj.get("forced_down") {
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(invalid(
                        "forced_down",
                        other,
                        &format!("{other} is not of type 'boolean'"),
                    ));
                }
                None => {
                    return Err(invalid("service", body, "'forced_down' is a required property"));
                }
            };
            c.update_service(&service, None, None, Some(forced)).await?;
            json!({"host": host, "binary": binary, "forced_down": forced})
        }
    };
    Ok(Json(json!({"service": out})))
}

async fn update(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-services:update")?;
    let id = p.id.clone().unwrap_or_default();
    if !v.at_least(53) {
        return legacy(&c, v, &id, &body).await;
    }
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::bad_request(format!("Invalid uuid {id}")));
    }
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request(format!("{body} is not of type 'object'")))?;
    only(obj, "service", &["status", "disabled_reason", "forced_down"])?;
    let status = match obj.get("status") {
        None => None,
        Some(Value::String(s)) if s == "enabled" || s == "disabled" => Some(s.clone()),
        Some(other) => {
            return Err(invalid(
                "status",
                other,
                &format!("{other} is not one of ['enabled', 'disabled']"),
            ));
        }
    };
    let reason = match obj.get("disabled_reason") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 255 => Some(s.clone()),
        Some(other) => {
            return Err(invalid(
                "disabled_reason",
                other,
                &format!("{other} is not a string of 1 to 255 characters"),
            ));
        }
    };
    let forced = match obj.get("forced_down") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(invalid(
                "forced_down",
                other,
                &format!("{other} is not of type 'boolean'"),
            ));
        }
    };
    if status.is_none() && forced.is_none() {
        return Err(ApiError::bad_request(
            "No updates were requested. Fields 'status' or 'forced_down' should be specified.",
        ));
    }
    if reason.is_some() && status.as_deref() != Some("disabled") {
        return Err(ApiError::bad_request(format!(
            "Specifying 'disabled_reason' with status '{}' is invalid.",
            status.as_deref().unwrap_or("None")
        )));
    }
    let service = c.find_service(&id).await?;
    if service.row.binary != "nova-compute" {
        return Err(ApiError::bad_request(format!(
            "Updating a {} service is not supported. Only nova-compute services can be updated.",
            service.row.binary
        )));
    }
    let disabled = status.as_deref().map(|s| s == "disabled");
    let reason = match (disabled, reason) {
        (_, Some(r)) => Some(Some(r)),
        (Some(true), None) => Some(None),
        _ => None,
    };
    let updated = c.update_service(&service, disabled, reason, forced).await?;
    Ok(Json(json!({"service": view(&updated, v)})))
}

async fn delete(State(c): State<Compute>, Auth(ctx): Auth, v: Version, Path(p): Path<Params>) -> ApiResult<StatusCode> {
    authorize(&c, &ctx, "os_compute_api:os-services:delete")?;
    let id = p.id.clone().unwrap_or_default();
    if v.at_least(53) {
        if uuid::Uuid::parse_str(&id).is_err() {
            return Err(ApiError::bad_request(format!("Invalid uuid {id}")));
        }
    } else if id.parse::<i64>().is_err() {
        return Err(ApiError::bad_request(format!("Invalid ID {id}")));
    }
    let service = c.find_service(&id).await?;
    c.delete_service(&service).await?;
    Ok(StatusCode::NO_CONTENT)
}
