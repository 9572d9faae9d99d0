//! `/v3/OS-EP-FILTER/...`: endpoint groups and project associations (see
//! [`crate::endpoint_filter`]; the catalog is not filtered by them).

use api::{ApiError, Auth, ValidJson};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::catalog::render_endpoint;
use super::limits::{opt_string, reject_unknown};
use super::projects::render_project;
use super::{QueryPairs, authorize, collection, entity, new_id, opt_str, query_get};
use crate::db::endpoint_filter::EndpointGroupRow;
use crate::{Identity, IdentityError};

const PREFIX: &str = "OS-EP-FILTER";

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route(
            "/v3/OS-EP-FILTER/endpoint_groups",
            get(list_endpoint_groups).post(create_endpoint_group),
        )
        .route(
            "/v3/OS-EP-FILTER/endpoint_groups/{id}",
            get(get_endpoint_group)
                .patch(update_endpoint_group)
                .delete(delete_endpoint_group),
        )
        .route(
            "/v3/OS-EP-FILTER/endpoint_groups/{id}/endpoints",
            get(list_endpoints_in_group),
        )
        .route(
            "/v3/OS-EP-FILTER/endpoint_groups/{id}/projects",
            get(list_projects_of_group),
        )
        .route(
            "/v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project_id}",
            get(get_group_in_project)
                .put(add_group_to_project)
                .delete(remove_group_from_project),
        )
        .route(
            "/v3/OS-EP-FILTER/endpoints/{id}/projects",
            get(list_projects_of_endpoint),
        )
        .route(
            "/v3/OS-EP-FILTER/projects/{project_id}/endpoints",
            get(list_endpoints_of_project),
        )
        .route(
            "/v3/OS-EP-FILTER/projects/{project_id}/endpoints/{id}",
            get(check_endpoint_in_project)
                .put(add_endpoint_to_project)
                .delete(remove_endpoint_from_project),
        )
        .route(
            "/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups",
            get(list_groups_of_project),
        )
}

fn render_group(id: &Identity, g: &EndpointGroupRow) -> Value {
    json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "filters": g.filters,
        "links": {"self": format!("{}/v3/{PREFIX}/endpoint_groups/{}", id.base_url(), g.id)},
    })
}

/// Applies an `endpoint_group` body (the schema allows these three keys).
fn apply_group(g: &mut EndpointGroupRow, obj: &Map<String, Value>) -> Result<(), IdentityError> {
    const E: &str = "endpoint_group";
    reject_unknown(obj, E, &["name", "description", "filters"])?;
    if let Some(v) = opt_string(obj, E, "name")? {
        g.name = v;
    }
    if obj.contains_key("description") {
        g.description = opt_str(obj, E, "description")?;
    }
    match obj.get("filters") {
        None => {}
        Some(Value::Object(f)) => g.filters = f.clone(),
        Some(other) => {
            return Err(IdentityError::bad(format!(
                "Invalid input for field '{E}.filters': {other} is not of type 'object'."
            )));
        }
    }
    Ok(())
}

async fn list_endpoint_groups(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_endpoint_groups", json!({}))?;
    let name = query_get(&q, "name");
    let items = id
        .list_endpoint_groups()
        .await?
        .iter()
        .filter(|g| name.is_none_or(|n| g.name == n))
        .map(|g| render_group(&id, g))
        .collect();
    Ok(axum::Json(collection(
        &id,
        "endpoint_groups",
        "OS-EP-FILTER/endpoint_groups",
        items,
    ))
    .into_response())
}

async fn create_endpoint_group(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:create_endpoint_group", json!({}))?;
    let obj = entity(body, "endpoint_group")?;
    if opt_string(&obj, "endpoint_group", "name")?.is_none() {
        return Err(ApiError::bad_request(
            "Invalid input for field 'endpoint_group': 'name' is a required property.",
        ));
    }
    let mut g = EndpointGroupRow {
        id: new_id(),
        name: String::new(),
        description: None,
        filters: Map::new(),
    };
    apply_group(&mut g, &obj)?;
    let g = id.create_endpoint_group(g).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"endpoint_group": render_group(&id, &g)})),
    )
        .into_response())
}

/// GET and HEAD (200, no body).
async fn get_endpoint_group(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(gid): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:get_endpoint_group", json!({}))?;
    let g = id.get_endpoint_group(&gid).await?;
    Ok(axum::Json(json!({"endpoint_group": render_group(&id, &g)})).into_response())
}

