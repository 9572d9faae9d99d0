//! The service's side of the agent contract ([`network_agent::rpc`]):
//! the RPC server on topic `network` that network agents call, and the
//! `state_changed` notice the service fans out to them after a write.
//!
//! `get_host_state` reduces the rows to what one host realizes, as
//! Neutron's server answers its agents' `get_devices_details_list`,
//! `get_active_networks_info`, `security_group_rules_for_devices` and
//! `sync_routers` — in one answer, because the agent reconciles the whole
//! host at once. What a host gets, with no scheduler (DESIGN.md §5: one
//! network node for now): the ports bound to it, DHCP for every network
//! with a DHCP-enabled IPv4 subnet, every administratively up router, and
//! the bridges all of these need. Several agents would each serve DHCP and
//! routers (each with its own DHCP port); that is sound only while
//! networks do not span hosts (no VXLAN yet).
//!
//! The reduction is a pure function of the rows ([`reduce`]), unit-tested
//! here; reading the rows is one pass over the tables, fine for the
//! thousands of ports a single network node serves.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, OnceLock};

use bus::{Bus, BusError, Handler, Listener, RemoteError};
use network_agent::names;
use network_agent::rpc::{
    AGENT_TOPIC, AgentState, BoundPort, DhcpPortRequest, HostQuery, HostState, PortStatusUpdate, SERVICE_TOPIC,
};
use network_agent::spec::{
    AddressPair, DhcpPortSpec, Direction, Ethertype, FixedIp, FloatingIpSpec, HostRoute, NetworkSpec, PortFirewall,
    PortSpec, Protocol, RouterGateway, RouterInterface, RouterSpec, SecurityGroupRule, SubnetSpec,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::db::floating_ips::FloatingIpRow;
use crate::db::networks::NetworkRow;
use crate::db::ports::PortRow;
use crate::db::routers::RouterRow;
use crate::db::security_groups::RuleRow;
use crate::db::subnets::SubnetRow;
use crate::error::{NetworkError, Result};
use crate::ports::{FixedIpRequest, NewPort, PortChanges};
use crate::routers::{DEVICE_OWNER_ROUTER_GW, DEVICE_OWNER_ROUTER_INTF};
use crate::{Caller, Network, agents, db};

pub const DEVICE_OWNER_DHCP: &str = "network:dhcp";

/// The service's link to its agents: the bus, once [`Network::serve_agents`]
/// has been called, and the listener of `network`.
#[derive(Default)]
pub struct AgentLink {
    bus: OnceLock<Bus>,
    listener: Mutex<Option<Listener>>,
}

impl Network {
    /// Answers agents on topic `network` and, from now on, tells them of
    /// data-plane changes. Without it (a service with no agents, as in the
    /// API tests) the service works the same and ports stay `DOWN`.
    pub async fn serve_agents(&self, bus: Bus) -> Result<(), BusError> {
        let listener = bus.listen(SERVICE_TOPIC, Arc::new(RpcHandler(self.clone()))).await?;
        if self.agent_link.bus.set(bus).is_err() {
            tracing::warn!("serve_agents called twice; keeping the first bus");
        }
        *self.agent_link.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(listener);
        tracing::info!(topic = SERVICE_TOPIC, "network RPC server listening");
        Ok(())
    }

    /// Stops answering agents.
    pub fn stop_serving_agents(&self) {
        if let Some(l) = self
            .agent_link
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            l.stop();
        }
    }

    /// Fans `state_changed` out to every agent, without waiting: a lost
    /// notice costs an agent one `resync_interval`, nothing more.
    pub fn notify_agents(&self) {
        let Some(bus) = self.agent_link.bus.get().cloned() else {
            return;
        };
        tokio::spawn(async move {
            if let Err(e) = bus.fanout(AGENT_TOPIC, "state_changed", &json!({})).await {
                tracing::warn!(error = %e, "cannot tell the network agents of a change");
            }
        });
    }
}

struct RpcHandler(Network);

fn args<T: DeserializeOwned>(method: &str, args: Value) -> Result<T, RemoteError> {
    serde_json::from_value(args).map_err(|e| RemoteError::new("InvalidArgs", format!("{method}: {e}")))
}

