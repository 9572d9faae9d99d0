//! Object storage's service tests: the Swift API in process over real HTTP,
//! through `test-cloud`, one module per level.

mod access;
mod accounts;
mod bulk;
mod containers;
mod formpost;
mod objects;
mod quotas;
mod replication;
mod slo;
mod tempurl;
mod versioning;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::json;
use test_cloud::TestCloud;

/// A cloud with object storage, and the admin's account URL and token.
pub struct Swift {
    pub cloud: TestCloud,
    /// `http://…/v1/AUTH_<admin project>`
    pub account: String,
    pub base: String,
    pub token: String,
}

impl Swift {
    pub async fn start() -> Swift {
        Swift::start_with(|_, _| {}).await
    }

    /// A cloud whose object storage config `tune` changes first.
    pub async fn start_with(tune: impl FnOnce(&std::path::Path, &mut object_storage::ObjectStorageConfig)) -> Swift {
        let cloud = TestCloud::start().await.with_object_storage_using(tune).await;
        let base = cloud.object_storage_url.clone().unwrap();
        let token = cloud.admin_token().await;
        let (_, body) = cloud.call(Method::GET, "auth/tokens", &token, None).await;
        let _ = body;
        let project = admin_project_id(&cloud, &token).await;
        Swift {
            account: format!("{base}/v1/AUTH_{project}"),
            base,
            cloud,
            token,
        }
    }

    /// A request to `<account>/<path>` with the admin token.
    pub fn req(&self, method: &str, path: &str) -> RequestBuilder {
        self.req_as(method, path, Some(&self.token))
    }

    pub fn req_as(&self, method: &str, path: &str, token: Option<&str>) -> RequestBuilder {
        let url = if path.is_empty() {
            self.account.clone()
        } else {
            format!("{}/{}", self.account, path)
        };
        let mut r = self
            .cloud
            .http
            .request(Method::from_bytes(method.as_bytes()).unwrap(), url);
        if let Some(t) = token {
            r = r.header("x-auth-token", t);
        }
        r
    }

    pub async fn send(&self, method: &str, path: &str) -> Response {
        self.req(method, path).send().await.unwrap()
    }

    pub async fn put_container(&self, name: &str) {
        let r = self.send("PUT", name).await;
        assert_eq!(r.status(), 201, "PUT container {name}");
    }

    pub async fn put_object(&self, path: &str, body: &'static [u8]) -> Response {
        let r = self.req("PUT", path).body(body).send().await.unwrap();
        assert_eq!(r.status(), 201, "PUT object {path}");
        r
    }

    pub async fn stop(self) {
        self.cloud.stop().await;
    }
}

async fn admin_project_id(cloud: &TestCloud, token: &str) -> String {
    let resp = cloud
        .http
        .get(cloud.url("auth/tokens"))
        .header("x-auth-token", token)
        .header("x-subject-token", token)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = resp.json().await.unwrap();
    body["token"]["project"]["id"].as_str().unwrap().to_owned()
}

/// A user with `role` on a new project; returns (token, project id).
pub async fn user_with_role(cloud: &TestCloud, admin: &str, name: &str, role: &str) -> (String, String) {
    let (s, b) = cloud
        .call(
            Method::POST,
            "projects",
            admin,
            Some(json!({"project": {"name": format!("p-{name}"), "domain_id": "default"}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let project = b["project"]["id"].as_str().unwrap().to_owned();
    let (s, b) = cloud
        .call(
            Method::POST,
            "users",
            admin,
            Some(json!({"user": {"name": name, "password": "pw-secret", "domain_id": "default"}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let user = b["user"]["id"].as_str().unwrap().to_owned();
    let (_, b) = cloud
        .call(Method::GET, &format!("roles?name={role}"), admin, None)
        .await;
    let role_id = b["roles"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = cloud
        .call(
            Method::PUT,
            &format!("projects/{project}/users/{user}/roles/{role_id}"),
            admin,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (token, _) = cloud
        .token_for(&user, "pw-secret", json!({"project": {"id": project}}))
        .await;
    (token, project)
}

pub fn header<'a>(r: &'a Response, name: &str) -> &'a str {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

impl Swift {
    /// `/v1/AUTH_<project>`: the path part of the account URL, as signed.
    pub fn account_path(&self) -> String {
        let rest = self.account.split_once("://").unwrap().1;
        rest[rest.find('/').unwrap()..].to_owned()
    }

    /// `GET /info` as JSON.
    pub async fn info(&self) -> serde_json::Value {
        let r = self.cloud.http.get(format!("{}/info", self.base)).send().await.unwrap();
        r.json().await.unwrap()
    }
}

/// The Unix time now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
