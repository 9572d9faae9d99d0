//! The image service's tests: its HTTP API in process over real HTTP,
//! through `test-cloud` (identity + image), one module per resource.

mod backends;
mod convert;
mod data;
mod images;
mod members;
mod metadefs;
mod versions;

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

pub const PATCH_TYPE: &str = "application/openstack-images-v2.1-json-patch";

pub async fn cloud() -> TestCloud {
    TestCloud::start().await.with_image().await
}

/// `http://…:port/<path>` of the image service.
pub fn url(cloud: &TestCloud, path: &str) -> String {
    format!(
        "{}/{}",
        cloud.image_url.as_deref().unwrap(),
        path.trim_start_matches('/')
    )
}

/// A JSON request to the image service: (status, body or Null).
pub async fn call(cloud: &TestCloud, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = cloud
        .http
        .request(method, url(cloud, path))
        .header("x-auth-token", token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A JSON-patch request.
pub async fn patch(cloud: &TestCloud, id: &str, token: &str, ops: Value) -> (u16, Value) {
    let resp = cloud
        .http
        .patch(url(cloud, &format!("v2/images/{id}")))
        .header("x-auth-token", token)
        .header("content-type", PATCH_TYPE)
        .body(ops.to_string())
        .send()
        .await
        .expect("patch");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Uploads `data` as the image's file; returns the status.
pub async fn upload(cloud: &TestCloud, id: &str, token: &str, data: Vec<u8>) -> u16 {
    cloud
        .http
        .put(url(cloud, &format!("v2/images/{id}/file")))
        .header("x-auth-token", token)
        .header("content-type", "application/octet-stream")
        .body(data)
        .send()
        .await
        .expect("upload")
        .status()
        .as_u16()
}

/// Creates a raw/bare image; returns its body.
pub async fn create_image(cloud: &TestCloud, token: &str, extra: Value) -> Value {
    let mut body = json!({"name": "img", "disk_format": "raw", "container_format": "bare"});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let (s, v) = call(cloud, Method::POST, "v2/images", token, Some(body)).await;
    assert_eq!(s, 201, "{v}");
    v
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

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha512_hex(data: &[u8]) -> String {
    use sha2_11::Digest;
    sha2_11::Sha512::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deterministic, incompressible-looking bytes.
pub fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