async fn update_endpoint_group(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(gid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:update_endpoint_group", json!({}))?;
    let obj = entity(body, "endpoint_group")?;
    if obj.is_empty() {
        return Err(ApiError::bad_request(
            "Invalid input for field 'endpoint_group': {} does not have enough properties.",
        ));
    }
    let mut g = id.get_endpoint_group(&gid).await?;
    apply_group(&mut g, &obj)?;
    let g = id.update_endpoint_group(g).await?;
    Ok(axum::Json(json!({"endpoint_group": render_group(&id, &g)})).into_response())
}

async fn delete_endpoint_group(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(gid): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:delete_endpoint_group", json!({}))?;
    id.delete_endpoint_group(&gid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_endpoints_in_group(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(gid): Path<String>,
) -> Result<Response, ApiError> {
    authorize(
        &id,
        &ctx,
        "identity:list_endpoints_associated_with_endpoint_group",
        json!({}),
    )?;
    let items = id
        .endpoints_in_group(&gid)
        .await?
        .iter()
        .map(|e| render_endpoint(&id, e))
        .collect();
    let path = format!("{PREFIX}/endpoint_groups/{gid}/endpoints");
    Ok(axum::Json(collection(&id, "endpoints", &path, items)).into_response())
}

async fn list_projects_of_group(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(gid): Path<String>,
) -> Result<Response, ApiError> {
    authorize(
        &id,
        &ctx,
        "identity:list_projects_associated_with_endpoint_group",
        json!({}),
    )?;
    let items = id
        .projects_for_endpoint_group(&gid)
        .await?
        .iter()
        .map(|p| render_project(&id, p))
        .collect();
    let path = format!("{PREFIX}/endpoint_groups/{gid}/projects");
    Ok(axum::Json(collection(&id, "projects", &path, items)).into_response())
}

async fn get_group_in_project(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((gid, pid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:get_endpoint_group_in_project", json!({}))?;
    id.check_endpoint_group_in_project(&gid, &pid).await?;
    Ok(axum::Json(json!({"project_endpoint_group": {
        "endpoint_group_id": gid,
        "project_id": pid,
        "links": {"self": format!("{}/v3/{PREFIX}/endpoint_groups/{gid}/projects/{pid}", id.base_url())},
    }}))
    .into_response())
}

async fn add_group_to_project(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((gid, pid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:add_endpoint_group_to_project", json!({}))?;
    id.add_endpoint_group_to_project(&gid, &pid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_group_from_project(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((gid, pid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:remove_endpoint_group_from_project", json!({}))?;
    id.remove_endpoint_group_from_project(&gid, &pid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_projects_of_endpoint(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(eid): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_projects_for_endpoint", json!({}))?;
    let items = id
        .projects_for_endpoint(&eid)
        .await?
        .iter()
        .map(|p| render_project(&id, p))
        .collect();
    let path = format!("{PREFIX}/endpoints/{eid}/projects");
    Ok(axum::Json(collection(&id, "projects", &path, items)).into_response())
}

async fn list_endpoints_of_project(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(pid): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_endpoints_for_project", json!({}))?;
    let items = id
        .endpoints_for_project(&pid)
        .await?
        .iter()
        .map(|e| render_endpoint(&id, e))
        .collect();
    let path = format!("{PREFIX}/projects/{pid}/endpoints");
    Ok(axum::Json(collection(&id, "endpoints", &path, items)).into_response())
}

/// GET and HEAD: 204 when the endpoint is associated with the project.
async fn check_endpoint_in_project(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((pid, eid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:check_endpoint_in_project", json!({}))?;
    id.check_endpoint_in_project(&pid, &eid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_endpoint_to_project(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((pid, eid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:add_endpoint_to_project", json!({}))?;
    id.add_endpoint_to_project(&pid, &eid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_endpoint_from_project(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((pid, eid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:remove_endpoint_from_project", json!({}))?;
    id.remove_endpoint_from_project(&pid, &eid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_groups_of_project(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(pid): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_endpoint_groups_for_project", json!({}))?;
    let items = id
        .endpoint_groups_for_project(&pid)
        .await?
        .iter()
        .map(|g| render_group(&id, g))
        .collect();
    let path = format!("{PREFIX}/projects/{pid}/endpoint_groups");
    Ok(axum::Json(collection(&id, "endpoint_groups", &path, items)).into_response())
}
