//! The desired state of one network, one router or one port's security
//! groups on this host, as plain data: what the Neutron server's network,
//! subnet, port, router, floating IP and security group rows say, reduced
//! to what the data plane realizes. Nothing here touches the host.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// One network: its bridge, its DHCP server and the ports DHCP answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// The Neutron network id (a UUID); the names of the bridge and the
    /// DHCP namespace derive from it.
    pub id: String,
    pub mtu: u32,
    pub subnets: Vec<SubnetSpec>,
    /// The port (`device_owner` `network:dhcp`) dnsmasq listens on; needed
    /// when a subnet has `enable_dhcp`.
    pub dhcp_port: Option<DhcpPortSpec>,
    /// The ports DHCP hands addresses to.
    pub ports: Vec<PortSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetSpec {
    pub id: String,
    /// `10.0.0.0/24`; IPv6 subnets are carried but not served by DHCP.
    pub cidr: String,
    pub gateway_ip: Option<IpAddr>,
    pub dns_nameservers: Vec<IpAddr>,
    pub host_routes: Vec<HostRoute>,
    pub enable_dhcp: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRoute {
    /// A CIDR, `192.168.0.0/16`.
    pub destination: String,
    pub nexthop: IpAddr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpPortSpec {
    /// The port's id: its veth is `tap<id[..11]>` on the bridge and
    /// `ns-<id[..11]>` in the namespace, as Neutron names it.
    pub id: String,
    pub mac: String,
    /// One address per DHCP-enabled subnet: dnsmasq serves a static range
    /// only on an interface that has an address in it.
    pub fixed_ips: Vec<FixedIp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    pub id: String,
    pub mac: String,
    pub fixed_ips: Vec<FixedIp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: IpAddr,
}

/// One router: its namespace, its interfaces on tenant networks, its
/// gateway on an external network, its extra routes and floating IPs.
/// IPv4 only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterSpec {
    /// The Neutron router id; the namespace `qrouter-<id>` derives from it.
    pub id: String,
    /// One per router port with `device_owner` `network:router_interface`.
    pub interfaces: Vec<RouterInterface>,
    /// The port with `device_owner` `network:router_gateway`, if the router
    /// has an external gateway.
    pub gateway: Option<RouterGateway>,
    /// The router's extra routes (`routes` attribute); each nexthop must be
    /// on one of the router's subnets.
    pub routes: Vec<HostRoute>,
    /// Floating IPs associated with ports behind this router; they need a
    /// gateway.
    pub floating_ips: Vec<FloatingIpSpec>,
    /// An administratively down router keeps its namespace and ports
    /// (plugged, so they are `ACTIVE`, as tempest expects of Neutron) but
    /// forwards nothing and has no NAT.
    #[serde(default = "up")]
    pub admin_state_up: bool,
}

fn up() -> bool {
    true
}

/// A router port on a tenant subnet: `qr-<port id>` in the namespace holds
/// the subnet's gateway address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterInterface {
    pub port_id: String,
    pub network_id: String,
    pub mac: String,
    /// The subnet's gateway address.
    pub ip: Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix_len: u8,
}

/// The router's port on an external network: `qg-<port id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterGateway {
    pub port_id: String,
    /// The external network.
    pub network_id: String,
    pub mac: String,
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    /// The external subnet's gateway: the router's default route.
    pub gateway_ip: Ipv4Addr,
    /// Whether the tenant subnets reach out with the gateway's address
    /// (`external_gateway_info.enable_snat`).
    pub enable_snat: bool,
}

/// A floating IP on the external network, forwarded to a fixed IP behind
/// the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloatingIpSpec {
    pub floating_ip: Ipv4Addr,
    pub fixed_ip: Ipv4Addr,
}

/// One port's security: what Neutron's security group RPC hands an agent
/// for a port (`security_group_rules_for_devices`), with remote groups
/// already resolved to their members' addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortFirewall {
    pub port_id: String,
    /// The port's device on the bridge (`tap<port id[..11]>`), whose
    /// bridged traffic the rules filter.
    pub tap: String,
    /// The guest's MAC (`fa:16:3e:…`), not the tap's.
    pub mac: String,
    pub fixed_ips: Vec<IpAddr>,
    /// `port_security_enabled`: when false the port's traffic is accepted
    /// whole — no anti-spoofing, no rules.
    pub port_security_enabled: bool,
    pub allowed_address_pairs: Vec<AddressPair>,
    /// The rules of all the port's security groups.
    pub rules: Vec<SecurityGroupRule>,
}

