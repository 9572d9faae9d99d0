//! Servers on networks: the compute service with the network service in
//! the test cloud — ports made, bound and given back, `addresses` from the
//! network info cache (floating IPs included), the `ip` filter, Nova's
//! refusals of bad `networks`, and `os-interface`.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

use super::{boot, call, call_at, image, wait_status};

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

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// A network named `name` with a subnet `cidr`; returns (network, subnet).
async fn network(cloud: &TestCloud, token: &str, name: &str, cidr: &str, extra: Value) -> (String, String) {
    let mut body = json!({"name": name});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let (s, n) = net(cloud, token, Method::POST, "networks", Some(json!({ "network": body }))).await;
    assert_eq!(s, 201, "{n}");
    let nid = id(&n["network"]);
    let (s, sn) = net(
        cloud,
        token,
        Method::POST,
        "subnets",
        Some(json!({"subnet": {"network_id": nid, "cidr": cidr, "ip_version": 4}})),
    )
    .await;
    assert_eq!(s, 201, "{sn}");
    (nid, id(&sn["subnet"]))
}

async fn ports_of(cloud: &TestCloud, token: &str, device: &str) -> Vec<Value> {
    let (s, v) = net(cloud, token, Method::GET, &format!("ports?device_id={device}"), None).await;
    assert_eq!(s, 200, "{v}");
    v["ports"].as_array().cloned().unwrap_or_default()
}

async fn show(cloud: &TestCloud, token: &str, id: &str) -> Value {
    let (s, v) = call(cloud, Method::GET, &format!("servers/{id}"), token, None).await;
    assert_eq!(s, 200, "{v}");
    v["server"].clone()
}

async fn delete_and_wait(cloud: &TestCloud, token: &str, id: &str) {
    let (s, _) = call(cloud, Method::DELETE, &format!("servers/{id}"), token, None).await;
    assert_eq!(s, 204);
    wait_status(cloud, token, id, "DELETED").await;
}