fn remote(e: NetworkError) -> RemoteError {
    let kind = match &e {
        NetworkError::BadRequest { kind, .. }
        | NetworkError::Forbidden { kind, .. }
        | NetworkError::NotFound { kind, .. }
        | NetworkError::Conflict { kind, .. } => *kind,
        NetworkError::Retry(_) | NetworkError::Store(_) => {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e), "network RPC failed");
            "InternalError"
        }
    };
    RemoteError::new(kind, e.to_string())
}

#[async_trait::async_trait]
impl Handler for RpcHandler {
    async fn handle(&self, method: &str, a: Value) -> Result<Value, RemoteError> {
        let n = &self.0;
        match method {
            "get_host_state" => {
                let q: HostQuery = args(method, a)?;
                let state = host_state(n, &q.host).await.map_err(remote)?;
                serde_json::to_value(state).map_err(|e| RemoteError::new("InternalError", e.to_string()))
            }
            "ensure_dhcp_port" => {
                let q: DhcpPortRequest = args(method, a)?;
                ensure_dhcp_port(n, &q.host, &q.network_id).await.map_err(remote)?;
                Ok(Value::Null)
            }
            "report_state" => {
                let s: AgentState = args(method, a)?;
                agents::report(n, &s).await.map_err(remote)?;
                Ok(Value::Null)
            }
            "update_port_status" => {
                let u: PortStatusUpdate = args(method, a)?;
                let mut changed = agents::set_port_status(n, &u.host, &u.up, &u.down)
                    .await
                    .map_err(remote)?;
                changed += usize::try_from(
                    agents::set_floating_ip_status(n, &u.routers_up, &u.routers_down)
                        .await
                        .map_err(remote)?,
                )
                .unwrap_or(usize::MAX);
                if changed > 0 {
                    tracing::info!(host = %u.host, changed, "port status reported");
                }
                Ok(json!(changed))
            }
            other => Err(RemoteError::new(
                "UnknownMethod",
                format!("no method {other} on {SERVICE_TOPIC}"),
            )),
        }
    }
}

/// Every row the reduction reads.
#[derive(Default)]
pub struct Rows {
    pub networks: Vec<NetworkRow>,
    pub subnets: Vec<SubnetRow>,
    pub ports: Vec<PortRow>,
    pub routers: Vec<RouterRow>,
    /// Router id → `(port id, port type)`.
    pub router_ports: HashMap<String, Vec<(String, String)>>,
    /// Router id → `(destination, nexthop)`.
    pub routes: HashMap<String, Vec<(String, String)>>,
    pub floating_ips: Vec<FloatingIpRow>,
    pub rules: Vec<RuleRow>,
}

async fn read_rows(n: &Network) -> Result<Rows> {
    let mut c = n.reader().await?;
    let db = &n.db;
    let routers = db::routers::list(db, &mut c, None).await?;
    let mut router_ports = HashMap::new();
    for r in &routers {
        router_ports.insert(r.id.clone(), db::routers::ports_of(db, &mut c, &r.id).await?);
    }
    Ok(Rows {
        networks: db::networks::list(db, &mut c, None).await?,
        subnets: db::subnets::list(db, &mut c, None).await?,
        ports: db::ports::list(db, &mut c, None).await?,
        router_ports,
        routes: db::routers::all_routes(db, &mut c).await?,
        routers,
        floating_ips: db::floating_ips::list(db, &mut c, None).await?,
        rules: db::security_groups::list_rules(db, &mut c, None).await?,
    })
}

/// What `host` must realize now.
pub async fn host_state(n: &Network, host: &str) -> Result<HostState> {
    if host.is_empty() {
        return Err(NetworkError::bad("InvalidInput", "get_host_state needs a host"));
    }
    Ok(reduce(host, &read_rows(n).await?))
}

