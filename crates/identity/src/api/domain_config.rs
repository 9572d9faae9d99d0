//! `/v3/domains/{id}/config[/{group}[/{option}]]` and
//! `/v3/domains/config[/{group}[/{option}]]/default`: domain-specific
//! configuration (see [`crate::domain_config`]).

use api::{ApiError, Auth, AuthContext, ValidJson};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{authorize, entity};
use crate::Identity;
use crate::domain_config::SECURITY_COMPLIANCE;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route(
            "/v3/domains/{id}/config",
            get(get_config)
                .put(create_config)
                .patch(update_config)
                .delete(delete_config),
        )
        .route(
            "/v3/domains/{id}/config/{group}",
            get(get_group).patch(update_group).delete(delete_group),
        )
        .route(
            "/v3/domains/{id}/config/{group}/{option}",
            get(get_option).patch(update_option).delete(delete_option),
        )
        .route("/v3/domains/config/default", get(get_default))
        .route("/v3/domains/config/{group}/default", get(get_group_default))
        .route("/v3/domains/config/{group}/{option}/default", get(get_option_default))
}

fn ok(config: Value) -> Response {
    axum::Json(json!({ "config": config })).into_response()
}

async fn show(
    id: &Identity,
    ctx: &AuthContext,
    domain_id: &str,
    group: Option<&str>,
    option: Option<&str>,
) -> Result<Response, ApiError> {
    if group == Some(SECURITY_COMPLIANCE) {
        authorize(id, ctx, "identity:get_security_compliance_domain_config", json!({}))?;
        return Ok(ok(id.security_compliance_config(domain_id, option)?));
    }
    authorize(id, ctx, "identity:get_domain_config", json!({}))?;
    Ok(ok(id.get_domain_config(domain_id, group, option).await?))
}

async fn update(
    id: &Identity,
    ctx: &AuthContext,
    domain_id: &str,
    group: Option<&str>,
    option: Option<&str>,
    body: Value,
) -> Result<Response, ApiError> {
    authorize(id, ctx, "identity:update_domain_config", json!({}))?;
    let config = entity(body, "config")?;
    Ok(ok(id.update_domain_config(domain_id, &config, group, option).await?))
}

async fn delete(
    id: &Identity,
    ctx: &AuthContext,
    domain_id: &str,
    group: Option<&str>,
    option: Option<&str>,
) -> Result<StatusCode, ApiError> {
    authorize(id, ctx, "identity:delete_domain_config", json!({}))?;
    id.delete_domain_config(domain_id, group, option).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// PUT replaces the configuration: 201 when the domain had none, else 200.
async fn create_config(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(domain_id): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:create_domain_config", json!({}))?;
    let config = entity(body, "config")?;
    let (config, created) = id.create_domain_config(&domain_id, &config).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(json!({ "config": config }))).into_response())
}

async fn get_config(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(domain_id): Path<String>,
) -> Result<Response, ApiError> {
    show(&id, &ctx, &domain_id, None, None).await
}

async fn update_config(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(domain_id): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    update(&id, &ctx, &domain_id, None, None, body).await
}

async fn delete_config(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(domain_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete(&id, &ctx, &domain_id, None, None).await
}

async fn get_group(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((domain_id, group)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    show(&id, &ctx, &domain_id, Some(&group), None).await
}

async fn update_group(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((domain_id, group)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    update(&id, &ctx, &domain_id, Some(&group), None, body).await
}

async fn delete_group(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((domain_id, group)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    delete(&id, &ctx, &domain_id, Some(&group), None).await
}

async fn get_option(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((domain_id, group, option)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    show(&id, &ctx, &domain_id, Some(&group), Some(&option)).await
}

async fn update_option(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((domain_id, group, option)): Path<(String, String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    update(&id, &ctx, &domain_id, Some(&group), Some(&option), body).await
}

async fn delete_option(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((domain_id, group, option)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    delete(&id, &ctx, &domain_id, Some(&group), Some(&option)).await
}

async fn get_default(State(id): State<Identity>, Auth(ctx): Auth) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:get_domain_config_default", json!({}))?;
    Ok(ok(id.domain_config_default(None, None)?))
}

async fn get_group_default(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(group): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:get_domain_config_default", json!({}))?;
    Ok(ok(id.domain_config_default(Some(&group), None)?))
}

async fn get_option_default(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((group, option)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:get_domain_config_default", json!({}))?;
    Ok(ok(id.domain_config_default(Some(&group), Some(&option))?))
}
