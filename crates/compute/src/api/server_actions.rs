//! `POST /servers/{id}/action`, `/servers/{id}/metadata`,
//! `/servers/{id}/tags` (2.26) and `/servers/{id}/os-instance-actions`.

use std::collections::BTreeMap;

use api::ApiError;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use compute_agent::rpc::{Action, vm_states};
use serde_json::{Value, json};

use super::servers::{ApiResult, Who, authorize, isotime_micro, parse_metadata, parse_name, render, visible};
use super::{IdKey, IdPath, IdReq, IdTag, QueryPairs};
use crate::Compute;
use crate::db;
use crate::microversion::Version;
use crate::servers::{Caller, host_id, invalid_state};

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/servers/{id}/action", post(action))
        .route(
            "/servers/{id}/metadata",
            get(list_metadata).post(merge_metadata).put(replace_metadata),
        )
        .route(
            "/servers/{id}/metadata/{key}",
            get(show_metadata).put(put_metadata).delete(delete_metadata),
        )
        .route(
            "/servers/{id}/tags",
            get(list_tags).put(replace_tags).delete(clear_tags),
        )
        .route(
            "/servers/{id}/tags/{tag}",
            get(check_tag).put(add_tag).delete(remove_tag),
        )
        .route("/servers/{id}/os-instance-actions", get(list_actions))
        .route("/servers/{id}/os-instance-actions/{request_id}", get(show_action))
}

fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

