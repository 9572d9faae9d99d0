//! Settings of the network service, with Neutron's option names where
//! they exist.

use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// The URL clients reach this service at, e.g. `http://127.0.0.1:9696`.
    pub public_url: String,
    /// `[oslo_policy] policy_file`: overrides of the default rules.
    pub policy_file: Option<PathBuf>,
    /// Limit of JSON request bodies.
    pub max_request_body_size: usize,
    /// `[DEFAULT] global_physnet_mtu`: the MTU of the physical networks;
    /// VXLAN networks get it minus the 50 bytes of encapsulation.
    pub global_physnet_mtu: i64,
    /// `[ml2] tenant_network_types` (first entry): the type of networks
    /// created without `provider:network_type`.
    pub tenant_network_type: String,
    /// `[ml2_type_vxlan] vni_ranges`: the VNIs handed to tenant networks.
    pub vni_ranges: Vec<(i64, i64)>,
    /// `[ml2_type_flat] flat_networks`: physical networks flat networks may
    /// use; `*` allows any.
    pub flat_networks: Vec<String>,
    /// `[DEFAULT] max_dns_nameservers`.
    pub max_dns_nameservers: usize,
    /// `[DEFAULT] max_subnet_host_routes`.
    pub max_subnet_host_routes: usize,
    /// `[DEFAULT] max_allowed_address_pair`.
    pub max_allowed_address_pair: usize,
    /// `[DEFAULT] base_mac`: the first three bytes of generated MACs.
    pub base_mac: [u8; 3],
    /// `[DEFAULT] pagination_max_limit`; `None` is unlimited.
    pub pagination_max_limit: Option<usize>,
    /// `[quotas] quota_*`: the defaults, per resource.
    pub default_quotas: Vec<(&'static str, i64)>,
    /// `[DEFAULT] agent_down_time`: an agent silent for longer is not alive.
    pub agent_down_time: std::time::Duration,
}

impl NetworkConfig {
    /// Defaults as Neutron ships them (ML2 with VXLAN tenant networks, as
    /// devstack configures it).
    pub fn new(public_url: impl Into<String>) -> Self {
        NetworkConfig {
            public_url: public_url.into(),
            policy_file: None,
            max_request_body_size: 1 << 20,
            global_physnet_mtu: 1500,
            tenant_network_type: "vxlan".into(),
            vni_ranges: vec![(1, 1000)],
            flat_networks: vec!["*".into()],
            max_dns_nameservers: 5,
            max_subnet_host_routes: 20,
            max_allowed_address_pair: 10,
            base_mac: [0xfa, 0x16, 0x3e],
            pagination_max_limit: None,
            default_quotas: crate::quotas::NEUTRON_DEFAULTS.to_vec(),
            agent_down_time: crate::agents::default_down_time(),
        }
    }
}
