//! The core flows on every database the machine offers (SQLite always,
//! PostgreSQL and MariaDB when `OXISTACK_TEST_POSTGRES`/`_MYSQL` are set):
//! networks, subnets, ports with requested and automatic addresses,
//! security groups, quotas, tags, deletes, a router with a floating IP —
//! and the address race.

use reqwest::Method;
use serde_json::json;
use test_cloud::{Backend, TestCloud};

use crate::{assert_error, call, id, network, port, project_user, subnet};

#[tokio::test]
async fn core_flows_on_every_backend() {
    for backend in Backend::from_env() {
        let label = format!("{backend:?}");
        let cloud = TestCloud::start_on(backend).await.with_network().await;
        let admin = cloud.admin_token().await;
        let (pid, member) = project_user(&cloud, &admin, "p1", "member").await;

        let net = network(&cloud, &member, json!({"name": "n", "description": "ü ✓"})).await;
        let nid = id(&net);
        assert_eq!(net["description"], "ü ✓", "{label}");
        let v6 = subnet(
            &cloud,
            &member,
            &nid,
            "fd00:1::/64",
            json!({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}),
        )
        .await;
        let sid = id(&subnet(
            &cloud,
            &member,
            &nid,
            "192.168.10.0/24",
            json!({"dns_nameservers": ["9.9.9.9"]}),
        )
        .await);
        let p = port(
            &cloud,
            &member,
            json!({"network_id": nid, "fixed_ips": [{"subnet_id": sid, "ip_address": "192.168.10.9"}]}),
        )
        .await;
        assert_eq!(p["fixed_ips"][0]["ip_address"], "192.168.10.9", "{label}");
        let auto = port(&cloud, &member, json!({"network_id": nid})).await;
        assert_eq!(auto["fixed_ips"].as_array().unwrap().len(), 2, "{label}: {auto}");
        assert!(
            auto["fixed_ips"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["subnet_id"] == v6["id"]),
            "{label}"
        );
        let (s, v) = call(
            &cloud,
            Method::POST,
            "ports",
            &member,
            Some(json!({"port": {"network_id": nid, "fixed_ips": [{"ip_address": "192.168.10.9"}]}})),
        )
        .await;
        assert_error(s, &v, 409, "IpAddressAlreadyAllocated");
        let (s, v) = call(
            &cloud,
            Method::POST,
            "ports",
            &member,
            Some(json!({"port": {"network_id": nid, "mac_address": p["mac_address"]}})),
        )
        .await;
        assert_error(s, &v, 409, "MacAddressInUse");
        let (s, v) = call(
            &cloud,
            Method::PUT,
            &format!("ports/{}", id(&p)),
            &member,
            Some(json!({"port": {"name": "renamed", "allowed_address_pairs": [{"ip_address": "10.0.0.0/24"}]}})),
        )
        .await;
        assert_eq!(s, 200, "{label}: {v}");

        let (_, groups) = call(&cloud, Method::GET, "security-groups", &member, None).await;
        assert_eq!(groups["security_groups"].as_array().unwrap().len(), 1, "{label}");
        let gid = id(&groups["security_groups"][0]);
        let (s, v) = call(&cloud, Method::POST, "security-group-rules", &member, Some(json!({"security_group_rule": {"security_group_id": gid, "direction": "ingress", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80}}))).await;
        assert_eq!(s, 201, "{label}: {v}");
        let (s, v) = call(&cloud, Method::DELETE, &format!("security-groups/{gid}"), &member, None).await;
        assert_error(s, &v, 409, "SecurityGroupCannotRemoveDefault");

        let (s, _) = call(&cloud, Method::PUT, &format!("networks/{nid}/tags/t1"), &member, None).await;
        assert_eq!(s, 201, "{label}");
        let (_, v) = call(&cloud, Method::GET, "networks?tags=t1&fields=id", &member, None).await;
        assert_eq!(v["networks"], json!([{"id": nid}]), "{label}");
        let (_, v) = call(&cloud, Method::GET, &format!("quotas/{pid}/details"), &member, None).await;
        assert_eq!(v["quota"]["port"]["used"], 2, "{label}");

        let (s, v) = call(&cloud, Method::DELETE, &format!("subnets/{sid}"), &member, None).await;
        assert_error(s, &v, 409, "SubnetInUse");
        let (s, v) = call(&cloud, Method::DELETE, &format!("networks/{nid}"), &member, None).await;
        assert_error(s, &v, 409, "NetworkInUse");
        for p in [&p, &auto] {
            let (s, _) = call(&cloud, Method::DELETE, &format!("ports/{}", id(p)), &member, None).await;
            assert_eq!(s, 204, "{label}");
        }
        let (s, v) = call(&cloud, Method::DELETE, &format!("networks/{nid}"), &member, None).await;
        assert_eq!(s, 204, "{label}: {v}");
        // Overlong values are refused, never a 500.
        let (s, _) = call(
            &cloud,
            Method::POST,
            "networks",
            &member,
            Some(json!({"network": {"name": "x".repeat(300)}})),
        )
        .await;
        assert_eq!(s, 400, "{label}");
        let (s, _) = call(
            &cloud,
            Method::POST,
            "networks",
            &member,
            Some(json!({"network": {"name": "nul\u{0}byte"}})),
        )
        .await;
        assert!(s == 201 || s == 400, "{label}: {s}");

        l3_flow(&cloud, &admin, &member, &label).await;
        crate::ports::race_for_addresses(&cloud, &label).await;
        cloud.stop().await;
    }
}

