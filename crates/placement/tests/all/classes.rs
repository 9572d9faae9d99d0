//! Resource classes.

use reqwest::Method;
use serde_json::json;

use crate::{assert_error, call, call_at, cloud, inventory, provider};

#[tokio::test]
async fn standard_and_custom_classes() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (s, v) = call(&cloud, Method::GET, "resource_classes", &admin, None).await;
    assert_eq!(s, 200);
    let names: Vec<&str> = v["resource_classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for want in [
        "VCPU",
        "MEMORY_MB",
        "DISK_GB",
        "PCPU",
        "SRIOV_NET_VF",
        "IPV4_ADDRESS",
        "VGPU",
    ] {
        assert!(names.contains(&want), "{want}");
    }
    assert_eq!(v["resource_classes"][0]["links"][0]["href"], "/resource_classes/VCPU");

    let (s, _) = call(
        &cloud,
        Method::POST,
        "resource_classes",
        &admin,
        Some(json!({"name": "CUSTOM_GOLD"})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, v) = call(
        &cloud,
        Method::POST,
        "resource_classes",
        &admin,
        Some(json!({"name": "CUSTOM_GOLD"})),
    )
    .await;
    assert_error(s, &v, 409, "placement.duplicate_name");
    for bad in [
        json!({"name": "GOLD"}),
        json!({"name": "CUSTOM_gold"}),
        json!({}),
        json!({"name": 1}),
    ] {
        let (s, v) = call(&cloud, Method::POST, "resource_classes", &admin, Some(bad)).await;
        assert_error(s, &v, 400, "placement.undefined_code");
    }
    let (s, v) = call(&cloud, Method::GET, "resource_classes/CUSTOM_GOLD", &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["name"], "CUSTOM_GOLD");
    let (s, _) = call(&cloud, Method::GET, "resource_classes/VCPU", &admin, None).await;
    assert_eq!(s, 200);
    let (s, v) = call(&cloud, Method::GET, "resource_classes/CUSTOM_NONE", &admin, None).await;
    assert_error(s, &v, 404, "placement.undefined_code");

    // PUT (1.7): create or confirm.
    let (s, _) = call(&cloud, Method::PUT, "resource_classes/CUSTOM_SILVER", &admin, None).await;
    assert_eq!(s, 201);
    let (s, _) = call(&cloud, Method::PUT, "resource_classes/CUSTOM_SILVER", &admin, None).await;
    assert_eq!(s, 204);
    let (s, _) = call(&cloud, Method::PUT, "resource_classes/VCPU", &admin, None).await;
    assert_eq!(s, 400);
    // PUT before 1.7: rename.
    let (s, v) = call_at(
        &cloud,
        Some("1.6"),
        Method::PUT,
        "resource_classes/CUSTOM_SILVER",
        &admin,
        Some(json!({"name": "CUSTOM_BRONZE"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name"], "CUSTOM_BRONZE");

    // Delete: standard refused, in-use refused.
    let (s, _) = call(&cloud, Method::DELETE, "resource_classes/VCPU", &admin, None).await;
    assert_eq!(s, 400);
    let rp = provider(&cloud, &admin, "cn", None).await;
    inventory(&cloud, &admin, &rp, &[("CUSTOM_GOLD", 4)]).await;
    let (s, _) = call(&cloud, Method::DELETE, "resource_classes/CUSTOM_GOLD", &admin, None).await;
    assert_eq!(s, 409);
    let (s, _) = call(&cloud, Method::DELETE, "resource_classes/CUSTOM_BRONZE", &admin, None).await;
    assert_eq!(s, 204);
    let (s, _) = call(&cloud, Method::DELETE, "resource_classes/CUSTOM_BRONZE", &admin, None).await;
    assert_eq!(s, 404);
    // Not there before 1.2.
    let (s, _) = call_at(&cloud, Some("1.1"), Method::GET, "resource_classes", &admin, None).await;
    assert_eq!(s, 404);
    cloud.stop().await;
}