async fn action(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(IdPath { id }): Path<IdPath>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Response> {
    let Value::Object(map) = &body else {
        return Err(ApiError::bad_request("Malformed request body"));
    };
    let Some((name, args)) = map.iter().next() else {
        return Err(ApiError::bad_request("Malformed request body"));
    };
    let rule = match name.as_str() {
        "os-start" => "os_compute_api:servers:start",
        "os-stop" => "os_compute_api:servers:stop",
        "reboot" => "os_compute_api:servers:reboot",
        "pause" => "os_compute_api:os-pause-server:pause",
        "unpause" => "os_compute_api:os-pause-server:unpause",
        "suspend" => "os_compute_api:os-suspend-server:suspend",
        "resume" => "os_compute_api:os-suspend-server:resume",
        "lock" => "os_compute_api:os-lock-server:lock",
        "unlock" => "os_compute_api:os-lock-server:unlock",
        "rebuild" => "os_compute_api:servers:rebuild",
        "resize" => "os_compute_api:servers:resize",
        "confirmResize" => "os_compute_api:servers:confirm_resize",
        "revertResize" => "os_compute_api:servers:revert_resize",
        "createImage" => "os_compute_api:servers:create_image",
        "shelve" => "os_compute_api:os-shelve:shelve",
        "shelveOffload" => "os_compute_api:os-shelve:shelve_offload",
        "unshelve" => "os_compute_api:os-shelve:unshelve",
        "os-getConsoleOutput" => "os_compute_api:os-console-output",
        "restore" => "os_compute_api:os-deferred-delete:restore",
        "forceDelete" => "os_compute_api:os-deferred-delete:force",
        "os-resetState" => "os_compute_api:os-admin-actions:reset_state",
        "migrate" => "os_compute_api:os-migrate-server:migrate",
        "createBackup" => "os_compute_api:os-create-backup",
        "rescue" => "os_compute_api:os-rescue",
        "unrescue" => "os_compute_api:os-unrescue",
        other => {
            return Err(ApiError::bad_request(format!("There is no such action: {other}")));
        }
    };
    let row = visible(&c, &caller, &id, rule).await?;
    let uuid = row.uuid.clone();
    match name.as_str() {
        "os-start" => c.power_action(&caller, &uuid, Action::Start).await?,
        "os-stop" => c.power_action(&caller, &uuid, Action::Stop).await?,
        "reboot" => {
            let kind = args.get("type").and_then(Value::as_str).unwrap_or_default();
            let hard = match kind.to_ascii_uppercase().as_str() {
                "SOFT" => false,
                "HARD" => true,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid input for field/attribute type. Value: {kind}. '{kind}' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']"
                    )));
                }
            };
            c.power_action(&caller, &uuid, Action::Reboot { hard }).await?
        }
        "pause" => c.power_action(&caller, &uuid, Action::Pause).await?,
        "unpause" => c.power_action(&caller, &uuid, Action::Unpause).await?,
        "suspend" => c.power_action(&caller, &uuid, Action::Suspend).await?,
        "resume" => c.power_action(&caller, &uuid, Action::Resume).await?,
        "lock" => {
            let reason = if v.at_least(73) {
                match args.get("locked_reason") {
                    Some(Value::String(r)) if r.chars().count() <= 255 => Some(r.clone()),
                    Some(Value::Null) | None => None,
                    Some(other) => {
                        return Err(ApiError::bad_request(format!(
                            "Invalid input for field/attribute locked_reason. Value: {other}."
                        )));
                    }
                }
            } else {
                None
            };
            c.lock_server(&caller, &uuid, reason).await?
        }
        "unlock" => c.unlock_server(&caller, &uuid).await?,
        "rebuild" => return rebuild(&c, &caller, v, &uuid, args).await,
        "resize" => {
            let Some(flavor) = args.get("flavorRef").and_then(|f| {
                f.as_str()
                    .map(str::to_owned)
                    .or_else(|| f.as_i64().map(|n| n.to_string()))
            }) else {
                return Err(ApiError::bad_request(
                    "Invalid input for field/attribute resize. Value: {}. 'flavorRef' is a required property",
                ));
            };
            c.resize_server(&caller, &uuid, &flavor).await?
        }
        "confirmResize" => {
            c.confirm_resize(&caller, &uuid).await?;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        "revertResize" => c.revert_resize(&caller, &uuid).await?,
        "createImage" => {
            let Value::Object(a) = args else {
                return Err(ApiError::bad_request("Invalid input for field/attribute createImage."));
            };
            let name = parse_name(a, true)?.unwrap_or_default();
            let metadata = match a.get("metadata") {
                Some(m) => parse_metadata(m, "metadata")?,
                None => BTreeMap::new(),
            };
            let image_id = c.create_image(&caller, &uuid, &name, &metadata).await?;
            return Ok(image_created(&c, v, &image_id));
        }
        "shelve" => c.shelve_server(&caller, &uuid).await?,
        "shelveOffload" => c.shelve_offload_server(&caller, &uuid).await?,
        "unshelve" => {
            let az = if v.at_least(77) {
                args.get("availability_zone").and_then(Value::as_str).map(str::to_owned)
            } else {
                None
            };
            c.unshelve_server(&caller, &uuid, az).await?
        }
        "os-getConsoleOutput" => {
            let length = match args.get("length") {
                None | Some(Value::Null) => None,
                Some(l) => {
                    let n = l.as_i64().or_else(|| l.as_str().and_then(|s| s.parse().ok()));
                    match n {
                        Some(-1) => None,
                        Some(n) if n >= 0 => Some(n as u64),
                        _ => {
                            return Err(ApiError::bad_request(format!(
                                "Invalid input for field/attribute length. Value: {l}."
                            )));
                        }
                    }
                }
            };
            let output = c.console_output(&uuid, length).await?;
            return Ok(Json(json!({"output": output})).into_response());
        }
        "restore" => c.restore_server(&caller, &uuid).await?,
        "forceDelete" => c.force_delete_server(&caller, &uuid).await?,
        "os-resetState" => {
            let Some(state) = args.get("state").and_then(Value::as_str) else {
                return Err(ApiError::bad_request(
                    "Invalid input for field/attribute os-resetState. 'state' is a required property",
                ));
            };
            c.reset_state(&uuid, state).await?
        }
        "createBackup" => return create_backup(&c, &caller, v, &uuid, args).await,
        "migrate" => {
            let host = migrate_host(v, args)?;
            c.migrate_server(&caller, &uuid, host.as_deref()).await?
        }
        "rescue" => return rescue(&c, &caller, &uuid, args).await,
        "unrescue" => c.unrescue_server(&caller, &uuid).await?,
        _ => unreachable!("action names are matched above"),
    }
    Ok(accepted())
}

