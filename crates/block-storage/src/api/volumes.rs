//! `/v3/{project_id}/volumes`: create, list, detail, show, update, delete,
//! the actions, metadata.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use ::api::{ApiError, Auth, AuthContext, ValidJson};

use super::{ApiResult, QueryPairs, isotime, links, metadata_body, query, sort_and_page, string_map, truthy};
use crate::db::volumes::VolumeRow;
use crate::volumes::{NewVolume, VolumeUpdate};
use crate::{BlockStorage, Caller};

const SORT_KEYS: &[&str] = &[
    "id",
    "name",
    "status",
    "size",
    "created_at",
    "updated_at",
    "availability_zone",
    "bootable",
    "volume_type",
];

/// A volume as Cinder renders it; `extended` adds what Cinder's API
/// extensions add to show and detail (not to create and update answers).
pub(crate) fn render(
    bs: &BlockStorage,
    ctx: &AuthContext,
    v: &VolumeRow,
    types: &BTreeMap<String, String>,
    extended: bool,
) -> Value {
    let mut out = json!({
        "id": v.id,
        "name": v.name,
        "description": v.description,
        "status": v.status,
        "size": v.size,
        "availability_zone": v.availability_zone,
        "created_at": isotime(v.created_at),
        "updated_at": isotime(v.updated_at),
        "attachments": [],
        "bootable": if v.bootable { "true" } else { "false" },
        "encrypted": false,
        "multiattach": v.multiattach,
        "metadata": v.metadata,
        "links": links(bs, &v.project_id, "volumes", &v.id),
        "snapshot_id": v.snapshot_id,
        "source_volid": v.source_volid,
        "user_id": v.user_id,
        "volume_type": types.get(&v.volume_type_id).cloned().unwrap_or_else(|| v.volume_type_id.clone()),
        "replication_status": null,
        "consistencygroup_id": null,
        "migration_status": null,
    });
    if !extended {
        return out;
    }
    if bs.allowed(ctx, "volume_extension:volume_tenant_attribute", &v.project_id) {
        out["os-vol-tenant-attr:tenant_id"] = json!(v.project_id);
    }
    if bs.allowed(ctx, "volume_extension:volume_host_attribute", &v.project_id) {
        out["os-vol-host-attr:host"] = json!(v.host.as_ref().map(|h| format!("{h}#{}", pool_of(h))));
    }
    if bs.allowed(ctx, "volume_extension:volume_mig_status_attribute", &v.project_id) {
        out["os-vol-mig-status-attr:migstat"] = Value::Null;
        out["os-vol-mig-status-attr:name_id"] = Value::Null;
    }
    if !v.image_metadata.is_empty() && bs.allowed(ctx, "volume_extension:volume_image_metadata:show", &v.project_id) {
        out["volume_image_metadata"] = json!(v.image_metadata);
    }
    out
}

/// The pool part of `host@backend#pool`: one pool per backend, named
/// after it.
fn pool_of(host: &str) -> &str {
    host.rsplit_once('@').map_or(host, |(_, b)| b)
}

fn summary(v: &Value) -> Value {
    json!({"id": v["id"], "name": v["name"], "links": v["links"]})
}

