//! `/v3/regions`, `/v3/services`, `/v3/endpoints`.

use api::{ApiError, Auth, ValidJson};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::{
    QueryPairs, authorize, collection, entity, extras, new_id, opt_bool, opt_str, query_get, self_link, with_extra,
};
use crate::db::catalog::{EndpointRow, RegionRow, ServiceRow};
use crate::{Identity, IdentityError};

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/regions", get(list_regions).post(create_region))
        .route(
            "/v3/regions/{id}",
            get(get_region)
                .patch(update_region)
                .put(put_region)
                .delete(delete_region),
        )
        .route("/v3/services", get(list_services).post(create_service))
        .route(
            "/v3/services/{id}",
            get(get_service).patch(update_service).delete(delete_service),
        )
        .route("/v3/endpoints", get(list_endpoints).post(create_endpoint))
        .route(
            "/v3/endpoints/{id}",
            get(get_endpoint).patch(update_endpoint).delete(delete_endpoint),
        )
}

fn render_region(id: &Identity, r: &RegionRow) -> Value {
    with_extra(
        json!({
            "id": r.id,
            "description": r.description.clone().unwrap_or_default(),
            "parent_region_id": r.parent_region_id,
            "links": self_link(id, &format!("regions/{}", r.id)),
        }),
        &r.extra,
    )
}

fn render_service(id: &Identity, s: &ServiceRow) -> Value {
    let mut v = json!({
        "id": s.id,
        "type": s.service_type,
        "enabled": s.enabled,
        "links": self_link(id, &format!("services/{}", s.id)),
    });
    if let Some(n) = &s.name {
        v["name"] = json!(n);
    }
    if let Some(d) = &s.description {
        v["description"] = json!(d);
    }
    with_extra(v, &s.extra)
}

pub(crate) fn render_endpoint(id: &Identity, e: &EndpointRow) -> Value {
    with_extra(
        json!({
            "id": e.id,
            "interface": e.interface,
            "service_id": e.service_id,
            "url": e.url,
            "region": e.region_id,
            "region_id": e.region_id,
            "enabled": e.enabled,
            "links": self_link(id, &format!("endpoints/{}", e.id)),
        }),
        &e.extra,
    )
}

fn apply_region(r: &mut RegionRow, obj: &Map<String, Value>) -> Result<(), IdentityError> {
    if obj.contains_key("description") {
        r.description = opt_str(obj, "region", "description")?;
    }
    if obj.contains_key("parent_region_id") {
        r.parent_region_id = opt_str(obj, "region", "parent_region_id")?;
    }
    for (k, v) in extras(obj.clone(), &["id", "description", "parent_region_id"]) {
        r.extra.insert(k, v);
    }
    Ok(())
}

async fn list_regions(State(id): State<Identity>, Auth(ctx): Auth, q: QueryPairs) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_regions", json!({}))?;
    let parent = query_get(&q, "parent_region_id");
    let items = id
        .list_regions()
        .await?
        .into_iter()
        .filter(|r| parent.is_none_or(|p| r.parent_region_id.as_deref() == Some(p)))
        .map(|r| render_region(&id, &r))
        .collect();
    Ok(axum::Json(collection(&id, "regions", "regions", items)).into_response())
}

async fn create_with_id(id: &Identity, rid: String, obj: Map<String, Value>) -> Result<Response, ApiError> {
    let mut r = RegionRow {
        id: rid,
        description: None,
        parent_region_id: None,
        extra: Map::new(),
    };
    apply_region(&mut r, &obj)?;
    let r = id.create_region(r).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"region": render_region(id, &r)})),
    )
        .into_response())
}

async fn create_region(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:create_region", json!({}))?;
    let obj = entity(body, "region")?;
    let rid = opt_str(&obj, "region", "id")?.unwrap_or_else(new_id);
    create_with_id(&id, rid, obj).await
}