/// A router between a tenant subnet and an external network, a floating
/// IP through it, and everything taken down again.
async fn l3_flow(cloud: &TestCloud, admin: &str, member: &str, label: &str) {
    use crate::floating_ips::floating_ip;
    use crate::routers::{external, interface, put_router, router};

    let (ext, _) = external(cloud, admin, "203.0.113.0/24").await;
    let net = id(&network(cloud, member, json!({})).await);
    let sub = id(&subnet(cloud, member, &net, "10.20.0.0/24", json!({})).await);
    let r = router(
        cloud,
        member,
        json!({"name": "edge", "external_gateway_info": {"network_id": ext}}),
    )
    .await;
    let rid = id(&r);
    assert_eq!(r["external_gateway_info"]["enable_snat"], true, "{label}");
    let (s, v) = interface(cloud, member, &rid, "add", json!({"subnet_id": sub})).await;
    assert_eq!(s, 200, "{label}: {v}");
    let (s, v) = put_router(
        cloud,
        member,
        &rid,
        json!({"routes": [{"destination": "10.99.0.0/16", "nexthop": "10.20.0.9"}]}),
    )
    .await;
    assert_eq!(s, 200, "{label}: {v}");
    let vm = port(
        cloud,
        member,
        json!({"network_id": net, "device_owner": "compute:nova"}),
    )
    .await;
    let f = floating_ip(cloud, member, json!({"floating_network_id": ext, "port_id": id(&vm)})).await;
    assert_eq!(f["router_id"], rid.as_str(), "{label}");
    assert_eq!(f["fixed_ip_address"], vm["fixed_ips"][0]["ip_address"], "{label}");
    let other = floating_ip(cloud, member, json!({"floating_network_id": ext})).await;
    let (s, v) = call(
        cloud,
        Method::PUT,
        &format!("floatingips/{}", id(&other)),
        member,
        Some(json!({"floatingip": {"port_id": id(&vm)}})),
    )
    .await;
    assert_error(s, &v, 409, "FloatingIPPortAlreadyAssociated");
    let (s, v) = call(cloud, Method::DELETE, &format!("routers/{rid}"), member, None).await;
    assert_error(s, &v, 409, "RouterInUse");
    let (s, v) = call(cloud, Method::DELETE, &format!("subnets/{sub}"), member, None).await;
    assert_error(s, &v, 409, "SubnetInUse");
    let (_, v) = call(
        cloud,
        Method::GET,
        &format!("network-ip-availabilities/{ext}"),
        admin,
        None,
    )
    .await;
    assert_eq!(
        v["network_ip_availability"]["used_ips"], 3,
        "{label}: gateway and two floating IPs: {v}"
    );
    assert_eq!(v["network_ip_availability"]["total_ips"], 253, "{label}");

    let (s, _) = call(cloud, Method::DELETE, &format!("ports/{}", id(&vm)), member, None).await;
    assert_eq!(s, 204, "{label}");
    let (_, v) = call(cloud, Method::GET, &format!("floatingips/{}", id(&f)), member, None).await;
    assert_eq!(v["floatingip"]["port_id"], serde_json::Value::Null, "{label}");
    for fid in [id(&f), id(&other)] {
        let (s, _) = call(cloud, Method::DELETE, &format!("floatingips/{fid}"), member, None).await;
        assert_eq!(s, 204, "{label}");
    }
    let (s, _) = put_router(cloud, member, &rid, json!({"routes": []})).await;
    assert_eq!(s, 200, "{label}");
    let (s, v) = interface(cloud, member, &rid, "remove", json!({"subnet_id": sub})).await;
    assert_eq!(s, 200, "{label}: {v}");
    let (s, v) = call(cloud, Method::DELETE, &format!("routers/{rid}"), member, None).await;
    assert_eq!(s, 204, "{label}: {v}");
    let (s, v) = call(cloud, Method::DELETE, &format!("networks/{net}"), member, None).await;
    assert_eq!(s, 204, "{label}: {v}");
    let (s, v) = call(cloud, Method::DELETE, &format!("networks/{ext}"), admin, None).await;
    assert_eq!(s, 204, "{label}: {v}");
}
