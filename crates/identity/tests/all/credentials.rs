//! `/v3/credentials` and `/v3/users/{id}/credentials/OS-EC2` (on every
//! database the machine offers).

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::{Backend, TestCloud};

use crate::app_creds::{issue, member_of_new_project};

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn ids(body: &Value) -> Vec<String> {
    body["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn credentials_crud_for_owner_and_admin() {
    for backend in Backend::from_env() {
        credentials_crud_for_owner_and_admin_on(backend).await;
    }
}

async fn credentials_crud_for_owner_and_admin_on(backend: Backend) {
    let cloud = TestCloud::start_on(backend).await;
    let admin = cloud.admin_token().await;
    let (alice, pid, token) = member_of_new_project(&cloud, &admin, "alice", "member").await;
    let (_, _, bob_token) = member_of_new_project(&cloud, &admin, "bob", "member").await;

    let blob = r#"{"access": "AKIA1", "secret": "s1"}"#;
    let body = json!({"credential": {"user_id": alice, "project_id": pid, "type": "ec2", "blob": blob}});
    let (s, created) = cloud
        .call(Method::POST, "credentials", &admin, Some(body.clone()))
        .await;
    assert_eq!(s, 201, "{created}");
    let c = &created["credential"];
    let ec2_id = sha256_hex("AKIA1");
    assert_eq!(
        c["id"],
        ec2_id.as_str(),
        "an ec2 credential's id is the sha256 of its access key"
    );
    assert_eq!(c["blob"], blob);
    assert_eq!(c["user_id"], alice.as_str());
    assert_eq!(c["project_id"], pid.as_str());
    assert_eq!(c["type"], "ec2");
    assert!(
        c["links"]["self"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v3/credentials/{ec2_id}"))
    );
    assert_eq!(
        cloud.call(Method::POST, "credentials", &admin, Some(body)).await.0,
        409,
        "same access key"
    );

    // The owner makes her own; not someone else's.
    let cert = json!({"credential": {"user_id": alice, "type": "cert", "blob": "-----BEGIN...", "label": "laptop"}});
    let (s, body) = cloud
        .call(Method::POST, "credentials", &token, Some(cert.clone()))
        .await;
    assert_eq!(s, 201, "{body}");
    let cert_id = body["credential"]["id"].as_str().unwrap().to_owned();
    assert_eq!(cert_id.len(), 32);
    assert_eq!(body["credential"]["label"], "laptop", "extra attributes are kept");
    assert_eq!(body["credential"]["project_id"], Value::Null);
    assert_eq!(
        cloud.call(Method::POST, "credentials", &bob_token, Some(cert)).await.0,
        403
    );

    // Lists: one's own; everything, filtered, for an admin.
    let (s, body) = cloud.call(Method::GET, "credentials", &token, None).await;
    assert_eq!(s, 200);
    let mut got = ids(&body);
    got.sort();
    let mut want = vec![ec2_id.clone(), cert_id.clone()];
    want.sort();
    assert_eq!(got, want);
    let (_, body) = cloud.call(Method::GET, "credentials", &bob_token, None).await;
    assert!(ids(&body).is_empty());
    let (_, body) = cloud
        .call(
            Method::GET,
            &format!("credentials?user_id={alice}&type=cert"),
            &admin,
            None,
        )
        .await;
    assert_eq!(ids(&body), [cert_id.as_str()]);

    // Show, update (the blob only), delete.
    let path = format!("credentials/{ec2_id}");
    assert_eq!(cloud.call(Method::GET, &path, &token, None).await.0, 200);
    assert_eq!(cloud.call(Method::GET, &path, &bob_token, None).await.0, 403);
    let new_blob = r#"{"access": "AKIA2", "secret": "s2"}"#;
    let (s, body) = cloud
        .call(
            Method::PATCH,
            &path,
            &token,
            Some(json!({"credential": {"blob": new_blob}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["credential"]["id"], ec2_id.as_str(), "the id stays");
    assert_eq!(body["credential"]["blob"], new_blob);
    let (_, body) = cloud.call(Method::GET, &path, &admin, None).await;
    assert_eq!(body["credential"]["blob"], new_blob);
    for (bad, what) in [
        (
            json!({"credential": {"type": "cert", "blob": "x"}}),
            "type is immutable",
        ),
        (json!({"credential": {}}), "no blob"),
        (
            json!({"credential": {"blob": r#"{"secret": "s"}"#}}),
            "ec2 blob without access",
        ),
        (
            json!({"credential": {"blob": r#"{"access": "a", "trust_id": "t"}"#}}),
            "ec2 trust binding changed",
        ),
        (json!({"credential": {"blob": 5}}), "blob not a string"),
    ] {
        let (s, body) = cloud.call(Method::PATCH, &path, &token, Some(bad)).await;
        assert_eq!(s, 400, "{what}: {body}");
    }
    assert_eq!(cloud.call(Method::DELETE, &path, &bob_token, None).await.0, 403);
    assert_eq!(cloud.call(Method::DELETE, &path, &token, None).await.0, 204);
    // Gone: 404 to whoever may see any credential, 403 to the others (as
    // for someone else's), so that a 404 tells nothing.
    let (s, body) = cloud.call(Method::GET, &path, &admin, None).await;
    assert_eq!(s, 404);
    assert_eq!(
        body["error"]["message"],
        format!("Could not find credential: {ec2_id}.")
    );
    assert_eq!(cloud.call(Method::GET, &path, &token, None).await.0, 403);
    assert_eq!(cloud.call(Method::GET, "credentials/nope", &admin, None).await.0, 404);

    for (bad, what) in [
        (json!({"credential": {"type": "cert", "blob": "x"}}), "no user"),
        (json!({"credential": {"user_id": alice, "blob": "x"}}), "no type"),
        (json!({"credential": {"user_id": alice, "type": "cert"}}), "no blob"),
        (
            json!({"credential": {"user_id": alice, "type": "ec2", "blob": r#"{"access": "a"}"#}}),
            "ec2 needs a project",
        ),
        (
            json!({"credential": {"user_id": alice, "project_id": pid, "type": "ec2", "blob": "nope"}}),
            "ec2 blob not JSON",
        ),
        (
            json!({"credential": {"user_id": alice, "type": "cert", "blob": {"a": 1}}}),
            "blob not a string",
        ),
        (json!({"credentials": {}}), "no envelope"),
    ] {
        let (s, body) = cloud.call(Method::POST, "credentials", &admin, Some(bad)).await;
        assert_eq!(s, 400, "{what}: {body}");
    }
    cloud.stop().await;
}

#[tokio::test]
async fn ec2_credentials_and_delegated_tokens() {
    for backend in Backend::from_env() {
        ec2_credentials_and_delegated_tokens_on(backend).await;
    }
}

async fn ec2_credentials_and_delegated_tokens_on(backend: Backend) {
    let cloud = TestCloud::start_on(backend).await;
    let admin = cloud.admin_token().await;
    let (alice, pid, token) = member_of_new_project(&cloud, &admin, "alice", "member").await;
    let (_, _, bob_token) = member_of_new_project(&cloud, &admin, "bob", "member").await;
    let base = format!("users/{alice}/credentials/OS-EC2");

    let (s, body) = cloud
        .call(Method::POST, &base, &token, Some(json!({"tenant_id": pid})))
        .await;
    assert_eq!(s, 201, "{body}");
    let c = body["credential"].clone();
    let access = c["access"].as_str().unwrap().to_owned();
    assert!(!c["secret"].as_str().unwrap().is_empty());
    assert_eq!(c["user_id"], alice.as_str());
    assert_eq!(c["tenant_id"], pid.as_str());
    assert_eq!(c["trust_id"], Value::Null);
    assert!(
        c["links"]["self"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v3/{base}/{access}"))
    );

    let (s, body) = cloud.call(Method::GET, &base, &token, None).await;
    assert_eq!(s, 200);
    assert_eq!(body["credentials"].as_array().unwrap().len(), 1);
    assert_eq!(body["credentials"][0]["access"], access.as_str());
    let (s, body) = cloud.call(Method::GET, &format!("{base}/{access}"), &token, None).await;
    assert_eq!(s, 200);
    assert_eq!(body["credential"], c);
    // Also a plain credential of type ec2.
    let (s, body) = cloud
        .call(
            Method::GET,
            &format!("credentials/{}", sha256_hex(&access)),
            &token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["credential"]["type"], "ec2");

    assert_eq!(cloud.call(Method::GET, &base, &bob_token, None).await.0, 403);
    assert_eq!(
        cloud
            .call(Method::GET, &format!("{base}/{access}"), &bob_token, None)
            .await
            .0,
        403
    );
    assert_eq!(
        cloud
            .call(Method::POST, &base, &bob_token, Some(json!({"tenant_id": pid})))
            .await
            .0,
        403
    );
    assert_eq!(
        cloud
            .call(Method::POST, &base, &token, Some(json!({"tenant_id": "nope"})))
            .await
            .0,
        404
    );
    assert_eq!(cloud.call(Method::POST, &base, &token, Some(json!({}))).await.0, 400);
    assert_eq!(
        cloud.call(Method::GET, &format!("{base}/nope"), &token, None).await.0,
        404
    );

    // A token from an application credential may not touch credentials.
    let (s, body) = cloud
        .call(
            Method::POST,
            &format!("users/{alice}/application_credentials"),
            &token,
            Some(json!({"application_credential": {"name": "ac"}})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let ac = &body["application_credential"];
    let auth = json!({"identity": {"methods": ["application_credential"], "application_credential": {
        "id": ac["id"], "secret": ac["secret"]}}});
    let (s, ac_token, _) = issue(&cloud, auth).await;
    assert_eq!(s, 201);
    assert_eq!(cloud.call(Method::GET, &base, &ac_token, None).await.0, 403);
    assert_eq!(
        cloud
            .call(Method::POST, &base, &ac_token, Some(json!({"tenant_id": pid})))
            .await
            .0,
        403
    );
    let (s, body) = cloud.call(Method::GET, "credentials", &ac_token, None).await;
    assert_eq!(s, 200);
    assert!(ids(&body).is_empty(), "a delegated token sees no credentials");
    let cert = json!({"credential": {"user_id": alice, "type": "cert", "blob": "x"}});
    assert_eq!(
        cloud.call(Method::POST, "credentials", &ac_token, Some(cert)).await.0,
        403
    );

    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("{base}/{access}"), &bob_token, None)
            .await
            .0,
        403
    );
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("{base}/{access}"), &token, None)
            .await
            .0,
        204
    );
    assert_eq!(
        cloud
            .call(Method::GET, &format!("{base}/{access}"), &token, None)
            .await
            .0,
        404
    );
    let (_, body) = cloud.call(Method::GET, &base, &token, None).await;
    assert_eq!(body["credentials"], json!([]));
    cloud.stop().await;
}
