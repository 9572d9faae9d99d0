//! The RPC contract between the network service (the `network` crate,
//! Neutron server's place) and network agents, as Neutron's agents talk
//! to neutron-server over oslo.messaging. Defined here, once, and used by
//! both sides (the service depends on this crate, as `compute` depends on
//! `compute-agent` for its contract).
//!
//! Agent → service, topic [`SERVICE_TOPIC`]:
//! - call `get_host_state` [`HostQuery`] → [`HostState`]: everything the
//!   host must realize, already reduced to [`crate::spec`] types (what
//!   Neutron spreads over `get_devices_details_list`, `get_active_networks_info`,
//!   `security_group_rules_for_devices` and `sync_routers`);
//! - call `ensure_dhcp_port` [`DhcpPortRequest`] → `()`: the host's DHCP port
//!   on a network exists with an address on each DHCP-enabled subnet
//!   (Neutron's `create_dhcp_port`/`update_dhcp_port`);
//! - cast `report_state` [`AgentState`] every [`REPORT_INTERVAL`], one per
//!   agent type the process plays;
//! - cast `update_port_status` [`PortStatusUpdate`]: ports plugged or not
//!   (Neutron's `update_device_up`/`update_device_down`), and the routers
//!   built, whose floating IPs are then `ACTIVE`.
//!
//! Service → agents, fanout on [`AGENT_TOPIC`]:
//! - `state_changed` `{}` after a write that touches the data plane; each
//!   agent fetches its host state again.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::spec::{NetworkSpec, PortFirewall, PortSpec, RouterSpec};

pub const SERVICE_TOPIC: &str = "network";
pub const AGENT_TOPIC: &str = "network-agent";

/// Neutron's `[agent] report_interval` default.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(30);
/// Neutron's `agent_down_time` default: an agent whose last heartbeat is
/// older is shown `alive: false`.
pub const AGENT_DOWN_TIME: Duration = Duration::from_secs(75);

/// The agent types one agent process reports, with Neutron's names and
/// topics: it does the jobs of the linuxbridge, DHCP and L3 agents.
pub const AGENT_TYPES: &[(&str, &str)] = &[
    (LINUX_BRIDGE_AGENT, "N/A"),
    (DHCP_AGENT, "dhcp_agent"),
    (L3_AGENT, "l3_agent"),
];
pub const LINUX_BRIDGE_AGENT: &str = "Linux bridge agent";
pub const DHCP_AGENT: &str = "DHCP agent";
pub const L3_AGENT: &str = "L3 agent";
pub const BINARY: &str = "oxistack-network-agent";

/// Port status values, as Neutron's.
pub const PORT_ACTIVE: &str = "ACTIVE";
pub const PORT_DOWN: &str = "DOWN";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostQuery {
    pub host: String,
}

/// What one host must have.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostState {
    /// Every network the host needs a bridge for (its bound ports', its
    /// routers', and the networks it serves DHCP on), with DHCP's view of
    /// it: `dhcp_port` is this host's DHCP port, `None` when there is none
    /// yet (see [`HostState::missing_dhcp_ports`]).
    pub networks: Vec<NetworkSpec>,
    /// The ports bound to this host (`binding:host_id`) that are not the
    /// service's own (DHCP, router): their taps.
    pub ports: Vec<BoundPort>,
    /// Security groups of the bound ports, remote groups resolved.
    pub firewalls: Vec<PortFirewall>,
    pub routers: Vec<RouterSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundPort {
    pub network_id: String,
    pub port: PortSpec,
    /// A port with `admin_state_up` false is not plugged and stays `DOWN`.
    pub admin_state_up: bool,
}

impl HostState {
    /// The networks whose DHCP-enabled IPv4 subnets have no address of this
    /// host's DHCP port (or no DHCP port at all).
    pub fn missing_dhcp_ports(&self) -> Vec<String> {
        self.networks
            .iter()
            .filter(|n| {
                let Ok(subnets) = n.dhcp_subnets() else { return false };
                !subnets.is_empty()
                    && subnets.iter().any(|(s, _)| {
                        n.dhcp_port
                            .as_ref()
                            .is_none_or(|p| !p.fixed_ips.iter().any(|ip| ip.subnet_id == s.id))
                    })
            })
            .map(|n| n.id.clone())
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpPortRequest {
    pub host: String,
    pub network_id: String,
}

/// One heartbeat, as Neutron's `report_state` carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    pub agent_type: String,
    pub binary: String,
    pub host: String,
    pub topic: String,
    /// Shown as the agent's `configurations`: what it serves, and the
    /// problem that stops it, if any (`error`).
    #[serde(default)]
    pub configurations: Value,
    /// True on the first report after the agent started: `started_at`.
    #[serde(default)]
    pub start_flag: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortStatusUpdate {
    pub host: String,
    /// Ports now plugged: `ACTIVE`.
    #[serde(default)]
    pub up: Vec<String>,
    /// Ports bound here but not plugged (admin down, or the host cannot
    /// build them): `DOWN`.
    #[serde(default)]
    pub down: Vec<String>,
    /// Routers built as their spec says: their floating IPs are `ACTIVE`
    /// (Neutron's `update_floatingip_statuses`).
    #[serde(default)]
    pub routers_up: Vec<String>,
    /// Routers that failed: their floating IPs are `DOWN`.
    #[serde(default)]
    pub routers_down: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{DhcpPortSpec, FixedIp, SubnetSpec};

    fn network(dhcp_port: Option<DhcpPortSpec>) -> NetworkSpec {
        NetworkSpec {
            id: "n1".into(),
            mtu: 1450,
            subnets: vec![SubnetSpec {
                id: "s1".into(),
                cidr: "10.0.0.0/24".into(),
                gateway_ip: None,
                dns_nameservers: vec![],
                host_routes: vec![],
                enable_dhcp: true,
            }],
            dhcp_port,
            ports: vec![],
        }
    }

    #[test]
    fn a_dhcp_subnet_without_an_address_of_the_dhcp_port_needs_one() {
        let mut state = HostState {
            networks: vec![network(None)],
            ..HostState::default()
        };
        assert_eq!(state.missing_dhcp_ports(), vec!["n1".to_owned()]);
        let port = DhcpPortSpec {
            id: "p1".into(),
            mac: "fa:16:3e:00:00:01".into(),
            fixed_ips: vec![FixedIp {
                subnet_id: "s1".into(),
                ip_address: "10.0.0.2".parse().unwrap(),
            }],
        };
        state.networks = vec![network(Some(port))];
        assert!(state.missing_dhcp_ports().is_empty());
        state.networks[0].subnets[0].enable_dhcp = false;
        assert!(state.missing_dhcp_ports().is_empty());
    }

    #[test]
    fn messages_keep_their_shape() {
        let sample =
            r#"{"agent_type":"DHCP agent","binary":"oxistack-network-agent","host":"h1","topic":"dhcp_agent"}"#;
        let s: AgentState = serde_json::from_str(sample).unwrap();
        assert!(!s.start_flag);
        assert_eq!(s.configurations, Value::Null);
        let u: PortStatusUpdate = serde_json::from_str(r#"{"host":"h1","up":["a"]}"#).unwrap();
        assert!(u.down.is_empty());
    }
}
