//! `os-hosts` (up to microversion 2.42, admin only): the hosts of the
//! services, a compute host's resources (total, used now, per project),
//! enabling or disabling its compute service. Power actions and
//! maintenance mode need a driver that can act on the host itself; no
//! driver here can, so they answer 501 as Nova does for such drivers.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::{Value, json};

use ::api::{ApiError, Auth, ValidJson};

use super::QueryPairs;
use super::flavors::{Params, authorize, version_not_found};
use crate::Compute;
use crate::microversion::Version;

type ApiResult<T> = Result<T, ApiError>;

/// The last microversion with `os-hosts`.
const LAST_HOSTS_VERSION: u32 = 42;

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-hosts", get(list))
        .route("/os-hosts/{id}", get(show).put(update))
        .route("/os-hosts/{id}/{key}", get(power_action))
}

fn available(v: Version) -> ApiResult<()> {
    if v.at_least(LAST_HOSTS_VERSION + 1) {
        return Err(version_not_found());
    }
    Ok(())
}

fn host_not_found(host: &str) -> ApiError {
    ApiError::not_found(format!("Compute host {host} could not be found."))
}

/// The service's topic as `os-hosts` names it (`nova-compute` → `compute`).
fn service_name(binary: &str) -> &str {
    binary.strip_prefix("nova-").unwrap_or(binary)
}

async fn list(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    axum::extract::Query(pairs): QueryPairs,
) -> ApiResult<Json<Value>> {
    available(v)?;
    authorize(&c, &ctx, "os_compute_api:os-hosts:list")?;
    let zone = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "zone")
        .map(|(_, z)| z.as_str())
        .filter(|z| !z.is_empty());
    let hosts: Vec<Value> = c
        .list_services(None, None)
        .await?
        .iter()
        .filter(|s| zone.is_none_or(|z| s.zone == z))
        .map(|s| json!({"host_name": s.row.host, "service": service_name(&s.row.binary), "zone": s.zone}))
        .collect();
    Ok(Json(json!({ "hosts": hosts })))
}

fn resource(host: &str, project: &str, cpu: u64, memory_mb: u64, disk_gb: u64) -> Value {
    json!({"resource": {"host": host, "project": project, "cpu": cpu, "memory_mb": memory_mb, "disk_gb": disk_gb}})
}

async fn show(State(c): State<Compute>, Auth(ctx): Auth, v: Version, Path(p): Path<Params>) -> ApiResult<Json<Value>> {
    available(v)?;
    authorize(&c, &ctx, "os_compute_api:os-hosts:show")?;
    let name = p.id.clone().unwrap_or_default();
    let host = c
        .compute_hosts()
        .await?
        .into_iter()
        .find(|h| h.host == name)
        .ok_or_else(|| host_not_found(&name))?;
    let instances = crate::db::servers::on_host(&c.db, &name).await?;
    let mut per_project: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for i in &instances {
        let f = &i.flavor;
        let e = per_project.entry(i.project_id.clone()).or_default();
        e.0 += u64::from(f.vcpus);
        e.1 += f.memory_mb;
        e.2 += f.root_gb + f.ephemeral_gb;
    }
    let used = per_project
        .values()
        .fold((0, 0, 0), |a, u| (a.0 + u.0, a.1 + u.1, a.2 + u.2));
    let mut resources = vec![
        resource(&name, "(total)", u64::from(host.vcpus), host.memory_mb, host.local_gb),
        resource(&name, "(used_now)", used.0, used.1, used.2),
        resource(&name, "(used_max)", used.0, used.1, used.2),
    ];
    for (project, u) in &per_project {
        resources.push(resource(&name, project, u.0, u.1, u.2));
    }
    Ok(Json(json!({ "host": resources })))
}

fn enable_or_disable(body: &Value, field: &str) -> ApiResult<Option<bool>> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) if s == "enable" => Ok(Some(true)),
        Some(Value::String(s)) if s == "disable" => Ok(Some(false)),
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute {field}. Value: {other}. {other} is not one of ['enable', 'disable']"
        ))),
    }
}

async fn update(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    available(v)?;
    authorize(&c, &ctx, "os_compute_api:os-hosts:update")?;
    let Some(fields) = body.as_object() else {
        return Err(ApiError::bad_request("Malformed request body"));
    };
    if let Some(k) = fields.keys().find(|k| *k != "status" && *k != "maintenance_mode") {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute request body. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let status = enable_or_disable(&body, "status")?;
    let maintenance = enable_or_disable(&body, "maintenance_mode")?;
    if status.is_none() && maintenance.is_none() {
        return Err(ApiError::bad_request(
            "Invalid input for field/attribute request body. {} does not have enough properties",
        ));
    }
    let name = p.id.clone().unwrap_or_default();
    let service = c
        .list_services(Some(&name), Some("nova-compute"))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| host_not_found(&name))?;
    if maintenance.is_some() {
        return Err(ApiError::new(
            http::StatusCode::NOT_IMPLEMENTED,
            "Virt driver does not implement host maintenance mode.",
        ));
    }
    let mut answer = json!({ "host": name });
    if let Some(enabled) = status {
        let s = c.update_service(&service, Some(!enabled), None, None).await?;
        answer["status"] = json!(if s.row.disabled { "disabled" } else { "enabled" });
    }
    Ok(Json(answer))
}

/// `startup`, `shutdown`, `reboot` of a host.
async fn power_action(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
) -> ApiResult<Json<Value>> {
    available(v)?;
    let action = p.key.clone().unwrap_or_default();
    if !matches!(action.as_str(), "startup" | "shutdown" | "reboot") {
        return Err(ApiError::not_found("The resource could not be found."));
    }
    authorize(&c, &ctx, &format!("os_compute_api:os-hosts:{}", action))?;
    let name = p.id.clone().unwrap_or_default();
    if c.list_services(Some(&name), Some("nova-compute")).await?.is_empty() {
        return Err(host_not_found(&name));
    }
    Err(ApiError::new(
        http::StatusCode::NOT_IMPLEMENTED,
        "Virt driver does not implement host power management.",
    ))
}
