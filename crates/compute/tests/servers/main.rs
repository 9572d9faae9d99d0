//! Servers, actions, the scheduler and the conductor, through real HTTP
//! against `TestCloud::with_compute()` (identity, placement, image,
//! compute, and fake-driver agents on an in-process bus).

mod diagnostics;
mod external_events;
mod images;
mod migrations;
mod networking;
mod quotas;
mod rescue;
mod usage_audit;
mod volumes;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

const LATEST_VERSION: &str = "2.96";

async fn call(cloud: &TestCloud, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    call_at(cloud, LATEST_VERSION, method, path.trim_start_matches('/'), token, body).await
}

/// A call at an explicit microversion.
pub(crate) async fn call_at(
    cloud: &TestCloud,
    version: &str,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/v2.1/{}", cloud.compute_url.as_deref().unwrap(), path);
    let mut req = cloud
        .http
        .request(method, url)
        .header("x-auth-token", token)
        .header("openstack-api-version", format!("compute {version}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn placement_usages(cloud: &TestCloud, token: &str, project: &str) -> Value {
    let url = format!(
        "{}/usages?project_id={project}",
        cloud.placement_url.as_deref().unwrap()
    );
    let resp = cloud
        .http
        .get(url)
        .header("x-auth-token", token)
        .header("openstack-api-version", "placement 1.36")
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    v["usages"].clone()
}

async fn placement_get(cloud: &TestCloud, token: &str, path: &str) -> Value {
    let url = format!("{}{path}", cloud.placement_url.as_deref().unwrap());
    let resp = cloud
        .http
        .get(url)
        .header("x-auth-token", token)
        .header("openstack-api-version", "placement 1.36")
        .send()
        .await
        .unwrap();
    resp.json().await.unwrap()
}

/// The uuid of the resource provider of the test cloud's one compute host.
async fn host_provider(cloud: &TestCloud, token: &str) -> String {
    let rps = placement_get(cloud, token, "/resource_providers?name=compute1").await;
    rps["resource_providers"][0]["uuid"]
        .as_str()
        .expect("provider of compute1")
        .to_owned()
}

fn usage_is_zero(u: &Value) -> bool {
    u.as_object().is_none_or(|m| m.values().all(|v| v.as_i64() == Some(0)))
}

async fn admin_project(cloud: &TestCloud, token: &str) -> String {
    let (_, v) = cloud.call(Method::GET, "auth/projects", token, None).await;
    v["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An active raw image with a few bytes.
async fn image(cloud: &TestCloud, token: &str) -> String {
    let base = cloud.image_url.as_deref().unwrap();
    let resp = cloud
        .http
        .post(format!("{base}/v2/images"))
        .header("x-auth-token", token)
        .json(&json!({"name": "cirros", "disk_format": "raw", "container_format": "bare"}))
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    let status = cloud
        .http
        .put(format!("{base}/v2/images/{id}/file"))
        .header("x-auth-token", token)
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 4096])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    id
}

async fn boot(cloud: &TestCloud, token: &str, image: &str, extra: Value) -> (u16, Value) {
    let mut server = json!({"name": "vm", "imageRef": image, "flavorRef": "1", "networks": "none"});
    if let (Value::Object(s), Value::Object(e)) = (&mut server, extra) {
        s.extend(e);
    }
    call(cloud, Method::POST, "servers", token, Some(json!({"server": server}))).await
}

async fn wait_status(cloud: &TestCloud, token: &str, id: &str, want: &str) -> Value {
    for _ in 0..200 {
        let (s, v) = call(cloud, Method::GET, &format!("servers/{id}"), token, None).await;
        if s == 404 && want == "DELETED" {
            return Value::Null;
        }
        if v["server"]["status"] == want && v["server"]["OS-EXT-STS:task_state"].is_null() {
            return v["server"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, v) = call(cloud, Method::GET, &format!("servers/{id}"), token, None).await;
    panic!("server {id} never reached {want}: {v}");
}

async fn action(cloud: &TestCloud, token: &str, id: &str, body: Value) -> (u16, Value) {
    call(cloud, Method::POST, &format!("servers/{id}/action"), token, Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boot_act_and_delete() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let project = admin_project(&cloud, &token).await;
    let img = image(&cloud, &token).await;

    let (s, v) = boot(&cloud, &token, &img, json!({"metadata": {"a": "b"}})).await;
    assert_eq!(s, 202, "{v}");
    assert!(v["server"]["adminPass"].is_string());
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    let server = wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert_eq!(server["OS-EXT-SRV-ATTR:host"], "compute1");
    assert_eq!(server["OS-EXT-STS:power_state"], 1);
    assert_eq!(server["metadata"]["a"], "b");
    assert_eq!(server["flavor"]["original_name"], "m1.tiny");
    let u = placement_usages(&cloud, &token, &project).await;
    assert_eq!(u["VCPU"], 1, "{u}");
    // The host's inventory carries Nova's default overcommit and reserve.
    let inv = placement_get(
        &cloud,
        &token,
        &format!(
            "/resource_providers/{}/inventories",
            host_provider(&cloud, &token).await
        ),
    )
    .await;
    assert_eq!(inv["inventories"]["VCPU"]["allocation_ratio"], 4.0, "{inv}");
    assert_eq!(inv["inventories"]["MEMORY_MB"]["allocation_ratio"], 1.0, "{inv}");
    let total = inv["inventories"]["MEMORY_MB"]["total"].as_i64().unwrap();
    assert_eq!(
        inv["inventories"]["MEMORY_MB"]["reserved"].as_i64(),
        Some(total.min(512)),
        "{inv}"
    );

    // stop, then stop again is a 409 with Nova's words
    let (s, _) = action(&cloud, &token, &id, json!({"os-stop": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "SHUTOFF").await;
    let (s, v) = action(&cloud, &token, &id, json!({"os-stop": null})).await;
    assert_eq!(s, 409);
    assert_eq!(
        v["conflictingRequest"]["message"],
        format!("Cannot 'stop' instance {id} while it is in vm_state stopped")
    );
    let (s, _) = action(&cloud, &token, &id, json!({"os-start": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    let (s, _) = action(&cloud, &token, &id, json!({"reboot": {"type": "HARD"}})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    let (s, _) = action(&cloud, &token, &id, json!({"pause": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "PAUSED").await;
    let (s, _) = action(&cloud, &token, &id, json!({"suspend": null})).await;
    assert_eq!(s, 409);
    let (s, _) = action(&cloud, &token, &id, json!({"unpause": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "ACTIVE").await;

    // instance actions
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/{id}/os-instance-actions"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let names: Vec<&str> = v["instanceActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["unpause", "pause", "reboot", "start", "stop", "create"]);
    let req = v["instanceActions"][5]["request_id"].as_str().unwrap();
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/{id}/os-instance-actions/{req}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let events: Vec<&str> = v["instanceAction"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(events.contains(&"compute__do_build_and_run_instance"), "{v}");

    // lock → delete refused for non-admins only; list, filters
    let (s, v) = call(&cloud, Method::GET, "servers?name=^v", &token, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["servers"].as_array().unwrap().len(), 1);
    let (_, v) = call(&cloud, Method::GET, "servers/detail?status=SHUTOFF", &token, None).await;
    assert!(v["servers"].as_array().unwrap().is_empty());

    let (s, _) = call(&cloud, Method::DELETE, &format!("servers/{id}"), &token, None).await;
    assert_eq!(s, 204);
    wait_status(&cloud, &token, &id, "DELETED").await;
    assert!(cloud.agents[0].1.instance(&id).is_none());
    let u = placement_usages(&cloud, &token, &project).await;
    assert!(usage_is_zero(&u), "{u}");
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_creates_nothing() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let (s, v) = boot(&cloud, &token, &img, json!({"flavorRef": "nope"})).await;
    assert_eq!(s, 400);
    assert_eq!(v["badRequest"]["message"], "Invalid flavorRef provided.");
    let (s, v) = boot(&cloud, &token, "1b8b8c3e-0000-4000-8000-000000000000", json!({})).await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = boot(&cloud, &token, &img, json!({"key_name": "missing"})).await;
    assert_eq!(s, 400);
    let (s, _) = boot(&cloud, &token, &img, json!({"user_data": "not base64!"})).await;
    assert_eq!(s, 400);
    let (s, _) = boot(&cloud, &token, &img, json!({"availability_zone": "nowhere"})).await;
    assert_eq!(s, 400);
    let (s, _) = boot(&cloud, &token, &img, json!({"min_count": 3, "max_count": 2})).await;
    assert_eq!(s, 400);
    let (_, v) = call(&cloud, Method::GET, "servers", &token, None).await;
    assert!(v["servers"].as_array().unwrap().is_empty());
    let (s, v) = call(
        &cloud,
        Method::GET,
        "servers/00000000-0000-0000-0000-000000000000",
        &token,
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert!(
        v["itemNotFound"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be found")
    );
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_and_multi_create() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let project = admin_project(&cloud, &token).await;
    let img = image(&cloud, &token).await;
    cloud
        .compute
        .as_ref()
        .unwrap()
        .set_quota_limits(&project, None, &[("instances".to_owned(), 2)].into_iter().collect())
        .await
        .unwrap();
    let (s, v) = boot(
        &cloud,
        &token,
        &img,
        json!({"min_count": 2, "max_count": 2, "return_reservation_id": true}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    assert!(v["reservation_id"].as_str().unwrap().starts_with("r-"));
    let (_, v) = call(&cloud, Method::GET, "servers", &token, None).await;
    let names: Vec<String> = v["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"vm-1".to_owned()) && names.contains(&"vm-2".to_owned()));
    let (s, v) = boot(&cloud, &token, &img, json!({})).await;
    assert_eq!(s, 403);
    assert_eq!(
        v["forbidden"]["message"],
        "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances"
    );
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reschedule_then_error_after_max_attempts() {
    let mut cloud = TestCloud::start().await.with_compute().await;
    let second = cloud.add_agent("compute2").await;
    let token = cloud.admin_token().await;
    let project = admin_project(&cloud, &token).await;
    let img = image(&cloud, &token).await;

    // Equal weights: compute1 is tried first, fails, the build moves on.
    cloud.agents[0].1.fail_next_spawns(1);
    let (s, v) = boot(&cloud, &token, &img, json!({})).await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    let server = wait_status(&cloud, &token, &id, "ACTIVE").await;
    let host = server["OS-EXT-SRV-ATTR:host"].as_str().unwrap().to_owned();
    let u = placement_usages(&cloud, &token, &project).await;
    assert_eq!(u["VCPU"], 1, "{u}");
    let (s, _) = call(&cloud, Method::DELETE, &format!("servers/{id}"), &token, None).await;
    assert_eq!(s, 204);
    wait_status(&cloud, &token, &id, "DELETED").await;
    assert_eq!(host, "compute2");
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/{id}/os-instance-actions"),
        &token,
        None,
    )
    .await;
    assert_eq!(v["instanceActions"][0]["action"], "delete");

    // Every host fails: ERROR after the attempts, nothing allocated.
    cloud.agents[0].1.fail_next_spawns(5);
    second.fail_next_spawns(5);
    let (_, v) = boot(&cloud, &token, &img, json!({})).await;
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    let server = wait_status(&cloud, &token, &id, "ERROR").await;
    let msg = server["fault"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("No valid host was found.") || msg.starts_with("Exceeded maximum number of retries."),
        "{msg}"
    );
    let u = placement_usages(&cloud, &token, &project).await;
    assert!(usage_is_zero(&u), "{u}");
    let (s, _) = call(&cloud, Method::DELETE, &format!("servers/{id}"), &token, None).await;
    assert_eq!(s, 204);
    wait_status(&cloud, &token, &id, "DELETED").await;
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_groups_spread_and_pack() {
    let mut cloud = TestCloud::start().await.with_compute().await;
    cloud.add_agent("compute2").await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let (s, v) = call(
        &cloud,
        Method::POST,
        "os-server-groups",
        &token,
        Some(json!({"server_group": {"name": "anti", "policy": "anti-affinity"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let group = v["server_group"]["id"].as_str().unwrap().to_owned();
    let mut hosts = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let body = json!({"server": {"name": "g", "imageRef": img, "flavorRef": "1", "networks": "none"},
                          "os:scheduler_hints": {"group": group}});
        let (s, v) = call(&cloud, Method::POST, "servers", &token, Some(body)).await;
        assert_eq!(s, 202, "{v}");
        ids.push(v["server"]["id"].as_str().unwrap().to_owned());
    }
    for id in &ids[..2] {
        let server = wait_status(&cloud, &token, id, "ACTIVE").await;
        hosts.push(server["OS-EXT-SRV-ATTR:host"].as_str().unwrap().to_owned());
    }
    assert_ne!(hosts[0], hosts[1]);
    let third = wait_status(&cloud, &token, &ids[2], "ERROR").await;
    assert!(
        third["fault"]["message"]
            .as_str()
            .unwrap()
            .starts_with("No valid host was found.")
    );
    let (_, v) = call(&cloud, Method::GET, &format!("os-server-groups/{group}"), &token, None).await;
    assert_eq!(v["server_group"]["members"].as_array().unwrap().len(), 3);

    let (_, v) = call(
        &cloud,
        Method::POST,
        "os-server-groups",
        &token,
        Some(json!({"server_group": {"name": "aff", "policy": "affinity"}})),
    )
    .await;
    let aff = v["server_group"]["id"].as_str().unwrap().to_owned();
    let mut aff_hosts = Vec::new();
    for _ in 0..2 {
        let body = json!({"server": {"name": "a", "imageRef": img, "flavorRef": "1", "networks": "none"},
                          "os:scheduler_hints": {"group": aff}});
        let (_, v) = call(&cloud, Method::POST, "servers", &token, Some(body)).await;
        let id = v["server"]["id"].as_str().unwrap().to_owned();
        let server = wait_status(&cloud, &token, &id, "ACTIVE").await;
        aff_hosts.push(server["OS-EXT-SRV-ATTR:host"].as_str().unwrap().to_owned());
    }
    assert_eq!(aff_hosts[0], aff_hosts[1]);
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_agent_means_local_delete() {
    let cloud = TestCloud::start()
        .await
        .with_compute_config(|c| c.service_down_time = Duration::from_secs(1))
        .await;
    let token = cloud.admin_token().await;
    let project = admin_project(&cloud, &token).await;
    let img = image(&cloud, &token).await;
    let (_, v) = boot(&cloud, &token, &img, json!({})).await;
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    cloud.agents[0].0.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let server = wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert_eq!(server["host_status"], "DOWN");
    let (s, _) = call(&cloud, Method::DELETE, &format!("servers/{id}"), &token, None).await;
    assert_eq!(s, 204);
    let (s, _) = call(&cloud, Method::GET, &format!("servers/{id}"), &token, None).await;
    assert_eq!(s, 404);
    let u = placement_usages(&cloud, &token, &project).await;
    assert!(usage_is_zero(&u), "{u}");
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_makes_an_active_image() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let (_, v) = boot(&cloud, &token, &img, json!({})).await;
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    let (s, v) = action(&cloud, &token, &id, json!({"createImage": {"name": "snap"}})).await;
    assert_eq!(s, 202, "{v}");
    let image_id = v["image_id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    let base = cloud.image_url.as_deref().unwrap();
    let mut status = String::new();
    for _ in 0..100 {
        let v: Value = cloud
            .http
            .get(format!("{base}/v2/images/{image_id}"))
            .header("x-auth-token", &token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        status = v["status"].as_str().unwrap_or_default().to_owned();
        if status == "active" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "active");
    cloud.stop().await;
}

/// Nova (lp:#1185290): a `tenant_id`/`project_id` filter counts only with
/// `all_tenants`; without it an admin lists its own project's servers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_filter_needs_all_tenants() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let project = admin_project(&cloud, &token).await;
    let (other, _, _) = quotas::project_user(&cloud, &token, "other", "member").await;
    let img = image(&cloud, &token).await;
    let (s, v) = boot(&cloud, &token, &img, json!({})).await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    let ids = |v: &Value| -> Vec<String> {
        v["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };

    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/detail?tenant_id={other}"),
        &token,
        None,
    )
    .await;
    assert_eq!(ids(&v), vec![id.clone()], "{v}");
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("servers?project_id={other}"),
        &token,
        None,
    )
    .await;
    assert_eq!(ids(&v), vec![id.clone()], "{v}");
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/detail?all_tenants=1&tenant_id={other}"),
        &token,
        None,
    )
    .await;
    assert!(ids(&v).is_empty(), "{v}");
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/detail?all_tenants&project_id={project}"),
        &token,
        None,
    )
    .await;
    assert_eq!(ids(&v), vec![id], "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_create_is_placed_in_one_pass_and_spread() {
    let mut cloud = TestCloud::start().await.with_compute().await;
    cloud.add_agent("compute2").await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    // One scheduler reading serves the four instances: unless each claim
    // is counted in, the RAM weigher would send all four to one host.
    let (s, v) = boot(
        &cloud,
        &token,
        &img,
        json!({"min_count": 4, "max_count": 4, "return_reservation_id": true}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let reservation = v["reservation_id"].as_str().unwrap().to_owned();
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("servers?reservation_id={reservation}"),
        &token,
        None,
    )
    .await;
    let mut per_host = std::collections::BTreeMap::<String, usize>::new();
    for server in v["servers"].as_array().unwrap() {
        let server = wait_status(&cloud, &token, server["id"].as_str().unwrap(), "ACTIVE").await;
        *per_host
            .entry(server["OS-EXT-SRV-ATTR:host"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(
        per_host.values().copied().collect::<Vec<_>>(),
        vec![2, 2],
        "{per_host:?}"
    );
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_lists_page_by_marker() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let (s, v) = boot(
        &cloud,
        &token,
        &img,
        json!({"name": "p", "min_count": 5, "max_count": 5}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let (_, v) = call(&cloud, Method::GET, "servers/detail", &token, None).await;
    let ids = |v: &Value| -> Vec<String> {
        v["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = ids(&v);
    assert_eq!(all.len(), 5);
    assert!(v.get("servers_links").is_none(), "{v}");

    // Newest first, two at a time, by the next links.
    let mut paged = Vec::new();
    let mut sizes = Vec::new();
    let mut path = "servers/detail?limit=2".to_owned();
    loop {
        let (s, v) = call(&cloud, Method::GET, &path, &token, None).await;
        assert_eq!(s, 200, "{v}");
        sizes.push(v["servers"].as_array().unwrap().len());
        paged.extend(ids(&v));
        let Some(next) = v["servers_links"][0]["href"].as_str() else {
            break;
        };
        path = next.split_once("/v2.1/").unwrap().1.to_owned();
    }
    assert_eq!(paged, all);
    assert_eq!(sizes, vec![2, 2, 1]);
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("servers?limit=2&marker={}", all[3]),
        &token,
        None,
    )
    .await;
    assert_eq!(ids(&v), all[4..].to_vec());
    let (s, v) = call(&cloud, Method::GET, "servers?marker=nope", &token, None).await;
    assert_eq!(
        (s, v["badRequest"]["message"].as_str()),
        (400, Some("marker [nope] not found"))
    );

    // Another order: the marker is found among the sorted rows.
    let (_, v) = call(
        &cloud,
        Method::GET,
        "servers?sort_key=display_name&sort_dir=asc",
        &token,
        None,
    )
    .await;
    let by_name = ids(&v);
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!(
            "servers?sort_key=display_name&sort_dir=asc&limit=2&marker={}",
            by_name[1]
        ),
        &token,
        None,
    )
    .await;
    assert_eq!(ids(&v), by_name[2..4].to_vec());
    // A filter the database does not apply still gets a full page.
    let (_, v) = call(&cloud, Method::GET, "servers?name=p-[345]&limit=2", &token, None).await;
    assert_eq!(v["servers"].as_array().unwrap().len(), 2, "{v}");
    cloud.stop().await;
}
