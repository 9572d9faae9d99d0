//! Allocations, consumer generations, capacity checks, usages.

use reqwest::Method;
use serde_json::json;

use crate::{assert_error, call, call_at, cloud, inventory, project_user, provider, uuid};

#[tokio::test]
async fn put_get_replace_delete() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let rp = provider(&cloud, &admin, "cn", None).await;
    inventory(&cloud, &admin, &rp, &[("VCPU", 4), ("MEMORY_MB", 2048)]).await;
    let c = uuid();
    let path = format!("allocations/{c}");
    let body = |generation: serde_json::Value, vcpu: i64| {
        json!({"allocations": {rp.clone(): {"resources": {"VCPU": vcpu, "MEMORY_MB": 512}}},
               "project_id": "proj", "user_id": "user", "consumer_generation": generation, "consumer_type": "INSTANCE"})
    };
    let (s, v) = call(&cloud, Method::PUT, &path, &admin, Some(body(json!(null), 2))).await;
    assert_eq!(s, 204, "{v}");
    let (s, v) = call(&cloud, Method::GET, &path, &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["allocations"][&rp]["resources"], json!({"VCPU": 2, "MEMORY_MB": 512}));
    assert_eq!(v["allocations"][&rp]["generation"], 2);
    assert_eq!(v["project_id"], "proj");
    assert_eq!(v["consumer_generation"], 1);
    assert_eq!(v["consumer_type"], "INSTANCE");
    // Older shapes.
    let (_, v) = call_at(&cloud, Some("1.27"), Method::GET, &path, &admin, None).await;
    assert!(v.get("consumer_generation").is_none());
    assert_eq!(v["user_id"], "user");
    let (_, v) = call_at(&cloud, Some("1.11"), Method::GET, &path, &admin, None).await;
    assert!(v.get("project_id").is_none());

    // Consumer generation: null for an existing consumer, or stale.
    let (s, v) = call(&cloud, Method::PUT, &path, &admin, Some(body(json!(null), 1))).await;
    assert_error(s, &v, 409, "placement.concurrent_update");
    let (s, v) = call(&cloud, Method::PUT, &path, &admin, Some(body(json!(7), 1))).await;
    assert_error(s, &v, 409, "placement.concurrent_update");
    // Replace: 2 VCPU become 4 (all of it), atomically.
    let (s, v) = call(&cloud, Method::PUT, &path, &admin, Some(body(json!(1), 4))).await;
    assert_eq!(s, 204, "{v}");
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("resource_providers/{rp}/usages"),
        &admin,
        None,
    )
    .await;
    assert_eq!(v["usages"], json!({"VCPU": 4, "MEMORY_MB": 512}));
    // Over capacity: 409, nothing changed.
    let other = uuid();
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("allocations/{other}"),
        &admin,
        Some(json!({"allocations": {rp.clone(): {"resources": {"VCPU": 1}}},
                    "project_id": "proj", "user_id": "user", "consumer_generation": null, "consumer_type": "INSTANCE"})),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert!(
        v["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("Unable to allocate inventory"),
        "{v}"
    );
    // A class the provider has no inventory of; max_unit; unknown provider;
    // unknown class.
    for (res, want) in [
        (json!({"DISK_GB": 1}), 409),
        (json!({"CUSTOM_NOPE": 1}), 400),
        (json!({"VCPU": 0}), 400),
    ] {
        let (s, v) = call(
            &cloud,
            Method::PUT,
            &format!("allocations/{other}"),
            &admin,
            Some(json!({"allocations": {rp.clone(): {"resources": res}},
                        "project_id": "proj", "user_id": "user", "consumer_generation": null, "consumer_type": "INSTANCE"})),
        )
        .await;
        assert_eq!(s, want, "{v}");
    }
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("allocations/{other}"),
        &admin,
        Some(json!({"allocations": {uuid(): {"resources": {"VCPU": 1}}},
                    "project_id": "proj", "user_id": "user", "consumer_generation": null, "consumer_type": "INSTANCE"})),
    )
    .await;
    assert_error(s, &v, 400, "placement.undefined_code");
    let (s, _) = call(
        &cloud,
        Method::PUT,
        "allocations/not-a-uuid",
        &admin,
        Some(body(json!(null), 1)),
    )
    .await;
    assert_eq!(s, 400);
    // Missing fields per microversion.
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("allocations/{other}"),
        &admin,
        Some(
            json!({"allocations": {rp.clone(): {"resources": {"VCPU": 1}}}, "project_id": "p", "user_id": "u",
                    "consumer_generation": null}),
        ),
    )
    .await;
    assert_eq!(s, 400, "consumer_type is required at 1.38");

    // The provider's view.
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("resource_providers/{rp}/allocations"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["allocations"][&c]["resources"]["VCPU"], 4);
    assert_eq!(v["allocations"][&c]["consumer_generation"], 2);

    // Usages by project.
    let (s, v) = call_at(&cloud, Some("1.9"), Method::GET, "usages?project_id=proj", &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["usages"], json!({"VCPU": 4, "MEMORY_MB": 512}));
    let (_, v) = call(&cloud, Method::GET, "usages?project_id=proj&user_id=user", &admin, None).await;
    assert_eq!(v["usages"]["INSTANCE"]["consumer_count"], 1);
    assert_eq!(v["usages"]["INSTANCE"]["VCPU"], 4);
    let (_, v) = call(&cloud, Method::GET, "usages?project_id=other", &admin, None).await;
    assert_eq!(v["usages"], json!({}));
    let (s, _) = call(&cloud, Method::GET, "usages", &admin, None).await;
    assert_eq!(s, 400);

    // A provider with allocations is not deleted.
    let (s, v) = call(
        &cloud,
        Method::DELETE,
        &format!("resource_providers/{rp}"),
        &admin,
        None,
    )
    .await;
    assert_error(s, &v, 409, "placement.resource_provider.inuse");

    // Safe delete: PUT of empty allocations with the generation (1.28).
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &path,
        &admin,
        Some(
            json!({"allocations": {}, "project_id": "proj", "user_id": "user", "consumer_generation": 2,
                    "consumer_type": "INSTANCE"}),
        ),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let (_, v) = call(&cloud, Method::GET, &path, &admin, None).await;
    assert_eq!(v, json!({"allocations": {}}));
    let (s, v) = call(&cloud, Method::DELETE, &path, &admin, None).await;
    assert_error(s, &v, 404, "placement.undefined_code");
    cloud.stop().await;
}

