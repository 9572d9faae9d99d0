//! `/v3/registered_limits`, `/v3/limits`, `/v3/limits/model`: unified
//! limits (see [`crate::limits`]). Creation takes and returns a list.

use api::{ApiError, Auth, AuthContext, ValidJson};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::{QueryPairs, authorize, collection, entity, new_id, opt_str, query_get, self_link};
use crate::db::limits::{LimitRow, RegisteredLimitRow};
use crate::limits::{LimitViewer, MODEL_DESCRIPTION, MODEL_NAME};
use crate::{Identity, IdentityError};

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route(
            "/v3/registered_limits",
            get(list_registered_limits).post(create_registered_limits),
        )
        .route(
            "/v3/registered_limits/{id}",
            get(get_registered_limit)
                .patch(update_registered_limit)
                .delete(delete_registered_limit),
        )
        .route("/v3/limits", get(list_limits).post(create_limits))
        .route("/v3/limits/model", get(get_limit_model))
        .route(
            "/v3/limits/{id}",
            get(get_limit).patch(update_limit).delete(delete_limit),
        )
}

/// Refuses attributes outside `known`, as Keystone's schemas with
/// `additionalProperties: false` do.
pub(super) fn reject_unknown(obj: &Map<String, Value>, entity: &str, known: &[&str]) -> Result<(), IdentityError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(IdentityError::bad(format!(
            "Invalid input for field '{entity}': Additional properties are not allowed ('{k}' was unexpected)."
        ))),
        None => Ok(()),
    }
}

/// A string that may be absent but not null.
pub(super) fn opt_string(obj: &Map<String, Value>, entity: &str, key: &str) -> Result<Option<String>, IdentityError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(IdentityError::bad(format!(
            "Invalid input for field '{entity}.{key}': {other} is not of type 'string'."
        ))),
    }
}

fn opt_int(obj: &Map<String, Value>, entity: &str, key: &str) -> Result<Option<i64>, IdentityError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
        Some(other) => Err(IdentityError::bad(format!(
            "Invalid input for field '{entity}.{key}': {other} is not of type 'integer'."
        ))),
    }
}

fn required<T>(v: Option<T>, entity: &str, key: &str) -> Result<T, IdentityError> {
    v.ok_or_else(|| {
        IdentityError::bad(format!(
            "Invalid input for field '{entity}': '{key}' is a required property."
        ))
    })
}

/// The array under `key` of a creation body, with at least one object.
fn objects(body: Value, key: &str) -> Result<Vec<Map<String, Value>>, IdentityError> {
    let Value::Object(mut outer) = body else {
        return Err(IdentityError::bad(
            "Invalid input: the request body must be a JSON object.",
        ));
    };
    let Some(list) = outer.remove(key) else {
        return Err(IdentityError::bad(format!(
            "Invalid input: '{key}' is a required property."
        )));
    };
    reject_unknown(&outer, "body", &[])?;
    let Value::Array(items) = list else {
        return Err(IdentityError::bad(format!(
            "Invalid input for field '{key}': must be an array."
        )));
    };
    if items.is_empty() {
        return Err(IdentityError::bad(format!(
            "Invalid input for field '{key}': [] is too short."
        )));
    }
    items
        .into_iter()
        .map(|v| match v {
            Value::Object(o) => Ok(o),
            other => Err(IdentityError::bad(format!(
                "Invalid input for field '{key}': {other} is not of type 'object'."
            ))),
        })
        .collect()
}

fn render_registered(id: &Identity, r: &RegisteredLimitRow) -> Value {
    json!({
        "id": r.id,
        "service_id": r.service_id,
        "region_id": r.region_id,
        "resource_name": r.resource_name,
        "default_limit": r.default_limit,
        "description": r.description,
        "links": self_link(id, &format!("registered_limits/{}", r.id)),
    })
}

fn render_limit(id: &Identity, l: &LimitRow) -> Value {
    json!({
        "id": l.id,
        "project_id": l.project_id,
        "domain_id": l.domain_id,
        "service_id": l.service_id,
        "region_id": l.region_id,
        "resource_name": l.resource_name,
        "resource_limit": l.resource_limit,
        "description": l.description,
        "links": self_link(id, &format!("limits/{}", l.id)),
    })
}

const REGISTERED_FIELDS: [&str; 5] = [
    "service_id",
    "region_id",
    "resource_name",
    "default_limit",
    "description",
];

