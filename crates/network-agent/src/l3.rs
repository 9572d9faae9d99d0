//! L3: routers, as Neutron's L3 agent builds a legacy (centralized,
//! non-HA) router on a linuxbridge host.
//!
//! A router is a namespace, `qrouter-<router id>`, with IPv4 forwarding
//! on. Each interface on a tenant network is a veth: `qr-<port>` in the
//! namespace holds the subnet's gateway address, `tap<port>` in the root
//! namespace is attached to the network's bridge. The external gateway is
//! the same on the external network's bridge, `qg-<port>`, with the
//! router's default route via the external subnet's gateway. Floating IPs
//! are /32 addresses on `qg-`. NAT is one nftables table per router
//! namespace, [`NAT_TABLE`], as Neutron's `neutron-l3-agent-*` chains do it:
//! - prerouting (and output, for the router's own packets): DNAT each
//!   floating IP to its fixed IP;
//! - postrouting, out of `qg-`: SNAT each fixed IP that has a floating IP
//!   to it, then (with `enable_snat`) the tenant subnets to the gateway
//!   address.
//!
//! Every sync replaces the whole table in one `nft -f` transaction (delete
//! and declare again), so an agent run twice or restarted never duplicates
//! a rule, and a failed sync leaves the previous table in place. Links,
//! addresses and routes of the router that the spec no longer has are
//! removed; what is not the router's (other namespaces, other tables) is
//! never read or changed.
//!
//! Not done here (Neutron does them): flushing the conntrack entries of a
//! removed floating IP (established flows through it last until they time
//! out), gratuitous ARP for new floating IPs, the metadata proxy redirect,
//! HA and distributed routers, IPv6.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use crate::host::{self, LinkSettings};
use crate::spec::{Ipv4Cidr, RouterSpec};
use crate::{Error, names};

/// The nftables table (family `ip`) in each router namespace.
pub const NAT_TABLE: &str = "oxistack-nat";

/// The routers of this host. Keeps no state: everything derives from the
/// spec and the kernel, so a fresh instance converges like the old one.
#[derive(Debug, Clone, Default)]
pub struct L3 {}

impl L3 {
    pub fn new() -> L3 {
        L3 {}
    }

    /// Makes the router's namespace, interfaces, addresses, routes and NAT
    /// rules be exactly what `spec` says. Bridges of the router's networks
    /// are created (up) when missing; their MTU is the veths'.
    pub async fn ensure_router(&self, spec: &RouterSpec) -> Result<(), Error> {
        let plan = plan(spec)?;
        let netns = plan.netns.as_str();
        host::netns_add(netns).await?;
        let forward = if spec.admin_state_up { "1" } else { "0" };
        host::sysctl_set(netns, "net.ipv4.ip_forward", forward).await?;

        // Interfaces of ports the router no longer has (their bridge end
        // goes with them).
        let wanted: HashSet<&str> = plan.ports.iter().map(|p| p.inner.as_str()).collect();
        for link in host::links(Some(netns), "").await? {
            if is_router_link(&link.name) && !wanted.contains(link.name.as_str()) {
                host::link_delete(Some(netns), &link.name).await?;
            }
        }

        for port in &plan.ports {
            let mtu = match host::link(None, &port.bridge).await? {
                Some(bridge) => bridge.mtu,
                None => {
                    host::bridge_add(&port.bridge).await?;
                    let up = LinkSettings {
                        up: true,
                        ..LinkSettings::default()
                    };
                    host::link_set(None, &port.bridge, &up).await?;
                    host::link(None, &port.bridge)
                        .await?
                        .ok_or_else(|| Error::NetworkNotEnsured(port.bridge.clone()))?
                        .mtu
                }
            };
            host::veth_add(&port.outer, &port.inner, Some(netns)).await?;
            host::link_set(
                None,
                &port.outer,
                &LinkSettings {
                    mtu: Some(mtu),
                    master: Some(&port.bridge),
                    up: true,
                    ..LinkSettings::default()
                },
            )
            .await?;
            host::link_set(
                Some(netns),
                &port.inner,
                &LinkSettings {
                    mac: Some(&port.mac),
                    mtu: Some(mtu),
                    up: true,
                    ..LinkSettings::default()
                },
            )
            .await?;
            for address in &port.addresses {
                host::address_add(Some(netns), &port.inner, address).await?;
            }
            for stale in host::ipv4_addresses(Some(netns), &port.inner).await? {
                if !port.addresses.contains(&stale) {
                    host::address_delete(Some(netns), &port.inner, &stale).await?;
                }
            }
        }

        match &plan.default_route {
            Some((via, dev)) => host::route_replace(Some(netns), "default", Some(&via.to_string()), dev).await?,
            None => host::route_delete(Some(netns), "default").await?,
        }
        for route in &plan.routes {
            host::route_replace(
                Some(netns),
                &route.destination,
                Some(&route.nexthop.to_string()),
                &route.dev,
            )
            .await?;
        }
        for route in host::routes(Some(netns)).await? {
            let extra = route.gateway.is_some() && route.destination != "default";
            if extra && !plan.routes.iter().any(|r| r.destination == route.destination) {
                host::route_delete(Some(netns), &route.destination).await?;
            }
        }

        host::nft_apply(netns, &plan.nat).await?;
        tracing::info!(router_id = %spec.id, interfaces = plan.ports.len(), "router synced");
        Ok(())
    }

