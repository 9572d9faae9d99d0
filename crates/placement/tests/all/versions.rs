//! The root document, microversion negotiation, auth and policy.

use reqwest::Method;
use serde_json::Value;

use crate::{assert_error, call, call_at, cloud, project_user, url};

#[tokio::test]
async fn root_without_token_and_microversion_headers() {
    let cloud = cloud().await;
    let resp = cloud.http.get(url(&cloud, "/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["openstack-api-version"], "placement 1.0");
    assert_eq!(resp.headers()["vary"], "openstack-api-version");
    let v: Value = resp.json().await.unwrap();
    let ver = &v["versions"][0];
    assert_eq!(ver["id"], "v1.0");
    assert_eq!(ver["min_version"], "1.0");
    assert_eq!(ver["max_version"], "1.39");
    assert_eq!(ver["status"], "CURRENT");
    assert_eq!(ver["links"][0]["rel"], "self");

    let resp = cloud
        .http
        .get(url(&cloud, "/"))
        .header("openstack-api-version", "placement latest")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["openstack-api-version"], "placement 1.39");

    let resp = cloud
        .http
        .get(url(&cloud, "/"))
        .header("openstack-api-version", "placement 1.99")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 406);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["errors"][0]["max_version"], "1.39");

    let resp = cloud
        .http
        .get(url(&cloud, "/"))
        .header("openstack-api-version", "placement one")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "placement.undefined_code");

    // Other services' entries are ignored.
    let resp = cloud
        .http
        .get(url(&cloud, "/"))
        .header("openstack-api-version", "compute 2.90, placement 1.20")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["openstack-api-version"], "placement 1.20");
    cloud.stop().await;
}

#[tokio::test]
async fn token_required_and_policy_enforced() {
    let cloud = cloud().await;
    let resp = cloud.http.get(url(&cloud, "resource_providers")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["errors"][0]["status"], 401);

    let admin = cloud.admin_token().await;
    let (_, member) = project_user(&cloud, &admin, "p1", "member").await;
    let (s, v) = call(&cloud, Method::GET, "resource_providers", &member, None).await;
    assert_error(s, &v, 403, "placement.undefined_code");
    let (_, service) = project_user(&cloud, &admin, "svc", "service").await;
    let (s, v) = call(&cloud, Method::GET, "resource_providers", &service, None).await;
    assert_eq!(s, 200, "{v}");
    // A system-scoped token is refused: Placement's rules are project-scoped.
    let system = cloud.system_admin_token().await;
    let (s, _) = call(&cloud, Method::GET, "resource_providers", &system, None).await;
    assert_eq!(s, 403);

    // Unknown routes and methods answer in Placement's error shape.
    let (s, v) = call(&cloud, Method::GET, "nope", &admin, None).await;
    assert_eq!(s, 404);
    assert_eq!(v["errors"][0]["status"], 404);
    let (s, v) = call(&cloud, Method::PATCH, "resource_providers", &admin, None).await;
    assert_eq!(s, 405);
    assert_eq!(v["errors"][0]["status"], 405);
    // Routes newer than the microversion are 404.
    let (s, _) = call_at(
        &cloud,
        Some("1.9"),
        Method::GET,
        "allocation_candidates?resources=VCPU:1",
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call_at(&cloud, None, Method::GET, "traits", &admin, None).await;
    assert_eq!(s, 404);
    cloud.stop().await;
}
