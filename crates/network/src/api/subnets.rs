//! `/v2.0/subnets` and `/v2.0/subnets/{id}`.

use std::net::IpAddr;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::attrs::{self, DESCRIPTION_MAX, Method, NAME_MAX};
use super::listing::{Collection, ListQuery};
use super::{ApiResult, QueryPairs, no_content, timestamp};
use crate::db::networks::NetworkRow;
use crate::db::subnets::SubnetRow;
use crate::error::NetworkError;
use crate::ip::Cidr;
use crate::subnets::{self, Gateway, IPV6_MODES, NewSubnet, SubnetChanges};
use crate::tags::{self, Taggable};
use crate::{Network, networks};
use api::{Auth, AuthContext};

const KNOWN: &[&str] = &[
    "id",
    "name",
    "description",
    "network_id",
    "ip_version",
    "cidr",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "subnetpool_id",
    "project_id",
    "tenant_id",
    "service_types",
    "created_at",
    "updated_at",
    "revision_number",
    "tags",
];

const POST: &[&str] = &[
    "name",
    "description",
    "network_id",
    "ip_version",
    "cidr",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "subnetpool_id",
    "project_id",
    "tenant_id",
];

const PUT: &[&str] = &[
    "name",
    "description",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
];

pub const COLLECTION: Collection = Collection {
    name: "subnets",
    path: "subnets",
    filters: &[
        "id",
        "name",
        "description",
        "network_id",
        "ip_version",
        "cidr",
        "gateway_ip",
        "enable_dhcp",
        "ipv6_ra_mode",
        "ipv6_address_mode",
        "subnetpool_id",
        "project_id",
        "tenant_id",
        "revision_number",
        "dns_nameservers",
        "router:external",
    ],
    sort_keys: &[
        "id",
        "name",
        "description",
        "network_id",
        "ip_version",
        "cidr",
        "gateway_ip",
        "enable_dhcp",
        "ipv6_ra_mode",
        "ipv6_address_mode",
        "project_id",
        "tenant_id",
        "revision_number",
        "created_at",
        "updated_at",
    ],
};

/// `external`: whether the subnet's network is external
/// (`subnet-external-network`).
pub(crate) fn render(s: &SubnetRow, tags: &[String], external: bool) -> Value {
    let pools: Vec<Value> = s
        .allocation_pools
        .iter()
        .map(|(a, b)| json!({"start": a, "end": b}))
        .collect();
    let routes: Vec<Value> = s
        .host_routes
        .iter()
        .map(|(d, h)| json!({"destination": d, "nexthop": h}))
        .collect();
    json!({
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "network_id": s.network_id,
        "project_id": s.project_id,
        "tenant_id": s.project_id,
        "ip_version": s.ip_version,
        "cidr": s.cidr,
        "gateway_ip": s.gateway_ip,
        "allocation_pools": pools,
        "dns_nameservers": s.dns_nameservers,
        "host_routes": routes,
        "enable_dhcp": s.enable_dhcp,
        "ipv6_ra_mode": s.ipv6_ra_mode,
        "ipv6_address_mode": s.ipv6_address_mode,
        "subnetpool_id": null,
        "service_types": [],
        "created_at": timestamp(s.created_at),
        "updated_at": timestamp(s.updated_at),
        "revision_number": s.revision_number,
        "router:external": external,
        "tags": tags,
    })
}

/// The policy target of a subnet: its owner and its network's.
fn target(project_id: &str, net: &NetworkRow) -> Value {
    json!({
        "project_id": project_id,
        "tenant_id": project_id,
        "network_id": net.id,
        "network:project_id": net.project_id,
        "network:tenant_id": net.project_id,
        "network:shared": net.shared,
    })
}

fn bad(msg: impl Into<String>) -> api::ApiError {
    NetworkError::http_bad_request(msg).into()
}

fn invalid(key: &str, reason: impl std::fmt::Display) -> api::ApiError {
    NetworkError::invalid_attr(key, reason).into()
}

fn pools(m: &Map<String, Value>) -> ApiResult<Option<Vec<(IpAddr, IpAddr)>>> {
    let Some(items) = attrs::list(m, "allocation_pools")? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for item in items {
        let ok_shape = item
            .as_object()
            .is_some_and(|o| o.len() == 2 && o.contains_key("start") && o.contains_key("end"));
        if !ok_shape {
            return Err(invalid(
                "allocation_pools",
                format!("Invalid data format for IP pool: '{item}'"),
            ));
        }
        out.push((
            attrs::ip_value(&item["start"], "allocation_pools")?,
            attrs::ip_value(&item["end"], "allocation_pools")?,
        ));
    }
    Ok(Some(out))
}