    /// Deletes the router's interfaces (both veth ends) and namespace, and
    /// with it its NAT table; Ok when they are gone already. The networks'
    /// bridges stay.
    pub async fn remove_router(&self, router_id: &str) -> Result<(), Error> {
        names::check_id("router", router_id)?;
        let netns = names::router_namespace(router_id);
        if host::netns_exists(&netns).await? {
            // Deleted explicitly: a namespace's devices are destroyed
            // asynchronously after it is, and the bridge ends would linger.
            for link in host::links(Some(&netns), "").await? {
                if is_router_link(&link.name) {
                    host::link_delete(Some(&netns), &link.name).await?;
                }
            }
        }
        host::netns_delete(&netns).await
    }
}

fn is_router_link(name: &str) -> bool {
    name.starts_with("qr-") || name.starts_with("qg-")
}

/// What a router spec means on the host, checked and computed before
/// anything is touched.
#[derive(Debug)]
struct Plan {
    netns: String,
    /// Interfaces first, then the gateway.
    ports: Vec<PlannedPort>,
    default_route: Option<(Ipv4Addr, String)>,
    routes: Vec<PlannedRoute>,
    nat: String,
}

#[derive(Debug)]
struct PlannedPort {
    /// `qr-…`/`qg-…`, in the namespace.
    inner: String,
    /// `tap…`, on the bridge.
    outer: String,
    bridge: String,
    mac: String,
    /// `address/prefix`: the port's, then (on `qg-`) the floating IPs' /32s.
    addresses: Vec<String>,
    subnet: Ipv4Cidr,
}

#[derive(Debug)]
struct PlannedRoute {
    /// A CIDR with its host bits clear, as the kernel reports it.
    destination: String,
    nexthop: Ipv4Addr,
    /// The router interface on whose subnet the nexthop is.
    dev: String,
}

