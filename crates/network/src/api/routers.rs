//! `/v2.0/routers`, `/v2.0/routers/{id}` and the interface actions
//! `PUT /v2.0/routers/{id}/add_router_interface` and
//! `…/remove_router_interface`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::attrs::{self, DESCRIPTION_MAX, Method, NAME_MAX};
use super::listing::{Collection, ListQuery};
use super::{ApiResult, QueryPairs, no_content, timestamp};
use crate::Network;
use crate::error::NetworkError;
use crate::routers::{self, GatewayRequest, Interface, InterfaceInfo, NewRouter, Router, RouterChanges};
use crate::tags::{self, Taggable};
use api::{Auth, AuthContext};

const KNOWN: &[&str] = &[
    "id",
    "name",
    "description",
    "admin_state_up",
    "status",
    "project_id",
    "tenant_id",
    "external_gateway_info",
    "routes",
    "distributed",
    "ha",
    "flavor_id",
    "availability_zone_hints",
    "availability_zones",
    "created_at",
    "updated_at",
    "revision_number",
    "tags",
];

const POST: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "project_id",
    "tenant_id",
    "external_gateway_info",
];

const PUT: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "external_gateway_info",
    "routes",
];

pub const COLLECTION: Collection = Collection {
    name: "routers",
    path: "routers",
    filters: &[
        "id",
        "name",
        "description",
        "admin_state_up",
        "status",
        "project_id",
        "tenant_id",
        "revision_number",
    ],
    sort_keys: &[
        "id",
        "name",
        "description",
        "admin_state_up",
        "status",
        "project_id",
        "tenant_id",
        "revision_number",
        "created_at",
        "updated_at",
    ],
};

fn target(project_id: &str) -> Value {
    json!({"project_id": project_id, "tenant_id": project_id})
}

pub(crate) fn render(r: &Router, tags: &[String], show_admin: bool) -> Value {
    let gateway = r.gateway.as_ref().map(|p| {
        let ips: Vec<Value> = p
            .fixed_ips
            .iter()
            .map(|(s, ip)| json!({"subnet_id": s, "ip_address": ip}))
            .collect();
        json!({
            "network_id": p.network_id,
            "enable_snat": r.row.enable_snat,
            "external_fixed_ips": ips,
        })
    });
    let routes: Vec<Value> = r
        .routes
        .iter()
        .map(|(d, h)| json!({"destination": d, "nexthop": h}))
        .collect();
    let mut v = json!({
        "id": r.row.id,
        "name": r.row.name,
        "description": r.row.description,
        "admin_state_up": r.row.admin_state_up,
        "status": r.row.status,
        "project_id": r.row.project_id,
        "tenant_id": r.row.project_id,
        "external_gateway_info": gateway,
        "routes": routes,
        "flavor_id": null,
        "availability_zone_hints": [],
        "availability_zones": [],
        "created_at": timestamp(r.row.created_at),
        "updated_at": timestamp(r.row.updated_at),
        "revision_number": r.row.revision_number,
        "tags": tags,
    });
    if show_admin {
        v["distributed"] = json!(false);
        v["ha"] = json!(false);
    }
    v
}

fn shows_admin(n: &Network, ctx: &AuthContext, r: &Router) -> bool {
    n.allows(ctx, "get_router:distributed", &target(&r.row.project_id))
}

async fn view(n: &Network, ctx: &AuthContext, r: &Router) -> ApiResult<Value> {
    let tags = tags::list(n, Taggable::Router, &r.row.id).await?;
    Ok(render(r, &tags, shows_admin(n, ctx, r)))
}

fn invalid(key: &str, reason: impl std::fmt::Display) -> api::ApiError {
    NetworkError::invalid_attr(key, reason).into()
}

