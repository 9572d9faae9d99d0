//! The block-storage service's tests: its HTTP API in process over real
//! HTTP through `test-cloud` (identity + image + block storage with one
//! file-driver agent), one module per resource group.

mod attach;
mod attachments;
mod backends;
mod errors;
mod images;
mod microversions;
mod qos;
mod reconcile;
mod snapshots;
mod transfers;
mod types;
mod versions;
mod volumes;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

pub async fn cloud() -> TestCloud {
    TestCloud::start().await.with_block_storage().await
}

/// The admin's token and project id.
pub async fn admin(cloud: &TestCloud) -> (String, String) {
    let token = cloud.admin_token().await;
    let resp = cloud
        .http
        .get(cloud.url("auth/tokens"))
        .header("x-auth-token", &token)
        .header("x-subject-token", &token)
        .send()
        .await
        .expect("validate");
    let body: Value = resp.json().await.expect("token body");
    let project = body["token"]["project"]["id"].as_str().expect("project").to_owned();
    (token, project)
}

/// A request to block storage: `path` is under `/v3/{project}/` unless it
/// starts with `/`.
pub async fn call(
    cloud: &TestCloud,
    method: Method,
    project: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let base = cloud.block_storage_url.as_deref().expect("block storage");
    let url = if path.starts_with('/') {
        format!("{base}{path}")
    } else {
        format!("{base}/v3/{project}/{path}")
    };
    let mut req = cloud.http.request(method, url).header("x-auth-token", token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Polls `path` until `field` of `key` equals `want` (or one of the error
/// statuses shows up, which fails the test). Returns the resource.
pub async fn wait_status(cloud: &TestCloud, project: &str, token: &str, path: &str, key: &str, want: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let (s, v) = call(cloud, Method::GET, project, path, token, None).await;
        if want == "gone" && s == 404 {
            return Value::Null;
        }
        assert_eq!(s, 200, "{v}");
        let status = v[key]["status"].as_str().unwrap_or_default().to_owned();
        if status == want {
            return v[key].clone();
        }
        if status.starts_with("error") && !want.starts_with("error") {
            panic!("{path} went {status}: {v}");
        }
        last = v;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never reached {want}: {last}");
}

/// Creates a volume and waits until it is available.
pub async fn volume(cloud: &TestCloud, project: &str, token: &str, body: Value) -> Value {
    let (s, v) = call(
        cloud,
        Method::POST,
        project,
        "volumes",
        token,
        Some(json!({"volume": body})),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let id = v["volume"]["id"].as_str().unwrap().to_owned();
    wait_status(cloud, project, token, &format!("volumes/{id}"), "volume", "available").await
}

/// A project with a user holding `role` in it; returns (project id, token).
pub async fn project_user(cloud: &TestCloud, admin: &str, name: &str, role: &str) -> (String, String) {
    let (s, p) = cloud
        .call(
            Method::POST,
            "projects",
            admin,
            Some(json!({"project": {"name": name, "domain_id": "default"}})),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let pid = p["project"]["id"].as_str().unwrap().to_owned();
    let (s, u) = cloud
        .call(
            Method::POST,
            "users",
            admin,
            Some(json!({"user": {"name": format!("{name}-user"), "password": "pw", "domain_id": "default"}})),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let uid = u["user"]["id"].as_str().unwrap().to_owned();
    let (_, roles) = cloud
        .call(Method::GET, &format!("roles?name={role}"), admin, None)
        .await;
    let rid = roles["roles"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = cloud
        .call(
            Method::PUT,
            &format!("projects/{pid}/users/{uid}/roles/{rid}"),
            admin,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (token, _) = cloud.token_for(&uid, "pw", json!({"project": {"id": pid}})).await;
    (pid, token)
}

/// The file of a volume or snapshot of the test cloud's `node1@file` agent.
pub fn file_of(cloud: &TestCloud, kind: &str, id: &str) -> std::path::PathBuf {
    cloud
        .dir()
        .join("block-storage/node1")
        .join(format!("{kind}s"))
        .join(format!("{kind}-{id}"))
}
