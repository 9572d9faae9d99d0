//! `/v3/{project_id}/attachments` (microversion 3.27): create (reserve,
//! and connect when a connector is given), list, detail, show, update
//! (connect), delete, and `os-complete` (3.44).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use ::api::{ApiError, Auth, AuthContext, ValidJson};

use super::versions::Version;
use super::volumes::connector_arg;
use super::{ApiResult, QueryPairs, filters, isotime, query, sort_and_page, truthy};
use crate::BlockStorage;
use crate::db::attachments::AttachmentRow;

const SORT_KEYS: &[&str] = &["id", "volume_id", "status", "instance", "created_at", "updated_at"];

/// Cinder's `resource_filters.json` for attachments.
pub(crate) const FILTERS: &[&str] = &["volume_id", "status", "instance_id", "attach_status"];

/// Cinder answers 404 to the attachments API below 3.27, as to any
/// resource the version does not have.
fn require(version: Version, min: Version) -> ApiResult<()> {
    if version < min {
        return Err(ApiError::not_found(format!(
            "The resource could not be found. (it needs microversion {min}; the request asked for {version})"
        )));
    }
    Ok(())
}

fn summary(a: &AttachmentRow) -> Value {
    json!({
        "id": a.id,
        "status": a.attach_status,
        "instance": a.instance_uuid,
        "volume_id": a.volume_id,
    })
}

fn detail(a: &AttachmentRow) -> Value {
    let mut out = summary(a);
    out["attached_at"] = json!(a.attach_time.map(isotime).unwrap_or_default());
    out["detached_at"] = json!(a.detach_time.map(isotime).unwrap_or_default());
    out["attach_mode"] = json!(a.attach_mode);
    out["connection_info"] = a.connection_info.clone().unwrap_or_else(|| json!({}));
    out
}

fn body_of<'a>(body: &'a Value, allowed: &[&str]) -> ApiResult<&'a serde_json::Map<String, Value>> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::bad_request("Invalid input: the body must be an object."));
    };
    if let Some(k) = obj.keys().find(|k| *k != "attachment") {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute body. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let Some(a) = obj.get("attachment").and_then(Value::as_object) else {
        return Err(ApiError::bad_request(
            "Invalid input for field/attribute attachment. 'attachment' is a required property and must be an object",
        ));
    };
    if let Some(k) = a.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute attachment. Additional properties are not allowed ('{k}' was \
             unexpected)"
        )));
    }
    Ok(a)
}

fn uuid_field(a: &serde_json::Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    match a.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if uuid::Uuid::parse_str(s).is_ok() => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute {key}. Value: {other}. {other} is not a 'uuid'"
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
    require(version, Version::NEW_ATTACH)?;
    let caller = bs.caller(&ctx, &project)?;
    let a = body_of(&body, &["instance_uuid", "connector", "volume_uuid"])?;
    let Some(volume_id) = uuid_field(a, "volume_uuid")? else {
        return Err(ApiError::bad_request(
            "Invalid input for field/attribute attachment. 'volume_uuid' is a required property",
        ));
    };
    let instance_uuid = uuid_field(a, "instance_uuid")?;
    let connector = connector_arg(&Value::Object(a.clone()), "attachment", true)?;
    let v = bs.get_volume(&caller, &volume_id).await?;
    bs.authorize(&ctx, "volume:attachment_create", &v.project_id)?;
    let row = bs
        .create_attachment(&caller, &volume_id, instance_uuid, connector)
        .await?;
    Ok(Json(json!({"attachment": detail(&row)})).into_response())
}

