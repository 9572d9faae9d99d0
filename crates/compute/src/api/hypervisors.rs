//! `os-hypervisors`: list, detail, show, `statistics` and `{id}/uptime`
//! (before 2.88), `{pattern}/search` and `{pattern}/servers` (before
//! 2.53). 2.28 makes `cpu_info` an object, 2.33 pages the lists, 2.53
//! uses uuids and adds `hypervisor_hostname_pattern` and `with_servers`,
//! 2.88 drops the resource figures (placement has them) and adds
//! `uptime`.
//!
//! The uptime is the agent's (`get_host_uptime`): a host whose agent does
//! not answer gives 503 on `{id}/uptime` and a null `uptime` in 2.88's
//! show. Not offered: `disk_available_least` is null (the agents do not
//! report it).

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use serde_json::{Value, json};

use ::api::{ApiError, Auth};

use super::flavors::{Params, authorize, only_query, version_not_found};
use crate::Compute;
use crate::microversion::Version;
use crate::services::HypervisorView;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-hypervisors", get(list))
        .route("/os-hypervisors/detail", get(list_detail))
        .route("/os-hypervisors/statistics", get(statistics))
        .route("/os-hypervisors/{id}", get(show))
        .route("/os-hypervisors/{id}/uptime", get(uptime))
        .route("/os-hypervisors/{id}/search", get(search))
        .route("/os-hypervisors/{id}/servers", get(servers))
}

fn hyp_id(h: &HypervisorView, v: Version) -> Value {
    if v.at_least(53) {
        json!(h.node.uuid)
    } else {
        json!(h.node.id)
    }
}

fn summary(h: &HypervisorView, v: Version) -> Value {
    json!({
        "id": hyp_id(h, v),
        "hypervisor_hostname": h.node.hypervisor_hostname,
        "state": if h.service.up { "up" } else { "down" },
        "status": if h.service.row.disabled { "disabled" } else { "enabled" },
    })
}

fn with_servers(mut o: Value, h: &HypervisorView) -> Value {
    if !h.servers.is_empty() {
        o["servers"] = json!(
            h.servers
                .iter()
                .map(|s| json!({"name": s.name, "uuid": s.uuid}))
                .collect::<Vec<_>>()
        );
    }
    o
}

fn detail(h: &HypervisorView, v: Version) -> Value {
    let mut o = summary(h, v);
    let n = &h.node;
    o["hypervisor_type"] = json!(n.hypervisor_type);
    o["hypervisor_version"] = json!(n.hypervisor_version);
    o["host_ip"] = json!(n.host_ip);
    o["service"] = json!({
        "host": h.service.row.host,
        "id": if v.at_least(53) { json!(h.service.row.uuid) } else { json!(h.service.row.id) },
        "disabled_reason": h.service.row.disabled_reason,
    });
    if v.at_least(88) {
        o["uptime"] = Value::Null;
        return o;
    }
    let cpu_info: Value = serde_json::from_str(&n.cpu_info).unwrap_or(Value::Null);
    o["cpu_info"] = if v.at_least(28) {
        if cpu_info.is_object() { cpu_info } else { json!({}) }
    } else {
        json!(n.cpu_info)
    };
    o["vcpus"] = json!(n.vcpus);
    o["memory_mb"] = json!(n.memory_mb);
    o["local_gb"] = json!(n.local_gb);
    o["vcpus_used"] = json!(h.vcpus_used);
    o["memory_mb_used"] = json!(h.memory_mb_used);
    o["local_gb_used"] = json!(h.local_gb_used);
    o["free_ram_mb"] = json!(n.memory_mb - h.memory_mb_used);
    o["free_disk_gb"] = json!(n.local_gb - h.local_gb_used);
    o["current_workload"] = json!(h.current_workload);
    o["running_vms"] = json!(h.running_vms);
    o["disk_available_least"] = Value::Null;
    o
}

