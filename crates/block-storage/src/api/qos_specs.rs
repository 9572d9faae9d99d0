//! `/v3/{project_id}/qos-specs`: QoS specs and their associations with
//! volume types (admin only by default, as Cinder's `qos_specs_manage`
//! rules). Association changes are `GET`s with `?vol_type_id=`, as in
//! Cinder's API.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use ::api::{ApiError, Auth, AuthContext, ValidJson};

use super::{ApiResult, QueryPairs, links, query, sort_and_page, string_map, truthy};
use crate::BlockStorage;
use crate::db::qos_specs::QosRow;

const SORT_KEYS: &[&str] = &["id", "name", "consumer", "created_at"];

fn render(q: &QosRow) -> Value {
    json!({"id": q.id, "name": q.name, "consumer": q.consumer, "specs": q.specs})
}

/// The caller (whose project must be the URL's) allowed `rule`.
fn admit(bs: &BlockStorage, ctx: &AuthContext, project: &str, rule: &str) -> ApiResult<()> {
    bs.caller(ctx, project)?;
    bs.authorize(ctx, &format!("volume_extension:qos_specs_manage:{rule}"), project)
}

/// The `qos_specs` object of a create or update body.
fn specs_body(body: &Value) -> ApiResult<&serde_json::Map<String, Value>> {
    body.get("qos_specs")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request("Missing required element 'qos_specs' in request body."))
}

/// `consumer` out of a body's keys, the rest as string specs.
fn split_consumer(
    obj: &serde_json::Map<String, Value>,
) -> ApiResult<(Option<String>, std::collections::BTreeMap<String, String>)> {
    let mut specs = string_map(&Value::Object(obj.clone()), "qos_specs")?;
    specs.remove("name");
    Ok((specs.remove("consumer"), specs))
}

pub async fn list(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    admit(&bs, &ctx, &project, "get_all")?;
    let items: Vec<Value> = bs
        .list_qos()
        .await?
        .iter()
        .map(|s| {
            let mut item = render(s);
            item["created_at"] = json!(s.created_at);
            item
        })
        .collect();
    let base = format!("{}/v3/{project}/qos-specs", bs.base_url());
    let (items, page_links) = sort_and_page(items, &q, SORT_KEYS, bs.config.max_limit, &base)?;
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut i| {
            if let Some(o) = i.as_object_mut() {
                o.remove("created_at");
            }
            i
        })
        .collect();
    let mut body = json!({"qos_specs": items});
    if !page_links.is_empty() {
        body["qos_specs_links"] = json!(page_links);
    }
    Ok(Json(body).into_response())
}

pub async fn create(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    admit(&bs, &ctx, &project, "create")?;
    let obj = specs_body(&body)?;
    let name = match obj.get("name") {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request("Please specify a name for QoS specs."));
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(ApiError::bad_request("Invalid input for field/attribute name.")),
    };
    let (consumer, specs) = split_consumer(obj)?;
    let row = bs.create_qos(&name, consumer, specs).await?;
    Ok(Json(json!({
        "qos_specs": render(&row),
        "links": links(&bs, &project, "qos-specs", &row.id),
    }))
    .into_response())
}

pub async fn show(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    admit(&bs, &ctx, &project, "get")?;
    let row = bs.get_qos(&id).await?;
    Ok(Json(json!({
        "qos_specs": render(&row),
        "links": links(&bs, &project, "qos-specs", &row.id),
    }))
    .into_response())
}

/// Sets keys (or the consumer); answers the keys as sent, as Cinder.
pub async fn update(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    admit(&bs, &ctx, &project, "update")?;
    let obj = specs_body(&body)?;
    if obj.is_empty() {
        return Err(ApiError::bad_request(
            "Invalid input received: qos_specs must have at least one key.",
        ));
    }
    let (consumer, specs) = split_consumer(obj)?;
    let mut echo = specs.clone();
    if let Some(c) = &consumer {
        echo.insert("consumer".into(), c.clone());
    }
    bs.update_qos(&id, consumer, specs).await?;
    Ok(Json(json!({"qos_specs": echo})).into_response())
}

pub async fn delete(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    admit(&bs, &ctx, &project, "delete")?;
    let force = match query(&q, "force") {
        Some(v) => truthy(v)?,
        None => false,
    };
    bs.delete_qos(&id, force).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn delete_keys(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    admit(&bs, &ctx, &project, "delete")?;
    let keys: Option<Vec<String>> = body
        .get("keys")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(|k| k.as_str().map(str::to_owned)).collect());
    let Some(keys) = keys.filter(|k| !k.is_empty()) else {
        return Err(ApiError::bad_request(
            "Invalid input received: 'keys' must be a list of at least one key.",
        ));
    };
    bs.delete_qos_keys(&id, &keys).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn associations(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    admit(&bs, &ctx, &project, "get")?;
    let items: Vec<Value> = bs
        .qos_associations(&id)
        .await?
        .iter()
        .map(|t| json!({"association_type": "volume_type", "name": t.name, "id": t.id}))
        .collect();
    Ok(Json(json!({"qos_associations": items})).into_response())
}

/// `vol_type_id` of an association request.
fn type_param(q: &[(String, String)]) -> ApiResult<&str> {
    query(q, "vol_type_id")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("Volume Type id must not be None."))
}

pub async fn associate(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    admit(&bs, &ctx, &project, "update")?;
    bs.associate_qos(&id, type_param(&q)?).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn disassociate(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    admit(&bs, &ctx, &project, "update")?;
    bs.disassociate_qos(&id, type_param(&q)?).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn disassociate_all(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    admit(&bs, &ctx, &project, "update")?;
    bs.disassociate_all_qos(&id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
