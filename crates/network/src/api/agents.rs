//! `/v2.0/agents` (the `agent` extension, admins only): the network
//! agents and their liveness; an agent's `admin_state_up` and
//! `description` may be changed, and a dead agent deleted. As in Neutron,
//! others see an empty list and 404s: agents are not theirs to know of.
//! Also the middleware that tells agents of data-plane writes.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::attrs::{self, DESCRIPTION_MAX, Method};
use super::listing::{Collection, ListQuery};
use super::{ApiResult, QueryPairs, no_content, timestamp};
use crate::Network;
use crate::agents::{self, Agent, AgentChanges};
use crate::error::NetworkError;
use api::{Auth, AuthContext};

const KNOWN: &[&str] = &[
    "id",
    "agent_type",
    "binary",
    "topic",
    "host",
    "admin_state_up",
    "alive",
    "description",
    "configurations",
    "created_at",
    "started_at",
    "heartbeat_timestamp",
    "resources_synced",
];

const PUT: &[&str] = &["admin_state_up", "description"];

pub const COLLECTION: Collection = Collection {
    name: "agents",
    path: "agents",
    filters: &[
        "id",
        "agent_type",
        "binary",
        "topic",
        "host",
        "admin_state_up",
        "alive",
        "description",
    ],
    sort_keys: &[
        "id",
        "agent_type",
        "binary",
        "topic",
        "host",
        "admin_state_up",
        "alive",
        "created_at",
        "started_at",
        "heartbeat_timestamp",
    ],
};

/// A caller who may not see agents gets a 404, not a 403 (Neutron's
/// "pretend that it doesn't exist").
fn visible(n: &Network, ctx: &AuthContext) -> ApiResult<()> {
    if n.allows(ctx, "get_agent", &json!({})) {
        Ok(())
    } else {
        Err(NetworkError::hidden().into())
    }
}

fn render(a: &Agent) -> Value {
    let r = &a.row;
    json!({
        "id": r.id,
        "agent_type": r.agent_type,
        "binary": r.binary,
        "topic": r.topic,
        "host": r.host,
        "admin_state_up": r.admin_state_up,
        "alive": a.alive,
        "description": r.description,
        "configurations": r.configurations,
        "created_at": timestamp(r.created_at),
        "started_at": timestamp(r.started_at),
        "heartbeat_timestamp": timestamp(r.heartbeat_timestamp),
        "resources_synced": null,
    })
}

pub async fn list(State(n): State<Network>, Auth(ctx): Auth, q: QueryPairs) -> ApiResult<Response> {
    let query = ListQuery::parse(&q.0, &COLLECTION, n.config.pagination_max_limit)?;
    let items = if n.allows(&ctx, "get_agent", &json!({})) {
        agents::list(&n).await?.iter().map(render).collect()
    } else {
        Vec::new()
    };
    query.respond(&n, &COLLECTION, items)
}

pub async fn show(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryPairs,
) -> ApiResult<Response> {
    visible(&n, &ctx)?;
    let a = agents::get(&n, &id).await?;
    Ok(super::json(
        StatusCode::OK,
        json!({"agent": ListQuery::fields_of(&q.0, render(&a))}),
    ))
}

pub async fn update(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    visible(&n, &ctx)?;
    n.authorize(&ctx, "update_agent", &json!({}))?;
    let m = attrs::resource(&headers, &bytes, "agent")?;
    attrs::check(&m, KNOWN, PUT, Method::Put)?;
    let changes = AgentChanges {
        admin_state_up: attrs::boolean(&m, "admin_state_up")?,
        description: attrs::string(&m, "description", DESCRIPTION_MAX)?,
    };
    let a = agents::update(&n, &id, changes).await?;
    Ok(super::json(StatusCode::OK, json!({"agent": render(&a)})))
}

pub async fn delete(State(n): State<Network>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult<Response> {
    visible(&n, &ctx)?;
    n.authorize(&ctx, "delete_agent", &json!({}))?;
    agents::delete(&n, &id).await?;
    Ok(no_content())
}

/// The collections whose writes change what agents build.
const DATA_PLANE: &[&str] = &[
    "/v2.0/networks",
    "/v2.0/subnets",
    "/v2.0/ports",
    "/v2.0/routers",
    "/v2.0/floatingips",
    "/v2.0/security-groups",
    "/v2.0/security-group-rules",
];

/// After a successful write to a data-plane resource, fans
/// `state_changed` out to the agents (see [`Network::notify_agents`]). One
/// hook here rather than one per domain function: every write the API
/// takes passes through it, including ones added later.
pub(crate) async fn notify_on_write(State(n): State<Network>, req: Request, next: Next) -> Response {
    let write = matches!(
        *req.method(),
        HttpMethod::POST | HttpMethod::PUT | HttpMethod::DELETE | HttpMethod::PATCH
    );
    let path = req.uri().path();
    let data_plane = write
        && DATA_PLANE.iter().any(|p| {
            path.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        && !path.contains("/tags");
    let response = next.run(req).await;
    if data_plane && response.status().is_success() {
        n.notify_agents();
    }
    response
}
