//! Tests of the public behaviour: rules in, decisions out.

use serde_json::{Value, json};

use super::*;

/// A policy with one rule, `t`, holding `check`.
fn one(check: &str) -> Policy {
    Policy::new(&[("t", check)]).unwrap_or_else(|e| panic!("{check:?} should parse: {e}"))
}

fn allows(check: &str, target: &Value, creds: &Value) -> bool {
    one(check).enforce("t", target, creds)
}

fn member() -> Value {
    json!({
        "user_id": "u1",
        "user_domain_id": "default",
        "project_id": "p1",
        "project_domain_id": "default",
        "domain_id": null,
        "system_scope": null,
        "roles": ["Member", "reader"],
        "is_admin": false,
        "token": {
            "user": {"id": "u1", "domain": {"id": "default"}},
            "project": {"id": "p1", "domain": {"id": "default"}},
            "roles": [{"id": "r1", "name": "member"}, {"id": "r2", "name": "reader"}]
        }
    })
}

#[test]
fn always_never_and_empty() {
    let no_target = json!({});
    assert!(allows("@", &no_target, &json!({})));
    assert!(allows("", &no_target, &json!({})));
    assert!(!allows("!", &no_target, &member()));
    assert!(!allows("(!)", &no_target, &member()));
}

#[test]
fn roles_compare_case_insensitively() {
    let t = json!({});
    assert!(allows("role:member", &t, &member()));
    assert!(allows("role:MEMBER", &t, &member()));
    assert!(allows("role:Reader", &t, &member()));
    assert!(!allows("role:admin", &t, &member()));
    assert!(!allows("role:member", &t, &json!({"roles": []})));
    assert!(!allows("role:member", &t, &json!({})));
    // A role name may come from the target.
    assert!(allows("role:%(wanted)s", &json!({"wanted": "READER"}), &member()));
    assert!(!allows("role:%(wanted)s", &json!({}), &member()));
}

#[test]
fn and_or_not() {
    let t = json!({});
    let c = member();
    assert!(allows("role:member and role:reader", &t, &c));
    assert!(!allows("role:member and role:admin", &t, &c));
    assert!(!allows("role:admin and role:member", &t, &c));
    assert!(allows("role:admin or role:member", &t, &c));
    assert!(allows("role:member or role:admin", &t, &c));
    assert!(!allows("role:admin or role:service", &t, &c));
    assert!(allows("not role:admin", &t, &c));
    assert!(!allows("not role:member", &t, &c));
    assert!(allows("not not role:member", &t, &c));
    assert!(allows("role:member AND NOT role:admin", &t, &c));
}

#[test]
fn precedence_is_not_then_and_then_or() {
    let t = json!({});
    let c = member();
    // or(@, and(!, !)): true; with or binding tighter it would be false.
    assert!(allows("@ or ! and !", &t, &c));
    // or(and(!, !), @): true.
    assert!(allows("! and ! or @", &t, &c));
    // and(not @, !) or @ — `not` applies to `@` alone.
    assert!(!allows("not @ and @", &t, &c));
    assert!(allows("not (@ and !)", &t, &c));
    assert!(!allows("(@ or !) and !", &t, &c));
    assert!(allows("@ or (! and !)", &t, &c));
    assert!(!allows("! or ! and @", &t, &c));
}

#[test]
fn generic_checks_walk_the_credentials() {
    let t = json!({});
    let c = member();
    assert!(allows("user_id:u1", &t, &c));
    assert!(!allows("user_id:u2", &t, &c));
    assert!(allows("token.project.domain.id:default", &t, &c));
    assert!(!allows("token.domain.id:default", &t, &c));
    // A list on the way: any element may match.
    assert!(allows("token.roles.name:member", &t, &c));
    assert!(!allows("token.roles.name:admin", &t, &c));
    assert!(allows("roles:reader", &t, &c));
    // ...but not case-insensitively, unlike `role:`.
    assert!(!allows("roles:member", &t, &c));
    // Python's str(): null is None, false is False.
    assert!(allows("domain_id:None", &t, &c));
    assert!(allows("is_admin:False", &t, &c));
    assert!(!allows("is_admin:True", &t, &c));
    assert!(allows("is_admin:True", &t, &json!({"is_admin": true})));
    assert!(!allows("is_admin:1", &t, &json!({"is_admin": true})));
    assert!(allows("is_admin:1", &t, &json!({"is_admin": 1})));
    // A path that ends on an object never matches.
    assert!(!allows("token:x", &t, &c));
}

