//! Ports: MACs, fixed IPs (requested, automatic, exhausted, racing),
//! port security, address pairs, bindings, visibility.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

use crate::{assert_error, call, cloud, id, network, port, project_user, subnet};

async fn post(cloud: &TestCloud, token: &str, body: Value) -> (u16, Value) {
    call(cloud, Method::POST, "ports", token, Some(json!({"port": body}))).await
}

#[tokio::test]
async fn create_with_defaults_and_requested_addresses() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let nid = id(&network(&cloud, &admin, json!({})).await);
    let sid = id(&subnet(&cloud, &admin, &nid, "10.0.0.0/24", json!({})).await);
    let p = port(
        &cloud,
        &admin,
        json!({"network_id": nid, "name": "p1", "device_id": "vm1"}),
    )
    .await;
    assert_eq!(p["status"], "DOWN");
    assert_eq!(p["admin_state_up"], true);
    assert!(p["mac_address"].as_str().unwrap().starts_with("fa:16:3e:"), "{p}");
    assert_eq!(p["fixed_ips"].as_array().unwrap().len(), 1);
    assert_eq!(p["fixed_ips"][0]["subnet_id"], sid.as_str());
    let ip: std::net::Ipv4Addr = p["fixed_ips"][0]["ip_address"].as_str().unwrap().parse().unwrap();
    assert!(ip.octets()[3] >= 2 && ip.octets()[3] <= 254, "{ip}");
    assert_eq!(p["port_security_enabled"], true);
    assert_eq!(
        p["security_groups"].as_array().unwrap().len(),
        1,
        "the default group: {p}"
    );
    assert_eq!(p["allowed_address_pairs"], json!([]));
    assert_eq!(p["binding:vnic_type"], "normal");
    assert_eq!(p["binding:vif_type"], "unbound");
    assert_eq!(p["binding:host_id"], "");
    assert_eq!(p["dns_name"], "");
    assert_eq!(p["device_id"], "vm1");
    let (_, groups) = call(&cloud, Method::GET, "security-groups?name=default", &admin, None).await;
    assert_eq!(p["security_groups"][0], groups["security_groups"][0]["id"]);

    let fixed = port(
        &cloud,
        &admin,
        json!({"network_id": nid, "fixed_ips": [{"subnet_id": sid, "ip_address": "10.0.0.50"}]}),
    )
    .await;
    assert_eq!(fixed["fixed_ips"][0]["ip_address"], "10.0.0.50");
    // Outside the pools but inside the CIDR is fine when asked for.
    let by_ip = port(
        &cloud,
        &admin,
        json!({"network_id": nid, "fixed_ips": [{"ip_address": "10.0.0.1"}]}),
    )
    .await;
    assert_eq!(by_ip["fixed_ips"][0]["subnet_id"], sid.as_str());

    let (s, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "fixed_ips": [{"ip_address": "10.0.0.50"}]}),
    )
    .await;
    assert_error(s, &v, 409, "IpAddressAlreadyAllocated");
    let (s, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "fixed_ips": [{"subnet_id": sid, "ip_address": "10.9.0.5"}]}),
    )
    .await;
    assert_error(s, &v, 400, "InvalidIpForSubnet");
    let (s, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "fixed_ips": [{"ip_address": "10.9.0.5"}]}),
    )
    .await;
    assert_error(s, &v, 400, "InvalidIpForNetwork");
    let (s, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "fixed_ips": [{"ip_address": "10.0.0.255"}]}),
    )
    .await;
    assert_error(s, &v, 400, "InvalidIpForNetwork");
    let (s, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "fixed_ips": [{"ip_address": "banana"}]}),
    )
    .await;
    assert_error(s, &v, 400, "HTTPBadRequest");
    let (s, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "fixed_ips": [{"subnet_id": "00000000-0000-4000-8000-000000000000"}]}),
    )
    .await;
    assert_error(s, &v, 400, "InvalidInput");

    // MACs: as asked, unique per network, well-formed.
    let m = port(
        &cloud,
        &admin,
        json!({"network_id": nid, "mac_address": "FA:16:3E:AA:BB:CC"}),
    )
    .await;
    assert_eq!(m["mac_address"], "fa:16:3e:aa:bb:cc");
    let (s, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "mac_address": "fa:16:3e:aa:bb:cc"}),
    )
    .await;
    assert_error(s, &v, 409, "MacAddressInUse");
    let (s, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "mac_address": "fa:16:3e:aa:bb"}),
    )
    .await;
    assert_error(s, &v, 400, "HTTPBadRequest");
    let other = id(&network(&cloud, &admin, json!({})).await);
    port(
        &cloud,
        &admin,
        json!({"network_id": other, "mac_address": "fa:16:3e:aa:bb:cc"}),
    )
    .await;

    // No fixed IPs at all when asked for none; no network is a 404.
    let bare = port(&cloud, &admin, json!({"network_id": nid, "fixed_ips": []})).await;
    assert_eq!(bare["fixed_ips"], json!([]));
    assert_eq!(bare["security_groups"], json!([]));
    let (s, v) = post(
        &cloud,
        &admin,
        json!({"network_id": "00000000-0000-4000-8000-000000000000"}),
    )
    .await;
    assert_error(s, &v, 404, "NetworkNotFound");
    let (s, v) = post(&cloud, &admin, json!({"name": "x"})).await;
    assert_error(s, &v, 400, "HTTPBadRequest");

    // Filters by device and address.
    let (_, v) = call(&cloud, Method::GET, "ports?device_id=vm1", &admin, None).await;
    assert_eq!(v["ports"].as_array().unwrap().len(), 1);
    let (_, v) = call(
        &cloud,
        Method::GET,
        "ports?fixed_ips=ip_address%3D10.0.0.50",
        &admin,
        None,
    )
    .await;
    assert_eq!(v["ports"][0]["id"], fixed["id"]);
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("ports?fixed_ips=subnet_id%3D{sid}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(v["ports"].as_array().unwrap().len(), 4);
    cloud.stop().await;
}

