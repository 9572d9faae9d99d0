//! `os-quota-sets` (show, `defaults`, `detail`, update, delete) and
//! `os-quota-class-sets` (show, update). What a response shows depends on
//! the microversion: the network proxies' quotas go at 2.36 (2.50 for
//! quota classes, which gain the server group quotas there), the
//! injected-file quotas at 2.57. An update refuses what the version does
//! not show.

use std::collections::BTreeMap;

use api::ApiError;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::servers::{ApiResult, Who, authorize};
use super::{IdPath, QueryPairs};
use crate::Compute;
use crate::microversion::Version;
use crate::quotas::{DEFAULTS, FILTERED_2_36, FILTERED_2_57, LEGACY, MAX_LIMIT};

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-quota-sets/{id}", get(show).put(update).delete(delete))
        .route("/os-quota-sets/{id}/defaults", get(defaults))
        .route("/os-quota-sets/{id}/detail", get(detail))
        .route("/os-quota-class-sets/{id}", get(show_class).put(update_class))
}

/// Whether `os-quota-sets` shows `resource` at `v`.
fn shown(resource: &str, v: Version) -> bool {
    let known = DEFAULTS.iter().chain(LEGACY).any(|(r, _)| *r == resource);
    known
        && !(v.at_least(36) && FILTERED_2_36.contains(&resource))
        && !(v.at_least(57) && FILTERED_2_57.contains(&resource))
}

/// Whether `os-quota-class-sets` shows `resource` at `v`.
fn class_shown(resource: &str, v: Version) -> bool {
    let known = DEFAULTS.iter().chain(LEGACY).any(|(r, _)| *r == resource);
    let groups = matches!(resource, "server_groups" | "server_group_members");
    known
        && (v.at_least(50) || !groups)
        && !(v.at_least(50) && FILTERED_2_36.contains(&resource))
        && !(v.at_least(57) && FILTERED_2_57.contains(&resource))
}

fn quota_map(id: Option<&str>, values: impl IntoIterator<Item = (String, Value)>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(id) = id {
        out.insert("id".into(), json!(id));
    }
    out.extend(values);
    out
}

fn limits_view(id: Option<&str>, limits: &BTreeMap<String, i64>, show: impl Fn(&str) -> bool) -> Map<String, Value> {
    quota_map(
        id,
        limits
            .iter()
            .filter(|(k, _)| show(k))
            .map(|(k, v)| (k.clone(), json!(v))),
    )
}

fn user_param(q: &[(String, String)]) -> Option<String> {
    q.iter()
        .rev()
        .find(|(k, _)| k == "user_id")
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

fn invalid(field: &str, value: &Value, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {value}. {why}"
    ))
}

/// Nova's `parameter_types.boolean`.
fn parse_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "on" | "yes" => Some(true),
            "false" | "0" | "off" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A limit: an integer, or a string of one, from -1 to `MAX_INT`.
fn parse_limit(field: &str, v: &Value) -> ApiResult<i64> {
    let n = match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| invalid(field, v, &format!("{v} is not of type 'integer', 'string'")))?,
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(field, v, &format!("'{s}' does not match '^-?[0-9]+$'")));
            }
            s.parse::<i64>()
                .map_err(|_| invalid(field, v, &format!("'{s}' is greater than the maximum of {MAX_LIMIT}")))?
        }
        other => {
            return Err(invalid(
                field,
                other,
                &format!("{other} is not of type 'integer', 'string'"),
            ));
        }
    };
    if n < -1 {
        return Err(invalid(field, v, &format!("{n} is less than the minimum of -1")));
    }
    if n > MAX_LIMIT {
        return Err(invalid(
            field,
            v,
            &format!("{n} is greater than the maximum of {MAX_LIMIT}"),
        ));
    }
    Ok(n)
}

/// The body `{"<wrapper>": {resource: limit, ...}}`: the limits, and
/// `force` where allowed. `settable` says which resources the version
/// accepts.
fn parse_body(
    body: &Value,
    wrapper: &str,
    allow_force: bool,
    settable: impl Fn(&str) -> bool,
) -> ApiResult<(BTreeMap<String, i64>, bool)> {
    let Some(obj) = body.as_object() else {
        return Err(invalid("root", body, &format!("{body} is not of type 'object'")));
    };
    if let Some(extra) = obj.keys().find(|k| *k != wrapper) {
        return Err(invalid(
            "root",
            body,
            &format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        ));
    }
    let Some(set) = obj.get(wrapper) else {
        return Err(invalid("root", body, &format!("'{wrapper}' is a required property")));
    };
    let Some(set) = set.as_object() else {
        return Err(invalid(wrapper, set, &format!("{set} is not of type 'object'")));
    };
    let mut force = false;
    let mut limits = BTreeMap::new();
    for (k, v) in set {
        if allow_force && k == "force" {
            force =
                parse_bool(v).ok_or_else(|| invalid("force", v, &format!("{v} is not one of the boolean values")))?;
            continue;
        }
        if k == "networks" && allow_force {
            return Err(ApiError::bad_request("The networks quota has been removed"));
        }
        if !settable(k) {
            return Err(invalid(
                wrapper,
                &Value::Object(set.clone()),
                &format!("Additional properties are not allowed ('{k}' was unexpected)"),
            ));
        }
        limits.insert(k.clone(), parse_limit(k, v)?);
    }
    Ok((limits, force))
}

