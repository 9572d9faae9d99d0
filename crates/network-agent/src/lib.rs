//! Network agent: the Linux data plane of the network service — what
//! Neutron's linuxbridge, DHCP, L3 and metadata agents do on a host. Built
//! so far, on one host: L2 (one Linux bridge per network, one tap per
//! port), DHCP (one dnsmasq per network), L3 (one namespace per router:
//! forwarding between its subnets, SNAT out of its external gateway,
//! floating IPs, extra routes) and security groups (stateful IPv4 filtering
//! of the guests' bridged traffic with iptables, as Neutron's iptables
//! firewall driver: per-port ingress/egress chains, anti-spoofing with
//! allowed address pairs, port security off).
//!
//! Where it sits (DESIGN.md §5): on every host that runs guests, DHCP or
//! routers. The network service (`network` crate) keeps the rows —
//! networks, subnets, ports, routers, floating IPs — and this crate makes
//! the kernel match them: a [`NetworkSpec`], a [`RouterSpec`] or a
//! [`PortFirewall`] (a port's security group rules, remote groups resolved
//! to their members' addresses by the caller) is those rows reduced to what
//! the host needs. [`NetworkAgent`] fetches them over the bus
//! ([`rpc::HostState`]) and calls the parts below; a port bound to the host
//! gets its tap from the agent (QEMU opens it by name).
//!
//! The rooms:
//! - [`agent`] — [`NetworkAgent`]: the reconciler on the bus (fetch the
//!   host's state, build it, remove the rest, report ports `ACTIVE`,
//!   heartbeat);
//! - [`rpc`] — the contract with the network service, used by both sides;
//! - [`spec`] — the wanted state as plain data;
//! - [`L2`] (here) — a network's bridge, its DHCP server, its ports' taps;
//! - [`dhcp`] — dnsmasq per network in its `qdhcp-<network id>` namespace:
//!   files, command line, start, reload, restart, removal;
//! - [`l3`] — [`L3`]: routers in `qrouter-<router id>` namespaces, their
//!   `qr-`/`qg-` veths, addresses, routes, and NAT as one nftables table per
//!   router replaced atomically on each sync;
//! - [`firewall`] — [`Firewall`]: security groups as iptables chains
//!   (`oxi-…`) in the root namespace, reached through `br_netfilter` and
//!   `-m physdev`, all of them rewritten in one `iptables-restore
//!   --noflush` transaction on each sync; the rule generation is a pure
//!   function ([`firewall::chains`]);
//! - [`names`] — kernel names derived from ids as Neutron derives them
//!   (`brq…`, `tap…`, `ns-…`, `qr-…`, `qg-…`, `qdhcp-…`, `qrouter-…`);
//! - [`host`] — the only module that touches the kernel: `ip` commands,
//!   namespaces, per-namespace sysctls, `nft -f`, `iptables-save` and
//!   `iptables-restore`, processes.
//!
//! Why this shape: the agent keeps no record of its own. Every name
//! derives from a resource id and every operation is idempotent, so an
//! agent restarted over a half-built host runs the same calls again and
//! converges, without duplicates; the running dnsmasq is found again by
//! its pid file and checked against `/proc/<pid>/cmdline`, and a router's
//! NAT table and the firewall's chains are declared whole each time rather
//! than patched. The bridge is
//! in the root namespace and carries no address, as with Neutron's
//! linuxbridge agent.
//!
//! Not built yet: starting the agent in `oxistack up`/`serve`; VXLAN
//! between hosts (a network is one host's bridge for now, and every agent
//! serves DHCP and routers for its own host: no DHCP/L3 scheduler);
//! floating IP status reports (they stay `DOWN`); in security
//! groups, IPv6 (IPv6 rules and addresses are skipped, so guests' IPv6
//! traffic is not filtered), ipsets for remote groups (one rule per member
//! address instead), ARP spoofing protection (ebtables), conntrack zones
//! and flushing the entries of flows a removed rule had allowed; the
//! metadata proxy (and its 169.254.169.254 redirect in the
//! router); IPv6 — DHCP for IPv6 subnets (they are carried in the spec and
//! skipped), and router addresses, routes and NAT (the router spec is
//! IPv4 only); on floating IP removal, flushing its conntrack entries
//! (established flows last until they time out) and, on addition,
//! gratuitous ARP; HA and distributed routers; a `Host` trait with a
//! recording fake (the tests run the real kernel as root instead); netlink
//! instead of forking `ip`.

