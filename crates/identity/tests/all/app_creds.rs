//! `/v3/users/{id}/application_credentials` and `/v3/users/{id}/access_rules`:
//! create, use to log in, list, delete (revoking the tokens it issued).

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::{Backend, TestCloud};

use crate::{create_project, create_user, project_scope, role_id};

/// Validates `subject` with `token`: the status and body.
pub async fn validate(cloud: &TestCloud, token: &str, subject: &str) -> (u16, Value) {
    let resp = cloud
        .http
        .get(cloud.url("auth/tokens"))
        .header("x-auth-token", token)
        .header("x-subject-token", subject)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `POST /v3/auth/tokens` with a body's `auth.identity`; the status, the
/// token and the body.
pub async fn issue(cloud: &TestCloud, auth: Value) -> (u16, String, Value) {
    let resp = cloud
        .http
        .post(cloud.url("auth/tokens"))
        .json(&json!({"auth": auth}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let token = resp
        .headers()
        .get("x-subject-token")
        .map(|t| t.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, token, resp.json().await.unwrap_or(Value::Null))
}

/// Grants `role` (by name) to a user on a project.
pub async fn grant(cloud: &TestCloud, admin: &str, project: &str, user: &str, role: &str) {
    let rid = role_id(cloud, admin, role).await;
    let path = format!("projects/{project}/users/{user}/roles/{rid}");
    assert_eq!(cloud.call(Method::PUT, &path, admin, None).await.0, 204);
}

/// A user with `role` on a new project, and a token scoped to it:
/// `(user id, project id, token)`.
pub async fn member_of_new_project(cloud: &TestCloud, admin: &str, name: &str, role: &str) -> (String, String, String) {
    let uid = create_user(cloud, admin, name, "pw").await;
    let pid = create_project(cloud, admin, &format!("{name}-project")).await;
    grant(cloud, admin, &pid, &uid, role).await;
    let (token, _) = cloud.token_for(&uid, "pw", project_scope(&pid)).await;
    (uid, pid, token)
}

fn app_cred_auth(id: &str, secret: &str) -> Value {
    json!({"identity": {"methods": ["application_credential"], "application_credential": {"id": id, "secret": secret}}})
}

#[tokio::test]
async fn app_creds_log_in_and_are_revoked_with_their_tokens() {
    for backend in Backend::from_env() {
        app_creds_log_in_and_are_revoked_with_their_tokens_on(backend).await;
    }
}

async fn app_creds_log_in_and_are_revoked_with_their_tokens_on(backend: Backend) {
    let cloud = TestCloud::start_on(backend).await;
    let admin = cloud.admin_token().await;
    let (alice, pid, token) = member_of_new_project(&cloud, &admin, "alice", "member").await;
    let base = format!("users/{alice}/application_credentials");

    let (s, body) = cloud
        .call(
            Method::POST,
            &base,
            &token,
            Some(json!({"application_credential": {"name": "ci", "description": "for CI"}})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let ac = &body["application_credential"];
    let (ac_id, secret) = (
        ac["id"].as_str().unwrap().to_owned(),
        ac["secret"].as_str().unwrap().to_owned(),
    );
    assert!(secret.len() >= 64, "a generated secret");
    assert_eq!(ac["project_id"], pid.as_str());
    assert_eq!(ac["user_id"], alice.as_str());
    assert_eq!(ac["unrestricted"], false);
    assert_eq!(ac["expires_at"], Value::Null);
    let mut names: Vec<&str> = ac["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["member", "reader"],
        "the creating token's roles, implied ones included"
    );

    let (s, body) = cloud.call(Method::GET, &format!("{base}/{ac_id}"), &token, None).await;
    assert_eq!(s, 200, "{body}");
    assert!(
        body["application_credential"].get("secret").is_none(),
        "the secret is shown once"
    );
    assert_eq!(body["application_credential"]["description"], "for CI");

    let (s, body) = cloud
        .call(
            Method::POST,
            &base,
            &token,
            Some(json!({"application_credential": {"name": "ci"}})),
        )
        .await;
    assert_eq!(s, 409, "names are unique per user: {body}");

    // Log in by id, and by name and user.
    let (s, ac_token, body) = issue(&cloud, app_cred_auth(&ac_id, &secret)).await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["token"]["project"]["id"], pid.as_str());
    assert_eq!(body["token"]["methods"], json!(["application_credential"]));
    assert_eq!(body["token"]["application_credential"]["id"], ac_id.as_str());
    let by_name = json!({"identity": {"methods": ["application_credential"], "application_credential": {
        "name": "ci", "secret": secret, "user": {"id": alice}}}});
    assert_eq!(issue(&cloud, by_name).await.0, 201);
    assert_eq!(issue(&cloud, app_cred_auth(&ac_id, "wrong")).await.0, 401);

    // A restricted credential's token may read but not make or delete others.
    assert_eq!(cloud.call(Method::GET, &base, &ac_token, None).await.0, 200);
    let (s, body) = cloud
        .call(
            Method::POST,
            &base,
            &ac_token,
            Some(json!({"application_credential": {"name": "more"}})),
        )
        .await;
    assert_eq!(s, 403, "{body}");
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("{base}/{ac_id}"), &ac_token, None)
            .await
            .0,
        403
    );

    // Listing, filtered by name.
    cloud
        .call(
            Method::POST,
            &base,
            &token,
            Some(json!({"application_credential": {"name": "other"}})),
        )
        .await;
    let (s, body) = cloud.call(Method::GET, &base, &token, None).await;
    assert_eq!(s, 200);
    assert_eq!(body["application_credentials"].as_array().unwrap().len(), 2);
    let (_, body) = cloud.call(Method::GET, &format!("{base}?name=ci"), &token, None).await;
    assert_eq!(body["application_credentials"].as_array().unwrap().len(), 1);
    assert_eq!(body["application_credentials"][0]["name"], "ci");

    // Only the owner (or an admin) sees them.
    let (_, _, bob_token) = member_of_new_project(&cloud, &admin, "bob", "member").await;
    assert_eq!(cloud.call(Method::GET, &base, &bob_token, None).await.0, 403);
    assert_eq!(
        cloud
            .call(Method::GET, &format!("{base}/{ac_id}"), &bob_token, None)
            .await
            .0,
        403
    );
    assert_eq!(
        cloud
            .call(Method::GET, &format!("{base}/{ac_id}"), &admin, None)
            .await
            .0,
        200
    );
    let (s, body) = cloud.call(Method::GET, &format!("{base}/nope"), &token, None).await;
    assert_eq!(s, 404);
    assert_eq!(body["error"]["message"], "Could not find Application Credential: nope.");

    // Deleting revokes the tokens it issued and stops logins.
    assert_eq!(validate(&cloud, &admin, &ac_token).await.0, 200);
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("{base}/{ac_id}"), &token, None)
            .await
            .0,
        204
    );
    assert_eq!(validate(&cloud, &admin, &ac_token).await.0, 404);
    assert_eq!(issue(&cloud, app_cred_auth(&ac_id, &secret)).await.0, 401);
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("{base}/{ac_id}"), &token, None)
            .await
            .0,
        404
    );
    cloud.stop().await;
}

