//! `/v3/users/{user_id}/application_credentials` and
//! `/v3/users/{user_id}/access_rules`.

use api::{ApiError, Auth, AuthContext, ValidJson};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::{QueryPairs, authorize, collection, entity, opt_bool, opt_str, query_get, self_link};
use crate::app_creds::{AccessRuleSpec, AppCred, NewAppCred, RoleRef, parse_expiry};
use crate::db::grants::AccessRuleRow;
use crate::{Identity, IdentityError};

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route(
            "/v3/users/{id}/application_credentials",
            get(list_app_creds).post(create_app_cred),
        )
        .route(
            "/v3/users/{id}/application_credentials/{ac_id}",
            get(get_app_cred).delete(delete_app_cred),
        )
        .route("/v3/users/{id}/access_rules", get(list_access_rules))
        .route(
            "/v3/users/{id}/access_rules/{rule_id}",
            get(get_access_rule).delete(delete_access_rule),
        )
        .route_layer(axum::middleware::from_fn(no_nul_in_path))
}

/// PostgreSQL refuses NUL characters in text, even to compare: an id with
/// one in a path names nothing, and is not looked up. (Used by the route
/// tables of the delegation resources: this one, trusts, credentials.)
pub(super) async fn no_nul_in_path(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if req.uri().path().contains("%00") {
        return ApiError::not_found("The resource could not be found.").into_response();
    }
    next.run(req).await
}

/// Refuses a body with a NUL character in any string (PostgreSQL cannot
/// store one), naming the field.
pub(super) fn reject_nul(v: &Value) -> Result<(), ApiError> {
    fn find(v: &Value, path: &mut Vec<String>) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(a) => a.iter().any(|x| find(x, path)),
            Value::Object(m) => m.iter().any(|(k, x)| {
                path.push(k.clone());
                let found = k.contains('\0') || find(x, path);
                if !found {
                    path.pop();
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = Vec::new();
    if find(v, &mut path) {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field '{}': NUL characters are not allowed.",
            path.join(".")
        )));
    }
    Ok(())
}

const FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "secret",
    "expires_at",
    "project_id",
    "roles",
    "unrestricted",
    "access_rules",
    "system",
];

fn render_rule(r: &AccessRuleRow) -> Value {
    json!({"id": r.id, "service": r.service, "path": r.path, "method": r.method})
}

fn render_app_cred(id: &Identity, a: &AppCred) -> Value {
    let mut v = json!({
        "id": a.row.id,
        "name": a.row.name,
        "description": a.row.description,
        "user_id": a.row.user_id,
        "project_id": a.row.project_id,
        "system": a.row.system_scope,
        "expires_at": a.expires_at.map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
        "unrestricted": a.row.unrestricted,
        "roles": a.roles.iter().map(|r| json!({
            "id": r.id, "name": r.name, "domain_id": r.domain_id, "description": r.description, "options": {},
        })).collect::<Vec<_>>(),
        "links": self_link(id, &format!("users/{}/application_credentials/{}", a.row.user_id, a.row.id)),
    });
    if !a.access_rules.is_empty() {
        v["access_rules"] = a.access_rules.iter().map(render_rule).collect();
    }
    if let Some(s) = &a.secret {
        v["secret"] = json!(s);
    }
    v
}

fn bad(field: &str, why: &str) -> IdentityError {
    IdentityError::bad(format!(
        "Invalid input for field 'application_credential.{field}': {why}"
    ))
}

fn parse_roles(v: &Value) -> Result<Vec<RoleRef>, IdentityError> {
    let items = v.as_array().ok_or_else(|| bad("roles", "must be an array."))?;
    items
        .iter()
        .map(|item| {
            let obj = item
                .as_object()
                .filter(|o| o.len() == 1)
                .ok_or_else(|| bad("roles", "each role is an object with an 'id' or a 'name'."))?;
            match (obj.get("id"), obj.get("name")) {
                (Some(Value::String(i)), None) => Ok(RoleRef::Id(i.clone())),
                (None, Some(Value::String(n))) => Ok(RoleRef::Name(n.clone())),
                _ => Err(bad("roles", "each role is an object with an 'id' or a 'name'.")),
            }
        })
        .collect()
}

fn parse_access_rules(v: &Value) -> Result<Vec<AccessRuleSpec>, IdentityError> {
    let items = v.as_array().ok_or_else(|| bad("access_rules", "must be an array."))?;
    items
        .iter()
        .map(|item| {
            let obj = item
                .as_object()
                .ok_or_else(|| bad("access_rules", "each rule must be an object."))?;
            Ok(AccessRuleSpec {
                id: opt_str(obj, "application_credential.access_rules", "id")?,
                service: opt_str(obj, "application_credential.access_rules", "service")?,
                path: opt_str(obj, "application_credential.access_rules", "path")?,
                method: opt_str(obj, "application_credential.access_rules", "method")?,
            })
        })
        .collect()
}

