//! `os-quota-sets`, `os-quota-class-sets`, `/limits`,
//! `os-simple-tenant-usage` and the key pair quota, over HTTP.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

use super::{admin_project, boot, call, call_at, image, wait_status};

const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test";

/// A new project with a user holding `role` there: (project, user, token).
pub(crate) async fn project_user(cloud: &TestCloud, admin: &str, name: &str, role: &str) -> (String, String, String) {
    let (s, p) = cloud
        .call(
            Method::POST,
            "projects",
            admin,
            Some(json!({"project": {"name": name, "domain_id": "default"}})),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let pid = p["project"]["id"].as_str().unwrap().to_owned();
    let (s, u) = cloud
        .call(
            Method::POST,
            "users",
            admin,
            Some(json!({"user": {"name": format!("{name}-user"), "password": "pw", "domain_id": "default"}})),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let uid = u["user"]["id"].as_str().unwrap().to_owned();
    let (_, roles) = cloud
        .call(Method::GET, &format!("roles?name={role}"), admin, None)
        .await;
    let rid = roles["roles"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = cloud
        .call(
            Method::PUT,
            &format!("projects/{pid}/users/{uid}/roles/{rid}"),
            admin,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (token, _) = cloud.token_for(&uid, "pw", json!({"project": {"id": pid}})).await;
    (pid, uid, token)
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_sets_and_classes() {
    let cloud = TestCloud::start().await.with_compute().await;
    let admin = cloud.admin_token().await;
    let project = admin_project(&cloud, &admin).await;
    let (other, other_user, member) = project_user(&cloud, &admin, "qp", "member").await;

    // show: Nova's defaults, fields per microversion
    let (s, v) = call(&cloud, Method::GET, &format!("os-quota-sets/{project}"), &admin, None).await;
    assert_eq!(s, 200, "{v}");
    let q = &v["quota_set"];
    assert_eq!(
        keys(q),
        [
            "cores",
            "id",
            "instances",
            "key_pairs",
            "metadata_items",
            "ram",
            "server_group_members",
            "server_groups"
        ]
    );
    assert_eq!(q["id"], project.as_str());
    assert_eq!(
        (q["instances"].clone(), q["cores"].clone(), q["ram"].clone()),
        (json!(10), json!(20), json!(51200))
    );
    assert_eq!(
        (q["key_pairs"].clone(), q["metadata_items"].clone()),
        (json!(100), json!(128))
    );
    let (_, v) = call_at(
        &cloud,
        "2.1",
        Method::GET,
        &format!("os-quota-sets/{project}"),
        &admin,
        None,
    )
    .await;
    let q = &v["quota_set"];
    assert_eq!(q.as_object().unwrap().len(), 15, "{q}");
    assert_eq!(q["injected_files"], 5);
    assert_eq!(q["injected_file_content_bytes"], 10240);
    assert_eq!(q["injected_file_path_bytes"], 255);
    assert!(q["floating_ips"].is_i64() && q["security_group_rules"].is_i64() && q["fixed_ips"].is_i64());
    assert!(q.get("networks").is_none());
    let (_, v) = call_at(
        &cloud,
        "2.36",
        Method::GET,
        &format!("os-quota-sets/{project}"),
        &admin,
        None,
    )
    .await;
    assert!(v["quota_set"].get("floating_ips").is_none() && v["quota_set"]["injected_files"] == 5);

    // defaults
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("os-quota-sets/{project}/defaults"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["quota_set"]["instances"], 10);
    assert_eq!(v["quota_set"]["id"], project.as_str());

    // update: no id in the answer; strings of digits count
    let path = format!("os-quota-sets/{other}");
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &path,
        &admin,
        Some(json!({"quota_set": {"instances": 20, "cores": "30"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["quota_set"].get("id").is_none());
    assert_eq!(v["quota_set"]["instances"], 20);
    assert_eq!(v["quota_set"]["cores"], 30);
    let (_, v) = call(&cloud, Method::GET, &path, &member, None).await;
    assert_eq!(v["quota_set"]["instances"], 20);

    // bad input
    for body in [
        json!({"quota_set": {"instances": "abc"}}),
        json!({"quota_set": {"instances": -2}}),
        json!({"quota_set": {"instances": 1.5}}),
        json!({"quota_set": {"instances": null}}),
        json!({"quota_set": {"instances": 2147483648u64}}),
        json!({"quota_set": {"bogus": 1}}),
        json!({"quota_set": {"floating_ips": 1}}),
        json!({"quota_set": {"injected_files": 1}}),
        json!({"quota_set": {"instances": 1, "force": "maybe"}}),
        json!({"quota_set": 5}),
        json!({"quota": {"instances": 1}}),
    ] {
        let (s, v) = call(&cloud, Method::PUT, &path, &admin, Some(body.clone())).await;
        assert_eq!(s, 400, "{body} -> {v}");
    }
    let (s, v) = call_at(
        &cloud,
        "2.1",
        Method::PUT,
        &path,
        &admin,
        Some(json!({"quota_set": {"networks": 1}})),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["badRequest"]["message"], "The networks quota has been removed");
    let (s, v) = call_at(
        &cloud,
        "2.1",
        Method::PUT,
        &path,
        &admin,
        Some(json!({"quota_set": {"floating_ips": 3, "injected_files": 2}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["quota_set"]["floating_ips"].clone(),
            v["quota_set"]["injected_files"].clone()
        ),
        (json!(3), json!(2))
    );

    // below usage: refused unless forced
    for name in ["g1", "g2"] {
        let (s, _) = call(
            &cloud,
            Method::POST,
            "os-server-groups",
            &member,
            Some(json!({"server_group": {"name": name, "policy": "anti-affinity"}})),
        )
        .await;
        assert_eq!(s, 200);
    }
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &path,
        &admin,
        Some(json!({"quota_set": {"server_groups": 1}})),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["badRequest"]["message"],
        "Quota limit 1 for server_groups must be greater than or equal to already used and reserved 2."
    );
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &path,
        &admin,
        Some(json!({"quota_set": {"server_groups": 1, "force": true}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = call(&cloud, Method::GET, &format!("{path}/detail"), &member, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["quota_set"]["server_groups"],
        json!({"limit": 1, "in_use": 2, "reserved": 0})
    );
    assert_eq!(
        v["quota_set"]["instances"],
        json!({"limit": 20, "in_use": 0, "reserved": 0})
    );
    assert_eq!(v["quota_set"]["id"], other.as_str());

    // per user: at most the project's limit
    let upath = format!("{path}?user_id={other_user}");
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &upath,
        &admin,
        Some(json!({"quota_set": {"instances": 25}})),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["badRequest"]["message"],
        "Quota limit 25 for instances must be less than or equal to 20."
    );
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &upath,
        &admin,
        Some(json!({"quota_set": {"instances": 5}})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, v) = call(&cloud, Method::GET, &upath, &admin, None).await;
    assert_eq!(v["quota_set"]["instances"], 5);
    let (_, v) = call(&cloud, Method::GET, &path, &admin, None).await;
    assert_eq!(v["quota_set"]["instances"], 20);

    // policy: a member reads its own project's quotas only, changes none
    let (s, _) = call(&cloud, Method::GET, &format!("os-quota-sets/{project}"), &member, None).await;
    assert_eq!(s, 403);
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &path,
        &member,
        Some(json!({"quota_set": {"instances": 1}})),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = call(&cloud, Method::DELETE, &path, &member, None).await;
    assert_eq!(s, 403);
    let (s, _) = call(&cloud, Method::GET, "os-quota-class-sets/default", &member, None).await;
    assert_eq!(s, 403);
    let (s, _) = call(&cloud, Method::GET, &format!("{path}/nonsense"), &admin, None).await;
    assert_eq!(s, 404);

    // delete: back to the defaults (user quotas too)
    let (s, _) = call(&cloud, Method::DELETE, &path, &admin, None).await;
    assert_eq!(s, 202);
    let (_, v) = call(&cloud, Method::GET, &path, &admin, None).await;
    assert_eq!(v["quota_set"]["instances"], 10);
    let (_, v) = call(&cloud, Method::GET, &upath, &admin, None).await;
    assert_eq!(v["quota_set"]["instances"], 10);

    // quota classes: `default` changes the defaults
    let (s, v) = call_at(&cloud, "2.49", Method::GET, "os-quota-class-sets/default", &admin, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["quota_class_set"]["id"], "default");
    assert!(v["quota_class_set"].get("server_groups").is_none());
    assert!(v["quota_class_set"]["floating_ips"].is_i64());
    let (s, v) = call(
        &cloud,
        Method::PUT,
        "os-quota-class-sets/default",
        &admin,
        Some(json!({"quota_class_set": {"instances": 15, "server_groups": 4}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["quota_class_set"].get("id").is_none());
    assert_eq!(v["quota_class_set"]["instances"], 15);
    assert!(v["quota_class_set"].get("floating_ips").is_none());
    let (s, _) = call(
        &cloud,
        Method::PUT,
        "os-quota-class-sets/default",
        &admin,
        Some(json!({"quota_class_set": {"floating_ips": 1}})),
    )
    .await;
    assert_eq!(s, 400);
    let (_, v) = call(&cloud, Method::GET, &path, &admin, None).await;
    assert_eq!(v["quota_set"]["instances"], 15);
    assert_eq!(v["quota_set"]["server_groups"], 4);
    let (_, v) = call(&cloud, Method::GET, &format!("{path}/defaults"), &member, None).await;
    assert_eq!(v["quota_set"]["instances"], 15);
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_key_pair_quota() {
    let cloud = TestCloud::start().await.with_compute().await;
    let admin = cloud.admin_token().await;
    let (other, other_user, member) = project_user(&cloud, &admin, "lp", "member").await;

    let (s, v) = call(&cloud, Method::GET, "limits", &member, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["limits"]["rate"], json!([]));
    let abs = &v["limits"]["absolute"];
    assert_eq!(
        keys(abs),
        [
            "maxServerGroupMembers",
            "maxServerGroups",
            "maxServerMeta",
            "maxTotalCores",
            "maxTotalInstances",
            "maxTotalKeypairs",
            "maxTotalRAMSize",
            "totalCoresUsed",
            "totalInstancesUsed",
            "totalRAMUsed",
            "totalServerGroupsUsed"
        ]
    );
    assert_eq!(abs["maxTotalInstances"], 10);
    assert_eq!(abs["maxTotalRAMSize"], 51200);
    assert_eq!(abs["totalInstancesUsed"], 0);
    let (_, v) = call_at(&cloud, "2.1", Method::GET, "limits", &member, None).await;
    let abs = &v["limits"]["absolute"];
    for k in [
        "maxImageMeta",
        "maxPersonality",
        "maxPersonalitySize",
        "maxSecurityGroupRules",
        "maxSecurityGroups",
        "maxTotalFloatingIps",
        "totalFloatingIpsUsed",
        "totalSecurityGroupsUsed",
    ] {
        assert!(abs[k].is_i64(), "{k} missing: {abs}");
    }
    assert_eq!(abs.as_object().unwrap().len(), 19);
    let (_, v) = call_at(&cloud, "2.38", Method::GET, "limits", &member, None).await;
    assert!(v["limits"]["absolute"]["maxImageMeta"].is_i64() && v["limits"]["absolute"]["maxPersonality"].is_i64());
    assert!(v["limits"]["absolute"].get("maxTotalFloatingIps").is_none());

    // another project's: admin only
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("os-quota-sets/{other}"),
        &admin,
        Some(json!({"quota_set": {"instances": 7}})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = call(&cloud, Method::GET, &format!("limits?tenant_id={other}"), &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["limits"]["absolute"]["maxTotalInstances"], 7);
    let project = admin_project(&cloud, &admin).await;
    let (s, _) = call(
        &cloud,
        Method::GET,
        &format!("limits?tenant_id={project}"),
        &member,
        None,
    )
    .await;
    assert_eq!(s, 403);

    // key pairs: 403 past the user's quota
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("os-quota-sets/{other}?user_id={other_user}"),
        &admin,
        Some(json!({"quota_set": {"key_pairs": 1}})),
    )
    .await;
    assert_eq!(s, 200);
    let kp = |name: &str| json!({"keypair": {"name": name, "public_key": ED25519}});
    let (s, v) = call(&cloud, Method::POST, "os-keypairs", &member, Some(kp("k1"))).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = call(&cloud, Method::POST, "os-keypairs", &member, Some(kp("k2"))).await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["forbidden"]["message"], "Quota exceeded, too many key pairs.");
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("os-quota-sets/{other}/detail?user_id={other_user}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        v["quota_set"]["key_pairs"],
        json!({"limit": 1, "in_use": 1, "reserved": 0})
    );
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_tenant_usage() {
    let cloud = TestCloud::start().await.with_compute().await;
    let admin = cloud.admin_token().await;
    let project = admin_project(&cloud, &admin).await;
    let (other, _, member) = project_user(&cloud, &admin, "up", "member").await;
    let img = image(&cloud, &admin).await;
    let start = (chrono::Utc::now() - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (s, v) = boot(&cloud, &admin, &img, json!({})).await;
        assert_eq!(s, 202, "{v}");
        let id = v["server"]["id"].as_str().unwrap().to_owned();
        wait_status(&cloud, &admin, &id, "ACTIVE").await;
        ids.push(id);
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // a deleted server still counts for the window it lived in
    let (s, _) = call(&cloud, Method::DELETE, &format!("servers/{}", ids[1]), &admin, None).await;
    assert_eq!(s, 204);
    wait_status(&cloud, &admin, &ids[1], "DELETED").await;
    let end = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let window = format!("start={start}&end={end}");

    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("os-simple-tenant-usage?{window}&detailed=1"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let usages = v["tenant_usages"].as_array().unwrap();
    assert_eq!(usages.len(), 1, "{v}");
    let u = &usages[0];
    assert_eq!(u["tenant_id"], project.as_str());
    assert!(u["total_hours"].as_f64().unwrap() > 0.0);
    assert!(u["total_vcpus_usage"].as_f64().unwrap() > 0.0);
    assert!(u["total_memory_mb_usage"].as_f64().unwrap() > 0.0);
    assert!(u["total_local_gb_usage"].is_number());
    assert!(u["start"].as_str().unwrap().starts_with(&start));
    let servers = u["server_usages"].as_array().unwrap();
    assert_eq!(servers.len(), 2);
    let live = servers.iter().find(|s| s["instance_id"] == ids[0].as_str()).unwrap();
    assert_eq!(live["state"], "active");
    assert_eq!(live["flavor"], "m1.tiny");
    assert_eq!(live["vcpus"], 1);
    assert_eq!(live["memory_mb"], 512);
    assert_eq!(live["tenant_id"], project.as_str());
    assert_eq!(live["name"], "vm");
    assert!(live["ended_at"].is_null() && live["started_at"].is_string() && live["uptime"].is_i64());
    assert!(live["hours"].as_f64().unwrap() > 0.0 && live["local_gb"].is_i64());
    let gone = servers.iter().find(|s| s["instance_id"] == ids[1].as_str()).unwrap();
    assert_eq!(gone["state"], "terminated");
    assert!(gone["ended_at"].is_string());

    // openstacksdk's `detailed=True` counts as detailed
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("os-simple-tenant-usage?{window}&detailed=True"),
        &admin,
        None,
    )
    .await;
    assert_eq!(v["tenant_usages"][0]["server_usages"].as_array().unwrap().len(), 2);

    // not detailed: totals only
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("os-simple-tenant-usage?{window}"),
        &admin,
        None,
    )
    .await;
    assert!(v["tenant_usages"][0].get("server_usages").is_none());
    assert!(v.get("tenant_usages_links").is_none());

    // paging (2.40): a full page links to the next
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("os-simple-tenant-usage?{window}&detailed=1&limit=1"),
        &admin,
        None,
    )
    .await;
    assert_eq!(v["tenant_usages"][0]["server_usages"].as_array().unwrap().len(), 1);
    let next = v["tenant_usages_links"][0]["href"].as_str().unwrap();
    assert_eq!(v["tenant_usages_links"][0]["rel"], "next");
    let marker = v["tenant_usages"][0]["server_usages"][0]["instance_id"]
        .as_str()
        .unwrap();
    assert!(next.contains(&format!("marker={marker}")), "{next}");
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("os-simple-tenant-usage?{window}&detailed=1&limit=1&marker={marker}"),
        &admin,
        None,
    )
    .await;
    assert_ne!(
        v["tenant_usages"][0]["server_usages"][0]["instance_id"]
            .as_str()
            .unwrap(),
        marker
    );
    let (s, _) = call(
        &cloud,
        Method::GET,
        &format!("os-simple-tenant-usage?{window}&marker=nope"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 400);

    // one project's
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("os-simple-tenant-usage/{project}?{window}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["tenant_usage"]["server_usages"].as_array().unwrap().len(), 2);
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("os-simple-tenant-usage/{other}?{window}"),
        &member,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["tenant_usage"], json!({}));
    // a window before anything ran
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("os-simple-tenant-usage/{project}?start=2000-01-01T00:00:00&end=2000-01-02T00:00:00"),
        &admin,
        None,
    )
    .await;
    assert_eq!(v["tenant_usage"], json!({}));

    // policy and bad input
    let (s, _) = call(&cloud, Method::GET, "os-simple-tenant-usage", &member, None).await;
    assert_eq!(s, 403);
    let (s, _) = call(
        &cloud,
        Method::GET,
        &format!("os-simple-tenant-usage/{project}"),
        &member,
        None,
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = call(
        &cloud,
        Method::GET,
        "os-simple-tenant-usage?start=yesterday",
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("os-simple-tenant-usage?start={end}&end={start}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["badRequest"]["message"],
        "Invalid start time. The start time cannot occur after the end time."
    );
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resize_checks_the_flavor_growth_against_the_quota() {
    let cloud = TestCloud::start().await.with_compute().await;
    let admin = cloud.admin_token().await;
    let project = admin_project(&cloud, &admin).await;
    let img = image(&cloud, &admin).await;
    let (s, v) = boot(&cloud, &admin, &img, json!({})).await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &admin, &id, "ACTIVE").await;
    // m1.tiny (512 MB) fits in 1024 MB; m1.small (2048 MB) does not
    let body = json!({"quota_set": {"ram": 1024}});
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("os-quota-sets/{project}"),
        &admin,
        Some(body),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = call(
        &cloud,
        Method::POST,
        &format!("servers/{id}/action"),
        &admin,
        Some(json!({"resize": {"flavorRef": "2"}})),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        v["forbidden"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Quota exceeded for ram"),
        "{v}"
    );
    let server = wait_status(&cloud, &admin, &id, "ACTIVE").await;
    assert_eq!(server["flavor"]["original_name"], "m1.tiny", "nothing changed");
    cloud.stop().await;
}
