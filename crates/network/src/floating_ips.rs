//! Floating IPs (part of Neutron's `router`): an IPv4 address of an
//! external network, held by a port the service makes for it (device
//! owner `network:floatingip`, no project, status `N/A`), and optionally
//! associated with a fixed IPv4 address of a port that a router connects
//! to that external network. Only the database side: the NAT is the
//! network agent's (DESIGN.md §5), so a floating IP stays `DOWN`.

use std::net::IpAddr;

use crate::db::floating_ips::{self as q, FloatingIpRow};
use crate::db::ports::PortRow;
use crate::db::{self, Conn};
use crate::error::{NetworkError, Result};
use crate::ports::{FixedIpRequest, NewPort};
use crate::routers::{DEVICE_OWNER_ROUTER_GW, DEVICE_OWNER_ROUTER_INTF};
use crate::{Caller, Network, networks, ports, quotas, tags};

pub const DEVICE_OWNER_FLOATINGIP: &str = "network:floatingip";

/// Device owners under `network:` whose ports may still have a floating
/// IP (Neutron's `is_fip_serviced`).
const FIP_SERVICED_NETWORK_OWNERS: &[&str] = &["network:LOADBALANCER", "network:LOADBALANCERV2"];

#[derive(Clone, Debug)]
pub struct NewFloatingIp {
    pub project_id: String,
    pub floating_network_id: String,
    pub floating_ip_address: Option<IpAddr>,
    pub subnet_id: Option<String>,
    pub port_id: Option<String>,
    pub fixed_ip_address: Option<IpAddr>,
    pub description: String,
}

#[derive(Clone, Debug, Default)]
pub struct FloatingIpChanges {
    /// `Some(None)`: disassociate.
    pub port_id: Option<Option<String>>,
    pub fixed_ip_address: Option<IpAddr>,
    pub description: Option<String>,
}

pub(crate) async fn load(n: &Network, c: &mut Conn, caller: &Caller, id: &str) -> Result<FloatingIpRow> {
    match q::get(&n.db, c, id).await? {
        Some(row) if caller.owns(&row.project_id) => Ok(row),
        _ => Err(NetworkError::floatingip_not_found(id)),
    }
}

pub async fn get(n: &Network, caller: &Caller, id: &str) -> Result<FloatingIpRow> {
    let mut c = n.reader().await?;
    load(n, &mut c, caller, id).await
}

pub async fn list(n: &Network, caller: &Caller) -> Result<Vec<FloatingIpRow>> {
    let mut c = n.reader().await?;
    q::list(
        &n.db,
        &mut c,
        (!caller.all_projects).then_some(caller.project_id.as_str()),
    )
    .await
}

fn bad(msg: impl std::fmt::Display) -> NetworkError {
    NetworkError::bad_resource("floatingip", msg)
}

/// The association asked for: the port, its fixed address and the router
/// that reaches it from the external network.
struct Association {
    port_id: String,
    fixed_ip: String,
    router_id: String,
}

/// Neutron's `_internal_fip_assoc_data` and `get_router_for_floatingip`.
async fn associate(
    n: &Network,
    c: &mut Conn,
    caller: &Caller,
    fip_project: &str,
    floating_network_id: &str,
    port_id: &str,
    fixed_ip: Option<IpAddr>,
) -> Result<Association> {
    let port = ports::load(n, c, caller, port_id).await?;
    if port.project_id != fip_project && !caller.all_projects {
        return Err(bad(format!(
            "Cannot process floating IP association with Port {port_id}, since that port is owned by a different \
             project"
        )));
    }
    if port.device_owner.starts_with("network:") && !FIP_SERVICED_NETWORK_OWNERS.contains(&port.device_owner.as_str()) {
        return Err(bad(format!("Port {port_id} is unable to be assigned a floating IP")));
    }
    let (subnet_id, ip) = match fixed_ip {
        Some(ip) => {
            if ip.is_ipv6() {
                return Err(bad(format!(
                    "Cannot process floating IP association with {ip}, since that is not an IPv4 address"
                )));
            }
            let text = ip.to_string();
            let (s, _) = port
                .fixed_ips
                .iter()
                .find(|(_, i)| *i == text)
                .ok_or_else(|| bad(format!("Port {port_id} does not have fixed ip {ip}")))?;
            (s.clone(), text)
        }
        None => {
            let v4: Vec<&(String, String)> = port.fixed_ips.iter().filter(|(_, ip)| !ip.contains(':')).collect();
            match v4.as_slice() {
                [] => {
                    return Err(bad(format!(
                        "Cannot add floating IP to port {port_id} that has no fixed IPv4 addresses"
                    )));
                }
                [(s, ip)] => (s.clone(), ip.clone()),
                _ => {
                    return Err(bad(format!(
                        "Port {port_id} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address \
                         when assigning a floating IP"
                    )));
                }
            }
        }
    };
    let router_id = router_for(n, c, &port, &subnet_id, floating_network_id).await?;
    Ok(Association {
        port_id: port.id,
        fixed_ip: ip,
        router_id,
    })
}