#[test]
fn system_scope_is_visible_as_system() {
    let t = json!({});
    let admin = json!({"system_scope": "all", "roles": ["admin"]});
    assert!(allows("system_scope:all", &t, &admin));
    assert!(allows("system:all", &t, &admin));
    assert!(!allows("system:all", &t, &member()));
}

#[test]
fn substitutions_from_flat_and_nested_targets() {
    let c = member();
    let check = "user_id:%(target.user.id)s";
    assert!(allows(check, &json!({"target.user.id": "u1"}), &c));
    assert!(allows(check, &json!({"target": {"user": {"id": "u1"}}}), &c));
    assert!(!allows(check, &json!({"target": {"user": {"id": "u2"}}}), &c));
    // The flat key is looked up first.
    assert!(allows(
        check,
        &json!({"target.user.id": "u1", "target": {"user": {"id": "u2"}}}),
        &c
    ));
    // Missing keys fail the check rather than erroring...
    assert!(!allows(check, &json!({}), &c));
    assert!(!allows(check, &json!({"target": {"user": {}}}), &c));
    assert!(!allows(check, &json!({"target": "user"}), &c));
    // ...and so `not` of one passes.
    assert!(allows("not user_id:%(target.user.id)s", &json!({}), &c));
    // Text around a substitution, and a non-string target value.
    assert!(allows("user_id:u%(n)s", &json!({"n": 1}), &c));
    assert!(allows("project_id:%(a)s%(b)s", &json!({"a": "p", "b": "1"}), &c));
    assert!(allows("user_id:%%u1", &json!({}), &json!({"user_id": "%u1"})));
    // A list or object is not substituted.
    assert!(!allows("user_id:%(ids)s", &json!({"ids": ["u1"]}), &c));
}

#[test]
fn python_literals_on_the_left() {
    let c = member();
    let check = "'member':%(target.role.name)s or 'reader':%(target.role.name)s";
    assert!(allows(check, &json!({"target.role.name": "member"}), &c));
    assert!(!allows(check, &json!({"target.role.name": "admin"}), &c));
    // Keystone's "a global role" test.
    let global = "None:%(target.role.domain_id)s";
    assert!(allows(global, &json!({"target": {"role": {"domain_id": null}}}), &c));
    assert!(!allows(global, &json!({"target": {"role": {"domain_id": "d1"}}}), &c));
    assert!(!allows(global, &json!({}), &c));
    assert!(allows("True:%(enabled)s", &json!({"enabled": true}), &c));
    assert!(allows("1:%(n)s", &json!({"n": 1}), &c));
}

#[test]
fn http_checks_never_pass() {
    assert!(!allows("http://policy.example.com/check", &json!({}), &member()));
    assert!(allows("https://x or @", &json!({}), &member()));
}

#[test]
fn rule_references() {
    let policy = Policy::new(&[
        ("admin_required", "role:admin"),
        ("owner", "user_id:%(user_id)s"),
        ("admin_or_owner", "rule:admin_required or rule:owner"),
        ("dangling", "rule:nope or role:reader"),
        ("only_dangling", "rule:nope"),
    ])
    .unwrap();
    let c = member();
    assert!(policy.enforce("admin_or_owner", &json!({"user_id": "u1"}), &c));
    assert!(!policy.enforce("admin_or_owner", &json!({"user_id": "u2"}), &c));
    assert!(policy.enforce("admin_or_owner", &json!({}), &json!({"roles": ["admin"]})));
    assert!(policy.enforce("dangling", &json!({}), &c));
    assert!(!policy.enforce("only_dangling", &json!({}), &c));
    // A rule may be referenced before it is defined.
    let policy = Policy::new(&[("a", "rule:b"), ("b", "@")]).unwrap();
    assert!(policy.enforce("a", &json!({}), &json!({})));
}