fn nameservers(m: &Map<String, Value>) -> ApiResult<Option<Vec<IpAddr>>> {
    let Some(items) = attrs::list(m, "dns_nameservers")? else {
        return Ok(None);
    };
    let mut out: Vec<IpAddr> = Vec::new();
    for item in items {
        let ip = attrs::ip_value(item, "dns_nameservers")?;
        if out.contains(&ip) {
            return Err(invalid("dns_nameservers", format!("Duplicate nameserver '{ip}'")));
        }
        out.push(ip);
    }
    Ok(Some(out))
}

fn routes(m: &Map<String, Value>) -> ApiResult<Option<Vec<(Cidr, IpAddr)>>> {
    route_list(m, "host_routes")
}

/// A list of `{"destination", "nexthop"}` (neutron-lib's
/// `type:hostroutes`, which `routes` of routers share).
pub(super) fn route_list(m: &Map<String, Value>, key: &str) -> ApiResult<Option<Vec<(Cidr, IpAddr)>>> {
    let Some(items) = attrs::list(m, key)? else {
        return Ok(None);
    };
    let mut out: Vec<(Cidr, IpAddr)> = Vec::new();
    for item in items {
        let ok_shape = item
            .as_object()
            .is_some_and(|o| o.len() == 2 && o.contains_key("destination") && o.contains_key("nexthop"));
        if !ok_shape {
            return Err(invalid(key, format!("Invalid data format for hostroute: '{item}'")));
        }
        let route = (
            attrs::cidr_value(&item["destination"], key)?,
            attrs::ip_value(&item["nexthop"], key)?,
        );
        if out.contains(&route) {
            return Err(invalid(key, format!("Duplicate hostroute '{item}'")));
        }
        out.push(route);
    }
    Ok(Some(out))
}

fn mode(m: &Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        _ => attrs::one_of(m, key, IPV6_MODES),
    }
}

/// Neutron hides a network a non-admin does not own and that is not
/// shared from subnet and port creation (an external network is visible
/// but takes neither).
pub(crate) fn check_network_owner(caller: &crate::Caller, owner: &str, net: &NetworkRow) -> ApiResult<()> {
    if caller.all_projects || net.shared || net.project_id == owner {
        Ok(())
    } else {
        Err(NetworkError::hidden().into())
    }
}

pub async fn list(State(n): State<Network>, Auth(ctx): Auth, q: QueryPairs) -> ApiResult<Response> {
    let query = ListQuery::parse(&q.0, &COLLECTION, n.config.pagination_max_limit)?;
    let rows = subnets::list(&n, &n.caller(&ctx)).await?;
    let tags = tags::all_of(&n, Taggable::Subnet).await?;
    let external = subnets::external_networks(&n).await?;
    let items = rows
        .iter()
        .map(|s| {
            render(
                s,
                tags.get(&s.id).map(Vec::as_slice).unwrap_or_default(),
                external.contains(&s.network_id),
            )
        })
        .collect();
    query.respond(&n, &COLLECTION, items)
}

async fn view(n: &Network, s: &SubnetRow) -> ApiResult<Value> {
    let external = subnets::external_networks(n).await?.contains(&s.network_id);
    Ok(render(s, &tags::list(n, Taggable::Subnet, &s.id).await?, external))
}

pub async fn show(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryPairs,
) -> ApiResult<Response> {
    let s = subnets::get(&n, &n.caller(&ctx), &id).await?;
    let v = view(&n, &s).await?;
    Ok(super::json(
        StatusCode::OK,
        json!({"subnet": ListQuery::fields_of(&q.0, v)}),
    ))
}

pub async fn create(
    State(n): State<Network>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    if let Some(items) = super::bulk::items(&bytes, "subnet", "subnets")? {
        let caller = n.caller(&ctx);
        return super::bulk::create(
            &headers,
            items,
            "subnets",
            |h, b| create_one(n.clone(), ctx.clone(), h, b),
            |id| {
                let (n, caller) = (n.clone(), caller.clone());
                async move { subnets::delete(&n, &caller, &id).await }
            },
        )
        .await;
    }
    let v = create_one(n, ctx, headers, bytes).await?;
    Ok(super::json(StatusCode::CREATED, json!({"subnet": v})))
}

