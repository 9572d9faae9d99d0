//! `/v2.0/ports` and `/v2.0/ports/{id}`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::attrs::{self, DESCRIPTION_MAX, Method, NAME_MAX};
use super::listing::{Collection, ListQuery};
use super::subnets::check_network_owner;
use super::{ApiResult, QueryPairs, no_content, timestamp};
use crate::db::networks::NetworkRow;
use crate::db::ports::PortRow;
use crate::error::NetworkError;
use crate::ports::{self, FixedIpRequest, NewPort, PortChanges, RequestedPair, VNIC_TYPES};
use crate::tags::{self, Taggable};
use crate::{Network, networks};
use api::{Auth, AuthContext};

const KNOWN: &[&str] = &[
    "id",
    "name",
    "description",
    "network_id",
    "admin_state_up",
    "status",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "project_id",
    "tenant_id",
    "security_groups",
    "port_security_enabled",
    "allowed_address_pairs",
    "binding:host_id",
    "binding:vif_type",
    "binding:vif_details",
    "binding:vnic_type",
    "binding:profile",
    "dns_name",
    "created_at",
    "updated_at",
    "revision_number",
    "tags",
];

const POST: &[&str] = &[
    "name",
    "description",
    "network_id",
    "admin_state_up",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "project_id",
    "tenant_id",
    "security_groups",
    "port_security_enabled",
    "allowed_address_pairs",
    "binding:host_id",
    "binding:vnic_type",
    "binding:profile",
];

const PUT: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "security_groups",
    "port_security_enabled",
    "allowed_address_pairs",
    "binding:host_id",
    "binding:vnic_type",
    "binding:profile",
];

pub const COLLECTION: Collection = Collection {
    name: "ports",
    path: "ports",
    filters: &[
        "id",
        "name",
        "description",
        "network_id",
        "admin_state_up",
        "status",
        "mac_address",
        "fixed_ips",
        "device_id",
        "device_owner",
        "project_id",
        "tenant_id",
        "security_groups",
        "port_security_enabled",
        "binding:host_id",
        "binding:vnic_type",
        "binding:vif_type",
        "revision_number",
    ],
    sort_keys: &[
        "id",
        "name",
        "description",
        "network_id",
        "admin_state_up",
        "status",
        "mac_address",
        "device_id",
        "device_owner",
        "project_id",
        "tenant_id",
        "port_security_enabled",
        "binding:host_id",
        "revision_number",
        "created_at",
        "updated_at",
    ],
};

pub(crate) fn render(p: &PortRow, tags: &[String], show_binding: bool) -> Value {
    let fixed_ips: Vec<Value> = p
        .fixed_ips
        .iter()
        .map(|(s, ip)| json!({"subnet_id": s, "ip_address": ip}))
        .collect();
    let pairs: Vec<Value> = p
        .allowed_address_pairs
        .iter()
        .map(|(ip, mac)| json!({"ip_address": ip, "mac_address": mac}))
        .collect();
    let mut v = json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "network_id": p.network_id,
        "admin_state_up": p.admin_state_up,
        "status": p.status,
        "mac_address": p.mac_address,
        "fixed_ips": fixed_ips,
        "device_id": p.device_id,
        "device_owner": p.device_owner,
        "project_id": p.project_id,
        "tenant_id": p.project_id,
        "security_groups": p.security_groups,
        "port_security_enabled": p.port_security_enabled,
        "allowed_address_pairs": pairs,
        "binding:vnic_type": p.binding_vnic_type,
        "dns_name": p.dns_name,
        "created_at": timestamp(p.created_at),
        "updated_at": timestamp(p.updated_at),
        "revision_number": p.revision_number,
        "tags": tags,
    });
    if show_binding {
        let (vif_type, details) = ports::binding(p);
        v["binding:host_id"] = json!(p.binding_host_id);
        v["binding:profile"] = p.binding_profile.clone();
        v["binding:vif_type"] = json!(vif_type);
        v["binding:vif_details"] = details;
    }
    v
}

/// The policy target of a port: its attributes and its network's.
fn target(project_id: &str, device_owner: &str, net: &NetworkRow) -> Value {
    json!({
        "project_id": project_id,
        "tenant_id": project_id,
        "device_owner": device_owner,
        "network_id": net.id,
        "network:project_id": net.project_id,
        "network:tenant_id": net.project_id,
        "network:shared": net.shared,
    })
}

