//! `/v3/{project_id}/types`: volume types, their extra specs, and
//! `os-volume-type-access` for private types.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use ::api::{ApiError, Auth, AuthContext, ValidJson};

use super::{ApiResult, QueryPairs, query, string_map, truthy};
use crate::BlockStorage;
use crate::db::types::TypeRow;
use crate::types::TypeUpdate;

fn render(bs: &BlockStorage, ctx: &AuthContext, t: &TypeRow, project: &str) -> Value {
    let mut out = json!({
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": t.is_public,
        "os-volume-type-access:is_public": t.is_public,
        "qos_specs_id": t.qos_specs_id,
    });
    if bs.allowed(ctx, "volume_extension:access_types_extra_specs", project) {
        out["extra_specs"] = json!(t.extra_specs);
    }
    out
}

pub async fn list(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:type_get_all", &project)?;
    // Cinder: public (and the caller's private) types unless an admin asks
    // `is_public=false` (private only) or `is_public=none` (all).
    let filter = match query(&q, "is_public") {
        Some(v) if caller.is_admin && v.eq_ignore_ascii_case("none") => None,
        Some(v) if caller.is_admin && !truthy(v)? => Some(false),
        _ => Some(true),
    };
    let mut types = bs.list_types(&caller, None).await?;
    match filter {
        None => {}
        Some(false) => types.retain(|t| !t.is_public),
        Some(true) => {
            let own = bs
                .list_types(
                    &crate::Caller {
                        is_admin: false,
                        ..caller.clone()
                    },
                    None,
                )
                .await?;
            types.retain(|t| own.iter().any(|o| o.id == t.id));
        }
    }
    let items: Vec<Value> = types.iter().map(|t| render(&bs, &ctx, t, &project)).collect();
    Ok(Json(json!({"volume_types": items})).into_response())
}

pub async fn create(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:type_create", &project)?;
    let t = &body["volume_type"];
    let Some(name) = t["name"].as_str() else {
        return Err(ApiError::bad_request(
            "Invalid input received: 'name' must be specified.",
        ));
    };
    let description = match &t["description"] {
        Value::Null => None,
        Value::String(s) if s.len() <= 255 => Some(s.clone()),
        _ => return Err(ApiError::bad_request("Invalid input for field/attribute description.")),
    };
    let is_public = match &t["os-volume-type-access:is_public"] {
        Value::Null => match &t["is_public"] {
            Value::Null => true,
            v => bool_value(v, "is_public")?,
        },
        v => bool_value(v, "os-volume-type-access:is_public")?,
    };
    let specs = match &t["extra_specs"] {
        Value::Null => Default::default(),
        v => string_map(v, "extra_specs")?,
    };
    let row = bs.create_type(name, description, is_public, specs).await?;
    let mut body = render(&bs, &ctx, &row, &project);
    // Cinder's create answer has no `qos_specs_id`.
    if let Some(o) = body.as_object_mut() {
        o.remove("qos_specs_id");
    }
    Ok(Json(json!({"volume_type": body})).into_response())
}

fn bool_value(v: &Value, key: &str) -> ApiResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => truthy(s),
        _ => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute {key}."
        ))),
    }
}

pub async fn show(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:type_get", &project)?;
    let t = bs.get_type(&caller, &id).await?;
    Ok(Json(json!({"volume_type": render(&bs, &ctx, &t, &project)})).into_response())
}

pub async fn show_default(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:type_get", &project)?;
    let t = bs.default_type().await?;
    Ok(Json(json!({"volume_type": render(&bs, &ctx, &t, &project)})).into_response())
}

