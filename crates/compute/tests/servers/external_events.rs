//! `os-server-external-events`: the per-event codes and the 200/207
//! answer, admin-only policy, Nova's schema per microversion, and what
//! `network-changed` and `network-vif-deleted` do to a server's network
//! info cache and its interfaces. (`volume-extended` from block storage is
//! in `volumes.rs`.)

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

use super::{boot, call, call_at, image, wait_status};

async fn events_at(cloud: &TestCloud, version: &str, token: &str, events: Value) -> (u16, Value) {
    call_at(
        cloud,
        version,
        Method::POST,
        "os-server-external-events",
        token,
        Some(json!({ "events": events })),
    )
    .await
}

async fn active(cloud: &TestCloud, token: &str, img: &str, extra: Value) -> String {
    let (s, v) = boot(cloud, token, img, extra).await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(cloud, token, &id, "ACTIVE").await;
    id
}

async fn actions(cloud: &TestCloud, token: &str, server: &str) -> Vec<Value> {
    let (s, v) = call(
        cloud,
        Method::GET,
        &format!("servers/{server}/os-instance-actions"),
        token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["instanceActions"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_statuses_policy_and_schema() {
    let cloud = TestCloud::start().await.with_compute().await;
    let admin = cloud.admin_token().await;
    let img = image(&cloud, &admin).await;
    let server = active(&cloud, &admin, &img, json!({})).await;
    let unknown = uuid::Uuid::new_v4().to_string();

    // Every event delivered: 200, each `completed` with code 200, the
    // request's fields echoed.
    let (s, v) = events_at(
        &cloud,
        "2.1",
        &admin,
        json!([{"name": "network-vif-plugged", "server_uuid": server, "tag": "p1", "status": "in-progress"},
               {"name": "network-changed", "server_uuid": server}]),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"events": [
            {"name": "network-vif-plugged", "server_uuid": server, "tag": "p1", "status": "completed", "code": 200},
            {"name": "network-changed", "server_uuid": server, "status": "completed", "code": 200}]})
    );

    // One unknown server among them: 207, that one failed with 404.
    let (s, v) = events_at(
        &cloud,
        "2.51",
        &admin,
        json!([{"name": "network-changed", "server_uuid": server},
               {"name": "network-changed", "server_uuid": unknown},
               {"name": "volume-extended", "server_uuid": server}]),
    )
    .await;
    assert_eq!(s, 207, "{v}");
    let codes: Vec<(i64, &str)> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["code"].as_i64().unwrap(), e["status"].as_str().unwrap()))
        .collect();
    // ... and a volume-extended without its tag is dropped with 400.
    assert_eq!(codes, vec![(200, "completed"), (404, "failed"), (400, "failed")]);
    // None delivered: still 207 (Nova since bug 1855752), not 404.
    let (s, v) = events_at(
        &cloud,
        "2.1",
        &admin,
        json!([{"name": "network-changed", "server_uuid": unknown}]),
    )
    .await;
    assert_eq!(s, 207, "{v}");
    assert_eq!(v["events"][0]["code"], 404);

    // A server that never reached a host: 422.
    let (s, v) = boot(
        &cloud,
        &admin,
        &img,
        json!({"metadata": {compute_agent::driver::fake::FAIL_SPAWN_METADATA: "true"}}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let failed = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &admin, &failed, "ERROR").await;
    let (s, v) = events_at(
        &cloud,
        "2.1",
        &admin,
        json!([{"name": "network-changed", "server_uuid": failed}]),
    )
    .await;
    assert_eq!(s, 207, "{v}");
    assert_eq!(v["events"][0]["code"], 422, "{v}");

    // Admin only.
    let (_, _, member) = super::quotas::project_user(&cloud, &admin, "ev", "member").await;
    let (s, v) = events_at(
        &cloud,
        "2.1",
        &member,
        json!([{"name": "network-changed", "server_uuid": server}]),
    )
    .await;
    assert_eq!(s, 403, "{v}");

    // The schema, with the names of each microversion.
    for (version, name) in [
        ("2.50", "volume-extended"),
        ("2.75", "power-update"),
        ("2.81", "accelerator-request-bound"),
        ("2.92", "volume-reimaged"),
        ("2.96", "no-such-event"),
    ] {
        let (s, v) = events_at(
            &cloud,
            version,
            &admin,
            json!([{"name": name, "server_uuid": server, "tag": "t"}]),
        )
        .await;
        assert_eq!(s, 400, "{name} at {version}: {v}");
        let msg = v["badRequest"]["message"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!(
                "Invalid input for field/attribute name. Value: {name}. '{name}' is not one of ['network-changed'"
            )),
            "{msg}"
        );
    }
    for (version, name) in [
        ("2.51", "volume-extended"),
        ("2.82", "accelerator-request-bound"),
        ("2.93", "volume-reimaged"),
    ] {
        let (s, v) = events_at(
            &cloud,
            version,
            &admin,
            json!([{"name": name, "server_uuid": server, "tag": uuid::Uuid::new_v4().to_string()}]),
        )
        .await;
        assert_eq!(s, 200, "{name} at {version}: {v}");
    }
    for body in [
        json!({}),
        json!({"events": []}),
        json!({"events": {}}),
        json!({"events": [], "other": 1}),
        json!({"events": ["network-changed"]}),
        json!({"events": [{"name": "network-changed"}]}),
        json!({"events": [{"name": "network-changed", "server_uuid": "not-a-uuid"}]}),
        json!({"events": [{"name": "network-changed", "server_uuid": server, "status": "done"}]}),
        json!({"events": [{"name": "network-changed", "server_uuid": server, "tag": "x".repeat(256)}]}),
        json!({"events": [{"name": "network-changed", "server_uuid": server, "tag": 5}]}),
        json!({"events": [{"name": "network-changed", "server_uuid": server, "extra": "x"}]}),
    ] {
        let (s, v) = call_at(
            &cloud,
            "2.96",
            Method::POST,
            "os-server-external-events",
            &admin,
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, 400, "{body}: {v}");
        assert!(v["badRequest"]["message"].is_string(), "{v}");
    }

    // power-update records Nova's start/stop action, whose event says the
    // drivers here do not take it; a bad tag is skipped.
    let (s, v) = events_at(
        &cloud,
        "2.76",
        &admin,
        json!([{"name": "power-update", "server_uuid": server, "tag": "POWER_OFF"},
               {"name": "power-update", "server_uuid": server, "tag": "SIDEWAYS"}]),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let list = actions(&cloud, &admin, &server).await;
    assert_eq!(list.iter().filter(|a| a["action"] == "stop").count(), 1, "{list:?}");
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!(
            "servers/{server}/os-instance-actions/{}",
            list.iter().find(|a| a["action"] == "stop").unwrap()["request_id"]
                .as_str()
                .unwrap()
        ),
        &admin,
        None,
    )
    .await;
    assert_eq!(v["instanceAction"]["events"][0]["event"], "compute_power_update", "{v}");
    assert_eq!(v["instanceAction"]["events"][0]["result"], "Error", "{v}");
    // The server itself was not touched.
    wait_status(&cloud, &admin, &server, "ACTIVE").await;
}

