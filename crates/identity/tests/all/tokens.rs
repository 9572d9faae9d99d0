//! `/v3/auth/tokens`: issue, validate, check, revoke, rescope, and the
//! events that revoke tokens already issued.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

use crate::{create_project, create_user, project_scope, role_id};

async fn validate(cloud: &TestCloud, admin: &str, subject: &str) -> (u16, Value) {
    let resp = cloud
        .http
        .get(cloud.url("auth/tokens"))
        .header("x-auth-token", admin)
        .header("x-subject-token", subject)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn scoped_tokens_carry_roles_and_catalog() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let (status, body) = validate(&cloud, &admin, &admin).await;
    assert_eq!(status, 200, "{body}");
    let t = &body["token"];
    assert_eq!(t["project"]["name"], "admin");
    assert_eq!(t["methods"], json!(["password"]));
    let roles: Vec<&str> = t["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["admin", "manager", "member", "reader"],
        "admin implies member implies reader"
    );
    assert_eq!(t["catalog"][0]["type"], "identity");
    assert_eq!(t["catalog"][0]["endpoints"].as_array().unwrap().len(), 3);
    assert!(t["expires_at"].as_str().unwrap().ends_with(".000000Z"));

    let resp = cloud
        .http
        .get(cloud.url("auth/tokens?nocatalog"))
        .header("x-auth-token", &admin)
        .header("x-subject-token", &admin)
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert!(body["token"].get("catalog").is_none());

    let system = cloud.system_admin_token().await;
    let (_, body) = validate(&cloud, &admin, &system).await;
    assert_eq!(body["token"]["system"], json!({"all": true}));

    let (_, unscoped) = cloud
        .token_for(
            body["token"]["user"]["id"].as_str().unwrap(),
            test_cloud::ADMIN_PASSWORD,
            Value::Null,
        )
        .await;
    assert!(unscoped["token"].get("project").is_none() && unscoped["token"].get("roles").is_none());
    cloud.stop().await;
}

#[tokio::test]
async fn bad_credentials_and_tokens_are_401_or_404() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let bad = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "wrong"}}}}});
    let resp = cloud
        .http
        .post(cloud.url("auth/tokens"))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], 401, "Keystone's error body");

    for forged in [
        &admin[..admin.len() - 5],
        "gAAAAAB-not-a-token",
        "",
        "x".repeat(4000).as_str(),
    ] {
        let (status, _) = validate(&cloud, &admin, forged).await;
        assert!(status == 404 || status == 400, "subject {forged:.10}: {status}");
        let resp = cloud
            .http
            .get(cloud.url("users"))
            .header("x-auth-token", forged)
            .send()
            .await
            .unwrap();
        if !forged.is_empty() {
            assert_eq!(resp.status(), 401);
            assert!(
                resp.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Keystone uri=")
            );
        }
    }
    let resp = cloud.http.get(cloud.url("users")).send().await.unwrap();
    assert_eq!(resp.status(), 401, "no token");
    cloud.stop().await;
}

#[tokio::test]
async fn revoked_tokens_are_rejected_even_when_cached() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let victim = cloud.admin_token().await;
    for _ in 0..2 {
        assert_eq!(validate(&cloud, &admin, &victim).await.0, 200);
    }
    let resp = cloud
        .http
        .delete(cloud.url("auth/tokens"))
        .header("x-auth-token", &admin)
        .header("x-subject-token", &victim)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(validate(&cloud, &admin, &victim).await.0, 404);
    let resp = cloud
        .http
        .get(cloud.url("users"))
        .header("x-auth-token", &victim)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(validate(&cloud, &admin, &admin).await.0, 200, "other tokens unaffected");
    cloud.stop().await;
}

#[tokio::test]
async fn rescoping_keeps_expiry_and_chains_audit_ids() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let (_, first) = validate(&cloud, &admin, &admin).await;
    let body = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": admin}}, "scope": {"system": {"all": true}}}});
    let resp = cloud
        .http
        .post(cloud.url("auth/tokens"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let second: Value = resp.json().await.unwrap();
    assert_eq!(second["token"]["expires_at"], first["token"]["expires_at"]);
    assert_eq!(second["token"]["audit_ids"][1], first["token"]["audit_ids"][0]);
    assert!(second["token"]["methods"].as_array().unwrap().contains(&json!("token")));
    cloud.stop().await;
}

#[tokio::test]
async fn password_change_disable_and_role_removal_revoke() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let project = create_project(&cloud, &admin, "p1").await;
    let user = create_user(&cloud, &admin, "alice", "secret-1").await;
    let member = role_id(&cloud, &admin, "member").await;
    let grant = format!("projects/{project}/users/{user}/roles/{member}");
    assert_eq!(cloud.call(Method::PUT, &grant, &admin, None).await.0, 204);

    let (t1, body) = cloud.token_for(&user, "secret-1", project_scope(&project)).await;
    let roles: Vec<&str> = body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["member", "reader"]);
    // Self-service password change: the old token dies, the old password too.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let resp = cloud
        .http
        .post(cloud.url(&format!("users/{user}/password")))
        .header("x-auth-token", &t1)
        .json(&json!({"user": {"original_password": "secret-1", "password": "secret-2"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(validate(&cloud, &admin, &t1).await.0, 404);
    let bad = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": user, "password": "secret-1"}}}}});
    assert_eq!(
        cloud
            .http
            .post(cloud.url("auth/tokens"))
            .json(&bad)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // Removing the role revokes; a token on a project without roles is refused.
    let (t2, _) = cloud.token_for(&user, "secret-2", project_scope(&project)).await;
    assert_eq!(validate(&cloud, &admin, &t2).await.0, 200);
    assert_eq!(cloud.call(Method::DELETE, &grant, &admin, None).await.0, 204);
    assert_eq!(validate(&cloud, &admin, &t2).await.0, 404);
    let scoped = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": user, "password": "secret-2"}}}, "scope": project_scope(&project)}});
    assert_eq!(
        cloud
            .http
            .post(cloud.url("auth/tokens"))
            .json(&scoped)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // Disabling the user revokes and forbids login.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (t3, _) = cloud.token_for(&user, "secret-2", Value::Null).await;
    assert_eq!(
        cloud
            .call(
                Method::PATCH,
                &format!("users/{user}"),
                &admin,
                Some(json!({"user": {"enabled": false}}))
            )
            .await
            .0,
        200
    );
    assert_eq!(validate(&cloud, &admin, &t3).await.0, 404);
    let unscoped = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": user, "password": "secret-2"}}}}});
    assert_eq!(
        cloud
            .http
            .post(cloud.url("auth/tokens"))
            .json(&unscoped)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    cloud.stop().await;
}

#[tokio::test]
async fn fernet_rotation_keeps_issued_tokens_valid() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let repo = identity::token::fernet_keys::KeyRepository::new(cloud.dir().join("fernet-keys"));
    repo.rotate(3).unwrap();
    cloud.identity.reload_keys().unwrap();
    assert_eq!(
        validate(&cloud, &admin, &admin).await.0,
        200,
        "old primary is now a secondary"
    );
    let fresh = cloud.admin_token().await;
    assert_eq!(validate(&cloud, &fresh, &admin).await.0, 200);
    repo.rotate(2).unwrap();
    repo.rotate(2).unwrap();
    cloud.identity.reload_keys().unwrap();
    assert_eq!(
        validate(&cloud, &cloud.admin_token().await, &admin).await.0,
        404,
        "its key was rotated out"
    );
    cloud.stop().await;
}
