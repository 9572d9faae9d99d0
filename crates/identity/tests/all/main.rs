//! Identity's service tests: the HTTP API in process over real HTTP,
//! through `test-cloud`, one module per resource group.

mod admin_extras;
mod app_creds;
mod backends;
mod credentials;
mod delegation_fuzz;
mod endpoint_filter;
mod fuzz;
mod limits;
mod rbac;
mod resources;
mod restart;
mod roles;
mod tokens;
mod trusts;

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

/// Creates a user with `password` in the default domain; returns its id.
pub async fn create_user(cloud: &TestCloud, admin: &str, name: &str, password: &str) -> String {
    let (status, body) = cloud
        .call(
            Method::POST,
            "users",
            admin,
            Some(json!({"user": {"name": name, "password": password, "domain_id": "default"}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["user"]["id"].as_str().unwrap().to_owned()
}

/// Creates a project in the default domain; returns its id.
pub async fn create_project(cloud: &TestCloud, admin: &str, name: &str) -> String {
    let (status, body) = cloud
        .call(
            Method::POST,
            "projects",
            admin,
            Some(json!({"project": {"name": name, "domain_id": "default"}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["project"]["id"].as_str().unwrap().to_owned()
}

/// The id of a role by name.
pub async fn role_id(cloud: &TestCloud, admin: &str, name: &str) -> String {
    let (_, body) = cloud
        .call(Method::GET, &format!("roles?name={name}"), admin, None)
        .await;
    body["roles"][0]["id"].as_str().unwrap().to_owned()
}

pub fn project_scope(project_id: &str) -> Value {
    json!({"project": {"id": project_id}})
}