fn flag_param(pairs: &[(String, String)], key: &str) -> ApiResult<bool> {
    match pairs.iter().rev().find(|(k, _)| k == key) {
        None => Ok(false),
        Some((_, v)) => match v.to_ascii_lowercase().as_str() {
            "1" | "t" | "true" | "on" | "y" | "yes" => Ok(true),
            "0" | "f" | "false" | "off" | "n" | "no" => Ok(false),
            _ => Err(ApiError::bad_request(format!(
                "Invalid input for query parameters {key}. Value: {v}. '{v}' is not a valid boolean"
            ))),
        },
    }
}

async fn list_any(
    c: Compute,
    v: Version,
    p: Params,
    pairs: Vec<(String, String)>,
    full: bool,
) -> ApiResult<Json<Value>> {
    let mut allowed = vec![];
    if v.at_least(33) {
        allowed.extend(["limit", "marker"]);
    }
    if v.at_least(53) {
        allowed.extend(["hypervisor_hostname_pattern", "with_servers"]);
        only_query(&pairs, &allowed)?;
    }
    let pattern = if v.at_least(53) {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == "hypervisor_hostname_pattern")
            .map(|(_, v)| v.clone())
    } else {
        None
    };
    let show_servers = v.at_least(53) && flag_param(&pairs, "with_servers")?;
    let page = if v.at_least(33) {
        ::api::page::Page::from_query(&pairs, c.config.max_limit)?
    } else {
        ::api::page::Page::default()
    };
    if pattern.is_some() && (page.limit.is_some() || page.marker.is_some()) {
        return Err(ApiError::bad_request(
            "Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.",
        ));
    }
    let mut hyps = c.list_hypervisors().await?;
    if let Some(pat) = &pattern {
        hyps.retain(|h| h.node.hypervisor_hostname.contains(pat.as_str()));
        if hyps.is_empty() {
            return Err(ApiError::not_found(format!(
                "No hypervisor matching '{pat}' could be found."
            )));
        }
    }
    if let Some(m) = &page.marker {
        let Some(pos) = hyps
            .iter()
            .position(|h| hyp_id(h, v).to_string().trim_matches('"') == m)
        else {
            return Err(ApiError::bad_request(format!("marker [{m}] not found")));
        };
        hyps.drain(..=pos);
    }
    if let Some(l) = page.limit {
        hyps.truncate(l);
    }
    let items: Vec<Value> = hyps
        .iter()
        .map(|h| {
            let o = if full { detail(h, v) } else { summary(h, v) };
            if show_servers { with_servers(o, h) } else { o }
        })
        .collect();
    let mut body = json!({"hypervisors": items});
    let path = if full {
        "os-hypervisors/detail"
    } else {
        "os-hypervisors"
    };
    let last = hyps
        .last()
        .map(|h| hyp_id(h, v).to_string().trim_matches('"').to_owned());
    let next = page.links(
        &format!("{}/{path}", p.self_base(&c)),
        &pairs,
        hyps.len(),
        last.as_deref(),
    );
    if !next.is_empty() {
        body["hypervisors_links"] = json!(next);
    }
    Ok(Json(body))
}

async fn list(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-hypervisors:list")?;
    list_any(c, v, p, pairs, false).await
}

async fn list_detail(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-hypervisors:list-detail")?;
    list_any(c, v, p, pairs, true).await
}

/// The hypervisor named by the path: an integer id before 2.53, a uuid
/// from 2.53.
async fn find(c: &Compute, v: Version, id: &str) -> ApiResult<HypervisorView> {
    if v.at_least(53) && uuid::Uuid::parse_str(id).is_err() {
        return Err(ApiError::bad_request(format!("Invalid uuid {id}")));
    }
    c.list_hypervisors()
        .await?
        .into_iter()
        .find(|h| {
            if v.at_least(53) {
                h.node.uuid == id
            } else {
                h.node.id.to_string() == id
            }
        })
        .ok_or_else(|| ApiError::not_found(format!("Hypervisor with ID '{id}' could not be found.")))
}

