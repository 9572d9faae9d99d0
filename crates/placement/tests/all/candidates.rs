//! Allocation candidates: single providers, nested trees, traits,
//! aggregates, granular groups.

use reqwest::Method;
use serde_json::json;

use crate::{assert_error, call, call_at, cloud, inventory, provider, uuid};

#[tokio::test]
async fn single_providers() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let cn1 = provider(&cloud, &admin, "cn1", None).await;
    let cn2 = provider(&cloud, &admin, "cn2", None).await;
    let cn3 = provider(&cloud, &admin, "cn3", None).await;
    inventory(
        &cloud,
        &admin,
        &cn1,
        &[("VCPU", 4), ("MEMORY_MB", 4096), ("DISK_GB", 100)],
    )
    .await;
    inventory(
        &cloud,
        &admin,
        &cn2,
        &[("VCPU", 1), ("MEMORY_MB", 4096), ("DISK_GB", 100)],
    )
    .await;
    inventory(&cloud, &admin, &cn3, &[("VCPU", 8)]).await;
    let q = "allocation_candidates?resources=VCPU:2,MEMORY_MB:512,DISK_GB:1";
    let (s, v) = call(&cloud, Method::GET, q, &admin, None).await;
    assert_eq!(s, 200, "{v}");
    let reqs = v["allocation_requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 1, "{v}");
    assert_eq!(
        reqs[0]["allocations"][&cn1]["resources"],
        json!({"VCPU": 2, "MEMORY_MB": 512, "DISK_GB": 1})
    );
    assert_eq!(reqs[0]["mappings"][""], json!([cn1]));
    let sum = &v["provider_summaries"][&cn1];
    assert_eq!(sum["resources"]["VCPU"], json!({"capacity": 4, "used": 0}));
    assert_eq!(sum["root_provider_uuid"], cn1);
    assert_eq!(sum["traits"], json!([]));
    // 1.12 shape and 1.10 list shape; 1.26 summaries only the requested.
    let (_, v) = call_at(&cloud, Some("1.10"), Method::GET, q, &admin, None).await;
    assert_eq!(
        v["allocation_requests"][0]["allocations"][0]["resource_provider"]["uuid"],
        cn1
    );
    let (_, v) = call_at(
        &cloud,
        Some("1.26"),
        Method::GET,
        "allocation_candidates?resources=VCPU:1",
        &admin,
        None,
    )
    .await;
    assert!(v["provider_summaries"][&cn1]["resources"].get("MEMORY_MB").is_none());
    assert!(v["allocation_requests"][0].get("mappings").is_none());
    // Used capacity counts.
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("allocations/{}", uuid()),
        &admin,
        Some(
            json!({"allocations": {cn1.clone(): {"resources": {"VCPU": 3}}}, "project_id": "p", "user_id": "u",
                    "consumer_generation": null, "consumer_type": "INSTANCE"}),
        ),
    )
    .await;
    assert_eq!(s, 204);
    let (_, v) = call(&cloud, Method::GET, q, &admin, None).await;
    assert_eq!(v["allocation_requests"], json!([]));
    // limit, required traits, member_of.
    let (_, v) = call(
        &cloud,
        Method::GET,
        "allocation_candidates?resources=VCPU:1&limit=1",
        &admin,
        None,
    )
    .await;
    assert_eq!(v["allocation_requests"].as_array().unwrap().len(), 1);
    let (_, v) = call(
        &cloud,
        Method::GET,
        "allocation_candidates?resources=VCPU:1",
        &admin,
        None,
    )
    .await;
    assert_eq!(v["allocation_requests"].as_array().unwrap().len(), 3);
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("resource_providers/{cn3}/traits"),
        &admin,
        Some(json!({"traits": ["HW_CPU_X86_AVX2"], "resource_provider_generation": 1})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, v) = call(
        &cloud,
        Method::GET,
        "allocation_candidates?resources=VCPU:1&required=HW_CPU_X86_AVX2",
        &admin,
        None,
    )
    .await;
    assert_eq!(v["allocation_requests"].as_array().unwrap().len(), 1);
    assert!(v["allocation_requests"][0]["allocations"].get(&cn3).is_some());
    let (_, v) = call(
        &cloud,
        Method::GET,
        "allocation_candidates?resources=VCPU:1&required=!HW_CPU_X86_AVX2",
        &admin,
        None,
    )
    .await;
    assert_eq!(v["allocation_requests"].as_array().unwrap().len(), 2);
    let agg = uuid();
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("resource_providers/{cn2}/aggregates"),
        &admin,
        Some(json!({"aggregates": [agg], "resource_provider_generation": 1})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("allocation_candidates?resources=VCPU:1&member_of={agg}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(v["allocation_requests"].as_array().unwrap().len(), 1);
    assert!(v["allocation_requests"][0]["allocations"].get(&cn2).is_some());
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("allocation_candidates?resources=VCPU:1&in_tree={cn2}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(v["allocation_requests"].as_array().unwrap().len(), 1);

    // Bad input.
    for (q, code) in [
        ("allocation_candidates", "placement.undefined_code"),
        ("allocation_candidates?resources=VCPU", "placement.query.bad_value"),
        ("allocation_candidates?resources=VCPU:-1", "placement.query.bad_value"),
        ("allocation_candidates?resources=NOPE:1", "placement.undefined_code"),
        (
            "allocation_candidates?resources=VCPU:1&required=CUSTOM_NOPE",
            "placement.undefined_code",
        ),
        (
            "allocation_candidates?resources=VCPU:1&limit=0",
            "placement.undefined_code",
        ),
        (
            "allocation_candidates?resources=VCPU:1&bogus=1",
            "placement.undefined_code",
        ),
        (
            "allocation_candidates?resources1=VCPU:1&resources2=VCPU:1",
            "placement.undefined_code",
        ),
        (
            "allocation_candidates?resources=VCPU:1&required1=HW_CPU_X86_AVX2",
            "placement.undefined_code",
        ),
    ] {
        let (s, v) = call(&cloud, Method::GET, q, &admin, None).await;
        assert_error(s, &v, 400, code);
    }
    cloud.stop().await;
}

#[tokio::test]
async fn nested_trees_and_granular_groups() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let root = provider(&cloud, &admin, "host", None).await;
    let numa0 = provider(&cloud, &admin, "host-numa0", Some(&root)).await;
    let numa1 = provider(&cloud, &admin, "host-numa1", Some(&root)).await;
    inventory(&cloud, &admin, &root, &[("DISK_GB", 100)]).await;
    inventory(&cloud, &admin, &numa0, &[("VCPU", 4), ("MEMORY_MB", 2048)]).await;
    inventory(&cloud, &admin, &numa1, &[("VCPU", 4), ("MEMORY_MB", 2048)]).await;
    // Unsuffixed: the tree shares the request; DISK from the root, CPU and
    // memory from either NUMA node (or one each).
    let (s, v) = call(
        &cloud,
        Method::GET,
        "allocation_candidates?resources=VCPU:2,MEMORY_MB:512,DISK_GB:10",
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let reqs = v["allocation_requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 4, "{v}");
    for r in reqs {
        assert_eq!(r["allocations"][&root]["resources"]["DISK_GB"], 10);
    }
    let sums = v["provider_summaries"].as_object().unwrap();
    assert_eq!(sums.len(), 3);
    assert_eq!(sums[&numa0]["parent_provider_uuid"], root);
    // Before 1.29 nested trees are invisible.
    let (_, v) = call_at(
        &cloud,
        Some("1.28"),
        Method::GET,
        "allocation_candidates?resources=VCPU:2",
        &admin,
        None,
    )
    .await;
    assert_eq!(v["allocation_requests"], json!([]));
    // Granular: two NUMA-local groups, isolated.
    let q =
        "allocation_candidates?resources1=VCPU:2,MEMORY_MB:1024&resources2=VCPU:2,MEMORY_MB:1024&group_policy=isolate";
    let (s, v) = call(&cloud, Method::GET, q, &admin, None).await;
    assert_eq!(s, 200, "{v}");
    // One allocation request: the two ways round are the same allocations.
    let reqs = v["allocation_requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 1, "{v}");
    assert_eq!(reqs[0]["allocations"].as_object().unwrap().len(), 2);
    assert_ne!(reqs[0]["mappings"]["1"], reqs[0]["mappings"]["2"]);
    // group_policy=none: both groups may land on one node too.
    let q = "allocation_candidates?resources1=VCPU:2&resources2=VCPU:2&group_policy=none";
    let (_, v) = call(&cloud, Method::GET, q, &admin, None).await;
    assert_eq!(v["allocation_requests"].as_array().unwrap().len(), 3, "{v}");
    // String suffixes (1.33) and mappings (1.34).
    let q = "allocation_candidates?resources_A=VCPU:4&resources=DISK_GB:1";
    let (_, v) = call(&cloud, Method::GET, q, &admin, None).await;
    let reqs = v["allocation_requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 2, "{v}");
    assert_eq!(reqs[0]["mappings"][""], json!([root]));
    let (s, _) = call_at(&cloud, Some("1.32"), Method::GET, q, &admin, None).await;
    assert_eq!(s, 400);
    // A granular group's traits are its provider's own.
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("resource_providers/{numa1}/traits"),
        &admin,
        Some(json!({"traits": ["HW_NUMA_ROOT"], "resource_provider_generation": 1})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, v) = call(
        &cloud,
        Method::GET,
        "allocation_candidates?resources1=VCPU:1&required1=HW_NUMA_ROOT",
        &admin,
        None,
    )
    .await;
    let reqs = v["allocation_requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0]["allocations"].get(&numa1).is_some());
    cloud.stop().await;
}
