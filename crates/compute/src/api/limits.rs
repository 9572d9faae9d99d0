//! `GET /limits`: the project's absolute limits and what it uses (there
//! are no rate limits: `rate` is empty). `?tenant_id=` reads another
//! project's (admin). The network proxies' fields go at 2.36,
//! `maxImageMeta` at 2.39, the personality fields at 2.57.

use api::ApiError;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::QueryPairs;
use super::servers::{ApiResult, Who, authorize};
use crate::Compute;
use crate::microversion::Version;

pub fn routes() -> Router<Compute> {
    Router::new().route("/limits", get(limits))
}

/// Quota resource → the absolute limit names Nova shows for it.
const LIMIT_NAMES: &[(&str, &[&str])] = &[
    ("ram", &["maxTotalRAMSize"]),
    ("instances", &["maxTotalInstances"]),
    ("cores", &["maxTotalCores"]),
    ("key_pairs", &["maxTotalKeypairs"]),
    ("floating_ips", &["maxTotalFloatingIps"]),
    ("metadata_items", &["maxServerMeta", "maxImageMeta"]),
    ("injected_files", &["maxPersonality"]),
    ("injected_file_content_bytes", &["maxPersonalitySize"]),
    ("security_groups", &["maxSecurityGroups"]),
    ("security_group_rules", &["maxSecurityGroupRules"]),
    ("server_groups", &["maxServerGroups"]),
    ("server_group_members", &["maxServerGroupMembers"]),
];

/// Usage name → quota resource.
const USED_NAMES: &[(&str, &str)] = &[
    ("totalRAMUsed", "ram"),
    ("totalCoresUsed", "cores"),
    ("totalInstancesUsed", "instances"),
    ("totalFloatingIpsUsed", "floating_ips"),
    ("totalSecurityGroupsUsed", "security_groups"),
    ("totalServerGroupsUsed", "server_groups"),
];

fn filtered(resource: &str, v: Version) -> bool {
    (v.at_least(36) && matches!(resource, "floating_ips" | "security_groups" | "security_group_rules"))
        || (v.at_least(57) && matches!(resource, "injected_files" | "injected_file_content_bytes"))
}

async fn limits(State(c): State<Compute>, Who(caller): Who, v: Version, q: QueryPairs) -> ApiResult<Json<Value>> {
    let mut project = caller.project_id().to_owned();
    authorize(&c, &caller, "os_compute_api:limits", &project, caller.user_id())?;
    if let Some((_, t)) = q.iter().rev().find(|(k, _)| k == "tenant_id") {
        authorize(&c, &caller, "os_compute_api:limits:other_project", t, caller.user_id())?;
        project = t.clone();
    }
    if project.is_empty() {
        return Err(ApiError::bad_request("A project-scoped token is required."));
    }
    let details = c.quota_details(&project, None).await?;
    let mut absolute = Map::new();
    for (resource, names) in LIMIT_NAMES {
        let Some(d) = details.get(*resource) else { continue };
        if filtered(resource, v) {
            continue;
        }
        for name in *names {
            if *name == "maxImageMeta" && v.at_least(39) {
                continue;
            }
            absolute.insert((*name).to_owned(), json!(d.limit));
        }
    }
    for (name, resource) in USED_NAMES {
        if filtered(resource, v) {
            continue;
        }
        let in_use = details.get(*resource).map(|d| d.in_use).unwrap_or(0);
        absolute.insert((*name).to_owned(), json!(in_use));
    }
    Ok(Json(json!({"limits": {"rate": [], "absolute": absolute}})))
}