/// The 202 of an action that made an image: its id in the body from
/// 2.45, its URL in `Location` before.
fn image_created(c: &Compute, v: Version, image_id: &str) -> Response {
    if v.at_least(45) {
        return (StatusCode::ACCEPTED, Json(json!({"image_id": image_id}))).into_response();
    }
    let mut headers = HeaderMap::new();
    if let Ok(l) = HeaderValue::from_str(&format!("{}/images/{image_id}", c.image.base_url())) {
        headers.insert(header::LOCATION, l);
    }
    (StatusCode::ACCEPTED, headers).into_response()
}

/// `rescue` answers 200 with the password of the rescue boot (Nova's
/// `[api] enable_instance_password` is on, as for create and rebuild).
async fn rescue(c: &Compute, caller: &Caller, uuid: &str, args: &Value) -> ApiResult<Response> {
    let invalid = |field: &str, value: &Value, why: &str| {
        ApiError::bad_request(format!(
            "Invalid input for field/attribute {field}. Value: {value}. {why}"
        ))
    };
    let empty = serde_json::Map::new();
    let a = match args {
        Value::Object(a) => a,
        Value::Null => &empty,
        other => {
            return Err(invalid(
                "rescue",
                other,
                &format!("{other} is not of type 'object', 'null'"),
            ));
        }
    };
    if let Some(k) = a
        .keys()
        .find(|k| !["adminPass", "rescue_image_ref"].contains(&k.as_str()))
    {
        return Err(invalid(
            "rescue",
            args,
            &format!("Additional properties are not allowed ('{k}' was unexpected)"),
        ));
    }
    let pass = match a.get("adminPass") {
        None => crate::servers::random_password(),
        Some(Value::String(p)) => p.clone(),
        Some(other) => return Err(invalid("adminPass", other, &format!("{other} is not of type 'string'"))),
    };
    let image = match a.get("rescue_image_ref") {
        None => None,
        Some(Value::String(r)) if uuid::Uuid::parse_str(r).is_ok() => Some(r.as_str()),
        Some(other) => {
            return Err(invalid("rescue_image_ref", other, &format!("{other} is not a 'uuid'")));
        }
    };
    c.rescue_server(caller, uuid, image).await?;
    Ok(Json(json!({"adminPass": pass})).into_response())
}

async fn create_backup(c: &Compute, caller: &Caller, v: Version, uuid: &str, args: &Value) -> ApiResult<Response> {
    let Value::Object(a) = args else {
        return Err(ApiError::bad_request("Invalid input for field/attribute createBackup."));
    };
    let required = |field: &str| {
        ApiError::bad_request(format!(
            "Invalid input for field/attribute createBackup. Value: {args}. '{field}' is a required property"
        ))
    };
    let name = parse_name(a, true)?.ok_or_else(|| required("name"))?;
    let backup_type = match a.get("backup_type") {
        Some(Value::String(t)) => t.clone(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute backup_type. Value: {other}. {other} is not of type 'string'"
            )));
        }
        None => return Err(required("backup_type")),
    };
    let rotation = match a.get("rotation") {
        None => return Err(required("rotation")),
        Some(r) => r
            .as_u64()
            .or_else(|| r.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Invalid input for field/attribute rotation. Value: {r}. {r} is not a non-negative integer"
                ))
            })?,
    };
    let metadata = match a.get("metadata") {
        Some(m) => parse_metadata(m, "metadata")?,
        None => BTreeMap::new(),
    };
    let image_id = c
        .create_backup(caller, uuid, &name, &backup_type, rotation, &metadata)
        .await?;
    Ok(image_created(c, v, &image_id))
}

