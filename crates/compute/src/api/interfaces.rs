//! `/servers/{id}/os-interface`: the ports of a server (list, show) and
//! interface attach and detach (`openstack server add/remove port|network`),
//! as Nova's `attach_interfaces.py`. Listing and showing read the network
//! service with the user's token; attach makes or takes over the port and
//! binds it before the agent plugs it (see [`crate::network`]).

use api::ApiError;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use compute_agent::rpc::{Action, vm_states};
use serde_json::{Value, json};

use super::servers::{ApiResult, Who, authorize, visible};
use crate::Compute;
use crate::db::servers::InstanceRow;
use crate::microversion::Version;
use crate::network::interface_attachment;
use crate::network_client::As;
use crate::servers::{Caller, invalid_state};

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/servers/{id}/os-interface", get(list).post(attach))
        .route("/servers/{id}/os-interface/{port_id}", get(show).delete(detach))
}

#[derive(serde::Deserialize)]
struct IdPort {
    id: String,
    port_id: String,
}

fn with_tag(mut a: Value, v: Version) -> Value {
    if v.at_least(70) {
        a["tag"] = Value::Null;
    }
    a
}

async fn list(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(super::IdPath { id }): Path<super::IdPath>,
) -> ApiResult<Json<Value>> {
    let row = visible(&c, &caller, &id, "os_compute_api:os-attach-interfaces:list").await?;
    let ports = match &c.network {
        Some(n) => {
            n.list(
                As::User(&caller.auth.token),
                "ports",
                &[("device_id", row.uuid.clone())],
            )
            .await?
        }
        None => Vec::new(),
    };
    let list: Vec<Value> = ports.iter().map(|p| with_tag(interface_attachment(p), v)).collect();
    Ok(Json(json!({ "interfaceAttachments": list })))
}

async fn show(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(IdPort { id, port_id }): Path<IdPort>,
) -> ApiResult<Json<Value>> {
    let row = visible(&c, &caller, &id, "os_compute_api:os-attach-interfaces:show").await?;
    let port = match &c.network {
        Some(n) => n.show_port(As::User(&caller.auth.token), &port_id).await?,
        None => None,
    };
    let Some(port) = port else {
        return Err(ApiError::not_found(format!("Port id {port_id} could not be found.")));
    };
    if port["device_id"] != row.uuid.as_str() {
        return Err(ApiError::not_found(format!(
            "Instance {} does not have a port with id {port_id}",
            row.uuid
        )));
    }
    Ok(Json(
        json!({"interfaceAttachment": with_tag(interface_attachment(&port), v)}),
    ))
}

/// Attach and detach need a server that is active, paused or stopped,
/// with no task, and not locked (Nova's `check_instance_state`).
fn check_state(c: &Compute, caller: &Caller, row: &InstanceRow, action: &str) -> ApiResult<()> {
    c.check_locked(caller, row)?;
    if !matches!(
        row.vm_state.as_str(),
        vm_states::ACTIVE | vm_states::PAUSED | vm_states::STOPPED
    ) {
        return Err(invalid_state(action, &row.uuid, "vm_state", Some(&row.vm_state)).into());
    }
    if row.task_state.is_some() {
        return Err(invalid_state(action, &row.uuid, "task_state", row.task_state.as_deref()).into());
    }
    Ok(())
}

fn text(o: &serde_json::Map<String, Value>, k: &str) -> ApiResult<Option<String>> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute {k}. Value: {other}. {other} is not of type 'string'"
        ))),
    }
}

async fn attach(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(super::IdPath { id }): Path<super::IdPath>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    let row = visible(&c, &caller, &id, "os_compute_api:os-attach-interfaces:create").await?;
    authorize(
        &c,
        &caller,
        "os_compute_api:os-attach-interfaces:create",
        &row.project_id,
        &row.user_id,
    )?;
    let (mut network_id, mut port_id, mut fixed_ip) = (None, None, None);
    match body.get("interfaceAttachment") {
        None => {}
        Some(Value::Object(a)) => {
            for k in a.keys() {
                let known = matches!(k.as_str(), "net_id" | "port_id" | "fixed_ips") || (k == "tag" && v.at_least(49));
                if !known {
                    return Err(ApiError::bad_request(format!(
                        "Invalid input for field/attribute interfaceAttachment. Value: {}. Additional properties are not allowed ('{k}' was unexpected)",
                        Value::Object(a.clone())
                    )));
                }
            }
            network_id = text(a, "net_id")?;
            port_id = text(a, "port_id")?;
            fixed_ip = a
                .get("fixed_ips")
                .and_then(|f| f.get(0))
                .and_then(|f| f.get("ip_address"))
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute interfaceAttachment. Value: {other}. {other} is not of type 'object'"
            )));
        }
    }
    for (k, val) in [("net_id", &network_id), ("port_id", &port_id)] {
        if let Some(s) = val
            && uuid::Uuid::parse_str(s).is_err()
        {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute {k}. Value: {s}. '{s}' is not a 'uuid'"
            )));
        }
    }
    if let Some(addr) = &fixed_ip
        && addr.parse::<std::net::IpAddr>().is_err()
    {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute ip_address. Value: {addr}. '{addr}' is not a 'ip-address'"
        )));
    }
    if network_id.is_some() && port_id.is_some() {
        return Err(ApiError::bad_request("Must not input both network_id and port_id"));
    }
    if fixed_ip.is_some() && network_id.is_none() {
        return Err(ApiError::bad_request("Must input network_id when request IP address"));
    }
    check_state(&c, &caller, &row, "attach_interface")?;
    if c.network.is_none() {
        return Err(ApiError::bad_request("Network driver does not support this function."));
    }
    let (port, vif) = c
        .allocate_interface(&caller, &row, network_id, port_id, fixed_ip)
        .await?;
    c.record_action(&caller, &row.uuid, "attach_interface").await?;
    c.cast_action(&caller, &row, Action::AttachInterface { port: vif })
        .await?;
    Ok(Json(
        json!({"interfaceAttachment": with_tag(interface_attachment(&port), v)}),
    ))
}

async fn detach(
    State(c): State<Compute>,
    Who(caller): Who,
    Path(IdPort { id, port_id }): Path<IdPort>,
) -> ApiResult<StatusCode> {
    let row = visible(&c, &caller, &id, "os_compute_api:os-attach-interfaces:delete").await?;
    authorize(
        &c,
        &caller,
        "os_compute_api:os-attach-interfaces:delete",
        &row.project_id,
        &row.user_id,
    )?;
    check_state(&c, &caller, &row, "detach_interface")?;
    c.mark_detaching(&row, &port_id).await?;
    c.record_action(&caller, &row.uuid, "detach_interface").await?;
    c.cast_action(&caller, &row, Action::DetachInterface { port_id })
        .await?;
    Ok(StatusCode::ACCEPTED)
}