/// Applies the fields present in `obj` to `r`.
fn apply_registered(r: &mut RegisteredLimitRow, obj: &Map<String, Value>) -> Result<(), IdentityError> {
    const E: &str = "registered_limit";
    reject_unknown(obj, E, &REGISTERED_FIELDS)?;
    if let Some(v) = opt_string(obj, E, "service_id")? {
        r.service_id = v;
    }
    if obj.contains_key("region_id") {
        r.region_id = opt_str(obj, E, "region_id")?;
    }
    if let Some(v) = opt_string(obj, E, "resource_name")? {
        r.resource_name = v;
    }
    if let Some(v) = opt_int(obj, E, "default_limit")? {
        r.default_limit = v;
    }
    if obj.contains_key("description") {
        r.description = opt_str(obj, E, "description")?;
    }
    Ok(())
}

fn new_registered(obj: &Map<String, Value>) -> Result<RegisteredLimitRow, IdentityError> {
    const E: &str = "registered_limit";
    let mut r = RegisteredLimitRow {
        id: new_id(),
        service_id: required(opt_string(obj, E, "service_id")?, E, "service_id")?,
        region_id: None,
        resource_name: required(opt_string(obj, E, "resource_name")?, E, "resource_name")?,
        default_limit: required(opt_int(obj, E, "default_limit")?, E, "default_limit")?,
        description: None,
    };
    apply_registered(&mut r, obj)?;
    Ok(r)
}

fn new_limit(obj: &Map<String, Value>) -> Result<LimitRow, IdentityError> {
    const E: &str = "limit";
    reject_unknown(
        obj,
        E,
        &[
            "project_id",
            "domain_id",
            "service_id",
            "region_id",
            "resource_name",
            "resource_limit",
            "description",
        ],
    )?;
    if obj.contains_key("project_id") == obj.contains_key("domain_id") {
        return Err(IdentityError::bad(
            "Invalid input for field 'limit': exactly one of 'project_id' and 'domain_id' is required.",
        ));
    }
    Ok(LimitRow {
        id: new_id(),
        project_id: opt_str(obj, E, "project_id")?,
        domain_id: opt_str(obj, E, "domain_id")?,
        service_id: required(opt_string(obj, E, "service_id")?, E, "service_id")?,
        region_id: opt_str(obj, E, "region_id")?,
        resource_name: required(opt_string(obj, E, "resource_name")?, E, "resource_name")?,
        resource_limit: required(opt_int(obj, E, "resource_limit")?, E, "resource_limit")?,
        description: opt_str(obj, E, "description")?,
    })
}

/// Keystone's `list_limits` filters by the caller's scope: system scope and
/// the `admin` and `service` roles see every limit.
fn viewer(ctx: &AuthContext) -> LimitViewer {
    if ctx.is_system() || ctx.has_role("admin") || ctx.has_role("service") {
        LimitViewer::Everything
    } else if let Some(d) = &ctx.domain_id {
        LimitViewer::Domain(d.clone())
    } else if let Some(p) = &ctx.project_id {
        LimitViewer::Project(p.clone())
    } else {
        LimitViewer::Nothing
    }
}

fn matches(q: &[(String, String)], key: &str, value: Option<&str>) -> bool {
    query_get(q, key).is_none_or(|want| value == Some(want))
}

async fn list_registered_limits(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_registered_limits", json!({}))?;
    let items = id
        .list_registered_limits()
        .await?
        .iter()
        .filter(|r| {
            matches(&q, "service_id", Some(&r.service_id))
                && matches(&q, "region_id", r.region_id.as_deref())
                && matches(&q, "resource_name", Some(&r.resource_name))
        })
        .map(|r| render_registered(&id, r))
        .collect();
    Ok(axum::Json(collection(&id, "registered_limits", "registered_limits", items)).into_response())
}

async fn create_registered_limits(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:create_registered_limits", json!({}))?;
    let rows = objects(body, "registered_limits")?
        .iter()
        .map(new_registered)
        .collect::<Result<Vec<_>, _>>()?;
    let rows = id.create_registered_limits(rows).await?;
    let items: Vec<Value> = rows.iter().map(|r| render_registered(&id, r)).collect();
    Ok((StatusCode::CREATED, axum::Json(json!({"registered_limits": items}))).into_response())
}