/// Polls until `check` holds on the server's ports (the agent works in
/// the background).
async fn wait_ports(cloud: &TestCloud, token: &str, device: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..200 {
        let ports = ports_of(cloud, token, device).await;
        if check(&ports) {
            return ports;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "the ports of {device} never settled: {:?}",
        ports_of(cloud, token, device).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_get_ports_addresses_and_give_them_back() {
    let cloud = TestCloud::start().await.with_network().await.with_compute().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let (net1, _) = network(&cloud, &token, "net1", "10.9.0.0/24", json!({})).await;

    // A port made on the network, bound to the host, the agent told.
    let (s, v) = boot(&cloud, &token, &img, json!({"networks": [{"uuid": net1}]})).await;
    assert_eq!(s, 202, "{v}");
    let sid = id(&v["server"]);
    let server = wait_status(&cloud, &token, &sid, "ACTIVE").await;
    let ports = ports_of(&cloud, &token, &sid).await;
    assert_eq!(ports.len(), 1, "{ports:?}");
    let port = &ports[0];
    assert_eq!(port["device_owner"], "compute:nova");
    assert_eq!(port["binding:host_id"], "compute1");
    assert_eq!(port["network_id"], net1.as_str());
    let ip = port["fixed_ips"][0]["ip_address"].as_str().unwrap().to_owned();
    let mac = port["mac_address"].as_str().unwrap().to_owned();
    assert_eq!(
        server["addresses"],
        json!({"net1": [{"version": 4, "addr": ip, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": mac}]})
    );
    let driver = cloud.agents[0].1.clone();
    let plugged = driver.instance(&sid).expect("on the fake hypervisor").interfaces;
    assert_eq!(plugged.keys().cloned().collect::<Vec<_>>(), vec![id(port)]);
    assert_eq!(plugged[&id(port)]["address"], mac.as_str());
    assert_eq!(plugged[&id(port)]["devname"], format!("tap{}", &id(port)[..11]));

    // Listings use the cache; `ip` is a regular expression from the start.
    let (_, v) = call(&cloud, Method::GET, "servers/detail", &token, None).await;
    assert_eq!(v["servers"][0]["addresses"]["net1"][0]["addr"], ip.as_str());
    let (_, v) = call(&cloud, Method::GET, "servers?ip=10%5C.9%5C.0", &token, None).await;
    assert_eq!(v["servers"].as_array().unwrap().len(), 1, "{v}");
    let (_, v) = call(&cloud, Method::GET, "servers?ip=9%5C.0", &token, None).await;
    assert_eq!(v["servers"].as_array().unwrap().len(), 0, "{v}");
    let (_, v) = call(&cloud, Method::GET, "servers?ip6=10", &token, None).await;
    assert_eq!(v["servers"].as_array().unwrap().len(), 0, "{v}");
    let (s, _) = call(&cloud, Method::GET, "servers?ip=(", &token, None).await;
    assert_eq!(s, 400);

    // A floating IP shows on the next show.
    let (ext, _) = network(
        &cloud,
        &token,
        "public",
        "172.24.4.0/24",
        json!({"router:external": true}),
    )
    .await;
    let subnet1 = port["fixed_ips"][0]["subnet_id"].as_str().unwrap().to_owned();
    let (s, r) = net(
        &cloud,
        &token,
        Method::POST,
        "routers",
        Some(json!({"router": {"name": "r", "external_gateway_info": {"network_id": ext}}})),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    let (s, v) = net(
        &cloud,
        &token,
        Method::PUT,
        &format!("routers/{}/add_router_interface", id(&r["router"])),
        Some(json!({"subnet_id": subnet1})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, f) = net(
        &cloud,
        &token,
        Method::POST,
        "floatingips",
        Some(json!({"floatingip": {"floating_network_id": ext, "port_id": id(port)}})),
    )
    .await;
    assert_eq!(s, 201, "{f}");
    let fip = f["floatingip"]["floating_ip_address"].as_str().unwrap().to_owned();
    let server = show(&cloud, &token, &sid).await;
    assert_eq!(server["addresses"]["net1"][1]["addr"], fip.as_str(), "{server}");
    assert_eq!(server["addresses"]["net1"][1]["OS-EXT-IPS:type"], "floating");
    assert_eq!(server["addresses"]["net1"][1]["OS-EXT-IPS-MAC:mac_addr"], mac.as_str());
    // ... and is cached for listings.
    let (_, v) = call(&cloud, Method::GET, "servers/detail", &token, None).await;
    assert_eq!(v["servers"][0]["addresses"]["net1"][1]["addr"], fip.as_str());
    // The ips API: the same addresses without the OS-EXT-IPS extensions.
    let (s, v) = call(&cloud, Method::GET, &format!("servers/{sid}/ips"), &token, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"addresses": {"net1": [{"version": 4, "addr": ip}, {"version": 4, "addr": fip}]}})
    );
    let (s, v) = call(&cloud, Method::GET, &format!("servers/{sid}/ips/net1"), &token, None).await;
    assert_eq!(
        (s, v),
        (
            200,
            json!({"net1": [{"version": 4, "addr": ip}, {"version": 4, "addr": fip}]})
        )
    );
    let (s, v) = call(&cloud, Method::GET, &format!("servers/{sid}/ips/public"), &token, None).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(
        v["itemNotFound"]["message"],
        "Instance is not a member of specified network"
    );

    // A rebuild answers with the addresses of the ips API, as Nova does.
    let (s, v) = call(
        &cloud,
        Method::POST,
        &format!("servers/{sid}/action"),
        &token,
        Some(json!({"rebuild": {"imageRef": img}})),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(
        v["server"]["addresses"],
        json!({"net1": [{"version": 4, "addr": ip}, {"version": 4, "addr": fip}]})
    );
    wait_status(&cloud, &token, &sid, "ACTIVE").await;

    // The request id under Nova's legacy name as well.
    let resp = cloud
        .http
        .get(format!("{}/v2.1/servers/{sid}", cloud.compute_url.as_deref().unwrap()))
        .header("x-auth-token", &token)
        .send()
        .await
        .unwrap();
    let request_id = resp.headers().get("x-openstack-request-id").cloned();
    assert!(request_id.is_some());
    assert_eq!(resp.headers().get("x-compute-request-id"), request_id.as_ref());
    let (s, _) = net(
        &cloud,
        &token,
        Method::DELETE,
        &format!("floatingips/{}", id(&f["floatingip"])),
        None,
    )
    .await;
    assert_eq!(s, 204);

    // A port the user made: taken over, refused to a second server,
    // unbound (not deleted) when its server goes.
    let (s, p) = net(
        &cloud,
        &token,
        Method::POST,
        "ports",
        Some(json!({"port": {"network_id": net1, "name": "mine"}})),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    let mine = id(&p["port"]);
    let (s, v) = boot(&cloud, &token, &img, json!({"networks": [{"port": mine}]})).await;
    assert_eq!(s, 202, "{v}");
    let sid2 = id(&v["server"]);
    wait_status(&cloud, &token, &sid2, "ACTIVE").await;
    let (_, v) = net(&cloud, &token, Method::GET, &format!("ports/{mine}"), None).await;
    assert_eq!(v["port"]["device_id"], sid2.as_str());
    assert_eq!(v["port"]["binding:host_id"], "compute1");
    let (s, v) = boot(&cloud, &token, &img, json!({"networks": [{"port": mine}]})).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        v["conflictingRequest"]["message"],
        format!("Port {mine} is still in use.")
    );

    // os-interface: attach a network, list, show, detach.
    let (s, v) = call(
        &cloud,
        Method::POST,
        &format!("servers/{sid}/os-interface"),
        &token,
        Some(json!({"interfaceAttachment": {"net_id": net1}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let att = v["interfaceAttachment"]["port_id"].as_str().unwrap().to_owned();
    assert_eq!(v["interfaceAttachment"]["net_id"], net1.as_str());
    assert!(v["interfaceAttachment"]["tag"].is_null());
    for _ in 0..100 {
        if driver.instance(&sid).unwrap().interfaces.contains_key(&att) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(driver.instance(&sid).unwrap().interfaces.contains_key(&att));
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/{sid}/os-interface"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["interfaceAttachments"].as_array().unwrap().len(), 2, "{v}");
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/{sid}/os-interface/{att}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["interfaceAttachment"]["port_id"], att.as_str());
    let (s, _) = call(
        &cloud,
        Method::GET,
        &format!("servers/{sid}/os-interface/{mine}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        show(&cloud, &token, &sid).await["addresses"]["net1"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (s, v) = call(
        &cloud,
        Method::POST,
        &format!("servers/{sid}/os-interface"),
        &token,
        Some(json!({"interfaceAttachment": {"net_id": net1, "port_id": mine}})),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = call(
        &cloud,
        Method::POST,
        &format!("servers/{sid}/os-interface"),
        &token,
        Some(json!({"interfaceAttachment": {"port_id": mine}})),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = call(
        &cloud,
        Method::DELETE,
        &format!("servers/{sid}/os-interface/{att}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 202);
    let left = wait_ports(&cloud, &token, &sid, |p| p.len() == 1).await;
    assert_eq!(id(&left[0]), id(port));
    assert!(!driver.instance(&sid).unwrap().interfaces.contains_key(&att));
    let (s, _) = net(&cloud, &token, Method::GET, &format!("ports/{att}"), None).await;
    assert_eq!(s, 404, "a port made for an attach goes with its detach");
    let (s, v) = call(
        &cloud,
        Method::DELETE,
        &format!("servers/{sid}/os-interface/{mine}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 404, "{v}");

    // Delete: the made port goes, the user's stays, unbound.
    delete_and_wait(&cloud, &token, &sid).await;
    delete_and_wait(&cloud, &token, &sid2).await;
    let (s, _) = net(&cloud, &token, Method::GET, &format!("ports/{}", id(port)), None).await;
    assert_eq!(s, 404);
    let (s, v) = net(&cloud, &token, Method::GET, &format!("ports/{mine}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(v["port"]["device_id"], "");
    assert_eq!(v["port"]["binding:host_id"], "");
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_networks_are_refused_and_the_only_network_is_used() {
    let cloud = TestCloud::start().await.with_network().await.with_compute().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let boot_at = |version: &'static str, extra: Value| {
        let (cloud, token, img) = (&cloud, token.clone(), img.clone());
        async move {
            let mut server = json!({"name": "vm", "imageRef": img, "flavorRef": "1"});
            if let (Value::Object(s), Value::Object(e)) = (&mut server, extra) {
                s.extend(e);
            }
            call_at(
                cloud,
                version,
                Method::POST,
                "servers",
                &token,
                Some(json!({ "server": server })),
            )
            .await
        }
    };

    // No network at all: `auto` cannot make one; before 2.37 nothing is plugged.
    let (s, v) = boot_at("2.37", json!({"networks": "auto"})).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["badRequest"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Unable to automatically allocate a network")
    );

    let (only, _) = network(&cloud, &token, "only", "10.1.0.0/24", json!({})).await;
    // The project's only network is used when none is named.
    let (s, v) = boot_at("2.36", json!({})).await;
    assert_eq!(s, 202, "{v}");
    let a = id(&v["server"]);
    let (s, v) = boot_at("2.37", json!({"networks": "auto"})).await;
    assert_eq!(s, 202, "{v}");
    let b = id(&v["server"]);
    let (s, v) = boot_at("2.37", json!({"networks": "none"})).await;
    assert_eq!(s, 202, "{v}");
    let c = id(&v["server"]);
    for (server, ports) in [(&a, 1), (&b, 1), (&c, 0)] {
        wait_status(&cloud, &token, server, "ACTIVE").await;
        let p = ports_of(&cloud, &token, server).await;
        assert_eq!(p.len(), ports, "{server}: {p:?}");
        if ports == 1 {
            assert_eq!(p[0]["network_id"], only.as_str());
        }
    }

    // Two networks: naming none is ambiguous.
    network(&cloud, &token, "other", "10.2.0.0/24", json!({})).await;
    let (s, v) = boot_at("2.36", json!({})).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        v["conflictingRequest"]["message"],
        "More than one possible network found. Specify network ID(s) to select which one(s) to connect to."
    );
    let (s, _) = boot_at("2.37", json!({"networks": "auto"})).await;
    assert_eq!(s, 409);

    // Unknown network, unknown port, a network without a subnet, a fixed
    // IP already taken, a port for several servers.
    let ghost = "3f0e1b2a-0000-4000-8000-000000000001";
    let (s, v) = boot(&cloud, &token, &img, json!({"networks": [{"uuid": ghost}]})).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["badRequest"]["message"],
        format!("Network {ghost} could not be found.")
    );
    let (s, v) = boot(&cloud, &token, &img, json!({"networks": [{"port": ghost}]})).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["badRequest"]["message"],
        format!("Port id {ghost} could not be found.")
    );
    let (s, bare) = net(
        &cloud,
        &token,
        Method::POST,
        "networks",
        Some(json!({"network": {"name": "bare"}})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, v) = boot(
        &cloud,
        &token,
        &img,
        json!({"networks": [{"uuid": id(&bare["network"])}]}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["badRequest"]["message"]
            .as_str()
            .unwrap()
            .contains("requires a subnet"),
        "{v}"
    );
    let taken = ports_of(&cloud, &token, &a).await[0]["fixed_ips"][0]["ip_address"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, v) = boot(
        &cloud,
        &token,
        &img,
        json!({"networks": [{"uuid": only, "fixed_ip": taken}]}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["badRequest"]["message"],
        format!("Fixed IP address {taken} is already in use on instance {a}.")
    );
    let (s, v) = boot(
        &cloud,
        &token,
        &img,
        json!({"networks": [{"uuid": only, "fixed_ip": "10.1.0.77"}]}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let d = id(&v["server"]);
    wait_status(&cloud, &token, &d, "ACTIVE").await;
    assert_eq!(
        ports_of(&cloud, &token, &d).await[0]["fixed_ips"][0]["ip_address"],
        "10.1.0.77"
    );
    let (s, p) = net(
        &cloud,
        &token,
        Method::POST,
        "ports",
        Some(json!({"port": {"network_id": only}})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, v) = boot(
        &cloud,
        &token,
        &img,
        json!({"networks": [{"port": id(&p["port"])}], "max_count": 2}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = boot(&cloud, &token, &img, json!({"networks": [{"fixed_ip": "10.1.0.9"}]})).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["badRequest"]["message"], "Bad network format: missing 'uuid'");

    // Nothing was made for the refused ones: only a, b and d have ports.
    let (_, v) = net(&cloud, &token, Method::GET, "ports?device_owner=compute:nova", None).await;
    assert_eq!(v["ports"].as_array().unwrap().len(), 3, "{v}");
    for server in [&a, &b, &c, &d] {
        delete_and_wait(&cloud, &token, server).await;
    }
    let (_, v) = net(&cloud, &token, Method::GET, "ports?device_owner=compute:nova", None).await;
    assert_eq!(v["ports"].as_array().unwrap().len(), 0, "{v}");
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescheduled_build_takes_its_port_along_and_a_failed_allocation_aborts() {
    let mut cloud = TestCloud::start().await.with_network().await.with_compute().await;
    let second = cloud.add_agent("compute2").await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let (net1, _) = network(&cloud, &token, "net1", "10.3.0.0/24", json!({})).await;

    // Equal weights: compute1 is tried first and fails; the port made for
    // it is bound to compute2 instead of a second one being made.
    cloud.agents[0].1.fail_next_spawns(1);
    let (s, v) = boot(&cloud, &token, &img, json!({"networks": [{"uuid": net1}]})).await;
    assert_eq!(s, 202, "{v}");
    let sid = id(&v["server"]);
    let server = wait_status(&cloud, &token, &sid, "ACTIVE").await;
    assert_eq!(server["OS-EXT-SRV-ATTR:host"], "compute2");
    let ports = ports_of(&cloud, &token, &sid).await;
    assert_eq!(ports.len(), 1, "{ports:?}");
    assert_eq!(ports[0]["binding:host_id"], "compute2");
    let plugged = second.instance(&sid).expect("on compute2").interfaces;
    assert!(plugged.contains_key(&id(&ports[0])), "{plugged:?}");
    assert!(cloud.agents[0].1.instance(&sid).is_none());
    delete_and_wait(&cloud, &token, &sid).await;
    assert!(ports_of(&cloud, &token, &sid).await.is_empty());

    // No port can be made (the project's port quota is spent): the build
    // is aborted, not re-scheduled, and says why.
    let project = super::admin_project(&cloud, &token).await;
    let (s, v) = net(
        &cloud,
        &token,
        Method::PUT,
        &format!("quotas/{project}"),
        Some(json!({"quota": {"port": 0}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = boot(&cloud, &token, &img, json!({"networks": [{"uuid": net1}]})).await;
    assert_eq!(s, 202, "{v}");
    let sid = id(&v["server"]);
    let server = wait_status(&cloud, &token, &sid, "ERROR").await;
    let fault = server["fault"]["message"].as_str().unwrap();
    assert!(
        fault.starts_with(&format!(
            "Build of instance {sid} aborted: Failed to allocate the network(s), not rescheduling."
        )),
        "{fault}"
    );
    assert!(server["OS-EXT-SRV-ATTR:host"].is_null(), "{server}");
    delete_and_wait(&cloud, &token, &sid).await;
    cloud.stop().await;
}

/// The network info cache on every database the environment names
/// (`OXISTACK_TEST_POSTGRES`, `OXISTACK_TEST_MYSQL`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_info_cache_on_every_backend() {
    for backend in test_cloud::Backend::from_env() {
        let cloud = TestCloud::start_on(backend)
            .await
            .with_network()
            .await
            .with_compute()
            .await;
        let token = cloud.admin_token().await;
        let img = image(&cloud, &token).await;
        let (net1, _) = network(&cloud, &token, "net1", "10.4.0.0/24", json!({})).await;
        let (s, v) = boot(
            &cloud,
            &token,
            &img,
            json!({"networks": [{"uuid": net1}, {"uuid": net1}]}),
        )
        .await;
        assert_eq!(s, 202, "{backend:?}: {v}");
        let sid = id(&v["server"]);
        wait_status(&cloud, &token, &sid, "ACTIVE").await;
        let (_, v) = call(&cloud, Method::GET, "servers/detail", &token, None).await;
        let addrs = v["servers"][0]["addresses"]["net1"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(addrs.len(), 2, "{backend:?}: {v}");
        assert_ne!(addrs[0]["OS-EXT-IPS-MAC:mac_addr"], addrs[1]["OS-EXT-IPS-MAC:mac_addr"]);
        delete_and_wait(&cloud, &token, &sid).await;
        assert!(ports_of(&cloud, &token, &sid).await.is_empty(), "{backend:?}");
        cloud.stop().await;
    }
}

/// An attach the hypervisor refuses leaves nothing behind: the port made
/// for it is deleted and the server's addresses are as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attach_gives_its_port_back() {
    let cloud = TestCloud::start().await.with_network().await.with_compute().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let (net1, _) = network(&cloud, &token, "net1", "10.5.0.0/24", json!({})).await;
    let (s, v) = boot(&cloud, &token, &img, json!({"networks": [{"uuid": net1}]})).await;
    assert_eq!(s, 202, "{v}");
    let sid = id(&v["server"]);
    wait_status(&cloud, &token, &sid, "ACTIVE").await;
    // The hypervisor loses the guest behind the agent's back.
    assert!(cloud.agents[0].1.forget(&sid));
    let (s, v) = call(
        &cloud,
        Method::POST,
        &format!("servers/{sid}/os-interface"),
        &token,
        Some(json!({"interfaceAttachment": {"net_id": net1}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let att = v["interfaceAttachment"]["port_id"].as_str().unwrap().to_owned();
    let left = wait_ports(&cloud, &token, &sid, |p| p.len() == 1).await;
    assert_ne!(id(&left[0]), att);
    let server = show(&cloud, &token, &sid).await;
    assert_eq!(server["addresses"]["net1"].as_array().unwrap().len(), 1, "{server}");
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/{sid}/os-instance-actions"),
        &token,
        None,
    )
    .await;
    assert_eq!(v["instanceActions"][0]["action"], "attach_interface", "{v}");
    delete_and_wait(&cloud, &token, &sid).await;
    cloud.stop().await;
}
