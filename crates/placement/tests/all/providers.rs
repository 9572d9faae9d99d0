//! Resource providers: CRUD, trees, list filters, bad input.

use reqwest::Method;
use serde_json::json;

use crate::{assert_error, call, call_at, cloud, inventory, provider, uuid};

#[tokio::test]
async fn create_show_update_delete() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let id = uuid();
    let (s, v) = call(
        &cloud,
        Method::POST,
        "resource_providers",
        &admin,
        Some(json!({"name": "cn1", "uuid": id})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["uuid"], id);
    assert_eq!(v["generation"], 0);
    assert_eq!(v["root_provider_uuid"], id);
    assert!(v["parent_provider_uuid"].is_null());
    let rels: Vec<&str> = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    assert_eq!(
        rels,
        ["self", "inventories", "usages", "aggregates", "traits", "allocations"]
    );

    // Before 1.20: 201, no body, a Location.
    let resp = cloud
        .http
        .post(crate::url(&cloud, "resource_providers"))
        .header("x-auth-token", &admin)
        .header("openstack-api-version", "placement 1.19")
        .json(&json!({"name": "cn-old"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert!(
        resp.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/resource_providers/")
    );

    // Duplicates.
    let (s, v) = call(
        &cloud,
        Method::POST,
        "resource_providers",
        &admin,
        Some(json!({"name": "cn1"})),
    )
    .await;
    assert_error(s, &v, 409, "placement.duplicate_name");
    let (s, v) = call(
        &cloud,
        Method::POST,
        "resource_providers",
        &admin,
        Some(json!({"name": "other", "uuid": id})),
    )
    .await;
    assert_error(s, &v, 409, "placement.duplicate_name");

    // Show at 1.0 has no tree fields.
    let (s, v) = call_at(
        &cloud,
        None,
        Method::GET,
        &format!("resource_providers/{id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert!(v.get("root_provider_uuid").is_none());

    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("resource_providers/{id}"),
        &admin,
        Some(json!({"name": "cn1-renamed"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name"], "cn1-renamed");

    let (s, _) = call(
        &cloud,
        Method::DELETE,
        &format!("resource_providers/{id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, v) = call(&cloud, Method::GET, &format!("resource_providers/{id}"), &admin, None).await;
    assert_error(s, &v, 404, "placement.undefined_code");
    let (s, v) = call(
        &cloud,
        Method::DELETE,
        &format!("resource_providers/{id}"),
        &admin,
        None,
    )
    .await;
    assert_error(s, &v, 404, "placement.undefined_code");
    cloud.stop().await;
}

#[tokio::test]
async fn bad_input_is_400_or_415_never_500() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": 5}),
        json!({"name": "x", "uuid": "not-a-uuid"}),
        json!({"name": "x", "extra": 1}),
        json!({"name": "x".repeat(201)}),
        json!([1]),
        json!({"name": "x", "parent_provider_uuid": "bad"}),
    ] {
        let (s, v) = call(&cloud, Method::POST, "resource_providers", &admin, Some(body.clone())).await;
        assert_error(s, &v, 400, "placement.undefined_code");
    }
    let resp = cloud
        .http
        .post(crate::url(&cloud, "resource_providers"))
        .header("x-auth-token", &admin)
        .header("content-type", "text/plain")
        .body("{\"name\": \"x\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let resp = cloud
        .http
        .post(crate::url(&cloud, "resource_providers"))
        .header("x-auth-token", &admin)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // The parent must exist.
    let (s, v) = call(
        &cloud,
        Method::POST,
        "resource_providers",
        &admin,
        Some(json!({"name": "orphan", "parent_provider_uuid": uuid()})),
    )
    .await;
    assert_error(s, &v, 400, "placement.undefined_code");
    // NUL bytes and odd names are stored or refused, not 500.
    let (s, _) = call(
        &cloud,
        Method::POST,
        "resource_providers",
        &admin,
        Some(json!({"name": "a\u{0}b"})),
    )
    .await;
    assert!(s == 200 || s == 400, "{s}");
    let (s, v) = call(&cloud, Method::GET, "resource_providers?resources=VCPU", &admin, None).await;
    assert_error(s, &v, 400, "placement.query.bad_value");
    let (s, v) = call(&cloud, Method::GET, "resource_providers?resources=NOPE:1", &admin, None).await;
    assert_error(s, &v, 400, "placement.undefined_code");
    let (s, v) = call(
        &cloud,
        Method::GET,
        "resource_providers?required=CUSTOM_NOPE",
        &admin,
        None,
    )
    .await;
    assert_error(s, &v, 400, "placement.undefined_code");
    let (s, v) = call(&cloud, Method::GET, "resource_providers?bogus=1", &admin, None).await;
    assert_error(s, &v, 400, "placement.undefined_code");
    let (s, v) = call(&cloud, Method::GET, "resource_providers?member_of=x", &admin, None).await;
    assert_error(s, &v, 400, "placement.query.bad_value");
    cloud.stop().await;
}

#[tokio::test]
async fn nested_trees_and_filters() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let root = provider(&cloud, &admin, "root", None).await;
    let numa0 = provider(&cloud, &admin, "numa0", Some(&root)).await;
    let numa1 = provider(&cloud, &admin, "numa1", Some(&root)).await;
    let pf = provider(&cloud, &admin, "pf", Some(&numa0)).await;
    let other = provider(&cloud, &admin, "other", None).await;
    let (_, v) = call(&cloud, Method::GET, &format!("resource_providers/{pf}"), &admin, None).await;
    assert_eq!(v["root_provider_uuid"], root);
    assert_eq!(v["parent_provider_uuid"], numa0);

    let names = |v: &serde_json::Value| {
        let mut n: Vec<String> = v["resource_providers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("resource_providers?in_tree={numa1}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(names(&v), ["numa0", "numa1", "pf", "root"]);
    let (_, v) = call(&cloud, Method::GET, "resource_providers?name=other", &admin, None).await;
    assert_eq!(names(&v), ["other"]);
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("resource_providers?uuid={other}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(names(&v), ["other"]);

    // resources: capacity left.
    inventory(&cloud, &admin, &numa0, &[("VCPU", 4), ("MEMORY_MB", 1024)]).await;
    inventory(&cloud, &admin, &numa1, &[("VCPU", 2)]).await;
    let (_, v) = call(&cloud, Method::GET, "resource_providers?resources=VCPU:3", &admin, None).await;
    assert_eq!(names(&v), ["numa0"]);
    let (_, v) = call(
        &cloud,
        Method::GET,
        "resource_providers?resources=VCPU:1,MEMORY_MB:512",
        &admin,
        None,
    )
    .await;
    assert_eq!(names(&v), ["numa0"]);

    // required / forbidden traits, any-of traits (1.39).
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("resource_providers/{numa1}/traits"),
        &admin,
        Some(json!({"traits": ["HW_CPU_X86_AVX2"], "resource_provider_generation": 1})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = call(
        &cloud,
        Method::GET,
        "resource_providers?required=HW_CPU_X86_AVX2",
        &admin,
        None,
    )
    .await;
    assert_eq!(names(&v), ["numa1"]);
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("resource_providers?required=!HW_CPU_X86_AVX2&in_tree={root}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(names(&v), ["numa0", "pf", "root"]);
    let (_, v) = call(
        &cloud,
        Method::GET,
        "resource_providers?required=in:HW_CPU_X86_AVX2,STORAGE_DISK_SSD",
        &admin,
        None,
    )
    .await;
    assert_eq!(names(&v), ["numa1"]);
    let (s, _) = call_at(
        &cloud,
        Some("1.21"),
        Method::GET,
        "resource_providers?required=!HW_CPU_X86_AVX2",
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 400, "forbidden traits need 1.22");

    // Deleting a parent with children is refused.
    let (s, v) = call(
        &cloud,
        Method::DELETE,
        &format!("resource_providers/{numa0}"),
        &admin,
        None,
    )
    .await;
    assert_error(s, &v, 409, "placement.resource_provider.cannot_delete_parent");

    // Re-parenting: refused before 1.37, allowed after; no loops.
    let body = json!({"name": "pf", "parent_provider_uuid": numa1});
    let (s, v) = call_at(
        &cloud,
        Some("1.36"),
        Method::PUT,
        &format!("resource_providers/{pf}"),
        &admin,
        Some(body.clone()),
    )
    .await;
    assert_error(s, &v, 400, "placement.undefined_code");
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("resource_providers/{pf}"),
        &admin,
        Some(body),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["parent_provider_uuid"], numa1);
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("resource_providers/{root}"),
        &admin,
        Some(json!({"name": "root", "parent_provider_uuid": pf})),
    )
    .await;
    assert_eq!(s, 400, "a loop is refused");
    // Un-parent numa0: it becomes a root, and so does its tree.
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("resource_providers/{numa0}"),
        &admin,
        Some(json!({"name": "numa0", "parent_provider_uuid": null})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["root_provider_uuid"], numa0);
    // Give `other` a parent: its root becomes root's.
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("resource_providers/{other}"),
        &admin,
        Some(json!({"name": "other", "parent_provider_uuid": numa1})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["root_provider_uuid"], root);
    cloud.stop().await;
}