/// `external_gateway_info` (`type:dict_or_nodata`): `Some(None)` for
/// `null` or `{}` (no gateway); the policy attributes it sets.
fn gateway(m: &Map<String, Value>) -> ApiResult<(Option<Option<GatewayRequest>>, Vec<&'static str>)> {
    const KEY: &str = "external_gateway_info";
    let g = match m.get(KEY) {
        None => return Ok((None, Vec::new())),
        Some(Value::Null) => return Ok((Some(None), vec![KEY])),
        Some(Value::Object(g)) if g.is_empty() => return Ok((Some(None), vec![KEY])),
        Some(Value::Object(g)) => g,
        Some(other) => return Err(invalid(KEY, format!("'{other}' is not a dictionary"))),
    };
    let mut unexpected: Vec<&str> = g
        .keys()
        .map(String::as_str)
        .filter(|k| !["network_id", "enable_snat", "external_fixed_ips"].contains(k))
        .collect();
    if !unexpected.is_empty() {
        unexpected.sort();
        return Err(invalid(
            KEY,
            format!("Unexpected keys supplied: {}", unexpected.join(", ")),
        ));
    }
    if !g.contains_key("network_id") {
        return Err(invalid(
            KEY,
            "Validation of dictionary's keys failed. Expected keys: {'network_id'}",
        ));
    }
    let mut set = vec![KEY, "external_gateway_info:network_id"];
    let network_id = attrs::uuid(g, "network_id")?.unwrap_or_default();
    let enable_snat = attrs::boolean(g, "enable_snat")?;
    if enable_snat.is_some() {
        set.push("external_gateway_info:enable_snat");
    }
    let fixed = super::ports::fixed_ip_list(g, "external_fixed_ips")?;
    if fixed.is_some() {
        set.push("external_gateway_info:external_fixed_ips");
    }
    Ok((
        Some(Some(GatewayRequest {
            network_id,
            enable_snat,
            external_fixed_ips: fixed.unwrap_or_default(),
        })),
        set,
    ))
}

