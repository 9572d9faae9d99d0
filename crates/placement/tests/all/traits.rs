//! Traits and provider traits.

use reqwest::Method;
use serde_json::json;

use crate::{assert_error, call, cloud, provider};

#[tokio::test]
async fn traits_and_provider_traits() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (s, v) = call(&cloud, Method::GET, "traits", &admin, None).await;
    assert_eq!(s, 200);
    let all: Vec<&str> = v["traits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for want in [
        "HW_CPU_X86_AVX2",
        "COMPUTE_VOLUME_MULTI_ATTACH",
        "STORAGE_DISK_SSD",
        "HW_CPU_X86_SSE",
    ] {
        assert!(all.contains(&want), "{want}");
    }
    let (s, v) = call(&cloud, Method::GET, "traits?name=startswith:STORAGE_DISK", &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["traits"], json!(["STORAGE_DISK_HDD", "STORAGE_DISK_SSD"]));
    let (s, _) = call(&cloud, Method::GET, "traits?name=bogus", &admin, None).await;
    assert_eq!(s, 400);

    let (s, _) = call(&cloud, Method::PUT, "traits/CUSTOM_FAST", &admin, None).await;
    assert_eq!(s, 201);
    let (s, _) = call(&cloud, Method::PUT, "traits/CUSTOM_FAST", &admin, None).await;
    assert_eq!(s, 204);
    let (s, v) = call(&cloud, Method::PUT, "traits/FAST", &admin, None).await;
    assert_error(s, &v, 400, "placement.undefined_code");
    let (s, _) = call(&cloud, Method::GET, "traits/CUSTOM_FAST", &admin, None).await;
    assert_eq!(s, 204);
    let (s, _) = call(&cloud, Method::GET, "traits/HW_CPU_X86_AVX2", &admin, None).await;
    assert_eq!(s, 204);
    let (s, v) = call(&cloud, Method::GET, "traits/CUSTOM_SLOW", &admin, None).await;
    assert_error(s, &v, 404, "placement.undefined_code");

    let rp = provider(&cloud, &admin, "cn", None).await;
    let path = format!("resource_providers/{rp}/traits");
    let (s, v) = call(&cloud, Method::GET, &path, &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v, json!({"traits": [], "resource_provider_generation": 0}));
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &path,
        &admin,
        Some(json!({"traits": ["CUSTOM_FAST", "HW_CPU_X86_AVX2"], "resource_provider_generation": 0})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["resource_provider_generation"], 1);
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &path,
        &admin,
        Some(json!({"traits": [], "resource_provider_generation": 0})),
    )
    .await;
    assert_error(s, &v, 409, "placement.concurrent_update");
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &path,
        &admin,
        Some(json!({"traits": ["CUSTOM_NOPE"], "resource_provider_generation": 1})),
    )
    .await;
    assert_error(s, &v, 400, "placement.undefined_code");
    let (_, v) = call(&cloud, Method::GET, "traits?associated=true", &admin, None).await;
    assert_eq!(v["traits"], json!(["CUSTOM_FAST", "HW_CPU_X86_AVX2"]));
    // A trait in use is not deleted; a standard one never is.
    let (s, _) = call(&cloud, Method::DELETE, "traits/CUSTOM_FAST", &admin, None).await;
    assert_eq!(s, 409);
    let (s, _) = call(&cloud, Method::DELETE, "traits/HW_CPU_X86_AVX2", &admin, None).await;
    assert_eq!(s, 400);
    let (s, _) = call(&cloud, Method::DELETE, &path, &admin, None).await;
    assert_eq!(s, 204);
    let (_, v) = call(&cloud, Method::GET, &path, &admin, None).await;
    assert_eq!(v, json!({"traits": [], "resource_provider_generation": 2}));
    let (s, _) = call(&cloud, Method::DELETE, "traits/CUSTOM_FAST", &admin, None).await;
    assert_eq!(s, 204);
    let (s, _) = call(&cloud, Method::DELETE, "traits/CUSTOM_FAST", &admin, None).await;
    assert_eq!(s, 404);
    cloud.stop().await;
}