fn invalid(key: &str, reason: impl std::fmt::Display) -> api::ApiError {
    NetworkError::invalid_attr(key, reason).into()
}

fn fixed_ips(m: &Map<String, Value>) -> ApiResult<Option<Vec<FixedIpRequest>>> {
    fixed_ip_list(m, "fixed_ips")
}

/// A list of `{"subnet_id", "ip_address"}` (neutron-lib's
/// `type:fixed_ips`, which routers' `external_fixed_ips` share).
pub(super) fn fixed_ip_list(m: &Map<String, Value>, key: &str) -> ApiResult<Option<Vec<FixedIpRequest>>> {
    let Some(items) = attrs::list(m, key)? else {
        return Ok(None);
    };
    let mut out: Vec<FixedIpRequest> = Vec::new();
    for item in items {
        let Some(o) = item
            .as_object()
            .filter(|o| o.keys().all(|k| k == "subnet_id" || k == "ip_address"))
        else {
            return Err(invalid(key, format!("Invalid data format for fixed IP: '{item}'")));
        };
        let req = FixedIpRequest {
            subnet_id: attrs::uuid(o, "subnet_id")?,
            ip_address: match o.get("ip_address") {
                Some(v) => Some(attrs::ip_value(v, key)?),
                None => None,
            },
        };
        if let Some(ip) = req.ip_address
            && out.iter().any(|r| r.ip_address == Some(ip))
        {
            return Err(invalid(key, format!("Duplicate IP address '{ip}'")));
        }
        out.push(req);
    }
    Ok(Some(out))
}

fn address_pairs(m: &Map<String, Value>) -> ApiResult<Option<Vec<RequestedPair>>> {
    let Some(items) = attrs::list(m, "allowed_address_pairs")? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for item in items {
        let Some(o) = item.as_object() else {
            return Err(invalid(
                "allowed_address_pairs",
                format!("'{item}' is not a dictionary"),
            ));
        };
        let extra: Vec<&str> = o
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "ip_address" && *k != "mac_address")
            .collect();
        if !extra.is_empty() {
            return Err(
                NetworkError::http_bad_request(format!("Unrecognized attribute(s) '{}'", extra.join(", "))).into(),
            );
        }
        let Some(ip) = o.get("ip_address") else {
            return Err(NetworkError::invalid_input("AllowedAddressPair must contain ip_address").into());
        };
        let ip_text = ip.as_str().unwrap_or_default();
        if crate::ip::Cidr::parse_lenient(ip_text).is_none() {
            return Err(invalid(
                "allowed_address_pairs",
                format!("'{ip}' is not a valid IP address"),
            ));
        }
        let mac = match o.get("mac_address") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_str()
                    .and_then(crate::ip::parse_mac)
                    .map(|(m, _)| m)
                    .ok_or_else(|| invalid("allowed_address_pairs", format!("'{v}' is not a valid MAC address")))?,
            ),
        };
        out.push((ip_text.to_owned(), mac));
    }
    Ok(Some(out))
}

fn group_ids(m: &Map<String, Value>) -> ApiResult<Option<Vec<String>>> {
    let Some(items) = attrs::list(m, "security_groups")? else {
        return Ok(None);
    };
    items
        .into_iter()
        .map(|v| match v.as_str() {
            Some(s) if uuid::Uuid::parse_str(s).is_ok() && s.len() == 36 => Ok(s.to_lowercase()),
            _ => Err(invalid("security_groups", format!("'{v}' is not a valid UUID"))),
        })
        .collect::<ApiResult<Vec<_>>>()
        .map(Some)
}

fn mac(m: &Map<String, Value>) -> ApiResult<Option<String>> {
    match m.get("mac_address") {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(crate::ip::parse_mac)
            .map(|(mac, _)| Some(mac))
            .ok_or_else(|| {
                invalid(
                    "mac_address",
                    format!("'{}' is not a valid MAC address", v.as_str().unwrap_or(&v.to_string())),
                )
            }),
    }
}