/// The rows reduced to one host's state. Rows that cannot be expressed
/// (an unparsable address, a protocol name the firewall does not know)
/// are skipped with a log line: for a rule, that means its traffic stays
/// dropped.
pub fn reduce(host: &str, rows: &Rows) -> HostState {
    let subnets_of: HashMap<&str, Vec<&SubnetRow>> = rows.subnets.iter().fold(HashMap::new(), |mut m, s| {
        m.entry(s.network_id.as_str()).or_default().push(s);
        m
    });
    let subnet_by_id: HashMap<&str, &SubnetRow> = rows.subnets.iter().map(|s| (s.id.as_str(), s)).collect();
    let port_by_id: HashMap<&str, &PortRow> = rows.ports.iter().map(|p| (p.id.as_str(), p)).collect();

    // Ports the agent plugs: bound here, not the service's own.
    let bound: Vec<&PortRow> = rows
        .ports
        .iter()
        .filter(|p| p.binding_host_id == host && !p.device_owner.starts_with("network:"))
        .collect();

    let routers = reduce_routers(rows, &port_by_id, &subnet_by_id);

    let mut wanted: HashSet<&str> = bound.iter().map(|p| p.network_id.as_str()).collect();
    for (id, subnets) in &subnets_of {
        if subnets.iter().any(|s| s.enable_dhcp && s.ip_version == 4) {
            wanted.insert(id);
        }
    }
    for r in &routers {
        for i in &r.interfaces {
            wanted.insert(i.network_id.as_str());
        }
        if let Some(g) = &r.gateway {
            wanted.insert(g.network_id.as_str());
        }
    }

    let networks = rows
        .networks
        .iter()
        .filter(|n| wanted.contains(n.id.as_str()))
        .map(|n| {
            network_spec(
                host,
                n,
                subnets_of.get(n.id.as_str()).map_or(&[][..], |v| v),
                &rows.ports,
            )
        })
        .collect();

    let ports = bound
        .iter()
        .map(|p| BoundPort {
            network_id: p.network_id.clone(),
            port: port_spec(p),
            admin_state_up: p.admin_state_up,
        })
        .collect();

    HostState {
        networks,
        ports,
        firewalls: firewalls(&bound, rows),
        routers,
    }
}

fn fixed_ips(p: &PortRow) -> Vec<FixedIp> {
    p.fixed_ips
        .iter()
        .filter_map(|(subnet_id, ip)| {
            Some(FixedIp {
                subnet_id: subnet_id.clone(),
                ip_address: ip.parse().ok()?,
            })
        })
        .collect()
}

fn port_spec(p: &PortRow) -> PortSpec {
    PortSpec {
        id: p.id.clone(),
        mac: p.mac_address.clone(),
        fixed_ips: fixed_ips(p),
    }
}

fn network_spec(host: &str, n: &NetworkRow, subnets: &[&SubnetRow], ports: &[PortRow]) -> NetworkSpec {
    let on_net = || ports.iter().filter(|p| p.network_id == n.id);
    let dhcp_port = on_net()
        .filter(|p| p.device_owner == DEVICE_OWNER_DHCP && p.binding_host_id == host)
        .min_by_key(|p| p.created_at)
        .map(|p| DhcpPortSpec {
            id: p.id.clone(),
            mac: p.mac_address.clone(),
            fixed_ips: fixed_ips(p),
        });
    NetworkSpec {
        id: n.id.clone(),
        mtu: u32::try_from(n.mtu).unwrap_or(1500),
        subnets: subnets
            .iter()
            .map(|s| SubnetSpec {
                id: s.id.clone(),
                cidr: s.cidr.clone(),
                gateway_ip: s.gateway_ip.as_deref().and_then(|g| g.parse().ok()),
                dns_nameservers: s.dns_nameservers.iter().filter_map(|d| d.parse().ok()).collect(),
                host_routes: s
                    .host_routes
                    .iter()
                    .filter_map(|(destination, nexthop)| {
                        Some(HostRoute {
                            destination: destination.clone(),
                            nexthop: nexthop.parse().ok()?,
                        })
                    })
                    .collect(),
                enable_dhcp: s.enable_dhcp,
            })
            .collect(),
        dhcp_port,
        // Every port of the network DHCP may answer, wherever it is bound
        // (a guest's DHCP request reaches this host's dnsmasq).
        ports: on_net()
            .filter(|p| p.device_owner != DEVICE_OWNER_DHCP && p.device_owner != "network:floatingip")
            .map(port_spec)
            .collect(),
    }
}

fn ipv4_on(p: &PortRow, subnet_by_id: &HashMap<&str, &SubnetRow>) -> Option<(Ipv4Addr, u8, Option<Ipv4Addr>)> {
    p.fixed_ips.iter().find_map(|(subnet_id, ip)| {
        let IpAddr::V4(ip) = ip.parse().ok()? else { return None };
        let subnet = subnet_by_id.get(subnet_id.as_str())?;
        let prefix_len: u8 = subnet.cidr.split_once('/')?.1.parse().ok()?;
        let gateway = subnet.gateway_ip.as_deref().and_then(|g| g.parse().ok());
        Some((ip, prefix_len, gateway))
    })
}

