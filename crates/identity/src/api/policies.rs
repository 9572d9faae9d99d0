//! `/v3/policies`: the legacy policy-blob store (see [`crate::policies`]).

use api::{ApiError, Auth, ValidJson};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::limits::opt_string;
use super::{QueryPairs, authorize, collection, entity, extras, new_id, query_get, self_link, with_extra};
use crate::db::policies::PolicyRow;
use crate::{Identity, IdentityError};

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/policies", get(list_policies).post(create_policy))
        .route(
            "/v3/policies/{id}",
            get(get_policy).patch(update_policy).delete(delete_policy),
        )
}

fn render(id: &Identity, p: &PolicyRow) -> Value {
    with_extra(
        json!({
            "id": p.id,
            "type": p.policy_type,
            "blob": p.blob,
            "links": self_link(id, &format!("policies/{}", p.id)),
        }),
        &p.extra,
    )
}

fn apply(p: &mut PolicyRow, obj: &Map<String, Value>) -> Result<(), IdentityError> {
    if let Some(v) = opt_string(obj, "policy", "type")? {
        p.policy_type = v;
    }
    if let Some(v) = opt_string(obj, "policy", "blob")? {
        p.blob = v;
    }
    for (k, v) in extras(obj.clone(), &["id", "type", "blob"]) {
        p.extra.insert(k, v);
    }
    Ok(())
}

async fn list_policies(State(id): State<Identity>, Auth(ctx): Auth, q: QueryPairs) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_policies", json!({}))?;
    let ptype = query_get(&q, "type");
    let items = id
        .list_policies()
        .await?
        .iter()
        .filter(|p| ptype.is_none_or(|t| p.policy_type == t))
        .map(|p| render(&id, p))
        .collect();
    Ok(axum::Json(collection(&id, "policies", "policies", items)).into_response())
}

async fn create_policy(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:create_policy", json!({}))?;
    let obj = entity(body, "policy")?;
    for required in ["blob", "type"] {
        if opt_string(&obj, "policy", required)?.is_none() {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field 'policy': '{required}' is a required property."
            )));
        }
    }
    // As Keystone, the server chooses the id; a client's is ignored.
    let mut p = PolicyRow {
        id: new_id(),
        policy_type: String::new(),
        blob: String::new(),
        extra: Map::new(),
    };
    apply(&mut p, &obj)?;
    let p = id.create_policy(p).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"policy": render(&id, &p)}))).into_response())
}

async fn get_policy(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(pid): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:get_policy", json!({}))?;
    let p = id.get_policy(&pid).await?;
    Ok(axum::Json(json!({"policy": render(&id, &p)})).into_response())
}

async fn update_policy(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(pid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:update_policy", json!({}))?;
    let obj = entity(body, "policy")?;
    if obj.is_empty() {
        return Err(ApiError::bad_request(
            "Invalid input for field 'policy': {} does not have enough properties.",
        ));
    }
    if obj.get("id").is_some_and(|v| v.as_str() != Some(pid.as_str())) {
        return Err(ApiError::bad_request("Cannot change policy ID."));
    }
    let mut p = id.get_policy(&pid).await?;
    apply(&mut p, &obj)?;
    let p = id.update_policy(p).await?;
    Ok(axum::Json(json!({"policy": render(&id, &p)})).into_response())
}

async fn delete_policy(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(pid): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:delete_policy", json!({}))?;
    id.delete_policy(&pid).await?;
    Ok(StatusCode::NO_CONTENT)
}
