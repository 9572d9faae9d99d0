//! `/v3/roles` (global and domain-specific) and role implications
//! (`/v3/roles/{prior}/implies`, `/v3/role_inferences`).

use api::{ApiError, Auth, AuthContext, ValidJson};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::{QueryPairs, authorize, collection, entity, extras, new_id, opt_str, query_get, self_link, with_extra};
use crate::db::roles::RoleRow;
use crate::{Identity, IdentityError};

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/roles", get(list_roles).post(create_role))
        .route("/v3/roles/{id}", get(get_role).patch(update_role).delete(delete_role))
        .route("/v3/roles/{prior}/implies", get(list_implied))
        .route(
            "/v3/roles/{prior}/implies/{implied}",
            get(get_implied)
                .head(check_implied)
                .put(create_implied)
                .delete(delete_implied),
        )
        .route("/v3/role_inferences", get(list_inferences))
}

pub(crate) fn render_role(id: &Identity, r: &RoleRow) -> Value {
    with_extra(
        json!({
            "id": r.id,
            "name": r.name,
            "domain_id": r.domain_id,
            "description": r.description,
            "options": {},
            "links": self_link(id, &format!("roles/{}", r.id)),
        }),
        &r.extra,
    )
}

fn brief(id: &Identity, r: &RoleRow) -> Value {
    json!({"id": r.id, "name": r.name, "links": self_link(id, &format!("roles/{}", r.id))})
}

/// Keystone checks domain-specific roles under their own rule names.
fn action(base: &str, domain_specific: bool) -> String {
    if domain_specific {
        format!("identity:{base}_domain_role")
    } else {
        format!("identity:{base}_role")
    }
}

fn role_target(r: &RoleRow) -> Value {
    json!({"target": {"role": {"id": r.id, "name": r.name, "domain_id": r.domain_id}}})
}

async fn load_role(id: &Identity, ctx: &AuthContext, rid: &str, base: &str) -> Result<RoleRow, ApiError> {
    match id.get_role(rid).await {
        Ok(r) => {
            authorize(id, ctx, &action(base, r.domain_id.is_some()), role_target(&r))?;
            Ok(r)
        }
        Err(e) => {
            authorize(id, ctx, &action(base, false), json!({"target": {"role": {"id": rid}}}))?;
            Err(e.into())
        }
    }
}

async fn list_roles(State(id): State<Identity>, Auth(ctx): Auth, q: QueryPairs) -> Result<Response, ApiError> {
    let domain = query_get(&q, "domain_id");
    authorize(
        &id,
        &ctx,
        &action("list", domain.is_some()).replace("_role", "_roles"),
        json!({"target": {"domain_id": domain}}),
    )?;
    let name = query_get(&q, "name");
    let items = id
        .list_roles()
        .await?
        .into_iter()
        .filter(|r| r.domain_id.as_deref() == domain && name.is_none_or(|n| r.name == n))
        .map(|r| render_role(&id, &r))
        .collect();
    Ok(axum::Json(collection(&id, "roles", "roles", items)).into_response())
}

fn apply(r: &mut RoleRow, obj: &Map<String, Value>) -> Result<(), IdentityError> {
    if let Some(n) = opt_str(obj, "role", "name")? {
        r.name = n;
    }
    if obj.contains_key("description") {
        r.description = opt_str(obj, "role", "description")?;
    }
    for (k, v) in extras(obj.clone(), &["id", "name", "domain_id", "description", "options"]) {
        r.extra.insert(k, v);
    }
    Ok(())
}

async fn create_role(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    let obj = entity(body, "role")?;
    let name = opt_str(&obj, "role", "name")?
        .ok_or_else(|| IdentityError::bad("Invalid input for field 'role': 'name' is a required property."))?;
    let mut r = RoleRow {
        id: new_id(),
        name,
        domain_id: opt_str(&obj, "role", "domain_id")?,
        description: None,
        extra: Map::new(),
    };
    authorize(&id, &ctx, &action("create", r.domain_id.is_some()), role_target(&r))?;
    apply(&mut r, &obj)?;
    let r = id.create_role(r).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"role": render_role(&id, &r)}))).into_response())
}