/// The router that connects `subnet_id` (where `port` has its address)
/// with the external network: one with an interface on the subnet and
/// its gateway on the network, the one whose interface is the subnet's
/// gateway first.
async fn router_for(n: &Network, c: &mut Conn, port: &PortRow, subnet_id: &str, external: &str) -> Result<String> {
    let gateway_ip = db::subnets::get(&n.db, c, subnet_id).await?.and_then(|s| s.gateway_ip);
    let mut first = None;
    for (router_id, iface_id) in
        db::routers::attached_on_network(&n.db, c, &port.network_id, DEVICE_OWNER_ROUTER_INTF).await?
    {
        let Some(iface) = db::ports::get(&n.db, c, &iface_id).await? else {
            continue;
        };
        let Some((_, iface_ip)) = iface.fixed_ips.iter().find(|(s, _)| s == subnet_id) else {
            continue;
        };
        let on_external = match db::routers::get(&n.db, c, &router_id).await?.and_then(|r| r.gw_port_id) {
            Some(gw) => db::ports::get(&n.db, c, &gw)
                .await?
                .is_some_and(|p| p.network_id == external && p.device_owner == DEVICE_OWNER_ROUTER_GW),
            None => false,
        };
        if !on_external {
            continue;
        }
        if gateway_ip.as_deref() == Some(iface_ip.as_str()) {
            return Ok(router_id);
        }
        first.get_or_insert(router_id);
    }
    first.ok_or_else(|| {
        NetworkError::not_found(
            "ExternalGatewayForFloatingIPNotFound",
            format!(
                "External network {external} is not reachable from subnet {subnet_id}.  Therefore, cannot associate \
                 Port {} with a Floating IP.",
                port.id
            ),
        )
    })
}

/// `FloatingIPPortAlreadyAssociated` unless the fixed address is free of
/// other floating IPs of the network.
async fn check_free(n: &Network, c: &mut Conn, fip: &FloatingIpRow, a: &Association) -> Result<()> {
    let taken = q::of_fixed_port(&n.db, c, &a.port_id).await?.into_iter().any(|other| {
        other.id != fip.id
            && other.floating_network_id == fip.floating_network_id
            && other.fixed_ip_address.as_deref() == Some(a.fixed_ip.as_str())
    });
    if taken {
        return Err(already_associated(fip, a));
    }
    Ok(())
}

fn already_associated(fip: &FloatingIpRow, a: &Association) -> NetworkError {
    NetworkError::conflict(
        "FloatingIPPortAlreadyAssociated",
        format!(
            "Cannot associate floating IP {} ({}) with port {} using fixed IP {}, as that fixed IP already has a \
             floating IP on external network {}.",
            fip.floating_ip_address, fip.id, a.port_id, a.fixed_ip, fip.floating_network_id
        ),
    )
}

/// Writes `row` (inserted when `new`), mapping a lost race on the
/// association key to its conflict.
async fn write(n: &Network, c: &mut Conn, row: &FloatingIpRow, new: bool, a: Option<&Association>) -> Result<()> {
    let done = if new {
        q::insert(&n.db, c, row).await
    } else {
        q::update(&n.db, c, row).await
    };
    match (done, a) {
        (Err(NetworkError::Store(store::StoreError::Conflict(_))), Some(a)) => Err(already_associated(row, a)),
        (other, _) => other,
    }
}

