//! Placement's default policy rules (placement/policies/*.py, the
//! secure-RBAC defaults of Placement 2023.1+), fed to the `policy` crate.
//!
//! Almost everything is `admin_or_service_api` (`role:admin or
//! role:service`): Placement is an admin's and the services' API. The one
//! exception is `placement:usages` (`GET /usages?project_id=`), which a
//! reader of the project may also call; its target is `{"project_id": <the
//! queried project>}`. As in Placement, every rule is for project-scoped
//! tokens.

/// `(name, check string)` pairs.
pub fn default_rules() -> Vec<(&'static str, &'static str)> {
    let admin_or_service = "rule:admin_or_service_api";
    let mut rules = vec![
        ("admin_api", "role:admin"),
        ("service_api", "role:service"),
        ("admin_or_service_api", "role:admin or role:service"),
        ("project_reader_api", "role:reader and project_id:%(project_id)s"),
        (
            "admin_or_project_reader_or_service_api",
            "role:admin or rule:project_reader_api or role:service",
        ),
        ("placement:usages", "rule:admin_or_project_reader_or_service_api"),
    ];
    for name in ADMIN_OR_SERVICE {
        rules.push((name, admin_or_service));
    }
    rules
}

/// The rules whose default is `admin_or_service_api`.
pub const ADMIN_OR_SERVICE: &[&str] = &[
    "placement:resource_providers:list",
    "placement:resource_providers:create",
    "placement:resource_providers:show",
    "placement:resource_providers:update",
    "placement:resource_providers:delete",
    "placement:resource_providers:inventories:list",
    "placement:resource_providers:inventories:create",
    "placement:resource_providers:inventories:show",
    "placement:resource_providers:inventories:update",
    "placement:resource_providers:inventories:delete",
    "placement:resource_providers:aggregates:list",
    "placement:resource_providers:aggregates:update",
    "placement:resource_providers:usages",
    "placement:resource_providers:allocations:list",
    "placement:resource_providers:traits:list",
    "placement:resource_providers:traits:update",
    "placement:resource_providers:traits:delete",
    "placement:resource_classes:list",
    "placement:resource_classes:create",
    "placement:resource_classes:show",
    "placement:resource_classes:update",
    "placement:resource_classes:delete",
    "placement:traits:list",
    "placement:traits:show",
    "placement:traits:update",
    "placement:traits:delete",
    "placement:allocations:list",
    "placement:allocations:manage",
    "placement:allocations:update",
    "placement:allocations:delete",
    "placement:allocation_candidates:list",
];

/// The policy with the defaults; `scope_types` project for every rule.
pub fn build(overrides: Option<&std::path::Path>) -> Result<::policy::Policy, ::policy::PolicyError> {
    let rules = default_rules();
    let mut policy = ::policy::Policy::new(&rules)?;
    let project: &[::policy::Scope] = &[::policy::Scope::Project];
    let scoped: Vec<(&str, &[::policy::Scope])> = rules.iter().map(|(name, _)| (*name, project)).collect();
    policy.set_scope_types(&scoped)?;
    if let Some(path) = overrides {
        policy.load_overrides_file(path)?;
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn admin_and_service_only_readers_see_their_usages() {
        let p = super::build(None).unwrap();
        let admin = json!({"roles": ["admin", "member", "reader"], "project_id": "p9"});
        let service = json!({"roles": ["service"], "project_id": "svc"});
        let member = json!({"roles": ["member", "reader"], "project_id": "p1"});
        let empty = json!({});
        for action in ["placement:resource_providers:create", "placement:allocations:update"] {
            assert!(p.enforce(action, &empty, &admin));
            assert!(p.enforce(action, &empty, &service));
            assert!(!p.enforce(action, &empty, &member));
        }
        assert!(p.enforce("placement:usages", &json!({"project_id": "p1"}), &member));
        assert!(!p.enforce("placement:usages", &json!({"project_id": "p2"}), &member));
    }
}
