//! `/v3/{project_id}/volumes`: create, list, detail, show, update, delete,
//! the actions, metadata.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use ::api::{ApiError, Auth, AuthContext, RequestId, ValidJson};

use super::filters::{Filters, allowed_for};
use super::versions::Version;
use super::{ApiResult, QueryPairs, isotime, links, metadata_body, query, sort_and_page, string_map, truthy};
use crate::attachments::AttachRequest;
use crate::db::attachments::AttachmentRow;
use crate::db::volumes::VolumeRow;
use crate::rpc::Connector;
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

/// What rendering volumes needs besides the volume: type names, the
/// volumes' attachments, the negotiated version.
pub(crate) struct Views {
    pub types: BTreeMap<String, String>,
    pub attachments: BTreeMap<String, Vec<AttachmentRow>>,
    pub version: Version,
}

impl Views {
    pub(crate) async fn new(bs: &BlockStorage, version: Version, atts: Vec<AttachmentRow>) -> ApiResult<Views> {
        let mut attachments: BTreeMap<String, Vec<AttachmentRow>> = BTreeMap::new();
        for a in atts {
            attachments.entry(a.volume_id.clone()).or_default().push(a);
        }
        Ok(Views {
            types: bs.type_names().await?,
            attachments,
            version,
        })
    }
}

/// The `attachments` of a volume as Cinder renders them: the attached
/// ones only; `host_name` for admins and services.
fn render_attachments(ctx: &AuthContext, is_admin: bool, atts: &[AttachmentRow]) -> Value {
    let privileged = is_admin || ctx.roles.iter().any(|r| r == "service");
    Value::Array(
        atts.iter()
            .filter(|a| a.attach_status == "attached")
            .map(|a| {
                json!({
                    "id": a.volume_id,
                    "attachment_id": a.id,
                    "volume_id": a.volume_id,
                    "server_id": a.instance_uuid,
                    "host_name": if privileged { json!(a.attached_host) } else { Value::Null },
                    "device": a.mountpoint,
                    "attached_at": a.attach_time.map(isotime),
                })
            })
            .collect(),
    )
}

