//! `/v2.0/floatingips` and `/v2.0/floatingips/{id}`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::attrs::{self, DESCRIPTION_MAX, Method};
use super::listing::{Collection, ListQuery};
use super::{ApiResult, QueryPairs, no_content, timestamp};
use crate::Network;
use crate::db::floating_ips::FloatingIpRow;
use crate::floating_ips::{self, FloatingIpChanges, NewFloatingIp};
use crate::tags::{self, Taggable};
use api::Auth;

const KNOWN: &[&str] = &[
    "id",
    "floating_ip_address",
    "floating_network_id",
    "subnet_id",
    "router_id",
    "port_id",
    "fixed_ip_address",
    "project_id",
    "tenant_id",
    "status",
    "description",
    "created_at",
    "updated_at",
    "revision_number",
    "tags",
];

const POST: &[&str] = &[
    "floating_ip_address",
    "floating_network_id",
    "subnet_id",
    "port_id",
    "fixed_ip_address",
    "project_id",
    "tenant_id",
    "description",
];

const PUT: &[&str] = &["port_id", "fixed_ip_address", "description"];

pub const COLLECTION: Collection = Collection {
    name: "floatingips",
    path: "floatingips",
    filters: &[
        "id",
        "floating_ip_address",
        "floating_network_id",
        "router_id",
        "port_id",
        "fixed_ip_address",
        "project_id",
        "tenant_id",
        "status",
        "description",
        "revision_number",
    ],
    sort_keys: &[
        "id",
        "floating_ip_address",
        "floating_network_id",
        "router_id",
        "fixed_ip_address",
        "project_id",
        "tenant_id",
        "status",
        "revision_number",
        "created_at",
        "updated_at",
    ],
};

fn target(project_id: &str) -> Value {
    json!({"project_id": project_id, "tenant_id": project_id})
}

pub(crate) fn render(f: &FloatingIpRow, tags: &[String]) -> Value {
    json!({
        "id": f.id,
        "floating_ip_address": f.floating_ip_address,
        "floating_network_id": f.floating_network_id,
        "router_id": f.router_id,
        "port_id": f.fixed_port_id,
        "fixed_ip_address": f.fixed_ip_address,
        "project_id": f.project_id,
        "tenant_id": f.project_id,
        "status": f.status,
        "description": f.description,
        "created_at": timestamp(f.created_at),
        "updated_at": timestamp(f.updated_at),
        "revision_number": f.revision_number,
        "tags": tags,
    })
}

async fn view(n: &Network, f: &FloatingIpRow) -> ApiResult<Value> {
    Ok(render(f, &tags::list(n, Taggable::FloatingIp, &f.id).await?))
}

/// A UUID that may be `null`: `Some(None)`.
fn uuid_or_null(m: &Map<String, Value>, key: &str) -> ApiResult<Option<Option<String>>> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(_) => Ok(Some(attrs::uuid(m, key)?)),
    }
}

/// The request's attributes with their own policy rules: the address
/// only when one is asked for.
fn policy_attrs(m: &Map<String, Value>) -> Vec<&str> {
    m.iter()
        .filter(|(k, v)| *k != "floating_ip_address" || !v.is_null())
        .map(|(k, _)| k.as_str())
        .collect()
}

pub async fn list(State(n): State<Network>, Auth(ctx): Auth, q: QueryPairs) -> ApiResult<Response> {
    let query = ListQuery::parse(&q.0, &COLLECTION, n.config.pagination_max_limit)?;
    let rows = floating_ips::list(&n, &n.caller(&ctx)).await?;
    let tags = tags::all_of(&n, Taggable::FloatingIp).await?;
    let items = rows
        .iter()
        .map(|f| render(f, tags.get(&f.id).map(Vec::as_slice).unwrap_or_default()))
        .collect();
    query.respond(&n, &COLLECTION, items)
}

pub async fn show(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryPairs,
) -> ApiResult<Response> {
    let f = floating_ips::get(&n, &n.caller(&ctx), &id).await?;
    let v = view(&n, &f).await?;
    Ok(super::json(
        StatusCode::OK,
        json!({"floatingip": ListQuery::fields_of(&q.0, v)}),
    ))
}

pub async fn create(
    State(n): State<Network>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let m = attrs::resource(&headers, &bytes, "floatingip")?;
    attrs::check(&m, KNOWN, POST, Method::Post)?;
    let caller = n.caller(&ctx);
    let project_id = attrs::owner(&m, &caller.project_id, caller.all_projects)?;
    let Some(network_id) = attrs::uuid(&m, "floating_network_id")? else {
        return Err(crate::error::NetworkError::http_bad_request(
            "Failed to parse request. Required attribute 'floating_network_id' not specified",
        )
        .into());
    };
    let spec = NewFloatingIp {
        project_id: project_id.clone(),
        floating_network_id: network_id,
        floating_ip_address: attrs::ip_or_null(&m, "floating_ip_address")?.flatten(),
        subnet_id: uuid_or_null(&m, "subnet_id")?.flatten(),
        port_id: uuid_or_null(&m, "port_id")?.flatten(),
        fixed_ip_address: attrs::ip_or_null(&m, "fixed_ip_address")?.flatten(),
        description: attrs::string(&m, "description", DESCRIPTION_MAX)?.unwrap_or_default(),
    };
    n.authorize_attrs(&ctx, "create_floatingip", &policy_attrs(&m), &target(&project_id))?;
    let f = floating_ips::create(&n, &caller, spec).await?;
    Ok(super::json(
        StatusCode::CREATED,
        json!({"floatingip": view(&n, &f).await?}),
    ))
}

pub async fn update(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let caller = n.caller(&ctx);
    let current = floating_ips::get(&n, &caller, &id).await?;
    let m = attrs::resource(&headers, &bytes, "floatingip")?;
    attrs::check(&m, KNOWN, PUT, Method::Put)?;
    let changes = FloatingIpChanges {
        port_id: uuid_or_null(&m, "port_id")?,
        fixed_ip_address: attrs::ip_or_null(&m, "fixed_ip_address")?.flatten(),
        description: attrs::string(&m, "description", DESCRIPTION_MAX)?,
    };
    n.authorize_attrs(
        &ctx,
        "update_floatingip",
        &policy_attrs(&m),
        &target(&current.project_id),
    )?;
    let f = floating_ips::update(&n, &caller, &id, changes).await?;
    Ok(super::json(StatusCode::OK, json!({"floatingip": view(&n, &f).await?})))
}

pub async fn delete(State(n): State<Network>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let caller = n.caller(&ctx);
    let current = floating_ips::get(&n, &caller, &id).await?;
    n.authorize(&ctx, "delete_floatingip", &target(&current.project_id))?;
    floating_ips::delete(&n, &caller, &id).await?;
    Ok(no_content())
}
