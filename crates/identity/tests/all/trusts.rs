//! `/v3/OS-TRUST/trusts`: a trustor delegates roles to a trustee, who logs
//! in with them; deleting the trust revokes those tokens. And
//! `/v3/OS-REVOKE/events`, where the deletion shows.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::{Backend, TestCloud};

use crate::app_creds::{grant, issue, member_of_new_project, validate};
use crate::{create_user, role_id};

struct Setup {
    cloud: TestCloud,
    admin: String,
    alice: String,
    alice_token: String,
    project: String,
    bob: String,
    bob_token: String,
    delegated: String,
}

/// Alice (trustor) holds `member` and `delegated` on her project; Bob
/// (trustee) has a project of his own.
async fn setup(backend: Backend) -> Setup {
    let cloud = TestCloud::start_on(backend).await;
    let admin = cloud.admin_token().await;
    let (s, body) = cloud
        .call(
            Method::POST,
            "roles",
            &admin,
            Some(json!({"role": {"name": "delegated"}})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let delegated = body["role"]["id"].as_str().unwrap().to_owned();
    let uid = create_user(&cloud, &admin, "alice", "pw").await;
    let project = crate::create_project(&cloud, &admin, "alices").await;
    grant(&cloud, &admin, &project, &uid, "member").await;
    grant(&cloud, &admin, &project, &uid, "delegated").await;
    let (alice_token, _) = cloud.token_for(&uid, "pw", crate::project_scope(&project)).await;
    let (bob, _, bob_token) = member_of_new_project(&cloud, &admin, "bob", "member").await;
    Setup {
        cloud,
        admin,
        alice: uid,
        alice_token,
        project,
        bob,
        bob_token,
        delegated,
    }
}

impl Setup {
    fn trust(&self, extra: Value) -> Value {
        let mut t = json!({
            "trustor_user_id": self.alice, "trustee_user_id": self.bob, "project_id": self.project,
            "roles": [{"name": "delegated"}], "impersonation": false,
        });
        for (k, v) in extra.as_object().unwrap() {
            t[k] = v.clone();
        }
        json!({"trust": t})
    }

    async fn create(&self, extra: Value) -> (u16, Value) {
        self.cloud
            .call(
                Method::POST,
                "OS-TRUST/trusts",
                &self.alice_token,
                Some(self.trust(extra)),
            )
            .await
    }

    /// Bob's trust-scoped token.
    async fn trust_token(&self, trust_id: &str) -> (u16, String, Value) {
        let auth = json!({
            "identity": {"methods": ["password"], "password": {"user": {"id": self.bob, "password": "pw"}}},
            "scope": {"OS-TRUST:trust": {"id": trust_id}},
        });
        issue(&self.cloud, auth).await
    }
}

#[tokio::test]
async fn trusts_delegate_roles_until_deleted() {
    for backend in Backend::from_env() {
        trusts_delegate_roles_until_deleted_on(backend).await;
    }
}

async fn trusts_delegate_roles_until_deleted_on(backend: Backend) {
    let s = setup(backend).await;
    let (status, body) = s.create(json!({})).await;
    assert_eq!(status, 201, "{body}");
    let t = &body["trust"];
    let tid = t["id"].as_str().unwrap().to_owned();
    assert_eq!(t["trustor_user_id"], s.alice.as_str());
    assert_eq!(t["trustee_user_id"], s.bob.as_str());
    assert_eq!(t["project_id"], s.project.as_str());
    assert_eq!(t["impersonation"], false);
    assert_eq!(t["expires_at"], Value::Null);
    assert_eq!(t["remaining_uses"], Value::Null);
    assert!(t.get("deleted_at").is_none());
    assert_eq!(t["roles"].as_array().unwrap().len(), 1);
    assert_eq!(t["roles"][0]["name"], "delegated");
    assert!(
        t["roles"][0]["links"]["self"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v3/roles/{}", s.delegated))
    );
    assert!(
        t["links"]["self"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v3/OS-TRUST/trusts/{tid}"))
    );
    assert!(
        t["roles_links"]["self"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v3/OS-TRUST/trusts/{tid}/roles"))
    );

    // Trustor and trustee see it; a stranger does not.
    let path = format!("OS-TRUST/trusts/{tid}");
    assert_eq!(s.cloud.call(Method::GET, &path, &s.alice_token, None).await.0, 200);
    let (status, body) = s.cloud.call(Method::GET, &path, &s.bob_token, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["trust"]["roles"][0]["id"], s.delegated.as_str());
    let (_, _, carol) = member_of_new_project(&s.cloud, &s.admin, "carol", "member").await;
    assert_eq!(s.cloud.call(Method::GET, &path, &carol, None).await.0, 403);
    let (status, body) = s
        .cloud
        .call(Method::GET, "OS-TRUST/trusts/nope", &s.alice_token, None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["message"], "Could not find trust: nope.");

    // Its roles.
    let (status, body) = s
        .cloud
        .call(Method::GET, &format!("{path}/roles"), &s.alice_token, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["roles"].as_array().unwrap().len(), 1);
    let role_path = format!("{path}/roles/{}", s.delegated);
    let (status, body) = s.cloud.call(Method::GET, &role_path, &s.alice_token, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["role"]["name"], "delegated");
    assert_eq!(s.cloud.call(Method::HEAD, &role_path, &s.bob_token, None).await.0, 200);
    let member = role_id(&s.cloud, &s.admin, "member").await;
    assert_eq!(
        s.cloud
            .call(Method::GET, &format!("{path}/roles/{member}"), &s.alice_token, None)
            .await
            .0,
        404
    );
    assert_eq!(
        s.cloud
            .call(Method::HEAD, &format!("{path}/roles/{member}"), &s.alice_token, None)
            .await
            .0,
        404
    );

    // Lists: one's own as trustor or trustee; all, for an admin.
    let mine = format!("OS-TRUST/trusts?trustor_user_id={}", s.alice);
    let (status, body) = s.cloud.call(Method::GET, &mine, &s.alice_token, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["trusts"].as_array().unwrap().len(), 1);
    assert!(body["trusts"][0].get("roles").is_none(), "lists are summaries");
    assert_eq!(s.cloud.call(Method::GET, &mine, &s.bob_token, None).await.0, 403);
    let slash = format!("OS-TRUST/trusts/?trustor_user_id={}", s.alice);
    let (status, body) = s.cloud.call(Method::GET, &slash, &s.alice_token, None).await;
    assert_eq!(status, 200, "tempest lists with a trailing slash");
    assert_eq!(body["trusts"].as_array().unwrap().len(), 1);
    let theirs = format!("OS-TRUST/trusts?trustee_user_id={}", s.bob);
    let (_, body) = s.cloud.call(Method::GET, &theirs, &s.bob_token, None).await;
    assert_eq!(body["trusts"][0]["id"], tid.as_str());
    assert_eq!(
        s.cloud.call(Method::GET, "OS-TRUST/trusts", &s.bob_token, None).await.0,
        403
    );
    let (status, body) = s.cloud.call(Method::GET, "OS-TRUST/trusts", &s.admin, None).await;
    assert_eq!(status, 200);
    assert!(
        body["trusts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == tid.as_str())
    );

    // Bob's trust-scoped token carries the delegated role only.
    let (status, trust_token, body) = s.trust_token(&tid).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["token"]["OS-TRUST:trust"]["id"], tid.as_str());
    let roles: Vec<&str> = body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["delegated"]);
    // It may not pass the trust on, nor make credentials out of it.
    let (status, body) = s
        .cloud
        .call(
            Method::POST,
            "OS-TRUST/trusts",
            &trust_token,
            Some(s.trust(json!({"trustor_user_id": s.bob}))),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = s
        .cloud
        .call(
            Method::POST,
            &format!("users/{}/application_credentials", s.bob),
            &trust_token,
            Some(json!({"application_credential": {"name": "x"}})),
        )
        .await;
    assert_eq!(status, 403);

    // Only the trustor deletes it; that revokes Bob's token.
    assert_eq!(s.cloud.call(Method::DELETE, &path, &s.bob_token, None).await.0, 403);
    assert_eq!(validate(&s.cloud, &s.admin, &trust_token).await.0, 200);
    assert_eq!(s.cloud.call(Method::DELETE, &path, &s.alice_token, None).await.0, 204);
    assert_eq!(validate(&s.cloud, &s.admin, &trust_token).await.0, 404);
    assert_eq!(s.cloud.call(Method::GET, &path, &s.alice_token, None).await.0, 404);
    assert_eq!(s.cloud.call(Method::DELETE, &path, &s.alice_token, None).await.0, 404);
    assert_eq!(s.trust_token(&tid).await.0, 401);
    let (_, body) = s.cloud.call(Method::GET, &mine, &s.alice_token, None).await;
    assert_eq!(body["trusts"].as_array().unwrap().len(), 0);

    // The revocation event, as OS-REVOKE shows it, to admins only.
    let (status, body) = s.cloud.call(Method::GET, "OS-REVOKE/events", &s.admin, None).await;
    assert_eq!(status, 200, "{body}");
    let event = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["OS-TRUST:trust_id"] == tid.as_str())
        .expect("an event for the trust");
    assert!(event["issued_before"].as_str().unwrap().ends_with(".000000Z"));
    let (_, body) = s
        .cloud
        .call(
            Method::GET,
            "OS-REVOKE/events?since=2999-01-01T00:00:00Z",
            &s.admin,
            None,
        )
        .await;
    assert_eq!(body["events"], json!([]));
    assert_eq!(
        s.cloud
            .call(Method::GET, "OS-REVOKE/events?since=yesterday", &s.admin, None)
            .await
            .0,
        400
    );
    assert_eq!(
        s.cloud
            .call(Method::GET, "OS-REVOKE/events", &s.bob_token, None)
            .await
            .0,
        403
    );
    s.cloud.stop().await;
}

#[tokio::test]
async fn trusts_expire_run_out_and_check_their_input() {
    let s = setup(Backend::Sqlite).await;
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let expires = later.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (status, body) = s.create(json!({"expires_at": expires, "impersonation": true})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["trust"]["expires_at"],
        later.format("%Y-%m-%dT%H:%M:%S.000000Z").to_string()
    );
    assert_eq!(body["trust"]["impersonation"], true);
    let tid = body["trust"]["id"].as_str().unwrap().to_owned();
    let (_, body) = s
        .cloud
        .call(Method::GET, &format!("OS-TRUST/trusts/{tid}"), &s.bob_token, None)
        .await;
    assert_eq!(
        body["trust"]["expires_at"],
        later.format("%Y-%m-%dT%H:%M:%S.000000Z").to_string()
    );

    // One use: one token.
    let (status, body) = s
        .create(json!({"remaining_uses": 1, "roles": [{"id": s.delegated}]}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["trust"]["remaining_uses"], 1);
    let once = body["trust"]["id"].as_str().unwrap().to_owned();
    assert_eq!(s.trust_token(&once).await.0, 201);
    assert_eq!(s.trust_token(&once).await.0, 403);

    // Extra attributes are kept.
    let (status, body) = s.create(json!({"purpose": "backups"})).await;
    assert_eq!(status, 201);
    assert_eq!(body["trust"]["purpose"], "backups");

    let nobody = json!({"trustee_user_id": "nobody"});
    let member = role_id(&s.cloud, &s.admin, "admin").await;
    for (extra, want, what) in [
        (json!({"expires_at": "bad.123Z"}), 400, "bad time"),
        (json!({"expires_at": "2001-01-01T00:00:00Z"}), 400, "past time"),
        (json!({"impersonation": null}), 400, "impersonation required"),
        (json!({"impersonation": "yes"}), 400, "impersonation not a boolean"),
        (json!({"trustee_user_id": null}), 400, "trustee required"),
        (json!({"remaining_uses": 0}), 400, "no uses"),
        (json!({"remaining_uses": "1"}), 400, "uses not a number"),
        (
            json!({"roles": [{"id": "x", "name": "y"}]}),
            400,
            "role with id and name",
        ),
        (json!({"roles": []}), 403, "a project and no roles"),
        (json!({"allow_redelegation": true}), 403, "redelegation"),
        (json!({"trustor_user_id": s.bob}), 403, "someone else as trustor"),
        (nobody, 404, "unknown trustee"),
        (json!({"roles": [{"id": member}]}), 404, "a role the trustor lacks"),
        (json!({"roles": [{"name": "no-such-role"}]}), 404, "unknown role"),
        (json!({"project_id": "nope"}), 404, "unknown project"),
    ] {
        let (status, body) = s.create(extra).await;
        assert_eq!(status, want, "{what}: {body}");
    }
    let (status, _) = s
        .cloud
        .call(Method::POST, "OS-TRUST/trusts", &s.alice_token, Some(json!({})))
        .await;
    assert_eq!(status, 400);
    s.cloud.stop().await;
}
