//! Nova's default policy rules (the secure-RBAC defaults of Nova 2024.x),
//! fed to the `policy` crate. The target of a rule is the resource's
//! `project_id` (and `user_id` where Nova uses it).

mod resources;
mod servers;

/// `(name, check string)` pairs.
pub fn default_rules() -> Vec<(&'static str, String)> {
    let mut rules = vec![
        ("context_is_admin", "role:admin".to_owned()),
        ("admin_api", "role:admin".to_owned()),
        (
            "project_member_api",
            "role:member and project_id:%(project_id)s".to_owned(),
        ),
        (
            "project_reader_api",
            "role:reader and project_id:%(project_id)s".to_owned(),
        ),
        (
            "project_member_or_admin",
            "rule:project_member_api or rule:context_is_admin".to_owned(),
        ),
        (
            "project_reader_or_admin",
            "rule:project_reader_api or rule:context_is_admin".to_owned(),
        ),
    ];
    rules.extend(resources::rules());
    rules.extend(servers::rules());
    rules
}
