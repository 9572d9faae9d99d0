//! Neutron's default policy rules (neutron/conf/policies/*.py, the
//! secure-RBAC defaults Neutron enforces since 2024.1), fed to the
//! `policy` crate, under Neutron's rule names so that an operator's
//! `policy.yaml` overrides the same names.
//!
//! Targets: the resource's attributes (`project_id`, `tenant_id`, …) and,
//! for subnets and ports, the parent network's as `network:project_id`
//! and `network:shared`, as Neutron adds them. Two kinds of Neutron rule
//! are not in the oslo language the `policy` crate speaks and are decided
//! by the handlers instead: `field:networks:shared=True` (what a caller
//! may *see* is decided by the visibility rule of the domain: own
//! resources, shared and external networks, everything for admins and
//! services) and the `network:` device-owner regex (the handler asks
//! `create_port:device_owner` only for owners starting with `network:`).
//!
//! One default differs from Neutron's newest: choosing a floating IP's
//! address (`create_floatingip:floating_ip_address`) is an admin's here,
//! where Neutron also lets a project *manager* do it, a role the identity
//! service does not bootstrap.

/// `(name, check string)` pairs.
pub fn default_rules() -> Vec<(&'static str, &'static str)> {
    let admin = "rule:admin_only";
    let admin_or_service = "rule:admin_or_service";
    let member = "rule:admin_or_project_member";
    let net_owner = "rule:admin_or_net_owner_member or rule:service_api";
    let port_writer = "rule:admin_or_project_member or rule:admin_or_net_owner_member or rule:service_api";
    let mut rules = vec![
        ("context_is_admin", "role:admin"),
        ("service_api", "role:service"),
        ("admin_only", "rule:context_is_admin"),
        ("admin_or_service", "rule:context_is_admin or rule:service_api"),
        ("project_member", "role:member and project_id:%(project_id)s"),
        ("project_reader", "role:reader and project_id:%(project_id)s"),
        ("network_owner", "project_id:%(network:project_id)s"),
        ("shared", "True:%(network:shared)s"),
        (
            "admin_or_project_member",
            "rule:context_is_admin or rule:project_member",
        ),
        (
            "admin_or_project_reader",
            "rule:context_is_admin or rule:project_reader",
        ),
        (
            "admin_or_net_owner_member",
            "rule:context_is_admin or (role:member and rule:network_owner)",
        ),
        ("create_network", member),
        ("update_network", member),
        ("delete_network", member),
        ("create_network:port_security_enabled", member),
        ("update_network:port_security_enabled", member),
        ("create_subnet", "rule:admin_or_net_owner_member"),
        (
            "update_subnet",
            "rule:admin_or_project_member or rule:admin_or_net_owner_member",
        ),
        (
            "delete_subnet",
            "rule:admin_or_project_member or rule:admin_or_net_owner_member",
        ),
        ("create_port", port_writer),
        ("update_port", port_writer),
        ("delete_port", port_writer),
        ("create_port:device_owner", net_owner),
        ("update_port:device_owner", net_owner),
        ("create_port:mac_address", net_owner),
        ("update_port:mac_address", admin_or_service),
        ("create_port:fixed_ips:ip_address", net_owner),
        ("update_port:fixed_ips:ip_address", net_owner),
        (
            "create_port:fixed_ips:subnet_id",
            "rule:admin_or_net_owner_member or rule:shared or rule:service_api",
        ),
        (
            "update_port:fixed_ips:subnet_id",
            "rule:admin_or_net_owner_member or rule:shared or rule:service_api",
        ),
        ("create_port:port_security_enabled", net_owner),
        ("update_port:port_security_enabled", net_owner),
        ("create_port:allowed_address_pairs", net_owner),
        ("update_port:allowed_address_pairs", net_owner),
        ("create_port:binding:vnic_type", port_writer),
        ("update_port:binding:vnic_type", port_writer),
        ("create_security_group", member),
        ("update_security_group", member),
        ("delete_security_group", member),
        ("create_security_group_rule", member),
        ("delete_security_group_rule", member),
        ("create_router", member),
        ("update_router", member),
        ("delete_router", member),
        ("create_router:external_gateway_info", member),
        ("create_router:external_gateway_info:network_id", member),
        ("update_router:external_gateway_info", member),
        ("update_router:external_gateway_info:network_id", member),
        ("add_router_interface", member),
        ("remove_router_interface", member),
        ("create_floatingip", member),
        ("update_floatingip", member),
        ("delete_floatingip", member),
        ("get_network_ip_availability", admin_or_service),
        ("get_quota", "rule:admin_or_project_reader"),
        ("update_quota", admin),
        ("delete_quota", admin),
        ("get_agent", admin),
        ("update_agent", admin),
        ("delete_agent", admin),
    ];
    for name in ADMIN_ONLY {
        rules.push((name, admin));
    }
    for name in ADMIN_OR_SERVICE {
        rules.push((name, admin_or_service));
    }
    rules
}

