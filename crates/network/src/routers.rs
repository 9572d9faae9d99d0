//! Routers (Neutron's `router`, `ext-gw-mode` and `extraroute`): a
//! gateway on an external network, interfaces on tenant subnets, extra
//! routes. Only the database side: no namespace is made here, the
//! network agent does that (DESIGN.md §5).
//!
//! A router's gateway and interfaces are ports the service makes, as
//! Neutron does: the gateway port belongs to no project and takes an
//! address from the external network, an interface port belongs to the
//! router's project and holds its subnet's gateway address. Which ports
//! are a router's is kept in `router_ports`, not read from the ports'
//! `device_id`, which a client may rewrite. Every change of a router's
//! ports runs in one transaction that first takes the allocation lock of
//! the network it allocates on (see the crate doc), then bumps the
//! router's revision, which serializes the writers of one router: two
//! interfaces added at once cannot both pass the overlap check.

use std::net::IpAddr;

use crate::db::networks::NetworkRow;
use crate::db::ports::PortRow;
use crate::db::routers::{self as q, RouterRow};
use crate::db::subnets::SubnetRow;
use crate::db::{self, Conn};
use crate::error::{NetworkError, Result};
use crate::ip::Cidr;
use crate::ports::{FixedIpRequest, NewPort};
use crate::{Caller, Network, networks, ports, quotas, subnets, tags};

pub const DEVICE_OWNER_ROUTER_INTF: &str = "network:router_interface";
pub const DEVICE_OWNER_ROUTER_GW: &str = "network:router_gateway";

/// `[DEFAULT] enable_snat_by_default`: SNAT is on unless an admin says
/// otherwise (`ext-gw-mode`).
pub const ENABLE_SNAT_BY_DEFAULT: bool = true;

/// The gateway a request asks for.
#[derive(Clone, Debug)]
pub struct GatewayRequest {
    pub network_id: String,
    /// `None`: [`ENABLE_SNAT_BY_DEFAULT`].
    pub enable_snat: Option<bool>,
    /// Empty: an address of the network's choosing.
    pub external_fixed_ips: Vec<FixedIpRequest>,
}

#[derive(Clone, Debug)]
pub struct NewRouter {
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: bool,
    pub gateway: Option<GatewayRequest>,
}

#[derive(Clone, Debug, Default)]
pub struct RouterChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: Option<bool>,
    /// `Some(None)`: clear the gateway.
    pub gateway: Option<Option<GatewayRequest>>,
    pub routes: Option<Vec<(Cidr, IpAddr)>>,
}

/// A router with what is shown of it: its gateway port and routes.
#[derive(Clone, Debug)]
pub struct Router {
    pub row: RouterRow,
    pub gateway: Option<PortRow>,
    /// `(destination, nexthop)`.
    pub routes: Vec<(String, String)>,
}

/// What adding or removing an interface answers.
#[derive(Clone, Debug)]
pub struct InterfaceInfo {
    pub router_id: String,
    pub project_id: String,
    pub port_id: String,
    pub network_id: String,
    pub subnet_id: String,
    pub subnet_ids: Vec<String>,
}

/// What an interface is added or removed by.
#[derive(Clone, Debug)]
pub enum Interface {
    Subnet(String),
    Port(String),
    /// Removal only: a port, checked to be on a subnet.
    PortOnSubnet {
        port_id: String,
        subnet_id: String,
    },
}

pub(crate) async fn load(n: &Network, c: &mut Conn, caller: &Caller, id: &str) -> Result<RouterRow> {
    match q::get(&n.db, c, id).await? {
        Some(row) if caller.owns(&row.project_id) => Ok(row),
        _ => Err(NetworkError::router_not_found(id)),
    }
}

async fn view_on(n: &Network, c: &mut Conn, row: RouterRow) -> Result<Router> {
    let gateway = match &row.gw_port_id {
        Some(p) => db::ports::get(&n.db, c, p).await?,
        None => None,
    };
    let routes = q::routes_of(&n.db, c, &row.id).await?;
    Ok(Router { row, gateway, routes })
}

pub async fn get(n: &Network, caller: &Caller, id: &str) -> Result<Router> {
    let mut c = n.reader().await?;
    let row = load(n, &mut c, caller, id).await?;
    view_on(n, &mut c, row).await
}