pub async fn update(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:type_update", &project)?;
    let Some(t) = body["volume_type"].as_object() else {
        return Err(ApiError::bad_request(
            "Missing required element 'volume_type' in request body.",
        ));
    };
    let mut u = TypeUpdate::default();
    if let Some(n) = t.get("name") {
        u.name = Some(
            n.as_str()
                .ok_or_else(|| ApiError::bad_request("Invalid input for field/attribute name."))?
                .to_owned(),
        );
    }
    if let Some(d) = t.get("description") {
        u.description = Some(d.as_str().map(str::to_owned));
    }
    if let Some(p) = t.get("is_public") {
        u.is_public = Some(bool_value(p, "is_public")?);
    }
    if u.name.is_none() && u.description.is_none() && u.is_public.is_none() {
        return Err(ApiError::bad_request(
            "Invalid input received: Specify volume type name, description, is_public or a combination thereof.",
        ));
    }
    let row = bs.update_type(&caller, &id, u).await?;
    let mut body = render(&bs, &ctx, &row, &project);
    // Cinder's update answer has neither of these.
    if let Some(o) = body.as_object_mut() {
        o.remove("qos_specs_id");
        o.remove("os-volume-type-access:is_public");
    }
    Ok(Json(json!({"volume_type": body})).into_response())
}

pub async fn delete(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:type_delete", &project)?;
    bs.delete_type(&caller, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn extra_specs(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:types_extra_specs:index", &project)?;
    let t = bs.get_type(&caller, &id).await?;
    Ok(Json(json!({"extra_specs": t.extra_specs})).into_response())
}

pub async fn extra_specs_set(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:types_extra_specs:create", &project)?;
    if !body["extra_specs"].is_object() {
        return Err(ApiError::bad_request(
            "Malformed request body: 'extra_specs' is required.",
        ));
    }
    let specs = string_map(&body["extra_specs"], "extra_specs")?;
    bs.set_extra_specs(&caller, &id, specs.clone()).await?;
    Ok(Json(json!({"extra_specs": specs})).into_response())
}

pub async fn extra_spec(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:types_extra_specs:show", &project)?;
    let t = bs.get_type(&caller, &id).await?;
    match t.extra_specs.get(&key) {
        Some(v) => Ok(Json(json!({key: v})).into_response()),
        None => Err(ApiError::not_found(format!(
            "Volume Type {} has no extra specs with key {key}.",
            t.id
        ))),
    }
}

pub async fn extra_spec_set(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:types_extra_specs:update", &project)?;
    let specs = string_map(&body, "extra spec")?;
    if specs.len() > 1 {
        return Err(ApiError::bad_request("Request body contains too many items."));
    }
    if !specs.contains_key(&key) {
        return Err(ApiError::bad_request("Request body and URI mismatch"));
    }
    bs.set_extra_specs(&caller, &id, specs.clone()).await?;
    Ok(Json(json!(specs)).into_response())
}

pub async fn extra_spec_delete(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id, key)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:types_extra_specs:delete", &project)?;
    bs.delete_extra_spec(&caller, &id, &key).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn access_list(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume_extension:volume_type_access:get_all_for_type", &project)?;
    let t = bs.get_type(&caller, &id).await?;
    let projects = bs.type_access(&caller, &t.id).await?;
    let items: Vec<Value> = projects
        .iter()
        .map(|p| json!({"volume_type_id": t.id, "project_id": p}))
        .collect();
    Ok(Json(json!({"volume_type_access": items})).into_response())
}

/// `addProjectAccess` / `removeProjectAccess`.
pub async fn action(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    let (add, args) = match (body.get("addProjectAccess"), body.get("removeProjectAccess")) {
        (Some(a), None) => (true, a),
        (None, Some(r)) => (false, r),
        _ => return Err(ApiError::bad_request("Invalid request body: one action is expected.")),
    };
    let rule = if add {
        "volume_extension:volume_type_access:addProjectAccess"
    } else {
        "volume_extension:volume_type_access:removeProjectAccess"
    };
    bs.authorize(&ctx, rule, &project)?;
    let Some(target) = args["project"].as_str() else {
        return Err(ApiError::bad_request(
            "Missing required element 'project' in request body.",
        ));
    };
    if add {
        bs.add_type_access(&caller, &id, target).await?;
    } else {
        bs.remove_type_access(&caller, &id, target).await?;
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
