//! `/v3/OS-TRUST/trusts`: create, list, show, delete, and a trust's roles.

use api::{ApiError, Auth, ValidJson};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::app_creds::reject_nul;
use super::roles::render_role;
use super::{QueryPairs, authorize, collection, entity, extras, opt_bool, opt_str, query_get, with_extra};
use crate::app_creds::{RoleRef, parse_expiry};
use crate::db::trusts::TrustRecord;
use crate::token::token_payload::format_time;
use crate::trusts::{NewTrust, Trust};
use crate::{Identity, IdentityError};

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/OS-TRUST/trusts", get(list_trusts).post(create_trust))
        // tempest's client lists with a trailing slash, which Keystone takes.
        .route("/v3/OS-TRUST/trusts/", get(list_trusts).post(create_trust))
        .route("/v3/OS-TRUST/trusts/{id}", get(get_trust).delete(delete_trust))
        .route("/v3/OS-TRUST/trusts/{id}/roles", get(list_trust_roles))
        .route("/v3/OS-TRUST/trusts/{id}/roles/{role_id}", get(get_trust_role))
        .route_layer(axum::middleware::from_fn(super::app_creds::no_nul_in_path))
}

/// Attributes with a meaning; the others are kept as extras.
const FIELDS: &[&str] = &[
    "id",
    "trustor_user_id",
    "trustee_user_id",
    "project_id",
    "impersonation",
    "expires_at",
    "remaining_uses",
    "allow_redelegation",
    "redelegation_count",
    "redelegated_trust_id",
    "roles",
    "roles_links",
    "deleted_at",
];

fn trust_url(id: &Identity, trust_id: &str) -> String {
    format!("{}/v3/OS-TRUST/trusts/{trust_id}", id.base_url())
}

fn render_record(id: &Identity, t: &TrustRecord) -> Value {
    let expires = t
        .expires_at
        .and_then(|e| chrono::DateTime::from_timestamp(e, 0))
        .map(|e| format_time(&e));
    with_extra(
        json!({
            "id": t.id,
            "trustor_user_id": t.trustor_user_id,
            "trustee_user_id": t.trustee_user_id,
            "project_id": t.project_id,
            "impersonation": t.impersonation,
            "expires_at": expires,
            "remaining_uses": t.remaining_uses,
            "redelegated_trust_id": t.redelegated_trust_id,
            "redelegation_count": t.redelegation_count.unwrap_or(0),
            "links": {"self": trust_url(id, &t.id)},
        }),
        &t.extra,
    )
}

fn roles_links(id: &Identity, trust_id: &str) -> Value {
    json!({"self": format!("{}/roles", trust_url(id, trust_id)), "previous": null, "next": null})
}

fn render_trust(id: &Identity, t: &Trust) -> Value {
    let mut v = render_record(id, &t.record);
    v["roles"] = t.roles.iter().map(|r| render_role(id, r)).collect();
    v["roles_links"] = roles_links(id, &t.record.id);
    v
}

fn trust_target(t: &TrustRecord) -> Value {
    json!({"target": {"trust": {
        "id": t.id,
        "trustor_user_id": t.trustor_user_id,
        "trustee_user_id": t.trustee_user_id,
        "project_id": t.project_id,
    }}})
}

fn parse_roles(v: Option<&Value>) -> Result<Vec<RoleRef>, IdentityError> {
    let bad = || {
        IdentityError::bad("Invalid input for field 'trust.roles': each role is an object with an 'id' or a 'name'.")
    };
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    v.as_array()
        .ok_or_else(|| IdentityError::bad("Invalid input for field 'trust.roles': must be an array."))?
        .iter()
        .map(|item| {
            let obj = item.as_object().filter(|o| o.len() == 1).ok_or_else(bad)?;
            match (obj.get("id"), obj.get("name")) {
                (Some(Value::String(i)), None) => Ok(RoleRef::Id(i.clone())),
                (None, Some(Value::String(n))) => Ok(RoleRef::Name(n.clone())),
                _ => Err(bad()),
            }
        })
        .collect()
}