/// The attributes whose own policy rules apply to this request: only
/// device owners starting with `network:` need `…:device_owner`, and
/// `fixed_ips` is checked by what its entries name.
fn policy_attrs<'a>(m: &'a Map<String, Value>, fixed: Option<&[FixedIpRequest]>) -> Vec<&'a str> {
    let mut out: Vec<&str> = m
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "fixed_ips" && *k != "device_owner")
        .collect();
    if m.get("device_owner")
        .and_then(Value::as_str)
        .is_some_and(|o| o.starts_with("network:"))
    {
        out.push("device_owner");
    }
    if let Some(f) = fixed {
        if f.iter().any(|r| r.ip_address.is_some()) {
            out.push("fixed_ips:ip_address");
        }
        if f.iter().any(|r| r.subnet_id.is_some()) {
            out.push("fixed_ips:subnet_id");
        }
    }
    out
}

fn shows_binding(n: &Network, ctx: &AuthContext, p: &PortRow) -> bool {
    n.allows(
        ctx,
        "get_port:binding:host_id",
        &json!({"project_id": p.project_id, "tenant_id": p.project_id}),
    )
}

async fn view(n: &Network, ctx: &AuthContext, p: &PortRow) -> ApiResult<Value> {
    let tags = tags::list(n, Taggable::Port, &p.id).await?;
    Ok(render(p, &tags, shows_binding(n, ctx, p)))
}

/// `fixed_ips=ip_address=10.0.0.5`, `fixed_ips=subnet_id=<id>`,
/// `fixed_ips=ip_address_substr=10.0`: every key given must be met by
/// one of the port's addresses.
fn fixed_ip_filter(values: &[String]) -> ApiResult<Vec<(String, String)>> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((k, val)) if ["ip_address", "subnet_id", "ip_address_substr"].contains(&k) => {
                Ok((k.to_owned(), val.to_owned()))
            }
            _ => Err(NetworkError::http_bad_request(format!("Invalid fixed_ips filter: '{v}'")).into()),
        })
        .collect()
}

fn meets_fixed_ip_filter(p: &PortRow, wanted: &[(String, String)]) -> bool {
    let mut keys: Vec<&str> = wanted.iter().map(|(k, _)| k.as_str()).collect();
    keys.dedup();
    keys.iter().all(|key| {
        wanted.iter().filter(|(k, _)| k == key).any(|(_, v)| {
            p.fixed_ips.iter().any(|(s, ip)| match *key {
                "ip_address" => ip == v,
                "subnet_id" => s == v,
                _ => ip.contains(v.as_str()),
            })
        })
    })
}

