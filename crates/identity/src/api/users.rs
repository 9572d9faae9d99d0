//! `/v3/users` (with password change, a user's projects and groups) and
//! `/v3/groups` (with membership).

use api::{ApiError, Auth, AuthContext, MaybeAuth, ValidJson};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::{
    QueryPairs, authorize, collection, entity, extras, new_id, opt_bool, opt_str, query_flag, query_get, self_link,
    with_extra,
};
use crate::assignment::{AssignmentFilter, Target};
use crate::db::users::{GroupRow, UserRow};
use crate::resource::DEFAULT_DOMAIN;
use crate::token::token_payload::format_time;
use crate::{Identity, IdentityError, db};

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/users", get(list_users).post(create_user))
        .route("/v3/users/{id}", get(get_user).patch(update_user).delete(delete_user))
        .route("/v3/users/{id}/password", post(change_password))
        .route("/v3/users/{id}/projects", get(user_projects))
        .route("/v3/users/{id}/groups", get(user_groups))
        .route("/v3/groups", get(list_groups).post(create_group))
        .route(
            "/v3/groups/{id}",
            get(get_group).patch(update_group).delete(delete_group),
        )
        .route("/v3/groups/{id}/users", get(group_users))
        .route(
            "/v3/groups/{gid}/users/{uid}",
            get(check_member)
                .head(check_member)
                .put(add_member)
                .delete(remove_member),
        )
}

const USER_FIELDS: &[&str] = &[
    "id",
    "name",
    "domain_id",
    "enabled",
    "password",
    "default_project_id",
    "description",
    "options",
    "password_expires_at",
];
const GROUP_FIELDS: &[&str] = &["id", "name", "domain_id", "description"];

pub(crate) fn render_user(id: &Identity, u: &UserRow) -> Value {
    let mut v = json!({
        "id": u.id,
        "name": u.name,
        "domain_id": u.domain_id,
        "enabled": u.enabled,
        "password_expires_at": u.password_expires_at.map(|t| format_time(&chrono::DateTime::from_timestamp(t, 0).unwrap_or_default())),
        "options": {},
        "links": self_link(id, &format!("users/{}", u.id)),
    });
    if let Some(p) = &u.default_project_id {
        v["default_project_id"] = json!(p);
    }
    if let Some(d) = &u.description {
        v["description"] = json!(d);
    }
    with_extra(v, &u.extra)
}

pub(crate) fn render_group(id: &Identity, g: &GroupRow) -> Value {
    with_extra(
        json!({
            "id": g.id,
            "name": g.name,
            "domain_id": g.domain_id,
            "description": g.description.clone().unwrap_or_default(),
            "links": self_link(id, &format!("groups/{}", g.id)),
        }),
        &g.extra,
    )
}

fn token_domain(ctx: &AuthContext) -> String {
    ctx.domain_id
        .clone()
        .or_else(|| ctx.project_domain_id.clone())
        .unwrap_or_else(|| DEFAULT_DOMAIN.to_owned())
}

fn user_target(u: &UserRow) -> Value {
    json!({"target": {"user": {"id": u.id, "domain_id": u.domain_id}}})
}

/// Loads a user and authorizes `action` on it; a caller who may not see
/// the user learns nothing from a 404 either.
async fn load_user(id: &Identity, ctx: &AuthContext, uid: &str, action: &str) -> Result<UserRow, ApiError> {
    match id.get_user(uid).await {
        Ok(u) => {
            authorize(id, ctx, action, user_target(&u))?;
            Ok(u)
        }
        Err(e) => {
            authorize(id, ctx, action, json!({"target": {"user": {"id": uid}}}))?;
            Err(e.into())
        }
    }
}

/// Applies a user body; returns the new password, if any.
fn apply_user(u: &mut UserRow, obj: &Map<String, Value>) -> Result<Option<String>, IdentityError> {
    if let Some(n) = opt_str(obj, "user", "name")? {
        u.name = n;
    }
    if let Some(e) = opt_bool(obj, "user", "enabled")? {
        u.enabled = e;
    }
    if obj.contains_key("default_project_id") {
        u.default_project_id = opt_str(obj, "user", "default_project_id")?;
    }
    if obj.contains_key("description") {
        u.description = opt_str(obj, "user", "description")?;
    }
    let password = opt_str(obj, "user", "password")?;
    for (k, v) in extras(obj.clone(), USER_FIELDS) {
        u.extra.insert(k, v);
    }
    Ok(password)
}