async fn rebuild(c: &Compute, caller: &Caller, v: Version, uuid: &str, args: &Value) -> ApiResult<Response> {
    let Value::Object(a) = args else {
        return Err(ApiError::bad_request("Invalid input for field/attribute rebuild."));
    };
    let Some(image_ref) = a.get("imageRef").and_then(Value::as_str) else {
        return Err(ApiError::bad_request(
            "Invalid input for field/attribute rebuild. Value: {}. 'imageRef' is a required property",
        ));
    };
    let name = parse_name(a, false)?;
    let metadata = match a.get("metadata") {
        Some(m) => Some(parse_metadata(m, "metadata")?),
        None => None,
    };
    let description = match a.get("description") {
        Some(Value::Null) if v.at_least(19) => Some(None),
        Some(Value::String(d)) if v.at_least(19) => Some(Some(d.clone())),
        _ => None,
    };
    let key_name = match a.get("key_name") {
        Some(Value::Null) if v.at_least(54) => Some(None),
        Some(Value::String(k)) if v.at_least(54) => Some(Some(k.clone())),
        _ => None,
    };
    let user_data = match a.get("user_data") {
        Some(u) if v.at_least(57) => Some(super::servers::parse_user_data(u)?),
        _ => None,
    };
    let hostname = match a.get("hostname") {
        Some(h) if v.at_least(90) => Some(super::servers::parse_hostname(h)?),
        _ => None,
    };
    let row = c
        .rebuild_server(
            caller,
            uuid,
            image_ref,
            name,
            metadata,
            description,
            key_name,
            user_data,
            hostname,
            super::servers::access_ips(a)?,
        )
        .await?;
    let mut server = render(c, caller, &row, v, true).await;
    super::servers::plain_before_2_75(&mut server, v);
    // Nova renders a rebuild's addresses without the OS-EXT-IPS extensions.
    let basic = super::ips::basic(&server["addresses"]);
    server["addresses"] = Value::Object(basic);
    // Rebuild's own additions: the key from 2.54, the user data (under
    // its plain name) from 2.57.
    if v.at_least(54) {
        server["key_name"] = json!(row.key_name);
    }
    if v.at_least(57)
        && let Some(o) = server.as_object_mut()
    {
        o.remove("OS-EXT-SRV-ATTR:user_data");
        o.insert("user_data".into(), json!(row.user_data));
    }
    let pass = a
        .get("adminPass")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            use rand::Rng;
            rand::thread_rng()
                .sample_iter(&rand::distributions::Alphanumeric)
                .take(12)
                .map(char::from)
                .collect()
        });
    server["adminPass"] = json!(pass);
    Ok((StatusCode::ACCEPTED, Json(json!({"server": server}))).into_response())
}

// ----- metadata ------------------------------------------------------

const META_STATES: &[&str] = &[
    vm_states::ACTIVE,
    vm_states::PAUSED,
    vm_states::SUSPENDED,
    vm_states::STOPPED,
    vm_states::SHELVED,
    vm_states::SHELVED_OFFLOADED,
];

async fn writable(
    c: &Compute,
    caller: &Caller,
    id: &str,
    rule: &str,
    what: &str,
) -> ApiResult<crate::db::servers::InstanceRow> {
    let row = visible(c, caller, id, rule).await?;
    c.check_locked(caller, &row)?;
    if !META_STATES.contains(&row.vm_state.as_str()) {
        return Err(invalid_state(what, id, "vm_state", Some(&row.vm_state)).into());
    }
    if row.task_state.is_some() {
        return Err(invalid_state(what, id, "task_state", row.task_state.as_deref()).into());
    }
    Ok(row)
}

async fn list_metadata(
    State(c): State<Compute>,
    Who(caller): Who,
    Path(IdPath { id }): Path<IdPath>,
) -> ApiResult<Json<Value>> {
    let row = visible(&c, &caller, &id, "os_compute_api:server-metadata:index").await?;
    Ok(Json(json!({"metadata": row.metadata})))
}