pub mod agent;
pub mod dhcp;
pub mod firewall;
pub mod host;
pub mod l3;
pub mod names;
pub mod rpc;
pub mod spec;

use std::collections::HashMap;
use std::path::PathBuf;

pub use agent::{AgentConfig, NetworkAgent, clean_host};
pub use dhcp::{Dhcp, DhcpOutcome};
pub use firewall::Firewall;
pub use l3::L3;
pub use spec::{
    AddressPair, DhcpPortSpec, Direction, Ethertype, FixedIp, FloatingIpSpec, HostRoute, NetworkSpec, PortFirewall,
    PortSpec, Protocol, RouterGateway, RouterInterface, RouterSpec, SecurityGroupRule, SubnetSpec,
};

use host::{Link, LinkSettings};

/// What can go wrong realizing a network.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid network spec: {0}")]
    InvalidSpec(String),
    #[error("network {0} has no bridge on this host (ensure_network first)")]
    NetworkNotEnsured(String),
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    #[error("cannot run `{command}`")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("unexpected output from `{command}`")]
    Output {
        command: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot signal process {pid}")]
    Signal {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} did not stay running")]
    DaemonNotRunning { what: String },
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The L2 data plane of this host: networks' bridges and DHCP servers,
/// ports' taps.
///
/// Calls for one network must not overlap (each reads the host, then
/// changes it); the reconciler that will drive this runs them in turn.
#[derive(Debug, Clone)]
pub struct L2 {
    dhcp: Dhcp,
}

impl L2 {
    /// An agent keeping its files (dnsmasq's) under `state_dir`; a new
    /// instance over the same directory adopts what an earlier one built.
    pub fn new(state_dir: impl Into<PathBuf>) -> L2 {
        L2 {
            dhcp: Dhcp::new(state_dir.into().join("dhcp")),
        }
    }

    /// Makes the network's bridge exist, up, with the network's MTU, and
    /// its DHCP server serve `spec` (or not run, when no IPv4 subnet has
    /// DHCP enabled).
    pub async fn ensure_network(&self, spec: &NetworkSpec) -> Result<DhcpOutcome, Error> {
        names::check_id("network", &spec.id)?;
        let bridge = names::bridge(&spec.id);
        host::bridge_add(&bridge).await?;
        host::link_set(
            None,
            &bridge,
            &LinkSettings {
                mtu: Some(spec.mtu),
                up: true,
                ..LinkSettings::default()
            },
        )
        .await?;
        self.dhcp.sync(spec).await
    }

    /// Creates the port's tap on the network's bridge and returns its name,
    /// for QEMU (`-netdev tap,ifname=<name>,script=no,downscript=no`).
    ///
    /// The tap gets the port's MAC with its first byte `fe`, as libvirt
    /// gives it: the guest's MAC sits behind the tap, and the bridge must
    /// not take it for one of its own.
    pub async fn plug_port(&self, network_id: &str, port: &PortSpec) -> Result<String, Error> {
        names::check_id("network", network_id)?;
        names::check_id("port", &port.id)?;
        let bridge = host::link(None, &names::bridge(network_id))
            .await?
            .ok_or_else(|| Error::NetworkNotEnsured(network_id.to_owned()))?;
        let tap_mac = host_side_mac(&port.mac)?;
        let tap = names::tap(&port.id);
        host::tap_add(&tap).await?;
        host::link_set(
            None,
            &tap,
            &LinkSettings {
                mac: Some(&tap_mac),
                mtu: Some(bridge.mtu),
                master: Some(&bridge.name),
                up: true,
            },
        )
        .await?;
        Ok(tap)
    }

    /// Whether the port's tap is already what [`L2::plug_port`] makes of
    /// it — on the network's bridge, up, with the bridge's MTU and the
    /// host-side MAC — judged from `links`, the root namespace's links by
    /// name, listed once for many ports. `plug_port` reads the links three
    /// times (one `ip` fork each, every link of the host in each answer);
    /// a pass that asks this first forks once for the whole host, which is
    /// what keeps a security-group change on 100 ports under a second.
    pub fn is_plugged(links: &HashMap<&str, &Link>, network_id: &str, port: &PortSpec) -> bool {
        let (Some(bridge), Some(tap), Ok(mac)) = (
            links.get(names::bridge(network_id).as_str()),
            links.get(names::tap(&port.id).as_str()),
            host_side_mac(&port.mac),
        ) else {
            return false;
        };
        tap.master.as_deref() == Some(bridge.name.as_str())
            && tap.up
            && tap.mtu == bridge.mtu
            && tap.mac.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(&mac))
    }

    /// Deletes the port's tap; Ok when it is gone.
    pub async fn unplug_port(&self, port_id: &str) -> Result<(), Error> {
        names::check_id("port", port_id)?;
        host::link_delete(None, &names::tap(port_id)).await
    }

    /// Stops the network's DHCP server, deletes its namespace, veth and
    /// files, then the bridge; Ok when they are gone. Taps still on the
    /// bridge stay (they are their ports', removed by `unplug_port`).
    pub async fn remove_network(&self, network_id: &str) -> Result<(), Error> {
        names::check_id("network", network_id)?;
        self.dhcp.remove(network_id).await?;
        host::link_delete(None, &names::bridge(network_id)).await
    }
}

