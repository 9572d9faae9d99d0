//! The placement service's tests: its HTTP API in process over real HTTP,
//! through `test-cloud` (identity + placement), one module per resource.

mod aggregates;
mod allocations;
mod backends;
mod candidates;
mod classes;
mod inventories;
mod providers;
mod traits;
mod versions;

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

pub const LATEST: &str = "1.39";

pub async fn cloud() -> TestCloud {
    TestCloud::start().await.with_placement().await
}

/// `http://…:port/<path>` of the placement service.
pub fn url(cloud: &TestCloud, path: &str) -> String {
    format!(
        "{}/{}",
        cloud.placement_url.as_deref().unwrap(),
        path.trim_start_matches('/')
    )
}

/// A JSON request at microversion `mv` (None: no header): (status, body
/// or Null).
pub async fn call_at(
    cloud: &TestCloud,
    mv: Option<&str>,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = cloud
        .http
        .request(method, url(cloud, path))
        .header("x-auth-token", token);
    if let Some(v) = mv {
        req = req.header("openstack-api-version", format!("placement {v}"));
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A JSON request at the latest microversion.
pub async fn call(cloud: &TestCloud, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    call_at(cloud, Some(LATEST), method, path, token, body).await
}

/// Asserts a Placement error body: status, code, and a request id.
pub fn assert_error(status: u16, body: &Value, want: u16, code: &str) {
    assert_eq!(status, want, "{body}");
    let e = &body["errors"][0];
    assert_eq!(e["status"], want, "{body}");
    assert_eq!(e["code"], code, "{body}");
    assert!(e["request_id"].as_str().unwrap_or("").starts_with("req-"), "{body}");
    assert!(!e["detail"].as_str().unwrap_or("").is_empty(), "{body}");
}

/// Creates a provider; returns its uuid.
pub async fn provider(cloud: &TestCloud, token: &str, name: &str, parent: Option<&str>) -> String {
    let mut body = json!({"name": name});
    if let Some(p) = parent {
        body["parent_provider_uuid"] = json!(p);
    }
    let (s, v) = call(cloud, Method::POST, "resource_providers", token, Some(body)).await;
    assert_eq!(s, 200, "{v}");
    v["uuid"].as_str().unwrap().to_owned()
}

/// Sets a provider's inventory: `[(class, total)]` with other fields at
/// their defaults, `allocation_ratio` 1.0.
pub async fn inventory(cloud: &TestCloud, token: &str, rp: &str, inv: &[(&str, i64)]) {
    let (_, cur) = call(cloud, Method::GET, &format!("resource_providers/{rp}"), token, None).await;
    let mut invs = serde_json::Map::new();
    for (rc, total) in inv {
        invs.insert(rc.to_string(), json!({"total": total, "allocation_ratio": 1.0}));
    }
    let (s, v) = call(
        cloud,
        Method::PUT,
        &format!("resource_providers/{rp}/inventories"),
        token,
        Some(json!({"resource_provider_generation": cur["generation"], "inventories": invs})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

pub fn uuid() -> String {
    // Good enough for test ids: time and a counter.
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (t >> 32) as u32,
        (t >> 16) as u16,
        (n >> 12) & 0xfff,
        n & 0xfff,
        t & 0xffff_ffff_ffff
    )
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