async fn set_all(c: &Compute, caller: &Caller, id: &str, body: &Value, replace: bool) -> ApiResult<Json<Value>> {
    let rule = if replace {
        "os_compute_api:server-metadata:update_all"
    } else {
        "os_compute_api:server-metadata:create"
    };
    let row = writable(c, caller, id, rule, "update metadata").await?;
    let Some(m) = body.get("metadata") else {
        return Err(ApiError::bad_request(
            "Invalid input for field/attribute metadata. Value: {}. 'metadata' is a required property",
        ));
    };
    let items = parse_metadata(m, "metadata")?;
    let total = if replace {
        items.len()
    } else {
        let mut all = row.metadata.clone();
        all.extend(items.clone());
        all.len()
    };
    c.check_metadata_quota(&row.project_id, total).await?;
    db::servers::set_metadata(&c.db, id, &items, replace).await?;
    let row = c.get_instance(id).await?;
    Ok(Json(json!({"metadata": row.metadata})))
}

async fn merge_metadata(
    State(c): State<Compute>,
    Who(caller): Who,
    Path(IdPath { id }): Path<IdPath>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    set_all(&c, &caller, &id, &body, false).await
}

async fn replace_metadata(
    State(c): State<Compute>,
    Who(caller): Who,
    Path(IdPath { id }): Path<IdPath>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    set_all(&c, &caller, &id, &body, true).await
}

async fn show_metadata(
    State(c): State<Compute>,
    Who(caller): Who,
    Path(IdKey { id, key }): Path<IdKey>,
) -> ApiResult<Json<Value>> {
    let row = visible(&c, &caller, &id, "os_compute_api:server-metadata:show").await?;
    match row.metadata.get(&key) {
        Some(v) => Ok(Json(json!({"meta": {key: v}}))),
        None => Err(ApiError::not_found("Metadata item was not found")),
    }
}

async fn put_metadata(
    State(c): State<Compute>,
    Who(caller): Who,
    Path(IdKey { id, key }): Path<IdKey>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    let row = writable(
        &c,
        &caller,
        &id,
        "os_compute_api:server-metadata:update",
        "update metadata",
    )
    .await?;
    let Some(meta) = body.get("meta") else {
        return Err(ApiError::bad_request(
            "Invalid input for field/attribute meta. Value: {}. 'meta' is a required property",
        ));
    };
    let items = parse_metadata(meta, "meta")?;
    if items.len() > 1 {
        return Err(ApiError::bad_request("Request body contains too many items"));
    }
    if !items.contains_key(&key) {
        return Err(ApiError::bad_request("Request body and URI mismatch"));
    }
    let mut all = row.metadata.clone();
    all.extend(items.clone());
    c.check_metadata_quota(&row.project_id, all.len()).await?;
    db::servers::set_metadata(&c.db, &id, &items, false).await?;
    Ok(Json(json!({"meta": items})))
}

async fn delete_metadata(
    State(c): State<Compute>,
    Who(caller): Who,
    Path(IdKey { id, key }): Path<IdKey>,
) -> ApiResult<StatusCode> {
    writable(
        &c,
        &caller,
        &id,
        "os_compute_api:server-metadata:delete",
        "delete metadata",
    )
    .await?;
    if !db::servers::delete_metadata(&c.db, &id, &key).await? {
        return Err(ApiError::not_found("Metadata item was not found"));
    }
    Ok(StatusCode::NO_CONTENT)
}

// ----- tags (2.26) ---------------------------------------------------

fn need_tags(v: Version) -> ApiResult<()> {
    if v.at_least(26) {
        Ok(())
    } else {
        Err(ApiError::not_found("The resource could not be found."))
    }
}

async fn list_tags(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(IdPath { id }): Path<IdPath>,
) -> ApiResult<Json<Value>> {
    need_tags(v)?;
    let row = visible(&c, &caller, &id, "os_compute_api:os-server-tags:index").await?;
    Ok(Json(json!({"tags": row.tags})))
}