fn plan(spec: &RouterSpec) -> Result<Plan, Error> {
    names::check_id("router", &spec.id)?;
    let invalid = |what: String| Error::InvalidSpec(format!("router {}: {what}", spec.id));
    let subnet = |ip: Ipv4Addr, prefix_len: u8| {
        if prefix_len == 0 || prefix_len > 32 {
            return Err(invalid(format!("prefix length {prefix_len} of {ip}")));
        }
        Ok(Ipv4Cidr { addr: ip, prefix_len })
    };

    let mut ports = Vec::new();
    for interface in &spec.interfaces {
        names::check_id("port", &interface.port_id)?;
        names::check_id("network", &interface.network_id)?;
        ports.push(PlannedPort {
            inner: names::router_interface(&interface.port_id),
            outer: names::tap(&interface.port_id),
            bridge: names::bridge(&interface.network_id),
            mac: interface.mac.clone(),
            addresses: vec![format!("{}/{}", interface.ip, interface.prefix_len)],
            subnet: subnet(interface.ip, interface.prefix_len)?,
        });
    }
    let internal: Vec<Ipv4Cidr> = ports.iter().map(|p| p.subnet).collect();

    let mut default_route = None;
    let mut seen_floating = HashSet::new();
    for fip in &spec.floating_ips {
        if !seen_floating.insert(fip.floating_ip) {
            return Err(invalid(format!("floating IP {} given twice", fip.floating_ip)));
        }
        if !internal.iter().any(|s| s.contains(fip.fixed_ip)) {
            return Err(invalid(format!(
                "fixed IP {} of floating IP {} is on none of the router's subnets",
                fip.fixed_ip, fip.floating_ip
            )));
        }
    }
    let mut nat = NatRules::default();
    if let Some(gateway) = &spec.gateway {
        names::check_id("port", &gateway.port_id)?;
        names::check_id("network", &gateway.network_id)?;
        let qg = names::router_gateway(&gateway.port_id);
        let external = subnet(gateway.ip, gateway.prefix_len)?;
        if !external.contains(gateway.gateway_ip) {
            return Err(invalid(format!(
                "gateway IP {} is not on {}",
                gateway.gateway_ip,
                external.network()
            )));
        }
        let mut addresses = vec![format!("{}/{}", gateway.ip, gateway.prefix_len)];
        for fip in &spec.floating_ips {
            if fip.floating_ip == gateway.ip {
                return Err(invalid(format!(
                    "floating IP {} is the gateway's address",
                    fip.floating_ip
                )));
            }
            addresses.push(format!("{}/32", fip.floating_ip));
        }
        nat = NatRules {
            gateway_dev: Some(qg.clone()),
            floating: spec.floating_ips.iter().map(|f| (f.floating_ip, f.fixed_ip)).collect(),
            snat: gateway.enable_snat.then_some(gateway.ip),
            internal: internal.clone(),
        };
        default_route = Some((gateway.gateway_ip, qg.clone()));
        ports.push(PlannedPort {
            inner: qg,
            outer: names::tap(&gateway.port_id),
            bridge: names::bridge(&gateway.network_id),
            mac: gateway.mac.clone(),
            addresses,
            subnet: external,
        });
    } else if !spec.floating_ips.is_empty() {
        return Err(invalid("floating IPs need an external gateway".to_owned()));
    }

    let mut inner_names = HashSet::new();
    if let Some(clash) = ports.iter().find(|p| !inner_names.insert(p.inner.as_str())) {
        return Err(invalid(format!("two ports would both be {}", clash.inner)));
    }

    let mut routes: Vec<PlannedRoute> = Vec::new();
    for route in &spec.routes {
        let IpAddr::V4(nexthop) = route.nexthop else {
            return Err(invalid(format!(
                "route via {}: IPv6 routes are not supported",
                route.nexthop
            )));
        };
        let destination: Ipv4Cidr = route.destination.parse()?;
        if destination.prefix_len == 0 {
            return Err(invalid(
                "an extra route cannot be the default route (it is the gateway's)".to_owned(),
            ));
        }
        if destination.network() != destination.addr {
            return Err(invalid(format!("route destination {destination} has host bits set")));
        }
        let dev = ports
            .iter()
            .find(|p| p.subnet.contains(nexthop))
            .ok_or_else(|| invalid(format!("nexthop {nexthop} is on none of the router's subnets")))?
            .inner
            .clone();
        let destination = destination.to_string();
        if routes.iter().any(|r| r.destination == destination) {
            return Err(invalid(format!("route to {destination} given twice")));
        }
        routes.push(PlannedRoute {
            destination,
            nexthop,
            dev,
        });
    }

    Ok(Plan {
        netns: names::router_namespace(&spec.id),
        ports,
        default_route,
        routes,
        // a router that is down translates nothing (and forwards nothing)
        nat: if spec.admin_state_up { nat } else { NatRules::default() }.script(),
    })
}