#[test]
fn cycles_are_refused() {
    let err = Policy::new(&[("a", "rule:b"), ("b", "role:x or rule:c"), ("c", "rule:a")]).unwrap_err();
    match err {
        PolicyError::Cycle { cycle } => assert_eq!(cycle, ["a", "b", "c", "a"]),
        other => panic!("expected a cycle, got {other}"),
    }
    let err = Policy::new(&[("self", "not rule:self")]).unwrap_err();
    assert!(matches!(err, PolicyError::Cycle { .. }), "{err}");
    // Diamonds are not cycles.
    Policy::new(&[("a", "rule:b and rule:c"), ("b", "rule:d"), ("c", "rule:d"), ("d", "@")]).unwrap();
}

#[test]
fn parse_errors_name_the_rule_and_column() {
    let err = Policy::new(&[("ok", "@"), ("identity:bad", "role:a and (role:b or")]).unwrap_err();
    let PolicyError::Parse { rule, column, .. } = &err else {
        panic!("expected a parse error, got {err}")
    };
    assert_eq!(rule, "identity:bad");
    assert_eq!(column, &22);
    let text = err.to_string();
    assert!(text.contains("identity:bad") && text.contains("column 22"), "{text}");
    // Columns count characters, not bytes.
    let err = Policy::new(&[("t", "user_id:é bogus")]).unwrap_err();
    let PolicyError::Parse { column, .. } = err else {
        panic!()
    };
    assert_eq!(column, 11);
    for bad in [
        "admin",
        "role:a)",
        "(role:a",
        "role:a or",
        "and role:a",
        "'quoted'",
        " ",
        "x:%(y)d",
    ] {
        assert!(
            matches!(Policy::new(&[("t", bad)]), Err(PolicyError::Parse { .. })),
            "{bad:?} should not parse"
        );
    }
}

#[test]
fn duplicate_defaults_are_refused() {
    let err = Policy::new(&[("a", "@"), ("a", "!")]).unwrap_err();
    assert!(matches!(err, PolicyError::DuplicateRule { rule } if rule == "a"));
}

#[test]
fn unknown_actions_are_refused() {
    let policy = Policy::new(&[("a", "@")]).unwrap();
    assert!(policy.enforce("a", &json!({}), &member()));
    assert!(!policy.enforce("identity:nope", &json!({}), &member()));
}

