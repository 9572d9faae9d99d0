//! `/servers/{id}/os-volume_attachments`: list, show, attach (200 with
//! the attachment), detach (202). Per microversion: `tag` is accepted from
//! 2.49 and shown from 2.70, `delete_on_termination` accepted and shown
//! from 2.79, and from 2.89 list and show give `attachment_id` and
//! `bdm_uuid` instead of `id` (the attach answer keeps `id`). The volume
//! attachment's id in the path is the volume's id, as in Nova. `PUT`
//! changes `delete_on_termination` (2.85) but cannot swap volumes (409,
//! after Nova's 404/400 checks of both volumes).

use api::ApiError;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::QueryPairs;
use super::flavors::{invalid, member, only, only_query};
use super::servers::{ApiResult, Who, visible};
use crate::Compute;
use crate::microversion::Version;
use crate::volume_attachments::{AttachVolume, VolumeAttachment, valid_device_name};

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/servers/{id}/os-volume_attachments", get(list).post(create))
        .route(
            "/servers/{id}/os-volume_attachments/{volume_id}",
            get(show).put(update).delete(delete),
        )
}

#[derive(serde::Deserialize)]
struct ServerVolume {
    id: String,
    volume_id: String,
}

/// Nova's `_translate_attachment_detail_view`.
fn view(a: &VolumeAttachment, v: Version) -> Value {
    let mut o = Map::new();
    if !v.at_least(89) {
        o.insert("id".into(), json!(a.volume_id));
    }
    o.insert("volumeId".into(), json!(a.volume_id));
    o.insert("serverId".into(), json!(a.server_id));
    o.insert("device".into(), json!(a.device));
    if v.at_least(70) {
        o.insert("tag".into(), json!(a.tag));
    }
    if v.at_least(79) {
        o.insert("delete_on_termination".into(), json!(a.delete_on_termination));
    }
    if v.at_least(89) {
        // Legacy attach actions: Cinder keeps no attachment record of ours.
        o.insert("attachment_id".into(), Value::Null);
        o.insert("bdm_uuid".into(), json!(a.uuid));
    }
    Value::Object(o)
}

fn query_usize(pairs: &[(String, String)], key: &str) -> ApiResult<Option<usize>> {
    match pairs.iter().rev().find(|(k, _)| k == key) {
        None => Ok(None),
        Some((_, s)) => s.parse::<usize>().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "Invalid input for query parameters {key}. Value: {s}. '{s}' does not match '^[0-9]*$'"
            ))
        }),
    }
}

async fn list(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(super::IdPath { id }): Path<super::IdPath>,
    axum::extract::Query(pairs): QueryPairs,
) -> ApiResult<Json<Value>> {
    if v.at_least(75) {
        only_query(&pairs, &["limit", "offset"])?;
    }
    let limit = query_usize(&pairs, "limit")?
        .unwrap_or(c.config.max_limit)
        .min(c.config.max_limit);
    let offset = query_usize(&pairs, "offset")?.unwrap_or(0);
    let row = visible(&c, &caller, &id, "os_compute_api:os-volumes-attachments:index").await?;
    let items: Vec<Value> = c
        .list_volume_attachments(&row.uuid)
        .await?
        .iter()
        .skip(offset)
        .take(limit)
        .map(|a| view(a, v))
        .collect();
    Ok(Json(json!({"volumeAttachments": items})))
}

async fn show(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(p): Path<ServerVolume>,
) -> ApiResult<Json<Value>> {
    let row = visible(&c, &caller, &p.id, "os_compute_api:os-volumes-attachments:show").await?;
    let a = c.get_volume_attachment(&row.uuid, &p.volume_id).await?;
    Ok(Json(json!({"volumeAttachment": view(&a, v)})))
}