pub async fn list(n: &Network, caller: &Caller) -> Result<Vec<Router>> {
    let mut c = n.reader().await?;
    let rows = q::list(
        &n.db,
        &mut c,
        (!caller.all_projects).then_some(caller.project_id.as_str()),
    )
    .await?;
    let mut routes = q::all_routes(&n.db, &mut c).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let gateway = match &row.gw_port_id {
            Some(p) => db::ports::get(&n.db, &mut c, p).await?,
            None => None,
        };
        let routes = routes.remove(&row.id).unwrap_or_default();
        out.push(Router { row, gateway, routes });
    }
    Ok(out)
}

/// The external network of a gateway request, checked (Neutron's
/// `_validate_gw_info`): external, and no requested address is one of
/// its subnets' gateways.
async fn gateway_network(n: &Network, caller: &Caller, g: &GatewayRequest) -> Result<NetworkRow> {
    let net = networks::get(n, caller, &g.network_id).await?;
    if !net.external {
        return Err(NetworkError::bad_resource(
            "router",
            format!("Network {} is not an external network", net.id),
        ));
    }
    let mut c = n.reader().await?;
    let subnets = db::subnets::of_network(&n.db, &mut c, &net.id).await?;
    for ip in g.external_fixed_ips.iter().filter_map(|f| f.ip_address) {
        if subnets
            .iter()
            .any(|s| s.gateway_ip.as_deref() == Some(ip.to_string().as_str()))
        {
            return Err(NetworkError::bad_resource(
                "router",
                format!("External IP {ip} is the same as the gateway IP"),
            ));
        }
    }
    Ok(net)
}

/// The subnets a router is on: those of its interfaces, and every subnet
/// of its gateway's network.
async fn router_subnets(n: &Network, c: &mut Conn, router_id: &str) -> Result<Vec<(SubnetRow, PortRow)>> {
    let mut out = Vec::new();
    for (port_id, port_type) in q::ports_of(&n.db, c, router_id).await? {
        let Some(port) = db::ports::get(&n.db, c, &port_id).await? else {
            continue;
        };
        if port_type == DEVICE_OWNER_ROUTER_GW {
            for s in db::subnets::of_network(&n.db, c, &port.network_id).await? {
                out.push((s, port.clone()));
            }
        } else {
            for (sid, _) in &port.fixed_ips {
                if let Some(s) = db::subnets::get(&n.db, c, sid).await? {
                    out.push((s, port.clone()));
                }
            }
        }
    }
    Ok(out)
}