async fn list_users(State(id): State<Identity>, Auth(ctx): Auth, q: QueryPairs) -> Result<Response, ApiError> {
    let domain = query_get(&q, "domain_id");
    authorize(
        &id,
        &ctx,
        "identity:list_users",
        json!({"target": {"domain_id": domain}}),
    )?;
    let name = query_get(&q, "name");
    let enabled = query_flag(&q, "enabled");
    let items = id
        .list_users()
        .await?
        .into_iter()
        .filter(|u| {
            domain.is_none_or(|d| u.domain_id == d)
                && name.is_none_or(|n| u.name == n)
                && enabled.is_none_or(|e| u.enabled == e)
        })
        .map(|u| render_user(&id, &u))
        .collect();
    Ok(axum::Json(collection(&id, "users", "users", items)).into_response())
}

async fn create_user(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    let obj = entity(body, "user")?;
    let name = opt_str(&obj, "user", "name")?
        .ok_or_else(|| IdentityError::bad("Invalid input for field 'user': 'name' is a required property."))?;
    let mut u = UserRow {
        id: new_id(),
        domain_id: opt_str(&obj, "user", "domain_id")?.unwrap_or_else(|| token_domain(&ctx)),
        name,
        enabled: true,
        password_hash: None,
        password_created_at: None,
        password_expires_at: None,
        default_project_id: None,
        description: None,
        extra: Map::new(),
        created_at: db::now(),
    };
    authorize(&id, &ctx, "identity:create_user", user_target(&u))?;
    let password = apply_user(&mut u, &obj)?;
    let u = id.create_user(u, password).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"user": render_user(&id, &u)}))).into_response())
}

async fn get_user(State(id): State<Identity>, Auth(ctx): Auth, Path(uid): Path<String>) -> Result<Response, ApiError> {
    let u = load_user(&id, &ctx, &uid, "identity:get_user").await?;
    Ok(axum::Json(json!({"user": render_user(&id, &u)})).into_response())
}

async fn update_user(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(uid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    let mut u = load_user(&id, &ctx, &uid, "identity:update_user").await?;
    let obj = entity(body, "user")?;
    if obj
        .get("domain_id")
        .is_some_and(|d| d.as_str() != Some(u.domain_id.as_str()))
    {
        return Err(ApiError::bad_request("Cannot change Domain ID."));
    }
    let password = apply_user(&mut u, &obj)?;
    let u = id.update_user(u, password).await?;
    Ok(axum::Json(json!({"user": render_user(&id, &u)})).into_response())
}

async fn delete_user(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(uid): Path<String>,
) -> Result<StatusCode, ApiError> {
    load_user(&id, &ctx, &uid, "identity:delete_user").await?;
    id.delete_user(&uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
struct PasswordBody {
    user: PasswordChange,
}
#[derive(serde::Deserialize)]
struct PasswordChange {
    original_password: String,
    password: String,
}

/// Self-service: the original password is the proof, so no token policy
/// applies (as in Keystone).
async fn change_password(
    State(id): State<Identity>,
    _: MaybeAuth,
    Path(uid): Path<String>,
    ValidJson(body): ValidJson<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    if body.user.password.is_empty() {
        return Err(ApiError::bad_request(
            "Invalid input for field 'user.password': must not be empty.",
        ));
    }
    id.change_password(&uid, body.user.original_password, body.user.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn user_projects(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(uid): Path<String>,
) -> Result<Response, ApiError> {
    load_user(&id, &ctx, &uid, "identity:list_user_projects").await?;
    let rows = id
        .list_role_assignments(&AssignmentFilter {
            user_id: Some(uid.clone()),
            effective: true,
            ..Default::default()
        })
        .await?;
    let mut seen = Vec::new();
    let mut items = Vec::new();
    for r in rows {
        if let Target::Project(p) = r.target
            && !seen.contains(&p)
        {
            if let Ok(proj) = id.get_project(&p).await {
                items.push(super::projects::render_project(&id, &proj));
            }
            seen.push(p);
        }
    }
    Ok(axum::Json(collection(&id, "projects", &format!("users/{uid}/projects"), items)).into_response())
}

async fn user_groups(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(uid): Path<String>,
) -> Result<Response, ApiError> {
    load_user(&id, &ctx, &uid, "identity:list_groups_for_user").await?;
    let items = id
        .groups_of_user(&uid)
        .await?
        .iter()
        .map(|g| render_group(&id, g))
        .collect();
    Ok(axum::Json(collection(&id, "groups", &format!("users/{uid}/groups"), items)).into_response())
}

fn group_target(g: &GroupRow) -> Value {
    json!({"target": {"group": {"id": g.id, "domain_id": g.domain_id}}})
}

async fn load_group(id: &Identity, ctx: &AuthContext, gid: &str, action: &str) -> Result<GroupRow, ApiError> {
    match id.get_group(gid).await {
        Ok(g) => {
            authorize(id, ctx, action, group_target(&g))?;
            Ok(g)
        }
        Err(e) => {
            authorize(id, ctx, action, json!({"target": {"group": {"id": gid}}}))?;
            Err(e.into())
        }
    }
}

fn apply_group(g: &mut GroupRow, obj: &Map<String, Value>) -> Result<(), IdentityError> {
    if let Some(n) = opt_str(obj, "group", "name")? {
        g.name = n;
    }
    if obj.contains_key("description") {
        g.description = opt_str(obj, "group", "description")?;
    }
    for (k, v) in extras(obj.clone(), GROUP_FIELDS) {
        g.extra.insert(k, v);
    }
    Ok(())
}

async fn list_groups(State(id): State<Identity>, Auth(ctx): Auth, q: QueryPairs) -> Result<Response, ApiError> {
    let domain = query_get(&q, "domain_id");
    authorize(
        &id,
        &ctx,
        "identity:list_groups",
        json!({"target": {"domain_id": domain}}),
    )?;
    let name = query_get(&q, "name");
    let items = id
        .list_groups()
        .await?
        .into_iter()
        .filter(|g| domain.is_none_or(|d| g.domain_id == d) && name.is_none_or(|n| g.name == n))
        .map(|g| render_group(&id, &g))
        .collect();
    Ok(axum::Json(collection(&id, "groups", "groups", items)).into_response())
}

async fn create_group(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    let obj = entity(body, "group")?;
    let name = opt_str(&obj, "group", "name")?
        .ok_or_else(|| IdentityError::bad("Invalid input for field 'group': 'name' is a required property."))?;
    let mut g = GroupRow {
        id: new_id(),
        domain_id: opt_str(&obj, "group", "domain_id")?.unwrap_or_else(|| token_domain(&ctx)),
        name,
        description: None,
        extra: Map::new(),
    };
    authorize(&id, &ctx, "identity:create_group", group_target(&g))?;
    apply_group(&mut g, &obj)?;
    let g = id.create_group(g).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"group": render_group(&id, &g)}))).into_response())
}