async fn get_registered_limit(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(rid): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:get_registered_limit", json!({}))?;
    let r = id.get_registered_limit(&rid).await?;
    Ok(axum::Json(json!({"registered_limit": render_registered(&id, &r)})).into_response())
}

async fn update_registered_limit(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(rid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:update_registered_limit", json!({}))?;
    let obj = entity(body, "registered_limit")?;
    let mut r = id.get_registered_limit(&rid).await?;
    apply_registered(&mut r, &obj)?;
    let r = id.update_registered_limit(r).await?;
    Ok(axum::Json(json!({"registered_limit": render_registered(&id, &r)})).into_response())
}

async fn delete_registered_limit(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(rid): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:delete_registered_limit", json!({}))?;
    id.delete_registered_limit(&rid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_limit_model(State(id): State<Identity>, Auth(ctx): Auth) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:get_limit_model", json!({}))?;
    Ok(axum::Json(json!({"model": {"name": MODEL_NAME, "description": MODEL_DESCRIPTION}})).into_response())
}

async fn list_limits(State(id): State<Identity>, Auth(ctx): Auth, q: QueryPairs) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_limits", json!({}))?;
    let items = id
        .list_limits_for(&viewer(&ctx))
        .await?
        .iter()
        .filter(|l| {
            matches(&q, "service_id", Some(&l.service_id))
                && matches(&q, "region_id", l.region_id.as_deref())
                && matches(&q, "resource_name", Some(&l.resource_name))
                && matches(&q, "project_id", l.project_id.as_deref())
                && matches(&q, "domain_id", l.domain_id.as_deref())
        })
        .map(|l| render_limit(&id, l))
        .collect();
    Ok(axum::Json(collection(&id, "limits", "limits", items)).into_response())
}

async fn create_limits(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:create_limits", json!({}))?;
    let rows = objects(body, "limits")?
        .iter()
        .map(new_limit)
        .collect::<Result<Vec<_>, _>>()?;
    let rows = id.create_limits(rows).await?;
    let items: Vec<Value> = rows.iter().map(|l| render_limit(&id, l)).collect();
    Ok((StatusCode::CREATED, axum::Json(json!({"limits": items}))).into_response())
}

/// Keystone's `_build_limit_enforcement_target`: the limit, with its project
/// or domain.
async fn limit_target(id: &Identity, l: &LimitRow) -> Result<Value, IdentityError> {
    let mut limit = json!({
        "id": l.id,
        "project_id": l.project_id,
        "domain_id": l.domain_id,
    });
    if let Some(p) = &l.project_id {
        match id.get_project(p).await {
            Ok(p) => limit["project"] = json!({"id": p.id, "domain_id": p.domain_id}),
            Err(IdentityError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    } else if let Some(d) = &l.domain_id {
        limit["domain"] = json!({"id": d});
    }
    Ok(json!({"target": {"limit": limit}}))
}

async fn get_limit(State(id): State<Identity>, Auth(ctx): Auth, Path(lid): Path<String>) -> Result<Response, ApiError> {
    // As Keystone, a missing limit is reported after enforcement, so that
    // only callers who may read limits learn whether it exists.
    let l = match id.get_limit(&lid).await {
        Ok(l) => l,
        Err(e @ IdentityError::NotFound { .. }) => {
            authorize(&id, &ctx, "identity:get_limit", json!({}))?;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    authorize(&id, &ctx, "identity:get_limit", limit_target(&id, &l).await?)?;
    Ok(axum::Json(json!({"limit": render_limit(&id, &l)})).into_response())
}

async fn update_limit(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(lid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:update_limit", json!({}))?;
    let obj = entity(body, "limit")?;
    reject_unknown(&obj, "limit", &["resource_limit", "description"])?;
    let mut l = id.get_limit(&lid).await?;
    if let Some(v) = opt_int(&obj, "limit", "resource_limit")? {
        l.resource_limit = v;
    }
    if obj.contains_key("description") {
        l.description = opt_str(&obj, "limit", "description")?;
    }
    let l = id.update_limit(l).await?;
    Ok(axum::Json(json!({"limit": render_limit(&id, &l)})).into_response())
}

async fn delete_limit(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(lid): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:delete_limit", json!({}))?;
    id.delete_limit(&lid).await?;
    Ok(StatusCode::NO_CONTENT)
}
