//! `/v2.0/quotas`: list (admin), show, update, reset, defaults and
//! details (`quota_details`). An update may ask for `check_limit`
//! (`quota-check-limit`: refuse a limit below the usage, as the
//! `openstack quota set` CLI asks unless `--force`); `force` skips it.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::{ApiResult, attrs, no_content};
use crate::Network;
use crate::error::NetworkError;
use crate::quotas;
use api::Auth;

fn target(project_id: &str) -> Value {
    json!({"project_id": project_id, "tenant_id": project_id})
}

fn limits_body(limits: &[(String, i64)]) -> Value {
    Value::Object(limits.iter().map(|(r, l)| (r.clone(), json!(l))).collect())
}

pub async fn list(State(n): State<Network>, Auth(ctx): Auth) -> ApiResult<Response> {
    n.authorize(&ctx, "update_quota", &json!({}))?;
    let list: Vec<Value> = quotas::list_set(&n)
        .await?
        .into_iter()
        .map(|(p, limits)| {
            let mut v = limits_body(&limits);
            v["project_id"] = json!(p);
            v["tenant_id"] = json!(p);
            v
        })
        .collect();
    Ok(super::json(StatusCode::OK, json!({"quotas": list})))
}

pub async fn show(State(n): State<Network>, Auth(ctx): Auth, Path(project_id): Path<String>) -> ApiResult<Response> {
    n.authorize(&ctx, "get_quota", &target(&project_id))?;
    let limits = quotas::limits(&n, &project_id).await?;
    Ok(super::json(StatusCode::OK, json!({"quota": limits_body(&limits)})))
}

pub async fn defaults(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
) -> ApiResult<Response> {
    n.authorize(&ctx, "get_quota", &target(&project_id))?;
    Ok(super::json(
        StatusCode::OK,
        json!({"quota": limits_body(&quotas::defaults(&n))}),
    ))
}

pub async fn details(State(n): State<Network>, Auth(ctx): Auth, Path(project_id): Path<String>) -> ApiResult<Response> {
    n.authorize(&ctx, "get_quota", &target(&project_id))?;
    let body: Map<String, Value> = quotas::details(&n, &project_id)
        .await?
        .into_iter()
        .map(|(r, limit, used)| (r, json!({"limit": limit, "used": used, "reserved": 0})))
        .collect();
    Ok(super::json(StatusCode::OK, json!({"quota": body})))
}

pub async fn update(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(project_id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let m = attrs::resource(&headers, &bytes, "quota")?;
    let mut unknown: Vec<&str> = m
        .keys()
        .map(String::as_str)
        .filter(|k| !quotas::is_resource(&n, k) && !["project_id", "tenant_id", "check_limit", "force"].contains(k))
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(
            NetworkError::http_bad_request(format!("Unrecognized attribute(s) '{}'", unknown.join(", "))).into(),
        );
    }
    let mut changes = Vec::new();
    for (k, v) in &m {
        if !quotas::is_resource(&n, k) {
            continue;
        }
        let limit = attrs::int(&m, k)?.filter(|l| *l >= -1).ok_or_else(|| {
            NetworkError::invalid_attr(k, format!("'{v}' is not a valid quota limit: it must be -1 or more"))
        })?;
        changes.push((k.clone(), limit));
    }
    let check_limit = attrs::boolean(&m, "check_limit")?.unwrap_or(false) && attrs::boolean(&m, "force")? != Some(true);
    n.authorize(&ctx, "update_quota", &target(&project_id))?;
    let limits = quotas::update(&n, &project_id, &changes, check_limit).await?;
    Ok(super::json(StatusCode::OK, json!({"quota": limits_body(&limits)})))
}

pub async fn reset(State(n): State<Network>, Auth(ctx): Auth, Path(project_id): Path<String>) -> ApiResult<Response> {
    n.authorize(&ctx, "delete_quota", &target(&project_id))?;
    quotas::reset(&n, &project_id).await?;
    Ok(no_content())
}
