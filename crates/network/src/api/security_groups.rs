//! `/v2.0/security-groups` and `/v2.0/security-group-rules`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::attrs::{self, DESCRIPTION_MAX, Method, NAME_MAX};
use super::listing::{Collection, ListQuery};
use super::{ApiResult, QueryPairs, no_content, timestamp};
use crate::Network;
use crate::db::security_groups::{GroupRow, RuleRow};
use crate::error::NetworkError;
use crate::security_groups::{self as sg, NewRule};
use crate::tags::{self, Taggable};
use api::Auth;

const GROUP_KNOWN: &[&str] = &[
    "id",
    "name",
    "description",
    "project_id",
    "tenant_id",
    "security_group_rules",
    "created_at",
    "updated_at",
    "revision_number",
    "tags",
];
const GROUP_POST: &[&str] = &["name", "description", "project_id", "tenant_id"];
const GROUP_PUT: &[&str] = &["name", "description"];

const RULE_KNOWN: &[&str] = &[
    "id",
    "security_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "description",
    "project_id",
    "tenant_id",
    "created_at",
    "updated_at",
    "revision_number",
];
const RULE_POST: &[&str] = &[
    "security_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "description",
    "project_id",
    "tenant_id",
];

pub const GROUPS: Collection = Collection {
    name: "security_groups",
    path: "security-groups",
    filters: &[
        "id",
        "name",
        "description",
        "project_id",
        "tenant_id",
        "revision_number",
    ],
    sort_keys: &[
        "id",
        "name",
        "description",
        "project_id",
        "tenant_id",
        "revision_number",
        "created_at",
        "updated_at",
    ],
};

pub const RULES: Collection = Collection {
    name: "security_group_rules",
    path: "security-group-rules",
    filters: &[
        "id",
        "security_group_id",
        "direction",
        "ethertype",
        "protocol",
        "port_range_min",
        "port_range_max",
        "remote_ip_prefix",
        "remote_group_id",
        "description",
        "project_id",
        "tenant_id",
        "revision_number",
    ],
    sort_keys: &[
        "id",
        "security_group_id",
        "direction",
        "ethertype",
        "protocol",
        "port_range_min",
        "port_range_max",
        "remote_ip_prefix",
        "remote_group_id",
        "project_id",
        "tenant_id",
        "revision_number",
        "created_at",
        "updated_at",
    ],
};

pub(crate) fn render_rule(r: &RuleRow) -> Value {
    json!({
        "id": r.id,
        "security_group_id": r.security_group_id,
        "direction": r.direction,
        "ethertype": r.ethertype,
        "protocol": r.protocol,
        "port_range_min": r.port_range_min,
        "port_range_max": r.port_range_max,
        "remote_ip_prefix": r.remote_ip_prefix,
        "remote_group_id": r.remote_group_id,
        "description": r.description,
        "project_id": r.project_id,
        "tenant_id": r.project_id,
        "created_at": timestamp(r.created_at),
        "updated_at": timestamp(r.updated_at),
        "revision_number": r.revision_number,
    })
}

pub(crate) fn render_group(g: &GroupRow, rules: &[RuleRow], tags: &[String]) -> Value {
    json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "project_id": g.project_id,
        "tenant_id": g.project_id,
        "security_group_rules": rules.iter().map(render_rule).collect::<Vec<_>>(),
        "created_at": timestamp(g.created_at),
        "updated_at": timestamp(g.updated_at),
        "revision_number": g.revision_number,
        "tags": tags,
    })
}

fn target(project_id: &str) -> Value {
    json!({"project_id": project_id, "tenant_id": project_id})
}

fn invalid(key: &str, reason: impl std::fmt::Display) -> api::ApiError {
    NetworkError::invalid_attr(key, reason).into()
}

async fn view(n: &Network, g: &GroupRow, rules: &[RuleRow]) -> ApiResult<Value> {
    let tags = tags::list(n, Taggable::SecurityGroup, &g.id).await?;
    Ok(render_group(g, rules, &tags))
}

pub async fn list(State(n): State<Network>, Auth(ctx): Auth, q: QueryPairs) -> ApiResult<Response> {
    let query = ListQuery::parse(&q.0, &GROUPS, n.config.pagination_max_limit)?;
    let groups = sg::list(&n, &n.caller(&ctx)).await?;
    let tags = tags::all_of(&n, Taggable::SecurityGroup).await?;
    let items = groups
        .iter()
        .map(|(g, r)| render_group(g, r, tags.get(&g.id).map(Vec::as_slice).unwrap_or_default()))
        .collect();
    query.respond(&n, &GROUPS, items)
}

pub async fn show(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryPairs,
) -> ApiResult<Response> {
    let (g, rules) = sg::get(&n, &n.caller(&ctx), &id).await?;
    let v = view(&n, &g, &rules).await?;
    Ok(super::json(
        StatusCode::OK,
        json!({"security_group": ListQuery::fields_of(&q.0, v)}),
    ))
}

