//! `/v2.0/{networks,subnets,ports,security-groups,routers,floatingips}/{id}/tags[/{tag}]`:
//! reading tags needs the resource to be visible, changing them the
//! resource's update rule.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde_json::{Value, json};

use super::{ApiResult, attrs, no_content};
use crate::error::NetworkError;
use crate::tags::{self, MAX_TAG_LEN, Taggable};
use crate::{Network, floating_ips, networks, ports, routers, security_groups, subnets};
use api::{Auth, AuthContext};

/// The routes of one taggable collection.
pub fn routes(collection: &str, kind: Taggable) -> Router<Network> {
    Router::new()
        .route(
            &format!("/v2.0/{collection}/{{id}}/tags"),
            get(move |s, a, p| list(kind, s, a, p))
                .put(move |s, a, p, b| replace(kind, s, a, p, b))
                .delete(move |s, a, p| remove_all(kind, s, a, p)),
        )
        .route(
            &format!("/v2.0/{collection}/{{id}}/tags/{{tag}}"),
            get(move |s, a, p| check(kind, s, a, p))
                .put(move |s, a, p| add(kind, s, a, p))
                .delete(move |s, a, p| remove(kind, s, a, p)),
        )
}

/// The resource must be visible; for writes, its update rule must pass.
async fn authorize(n: &Network, ctx: &AuthContext, kind: Taggable, id: &str, write: bool) -> ApiResult<()> {
    let caller = n.caller(ctx);
    let (owner, rule) = match kind {
        Taggable::Network => (networks::get(n, &caller, id).await?.project_id, "update_network"),
        Taggable::Subnet => (subnets::get(n, &caller, id).await?.project_id, "update_subnet"),
        Taggable::Port => (ports::get(n, &caller, id).await?.project_id, "update_port"),
        Taggable::SecurityGroup => (
            security_groups::get(n, &caller, id).await?.0.project_id,
            "update_security_group",
        ),
        Taggable::Router => (routers::get(n, &caller, id).await?.row.project_id, "update_router"),
        Taggable::FloatingIp => (floating_ips::get(n, &caller, id).await?.project_id, "update_floatingip"),
    };
    if write {
        n.authorize(ctx, rule, &json!({"project_id": owner, "tenant_id": owner}))?;
    }
    Ok(())
}

fn valid_tag(tag: &str) -> ApiResult<()> {
    if tag.is_empty() || tag.chars().count() > MAX_TAG_LEN {
        return Err(NetworkError::invalid_attr(
            "tags",
            format!("'{tag}' is not a valid tag: 1 to {MAX_TAG_LEN} characters"),
        )
        .into());
    }
    Ok(())
}

async fn list(
    kind: Taggable,
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    authorize(&n, &ctx, kind, &id, false).await?;
    let t = tags::list(&n, kind, &id).await?;
    Ok(super::json(StatusCode::OK, json!({"tags": t})))
}

async fn check(
    kind: Taggable,
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    authorize(&n, &ctx, kind, &id, false).await?;
    if tags::list(&n, kind, &id).await?.contains(&tag) {
        Ok(no_content())
    } else {
        Err(NetworkError::not_found(
            "TagNotFound",
            format!("Tag {tag} could not be found for {} {id}.", kind.singular()),
        )
        .into())
    }
}

async fn add(
    kind: Taggable,
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    valid_tag(&tag)?;
    authorize(&n, &ctx, kind, &id, true).await?;
    tags::add(&n, kind, &id, &tag).await?;
    Ok(StatusCode::CREATED.into_response())
}

async fn replace(
    kind: Taggable,
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    authorize(&n, &ctx, kind, &id, true).await?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| NetworkError::bad("MalformedRequestBody", format!("Malformed request body: {e}.")))?;
    let mut wrapper = serde_json::Map::new();
    wrapper.insert("tags".into(), body.get("tags").cloned().unwrap_or(Value::Null));
    let Some(wanted) = attrs::string_list(&wrapper, "tags", MAX_TAG_LEN)? else {
        return Err(NetworkError::http_bad_request("Unable to find 'tags' in request body").into());
    };
    for t in &wanted {
        valid_tag(t)?;
    }
    let t = tags::replace(&n, kind, &id, &wanted).await?;
    Ok(super::json(StatusCode::OK, json!({"tags": t})))
}

async fn remove(
    kind: Taggable,
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    authorize(&n, &ctx, kind, &id, true).await?;
    tags::remove(&n, kind, &id, &tag).await?;
    Ok(no_content())
}

async fn remove_all(
    kind: Taggable,
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    authorize(&n, &ctx, kind, &id, true).await?;
    tags::remove_all(&n, kind, &id).await?;
    Ok(no_content())
}