async fn get_role(State(id): State<Identity>, Auth(ctx): Auth, Path(rid): Path<String>) -> Result<Response, ApiError> {
    let r = load_role(&id, &ctx, &rid, "get").await?;
    Ok(axum::Json(json!({"role": render_role(&id, &r)})).into_response())
}

async fn update_role(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(rid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    let mut r = load_role(&id, &ctx, &rid, "update").await?;
    let obj = entity(body, "role")?;
    if obj
        .get("domain_id")
        .is_some_and(|d| d.as_str() != r.domain_id.as_deref())
    {
        return Err(ApiError::bad_request("Update of `domain_id` is not allowed."));
    }
    apply(&mut r, &obj)?;
    let r = id.update_role(r).await?;
    Ok(axum::Json(json!({"role": render_role(&id, &r)})).into_response())
}

async fn delete_role(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(rid): Path<String>,
) -> Result<StatusCode, ApiError> {
    load_role(&id, &ctx, &rid, "delete").await?;
    id.delete_role(&rid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn inference(id: &Identity, prior: &str, implied: &str) -> Result<Value, ApiError> {
    let p = id.get_role(prior).await?;
    let i = id.get_role(implied).await?;
    Ok(json!({
        "role_inference": {"prior_role": brief(id, &p), "implies": brief(id, &i)},
        "links": self_link(id, &format!("roles/{prior}/implies/{implied}")),
    }))
}

async fn create_implied(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((prior, implied)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:create_implied_role", json!({}))?;
    id.create_implication(&prior, &implied).await?;
    Ok((StatusCode::CREATED, axum::Json(inference(&id, &prior, &implied).await?)).into_response())
}

async fn get_implied(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((prior, implied)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:get_implied_role", json!({}))?;
    if !id.implication_exists(&prior, &implied).await? {
        return Err(IdentityError::not_found("implied role", format!("{prior} -> {implied}")).into());
    }
    Ok(axum::Json(inference(&id, &prior, &implied).await?).into_response())
}

async fn check_implied(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((prior, implied)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:check_implied_role", json!({}))?;
    if !id.implication_exists(&prior, &implied).await? {
        return Err(IdentityError::not_found("implied role", format!("{prior} -> {implied}")).into());
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_implied(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((prior, implied)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:delete_implied_role", json!({}))?;
    id.delete_implication(&prior, &implied).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_implied(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(prior): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_implied_roles", json!({}))?;
    let p = id.get_role(&prior).await?;
    let mut implies = Vec::new();
    for (_, i) in id.implications().await?.into_iter().filter(|(pr, _)| *pr == prior) {
        implies.push(brief(&id, &id.get_role(&i).await?));
    }
    Ok(axum::Json(json!({
        "role_inference": {"prior_role": brief(&id, &p), "implies": implies},
        "links": self_link(&id, &format!("roles/{prior}/implies")),
    }))
    .into_response())
}

async fn list_inferences(State(id): State<Identity>, Auth(ctx): Auth) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_role_inference_rules", json!({}))?;
    let roles: std::collections::HashMap<String, RoleRow> =
        id.list_roles().await?.into_iter().map(|r| (r.id.clone(), r)).collect();
    let mut by_prior: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for (p, i) in id.implications().await? {
        if let Some(ir) = roles.get(&i) {
            by_prior.entry(p).or_default().push(brief(&id, ir));
        }
    }
    let items: Vec<Value> = by_prior
        .into_iter()
        .filter_map(|(p, implies)| {
            roles
                .get(&p)
                .map(|pr| json!({"prior_role": brief(&id, pr), "implies": implies}))
        })
        .collect();
    Ok(axum::Json(json!({"role_inferences": items, "links": self_link(&id, "role_inferences")})).into_response())
}