#[tokio::test]
async fn app_cred_roles_expiry_and_bad_input() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let (alice, _pid, token) = member_of_new_project(&cloud, &admin, "alice", "member").await;
    let base = format!("users/{alice}/application_credentials");
    let create = |body: Value| {
        let (cloud, token, base) = (&cloud, &token, &base);
        async move {
            cloud
                .call(Method::POST, base, token, Some(json!({"application_credential": body})))
                .await
        }
    };

    // Named roles, with the roles they imply; only roles the token has.
    let (s, body) = create(json!({"name": "r", "roles": [{"name": "reader"}]})).await;
    assert_eq!(s, 201, "{body}");
    let ac = &body["application_credential"];
    assert_eq!(ac["roles"].as_array().unwrap().len(), 1);
    let (s, tok, body) = issue(
        &cloud,
        app_cred_auth(ac["id"].as_str().unwrap(), ac["secret"].as_str().unwrap()),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let roles: Vec<&str> = body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["reader"]);
    assert!(!tok.is_empty());
    let member = role_id(&cloud, &admin, "member").await;
    let (s, body) = create(json!({"name": "m", "roles": [{"id": member}]})).await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(
        body["application_credential"]["roles"].as_array().unwrap().len(),
        2,
        "member implies reader"
    );
    let (s, body) = create(json!({"name": "a", "roles": [{"name": "admin"}]})).await;
    assert_eq!(s, 400, "a role the token lacks: {body}");
    assert_eq!(
        create(json!({"name": "x", "roles": [{"name": "no-such-role"}]}))
            .await
            .0,
        404
    );

    // The expiry comes back to the microsecond, as Keystone keeps it.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).naive_utc();
    let expires = later.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let (s, body) = create(json!({"name": "e", "expires_at": expires, "secret": "my-secret"})).await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["application_credential"]["expires_at"], expires.as_str());
    assert_eq!(body["application_credential"]["secret"], "my-secret");
    let id = body["application_credential"]["id"].as_str().unwrap().to_owned();
    let (_, body) = cloud.call(Method::GET, &format!("{base}/{id}"), &token, None).await;
    assert_eq!(body["application_credential"]["expires_at"], expires.as_str());
    let (s, _, body) = issue(&cloud, app_cred_auth(&id, "my-secret")).await;
    assert_eq!(s, 201);
    assert!(
        body["token"]["expires_at"].as_str().unwrap()
            <= format!("{}Z", later.format("%Y-%m-%dT%H:%M:%S.000000")).as_str()
    );

    for (bad, what) in [
        (json!({}), "no name"),
        (json!({"name": ""}), "empty name"),
        (json!({"name": 5}), "name not a string"),
        (json!({"name": "b", "expires_at": "bad.123Z"}), "bad time"),
        (json!({"name": "b", "expires_at": "2001-01-01T00:00:00Z"}), "past time"),
        (json!({"name": "b", "unrestricted": "yes"}), "not a boolean"),
        (
            json!({"name": "b", "roles": [{"id": "a", "name": "b"}]}),
            "role with id and name",
        ),
        (json!({"name": "b", "roles": "member"}), "roles not a list"),
        (json!({"name": "b", "color": "red"}), "unknown attribute"),
        (
            json!({"name": "b", "access_rules": [{"service": "compute", "path": "/x", "method": "FETCH"}]}),
            "bad method",
        ),
        (
            json!({"name": "b", "access_rules": [{"service": "compute", "method": "GET"}]}),
            "no path",
        ),
    ] {
        let (s, body) = create(bad).await;
        assert_eq!(s, 400, "{what}: {body}");
        assert!(body["error"]["message"].is_string(), "{what}");
    }
    let (s, _) = cloud
        .call(Method::POST, &base, &token, Some(json!({"name": "b"})))
        .await;
    assert_eq!(s, 400, "no envelope");

    // Someone else's path, and a token without a project.
    let (bob, _, _) = member_of_new_project(&cloud, &admin, "bob", "member").await;
    let (s, _) = cloud
        .call(
            Method::POST,
            &format!("users/{bob}/application_credentials"),
            &token,
            Some(json!({"application_credential": {"name": "z"}})),
        )
        .await;
    assert_eq!(s, 403);
    cloud.stop().await;
}