async fn net(cloud: &TestCloud, token: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}/v2.0/{path}", cloud.network_url.as_deref().unwrap());
    let mut req = cloud.http.request(method, url).header("x-auth-token", token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn network(cloud: &TestCloud, token: &str, name: &str, cidr: &str, extra: Value) -> (String, String) {
    let mut body = json!({"name": name});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let (s, n) = net(cloud, token, Method::POST, "networks", Some(json!({ "network": body }))).await;
    assert_eq!(s, 201, "{n}");
    let nid = n["network"]["id"].as_str().unwrap().to_owned();
    let (s, sn) = net(
        cloud,
        token,
        Method::POST,
        "subnets",
        Some(json!({"subnet": {"network_id": nid, "cidr": cidr, "ip_version": 4}})),
    )
    .await;
    assert_eq!(s, 201, "{sn}");
    (nid, sn["subnet"]["id"].as_str().unwrap().to_owned())
}

/// The server's `addresses` as a listing shows them (from the cache,
/// which a listing does not refresh).
async fn listed_addresses(cloud: &TestCloud, token: &str, server: &str) -> Value {
    let (s, v) = call(cloud, Method::GET, "servers/detail", token, None).await;
    assert_eq!(s, 200, "{v}");
    v["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == server)
        .unwrap()["addresses"]
        .clone()
}

async fn wait_listed(cloud: &TestCloud, token: &str, server: &str, ok: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let a = listed_addresses(cloud, token, server).await;
        if ok(&a) {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the listed addresses never changed: {}",
        listed_addresses(cloud, token, server).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_events_refresh_the_cache_and_unplug_deleted_ports() {
    let cloud = TestCloud::start().await.with_network().await.with_compute().await;
    let admin = cloud.admin_token().await;
    let img = image(&cloud, &admin).await;
    let (net1, subnet1) = network(&cloud, &admin, "net1", "10.19.0.0/24", json!({})).await;
    let server = active(&cloud, &admin, &img, json!({"networks": [{"uuid": net1}]})).await;
    let (_, v) = net(&cloud, &admin, Method::GET, &format!("ports?device_id={server}"), None).await;
    let port = v["ports"][0]["id"].as_str().unwrap().to_owned();

    // A floating IP made behind compute's back: listings keep the cached
    // addresses until the network service says `network-changed`.
    let (ext, _) = network(
        &cloud,
        &admin,
        "public",
        "172.25.4.0/24",
        json!({"router:external": true}),
    )
    .await;
    let (s, r) = net(
        &cloud,
        &admin,
        Method::POST,
        "routers",
        Some(json!({"router": {"name": "r", "external_gateway_info": {"network_id": ext}}})),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    let router = r["router"]["id"].as_str().unwrap().to_owned();
    let (s, v) = net(
        &cloud,
        &admin,
        Method::PUT,
        &format!("routers/{router}/add_router_interface"),
        Some(json!({"subnet_id": subnet1})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, f) = net(
        &cloud,
        &admin,
        Method::POST,
        "floatingips",
        Some(json!({"floatingip": {"floating_network_id": ext, "port_id": port}})),
    )
    .await;
    assert_eq!(s, 201, "{f}");
    let fip = f["floatingip"]["floating_ip_address"].as_str().unwrap().to_owned();
    let before = listed_addresses(&cloud, &admin, &server).await;
    assert_eq!(before["net1"].as_array().unwrap().len(), 1, "{before}");
    let (s, v) = events_at(
        &cloud,
        "2.1",
        &admin,
        json!([{"name": "network-changed", "server_uuid": server, "tag": port}]),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let after = wait_listed(&cloud, &admin, &server, |a| {
        a["net1"].as_array().is_some_and(|l| l.len() == 2)
    })
    .await;
    assert_eq!(after["net1"][1]["addr"], fip.as_str(), "{after}");
    assert_eq!(after["net1"][1]["OS-EXT-IPS:type"], "floating", "{after}");

    // A port made for the server behind compute's back joins the cache on
    // the network-changed that names it.
    let (s, p2) = net(
        &cloud,
        &admin,
        Method::POST,
        "ports",
        Some(json!({"port": {"network_id": net1, "device_id": server, "device_owner": "compute:nova"}})),
    )
    .await;
    assert_eq!(s, 201, "{p2}");
    let ip2 = p2["port"]["fixed_ips"][0]["ip_address"].as_str().unwrap().to_owned();
    let (s, _) = events_at(
        &cloud,
        "2.1",
        &admin,
        json!([{"name": "network-changed", "server_uuid": server, "tag": p2["port"]["id"]}]),
    )
    .await;
    assert_eq!(s, 200);
    let after = wait_listed(&cloud, &admin, &server, |a| {
        a["net1"].as_array().is_some_and(|l| l.len() == 3)
    })
    .await;
    assert!(
        after["net1"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["addr"] == ip2.as_str()),
        "{after}"
    );

    // A vif-deleted for a port that still is the server's changes nothing.
    let (s, _) = events_at(
        &cloud,
        "2.1",
        &admin,
        json!([{"name": "network-vif-deleted", "server_uuid": server, "tag": port}]),
    )
    .await;
    assert_eq!(s, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let driver = cloud.agents[0].1.clone();
    assert!(driver.instance(&server).unwrap().interfaces.contains_key(&port));

    // The port deleted in the network service: the guest loses the
    // interface and the cache the VIF.
    let (s, v) = net(
        &cloud,
        &admin,
        Method::DELETE,
        &format!("floatingips/{}", f["floatingip"]["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let (s, v) = net(&cloud, &admin, Method::DELETE, &format!("ports/{port}"), None).await;
    assert_eq!(s, 204, "{v}");
    let (s, v) = events_at(
        &cloud,
        "2.1",
        &admin,
        json!([{"name": "network-vif-deleted", "server_uuid": server, "tag": port}]),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let left = wait_listed(&cloud, &admin, &server, |a| {
        a["net1"].as_array().is_some_and(|l| l.len() == 1)
    })
    .await;
    assert_eq!(left["net1"][0]["addr"], ip2.as_str(), "{left}");
    for _ in 0..200 {
        if driver.instance(&server).unwrap().interfaces.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(driver.instance(&server).unwrap().interfaces.is_empty());
    wait_status(&cloud, &admin, &server, "ACTIVE").await;
}