async fn listed(
    bs: &BlockStorage,
    ctx: &AuthContext,
    project: &str,
    q: &[(String, String)],
    detail: bool,
) -> ApiResult<Response> {
    let caller = bs.caller(ctx, project)?;
    bs.authorize(ctx, "volume:get_all", project)?;
    let all = query(q, "all_tenants").map(truthy).transpose()?.unwrap_or(false);
    let rows = bs
        .list_volumes(&caller, all, query(q, "project_id").filter(|_| all))
        .await?;
    let types = bs.type_names().await?;
    let meta_filter: Option<BTreeMap<String, String>> = match query(q, "metadata") {
        Some(m) => {
            let v: Value = serde_json::from_str(m)
                .or_else(|_| serde_json::from_str(&m.replace('\'', "\"")))
                .map_err(|_| ApiError::bad_request(format!("Invalid input received: Invalid filter metadata {m}")))?;
            Some(string_map(&v, "metadata")?)
        }
        None => None,
    };
    let mut items = Vec::new();
    for v in &rows {
        if let Some(n) = query(q, "name")
            && v.name.as_deref() != Some(n)
        {
            continue;
        }
        if let Some(s) = query(q, "status")
            && v.status != s
        {
            continue;
        }
        if let Some(z) = query(q, "availability_zone")
            && v.availability_zone != z
        {
            continue;
        }
        if let Some(b) = query(q, "bootable")
            && truthy(b)? != v.bootable
        {
            continue;
        }
        if let Some(m) = &meta_filter
            && !m.iter().all(|(k, val)| v.metadata.get(k) == Some(val))
        {
            continue;
        }
        items.push(render(bs, ctx, v, &types, true));
    }
    let path = if detail { "volumes/detail" } else { "volumes" };
    let base = format!("{}/v3/{project}/{path}", bs.base_url());
    let (items, links) = sort_and_page(items, q, SORT_KEYS, bs.config.max_limit, &base)?;
    let items: Vec<Value> = if detail {
        items
    } else {
        items.iter().map(summary).collect()
    };
    let mut body = json!({"volumes": items});
    if !links.is_empty() {
        body["volumes_links"] = json!(links);
    }
    Ok(Json(body).into_response())
}

pub async fn list(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    listed(&bs, &ctx, &project, &q, false).await
}

pub async fn detail(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    listed(&bs, &ctx, &project, &q, true).await
}

fn opt_string(v: &Value, key: &str, max: usize) -> ApiResult<Option<String>> {
    match &v[key] {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= max => Ok(Some(s.clone())),
        Value::String(_) => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute {key}. Value is longer than {max} characters."
        ))),
        _ => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute {key}. Value should be a string."
        ))),
    }
}

/// A size given as an integer or a numeric string (Cinder's schema).
pub(crate) fn size_of(v: &Value, key: &str) -> ApiResult<Option<i64>> {
    let bad = || {
        ApiError::bad_request(format!(
            "Invalid input received: Volume size '{}' must be an integer and greater than 0",
            match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }
        ))
    };
    let _ = key;
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_i64().map(Some).ok_or_else(bad),
        Value::String(s) => s.trim().parse::<i64>().map(Some).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn volume_body<'a>(body: &'a Value, key: &str) -> ApiResult<&'a Value> {
    let v = &body[key];
    if !v.is_object() {
        return Err(ApiError::bad_request(format!(
            "Missing required element '{key}' in request body."
        )));
    }
    Ok(v)
}

pub async fn create(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume:create", &project)?;
    let v = volume_body(&body, "volume")?;
    let name = match opt_string(v, "name", 255)? {
        Some(n) => Some(n),
        None => opt_string(v, "display_name", 255)?,
    };
    let description = match opt_string(v, "description", 255)? {
        Some(d) => Some(d),
        None => opt_string(v, "display_description", 255)?,
    };
    let image_ref = match opt_string(v, "imageRef", 255)? {
        Some(i) => Some(i),
        None => opt_string(v, "image_id", 255)?,
    };
    if image_ref.is_some() {
        bs.authorize(&ctx, "volume:create_from_image", &project)?;
    }
    let metadata = match &v["metadata"] {
        Value::Null => BTreeMap::new(),
        m => string_map(m, "metadata")?,
    };
    let multiattach = match &v["multiattach"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => truthy(s)?,
        _ => return Err(ApiError::bad_request("Invalid input for field/attribute multiattach.")),
    };
    if !v["backup_id"].is_null() {
        return Err(ApiError::bad_request(
            "Invalid input received: volumes from backups are not supported by this cloud.",
        ));
    }
    let req = NewVolume {
        name,
        description,
        size: size_of(&v["size"], "size")?,
        volume_type: opt_string(v, "volume_type", 255)?,
        availability_zone: opt_string(v, "availability_zone", 255)?,
        metadata,
        snapshot_id: opt_string(v, "snapshot_id", 36)?,
        source_volid: opt_string(v, "source_volid", 36)?,
        image_ref,
        multiattach,
    };
    let row = bs.create_volume(&caller, req).await?;
    let types = bs.type_names().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"volume": render(&bs, &ctx, &row, &types, false)})),
    )
        .into_response())
}

