//! `/v3/auth/*`: issuing, validating and revoking tokens, and what a token
//! may see (its catalog, the projects, domains and system it could scope to).

use std::collections::BTreeSet;

use api::{ApiError, Auth, ValidJson};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{QueryPairs, authorize, collection, query_flag, self_link};
use crate::Identity;
use crate::assignment::{AssignmentFilter, Target};
use crate::token::AuthRequest;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/auth/tokens", get(validate).head(check).delete(revoke).post(issue))
        .route("/v3/auth/catalog", get(catalog))
        .route("/v3/auth/projects", get(projects))
        .route("/v3/auth/domains", get(domains))
        .route("/v3/auth/system", get(system))
}

fn parse_auth(body: &Value) -> Result<AuthRequest, ApiError> {
    let auth = body
        .get("auth")
        .filter(|a| a.is_object())
        .ok_or_else(|| ApiError::bad_request("Invalid input: 'auth' is a required property."))?;
    let identity = auth
        .get("identity")
        .filter(|i| i.is_object())
        .ok_or_else(|| ApiError::bad_request("Invalid input for field 'auth': 'identity' is a required property."))?;
    let methods = identity
        .get("methods")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("Invalid input for field 'identity': 'methods' is a required property."))?
        .iter()
        .map(|m| {
            m.as_str().map(str::to_owned).ok_or_else(|| {
                ApiError::bad_request("Invalid input for field 'identity.methods': items must be strings.")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let scope = auth.get("scope").cloned();
    if let Some(s) = &scope
        && !(s.is_object() || s.is_null() || s.as_str() == Some("unscoped"))
    {
        return Err(ApiError::bad_request("Invalid input for field 'auth.scope'."));
    }
    Ok(AuthRequest {
        methods,
        identity: identity.clone(),
        scope,
    })
}

fn with_subject(mut resp: Response, token: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(token) {
        resp.headers_mut().insert("x-subject-token", v);
    }
    resp
}

async fn issue(
    State(id): State<Identity>,
    q: QueryPairs,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    let req = parse_auth(&body)?;
    let (token, v) = id.issue_token(req).await?;
    let nocatalog = query_flag(&q, "nocatalog").unwrap_or(false);
    let body = id.token_response(&v, !nocatalog).await?;
    Ok(with_subject(
        (StatusCode::CREATED, axum::Json(body)).into_response(),
        &token,
    ))
}

fn subject(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request("Expecting to find X-Subject-Token in the request headers."))
}

/// Loads the subject token and authorizes `action` on it.
async fn subject_token(
    id: &Identity,
    ctx: &api::AuthContext,
    headers: &HeaderMap,
    action: &str,
    allow_expired: bool,
) -> Result<(String, std::sync::Arc<crate::token::ValidatedToken>), ApiError> {
    let token = subject(headers)?;
    let v = id.validate_token(&token, allow_expired).await?;
    authorize(
        id,
        ctx,
        action,
        json!({"target": {"token": {"user_id": v.payload.user_id}}, "target.token.user_id": v.payload.user_id}),
    )?;
    Ok((token, v))
}

async fn validate(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    q: QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let allow_expired = query_flag(&q, "allow_expired").unwrap_or(false);
    let (token, v) = subject_token(&id, &ctx, &headers, "identity:validate_token", allow_expired).await?;
    let nocatalog = query_flag(&q, "nocatalog").unwrap_or(false);
    let body = id.token_response_bytes(&v, !nocatalog).await?;
    let resp = ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response();
    Ok(with_subject(resp, &token))
}

async fn check(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    q: QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let allow_expired = query_flag(&q, "allow_expired").unwrap_or(false);
    let (token, _) = subject_token(&id, &ctx, &headers, "identity:check_token", allow_expired).await?;
    Ok(with_subject(StatusCode::OK.into_response(), &token))
}

async fn revoke(State(id): State<Identity>, Auth(ctx): Auth, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let (token, _) = subject_token(&id, &ctx, &headers, "identity:revoke_token", false).await?;
    id.revoke_token(&token).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn catalog(State(id): State<Identity>, Auth(ctx): Auth) -> Result<axum::Json<Value>, ApiError> {
    if ctx.project_id.is_none() && ctx.domain_id.is_none() && ctx.system_scope.is_none() {
        return Err(ApiError::forbidden("A scoped token is required to read the catalog."));
    }
    let catalog = id.catalog_for(ctx.project_id.as_deref()).await?;
    Ok(axum::Json(
        json!({"catalog": *catalog, "links": self_link(&id, "auth/catalog")}),
    ))
}

/// The targets (projects or domains) the caller holds any role on.
async fn scopes_of(id: &Identity, user_id: &str) -> Result<Vec<Target>, ApiError> {
    let rows = id
        .list_role_assignments(&AssignmentFilter {
            user_id: Some(user_id.to_owned()),
            effective: true,
            ..Default::default()
        })
        .await?;
    let mut seen = BTreeSet::new();
    Ok(rows
        .into_iter()
        .map(|r| r.target)
        .filter(|t| seen.insert(format!("{t:?}")))
        .collect())
}

async fn projects(State(id): State<Identity>, Auth(ctx): Auth) -> Result<axum::Json<Value>, ApiError> {
    let mut out = Vec::new();
    for t in scopes_of(&id, &ctx.user_id).await? {
        if let Target::Project(p) = t
            && let Ok(p) = id.get_project(&p).await
            && p.enabled
        {
            out.push(super::projects::render_project(&id, &p));
        }
    }
    Ok(axum::Json(collection(&id, "projects", "auth/projects", out)))
}

async fn domains(State(id): State<Identity>, Auth(ctx): Auth) -> Result<axum::Json<Value>, ApiError> {
    let mut out = Vec::new();
    for t in scopes_of(&id, &ctx.user_id).await? {
        if let Target::Domain(d) = t
            && let Ok(d) = id.get_domain(&d).await
            && d.enabled
        {
            out.push(super::projects::render_domain(&id, &d));
        }
    }
    Ok(axum::Json(collection(&id, "domains", "auth/domains", out)))
}

async fn system(State(id): State<Identity>, Auth(ctx): Auth) -> Result<axum::Json<Value>, ApiError> {
    let roles = id.effective_roles(&ctx.user_id, &Target::System).await?;
    let system: Vec<Value> = if roles.is_empty() {
        vec![]
    } else {
        vec![json!({"all": true})]
    };
    Ok(axum::Json(
        json!({"system": system, "links": self_link(&id, "auth/system")}),
    ))
}