/// Provider and external-network attributes, a router's SNAT mode and
/// gateway addresses, DVR and HA, a chosen floating address: set (and
/// for some, seen) by admins.
pub const ADMIN_ONLY: &[&str] = &[
    "create_network:shared",
    "update_network:shared",
    "create_network:router:external",
    "update_network:router:external",
    "create_network:provider:network_type",
    "create_network:provider:physical_network",
    "create_network:provider:segmentation_id",
    "update_network:provider:network_type",
    "update_network:provider:physical_network",
    "update_network:provider:segmentation_id",
    "get_network:provider:network_type",
    "get_network:provider:physical_network",
    "get_network:provider:segmentation_id",
    "create_router:external_gateway_info:enable_snat",
    "create_router:external_gateway_info:external_fixed_ips",
    "update_router:external_gateway_info:enable_snat",
    "update_router:external_gateway_info:external_fixed_ips",
    "create_router:distributed",
    "create_router:ha",
    "update_router:distributed",
    "update_router:ha",
    "get_router:distributed",
    "get_router:ha",
    "create_floatingip:floating_ip_address",
];

/// Port bindings: written by the compute service, seen by admins.
pub const ADMIN_OR_SERVICE: &[&str] = &[
    "create_port:binding:host_id",
    "update_port:binding:host_id",
    "create_port:binding:profile",
    "update_port:binding:profile",
    "get_port:binding:host_id",
    "get_port:binding:profile",
    "get_port:binding:vif_type",
    "get_port:binding:vif_details",
];

/// The policy with the defaults and the operator's overrides.
pub fn build(overrides: Option<&std::path::Path>) -> Result<::policy::Policy, ::policy::PolicyError> {
    let mut policy = ::policy::Policy::new(&default_rules())?;
    if let Some(path) = overrides {
        policy.load_overrides_file(path)?;
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn members_own_admins_everything_shared_networks_take_ports() {
        let p = super::build(None).unwrap();
        let admin = json!({"roles": ["admin", "member", "reader"], "project_id": "p9"});
        let member = json!({"roles": ["member", "reader"], "project_id": "p1"});
        let reader = json!({"roles": ["reader"], "project_id": "p1"});
        let own = json!({"project_id": "p1", "tenant_id": "p1"});
        let other = json!({"project_id": "p2", "tenant_id": "p2"});
        assert!(p.enforce("create_network", &own, &member));
        assert!(!p.enforce("create_network", &own, &reader));
        assert!(!p.enforce("create_network", &other, &member));
        assert!(p.enforce("create_network", &other, &admin));
        assert!(!p.enforce("create_network:shared", &own, &member));
        assert!(p.enforce("create_network:shared", &own, &admin));
        let on_shared = json!({"project_id": "p1", "network:project_id": "p2", "network:shared": true});
        let on_private = json!({"project_id": "p1", "network:project_id": "p2", "network:shared": false});
        assert!(p.enforce("create_port:fixed_ips:subnet_id", &on_shared, &member));
        assert!(!p.enforce("create_port:fixed_ips:subnet_id", &on_private, &member));
        assert!(!p.enforce("create_port:fixed_ips:ip_address", &on_shared, &member));
        assert!(!p.enforce("create_subnet", &on_shared, &member));
        let on_own = json!({"project_id": "p1", "network:project_id": "p1", "network:shared": false});
        assert!(p.enforce("create_subnet", &on_own, &member));
        assert!(p.enforce("get_quota", &own, &reader));
        assert!(p.enforce("create_router", &own, &member));
        assert!(!p.enforce("create_router:external_gateway_info:enable_snat", &own, &member));
        assert!(p.enforce("create_router:external_gateway_info:network_id", &own, &member));
        assert!(!p.enforce("create_floatingip:floating_ip_address", &own, &member));
        assert!(p.enforce("create_floatingip:floating_ip_address", &own, &admin));
        assert!(!p.enforce("get_network_ip_availability", &own, &member));
        assert!(p.enforce("get_network_ip_availability", &own, &admin));
        assert!(!p.enforce("update_quota", &own, &member));
    }
}