/// The request's attributes with their own policy rules: the plain
/// attributes and the gateway's parts.
fn policy_attrs<'a>(m: &'a Map<String, Value>, gateway: &[&'static str]) -> Vec<&'a str> {
    m.keys()
        .map(String::as_str)
        .filter(|k| *k != "external_gateway_info")
        .chain(gateway.iter().copied())
        .collect()
}

pub async fn list(State(n): State<Network>, Auth(ctx): Auth, q: QueryPairs) -> ApiResult<Response> {
    let query = ListQuery::parse(&q.0, &COLLECTION, n.config.pagination_max_limit)?;
    let rows = routers::list(&n, &n.caller(&ctx)).await?;
    let tags = tags::all_of(&n, Taggable::Router).await?;
    let items = rows
        .iter()
        .map(|r| {
            render(
                r,
                tags.get(&r.row.id).map(Vec::as_slice).unwrap_or_default(),
                shows_admin(&n, &ctx, r),
            )
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
    let r = routers::get(&n, &n.caller(&ctx), &id).await?;
    let v = view(&n, &ctx, &r).await?;
    Ok(super::json(
        StatusCode::OK,
        json!({"router": ListQuery::fields_of(&q.0, v)}),
    ))
}

pub async fn create(
    State(n): State<Network>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let m = attrs::resource(&headers, &bytes, "router")?;
    attrs::check(&m, KNOWN, POST, Method::Post)?;
    let caller = n.caller(&ctx);
    let project_id = attrs::owner(&m, &caller.project_id, caller.all_projects)?;
    let (gw, gw_attrs) = gateway(&m)?;
    let spec = NewRouter {
        project_id: project_id.clone(),
        name: attrs::string(&m, "name", NAME_MAX)?.unwrap_or_default(),
        description: attrs::string(&m, "description", DESCRIPTION_MAX)?.unwrap_or_default(),
        admin_state_up: attrs::boolean(&m, "admin_state_up")?.unwrap_or(true),
        gateway: gw.flatten(),
    };
    n.authorize_attrs(
        &ctx,
        "create_router",
        &policy_attrs(&m, &gw_attrs),
        &target(&project_id),
    )?;
    let r = routers::create(&n, &caller, spec).await?;
    Ok(super::json(
        StatusCode::CREATED,
        json!({"router": view(&n, &ctx, &r).await?}),
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
    let current = routers::get(&n, &caller, &id).await?;
    let m = attrs::resource(&headers, &bytes, "router")?;
    attrs::check(&m, KNOWN, PUT, Method::Put)?;
    let (gw, gw_attrs) = gateway(&m)?;
    let changes = RouterChanges {
        name: attrs::string(&m, "name", NAME_MAX)?,
        description: attrs::string(&m, "description", DESCRIPTION_MAX)?,
        admin_state_up: attrs::boolean(&m, "admin_state_up")?,
        gateway: gw,
        routes: super::subnets::route_list(&m, "routes")?,
    };
    n.authorize_attrs(
        &ctx,
        "update_router",
        &policy_attrs(&m, &gw_attrs),
        &target(&current.row.project_id),
    )?;
    let r = routers::update(&n, &caller, &id, changes).await?;
    Ok(super::json(
        StatusCode::OK,
        json!({"router": view(&n, &ctx, &r).await?}),
    ))
}

pub async fn delete(State(n): State<Network>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let caller = n.caller(&ctx);
    let current = routers::get(&n, &caller, &id).await?;
    n.authorize(&ctx, "delete_router", &target(&current.row.project_id))?;
    routers::delete(&n, &caller, &id).await?;
    Ok(no_content())
}

/// The body of an interface action: `{"subnet_id"}` or `{"port_id"}`
/// (both only for a removal, where the port must be on the subnet).
fn interface(headers: &HeaderMap, bytes: &[u8], removal: bool) -> ApiResult<Interface> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.is_empty() && !ct.starts_with("application/json") {
        return Err(
            api::ApiError::unsupported_media_type(format!("Unsupported Content-Type: {ct}"))
                .with_kind("HTTPUnsupportedMediaType"),
        );
    }
    let body: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(bytes)
            .map_err(|e| NetworkError::bad("MalformedRequestBody", format!("Malformed request body: {e}.")))?
    };
    let Value::Object(m) = body else {
        return Err(NetworkError::http_bad_request("Body contains invalid data").into());
    };
    let bad = |msg: String| -> api::ApiError { NetworkError::bad_resource("router", msg).into() };
    let id_of = |key: &str| -> ApiResult<Option<String>> {
        match m.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if uuid::Uuid::parse_str(s).is_ok() && s.len() == 36 => Ok(Some(s.to_lowercase())),
            Some(v) => Err(bad(format!(
                "'{}' is not a valid UUID",
                v.as_str().unwrap_or(&v.to_string())
            ))),
        }
    };
    let (subnet, port) = (id_of("subnet_id")?, id_of("port_id")?);
    match (subnet, port) {
        (Some(s), None) => Ok(Interface::Subnet(s)),
        (None, Some(p)) => Ok(Interface::Port(p)),
        (Some(s), Some(p)) if removal => Ok(Interface::PortOnSubnet {
            port_id: p,
            subnet_id: s,
        }),
        (Some(_), Some(_)) => Err(bad("Cannot specify both subnet-id and port-id".into())),
        (None, None) => Err(bad("Either subnet_id or port_id must be specified".into())),
    }
}

fn render_interface(i: &InterfaceInfo) -> Value {
    json!({
        "id": i.router_id,
        "subnet_id": i.subnet_id,
        "subnet_ids": i.subnet_ids,
        "port_id": i.port_id,
        "network_id": i.network_id,
        "project_id": i.project_id,
        "tenant_id": i.project_id,
    })
}

pub async fn add_interface(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let caller = n.caller(&ctx);
    let current = routers::get(&n, &caller, &id).await?;
    let by = interface(&headers, &bytes, false)?;
    n.authorize(&ctx, "add_router_interface", &target(&current.row.project_id))?;
    let info = routers::add_interface(&n, &caller, &id, by).await?;
    Ok(super::json(StatusCode::OK, render_interface(&info)))
}

pub async fn remove_interface(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let caller = n.caller(&ctx);
    let current = routers::get(&n, &caller, &id).await?;
    let by = interface(&headers, &bytes, true)?;
    n.authorize(&ctx, "remove_router_interface", &target(&current.row.project_id))?;
    let info = routers::remove_interface(&n, &caller, &id, by).await?;
    Ok(super::json(StatusCode::OK, render_interface(&info)))
}
