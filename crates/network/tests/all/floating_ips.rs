//! Floating IPs: allocation from external networks, association through
//! a router, the conflicts, disassociation when the port goes, quota;
//! and the network IP availability report.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

use crate::routers::{external, interface, put_router, router};
use crate::{assert_error, call, cloud, id, network, port, project_user, subnet, url};

pub async fn floating_ip(cloud: &TestCloud, token: &str, body: Value) -> Value {
    let (s, v) = call(
        cloud,
        Method::POST,
        "floatingips",
        token,
        Some(json!({"floatingip": body})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["floatingip"].clone()
}

async fn put_fip(cloud: &TestCloud, token: &str, fid: &str, body: Value) -> (u16, Value) {
    call(
        cloud,
        Method::PUT,
        &format!("floatingips/{fid}"),
        token,
        Some(json!({"floatingip": body})),
    )
    .await
}

#[tokio::test]
async fn allocate_associate_and_release() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (pid, member) = project_user(&cloud, &admin, "p1", "member").await;
    let (_, other) = project_user(&cloud, &admin, "p2", "member").await;
    let (ext, ext_sub) = external(&cloud, &admin, "172.24.4.0/24").await;
    let net = id(&network(&cloud, &member, json!({})).await);
    let sub = id(&subnet(&cloud, &member, &net, "10.0.0.0/24", json!({})).await);
    let rid = id(&router(&cloud, &member, json!({"external_gateway_info": {"network_id": ext}})).await);
    let (s, v) = interface(&cloud, &member, &rid, "add", json!({"subnet_id": sub})).await;
    assert_eq!(s, 200, "{v}");
    let vm = port(
        &cloud,
        &member,
        json!({"network_id": net, "device_owner": "compute:nova", "device_id": "vm1"}),
    )
    .await;
    let vm_ip = vm["fixed_ips"][0]["ip_address"].as_str().unwrap().to_owned();

    // Only external networks hand out floating IPs.
    let (s, v) = call(
        &cloud,
        Method::POST,
        "floatingips",
        &member,
        Some(json!({"floatingip": {"floating_network_id": net}})),
    )
    .await;
    assert_error(s, &v, 400, "BadRequest");
    let (s, v) = call(
        &cloud,
        Method::POST,
        "floatingips",
        &member,
        Some(json!({"floatingip": {}})),
    )
    .await;
    assert_error(s, &v, 400, "HTTPBadRequest");

    let f = floating_ip(
        &cloud,
        &member,
        json!({"floating_network_id": ext, "description": "web"}),
    )
    .await;
    let fid = id(&f);
    assert_eq!(f["status"], "DOWN");
    assert_eq!(f["floating_network_id"], ext.as_str());
    assert_eq!(f["project_id"], pid.as_str());
    assert_eq!(f["tenant_id"], pid.as_str());
    assert_eq!(f["description"], "web");
    assert_eq!(f["port_id"], Value::Null);
    assert_eq!(f["router_id"], Value::Null);
    assert_eq!(f["fixed_ip_address"], Value::Null);
    assert_eq!(f["tags"], json!([]));
    assert!(f.get("dns_name").is_none() && f.get("port_details").is_none(), "{f}");
    let address = f["floating_ip_address"].as_str().unwrap().to_owned();
    assert!(address.starts_with("172.24.4."), "{address}");
    let (_, v) = call(
        &cloud,
        Method::GET,
        "ports?device_owner=network:floatingip",
        &admin,
        None,
    )
    .await;
    let fport = &v["ports"][0];
    assert_eq!(fport["device_id"], fid.as_str());
    assert_eq!(fport["project_id"], "");
    assert_eq!(fport["status"], "N/A");
    assert_eq!(
        fport["fixed_ips"],
        json!([{"subnet_id": ext_sub, "ip_address": address}])
    );
    let (s, v) = call(&cloud, Method::DELETE, &format!("ports/{}", id(fport)), &admin, None).await;
    assert_error(s, &v, 409, "ServicePortInUse");

    // A chosen address is an admin's; a taken one is a conflict.
    let (s, v) = call(
        &cloud,
        Method::POST,
        "floatingips",
        &member,
        Some(json!({"floatingip": {"floating_network_id": ext, "floating_ip_address": "172.24.4.77"}})),
    )
    .await;
    assert_error(s, &v, 403, "PolicyNotAuthorized");
    let chosen = floating_ip(
        &cloud,
        &admin,
        json!({"floating_network_id": ext, "floating_ip_address": "172.24.4.77", "project_id": pid}),
    )
    .await;
    assert_eq!(chosen["floating_ip_address"], "172.24.4.77");
    assert_eq!(chosen["project_id"], pid.as_str());
    let (s, v) = call(
        &cloud,
        Method::POST,
        "floatingips",
        &admin,
        Some(json!({"floatingip": {"floating_network_id": ext, "floating_ip_address": "172.24.4.77"}})),
    )
    .await;
    assert_error(s, &v, 409, "IpAddressAlreadyAllocated");

    // Association fills the fixed address and the router.
    let (s, v) = put_fip(&cloud, &member, &fid, json!({"port_id": id(&vm)})).await;
    assert_eq!(s, 200, "{v}");
    let g = &v["floatingip"];
    assert_eq!(g["port_id"], id(&vm).as_str());
    assert_eq!(g["fixed_ip_address"], vm_ip.as_str());
    assert_eq!(g["router_id"], rid.as_str());
    assert_eq!(g["status"], "DOWN");
    assert!(g["revision_number"].as_i64().unwrap() > f["revision_number"].as_i64().unwrap());
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("floatingips?port_id={}", id(&vm)),
        &member,
        None,
    )
    .await;
    assert_eq!(v["floatingips"].as_array().unwrap().len(), 1);
    // That fixed address has its floating IP already.
    let (s, v) = put_fip(&cloud, &member, &id(&chosen), json!({"port_id": id(&vm)})).await;
    assert_error(s, &v, 409, "FloatingIPPortAlreadyAssociated");
    // A port no router connects to the external network is unreachable.
    let lonely_net = id(&network(&cloud, &member, json!({})).await);
    subnet(&cloud, &member, &lonely_net, "10.9.0.0/24", json!({})).await;
    let lonely = port(&cloud, &member, json!({"network_id": lonely_net})).await;
    let (s, v) = put_fip(&cloud, &member, &id(&chosen), json!({"port_id": id(&lonely)})).await;
    assert_error(s, &v, 404, "ExternalGatewayForFloatingIPNotFound");
    let (s, v) = put_fip(
        &cloud,
        &member,
        &id(&chosen),
        json!({"port_id": id(&vm), "fixed_ip_address": "10.0.0.250"}),
    )
    .await;
    assert_error(s, &v, 400, "BadRequest");
    let (s, v) = put_fip(&cloud, &member, &id(&chosen), json!({"fixed_ip_address": "10.0.0.250"})).await;
    assert_error(s, &v, 400, "BadRequest");
    let (s, v) = put_fip(
        &cloud,
        &member,
        &id(&chosen),
        json!({"port_id": "00000000-0000-4000-8000-000000000000"}),
    )
    .await;
    assert_error(s, &v, 404, "PortNotFound");
    let (s, v) = put_fip(&cloud, &member, &fid, json!({"floating_network_id": ext})).await;
    assert_error(s, &v, 400, "HTTPBadRequest");

    // While associated, the router's interface and gateway are needed.
    let (s, v) = interface(&cloud, &member, &rid, "remove", json!({"subnet_id": sub})).await;
    assert_error(s, &v, 409, "RouterInterfaceInUseByFloatingIP");
    let (s, v) = put_router(&cloud, &member, &rid, json!({"external_gateway_info": null})).await;
    assert_error(s, &v, 409, "RouterExternalGatewayInUseByFloatingIp");

    // Its fixed address stays while it has the floating IP.
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("ports/{}", id(&vm)),
        &member,
        Some(json!({"port": {"fixed_ips": [{"subnet_id": sub, "ip_address": "10.0.0.200"}]}})),
    )
    .await;
    assert_error(s, &v, 400, "BadRequest");

    // Others see nothing of it.
    let (s, v) = call(&cloud, Method::GET, &format!("floatingips/{fid}"), &other, None).await;
    assert_error(s, &v, 404, "FloatingIPNotFound");
    let (_, v) = call(&cloud, Method::GET, "floatingips", &other, None).await;
    assert_eq!(v["floatingips"], json!([]));
    let (s, v) = put_fip(&cloud, &other, &fid, json!({"port_id": null})).await;
    assert_error(s, &v, 404, "FloatingIPNotFound");

    // Disassociation by PUT, description kept unless changed.
    let (s, v) = put_fip(&cloud, &member, &fid, json!({"port_id": null, "description": "idle"})).await;
    assert_eq!(s, 200, "{v}");
    let g = &v["floatingip"];
    assert_eq!(g["port_id"], Value::Null);
    assert_eq!(g["fixed_ip_address"], Value::Null);
    assert_eq!(g["router_id"], Value::Null);
    assert_eq!(g["description"], "idle");
    // Associated at creation, then the port goes: disassociated.
    let g = floating_ip(
        &cloud,
        &member,
        json!({"floating_network_id": ext, "port_id": id(&vm), "fixed_ip_address": vm_ip}),
    )
    .await;
    assert_eq!(g["router_id"], rid.as_str());
    let (s, _) = call(&cloud, Method::DELETE, &format!("ports/{}", id(&vm)), &member, None).await;
    assert_eq!(s, 204);
    let (_, v) = call(&cloud, Method::GET, &format!("floatingips/{}", id(&g)), &member, None).await;
    assert_eq!(v["floatingip"]["port_id"], Value::Null);
    assert_eq!(v["floatingip"]["router_id"], Value::Null);

    // Tags, filters; deletion frees the address and its port.
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("floatingips/{fid}/tags/web"),
        &member,
        None,
    )
    .await;
    assert_eq!(s, 201);
    let (_, v) = call(&cloud, Method::GET, "floatingips?tags=web&fields=id", &member, None).await;
    assert_eq!(v["floatingips"], json!([{"id": fid}]));
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("floatingips?floating_ip_address={address}"),
        &member,
        None,
    )
    .await;
    assert_eq!(v["floatingips"].as_array().unwrap().len(), 1);
    let (_, v) = call(&cloud, Method::GET, &format!("quotas/{pid}/details"), &member, None).await;
    assert_eq!(v["quota"]["floatingip"]["used"], 3);
    for f in [&fid, &id(&chosen), &id(&g)] {
        let (s, v) = call(&cloud, Method::DELETE, &format!("floatingips/{f}"), &member, None).await;
        assert_eq!(s, 204, "{v}");
    }
    let (s, v) = call(&cloud, Method::GET, &format!("floatingips/{fid}"), &member, None).await;
    assert_error(s, &v, 404, "FloatingIPNotFound");
    let (_, v) = call(
        &cloud,
        Method::GET,
        "ports?device_owner=network:floatingip",
        &admin,
        None,
    )
    .await;
    assert_eq!(v["ports"], json!([]));
    let again = floating_ip(
        &cloud,
        &admin,
        json!({"floating_network_id": ext, "floating_ip_address": "172.24.4.77"}),
    )
    .await;
    assert_eq!(again["floating_ip_address"], "172.24.4.77");

    // Quota.
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("quotas/{pid}"),
        &admin,
        Some(json!({"quota": {"floatingip": 1}})),
    )
    .await;
    assert_eq!(s, 200);
    floating_ip(&cloud, &member, json!({"floating_network_id": ext})).await;
    let (s, v) = call(
        &cloud,
        Method::POST,
        "floatingips",
        &member,
        Some(json!({"floatingip": {"floating_network_id": ext}})),
    )
    .await;
    assert_error(s, &v, 409, "OverQuota");
    cloud.stop().await;
}