pub async fn create(
    State(n): State<Network>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let m = attrs::resource(&headers, &bytes, "security_group")?;
    attrs::check(&m, GROUP_KNOWN, GROUP_POST, Method::Post)?;
    let caller = n.caller(&ctx);
    let project_id = attrs::owner(&m, &caller.project_id, caller.all_projects)?;
    let name = attrs::string(&m, "name", NAME_MAX)?.unwrap_or_default();
    let description = attrs::string(&m, "description", DESCRIPTION_MAX)?.unwrap_or_default();
    n.authorize(&ctx, "create_security_group", &target(&project_id))?;
    let (g, rules) = sg::create(&n, &project_id, &name, &description).await?;
    Ok(super::json(
        StatusCode::CREATED,
        json!({"security_group": view(&n, &g, &rules).await?}),
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
    let (current, _) = sg::get(&n, &caller, &id).await?;
    let m = attrs::resource(&headers, &bytes, "security_group")?;
    attrs::check(&m, GROUP_KNOWN, GROUP_PUT, Method::Put)?;
    let name = attrs::string(&m, "name", NAME_MAX)?;
    let description = attrs::string(&m, "description", DESCRIPTION_MAX)?;
    n.authorize(&ctx, "update_security_group", &target(&current.project_id))?;
    let (g, rules) = sg::update(&n, &caller, &id, name, description).await?;
    Ok(super::json(
        StatusCode::OK,
        json!({"security_group": view(&n, &g, &rules).await?}),
    ))
}

pub async fn delete(State(n): State<Network>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let caller = n.caller(&ctx);
    let (current, _) = sg::get(&n, &caller, &id).await?;
    n.authorize(&ctx, "delete_security_group", &target(&current.project_id))?;
    sg::delete(&n, &caller, &id).await?;
    Ok(no_content())
}

// --- rules -------------------------------------------------------------------

pub async fn list_rules(State(n): State<Network>, Auth(ctx): Auth, q: QueryPairs) -> ApiResult<Response> {
    let query = ListQuery::parse(&q.0, &RULES, n.config.pagination_max_limit)?;
    let rules = sg::list_rules(&n, &n.caller(&ctx)).await?;
    query.respond(&n, &RULES, rules.iter().map(render_rule).collect())
}

pub async fn show_rule(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryPairs,
) -> ApiResult<Response> {
    let r = sg::get_rule(&n, &n.caller(&ctx), &id).await?;
    Ok(super::json(
        StatusCode::OK,
        json!({"security_group_rule": ListQuery::fields_of(&q.0, render_rule(&r))}),
    ))
}

/// `port_range_min`/`port_range_max`: an integer 0–65535 (or `null`).
fn port_value(m: &Map<String, Value>, key: &str) -> ApiResult<Option<i64>> {
    let v = match m.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (0..=65535).contains(&n) => Ok(Some(n)),
        _ => Err(NetworkError::invalid_input(format!(
            "Invalid value for port {}",
            v.as_str().map_or_else(|| v.to_string(), str::to_owned)
        ))
        .into()),
    }
}

pub async fn create_rule(
    State(n): State<Network>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let m = attrs::resource(&headers, &bytes, "security_group_rule")?;
    attrs::check(&m, RULE_KNOWN, RULE_POST, Method::Post)?;
    let caller = n.caller(&ctx);
    attrs::owner(&m, &caller.project_id, caller.all_projects)?;
    for key in ["security_group_id", "direction"] {
        if !m.contains_key(key) {
            return Err(NetworkError::http_bad_request(format!(
                "Failed to parse request. Required attribute '{key}' not specified"
            ))
            .into());
        }
    }
    let group_id = attrs::uuid(&m, "security_group_id")?.unwrap_or_default();
    let direction = attrs::one_of(&m, "direction", &["ingress", "egress"])?.unwrap_or_default();
    let ethertype = match m.get("ethertype") {
        None | Some(Value::Null) => "IPv4".to_owned(),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("ipv4") => "IPv4".to_owned(),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("ipv6") => "IPv6".to_owned(),
        Some(v) => {
            return Err(NetworkError::invalid_input(format!(
                "Security group rule for ethertype '{}' not supported. Allowed values are ['IPv4', 'IPv6']",
                v.as_str().unwrap_or(&v.to_string())
            ))
            .into());
        }
    };
    let protocol = match m.get("protocol") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.to_lowercase()),
        Some(Value::Number(num)) => Some(num.to_string()),
        Some(v) => return Err(invalid("protocol", format!("'{v}' is not a valid protocol"))),
    };
    let remote_group_id = match m.get("remote_group_id") {
        None | Some(Value::Null) => None,
        // Not checked for the UUID form, as in Neutron: an id that is no
        // group's is a 404, whatever it looks like.
        Some(_) => attrs::string(&m, "remote_group_id", 255)?,
    };
    let remote_ip_prefix = match m.get("remote_ip_prefix") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => {
            return Err(NetworkError::bad("InvalidCIDR", format!("Invalid CIDR {v} given as IP prefix.")).into());
        }
    };
    let spec = NewRule {
        security_group_id: group_id.clone(),
        direction,
        ethertype,
        protocol,
        port_range_min: port_value(&m, "port_range_min")?,
        port_range_max: port_value(&m, "port_range_max")?,
        remote_ip_prefix,
        remote_group_id,
        description: attrs::string(&m, "description", DESCRIPTION_MAX)?.unwrap_or_default(),
    };
    let (group, _) = sg::get(&n, &caller, &group_id).await?;
    n.authorize(&ctx, "create_security_group_rule", &target(&group.project_id))?;
    let r = sg::create_rule(&n, &caller, spec).await?;
    Ok(super::json(
        StatusCode::CREATED,
        json!({"security_group_rule": render_rule(&r)}),
    ))
}

pub async fn delete_rule(State(n): State<Network>, Auth(ctx): Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let caller = n.caller(&ctx);
    let r = sg::get_rule(&n, &caller, &id).await?;
    n.authorize(&ctx, "delete_security_group_rule", &target(&r.project_id))?;
    sg::delete_rule(&n, &caller, &id).await?;
    Ok(no_content())
}
