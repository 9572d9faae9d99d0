//! `/v3/{project_id}/snapshots`: create, list, detail, show, update,
//! delete, the admin actions, metadata.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use ::api::{ApiError, Auth, AuthContext, ValidJson};

use super::filters::{Filters, allowed_for};
use super::versions::Version;
use super::volumes::one_meta;
use super::{ApiResult, QueryPairs, isotime, metadata_body, query, sort_and_page, string_map, truthy};
use crate::db::snapshots::SnapshotRow;
use crate::snapshots::NewSnapshot;
use crate::{BlockStorage, Caller};

const SORT_KEYS: &[&str] = &["id", "name", "status", "size", "created_at", "updated_at", "volume_id"];

/// `extended`: with the `os-extended-snapshot-attributes` of show and
/// detail.
fn render(bs: &BlockStorage, ctx: &AuthContext, s: &SnapshotRow, version: Version, extended: bool) -> Value {
    let mut out = json!({
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "status": s.status,
        "size": s.size,
        "volume_id": s.volume_id,
        "metadata": s.metadata,
        "created_at": isotime(s.created_at),
        "updated_at": isotime(s.updated_at),
    });
    if version >= Version::SNAPSHOT_LIST_USER_ID {
        out["user_id"] = json!(s.user_id);
    }
    if extended && bs.allowed(ctx, "volume_extension:extended_snapshot_attributes", &s.project_id) {
        let progress = match &s.progress {
            Some(p) => p.as_str(),
            None if s.status == "available" => "100%",
            None => "0%",
        };
        out["os-extended-snapshot-attributes:project_id"] = json!(s.project_id);
        out["os-extended-snapshot-attributes:progress"] = json!(progress);
    }
    out
}

async fn listed(
    bs: &BlockStorage,
    ctx: &AuthContext,
    project: &str,
    q: &[(String, String)],
    version: Version,
    detail: bool,
) -> ApiResult<Response> {
    let caller = bs.caller(ctx, project)?;
    bs.authorize(ctx, "volume:get_all_snapshots", project)?;
    let all = query(q, "all_tenants").map(truthy).transpose()?.unwrap_or(false);
    let rows = bs
        .list_snapshots(&caller, all, query(q, "project_id").filter(|_| all))
        .await?;
    let mut fq: Vec<(String, String)> = q.to_vec();
    if version < Version::SNAPSHOT_LIST_METADATA_FILTER {
        fq.retain(|(k, _)| k != "metadata");
    }
    let f = Filters::parse(&fq, version, caller.is_admin, allowed_for("snapshot"))?;
    let metadata = match f.get("metadata") {
        Some(m) => {
            let v: Value = serde_json::from_str(m)
                .or_else(|_| serde_json::from_str(&m.replace('\'', "\"")))
                .map_err(|_| ApiError::bad_request(format!("Invalid input received: Invalid filter metadata {m}")))?;
            Some(super::string_map(&v, "metadata")?)
        }
        None => None,
    };
    let mut items = Vec::new();
    for s in &rows {
        if !(f.matches_opt("name", s.name.as_deref())
            && f.matches_str("status", &s.status)
            && f.matches_str("volume_id", &s.volume_id))
        {
            continue;
        }
        if let Some(m) = &metadata
            && !m.iter().all(|(k, v)| s.metadata.get(k) == Some(v))
        {
            continue;
        }
        items.push(render(bs, ctx, s, version, true));
    }
    let path = if detail { "snapshots/detail" } else { "snapshots" };
    let base = format!("{}/v3/{project}/{path}", bs.base_url());
    let (items, links) = sort_and_page(items, q, SORT_KEYS, bs.config.max_limit, &base)?;
    let items: Vec<Value> = if detail {
        items
    } else {
        // Cinder's summary of a snapshot has the same fields as the detail
        // except the extended attributes.
        items
            .into_iter()
            .map(|mut v| {
                if let Some(o) = v.as_object_mut() {
                    o.retain(|k, _| !k.starts_with("os-extended-snapshot-attributes:"));
                }
                v
            })
            .collect()
    };
    let mut body = json!({"snapshots": items});
    if !links.is_empty() {
        body["snapshots_links"] = json!(links);
    }
    Ok(Json(body).into_response())
}

pub async fn list(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path(project): Path<String>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    listed(&bs, &ctx, &project, &q, version, false).await
}

pub async fn detail(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path(project): Path<String>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    listed(&bs, &ctx, &project, &q, version, true).await
}

fn opt_string(v: &Value, key: &str) -> ApiResult<Option<String>> {
    match &v[key] {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= 255 => Ok(Some(s.clone())),
        _ => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute {key}. Value should be a string of at most 255 characters."
        ))),
    }
}

pub async fn create(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path(project): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume:create_snapshot", &project)?;
    let s = &body["snapshot"];
    if !s.is_object() {
        return Err(ApiError::bad_request(
            "Missing required element 'snapshot' in request body.",
        ));
    }
    // Cinder looks the volume up before validating: no id is "not found".
    let Some(volume_id) = s["volume_id"].as_str() else {
        return Err(ApiError::not_found("Volume None could not be found."));
    };
    let force = match &s["force"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(v) => truthy(v).map_err(|_| ApiError::bad_request(format!("Invalid value '{v}' for force.")))?,
        other => return Err(ApiError::bad_request(format!("Invalid value '{other}' for force."))),
    };
    let req = NewSnapshot {
        volume_id: volume_id.to_owned(),
        name: match opt_string(s, "name")? {
            Some(n) => Some(n),
            None => opt_string(s, "display_name")?,
        },
        description: match opt_string(s, "description")? {
            Some(d) => Some(d),
            None => opt_string(s, "display_description")?,
        },
        force,
        metadata: match &s["metadata"] {
            Value::Null => Default::default(),
            m => string_map(m, "metadata")?,
        },
    };
    let row = bs.create_snapshot(&caller, req).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"snapshot": render(&bs, &ctx, &row, version, false)})),
    )
        .into_response())
}