async fn replace_tags(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(IdPath { id }): Path<IdPath>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    need_tags(v)?;
    writable(
        &c,
        &caller,
        &id,
        "os_compute_api:os-server-tags:update_all",
        "update tags",
    )
    .await?;
    let Some(t) = body.get("tags") else {
        return Err(ApiError::bad_request(
            "Invalid input for field/attribute tags. Value: {}. 'tags' is a required property",
        ));
    };
    let mut tags = super::servers::parse_tags(t)?;
    tags.sort();
    tags.dedup();
    db::servers::set_tags(&c.db, &id, &tags).await?;
    Ok(Json(json!({"tags": tags})))
}

async fn clear_tags(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(IdPath { id }): Path<IdPath>,
) -> ApiResult<StatusCode> {
    need_tags(v)?;
    writable(
        &c,
        &caller,
        &id,
        "os_compute_api:os-server-tags:delete_all",
        "delete tags",
    )
    .await?;
    db::servers::set_tags(&c.db, &id, &[]).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn check_tag(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(IdTag { id, tag }): Path<IdTag>,
) -> ApiResult<StatusCode> {
    need_tags(v)?;
    let row = visible(&c, &caller, &id, "os_compute_api:os-server-tags:show").await?;
    if row.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("Instance {id} has no tag '{tag}'")))
    }
}

async fn add_tag(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(IdTag { id, tag }): Path<IdTag>,
) -> ApiResult<Response> {
    need_tags(v)?;
    let row = writable(&c, &caller, &id, "os_compute_api:os-server-tags:update", "update tag").await?;
    let tag = super::servers::check_tag(&json!(tag))?;
    if row.tags.contains(&tag) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if row.tags.len() >= 50 {
        return Err(ApiError::bad_request(
            "The number of tags exceeded the per-server limit 50",
        ));
    }
    db::servers::add_tag(&c.db, &id, &tag).await?;
    let mut headers = HeaderMap::new();
    if let Ok(l) = HeaderValue::from_str(&format!("{}/v2.1/servers/{id}/tags/{tag}", c.base_url())) {
        headers.insert(header::LOCATION, l);
    }
    Ok((StatusCode::CREATED, headers).into_response())
}

async fn remove_tag(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(IdTag { id, tag }): Path<IdTag>,
) -> ApiResult<StatusCode> {
    need_tags(v)?;
    writable(&c, &caller, &id, "os_compute_api:os-server-tags:delete", "delete tag").await?;
    if !db::servers::delete_tag(&c.db, &id, &tag).await? {
        return Err(ApiError::not_found(format!("Instance {id} has no tag '{tag}'")));
    }
    Ok(StatusCode::NO_CONTENT)
}

// ----- os-instance-actions -------------------------------------------

fn render_action(a: &db::actions::ActionRow, v: Version) -> Value {
    let mut out = json!({
        "action": a.action,
        "instance_uuid": a.instance_uuid,
        "message": a.message,
        "project_id": a.project_id,
        "request_id": a.request_id,
        "start_time": isotime_micro(a.start_time),
        "user_id": a.user_id,
    });
    if v.at_least(58) {
        out["updated_at"] = json!(isotime_micro(a.updated_at));
    }
    out
}

