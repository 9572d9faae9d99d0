//! Keystone's rules as real-world input: a few of Keystone 30's default
//! rules (copied verbatim from `keystone/common/policies/`; the identity
//! crate's `policy.rs` holds all of them and tests that they parse) and the
//! decisions Keystone makes with them, for credentials shaped as
//! `api::AuthContext` builds them.

use policy::Policy;
use serde_json::{Value, json};

/// Keystone 30's check strings for the rules these tests exercise.
const KEYSTONE_RULES: &[(&str, &str)] = &[
    ("admin_required", "role:admin or is_admin:1"),
    ("service_role", "role:service"),
    ("service_or_admin", "rule:admin_required or rule:service_role"),
    ("owner", "user_id:%(user_id)s"),
    ("admin_or_owner", "rule:admin_required or rule:owner"),
    ("token_subject", "user_id:%(target.token.user_id)s"),
    ("admin_or_token_subject", "rule:admin_required or rule:token_subject"),
    (
        "domain_managed_target_role",
        "'manager':%(target.role.name)s or 'member':%(target.role.name)s or \
         'reader':%(target.role.name)s",
    ),
    (
        "identity:get_user",
        "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and \
         token.domain.id:%(target.user.domain_id)s) or user_id:%(target.user.id)s",
    ),
    (
        "identity:list_users",
        "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and \
         domain_id:%(target.domain_id)s)",
    ),
    (
        "identity:create_user",
        "(rule:admin_required) or (role:manager and token.domain.id:%(target.user.domain_id)s)",
    ),
    (
        "identity:get_project",
        "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and \
         domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s) or \
         project_id:%(target.project.id)s",
    ),
    (
        "identity:create_grant",
        "(rule:admin_required) or ((role:admin and domain_id:%(target.user.domain_id)s and \
         domain_id:%(target.project.domain_id)s) or (role:admin and \
         domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:admin \
         and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or \
         (role:admin and domain_id:%(target.group.domain_id)s and \
         domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or \
         None:%(target.role.domain_id)s) or ((role:manager and \
         domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or \
         (role:manager and domain_id:%(target.user.domain_id)s and \
         domain_id:%(target.domain.id)s) or (role:manager and \
         domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or \
         (role:manager and domain_id:%(target.group.domain_id)s and \
         domain_id:%(target.domain.id)s)) and rule:domain_managed_target_role",
    ),
    (
        "identity:validate_token",
        "rule:admin_required or (role:reader and system_scope:all) or rule:service_role or \
         rule:token_subject",
    ),
    ("identity:list_projects_for_user", ""),
];

fn keystone() -> Policy {
    Policy::new(KEYSTONE_RULES).expect("Keystone's rules parse")
}

/// Credentials for user `u1` (domain `default`) with `roles`, scoped to
/// project `p1` of domain `default`, to domain `default`, or to the system.
fn creds(roles: &[&str], scope: &str) -> Value {
    let mut creds = json!({
        "user_id": "u1",
        "user_domain_id": "default",
        "project_id": null,
        "project_domain_id": null,
        "domain_id": null,
        "system_scope": null,
        "roles": roles,
        "is_admin": false,
        "is_admin_project": false,
        "service_user_id": null,
        "service_roles": [],
        "token": {
            "user": {"id": "u1", "domain": {"id": "default"}},
            "roles": roles.iter().map(|r| json!({"name": r})).collect::<Vec<_>>(),
        },
    });
    match scope {
        "project" => {
            creds["project_id"] = json!("p1");
            creds["project_domain_id"] = json!("default");
            creds["is_admin_project"] = json!(true);
            creds["token"]["project"] = json!({"id": "p1", "domain": {"id": "default"}});
        }
        "domain" => {
            creds["domain_id"] = json!("default");
            creds["token"]["domain"] = json!({"id": "default"});
        }
        "system" => {
            creds["system_scope"] = json!("all");
            creds["token"]["system"] = json!({"all": true});
        }
        other => panic!("unknown scope {other}"),
    }
    creds
}

fn project_admin() -> Value {
    creds(&["admin", "manager", "member", "reader"], "project")
}

fn project_member() -> Value {
    creds(&["member", "reader"], "project")
}

fn system_reader() -> Value {
    creds(&["reader"], "system")
}

fn domain_manager() -> Value {
    creds(&["manager", "member", "reader"], "domain")
}

/// A grant of `role` (a global role) to a user of domain `default` on a
/// project of domain `default`, as Keystone's grant API builds the target.
fn grant_target(role: &str) -> Value {
    json!({"target": {
        "user": {"id": "u2", "domain_id": "default"},
        "project": {"id": "p1", "domain_id": "default"},
        "role": {"name": role, "domain_id": null},
    }})
}

