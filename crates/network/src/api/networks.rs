//! `/v2.0/networks` and `/v2.0/networks/{id}`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::attrs::{self, DESCRIPTION_MAX, Method, NAME_MAX};
use super::listing::{Collection, ListQuery};
use super::{ApiResult, QueryPairs, no_content, timestamp};
use crate::Network;
use crate::db::networks::NetworkRow;
use crate::networks::{self, NetworkChanges, NewNetwork};
use crate::tags::{self, Taggable};
use api::{Auth, AuthContext};

const KNOWN: &[&str] = &[
    "id",
    "name",
    "description",
    "admin_state_up",
    "status",
    "shared",
    "router:external",
    "mtu",
    "port_security_enabled",
    "subnets",
    "project_id",
    "tenant_id",
    "availability_zone_hints",
    "availability_zones",
    "ipv4_address_scope",
    "ipv6_address_scope",
    "created_at",
    "updated_at",
    "revision_number",
    "tags",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
];

const POST: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "shared",
    "router:external",
    "port_security_enabled",
    "project_id",
    "tenant_id",
    "availability_zone_hints",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
];

const PUT: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "shared",
    "router:external",
    "port_security_enabled",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
];

const PROVIDER: &[&str] = &[
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
];

pub const COLLECTION: Collection = Collection {
    name: "networks",
    path: "networks",
    filters: &[
        "id",
        "name",
        "description",
        "admin_state_up",
        "status",
        "shared",
        "router:external",
        "mtu",
        "port_security_enabled",
        "project_id",
        "tenant_id",
        "revision_number",
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
    ],
    sort_keys: &[
        "id",
        "name",
        "description",
        "admin_state_up",
        "status",
        "shared",
        "router:external",
        "mtu",
        "port_security_enabled",
        "project_id",
        "tenant_id",
        "revision_number",
        "created_at",
        "updated_at",
    ],
};

/// The policy target of a network.
fn target(row: &NetworkRow) -> Value {
    json!({
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "shared": row.shared,
        "router:external": row.external,
    })
}

pub(crate) fn render(row: &NetworkRow, subnets: &[String], tags: &[String], show_provider: bool) -> Value {
    let mut v = json!({
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "admin_state_up": row.admin_state_up,
        "status": "ACTIVE",
        "shared": row.shared,
        "router:external": row.external,
        "mtu": row.mtu,
        "port_security_enabled": row.port_security_enabled,
        "subnets": subnets,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "availability_zone_hints": row.availability_zone_hints,
        "availability_zones": [],
        "ipv4_address_scope": null,
        "ipv6_address_scope": null,
        "created_at": timestamp(row.created_at),
        "updated_at": timestamp(row.updated_at),
        "revision_number": row.revision_number,
        "tags": tags,
    });
    if show_provider {
        v["provider:network_type"] = json!(row.network_type);
        v["provider:physical_network"] = json!(row.physical_network);
        v["provider:segmentation_id"] = json!(row.segmentation_id);
    }
    v
}

fn shows_provider(n: &Network, ctx: &AuthContext, row: &NetworkRow) -> bool {
    n.allows(ctx, "get_network:provider:network_type", &target(row))
}

/// A network as its owner sees it after a write.
async fn view(n: &Network, ctx: &AuthContext, row: &NetworkRow) -> ApiResult<Value> {
    let subnets = networks::subnet_ids(n).await?.remove(&row.id).unwrap_or_default();
    let tags = tags::list(n, Taggable::Network, &row.id).await?;
    Ok(render(row, &subnets, &tags, shows_provider(n, ctx, row)))
}

pub async fn list(State(n): State<Network>, Auth(ctx): Auth, q: QueryPairs) -> ApiResult<Response> {
    let query = ListQuery::parse(&q.0, &COLLECTION, n.config.pagination_max_limit)?;
    let caller = n.caller(&ctx);
    let rows = networks::list(&n, &caller).await?;
    let mut subnets = networks::subnet_ids(&n).await?;
    let tags = tags::all_of(&n, Taggable::Network).await?;
    let items = rows
        .iter()
        .map(|r| {
            let s = subnets.remove(&r.id).unwrap_or_default();
            let t = tags.get(&r.id).cloned().unwrap_or_default();
            render(r, &s, &t, shows_provider(&n, &ctx, r))
        })
        .collect();
    query.respond(&n, &COLLECTION, items)
}