/// The server, deleted or not (actions of deleted servers stay readable).
async fn any_server(c: &Compute, caller: &Caller, id: &str, rule: &str) -> ApiResult<crate::db::servers::InstanceRow> {
    let row = db::servers::get_any(&c.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Instance {id} could not be found.")))?;
    if authorize(c, caller, rule, &row.project_id, &row.user_id).is_err() {
        return Err(ApiError::not_found(format!("Instance {id} could not be found.")));
    }
    Ok(row)
}

async fn list_actions(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(IdPath { id }): Path<IdPath>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Json<Value>> {
    let row = any_server(&c, &caller, &id, "os_compute_api:os-instance-actions:list").await?;
    let mut actions = db::actions::list_actions(&c.db, &row.uuid).await?;
    let mut full_page = None;
    if v.at_least(58) {
        let get = |k: &str| q.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        if let Some(since) = get("changes-since") {
            let t = chrono::DateTime::parse_from_rfc3339(&since)
                .map_err(|_| ApiError::bad_request("Invalid filter field: changes-since."))?
                .timestamp_micros();
            actions.retain(|a| a.updated_at >= t);
        }
        let page = api::page::Page::from_query(&q, c.config.max_limit)?;
        if let Some(m) = &page.marker {
            let Some(pos) = actions.iter().position(|a| &a.request_id == m) else {
                return Err(ApiError::bad_request(format!("Marker {m} could not be found.")));
            };
            actions.drain(..=pos);
        }
        if let Some(l) = page.limit {
            if actions.len() >= l {
                full_page = Some(l);
            }
            actions.truncate(l);
        }
    }
    let mut body = json!({"instanceActions": actions.iter().map(|a| render_action(a, v)).collect::<Vec<_>>()});
    if let (Some(limit), Some(last)) = (full_page, actions.last()) {
        let page = api::page::Page {
            limit: Some(limit),
            marker: None,
        };
        let links = page.links(
            &format!("{}/v2.1/servers/{id}/os-instance-actions", c.base_url()),
            &q,
            actions.len(),
            Some(&last.request_id),
        );
        body["links"] = json!(links);
    }
    Ok(Json(body))
}

async fn show_action(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(IdReq { id, request_id }): Path<IdReq>,
) -> ApiResult<Json<Value>> {
    let row = any_server(&c, &caller, &id, "os_compute_api:os-instance-actions:show").await?;
    let Some(a) = db::actions::get_action_by_request(&c.db, &row.uuid, &request_id).await? else {
        return Err(ApiError::not_found(format!(
            "Action for request_id {request_id} on instance {id} not found"
        )));
    };
    let mut out = render_action(&a, v);
    let admin_events = authorize(
        &c,
        &caller,
        "os_compute_api:os-instance-actions:events",
        &row.project_id,
        &row.user_id,
    )
    .is_ok();
    if admin_events || v.at_least(51) {
        let events = db::actions::events(&c.db, &a.id).await?;
        let list: Vec<Value> = events
            .iter()
            .map(|e| {
                let mut ev = json!({
                    "event": e.event,
                    "start_time": isotime_micro(e.start_time),
                    "finish_time": e.finish_time.map(isotime_micro),
                    "result": e.result,
                });
                if admin_events {
                    ev["traceback"] = json!(e.traceback);
                }
                if v.at_least(62) {
                    ev["hostId"] = json!(host_id(&row.project_id, e.host.as_deref()));
                    if admin_events {
                        ev["host"] = json!(e.host.clone().unwrap_or_default());
                    }
                }
                if v.at_least(84) && admin_events {
                    ev["details"] = json!(e.traceback);
                }
                ev
            })
            .collect();
        out["events"] = json!(list);
    }
    Ok(Json(json!({"instanceAction": out})))
}

/// The `migrate` body from 2.56: `null` or `{"host": name-or-null}`.
/// Before 2.56 Nova validates nothing and ignores the body.
fn migrate_host(v: Version, args: &Value) -> ApiResult<Option<String>> {
    if !v.at_least(56) {
        return Ok(None);
    }
    let bad = |why: String| {
        ApiError::bad_request(format!(
            "Invalid input for field/attribute migrate. Value: {args}. {why}"
        ))
    };
    match args {
        Value::Null => Ok(None),
        Value::Object(m) => {
            if let Some(k) = m.keys().find(|k| *k != "host") {
                return Err(bad(format!(
                    "Additional properties are not allowed ('{k}' was unexpected)"
                )));
            }
            match m.get("host") {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(h)) if !h.is_empty() && h.chars().count() <= 255 => Ok(Some(h.clone())),
                Some(other) => Err(bad(format!("{other} is not of type 'string', 'null'"))),
            }
        }
        other => Err(bad(format!("{other} is not of type 'object', 'null'"))),
    }
}