async fn visible(
    bs: &BlockStorage,
    ctx: &AuthContext,
    project: &str,
    id: &str,
    rule: &str,
) -> ApiResult<(Caller, SnapshotRow)> {
    let caller = bs.caller(ctx, project)?;
    let s = bs.get_snapshot(&caller, id).await?;
    bs.authorize(ctx, rule, &s.project_id)?;
    Ok((caller, s))
}

pub async fn show(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, s) = visible(&bs, &ctx, &project, &id, "volume:get_snapshot").await?;
    Ok(Json(json!({"snapshot": render(&bs, &ctx, &s, version, true)})).into_response())
}

pub async fn update(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path((project, id)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let (caller, _) = visible(&bs, &ctx, &project, &id, "volume:update_snapshot").await?;
    let Some(obj) = body["snapshot"].as_object() else {
        return Err(ApiError::bad_request(
            "Missing required element 'snapshot' in request body.",
        ));
    };
    let allowed = ["name", "description", "display_name", "display_description"];
    if obj.is_empty() || obj.keys().any(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_request(
            "Invalid input received: Snapshot update accepts name and description only.",
        ));
    }
    let s = &body["snapshot"];
    let pick = |a: &str, b: &str| -> ApiResult<Option<Option<String>>> {
        if obj.contains_key(a) {
            Ok(Some(opt_string(s, a)?))
        } else if obj.contains_key(b) {
            Ok(Some(opt_string(s, b)?))
        } else {
            Ok(None)
        }
    };
    let row = bs
        .update_snapshot(
            &caller,
            &id,
            pick("name", "display_name")?,
            pick("description", "display_description")?,
        )
        .await?;
    Ok(Json(json!({"snapshot": render(&bs, &ctx, &row, version, false)})).into_response())
}

pub async fn delete(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (caller, _) = visible(&bs, &ctx, &project, &id, "volume:delete_snapshot").await?;
    bs.delete_snapshot(&caller, &id, false).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn action(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let Some((name, args)) = body
        .as_object()
        .and_then(|o| if o.len() == 1 { o.iter().next() } else { None })
    else {
        return Err(ApiError::bad_request("Invalid request body: one action is expected."));
    };
    match name.as_str() {
        "os-reset_status" => {
            let (caller, _) = visible(
                &bs,
                &ctx,
                &project,
                &id,
                "volume_extension:snapshot_admin_actions:reset_status",
            )
            .await?;
            let Some(status) = args["status"].as_str() else {
                return Err(ApiError::bad_request("Invalid input received: Must specify 'status'."));
            };
            bs.reset_snapshot_status(&caller, &id, status).await?;
        }
        "os-force_delete" => {
            let (caller, _) = visible(
                &bs,
                &ctx,
                &project,
                &id,
                "volume_extension:snapshot_admin_actions:force_delete",
            )
            .await?;
            bs.delete_snapshot(&caller, &id, true).await?;
        }
        "os-update_snapshot_status" => {
            let (caller, _) = visible(
                &bs,
                &ctx,
                &project,
                &id,
                "snapshot_extension:snapshot_actions:update_snapshot_status",
            )
            .await?;
            let Some(status) = args["status"].as_str() else {
                return Err(ApiError::bad_request("Invalid input received: Must specify 'status'."));
            };
            bs.update_snapshot_status(&caller, &id, status, args["progress"].as_str())
                .await?;
        }
        other => return Err(ApiError::bad_request(format!("There is no such action: {other}"))),
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn metadata(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, s) = visible(&bs, &ctx, &project, &id, "volume:get_snapshot_metadata").await?;
    Ok(Json(json!({"metadata": s.metadata})).into_response())
}

async fn write_metadata(
    bs: &BlockStorage,
    ctx: &AuthContext,
    project: &str,
    id: &str,
    body: &Value,
    replace: bool,
) -> ApiResult<Response> {
    let (caller, _) = visible(bs, ctx, project, id, "volume:update_snapshot_metadata").await?;
    let m = metadata_body(body)?;
    let all = bs.set_snapshot_metadata(&caller, id, m, replace).await?;
    Ok(Json(json!({"metadata": all})).into_response())
}

pub async fn metadata_merge(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    write_metadata(&bs, &ctx, &project, &id, &body, false).await
}

pub async fn metadata_replace(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    write_metadata(&bs, &ctx, &project, &id, &body, true).await
}

pub async fn metadata_item(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (_, s) = visible(&bs, &ctx, &project, &id, "volume:get_snapshot_metadata").await?;
    match s.metadata.get(&key) {
        Some(v) => Ok(Json(json!({"meta": {key: v}})).into_response()),
        None => Err(ApiError::not_found(format!(
            "Snapshot {id} has no metadata with key {key}."
        ))),
    }
}

pub async fn metadata_item_set(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let (caller, _) = visible(&bs, &ctx, &project, &id, "volume:update_snapshot_metadata").await?;
    let m = one_meta(&body, &key)?;
    bs.set_snapshot_metadata(&caller, &id, m.clone(), false).await?;
    Ok(Json(json!({"meta": m})).into_response())
}

pub async fn metadata_item_delete(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (caller, _) = visible(&bs, &ctx, &project, &id, "volume:delete_snapshot_metadata").await?;
    bs.delete_snapshot_metadata(&caller, &id, &key).await?;
    Ok(StatusCode::OK.into_response())
}