#[tokio::test]
async fn old_microversions_and_bulk_post() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let rp = provider(&cloud, &admin, "cn", None).await;
    inventory(&cloud, &admin, &rp, &[("VCPU", 8), ("DISK_GB", 100)]).await;
    // 1.0: the list form, no project.
    let c1 = uuid();
    let (s, v) = call_at(
        &cloud,
        None,
        Method::PUT,
        &format!("allocations/{c1}"),
        &admin,
        Some(json!({"allocations": [{"resource_provider": {"uuid": rp}, "resources": {"VCPU": 1}}]})),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    // 1.8 needs project and user.
    let (s, _) = call_at(
        &cloud,
        Some("1.8"),
        Method::PUT,
        &format!("allocations/{c1}"),
        &admin,
        Some(json!({"allocations": [{"resource_provider": {"uuid": rp}, "resources": {"VCPU": 1}}]})),
    )
    .await;
    assert_eq!(s, 400);
    // POST /allocations (1.13): two consumers at once, one of them removed.
    let c2 = uuid();
    let (s, v) = call_at(
        &cloud,
        Some("1.28"),
        Method::POST,
        "allocations",
        &admin,
        Some(json!({
            c1.clone(): {"allocations": {}, "project_id": "p", "user_id": "u", "consumer_generation": 1},
            c2.clone(): {"allocations": {rp.clone(): {"resources": {"VCPU": 2, "DISK_GB": 10}}},
                          "project_id": "p", "user_id": "u", "consumer_generation": null},
        })),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("resource_providers/{rp}/usages"),
        &admin,
        None,
    )
    .await;
    assert_eq!(v["usages"], json!({"VCPU": 2, "DISK_GB": 10}));
    // A bulk write over capacity changes nothing.
    let c3 = uuid();
    let (s, _) = call_at(
        &cloud,
        Some("1.28"),
        Method::POST,
        "allocations",
        &admin,
        Some(json!({
            c2.clone(): {"allocations": {}, "project_id": "p", "user_id": "u", "consumer_generation": 1},
            c3.clone(): {"allocations": {rp.clone(): {"resources": {"VCPU": 9}}},
                          "project_id": "p", "user_id": "u", "consumer_generation": null},
        })),
    )
    .await;
    assert_eq!(s, 409);
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("resource_providers/{rp}/usages"),
        &admin,
        None,
    )
    .await;
    assert_eq!(v["usages"], json!({"VCPU": 2, "DISK_GB": 10}), "rolled back");
    let (s, _) = call_at(
        &cloud,
        Some("1.12"),
        Method::POST,
        "allocations",
        &admin,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 405);
    cloud.stop().await;
}

#[tokio::test]
async fn readers_see_their_own_usages_only() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (pid, reader) = project_user(&cloud, &admin, "p1", "reader").await;
    let (s, v) = call(&cloud, Method::GET, &format!("usages?project_id={pid}"), &reader, None).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = call(&cloud, Method::GET, "usages?project_id=someone-else", &reader, None).await;
    assert_eq!(s, 403);
    let (s, _) = call(&cloud, Method::GET, &format!("allocations/{}", uuid()), &reader, None).await;
    assert_eq!(s, 403);
    cloud.stop().await;
}

#[tokio::test]
async fn constraints_and_allocation_ratio() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let rp = provider(&cloud, &admin, "cn", None).await;
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("resource_providers/{rp}/inventories"),
        &admin,
        Some(json!({"resource_provider_generation": 0, "inventories": {
            "VCPU": {"total": 2, "allocation_ratio": 4.0, "max_unit": 4},
            "MEMORY_MB": {"total": 2048, "reserved": 1024, "step_size": 256, "min_unit": 256},
        }})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let put = |res: serde_json::Value| {
        json!({"allocations": {rp.clone(): {"resources": res}}, "project_id": "p", "user_id": "u",
               "consumer_generation": null, "consumer_type": "INSTANCE"})
    };
    for (res, want) in [
        (json!({"VCPU": 5}), 409),         // over max_unit
        (json!({"MEMORY_MB": 100}), 409),  // under min_unit, off step
        (json!({"MEMORY_MB": 1280}), 409), // over (total - reserved)
        (json!({"VCPU": 4}), 204),
        (json!({"VCPU": 4}), 204), // 8 = 2 * 4.0
        (json!({"VCPU": 1}), 409),
        (json!({"MEMORY_MB": 1024}), 204),
    ] {
        let (s, v) = call(
            &cloud,
            Method::PUT,
            &format!("allocations/{}", uuid()),
            &admin,
            Some(put(res.clone())),
        )
        .await;
        assert_eq!(s, want, "{res}: {v}");
    }
    cloud.stop().await;
}