#[tokio::test]
async fn updates_of_addresses_security_and_bindings() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, member) = project_user(&cloud, &admin, "p1", "member").await;
    let nid = id(&network(&cloud, &member, json!({})).await);
    let sid = id(&subnet(&cloud, &member, &nid, "10.0.0.0/24", json!({})).await);
    let p = port(&cloud, &member, json!({"network_id": nid})).await;
    let pid = id(&p);
    // Members do not see the binding details.
    assert!(p.get("binding:host_id").is_none(), "{p}");
    let put = |token: &str, body: Value| {
        let token = token.to_owned();
        let cloud = &cloud;
        let path = format!("ports/{pid}");
        async move { call(cloud, Method::PUT, &path, &token, Some(json!({"port": body}))).await }
    };
    let old_ip = p["fixed_ips"][0]["ip_address"].clone();
    let (s, v) = put(
        &member,
        json!({"fixed_ips": [{"subnet_id": sid, "ip_address": old_ip}, {"ip_address": "10.0.0.77"}]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["port"]["fixed_ips"].as_array().unwrap().len(), 2);
    assert_eq!(v["port"]["revision_number"], 2);
    let (s, v) = put(&member, json!({"fixed_ips": [{"ip_address": "10.0.0.77"}]})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["port"]["fixed_ips"],
        json!([{"subnet_id": sid, "ip_address": "10.0.0.77"}])
    );
    // The address given back is free again.
    let again = port(
        &cloud,
        &member,
        json!({"network_id": nid, "fixed_ips": [{"ip_address": old_ip}]}),
    )
    .await;
    assert_eq!(again["fixed_ips"][0]["ip_address"], old_ip);

    // Port security off needs the groups and the pairs gone first.
    let (s, v) = put(&member, json!({"port_security_enabled": false})).await;
    assert_error(s, &v, 409, "PortSecurityPortHasSecurityGroup");
    let (s, v) = put(
        &member,
        json!({"allowed_address_pairs": [{"ip_address": "10.0.0.200"}]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["port"]["allowed_address_pairs"][0]["mac_address"], p["mac_address"]);
    let (s, v) = put(&member, json!({"security_groups": [], "port_security_enabled": false})).await;
    assert_error(s, &v, 409, "AddressPairAndPortSecurityRequired");
    let (s, v) = put(
        &member,
        json!({"security_groups": [], "allowed_address_pairs": [], "port_security_enabled": false}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["port"]["port_security_enabled"], false);
    let (_, groups) = call(&cloud, Method::GET, "security-groups", &member, None).await;
    let default = groups["security_groups"][0]["id"].clone();
    let (s, v) = put(&member, json!({"security_groups": [default]})).await;
    assert_error(s, &v, 400, "PortSecurityAndIPRequiredForSecurityGroups");
    let (s, v) = post(
        &cloud,
        &member,
        json!({"network_id": nid, "security_groups": ["00000000-0000-4000-8000-000000000000"]}),
    )
    .await;
    assert_error(s, &v, 404, "SecurityGroupNotFound");
    let (s, v) = post(&cloud, &member, json!({"network_id": nid, "security_groups": ["nope"]})).await;
    assert_error(s, &v, 400, "HTTPBadRequest");
    let insecure = port(
        &cloud,
        &member,
        json!({"network_id": nid, "port_security_enabled": false}),
    )
    .await;
    assert_eq!(insecure["security_groups"], json!([]));

    // Bindings are the admin's (and services') to set and see.
    let (s, v) = put(&member, json!({"binding:host_id": "compute1"})).await;
    assert_error(s, &v, 403, "PolicyNotAuthorized");
    let (s, v) = put(
        &admin,
        json!({"binding:host_id": "compute1", "binding:profile": {"a": 1}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["port"]["binding:host_id"], "compute1");
    assert_eq!(v["port"]["binding:vif_type"], "bridge");
    assert_eq!(v["port"]["binding:profile"], json!({"a": 1}));
    assert_eq!(v["port"]["status"], "DOWN");
    let (s, v) = put(&admin, json!({"mac_address": "fa:16:3e:00:00:01"})).await;
    assert_error(s, &v, 409, "PortBound");
    let (s, v) = put(&admin, json!({"binding:vnic_type": "warp-drive"})).await;
    assert_error(s, &v, 400, "HTTPBadRequest");
    let (s, v) = put(&member, json!({"device_owner": "network:router_interface"})).await;
    assert_eq!(s, 200, "the network's owner may: {v}");
    let (s, v) = put(&member, json!({"status": "ACTIVE"})).await;
    assert_error(s, &v, 400, "HTTPBadRequest");

    // Another member can neither see nor touch it.
    let (_, other) = project_user(&cloud, &admin, "p2", "member").await;
    let (s, v) = call(&cloud, Method::GET, &format!("ports/{pid}"), &other, None).await;
    assert_error(s, &v, 404, "PortNotFound");
    let (s, v) = call(&cloud, Method::DELETE, &format!("ports/{pid}"), &other, None).await;
    assert_error(s, &v, 404, "PortNotFound");
    let (s, v) = post(&cloud, &other, json!({"network_id": nid})).await;
    assert_error(s, &v, 404, "NetworkNotFound");
    let (s, _) = call(&cloud, Method::DELETE, &format!("ports/{pid}"), &member, None).await;
    assert_eq!(s, 204);
    cloud.stop().await;
}

#[tokio::test]
async fn ports_on_shared_networks() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (pid, member) = project_user(&cloud, &admin, "p1", "member").await;
    let nid = id(&network(&cloud, &admin, json!({"shared": true})).await);
    let sid = id(&subnet(&cloud, &admin, &nid, "10.0.0.0/24", json!({})).await);
    let p = port(
        &cloud,
        &member,
        json!({"network_id": nid, "fixed_ips": [{"subnet_id": sid}]}),
    )
    .await;
    assert_eq!(p["project_id"], pid.as_str());
    // Picking an address or a device owner on someone else's network is theirs.
    let (s, v) = post(
        &cloud,
        &member,
        json!({"network_id": nid, "fixed_ips": [{"ip_address": "10.0.0.9"}]}),
    )
    .await;
    assert_error(s, &v, 403, "PolicyNotAuthorized");
    let (s, v) = post(
        &cloud,
        &member,
        json!({"network_id": nid, "device_owner": "network:dhcp"}),
    )
    .await;
    assert_error(s, &v, 403, "PolicyNotAuthorized");
    let (s, v) = post(
        &cloud,
        &member,
        json!({"network_id": nid, "mac_address": "fa:16:3e:01:02:03"}),
    )
    .await;
    assert_error(s, &v, 403, "PolicyNotAuthorized");
    // The network's owner sees the member's port; the member sees only its own.
    let admin_port = port(&cloud, &admin, json!({"network_id": nid})).await;
    let (_, v) = call(&cloud, Method::GET, "ports", &member, None).await;
    assert_eq!(v["ports"].as_array().unwrap().len(), 1);
    let (s, _) = call(
        &cloud,
        Method::GET,
        &format!("ports/{}", id(&admin_port)),
        &member,
        None,
    )
    .await;
    assert_eq!(s, 404);
    cloud.stop().await;
}

/// Many creations racing on a small subnet never share an address, and the
/// ones that find it full get `IpAddressGenerationFailure`.
pub async fn race_for_addresses(cloud: &TestCloud, label: &str) {
    let admin = cloud.admin_token().await;
    let nid = id(&network(cloud, &admin, json!({})).await);
    // A /27: 29 addresses in the pool (.2 to .30).
    subnet(cloud, &admin, &nid, "10.20.0.0/27", json!({})).await;
    let mut tasks = Vec::new();
    for i in 0..32 {
        let http = cloud.http.clone();
        let url = crate::url(cloud, "v2.0/ports");
        let token = admin.clone();
        let body = json!({"port": {"network_id": nid, "name": format!("racer{i}")}});
        tasks.push(tokio::spawn(async move {
            let resp = http
                .post(url)
                .header("x-auth-token", token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }));
    }
    let mut ips = BTreeSet::new();
    let mut macs = BTreeSet::new();
    let mut full = 0;
    for t in futures::future::join_all(tasks).await {
        let (status, body) = t.unwrap();
        match status {
            201 => {
                let ip = body["port"]["fixed_ips"][0]["ip_address"].as_str().unwrap().to_owned();
                assert!(ips.insert(ip.clone()), "{label}: {ip} handed out twice");
                assert!(macs.insert(body["port"]["mac_address"].as_str().unwrap().to_owned()));
            }
            409 => {
                assert_eq!(
                    body["NeutronError"]["type"], "IpAddressGenerationFailure",
                    "{label}: {body}"
                );
                full += 1;
            }
            other => panic!("{label}: {other} {body}"),
        }
    }
    assert_eq!(ips.len(), 29, "{label}: every address used once");
    assert_eq!(full, 3, "{label}");
    let (_, v) = call(cloud, Method::GET, &format!("ports?network_id={nid}"), &admin, None).await;
    assert_eq!(v["ports"].as_array().unwrap().len(), 29, "{label}");
}

#[tokio::test]
async fn concurrent_creations_get_distinct_addresses() {
    let cloud = cloud().await;
    race_for_addresses(&cloud, "sqlite").await;
    cloud.stop().await;
}