async fn show(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(p): Path<IdPath>,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    authorize(
        &c,
        &caller,
        "os_compute_api:os-quota-sets:show",
        &p.id,
        caller.user_id(),
    )?;
    let user = user_param(&q);
    let limits = c.quota_limits(&p.id, user.as_deref()).await?;
    Ok(Json(
        json!({"quota_set": limits_view(Some(&p.id), &limits, |k| shown(k, v))}),
    ))
}

async fn defaults(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(p): Path<IdPath>,
) -> ApiResult<Json<Value>> {
    authorize(
        &c,
        &caller,
        "os_compute_api:os-quota-sets:defaults",
        &p.id,
        caller.user_id(),
    )?;
    let limits = c.quota_defaults().await?;
    Ok(Json(
        json!({"quota_set": limits_view(Some(&p.id), &limits, |k| shown(k, v))}),
    ))
}

async fn detail(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(p): Path<IdPath>,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    authorize(
        &c,
        &caller,
        "os_compute_api:os-quota-sets:detail",
        &p.id,
        caller.user_id(),
    )?;
    let user = user_param(&q);
    let details = c.quota_details(&p.id, user.as_deref()).await?;
    let values = details
        .into_iter()
        .filter(|(k, _)| shown(k, v))
        .map(|(k, d)| (k, json!({"limit": d.limit, "in_use": d.in_use, "reserved": 0})));
    Ok(Json(json!({"quota_set": quota_map(Some(&p.id), values)})))
}

async fn update(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(p): Path<IdPath>,
    q: QueryPairs,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    authorize(
        &c,
        &caller,
        "os_compute_api:os-quota-sets:update",
        &p.id,
        caller.user_id(),
    )?;
    let (limits, force) = parse_body(&body, "quota_set", true, |k| shown(k, v))?;
    let user = user_param(&q);
    c.update_quota_limits(&p.id, user.as_deref(), &limits, force).await?;
    let limits = c.quota_limits(&p.id, user.as_deref()).await?;
    Ok(Json(json!({"quota_set": limits_view(None, &limits, |k| shown(k, v))})))
}

async fn delete(
    State(c): State<Compute>,
    Who(caller): Who,
    Path(p): Path<IdPath>,
    q: QueryPairs,
) -> ApiResult<StatusCode> {
    authorize(
        &c,
        &caller,
        "os_compute_api:os-quota-sets:delete",
        &p.id,
        caller.user_id(),
    )?;
    let user = user_param(&q);
    c.delete_quota_limits(&p.id, user.as_deref()).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn show_class(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(p): Path<IdPath>,
) -> ApiResult<Json<Value>> {
    authorize(
        &c,
        &caller,
        "os_compute_api:os-quota-class-sets:show",
        caller.project_id(),
        caller.user_id(),
    )?;
    let limits = c.quota_class(&p.id).await?;
    Ok(Json(
        json!({"quota_class_set": limits_view(Some(&p.id), &limits, |k| class_shown(k, v))}),
    ))
}

async fn update_class(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(p): Path<IdPath>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    authorize(
        &c,
        &caller,
        "os_compute_api:os-quota-class-sets:update",
        caller.project_id(),
        caller.user_id(),
    )?;
    if p.id.is_empty() || p.id.chars().count() > 255 {
        return Err(ApiError::bad_request(
            "The quota class name must be between 1 and 255 characters long.",
        ));
    }
    let (limits, _) = parse_body(&body, "quota_class_set", false, |k| class_shown(k, v))?;
    c.set_quota_class(&p.id, &limits).await?;
    let limits = c.quota_class(&p.id).await?;
    Ok(Json(
        json!({"quota_class_set": limits_view(None, &limits, |k| class_shown(k, v))}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_the_microversion() {
        assert!(shown("floating_ips", Version(35)));
        assert!(!shown("floating_ips", Version(36)));
        assert!(shown("injected_files", Version(56)));
        assert!(!shown("injected_files", Version(57)));
        assert!(!shown("networks", Version(1)));
        assert!(!class_shown("server_groups", Version(49)));
        assert!(class_shown("server_groups", Version(50)));
        assert!(class_shown("floating_ips", Version(49)));
        assert!(!class_shown("floating_ips", Version(50)));
    }

    #[test]
    fn limits_are_checked() {
        assert_eq!(parse_limit("ram", &json!(5)).unwrap(), 5);
        assert_eq!(parse_limit("ram", &json!("-1")).unwrap(), -1);
        assert!(parse_limit("ram", &json!(-2)).is_err());
        assert!(parse_limit("ram", &json!("abc")).is_err());
        assert!(parse_limit("ram", &json!(1.5)).is_err());
        assert!(parse_limit("ram", &json!(null)).is_err());
        assert!(parse_limit("ram", &json!(MAX_LIMIT + 1)).is_err());
    }
}