/// A volume as Cinder renders it; `extended` adds what Cinder's API
/// extensions add to show and detail (not to create and update answers).
pub(crate) fn render(bs: &BlockStorage, ctx: &AuthContext, v: &VolumeRow, views: &Views, extended: bool) -> Value {
    let types = &views.types;
    let is_admin = bs.policy.enforce("context_is_admin", &json!({}), &ctx.policy_creds);
    let no_attachments = Vec::new();
    let atts = views.attachments.get(&v.id).unwrap_or(&no_attachments);
    let mut out = json!({
        "id": v.id,
        "name": v.name,
        "description": v.description,
        "status": v.status,
        "size": v.size,
        "availability_zone": v.availability_zone,
        "created_at": isotime(v.created_at),
        "updated_at": isotime(v.updated_at),
        "attachments": render_attachments(ctx, is_admin, atts),
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
    if views.version >= Version::GROUP_VOLUME {
        out["group_id"] = Value::Null;
    }
    if views.version >= Version::VOLUME_DETAIL_PROVIDER_ID && is_admin {
        out["provider_id"] = Value::Null;
    }
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
    version: Version,
    detail: bool,
) -> ApiResult<Response> {
    let caller = bs.caller(ctx, project)?;
    bs.authorize(ctx, "volume:get_all", project)?;
    let all = query(q, "all_tenants").map(truthy).transpose()?.unwrap_or(false);
    let rows = bs
        .list_volumes(&caller, all, query(q, "project_id").filter(|_| all))
        .await?;
    let views = Views::new(bs, version, bs.list_attachments(&caller, all).await?).await?;
    let f = VolumeFilters::parse(q, version, caller.is_admin)?;
    let mut items = Vec::new();
    for v in &rows {
        if !f.matches(v)? {
            continue;
        }
        items.push(render(bs, ctx, v, &views, true));
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

/// A `metadata`-like filter: a JSON object (Cinder's clients send
/// Python's repr with single quotes too).
fn map_filter(key: &str, text: &str) -> ApiResult<BTreeMap<String, String>> {
    let v: Value = serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&text.replace('\'', "\"")))
        .map_err(|_| ApiError::bad_request(format!("Invalid input received: Invalid filter {key} {text}")))?;
    string_map(&v, key)
}

/// The filters of a volume list, by version (see `api::filters`).
pub(crate) struct VolumeFilters {
    f: Filters,
    version: Version,
    metadata: Option<BTreeMap<String, String>>,
    glance_metadata: Option<BTreeMap<String, String>>,
}

impl VolumeFilters {
    pub(crate) fn parse(q: &[(String, String)], version: Version, is_admin: bool) -> ApiResult<VolumeFilters> {
        let mut q: Vec<(String, String)> = q.to_vec();
        // Filters that arrived with a version are not filters before it.
        if version < Version::VOLUME_LIST_GLANCE_METADATA {
            q.retain(|(k, _)| k != "glance_metadata");
        }
        if version < Version::VOLUME_LIST_GROUP {
            q.retain(|(k, _)| k != "group_id");
        }
        let f = Filters::parse(&q, version, is_admin, allowed_for("volume"))?;
        let metadata = f.get("metadata").map(|m| map_filter("metadata", m)).transpose()?;
        let glance_metadata = f
            .get("glance_metadata")
            .map(|m| map_filter("glance_metadata", m))
            .transpose()?;
        Ok(VolumeFilters {
            f,
            version,
            metadata,
            glance_metadata,
        })
    }

    /// Cinder's reading of `bootable`: strict from 3.2; before, only
    /// `False`/`false`/`FALSE` are false and anything else is true.
    fn bootable(&self, val: &str) -> ApiResult<bool> {
        if self.version >= Version::VOLUME_LIST_BOOTABLE {
            truthy(val).map_err(|_| ApiError::bad_request(format!("Invalid input received: 'bootable = {val}'")))
        } else {
            Ok(!matches!(val, "False" | "false" | "FALSE") && !val.is_empty())
        }
    }

    pub(crate) fn matches(&self, v: &VolumeRow) -> ApiResult<bool> {
        let f = &self.f;
        if let Some(b) = f.get("bootable")
            && self.bootable(b)? != v.bootable
        {
            return Ok(false);
        }
        if let Some(size) = f.get("size")
            && size.trim().parse::<i64>().ok() != Some(v.size)
        {
            return Ok(false);
        }
        if let Some(m) = &self.metadata
            && !m.iter().all(|(k, val)| v.metadata.get(k) == Some(val))
        {
            return Ok(false);
        }
        if let Some(m) = &self.glance_metadata
            && !m.iter().all(|(k, val)| v.image_metadata.get(k) == Some(val))
        {
            return Ok(false);
        }
        Ok(f.matches_opt("name", v.name.as_deref())
            && f.matches_str("status", &v.status)
            && f.matches_str("availability_zone", &v.availability_zone)
            // No volume is in a group, nor migrating.
            && f.matches_opt("group_id", None)
            && f.matches_opt("migration_status", None))
    }
}

/// `GET /volumes/summary` (3.12): how many volumes, how many GB, and from
/// 3.36 every metadata value in use.
pub async fn summary_of(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path(project): Path<String>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    if version < Version::VOLUME_SUMMARY {
        // Below 3.12 `summary` is a volume id, and there is no such volume.
        return Err(ApiError::not_found("Volume summary could not be found."));
    }
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume:get_all", &project)?;
    let all = query(&q, "all_tenants").map(truthy).transpose()?.unwrap_or(false);
    // Cinder drops the filters a user may not use here, at every version.
    let f = VolumeFilters::parse(&q, Version(0).max(version.min(Version(30))), caller.is_admin)?;
    let rows = bs
        .list_volumes(&caller, all, query(&q, "project_id").filter(|_| all))
        .await?;
    let (mut count, mut size) = (0_i64, 0_i64);
    let mut metadata: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for v in &rows {
        if !f.matches(v)? {
            continue;
        }
        count += 1;
        size += v.size;
        for (k, val) in &v.metadata {
            let values = metadata.entry(k.clone()).or_default();
            if !values.contains(val) {
                values.push(val.clone());
            }
        }
    }
    let mut body = json!({"volume-summary": {"total_count": count, "total_size": size}});
    if version >= Version::VOLUME_SUMMARY_METADATA {
        body["volume-summary"]["metadata"] = json!(metadata);
    }
    Ok(Json(body).into_response())
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
    version: Version,
    rid: Option<axum::Extension<RequestId>>,
    Path(project): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let mut caller = bs.caller(&ctx, &project)?;
    caller.request_id = rid.map(|r| r.0.0);
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
    let views = Views::new(&bs, version, Vec::new()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"volume": render(&bs, &ctx, &row, &views, false)})),
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
    version: Version,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, v) = visible(&bs, &ctx, &project, &id, "volume:get").await?;
    let views = Views::new(&bs, version, bs.attachments_of(&id).await?).await?;
    Ok(Json(json!({"volume": render(&bs, &ctx, &v, &views, true)})).into_response())
}

pub async fn update(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
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
    let views = Views::new(&bs, version, bs.attachments_of(&id).await?).await?;
    Ok(Json(json!({"volume": render(&bs, &ctx, &row, &views, false)})).into_response())
}