async fn show(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-hypervisors:show")?;
    if v.at_least(53) {
        only_query(&pairs, &["with_servers"])?;
    }
    let show_servers = v.at_least(53) && flag_param(&pairs, "with_servers")?;
    let h = find(&c, v, p.id.as_deref().unwrap_or_default()).await?;
    let mut o = detail(&h, v);
    if v.at_least(88) && h.service.up {
        o["uptime"] = c
            .host_uptime(&h.service.row.host)
            .await
            .map_or(Value::Null, Value::String);
    }
    Ok(Json(
        json!({"hypervisor": if show_servers { with_servers(o, &h) } else { o }}),
    ))
}

async fn statistics(State(c): State<Compute>, Auth(ctx): Auth, v: Version) -> ApiResult<Json<Value>> {
    if v.at_least(88) {
        return Err(version_not_found());
    }
    authorize(&c, &ctx, "os_compute_api:os-hypervisors:statistics")?;
    let hyps = c.list_hypervisors().await?;
    let sum = |f: &dyn Fn(&HypervisorView) -> i64| hyps.iter().map(f).sum::<i64>();
    Ok(Json(json!({"hypervisor_statistics": {
        "count": hyps.len(),
        "vcpus": sum(&|h| h.node.vcpus),
        "memory_mb": sum(&|h| h.node.memory_mb),
        "local_gb": sum(&|h| h.node.local_gb),
        "vcpus_used": sum(&|h| h.vcpus_used),
        "memory_mb_used": sum(&|h| h.memory_mb_used),
        "local_gb_used": sum(&|h| h.local_gb_used),
        "free_ram_mb": sum(&|h| h.node.memory_mb - h.memory_mb_used),
        "free_disk_gb": sum(&|h| h.node.local_gb - h.local_gb_used),
        "current_workload": sum(&|h| h.current_workload),
        "running_vms": sum(&|h| h.running_vms),
        "disk_available_least": null,
    }})))
}

async fn uptime(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
) -> ApiResult<Json<Value>> {
    if v.at_least(88) {
        return Err(version_not_found());
    }
    authorize(&c, &ctx, "os_compute_api:os-hypervisors:uptime")?;
    let h = find(&c, v, p.id.as_deref().unwrap_or_default()).await?;
    if !h.service.up {
        return Err(ApiError::bad_request(format!(
            "Compute service of {} is unavailable at this time.",
            h.service.row.host
        )));
    }
    let mut o = summary(&h, v);
    o["uptime"] = json!(c.host_uptime(&h.service.row.host).await?);
    Ok(Json(json!({ "hypervisor": o })))
}

async fn matching(c: &Compute, pattern: &str) -> ApiResult<Vec<HypervisorView>> {
    let hyps: Vec<HypervisorView> = c
        .list_hypervisors()
        .await?
        .into_iter()
        .filter(|h| h.node.hypervisor_hostname.contains(pattern))
        .collect();
    if hyps.is_empty() {
        return Err(ApiError::not_found(format!(
            "No hypervisor matching '{pattern}' could be found."
        )));
    }
    Ok(hyps)
}

async fn search(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
) -> ApiResult<Json<Value>> {
    if v.at_least(53) {
        return Err(version_not_found());
    }
    authorize(&c, &ctx, "os_compute_api:os-hypervisors:search")?;
    let hyps = matching(&c, p.id.as_deref().unwrap_or_default()).await?;
    Ok(Json(
        json!({"hypervisors": hyps.iter().map(|h| summary(h, v)).collect::<Vec<_>>()}),
    ))
}

async fn servers(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
) -> ApiResult<Json<Value>> {
    if v.at_least(53) {
        return Err(version_not_found());
    }
    authorize(&c, &ctx, "os_compute_api:os-hypervisors:servers")?;
    let hyps = matching(&c, p.id.as_deref().unwrap_or_default()).await?;
    Ok(Json(json!({"hypervisors": hyps
        .iter()
        .map(|h| with_servers(summary(h, v), h))
        .collect::<Vec<_>>()})))
}
