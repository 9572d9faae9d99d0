//! `os-availability-zone` and `os-services`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use ::api::{ApiError, Auth, ValidJson};

use super::filters::{Filters, RESOURCE_FILTERS};
use super::versions::Version;
use super::{ApiResult, QueryPairs, isotime, query};
use crate::BlockStorage;

pub async fn zones(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:availability_zone_list", &project)?;
    let items: Vec<Value> = bs
        .zones()
        .await?
        .into_iter()
        .map(|(name, up)| json!({"zoneName": name, "zoneState": {"available": up}}))
        .collect();
    Ok(Json(json!({"availabilityZoneInfo": items})).into_response())
}

pub async fn services(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path(project): Path<String>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:services:index", &project)?;
    let items: Vec<Value> = bs
        .services()
        .await?
        .into_iter()
        // `host` matches `host` and every `host@backend` on it, as Cinder.
        .filter(|s| query(&q, "host").is_none_or(|h| s.row.host == h || s.row.host.split('@').next() == Some(h)))
        .filter(|s| query(&q, "binary").is_none_or(|b| s.row.binary == b))
        .map(|s| {
            let mut v = json!({
                "binary": s.row.binary,
                "host": s.row.host,
                "zone": s.row.availability_zone,
                "status": if s.row.disabled { "disabled" } else { "enabled" },
                "state": if s.up { "up" } else { "down" },
                "updated_at": isotime(s.row.updated_at),
                "disabled_reason": s.row.disabled_reason,
            });
            if version >= Version::CLUSTER_SUPPORT {
                // No clusters here: every service stands alone.
                v["cluster"] = Value::Null;
            }
            if s.row.binary == crate::services::VOLUME_BINARY {
                v["replication_status"] = json!("disabled");
                v["active_backend_id"] = Value::Null;
                v["frozen"] = json!(s.row.frozen);
            }
            v
        })
        .collect();
    Ok(Json(json!({"services": items})).into_response())
}

/// `PUT os-services/{enable|disable|disable-log-reason}`.
pub async fn service_update(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, action)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:services:update", &project)?;
    let (Some(host), Some(binary)) = (body["host"].as_str(), body["binary"].as_str()) else {
        return Err(ApiError::bad_request(
            "Missing required element 'host' or 'binary' in request body.",
        ));
    };
    let (disabled, reason) = match action.as_str() {
        "enable" => (false, None),
        "disable" => (true, None),
        "disable-log-reason" => {
            let Some(r) = body["disabled_reason"]
                .as_str()
                .filter(|r| !r.trim().is_empty() && r.len() <= 255)
            else {
                return Err(ApiError::bad_request(
                    "Invalid input received: Disabled reason contains invalid characters or is too long",
                ));
            };
            (true, Some(r.to_owned()))
        }
        other => return Err(ApiError::not_found(format!("Unknown action {other}"))),
    };
    bs.set_service_disabled(host, binary, disabled, reason.as_deref())
        .await?;
    Ok(Json(json!({
        "host": host,
        "binary": binary,
        "status": if disabled { "disabled" } else { "enabled" },
        "disabled": disabled,
        "disabled_reason": reason,
    }))
    .into_response())
}

/// The API extensions this service has (Cinder's `/extensions`): only the
/// ones built.
const EXTENSIONS: &[(&str, &str, &str)] = &[
    ("AdminActions", "os-admin-actions", "Enable admin actions."),
    (
        "AvailabilityZones",
        "os-availability-zone",
        "Describe Availability Zones.",
    ),
    (
        "ExtendedSnapshotAttributes",
        "os-extended-snapshot-attributes",
        "Extended SnapshotAttributes support.",
    ),
    ("Hosts", "os-hosts", "Admin-only host administration."),
    ("Qos_specs_manage", "qos-specs", "QoS specs support."),
    ("QuotaSets", "os-quota-sets", "Quota management support."),
    ("Services", "os-services", "Services support."),
    ("TypesExtraSpecs", "os-types-extra-specs", "Type extra specs support."),
    ("TypesManage", "os-types-manage", "Types manage support."),
    (
        "UsedLimits",
        "os-used-limits",
        "Provide data on limited resources that are being used.",
    ),
    ("VolumeActions", "os-volume-actions", "Enable volume actions."),
    (
        "VolumeHostAttribute",
        "os-vol-host-attr",
        "Expose host as an attribute of a volume.",
    ),
    (
        "VolumeImageMetadata",
        "os-vol-image-meta",
        "Show image metadata associated with the volume.",
    ),
    (
        "VolumeMigStatusAttribute",
        "os-vol-mig-status-attr",
        "Expose migration_status as an attribute of a volume.",
    ),
    (
        "VolumeTenantAttribute",
        "os-vol-tenant-attr",
        "Expose the internal project_id as an attribute of a volume.",
    ),
    (
        "VolumeTypeAccess",
        "os-volume-type-access",
        "Volume type access support.",
    ),
];

pub async fn extensions(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:list_extensions", &project)?;
    let items: Vec<Value> = EXTENSIONS
        .iter()
        .map(|(name, alias, description)| {
            json!({
                "name": name,
                "alias": alias,
                "description": description,
                "updated": "2023-01-01T00:00:00+00:00",
                "links": [],
            })
        })
        .collect();
    Ok(Json(json!({"extensions": items})).into_response())
}