fn parse_new(obj: &Map<String, Value>) -> Result<NewTrust, IdentityError> {
    let required = |key: &str| {
        IdentityError::bad(format!(
            "Invalid input for field 'trust': '{key}' is a required property."
        ))
    };
    let trustor = opt_str(obj, "trust", "trustor_user_id")?.ok_or_else(|| required("trustor_user_id"))?;
    let trustee = opt_str(obj, "trust", "trustee_user_id")?.ok_or_else(|| required("trustee_user_id"))?;
    let impersonation = opt_bool(obj, "trust", "impersonation")?.ok_or_else(|| required("impersonation"))?;
    let remaining_uses = match obj.get("remaining_uses") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().filter(|n| *n >= 1).ok_or_else(|| {
            IdentityError::bad(format!(
                "Invalid input for field 'trust.remaining_uses': {v} is not a positive integer."
            ))
        })?),
    };
    if let Some(v) = obj.get("redelegation_count").filter(|v| !v.is_null())
        && v.as_i64().is_none_or(|n| n < 0)
    {
        return Err(IdentityError::bad(format!(
            "Invalid input for field 'trust.redelegation_count': {v} is not a non-negative integer."
        )));
    }
    Ok(NewTrust {
        trustor_user_id: trustor,
        trustee_user_id: trustee,
        project_id: opt_str(obj, "trust", "project_id")?.filter(|p| !p.is_empty()),
        impersonation,
        expires_at: opt_str(obj, "trust", "expires_at")?
            .map(|s| parse_expiry(&s))
            .transpose()?,
        remaining_uses,
        allow_redelegation: opt_bool(obj, "trust", "allow_redelegation")?.unwrap_or(false),
        roles: parse_roles(obj.get("roles"))?,
        extra: extras(obj.clone(), FIELDS),
    })
}

async fn create_trust(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    reject_nul(&body)?;
    let obj = entity(body, "trust")?;
    authorize(
        &id,
        &ctx,
        "identity:create_trust",
        json!({"target": {"trust": obj.clone()}}),
    )?;
    let t = id.create_trust(&ctx, parse_new(&obj)?).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"trust": render_trust(&id, &t)}))).into_response())
}

async fn list_trusts(State(id): State<Identity>, Auth(ctx): Auth, q: QueryPairs) -> Result<Response, ApiError> {
    let trustor = query_get(&q, "trustor_user_id");
    let trustee = query_get(&q, "trustee_user_id");
    if let Some(u) = trustor {
        let target = json!({"target": {"trust": {"trustor_user_id": u}}});
        authorize(&id, &ctx, "identity:list_trusts_for_trustor", target)?;
    } else if let Some(u) = trustee {
        let target = json!({"target": {"trust": {"trustee_user_id": u}}});
        authorize(&id, &ctx, "identity:list_trusts_for_trustee", target)?;
    } else {
        authorize(&id, &ctx, "identity:list_trusts", json!({}))?;
    }
    id.check_trust_manager(&ctx)?;
    // Keystone lists nothing for a query that names neither.
    let items = if q.is_empty() || trustor.is_some() || trustee.is_some() {
        id.list_trusts(trustor, trustor.map_or(trustee, |_| None))
            .await?
            .iter()
            .map(|t| render_record(&id, t))
            .collect()
    } else {
        Vec::new()
    };
    Ok(axum::Json(collection(&id, "trusts", "OS-TRUST/trusts", items)).into_response())
}

async fn load(id: &Identity, ctx: &api::AuthContext, action: &str, trust_id: &str) -> Result<Trust, ApiError> {
    let t = id.get_trust(trust_id).await?;
    authorize(id, ctx, action, trust_target(&t.record))?;
    id.check_trust_manager(ctx)?;
    Ok(t)
}

async fn get_trust(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(trust_id): Path<String>,
) -> Result<Response, ApiError> {
    let t = load(&id, &ctx, "identity:get_trust", &trust_id).await?;
    Ok(axum::Json(json!({"trust": render_trust(&id, &t)})).into_response())
}

async fn delete_trust(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(trust_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    load(&id, &ctx, "identity:delete_trust", &trust_id).await?;
    id.delete_trust(&trust_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_trust_roles(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(trust_id): Path<String>,
) -> Result<Response, ApiError> {
    let t = load(&id, &ctx, "identity:list_roles_for_trust", &trust_id).await?;
    let roles: Vec<Value> = t.roles.iter().map(|r| render_role(&id, r)).collect();
    Ok(axum::Json(json!({"roles": roles, "links": roles_links(&id, &trust_id)})).into_response())
}

async fn get_trust_role(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((trust_id, role_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let t = load(&id, &ctx, "identity:get_role_for_trust", &trust_id).await?;
    let role = t
        .roles
        .iter()
        .find(|r| r.id == role_id)
        .ok_or_else(|| IdentityError::not_found("role", role_id.clone()))?;
    Ok(axum::Json(json!({"role": render_role(&id, role)})).into_response())
}