/// An allowed address pair: the guest may also send from `ip_address` (an
/// address or a CIDR) with `mac_address` (the port's when `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPair {
    pub ip_address: String,
    pub mac_address: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// To the guest.
    Ingress,
    /// From the guest.
    Egress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ethertype {
    IPv4,
    IPv6,
}

/// A rule's protocol: a name Neutron knows here, or an IP protocol number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    Number(u8),
}

/// One security group rule, as Neutron stores it, with `remote_group_id`
/// replaced by its members' addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroupRule {
    pub direction: Direction,
    pub ethertype: Ethertype,
    /// `None`: any protocol.
    pub protocol: Option<Protocol>,
    /// TCP/UDP: the destination port range (`max` alone is ignored, as
    /// Neutron's API refuses it). ICMP: `min` is the type, `max` the code.
    pub port_range_min: Option<u16>,
    pub port_range_max: Option<u16>,
    /// The peer's prefix: the source for ingress, the destination for
    /// egress.
    pub remote_ip_prefix: Option<String>,
    /// With a `remote_group_id`: the addresses of the group's ports (an
    /// empty list matches nothing). `None` when the rule has no remote
    /// group.
    pub remote_group_ips: Option<Vec<IpAddr>>,
}

/// An IPv4 prefix, `10.0.0.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
}

impl Ipv4Cidr {
    pub fn netmask(&self) -> Ipv4Addr {
        let bits = u32::MAX.checked_shl(32 - u32::from(self.prefix_len)).unwrap_or(0);
        Ipv4Addr::from(bits)
    }

    /// The network address: host bits cleared.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & u32::from(self.netmask()))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & u32::from(self.netmask()) == u32::from(self.network())
    }

    /// How many addresses the prefix spans.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix_len))
    }
}

impl FromStr for Ipv4Cidr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Ipv4Cidr, Error> {
        let invalid = || Error::InvalidSpec(format!("{s:?} is not an IPv4 CIDR"));
        let (addr, len) = s.split_once('/').ok_or_else(invalid)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| invalid())?;
        let prefix_len: u8 = len.parse().map_err(|_| invalid())?;
        if prefix_len > 32 {
            return Err(invalid());
        }
        Ok(Ipv4Cidr { addr, prefix_len })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl SubnetSpec {
    /// The subnet's prefix when it is IPv4, `None` for IPv6.
    pub fn ipv4_cidr(&self) -> Result<Option<Ipv4Cidr>, Error> {
        if self.cidr.contains(':') {
            return Ok(None);
        }
        self.cidr.parse().map(Some)
    }
}

impl NetworkSpec {
    /// The IPv4 subnets DHCP serves, with their prefixes.
    pub fn dhcp_subnets(&self) -> Result<Vec<(&SubnetSpec, Ipv4Cidr)>, Error> {
        let mut out = Vec::new();
        for subnet in self.subnets.iter().filter(|s| s.enable_dhcp) {
            if let Some(cidr) = subnet.ipv4_cidr()? {
                out.push((subnet, cidr));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_arithmetic() {
        let c: Ipv4Cidr = "10.1.2.3/24".parse().unwrap();
        assert_eq!(c.network(), Ipv4Addr::new(10, 1, 2, 0));
        assert_eq!(c.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert!(c.contains(Ipv4Addr::new(10, 1, 2, 200)));
        assert!(!c.contains(Ipv4Addr::new(10, 1, 3, 1)));
        assert_eq!(c.size(), 256);
        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert_eq!(all.netmask(), Ipv4Addr::UNSPECIFIED);
        assert!("10.0.0.0/33".parse::<Ipv4Cidr>().is_err());
        assert!("10.0.0.0".parse::<Ipv4Cidr>().is_err());
    }
}
