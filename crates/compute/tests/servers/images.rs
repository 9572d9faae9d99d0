//! The image proxy (`/images`), backups with rotation, `os-resetState`,
//! access addresses, `os-hosts` and hypervisor uptime, over HTTP.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

use super::{action, boot, call, call_at, image, wait_status};

/// The microversion of the proxy APIs (`/images`, `os-hosts`).
const PROXY: &str = "2.35";

/// The proxy's view of the images of `server`, after `filter`.
async fn images_of(cloud: &TestCloud, token: &str, query: &str) -> Vec<Value> {
    let (s, v) = call_at(
        cloud,
        PROXY,
        Method::GET,
        &format!("images/detail?{query}"),
        token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["images"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_proxy_shows_lists_and_edits_metadata() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;

    let (s, v) = call_at(&cloud, PROXY, Method::GET, &format!("images/{img}"), &token, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["image"]["status"], "ACTIVE");
    assert_eq!(v["image"]["progress"], 100);
    assert_eq!(v["image"]["OS-EXT-IMG-SIZE:size"], 4096);
    // gone after 2.35, as in Nova
    let (s, _) = call(&cloud, Method::GET, &format!("images/{img}"), &token, None).await;
    assert_eq!(s, 404);
    let (s, _) = call_at(&cloud, PROXY, Method::GET, "images/no-such-image", &token, None).await;
    assert_eq!(s, 404);

    // metadata: merge, show one, replace one, replace all, delete
    let path = format!("images/{img}/metadata");
    let (s, v) = call_at(
        &cloud,
        PROXY,
        Method::POST,
        &path,
        &token,
        Some(json!({"metadata": {"os_distro": "cirros", "a": "1"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["metadata"]["os_distro"], "cirros");
    let (s, v) = call_at(&cloud, PROXY, Method::GET, &format!("{path}/a"), &token, None).await;
    assert_eq!((s, v["meta"]["a"].clone()), (200, json!("1")));
    let (s, v) = call_at(
        &cloud,
        PROXY,
        Method::PUT,
        &format!("{path}/a"),
        &token,
        Some(json!({"meta": {"b": "2"}})),
    )
    .await;
    assert_eq!(s, 400, "key and URI differ: {v}");
    let (s, _) = call_at(
        &cloud,
        PROXY,
        Method::PUT,
        &format!("{path}/a"),
        &token,
        Some(json!({"meta": {"a": "3"}})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = call_at(
        &cloud,
        PROXY,
        Method::PUT,
        &path,
        &token,
        Some(json!({"metadata": {"c": "4"}})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["metadata"], json!({"c": "4"}));
    let (s, _) = call_at(&cloud, PROXY, Method::DELETE, &format!("{path}/c"), &token, None).await;
    assert_eq!(s, 204);
    let (s, _) = call_at(&cloud, PROXY, Method::DELETE, &format!("{path}/c"), &token, None).await;
    assert_eq!(s, 404);

    // filters and paging
    assert!(
        images_of(&cloud, &token, "status=ACTIVE")
            .await
            .iter()
            .any(|i| i["id"] == img.as_str())
    );
    assert!(
        images_of(&cloud, &token, "name=cirros")
            .await
            .iter()
            .any(|i| i["id"] == img.as_str())
    );
    assert!(images_of(&cloud, &token, "name=other").await.is_empty());
    assert!(images_of(&cloud, &token, "minRam=1").await.is_empty());
    let (s, v) = call_at(&cloud, PROXY, Method::GET, "images?limit=1", &token, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["images"].as_array().unwrap().len(), 1);
    assert!(
        v["images_links"][0]["href"].as_str().unwrap().contains("marker="),
        "{v}"
    );

    let (s, _) = call_at(&cloud, PROXY, Method::DELETE, &format!("images/{img}"), &token, None).await;
    assert_eq!(s, 204);
    let (s, _) = call_at(&cloud, PROXY, Method::GET, &format!("images/{img}"), &token, None).await;
    assert_eq!(s, 404);
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_rotate_and_reset_state_forces_a_state() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let (s, v) = boot(
        &cloud,
        &token,
        &img,
        json!({"accessIPv6": "0:0:0:0:0:babe:220.12.22.2"}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    let server = wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert_eq!(server["accessIPv6"], "::babe:dc0c:1602");
    let (s, _) = boot(&cloud, &token, &img, json!({"accessIPv4": "300.1.1.1"})).await;
    assert_eq!(s, 400);

    let mut backups = Vec::new();
    for n in 0..3 {
        let body = json!({"createBackup": {"name": format!("b{n}"), "backup_type": "daily", "rotation": 2}});
        let (s, v) = action(&cloud, &token, &id, body).await;
        assert_eq!(s, 202, "{v}");
        backups.push(v["image_id"].as_str().unwrap().to_owned());
        wait_status(&cloud, &token, &id, "ACTIVE").await;
    }
    // the oldest goes once the third is uploaded
    let mut left = Vec::new();
    for _ in 0..200 {
        left = images_of(&cloud, &token, &format!("server={id}&type=backup")).await;
        if left.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ids: Vec<&str> = left.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{left:?}");
    assert!(!ids.contains(&backups[0].as_str()));
    assert_eq!(left[0]["server"]["id"], id.as_str());
    assert_eq!(left[0]["metadata"]["backup_type"], "daily");
    let (s, _) = action(
        &cloud,
        &token,
        &id,
        json!({"createBackup": {"name": "x", "backup_type": "daily"}}),
    )
    .await;
    assert_eq!(s, 400, "rotation is required");

    // rebuild answers the plain view before 2.75, with the key (2.54)
    // and the user data (2.57) under their own names
    let rebuild = json!({"rebuild": {"imageRef": img}});
    let path = format!("servers/{id}/action");
    let (s, v) = call_at(&cloud, "2.1", Method::POST, &path, &token, Some(rebuild.clone())).await;
    assert_eq!(s, 202, "{v}");
    assert!(
        v["server"].get("OS-EXT-STS:vm_state").is_none() && v["server"].get("key_name").is_none(),
        "{v}"
    );
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    let (s, v) = call_at(&cloud, "2.57", Method::POST, &path, &token, Some(rebuild)).await;
    assert_eq!(s, 202, "{v}");
    let o = v["server"].as_object().unwrap();
    assert!(o.contains_key("key_name") && o.contains_key("user_data"), "{v}");
    assert!(!o.contains_key("OS-EXT-SRV-ATTR:user_data"), "{v}");
    wait_status(&cloud, &token, &id, "ACTIVE").await;

    let (s, _) = action(&cloud, &token, &id, json!({"os-resetState": {"state": "error"}})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "ERROR").await;
    let (s, _) = action(&cloud, &token, &id, json!({"os-resetState": {"state": "lost"}})).await;
    assert_eq!(s, 400);
    let (s, _) = action(&cloud, &token, &id, json!({"os-resetState": {"state": "active"}})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn os_hosts_lists_shows_and_disables() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let (s, v) = call_at(&cloud, PROXY, Method::GET, "os-hosts", &token, None).await;
    assert_eq!(s, 200, "{v}");
    let compute: Vec<&Value> = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["service"] == "compute")
        .collect();
    assert!(!compute.is_empty(), "{v}");
    let host = compute[0]["host_name"].as_str().unwrap().to_owned();
    let zone = compute[0]["zone"].as_str().unwrap().to_owned();
    let (_, v) = call_at(
        &cloud,
        PROXY,
        Method::GET,
        &format!("os-hosts?zone={zone}"),
        &token,
        None,
    )
    .await;
    assert!(
        v["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["host_name"] == host.as_str())
    );
    let (_, v) = call_at(&cloud, PROXY, Method::GET, "os-hosts?zone=nowhere", &token, None).await;
    assert_eq!(v["hosts"], json!([]));

    let (s, v) = call_at(&cloud, PROXY, Method::GET, &format!("os-hosts/{host}"), &token, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["host"][0]["resource"]["project"], "(total)");
    assert_eq!(v["host"][0]["resource"]["host"], host.as_str());
    let (s, _) = call_at(&cloud, PROXY, Method::GET, "os-hosts/nowhere", &token, None).await;
    assert_eq!(s, 404);
    // removed in 2.43
    let (s, _) = call_at(&cloud, "2.43", Method::GET, "os-hosts", &token, None).await;
    assert_eq!(s, 404);

    let path = format!("os-hosts/{host}");
    let (s, v) = call_at(
        &cloud,
        PROXY,
        Method::PUT,
        &path,
        &token,
        Some(json!({"status": "disable"})),
    )
    .await;
    assert_eq!((s, v["status"].clone()), (200, json!("disabled")), "{v}");
    let (s, _) = call_at(
        &cloud,
        PROXY,
        Method::PUT,
        &path,
        &token,
        Some(json!({"status": "off"})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call_at(&cloud, PROXY, Method::PUT, &path, &token, Some(json!({}))).await;
    assert_eq!(s, 400);
    let (s, v) = call_at(
        &cloud,
        PROXY,
        Method::PUT,
        &path,
        &token,
        Some(json!({"status": "enable"})),
    )
    .await;
    assert_eq!((s, v["status"].clone()), (200, json!("enabled")));
    let (s, _) = call_at(&cloud, PROXY, Method::GET, &format!("{path}/startup"), &token, None).await;
    assert_eq!(s, 501);
    let (s, _) = call_at(&cloud, PROXY, Method::GET, "os-hosts/nowhere/reboot", &token, None).await;
    assert_eq!(s, 404);

    // the hypervisor's uptime comes from its agent
    let (_, v) = call_at(&cloud, PROXY, Method::GET, "os-hypervisors", &token, None).await;
    let hid = v["hypervisors"][0]["id"].clone();
    let (s, v) = call_at(
        &cloud,
        PROXY,
        Method::GET,
        &format!("os-hypervisors/{hid}/uptime"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["hypervisor"]["uptime"].as_str().unwrap().contains(" up "), "{v}");
    cloud.stop().await;
}