async fn get_group(State(id): State<Identity>, Auth(ctx): Auth, Path(gid): Path<String>) -> Result<Response, ApiError> {
    let g = load_group(&id, &ctx, &gid, "identity:get_group").await?;
    Ok(axum::Json(json!({"group": render_group(&id, &g)})).into_response())
}

async fn update_group(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(gid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    let mut g = load_group(&id, &ctx, &gid, "identity:update_group").await?;
    let obj = entity(body, "group")?;
    if obj
        .get("domain_id")
        .is_some_and(|d| d.as_str() != Some(g.domain_id.as_str()))
    {
        return Err(ApiError::bad_request("Cannot change Domain ID."));
    }
    apply_group(&mut g, &obj)?;
    let g = id.update_group(g).await?;
    Ok(axum::Json(json!({"group": render_group(&id, &g)})).into_response())
}

async fn delete_group(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(gid): Path<String>,
) -> Result<StatusCode, ApiError> {
    load_group(&id, &ctx, &gid, "identity:delete_group").await?;
    id.delete_group(&gid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn group_users(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(gid): Path<String>,
) -> Result<Response, ApiError> {
    load_group(&id, &ctx, &gid, "identity:list_users_in_group").await?;
    let items = id
        .users_in_group(&gid)
        .await?
        .iter()
        .map(|u| render_user(&id, u))
        .collect();
    Ok(axum::Json(collection(&id, "users", &format!("groups/{gid}/users"), items)).into_response())
}

async fn membership_target(
    id: &Identity,
    ctx: &AuthContext,
    gid: &str,
    uid: &str,
    action: &str,
) -> Result<(), ApiError> {
    let g = id.get_group(gid).await.ok();
    let u = id.get_user(uid).await.ok();
    authorize(
        id,
        ctx,
        action,
        json!({"target": {
            "group": {"id": gid, "domain_id": g.map(|g| g.domain_id)},
            "user": {"id": uid, "domain_id": u.map(|u| u.domain_id)},
        }}),
    )
}

async fn check_member(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((gid, uid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    membership_target(&id, &ctx, &gid, &uid, "identity:check_user_in_group").await?;
    if id.is_user_in_group(&gid, &uid).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(IdentityError::not_found("user in group", format!("{uid} in {gid}")).into())
    }
}

async fn add_member(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((gid, uid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    membership_target(&id, &ctx, &gid, &uid, "identity:add_user_to_group").await?;
    id.add_user_to_group(&gid, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_member(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((gid, uid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    membership_target(&id, &ctx, &gid, &uid, "identity:remove_user_from_group").await?;
    id.remove_user_from_group(&gid, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}
