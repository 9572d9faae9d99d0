//! oslo.policy `scope_types` of Keystone's identity rules, as data for
//! `policy::Policy::set_scope_types`.
//!
//! Copied from Keystone 30 (openstack/keystone master at 30ef2ffa, July
//! 2026), `keystone/common/policies/*.py`: the `scope_types` of every
//! `DocumentedRuleDefault`, grouped by the file that defines it (files in
//! alphabetical order, rules in file order). Rules Keystone registers without
//! scope types (the `base.py` building blocks, `identity:get_auth_*`,
//! `identity:list_projects_for_user`, `identity:list_domains_for_user`) are
//! left out: they accept every scope.
//!
//! Keystone enforces them when `[oslo_policy] enforce_scope = True`, the
//! setting its new defaults are written for; oxistack always does: a token
//! whose scope is not listed is refused before the check string is looked
//! at. So a domain-scoped `admin` may not, say, `identity:create_region`
//! (`system`, `project`), although `rule:admin_required` would pass.
//!
//! To compare with Keystone, dump `name` and `scope_types` of
//! `keystone.common.policies.list_rules()`.

use policy::Scope::{self, Domain, Project, System};

const SP: &[Scope] = &[System, Project];
const SDP: &[Scope] = &[System, Domain, Project];
const P: &[Scope] = &[Project];