/// The body of an attach, per microversion (Nova's
/// `volumes.create_volume_attachment*` schemas).
fn parse_attach(body: &Value, v: Version) -> ApiResult<AttachVolume> {
    let a = member(body, "volumeAttachment")?;
    let mut allowed = vec!["volumeId", "device"];
    if v.at_least(49) {
        allowed.push("tag");
    }
    if v.at_least(79) {
        allowed.push("delete_on_termination");
    }
    only(a, "volumeAttachment", &allowed)?;
    let volume_id = match a.get("volumeId") {
        Some(Value::String(s)) if uuid::Uuid::parse_str(s).is_ok() => s.clone(),
        Some(other @ Value::String(s)) => {
            return Err(invalid("volumeId", other, &format!("'{s}' is not a 'uuid'")));
        }
        Some(other) => return Err(invalid("volumeId", other, &format!("{other} is not of type 'string'"))),
        None => return Err(ApiError::bad_request("'volumeId' is a required property")),
    };
    let device = match a.get("device") {
        None | Some(Value::Null) => None,
        Some(other @ Value::String(s)) => {
            if !valid_device_name(s) {
                return Err(invalid(
                    "device",
                    other,
                    &format!("'{s}' does not match '(^/dev/x{{0,1}}[a-z]{{0,1}}d{{0,1}})([a-z]+)[0-9]*$'"),
                ));
            }
            Some(s.clone())
        }
        Some(other) => {
            return Err(invalid(
                "device",
                other,
                &format!("{other} is not of type 'string', 'null'"),
            ));
        }
    };
    let tag = match a.get("tag") {
        None => None,
        Some(other @ Value::String(s)) => {
            if s.chars().count() > 60 {
                return Err(invalid("tag", other, &format!("'{s}' is too long")));
            }
            if s.contains(',') || s.contains('/') {
                return Err(invalid("tag", other, &format!("'{s}' does not match '^[^,/]*$'")));
            }
            Some(s.clone())
        }
        Some(other) => return Err(invalid("tag", other, &format!("{other} is not of type 'string'"))),
    };
    let delete_on_termination = match a.get("delete_on_termination") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(invalid(
                "delete_on_termination",
                other,
                &format!("{other} is not of type 'boolean'"),
            ));
        }
    };
    Ok(AttachVolume {
        volume_id,
        device,
        tag,
        delete_on_termination,
    })
}

async fn create(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(super::IdPath { id }): Path<super::IdPath>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    let row = visible(&c, &caller, &id, "os_compute_api:os-volumes-attachments:create").await?;
    let req = parse_attach(&body, v)?;
    let a = c.attach_volume(&caller, &row, req).await?;
    let mut o = json!({"id": a.volume_id, "serverId": a.server_id, "volumeId": a.volume_id, "device": a.device});
    if v.at_least(70) {
        o["tag"] = json!(a.tag);
    }
    if v.at_least(79) {
        o["delete_on_termination"] = json!(a.delete_on_termination);
    }
    Ok(Json(json!({"volumeAttachment": o})))
}

async fn update(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(p): Path<ServerVolume>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Response> {
    let a = member(&body, "volumeAttachment")?;
    let mut allowed = vec!["volumeId"];
    if v.at_least(85) {
        allowed.extend(["device", "tag", "delete_on_termination", "serverId", "id"]);
    }
    only(a, "volumeAttachment", &allowed)?;
    let new_volume_id = match a.get("volumeId") {
        Some(Value::String(s)) if uuid::Uuid::parse_str(s).is_ok() => s.clone(),
        Some(other @ Value::String(s)) => {
            return Err(invalid("volumeId", other, &format!("'{s}' is not a 'uuid'")));
        }
        Some(other) => return Err(invalid("volumeId", other, &format!("{other} is not of type 'string'"))),
        None => return Err(ApiError::bad_request("'volumeId' is a required property")),
    };
    let delete_on_termination = match a.get("delete_on_termination") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(invalid(
                "delete_on_termination",
                other,
                &format!("{other} is not of type 'boolean'"),
            ));
        }
    };
    let rule = if new_volume_id == p.volume_id {
        "os_compute_api:os-volumes-attachments:update"
    } else {
        "os_compute_api:os-volumes-attachments:swap"
    };
    let row = visible(&c, &caller, &p.id, rule).await?;
    if new_volume_id == p.volume_id {
        // Nova 2.85: the other fields may only repeat what the attachment has.
        let current = c.get_volume_attachment(&row.uuid, &p.volume_id).await?;
        for (key, now) in [
            ("device", json!(current.device)),
            ("tag", json!(current.tag)),
            ("serverId", json!(current.server_id)),
            ("id", json!(current.volume_id)),
        ] {
            if let Some(given) = a.get(key)
                && *given != now
            {
                return Err(ApiError::bad_request(format!(
                    "The {key} of a volume attachment cannot be changed."
                )));
            }
        }
    }
    c.update_volume_attachment(&caller, &row, &p.volume_id, &new_volume_id, delete_on_termination)
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn delete(State(c): State<Compute>, Who(caller): Who, Path(p): Path<ServerVolume>) -> ApiResult<Response> {
    let row = visible(&c, &caller, &p.id, "os_compute_api:os-volumes-attachments:delete").await?;
    c.detach_volume(&caller, &row, &p.volume_id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