/// Neutron's `_check_for_dup_router_subnets`: a subnet the router is on
/// already, or one overlapping a subnet of the router, is refused.
async fn check_new_subnets(n: &Network, c: &mut Conn, router_id: &str, new: &[SubnetRow]) -> Result<()> {
    let present = router_subnets(n, c, router_id).await?;
    for s in new {
        if present
            .iter()
            .any(|(p, port)| p.id == s.id && port.device_owner != DEVICE_OWNER_ROUTER_GW)
        {
            return Err(NetworkError::bad_resource(
                "router",
                format!("Router already has a port on subnet {}", s.id),
            ));
        }
    }
    for (have, _) in &present {
        for s in new {
            if subnets::cidr_of(have).overlaps(&subnets::cidr_of(s)) {
                return Err(NetworkError::bad_resource(
                    "router",
                    format!(
                        "Cidr {} of subnet {} overlaps with cidr {} of subnet {}",
                        s.cidr, s.id, have.cidr, have.id
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The port a router's gateway gets: no project's, on the external
/// network, with the requested addresses or one of its choosing.
fn gateway_port(router_id: &str, g: &GatewayRequest) -> NewPort {
    NewPort {
        project_id: String::new(),
        network_id: g.network_id.clone(),
        admin_state_up: true,
        device_id: router_id.to_owned(),
        device_owner: DEVICE_OWNER_ROUTER_GW.into(),
        fixed_ips: (!g.external_fixed_ips.is_empty()).then(|| g.external_fixed_ips.clone()),
        security_groups: Some(Vec::new()),
        binding_vnic_type: "normal".into(),
        binding_profile: serde_json::json!({}),
        ..Default::default()
    }
}

/// Attaches a new gateway port on `net` to `row` (in `tx`, which holds the
/// network's lock).
async fn add_gateway(
    n: &Network,
    tx: &mut Conn,
    row: &mut RouterRow,
    g: &GatewayRequest,
    net: &NetworkRow,
) -> Result<()> {
    let subnets = db::subnets::of_network(&n.db, tx, &net.id).await?;
    check_new_subnets(n, tx, &row.id, &subnets).await?;
    let port_id = uuid::Uuid::new_v4().to_string();
    ports::insert_on(
        n,
        tx,
        &Caller::service(),
        &gateway_port(&row.id, g),
        &port_id,
        net,
        None,
    )
    .await?;
    q::attach(&n.db, tx, &row.id, &port_id, DEVICE_OWNER_ROUTER_GW).await?;
    row.gw_port_id = Some(port_id);
    Ok(())
}

fn gateway_in_use(router_id: &str, net_id: &str) -> NetworkError {
    NetworkError::conflict(
        "RouterExternalGatewayInUseByFloatingIp",
        format!(
            "Gateway cannot be updated for router {router_id}, since a gateway to external network {net_id} is \
             required by one or more floating IPs."
        ),
    )
}

/// Detaches and removes the router's gateway port.
async fn drop_gateway(n: &Network, tx: &mut Conn, row: &mut RouterRow) -> Result<()> {
    if let Some(port_id) = row.gw_port_id.take() {
        q::update(&n.db, tx, row).await?;
        q::detach(&n.db, tx, &port_id).await?;
        ports::remove_on(n, tx, &port_id).await?;
    }
    Ok(())
}

pub async fn create(n: &Network, caller: &Caller, spec: NewRouter) -> Result<Router> {
    let gw_net = match &spec.gateway {
        Some(g) => Some(gateway_network(n, caller, g).await?),
        None => None,
    };
    let id = uuid::Uuid::new_v4().to_string();
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        if let Some(net) = &gw_net
            && !db::networks::lock(&n.db, &mut tx, &net.id).await?
        {
            return Err(NetworkError::network_not_found(&net.id));
        }
        quotas::check(n, &mut tx, &spec.project_id, "router", 1).await?;
        let now = db::now();
        let mut row = RouterRow {
            id: id.clone(),
            project_id: spec.project_id.clone(),
            name: spec.name.clone(),
            description: spec.description.clone(),
            admin_state_up: spec.admin_state_up,
            status: "ACTIVE".into(),
            enable_snat: spec
                .gateway
                .as_ref()
                .and_then(|g| g.enable_snat)
                .unwrap_or(ENABLE_SNAT_BY_DEFAULT),
            gw_port_id: None,
            revision_number: 0,
            created_at: now,
            updated_at: now,
        };
        q::insert(&n.db, &mut tx, &row).await?;
        if let (Some(g), Some(net)) = (&spec.gateway, &gw_net) {
            add_gateway(n, &mut tx, &mut row, g, net).await?;
            q::update(&n.db, &mut tx, &row).await?;
        }
        let row = q::get(&n.db, &mut tx, &id)
            .await?
            .ok_or_else(|| NetworkError::router_not_found(&id))?;
        let out = view_on(n, &mut tx, row).await?;
        tx.commit().await?;
        Ok(out)
    })
    .await
}

/// Python's rendering of a route list, as `InvalidRoutes` shows it.
fn routes_repr(routes: &[(Cidr, IpAddr)]) -> String {
    let items: Vec<String> = routes
        .iter()
        .map(|(d, h)| format!("{{'destination': '{d}', 'nexthop': '{h}'}}"))
        .collect();
    format!("[{}]", items.join(", "))
}

/// Neutron's `_validate_routes`: every nexthop is on one of the router's
/// subnets and is none of the router's own addresses.
async fn check_routes(n: &Network, c: &mut Conn, router_id: &str, routes: &[(Cidr, IpAddr)]) -> Result<()> {
    if routes.is_empty() {
        return Ok(());
    }
    let on = router_subnets(n, c, router_id).await?;
    let own: Vec<String> = on
        .iter()
        .flat_map(|(_, p)| p.fixed_ips.iter().map(|(_, ip)| ip.clone()))
        .collect();
    let invalid = |reason: &str| {
        NetworkError::bad(
            "InvalidRoutes",
            format!("Invalid format for routes: {}, {reason}.", routes_repr(routes)),
        )
    };
    for (_, hop) in routes {
        if !on.iter().any(|(s, _)| subnets::cidr_of(s).contains(hop)) {
            return Err(invalid("the nexthop is not connected with router"));
        }
        if own.contains(&hop.to_string()) {
            return Err(invalid("the nexthop is used by router"));
        }
    }
    Ok(())
}

pub async fn update(n: &Network, caller: &Caller, id: &str, ch: RouterChanges) -> Result<Router> {
    let current = get(n, caller, id).await?;
    let new_net = match &ch.gateway {
        Some(Some(g)) => Some(gateway_network(n, caller, g).await?),
        _ => None,
    };
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        if let Some(net) = &new_net
            && !db::networks::lock(&n.db, &mut tx, &net.id).await?
        {
            return Err(NetworkError::network_not_found(&net.id));
        }
        if !q::bump_revision(&n.db, &mut tx, id).await? {
            return Err(NetworkError::router_not_found(id));
        }
        let mut row = load(n, &mut tx, caller, id).await?;
        if let Some(gateway) = &ch.gateway {
            let old_net = match &row.gw_port_id {
                Some(p) => db::ports::get(&n.db, &mut tx, p).await?.map(|p| p.network_id),
                None => None,
            };
            let uses = db::floating_ips::of_router(&n.db, &mut tx, id).await?;
            match (gateway, &new_net) {
                (Some(g), Some(net)) if old_net.as_deref() == Some(net.id.as_str()) => {
                    // The same network: new addresses when others are asked
                    // for (Neutron's `_check_for_external_ip_change`).
                    let port = match &row.gw_port_id {
                        Some(p) => db::ports::get(&n.db, &mut tx, p).await?,
                        None => None,
                    };
                    let fixed = port.map(|p| p.fixed_ips).unwrap_or_default();
                    let set = |v: Vec<String>| v.into_iter().collect::<std::collections::BTreeSet<String>>();
                    let have_subnets = set(fixed.iter().map(|(s, _)| s.clone()).collect());
                    let have_ips = set(fixed.iter().map(|(_, ip)| ip.clone()).collect());
                    let want = &g.external_fixed_ips;
                    let want_subnets = set(want.iter().filter_map(|f| f.subnet_id.clone()).collect());
                    let want_ips = set(want
                        .iter()
                        .filter_map(|f| f.ip_address.map(|i| i.to_string()))
                        .collect());
                    let changes = !want.is_empty() && (want_subnets != have_subnets || want_ips != have_ips);
                    if changes {
                        drop_gateway(n, &mut tx, &mut row).await?;
                        add_gateway(n, &mut tx, &mut row, g, net).await?;
                    }
                    row.enable_snat = g.enable_snat.unwrap_or(ENABLE_SNAT_BY_DEFAULT);
                }
                (Some(g), Some(net)) => {
                    if let Some(old) = &old_net
                        && !uses.is_empty()
                    {
                        return Err(gateway_in_use(id, old));
                    }
                    drop_gateway(n, &mut tx, &mut row).await?;
                    add_gateway(n, &mut tx, &mut row, g, net).await?;
                    row.enable_snat = g.enable_snat.unwrap_or(ENABLE_SNAT_BY_DEFAULT);
                }
                _ => {
                    if let Some(old) = &old_net
                        && !uses.is_empty()
                    {
                        return Err(gateway_in_use(id, old));
                    }
                    drop_gateway(n, &mut tx, &mut row).await?;
                    row.enable_snat = ENABLE_SNAT_BY_DEFAULT;
                }
            }
        }
        // The routes, new or kept, must still be reachable.
        let routes: Vec<(Cidr, IpAddr)> = match &ch.routes {
            Some(r) => r.clone(),
            None => current
                .routes
                .iter()
                .filter_map(|(d, h)| Some((Cidr::parse_lenient(d)?, h.parse().ok()?)))
                .collect(),
        };
        if ch.routes.is_some() || ch.gateway.is_some() {
            check_routes(n, &mut tx, id, &routes).await?;
        }
        if let Some(r) = &ch.routes {
            let mut r: Vec<(String, String)> = r.iter().map(|(d, h)| (d.to_string(), h.to_string())).collect();
            r.sort();
            r.dedup();
            q::set_routes(&n.db, &mut tx, id, &r).await?;
        }
        row.name = ch.name.clone().unwrap_or(row.name);
        row.description = ch.description.clone().unwrap_or(row.description);
        row.admin_state_up = ch.admin_state_up.unwrap_or(row.admin_state_up);
        q::update(&n.db, &mut tx, &row).await?;
        let row = q::get(&n.db, &mut tx, id)
            .await?
            .ok_or_else(|| NetworkError::router_not_found(id))?;
        let out = view_on(n, &mut tx, row).await?;
        tx.commit().await?;
        Ok(out)
    })
    .await
}

/// Deletes a router without interfaces, with its gateway port.
pub async fn delete(n: &Network, caller: &Caller, id: &str) -> Result<()> {
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        if !q::bump_revision(&n.db, &mut tx, id).await? {
            return Err(NetworkError::router_not_found(id));
        }
        let mut row = load(n, &mut tx, caller, id).await?;
        let interfaces: Vec<String> = q::ports_of(&n.db, &mut tx, id)
            .await?
            .into_iter()
            .filter(|(_, t)| t == DEVICE_OWNER_ROUTER_INTF)
            .map(|(p, _)| p)
            .collect();
        if !interfaces.is_empty() {
            return Err(NetworkError::conflict(
                "RouterInUse",
                format!("Router {id} has ports still attached: {}", interfaces.join(", ")),
            ));
        }
        if !db::floating_ips::of_router(&n.db, &mut tx, id).await?.is_empty() {
            let net = match &row.gw_port_id {
                Some(p) => db::ports::get(&n.db, &mut tx, p).await?.map(|p| p.network_id),
                None => None,
            };
            return Err(gateway_in_use(id, &net.unwrap_or_default()));
        }
        drop_gateway(n, &mut tx, &mut row).await?;
        db::tags::remove_all(&n.db, &mut tx, tags::Taggable::Router.key(), id).await?;
        q::delete(&n.db, &mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

/// Neutron's `_validate_subnet_address_mode`: a subnet whose hosts take
/// router advertisements from a router outside Neutron cannot be on a
/// Neutron router.
fn check_address_mode(s: &SubnetRow) -> Result<()> {
    if s.ip_version == 6
        && s.ipv6_ra_mode.is_none()
        && s.ipv6_address_mode
            .as_deref()
            .is_some_and(|m| subnets::AUTO_ADDRESS_MODES.contains(&m))
    {
        return Err(NetworkError::bad_resource(
            "router",
            format!(
                "IPv6 subnet {} configured to receive RAs from an external router cannot be added to Neutron Router",
                s.id
            ),
        ));
    }
    Ok(())
}

fn has_v6(p: &PortRow) -> bool {
    p.fixed_ips.iter().any(|(_, ip)| ip.contains(':'))
}

/// The router's interface ports, loaded.
async fn interface_ports(n: &Network, c: &mut Conn, router_id: &str) -> Result<Vec<PortRow>> {
    let mut out = Vec::new();
    for (port_id, t) in q::ports_of(&n.db, c, router_id).await? {
        if t == DEVICE_OWNER_ROUTER_INTF
            && let Some(p) = db::ports::get(&n.db, c, &port_id).await?
        {
            out.push(p);
        }
    }
    Ok(out)
}

/// `PUT /routers/{id}/add_router_interface`.
pub async fn add_interface(n: &Network, caller: &Caller, id: &str, by: Interface) -> Result<InterfaceInfo> {
    get(n, caller, id).await?;
    let network_id = match &by {
        Interface::Subnet(s) => {
            let subnet = subnets::get(n, caller, s).await?;
            if subnet.gateway_ip.is_none() {
                return Err(NetworkError::bad_resource(
                    "router",
                    "Subnet for router interface must have a gateway IP",
                ));
            }
            if !caller.owns(&subnet.project_id) {
                return Err(NetworkError::bad_resource(
                    "router",
                    format!(
                        "Cannot add interface to router because subnet {s} is not owned by project making the request"
                    ),
                ));
            }
            check_address_mode(&subnet)?;
            subnet.network_id
        }
        Interface::Port(p) | Interface::PortOnSubnet { port_id: p, .. } => ports::get(n, caller, p).await?.network_id,
    };
    let network = networks::get(n, &Caller::service(), &network_id).await?;
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        if !db::networks::lock(&n.db, &mut tx, &network_id).await? {
            return Err(NetworkError::network_not_found(&network_id));
        }
        if !q::bump_revision(&n.db, &mut tx, id).await? {
            return Err(NetworkError::router_not_found(id));
        }
        let router = load(n, &mut tx, caller, id).await?;
        let info = match &by {
            Interface::Subnet(sid) => add_by_subnet(n, &mut tx, caller, &router, sid, &network).await?,
            Interface::Port(pid) | Interface::PortOnSubnet { port_id: pid, .. } => {
                add_by_port(n, &mut tx, caller, &router, pid).await?
            }
        };
        tx.commit().await?;
        Ok(info)
    })
    .await
}

async fn add_by_subnet(
    n: &Network,
    tx: &mut Conn,
    caller: &Caller,
    router: &RouterRow,
    subnet_id: &str,
    network: &NetworkRow,
) -> Result<InterfaceInfo> {
    let subnet = subnets::load(n, tx, caller, subnet_id).await?;
    let gateway = subnet
        .gateway_ip
        .as_deref()
        .and_then(|g| g.parse::<IpAddr>().ok())
        .ok_or_else(|| NetworkError::bad_resource("router", "Subnet for router interface must have a gateway IP"))?;
    check_new_subnets(n, tx, &router.id, std::slice::from_ref(&subnet)).await?;
    let info = |port: &PortRow| InterfaceInfo {
        router_id: router.id.clone(),
        project_id: port.project_id.clone(),
        port_id: port.id.clone(),
        network_id: port.network_id.clone(),
        subnet_id: subnet.id.clone(),
        subnet_ids: vec![subnet.id.clone()],
    };
    // An IPv6 prefix joins the router's IPv6 port on the network, if any.
    if subnet.ip_version == 6 {
        let existing = interface_ports(n, tx, &router.id)
            .await?
            .into_iter()
            .find(|p| p.network_id == subnet.network_id && has_v6(p));
        if let Some(port) = existing {
            let ip = gateway.to_string();
            match db::ports::insert_allocation(&n.db, tx, &subnet.id, &ip, &port.id, &port.network_id).await {
                Err(NetworkError::Store(store::StoreError::Conflict(_))) => {
                    return Err(NetworkError::conflict(
                        "IpAddressAlreadyAllocated",
                        format!("IP address {ip} already allocated in subnet {}", subnet.id),
                    ));
                }
                other => other?,
            }
            db::ports::bump_revision(&n.db, tx, &port.id).await?;
            return Ok(info(&port));
        }
    }
    let spec = NewPort {
        project_id: router.project_id.clone(),
        network_id: subnet.network_id.clone(),
        admin_state_up: true,
        device_id: router.id.clone(),
        device_owner: DEVICE_OWNER_ROUTER_INTF.into(),
        fixed_ips: Some(vec![FixedIpRequest {
            subnet_id: Some(subnet.id.clone()),
            ip_address: Some(gateway),
        }]),
        security_groups: Some(Vec::new()),
        binding_vnic_type: "normal".into(),
        binding_profile: serde_json::json!({}),
        ..Default::default()
    };
    let port_id = uuid::Uuid::new_v4().to_string();
    let port = ports::insert_on(n, tx, &Caller::service(), &spec, &port_id, network, None).await?;
    q::attach(&n.db, tx, &router.id, &port_id, DEVICE_OWNER_ROUTER_INTF).await?;
    Ok(info(&port))
}

async fn add_by_port(
    n: &Network,
    tx: &mut Conn,
    caller: &Caller,
    router: &RouterRow,
    port_id: &str,
) -> Result<InterfaceInfo> {
    let mut port = ports::load(n, tx, caller, port_id).await?;
    if !port.device_id.is_empty() {
        return Err(NetworkError::conflict(
            "PortInUse",
            format!(
                "Unable to complete operation on port {} for network {}. Port already has an attached device {}.",
                port.id, port.network_id, port.device_id
            ),
        ));
    }
    if port.fixed_ips.is_empty() {
        return Err(NetworkError::bad_resource(
            "router",
            "Router port must have at least one fixed IP",
        ));
    }
    let mut subnets_of_port = Vec::new();
    for (sid, _) in &port.fixed_ips {
        let s = db::subnets::get(&n.db, tx, sid)
            .await?
            .ok_or_else(|| NetworkError::subnet_not_found(sid))?;
        check_address_mode(&s)?;
        subnets_of_port.push(s);
    }
    if has_v6(&port)
        && let Some(other) = interface_ports(n, tx, &router.id)
            .await?
            .into_iter()
            .find(|p| p.network_id == port.network_id && has_v6(p))
    {
        return Err(NetworkError::bad_resource(
            "router",
            format!(
                "Router already contains IPv6 port {} belonging to network id {}. Only one IPv6 port from the same \
                 network subnet can be connected to a router.",
                other.id, other.network_id
            ),
        ));
    }
    check_new_subnets(n, tx, &router.id, &subnets_of_port).await?;
    if subnets_of_port.iter().filter(|s| s.ip_version == 4).count() > 1 {
        return Err(NetworkError::bad_resource(
            "router",
            "Cannot have multiple IPv4 subnets on router port",
        ));
    }
    // Neutron's `_validate_port_in_range_or_admin`: a member may not make
    // a router answer on an address outside the pools of a subnet that is
    // not its own.
    if !caller.all_projects {
        for (s, (_, ip)) in subnets_of_port.iter().zip(&port.fixed_ips) {
            let in_pools = ip
                .parse::<IpAddr>()
                .is_ok_and(|ip| subnets::pools_of(s).iter().any(|p| p.contains(crate::ip::to_u128(&ip))));
            if !in_pools && s.project_id != caller.project_id {
                return Err(NetworkError::bad_resource(
                    "router",
                    format!(
                        "Cannot add interface to router because specified port {} has an IP address out of the \
                         allocation pool of subnet {}, which is not owned by the project making the request",
                        port.id, s.id
                    ),
                ));
            }
        }
    }
    port.device_id = router.id.clone();
    port.device_owner = DEVICE_OWNER_ROUTER_INTF.into();
    db::ports::update(&n.db, tx, &port).await?;
    q::attach(&n.db, tx, &router.id, &port.id, DEVICE_OWNER_ROUTER_INTF).await?;
    let ids: Vec<String> = subnets_of_port.iter().map(|s| s.id.clone()).collect();
    Ok(InterfaceInfo {
        router_id: router.id.clone(),
        project_id: port.project_id.clone(),
        port_id: port.id.clone(),
        network_id: port.network_id.clone(),
        subnet_id: ids.last().cloned().unwrap_or_default(),
        subnet_ids: ids,
    })
}

/// Neutron's `_confirm_router_interface_not_in_use`: no floating IP
/// reaches a fixed address of the subnet through this router, and no
/// extra route goes through the subnet.
async fn check_interface_unused(n: &Network, c: &mut Conn, router_id: &str, s: &SubnetRow) -> Result<()> {
    let cidr = subnets::cidr_of(s);
    for f in db::floating_ips::of_router(&n.db, c, router_id).await? {
        let (Some(port_id), Some(ip)) = (&f.fixed_port_id, &f.fixed_ip_address) else {
            continue;
        };
        let in_subnet = ip.parse::<IpAddr>().is_ok_and(|ip| cidr.contains(&ip));
        let port_on_subnet = db::ports::get(&n.db, c, port_id)
            .await?
            .is_some_and(|p| p.fixed_ips.iter().any(|(sid, _)| *sid == s.id));
        if in_subnet && port_on_subnet {
            return Err(NetworkError::conflict(
                "RouterInterfaceInUseByFloatingIP",
                format!(
                    "Router interface for subnet {} on router {router_id} cannot be deleted, as it is required by \
                     one or more floating IPs.",
                    s.id
                ),
            ));
        }
    }
    for (_, hop) in q::routes_of(&n.db, c, router_id).await? {
        if hop.parse::<IpAddr>().is_ok_and(|h| cidr.contains(&h)) {
            return Err(NetworkError::conflict(
                "RouterInterfaceInUseByRoute",
                format!(
                    "Router interface for subnet {} on router {router_id} cannot be deleted, as it is required by \
                     one or more routes.",
                    s.id
                ),
            ));
        }
    }
    Ok(())
}

/// `PUT /routers/{id}/remove_router_interface`.
pub async fn remove_interface(n: &Network, caller: &Caller, id: &str, by: Interface) -> Result<InterfaceInfo> {
    get(n, caller, id).await?;
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        if !q::bump_revision(&n.db, &mut tx, id).await? {
            return Err(NetworkError::router_not_found(id));
        }
        load(n, &mut tx, caller, id).await?;
        let info = match &by {
            Interface::Port(p) => remove_by_port(n, &mut tx, id, p, None).await?,
            Interface::PortOnSubnet { port_id, subnet_id } => {
                remove_by_port(n, &mut tx, id, port_id, Some(subnet_id)).await?
            }
            Interface::Subnet(s) => remove_by_subnet(n, &mut tx, caller, id, s).await?,
        };
        tx.commit().await?;
        Ok(info)
    })
    .await
}

async fn remove_by_port(
    n: &Network,
    tx: &mut Conn,
    router_id: &str,
    port_id: &str,
    subnet_id: Option<&str>,
) -> Result<InterfaceInfo> {
    let attached = q::router_of_port(&n.db, tx, port_id).await?;
    let port = match (attached, db::ports::get(&n.db, tx, port_id).await?) {
        (Some((r, t)), Some(p)) if r == router_id && t == DEVICE_OWNER_ROUTER_INTF => p,
        _ => {
            return Err(NetworkError::not_found(
                "RouterInterfaceNotFound",
                format!("Router {router_id} does not have an interface with id {port_id}"),
            ));
        }
    };
    let ids: Vec<String> = port.fixed_ips.iter().map(|(s, _)| s.clone()).collect();
    if let Some(s) = subnet_id
        && !ids.iter().any(|i| i == s)
    {
        return Err(NetworkError::bad(
            "SubnetMismatchForPort",
            format!("Subnet on port {port_id} does not match the requested subnet {s}."),
        ));
    }
    for sid in &ids {
        if let Some(s) = db::subnets::get(&n.db, tx, sid).await? {
            check_interface_unused(n, tx, router_id, &s).await?;
        }
    }
    q::detach(&n.db, tx, port_id).await?;
    ports::remove_on(n, tx, port_id).await?;
    Ok(InterfaceInfo {
        router_id: router_id.to_owned(),
        project_id: port.project_id.clone(),
        port_id: port.id.clone(),
        network_id: port.network_id.clone(),
        subnet_id: ids.first().cloned().unwrap_or_default(),
        subnet_ids: ids,
    })
}

async fn remove_by_subnet(
    n: &Network,
    tx: &mut Conn,
    caller: &Caller,
    router_id: &str,
    subnet_id: &str,
) -> Result<InterfaceInfo> {
    let subnet = subnets::load(n, tx, caller, subnet_id).await?;
    let on_network: Vec<PortRow> = interface_ports(n, tx, router_id)
        .await?
        .into_iter()
        .filter(|p| p.network_id == subnet.network_id)
        .collect();
    if !on_network.is_empty() {
        check_interface_unused(n, tx, router_id, &subnet).await?;
    }
    for p in on_network {
        let mine: Vec<&(String, String)> = p.fixed_ips.iter().filter(|(s, _)| s == subnet_id).collect();
        if mine.is_empty() {
            continue;
        }
        if p.fixed_ips.len() > mine.len() {
            // A port with several prefixes loses this one only.
            for (s, ip) in mine {
                db::ports::delete_allocation(&n.db, tx, s, ip).await?;
            }
            db::ports::bump_revision(&n.db, tx, &p.id).await?;
        } else {
            q::detach(&n.db, tx, &p.id).await?;
            ports::remove_on(n, tx, &p.id).await?;
        }
        return Ok(InterfaceInfo {
            router_id: router_id.to_owned(),
            project_id: p.project_id.clone(),
            port_id: p.id.clone(),
            network_id: p.network_id.clone(),
            subnet_id: subnet_id.to_owned(),
            subnet_ids: vec![subnet_id.to_owned()],
        });
    }
    Err(NetworkError::not_found(
        "RouterInterfaceNotFoundForSubnet",
        format!("Router {router_id} has no interface on subnet {subnet_id}"),
    ))
}