pub async fn show(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryPairs,
) -> ApiResult<Response> {
    let row = networks::get(&n, &n.caller(&ctx), &id).await?;
    let v = view(&n, &ctx, &row).await?;
    Ok(super::json(
        StatusCode::OK,
        json!({"network": ListQuery::fields_of(&q.0, v)}),
    ))
}

fn set_attrs(m: &Map<String, Value>) -> Vec<&str> {
    m.keys().map(String::as_str).collect()
}

pub async fn create(
    State(n): State<Network>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    if let Some(items) = super::bulk::items(&bytes, "network", "networks")? {
        let caller = n.caller(&ctx);
        return super::bulk::create(
            &headers,
            items,
            "networks",
            |h, b| create_one(n.clone(), ctx.clone(), h, b),
            |id| {
                let (n, caller) = (n.clone(), caller.clone());
                async move { networks::delete(&n, &caller, &id).await }
            },
        )
        .await;
    }
    let v = create_one(n, ctx, headers, bytes).await?;
    Ok(super::json(StatusCode::CREATED, json!({"network": v})))
}

async fn create_one(
    n: Network,
    ctx: std::sync::Arc<AuthContext>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Value> {
    let m = attrs::resource(&headers, &bytes, "network")?;
    attrs::check(&m, KNOWN, POST, Method::Post)?;
    let caller = n.caller(&ctx);
    let project_id = attrs::owner(&m, &caller.project_id, caller.all_projects)?;
    let spec = NewNetwork {
        project_id: project_id.clone(),
        name: attrs::string(&m, "name", NAME_MAX)?.unwrap_or_default(),
        description: attrs::string(&m, "description", DESCRIPTION_MAX)?.unwrap_or_default(),
        admin_state_up: attrs::boolean(&m, "admin_state_up")?.unwrap_or(true),
        shared: attrs::boolean(&m, "shared")?.unwrap_or(false),
        external: attrs::boolean(&m, "router:external")?.unwrap_or(false),
        port_security_enabled: attrs::boolean(&m, "port_security_enabled")?.unwrap_or(true),
        network_type: attrs::string(&m, "provider:network_type", 32)?,
        physical_network: attrs::string(&m, "provider:physical_network", 64)?,
        segmentation_id: attrs::int(&m, "provider:segmentation_id")?,
        availability_zone_hints: attrs::string_list(&m, "availability_zone_hints", 255)?.unwrap_or_default(),
    };
    let t = json!({"project_id": project_id, "tenant_id": project_id});
    n.authorize_attrs(&ctx, "create_network", &set_attrs(&m), &t)?;
    let row = networks::create(&n, spec).await?;
    view(&n, &ctx, &row).await
}

pub async fn update(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let caller = n.caller(&ctx);
    let current = networks::get(&n, &caller, &id).await?;
    let m = attrs::resource(&headers, &bytes, "network")?;
    attrs::check(&m, KNOWN, PUT, Method::Put)?;
    let provider = |key: &str| m.contains_key(key);
    let changes = NetworkChanges {
        name: attrs::string(&m, "name", NAME_MAX)?,
        description: attrs::string(&m, "description", DESCRIPTION_MAX)?,
        admin_state_up: attrs::boolean(&m, "admin_state_up")?,
        shared: attrs::boolean(&m, "shared")?,
        external: attrs::boolean(&m, "router:external")?,
        port_security_enabled: attrs::boolean(&m, "port_security_enabled")?,
        network_type: attrs::string(&m, "provider:network_type", 32)?,
        physical_network: if provider(PROVIDER[1]) {
            Some(attrs::string(&m, PROVIDER[1], 64)?)
        } else {
            None
        },
        segmentation_id: if provider(PROVIDER[2]) {
            Some(attrs::int(&m, PROVIDER[2])?)
        } else {
            None
        },
    };
    n.authorize_attrs(&ctx, "update_network", &set_attrs(&m), &target(&current))?;
    let row = networks::update(&n, &caller, &id, changes).await?;
    Ok(super::json(
        StatusCode::OK,
        json!({"network": view(&n, &ctx, &row).await?}),
    ))
}

pub async fn delete(State(n): State<Network>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let caller = n.caller(&ctx);
    let current = networks::get(&n, &caller, &id).await?;
    // A network the caller sees without owning it (shared, external) is a
    // 403 here, as in Neutron; one it cannot see was a 404 above.
    n.authorize(&ctx, "delete_network", &target(&current))?;
    networks::delete(&n, &caller, &id).await?;
    Ok(no_content())
}
