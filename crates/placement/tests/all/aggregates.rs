//! Provider aggregates (list form before 1.19, with the generation after)
//! and `member_of`.

use reqwest::Method;
use serde_json::json;

use crate::{assert_error, call, call_at, cloud, provider, uuid};

#[tokio::test]
async fn aggregates_and_member_of() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let rp1 = provider(&cloud, &admin, "cn1", None).await;
    let rp2 = provider(&cloud, &admin, "cn2", None).await;
    let (a1, a2) = (uuid(), uuid());
    let path = format!("resource_providers/{rp1}/aggregates");
    let (s, v) = call(&cloud, Method::GET, &path, &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v, json!({"aggregates": [], "resource_provider_generation": 0}));
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &path,
        &admin,
        Some(json!({"aggregates": [a1], "resource_provider_generation": 0})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["aggregates"], json!([a1]));
    assert_eq!(v["resource_provider_generation"], 1);
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &path,
        &admin,
        Some(json!({"aggregates": [a2], "resource_provider_generation": 0})),
    )
    .await;
    assert_error(s, &v, 409, "placement.concurrent_update");
    // The old list form.
    let (s, v) = call_at(
        &cloud,
        Some("1.18"),
        Method::PUT,
        &format!("resource_providers/{rp2}/aggregates"),
        &admin,
        Some(json!([a1, a2])),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v.get("resource_provider_generation").is_none());
    for bad in [
        json!({"aggregates": ["x"], "resource_provider_generation": 1}),
        json!({"aggregates": [a1]}),
    ] {
        let (s, v) = call(&cloud, Method::PUT, &path, &admin, Some(bad)).await;
        assert_error(s, &v, 400, "placement.undefined_code");
    }

    let count = |v: &serde_json::Value| v["resource_providers"].as_array().unwrap().len();
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("resource_providers?member_of={a1}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(count(&v), 2);
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("resource_providers?member_of={a2}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(count(&v), 1);
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("resource_providers?member_of=in:{a2},{}", uuid()),
        &admin,
        None,
    )
    .await;
    assert_eq!(count(&v), 1);
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("resource_providers?member_of={a1}&member_of=!{a2}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(v["resource_providers"][0]["uuid"], rp1);
    assert_eq!(count(&v), 1);
    let (s, _) = call_at(
        &cloud,
        Some("1.23"),
        Method::GET,
        &format!("resource_providers?member_of={a1}&member_of={a2}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 400, "several member_of need 1.24");
    cloud.stop().await;
}