#[test]
fn the_rules_parse_and_are_kept_verbatim() {
    let policy = keystone();
    for (name, check) in KEYSTONE_RULES {
        assert_eq!(policy.rule(name).as_deref(), Some(*check));
    }
    assert_eq!(policy.rule_names().count(), KEYSTONE_RULES.len());
}

#[test]
fn list_users() {
    let policy = keystone();
    // Keystone passes no target for project- and system-scoped listings.
    let target = json!({});
    assert!(policy.enforce("identity:list_users", &target, &project_admin()));
    assert!(!policy.enforce("identity:list_users", &target, &project_member()));
    assert!(policy.enforce("identity:list_users", &target, &system_reader()));
    // A domain reader lists its own domain's users only.
    let reader = creds(&["reader"], "domain");
    let own = json!({"target": {"domain_id": "default"}});
    let other = json!({"target": {"domain_id": "other"}});
    assert!(policy.enforce("identity:list_users", &own, &reader));
    assert!(!policy.enforce("identity:list_users", &other, &reader));
}

#[test]
fn create_user() {
    let policy = keystone();
    let in_default = json!({"target": {"user": {"domain_id": "default"}}});
    let in_other = json!({"target": {"user": {"domain_id": "other"}}});
    assert!(policy.enforce("identity:create_user", &in_default, &project_admin()));
    assert!(!policy.enforce("identity:create_user", &in_default, &system_reader()));
    assert!(!policy.enforce("identity:create_user", &in_default, &project_member()));
    assert!(policy.enforce("identity:create_user", &in_default, &domain_manager()));
    assert!(!policy.enforce("identity:create_user", &in_other, &domain_manager()));
}

#[test]
fn get_project() {
    let policy = keystone();
    let own = json!({"target": {"project": {"id": "p1", "domain_id": "default"}}});
    let other = json!({"target": {"project": {"id": "p2", "domain_id": "default"}}});
    assert!(policy.enforce("identity:get_project", &own, &project_member()));
    assert!(!policy.enforce("identity:get_project", &other, &project_member()));
    assert!(policy.enforce("identity:get_project", &other, &project_admin()));
    assert!(policy.enforce("identity:get_project", &other, &system_reader()));
    // Keystone's flattened target shape decides the same.
    let flat = json!({"target.project.id": "p1", "target.project.domain_id": "default"});
    assert!(policy.enforce("identity:get_project", &flat, &project_member()));
}

#[test]
fn get_user() {
    let policy = keystone();
    let me = json!({"target": {"user": {"id": "u1", "domain_id": "default"}}});
    let someone = json!({"target": {"user": {"id": "u2", "domain_id": "default"}}});
    assert!(policy.enforce("identity:get_user", &me, &project_member()));
    assert!(!policy.enforce("identity:get_user", &someone, &project_member()));
    assert!(policy.enforce("identity:get_user", &someone, &creds(&["reader"], "domain")));
}

#[test]
fn create_grant() {
    let policy = keystone();
    assert!(!policy.enforce("identity:create_grant", &grant_target("member"), &project_member()));
    assert!(policy.enforce("identity:create_grant", &grant_target("admin"), &project_admin()));
    assert!(!policy.enforce("identity:create_grant", &grant_target("admin"), &system_reader()));
    // A domain manager hands out manager, member and reader, never admin.
    assert!(policy.enforce("identity:create_grant", &grant_target("member"), &domain_manager()));
    assert!(!policy.enforce("identity:create_grant", &grant_target("admin"), &domain_manager()));
    let mut elsewhere = grant_target("member");
    elsewhere["target"]["project"]["domain_id"] = json!("other");
    assert!(!policy.enforce("identity:create_grant", &elsewhere, &domain_manager()));
}

#[test]
fn validate_token() {
    let policy = keystone();
    let mine = json!({"target": {"token": {"user_id": "u1"}}});
    let theirs = json!({"target": {"token": {"user_id": "u2"}}});
    assert!(policy.enforce("identity:validate_token", &mine, &project_member()));
    assert!(!policy.enforce("identity:validate_token", &theirs, &project_member()));
    assert!(policy.enforce("identity:validate_token", &theirs, &creds(&["service"], "project")));
    assert!(policy.enforce("identity:validate_token", &theirs, &system_reader()));
    assert!(policy.enforce("identity:list_projects_for_user", &json!({}), &project_member()));
}

#[test]
fn operators_can_tighten_a_rule() {
    let mut policy = keystone();
    policy
        .apply_overrides_yaml("\"identity:get_project\": \"rule:admin_required\"\n")
        .unwrap();
    let own = json!({"target": {"project": {"id": "p1", "domain_id": "default"}}});
    assert!(!policy.enforce("identity:get_project", &own, &project_member()));
    assert!(policy.enforce("identity:get_project", &own, &project_admin()));
}
