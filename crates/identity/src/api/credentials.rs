//! `/v3/credentials` and a user's EC2 credentials,
//! `/v3/users/{user_id}/credentials/OS-EC2`.

use api::{ApiError, Auth, AuthContext, ValidJson};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::app_creds::reject_nul;
use super::{QueryPairs, authorize, collection, entity, extras, opt_str, query_get, self_link, with_extra};
use crate::credentials::{Ec2Credential, NewCredential};
use crate::db::credentials::CredentialRow;
use crate::{Identity, IdentityError};

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/credentials", get(list_credentials).post(create_credential))
        .route(
            "/v3/credentials/{id}",
            get(get_credential).patch(update_credential).delete(delete_credential),
        )
        .route("/v3/users/{id}/credentials/OS-EC2", get(list_ec2).post(create_ec2))
        .route(
            "/v3/users/{id}/credentials/OS-EC2/{access}",
            get(get_ec2).delete(delete_ec2),
        )
        .route_layer(axum::middleware::from_fn(super::app_creds::no_nul_in_path))
}

const FIELDS: &[&str] = &["id", "user_id", "project_id", "type", "blob"];

fn render(id: &Identity, c: &CredentialRow) -> Value {
    with_extra(
        json!({
            "id": c.id,
            "user_id": c.user_id,
            "project_id": c.project_id,
            "type": c.cred_type,
            "blob": c.blob,
            "links": self_link(id, &format!("credentials/{}", c.id)),
        }),
        &c.extra,
    )
}

fn render_ec2(id: &Identity, c: &Ec2Credential) -> Value {
    json!({
        "access": c.access,
        "secret": c.secret,
        "user_id": c.user_id,
        "tenant_id": c.tenant_id,
        "trust_id": c.trust_id,
        "links": self_link(id, &format!("users/{}/credentials/OS-EC2/{}", c.user_id, c.access)),
    })
}

fn credential_target(c: &CredentialRow) -> Value {
    json!({"target": {"credential": {
        "id": c.id, "user_id": c.user_id, "project_id": c.project_id, "type": c.cred_type,
    }}})
}

/// Loads a credential and authorizes `action` on it. A missing credential
/// is authorized against an empty target first, so that only those who
/// could see any credential learn it does not exist.
async fn load(id: &Identity, ctx: &AuthContext, action: &str, cid: &str) -> Result<CredentialRow, ApiError> {
    match id.get_credential(cid).await {
        Ok(c) => {
            authorize(id, ctx, action, credential_target(&c))?;
            id.check_credential_access(ctx)?;
            Ok(c)
        }
        Err(e @ IdentityError::NotFound { .. }) => {
            authorize(id, ctx, action, json!({}))?;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

async fn list_credentials(State(id): State<Identity>, Auth(ctx): Auth, q: QueryPairs) -> Result<Response, ApiError> {
    let target = match ctx.system_scope {
        Some(_) => json!({}),
        None => json!({"target": {"credential": {"user_id": ctx.user_id}}}),
    };
    authorize(&id, &ctx, "identity:list_credentials", target)?;
    let user = query_get(&q, "user_id");
    let cred_type = query_get(&q, "type");
    let delegated = id.check_credential_access(&ctx).is_err();
    let items = id
        .list_credentials()
        .await?
        .iter()
        .filter(|c| user.is_none_or(|u| c.user_id == u) && cred_type.is_none_or(|t| c.cred_type == t))
        .filter(|c| !delegated && authorize(&id, &ctx, "identity:get_credential", credential_target(c)).is_ok())
        .map(|c| render(&id, c))
        .collect();
    Ok(axum::Json(collection(&id, "credentials", "credentials", items)).into_response())
}

async fn create_credential(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    reject_nul(&body)?;
    let obj = entity(body, "credential")?;
    authorize(
        &id,
        &ctx,
        "identity:create_credential",
        json!({"target": {"credential": obj.clone()}}),
    )?;
    id.check_credential_access(&ctx)?;
    let required = |key: &str| {
        IdentityError::bad(format!(
            "Invalid input for field 'credential': '{key}' is a required property."
        ))
    };
    let new = NewCredential {
        user_id: opt_str(&obj, "credential", "user_id")?.ok_or_else(|| required("user_id"))?,
        project_id: opt_str(&obj, "credential", "project_id")?,
        cred_type: opt_str(&obj, "credential", "type")?.ok_or_else(|| required("type"))?,
        blob: opt_str(&obj, "credential", "blob")?.ok_or_else(|| required("blob"))?,
        extra: extras(obj, FIELDS),
    };
    let c = id.create_credential(new).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"credential": render(&id, &c)}))).into_response())
}