/// The scope types of every identity rule that has them.
pub const DEFAULT_SCOPE_TYPES: &[(&str, &[Scope])] = &[
    // access_rule.py
    ("identity:get_access_rule", SP),
    ("identity:list_access_rules", SP),
    ("identity:delete_access_rule", SP),
    // access_token.py
    ("identity:authorize_request_token", P),
    ("identity:get_access_token", P),
    ("identity:get_access_token_role", P),
    ("identity:list_access_tokens", P),
    ("identity:list_access_token_roles", P),
    ("identity:delete_access_token", P),
    // application_credential.py
    ("identity:get_application_credential", SP),
    ("identity:list_application_credentials", SP),
    ("identity:create_application_credential", P),
    ("identity:delete_application_credential", SP),
    // consumer.py
    ("identity:get_consumer", SP),
    ("identity:list_consumers", SP),
    ("identity:create_consumer", SP),
    ("identity:update_consumer", SP),
    ("identity:delete_consumer", SP),
    // credential.py
    ("identity:get_credential", SDP),
    ("identity:list_credentials", SDP),
    ("identity:create_credential", SDP),
    ("identity:update_credential", SDP),
    ("identity:delete_credential", SDP),
    // domain.py
    ("identity:get_domain", SDP),
    ("identity:list_domains", SDP),
    ("identity:create_domain", SP),
    ("identity:update_domain", SP),
    ("identity:delete_domain", SP),
    // domain_config.py
    ("identity:create_domain_config", SP),
    ("identity:get_domain_config", SP),
    ("identity:get_security_compliance_domain_config", SDP),
    ("identity:update_domain_config", SP),
    ("identity:delete_domain_config", SP),
    ("identity:get_domain_config_default", SP),
    // ec2_credential.py
    ("identity:ec2_get_credential", SP),
    ("identity:ec2_list_credentials", SP),
    ("identity:ec2_create_credential", SP),
    ("identity:ec2_delete_credential", SP),
    // ec2tokens.py
    ("identity:ec2tokens_validate", SDP),
    // endpoint.py
    ("identity:get_endpoint", SP),
    ("identity:list_endpoints", SP),
    ("identity:create_endpoint", SP),
    ("identity:update_endpoint", SP),
    ("identity:delete_endpoint", SP),
    // endpoint_group.py
    ("identity:create_endpoint_group", SP),
    ("identity:list_endpoint_groups", SP),
    ("identity:get_endpoint_group", SP),
    ("identity:update_endpoint_group", SP),
    ("identity:delete_endpoint_group", SP),
    ("identity:list_projects_associated_with_endpoint_group", SP),
    ("identity:list_endpoints_associated_with_endpoint_group", SP),
    ("identity:get_endpoint_group_in_project", SP),
    ("identity:list_endpoint_groups_for_project", SP),
    ("identity:add_endpoint_group_to_project", SP),
    ("identity:remove_endpoint_group_from_project", SP),
    // grant.py
    ("identity:check_grant", SDP),
    ("identity:list_grants", SDP),
    ("identity:create_grant", SDP),
    ("identity:revoke_grant", SDP),
    ("identity:list_system_grants_for_user", SP),
    ("identity:check_system_grant_for_user", SP),
    ("identity:create_system_grant_for_user", SP),
    ("identity:revoke_system_grant_for_user", SP),
    ("identity:list_system_grants_for_group", SP),
    ("identity:check_system_grant_for_group", SP),
    ("identity:create_system_grant_for_group", SP),
    ("identity:revoke_system_grant_for_group", SP),
    // group.py
    ("identity:get_group", SDP),
    ("identity:list_groups", SDP),
    ("identity:list_groups_for_user", SDP),
    ("identity:create_group", SDP),
    ("identity:update_group", SDP),
    ("identity:delete_group", SDP),
    ("identity:list_users_in_group", SDP),
    ("identity:remove_user_from_group", SDP),
    ("identity:check_user_in_group", SDP),
    ("identity:add_user_to_group", SDP),
    // identity_provider.py
    ("identity:create_identity_provider", SP),
    ("identity:list_identity_providers", SP),
    ("identity:get_identity_provider", SP),
    ("identity:update_identity_provider", SP),
    ("identity:delete_identity_provider", SP),
    // implied_role.py
    ("identity:get_implied_role", SP),
    ("identity:list_implied_roles", SP),
    ("identity:create_implied_role", SP),
    ("identity:delete_implied_role", SP),
    ("identity:list_role_inference_rules", SP),
    ("identity:check_implied_role", SP),
    // limit.py
    ("identity:get_limit_model", SDP),
    ("identity:get_limit", SDP),
    ("identity:list_limits", SDP),
    ("identity:create_limits", SP),
    ("identity:update_limit", SP),
    ("identity:delete_limit", SP),
    // mapping.py
    ("identity:create_mapping", SP),
    ("identity:get_mapping", SP),
    ("identity:list_mappings", SP),
    ("identity:delete_mapping", SP),
    ("identity:update_mapping", SP),
    // policy.py
    ("identity:get_policy", SP),
    ("identity:list_policies", SP),
    ("identity:create_policy", SP),
    ("identity:update_policy", SP),
    ("identity:delete_policy", SP),
    // policy_association.py
    ("identity:create_policy_association_for_endpoint", SP),
    ("identity:check_policy_association_for_endpoint", SP),
    ("identity:delete_policy_association_for_endpoint", SP),
    ("identity:create_policy_association_for_service", SP),
    ("identity:check_policy_association_for_service", SP),
    ("identity:delete_policy_association_for_service", SP),
    ("identity:create_policy_association_for_region_and_service", SP),
    ("identity:check_policy_association_for_region_and_service", SP),
    ("identity:delete_policy_association_for_region_and_service", SP),
    ("identity:get_policy_for_endpoint", SP),
    ("identity:list_endpoints_for_policy", SP),
    // project.py
    ("identity:get_project", SDP),
    ("identity:list_projects", SDP),
    ("identity:list_user_projects", SDP),
    ("identity:create_project", SDP),
    ("identity:update_project", SDP),
    ("identity:delete_project", SDP),
    ("identity:list_project_tags", SDP),
    ("identity:get_project_tag", SDP),
    ("identity:update_project_tags", SDP),
    ("identity:create_project_tag", SDP),
    ("identity:delete_project_tags", SDP),
    ("identity:delete_project_tag", SDP),
    // project_endpoint.py
    ("identity:list_projects_for_endpoint", SP),
    ("identity:add_endpoint_to_project", SP),
    ("identity:check_endpoint_in_project", SP),
    ("identity:list_endpoints_for_project", SP),
    ("identity:remove_endpoint_from_project", SP),
    // protocol.py
    ("identity:create_protocol", SP),
    ("identity:update_protocol", SP),
    ("identity:get_protocol", SP),
    ("identity:list_protocols", SP),
    ("identity:delete_protocol", SP),
    // region.py
    ("identity:get_region", SDP),
    ("identity:list_regions", SDP),
    ("identity:create_region", SP),
    ("identity:update_region", SP),
    ("identity:delete_region", SP),
    // registered_limit.py
    ("identity:get_registered_limit", SDP),
    ("identity:list_registered_limits", SDP),
    ("identity:create_registered_limits", SP),
    ("identity:update_registered_limit", SP),
    ("identity:delete_registered_limit", SP),
    // revoke_event.py
    ("identity:list_revoke_events", SP),
    // role.py
    ("identity:get_role", SDP),
    ("identity:list_roles", SDP),
    ("identity:create_role", SP),
    ("identity:update_role", SP),
    ("identity:delete_role", SP),
    ("identity:get_domain_role", SP),
    ("identity:list_domain_roles", SP),
    ("identity:create_domain_role", SP),
    ("identity:update_domain_role", SP),
    ("identity:delete_domain_role", SP),
    // role_assignment.py
    ("identity:list_role_assignments", SDP),
    ("identity:list_role_assignments_for_tree", SDP),
    // s3tokens.py
    ("identity:s3tokens_validate", SDP),
    // service.py
    ("identity:get_service", SP),
    ("identity:list_services", SP),
    ("identity:create_service", SP),
    ("identity:update_service", SP),
    ("identity:delete_service", SP),
    // service_provider.py
    ("identity:create_service_provider", SP),
    ("identity:list_service_providers", SP),
    ("identity:get_service_provider", SP),
    ("identity:update_service_provider", SP),
    ("identity:delete_service_provider", SP),
    // token.py
    ("identity:check_token", SDP),
    ("identity:validate_token", SDP),
    ("identity:revoke_token", SDP),
    // token_revocation.py
    ("identity:revocation_list", SP),
    // trust.py
    ("identity:create_trust", P),
    ("identity:list_trusts", SP),
    ("identity:list_trusts_for_trustor", SP),
    ("identity:list_trusts_for_trustee", SP),
    ("identity:list_roles_for_trust", SP),
    ("identity:get_role_for_trust", SP),
    ("identity:delete_trust", SP),
    ("identity:get_trust", SP),
    // user.py
    ("identity:get_user", SDP),
    ("identity:list_users", SDP),
    ("identity:create_user", SDP),
    ("identity:update_user", SDP),
    ("identity:delete_user", SDP),
];

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::DEFAULT_SCOPE_TYPES;

    fn policy() -> policy::Policy {
        let mut p = policy::Policy::new(crate::policy::DEFAULT_RULES).unwrap();
        p.set_scope_types(DEFAULT_SCOPE_TYPES).unwrap();
        p
    }

    fn admin(scope: serde_json::Value) -> serde_json::Value {
        let mut creds = json!({"user_id": "u", "roles": ["admin", "member", "reader"], "is_admin": false});
        for (k, v) in scope.as_object().unwrap() {
            creds[k] = v.clone();
        }
        creds
    }

    #[test]
    fn every_entry_names_a_default_rule_once() {
        let names: Vec<&str> = crate::policy::DEFAULT_RULES.iter().map(|(n, _)| *n).collect();
        let mut seen = std::collections::HashSet::new();
        for (name, scopes) in DEFAULT_SCOPE_TYPES {
            assert!(names.contains(name), "{name} is not a default rule");
            assert!(seen.insert(*name), "{name} twice");
            assert!(!scopes.is_empty(), "{name}");
        }
        assert_eq!(DEFAULT_SCOPE_TYPES.len(), 188);
    }

    #[test]
    fn a_domain_admin_may_not_create_regions_but_a_project_admin_may() {
        let p = policy();
        let domain_admin = admin(json!({"domain_id": "d1"}));
        let project_admin = admin(json!({"project_id": "p1", "project_domain_id": "default"}));
        let system_admin = admin(json!({"system_scope": "all"}));
        assert!(!p.enforce("identity:create_region", &json!({}), &domain_admin));
        assert!(p.enforce("identity:create_region", &json!({}), &project_admin));
        assert!(p.enforce("identity:create_region", &json!({}), &system_admin));
        // A rule open to every scope still takes a domain admin.
        assert!(p.enforce(
            "identity:list_users",
            &json!({"target": {"domain_id": "d1"}}),
            &domain_admin
        ));
        // OAuth1 access tokens are project-scoped only.
        assert!(!p.enforce("identity:list_access_tokens", &json!({}), &system_admin));
    }
}