/// `os-hosts`: every service, as Cinder's hosts extension lists them.
pub async fn hosts(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:hosts", &project)?;
    let items: Vec<Value> = bs
        .services()
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "service-status": if s.up { "available" } else { "unavailable" },
                "service": s.row.binary,
                "zone": s.row.availability_zone,
                "service-state": if s.row.disabled { "disabled" } else { "enabled" },
                "host_name": s.row.host,
                "last-update": isotime(s.row.updated_at),
            })
        })
        .collect();
    Ok(Json(json!({"hosts": items})).into_response())
}

/// `os-hosts/{host}`: the volumes and snapshots on a backend, in total and
/// per project.
pub async fn host(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, host)): Path<(String, String)>,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:hosts", &project)?;
    let usage = bs.host_usage(&host).await?;
    let items: Vec<Value> = usage
        .into_iter()
        .map(|u| {
            json!({"resource": {
                "host": host,
                "project": u.project,
                "volume_count": u.volumes.to_string(),
                "total_volume_gb": u.volume_gb.to_string(),
                "snapshot_count": u.snapshots.to_string(),
                "total_snapshot_gb": u.snapshot_gb.to_string(),
            }})
        })
        .collect();
    Ok(Json(json!({"host": items})).into_response())
}

// What every backend of this cloud says of itself (one pool per backend,
// named after it): `services::capabilities`.
use crate::services::{PROTOCOL, VENDOR};

/// `scheduler-stats/get_pools[?detail=true]`: one pool per up backend.
pub async fn pools(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path(project): Path<String>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "scheduler_extension:scheduler_stats:get_pools", &project)?;
    let detail = query(&q, "detail").map(super::truthy).transpose()?.unwrap_or(false);
    // Filters from 3.28 (`volume_type` from 3.35); the pool list is the
    // one list whose filters bind admins too.
    let mut q: Vec<(String, String)> = q.into_iter().filter(|(k, _)| k != "detail").collect();
    if version < Version::POOL_FILTER {
        q.clear();
    }
    if version < Version::POOL_TYPE_FILTER {
        q.retain(|(k, _)| k != "volume_type");
    }
    let f = Filters::parse(&q, version, false, super::filters::allowed_for("pool"))?;
    let type_backend: Option<Option<String>> = match f.get("volume_type") {
        Some(t) => {
            let t = bs
                .get_type(&caller, t)
                .await
                .map_err(|_| ApiError::not_found(format!("Volume type {t} could not be found.")))?;
            Some(t.extra_specs.get("volume_backend_name").cloned())
        }
        None => None,
    };
    let items: Vec<Value> = bs
        .services()
        .await?
        .into_iter()
        .filter(|s| s.row.binary == crate::services::VOLUME_BINARY && s.up)
        .filter(|s| {
            let backend = s.row.backend_name.clone().unwrap_or_default();
            let name = format!("{}#{backend}", s.row.host);
            let type_ok = match &type_backend {
                Some(Some(want)) => *want == backend,
                _ => true,
            };
            type_ok && (f.matches_str("name", &name) || f.matches_str("name", &backend))
        })
        .map(|s| {
            let backend = s.row.backend_name.clone().unwrap_or_default();
            let name = format!("{}#{backend}", s.row.host);
            if !detail {
                return json!({"name": name});
            }
            json!({"name": name, "capabilities": {
                "pool_name": backend,
                "volume_backend_name": backend,
                "total_capacity_gb": s.row.total_capacity_gb,
                "free_capacity_gb": s.row.free_capacity_gb,
                "reserved_percentage": 0,
                "QoS_support": false,
                "thin_provisioning_support": true,
                "thick_provisioning_support": false,
                "driver_version": s.row.version,
                "storage_protocol": PROTOCOL,
                "vendor_name": VENDOR,
                "timestamp": isotime(s.row.updated_at),
            }})
        })
        .collect();
    Ok(Json(json!({"pools": items})).into_response())
}

/// `capabilities/{host}` (`host@backend`, optionally `#pool`).
pub async fn capabilities(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, host)): Path<(String, String)>,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:capabilities", &project)?;
    let backend_host = host.split('#').next().unwrap_or_default();
    let Some(s) = bs
        .services()
        .await?
        .into_iter()
        .find(|s| s.row.binary == crate::services::VOLUME_BINARY && s.row.host == backend_host)
    else {
        return Err(ApiError::not_found(format!("Service {host} could not be found.")));
    };
    let backend = s.row.backend_name.clone().unwrap_or_default();
    Ok(Json(json!({
        "namespace": format!("OS::Storage::Capabilities::{}", s.row.host),
        "vendor_name": VENDOR,
        "volume_backend_name": backend,
        "pool_name": null,
        "driver_version": s.row.version,
        "storage_protocol": PROTOCOL,
        "display_name": null,
        "description": null,
        "visibility": null,
        "replication_targets": [],
        "properties": {
            "thin_provisioning": {
                "title": "Thin Provisioning",
                "description": "Sets thin provisioning.",
                "type": "boolean",
            },
        },
    }))
    .into_response())
}

/// `GET /resource_filters[?resource=…]` (3.33): the filters users may
/// use on each list.
pub async fn resource_filters(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path(project): Path<String>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    if version < Version::RESOURCE_FILTER_CONFIG {
        return Err(ApiError::not_found(format!(
            "The resource could not be found. (it needs microversion {}; the request asked for {version})",
            Version::RESOURCE_FILTER_CONFIG
        )));
    }
    bs.caller(&ctx, &project)?;
    let wanted = query(&q, "resource");
    let items: Vec<Value> = RESOURCE_FILTERS
        .iter()
        .filter(|(r, _)| wanted.is_none_or(|w| w == *r))
        .map(|(r, f)| json!({"resource": r, "filters": f}))
        .collect();
    Ok(Json(json!({"resource_filters": items})).into_response())
}
