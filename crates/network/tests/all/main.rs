//! The network service's tests: its HTTP API in process over real HTTP,
//! through `test-cloud` (identity + network), as admin and as a plain
//! member of another project, one module per resource.

mod agents;
mod backends;
mod floating_ips;
mod listing;
mod networks;
mod ports;
mod quotas;
mod routers;
mod security_groups;
mod served;
mod subnets;
mod versions;

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

pub async fn cloud() -> TestCloud {
    TestCloud::start().await.with_network().await
}

/// `http://…:port/<path>` of the network service.
pub fn url(cloud: &TestCloud, path: &str) -> String {
    format!(
        "{}/{}",
        cloud.network_url.as_deref().unwrap(),
        path.trim_start_matches('/')
    )
}

/// A JSON request below `/v2.0/`: (status, body or Null).
pub async fn call(cloud: &TestCloud, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = cloud
        .http
        .request(method, url(cloud, &format!("v2.0/{}", path.trim_start_matches('/'))))
        .header("x-auth-token", token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts a Neutron error body: status and type.
pub fn assert_error(status: u16, body: &Value, want: u16, kind: &str) {
    assert_eq!(status, want, "{body}");
    let e = &body["NeutronError"];
    assert_eq!(e["type"], kind, "{body}");
    assert!(!e["message"].as_str().unwrap_or("").is_empty(), "{body}");
    assert_eq!(e["detail"], "", "{body}");
}

/// Creates a network; returns its body.
pub async fn network(cloud: &TestCloud, token: &str, body: Value) -> Value {
    let (s, v) = call(cloud, Method::POST, "networks", token, Some(json!({"network": body}))).await;
    assert_eq!(s, 201, "{v}");
    v["network"].clone()
}

/// Creates a subnet; returns its body.
pub async fn subnet(cloud: &TestCloud, token: &str, network_id: &str, cidr: &str, extra: Value) -> Value {
    let mut body =
        json!({"network_id": network_id, "cidr": cidr, "ip_version": if cidr.contains(':') { 6 } else { 4 }});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            body[k] = v;
        }
    }
    let (s, v) = call(cloud, Method::POST, "subnets", token, Some(json!({"subnet": body}))).await;
    assert_eq!(s, 201, "{v}");
    v["subnet"].clone()
}

/// Creates a port; returns its body.
pub async fn port(cloud: &TestCloud, token: &str, body: Value) -> Value {
    let (s, v) = call(cloud, Method::POST, "ports", token, Some(json!({"port": body}))).await;
    assert_eq!(s, 201, "{v}");
    v["port"].clone()
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
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