async fn create_one(
    n: Network,
    ctx: std::sync::Arc<AuthContext>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Value> {
    let m = attrs::resource(&headers, &bytes, "subnet")?;
    attrs::check(&m, KNOWN, POST, Method::Post)?;
    let caller = n.caller(&ctx);
    let project_id = attrs::owner(&m, &caller.project_id, caller.all_projects)?;
    for key in ["network_id", "ip_version"] {
        if !m.contains_key(key) {
            return Err(bad(format!(
                "Failed to parse request. Required attribute '{key}' not specified"
            )));
        }
    }
    let network_id = attrs::uuid(&m, "network_id")?.unwrap_or_default();
    let ip_version = match attrs::int(&m, "ip_version")? {
        Some(v @ (4 | 6)) => v as u8,
        _ => return Err(invalid("ip_version", format!("{} is not in [4, 6]", m["ip_version"]))),
    };
    if let Some(pool) = m.get("subnetpool_id").filter(|v| !v.is_null()) {
        let id = pool.as_str().unwrap_or_default();
        return Err(
            NetworkError::not_found("SubnetPoolNotFound", format!("Subnet pool {id} could not be found.")).into(),
        );
    }
    let cidr = match m.get("cidr") {
        None | Some(Value::Null) => {
            return Err(NetworkError::bad(
                "BadRequest",
                "Bad subnets request: a subnetpool must be specified in the absence of a cidr.",
            )
            .into());
        }
        Some(v) => attrs::cidr_value(v, "cidr")?,
    };
    let gateway = match attrs::ip_or_null(&m, "gateway_ip")? {
        None => Gateway::Default,
        Some(None) => Gateway::None,
        Some(Some(ip)) => Gateway::Ip(ip),
    };
    let spec = NewSubnet {
        project_id: project_id.clone(),
        network_id: network_id.clone(),
        name: attrs::string(&m, "name", NAME_MAX)?.unwrap_or_default(),
        description: attrs::string(&m, "description", DESCRIPTION_MAX)?.unwrap_or_default(),
        ip_version,
        cidr,
        gateway,
        allocation_pools: pools(&m)?,
        dns_nameservers: nameservers(&m)?.unwrap_or_default(),
        host_routes: routes(&m)?.unwrap_or_default(),
        enable_dhcp: attrs::boolean(&m, "enable_dhcp")?.unwrap_or(true),
        ipv6_ra_mode: mode(&m, "ipv6_ra_mode")?,
        ipv6_address_mode: mode(&m, "ipv6_address_mode")?,
    };
    let net = networks::get(&n, &caller, &network_id).await?;
    check_network_owner(&caller, &project_id, &net)?;
    let set: Vec<&str> = m.keys().map(String::as_str).collect();
    n.authorize_attrs(&ctx, "create_subnet", &set, &target(&project_id, &net))?;
    let s = subnets::create(&n, &caller, spec).await?;
    view(&n, &s).await
}

pub async fn update(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let caller = n.caller(&ctx);
    let current = subnets::get(&n, &caller, &id).await?;
    let m = attrs::resource(&headers, &bytes, "subnet")?;
    attrs::check(&m, KNOWN, PUT, Method::Put)?;
    let changes = SubnetChanges {
        name: attrs::string(&m, "name", NAME_MAX)?,
        description: attrs::string(&m, "description", DESCRIPTION_MAX)?,
        gateway_ip: attrs::ip_or_null(&m, "gateway_ip")?,
        allocation_pools: pools(&m)?,
        dns_nameservers: nameservers(&m)?,
        host_routes: routes(&m)?,
        enable_dhcp: attrs::boolean(&m, "enable_dhcp")?,
    };
    let net = networks::get(&n, &caller, &current.network_id).await?;
    let set: Vec<&str> = m.keys().map(String::as_str).collect();
    n.authorize_attrs(&ctx, "update_subnet", &set, &target(&current.project_id, &net))?;
    let s = subnets::update(&n, &caller, &id, changes).await?;
    Ok(super::json(StatusCode::OK, json!({"subnet": view(&n, &s).await?})))
}

pub async fn delete(State(n): State<Network>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let caller = n.caller(&ctx);
    let current = subnets::get(&n, &caller, &id).await?;
    let net = networks::get(&n, &caller, &current.network_id).await?;
    n.authorize(&ctx, "delete_subnet", &target(&current.project_id, &net))?;
    subnets::delete(&n, &caller, &id).await?;
    Ok(no_content())
}