pub async fn delete(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path((project, id)): Path<(String, String)>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    let (caller, _) = visible(&bs, &ctx, &project, &id, "volume:delete").await?;
    let cascade = query(&q, "cascade").map(truthy).transpose()?.unwrap_or(false);
    // `force` is a parameter from 3.23; before it, it is not read.
    let force = version >= Version::VOLUME_DELETE_FORCE && query(&q, "force").map(truthy).transpose()?.unwrap_or(false);
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
    version: Version,
    rid: Option<axum::Extension<RequestId>>,
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
    let (mut caller, _) = visible(&bs, &ctx, &project, &id, "volume:get").await?;
    caller.request_id = rid.map(|r| r.0.0);
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
        "os-reserve" => "volume_extension:volume_actions:reserve",
        "os-unreserve" => "volume_extension:volume_actions:unreserve",
        "os-begin_detaching" => "volume_extension:volume_actions:begin_detaching",
        "os-roll_detaching" => "volume_extension:volume_actions:roll_detaching",
        "os-initialize_connection" => "volume_extension:volume_actions:initialize_connection",
        "os-terminate_connection" => "volume_extension:volume_actions:terminate_connection",
        "os-attach" => "volume_extension:volume_actions:attach",
        "os-detach" => "volume_extension:volume_actions:detach",
        "os-force_detach" => "volume_extension:volume_admin_actions:force_detach",
        "revert" if version >= Version::VOLUME_REVERT => "volume:revert_to_snapshot",
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
            // Online extend from 3.42, if the policy allows it.
            let attached_too = version >= Version::VOLUME_EXTEND_INUSE
                && v.status == "in-use"
                && bs.allowed(&ctx, "volume:extend_attached_volume", &v.project_id);
            bs.extend_volume(&caller, &id, size, attached_too).await?;
        }
        "revert" => {
            let snapshot_id = uuid_arg(&args, name, "snapshot_id")?;
            bs.revert_volume(&caller, &id, snapshot_id.as_deref()).await?;
        }
        "os-reserve" => bs.reserve_volume(&caller, &id).await?,
        "os-unreserve" => bs.unreserve_volume(&caller, &id).await?,
        "os-begin_detaching" => bs.begin_detaching(&caller, &id).await?,
        "os-roll_detaching" => bs.roll_detaching(&caller, &id).await?,
        "os-initialize_connection" => {
            let connector = connector_arg(&args, name, false)?.ok_or_else(|| missing(name, "connector"))?;
            let info = bs.initialize_connection(&caller, &id, &connector).await?;
            return Ok(Json(json!({"connection_info": info})).into_response());
        }
        "os-terminate_connection" => {
            let connector = connector_arg(&args, name, true)?;
            bs.terminate_connection(&caller, &id, connector.as_ref()).await?;
        }
        "os-attach" => {
            let req = attach_args(&args)?;
            bs.attach_volume(&caller, &id, req).await?;
        }
        "os-detach" => {
            let attachment_id = uuid_arg(&args, name, "attachment_id")?;
            bs.detach_volume(&caller, &id, attachment_id.as_deref()).await?;
        }
        "os-force_detach" => {
            let attachment_id = uuid_arg(&args, name, "attachment_id")?;
            let connector = connector_arg(&args, name, true)?;
            bs.force_detach(&caller, &id, attachment_id.as_deref(), connector)
                .await?;
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

fn missing(action: &str, key: &str) -> ApiError {
    ApiError::bad_request(format!(
        "Invalid input for field/attribute {action}. Value: {{}}. '{key}' is a required property"
    ))
}

/// The `connector` of an action: an object naming its `host` (os-brick's
/// connector properties). `null` is allowed where Cinder allows it.
pub(crate) fn connector_arg(args: &Value, action: &str, nullable: bool) -> ApiResult<Option<Connector>> {
    match &args["connector"] {
        Value::Null if nullable => Ok(None),
        Value::Null => Err(missing(action, "connector")),
        c @ Value::Object(o) => {
            if !o.get("host").is_some_and(Value::is_string) {
                return Err(ApiError::bad_request(format!(
                    "Invalid input received: the connector of {action} must name its host."
                )));
            }
            serde_json::from_value(c.clone())
                .map(Some)
                .map_err(|e| ApiError::bad_request(format!("Invalid input received: connector: {e}")))
        }
        _ => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute connector. Value: {}. The connector of {action} must be an object.",
            args["connector"]
        ))),
    }
}

/// An optional UUID argument (`null` allowed).
fn uuid_arg(args: &Value, action: &str, key: &str) -> ApiResult<Option<String>> {
    if !(args.is_object() || args.is_null()) {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute {action}. Value: {args}. {args} is not of type 'object', 'null'"
        )));
    }
    match &args[key] {
        Value::Null => Ok(None),
        Value::String(s) if uuid::Uuid::parse_str(s).is_ok() => Ok(Some(s.clone())),
        other => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute {key}. Value: {other}. {other} is not a 'uuid'"
        ))),
    }
}

