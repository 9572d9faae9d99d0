//! `/servers/{id}/ips`: a server's addresses per network, as Nova's
//! `ips.py` — the `addresses` of the server view without the `OS-EXT-IPS`
//! extensions, read fresh from the network service like a show.

use api::ApiError;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::servers::{ApiResult, Who, visible};
use crate::Compute;
use crate::network::addresses;

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/servers/{id}/ips", get(index))
        .route("/servers/{id}/ips/{label}", get(show))
}

#[derive(serde::Deserialize)]
struct IdLabel {
    id: String,
    label: String,
}

/// Per network label, each address as `{"version", "addr"}` (Nova's
/// address view without `extend_address`, also a rebuild's).
pub(crate) fn basic(addresses: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for (label, ips) in addresses.as_object().into_iter().flatten() {
        let ips: Vec<Value> = ips
            .as_array()
            .into_iter()
            .flatten()
            .map(|ip| json!({"version": ip["version"], "addr": ip["addr"]}))
            .collect();
        out.insert(label.clone(), Value::Array(ips));
    }
    out
}

async fn addresses_of(
    c: &Compute,
    caller: &crate::servers::Caller,
    id: &str,
    rule: &str,
) -> ApiResult<Map<String, Value>> {
    let row = visible(c, caller, id, rule).await?;
    let network_info = c.refresh_network_info(&row).await;
    Ok(basic(&addresses(&network_info)))
}

async fn index(
    State(c): State<Compute>,
    Who(caller): Who,
    Path(super::IdPath { id }): Path<super::IdPath>,
) -> ApiResult<Json<Value>> {
    let all = addresses_of(&c, &caller, &id, "os_compute_api:ips:index").await?;
    Ok(Json(json!({"addresses": all})))
}

async fn show(
    State(c): State<Compute>,
    Who(caller): Who,
    Path(IdLabel { id, label }): Path<IdLabel>,
) -> ApiResult<Json<Value>> {
    let mut all = addresses_of(&c, &caller, &id, "os_compute_api:ips:show").await?;
    match all.remove(&label) {
        Some(ips) => Ok(Json(json!({ label: ips }))),
        None => Err(ApiError::not_found("Instance is not a member of specified network")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_keeps_only_version_and_addr() {
        let a = json!({"private": [
            {"version": 4, "addr": "10.0.0.5", "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"},
            {"version": 4, "addr": "172.24.4.9", "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"}
        ]});
        assert_eq!(
            Value::Object(basic(&a)),
            json!({"private": [{"version": 4, "addr": "10.0.0.5"}, {"version": 4, "addr": "172.24.4.9"}]})
        );
    }
}