async fn visible(
    bs: &BlockStorage,
    ctx: &AuthContext,
    project: &str,
    id: &str,
    rule: &str,
) -> ApiResult<(Caller, VolumeRow)> {
    let caller = bs.caller(ctx, project)?;
    let v = bs.get_volume(&caller, id).await?;
    bs.authorize(ctx, rule, &v.project_id)?;
    Ok((caller, v))
}

pub async fn show(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, v) = visible(&bs, &ctx, &project, &id, "volume:get").await?;
    let types = bs.type_names().await?;
    Ok(Json(json!({"volume": render(&bs, &ctx, &v, &types, true)})).into_response())
}

pub async fn update(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let (caller, _) = visible(&bs, &ctx, &project, &id, "volume:update").await?;
    let v = volume_body(&body, "volume")?;
    let obj = v.as_object().cloned().unwrap_or_default();
    let allowed = ["name", "description", "display_name", "display_description", "metadata"];
    if obj.is_empty() || obj.keys().any(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_request(
            "Invalid input received: Volume update accepts name, description and metadata only.",
        ));
    }
    let mut u = VolumeUpdate::default();
    for (key, alias) in [("name", "display_name"), ("description", "display_description")] {
        let k = if obj.contains_key(key) { key } else { alias };
        if obj.contains_key(k) {
            let val = opt_string(v, k, 255)?;
            if key == "name" {
                u.name = Some(val);
            } else {
                u.description = Some(val);
            }
        }
    }
    if let Some(m) = obj.get("metadata") {
        u.metadata = Some(string_map(m, "metadata")?);
    }
    let row = bs.update_volume(&caller, &id, u).await?;
    let types = bs.type_names().await?;
    Ok(Json(json!({"volume": render(&bs, &ctx, &row, &types, false)})).into_response())
}