fn reduce_routers(
    rows: &Rows,
    port_by_id: &HashMap<&str, &PortRow>,
    subnet_by_id: &HashMap<&str, &SubnetRow>,
) -> Vec<RouterSpec> {
    let mut out = Vec::new();
    for r in &rows.routers {
        let attached = rows.router_ports.get(&r.id).map_or(&[][..], |v| v);
        let interfaces: Vec<RouterInterface> = attached
            .iter()
            .filter(|(_, kind)| kind == DEVICE_OWNER_ROUTER_INTF)
            .filter_map(|(port_id, _)| {
                let p = port_by_id.get(port_id.as_str())?;
                let (ip, prefix_len, _) = ipv4_on(p, subnet_by_id)?;
                Some(RouterInterface {
                    port_id: p.id.clone(),
                    network_id: p.network_id.clone(),
                    mac: p.mac_address.clone(),
                    ip,
                    prefix_len,
                })
            })
            .collect();
        let gateway = r
            .gw_port_id
            .as_deref()
            .filter(|id| {
                attached
                    .iter()
                    .any(|(p, kind)| p == id && kind == DEVICE_OWNER_ROUTER_GW)
            })
            .and_then(|id| port_by_id.get(id))
            .and_then(|p| {
                let (ip, prefix_len, gateway_ip) = ipv4_on(p, subnet_by_id)?;
                let Some(gateway_ip) = gateway_ip else {
                    tracing::warn!(router_id = %r.id, "the external subnet has no gateway: router left without one");
                    return None;
                };
                Some(RouterGateway {
                    port_id: p.id.clone(),
                    network_id: p.network_id.clone(),
                    mac: p.mac_address.clone(),
                    ip,
                    prefix_len,
                    gateway_ip,
                    enable_snat: r.enable_snat,
                })
            });
        let routes = rows
            .routes
            .get(&r.id)
            .map_or(&[][..], |v| v)
            .iter()
            .filter(|(d, _)| !d.contains(':'))
            .filter_map(|(destination, nexthop)| {
                Some(HostRoute {
                    destination: destination.clone(),
                    nexthop: nexthop.parse().ok()?,
                })
            })
            .collect();
        // Floating IPs need the gateway they are answered on.
        let floating_ips = if gateway.is_some() {
            rows.floating_ips
                .iter()
                .filter(|f| f.router_id.as_deref() == Some(r.id.as_str()))
                .filter_map(|f| {
                    Some(FloatingIpSpec {
                        floating_ip: f.floating_ip_address.parse().ok()?,
                        fixed_ip: f.fixed_ip_address.as_deref()?.parse().ok()?,
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        out.push(RouterSpec {
            id: r.id.clone(),
            admin_state_up: r.admin_state_up,
            interfaces,
            gateway,
            routes,
            floating_ips,
        });
    }
    out
}

/// Neutron's protocol names the firewall knows by number.
fn protocol(name: &str) -> Option<Protocol> {
    Some(match name {
        "tcp" | "6" => Protocol::Tcp,
        "udp" | "17" => Protocol::Udp,
        "icmp" | "1" => Protocol::Icmp,
        "ah" => Protocol::Number(51),
        "dccp" => Protocol::Number(33),
        "egp" => Protocol::Number(8),
        "esp" => Protocol::Number(50),
        "gre" => Protocol::Number(47),
        "igmp" => Protocol::Number(2),
        "ipip" => Protocol::Number(4),
        "ipv6-encap" => Protocol::Number(41),
        "ipv6-icmp" | "icmpv6" => Protocol::Number(58),
        "ospf" => Protocol::Number(89),
        "pgm" => Protocol::Number(113),
        "rsvp" => Protocol::Number(46),
        "sctp" => Protocol::Number(132),
        "udplite" => Protocol::Number(136),
        "vrrp" => Protocol::Number(112),
        other => Protocol::Number(other.parse().ok()?),
    })
}

fn firewalls(bound: &[&PortRow], rows: &Rows) -> Vec<PortFirewall> {
    let mut members: HashMap<&str, Vec<IpAddr>> = HashMap::new();
    for p in &rows.ports {
        for g in &p.security_groups {
            let ips = members.entry(g.as_str()).or_default();
            ips.extend(p.fixed_ips.iter().filter_map(|(_, ip)| ip.parse::<IpAddr>().ok()));
        }
    }
    let mut rules_of: HashMap<&str, Vec<&RuleRow>> = HashMap::new();
    for r in &rows.rules {
        rules_of.entry(r.security_group_id.as_str()).or_default().push(r);
    }
    bound
        .iter()
        .map(|p| PortFirewall {
            port_id: p.id.clone(),
            tap: names::tap(&p.id),
            mac: p.mac_address.clone(),
            fixed_ips: p.fixed_ips.iter().filter_map(|(_, ip)| ip.parse().ok()).collect(),
            port_security_enabled: p.port_security_enabled,
            allowed_address_pairs: p
                .allowed_address_pairs
                .iter()
                .map(|(ip, mac)| AddressPair {
                    ip_address: ip.clone(),
                    mac_address: (!mac.is_empty()).then(|| mac.clone()),
                })
                .collect(),
            rules: p
                .security_groups
                .iter()
                .flat_map(|g| rules_of.get(g.as_str()).map_or(&[][..], |v| v))
                .filter_map(|r| rule(r, &members))
                .collect(),
        })
        .collect()
}

fn rule(r: &RuleRow, members: &HashMap<&str, Vec<IpAddr>>) -> Option<SecurityGroupRule> {
    let direction = match r.direction.as_str() {
        "ingress" => Direction::Ingress,
        "egress" => Direction::Egress,
        _ => return None,
    };
    let ethertype = match r.ethertype.as_str() {
        "IPv4" => Ethertype::IPv4,
        "IPv6" => Ethertype::IPv6,
        _ => return None,
    };
    let protocol = match r.protocol.as_deref() {
        None | Some("any") | Some("") => None,
        Some(name) => match protocol(name) {
            Some(p) => Some(p),
            None => {
                tracing::warn!(rule_id = %r.id, protocol = name, "protocol unknown to the firewall: rule skipped");
                return None;
            }
        },
    };
    let port = |v: Option<i64>| v.and_then(|v| u16::try_from(v).ok());
    Some(SecurityGroupRule {
        direction,
        ethertype,
        protocol,
        port_range_min: port(r.port_range_min),
        port_range_max: port(r.port_range_max),
        remote_ip_prefix: r.remote_ip_prefix.clone(),
        remote_group_ips: r
            .remote_group_id
            .as_deref()
            .map(|g| members.get(g).cloned().unwrap_or_default()),
    })
}

/// Makes `host`'s DHCP port on `network_id` exist with an address on each
/// DHCP-enabled IPv4 subnet (Neutron's DHCP agent does this through
/// `create_dhcp_port` and `update_dhcp_port`). The port is the network
/// owner's, as Neutron's is, and counts against its port quota.
pub async fn ensure_dhcp_port(n: &Network, host: &str, network_id: &str) -> Result<()> {
    if host.is_empty() {
        return Err(NetworkError::bad("InvalidInput", "ensure_dhcp_port needs a host"));
    }
    let service = Caller::service();
    let network = crate::networks::get(n, &service, network_id).await?;
    let (dhcp_subnets, existing) = {
        let mut c = n.reader().await?;
        let subnets = db::subnets::of_network(&n.db, &mut c, network_id).await?;
        let ports = db::ports::of_network(&n.db, &mut c, network_id).await?;
        let dhcp_subnets: Vec<String> = subnets
            .into_iter()
            .filter(|s| s.enable_dhcp && s.ip_version == 4)
            .map(|s| s.id)
            .collect();
        let existing = ports
            .into_iter()
            .filter(|p| p.device_owner == DEVICE_OWNER_DHCP && p.binding_host_id == host)
            .min_by_key(|p| p.created_at);
        (dhcp_subnets, existing)
    };
    if dhcp_subnets.is_empty() {
        return Ok(());
    }
    match existing {
        None => {
            let port = crate::ports::create(
                n,
                &service,
                NewPort {
                    project_id: network.project_id.clone(),
                    network_id: network_id.to_owned(),
                    admin_state_up: true,
                    device_id: dhcp_device_id(host, network_id),
                    device_owner: DEVICE_OWNER_DHCP.to_owned(),
                    fixed_ips: Some(
                        dhcp_subnets
                            .iter()
                            .map(|s| FixedIpRequest {
                                subnet_id: Some(s.clone()),
                                ip_address: None,
                            })
                            .collect(),
                    ),
                    port_security_enabled: Some(false),
                    security_groups: Some(Vec::new()),
                    binding_host_id: host.to_owned(),
                    binding_vnic_type: "normal".to_owned(),
                    binding_profile: json!({}),
                    ..NewPort::default()
                },
            )
            .await?;
            tracing::info!(network_id, port_id = %port.id, host, "DHCP port created");
        }
        Some(port) => {
            let missing: Vec<&String> = dhcp_subnets
                .iter()
                .filter(|s| !port.fixed_ips.iter().any(|(sid, _)| sid == *s))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            let mut wanted: Vec<FixedIpRequest> = port
                .fixed_ips
                .iter()
                .map(|(s, ip)| FixedIpRequest {
                    subnet_id: Some(s.clone()),
                    ip_address: ip.parse().ok(),
                })
                .collect();
            wanted.extend(missing.into_iter().map(|s| FixedIpRequest {
                subnet_id: Some(s.clone()),
                ip_address: None,
            }));
            crate::ports::update(
                n,
                &service,
                &port.id,
                PortChanges {
                    fixed_ips: Some(wanted),
                    ..PortChanges::default()
                },
            )
            .await?;
            tracing::info!(network_id, port_id = %port.id, host, "DHCP port given addresses on new subnets");
        }
    }
    n.notify_agents();
    Ok(())
}

/// Neutron's `dhcp<uuid5(DNS namespace, host)>-<network id>`.
fn dhcp_device_id(host: &str, network_id: &str) -> String {
    let host_uuid = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, host.as_bytes());
    format!("dhcp{host_uuid}-{network_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(id: &str) -> NetworkRow {
        NetworkRow {
            id: id.into(),
            project_id: "p".into(),
            name: String::new(),
            description: String::new(),
            admin_state_up: true,
            shared: false,
            external: false,
            mtu: 1450,
            port_security_enabled: true,
            network_type: "vxlan".into(),
            physical_network: None,
            segmentation_id: Some(1),
            availability_zone_hints: vec![],
            revision_number: 1,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn subnet(id: &str, network_id: &str, cidr: &str, dhcp: bool) -> SubnetRow {
        SubnetRow {
            id: id.into(),
            project_id: "p".into(),
            network_id: network_id.into(),
            name: String::new(),
            description: String::new(),
            ip_version: 4,
            cidr: cidr.into(),
            gateway_ip: Some(cidr.replace(".0/24", ".1")),
            enable_dhcp: dhcp,
            ipv6_ra_mode: None,
            ipv6_address_mode: None,
            allocation_pools: vec![],
            dns_nameservers: vec![],
            host_routes: vec![],
            revision_number: 1,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn port(id: &str, network_id: &str, owner: &str, host: &str, ip: (&str, &str), groups: &[&str]) -> PortRow {
        PortRow {
            id: id.into(),
            project_id: "p".into(),
            network_id: network_id.into(),
            name: String::new(),
            description: String::new(),
            mac_address: "fa:16:3e:00:00:01".into(),
            admin_state_up: true,
            status: "DOWN".into(),
            device_id: String::new(),
            device_owner: owner.into(),
            port_security_enabled: true,
            allowed_address_pairs: vec![],
            binding_host_id: host.into(),
            binding_vnic_type: "normal".into(),
            binding_profile: json!({}),
            dns_name: String::new(),
            revision_number: 1,
            created_at: 0,
            updated_at: 0,
            fixed_ips: vec![(ip.0.into(), ip.1.into())],
            security_groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    fn rule(id: &str, group: &str, protocol: Option<&str>, remote_group: Option<&str>) -> RuleRow {
        RuleRow {
            id: id.into(),
            project_id: "p".into(),
            security_group_id: group.into(),
            direction: "ingress".into(),
            ethertype: "IPv4".into(),
            protocol: protocol.map(str::to_owned),
            port_range_min: None,
            port_range_max: None,
            remote_ip_prefix: None,
            remote_group_id: remote_group.map(str::to_owned),
            description: String::new(),
            revision_number: 1,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_host_gets_its_ports_dhcp_everywhere_and_the_routers_networks() {
        let rows = Rows {
            networks: vec![network("net-a"), network("net-b"), network("net-c"), network("net-ext")],
            subnets: vec![
                subnet("sub-a", "net-a", "10.0.0.0/24", true),
                subnet("sub-b", "net-b", "10.0.1.0/24", false),
                subnet("sub-c", "net-c", "10.0.2.0/24", false),
                subnet("sub-ext", "net-ext", "172.24.4.0/24", false),
            ],
            ports: vec![
                port("vm-here", "net-b", "compute:nova", "h1", ("sub-b", "10.0.1.5"), &["sg"]),
                port(
                    "vm-there",
                    "net-a",
                    "compute:nova",
                    "h2",
                    ("sub-a", "10.0.0.7"),
                    &["sg"],
                ),
                port("dhcp-h1", "net-a", DEVICE_OWNER_DHCP, "h1", ("sub-a", "10.0.0.2"), &[]),
                port("dhcp-h2", "net-a", DEVICE_OWNER_DHCP, "h2", ("sub-a", "10.0.0.3"), &[]),
                port(
                    "r-if",
                    "net-c",
                    DEVICE_OWNER_ROUTER_INTF,
                    "",
                    ("sub-c", "10.0.2.1"),
                    &[],
                ),
                port(
                    "r-gw",
                    "net-ext",
                    DEVICE_OWNER_ROUTER_GW,
                    "",
                    ("sub-ext", "172.24.4.10"),
                    &[],
                ),
            ],
            routers: vec![RouterRow {
                id: "router".into(),
                project_id: "p".into(),
                name: String::new(),
                description: String::new(),
                admin_state_up: true,
                status: "ACTIVE".into(),
                enable_snat: true,
                gw_port_id: Some("r-gw".into()),
                revision_number: 1,
                created_at: 0,
                updated_at: 0,
            }],
            router_ports: HashMap::from([(
                "router".to_owned(),
                vec![
                    ("r-if".to_owned(), DEVICE_OWNER_ROUTER_INTF.to_owned()),
                    ("r-gw".to_owned(), DEVICE_OWNER_ROUTER_GW.to_owned()),
                ],
            )]),
            routes: HashMap::new(),
            floating_ips: vec![],
            rules: vec![
                rule("r1", "sg", Some("tcp"), None),
                rule("r2", "sg", None, Some("sg")),
                rule("r3", "sg", Some("no-such-protocol"), None),
            ],
        };
        let state = reduce("h1", &rows);
        let mut nets: Vec<&str> = state.networks.iter().map(|n| n.id.as_str()).collect();
        nets.sort();
        assert_eq!(nets, ["net-a", "net-b", "net-c", "net-ext"]);
        let a = state.networks.iter().find(|n| n.id == "net-a").unwrap();
        assert_eq!(
            a.dhcp_port.as_ref().unwrap().id,
            "dhcp-h1",
            "this host's DHCP port, not another's"
        );
        assert!(
            a.ports.iter().any(|p| p.id == "vm-there"),
            "DHCP answers ports bound elsewhere"
        );
        assert!(!a.ports.iter().any(|p| p.id.starts_with("dhcp")));
        assert_eq!(state.ports.len(), 1);
        assert_eq!(state.ports[0].port.id, "vm-here");
        let fw = &state.firewalls[0];
        assert_eq!(fw.tap, names::tap("vm-here"));
        assert_eq!(fw.rules.len(), 2, "the unknown protocol's rule is dropped");
        let mut members = fw.rules[1].remote_group_ips.clone().unwrap();
        members.sort();
        assert_eq!(
            members,
            vec!["10.0.0.7".parse::<IpAddr>().unwrap(), "10.0.1.5".parse().unwrap()]
        );
        let r = &state.routers[0];
        assert_eq!(r.interfaces[0].ip, Ipv4Addr::new(10, 0, 2, 1));
        assert_eq!(r.interfaces[0].prefix_len, 24);
        let gw = r.gateway.as_ref().unwrap();
        assert_eq!(gw.gateway_ip, Ipv4Addr::new(172, 24, 4, 1));
        assert!(gw.enable_snat);

        let mut down = rows;
        down.routers[0].admin_state_up = false;
        let state = reduce("h1", &down);
        // still plugged (its ports ACTIVE), but marked down: no forwarding
        assert_eq!(state.routers.len(), 1);
        assert!(!state.routers[0].admin_state_up);
        assert_eq!(state.routers[0].interfaces.len(), 1);
        assert!(state.networks.iter().any(|n| n.id == "net-c"));
    }

    #[test]
    fn dhcp_device_ids_are_neutrons() {
        let id = dhcp_device_id("host1", "net");
        assert!(id.starts_with("dhcp") && id.ends_with("-net"));
        assert_eq!(id, dhcp_device_id("host1", "net"));
        assert_ne!(id, dhcp_device_id("host2", "net"));
    }
}
