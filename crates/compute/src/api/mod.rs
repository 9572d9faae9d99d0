//! The compute route table. Every resource group has its own file with a
//! `routes()` that this table merges; the paths are Nova's, under `/v2.1`
//! (and `/v2.1/{project_id}` for clients whose catalog URL carries the
//! project).

pub mod aggregates;
pub mod availability_zones;
pub mod extensions;
pub mod flavors;
pub mod hosts;
pub mod hypervisors;
pub mod images;
pub mod instance_usage_audit_log;
pub mod interfaces;
pub mod ips;
pub mod keypairs;
pub mod limits;
pub mod migrations;
pub mod quotas;
pub mod server_actions;
pub mod server_diagnostics;
pub mod server_external_events;
pub mod server_groups;
pub mod servers;
pub mod services;
pub mod usage;
pub mod versions;
pub mod volume_attachments;

use axum::Router;
use axum::middleware;

use crate::Compute;

impl Compute {
    /// The whole API, wrapped in the common middleware stack (Nova faults).
    pub fn router(&self) -> Router {
        let resources: Router<Compute> = Router::new()
            .merge(servers::routes())
            .merge(server_actions::routes())
            .merge(server_diagnostics::routes())
            .merge(server_external_events::routes())
            .merge(interfaces::routes())
            .merge(ips::routes())
            .merge(server_groups::routes())
            .merge(flavors::routes())
            .merge(keypairs::routes())
            .merge(availability_zones::routes())
            .merge(aggregates::routes())
            .merge(services::routes())
            .merge(hosts::routes())
            .merge(hypervisors::routes())
            .merge(images::routes())
            .merge(extensions::routes())
            .merge(quotas::routes())
            .merge(limits::routes())
            .merge(usage::routes())
            .merge(instance_usage_audit_log::routes())
            .merge(migrations::routes())
            .merge(volume_attachments::routes());
        let v21 = resources
            .clone()
            .merge(versions::v21_routes())
            .layer(middleware::from_fn(crate::microversion::layer));
        let v2 = resources.layer(middleware::from_fn(crate::microversion::legacy_layer));
        let routes = Router::new()
            .merge(versions::root_routes())
            .nest("/v2.1", v21.clone())
            .nest("/v2.1/{project_id}", v21)
            .nest("/v2", v2.clone())
            .nest("/v2/{project_id}", v2)
            .with_state(self.clone());
        ::api::service_layers(
            routes,
            ::api::FaultStyle::Nova,
            self.auth.clone(),
            self.config.max_request_body_size,
        )
        .layer(middleware::map_response(compute_request_id))
    }
}

/// `2024-01-02T03:04:05Z` from microseconds since the epoch.
pub(crate) fn isotime(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Query pairs, as axum hands them over.
pub(crate) type QueryPairs = axum::extract::Query<Vec<(String, String)>>;

/// Path parameters by name: routes are served under `/v2.1` and
/// `/v2.1/{project_id}`, so handlers name what they take and ignore the
/// project.
#[derive(serde::Deserialize)]
pub(crate) struct IdPath {
    pub id: String,
}

#[derive(serde::Deserialize)]
pub(crate) struct IdKey {
    pub id: String,
    pub key: String,
}

#[derive(serde::Deserialize)]
pub(crate) struct IdTag {
    pub id: String,
    pub tag: String,
}

#[derive(serde::Deserialize)]
pub(crate) struct IdReq {
    pub id: String,
    pub request_id: String,
}

/// Nova answers with its request id under its legacy name too
/// (`x-compute-request-id`, its `compute_req_id` filter); clients such as
/// tempest read it there.
async fn compute_request_id(mut resp: axum::response::Response) -> axum::response::Response {
    if let Some(id) = resp.headers().get("x-openstack-request-id").cloned() {
        resp.headers_mut().insert("x-compute-request-id", id);
    }
    resp
}