/// The router's NAT, rendered as one `nft -f` transaction.
#[derive(Debug, Default)]
struct NatRules {
    /// `qg-…`; without a gateway the table has its chains and no rules.
    gateway_dev: Option<String>,
    /// (floating, fixed).
    floating: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// The gateway address the tenant subnets are SNATed to.
    snat: Option<Ipv4Addr>,
    internal: Vec<Ipv4Cidr>,
}

impl NatRules {
    fn script(&self) -> String {
        let mut dnat = String::new();
        let mut snat = String::new();
        if let Some(dev) = &self.gateway_dev {
            for (floating, fixed) in &self.floating {
                let _ = writeln!(dnat, "\t\tip daddr {floating} dnat to {fixed}");
                let _ = writeln!(snat, "\t\toifname \"{dev}\" ip saddr {fixed} snat to {floating}");
            }
            if let Some(to) = self.snat
                && !self.internal.is_empty()
            {
                let subnets: Vec<String> = self
                    .internal
                    .iter()
                    .map(|c| format!("{}/{}", c.network(), c.prefix_len))
                    .collect();
                let _ = writeln!(
                    snat,
                    "\t\toifname \"{dev}\" ip saddr {{ {} }} snat to {to}",
                    subnets.join(", ")
                );
            }
        }
        // The first line makes the table exist so that the delete cannot
        // fail on a fresh namespace; nft applies the file as one transaction.
        format!(
            "table ip {NAT_TABLE}\n\
             delete table ip {NAT_TABLE}\n\
             table ip {NAT_TABLE} {{\n\
             \tchain prerouting {{\n\
             \t\ttype nat hook prerouting priority dstnat; policy accept;\n\
             {dnat}\
             \t}}\n\
             \tchain output {{\n\
             \t\ttype nat hook output priority -100; policy accept;\n\
             {dnat}\
             \t}}\n\
             \tchain postrouting {{\n\
             \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
             {snat}\
             \t}}\n\
             }}\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{FloatingIpSpec, HostRoute, RouterGateway, RouterInterface};

    const ROUTER: &str = "3b2a1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";

    fn spec() -> RouterSpec {
        RouterSpec {
            id: ROUTER.to_owned(),
            admin_state_up: true,
            interfaces: vec![
                RouterInterface {
                    port_id: "a1aaaaaa-0000-0000-0000-000000000001".to_owned(),
                    network_id: "b1bbbbbb-0000-0000-0000-000000000001".to_owned(),
                    mac: "fa:16:3e:00:01:01".to_owned(),
                    ip: "10.1.0.1".parse().unwrap(),
                    prefix_len: 24,
                },
                RouterInterface {
                    port_id: "a2aaaaaa-0000-0000-0000-000000000002".to_owned(),
                    network_id: "b2bbbbbb-0000-0000-0000-000000000002".to_owned(),
                    mac: "fa:16:3e:00:01:02".to_owned(),
                    ip: "10.2.0.1".parse().unwrap(),
                    prefix_len: 24,
                },
            ],
            gateway: Some(RouterGateway {
                port_id: "cccccccc-0000-0000-0000-000000000001".to_owned(),
                network_id: "dddddddd-0000-0000-0000-000000000001".to_owned(),
                mac: "fa:16:3e:00:02:01".to_owned(),
                ip: "172.24.4.10".parse().unwrap(),
                prefix_len: 24,
                gateway_ip: "172.24.4.1".parse().unwrap(),
                enable_snat: true,
            }),
            routes: vec![HostRoute {
                destination: "192.168.0.0/16".to_owned(),
                nexthop: "10.2.0.254".parse().unwrap(),
            }],
            floating_ips: vec![FloatingIpSpec {
                floating_ip: "172.24.4.20".parse().unwrap(),
                fixed_ip: "10.2.0.5".parse().unwrap(),
            }],
        }
    }

    #[test]
    fn the_plan_has_neutrons_names_addresses_and_routes() {
        let plan = plan(&spec()).unwrap();
        assert_eq!(plan.netns, format!("qrouter-{ROUTER}"));
        let summary: Vec<(&str, &str, &str, Vec<&str>)> = plan
            .ports
            .iter()
            .map(|p| {
                let addresses = p.addresses.iter().map(String::as_str).collect();
                (p.inner.as_str(), p.outer.as_str(), p.bridge.as_str(), addresses)
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "qr-a1aaaaaa-00",
                    "tapa1aaaaaa-00",
                    "brqb1bbbbbb-00",
                    vec!["10.1.0.1/24"]
                ),
                (
                    "qr-a2aaaaaa-00",
                    "tapa2aaaaaa-00",
                    "brqb2bbbbbb-00",
                    vec!["10.2.0.1/24"]
                ),
                (
                    "qg-cccccccc-00",
                    "tapcccccccc-00",
                    "brqdddddddd-00",
                    vec!["172.24.4.10/24", "172.24.4.20/32"]
                ),
            ]
        );
        assert_eq!(
            plan.default_route,
            Some(("172.24.4.1".parse().unwrap(), "qg-cccccccc-00".to_owned()))
        );
        assert_eq!(plan.routes[0].destination, "192.168.0.0/16");
        assert_eq!(plan.routes[0].dev, "qr-a2aaaaaa-00");
    }

    #[test]
    fn the_nat_table_is_replaced_whole_with_floating_snat_before_the_general_one() {
        let script = plan(&spec()).unwrap().nat;
        assert!(script.starts_with("table ip oxistack-nat\ndelete table ip oxistack-nat\ntable ip oxistack-nat {\n"));
        assert_eq!(script.matches("ip daddr 172.24.4.20 dnat to 10.2.0.5").count(), 2);
        let floating = script
            .find("oifname \"qg-cccccccc-00\" ip saddr 10.2.0.5 snat to 172.24.4.20")
            .unwrap();
        let general = script
            .find("oifname \"qg-cccccccc-00\" ip saddr { 10.1.0.0/24, 10.2.0.0/24 } snat to 172.24.4.10")
            .unwrap();
        assert!(floating < general);
    }

    #[test]
    fn without_snat_only_floating_ips_are_translated() {
        let mut spec = spec();
        spec.gateway.as_mut().unwrap().enable_snat = false;
        let script = plan(&spec).unwrap().nat;
        assert!(script.contains("snat to 172.24.4.20"));
        assert!(!script.contains("snat to 172.24.4.10"));
    }

    #[test]
    fn without_a_gateway_the_table_has_no_rules() {
        let mut spec = spec();
        spec.gateway = None;
        spec.floating_ips.clear();
        let plan = plan(&spec).unwrap();
        assert!(!plan.nat.contains("nat to"));
        assert_eq!(plan.default_route, None);
        assert_eq!(plan.ports.len(), 2);
    }

    #[test]
    fn inconsistent_specs_are_refused() {
        let mut no_gateway = spec();
        no_gateway.gateway = None;
        assert!(plan(&no_gateway).is_err(), "floating IPs without a gateway");

        let mut stray_fixed = spec();
        stray_fixed.floating_ips[0].fixed_ip = "10.9.0.5".parse().unwrap();
        assert!(plan(&stray_fixed).is_err());

        let mut stray_nexthop = spec();
        stray_nexthop.routes[0].nexthop = "10.9.0.254".parse().unwrap();
        assert!(plan(&stray_nexthop).is_err());

        let mut host_bits = spec();
        host_bits.routes[0].destination = "192.168.0.1/16".to_owned();
        assert!(plan(&host_bits).is_err());

        let mut clash = spec();
        clash.interfaces[1].port_id = "a1aaaaaa-0000-0000-0000-000000000009".to_owned();
        assert!(plan(&clash).is_err(), "two ports with one interface name");

        let mut bad_id = spec();
        bad_id.id = "../x".to_owned();
        assert!(plan(&bad_id).is_err());
    }
}