async fn listed(
    bs: &BlockStorage,
    ctx: &AuthContext,
    project: &str,
    q: &[(String, String)],
    version: Version,
    detailed: bool,
) -> ApiResult<Response> {
    require(version, Version::NEW_ATTACH)?;
    let caller = bs.caller(ctx, project)?;
    bs.authorize(ctx, "volume:get_all", project)?;
    let f = filters::Filters::parse(q, version, caller.is_admin, FILTERS)?;
    let all = query(q, "all_tenants").map(truthy).transpose()?.unwrap_or(false);
    let mut items = Vec::new();
    for a in bs.list_attachments(&caller, all).await? {
        let instance = a.instance_uuid.clone().unwrap_or_default();
        let keep = f.matches_str("volume_id", &a.volume_id)
            && f.matches_str("status", &a.attach_status)
            && f.matches_str("attach_status", &a.attach_status)
            && f.matches_str("instance_id", &instance);
        if keep {
            let mut item = detail(&a);
            item["created_at"] = json!(a.created_at);
            item["updated_at"] = json!(a.updated_at);
            items.push(item);
        }
    }
    let path = if detailed { "attachments/detail" } else { "attachments" };
    let base = format!("{}/v3/{project}/{path}", bs.base_url());
    let (items, links) = sort_and_page(items, q, SORT_KEYS, bs.config.max_limit, &base)?;
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut i| {
            let o = i.as_object_mut().expect("an object");
            o.remove("created_at");
            o.remove("updated_at");
            if !detailed {
                for k in ["attached_at", "detached_at", "attach_mode", "connection_info"] {
                    o.remove(k);
                }
            }
            i
        })
        .collect();
    let mut body = json!({"attachments": items});
    if !links.is_empty() {
        body["attachments_links"] = json!(links);
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

pub async fn list_detail(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path(project): Path<String>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    listed(&bs, &ctx, &project, &q, version, true).await
}

pub async fn show(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    require(version, Version::NEW_ATTACH)?;
    let caller = bs.caller(&ctx, &project)?;
    let (a, v) = bs.get_attachment(&caller, &id).await?;
    bs.authorize(&ctx, "volume:get", &v.project_id)?;
    Ok(Json(json!({"attachment": detail(&a)})).into_response())
}

pub async fn update(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path((project, id)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    require(version, Version::NEW_ATTACH)?;
    let caller = bs.caller(&ctx, &project)?;
    let a = body_of(&body, &["connector"])?;
    let connector = match a.get("connector") {
        Some(Value::Object(o)) if !o.is_empty() => connector_arg(&Value::Object(a.clone()), "attachment", false)?,
        _ => {
            return Err(ApiError::bad_request(
                "Invalid input for field/attribute attachment. 'connector' is a required property and must be a \
                 non-empty object",
            ));
        }
    };
    let (_, v) = bs.get_attachment(&caller, &id).await?;
    bs.authorize(&ctx, "volume:attachment_update", &v.project_id)?;
    let Some(connector) = connector else {
        return Err(ApiError::bad_request("Invalid input received: connector is required."));
    };
    let row = bs.update_attachment(&caller, &id, connector).await?;
    Ok(Json(json!({"attachment": detail(&row)})).into_response())
}

pub async fn delete(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    require(version, Version::NEW_ATTACH)?;
    let caller = bs.caller(&ctx, &project)?;
    let (_, v) = bs.get_attachment(&caller, &id).await?;
    bs.authorize(&ctx, "volume:attachment_delete", &v.project_id)?;
    let left = bs.delete_attachment(&caller, &id).await?;
    let items: Vec<Value> = left.iter().map(summary).collect();
    Ok(Json(json!({"attachments": items})).into_response())
}

/// `POST /attachments/{id}/action`: `os-complete` (3.44).
pub async fn action(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path((project, id)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    require(version, Version::NEW_ATTACH_COMPLETION)?;
    let caller = bs.caller(&ctx, &project)?;
    let Some(obj) = body.as_object().filter(|o| o.len() == 1) else {
        return Err(ApiError::bad_request("Invalid request body: one action is expected."));
    };
    if !obj.contains_key("os-complete") {
        let name = obj.keys().next().cloned().unwrap_or_default();
        return Err(ApiError::bad_request(format!("There is no such action: {name}")));
    }
    let (_, v) = bs.get_attachment(&caller, &id).await?;
    bs.authorize(&ctx, "volume:attachment_complete", &v.project_id)?;
    bs.complete_attachment(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
