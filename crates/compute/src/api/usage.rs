//! `os-simple-tenant-usage`: every project's usage over `start`..`end`
//! (admin; `detailed=1` adds each server), or one project's. From 2.40
//! the instances are paged (`limit`, `marker`) with
//! `tenant_usages_links` / `tenant_usage_links`.

use api::ApiError;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::servers::{ApiResult, Who, authorize, isotime_micro};
use super::{IdPath, QueryPairs};
use crate::Compute;
use crate::microversion::Version;
use crate::usage::{Paging, ServerUsage, TenantUsage};

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-simple-tenant-usage", get(index))
        .route("/os-simple-tenant-usage/{id}", get(show))
}

/// Nova's `_parse_datetime`: now when absent; the ISO forms Nova accepts.
fn parse_time(value: Option<&str>) -> ApiResult<i64> {
    let Some(s) = value.filter(|s| !s.is_empty()) else {
        return Ok(crate::db::now());
    };
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t.and_utc().timestamp_micros());
        }
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_micros());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_micros());
    }
    Err(ApiError::bad_request(format!("Invalid datetime string: {s}")))
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// (start, stop, detailed); the stop is never later than now.
fn window(q: &[(String, String)]) -> ApiResult<(i64, i64, bool)> {
    let start = parse_time(param(q, "start"))?;
    let stop = parse_time(param(q, "end"))?;
    if start > stop {
        return Err(ApiError::bad_request(
            "Invalid start time. The start time cannot occur after the end time.",
        ));
    }
    // Nova takes only `1`; openstacksdk sends `True`, which is taken too
    // so that `openstack usage list` gets its server counts.
    let detailed = param(q, "detailed")
        .is_some_and(|d| d == "1" || d.eq_ignore_ascii_case("true") || d.eq_ignore_ascii_case("yes"));
    Ok((start, stop.min(crate::db::now()), detailed))
}

fn server_view(s: &ServerUsage) -> Value {
    json!({
        "instance_id": s.instance_id,
        "name": s.name,
        "tenant_id": s.tenant_id,
        "flavor": s.flavor,
        "vcpus": s.vcpus,
        "memory_mb": s.memory_mb,
        "local_gb": s.local_gb,
        "hours": s.hours,
        "started_at": isotime_micro(s.started_at),
        "ended_at": s.ended_at.map(isotime_micro),
        "state": s.state,
        "uptime": s.uptime,
    })
}

fn tenant_view(t: &TenantUsage, detailed: bool) -> Value {
    let mut out = json!({
        "tenant_id": t.tenant_id,
        "total_hours": t.total_hours,
        "total_vcpus_usage": t.total_vcpus_usage,
        "total_memory_mb_usage": t.total_memory_mb_usage,
        "total_local_gb_usage": t.total_local_gb_usage,
        "start": isotime_micro(t.start),
        "stop": isotime_micro(t.stop),
    });
    if detailed {
        out["server_usages"] = t.server_usages.iter().map(server_view).collect();
    }
    out
}

/// The page (from 2.40) and the `next` link when it is full.
fn page(c: &Compute, q: &[(String, String)], v: Version) -> ApiResult<Option<api::page::Page>> {
    if !v.at_least(40) {
        return Ok(None);
    }
    let mut p = api::page::Page::from_query(q, c.config.max_limit)?;
    p.limit = Some(p.limit.unwrap_or(c.config.max_limit));
    Ok(Some(p))
}

fn links(c: &Compute, path: &str, q: &[(String, String)], p: &api::page::Page, servers: &[ServerUsage]) -> Vec<Value> {
    let others: Vec<(String, String)> = q
        .iter()
        .filter(|(k, _)| k != "limit" && k != "marker")
        .cloned()
        .collect();
    p.links(
        &format!("{}/v2.1/{path}", c.base_url()),
        &others,
        servers.len(),
        servers.last().map(|s| s.instance_id.as_str()),
    )
}

async fn index(State(c): State<Compute>, Who(caller): Who, v: Version, q: QueryPairs) -> ApiResult<Json<Value>> {
    authorize(
        &c,
        &caller,
        "os_compute_api:os-simple-tenant-usage:list",
        caller.project_id(),
        caller.user_id(),
    )?;
    let (start, stop, detailed) = window(&q)?;
    let p = page(&c, &q, v)?;
    let paging = Paging {
        limit: p.as_ref().and_then(|p| p.limit),
        marker: p.as_ref().and_then(|p| p.marker.as_deref()),
    };
    let (tenants, servers) = c.tenant_usages(start, stop, None, paging).await?;
    let mut out = Map::new();
    out.insert(
        "tenant_usages".into(),
        tenants.iter().map(|t| tenant_view(t, detailed)).collect(),
    );
    if let Some(p) = &p {
        let l = links(&c, "os-simple-tenant-usage", &q, p, &servers);
        if !l.is_empty() {
            out.insert("tenant_usages_links".into(), json!(l));
        }
    }
    Ok(Json(Value::Object(out)))
}

async fn show(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(id): Path<IdPath>,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    authorize(
        &c,
        &caller,
        "os_compute_api:os-simple-tenant-usage:show",
        &id.id,
        caller.user_id(),
    )?;
    let (start, stop, _) = window(&q)?;
    let p = page(&c, &q, v)?;
    let paging = Paging {
        limit: p.as_ref().and_then(|p| p.limit),
        marker: p.as_ref().and_then(|p| p.marker.as_deref()),
    };
    let (tenants, servers) = c.tenant_usages(start, stop, Some(&id.id), paging).await?;
    let mut out = Map::new();
    out.insert(
        "tenant_usage".into(),
        tenants
            .first()
            .map(|t| tenant_view(t, true))
            .unwrap_or_else(|| json!({})),
    );
    if let Some(p) = &p {
        let l = links(&c, &format!("os-simple-tenant-usage/{}", id.id), &q, p, &servers);
        if !l.is_empty() {
            out.insert("tenant_usage_links".into(), json!(l));
        }
    }
    Ok(Json(Value::Object(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_nova_does() {
        let t = parse_time(Some("2024-01-02T03:04:05")).unwrap();
        assert_eq!(t, parse_time(Some("2024-01-02T03:04:05Z")).unwrap());
        assert_eq!(t, parse_time(Some("2024-01-02 03:04:05.000000")).unwrap());
        assert_eq!(t + 500_000, parse_time(Some("2024-01-02T03:04:05.5")).unwrap());
        assert!(parse_time(Some("yesterday")).is_err());
    }
}