#[tokio::test]
async fn unrestricted_app_creds_may_make_others() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let (alice, _, token) = member_of_new_project(&cloud, &admin, "alice", "member").await;
    let base = format!("users/{alice}/application_credentials");
    let (s, body) = cloud
        .call(
            Method::POST,
            &base,
            &token,
            Some(json!({"application_credential": {"name": "u", "unrestricted": true}})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let ac = &body["application_credential"];
    assert_eq!(ac["unrestricted"], true);
    let (_, ac_token, _) = issue(
        &cloud,
        app_cred_auth(ac["id"].as_str().unwrap(), ac["secret"].as_str().unwrap()),
    )
    .await;
    let (s, body) = cloud
        .call(
            Method::POST,
            &base,
            &ac_token,
            Some(json!({"application_credential": {"name": "child"}})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    cloud.stop().await;
}

#[tokio::test]
async fn access_rules_are_shared_and_kept_while_used() {
    for backend in Backend::from_env() {
        access_rules_are_shared_and_kept_while_used_on(backend).await;
    }
}

async fn access_rules_are_shared_and_kept_while_used_on(backend: Backend) {
    let cloud = TestCloud::start_on(backend).await;
    let admin = cloud.admin_token().await;
    let (alice, _, token) = member_of_new_project(&cloud, &admin, "alice", "member").await;
    let base = format!("users/{alice}/application_credentials");
    let rule = json!({"path": "/v2.1/servers/*/ips", "method": "GET", "service": "compute"});
    let (s, body) = cloud
        .call(
            Method::POST,
            &base,
            &token,
            Some(json!({"application_credential": {"name": "a", "access_rules": [rule]}})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let mut got = body["application_credential"]["access_rules"][0].clone();
    let rule_id = got["id"].as_str().unwrap().to_owned();
    got.as_object_mut().unwrap().remove("id");
    assert_eq!(got, rule, "the rule as given, plus its id");
    let first = body["application_credential"]["id"].as_str().unwrap().to_owned();

    // The same rule again is the same rule; one by id too.
    let (_, body) = cloud
        .call(
            Method::POST,
            &base,
            &token,
            Some(json!({"application_credential": {"name": "b", "access_rules": [rule]}})),
        )
        .await;
    assert_eq!(
        body["application_credential"]["access_rules"][0]["id"],
        rule_id.as_str()
    );
    let second = body["application_credential"]["id"].as_str().unwrap().to_owned();
    let (s, body) = cloud
        .call(
            Method::POST,
            &base,
            &token,
            Some(json!({"application_credential": {"name": "c", "access_rules": [{"id": rule_id}]}})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let third = body["application_credential"]["id"].as_str().unwrap().to_owned();
    let (s, _) = cloud
        .call(
            Method::POST,
            &base,
            &token,
            Some(json!({"application_credential": {"name": "d", "access_rules": [{"id": "nope"}]}})),
        )
        .await;
    assert_eq!(s, 404);

    let rules = format!("users/{alice}/access_rules");
    let (s, body) = cloud.call(Method::GET, &rules, &token, None).await;
    assert_eq!(s, 200);
    assert_eq!(body["access_rules"].as_array().unwrap().len(), 1);
    let (_, body) = cloud
        .call(Method::GET, &format!("{rules}?service=monitoring"), &token, None)
        .await;
    assert_eq!(body["access_rules"].as_array().unwrap().len(), 0);
    let (s, body) = cloud
        .call(Method::GET, &format!("{rules}/{rule_id}"), &token, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["access_rule"]["service"], "compute");
    let (_, _, bob_token) = member_of_new_project(&cloud, &admin, "bob", "member").await;
    assert_eq!(cloud.call(Method::GET, &rules, &bob_token, None).await.0, 403);

    // In use: refused; once unused: gone.
    let (s, body) = cloud
        .call(Method::DELETE, &format!("{rules}/{rule_id}"), &token, None)
        .await;
    assert_eq!(s, 403, "{body}");
    for ac in [first, second, third] {
        assert_eq!(
            cloud
                .call(Method::DELETE, &format!("{base}/{ac}"), &token, None)
                .await
                .0,
            204
        );
    }
    let (_, body) = cloud.call(Method::GET, &rules, &token, None).await;
    assert_eq!(
        body["access_rules"].as_array().unwrap().len(),
        1,
        "rules outlive their credentials"
    );
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("{rules}/{rule_id}"), &token, None)
            .await
            .0,
        204
    );
    let (s, body) = cloud
        .call(Method::GET, &format!("{rules}/{rule_id}"), &token, None)
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        body["error"]["message"],
        format!("Could not find Access Rule: {rule_id}.")
    );
    cloud.stop().await;
}
