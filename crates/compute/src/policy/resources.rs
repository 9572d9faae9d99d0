//! Rules of flavors, keypairs, availability zones, aggregates,
//! hypervisors, services and extensions (Nova 2024.x secure-RBAC
//! defaults: `nova/policies/{flavor_manage,flavor_extra_specs,
//! flavor_access,keypairs,availability_zone,aggregates,hypervisors,
//! services,extensions}.py`). Quotas and limits are with the servers'
//! rules.

const ADMIN: &str = "rule:context_is_admin";
const PROJECT_READER_OR_ADMIN: &str = "rule:project_reader_or_admin";
const ADMIN_OR_OWNER: &str = "(rule:context_is_admin) or user_id:%(user_id)s";

pub(super) fn rules() -> Vec<(&'static str, String)> {
    let mut rules: Vec<(&'static str, String)> = Vec::new();
    let mut add = |names: &[&'static str], rule: &str| {
        for n in names {
            rules.push((n, rule.to_owned()));
        }
    };
    add(
        &[
            "os_compute_api:os-flavor-manage:create",
            "os_compute_api:os-flavor-manage:update",
            "os_compute_api:os-flavor-manage:delete",
            "os_compute_api:os-flavor-extra-specs:create",
            "os_compute_api:os-flavor-extra-specs:update",
            "os_compute_api:os-flavor-extra-specs:delete",
            "os_compute_api:os-flavor-access",
            "os_compute_api:os-flavor-access:add_tenant_access",
            "os_compute_api:os-flavor-access:remove_tenant_access",
            "os_compute_api:os-availability-zone:detail",
            "os_compute_api:os-aggregates:index",
            "os_compute_api:os-aggregates:create",
            "os_compute_api:os-aggregates:show",
            "os_compute_api:os-aggregates:update",
            "os_compute_api:os-aggregates:delete",
            "os_compute_api:os-aggregates:add_host",
            "os_compute_api:os-aggregates:remove_host",
            "os_compute_api:os-aggregates:set_metadata",
            "os_compute_api:os-hypervisors:list",
            "os_compute_api:os-hypervisors:list-detail",
            "os_compute_api:os-hypervisors:statistics",
            "os_compute_api:os-hypervisors:show",
            "os_compute_api:os-hypervisors:uptime",
            "os_compute_api:os-hypervisors:search",
            "os_compute_api:os-hypervisors:servers",
            "os_compute_api:os-services:list",
            "os_compute_api:os-services:update",
            "os_compute_api:os-services:delete",
            "os_compute_api:os-hosts:list",
            "os_compute_api:os-hosts:show",
            "os_compute_api:os-hosts:update",
            "os_compute_api:os-hosts:reboot",
            "os_compute_api:os-hosts:shutdown",
            "os_compute_api:os-hosts:startup",
        ],
        ADMIN,
    );
    add(
        &[
            "os_compute_api:os-flavor-extra-specs:index",
            "os_compute_api:os-flavor-extra-specs:show",
            "os_compute_api:os-availability-zone:list",
        ],
        PROJECT_READER_OR_ADMIN,
    );
    add(
        &[
            "os_compute_api:os-keypairs:index",
            "os_compute_api:os-keypairs:create",
            "os_compute_api:os-keypairs:show",
            "os_compute_api:os-keypairs:delete",
        ],
        ADMIN_OR_OWNER,
    );
    add(&["os_compute_api:extensions"], "@");
    rules
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn policy() -> ::policy::Policy {
        let rules = super::super::default_rules();
        let pairs: Vec<(&str, &str)> = rules.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ::policy::Policy::new(&pairs).unwrap()
    }

    #[test]
    fn admin_only_and_owner_rules() {
        let p = policy();
        let member = json!({"roles": ["member", "reader"], "project_id": "p1", "user_id": "u1"});
        let admin = json!({"roles": ["admin", "member", "reader"], "project_id": "p9", "user_id": "u9"});
        let own = json!({"project_id": "p1", "user_id": "u1"});
        assert!(!p.enforce("os_compute_api:os-flavor-manage:create", &own, &member));
        assert!(p.enforce("os_compute_api:os-flavor-manage:create", &own, &admin));
        assert!(p.enforce("os_compute_api:os-keypairs:create", &own, &member));
        let other = json!({"project_id": "p1", "user_id": "u2"});
        assert!(!p.enforce("os_compute_api:os-keypairs:index", &other, &member));
        assert!(p.enforce("os_compute_api:os-keypairs:index", &other, &admin));
        assert!(p.enforce("os_compute_api:os-availability-zone:list", &own, &member));
        assert!(p.enforce("os_compute_api:os-flavor-extra-specs:index", &own, &member));
        assert!(!p.enforce("os_compute_api:os-services:list", &own, &member));
    }
}