pub async fn list(State(n): State<Network>, Auth(ctx): Auth, q: QueryPairs) -> ApiResult<Response> {
    let mut query = ListQuery::parse(&q.0, &COLLECTION, n.config.pagination_max_limit)?;
    let fixed = match query.take_filter("fixed_ips") {
        Some(values) => fixed_ip_filter(&values)?,
        None => Vec::new(),
    };
    let rows = ports::list(&n, &n.caller(&ctx)).await?;
    let tags = tags::all_of(&n, Taggable::Port).await?;
    let items = rows
        .iter()
        .filter(|p| meets_fixed_ip_filter(p, &fixed))
        .map(|p| {
            render(
                p,
                tags.get(&p.id).map(Vec::as_slice).unwrap_or_default(),
                shows_binding(&n, &ctx, p),
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
    let p = ports::get(&n, &n.caller(&ctx), &id).await?;
    let v = view(&n, &ctx, &p).await?;
    Ok(super::json(
        StatusCode::OK,
        json!({"port": ListQuery::fields_of(&q.0, v)}),
    ))
}

pub async fn create(
    State(n): State<Network>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    if let Some(items) = super::bulk::items(&bytes, "port", "ports")? {
        let caller = n.caller(&ctx);
        return super::bulk::create(
            &headers,
            items,
            "ports",
            |h, b| create_one(n.clone(), ctx.clone(), h, b),
            |id| {
                let (n, caller) = (n.clone(), caller.clone());
                async move { ports::delete(&n, &caller, &id).await }
            },
        )
        .await;
    }
    let v = create_one(n, ctx, headers, bytes).await?;
    Ok(super::json(StatusCode::CREATED, json!({"port": v})))
}

async fn create_one(
    n: Network,
    ctx: std::sync::Arc<AuthContext>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Value> {
    let m = attrs::resource(&headers, &bytes, "port")?;
    attrs::check(&m, KNOWN, POST, Method::Post)?;
    let caller = n.caller(&ctx);
    let project_id = attrs::owner(&m, &caller.project_id, caller.all_projects)?;
    if !m.contains_key("network_id") {
        return Err(NetworkError::http_bad_request(
            "Failed to parse request. Required attribute 'network_id' not specified",
        )
        .into());
    }
    let network_id = attrs::uuid(&m, "network_id")?.unwrap_or_default();
    let fixed = fixed_ips(&m)?;
    let spec = NewPort {
        project_id: project_id.clone(),
        network_id: network_id.clone(),
        name: attrs::string(&m, "name", NAME_MAX)?.unwrap_or_default(),
        description: attrs::string(&m, "description", DESCRIPTION_MAX)?.unwrap_or_default(),
        mac_address: mac(&m)?,
        admin_state_up: attrs::boolean(&m, "admin_state_up")?.unwrap_or(true),
        device_id: attrs::string(&m, "device_id", 255)?.unwrap_or_default(),
        device_owner: attrs::string(&m, "device_owner", 255)?.unwrap_or_default(),
        fixed_ips: fixed.clone(),
        port_security_enabled: attrs::boolean(&m, "port_security_enabled")?,
        security_groups: group_ids(&m)?,
        allowed_address_pairs: address_pairs(&m)?.unwrap_or_default(),
        binding_host_id: attrs::string_or_null(&m, "binding:host_id", 255)?.unwrap_or_default(),
        binding_vnic_type: attrs::one_of(&m, "binding:vnic_type", VNIC_TYPES)?.unwrap_or_else(|| "normal".into()),
        binding_profile: attrs::dict(&m, "binding:profile")?.unwrap_or_else(|| json!({})),
        dns_name: String::new(),
        status: None,
    };
    let net = networks::get(&n, &caller, &network_id).await?;
    check_network_owner(&caller, &project_id, &net)?;
    let t = target(&project_id, &spec.device_owner, &net);
    n.authorize_attrs(&ctx, "create_port", &policy_attrs(&m, fixed.as_deref()), &t)?;
    let p = ports::create(&n, &caller, spec).await?;
    view(&n, &ctx, &p).await
}

pub async fn update(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let caller = n.caller(&ctx);
    let current = ports::get(&n, &caller, &id).await?;
    let m = attrs::resource(&headers, &bytes, "port")?;
    attrs::check(&m, KNOWN, PUT, Method::Put)?;
    let fixed = fixed_ips(&m)?;
    let changes = PortChanges {
        name: attrs::string(&m, "name", NAME_MAX)?,
        description: attrs::string(&m, "description", DESCRIPTION_MAX)?,
        mac_address: mac(&m)?,
        admin_state_up: attrs::boolean(&m, "admin_state_up")?,
        device_id: attrs::string(&m, "device_id", 255)?,
        device_owner: attrs::string(&m, "device_owner", 255)?,
        fixed_ips: fixed.clone(),
        port_security_enabled: attrs::boolean(&m, "port_security_enabled")?,
        security_groups: group_ids(&m)?,
        allowed_address_pairs: address_pairs(&m)?,
        binding_host_id: attrs::string_or_null(&m, "binding:host_id", 255)?,
        binding_vnic_type: attrs::one_of(&m, "binding:vnic_type", VNIC_TYPES)?,
        binding_profile: attrs::dict(&m, "binding:profile")?,
        dns_name: None,
    };
    let net = networks::get(&n, &caller, &current.network_id).await?;
    let owner = changes.device_owner.as_deref().unwrap_or(&current.device_owner);
    let t = target(&current.project_id, owner, &net);
    n.authorize_attrs(&ctx, "update_port", &policy_attrs(&m, fixed.as_deref()), &t)?;
    let p = ports::update(&n, &caller, &id, changes).await?;
    Ok(super::json(StatusCode::OK, json!({"port": view(&n, &ctx, &p).await?})))
}

pub async fn delete(State(n): State<Network>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let caller = n.caller(&ctx);
    let current = ports::get(&n, &caller, &id).await?;
    let net = networks::get(&n, &caller, &current.network_id).await?;
    n.authorize(
        &ctx,
        "delete_port",
        &target(&current.project_id, &current.device_owner, &net),
    )?;
    ports::delete(&n, &caller, &id).await?;
    Ok(no_content())
}