async fn put_region(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(rid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:create_region", json!({}))?;
    let obj = entity(body, "region")?;
    if obj.get("id").and_then(Value::as_str).is_some_and(|i| i != rid) {
        return Err(ApiError::bad_request("The region id in the body must match the URL."));
    }
    create_with_id(&id, rid, obj).await
}

async fn get_region(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(rid): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:get_region", json!({}))?;
    let r = id.get_region(&rid).await?;
    Ok(axum::Json(json!({"region": render_region(&id, &r)})).into_response())
}

async fn update_region(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(rid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:update_region", json!({}))?;
    let mut r = id.get_region(&rid).await?;
    apply_region(&mut r, &entity(body, "region")?)?;
    let r = id.update_region(r).await?;
    Ok(axum::Json(json!({"region": render_region(&id, &r)})).into_response())
}

async fn delete_region(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(rid): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:delete_region", json!({}))?;
    id.delete_region(&rid).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn apply_service(s: &mut ServiceRow, obj: &Map<String, Value>) -> Result<(), IdentityError> {
    if let Some(t) = opt_str(obj, "service", "type")? {
        s.service_type = t;
    }
    if obj.contains_key("name") {
        s.name = opt_str(obj, "service", "name")?;
    }
    if obj.contains_key("description") {
        s.description = opt_str(obj, "service", "description")?;
    }
    if let Some(e) = opt_bool(obj, "service", "enabled")? {
        s.enabled = e;
    }
    for (k, v) in extras(obj.clone(), &["id", "type", "name", "description", "enabled"]) {
        s.extra.insert(k, v);
    }
    Ok(())
}

async fn list_services(State(id): State<Identity>, Auth(ctx): Auth, q: QueryPairs) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_services", json!({}))?;
    let stype = query_get(&q, "type");
    let name = query_get(&q, "name");
    let items = id
        .list_services()
        .await?
        .into_iter()
        .filter(|s| stype.is_none_or(|t| s.service_type == t) && name.is_none_or(|n| s.name.as_deref() == Some(n)))
        .map(|s| render_service(&id, &s))
        .collect();
    Ok(axum::Json(collection(&id, "services", "services", items)).into_response())
}

async fn create_service(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:create_service", json!({}))?;
    let obj = entity(body, "service")?;
    if opt_str(&obj, "service", "type")?.is_none() {
        return Err(ApiError::bad_request(
            "Invalid input for field 'service': 'type' is a required property.",
        ));
    }
    let mut s = ServiceRow {
        id: new_id(),
        service_type: String::new(),
        name: None,
        description: None,
        enabled: true,
        extra: Map::new(),
    };
    apply_service(&mut s, &obj)?;
    let s = id.create_service(s).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"service": render_service(&id, &s)})),
    )
        .into_response())
}

async fn get_service(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(sid): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:get_service", json!({}))?;
    let s = id.get_service(&sid).await?;
    Ok(axum::Json(json!({"service": render_service(&id, &s)})).into_response())
}

async fn update_service(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(sid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:update_service", json!({}))?;
    let mut s = id.get_service(&sid).await?;
    apply_service(&mut s, &entity(body, "service")?)?;
    let s = id.update_service(s).await?;
    Ok(axum::Json(json!({"service": render_service(&id, &s)})).into_response())
}

async fn delete_service(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(sid): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:delete_service", json!({}))?;
    id.delete_service(&sid).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn apply_endpoint(e: &mut EndpointRow, obj: &Map<String, Value>) -> Result<(), IdentityError> {
    if let Some(v) = opt_str(obj, "endpoint", "interface")? {
        e.interface = v;
    }
    if let Some(v) = opt_str(obj, "endpoint", "service_id")? {
        e.service_id = v;
    }
    if let Some(v) = opt_str(obj, "endpoint", "url")? {
        e.url = v;
    }
    if obj.contains_key("region_id") {
        e.region_id = opt_str(obj, "endpoint", "region_id")?;
    } else if obj.contains_key("region") {
        e.region_id = opt_str(obj, "endpoint", "region")?;
    }
    if let Some(v) = opt_bool(obj, "endpoint", "enabled")? {
        e.enabled = v;
    }
    for (k, v) in extras(
        obj.clone(),
        &["id", "interface", "service_id", "url", "region", "region_id", "enabled"],
    ) {
        e.extra.insert(k, v);
    }
    Ok(())
}

async fn list_endpoints(State(id): State<Identity>, Auth(ctx): Auth, q: QueryPairs) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_endpoints", json!({}))?;
    let interface = query_get(&q, "interface");
    let service = query_get(&q, "service_id");
    let region = query_get(&q, "region_id");
    let items = id
        .list_endpoints()
        .await?
        .into_iter()
        .filter(|e| {
            interface.is_none_or(|i| e.interface == i)
                && service.is_none_or(|s| e.service_id == s)
                && region.is_none_or(|r| e.region_id.as_deref() == Some(r))
        })
        .map(|e| render_endpoint(&id, &e))
        .collect();
    Ok(axum::Json(collection(&id, "endpoints", "endpoints", items)).into_response())
}

async fn create_endpoint(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:create_endpoint", json!({}))?;
    let obj = entity(body, "endpoint")?;
    for required in ["interface", "service_id", "url"] {
        if opt_str(&obj, "endpoint", required)?.is_none() {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field 'endpoint': '{required}' is a required property."
            )));
        }
    }
    let mut e = EndpointRow {
        id: new_id(),
        interface: String::new(),
        service_id: String::new(),
        url: String::new(),
        region_id: None,
        enabled: true,
        extra: Map::new(),
    };
    apply_endpoint(&mut e, &obj)?;
    let e = id.create_endpoint(e).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"endpoint": render_endpoint(&id, &e)})),
    )
        .into_response())
}

async fn get_endpoint(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(eid): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:get_endpoint", json!({}))?;
    let e = id.get_endpoint(&eid).await?;
    Ok(axum::Json(json!({"endpoint": render_endpoint(&id, &e)})).into_response())
}

async fn update_endpoint(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(eid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:update_endpoint", json!({}))?;
    let mut e = id.get_endpoint(&eid).await?;
    apply_endpoint(&mut e, &entity(body, "endpoint")?)?;
    let e = id.update_endpoint(e).await?;
    Ok(axum::Json(json!({"endpoint": render_endpoint(&id, &e)})).into_response())
}

async fn delete_endpoint(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(eid): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:delete_endpoint", json!({}))?;
    id.delete_endpoint(&eid).await?;
    Ok(StatusCode::NO_CONTENT)
}