fn parse_new(obj: &Map<String, Value>) -> Result<NewAppCred, IdentityError> {
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(IdentityError::bad(format!(
            "Invalid input for field 'application_credential': additional properties are not allowed ('{k}' was \
             unexpected)."
        )));
    }
    let name = opt_str(obj, "application_credential", "name")?.ok_or_else(|| {
        IdentityError::bad("Invalid input for field 'application_credential': 'name' is a required property.")
    })?;
    let expires_at = opt_str(obj, "application_credential", "expires_at")?
        .map(|s| parse_expiry(&s))
        .transpose()?;
    Ok(NewAppCred {
        name,
        description: opt_str(obj, "application_credential", "description")?,
        secret: opt_str(obj, "application_credential", "secret")?,
        expires_at,
        unrestricted: opt_bool(obj, "application_credential", "unrestricted")?.unwrap_or(false),
        roles: obj.get("roles").filter(|v| !v.is_null()).map(parse_roles).transpose()?,
        access_rules: obj
            .get("access_rules")
            .filter(|v| !v.is_null())
            .map(parse_access_rules)
            .transpose()?
            .unwrap_or_default(),
    })
}

async fn list_app_creds(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(uid): Path<String>,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    authorize(
        &id,
        &ctx,
        "identity:list_application_credentials",
        json!({"user_id": uid}),
    )?;
    id.check_app_cred_manager(&ctx, false).await?;
    let name = query_get(&q, "name");
    let items = id
        .list_app_creds(&uid)
        .await?
        .iter()
        .filter(|a| name.is_none_or(|n| a.row.name == n))
        .map(|a| render_app_cred(&id, a))
        .collect();
    let path = format!("users/{uid}/application_credentials");
    Ok(axum::Json(collection(&id, "application_credentials", &path, items)).into_response())
}

async fn create_app_cred(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(uid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(
        &id,
        &ctx,
        "identity:create_application_credential",
        json!({"user_id": uid}),
    )?;
    id.check_app_cred_manager(&ctx, true).await?;
    reject_nul(&body)?;
    let new = parse_new(&entity(body, "application_credential")?)?;
    let a = id.create_app_cred(&ctx, &uid, new).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"application_credential": render_app_cred(&id, &a)})),
    )
        .into_response())
}

/// Authorizes `action` on an application credential as its owner's: the
/// owner recorded on it, not the one in the path (Keystone's
/// `_update_request_user_id_attribute`).
async fn authorize_on_app_cred(
    id: &Identity,
    ctx: &AuthContext,
    action: &str,
    uid: &str,
    ac_id: &str,
) -> Result<(), ApiError> {
    let owner = id.app_cred_owner(ac_id).await?.unwrap_or_else(|| uid.to_owned());
    authorize(id, ctx, action, json!({"user_id": owner}))
}

async fn get_app_cred(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((uid, ac_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize_on_app_cred(&id, &ctx, "identity:get_application_credential", &uid, &ac_id).await?;
    id.check_app_cred_manager(&ctx, false).await?;
    let a = id.get_app_cred(&uid, &ac_id).await?;
    Ok(axum::Json(json!({"application_credential": render_app_cred(&id, &a)})).into_response())
}

async fn delete_app_cred(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((uid, ac_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    authorize_on_app_cred(&id, &ctx, "identity:delete_application_credential", &uid, &ac_id).await?;
    id.check_app_cred_manager(&ctx, true).await?;
    id.delete_app_cred(&uid, &ac_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The policy target of the access-rule rules: the user of the path, when
/// it exists.
async fn user_target(id: &Identity, uid: &str) -> Result<Value, ApiError> {
    match id.get_user(uid).await {
        Ok(u) => Ok(json!({"target": {"user": {"id": u.id, "domain_id": u.domain_id}}})),
        Err(IdentityError::NotFound { .. }) => Ok(json!({})),
        Err(e) => Err(e.into()),
    }
}

async fn list_access_rules(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(uid): Path<String>,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_access_rules", user_target(&id, &uid).await?)?;
    id.check_app_cred_manager(&ctx, false).await?;
    let (service, path, method) = (query_get(&q, "service"), query_get(&q, "path"), query_get(&q, "method"));
    let items = id
        .list_access_rules(&uid)
        .await?
        .iter()
        .filter(|r| {
            service.is_none_or(|s| r.service == s)
                && path.is_none_or(|p| r.path == p)
                && method.is_none_or(|m| r.method == m)
        })
        .map(|r| {
            let mut v = render_rule(r);
            v["links"] = self_link(&id, &format!("users/{uid}/access_rules/{}", r.id));
            v
        })
        .collect();
    Ok(axum::Json(collection(
        &id,
        "access_rules",
        &format!("users/{uid}/access_rules"),
        items,
    ))
    .into_response())
}

async fn get_access_rule(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((uid, rule_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:get_access_rule", user_target(&id, &uid).await?)?;
    id.check_app_cred_manager(&ctx, false).await?;
    let r = id.get_access_rule(&uid, &rule_id).await?;
    let mut v = render_rule(&r);
    v["links"] = self_link(&id, &format!("users/{uid}/access_rules/{}", r.id));
    Ok(axum::Json(json!({"access_rule": v})).into_response())
}

async fn delete_access_rule(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((uid, rule_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:delete_access_rule", user_target(&id, &uid).await?)?;
    id.check_app_cred_manager(&ctx, false).await?;
    id.delete_access_rule(&uid, &rule_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