#[test]
fn overrides_replace_and_add_rules() {
    let mut policy = Policy::new(&[("admin_required", "role:admin"), ("get", "rule:admin_required")]).unwrap();
    let c = member();
    assert!(!policy.enforce("get", &json!({}), &c));
    policy
        .apply_overrides_yaml(
            "# operators' policy.yaml\n\
             \"admin_required\": \"role:admin or role:member\"\n\
             \"custom\": \"rule:admin_required and not role:reader\"\n",
        )
        .unwrap();
    assert_eq!(
        policy.rule("admin_required").as_deref(),
        Some("role:admin or role:member")
    );
    assert!(policy.enforce("get", &json!({}), &c));
    assert!(!policy.enforce("custom", &json!({}), &c));
    assert!(policy.rule_names().any(|n| n == "custom"));
    // JSON is YAML.
    policy.apply_overrides_yaml(r#"{"get": "!"}"#).unwrap();
    assert!(!policy.enforce("get", &json!({}), &c));
    assert_eq!(policy.rule("get").as_deref(), Some("!"));
    // Empty documents override nothing.
    policy.apply_overrides_yaml("").unwrap();
    policy.apply_overrides_yaml("# nothing\n").unwrap();
    assert_eq!(policy.rule("get").as_deref(), Some("!"));
    assert_eq!(policy.rule("nope"), None);
}

#[test]
fn bad_overrides_change_nothing() {
    let mut policy = Policy::new(&[("a", "@"), ("b", "rule:a")]).unwrap();
    let before = |p: &Policy| (p.rule("a"), p.rule("b"), p.rule_names().count());
    let original = before(&policy);
    let cases = [
        ("\"a\": \"!\"\n\"b\": \"role:x or\"\n", "parse"),
        ("\"a\": \"rule:b\"\n", "cycle"),
        ("\"a\": [\"role:x\"]\n", "list"),
        ("- a\n- b\n", "not a map"),
        ("a: [unclosed\n", "yaml"),
    ];
    for (yaml, what) in cases {
        assert!(policy.apply_overrides_yaml(yaml).is_err(), "{what} should fail");
        assert_eq!(before(&policy), original, "{what} changed the policy");
        assert!(policy.enforce("b", &json!({}), &json!({})), "{what} changed a decision");
    }
    let err = policy.apply_overrides_yaml("\"a\": \"rule:b\"\n").unwrap_err();
    assert!(matches!(err, PolicyError::Cycle { .. }), "{err}");
    let err = policy.apply_overrides_yaml("\"a\": true\n").unwrap_err();
    assert!(
        matches!(err, PolicyError::NotAString { ref rule } if rule == "a"),
        "{err}"
    );
}

#[test]
fn override_files() {
    let dir = std::env::temp_dir().join(format!("policy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut policy = Policy::new(&[("a", "@")]).unwrap();

    policy.load_overrides_file(&dir.join("missing.yaml")).unwrap();
    assert_eq!(policy.rule("a").as_deref(), Some("@"));

    let good = dir.join("good.yaml");
    std::fs::write(&good, "\"a\": \"role:admin\"\n").unwrap();
    policy.load_overrides_file(&good).unwrap();
    assert_eq!(policy.rule("a").as_deref(), Some("role:admin"));

    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "\"a\": \"role:admin or\"\n").unwrap();
    let err = policy.load_overrides_file(&bad).unwrap_err();
    let PolicyError::File { path, source } = &err else {
        panic!("expected a file error, got {err}")
    };
    assert_eq!(path, &bad);
    assert!(matches!(**source, PolicyError::Parse { .. }));
    assert_eq!(policy.rule("a").as_deref(), Some("role:admin"));

    // A directory cannot be read as a file.
    let err = policy.load_overrides_file(&dir).unwrap_err();
    assert!(matches!(err, PolicyError::Io { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn scope_types_are_enforced_before_the_check() {
    let mut policy = Policy::new(&[("sys", "role:admin"), ("proj", "role:admin"), ("any", "role:admin")]).unwrap();
    policy
        .set_scope_types(&[("sys", &[Scope::System]), ("proj", &[Scope::Project, Scope::System])])
        .unwrap();
    let system_admin = json!({"system_scope": "all", "roles": ["admin"]});
    let domain_admin = json!({"domain_id": "d1", "roles": ["admin"]});
    let project_admin = json!({"project_id": "p1", "domain_id": null, "roles": ["admin"]});
    assert!(policy.enforce("sys", &json!({}), &system_admin));
    assert!(!policy.enforce("sys", &json!({}), &project_admin));
    assert!(policy.enforce("proj", &json!({}), &project_admin));
    assert!(!policy.enforce("proj", &json!({}), &domain_admin));
    assert!(policy.enforce("any", &json!({}), &domain_admin));
    // Overriding the check string keeps the scope types.
    policy.apply_overrides_yaml("\"sys\": \"@\"").unwrap();
    assert!(!policy.enforce("sys", &json!({}), &project_admin));
    assert!(policy.enforce("sys", &json!({}), &system_admin));

    let err = policy.set_scope_types(&[("nope", &[Scope::System])]).unwrap_err();
    assert!(matches!(err, PolicyError::UnknownRule { .. }));
    assert_eq!("domain".parse::<Scope>().unwrap(), Scope::Domain);
    assert!("galaxy".parse::<Scope>().is_err());
}

#[test]
fn scope_of_credentials() {
    assert_eq!(
        Scope::of(&json!({"system_scope": "all", "domain_id": "d"})),
        Scope::System
    );
    assert_eq!(Scope::of(&json!({"system": "all"})), Scope::System);
    assert_eq!(
        Scope::of(&json!({"system_scope": null, "domain_id": "d"})),
        Scope::Domain
    );
    assert_eq!(Scope::of(&json!({"domain_id": "", "project_id": "p"})), Scope::Project);
    assert_eq!(Scope::of(&json!({})), Scope::Project);
}

#[test]
fn policy_is_shareable() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Policy>();
}