#[tokio::test]
async fn external_networks_without_ipv4_or_room() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let v6 = id(&network(&cloud, &admin, json!({"router:external": true})).await);
    subnet(&cloud, &admin, &v6, "fd00:9::/64", json!({})).await;
    let (s, v) = call(
        &cloud,
        Method::POST,
        "floatingips",
        &admin,
        Some(json!({"floatingip": {"floating_network_id": v6}})),
    )
    .await;
    assert_error(s, &v, 400, "BadRequest");
    let tiny = id(&network(&cloud, &admin, json!({"router:external": true})).await);
    subnet(&cloud, &admin, &tiny, "192.0.2.0/30", json!({})).await;
    floating_ip(&cloud, &admin, json!({"floating_network_id": tiny})).await;
    let (s, v) = call(
        &cloud,
        Method::POST,
        "floatingips",
        &admin,
        Some(json!({"floatingip": {"floating_network_id": tiny}})),
    )
    .await;
    assert_error(s, &v, 409, "IpAddressGenerationFailure");
    cloud.stop().await;
}

#[tokio::test]
async fn network_ip_availability() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, member) = project_user(&cloud, &admin, "p1", "member").await;
    let net = id(&network(&cloud, &admin, json!({"name": "counted"})).await);
    let v4 = id(&subnet(&cloud, &admin, &net, "10.0.0.0/24", json!({"name": "four"})).await);
    let slaac = json!({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"});
    subnet(&cloud, &admin, &net, "fd00:1::/64", slaac.clone()).await;
    subnet(&cloud, &admin, &net, "fd00:2::/64", slaac).await;
    port(&cloud, &admin, json!({"network_id": net})).await;
    port(
        &cloud,
        &admin,
        json!({"network_id": net, "fixed_ips": [{"subnet_id": v4}]}),
    )
    .await;
    let empty = id(&network(&cloud, &admin, json!({"name": "empty"})).await);

    // IPv6 totals past 64 bits are printed whole, as Neutron prints them.
    let resp = cloud
        .http
        .get(url(&cloud, &format!("v2.0/network-ip-availabilities/{net}")))
        .header("x-auth-token", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    let total = 253u128 + 2 * ((1u128 << 64) - 2);
    assert!(text.contains(&format!("\"total_ips\":{total}")), "{text}");
    let v: Value = serde_json::from_str(&text.replace(&total.to_string(), "0")).unwrap();
    let a = &v["network_ip_availability"];
    assert_eq!(a["network_id"], net.as_str());
    assert_eq!(a["network_name"], "counted");
    assert_eq!(a["used_ips"], 4, "two IPv4 and two SLAAC addresses: {a}");
    let subs = a["subnet_ip_availability"].as_array().unwrap();
    assert_eq!(subs.len(), 3);
    assert_eq!(
        subs[0],
        json!({"subnet_id": v4, "subnet_name": "four", "cidr": "10.0.0.0/24", "ip_version": 4,
               "total_ips": 253, "used_ips": 2})
    );
    assert_eq!(subs[1]["total_ips"], json!(18446744073709551614u64));

    let (s, v) = call(
        &cloud,
        Method::GET,
        "network-ip-availabilities?ip_version=4",
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let list = v["network_ip_availabilities"].as_array().unwrap();
    assert_eq!(list.len(), 1, "networks without IPv4 subnets are left out: {v}");
    assert_eq!(list[0]["total_ips"], 253);
    assert_eq!(list[0]["used_ips"], 2);
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("network-ip-availabilities/{empty}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(v["network_ip_availability"]["total_ips"], 0);
    assert_eq!(v["network_ip_availability"]["subnet_ip_availability"], json!([]));
    let (_, v) = call(
        &cloud,
        Method::GET,
        "network-ip-availabilities?network_name=empty&fields=network_id",
        &admin,
        None,
    )
    .await;
    assert_eq!(v["network_ip_availabilities"], json!([{"network_id": empty}]));
    let (s, v) = call(
        &cloud,
        Method::GET,
        "network-ip-availabilities/00000000-0000-4000-8000-000000000000",
        &admin,
        None,
    )
    .await;
    assert_error(s, &v, 404, "NetworkNotFound");

    // Admins only: others list nothing and find nothing.
    let (s, v) = call(&cloud, Method::GET, "network-ip-availabilities", &member, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["network_ip_availabilities"], json!([]));
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("network-ip-availabilities/{net}"),
        &member,
        None,
    )
    .await;
    assert_error(s, &v, 404, "HTTPNotFound");
    cloud.stop().await;
}