/// `os-attach`'s body: `mountpoint`, and `instance_uuid` or `host_name`.
fn attach_args(args: &Value) -> ApiResult<AttachRequest> {
    let Some(obj) = args.as_object() else {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute os-attach. Value: {args}. {args} is not of type 'object'"
        )));
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !["instance_uuid", "host_name", "mountpoint", "mode"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute os-attach. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let mountpoint = match &args["mountpoint"] {
        Value::String(m) if !m.is_empty() && m.chars().count() <= 255 => m.clone(),
        Value::Null => return Err(missing("os-attach", "mountpoint")),
        other => {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute mountpoint. Value: {other}. It must be a string of 1 to 255 \
                 characters."
            )));
        }
    };
    let instance_uuid = uuid_arg(args, "os-attach", "instance_uuid")?;
    let host_name = opt_string(args, "host_name", 255)?;
    if instance_uuid.is_none() && host_name.is_none() {
        return Err(ApiError::bad_request(
            "Invalid input for field/attribute os-attach. One of 'instance_uuid' and 'host_name' is required.",
        ));
    }
    let mode = match &args["mode"] {
        Value::Null => "rw".to_owned(),
        Value::String(m) if m == "rw" || m == "ro" => m.clone(),
        other => {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute mode. Value: {other}. {other} is not one of ['rw', 'ro']"
            )));
        }
    };
    Ok(AttachRequest {
        instance_uuid,
        host_name,
        mountpoint,
        mode,
    })
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

/// Cinder's metadata Etag (3.15): the MD5 of `{"metadata": …}` as
/// Python's `json.dumps` writes it.
fn metadata_etag(m: &BTreeMap<String, String>) -> String {
    use md5::Digest;
    let items: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{}: {}", Value::from(k.as_str()), Value::from(v.as_str())))
        .collect();
    let text = format!("{{\"metadata\": {{{}}}}}", items.join(", "));
    let digest = md5::Md5::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// From 3.15 a metadata write with `If-Match` goes ahead only while the
/// metadata still has one of those Etags (`*`: any); else 412.
async fn check_if_match(
    bs: &BlockStorage,
    caller: &Caller,
    id: &str,
    version: Version,
    headers: &axum::http::HeaderMap,
) -> ApiResult<Option<Response>> {
    if version < Version::ETAGS {
        return Ok(None);
    }
    let Some(want) = headers.get(axum::http::header::IF_MATCH).and_then(|h| h.to_str().ok()) else {
        return Ok(None);
    };
    let current = metadata_etag(&bs.get_volume(caller, id).await?.metadata);
    let matches = want
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == current);
    if matches {
        Ok(None)
    } else {
        Ok(Some(StatusCode::PRECONDITION_FAILED.into_response()))
    }
}

pub async fn metadata(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, v) = visible(&bs, &ctx, &project, &id, "volume:get_volume_metadata").await?;
    let mut resp = Json(json!({"metadata": v.metadata})).into_response();
    if version >= Version::ETAGS
        && let Ok(tag) = axum::http::HeaderValue::from_str(&metadata_etag(&v.metadata))
    {
        resp.headers_mut().insert(axum::http::header::ETAG, tag);
    }
    Ok(resp)
}

async fn write_metadata(
    bs: &BlockStorage,
    ctx: &AuthContext,
    project: &str,
    id: &str,
    body: &Value,
    replace: bool,
    if_match: Option<(Version, &axum::http::HeaderMap)>,
) -> ApiResult<Response> {
    let rule = if replace {
        "volume:update_volume_metadata"
    } else {
        "volume:create_volume_metadata"
    };
    let (caller, _) = visible(bs, ctx, project, id, rule).await?;
    if let Some((version, headers)) = if_match
        && let Some(refused) = check_if_match(bs, &caller, id, version, headers).await?
    {
        return Ok(refused);
    }
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
    write_metadata(&bs, &ctx, &project, &id, &body, false, None).await
}

pub async fn metadata_replace(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    headers: axum::http::HeaderMap,
    Path((project, id)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    write_metadata(&bs, &ctx, &project, &id, &body, true, Some((version, &headers))).await
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
    version: Version,
    headers: axum::http::HeaderMap,
    Path((project, id, key)): Path<(String, String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let (caller, _) = visible(&bs, &ctx, &project, &id, "volume:update_volume_metadata").await?;
    if let Some(refused) = check_if_match(&bs, &caller, &id, version, &headers).await? {
        return Ok(refused);
    }
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
