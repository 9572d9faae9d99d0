//! The smaller admin APIs: policy blobs, domain configuration, OAuth1
//! consumers; and the scope types of Keystone's rules.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

use crate::{create_project, create_user, project_scope, role_id};

#[tokio::test]
async fn policy_blobs() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let (s, body) = cloud
        .call(
            Method::POST,
            "policies",
            &admin,
            Some(json!({"policy": {"blob": "{\"a\": \"@\"}", "type": "application/json", "id": "mine", "x": 1}})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let p = body["policy"].clone();
    let pid = p["id"].as_str().unwrap().to_owned();
    assert_ne!(pid, "mine");
    assert_eq!(p["blob"], "{\"a\": \"@\"}");
    assert_eq!(p["type"], "application/json");
    assert_eq!(p["x"], 1);
    assert!(
        p["links"]["self"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v3/policies/{pid}"))
    );
    for bad in [
        json!({"policy": {"type": "t"}}),
        json!({"policy": {"blob": "b"}}),
        json!({"policy": {"blob": 1, "type": "t"}}),
        json!({"policy": {"blob": "b", "type": "t".repeat(256)}}),
        json!({"blob": "b", "type": "t"}),
    ] {
        let (s, body) = cloud.call(Method::POST, "policies", &admin, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad} -> {body}");
    }
    let (s, body) = cloud
        .call(
            Method::POST,
            "policies",
            &admin,
            Some(json!({"policy": {"blob": "b", "type": "text/plain"}})),
        )
        .await;
    assert_eq!(s, 201, "{body}");

    let (_, body) = cloud.call(Method::GET, "policies", &admin, None).await;
    assert_eq!(body["policies"].as_array().unwrap().len(), 2);
    let (_, body) = cloud.call(Method::GET, "policies?type=text/plain", &admin, None).await;
    assert_eq!(body["policies"].as_array().unwrap().len(), 1);
    let (s, body) = cloud.call(Method::GET, &format!("policies/{pid}"), &admin, None).await;
    assert_eq!((s, &body["policy"]), (200, &p));

    let (s, body) = cloud
        .call(
            Method::PATCH,
            &format!("policies/{pid}"),
            &admin,
            Some(json!({"policy": {"type": "application/yaml"}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["policy"]["type"], "application/yaml");
    assert_eq!(body["policy"]["blob"], p["blob"]);
    for bad in [
        json!({"policy": {}}),
        json!({"policy": {"id": "other"}}),
        json!({"policy": {"type": 3}}),
    ] {
        let (s, body) = cloud
            .call(Method::PATCH, &format!("policies/{pid}"), &admin, Some(bad.clone()))
            .await;
        assert_eq!(s, 400, "{bad} -> {body}");
    }
    let (s, body) = cloud.call(Method::GET, "policies/nope", &admin, None).await;
    assert_eq!(s, 404);
    assert_eq!(body["error"]["message"], "Could not find policy: nope.");
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("policies/{pid}"), &admin, None)
            .await
            .0,
        204
    );
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("policies/{pid}"), &admin, None)
            .await
            .0,
        404
    );
    cloud.stop().await;
}

#[tokio::test]
async fn domain_configuration() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let (s, body) = cloud
        .call(
            Method::POST,
            "domains",
            &admin,
            Some(json!({"domain": {"name": "ldapland"}})),
        )
        .await;
    assert_eq!(s, 201);
    let did = body["domain"]["id"].as_str().unwrap().to_owned();
    let cfg = |rest: &str| format!("domains/{did}/config{rest}");

    // Defaults.
    let (s, body) = cloud.call(Method::GET, "domains/config/default", &admin, None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["config"]["identity"]["driver"], "sql");
    assert_eq!(body["config"]["ldap"]["url"], "ldap://localhost");
    assert!(body["config"]["ldap"].get("password").is_none());
    let (_, body) = cloud
        .call(Method::GET, "domains/config/ldap/default", &admin, None)
        .await;
    assert_eq!(body["config"].as_object().unwrap().len(), 1);
    assert_eq!(body["config"]["ldap"]["pool_size"], 10);
    let (_, body) = cloud
        .call(Method::GET, "domains/config/identity/list_limit/default", &admin, None)
        .await;
    assert_eq!(body, json!({"config": {"list_limit": null}}));
    for path in [
        "domains/config/assignment/default",
        "domains/config/ldap/password/default",
        "domains/config/ldap/nope/default",
    ] {
        assert_eq!(cloud.call(Method::GET, path, &admin, None).await.0, 403, "{path}");
    }

    // Nothing yet.
    assert_eq!(cloud.call(Method::GET, &cfg(""), &admin, None).await.0, 404);

    let config = json!({
        "identity": {"driver": "ldap"},
        "ldap": {"url": "ldap://myldap.com:389/", "user_tree_dn": "ou=Users,dc=org", "password": "secret"},
    });
    let (s, body) = cloud
        .call(Method::PUT, &cfg(""), &admin, Some(json!({"config": config})))
        .await;
    assert_eq!(s, 201, "{body}");
    let readable = json!({
        "identity": {"driver": "ldap"},
        "ldap": {"url": "ldap://myldap.com:389/", "user_tree_dn": "ou=Users,dc=org"},
    });
    assert_eq!(body["config"], readable);
    let (s, body) = cloud
        .call(Method::PUT, &cfg(""), &admin, Some(json!({"config": config})))
        .await;
    assert_eq!((s, &body["config"]), (200, &readable));
    for bad in [
        json!({"config": {}}),
        json!({"config": {"identity": {}}}),
        json!({"config": {"assignment": {"driver": "sql"}}}),
        json!({"config": {"ldap": {"nope": 1}}}),
    ] {
        let (s, body) = cloud.call(Method::PUT, &cfg(""), &admin, Some(bad.clone())).await;
        assert_eq!(s, 403, "{bad} -> {body}");
    }
    assert_eq!(
        cloud
            .call(
                Method::PUT,
                "domains/nope/config",
                &admin,
                Some(json!({"config": config}))
            )
            .await
            .0,
        404
    );

    let (s, body) = cloud.call(Method::GET, &cfg(""), &admin, None).await;
    assert_eq!((s, &body["config"]), (200, &readable));
    let (_, body) = cloud.call(Method::GET, &cfg("/ldap"), &admin, None).await;
    assert_eq!(body["config"], json!({"ldap": readable["ldap"]}));
    let (_, body) = cloud.call(Method::GET, &cfg("/ldap/url"), &admin, None).await;
    assert_eq!(body["config"], json!({"url": "ldap://myldap.com:389/"}));
    assert_eq!(
        cloud.call(Method::GET, &cfg("/ldap/password"), &admin, None).await.0,
        404
    );
    assert_eq!(cloud.call(Method::GET, &cfg("/ldap/suffix"), &admin, None).await.0, 404);
    assert_eq!(cloud.call(Method::GET, &cfg("/assignment"), &admin, None).await.0, 403);

    // Updates: whole, group, option.
    let (s, body) = cloud
        .call(
            Method::PATCH,
            &cfg(""),
            &admin,
            Some(json!({"config": {"ldap": {"url": "ldap://other/"}, "identity": {"list_limit": 5}}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["config"]["ldap"]["url"], "ldap://other/");
    assert_eq!(body["config"]["ldap"]["user_tree_dn"], "ou=Users,dc=org");
    assert_eq!(body["config"]["identity"], json!({"driver": "ldap", "list_limit": 5}));
    let (s, body) = cloud
        .call(
            Method::PATCH,
            &cfg("/identity"),
            &admin,
            Some(json!({"config": {"identity": {"driver": "sql", "list_limit": 7}}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["config"]["identity"], json!({"driver": "sql", "list_limit": 7}));
    let (s, body) = cloud
        .call(
            Method::PATCH,
            &cfg("/identity/driver"),
            &admin,
            Some(json!({"config": {"driver": "ldap"}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["config"]["identity"]["driver"], "ldap");
    for (path, bad) in [
        ("/identity", json!({"config": {"ldap": {"url": "x"}}})),
        (
            "/identity",
            json!({"config": {"identity": {"driver": "x"}, "ldap": {"url": "x"}}}),
        ),
        ("/identity/driver", json!({"config": {"list_limit": 3}})),
        ("/identity/driver", json!({"config": {"driver": "x", "list_limit": 3}})),
    ] {
        let (s, body) = cloud.call(Method::PATCH, &cfg(path), &admin, Some(bad.clone())).await;
        assert_eq!(s, 403, "{path} {bad} -> {body}");
    }
    assert_eq!(
        cloud
            .call(
                Method::PATCH,
                &cfg("/ldap/suffix"),
                &admin,
                Some(json!({"config": {"suffix": "x"}}))
            )
            .await
            .0,
        404
    );

    // Deletes.
    assert_eq!(
        cloud
            .call(Method::DELETE, &cfg("/identity/driver"), &admin, None)
            .await
            .0,
        204
    );
    assert_eq!(
        cloud.call(Method::GET, &cfg("/identity/driver"), &admin, None).await.0,
        404
    );
    assert_eq!(
        cloud
            .call(Method::DELETE, &cfg("/identity/driver"), &admin, None)
            .await
            .0,
        404
    );
    assert_eq!(cloud.call(Method::DELETE, &cfg("/identity"), &admin, None).await.0, 204);
    assert_eq!(cloud.call(Method::GET, &cfg("/identity"), &admin, None).await.0, 404);
    assert_eq!(cloud.call(Method::DELETE, &cfg(""), &admin, None).await.0, 204);
    assert_eq!(cloud.call(Method::GET, &cfg(""), &admin, None).await.0, 404);

    // security_compliance of the default domain, read-only.
    let (s, body) = cloud
        .call(Method::GET, "domains/default/config/security_compliance", &admin, None)
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["config"],
        json!({"security_compliance": {"password_regex": null, "password_regex_description": null}})
    );
    assert_eq!(
        cloud
            .call(Method::GET, &cfg("/security_compliance"), &admin, None)
            .await
            .0,
        403
    );
    cloud.stop().await;
}

#[tokio::test]
async fn oauth_consumers() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let (s, body) = cloud
        .call(
            Method::POST,
            "OS-OAUTH1/consumers",
            &admin,
            Some(json!({"consumer": {"description": "my app", "secret": "chosen"}})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let c = body["consumer"].clone();
    let cid = c["id"].as_str().unwrap().to_owned();
    let secret = c["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32);
    assert_ne!(secret, "chosen");
    assert_eq!(c["description"], "my app");

    let (s, body) = cloud
        .call(Method::GET, &format!("OS-OAUTH1/consumers/{cid}"), &admin, None)
        .await;
    assert_eq!(s, 200);
    assert!(body["consumer"].get("secret").is_none(), "{body}");
    for key in ["id", "description", "links"] {
        assert_eq!(body["consumer"][key], c[key], "{key}");
    }
    let (_, body) = cloud.call(Method::GET, "OS-OAUTH1/consumers", &admin, None).await;
    let listed = body["consumers"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("secret").is_none());

    let (s, body) = cloud
        .call(
            Method::PATCH,
            &format!("OS-OAUTH1/consumers/{cid}"),
            &admin,
            Some(json!({"consumer": {"description": "renamed"}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["consumer"]["description"], "renamed");
    for bad in [
        json!({"consumer": {"secret": "x"}}),
        json!({"consumer": {}}),
        json!({"consumer": {"id": "other"}}),
        json!({"consumer": {"description": 5}}),
    ] {
        let (s, body) = cloud
            .call(
                Method::PATCH,
                &format!("OS-OAUTH1/consumers/{cid}"),
                &admin,
                Some(bad.clone()),
            )
            .await;
        assert_eq!(s, 400, "{bad} -> {body}");
    }
    let (s, body) = cloud.call(Method::GET, "OS-OAUTH1/consumers/nope", &admin, None).await;
    assert_eq!(s, 404);
    assert_eq!(body["error"]["message"], "Could not find consumer: nope.");
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("OS-OAUTH1/consumers/{cid}"), &admin, None)
            .await
            .0,
        204
    );
    assert_eq!(
        cloud
            .call(Method::GET, &format!("OS-OAUTH1/consumers/{cid}"), &admin, None)
            .await
            .0,
        404
    );
    cloud.stop().await;
}

#[tokio::test]
async fn members_may_not_use_admin_extras() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let p = create_project(&cloud, &admin, "p").await;
    let uid = create_user(&cloud, &admin, "gina", "pw").await;
    let member = role_id(&cloud, &admin, "member").await;
    let (s, _) = cloud
        .call(
            Method::PUT,
            &format!("projects/{p}/users/{uid}/roles/{member}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (token, _) = cloud.token_for(&uid, "pw", project_scope(&p)).await;
    for (method, path, body) in [
        (Method::GET, "policies", None),
        (
            Method::POST,
            "policies",
            Some(json!({"policy": {"blob": "b", "type": "t"}})),
        ),
        (Method::GET, "OS-OAUTH1/consumers", None),
        (Method::POST, "OS-OAUTH1/consumers", Some(json!({"consumer": {}}))),
        (Method::GET, "domains/default/config", None),
        (Method::GET, "domains/config/default", None),
        (
            Method::PUT,
            "domains/default/config",
            Some(json!({"config": {"identity": {"driver": "sql"}}})),
        ),
    ] {
        let (s, b) = cloud.call(method, path, &token, body).await;
        assert_eq!(s, 403, "{path}: {b}");
    }
    // Anyone may read the default domain's password rules.
    let (s, _) = cloud
        .call(
            Method::GET,
            "domains/default/config/security_compliance/password_regex",
            &token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    cloud.stop().await;
}

/// Keystone's `scope_types`: `identity:create_region` is for system and
/// project scope, so a domain-scoped admin is refused it.
#[tokio::test]
async fn a_domain_scoped_admin_may_not_create_regions() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let (_, body) = cloud.call(Method::GET, "users?name=admin", &admin, None).await;
    let admin_id = body["users"][0]["id"].as_str().unwrap().to_owned();
    let admin_role = role_id(&cloud, &admin, "admin").await;
    let (s, _) = cloud
        .call(
            Method::PUT,
            &format!("domains/default/users/{admin_id}/roles/{admin_role}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (domain_admin, _) = cloud
        .token_for(
            &admin_id,
            test_cloud::ADMIN_PASSWORD,
            json!({"domain": {"id": "default"}}),
        )
        .await;
    let region = |id: &str| Some(json!({"region": {"id": id}}));

    let (s, body) = cloud
        .call(Method::POST, "regions", &domain_admin, region("r-domain"))
        .await;
    assert_eq!(s, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("identity:create_region")
    );
    let (s, body) = cloud.call(Method::POST, "regions", &admin, region("r-project")).await;
    assert_eq!(s, 201, "{body}");
    let system = cloud.system_admin_token().await;
    let (s, body) = cloud.call(Method::POST, "regions", &system, region("r-system")).await;
    assert_eq!(s, 201, "{body}");
    // Rules Keystone opens to domain scope still take the domain admin.
    let (s, body): (u16, Value) = cloud
        .call(Method::GET, "users?domain_id=default", &domain_admin, None)
        .await;
    assert_eq!(s, 200, "{body}");
    cloud.stop().await;
}
