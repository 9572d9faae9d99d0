//! `GET /` (the version document, no token), `GET /v2.0/` (the core
//! resources) and `/v2.0/extensions`: exactly the extensions this service
//! implements, under Neutron's aliases, so that clients that probe for an
//! extension before using it (openstacksdk, tempest) see the truth.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{ApiResult, json};
use crate::Network;
use crate::error::NetworkError;
use api::Auth;

/// `(alias, name, description)`.
pub const EXTENSIONS: &[(&str, &str, &str)] = &[
    ("agent", "agent", "The agent management extension."),
    (
        "allowed-address-pairs",
        "Allowed Address Pairs",
        "Provides allowed address pairs",
    ),
    (
        "binding",
        "Port Binding",
        "Expose port bindings of a virtual port to external application",
    ),
    (
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    (
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway",
    ),
    (
        "extraroute",
        "Neutron Extra Route",
        "Extra routes configuration for L3 router",
    ),
    (
        "filter-validation",
        "Filter parameters validation",
        "Provides validation on filter parameters.",
    ),
    (
        "net-mtu",
        "Network MTU",
        "Provides MTU attribute for a network resource.",
    ),
    (
        "network-ip-availability",
        "Network IP Availability",
        "Provides IP availability data for each network and subnet.",
    ),
    (
        "pagination",
        "Pagination support",
        "Extension that indicates that pagination is enabled.",
    ),
    ("port-security", "Port Security", "Provides port security"),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    (
        "provider",
        "Provider Network",
        "Expose mapping of virtual networks to physical networks",
    ),
    (
        "quota_details",
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
    ),
    (
        "quota-check-limit",
        "Quota engine limit check",
        "Support for checking the resource usage before applying a new quota limit",
    ),
    (
        "quotas",
        "Quota management support",
        "Expose functions for quotas management per project",
    ),
    (
        "router",
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via \
         a NAT gateway.",
    ),
    ("security-group", "security-group", "The security groups extension."),
    (
        "sorting",
        "Sorting support",
        "Extension that indicates that sorting is enabled.",
    ),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip",
        "Enables to set tag on resources with standard attribute.",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.",
    ),
    (
        "subnet-external-network",
        "Subnet belongs to an external network",
        "Informs if the subnet belongs to an external network",
    ),
];

fn render(alias: &str, name: &str, description: &str) -> Value {
    json!({
        "alias": alias,
        "name": name,
        "description": description,
        "updated": "2013-01-01T10:00:00-00:00",
        "links": [],
    })
}

pub async fn versions(State(n): State<Network>) -> Response {
    json(
        StatusCode::OK,
        json!({"versions": [{
            "id": "v2.0",
            "status": "CURRENT",
            "links": [{"rel": "self", "href": format!("{}/v2.0/", n.base_url())}],
        }]}),
    )
}

pub async fn resources(State(n): State<Network>, Auth(_): Auth) -> Response {
    let list: Vec<Value> = [("network", "networks"), ("subnet", "subnets"), ("port", "ports")]
        .iter()
        .map(|(name, collection)| {
            json!({
                "name": name,
                "collection": collection,
                "links": [{"rel": "self", "href": format!("{}/v2.0/{collection}", n.base_url())}],
            })
        })
        .collect();
    json(StatusCode::OK, json!({"resources": list}))
}

pub async fn extensions(Auth(_): Auth) -> Response {
    let list: Vec<Value> = EXTENSIONS.iter().map(|(a, n, d)| render(a, n, d)).collect();
    json(StatusCode::OK, json!({"extensions": list}))
}

pub async fn extension(Auth(_): Auth, Path(alias): Path<String>) -> ApiResult<Response> {
    let (a, n, d) = EXTENSIONS.iter().find(|(a, _, _)| *a == alias).ok_or_else(|| {
        NetworkError::not_found("HTTPNotFound", format!("Extension with alias {alias} does not exist"))
    })?;
    Ok(json(StatusCode::OK, json!({"extension": render(a, n, d)})))
}