/// `fa:16:3e:…` → `fe:16:3e:…`.
fn host_side_mac(mac: &str) -> Result<String, Error> {
    let bytes: Vec<&str> = mac.split(':').collect();
    if bytes.len() != 6 || !bytes.iter().all(|b| b.len() == 2 && u8::from_str_radix(b, 16).is_ok()) {
        return Err(Error::InvalidSpec(format!("{mac:?} is not a MAC address")));
    }
    Ok(std::iter::once("fe")
        .chain(bytes[1..].iter().copied())
        .collect::<Vec<_>>()
        .join(":")
        .to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(name: &str, mac: &str, mtu: u32, master: Option<&str>, up: bool) -> Link {
        Link {
            name: name.into(),
            mac: Some(mac.into()),
            mtu,
            up,
            master: master.map(Into::into),
            kind: Some("tun".into()),
        }
    }

    #[test]
    fn a_port_is_plugged_only_when_its_tap_is_as_plug_port_leaves_it() {
        let (network, bridge_name, tap_name) = ("0123456789abcdef", "brq0123456789a", "tapfedcba98765");
        let port = PortSpec {
            id: "fedcba9876543210".into(),
            mac: "FA:16:3E:01:02:03".into(),
            fixed_ips: Vec::new(),
        };
        let bridge = link(bridge_name, "aa:bb:cc:dd:ee:ff", 1450, None, true);
        let plugged = |tap: Link, with_bridge: bool| {
            let mut links: HashMap<&str, &Link> = HashMap::from([(tap.name.as_str(), &tap)]);
            if with_bridge {
                links.insert(bridge_name, &bridge);
            }
            L2::is_plugged(&links, network, &port)
        };
        let mac = "fe:16:3e:01:02:03";
        assert!(plugged(link(tap_name, mac, 1450, Some(bridge_name), true), true));
        assert!(
            !plugged(link(tap_name, mac, 1450, Some(bridge_name), true), false),
            "no bridge"
        );
        assert!(
            !plugged(link(tap_name, mac, 1450, Some("brq999999999999"), true), true),
            "another bridge"
        );
        assert!(!plugged(link(tap_name, mac, 1450, None, true), true), "on no bridge");
        assert!(
            !plugged(link(tap_name, mac, 1450, Some(bridge_name), false), true),
            "down"
        );
        assert!(
            !plugged(link(tap_name, mac, 1500, Some(bridge_name), true), true),
            "not the bridge's MTU"
        );
        let guest_mac = "fa:16:3e:01:02:03";
        assert!(
            !plugged(link(tap_name, guest_mac, 1450, Some(bridge_name), true), true),
            "the guest's MAC"
        );
        assert!(
            !plugged(link("tap00000000000", mac, 1450, Some(bridge_name), true), true),
            "another port's tap"
        );
    }

    #[test]
    fn the_tap_mac_is_the_ports_with_fe_first() {
        assert_eq!(host_side_mac("FA:16:3E:01:02:03").unwrap(), "fe:16:3e:01:02:03");
        assert!(host_side_mac("fa:16:3e:01:02").is_err());
        assert!(host_side_mac("fa:16:3e:01:02:zz").is_err());
    }
}
