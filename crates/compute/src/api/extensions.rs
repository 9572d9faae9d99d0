//! `/extensions`: the legacy extension list Nova still serves (clients
//! such as `openstack extension list` and tempest read it). Listed are
//! the API extensions this service implements in this resource group, by
//! Nova's aliases.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::{Value, json};

use ::api::{ApiError, Auth};

use super::flavors::{Params, authorize};
use crate::Compute;

type ApiResult<T> = Result<T, ApiError>;

/// (alias, name, description)
const EXTENSIONS: &[(&str, &str, &str)] = &[
    ("flavors", "Flavors", "Flavors Extension."),
    ("os-flavor-manage", "FlavorManage", "Flavor create/delete API support."),
    ("os-flavor-access", "FlavorAccess", "Flavor access support."),
    (
        "os-flavor-extra-specs",
        "FlavorExtraSpecs",
        "Flavors extra specs support.",
    ),
    (
        "OS-FLV-EXT-DATA",
        "FlavorExtraData",
        "Provide additional data for flavors.",
    ),
    (
        "OS-FLV-DISABLED",
        "FlavorDisabled",
        "Support to show the disabled status of a flavor.",
    ),
    (
        "os-flavor-rxtx",
        "FlavorRxtx",
        "Support to show the rxtx status of a flavor.",
    ),
    (
        "os-flavor-swap",
        "FlavorSwap",
        "Support to show the swap status of a flavor.",
    ),
    ("os-keypairs", "Keypairs", "Keypair Support."),
    ("os-aggregates", "Aggregates", "Admin-only aggregate administration."),
    (
        "os-availability-zone",
        "AvailabilityZone",
        "1. Add availability_zone to the Create Server API.\n2. Add availability zones describing.",
    ),
    ("os-hypervisors", "Hypervisors", "Admin-only hypervisor administration."),
    ("os-hypervisor-status", "HypervisorStatus", "Show hypervisor status."),
    ("os-services", "Services", "Services support."),
    ("os-hosts", "Hosts", "Admin-only host administration."),
    ("images", "Images", "Proxying API for Images."),
    ("os-create-backup", "CreateBackup", "Create a backup of a server."),
    (
        "os-admin-actions",
        "AdminActions",
        "Enable admin-only server actions\n\nActions include: os-resetState",
    ),
    ("os-extended-services", "ExtendedServices", "Extended services support."),
    (
        "os-extended-services-delete",
        "ExtendedServicesDelete",
        "Extended services deletion support.",
    ),
    ("os-attach-interfaces", "AttachInterfaces", "Attach interface support."),
    (
        "os-server-external-events",
        "ServerExternalEvents",
        "Server External Event Triggers.",
    ),
    ("OS-EXT-IPS", "ExtendedIps", "Adds type parameter to the ip list."),
    (
        "OS-EXT-IPS-MAC",
        "ExtendedIpsMac",
        "Adds mac address parameter to the ip list.",
    ),
];

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/extensions", get(list))
        .route("/extensions/{id}", get(show))
}

fn view(alias: &str, name: &str, description: &str) -> Value {
    json!({
        "alias": alias,
        "name": name,
        "description": description,
        "namespace": format!("http://docs.openstack.org/compute/ext/fake_xml"),
        "updated": "2014-12-03T00:00:00Z",
        "links": [],
    })
}

async fn list(State(c): State<Compute>, Auth(ctx): Auth) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:extensions")?;
    Ok(Json(json!({"extensions": EXTENSIONS
        .iter()
        .map(|(a, n, d)| view(a, n, d))
        .collect::<Vec<_>>()})))
}

async fn show(State(c): State<Compute>, Auth(ctx): Auth, Path(p): Path<Params>) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:extensions")?;
    let alias = p.id.unwrap_or_default();
    EXTENSIONS
        .iter()
        .find(|(a, _, _)| *a == alias)
        .map(|(a, n, d)| Json(json!({"extension": view(a, n, d)})))
        .ok_or_else(|| ApiError::not_found("The resource could not be found."))
}