pub async fn delete(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    let (caller, _) = visible(&bs, &ctx, &project, &id, "volume:delete").await?;
    let cascade = query(&q, "cascade").map(truthy).transpose()?.unwrap_or(false);
    let force = query(&q, "force").map(truthy).transpose()?.unwrap_or(false);
    if force {
        bs.authorize(&ctx, "volume:force_delete", &project)?;
    }
    bs.delete_volume(&caller, &id, cascade, force).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `POST /volumes/{id}/action`: the one key names the action.
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
    let (name, args) = (name.as_str(), args.clone());
    // The volume is looked up first: an unknown volume is a 404 whatever
    // the action, as in Cinder.
    let (caller, _) = visible(&bs, &ctx, &project, &id, "volume:get").await?;
    let rule = match name {
        "os-retype" => "volume:retype",
        "os-extend" => "volume:extend",
        "os-set_bootable" => "volume_extension:volume_actions:set_bootable",
        "os-update_readonly_flag" => "volume:update_readonly_flag",
        "os-reset_status" => "volume_extension:volume_admin_actions:reset_status",
        "os-force_delete" => "volume_extension:volume_admin_actions:force_delete",
        "os-set_image_metadata" => "volume_extension:volume_image_metadata:set",
        "os-unset_image_metadata" => "volume_extension:volume_image_metadata:remove",
        "os-show_image_metadata" => "volume_extension:volume_image_metadata:show",
        other => {
            return Err(ApiError::bad_request(format!("There is no such action: {other}")));
        }
    };
    let v = bs.get_volume(&caller, &id).await?;
    bs.authorize(&ctx, rule, &v.project_id)?;
    match name {
        "os-retype" => {
            let Some(new_type) = args["new_type"].as_str() else {
                return Err(ApiError::bad_request(
                    "Invalid input received: 'new_type' must be specified.",
                ));
            };
            bs.retype_volume(&caller, &id, new_type, args["migration_policy"].as_str())
                .await?;
        }
        "os-extend" => {
            let size = size_of(&args["new_size"], "new_size")?
                .ok_or_else(|| ApiError::bad_request("Invalid input received: new_size is required."))?;
            bs.extend_volume(&caller, &id, size).await?;
        }
        "os-set_bootable" => {
            let b = bool_arg(&args, "bootable")?;
            bs.set_bootable(&caller, &id, b).await?;
            return Ok(StatusCode::OK.into_response());
        }
        "os-update_readonly_flag" => {
            let b = bool_arg(&args, "readonly")?;
            bs.set_readonly(&caller, &id, b).await?;
        }
        "os-reset_status" => {
            let Some(status) = args["status"].as_str() else {
                return Err(ApiError::bad_request("Invalid input received: Must specify 'status'."));
            };
            bs.reset_volume_status(&caller, &id, status).await?;
        }
        "os-force_delete" => bs.delete_volume(&caller, &id, true, true).await?,
        "os-set_image_metadata" => {
            let m = string_map(&args["metadata"], "metadata")?;
            let all = bs.set_image_metadata(&caller, &id, m).await?;
            return Ok(Json(json!({"metadata": all})).into_response());
        }
        "os-unset_image_metadata" => {
            let Some(key) = args["key"].as_str() else {
                return Err(ApiError::bad_request("Invalid input received: Must specify 'key'."));
            };
            bs.unset_image_metadata(&caller, &id, key).await?;
            return Ok(StatusCode::OK.into_response());
        }
        _ => return Ok(Json(json!({"metadata": v.image_metadata})).into_response()),
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

fn bool_arg(args: &Value, key: &str) -> ApiResult<bool> {
    match &args[key] {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => truthy(s),
        _ => Err(ApiError::bad_request(format!(
            "Invalid input received: '{key}' must be a boolean."
        ))),
    }
}

// ----- metadata ---------------------------------------------------------

pub async fn metadata(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, v) = visible(&bs, &ctx, &project, &id, "volume:get_volume_metadata").await?;
    Ok(Json(json!({"metadata": v.metadata})).into_response())
}

async fn write_metadata(
    bs: &BlockStorage,
    ctx: &AuthContext,
    project: &str,
    id: &str,
    body: &Value,
    replace: bool,
) -> ApiResult<Response> {
    let rule = if replace {
        "volume:update_volume_metadata"
    } else {
        "volume:create_volume_metadata"
    };
    let (caller, _) = visible(bs, ctx, project, id, rule).await?;
    let m = metadata_body(body)?;
    let all = bs.set_volume_metadata(&caller, id, m, replace).await?;
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
    let (_, v) = visible(&bs, &ctx, &project, &id, "volume:get_volume_metadata").await?;
    match v.metadata.get(&key) {
        Some(val) => Ok(Json(json!({"meta": {key: val}})).into_response()),
        None => Err(ApiError::not_found(format!(
            "Volume {id} has no metadata with key {key}."
        ))),
    }
}

/// `PUT …/metadata/{key}` with `{"meta": {key: value}}`.
pub(crate) fn one_meta(body: &Value, key: &str) -> ApiResult<BTreeMap<String, String>> {
    let Some(meta) = body["meta"].as_object() else {
        return Err(ApiError::bad_request("Malformed request body: 'meta' is required."));
    };
    if meta.len() > 1 {
        return Err(ApiError::bad_request("Request body contains too many items"));
    }
    if !meta.contains_key(key) {
        return Err(ApiError::bad_request("Request body and URI mismatch"));
    }
    string_map(&body["meta"], "meta")
}

pub async fn metadata_item_set(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let (caller, _) = visible(&bs, &ctx, &project, &id, "volume:update_volume_metadata").await?;
    let m = one_meta(&body, &key)?;
    bs.set_volume_metadata(&caller, &id, m.clone(), false).await?;
    Ok(Json(json!({"meta": m})).into_response())
}

pub async fn metadata_item_delete(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (caller, _) = visible(&bs, &ctx, &project, &id, "volume:delete_volume_metadata").await?;
    bs.delete_volume_metadata(&caller, &id, &key).await?;
    Ok(StatusCode::OK.into_response())
}
