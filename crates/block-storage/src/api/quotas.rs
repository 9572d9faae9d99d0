//! `os-quota-sets` and `/limits`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use ::api::{ApiError, Auth, ValidJson};

use super::{ApiResult, QueryPairs, query, truthy};
use crate::BlockStorage;

pub async fn show(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, target)): Path<(String, String)>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:quotas:show", &target)?;
    let usage = query(&q, "usage").map(truthy).transpose()?.unwrap_or(false);
    let lines = bs.quota_usage(&target).await?;
    let mut set = serde_json::Map::new();
    set.insert("id".into(), json!(target));
    for (k, u) in lines {
        let v = if usage && k != "per_volume_gigabytes" {
            json!({"limit": u.limit, "in_use": u.in_use, "reserved": 0, "allocated": 0})
        } else if usage {
            json!({"limit": u.limit, "in_use": 0, "reserved": 0, "allocated": 0})
        } else {
            json!(u.limit)
        };
        set.insert(k, v);
    }
    Ok(Json(json!({"quota_set": set})).into_response())
}

pub async fn defaults(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, target)): Path<(String, String)>,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:quotas:show", &target)?;
    let mut set: serde_json::Map<String, Value> = bs
        .quota_defaults()
        .await?
        .into_iter()
        .map(|(k, v)| (k, json!(v)))
        .collect();
    set.insert("id".into(), json!(target));
    Ok(Json(json!({"quota_set": set})).into_response())
}

pub async fn update(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, target)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:quotas:update", &target)?;
    let limits = limits_of(&body, "quota_set")?;
    bs.set_quotas(&target, &limits).await?;
    let out: serde_json::Map<String, Value> = bs
        .quota_usage(&target)
        .await?
        .into_iter()
        .map(|(k, u)| (k, json!(u.limit)))
        .collect();
    Ok(Json(json!({"quota_set": out})).into_response())
}

pub async fn delete(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, target)): Path<(String, String)>,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:quotas:delete", &target)?;
    bs.reset_quotas(&target).await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn limits(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: super::versions::Version,
    Path(project): Path<String>,
    axum::extract::Query(params): super::QueryPairs,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    // From 3.39 an admin may ask for another project's (`project_id`, or
    // the older `tenant_id`); anyone else gets their own.
    let target = if version >= super::versions::Version::LIMITS_ADMIN_FILTER && caller.is_admin {
        super::query(&params, "project_id")
            .or_else(|| super::query(&params, "tenant_id"))
            .unwrap_or(&project)
            .to_owned()
    } else {
        project.clone()
    };
    bs.authorize(&ctx, "limits_extension:used_limits", &target)?;
    let q = bs.quota_usage(&target).await?;
    let get = |k: &str| q.get(k).copied().unwrap_or_default();
    Ok(Json(json!({"limits": {
        "rate": [],
        "absolute": {
            "maxTotalVolumes": get("volumes").limit,
            "maxTotalSnapshots": get("snapshots").limit,
            "maxTotalVolumeGigabytes": get("gigabytes").limit,
            "maxTotalBackups": get("backups").limit,
            "maxTotalBackupGigabytes": get("backup_gigabytes").limit,
            "totalVolumesUsed": get("volumes").in_use,
            "totalGigabytesUsed": get("gigabytes").in_use,
            "totalSnapshotsUsed": get("snapshots").in_use,
            "totalBackupsUsed": 0,
            "totalBackupGigabytesUsed": 0,
        }
    }}))
    .into_response())
}

/// The integer limits of `{key: {resource: n}}`.
fn limits_of(body: &Value, key: &str) -> ApiResult<BTreeMap<String, i64>> {
    let Some(set) = body[key].as_object() else {
        return Err(ApiError::bad_request(format!(
            "Missing required element '{key}' in request body."
        )));
    };
    let mut limits = BTreeMap::new();
    for (k, v) in set {
        // Clients echo these back; Cinder ignores them.
        if k == "id" || k == "tenant_id" {
            continue;
        }
        let n = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| ApiError::bad_request(format!("Invalid input received: Quota {k} must be an integer.")))?;
        limits.insert(k.clone(), n);
    }
    Ok(limits)
}

pub async fn class_show(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, class)): Path<(String, String)>,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:quota_classes", &project)?;
    let mut set: serde_json::Map<String, Value> = bs
        .quota_class(&class)
        .await?
        .into_iter()
        .map(|(k, v)| (k, json!(v)))
        .collect();
    set.insert("id".into(), json!(class));
    Ok(Json(json!({"quota_class_set": set})).into_response())
}

pub async fn class_update(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, class)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:quota_classes:update", &project)?;
    let limits = limits_of(&body, "quota_class_set")?;
    bs.set_quota_class(&class, &limits).await?;
    let set: serde_json::Map<String, Value> = bs
        .quota_class(&class)
        .await?
        .into_iter()
        .map(|(k, v)| (k, json!(v)))
        .collect();
    Ok(Json(json!({"quota_class_set": set})).into_response())
}
