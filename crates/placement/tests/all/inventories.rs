//! Inventories and provider usages.

use reqwest::Method;
use serde_json::json;

use crate::{assert_error, call, call_at, cloud, provider, uuid};

#[tokio::test]
async fn set_show_update_delete_with_generations() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let rp = provider(&cloud, &admin, "cn", None).await;
    let path = format!("resource_providers/{rp}/inventories");
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &path,
        &admin,
        Some(json!({"resource_provider_generation": 0, "inventories": {
            "VCPU": {"total": 8, "allocation_ratio": 16.0},
            "MEMORY_MB": {"total": 4096, "reserved": 512, "max_unit": 4096, "step_size": 256},
        }})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["resource_provider_generation"], 1);
    assert_eq!(v["inventories"]["VCPU"]["allocation_ratio"], 16.0);
    assert_eq!(v["inventories"]["VCPU"]["reserved"], 0);
    assert_eq!(v["inventories"]["VCPU"]["min_unit"], 1);
    assert_eq!(v["inventories"]["VCPU"]["max_unit"], 2147483647);
    assert_eq!(v["inventories"]["VCPU"]["step_size"], 1);
    assert_eq!(v["inventories"]["MEMORY_MB"]["step_size"], 256);

    // A stale generation is a 409 with Placement's code.
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &path,
        &admin,
        Some(json!({"resource_provider_generation": 0, "inventories": {}})),
    )
    .await;
    assert_error(s, &v, 409, "placement.concurrent_update");

    let (s, v) = call(&cloud, Method::GET, &format!("{path}/VCPU"), &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["total"], 8);
    assert_eq!(v["resource_provider_generation"], 1);
    let (s, v) = call(&cloud, Method::GET, &format!("{path}/DISK_GB"), &admin, None).await;
    assert_error(s, &v, 404, "placement.undefined_code");

    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("{path}/VCPU"),
        &admin,
        Some(json!({"resource_provider_generation": 1, "total": 16})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"], 16);
    assert_eq!(v["allocation_ratio"], 1.0, "fields left out take their defaults");
    assert_eq!(v["resource_provider_generation"], 2);

    // POST one class.
    let (s, v) = call(
        &cloud,
        Method::POST,
        &path,
        &admin,
        Some(json!({"resource_class": "DISK_GB", "total": 100})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["resource_provider_generation"], 3);

    // Usages list every class with inventory.
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("resource_providers/{rp}/usages"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["usages"], json!({"DISK_GB": 0, "MEMORY_MB": 0, "VCPU": 0}));

    // In-use inventory cannot go.
    let consumer = uuid();
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("allocations/{consumer}"),
        &admin,
        Some(json!({"allocations": {rp.clone(): {"resources": {"DISK_GB": 10}}},
                    "project_id": "p", "user_id": "u", "consumer_generation": null, "consumer_type": "INSTANCE"})),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let (s, v) = call(&cloud, Method::DELETE, &format!("{path}/DISK_GB"), &admin, None).await;
    assert_error(s, &v, 409, "placement.concurrent_update");
    let (_, cur) = call(&cloud, Method::GET, &path, &admin, None).await;
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &path,
        &admin,
        Some(json!({"resource_provider_generation": cur["resource_provider_generation"], "inventories": {}})),
    )
    .await;
    assert_error(s, &v, 409, "placement.inventory.inuse");
    let (s, v) = call(&cloud, Method::DELETE, &path, &admin, None).await;
    assert_error(s, &v, 409, "placement.inventory.inuse");
    let (s, _) = call(&cloud, Method::DELETE, &format!("allocations/{consumer}"), &admin, None).await;
    assert_eq!(s, 204);
    let (s, _) = call(&cloud, Method::DELETE, &format!("{path}/DISK_GB"), &admin, None).await;
    assert_eq!(s, 204);
    let (s, v) = call(&cloud, Method::DELETE, &format!("{path}/DISK_GB"), &admin, None).await;
    assert_error(s, &v, 404, "placement.undefined_code");
    // DELETE of all inventories needs 1.5.
    let (s, _) = call_at(&cloud, Some("1.4"), Method::DELETE, &path, &admin, None).await;
    assert_eq!(s, 405);
    let (s, _) = call(&cloud, Method::DELETE, &path, &admin, None).await;
    assert_eq!(s, 204);
    let (_, v) = call(&cloud, Method::GET, &path, &admin, None).await;
    assert_eq!(v["inventories"], json!({}));
    cloud.stop().await;
}

#[tokio::test]
async fn invalid_inventories_are_400() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let rp = provider(&cloud, &admin, "cn", None).await;
    let path = format!("resource_providers/{rp}/inventories");
    for inv in [
        json!({"VCPU": {"total": 0}}),
        json!({"VCPU": {"total": -1}}),
        json!({"VCPU": {"total": 4, "reserved": 5}}),
        json!({"VCPU": {"reserved": 1}}),
        json!({"VCPU": {"total": "4"}}),
        json!({"VCPU": {"total": 4, "bogus": 1}}),
        json!({"VCPU": {"total": 4, "allocation_ratio": "x"}}),
        json!({"CUSTOM_UNKNOWN": {"total": 4}}),
        json!({"lower": {"total": 4}}),
        json!({"VCPU": {"total": 3000000000i64}}),
    ] {
        let (s, v) = call(
            &cloud,
            Method::PUT,
            &path,
            &admin,
            Some(json!({"resource_provider_generation": 0, "inventories": inv})),
        )
        .await;
        assert_error(s, &v, 400, "placement.undefined_code");
    }
    // reserved == total: fine from 1.26, not before.
    let body = json!({"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 4, "reserved": 4}}});
    let (s, _) = call_at(&cloud, Some("1.25"), Method::PUT, &path, &admin, Some(body.clone())).await;
    assert_eq!(s, 400);
    let (s, _) = call(&cloud, Method::PUT, &path, &admin, Some(body)).await;
    assert_eq!(s, 200);
    // Unknown provider.
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("resource_providers/{}/inventories", uuid()),
        &admin,
        Some(json!({"resource_provider_generation": 0, "inventories": {}})),
    )
    .await;
    assert_error(s, &v, 404, "placement.undefined_code");
    // Updating a class the provider does not have.
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("{path}/DISK_GB"),
        &admin,
        Some(json!({"resource_provider_generation": 1, "total": 4})),
    )
    .await;
    assert_error(s, &v, 400, "placement.undefined_code");
    cloud.stop().await;
}