async fn get_credential(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(cid): Path<String>,
) -> Result<Response, ApiError> {
    let c = load(&id, &ctx, "identity:get_credential", &cid).await?;
    Ok(axum::Json(json!({"credential": render(&id, &c)})).into_response())
}

async fn update_credential(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(cid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    load(&id, &ctx, "identity:update_credential", &cid).await?;
    reject_nul(&body)?;
    let obj = entity(body, "credential")?;
    if let Some(k) = obj.keys().find(|k| k.as_str() != "blob") {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field 'credential': only 'blob' may be updated ('{k}' was unexpected)."
        )));
    }
    let blob = opt_str(&obj, "credential", "blob")?
        .ok_or_else(|| ApiError::bad_request("Invalid input for field 'credential': 'blob' is a required property."))?;
    let c = id.update_credential_blob(&cid, blob).await?;
    Ok(axum::Json(json!({"credential": render(&id, &c)})).into_response())
}

async fn delete_credential(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(cid): Path<String>,
) -> Result<StatusCode, ApiError> {
    load(&id, &ctx, "identity:delete_credential", &cid).await?;
    id.delete_credential(&cid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_ec2(State(id): State<Identity>, Auth(ctx): Auth, Path(uid): Path<String>) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:ec2_list_credentials", json!({"user_id": uid}))?;
    id.check_credential_access(&ctx)?;
    let items = id
        .list_ec2_credentials(&uid)
        .await?
        .iter()
        .map(|c| render_ec2(&id, c))
        .collect();
    let path = format!("users/{uid}/credentials/OS-EC2");
    Ok(axum::Json(collection(&id, "credentials", &path, items)).into_response())
}

async fn create_ec2(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(uid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    let target = json!({"target": {"credential": {"user_id": uid}}});
    authorize(&id, &ctx, "identity:ec2_create_credential", target)?;
    id.check_credential_access(&ctx)?;
    reject_nul(&body)?;
    let tenant = match body.get("tenant_id") {
        Some(Value::String(t)) => t.clone(),
        _ => {
            return Err(ApiError::bad_request(
                "Invalid input for field 'tenant_id': a project id is required.",
            ));
        }
    };
    let c = id.create_ec2_credential(&uid, &tenant, ctx.trust_id.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"credential": render_ec2(&id, &c)})),
    )
        .into_response())
}

/// Authorizes `action` on the credential behind an access key (Keystone's
/// `_build_enforcer_target_data_owner_and_user_id_match`).
async fn authorize_ec2(id: &Identity, ctx: &AuthContext, action: &str, access: &str) -> Result<(), ApiError> {
    let c = id.credential_by_access(access).await?;
    authorize(id, ctx, action, credential_target(&c))?;
    id.check_credential_access(ctx)?;
    Ok(())
}

async fn get_ec2(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((uid, access)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize_ec2(&id, &ctx, "identity:ec2_get_credential", &access).await?;
    let c = id.get_ec2_credential(&uid, &access).await?;
    Ok(axum::Json(json!({"credential": render_ec2(&id, &c)})).into_response())
}

async fn delete_ec2(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((uid, access)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    authorize_ec2(&id, &ctx, "identity:ec2_delete_credential", &access).await?;
    id.delete_ec2_credential(&uid, &access).await?;
    Ok(StatusCode::NO_CONTENT)
}