pub async fn create(n: &Network, caller: &Caller, spec: NewFloatingIp) -> Result<FloatingIpRow> {
    let network = networks::get(n, caller, &spec.floating_network_id).await?;
    if !network.external {
        return Err(bad(format!("Network {} is not a valid external network", network.id)));
    }
    {
        let mut c = n.reader().await?;
        let subnets = db::subnets::of_network(&n.db, &mut c, &network.id).await?;
        if !subnets.iter().any(|s| s.ip_version == 4) {
            return Err(bad(format!("Network {} does not contain any IPv4 subnet", network.id)));
        }
    }
    if spec.fixed_ip_address.is_some() && spec.port_id.is_none() {
        return Err(bad("fixed_ip_address cannot be specified without a port_id"));
    }
    let fixed: Option<Vec<FixedIpRequest>> =
        (spec.subnet_id.is_some() || spec.floating_ip_address.is_some()).then(|| {
            vec![FixedIpRequest {
                subnet_id: spec.subnet_id.clone(),
                ip_address: spec.floating_ip_address,
            }]
        });
    let id = uuid::Uuid::new_v4().to_string();
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        if !db::networks::lock(&n.db, &mut tx, &network.id).await? {
            return Err(NetworkError::network_not_found(&network.id));
        }
        quotas::check(n, &mut tx, &spec.project_id, "floatingip", 1).await?;
        let port_spec = NewPort {
            project_id: String::new(),
            network_id: network.id.clone(),
            admin_state_up: true,
            device_id: id.clone(),
            device_owner: DEVICE_OWNER_FLOATINGIP.into(),
            fixed_ips: fixed.clone(),
            security_groups: Some(Vec::new()),
            binding_vnic_type: "normal".into(),
            binding_profile: serde_json::json!({}),
            status: Some("N/A".into()),
            ..Default::default()
        };
        let port_id = uuid::Uuid::new_v4().to_string();
        let port = ports::insert_on(n, &mut tx, &Caller::service(), &port_spec, &port_id, &network, None).await?;
        let Some((_, address)) = port.fixed_ips.iter().find(|(_, ip)| !ip.contains(':')) else {
            return Err(NetworkError::bad(
                "ExternalIpAddressExhausted",
                format!("Unable to find any IP address on external network {}.", network.id),
            ));
        };
        let now = db::now();
        let mut row = FloatingIpRow {
            id: id.clone(),
            project_id: spec.project_id.clone(),
            floating_network_id: network.id.clone(),
            floating_ip_address: address.clone(),
            floating_port_id: port_id.clone(),
            fixed_port_id: None,
            fixed_ip_address: None,
            router_id: None,
            status: "DOWN".into(),
            description: spec.description.clone(),
            revision_number: 0,
            created_at: now,
            updated_at: now,
        };
        let assoc = match &spec.port_id {
            Some(p) => Some(
                associate(
                    n,
                    &mut tx,
                    caller,
                    &spec.project_id,
                    &network.id,
                    p,
                    spec.fixed_ip_address,
                )
                .await?,
            ),
            None => None,
        };
        if let Some(a) = &assoc {
            check_free(n, &mut tx, &row, a).await?;
            row.fixed_port_id = Some(a.port_id.clone());
            row.fixed_ip_address = Some(a.fixed_ip.clone());
            row.router_id = Some(a.router_id.clone());
        }
        write(n, &mut tx, &row, true, assoc.as_ref()).await?;
        tx.commit().await?;
        Ok(row)
    })
    .await
}

pub async fn update(n: &Network, caller: &Caller, id: &str, ch: FloatingIpChanges) -> Result<FloatingIpRow> {
    get(n, caller, id).await?;
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        q::bump_revision(&n.db, &mut tx, id).await?;
        let mut row = load(n, &mut tx, caller, id).await?;
        // The port to associate with: the one asked for, or (when the
        // request names none) the current one, checked again.
        let port = match &ch.port_id {
            Some(p) => p.clone(),
            None => row.fixed_port_id.clone(),
        };
        if ch.fixed_ip_address.is_some() && port.is_none() {
            return Err(bad("fixed_ip_address cannot be specified without a port_id"));
        }
        let assoc = match &port {
            Some(p) => {
                let fixed = match (ch.fixed_ip_address, &ch.port_id, &row.fixed_ip_address) {
                    (Some(ip), _, _) => Some(ip),
                    (None, None, Some(current)) => current.parse().ok(),
                    _ => None,
                };
                let a = associate(n, &mut tx, caller, &row.project_id, &row.floating_network_id, p, fixed).await?;
                check_free(n, &mut tx, &row, &a).await?;
                Some(a)
            }
            None => None,
        };
        row.fixed_port_id = assoc.as_ref().map(|a| a.port_id.clone());
        row.fixed_ip_address = assoc.as_ref().map(|a| a.fixed_ip.clone());
        row.router_id = assoc.as_ref().map(|a| a.router_id.clone());
        row.description = ch.description.clone().unwrap_or(row.description);
        write(n, &mut tx, &row, false, assoc.as_ref()).await?;
        let row = q::get(&n.db, &mut tx, id)
            .await?
            .ok_or_else(|| NetworkError::floatingip_not_found(id))?;
        tx.commit().await?;
        Ok(row)
    })
    .await
}

/// Deletes a floating IP and the port holding its address.
pub async fn delete(n: &Network, caller: &Caller, id: &str) -> Result<()> {
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        q::bump_revision(&n.db, &mut tx, id).await?;
        let row = load(n, &mut tx, caller, id).await?;
        q::delete(&n.db, &mut tx, id).await?;
        ports::remove_on(n, &mut tx, &row.floating_port_id).await?;
        db::tags::remove_all(&n.db, &mut tx, tags::Taggable::FloatingIp.key(), id).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

/// Disassociates the floating IPs of a port that is going away (Neutron's
/// `disassociate_floatingips`), in the port's transaction.
pub(crate) async fn disassociate_port(n: &Network, c: &mut Conn, port_id: &str) -> Result<()> {
    for mut f in q::of_fixed_port(&n.db, c, port_id).await? {
        f.fixed_port_id = None;
        f.fixed_ip_address = None;
        f.router_id = None;
        q::update(&n.db, c, &f).await?;
    }
    Ok(())
}
